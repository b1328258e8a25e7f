package paper

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// The layout of a template, shared by the template writer and the importer.
const (
	// IDColumn is the header of the optional first column: a client-chosen submission
	// id, normally left empty (see the package documentation).
	IDColumn = "submission_id"
	// CodesSheet lists, per choice and multi item, its choices as "code — label": the
	// source of the dropdown lists.
	CodesSheet = "Codes"
	// metaSheet is a hidden sheet naming the questionnaire and version of the template.
	metaSheet = "tamtam"
	// choiceSeparator separates a code from its label in dropdown entries.
	choiceSeparator = " — "
	// noneMark is what a multi cell holds for "none of these" (an empty list); an empty
	// cell is an unanswered item.
	noneMark = "-"
	// labelRow is the row of the questions; data start below it.
	labelRow     = 2
	firstDataRow = 3
	lastRow      = excelize.TotalRows
	// templateFormat names the layout in the meta sheet, should it ever change.
	templateFormat = "tamtam-paper-1"
)

// DataSheetNames are the names of the data sheet in each language; the importer looks for
// any of them, then falls back to the first sheet.
var DataSheetNames = templateText(words.All("template.data_sheet"))

// idLabels are the label of the submission id column in each language, which the
// importer also accepts on the label row.
var idLabels = templateText(words.All("template.id_label"))

// templateText is a text of the catalogue of words in every language, as the importer
// and the questionnaire labels carry it.
func templateText(t map[words.Lang]string) collector.Text {
	return collector.Text{FR: t[words.FR], NL: t[words.NL], EN: t[words.EN]}
}

// fontFamily is set on every style: excelize writes styles without a family unless told,
// and readers then pick different fonts (DESIGN.md §8).
const fontFamily = "Arial"

// Excel's limits on data validation messages; a longer one makes Excel "repair" the file.
const (
	maxPromptTitle = 32
	maxPrompt      = 255
)

// Template returns the data-entry workbook of questionnaire d with its labels in lang
// (fr, nl or en, read by words.Parse; empty is French): a data sheet (row 1 the item
// codes, row 2 the questions, one row per questionnaire from row 3, dropdowns, input
// hints and checks per column), an instructions sheet, the Codes sheet the dropdowns
// read, and a hidden sheet naming the questionnaire and version. It returns an error
// for an unknown language.
//
// The template's own words are the template.* texts of the catalogue of words
// (collector/words), written for people with little schooling: short and plain.
func Template(d *collector.Definition, lang string) (*excelize.File, error) {
	l, err := words.Parse(lang, words.FR)
	if err != nil {
		return nil, fmt.Errorf("paper: %w", err)
	}
	t := &templateWriter{f: excelize.NewFile(), d: d, l: l, lang: string(l)}
	if err := t.write(); err != nil {
		t.f.Close()
		return nil, fmt.Errorf("paper: template %s v%d: %w", d.ID, d.Version, err)
	}
	return t.f, nil
}

// WriteTemplate writes the template of d in lang to w.
func WriteTemplate(w io.Writer, d *collector.Definition, lang string) error {
	f, err := Template(d, lang)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("paper: write template: %w", err)
	}
	return nil
}

type templateWriter struct {
	f    *excelize.File
	d    *collector.Definition
	l    words.Lang // the language of the template's own words
	lang string     // l, for the questionnaire's labels
	st   struct{ code, label, title, heading, wrap, text, number, tableHead int }
	// codesRange is the Codes sheet range of each choice item's dropdown entries.
	codesRange map[string]string
}

func (t *templateWriter) write() error {
	steps := []func() error{t.styles, t.sheets, t.codesSheet, t.dataSheet, t.instructionsSheet, t.metaSheet, t.props}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	t.f.SetActiveSheet(0)
	return nil
}

