package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
)

// Cookie names. The session cookie is the only credential of the pages; the login cookie
// only ties the sign-in form to the browser that loaded it (CSRF before a session exists).
const (
	sessionCookie = "tamtam_session"
	loginCookie   = "tamtam_login"
	langCookie    = "tamtam_lang"
)

// Session lifetimes: a session ends after IdleTimeout without a request, and in any case
// MaxAge after sign-in (a working day), whichever comes first.
const (
	DefaultIdleTimeout = 2 * time.Hour
	DefaultMaxAge      = 12 * time.Hour
	// refreshAfter is how old the last refresh of a cookie may be before a request
	// rewrites it with a new idle deadline.
	refreshAfter = 5 * time.Minute
)

// session is the session of a request: its id (from the cookie, never stored) and its
// stored state.
type session struct {
	ID string
	collector.Session
}

// Sessions issues and checks the sessions of the web pages. They are server-side: the
// cookie holds a random id, the store (ClickHouse) the hash of that id with the token
// the session was opened with and its lifetimes, so that a sign-out holds after a
// restart and on every server sharing the store, and nothing in the data directory
// forges a session. Every request authenticates the session's token again (through the
// [collector.Authenticator] cache), so revoking or expiring a token ends its sessions
// within the cache TTL. Sessions are cached for a few seconds as tokens are: another
// server sees a sign-out within that time, and a store that does not answer does not
// end the sessions it knew.
type Sessions struct {
	key    []byte // signs CSRF tokens and the sign-in form's nonce
	store  collector.SessionStore
	auth   *collector.Authenticator
	now    func() time.Time
	idle   time.Duration
	maxAge time.Duration
	ttl    time.Duration
	secure bool

	// unknown limits, per client address, the cookies the store did not know: each costs
	// a lookup, as a random bearer token does (see [collector.AuthOptions.MaxFailures]).
	unknown *collector.RateLimiter

	mu    sync.Mutex
	cache map[string]cachedSession // by id hash
}

// maxUnknownSessions is how many unknown session cookies an address may present in a
// burst, refilling at that many a minute; after that they are refused without a lookup.
const maxUnknownSessions = 30

type cachedSession struct {
	s     collector.Session
	until time.Time // when to ask the store again
}

// SessionOptions configures [NewSessions].
type SessionOptions struct {
	IdleTimeout time.Duration    // 0: DefaultIdleTimeout
	MaxAge      time.Duration    // 0: DefaultMaxAge
	CacheTTL    time.Duration    // how long a session's state is cached (0: 10 s)
	Secure      bool             // set the Secure attribute: tamtam serves TLS itself
	Now         func() time.Time // nil: time.Now
}

// NewSessions returns the session manager keeping its sessions in store, with key (see
// [LoadSessionKey]) for the CSRF tokens.
func NewSessions(key []byte, store collector.SessionStore, auth *collector.Authenticator, opts SessionOptions) *Sessions {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sessions{key: key, store: store, auth: auth, now: opts.Now, idle: opts.IdleTimeout, maxAge: opts.MaxAge,
		ttl: opts.CacheTTL, secure: opts.Secure, cache: map[string]cachedSession{},
		unknown: collector.NewBurstLimiter(maxUnknownSessions/60.0, maxUnknownSessions, opts.Now)}
}

// storeTimeout bounds every session lookup and write: a hung store gives a 503 page,
// never a hung request.
const storeTimeout = 2 * time.Second

// maxCachedSessions bounds the cache; expired entries go first when it is full.
const maxCachedSessions = 10_000

// sessionKeyLen is the length of the signing key: 256 bits for HMAC-SHA256.
const sessionKeyLen = 32

