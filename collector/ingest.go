package collector

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	// The records of the spool are encoded and decoded on the hot path of every
	// submission: goccy/go-json has encoding/json's semantics at a third of the CPU.
	gojson "github.com/goccy/go-json"

	"github.com/tamtam-ngo/tamtam/collector/spool"
)

// Store is where records become durable. It is implemented by package queries.
type Store interface {
	// Fingerprints returns the stored fingerprint of each of ids already stored.
	Fingerprints(ctx context.Context, ids []string) (map[string]string, error)
	// SubmissionIDs calls fn with every stored submission id (and returns the count).
	SubmissionIDs(ctx context.Context, fn func(id string)) (int, error)
	// InsertRecords stores recs in one atomic insert, or returns an error and stores none.
	InsertRecords(ctx context.Context, recs []Record) error
}

// Outcome is what became of one record given to [Ingester.Submit].
type Outcome int

// The outcomes.
const (
	Stored   Outcome = iota + 1 // new, now durable (201)
	Replayed                    // the same id with the same content was already accepted (200)
	Conflict                    // the same id with other content was already accepted (409)
)

// ErrClosed is returned by [Ingester.Submit] once the ingester is closing.
var ErrClosed error = &Error{Code: CodeUnavailable, Key: "api.shutting_down", Message: "the server is shutting down; retry later"}

// IngesterOptions configures an Ingester.
type IngesterOptions struct {
	Logger *slog.Logger
	// MaxBatch bounds the rows of one commit; requests queue behind a full batch.
	MaxBatch int // 0: 10,000
	// CommitTimeout bounds one lookup-and-insert round trip to the store.
	CommitTimeout time.Duration // 0: 30 s
	Metrics       *Metrics      // nil: none
	// Spool, when set, is where records become durable: a submission is acknowledged
	// once fsynced there, and a drainer copies the spool to the store in batches. Without
	// it, each acknowledgement waits for the store's insert. Leave it nil for none (not a
	// typed nil *spool.Spool, which would be a journal that panics).
	Spool Journal
	// DrainTimeout bounds how long Close keeps draining the spool to the store; what is
	// left stays in the spool for the next start.
	DrainTimeout time.Duration // 0: 30 s
	// StoreTimeout bounds one store call of the drainer, so that a hung server is
	// noticed (and logged) quickly.
	StoreTimeout time.Duration // 0: 5 s
	// Now is the clock of the pause in store lookups after one failed; nil: time.Now.
	Now func() time.Time
}

// Journal is the durable local log the ingester writes through before the store: an
// append is acknowledged once on disk, and a single drainer reads entries in order and
// acknowledges those the store holds. [spool.Spool] implements it; the ingester depends
// only on these methods so that its pipeline can be read (and tested) apart from the
// file format.
type Journal interface {
	// Append makes entries durable and returns their sequence numbers. It fails with an
	// error wrapping [spool.ErrFull] when there is no room.
	Append(ctx context.Context, entries ...[]byte) ([]uint64, error)
	// Read returns up to n entries after sequence number after, in order.
	Read(after uint64, n int) ([]spool.Entry, error)
	// Ack forgets the entries up to and including upTo.
	Ack(upTo uint64) error
	// Notify is signalled when entries are appended.
	Notify() <-chan struct{}
	// Stats describes the backlog: its depth and whether appends are refused.
	Stats() spool.Stats
}

var _ Journal = (*spool.Spool)(nil)

// Ingester makes records durable with group commit: concurrent requests wait while one
// batch is committed, then the next batch carries all of them in a single lookup and a
// single write. A per-request insert runs at a few hundred rows per second on ClickHouse;
// a shared one reaches hundreds of thousands.
//
// The ingester is also where retries are told apart (same id, same fingerprint: replay;
// other fingerprint: conflict). Batches are committed one at a time, so two concurrent
// retries of one id can never both be accepted by this process.
//
// With a spool, the write is an fsynced append to the local log, and a drainer inserts
// the log into the store, skipping ids the store already has, so that a replay after a
// crash (the drainer died between insert and checkpoint) or a retry accepted while the
// store was unreachable is never counted twice. While the store is down, ingest goes on
// into the spool; when the spool is full, Submit fails with CodeUnavailable (503).
type Ingester struct {
	store Store
	log   *slog.Logger
	met   *Metrics
	max   int
	tmo   time.Duration
	spool Journal // nil: records go straight to the store
	drain time.Duration
	opTmo time.Duration
	now   func() time.Time

	reqs   chan *commitRequest
	quit   chan struct{}
	done   chan struct{}
	closed sync.Once

	// pending holds the fingerprints of records in the spool that the drainer has not
	// yet confirmed in the store, so that a retry arriving meanwhile is recognised.
	// skipLookupUntil spares requests the lookup while the store is failing.
	mu              sync.Mutex
	pending         map[string]*inflight
	skipLookupUntil time.Time
	full            bool // the last append found the spool full
	// known is a Bloom filter of every id accepted, loaded from the store at start:
	// an id it has never seen is new without asking the store, which spares most
	// batches a round trip. A "maybe" (a real retry, or 0.1% of new ids) asks.
	known *bloom.BloomFilter

	drainQuit chan struct{}
	drainDone chan struct{}

	// Spooled commits are pipelined: while one batch's append waits for its fsync, the
	// next batch is classified and appended (the spool coalesces them into one fsync).
	appends chan struct{} // bounds the appends in flight
	flying  sync.WaitGroup
}

