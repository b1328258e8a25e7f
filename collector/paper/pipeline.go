// This file is the pipeline of Check: reading rows, preparing them in parallel workers,
// collecting them in order (repeats, look-ups in the store) and staging the records.

package paper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
)

// rowReader turns the rows of one file into records and problems.
type rowReader struct {
	im    *Importer
	d     *collector.Definition
	b     *Batch
	p     collector.Principal
	site  string
	src   source
	opts  Options
	cols  []column
	idCol int            // 1-based column of submission_id, 0 if none
	itCol map[string]int // 1-based column of each item

	stage    *stageSink // with a Stager
	lookups  []lookup   // without: valid rows waiting for their look-up
	explicit bool       // a valid row has its own submission_id
}

// The pipeline of Check: the reader cuts the file into chunks of rows, workers prepare
// them (validation, anonymisation, derived ids: the CPU of an import), and the collector
// takes them back in order and does what needs the whole file: repeats, look-ups, the
// staging. Every stage holds a bounded number of chunks.
const (
	chunkRows   = 256     // rows a worker takes at once
	chunkBytes  = 1 << 20 // or fewer, when their cells reach this size
	stageBlock  = 4096    // records handed to the staging at once
	lookupBlock = 20_000  // ids looked up in the store at once, without staging
)

// chunk is a run of rows: the cells read, then the results prepared.
type chunk struct {
	seq   int
	rows  []int
	cells [][]string
	out   []rowResult
}

// rowResult is what a worker made of one row.
type rowResult struct {
	row      int
	problems []Problem
	err      error // not a problem of the row: the import cannot go on
	ok       bool  // rec is valid
	rec      collector.Record
	id       uuid.UUID
	fp       uint64
	explicit bool
}

// lookup is a valid row whose id is to be looked up in the store.
type lookup struct {
	id  string
	key uuid.UUID
}

