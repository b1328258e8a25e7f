package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/audit"
)

// submitDemo posts n generated entry questionnaires (and their follow-ups) through the
// batch API and returns the bodies sent, for recomputation.
func (e *testEnv) submitDemo(token string, year, n int, seed uint64) []map[string]any {
	e.t.Helper()
	gen := collector.NewDemo(year, seed, time.Date(year+1, 3, 1, 0, 0, 0, 0, time.UTC))
	var sent, batch []map[string]any
	flush := func() {
		if len(batch) == 0 {
			return
		}
		r := e.post("/api/v1/submissions:batch", token, map[string]any{"submissions": batch})
		if r.status != http.StatusOK {
			e.t.Fatalf("batch = %d %s", r.status, r.raw)
		}
		for _, x := range r.body["results"].([]any) {
			if code := x.(map[string]any)["code"]; code != float64(201) {
				e.t.Fatalf("batch item = %v, want 201", x)
			}
		}
		batch = batch[:0]
	}
	add := func(body []byte) {
		var m map[string]any
		json.Unmarshal(body, &m)
		sent, batch = append(sent, m), append(batch, m)
		if len(batch) == 1000 {
			flush()
		}
	}
	for range n {
		s := gen.Next()
		add(s.Body)
		if s.FollowUp != nil {
			add(s.FollowUp)
		}
	}
	flush()
	return sent
}

type ratio struct{ num, den int }

// recomputeFromBodies derives a few indicators from the JSON bodies that were submitted.
func recomputeFromBodies(sent []map[string]any) map[string]ratio {
	out := map[string]ratio{}
	add := func(id string, yes bool) {
		r := out[id]
		r.den++
		if yes {
			r.num++
		}
		out[id] = r
	}
	for _, s := range sent {
		if s["questionnaire"] != "entry" {
			continue
		}
		a := s["answers"].(map[string]any)
		add("I19", a["meta.consent"] == "1")
		if a["meta.consent"] != "1" {
			continue
		}
		if v, _ := a["drug.lifetime_any"].(string); v == "0" || v == "1" {
			add("I02", v == "1")
		}
		if v, _ := a["inject.status"].(string); v >= "1" && v <= "4" {
			add("I07", v != "1")
		}
		if v, _ := a["health.self_rated"].(string); v >= "1" && v <= "5" {
			add("I15", v == "1" || v == "2")
		}
	}
	return out
}

func readCSV(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("figures.csv: %v", err)
	}
	if strings.Join(recs[0], ",") != "indicator,breakdown,group,numerator,denominator,percent,ci_low,ci_high,flag,questionnaire" {
		t.Fatalf("figures.csv header = %v", recs[0])
	}
	out := map[string][]string{}
	for _, r := range recs[1:] {
		out[r[0]+"|"+r[1]+"|"+r[2]] = r
	}
	return out
}

// summaryRow returns N and % of indicator id from the workbook's summary sheet, the first.
func summaryRow(t *testing.T, wb *excelize.File, id string) (n int, pct float64) {
	t.Helper()
	sheet := wb.GetSheetName(0)
	rows, err := wb.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if len(r) > 4 && r[0] == id {
			n, _ = strconv.Atoi(r[3])
			pct, _ = strconv.ParseFloat(r[4], 64)
			return n, pct
		}
	}
	t.Fatalf("no row %s in sheet %s", id, sheet)
	return 0, 0
}

// isPercentCell reports whether a cell is formatted as a percentage.
func isPercentCell(wb *excelize.File, sheet, cell string) bool {
	id, err := wb.GetCellStyle(sheet, cell)
	if err != nil {
		return false
	}
	st, err := wb.GetStyle(id)
	if err != nil {
		return false
	}
	return (st.CustomNumFmt != nil && strings.Contains(*st.CustomNumFmt, "%")) || st.NumFmt == 9 || st.NumFmt == 10
}

