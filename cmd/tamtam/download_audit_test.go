package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestDownloadsWaitForTheirAuditRow: a report is served only once its audit row is
// written. With the audit log out of reach (its table renamed away in the real store),
// every download and dashboard view is a 503 with Retry-After that carries none of the
// report; with the store back, each download has exactly one audit row, also when many
// run at once.
func TestDownloadsWaitForTheirAuditRow(t *testing.T) {
	if testing.Short() {
		t.Skip("long: downloads with the audit log out of reach, then many at once; make test runs it")
	}
	e := newTestEnv(t)
	intake := e.token("intake", "haren", "lantin", "mons")
	e.submitDemoSites(intake, map[string]int{"haren": 60, "lantin": 40, "mons": 30})
	coordinator := e.token("coordinator")
	if code, _, stderr := e.cli("release", "--year", "2025"); code != 0 {
		t.Fatalf("release = exit %d: %s", code, stderr)
	}
	w := newWebClient(t, e)
	if p := w.signIn(coordinator); location(p) != "/reports" {
		t.Fatalf("coordinator sign-in goes to %q, want /reports", location(p))
	}
	// Rendered once while the store works, so that the refusals below are not slowed
	// down by rendering: the refusal must come from the audit log alone.
	for _, f := range []string{"xlsx", "html", "csv"} {
		if r := e.do(http.MethodGet, "/api/v1/reports/2025."+f, coordinator, "", nil); r.status != http.StatusOK {
			t.Fatalf("GET 2025.%s = %d, want 200", f, r.status)
		}
	}
	auditRows := func() string {
		return e.sql("SELECT countIf(action = 'report.download' AND outcome = 'ok'), countIf(action = 'dashboard.view' AND outcome = 'ok') FROM audit_log")
	}
	if got := auditRows(); got != "3\t0" {
		t.Fatalf("audit rows (downloads, views) = %q, want 3 0", got)
	}

	e.sql("RENAME TABLE audit_log TO audit_log_away")
	// reportBytes tells the bytes of a report from those of an error.
	reportBytes := func(body string) bool {
		return strings.HasPrefix(body, "PK") || strings.Contains(body, "<html") || strings.Contains(body, "indicator,breakdown")
	}
	for _, path := range []string{"/api/v1/reports/2025.xlsx", "/api/v1/reports/2025.html?lang=nl", "/api/v1/reports/2025.csv"} {
		r := e.do(http.MethodGet, path, coordinator, "", nil)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.raw, `"unavailable"`) {
			t.Errorf("GET %s without audit log = %d, Retry-After %q, %.200s; want 503 unavailable with Retry-After", path, r.status, r.header.Get("Retry-After"), r.raw)
		}
		if reportBytes(r.raw) || r.header.Get("Content-Disposition") != "" {
			t.Errorf("GET %s without audit log sent report bytes (%d bytes, Content-Disposition %q)", path, len(r.raw), r.header.Get("Content-Disposition"))
		}
	}
	for _, path := range []string{"/reports/2025.xlsx?lang=en", "/reports/2025.csv"} {
		p := w.get(path)
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" || reportBytes(p.body) {
			t.Errorf("GET %s (dashboard download) without audit log = %d, Retry-After %q, report bytes %v; want 503 with Retry-After and no report",
				path, p.status, p.header.Get("Retry-After"), reportBytes(p.body))
		}
	}
	if p := w.get("/reports?year=2025&lang=en"); p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" ||
		strings.Contains(p.body, "charts-") || strings.Contains(p.body, "<table") {
		t.Errorf("GET /reports (dashboard view) without audit log = %d, Retry-After %q; want 503 with Retry-After and no figures",
			p.status, p.header.Get("Retry-After"))
	}
	if !strings.Contains(e.logs.String(), "audit failed") {
		t.Errorf("the refused downloads left no \"audit failed\" in the log")
	}
	e.sql("RENAME TABLE audit_log_away TO audit_log")

	// The store back: one audit row per download, downloads at once included.
	const n = 12
	formats := []string{"xlsx", "html", "csv"}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("%s/api/v1/reports/2025.%s", e.srv.URL, formats[i%3]), nil)
			req.Header.Set("Authorization", "Bearer "+coordinator)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("GET download %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("concurrent download %d = %d, want 200", i, s)
		}
	}
	if p := w.get("/reports/2025.csv"); p.status != http.StatusOK || !reportBytes(p.body) {
		t.Errorf("GET /reports/2025.csv (dashboard download) = %d, want 200 and the figures", p.status)
	}
	if p := w.get("/reports?year=2025&lang=en"); p.status != http.StatusOK {
		t.Errorf("GET /reports (dashboard view) = %d, want 200", p.status)
	}
	if got, want := auditRows(), fmt.Sprintf("%d\t1", 3+n+1); got != want {
		t.Errorf("audit rows (downloads, views) = %q, want %q: one per download and view served", got, want)
	}
}
