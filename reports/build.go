package reports

import (
	"slices"
	"strings"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// OtherSites is the published category that pools small sites (PRIVACY.md R10).
const OtherSites = "other_sites"

// Total is the breakdown of the whole population, without a dimension.
const Total = "total"

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

// Figures is the view of a release that one output shows: the rows of one publication
// group, every number protected, and nothing else.
type Figures struct {
	Year    int
	Release string // the release id
	// Group is the publication group shown: all sites, one site, "other sites" or a
	// funder's sites.
	Group  Group
	Sites  []string // covered
	Pooled []string // covered sites shown only inside OtherSites
	// AllSites are the sites of the whole release, for a reader who puts views together.
	AllSites  []string
	CutOff    time.Time
	Config    disclosure.Config
	Catalog   *Catalog
	SiteNames map[string]Text
	Indicator []IndicatorFigures
	Entrants  []CrossTable // interviewed entrants by site and gender, age band, nationality group
	// Arrivals is the number of questionnaires by site and month, nil otherwise: live,
	// not a release (it counts questionnaires, not answers). Sites shown only pooled are
	// pooled here too (R10).
	Arrivals *CrossTable
	// Levels lists the breakdowns of the view merged or dropped (R6).
	Levels []Level
	// Questionnaires lists the questionnaire versions the release covers.
	Questionnaires []string
}

// Only returns the figures of questionnaire q alone: its indicators, and the entrants
// tables if they are its (EntrantsIndicator). A view, like any other: rows of the same
// release, nothing computed (R11).
func (f *Figures) Only(q string) *Figures {
	out := *f
	out.Indicator = nil
	for _, ind := range f.Indicator {
		if ind.Questionnaire == q {
			out.Indicator = append(out.Indicator, ind)
		}
	}
	if i19, ok := f.Catalog.Indicator(EntrantsIndicator); !ok || i19.Questionnaire != q {
		out.Entrants = nil
	}
	out.Questionnaires = nil
	for _, v := range f.Questionnaires {
		if strings.HasPrefix(v, q+" ") {
			out.Questionnaires = append(out.Questionnaires, v)
		}
	}
	return &out
}

// QuestionnaireIDs returns the ids of the questionnaires with figures, in catalog order.
func (f *Figures) QuestionnaireIDs() []string {
	var out []string
	for _, ind := range f.Indicator {
		if !slices.Contains(out, ind.Questionnaire) {
			out = append(out, ind.Questionnaire)
		}
	}
	return out
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
	for _, m := range f.Catalog.Merges[dim] {
		if m.Code == code {
			return m.Label.In(lang)
		}
	}
	return code
}

// DimLabel returns the name of a breakdown dimension in lang ("Prison", "Gender"…).
func (f *Figures) DimLabel(dim, lang string) string {
	return f.Catalog.Text("breakdown_"+dim, lang)
}

// themeWords are the catalogue keys of each theme's framing (collector.Themes): its
// title, the paragraph that frames it, the heading of its comparison.
var themeWords = map[string]struct{ Title, Intro, ByNationality string }{
	"care": {"report.care_title", "report.care_intro", "report.care_by_nationality"},
}

// ThemeComparison is the shares of the indicators of one theme side by side, by the
// categories of one breakdown: for the care theme, by nationality group, Belgians beside
// each group of foreign nationals (the memorandum's comparison). Every cell is a row of
// an indicator's own table (Row, with its status): a layout, nothing computed (R11).
type ThemeComparison struct {
	Theme, Dim string
	Cols       []string // the categories that some indicator publishes, in catalog order
	Rows       []ThemeRow
}

// ThemeRow is one indicator of a theme comparison.
type ThemeRow struct {
	Indicator IndicatorFigures
	Total     Row
	Cells     []Row  // by Cols; a category the indicator does not publish has Missing set
	Missing   []bool // by Cols
}

// Compare returns the theme comparison of the indicators of theme by dim, false when no
// indicator of the theme publishes that breakdown.
func (f *Figures) Compare(theme, dim string) (ThemeComparison, bool) {
	tc := ThemeComparison{Theme: theme, Dim: dim}
	var rows []map[string]Row
	for _, ind := range f.Indicator {
		fam, ok := f.Catalog.Family(ind.Family)
		if !ok || fam.Theme != theme {
			continue
		}
		byCat := map[string]Row{}
		for _, b := range ind.Breakdowns {
			if b.Dim == dim {
				for _, r := range b.Rows {
					byCat[r.Group] = r
				}
			}
		}
		if len(byCat) == 0 {
			continue
		}
		tc.Rows = append(tc.Rows, ThemeRow{Indicator: ind, Total: ind.Total()})
		rows = append(rows, byCat)
	}
	if len(tc.Rows) == 0 {
		return tc, false
	}
	// The categories first (Belgians, then each group of foreign nationals), then the
	// merged ones of the indicators whose breakdown was merged (R6).
	cats := append(f.catalogCodes(dim), f.Catalog.MergedCategories(dim)...)
	for _, c := range cats {
		if slices.Contains(tc.Cols, c) {
			continue
		}
		for _, byCat := range rows {
			if _, ok := byCat[c]; ok {
				tc.Cols = append(tc.Cols, c)
				break
			}
		}
	}
	for i, byCat := range rows {
		for _, c := range tc.Cols {
			r, ok := byCat[c]
			tc.Rows[i].Cells = append(tc.Rows[i].Cells, r)
			tc.Rows[i].Missing = append(tc.Rows[i].Missing, !ok)
		}
	}
	return tc, true
}

// catalogCodes are the category codes of dim in catalog order.
func (f *Figures) catalogCodes(dim string) []string {
	var out []string
	for _, c := range f.Catalog.Categories[dim] {
		out = append(out, c.Code)
	}
	return out
}
