package web

import (
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
	"strconv"
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

// session is what the cookie holds, signed: the hash of the token the session was opened
// with (never the token), a random id, and two times.
type session struct {
	TokenHash string
	ID        string // random; CSRF tokens and sign-out refer to it
	Issued    time.Time
	Seen      time.Time // last refresh of the cookie
}

// Sessions issues and checks the session cookies of the web pages. A cookie is signed
// with a key kept in the data directory, so sessions survive a restart of tamtam and
// need no table; every request authenticates the session's token again (through the
// [collector.Authenticator] cache), so revoking or expiring a token ends its sessions
// within the cache TTL. Signing out adds the session id to a list of ended sessions,
// kept in memory until the session would have expired anyway.
type Sessions struct {
	key    []byte
	auth   *collector.Authenticator
	now    func() time.Time
	idle   time.Duration
	maxAge time.Duration
	secure bool

	mu    sync.Mutex
	ended map[string]time.Time // session id -> when it would expire
}

// SessionOptions configures [NewSessions].
type SessionOptions struct {
	IdleTimeout time.Duration    // 0: DefaultIdleTimeout
	MaxAge      time.Duration    // 0: DefaultMaxAge
	Secure      bool             // set the Secure attribute: tamtam serves TLS itself
	Now         func() time.Time // nil: time.Now
}

// NewSessions returns the session manager for key (see [LoadSessionKey]).
func NewSessions(key []byte, auth *collector.Authenticator, opts SessionOptions) *Sessions {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sessions{key: key, auth: auth, now: opts.Now, idle: opts.IdleTimeout, maxAge: opts.MaxAge,
		secure: opts.Secure, ended: map[string]time.Time{}}
}

// sessionKeyLen is the length of the signing key: 256 bits for HMAC-SHA256.
const sessionKeyLen = 32

// LoadSessionKey reads the session signing key at path, creating it (mode 0600) on first
// use. It refuses a key file that group or others may read: whoever reads it can forge a
// session for any token hash it knows.
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

// mac signs msg in the given domain, so that a signature of one kind (a session) can
// never be replayed as another (a CSRF token).
func (s *Sessions) mac(domain, msg string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write([]byte(msg))
	return h.Sum(nil)
}

var b64 = base64.RawURLEncoding

// encode writes a session as "payload.signature".
func (s *Sessions) encode(ss session) string {
	payload := strings.Join([]string{"v1", ss.TokenHash, ss.ID, strconv.FormatInt(ss.Issued.Unix(), 10),
		strconv.FormatInt(ss.Seen.Unix(), 10)}, "|")
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(s.mac("session", payload))
}

// decode checks the signature and the lifetimes of a cookie value.
func (s *Sessions) decode(value string, now time.Time) (session, bool) {
	p64, sig64, ok := strings.Cut(value, ".")
	if !ok {
		return session{}, false
	}
	payload, err1 := b64.DecodeString(p64)
	sig, err2 := b64.DecodeString(sig64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, s.mac("session", string(payload))) {
		return session{}, false
	}
	f := strings.Split(string(payload), "|")
	if len(f) != 5 || f[0] != "v1" {
		return session{}, false
	}
	issued, err1 := strconv.ParseInt(f[3], 10, 64)
	seen, err2 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil {
		return session{}, false
	}
	ss := session{TokenHash: f[1], ID: f[2], Issued: time.Unix(issued, 0), Seen: time.Unix(seen, 0)}
	if !now.Before(ss.Issued.Add(s.maxAge)) || !now.Before(ss.Seen.Add(s.idle)) || ss.Issued.After(now.Add(time.Minute)) {
		return session{}, false
	}
	s.mu.Lock()
	_, ended := s.ended[ss.ID]
	s.mu.Unlock()
	return ss, !ended
}

// Open starts a session for the token with the given hash and sets its cookie.
func (s *Sessions) Open(c *gin.Context, tokenHash string) {
	now := s.now()
	ss := session{TokenHash: tokenHash, ID: randomID(), Issued: now, Seen: now}
	s.setCookie(c, ss)
}

// secureFor reports whether the cookies of the request must be Secure: tamtam serves TLS
// itself, or a reverse proxy in front of it says the browser came over HTTPS. The header
// can only make a cookie stricter, so it needs no trust: a forged one costs the forger
// their own session.
func (s *Sessions) secureFor(c *gin.Context) bool {
	return s.secure || c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

func (s *Sessions) setCookie(c *gin.Context, ss session) {
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: s.encode(ss), Path: "/",
		Expires: ss.Issued.Add(s.maxAge), HttpOnly: true, Secure: s.secureFor(c), SameSite: http.SameSiteStrictMode})
}

