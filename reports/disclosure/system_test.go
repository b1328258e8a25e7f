package disclosure

import (
	"math"
	"testing"
)

func key(name string) Key { return KeyOf(Coord{Dim: "cell", Value: name}) }

// exactValues enumerates the solutions of a small system as an intruder sees it after
// Protect (published cells known; suppressed at least 1, withheld at least 0, signed
// residuals of either sign; every unknown up to bound) and returns, for each unknown,
// whether a single value is possible.
func exactValues(t *testing.T, sys System, rel *Release, bound int) map[Key]bool {
	t.Helper()
	var unknown []Cell
	known := map[Key]int{}
	for _, c := range sys.Cells {
		if rel.Count(c.Key).Status().Suppressed() {
			unknown = append(unknown, c)
		} else {
			known[c.Key] = c.N
		}
	}
	values := make([]map[int]bool, len(unknown))
	for i := range values {
		values[i] = map[int]bool{}
	}
	lo := func(c Cell) int {
		switch {
		case c.Kind == Residual && c.Signed:
			return -bound
		case c.Kind == Hidden || c.Kind == Residual:
			return 0
		}
		return 1
	}
	index := map[Key]int{}
	for i, c := range unknown {
		index[c.Key] = i
	}
	// A depth-first enumeration that assigns what a sum forces before guessing.
	var rec func(x []int, set []bool)
	rec = func(x []int, set []bool) {
		x, set = append([]int(nil), x...), append([]bool(nil), set...)
		val := func(k Key) (int, bool) {
			if i, ok := index[k]; ok {
				return x[i], set[i]
			}
			return known[k], true
		}
		for changed := true; changed; {
			changed = false
			for _, s := range sys.Sums {
				keys := append([]Key{s.Total}, s.Parts...)
				open, sum := -1, 0
				for j, k := range keys {
					v, ok := val(k)
					coef := 1
					if j == 0 {
						coef = -1
					}
					switch {
					case ok:
						sum += coef * v
					case open >= 0:
						open = -2
					default:
						open = j
					}
					if open == -2 {
						break
					}
				}
				switch {
				case open == -1 && sum != 0:
					return
				case open >= 0:
					v := sum
					if open != 0 {
						v = -sum
					}
					i := index[keys[open]]
					if v < lo(unknown[i]) || v > bound {
						return
					}
					x[i], set[i], changed = v, true, true
				}
			}
		}
		next := -1
		for i := range unknown {
			if !set[i] {
				next = i
				break
			}
		}
		if next < 0 {
			for j := range unknown {
				values[j][x[j]] = true
			}
			return
		}
		for v := lo(unknown[next]); v <= bound; v++ {
			x[next], set[next] = v, true
			rec(x, set)
			set[next] = false
		}
	}
	rec(make([]int, len(unknown)), make([]bool, len(unknown)))
	out := map[Key]bool{}
	for j, c := range unknown {
		out[c.Key] = len(values[j]) == 1
	}
	return out
}

// TestSystemHiddenSite: a group minus its shown site is a pooled site, whose count from
// 1 to k-1 must not be computable (R10, T12).
func TestSystemHiddenSite(t *testing.T) {
	sys := System{Name: "groups", Cells: []Cell{
		{Key: key("all"), N: 63, Grand: true}, {Key: key("haren"), N: 30, Margin: true}, {Key: key("lantin"), N: 25, Margin: true},
		{Key: key("dinant"), N: 3, Kind: Hidden}, {Key: key("namur"), N: 5, Kind: Hidden},
		{Key: key("other"), N: 8, Margin: true}, {Key: key("C"), N: 28, Margin: true}},
		Sums: []Sum{{key("all"), []Key{key("haren"), key("lantin"), key("dinant"), key("namur")}},
			{key("all"), []Key{key("haren"), key("lantin"), key("other")}},
			{key("other"), []Key{key("dinant"), key("namur")}},
			{key("C"), []Key{key("lantin"), key("dinant")}}}}
	rel, err := (&Policy{}).Protect(sys)
	if err != nil {
		t.Fatal(err)
	}
	exact := exactValues(t, sys, rel, 70)
	if exact[key("dinant")] {
		t.Errorf("a pooled site's 3 is computable: %v", exact)
	}
	if st := rel.Count(key("dinant")).Status(); st != Withheld {
		t.Errorf("dinant status = %v, want withheld", st)
	}
}

