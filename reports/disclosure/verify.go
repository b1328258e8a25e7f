package disclosure

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// The verification plays the intruder: it knows every published cell, every
// sum relation, that counts are integers and that a suppressed cell is at
// least 1 (zeros are never suppressed, and the rules are public). A
// suppressed cell is safe when at least two values are consistent with all
// of that; otherwise it is recoverable.
//
// Two exact tests do the work. Gaussian elimination over the rationals finds
// the cells that are a linear function of published numbers. For the others
// a depth-first search with bounds propagation looks for an integer solution
// in which the cell differs from its true value; every cell that differs in
// a solution found is safe as well, which spares most searches. Restricting
// the search to values up to a cap can only miss solutions, so it errs on
// the side of suppressing more.

// searchBudget bounds the nodes of one search. Tables of the size tamtam
// publishes need a few dozen; a search that runs out is reported as an
// error rather than guessed.
const searchBudget = 200_000

// propagationPasses bounds the rounds of bounds propagation per node; the
// search stays exact without the pruning it gives up.
const propagationPasses = 64

var errBudget = errors.New("search budget exhausted")

// linear is sum(coefs[i] * unknown vars[i]) = rhs, each coefficient ±1.
type linear struct {
	vars  []int
	coefs []int
	rhs   int
}

// intruder is what an intruder faces: the unknowns (the suppressed cells)
// and the relations between them once published cells are substituted.
type intruder struct {
	cells []int // cell index of each unknown
	truth []int // true value of each unknown
	cap   int   // search bound on every unknown
	cons  []linear
	nodes int
}

func (m *model) intruder() *intruder {
	s := &intruder{}
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

// firstRecoverable returns the first recoverable suppressed cell in key
// order, or -1 when every suppressed cell is safe.
func (m *model) firstRecoverable() (int, error) {
	s := m.intruder()
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

func (s *intruder) bounds() (lo, hi []int) {
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
func (s *intruder) determined() []bool {
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
func (s *intruder) search(lo, hi []int) ([]int, error) {
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
func (s *intruder) propagate(lo, hi []int) bool {
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