// inflight is a record accepted into the spool and not yet confirmed in the store.
type inflight struct {
	fp string
	w  *write
}

// write is one append to the spool; done closes when it ended, err says how.
type write struct {
	done chan struct{}
	err  error
}

// durable is the write of records recovered from the spool at start.
var durable = func() *write { w := &write{done: make(chan struct{})}; close(w.done); return w }()

// maxAppendsInFlight bounds the pipelined appends; more queue behind them.
const maxAppendsInFlight = 8

type commitRequest struct {
	recs []Record
	out  []Outcome
	err  error
	done chan struct{}
}

// NewIngester starts an ingester committing to store (through opts.Spool if set). With a
// spool, records left in it by an earlier run are drained first. Close it to stop.
func NewIngester(store Store, opts IngesterOptions) (*Ingester, error) {
	in := &Ingester{
		store:     store,
		log:       opts.Logger,
		met:       opts.Metrics,
		max:       opts.MaxBatch,
		tmo:       opts.CommitTimeout,
		spool:     opts.Spool,
		drain:     opts.DrainTimeout,
		opTmo:     opts.StoreTimeout,
		now:       opts.Now,
		reqs:      make(chan *commitRequest),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		pending:   map[string]*inflight{},
		appends:   make(chan struct{}, maxAppendsInFlight),
		drainQuit: make(chan struct{}),
		drainDone: make(chan struct{}),
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.max <= 0 {
		in.max = 10_000
	}
	if in.tmo <= 0 {
		in.tmo = 30 * time.Second
	}
	if in.drain <= 0 {
		in.drain = 30 * time.Second
	}
	if in.opTmo <= 0 {
		in.opTmo = 5 * time.Second
	}
	if in.spool != nil {
		if err := in.loadKnown(); err != nil {
			return nil, err
		}
		// Recognise retries of what an earlier run accepted but did not drain.
		if err := in.scanSpool(func(rec Record, _ uint64) {
			in.pending[rec.SubmissionID] = &inflight{fp: rec.Fingerprint, w: durable}
			in.known.AddString(rec.SubmissionID)
		}); err != nil {
			return nil, err
		}
		go in.drainLoop()
	} else {
		close(in.drainDone)
	}
	go in.run()
	return in, nil
}

// loadKnown fills the Bloom filter with the ids the store holds, sized for twice as many
// (at least a million) at a 0.1% false-positive rate: about 15 bits an id.
func (in *Ingester) loadKnown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var ids []string
	n, err := in.store.SubmissionIDs(ctx, func(id string) { ids = append(ids, id) })
	if err != nil {
		return err
	}
	in.known = bloom.NewWithEstimates(uint(max(2*n, 1_000_000)), 0.001)
	for _, id := range ids {
		in.known.AddString(id)
	}
	in.log.Info("submission ids loaded", "ids", n)
	return nil
}

// Submit makes recs durable together and returns one outcome per record, in order. When
// it returns an error nothing of recs was accepted by this call. Once queued, a request is
// committed even if ctx ends meanwhile, and Submit waits for it: answering "failed" for a
// record that is then stored would break the promise that non-2xx stores nothing.
func (in *Ingester) Submit(ctx context.Context, recs []Record) ([]Outcome, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	req := &commitRequest{recs: recs, done: make(chan struct{})}
	select {
	case in.reqs <- req:
	case <-in.quit:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, &Error{Code: CodeUnavailable, Key: "api.request_ended", Message: "the request ended before it was queued; retry", Err: ctx.Err()}
	}
	<-req.done
	return req.out, req.err
}

// Ready reports whether a submission can be made durable now: false while the spool is
// full (or, without a spool, never false here: the store's health is checked apart).
func (in *Ingester) Ready() bool {
	return in.spool == nil || !in.spool.Stats().Full
}

