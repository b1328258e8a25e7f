// Package launcher starts and supervises tamtam's embedded ClickHouse: a private
// clickhouse-server under the data directory, on free loopback ports, with a generated
// password, restarted whenever it exits. Several tamtam processes on one directory share
// one server: the first owns it, the others attach ([Launch]).
//
// It lives apart from package queries because it is process supervision, not storage:
// queries only needs the [queries.Endpoint] a [Server] publishes.
package launcher

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tamtam-ngo/tamtam/queries"
)

// ErrNoServerBinary is returned by [Launch] when no clickhouse-server binary can be found,
// neither at [Options.Binary] nor, when that is empty, on PATH or in /usr/sbin,
// /usr/bin and /usr/local/bin. The error wrapping it says how to install one.
var ErrNoServerBinary = errors.New("launcher: no clickhouse-server binary found")

// Options configures [Launch].
type Options struct {
	// Dir is the directory owned by the embedded server (e.g. <data>/clickhouse): its
	// configuration, password, logs and data live there. It is created with mode 0700.
	Dir string
	// Binary is the clickhouse-server (or all-in-one clickhouse) executable. Empty looks
	// for clickhouse-server, then clickhouse, on PATH and then in /usr/sbin, /usr/bin and
	// /usr/local/bin: Debian installs the server in /usr/sbin, which a non-root PATH lacks.
	Binary string
	// Logger receives the supervision events; nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds how long Launch waits for a server to answer, and each restart
	// by the supervisor; 0 means 60 s.
	StartTimeout time.Duration
	// Node makes the server one node of a ClickHouse cluster (the cluster tests start
	// four); nil is the embedded server of tamtam, alone on free ports.
	Node *Node
}

// Node is what a server needs to be one node of a cluster: fixed ports, because the
// other nodes name them in their remote_servers, a password they share, because
// distributed queries log in to every node as the same user, and the cluster's
// configuration.
type Node struct {
	TCPPort, HTTPPort, InterserverPort int
	// Password is the tamtam user's password on every node: 64 hex digits.
	Password string
	// Config is XML placed inside <yandex>: remote_servers, zookeeper, macros.
	Config string
}

// Server is an embedded ClickHouse: either started and supervised by this process, or
// attached to the one a live tamtam process started in the same directory.
//
// One directory has at most one owner, the process holding an exclusive flock on
// launcher.lock; the owner publishes the endpoint in endpoint.json once the server
// answers, and every other process attaches through that file. So two clickhouse-server
// processes never share a data directory, however many tamtam commands run beside it.
type Server struct {
	dir   serverDir
	log   *slog.Logger
	owned bool

	mu       sync.Mutex
	endpoint queries.Endpoint // the ports change when a restart finds one taken

	// The fields below are used only when owned.
	lock         *os.File // holds the flock for the Server's lifetime; closing releases it
	node         *Node    // nil: alone on free ports
	bin          serverBinary
	startTimeout time.Duration
	closeCtx     context.Context // done once Close has begun: supervision stops
	closeCancel  context.CancelFunc
	done         chan struct{} // closed when the supervisor has stopped the child
	stopErr      error         // set by the supervisor before done is closed
	closeOnce    sync.Once
	closeErr     error
}

// Timings of the launcher. A clickhouse-server starts in about 2 s and stops within a
// second on SIGTERM; the generous stop timeout leaves room for merges to finish.
const (
	serverDefaultStartTimeout = 60 * time.Second
	serverStopTimeout         = 30 * time.Second
	serverMinBackoff          = time.Second
	serverMaxBackoff          = 30 * time.Second
	serverPollInterval        = 100 * time.Millisecond
	serverPingTimeout         = 2 * time.Second
	// serverPortAttempts bounds the retries when a port picked as free is taken by
	// someone else before the server binds it.
	serverPortAttempts = 3
	// serverUser is the only user of the embedded server's users.xml.
	serverUser = "tamtam"
)

// errServerPortTaken marks a start that failed because a port was taken meanwhile, the
// one failure that new ports can cure.
var errServerPortTaken = errors.New("port already in use")

