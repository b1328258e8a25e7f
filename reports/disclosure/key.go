package disclosure

import (
	"cmp"
	"fmt"
	"net/url"
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

// ParseKey returns the key whose String is s, or an error when s is not the canonical
// form KeyOf writes: keys are stored as text in the release ledger and read back.
func ParseKey(s string) (Key, error) {
	if s == "(total)" || s == "" {
		return Key{}, nil
	}
	var coords []Coord
	for _, part := range strings.Split(s, "|") {
		dim, value, ok := strings.Cut(part, "=")
		if !ok {
			return Key{}, fmt.Errorf("disclosure: key %q: %q has no '='", s, part)
		}
		d, err1 := url.PathUnescape(dim)
		v, err2 := url.PathUnescape(value)
		if err1 != nil || err2 != nil {
			return Key{}, fmt.Errorf("disclosure: key %q: bad escape", s)
		}
		coords = append(coords, Coord{Dim: d, Value: v})
	}
	k := KeyOf(coords...)
	if k.s != s {
		return Key{}, fmt.Errorf("disclosure: key %q is not in canonical form", s)
	}
	return k, nil
}

// Coords returns the coordinates of the key, sorted by dimension.
func (k Key) Coords() []Coord {
	if k.s == "" {
		return nil
	}
	var out []Coord
	for _, part := range strings.Split(k.s, "|") {
		dim, value, _ := strings.Cut(part, "=")
		d, _ := url.PathUnescape(dim)
		v, _ := url.PathUnescape(value)
		out = append(out, Coord{Dim: d, Value: v})
	}
	return out
}

// Get returns the value of the coordinate dim of the key, and whether it has one.
func (k Key) Get(dim string) (string, bool) {
	for _, c := range k.Coords() {
		if c.Dim == dim {
			return c.Value, true
		}
	}
	return "", false
}
