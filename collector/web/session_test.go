package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
)

// tokens is an in-memory token table: these tests are about the session logic, the
// storage of tokens is tested against ClickHouse in packages queries and cmd/tamtam.
type tokens struct {
	mu sync.Mutex
	m  map[string]collector.Token
}

func (s *tokens) CreateToken(_ context.Context, t collector.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[t.Hash] = t
	return nil
}

func (s *tokens) TokenByHash(_ context.Context, hash string) (collector.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[hash]
	if !ok {
		return collector.Token{}, collector.ErrNoToken
	}
	return t, nil
}

func (s *tokens) TokenUsage(context.Context, map[string]time.Time) error { return nil }

// sessionTable is an in-memory session table (the ClickHouse one is tested in package
// queries, and sign-out across a restart in cmd/tamtam). hang makes every call wait for
// its context: a store that does not answer.
type sessionTable struct {
	mu      sync.Mutex
	m       map[string]collector.Session
	hang    bool
	lookups int
}

func (s *sessionTable) SaveSession(ctx context.Context, st collector.Session) error {
	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[st.IDHash]; ok && old.Ended {
		return nil // ending is final
	}
	s.m[st.IDHash] = st
	return nil
}

func (s *sessionTable) SessionByHash(ctx context.Context, h string) (collector.Session, error) {
	s.mu.Lock()
	hang := s.hang
	s.lookups++
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return collector.Session{}, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[h]
	if !ok {
		return collector.Session{}, collector.ErrNoSession
	}
	return st, nil
}

func (s *sessionTable) setHang(h bool) { s.mu.Lock(); s.hang = h; s.mu.Unlock() }

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type sessionEnv struct {
	store    *tokens
	table    *sessionTable
	key      []byte
	auth     *collector.Authenticator
	clock    *clock
	sessions *Sessions
	router   *gin.Engine
	hash     string
}

func newSessionEnv(t *testing.T) *sessionEnv {
	gin.SetMode(gin.TestMode)
	e := &sessionEnv{store: &tokens{m: map[string]collector.Token{}}, clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}
	_, hash, err := collector.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	e.hash = hash
	e.store.m[hash] = collector.Token{Hash: hash, Role: collector.RoleIntake, Sites: []string{"haren"}}
	// A one-second cache: the tests move the clock past it to see revocations.
	auth := collector.NewAuthenticator(e.store, time.Second, e.clock.now)
	t.Cleanup(func() { auth.Close() })
	key, err := LoadSessionKey(filepath.Join(t.TempDir(), "session.key"))
	if err != nil {
		t.Fatal(err)
	}
	e.table, e.key, e.auth = &sessionTable{m: map[string]collector.Session{}}, key, auth
	e.sessions = NewSessions(key, e.table, auth, SessionOptions{Now: e.clock.now})
	e.router = e.routes(t, e.sessions)
	return e
}

