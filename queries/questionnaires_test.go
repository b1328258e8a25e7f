package queries_test

import (
	"testing"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// TestQuestionnaireFingerprints: the latest fingerprint of a version is the one read
// back; a version has submissions only once a record of it is stored.
func TestQuestionnaireFingerprints(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	if got, err := db.QuestionnaireFingerprints(ctx); err != nil || len(got) != 0 {
		t.Fatalf("QuestionnaireFingerprints(empty) = %v, %v", got, err)
	}
	for _, fp := range []string{"aaa", "bbb"} {
		if err := db.SetQuestionnaireFingerprint(ctx, "exit", 1, fp); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetQuestionnaireFingerprint(ctx, "exit", 2, "ccc"); err != nil {
		t.Fatal(err)
	}
	got, err := db.QuestionnaireFingerprints(ctx)
	if err != nil || got[collector.DefinitionKey{ID: "exit", Version: 1}] != "bbb" || got[collector.DefinitionKey{ID: "exit", Version: 2}] != "ccc" || len(got) != 2 {
		t.Fatalf("QuestionnaireFingerprints = %v, %v; want exit 1 bbb, exit 2 ccc", got, err)
	}
	if has, err := db.HasSubmissions(ctx, "entry", 1); err != nil || has {
		t.Fatalf("HasSubmissions(empty store) = %v, %v", has, err)
	}
	rec := collector.Record{SubmissionID: "00000000-0000-4000-8000-000000000001", Questionnaire: "entry", Version: 1,
		Site: "haren", Year: 2025, Month: "2025-03", Consent: true, KeyID: "k"}
	if err := db.InsertRecords(ctx, []collector.Record{rec}); err != nil {
		t.Fatal(err)
	}
	if has, err := db.HasSubmissions(ctx, "entry", 1); err != nil || !has {
		t.Fatalf("HasSubmissions(entry 1 stored) = %v, %v", has, err)
	}
	if has, err := db.HasSubmissions(ctx, "entry", 2); err != nil || has {
		t.Fatalf("HasSubmissions(entry 2) = %v, %v", has, err)
	}
}
