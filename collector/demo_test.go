package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestDemoEntryStream pins the entry and follow-up submissions of two seeds: tests and
// goldens elsewhere were written against them, so the field surveys (and any later
// addition) must draw from streams of their own.
func TestDemoEntryStream(t *testing.T) {
	for seed, want := range map[uint64]string{
		1: "83e10da2b4310458ba0d08b9230ce415b654764dc2fa035e89bbaaa48721f28d",
		7: "cf38e9fb0f90d4fb29d527bd8d627e53666eb883ab3351d85555ad05bb39c749",
	} {
		g := NewDemo(2025, seed, time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC))
		g.FieldSurveys(3000) // drawing the surveys first changes nothing of the entry stream
		h := sha256.New()
		for range 3000 {
			s := g.Next()
			h.Write(s.Body)
			h.Write(s.FollowUp)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("NewDemo(2025, %d).Next() x 3000 hashes to %s, want %s: the entry stream changed", seed, got, want)
		}
	}
}

// TestDemoFieldSurveys: the needs and activity questionnaires come in proportion to the
// entrants, pass validation (skip logic included), are the same for the same seed, grow
// by extension with n, and look like the field: refusals, many sites, people wanting
// activities, obstacles named, activities mostly found useful.
func TestDemoFieldSurveys(t *testing.T) {
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	needs, activity := NewDemo(2025, 3, now).FieldSurveys(5000)
	if len(needs) != 400 || len(activity) != 300 {
		t.Fatalf("FieldSurveys(5000) = %d needs, %d activity; want 400, 300", len(needs), len(activity))
	}
	again, _ := NewDemo(2025, 3, now).FieldSurveys(5000)
	if !slices.EqualFunc(needs, again, bytes.Equal) {
		t.Error("FieldSurveys is not the same for the same seed")
	}
	fewer, fewerActivity := NewDemo(2025, 3, now).FieldSurveys(1000)
	if !slices.EqualFunc(fewer, needs[:len(fewer)], bytes.Equal) || !slices.EqualFunc(fewerActivity, activity[:len(fewerActivity)], bytes.Equal) {
		t.Error("FieldSurveys(1000) is not the start of FieldSurveys(5000): a rerun with more entrants would store other questionnaires")
	}
	if other, _ := NewDemo(2025, 4, now).FieldSurveys(5000); bytes.Equal(other[0], needs[0]) {
		t.Error("another seed gives the same needs questionnaires")
	}

	count := map[string]int{}
	sites := map[string]bool{}
	months := map[string]map[string]bool{} // needs: site -> months
	for _, body := range append(slices.Clone(needs), activity...) {
		env := decodeBody(t, body)
		d, ok := cat.Get(env.Questionnaire, env.Version)
		if !ok {
			t.Fatalf("generated questionnaire %s v%d is not built in", env.Questionnaire, env.Version)
		}
		if _, ferrs := Validate(d, env, now); ferrs != nil {
			t.Fatalf("Validate(%s) = %v, want no problem", body, ferrs)
		}
		var m struct {
			Answers map[string]any `json:"answers"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		a := m.Answers
		q := env.Questionnaire
		sites[env.Site] = true
		count[q]++
		if a["meta.consent"] == "0" {
			count[q+" refused"]++
			continue
		}
		chose := func(item, code string) bool {
			l, _ := a[item].([]any)
			return slices.Contains(l, any(code))
		}
		switch q {
		case "needs":
			if months[env.Site] == nil {
				months[env.Site] = map[string]bool{}
			}
			months[env.Site][a["meta.survey_month"].(string)] = true
			if a["wish.any"] == "1" || a["wish.any"] == "0" {
				count["wish answered"]++
			}
			if chose("wish.activities", "language") {
				count["wants language classes"]++
			}
			if chose("access.barriers", "no_info") {
				count["no information"]++
			}
		case "activity":
			if a["activity.useful"] == "1" || a["activity.useful"] == "2" {
				count["useful"]++
			}
			if a["activity.status"] == "stopped" {
				count["stopped"]++
			}
		}
	}
	consented := func(q string) float64 { return float64(count[q] - count[q+" refused"]) }
	between := func(what string, got, lo, hi float64) {
		if got < lo || got > hi {
			t.Errorf("%s = %.2f, want between %.2f and %.2f", what, got, lo, hi)
		}
	}
	between("needs refusals", float64(count["needs refused"])/float64(count["needs"]), 0.03, 0.15)
	between("activity refusals", float64(count["activity refused"])/float64(count["activity"]), 0.01, 0.1)
	between("share wanting language classes", float64(count["wants language classes"])/float64(count["wish answered"]), 0.15, 0.5)
	between("share stopped by no information", float64(count["no information"])/consented("needs"), 0.25, 0.6)
	between("share finding the activity useful", float64(count["useful"])/consented("activity"), 0.6, 0.95)
	between("share who stopped", float64(count["stopped"])/consented("activity"), 0.1, 0.35)
	if len(sites) < 10 {
		t.Errorf("field surveys at %d sites, want 10 or more", len(sites))
	}
	for site, ms := range months {
		if len(ms) > 2 {
			t.Errorf("needs survey at %s in %d months, want a campaign of at most 2", site, len(ms))
		}
	}
}
