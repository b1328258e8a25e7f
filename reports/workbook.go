package reports

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// WorkbookOptions is what the workbook states besides the figures.
type WorkbookOptions struct {
	// Lang is the language of every label and text: "fr" (the default when empty), "nl"
	// or "en", as words.Parse reads it.
	Lang string
	// Questionnaires lists the questionnaire versions the figures cover ("entry v1",
	// "followup v1"), for the methodology sheet.
	Questionnaires []string
	// Title is the document title; when empty, a title with the year in Lang.
	Title string
}

// workbookFont is the font family of every style and chart text. excelize writes styles
// without one unless told, and readers then pick different fonts (DESIGN.md §8); Arial
// is on every office machine and LibreOffice maps it to the metric-compatible Liberation
// Sans.
const workbookFont = "Arial"

// Layout of the indicator sheets: the table in columns A to G, the chart and its data
// from column I.
const (
	chartDataCol = 9
	// sheetChartWidth, sheetChartHeight are the size of a chart on a sheet, in pixels.
	sheetChartWidth, sheetChartHeight = 640, 320
	maxSheetName                      = 31 // Excel's limit on a sheet name, in characters
)

// WriteWorkbook writes the protected release f as an Excel workbook (figures.xlsx) in
// opts.Lang: a summary sheet, one sheet per indicator family with its breakdowns, a native
// chart and its reference values, the entrants by site, and a methodology sheet.
//
// Every number comes from f, so a suppressed value can only be written as the catalog's
// suppression mark. The output depends only on f and opts: the document dates and the
// zip entry times are the data cut-off, so the same release gives the same bytes.
//
// WriteWorkbook returns an error for an unknown language, figures without a catalog or a
// data cut-off, or when writing to w fails.
func WriteWorkbook(w io.Writer, f *Figures, opts WorkbookOptions) error {
	l, err := reportLanguage(opts.Lang)
	switch {
	case err != nil:
		return fmt.Errorf("reports: workbook: %w", err)
	case f == nil || f.Catalog == nil:
		return errors.New("reports: workbook: no figures or no catalog")
	case f.CutOff.IsZero():
		return errors.New("reports: workbook: the figures have no data cut-off")
	}
	b := &workbook{x: excelize.NewFile(), f: f, l: l, lang: string(l), opts: opts}
	defer b.x.Close()
	b.build()
	if b.err != nil {
		return fmt.Errorf("reports: workbook: %w", b.err)
	}
	var buf bytes.Buffer
	if err := b.x.Write(&buf); err != nil {
		return fmt.Errorf("reports: workbook: %w", err)
	}
	if err := stampZipEntries(w, buf.Bytes(), f.CutOff); err != nil {
		return fmt.Errorf("reports: workbook: %w", err)
	}
	return nil
}

// stampZipEntries copies the zip archive data to w, entry by entry in the same order,
// with every entry's time set to t. excelize leaves the times at zero, which is
// reproducible but an invalid DOS date that some readers show as 1979 or reject.
func stampZipEntries(w io.Writer, data []byte, t time.Time) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	if earliest := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC); t.Before(earliest) {
		t = earliest // DOS dates start in 1980
	}
	zw := zip.NewWriter(w)
	for _, e := range zr.File {
		dst, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: t.UTC()})
		if err != nil {
			return err
		}
		src, err := e.Open()
		if err != nil {
			return err
		}
		content, err := io.ReadAll(src)
		src.Close()
		if err != nil {
			return err
		}
		if e.Name == "[Content_Types].xml" {
			content = sortContentTypeDefaults(content)
		}
		if _, err := dst.Write(content); err != nil {
			return err
		}
	}
	return zw.Close()
}

// contentTypeDefault matches a <Default> element of [Content_Types].xml.
var contentTypeDefault = regexp.MustCompile(`<Default [^>]*?(?:/>|></Default>)`)

// sortContentTypeDefaults puts the <Default> elements of a [Content_Types].xml part in
// a fixed order, where the first one was. excelize appends the image types of a drawing
// by iterating over a map, so their order changes from run to run; it does not matter
// to readers.
func sortContentTypeDefaults(part []byte) []byte {
	locs := contentTypeDefault.FindAllIndex(part, -1)
	if len(locs) == 0 {
		return part
	}
	var elems [][]byte
	var rest []byte
	prev := 0
	for _, l := range locs {
		rest = append(rest, part[prev:l[0]]...)
		elems = append(elems, part[l[0]:l[1]])
		prev = l[1]
	}
	rest = append(rest, part[prev:]...)
	slices.SortFunc(elems, bytes.Compare)
	at := locs[0][0]
	out := append([]byte{}, rest[:at]...)
	for _, e := range elems {
		out = append(out, e...)
	}
	return append(out, rest[at:]...)
}