// Close stops accepting, commits what is queued, drains the spool to the store for up to
// DrainTimeout, and returns. It does not close the spool.
func (in *Ingester) Close() {
	in.closed.Do(func() {
		close(in.quit)
		<-in.done
		in.flying.Wait()
		close(in.drainQuit)
	})
	<-in.drainDone
}

func (in *Ingester) run() {
	defer close(in.done)
	for {
		var first *commitRequest
		select {
		case first = <-in.reqs:
		case <-in.quit:
			return
		}
		batch, rows := []*commitRequest{first}, len(first.recs)
	fill:
		for rows < in.max {
			select {
			case r := <-in.reqs:
				batch = append(batch, r)
				rows += len(r.recs)
			default:
				break fill
			}
		}
		in.commit(batch, rows)
	}
}

// commit classifies the records of the batch, writes what is new, and answers every
// request. It has its own context: a commit that started must finish or fail as a whole.
func (in *Ingester) commit(batch []*commitRequest, rows int) {
	if in.spool != nil {
		in.commitSpooled(batch, rows)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), in.tmo)
	defer cancel()
	err := in.classifyAndWrite(ctx, batch, rows)
	for _, r := range batch {
		if err != nil {
			r.out, r.err = nil, err
		}
		close(r.done)
	}
}