// LoadSessionKey reads the key of the CSRF tokens at path, creating it (mode 0600) on
// first use. It refuses a key file that group or others may read: whoever reads it can
// make the CSRF token of a session whose id they hold.
func LoadSessionKey(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, sessionKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("web: session key: %w", err)
		}
		if err := collector.WriteFileAtomic(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("web: session key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("web: session key: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("web: session key %s is readable by others (mode %04o): chmod 600 it", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("web: session key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != sessionKeyLen {
		return nil, fmt.Errorf("web: session key %s is not %d hex-encoded bytes", path, sessionKeyLen)
	}
	return key, nil
}

// mac signs msg in the given domain, so that a signature of one kind (the sign-in
// form's nonce) can never be replayed as another (a CSRF token).
func (s *Sessions) mac(domain, msg string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write([]byte(msg))
	return h.Sum(nil)
}

var b64 = base64.RawURLEncoding

// errNoSession is the outcome of a request without a valid session.
var errNoSession = errors.New("web: no valid session")

// lookup returns the state of the session whose id has the given hash: from the cache,
// or from the store within storeTimeout. When the store does not answer, a session known
// a moment ago goes on (as a token does: intake workers keep working into the spool);
// an unknown one gets CodeUnavailable.
func (s *Sessions) lookup(ctx context.Context, idHash, addr string, now time.Time) (collector.Session, error) {
	s.mu.Lock()
	cs, ok := s.cache[idHash]
	s.mu.Unlock()
	if ok && now.Before(cs.until) {
		return cs.s, nil
	}
	if allowed, _ := s.unknown.Check(addr); !ok && !allowed {
		return collector.Session{}, errNoSession // too many unknown cookies from there
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	st, err := s.store.SessionByHash(ctx, idHash)
	switch {
	case errors.Is(err, collector.ErrNoSession):
		s.unknown.Allow(addr) // spends one of the address's unknown cookies
		return collector.Session{}, errNoSession
	case err != nil && ok:
		st = cs.s
	case err != nil:
		return collector.Session{}, &collector.Error{Code: collector.CodeUnavailable, Message: "cannot check the session now; retry later", Err: err}
	}
	s.remember(st, now)
	return st, nil
}

// remember caches the state of a session.
func (s *Sessions) remember(st collector.Session, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCachedSessions {
		for h, cs := range s.cache {
			if !now.Before(cs.until) {
				delete(s.cache, h)
			}
		}
		if len(s.cache) >= maxCachedSessions {
			clear(s.cache) // only live sessions: they are read again from the store
		}
	}
	if old, ok := s.cache[st.IDHash]; ok && old.s.Ended && !st.Ended {
		st = old.s // a refresh racing a sign-out does not revive the session here either
	}
	s.cache[st.IDHash] = cachedSession{s: st, until: now.Add(s.ttl)}
}

// save writes the state of a session within storeTimeout and caches it, even when the
// store does not take it: during an outage this server goes on with what it knows (a
// refreshed idle deadline, a sign-out), and the next write brings the store up to date.
func (s *Sessions) save(ctx context.Context, st collector.Session) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	err := s.store.SaveSession(ctx, st)
	s.remember(st, s.now())
	if err != nil {
		return &collector.Error{Code: collector.CodeUnavailable, Message: "cannot record the session now; retry later", Err: err}
	}
	return nil
}

// live reports whether a stored session may still be used at now.
func (s *Sessions) live(st collector.Session, now time.Time) bool {
	return !st.Ended && now.Before(st.Issued.Add(s.maxAge)) && now.Before(st.Seen.Add(s.idle)) &&
		!st.Issued.After(now.Add(time.Minute))
}

// Open starts a session for the token with the given hash, records it and sets its
// cookie. It fails (CodeUnavailable) when the store cannot record it.
func (s *Sessions) Open(c *gin.Context, tokenHash string) error {
	now := s.now()
	id := randomSessionID()
	st := collector.Session{IDHash: collector.HashSessionID(id), TokenHash: tokenHash, Issued: now, Seen: now}
	if err := s.save(c.Request.Context(), st); err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: id, Path: "/",
		Expires: st.Issued.Add(s.maxAge), HttpOnly: true, Secure: s.secureFor(c), SameSite: http.SameSiteStrictMode})
	return nil
}

