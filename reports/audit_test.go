package reports

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/audit"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// The tests of this file hold releases to the independent auditor of package audit: it
// reads every view of every release as a role would, and looks for what PRIVACY.md
// R11–R13 forbid.

// knowledgeOf is what an intruder knows of the catalog.
func knowledgeOf(cat *Catalog, k int) audit.Knowledge {
	kn := audit.Knowledge{K: k, Population: map[string]string{}, Categories: map[string][]string{},
		Merges: map[string]map[string][]string{}, Entrants: EntrantsIndicator, Linked: LinkedIndicator}
	for _, ind := range cat.Indicators {
		kn.Population[ind.ID] = ind.PopulationID()
	}
	all := map[string]bool{}
	for _, f := range cat.Families {
		all[f.ID] = true
	}
	kn.Choices = cat.choiceGroups(all)
	for _, dim := range breakdownDims {
		for _, c := range cat.Categories[dim] {
			kn.Categories[dim] = append(kn.Categories[dim], c.Code)
		}
		kn.Merges[dim] = map[string][]string{}
		for _, m := range cat.Merges[dim] {
			kn.Merges[dim][m.Code] = m.Parts
		}
	}
	return kn
}

// viewsOf returns the tidy CSV of every view of a release: each of its groups.
func viewsOf(t testing.TB, cat *Catalog, r *Release) []audit.View {
	t.Helper()
	all, _ := r.Plan.group(AllGroup)
	var out []audit.View
	for _, g := range r.Groups() {
		f, err := r.View(cat, g.Code, nil)
		if err != nil {
			t.Fatalf("View(%s) error: %v", g.Code, err)
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, f); err != nil {
			t.Fatal(err)
		}
		out = append(out, audit.View{Name: r.ID + " " + g.Code, Release: r.ID, CutOff: r.CutOff, Sites: g.Sites,
			AllSites: all.Sites, Pooled: r.Plan.Pooled, CSV: buf.Bytes()})
	}
	return out
}

// auditReleases audits every view of the releases together and fails on any finding.
func auditReleases(t *testing.T, cat *Catalog, rels ...*Release) {
	t.Helper()
	var views []audit.View
	for _, r := range rels {
		views = append(views, viewsOf(t, cat, r)...)
	}
	start := time.Now()
	found, err := audit.Audit(knowledgeOf(cat, rels[0].Config.K), views)
	if err != nil {
		t.Fatalf("audit.Audit error: %v", err)
	}
	for _, f := range found {
		t.Errorf("auditor: %v", f)
	}
	t.Logf("audited %d views of %d releases in %v: %d findings", len(views), len(rels), time.Since(start), len(found))
}

func TestAuditSynthReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("long: audits synthetic releases with GLPK; make test runs it")
	}
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	d := newSynth(cat, synthOptions{Seed: 2, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Sizes: map[string]int{"haren": 300, "lantin": 150, "antwerpen": 120, "mons": 80, "gent": 60, "dinant": 4, "namur": 30}})
	sites := []string{"haren", "lantin", "antwerpen", "mons", "gent", "dinant", "namur"}
	cut, _ := d.DataCutOff(context.Background(), 2025)
	var rels []*Release
	for _, c := range []time.Time{cut.Add(-300 * time.Hour), cut} {
		r, err := Make(context.Background(), d, cat, rels, MakeOptions{Year: 2025, Policy: testPolicy(t), Sites: sites, CutOff: c,
			Funders: [][]string{{"haren", "lantin"}, {"lantin", "dinant"}}, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, r)
	}
	auditReleases(t, cat, rels...)
}

// TestAuditRandomReleases holds releases of random data sets to the auditor: many
// sites, small ones, funders whose sites overlap, several cut-offs of one year.
func TestAuditRandomReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("long: audits the releases of four random data sets with GLPK; make test runs it")
	}
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"haren", "lantin", "antwerpen", "mons", "gent", "dinant", "namur", "brugge", "hasselt"}
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			n := 3 + rng.IntN(len(names)-2)
			sizes := map[string]int{}
			for _, s := range names[:n] {
				switch rng.IntN(4) {
				case 0:
					sizes[s] = 1 + rng.IntN(12) // a small site
				default:
					sizes[s] = 25 + rng.IntN(150)
				}
			}
			var funders [][]string
			for range 1 + rng.IntN(3) {
				var f []string
				for _, s := range names[:n] {
					if rng.IntN(2) == 0 {
						f = append(f, s)
					}
				}
				funders = append(funders, f)
			}
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			d := newSynth(cat, synthOptions{Seed: seed, Start: start, Spread: true, Sizes: sizes})
			var rels []*Release
			for _, h := range []int{2000 + rng.IntN(2000), 5000 + rng.IntN(2000), 8000} {
				r, err := Make(context.Background(), d, cat, rels, MakeOptions{Year: 2025, Policy: testPolicy(t), Sites: names[:n],
					CutOff: start.Add(time.Duration(h) * time.Hour), Funders: funders, Now: time.Now()})
				if err != nil {
					t.Fatalf("Make(cut-off +%dh, sizes %v, funders %v) error: %v", h, sizes, funders, err)
				}
				rels = append(rels, r)
			}
			t.Logf("sizes %v funders %v pooled %v", sizes, funders, rels[len(rels)-1].Plan.Pooled)
			auditReleases(t, cat, rels...)
		})
	}
}