// workbook is a workbook being written.
type workbook struct {
	x    *excelize.File
	f    *Figures
	l    words.Lang // the language of every text
	lang string     // l, for the labels of the figures
	opts WorkbookOptions
	st   workbookStyles
	// wrapped are the cells with wrapped text by sheet, for the heights of their rows.
	wrapped map[string][]wrappedCell
	// err is the first error of a cell write; later writes do nothing, so that the
	// sheet builders read as their layout (as with bufio.Writer).
	err error
}

type workbookStyles struct {
	title, heading, subheading, header, refHeader int
	text, wrap, bold, boldWrap, group, note, flag int
	ref                                           int
	count, percent, mark                          int
}

func (b *workbook) build() {
	b.styles()
	b.properties()
	summary := b.l.T("report.sheet_summary")
	if b.err == nil {
		b.err = b.x.SetSheetName("Sheet1", summary)
	}
	b.summarySheet(summary)
	b.themeSheets()
	for _, fam := range b.f.Catalog.Families {
		if inds := b.familyFigures(fam); len(inds) > 0 && !fam.Distribution {
			b.familySheet(fam, inds)
		}
	}
	for _, q := range b.f.QuestionnaireIDs() {
		b.answersSheet(q)
	}
	b.entrantsSheet(b.l.T("report.entrants"))
	b.methodSheet(b.l.T("report.sheet_method"))
	b.x.SetActiveSheet(0)
}

func (b *workbook) styles() {
	font := func(bold, italic bool, size float64) *excelize.Font {
		return &excelize.Font{Family: workbookFont, Size: size, Bold: bold, Italic: italic, Color: "000000"}
	}
	top := &excelize.Alignment{Vertical: "top"}
	fill := func(rgb string) excelize.Fill {
		return excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{rgb}}
	}
	percent := "0.0%"
	for _, s := range []struct {
		id    *int
		style excelize.Style
	}{
		{&b.st.title, excelize.Style{Font: font(true, false, 14), Alignment: top}},
		{&b.st.heading, excelize.Style{Font: font(true, false, 11), Alignment: top}},
		{&b.st.subheading, excelize.Style{Font: font(true, true, 10), Alignment: top}},
		{&b.st.header, excelize.Style{Font: font(true, false, 10), Fill: fill("D9E1F2"),
			Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
			Border:    []excelize.Border{{Type: "bottom", Color: "000000", Style: 1}}}},
		{&b.st.refHeader, excelize.Style{Font: font(true, false, 10), Fill: fill("FFF2CC"),
			Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
			Border:    []excelize.Border{{Type: "bottom", Color: "000000", Style: 1}}}},
		{&b.st.text, excelize.Style{Font: font(false, false, 10), Alignment: top}},
		{&b.st.wrap, excelize.Style{Font: font(false, false, 10), Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}}},
		{&b.st.bold, excelize.Style{Font: font(true, false, 10), Alignment: top}},
		{&b.st.boldWrap, excelize.Style{Font: font(true, false, 10), Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}}},
		{&b.st.group, excelize.Style{Font: font(false, false, 10), Alignment: &excelize.Alignment{Vertical: "top", Indent: 1}}},
		{&b.st.note, excelize.Style{Font: font(false, true, 9), Alignment: top}},
		{&b.st.flag, excelize.Style{Font: font(false, true, 10), Alignment: top}},
		{&b.st.ref, excelize.Style{Font: font(false, false, 10), Fill: fill("FFF2CC"), Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}}},
		{&b.st.count, excelize.Style{Font: font(false, false, 10), NumFmt: 3, Alignment: top}}, // #,##0
		{&b.st.percent, excelize.Style{Font: font(false, false, 10), CustomNumFmt: &percent, Alignment: top}},
		{&b.st.mark, excelize.Style{Font: font(false, false, 10), Alignment: &excelize.Alignment{Horizontal: "right", Vertical: "top"}}},
	} {
		if b.err != nil {
			return
		}
		*s.id, b.err = b.x.NewStyle(&s.style)
	}
	if b.err == nil {
		b.err = b.x.SetDefaultFont(workbookFont)
	}
}

func (b *workbook) properties() {
	title := b.opts.Title
	if title == "" {
		title = b.l.T("report.title", b.f.Year)
	}
	stamp := b.f.CutOff.UTC().Format(time.RFC3339)
	if b.err == nil {
		b.err = b.x.SetDocProps(&excelize.DocProperties{
			Title:          title,
			Subject:        b.l.T("report.subject", b.f.Year, b.f.Config.K),
			Description:    b.l.T("report.entrants_note"),
			Creator:        "tamtam",
			LastModifiedBy: "tamtam",
			Created:        stamp,
			Modified:       stamp,
			Language:       reportNumberFormats[b.l].docLang,
		})
	}
}

