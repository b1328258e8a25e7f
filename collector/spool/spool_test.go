package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openT opens a spool in dir and closes it at the end of the test.
func openT(t testing.TB, opts Options) *Spool {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", opts, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func reopenT(t testing.TB, s *Spool, opts Options) *Spool {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	return openT(t, opts)
}

func appendT(t testing.TB, s *Spool, entries ...string) []uint64 {
	t.Helper()
	bs := make([][]byte, len(entries))
	for i, e := range entries {
		bs[i] = []byte(e)
	}
	seqs, err := s.Append(t.Context(), bs...)
	if err != nil {
		t.Fatalf("Append(%q) = %v", entries, err)
	}
	return seqs
}

// readAllT returns every unacknowledged entry as "seq:data".
func readAllT(t testing.TB, s *Spool) []string {
	t.Helper()
	var out []string
	after := uint64(0)
	for {
		batch, err := s.Read(after, 7) // small batches exercise the cursor
		if err != nil {
			t.Fatalf("Read(%d, 7) = %v", after, err)
		}
		if len(batch) == 0 {
			return out
		}
		for _, e := range batch {
			out = append(out, fmt.Sprintf("%d:%s", e.Seq, e.Data))
		}
		after = batch[len(batch)-1].Seq
	}
}

func segmentFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestAppendReadAckReopen(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	s := openT(t, opts)

	if got := appendT(t, s, "a", "b"); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("Append(a, b) = %v, want [1 2]", got)
	}
	if got := appendT(t, s, "c"); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("Append(c) = %v, want [3]", got)
	}
	if got, want := readAllT(t, s), []string{"1:a", "2:b", "3:c"}; !slices.Equal(got, want) {
		t.Fatalf("entries = %q, want %q", got, want)
	}
	if err := s.Ack(2); err != nil {
		t.Fatalf("Ack(2) = %v", err)
	}
	if got, want := readAllT(t, s), []string{"3:c"}; !slices.Equal(got, want) {
		t.Fatalf("entries after Ack(2) = %q, want %q", got, want)
	}

	s = reopenT(t, s, opts)
	if got, want := readAllT(t, s), []string{"3:c"}; !slices.Equal(got, want) {
		t.Fatalf("entries after reopen = %q, want %q", got, want)
	}
	if got := appendT(t, s, "d"); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("Append(d) after reopen = %v, want [4]", got)
	}
	st := s.Stats()
	if st.Depth != 2 || st.Acked != 2 || st.Last != 4 || st.Bytes != 2*(frameHeader+1) {
		t.Fatalf("Stats() = %+v, want Depth 2, Acked 2, Last 4, Bytes %d", st, 2*(frameHeader+1))
	}

	// Acknowledging everything and reopening must not restart the numbering.
	if err := s.Ack(4); err != nil {
		t.Fatalf("Ack(4) = %v", err)
	}
	s = reopenT(t, s, opts)
	if got := readAllT(t, s); len(got) != 0 {
		t.Fatalf("entries after Ack(4) and reopen = %q, want none", got)
	}
	if got := appendT(t, s, "e"); !slices.Equal(got, []uint64{5}) {
		t.Fatalf("Append(e) = %v, want [5]", got)
	}
}

