// This file holds what a submission is once validated (Submission, Value). Decoding a
// body is in envelope.go, the one-pass JSON scanner in jsonscan.go, the checks against
// a questionnaire in validate.go.

package collector

import (
	"log/slog"
)

// Value is one validated answer. Exactly one field is meaningful, by the item's type.
type Value struct {
	Code  string   // choice
	Codes []string // multi
	Int   int      // integer
	Text  string   // month ("YYYY-MM") or identifier (raw, never stored)
}

// Submission is a validated submission with its exact answers. It exists only in memory
// during a request: pass it to [Anonymiser.Anonymise] and drop it.
type Submission struct {
	ID         string
	Definition *Definition
	Site       string
	Answers    map[string]Value
	Consent    bool
}

// LogValue redacts the answers: only counts and codes that are not answers appear.
func (s *Submission) LogValue() slog.Value {
	return slog.GroupValue(slog.String("submission_id", s.ID),
		slog.String("questionnaire", s.Definition.ID), slog.Int("version", s.Definition.Version),
		slog.String("site", s.Site), slog.Int("answers", len(s.Answers)))
}

// ConsentItem is the item every questionnaire starts with; "0" makes a refusal record,
// in which only items that always apply may be answered.
const ConsentItem = "meta.consent"
