package disclosure_test

import (
	"fmt"
	"log"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// cell shows a count as a renderer should: its value, or one mark for
// every kind of suppression.
func cell(c disclosure.Count) string {
	if n, ok := c.Value(); ok {
		return fmt.Sprint(n)
	}
	return "x"
}

// This is T6 of PRIVACY.md: a prison × gender table released with the
// women by prison table, which shows the F column again.
func ExamplePolicy_Protect() {
	pol, err := disclosure.NewPolicy(disclosure.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	byGender := disclosure.TwoWay{
		Name:   "entrants by prison and gender",
		RowDim: "site", Rows: []string{"P1", "P2", "P3"},
		ColDim: "gender", Cols: []string{"M", "F"},
		Counts: [][]int{{40, 3}, {35, 8}, {50, 12}},
	}
	women := disclosure.OneWay{
		Name:  "women by prison",
		Scope: []disclosure.Coord{{Dim: "gender", Value: "F"}},
		Dim:   "site", Categories: []string{"P1", "P2", "P3"},
		Counts: []int{3, 8, 12},
	}
	rel, err := pol.Protect(byGender, women)
	if err != nil {
		log.Fatal(err)
	}
	for r, row := range byGender.Rows {
		fmt.Println(row, cell(rel.Count(byGender.Key(r, 0))), cell(rel.Count(byGender.Key(r, 1))), cell(rel.Count(byGender.RowTotalKey(r))))
	}
	fmt.Println("total", cell(rel.Count(byGender.ColTotalKey(0))), cell(rel.Count(byGender.ColTotalKey(1))), cell(rel.Count(byGender.TotalKey())))
	for i, site := range women.Categories {
		fmt.Println("women", site, cell(rel.Count(women.Key(i))))
	}
	for _, s := range rel.Tables() {
		fmt.Printf("%s: %d of %d cells suppressed, merge categories: %v\n", s.Name, s.Suppressed, s.Cells, s.Excessive)
	}
	// Output:
	// P1 x x 43
	// P2 x x 43
	// P3 50 12 62
	// total 125 23 148
	// women P1 x
	// women P2 x
	// women P3 12
	// entrants by prison and gender: 4 of 12 cells suppressed, merge categories: true
	// women by prison: 2 of 4 cells suppressed, merge categories: true
}

// These are the proportions of T7.
func ExamplePolicy_Proportion() {
	var pol disclosure.Policy // the zero Policy applies DefaultConfig
	items := []struct {
		yes, n int
		s      disclosure.Sensitivity
	}{
		{12, 40, disclosure.Ordinary},
		{8, 30, disclosure.Ordinary},
		{3, 10, disclosure.Ordinary},
		{38, 40, disclosure.Sensitive},
	}
	for _, it := range items {
		p, err := pol.Proportion(it.yes, it.n, it.s)
		if err != nil {
			log.Fatal(err)
		}
		e, ok := p.Estimate()
		if !ok {
			fmt.Println("x")
			continue
		}
		fmt.Printf("%.1f%% [%.1f–%.1f] N=%d %s\n", 100*e.P, 100*e.Low, 100*e.High, e.N, p.Status())
	}
	// Output:
	// 30.0% [18.1–45.4] N=40 published
	// 26.7% [14.2–44.4] N=30 low reliability
	// x
	// x
}
