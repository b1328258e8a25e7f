// Package xlsform turns an XLSForm (the spreadsheet format of ODK and Kobo) into a tamtam
// questionnaire definition file.
//
// It reads the survey, choices and settings sheets and supports the subset a definition
// can express exactly:
//
//   - select_one LIST (a choice item) and select_multiple LIST (a multi item), with the
//     choices of LIST inlined;
//   - integer with a range constraint (". >= 0 and . <= 120"): definitions need both bounds;
//   - date, kept as a month ("YYYY-MM"): the first one dates the record; ". <= today()"
//     becomes not_future;
//   - required (yes, true or 1);
//   - relevant made of ${x} = 'a', ${x} != 'a', selected(${x}, 'a'), and, or (on one
//     question), not(…) (on one question), each on an earlier select_one: a definition's
//     conditions are sets of codes of earlier choice items, all of which must hold. A
//     negation becomes the other codes of the question, with the codes 8 (refused) and 9
//     (don't know) that tamtam adds to choice items;
//   - labels and hints in plain columns and label::French (fr), label::Dutch (nl),
//     label::English (en): a plain label is used for every language lacking its own;
//   - begin group / end group (not nested): the group's name is the section of the items in
//     it and the first part of their codes (group meta, question consent: meta.consent).
//
// Everything else is refused, each problem with its sheet row and why, all of them at once:
// free text (PRIVACY.md R1: a text box collects names and stories tamtam must never hold),
// calculations, repeats, notes, metadata (device ids, user names, timestamps), defaults,
// choice filters, and expressions or constraints outside the subset. A converted form that
// would silently mean something else than in ODK is worse than one refused.
//
// The result is then checked as `tamtam questionnaire check` checks a file, so the rules
// every questionnaire keeps (a meta.consent item with codes 1 and 0, a required month item
// that always applies) are reported in the user's form terms: the converter never invents
// questions to satisfy them.
package xlsform

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
)

// Problem is one reason a form cannot be converted: the sheet and row (1-based, 0 when it
// concerns the whole sheet or form) where it is, and why.
type Problem struct {
	Sheet   string
	Row     int
	Message string
}

// String writes the problem as SHEET:ROW: message.
func (p Problem) String() string {
	if p.Row == 0 {
		return p.Sheet + ": " + p.Message
	}
	return fmt.Sprintf("%s:%d: %s", p.Sheet, p.Row, p.Message)
}

// Definition is a definition file, in the shape collector.LoadCatalog reads.
type Definition struct {
	ID          string         `json:"id"`
	Version     int            `json:"version"`
	Title       collector.Text `json:"title"`
	Description collector.Text `json:"description"`
	Items       []*Item        `json:"items"`
}

// Item is one item of a definition file.
type Item struct {
	Code      string                `json:"code"`
	Type      collector.ItemType    `json:"type"`
	Section   string                `json:"section"`
	Required  bool                  `json:"required,omitempty"`
	Label     collector.Text        `json:"label"`
	Hint      *collector.Text       `json:"hint,omitempty"`
	Choices   []collector.Choice    `json:"choices,omitempty"`
	Min       *int                  `json:"min,omitempty"`
	Max       *int                  `json:"max,omitempty"`
	NotFuture bool                  `json:"not_future,omitempty"`
	When      []collector.Condition `json:"when,omitempty"`
	Store     collector.StoreAs     `json:"store,omitempty"`
}

// Options are what a form does not say: the definition's id and version, and the catalog
// the result is checked against (nil: not checked).
type Options struct {
	ID      string
	Version int
	Catalog *collector.Catalog
}

// ConvertFile reads the XLSForm at path and converts it (see Convert).
func ConvertFile(path string, opt Options) ([]byte, []Problem, error) {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("xlsform: %w", err)
	}
	defer f.Close()
	data, probs := Convert(f, opt)
	return data, probs, nil
}

// Convert converts an open XLSForm into the JSON of a definition file. It returns the file,
// or every problem found (and no file).
func Convert(f *excelize.File, opt Options) ([]byte, []Problem) {
	c := &converter{opt: opt, rowOf: map[string]int{}, byName: map[string]*Item{}}
	c.readSettings(f)
	lists := c.readChoices(f)
	c.readSurvey(f, lists)
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	data, err := json.MarshalIndent(c.def, "", "  ")
	if err != nil {
		return nil, []Problem{{Sheet: "survey", Message: err.Error()}}
	}
	data = append(data, '\n')
	if opt.Catalog != nil {
		if _, probs := opt.Catalog.CheckFile(opt.ID+".v"+strconv.Itoa(opt.Version)+".json", data); len(probs) > 0 {
			for _, p := range probs {
				c.probs = append(c.probs, Problem{Sheet: "survey", Row: c.rowOf[p.Item], Message: "the definition checker says: " + p.String()})
			}
			return nil, c.probs
		}
	}
	return data, nil
}

