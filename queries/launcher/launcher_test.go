package launcher

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tamtam-ngo/tamtam/queries"
)

// These tests run the real clickhouse-server (Debian: apt-get install -y
// clickhouse-server clickhouse-client); a missing binary fails them with that advice.
// Each test owns its directory and servers, so they run in parallel.

// launcherHelperEnv names the directory in which the test binary, run as a helper
// process, launches a server and then waits to be killed.
const launcherHelperEnv = "TAMTAM_LAUNCHER_TEST_HELPER_DIR"

// The stale-server test needs an owner process it can SIGKILL: the test binary itself.
// The helper is dispatched from init, before flag parsing and before any TestMain of the
// package, which would otherwise start servers of its own in the helper.
func init() {
	if dir := os.Getenv(launcherHelperEnv); dir != "" {
		os.Exit(runLauncherHelper(dir))
	}
}

func runLauncherHelper(dir string) int {
	// The test kills the helper long before; the timeout only bounds an orphan.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Launch(ctx, Options{Dir: dir, StartTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	<-ctx.Done()
	srv.Close()
	return 0
}

// launchTest launches a server on dir that the test's cleanup closes.
func launchTest(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	srv, err := Launch(t.Context(), opts)
	if err != nil {
		t.Fatalf("Launch(%s) = %v", opts.Dir, err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return srv
}

// testConn opens a connection to ep that the test's cleanup closes.
func testConn(t *testing.T, ep queries.Endpoint) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{ep.Addr},
		Auth:        clickhouse.Auth{Database: "default", Username: ep.User, Password: ep.Password},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("clickhouse.Open(%s) = %v", ep.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func readEndpointFile(t *testing.T, dir string) serverEndpointFile {
	t.Helper()
	f, err := serverDir(dir).readEndpoint()
	if err != nil {
		t.Fatalf("read endpoint.json: %v", err)
	}
	return f
}

// waitFor polls cond until it returns nil, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer collects log output written from the supervisor goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLaunchRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "clickhouse") // Launch creates it

	srv := launchTest(t, Options{Dir: dir})
	if !srv.Owned() {
		t.Fatalf("Owned() = false, want true")
	}
	first := srv.Endpoint()
	conn := testConn(t, first)
	for _, q := range []string{
		"CREATE DATABASE launcher_keep",
		"CREATE TABLE launcher_keep.notes (id UInt32, note String) ENGINE = MergeTree ORDER BY id",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("Exec(%q) = %v", q, err)
		}
	}
	// Not Exec("INSERT … VALUES"): 18.16 then waits for data blocks and the call hangs.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO launcher_keep.notes (id, note)")
	if err != nil {
		t.Fatalf("PrepareBatch: %v", err)
	}
	defer batch.Close()
	if err := batch.Append(uint32(1), "kept"); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("Send: %v", err)
	}
	conn.Close()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, serverEndpointName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("endpoint.json after Close: stat error %v, want not exist", err)
	}

	// Secrets and data are private to the owner.
	modes := map[string]fs.FileMode{
		".": 0o700, "data": 0o700, "log": 0o700,
		serverPasswordName: 0o600, serverConfigName: 0o600, serverUsersName: 0o600, serverLockName: 0o600,
	}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("stat %s: %v", name, err)
		} else if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", name, got, want)
		}
	}
	users, err := os.ReadFile(filepath.Join(dir, serverUsersName))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(first.Password))
	if len(first.Password) != 64 || bytes.Contains(users, []byte(first.Password)) || !bytes.Contains(users, []byte(hex.EncodeToString(sum[:]))) {
		t.Errorf("users.xml must hold the SHA-256 of the 64-hex-digit password and not the password:\n%s", users)
	}

	srv = launchTest(t, Options{Dir: dir})
	again := srv.Endpoint()
	if again.User != first.User || again.Password != first.Password {
		t.Errorf("second Launch credentials = %s/%s, want the first ones %s/%s", again.User, again.Password, first.User, first.Password)
	}
	var note string
	if err := testConn(t, again).QueryRow(ctx, "SELECT note FROM launcher_keep.notes WHERE id = ?", 1).Scan(&note); err != nil {
		t.Fatalf("select after restart: %v", err)
	}
	if note != "kept" {
		t.Errorf("note after restart = %q, want %q", note, "kept")
	}
}

