package reports

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// Trends: the memorandum argues with change over time. A view of a release shows, for
// every declared indicator, a breakdown by year (DimYear): one row per year that has a
// release, up to the view's own, each the total that year's latest release published for
// the same publication group — the same cell, with its status, a suppressed total staying
// suppressed. Nothing is aggregated anew (PRIVACY.md R11): a trend is a layout of numbers
// already published, and a year whose release has no such group or indicator has no row.
// Item tables (distributions) have no trend: a row per code and year would drown them.

// DimYear is the breakdown of an indicator by year (trends); its categories are years.
const DimYear = "year"

// History returns the latest valid release of every year before year that has one,
// oldest first: what the trends of a view of year show beside it. Later years are left
// out, so that a year's report shows its past and does not change with the future.
func (p *Publisher) History(ctx context.Context, year int) ([]*Release, error) {
	all, err := p.Store.ListReleases(ctx, 0)
	if err != nil {
		return nil, err
	}
	byYear := map[int][]ReleaseInfo{}
	for _, r := range all {
		if r.Year < year {
			byYear[r.Year] = append(byYear[r.Year], r)
		}
	}
	years := make([]int, 0, len(byYear))
	for y := range byYear {
		years = append(years, y)
	}
	slices.Sort(years)
	var out []*Release
	for _, y := range years {
		valid := validChain(byYear[y])
		if len(valid) == 0 {
			continue
		}
		r, err := p.Load(ctx, valid[len(valid)-1].ID)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// HistoryKey identifies a history: a view's files depend on the releases its trends
// show, not only on its own.
func HistoryKey(history []*Release) string {
	ids := make([]string, len(history))
	for i, r := range history {
		ids[i] = r.ID
	}
	return strings.Join(ids, "+")
}

// AddTrends adds to every declared indicator of f its breakdown by year: the totals of the
// same group in the releases of history (History), then f's own. An indicator no earlier
// release has keeps no such breakdown: one year is not a trend.
func (f *Figures) AddTrends(history []*Release) error {
	for i, ind := range f.Indicator {
		if ind.Decl.Distribution {
			continue
		}
		var rows []Row
		for _, h := range history {
			row, ok, err := h.totalRow(ind.ID, f.Group.Code)
			if err != nil {
				return err
			}
			if ok && !emptyRow(row) {
				row.Group = strconv.Itoa(h.Year)
				rows = append(rows, row)
			}
		}
		if len(rows) == 0 {
			continue
		}
		own := ind.Total()
		own.Group = strconv.Itoa(f.Year)
		f.Indicator[i].Breakdowns = append(slices.Clone(ind.Breakdowns), Breakdown{Dim: DimYear, Rows: append(rows, own)})
	}
	return nil
}

// Trend returns the breakdown by year of an indicator, if it has one.
func (f IndicatorFigures) Trend() (Breakdown, bool) {
	for _, b := range f.Breakdowns {
		if b.Dim == DimYear {
			return b, true
		}
	}
	return Breakdown{}, false
}

// totalRow returns the total of indicator id for group as release r published it, and
// whether r publishes it.
func (r *Release) totalRow(id, group string) (Row, bool, error) {
	if _, ok := r.Plan.group(group); !ok {
		return Row{}, false, nil
	}
	i := slices.IndexFunc(r.Plan.Indicators, func(pi PlanIndicator) bool { return pi.ID == id })
	if i < 0 {
		return Row{}, false, nil
	}
	pi := r.Plan.Indicators[i]
	row, err := r.row(pi, group, "", cut{}, disclosure.Sensitivity(pi.Sensitive))
	return row, err == nil, err
}

// validChain returns, of the releases of one year in the order they were made, the valid
// ones (see [Publisher.Valid]): the release protected with none, then the one protected
// with it, and so on; of two with the same predecessors (made at once), the first listed.
func validChain(all []ReleaseInfo) []ReleaseInfo {
	all = slices.Clone(all)
	var valid []ReleaseInfo
	var ids []string
	for {
		i := slices.IndexFunc(all, func(r ReleaseInfo) bool { return slices.Equal(r.Earlier, ids) })
		if i < 0 {
			return valid
		}
		valid = append(valid, all[i])
		ids = append(ids, all[i].ID)
		all = slices.Delete(all, i, i+1)
	}
}

// View returns the figures of one publication group of release r with their trends (see
// [Release.View] and [Figures.AddTrends]), and the history the trends were read from,
// whose [HistoryKey] a cache of the rendered files must include.
func (p *Publisher) View(ctx context.Context, r *Release, group string, siteNames map[string]Text) (*Figures, []*Release, error) {
	f, err := r.View(p.Catalog, group, siteNames)
	if err != nil {
		return nil, nil, err
	}
	history, err := p.History(ctx, r.Year)
	if err != nil {
		return nil, nil, err
	}
	if err := f.AddTrends(history); err != nil {
		return nil, nil, err
	}
	return f, history, nil
}