// put writes v into the cell at col, row (from 1) with style.
func (b *workbook) put(sheet string, col, row int, v any, style int) {
	if b.err != nil {
		return
	}
	cell, err := excelize.CoordinatesToCellName(col, row)
	if err == nil {
		err = b.x.SetCellValue(sheet, cell, v)
	}
	if err == nil {
		err = b.x.SetCellStyle(sheet, cell, cell, style)
	}
	b.err = err
	if text, ok := v.(string); ok && b.wraps(style) {
		if b.wrapped == nil {
			b.wrapped = map[string][]wrappedCell{}
		}
		b.wrapped[sheet] = append(b.wrapped[sheet], wrappedCell{col, row, text, style != b.st.wrap && style != b.st.ref})
	}
}

// wraps reports whether style wraps text.
func (b *workbook) wraps(style int) bool {
	switch style {
	case b.st.header, b.st.refHeader, b.st.wrap, b.st.boldWrap, b.st.ref:
		return true
	}
	return false
}

// putCount writes a protected count: the number, or the mark when it may not be shown.
func (b *workbook) putCount(sheet string, col, row int, n Number) {
	if v, ok := n.Value(); ok {
		b.put(sheet, col, row, v, b.st.count)
		return
	}
	b.put(sheet, col, row, b.l.T("report.suppressed_mark"), b.st.mark)
}

// putShare writes a protected proportion as a fraction formatted as a percentage, its
// interval and its flag in four cells from col.
func (b *workbook) putShare(sheet string, col, row int, s Share) {
	est, ok := s.Estimate()
	switch {
	case ok:
		b.put(sheet, col, row, est.P, b.st.percent)
		b.put(sheet, col+1, row, est.Low, b.st.percent)
		b.put(sheet, col+2, row, est.High, b.st.percent)
	case s.Status() != disclosure.Empty:
		for i := range 3 {
			b.put(sheet, col+i, row, b.l.T("report.suppressed_mark"), b.st.mark)
		}
	}
	if flag := b.flag(s); flag != "" {
		b.put(sheet, col+3, row, flag, b.st.flag)
	}
}

// flag is the remark beside a proportion. Every hidden proportion gets the same one,
// whatever the reason.
func (b *workbook) flag(s Share) string {
	switch st := s.Status(); {
	case st == disclosure.LowReliability:
		return b.l.T("report.low_reliability")
	case st == disclosure.Empty:
		return b.l.T("report.flag_empty")
	case !st.Publishable():
		return b.l.T("report.flag_suppressed")
	}
	return ""
}

func (b *workbook) newSheet(name string) {
	if b.err == nil {
		_, b.err = b.x.NewSheet(name)
	}
}

// widths sets the width of consecutive columns from col.
func (b *workbook) widths(sheet string, col int, widths ...float64) {
	for i, wd := range widths {
		if b.err != nil {
			return
		}
		name, err := excelize.ColumnNumberToName(col + i)
		if err == nil {
			err = b.x.SetColWidth(sheet, name, name, wd)
		}
		b.err = err
	}
}

// freeze keeps the rows up to row in view while scrolling.
func (b *workbook) freeze(sheet string, row int) {
	if b.err == nil {
		b.err = b.x.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: row,
			TopLeftCell: "A" + strconv.Itoa(row+1), ActivePane: "bottomLeft"})
	}
}

// header writes the column headers of a table in row from col.
func (b *workbook) header(sheet string, col, row int, headers ...string) {
	for i, h := range headers {
		b.put(sheet, col+i, row, h, b.st.header)
	}
}

// notes writes the footnotes of the tables from row, the low-reliability one if they
// show proportions, and returns the next free row.
func (b *workbook) notes(sheet string, row int, proportions bool) int {
	notes := []string{b.l.T("report.suppressed_note") + fmt.Sprintf(" (k = %d).", b.f.Config.K)}
	if proportions {
		notes = append(notes, b.l.T("report.low_reliability_note"))
	}
	notes = append(notes, b.l.T("report.entrants_note"))
	for _, n := range notes {
		b.put(sheet, 1, row, n, b.st.note)
		row++
	}
	return row
}

// siteNames lists the names of sites.
func (b *workbook) siteNames(sites []string) string {
	if len(sites) == 0 {
		return b.l.T("report.none")
	}
	names := make([]string, len(sites))
	for i, s := range sites {
		names[i] = b.f.Label(DimSite, s, b.lang)
	}
	return strings.Join(names, ", ")
}

