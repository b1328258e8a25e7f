package disclosure

import (
	"errors"
	"fmt"
)

// Table is a count table Protect can protect: a OneWay or a TwoWay. Totals
// are computed from the counts, so a table and its margins always add up.
type Table interface {
	layout() (layout, error)
}

var (
	_ Table = OneWay{}
	_ Table = TwoWay{}
	_ Table = System{}
)

// OneWay is a count per category of one dimension, plus the total.
type OneWay struct {
	// Name identifies the table in summaries and errors.
	Name string
	// Scope holds the coordinates shared by every cell: the population the
	// table describes, e.g. {gender F} for "women by prison", or {year
	// 2025}. Tables of different populations need different scopes.
	Scope []Coord
	// Dim is the dimension the categories belong to, e.g. "site".
	Dim        string
	Categories []string
	// Counts[i] is the count of Categories[i].
	Counts []int
}

// Key returns the key of category i.
func (t OneWay) Key(i int) Key { return KeyOf(with(t.Scope, Coord{t.Dim, t.Categories[i]})...) }

// TotalKey returns the key of the table's total.
func (t OneWay) TotalKey() Key { return KeyOf(t.Scope...) }

// TwoWay is a count per row and column category, plus row totals, column
// totals and the grand total.
type TwoWay struct {
	// Name identifies the table in summaries and errors.
	Name string
	// Scope holds the coordinates shared by every cell (see OneWay.Scope).
	Scope  []Coord
	RowDim string
	Rows   []string
	ColDim string
	Cols   []string
	// Counts[r][c] is the count of Rows[r] and Cols[c].
	Counts [][]int
}

// Key returns the key of the cell in row r and column c.
func (t TwoWay) Key(r, c int) Key {
	return KeyOf(with(t.Scope, Coord{t.RowDim, t.Rows[r]}, Coord{t.ColDim, t.Cols[c]})...)
}

// RowTotalKey returns the key of the total of row r.
func (t TwoWay) RowTotalKey(r int) Key { return KeyOf(with(t.Scope, Coord{t.RowDim, t.Rows[r]})...) }

// ColTotalKey returns the key of the total of column c.
func (t TwoWay) ColTotalKey(c int) Key { return KeyOf(with(t.Scope, Coord{t.ColDim, t.Cols[c]})...) }

// TotalKey returns the key of the grand total.
func (t TwoWay) TotalKey() Key { return KeyOf(t.Scope...) }

// role is what a cell is in one table; it sets its cost as a complement.
type role uint8

const (
	interior role = iota
	margin
	grand
)

// entry is one cell as a table shows it.
type entry struct {
	key  Key
	n    int
	role role
	kind Kind
	// frozen is the status of a Frozen cell.
	frozen Status
	signed bool
}

// sum is one relation of a table: the parts add up to the total.
type sum struct {
	total Key
	parts []Key
}

// layout is a table reduced to what protection needs.
type layout struct {
	name    string
	entries []entry
	sums    []sum
}

func (t OneWay) layout() (layout, error) {
	l := layout{name: t.Name}
	if err := checkAxes(t.Name, t.Scope, axis{t.Dim, t.Categories}); err != nil {
		return l, err
	}
	if len(t.Counts) != len(t.Categories) {
		return l, fmt.Errorf("disclosure: table %q: %d counts for %d categories", t.Name, len(t.Counts), len(t.Categories))
	}
	total := 0
	s := sum{total: t.TotalKey(), parts: make([]Key, 0, len(t.Counts))}
	l.entries = make([]entry, 0, len(t.Counts)+1)
	for i, n := range t.Counts {
		key := t.Key(i)
		if n < 0 {
			return l, fmt.Errorf("disclosure: table %q: negative count for %s", t.Name, key)
		}
		total += n
		l.entries = append(l.entries, entry{key: key, n: n, role: interior})
		s.parts = append(s.parts, key)
	}
	l.entries = append(l.entries, entry{key: s.total, n: total, role: grand})
	l.sums = []sum{s}
	return l, nil
}

