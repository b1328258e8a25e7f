package reports

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// This file lays out the cells of a release and the sum relations between them, for
// disclosure control to protect at once (PRIVACY.md R11–R13).
//
// A release publishes, for every publication group (all sites, each site shown on its
// own, the pooled "other sites", each funder's sites), every indicator's numerator and
// denominator in total and by gender, age band and nationality group. The cells are
// keyed by their coordinates, so that a cell any two outputs show is one cell:
//
//	indicator=I01|group=site:haren|answer=yes|gender=F   the numerator
//	indicator=I01|group=site:haren|answer=no|gender=F    the "no" count (never shown)
//	population=entrants_12m|group=site:haren|gender=F    the denominator, shared by I01 and I03
//
// and the relations an intruder knows are written out: denominator = yes + no; the
// categories of a breakdown add up to the total; a group adds up its sites (a site shown
// only pooled is a Hidden cell, so that no difference of two groups gives it back); the
// choices of a single-choice item add up to their denominator; a merged category adds up
// its parts. Cells no output shows (the "no" counts, categories merged away) are Residual:
// they may be computed only when that gives 0 or at least k.

// Group kinds.
const (
	GroupAll    = "all"
	GroupSite   = "site"
	GroupOther  = "other"
	GroupFunder = "funder"
)

// AllGroup is the code of the group of all sites.
const AllGroup = "all"

// Group is a publication group of a release: sites whose figures are published together.
type Group struct {
	// Code identifies the group: "all", "site:haren", "other_sites" or
	// "funder:haren+lantin".
	Code  string   `json:"code"`
	Kind  string   `json:"kind"`
	Sites []string `json:"sites"` // the sites it covers, sorted
	// Members are the groups its site breakdown shows: the sites shown on their own and,
	// for all sites, "other sites".
	Members []string `json:"members,omitempty"`
	// Breakdowns is set for the groups published by gender, age band and nationality
	// group too: all sites, and each funder's sites. The others have their totals.
	Breakdowns bool `json:"breakdowns,omitempty"`
}

// SiteGroup returns the code of the group of one site.
func SiteGroup(site string) string { return "site:" + site }

// FunderGroup returns the code of the group of a funder's sites.
func FunderGroup(sites []string) string {
	s := slices.Clone(sites)
	slices.Sort(s)
	return "funder:" + strings.Join(s, "+")
}

// PoolGroup returns the code of the group of the pooled sites, shown as "other sites".
// The code names its sites: the pool of another release, of other sites, is another
// group, so that no relation between releases joins the two.
func PoolGroup(sites []string) string { return "pool:" + strings.Join(sorted(sites), "+") }

// rowCode is the code a group has as a row of a site breakdown: the site, or
// OtherSites for the pool.
func rowCode(group string) string {
	if s, ok := groupSite(group); ok {
		return s
	}
	if strings.HasPrefix(group, "pool:") {
		return OtherSites
	}
	return group
}

// groupSite returns the site of a site group code.
func groupSite(code string) (string, bool) { return strings.CutPrefix(code, "site:") }

// PlanIndicator is an indicator as a release tabulates it.
type PlanIndicator struct {
	ID         string   `json:"id"`
	Family     string   `json:"family"`
	Population string   `json:"population"`
	Sensitive  bool     `json:"sensitive,omitempty"`
	Site       bool     `json:"site,omitempty"` // broken down by site
	Dims       []string `json:"dims,omitempty"` // the other breakdowns
}

// Level says that a breakdown of a release is merged (1: coarser categories) or dropped
// (2) because too many of its cells would be suppressed (PRIVACY.md R6). Group "*" is
// every group (the entrants tables).
type Level struct {
	Indicator string `json:"indicator"`
	Group     string `json:"group"`
	Dim       string `json:"dim"`
	Level     int    `json:"level"`
}