func (t *templateWriter) styles() error {
	font := func(bold bool, size float64, color string) *excelize.Font {
		return &excelize.Font{Family: fontFamily, Size: size, Bold: bold, Color: color}
	}
	fill := func(rgb string) excelize.Fill {
		return excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{rgb}}
	}
	text := 49 // the "@" number format: what is typed stays text (no "2-4" turned into a date)
	top := &excelize.Alignment{Vertical: "top"}
	wrapTop := &excelize.Alignment{Vertical: "top", WrapText: true}
	for _, s := range []struct {
		id    *int
		style excelize.Style
	}{
		{&t.st.code, excelize.Style{Font: font(false, 8, "595959"), Fill: fill("EDEDED"), NumFmt: text, Alignment: top}},
		{&t.st.label, excelize.Style{Font: font(true, 10, "000000"), Fill: fill("DDEBF7"), NumFmt: text, Alignment: wrapTop}},
		{&t.st.title, excelize.Style{Font: font(true, 14, "000000"), Alignment: top}},
		{&t.st.heading, excelize.Style{Font: font(true, 11, "000000"), Alignment: top}},
		{&t.st.wrap, excelize.Style{Font: font(false, 10, "000000"), Alignment: wrapTop}},
		{&t.st.text, excelize.Style{Font: font(false, 10, "000000"), NumFmt: text}},
		{&t.st.number, excelize.Style{Font: font(false, 10, "000000")}},
		{&t.st.tableHead, excelize.Style{Font: font(true, 10, "000000"), Fill: fill("DDEBF7"), Alignment: wrapTop}},
	} {
		id, err := t.f.NewStyle(&s.style)
		if err != nil {
			return err
		}
		*s.id = id
	}
	return nil
}

// sheets creates the sheets in the order a person meets them. The data sheet comes
// first: the importer falls back to the first sheet when it was renamed.
func (t *templateWriter) sheets() error {
	if err := t.f.SetSheetName(t.f.GetSheetName(0), DataSheetNames.In(t.lang)); err != nil {
		return err
	}
	for _, name := range []string{t.l.T("template.instructions_sheet"), CodesSheet, metaSheet} {
		if _, err := t.f.NewSheet(name); err != nil {
			return err
		}
	}
	return nil
}

// choiceEntry is how a choice appears in a dropdown list and on the Codes sheet.
func choiceEntry(ch collector.Choice, lang string) string {
	return ch.Code + choiceSeparator + ch.Label.In(lang)
}

func (t *templateWriter) codesSheet() error {
	t.codesRange = map[string]string{}
	col := 0
	for _, it := range t.d.Items {
		if it.Type != collector.TypeChoice && it.Type != collector.TypeMulti {
			continue
		}
		col++
		name, err := excelize.ColumnNumberToName(col)
		if err != nil {
			return err
		}
		values := []any{it.Code, it.Label.In(t.lang)}
		for _, ch := range it.Choices {
			values = append(values, choiceEntry(ch, t.lang))
		}
		// Entries as a column: SetSheetCol writes them as strings, codes like "1" included.
		if err := t.f.SetSheetCol(CodesSheet, name+"1", &values); err != nil {
			return err
		}
		last := firstDataRow + len(it.Choices) - 1
		t.codesRange[it.Code] = fmt.Sprintf("%s!$%s$%d:$%s$%d", CodesSheet, name, firstDataRow, name, last)
		if err := t.f.SetCellStyle(CodesSheet, name+"1", name+"1", t.st.code); err != nil {
			return err
		}
		if err := t.f.SetCellStyle(CodesSheet, name+"2", name+"2", t.st.label); err != nil {
			return err
		}
		if err := t.f.SetCellStyle(CodesSheet, name+"3", fmt.Sprintf("%s%d", name, max(last, firstDataRow)), t.st.text); err != nil {
			return err
		}
	}
	if col == 0 {
		return nil
	}
	last, _ := excelize.ColumnNumberToName(col)
	if err := t.f.SetColWidth(CodesSheet, "A", last, 34); err != nil {
		return err
	}
	if err := t.f.SetRowHeight(CodesSheet, labelRow, 60); err != nil {
		return err
	}
	return t.freeze(CodesSheet)
}