type converter struct {
	opt    Options
	def    Definition
	probs  []Problem
	rowOf  map[string]int   // item code -> survey row
	byName map[string]*Item // XLSForm name -> item
}

func (c *converter) bad(sheet string, row int, format string, args ...any) {
	c.probs = append(c.probs, Problem{Sheet: sheet, Row: row, Message: fmt.Sprintf(format, args...)})
}

// sheet is one sheet read as rows of named cells.
type sheet struct {
	name   string
	header []string
	rows   [][]string // rows[i] is sheet row i+2
}

func (s *sheet) get(row []string, col string) string {
	for i, h := range s.header {
		if h == col && i < len(row) {
			return strings.TrimSpace(row[i])
		}
	}
	return ""
}

func (c *converter) readSheet(f *excelize.File, name string, required bool) *sheet {
	idx, err := f.GetSheetIndex(name)
	if err != nil || idx < 0 {
		if required {
			c.bad(name, 0, "the %s sheet is missing", name)
		}
		return nil
	}
	rows, err := f.GetRows(name)
	if err != nil {
		c.bad(name, 0, "cannot read the sheet: %v", err)
		return nil
	}
	s := &sheet{name: name}
	if len(rows) > 0 {
		for _, h := range rows[0] {
			s.header = append(s.header, strings.TrimSpace(h))
		}
		s.rows = rows[1:]
	}
	return s
}

var langColumn = regexp.MustCompile(`^[^()]*\(([a-zA-Z-]+)\)\s*$`)

// text reads a translatable column (label, hint, form_title) of row: the plain column is
// used for every language lacking its own. It returns nil when no column has a value.
func (c *converter) text(s *sheet, rowNum int, row []string, col string) *collector.Text {
	var plain string
	per := map[string]string{}
	found := false
	for i, h := range s.header {
		v := ""
		if i < len(row) {
			v = strings.TrimSpace(row[i])
		}
		switch {
		case h == col:
			plain = v
		case strings.HasPrefix(h, col+"::"):
			m := langColumn.FindStringSubmatch(h[len(col)+2:])
			lang := strings.ToLower(strings.TrimSpace(h[len(col)+2:]))
			if m != nil {
				lang = strings.ToLower(m[1])
			}
			if !slices.Contains(collector.Languages, lang) {
				if v != "" {
					c.bad(s.name, rowNum, "column %s: only French (fr), Dutch (nl) and English (en) labels are supported", h)
				}
				continue
			}
			per[lang] = v
		default:
			continue
		}
		if v != "" {
			found = true
		}
	}
	if !found {
		return nil
	}
	pick := func(lang string) string {
		if v := per[lang]; v != "" {
			return v
		}
		return plain
	}
	return &collector.Text{FR: pick("fr"), NL: pick("nl"), EN: pick("en")}
}

func (c *converter) readSettings(f *excelize.File) {
	if c.opt.ID == "" || c.opt.Version < 1 {
		c.bad("settings", 0, "an id and a version (1 or more) are needed")
	}
	c.def.ID, c.def.Version = c.opt.ID, c.opt.Version
	s := c.readSheet(f, "settings", false)
	var title *collector.Text
	if s != nil && len(s.rows) > 0 {
		title = c.text(s, 2, s.rows[0], "form_title")
		if d := c.text(s, 2, s.rows[0], "description"); d != nil {
			c.def.Description = *d
		}
	}
	if title == nil {
		c.bad("settings", 2, "form_title is needed (in the settings sheet, with label-style language columns if wanted)")
		return
	}
	c.def.Title = *title
}

// choiceList is one list of the choices sheet, with the row where it starts.
type choiceList struct {
	row     int
	choices []collector.Choice
}

func (c *converter) readChoices(f *excelize.File) map[string]*choiceList {
	lists := map[string]*choiceList{}
	s := c.readSheet(f, "choices", false)
	if s == nil {
		return lists
	}
	for i, row := range s.rows {
		n := i + 2
		list, name := s.get(row, "list_name"), s.get(row, "name")
		if list == "" && name == "" {
			continue
		}
		if list == "" || name == "" {
			c.bad("choices", n, "a choice needs a list_name and a name")
			continue
		}
		l := lists[list]
		if l == nil {
			l = &choiceList{row: n}
			lists[list] = l
		}
		ch := collector.Choice{Code: name}
		if t := c.text(s, n, row, "label"); t != nil {
			ch.Label = *t
		} else {
			c.bad("choices", n, "choice %s of list %s has no label", name, list)
		}
		ch.Hint = c.text(s, n, row, "hint")
		l.choices = append(l.choices, ch)
	}
	return lists
}

