package disclosure

import (
	"testing"
)

// fuzzRelease decodes fuzz input into a small release and its threshold:
// the first byte picks the kind (as randomRelease), the shape and k, the
// others are counts, cycled when they run out. Shapes stay small enough for
// the brute force.
func fuzzRelease(data []byte) ([]Table, int) {
	if len(data) < 2 {
		return nil, 0
	}
	head, counts := data[0], data[1:]
	k := []int{5, 3, 7, 10}[head>>6]
	next := 0
	count := func() int {
		b := counts[next%len(counts)]
		next++
		switch {
		case b < 64:
			return 0
		case b < 160:
			return 1 + int(b)%6
		}
		return 7 + int(b)%40
	}
	rows, cols := 1+int(head>>2)%4, 1+int(head>>4)%3
	two := func(name, colDim string) TwoWay {
		t := TwoWay{Name: name, RowDim: "site", Rows: categories(rows), ColDim: colDim, Cols: categories(cols)}
		for range rows {
			row := make([]int, cols)
			for c := range row {
				row[c] = count()
			}
			t.Counts = append(t.Counts, row)
		}
		return t
	}
	switch head % 4 {
	case 0:
		t := OneWay{Name: "one-way", Dim: "site", Categories: categories(1 + int(head>>2)%6)}
		for range t.Categories {
			t.Counts = append(t.Counts, count())
		}
		return []Table{t}, k
	case 1:
		return []Table{two("two-way", "gender")}, k
	case 2:
		t := two("two-way", "gender")
		column := OneWay{Name: "column", Scope: []Coord{{"gender", t.Cols[0]}}, Dim: "site", Categories: t.Rows}
		totals := OneWay{Name: "row totals", Dim: "site", Categories: t.Rows}
		for _, row := range t.Counts {
			column.Counts = append(column.Counts, row[0])
			n := 0
			for _, x := range row {
				n += x
			}
			totals.Counts = append(totals.Counts, n)
		}
		return []Table{t, column, totals}, k
	}
	// Two tables sharing row totals: the second splits each row total of
	// the first over its columns, taking shares from the input.
	a := two("by gender", "gender")
	b := TwoWay{Name: "by age", RowDim: "site", Rows: a.Rows, ColDim: "age", Cols: categories(2)}
	for _, row := range a.Counts {
		n := 0
		for _, x := range row {
			n += x
		}
		first := min(count(), n)
		b.Counts = append(b.Counts, []int{first, n - first})
	}
	return []Table{a, b}, k
}

// FuzzProtect checks the promises of Protect on arbitrary small releases:
// it does not panic, refuses only unprotectable releases, publishes no count
// with 0 < n < k, keeps the rules of R6, and leaves no suppressed cell
// recoverable.
func FuzzProtect(f *testing.F) {
	seeds := [][]byte{
		{0 | 2<<2, 100, 80, 200},             // T1-like one-way
		{1 | 2<<2 | 1<<4, 200, 90, 190, 170}, // two-way with small cells
		{2 | 3<<2 | 1<<4, 10, 255, 70, 130},
		{3 | 2<<2 | 1<<4, 65, 66, 200, 201, 3},
		{1 | 3<<2 | 2<<4, 0, 0, 0, 70, 0, 0},
		{0, 0},
		{1<<6 | 1 | 3<<2 | 2<<4, 90, 100, 70, 180},  // k = 3
		{3<<6 | 2 | 2<<2 | 1<<4, 150, 100, 70, 180}, // k = 10
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tables, k := fuzzRelease(data)
		if tables == nil {
			return
		}
		cfg := DefaultConfig()
		cfg.K = k
		pol, err := NewPolicy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkProtect(pol, tables...); err != nil {
			t.Fatalf("Protect(k=%d, %s): %v", k, describe(tables), err)
		}
	})
}
