package collector

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// RateLimiter limits requests per token: N per second with bursts of 2N (DESIGN.md §3,
// --rate-limit). A token over its rate gets 429 with Retry-After. Limiters of tokens idle
// for a while are forgotten, so memory stays bounded by the number of active tokens.
type RateLimiter struct {
	perSecond float64
	burst     int
	now       func() time.Time

	mu       sync.Mutex
	limiters map[string]*tokenLimiter
	lastSwep time.Time
}

type tokenLimiter struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter returns a limiter of perSecond requests per token; 0 or less turns
// limiting off (benchmarks, trusted networks) and Middleware then does nothing.
func NewRateLimiter(perSecond float64, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{perSecond: perSecond, burst: int(math.Ceil(2 * perSecond)), now: now, limiters: map[string]*tokenLimiter{}}
}

// Allow reports whether the token may make a request now, and if not, how long to wait.
func (r *RateLimiter) Allow(tokenID string) (bool, time.Duration) {
	if r == nil || r.perSecond <= 0 {
		return true, 0
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.lastSwep) > time.Minute {
		for id, l := range r.limiters {
			if now.Sub(l.seen) > 10*time.Minute {
				delete(r.limiters, id)
			}
		}
		r.lastSwep = now
	}
	l := r.limiters[tokenID]
	if l == nil {
		l = &tokenLimiter{lim: rate.NewLimiter(rate.Limit(r.perSecond), r.burst)}
		r.limiters[tokenID] = l
	}
	l.seen = now
	res := l.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Middleware answers 429 with Retry-After (whole seconds, at least 1) to a principal over
// its rate. It runs after RequireToken.
func (r *RateLimiter) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if r == nil || r.perSecond <= 0 {
			c.Next()
			return
		}
		p, _ := PrincipalOf(c)
		if ok, wait := r.Allow(p.TokenID); !ok {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			AbortWithError(c, nil, Errorf(CodeRateLimited, "too many requests for this token; retry later"))
			return
		}
		c.Next()
	}
}
