package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A definition declares its indicators (QUESTIONNAIRE.md, "Yearly indicators"): shares
// whose denominator counts the records of a population with a valid answer and whose
// numerator counts those of them that say yes. The conditions are data, in the language
// of an item's `when` extended as far as the indicators need; they are checked here
// against the items of the definition, so that package queries compiles them into SQL
// from validated item and choice codes only.

// Cond is a condition on one stored record. Exactly one of its forms is set:
//
//	{"item": "x.y", "in": ["1", "2"]}     the single-valued item has one of the codes
//	{"item": "x.y", "chose": ["a", "b"]}  the multi item includes any of the codes
//	{"item": "x.y", "chose_some": true}   the multi item includes at least one code
//	{"answered": "x.y"}                   a choice item has a value other than 8 or 9; a
//	                                      multi item was answered (an empty list too)
//	{"all": [...]}, {"any": [...]}, {"not": {...}}
//
// {"all": []} always holds. Codes are the item's stored values: the nationality groups
// for an item stored as country_group, secure and insecure for residence_security.
type Cond struct {
	Item      string   `json:"item,omitempty"`
	In        []string `json:"in,omitempty"`
	Chose     []string `json:"chose,omitempty"`
	ChoseSome bool     `json:"chose_some,omitempty"`
	Answered  string   `json:"answered,omitempty"`
	All       []Cond   `json:"all,omitempty"`
	Any       []Cond   `json:"any,omitempty"`
	Not       *Cond    `json:"not,omitempty"`

	always bool // {"all": []}: All is empty but was given
	multi  bool // Answered names a multi item (set when checked)
}

// UnmarshalJSON keeps {"all": []} (always true) apart from a condition with no form.
func (c *Cond) UnmarshalJSON(b []byte) error {
	type plain Cond
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*c = Cond(p)
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) == nil {
		if all, ok := raw["all"]; ok && len(c.All) == 0 && strings.TrimSpace(string(all)) == "[]" {
			c.always = true
		}
	}
	return nil
}

// MarshalJSON writes {"all": []} back as it was read.
func (c Cond) MarshalJSON() ([]byte, error) {
	if c.always {
		return []byte(`{"all":[]}`), nil
	}
	type plain Cond
	return json.Marshal(plain(c))
}

// Always reports whether the condition is {"all": []}, which always holds.
func (c Cond) Always() bool { return c.always }

// Items returns the items the condition tests.
func (c Cond) Items() []string {
	var out []string
	if c.Item != "" {
		out = append(out, c.Item)
	}
	if c.Answered != "" {
		out = append(out, c.Answered)
	}
	for _, sub := range append(slices.Clone(c.All), c.Any...) {
		out = append(out, sub.Items()...)
	}
	if c.Not != nil {
		out = append(out, c.Not.Items()...)
	}
	return out
}

// AnsweredMulti reports whether the condition is {"answered": X} on a multi item, which
// holds for an empty answer too. Known once the condition is checked with its definition.
func (c Cond) AnsweredMulti() bool { return c.multi }

// True is the condition that always holds.
var True = Cond{always: true}

// Consented is the default population of an indicator: the records whose respondent
// agreed to answer.
var Consented = Cond{Item: ConsentItem, In: []string{"1"}}

// IndicatorFamily groups the parts of one indicator (I03 by substance, I13 on OST and
// continued…): one workbook sheet, one section of the HTML report.
type IndicatorFamily struct {
	ID    string `json:"id"`
	Title Text   `json:"title"`
	// SingleChoice marks a family whose indicators are the choices of one single-choice
	// item: their numerators add up to their common denominator, and disclosure control
	// protects them as one table (PRIVACY.md R13).
	SingleChoice bool `json:"single_choice,omitempty"`
	// Theme gathers families under one framing in the reports: "care" is health-care
	// access by nationality group (the memorandum's foreign nationals and Belgians).
	Theme string `json:"theme,omitempty"`
	// Questionnaire is the id of the definition that declares the family.
	Questionnaire string `json:"-"`
}

// Themes are the themes a family may have.
var Themes = []string{"care"}

