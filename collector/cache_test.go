package collector

import (
	"testing"
	"time"
)

func TestPrivateCache(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	c := NewPrivateCache(10*time.Minute, 100, 2, clk.Now)
	a1 := c.Put("alice", "a1", make([]byte, 40))
	if _, _, ok := c.Get(a1, "bob"); ok {
		t.Errorf("bob reads alice's entry")
	}
	if _, name, ok := c.Get(a1, "alice"); !ok || name != "a1" {
		t.Errorf("Get(alice's entry) = %q, %v", name, ok)
	}
	b1 := c.Put("bob", "b1", make([]byte, 40))
	// Alice's third entry pushes out her oldest, not bob's.
	a2 := c.Put("alice", "a2", make([]byte, 10))
	a3 := c.Put("alice", "a3", make([]byte, 10))
	if _, _, ok := c.Get(a1, "alice"); ok {
		t.Errorf("alice's oldest entry kept beyond two entries")
	}
	for _, e := range []struct{ id, owner string }{{b1, "bob"}, {a2, "alice"}, {a3, "alice"}} {
		if _, _, ok := c.Get(e.id, e.owner); !ok {
			t.Errorf("entry of %s lost", e.owner)
		}
	}
	// The byte bound drops the oldest entries.
	c.Put("carol", "c1", make([]byte, 60))
	if _, _, ok := c.Get(b1, "bob"); ok || c.size > 100 {
		t.Errorf("size %d after going over 100 bytes; bob's old entry kept: %v", c.size, ok)
	}
	if id := c.Put("dave", "huge", make([]byte, 101)); id != "" {
		t.Errorf("an entry larger than the cache was kept")
	}
	clk.Add(10 * time.Minute)
	if _, _, ok := c.Get(a3, "alice"); ok {
		t.Errorf("expired entry returned")
	}
}