func TestLaunchMissingBinary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		binary string
	}{
		{"absent path", "/nonexistent/clickhouse-server"},
		{"absent name", "tamtam-no-such-clickhouse-server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := Launch(t.Context(), Options{Dir: t.TempDir(), Binary: tt.binary})
			if err == nil {
				srv.Close()
				t.Fatalf("Launch(Binary: %q) = nil error, want ErrNoServerBinary", tt.binary)
			}
			if !errors.Is(err, ErrNoServerBinary) {
				t.Errorf("Launch(Binary: %q) = %v, want an error wrapping ErrNoServerBinary", tt.binary, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tt.binary) ||
				!strings.Contains(msg, "apt-get install -y clickhouse-server clickhouse-client") {
				t.Errorf("Launch(Binary: %q) error = %q, want one line naming the binary and how to install it", tt.binary, msg)
			}
		})
	}
}

func TestLaunchReportsStartFailure(t *testing.T) {
	t.Parallel()
	// A stand-in binary that logs the given error the way clickhouse-server does and exits.
	fake, err := filepath.Abs("testdata/clickhouse-server")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		logged   string // the error the server logs
		attempts int    // starts expected before Launch gives up
	}{
		{"failure", "DB::Exception: simulated start failure", 1},
		{"port taken", "Net Exception: Address already in use: 127.0.0.1:9000", serverPortAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "fake-error"), []byte(tt.logged), 0o600); err != nil {
				t.Fatal(err)
			}
			srv, err := Launch(t.Context(), Options{Dir: dir, Binary: fake, StartTimeout: 10 * time.Second})
			if err == nil {
				srv.Close()
				t.Fatalf("Launch(fake failing server) = nil error, want one")
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "Application: "+tt.logged) {
				t.Errorf("Launch(fake failing server) error = %q, want one line quoting %q", msg, tt.logged)
			}
			errLog, _ := os.ReadFile(filepath.Join(dir, "log", "err.log"))
			if got := bytes.Count(errLog, []byte("\n")); got != tt.attempts {
				t.Errorf("starts = %d, want %d", got, tt.attempts)
			}
			// A failed Launch leaves the directory free for the next one.
			lock, err := serverDir(dir).tryLock()
			if lock == nil || err != nil {
				t.Errorf("tryLock after failed Launch = %v, %v; want the lock", lock, err)
			}
			lock.Close()
		})
	}
}

func TestLaunchAttach(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	// Launched together, one becomes the owner and the others wait for its endpoint.
	const n = 3
	servers := make([]*Server, n)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() {
			srv, err := Launch(t.Context(), Options{Dir: dir, StartTimeout: 30 * time.Second})
			if err != nil {
				t.Errorf("Launch(%s) = %v", dir, err)
				return
			}
			servers[i] = srv
		})
	}
	wg.Wait()
	var owner *Server
	for _, srv := range servers {
		if srv == nil {
			t.FailNow()
		}
		t.Cleanup(func() { srv.Close() })
		if srv.Owned() {
			if owner != nil {
				t.Fatalf("two Servers own %s", dir)
			}
			owner = srv
		}
	}
	if owner == nil {
		t.Fatalf("no Server owns %s", dir)
	}
	ep := owner.Endpoint()
	for _, srv := range servers {
		if got := srv.Endpoint(); got != ep {
			t.Errorf("Endpoint() = %+v, want the owner's %+v", got, ep)
		}
	}
	if got := findServerProcesses(filepath.Join(dir, serverConfigName)); len(got) != 1 {
		t.Errorf("servers running on %s: %v, want one", dir, got)
	}

	for _, srv := range servers {
		if srv != owner {
			if err := srv.Close(); err != nil {
				t.Errorf("Close() of attached server = %v", err)
			}
		}
	}
	if err := pingEndpoint(t.Context(), ep); err != nil {
		t.Fatalf("ping after closing the attached servers = %v, want the owner's server running", err)
	}

	pid := readEndpointFile(t, dir).PID
	if err := owner.Close(); err != nil {
		t.Fatalf("owner Close() = %v", err)
	}
	if processAlive(pid) {
		t.Errorf("clickhouse-server pid %d alive after the owner closed", pid)
	}
	if err := pingEndpoint(t.Context(), ep); err == nil {
		t.Errorf("ping after the owner closed = nil, want an error")
	}
}

func TestServerRestartsAfterCrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs syncBuffer
	srv := launchTest(t, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	before := readEndpointFile(t, dir)
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var after serverEndpointFile
	waitFor(t, 30*time.Second, "restart after SIGKILL", func() error {
		after = readEndpointFile(t, dir)
		if after.PID == before.PID {
			return fmt.Errorf("endpoint.json still names the killed pid %d", before.PID)
		}
		return pingEndpoint(t.Context(), srv.Endpoint())
	})
	if after.Endpoint != srv.Endpoint() {
		t.Errorf("endpoint.json = %+v, want Endpoint() %+v", after.Endpoint, srv.Endpoint())
	}
	for _, msg := range []string{"clickhouse exited unexpectedly", "clickhouse restarted"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("log lacks %q:\n%s", msg, logs.String())
		}
	}

	// Close races the supervisor noticing a second crash, and itself.
	if err := syscall.Kill(after.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := srv.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		})
	}
	wg.Wait()
	if got := findServerProcesses(filepath.Join(dir, serverConfigName)); len(got) != 0 {
		t.Errorf("servers running on %s after Close: %v, want none", dir, got)
	}
}

func TestLaunchStopsStaleServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// leave leaves a server running on dir without a live owner; it returns its pid
		// and a channel closed once that process has exited.
		leave func(t *testing.T, dir string) (int, <-chan struct{})
	}{
		{"owner killed", leaveOwnerKilled},
		{"started by hand", leaveStartedByHand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			oldPID, oldExited := tt.leave(t, dir)

			srv := launchTest(t, Options{Dir: dir})
			if !srv.Owned() {
				t.Fatalf("Owned() = false, want true: the old owner is dead")
			}
			select {
			case <-oldExited:
			case <-time.After(10 * time.Second):
				t.Fatalf("old clickhouse-server pid %d still running after Launch", oldPID)
			}
			if err := pingEndpoint(t.Context(), srv.Endpoint()); err != nil {
				t.Fatalf("ping = %v", err)
			}
			running := findServerProcesses(filepath.Join(dir, serverConfigName))
			if pid := readEndpointFile(t, dir).PID; len(running) != 1 || running[0] != pid || pid == oldPID {
				t.Errorf("servers running = %v, want only the new one %d (old: %d)", running, pid, oldPID)
			}
		})
	}
}

// leaveOwnerKilled runs an owner in a helper process and SIGKILLs it, leaving its server
// to die of Pdeathsig while the next Launch may already be looking.
func leaveOwnerKilled(t *testing.T, dir string) (int, <-chan struct{}) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(self)
	helper.Env = append(os.Environ(), launcherHelperEnv+"="+dir)
	var stderr syncBuffer
	helper.Stderr = &stderr
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line == "ready\n"
	}()
	select {
	case ok := <-ready:
		if !ok {
			helper.Wait()
			t.Fatalf("helper owner failed: %s", stderr.String())
		}
	case <-time.After(40 * time.Second):
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("helper owner not ready: %s", stderr.String())
	}
	pid := readEndpointFile(t, dir).PID
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	// The server is the helper's child, reaped by init: watch it through /proc.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for processAlive(pid) {
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return pid, exited
}

