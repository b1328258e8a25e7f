package collector

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector/words"
)

// Text is a label in the three languages of the forms. French is the master language.
type Text struct {
	FR string `json:"fr"`
	NL string `json:"nl"`
	EN string `json:"en"`
}

// Languages lists the languages every label has, the default first: the catalogue's
// (package words), so that a language is added in one place.
var Languages = func() []string {
	out := make([]string, len(words.Langs))
	for i, l := range words.Langs {
		out[i] = string(l)
	}
	return out
}()

// In returns the text in lang, falling back to French for an unknown language.
func (t Text) In(lang string) string {
	switch lang {
	case "nl":
		return t.NL
	case "en":
		return t.EN
	}
	return t.FR
}

func (t Text) complete() bool { return t.FR != "" && t.NL != "" && t.EN != "" }

// ItemType is the type of an item's answer.
type ItemType string

// The item types of DESIGN.md §3.
const (
	TypeChoice     ItemType = "choice"     // one code string
	TypeMulti      ItemType = "multi"      // an array of distinct code strings
	TypeInteger    ItemType = "integer"    // a whole number within [Min, Max]
	TypeMonth      ItemType = "month"      // "YYYY-MM"
	TypeIdentifier ItemType = "identifier" // linkage only: turned into a keyed hash, never stored
)

// StoreAs names how an answer is written. The set is closed on purpose: a definition file
// can choose among these transforms but cannot add one, so no new version can make tamtam
// store a value that anonymisation should remove.
type StoreAs string

// The storage transforms (PRIVACY.md R2, R3).
const (
	StoreAsIs              StoreAs = ""                   // the code, number or month as answered
	StoreAgeBand           StoreAs = "age_band"           // integer age -> 18-24 … 55+
	StoreCountryGroup      StoreAs = "country_group"      // country code -> nationality group
	StoreResidenceSecurity StoreAs = "residence_security" // residence status -> secure / insecure
	StoreLinkKey           StoreAs = "link_key"           // identifier -> HMAC linkage key
)

// Choice is one allowed code of a choice or multi item.
type Choice struct {
	Code  string `json:"code"`
	Label Text   `json:"label"`
	Hint  *Text  `json:"hint,omitempty"`
	TDI   string `json:"tdi,omitempty"`   // EMCDDA TDI substance code, for substances
	Group string `json:"group,omitempty"` // nationality group, for countries
}

// Condition holds when the answer to Item is one of In. An item applies when all its
// conditions hold; an unanswered or non-applicable item satisfies no condition.
type Condition struct {
	Item string   `json:"item"`
	In   []string `json:"in"`
}

// Item is one question of a questionnaire.
type Item struct {
	Code     string      `json:"code"`
	Type     ItemType    `json:"type"`
	Required bool        `json:"required"`
	Section  string      `json:"section,omitempty"`
	Label    Text        `json:"label"`
	Hint     *Text       `json:"hint,omitempty"`
	Choices  []Choice    `json:"choices,omitempty"`
	When     []Condition `json:"when,omitempty"`
	Store    StoreAs     `json:"store,omitempty"`
	// Integer items.
	Min, Max *int   `json:"-"`
	MaxItem  string `json:"max_item,omitempty"` // an integer item whose answer bounds this one
	// Month items.
	MinMonth  string `json:"-"`
	NotFuture bool   `json:"not_future,omitempty"`
	// Multi items.
	SubsetOf string `json:"subset_of,omitempty"`

	choiceIndex map[string]int
}

// MarshalJSON writes the item in the served shape, where "min" is a number for integer
// items and a "YYYY-MM" string for month items.
func (it *Item) MarshalJSON() ([]byte, error) {
	type plain Item
	var extra struct {
		*plain
		Min any `json:"min,omitempty"`
		Max any `json:"max,omitempty"`
	}
	extra.plain = (*plain)(it)
	switch {
	case it.Type == TypeMonth && it.MinMonth != "":
		extra.Min = it.MinMonth
	case it.Min != nil:
		extra.Min = *it.Min
	}
	if it.Max != nil {
		extra.Max = *it.Max
	}
	return json.Marshal(extra)
}