// releaseFacts writes what the release covers as label and value rows from row and
// returns the next free row.
func (b *workbook) releaseFacts(sheet string, row int) int {
	questionnaires := strings.Join(b.opts.Questionnaires, ", ")
	if questionnaires == "" {
		questionnaires = b.l.T("report.not_stated")
	}
	facts := [][2]string{
		{b.l.T("report.year"), strconv.Itoa(b.f.Year)},
		{b.l.T("report.release"), b.f.Release},
		{b.l.T("report.figures_of"), b.groupName()},
		{b.l.T("report.cut_off"), b.f.CutOff.UTC().Format("2006-01-02 15:04 UTC")},
		{b.l.T("report.sites"), b.siteNames(b.f.Sites)},
		{b.l.T("report.counted_in", b.f.Label(DimSite, OtherSites, b.lang)), b.siteNames(b.f.Pooled)},
		{b.l.T("report.k"), strconv.Itoa(b.f.Config.K)},
		{b.l.T("report.questionnaires"), questionnaires},
	}
	for _, fact := range facts {
		b.put(sheet, 1, row, fact[0], b.st.boldWrap)
		b.put(sheet, 2, row, fact[1], b.st.text)
		row++
	}
	return row
}

// groupName names the publication group the workbook shows.
func (b *workbook) groupName() string { return GroupName(b.f, b.lang) }

// levelsText lists the breakdowns the release merged or left out (R6).
func (b *workbook) levelsText() string { return LevelsText(b.f, b.lang) }

// referenceValue writes a reference value, a percentage or a range of percentages, as
// text: it is a comparison, never a figure to compute with.
func (b *workbook) referenceValue(r Reference) string {
	return reportNumberFormats[b.l].refRange(r.Low, r.High)
}

func (b *workbook) summarySheet(sheet string) {
	title := b.opts.Title
	if title == "" {
		title = b.l.T("report.title", b.f.Year)
	}
	b.put(sheet, 1, 1, title, b.st.title)
	b.put(sheet, 1, 2, b.l.T("report.entrants_note"), b.st.note)
	row := b.releaseFacts(sheet, 4) + 1

	b.header(sheet, 1, row, b.l.T("report.col_code"), b.l.T("report.col_family"), b.l.T("report.indicator"), "N", "%",
		b.l.T("report.col_low"), b.l.T("report.col_high"), b.l.T("report.remark"))
	for i, h := range []string{b.l.T("report.col_ref_value"), b.l.T("report.col_ref_year"), b.l.T("report.col_ref_population")} {
		b.put(sheet, 9+i, row, h, b.st.refHeader)
	}
	b.freeze(sheet, row)
	header := row
	row++
	titles := map[string]string{}
	for _, fam := range b.f.Catalog.Families {
		titles[fam.ID] = fam.Title.In(b.lang)
	}
	for _, ind := range b.f.Indicator {
		if ind.Decl.Distribution {
			continue // on the questionnaire's answers sheet
		}
		total := ind.Total()
		b.put(sheet, 1, row, ind.ID, b.st.text)
		b.put(sheet, 2, row, titles[ind.Family], b.st.wrap)
		b.put(sheet, 3, row, ind.Label.In(b.lang), b.st.wrap)
		b.putCount(sheet, 4, row, total.Denominator)
		b.putShare(sheet, 5, row, total.Share)
		if refs := b.f.Catalog.ReferencesOf(ind.ID); len(refs) > 0 {
			var values, years, sources []string
			for _, r := range refs {
				values = append(values, b.referenceValue(r))
				years = append(years, strconv.Itoa(r.Year))
				sources = append(sources, r.Population.In(b.lang)+" — "+r.Source)
			}
			b.put(sheet, 9, row, strings.Join(values, "; "), b.st.ref)
			b.put(sheet, 10, row, strings.Join(years, "; "), b.st.ref)
			b.put(sheet, 11, row, strings.Join(sources, "\n"), b.st.ref)
		}
		row++
	}
	end := b.notes(sheet, row+1, true)
	b.widths(sheet, 1, 24, 22, 44, 9, 9, 11, 11, 16, 14, 10, 50)
	b.printSetup(sheet, printLayout{lastCol: 11, lastRow: end - 1, titleFrom: header, titleTo: header})
}

func excelSheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > maxSheetName {
		s = string(r[:maxSheetName])
	}
	return strings.TrimRight(s, " '")
}

// excelRange is an absolute reference to a range of sheet, for chart series.
func excelRange(sheet string, col, row1, row2 int) string {
	from, _ := excelize.CoordinatesToCellName(col, row1, true)
	ref := "'" + strings.ReplaceAll(sheet, "'", "''") + "'!" + from
	if row2 != row1 {
		to, _ := excelize.CoordinatesToCellName(col, row2, true)
		ref += ":" + to
	}
	return ref
}