func (t *templateWriter) freeze(sheet string) error {
	return t.f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: labelRow, TopLeftCell: "A3", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A3", ActiveCell: "A3", Pane: "bottomLeft"}}})
}

func (t *templateWriter) dataSheet() error {
	sheet := DataSheetNames.In(t.lang)
	headers := []any{IDColumn}
	labels := []any{t.l.T("template.id_label")}
	for _, it := range t.d.Items {
		headers = append(headers, it.Code)
		label := it.Label.In(t.lang)
		if it.Required {
			label += requiredMark
		}
		labels = append(labels, label)
	}
	if err := t.f.SetSheetRow(sheet, "A1", &headers); err != nil {
		return err
	}
	if err := t.f.SetSheetRow(sheet, "A2", &labels); err != nil {
		return err
	}
	lastCol, _ := excelize.ColumnNumberToName(len(headers))
	if err := t.f.SetCellStyle(sheet, "A1", lastCol+"1", t.st.code); err != nil {
		return err
	}
	if err := t.f.SetCellStyle(sheet, "A2", lastCol+"2", t.st.label); err != nil {
		return err
	}
	if err := t.f.SetRowHeight(sheet, labelRow, 90); err != nil {
		return err
	}
	// The submission id column: optional, a UUID of 36 characters when given.
	if err := t.column(sheet, 1, 38, t.st.text, func(dv *excelize.DataValidation) error {
		dv.SetInput(IDColumn, t.l.T("template.prompt_id"))
		dv.SetError(excelize.DataValidationErrorStyleWarning, IDColumn, t.l.T("template.prompt_id"))
		return dv.SetRange(36, 36, excelize.DataValidationTypeTextLength, excelize.DataValidationOperatorEqual)
	}); err != nil {
		return err
	}
	for i, it := range t.d.Items {
		if err := t.itemColumn(sheet, i+2, it); err != nil {
			return fmt.Errorf("item %s: %w", it.Code, err)
		}
	}
	return t.freeze(sheet)
}

// column sets the width and style of column n of the data sheet and adds the data
// validation built by setup to its data rows.
func (t *templateWriter) column(sheet string, n int, width float64, style int, setup func(*excelize.DataValidation) error) error {
	name, err := excelize.ColumnNumberToName(n)
	if err != nil {
		return err
	}
	if err := t.f.SetColWidth(sheet, name, name, width); err != nil {
		return err
	}
	if err := t.f.SetColStyle(sheet, name, style); err != nil {
		return err
	}
	// SetColStyle also restyles the header cells: put theirs back.
	if err := t.f.SetCellStyle(sheet, name+"1", name+"1", t.st.code); err != nil {
		return err
	}
	if err := t.f.SetCellStyle(sheet, name+"2", name+"2", t.st.label); err != nil {
		return err
	}
	dv := excelize.NewDataValidation(true)
	dv.Sqref = fmt.Sprintf("%s%d:%s%d", name, firstDataRow, name, lastRow)
	if err := setup(dv); err != nil {
		return err
	}
	return t.f.AddDataValidation(sheet, dv)
}

