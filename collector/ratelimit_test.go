package collector

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r := NewRateLimiter(2, func() time.Time { return now })
	// Burst of 2N = 4, then refused until tokens refill at 2 per second.
	for i := range 4 {
		if ok, _ := r.Allow("a"); !ok {
			t.Fatalf("Allow(a) #%d = false, want true within the burst", i+1)
		}
	}
	ok, wait := r.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Errorf("Allow(a) after the burst = %v, %v; want false with a wait under 1 s", ok, wait)
	}
	if ok, _ := r.Allow("b"); !ok {
		t.Error("Allow(b) = false: tokens must not share a limit")
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := r.Allow("a"); !ok {
		t.Error("Allow(a) after 0.5 s = false, want one more request")
	}
	off := NewRateLimiter(0, nil)
	for range 1000 {
		if ok, _ := off.Allow("a"); !ok {
			t.Fatal("a limiter of 0 per second must not limit")
		}
	}
	// Idle limiters are forgotten.
	now = now.Add(time.Hour)
	r.Allow("c")
	if len(r.limiters) != 1 {
		t.Errorf("limiters after an hour idle = %d, want only the new one", len(r.limiters))
	}
}

func TestRateLimiterCheck(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r := NewBurstLimiter(1, 3, func() time.Time { return now })
	if ok, _ := r.Check("a"); !ok {
		t.Fatal("Check(a) of an unseen key = false, want true")
	}
	for range 10 {
		r.Check("a") // spends nothing
	}
	for i := range 3 {
		if ok, _ := r.Allow("a"); !ok {
			t.Fatalf("Allow(a) #%d = false, want true within the burst of 3", i+1)
		}
	}
	ok, wait := r.Check("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Errorf("Check(a) after the burst = %v, %v; want false with a wait up to 1 s", ok, wait)
	}
	now = now.Add(wait)
	if ok, _ := r.Check("a"); !ok {
		t.Errorf("Check(a) after the wait it gave = false, want true")
	}
	r.Check("b")
	if len(r.limiters) != 1 {
		t.Errorf("limiters = %d, want 1: Check creates none", len(r.limiters))
	}
}

// TestRecordBudget: a batch spends as many records as it holds, so a token gets its
// records a minute whatever the requests they come in; a refused batch spends nothing.
func TestRecordBudget(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r := NewRecordBudget(1000, func() time.Time { return now }) // bursts of 2,000
	for i := range 2 {
		if ok, _ := r.AllowN("a", MaxBatchSize); !ok {
			t.Fatalf("batch %d of 1,000 within the burst refused", i+1)
		}
	}
	if ok, wait := r.AllowN("a", 1); ok || wait <= 0 || wait > 5*time.Second {
		t.Errorf("one more record after the burst = %v, %v; want refused with a wait of a few seconds", ok, wait)
	}
	now = now.Add(30 * time.Second) // 500 records back
	if ok, _ := r.AllowN("a", MaxBatchSize); ok {
		t.Error("a batch of 1,000 with 500 records of budget passed")
	}
	if ok, _ := r.AllowN("a", 500); !ok {
		t.Error("500 records after 30 s refused: the refused batch spent the budget")
	}
	if ok, _ := r.AllowN("b", MaxBatchSize); !ok {
		t.Error("another token shares the budget")
	}
	if ok, wait := r.AllowN("c", 3*MaxBatchSize); ok || wait <= 0 {
		t.Errorf("more records than the burst at once = %v, %v; want refused with a wait", ok, wait)
	}
	if off := NewRecordBudget(0, nil); off != nil {
		if ok, _ := off.AllowN("a", 1_000_000); !ok {
			t.Error("a budget of 0 must not limit")
		}
	}
}