// Plan is the shape of a release: what it tabulates for which groups. It is stored with
// the release, so that its cells and relations can be laid out again when a later
// release is protected jointly with it.
type Plan struct {
	Indicators []PlanIndicator `json:"indicators"`
	// Choices lists the single-choice families: indicators whose numerators add up to
	// their common denominator.
	Choices [][]string `json:"choices,omitempty"`
	Groups  []Group    `json:"groups"`
	// Pooled are the sites shown only inside "other sites" (R10).
	Pooled []string `json:"pooled"`
	Levels []Level  `json:"levels,omitempty"`
	// Categories are the categories of each breakdown dimension, and Merges the merged
	// ones, as the catalog had them.
	Categories map[string][]string `json:"categories"`
	Merges     map[string][]Merge  `json:"merges"`
}

// breakdownDims are the dimensions other than site, in publication order.
var breakdownDims = []string{DimGender, DimAgeBand, DimNationalityGroup}

// level returns the merge level of a breakdown.
func (p *Plan) level(ind, group, dim string) int {
	if ind == EntrantsIndicator {
		group = "*"
	}
	for _, l := range p.Levels {
		if l.Indicator == ind && l.Group == group && l.Dim == dim {
			return l.Level
		}
	}
	return 0
}

// setLevel records a breakdown's merge level.
func (p *Plan) setLevel(ind, group, dim string, level int) {
	if ind == EntrantsIndicator {
		group = "*"
	}
	for i, l := range p.Levels {
		if l.Indicator == ind && l.Group == group && l.Dim == dim {
			p.Levels[i].Level = level
			return
		}
	}
	p.Levels = append(p.Levels, Level{Indicator: ind, Group: group, Dim: dim, Level: level})
}

// group returns the group with the given code.
func (p *Plan) group(code string) (Group, bool) {
	i := slices.IndexFunc(p.Groups, func(g Group) bool { return g.Code == code })
	if i < 0 {
		return Group{}, false
	}
	return p.Groups[i], true
}

// mergedCategories are the categories of dim at merge level 1.
func (p *Plan) mergedCategories(dim string) []string {
	var out []string
	done := map[string]bool{}
	for _, c := range p.Categories[dim] {
		m, ok := p.mergeOf(dim, c)
		switch {
		case !ok:
			out = append(out, c)
		case !done[m.Code]:
			done[m.Code] = true
			out = append(out, m.Code)
		}
	}
	return out
}

func (p *Plan) mergeOf(dim, code string) (Merge, bool) {
	for _, m := range p.Merges[dim] {
		if slices.Contains(m.Parts, code) {
			return m, true
		}
	}
	return Merge{}, false
}

// shownCategories are the categories a breakdown publishes: none when it is dropped.
func (p *Plan) shownCategories(ind, group, dim string) []string {
	switch p.level(ind, group, dim) {
	case 0:
		return p.Categories[dim]
	case 1:
		return p.mergedCategories(dim)
	}
	return nil
}

// cut is a row of an indicator's table: the total (Dim empty) or one category.
type cut struct{ Dim, Cat string }

func (c cut) coords() []disclosure.Coord {
	if c.Dim == "" {
		return nil
	}
	return []disclosure.Coord{{Dim: c.Dim, Value: c.Cat}}
}

// The coordinates of the cells.
const (
	coordIndicator  = "indicator"
	coordPopulation = "population"
	coordGroup      = "group"
	coordAnswer     = "answer"
	coordRelease    = "release"
	coordChange     = "change"
)

func yesKey(ind, group string, c cut) disclosure.Key {
	return disclosure.KeyOf(append(c.coords(), disclosure.Coord{Dim: coordIndicator, Value: ind},
		disclosure.Coord{Dim: coordGroup, Value: group}, disclosure.Coord{Dim: coordAnswer, Value: "yes"})...)
}

func noKey(ind, group string, c cut) disclosure.Key {
	return disclosure.KeyOf(append(c.coords(), disclosure.Coord{Dim: coordIndicator, Value: ind},
		disclosure.Coord{Dim: coordGroup, Value: group}, disclosure.Coord{Dim: coordAnswer, Value: "no"})...)
}

func popKey(pop, group string, c cut) disclosure.Key {
	return disclosure.KeyOf(append(c.coords(), disclosure.Coord{Dim: coordPopulation, Value: pop},
		disclosure.Coord{Dim: coordGroup, Value: group})...)
}

