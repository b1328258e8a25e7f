package queries_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// TestSessionStore: the latest state of a session comes back; an ended session stays
// ended whatever is written after it; the table holds the hash of the id, never the id.
func TestSessionStore(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	id := "c2Vzc2lvbi1pZC1vZi10aGlydHktdHdvLWJ5dGVzLi4u"
	issued := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	st := collector.Session{IDHash: collector.HashSessionID(id), TokenHash: "tokenhash", Issued: issued, Seen: issued}
	if _, err := db.SessionByHash(ctx, st.IDHash); !errors.Is(err, collector.ErrNoSession) {
		t.Fatalf("SessionByHash(unknown) = %v, want ErrNoSession", err)
	}
	if err := db.SaveSession(ctx, st); err != nil {
		t.Fatal(err)
	}
	st.Seen = issued.Add(10 * time.Minute)
	if err := db.SaveSession(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := db.SessionByHash(ctx, st.IDHash)
	if err != nil || got != st {
		t.Fatalf("SessionByHash = %+v, %v; want %+v", got, err, st)
	}
	ended := st
	ended.Ended = true
	if err := db.SaveSession(ctx, ended); err != nil {
		t.Fatal(err)
	}
	st.Seen = issued.Add(20 * time.Minute) // a refresh racing the sign-out
	if err := db.SaveSession(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, err := db.SessionByHash(ctx, st.IDHash); err != nil || !got.Ended {
		t.Errorf("SessionByHash after sign-out = %+v, %v; want ended", got, err)
	}
	// ClickHouse merges the rows: the end still wins over the refresh written after it.
	if err := db.Exec(ctx, "OPTIMIZE TABLE sessions FINAL"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.SessionByHash(ctx, st.IDHash); err != nil || !got.Ended {
		t.Errorf("SessionByHash after a merge = %+v, %v; want ended: a merge must not undo a sign-out", got, err)
	}
	n, err := db.Count(ctx, "SELECT count() FROM sessions WHERE position(id_hash, '"+id+"') > 0 OR position(token_hash, '"+id+"') > 0")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rows hold the session id itself", n)
	}
}
