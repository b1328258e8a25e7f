package paper

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
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
var DataSheetNames = collector.Text{FR: "Données", NL: "Gegevens", EN: "Data"}

// fontFamily is set on every style: excelize writes styles without a family unless told,
// and readers then pick different fonts (DESIGN.md §8).
const fontFamily = "Arial"

// Excel's limits on data validation messages; a longer one makes Excel "repair" the file.
const (
	maxPromptTitle = 32
	maxPrompt      = 255
)

// Template returns the data-entry workbook of questionnaire d with its labels in lang
// (fr, nl or en): a data sheet (row 1 the item codes, row 2 the questions, one row per
// questionnaire from row 3, dropdowns, input hints and checks per column), an
// instructions sheet, the Codes sheet the dropdowns read, and a hidden sheet naming the
// questionnaire and version. It returns an error for an unknown language.
func Template(d *collector.Definition, lang string) (*excelize.File, error) {
	if !slices.Contains(collector.Languages, lang) {
		return nil, fmt.Errorf("paper: unknown language %q: use %s", lang, strings.Join(collector.Languages, ", "))
	}
	t := &templateWriter{f: excelize.NewFile(), d: d, lang: lang, tx: texts(lang)}
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
	lang string
	tx   *templateTexts
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
	for _, name := range []string{t.tx.instructionsSheet, CodesSheet, metaSheet} {
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
	tx := t.tx
	headers := []any{IDColumn}
	labels := []any{tx.idLabel}
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
		dv.SetInput(IDColumn, tx.promptID)
		dv.SetError(excelize.DataValidationErrorStyleWarning, IDColumn, tx.promptID)
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
	tx := t.tx
	title := clip(it.Code, maxPromptTitle)
	prompt := func(what string) string {
		parts := []string{strings.TrimSuffix(what, ".") + "."}
		if cond := t.onlyIf(it, false); cond != "" {
			parts = append(parts, fmt.Sprintf(tx.promptOnlyIf, cond))
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
			dv.SetInput(title, prompt(tx.promptChoice))
			// A warning, not a stop: the code alone ("F") is accepted by the importer.
			dv.SetError(excelize.DataValidationErrorStyleWarning, clip(tx.errChoiceTitle, maxPromptTitle), clip(tx.errChoice, maxPrompt))
			return nil
		})
	case collector.TypeMulti:
		// The item's hint is for the paper form ("none: tick nothing"); in the sheet
		// "none" is written "-", and an empty cell means not asked.
		what := tx.promptMulti
		if it.SubsetOf != "" {
			what += " " + fmt.Sprintf(tx.promptSubset, it.SubsetOf)
		}
		parts := []string{what}
		if cond := t.onlyIf(it, false); cond != "" {
			parts = append(parts, fmt.Sprintf(tx.promptOnlyIf, cond))
		}
		return t.column(sheet, n, 30, t.st.text, func(dv *excelize.DataValidation) error {
			dv.Type = "none" // a prompt only: a list validation would allow one code
			dv.SetInput(title, clip(strings.Join(parts, " "), maxPrompt))
			return nil
		})
	case collector.TypeInteger:
		return t.column(sheet, n, 12, t.st.number, func(dv *excelize.DataValidation) error {
			what := fmt.Sprintf(tx.promptInteger, *it.Min, *it.Max)
			if it.MaxItem != "" {
				what += fmt.Sprintf(tx.notAbove, it.MaxItem)
			}
			dv.SetInput(title, prompt(what))
			dv.SetError(excelize.DataValidationErrorStyleStop, clip(tx.errIntegerTitle, maxPromptTitle), fmt.Sprintf(tx.errInteger, *it.Min, *it.Max))
			return dv.SetRange(*it.Min, *it.Max, excelize.DataValidationTypeWhole, excelize.DataValidationOperatorBetween)
		})
	case collector.TypeMonth:
		return t.column(sheet, n, 12, t.st.text, func(dv *excelize.DataValidation) error {
			dv.SetInput(title, prompt(tx.promptMonth))
			dv.SetError(excelize.DataValidationErrorStyleStop, clip(tx.errMonthTitle, maxPromptTitle), tx.errMonth)
			return dv.SetRange(7, 7, excelize.DataValidationTypeTextLength, excelize.DataValidationOperatorEqual)
		})
	case collector.TypeIdentifier:
		return t.column(sheet, n, 18, t.st.text, func(dv *excelize.DataValidation) error {
			dv.SetInput(title, prompt(tx.promptIdentifier))
			dv.SetError(excelize.DataValidationErrorStyleWarning, clip(tx.errIdentifierTitle, maxPromptTitle), tx.promptIdentifier)
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
		conds = append(conds, c.Item+" = "+strings.Join(codes, t.tx.or))
	}
	return strings.Join(conds, t.tx.and)
}

// answerText describes the expected answer of an item for the instructions table.
func (t *templateWriter) answerText(it *collector.Item) string {
	tx := t.tx
	var s string
	switch it.Type {
	case collector.TypeChoice:
		s = tx.answerChoice
		if len(it.Choices) <= 12 {
			var codes []string
			for _, ch := range it.Choices {
				codes = append(codes, ch.Code+" = "+ch.Label.In(t.lang))
			}
			s += tx.colon + strings.Join(codes, "; ")
		} else {
			s += tx.seeCodes
		}
	case collector.TypeMulti:
		s = tx.answerMulti
	case collector.TypeInteger:
		s = fmt.Sprintf(tx.answerInteger, *it.Min, *it.Max)
		if it.MaxItem != "" {
			s += fmt.Sprintf(tx.notAbove, it.MaxItem)
		}
	case collector.TypeMonth:
		s = tx.answerMonth
		if it.MinMonth != "" {
			s += fmt.Sprintf(tx.notBefore, it.MinMonth)
		}
		if it.NotFuture {
			s += tx.notFuture
		}
	case collector.TypeIdentifier:
		s = tx.answerIdentifier
	}
	if it.SubsetOf != "" {
		s += fmt.Sprintf(tx.subsetOf, it.SubsetOf)
	}
	if it.Required {
		s = tx.required + s
	}
	return upperFirst(s)
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

func (t *templateWriter) instructionsSheet() error {
	sheet := t.tx.instructionsSheet
	tx := t.tx
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
		{fmt.Sprintf(tx.title, t.d.Title.In(t.lang), t.d.Version), t.st.title},
		{t.d.Description.In(t.lang), t.st.wrap},
		{"", t.st.wrap},
		{tx.howTitle, t.st.heading},
	}
	for i, s := range tx.how {
		if strings.Contains(s, "%s") {
			s = fmt.Sprintf(s, DataSheetNames.In(t.lang))
		}
		paras = append(paras, para{fmt.Sprintf("%d. %s", i+1, s), t.st.wrap})
	}
	never := tx.never
	if id := t.identifierItem(); id != "" {
		never += " " + fmt.Sprintf(tx.neverIdentifier, id)
	}
	paras = append(paras, para{"", t.st.wrap}, para{tx.neverTitle, t.st.heading}, para{never, t.st.wrap},
		para{"", t.st.wrap}, para{tx.importTitle, t.st.heading})
	for i, s := range tx.importSteps {
		paras = append(paras, para{fmt.Sprintf("%d. %s", i+1, s), t.st.wrap})
	}
	paras = append(paras, para{"", t.st.wrap}, para{tx.itemsTitle, t.st.heading})
	for _, p := range paras {
		if err := line(p.text, p.style); err != nil {
			return err
		}
	}
	head := []any{tx.colCode, tx.colQuestion, tx.colAnswer, tx.colOnlyIf}
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
			onlyIf = tx.always
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
		Title:    fmt.Sprintf(t.tx.title, t.d.Title.In(t.lang), t.d.Version),
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

// templateTexts are the words of the template in one language.
type templateTexts struct {
	instructionsSheet, idLabel, title                                       string
	howTitle                                                                string
	how                                                                     []string
	neverTitle, never, neverIdentifier                                      string
	importTitle                                                             string
	importSteps                                                             []string
	itemsTitle, colCode, colQuestion, colAnswer, colOnlyIf                  string
	answerChoice, answerMulti, answerInteger, answerMonth, answerIdentifier string
	notAbove, notBefore, notFuture, subsetOf, required, always, and, or     string
	colon, seeCodes                                                         string
	promptID, promptChoice, promptMulti, promptInteger, promptMonth         string
	promptIdentifier, promptOnlyIf, promptSubset                            string
	errChoiceTitle, errChoice, errIntegerTitle, errInteger                  string
	errMonthTitle, errMonth, errIdentifierTitle                             string
}

func texts(lang string) *templateTexts {
	switch lang {
	case "nl":
		return &textsNL
	case "en":
		return &textsEN
	}
	return &textsFR
}

// The texts are written for people with little schooling: short and plain.
var textsFR = templateTexts{
	instructionsSheet: "Mode d'emploi",
	idLabel:           "Identifiant de saisie (laisser vide)",
	title:             "%s (version %d) : modèle de saisie",
	howTitle:          "Comment remplir",
	how: []string{
		"Une ligne par questionnaire papier, à partir de la ligne 3 de la feuille « %s ».",
		"Ne modifiez pas les lignes 1 et 2 : la ligne 1 porte les codes que tamtam lit, la ligne 2 les questions. N'ajoutez pas de colonne.",
		"Choisissez les réponses dans la liste (flèche à droite de la cellule). Le code seul, avant « — », est aussi accepté (par ex. F).",
		"Plusieurs réponses : les codes séparés par un point-virgule, par ex. cannabis;cocaine. Écrivez - (un tiret) si aucune ne convient. Les codes sont sur la feuille « Codes ».",
		"Mois : AAAA-MM, par ex. 2025-03. Jamais le jour.",
		"Nombres : un nombre entier, par ex. 34.",
		"Laissez la cellule vide si la question n'a pas été posée ou ne s'applique pas (colonne « Seulement si » plus bas). Répondre à une question qui ne s'applique pas est une erreur.",
		"8 = refuse de répondre, 9 = ne sait pas : possibles pour presque toutes les questions à choix.",
		"* après la question : réponse obligatoire quand la question s'applique.",
		"Laissez la colonne submission_id vide : tamtam crée l'identifiant à partir des réponses. Importer deux fois le même fichier n'enregistre rien deux fois. Deux lignes aux réponses exactement identiques comptent pour deux questionnaires (deux personnes), sauf si elles ont le même code de suivi : c'est alors la même personne, comptée une fois.",
		"Pas de colonne « site » : le site est donné au moment de l'import.",
	},
	neverTitle:      "Ne jamais écrire",
	never:           "Pas de nom ni de prénom, pas de numéro de registre national, pas de numéro d'écrou ou de détenu, pas de date de naissance complète, pas de numéro de cellule, d'adresse ni de téléphone, aucun commentaire ni texte libre.",
	neverIdentifier: "L'identifiant de liaison (%s) est le code propre à l'équipe, jamais un de ces numéros.",
	importTitle:     "Importer le fichier",
	importSteps: []string{
		"Vérifier d'abord (rien n'est enregistré) : tamtam import FICHIER.xlsx --site CODE --dry-run --report verification.xlsx. Les cellules en erreur y sont colorées en rouge, avec un commentaire.",
		"Corriger, puis importer : tamtam import FICHIER.xlsx --site CODE. Si une seule ligne a une erreur, rien n'est enregistré.",
		"Le fichier contient des réponses sensibles : gardez-le en lieu sûr et supprimez-le après l'import.",
	},
	itemsTitle:         "Les questions",
	colCode:            "Code (ligne 1)",
	colQuestion:        "Question",
	colAnswer:          "Réponse",
	colOnlyIf:          "Seulement si",
	answerChoice:       "un code de la liste",
	answerMulti:        "des codes séparés par ; (- = aucun)",
	answerInteger:      "un nombre entier de %d à %d",
	answerMonth:        "un mois AAAA-MM",
	answerIdentifier:   "le code de l'équipe (3 à 64 lettres ou chiffres), jamais un nom ni un numéro officiel",
	notAbove:           ", pas plus que %s",
	notBefore:          ", pas avant %s",
	notFuture:          ", pas dans le futur",
	subsetOf:           ", seulement des codes aussi donnés en %s",
	required:           "Obligatoire. ",
	colon:              "\u00a0: ",
	seeCodes:           " (voir la feuille Codes)",
	always:             "toujours",
	and:                " et ",
	or:                 " ou ",
	promptID:           "Laisser vide : tamtam le calcule.",
	promptChoice:       "Choisir dans la liste.",
	promptMulti:        "Codes séparés par ; (ex. cannabis;cocaine). - = aucun. Voir la feuille Codes.",
	promptInteger:      "Nombre entier de %d à %d",
	promptMonth:        "Mois AAAA-MM (ex. 2025-03).",
	promptIdentifier:   "Code de l'équipe. Jamais un nom ni un numéro officiel.",
	promptOnlyIf:       "Seulement si %s.",
	promptSubset:       "Seulement des codes aussi donnés en %s.",
	errChoiceTitle:     "Pas dans la liste",
	errChoice:          "Choisissez dans la liste. Le code seul (avant « — ») est aussi accepté.",
	errIntegerTitle:    "Nombre entier",
	errInteger:         "Un nombre entier de %d à %d.",
	errMonthTitle:      "Mois",
	errMonth:           "Écrivez le mois AAAA-MM, par ex. 2025-03.",
	errIdentifierTitle: "Identifiant",
}

var textsNL = templateTexts{
	instructionsSheet: "Handleiding",
	idLabel:           "Invoercode (leeg laten)",
	title:             "%s (versie %d): invoersjabloon",
	howTitle:          "Zo vult u in",
	how: []string{
		"Eén rij per papieren vragenlijst, vanaf rij 3 van het blad „%s”.",
		"Verander rij 1 en 2 niet: rij 1 bevat de codes die tamtam leest, rij 2 de vragen. Voeg geen kolommen toe.",
		"Kies de antwoorden uit de lijst (pijltje rechts van de cel). Alleen de code, vóór „—”, mag ook (bv. F).",
		"Meerdere antwoorden: de codes gescheiden door een puntkomma, bv. cannabis;cocaine. Schrijf - (een streepje) als geen enkele past. De codes staan op het blad „Codes”.",
		"Maand: JJJJ-MM, bv. 2025-03. Nooit de dag.",
		"Getallen: een geheel getal, bv. 34.",
		"Laat de cel leeg als de vraag niet gesteld werd of niet van toepassing is (kolom „Alleen als” hieronder). Een antwoord op een vraag die niet van toepassing is, is een fout.",
		"8 = wil niet antwoorden, 9 = weet het niet: mogelijk bij bijna elke keuzevraag.",
		"* na de vraag: antwoord verplicht als de vraag van toepassing is.",
		"Laat de kolom submission_id leeg: tamtam maakt de code zelf uit de antwoorden. Hetzelfde bestand twee keer importeren slaat niets dubbel op. Twee rijen met precies dezelfde antwoorden tellen als twee vragenlijsten (twee personen), behalve als ze dezelfde opvolgingscode hebben: dan is het dezelfde persoon, één keer geteld.",
		"Geen kolom „site”: de site geeft u op bij het importeren.",
	},
	neverTitle:      "Nooit invullen",
	never:           "Geen naam of voornaam, geen rijksregisternummer, geen gedetineerdennummer, geen volledige geboortedatum, geen celnummer, adres of telefoonnummer, geen opmerkingen of vrije tekst.",
	neverIdentifier: "De koppelcode (%s) is de eigen code van het team, nooit een van die nummers.",
	importTitle:     "Het bestand importeren",
	importSteps: []string{
		"Eerst controleren (er wordt niets opgeslagen): tamtam import BESTAND.xlsx --site CODE --dry-run --report controle.xlsx. De cellen met een fout zijn daarin rood gekleurd, met een opmerking.",
		"Verbeteren en dan importeren: tamtam import BESTAND.xlsx --site CODE. Als ook maar één rij een fout heeft, wordt niets opgeslagen.",
		"Het bestand bevat gevoelige antwoorden: bewaar het veilig en verwijder het na het importeren.",
	},
	itemsTitle:         "De vragen",
	colCode:            "Code (rij 1)",
	colQuestion:        "Vraag",
	colAnswer:          "Antwoord",
	colOnlyIf:          "Alleen als",
	answerChoice:       "een code uit de lijst",
	answerMulti:        "codes gescheiden door ; (- = geen)",
	answerInteger:      "een geheel getal van %d tot %d",
	answerMonth:        "een maand JJJJ-MM",
	answerIdentifier:   "de code van het team (3 tot 64 letters of cijfers), nooit een naam of officieel nummer",
	notAbove:           ", niet meer dan %s",
	notBefore:          ", niet vóór %s",
	notFuture:          ", niet in de toekomst",
	subsetOf:           ", alleen codes die ook bij %s staan",
	required:           "Verplicht. ",
	colon:              ": ",
	seeCodes:           " (zie blad Codes)",
	always:             "altijd",
	and:                " en ",
	or:                 " of ",
	promptID:           "Leeg laten: tamtam berekent het.",
	promptChoice:       "Kies uit de lijst.",
	promptMulti:        "Codes gescheiden door ; (bv. cannabis;cocaine). - = geen. Zie blad Codes.",
	promptInteger:      "Geheel getal van %d tot %d",
	promptMonth:        "Maand JJJJ-MM (bv. 2025-03).",
	promptIdentifier:   "Code van het team. Nooit een naam of officieel nummer.",
	promptOnlyIf:       "Alleen als %s.",
	promptSubset:       "Alleen codes die ook bij %s staan.",
	errChoiceTitle:     "Niet in de lijst",
	errChoice:          "Kies uit de lijst. Alleen de code (vóór „—”) mag ook.",
	errIntegerTitle:    "Geheel getal",
	errInteger:         "Een geheel getal van %d tot %d.",
	errMonthTitle:      "Maand",
	errMonth:           "Schrijf de maand als JJJJ-MM, bv. 2025-03.",
	errIdentifierTitle: "Koppelcode",
}

var textsEN = templateTexts{
	instructionsSheet: "Instructions",
	idLabel:           "Entry id (leave empty)",
	title:             "%s (version %d): data-entry template",
	howTitle:          "How to fill in",
	how: []string{
		"One row per paper questionnaire, from row 3 of the sheet “%s”.",
		"Do not change rows 1 and 2: row 1 holds the codes tamtam reads, row 2 the questions. Do not add columns.",
		"Choose the answers from the list (arrow at the right of the cell). The code alone, before “—”, is also accepted (e.g. F).",
		"Several answers: the codes separated by a semicolon, e.g. cannabis;cocaine. Write - (a dash) if none applies. The codes are on the sheet “Codes”.",
		"Months: YYYY-MM, e.g. 2025-03. Never the day.",
		"Numbers: a whole number, e.g. 34.",
		"Leave the cell empty if the question was not asked or does not apply (column “Only if” below). An answer to a question that does not apply is an error.",
		"8 = refused to answer, 9 = does not know: possible on almost every choice question.",
		"* after the question: an answer is required when the question applies.",
		"Leave the submission_id column empty: tamtam makes the id from the answers. Importing the same file twice stores nothing twice. Two rows with exactly the same answers count as two questionnaires (two people), unless they have the same follow-up code: then it is the same person, counted once.",
		"No “site” column: the site is given when importing.",
	},
	neverTitle:      "Never write",
	never:           "No name or first name, no national register number, no prisoner number, no full date of birth, no cell number, address or phone number, no comment or free text.",
	neverIdentifier: "The linkage identifier (%s) is the team's own code, never one of these numbers.",
	importTitle:     "Importing the file",
	importSteps: []string{
		"Check first (nothing is stored): tamtam import FILE.xlsx --site CODE --dry-run --report check.xlsx. The cells in error are coloured red there, with a comment.",
		"Correct, then import: tamtam import FILE.xlsx --site CODE. If even one row has an error, nothing is stored.",
		"The file holds sensitive answers: keep it safe and delete it after the import.",
	},
	itemsTitle:         "The questions",
	colCode:            "Code (row 1)",
	colQuestion:        "Question",
	colAnswer:          "Answer",
	colOnlyIf:          "Only if",
	answerChoice:       "a code of the list",
	answerMulti:        "codes separated by ; (- = none)",
	answerInteger:      "a whole number from %d to %d",
	answerMonth:        "a month YYYY-MM",
	answerIdentifier:   "the team's own code (3 to 64 letters or digits), never a name or an official number",
	notAbove:           ", not more than %s",
	notBefore:          ", not before %s",
	notFuture:          ", not in the future",
	subsetOf:           ", only codes also given in %s",
	required:           "Required. ",
	colon:              ": ",
	seeCodes:           " (see the sheet Codes)",
	always:             "always",
	and:                " and ",
	or:                 " or ",
	promptID:           "Leave empty: tamtam computes it.",
	promptChoice:       "Choose from the list.",
	promptMulti:        "Codes separated by ; (e.g. cannabis;cocaine). - = none. See the sheet Codes.",
	promptInteger:      "Whole number from %d to %d",
	promptMonth:        "Month YYYY-MM (e.g. 2025-03).",
	promptIdentifier:   "The team's own code. Never a name or an official number.",
	promptOnlyIf:       "Only if %s.",
	promptSubset:       "Only codes also given in %s.",
	errChoiceTitle:     "Not in the list",
	errChoice:          "Choose from the list. The code alone (before “—”) is also accepted.",
	errIntegerTitle:    "Whole number",
	errInteger:         "A whole number from %d to %d.",
	errMonthTitle:      "Month",
	errMonth:           "Write the month as YYYY-MM, e.g. 2025-03.",
	errIdentifierTitle: "Identifier",
}
