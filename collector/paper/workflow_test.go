package paper

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tamtam-ngo/tamtam/collector"
)

// auditLog keeps the audit events of an import.
type auditLog struct {
	events []collector.AuditEvent
	err    error
}

func (a *auditLog) Audit(_ context.Context, e collector.AuditEvent) error {
	a.events = append(a.events, e)
	return a.err
}

// TestImportWorkflow: the check, the dry run and the import of one file, each audited
// once with its counts and outcome; an unreadable file is audited as such.
func TestImportWorkflow(t *testing.T) {
	im, store := newImporter(t)
	d := entryDefinition(t)
	bad := csvFileOf(t, d, ';', false, testRows())
	good := csvFileOf(t, d, ';', false, fixRows(testRows()))
	job := func(data []byte, dryRun bool, a Annotate) Job {
		return Job{Source: bytes.NewReader(data), Options: Options{Site: "haren", DryRun: dryRun},
			Actor: "cli", Role: "operator", Annotate: a}
	}
	tests := []struct {
		name       string
		job        Job
		wantErr    error
		wantAudit  string // action, outcome, detail
		annotated  bool
		wantStored int
	}{
		{"check with problems", job(bad, true, AnnotateProblems), ErrProblems,
			"import.check failed entry v1: 9 rows, 5 problems", true, 0},
		{"import with problems", job(bad, false, AnnotateNever), ErrProblems,
			"import failed entry v1: 9 rows, 5 problems", false, 0},
		{"check without problems", job(good, true, AnnotateProblems), nil,
			"import.check ok entry v1: 9 rows, 0 problems", false, 0},
		{"check annotated always", job(good, true, AnnotateAlways), nil,
			"import.check ok entry v1: 9 rows, 0 problems", true, 0},
		{"import", job(good, false, AnnotateProblems), nil,
			"import ok entry v1: 9 rows, 0 problems, 9 stored, 0 already there", false, 9},
		{"unreadable", job([]byte("\x00\x01 not a table"), false, AnnotateProblems), nil,
			"import failed unreadable file", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			audit := &auditLog{}
			o, err := Import(t.Context(), im, audit, testNow, tc.job)
			if tc.name == "unreadable" {
				if err == nil || o != nil {
					t.Fatalf("Import(unreadable) = %v, %v; want an error and no outcome", o, err)
				}
			} else if !errors.Is(err, tc.wantErr) || err == nil && tc.wantErr != nil {
				t.Fatalf("Import = %v, want %v", err, tc.wantErr)
			}
			if len(audit.events) != 1 {
				t.Fatalf("audit events = %+v, want 1", audit.events)
			}
			e := audit.events[0]
			if got := e.Action + " " + e.Outcome + " " + e.Detail; got != tc.wantAudit || e.Actor != "cli" || strings.Join(e.Sites, ",") != "haren" {
				t.Errorf("audit event = %q by %s for %v, want %q by cli for haren", got, e.Actor, e.Sites, tc.wantAudit)
			}
			if o == nil {
				return
			}
			if (o.Annotated != nil) != tc.annotated || o.AnnotateErr != nil {
				t.Errorf("annotated = %d bytes, %v; want annotated %v", len(o.Annotated), o.AnnotateErr, tc.annotated)
			}
			if o.Stored.Stored != tc.wantStored {
				t.Errorf("stored = %+v, want %d", o.Stored, tc.wantStored)
			}
		})
	}
	if len(store.fps) != 9 {
		t.Errorf("store holds %d submissions, want the 9 of the one import", len(store.fps))
	}
}

// TestImportWorkflowChecked: the Checked hook runs before the store, and its error stops
// the import, audited as failed; an audit failure after a success is an AuditError.
func TestImportWorkflowChecked(t *testing.T) {
	im, store := newImporter(t)
	good := csvFileOf(t, entryDefinition(t), ';', false, fixRows(testRows()))
	stop := errors.New("report not written")
	audit := &auditLog{}
	_, err := Import(t.Context(), im, audit, testNow, Job{Source: bytes.NewReader(good), Options: Options{Site: "haren"},
		Checked: func(*Outcome) error { return stop }})
	if !errors.Is(err, stop) || len(store.fps) != 0 || audit.events[0].Outcome != "failed" {
		t.Errorf("Import with a failing Checked = %v, %d stored, %+v; want its error, nothing stored, audited failed", err, len(store.fps), audit.events)
	}
	audit = &auditLog{err: errors.New("audit log down")}
	_, err = Import(t.Context(), im, audit, testNow, Job{Source: bytes.NewReader(good), Options: Options{Site: "haren"}})
	var ae *collector.AuditError
	if !errors.As(err, &ae) || !ae.Done || len(store.fps) != 9 {
		t.Errorf("Import with the audit log down = %v, %d stored; want an AuditError after storing", err, len(store.fps))
	}
}
