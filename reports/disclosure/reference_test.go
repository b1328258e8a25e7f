package disclosure

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// This file keeps the verification as it was before it was split into
// components (one search over every suppressed cell of the release), as a
// reference: tests check that Protect reaches exactly the same statuses.

// refProtect is Protect with the reference verification.
func (p *Policy) refProtect(tables ...Table) (*Release, error) {
	cfg := p.Config()
	m, err := newModel(cfg.K, tables)
	if err != nil {
		return nil, err
	}
	for i := range m.cells {
		if c := &m.cells[i]; c.n > 0 && c.n < cfg.K {
			c.status = SuppressedPrimary
		} else {
			c.status = Published
		}
	}
	for {
		m.refApplyRules()
		bad, err := m.refFirstRecoverable()
		if err != nil {
			return nil, err
		}
		if bad < 0 {
			break
		}
		c := m.refComplementFor(bad)
		if c < 0 {
			return nil, &UnprotectableError{Cell: m.cells[bad].key}
		}
		m.cells[c].status = SuppressedSecondary
	}
	return m.release(cfg), nil
}

// refIntruder is what an intruder faces: the unknowns (the suppressed cells)
// and the relations between them once published cells are substituted.
type refIntruder struct {
	cells []int // cell index of each unknown
	truth []int // true value of each unknown
	cap   int   // search bound on every unknown
	cons  []linear
	nodes int
}

func (m *model) refIntruder() *refIntruder {
	s := &refIntruder{}
	unknown := map[int]int{}
	largest := 0
	for i, c := range m.cells {
		largest = max(largest, c.n)
		if c.status.Suppressed() {
			unknown[i] = len(s.cells)
			s.cells = append(s.cells, i)
			s.truth = append(s.truth, c.n)
		}
	}
	s.cap = 2*largest + 2*m.k
	for _, r := range m.rels {
		var l linear
		term := func(i, coef int) {
			if v, ok := unknown[i]; ok {
				l.vars = append(l.vars, v)
				l.coefs = append(l.coefs, coef)
			} else {
				l.rhs -= coef * m.cells[i].n
			}
		}
		term(r.total, -1)
		for _, i := range r.parts {
			term(i, 1)
		}
		if len(l.vars) > 0 {
			s.cons = append(s.cons, l)
		}
	}
	return s
}

// refFirstRecoverable returns the first recoverable suppressed cell in key
// order, or -1 when every suppressed cell is safe.
func (m *model) refFirstRecoverable() (int, error) {
	s := m.refIntruder()
	determined := s.determined()
	safe := make([]bool, len(s.truth))
	for v, t := range s.truth {
		if determined[v] {
			return s.cells[v], nil
		}
		if safe[v] {
			continue
		}
		for _, side := range []int{-1, 1} {
			lo, hi := s.bounds()
			if side < 0 {
				hi[v] = t - 1
			} else {
				lo[v] = t + 1
			}
			s.nodes = 0
			sol, err := s.search(lo, hi)
			if err != nil {
				return -1, fmt.Errorf("disclosure: cannot verify that cell %s is protected (%v); merge categories or release fewer linked tables", m.cells[s.cells[v]].key, err)
			}
			if sol != nil {
				for u := range sol {
					safe[u] = safe[u] || sol[u] != s.truth[u]
				}
				break
			}
		}
		if !safe[v] {
			return s.cells[v], nil
		}
	}
	return -1, nil
}

func (s *refIntruder) bounds() (lo, hi []int) {
	lo = make([]int, len(s.truth))
	hi = make([]int, len(s.truth))
	for v := range lo {
		lo[v], hi[v] = 1, s.cap
	}
	return lo, hi
}

// determined reports which unknowns are a linear function of the published
// cells: those whose row of the reduced row echelon form has no entry in a
// free column.
func (s *refIntruder) determined() []bool {
	n := len(s.truth)
	a := make([][]*big.Rat, len(s.cons))
	for r, c := range s.cons {
		a[r] = make([]*big.Rat, n)
		for v := range a[r] {
			a[r][v] = new(big.Rat)
		}
		for i, v := range c.vars {
			a[r][v].SetInt64(int64(c.coefs[i]))
		}
	}
	var pivots []int
	row := 0
	tmp := new(big.Rat)
	for col := 0; col < n && row < len(a); col++ {
		p := slices.IndexFunc(a[row:], func(r []*big.Rat) bool { return r[col].Sign() != 0 })
		if p < 0 {
			continue
		}
		a[row], a[row+p] = a[row+p], a[row]
		inv := new(big.Rat).Inv(a[row][col])
		for v := range n {
			a[row][v].Mul(a[row][v], inv)
		}
		for r := range a {
			if r == row || a[r][col].Sign() == 0 {
				continue
			}
			f := new(big.Rat).Set(a[r][col])
			for v := range n {
				a[r][v].Sub(a[r][v], tmp.Mul(f, a[row][v]))
			}
		}
		pivots = append(pivots, col)
		row++
	}
	det := make([]bool, n)
	for r, col := range pivots {
		det[col] = true
		for v := range n {
			if v != col && a[r][v].Sign() != 0 {
				det[col] = false
				break
			}
		}
	}
	return det
}

