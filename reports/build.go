package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// OtherSites is the published category that pools small sites (PRIVACY.md R10).
const OtherSites = "other_sites"

// Total is the breakdown of the whole population, without a dimension.
const Total = "total"

// Options select what a release covers.
type Options struct {
	Year   int
	Sites  []string  // the sites covered, in display order; every site for the coordinator
	CutOff time.Time // records received after it are left out; zero: the last record of the year
	Policy *disclosure.Policy
	// SiteNames labels the sites in the three languages.
	SiteNames map[string]Text
	// Arrivals adds the questionnaires received by site and month ([Figures.Arrivals]),
	// which the dashboard shows so that the coordinator sees data arriving.
	Arrivals bool
}

// Number is a protected count: its value can be read only if it may be published.
type Number struct {
	value  int
	status disclosure.Status
}

// Value returns the count and true when it may be published.
func (n Number) Value() (int, bool) { return n.value, n.status.Publishable() }

// Status returns the disclosure status of the count.
func (n Number) Status() disclosure.Status { return n.status }

func protectedNumber(c disclosure.Count) Number {
	v, ok := c.Value()
	if !ok {
		return Number{status: c.Status()}
	}
	return Number{value: v, status: c.Status()}
}

// Share is a protected proportion with its Wilson 95% interval.
type Share struct {
	status   disclosure.Status
	estimate disclosure.Estimate
}

// Estimate returns the proportion and true when it may be published; a low-reliability
// one must be shown with its mark.
func (s Share) Estimate() (disclosure.Estimate, bool) { return s.estimate, s.status.Publishable() }

// Status returns the disclosure status of the proportion.
func (s Share) Status() disclosure.Status { return s.status }

// Flag is the status word of the tidy CSV and the API: "suppressed", "low_reliability",
// or empty.
func (s Share) Flag() string {
	switch {
	case s.status.Suppressed():
		return "suppressed"
	case s.status == disclosure.LowReliability:
		return "low_reliability"
	}
	return ""
}

// Row is one published group of a breakdown.
type Row struct {
	Group       string // category code; empty for the total
	Numerator   Number
	Denominator Number
	Share       Share
}

// Breakdown is an indicator split by one dimension (or the total).
type Breakdown struct {
	Dim  string // Total or one of Dimensions
	Rows []Row
}

// IndicatorFigures is one indicator of a release.
type IndicatorFigures struct {
	Indicator
	Breakdowns []Breakdown // Total first
}

// Total returns the total row of the indicator.
func (f IndicatorFigures) Total() Row { return f.Breakdowns[0].Rows[0] }

// CrossTable is a two-way count table of interviewed entrants (site by another dimension),
// with its margins.
type CrossTable struct {
	RowDim, ColDim string
	Rows, Cols     []string
	Cells          [][]Number
	RowTotals      []Number
	ColTotals      []Number
	Total          Number
}

// Figures is a protected release: every number a report shows, and nothing else.
type Figures struct {
	Year      int
	Sites     []string // covered
	Pooled    []string // covered sites shown only inside OtherSites
	CutOff    time.Time
	Config    disclosure.Config
	Catalog   *Catalog
	SiteNames map[string]Text
	Indicator []IndicatorFigures
	Entrants  []CrossTable // interviewed entrants by site and gender, age band, nationality group
	// Arrivals is the number of questionnaires by site and month (Options.Arrivals),
	// nil otherwise. Sites shown only pooled are pooled here too (R10).
	Arrivals *CrossTable
	Summary  []disclosure.TableSummary
}

// Find returns the figures of indicator id.
func (f *Figures) Find(id string) (IndicatorFigures, bool) {
	i := slices.IndexFunc(f.Indicator, func(x IndicatorFigures) bool { return x.ID == id })
	if i < 0 {
		return IndicatorFigures{}, false
	}
	return f.Indicator[i], true
}

