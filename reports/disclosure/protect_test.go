package disclosure

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// mark shows a count as a test expects it: the number, "xp" for a primary
// and "xs" for a secondary suppression.
func mark(c Count) string {
	if n, ok := c.Value(); ok {
		return strconv.Itoa(n)
	}
	switch c.Status() {
	case SuppressedPrimary:
		return "xp"
	case SuppressedSecondary:
		return "xs"
	}
	return c.Status().String()
}

// line shows a protected one-way table as "A B C | total".
func line(rel *Release, t OneWay) string {
	var cells []string
	for i := range t.Categories {
		cells = append(cells, mark(rel.Count(t.Key(i))))
	}
	return strings.Join(cells, " ") + " | " + mark(rel.Count(t.TotalKey()))
}

// grid shows a protected two-way table one row per line, the row total
// after "|", and the column totals and grand total last.
func grid(rel *Release, t TwoWay) string {
	var rows []string
	for r := range t.Rows {
		var cells []string
		for c := range t.Cols {
			cells = append(cells, mark(rel.Count(t.Key(r, c))))
		}
		rows = append(rows, strings.Join(cells, " ")+" | "+mark(rel.Count(t.RowTotalKey(r))))
	}
	var totals []string
	for c := range t.Cols {
		totals = append(totals, mark(rel.Count(t.ColTotalKey(c))))
	}
	rows = append(rows, strings.Join(totals, " ")+" | "+mark(rel.Count(t.TotalKey())))
	return strings.Join(rows, "\n")
}

func categories(n int) []string {
	var cs []string
	for i := range n {
		cs = append(cs, string(rune('A'+i)))
	}
	return cs
}

// prisonsByGender is the prison × gender table of T4 and T5.
func prisonsByGender(counts [][]int) TwoWay {
	return TwoWay{
		Name:   "entrants by prison and gender",
		RowDim: "site", Rows: []string{"P1", "P2", "P3"},
		ColDim: "gender", Cols: []string{"M", "F"},
		Counts: counts,
	}
}

// womenByPrison is the linked one-way table of T6.
func womenByPrison(counts []int) OneWay {
	return OneWay{
		Name:  "women by prison",
		Scope: []Coord{{"gender", "F"}},
		Dim:   "site", Categories: []string{"P1", "P2", "P3"},
		Counts: counts,
	}
}

// The test cases T1 to T7 and T9 of PRIVACY.md are in this package's tests;
// T8 (link identifiers) belongs to the linkage code in collector.