func TestAppendEdgeCases(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	if seqs, err := s.Append(t.Context()); seqs != nil || err != nil {
		t.Errorf("Append() = %v, %v, want nil, nil", seqs, err)
	}
	if got := appendT(t, s, ""); !slices.Equal(got, []uint64{1}) {
		t.Errorf("Append(empty entry) = %v, want [1]", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Append(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append(canceled ctx) = %v, want context.Canceled", err)
	}
	if got, want := readAllT(t, s), []string{"1:"}; !slices.Equal(got, want) {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

func TestRead(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir(), SegmentBytes: 100})
	for i := 1; i <= 10; i++ {
		appendT(t, s, fmt.Sprint(i))
	}
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		after uint64
		n     int
		want  []uint64
	}{
		{0, 3, []uint64{3, 4, 5}}, // acknowledged entries are skipped
		{2, 3, []uint64{3, 4, 5}},
		{5, 3, []uint64{6, 7, 8}}, // continues from the cursor
		{4, 2, []uint64{5, 6}},    // goes back
		{8, 10, []uint64{9, 10}},
		{10, 10, nil},
		{99, 10, nil},
		{0, 0, nil},
	}
	for _, tt := range tests {
		batch, err := s.Read(tt.after, tt.n)
		if err != nil {
			t.Fatalf("Read(%d, %d) = %v", tt.after, tt.n, err)
		}
		var got []uint64
		for _, e := range batch {
			got = append(got, e.Seq)
			if string(e.Data) != fmt.Sprint(e.Seq) {
				t.Errorf("Read(%d, %d): entry %d holds %q", tt.after, tt.n, e.Seq, e.Data)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Read(%d, %d) = %v, want %v", tt.after, tt.n, got, tt.want)
		}
	}
}

func TestAck(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	appendT(t, s, "a", "b", "c")
	if err := s.Ack(4); err == nil {
		t.Errorf("Ack(4) with 3 entries = nil, want an error")
	}
	if err := s.Ack(2); err != nil {
		t.Errorf("Ack(2) = %v", err)
	}
	if err := s.Ack(1); err != nil {
		t.Errorf("Ack(1) after Ack(2) = %v, want nil", err)
	}
	if got := s.Stats().Acked; got != 2 {
		t.Errorf("Stats().Acked = %d, want 2", got)
	}
}

// A torn write can only be at the end of the last segment; recovery drops it and
// keeps everything before.
func TestTornTail(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b []byte) []byte // applied to the last segment's bytes
		want   []string
	}{
		{"short data", func(b []byte) []byte { return b[:len(b)-3] }, []string{"1:one", "2:two"}},
		{"short header", func(b []byte) []byte { return b[:len(b)-(frameHeader+5)+6] }, []string{"1:one", "2:two"}},
		{"bad checksum", func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b }, []string{"1:one", "2:two"}},
		{"huge length", func(b []byte) []byte {
			copy(b[len(b)-frameHeader-5:], []byte{0xff, 0xff, 0xff, 0xff})
			return b
		}, []string{"1:one", "2:two"}},
		{"zeros after", func(b []byte) []byte { return append(b, make([]byte, 100)...) }, []string{"1:one", "2:two", "3:three"}},
		{"stale frame after", func(b []byte) []byte {
			return appendFrame(b, 1, []byte("old")) // valid checksum, wrong sequence number
		}, []string{"1:one", "2:two", "3:three"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Dir: t.TempDir()}
			s := openT(t, opts)
			appendT(t, s, "one")
			appendT(t, s, "two")
			appendT(t, s, "three")
			s.Close()

			files := segmentFiles(t, opts.Dir)
			path := files[len(files)-1]
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}

			s = openT(t, opts)
			if got := readAllT(t, s); !slices.Equal(got, tt.want) {
				t.Fatalf("entries after reopen = %q, want %q", got, tt.want)
			}
			next := uint64(len(tt.want) + 1)
			if got := appendT(t, s, "four"); !slices.Equal(got, []uint64{next}) {
				t.Fatalf("Append(four) = %v, want [%d]", got, next)
			}
			s = reopenT(t, s, opts)
			want := append(tt.want, fmt.Sprintf("%d:four", next))
			if got := readAllT(t, s); !slices.Equal(got, want) {
				t.Fatalf("entries after second reopen = %q, want %q", got, want)
			}
		})
	}
}