func (b *workbook) familySheet(fam Family, inds []IndicatorFigures) {
	sheet := excelSheetName(fam.ID + " " + fam.Title.In(b.lang))
	b.newSheet(sheet)
	b.header(sheet, 1, 1, b.l.T("report.col_group"), b.l.T("report.numerator"), b.l.T("report.col_den"), "%", b.l.T("report.col_low"), b.l.T("report.col_high"), b.l.T("report.remark"))
	b.freeze(sheet, 1)
	b.widths(sheet, 1, 36, 12, 14, 9, 11, 11, 18, 3, 30, 16, 16, 16, 16)
	b.put(sheet, 1, 2, fam.ID+" — "+fam.Title.In(b.lang), b.st.title)
	b.put(sheet, 1, 3, b.l.T("report.entrants_note"), b.st.note)
	row := b.indicatorRows(sheet, 5, inds)
	row = b.notes(sheet, row, true) + 1
	row = b.references(sheet, row, inds)
	lastCol, lastRow := b.familyChart(sheet, fam, inds)
	b.printSetup(sheet, printLayout{lastCol: max(7, lastCol), lastRow: max(row-1, lastRow), titleFrom: 1, titleTo: 1, fitHeight: true})
}

// themeSheets writes a sheet per theme with figures (the care theme: health-care access
// by nationality group), after the summary: the paragraph that frames it and its
// indicators' shares side by side (Figures.Compare), each a cell of their own tables.
func (b *workbook) themeSheets() {
	for _, theme := range collector.Themes {
		tc, ok := b.f.Compare(theme, DimNationalityGroup)
		if !ok {
			continue
		}
		w := themeWords[theme]
		sheet := excelSheetName(b.l.T(w.Title))
		b.newSheet(sheet)
		b.widths(sheet, 1, 44, 12)
		b.put(sheet, 1, 1, b.l.T(w.Title), b.st.title)
		b.put(sheet, 1, 2, b.l.T(w.Intro), b.st.wrap)
		if b.err == nil {
			b.err = b.x.MergeCell(sheet, "A2", "I2")
		}
		if b.err == nil {
			b.err = b.x.SetRowHeight(sheet, 2, 90)
		}
		b.put(sheet, 1, 4, b.l.T(w.ByNationality), b.st.heading)
		head := []string{b.l.T("report.indicator"), b.f.Label(Total, "", b.lang)}
		for _, c := range tc.Cols {
			head = append(head, b.f.Label(tc.Dim, c, b.lang))
		}
		b.header(sheet, 1, 5, head...)
		for i, r := range tc.Rows {
			row := 6 + i
			b.put(sheet, 1, row, r.Indicator.ID+" — "+r.Indicator.Short.In(b.lang), b.st.text)
			b.putTheme(sheet, 2, row, r.Total.Share)
			for j, c := range r.Cells {
				if !r.Missing[j] {
					b.putTheme(sheet, 3+j, row, c.Share)
				}
			}
		}
		end := b.notes(sheet, 7+len(tc.Rows), true)
		b.printSetup(sheet, printLayout{lastCol: max(9, 2+len(tc.Cols)), lastRow: end - 1, titleFrom: 5, titleTo: 5})
	}
}

// putTheme writes a share alone: its percentage or the suppression mark.
func (b *workbook) putTheme(sheet string, col, row int, s Share) {
	if est, ok := s.Estimate(); ok {
		b.put(sheet, col, row, est.P, b.st.percent)
	} else if s.Status() != disclosure.Empty {
		b.put(sheet, col, row, b.l.T("report.suppressed_mark"), b.st.mark)
	}
}

// familyFigures returns the figures of the indicators of fam.
func (b *workbook) familyFigures(fam Family) []IndicatorFigures {
	var inds []IndicatorFigures
	for _, ind := range b.f.Indicator {
		if ind.Family == fam.ID {
			inds = append(inds, ind)
		}
	}
	return inds
}

// indicatorRows writes the table of each indicator from row on: its total and its
// breakdowns. It returns the row after them.
func (b *workbook) indicatorRows(sheet string, row int, inds []IndicatorFigures) int {
	for _, ind := range inds {
		b.put(sheet, 1, row, ind.Decl.PublishedID()+" — "+ind.Label.In(b.lang), b.st.heading)
		row++
		for _, bd := range ind.Breakdowns {
			if len(bd.Rows) == 0 {
				continue
			}
			label := b.st.bold
			if bd.Dim != Total {
				b.put(sheet, 1, row, b.f.DimLabel(bd.Dim, b.lang), b.st.subheading)
				row++
				label = b.st.group
			}
			for _, r := range bd.Rows {
				b.put(sheet, 1, row, b.f.Label(bd.Dim, r.Group, b.lang), label)
				b.putCount(sheet, 2, row, r.Numerator)
				b.putCount(sheet, 3, row, r.Denominator)
				b.putShare(sheet, 4, row, r.Share)
				row++
			}
		}
		row++
	}
	return row
}

