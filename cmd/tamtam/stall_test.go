package main

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAuthDuringClickHouseStall stops ClickHouse (SIGSTOP: it hangs without refusing
// connections) once the token cache has expired: a token known before the stall is
// still served from the cache and its submissions are acknowledged from the spool, an
// unknown token gets a prompt 503, and the submissions reach the store once ClickHouse
// runs again (issue #11).
func TestAuthDuringClickHouseStall(t *testing.T) {
	if testing.Short() {
		t.Skip("long: stops ClickHouse (SIGSTOP) and waits for the spool to drain after it; make test runs it")
	}
	// A ClickHouse of its own: stopping the shared one would stall the other tests.
	e := newTestEnv(t, func(c *Config) { c.ClickHouse = "embedded"; c.Spool = true })
	token := e.token("intake", "haren")
	start := time.Now()
	setClock := e.useClock(start) // the cache TTL passes without waiting for it
	if r := e.post("/api/v1/submissions", token, entry(uuidN(1))); r.status != http.StatusCreated {
		t.Fatalf("POST before the stall = %d %s, want 201", r.status, r.raw)
	}

	pid := clickhousePID(t, e.cfg.Data)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP clickhouse: %v", err)
	}
	setClock(start.Add(time.Minute)) // far past the 10 s TTL

	client := &http.Client{Timeout: 15 * time.Second}
	post := func(token, id string) (int, http.Header, time.Duration) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/api/v1/submissions",
			strings.NewReader(mustJSON(entry(id))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		began := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s while ClickHouse is stopped: %v", id, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header, time.Since(began)
	}
	ids := []string{uuidN(1)}
	for n := 2; n <= 4; n++ {
		id := uuidN(n)
		status, _, took := post(token, id)
		if status != http.StatusCreated {
			t.Fatalf("POST %s while ClickHouse is stopped = %d after %s, want 201 from the spool", id, status, took)
		}
		t.Logf("POST %s while ClickHouse is stopped: %d in %s", id, status, took.Round(time.Millisecond))
		ids = append(ids, id)
	}
	status, header, took := post("tt_unknown_"+strings.Repeat("x", 40), uuidN(99))
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Errorf("POST with an unknown token while ClickHouse is stopped = %d Retry-After %q after %s, want 503 with Retry-After",
			status, header.Get("Retry-After"), took)
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT clickhouse: %v", err)
	}
	list := "'" + strings.Join(ids, "','") + "'"
	query := "SELECT uniqExact(submission_id) FROM submissions WHERE submission_id IN (" + list + ")"
	var got string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = embeddedClient(t, e.cfg.Data, query); got == "4" {
			break
		}
	}
	if got != "4" {
		t.Errorf("submissions stored after ClickHouse resumed = %s, want 4", got)
	}
}
