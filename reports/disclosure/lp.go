package disclosure

import (
	"errors"
	"math"
	"slices"
)

// The linear-programming look at a component, for the cells the shift and depth-first
// searches leave undecided (large components of linked tables and releases): the least
// and the greatest value a cell can take when the counts are allowed to be fractions.
// That relaxation holds every integer solution, so a range narrower than one around the
// true value proves the cell recoverable; a vertex that is integral and moves the cell is
// a witness that it is not. Anything else stays undecided. The relaxation keeps the
// floors of the unknowns and leaves out the search cap, which an intruder does not know.

// lpTol is the tolerance of the simplex and of the integrality of its solutions.
const lpTol = 1e-7

// lpPivotLimit bounds the pivots of one solve; a solve that reaches it is undecided.
const lpPivotLimit = 20_000

var (
	errLPUnbounded  = errors.New("linear program unbounded")
	errLPInfeasible = errors.New("linear program infeasible")
	errLPLimit      = errors.New("linear program pivot limit")
)

// lpModel is the relaxation of a component in standard form: the independent rows of
// A y = b, y = x - floor >= 0.
type lpModel struct {
	n    int
	rows [][]float64
	b    []float64
}

// lpOf builds the relaxation of the component.
func (s *intruder) lpOf() *lpModel {
	n := len(s.truth)
	var eq [][]float64
	var rhs []float64
	for _, c := range s.cons {
		row := make([]float64, n)
		r := float64(c.rhs)
		for i, v := range c.vars {
			row[v] += float64(c.coefs[i])
		}
		for v, a := range row {
			r -= a * float64(s.floor[v])
		}
		eq = append(eq, row)
		rhs = append(rhs, r)
	}
	eq, rhs = independentRows(eq, rhs)
	return &lpModel{n: n, rows: eq, b: rhs}
}

// independentRows keeps a maximal set of linearly independent rows (Gaussian
// elimination with partial pivoting; the entries are small integers).
func independentRows(rows [][]float64, rhs []float64) ([][]float64, []float64) {
	if len(rows) == 0 {
		return nil, nil
	}
	n := len(rows[0])
	var basis [][]float64 // reduced rows, each with its pivot column set to 1
	var pivots []int
	var outRows [][]float64
	var outRHS []float64
	for i, r := range rows {
		w := append([]float64(nil), r...)
		for k, p := range basis {
			if f := w[pivots[k]]; f != 0 {
				for j := range n {
					w[j] -= f * p[j]
				}
			}
		}
		col, best := -1, 1e-9
		for j, a := range w {
			if math.Abs(a) > best {
				col, best = j, math.Abs(a)
			}
		}
		if col < 0 {
			continue
		}
		inv := 1 / w[col]
		for j := range n {
			w[j] *= inv
		}
		for k := range basis {
			if f := basis[k][col]; f != 0 {
				for j := range n {
					basis[k][j] -= f * w[j]
				}
			}
		}
		basis = append(basis, w)
		pivots = append(pivots, col)
		outRows = append(outRows, r)
		outRHS = append(outRHS, rhs[i])
	}
	return outRows, outRHS
}

// optimum returns the least (sign 1) or greatest (sign -1) value of unknown v in the
// relaxation, and a vertex reaching it.
func (m *lpModel) optimum(v, sign int, floor int) (float64, []float64, error) {
	c := make([]float64, m.n)
	c[v] = float64(sign)
	f, y, err := simplex(m.rows, m.b, c)
	if err != nil {
		return 0, nil, err
	}
	return float64(sign)*f + float64(floor), y, nil
}

// above returns a vertex of the relaxation where unknown v is least among those at
// least d above its floor.
func (m *lpModel) above(v, d int) ([]float64, error) {
	b := slices.Clone(m.b)
	for i, row := range m.rows {
		b[i] -= row[v] * float64(d)
	}
	c := make([]float64, m.n)
	c[v] = 1
	_, y, err := simplex(m.rows, b, c)
	if err != nil {
		return nil, err
	}
	y[v] += float64(d)
	return y, nil
}

