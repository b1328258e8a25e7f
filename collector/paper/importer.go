// This file holds the importer's API: its options, the batch a check returns, the
// problems it lists, Check and Store. How a file is read is in read.go, its header in
// header.go, the rows' pipeline in pipeline.go, a cell's conversion to an answer in
// convert.go, and the annotated report in report.go.

package paper

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

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

// The implementations the command wires in.
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

// derivedID is DerivedID as a UUID: a version 5 (SHA-1) UUID of the fingerprint in
// tamtam's own namespace.
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

// conflictError is the error of Store when the rows listed met a conflict in the store
// (the same id stored meanwhile with other answers), or nil when there are none.
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