// Label returns the name of a category of a breakdown dimension in lang: a site's name,
// "other sites", an age band, a nationality group…; the total's label for Total.
func (f *Figures) Label(dim, code, lang string) string {
	if dim == Total || code == "" {
		return f.Catalog.Text("total", lang)
	}
	if dim == DimSite {
		if name, ok := f.SiteNames[code]; ok {
			return name.In(lang)
		}
	}
	for _, c := range f.Catalog.Categories[dim] {
		if c.Code == code {
			return c.Label.In(lang)
		}
	}
	return code
}

// DimLabel returns the name of a breakdown dimension in lang ("Prison", "Gender"…).
func (f *Figures) DimLabel(dim, lang string) string {
	return f.Catalog.Text("breakdown_"+dim, lang)
}

// ErrNoData is returned by Build when no record of the year is in scope.
var ErrNoData = errors.New("reports: no questionnaire of that year in the selected sites")

// tally is a numerator and denominator being summed.
type tally struct{ num, den int }

// Build reads the counts of opts from src and protects them as one release.
func Build(ctx context.Context, src Source, cat *Catalog, opts Options) (*Figures, error) {
	if opts.Policy == nil {
		return nil, errors.New("reports: a disclosure policy is required")
	}
	cutOff := opts.CutOff
	if cutOff.IsZero() {
		var err error
		if cutOff, err = src.DataCutOff(ctx, opts.Year); err != nil {
			return nil, err
		}
		if cutOff.IsZero() {
			return nil, ErrNoData
		}
	}
	cells, err := src.IndicatorCells(ctx, opts.Year, opts.Sites, cutOff)
	if err != nil {
		return nil, err
	}
	// R10: sites with few interviewed entrants are only shown pooled.
	interviewed := map[string]int{}
	for _, s := range opts.Sites {
		interviewed[s] = 0
	}
	for _, c := range cells {
		if c.Indicator == "I19" {
			interviewed[c.Site] += c.Num
		}
	}
	if len(cells) == 0 {
		return nil, ErrNoData
	}
	pooled := opts.Policy.PooledSites(interviewed)
	siteOf := func(s string) string {
		if slices.Contains(pooled, s) {
			return OtherSites
		}
		return s
	}
	// Sum the finest cells into every published group.
	sums := map[string]map[string]map[string]*tally{} // indicator -> dim -> category
	entrants := map[string]map[[2]string]int{}        // dim -> (site, category) -> n
	for _, c := range cells {
		byDim := sums[c.Indicator]
		if byDim == nil {
			byDim = map[string]map[string]*tally{}
			sums[c.Indicator] = byDim
		}
		stored := map[string]string{DimSite: siteOf(c.Site), DimGender: c.Gender, DimAgeBand: c.AgeBand, DimNationalityGroup: c.NationalityGroup}
		for _, dim := range Dimensions {
			cat := publishedCategory(dim, stored[dim])
			if byDim[dim] == nil {
				byDim[dim] = map[string]*tally{}
			}
			t := byDim[dim][cat]
			if t == nil {
				t = &tally{}
				byDim[dim][cat] = t
			}
			t.num += c.Num
			t.den += c.Den
			if c.Indicator == "I19" && dim != DimSite {
				if entrants[dim] == nil {
					entrants[dim] = map[[2]string]int{}
				}
				entrants[dim][[2]string{stored[DimSite], cat}] += c.Num
			}
		}
	}
	order := categoryOrder(cat, opts.Sites, pooled)

	// One table per indicator and breakdown: groups by yes/no, so that R5 and R6 protect
	// the "no" count as well (R8), and the total row is the column margins.
	var tables []disclosure.Table
	type tableRef struct {
		ind disclosure.TwoWay
		dim string
	}
	built := map[string][]tableRef{}
	for _, ind := range cat.Indicators {
		for _, dim := range ind.Breakdowns {
			var rows []string
			var counts [][]int
			for _, code := range order[dim] {
				t := sums[ind.ID][dim][code]
				if t == nil || t.den == 0 {
					continue
				}
				rows = append(rows, code)
				counts = append(counts, []int{t.num, t.den - t.num})
			}
			tw := disclosure.TwoWay{Name: ind.ID + " by " + dim, Scope: []disclosure.Coord{{Dim: "indicator", Value: ind.ID}},
				RowDim: dim, Rows: rows, ColDim: "answer", Cols: []string{"yes", "no"}, Counts: counts}
			if len(rows) == 0 {
				tw.Rows, tw.Counts = []string{"none"}, [][]int{{0, 0}}
			}
			tables = append(tables, tw)
			built[ind.ID] = append(built[ind.ID], tableRef{tw, dim})
		}
	}
	var crossRefs []disclosure.TwoWay
	for _, dim := range []string{DimGender, DimAgeBand, DimNationalityGroup} {
		tw := disclosure.TwoWay{Name: "entrants by site and " + dim,
			Scope:  []disclosure.Coord{{Dim: "indicator", Value: "I19"}, {Dim: "answer", Value: "yes"}},
			RowDim: DimSite, ColDim: dim}
		for _, s := range order[DimSite] {
			if t := sums["I19"][DimSite][s]; t != nil && t.num > 0 {
				tw.Rows = append(tw.Rows, s)
			}
		}
		for _, c := range order[dim] {
			for _, s := range tw.Rows {
				if entrants[dim][[2]string{s, c}] > 0 {
					tw.Cols = append(tw.Cols, c)
					break
				}
			}
		}
		if len(tw.Rows) == 0 || len(tw.Cols) == 0 {
			continue
		}
		for _, s := range tw.Rows {
			row := make([]int, len(tw.Cols))
			for j, c := range tw.Cols {
				row[j] = entrants[dim][[2]string{s, c}]
			}
			tw.Counts = append(tw.Counts, row)
		}
		tables = append(tables, tw)
		crossRefs = append(crossRefs, tw)
	}

	var arrivals *disclosure.TwoWay
	if opts.Arrivals {
		if arrivals, err = arrivalsTable(ctx, src, opts.Year, opts.Sites, cutOff, order[DimSite], siteOf); err != nil {
			return nil, err
		}
		tables = append(tables, *arrivals)
	}

	rel, err := opts.Policy.Protect(tables...)
	if err != nil {
		return nil, fmt.Errorf("reports: disclosure control: %w", err)
	}
	f := &Figures{Year: opts.Year, Sites: opts.Sites, Pooled: pooled, CutOff: cutOff.UTC(), Config: rel.Config(),
		Catalog: cat, SiteNames: opts.SiteNames, Summary: rel.Tables()}
	for _, ind := range cat.Indicators {
		sens := disclosure.Sensitivity(ind.Sensitive)
		refs := built[ind.ID]
		if len(refs) == 0 {
			continue
		}
		first := refs[0].ind
		total, err := readRow(rel, "", first.ColTotalKey(0), first.TotalKey(), sens)
		if err != nil {
			return nil, err
		}
		figs := IndicatorFigures{Indicator: ind, Breakdowns: []Breakdown{{Dim: Total, Rows: []Row{total}}}}
		for _, ref := range refs {
			b := Breakdown{Dim: ref.dim}
			for r, code := range ref.ind.Rows {
				if code == "none" && len(ref.ind.Rows) == 1 && ref.ind.Counts[0][0] == 0 && ref.ind.Counts[0][1] == 0 {
					break
				}
				row, err := readRow(rel, code, ref.ind.Key(r, 0), ref.ind.RowTotalKey(r), sens)
				if err != nil {
					return nil, err
				}
				b.Rows = append(b.Rows, row)
			}
			figs.Breakdowns = append(figs.Breakdowns, b)
		}
		f.Indicator = append(f.Indicator, figs)
	}
	for _, tw := range crossRefs {
		f.Entrants = append(f.Entrants, crossTableOf(rel, tw))
	}
	if arrivals != nil {
		ct := crossTableOf(rel, *arrivals)
		f.Arrivals = &ct
	}
	return f, nil
}

