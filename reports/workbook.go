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

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// WorkbookOptions is what the workbook states besides the figures.
type WorkbookOptions struct {
	// Lang is the language of every label and text: "fr" (the default when empty), "nl"
	// or "en".
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

// chartOfParts lists the families whose chart compares their parts (substances, main
// drug, tests) rather than the sites.
var chartOfParts = []string{"I03", "I06", "I14"}

// Layout of the indicator sheets: the table in columns A to G, the chart and its data
// from column I.
const (
	chartDataCol = 9
	maxSheetName = 31 // Excel's limit on a sheet name, in characters
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
	lang := opts.Lang
	if lang == "" {
		lang = "fr"
	}
	switch {
	case lang != "fr" && lang != "nl" && lang != "en":
		return fmt.Errorf("reports: workbook: unknown language %q (fr, nl or en)", opts.Lang)
	case f == nil || f.Catalog == nil:
		return errors.New("reports: workbook: no figures or no catalog")
	case f.CutOff.IsZero():
		return errors.New("reports: workbook: the figures have no data cut-off")
	}
	b := &workbook{x: excelize.NewFile(), f: f, lang: lang, opts: opts}
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
	lang string
	opts WorkbookOptions
	st   workbookStyles
	// err is the first error of a cell write; later writes do nothing, so that the
	// sheet builders read as their layout (as with bufio.Writer).
	err error
}

type workbookStyles struct {
	title, heading, subheading, header, refHeader int
	text, wrap, bold, group, note, flag, ref      int
	count, percent, mark                          int
}

// t returns the workbook text key in the workbook's language, formatted with args.
func (b *workbook) t(key string, args ...any) string {
	s := workbookText[key].In(b.lang)
	if len(args) > 0 {
		s = fmt.Sprintf(s, args...)
	}
	return s
}

// cat returns the catalog text key in the workbook's language.
func (b *workbook) cat(key string) string { return b.f.Catalog.Text(key, b.lang) }

func (b *workbook) mark() string { return b.f.Catalog.Text("suppressed_mark", b.lang) }

func (b *workbook) build() {
	b.styles()
	b.properties()
	summary := b.t("sheet_summary")
	if b.err == nil {
		b.err = b.x.SetSheetName("Sheet1", summary)
	}
	b.summarySheet(summary)
	for _, fam := range b.f.Catalog.Families {
		var inds []IndicatorFigures
		for _, ind := range b.f.Indicator {
			if ind.Family == fam.ID {
				inds = append(inds, ind)
			}
		}
		if len(inds) > 0 {
			b.familySheet(fam, inds)
		}
	}
	b.entrantsSheet(b.t("sheet_entrants"))
	b.methodSheet(b.t("sheet_method"))
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
		title = b.t("title", b.f.Year)
	}
	stamp := b.f.CutOff.UTC().Format(time.RFC3339)
	tag := map[string]string{"fr": "fr-BE", "nl": "nl-BE", "en": "en"}[b.lang]
	if b.err == nil {
		b.err = b.x.SetDocProps(&excelize.DocProperties{
			Title:          title,
			Subject:        b.t("subject", b.f.Year, b.f.Config.K),
			Description:    b.cat("entrants_note"),
			Creator:        "tamtam",
			LastModifiedBy: "tamtam",
			Created:        stamp,
			Modified:       stamp,
			Language:       tag,
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
}

// putCount writes a protected count: the number, or the mark when it may not be shown.
func (b *workbook) putCount(sheet string, col, row int, n Number) {
	if v, ok := n.Value(); ok {
		b.put(sheet, col, row, v, b.st.count)
		return
	}
	b.put(sheet, col, row, b.mark(), b.st.mark)
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
			b.put(sheet, col+i, row, b.mark(), b.st.mark)
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
		return b.t("flag_low")
	case st == disclosure.Empty:
		return b.t("flag_empty")
	case !st.Publishable():
		return b.t("flag_suppressed")
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
	notes := []string{b.cat("suppressed_note") + fmt.Sprintf(" (k = %d).", b.f.Config.K)}
	if proportions {
		notes = append(notes, b.cat("low_reliability_note"))
	}
	notes = append(notes, b.cat("entrants_note"))
	for _, n := range notes {
		b.put(sheet, 1, row, n, b.st.note)
		row++
	}
	return row
}

// siteNames lists the names of sites.
func (b *workbook) siteNames(sites []string) string {
	if len(sites) == 0 {
		return b.t("none")
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
		questionnaires = b.t("not_stated")
	}
	facts := [][2]string{
		{b.t("year"), strconv.Itoa(b.f.Year)},
		{b.t("release"), b.f.Release},
		{b.t("group"), b.groupName()},
		{b.t("cut_off"), b.f.CutOff.UTC().Format("2006-01-02 15:04 UTC")},
		{b.t("sites"), b.siteNames(b.f.Sites)},
		{b.t("pooled", b.f.Label(DimSite, OtherSites, b.lang)), b.siteNames(b.f.Pooled)},
		{b.t("k"), strconv.Itoa(b.f.Config.K)},
		{b.t("questionnaires"), questionnaires},
	}
	for _, fact := range facts {
		b.put(sheet, 1, row, fact[0], b.st.bold)
		b.put(sheet, 2, row, fact[1], b.st.text)
		row++
	}
	return row
}

// groupName names the publication group the workbook shows.
func (b *workbook) groupName() string { return GroupName(b.f, b.lang) }

// levelsText lists the breakdowns the release merged or left out (R6).
func (b *workbook) levelsText() string { return LevelsText(b.f, b.lang) }

// referenceValueText writes a reference value, a percentage or a range of percentages, as text:
// it is a comparison, never a figure to compute with.
func referenceValueText(r Reference, lang string) string {
	num := func(v float64) string {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if lang != "en" {
			s = strings.Replace(s, ".", ",", 1)
		}
		return s
	}
	v := num(r.Low)
	if r.High != r.Low {
		v += "–" + num(r.High)
	}
	if lang == "fr" {
		return v + "\u00a0%"
	}
	return v + "%"
}

func (b *workbook) summarySheet(sheet string) {
	title := b.opts.Title
	if title == "" {
		title = b.t("title", b.f.Year)
	}
	b.put(sheet, 1, 1, title, b.st.title)
	b.put(sheet, 1, 2, b.cat("entrants_note"), b.st.note)
	row := b.releaseFacts(sheet, 4) + 1

	b.header(sheet, 1, row, b.t("col_code"), b.t("col_family"), b.t("col_indicator"), "N", "%",
		b.t("col_low"), b.t("col_high"), b.t("col_flag"))
	for i, h := range []string{b.t("col_ref_value"), b.t("col_ref_year"), b.t("col_ref_population")} {
		b.put(sheet, 9+i, row, h, b.st.refHeader)
	}
	b.freeze(sheet, row)
	row++
	titles := map[string]string{}
	for _, fam := range b.f.Catalog.Families {
		titles[fam.ID] = fam.Title.In(b.lang)
	}
	for _, ind := range b.f.Indicator {
		total := ind.Total()
		b.put(sheet, 1, row, ind.ID, b.st.text)
		b.put(sheet, 2, row, titles[ind.Family], b.st.wrap)
		b.put(sheet, 3, row, ind.Label.In(b.lang), b.st.wrap)
		b.putCount(sheet, 4, row, total.Denominator)
		b.putShare(sheet, 5, row, total.Share)
		if refs := b.f.Catalog.ReferencesOf(ind.ID); len(refs) > 0 {
			var values, years, sources []string
			for _, r := range refs {
				values = append(values, referenceValueText(r, b.lang))
				years = append(years, strconv.Itoa(r.Year))
				sources = append(sources, r.Population.In(b.lang)+" — "+r.Source)
			}
			b.put(sheet, 9, row, strings.Join(values, "; "), b.st.ref)
			b.put(sheet, 10, row, strings.Join(years, "; "), b.st.ref)
			b.put(sheet, 11, row, strings.Join(sources, "\n"), b.st.ref)
		}
		row++
	}
	b.notes(sheet, row+1, true)
	b.widths(sheet, 1, 13, 26, 50, 9, 9, 11, 11, 16, 16, 12, 70)
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
	b.header(sheet, 1, 1, b.t("col_group"), b.t("col_num"), b.t("col_den"), "%", b.t("col_low"), b.t("col_high"), b.t("col_flag"))
	b.freeze(sheet, 1)
	b.widths(sheet, 1, 44, 12, 14, 9, 11, 11, 18, 3, 30, 16, 16, 16, 16)
	b.put(sheet, 1, 2, fam.ID+" — "+fam.Title.In(b.lang), b.st.title)
	b.put(sheet, 1, 3, b.cat("entrants_note"), b.st.note)
	row := 5
	for _, ind := range inds {
		b.put(sheet, 1, row, ind.ID+" — "+ind.Label.In(b.lang), b.st.heading)
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
	row = b.notes(sheet, row, true) + 1
	b.references(sheet, row, inds)
	b.familyChart(sheet, fam, inds)
}

// references writes the reference values of inds under their table, apart from our
// figures and marked as such.
func (b *workbook) references(sheet string, row int, inds []IndicatorFigures) {
	first := true
	for _, ind := range inds {
		for _, r := range b.f.Catalog.ReferencesOf(ind.ID) {
			if first {
				b.put(sheet, 1, row, b.t("references"), b.st.refHeader)
				row++
				first = false
			}
			b.put(sheet, 1, row, ind.ID+" — "+ind.Short.In(b.lang), b.st.bold)
			row++
			for _, kv := range [][2]string{
				{b.t("ref_value"), referenceValueText(r, b.lang)},
				{b.t("ref_year"), strconv.Itoa(r.Year)},
				{b.t("ref_population"), r.Population.In(b.lang)},
				{b.t("ref_source"), r.Source},
				{b.t("ref_note"), r.Note.In(b.lang)},
			} {
				b.put(sheet, 1, row, kv[0], b.st.group)
				b.put(sheet, 2, row, kv[1], b.st.text)
				row++
			}
		}
	}
}

// chartDataPoint is a published percentage of a chart, or a gap.
type chartDataPoint struct {
	p  float64
	ok bool
}

// familyChart writes the chart data of the family (its parts, or its indicators by site)
// beside the table and a native chart of it. Only published percentages go into the
// chart data; a hidden one leaves a gap, and a category with nothing published is left
// out, so the chart can never show a hidden value.
func (b *workbook) familyChart(sheet string, fam Family, inds []IndicatorFigures) {
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
	if slices.Contains(chartOfParts, fam.ID) {
		catHeader, title = b.t("col_indicator"), b.t("chart_by_part", fam.Title.In(b.lang))
		seriesName = []string{b.cat("total")}
		for _, ind := range inds {
			cats = append(cats, ind.Short.In(b.lang))
			values = append(values, []chartDataPoint{point(ind.Total().Share)})
		}
	} else {
		catHeader, title = b.f.DimLabel(DimSite, b.lang), b.t("chart_by_site", fam.Title.In(b.lang))
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
	b.put(sheet, chartDataCol, 2, b.t("chart_data"), b.st.heading)
	if len(kept) == 0 {
		b.put(sheet, chartDataCol, 3, b.t("chart_none"), b.st.note)
		return
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
		Dimension: excelize.ChartDimension{Width: 640, Height: 320},
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
}

func (b *workbook) entrantsSheet(sheet string) {
	b.newSheet(sheet)
	b.put(sheet, 1, 1, b.t("entrants_title"), b.st.title)
	b.put(sheet, 1, 2, b.cat("entrants_note"), b.st.note)
	row, cols := 4, 0
	for _, ct := range b.f.Entrants {
		b.put(sheet, 1, row, b.f.DimLabel(ct.RowDim, b.lang)+" × "+b.f.DimLabel(ct.ColDim, b.lang), b.st.heading)
		row++
		headers := []string{b.f.DimLabel(ct.RowDim, b.lang)}
		for _, c := range ct.Cols {
			headers = append(headers, b.f.Label(ct.ColDim, c, b.lang))
		}
		headers = append(headers, b.cat("total"))
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
		b.put(sheet, 1, row, b.cat("total"), b.st.bold)
		for c := range ct.Cols {
			b.putCount(sheet, 2+c, row, ct.ColTotals[c])
		}
		b.putCount(sheet, 2+len(ct.Cols), row, ct.Total)
		row += 2
	}
	b.notes(sheet, row, false)
	b.widths(sheet, 1, 32)
	for c := 2; c <= cols; c++ {
		b.widths(sheet, c, 14)
	}
}

func (b *workbook) methodSheet(sheet string) {
	b.newSheet(sheet)
	b.widths(sheet, 1, 28, 110)
	b.put(sheet, 1, 1, b.t("sheet_method"), b.st.title)
	heading := func(row int, key string) int {
		b.put(sheet, 1, row, b.t(key), b.st.heading)
		return row + 1
	}
	para := func(row int, label, text string) int {
		b.put(sheet, 1, row, label, b.st.bold)
		b.put(sheet, 2, row, text, b.st.wrap)
		return row + 1
	}

	row := heading(3, "h_release")
	row = b.releaseFacts(sheet, row) + 1

	cfg := b.f.Config
	row = heading(row, "h_protection")
	row = para(row, b.t("m_threshold"), b.t("p_threshold", cfg.K-1, cfg.K))
	row = para(row, b.t("m_mark"), b.t("p_mark", b.mark()))
	row = para(row, b.t("m_secondary"), b.t("p_secondary"))
	row = para(row, b.t("m_joint"), b.t("p_joint"))
	row = para(row, b.t("m_release"), b.t("p_release", b.f.Release))
	row = para(row, b.t("m_group"), b.t("p_group"))
	row = para(row, b.t("m_wilson"), b.t("p_wilson"))
	width := strconv.FormatFloat(cfg.LowReliabilityWidth*100, 'f', -1, 64)
	if cfg.SuppressLowReliability {
		row = para(row, b.t("m_low"), b.t("p_low_hidden", cfg.LowReliabilityN, width))
	} else {
		row = para(row, b.t("m_low"), b.t("p_low", cfg.LowReliabilityN, width, b.t("flag_low")))
	}
	row = para(row, b.t("m_pooling"), b.t("p_pooling", cfg.SmallSiteMinimum, b.f.Label(DimSite, OtherSites, b.lang)))
	row = para(row, b.t("m_pooled"), b.siteNames(b.f.Pooled))
	row = para(row, b.t("m_merged"), b.levelsText())
	row = para(row, b.t("m_flow"), b.cat("entrants_note"))
	row++

	row = heading(row, "h_definitions")
	for _, ind := range b.f.Indicator {
		b.put(sheet, 1, row, ind.ID, b.st.bold)
		b.put(sheet, 2, row, ind.Label.In(b.lang), b.st.bold)
		row = para(row+1, b.t("m_numerator"), ind.Numerator.In(b.lang))
		row = para(row, b.t("m_denominator"), ind.Denominator.In(b.lang))
	}
	row++

	row = heading(row, "h_references")
	b.put(sheet, 1, row, b.t("references"), b.st.refHeader)
	row++
	for _, r := range b.f.Catalog.References {
		label := r.Indicator
		if ind, ok := b.f.Catalog.Indicator(r.Indicator); ok {
			label += " — " + ind.Label.In(b.lang)
		}
		b.put(sheet, 1, row, r.Indicator, b.st.bold)
		b.put(sheet, 2, row, label, b.st.bold)
		row++
		row = para(row, b.t("ref_value"), referenceValueText(r, b.lang))
		row = para(row, b.t("ref_population"), r.Population.In(b.lang))
		row = para(row, b.t("ref_year"), strconv.Itoa(r.Year))
		row = para(row, b.t("ref_source"), r.Source)
		row = para(row, b.t("ref_note"), r.Note.In(b.lang))
	}
}

// workbookText holds the workbook's own words; the indicator labels and the notes shared
// with the other outputs come from the catalog.
var workbookText = map[string]Text{
	"sheet_summary":  {FR: "Résumé", NL: "Overzicht", EN: "Summary"},
	"sheet_entrants": {FR: "Entrants", NL: "Instroom", EN: "Entrants"},
	"sheet_method":   {FR: "Méthodologie", NL: "Methode", EN: "Methodology"},
	"title": {FR: "Drogues et santé à l'entrée en prison : chiffres %d",
		NL: "Drugs en gezondheid bij binnenkomst in de gevangenis: cijfers %d",
		EN: "Drugs and health on entering prison: figures for %d"},
	"subject": {FR: "Indicateurs %d des entrants interrogés, chiffres protégés (k = %d)",
		NL: "Indicatoren %d van de bevraagde binnenkomende gedetineerden, beschermde cijfers (k = %d)",
		EN: "Indicators %d for the entrants interviewed, protected figures (k = %d)"},
	"entrants_title": {FR: "Entrants interrogés dans l'année", NL: "Bevraagde binnenkomende gedetineerden van het jaar", EN: "Entrants interviewed during the year"},

	"year":           {FR: "Année", NL: "Jaar", EN: "Year"},
	"cut_off":        {FR: "Données arrêtées au", NL: "Gegevens tot en met", EN: "Data cut-off"},
	"sites":          {FR: "Prisons couvertes", NL: "Gevangenissen", EN: "Prisons covered"},
	"pooled":         {FR: "Comptées dans « %s »", NL: "Meegeteld in ‘%s’", EN: "Counted in “%s”"},
	"none":           {FR: "aucune", NL: "geen", EN: "none"},
	"k":              {FR: "Seuil de protection k", NL: "Beschermingsdrempel k", EN: "Protection threshold k"},
	"questionnaires": {FR: "Questionnaires", NL: "Vragenlijsten", EN: "Questionnaires"},
	"not_stated":     {FR: "non précisé", NL: "niet vermeld", EN: "not stated"},

	"col_code":           {FR: "Code", NL: "Code", EN: "Code"},
	"col_family":         {FR: "Thème", NL: "Thema", EN: "Topic"},
	"col_indicator":      {FR: "Indicateur", NL: "Indicator", EN: "Indicator"},
	"col_group":          {FR: "Groupe", NL: "Groep", EN: "Group"},
	"col_num":            {FR: "Numérateur", NL: "Teller", EN: "Numerator"},
	"col_den":            {FR: "Dénominateur (N)", NL: "Noemer (N)", EN: "Denominator (N)"},
	"col_low":            {FR: "IC 95 % bas", NL: "BI 95% onder", EN: "95% CI low"},
	"col_high":           {FR: "IC 95 % haut", NL: "BI 95% boven", EN: "95% CI high"},
	"col_flag":           {FR: "Remarque", NL: "Opmerking", EN: "Remark"},
	"col_ref_value":      {FR: "Référence : valeur", NL: "Referentie: waarde", EN: "Reference: value"},
	"col_ref_year":       {FR: "Référence : année", NL: "Referentie: jaar", EN: "Reference: year"},
	"col_ref_population": {FR: "Référence : population et source", NL: "Referentie: bevolking en bron", EN: "Reference: population and source"},

	"flag_low":        {FR: "fiabilité faible", NL: "weinig betrouwbaar", EN: "low reliability"},
	"flag_suppressed": {FR: "masqué", NL: "verborgen", EN: "hidden"},
	"flag_empty":      {FR: "aucune réponse", NL: "geen antwoorden", EN: "no answers"},

	"references":     {FR: "Valeurs de référence : autres enquêtes, pas nos chiffres", NL: "Referentiewaarden: andere studies, niet onze cijfers", EN: "Reference values: other surveys, not our figures"},
	"ref_value":      {FR: "Valeur", NL: "Waarde", EN: "Value"},
	"ref_year":       {FR: "Année", NL: "Jaar", EN: "Year"},
	"ref_population": {FR: "Population", NL: "Bevolking", EN: "Population"},
	"ref_source":     {FR: "Source", NL: "Bron", EN: "Source"},
	"ref_note":       {FR: "Remarque", NL: "Opmerking", EN: "Remark"},

	"chart_data":    {FR: "Données du graphique (chiffres publiés seulement)", NL: "Gegevens van de grafiek (alleen gepubliceerde cijfers)", EN: "Chart data (published figures only)"},
	"chart_none":    {FR: "Pas de graphique : aucun pourcentage ne peut être montré.", NL: "Geen grafiek: geen enkel percentage mag getoond worden.", EN: "No chart: no percentage may be shown."},
	"chart_by_site": {FR: "%s, par prison (entrants)", NL: "%s, per gevangenis (instroom)", EN: "%s, by prison (entrants)"},
	"chart_by_part": {FR: "%s (entrants)", NL: "%s (instroom)", EN: "%s (entrants)"},

	"h_release":     {FR: "Cette publication", NL: "Deze publicatie", EN: "This release"},
	"h_protection":  {FR: "Protection des personnes", NL: "Bescherming van de personen", EN: "Protecting people"},
	"h_definitions": {FR: "Définitions des indicateurs", NL: "Definities van de indicatoren", EN: "Indicator definitions"},
	"h_references":  {FR: "Valeurs de référence", NL: "Referentiewaarden", EN: "Reference values"},
	"m_threshold":   {FR: "Seuil", NL: "Drempel", EN: "Threshold"},
	"m_mark":        {FR: "Marque", NL: "Teken", EN: "Mark"},
	"m_secondary":   {FR: "Masquage secondaire", NL: "Tweede afscherming", EN: "Secondary suppression"},
	"m_joint":       {FR: "Tableaux liés", NL: "Samenhangende tabellen", EN: "Linked tables"},
	"m_release":     {FR: "Publication figée", NL: "Vastgelegde publicatie", EN: "Frozen release"},
	"m_merged":      {FR: "Ventilations regroupées", NL: "Samengevoegde uitsplitsingen", EN: "Merged breakdowns"},
	"release":       {FR: "Publication", NL: "Publicatie", EN: "Release"},
	"group":         {FR: "Chiffres de", NL: "Cijfers van", EN: "Figures of"},
	"p_release": {FR: "Tous les chiffres de cette année viennent de publications protégées ensemble : chaque chiffre est une case de la publication %s, figée à sa date de données et conservée dans le registre ; les publications d'une même année sont protégées conjointement, de sorte qu'aucune différence entre elles, ni entre les vues (prisons, financeurs, langues), ne redonne une personne.",
		NL: "Alle cijfers van dit jaar komen uit publicaties die samen beschermd zijn: elk cijfer is een cel van publicatie %s, vastgelegd op haar gegevensdatum en bewaard in het register; de publicaties van eenzelfde jaar worden samen beschermd, zodat geen verschil tussen publicaties of tussen weergaven (gevangenissen, financiers, talen) een persoon prijsgeeft.",
		EN: "Every figure of this year comes from releases protected together: each figure is a cell of release %s, frozen at its data cut-off and kept in the ledger; the releases of one year are protected jointly, so that no difference between releases, or between views (prisons, funders, languages), gives a person back."},
	"m_group":       {FR: "Questions sensibles", NL: "Gevoelige vragen", EN: "Sensitive questions"},
	"m_wilson":      {FR: "Pourcentages", NL: "Percentages", EN: "Percentages"},
	"m_low":         {FR: "Fiabilité faible", NL: "Weinig betrouwbaar", EN: "Low reliability"},
	"m_pooling":     {FR: "Petites prisons", NL: "Kleine gevangenissen", EN: "Small prisons"},
	"m_pooled":      {FR: "Prisons regroupées", NL: "Samengevoegde gevangenissen", EN: "Pooled prisons"},
	"m_flow":        {FR: "Entrants", NL: "Instroom", EN: "Entrants"},
	"m_numerator":   {FR: "Numérateur", NL: "Teller", EN: "Numerator"},
	"m_denominator": {FR: "Dénominateur", NL: "Noemer", EN: "Denominator"},

	"p_threshold": {
		FR: "Un nombre de 1 à %d personnes n'est jamais montré, ni dans les tableaux ni dans leurs totaux (seuil k = %d). Un zéro est montré.",
		NL: "Een aantal van 1 tot %d personen wordt nooit getoond, niet in de tabellen en niet in hun totalen (drempel k = %d). Een nul wordt wel getoond.",
		EN: "A number from 1 to %d people is never shown, neither in the tables nor in their totals (threshold k = %d). A zero is shown."},
	"p_mark": {
		FR: "Toutes les cases cachées portent la même marque « %s » : une case cachée parce qu'elle est petite ressemble à une case cachée pour en protéger une autre.",
		NL: "Alle verborgen cellen hebben hetzelfde teken ‘%s’: een cel die verborgen is omdat ze klein is, ziet er hetzelfde uit als een cel die verborgen is om een andere te beschermen.",
		EN: "Every hidden cell carries the same mark “%s”: a cell hidden because it is small looks the same as a cell hidden to protect another one."},
	"p_secondary": {
		FR: "Dans chaque ligne et chaque colonne dont le total est montré : s'il ne reste qu'une case cachée, ou si les cases cachées comptent ensemble moins de k personnes, on cache aussi la plus petite autre case non nulle. On recommence jusqu'à ce que plus rien ne change. Ensuite, un programme vérifie qu'aucune case cachée ne peut être retrouvée par calcul à partir des cases montrées.",
		NL: "In elke rij en elke kolom waarvan het totaal getoond wordt: als er maar één cel verborgen is, of als de verborgen cellen samen minder dan k personen tellen, wordt ook de kleinste andere cel (niet nul) verborgen. Dat wordt herhaald tot er niets meer verandert. Daarna controleert een programma dat geen enkele verborgen cel uit de getoonde cellen berekend kan worden.",
		EN: "In every row and every column whose total is shown: if only one cell is hidden, or if the hidden cells together hold fewer than k people, the smallest other non-zero cell is hidden too. This is repeated until nothing changes. A program then checks that no hidden cell can be worked out from the cells shown."},
	"p_joint": {
		FR: "Tous les tableaux de cette publication sont protégés ensemble : une même case a le même statut dans tous les tableaux. On ne peut donc pas retrouver une case cachée en comparant deux tableaux.",
		NL: "Alle tabellen van deze publicatie worden samen beschermd: dezelfde cel heeft in elke tabel dezelfde status. Door twee tabellen te vergelijken vind je dus geen verborgen cel terug.",
		EN: "All the tables of this release are protected together: a cell has the same status in every table. Comparing two tables therefore cannot reveal a hidden cell."},
	"p_group": {
		FR: "Pour les questions sensibles (drogues, injection, prison…), dans chaque groupe montré, le nombre de « oui » et le nombre de « non » doivent être 0 ou au moins k. Sinon le pourcentage est caché : on ne doit rien apprendre sur une personne parce qu'elle fait partie d'un groupe.",
		NL: "Bij gevoelige vragen (drugs, spuiten, gevangenis…) moeten in elke getoonde groep het aantal ‘ja’ en het aantal ‘nee’ 0 of minstens k zijn. Anders wordt het percentage verborgen: je mag niets over een persoon te weten komen omdat die tot een groep behoort.",
		EN: "For sensitive questions (drugs, injecting, prison…), in every group shown, the number of “yes” and the number of “no” answers must each be 0 or at least k. Otherwise the percentage is hidden: nothing may be learned about a person from belonging to a group."},
	"p_wilson": {
		FR: "Chaque pourcentage est donné avec N (le dénominateur) et un intervalle de confiance à 95 % calculé par la méthode de Wilson. Si le numérateur ou le dénominateur est caché, le pourcentage l'est aussi.",
		NL: "Elk percentage wordt getoond met N (de noemer) en een 95%-betrouwbaarheidsinterval volgens de methode van Wilson. Als de teller of de noemer verborgen is, is het percentage dat ook.",
		EN: "Every percentage comes with N (the denominator) and a 95% confidence interval computed with the Wilson method. If the numerator or the denominator is hidden, so is the percentage."},
	"p_low": {
		FR: "Moins de %d personnes au dénominateur, ou un intervalle de confiance large de %s points de pourcentage ou plus. Le pourcentage est montré avec la remarque « %s » : à lire avec prudence.",
		NL: "Minder dan %d personen in de noemer, of een betrouwbaarheidsinterval van %s procentpunten breed of meer. Het percentage wordt getoond met de opmerking ‘%s’: voorzichtig lezen.",
		EN: "Fewer than %d people in the denominator, or a confidence interval %s percentage points wide or more. The percentage is shown with the remark “%s”: read it with care."},
	"p_low_hidden": {
		FR: "Moins de %d personnes au dénominateur, ou un intervalle de confiance large de %s points de pourcentage ou plus. Dans cette publication, ces pourcentages sont cachés.",
		NL: "Minder dan %d personen in de noemer, of een betrouwbaarheidsinterval van %s procentpunten breed of meer. In deze publicatie worden die percentages verborgen.",
		EN: "Fewer than %d people in the denominator, or a confidence interval %s percentage points wide or more. In this release such percentages are hidden."},
	"p_pooling": {
		FR: "Une prison où moins de %d entrants ont été interrogés dans l'année n'est pas montrée seule : elle est comptée dans « %s ». Si une seule prison est petite, la plus petite des autres la rejoint, pour que le groupe ne soit pas une seule prison sous un autre nom.",
		NL: "Een gevangenis waar in het jaar minder dan %d binnenkomende gedetineerden bevraagd werden, wordt niet apart getoond: ze wordt meegeteld in ‘%s’. Is er maar één kleine gevangenis, dan komt de kleinste van de andere erbij, zodat de groep niet één gevangenis onder een andere naam is.",
		EN: "A prison where fewer than %d entrants were interviewed in the year is not shown on its own: it is counted in “%s”. If only one prison is small, the smallest of the others joins it, so that the group is not one prison under another name."},
}
