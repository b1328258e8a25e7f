package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Store is where records become durable. It is implemented by package queries.
type Store interface {
	// Fingerprints returns the stored fingerprint of each of ids already stored.
	Fingerprints(ctx context.Context, ids []string) (map[string]string, error)
	// InsertRecords stores recs in one atomic insert, or returns an error and stores none.
	InsertRecords(ctx context.Context, recs []Record) error
}

// Outcome is what became of one record given to [Ingester.Submit].
type Outcome int

// The outcomes.
const (
	Stored   Outcome = iota + 1 // new, now durable (201)
	Replayed                    // the same id with the same content was already stored (200)
	Conflict                    // the same id with other content was already stored (409)
)

// ErrClosed is returned by [Ingester.Submit] once the ingester is closing.
var ErrClosed error = &Error{Code: CodeUnavailable, Message: "the server is shutting down; retry later"}

// IngesterOptions configures an Ingester.
type IngesterOptions struct {
	Logger *slog.Logger
	// MaxBatch bounds the rows of one insert; requests queue behind a full batch.
	MaxBatch int // 0: 10,000
	// CommitTimeout bounds one lookup-and-insert round trip.
	CommitTimeout time.Duration // 0: 30 s
}

// Ingester makes records durable with group commit: concurrent requests wait while one
// batch is committed, then the next batch carries all of them in a single lookup and a
// single insert. A per-request insert runs at a few hundred rows per second on
// ClickHouse; a shared one reaches hundreds of thousands.
//
// The ingester is also where retries are told apart (same id, same fingerprint: replay;
// other fingerprint: conflict). Batches are committed one at a time, so two concurrent
// retries of one id can never both be stored by this process. Records reach the Store
// only through here; the durable spool of a later version slots in as a Store.
type Ingester struct {
	store  Store
	log    *slog.Logger
	max    int
	tmo    time.Duration
	reqs   chan *commitRequest
	quit   chan struct{}
	done   chan struct{}
	closed sync.Once
}

type commitRequest struct {
	recs []Record
	out  []Outcome
	err  error
	done chan struct{}
}

// NewIngester starts an ingester committing to store. Close it to stop.
func NewIngester(store Store, opts IngesterOptions) *Ingester {
	in := &Ingester{
		store: store,
		log:   opts.Logger,
		max:   opts.MaxBatch,
		tmo:   opts.CommitTimeout,
		reqs:  make(chan *commitRequest),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.max <= 0 {
		in.max = 10_000
	}
	if in.tmo <= 0 {
		in.tmo = 30 * time.Second
	}
	go in.run()
	return in
}

// Submit makes recs durable together and returns one outcome per record, in order. When
// it returns an error nothing of recs was stored by this call. Once queued, a request is
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
		return nil, ctx.Err()
	}
	<-req.done
	return req.out, req.err
}

// Close stops accepting, commits what is queued and returns when the last batch is done.
func (in *Ingester) Close() {
	in.closed.Do(func() { close(in.quit) })
	<-in.done
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

// commit looks up the ids of the batch, inserts what is new, and answers every request.
// It has its own context: a commit that started must finish or fail as a whole.
func (in *Ingester) commit(batch []*commitRequest, rows int) {
	ctx, cancel := context.WithTimeout(context.Background(), in.tmo)
	defer cancel()
	err := in.classify(ctx, batch, rows)
	for _, r := range batch {
		if err != nil {
			r.out, r.err = nil, err
		}
		close(r.done)
	}
}

func (in *Ingester) classify(ctx context.Context, batch []*commitRequest, rows int) error {
	ids := make([]string, 0, rows)
	for _, r := range batch {
		for _, rec := range r.recs {
			ids = append(ids, rec.SubmissionID)
		}
	}
	seen, err := in.store.Fingerprints(ctx, ids)
	if err != nil {
		in.log.Error("fingerprint lookup failed", "rows", rows, "err", err)
		return &Error{Code: CodeUnavailable, Message: "the store is unavailable; retry later", Err: err}
	}
	if seen == nil {
		seen = map[string]string{}
	}
	fresh := make([]Record, 0, rows)
	for _, r := range batch {
		r.out = make([]Outcome, len(r.recs))
		for i, rec := range r.recs {
			fp, exists := seen[rec.SubmissionID]
			switch {
			case !exists:
				r.out[i] = Stored
				seen[rec.SubmissionID] = rec.Fingerprint
				fresh = append(fresh, rec)
			case fp == rec.Fingerprint:
				r.out[i] = Replayed
			default:
				// A different fingerprint: other content, or the same content under a
				// key of an earlier epoch. Conflict is the answer that never double-counts.
				r.out[i] = Conflict
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	start := time.Now()
	if err := in.store.InsertRecords(ctx, fresh); err != nil {
		in.log.Error("insert failed", "rows", len(fresh), "err", err)
		return &Error{Code: CodeUnavailable, Message: "the store is unavailable; retry later", Err: err}
	}
	in.log.Debug("batch committed", "rows", len(fresh), "requests", len(batch), "elapsed", time.Since(start))
	return nil
}