// answersSheet is the section of questionnaire q: the table of every item's answers
// (its distribution families), one after the other, on one sheet.
func (b *workbook) answersSheet(q string) {
	var fams []Family
	for _, fam := range b.f.Catalog.Families {
		if fam.Distribution && fam.Questionnaire == q && len(b.familyFigures(fam)) > 0 {
			fams = append(fams, fam)
		}
	}
	if len(fams) == 0 {
		return
	}
	sheet := excelSheetName(b.l.T("report.dist_sheet", q))
	b.newSheet(sheet)
	b.header(sheet, 1, 1, b.l.T("report.col_group"), b.l.T("report.numerator"), b.l.T("report.col_den"), "%", b.l.T("report.col_low"), b.l.T("report.col_high"), b.l.T("report.remark"))
	b.freeze(sheet, 1)
	b.widths(sheet, 1, 44, 12, 14, 9, 11, 11, 18)
	b.put(sheet, 1, 2, b.l.T("report.dist_section", b.f.Catalog.Questionnaires[q].In(b.lang)), b.st.title)
	b.put(sheet, 1, 3, b.l.T("report.dist_note"), b.st.note)
	row := 5
	for _, fam := range fams {
		b.put(sheet, 1, row, fam.Title.In(b.lang), b.st.title)
		row = b.indicatorRows(sheet, row+1, b.familyFigures(fam))
	}
	row = b.notes(sheet, row, true)
	b.printSetup(sheet, printLayout{lastCol: 7, lastRow: row - 1, titleFrom: 1, titleTo: 1, fitHeight: true})
}

// references writes the reference values of inds under their table, apart from our
// figures and marked as such, and returns the row after them.
func (b *workbook) references(sheet string, row int, inds []IndicatorFigures) int {
	first := true
	for _, ind := range inds {
		for _, r := range b.f.Catalog.ReferencesOf(ind.ID) {
			if first {
				b.put(sheet, 1, row, b.l.T("report.references"), b.st.refHeader)
				row++
				first = false
			}
			b.put(sheet, 1, row, ind.ID+" — "+ind.Short.In(b.lang), b.st.bold)
			row++
			for _, kv := range [][2]string{
				{b.l.T("report.ref_value"), b.referenceValue(r)},
				{b.l.T("report.year"), strconv.Itoa(r.Year)},
				{b.l.T("report.ref_population"), r.Population.In(b.lang)},
				{b.l.T("report.source"), r.Source},
				{b.l.T("report.remark"), r.Note.In(b.lang)},
			} {
				b.put(sheet, 1, row, kv[0], b.st.group)
				b.put(sheet, 2, row, kv[1], b.st.text)
				row++
			}
		}
	}
	return row
}

// chartDataPoint is a published percentage of a chart, or a gap.
type chartDataPoint struct {
	p  float64
	ok bool
}