// withCoord returns k with one more coordinate.
func withCoord(k disclosure.Key, c disclosure.Coord) disclosure.Key {
	return disclosure.KeyOf(append(k.Coords(), c)...)
}

// cellSpec is a cell of the layout, before its count is known.
type cellSpec struct {
	key    disclosure.Key
	kind   disclosure.Kind
	margin bool
	grand  bool
	// How to count it: the indicator (or the population of a denominator) among the
	// records of sites, in a cut.
	ind, pop string
	group    string
	sites    []string
	cut      cut
	answer   string // "yes", "no", or "" for a denominator
}

// layout is the cells of a release and the relations between them.
type layout struct {
	cells []cellSpec
	index map[disclosure.Key]int
	sums  []disclosure.Sum
}

func (l *layout) add(c cellSpec) {
	if i, ok := l.index[c.key]; ok {
		// A denominator shared by indicators of one population: shown if any shows it.
		old := &l.cells[i]
		if c.kind == disclosure.Free {
			old.kind = disclosure.Free
		}
		old.margin = old.margin || c.margin
		old.grand = old.grand || c.grand
		return
	}
	l.index[c.key] = len(l.cells)
	l.cells = append(l.cells, c)
}

func (l *layout) sum(total disclosure.Key, parts ...disclosure.Key) {
	l.sums = append(l.sums, disclosure.Sum{Total: total, Parts: parts})
}

// unit is a set of sites that the relations of a release never split: every group adds
// up units. A unit is a published group, or an aggregate no output shows (Residual),
// or pooled sites that are not all of "other sites" (Hidden: R10).
type unit struct {
	code  string
	sites []string
	kind  disclosure.Kind
}

// totalUnits are the units of the totals: each site shown on its own, and each pooled
// site on its own as a hidden unit. A site's cells have the same key in every release,
// pooled or not, so that the changes between releases join them (a site pooled in one
// release and shown in the next must not give its earlier count back).
func (p *Plan) totalUnits() []unit {
	var out []unit
	for _, g := range p.Groups {
		if g.Kind == GroupSite {
			out = append(out, unit{g.Code, g.Sites, disclosure.Free})
		}
	}
	for _, s := range p.Pooled {
		out = append(out, unit{SiteGroup(s), []string{s}, disclosure.Hidden})
	}
	return out
}

// dimUnits are the units of the breakdowns by gender, age band and nationality group:
// the regions of the groups that have breakdowns (all sites, the funders' groups), each
// the sites that belong to the same of those groups.
func (p *Plan) dimUnits() []unit {
	all, _ := p.group(AllGroup)
	var withDims []Group
	for _, g := range p.Groups {
		if g.Breakdowns {
			withDims = append(withDims, g)
		}
	}
	regions := map[string][]string{}
	var order []string
	for _, s := range all.Sites {
		sig := make([]byte, len(withDims))
		for i, g := range withDims {
			if slices.Contains(g.Sites, s) {
				sig[i] = 1
			}
		}
		if _, ok := regions[string(sig)]; !ok {
			order = append(order, string(sig))
		}
		regions[string(sig)] = append(regions[string(sig)], s)
	}
	var out []unit
	for _, sig := range order {
		sites := sorted(regions[sig])
		u := unit{sites: sites, kind: disclosure.Residual}
		pooled := 0
		for _, s := range sites {
			if slices.Contains(p.Pooled, s) {
				pooled++
			}
		}
		if pooled == len(sites) && pooled < len(p.Pooled) {
			u.kind = disclosure.Hidden
		}
		switch i := slices.IndexFunc(withDims, func(g Group) bool { return slices.Equal(g.Sites, sites) }); {
		case i >= 0:
			u.code, u.kind = withDims[i].Code, disclosure.Free
		case len(sites) == 1:
			u.code = SiteGroup(sites[0])
		default:
			u.code = "atom:" + strings.Join(sites, "+")
		}
		out = append(out, u)
	}
	return out
}

