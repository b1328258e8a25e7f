package reports

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/tamtam-ngo/tamtam/collector"
)

// Every count a release publishes is protected with the relations a reader knows between
// it and the others (PRIVACY.md R13). The relations of one indicator (yes + no = N), of
// one population (one N), of one single-choice item (its parts add up to N) and of the
// breakdowns and groups are stated to disclosure control; a relation it is not told of
// is a hole: two tables that count the same people under two names, with one of them
// suppressed and the other published, give the suppressed count back.
//
// The questionnaire's skip logic makes such relations between tables that look
// unrelated: drug.lifetime_any=1 is I02's numerator, inject.status 2, 3 and 4 add up to
// I07's, the N of a required multi item asked of those who said yes is that yes. So the
// counts of a questionnaire are checked as vectors over records it could receive: each
// published count (an N, a numerator) is the vector of the records it counts, over
// records drawn at random within the skip logic (collector.Definition.SampleRecord), and
// a relation between counts is a linear dependency between their vectors. A dependency
// that holds for every possible record holds for the drawn ones, so none is missed; one
// that holds for the drawn ones by chance makes a table look related when it is not,
// which only leaves it out.

// relationSamples is the number of records drawn per questionnaire.
const relationSamples = 3000

// relationPrime is the field the vectors' rank is computed in: a dependency over the
// integers is one modulo the prime, so the rank is never overstated.
const relationPrime = 2147483647

// span is a basis in echelon form, over GF(relationPrime).
type span struct {
	rows   [][]uint64
	pivots []int
}

// add reduces v by the basis and keeps it when something is left: it reports whether
// the rank grew. v is modified.
func (s *span) add(v []uint64) bool {
	for i, row := range s.rows {
		p := s.pivots[i]
		if f := v[p]; f != 0 {
			for j := p; j < len(v); j++ {
				if row[j] != 0 {
					v[j] = (v[j] + relationPrime - f*row[j]%relationPrime) % relationPrime
				}
			}
		}
	}
	p := slices.IndexFunc(v, func(x uint64) bool { return x != 0 })
	if p < 0 {
		return false
	}
	inv := modInverse(v[p])
	for j := p; j < len(v); j++ {
		v[j] = v[j] * inv % relationPrime
	}
	s.rows = append(s.rows, v)
	s.pivots = append(s.pivots, p)
	return true
}

// truncate forgets the rows added after the first n.
func (s *span) truncate(n int) { s.rows, s.pivots = s.rows[:n], s.pivots[:n] }

func isZero(v []uint64) bool { return !slices.ContainsFunc(v, func(x uint64) bool { return x != 0 }) }

func modInverse(a uint64) uint64 {
	// a^(p-2) mod p.
	result, base, e := uint64(1), a%relationPrime, uint64(relationPrime-2)
	for e > 0 {
		if e&1 == 1 {
			result = result * base % relationPrime
		}
		base = base * base % relationPrime
		e >>= 1
	}
	return result
}

// sampleRecords draws the records of d the counts are checked on, one of each kind: two
// records that every count of d and of dists treats alike are the same column of the
// vectors, and a column twice changes no rank.
func sampleRecords(versions []*collector.Definition, dists []collector.Indicator) []collector.StoredSample {
	d := versions[len(versions)-1]
	var preds [][]collector.Cond
	for _, ind := range append(slices.Clone(d.Indicators), dists...) {
		if ind.Link == nil {
			preds = append(preds, []collector.Cond{ind.PopulationCond(), ind.ValidCond(), ind.Yes})
		}
	}
	rng := rand.New(rand.NewPCG(1, 13))
	seen := map[string]bool{}
	var out []collector.StoredSample
	sig := make([]byte, 0, 2*len(preds))
	for i := range relationSamples * len(versions) {
		r := versions[i%len(versions)].SampleRecord(rng)
		sig = sig[:0]
		for _, p := range preds {
			n, y := byte('0'), byte('0')
			if p[0].Eval(r) && p[1].Eval(r) {
				n = '1'
				if p[2].Eval(r) {
					y = '1'
				}
			}
			sig = append(sig, n, y)
		}
		if !seen[string(sig)] {
			seen[string(sig)] = true
			out = append(out, r)
		}
	}
	return out
}

// countVectors are the published counts of a questionnaire's indicators as vectors over
// the drawn records: by indicator, its N and its numerator.
type countVectors struct {
	records []collector.StoredSample
}

func (cv countVectors) of(c collector.Cond, and ...collector.Cond) []uint64 {
	v := make([]uint64, len(cv.records))
	for i, r := range cv.records {
		if c.Eval(r) && !slices.ContainsFunc(and, func(x collector.Cond) bool { return !x.Eval(r) }) {
			v[i] = 1
		}
	}
	return v
}

