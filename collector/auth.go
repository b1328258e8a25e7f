package collector

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Authenticator turns bearer tokens into principals, with a short cache so that a busy
// intake site does not cost a store lookup per request. It also notes when each token was
// last used and writes that to the store from a goroutine of its own, at most once per
// [AuthOptions.UsageInterval] per token, never on the request path; [Authenticator.Close]
// stops it.
type Authenticator struct {
	store TokenStore
	now   func() time.Time
	ttl   time.Duration
	log   *slog.Logger

	mu    sync.Mutex
	cache map[string]cachedToken // by token hash
	used  map[string]time.Time   // by token hash: last use not yet written to the store

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type cachedToken struct {
	tok     Token
	found   bool
	expires time.Time
}

// maxCachedTokens bounds the cache: a flood of random tokens cannot grow memory.
const maxCachedTokens = 10_000

// AuthOptions configures [NewAuthenticatorWith].
type AuthOptions struct {
	// TTL is how long a token's state is cached: a revoked token stops working within
	// TTL (0: 10 s). Expiry is checked on every request, against Now.
	TTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// UsageInterval is how often last-use times are written to the store (0: a minute).
	UsageInterval time.Duration
	// Logger gets failures to record usage (nil: discard).
	Logger *slog.Logger
}

// NewAuthenticator returns an authenticator over store with the given cache TTL and
// clock and the default options otherwise (see [NewAuthenticatorWith]).
func NewAuthenticator(store TokenStore, ttl time.Duration, now func() time.Time) *Authenticator {
	return NewAuthenticatorWith(store, AuthOptions{TTL: ttl, Now: now})
}

// NewAuthenticatorWith returns an authenticator over store and starts the goroutine that
// records token usage; call Close to stop it.
func NewAuthenticatorWith(store TokenStore, opts AuthOptions) *Authenticator {
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UsageInterval <= 0 {
		opts.UsageInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{
		store: store, now: opts.Now, ttl: opts.TTL, log: opts.Logger,
		cache: map[string]cachedToken{}, used: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go a.recordUsage(opts.UsageInterval)
	return a
}

// Close stops recording usage, after writing what is pending. It is safe to call more
// than once; the authenticator still authenticates afterwards, without recording.
func (a *Authenticator) Close() error {
	a.closeOnce.Do(func() { close(a.stop) })
	<-a.done
	return nil
}

// recordUsage writes pending last-use times every interval and once more at Close.
func (a *Authenticator) recordUsage(interval time.Duration) {
	defer close(a.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			a.flushUsage()
		case <-a.stop:
			a.flushUsage()
			return
		}
	}
}

// flushUsage writes the pending last-use times in one insert. On failure they go back
// into the pending set (unless a later use came in meanwhile) for the next round: the
// last-use time is information for the coordinator, never a reason to fail a request.
func (a *Authenticator) flushUsage() {
	a.mu.Lock()
	used := a.used
	a.used = map[string]time.Time{}
	a.mu.Unlock()
	if len(used) == 0 {
		return
	}
	// Its own context: the flush at Close must finish whatever was cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.store.TokenUsage(ctx, used)
	if err == nil {
		return
	}
	a.log.Warn("token usage not recorded", "tokens", len(used), "err", err)
	a.mu.Lock()
	for h, t := range used {
		if cur, ok := a.used[h]; !ok || cur.Before(t) {
			a.used[h] = t
		}
	}
	a.mu.Unlock()
}

// Authenticate returns the principal of bearer, an *Error with CodeUnauthorized for an
// unknown, expired or revoked token (one message for all three: the caller learns
// nothing about which tokens exist), or CodeUnavailable when the store cannot be asked.
func (a *Authenticator) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" {
		return Principal{}, Errorf(CodeUnauthorized, "a bearer token is required")
	}
	return a.AuthenticateHash(ctx, HashToken(bearer))
}

// AuthenticateHash is [Authenticator.Authenticate] for a token known by its hash: a web
// session holds the hash of the token it was opened with, never the token, and is
// checked on every request, so that revoking or expiring the token ends its sessions.
func (a *Authenticator) AuthenticateHash(ctx context.Context, hash string) (Principal, error) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[hash]
	a.mu.Unlock()
	if !ok || now.After(c.expires) {
		tok, err := a.store.TokenByHash(ctx, hash)
		switch {
		case errors.Is(err, ErrNoToken):
			c = cachedToken{found: false, expires: now.Add(a.ttl)}
		case err != nil && ok && c.found:
			// The store is unreachable: a token known a moment ago keeps working, so
			// that intake goes on into the spool during a ClickHouse outage. Revocations
			// take effect when the store is back; expiry, checked below against the
			// clock, still does.
			c.expires = now.Add(a.ttl)
		case err != nil:
			return Principal{}, &Error{Code: CodeUnavailable, Message: "cannot check the token now; retry later", Err: err}
		default:
			c = cachedToken{tok: tok, found: true, expires: now.Add(a.ttl)}
		}
		a.mu.Lock()
		if len(a.cache) >= maxCachedTokens {
			clear(a.cache)
		}
		a.cache[hash] = c
		a.mu.Unlock()
	}
	// The lookup was by hash; comparing again in constant time costs nothing and keeps
	// the check free of timing differences whatever the store does.
	if !c.found || !c.tok.Active(now) || subtle.ConstantTimeCompare([]byte(c.tok.Hash), []byte(hash)) != 1 {
		return Principal{}, Errorf(CodeUnauthorized, "unknown, expired or revoked token")
	}
	a.mu.Lock()
	a.used[hash] = now
	a.mu.Unlock()
	return Principal{TokenID: TokenID(hash), Role: c.tok.Role, Sites: c.tok.Sites, Label: c.tok.Label}, nil
}

const principalKey = "tamtam.principal"

// RequireToken is Gin middleware that authenticates the bearer token of the request and
// stores the principal for [PrincipalOf]; it answers 401 (or 503) itself otherwise.
func (a *Authenticator) RequireToken() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			bearer = ""
		}
		p, err := a.Authenticate(c.Request.Context(), strings.TrimSpace(bearer))
		if err != nil {
			if ErrorCode(err) == CodeUnauthorized {
				c.Header("WWW-Authenticate", `Bearer realm="tamtam"`)
			}
			AbortWithError(c, nil, err)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// SetPrincipal stores p as the authenticated caller of the request, for [PrincipalOf]:
// the web session middleware authenticates by cookie, the API by bearer token, and the
// handlers behind either read the same principal.
func SetPrincipal(c *gin.Context, p Principal) { c.Set(principalKey, p) }

// PrincipalOf returns the principal set by RequireToken or SetPrincipal.
func PrincipalOf(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return Principal{}, false
	}
	p, ok := v.(Principal)
	return p, ok
}
