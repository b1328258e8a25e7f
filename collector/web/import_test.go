package web

import (
	"context"
	"errors"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// auditLog keeps the audit events the pages write.
type auditLog struct{ events []collector.AuditEvent }

func (a *auditLog) Audit(_ context.Context, e collector.AuditEvent) error {
	a.events = append(a.events, e)
	return nil
}

// storeDown is a store that cannot be reached: for the look-up of a check, and for the
// submissions of an import.
type storeDown struct{}

func (storeDown) Fingerprints(context.Context, []string) (map[string]string, error) {
	return nil, errors.New("connection refused")
}

func (storeDown) Submit(context.Context, []collector.Record) ([]collector.Outcome, error) {
	return nil, collector.NewError(collector.CodeUnavailable, "unavailable")
}

// storeUp stores every record it is given.
type storeUp struct{}

func (storeUp) Submit(_ context.Context, recs []collector.Record) ([]collector.Outcome, error) {
	outs := make([]collector.Outcome, len(recs))
	for i := range outs {
		outs[i] = collector.Stored
	}
	return outs, nil
}

// TestImportPageWorkflow: each upload of the import page (paper.Import) answers with the
// status of its outcome's code and the page's message, and writes exactly one audit event
// with its counts; a file with problems comes back annotated.
func TestImportPageWorkflow(t *testing.T) {
	e := newImportEnv(t)
	header := entryHeader(e)
	file := func(answers map[string]string) []byte {
		return []byte(strings.Join(header, ",") + "\n" + csvRow(header, answers, ""))
	}
	good := map[string]string{}
	for k, v := range minimalAnswers {
		good[k] = v
	}
	good["demo.age"] = "30"
	tests := []struct {
		name, action string
		data         []byte
		storeDown    bool
		status       int
		message      string // key of the result's message, or of the page's error
		audit        string // action, outcome, detail
		annotated    bool
	}{
		{"problems", "check", file(minimalAnswers), false, http.StatusUnprocessableEntity,
			"check_bad", "import.check failed entry v1: 1 rows, 1 problems", true},
		{"clean", "check", file(good), false, http.StatusOK,
			"check_ok", "import.check ok entry v1: 1 rows, 0 problems", false},
		{"no rows", "check", []byte(strings.Join(header, ",") + "\n"), false, http.StatusBadRequest,
			"no_rows", "import.check failed entry v1: 0 rows, 0 problems", false},
		{"unreadable", "import", []byte("\x00\x01 not a table"), false, http.StatusBadRequest,
			"import_unreadable", "import failed unreadable file", false},
		{"store down for the check", "check", file(good), true, http.StatusServiceUnavailable,
			"import_unavailable", "import.check failed store unavailable", false},
		{"store down for the import", "import", file(good), true, http.StatusServiceUnavailable,
			"unavailable", "import failed entry v1: 1 rows, 0 problems, 0 stored, 0 already there", false},
		{"import", "import", file(good), false, http.StatusOK,
			"import_done", "import ok entry v1: 1 rows, 0 problems, 1 stored, 0 already there", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &auditLog{}
			e.server.Auditor = log
			e.server.Importer.Lookup, e.server.Importer.Submitter = nil, storeUp{}
			if tc.storeDown {
				e.server.Importer.Lookup, e.server.Importer.Submitter = storeDown{}, storeDown{}
			}
			w := e.upload(t, tc.action, "answers.csv", tc.data)
			if w.Code != tc.status {
				t.Errorf("POST /import = %d, want %d:\n%s", w.Code, tc.status, w.Body)
			}
			if len(log.events) != 1 {
				t.Fatalf("audit events = %+v, want 1", log.events)
			}
			ev := log.events[0]
			if got := ev.Action + " " + ev.Outcome + " " + ev.Detail; got != tc.audit || strings.Join(ev.Sites, ",") != "haren" {
				t.Errorf("audit event = %q for %v, want %q for haren", got, ev.Sites, tc.audit)
			}
			if msg := html.EscapeString(words.EN.T(tc.message)); !strings.Contains(w.Body.String(), msg) {
				t.Errorf("page without %q:\n%s", msg, w.Body)
			}
			if got := strings.Contains(w.Body.String(), "/import/annotated/"); got != tc.annotated {
				t.Errorf("link to the annotated file: %v, want %v", got, tc.annotated)
			}
		})
	}
}