// Damage that cannot be a torn write must stop Open, naming the file and offset,
// rather than drop acknowledged entries.
func TestCorruption(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		entries  int
		size     int
		damage   func(t *testing.T, dir string, files []string)
		wantText string
	}{
		{
			name: "bad frame in an earlier segment", opts: Options{SegmentBytes: 200}, entries: 10, size: 50,
			damage: func(t *testing.T, dir string, files []string) {
				flipByte(t, files[0], headerSize+frameHeader+3)
			},
			wantText: fmt.Sprintf("%s at offset %d", segmentName(1), headerSize),
		},
		{
			name: "truncated earlier segment", opts: Options{SegmentBytes: 200}, entries: 10, size: 50,
			damage: func(t *testing.T, dir string, files []string) {
				if err := os.Truncate(files[0], headerSize+frameHeader+50+10); err != nil {
					t.Fatal(err)
				}
			},
			wantText: fmt.Sprintf("%s at offset %d", segmentName(1), headerSize+frameHeader+50),
		},
		{
			name: "missing segment", opts: Options{SegmentBytes: 200}, entries: 10, size: 50,
			damage: func(t *testing.T, dir string, files []string) {
				if err := os.Remove(files[1]); err != nil {
					t.Fatal(err)
				}
			},
			wantText: "previous one ends at",
		},
		{
			// More than one group's worth of bytes after the damage: not a torn write.
			name: "bad frame far from the end of the last segment", entries: 18, size: 1 << 20,
			damage: func(t *testing.T, dir string, files []string) {
				flipByte(t, files[0], headerSize+2*frameHeader+1<<20+10)
			},
			wantText: fmt.Sprintf("%s at offset %d", segmentName(1), headerSize+frameHeader+1<<20),
		},
		{
			// A torn write cannot reach back before an acknowledged entry.
			name: "bad frame before the checkpoint in the last segment", entries: 3, size: 10,
			damage: func(t *testing.T, dir string, files []string) {
				flipByte(t, files[0], headerSize+frameHeader+3)
			},
			wantText: fmt.Sprintf("%s at offset %d", segmentName(1), headerSize),
		},
		{
			name: "bad checkpoint", entries: 3, size: 10,
			damage: func(t *testing.T, dir string, files []string) {
				flipByte(t, filepath.Join(dir, checkpointName), 12)
			},
			wantText: checkpointName,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Dir = t.TempDir()
			s := openT(t, opts)
			for i := 0; i < tt.entries; i++ {
				appendT(t, s, strings.Repeat("x", tt.size))
			}
			if err := s.Ack(1); err != nil {
				t.Fatal(err)
			}
			s.Close()
			tt.damage(t, opts.Dir, segmentFiles(t, opts.Dir))

			s, err := Open(opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open after damage = nil, want an error")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("Open after damage = %v, want ErrCorrupt mentioning %q", err, tt.wantText)
			}
		})
	}
}

func flipByte(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSegmentRollingAndDeletion(t *testing.T) {
	opts := Options{Dir: t.TempDir(), SegmentBytes: 1024}
	s := openT(t, opts)
	data := strings.Repeat("d", 100) // 116-byte frames: 8 per segment
	for i := 0; i < 100; i++ {
		appendT(t, s, data)
	}
	files := segmentFiles(t, opts.Dir)
	if len(files) != 13 || s.Stats().Segments != 13 {
		t.Fatalf("%d segment files, Stats().Segments %d, want 13", len(files), s.Stats().Segments)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 1024 {
			t.Errorf("segment %s: size %v, %v; want at most 1024", f, fi.Size(), err)
		}
	}

	if err := s.Ack(50); err != nil {
		t.Fatal(err)
	}
	// Segments hold entries 1-8, 9-16, …: those ending at or before 48 are gone.
	if got := len(segmentFiles(t, opts.Dir)); got != 7 {
		t.Errorf("after Ack(50): %d segment files, want 7", got)
	}
	if got, want := s.Stats().Bytes, int64(50*116); got != want {
		t.Errorf("after Ack(50): Stats().Bytes = %d, want %d", got, want)
	}

	// A group bigger than a segment still goes in one piece.
	seqs := appendT(t, s, slices.Repeat([]string{data}, 20)...)
	if seqs[0] != 101 || seqs[19] != 120 {
		t.Errorf("Append(20 entries) = %v, want 101…120", seqs)
	}

	if err := s.Ack(120); err != nil {
		t.Fatal(err)
	}
	// Only the tail, which the writer owns, stays.
	if files := segmentFiles(t, opts.Dir); len(files) != 1 || filepath.Base(files[0]) != segmentName(101) {
		t.Errorf("after Ack(120): segments %v, want only %s", files, segmentName(101))
	}
	if st := s.Stats(); st.Bytes != 0 || st.Depth != 0 {
		t.Errorf("after Ack(120): Stats() = %+v, want no bytes and no depth", st)
	}
	s = reopenT(t, s, opts)
	if got := appendT(t, s, "x"); got[0] != 121 {
		t.Errorf("Append after reopen = %v, want [121]", got)
	}
}

// A crash between the checkpoint and the deletion of acknowledged segments leaves
// them behind; Open removes them.
func TestOpenRemovesAcknowledgedSegments(t *testing.T) {
	opts := Options{Dir: t.TempDir(), SegmentBytes: 200}
	s := openT(t, opts)
	for i := 0; i < 10; i++ {
		appendT(t, s, strings.Repeat("x", 50))
	}
	s.Close()
	if err := writeCheckpoint(opts.Dir, 7); err != nil {
		t.Fatal(err)
	}
	s = openT(t, opts)
	if got, want := len(segmentFiles(t, opts.Dir)), 2; got != want {
		t.Errorf("segments after Open = %d, want %d", got, want)
	}
	if got := readAllT(t, s); len(got) != 3 || !strings.HasPrefix(got[0], "8:") {
		t.Errorf("entries = %q, want 8, 9, 10", got)
	}
}

func TestFull(t *testing.T) {
	const frame = frameHeader + 10
	s := openT(t, Options{Dir: t.TempDir(), MaxBytes: 10 * frame, SegmentBytes: 4 * frame})
	entry := strings.Repeat("e", 10)
	for i := 0; i < 10; i++ {
		appendT(t, s, entry)
	}
	if _, err := s.Append(t.Context(), []byte(entry)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append over MaxBytes = %v, want ErrFull", err)
	}
	if !s.Stats().Full {
		t.Errorf("Stats().Full = false after ErrFull")
	}
	big := make([][]byte, 11)
	for i := range big {
		big[i] = []byte(entry)
	}
	if _, err := s.Append(t.Context(), big...); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of more than MaxBytes = %v, want ErrTooLarge", err)
	}

	if err := s.Ack(3); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Full {
		t.Errorf("Stats().Full = true after Ack freed space")
	}
	if got := appendT(t, s, entry, entry, entry); got[0] != 11 {
		t.Errorf("Append after Ack = %v, want [11 12 13]", got)
	}
	if _, err := s.Append(t.Context(), []byte(entry)); !errors.Is(err, ErrFull) {
		t.Errorf("Append over MaxBytes again = %v, want ErrFull", err)
	}
	if got := s.Stats().Bytes; got != 10*frame {
		t.Errorf("Stats().Bytes = %d, want %d", got, 10*frame)
	}
}

