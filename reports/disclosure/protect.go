package disclosure

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Count is a protected count. Its value can be read only when it may be
// published; the zero Count (Unchecked) never may.
type Count struct {
	key    Key
	n      int
	status Status
}

// Key returns the cell's key.
func (c Count) Key() Key { return c.key }

// Status returns whether the count is published or suppressed.
func (c Count) Status() Status { return c.status }

// Value returns the count and true if it may be published, or 0 and false.
func (c Count) Value() (int, bool) {
	if !c.status.Publishable() {
		return 0, false
	}
	return c.n, true
}

// String describes the count without its value when it is suppressed, so
// that printing or logging a Count cannot leak a small number.
func (c Count) String() string {
	if n, ok := c.Value(); ok {
		return fmt.Sprintf("%s: %d", c.key, n)
	}
	return fmt.Sprintf("%s: %s", c.key, c.status)
}

// GoString is String, so that %#v does not print the hidden value either.
func (c Count) GoString() string { return c.String() }

// TableSummary tells how much of one table was suppressed.
type TableSummary struct {
	Name string
	// Cells counts every cell of the table: categories, margins, total.
	Cells      int
	Suppressed int
	// Excessive is set when more than Config.MaxSuppressedShare of the
	// cells are suppressed: merge categories and protect again (R6).
	Excessive bool
}

// Share returns the suppressed share of the table's cells.
func (s TableSummary) Share() float64 {
	if s.Cells == 0 {
		return 0
	}
	return float64(s.Suppressed) / float64(s.Cells)
}

// Release is a set of tables protected together. Every output of the
// release reads its numbers from here.
type Release struct {
	cfg    Config
	counts map[Key]Count
	tables []TableSummary
}

// String summarises the release without any count, so that printing or
// logging it cannot leak one.
func (r *Release) String() string {
	suppressed := 0
	for _, c := range r.counts {
		if c.status.Suppressed() {
			suppressed++
		}
	}
	return fmt.Sprintf("release (tables %d, cells %d, suppressed %d)", len(r.tables), len(r.counts), suppressed)
}

// GoString is String, so that %#v does not print the counts either.
func (r *Release) GoString() string { return r.String() }

// Count returns the protected count of the cell k, or the zero Count, which
// is never publishable, if no table of the release has that cell.
func (r *Release) Count(k Key) Count {
	if c, ok := r.counts[k]; ok {
		return c
	}
	return Count{key: k}
}

// Tables returns a summary of each table, in the order given to Protect.
func (r *Release) Tables() []TableSummary { return slices.Clone(r.tables) }

// Config returns the settings the release was protected with, for the
// release ledger.
func (r *Release) Config() Config { return r.cfg }

// UnprotectableError is returned by Protect when a cell would be
// recoverable however many other cells were suppressed, short of a grand
// total: five categories of 1 with their total of 5, say, since a suppressed
// cell is known to be at least 1. Merge categories and protect again.
type UnprotectableError struct {
	Cell Key
}

func (e *UnprotectableError) Error() string {
	return fmt.Sprintf("disclosure: cell %s can be recovered whatever else is suppressed short of a grand total; merge categories", e.Cell)
}

// Protect suppresses cells of all tables of a release jointly (R5, R6, R7)
// and verifies that no suppressed cell can be recovered. Tables that share a
// cell must give it the same count. The result does not depend on the order
// of the tables. Protect returns an error for malformed tables, for a cell
// with two counts, and when it cannot protect a cell without suppressing a
// grand total (an *UnprotectableError) or cannot verify the release within
// its search budget; the error names the cell.
func (p *Policy) Protect(tables ...Table) (*Release, error) {
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
		m.applyRules()
		bad, err := m.firstRecoverable()
		if err != nil {
			return nil, err
		}
		if bad < 0 {
			break
		}
		c := m.complementFor(bad)
		if c < 0 {
			return nil, &UnprotectableError{Cell: m.cells[bad].key}
		}
		m.cells[c].status = SuppressedSecondary
	}
	return m.release(cfg), nil
}

// cell is one cell of the release, shared by every table that shows it.
type cell struct {
	key Key
	n   int
	// margin is set when some table shows the cell as a total: suppressing
	// it costs ten times more.
	margin bool
	// grand is set when every table showing the cell shows it as its grand
	// total, or when it is the twin of such a cell (see newModel): it is
	// never a complement.
	grand  bool
	status Status
}

// relation says that the parts add up to the total.
type relation struct {
	total int
	parts []int
}

// model is a release being protected. Cells are sorted by key and relations
// by cell index, so that the outcome does not depend on table order.
type model struct {
	k      int
	cells  []cell
	rels   []relation
	tables []tableCells
	// relsOf lists the relations of each cell (see relationsOf), and ver
	// keeps the verification between rounds; both are built on first use.
	relsOf [][]int
	ver    *verifier
}

type tableCells struct {
	name  string
	cells []int
}