// TestAttackSingleWorkbook replays the first attack of the issue that made releases
// (T10): the main drug's categories add up to N, so one suppressed category among
// published ones was given back (92 + 162 + 46 + 125 + x + 5 = 432).
func TestAttackSingleWorkbook(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	d := newSynth(cat, synthOptions{Seed: 5, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Sizes: map[string]int{"haren": 380, "lantin": 260}})
	quota := []struct {
		id string
		n  int
	}{{"I06.heroin", 92}, {"I06.cocaine", 162}, {"I06.crack", 46}, {"I06.cannabis", 125}, {"I06.benzo_np", 2}, {"I06.other", 5}}
	q := 0
	for i := range d.people {
		p := &d.people[i]
		var kept []IndicatorCell
		has := false
		for _, c := range p.cells {
			if strings.HasPrefix(c.Indicator, "I06.") {
				has = true
				continue
			}
			kept = append(kept, c)
		}
		p.cells = kept
		if !has || q >= len(quota) {
			continue
		}
		for _, x := range quota {
			c := IndicatorCell{Indicator: x.id, Site: p.site, Gender: p.gender, AgeBand: p.age, NationalityGroup: p.nat, Den: 1}
			if x.id == quota[q].id {
				c.Num = 1
			}
			p.cells = append(p.cells, c)
		}
		if quota[q].n--; quota[q].n == 0 {
			q++
		}
	}
	if q < len(quota) {
		t.Fatalf("the synthetic data set has too few people for the quotas")
	}
	r, err := Make(context.Background(), d, cat, nil, MakeOptions{Year: 2025, Policy: testPolicy(t),
		Sites: []string{"haren", "lantin"}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.View(cat, AllGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	suppressed := 0
	for _, ind := range f.Indicator {
		if ind.Family != "I06" {
			continue
		}
		row := ind.Total()
		n, _ := row.Denominator.Value()
		if _, ok := row.Numerator.Value(); !ok {
			suppressed++
		} else if ind.ID == "I06.benzo_np" {
			t.Errorf("benzo_np (2 people) published")
		}
		if n != 432 {
			t.Errorf("%s: N = %d, want 432", ind.ID, n)
		}
	}
	if suppressed < 2 {
		t.Errorf("%d categories of the main drug suppressed, want benzo_np and another (they add up to N)", suppressed)
	}
	auditReleases(t, cat, r)
}

// TestAttackTwoDownloads replays the second attack (T11): a view downloaded, one entrant
// recorded, the view downloaded again. The view is of the frozen release: the same
// bytes. The next release, at a later cut-off, is protected with the first: no cell
// published in both changes by 1 to k-1, and the auditor finds nothing in the two.
func TestAttackTwoDownloads(t *testing.T) {
	if testing.Short() {
		t.Skip("long: two releases of one year audited together with GLPK; make test runs it")
	}
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	d := newSynth(cat, synthOptions{Seed: 6, Start: start, Spread: true,
		Sizes: map[string]int{"haren": 300, "lantin": 160, "mons": 90}})
	cut := start.Add(7000 * time.Hour)
	opts := MakeOptions{Year: 2025, Policy: testPolicy(t), Sites: []string{"haren", "lantin", "mons"}, CutOff: cut,
		Funders: [][]string{{"haren", "lantin"}}, Now: time.Now()}
	r1, err := Make(context.Background(), d, cat, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	before := viewsOf(t, cat, r1)
	// One entrant arrives: Belgian, 35-44, who injects heroin daily.
	// Received on the day of the first release's cut-off, after it was made: receipt
	// times are days, so the next release of that same day takes it in.
	p := synthPerson{site: "haren", gender: "M", age: "35-44", nat: "BE", received: cutOffDay(cut)}
	for _, ind := range cat.Indicators {
		if !fixtureIndicator(ind) {
			continue // the fixture's data of the other indicators are drawn apart (synth_test.go)
		}
		c := IndicatorCell{Indicator: ind.ID, Site: "haren", Gender: "M", AgeBand: "35-44", NationalityGroup: "BE", Den: 1}
		if ind.ID == "I06.heroin" || ind.ID == "I07" || ind.ID == "I08" || ind.ID == "I19" || ind.ID == "I03.heroin" || ind.ID == "I01" {
			c.Num = 1
		}
		p.cells = append(p.cells, c)
	}
	d.people = append(d.people, p)
	again := viewsOf(t, cat, r1)
	for i := range before {
		if !bytes.Equal(before[i].CSV, again[i].CSV) {
			t.Errorf("view %s changed without a new release", before[i].Name)
		}
	}
	opts.CutOff = cut.Add(2 * time.Hour)
	r2, err := Make(context.Background(), d, cat, []*Release{r1}, opts)
	if err != nil {
		t.Fatal(err)
	}
	hidden := 0
	for _, c := range r2.Cells() {
		n1, ok := r1.storedCount(c.Key)
		if !ok || r1.Count(c.Key).Status() != disclosure.Published {
			continue
		}
		d := c.N - n1
		switch {
		case c.Status == disclosure.Published && d != 0 && d > -r2.Config.K && d < r2.Config.K:
			t.Errorf("cell %s published as %d then %d", c.Key, n1, c.N)
		case c.Status.Suppressed() && d != 0:
			hidden++
		}
	}
	// The newcomer changed cells of every indicator: those cells are hidden now.
	if hidden < 10 {
		t.Errorf("%d cells the newcomer changed are hidden in the second release, want every one", hidden)
	}
	auditReleases(t, cat, r1, r2)
}

// TestAttackOverlappingFunders replays the third attack (T12): funder A {haren, lantin}
// and funder C {lantin, dinant}, with Dinant's 3 entrants: C's total minus A's Lantin
// row was Dinant. Nothing of Dinant may be computed from every view of the release.
func TestAttackOverlappingFunders(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	d := newSynth(cat, synthOptions{Seed: 7, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Spread: true,
		Sizes: map[string]int{"haren": 250, "lantin": 150, "dinant": 3, "mons": 80, "namur": 8}})
	r, err := Make(context.Background(), d, cat, nil, MakeOptions{Year: 2025, Policy: testPolicy(t),
		Sites:   []string{"haren", "lantin", "dinant", "mons", "namur"},
		Funders: [][]string{{"haren", "lantin"}, {"lantin", "dinant"}, {"lantin", "dinant", "namur", "mons"}}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("groups %v, pooled %v", r.Info().Groups, r.Plan.Pooled)
	if _, err := r.GroupOf([]string{"dinant", "lantin"}); err == nil {
		t.Errorf("the release publishes {lantin, dinant}, Lantin plus a small pooled site")
	}
	auditReleases(t, cat, r)
}

// TestAuditorSeesLeaks checks that the auditor is not blind on real releases: a view in
// which one complement (a cell suppressed to protect another) is published anyway gives
// a protected cell back, and the auditor says so.
func TestAuditorSeesLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("long: audits the fixture release once per complement published; make test runs it")
	}
	r, cat := fixtureRelease(t)
	views := viewsOf(t, cat, r)
	all := views[0]
	lines := strings.Split(string(all.CSV), "\n")
	tried, caught := 0, 0
	for i, line := range lines {
		f := strings.Split(line, ",")
		if len(f) < 9 || f[3] != "" || f[1] != "total" && f[1] != "gender" && f[1] != "age_band" {
			continue
		}
		c := cut{}
		if f[1] != "total" {
			c = cut{f[1], f[2]}
		}
		key := yesKey(f[0], AllGroup, c)
		if r.Count(key).Status().String() != "suppressed (secondary)" {
			continue
		}
		n, _ := r.storedCount(key)
		leaked := slices.Clone(lines)
		f[3] = fmt.Sprint(n)
		leaked[i] = strings.Join(f, ",")
		v := all
		v.CSV = []byte(strings.Join(leaked, "\n"))
		found, err := audit.Audit(knowledgeOf(cat, r.Config.K), append([]audit.View{v}, views[1:]...))
		if err != nil {
			t.Fatal(err)
		}
		tried++
		if len(found) > 0 {
			caught++
			t.Logf("publishing %s = %d gives: %v", key, n, found[0])
		}
		if tried == 6 {
			break
		}
	}
	if tried == 0 || caught == 0 {
		t.Errorf("the auditor caught %d of %d leaked complements, want some", caught, tried)
	}
}
