package collector

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Authenticator turns bearer tokens into principals, with a short cache so that a busy
// intake site does not cost a store lookup per request.
type Authenticator struct {
	store TokenStore
	now   func() time.Time
	ttl   time.Duration

	mu    sync.Mutex
	cache map[string]cachedToken // by token hash
}

type cachedToken struct {
	tok     Token
	found   bool
	expires time.Time
}

// maxCachedTokens bounds the cache: a flood of random tokens cannot grow memory.
const maxCachedTokens = 10_000

// NewAuthenticator returns an authenticator over store. A revoked token stops working
// within ttl (0: 10 s).
func NewAuthenticator(store TokenStore, ttl time.Duration, now func() time.Time) *Authenticator {
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Authenticator{store: store, now: now, ttl: ttl, cache: map[string]cachedToken{}}
}

// Authenticate returns the principal of bearer, an *Error with CodeUnauthorized for an
// unknown or revoked token, or CodeUnavailable when the store cannot be asked.
func (a *Authenticator) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" {
		return Principal{}, Errorf(CodeUnauthorized, "a bearer token is required")
	}
	hash := HashToken(bearer)
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
			// take effect when the store is back.
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
	if !c.found || c.tok.Revoked || subtle.ConstantTimeCompare([]byte(c.tok.Hash), []byte(hash)) != 1 {
		return Principal{}, Errorf(CodeUnauthorized, "unknown or revoked token")
	}
	return Principal{TokenID: hash[:12], Role: c.tok.Role, Sites: c.tok.Sites, Label: c.tok.Label}, nil
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

// PrincipalOf returns the principal set by RequireToken.
func PrincipalOf(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return Principal{}, false
	}
	p, ok := v.(Principal)
	return p, ok
}
