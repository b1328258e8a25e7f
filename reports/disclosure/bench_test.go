package disclosure

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkProtect protects a release of the size of a yearly report: 12
// sites by gender, by age band and by nationality group, sharing their site
// totals, with many small cells.
func BenchmarkProtect(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	sites := make([]string, 12)
	for i := range sites {
		sites[i] = string(rune('a' + i))
	}
	split := func(name, dim string, values []string, totals []int) TwoWay {
		t := TwoWay{Name: name, RowDim: "site", Rows: sites, ColDim: dim, Cols: values}
		for _, n := range totals {
			row := make([]int, len(values))
			for range n {
				// Skewed: the first categories are the common ones.
				row[min(r.IntN(len(values)), r.IntN(len(values)))]++
			}
			t.Counts = append(t.Counts, row)
		}
		return t
	}
	totals := make([]int, len(sites))
	for i := range totals {
		totals[i] = 5 + r.IntN(300)
	}
	tables := []Table{
		split("by gender", "gender", []string{"M", "F"}, totals),
		split("by age", "age", []string{"18-24", "25-34", "35-44", "45-54", "55+"}, totals),
		split("by nationality", "nationality", []string{"BE", "EU", "MA", "DZ", "other Africa", "other"}, totals),
	}
	var pol Policy
	for b.Loop() {
		if _, err := pol.Protect(tables...); err != nil {
			b.Fatal(err)
		}
	}
}
