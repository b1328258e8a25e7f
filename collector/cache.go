package collector

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// PrivateCache keeps short-lived bytes for the one user who made them, in memory only:
// the chart script of a dashboard view (a page may hold no inline script), the annotated
// workbook of an import (it holds answers: never on disk, never in a page). It is here,
// beside the principals whose token ids own its entries, so that package web and package
// reports share it without depending on each other. An entry
// expires after its time to live; the cache holds at most a number of bytes, and each
// user a few entries, the oldest going first, so that no user can push out another's.
type PrivateCache struct {
	now      func() time.Time
	ttl      time.Duration
	maxBytes int
	perOwner int

	mu      sync.Mutex
	size    int
	seq     uint64 // order of the entries: the oldest has the smallest
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	owner, name string
	body        []byte
	added       time.Time
	seq         uint64
}

// NewPrivateCache returns a cache of entries living ttl, at most maxBytes in all and perOwner
// entries per owner. A nil now is time.Now.
func NewPrivateCache(ttl time.Duration, maxBytes, perOwner int, now func() time.Time) *PrivateCache {
	if now == nil {
		now = time.Now
	}
	return &PrivateCache{now: now, ttl: ttl, maxBytes: maxBytes, perOwner: perOwner, entries: map[string]*cacheEntry{}}
}

// Put keeps body, named name, for owner and returns its id: random, so that it tells
// nothing and cannot be guessed. A body larger than the whole cache is not kept ("").
func (c *PrivateCache) Put(owner, name string, body []byte) string {
	if len(body) > c.maxBytes {
		return ""
	}
	id := randomCacheID()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if now.Sub(e.added) >= c.ttl {
			c.drop(k)
		}
	}
	for c.size+len(body) > c.maxBytes || c.count(owner) >= c.perOwner {
		mine := c.count(owner) >= c.perOwner
		var oldest string
		for k, e := range c.entries {
			if (!mine || e.owner == owner) && (oldest == "" || e.seq < c.entries[oldest].seq) {
				oldest = k
			}
		}
		c.drop(oldest)
	}
	c.seq++
	c.entries[id] = &cacheEntry{owner: owner, name: name, body: body, added: now, seq: c.seq}
	c.size += len(body)
	return id
}

// Get returns the body and name kept under id for owner; another owner's entry, an
// expired or unknown id give false.
func (c *PrivateCache) Get(id, owner string) (body []byte, name string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.entries[id]
	if !found || e.owner != owner || c.now().Sub(e.added) >= c.ttl {
		return nil, "", false
	}
	return e.body, e.name, true
}

func (c *PrivateCache) count(owner string) int {
	n := 0
	for _, e := range c.entries {
		if e.owner == owner {
			n++
		}
	}
	return n
}

func (c *PrivateCache) drop(id string) {
	if e, ok := c.entries[id]; ok {
		c.size -= len(e.body)
		delete(c.entries, id)
	}
}

// randomCacheID returns a new entry id: 128 random bits.
func randomCacheID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}
