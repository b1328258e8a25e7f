package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// tokenStore is a TokenStore in memory that can be made to hang, as a ClickHouse stopped
// with SIGSTOP does: TokenByHash then blocks until resume, whatever its context says.
type tokenStore struct {
	mu      sync.Mutex
	tokens  map[string]Token
	stalled chan struct{} // non-nil while hanging; closed by resume
	lookups atomic.Int64
}

func newTokenStore(tokens ...Token) *tokenStore {
	s := &tokenStore{tokens: map[string]Token{}}
	for _, t := range tokens {
		s.tokens[t.Hash] = t
	}
	return s
}

func (s *tokenStore) TokenByHash(_ context.Context, hash string) (Token, error) {
	s.lookups.Add(1)
	s.mu.Lock()
	stalled := s.stalled
	s.mu.Unlock()
	if stalled != nil {
		<-stalled
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[hash]
	if !ok {
		return Token{}, ErrNoToken
	}
	return t, nil
}

func (s *tokenStore) CreateToken(_ context.Context, t Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[t.Hash] = t
	return nil
}

func (s *tokenStore) TokenUsage(context.Context, map[string]time.Time) error { return nil }

// stall makes TokenByHash hang until the function it returns is called (at the latest
// when the test ends).
func (s *tokenStore) stall(t *testing.T) (resume func()) {
	s.mu.Lock()
	ch := make(chan struct{})
	s.stalled = ch
	s.mu.Unlock()
	var once sync.Once
	resume = func() {
		once.Do(func() {
			s.mu.Lock()
			s.stalled = nil
			s.mu.Unlock()
			close(ch)
		})
	}
	t.Cleanup(resume)
	return resume
}

func (s *tokenStore) revoke(hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[hash]
	t.Revoked = true
	s.tokens[hash] = t
}

// clock is a fake clock, safe for the authenticator's goroutines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func intakeToken(bearer string) Token {
	return Token{Hash: HashToken(bearer), Role: RoleIntake, Sites: []string{"haren"}}
}

// settle waits until the store lookups in flight have ended and been cached.
func settle(t *testing.T, a *Authenticator) {
	t.Helper()
	a.mu.Lock()
	var pending []*lookup
	for _, l := range a.inflight {
		pending = append(pending, l)
	}
	a.mu.Unlock()
	for _, l := range pending {
		select {
		case <-l.done:
		case <-time.After(10 * time.Second):
			t.Fatal("a token lookup did not end after the store resumed")
		}
	}
}

// The bound of a request's wait for the store, and what the tests allow for it: a
// generous margin over the bound, far below a hang.
const (
	testLookupWait = 50 * time.Millisecond
	prompt         = 2 * time.Second
)