// familyChart writes the chart data of the family (its parts, or its indicators by site)
// beside the table and a native chart of it. Only published percentages go into the
// chart data; a hidden one leaves a gap, and a category with nothing published is left
// out, so the chart can never show a hidden value. It returns the last column and row
// that the chart and its data take.
func (b *workbook) familyChart(sheet string, fam Family, inds []IndicatorFigures) (lastCol, lastRow int) {
	var (
		catHeader  string
		cats       []string
		seriesName []string
		values     [][]chartDataPoint // by category, then series
		title      string
	)
	point := func(s Share) chartDataPoint {
		est, ok := s.Estimate()
		return chartDataPoint{est.P, ok}
	}
	if chartsParts(fam.ID) {
		catHeader, title = b.l.T("report.indicator"), b.l.T("report.chart.title_parts", fam.Title.In(b.lang))
		seriesName = []string{b.l.T("report.total")}
		for _, ind := range inds {
			cats = append(cats, ind.Short.In(b.lang))
			values = append(values, []chartDataPoint{point(ind.Total().Share)})
		}
	} else {
		catHeader, title = b.f.DimLabel(DimSite, b.lang), b.l.T("report.chart.title_by_site", fam.Title.In(b.lang))
		var groups []string
		bySite := make([]map[string]Share, len(inds))
		for i, ind := range inds {
			seriesName = append(seriesName, ind.Short.In(b.lang))
			bySite[i] = map[string]Share{}
			for _, bd := range ind.Breakdowns {
				if bd.Dim != DimSite {
					continue
				}
				for _, r := range bd.Rows {
					if !slices.Contains(groups, r.Group) {
						groups = append(groups, r.Group)
					}
					bySite[i][r.Group] = r.Share
				}
			}
		}
		for _, g := range groups {
			cats = append(cats, b.f.Label(DimSite, g, b.lang))
			var pts []chartDataPoint
			for i := range inds {
				pts = append(pts, point(bySite[i][g]))
			}
			values = append(values, pts)
		}
	}
	// Keep the categories with at least one published value.
	var keptCats []string
	var kept [][]chartDataPoint
	for i, pts := range values {
		if slices.ContainsFunc(pts, func(p chartDataPoint) bool { return p.ok }) {
			keptCats = append(keptCats, cats[i])
			kept = append(kept, pts)
		}
	}
	b.put(sheet, chartDataCol, 2, b.l.T("report.chart.data"), b.st.heading)
	if len(kept) == 0 {
		b.put(sheet, chartDataCol, 3, b.l.T("report.chart.none"), b.st.note)
		return chartDataCol + 1, 3
	}
	b.header(sheet, chartDataCol, 3, append([]string{catHeader}, seriesName...)...)
	first, last := 4, 3+len(kept)
	for i, pts := range kept {
		b.put(sheet, chartDataCol, first+i, keptCats[i], b.st.text)
		for j, p := range pts {
			if p.ok {
				b.put(sheet, chartDataCol+1+j, first+i, p.p, b.st.percent)
			}
		}
	}
	chart := &excelize.Chart{
		Type:      excelize.Col,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title, Font: &excelize.Font{Family: workbookFont, Size: 11, Bold: true}}}},
		Dimension: excelize.ChartDimension{Width: sheetChartWidth, Height: sheetChartHeight},
		Format:    excelize.GraphicOptions{AltText: title, ScaleX: 1, ScaleY: 1},
		Legend:    excelize.ChartLegend{Position: "bottom", Font: &excelize.Font{Family: workbookFont, Size: 9}},
		PlotArea:  excelize.ChartPlotArea{ShowVal: true, NumFmt: excelize.ChartNumFmt{CustomNumFmt: "0.0%"}},
		XAxis:     excelize.ChartAxis{Font: excelize.Font{Family: workbookFont, Size: 9}},
		YAxis: excelize.ChartAxis{Font: excelize.Font{Family: workbookFont, Size: 9}, MajorGridLines: true,
			Minimum: new(0.0), Maximum: new(1.0), NumFmt: excelize.ChartNumFmt{CustomNumFmt: "0%"}},
		ShowBlanksAs: "gap",
		VaryColors:   new(false),
	}
	if len(seriesName) == 1 {
		chart.Legend.Position = "none"
	}
	for j := range seriesName {
		chart.Series = append(chart.Series, excelize.ChartSeries{
			Name:       excelRange(sheet, chartDataCol+1+j, 3, 3),
			Categories: excelRange(sheet, chartDataCol, first, last),
			Values:     excelRange(sheet, chartDataCol+1+j, first, last),
			DataLabel:  excelize.ChartDataLabel{Font: excelize.Font{Family: workbookFont, Size: 8}},
		})
	}
	anchor, _ := excelize.CoordinatesToCellName(chartDataCol, last+2)
	if b.err == nil {
		b.err = b.x.AddChart(sheet, anchor, chart)
	}
	lastCol, lastRow = b.chartEnd(sheet, chartDataCol, last+2, sheetChartWidth, sheetChartHeight)
	return max(lastCol, chartDataCol+len(seriesName)), lastRow
}

func (b *workbook) entrantsSheet(sheet string) {
	b.newSheet(sheet)
	b.put(sheet, 1, 1, b.l.T("report.entrants_title"), b.st.title)
	b.put(sheet, 1, 2, b.l.T("report.entrants_note"), b.st.note)
	row, cols := 4, 0
	for _, ct := range b.f.Entrants {
		b.put(sheet, 1, row, b.f.DimLabel(ct.RowDim, b.lang)+" × "+b.f.DimLabel(ct.ColDim, b.lang), b.st.heading)
		row++
		headers := []string{b.f.DimLabel(ct.RowDim, b.lang)}
		for _, c := range ct.Cols {
			headers = append(headers, b.f.Label(ct.ColDim, c, b.lang))
		}
		headers = append(headers, b.l.T("report.total"))
		b.header(sheet, 1, row, headers...)
		cols = max(cols, len(headers))
		row++
		for r, code := range ct.Rows {
			b.put(sheet, 1, row, b.f.Label(ct.RowDim, code, b.lang), b.st.group)
			for c := range ct.Cols {
				b.putCount(sheet, 2+c, row, ct.Cells[r][c])
			}
			b.putCount(sheet, 2+len(ct.Cols), row, ct.RowTotals[r])
			row++
		}
		b.put(sheet, 1, row, b.l.T("report.total"), b.st.bold)
		for c := range ct.Cols {
			b.putCount(sheet, 2+c, row, ct.ColTotals[c])
		}
		b.putCount(sheet, 2+len(ct.Cols), row, ct.Total)
		row += 2
	}
	end := b.notes(sheet, row, false)
	b.widths(sheet, 1, 32)
	for c := 2; c <= cols; c++ {
		b.widths(sheet, c, 14)
	}
	// No print titles: each table has its own header row.
	b.printSetup(sheet, printLayout{lastCol: max(cols, 1), lastRow: end - 1})
}