// DimMonth is the dimension of the arrivals table's columns: months "YYYY-MM".
const DimMonth = "month"

// arrivalsTable is the table of questionnaires by site (pooled as the release pools them)
// and month, every month of the year a column. It is protected with the other tables of
// the release, in a scope of its own: it counts questionnaires, not people.
func arrivalsTable(ctx context.Context, src Source, year int, sites []string, cutOff time.Time, siteOrder []string, siteOf func(string) string) (*disclosure.TwoWay, error) {
	cells, err := src.Arrivals(ctx, year, sites, cutOff)
	if err != nil {
		return nil, err
	}
	counts := map[[2]string]int{}
	for _, c := range cells {
		counts[[2]string{siteOf(c.Site), c.Month}] += c.N
	}
	tw := disclosure.TwoWay{Name: "questionnaires by site and month", Scope: []disclosure.Coord{{Dim: "table", Value: "questionnaires"}},
		RowDim: DimSite, ColDim: DimMonth}
	for m := 1; m <= 12; m++ {
		tw.Cols = append(tw.Cols, fmt.Sprintf("%04d-%02d", year, m))
	}
	for _, s := range siteOrder {
		row := make([]int, len(tw.Cols))
		seen := false
		for j, m := range tw.Cols {
			row[j] = counts[[2]string{s, m}]
			seen = seen || row[j] > 0
		}
		if seen {
			tw.Rows = append(tw.Rows, s)
			tw.Counts = append(tw.Counts, row)
		}
	}
	if len(tw.Rows) == 0 {
		tw.Rows, tw.Counts = []string{OtherSites}, [][]int{make([]int, len(tw.Cols))}
	}
	return &tw, nil
}

