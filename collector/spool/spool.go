package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of [Options].
const (
	DefaultMaxBytes     = 1 << 30
	DefaultSegmentBytes = 64 << 20
)

// markInterval is how often the writer records (sequence number, time) pairs for
// [Stats.OldestAppend]: one per interval of activity, so memory grows with the age of
// the backlog, not with the number of entries, and the reported time is off by less
// than the interval.
const markInterval = time.Second

var (
	// ErrFull is wrapped by the error of [Spool.Append] when the unacknowledged
	// entries would exceed [Options.MaxBytes], or when the file system is full. Nothing
	// of that Append was acknowledged; it may succeed once the drainer catches up.
	ErrFull = errors.New("spool full")

	// ErrTooLarge is wrapped by the error of [Spool.Append] when one call's entries
	// could never fit: more than 16 MiB of frames, or more than [Options.MaxBytes].
	ErrTooLarge = errors.New("spool: append too large")

	// ErrClosed is returned by the methods of a closed [Spool].
	ErrClosed = errors.New("spool: closed")

	// ErrLocked is wrapped by the error of [Open] when another process holds the spool
	// open (a running server); [Peek] reads its progress meanwhile.
	ErrLocked = errors.New("spool: open in another process")
)

// Options configure [Open].
type Options struct {
	// Dir holds the spool's files. It is created with mode 0700 if missing.
	Dir string

	// MaxBytes bounds the unacknowledged frames (16 bytes of header per entry plus
	// its data) on disk; an Append that would go over it fails with [ErrFull]. Disk
	// use can exceed it by up to a segment of acknowledged frames not yet deleted,
	// plus a 64 KiB reserve file.
	// Zero means [DefaultMaxBytes].
	MaxBytes int64

	// SegmentBytes is the size at which a segment file is closed and a new one
	// started. Space is reclaimed a whole segment at a time, so smaller segments free
	// disk sooner and larger ones mean fewer files. Zero means [DefaultSegmentBytes].
	SegmentBytes int64

	// Logger receives recovery and failure reports. Nil discards them.
	Logger *slog.Logger

	// Now is the clock of the append times behind [Stats.OldestAppend] and of the
	// segments' creation times. Nil means time.Now.
	Now func() time.Time
}

// Entry is one spooled entry as handed to a drainer by [Spool.Read].
type Entry struct {
	Seq  uint64
	Data []byte
}

// Stats describe the backlog, for metrics and health checks.
type Stats struct {
	Depth int64 // entries appended but not acknowledged
	Bytes int64 // their frames' bytes, the quantity bounded by Options.MaxBytes

	// OldestAppend is when the oldest unacknowledged entry was appended, within a
	// second, or the zero time when Depth is 0. For entries recovered by Open it is
	// the creation time of their segment, so it may overstate their age.
	OldestAppend time.Time

	// Full reports that an Append was refused for lack of space (ErrFull) and that no
	// Append or Ack has succeeded since: the server is answering 503 to submissions.
	Full bool

	Acked    uint64 // highest acknowledged sequence number
	Last     uint64 // highest durably appended sequence number
	Segments int    // segment files on disk
}

// Spool is a durable write-ahead log of entries. Append is safe for concurrent use;
// Read and Ack are meant for a single drainer (they are safe to call concurrently but
// share one read cursor).
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	log      *slog.Logger
	lock     *os.File

	reqs      chan *request // unbuffered: a request sent is a request the writer owns
	closing   chan struct{}
	stopped   chan struct{}
	notify    chan struct{}
	closeOnce sync.Once
	closeErr  error

	// Owned by the writer goroutine (set before it starts).
	tail     *segment // the segment being appended to, the last of segs
	tailFile *os.File
	buf      []byte
	failed   error // sticky: a failed write could not be undone

	// Hooks for tests, replaced before the first Append.
	now        func() time.Time
	sync       func(*os.File) error
	writeAt    func(f *os.File, b []byte, off int64) (int, error)
	checkpoint func(upTo uint64) error
	syncs      atomic.Int64 // fsyncs of segment data, to observe group commit

	// drainMu serialises Read and Ack, so Ack never deletes a file Read is reading.
	drainMu sync.Mutex
	cursor  cursor

	// mu guards the fields below. The writer holds it only to publish a committed
	// group, never across I/O.
	mu      sync.Mutex
	segs    []*segment
	next    uint64 // sequence number of the next entry; written by the writer only
	acked   uint64
	unacked int64
	marks   []mark
	full    bool
	closed  bool
}