func (t *templateWriter) itemColumn(sheet string, n int, it *collector.Item) error {
	title := clip(it.Code, maxPromptTitle)
	prompt := func(what string) string {
		parts := []string{strings.TrimSuffix(what, ".") + "."}
		if cond := t.onlyIf(it, false); cond != "" {
			parts = append(parts, t.l.T("template.prompt_only_if", cond))
		}
		if it.Hint != nil {
			parts = append(parts, it.Hint.In(t.lang))
		}
		return clip(strings.Join(parts, " "), maxPrompt)
	}
	switch it.Type {
	case collector.TypeChoice:
		width := 26.0
		if len(it.Choices) > 40 { // countries: longer names
			width = 30
		}
		return t.column(sheet, n, width, t.st.text, func(dv *excelize.DataValidation) error {
			// Always a range on the Codes sheet: an inline list is limited to 255
			// characters and breaks on labels holding a comma.
			dv.SetSqrefDropList(t.codesRange[it.Code])
			dv.SetInput(title, prompt(t.l.T("template.prompt_choice")))
			// A warning, not a stop: the code alone ("F") is accepted by the importer.
			dv.SetError(excelize.DataValidationErrorStyleWarning, clip(t.l.T("template.err_choice_title"), maxPromptTitle), clip(t.l.T("template.err_choice"), maxPrompt))
			return nil
		})
	case collector.TypeMulti:
		// The item's hint is for the paper form ("none: tick nothing"); in the sheet
		// "none" is written "-", and an empty cell means not asked.
		what := t.l.T("template.prompt_multi", multiExample(it))
		if it.SubsetOf != "" {
			what += " " + t.l.T("template.prompt_subset", it.SubsetOf)
		}
		parts := []string{what}
		if cond := t.onlyIf(it, false); cond != "" {
			parts = append(parts, t.l.T("template.prompt_only_if", cond))
		}
		return t.column(sheet, n, 30, t.st.text, func(dv *excelize.DataValidation) error {
			dv.Type = "none" // a prompt only: a list validation would allow one code
			dv.SetInput(title, clip(strings.Join(parts, " "), maxPrompt))
			return nil
		})
	case collector.TypeInteger:
		return t.column(sheet, n, 12, t.st.number, func(dv *excelize.DataValidation) error {
			what := t.l.T("template.prompt_integer", *it.Min, *it.Max)
			if it.MaxItem != "" {
				what += t.l.T("template.not_above", it.MaxItem)
			}
			dv.SetInput(title, prompt(what))
			dv.SetError(excelize.DataValidationErrorStyleStop, clip(t.l.T("template.err_integer_title"), maxPromptTitle), t.l.T("template.err_integer", *it.Min, *it.Max))
			return dv.SetRange(*it.Min, *it.Max, excelize.DataValidationTypeWhole, excelize.DataValidationOperatorBetween)
		})
	case collector.TypeMonth:
		return t.column(sheet, n, 12, t.st.text, func(dv *excelize.DataValidation) error {
			dv.SetInput(title, prompt(t.l.T("template.prompt_month")))
			dv.SetError(excelize.DataValidationErrorStyleStop, clip(t.l.T("template.err_month_title"), maxPromptTitle), t.l.T("template.err_month"))
			return dv.SetRange(7, 7, excelize.DataValidationTypeTextLength, excelize.DataValidationOperatorEqual)
		})
	case collector.TypeIdentifier:
		return t.column(sheet, n, 18, t.st.text, func(dv *excelize.DataValidation) error {
			dv.SetInput(title, prompt(t.l.T("template.prompt_identifier")))
			dv.SetError(excelize.DataValidationErrorStyleWarning, clip(t.l.T("template.err_identifier_title"), maxPromptTitle), t.l.T("template.prompt_identifier"))
			return dv.SetRange(3, 64, excelize.DataValidationTypeTextLength, excelize.DataValidationOperatorBetween)
		})
	}
	return fmt.Errorf("unknown item type %q", it.Type)
}

// onlyIf says in words when the item applies ("meta.consent = 1 (Oui)"), or "" when it
// always does. Short leaves the choice labels out.
func (t *templateWriter) onlyIf(it *collector.Item, withLabels bool) string {
	var conds []string
	for _, c := range it.When {
		ref := t.d.Item(c.Item)
		var codes []string
		for _, code := range c.In {
			s := code
			if ch, ok := ref.Choice(code); ok && withLabels {
				s += " (" + ch.Label.In(t.lang) + ")"
			}
			codes = append(codes, s)
		}
		conds = append(conds, c.Item+" = "+strings.Join(codes, t.l.T("template.or")))
	}
	return strings.Join(conds, t.l.T("template.and"))
}