func TestProtectOneWay(t *testing.T) {
	tests := []struct {
		name   string
		counts []int
		want   string
	}{
		{"T1", []int{12, 3, 20}, "xs xp 20 | 35"},
		{"T2", []int{1, 2, 30, 9}, "xp xp 30 xs | 42"},
		{"T3", []int{0, 4, 25}, "0 xp xs | 29"},
		{"nothing small", []int{12, 0, 20}, "12 0 20 | 32"},
		{"all zero", []int{0, 0}, "0 0 | 0"},
		{"small total", []int{1, 0, 3}, "xp 0 xp | xp"},
		{"one small category among zeros", []int{0, 3, 0}, "0 xp 0 | xp"},
		{"complements cheapest first", []int{3, 40, 6, 6}, "xp 40 xs 6 | 55"},
	}
	var pol Policy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := OneWay{Name: tt.name, Dim: "category", Categories: categories(len(tt.counts)), Counts: tt.counts}
			rel, err := pol.Protect(table)
			if err != nil {
				t.Fatalf("Protect(%s) error: %v", tt.name, err)
			}
			if got := line(rel, table); got != tt.want {
				t.Errorf("Protect(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestProtectTwoWay(t *testing.T) {
	// With a single column, the column total is the grand total and is
	// never a complement; the row totals are their rows' twins.
	women := TwoWay{Name: "women", RowDim: "site", Rows: []string{"P1", "P2", "P3"}, ColDim: "gender", Cols: []string{"F"}, Counts: [][]int{{3}, {20}, {30}}}
	tests := []struct {
		name  string
		table TwoWay
		want  string
	}{
		{"T4", prisonsByGender([][]int{{40, 3}, {35, 8}, {50, 12}}), "xs xp | 43\nxs xs | 43\n50 12 | 62\n125 23 | 148"},
		{"T5", prisonsByGender([][]int{{2, 1}, {30, 6}, {45, 9}}), "xp xp | xp\nxs xs | xs\n45 9 | 54\n77 16 | 93"},
		{"nothing small", prisonsByGender([][]int{{40, 6}, {35, 8}, {0, 12}}), "40 6 | 46\n35 8 | 43\n0 12 | 12\n75 26 | 101"},
		{"complement's row has nothing else, so its total goes, and another with it", prisonsByGender([][]int{{40, 3}, {0, 8}, {50, 12}}), "xs xp | xs\n0 xs | xs\nxs xs | 62\n90 23 | 113"},
		{"single column", women, "xp | xp\nxs | xs\n30 | 30\n53 | 53"},
	}
	var pol Policy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := tt.table
			rel, err := pol.Protect(table)
			if err != nil {
				t.Fatalf("Protect(%s) error: %v", tt.name, err)
			}
			if got := grid(rel, table); got != tt.want {
				t.Errorf("Protect(%s) =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}

// TestProtectLinked protects a prison × gender table together with the
// women by prison table, whose cells are the F column. T6: P2 must be hidden
// in both or F1 = 23 − 8 − 12. In the second case, protected alone the
// one-way table would publish P2 = 30, and with the published P2 total of
// the two-way table that gives away M2 = 32 − 30 = 2.
func TestProtectLinked(t *testing.T) {
	tests := []struct {
		name         string
		counts       [][]int
		wantTwoWay   string
		wantOneWay   string
		wantOneAlone string
	}{
		{
			name:         "T6",
			counts:       [][]int{{40, 3}, {35, 8}, {50, 12}},
			wantTwoWay:   "xs xp | 43\nxs xs | 43\n50 12 | 62\n125 23 | 148",
			wantOneWay:   "xp xs 12 | 23",
			wantOneAlone: "xp xs 12 | 23",
		},
		{
			name:         "differencing",
			counts:       [][]int{{40, 3}, {2, 30}, {50, 12}},
			wantTwoWay:   "xs xp | 43\nxp xs | 32\nxs xs | 62\n92 45 | 137",
			wantOneWay:   "xp xs xs | 45",
			wantOneAlone: "xp 30 xs | 45",
		},
	}
	var pol Policy
	for _, tt := range tests {
		byGender := prisonsByGender(tt.counts)
		var f []int
		for _, row := range tt.counts {
			f = append(f, row[1])
		}
		women := womenByPrison(f)
		orders := map[string][]Table{
			"two-way first": {byGender, women},
			"one-way first": {women, byGender},
		}
		for order, tables := range orders {
			t.Run(tt.name+"/"+order, func(t *testing.T) {
				rel, err := pol.Protect(tables...)
				if err != nil {
					t.Fatalf("Protect(%s) error: %v", tt.name, err)
				}
				if got := grid(rel, byGender); got != tt.wantTwoWay {
					t.Errorf("Protect(%s) two-way =\n%s\nwant\n%s", tt.name, got, tt.wantTwoWay)
				}
				if got := line(rel, women); got != tt.wantOneWay {
					t.Errorf("Protect(%s) one-way = %q, want %q", tt.name, got, tt.wantOneWay)
				}
			})
		}
		t.Run(tt.name+"/one-way alone", func(t *testing.T) {
			rel, err := pol.Protect(women)
			if err != nil {
				t.Fatalf("Protect(%s alone) error: %v", tt.name, err)
			}
			if got := line(rel, women); got != tt.wantOneAlone {
				t.Errorf("Protect(%s alone) = %q, want %q", tt.name, got, tt.wantOneAlone)
			}
		})
	}
}

func TestProtectSummaries(t *testing.T) {
	var pol Policy
	byGender := prisonsByGender([][]int{{40, 3}, {35, 8}, {50, 12}})
	plain := OneWay{Name: "plain", Scope: []Coord{{"item", "other"}}, Dim: "age", Categories: categories(3), Counts: []int{20, 30, 0}}
	rel, err := pol.Protect(byGender, plain)
	if err != nil {
		t.Fatalf("Protect(T4, plain) error: %v", err)
	}
	want := []TableSummary{
		{Name: byGender.Name, Cells: 12, Suppressed: 4, Excessive: true},
		{Name: "plain", Cells: 4, Suppressed: 0, Excessive: false},
	}
	if got := rel.Tables(); !slices.Equal(got, want) {
		t.Errorf("Protect(T4, plain).Tables() = %+v, want %+v", got, want)
	}
}

// TestProtectK checks that the threshold comes from the policy.
func TestProtectK(t *testing.T) {
	cfg := DefaultConfig()
	cfg.K = 10
	pol, err := NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	table := OneWay{Name: "k10", Dim: "category", Categories: categories(3), Counts: []int{12, 8, 30}}
	rel, err := pol.Protect(table)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := line(rel, table), "xs xp 30 | 50"; got != want {
		t.Errorf("Protect(k=10) = %q, want %q", got, want)
	}
}

func TestProtectErrors(t *testing.T) {
	good := OneWay{Name: "good", Dim: "site", Categories: []string{"P1", "P2"}, Counts: []int{3, 4}}
	tests := []struct {
		name   string
		tables []Table
		want   string // in the error message
	}{
		{"no name", []Table{OneWay{Dim: "site", Categories: []string{"P1"}, Counts: []int{1}}}, "no name"},
		{"count mismatch", []Table{OneWay{Name: "t", Dim: "site", Categories: []string{"P1"}, Counts: []int{1, 2}}}, "2 counts for 1 categories"},
		{"negative", []Table{OneWay{Name: "t", Dim: "site", Categories: []string{"P1"}, Counts: []int{-1}}}, "negative count for site=P1"},
		{"duplicate category", []Table{OneWay{Name: "t", Dim: "site", Categories: []string{"P1", "P1"}, Counts: []int{1, 2}}}, `category "P1" of "site" appears twice`},
		{"no categories", []Table{OneWay{Name: "t", Dim: "site"}}, "no categories"},
		{"scope repeats dimension", []Table{OneWay{Name: "t", Scope: []Coord{{"site", "P1"}}, Dim: "site", Categories: []string{"P1"}, Counts: []int{1}}}, `dimension "site" appears twice`},
		{"same row and column dimension", []Table{TwoWay{Name: "t", RowDim: "site", Rows: []string{"P1"}, ColDim: "site", Cols: []string{"P2"}, Counts: [][]int{{1}}}}, `dimension "site" appears twice`},
		{"ragged", []Table{TwoWay{Name: "t", RowDim: "site", Rows: []string{"P1"}, ColDim: "gender", Cols: []string{"M", "F"}, Counts: [][]int{{1}}}}, "1 counts for 2 columns"},
		{"missing row", []Table{TwoWay{Name: "t", RowDim: "site", Rows: []string{"P1", "P2"}, ColDim: "gender", Cols: []string{"M"}, Counts: [][]int{{1}}}}, "1 rows of counts for 2 rows"},
		{"nil table", []Table{nil}, "table 0 is nil"},
		{"conflicting counts", []Table{good, OneWay{Name: "other", Dim: "site", Categories: []string{"P1", "P2"}, Counts: []int{4, 3}}}, `different counts in tables "good" and "other"`},
	}
	var pol Policy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pol.Protect(tt.tables...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Protect(%s) error = %v, want one containing %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestProtectUnprotectable checks the one refusal of Protect: five
// categories of 1 with a published total of 5 are all 1, since an intruder
// knows a suppressed cell is at least 1, and only the grand total could
// hide them.
func TestProtectUnprotectable(t *testing.T) {
	var pol Policy
	table := OneWay{Name: "ones", Dim: "site", Categories: categories(5), Counts: []int{1, 1, 1, 1, 1}}
	_, err := pol.Protect(table)
	refusal, ok := errors.AsType[*UnprotectableError](err)
	if !ok || refusal.Cell != table.Key(0) {
		t.Errorf("Protect(1 1 1 1 1) error = %v, want an *UnprotectableError for %s", err, table.Key(0))
	}
}

// TestProtectErrorsHideCounts checks that an error, which ends up in a log,
// never carries a count.
func TestProtectErrorsHideCounts(t *testing.T) {
	a := OneWay{Name: "a", Dim: "site", Categories: []string{"P"}, Counts: []int{3}}
	b := OneWay{Name: "b", Dim: "site", Categories: []string{"P"}, Counts: []int{4}}
	var pol Policy
	_, err := pol.Protect(a, b)
	if err == nil || strings.ContainsAny(err.Error(), "34") {
		t.Errorf("Protect(conflict) error = %v, want an error without the counts", err)
	}
}

// TestReleaseFormatHidesValues checks that printing a whole release does
// not reach the hidden counts through fmt's reflection.
func TestReleaseFormatHidesValues(t *testing.T) {
	var pol Policy
	table := OneWay{Name: "t", Dim: "site", Categories: []string{"haren", "lantin"}, Counts: []int{3, 48}}
	rel, err := pol.Protect(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got, want := fmt.Sprintf(verb, rel), "release (tables 1, cells 3, suppressed 2)"; got != want {
			t.Errorf("Sprintf(%q, release) = %q, want %q", verb, got, want)
		}
	}
}

func TestReleaseCount(t *testing.T) {
	var pol Policy
	table := OneWay{Name: "t", Dim: "site", Categories: []string{"haren", "lantin"}, Counts: []int{3, 40}}
	rel, err := pol.Protect(table)
	if err != nil {
		t.Fatal(err)
	}
	unknown := KeyOf(Coord{"site", "marche"})
	tests := []struct {
		key    Key
		want   Status
		wantN  int
		wantOK bool
	}{
		{table.Key(0), SuppressedPrimary, 0, false},
		{table.Key(1), SuppressedSecondary, 0, false},
		{table.TotalKey(), Published, 43, true},
		{unknown, Unchecked, 0, false},
	}
	for _, tt := range tests {
		c := rel.Count(tt.key)
		n, ok := c.Value()
		if c.Status() != tt.want || n != tt.wantN || ok != tt.wantOK || c.Key() != tt.key {
			t.Errorf("Count(%s) = %v %d %v, want %v %d %v", tt.key, c.Status(), n, ok, tt.want, tt.wantN, tt.wantOK)
		}
	}
}

// TestCountFormatHidesValue checks that printing a suppressed Count, with
// any verb fmt or slog may use, does not show its value.
func TestCountFormatHidesValue(t *testing.T) {
	var pol Policy
	table := OneWay{Name: "t", Dim: "site", Categories: []string{"haren", "lantin"}, Counts: []int{3, 48}}
	rel, err := pol.Protect(table)
	if err != nil {
		t.Fatal(err)
	}
	c := rel.Count(table.Key(0))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, c); strings.Contains(got, "3") {
			t.Errorf("Sprintf(%q, suppressed count) = %q, want no value", verb, got)
		}
	}
	if got, want := fmt.Sprint(rel.Count(table.TotalKey())), "(total): 51"; got != want {
		t.Errorf("Sprint(published total) = %q, want %q", got, want)
	}
}

// TestVerificationFindsBridge builds by hand the classic case the rules
// miss: two suppressed cycles joined by one suppressed cell. Every row and
// column holds zero or several suppressed cells, yet the bridge is the sum
// of rows 1-2 minus the sum of columns 1-2.
func TestVerificationFindsBridge(t *testing.T) {
	table := TwoWay{
		Name:   "bridge",
		RowDim: "r", Rows: []string{"1", "2", "3", "4"},
		ColDim: "c", Cols: []string{"1", "2", "3", "4"},
		Counts: [][]int{{10, 11, 12, 13}, {14, 15, 16, 17}, {18, 19, 20, 21}, {22, 23, 24, 25}},
	}
	m, err := newModel(5, []Table{table})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.cells {
		m.cells[i].status = Published
	}
	pattern := [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}, {1, 2}, {2, 2}, {2, 3}, {3, 2}, {3, 3}}
	index := map[Key]int{}
	for i, c := range m.cells {
		index[c.key] = i
	}
	for _, rc := range pattern {
		m.cells[index[table.Key(rc[0], rc[1])]].status = SuppressedSecondary
	}
	bad, err := m.firstRecoverable()
	if err != nil {
		t.Fatal(err)
	}
	if bad < 0 || m.cells[bad].key != table.Key(1, 2) {
		got := "none"
		if bad >= 0 {
			got = m.cells[bad].key.String()
		}
		t.Errorf("firstRecoverable(bridge) = %s, want %s", got, table.Key(1, 2))
	}
	m.applyRules() // nothing to do: the rules cannot see the bridge
	if c := m.complementFor(bad); c < 0 {
		t.Errorf("complementFor(bridge) = none, want a cell")
	}
}
