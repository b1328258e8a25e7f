package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// These tests drive tamtam end to end against a real ClickHouse (one private server per
// test binary, started by the product's launcher) and read the store back with
// clickhouse-client, a reader independent of tamtam's own code.

func TestMain(m *testing.M) { os.Exit(chtest.Main(m)) }

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is one tamtam app on its own database, served by httptest.
type testEnv struct {
	t        *testing.T
	cfg      Config
	database string
	app      *App
	srv      *httptest.Server
	logs     *syncBuffer
}

func clickhouseURL(database string) string {
	ep := chtest.Endpoint()
	return fmt.Sprintf("clickhouse://%s:%s@%s/%s", ep.User, ep.Password, ep.Addr, database)
}

func newTestEnv(t *testing.T, configure ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, database: chtest.NewDatabase(t), logs: &syncBuffer{}}
	e.cfg = Config{Data: t.TempDir(), ClickHouse: clickhouseURL(e.database), LogLevel: "debug"}
	for _, c := range configure {
		c(&e.cfg)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := NewApp(t.Context(), e.cfg, log)
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	e.app = app
	e.srv = httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		e.srv.Close()
		app.Close()
	})
	return e
}

// cli runs a tamtam command line against the env's store and returns exit code and
// outputs.
func (e *testEnv) cli(args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--data", e.cfg.Data, "--clickhouse", e.cfg.ClickHouse)
	code = run(e.t.Context(), args, &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

// token creates a token through the CLI, as an operator would.
func (e *testEnv) token(role string, sites ...string) string {
	e.t.Helper()
	args := []string{"token", "create", "--role", role}
	for _, s := range sites {
		args = append(args, "--site", s)
	}
	code, out, errOut := e.cli(args...)
	if code != 0 {
		e.t.Fatalf("tamtam %v = exit %d, stderr %s", args, code, errOut)
	}
	return strings.TrimSpace(out)
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *testEnv) do(method, path, token, contentType string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func (e *testEnv) post(path, token string, v any) response {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(http.MethodPost, path, token, "application/json", bytes.NewReader(b))
}

// errorCodes returns "item:code" for each itemised error of a 400 body.
func errorCodes(body map[string]any) []string {
	var out []string
	list, _ := body["errors"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", m["item"], m["code"]))
	}
	return out
}

// sql runs a query with clickhouse-client on the env's database and returns its TSV.
func (e *testEnv) sql(query string) string {
	e.t.Helper()
	return clickhouseClient(e.t, e.database, query)
}

func clickhouseClient(t testing.TB, database, query string) string {
	t.Helper()
	ep := chtest.Endpoint()
	host, port, _ := strings.Cut(ep.Addr, ":")
	return runClickhouseClient(t, query, "--host", host, "--port", port, "--user", ep.User, "--password", ep.Password, "--database", database)
}

// runClickhouseClient runs one query, given on standard input (an id list can be longer
// than a command line), with a query size limit raised to match.
func runClickhouseClient(t testing.TB, query string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "clickhouse-client", append(args, "--max_query_size", "100000000")...)
	cmd.Stdin = strings.NewReader(query)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(query) > 300 {
			query = query[:300] + "…"
		}
		t.Fatalf("clickhouse-client %q: %v\n%s", query, err, out)
	}
	return strings.TrimSpace(string(out))
}

// entry returns a complete, valid entry questionnaire for haren.
func entry(id string) map[string]any {
	return map[string]any{
		"submission_id": id, "questionnaire": "entry", "version": 1, "site": "haren",
		"answers": map[string]any{
			"meta.consent": "1", "meta.entry_month": "2025-03", "meta.interview_lang": "fr",
			"meta.already_answered": "0", "demo.gender": "M", "demo.age": 34, "demo.nationality": "MA",
			"demo.birth_country": "MA", "demo.legal_status": "remand", "demo.prev_incarcerations": "1",
			"drug.lifetime_any": "1", "drug.lifetime": []string{"cannabis", "cocaine"},
			"drug.before_12m": []string{"cannabis"}, "drug.before_30d": []string{},
			"drug.main": "cannabis", "drug.main_route": "2", "drug.main_freq30": "5", "drug.main_age_first": 16,
			"inject.status": "1", "overdose.before_12m": "0", "prev_prison.drug_use": "1",
			"prev_prison.first_use": "0", "prev_prison.injected": "0", "ost.status": "1", "treat.ever": "0",
			"test.hiv_last": "never", "test.hcv_last": "never", "health.self_rated": "2",
			"mh.psy_treatment_ever": "0", "support.wants_help": "1", "lang.fr_nl_sufficient": "1",
			"interp.needed": "0", "insurance.before": "none", "residence.status": "no_permit",
			"gp.before": "0", "release.stay_in_be": "9",
		},
	}
}

func answers(sub map[string]any) map[string]any { return sub["answers"].(map[string]any) }

func uuidN(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