// Indicator is one declared share.
type Indicator struct {
	ID     string `json:"id"`
	Family string `json:"family"`
	// DenominatorGroup names the denominator: indicators of one group count the same
	// people in their denominators (the same population and valid answer), which
	// disclosure control protects as one cell (PRIVACY.md R13). Empty: its own.
	DenominatorGroup string      `json:"denominator_group,omitempty"`
	Sensitive        bool        `json:"sensitive"`
	Label            Text        `json:"label"`
	Short            Text        `json:"short"`
	Numerator        Text        `json:"numerator"`
	Denominator      Text        `json:"denominator"`
	Breakdowns       []string    `json:"breakdowns"`
	Population       *Cond       `json:"population,omitempty"` // nil: Consented
	Valid            *Cond       `json:"valid,omitempty"`      // nil: True
	Yes              Cond        `json:"yes"`
	Link             *Link       `json:"link,omitempty"`
	References       []Reference `json:"references,omitempty"`
	// Questionnaire is the id of the definition that declares it.
	Questionnaire string `json:"-"`
	// Distribution marks an indicator made from a choice of an item rather than
	// declared (Definition.Distributions): Item is the item, ID is
	// QUESTIONNAIRE/ITEM=CHOICE, unique among every questionnaire's, and Code is
	// ITEM=CHOICE, what figures.csv publishes beside the questionnaire.
	Distribution bool   `json:"-"`
	Item         string `json:"-"`
	Code         string `json:"-"`
}

// PublishedID is the indicator's id in the outputs: Code for a distribution, else ID.
func (ind *Indicator) PublishedID() string {
	if ind.Code != "" {
		return ind.Code
	}
	return ind.ID
}

// PopulationCond returns the population condition, Consented when none is declared.
func (ind *Indicator) PopulationCond() Cond {
	if ind.Population == nil {
		return Consented
	}
	return *ind.Population
}

// ValidCond returns the valid-answer condition, True when none is declared.
func (ind *Indicator) ValidCond() Cond {
	if ind.Valid == nil {
		return True
	}
	return *ind.Valid
}

// Link declares an indicator over linked records (QUESTIONNAIRE.md I21): its population
// is the declaring questionnaire's records (one per person, linked by the keyed link
// id; the breakdown is theirs), its valid answer and yes are conditions on the latest
// consented record of Questionnaire with the same link. The declaring indicator's Valid
// and Yes are not used.
type Link struct {
	Questionnaire string `json:"questionnaire"`
	Valid         Cond   `json:"valid"`
	Yes           Cond   `json:"yes"`
}

// Reference is a published value of another survey, shown beside an indicator as a
// marked comparison and never mixed into its counts.
type Reference struct {
	ID         string  `json:"id"`
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	Year       int     `json:"year"`
	Population Text    `json:"population"`
	Source     string  `json:"source"`
	Note       Text    `json:"note"`
}

// The breakdown dimensions an indicator may declare, in publication order.
var Breakdowns = []string{"site", "gender", "age_band", "nationality_group"}

// breakdownItem is the item each breakdown but the site is read from.
var breakdownItem = map[string]string{"gender": GenderItem, "age_band": AgeItem, "nationality_group": NationalityItem}

// BreakdownsAvailable returns the breakdowns of d's records: the site, and each
// dimension whose item d asks. A questionnaire that does not ask the age has every record
// in "age not stated": a table by age would be its total under another name.
func (d *Definition) BreakdownsAvailable() []string {
	var out []string
	for _, b := range Breakdowns {
		if item, ok := breakdownItem[b]; !ok || d.Item(item) != nil {
			out = append(out, b)
		}
	}
	return out
}

