package disclosure

import (
	"errors"
	"fmt"
	"slices"
)

// This file re-derives, independently of the package's own model, what an
// intruder can learn from a release: the sum relations are rebuilt from the
// tables' exported fields, and recoverability is decided by enumerating
// integer assignments of the suppressed cells. Random and fuzz tests check
// Protect against it.

// bruteSum says that the parts add up to the total.
type bruteSum struct {
	total Key
	parts []Key
}

// tableFacts returns every cell of t with its true count, the sum relations
// of t, and the keys of t's grand total.
func tableFacts(t Table) (cells map[Key]int, sums []bruteSum, grandKey Key) {
	cells = map[Key]int{}
	switch t := t.(type) {
	case OneWay:
		all := bruteSum{total: t.TotalKey()}
		total := 0
		for i, n := range t.Counts {
			cells[t.Key(i)] = n
			all.parts = append(all.parts, t.Key(i))
			total += n
		}
		cells[t.TotalKey()] = total
		return cells, []bruteSum{all}, t.TotalKey()
	case TwoWay:
		byRow := bruteSum{total: t.TotalKey()}
		byCol := bruteSum{total: t.TotalKey()}
		total := 0
		for r := range t.Rows {
			row := bruteSum{total: t.RowTotalKey(r)}
			n := 0
			for c := range t.Cols {
				cells[t.Key(r, c)] = t.Counts[r][c]
				row.parts = append(row.parts, t.Key(r, c))
				n += t.Counts[r][c]
			}
			cells[t.RowTotalKey(r)] = n
			total += n
			sums = append(sums, row)
			byRow.parts = append(byRow.parts, t.RowTotalKey(r))
		}
		for c := range t.Cols {
			col := bruteSum{total: t.ColTotalKey(c)}
			n := 0
			for r := range t.Rows {
				col.parts = append(col.parts, t.Key(r, c))
				n += t.Counts[r][c]
			}
			cells[t.ColTotalKey(c)] = n
			sums = append(sums, col)
			byCol.parts = append(byCol.parts, t.ColTotalKey(c))
		}
		cells[t.TotalKey()] = total
		return cells, append(sums, byRow, byCol), t.TotalKey()
	}
	panic(fmt.Sprintf("unknown table type %T", t))
}

// facts is what the brute force knows of a release before protection.
type facts struct {
	cells  map[Key]int
	order  []Key // first appearance, for reproducible messages
	sums   []bruteSum
	grands map[Key]bool
}

func factsOf(tables ...Table) facts {
	f := facts{cells: map[Key]int{}, grands: map[Key]bool{}}
	for _, t := range tables {
		c, s, g := tableFacts(t)
		for _, key := range keysInOrder(t) {
			if _, ok := f.cells[key]; !ok {
				f.order = append(f.order, key)
			}
			f.cells[key] = c[key]
		}
		f.sums = append(f.sums, s...)
		f.grands[g] = true
	}
	// A cell is a grand total only if no relation has it as a part.
	for _, s := range f.sums {
		for _, p := range s.parts {
			delete(f.grands, p)
		}
	}
	return f
}

// checkProtect protects tables with pol and returns the first way in which
// the outcome breaks R5, R6 or the verification promise. Protect may refuse
// a release only with an *UnprotectableError naming a cell that the brute
// force also finds recoverable when every other cell but the grand totals
// and the zeros is suppressed.
func checkProtect(pol *Policy, tables ...Table) error {
	k := pol.Config().K
	rel, err := pol.Protect(tables...)
	if refusal, ok := errors.AsType[*UnprotectableError](err); ok {
		return checkRefusal(refusal.Cell, k, factsOf(tables...))
	}
	if err != nil {
		return fmt.Errorf("Protect error: %w", err)
	}
	return checkRelease(rel, k, factsOf(tables...))
}