// unitsOf returns the codes of the units that make up a set of sites.
func unitsOf(units []unit, sites []string) []string {
	var out []string
	for _, u := range units {
		if len(u.sites) > 0 && slices.Contains(sites, u.sites[0]) {
			out = append(out, u.code)
		}
	}
	return out
}

// layout lays out the cells and relations of the plan. Each indicator gets its totals,
// then either the entrants tables (EntrantsIndicator) or its breakdowns; the sums of the
// single-choice items come last, over every cell laid out. The order of the cells is
// part of the result (the system for disclosure control is built in it), so the steps
// run in a fixed order.
func (p *Plan) layout() (*layout, error) {
	tu, du := p.totalUnits(), p.dimUnits()
	if err := p.checkUnits(tu, du); err != nil {
		return nil, err
	}
	b := &layoutBuilder{p: p, l: &layout{index: map[disclosure.Key]int{}}, tu: tu, du: du, published: map[string]bool{}}
	for _, g := range p.Groups {
		b.published[g.Code] = true
	}
	pops := map[string]bool{}
	for _, ind := range p.Indicators {
		// The denominator of a population is summed once, with its first indicator.
		firstOfPop := !pops[ind.Population]
		pops[ind.Population] = true
		b.totals(ind, firstOfPop)
		switch {
		case ind.ID == EntrantsIndicator:
			b.entrantsTables(ind)
		case len(ind.Dims) > 0:
			b.breakdowns(ind, firstOfPop)
		}
	}
	b.choiceSums()
	return b.l, nil
}

// checkUnits checks that every site of the release is in exactly one unit of each kind:
// a site in two units would be counted twice by the sums, a site in none would be a
// part of a group that no relation states.
func (p *Plan) checkUnits(kinds ...[]unit) error {
	all, _ := p.group(AllGroup)
	for _, units := range kinds {
		seen := map[string]bool{}
		for _, u := range units {
			for _, s := range u.sites {
				if seen[s] {
					return fmt.Errorf("reports: site %s is in two units", s)
				}
				seen[s] = true
			}
		}
		for _, s := range all.Sites {
			if !seen[s] {
				return fmt.Errorf("reports: site %s is in no unit", s)
			}
		}
	}
	return nil
}

// layoutBuilder is the state the steps of Plan.layout share: the layout being filled,
// the units of the totals (tu) and of the breakdowns (du), and the codes of the
// published groups.
type layoutBuilder struct {
	p         *Plan
	l         *layout
	tu, du    []unit
	published map[string]bool
}

// isUnit reports whether a group is itself one unit of units: its cells are then laid
// out once, and no sum is needed to tie it to its parts.
func isUnit(units []unit, g Group) bool {
	codes := unitsOf(units, g.Sites)
	return len(codes) == 1 && codes[0] == g.Code
}

// totals lays out an indicator's totals: the cells of every published group and of the
// units that no output shows (pooled sites, one by one), and the sums that make each
// group of its units. With small sites pooled, all sites is also the sum of its
// members, "other sites" being one of them, as a reader sees it.
func (b *layoutBuilder) totals(ind PlanIndicator, withPop bool) {
	p, l := b.p, b.l
	for _, g := range p.Groups {
		p.addCells(l, ind, g.Code, g.Sites, cut{}, disclosure.Free, g.Code == AllGroup)
	}
	for _, u := range b.tu {
		if !b.published[u.code] {
			p.addCells(l, ind, u.code, u.sites, cut{}, u.kind, false)
		}
	}
	for _, g := range p.Groups {
		if !isUnit(b.tu, g) {
			p.groupSum(l, ind, withPop, g.Code, cut{}, unitsOf(b.tu, g.Sites))
		}
	}
	if all, _ := p.group(AllGroup); len(p.Pooled) > 0 {
		p.groupSum(l, ind, withPop, AllGroup, cut{}, all.Members)
	}
}