// secureFor reports whether the cookies of the request must be Secure: tamtam serves TLS
// itself, or a reverse proxy in front of it says the browser came over HTTPS. The header
// can only make a cookie stricter, so it needs no trust: a forged one costs the forger
// their own session.
func (s *Sessions) secureFor(c *gin.Context) bool {
	return s.secure || c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

// Close ends the request's session, if any, in the store, and clears its cookie. The
// cookie is cleared even when the store cannot record the end; the error then says the
// session may still be open elsewhere (whoever holds a copy of the cookie).
func (s *Sessions) Close(c *gin.Context) error {
	var err error
	if ss, cerr := s.current(c); cerr == nil {
		ss.Ended = true
		err = s.save(c.Request.Context(), ss.Session)
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureFor(c), SameSite: http.SameSiteStrictMode})
	return err
}

// current returns the request's session: errNoSession without a live one, or
// CodeUnavailable when the store cannot tell.
func (s *Sessions) current(c *gin.Context) (session, error) {
	id, err := c.Cookie(sessionCookie)
	if err != nil || !validSessionID(id) {
		return session{}, errNoSession
	}
	now := s.now()
	st, err := s.lookup(c.Request.Context(), collector.HashSessionID(id), collector.AddressKey(c.ClientIP()), now)
	if err != nil {
		return session{}, err
	}
	if !s.live(st, now) {
		return session{}, errNoSession
	}
	return session{ID: id, Session: st}, nil
}

const sessionKey = "tamtam.session"

// Require is middleware for the pages: it authenticates the session cookie, refreshes
// it, and stores the principal for [collector.PrincipalOf]. Without a valid session a GET
// is redirected to the sign-in page (coming back afterwards); anything else gets 401.
// A principal whose role is not in roles gets 403. Any other method than GET and HEAD
// then has its form read (at most [MaxFormBytes]) and its CSRF token (the form's csrf
// field or the X-CSRF-Token header) checked against the session. Errors are answered
// through [collector.AbortWithError]: as the error page behind [Pages.Middleware].
func (s *Sessions) Require(roles ...collector.Role) gin.HandlerFunc {
	return s.RequireForm(MaxFormBytes, roles...)
}

// MaxFormBytes is the largest form [Sessions.Require] reads: a questionnaire is under
// 4 KiB.
const MaxFormBytes = 64 << 10

// RequireForm is [Sessions.Require] for forms of up to limit bytes.
func (s *Sessions) RequireForm(limit int64, roles ...collector.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.authenticate(c, roles) {
			s.checkForm(c, limit)
		}
	}
}

// Authenticate is the first half of [Sessions.Require]: the session and the role. It
// checks no CSRF token: on any other method than GET and HEAD, follow it with
// [Sessions.Form] (a route may put a step between the two, such as a limit on
// concurrent uploads, so that a body is read only for a valid session).
func (s *Sessions) Authenticate(roles ...collector.Role) gin.HandlerFunc {
	return func(c *gin.Context) { s.authenticate(c, roles) }
}

// Form is the second half of [Sessions.Require], after [Sessions.Authenticate]: on any
// other method than GET and HEAD it reads the form (at most limit bytes) and checks its
// CSRF token against the session.
func (s *Sessions) Form(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) { s.checkForm(c, limit) }
}

// checkForm reads the form of a request that changes something and checks its CSRF
// token, answering the request itself (and reporting false) when either fails. Each
// step that fails aborts the request, so the handlers after it do not run.
func (s *Sessions) checkForm(c *gin.Context, limit int64) bool {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		return true
	}
	v, ok := c.Get(sessionKey)
	if !ok {
		collector.AbortWithError(c, nil, collector.NewError(collector.CodeUnauthorized, "session_expired"))
		return false
	}
	if err := readForm(c, limit); err != nil {
		collector.AbortWithError(c, nil, err)
		return false
	}
	if !s.validCSRF(v.(session), c) {
		collector.AbortWithError(c, nil, collector.NewError(collector.CodeForbidden, "csrf"))
		return false
	}
	return true
}