func TestReportMatchesSubmittedData(t *testing.T) {
	if testing.Short() {
		t.Skip("long: a full report of 1500 questionnaires, figures drawn in Chromium; make test runs it")
	}
	e := newTestEnv(t)
	tok := e.token("intake", "haren", "jamioulx", "lantin", "mons", "antwerpen", "gent", "brugge", "hasselt",
		"andenne", "namur", "leuven-hulp", "mechelen", "dinant")
	sent := e.submitDemo(tok, 2025, 1500, 11)
	out := t.TempDir()
	code, stdout, stderr := e.cli("report", "--year", "2025", "--out", out)
	if code != 0 {
		t.Fatalf("report = exit %d: %s %s", code, stdout, stderr)
	}
	for _, f := range []string{"figures.xlsx", "report.html", "figures.csv", "manifest.json"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	svgs, _ := filepath.Glob(filepath.Join(out, "figures", "*.svg"))
	pngs, _ := filepath.Glob(filepath.Join(out, "figures", "*.png"))
	if len(svgs) < 20 || len(pngs) != len(svgs) {
		t.Errorf("figures: %d svg, %d png; want one of each per family", len(svgs), len(pngs))
	}

	// Three views of the same numbers: recomputed from what was sent, counted by
	// clickhouse-client from the stored rows, and read from the workbook and the CSV.
	want := recomputeFromBodies(sent)
	stored := map[string]string{
		"I19": "countIf(consent = 1), count()",
		"I02": "countIf(consent = 1 AND answer_value[indexOf(answer_item, 'drug.lifetime_any')] = '1'), countIf(consent = 1 AND answer_value[indexOf(answer_item, 'drug.lifetime_any')] IN ('0', '1'))",
		"I07": "countIf(consent = 1 AND answer_value[indexOf(answer_item, 'inject.status')] IN ('2', '3', '4')), countIf(consent = 1 AND answer_value[indexOf(answer_item, 'inject.status')] IN ('1', '2', '3', '4'))",
		"I15": "countIf(consent = 1 AND answer_value[indexOf(answer_item, 'health.self_rated')] IN ('1', '2')), countIf(consent = 1 AND answer_value[indexOf(answer_item, 'health.self_rated')] IN ('1', '2', '3', '4', '5'))",
	}
	wb, err := excelize.OpenFile(filepath.Join(out, "figures.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	cells := readCSV(t, filepath.Join(out, "figures.csv"))
	for id, w := range want {
		got := e.sql("SELECT " + stored[id] + " FROM submissions WHERE questionnaire = 'entry' AND year = 2025")
		if got != fmt.Sprintf("%d\t%d", w.num, w.den) {
			t.Errorf("%s in ClickHouse = %s, recomputed from the submissions %d/%d", id, got, w.num, w.den)
		}
		n, pct := summaryRow(t, wb, id)
		if n != w.den || math.Abs(pct-float64(w.num)/float64(w.den)) > 1e-9 {
			t.Errorf("%s in the workbook = N %d, %.4f; want %d, %.4f", id, n, pct, w.den, float64(w.num)/float64(w.den))
		}
		row := cells[id+"|total|"]
		if row == nil || row[3] != strconv.Itoa(w.num) || row[4] != strconv.Itoa(w.den) ||
			row[5] != strconv.FormatFloat(100*float64(w.num)/float64(w.den), 'f', 1, 64) {
			t.Errorf("%s total in figures.csv = %v, want %d/%d", id, row, w.num, w.den)
		}
	}

	// The manifest hashes every file, and the same cut-off gives byte-identical files.
	var m struct {
		DataCutOff time.Time `json:"data_cut_off"`
		Files      []struct{ Name, SHA256 string }
	}
	raw, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Files) < 4 {
		t.Fatalf("manifest = %s, %v", raw, err)
	}
	for _, f := range m.Files {
		data, err := os.ReadFile(filepath.Join(out, f.Name))
		sum := sha256.Sum256(data)
		if err != nil || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("manifest hash of %s does not match the file (%v)", f.Name, err)
		}
	}
	again := t.TempDir()
	if code, _, stderr := e.cli("report", "--year", "2025", "--out", again, "--cutoff", m.DataCutOff.Format(time.RFC3339)); code != 0 {
		t.Fatalf("second report = exit %d: %s", code, stderr)
	}
	raw2, _ := os.ReadFile(filepath.Join(again, "manifest.json"))
	if !bytes.Equal(raw, raw2) {
		t.Errorf("same cut-off and settings gave different manifests:\n%s\n%s", raw, raw2)
	}
	if got := e.sql("SELECT count(), any(actor), any(k) FROM releases"); got != "2\tcli\t5" {
		t.Errorf("ledger = %q, want the two releases", got)
	}
}

// TestReportSmallSiteAndSmallCell: a site of 3 entrants and a two-way table with one small
// cell. No number below k may appear anywhere, and no suppressed cell may be recoverable
// from the published ones.
func TestReportSmallSiteAndSmallCell(t *testing.T) {
	if testing.Short() {
		t.Skip("long: full reports audited with GLPK; make test runs it")
	}
	e := newTestEnv(t)
	tok := e.token("intake", "haren", "lantin", "mons")
	n := 0
	post := func(site, gender string, age int, count int) {
		for range count {
			n++
			s := entry(uuidN(5000 + n))
			s["site"] = site
			answers(s)["demo.gender"] = gender
			answers(s)["demo.age"] = age
			if r := e.post("/api/v1/submissions", tok, s); r.status != http.StatusCreated {
				t.Fatalf("POST = %d %s", r.status, r.raw)
			}
		}
	}
	post("haren", "M", 30, 40)
	post("haren", "F", 30, 2) // the small cell of haren × gender
	post("lantin", "M", 40, 30)
	post("lantin", "F", 40, 7)
	post("mons", "M", 50, 3) // the site of 3 entrants
	out := t.TempDir()
	if code, _, stderr := e.cli("report", "--year", "2025", "--out", out); code != 0 {
		t.Fatalf("report = exit %d: %s", code, stderr)
	}
	cells := readCSV(t, filepath.Join(out, "figures.csv"))
	for key, r := range cells {
		for _, v := range r[3:5] {
			if v == "" {
				continue
			}
			if n, _ := strconv.Atoi(v); n > 0 && n < 5 {
				t.Errorf("figures.csv %s publishes %d, below k", key, n)
			}
		}
		if strings.Contains(key, "|site|mons") {
			t.Errorf("figures.csv shows the small site on its own: %v", r)
		}
	}
	// Every number of every sheet of the workbook.
	wb, err := excelize.OpenFile(filepath.Join(out, "figures.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	for _, sheet := range wb.GetSheetList() {
		rows, _ := wb.GetRows(sheet, excelize.Options{RawCellValue: true})
		for i, row := range rows {
			for j, v := range row {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 || n >= 5 {
					continue
				}
				cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
				if isPercentCell(wb, sheet, cell) {
					continue // 1 is 100 %
				}
				t.Errorf("sheet %s cell %s = %s, a count below k", sheet, cell, v)
			}
		}
	}
	// Recoverability: the independent auditor reads the CSV as an intruder would.
	auditDirs(t, out)
	for key, r := range cells {
		if strings.HasPrefix(key, "I19|site+gender|haren+F") && r[3] != "" {
			t.Errorf("haren+F (2 people) published as %q", r[3])
		}
	}
}

// auditDirs holds the views written by tamtam report in dirs to the independent auditor
// of package audit, and fails on any finding.
func auditDirs(t *testing.T, dirs ...string) {
	t.Helper()
	var views []audit.View
	k := 0
	for _, dir := range dirs {
		manifest, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		csv, err := os.ReadFile(filepath.Join(dir, "figures.csv"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := audit.ManifestView(dir, manifest, csv)
		if err != nil {
			t.Fatal(err)
		}
		var m reports.Manifest
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatal(err)
		}
		k = m.Disclosure.K
		views = append(views, v)
	}
	auditViews(t, k, views)
}

// auditViews runs the auditor over views and fails on any finding.
func auditViews(t *testing.T, k int, views []audit.View) {
	t.Helper()
	cat, err := reports.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	kn, err := audit.KnowledgeOf(cat.JSON(), k)
	if err != nil {
		t.Fatal(err)
	}
	found, err := audit.Audit(kn, views)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	for _, f := range found {
		t.Errorf("auditor: %v", f)
	}
}

func TestReportDownloads(t *testing.T) {
	e := newTestEnv(t)
	intake := e.token("intake", "haren", "lantin", "mons")
	e.submitDemoSites(intake, map[string]int{"haren": 60, "lantin": 40, "mons": 30})
	coordinator := e.token("coordinator")
	funder := e.token("funder", "lantin")
	funder2 := e.token("funder", "lantin", "mons")
	// Before any release, there is nothing to download.
	if r := e.do(http.MethodGet, "/api/v1/reports/2025.csv", coordinator, "", nil); r.status != http.StatusNotFound || !strings.Contains(r.raw, `"no_release"`) {
		t.Errorf("GET before any release = %d %s, want 404 no_release", r.status, r.raw)
	}
	code, stdout, stderr := e.cli("release", "--year", "2025")
	if code != 0 {
		t.Fatalf("release = exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	id := lines[len(lines)-1]
	if !regexp.MustCompile(`^2025-[0-9a-f]{10}$`).MatchString(id) {
		t.Fatalf("release printed %q last, want the release id alone", id)
	}
	tests := []struct {
		name, token, path string
		status            int
	}{
		{"coordinator xlsx", coordinator, "/api/v1/reports/2025.xlsx", http.StatusOK},
		{"coordinator html in Dutch", coordinator, "/api/v1/reports/2025.html?lang=nl", http.StatusOK},
		{"coordinator csv", coordinator, "/api/v1/reports/2025.csv", http.StatusOK},
		{"funder own site", funder, "/api/v1/reports/2025.xlsx", http.StatusOK},
		{"funder other site", funder, "/api/v1/reports/2025.xlsx?site=haren", http.StatusForbidden},
		// A funder's figures are its group's, whole: a part could be subtracted.
		{"funder all its sites", funder2, "/api/v1/reports/2025.xlsx?site=lantin&site=mons", http.StatusOK},
		{"funder part of its sites", funder2, "/api/v1/reports/2025.xlsx?site=lantin", http.StatusForbidden},
		{"intake", intake, "/api/v1/reports/2025.xlsx", http.StatusForbidden},
		{"no token", "", "/api/v1/reports/2025.xlsx", http.StatusUnauthorized},
		{"no release that year", coordinator, "/api/v1/reports/2019.xlsx", http.StatusNotFound},
		{"unknown format", coordinator, "/api/v1/reports/2025.pdf", http.StatusNotFound},
	}
	for _, tt := range tests {
		r := e.do(http.MethodGet, tt.path, tt.token, "", nil)
		if r.status != tt.status {
			t.Errorf("%s: GET %s = %d (%.200s), want %d", tt.name, tt.path, r.status, r.raw, tt.status)
		}
		if tt.name == "funder own site" && r.status == http.StatusOK {
			wb, err := excelize.OpenReader(strings.NewReader(r.raw))
			if err != nil {
				t.Fatal(err)
			}
			rows, _ := wb.GetRows(wb.GetSheetName(0))
			dump := fmt.Sprint(rows)
			if strings.Contains(dump, "Haren") || strings.Contains(dump, "Mons") || !strings.Contains(dump, "Lantin") {
				t.Errorf("the funder's workbook covers other sites than Lantin: %.300s", dump)
			}
			wb.Close()
		}
		if tt.name == "no release that year" && !strings.Contains(r.raw, `"no_release"`) {
			t.Errorf("GET 2019 = %s, want the error code no_release", r.raw)
		}
	}
	// Every download and refusal is audited; every delivery is in the ledger, with its
	// release.
	if got := e.sql("SELECT countIf(outcome = 'ok'), countIf(outcome = 'denied'), countIf(outcome = 'failed') FROM audit_log WHERE action = 'report.download'"); got != "5\t3\t2" {
		t.Errorf("audit (ok, denied, failed) = %q, want 5 3 2", got)
	}
	if got := e.sql("SELECT count(), countIf(role = 'funder' AND sites = ['lantin']), countIf(position(settings, '" + id + "') > 0) FROM releases"); got != "5\t1\t5" {
		t.Errorf("ledger = %q, want 5 deliveries of release %s, one for the funder's site", got, id)
	}
}

// submitDemoSites posts generated questionnaires for the given number of entrants per site.
func (e *testEnv) submitDemoSites(token string, perSite map[string]int) {
	e.t.Helper()
	gen := collector.NewDemo(2025, 3, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var batch []map[string]any
	for site, n := range perSite {
		for range n {
			var m map[string]any
			json.Unmarshal(gen.Next().Body, &m)
			m["site"] = site
			batch = append(batch, m)
		}
	}
	r := e.post("/api/v1/submissions:batch", token, map[string]any{"submissions": batch})
	if r.status != http.StatusOK {
		e.t.Fatalf("batch = %d %s", r.status, r.raw)
	}
}