// Launch returns the embedded ClickHouse server of opts.Dir, ready to answer queries.
//
// If a live process already owns the directory, Launch waits (up to StartTimeout) for the
// endpoint it publishes and returns a Server attached to it, which Close leaves running.
// Otherwise this process becomes the owner: it stops any clickhouse-server left over
// from an owner that was killed, starts its own on free loopback ports, and restarts it
// whenever it exits until Close. Launch returns an error wrapping [ErrNoServerBinary]
// when it must start a server and finds no binary, and one wrapping [ErrSecretFileMode]
// when the password file or endpoint.json it reads may be read by others than its owner
// (both are written with mode 0600).
func Launch(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("launcher: launch clickhouse: no directory given")
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("launcher: launch clickhouse in %s: %w", opts.Dir, err)
	}
	d := serverDir(abs)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = serverDefaultStartTimeout
	}
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return nil, fmt.Errorf("launcher: launch clickhouse: %w", err)
	}
	for {
		lock, err := d.tryLock()
		if err != nil {
			return nil, err
		}
		if lock != nil {
			s := &Server{dir: d, log: log, owned: true, lock: lock, startTimeout: timeout, node: opts.Node}
			if err := s.launch(ctx, opts.Binary); err != nil {
				lock.Close()
				return nil, err
			}
			return s, nil
		}
		// Another process owns the directory. Its endpoint may not be published yet
		// (it is starting), or the owner may die meanwhile; then the lock comes free on
		// the next round and this process takes over.
		ep, ok, err := d.liveEndpoint(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			log.Info("clickhouse attached", "dir", string(d), "addr", ep.Addr)
			return &Server{dir: d, log: log, endpoint: ep}, nil
		}
		select {
		case <-ctx.Done():
			if time.Now().Before(deadline) {
				return nil, fmt.Errorf("launcher: attach to clickhouse in %s: %w", d, ctx.Err())
			}
			return nil, fmt.Errorf("launcher: attach to clickhouse in %s: the process holding %s published no reachable endpoint within %s",
				d, d.path(serverLockName), timeout)
		case <-time.After(serverPollInterval):
		}
	}
}

// Endpoint returns where the server listens and the credentials to use.
func (s *Server) Endpoint() queries.Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endpoint
}

// PID returns the process id of the clickhouse-server this process supervises (0 when
// attached): the cluster tests kill it with SIGKILL and watch the supervisor restart it.
func (s *Server) PID() int {
	if !s.owned {
		return 0
	}
	f, err := s.dir.readEndpoint()
	if err != nil {
		return 0
	}
	return f.PID
}

// Owned reports whether this process started the server (and Close stops it).
func (s *Server) Owned() bool { return s.owned }

// Close stops an owned server: it ends supervision, sends SIGTERM, waits up to 30 s
// before SIGKILL, withdraws the published endpoint and releases the directory. On an
// attached server it does nothing. Close may be called more than once and from several
// goroutines; every call returns the result of the first.
func (s *Server) Close() error {
	if !s.owned {
		return nil
	}
	s.closeOnce.Do(func() {
		s.closeCancel()
		<-s.done
		err := s.stopErr
		// Withdraw the endpoint before the lock comes free, so a process that takes
		// the directory over never reads ours.
		if rmErr := os.Remove(s.dir.path(serverEndpointName)); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("launcher: stop clickhouse: %w", rmErr))
		}
		if cErr := s.lock.Close(); cErr != nil {
			err = errors.Join(err, fmt.Errorf("launcher: stop clickhouse: release lock: %w", cErr))
		}
		s.closeErr = err
		s.log.Info("clickhouse stopped", "dir", string(s.dir))
	})
	return s.closeErr
}

