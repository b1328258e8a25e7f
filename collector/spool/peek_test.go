package spool

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestPeek reads the progress of a spool held open, as a backup beside a server does:
// through segment rolls, acknowledgements, an empty new segment and a torn tail.
func TestPeek(t *testing.T) {
	dir := t.TempDir()
	peek := func() Progress {
		t.Helper()
		p, err := Peek(dir)
		if err != nil {
			t.Fatalf("Peek = %v", err)
		}
		return p
	}
	if p, err := Peek(filepath.Join(dir, "missing")); err != nil || p != (Progress{}) {
		t.Errorf("Peek(missing dir) = %+v, %v; want nothing pending", p, err)
	}
	s := openT(t, Options{Dir: dir, SegmentBytes: 200})
	if p := peek(); p.Pending() || p.Last != 0 {
		t.Errorf("new spool: Peek = %+v, want nothing", p)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
	for range 10 { // 50-byte frames: several segments
		appendT(t, s, "0123456789012345678901234567890123")
	}
	if p := peek(); p != (Progress{Acked: 0, Last: 10}) {
		t.Errorf("after 10 appends: Peek = %+v, want acked 0, last 10", p)
	}
	if err := s.Ack(7); err != nil {
		t.Fatal(err)
	}
	if p := peek(); p != (Progress{Acked: 7, Last: 10}) || !p.Pending() {
		t.Errorf("after Ack(7): Peek = %+v, want acked 7, last 10, pending", p)
	}
	if err := s.Ack(10); err != nil {
		t.Fatal(err)
	}
	if p := peek(); p != (Progress{Acked: 10, Last: 10}) || p.Pending() {
		t.Errorf("after Ack(10): Peek = %+v, want nothing pending", p)
	}
	appendT(t, s, "x")

	// A new segment with only half a header (being created), and half a frame at the end
	// of the last whole segment (being written): neither counts.
	firsts, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(dir, segmentName(firsts[len(firsts)-1]))
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(appendFrame(nil, 12, []byte("torn"))[:10])
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, segmentName(13)), []byte("tamsp"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := peek(); p != (Progress{Acked: 10, Last: 11}) {
		t.Errorf("with a torn frame and a half-made segment: Peek = %+v, want acked 10, last 11", p)
	}
}