// read reads the header, then runs the pipeline on every row of the file: the rows are
// read here, prepared by GOMAXPROCS workers, and collected back in their order. Problems
// go to the batch; the error is for what stops the import (the file, the store, ctx).
func (rd *rowReader) read(ctx context.Context) error {
	row, cells, ok := rd.src.next()
	for ok && blank(cells) { // leading empty rows
		row, cells, ok = rd.src.next()
	}
	rd.b.records = row
	if !ok {
		if err := rd.src.err(); err != nil {
			return err
		}
		return errors.New("paper: the file is empty: row 1 must hold the item codes of the template")
	}
	if err := rd.header(row, cells); err != nil {
		return err
	}
	rd.b.idCol = rd.idCol
	if rd.im.Stager != nil && !rd.opts.DryRun {
		rd.stage = newStageSink(ctx, rd.im.Stager)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan *chunk, workers)
	results := make(chan *chunk, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w worker
			for c := range jobs {
				rd.prepare(&w, c)
				select {
				case results <- c:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(jobs)
		readErr <- rd.readRows(ctx, jobs)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	// Chunks come back in any order: keep them until their turn.
	var err error
	waiting := map[int]*chunk{}
	next := 0
	for c := range results {
		waiting[c.seq] = c
		for c := waiting[next]; c != nil; c = waiting[next] {
			delete(waiting, next)
			next++
			if err == nil {
				if err = rd.collect(ctx, c); err != nil {
					cancel()
				}
			}
		}
	}
	if rerr := <-readErr; err == nil {
		err = rerr
	}
	if err == nil {
		err = rd.flushLookups(ctx)
	}
	if rd.stage != nil {
		staging, serr := rd.stage.finish()
		if err == nil {
			err = serr
		}
		// One look-up for the whole file, in the store, rather than one per block.
		if err == nil && staging != nil && rd.im.Lookup != nil && (rd.opts.CountExisting || rd.explicit) {
			if err = staging.Stored(ctx, rd.storedAlready); err != nil {
				err = fmt.Errorf("%w: look up stored submissions: %w", ErrStore, err)
			}
		}
		switch {
		case staging == nil:
		case err != nil || len(rd.b.Problems) > 0:
			// Never to be stored: a batch with problems is refused.
			if derr := staging.Discard(ctx); err == nil {
				err = derr
			}
		default:
			rd.b.staging = staging
		}
	}
	return err
}

// readRows reads the rows after the header into chunks for the workers.
func (rd *rowReader) readRows(ctx context.Context, jobs chan<- *chunk) error {
	first := true
	n, seq, size := 0, 0, 0
	c := &chunk{}
	send := func() bool {
		c.seq = seq
		seq++
		size = 0
		select {
		case jobs <- c:
			c = &chunk{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		row, cells, ok := rd.src.next()
		if !ok {
			break
		}
		rd.b.records = row
		if cells = trimRow(cells); len(cells) == 0 {
			continue
		}
		if len(cells) > rd.b.columns {
			cells = cells[:rd.b.columns+1] // enough for prepareRow to report it
		}
		if first && rd.labels(cells) {
			first = false
			continue
		}
		first = false
		n++
		if rd.opts.MaxRows > 0 && n > rd.opts.MaxRows {
			return tooLarge(fmt.Sprintf("the file holds more than %d questionnaire rows, the most one import takes: split it", rd.opts.MaxRows))
		}
		if n%1024 == 0 && ctx.Err() != nil { // a large file, interrupted
			return fmt.Errorf("paper: row %d: %w", row, ctx.Err())
		}
		// The CSV reader reuses its slice of cells (not the strings).
		c.rows, c.cells = append(c.rows, row), append(c.cells, slices.Clone(cells))
		for _, cell := range cells {
			size += len(cell)
		}
		if (len(c.rows) == chunkRows || size >= chunkBytes) && !send() {
			return fmt.Errorf("paper: row %d: %w", row, ctx.Err())
		}
	}
	rd.b.Rows = n
	if len(c.rows) > 0 && !send() {
		return ctx.Err()
	}
	return rd.src.err()
}

// worker is what one worker reuses from row to row: the envelope's answers and the bytes
// they point into. Prepare keeps nothing of an envelope (a record holds its own strings),
// so each row may overwrite the last.
type worker struct {
	answers map[string]json.RawMessage
	arena   []byte
}

// prepare makes records of the rows of c: what each row needs alone, so that any number of
// workers can run it.
func (rd *rowReader) prepare(w *worker, c *chunk) {
	c.out = make([]rowResult, len(c.rows))
	for i, row := range c.rows {
		rd.prepareRow(w, row, c.cells[i], &c.out[i])
	}
	c.cells = nil
}

// prepareRow turns the cells of one row into an envelope, as the API would receive it,
// and prepares it into a record ([Preparer]), with the id derived from its fingerprint
// when the row gives none, or into the row's problems.
func (rd *rowReader) prepareRow(w *worker, row int, cells []string, res *rowResult) {
	res.row = row
	if w.answers == nil {
		w.answers = make(map[string]json.RawMessage, len(rd.itCol))
	}
	clear(w.answers)
	env := &collector.Envelope{SubmissionID: placeholderID, Questionnaire: rd.d.ID, Version: rd.d.Version,
		Site: rd.site, Answers: w.answers}
	var (
		explicit uuid.UUID
		long     []string // items whose cell is too long
	)
	given, bad := false, false
	arena := w.arena[:0] // the raw answers of the row
	defer func() { w.arena = arena }()
	fail := func(p Problem) {
		p.Row = row
		res.problems = append(res.problems, p)
		bad = true
	}
	if len(cells) > rd.b.columns {
		last, _ := excelize.ColumnNumberToName(rd.b.columns)
		fail(Problem{Column: rd.b.columns + 1, Code: ErrTooManyColumns, Message: fmt.Sprintf(
			"the row has cells after column %s: the template has %d columns, tamtam reads %d; remove what is written after them",
			last, 1+len(rd.d.Items), rd.b.columns)})
		return
	}
	for i, cell := range cells {
		cell = strings.TrimSpace(cell)
		if cell == "" {
			continue
		}
		if tooLongCell(cell) {
			p := Problem{Column: i + 1, Code: ErrTooLong, Message: tooLongMessage}
			if i < len(rd.cols) && rd.cols[i].item != nil {
				p.Item = rd.cols[i].item.Code
				long = append(long, p.Item) // not answered, but not to be reported missing
			} else if i < len(rd.cols) && rd.cols[i].id {
				p.Item = IDColumn
			}
			fail(p)
			continue
		}
		if i >= len(rd.cols) || rd.cols[i].noCode {
			fail(Problem{Column: i + 1, Code: ErrUnknownColumn, Message: "this column has no item code in row 1: remove what is written in it"})
			continue
		}
		switch c := rd.cols[i]; {
		case c.id:
			id, err := uuid.Parse(cell)
			if err != nil || len(cell) != 36 {
				fail(Problem{Column: i + 1, Item: IDColumn, Code: collector.ErrInvalidID,
					Message: "must be empty (tamtam derives the id from the answers) or a UUID like 0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"})
				continue
			}
			explicit, given = id, true
			env.SubmissionID = id.String()
		case c.item != nil:
			from := len(arena)
			arena = appendAnswer(arena, c.item, cell, rd.src)
			env.Answers[c.item.Code] = arena[from:len(arena):len(arena)]
		}
	}
	rec, err := rd.im.Preparer.Prepare(rd.p, env)
	if err != nil {
		var e *collector.Error
		if !errors.As(err, &e) || len(e.Fields) == 0 {
			res.err = fmt.Errorf("paper: row %d: %w", row, err)
			return
		}
		for _, fe := range e.Fields {
			if !slices.Contains(long, fe.Item) {
				fail(Problem{Column: rd.column(fe.Item), Item: fe.Item, Code: fe.Code, Message: fe.Message})
			}
		}
		return
	}
	if bad {
		return
	}
	res.id, res.explicit = explicit, given
	if !given {
		res.id = derivedID(rec.Fingerprint)
		rec.SubmissionID = res.id.String()
	}
	res.rec, res.ok = rec, true
	res.fp = maphash.String(rd.b.seed, rec.Fingerprint)
}

// collect takes the results of a chunk, in the order of the file: repeated submissions,
// and the records of valid rows to the staging or the batch.
func (rd *rowReader) collect(ctx context.Context, c *chunk) error {
	b := rd.b
	for i := range c.out {
		res := &c.out[i]
		if res.err != nil {
			return res.err
		}
		for _, p := range res.problems {
			b.problem(p)
		}
		if !res.ok {
			continue
		}
		if !res.explicit && res.rec.LinkID == "" {
			// Identical rows without a linkage identifier are the forms of different
			// people (two refusals of the same month are two refusals): the n-th copy
			// in the file order gets an id of its own, the same on every import of the
			// file. With an identifier, an identical row is the same person's form typed
			// twice: one submission.
			b.copies[res.fp]++
			if n := b.copies[res.fp]; n > 1 {
				res.id = derivedID(res.rec.Fingerprint + "#" + strconv.Itoa(n))
				res.rec.SubmissionID = res.id.String()
			}
		}
		if prev, ok := b.seen[res.id]; ok {
			if prev.fp == res.fp {
				b.Duplicates = append(b.Duplicates, Duplicate{Row: res.row, SameAs: prev.row})
				continue
			}
			b.problem(Problem{Row: res.row, Column: rd.idCol, Item: IDColumn, Code: ErrDuplicateID,
				Message: fmt.Sprintf("row %d has the same submission_id with other answers", prev.row)})
			continue
		}
		b.seen[res.id] = seenID{row: res.row, fp: res.fp, explicit: res.explicit}
		b.valid++
		rd.explicit = rd.explicit || res.explicit
		if rd.stage != nil {
			// Staged even after a problem, so that one look-up in the staging table at the
			// end finds every conflict; the staging is dropped then.
			if err := rd.stage.add(res.rec); err != nil {
				return err
			}
			continue
		}
		if rd.im.Lookup != nil && (rd.opts.CountExisting || res.explicit) {
			rd.lookups = append(rd.lookups, lookup{id: res.rec.SubmissionID, key: res.id})
			if len(rd.lookups) == lookupBlock {
				if err := rd.flushLookups(ctx); err != nil {
					return err
				}
			}
		}
		if !b.dryRun {
			b.recs = append(b.recs, res.rec)
			b.recRows = append(b.recRows, res.row)
		}
	}
	return nil
}

// storedAlready classifies a staged submission found in the store: the same answers are
// counted as there already, other answers under the same id are a conflict.
func (rd *rowReader) storedAlready(id, fp string) {
	u, err := uuid.Parse(id)
	if err != nil {
		return
	}
	b := rd.b
	s, ok := b.seen[u]
	switch {
	case !ok:
	case maphash.String(b.seed, fp) == s.fp:
		b.Existing++
	default:
		b.problem(Problem{Row: s.row, Column: b.idCol, Item: IDColumn, Code: ErrConflict,
			Message: "a submission with this submission_id is already stored with other answers"})
	}
}

// flushLookups looks up the waiting rows: those already stored with the same answers are
// counted, those whose own submission_id is stored with other answers are conflicts.
func (rd *rowReader) flushLookups(ctx context.Context) error {
	if len(rd.lookups) == 0 {
		return nil
	}
	ids := make([]string, len(rd.lookups))
	for i, l := range rd.lookups {
		ids[i] = l.id
	}
	stored, err := rd.im.Lookup.Fingerprints(ctx, ids)
	if err != nil {
		return fmt.Errorf("%w: look up stored submissions: %w", ErrStore, err)
	}
	for _, l := range rd.lookups {
		if fp, ok := stored[l.id]; ok {
			rd.storedAlready(l.id, fp)
		}
	}
	rd.lookups = rd.lookups[:0]
	return nil
}

// stageSink stages records from its own goroutine, so that the collector goes on while
// ClickHouse takes a block. The staging is begun with the first record: a file without a
// valid row stages nothing.
type stageSink struct {
	ctx     context.Context
	stager  Stager
	block   []collector.Record
	blocks  chan []collector.Record
	done    chan struct{}
	staging Staging
	err     error       // the goroutine's, read after done
	failed  atomic.Bool // err is set: stop sending
}

// newStageSink starts the goroutine that stages the blocks of records for st.
func newStageSink(ctx context.Context, st Stager) *stageSink {
	s := &stageSink{ctx: ctx, stager: st, blocks: make(chan []collector.Record, 2), done: make(chan struct{})}
	go s.run(s.blocks)
	return s
}

// run stages the blocks in order; after the first error it only drains the channel.
func (s *stageSink) run(blocks <-chan []collector.Record) {
	defer close(s.done)
	for recs := range blocks {
		if s.err != nil {
			continue
		}
		if s.staging == nil {
			if s.staging, s.err = s.stager.Stage(s.ctx); s.err != nil {
				s.err = fmt.Errorf("%w: stage the rows: %w", ErrStore, s.err)
				s.failed.Store(true)
				continue
			}
		}
		if s.err = s.staging.Add(s.ctx, recs); s.err != nil {
			s.err = fmt.Errorf("%w: stage the rows: %w", ErrStore, s.err)
			s.failed.Store(true)
		}
	}
}

// add queues rec, sending a block to the goroutine when it is full. It returns the
// staging's error once the goroutine has failed.
func (s *stageSink) add(rec collector.Record) error {
	if s.failed.Load() {
		return s.wait()
	}
	if s.block == nil {
		s.block = make([]collector.Record, 0, stageBlock)
	}
	if s.block = append(s.block, rec); len(s.block) == stageBlock {
		s.blocks <- s.block
		s.block = nil
	}
	return nil
}

// wait ends the goroutine and returns its error.
func (s *stageSink) wait() error {
	if s.blocks != nil {
		close(s.blocks)
		s.blocks = nil
	}
	<-s.done
	return s.err
}

// finish sends the last block, ends the goroutine and returns the staging (nil when
// nothing was staged) and the first error of the staging.
func (s *stageSink) finish() (Staging, error) {
	if len(s.block) > 0 && !s.failed.Load() {
		s.blocks <- s.block
	}
	s.block = nil
	err := s.wait()
	if err != nil && s.staging != nil {
		s.staging.Discard(s.ctx)
		return nil, err
	}
	return s.staging, err
}