// Close ends the request's session, if any, and clears its cookie.
func (s *Sessions) Close(c *gin.Context) {
	if ss, ok := s.current(c); ok {
		s.mu.Lock()
		now := s.now()
		for id, until := range s.ended {
			if now.After(until) {
				delete(s.ended, id)
			}
		}
		s.ended[ss.ID] = ss.Issued.Add(s.maxAge)
		s.mu.Unlock()
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureFor(c), SameSite: http.SameSiteStrictMode})
}

func (s *Sessions) current(c *gin.Context) (session, bool) {
	v, err := c.Cookie(sessionCookie)
	if err != nil || v == "" {
		return session{}, false
	}
	return s.decode(v, s.now())
}

const sessionKey = "tamtam.session"

// Require is middleware for the pages: it authenticates the session cookie, refreshes
// it, and stores the principal for [collector.PrincipalOf]. Without a valid session a GET
// is redirected to the sign-in page (coming back afterwards); anything else gets 401.
// A principal whose role is not in roles gets 403. Any other method than GET and HEAD
// then has its form read (at most [MaxFormBytes]) and its CSRF token (the form's csrf
// field or the X-CSRF-Token header) checked against the session.
func (s *Sessions) Require(p *Pages, roles ...collector.Role) gin.HandlerFunc {
	return s.RequireForm(p, MaxFormBytes, roles...)
}

// MaxFormBytes is the largest form [Sessions.Require] reads: a questionnaire is under
// 4 KiB.
const MaxFormBytes = 64 << 10

// RequireForm is [Sessions.Require] for forms of up to limit bytes.
func (s *Sessions) RequireForm(p *Pages, limit int64, roles ...collector.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.authenticate(c, p, roles) {
			s.checkForm(c, p, limit)
		}
	}
}

// Authenticate is the first half of [Sessions.Require]: the session and the role. It
// checks no CSRF token: on any other method than GET and HEAD, follow it with
// [Sessions.Form] (a route may put a step between the two, such as a limit on
// concurrent uploads, so that a body is read only for a valid session).
func (s *Sessions) Authenticate(p *Pages, roles ...collector.Role) gin.HandlerFunc {
	return func(c *gin.Context) { s.authenticate(c, p, roles) }
}

// Form is the second half of [Sessions.Require], after [Sessions.Authenticate]: on any
// other method than GET and HEAD it reads the form (at most limit bytes) and checks its
// CSRF token against the session.
func (s *Sessions) Form(p *Pages, limit int64) gin.HandlerFunc {
	return func(c *gin.Context) { s.checkForm(c, p, limit) }
}

// checkForm reads the form of a request that changes something and checks its CSRF
// token, answering the request itself (and reporting false) when either fails. Each
// step that fails aborts the request, so the handlers after it do not run.
func (s *Sessions) checkForm(c *gin.Context, p *Pages, limit int64) bool {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		return true
	}
	v, ok := c.Get(sessionKey)
	if !ok {
		p.Error(c, http.StatusUnauthorized, "session_expired")
		return false
	}
	if status := readForm(c, limit); status != 0 {
		bodyError(c, p, status)
		return false
	}
	if !s.validCSRF(v.(session), c) {
		p.Error(c, http.StatusForbidden, "csrf")
		return false
	}
	return true
}

// authenticate checks the session of the request and the role of its principal,
// answering the request itself (and reporting false) when either fails.
func (s *Sessions) authenticate(c *gin.Context, p *Pages, roles []collector.Role) bool {
	ss, ok := s.current(c)
	if !ok {
		s.signInFirst(c, p)
		return false
	}
	pr, err := s.auth.AuthenticateHash(c.Request.Context(), ss.TokenHash)
	if err != nil {
		if collector.ErrorCode(err) == collector.CodeUnavailable {
			p.Error(c, http.StatusServiceUnavailable, "unavailable")
			return false
		}
		// Revoked or expired since sign-in: the session ends with its token.
		s.Close(c)
		s.signInFirst(c, p)
		return false
	}
	if now := s.now(); now.Sub(ss.Seen) > refreshAfter {
		ss.Seen = now
		s.setCookie(c, ss)
	}
	collector.SetPrincipal(c, pr)
	c.Set(sessionKey, ss)
	if len(roles) > 0 && !roleIn(pr.Role, roles) {
		p.Error(c, http.StatusForbidden, "forbidden_role")
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

// signInFirst sends a browser to the sign-in page, to come back to the page it asked for.
func (s *Sessions) signInFirst(c *gin.Context, p *Pages) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
		return
	}
	p.Error(c, http.StatusUnauthorized, "session_expired")
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
	ss, ok := s.current(c)
	if !ok {
		return collector.Principal{}, false
	}
	p, err := s.auth.AuthenticateHash(c.Request.Context(), ss.TokenHash)
	return p, err == nil
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}