func TestAuthenticatorStalledStore(t *testing.T) {
	clk := &clock{now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	store := newTokenStore(intakeToken("tt_known"), intakeToken("tt_revoked"))
	a := NewAuthenticatorWith(store, AuthOptions{TTL: 10 * time.Second, LookupWait: testLookupWait, Now: clk.Now})
	defer a.Close()
	ctx := t.Context()
	for _, bearer := range []string{"tt_known", "tt_revoked"} {
		if _, err := a.Authenticate(ctx, bearer); err != nil {
			t.Fatalf("Authenticate(%s) before the stall = %v, want ok", bearer, err)
		}
	}

	resume := store.stall(t)
	clk.Add(11 * time.Second) // past the TTL: the cached state is due for a refresh
	for i := range 100 {
		began := time.Now()
		p, err := a.Authenticate(ctx, "tt_known")
		if took := time.Since(began); err != nil || took > prompt {
			t.Fatalf("Authenticate(known) #%d with the store hanging = %+v, %v after %s; want its principal promptly", i, p, err, took)
		}
	}
	if n := store.lookups.Load(); n != 3 {
		t.Errorf("store lookups = %d, want 3: one per token before the stall, one refresh shared by the requests after", n)
	}

	began := time.Now()
	_, err := a.Authenticate(ctx, "tt_unknown")
	if took := time.Since(began); ErrorCode(err) != CodeUnavailable || took > prompt {
		t.Errorf("Authenticate(unknown) with the store hanging = %v after %s, want CodeUnavailable within %s", err, took, prompt)
	}
	// Through the middleware: 503 with Retry-After.
	r := gin.New()
	r.GET("/", a.RequireToken(), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer tt_other_unknown")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("GET with an unknown token, the store hanging = %d Retry-After %q, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}

	// Expiry is checked against the clock on every request, the store hanging or not.
	store.mu.Lock()
	exp := intakeToken("tt_expiring")
	exp.ExpiresAt = clk.Now().Add(time.Minute)
	store.tokens[exp.Hash] = exp
	store.mu.Unlock()

	// Revocation takes effect within the TTL of the store answering again.
	store.revoke(HashToken("tt_revoked"))
	resume()
	settle(t, a)
	clk.Add(11 * time.Second)
	if _, err := a.Authenticate(ctx, "tt_revoked"); ErrorCode(err) != CodeUnauthorized {
		t.Errorf("Authenticate(revoked) a TTL after the store resumed = %v, want CodeUnauthorized", err)
	}
	if _, err := a.Authenticate(ctx, "tt_known"); err != nil {
		t.Errorf("Authenticate(known) after the store resumed = %v, want ok", err)
	}
	if _, err := a.Authenticate(ctx, "tt_expiring"); err != nil {
		t.Fatalf("Authenticate(expiring) = %v, want ok", err)
	}
	resume = store.stall(t)
	defer resume()
	clk.Add(time.Minute)
	if _, err := a.Authenticate(ctx, "tt_expiring"); ErrorCode(err) != CodeUnauthorized {
		t.Errorf("Authenticate(expired) with the store hanging = %v, want CodeUnauthorized", err)
	}
}

func TestAuthenticatorFloodKeepsKnownTokens(t *testing.T) {
	clk := &clock{now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	store := newTokenStore(intakeToken("tt_live"))
	a := NewAuthenticatorWith(store, AuthOptions{TTL: time.Hour, Now: clk.Now})
	defer a.Close()
	ctx := t.Context()
	if _, err := a.Authenticate(ctx, "tt_live"); err != nil {
		t.Fatalf("Authenticate(live) = %v, want ok", err)
	}
	for i := range 20_000 {
		if _, err := a.Authenticate(ctx, fmt.Sprintf("tt_random_%d", i)); ErrorCode(err) != CodeUnauthorized {
			t.Fatalf("Authenticate(random #%d) = %v, want CodeUnauthorized", i, err)
		}
	}
	before := store.lookups.Load()
	if _, err := a.Authenticate(ctx, "tt_live"); err != nil {
		t.Errorf("Authenticate(live) after a flood of 20000 unknown tokens = %v, want ok", err)
	}
	if n := store.lookups.Load() - before; n != 0 {
		t.Errorf("store lookups for the live token after the flood = %d, want 0: the flood evicted it", n)
	}
	a.mu.Lock()
	missing := a.missing.Len()
	a.mu.Unlock()
	if missing > maxMissingTokens {
		t.Errorf("unknown hashes cached = %d, want at most %d", missing, maxMissingTokens)
	}
	// The newest unknown hash is among those kept, so a repeated one costs no lookup.
	before = store.lookups.Load()
	a.Authenticate(ctx, "tt_random_19999")
	if n := store.lookups.Load() - before; n != 0 {
		t.Errorf("store lookups for a just refused token = %d, want 0", n)
	}
}

func TestRequireTokenLimitsFailures(t *testing.T) {
	clk := &clock{now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	store := newTokenStore(intakeToken("tt_live"))
	a := NewAuthenticatorWith(store, AuthOptions{TTL: time.Hour, MaxFailures: 5, Now: clk.Now})
	defer a.Close()
	r := gin.New()
	r.GET("/", a.RequireToken(), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	n := 0
	get := func(addr, bearer string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = addr
		if bearer == "" {
			n++
			bearer = fmt.Sprintf("tt_guess_%d", n)
		}
		req.Header.Set("Authorization", "Bearer "+bearer)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	const attacker = "192.0.2.1:40000"
	if w := get(attacker, "tt_live"); w.Code != http.StatusNoContent {
		t.Fatalf("GET with a live token = %d, want 204", w.Code)
	}
	for i := range 5 {
		if w := get(attacker, ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("GET with unknown token #%d = %d, want 401", i+1, w.Code)
		}
	}
	lookups := store.lookups.Load()
	w := get(attacker, "")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("GET with a 6th unknown token = %d Retry-After %q, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if got := store.lookups.Load() - lookups; got != 0 {
		t.Errorf("store lookups for a limited address = %d, want 0", got)
	}
	// A known token costs the store nothing: it still works from the limited address.
	if w := get(attacker, "tt_live"); w.Code != http.StatusNoContent {
		t.Errorf("GET with a live token from the limited address = %d, want 204", w.Code)
	}
	for _, other := range []string{"192.0.2.2:40000", "[2001:db8::1]:40000"} {
		if w := get(other, ""); w.Code != http.StatusUnauthorized {
			t.Errorf("GET with an unknown token from %s = %d, want 401: addresses do not share a limit", other, w.Code)
		}
	}
	// The addresses of one IPv6 /64 share a limit: a host has them all.
	for i := range 5 {
		get(fmt.Sprintf("[2001:db8:0:1::%x]:40000", i+1), "")
	}
	if w := get("[2001:db8:0:1::ff]:40000", ""); w.Code != http.StatusTooManyRequests {
		t.Errorf("GET with a 6th unknown token from one /64 = %d, want 429", w.Code)
	}
	// The allowance comes back with time.
	clk.Add(time.Minute)
	if w := get(attacker, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("GET with an unknown token a minute later = %d, want 401", w.Code)
	}
}

func TestAddressKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:0:1:aaaa:bbbb:cccc:dddd", "2001:db8:0:1::/64"},
		{"not an address", "not an address"},
	} {
		if got := AddressKey(tc.in); got != tc.want {
			t.Errorf("AddressKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
