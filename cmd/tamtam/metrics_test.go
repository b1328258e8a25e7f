package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// metrics returns what the env's metrics listener would answer to GET /metrics.
func (e *testEnv) metrics() string {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.app.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("GET /metrics = %d, want 200", rec.Code)
	}
	return rec.Body.String()
}

// servedProc is a `tamtam serve` run in this process, with its addresses read from its
// log.
type servedProc struct {
	api, metrics string // base URLs; metrics "" when it logged none
	logs         *syncBuffer
	cancel       context.CancelFunc
	done         chan int
}

var (
	listeningLine = regexp.MustCompile(`msg=listening addr=(http://\S+)`)
	metricsLine   = regexp.MustCompile(`msg="metrics listening" addr=(http://\S+)/metrics`)
)

// serveInProcess runs tamtam serve with args (after --addr 127.0.0.1:0) on a fresh
// database of the test server, and returns once it listens.
func serveInProcess(t *testing.T, data, chURL string, args ...string) *servedProc {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	p := &servedProc{logs: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	pr, pw := io.Pipe()
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--clickhouse", chURL, "--rate-limit", "0"}, args...)
	go func() {
		p.done <- run(ctx, args, io.Discard, pw, func(string) string { return "" })
		pw.Close()
	}()
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.logs.Write(append(sc.Bytes(), '\n'))
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				listening <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	select {
	case p.api = <-listening:
	case code := <-p.done:
		t.Fatalf("tamtam %v exited with %d before listening:\n%s", args, code, p.logs.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("tamtam %v did not listen within 90 s:\n%s", args, p.logs.String())
	}
	// The metrics listener is announced before the API's.
	if m := metricsLine.FindStringSubmatch(p.logs.String()); m != nil {
		p.metrics = m[1]
	}
	return p
}

// stop cancels serve and returns its exit code.
func (p *servedProc) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	select {
	case code := <-p.done:
		p.done <- code // for the cleanup
		return code
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60 s")
		return -1
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsListener: /metrics is not on the API's listener (it needs no token and
// shows intake as it happens) but on its own, --metrics-addr, which serves nothing else.
func TestMetricsListener(t *testing.T) {
	data, chURL := t.TempDir(), clickhouseURL(chtest.NewDatabase(t))
	p := serveInProcess(t, data, chURL, "--metrics-addr", "127.0.0.1:0")
	if p.metrics == "" {
		t.Fatalf("serve --metrics-addr 127.0.0.1:0 logged no metrics address:\n%s", p.logs.String())
	}
	if p.metrics == p.api {
		t.Fatalf("metrics address = API address %s, want another listener", p.api)
	}

	// Intake activity, for the metrics to show.
	var tokOut, tokErr bytes.Buffer
	if code := run(t.Context(), []string{"token", "create", "--role", "intake", "--site", "haren", "--data", data, "--clickhouse", chURL},
		&tokOut, &tokErr, func(string) string { return "" }); code != 0 {
		t.Fatalf("token create = exit %d: %s", code, tokErr.String())
	}
	body, _ := json.Marshal(entry(uuidN(7)))
	req, _ := http.NewRequest(http.MethodPost, p.api+"/api/v1/submissions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tokOut.String()))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/submissions = %d, want 201", resp.StatusCode)
	}

	if code, body := httpGet(t, p.api+"/metrics"); code != http.StatusNotFound || strings.Contains(body, "tamtam_") {
		t.Errorf("GET /metrics on the API listener = %d (%.100s), want 404 and no metric", code, body)
	}
	code, got := httpGet(t, p.metrics+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics on the metrics listener = %d, want 200", code)
	}
	for _, want := range []string{`tamtam_submissions_total{outcome="stored"} 1`, "tamtam_spool_depth", "tamtam_ingest_batch_rows_bucket", "go_goroutines"} {
		if !strings.Contains(got, want) {
			t.Errorf("GET /metrics on the metrics listener lacks %s", want)
		}
	}
	for _, path := range []string{"/", "/healthz", "/api/v1/questionnaires", "/reports"} {
		if code, _ := httpGet(t, p.metrics+path); code != http.StatusNotFound {
			t.Errorf("GET %s on the metrics listener = %d, want 404", path, code)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("serve exit after cancel = %d, want 0", code)
	}
	if _, err := http.Get(p.metrics + "/metrics"); err == nil {
		t.Errorf("GET /metrics after serve stopped = nil error, want the listener closed")
	}
}

// TestMetricsOff: --metrics-addr off (or "") opens no metrics listener.
func TestMetricsOff(t *testing.T) {
	chURL := clickhouseURL(chtest.NewDatabase(t))
	for _, addr := range []string{"off", ""} {
		p := serveInProcess(t, t.TempDir(), chURL, "--metrics-addr", addr)
		if p.metrics != "" || strings.Contains(p.logs.String(), `msg="metrics`) {
			t.Errorf("serve --metrics-addr %q logged a metrics listener:\n%s", addr, p.logs.String())
		}
		if code, _ := httpGet(t, p.api+"/metrics"); code != http.StatusNotFound {
			t.Errorf("serve --metrics-addr %q: GET /metrics on the API listener = %d, want 404", addr, code)
		}
		if code := p.stop(t); code != 0 {
			t.Errorf("serve --metrics-addr %q exit after cancel = %d, want 0", addr, code)
		}
	}
}

// TestMetricsAddrErrors: a malformed address is a usage error; an address the operator
// chose that is taken stops serve (exit 1) with one line naming the flag.
func TestMetricsAddrErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	chURL := clickhouseURL(chtest.NewDatabase(t))
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"malformed", []string{"--metrics-addr", "9464"}, nil, 2, "--metrics-addr"},
		{"taken, by flag", []string{"--metrics-addr", taken.Addr().String()}, nil, 1, "--metrics-addr"},
		{"taken, by environment", nil, map[string]string{"TAMTAM_METRICS_ADDR": taken.Addr().String()}, 1, "--metrics-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--clickhouse", chURL, "--log-level", "error"}, tt.args...)
			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			code := run(ctx, args, io.Discard, &stderr, func(k string) string { return tt.env[k] })
			msg := strings.TrimSpace(stderr.String())
			if code != tt.code || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("tamtam %v = exit %d, stderr %q; want exit %d and one line naming %s", args, code, msg, tt.code, tt.want)
			}
		})
	}
}

// TestListenMetricsDefaultTaken: the default address, taken by another tamtam on the
// machine, is warned about and serve goes on without metrics; the same address chosen
// by the operator is an error.
func TestListenMetricsDefaultTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := Config{MetricsAddr: taken.Addr().String()}
	if ln, err := listenMetrics(cfg, log); ln != nil || err != nil {
		t.Errorf("listenMetrics(default taken) = %v, %v; want nil, nil", ln, err)
	}
	if !strings.Contains(logs.String(), `msg="metrics not served"`) {
		t.Errorf("listenMetrics(default taken) logged %q, want a warning", logs.String())
	}
	cfg.MetricsAddrSet = true
	if ln, err := listenMetrics(cfg, log); ln != nil || err == nil {
		t.Errorf("listenMetrics(chosen, taken) = %v, %v; want an error", ln, err)
	}
	if ln, err := listenMetrics(Config{}, log); ln != nil || err != nil {
		t.Errorf("listenMetrics(off) = %v, %v; want nil, nil", ln, err)
	}
}
