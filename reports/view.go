package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// ErrNoData is returned by Make when no record of the year is in the store.
var ErrNoData = errors.New("reports: no questionnaire of that year")

// ErrNoGroup is returned by Release.View for a group the release does not publish.
var ErrNoGroup = errors.New("reports: the release publishes no such group")

// Groups returns the publication groups of the release, all sites first.
func (r *Release) Groups() []Group { return slices.Clone(r.Plan.Groups) }

// GroupOf returns the publication group of exactly the given sites: all sites, one site
// shown on its own, or a funder's sites. A view is always one group of the release: a
// selection of sites that is not a group would be a new aggregate, which could be
// subtracted from another (R11).
func (r *Release) GroupOf(sites []string) (Group, error) {
	want := sorted(sites)
	want = slices.Compact(want)
	for _, g := range r.Plan.Groups {
		if slices.Equal(g.Sites, want) {
			return g, nil
		}
	}
	if len(want) == 1 && slices.Contains(r.Plan.Pooled, want[0]) {
		return Group{}, fmt.Errorf("%w: %s is shown only inside %q in release %s (fewer than %d interviewed entrants)",
			ErrNoGroup, want[0], OtherSites, r.ID, r.Config.SmallSiteMinimum)
	}
	var names []string
	for _, g := range r.Plan.Groups {
		if g.Kind == GroupAll || g.Kind == GroupOther {
			continue
		}
		names = append(names, strings.Join(g.Sites, "+"))
	}
	return Group{}, fmt.Errorf("%w: release %s has no group of exactly %s; its groups are all sites, %s",
		ErrNoGroup, r.ID, strings.Join(want, "+"), strings.Join(names, ", "))
}

// View returns the figures of one publication group of the release: its totals, its
// sites' rows, its breakdowns and its entrants tables, read from the frozen cells. It
// computes nothing new: every number is a cell of the release, with its status.
func (r *Release) View(cat *Catalog, group string, siteNames map[string]Text) (*Figures, error) {
	g, ok := r.Plan.group(group)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoGroup, group)
	}
	all, _ := r.Plan.group(AllGroup)
	f := &Figures{Year: r.Year, Release: r.ID, Group: g, Sites: g.Sites, AllSites: all.Sites, CutOff: r.CutOff,
		Config: r.Config, Catalog: cat, SiteNames: siteNames, Questionnaires: r.Questionnaires}
	for _, s := range g.Sites {
		if slices.Contains(r.Plan.Pooled, s) {
			f.Pooled = append(f.Pooled, s)
		}
	}
	for _, l := range r.Plan.Levels {
		if l.Group == group || l.Group == "*" {
			f.Levels = append(f.Levels, l)
		}
	}
	for _, pi := range r.Plan.Indicators {
		ind, ok := cat.Indicator(pi.ID)
		if !ok {
			return nil, fmt.Errorf("reports: release %s has indicator %s, which the catalog does not know", r.ID, pi.ID)
		}
		sens := disclosure.Sensitivity(pi.Sensitive)
		total, err := r.row(pi, group, "", cut{}, sens)
		if err != nil {
			return nil, err
		}
		figs := IndicatorFigures{Indicator: ind, Breakdowns: []Breakdown{{Dim: Total, Rows: []Row{total}}}}
		if pi.Site && len(g.Members) > 0 {
			b := Breakdown{Dim: DimSite}
			for _, m := range g.Members {
				row, err := r.row(pi, m, rowCode(m), cut{}, sens)
				if err != nil {
					return nil, err
				}
				if !emptyRow(row) {
					b.Rows = append(b.Rows, row)
				}
			}
			figs.Breakdowns = append(figs.Breakdowns, b)
		}
		for _, dim := range pi.Dims {
			if !g.Breakdowns {
				break
			}
			cats := r.Plan.shownCategories(pi.ID, group, dim)
			if cats == nil {
				continue // dropped (R6)
			}
			b := Breakdown{Dim: dim}
			for _, c := range cats {
				row, err := r.row(pi, group, c, cut{dim, c}, sens)
				if err != nil {
					return nil, err
				}
				if !emptyRow(row) {
					b.Rows = append(b.Rows, row)
				}
			}
			figs.Breakdowns = append(figs.Breakdowns, b)
		}
		f.Indicator = append(f.Indicator, figs)
	}
	for _, dim := range breakdownDims {
		if ct, ok := r.entrantsTable(g, dim); ok {
			f.Entrants = append(f.Entrants, ct)
		}
	}
	return f, nil
}

// emptyRow reports whether a row has nobody in its denominator: such rows are left out,
// as a published zero.
func emptyRow(r Row) bool {
	n, ok := r.Denominator.Value()
	return ok && n == 0
}

// row reads one row of an indicator's table: numerator, denominator and share.
func (r *Release) row(pi PlanIndicator, group, code string, c cut, sens disclosure.Sensitivity) (Row, error) {
	yes, n := yesKey(pi.ID, group, c), popKey(pi.Population, group, c)
	p, err := r.cells.Proportion(yes, n, sens)
	if err != nil {
		return Row{}, fmt.Errorf("reports: release %s: %w", r.ID, err)
	}
	est, _ := p.Estimate()
	return Row{Group: code, Numerator: protectedNumber(r.cells.Count(yes)), Denominator: protectedNumber(r.cells.Count(n)),
		Share: Share{status: p.Status(), estimate: est}}, nil
}

