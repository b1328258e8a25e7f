package reports

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// Release is a frozen release (PRIVACY.md R11): the year's figures protected once, at a
// data cut-off, for every publication group together, and jointly with the releases of
// the year made before it (R12). It is stored in the ledger and never changes; every
// output — workbook, HTML, CSV, figures, dashboard, API — is a view of one release
// (Release.View), and no output computes anything else.
type Release struct {
	ID     string
	Year   int
	CutOff time.Time
	MadeAt time.Time
	Actor  string // "cli" or a token id
	Role   string
	Config disclosure.Config
	Plan   Plan
	// Questionnaires lists the questionnaire versions it covers ("entry v1").
	Questionnaires []string
	// Earlier are the releases of the year it was protected jointly with, oldest first.
	Earlier []string

	cells *disclosure.Release
	// stored is every cell with its true count and status, for the ledger and for
	// protecting a later release jointly with this one.
	stored []disclosure.StoredCell
}

// Cells returns every cell of the release with its true count and status, for the
// ledger. Suppressed counts are among them: they never leave the store.
func (r *Release) Cells() []disclosure.StoredCell { return r.stored }

// Count returns the protected count of a cell.
func (r *Release) Count(k disclosure.Key) disclosure.Count { return r.cells.Count(k) }

// releaseHeader is what the ledger stores of a release besides its cells, as JSON.
type releaseHeader struct {
	Tool           string            `json:"tool"`
	Year           int               `json:"year"`
	CutOff         time.Time         `json:"data_cut_off"`
	Disclosure     disclosure.Config `json:"disclosure"`
	Plan           Plan              `json:"plan"`
	Questionnaires []string          `json:"questionnaires"`
	Earlier        []string          `json:"earlier"`
	Cells          int               `json:"cells"`
	CellsSHA256    string            `json:"cells_sha256"`
}

// Header returns the release's settings, plan and the hash of its cells, as JSON: what
// the ledger stores beside the cells. It holds no count.
func (r *Release) Header() string { return r.headerJSON(r.header()) }

func (r *Release) headerJSON(h releaseHeader) string {
	b, _ := json.Marshal(h)
	return string(b)
}

func (r *Release) header() releaseHeader {
	return releaseHeader{Tool: "tamtam", Year: r.Year, CutOff: r.CutOff.UTC(), Disclosure: r.Config, Plan: r.Plan,
		Questionnaires: r.Questionnaires, Earlier: r.Earlier, Cells: len(r.stored), CellsSHA256: cellsHash(r.stored)}
}