// segment describes one segment file. Its fields change under Spool.mu.
type segment struct {
	path     string
	first    uint64
	last     uint64 // first-1 while empty
	size     int64  // committed (fsynced) bytes, header included
	ackedEnd int64  // offset where the unacknowledged frames start
	created  time.Time
}

// cursor remembers where the last Read stopped, so the next one, which normally
// continues from there, need not scan the segment from its start.
type cursor struct {
	first uint64 // segment
	seq   uint64 // last entry returned
	off   int64  // offset just after it
}

type mark struct {
	seq uint64
	t   time.Time
}

type request struct {
	entries [][]byte
	size    int64 // bytes of frames
	done    chan result
}

type result struct {
	seqs []uint64
	err  error
}

// Open opens the spool in opts.Dir, creating it if needed, and recovers its state: the
// acknowledged sequence number from the checkpoint, the entries after it from the
// segments. A torn write at the end of the last segment is truncated; other damage is
// an error wrapping [ErrCorrupt]. Only one Spool may have a directory open at a time.
func Open(opts Options) (*Spool, error) {
	if opts.Dir == "" {
		return nil, errors.New("spool: open: no directory")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: open: %w", err)
	}
	lock, err := lockFile(filepath.Join(opts.Dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("spool: open: %w", err)
	}
	s := &Spool{
		dir:      opts.Dir,
		maxBytes: opts.MaxBytes,
		segBytes: opts.SegmentBytes,
		log:      log,
		lock:     lock,
		reqs:     make(chan *request),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
		notify:   make(chan struct{}, 1),
		now:      opts.Now,
		sync:     (*os.File).Sync,
		writeAt:  (*os.File).WriteAt,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.checkpoint = func(upTo uint64) error { return writeCheckpoint(s.dir, upTo) }
	if err := s.recover(); err != nil {
		if s.tailFile != nil {
			s.tailFile.Close()
		}
		lock.Close()
		return nil, fmt.Errorf("spool: open %s: %w", opts.Dir, err)
	}
	s.makeReserve()
	go s.run()
	st := s.Stats()
	log.Info("spool opened", "dir", s.dir, "segments", st.Segments, "acked", st.Acked,
		"last", st.Last, "depth", st.Depth, "bytes", st.Bytes)
	return s, nil
}

// recover rebuilds the in-memory state from the directory and opens the tail segment
// for writing.
func (s *Spool) recover() error {
	acked, err := readCheckpoint(s.dir)
	if err != nil {
		return err
	}
	s.acked = acked
	// A leftover temp file is an Ack that did not happen.
	if err := os.Remove(filepath.Join(s.dir, checkpointName+".tmp")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	firsts, err := listSegments(s.dir)
	if err != nil {
		return err
	}

	// A segment is fully acknowledged when the next one starts at or before acked+1:
	// Ack deletes those after its checkpoint, so a crash in between leaves some.
	var keep []uint64
	for i, first := range firsts {
		if i+1 < len(firsts) && firsts[i+1] <= acked+1 {
			path := filepath.Join(s.dir, segmentName(first))
			if err := os.Remove(path); err != nil {
				return err
			}
			s.log.Info("spool removed acknowledged segment", "file", path)
			continue
		}
		keep = append(keep, first)
	}
	if len(keep) > 0 && keep[0] > acked+1 {
		return fmt.Errorf("entries %d to %d are missing: checkpoint at %d, first segment %s: %w",
			acked+1, keep[0]-1, acked, segmentName(keep[0]), ErrCorrupt)
	}

	for i, first := range keep {
		g, err := s.recoverSegment(first, i == len(keep)-1)
		if err != nil {
			return err
		}
		if g == nil {
			continue // the last segment's creation was torn; it was removed
		}
		if len(s.segs) > 0 && g.first != s.segs[len(s.segs)-1].last+1 {
			return &corruptError{path: g.path, reason: fmt.Sprintf("segment starts at %d, previous one ends at %d",
				g.first, s.segs[len(s.segs)-1].last)}
		}
		s.segs = append(s.segs, g)
		if g.last > acked {
			s.unacked += g.size - g.ackedEnd
			s.marks = append(s.marks, mark{seq: max(g.first, acked+1), t: g.created})
		}
	}

	s.next = acked + 1
	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		if last.last < acked {
			return &corruptError{path: last.path, off: last.size,
				reason: fmt.Sprintf("checkpoint at %d but the log ends at %d", acked, last.last)}
		}
		s.next = last.last + 1
		s.tail = last
		s.tailFile, err = os.OpenFile(last.path, os.O_RDWR, 0)
		return err
	}
	return s.createSegment()
}

// recoverSegment scans one segment. In the last segment a bad frame and what follows
// are a torn write, truncated; anywhere else they are corruption. It returns nil when
// the last segment has a torn header (its creation was interrupted) and was removed.
func (s *Spool) recoverSegment(first uint64, last bool) (*segment, error) {
	path := filepath.Join(s.dir, segmentName(first))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()

	hdr := make([]byte, headerSize)
	n, err := f.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	hfirst, created, herr := decodeHeader(hdr[:n])
	if herr != nil {
		// The header is fsynced before any frame is written, so a bad header is a torn
		// creation only in the last segment, and only if nothing follows it.
		if last && size <= headerSize {
			s.log.Warn("spool removed segment with torn header", "file", path, "bytes", size)
			if err := os.Remove(path); err != nil {
				return nil, err
			}
			return nil, syncDir(s.dir)
		}
		return nil, &corruptError{path: path, reason: herr.Error()}
	}
	if hfirst != first {
		return nil, &corruptError{path: path, reason: fmt.Sprintf("header says first entry %d", hfirst)}
	}

	g := &segment{path: path, first: first, last: first - 1, size: headerSize, ackedEnd: headerSize, created: created}
	fr := newFrameReader(f, path, headerSize, size)
	for {
		off := fr.off
		seq, _, err := fr.next()
		if errors.Is(err, io.EOF) {
			return g, nil
		}
		if err == nil && seq != g.last+1 {
			err = &corruptError{path: path, off: off, reason: fmt.Sprintf("sequence number %d, want %d", seq, g.last+1)}
		}
		if err == nil {
			g.last, g.size = seq, fr.off
			if seq <= s.acked {
				g.ackedEnd = fr.off
			}
			continue
		}
		var ce *corruptError
		if !errors.As(err, &ce) || !last || size-off > maxGroupBytes || g.last < s.acked {
			return nil, err
		}
		s.log.Warn("spool truncated torn write", "file", path, "offset", off,
			"bytes", size-off, "reason", ce.reason)
		if err := f.Truncate(off); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		return g, nil
	}
}

// createSegment starts a new tail segment for the entries from s.next on: header
// written and fsynced, then the directory fsynced, so the file and its name survive a
// crash before any frame is acknowledged in it.
func (s *Spool) createSegment() error {
	path := filepath.Join(s.dir, segmentName(s.next))
	created := s.now()
	// O_TRUNC: a file by this name can only be the remains of a creation that failed,
	// since no entry numbered s.next was ever acknowledged.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(encodeHeader(s.next, created))
	if err == nil {
		err = s.sync(f)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		f.Close()
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			// A half-made segment after the tail would turn a later torn write in
			// the tail into corruption at recovery; stop writing instead.
			s.failed = fmt.Errorf("remove failed segment %s: %w", path, rerr)
		}
		return err
	}
	g := &segment{path: path, first: s.next, last: s.next - 1, size: headerSize, ackedEnd: headerSize, created: created}
	if s.tailFile != nil {
		s.tailFile.Close()
	}
	s.tail, s.tailFile = g, f
	s.mu.Lock()
	s.segs = append(s.segs, g)
	s.mu.Unlock()
	return nil
}

// Append durably appends entries and returns their sequence numbers. When it returns
// nil the entries are fsynced; when it returns an error none of them is acknowledged.
// The error wraps [ErrFull] when there is no room (over MaxBytes or a full disk),
// [ErrTooLarge] when the call alone is too big, [ErrClosed] after Close, or the
// context's error if ctx ended before the writer took the entries. Once the writer
// has them, Append waits for the fsync whatever ctx does, so that its answer is true.
// The entries must not be modified until Append returns.
func (s *Spool) Append(ctx context.Context, entries ...[]byte) ([]uint64, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	var size int64
	for _, e := range entries {
		size += frameHeader + int64(len(e))
	}
	if size > maxGroupBytes || size > s.maxBytes {
		return nil, fmt.Errorf("spool: append %d bytes: %w", size, ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spool: append: %w", err)
	}
	r := &request{entries: entries, size: size, done: make(chan result, 1)}
	select {
	case s.reqs <- r:
	case <-s.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("spool: append: %w", ctx.Err())
	}
	res := <-r.done
	return res.seqs, res.err
}

// run is the writer: it takes one request, then every request already waiting, and
// commits them as one group.
func (s *Spool) run() {
	defer close(s.stopped)
	var group []*request
	var carry *request // did not fit in the previous group
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case <-s.closing:
				return
			default:
			}
			select {
			case <-s.closing:
				return
			case first = <-s.reqs:
			}
		}
		group = append(group[:0], first)
		size := first.size
	collect:
		for {
			select {
			case r := <-s.reqs:
				if size+r.size > maxGroupBytes {
					carry = r
					break collect
				}
				group = append(group, r)
				size += r.size
			default:
				break collect
			}
		}
		s.commit(group)
		clear(group) // let the requests' entries be collected
	}
}