// crossTableOf reads a protected two-way table back from its release.
func crossTableOf(rel *disclosure.Release, tw disclosure.TwoWay) CrossTable {
	ct := CrossTable{RowDim: tw.RowDim, ColDim: tw.ColDim, Rows: tw.Rows, Cols: tw.Cols, Total: protectedNumber(rel.Count(tw.TotalKey()))}
	for r := range tw.Rows {
		var cells []Number
		for c := range tw.Cols {
			cells = append(cells, protectedNumber(rel.Count(tw.Key(r, c))))
		}
		ct.Cells = append(ct.Cells, cells)
		ct.RowTotals = append(ct.RowTotals, protectedNumber(rel.Count(tw.RowTotalKey(r))))
	}
	for c := range tw.Cols {
		ct.ColTotals = append(ct.ColTotals, protectedNumber(rel.Count(tw.ColTotalKey(c))))
	}
	return ct
}

func readRow(rel *disclosure.Release, group string, yes, n disclosure.Key, sens disclosure.Sensitivity) (Row, error) {
	p, err := rel.Proportion(yes, n, sens)
	if err != nil {
		return Row{}, fmt.Errorf("reports: disclosure control: %w", err)
	}
	est, _ := p.Estimate()
	return Row{Group: group, Numerator: protectedNumber(rel.Count(yes)), Denominator: protectedNumber(rel.Count(n)),
		Share: Share{status: p.Status(), estimate: est}}, nil
}

// categoryOrder gives the publication order of each dimension's categories: sites in the
// order covered then "other sites", the others as in the catalog.
func categoryOrder(cat *Catalog, sites, pooled []string) map[string][]string {
	order := map[string][]string{}
	for _, s := range sites {
		if !slices.Contains(pooled, s) {
			order[DimSite] = append(order[DimSite], s)
		}
	}
	order[DimSite] = append(order[DimSite], OtherSites)
	for _, dim := range []string{DimGender, DimAgeBand, DimNationalityGroup} {
		for _, c := range cat.Categories[dim] {
			order[dim] = append(order[dim], c.Code)
		}
	}
	return order
}
