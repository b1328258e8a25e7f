package disclosure

import (
	"errors"
	"fmt"
)

// Kind says what Protect may do with a cell, and what it must prevent an intruder from
// computing. Cells of OneWay and TwoWay tables are Free.
type Kind uint8

const (
	// Free cells are published unless Protect suppresses them (R5, R6).
	Free Kind = iota
	// Frozen cells belong to an earlier release: their status is given and never
	// changes, and a suppressed one must stay unrecoverable whatever the new release
	// publishes (R12).
	Frozen
	// Hidden cells are never published, and an intruder may compute one only when it
	// is 0 or at least k: the cells of a site shown only inside "other sites" (R10),
	// which a group total minus its other sites would otherwise give (T12). R10 decides
	// what is published; a pooled site's count of k or more is what the threshold
	// allows anyway, and a pooled site that grows is shown on its own later.
	Hidden
	// Residual cells are never published either, but may be computed when they are 0 or
	// at least k (at most −k for a decrease): the change of a cell between two releases
	// (R12), the "no" count of a share (R8), a breakdown left out. Their count may be
	// negative (a count that went down between two releases).
	Residual
)

// String names the kind for errors and tests.
func (k Kind) String() string {
	switch k {
	case Free:
		return "free"
	case Frozen:
		return "frozen"
	case Hidden:
		return "hidden"
	case Residual:
		return "residual"
	}
	return "invalid kind"
}

// Cell is one cell of a System.
type Cell struct {
	Key Key
	N   int
	// Margin marks a cell that is a total some reader looks at (a group's total, a
	// breakdown's margin): as a complement it costs ten times its count (R6).
	Margin bool
	// Grand marks a grand total, which is never chosen as a complement (R6) unless an
	// earlier release, a hidden or a residual cell leaves nothing else.
	Grand bool
	Kind  Kind
	// Status is the status of a Frozen cell in its release: Published or suppressed.
	// A Free cell with a suppressed status starts suppressed (as a complement): a cell an
	// earlier release suppressed and that has not changed since, say. It is ignored
	// for the other kinds.
	Status Status
	// Signed marks a Residual cell that may be negative as far as an intruder knows:
	// the change of a count between two releases, which records re-linked or removed
	// can make go down. Other unknown cells are at least 0 (1 when suppressed).
	Signed bool
}

// Sum says that the count of Total is the sum of the counts of Parts.
type Sum struct {
	Total Key
	Parts []Key
}

// System is a set of cells and the sum relations between them, for structures that
// OneWay and TwoWay tables do not describe: groups of sites that overlap, a population
// count shared by several tables, the cells of earlier releases and the differences
// between them. Every key of a Sum must be a cell of the System, and every Sum must hold
// on the counts: a System that does not add up is refused.
type System struct {
	Name  string
	Cells []Cell
	Sums  []Sum
}

func (t System) layout() (layout, error) {
	l := layout{name: t.Name}
	if t.Name == "" {
		return l, errors.New("disclosure: a table has no name")
	}
	n := make(map[Key]int, len(t.Cells))
	l.entries = make([]entry, 0, len(t.Cells))
	for _, c := range t.Cells {
		if _, dup := n[c.Key]; dup {
			return l, fmt.Errorf("disclosure: table %q: cell %s appears twice", t.Name, c.Key)
		}
		n[c.Key] = c.N
		e := entry{key: c.Key, n: c.N, role: interior, kind: c.Kind, signed: c.Signed && c.Kind == Residual}
		switch {
		case c.Grand:
			e.role = grand
		case c.Margin:
			e.role = margin
		}
		switch c.Kind {
		case Free:
			if c.N < 0 {
				return l, fmt.Errorf("disclosure: table %q: negative count for %s", t.Name, c.Key)
			}
			if c.Status.Suppressed() && c.N > 0 {
				e.frozen = SuppressedSecondary
			}
		case Hidden:
			if c.N < 0 {
				return l, fmt.Errorf("disclosure: table %q: negative count for %s", t.Name, c.Key)
			}
		case Frozen:
			if c.N < 0 {
				return l, fmt.Errorf("disclosure: table %q: negative count for %s", t.Name, c.Key)
			}
			switch {
			case c.Status == Published:
			case c.Status.Suppressed() && c.Status != Withheld:
				if c.N == 0 {
					return l, fmt.Errorf("disclosure: table %q: frozen cell %s is a suppressed zero", t.Name, c.Key)
				}
			default:
				return l, fmt.Errorf("disclosure: table %q: frozen cell %s has status %s", t.Name, c.Key, c.Status)
			}
			e.frozen = c.Status
		case Residual:
		default:
			return l, fmt.Errorf("disclosure: table %q: cell %s has an invalid kind", t.Name, c.Key)
		}
		l.entries = append(l.entries, e)
	}
	l.sums = make([]sum, 0, len(t.Sums))
	for _, s := range t.Sums {
		total, ok := n[s.Total]
		if !ok {
			return l, fmt.Errorf("disclosure: table %q: sum of unknown cell %s", t.Name, s.Total)
		}
		if len(s.Parts) == 0 {
			return l, fmt.Errorf("disclosure: table %q: sum %s has no parts", t.Name, s.Total)
		}
		got := 0
		seen := make(map[Key]bool, len(s.Parts))
		for _, p := range s.Parts {
			v, ok := n[p]
			switch {
			case !ok:
				return l, fmt.Errorf("disclosure: table %q: sum %s has unknown part %s", t.Name, s.Total, p)
			case seen[p] || p == s.Total:
				return l, fmt.Errorf("disclosure: table %q: sum %s lists %s twice", t.Name, s.Total, p)
			}
			seen[p] = true
			got += v
		}
		if got != total {
			return l, fmt.Errorf("disclosure: table %q: the parts of %s do not add up to it", t.Name, s.Total)
		}
		l.sums = append(l.sums, sum{total: s.Total, parts: s.Parts})
	}
	return l, nil
}