func (b *workbook) methodSheet(sheet string) {
	b.newSheet(sheet)
	b.widths(sheet, 1, 30, 80)
	b.put(sheet, 1, 1, b.l.T("report.sheet_method"), b.st.title)
	heading := func(row int, text string) int {
		b.put(sheet, 1, row, text, b.st.heading)
		return row + 1
	}
	para := func(row int, label, text string) int {
		b.put(sheet, 1, row, label, b.st.boldWrap)
		b.put(sheet, 2, row, text, b.st.wrap)
		return row + 1
	}

	row := heading(3, b.l.T("report.h_release"))
	row = b.releaseFacts(sheet, row) + 1

	cfg := b.f.Config
	row = heading(row, b.l.T("report.h_protection"))
	row = para(row, b.l.T("report.m_threshold"), b.l.T("report.p_threshold", cfg.K-1, cfg.K))
	row = para(row, b.l.T("report.m_mark"), b.l.T("report.p_mark", b.l.T("report.suppressed_mark")))
	row = para(row, b.l.T("report.m_secondary"), b.l.T("report.p_secondary"))
	row = para(row, b.l.T("report.m_joint"), b.l.T("report.p_joint"))
	row = para(row, b.l.T("report.m_release"), b.l.T("report.p_release", b.f.Release))
	row = para(row, b.l.T("report.m_group"), b.l.T("report.p_group"))
	row = para(row, b.l.T("report.m_wilson"), b.l.T("report.p_wilson"))
	width := strconv.FormatFloat(cfg.LowReliabilityWidth*100, 'f', -1, 64)
	if cfg.SuppressLowReliability {
		row = para(row, b.l.T("report.m_low"), b.l.T("report.p_low_hidden", cfg.LowReliabilityN, width))
	} else {
		row = para(row, b.l.T("report.m_low"), b.l.T("report.p_low", cfg.LowReliabilityN, width, b.l.T("report.low_reliability")))
	}
	row = para(row, b.l.T("report.m_pooling"), b.l.T("report.p_pooling", cfg.SmallSiteMinimum, b.f.Label(DimSite, OtherSites, b.lang)))
	row = para(row, b.l.T("report.m_pooled"), b.siteNames(b.f.Pooled))
	row = para(row, b.l.T("report.m_merged"), b.levelsText())
	row = para(row, b.l.T("report.entrants"), b.l.T("report.entrants_note"))
	row++

	row = heading(row, b.l.T("report.h_definitions"))
	for _, ind := range b.f.Indicator {
		if ind.Decl.Distribution {
			continue // one note for them all, on their sheet
		}
		b.put(sheet, 1, row, ind.ID, b.st.boldWrap)
		b.put(sheet, 2, row, ind.Label.In(b.lang), b.st.boldWrap)
		row = para(row+1, b.l.T("report.numerator"), ind.Numerator.In(b.lang))
		row = para(row, b.l.T("report.denominator"), ind.Denominator.In(b.lang))
	}
	row++

	row = heading(row, b.l.T("report.h_references"))
	b.put(sheet, 1, row, b.l.T("report.references"), b.st.refHeader)
	row++
	for _, r := range b.f.Catalog.References {
		label := r.Indicator
		if ind, ok := b.f.Catalog.Indicator(r.Indicator); ok {
			label += " — " + ind.Label.In(b.lang)
		}
		b.put(sheet, 1, row, r.Indicator, b.st.boldWrap)
		b.put(sheet, 2, row, label, b.st.boldWrap)
		row++
		row = para(row, b.l.T("report.ref_value"), b.referenceValue(r))
		row = para(row, b.l.T("report.ref_population"), r.Population.In(b.lang))
		row = para(row, b.l.T("report.year"), strconv.Itoa(r.Year))
		row = para(row, b.l.T("report.source"), r.Source)
		row = para(row, b.l.T("report.remark"), r.Note.In(b.lang))
	}
	// Wrapped text, so no print titles and no fitting of the height: it prints at the
	// scale that fits its width, on as many pages as it takes.
	b.printSetup(sheet, printLayout{lastCol: 2, lastRow: row - 1})
}