// leaveStartedByHand starts a clickhouse-server on dir's configuration directly, as an
// operator might, with endpoint.json naming it; only the stale-server step can stop it.
func leaveStartedByHand(t *testing.T, dir string) (int, <-chan struct{}) {
	t.Helper()
	srv := launchTest(t, Options{Dir: dir})
	ep := srv.Endpoint()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	bin, err := findServerBinary("")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin.path, bin.args(filepath.Join(dir, serverConfigName))...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	waitFor(t, 30*time.Second, "server started by hand", func() error {
		return pingEndpoint(t.Context(), ep)
	})
	if err := serverDir(dir).writeEndpoint(ep, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid, exited
}

// TestLaunchRefusesReadableSecrets: a password file or an endpoint.json that others may
// read stops Launch with one line naming the file and the fix, before any server starts.
func TestLaunchRefusesReadableSecrets(t *testing.T) {
	t.Parallel()
	const password = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name string
		file string
		// prepare leaves the file at mode 0644 in dir; it may return a lock the test
		// holds, as a live owner would.
		prepare func(t *testing.T, dir string) *os.File
	}{
		{"password, as owner", serverPasswordName, func(t *testing.T, dir string) *os.File {
			writeMode(t, filepath.Join(dir, serverPasswordName), []byte(password+"\n"), 0o644)
			return nil
		}},
		{"endpoint.json, attaching", serverEndpointName, func(t *testing.T, dir string) *os.File {
			// Another process owns the directory (this test holds its lock) and has
			// published an endpoint that anybody may read.
			lock, err := serverDir(dir).tryLock()
			if err != nil || lock == nil {
				t.Fatalf("tryLock(%s) = %v, %v; want the lock", dir, lock, err)
			}
			ep := fmt.Sprintf(`{"addr":"127.0.0.1:1","user":"tamtam","password":%q,"pid":%d,"owner":%d}`, password, os.Getpid(), os.Getpid())
			writeMode(t, filepath.Join(dir, serverEndpointName), []byte(ep+"\n"), 0o644)
			return lock
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if lock := tt.prepare(t, dir); lock != nil {
				defer lock.Close()
			}
			srv, err := Launch(t.Context(), Options{Dir: dir, StartTimeout: 10 * time.Second})
			if err == nil {
				srv.Close()
				t.Fatalf("Launch(%s at 0644) = nil error, want a refusal", tt.file)
			}
			path := filepath.Join(dir, tt.file)
			if msg := err.Error(); !errors.Is(err, ErrSecretFileMode) || strings.Contains(msg, "\n") ||
				!strings.Contains(msg, "chmod 600 "+path) || !strings.Contains(msg, "0644") {
				t.Errorf("Launch(%s at 0644) = %q, want one line wrapping ErrSecretFileMode with the mode and chmod 600 %s", tt.file, msg, path)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("Launch(%s at 0644) error quotes the password", tt.file)
			}
			if got := findServerProcesses(filepath.Join(dir, serverConfigName)); len(got) != 0 {
				t.Errorf("servers running on %s after the refusal: %v, want none", dir, got)
			}
		})
	}
}

// TestSecretFilesWrittenPrivate: the password and endpoint.json are written with mode
// 0600, and read back.
func TestSecretFilesWrittenPrivate(t *testing.T) {
	t.Parallel()
	d := serverDir(t.TempDir())
	pw, err := d.password()
	if err != nil {
		t.Fatalf("password() = %v", err)
	}
	ep := queries.Endpoint{Addr: "127.0.0.1:1", User: serverUser, Password: pw}
	if err := d.writeEndpoint(ep, 1); err != nil {
		t.Fatalf("writeEndpoint() = %v", err)
	}
	for _, name := range []string{serverPasswordName, serverEndpointName} {
		fi, err := os.Stat(d.path(name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode of %s = %v, want 0600", name, got)
		}
	}
	if again, err := d.password(); err != nil || again != pw {
		t.Errorf("password() again = %q, %v; want the same password", again, err)
	}
	if f, err := d.readEndpoint(); err != nil || f.Endpoint != ep {
		t.Errorf("readEndpoint() = %+v, %v; want %+v", f.Endpoint, err, ep)
	}
	// Readable by the group: refused too.
	if err := os.Chmod(d.path(serverPasswordName), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := d.password(); !errors.Is(err, ErrSecretFileMode) {
		t.Errorf("password() of a file at 0640 = %v, want ErrSecretFileMode", err)
	}
}

// writeMode writes a file with exactly the given mode, whatever the umask.
func writeMode(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