func checkRelease(rel *Release, k int, f facts) error {
	status := func(key Key) Status { return rel.Count(key).Status() }
	for _, key := range f.order {
		n, st := f.cells[key], status(key)
		switch {
		case st == Unchecked:
			return fmt.Errorf("cell %s (n=%d) is unchecked", key, n)
		case st.Publishable() && n > 0 && n < k:
			return fmt.Errorf("cell %s (n=%d) is published below k=%d", key, n, k)
		case st.Suppressed() && n == 0:
			return fmt.Errorf("cell %s is a suppressed zero", key)
		case f.grands[key] && st == SuppressedSecondary:
			return fmt.Errorf("grand total %s (n=%d) is a complement", key, n)
		}
	}
	for _, s := range f.sums {
		if status(s.total).Suppressed() {
			continue
		}
		count, held := 0, 0
		for _, p := range s.parts {
			if status(p).Suppressed() {
				count++
				held += f.cells[p]
			}
		}
		if count == 1 || (count > 1 && held < k) {
			return fmt.Errorf("relation %s = %v has %d suppressed parts holding %d", s.total, s.parts, count, held)
		}
	}
	b := newBruteForce(f.cells, f.sums, status, k)
	for v := range b.vars {
		other, err := b.alternative(v)
		if err != nil {
			return fmt.Errorf("brute force on %s: %w", b.vars[v], err)
		}
		if !other {
			return fmt.Errorf("suppressed cell %s (n=%d) can only be %d", b.vars[v], b.truth[v], b.truth[v])
		}
	}
	return nil
}

func checkRefusal(cell Key, k int, f facts) error {
	n, ok := f.cells[cell]
	if !ok {
		return fmt.Errorf("Protect refused for cell %s, which is in no table", cell)
	}
	most := func(key Key) Status {
		if n := f.cells[key]; n > 0 && (!f.grands[key] || n < k) {
			return SuppressedSecondary
		}
		return Published
	}
	b := newBruteForce(f.cells, f.sums, most, k)
	other, err := b.alternative(b.index[cell])
	switch {
	case err != nil:
		return fmt.Errorf("brute force on refused cell %s: %w", cell, err)
	case other:
		return fmt.Errorf("Protect refused for cell %s (n=%d), which more suppression protects", cell, n)
	}
	return nil
}

func keysInOrder(t Table) []Key {
	var keys []Key
	switch t := t.(type) {
	case OneWay:
		for i := range t.Categories {
			keys = append(keys, t.Key(i))
		}
	case TwoWay:
		for r := range t.Rows {
			for c := range t.Cols {
				keys = append(keys, t.Key(r, c))
			}
			keys = append(keys, t.RowTotalKey(r))
		}
		for c := range t.Cols {
			keys = append(keys, t.ColTotalKey(c))
		}
	}
	return append(keys, t.(interface{ TotalKey() Key }).TotalKey())
}

// bruteForce enumerates assignments of the suppressed cells: integers from
// 1 (zeros are never suppressed, so an intruder knows better) to bound,
// consistent with every relation.
type bruteForce struct {
	vars   []Key
	truth  []int
	index  map[Key]int
	known  map[Key]int
	sums   []bruteSum
	bound  int
	nodes  int
	budget int
}

var errGaveUp = errors.New("gave up: enumeration too large")

func newBruteForce(cells map[Key]int, sums []bruteSum, status func(Key) Status, k int) *bruteForce {
	b := &bruteForce{index: map[Key]int{}, known: map[Key]int{}, sums: sums, budget: 2_000_000}
	largest := 0
	seen := map[Key]bool{}
	for _, s := range sums {
		for _, key := range append([]Key{s.total}, s.parts...) {
			if seen[key] {
				continue
			}
			seen[key] = true
			n := cells[key]
			largest = max(largest, n)
			if status(key).Suppressed() {
				b.index[key] = len(b.vars)
				b.vars = append(b.vars, key)
				b.truth = append(b.truth, n)
			} else {
				b.known[key] = n
			}
		}
	}
	b.bound = 4*largest + 4*k
	return b
}

// alternative reports whether some consistent assignment gives variable j a
// value other than its true one.
func (b *bruteForce) alternative(j int) (bool, error) {
	x := make([]int, len(b.vars)) // 0 = not assigned yet
	order := []int{j}
	for v := range b.vars {
		if v != j {
			order = append(order, v)
		}
	}
	b.nodes = 0
	return b.extend(x, order, j)
}