// answerText describes the expected answer of an item for the instructions table.
func (t *templateWriter) answerText(it *collector.Item) string {
	var s string
	switch it.Type {
	case collector.TypeChoice:
		s = t.l.T("template.answer_choice")
		if len(it.Choices) <= 12 {
			var codes []string
			for _, ch := range it.Choices {
				codes = append(codes, ch.Code+" = "+ch.Label.In(t.lang))
			}
			s += t.l.T("template.colon") + strings.Join(codes, "; ")
		} else {
			s += t.l.T("template.see_codes")
		}
	case collector.TypeMulti:
		s = t.l.T("template.answer_multi")
	case collector.TypeInteger:
		s = t.l.T("template.answer_integer", *it.Min, *it.Max)
		if it.MaxItem != "" {
			s += t.l.T("template.not_above", it.MaxItem)
		}
	case collector.TypeMonth:
		s = t.l.T("template.answer_month")
		if it.MinMonth != "" {
			s += t.l.T("template.not_before", it.MinMonth)
		}
		if it.NotFuture {
			s += t.l.T("template.not_future")
		}
	case collector.TypeIdentifier:
		s = t.l.T("template.answer_identifier")
	}
	if it.SubsetOf != "" {
		s += t.l.T("template.subset_of", it.SubsetOf)
	}
	if it.Required {
		s = t.l.T("template.required") + s
	}
	return upperFirst(s)
}

// multiExample writes the first two codes of a multi item as a cell holds them
// ("heroin;methadone_np"): an example that is right for the question it is about.
func multiExample(it *collector.Item) string {
	codes := make([]string, 0, 2)
	for _, ch := range it.Choices[:min(2, len(it.Choices))] {
		codes = append(codes, ch.Code)
	}
	return strings.Join(codes, ";")
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

func (t *templateWriter) instructionsSheet() error {
	sheet := t.l.T("template.instructions_sheet")
	row := 1
	set := func(cell string, v any, style int) error {
		if err := t.f.SetCellValue(sheet, cell, v); err != nil {
			return err
		}
		return t.f.SetCellStyle(sheet, cell, cell, style)
	}
	// line writes a paragraph across the four columns; Excel does not fit the height of
	// merged cells, so it is set from the length.
	line := func(text string, style int) error {
		cell := fmt.Sprintf("A%d", row)
		if err := set(cell, text, style); err != nil {
			return err
		}
		if err := t.f.MergeCell(sheet, cell, fmt.Sprintf("D%d", row)); err != nil {
			return err
		}
		lines := utf8.RuneCountInString(text)/120 + 1
		if err := t.f.SetRowHeight(sheet, row, float64(14*lines+2)); err != nil {
			return err
		}
		row++
		return nil
	}
	type para struct {
		text  string
		style int
	}
	paras := []para{
		{t.l.T("template.title", t.d.Title.In(t.lang), t.d.Version), t.st.title},
		{t.d.Description.In(t.lang), t.st.wrap},
		{"", t.st.wrap},
		{t.l.T("template.how_title"), t.st.heading},
	}
	how := []string{t.l.T("template.how.1", DataSheetNames.In(t.lang)), t.l.T("template.how.2"), t.l.T("template.how.3")}
	// Several answers, with an example from the questionnaire's own first multi item.
	for _, it := range t.d.Items {
		if it.Type == collector.TypeMulti {
			how = append(how, t.l.T("template.how.4", multiExample(it)))
			break
		}
	}
	how = append(how, t.l.T("template.how.5"), t.l.T("template.how.6"), t.l.T("template.how.7"),
		t.l.T("template.how.8"), t.l.T("template.how.9"), t.l.T("template.how.10"), t.l.T("template.how.11"))
	for i, s := range how {
		paras = append(paras, para{fmt.Sprintf("%d. %s", i+1, s), t.st.wrap})
	}
	never := t.l.T("template.never")
	if id := t.identifierItem(); id != "" {
		never += " " + t.l.T("template.never_identifier", id)
	}
	paras = append(paras, para{"", t.st.wrap}, para{t.l.T("template.never_title"), t.st.heading}, para{never, t.st.wrap},
		para{"", t.st.wrap}, para{t.l.T("template.import_title"), t.st.heading})
	for i, s := range []string{t.l.T("template.import_steps.1"), t.l.T("template.import_steps.2"), t.l.T("template.import_steps.3")} {
		paras = append(paras, para{fmt.Sprintf("%d. %s", i+1, s), t.st.wrap})
	}
	paras = append(paras, para{"", t.st.wrap}, para{t.l.T("template.items_title"), t.st.heading})
	for _, p := range paras {
		if err := line(p.text, p.style); err != nil {
			return err
		}
	}
	head := []any{t.l.T("template.col_code"), t.l.T("template.col_question"), t.l.T("template.col_answer"), t.l.T("template.col_only_if")}
	if err := t.f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &head); err != nil {
		return err
	}
	if err := t.f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("D%d", row), t.st.tableHead); err != nil {
		return err
	}
	row++
	for _, it := range t.d.Items {
		onlyIf := t.onlyIf(it, true)
		if onlyIf == "" {
			onlyIf = t.l.T("template.always")
		}
		question := it.Label.In(t.lang)
		if it.Hint != nil {
			question += "\n" + it.Hint.In(t.lang)
		}
		values := []any{it.Code, question, t.answerText(it), onlyIf}
		if err := t.f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &values); err != nil {
			return err
		}
		if err := t.f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("D%d", row), t.st.wrap); err != nil {
			return err
		}
		longest := 0
		for i, v := range values[1:] {
			perLine := []int{55, 45, 40}[i]
			longest = max(longest, wrappedLines(v.(string), perLine))
		}
		if err := t.f.SetRowHeight(sheet, row, float64(13*longest+3)); err != nil {
			return err
		}
		row++
	}
	for _, w := range []struct {
		col   string
		width float64
	}{{"A", 26}, {"B", 60}, {"C", 50}, {"D", 45}} {
		if err := t.f.SetColWidth(sheet, w.col, w.col, w.width); err != nil {
			return err
		}
	}
	return nil
}