func (t TwoWay) layout() (layout, error) {
	l := layout{name: t.Name}
	if err := checkAxes(t.Name, t.Scope, axis{t.RowDim, t.Rows}, axis{t.ColDim, t.Cols}); err != nil {
		return l, err
	}
	if len(t.Counts) != len(t.Rows) {
		return l, fmt.Errorf("disclosure: table %q: %d rows of counts for %d rows", t.Name, len(t.Counts), len(t.Rows))
	}
	rowTotals := make([]int, len(t.Rows))
	colTotals := make([]int, len(t.Cols))
	rowSums := make([]sum, len(t.Rows))
	colSums := make([]sum, len(t.Cols))
	for c := range t.Cols {
		colSums[c] = sum{total: t.ColTotalKey(c), parts: make([]Key, 0, len(t.Rows))}
	}
	l.entries = make([]entry, 0, len(t.Rows)*len(t.Cols)+len(t.Rows)+len(t.Cols)+1)
	for r, row := range t.Counts {
		if len(row) != len(t.Cols) {
			return l, fmt.Errorf("disclosure: table %q: row %q has %d counts for %d columns", t.Name, t.Rows[r], len(row), len(t.Cols))
		}
		rowSums[r] = sum{total: t.RowTotalKey(r), parts: make([]Key, 0, len(t.Cols))}
		for c, n := range row {
			key := t.Key(r, c)
			if n < 0 {
				return l, fmt.Errorf("disclosure: table %q: negative count for %s", t.Name, key)
			}
			rowTotals[r] += n
			colTotals[c] += n
			l.entries = append(l.entries, entry{key: key, n: n, role: interior})
			rowSums[r].parts = append(rowSums[r].parts, key)
			colSums[c].parts = append(colSums[c].parts, key)
		}
	}
	total := 0
	byRow := sum{total: t.TotalKey(), parts: make([]Key, 0, len(t.Rows))}
	for r, n := range rowTotals {
		total += n
		l.entries = append(l.entries, entry{key: rowSums[r].total, n: n, role: margin})
		byRow.parts = append(byRow.parts, rowSums[r].total)
	}
	byCol := sum{total: byRow.total, parts: make([]Key, 0, len(t.Cols))}
	for c, n := range colTotals {
		l.entries = append(l.entries, entry{key: colSums[c].total, n: n, role: margin})
		byCol.parts = append(byCol.parts, colSums[c].total)
	}
	l.entries = append(l.entries, entry{key: byRow.total, n: total, role: grand})
	l.sums = append(append(rowSums, colSums...), byRow, byCol)
	return l, nil
}

// axis is one dimension of a table with its categories.
type axis struct {
	dim    string
	values []string
}

// checkAxes refuses tables whose keys would be ambiguous: a dimension used
// twice, or a category listed twice, would make two cells share a key.
func checkAxes(name string, scope []Coord, axes ...axis) error {
	if name == "" {
		return errors.New("disclosure: a table has no name")
	}
	dims := map[string]bool{}
	for _, c := range scope {
		if dims[c.Dim] {
			return fmt.Errorf("disclosure: table %q: dimension %q appears twice", name, c.Dim)
		}
		dims[c.Dim] = true
	}
	for _, a := range axes {
		if a.dim == "" {
			return fmt.Errorf("disclosure: table %q: a dimension has no name", name)
		}
		if dims[a.dim] {
			return fmt.Errorf("disclosure: table %q: dimension %q appears twice", name, a.dim)
		}
		dims[a.dim] = true
		if len(a.values) == 0 {
			return fmt.Errorf("disclosure: table %q: dimension %q has no categories", name, a.dim)
		}
		seen := map[string]bool{}
		for _, v := range a.values {
			if seen[v] {
				return fmt.Errorf("disclosure: table %q: category %q of %q appears twice", name, v, a.dim)
			}
			seen[v] = true
		}
	}
	return nil
}