func (b *bruteForce) extend(x, order []int, j int) (bool, error) {
	if b.nodes++; b.nodes > b.budget {
		return false, errGaveUp
	}
	lo, hi, ok := b.limits(x)
	if !ok {
		return false, nil
	}
	// Assign a value implied by a relation before guessing any, and guess
	// first in the relation with the fewest unassigned cells, where a wrong
	// guess shows soonest.
	v, forced, val := -1, false, 0
	open := make([]int, len(b.sums))
	for i, s := range b.sums {
		for _, key := range append([]Key{s.total}, s.parts...) {
			if _, ok := b.value(x, key); !ok {
				open[i]++
			}
		}
	}
	fewest := 0
	for _, u := range order {
		if x[u] != 0 {
			continue
		}
		if u == j {
			// The cell under test goes first, its true value excluded.
			v = u
			break
		}
		if val, forced = b.forced(x, u); forced {
			v = u
			break
		}
		n := len(b.vars)
		for i, s := range b.sums {
			if s.total == b.vars[u] || slices.Contains(s.parts, b.vars[u]) {
				n = min(n, open[i])
			}
		}
		if v < 0 || n < fewest {
			v, fewest = u, n
		}
	}
	if v < 0 {
		return true, nil
	}
	try := func(val int) (bool, error) {
		if val < lo[v] || val > hi[v] || (v == j && val == b.truth[j]) {
			return false, nil
		}
		x[v] = val
		ok, err := b.extend(x, order, j)
		x[v] = 0
		return ok, err
	}
	if forced {
		return try(val)
	}
	// Every allowed value, nearest to the true one first.
	for d := 0; b.truth[v]-d >= lo[v] || b.truth[v]+d <= hi[v]; d++ {
		for _, val := range []int{b.truth[v] - d, b.truth[v] + d} {
			if ok, err := try(val); ok || err != nil {
				return ok, err
			}
			if d == 0 {
				break
			}
		}
	}
	return false, nil
}

// limits returns the range each unassigned cell can still take given the
// ranges of the others in its relations (a part is at most its total minus
// the least the other parts can be, and so on), starting from 1 to bound.
// It returns false when a relation is already broken or a range is empty.
// Pruning can only hide solutions, so a mistake here makes a safe cell look
// recoverable, never the reverse: every solution found is checked in full.
func (b *bruteForce) limits(x []int) (lo, hi []int, ok bool) {
	lo = make([]int, len(b.vars))
	hi = make([]int, len(b.vars))
	for v := range lo {
		if x[v] != 0 {
			lo[v], hi[v] = x[v], x[v]
		} else {
			lo[v], hi[v] = 1, b.bound
		}
	}
	// rng returns the range of a cell: its value, or its current limits.
	rng := func(key Key) (int, int) {
		if n, ok := b.known[key]; ok {
			return n, n
		}
		v := b.index[key]
		return lo[v], hi[v]
	}
	for changed, round := true, 0; changed && round < 50; round++ {
		changed = false
		for _, s := range b.sums {
			tLo, tHi := rng(s.total)
			pLo, pHi := 0, 0
			for _, p := range s.parts {
				l, h := rng(p)
				pLo, pHi = pLo+l, pHi+h
			}
			if pLo > tHi || pHi < tLo {
				return nil, nil, false
			}
			narrow := func(key Key, l, h int) {
				if _, ok := b.known[key]; ok {
					return
				}
				v := b.index[key]
				if l > lo[v] {
					lo[v], changed = l, true
				}
				if h < hi[v] {
					hi[v], changed = h, true
				}
			}
			narrow(s.total, pLo, pHi)
			for _, p := range s.parts {
				l, h := rng(p)
				// p = total - other parts.
				narrow(p, tLo-(pHi-h), tHi-(pLo-l))
			}
		}
		for v := range lo {
			if lo[v] > hi[v] {
				return nil, nil, false
			}
		}
	}
	return lo, hi, true
}

// value returns the value of key under x, and false if it is unassigned.
func (b *bruteForce) value(x []int, key Key) (int, bool) {
	if n, ok := b.known[key]; ok {
		return n, true
	}
	v := x[b.index[key]]
	return v, v != 0
}

// forced returns the value of v implied by a relation whose other cells all
// have values.
func (b *bruteForce) forced(x []int, v int) (int, bool) {
	for _, s := range b.sums {
		total, haveTotal := b.value(x, s.total)
		rest, missing := 0, 0
		isPart := false
		for _, p := range s.parts {
			if p == b.vars[v] {
				isPart = true
				continue
			}
			if n, ok := b.value(x, p); ok {
				rest += n
			} else {
				missing++
			}
		}
		switch {
		case isPart && haveTotal && missing == 0:
			return total - rest, true
		case s.total == b.vars[v] && missing == 0:
			return rest, true
		}
	}
	return 0, false
}
