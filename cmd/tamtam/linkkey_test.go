package main

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// followUp returns a valid follow-up questionnaire for haren of the person behind
// identifier, who used a drug in prison or not.
func followUp(id, identifier, used string) map[string]any {
	return map[string]any{"submission_id": id, "questionnaire": "followup", "version": 1, "site": "haren",
		"answers": map[string]any{"meta.consent": "1", "meta.followup_month": "2025-06", "meta.time_since_entry": "1-3m",
			"link.identifier": identifier, "demo.gender": "M", "demo.age": 34, "demo.nationality": "MA",
			"drug.in_prison_any": used, "ost.in_prison": "never", "care.seen_doctor": "1",
			"care.interpreter_provided": "not_needed", "care.release_plan": "0"}}
}

// TestLinkKeyRotation follows two people through a rotation, end to end against the real
// ClickHouse: both enter under key 1; the key is rotated with a 90-day grace; A's
// follow-up, under key 2, re-keys A's entry, and I21 links A; once the grace has passed
// (the clock moved, nothing slept), key 1 is destroyed, its file and its link pairs gone,
// and B's follow-up no longer links to B's entry.
func TestLinkKeyRotation(t *testing.T) {
	e := newTestEnv(t)
	ctx := t.Context()
	tok := e.token("intake", "haren")
	keyDir := filepath.Join(e.cfg.Data, "keys")
	entryOf := func(id, identifier string) map[string]any {
		sub := entry(id)
		answers(sub)["link.identifier"] = identifier
		return sub
	}
	post := func(sub map[string]any) {
		t.Helper()
		if r := e.post("/api/v1/submissions", tok, sub); r.status != http.StatusCreated {
			t.Fatalf("POST %s = %d %s, want 201", sub["submission_id"], r.status, r.raw)
		}
	}
	i21 := func() (num, den int) {
		t.Helper()
		cells, err := e.app.db.IndicatorCells(ctx, 2025, []string{"haren"}, time.Now().Add(time.Hour), e.app.reportCatalog.Declared())
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
	keyOf := func(id string) string {
		t.Helper()
		return e.sql("SELECT key_id, link_id FROM submissions FINAL WHERE submission_id = '" + id + "'")
	}
	entryA, entryB, followA, followB := uuidN(101), uuidN(102), uuidN(103), uuidN(104)
	post(entryOf(entryA, "HAR-2025-017"))
	post(entryOf(entryB, "HAR-2025-099"))
	key1 := e.app.api.Anonymiser.Keyring().Current.ID
	if got := keyOf(entryA); !strings.HasPrefix(got, key1+"\t") {
		t.Fatalf("entry A stored under %q, want key %s", got, key1)
	}

	code, out, errOut := e.cli("linkkey", "rotate", "--grace", "90d")
	if code != 0 || !strings.Contains(out, "epoch 2") || !strings.Contains(out, key1+" links follow-ups") {
		t.Fatalf("linkkey rotate = exit %d, %q (%s); want epoch 2, key 1 kept", code, out, errOut)
	}
	if code, out, _ := e.cli("linkkey", "list"); code != 0 || !strings.Contains(out, "current") || !strings.Contains(out, "previous: matches follow-ups") {
		t.Errorf("linkkey list after rotate = exit %d:\n%s\nwant epoch 2 current, epoch 1 previous", code, out)
	}
	// What a running server does every minute: take up the new key.
	kd, err := collector.OpenKeyDir(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.keyMaintainer(kd).Maintain(ctx, "server", "system"); err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	ring := e.app.api.Anonymiser.Keyring()
	key2 := ring.Current.ID
	if key2 == key1 || len(ring.Previous) != 1 || ring.Previous[0].ID != key1 {
		t.Fatalf("keys in use after the rotation = %s + %v, want a new key and %s", key2, ring.Previous, key1)
	}

	// A's follow-up, identifier typed differently, under key 2: it notes A's key-1 link.
	post(followUp(followA, " har 2025 017", "1"))
	if got := e.sql("SELECT count() FROM link_rekeys WHERE from_key_id = '" + key1 + "' AND to_key_id = '" + key2 + "'"); got != "1" {
		t.Errorf("link pairs noted for A's follow-up = %s, want 1", got)
	}
	m, err := e.app.keyMaintainer(kd).Maintain(ctx, "server", "system")
	if err != nil || m.Rekeyed != 1 {
		t.Fatalf("Maintain after A's follow-up = %+v, %v; want A's entry re-keyed", m, err)
	}
	if got, want := keyOf(entryA), keyOf(followA); got != want || !strings.HasPrefix(got, key2+"\t") {
		t.Errorf("entry A after re-keying = %q, want the follow-up's key and link %q", got, want)
	}
	if got := keyOf(entryB); !strings.HasPrefix(got, key1+"\t") {
		t.Errorf("entry B = %q, want still under key %s (not seen again)", got, key1)
	}
	if num, den := i21(); num != 1 || den != 1 {
		t.Errorf("I21 after re-keying = %d/%d, want 1/1 (A linked, once)", num, den)
	}
	// Repeated maintenance re-keys nothing more.
	if m, err := e.app.keyMaintainer(kd).Maintain(ctx, "server", "system"); err != nil || m.Rekeyed != 0 {
		t.Errorf("Maintain again = %+v, %v; want nothing re-keyed", m, err)
	}

	// The grace period passes.
	later := time.Now().Add(91 * 24 * time.Hour)
	e.app.now = func() time.Time { return later }
	m, err = e.app.keyMaintainer(kd).Maintain(ctx, "server", "system")
	if err != nil || len(m.Destroyed) != 1 || m.Destroyed[0].ID != key1 || m.Dropped != 1 || m.DropErr != nil {
		t.Fatalf("Maintain after the grace period = %+v, %v; want key 1 destroyed and its pair dropped", m, err)
	}
	if _, err := os.Stat(filepath.Join(keyDir, "link-0001.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link-0001.key after the grace period: %v, want it gone", err)
	}
	if got := e.sql("SELECT count() FROM link_rekeys"); got != "0" {
		t.Errorf("link_rekeys after key 1's destruction holds %s pairs, want 0", got)
	}
	if ring := e.app.api.Anonymiser.Keyring(); ring.Current.ID != key2 || len(ring.Previous) != 0 {
		t.Errorf("keys in use after the destruction = %s + %v, want key 2 alone", ring.Current.ID, ring.Previous)
	}
	// B's follow-up: key 1 is gone, so nothing maps B's new link to the old one.
	post(followUp(followB, "HAR-2025-099", "1"))
	if m, err := e.app.keyMaintainer(kd).Maintain(ctx, "server", "system"); err != nil || m.Rekeyed != 0 {
		t.Errorf("Maintain after B's follow-up = %+v, %v; want nothing re-keyed", m, err)
	}
	if got := e.sql("SELECT count() FROM link_rekeys"); got != "0" {
		t.Errorf("link_rekeys after B's follow-up holds %s pairs, want 0", got)
	}
	if keyOf(entryB) == keyOf(followB) {
		t.Errorf("entry B and its follow-up share a link after key 1's destruction")
	}
	if num, den := i21(); num != 1 || den != 1 {
		t.Errorf("I21 after B's follow-up = %d/%d, want 1/1 (B not linked)", num, den)
	}

	code, out, _ = e.cli("linkkey", "list")
	if code != 0 || !strings.Contains(out, "destroyed") || !strings.Contains(out, key1) {
		t.Errorf("linkkey list after the destruction = exit %d:\n%s\nwant key 1 listed as destroyed", code, out)
	}
	for _, action := range []string{"linkkey.rotate", "linkkey.destroy"} {
		if code, out, _ := e.cli("audit", "--action", action); code != 0 || !strings.Contains(out, key1) {
			t.Errorf("audit --action %s = exit %d:\n%s\nwant an event naming key %s", action, code, out, key1)
		}
	}
}

func TestLinkKeyUsage(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"linkkey"},
		{"linkkey", "frobnicate"},
		{"linkkey", "rotate", "--grace", "3x"},
		{"linkkey", "rotate", "--grace", "-1d"},
		{"linkkey", "list", "extra"},
	} {
		var out, errOut strings.Builder
		code := run(t.Context(), append(args, "--data", data), &out, &errOut, func(string) string { return "" })
		if code != 2 || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 || !strings.HasPrefix(errOut.String(), "tamtam: ") {
			t.Errorf("tamtam %v = exit %d, stderr %q; want 2 and one line", args, code, errOut.String())
		}
	}
}