// authenticate checks the session of the request and the role of its principal,
// answering the request itself (and reporting false) when either fails.
func (s *Sessions) authenticate(c *gin.Context, roles []collector.Role) bool {
	ss, err := s.current(c)
	if err != nil {
		if collector.ErrorCode(err) == collector.CodeUnavailable {
			collector.AbortWithError(c, nil, storeUnavailable(err))
			return false
		}
		s.signInFirst(c)
		return false
	}
	pr, err := s.auth.AuthenticateHash(c.Request.Context(), ss.TokenHash)
	if err != nil {
		if collector.ErrorCode(err) == collector.CodeUnavailable {
			collector.AbortWithError(c, nil, storeUnavailable(err))
			return false
		}
		// Revoked or expired since sign-in: the session ends with its token (which
		// no longer opens anything, so a failure to record the end changes nothing).
		_ = s.Close(c)
		s.signInFirst(c)
		return false
	}
	if now := s.now(); now.Sub(ss.Seen) > refreshAfter {
		// The idle deadline moves on. A failed write costs at most an early end of
		// the session on another server; the request goes on.
		ss.Seen = now
		_ = s.save(c.Request.Context(), ss.Session)
	}
	collector.SetPrincipal(c, pr)
	c.Set(sessionKey, ss)
	if len(roles) > 0 && !roleIn(pr.Role, roles) {
		collector.AbortWithError(c, nil, collector.NewError(collector.CodeForbidden, "forbidden_role"))
		return false
	}
	return true
}

func roleIn(r collector.Role, roles []collector.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// storeUnavailable is the answer to a session or token the store cannot check now.
func storeUnavailable(err error) *collector.Error {
	return &collector.Error{Code: collector.CodeUnavailable, Key: "unavailable", Message: "cannot check the session now", Err: err}
}

// signInFirst sends a browser to the sign-in page, to come back to the page it asked for.
func (s *Sessions) signInFirst(c *gin.Context) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
		return
	}
	collector.AbortWithError(c, nil, collector.NewError(collector.CodeUnauthorized, "session_expired"))
}

// CSRF returns the CSRF token of the request's session ("" without one). It is derived
// from the session id, so it needs no storage and changes with every sign-in.
func (s *Sessions) CSRF(c *gin.Context) string {
	v, ok := c.Get(sessionKey)
	if !ok {
		return ""
	}
	return b64.EncodeToString(s.mac("csrf", v.(session).ID))
}

func (s *Sessions) validCSRF(ss session, c *gin.Context) bool {
	got := c.GetHeader("X-CSRF-Token")
	if got == "" {
		got = c.PostForm("csrf")
	}
	want := b64.EncodeToString(s.mac("csrf", ss.ID))
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// loginCSRF returns the CSRF token of the sign-in form, setting the login cookie it is
// bound to when the browser has none: without a session yet, the form proves it was
// loaded by the browser that posts it (double submit, signed).
func (s *Sessions) loginCSRF(c *gin.Context) string {
	nonce, err := c.Cookie(loginCookie)
	if err != nil || len(nonce) != 32 {
		nonce = randomID()
		http.SetCookie(c.Writer, &http.Cookie{Name: loginCookie, Value: nonce, Path: "/login", MaxAge: 3600,
			HttpOnly: true, Secure: s.secureFor(c), SameSite: http.SameSiteStrictMode})
	}
	return b64.EncodeToString(s.mac("login", nonce))
}

func (s *Sessions) validLoginCSRF(c *gin.Context) bool {
	nonce, err := c.Cookie(loginCookie)
	if err != nil || nonce == "" {
		return false
	}
	want := b64.EncodeToString(s.mac("login", nonce))
	return subtle.ConstantTimeCompare([]byte(c.PostForm("csrf")), []byte(want)) == 1
}

// principal returns the principal of the request's session cookie, outside the
// middleware: the sign-in page skips itself for a signed-in browser.
func (s *Sessions) principal(c *gin.Context) (collector.Principal, bool) {
	ss, err := s.current(c)
	if err != nil {
		return collector.Principal{}, false
	}
	p, err := s.auth.AuthenticateHash(c.Request.Context(), ss.TokenHash)
	return p, err == nil
}

// randomSessionID returns a new session id: 256 random bits, the browser's credential.
func randomSessionID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return b64.EncodeToString(b[:])
}

// validSessionID reports whether a cookie value can be a session id, before any lookup.
func validSessionID(id string) bool {
	b, err := b64.DecodeString(id)
	return err == nil && len(b) == 32
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}