// launch prepares the directory as its owner, starts the server and its supervisor.
func (s *Server) launch(ctx context.Context, binary string) error {
	bin, err := findServerBinary(binary)
	if err != nil {
		return err
	}
	s.bin = bin
	if err := s.stopStale(); err != nil {
		return err
	}
	if err := os.Remove(s.dir.path(serverEndpointName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("launcher: launch clickhouse: %w", err)
	}
	for _, sub := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(s.dir.path(sub), 0o700); err != nil {
			return fmt.Errorf("launcher: launch clickhouse: %w", err)
		}
	}
	if s.node != nil {
		if len(s.node.Password) != 64 || !isHex(s.node.Password) {
			return errors.New("launcher: a cluster node's password must be 64 hex digits")
		}
		if err := s.dir.writeFile(serverPasswordName, []byte(s.node.Password+"\n")); err != nil {
			return fmt.Errorf("launcher: write clickhouse password: %w", err)
		}
	}
	password, err := s.dir.password()
	if err != nil {
		return err
	}
	if err := s.dir.writeUsers(password); err != nil {
		return err
	}
	s.endpoint = queries.Endpoint{User: serverUser, Password: password}

	var child *serverChild
	for attempt := 1; ; attempt++ {
		if err := s.usePorts(); err != nil {
			return err
		}
		child, err = s.start(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errServerPortTaken) || attempt == serverPortAttempts {
			return err
		}
		s.log.Warn("clickhouse port taken, retrying", "attempt", attempt, "err", err)
	}
	if err := s.dir.writeEndpoint(s.Endpoint(), child.cmd.Process.Pid); err != nil {
		s.stop(child)
		return err
	}
	s.log.Info("clickhouse started", "dir", string(s.dir), "addr", s.Endpoint().Addr,
		"pid", child.cmd.Process.Pid, "binary", s.bin.path)

	s.closeCtx, s.closeCancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	go s.supervise(child)
	return nil
}

// usePorts picks free loopback ports (a cluster node's own, fixed) and writes the server
// configuration with them.
func (s *Server) usePorts() error {
	var tcpPort, httpPort int
	extra := ""
	if n := s.node; n != nil {
		tcpPort, httpPort = n.TCPPort, n.HTTPPort
		extra = fmt.Sprintf("<interserver_http_host>127.0.0.1</interserver_http_host>\n  <interserver_http_port>%d</interserver_http_port>\n  %s",
			n.InterserverPort, n.Config)
	} else {
		var err error
		if tcpPort, httpPort, err = freeLoopbackPorts(); err != nil {
			return err
		}
	}
	if err := s.dir.writeConfig(tcpPort, httpPort, extra); err != nil {
		return err
	}
	s.mu.Lock()
	s.endpoint.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort))
	s.mu.Unlock()
	return nil
}

// serverChild is one run of clickhouse-server.
type serverChild struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed once the process has exited and been reaped
	err     error         // from Wait; read only after exited is closed

	// Sizes of the logs when the child started: its own messages come after.
	errLogOffset, stdoutOffset int64
}

// start runs clickhouse-server with the current configuration and waits until it answers
// a ping. The child is stopped again if it does not answer before ctx is done.
func (s *Server) start(ctx context.Context) (*serverChild, error) {
	out, err := openStdoutLog(s.dir.path("log", "stdout.log"))
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy of the descriptor
	c := &serverChild{
		exited:       make(chan struct{}),
		errLogOffset: fileSize(s.dir.path("log", "err.log")),
		stdoutOffset: fileSize(out.Name()),
	}
	c.cmd = exec.Command(s.bin.path, s.bin.args(s.dir.path(serverConfigName))...)
	c.cmd.Dir = string(s.dir)
	// Recent ClickHouse may fork a watchdog parent that would outlive SIGTERM handling
	// as we expect it; we are the watchdog.
	c.cmd.Env = append(os.Environ(), "CLICKHOUSE_WATCHDOG_ENABLE=0")
	c.cmd.Stdout, c.cmd.Stderr = out, out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C in the terminal reaches tamtam, which then
		// stops the server cleanly, instead of killing both at once.
		Setpgid: true,
		// The server dies with us even on SIGKILL. Linux ties this to the thread that
		// forked; Go never retires its threads unless a goroutine exits while locked to
		// one, which the launcher does not do.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("launcher: start clickhouse-server %s: %w", s.bin.path, err)
	}
	c.started = time.Now()
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()

	ep := s.Endpoint()
	for {
		err := pingEndpoint(ctx, ep)
		if err == nil {
			return c, nil
		}
		select {
		case <-c.exited:
			return nil, s.exitError(c)
		case <-ctx.Done():
			s.stop(c)
			return nil, fmt.Errorf("launcher: start clickhouse-server: no answer on %s (%v): %v; see %s",
				ep.Addr, err, ctx.Err(), s.dir.path("log", "err.log"))
		case <-time.After(serverPollInterval):
		}
	}
}

