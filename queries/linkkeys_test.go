package queries_test

import (
	"bytes"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// chClient runs one query with clickhouse-client, a reader independent of this package.
func chClient(t *testing.T, database, query string) string {
	t.Helper()
	ep := chtest.Endpoint()
	host, port, _ := strings.Cut(ep.Addr, ":")
	out, err := osexec.CommandContext(t.Context(), "clickhouse-client", "--host", host, "--port", port,
		"--user", ep.User, "--password", ep.Password, "--database", database, "--query", query).CombinedOutput()
	if err != nil {
		t.Fatalf("clickhouse-client %q: %v\n%s", query, err, out)
	}
	return strings.TrimSpace(string(out))
}

// linkRecord is a stored record of the person behind identifier, keyed under key.
func linkRecord(id, questionnaire string, key *collector.Key, identifier string, received time.Time, answers ...collector.StoredAnswer) collector.Record {
	return collector.Record{
		SubmissionID: id, Questionnaire: questionnaire, Version: 1, Site: "haren", Month: "2025-03", Year: 2025,
		Consent: true, Gender: "M", AgeBand: "25-34", NationalityGroup: "BE",
		LinkID: key.LinkID(identifier), KeyID: key.ID, Fingerprint: "fp-" + id, Answers: answers, Received: received,
	}
}

// TestRekey follows a person across a rotation at the store: entry and a first follow-up
// under key 1; a follow-up under key 2 that carries the person's key-1 link; re-keying
// moves the entry and the first follow-up to key 2, once, and I21 links the person once
// while the replaced rows are still there (merges are stopped).
func TestRekey(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	name := db.Database()
	chClient(t, name, "SYSTEM STOP MERGES submissions") // keep replaced rows beside their replacements

	k1, _ := collector.NewKey(bytes.Repeat([]byte{1}, collector.KeySize))
	k2, _ := collector.NewKey(bytes.Repeat([]byte{2}, collector.KeySize))
	t0 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	used := collector.StoredAnswer{Item: "drug.before_12m", Value: "cannabis"}
	entry := linkRecord("e-1", "entry", k1, "AB-12.345", t0, used)
	other := linkRecord("e-2", "entry", k1, "ZZ-99", t0, used) // never seen again
	follow1 := linkRecord("f-1", "followup", k1, "AB-12.345", t0.Add(24*time.Hour), collector.StoredAnswer{Item: "drug.in_prison_any", Value: "1"})
	if err := db.InsertRecords(ctx, []collector.Record{entry, other, follow1}); err != nil {
		t.Fatal(err)
	}
	sites := []string{"haren"}
	i21 := func() (num, den int) {
		t.Helper()
		cutOff := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		cells, err := db.IndicatorCells(ctx, 2025, sites, cutOff, builtinIndicators(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cells {
			if c.Indicator == "I21" {
				num, den = num+c.Num, den+c.Den
			}
		}
		return num, den
	}
	if num, den := i21(); num != 1 || den != 1 {
		t.Fatalf("I21 before rotation = %d/%d, want 1/1", num, den)
	}
	if n, err := db.Rekey(ctx); err != nil || n != 0 {
		t.Errorf("Rekey with nothing noted = %d, %v; want 0", n, err)
	}

	// After the rotation: a follow-up under key 2, carrying the person's key-1 link.
	follow2 := linkRecord("f-2", "followup", k2, " ab 12345", t0.Add(200*24*time.Hour), collector.StoredAnswer{Item: "drug.in_prison_any", Value: "0"})
	follow2.PreviousLinks = []collector.KeyedLink{{KeyID: k1.ID, LinkID: k1.LinkID("ab12345")}}
	if err := db.InsertRecords(ctx, []collector.Record{follow2}); err != nil {
		t.Fatal(err)
	}
	// The same insert again (a crash between insert and checkpoint): the pairs are noted
	// twice and f-2 is stored twice, both harmless.
	if err := db.InsertRecords(ctx, []collector.Record{follow2}); err != nil {
		t.Fatal(err)
	}
	if got := chClient(t, name, "SELECT from_key_id = '"+k1.ID+"', from_link_id = '"+entry.LinkID+"', to_key_id = '"+k2.ID+"', to_link_id = '"+follow2.LinkID+"' FROM link_rekeys LIMIT 1"); got != "1\t1\t1\t1" {
		t.Errorf("link_rekeys = %q, want the key-1 link of the person mapped to its key-2 link", got)
	}

	n, err := db.Rekey(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Rekey = %d, %v; want 2 rows (the entry and the first follow-up)", n, err)
	}
	want := "e-1\t" + k2.ID + "\t" + follow2.LinkID + "\n" +
		"e-2\t" + k1.ID + "\t" + other.LinkID + "\n" +
		"f-1\t" + k2.ID + "\t" + follow2.LinkID + "\n" +
		"f-2\t" + k2.ID + "\t" + follow2.LinkID
	if got := chClient(t, name, "SELECT submission_id, key_id, link_id FROM submissions FINAL ORDER BY submission_id"); got != want {
		t.Errorf("rows after Rekey =\n%s\nwant\n%s", got, want)
	}
	// Content and received_at are those of the original rows.
	if got := chClient(t, name, "SELECT uniqExact(fingerprint, received_at, answer_value) FROM submissions WHERE submission_id = 'e-1'"); got != "1" {
		t.Errorf("the re-keyed entry differs from the original in content or time (%s versions)", got)
	}
	if got := chClient(t, name, "SELECT count(), uniqExact(submission_id) FROM submissions"); got != "7\t4" {
		t.Errorf("rows, ids = %q, want 7 and 4 (two replaced rows and a duplicate left until a merge)", got)
	}
	// Linked once, with the latest follow-up's answer.
	if num, den := i21(); num != 0 || den != 1 {
		t.Errorf("I21 after re-keying = %d/%d, want 0/1 (one person, latest follow-up says no)", num, den)
	}
	// Repeating a pass (as after a crash right after its insert) moves nothing.
	if n, err := db.Rekey(ctx); err != nil || n != 0 {
		t.Errorf("second Rekey = %d, %v; want 0", n, err)
	}
	if got := chClient(t, name, "SELECT count() FROM submissions"); got != "7" {
		t.Errorf("rows after a second Rekey = %s, want 7 (nothing inserted)", got)
	}
	if noted, err := db.RekeysNoted(ctx); err != nil || noted[k1.ID] < 1 {
		t.Errorf("RekeysNoted = %v, %v; want pairs from key 1", noted, err)
	}

	// Key 1 destroyed: its pairs go. A follow-up of the other person, under key 2 with no
	// key-1 link (nobody can compute one any more), does not link to its entry.
	if n, err := db.DropRekeys(ctx, []string{k1.ID, k2.ID}); err != nil || n < 1 {
		t.Errorf("DropRekeys = %d, %v; want key 1's pairs dropped", n, err)
	}
	if got := chClient(t, name, "SELECT count() FROM link_rekeys"); got != "0" {
		t.Errorf("link_rekeys after DropRekeys holds %s rows, want 0", got)
	}
	late := linkRecord("f-3", "followup", k2, "ZZ-99", t0.Add(300*24*time.Hour), collector.StoredAnswer{Item: "drug.in_prison_any", Value: "1"})
	if err := db.InsertRecords(ctx, []collector.Record{late}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Rekey(ctx); err != nil || n != 0 {
		t.Errorf("Rekey after the key is destroyed = %d, %v; want 0", n, err)
	}
	if num, den := i21(); num != 0 || den != 1 {
		t.Errorf("I21 after a follow-up of an entry keyed under a destroyed key = %d/%d, want 0/1 (not linked)", num, den)
	}
	if _, err := db.DropRekeys(ctx, []string{"not-a-key-id"}); err == nil {
		t.Errorf("DropRekeys(invalid id) = nil error, want one")
	}
}
