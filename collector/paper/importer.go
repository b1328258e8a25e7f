package paper

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"regexp"
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

// Preparer turns an envelope into an anonymised record: [collector.API.Prepare], the one
// path from input to record, so a paper form is checked exactly like an API submission.
type Preparer interface {
	Prepare(p collector.Principal, env *collector.Envelope) (collector.Record, error)
}

// Submitter makes records durable together: [collector.Ingester.Submit].
type Submitter interface {
	Submit(ctx context.Context, recs []collector.Record) ([]collector.Outcome, error)
}

// Lookup returns the stored fingerprint of each of ids already stored:
// [collector.Store.Fingerprints].
type Lookup interface {
	Fingerprints(ctx context.Context, ids []string) (map[string]string, error)
}

var (
	_ Preparer  = (*collector.API)(nil)
	_ Submitter = (*collector.Ingester)(nil)
)

// Problem codes of the importer, beside the field error codes of package collector
// (out_of_range, invalid_choice, not_applicable…), which Validate gives per item.
const (
	ErrUnknownColumn   = "unknown_column"   // a column that is no item of the questionnaire
	ErrSiteColumn      = "site_column"      // a "site" column: the site comes from --site
	ErrDuplicateColumn = "duplicate_column" // an item with two columns
	ErrDuplicateID     = "duplicate_id"     // one submission_id on two rows with other answers
	ErrConflict        = "conflict"         // the submission_id is stored with other answers
)

// Problem is one problem of an imported file, located as a person sees it in the sheet.
type Problem struct {
	Row     int    // 1-based row of the sheet (or record of the CSV file)
	Column  int    // 1-based column of the cell; 0 for the row as a whole
	Item    string // item code or envelope field; "" for the row as a whole
	Code    string // a collector.Err… code or one of this package's
	Message string // never quotes the cell
}

// String formats the problem as "row 7, demo.age: out_of_range: must be between 18 and 99".
func (p Problem) String() string {
	where := "row " + strconv.Itoa(p.Row)
	if p.Item != "" {
		where += ", " + p.Item
	}
	return where + ": " + p.Code + ": " + p.Message
}

// Duplicate is a row with the same answers as an earlier row of the file: two identical
// paper forms are one submission, stored once.
type Duplicate struct{ Row, SameAs int }

// Options says how to read a file.
type Options struct {
	// Site is the site of every row (a "site" column is refused).
	Site string
	// Questionnaire is the questionnaire of the rows; "" means the one the template
	// names, else "entry". A template for another questionnaire is an error.
	Questionnaire string
	// Format is "xlsx" or "csv"; "" tells them apart by content.
	Format string
	// CountExisting looks every valid row up in the store, to tell how many are
	// already there (dry runs). Otherwise only rows with their own submission_id are
	// looked up, for conflicts: derived ids cannot conflict.
	CountExisting bool
	// DryRun checks without keeping the records, or staging them: memory stays flat
	// whatever the file's size, and Store refuses the batch (ErrDryRun).
	DryRun bool
	// MaxProblems is the most problems kept in Batch.Problems, the first found; the
	// others are counted in Batch.MoreProblems. 0 keeps them all.
	MaxProblems int
	// MaxRows is the most questionnaire rows a file may hold: a file with more is
	// refused whole (collector.CodeTooLarge). Without a Stager every record is kept in
	// memory until Store, and a few bytes make a row (a refusal is ";0;2025-04"), so
	// the file size alone does not bound it. 0: no limit.
	MaxRows int
}

// Stager begins the staging area of an import: [queries.DB.Stage], through cmd/tamtam.
type Stager interface {
	Stage(ctx context.Context) (Staging, error)
}

// Staging holds the records of one import where no reader sees them until Commit makes
// them visible together: [queries.Staging].
type Staging interface {
	// Add stages recs.
	Add(ctx context.Context, recs []collector.Record) error
	// Stored calls fn with the id and stored fingerprint of every staged record whose id
	// is already stored.
	Stored(ctx context.Context, fn func(id, fingerprint string)) error
	// Commit stores every staged record whose id is not stored yet: all of them, or none,
	// or — when it fails after its commit point, which it then says — all of them later.
	Commit(ctx context.Context) error
	// Discard drops what was staged; it does nothing after Commit.
	Discard(ctx context.Context) error
}