// simplex minimises c·y subject to A y = b, y >= 0, A of full row rank: a dense-tableau
// two-phase simplex with Bland's rule, which cannot cycle. The components it sees have
// a few hundred unknowns at most.
func simplex(a [][]float64, b, c []float64) (float64, []float64, error) {
	m, n := len(a), len(c)
	// Columns: the n variables, then one artificial per row; last column the right-hand
	// side. Row m is the objective.
	width := n + m + 1
	t := make([][]float64, m+1)
	basis := make([]int, m)
	for i := range m {
		t[i] = make([]float64, width)
		sign := 1.0
		if b[i] < 0 {
			sign = -1
		}
		for j := range n {
			t[i][j] = sign * a[i][j]
		}
		t[i][n+i] = 1
		t[i][width-1] = sign * b[i]
		basis[i] = n + i
	}
	t[m] = make([]float64, width)
	// Phase 1: minimise the sum of the artificials.
	for i := range m {
		for j := range width {
			if j < n || j == width-1 {
				t[m][j] -= t[i][j]
			}
		}
	}
	if err := pivotAll(t, basis, n+m); err != nil {
		return 0, nil, err
	}
	if -t[m][width-1] > 1e-6 {
		return 0, nil, errLPInfeasible
	}
	// Drive the artificials out of the basis where a real column can replace them.
	for i, bj := range basis {
		if bj < n {
			continue
		}
		for j := range n {
			if math.Abs(t[i][j]) > lpTol {
				pivot(t, basis, i, j)
				break
			}
		}
	}
	// Phase 2: the real objective, artificials barred.
	for j := range width {
		t[m][j] = 0
	}
	for j := range n {
		t[m][j] = c[j]
	}
	for i, bj := range basis {
		if bj < n && c[bj] != 0 {
			f := c[bj]
			for j := range width {
				t[m][j] -= f * t[i][j]
			}
		}
	}
	if err := pivotAll(t, basis, n); err != nil {
		return 0, nil, err
	}
	y := make([]float64, n)
	for i, bj := range basis {
		if bj < n {
			y[bj] = t[i][width-1]
		}
	}
	return -t[m][width-1], y, nil
}

// pivotAll pivots on the columns before limit until no reduced cost is negative, by
// Bland's rule (the first improving column, ties of the ratio test to the smallest
// basic index), which cannot cycle. (The steepest column took more time here: its
// vertices were less often integral witnesses.)
func pivotAll(t [][]float64, basis []int, limit int) error {
	m := len(basis)
	width := len(t[0])
	for range lpPivotLimit {
		col := -1
		for j := range limit {
			if t[m][j] < -lpTol {
				col = j
				break
			}
		}
		if col < 0 {
			return nil
		}
		row := -1
		best := math.Inf(1)
		for i := range m {
			if t[i][col] > lpTol {
				r := t[i][width-1] / t[i][col]
				if row < 0 || r < best-1e-12 || (math.Abs(r-best) <= 1e-12 && basis[i] < basis[row]) {
					row, best = i, r
				}
			}
		}
		if row < 0 {
			return errLPUnbounded
		}
		pivot(t, basis, row, col)
	}
	return errLPLimit
}

// pivot makes column col basic in row, touching only the non-zero entries of the pivot
// row (the tableau of a component's relations is sparse).
func pivot(t [][]float64, basis []int, row, col int) {
	width := len(t[0])
	p := t[row]
	inv := 1 / p[col]
	nz := make([]int, 0, 64)
	for j := range width {
		if p[j] != 0 {
			p[j] *= inv
			nz = append(nz, j)
		}
	}
	for i := range t {
		if i == row {
			continue
		}
		if f := t[i][col]; f != 0 {
			r := t[i]
			for _, j := range nz {
				r[j] -= f * p[j]
			}
			r[col] = 0
		}
	}
	basis[row] = col
}

// lpDecide decides unknown v with the relaxation when it can: recoverable when no other
// integer value fits in its range, safe when an optimal vertex is an integer solution
// that moves it (left in s.lo, like the searches' witnesses). decided is false
// otherwise, with the range found, for the depth-first search to look in.
func (s *intruder) lpDecide(v int) (bad, decided bool, lo, hi int) {
	m := s.lpOf()
	t := s.truth[v]
	lo, hi = s.floor[v], s.cap
	for _, sign := range []int{1, -1} {
		val, y, err := m.optimum(v, sign, s.floor[v])
		switch {
		case errors.Is(err, errLPUnbounded):
			continue // no bound that way
		case err != nil:
			return false, false, s.floor[v], s.cap
		}
		if sign == 1 {
			lo = max(lo, int(math.Ceil(val-lpTol)))
		} else {
			hi = min(hi, int(math.Floor(val+lpTol)))
		}
		if s.integralWitness(y, v) {
			return false, true, lo, hi
		}
	}
	if lo >= t && hi <= t {
		return true, true, lo, hi
	}
	// A vertex of the relaxation nearest the truth from above is often integral where
	// the extreme ones are not (or do not exist: no bound upwards).
	if hi > t {
		if y, err := s.lpOf().above(v, t+1-s.floor[v]); err == nil && s.integralWitness(y, v) {
			return false, true, lo, hi
		}
	}
	return false, false, lo, hi
}

// integralWitness reports whether the relaxed solution y is integral, satisfies every
// relation, and moves unknown v; it is then left in s.lo.
func (s *intruder) integralWitness(y []float64, v int) bool {
	x := make([]int, len(y))
	for u, val := range y {
		r := math.Round(val)
		if math.Abs(val-r) > 1e-6 {
			return false
		}
		x[u] = int(r) + s.floor[u]
		if x[u] < s.floor[u] || x[u] > s.cap {
			return false
		}
	}
	if x[v] == s.truth[v] || !s.satisfied(x) {
		return false
	}
	copy(s.lo, x)
	return true
}