// search returns an integer solution within lo and hi, or nil if there is
// none. It branches on the unknown with the smallest range, trying its true
// value first and then either side, since solutions near the true table are
// the likeliest.
func (s *refIntruder) search(lo, hi []int) ([]int, error) {
	if !s.propagate(lo, hi) {
		return nil, nil
	}
	best := -1
	for v := range lo {
		if lo[v] < hi[v] && (best < 0 || hi[v]-lo[v] < hi[best]-lo[best]) {
			best = v
		}
	}
	if best < 0 {
		if s.satisfied(lo) {
			return lo, nil
		}
		return nil, nil
	}
	if s.nodes++; s.nodes > searchBudget {
		return nil, errBudget
	}
	t := min(max(s.truth[best], lo[best]), hi[best])
	for _, r := range [][2]int{{t, t}, {lo[best], t - 1}, {t + 1, hi[best]}} {
		if r[0] > r[1] {
			continue
		}
		l, h := slices.Clone(lo), slices.Clone(hi)
		l[best], h[best] = r[0], r[1]
		sol, err := s.search(l, h)
		if sol != nil || err != nil {
			return sol, err
		}
	}
	return nil, nil
}

// propagate narrows lo and hi to values each relation allows given the
// ranges of its other unknowns, and reports false when a range empties.
func (s *refIntruder) propagate(lo, hi []int) bool {
	for range propagationPasses {
		changed := false
		for _, c := range s.cons {
			least, most := 0, 0
			for i, v := range c.vars {
				if c.coefs[i] > 0 {
					least, most = least+lo[v], most+hi[v]
				} else {
					least, most = least-hi[v], most-lo[v]
				}
			}
			if c.rhs < least || c.rhs > most {
				return false
			}
			for i, v := range c.vars {
				var newLo, newHi int
				if c.coefs[i] > 0 {
					// v = rhs - rest, rest in [least-lo, most-hi].
					newLo, newHi = c.rhs-(most-hi[v]), c.rhs-(least-lo[v])
				} else {
					// v = rest - rhs, rest in [least+hi, most+lo].
					newLo, newHi = least+hi[v]-c.rhs, most+lo[v]-c.rhs
				}
				if newLo > lo[v] {
					lo[v], changed = newLo, true
				}
				if newHi < hi[v] {
					hi[v], changed = newHi, true
				}
				if lo[v] > hi[v] {
					return false
				}
			}
		}
		if !changed {
			break
		}
	}
	return true
}

func (s *refIntruder) satisfied(x []int) bool {
	for _, c := range s.cons {
		total := 0
		for i, v := range c.vars {
			total += c.coefs[i] * x[v]
		}
		if total != c.rhs {
			return false
		}
	}
	return true
}

// refComplementFor chooses a cell to suppress so that the recoverable cell bad
// stops being recoverable: the cheapest eligible cell of a relation that
// bad is in or, failing that, of a relation reached from bad through
// suppressed cells. It returns -1 when no cell is eligible.
func (m *model) refComplementFor(bad int) int {
	reached := map[int]bool{bad: true}
	frontier := []int{bad}
	for len(frontier) > 0 {
		var candidates, next []int
		for _, r := range m.rels {
			cells := append([]int{r.total}, r.parts...)
			touches := false
			for _, i := range cells {
				if slices.Contains(frontier, i) {
					touches = true
					break
				}
			}
			if !touches {
				continue
			}
			candidates = append(candidates, cells...)
			for _, i := range cells {
				if m.suppressed(i) && !reached[i] {
					reached[i] = true
					next = append(next, i)
				}
			}
		}
		if c := m.cheapest(candidates); c >= 0 {
			return c
		}
		frontier = next
	}
	return -1
}

