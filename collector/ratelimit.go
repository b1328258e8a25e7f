package collector

import (
	"math"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// RateLimiter limits events per key: requests per token (DESIGN.md §3, --rate-limit), or
// failed authentications per client address (see [AuthOptions.MaxFailures]). Each key
// has a token bucket; a request over its rate gets 429 with Retry-After. Limiters of keys
// idle for a while are forgotten, so memory stays bounded by the number of active keys.
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

// NewRateLimiter returns a limiter of perSecond requests per token, with bursts of twice
// that; 0 or less turns limiting off (benchmarks, trusted networks) and Middleware then
// does nothing.
func NewRateLimiter(perSecond float64, now func() time.Time) *RateLimiter {
	return NewBurstLimiter(perSecond, int(math.Ceil(2*perSecond)), now)
}

// NewBurstLimiter returns a limiter of perSecond events per key with bursts of burst
// (at least 1); a rate of 0 or less turns limiting off.
func NewBurstLimiter(perSecond float64, burst int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{perSecond: perSecond, burst: max(burst, 1), now: now, limiters: map[string]*tokenLimiter{}}
}

// Allow spends one event of key's allowance if there is one, and reports whether there
// was; if not, it also says how long to wait.
func (r *RateLimiter) Allow(key string) (bool, time.Duration) { return r.AllowN(key, 1) }

// AllowN spends n events of key's allowance if there are that many, and reports whether
// there were; if not, nothing is spent and it says how long to wait (a request of more
// than the burst waits as if the bucket were empty: it can never pass whole).
func (r *RateLimiter) AllowN(key string, n int) (bool, time.Duration) {
	if r == nil || r.perSecond <= 0 || n <= 0 {
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
	l := r.limiters[key]
	if l == nil {
		l = &tokenLimiter{lim: rate.NewLimiter(rate.Limit(r.perSecond), r.burst)}
		r.limiters[key] = l
	}
	l.seen = now
	res := l.lim.ReserveN(now, n)
	if !res.OK() {
		return false, time.Duration(float64(n) / r.perSecond * float64(time.Second))
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Check reports what [RateLimiter.Allow] would, without spending anything: a key is
// refused once it has spent its allowance, until some comes back.
func (r *RateLimiter) Check(key string) (bool, time.Duration) {
	if r == nil || r.perSecond <= 0 {
		return true, 0
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.limiters[key]
	if l == nil {
		return true, 0
	}
	if tokens := l.lim.TokensAt(now); tokens < 1 {
		return false, time.Duration((1 - tokens) / r.perSecond * float64(time.Second))
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
			AbortWithError(c, nil, RateLimited("api.too_many_requests", wait))
			return
		}
		c.Next()
	}
}

// RecordsPerMinute is the default record budget of a token (serve --record-budget): how
// many records it may submit a minute, whatever the number of requests they come in (a
// batch of 1,000 is one request), with bursts of twice that, two full batches. An intake
// site submits tens a day; a script replaying a backlog waits; a stolen token cannot
// flood the store.
const RecordsPerMinute = MaxBatchSize

// NewRecordBudget returns a budget of perMinute records per token, bursts of twice that
// (at least a full batch), for [API.Records]; 0 or less turns it off.
func NewRecordBudget(perMinute int, now func() time.Time) *RateLimiter {
	return NewBurstLimiter(float64(perMinute)/60, max(2*perMinute, MaxBatchSize), now)
}

// SpendRecords spends n records of the principal's budget, or answers 429 with
// Retry-After itself and reports false.
func (r *RateLimiter) SpendRecords(c *gin.Context, p Principal, n int) bool {
	if ok, wait := r.AllowN(p.TokenID, n); !ok {
		AbortWithError(c, nil, RateLimited("api.too_many_records", wait))
		return false
	}
	return true
}

// RateLimited returns the CodeRateLimited error of a limiter that computed the wait: its
// answer says Retry-After wait, in whole seconds, at least 1. The message is the
// catalogue's key.
func RateLimited(key string, wait time.Duration) *Error {
	e := NewError(CodeRateLimited, key)
	e.RetryAfter = max(wait, time.Second)
	return e
}
