package reports

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// Text is a label in French, Dutch and English.
type Text = collector.Text

// Family groups the parts of one indicator of QUESTIONNAIRE.md (I03 by substance, I13
// on OST and continued…): one workbook sheet, one section of the HTML report.
type Family struct {
	ID            string `json:"id"`
	Questionnaire string `json:"questionnaire"`
	Title         Text   `json:"title"`
	// SingleChoice marks a family whose indicators are the choices of one single-choice
	// item (I06, the main drug): their numerators add up to their common denominator, and
	// disclosure control protects them as one table (PRIVACY.md R13).
	SingleChoice bool `json:"single_choice,omitempty"`
	// Theme gathers families under one framing (collector.IndicatorFamily.Theme).
	Theme string `json:"theme,omitempty"`
	// Distribution marks the table of one item's answers (collector.Definition.Distributions),
	// shown with the others of its questionnaire rather than as a section of its own.
	Distribution bool `json:"distribution,omitempty"`
}

// Indicator describes one published share.
type Indicator struct {
	ID            string `json:"id"`
	Family        string `json:"family"`
	Questionnaire string `json:"questionnaire"`
	// Population names the denominator: indicators of one population count the same
	// people in their denominators, which disclosure control protects as one cell
	// (PRIVACY.md R13). Empty: the indicator's own.
	Population  string   `json:"population,omitempty"`
	Sensitive   bool     `json:"sensitive"`
	Label       Text     `json:"label"`
	Short       Text     `json:"short"`
	Numerator   Text     `json:"numerator"`
	Denominator Text     `json:"denominator"`
	Breakdowns  []string `json:"breakdowns"`
	References  []string `json:"references"`
	// Decl is the declaration in its questionnaire's definition, with the conditions
	// that package queries counts.
	Decl collector.Indicator `json:"-"`
}

// Reference is a published value of another survey, shown beside ours as a marked
// comparison and never mixed into our counts (QUESTIONNAIRE.md).
type Reference struct {
	ID         string  `json:"id"`
	Indicator  string  `json:"indicator"`
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	Year       int     `json:"year"`
	Population Text    `json:"population"`
	Source     string  `json:"source"`
	Note       Text    `json:"note"`
}

// Category is one published group of a breakdown dimension.
type Category struct {
	Code  string `json:"code"`
	Label Text   `json:"label"`
}

// Merge is a coarser category of a breakdown dimension, published instead of its parts
// when too many of their cells would be suppressed (PRIVACY.md R6).
type Merge struct {
	Code  string   `json:"code"`
	Parts []string `json:"parts"`
	Label Text     `json:"label"`
}

// Catalog is the published indicators with their labels, reference values and the
// labels of breakdown categories. The indicators are those the questionnaire
// definitions declare (collector.Indicator), in the order of their questionnaires' ids;
// the categories of the breakdown dimensions are data of this package (categories.json).
// The words around them (notes, headings, the suppression mark) are in the catalogue of
// words (collector/words, keys report.*), which every output reads.
type Catalog struct {
	Families   []Family              `json:"families"`
	Indicators []Indicator           `json:"indicators"`
	References []Reference           `json:"references"`
	Categories map[string][]Category `json:"categories"`
	Merges     map[string][]Merge    `json:"merges"`
	// Questionnaires are the titles of the questionnaires, by id.
	Questionnaires map[string]Text `json:"questionnaires"`
}

//go:embed categories.json
var categoriesJSON []byte

// Breakdown dimensions, in publication order.
const (
	DimSite             = "site"
	DimGender           = "gender"
	DimAgeBand          = "age_band"
	DimNationalityGroup = "nationality_group"
)

// Dimensions lists the breakdown dimensions an indicator may have.
var Dimensions = []string{DimSite, DimGender, DimAgeBand, DimNationalityGroup}

// LoadCatalog returns the catalog of the built-in questionnaires, checked.
func LoadCatalog() (*Catalog, error) {
	q, err := collector.BuiltinCatalog()
	if err != nil {
		return nil, err
	}
	return NewCatalog(q)
}

