package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// These tests run `tamtam serve` as a real process (the test binary re-executed) so that
// it can be killed with SIGKILL, and check the promise of every 2xx: the record is in
// ClickHouse exactly once in the end, whatever happened in between.

const serveArgsEnv = "TAMTAM_TEST_SERVE_ARGS"

// The child process: dispatched from init, before TestMain would start a ClickHouse.
func init() {
	if v := os.Getenv(serveArgsEnv); v != "" {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		code := run(ctx, args, os.Stdout, os.Stderr, func(string) string { return "" })
		stop()
		os.Exit(code)
	}
}

// serverProc is one `tamtam serve` child process.
type serverProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	args []string
	logs *syncBuffer
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer starts tamtam serve with args and waits until /readyz answers 200.
func startServer(t *testing.T, addr string, args ...string) *serverProc {
	t.Helper()
	args = append([]string{"serve", "--addr", addr, "--rate-limit", "0", "--record-budget", "0"}, args...)
	encoded, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveArgsEnv+"="+string(encoded))
	p := &serverProc{t: t, cmd: cmd, base: "http://" + addr, args: args, logs: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("tamtam serve did not become ready in 60 s; logs:\n%s", p.logs.String())
	return nil
}

// keepLogs writes the server's logs to $TAMTAM_TEST_LOGS, for debugging a failure.
func (p *serverProc) keepLogs(name string) {
	if dir := os.Getenv("TAMTAM_TEST_LOGS"); dir != "" {
		os.WriteFile(filepath.Join(dir, name+".log"), []byte(p.logs.String()), 0o644)
	}
}

func (p *serverProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serverProc) stop() int {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

// loadClient submits unique questionnaires, retrying each until it gets an answer, as a
// real client over a bad connection would, and remembers every id acknowledged.
type loadClient struct {
	token string
	base  atomic.Value // string
	acked sync.Map     // id -> status
	next  atomic.Int64
	codes sync.Map // status -> *atomic.Int64
}

func (l *loadClient) count(status int) {
	v, _ := l.codes.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (l *loadClient) got(status int) int64 {
	v, ok := l.codes.Load(status)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// submitOne sends one new questionnaire until it is acknowledged (or stop).
func (l *loadClient) submitOne(stop <-chan struct{}) {
	id := uuidN(int(100000 + l.next.Add(1)))
	body, _ := json.Marshal(entry(id))
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		req, _ := http.NewRequest(http.MethodPost, l.base.Load().(string)+"/api/v1/submissions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+l.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			l.count(resp.StatusCode)
			switch resp.StatusCode {
			case http.StatusCreated, http.StatusOK:
				l.acked.Store(id, resp.StatusCode)
				return
			case http.StatusServiceUnavailable:
				// retry after a short pause (the server says Retry-After)
			default:
				panic(fmt.Sprintf("unexpected status %d", resp.StatusCode))
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// run drives workers goroutines until stop closes.
func (l *loadClient) run(workers int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					l.submitOne(stop)
				}
			}
		}()
	}
	return &wg
}

// checkExactlyOnce waits until the spool has drained and checks that every acknowledged
// id is stored exactly once.
func checkExactlyOnce(t *testing.T, database string, l *loadClient) {
	t.Helper()
	var ids []string
	l.acked.Range(func(k, _ any) bool {
		ids = append(ids, k.(string))
		return true
	})
	if len(ids) == 0 {
		t.Fatal("no submission was acknowledged: the test proves nothing")
	}
	deadline := time.Now().Add(60 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		got = clickhouseClient(t, database, "SELECT uniqExact(submission_id) FROM submissions")
		if n, _ := strconv.Atoi(got); n >= len(ids) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every acknowledged id is there, and no id is there twice (count() without FINAL
	// sees duplicates before any merge could hide them).
	list := "'" + strings.Join(ids, "','") + "'"
	present := clickhouseClient(t, database, "SELECT uniqExact(submission_id) FROM submissions WHERE submission_id IN ("+list+")")
	if present != strconv.Itoa(len(ids)) {
		t.Errorf("acknowledged ids in ClickHouse = %s, want all %d", present, len(ids))
	}
	if dup := clickhouseClient(t, database, "SELECT count() - uniqExact(submission_id) FROM submissions"); dup != "0" {
		t.Errorf("duplicated rows in ClickHouse = %s, want 0", dup)
	}
}

// killSeed replays a run of TestKillServerUnderLoad: the test logs the seed of the pauses
// between its kills, and `go test ./cmd/tamtam -run TestKillServerUnderLoad -kill-seed N`
// kills at the same moments again (as far as the timing of the machine allows).
var killSeed = flag.Uint64("kill-seed", 0, "seed of the kill points of TestKillServerUnderLoad (0: a new one)")

// TestKillServerUnderLoad kills the server (SIGKILL) at random moments under load, four
// times: every acknowledged record must be in ClickHouse exactly once in the end.
func TestKillServerUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("long: kills and restarts the server under load; make test runs it")
	}
	e := newTestEnv(t) // the database, a token, and the shared test ClickHouse
	l := &loadClient{token: e.token("intake", "haren")}
	data, addr := t.TempDir(), freeAddr(t)
	args := []string{"--data", data, "--clickhouse", e.cfg.ClickHouse}
	srv := startServer(t, addr, args...)
	l.base.Store(srv.base)
	stop := make(chan struct{})
	wg := l.run(16, stop)
	seed := *killSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -kill-seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for round := range 4 {
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()
		t.Logf("round %d: killed the server with %d acknowledged so far", round+1, l.got(201)+l.got(200))
		srv = startServer(t, addr, args...)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	checkExactlyOnce(t, e.database, l)
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exit after SIGTERM = %d, want 0; logs:\n%s", code, srv.logs.String())
	}
	t.Logf("201: %d, 200: %d, 503: %d", l.got(201), l.got(200), l.got(503))
}

// clickhousePID returns the pid of the embedded clickhouse-server of a data directory.
func clickhousePID(t *testing.T, data string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, "clickhouse", "endpoint.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ep struct {
		PID int `json:"pid"`
	}
	json.Unmarshal(raw, &ep)
	if ep.PID == 0 {
		t.Fatalf("no pid in endpoint.json: %s", raw)
	}
	return ep.PID
}

// embeddedClient queries the embedded ClickHouse of a data directory with clickhouse-client.
func embeddedClient(t *testing.T, data, query string) string {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(data, "clickhouse", "endpoint.json"))
	var ep struct{ Addr, User, Password string }
	json.Unmarshal(raw, &ep)
	host, port, _ := net.SplitHostPort(ep.Addr)
	return runClickhouseClient(t, query, "--host", host, "--port", port, "--user", ep.User, "--password", ep.Password, "--database", "tamtam")
}

