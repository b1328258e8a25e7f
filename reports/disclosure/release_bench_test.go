package disclosure

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// This file builds releases of the shape reports.Make hands to Protect: for
// every indicator and each of its breakdowns a TwoWay table of groups by
// yes/no with Scope {indicator ID} (so the tables of one indicator share
// their column totals and grand total), plus the three "entrants" tables of
// site by gender, age band and nationality group with Scope {indicator I19},
// {answer yes}, whose row totals are cells of the I19-by-site table. The
// population is random but seeded.

// releaseIndicator is one yes/no indicator of a synthetic release.
type releaseIndicator struct {
	id         string
	applies    float64 // share of people in the denominator
	yes        float64 // share of yes among them
	breakdowns []string
}

type releasePerson struct {
	site, gender, age, nat string
	answer                 []int8 // per indicator: -1 not asked, 0 no, 1 yes
}

var (
	releaseGenders = []string{"M", "F", "X", "unknown"}
	releaseAges    = []string{"18-24", "25-34", "35-44", "45-54", "55+", "unknown"}
	releaseNats    = []string{"BE", "EU", "EUR_NONEU", "MAGHREB", "SSA", "OTHER", "unknown"}
	allBreakdowns  = []string{"site", "gender", "age_band", "nationality_group"}
)

// releaseIndicators mimics the catalog: 40 indicators with varied yes rates,
// rare ones among them, some asked of a subgroup only.
func releaseIndicators(r *rand.Rand) []releaseIndicator {
	var inds []releaseIndicator
	yes := []float64{0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8}
	applies := []float64{1, 1, 1, 1, 0.6, 0.3, 0.15}
	for i := range 39 {
		ind := releaseIndicator{
			id:         fmt.Sprintf("I%02d", i+1),
			applies:    applies[r.IntN(len(applies))],
			yes:        yes[r.IntN(len(yes))],
			breakdowns: allBreakdowns,
		}
		if ind.id == "I19" {
			ind.id = "I40"
		}
		if i == 15 {
			ind.breakdowns = allBreakdowns[:3]
		}
		inds = append(inds, ind)
	}
	// I19: interviewed entrants, by site only.
	return append(inds, releaseIndicator{id: "I19", applies: 1, yes: 0.9, breakdowns: []string{"site"}})
}