func (in *Ingester) classifyAndWrite(ctx context.Context, batch []*commitRequest, rows int) error {
	start := time.Now()
	seen, err := in.lookup(ctx, batch, rows)
	if err != nil {
		return err
	}
	fresh := make([]Record, 0, rows)
	for _, r := range batch {
		r.out = make([]Outcome, len(r.recs))
		for i, rec := range r.recs {
			if r.out[i] = classify(seen, rec); r.out[i] == Stored {
				fresh = append(fresh, rec)
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := in.store.InsertRecords(ctx, fresh); err != nil {
		in.met.storeError("insert")
		in.log.Error("insert failed", "rows", len(fresh), "err", err)
		return &Error{Code: CodeUnavailable, Key: "api.store_unavailable", Message: "the store is unavailable; retry later", Err: err}
	}
	in.met.batch(len(fresh), time.Since(start).Seconds())
	return nil
}

// classify tells a record apart from what was already accepted (seen, by id), and adds it
// to seen when it is new. A different fingerprint is other content, or the same content
// under a key of an earlier epoch: Conflict is the answer that never double-counts.
func classify(seen map[string]string, rec Record) Outcome {
	fp, exists := seen[rec.SubmissionID]
	switch {
	case !exists:
		seen[rec.SubmissionID] = rec.Fingerprint
		return Stored
	case fp == rec.Fingerprint:
		return Replayed
	}
	return Conflict
}

// lookup returns the fingerprints the store holds for the ids of the batch.
func (in *Ingester) lookup(ctx context.Context, batch []*commitRequest, rows int) (map[string]string, error) {
	seen := make(map[string]string, rows)
	ids := make([]string, 0, rows)
	for _, r := range batch {
		for _, rec := range r.recs {
			ids = append(ids, rec.SubmissionID)
		}
	}
	if err := in.storeLookup(ctx, ids, seen); err != nil {
		return nil, err
	}
	return seen, nil
}

// storeLookup adds to seen the fingerprints the store holds for ids. With a spool, a
// store that is slow or down does not hold requests: the lookup gives up quickly, is
// skipped for a few seconds after a failure, and the drainer deduplicates instead.
func (in *Ingester) storeLookup(ctx context.Context, ids []string, seen map[string]string) error {
	in.mu.Lock()
	skip := in.spool != nil && in.now().Before(in.skipLookupUntil)
	in.mu.Unlock()
	if len(ids) == 0 || skip {
		return nil
	}
	lookupCtx := ctx
	if in.spool != nil {
		// Do not hold requests for a store that is slow or down: the spool is the
		// durable place, and the drainer deduplicates.
		var cancel context.CancelFunc
		lookupCtx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
	}
	stored, err := in.store.Fingerprints(lookupCtx, ids)
	if err != nil {
		in.met.storeError("lookup")
		if in.spool != nil {
			in.log.Debug("fingerprint lookup failed; accepting into the spool", "rows", len(ids), "err", err)
			in.mu.Lock()
			in.skipLookupUntil = in.now().Add(5 * time.Second)
			in.mu.Unlock()
			return nil
		}
		in.log.Error("fingerprint lookup failed", "rows", len(ids), "err", err)
		return &Error{Code: CodeUnavailable, Key: "api.store_unavailable", Message: "the store is unavailable; retry later", Err: err}
	}
	for id, fp := range stored {
		seen[id] = fp
	}
	return nil
}

// commitSpooled classifies a batch against the records in flight, the Bloom filter and
// (for a "maybe") the store, starts the append of what is new, and returns to take the
// next batch. Each request is answered when every write it depends on has ended: its
// own records' append, and the appends of earlier records it replays. A failed write
// fails every request that depends on it, so nothing is acknowledged before it is durable.
func (in *Ingester) commitSpooled(batch []*commitRequest, rows int) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), in.tmo)
	seen := make(map[string]string, rows)
	deps := make([][]*write, len(batch))
	var ask []string
	in.mu.Lock()
	for ri, r := range batch {
		for _, rec := range r.recs {
			if p := in.pending[rec.SubmissionID]; p != nil {
				seen[rec.SubmissionID] = p.fp
				deps[ri] = append(deps[ri], p.w)
			} else if in.known.TestString(rec.SubmissionID) {
				ask = append(ask, rec.SubmissionID)
			}
		}
	}
	in.mu.Unlock()
	if err := in.storeLookup(ctx, ask, seen); err != nil {
		in.answer(batch, nil, err)
		cancel()
		return
	}
	w := &write{done: make(chan struct{})}
	fresh := make([]Record, 0, rows)
	freshIDs := map[string]bool{}
	for ri, r := range batch {
		r.out = make([]Outcome, len(r.recs))
		for i, rec := range r.recs {
			repeat := freshIDs[rec.SubmissionID] // of a record of this very batch
			if r.out[i] = classify(seen, rec); r.out[i] == Stored {
				freshIDs[rec.SubmissionID] = true
				fresh = append(fresh, rec)
			}
			if r.out[i] == Stored || repeat {
				deps[ri] = append(deps[ri], w)
			}
		}
	}
	if len(fresh) == 0 {
		close(w.done)
		in.answer(batch, deps, nil)
		cancel()
		return
	}
	entries := make([][]byte, len(fresh))
	for i, rec := range fresh {
		b, err := gojson.Marshal(rec)
		if err != nil {
			in.answer(batch, nil, &Error{Code: CodeInternal, Key: "api.internal", Message: "internal error", Err: err})
			cancel()
			return
		}
		entries[i] = b
	}
	in.mu.Lock()
	for _, rec := range fresh {
		in.pending[rec.SubmissionID] = &inflight{fp: rec.Fingerprint, w: w}
		in.known.AddString(rec.SubmissionID)
	}
	in.mu.Unlock()
	in.appends <- struct{}{}
	in.flying.Add(1)
	go func() {
		defer in.flying.Done()
		defer cancel()
		_, err := in.spool.Append(ctx, entries...)
		w.err = in.appendError(err, len(fresh))
		if w.err != nil {
			in.mu.Lock()
			for _, rec := range fresh {
				if p := in.pending[rec.SubmissionID]; p != nil && p.w == w {
					delete(in.pending, rec.SubmissionID)
				}
			}
			in.mu.Unlock()
		}
		close(w.done)
		<-in.appends
		in.answer(batch, deps, nil)
		if w.err == nil {
			in.met.batch(len(fresh), time.Since(start).Seconds())
		}
	}()
}

// answer answers every request of a batch: with err if set, else once the writes it
// depends on have ended, with the first of their errors if any.
func (in *Ingester) answer(batch []*commitRequest, deps [][]*write, err error) {
	for ri, r := range batch {
		rerr := err
		if rerr == nil {
			for _, d := range deps[ri] {
				<-d.done
				if d.err != nil && rerr == nil {
					rerr = d.err
				}
			}
		}
		if rerr != nil {
			r.out, r.err = nil, rerr
		}
		close(r.done)
	}
}

// appendError turns a spool error into the error of the requests, and logs a change of
// the spool's state (full, accepting again) once.
func (in *Ingester) appendError(err error, rows int) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case err == nil:
		if in.full {
			in.log.Info("spool accepting again")
			in.full = false
		}
		return nil
	case errors.Is(err, spool.ErrFull):
		if !in.full {
			in.log.Warn("spool full: refusing submissions until it drains", "err", err)
			in.full = true
		}
		return &Error{Code: CodeUnavailable, Key: "api.store_full", Message: "the server cannot store more right now; retry later", Err: err}
	}
	in.log.Error("spool append failed", "rows", rows, "err", err)
	return &Error{Code: CodeUnavailable, Key: "api.not_durable", Message: "the record could not be made durable; retry later", Err: err}
}

