package disclosure

import (
	"cmp"
	"slices"
	"strings"
)

// Coord fixes one dimension of a cell, such as {Dim: "site", Value: "haren"}.
type Coord struct {
	Dim   string
	Value string
}

// Key identifies a cell by its coordinates, whichever table shows it: the
// same coordinates in two tables of a release are the same cell and get the
// same status (R7). Keys are compared as values and can be map keys. The zero
// Key has no coordinates: the grand total of a table without Scope.
type Key struct{ s string }

// keyEscaper keeps the separators unambiguous whatever a label contains.
var keyEscaper = strings.NewReplacer("%", "%25", "|", "%7C", "=", "%3D")

// KeyOf returns the key of the cell with the given coordinates, in any
// order: KeyOf(a, b) == KeyOf(b, a).
func KeyOf(coords ...Coord) Key {
	cs := slices.Clone(coords)
	slices.SortFunc(cs, func(a, b Coord) int {
		return cmp.Or(strings.Compare(a.Dim, b.Dim), strings.Compare(a.Value, b.Value))
	})
	var b strings.Builder
	size := 2 * len(cs)
	for _, c := range cs {
		size += len(c.Dim) + len(c.Value)
	}
	b.Grow(size)
	for i, c := range cs {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(keyEscaper.Replace(c.Dim))
		b.WriteByte('=')
		b.WriteString(keyEscaper.Replace(c.Value))
	}
	return Key{b.String()}
}

// String returns the coordinates as dim=value pairs sorted by dimension and
// joined by "|", or "(total)" for the zero Key.
func (k Key) String() string {
	if k.s == "" {
		return "(total)"
	}
	return k.s
}

// with returns the coordinates of scope extended by more.
func with(scope []Coord, more ...Coord) []Coord {
	return append(slices.Clone(scope), more...)
}