// commit writes and fsyncs one group, then answers each request.
func (s *Spool) commit(group []*request) {
	if s.failed != nil {
		for _, r := range group {
			r.done <- result{err: fmt.Errorf("spool: append: unusable until reopened: %w", s.failed)}
		}
		return
	}

	// Admit requests while they fit under MaxBytes. Acks running meanwhile only lower
	// s.unacked, so deciding on this snapshot never admits too much.
	s.mu.Lock()
	unacked := s.unacked
	s.mu.Unlock()
	var size int64
	admitted := group[:0]
	for _, r := range group {
		if unacked+size+r.size > s.maxBytes {
			s.setFull(true)
			r.done <- result{err: fmt.Errorf("spool: append: %d bytes unacknowledged, limit %d: %w",
				unacked+size, s.maxBytes, ErrFull)}
			continue
		}
		admitted = append(admitted, r)
		size += r.size
	}
	group = admitted
	if len(group) == 0 {
		return
	}

	if s.tail.size > headerSize && s.tail.size+size > s.segBytes {
		if err := s.createSegment(); err != nil {
			s.fail(group, fmt.Errorf("create segment: %w", err))
			return
		}
	}

	first := s.next
	seq := first
	s.buf = s.buf[:0]
	for _, r := range group {
		for _, e := range r.entries {
			s.buf = appendFrame(s.buf, seq, e)
			seq++
		}
	}
	off := s.tail.size
	_, err := s.writeAt(s.tailFile, s.buf, off)
	if err == nil {
		s.syncs.Add(1)
		err = s.sync(s.tailFile)
	}
	if err != nil {
		s.undo(off)
		s.fail(group, err)
		return
	}
	if cap(s.buf) > 4<<20 {
		s.buf = nil // do not pin a large buffer after a burst of big Appends
	}

	now := s.now()
	s.mu.Lock()
	s.tail.size += size
	s.tail.last = seq - 1
	s.next = seq
	s.unacked += size
	s.full = false
	if len(s.marks) == 0 || now.Sub(s.marks[len(s.marks)-1].t) >= markInterval {
		s.marks = append(s.marks, mark{seq: first, t: now})
	}
	s.mu.Unlock()

	select {
	case s.notify <- struct{}{}:
	default:
	}
	seq = first
	for _, r := range group {
		seqs := make([]uint64, len(r.entries))
		for i := range seqs {
			seqs[i] = seq
			seq++
		}
		r.done <- result{seqs: seqs}
	}
}