// TestClickHouseOutage stops the embedded ClickHouse (SIGSTOP: it hangs, as a slow or
// lost server does) under load: ingest goes on into the spool, /readyz stays ready, and
// the backlog drains when ClickHouse comes back. Then a spool bounded to 2 MiB fills up
// during a longer outage: 503 with Retry-After, and nothing acknowledged is lost.
func TestClickHouseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("long: stops ClickHouse under load until the spool fills; make test runs it")
	}
	data, addr := t.TempDir(), freeAddr(t)
	var tokOut bytes.Buffer
	if code := run(t.Context(), []string{"token", "create", "--role", "intake", "--site", "haren", "--data", data},
		&tokOut, io.Discard, func(string) string { return "" }); code != 0 {
		t.Fatal("token create failed")
	}
	l := &loadClient{token: strings.TrimSpace(tokOut.String())}
	srv := startServer(t, addr, "--data", data, "--spool-max-mb", "2")
	l.base.Store(srv.base)
	pid := clickhousePID(t, data)
	stop := make(chan struct{})
	wg := l.run(8, stop)
	time.Sleep(500 * time.Millisecond)

	syscall.Kill(pid, syscall.SIGSTOP)
	before := l.got(201)
	// Acknowledgements go on while ClickHouse hangs (poll: a busy CI machine is slow).
	for wait := time.Now().Add(15 * time.Second); l.got(201)-before < 50 && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
	}
	during := l.got(201) - before
	if during < 50 {
		t.Errorf("%d submissions acknowledged while ClickHouse was stopped, want 50 or more: the spool did not take over", during)
	}
	// Keep it stopped until the 2 MiB spool is full: 503 with Retry-After, readyz false.
	deadline := time.Now().Add(60 * time.Second)
	for l.got(503) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if l.got(503) == 0 {
		t.Error("the bounded spool never answered 503")
	}
	resp, err := http.Get(srv.base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with a full spool = %v %v, want 503", resp.StatusCode, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.base+"/api/v1/submissions", strings.NewReader(mustJSON(entry(uuidN(999999)))))
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("POST with a full spool = %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		resp.Body.Close()
	}
	// The drainer notices the hung store (its calls time out after 5 s) and says so.
	for !strings.Contains(srv.logs.String(), "store lost") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	t.Logf("acknowledged during the outage: %d; 503s: %d", during, l.got(503))
	time.Sleep(1 * time.Second)
	close(stop)
	wg.Wait()
	// Drained, and every acknowledged id stored once.
	var ids []string
	l.acked.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	deadline = time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if n, _ := strconv.Atoi(embeddedClient(t, data, "SELECT uniqExact(submission_id) FROM submissions")); n >= len(ids) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	list := "'" + strings.Join(ids, "','") + "'"
	if got := embeddedClient(t, data, "SELECT uniqExact(submission_id) FROM submissions WHERE submission_id IN ("+list+")"); got != strconv.Itoa(len(ids)) {
		t.Errorf("acknowledged ids stored = %s, want %d", got, len(ids))
	}
	if dup := embeddedClient(t, data, "SELECT count() - uniqExact(submission_id) FROM submissions"); dup != "0" {
		t.Errorf("duplicates = %s, want 0", dup)
	}
	if !strings.Contains(srv.logs.String(), "store lost") || !strings.Contains(srv.logs.String(), "backlog drained") {
		t.Errorf("logs lack the state changes (store lost, backlog drained):\n%s", tail(srv.logs.String(), 20))
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exit after SIGTERM = %d", code)
	}
	srv.keepLogs("outage")
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