// releaseTables draws a population of about people over 13 sites and builds
// the tables of its release, pooling small sites as reports.Make does.
func releaseTables(seed uint64, people int) []Table {
	r := rand.New(rand.NewPCG(seed, 42))
	inds := releaseIndicators(r)
	// Site sizes from about 3 to about 400.
	weights := []float64{400, 350, 300, 260, 220, 180, 150, 120, 90, 60, 30, 12, 3}
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	var pop []releasePerson
	for s, w := range weights {
		n := int(float64(people)*w/sum*(0.8+0.4*r.Float64())) + 1
		for range n {
			p := releasePerson{site: fmt.Sprintf("site%02d", s)}
			switch x := r.Float64(); {
			case x < 0.07:
				p.gender = "F"
			case x < 0.075:
				p.gender = "X"
			case x < 0.10:
				p.gender = "unknown"
			default:
				p.gender = "M"
			}
			p.age = releaseAges[min(r.IntN(6), r.IntN(6)+r.IntN(2))]
			if r.IntN(30) == 0 {
				p.age = "unknown"
			}
			p.nat = releaseNats[min(r.IntN(7), r.IntN(7))]
			for _, ind := range inds {
				a := int8(-1)
				if r.Float64() < ind.applies {
					a = 0
					if r.Float64() < ind.yes {
						a = 1
					}
				}
				p.answer = append(p.answer, a)
			}
			pop = append(pop, p)
		}
	}
	// R10: pool the sites with few interviewed entrants.
	interviewed := map[string]int{}
	for _, p := range pop {
		interviewed[p.site] += max(0, int(p.answer[len(inds)-1]))
	}
	var pol Policy
	pooled := pol.PooledSites(interviewed)
	var sites []string
	for s := range weights {
		if name := fmt.Sprintf("site%02d", s); !slices.Contains(pooled, name) {
			sites = append(sites, name)
		}
	}
	order := map[string][]string{
		"site":              append(sites, "other_sites"),
		"gender":            releaseGenders,
		"age_band":          releaseAges,
		"nationality_group": releaseNats,
	}
	group := func(p releasePerson, dim string) string {
		switch dim {
		case "site":
			if slices.Contains(pooled, p.site) {
				return "other_sites"
			}
			return p.site
		case "gender":
			return p.gender
		case "age_band":
			return p.age
		}
		return p.nat
	}
	var tables []Table
	for i, ind := range inds {
		for _, dim := range ind.breakdowns {
			yes, no := map[string]int{}, map[string]int{}
			for _, p := range pop {
				switch p.answer[i] {
				case 1:
					yes[group(p, dim)]++
				case 0:
					no[group(p, dim)]++
				}
			}
			tw := TwoWay{Name: ind.id + " by " + dim, Scope: []Coord{{"indicator", ind.id}},
				RowDim: dim, ColDim: "answer", Cols: []string{"yes", "no"}}
			for _, g := range order[dim] {
				if yes[g]+no[g] > 0 {
					tw.Rows = append(tw.Rows, g)
					tw.Counts = append(tw.Counts, []int{yes[g], no[g]})
				}
			}
			if len(tw.Rows) == 0 {
				tw.Rows, tw.Counts = []string{"none"}, [][]int{{0, 0}}
			}
			tables = append(tables, tw)
		}
	}
	i19 := len(inds) - 1
	for _, dim := range allBreakdowns[1:] {
		n := map[[2]string]int{}
		bySite := map[string]int{}
		for _, p := range pop {
			if p.answer[i19] == 1 {
				n[[2]string{group(p, "site"), group(p, dim)}]++
				bySite[group(p, "site")]++
			}
		}
		tw := TwoWay{Name: "entrants by site and " + dim,
			Scope:  []Coord{{"indicator", "I19"}, {"answer", "yes"}},
			RowDim: "site", ColDim: dim}
		for _, s := range order["site"] {
			if bySite[s] > 0 {
				tw.Rows = append(tw.Rows, s)
			}
		}
		for _, c := range order[dim] {
			for _, s := range tw.Rows {
				if n[[2]string{s, c}] > 0 {
					tw.Cols = append(tw.Cols, c)
					break
				}
			}
		}
		for _, s := range tw.Rows {
			row := make([]int, len(tw.Cols))
			for j, c := range tw.Cols {
				row[j] = n[[2]string{s, c}]
			}
			tw.Counts = append(tw.Counts, row)
		}
		tables = append(tables, tw)
	}
	return tables
}

// BenchmarkProtectRelease protects a yearly release of the shape
// reports.Make produces, for populations of several sizes.
func BenchmarkProtectRelease(b *testing.B) {
	for _, people := range []int{1500, 3000, 5000} {
		b.Run(fmt.Sprintf("people=%d", people), func(b *testing.B) {
			tables := releaseTables(1, people)
			var pol Policy
			for b.Loop() {
				if _, err := pol.Protect(tables...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestProtectReleaseShape protects releases of the shape reports.Make
// produces, including one on which the search used to run out of budget,
// and checks the outcome from scratch: no count below k is published, the
// rules of R6 have nothing left to do, and a fresh verification finds no
// recoverable cell.
func TestProtectReleaseShape(t *testing.T) {
	var pol Policy
	k := pol.Config().K
	for _, people := range []int{300, 1500, 2000, 5000} {
		for seed := uint64(1); seed <= 2; seed++ {
			tables := releaseTables(seed, people)
			rel, err := pol.Protect(tables...)
			if err != nil {
				t.Fatalf("people %d, seed %d: %v", people, seed, err)
			}
			m, err := newModel(k, tables)
			if err != nil {
				t.Fatal(err)
			}
			suppressed := 0
			for i := range m.cells {
				c := &m.cells[i]
				c.status = rel.Count(c.key).Status()
				if c.status.Publishable() && c.n > 0 && c.n < k {
					t.Fatalf("people %d, seed %d: %s published below k", people, seed, c.key)
				}
				if c.status.Suppressed() {
					suppressed++
				}
			}
			m.applyRules()
			after := 0
			for i := range m.cells {
				if m.suppressed(i) {
					after++
				}
			}
			if after != suppressed {
				t.Fatalf("people %d, seed %d: the rules of R6 still suppress %d cells", people, seed, after-suppressed)
			}
			bad, err := m.firstRecoverable()
			if err != nil || bad >= 0 {
				t.Fatalf("people %d, seed %d: fresh verification = %d, %v", people, seed, bad, err)
			}
		}
	}
}
