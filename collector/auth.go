package collector

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Authenticator turns bearer tokens into principals, with a short cache so that a busy
// intake site does not cost a store lookup per request. It also notes when each token was
// last used and writes that to the store from a goroutine of its own, at most once per
// [AuthOptions.UsageInterval] per token, never on the request path; [Authenticator.Close]
// stops it.
//
// A store that is slow or hangs holds no request for long: a request waits at most
// [AuthOptions.LookupWait] for it. A token the store has is then served from the cache,
// so that intake goes on into the spool during a ClickHouse outage; an unknown one is
// answered [CodeUnavailable].
type Authenticator struct {
	store    TokenStore
	now      func() time.Time
	ttl      time.Duration
	wait     time.Duration
	failures *RateLimiter // lookups of unknown tokens, per client address
	log      *slog.Logger

	mu sync.Mutex
	// Tokens the store has, by hash. They are never evicted: the store holds few, and
	// only a token the store has gets in.
	known map[string]cachedToken
	// Hashes the store does not have, and until when that answer holds; a flood of
	// random tokens evicts the oldest of them and nothing else.
	missing  *simplelru.LRU[string, time.Time]
	inflight map[string]*lookup   // by token hash: a question to the store not yet answered
	used     map[string]time.Time // by token hash: last use not yet written to the store

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// cachedToken is the state of a token the store has, as last read.
type cachedToken struct {
	tok     Token
	refresh time.Time // when to ask the store again
}

// lookup is one question to the store about one hash, shared by the requests that need
// its answer.
type lookup struct {
	done chan struct{} // closed once tok and err are set
	tok  Token
	err  error
}

const (
	// maxMissingTokens bounds the cache of unknown hashes: a flood of random tokens
	// cannot grow memory.
	maxMissingTokens = 10_000
	// maxLookups bounds the questions to the store in flight: a flood of random tokens
	// while the store hangs costs neither unbounded goroutines nor connections.
	maxLookups = 64
	// lookupTimeout bounds a question to the store. It is longer than a request waits, so
	// that a slow store still answers, for the requests that follow.
	lookupTimeout = 10 * time.Second
)

// Errors of a question to the store that got no answer, logged, never shown.
var (
	errStoreSlow   = errors.New("collector: the token store did not answer in time")
	errLookupsBusy = errors.New("collector: too many token lookups in flight")
)

// AuthOptions configures [NewAuthenticatorWith].
type AuthOptions struct {
	// TTL is how long a token's state is cached: a revoked token stops working within
	// TTL (0: 10 s). Expiry is checked on every request, against Now. While the store
	// does not answer, a token it had keeps its cached state; a revocation takes effect
	// within TTL of the store answering again.
	TTL time.Duration
	// LookupWait is how long a request waits for the store to answer about a token (0:
	// 2 s): after that a known token is served from the cache, and an unknown one gets
	// CodeUnavailable.
	LookupWait time.Duration
	// MaxFailures is how many unknown tokens a client address may present in a burst
	// before [Authenticator.RequireToken] answers it 429 without asking the store;
	// the allowance comes back at MaxFailures a minute (0: 30; negative: no limit).
	// Tokens the cache knows are not limited: they cost the store nothing.
	MaxFailures int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// UsageInterval is how often last-use times are written to the store (0: a minute).
	UsageInterval time.Duration
	// Logger gets failures to record usage and, at debug level, to look tokens up (nil:
	// discard).
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
	if opts.LookupWait <= 0 {
		opts.LookupWait = 2 * time.Second
	}
	if opts.MaxFailures == 0 {
		opts.MaxFailures = 30
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
	missing, _ := simplelru.NewLRU[string, time.Time](maxMissingTokens, nil) // a positive size: never an error
	a := &Authenticator{
		store: store, now: opts.Now, ttl: opts.TTL, wait: opts.LookupWait, log: opts.Logger,
		known: map[string]cachedToken{}, missing: missing, inflight: map[string]*lookup{}, used: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if opts.MaxFailures > 0 {
		a.failures = NewBurstLimiter(float64(opts.MaxFailures)/60, opts.MaxFailures, opts.Now)
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
// nothing about which tokens exist), or CodeUnavailable when the store cannot be asked
// about a token the cache does not know.
func (a *Authenticator) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	return a.authenticate(ctx, bearer, "")
}

// AuthenticateHash is [Authenticator.Authenticate] for a token known by its hash: a web
// session holds the hash of the token it was opened with, never the token, and is
// checked on every request, so that revoking or expiring the token ends its sessions.
func (a *Authenticator) AuthenticateHash(ctx context.Context, hash string) (Principal, error) {
	return a.authenticateHash(ctx, hash, "")
}

// authenticate is Authenticate for a request from addr, whose lookups of unknown tokens
// are limited ("": no limit). An address over its limit gets CodeRateLimited, with the
// wait in a *failureLimit.
func (a *Authenticator) authenticate(ctx context.Context, bearer, addr string) (Principal, error) {
	if bearer == "" {
		return Principal{}, NewError(CodeUnauthorized, "api.token_required")
	}
	return a.authenticateHash(ctx, HashToken(bearer), addr)
}

func (a *Authenticator) authenticateHash(ctx context.Context, hash, addr string) (Principal, error) {
	now := a.now()
	tok, err := a.state(ctx, hash, addr, now)
	if err != nil {
		return Principal{}, err
	}
	// The lookup was by hash; comparing again in constant time costs nothing and keeps
	// the check free of timing differences whatever the store does.
	if !tok.Active(now) || subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(hash)) != 1 {
		return Principal{}, errUnauthorized()
	}
	a.mu.Lock()
	a.used[hash] = now
	a.mu.Unlock()
	return Principal{TokenID: TokenID(hash), Role: tok.Role, Sites: tok.Sites, Label: tok.Label}, nil
}

func errUnauthorized() *Error { return NewError(CodeUnauthorized, "api.token_unknown") }

// failureLimit is the cause of a CodeRateLimited error of authenticate.
type failureLimit struct{ wait time.Duration }

func (f *failureLimit) Error() string { return "too many unknown tokens from the address" }

// state returns the state of the token with the given hash: from the cache while it is
// fresh, else from the store. When the store does not answer, a token it had keeps its
// cached state (revocations wait for the store; expiry, checked by the caller against
// the clock, does not), and an unknown token gets CodeUnavailable.
func (a *Authenticator) state(ctx context.Context, hash, addr string, now time.Time) (Token, error) {
	a.mu.Lock()
	c, known := a.known[hash]
	until, missing := a.missing.Peek(hash)
	_, asking := a.inflight[hash]
	a.mu.Unlock()
	switch {
	case known && (now.Before(c.refresh) || asking):
		// Fresh, or being refreshed for another request: no wait for the store.
		return c.tok, nil
	case !known && missing && now.Before(until):
		return Token{}, errUnauthorized()
	}
	limited := !known && addr != ""
	if limited {
		if ok, wait := a.failures.Check(addr); !ok {
			e := NewError(CodeRateLimited, "api.too_many_failures")
			e.RetryAfter, e.Err = wait, &failureLimit{wait}
			return Token{}, e
		}
	}
	tok, err := a.ask(ctx, hash)
	switch {
	case err == nil:
		return tok, nil
	case known && !errors.Is(err, ErrNoToken):
		return c.tok, nil
	}
	if limited {
		a.failures.Allow(addr) // spends one of the address's failures
	}
	if errors.Is(err, ErrNoToken) {
		return Token{}, errUnauthorized()
	}
	e := NewError(CodeUnavailable, "api.token_unchecked")
	e.Err = err
	return Token{}, e
}

// ask returns the store's answer about hash, waiting for it at most a.wait. The question
// runs in a goroutine of its own, bounded by lookupTimeout, one at a time per hash and
// shared by the requests that need the answer; the answer is cached even when they have
// stopped waiting. So a store that hangs holds no request for long, and costs at most
// maxLookups goroutines.
func (a *Authenticator) ask(ctx context.Context, hash string) (Token, error) {
	a.mu.Lock()
	l := a.inflight[hash]
	if l == nil {
		if len(a.inflight) >= maxLookups {
			a.mu.Unlock()
			return Token{}, errLookupsBusy
		}
		l = &lookup{done: make(chan struct{})}
		a.inflight[hash] = l
		go a.lookup(hash, l)
	}
	a.mu.Unlock()
	timer := time.NewTimer(a.wait)
	defer timer.Stop()
	select {
	case <-l.done:
		return l.tok, l.err
	case <-timer.C:
		return Token{}, errStoreSlow
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

// lookup asks the store about hash, caches the answer and hands it to the requests
// waiting for it.
func (a *Authenticator) lookup(hash string, l *lookup) {
	// Its own context: the requests that started it may be gone, the answer is still
	// worth caching.
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	tok, err := a.store.TokenByHash(ctx, hash)
	now := a.now()
	a.mu.Lock()
	switch {
	case err == nil:
		a.known[hash] = cachedToken{tok: tok, refresh: now.Add(a.ttl)}
		a.missing.Remove(hash)
	case errors.Is(err, ErrNoToken):
		delete(a.known, hash)
		a.missing.Add(hash, now.Add(a.ttl))
	default:
		if c, ok := a.known[hash]; ok {
			// Keep the cached state, and ask again after the TTL rather than make
			// every request wait for a store that does not answer.
			c.refresh = now.Add(a.ttl)
			a.known[hash] = c
		}
		a.log.Debug("token lookup failed", "err", err)
	}
	delete(a.inflight, hash)
	l.tok, l.err = tok, err
	a.mu.Unlock()
	close(l.done)
}

const principalKey = "tamtam.principal"

// RequireToken is Gin middleware that authenticates the bearer token of the request and
// stores the principal for [PrincipalOf]; it answers 401 (with WWW-Authenticate) or 503
// itself otherwise. An address that presented too many unknown tokens is answered 429
// with Retry-After (see [AuthOptions.MaxFailures]) without asking the store.
func (a *Authenticator) RequireToken() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.GetHeader("Authorization")
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			bearer = ""
		}
		p, err := a.authenticate(c.Request.Context(), strings.TrimSpace(bearer), AddressKey(c.ClientIP()))
		if err != nil {
			AbortWithError(c, nil, err)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// AddressKey is the key of a client address in the limits per address: the address, or
// for IPv6 its /64, which one host commonly has whole.
func AddressKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if addr.Is6() && !addr.Is4In6() {
		p, _ := addr.Prefix(64) // 64 bits of an IPv6 address: never an error
		return p.String()
	}
	return addr.Unmap().String()
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