// entrantsTable is the table of interviewed entrants of a group by site and dim: the
// numerators of the entrants indicator in the group's member groups, with the group's
// own as column totals.
func (r *Release) entrantsTable(g Group, dim string) (CrossTable, bool) {
	cats := r.Plan.shownCategories(EntrantsIndicator, g.Code, dim)
	if cats == nil || len(g.Members) == 0 {
		return CrossTable{}, false
	}
	ct := CrossTable{RowDim: DimSite, ColDim: dim}
	var rows []string
	for _, m := range g.Members {
		if n, _ := r.storedCount(yesKey(EntrantsIndicator, m, cut{})); n > 0 {
			rows = append(rows, m)
		}
	}
	for _, c := range cats {
		for _, m := range rows {
			if n, _ := r.storedCount(yesKey(EntrantsIndicator, m, cut{dim, c})); n > 0 {
				ct.Cols = append(ct.Cols, c)
				break
			}
		}
	}
	if len(rows) == 0 || len(ct.Cols) == 0 {
		return CrossTable{}, false
	}
	for _, m := range rows {
		ct.Rows = append(ct.Rows, rowCode(m))
		var cells []Number
		for _, c := range ct.Cols {
			cells = append(cells, protectedNumber(r.cells.Count(yesKey(EntrantsIndicator, m, cut{dim, c}))))
		}
		ct.Cells = append(ct.Cells, cells)
		ct.RowTotals = append(ct.RowTotals, protectedNumber(r.cells.Count(yesKey(EntrantsIndicator, m, cut{}))))
	}
	for _, c := range ct.Cols {
		ct.ColTotals = append(ct.ColTotals, protectedNumber(r.cells.Count(yesKey(EntrantsIndicator, g.Code, cut{dim, c}))))
	}
	ct.Total = protectedNumber(r.cells.Count(yesKey(EntrantsIndicator, g.Code, cut{})))
	return ct, true
}

// DimMonth is the dimension of the arrivals table's columns: months "YYYY-MM".
const DimMonth = "month"

// Arrivals returns the questionnaires of the release's year received so far, by site
// and month: what the coordinator watches arrive. It is live, not a cell of the release
// — it counts questionnaires, entry and follow-up alike, never an answer — and protected
// on its own with the release's threshold and secondary suppression, over all sites with
// the release's pooling: a table of a group's sites would show a pooled site on its own
// beside the others (the group's total minus its shown sites), so only the coordinator's
// view of all sites has one.
func Arrivals(ctx context.Context, src Source, r *Release, now time.Time) (*CrossTable, error) {
	pol, err := disclosure.NewPolicy(r.Config)
	if err != nil {
		return nil, err
	}
	g, _ := r.Plan.group(AllGroup)
	cells, err := src.Arrivals(ctx, r.Year, g.Sites, now)
	if err != nil {
		return nil, err
	}
	siteOf := func(s string) string {
		if slices.Contains(r.Plan.Pooled, s) {
			return OtherSites
		}
		return s
	}
	counts := map[[2]string]int{}
	for _, c := range cells {
		counts[[2]string{siteOf(c.Site), c.Month}] += c.N
	}
	tw := disclosure.TwoWay{Name: "questionnaires by site and month", Scope: []disclosure.Coord{{Dim: "table", Value: "questionnaires"}},
		RowDim: DimSite, ColDim: DimMonth}
	for m := 1; m <= 12; m++ {
		tw.Cols = append(tw.Cols, fmt.Sprintf("%04d-%02d", r.Year, m))
	}
	var order []string
	for _, s := range g.Sites {
		if !slices.Contains(r.Plan.Pooled, s) {
			order = append(order, s)
		}
	}
	order = append(order, OtherSites)
	for _, s := range order {
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
	rel, err := pol.Protect(tw)
	if err != nil {
		return nil, fmt.Errorf("reports: disclosure control: %w", err)
	}
	ct := crossTableOf(rel, tw)
	return &ct, nil
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

// GroupName names the publication group of a view in lang: all prisons, one prison,
// the pooled prisons, or a funder's prisons.
func GroupName(f *Figures, lang string) string {
	switch f.Group.Kind {
	case GroupAll:
		return f.Catalog.Text("group_all", lang)
	case GroupSite, GroupOther:
		return f.Label(DimSite, rowCode(f.Group.Code), lang)
	}
	var names []string
	for _, s := range f.Group.Sites {
		names = append(names, f.Label(DimSite, s, lang))
	}
	return strings.Join(names, ", ")
}

// LevelsText lists, in lang, the breakdowns of a view that its release merged into
// coarser categories or left out because too many of their cells would have been
// suppressed (PRIVACY.md R6); "—" when there are none.
func LevelsText(f *Figures, lang string) string {
	var parts []string
	for _, l := range f.Levels {
		what := f.Catalog.Text("merged", lang)
		if l.Level >= 2 {
			what = f.Catalog.Text("dropped", lang)
		}
		ind := l.Indicator
		if l.Indicator == EntrantsIndicator {
			ind = f.Catalog.Text("entrants_tables", lang)
		}
		parts = append(parts, fmt.Sprintf("%s, %s: %s", ind, f.DimLabel(l.Dim, lang), what))
	}
	if len(parts) == 0 {
		return "—"
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// Interviewed returns the interviewed entrants of all sites, the true count (for the
// operator who makes releases, never an output), and false if the release has none.
func (r *Release) Interviewed() (int, bool) {
	return r.storedCount(yesKey(EntrantsIndicator, AllGroup, cut{}))
}
