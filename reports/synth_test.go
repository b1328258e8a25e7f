package reports

import (
	"context"
	"fmt"
	"github.com/tamtam-ngo/tamtam/collector"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// synthPerson is one synthetic entrant: where and who, and the indicators it counts in.
type synthPerson struct {
	site, gender, age, nat string
	received               time.Time
	cells                  []IndicatorCell
}

// synthData is a person-level synthetic data set: every indicator's counts come from
// people, so the relations a real store satisfies (shared denominators, a single-choice
// item adding up) hold here too.
type synthData struct {
	people []synthPerson
}

// synthOptions shape a synthetic data set.
type synthOptions struct {
	Seed  uint64
	Sizes map[string]int // entrants by site
	Start time.Time      // first arrival; people arrive one an hour, sites in turn
	// Spread makes people arrive at random hours of the 8,000 after Start instead.
	Spread bool
	// Distributions gives people answers to the distribution tables too (drawn after
	// the rest, so that the declared indicators' data do not change with it).
	Distributions bool
}

func newSynth(cat *Catalog, opts synthOptions) *synthData {
	rng := rand.New(rand.NewPCG(opts.Seed, 7))
	genders := []string{"M", "M", "M", "M", "M", "M", "F", "X"}
	ages := []string{"18-24", "25-34", "25-34", "35-44", "35-44", "45-54", "55+"}
	nats := []string{"BE", "BE", "BE", "BE", "MAGHREB", "EU13", "EU14", "SSA", "ASIA", "EUR_NONEU", "UNKNOWN"}
	pops := map[string][]Indicator{}
	var popOrder []string
	for _, ind := range cat.Indicators {
		if !fixtureIndicator(ind) {
			continue
		}
		p := ind.PopulationID()
		if _, ok := pops[p]; !ok {
			popOrder = append(popOrder, p)
		}
		pops[p] = append(pops[p], ind)
	}
	// Membership of each population among interviewed entrants; nested ones are rarer.
	member := func(p string) float64 {
		switch p {
		case "I09", "I13.continued", "I14.hiv_pwid", "I14.hcv_pwid", "I17.professional", "I12":
			return 0.15
		case "I21", "I20.first_use":
			return 0.12
		case "I20.used", "I22":
			return 0.35
		case "I11":
			return 0.45
		}
		return 0.92
	}
	var sites []string
	for s := range opts.Sizes {
		sites = append(sites, s)
	}
	slices.Sort(sites)
	d := &synthData{}
	dist := rand.New(rand.NewPCG(opts.Seed, 11)) // the distributions' own stream
	at := opts.Start
	for _, site := range sites {
		for range opts.Sizes[site] {
			p := synthPerson{site: site, received: at}
			at = at.Add(time.Hour)
			if opts.Spread {
				p.received = opts.Start.Add(time.Duration(rng.IntN(8000)) * time.Hour)
			}
			p.received = cutOffDay(p.received) // stored as a day, as the store does (R2)
			consent := rng.Float64() < 0.9
			if !consent {
				p.cells = append(p.cells, IndicatorCell{Indicator: EntrantsIndicator, Site: site, Den: 1})
				d.people = append(d.people, p)
				continue
			}
			p.gender, p.age = genders[rng.IntN(len(genders))], ages[rng.IntN(len(ages))]
			p.nat = nats[rng.IntN(len(nats))]
			cell := func(ind string, yes bool) {
				c := IndicatorCell{Indicator: ind, Site: site, Gender: p.gender, AgeBand: p.age, NationalityGroup: p.nat, Den: 1}
				if yes {
					c.Num = 1
				}
				p.cells = append(p.cells, c)
			}
			cell(EntrantsIndicator, true)
			for _, pop := range popOrder {
				inds := pops[pop]
				if inds[0].ID == EntrantsIndicator || rng.Float64() >= member(pop) {
					continue
				}
				fam, _ := cat.Family(inds[0].Family)
				if fam.SingleChoice {
					pick := rng.IntN(len(inds) + 2) // the first choices are likelier
					pick = min(pick, len(inds)-1)
					for i, ind := range inds {
						cell(ind.ID, i == pick)
					}
					continue
				}
				for _, ind := range inds {
					cell(ind.ID, rng.Float64() < 0.35)
				}
			}
			d.answerOthers(cat, dist, cell, opts.Distributions)
			d.people = append(d.people, p)
		}
	}
	return d
}

func (d *synthData) DataCutOff(context.Context, int) (time.Time, error) {
	var last time.Time
	for _, p := range d.people {
		if p.received.After(last) {
			last = p.received
		}
	}
	return last, nil
}

func (d *synthData) IndicatorCells(_ context.Context, _ int, sites []string, cutOff time.Time, _ []collector.Indicator) ([]IndicatorCell, error) {
	var out []IndicatorCell
	for _, p := range d.people {
		if p.received.After(cutOff) || !slices.Contains(sites, p.site) {
			continue
		}
		out = append(out, p.cells...)
	}
	return out, nil
}

func (d *synthData) Arrivals(_ context.Context, year int, sites []string, cutOff time.Time) ([]ArrivalCell, error) {
	counts := map[[2]string]int{}
	for _, p := range d.people {
		if p.received.After(cutOff) || !slices.Contains(sites, p.site) {
			continue
		}
		counts[[2]string{p.site, fmt.Sprintf("%d-%02d", year, int(p.received.Month()))}]++
	}
	var out []ArrivalCell
	for k, n := range counts {
		out = append(out, ArrivalCell{Site: k[0], Month: k[1], N: n})
	}
	return out, nil
}

func testPolicy(t testing.TB) *disclosure.Policy {
	t.Helper()
	pol, err := disclosure.NewPolicy(disclosure.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// fixtureIndicator reports whether ind is one of I01–I22, whose synthetic data come
// from the main stream: the indicators declared since, and the distribution tables, draw
// from their own, so that the fixture's I01–I22 stay the same as the catalog grows.
func fixtureIndicator(ind Indicator) bool {
	return !ind.Decl.Distribution && (ind.Questionnaire == "entry" || ind.Questionnaire == "followup") && ind.Family <= "I22"
}

// answerOthers gives one person's answers to the indicators after I22, and with
// distributions to every distribution table: most answer each population (the
// indicators that share a denominator are answered together); a single-choice family
// one of its parts, the first likelier; another each part with some chance.
func (d *synthData) answerOthers(cat *Catalog, rng *rand.Rand, cell func(string, bool), distributions bool) {
	var order []string
	pops := map[string][]Indicator{}
	for _, ind := range cat.Indicators {
		if fixtureIndicator(ind) || ind.Decl.Distribution && !distributions {
			continue
		}
		p := ind.PopulationID()
		if pops[p] == nil {
			order = append(order, p)
		}
		pops[p] = append(pops[p], ind)
	}
	for _, p := range order {
		inds := pops[p]
		if rng.Float64() >= 0.85 {
			continue
		}
		fam, _ := cat.Family(inds[0].Family)
		pick := min(rng.IntN(len(inds)+2), len(inds)-1)
		for i, ind := range inds {
			if fam.SingleChoice {
				cell(ind.ID, i == pick)
			} else {
				cell(ind.ID, rng.Float64() < 0.3)
			}
		}
	}
}