// wrappedLines estimates the lines a text takes in a column of perLine characters.
func wrappedLines(s string, perLine int) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		n += utf8.RuneCountInString(l)/perLine + 1
	}
	return n
}

func (t *templateWriter) identifierItem() string {
	for _, it := range t.d.Items {
		if it.Type == collector.TypeIdentifier {
			return it.Code
		}
	}
	return ""
}

// metaSheet names the questionnaire and version, so the importer validates the rows
// against the version the form was printed from, not whatever is latest then.
func (t *templateWriter) metaSheet() error {
	rows := [][]any{
		{"questionnaire", t.d.ID},
		{"version", t.d.Version},
		{"lang", t.lang},
		{"format", templateFormat},
	}
	for i, r := range rows {
		if err := t.f.SetSheetRow(metaSheet, fmt.Sprintf("A%d", i+1), &r); err != nil {
			return err
		}
	}
	return t.f.SetSheetVisible(metaSheet, false)
}

func (t *templateWriter) props() error {
	return t.f.SetDocProps(&excelize.DocProperties{
		Title:    t.l.T("template.title", t.d.Title.In(t.lang), t.d.Version),
		Creator:  "tamtam",
		Language: t.lang,
		Subject:  t.d.ID + " v" + strconv.Itoa(t.d.Version),
	})
}

// clip shortens s to at most n characters as Excel counts them (UTF-16 code units),
// ending with "…" when cut.
func clip(s string, n int) string {
	units := func(r rune) int {
		if r >= 0x10000 {
			return 2
		}
		return 1
	}
	total := 0
	for _, r := range s {
		total += units(r)
	}
	if total <= n {
		return s
	}
	used := 0
	for i, r := range s {
		if used+units(r) > n-1 { // room for the ellipsis
			return s[:i] + "…"
		}
		used += units(r)
	}
	return s
}

// requiredMark follows the label of a required item on the data sheet.
const requiredMark = " *"