// scanSpool calls fn for every record in the spool not yet acknowledged.
func (in *Ingester) scanSpool(fn func(Record, uint64)) error {
	var after uint64
	for {
		entries, err := in.spool.Read(after, in.max)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		for _, e := range entries {
			var rec Record
			if err := gojson.Unmarshal(e.Data, &rec); err != nil {
				return err
			}
			fn(rec, e.Seq)
			after = e.Seq
		}
	}
}

// drainLoop copies the spool to the store in batches until Close, then drains what is
// left for up to DrainTimeout.
func (in *Ingester) drainLoop() {
	defer close(in.drainDone)
	var (
		after    uint64
		backoff  time.Duration
		down     bool
		backlog  bool
		deadline <-chan time.Time
		quit     = in.drainQuit
	)
	for {
		n, err := in.drainOnce(&after)
		switch {
		case err != nil:
			if !down {
				in.log.Warn("store lost: submissions wait in the spool", "err", err)
				down = true
			}
			backlog = true
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
		case n > 0:
			if down {
				in.log.Info("store back: draining the spool")
				down = false
			}
			backoff = 0
			if n == in.max {
				backlog = true
				continue // more to drain at once
			}
			if backlog {
				in.log.Info("backlog drained")
				backlog = false
			}
		default:
			if backlog {
				in.log.Info("backlog drained")
				backlog = false
			}
			backoff = 0
		}
		if deadline != nil && (n == 0 && err == nil) {
			return // closing, and the spool is empty
		}
		wait := time.After(backoff)
		if backoff == 0 {
			wait = nil
		}
		select {
		case <-in.spool.Notify():
			// Let records accumulate: one insert and one checkpoint (two fsyncs) per
			// linger rather than per request keeps the disk and ClickHouse for the
			// requests. A full batch drains at once (the continue above).
			if deadline == nil && in.spool.Stats().Depth < drainEager {
				select {
				case <-time.After(drainLinger):
				case <-quit:
				}
			}
		case <-wait:
		case <-deadline:
			in.log.Warn("stopping with records left in the spool; they drain at next start", "depth", in.spool.Stats().Depth)
			return
		case <-quit:
			quit = nil // a nil channel never fires again
			deadline = time.After(in.drain)
		}
	}
}

// drainLinger is how long the drainer lets records accumulate after a quiet spool wakes
// up. It bounds how late a record reaches ClickHouse in normal operation.
const drainLinger = 250 * time.Millisecond

// drainEager is the depth from which the drainer does not linger: under a heavy load a
// small spool must not fill up while the drainer waits.
const drainEager = 256

// drainOnce inserts one batch of the spool into the store and acknowledges it. It
// returns the number of entries handled, or an error and nothing acknowledged.
func (in *Ingester) drainOnce(after *uint64) (int, error) {
	entries, err := in.spool.Read(*after, in.max)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), in.opTmo)
	defer cancel()
	recs := make([]Record, 0, len(entries))
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		var rec Record
		if err := gojson.Unmarshal(e.Data, &rec); err != nil {
			return 0, err
		}
		recs, ids = append(recs, rec), append(ids, rec.SubmissionID)
	}
	start := time.Now()
	stored, err := in.store.Fingerprints(ctx, ids)
	if err != nil {
		in.met.storeError("lookup")
		return 0, err
	}
	fresh := recs[:0:0]
	inBatch := map[string]bool{}
	for _, rec := range recs {
		fp, ok := stored[rec.SubmissionID]
		switch {
		case ok && fp != rec.Fingerprint:
			// Accepted while the store could not be asked, and the store holds other
			// content under this id: keep the stored one, never count twice.
			in.log.Warn("dropped a spooled record whose id the store holds with other content", "submission_id", rec.SubmissionID)
		case ok, inBatch[rec.SubmissionID]:
			// Already stored: a replay after a crash between insert and checkpoint.
		default:
			inBatch[rec.SubmissionID] = true
			fresh = append(fresh, rec)
		}
	}
	if len(fresh) > 0 {
		if err := in.store.InsertRecords(ctx, fresh); err != nil {
			in.met.storeError("insert")
			return 0, err
		}
	}
	last := entries[len(entries)-1].Seq
	if err := in.spool.Ack(last); err != nil {
		return 0, err
	}
	*after = last
	in.mu.Lock()
	for _, rec := range recs {
		if p := in.pending[rec.SubmissionID]; p != nil && p.fp == rec.Fingerprint {
			delete(in.pending, rec.SubmissionID)
		}
	}
	in.mu.Unlock()
	in.met.drained(len(fresh), time.Since(start).Seconds())
	return len(entries), nil
}
