package main

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoLeakFullFlow sends distinctive raw values through every way in — the API, the
// web form, the import page — with the durable spool on, as serve runs, then produces a
// report and views the dashboard, and searches every table of the database, every log
// line, every file of the data directory (spool, keys, session key) and every file of
// the report for them (PRIVACY.md R2, R3): an exact age, a rare country, a linkage
// identifier must be nowhere.
func TestNoLeakFullFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("long: every way in, a full report (Chromium) and every file searched; make test runs it")
	}
	e := newTestEnv(t, func(c *Config) { c.Spool = true; c.SpoolMaxBytes = 64 << 20 })
	intake := e.token("intake", "haren")

	// The API: age 97, Nauru, born in Tuvalu, an asylum seeker, identifier ZXQ-7788.41.
	sub := entry(uuidN(501))
	a := answers(sub)
	a["demo.age"], a["demo.nationality"], a["demo.birth_country"] = 97, "NR", "TV"
	a["residence.status"], a["link.identifier"], a["drug.main_age_first"] = "asylum", "ZXQ-7788.41", 23
	if r := e.post("/api/v1/submissions", intake, sub); r.status != http.StatusCreated {
		t.Fatalf("API: %d %s", r.status, r.raw)
	}

	// The web form: age 96, Tuvalu, identifier QWV-5512.09; first with a mistake, so
	// that the raw values also go through a page shown back with its errors.
	w := newWebClient(t, e)
	w.signIn(intake)
	p := w.get("/forms/entry")
	id := regexpSubmissionID.FindStringSubmatch(p.body)[1]
	form := url.Values{"csrf": {w.csrf()}, "submission_id": {id}, "version": {"1"}, "site": {"haren"},
		"meta.consent": {"1"}, "meta.entry_month": {"2025-06"}, "demo.age": {"96"}, "demo.nationality": {"TV"},
		"demo.birth_country": {"NR"}, "link.identifier": {"QWV-5512.09"}, "drug.lifetime_any": {"0"},
		"residence.status": {"asylum"}}
	if p := w.post("/forms/entry", form); p.status != http.StatusBadRequest {
		t.Fatalf("form without gender = %d, want 400", p.status)
	}
	form.Set("demo.gender", "X")
	if p := w.post("/forms/entry", form); p.status != http.StatusSeeOther {
		t.Fatalf("form = %d, want 303", p.status)
	}

	// The import page: age 95, Nauru, identifier KPL-3390.77.
	tp := w.get("/forms/entry/template.xlsx")
	dir := t.TempDir()
	tmpl, filled := filepath.Join(dir, "entry.xlsx"), filepath.Join(dir, "filled.xlsx")
	os.WriteFile(tmpl, []byte(tp.body), 0o600)
	row := paperWith(paperValidRow(), "demo.age", 95, "demo.nationality", "NR — Nauru", "demo.birth_country", "NR",
		"link.identifier", "KPL-3390.77", "residence.status", "asylum")
	paperFill(t, tmpl, filled, []map[string]any{row})
	data, _ := os.ReadFile(filled)
	w.get("/import")
	if p := w.upload("/import", map[string]string{"csrf": w.csrf(), "site": "haren", "action": "import"}, "filled.xlsx", data); p.status != http.StatusOK {
		t.Fatalf("import page = %d", p.status)
	}

	// Everything reaches ClickHouse through the spool.
	deadline := time.Now().Add(30 * time.Second)
	for e.sql("SELECT count() FROM submissions") != "3" {
		if time.Now().After(deadline) {
			t.Fatalf("the spool did not drain: %s rows", e.sql("SELECT count() FROM submissions"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.sql("SELECT arraySort(groupArray(age_band)), arraySort(groupArray(nationality_group)) FROM submissions"); got != "['55+','55+','55+']\t['AMERICAS_OCEANIA','AMERICAS_OCEANIA','AMERICAS_OCEANIA']" {
		t.Errorf("stored bands and groups = %q: the search below would prove nothing", got)
	}

	// A report and a dashboard view.
	out := filepath.Join(dir, "report")
	if code, _, errOut := e.cli("report", "--year", "2025", "--out", out, "--k", "3"); code != 0 {
		t.Fatalf("report: %s", errOut)
	}
	c := newWebClient(t, e)
	c.signIn(e.token("coordinator"))
	c.get("/reports?year=2025")

	identifiers := []string{"ZXQ", "zxq", "778841", "7788.41", "QWV", "551209", "5512.09", "KPL", "339077", "3390.77"}
	countries := []string{"Nauru", "Tuvalu", "NR", "TV"}
	exact := []string{"97", "96", "95"}

	tables := strings.Fields(e.sql("SELECT name FROM system.tables WHERE database = currentDatabase()"))
	for _, table := range tables {
		dump := e.sql("SELECT * FROM " + table + " FORMAT TabSeparated")
		for _, cell := range strings.FieldsFunc(dump, func(r rune) bool { return strings.ContainsRune("\t\n[],'", r) }) {
			for _, s := range append(identifiers, countries...) {
				if strings.Contains(cell, s) {
					t.Errorf("table %s holds %q (cell %q)", table, s, cell)
				}
			}
			for _, s := range exact {
				if cell == s {
					t.Errorf("table %s holds the exact age %s", table, s)
				}
			}
		}
	}
	logs := e.logs.String()
	for _, s := range append(append(identifiers, "Nauru", "Tuvalu", "age=97", "age=96", "age=95"), intake) {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q", s)
		}
	}
	files := 0
	for _, root := range []string{e.cfg.Data, out} {
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			for name, b := range readable(t, path) {
				for _, s := range append(identifiers, "Nauru", "Tuvalu", intake) {
					if bytes.Contains(b, []byte(s)) {
						t.Errorf("file %s holds %q", name, s)
					}
				}
			}
			return nil
		})
	}
	spooled, _ := filepath.Glob(filepath.Join(e.cfg.Data, "spool", "*"))
	if len(spooled) == 0 || files < 10 {
		t.Errorf("%d spool files, %d files searched: the search proves nothing", len(spooled), files)
	}
}

// readable returns the text of a file as a reader sees it: each part of a workbook (a
// zip), nothing of a PNG (drawn from the SVG, which is searched), the bytes otherwise.
func readable(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".png":
		return nil
	case ".xlsx":
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			part, _ := io.ReadAll(rc)
			rc.Close()
			out[path+":"+f.Name] = part
		}
		return out
	}
	return map[string][]byte{path: b}
}