func newModel(k int, tables []Table) (*model, error) {
	type seen struct {
		n      int
		table  string
		margin bool
		grand  bool
	}
	layouts := make([]layout, len(tables))
	// byKey numbers the cells in order of first appearance; cells holds
	// what the tables say of each.
	byKey := map[Key]int{}
	var cells []seen
	var keys []Key
	for i, t := range tables {
		if t == nil {
			return nil, fmt.Errorf("disclosure: table %d is nil", i)
		}
		l, err := t.layout()
		if err != nil {
			return nil, err
		}
		layouts[i] = l
		for _, e := range l.entries {
			j, ok := byKey[e.key]
			if !ok {
				byKey[e.key] = len(cells)
				cells = append(cells, seen{n: e.n, table: l.name, margin: e.role != interior, grand: e.role == grand})
				keys = append(keys, e.key)
				continue
			}
			s := &cells[j]
			if s.n != e.n {
				return nil, fmt.Errorf("disclosure: cell %s has different counts in tables %q and %q; tables of different populations need distinct scopes", e.key, s.table, l.name)
			}
			s.margin = s.margin || e.role != interior
			s.grand = s.grand && e.role == grand
		}
	}
	m := &model{k: k, cells: make([]cell, 0, len(cells))}
	order := make([]int, len(cells))
	for j := range order {
		order[j] = j
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a].s, keys[b].s) })
	// index maps the number of a cell in byKey to its place in m.cells.
	index := make([]int, len(cells))
	for i, j := range order {
		s := cells[j]
		index[j] = i
		m.cells = append(m.cells, cell{key: keys[j], n: s.n, margin: s.margin, grand: s.grand})
	}
	at := func(k Key) int { return index[byKey[k]] }
	for _, l := range layouts {
		tc := tableCells{name: l.name, cells: make([]int, 0, len(l.entries))}
		for _, e := range l.entries {
			tc.cells = append(tc.cells, at(e.key))
		}
		m.tables = append(m.tables, tc)
		for _, s := range l.sums {
			r := relation{total: at(s.total), parts: make([]int, 0, len(s.parts))}
			for _, k := range s.parts {
				r.parts = append(r.parts, at(k))
			}
			slices.Sort(r.parts)
			m.rels = append(m.rels, r)
		}
	}
	// The same relation in two tables (a linked one-way table and a column
	// of a two-way table) is one relation.
	slices.SortFunc(m.rels, func(a, b relation) int {
		return cmp.Or(cmp.Compare(a.total, b.total), slices.Compare(a.parts, b.parts))
	})
	m.rels = slices.CompactFunc(m.rels, func(a, b relation) bool {
		return a.total == b.total && slices.Equal(a.parts, b.parts)
	})
	// A relation with a single part makes two cells one number: the only
	// column of a table is its grand total. Hiding the twin of a grand
	// total hides nothing, so it is never a complement either.
	for changed := true; changed; {
		changed = false
		for _, r := range m.rels {
			if p := r.parts; len(p) == 1 && m.cells[r.total].grand && !m.cells[p[0]].grand {
				m.cells[p[0]].grand = true
				changed = true
			}
		}
	}
	return m, nil
}

func (m *model) suppressed(i int) bool { return m.cells[i].status.Suppressed() }

// eligible reports whether cell i may become a complement: published,
// non-zero (suppressing a zero protects nothing and hides a true zero), and
// not a grand total.
func (m *model) eligible(i int) bool {
	c := m.cells[i]
	return !c.status.Suppressed() && c.n > 0 && !c.grand
}

func (m *model) cost(i int) int {
	if m.cells[i].margin {
		return 10 * m.cells[i].n
	}
	return m.cells[i].n
}

// cheapest returns the eligible cell of cells that costs least, ties going
// to the smaller key, or -1.
func (m *model) cheapest(cells []int) int {
	best := -1
	for _, i := range cells {
		if !m.eligible(i) {
			continue
		}
		// Cells are sorted by key, so the smaller index is the smaller key.
		if best < 0 || m.cost(i) < m.cost(best) || (m.cost(i) == m.cost(best) && i < best) {
			best = i
		}
	}
	return best
}

// applyRules applies the secondary suppression rules of R6 to every
// relation until none changes anything.
func (m *model) applyRules() {
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

// complementFor chooses a cell to suppress so that the recoverable cell bad
// stops being recoverable: the cheapest eligible cell of a relation that
// bad is in or, failing that, of a relation reached from bad through
// suppressed cells. It returns -1 when no cell is eligible.
func (m *model) complementFor(bad int) int {
	relsOf := m.relationsOf()
	reached := make([]bool, len(m.cells))
	reached[bad] = true
	frontier := []int{bad}
	touched := make([]bool, len(m.rels))
	for len(frontier) > 0 {
		// The relations that hold a cell of the frontier.
		var rels []int
		for _, i := range frontier {
			for _, r := range relsOf[i] {
				if !touched[r] {
					touched[r] = true
					rels = append(rels, r)
				}
			}
		}
		// Their cells are the candidates, and their suppressed cells not
		// reached yet the next frontier (cheapest does not depend on the
		// order of the candidates).
		var candidates, next []int
		for _, r := range rels {
			touched[r] = false
			start := len(candidates)
			candidates = append(candidates, m.rels[r].total)
			candidates = append(candidates, m.rels[r].parts...)
			for _, i := range candidates[start:] {
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

func (m *model) release(cfg Config) *Release {
	r := &Release{cfg: cfg, counts: make(map[Key]Count, len(m.cells))}
	for _, c := range m.cells {
		r.counts[c.key] = Count{key: c.key, n: c.n, status: c.status}
	}
	for _, t := range m.tables {
		s := TableSummary{Name: t.name, Cells: len(t.cells)}
		for _, i := range t.cells {
			if m.suppressed(i) {
				s.Suppressed++
			}
		}
		s.Excessive = s.Share() > cfg.MaxSuppressedShare
		r.tables = append(r.tables, s)
	}
	return r
}