// Choice returns the choice with the given code.
func (it *Item) Choice(code string) (Choice, bool) {
	i, ok := it.choiceIndex[code]
	if !ok {
		return Choice{}, false
	}
	return it.Choices[i], true
}

// Definition is one version of a questionnaire.
type Definition struct {
	ID          string  `json:"id"`
	Version     int     `json:"version"`
	Title       Text    `json:"title"`
	Description Text    `json:"description"`
	Items       []*Item `json:"items"`
	// Families and Indicators are what its reports count (indicators.go). They are not
	// served, nor part of its fingerprint: they say how answers are counted, not what
	// they mean, and may change between releases of one version.
	Families   []IndicatorFamily `json:"-"`
	Indicators []Indicator       `json:"-"`

	byCode map[string]*Item
	source string // the file it was loaded from, "" for a built-in one
	period string // code of the month item that dates a record (entry or follow-up month)
	plan   *plan  // how Validate runs, compiled at load
}

// plan is a definition compiled for Validate: the references between items resolved to
// item indices, once, rather than looked up by code for every submission.
type plan struct {
	when    [][]int // per item, the index of the item of each condition
	subset  []int   // per item, the index of its SubsetOf item, or -1
	maxItem []int   // per item, the index of its MaxItem item, or -1
	sorted  []int   // item indices in the order of their codes (the canonical encoding)
	byCode  []*Item // the items in that order
	consent int     // index of ConsentItem, or -1
}

// compile returns the plan of d. References must name items of d (LoadCatalog checks it).
func compile(d *Definition) *plan {
	n := len(d.Items)
	index := make(map[string]int, n)
	for i, it := range d.Items {
		index[it.Code] = i
	}
	ref := func(code string) int {
		if i, ok := index[code]; ok {
			return i
		}
		return -1
	}
	p := &plan{when: make([][]int, n), subset: make([]int, n), maxItem: make([]int, n), sorted: make([]int, n),
		consent: ref(ConsentItem)}
	for i, it := range d.Items {
		for _, c := range it.When {
			p.when[i] = append(p.when[i], ref(c.Item))
		}
		p.subset[i], p.maxItem[i], p.sorted[i] = ref(it.SubsetOf), ref(it.MaxItem), i
	}
	slices.SortFunc(p.sorted, func(a, b int) int { return strings.Compare(d.Items[a].Code, d.Items[b].Code) })
	p.byCode = make([]*Item, n)
	for k, i := range p.sorted {
		p.byCode[k] = d.Items[i]
	}
	return p
}

// Item returns the item with the given code, or nil.
func (d *Definition) Item(code string) *Item { return d.byCode[code] }

// ItemsByCode returns the items in the order of their codes, the order of encodings that
// must not depend on the definition's layout (the canonical form, stored answers); it
// spares a sort per submission. The slice must not be modified.
func (d *Definition) ItemsByCode() []*Item {
	if d.plan != nil {
		return d.plan.byCode
	}
	return compile(d).byCode
}

// PeriodItem returns the code of the required month item that dates the questionnaire
// (meta.entry_month, meta.followup_month): the record's year and month come from it.
func (d *Definition) PeriodItem() string { return d.period }

// Catalog holds every known version of every questionnaire.
type Catalog struct {
	versions map[string][]*Definition // by id, ascending version
	lists    map[string][]Choice      // the named choice lists, for the files added later
}

//go:embed questionnaires/*.json
var builtinQuestionnaires embed.FS

// BuiltinCatalog loads the questionnaires shipped with tamtam.
func BuiltinCatalog() (*Catalog, error) {
	sub, err := fs.Sub(builtinQuestionnaires, "questionnaires")
	if err != nil {
		return nil, err
	}
	return LoadCatalog(sub)
}