var indicatorID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+\-]*$`)

// StoredCodes returns the values a choice or multi item is stored with: its choice codes,
// or what its storage transform makes of them.
func (it *Item) StoredCodes() []string {
	switch it.Store {
	case StoreCountryGroup:
		return []string{GroupBE, GroupEU14, GroupEU13, GroupEurNonEU, GroupMaghreb, GroupMENAOther, GroupSSA, GroupAsia,
			GroupAmericasOceania, GroupStateless, GroupUnknown, "8", "9"}
	case StoreResidenceSecurity:
		return []string{"secure", "insecure", "8", "9"}
	}
	codes := make([]string, len(it.Choices))
	for i, ch := range it.Choices {
		codes[i] = ch.Code
	}
	return codes
}

// checkIndicators checks the families and indicators of d against its items, and
// fills in what a declaration leaves out. Links to another questionnaire are checked by
// the catalog (Catalog.checkIndicators), which knows it.
func checkIndicators(d *Definition, fams []IndicatorFamily, inds []Indicator) []Problem {
	var probs []Problem
	bad := func(id, field, format string, args ...any) {
		probs = append(probs, Problem{Item: id, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	famIndex := map[string]int{}
	for i, f := range fams {
		switch {
		case !indicatorID.MatchString(f.ID):
			bad(f.ID, "families", "invalid family id %q", f.ID)
		case famIndex[f.ID] > 0:
			bad(f.ID, "families", "family %s listed twice", f.ID)
		case !f.Title.complete():
			bad(f.ID, "families", "family %s: title needs fr, nl and en", f.ID)
		case f.Theme != "" && !slices.Contains(Themes, f.Theme):
			bad(f.ID, "families", "family %s: unknown theme %q (known: %s)", f.ID, f.Theme, strings.Join(Themes, ", "))
		}
		famIndex[f.ID] = i + 1
		fams[i].Questionnaire = d.ID
	}
	seen := map[string]bool{}
	groups := map[string]string{} // denominator group -> its population and valid, as JSON
	for i := range inds {
		ind := &inds[i]
		ind.Questionnaire = d.ID
		id := ind.ID
		switch {
		case !indicatorID.MatchString(id) || strings.Contains(id, "="):
			bad(id, "id", "invalid indicator id %q (letters, digits, _ . + -)", id)
		case seen[id]:
			bad(id, "id", "indicator %s listed twice", id)
		}
		seen[id] = true
		if famIndex[ind.Family] == 0 {
			bad(id, "family", "unknown family %q (declare it in families)", ind.Family)
		}
		for field, t := range map[string]Text{"label": ind.Label, "short": ind.Short, "numerator": ind.Numerator, "denominator": ind.Denominator} {
			if !t.complete() {
				bad(id, field, "%s needs fr, nl and en", field)
			}
		}
		avail := d.BreakdownsAvailable()
		if len(ind.Breakdowns) == 0 {
			ind.Breakdowns = avail
		}
		last := -1
		for _, b := range ind.Breakdowns {
			k := slices.Index(Breakdowns, b)
			switch {
			case k <= last:
				bad(id, "breakdowns", "breakdowns are some of %s, in that order (not %q)", strings.Join(Breakdowns, ", "), b)
			case !slices.Contains(avail, b):
				bad(id, "breakdowns", "%s does not ask what the breakdown %s needs (%s)", d.ID, b, breakdownItem[b])
			}
			last = k
		}
		check := func(field string, c *Cond, in *Definition) {
			for _, m := range checkCond(c, in) {
				bad(id, field, "%s", m)
			}
		}
		if ind.Population != nil {
			check("population", ind.Population, d)
		}
		if ind.Valid != nil {
			check("valid", ind.Valid, d)
		}
		if ind.Link == nil {
			check("yes", &ind.Yes, d)
		} else if ind.Valid != nil || !isZero(ind.Yes) {
			bad(id, "link", "an indicator over linked records states valid and yes in its link")
		}
		if ind.DenominatorGroup != "" {
			pv, _ := json.Marshal([]any{ind.PopulationCond(), ind.ValidCond(), ind.Link})
			if prev, ok := groups[ind.DenominatorGroup]; ok && prev != string(pv) {
				bad(id, "denominator_group", "indicators of denominator group %s must have the same population and valid conditions", ind.DenominatorGroup)
			}
			groups[ind.DenominatorGroup] = string(pv)
		}
		refs := map[string]bool{}
		for _, r := range ind.References {
			switch {
			case !indicatorID.MatchString(r.ID) || refs[r.ID]:
				bad(id, "references", "reference id %q is invalid or used twice", r.ID)
			case r.Low > r.High || r.Low < 0 || r.High > 100:
				bad(id, "references", "reference %s: 0 <= low <= high <= 100", r.ID)
			case r.Year < 1900 || r.Source == "" || !r.Population.complete() || !r.Note.complete():
				bad(id, "references", "reference %s needs a year, a source, and population and note in fr, nl and en", r.ID)
			}
			refs[r.ID] = true
		}
	}
	// A single-choice family's parts share one denominator: their numerators add up to
	// it only if they count the same people.
	for _, f := range fams {
		if !f.SingleChoice {
			continue
		}
		group := "\x00"
		for _, ind := range inds {
			if ind.Family == f.ID {
				if group == "\x00" {
					group = ind.DenominatorGroup
				}
				if ind.DenominatorGroup == "" || ind.DenominatorGroup != group {
					bad(ind.ID, "denominator_group", "the parts of single-choice family %s need one denominator_group", f.ID)
				}
			}
		}
	}
	return probs
}

func isZero(c Cond) bool {
	return c.Item == "" && c.Answered == "" && c.All == nil && c.Any == nil && c.Not == nil && !c.always
}

// checkCond returns what is wrong with c as a condition on the records of d, and notes
// in it what compiling it needs to know of d's items.
func checkCond(c *Cond, d *Definition) []string {
	forms := 0
	for _, set := range []bool{c.Item != "", c.Answered != "", c.All != nil || c.always, c.Any != nil, c.Not != nil} {
		if set {
			forms++
		}
	}
	if forms != 1 {
		return []string{"a condition has exactly one of item, answered, all, any and not"}
	}
	var out []string
	switch {
	case c.Answered != "":
		it := d.Item(c.Answered)
		if it == nil || it.Type != TypeChoice && it.Type != TypeMulti {
			out = append(out, fmt.Sprintf("answered: %s is not a choice or multi item of %s", c.Answered, d.ID))
		} else {
			c.multi = it.Type == TypeMulti
		}
	case c.Item != "":
		it := d.Item(c.Item)
		n := 0
		for _, set := range []bool{c.In != nil, c.Chose != nil, c.ChoseSome} {
			if set {
				n++
			}
		}
		switch {
		case it == nil:
			return []string{fmt.Sprintf("%s is not an item of %s", c.Item, d.ID)}
		case n != 1:
			return []string{fmt.Sprintf("a condition on %s has exactly one of in, chose and chose_some", c.Item)}
		case c.In != nil && it.Type != TypeChoice:
			return []string{fmt.Sprintf("in: %s is not a choice item (use chose for a multi item)", c.Item)}
		case (c.Chose != nil || c.ChoseSome) && it.Type != TypeMulti:
			return []string{fmt.Sprintf("chose: %s is not a multi item (use in for a choice item)", c.Item)}
		}
		codes := c.In
		if c.Chose != nil {
			codes = c.Chose
		}
		if !c.ChoseSome && len(codes) == 0 {
			out = append(out, fmt.Sprintf("a condition on %s lists no code", c.Item))
		}
		stored := it.StoredCodes()
		for _, code := range codes {
			if !slices.Contains(stored, code) {
				out = append(out, fmt.Sprintf("%s has no stored code %q", c.Item, code))
			}
		}
	case c.Not != nil:
		out = append(out, checkCond(c.Not, d)...)
	default:
		for i := range c.All {
			out = append(out, checkCond(&c.All[i], d)...)
		}
		for i := range c.Any {
			out = append(out, checkCond(&c.Any[i], d)...)
		}
	}
	return out
}

// checkIndicators checks what one definition's indicators say of the others: indicator and
// family ids unique across questionnaires, links to a known questionnaire whose items
// the link's conditions test.
func (c *Catalog) checkIndicators() error {
	var errs []string
	ids := map[string]string{}
	fams := map[string]string{}
	for _, id := range c.IDs() {
		d, _ := c.Latest(id)
		for _, f := range d.Families {
			if q, ok := fams[f.ID]; ok {
				errs = append(errs, fmt.Sprintf("family %s is declared by %s and %s", f.ID, q, id))
			}
			fams[f.ID] = id
		}
		for _, ind := range d.Indicators {
			if q, ok := ids[ind.ID]; ok {
				errs = append(errs, fmt.Sprintf("indicator %s is declared by %s and %s", ind.ID, q, id))
			}
			ids[ind.ID] = id
			if ind.Link == nil {
				continue
			}
			other, ok := c.Latest(ind.Link.Questionnaire)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: indicator %s links to unknown questionnaire %q", id, ind.ID, ind.Link.Questionnaire))
				continue
			}
			for _, cond := range []*Cond{&ind.Link.Valid, &ind.Link.Yes} {
				for _, m := range checkCond(cond, other) {
					errs = append(errs, fmt.Sprintf("%s: indicator %s: link: %s", id, ind.ID, m))
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// DistributionSections are the sections whose items get no distribution table: the
// consent and the month that dates a record (meta), the linkage identifier (link).
var DistributionSections = []string{"meta", "link"}

// Distributions returns a table of the answers to every choice and multi item of d but
// those of the meta and link sections and the breakdown items: one family per item,
// titled with its label, and one indicator per published code (distributionCategories),
// with id QUESTIONNAIRE/ITEM=CODE. Package reports leaves out those whose counts other
// tables already hold or add up to (reports/relations.go). Its population is the consenting respondents; its
// denominator those who answered the item (for a choice item, with one of those codes,
// so that the parts add up to it exactly: one table of a single-choice family, R13; for
// a multi item, any answer, "none of these" included); its numerator those who chose the
// code. They are all sensitive (R8): an item says nothing of how sensitive its answers
// are, and a table whose row is everyone in a group would tell each of them.
func (d *Definition) Distributions() ([]IndicatorFamily, []Indicator) {
	var fams []IndicatorFamily
	var inds []Indicator
	for _, it := range d.Items {
		if it.Type != TypeChoice && it.Type != TypeMulti || slices.Contains(DistributionSections, it.Section) ||
			it.Code == GenderItem || it.Code == NationalityItem {
			// The breakdown items' tables would be the breakdowns' margins by another
			// name, in every table cut by them.
			continue
		}
		cats := distributionCategories(it)
		if len(cats) == 0 {
			continue
		}
		family := d.ID + "/" + it.Code
		fams = append(fams, IndicatorFamily{ID: family, Title: it.Label, SingleChoice: it.Type == TypeChoice, Questionnaire: d.ID})
		valid := Cond{Answered: it.Code, multi: it.Type == TypeMulti}
		if it.Type == TypeChoice {
			valid = Cond{Item: it.Code}
			for _, c := range cats {
				valid.In = append(valid.In, c.parts...)
			}
		}
		for _, c := range cats {
			yes := Cond{Item: it.Code, In: c.parts}
			if it.Type == TypeMulti {
				yes = Cond{Item: it.Code, Chose: c.parts}
			}
			inds = append(inds, Indicator{ID: family + "=" + c.code, Family: family, DenominatorGroup: family, Sensitive: true,
				Label: c.label, Short: c.label, Breakdowns: d.BreakdownsAvailable(), Valid: &valid, Yes: yes,
				Questionnaire: d.ID, Distribution: true, Item: it.Code, Code: it.Code + "=" + c.code})
		}
	}
	return fams, inds
}

// distributionCategory is one row of a distribution table: a published code, the stored
// codes it stands for, its label.
type distributionCategory struct {
	code  string
	parts []string
	label Text
}

// distributionCategories are the rows of an item's distribution table: its choices but
// 8 and 9; for a country stored as its group, the published groups (as in the
// nationality breakdown, QUESTIONNAIRE.md), the unknown country left out like a missing
// answer; for a residence stored as secure or insecure, those two.
func distributionCategories(it *Item) []distributionCategory {
	switch it.Store {
	case StoreCountryGroup:
		out := make([]distributionCategory, len(PublishedGroups))
		for i, g := range PublishedGroups {
			out[i] = distributionCategory{g.Code, g.Parts, g.Label}
		}
		return out
	case StoreResidenceSecurity:
		return []distributionCategory{
			{"secure", []string{"secure"}, Text{FR: "Séjour sûr", NL: "Zeker verblijf", EN: "Secure residence"}},
			{"insecure", []string{"insecure"}, Text{FR: "Séjour précaire", NL: "Onzeker verblijf", EN: "Insecure residence"}},
		}
	}
	var out []distributionCategory
	for _, ch := range it.Choices {
		if !isMissingCode(ch.Code) {
			out = append(out, distributionCategory{ch.Code, []string{ch.Code}, ch.Label})
		}
	}
	return out
}