// Survey columns: the ones converted, and the ones ignored because they only shape how a
// form looks or what it says on an error, which tamtam's forms do their own way.
var (
	surveyColumns = []string{"type", "name", "label", "hint", "required", "relevant", "constraint"}
	ignoredPrefix = []string{"constraint_message", "required_message", "appearance", "guidance_hint", "media"}
)

func columnBase(h string) string {
	base, _, _ := strings.Cut(h, "::")
	return strings.TrimSpace(base)
}

var (
	groupName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	metadata  = []string{"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
		"username", "email", "audit", "start-geopoint", "background-audio"}
)

func (c *converter) readSurvey(f *excelize.File, lists map[string]*choiceList) {
	s := c.readSheet(f, "survey", true)
	if s == nil {
		return
	}
	group, groupRow, nested := "", 0, 0
	dating := false
	for i, row := range s.rows {
		n := i + 2
		typ := strings.Join(strings.Fields(s.get(row, "type")), " ")
		name := s.get(row, "name")
		if typ == "" && name == "" {
			continue
		}
		for j, h := range s.header {
			base := columnBase(h)
			if j >= len(row) || strings.TrimSpace(row[j]) == "" || slices.Contains(surveyColumns, base) || slices.Contains(ignoredPrefix, base) {
				continue
			}
			c.bad("survey", n, "column %s is not supported (a definition cannot express it)", h)
		}
		kind, arg, _ := strings.Cut(typ, " ")
		switch kind {
		case "begin", "begin_group":
			if kind == "begin" && arg != "group" {
				c.bad("survey", n, "%s is not supported: a definition has no repeats, each record is one person once", typ)
				continue
			}
			if group != "" {
				c.bad("survey", n, "group %s is inside group %s: sections cannot be nested", name, group)
				nested++
				continue
			}
			if !groupName.MatchString(name) {
				c.bad("survey", n, "group name %q: lower-case letters, digits and _, starting with a letter (it becomes the section)", name)
			}
			if s.get(row, "relevant") != "" {
				c.bad("survey", n, "relevant on a group is not supported: put it on each question")
			}
			group, groupRow = name, n
			continue
		case "end", "end_group":
			if kind == "end" && arg != "group" {
				c.bad("survey", n, "%s is not supported", typ)
				continue
			}
			switch {
			case nested > 0:
				nested--
			case group == "":
				c.bad("survey", n, "end group without begin group")
			default:
				group = ""
			}
			continue
		case "begin_repeat", "end_repeat":
			c.bad("survey", n, "%s is not supported: a definition has no repeats, each record is one person once", typ)
			continue
		}
		it := &Item{Section: group}
		switch kind {
		case "select_one", "select_multiple":
			it.Type = collector.TypeChoice
			if kind == "select_multiple" {
				it.Type = collector.TypeMulti
			}
			l := lists[arg]
			switch {
			case arg == "" || strings.Contains(arg, " "):
				c.bad("survey", n, "%s needs one choice list name", kind)
			case l == nil:
				c.bad("survey", n, "choice list %s is not in the choices sheet", arg)
			default:
				it.Choices = slices.Clone(l.choices)
			}
		case "integer":
			it.Type = collector.TypeInteger
		case "date":
			it.Type = collector.TypeMonth
		case "text":
			c.bad("survey", n, "text (free text) is never collected: names and stories must not be stored (PRIVACY.md R1); use a select_one")
			continue
		case "calculate":
			c.bad("survey", n, "calculate is not supported: a definition stores answers only")
			continue
		default:
			switch {
			case slices.Contains(metadata, kind):
				c.bad("survey", n, "metadata %s is not collected: tamtam records no device, user or time stamps", kind)
			default:
				c.bad("survey", n, "type %q is not supported (supported: select_one, select_multiple, integer, date, begin group, end group)", typ)
			}
			continue
		}
		if name == "" {
			c.bad("survey", n, "the question has no name")
			continue
		}
		// The code: section.name.
		switch {
		case group != "":
			it.Code = group + "." + name
		case strings.Contains(name, "."):
			it.Code = name
			it.Section, _, _ = strings.Cut(name, ".")
		default:
			c.bad("survey", n, "question %s is outside any group: put it in a group (its section, e.g. meta) or name it SECTION.NAME", name)
			continue
		}
		if c.byName[name] != nil {
			c.bad("survey", n, "name %s is used twice", name)
			continue
		}
		if t := c.text(s, n, row, "label"); t != nil {
			it.Label = *t
		} else {
			c.bad("survey", n, "question %s has no label", name)
		}
		it.Hint = c.text(s, n, row, "hint")
		switch strings.ToLower(s.get(row, "required")) {
		case "yes", "true", "1", "true()":
			it.Required = true
		case "", "no", "false", "0", "false()":
		default:
			c.bad("survey", n, "required %q: write yes or no", s.get(row, "required"))
		}
		if rel := s.get(row, "relevant"); rel != "" {
			when, err := c.relevant(rel)
			if err != nil {
				c.bad("survey", n, "relevant %q: %v", rel, err)
			}
			it.When = when
		}
		if con := s.get(row, "constraint"); con != "" {
			if err := constrain(it, con); err != nil {
				c.bad("survey", n, "constraint %q: %v", con, err)
			}
		} else if it.Type == collector.TypeInteger {
			c.bad("survey", n, "integer %s needs a range constraint, e.g. . >= 0 and . <= 120", name)
		}
		if it.Code == collector.AgeItem && it.Type == collector.TypeInteger {
			// The age of the breakdowns is only ever stored as its band (PRIVACY.md R2);
			// the definition checker refuses demo.age stored any other way.
			it.Store = collector.StoreAgeBand
		}
		if it.Type == collector.TypeMonth && !dating {
			dating = true
			if !it.Required || len(it.When) > 0 {
				c.bad("survey", n, "date %s is the first date, which dates the record: make it required, without relevant", name)
			}
		}
		c.byName[name] = it
		c.rowOf[it.Code] = n
		c.def.Items = append(c.def.Items, it)
	}
	if group != "" {
		c.bad("survey", groupRow, "group %s has no end group", group)
	}
	if consent := c.itemByCode(collector.ConsentItem); consent == nil {
		c.bad("survey", 0, "the form has no consent question: add, first, a group named meta with a required select_one named consent whose choices are 1 (yes) and 0 (no)")
	} else {
		row := c.rowOf[consent.Code]
		codes := []string{}
		for _, ch := range consent.Choices {
			codes = append(codes, ch.Code)
		}
		slices.Sort(codes)
		if consent.Type != collector.TypeChoice || !consent.Required || len(consent.When) > 0 || !slices.Equal(codes, []string{"0", "1"}) {
			c.bad("survey", row, "consent must be a required select_one without relevant whose choices are exactly 1 (yes) and 0 (no)")
		}
	}
	if !dating {
		c.bad("survey", 0, "the form has no date question: add a required date question without relevant (e.g. the month of the interview, in group meta); its month dates the record")
	}
}