func TestParseGrace(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "0d": 0, "0": 0, "36h": 36 * time.Hour, " 7d ": 7 * 24 * time.Hour} {
		if got, err := parseGrace(in); err != nil || got != want {
			t.Errorf("parseGrace(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-3d", "3.5d", "ninety", "-1h", "4000d"} {
		if got, err := parseGrace(in); err == nil {
			t.Errorf("parseGrace(%q) = %v, nil; want an error", in, got)
		}
	}
}

// TestKeyMaintenanceTakesUpRotation: serve's maintenance loop hands a rotation made by
// `tamtam linkkey rotate` beside it to the anonymiser, without a restart; stopping the
// loop waits for it.
func TestKeyMaintenanceTakesUpRotation(t *testing.T) {
	e := newTestEnv(t)
	kd, err := collector.OpenKeyDir(filepath.Join(e.cfg.Data, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	before := e.app.api.Anonymiser.Keyring().Current.ID
	stop := e.app.keyMaintainer(kd).Start(20 * time.Millisecond)
	defer stop()
	if code, out, errOut := e.cli("linkkey", "rotate"); code != 0 {
		t.Fatalf("linkkey rotate = exit %d, %s %s", code, out, errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.app.api.Anonymiser.Keyring().Current.ID == before {
		if time.Now().After(deadline) {
			t.Fatal("the maintenance loop did not take up the rotation in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ring := e.app.api.Anonymiser.Keyring(); len(ring.Previous) != 1 || ring.Previous[0].ID != before {
		t.Errorf("keys in use after the rotation = %+v, want the old key as previous", ring)
	}
	stop()
	stop() // idempotent
}