// undo truncates a failed group away, so that none of it can be replayed. Every
// earlier group was fsynced before this one was written, so once the truncation is
// fsynced the file holds exactly the acknowledged entries and writing can go on, even
// after a failed fsync (whose dirty pages Linux may have dropped: they were all this
// group's). If the undo fails too, the file's tail is unknown and the spool stops
// accepting entries.
func (s *Spool) undo(off int64) {
	err := s.tailFile.Truncate(off)
	if err == nil {
		err = s.sync(s.tailFile)
	}
	if err != nil {
		s.failed = fmt.Errorf("undo failed write to %s: %w", s.tail.path, err)
		s.log.Error("spool unusable: cannot undo failed write", "file", s.tail.path, "err", err)
	}
}

// fail answers every request of a group with err, marked [ErrFull] when the disk is.
func (s *Spool) fail(group []*request, err error) {
	s.log.Error("spool write failed", "entries", len(group), "err", err)
	if isNoSpace(err) {
		s.setFull(true)
		err = fmt.Errorf("spool: append: %w: %w", ErrFull, err)
	} else {
		err = fmt.Errorf("spool: append: %w", err)
	}
	for _, r := range group {
		r.done <- result{err: err}
	}
}

func (s *Spool) setFull(full bool) {
	s.mu.Lock()
	s.full = full
	s.mu.Unlock()
}