// Latest returns the newest version of questionnaire id.
func (c *Catalog) Latest(id string) (*Definition, bool) {
	vs := c.versions[id]
	if len(vs) == 0 {
		return nil, false
	}
	return vs[len(vs)-1], true
}

// Get returns version v of questionnaire id.
func (c *Catalog) Get(id string, v int) (*Definition, bool) {
	for _, d := range c.versions[id] {
		if d.Version == v {
			return d, true
		}
	}
	return nil, false
}

// IDs returns the questionnaire ids in order.
func (c *Catalog) IDs() []string {
	ids := make([]string, 0, len(c.versions))
	for id := range c.versions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Versions returns the known versions of questionnaire id, ascending.
func (c *Catalog) Versions(id string) []int {
	var vs []int
	for _, d := range c.versions[id] {
		vs = append(vs, d.Version)
	}
	return vs
}

// The files of a catalog directory.
const listsFile = "lists.json"

var definitionFile = regexp.MustCompile(`^([a-z][a-z0-9_]*)\.v([1-9][0-9]*)\.json$`)

// LoadCatalog reads lists.json and every ID.vN.json file of fsys and checks them: unknown
// keys, missing translations, dangling references and impossible storage transforms are
// errors, so a faulty definition stops tamtam at start rather than at the first answer.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	lists, err := loadLists(fsys)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	c := &Catalog{versions: map[string][]*Definition{}, lists: lists}
	for _, name := range names {
		if name == listsFile {
			continue
		}
		m := definitionFile.FindStringSubmatch(path.Base(name))
		if m == nil {
			return nil, fmt.Errorf("collector: questionnaire file %s: name must be ID.vN.json", name)
		}
		d, err := loadDefinition(fsys, name, lists)
		if err != nil {
			return nil, fmt.Errorf("collector: questionnaire file %s: %w", name, err)
		}
		if d.ID != m[1] || fmt.Sprint(d.Version) != m[2] {
			return nil, fmt.Errorf("collector: questionnaire file %s declares %s version %d", name, d.ID, d.Version)
		}
		c.versions[d.ID] = append(c.versions[d.ID], d)
	}
	if len(c.versions) == 0 {
		return nil, fmt.Errorf("collector: no questionnaire definitions found")
	}
	for _, vs := range c.versions {
		slices.SortFunc(vs, func(a, b *Definition) int { return a.Version - b.Version })
	}
	if err := c.checkIndicators(); err != nil {
		return nil, fmt.Errorf("collector: indicators: %w", err)
	}
	return c, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

func loadLists(fsys fs.FS) (map[string][]Choice, error) {
	data, err := fs.ReadFile(fsys, listsFile)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	lists := map[string][]Choice{}
	if err := decodeStrict(data, &lists); err != nil {
		return nil, fmt.Errorf("collector: %s: %w", listsFile, err)
	}
	if len(lists["missing"]) == 0 {
		return nil, fmt.Errorf("collector: %s: the \"missing\" list (codes 8 and 9) is required", listsFile)
	}
	if _, ok := lists[countriesList]; ok {
		return nil, fmt.Errorf("collector: %s: %q is built in and cannot be redefined", listsFile, countriesList)
	}
	lists[countriesList] = countryChoices()
	for name, cs := range lists {
		if err := checkChoices(cs); err != nil {
			return nil, fmt.Errorf("collector: %s: list %s: %w", listsFile, name, err)
		}
	}
	return lists, nil
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+\-]*$`)

func checkChoices(cs []Choice) error {
	seen := map[string]bool{}
	for _, ch := range cs {
		if !codePattern.MatchString(ch.Code) {
			return fmt.Errorf("invalid choice code %q", ch.Code)
		}
		if seen[ch.Code] {
			return fmt.Errorf("choice %s listed twice", ch.Code)
		}
		seen[ch.Code] = true
		if !ch.Label.complete() {
			return fmt.Errorf("choice %s: label needs fr, nl and en", ch.Code)
		}
		if ch.Hint != nil && !ch.Hint.complete() {
			return fmt.Errorf("choice %s: hint needs fr, nl and en", ch.Code)
		}
	}
	return nil
}

// fileItem is an item as written in a definition file: choices may come from a named list.
type fileItem struct {
	Code         string          `json:"code"`
	Type         ItemType        `json:"type"`
	Required     bool            `json:"required"`
	Section      string          `json:"section"`
	Label        Text            `json:"label"`
	Hint         *Text           `json:"hint"`
	List         string          `json:"list"`
	Choices      []Choice        `json:"choices"`
	MissingCodes *bool           `json:"missing_codes"`
	Min          json.RawMessage `json:"min"`
	Max          *int            `json:"max"`
	MaxItem      string          `json:"max_item"`
	NotFuture    bool            `json:"not_future"`
	SubsetOf     string          `json:"subset_of"`
	When         []Condition     `json:"when"`
	Store        StoreAs         `json:"store"`
}

type fileDefinition struct {
	ID          string            `json:"id"`
	Version     int               `json:"version"`
	Title       Text              `json:"title"`
	Description Text              `json:"description"`
	Items       []fileItem        `json:"items"`
	Families    []IndicatorFamily `json:"families"`
	Indicators  []Indicator       `json:"indicators"`
}

var monthPattern = regexp.MustCompile(`^(\d{4})-(0[1-9]|1[0-2])$`)

var itemCodePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)

func loadDefinition(fsys fs.FS, name string, lists map[string][]Choice) (*Definition, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	d, probs := parseDefinition(data, lists)
	if len(probs) > 0 {
		return nil, &DefinitionError{File: name, Problems: probs}
	}
	return d, nil
}

// parseDefinition decodes and checks one definition file, reporting every problem it
// finds rather than the first: the author of a file fixes them in one go. A definition is
// returned only without problems.
func parseDefinition(data []byte, lists map[string][]Choice) (*Definition, []Problem) {
	if len(data) > MaxDefinitionBytes {
		return nil, []Problem{{Message: fmt.Sprintf("the file is larger than %d bytes", MaxDefinitionBytes)}}
	}
	probs := unknownKeys(data)
	var fd fileDefinition
	if err := decodeStrict(data, &fd); err != nil {
		// Unknown fields, each already reported, do not stop the check of the rest.
		if len(probs) == 0 || !strings.Contains(err.Error(), "unknown field") {
			return nil, append(probs, Problem{Message: err.Error()})
		}
		fd = fileDefinition{}
		if err := json.Unmarshal(data, &fd); err != nil {
			return nil, append(probs, Problem{Message: err.Error()})
		}
	}
	d := &Definition{ID: fd.ID, Version: fd.Version, Title: fd.Title, Description: fd.Description, byCode: map[string]*Item{}}
	if !definitionID.MatchString(fd.ID) {
		probs = append(probs, Problem{Field: "id", Message: "id must be lower-case letters, digits and _, starting with a letter"})
	}
	if fd.Version < 1 || fd.Version > maxVersion {
		probs = append(probs, Problem{Field: "version", Message: fmt.Sprintf("version must be a whole number from 1 to %d", maxVersion)})
	}
	if !fd.Title.complete() {
		probs = append(probs, Problem{Field: "title", Message: "title needs fr, nl and en"})
	}
	var firstMonth *Item
	for _, fi := range fd.Items {
		it, itemProbs := buildItem(fi, lists, d)
		for _, p := range itemProbs {
			p.Item = fi.Code
			probs = append(probs, p)
		}
		if it == nil {
			continue
		}
		d.Items = append(d.Items, it)
		d.byCode[it.Code] = it
		if firstMonth == nil && it.Type == TypeMonth {
			firstMonth = it
		}
	}
	// The rules every questionnaire keeps, whoever wrote it: a refusal is recorded (the
	// consent item, "1" interviewed, "0" refused, counted for the response rate), and
	// the first month item dates the record (its year and month are stored, so it is
	// always answered).
	if c := d.Item(ConsentItem); c == nil || c.Type != TypeChoice || !c.Required || len(c.When) > 0 {
		probs = append(probs, Problem{Item: ConsentItem, Message: fmt.Sprintf("a required choice item %s that always applies is needed", ConsentItem)})
	} else if _, yes := c.Choice("1"); !yes || len(c.Choices) != 2 {
		probs = append(probs, Problem{Item: ConsentItem, Field: "choices", Message: `consent has exactly the codes "1" (yes) and "0" (refused)`})
	} else if _, no := c.Choice("0"); !no {
		probs = append(probs, Problem{Item: ConsentItem, Field: "choices", Message: `consent has exactly the codes "1" (yes) and "0" (refused)`})
	}
	// The breakdown items are what every report groups by: their codes always mean the
	// same thing, and their exact values are never stored (PRIVACY.md R2).
	if it := d.Item(AgeItem); it != nil && (it.Type != TypeInteger || it.Store != StoreAgeBand) {
		probs = append(probs, Problem{Item: AgeItem, Field: "store", Message: AgeItem + " is the age of the breakdowns: an integer item stored as age_band"})
	}
	if it := d.Item(NationalityItem); it != nil && it.Store != StoreCountryGroup {
		probs = append(probs, Problem{Item: NationalityItem, Field: "store", Message: NationalityItem + " is the nationality of the breakdowns: a choice item on the countries list, stored as country_group"})
	}
	switch {
	case firstMonth == nil:
		probs = append(probs, Problem{Field: "items", Message: "a required month item that always applies is needed to date records"})
	case !firstMonth.Required || len(firstMonth.When) > 0:
		probs = append(probs, Problem{Item: firstMonth.Code, Field: "required",
			Message: "the first month item dates records: it must be required and always apply (a required month item that always applies is needed)"})
	default:
		d.period = firstMonth.Code
	}
	if len(probs) > 0 {
		return nil, probs
	}
	d.Families, d.Indicators = fd.Families, fd.Indicators
	if probs := checkIndicators(d, d.Families, d.Indicators); len(probs) > 0 {
		return nil, probs
	}
	d.plan = compile(d)
	return d, nil
}

// unknownKeys reports every key a definition file may not have, at the top and in each
// item, before the strict decoding stops at the first.
func unknownKeys(data []byte) []Problem {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil // the strict decoding says what is wrong
	}
	var probs []Problem
	known := func(v any) map[string]bool {
		m := map[string]bool{}
		t := reflect.TypeOf(v)
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			m[name] = true
		}
		return m
	}
	topKeys, itemKeys := known(fileDefinition{}), known(fileItem{})
	for _, k := range sortedKeys(top) {
		if !topKeys[k] {
			probs = append(probs, Problem{Field: k, Message: fmt.Sprintf("unknown field %q", k)})
		}
	}
	var items []map[string]json.RawMessage
	if json.Unmarshal(top["items"], &items) != nil {
		return probs
	}
	for _, it := range items {
		var code string
		json.Unmarshal(it["code"], &code)
		for _, k := range sortedKeys(it) {
			if !itemKeys[k] {
				probs = append(probs, Problem{Item: code, Field: k, Message: fmt.Sprintf("unknown field %q", k)})
			}
		}
	}
	return probs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// buildItem turns a file item into an Item, checking it against the items before it (d).
// It reports every problem of the item, each with the field it is in; the item is nil
// when its code cannot be used.
func buildItem(fi fileItem, lists map[string][]Choice, d *Definition) (*Item, []Problem) {
	var probs []Problem
	bad := func(field, format string, args ...any) {
		probs = append(probs, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !itemCodePattern.MatchString(fi.Code) {
		bad("code", "invalid item code")
		return nil, probs
	}
	if d.byCode[fi.Code] != nil {
		bad("code", "code used twice")
		return nil, probs
	}
	if !fi.Label.complete() {
		bad("label", "label needs fr, nl and en")
	}
	if fi.Hint != nil && !fi.Hint.complete() {
		bad("hint", "hint needs fr, nl and en")
	}
	it := &Item{Code: fi.Code, Type: fi.Type, Required: fi.Required, Section: fi.Section,
		Label: fi.Label, Hint: fi.Hint, When: fi.When, Store: fi.Store, MaxItem: fi.MaxItem,
		NotFuture: fi.NotFuture, SubsetOf: fi.SubsetOf}
	if it.Section == "" {
		it.Section, _, _ = strings.Cut(it.Code, ".")
	}
	hasChoices := fi.List != "" || fi.Choices != nil
	typeOK := true
	switch fi.Type {
	case TypeChoice, TypeMulti:
		if fi.List != "" && fi.Choices != nil || !hasChoices {
			bad("choices", "exactly one of list and choices is needed")
		} else if fi.List != "" {
			l, ok := lists[fi.List]
			if !ok {
				bad("list", "unknown list %q", fi.List)
			}
			it.Choices = slices.Clone(l)
		} else {
			if err := checkChoices(fi.Choices); err != nil {
				bad("choices", "%v", err)
			}
			it.Choices = fi.Choices
		}
		// 8 (refused) and 9 (don't know) are allowed on every choice item (QUESTIONNAIRE.md).
		// A file in the served shape lists them already, last: they are not added twice.
		// The consent item takes none unless asked: it is "1" or "0" (parseDefinition).
		missing := fi.Code != ConsentItem
		if fi.MissingCodes != nil {
			missing = *fi.MissingCodes
		}
		if fi.Type == TypeChoice && missing && !endsWith(it.Choices, lists["missing"]) {
			it.Choices = append(it.Choices, lists["missing"]...)
		}
		it.choiceIndex = map[string]int{}
		for i, ch := range it.Choices {
			if _, dup := it.choiceIndex[ch.Code]; dup {
				bad("choices", "choice %s listed twice", ch.Code)
				continue
			}
			it.choiceIndex[ch.Code] = i
		}
	case TypeInteger:
		if len(fi.Min) > 0 {
			var m int
			if err := json.Unmarshal(fi.Min, &m); err != nil {
				bad("min", "min must be an integer")
			} else {
				it.Min = &m
			}
		}
		it.Max = fi.Max
		if it.Min == nil || it.Max == nil || *it.Min > *it.Max {
			bad("max", "integer items need min <= max")
			typeOK = false
		}
	case TypeMonth:
		if len(fi.Min) > 0 {
			if err := json.Unmarshal(fi.Min, &it.MinMonth); err != nil || !monthPattern.MatchString(it.MinMonth) {
				bad("min", "min must be a YYYY-MM string")
			}
		}
	case TypeIdentifier:
	default:
		bad("type", "unknown type %q", fi.Type)
		typeOK = false
	}
	if hasChoices && fi.Type != TypeChoice && fi.Type != TypeMulti {
		bad("choices", "only choice and multi items have choices")
	}
	if fi.MissingCodes != nil && fi.Type != TypeChoice {
		bad("missing_codes", "missing_codes is for choice items")
	}
	if (fi.Max != nil || len(fi.Min) > 0) && fi.Type != TypeInteger && fi.Type != TypeMonth {
		bad("min", "min and max are for integer and month items")
	}
	if fi.NotFuture && fi.Type != TypeMonth {
		bad("not_future", "not_future is for month items")
	}
	if fi.List == countriesList && it.Store != StoreCountryGroup {
		bad("store", "items on the countries list must be stored as country_group: an exact country is never stored")
	}
	if it.Store == StoreAsIs && (fi.Type == TypeChoice || fi.Type == TypeMulti) {
		countries, ages := 0, 0
		for _, ch := range it.Choices {
			if _, ok := NationalityGroup(ch.Code); ok {
				countries++
			}
			if n, err := strconv.Atoi(ch.Code); err == nil && n >= 10 && n <= 120 {
				ages++
			}
		}
		switch {
		case countries >= 3:
			bad("choices", "the codes are countries: use the countries list, stored as country_group (an exact country is never stored, PRIVACY.md R2)")
		case ages >= 10:
			bad("choices", "the codes look like exact ages: use the integer item demo.age, stored as age_band (an exact age is never stored, PRIVACY.md R2)")
		}
	}
	if typeOK {
		if err := checkStore(it); err != nil {
			bad("store", "%v", err)
		}
	}
	for _, c := range it.When {
		ref := d.byCode[c.Item]
		if ref == nil {
			bad("when", "condition on %s, which is not an earlier item", c.Item)
			continue
		}
		if ref.Type != TypeChoice || len(c.In) == 0 {
			bad("when", "condition on %s: conditions test codes of an earlier choice item", c.Item)
			continue
		}
		// Whether an item is answered is stored, and tables are published of it: a
		// question asked of one country, or of one residence status, would store the
		// exact one (PRIVACY.md R2); one asked of one gender would be a breakdown by
		// another name, which disclosure control does not relate to the others.
		if ref.Store != StoreAsIs || ref.Code == GenderItem {
			bad("when", "condition on %s: a question may not depend on an item stored coarsened or on a breakdown item", c.Item)
			continue
		}
		for _, code := range c.In {
			if _, ok := ref.Choice(code); !ok {
				bad("when", "condition on %s: unknown code %q", c.Item, code)
			}
		}
	}
	if it.MaxItem != "" {
		ref := d.byCode[it.MaxItem]
		if it.Type != TypeInteger || ref == nil || ref.Type != TypeInteger {
			bad("max_item", "max_item must name an earlier integer item, on an integer item")
		}
	}
	if it.SubsetOf != "" {
		ref := d.byCode[it.SubsetOf]
		if it.Type != TypeMulti || ref == nil || ref.Type != TypeMulti {
			bad("subset_of", "subset_of must name an earlier multi item, on a multi item")
		}
	}
	return it, probs
}

// endsWith reports whether cs ends with tail, codes and labels alike.
func endsWith(cs, tail []Choice) bool {
	if len(tail) == 0 || len(cs) < len(tail) {
		return false
	}
	for i, t := range tail {
		c := cs[len(cs)-len(tail)+i]
		if c.Code != t.Code || c.Label != t.Label || c.TDI != t.TDI || c.Group != t.Group || (c.Hint == nil) != (t.Hint == nil) ||
			c.Hint != nil && *c.Hint != *t.Hint {
			return false
		}
	}
	return true
}

// checkStore refuses transforms that do not fit the item, and identifiers stored any
// other way than as a linkage key.
func checkStore(it *Item) error {
	switch it.Store {
	case StoreAsIs:
		if it.Type == TypeIdentifier {
			return fmt.Errorf("identifier items must be stored as link_key")
		}
	case StoreAgeBand:
		if it.Type != TypeInteger || *it.Min < 18 {
			return fmt.Errorf("age_band applies to integer items with min 18 or more (the first band is 18-24)")
		}
	case StoreCountryGroup:
		if it.Type != TypeChoice {
			return fmt.Errorf("country_group applies to choice items")
		}
		for _, ch := range it.Choices {
			if _, ok := NationalityGroup(ch.Code); !ok && !isMissingCode(ch.Code) {
				return fmt.Errorf("country_group needs codes of the countries list (choice %s is not one)", ch.Code)
			}
		}
	case StoreResidenceSecurity:
		if it.Type != TypeChoice {
			return fmt.Errorf("residence_security applies to choice items")
		}
		for _, ch := range it.Choices {
			if _, ok := residenceSecurity[ch.Code]; !ok && !isMissingCode(ch.Code) {
				return fmt.Errorf("residence_security does not know choice %s", ch.Code)
			}
		}
	case StoreLinkKey:
		if it.Type != TypeIdentifier {
			return fmt.Errorf("link_key applies to identifier items")
		}
	default:
		return fmt.Errorf("unknown store %q", it.Store)
	}
	return nil
}

func isMissingCode(code string) bool { return code == "8" || code == "9" }