// cellsHash is the SHA-256 of the cells in key order, one "key\tn\tstatus\n" line each.
func cellsHash(cells []disclosure.StoredCell) string {
	h := sha256.New()
	for _, c := range cells {
		fmt.Fprintf(h, "%s\t%d\t%d\n", c.Key, c.N, c.Status)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newReleaseID returns a random release id: the year and 40 random bits. It says
// nothing of the content (an id derived from the cells would let a holder test guesses
// of the suppressed counts).
func newReleaseID(year int, src io.Reader) (string, error) {
	if src == nil {
		src = rand.Reader
	}
	var b [5]byte
	if _, err := io.ReadFull(src, b[:]); err != nil {
		return "", fmt.Errorf("reports: drawing a release id: %w", err)
	}
	return fmt.Sprintf("%d-%s", year, hex.EncodeToString(b[:])), nil
}

// RestoreRelease reads a release back from what the ledger stored: its header and its
// cells. It checks that the cells are complete and unchanged (their count and hash), so
// that a release interrupted while being stored is never shown.
func RestoreRelease(id string, madeAt time.Time, actor, role, header string, cells []disclosure.StoredCell) (*Release, error) {
	var h releaseHeader
	dec := json.NewDecoder(strings.NewReader(header))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("reports: release %s: %w", id, err)
	}
	slices.SortFunc(cells, func(a, b disclosure.StoredCell) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	if len(cells) != h.Cells || cellsHash(cells) != h.CellsSHA256 {
		return nil, fmt.Errorf("reports: release %s: its cells are incomplete or changed (%d of %d)", id, len(cells), h.Cells)
	}
	rel, err := disclosure.Restore(h.Disclosure, cells)
	if err != nil {
		return nil, fmt.Errorf("reports: release %s: %w", id, err)
	}
	return &Release{ID: id, Year: h.Year, CutOff: h.CutOff.UTC(), MadeAt: madeAt.UTC(), Actor: actor, Role: role,
		Config: h.Disclosure, Plan: h.Plan, Questionnaires: h.Questionnaires, Earlier: h.Earlier, cells: rel, stored: cells}, nil
}

// MakeOptions say what a new release covers.
type MakeOptions struct {
	Year int
	// CutOff leaves out the records received after it; zero: the last record of the year.
	CutOff time.Time
	Policy *disclosure.Policy
	// Sites are the known sites in display order; the release covers those with records.
	Sites []string
	// Funders are the site sets of the funder tokens: each becomes a publication group.
	Funders [][]string
	// Questionnaires lists the questionnaire versions covered, for the methodology.
	Questionnaires []string
	Actor, Role    string
	Now            time.Time
	// Rand draws the release id; nil: crypto/rand. Tests that compare bytes set a fixed
	// reader so that the id, printed in every output, is the same on each run.
	Rand io.Reader
}

// cutOffDay is the day of a cut-off, at midnight UTC: records are stored with the day
// they were received, at midnight, so "received_at <= cut-off" takes in the whole day.
func cutOffDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ErrCutOffBefore is returned by Make for a cut-off before that of an earlier release of
// the year: releases of a year move forward.
var ErrCutOffBefore = errors.New("reports: the cut-off is before that of an earlier release of the year")

// Make protects the records of a year up to a cut-off as a new release, jointly with the
// earlier releases of the year (all of them, oldest first). Nothing is stored: the caller
// saves the release. It returns ErrNoData when no record of the year is in the store,
// and ErrCutOffBefore.
func Make(ctx context.Context, src Source, cat *Catalog, earlier []*Release, opts MakeOptions) (*Release, error) {
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
	// Receipt times are days (PRIVACY.md R2): a cut-off is a day, and takes in every
	// record received that day. A time of day in it would say nothing the data can tell.
	cutOff = cutOffDay(cutOff)
	for _, e := range earlier {
		if e.Year != opts.Year {
			return nil, fmt.Errorf("reports: release %s is of %d, not %d", e.ID, e.Year, opts.Year)
		}
		if cutOff.Before(cutOffDay(e.CutOff)) {
			return nil, fmt.Errorf("%w (%s, release %s)", ErrCutOffBefore, e.CutOff.Format(time.RFC3339), e.ID)
		}
	}
	cells, err := src.IndicatorCells(ctx, opts.Year, opts.Sites, cutOff, cat.Declared())
	if err != nil {
		return nil, err
	}
	if len(cells) == 0 {
		return nil, ErrNoData
	}
	t := tallyCells(cells)
	plan := newPlan(cat, opts.Policy.Config(), opts.Sites, opts.Funders, t)
	pol := opts.Policy
	if n := len(earlier); n > 0 && earlier[n-1].covers(cutOff, pol.Config(), &plan, t) {
		// Nothing changed since the last release: it is the answer (protecting the same
		// counts again could only publish them differently).
		return earlier[n-1], nil
	}
	var rel *disclosure.Release
	// R6: a breakdown with too many cells suppressed is merged, then dropped, and the
	// whole release protected again, until no breakdown changes.
	for round := 0; ; round++ {
		l, err := plan.layout()
		if err != nil {
			return nil, err
		}
		sys, err := systemOf(l, &plan, t, earlier)
		if err != nil {
			return nil, err
		}
		if rel, err = pol.Protect(sys); err != nil {
			// An item's table that cannot be protected (a category of one person in
			// every group, say) is left out of the release rather than stopping it:
			// the declared indicators are what a release must publish.
			if fam := plan.distributionOf(cat, err); fam != "" {
				plan.drop(fam)
				round--
				continue
			}
			return nil, fmt.Errorf("reports: disclosure control: %w", err)
		}
		if round == 2 || !plan.coarsen(l, t, rel, pol.Config().MaxSuppressedShare) {
			break
		}
	}
	r := &Release{Year: opts.Year, CutOff: cutOff, MadeAt: opts.Now.UTC().Truncate(time.Second), Actor: opts.Actor,
		Role: opts.Role, Config: pol.Config(), Plan: plan, Questionnaires: opts.Questionnaires}
	for _, e := range earlier {
		r.Earlier = append(r.Earlier, e.ID)
	}
	l, _ := plan.layout()
	for _, c := range l.cells {
		cnt := rel.Count(c.key)
		n := t.count(&plan, c)
		r.stored = append(r.stored, disclosure.StoredCell{Key: c.key, N: n, Status: cnt.Status()})
	}
	slices.SortFunc(r.stored, func(a, b disclosure.StoredCell) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	if r.cells, err = disclosure.Restore(r.Config, r.stored); err != nil {
		return nil, err
	}
	if r.ID, err = newReleaseID(opts.Year, opts.Rand); err != nil {
		return nil, err
	}
	return r, nil
}

// distributionOf returns the item table (distribution family) of the cell that err says
// cannot be protected, "" when it is none or err is another error.
func (p *Plan) distributionOf(cat *Catalog, err error) string {
	var ue *disclosure.UnprotectableError
	if !errors.As(err, &ue) {
		return ""
	}
	for _, c := range ue.Cell.Coords() {
		id := c.Value
		if c.Dim == coordIndicator {
			ind, _ := cat.Indicator(id)
			id = ind.Family
		}
		if c.Dim != coordIndicator && c.Dim != coordPopulation {
			continue
		}
		if f, ok := cat.Family(id); ok && f.Distribution && slices.ContainsFunc(p.Indicators, func(x PlanIndicator) bool { return x.Family == f.ID }) {
			return f.ID
		}
	}
	return ""
}

// drop leaves the indicators of a family out of the plan.
func (p *Plan) drop(family string) {
	var gone []string
	p.Indicators = slices.DeleteFunc(p.Indicators, func(x PlanIndicator) bool {
		if x.Family == family {
			gone = append(gone, x.ID)
			return true
		}
		return false
	})
	p.Choices = slices.DeleteFunc(p.Choices, func(c []string) bool { return len(c) > 0 && slices.Contains(gone, c[0]) })
}

// covers reports whether release r already publishes what a release at cutOff with
// settings cfg would: the same cut-off, settings and groups, and the same count in
// every cell of r.
func (r *Release) covers(cutOff time.Time, cfg disclosure.Config, plan *Plan, t *tallies) bool {
	if !r.CutOff.Equal(cutOff) || r.Config != cfg || len(r.Plan.Groups) != len(plan.Groups) {
		return false
	}
	for i, g := range plan.Groups {
		if h := r.Plan.Groups[i]; h.Code != g.Code || !slices.Equal(h.Sites, g.Sites) {
			return false
		}
	}
	l, err := r.Plan.layout()
	if err != nil {
		return false
	}
	for _, c := range l.cells {
		if n, ok := r.storedCount(c.key); !ok || n != t.count(&r.Plan, c) {
			return false
		}
	}
	return true
}

// tallies are the numerators and denominators of every indicator by site and cut.
type tallies struct {
	bySite map[string]map[tallyKey]*tally // site -> (indicator, cut)
	sites  []string                       // sites with records, sorted
}

type tallyKey struct {
	ind string
	cut cut
}

// tally is a numerator and denominator being summed.
type tally struct{ num, den int }

func tallyCells(cells []IndicatorCell) *tallies {
	t := &tallies{bySite: map[string]map[tallyKey]*tally{}}
	for _, c := range cells {
		m := t.bySite[c.Site]
		if m == nil {
			m = map[tallyKey]*tally{}
			t.bySite[c.Site] = m
			t.sites = append(t.sites, c.Site)
		}
		stored := map[string]string{DimGender: c.Gender, DimAgeBand: c.AgeBand, DimNationalityGroup: c.NationalityGroup}
		add := func(k tallyKey) {
			x := m[k]
			if x == nil {
				x = &tally{}
				m[k] = x
			}
			x.num += c.Num
			x.den += c.Den
		}
		add(tallyKey{c.Indicator, cut{}})
		for _, dim := range breakdownDims {
			add(tallyKey{c.Indicator, cut{dim, publishedCategory(dim, stored[dim])}})
		}
	}
	slices.Sort(t.sites)
	return t
}

// get returns the tally of an indicator and cut in a set of sites, merged categories
// summed from their parts.
func (t *tallies) get(p *Plan, ind string, sites []string, c cut) tally {
	parts := []string{c.Cat}
	if c.Dim != "" {
		for _, m := range p.Merges[c.Dim] {
			if m.Code == c.Cat {
				parts = m.Parts
			}
		}
	}
	var out tally
	for _, s := range sites {
		for _, part := range parts {
			if x := t.bySite[s][tallyKey{ind, cut{c.Dim, part}}]; x != nil {
				out.num += x.num
				out.den += x.den
			}
		}
	}
	return out
}

// count returns the true count of a cell of the layout.
func (t *tallies) count(p *Plan, c cellSpec) int {
	sites := c.sites
	if c.answer == "" {
		// A denominator: that of the population's first indicator (they all agree;
		// systemOf checks it).
		for _, ind := range p.Indicators {
			if ind.Population == c.pop {
				return t.get(p, ind.ID, sites, c.cut).den
			}
		}
		return 0
	}
	x := t.get(p, c.ind, sites, c.cut)
	if c.answer == "yes" {
		return x.num
	}
	return x.den - x.num
}

// interviewed returns the people interviewed at each site with records (R10): the
// interviewed entrants (the numerator of EntrantsIndicator). Only in a release without
// entry questionnaires does it count the respondents of the others: at each site the
// largest denominator of their indicators, those who answered the most answered
// question. (Another questionnaire's respondents never let a site with few entrants be
// shown on its own: its entrants' tables would show them.)
func (t *tallies) interviewed() map[string]int {
	out := map[string]int{}
	entry := false
	for _, s := range t.sites {
		x := t.bySite[s][tallyKey{EntrantsIndicator, cut{}}]
		if x != nil {
			out[s], entry = x.num, true
		} else {
			out[s] = 0
		}
	}
	if entry {
		return out
	}
	for _, s := range t.sites {
		for k, x := range t.bySite[s] {
			if k.cut == (cut{}) {
				out[s] = max(out[s], x.den)
			}
		}
	}
	return out
}

// withData returns the families of cat with a record in their denominators: the others
// are left out of a release (a questionnaire without data that year, an item nobody was
// asked).
func (t *tallies) withData(cat *Catalog) map[string]bool {
	out := map[string]bool{}
	for _, ind := range cat.Indicators {
		for _, m := range t.bySite {
			if x := m[tallyKey{ind.ID, cut{}}]; x != nil && x.den > 0 {
				out[ind.Family] = true
				break
			}
		}
	}
	return out
}

// newPlan decides the shape of a release: the indicators and categories of the catalog,
// and the publication groups — all sites, each site with enough interviewed entrants
// (R10), "other sites" pooling the others, and each funder's sites.
func newPlan(cat *Catalog, cfg disclosure.Config, known []string, funders [][]string, t *tallies) Plan {
	p := planOfCatalog(cat, t.withData(cat))
	interviewed := t.interviewed()
	pol := disclosure.Policy{}
	if cfgPol, err := disclosure.NewPolicy(cfg); err == nil {
		pol = *cfgPol
	}
	p.Pooled = pol.PooledSites(interviewed)
	sites := displaySites(known, t.sites, interviewed)
	var shown []string
	for _, s := range sites {
		if !slices.Contains(p.Pooled, s) {
			shown = append(shown, s)
		}
	}
	p.Groups = siteGroups(sites, shown, p.Pooled)
	p.Groups = append(p.Groups, funderGroups(p.Groups, funders, shown, interviewed, cfg.SmallSiteMinimum)...)
	return p
}

// planOfCatalog copies what a release needs of the catalog into its plan, for the
// families with data: a plan is stored with the release, so that a later catalog cannot
// change how an earlier release's cells are laid out.
func planOfCatalog(cat *Catalog, families map[string]bool) Plan {
	p := Plan{Categories: map[string][]string{}, Merges: map[string][]Merge{}}
	for _, ind := range cat.Indicators {
		if !families[ind.Family] {
			continue
		}
		pi := PlanIndicator{ID: ind.ID, Family: ind.Family, Population: ind.PopulationID(), Sensitive: ind.Sensitive}
		for _, b := range ind.Breakdowns {
			if b == DimSite {
				pi.Site = true
			} else {
				pi.Dims = append(pi.Dims, b)
			}
		}
		p.Indicators = append(p.Indicators, pi)
	}
	p.Choices = cat.choiceGroups(families)
	for _, dim := range breakdownDims {
		for _, c := range cat.Categories[dim] {
			p.Categories[dim] = append(p.Categories[dim], c.Code)
		}
		p.Merges[dim] = cat.Merges[dim]
	}
	return p
}

// displaySites are the sites with interviewed entrants in display order: the known
// order, then any other site with records, in the order the tallies met them.
func displaySites(known, withRecords []string, interviewed map[string]int) []string {
	var sites []string
	for _, s := range known {
		if _, ok := interviewed[s]; ok {
			sites = append(sites, s)
		}
	}
	for _, s := range withRecords {
		if !slices.Contains(sites, s) {
			sites = append(sites, s)
		}
	}
	return sites
}

// siteGroups are the groups made of sites alone: all sites (the only one with
// breakdowns besides the funders'), each site shown on its own, and "other sites" when
// some are pooled. The members of all sites are what a reader sees adding up to it:
// the sites shown and the pool.
func siteGroups(sites, shown, pooled []string) []Group {
	all := Group{Code: AllGroup, Kind: GroupAll, Sites: sorted(sites), Breakdowns: true}
	for _, s := range shown {
		all.Members = append(all.Members, SiteGroup(s))
	}
	if len(pooled) > 0 {
		all.Members = append(all.Members, PoolGroup(pooled))
	}
	groups := []Group{all}
	for _, s := range shown {
		groups = append(groups, Group{Code: SiteGroup(s), Kind: GroupSite, Sites: []string{s}, Members: []string{SiteGroup(s)}})
	}
	if len(pooled) > 0 {
		groups = append(groups, Group{Code: PoolGroup(pooled), Kind: GroupOther, Sites: sorted(pooled)})
	}
	return groups
}

// funderGroups are the groups of the funders' sites that have interviewed entrants,
// each once, skipping one already among groups and one that would show a small site's
// count (R10): a group as small as a small site would be a small site shown on its own,
// and so would the difference between it and a group it contains, or that contains it
// (all sites but one small site, say).
func funderGroups(groups []Group, funders [][]string, shown []string, interviewed map[string]int, minimum int) []Group {
	seen := map[string]bool{}
	for _, g := range groups {
		seen[strings.Join(g.Sites, "+")] = true
	}
	var out []Group
	for _, f := range funders {
		var in []string
		for _, s := range f {
			if _, ok := interviewed[s]; ok && !slices.Contains(in, s) {
				in = append(in, s)
			}
		}
		in = sorted(in)
		if len(in) == 0 || seen[strings.Join(in, "+")] {
			continue
		}
		seen[strings.Join(in, "+")] = true
		n := 0
		for _, s := range in {
			n += interviewed[s]
		}
		if n < minimum || smallDifference(append(slices.Clone(groups), out...), in, interviewed, minimum) {
			continue
		}
		g := Group{Code: FunderGroup(in), Kind: GroupFunder, Sites: in}
		for _, s := range shown {
			if slices.Contains(in, s) {
				g.Members = append(g.Members, SiteGroup(s))
			}
		}
		out = append(out, g)
	}
	return out
}

// smallDifference reports whether the sites differ from those of a group that contains
// them, or that they contain, by sites with fewer than minimum interviewed entrants.
func smallDifference(groups []Group, sites []string, interviewed map[string]int, minimum int) bool {
	diff := func(a, b []string) (int, bool) { // entrants of a \ b, and whether b ⊆ a
		n := 0
		for _, s := range b {
			if !slices.Contains(a, s) {
				return 0, false
			}
		}
		for _, s := range a {
			if !slices.Contains(b, s) {
				n += interviewed[s]
			}
		}
		return n, true
	}
	for _, g := range groups {
		if n, ok := diff(g.Sites, sites); ok && n < minimum {
			return true
		}
		if n, ok := diff(sites, g.Sites); ok && n < minimum {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// systemOf turns the layout of a new release, and the earlier releases of its year, into
// one system for disclosure control: the new cells with their counts; the cells of every
// earlier release, frozen with their status; and, for every cell that two consecutive
// releases share, the change between them as a residual cell (R12).
func systemOf(l *layout, p *Plan, t *tallies, earlier []*Release) (disclosure.System, error) {
	sys := disclosure.System{Name: "release"}
	// Indicators of one population must agree on its denominator.
	for _, c := range l.cells {
		if c.answer != "" {
			continue
		}
		want := -1
		for _, ind := range p.Indicators {
			if ind.Population != c.pop {
				continue
			}
			got := t.get(p, ind.ID, c.sites, c.cut).den
			if want >= 0 && got != want {
				return sys, fmt.Errorf("reports: the indicators of population %s count different denominators", c.pop)
			}
			want = got
		}
	}
	type version struct {
		id     string
		cutOff time.Time
		n      map[disclosure.Key]int
		hidden map[disclosure.Key]bool // suppressed in that release
	}
	var chain []version
	for _, e := range earlier {
		el, err := e.Plan.layout()
		if err != nil {
			return sys, fmt.Errorf("reports: release %s: %w", e.ID, err)
		}
		v := version{id: e.ID, cutOff: e.CutOff, n: map[disclosure.Key]int{}, hidden: map[disclosure.Key]bool{}}
		rc := disclosure.Coord{Dim: coordRelease, Value: e.ID}
		for _, c := range el.cells {
			st := e.cells.Count(c.key)
			n, ok := e.storedCount(c.key)
			if !ok {
				return sys, fmt.Errorf("reports: release %s has no cell %s", e.ID, c.key)
			}
			cell := disclosure.Cell{Key: withCoord(c.key, rc), N: n, Kind: c.kind, Margin: c.margin, Grand: c.grand}
			if c.kind == disclosure.Free {
				cell.Kind, cell.Status = disclosure.Frozen, st.Status()
			}
			sys.Cells = append(sys.Cells, cell)
			v.n[c.key] = n
			v.hidden[c.key] = st.Status().Suppressed()
		}
		for _, s := range el.sums {
			parts := make([]disclosure.Key, len(s.Parts))
			for i, k := range s.Parts {
				parts[i] = withCoord(k, rc)
			}
			sys.Sums = append(sys.Sums, disclosure.Sum{Total: withCoord(s.Total, rc), Parts: parts})
		}
		chain = append(chain, v)
	}
	now := version{id: "", n: map[disclosure.Key]int{}}
	for _, c := range l.cells {
		n := t.count(p, c)
		cell := disclosure.Cell{Key: c.key, N: n, Kind: c.kind, Margin: c.margin, Grand: c.grand}
		if c.kind == disclosure.Free && len(chain) > 0 {
			// A count that has not changed since the last release keeps its status
			// there as a first guess: the same number is hidden the same way, and
			// verification has less to undo.
			if last := chain[len(chain)-1]; last.hidden[c.key] && last.n[c.key] == n {
				cell.Status = disclosure.SuppressedSecondary
			}
		}
		sys.Cells = append(sys.Cells, cell)
		now.n[c.key] = n
	}
	sys.Sums = append(sys.Sums, l.sums...)
	chain = append(chain, now)
	// The change of every cell between the last release that has it and the next.
	keyIn := func(v version, k disclosure.Key) disclosure.Key {
		if v.id == "" {
			return k
		}
		return withCoord(k, disclosure.Coord{Dim: coordRelease, Value: v.id})
	}
	last := map[disclosure.Key]int{} // key -> index in chain of the last version holding it
	for i, v := range chain {
		keys := make([]disclosure.Key, 0, len(v.n))
		for k := range v.n {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b disclosure.Key) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if j, ok := last[k]; ok {
				prev := chain[j]
				d := v.n[k] - prev.n[k]
				if d == 0 && prev.cutOff.Equal(v.cutOff) && v.id != "" {
					sys.Sums = append(sys.Sums, disclosure.Sum{Total: keyIn(v, k), Parts: []disclosure.Key{keyIn(prev, k)}})
				} else {
					inc := withCoord(k, disclosure.Coord{Dim: coordChange, Value: prev.id + ">" + v.id})
					sys.Cells = append(sys.Cells, disclosure.Cell{Key: inc, N: d, Kind: disclosure.Residual, Signed: mayDecrease(k)})
					sys.Sums = append(sys.Sums, disclosure.Sum{Total: keyIn(v, k), Parts: []disclosure.Key{keyIn(prev, k), inc}})
				}
			}
			last[k] = i
		}
	}
	return sys, nil
}

// mayDecrease reports whether a cell's count can go down between two releases of a
// year. Records received up to a cut-off are never removed, so a count of a later
// cut-off is at least that of an earlier one, and an intruder knows it; only the linked
// indicator's counts can decrease.
func mayDecrease(k disclosure.Key) bool {
	ind, _ := k.Get(coordIndicator)
	pop, _ := k.Get(coordPopulation)
	return ind == LinkedIndicator || pop == LinkedIndicator
}

// storedCount returns the true count of a cell of the release.
func (r *Release) storedCount(k disclosure.Key) (int, bool) {
	i, ok := slices.BinarySearchFunc(r.stored, k, func(c disclosure.StoredCell, k disclosure.Key) int {
		return strings.Compare(c.Key.String(), k.String())
	})
	if !ok {
		return 0, false
	}
	return r.stored[i].N, true
}

// coarsen merges, then drops, every breakdown of the plan with more than maxShare of its
// shown cells suppressed (R6), and reports whether any changed.
func (p *Plan) coarsen(l *layout, t *tallies, rel *disclosure.Release, maxShare float64) bool {
	type table struct{ ind, group, dim string }
	shown, hidden := map[table]int{}, map[table]int{}
	for _, c := range l.cells {
		if c.kind != disclosure.Free || c.cut.Dim == "" || c.answer == "no" {
			continue
		}
		ind := c.ind
		if c.answer == "" {
			continue // denominators are counted with each indicator below
		}
		tb := table{ind, c.group, c.cut.Dim}
		if ind == EntrantsIndicator {
			tb.group = "*"
		}
		if t.get(p, ind, c.sites, c.cut).den == 0 {
			continue // an empty row is not shown
		}
		shown[tb]++
		if rel.Count(c.key).Status().Suppressed() {
			hidden[tb]++
		}
		if ind != EntrantsIndicator {
			pi := slices.IndexFunc(p.Indicators, func(x PlanIndicator) bool { return x.ID == ind })
			d := rel.Count(popKey(p.Indicators[pi].Population, c.group, c.cut))
			shown[tb]++
			if d.Status().Suppressed() {
				hidden[tb]++
			}
		}
	}
	var tables []table
	for tb := range shown {
		tables = append(tables, tb)
	}
	slices.SortFunc(tables, func(a, b table) int {
		return strings.Compare(a.ind+"|"+a.group+"|"+a.dim, b.ind+"|"+b.group+"|"+b.dim)
	})
	changed := false
	for _, tb := range tables {
		if float64(hidden[tb]) <= maxShare*float64(shown[tb]) {
			continue
		}
		if lv := p.level(tb.ind, tb.group, tb.dim); lv < 2 {
			p.setLevel(tb.ind, tb.group, tb.dim, lv+1)
			changed = true
		}
	}
	return changed
}