// exitError describes why the child exited, quoting the reason the server logged. It
// matches errServerPortTaken when that reason is a port in use.
func (s *Server) exitError(c *serverChild) error {
	reason := s.exitReason(c)
	if reason == "" {
		reason = "no reason logged"
	}
	err := &serverStartError{msg: fmt.Sprintf("launcher: clickhouse-server exited during start (%v): %s; see %s",
		c.err, reason, s.dir.path("log", "err.log"))}
	if strings.Contains(strings.ToLower(reason), "address already in use") {
		err.cause = errServerPortTaken
	}
	return err
}

// exitReason returns, as one line, what the exited child logged about its failure, or
// "" (a child killed by a signal logs nothing).
func (s *Server) exitReason(c *serverChild) string {
	if r := lastErrorLine(readFrom(s.dir.path("log", "err.log"), c.errLogOffset)); r != "" {
		return r
	}
	// Failures before the logger is set up (a malformed config) go to stderr.
	return lastErrorLine(readFrom(s.dir.path("log", "stdout.log"), c.stdoutOffset))
}

// serverStartError is a failed start: its message quotes the server, and its cause, if
// any, says what a retry could cure.
type serverStartError struct {
	msg   string
	cause error
}

func (e *serverStartError) Error() string { return e.msg }
func (e *serverStartError) Unwrap() error { return e.cause }

// stop ends the child: SIGTERM to its process group, SIGKILL after serverStopTimeout.
// It returns an error only when the child had to be killed.
func (s *Server) stop(c *serverChild) error {
	pid := c.cmd.Process.Pid
	select {
	case <-c.exited:
		return nil
	default:
	}
	// Negative pid: the whole group, so a server forked by a watchdog goes too.
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	timer := time.NewTimer(serverStopTimeout)
	defer timer.Stop()
	select {
	case <-c.exited:
		return nil
	case <-timer.C:
	}
	s.log.Warn("clickhouse did not stop, killing", "pid", pid, "timeout", serverStopTimeout)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-c.exited
	return fmt.Errorf("launcher: stop clickhouse-server (pid %d): no exit %s after SIGTERM, killed", pid, serverStopTimeout)
}

// supervise restarts the child whenever it exits, until Close.
func (s *Server) supervise(c *serverChild) {
	defer close(s.done)
	backoff := serverMinBackoff
	for {
		select {
		case <-s.closeCtx.Done():
			s.stopErr = s.stop(c)
			return
		case <-c.exited:
		}
		uptime := time.Since(c.started)
		s.log.Warn("clickhouse exited unexpectedly", "pid", c.cmd.Process.Pid, "err", c.err,
			"uptime", uptime.Round(time.Millisecond), "reason", s.exitReason(c))
		// A server that ran for a while is restarted after the shortest delay; one that keeps
		// dying is given more and more time, so a crash loop does not spin.
		if uptime > time.Minute {
			backoff = serverMinBackoff
		}
		for {
			s.log.Info("clickhouse restarting", "in", backoff)
			select {
			case <-s.closeCtx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, serverMaxBackoff)
			next, err := s.restart()
			if err == nil {
				c = next
				break
			}
			if s.closeCtx.Err() != nil {
				return
			}
			s.log.Error("clickhouse restart failed", "err", err)
		}
	}
}

