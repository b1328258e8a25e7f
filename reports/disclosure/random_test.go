package disclosure

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// randomCount draws counts the way indicator tables look when broken down
// finely: many zeros and small values, some large ones.
func randomCount(r *rand.Rand) int {
	switch x := r.IntN(10); {
	case x < 3:
		return 0
	case x < 7:
		return 1 + r.IntN(6)
	default:
		return 7 + r.IntN(34)
	}
}

func randomOneWay(r *rand.Rand, name string, scope []Coord) OneWay {
	t := OneWay{Name: name, Scope: scope, Dim: "site", Categories: categories(1 + r.IntN(6))}
	for range t.Categories {
		t.Counts = append(t.Counts, randomCount(r))
	}
	return t
}

func randomTwoWay(r *rand.Rand, name string, rows, cols int) TwoWay {
	t := TwoWay{Name: name, RowDim: "site", Rows: categories(rows), ColDim: "gender", Cols: categories(cols)}
	for range rows {
		row := make([]int, cols)
		for c := range row {
			row[c] = randomCount(r)
		}
		t.Counts = append(t.Counts, row)
	}
	return t
}

// randomRelease draws one of four kinds of release: a one-way table, a
// two-way table, a two-way table with the one-way tables of one column and
// of its row totals, or two two-way tables sharing their row totals (which
// no longer form a network, so the verification cannot lean on it).
func randomRelease(r *rand.Rand, kind int) []Table {
	switch kind {
	case 0:
		return []Table{randomOneWay(r, "one-way", nil)}
	case 1:
		return []Table{randomTwoWay(r, "two-way", 1+r.IntN(4), 1+r.IntN(3))}
	case 2:
		t := randomTwoWay(r, "two-way", 2+r.IntN(3), 2+r.IntN(2))
		c := r.IntN(len(t.Cols))
		column := OneWay{Name: "column", Scope: []Coord{{t.ColDim, t.Cols[c]}}, Dim: t.RowDim, Categories: t.Rows}
		totals := OneWay{Name: "row totals", Dim: t.RowDim, Categories: t.Rows}
		for _, row := range t.Counts {
			column.Counts = append(column.Counts, row[c])
			n := 0
			for _, x := range row {
				n += x
			}
			totals.Counts = append(totals.Counts, n)
		}
		return []Table{t, column, totals}
	default:
		gender := randomTwoWay(r, "by gender", 2+r.IntN(2), 2)
		age := TwoWay{Name: "by age", RowDim: "site", Rows: gender.Rows, ColDim: "age", Cols: categories(2 + r.IntN(2))}
		for _, row := range gender.Counts {
			n := row[0] + row[1]
			split := make([]int, len(age.Cols))
			for range n {
				split[r.IntN(len(split))]++
			}
			age.Counts = append(age.Counts, split)
		}
		return []Table{gender, age}
	}
}

func describe(tables []Table) string {
	s := ""
	for _, t := range tables {
		s += fmt.Sprintf("%+v; ", t)
	}
	return s
}

// TestProtectRandom protects many random releases, with three thresholds,
// and checks each against the independent brute force of
// bruteforce_test.go.
func TestProtectRandom(t *testing.T) {
	kinds := []string{"one-way", "two-way", "linked one-way", "shared margins"}
	cases := []int{600, 600, 300, 300}
	if testing.Short() {
		cases = []int{50, 50, 25, 25}
	}
	for _, k := range []int{3, 5, 10} {
		cfg := DefaultConfig()
		cfg.K = k
		pol, err := NewPolicy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for kind, name := range kinds {
			t.Run(fmt.Sprintf("k=%d/%s", k, name), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(kind), uint64(k)))
				for i := range cases[kind] {
					tables := randomRelease(r, kind)
					if err := checkProtect(pol, tables...); err != nil {
						t.Fatalf("case %d: Protect(%s): %v", i, describe(tables), err)
					}
				}
			})
		}
	}
}

// TestProtectOrder checks that the order of the tables does not change the
// outcome, so reruns of a release match.
func TestProtectOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var pol Policy
	for i := range 100 {
		tables := randomRelease(r, 2+i%2)
		reversed := make([]Table, len(tables))
		for j, t := range tables {
			reversed[len(tables)-1-j] = t
		}
		a, errA := pol.Protect(tables...)
		b, errB := pol.Protect(reversed...)
		if errA != nil || errB != nil {
			if fmt.Sprint(errA) != fmt.Sprint(errB) {
				t.Fatalf("case %d: Protect(reversed) error = %v, want %v", i, errB, errA)
			}
			continue
		}
		for k, c := range a.counts {
			if got := b.Count(k).Status(); got != c.Status() {
				t.Fatalf("case %d: Protect(reversed) status of %s = %v, want %v", i, k, got, c.Status())
			}
		}
	}
}
