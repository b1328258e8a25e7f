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
	m.initStatuses()
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

// initStatuses gives every cell its first status: free cells below the threshold are
// suppressed (R5), the others published; frozen cells keep theirs; hidden and residual
// cells are withheld.
func (m *model) initStatuses() {
	for i := range m.cells {
		c := &m.cells[i]
		switch {
		case c.kind == Frozen:
			c.status = c.frozen
		case c.kind == Hidden || c.kind == Residual:
			c.status = Withheld
		case c.n > 0 && c.n < m.k:
			c.status = SuppressedPrimary
		case c.frozen.Suppressed():
			c.status = SuppressedSecondary
		default:
			c.status = Published
		}
	}
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
	kind   Kind
	frozen Status // the given status of a Frozen cell
	signed bool   // a residual an intruder knows no lower bound of
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
	// joint is set when the model holds cells of an earlier release: a grand total
	// may then be a complement of last resort (its change since that release can be
	// the only thing left to hide).
	joint bool
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
		kind   Kind
		frozen Status
		signed bool
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
				cells = append(cells, seen{n: e.n, table: l.name, margin: e.role != interior, grand: e.role == grand, kind: e.kind, frozen: e.frozen, signed: e.signed})
				keys = append(keys, e.key)
				continue
			}
			s := &cells[j]
			if s.n != e.n {
				return nil, fmt.Errorf("disclosure: cell %s has different counts in tables %q and %q; tables of different populations need distinct scopes", e.key, s.table, l.name)
			}
			if s.kind != e.kind || s.frozen != e.frozen {
				return nil, fmt.Errorf("disclosure: cell %s is %s in table %q and %s in table %q", e.key, s.kind, s.table, e.kind, l.name)
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
		m.cells = append(m.cells, cell{key: keys[j], n: s.n, margin: s.margin, grand: s.grand, kind: s.kind, frozen: s.frozen, signed: s.signed})
		m.joint = m.joint || s.kind == Frozen
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

// suppressed reports whether cell i is unknown to an intruder: suppressed,
// in this release or an earlier one, or withheld.
func (m *model) suppressed(i int) bool { return m.cells[i].status.Suppressed() }

// guarded reports whether an intruder must not compute cell i: a suppressed
// cell; a hidden or residual cell from 1 to k-1 (or -1 to 1-k).
func (m *model) guarded(i int) bool {
	c := m.cells[i]
	if !c.status.Suppressed() {
		return false
	}
	switch c.kind {
	case Hidden, Residual:
		return c.n != 0 && c.n > -m.k && c.n < m.k
	}
	return true
}

// eligible reports whether cell i may become a complement: free, published,
// non-zero (suppressing a zero protects nothing and hides a true zero), and
// not a grand total.
func (m *model) eligible(i int) bool {
	c := m.cells[i]
	return c.kind == Free && !c.status.Suppressed() && c.n > 0 && !c.grand
}

// lastResort reports whether cell i may become a complement when no
// eligible cell is left: a free, published, non-zero grand total. Only a
// cell that the new release cannot protect otherwise (the change of a grand
// total since an earlier release, a hidden cell) takes one.
func (m *model) lastResort(i int) bool {
	c := m.cells[i]
	return c.kind == Free && !c.status.Suppressed() && c.n > 0
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
				count, held, guard := 0, 0, false
				for _, i := range r.parts {
					if m.suppressed(i) {
						count++
						held += max(m.cells[i].n, 0)
						guard = guard || m.guarded(i)
					}
				}
				// (a) a lone suppressed cell is its total minus the others;
				// (b) suppressed cells holding fewer than k together are
				// a small count in disguise. Unknown cells that need no
				// protection (a withheld zero) are left to verification.
				if !guard || (count >= 2 && held >= m.k) {
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
	if m.cells[bad].kind == Free && !m.joint {
		return -1
	}
	return m.lastResortFor(bad)
}

// lastResortFor is complementFor allowing grand totals, for a cell that an
// earlier release, a hidden or a residual cell put out of reach otherwise:
// the change of a grand total since the last release is below k, or is the
// count of the one site that changed, say. The
// cheapest grand total of a relation of bad, or reached from it through
// unknown cells, or -1.
func (m *model) lastResortFor(bad int) int {
	relsOf := m.relationsOf()
	reached := make([]bool, len(m.cells))
	reached[bad] = true
	frontier := []int{bad}
	for len(frontier) > 0 {
		best := -1
		var next []int
		for _, i := range frontier {
			for _, r := range relsOf[i] {
				for _, j := range append([]int{m.rels[r].total}, m.rels[r].parts...) {
					if m.lastResort(j) && (best < 0 || m.cost(j) < m.cost(best) || (m.cost(j) == m.cost(best) && j < best)) {
						best = j
					}
					if m.suppressed(j) && !reached[j] {
						reached[j] = true
						next = append(next, j)
					}
				}
			}
		}
		if best >= 0 {
			return best
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

// StoredCell is a cell of a release as the release ledger keeps it: its key, its true
// count, and its status. The count of a suppressed or withheld cell is kept too, so that
// a later release can be protected jointly with this one (R12); it never leaves the
// store.
type StoredCell struct {
	Key    Key
	N      int
	Status Status
}

// Cells returns every cell of the release, sorted by key, for the ledger.
func (r *Release) Cells() []StoredCell {
	out := make([]StoredCell, 0, len(r.counts))
	for _, c := range r.counts {
		out = append(out, StoredCell{Key: c.key, N: c.n, Status: c.status})
	}
	slices.SortFunc(out, func(a, b StoredCell) int { return strings.Compare(a.Key.s, b.Key.s) })
	return out
}

// Restore returns the release made of cells, protected earlier with cfg: what the
// ledger stored, read back for rendering. It does not protect anything again; it refuses
// a key given twice and a status no release gives a cell.
func Restore(cfg Config, cells []StoredCell) (*Release, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Release{cfg: cfg, counts: make(map[Key]Count, len(cells))}
	for _, c := range cells {
		if _, dup := r.counts[c.Key]; dup {
			return nil, fmt.Errorf("disclosure: restore: cell %s appears twice", c.Key)
		}
		switch c.Status {
		case Published, SuppressedPrimary, SuppressedSecondary, Withheld:
		default:
			return nil, fmt.Errorf("disclosure: restore: cell %s has status %s", c.Key, c.Status)
		}
		r.counts[c.Key] = Count{key: c.Key, n: c.N, status: c.Status}
	}
	return r, nil
}