// TestSystemLaterRelease: a cell published in an earlier release that changes by 1 to
// k-1 is suppressed in the later one (R12), with a complement, and a frozen suppressed
// cell stays unrecoverable.
func TestSystemLaterRelease(t *testing.T) {
	old := func(name string) Key { return KeyOf(Coord{"cell", name}, Coord{"release", "r1"}) }
	inc := func(name string) Key { return KeyOf(Coord{"cell", name}, Coord{"change", "r1"}) }
	sys := System{Name: "two releases", Cells: []Cell{
		// r1: a = 20, b = 3 (suppressed), c = 17 (suppressed with it), total 40.
		{Key: old("a"), N: 20, Kind: Frozen, Status: Published}, {Key: old("b"), N: 3, Kind: Frozen, Status: SuppressedPrimary},
		{Key: old("c"), N: 17, Kind: Frozen, Status: SuppressedSecondary}, {Key: old("t"), N: 40, Kind: Frozen, Status: Published},
		// r2: a = 22 (+2), b = 9, c = 30, total 61.
		{Key: key("a"), N: 22}, {Key: key("b"), N: 9}, {Key: key("c"), N: 30}, {Key: key("t"), N: 61, Grand: true},
		{Key: inc("a"), N: 2, Kind: Residual, Signed: true}, {Key: inc("b"), N: 6, Kind: Residual, Signed: true},
		{Key: inc("c"), N: 13, Kind: Residual, Signed: true}, {Key: inc("t"), N: 21, Kind: Residual, Signed: true}},
		Sums: []Sum{{old("t"), []Key{old("a"), old("b"), old("c")}}, {key("t"), []Key{key("a"), key("b"), key("c")}},
			{key("a"), []Key{old("a"), inc("a")}}, {key("b"), []Key{old("b"), inc("b")}},
			{key("c"), []Key{old("c"), inc("c")}}, {key("t"), []Key{old("t"), inc("t")}}}}
	rel, err := (&Policy{}).Protect(sys)
	if err != nil {
		t.Fatal(err)
	}
	if !rel.Count(key("a")).Status().Suppressed() {
		t.Errorf("a (20 then 22) published in both releases")
	}
	exact := exactValues(t, sys, rel, 70)
	for k, e := range exact {
		if e {
			n := 0
			for _, c := range sys.Cells {
				if c.Key == k {
					n = c.N
				}
			}
			if c := rel.Count(k); c.Status() != Withheld || (n != 0 && math.Abs(float64(n)) < 5) {
				t.Errorf("%s = %d can be computed", k, n)
			}
		}
	}
}

// TestSystemRefusals: a System that does not add up, a frozen suppressed zero, a key of
// two kinds.
func TestSystemRefusals(t *testing.T) {
	for name, sys := range map[string]System{
		"sum": {Name: "s", Cells: []Cell{{Key: key("t"), N: 5}, {Key: key("a"), N: 3}},
			Sums: []Sum{{key("t"), []Key{key("a")}}}},
		"frozen zero": {Name: "s", Cells: []Cell{{Key: key("t"), N: 0, Kind: Frozen, Status: SuppressedSecondary}}},
		"unknown part": {Name: "s", Cells: []Cell{{Key: key("t"), N: 5}},
			Sums: []Sum{{key("t"), []Key{key("z")}}}},
	} {
		if _, err := (&Policy{}).Protect(sys); err == nil {
			t.Errorf("Protect(%s) accepted", name)
		}
	}
	a := System{Name: "a", Cells: []Cell{{Key: key("x"), N: 5}}}
	b := System{Name: "b", Cells: []Cell{{Key: key("x"), N: 5, Kind: Residual}}}
	if _, err := (&Policy{}).Protect(a, b); err == nil {
		t.Errorf("Protect accepted a cell of two kinds")
	}
}

// TestCellsRestore: a release read back from its cells is the same release.
func TestCellsRestore(t *testing.T) {
	tw := TwoWay{Name: "t", RowDim: "site", Rows: []string{"a|b", "c=d"}, ColDim: "g", Cols: []string{"M", "F%"},
		Counts: [][]int{{10, 2}, {20, 9}}}
	rel, err := (&Policy{}).Protect(tw)
	if err != nil {
		t.Fatal(err)
	}
	cells := rel.Cells()
	for _, c := range cells {
		k, err := ParseKey(c.Key.String())
		if err != nil || k != c.Key {
			t.Errorf("ParseKey(%s) = %v, %v", c.Key, k, err)
		}
	}
	back, err := Restore(rel.Config(), cells)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if back.Count(c.Key) != rel.Count(c.Key) {
			t.Errorf("Restore: %s = %v, want %v", c.Key, back.Count(c.Key), rel.Count(c.Key))
		}
	}
	if _, err := ParseKey("b=1|a=2"); err == nil {
		t.Errorf("ParseKey accepted a key out of order")
	}
}

// TestSimplex checks the relaxation's simplex on small programs with known optima.
func TestSimplex(t *testing.T) {
	// min -x0 - x1 s.t. x0 + x1 + s = 4, x0 - x1 + u = 2: optimum -4.
	f, y, err := simplex([][]float64{{1, 1, 1, 0}, {1, -1, 0, 1}}, []float64{4, 2}, []float64{-1, -1, 0, 0})
	if err != nil || math.Abs(f+4) > 1e-9 || math.Abs(y[0]+y[1]-4) > 1e-9 {
		t.Errorf("simplex = %v %v %v, want -4", f, y, err)
	}
	// x0 + x1 = -1 with x >= 0: infeasible.
	if _, _, err := simplex([][]float64{{1, 1}}, []float64{-1}, []float64{1, 0}); err != errLPInfeasible {
		t.Errorf("simplex(infeasible) error = %v", err)
	}
	// min -x0 s.t. x0 - x1 = 0: unbounded.
	if _, _, err := simplex([][]float64{{1, -1}}, []float64{0}, []float64{-1, 0}); err != errLPUnbounded {
		t.Errorf("simplex(unbounded) error = %v", err)
	}
}
