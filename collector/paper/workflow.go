package paper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// ErrNoRows is returned by [Import] for a file without a questionnaire row and without a
// problem: nothing to check, nothing stored.
var ErrNoRows = errors.New("paper: no questionnaire rows")

// Annotate says when [Import] writes the file back with its faulty cells highlighted.
type Annotate int

const (
	AnnotateNever    Annotate = iota
	AnnotateProblems          // when the file has problems (the import page)
	AnnotateAlways            // whatever the check found (tamtam import --report)
)

// Job is one import of a file, or its check (Options.DryRun).
type Job struct {
	// Source is the file; it is read twice when annotated.
	Source io.ReadSeeker
	// Options says how to read it: the site, the questionnaire, a dry run, the limits.
	// CountExisting is set for a dry run.
	Options Options
	// Actor and Role are who imports, for the audit log: a token id and its role, or
	// "cli" and "operator".
	Actor, Role string
	Annotate    Annotate
	// Checked, when not nil, is called once the file is checked (and annotated), before
	// anything is stored: an error from it stops the import, audited as failed.
	Checked func(*Outcome) error
}

// Outcome is what [Import] found and did.
type Outcome struct {
	Batch    *Batch
	Problems int // every problem found, listed in Batch.Problems or only counted
	// Annotated is the file written back with its problems highlighted and commented
	// (see Job.Annotate), or nil with AnnotateErr saying why not (a
	// collector.CodeTooLarge error: the file is too large to annotate).
	Annotated   []byte
	AnnotateErr error
	Stored      Result // what was stored (a real import)
}

// Import is the one import workflow of tamtam import and of the import page: it checks
// job.Source as an API submission of each row would be, annotates it, then stores it
// whole (not for a dry run, nor when any row has a problem), and writes the audit event
// (who, site, counts, outcome; never a cell) through audit, whatever happens.
//
// Errors: those of [Importer.Check] unwrapped ([ErrStore] when the store cannot be asked,
// a collector.CodeTooLarge error for a file over the limits, any other for an unreadable
// file), with a nil Outcome; [ErrNoRows]; [ErrProblems] when rows have problems (nothing
// stored); those of job.Checked and of [Importer.Store]. When all else succeeded but the
// audit event could not be written, a *collector.AuditError.
func Import(ctx context.Context, im *Importer, audit collector.Auditor, now time.Time, job Job) (_ *Outcome, err error) {
	opts := job.Options
	opts.CountExisting = opts.CountExisting || opts.DryRun
	event := collector.AuditEvent{At: now, Actor: job.Actor, Role: job.Role, Action: "import", Outcome: "failed"}
	if opts.Site != "" {
		event.Sites = []string{opts.Site}
	}
	if opts.DryRun {
		event.Action = "import.check"
	}
	defer func() {
		if err == nil {
			event.Outcome = "ok"
		}
		if aerr := audit.Audit(context.WithoutCancel(ctx), event); aerr != nil && err == nil {
			err = &collector.AuditError{Action: event.Action, Done: !opts.DryRun, Err: aerr}
		}
	}()
	b, err := im.Check(ctx, job.Source, opts)
	if err != nil {
		switch {
		case errors.Is(err, ErrStore) || ctx.Err() != nil:
			event.Detail = "store unavailable" // not the file's fault
		case collector.ErrorCode(err) == collector.CodeTooLarge:
			event.Detail = "file over the limits"
		default:
			event.Detail = "unreadable file"
		}
		return nil, err
	}
	// Interrupted before Store, the staging goes.
	defer b.Discard(context.WithoutCancel(ctx))
	o := &Outcome{Batch: b, Problems: len(b.Problems) + b.MoreProblems}
	event.Detail = fmt.Sprintf("%s v%d: %d rows, %d problems", b.Questionnaire, b.Version, b.Rows, o.Problems)
	if job.Annotate == AnnotateAlways || job.Annotate == AnnotateProblems && len(b.Problems) > 0 {
		o.Annotated, o.AnnotateErr = annotate(job.Source, b)
	}
	if job.Checked != nil {
		if err := job.Checked(o); err != nil {
			return o, err
		}
	}
	switch {
	case b.Rows == 0 && len(b.Problems) == 0:
		return o, ErrNoRows
	case len(b.Problems) > 0:
		return o, ErrProblems
	case opts.DryRun:
		return o, nil
	}
	o.Stored, err = im.Store(ctx, b)
	event.Detail += fmt.Sprintf(", %d stored, %d already there", o.Stored.Stored, o.Stored.Replayed)
	return o, err
}

// annotate writes src back as a workbook with the problems of b.
func annotate(src io.ReadSeeker, b *Batch) ([]byte, error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("paper: annotate: %w", err)
	}
	var out bytes.Buffer
	if err := WriteReport(&out, src, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