func (c *converter) itemByCode(code string) *Item {
	for _, it := range c.def.Items {
		if it.Code == code {
			return it
		}
	}
	return nil
}

var (
	lowerRange = regexp.MustCompile(`^\.\s*(>=|>)\s*(-?\d+)$`)
	upperRange = regexp.MustCompile(`^\.\s*(<=|<)\s*(-?\d+)$`)
	notFuture  = regexp.MustCompile(`^\.\s*<=\s*today\(\s*\)$`)
)

// constrain sets the bounds of it from an XLSForm constraint: a range on integers, not in
// the future on dates.
func constrain(it *Item, con string) error {
	switch it.Type {
	case collector.TypeMonth:
		if !notFuture.MatchString(strings.TrimSpace(con)) {
			return fmt.Errorf("on a date only . <= today() is supported")
		}
		it.NotFuture = true
		return nil
	case collector.TypeInteger:
	default:
		return fmt.Errorf("constraints are supported on integer and date questions only")
	}
	for part := range strings.SplitSeq(con, " and ") {
		part = strings.TrimSpace(part)
		if m := lowerRange.FindStringSubmatch(part); m != nil && it.Min == nil {
			v, err := strconv.Atoi(m[2])
			if err != nil {
				return err
			}
			if m[1] == ">" {
				v++
			}
			it.Min = &v
			continue
		}
		if m := upperRange.FindStringSubmatch(part); m != nil && it.Max == nil {
			v, err := strconv.Atoi(m[2])
			if err != nil {
				return err
			}
			if m[1] == "<" {
				v--
			}
			it.Max = &v
			continue
		}
		return fmt.Errorf("only a range like . >= 0 and . <= 120 is supported")
	}
	if it.Min == nil || it.Max == nil {
		return fmt.Errorf("both bounds are needed, like . >= 0 and . <= 120")
	}
	if *it.Min > *it.Max {
		return fmt.Errorf("the range is empty")
	}
	return nil
}
