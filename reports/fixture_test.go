package reports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// staticSource is a Source over fixed cells, for tests of building and rendering. Tests
// that claim the counts come right out of ClickHouse live in queries and cmd/tamtam.
type staticSource struct {
	cutOff time.Time
	cells  []IndicatorCell
}

func (s staticSource) DataCutOff(context.Context, int) (time.Time, error) { return s.cutOff, nil }

func (s staticSource) IndicatorCells(_ context.Context, _ int, sites []string, cutOff time.Time) ([]IndicatorCell, error) {
	var out []IndicatorCell
	for _, c := range s.cells {
		for _, site := range sites {
			if c.Site == site && !cutOff.Before(s.cutOff) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// Arrivals spreads the interviewed entrants (I19) of each site over the months of the
// year, for the dashboard's arrivals table.
func (s staticSource) Arrivals(_ context.Context, year int, sites []string, cutOff time.Time) ([]ArrivalCell, error) {
	cells, _ := s.IndicatorCells(context.Background(), year, sites, cutOff)
	bySite := map[string]int{}
	for _, c := range cells {
		if c.Indicator == "I19" {
			bySite[c.Site] += c.Num
		}
	}
	var out []ArrivalCell
	for _, site := range sites {
		n := bySite[site]
		for m := 1; m <= 12 && n > 0; m++ {
			k := min(n, n/(13-m)+1)
			out = append(out, ArrivalCell{Site: site, Month: fmt.Sprintf("%d-%02d", year, m), N: k})
			n -= k
		}
	}
	return out, nil
}

// fixtureSites are the sites of the fixture: three large, one small (pooled).
var fixtureSites = []string{"haren", "lantin", "antwerpen", "dinant"}

// fixtureSource returns plausible counts for every indicator of the catalog in every
// finest cell, generated from a fixed seed.
func fixtureSource(t testing.TB, cat *Catalog) staticSource {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	size := map[string]int{"haren": 60, "lantin": 35, "antwerpen": 30, "dinant": 2}
	src := staticSource{cutOff: time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)}
	genders := []string{"M", "M", "M", "M", "F", "X", "9"}
	ages := []string{"18-24", "25-34", "35-44", "45-54", "55+"}
	groups := []string{"BE", "BE", "MAGHREB", "EU13", "EU14", "SSA", "ASIA", "UNKNOWN"}
	for _, site := range fixtureSites {
		for range size[site] {
			g, a, n := genders[rng.IntN(len(genders))], ages[rng.IntN(len(ages))], groups[rng.IntN(len(groups))]
			for _, ind := range cat.Indicators {
				den := rng.IntN(3) + 1
				src.cells = append(src.cells, IndicatorCell{Indicator: ind.ID, Site: site, Gender: g, AgeBand: a,
					NationalityGroup: n, Num: rng.IntN(den + 1), Den: den})
			}
		}
	}
	return src
}

// fixtureFigures builds and protects the fixture release with the default policy.
func fixtureFigures(t testing.TB) *Figures {
	t.Helper()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pol, err := disclosure.NewPolicy(disclosure.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, err := Build(context.Background(), fixtureSource(t, cat), cat, Options{Year: 2025, Sites: fixtureSites, Policy: pol})
	if err != nil {
		t.Fatalf("Build(fixture) error: %v", err)
	}
	return f
}