// entrantsTables lays out the entrants tables: the numerators of the entrants
// indicator for every group and unit of the totals, by every dimension, and the sums
// that make each group's column of its units'.
func (b *layoutBuilder) entrantsTables(ind PlanIndicator) {
	p, l := b.p, b.l
	for _, dim := range breakdownDims {
		cats := p.cutCategories(dim)
		for _, g := range p.Groups {
			p.addEntrants(l, ind, g.Code, g.Sites, dim, cats, disclosure.Free, g.Code == AllGroup)
		}
		for _, u := range b.tu {
			if !b.published[u.code] {
				p.addEntrants(l, ind, u.code, u.sites, dim, cats, u.kind, false)
			}
		}
		for _, c := range cats {
			for _, g := range p.Groups {
				if !isUnit(b.tu, g) {
					units := unitsOf(b.tu, g.Sites)
					keys := make([]disclosure.Key, len(units))
					for i, u := range units {
						keys[i] = yesKey(ind.ID, u, cut{dim, c})
					}
					l.sum(yesKey(ind.ID, g.Code, cut{dim, c}), keys...)
				}
			}
			if all, _ := p.group(AllGroup); len(p.Pooled) > 0 {
				// Implied by the sums above, but stated so that the rules of R6
				// see the pool as one cell of all sites' row, as a reader does.
				keys := make([]disclosure.Key, len(all.Members))
				for i, m := range all.Members {
					keys[i] = yesKey(ind.ID, m, cut{dim, c})
				}
				l.sum(yesKey(ind.ID, AllGroup, cut{dim, c}), keys...)
			}
		}
	}
}

// breakdowns lays out an indicator's breakdowns by its dimensions: the groups that
// have them, the units of the breakdowns they add up (an aggregate that is not a unit
// of the totals gets its total too, as the sum of those), and the sums that make each
// group of its units in every category.
func (b *layoutBuilder) breakdowns(ind PlanIndicator, withPop bool) {
	p, l := b.p, b.l
	for _, g := range p.Groups {
		if g.Breakdowns {
			p.addBreakdowns(l, ind, g.Code, g.Sites, disclosure.Free, g.Code == AllGroup)
		}
	}
	for _, u := range b.du {
		if b.published[u.code] && u.kind == disclosure.Free {
			continue
		}
		if !b.published[u.code] && !slices.ContainsFunc(b.tu, func(t unit) bool { return t.code == u.code }) {
			p.addCells(l, ind, u.code, u.sites, cut{}, u.kind, false)
			p.groupSum(l, ind, withPop, u.code, cut{}, unitsOf(b.tu, u.sites))
		}
		p.addBreakdowns(l, ind, u.code, u.sites, u.kind, false)
	}
	for _, g := range p.Groups {
		if !g.Breakdowns || isUnit(b.du, g) {
			continue
		}
		units := unitsOf(b.du, g.Sites)
		for _, dim := range ind.Dims {
			for _, c := range p.cutCategories(dim) {
				p.groupSum(l, ind, withPop, g.Code, cut{dim, c}, units)
			}
		}
	}
}

// choiceSums states that the choices of a single-choice item add up to their
// denominator (R13), in every group, unit and cut that has their cells.
func (b *layoutBuilder) choiceSums() {
	for _, choice := range b.p.Choices {
		first := slices.IndexFunc(b.p.Indicators, func(x PlanIndicator) bool { return x.ID == choice[0] })
		if first < 0 {
			continue
		}
		pop := b.p.Indicators[first].Population
		for _, c := range b.l.cells {
			if c.answer != "" || c.pop != pop {
				continue
			}
			parts := make([]disclosure.Key, len(choice))
			for i, id := range choice {
				parts[i] = yesKey(id, c.group, c.cut)
			}
			b.l.sum(c.key, parts...)
		}
	}
}

// cutCategories are every category of a dimension and every merged one.
func (p *Plan) cutCategories(dim string) []string {
	out := slices.Clone(p.Categories[dim])
	for _, m := range p.Merges[dim] {
		out = append(out, m.Code)
	}
	return out
}