// NewCatalog returns the catalog of the indicators that the latest version of every
// questionnaire of q declares, checked.
func NewCatalog(q *collector.Catalog) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(categoriesJSON))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("reports: categories.json: %w", err)
	}
	var dists []*collector.Definition
	c.Questionnaires = map[string]Text{}
	for _, id := range q.IDs() {
		d, _ := q.Latest(id)
		c.Questionnaires[id] = d.Title
		for _, f := range d.Families {
			c.Families = append(c.Families, Family{ID: f.ID, Questionnaire: d.ID, Title: f.Title, SingleChoice: f.SingleChoice, Theme: f.Theme})
		}
		for _, decl := range d.Indicators {
			c.add(decl)
		}
		dists = append(dists, d)
	}
	// Declared families in the order of their ids, indicators in the order of their
	// families: the follow-up's I20 and I22 on either side of the entry's I21, as
	// QUESTIONNAIRE.md numbers them.
	slices.SortStableFunc(c.Families, func(a, b Family) int { return strings.Compare(a.ID, b.ID) })
	// Then the distribution tables, by questionnaire in the order their declared
	// families came (the rest in the order of their ids), by item in questionnaire order.
	rank := map[string]int{}
	for _, f := range c.Families {
		if _, ok := rank[f.Questionnaire]; !ok {
			rank[f.Questionnaire] = len(rank)
		}
	}
	slices.SortStableFunc(dists, func(a, b *collector.Definition) int {
		ra, oka := rank[a.ID]
		rb, okb := rank[b.ID]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, d := range dists {
		fams, inds := d.Distributions()
		var versions []*collector.Definition
		for _, v := range q.Versions(d.ID) {
			def, _ := q.Get(d.ID, v)
			versions = append(versions, def)
		}
		keep, err := independentDistributions(versions, fams, inds)
		if err != nil {
			return nil, fmt.Errorf("reports: indicators: %w", err)
		}
		fams = slices.DeleteFunc(fams, func(f collector.IndicatorFamily) bool { return !keep[f.ID] })
		inds = slices.DeleteFunc(inds, func(i collector.Indicator) bool { return !keep[i.Family] })
		for _, f := range fams {
			c.Families = append(c.Families, Family{ID: f.ID, Questionnaire: d.ID, Title: f.Title, SingleChoice: f.SingleChoice, Distribution: true})
		}
		for _, decl := range inds {
			it := d.Item(decl.Item)
			key := "report.dist_denominator_choice"
			if it.Type == collector.TypeMulti {
				key = "report.dist_denominator_multi"
			}
			for _, l := range words.Langs {
				lang := string(l)
				set(&decl.Numerator, lang, l.T("report.dist_numerator", decl.Label.In(lang), decl.Code))
				set(&decl.Denominator, lang, l.T(key, d.Title.In(lang), it.Label.In(lang), it.Code))
			}
			c.add(decl)
		}
	}
	famRank := map[string]int{}
	for i, f := range c.Families {
		famRank[f.ID] = i
	}
	slices.SortStableFunc(c.Indicators, func(a, b Indicator) int { return famRank[a.Family] - famRank[b.Family] })
	at := map[string]int{}
	for i, ind := range c.Indicators {
		at[ind.ID] = i
	}
	slices.SortStableFunc(c.References, func(a, b Reference) int { return at[a.Indicator] - at[b.Indicator] })
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("reports: indicators: %w", err)
	}
	return &c, nil
}

// Declared returns the declarations of the catalog's indicators, which a Source counts.
func (c *Catalog) Declared() []collector.Indicator {
	out := make([]collector.Indicator, len(c.Indicators))
	for i, ind := range c.Indicators {
		out[i] = ind.Decl
	}
	return out
}

// add appends a declared indicator and its references.
func (c *Catalog) add(decl collector.Indicator) {
	ind := Indicator{ID: decl.ID, Family: decl.Family, Questionnaire: decl.Questionnaire, Population: decl.DenominatorGroup,
		Sensitive: decl.Sensitive, Label: decl.Label, Short: decl.Short, Numerator: decl.Numerator,
		Denominator: decl.Denominator, Breakdowns: decl.Breakdowns, References: []string{}, Decl: decl}
	for _, r := range decl.References {
		ind.References = append(ind.References, r.ID)
		c.References = append(c.References, Reference{ID: r.ID, Indicator: decl.ID, Low: r.Low, High: r.High,
			Year: r.Year, Population: r.Population, Source: r.Source, Note: r.Note})
	}
	c.Indicators = append(c.Indicators, ind)
}

// set sets the text of t in lang.
func set(t *Text, lang, s string) {
	switch lang {
	case "fr":
		t.FR = s
	case "nl":
		t.NL = s
	case "en":
		t.EN = s
	}
}

// JSON returns the catalog as published: the indicators, their populations and
// categories, which the methodology of every output states, and from which the
// independent auditor (reports/audit) reads what an intruder knows.
func (c *Catalog) JSON() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("reports: marshal catalog: %v", err)) // plain data always marshals
	}
	return b
}