// refApplyRules applies the secondary suppression rules of R6 to every
// relation until none changes anything.
func (m *model) refApplyRules() {
	for changed := true; changed; {
		changed = false
		for _, r := range m.rels {
			for !m.suppressed(r.total) {
				count, held := 0, 0
				for _, i := range r.parts {
					if m.suppressed(i) {
						count++
						held += m.cells[i].n
					}
				}
				// (a) a lone suppressed cell is its total minus the others;
				// (b) suppressed cells holding fewer than k together are
				// a small count in disguise.
				if count == 0 || (count >= 2 && held >= m.k) {
					break
				}
				c := m.cheapest(r.parts)
				if c < 0 {
					// No part is left: the total itself must go, unless
					// it is a grand total; verification then decides.
					if !m.eligible(r.total) {
						break
					}
					c = r.total
				}
				m.cells[c].status = SuppressedSecondary
				changed = true
			}
		}
	}
}

// sameOutcome protects tables with Protect and with refProtect and reports
// the first difference.
func sameOutcome(pol *Policy, tables []Table) error {
	a, errA := pol.Protect(tables...)
	b, errB := pol.refProtect(tables...)
	if errA != nil || errB != nil {
		if fmt.Sprint(errA) != fmt.Sprint(errB) {
			return fmt.Errorf("Protect error = %v, reference %v", errA, errB)
		}
		return nil
	}
	if len(a.counts) != len(b.counts) {
		return fmt.Errorf("Protect has %d cells, reference %d", len(a.counts), len(b.counts))
	}
	for k, c := range b.counts {
		if got := a.Count(k); got.Status() != c.Status() {
			return fmt.Errorf("status of %s = %v, reference %v", k, got.Status(), c.Status())
		}
	}
	if !slices.Equal(a.Tables(), b.Tables()) {
		return fmt.Errorf("summaries %v, reference %v", a.Tables(), b.Tables())
	}
	return nil
}

// scoped returns t with coordinate c added to its scope.
func scoped(t Table, c Coord) Table {
	switch t := t.(type) {
	case OneWay:
		t.Scope = append([]Coord{c}, t.Scope...)
		return t
	case TwoWay:
		t.Scope = append([]Coord{c}, t.Scope...)
		return t
	}
	panic("unknown table type")
}

// TestProtectMatchesReference checks that verifying components one by one,
// and only again when they change, gives exactly the statuses of verifying
// the release as a whole: on random small releases, on several of them
// protected together, and on parts of releases of the shape reports.Make
// produces.
func TestProtectMatchesReference(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 40
	}
	for _, k := range []int{3, 5, 10} {
		cfg := DefaultConfig()
		cfg.K = k
		pol, err := NewPolicy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(k), 99))
		for i := range n {
			var tables []Table
			for j := range 1 + r.IntN(4) {
				for _, t := range randomRelease(r, r.IntN(4)) {
					tables = append(tables, scoped(t, Coord{"release", strconv.Itoa(j)}))
				}
			}
			if err := sameOutcome(pol, tables); err != nil {
				t.Fatalf("k=%d, case %d: %v (%s)", k, i, err, describe(tables))
			}
		}
	}
	var pol Policy
	cases := 6
	if testing.Short() {
		cases = 2
	}
	for i := range cases {
		people := []int{300, 1500, 3000}[i%3]
		all := releaseTables(uint64(i+10), people)
		r := rand.New(rand.NewPCG(uint64(i), 7))
		// A few indicators, the I19 table and the entrants tables.
		keep := map[string]bool{"I19": true}
		for range 3 {
			keep[fmt.Sprintf("I%02d", 1+r.IntN(39))] = true
		}
		var tables []Table
		for _, t := range all {
			tw := t.(TwoWay)
			if ind := tw.Scope[0].Value; keep[ind] {
				tables = append(tables, t)
			}
		}
		if err := sameOutcome(&pol, tables); err != nil {
			t.Fatalf("release %d (people %d): %v", i, people, err)
		}
	}
}

// TestDeterminedIntegerElimination checks the integer elimination against
// the rational one on random systems of ±1 relations.
func TestDeterminedIntegerElimination(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for i := range 3000 {
		n := 1 + r.IntN(12)
		s := &intruder{truth: make([]int, n)}
		for range 1 + r.IntN(10) {
			var l linear
			for v := range n {
				if r.IntN(3) == 0 {
					l.vars = append(l.vars, v)
					l.coefs = append(l.coefs, 1-2*r.IntN(2))
				}
			}
			if len(l.vars) > 0 {
				s.cons = append(s.cons, l)
			}
		}
		got, ok := s.determinedInt()
		if !ok {
			continue
		}
		if want := s.determinedRat(); !slices.Equal(got, want) {
			t.Fatalf("case %d: determinedInt(%v) = %v, want %v", i, s.cons, got, want)
		}
	}
}
