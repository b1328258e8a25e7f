package queries_test

import (
	"crypto/sha256"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
	"github.com/tamtam-ngo/tamtam/reports"
)

// demoData stores n generated entry questionnaires (and their follow-ups) in db, and
// returns the validated submissions, with their exact answers, for recomputation.
func demoData(t *testing.T, db *queries.DB, year, n int) []*collector.Submission {
	t.Helper()
	gen := collector.NewDemo(year, 7, demoNow(year))
	var bodies [][]byte
	for range n {
		s := gen.Next()
		bodies = append(bodies, s.Body)
		if s.FollowUp != nil {
			bodies = append(bodies, s.FollowUp)
		}
	}
	return storeBodies(t, db, year, bodies)
}

// demoNow is the time the demo data of year are generated and stored at.
func demoNow(year int) time.Time { return time.Date(year+1, 6, 1, 0, 0, 0, 0, time.UTC) }

// storeBodies validates, anonymises and stores JSON submission bodies as the API would,
// and returns the validated submissions.
func storeBodies(t *testing.T, db *queries.DB, year int, bodies [][]byte) []*collector.Submission {
	t.Helper()
	catalog, err := collector.BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	secret := sha256.Sum256([]byte("test key"))
	key, _ := collector.NewKey(secret[:])
	anon := &collector.Anonymiser{Keys: &collector.Keyring{Current: key}}
	now := demoNow(year)
	var subs []*collector.Submission
	var recs []collector.Record
	for _, body := range bodies {
		env, ferrs := collector.DecodeEnvelope(body)
		if ferrs != nil {
			t.Fatalf("demo body: %v", ferrs)
		}
		d, _ := catalog.Get(env.Questionnaire, env.Version)
		sub, ferrs := collector.Validate(d, env, now)
		if ferrs != nil {
			t.Fatalf("demo submission invalid: %v", ferrs)
		}
		rec, err := anon.Anonymise(sub, now)
		if err != nil {
			t.Fatal(err)
		}
		subs, recs = append(subs, sub), append(recs, rec)
	}
	if err := db.InsertRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	return subs
}

type share struct{ num, den int }

// recompute derives a few indicators from the exact answers, independently of the SQL.
func recompute(subs []*collector.Submission, year int) map[string]share {
	out := map[string]share{}
	count := func(id string, inDen, yes bool) {
		if !inDen {
			return
		}
		s := out[id]
		s.den++
		if yes {
			s.num++
		}
		out[id] = s
	}
	code := func(s *collector.Submission, item string) string { return s.Answers[item].Code }
	valid := func(c string) bool { return c != "" && c != "8" && c != "9" }
	usedBefore := map[string]bool{} // identifier -> entrant used in the 12 months before
	for _, s := range subs {
		if s.Definition.ID != "entry" {
			continue
		}
		count("I19", true, s.Consent)
		if !s.Consent {
			continue
		}
		life := code(s, "drug.lifetime_any")
		_, has12 := s.Answers["drug.before_12m"]
		used12 := len(s.Answers["drug.before_12m"].Codes) > 0
		count("I01", life == "0" || life == "1" && has12, used12)
		count("I02", valid(life), life == "1")
		count("I03.cocaine", life == "0" || life == "1" && has12, slices.Contains(s.Answers["drug.before_12m"].Codes, "cocaine"))
		inj := code(s, "inject.status")
		count("I07", valid(inj), inj == "2" || inj == "3" || inj == "4")
		sr := code(s, "health.self_rated")
		count("I15", valid(sr), sr == "1" || sr == "2")
		nat := code(s, "demo.nationality")
		count("I16", valid(nat) && nat != collector.CodeUnknown, nat != "BE")
		if id := s.Answers["link.identifier"].Text; id != "" && used12 {
			usedBefore[collector.NormaliseIdentifier(id)] = true
		}
	}
	for _, s := range subs {
		if s.Definition.ID != "followup" || !s.Consent {
			continue
		}
		u := code(s, "drug.in_prison_any")
		count("I20.used", valid(u), u == "1")
		if id := s.Answers["link.identifier"].Text; usedBefore[collector.NormaliseIdentifier(id)] {
			count("I21", u == "0" || u == "1", u == "1")
		}
	}
	return out
}