// Batch is a checked file: its valid rows, ready to store, and every problem of the others.
type Batch struct {
	Questionnaire string
	Version       int
	Format        string // "xlsx" or "csv"
	Sheet         string // the data sheet read (xlsx)
	Rows          int    // questionnaire rows read: non-empty rows below the headers
	Problems      []Problem
	MoreProblems  int // problems beyond Options.MaxProblems: counted, not kept
	Duplicates    []Duplicate
	Existing      int // valid rows already stored, as far as looked up

	valid       int // distinct submissions ready to store
	bad         int // rows with a problem
	lastBad     int // the row of the last problem
	maxProblems int
	columns     int // the most columns read: columnMargin times the template's
	records     int // rows of the file read, empty ones too
	dryRun      bool
	idCol       int                  // 1-based column of submission_id, 0 if none
	seen        map[uuid.UUID]seenID // the submissions of the file, by id
	copies      map[uint64]int       // rows without an id, by hash of their fingerprint
	seed        maphash.Seed         // of the fingerprint hashes in seen
	recs        []collector.Record   // without a Stager: the records to submit
	recRows     []int                // the row of each of recs
	staging     Staging              // with a Stager: where the records are
}

// seenID is what the importer keeps of each submission of a file: 40 bytes with its key,
// so that a file of millions of rows is checked for repeated forms in little memory.
type seenID struct {
	row      int
	fp       uint64 // hash of the fingerprint
	explicit bool   // the id was given in the file, not derived
}

// RowsWithProblems returns the number of rows (the header row included) with a problem.
func (b *Batch) RowsWithProblems() int { return b.bad }

// Valid returns the number of distinct submissions ready to store.
func (b *Batch) Valid() int { return b.valid }

// Discard releases a batch that will not be stored: with a Stager, it drops the staging
// table of a batch without problems (Check drops it itself when there are problems). It
// does nothing after Store, and may be called more than once.
func (b *Batch) Discard(ctx context.Context) error {
	if b.staging == nil {
		return nil
	}
	s := b.staging
	b.staging = nil
	return s.Discard(ctx)
}

// ErrProblems is returned by [Importer.Store] for a batch with problems: nothing is stored.
var ErrProblems = errors.New("paper: the file has problems; nothing stored")

// ErrStore is wrapped by the errors of [Importer.Check] that come from the store (the
// look-up of stored submissions, the staging) rather than from the file: the file may be
// fine, and checking it again later may work.
var ErrStore = errors.New("paper: the store cannot be used now")

// ErrDryRun is returned by [Importer.Store] for a batch checked with Options.DryRun, which
// keeps no records.
var ErrDryRun = errors.New("paper: a dry run keeps no records; check the file again to store it")

// Importer reads filled-in templates (xlsx) and CSV files with the same headers, checks
// every row through the API's validation and anonymisation, and stores all rows or none.
//
// Check streams: rows are read, prepared by one goroutine per core (in order: problems stay
// reported by row), checked for repeats against a small hash per submission, and — with a
// Stager — sent to a staging table as they come, so that memory does not grow with the
// file. Without a Stager the batch holds its records for Store (the web page's uploads are
// small); a dry run keeps none.
type Importer struct {
	Catalog  *collector.Catalog
	Preparer Preparer
	// Submitter stores the records of a batch checked without a Stager; needed by Store
	// only.
	Submitter Submitter
	// Lookup finds submissions already stored; nil skips the look-up (no conflicts are
	// then reported before storing, and Existing stays 0).
	Lookup Lookup
	// Stager, when set, makes Check stage the records of valid rows as it reads them and
	// Store commit them in one move: an import of any size is stored all or nothing in
	// flat memory. A batch without problems then holds a staging table until Store or
	// Discard: call one of them.
	Stager Stager
}

// principal is the intake principal of an import: the operator running tamtam import
// for one site.
func principal(site string) collector.Principal {
	return collector.Principal{TokenID: "paper-import", Role: collector.RoleIntake, Sites: []string{site}}
}

// idNamespace names the UUIDs derived from submission fingerprints (UUID version 5).
var idNamespace = uuid.MustParse("6f1d8a52-3f0b-4c5e-9a77-2d4b8e0c1a93")

// placeholderID stands for a derived id until the record's fingerprint is known.
const placeholderID = "00000000-0000-0000-0000-000000000000"