func (c *Catalog) check() error {
	families := map[string]bool{}
	for _, f := range c.Families {
		families[f.ID] = true
	}
	refs := map[string]bool{}
	for _, r := range c.References {
		if refs[r.ID] {
			return fmt.Errorf("reference %s listed twice", r.ID)
		}
		refs[r.ID] = true
	}
	seen := map[string]bool{}
	for _, ind := range c.Indicators {
		switch {
		case seen[ind.ID]:
			return fmt.Errorf("indicator %s listed twice", ind.ID)
		case !families[ind.Family]:
			return fmt.Errorf("indicator %s: unknown family %s", ind.ID, ind.Family)
		case ind.Label.FR == "" || ind.Label.NL == "" || ind.Label.EN == "":
			return fmt.Errorf("indicator %s: label needs fr, nl and en", ind.ID)
		}
		seen[ind.ID] = true
		for _, b := range ind.Breakdowns {
			if !slices.Contains(Dimensions, b) {
				return fmt.Errorf("indicator %s: unknown breakdown %s", ind.ID, b)
			}
		}
	}
	for _, dim := range []string{DimGender, DimAgeBand, DimNationalityGroup} {
		if len(c.Categories[dim]) == 0 {
			return fmt.Errorf("no categories for %s", dim)
		}
		merged := map[string]bool{}
		for _, m := range c.Merges[dim] {
			if len(m.Parts) < 2 {
				return fmt.Errorf("merge %s of %s has fewer than two parts", m.Code, dim)
			}
			if slices.ContainsFunc(c.Categories[dim], func(x Category) bool { return x.Code == m.Code }) {
				return fmt.Errorf("merge %s of %s is also a category", m.Code, dim)
			}
			for _, p := range m.Parts {
				if merged[p] || !slices.ContainsFunc(c.Categories[dim], func(x Category) bool { return x.Code == p }) {
					return fmt.Errorf("merge %s of %s: part %s is unknown or merged twice", m.Code, dim, p)
				}
				merged[p] = true
			}
		}
	}
	for _, f := range c.Families {
		if !f.SingleChoice {
			continue
		}
		pop := ""
		for _, ind := range c.Indicators {
			if ind.Family != f.ID {
				continue
			}
			if pop == "" {
				pop = ind.PopulationID()
			}
			if ind.PopulationID() != pop {
				return fmt.Errorf("single-choice family %s: indicator %s has another population", f.ID, ind.ID)
			}
		}
	}
	return nil
}

// PopulationID returns the name of the indicator's denominator population.
func (ind Indicator) PopulationID() string {
	if ind.Population != "" {
		return ind.Population
	}
	return ind.ID
}

// Family returns the family with the given id.
func (c *Catalog) Family(id string) (Family, bool) {
	i := slices.IndexFunc(c.Families, func(f Family) bool { return f.ID == id })
	if i < 0 {
		return Family{}, false
	}
	return c.Families[i], true
}

// MergedCategories returns the categories of dim at merge level 1: each merge in place
// of its parts, the categories not merged as they are, in catalog order.
func (c *Catalog) MergedCategories(dim string) []string {
	var out []string
	done := map[string]bool{}
	for _, cat := range c.Categories[dim] {
		m, ok := c.mergeOf(dim, cat.Code)
		switch {
		case !ok:
			out = append(out, cat.Code)
		case !done[m.Code]:
			done[m.Code] = true
			out = append(out, m.Code)
		}
	}
	return out
}

// mergeOf returns the merge that category code of dim is part of.
func (c *Catalog) mergeOf(dim, code string) (Merge, bool) {
	for _, m := range c.Merges[dim] {
		if slices.Contains(m.Parts, code) {
			return m, true
		}
	}
	return Merge{}, false
}

// partsOf returns the categories that a category of dim stands for: the parts of a
// merge, or the category itself.
func (c *Catalog) partsOf(dim, code string) []string {
	for _, m := range c.Merges[dim] {
		if m.Code == code {
			return m.Parts
		}
	}
	return []string{code}
}

// choiceGroups lists the indicators of each single-choice family: the categories of one
// item, which add up to its population (one table of a release, and one relation an
// intruder knows).
func (c *Catalog) choiceGroups(families map[string]bool) [][]string {
	var out [][]string
	for _, f := range c.Families {
		if !f.SingleChoice || !families[f.ID] {
			continue
		}
		var ids []string
		for _, ind := range c.Indicators {
			if ind.Family == f.ID {
				ids = append(ids, ind.ID)
			}
		}
		out = append(out, ids)
	}
	return out
}

// Indicator returns the indicator with the given id.
func (c *Catalog) Indicator(id string) (Indicator, bool) {
	i := slices.IndexFunc(c.Indicators, func(x Indicator) bool { return x.ID == id })
	if i < 0 {
		return Indicator{}, false
	}
	return c.Indicators[i], true
}

// reportKey prefixes the keys of the report's words in the catalogue.
const reportKey = "report."

// Text returns the report text key in lang: the catalogue of words' "report."+key
// ("total", "breakdown_site"…), for callers that name a report word by a computed key.
// An unknown language gives the key in brackets, as a missing word does.
func (c *Catalog) Text(key, lang string) string {
	return words.Lang(lang).T(reportKey + key)
}

// ReferencesOf returns the reference values shown beside indicator id.
func (c *Catalog) ReferencesOf(id string) []Reference {
	ind, _ := c.Indicator(id)
	var out []Reference
	for _, r := range c.References {
		if slices.Contains(ind.References, r.ID) {
			out = append(out, r)
		}
	}
	return out
}

// publishedCategory maps a stored value of a breakdown dimension to its published
// category: 8, 9 and unasked are "unknown"; nationality groups collapse to the six
// published ones (QUESTIONNAIRE.md).
func publishedCategory(dim, stored string) string {
	switch dim {
	case DimGender:
		if stored == "M" || stored == "F" || stored == "X" {
			return stored
		}
	case DimAgeBand:
		if slices.Contains(collector.AgeBands, stored) {
			return stored
		}
	case DimNationalityGroup:
		for _, g := range collector.PublishedGroups {
			if slices.Contains(g.Parts, stored) {
				return g.Code
			}
		}
	default:
		return stored
	}
	return "unknown"
}