func TestIndicatorCellsMatchRecomputation(t *testing.T) {
	db := chtest.NewDB(t)
	const year = 2025
	subs := demoData(t, db, year, 3000)
	cutOff, err := db.DataCutOff(t.Context(), year)
	if err != nil || cutOff.IsZero() {
		t.Fatalf("DataCutOff = %v, %v", cutOff, err)
	}
	sites, _ := collector.LoadSites("")
	var all []string
	for _, s := range sites.All() {
		all = append(all, s.Code)
	}
	cells, err := db.IndicatorCells(t.Context(), year, all, cutOff, builtinIndicators(t))
	if err != nil {
		t.Fatalf("IndicatorCells: %v", err)
	}
	got := map[string]share{}
	for _, c := range cells {
		s := got[c.Indicator]
		s.num += c.Num
		s.den += c.Den
		got[c.Indicator] = s
	}
	want := recompute(subs, year)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("indicator %s = %d/%d from ClickHouse, want %d/%d recomputed from the answers", id, got[id].num, got[id].den, w.num, w.den)
		}
		if w.den < 30 {
			t.Errorf("indicator %s has only %d in its denominator: the test data prove little", id, w.den)
		}
	}
	// A duplicate row (a crash between insert and checkpoint: the same record, under the
	// same key, inserted again) is not counted twice.
	var one []collector.Record
	for _, sub := range subs[:1] {
		secret := sha256.Sum256([]byte("test key")) // demoData's
		key, _ := collector.NewKey(secret[:])
		rec, err := (&collector.Anonymiser{Keys: &collector.Keyring{Current: key}}).Anonymise(sub, cutOff)
		if err != nil {
			t.Fatal(err)
		}
		one = append(one, rec)
	}
	if err := db.InsertRecords(t.Context(), one); err != nil {
		t.Fatal(err)
	}
	again, err := db.IndicatorCells(t.Context(), year, all, cutOff, builtinIndicators(t))
	if err != nil {
		t.Fatal(err)
	}
	byCell := func(cs []reports.IndicatorCell) map[reports.IndicatorCell]int {
		m := map[reports.IndicatorCell]int{}
		for _, c := range cs {
			m[c]++
		}
		return m
	}
	if got, want := byCell(again), byCell(cells); !maps.Equal(got, want) {
		t.Errorf("IndicatorCells with a duplicate row differs from without (%d cells, want %d)", len(again), len(cells))
	}

	// A site outside the scope contributes nothing; a cut-off before every record, nothing.
	cells, err = db.IndicatorCells(t.Context(), year, []string{"haren"}, cutOff, builtinIndicators(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c.Site != "haren" {
			t.Fatalf("IndicatorCells(haren) returned a cell of %s", c.Site)
		}
	}
	cells, err = db.IndicatorCells(t.Context(), year, all, cutOff.Add(-24*365*time.Hour), builtinIndicators(t))
	if err != nil || len(cells) != 0 {
		t.Errorf("IndicatorCells(before the first record) = %d cells, %v; want none", len(cells), err)
	}
}

// builtinIndicators returns the indicators the built-in questionnaires declare.
func builtinIndicators(t *testing.T) []collector.Indicator {
	t.Helper()
	cat, err := reports.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return cat.Declared()
}

// TestCondEvalMatchesSQL: the conditions of every indicator — declared ones and item
// tables of every built-in questionnaire — decide the same in Go (collector.Cond.Eval,
// on which reports finds the relations between published counts) as in the SQL that
// counts them, on stored demo records: the relations found are those of the counts.
func TestCondEvalMatchesSQL(t *testing.T) {
	db := chtest.NewDB(t)
	const year = 2025
	demoData(t, db, year, 1500)
	catalog, err := collector.BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	needs, activity := collector.NewDemo(year, 7, demoNow(year)).FieldSurveys(1500)
	storeBodies(t, db, year, append(needs, activity...))
	for _, q := range catalog.IDs() {
		d, _ := catalog.Latest(q)
		_, dists := d.Distributions()
		var inds []collector.Indicator
		for _, ind := range append(slices.Clone(d.Indicators), dists...) {
			if ind.Link == nil {
				inds = append(inds, ind)
			}
		}
		stored, counted, err := db.Membership(t.Context(), q, inds)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) < 50 {
			t.Fatalf("%s: %d demo records, want some", q, len(stored))
		}
		bad := 0
		for r, rec := range stored {
			for i, ind := range inds {
				n := ind.PopulationCond().Eval(rec) && ind.ValidCond().Eval(rec)
				y := n && ind.Yes.Eval(rec)
				if (n != counted[r][2*i] || y != counted[r][2*i+1]) && bad < 5 {
					bad++
					t.Errorf("%s: record %v: Go counts it in N %v, numerator %v; SQL %v, %v", ind.ID, rec, n, y, counted[r][2*i], counted[r][2*i+1])
				}
			}
		}
	}
}