// Notify returns a channel that receives after entries were appended, so an idle
// drainer can sleep. A receive may be spurious; an append is never missed as long as
// the drainer calls Read after each receive. The channel is never closed.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Read returns up to n of the oldest durable entries with sequence numbers above
// after, in order, or none when the drainer has caught up. Entries already
// acknowledged are never returned, so a drainer may start with after 0. Reading the
// same range again returns the same entries, so a failed insert is retried by
// calling Read with the same after. The returned data is the caller's. An error wraps
// [ErrCorrupt] when a frame fails its checksum, or is [ErrClosed].
func (s *Spool) Read(after uint64, n int) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	s.drainMu.Lock()
	defer s.drainMu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	after = max(after, s.acked)
	var segs []segment // copies: the committed part of a segment never changes
	for _, g := range s.segs {
		if g.last > after {
			segs = append(segs, *g)
		}
	}
	s.mu.Unlock()

	var out []Entry
	for _, g := range segs {
		start := g.ackedEnd
		if s.cursor.first == g.first && s.cursor.seq == after && s.cursor.off >= start {
			start = s.cursor.off
		}
		end, err := scanSegment(g, start, func(seq uint64, data []byte) bool {
			if seq > after {
				out = append(out, Entry{Seq: seq, Data: append([]byte(nil), data...)})
			}
			return len(out) < n
		})
		if err != nil {
			return nil, fmt.Errorf("spool: read: %w", err)
		}
		if len(out) > 0 {
			s.cursor = cursor{first: g.first, seq: out[len(out)-1].Seq, off: end}
		}
		if len(out) >= n {
			break
		}
	}
	return out, nil
}

