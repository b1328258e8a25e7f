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
	e.sessions = NewSessions(key, auth, SessionOptions{Now: e.clock.now})
	pages, err := NewPages(e.sessions, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.router = gin.New()
	e.router.GET("/open", func(c *gin.Context) { e.sessions.Open(c, e.hash); c.Status(http.StatusNoContent) })
	g := e.router.Group("", e.sessions.Require(pages))
	g.GET("/page", func(c *gin.Context) { c.String(http.StatusOK, e.sessions.CSRF(c)) })
	g.POST("/page", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	g.POST("/close", func(c *gin.Context) { e.sessions.Close(c); c.Status(http.StatusNoContent) })
	return e
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

	// A request refreshes the idle deadline; two hours of silence end the session.
	e.clock.add(DefaultIdleTimeout - time.Minute)
	w := e.request("GET", "/page", cookie, "")
	if w.Code != http.StatusOK {
		t.Fatalf("session used before its idle deadline = %d", w.Code)
	}
	refreshed := sessionCookieOf(t, w)
	if refreshed == "" {
		t.Fatal("an old session is not refreshed")
	}
	e.clock.add(DefaultIdleTimeout - time.Minute)
	if w := e.request("GET", "/page", cookie, ""); w.Code != http.StatusSeeOther {
		t.Errorf("the cookie before the refresh, past its idle deadline = %d, want 303 to sign in", w.Code)
	}
	if w := e.request("GET", "/page", refreshed, ""); w.Code != http.StatusOK {
		t.Errorf("the refreshed cookie = %d, want 200", w.Code)
	}

	// Whatever the use, twelve hours after sign-in the session ends.
	for e.clock.now().Before(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Add(DefaultMaxAge)) {
		w := e.request("GET", "/page", refreshed, "")
		if w.Code != http.StatusOK {
			t.Fatalf("session in use at %v = %d", e.clock.now(), w.Code)
		}
		if c := sessionCookieOf(t, w); c != "" {
			refreshed = c
		}
		e.clock.add(time.Hour)
	}
	if w := e.request("GET", "/page", refreshed, ""); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
		t.Errorf("session past its maximum age = %d to %q, want 303 to sign in", w.Code, w.Header().Get("Location"))
	}
}

func TestSessionTampering(t *testing.T) {
	e := newSessionEnv(t)
	cookie := sessionCookieOf(t, e.request("GET", "/open", "", ""))
	payload, sig, _ := strings.Cut(cookie, ".")
	other := newSessionEnv(t) // another key
	foreign := sessionCookieOf(t, other.request("GET", "/open", "", ""))
	for name, c := range map[string]string{
		"no signature":      payload,
		"another signature": payload + "." + strings.Repeat("A", len(sig)),
		"another key":       foreign,
		"garbage":           "v1|x|y",
	} {
		if w := e.request("GET", "/page", c, ""); w.Code != http.StatusSeeOther {
			t.Errorf("%s: GET = %d, want 303 to sign in", name, w.Code)
		}
		if w := e.request("POST", "/page", c, "csrf=x"); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: POST = %d, want 401", name, w.Code)
		}
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
