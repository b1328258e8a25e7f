package main

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// csvRows reads a downloaded figures.csv into its rows, header left out.
func csvRows(t *testing.T, raw string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("figures.csv: %d rows, %v", len(rows), err)
	}
	return rows[1:]
}

// totals returns the total row of every indicator of a figures.csv, by indicator: the
// counts, share and flag (columns 3 to 8).
func totals(rows [][]string) map[string][]string {
	out := map[string][]string{}
	for _, r := range rows {
		if r[1] == "total" {
			out[r[0]] = r[3:9]
		}
	}
	return out
}

// TestTrends makes releases of two years and checks the trends of every output: each
// indicator of 2025 has a row per year, 2024's being the total 2024's latest release
// published for the same group — for the coordinator and for a funder —, a new release of
// 2024 changes 2025's trend (and its ETag), and 2024's own files show no later year.
func TestTrends(t *testing.T) {
	e := newTestEnv(t)
	coordinator := e.token("coordinator")
	funder := e.token("funder", "lantin", "mons")
	release := func(year string) string {
		t.Helper()
		code, stdout, stderr := e.cli("release", "--year", year)
		if code != 0 {
			t.Fatalf("release %s = exit %d: %s", year, code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		return lines[len(lines)-1]
	}
	for _, y := range []struct{ year, seed string }{{"2024", "11"}, {"2025", "12"}} {
		if code, _, stderr := e.cli("demo", "--year", y.year, "--n", "600", "--seed", y.seed); code != 0 {
			t.Fatalf("demo %s = exit %d: %s", y.year, code, stderr)
		}
		release(y.year)
	}
	get := func(token, path string) response {
		t.Helper()
		r := e.do(http.MethodGet, path, token, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %.300s", path, r.status, r.raw)
		}
		return r
	}
	check := func(who, token string) {
		t.Helper()
		rows25 := csvRows(t, get(token, "/api/v1/reports/2025.csv").raw)
		own, earlier := totals(rows25), totals(csvRows(t, get(token, "/api/v1/reports/2024.csv").raw))
		trends := 0
		for _, r := range rows25 {
			if r[1] != "year" {
				continue
			}
			trends++
			want := own[r[0]]
			if r[2] == "2024" {
				want = earlier[r[0]]
			} else if r[2] != "2025" {
				t.Errorf("%s: %s has a trend row of %s", who, r[0], r[2])
			}
			if !slices.Equal(r[3:9], want) {
				t.Errorf("%s: %s in %s = %v, want the total published in %s's release %v", who, r[0], r[2], r[3:9], r[2], want)
			}
		}
		if trends < 2*20 {
			t.Errorf("%s: %d trend rows in 2025.csv, want two years of every declared indicator", who, trends)
		}
		if strings.Contains(get(token, "/api/v1/reports/2024.csv").raw, ",year,") {
			t.Errorf("%s: 2024.csv has trend rows: a year's files show its past, not its future", who)
		}
	}
	check("coordinator", coordinator)
	check("funder of lantin+mons", funder)

	// The HTML report draws the trends, the workbook tabulates them.
	page := get(coordinator, "/api/v1/reports/2025.html?lang=en").raw
	if n := len(regexp.MustCompile(`id="chart-trend-[A-Za-z0-9_-]+"`).FindAllString(page, -1)); n < 5 {
		t.Errorf("2025.html has %d trend charts, want one per family", n)
	}
	wb, err := excelize.OpenReader(strings.NewReader(get(coordinator, "/api/v1/reports/2025.xlsx?lang=en").raw))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sheet := range wb.GetSheetList() {
		rows, _ := wb.GetRows(sheet)
		for i, r := range rows {
			if len(r) > 0 && r[0] == "Year" && i+2 < len(rows) && rows[i+1][0] == "2024" && rows[i+2][0] == "2025" {
				found = true
			}
		}
	}
	wb.Close()
	if !found {
		t.Error("the 2025 workbook has no table by year with 2024 and 2025")
	}

	// A later release of 2024 is the one 2025's trend shows.
	before := get(coordinator, "/api/v1/reports/2025.csv")
	if code, _, stderr := e.cli("demo", "--year", "2024", "--n", "300", "--seed", "13"); code != 0 {
		t.Fatalf("demo = exit %d: %s", code, stderr)
	}
	release("2024")
	after := get(coordinator, "/api/v1/reports/2025.csv")
	if before.header.Get("ETag") == after.header.Get("ETag") || before.raw == after.raw {
		t.Errorf("2025.csv unchanged (ETag %s) after a new release of 2024", after.header.Get("ETag"))
	}
	check("coordinator, after a new release of 2024", coordinator)
}