// scanSegment calls fn for the frames of g's committed part from offset start until fn
// returns false, and returns the offset after the last frame passed to fn.
func scanSegment(g segment, start int64, fn func(seq uint64, data []byte) bool) (int64, error) {
	f, err := os.Open(g.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fr := newFrameReader(f, g.path, start, g.size)
	for {
		seq, data, err := fr.next()
		if errors.Is(err, io.EOF) {
			return fr.off, nil
		}
		if err != nil {
			return 0, err
		}
		if !fn(seq, data) {
			return fr.off, nil
		}
	}
}

// Ack durably records that every entry up to and including upTo is done with: the
// checkpoint is replaced atomically before Ack returns, the space of those entries
// counts no more against MaxBytes, and segments holding only acknowledged entries are
// deleted. Acknowledging a number at or below an earlier Ack does nothing; one above
// the last appended entry is an error.
func (s *Spool) Ack(upTo uint64) error {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if upTo <= s.acked {
		s.mu.Unlock()
		return nil
	}
	if upTo >= s.next {
		s.mu.Unlock()
		return fmt.Errorf("spool: ack %d: only %d entries appended", upTo, s.next-1)
	}
	var g segment
	for _, x := range s.segs {
		if x.first <= upTo && upTo <= x.last {
			g = *x
			break
		}
	}
	s.mu.Unlock()

	// Where the unacknowledged frames will start in g, for the byte accounting: known
	// from the cursor when the drainer acknowledges what it just read.
	end := g.size
	if upTo < g.last {
		if s.cursor.first == g.first && s.cursor.seq == upTo {
			end = s.cursor.off
		} else {
			var err error
			end, err = scanSegment(g, g.ackedEnd, func(seq uint64, _ []byte) bool { return seq < upTo })
			if err != nil {
				return fmt.Errorf("spool: ack %d: %w", upTo, err)
			}
		}
	}

	err := s.checkpoint(upTo)
	if isNoSpace(err) && s.dropReserve() {
		err = s.checkpoint(upTo)
	}
	if err != nil {
		return fmt.Errorf("spool: ack %d: %w", upTo, err)
	}

	s.mu.Lock()
	var drop []string
	keep := make([]*segment, 0, len(s.segs))
	for i, x := range s.segs {
		newEnd := x.ackedEnd
		switch {
		case x.last <= upTo:
			newEnd = x.size
		case x.first == g.first:
			newEnd = end
		}
		s.unacked -= newEnd - x.ackedEnd
		x.ackedEnd = newEnd
		// The tail stays: the writer appends to it.
		if x.last <= upTo && i < len(s.segs)-1 {
			drop = append(drop, x.path)
			continue
		}
		keep = append(keep, x)
	}
	s.segs = keep
	s.acked = upTo
	s.full = false
	for len(s.marks) > 1 && s.marks[1].seq <= upTo+1 {
		s.marks = s.marks[1:]
	}
	s.mu.Unlock()

	// The checkpoint already says these are done; a file that stays is removed at the
	// next Open, so a failure here costs disk space only until then.
	for _, path := range drop {
		if err := os.Remove(path); err != nil {
			s.log.Warn("spool cannot remove acknowledged segment", "file", path, "err", err)
		}
	}
	if len(drop) > 0 {
		s.makeReserve()
	}
	return nil
}

// makeReserve creates the reserve file if it is missing. The reserve is space held
// back for Ack: on a full disk, writing the checkpoint needs a new block, and without
// one no segment could ever be deleted to make room. Failing to create it is logged,
// not fatal: the spool works without it until the disk fills.
func (s *Spool) makeReserve() {
	path := filepath.Join(s.dir, reserveName)
	if fi, err := os.Stat(path); err == nil && fi.Size() == reserveBytes {
		return
	}
	err := os.WriteFile(path, make([]byte, reserveBytes), 0o600)
	if err != nil {
		os.Remove(path)
		s.log.Warn("spool cannot create reserve file", "file", path, "err", err)
	}
}

// dropReserve deletes the reserve file to make room for a checkpoint, and reports
// whether there was one.
func (s *Spool) dropReserve() bool {
	err := os.Remove(filepath.Join(s.dir, reserveName))
	if err == nil {
		s.log.Warn("spool disk full: reserve file used for a checkpoint")
	}
	return err == nil
}

// Stats returns the current backlog.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Depth:    int64(s.next - 1 - s.acked),
		Bytes:    s.unacked,
		Full:     s.full,
		Acked:    s.acked,
		Last:     s.next - 1,
		Segments: len(s.segs),
	}
	if st.Depth > 0 && len(s.marks) > 0 {
		st.OldestAppend = s.marks[0].t
	}
	return st
}

// Close stops the writer once the group it is writing, if any, is durable; Appends
// waiting for a later group return [ErrClosed]. Close is idempotent.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.stopped
		s.drainMu.Lock()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.drainMu.Unlock()
		err := s.tailFile.Close()
		if lerr := s.lock.Close(); err == nil {
			err = lerr
		}
		if err != nil {
			s.closeErr = fmt.Errorf("spool: close: %w", err)
		}
	})
	return s.closeErr
}
