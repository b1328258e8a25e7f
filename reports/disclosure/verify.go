package disclosure

import (
	"cmp"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// The verification plays the intruder: it knows every published cell, every
// sum relation, that counts are integers and that a suppressed cell is at
// least 1 (zeros are never suppressed, and the rules are public); a withheld
// cell at least 0, a signed change anything (see model.floor). A cell to
// guard (model.guarded) is safe when at least two values are consistent with
// all of that; otherwise it is recoverable.
//
// Once the published cells are substituted, the unknowns (the suppressed
// cells) fall apart into components: two unknowns are in one component when
// a chain of relations, each holding at least two unknowns, joins them.
// Every component has a solution, the true values (a suppressed cell is
// never a zero, and no count exceeds the cap), and the solutions of the
// whole system are exactly the combinations of solutions of its components.
// So a cell is safe in the release if and only if it is safe in its
// component, and each component is verified alone. A component is fully
// determined by its set of cells (its relations are those of its cells, and
// every other cell of those relations is published), so what is known of it
// is kept between the rounds of Protect and only components that a new
// suppression changed are looked at again. A cell found safe stays safe
// when more cells are suppressed: its witness, extended with the true values
// of the newly suppressed cells, is still a solution.
//
// A cell is declared safe only on a witness: an integer solution, checked
// against every relation, in which it differs from its true value; every
// cell that differs in it is safe as well, which spares most searches. The
// witness is looked for first as a chain of unit shifts (the +1 -1 -1 +1 of
// a rectangle of suppressed cells, and longer cycles through linked tables),
// then by a short depth-first search with bounds propagation. A cell is
// declared recoverable only on a proof: Gaussian elimination (exact, on
// integers) shows it is a linear function of published numbers, or the
// depth-first search exhausts every value other than the true one. A search
// that runs out of budget is an error, never a verdict. Restricting the
// search to values up to a cap can only miss solutions, so it errs on the
// side of suppressing more. The cap is the same for every component: it
// depends on the largest count of the release, not of the component.

// searchBudget bounds the nodes of one search. Tables of the size tamtam
// publishes need a few dozen; a search that runs out is reported as an
// error rather than guessed.
const searchBudget = 50_000

// probeBudget bounds the nodes of the first, quick look for a witness. Its
// running out proves nothing: the full search follows.
const probeBudget = 64

// shiftBudget bounds the nodes of the look for a witness made of unit
// shifts. Its running out proves nothing either.
const shiftBudget = 5_000

// propagationPasses bounds the work of bounds propagation per node, as
// passes over the constraints of the component; the search stays exact
// without the pruning it gives up.
const propagationPasses = 64

var errBudget = errors.New("search budget exhausted")

// linear is sum(coefs[i] * unknown vars[i]) = rhs, each coefficient ±1.
type linear struct {
	vars  []int
	coefs []int
	rhs   int
}

// intruder is what an intruder faces in one component: its unknowns (the
// suppressed cells) and the relations between them once published cells are
// substituted.
type intruder struct {
	truth   []int // true value of each unknown
	floor   []int // least value of each unknown: 1 for a suppressed cell, 0 for a withheld one
	cap     int   // search bound on every unknown
	cons    []linear
	varCons [][]int // the constraints of each unknown
	varCoef [][]int // the coefficient of the unknown in each of them
	nodes   int
	budget  int // nodes allowed to the current search

	// Search state: the current ranges, an undo trail of the ranges
	// changed since the root, and the queue of constraints to propagate.
	lo, hi []int
	trail  []saved
	queue  []int
	queued []bool

	// Shift search state: the shift of each unknown, the resulting
	// imbalance of each relation, and a stack of candidate shifts.
	delta []int
	res   []int
	cand  []shiftCand
}

// shiftCand is a candidate unit shift of an unknown, with how much it
// reduces the imbalance of the unknown's other relations.
type shiftCand struct{ u, d, score, deg int }

// saved is a range before a change, for backtracking.
type saved struct{ v, lo, hi int }

// component is a set of unknowns joined by relations, with what is known of
// them so far. Verdicts are computed on demand, in key order.
type component struct {
	cells []int // cell indices of the unknowns, ascending
	s     *intruder
	det   []bool // determined by elimination; nil until computed
	bad   []bool // proven recoverable
}

// verifier keeps the components of a model between rounds of Protect.
type verifier struct {
	cap    int
	relsOf [][]int            // the relations each cell is in
	comps  map[int]*component // by first cell

	// safe marks the cells a witness solution showed to be safe, and
	// hidden the cells that were suppressed when it was last updated.
	// Suppressing more cells keeps a safe cell safe: a witness extended
	// with the true values of the newly suppressed cells is still a
	// solution, of the same cap. So safe is kept as long as no cell of
	// hidden is published again.
	safe   []bool
	hidden []bool

	// The component of each cell in the current round, valid where seen
	// holds the round.
	round  int
	seen   []int
	compOf []*component
	posOf  []int

	// Scratch, indexed by cell or by relation.
	local   []int
	relMark []int
	stamp   int
}

func (m *model) verifier() *verifier {
	if m.ver != nil {
		return m.ver
	}
	largest := 0
	for _, c := range m.cells {
		largest = max(largest, c.n)
	}
	v := &verifier{
		cap:     2*largest + 2*m.k,
		relsOf:  m.relationsOf(),
		comps:   map[int]*component{},
		seen:    make([]int, len(m.cells)),
		compOf:  make([]*component, len(m.cells)),
		posOf:   make([]int, len(m.cells)),
		local:   make([]int, len(m.cells)),
		relMark: make([]int, len(m.rels)),
		safe:    make([]bool, len(m.cells)),
		hidden:  make([]bool, len(m.cells)),
	}
	for i := range v.local {
		v.local[i] = -1
	}
	m.ver = v
	return v
}

// floor returns the least value an intruder knows cell i to have: a
// suppressed count is at least 1 (zeros are never suppressed), a withheld
// one at least 0, and a residual that went down at least its true value (the
// model gives the intruder that much).
func (m *model) floor(i int) int {
	switch c := m.cells[i]; c.kind {
	case Hidden:
		return 0
	case Residual:
		if c.signed {
			return -m.verifier().cap
		}
		return min(0, c.n)
	}
	return 1
}

// relationsOf returns, for each cell, the indices of the relations it is in,
// ascending.
func (m *model) relationsOf() [][]int {
	if m.relsOf != nil {
		return m.relsOf
	}
	rels := make([][]int, len(m.cells))
	for r, rel := range m.rels {
		rels[rel.total] = append(rels[rel.total], r)
		for _, i := range rel.parts {
			rels[i] = append(rels[i], r)
		}
	}
	for i := range rels {
		rels[i] = slices.Compact(rels[i])
	}
	m.relsOf = rels
	return rels
}

// refresh forgets the safe cells if a cell was published again since the
// last round, or a zero suppressed (Protect does neither), and starts a new
// round.
func (v *verifier) refresh(m *model) {
	for i, c := range m.cells {
		if s := c.status.Suppressed(); s != v.hidden[i] && (!s || c.n < 1) {
			clear(v.safe)
			break
		}
	}
	for i := range m.cells {
		v.hidden[i] = m.suppressed(i)
	}
	v.round++
}

// componentOf returns the component of the suppressed cell i in the current
// round, reusing the component of an earlier round when it has the same
// cells, and the place of i in it.
func (m *model) componentOf(i int) (*component, int) {
	v := m.verifier()
	if v.seen[i] == v.round {
		return v.compOf[i], v.posOf[i]
	}
	v.seen[i] = v.round
	cells := []int{i}
	for next := 0; next < len(cells); next++ {
		for _, r := range v.relsOf[cells[next]] {
			rel := &m.rels[r]
			if j := rel.total; v.seen[j] != v.round && m.suppressed(j) {
				v.seen[j] = v.round
				cells = append(cells, j)
			}
			for _, j := range rel.parts {
				if v.seen[j] != v.round && m.suppressed(j) {
					v.seen[j] = v.round
					cells = append(cells, j)
				}
			}
		}
	}
	slices.Sort(cells)
	c := v.comps[cells[0]]
	if c == nil || !slices.Equal(c.cells, cells) {
		c = &component{cells: cells}
		v.comps[cells[0]] = c
	}
	for p, j := range cells {
		v.compOf[j], v.posOf[j] = c, p
	}
	return c, v.posOf[i]
}

// firstRecoverable returns the first recoverable suppressed cell in key
// order, or -1 when every suppressed cell is safe.
func (m *model) firstRecoverable() (int, error) {
	v := m.verifier()
	v.refresh(m)
	for i := range m.cells {
		if !m.guarded(i) || v.safe[i] {
			continue
		}
		c, p := m.componentOf(i)
		bad, err := m.recoverable(c, p)
		if err != nil {
			return -1, fmt.Errorf("disclosure: cannot verify that cell %s is protected (%v); merge categories or release fewer linked tables", m.cells[i].key, err)
		}
		if bad {
			return i, nil
		}
	}
	return -1, nil
}

// recoverable reports whether unknown v of component c can take only its
// true value. It first looks briefly for a witness, which settles most
// cells; failing that, elimination finds the determined cells, and a full
// search decides the others.
func (m *model) recoverable(c *component, v int) (bool, error) {
	if c.s == nil {
		c.s = m.intruder(c.cells)
		c.bad = make([]bool, len(c.cells))
	}
	if c.bad[v] {
		return true, nil
	}
	s := c.s
	t := s.truth[v]
	sides := [2][2]int{{s.floor[v], t - 1}, {t + 1, s.cap}}
	for _, d := range [2]int{-1, 1} {
		if s.shift(v, d, shiftBudget) {
			m.witness(c)
			return false, nil
		}
	}
	var none [2]bool // no solution on that side
	for i, r := range sides {
		found, err := s.solve(v, r[0], r[1], probeBudget)
		if found {
			m.witness(c)
			return false, nil
		}
		none[i] = err == nil
	}
	if !none[0] || !none[1] {
		if c.det == nil {
			c.det = s.determined()
		}
		if c.det[v] {
			c.bad[v] = true
			return true, nil
		}
	}
	// A search of moderate size finds most witnesses the probes missed.
	for i, r := range sides {
		if none[i] {
			continue
		}
		found, err := s.solve(v, r[0], r[1], searchBudget/10)
		if found {
			m.witness(c)
			return false, nil
		}
		none[i] = err == nil
	}
	if none[0] && none[1] {
		c.bad[v] = true
		return true, nil
	}
	// The relaxation settles most of what is left: it proves a cell recoverable
	// (the bounds of linked releases and floors often pin one), or finds an
	// integral witness, or narrows where to search.
	bad, decided, lo, hi := s.lpDecide(v)
	if decided {
		if bad {
			c.bad[v] = true
			return true, nil
		}
		m.witness(c)
		return false, nil
	}
	sides = [2][2]int{{max(lo, s.floor[v]), t - 1}, {t + 1, min(hi, s.cap)}}
	for i, r := range sides {
		if none[i] {
			continue
		}
		found, err := s.solve(v, r[0], r[1], searchBudget)
		if errors.Is(err, errBudget) {
			// Undecided: treated as recoverable, so that another cell is
			// suppressed. Protect never publishes what it could not prove safe.
			c.bad[v] = true
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if found {
			m.witness(c)
			return false, nil
		}
	}
	c.bad[v] = true
	return true, nil
}

// witness marks safe every cell of c that differs from its true value in
// the solution the last search of c found.
func (m *model) witness(c *component) {
	s := c.s
	for u, x := range s.lo {
		if x != s.truth[u] {
			m.ver.safe[c.cells[u]] = true
		}
	}
}

// intruder builds the system of the component made of cells.
func (m *model) intruder(cells []int) *intruder {
	v := m.verifier()
	s := &intruder{cap: v.cap, truth: make([]int, len(cells)), floor: make([]int, len(cells))}
	for l, i := range cells {
		v.local[i] = l
		s.truth[l] = m.cells[i].n
		s.floor[l] = m.floor(i)
	}
	v.stamp++
	var rels []int
	for _, i := range cells {
		for _, r := range v.relsOf[i] {
			if v.relMark[r] != v.stamp {
				v.relMark[r] = v.stamp
				rels = append(rels, r)
			}
		}
	}
	slices.Sort(rels)
	s.varCons = make([][]int, len(cells))
	s.varCoef = make([][]int, len(cells))
	for _, r := range rels {
		var l linear
		term := func(i, coef int) {
			if u := v.local[i]; u >= 0 {
				l.vars = append(l.vars, u)
				l.coefs = append(l.coefs, coef)
			} else {
				l.rhs -= coef * m.cells[i].n
			}
		}
		term(m.rels[r].total, -1)
		for _, i := range m.rels[r].parts {
			term(i, 1)
		}
		for j, u := range l.vars {
			k := len(s.cons)
			if last := len(s.varCons[u]) - 1; last >= 0 && s.varCons[u][last] == k {
				s.varCoef[u][last] += l.coefs[j]
				continue
			}
			s.varCons[u] = append(s.varCons[u], k)
			s.varCoef[u] = append(s.varCoef[u], l.coefs[j])
		}
		s.cons = append(s.cons, l)
	}
	for _, i := range cells {
		v.local[i] = -1
	}
	n := len(cells)
	s.lo, s.hi = make([]int, n), make([]int, n)
	s.queued = make([]bool, len(s.cons))
	s.delta = make([]int, n)
	s.res = make([]int, len(s.cons))
	return s
}

// determined reports which unknowns are a linear function of the published
// cells: those whose row of the reduced row echelon form has no entry in a
// free column.
//
// The elimination runs on integers: a row is replaced by an integer
// combination of itself (with a non-zero factor) and the pivot row, then
// divided by the gcd of its entries, which keeps the row space and the zero
// pattern of the reduced form exactly. Should an entry grow too large for
// int64 products, it starts again over the rationals.
func (s *intruder) determined() []bool {
	if det, ok := s.determinedInt(); ok {
		return det
	}
	return s.determinedRat()
}

// entryLimit bounds the entries of the integer elimination, so that
// a*b - c*d cannot overflow.
const entryLimit = 1 << 30

func (s *intruder) determinedInt() ([]bool, bool) {
	n := len(s.truth)
	buf := make([]int64, len(s.cons)*n)
	a := make([][]int64, len(s.cons))
	for r, c := range s.cons {
		a[r] = buf[r*n : (r+1)*n : (r+1)*n]
		for i, v := range c.vars {
			a[r][v] += int64(c.coefs[i])
		}
	}
	var pivots []int
	row := 0
	for col := 0; col < n && row < len(a); col++ {
		p := slices.IndexFunc(a[row:], func(r []int64) bool { return r[col] != 0 })
		if p < 0 {
			continue
		}
		a[row], a[row+p] = a[row+p], a[row]
		pr := a[row]
		pv := pr[col]
		for r := range a {
			f := a[r][col]
			if r == row || f == 0 {
				continue
			}
			x := a[r]
			var g int64
			for v := range n {
				e := pv*x[v] - f*pr[v]
				x[v] = e
				g = gcd(g, e)
			}
			if g > 1 {
				for v := range n {
					x[v] /= g
				}
			}
			for _, e := range x {
				if e >= entryLimit || e <= -entryLimit {
					return nil, false
				}
			}
		}
		pivots = append(pivots, col)
		row++
	}
	det := make([]bool, n)
	for r, col := range pivots {
		det[col] = true
		for v := range n {
			if v != col && a[r][v] != 0 {
				det[col] = false
				break
			}
		}
	}
	return det, true
}

func gcd(a, b int64) int64 {
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// determinedRat is determined over big rationals.
func (s *intruder) determinedRat() []bool {
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

// solve looks for an integer solution with every unknown from its floor to
// the cap and unknown v from lo to hi, within budget nodes. When it finds
// one, it leaves it in s.lo.
func (s *intruder) solve(v, lo, hi, budget int) (bool, error) {
	if lo > hi {
		return false, nil
	}
	for u := range s.lo {
		s.lo[u], s.hi[u] = s.floor[u], s.cap
	}
	s.lo[v], s.hi[v] = max(lo, s.floor[v]), min(hi, s.cap)
	s.trail = s.trail[:0]
	for c := range s.cons {
		s.enqueue(c)
	}
	s.nodes, s.budget = 0, budget
	return s.search()
}

// search returns whether an integer solution lies within the current
// ranges, leaving it in s.lo, and otherwise restores the ranges it was
// given. It branches on the unknown with the smallest range, trying its true
// value first and then either side, since solutions near the true table are
// the likeliest.
func (s *intruder) search() (bool, error) {
	mark := len(s.trail)
	if !s.propagate() {
		s.undo(mark)
		return false, nil
	}
	best := -1
	for v := range s.lo {
		if s.lo[v] < s.hi[v] && (best < 0 || s.hi[v]-s.lo[v] < s.hi[best]-s.lo[best]) {
			best = v
		}
	}
	if best < 0 {
		if s.satisfied(s.lo) {
			return true, nil
		}
		s.undo(mark)
		return false, nil
	}
	if s.nodes++; s.nodes > s.budget {
		return false, errBudget
	}
	lo, hi := s.lo[best], s.hi[best]
	t := min(max(s.truth[best], lo), hi)
	inner := len(s.trail)
	for _, r := range [3][2]int{{t, t}, {lo, t - 1}, {t + 1, hi}} {
		if r[0] > r[1] {
			continue
		}
		s.set(best, r[0], r[1])
		for _, c := range s.varCons[best] {
			s.enqueue(c)
		}
		found, err := s.search()
		if found || err != nil {
			return found, err
		}
		s.undo(inner)
	}
	s.undo(mark)
	return false, nil
}

// set narrows the range of v, remembering the old one.
func (s *intruder) set(v, lo, hi int) {
	s.trail = append(s.trail, saved{v, s.lo[v], s.hi[v]})
	s.lo[v], s.hi[v] = lo, hi
}

// undo restores the ranges changed since the trail had length mark.
func (s *intruder) undo(mark int) {
	for i := len(s.trail) - 1; i >= mark; i-- {
		e := s.trail[i]
		s.lo[e.v], s.hi[e.v] = e.lo, e.hi
	}
	s.trail = s.trail[:mark]
}

func (s *intruder) enqueue(c int) {
	if !s.queued[c] {
		s.queued[c] = true
		s.queue = append(s.queue, c)
	}
}

// propagate narrows the ranges to values each queued relation allows given
// the ranges of its other unknowns, queueing the relations of every unknown
// it narrows, and reports false when a range empties or a relation cannot
// hold. It leaves the queue empty.
func (s *intruder) propagate() bool {
	ok := s.drain(propagationPasses * len(s.cons))
	for _, c := range s.queue {
		s.queued[c] = false
	}
	s.queue = s.queue[:0]
	return ok
}

func (s *intruder) drain(limit int) bool {
	lo, hi := s.lo, s.hi
	for head := 0; head < len(s.queue) && head < limit; head++ {
		ci := s.queue[head]
		s.queued[ci] = false
		c := &s.cons[ci]
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
			if newLo <= lo[v] && newHi >= hi[v] {
				continue
			}
			newLo, newHi = max(newLo, lo[v]), min(newHi, hi[v])
			if newLo > newHi {
				return false
			}
			s.set(v, newLo, newHi)
			for _, d := range s.varCons[v] {
				s.enqueue(d)
			}
		}
	}
	return true
}

// shift looks for a witness in which unknown v is shifted by d (±1) and
// every other unknown by -1, 0 or +1: a chain of unit shifts, each undoing
// the imbalance the previous ones left in a relation, such as the classic
// +1 -1 -1 +1 around a rectangle of suppressed cells. It tries at most
// budget nodes and, when it finds one, leaves the witness in s.lo; the
// witness is checked against every relation before it is trusted.
func (s *intruder) shift(v, d, budget int) bool {
	clear(s.delta)
	clear(s.res)
	s.cand = s.cand[:0]
	if !s.canShift(v, d) {
		return false
	}
	s.nodes, s.budget = 0, budget
	s.move(v, d)
	if !s.shiftSearch() {
		return false
	}
	for u, t := range s.truth {
		s.lo[u] = t + s.delta[u]
	}
	return s.satisfied(s.lo)
}

// canShift reports whether unknown u, not shifted yet, may move by d.
func (s *intruder) canShift(u, d int) bool {
	x := s.truth[u] + d
	return s.delta[u] == 0 && x >= s.floor[u] && x <= s.cap
}

// move shifts unknown u by d (or back, with -d).
func (s *intruder) move(u, d int) {
	s.delta[u] += d
	for j, c := range s.varCons[u] {
		s.res[c] += d * s.varCoef[u][j]
	}
}

// shiftSearch balances the relations left unbalanced by the shifts so far,
// starting with the relation that has the fewest ways to be balanced.
func (s *intruder) shiftSearch() bool {
	best, fewest := -1, 0
	for c, r := range s.res {
		if r == 0 {
			continue
		}
		need := sign(r)
		ways := 0
		con := &s.cons[c]
		for i, u := range con.vars {
			if s.canShift(u, -need*con.coefs[i]) {
				ways++
			}
		}
		// Each unknown moves once, by one.
		if ways < abs(r) {
			return false
		}
		if best < 0 || ways < fewest {
			best, fewest = c, ways
		}
	}
	if best < 0 {
		return true
	}
	if s.nodes++; s.nodes > s.budget {
		return false
	}
	need := sign(s.res[best])
	con := &s.cons[best]
	start := len(s.cand)
	for i, u := range con.vars {
		d := -need * con.coefs[i]
		if !s.canShift(u, d) {
			continue
		}
		score := 0
		for j, c := range s.varCons[u] {
			if c != best {
				r := s.res[c]
				score += abs(r) - abs(r+d*s.varCoef[u][j])
			}
		}
		s.cand = append(s.cand, shiftCand{u, d, score, len(s.varCons[u])})
	}
	slices.SortFunc(s.cand[start:], func(a, b shiftCand) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.deg, b.deg), cmp.Compare(a.u, b.u))
	})
	end := len(s.cand)
	for i := start; i < end; i++ {
		c := s.cand[i]
		s.move(c.u, c.d)
		if s.shiftSearch() {
			return true
		}
		s.move(c.u, -c.d)
		if s.nodes > s.budget {
			break
		}
	}
	s.cand = s.cand[:start]
	return false
}

func sign(x int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func abs(x int) int { return max(x, -x) }

func (s *intruder) satisfied(x []int) bool {
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