// routes serves the test pages with sessions, as a server of its own would.
func (e *sessionEnv) routes(t *testing.T, sessions *Sessions) *gin.Engine {
	pages, err := NewPages(sessions, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.GET("/open", func(c *gin.Context) {
		if err := sessions.Open(c, e.hash); err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	g := r.Group("", pages.Middleware(), sessions.Require())
	g.GET("/page", func(c *gin.Context) { c.String(http.StatusOK, sessions.CSRF(c)) })
	g.POST("/page", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	g.POST("/close", func(c *gin.Context) {
		if err := sessions.Close(c); err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	return r
}

// request sends a request with the cookie and returns the recorder.
func (e *sessionEnv) request(method, path, cookie string, form string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(form))
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	}
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w
}

func sessionCookieOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

func TestSessionLifetimes(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusOK {
		t.Fatalf("fresh session = %d, want 200", w.Code)
	}

	// A request moves the idle deadline on, in the store: two hours of silence end the
	// session, two hours of use do not.
	e.clock.add(DefaultIdleTimeout - time.Minute)
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusOK {
		t.Fatalf("session used before its idle deadline = %d", w.Code)
	}
	e.clock.add(DefaultIdleTimeout - time.Minute)
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusOK {
		t.Errorf("session used again before its new idle deadline = %d, want 200", w.Code)
	}
	other := newSessionEnv(t)
	idle := sessionCookieOf(t, other.request("GET", "/open", "", ""))
	other.clock.add(DefaultIdleTimeout + time.Second)
	if w := other.request("GET", "/page", idle, ""); w.Code != http.StatusSeeOther {
		t.Errorf("session idle for longer than the idle timeout = %d, want 303 to sign in", w.Code)
	}

	// Whatever the use, twelve hours after sign-in the session ends.
	signIn := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for e.clock.now().Before(signIn.Add(DefaultMaxAge)) {
		if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusOK {
			t.Fatalf("session in use at %v = %d", e.clock.now(), w.Code)
		}
		e.clock.add(time.Hour)
	}
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
		t.Errorf("session past its maximum age = %d to %q, want 303 to sign in", w.Code, w.Header().Get("Location"))
	}
}

// TestSessionForgery is the attacker who copied the data directory: the session key and
// the sessions table (hashes of session ids, token hashes) open no session, and neither
// do made-up or foreign cookies.
func TestSessionForgery(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	if len(e.table.m) != 1 {
		t.Fatalf("%d stored sessions, want 1", len(e.table.m))
	}
	var stored collector.Session
	for _, st := range e.table.m {
		stored = st
	}
	if stored.IDHash == cookie || strings.Contains(stored.IDHash+stored.TokenHash, cookie) {
		t.Fatal("the store holds the session id itself")
	}
	other := newSessionEnv(t) // another server with its own store and key
	foreign := sessionCookieOf(t, other.request("GET", "/open", "", ""))
	forged := b64.EncodeToString(e.sessions.mac("session", stored.TokenHash)) // what the old scheme signed
	for name, c := range map[string]string{
		"stored id hash":  stored.IDHash,
		"token hash":      stored.TokenHash,
		"signed by key":   forged,
		"another server":  foreign,
		"garbage":         "v1|x|y",
		"unknown 32-byte": b64.EncodeToString(make([]byte, 32)),
	} {
		if w := e.request("GET", "/page", c, ""); w.Code != http.StatusSeeOther {
			t.Errorf("%s: GET = %d, want 303 to sign in", name, w.Code)
		}
		if w := e.request("POST", "/page", c, "csrf=x"); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: POST = %d, want 401", name, w.Code)
		}
	}
}

// TestSignOutHoldsEverywhere: a sign-out is in the store, so a restarted server (or a
// second one) refuses the cookie too, and an ended session cannot be revived.
func TestSignOutHoldsEverywhere(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	csrf := e.request("GET", "/page", cookie, "").Body.String()
	second := NewSessions(e.key, e.table, e.auth, SessionOptions{Now: e.clock.now})
	r2 := e.routes(t, second)
	get := func(r *gin.Engine) int {
		req := httptest.NewRequest("GET", "/page", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	if code := get(r2); code != http.StatusOK {
		t.Fatalf("the session on a second server = %d, want 200", code)
	}
	if w := e.request("POST", "/close", cookie, "csrf="+csrf); w.Code != http.StatusNoContent {
		t.Fatalf("sign-out = %d", w.Code)
	}
	e.clock.add(11 * time.Second) // past the second server's cache
	if code := get(r2); code != http.StatusSeeOther {
		t.Errorf("a signed-out session on a second server = %d, want 303", code)
	}
	restarted := e.routes(t, NewSessions(e.key, e.table, e.auth, SessionOptions{Now: e.clock.now}))
	if code := get(restarted); code != http.StatusSeeOther {
		t.Errorf("a signed-out session after a restart = %d, want 303", code)
	}
	// A refresh of the idle deadline racing the sign-out does not revive it.
	for _, st := range e.table.m {
		st.Ended, st.Seen = false, e.clock.now()
		e.table.SaveSession(context.Background(), st)
	}
	if code := get(e.routes(t, NewSessions(e.key, e.table, e.auth, SessionOptions{Now: e.clock.now}))); code != http.StatusSeeOther {
		t.Errorf("an ended session written again = %d, want 303", code)
	}
}

// TestSessionStoreHung: a store that does not answer neither hangs a page nor ends the
// sessions known a moment ago; an unknown session gets 503, and a sign-out that cannot
// be recorded says so.
func TestSessionStoreHung(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	csrf := e.request("GET", "/page", cookie, "").Body.String()
	e.table.setHang(true)
	e.clock.add(time.Minute) // past the cache
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusOK {
		t.Errorf("a known session while the store hangs = %d, want 200", w.Code)
	}
	// An outage longer than the idle timeout does not end a session in use: its new
	// idle deadline is kept here while the store does not take it.
	for range 3 {
		e.clock.add(time.Hour)
		if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusOK {
			t.Fatalf("a session in use %v into the outage = %d, want 200", e.clock.now().Sub(time.Date(2026, 3, 2, 9, 1, 0, 0, time.UTC)), w.Code)
		}
	}
	if w := e.request("GET", "/page", b64.EncodeToString(make([]byte, 32)), ""); w.Code != http.StatusServiceUnavailable {
		t.Errorf("an unknown session while the store hangs = %d, want 503", w.Code)
	}
	if w := e.request("GET", "/open", "", ""); w.Code != http.StatusServiceUnavailable || sessionCookieOf(t, w) != "" {
		t.Errorf("sign-in while the store hangs = %d (cookie %q), want 503 and no cookie", w.Code, sessionCookieOf(t, w))
	}
	if w := e.request("POST", "/close", cookie, "csrf="+csrf); w.Code != http.StatusServiceUnavailable {
		t.Errorf("sign-out while the store hangs = %d, want 503 (not recorded)", w.Code)
	}
}

func TestSessionCSRFAndClose(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	csrf := e.request("GET", "/page", cookie, "").Body.String()
	second := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	otherCSRF := e.request("GET", "/page", second, "").Body.String()
	if csrf == "" || csrf == otherCSRF {
		t.Fatalf("CSRF tokens %q and %q: want one per session", csrf, otherCSRF)
	}
	for form, want := range map[string]int{
		"":                   http.StatusForbidden,
		"csrf=" + otherCSRF:  http.StatusForbidden,
		"csrf=" + csrf + "x": http.StatusForbidden,
		"csrf=" + csrf:       http.StatusNoContent,
	} {
		if w := e.request("POST", "/page", cookie, form); w.Code != want {
			t.Errorf("POST with %q = %d, want %d", form, w.Code, want)
		}
	}
	// Closing one session leaves the other open.
	if w := e.request("POST", "/close", cookie, "csrf="+csrf); w.Code != http.StatusNoContent {
		t.Fatalf("close = %d", w.Code)
	}
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusSeeOther {
		t.Errorf("closed session = %d, want 303", w.Code)
	}
	if w := e.request("GET", "/page", second, ""); w.Code != http.StatusOK {
		t.Errorf("the other session = %d, want 200", w.Code)
	}
}

func TestSessionEndsWithToken(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	tok := e.store.m[e.hash]
	tok.Revoked = true
	e.store.CreateToken(context.Background(), tok)
	e.clock.add(2 * time.Second) // past the authenticator's cache
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusSeeOther {
		t.Errorf("session of a revoked token = %d, want 303 to sign in", w.Code)
	}
}

func TestLoadSessionKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "session.key")
	k1, err := LoadSessionKey(path)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("new key file mode %v, want 0600", info.Mode().Perm())
	}
	k2, err := LoadSessionKey(path)
	if err != nil || string(k1) != string(k2) || len(k1) != 32 {
		t.Errorf("reloaded key differs or has %d bytes (%v)", len(k2), err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadSessionKey(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("LoadSessionKey(0644 file) = %v, want a refusal", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("short\n"), 0o600)
	if _, err := LoadSessionKey(path); err == nil {
		t.Errorf("LoadSessionKey(malformed) = nil error")
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/forms/entry?lang=nl":   "/forms/entry?lang=nl",
		"/reports":               "/reports",
		"//evil.example/x":       "",
		"https://evil.example/x": "",
		"/\\evil.example":        "",
		"forms":                  "",
		"":                       "",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionCookieSecureBehindProxy(t *testing.T) {
	e := newSessionEnv(t)
	for proto, want := range map[string]bool{"": false, "http": false, "https": true} {
		req := httptest.NewRequest("GET", "/open", nil)
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		w := httptest.NewRecorder()
		e.router.ServeHTTP(w, req)
		for _, c := range w.Result().Cookies() {
			if c.Name == sessionCookie && c.Secure != want {
				t.Errorf("X-Forwarded-Proto %q: Secure = %v, want %v", proto, c.Secure, want)
			}
		}
	}
}

// TestUnknownSessionCookiesLimited: random session cookies from one address each cost a
// store lookup only up to the address's allowance; the sessions the server knows, and
// other addresses, are not held back.
func TestUnknownSessionCookiesLimited(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	e.table.mu.Lock()
	before := e.table.lookups
	e.table.mu.Unlock()
	for i := range 100 {
		var b [32]byte
		b[0], b[1] = byte(i), 1
		if w := e.request("GET", "/page", b64.EncodeToString(b[:]), ""); w.Code != http.StatusSeeOther {
			t.Fatalf("unknown cookie %d = %d, want 303", i, w.Code)
		}
	}
	e.table.mu.Lock()
	looked := e.table.lookups - before
	e.table.mu.Unlock()
	if looked != maxUnknownSessions {
		t.Errorf("100 unknown cookies cost %d store lookups, want %d", looked, maxUnknownSessions)
	}
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusOK {
		t.Errorf("a known session from the same address = %d, want 200", w.Code)
	}
	e.clock.add(time.Minute) // the allowance comes back
	var b [32]byte
	if w := e.request("GET", "/page", b64.EncodeToString(b[:]), ""); w.Code != http.StatusSeeOther {
		t.Errorf("unknown cookie after a minute = %d", w.Code)
	}
	e.table.mu.Lock()
	if e.table.lookups-before != maxUnknownSessions+1 {
		t.Errorf("after a minute the store was not asked again")
	}
	e.table.mu.Unlock()
}