// addCells adds the numerator, "no" count and denominator of an indicator in one group
// (or unit) and cut, and the relation between them. A published cell of kind Free is
// shown when its group shows the cut; the "no" count never is.
func (p *Plan) addCells(l *layout, ind PlanIndicator, group string, sites []string, c cut, kind disclosure.Kind, all bool) {
	total := c.Dim == ""
	shown := kind
	if kind == disclosure.Free && !total && !slices.Contains(p.shownCategories(ind.ID, group, c.Dim), c.Cat) {
		shown = disclosure.Residual
	}
	no := disclosure.Residual
	if kind == disclosure.Hidden {
		no = disclosure.Hidden
	}
	// Of all sites' totals only the denominator is a grand total (never a complement);
	// the numerator is a margin of the table, as the "no" count is.
	y := cellSpec{key: yesKey(ind.ID, group, c), kind: shown, margin: total,
		ind: ind.ID, group: group, sites: sites, cut: c, answer: "yes"}
	n := cellSpec{key: noKey(ind.ID, group, c), kind: no, margin: total,
		ind: ind.ID, group: group, sites: sites, cut: c, answer: "no"}
	d := cellSpec{key: popKey(ind.Population, group, c), kind: shown, margin: true, grand: total && all,
		ind: ind.ID, pop: ind.Population, group: group, sites: sites, cut: c}
	l.add(y)
	l.add(n)
	l.add(d)
	l.sum(d.key, y.key, n.key)
}

// addBreakdowns adds an indicator's cells by every category of its breakdowns in one
// group or unit, with the margins: the categories add up to the total, a merged category
// its parts.
func (p *Plan) addBreakdowns(l *layout, ind PlanIndicator, group string, sites []string, kind disclosure.Kind, all bool) {
	for _, dim := range ind.Dims {
		for _, c := range p.cutCategories(dim) {
			p.addCells(l, ind, group, sites, cut{dim, c}, kind, all)
		}
		for _, key := range []func(cut) disclosure.Key{
			func(c cut) disclosure.Key { return yesKey(ind.ID, group, c) },
			func(c cut) disclosure.Key { return popKey(ind.Population, group, c) },
		} {
			var parts []disclosure.Key
			for _, c := range p.Categories[dim] {
				parts = append(parts, key(cut{dim, c}))
			}
			l.sum(key(cut{}), parts...)
			for _, m := range p.Merges[dim] {
				var mparts []disclosure.Key
				for _, c := range m.Parts {
					mparts = append(mparts, key(cut{dim, c}))
				}
				l.sum(key(cut{dim, m.Code}), mparts...)
			}
		}
	}
}

// addEntrants adds the numerators of the entrants indicator by the categories of dim in
// one group or unit, with their margin.
func (p *Plan) addEntrants(l *layout, ind PlanIndicator, group string, sites []string, dim string, cats []string, kind disclosure.Kind, all bool) {
	var parts []disclosure.Key
	for _, c := range cats {
		k := kind
		if kind == disclosure.Free && !slices.Contains(p.shownCategories(ind.ID, group, dim), c) {
			k = disclosure.Residual
		}
		key := yesKey(ind.ID, group, cut{dim, c})
		l.add(cellSpec{key: key, kind: k, ind: ind.ID, group: group, sites: sites, cut: cut{dim, c}, answer: "yes"})
		if slices.Contains(p.Categories[dim], c) {
			parts = append(parts, key)
		}
	}
	l.sum(yesKey(ind.ID, group, cut{}), parts...)
	for _, m := range p.Merges[dim] {
		var mparts []disclosure.Key
		for _, c := range m.Parts {
			mparts = append(mparts, yesKey(ind.ID, group, cut{dim, c}))
		}
		l.sum(yesKey(ind.ID, group, cut{dim, m.Code}), mparts...)
	}
}

// groupSum adds "group = sum of units" for an indicator's numerator and, once per
// population, its denominator, in one cut.
func (p *Plan) groupSum(l *layout, ind PlanIndicator, withPop bool, group string, c cut, units []string) {
	ys := make([]disclosure.Key, len(units))
	ds := make([]disclosure.Key, len(units))
	for i, u := range units {
		ys[i] = yesKey(ind.ID, u, c)
		ds[i] = popKey(ind.Population, u, c)
	}
	l.sum(yesKey(ind.ID, group, c), ys...)
	if withPop {
		l.sum(popKey(ind.Population, group, c), ds...)
	}
}