// Failed writes are undone: their entries never come back, and the sequence numbers
// they would have had go to the next Append.
func TestWriteFailure(t *testing.T) {
	eio := &os.PathError{Op: "sync", Path: "segment", Err: syscall.EIO}
	tests := []struct {
		name     string
		opts     Options
		failSync int  // fail the nth sync after the first Append (0: none)
		noSpace  bool // the write stops half way with ENOSPC
		wantFull bool
	}{
		{name: "fsync fails", failSync: 1},
		{name: "disk full", noSpace: true, wantFull: true},
		{name: "new segment fails", opts: Options{SegmentBytes: headerSize + 30}, failSync: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Dir = t.TempDir()
			s := openT(t, opts)
			appendT(t, s, "first")
			segs := segmentFiles(t, opts.Dir)
			sizeBefore := fileSize(t, segs[len(segs)-1])

			var mu sync.Mutex
			syncs, writes := 0, 0
			s.sync = func(f *os.File) error {
				mu.Lock()
				syncs++
				n := syncs
				mu.Unlock()
				if n == tt.failSync {
					return eio
				}
				return f.Sync()
			}
			s.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
				writes++
				if tt.noSpace && writes == 1 {
					n, _ := f.WriteAt(b[:len(b)/2], off)
					return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
				}
				return f.WriteAt(b, off)
			}

			_, err := s.Append(t.Context(), []byte("lost"), []byte("lost too"))
			if err == nil {
				t.Fatalf("Append with a failing disk = nil, want an error")
			}
			if got := errors.Is(err, ErrFull); got != tt.wantFull {
				t.Errorf("Append error %v: errors.Is(ErrFull) = %v, want %v", err, got, tt.wantFull)
			}
			if got := s.Stats().Full; got != tt.wantFull {
				t.Errorf("Stats().Full = %v, want %v", got, tt.wantFull)
			}
			if got := segmentFiles(t, opts.Dir); !slices.Equal(got, segs) {
				t.Errorf("segments after failure = %v, want %v", got, segs)
			}
			if got := fileSize(t, segs[len(segs)-1]); got != sizeBefore {
				t.Errorf("segment size after failure = %d, want %d", got, sizeBefore)
			}

			if got := appendT(t, s, "second"); !slices.Equal(got, []uint64{2}) {
				t.Errorf("Append after failure = %v, want [2]", got)
			}
			if s.Stats().Full {
				t.Errorf("Stats().Full = true after a successful Append")
			}
			want := []string{"1:first", "2:second"}
			if got := readAllT(t, s); !slices.Equal(got, want) {
				t.Errorf("entries = %q, want %q", got, want)
			}
			s = reopenT(t, s, opts)
			if got := readAllT(t, s); !slices.Equal(got, want) {
				t.Errorf("entries after reopen = %q, want %q", got, want)
			}
		})
	}
}