// restart starts the child again on the same ports, or on new ones if one was taken
// while the server was down, and publishes the new endpoint.
func (s *Server) restart() (*serverChild, error) {
	ctx, cancel := context.WithTimeout(s.closeCtx, s.startTimeout)
	defer cancel()
	c, err := s.start(ctx)
	if errors.Is(err, errServerPortTaken) {
		if err := s.usePorts(); err != nil {
			return nil, err
		}
		c, err = s.start(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := s.dir.writeEndpoint(s.Endpoint(), c.cmd.Process.Pid); err != nil {
		// The server runs; only processes attaching later will miss it. Keep it.
		s.log.Error("clickhouse endpoint not published", "err", err)
	}
	s.log.Info("clickhouse restarted", "pid", c.cmd.Process.Pid, "addr", s.Endpoint().Addr)
	return c, nil
}

// stopStale stops every clickhouse-server still running on this directory's config: one
// left by an owner killed with SIGKILL (its SIGTERM from Pdeathsig may still be in
// progress) or started by hand. Only the owner calls it, so none of them is supervised.
func (s *Server) stopStale() error {
	config := s.dir.path(serverConfigName)
	pids := findServerProcesses(config)
	if len(pids) == 0 {
		return nil
	}
	for _, pid := range pids {
		s.log.Warn("clickhouse stale server, stopping", "pid", pid, "config", config)
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("launcher: stop stale clickhouse-server (pid %d): %w", pid, err)
		}
	}
	if waitGone(pids, serverStopTimeout) {
		return nil
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if !waitGone(pids, 5*time.Second) {
		return fmt.Errorf("launcher: stop stale clickhouse-server (pids %v): still running after SIGKILL", pids)
	}
	return nil
}

// waitGone polls until none of pids is alive, or timeout.
func waitGone(pids []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		alive := false
		for _, pid := range pids {
			alive = alive || processAlive(pid)
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(serverPollInterval)
	}
}

// findServerProcesses returns the processes whose command line names config: the
// servers running on that configuration. The pid recorded in endpoint.json is one of
// them, but a child started just before its owner died was never recorded.
func findServerProcesses(config string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // exited meanwhile, or not ours to see
		}
		for _, arg := range bytes.Split(cmdline, []byte{0}) {
			if a := string(arg); a == config || a == "--config-file="+config {
				if processAlive(pid) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

// processAlive reports whether pid runs. A zombie is dead: it waits only for its parent
// to reap it (or for an init that may never do so in a container).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may hold any byte.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}

// serverBinary is the executable to run and how to call it.
type serverBinary struct {
	path string
	// multi marks the all-in-one clickhouse binary, which needs "server" as first
	// argument; clickhouse-server (even a symlink to it) dispatches on its name.
	multi bool
}

func (b serverBinary) args(config string) []string {
	args := []string{"--config-file=" + config}
	if b.multi {
		args = append([]string{"server"}, args...)
	}
	return args
}

// serverBinaryDirs are searched after PATH, which for non-root users lacks /usr/sbin.
var serverBinaryDirs = []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"}

// findServerBinary resolves Options.Binary.
func findServerBinary(name string) (serverBinary, error) {
	names := []string{"clickhouse-server", "clickhouse"}
	where := "on PATH or in " + strings.Join(serverBinaryDirs, ", ")
	if name != "" {
		names = []string{name}
		where = "at " + name
		if !strings.Contains(name, "/") {
			where = "named " + name + " on PATH or in " + strings.Join(serverBinaryDirs, ", ")
		}
	}
	for _, n := range names {
		if p := lookServerBinary(n); p != "" {
			return serverBinary{path: p, multi: filepath.Base(p) == "clickhouse"}, nil
		}
	}
	return serverBinary{}, fmt.Errorf("%w %s: install it with `apt-get install -y clickhouse-server clickhouse-client`, or pass --clickhouse clickhouse://host:9000/db to use an existing server",
		ErrNoServerBinary, where)
}

func lookServerBinary(name string) string {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name
		}
		return ""
	}
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	for _, dir := range serverBinaryDirs {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// freeLoopbackPorts returns two distinct ports free on 127.0.0.1 right now. Someone may
// take them before the server binds them; the caller retries then.
func freeLoopbackPorts() (tcpPort, httpPort int, err error) {
	var ports [2]int
	for i := range ports {
		l, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			return 0, 0, fmt.Errorf("launcher: find a free port: %w", lerr)
		}
		// Held open until both are chosen, so the two differ.
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

// pingEndpoint opens a short-lived connection to ep and pings it.
func pingEndpoint(ctx context.Context, ep queries.Endpoint) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{ep.Addr},
		Auth:        clickhouse.Auth{Database: "default", Username: ep.User, Password: ep.Password},
		DialTimeout: serverPingTimeout,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, serverPingTimeout)
	defer cancel()
	return conn.Ping(ctx)
}

// Names of the files the launcher keeps in the server directory.
const (
	serverLockName     = "launcher.lock"
	serverEndpointName = "endpoint.json"
	serverPasswordName = "password"
	serverConfigName   = "config.xml"
	serverUsersName    = "users.xml"
)

// serverDir is the directory an embedded server owns, as an absolute path.
type serverDir string

func (d serverDir) path(elem ...string) string {
	return filepath.Join(append([]string{string(d)}, elem...)...)
}

// tryLock takes the directory's owner lock without blocking. It returns nil, nil when
// another process (or another Server in this one) holds it.
func (d serverDir) tryLock() (*os.File, error) {
	f, err := os.OpenFile(d.path(serverLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("launcher: lock clickhouse directory: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		f.Close()
		return nil, nil
	default:
		f.Close()
		return nil, fmt.Errorf("launcher: lock clickhouse directory %s: %w", d, err)
	}
}

// serverEndpointFile is the content of endpoint.json.
type serverEndpointFile struct {
	queries.Endpoint
	PID   int `json:"pid"`   // the clickhouse-server process
	Owner int `json:"owner"` // the process supervising it
}

// writeEndpoint publishes ep atomically: an attaching process reads either the old file
// or the new one, never a torn one.
func (d serverDir) writeEndpoint(ep queries.Endpoint, pid int) error {
	b, err := json.Marshal(serverEndpointFile{Endpoint: ep, PID: pid, Owner: os.Getpid()})
	if err != nil {
		return fmt.Errorf("launcher: publish clickhouse endpoint: %w", err)
	}
	if err := d.writeFile(serverEndpointName, append(b, '\n')); err != nil {
		return fmt.Errorf("launcher: publish clickhouse endpoint: %w", err)
	}
	return nil
}

// readEndpoint reads endpoint.json. It returns an error wrapping [ErrSecretFileMode]
// when others than its owner may read it: it holds the password.
func (d serverDir) readEndpoint() (serverEndpointFile, error) {
	var f serverEndpointFile
	b, err := readSecretFile(d.path(serverEndpointName))
	if err != nil {
		return f, err
	}
	err = json.Unmarshal(b, &f)
	return f, err
}

// liveEndpoint returns the published endpoint if its owner is alive and it answers.
// An owner killed with SIGKILL leaves its file behind: checking the owner's pid keeps an
// attaching process from reaching a stale server that the next owner is about to stop.
// An endpoint.json that others may read is an error: the caller refuses to start.
func (d serverDir) liveEndpoint(ctx context.Context) (queries.Endpoint, bool, error) {
	f, err := d.readEndpoint()
	if errors.Is(err, ErrSecretFileMode) {
		return queries.Endpoint{}, false, err
	}
	if err != nil || !processAlive(f.Owner) {
		return queries.Endpoint{}, false, nil
	}
	if err := pingEndpoint(ctx, f.Endpoint); err != nil {
		return queries.Endpoint{}, false, nil
	}
	return f.Endpoint, true, nil
}

// password returns the server password, creating it on first use. It is kept rather than
// changed at each start so that endpoints read by attached processes stay valid. A
// password file that others may read is refused (an error wrapping [ErrSecretFileMode]),
// not silently replaced: the password may have leaked, and the operator must know.
func (d serverDir) password() (string, error) {
	b, err := readSecretFile(d.path(serverPasswordName))
	if errors.Is(err, ErrSecretFileMode) {
		return "", err
	}
	if err == nil {
		if pw := strings.TrimSpace(string(b)); len(pw) == 64 && isHex(pw) {
			return pw, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("launcher: read clickhouse password: %w", err)
	}
	// Missing or damaged: a new one costs nothing, users.xml is rewritten below.
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("launcher: create clickhouse password: %w", err)
	}
	pw := hex.EncodeToString(raw[:])
	if err := d.writeFile(serverPasswordName, []byte(pw+"\n")); err != nil {
		return "", fmt.Errorf("launcher: create clickhouse password: %w", err)
	}
	return pw, nil
}

// ErrSecretFileMode is returned (wrapped, with the file's name and the command that fixes
// it) when the password file or endpoint.json of the embedded server may be read by
// others than its owner: both hold the ClickHouse password, and are written with mode
// 0600.
var ErrSecretFileMode = errors.New("readable by its group or others")

// readSecretFile reads a file that holds the password, refusing it if its mode gives
// any permission to the group or to others. The mode is checked on the open file, so a
// file swapped between the check and the read cannot slip through.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("launcher: %s holds the clickhouse password and has mode %04o, %w: run chmod 600 %s",
			path, perm, ErrSecretFileMode, path)
	}
	return io.ReadAll(f)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// serverConfigXML is the server configuration; the root element <yandex> is accepted by
// 18.16 and by current versions alike. Only the native and HTTP ports listen, on
// loopback. Arguments: log dir, log dir, tcp port, http port, then the dir five times,
// users file.
const serverConfigXML = `<?xml version="1.0"?>
<!-- Written by tamtam at each start; edits are lost. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/server.log</log>
    <errorlog>%[1]s/err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[4]s/data/</path>
  <tmp_path>%[4]s/tmp/</tmp_path>
  <user_files_path>%[4]s/user_files/</user_files_path>
  <format_schema_path>%[4]s/format_schemas/</format_schema_path>
  <users_config>%[5]s</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  %[6]s
</yandex>
`

// serverUsersXML declares the only user, by the SHA-256 of its password, reachable from
// loopback only. Arguments: user, password SHA-256 hex.
const serverUsersXML = `<?xml version="1.0"?>
<!-- Written by tamtam at each start; edits are lost. -->
<yandex>
  <profiles>
    <default><max_memory_usage>4000000000</max_memory_usage></default>
  </profiles>
  <users>
    <%[1]s>
      <password_sha256_hex>%[2]s</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </%[1]s>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`

func (d serverDir) writeConfig(tcpPort, httpPort int, extra string) error {
	config := fmt.Sprintf(serverConfigXML, xmlText(d.path("log")), tcpPort, httpPort,
		xmlText(string(d)), xmlText(d.path(serverUsersName)), extra)
	if err := d.writeFile(serverConfigName, []byte(config)); err != nil {
		return fmt.Errorf("launcher: write clickhouse config: %w", err)
	}
	return nil
}

func (d serverDir) writeUsers(password string) error {
	sum := sha256.Sum256([]byte(password))
	users := fmt.Sprintf(serverUsersXML, serverUser, hex.EncodeToString(sum[:]))
	if err := d.writeFile(serverUsersName, []byte(users)); err != nil {
		return fmt.Errorf("launcher: write clickhouse users: %w", err)
	}
	return nil
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeFile replaces the named file atomically with mode 0600: temp file, fsync,
// rename, fsync of the directory, so a crash leaves the old file or the new one.
func (d serverDir) writeFile(name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(string(d), "."+name+".*") // CreateTemp uses mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), d.path(name)); err != nil {
		return err
	}
	dir, err := os.Open(string(d))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// openStdoutLog opens the child's stdout/stderr log for appending, starting afresh once
// it grows past 1 MiB: the server writes little there, its own logs rotate.
func openStdoutLog(path string) (*os.File, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if fileSize(path) > 1<<20 {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("launcher: start clickhouse-server: %w", err)
	}
	return f, nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns at most the last 64 KiB of path after offset; from the start if the
// file was rotated meanwhile.
func readFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	size := fileSize(path)
	if size < offset {
		offset = 0
	}
	offset = max(offset, size-64<<10)
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, size-offset))
	return b
}

// serverLogPrefix matches the timestamp, thread and query id that begin a ClickHouse log
// line: "2024.01.02 03:04:05.678901 [ 12 ] {} <Error> ".
var serverLogPrefix = regexp.MustCompile(`^\d{4}\.\d\d\.\d\d \d\d:\d\d:\d\d(\.\d+)? \[ *\d+ *\] \{[^}]*\} <(\w+)> `)

// lastErrorLine picks the line of a server log that explains a failure: the last one at
// level Error or Fatal (current versions follow it with a stack trace), or else the last
// line other than the "Logging … to" banner. It returns a single line.
func lastErrorLine(log []byte) string {
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	last := ""
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if m := serverLogPrefix.FindStringSubmatch(line); m != nil {
			if m[2] == "Error" || m[2] == "Fatal" || m[2] == "Critical" {
				return clip(line[len(m[0]):])
			}
			continue
		}
		if last == "" && line != "" && !strings.HasPrefix(line, "Logging ") {
			last = line
		}
	}
	return clip(last)
}

func clip(s string) string {
	const limit = 300
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}