// DerivedID returns the submission id of a row left without one: a name-based UUID of
// the record's fingerprint, the hash of what the record stores (questionnaire, version,
// site, month, coarsened answers, link id; no key, so a row without a follow-up code has
// the same id after a key rotation). The
// same answers give the same id whatever the row, the cell formatting or the order of
// multi codes, so a re-import stores nothing twice; it holds nothing the stored row does
// not. The n-th identical row of a file (n > 1) without a linkage identifier gets the
// id of the fingerprint followed by "#n".
func DerivedID(fingerprint string) string {
	return derivedID(fingerprint).String()
}

func derivedID(fingerprint string) uuid.UUID {
	return uuid.NewSHA1(idNamespace, []byte(fingerprint))
}

// Check reads the file in r and checks every row, storing nothing (with a Stager, the
// records of a file without problems wait in a staging table that only Store makes
// visible). It returns an error only when the file cannot be read as a whole (not a
// workbook or CSV, no header row, unknown questionnaire, store unreachable for the
// look-up or the staging); problems of rows and cells are in the batch.
func (im *Importer) Check(ctx context.Context, r io.Reader, opts Options) (*Batch, error) {
	if opts.Site == "" {
		return nil, errors.New("paper: no site given")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	format := opts.Format
	if format == "" {
		format = "csv"
		if head, _ := br.Peek(4); bytes.Equal(head, []byte("PK\x03\x04")) {
			format = "xlsx"
		}
	}
	var (
		src source
		err error
	)
	switch format {
	case "xlsx":
		src, err = openWorkbook(br)
	case "csv":
		src, err = openCSV(br)
	default:
		return nil, fmt.Errorf("paper: unknown format %q: use xlsx or csv", format)
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	d, err := im.definition(src, opts.Questionnaire)
	if err != nil {
		return nil, err
	}
	b := &Batch{Questionnaire: d.ID, Version: d.Version, Format: format, Sheet: src.sheet(),
		dryRun: opts.DryRun, seen: map[uuid.UUID]seenID{}, copies: map[uint64]int{}, seed: maphash.MakeSeed(),
		maxProblems: max(opts.MaxProblems, 0), columns: columnMargin * (1 + len(d.Items))}
	rd := &rowReader{im: im, d: d, b: b, p: principal(opts.Site), site: opts.Site, src: src, opts: opts}
	if err := rd.read(ctx); err != nil {
		b.Discard(ctx)
		return nil, err
	}
	slices.SortStableFunc(b.Problems, func(x, y Problem) int {
		if x.Row != y.Row {
			return x.Row - y.Row
		}
		return x.Column - y.Column
	})
	if len(b.Problems) > 0 {
		// Store refuses a batch with problems: its staged records will never be stored.
		if err := b.Discard(ctx); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// definition picks the questionnaire version of the file: the one its template names
// (a hidden sheet), else the latest of the asked questionnaire.
func (im *Importer) definition(src source, asked string) (*collector.Definition, error) {
	id, version := src.meta()
	switch {
	case asked != "" && id != "" && asked != id:
		return nil, fmt.Errorf("paper: the file is a template for questionnaire %s, not %s", id, asked)
	case asked == "" && id == "":
		id = "entry"
	case asked != "":
		id = asked
	}
	if version > 0 {
		d, ok := im.Catalog.Get(id, version)
		if !ok {
			return nil, fmt.Errorf("paper: the template is for %s version %d, which this tamtam does not know", id, version)
		}
		return d, nil
	}
	d, ok := im.Catalog.Latest(id)
	if !ok {
		return nil, fmt.Errorf("paper: unknown questionnaire %q", id)
	}
	return d, nil
}

// problem records p, or only counts it beyond Options.MaxProblems. The problems of a row
// come together (the header's, then each row's as it is collected, then a conflict on a
// row without other problems), so a row is counted once.
func (b *Batch) problem(p Problem) {
	if b.bad == 0 || p.Row != b.lastBad {
		b.bad++
		b.lastBad = p.Row
	}
	if b.maxProblems > 0 && len(b.Problems) >= b.maxProblems {
		b.MoreProblems++
		return
	}
	b.Problems = append(b.Problems, p)
}

// Result is what [Importer.Store] did.
type Result struct {
	Stored   int // new submissions stored
	Replayed int // submissions already there, not stored again
}

// Store stores every submission of b, all or none. It returns ErrProblems, storing
// nothing, when b has any problem, and ErrDryRun for a dry run's batch. Rows whose own
// submission_id was stored with other answers between Check and Store are the only way
// for part of a file to be refused: Store then returns an error naming their rows, the
// others being stored.
//
// With a Stager the staged records are committed in one move (see package queries:
// staging tables); an error from a commit that failed after its commit point says the
// rest is completed at the next start. Without one, the records go to the Submitter in one
// call, committed in one insert.
func (im *Importer) Store(ctx context.Context, b *Batch) (Result, error) {
	switch {
	case len(b.Problems) > 0:
		return Result{}, ErrProblems
	case b.dryRun:
		return Result{}, ErrDryRun
	case b.staging != nil:
		return im.commit(ctx, b)
	}
	var res Result
	if len(b.recs) == 0 {
		return res, nil
	}
	outs, err := im.Submitter.Submit(ctx, b.recs)
	if err != nil {
		return res, fmt.Errorf("paper: store %d submissions: %w", len(b.recs), err)
	}
	var conflicts []int
	for i, o := range outs {
		switch o {
		case collector.Stored:
			res.Stored++
		case collector.Replayed:
			res.Replayed++
		default:
			conflicts = append(conflicts, b.recRows[i])
		}
	}
	return res, conflictError(conflicts)
}

// commit stores a staged batch: the ids already stored are told apart (replays, or
// conflicts stored meanwhile), then the rest is moved in one commit.
func (im *Importer) commit(ctx context.Context, b *Batch) (Result, error) {
	var (
		res       Result
		conflicts []int
	)
	err := b.staging.Stored(ctx, func(id, fp string) {
		u, err := uuid.Parse(id)
		if err != nil {
			return
		}
		switch s, ok := b.seen[u]; {
		case !ok:
		case s.fp == maphash.String(b.seed, fp):
			res.Replayed++
		default:
			conflicts = append(conflicts, s.row)
		}
	})
	if err != nil {
		return Result{}, fmt.Errorf("paper: store %d submissions: %w", b.valid, err)
	}
	if err := b.staging.Commit(ctx); err != nil {
		return Result{}, fmt.Errorf("paper: store %d submissions: %w", b.valid, err)
	}
	b.staging = nil
	res.Stored = b.valid - res.Replayed - len(conflicts)
	slices.Sort(conflicts)
	return res, conflictError(conflicts)
}

func conflictError(rows []int) error {
	if len(rows) == 0 {
		return nil
	}
	s := make([]string, len(rows))
	for i, r := range rows {
		s[i] = strconv.Itoa(r)
	}
	return fmt.Errorf("paper: rows %s: a submission with the same submission_id and other answers was stored meanwhile; the other rows were stored", strings.Join(s, ", "))
}

// column is what a column of the file holds.
type column struct {
	item   *collector.Item // nil: the id column, or a column to ignore
	id     bool
	noCode bool // no header: any data in it is a problem
}

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

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
func (rd *rowReader) header(row int, cells []string) error {
	cells = trimRow(cells)
	if len(cells) > rd.b.columns {
		return tooLarge(fmt.Sprintf("row %d has %d columns, and the template of %s version %d has %d: tamtam reads at most %d; remove the other columns",
			row, len(cells), rd.d.ID, rd.d.Version, 1+len(rd.d.Items), rd.b.columns))
	}
	rd.itCol = map[string]int{}
	rd.cols = make([]column, len(cells))
	known := 0
	for i, cell := range cells {
		n := i + 1
		code := strings.TrimSpace(strings.TrimPrefix(cell, "\ufeff")) // a CSV from Excel starts with a BOM
		switch {
		case code == "":
			rd.cols[i].noCode = true
		case code == IDColumn && rd.idCol == 0:
			rd.cols[i].id, rd.idCol, rd.b.idCol = true, n, n
		case tooLongCell(code):
			rd.b.problem(Problem{Row: row, Column: n, Item: clip(code, 40), Code: ErrTooLong, Message: tooLongMessage})
		case code == IDColumn || rd.itCol[code] != 0:
			rd.b.problem(Problem{Row: row, Column: n, Item: code, Code: ErrDuplicateColumn, Message: "this column is in the file twice; keep one"})
		case code == "site":
			rd.b.problem(Problem{Row: row, Column: n, Item: code, Code: ErrSiteColumn,
				Message: "a site column is not allowed: the site of every row is given with --site; remove the column"})
		case rd.d.Item(code) == nil:
			// The header is no answer, but shown whole it could fill a page.
			rd.b.problem(Problem{Row: row, Column: n, Item: clip(code, 80), Code: ErrUnknownColumn,
				Message: fmt.Sprintf("not an item of %s version %d; remove the column", rd.d.ID, rd.d.Version)})
		default:
			rd.cols[i].item = rd.d.Item(code)
			rd.itCol[code] = n
			known++
		}
	}
	if known == 0 {
		return fmt.Errorf("paper: row %d holds no item code of %s version %d: it must be the first row of the template (%s, %s…)",
			row, rd.d.ID, rd.d.Version, IDColumn, rd.d.Items[0].Code)
	}
	return nil
}

// labels reports whether the row under the header is the template's row of questions:
// its submission_id cell is that column's label, or at least half of its non-empty cells
// are their column's label in one of the languages (a label edited here and there does
// not make it a questionnaire).
func (rd *rowReader) labels(cells []string) bool {
	matched, filled := 0, 0
	for i, cell := range cells {
		cell = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cell), strings.TrimSpace(requiredMark)))
		if cell == "" || i >= len(rd.cols) {
			continue
		}
		var label collector.Text
		switch c := rd.cols[i]; {
		case c.id:
			label = idLabels
			if cell == label.FR || cell == label.NL || cell == label.EN {
				return true
			}
		case c.item != nil:
			label = c.item.Label
		default:
			continue // an unknown column is reported on row 1
		}
		filled++
		if cell == label.FR || cell == label.NL || cell == label.EN {
			matched++
		}
	}
	return matched > 0 && 2*matched >= filled
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

func newStageSink(ctx context.Context, st Stager) *stageSink {
	s := &stageSink{ctx: ctx, stager: st, blocks: make(chan []collector.Record, 2), done: make(chan struct{})}
	go s.run(s.blocks)
	return s
}

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

// column returns the column of an item or envelope field of a row: the envelope's fields
// and items without a column point at the submission_id column, or the row (0).
func (rd *rowReader) column(item string) int {
	if n, ok := rd.itCol[item]; ok {
		return n
	}
	return rd.idCol
}

var numberPattern = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// answer converts a cell to the JSON answer the API would receive for the item. It only
// converts; every check is Validate's, so a value it cannot make sense of is passed on as
// a string and refused there with the API's code and message.
func answer(it *collector.Item, cell string, src source) json.RawMessage {
	return appendAnswer(nil, it, cell, src)
}

// appendAnswer appends answer(it, cell, src) to dst: a row's answers share one buffer.
func appendAnswer(dst []byte, it *collector.Item, cell string, src source) []byte {
	switch it.Type {
	case collector.TypeChoice:
		return appendJSONString(dst, choiceCode(it, cell))
	case collector.TypeMulti:
		dst = append(dst, '[')
		if cell != noneMark {
			first := true
			for part := range strings.FieldsFuncSeq(cell, func(r rune) bool { return r == ';' || r == ',' || r == '\n' }) {
				if part = strings.TrimSpace(part); part != "" {
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = appendJSONString(dst, choiceCode(it, part))
				}
			}
		}
		return append(dst, ']')
	case collector.TypeInteger:
		if isNumber(cell) {
			return append(dst, cell...)
		}
	case collector.TypeMonth:
		if m, ok := src.month(cell); ok {
			return appendJSONString(dst, m)
		}
	}
	return appendJSONString(dst, cell)
}

// isNumber reports whether s matches numberPattern, without the regular expression: it
// is asked for every number of every row.
func isNumber(s string) bool {
	i := 0
	digits := func() bool {
		from := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > from
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

func jsonString(s string) json.RawMessage { return appendJSONString(nil, s) }

func appendJSONString(dst []byte, s string) []byte {
	if plainASCII(s) { // the common case, codes and months: no escaping, no reflection
		return append(append(append(dst, '"'), s...), '"')
	}
	raw, _ := json.Marshal(s)
	return append(dst, raw...)
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// choiceCode returns the code of a cell: the text before " — " of a dropdown entry, and,
// for a code typed in another case, the item's code if only one matches.
func choiceCode(it *collector.Item, cell string) string {
	code := cell
	if strings.IndexByte(cell, ' ') >= 0 { // every separator holds a space; codes do not
		for _, sep := range choiceSeparators {
			if before, _, ok := strings.Cut(cell, sep); ok {
				code = strings.TrimSpace(before)
				break
			}
		}
	}
	if _, ok := it.Choice(code); ok {
		return code
	}
	match := ""
	for _, ch := range it.Choices {
		if strings.EqualFold(ch.Code, code) {
			if match != "" {
				return code
			}
			match = ch.Code
		}
	}
	if match != "" {
		return match
	}
	return code
}

// choiceSeparators end the code of a dropdown entry: the template's, and the dashes a
// spreadsheet or a typist puts instead.
var choiceSeparators = []string{choiceSeparator, " – ", " - "}

// Reports mark faulty cells with this fill and comments by this author.
const (
	highlightColor = "FFC7CE"
	reportAuthor   = "tamtam"
)

// The largest files WriteReport annotates: it parses the data sheet whole, some 25 times
// its size in memory (a template of 10,000 rows, 16.6 MB unzipped, with a problem on each
// row took 400 MB), and a CSV file becomes such a sheet.
const (
	maxReportUnzipped = 16 << 20
	maxReportRows     = 10_000
)

// WriteReport writes the file b was read from (src) back as a workbook with every faulty
// cell filled light red and commented with its problems (those kept in b: see
// Options.MaxProblems); a problem of a whole row is marked on its first cell. A CSV file
// becomes a workbook of text cells. The marks of an earlier report are removed first (a
// comment on a faulty cell is replaced), so that a corrected report can be checked again
// and imported. A file larger than a template of about 10,000 rows is not annotated: the
// error then has [collector.CodeTooLarge].
func WriteReport(w io.Writer, src io.Reader, b *Batch) error {
	var (
		f     *excelize.File
		sheet string
		err   error
	)
	switch b.Format {
	case "xlsx":
		var (
			data []byte
			size uint64
		)
		if data, size, err = readWorkbook(src); err != nil {
			return err
		}
		if size > maxReportUnzipped {
			return tooLarge(fmt.Sprintf("the workbook unzips to %s, and tamtam annotates workbooks of at most %s "+
				"(about %d rows): correct the rows listed, or split the file", megabytes(size), megabytes(maxReportUnzipped), maxReportRows))
		}
		if f, err = openBytes(data); err != nil {
			return err
		}
		sheet = b.Sheet
	case "csv":
		if b.records > maxReportRows {
			return tooLarge(fmt.Sprintf("the file has %d rows, and tamtam annotates files of at most %d: correct the rows listed, or split the file",
				b.records, maxReportRows))
		}
		sheet = DataSheetNames.EN
		if f, err = csvWorkbook(src, sheet, b.columns); err != nil {
			return err
		}
	default:
		return fmt.Errorf("paper: report: unknown format %q", b.Format)
	}
	defer f.Close()
	m := &marker{f: f, sheet: sheet, restyled: map[int]int{}}
	if err := m.clear(); err != nil {
		return err
	}
	if err := m.mark(b.Problems); err != nil {
		return err
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("paper: write report: %w", err)
	}
	return nil
}

// csvWorkbook copies a CSV file into a new workbook, every cell as text, and at most
// columns+1 cells a row when columns > 0 (a row too wide is marked on the one after).
func csvWorkbook(src io.Reader, sheet string, columns int) (*excelize.File, error) {
	c, err := openCSV(bufio.NewReaderSize(src, 64<<10))
	if err != nil {
		return nil, err
	}
	f := excelize.NewFile()
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		f.Close()
		return nil, err
	}
	style, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Family: fontFamily, Size: 10}, NumFmt: 49})
	if err != nil {
		f.Close()
		return nil, err
	}
	width := 0
	for {
		n, cells, ok := c.next()
		if !ok {
			break
		}
		if n > maxReportRows {
			f.Close()
			return nil, tooLarge(fmt.Sprintf("the file has more than %d rows, and tamtam annotates files of at most %d", maxReportRows, maxReportRows))
		}
		if cells = trimRow(cells); columns > 0 {
			cells = cells[:min(len(cells), columns+1)]
		}
		row := make([]any, len(cells))
		for i, v := range cells {
			if tooLongCell(v) { // marked as too long; a spreadsheet cell cannot hold it
				v = string([]rune(v)[:maxCell])
			}
			row[i] = v
		}
		width = max(width, len(cells))
		if err := f.SetSheetRow(sheet, "A"+strconv.Itoa(n), &row); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := c.err(); err != nil {
		f.Close()
		return nil, err
	}
	if width > 0 {
		last, _ := excelize.ColumnNumberToName(width)
		if err := f.SetColStyle(sheet, "A:"+last, style); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.SetColWidth(sheet, "A", last, 18); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// marker highlights and comments cells of one sheet.
type marker struct {
	f        *excelize.File
	sheet    string
	restyled map[int]int // a cell style -> the same with (or, when clearing, without) the highlight
}

// clear removes the comments and fills of an earlier report.
func (m *marker) clear() error {
	comments, err := m.f.GetComments(m.sheet)
	if err != nil {
		return fmt.Errorf("paper: report: %w", err)
	}
	unfilled := map[int]int{}
	for _, c := range comments {
		if c.Author != reportAuthor {
			continue
		}
		if err := m.f.DeleteComment(m.sheet, c.Cell); err != nil {
			return fmt.Errorf("paper: report: %w", err)
		}
		id, err := m.f.GetCellStyle(m.sheet, c.Cell)
		if err != nil {
			return err
		}
		st, err := m.f.GetStyle(id)
		if err != nil || !highlighted(st) {
			continue
		}
		plain, ok := unfilled[id]
		if !ok {
			st.Fill = excelize.Fill{}
			if plain, err = m.f.NewStyle(st); err != nil {
				return err
			}
			unfilled[id] = plain
		}
		if err := m.f.SetCellStyle(m.sheet, c.Cell, c.Cell, plain); err != nil {
			return err
		}
	}
	return nil
}

func highlighted(st *excelize.Style) bool {
	return st.Fill.Type == "pattern" && len(st.Fill.Color) == 1 && strings.EqualFold(st.Fill.Color[0], highlightColor)
}

func (m *marker) mark(problems []Problem) error {
	type cell struct{ row, col int }
	var order []cell
	notes := map[cell][]string{}
	for _, p := range problems {
		c := cell{p.Row, max(p.Column, 1)}
		if _, ok := notes[c]; !ok {
			order = append(order, c)
		}
		note := p.Code + ": " + p.Message
		if p.Item != "" {
			note = p.Item + ": " + note
		}
		notes[c] = append(notes[c], note)
	}
	existing := map[string]bool{}
	comments, err := m.f.GetComments(m.sheet)
	if err != nil {
		return err
	}
	for _, c := range comments {
		existing[c.Cell] = true
	}
	for _, c := range order {
		name, err := excelize.CoordinatesToCellName(c.col, c.row)
		if err != nil {
			return err
		}
		if err := m.fill(name); err != nil {
			return err
		}
		if existing[name] {
			if err := m.f.DeleteComment(m.sheet, name); err != nil {
				return err
			}
		}
		text := strings.Join(notes[c], "\n")
		if err := m.f.AddComment(m.sheet, excelize.Comment{Cell: name, Author: reportAuthor, Text: text,
			Width: 320, Height: uint(40 + 30*len(notes[c]))}); err != nil {
			return fmt.Errorf("paper: report: comment %s: %w", name, err)
		}
	}
	return nil
}

// fill highlights a cell, keeping the rest of its style (number format, font…).
func (m *marker) fill(cell string) error {
	id, err := m.f.GetCellStyle(m.sheet, cell)
	if err != nil {
		return err
	}
	marked, ok := m.restyled[id]
	if !ok {
		st, err := m.f.GetStyle(id)
		if err != nil {
			return err
		}
		st.Fill = excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{highlightColor}}
		if st.Font == nil {
			st.Font = &excelize.Font{Family: fontFamily, Size: 10}
		} else if st.Font.Family == "" {
			st.Font.Family = fontFamily
		}
		if marked, err = m.f.NewStyle(st); err != nil {
			return err
		}
		m.restyled[id] = marked
	}
	return m.f.SetCellStyle(m.sheet, cell, cell, marked)
}