// When a failed write cannot be undone the spool refuses everything until reopened.
func TestUnusableAfterFailedUndo(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	s := openT(t, opts)
	appendT(t, s, "first")
	s.sync = func(*os.File) error { return syscall.EIO }
	for i := 0; i < 2; i++ {
		if _, err := s.Append(t.Context(), []byte("x")); !errors.Is(err, syscall.EIO) {
			t.Fatalf("Append %d with fsync failing = %v, want EIO", i, err)
		}
	}
	s = reopenT(t, s, opts)
	if got := appendT(t, s, "second"); got[0] != 2 {
		t.Errorf("Append after reopen = %v, want [2]", got)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// 64 goroutines append while a drainer reads and acknowledges: every entry gets a
// unique number and is read exactly once, and fsyncs are shared.
func TestConcurrentAppend(t *testing.T) {
	const writers, perWriter = 64, 40
	s := openT(t, Options{Dir: t.TempDir(), SegmentBytes: 64 << 10})
	// A disk where an fsync takes a millisecond, like a real one, so that appends
	// pile up behind it whatever the speed of the test machine's disk.
	s.sync = func(f *os.File) error {
		time.Sleep(time.Millisecond)
		return f.Sync()
	}

	var wg sync.WaitGroup
	appended := make([]map[uint64]string, writers)
	for w := range writers {
		appended[w] = map[uint64]string{}
		wg.Go(func() {
			for i := range perWriter {
				e := fmt.Sprintf("w%d-%d", w, i)
				entries := [][]byte{[]byte(e)}
				if i%5 == 0 {
					entries = append(entries, []byte(e+"+"))
				}
				seqs, err := s.Append(t.Context(), entries...)
				if err != nil {
					t.Errorf("Append(%s) = %v", e, err)
					return
				}
				for j, seq := range seqs {
					appended[w][seq] = string(entries[j])
				}
			}
		})
	}

	read := map[uint64]string{}
	drained := make(chan error)
	done := make(chan struct{})
	go func() {
		after := uint64(0)
		for {
			batch, err := s.Read(after, 50)
			if err != nil {
				drained <- err
				return
			}
			if len(batch) == 0 {
				select {
				case <-s.Notify():
					continue
				case <-done:
					if s.Stats().Depth == 0 {
						drained <- nil
						return
					}
					continue
				}
			}
			for _, e := range batch {
				if _, dup := read[e.Seq]; dup {
					drained <- fmt.Errorf("entry %d read twice", e.Seq)
					return
				}
				read[e.Seq] = string(e.Data)
			}
			after = batch[len(batch)-1].Seq
			if err := s.Ack(after); err != nil {
				drained <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	if err := <-drained; err != nil {
		t.Fatalf("drainer: %v", err)
	}

	all := map[uint64]string{}
	for _, m := range appended {
		for seq, e := range m {
			if _, dup := all[seq]; dup {
				t.Fatalf("sequence number %d given twice", seq)
			}
			all[seq] = e
		}
	}
	const appends = writers * perWriter
	if len(read) != len(all) {
		t.Errorf("read %d entries, appended %d", len(read), len(all))
	}
	for seq, e := range all {
		if read[seq] != e {
			t.Errorf("entry %d = %q, want %q", seq, read[seq], e)
		}
	}
	if syncs := s.syncs.Load(); syncs*4 > int64(appends) {
		t.Errorf("%d fsyncs for %d concurrent Appends, want under a quarter", syncs, appends)
	} else {
		t.Logf("%d fsyncs for %d concurrent Appends", syncs, appends)
	}
	if st := s.Stats(); st.Depth != 0 || st.Bytes != 0 || st.Segments != 1 {
		t.Errorf("Stats() after draining = %+v, want empty, one segment", st)
	}
}

func TestOldestAppend(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	s := openT(t, opts)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	s.now = func() time.Time { return now }

	if got := s.Stats().OldestAppend; !got.IsZero() {
		t.Errorf("OldestAppend of an empty spool = %v, want zero", got)
	}
	appendT(t, s, "1")
	now = t0.Add(500 * time.Millisecond)
	appendT(t, s, "2")
	now = t0.Add(2500 * time.Millisecond)
	appendT(t, s, "3")

	tests := []struct {
		ack  uint64
		want time.Time
	}{
		{0, t0},
		{1, t0}, // entry 2 was appended within a second of t0
		{2, t0.Add(2500 * time.Millisecond)},
		{3, time.Time{}},
	}
	for _, tt := range tests {
		if err := s.Ack(tt.ack); err != nil {
			t.Fatal(err)
		}
		if got := s.Stats().OldestAppend; !got.Equal(tt.want) {
			t.Errorf("after Ack(%d): OldestAppend = %v, want %v", tt.ack, got, tt.want)
		}
	}

	// After a restart the segment's creation time is the best lower bound.
	before := time.Now()
	appendT(t, s, "4")
	s = reopenT(t, s, opts)
	if got := s.Stats().OldestAppend; got.IsZero() || got.After(before) {
		t.Errorf("OldestAppend after reopen = %v, want non-zero, not after %v", got, before)
	}
}

func TestCloseAndLock(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	s := openT(t, opts)
	if s2, err := Open(opts); err == nil {
		s2.Close()
		t.Fatalf("second Open of %s = nil, want an error", opts.Dir)
	}
	appendT(t, s, "a")
	for i := 0; i < 2; i++ {
		if err := s.Close(); err != nil {
			t.Fatalf("Close() #%d = %v", i+1, err)
		}
	}
	if _, err := s.Append(t.Context(), []byte("b")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Read(0, 10); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if err := s.Ack(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close = %v, want ErrClosed", err)
	}
	s = openT(t, opts)
	if got := readAllT(t, s); !slices.Equal(got, []string{"1:a"}) {
		t.Errorf("entries after reopen = %q, want [1:a]", got)
	}
	sub := filepath.Join(opts.Dir, "new")
	s2 := openT(t, Options{Dir: sub})
	s2.Close()
	if fi, err := os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("Open created %s with mode %v, %v; want 0700", sub, fi.Mode().Perm(), err)
	}
}

// On a full disk the reserve file makes room for the checkpoint, so the drainer can
// still free space.
func TestAckOnFullDisk(t *testing.T) {
	opts := Options{Dir: t.TempDir(), SegmentBytes: 200}
	s := openT(t, opts)
	for i := 0; i < 10; i++ {
		appendT(t, s, strings.Repeat("x", 50))
	}
	reserve := filepath.Join(opts.Dir, reserveName)
	if fileSize(t, reserve) != reserveBytes {
		t.Fatalf("no %d-byte reserve file after Open", reserveBytes)
	}
	enospc := &os.PathError{Op: "write", Path: checkpointName + ".tmp", Err: syscall.ENOSPC}
	s.checkpoint = func(upTo uint64) error {
		if _, err := os.Stat(reserve); err == nil {
			return enospc // full until the reserve goes
		}
		return writeCheckpoint(opts.Dir, upTo)
	}
	if err := s.Ack(6); err != nil {
		t.Fatalf("Ack(6) on a full disk with a reserve = %v", err)
	}
	if got := len(segmentFiles(t, opts.Dir)); got != 2 {
		t.Errorf("after Ack(6): %d segment files, want 2", got)
	}
	if fileSize(t, reserve) != reserveBytes {
		t.Errorf("reserve file not recreated after segments were deleted")
	}

	s.checkpoint = func(uint64) error { return enospc }
	if err := s.Ack(8); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Ack(8) on a full disk without room = %v, want ENOSPC", err)
	}
	if got := s.Stats().Acked; got != 6 {
		t.Errorf("Stats().Acked after a failed Ack = %d, want 6", got)
	}
	s = reopenT(t, s, opts)
	if got := readAllT(t, s); len(got) != 4 || !strings.HasPrefix(got[0], "7:") {
		t.Errorf("entries after reopen = %q, want 7 to 10", got)
	}
}