// independentDistributions checks the declared indicators of a questionnaire (without
// links) and returns which of its distribution indicators may be published: the families
// whose counts have no relation to the declared ones and to the families kept before them
// other than their own (a single-choice item adds up to its N). It returns an error when
// the declared indicators themselves have a relation disclosure control is not told of.
// A count no drawn record is in (a rare combination of answers) proves nothing: a
// declared indicator's is let be, an item's table with one is left out.
//
// The records are drawn from every version of the questionnaire (versions, the latest
// last, which is d): a release counts the records of every version with the latest's
// conditions.
func independentDistributions(versions []*collector.Definition, fams []collector.IndicatorFamily, dists []collector.Indicator) (map[string]bool, error) {
	key := relationKey(versions)
	if r, ok := relationMemo.Load(key); ok {
		m := r.(relationResult)
		return m.keep, m.err
	}
	keep, err := findIndependent(versions, fams, dists)
	relationMemo.Store(key, relationResult{keep, err})
	return keep, err
}

// relationMemo keeps the result of each definition with its indicators: the check takes
// a second, and a catalog is built by every command and many tests.
var relationMemo sync.Map

type relationResult struct {
	keep map[string]bool
	err  error
}

// relationKey identifies what the check depends on: the items of every version and the
// latest's indicators.
func relationKey(versions []*collector.Definition) string {
	d := versions[len(versions)-1]
	b, _ := json.Marshal([]any{d.Families, d.Indicators})
	key := string(b)
	for _, v := range versions {
		key += "|" + v.Fingerprint()
	}
	return key
}

func findIndependent(versions []*collector.Definition, fams []collector.IndicatorFamily, dists []collector.Indicator) (map[string]bool, error) {
	d := versions[len(versions)-1]
	cv := countVectors{records: sampleRecords(versions, dists)}
	var s span
	// The declared indicators: one N per population, a numerator each; a single-choice
	// family's numerators add up to its N.
	pops := map[string]bool{}
	single := map[string]bool{}
	for _, f := range d.Families {
		single[f.ID] = f.SingleChoice
	}
	// A family's first numerator that adds nothing is its stated relation; any other
	// count that adds nothing is related to those before it.
	choiceSeen := map[string]bool{}
	var related []string
	for _, ind := range d.Indicators {
		if ind.Link != nil {
			continue // counts people over two questionnaires, not records of one
		}
		pop := ind.DenominatorGroup
		if pop == "" {
			pop = ind.ID
		}
		if !pops[pop] {
			pops[pop] = true
			if v := cv.of(ind.PopulationCond(), ind.ValidCond()); !isZero(v) && !s.add(v) {
				related = append(related, "N of "+ind.ID)
			}
		}
		if v := cv.of(ind.PopulationCond(), ind.ValidCond(), ind.Yes); !isZero(v) && !s.add(v) {
			if single[ind.Family] && !choiceSeen[ind.Family] {
				choiceSeen[ind.Family] = true
			} else {
				related = append(related, "numerator of "+ind.ID)
			}
		}
	}
	if len(related) > 0 {
		return nil, fmt.Errorf("questionnaire %s: %s: a count that other published counts already hold or add up to, under another name, which disclosure control is not told of; give indicators that count the same people one denominator_group or one single-choice family, or drop one",
			d.ID, strings.Join(related, ", "))
	}
	keep := map[string]bool{}
	for _, f := range fams {
		n := len(s.rows)
		var parts []collector.Indicator
		for _, ind := range dists {
			if ind.Family == f.ID {
				parts = append(parts, ind)
			}
		}
		if len(parts) == 0 {
			continue
		}
		grew, zero := 0, false
		vs := [][]uint64{cv.of(parts[0].PopulationCond(), parts[0].ValidCond())}
		for _, ind := range parts {
			vs = append(vs, cv.of(ind.PopulationCond(), ind.ValidCond(), ind.Yes))
		}
		for _, v := range vs {
			zero = zero || isZero(v)
			if s.add(v) {
				grew++
			}
		}
		expected := len(parts) + 1
		if f.SingleChoice {
			expected--
		}
		if grew == expected && !zero {
			keep[f.ID] = true
			continue
		}
		s.truncate(n)
	}
	return keep, nil
}

// CheckRelations returns what is wrong with the declared indicators of d as published
// counts: a relation between them that disclosure control is not told of. The
// questionnaire check runs it on a file, as a release would.
func CheckRelations(d *collector.Definition) error {
	fams, inds := d.Distributions()
	_, err := independentDistributions([]*collector.Definition{d}, fams, inds)
	return err
}
