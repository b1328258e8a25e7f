package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports/assets"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// HTMLOptions set how report.html is written.
type HTMLOptions struct {
	Lang string // fr (the default when empty), nl or en, as words.Parse reads it
}

// WriteHTML writes report.html: one self-contained page that works offline. The ECharts
// library and every chart are inlined, a Content-Security-Policy forbids any network
// request, and the page reads on a phone and prints. Every number comes from f, so a
// suppressed cell shows "x" as in every other output. The same f and opts give the same
// bytes. It returns an error for a language other than fr, nl or en.
func WriteHTML(w io.Writer, f *Figures, opts HTMLOptions) error {
	if len(assets.EChartsJS) == 0 || bytes.Contains(bytes.ToLower(assets.EChartsJS), []byte("</script")) {
		return fmt.Errorf("reports: html: the embedded ECharts library is missing or cannot be inlined")
	}
	page, err := htmlBuildPage(f, opts.Lang)
	if err != nil {
		return fmt.Errorf("reports: html: %w", err)
	}
	// Inlined here only: the dashboard, which shares htmlBuildPage, loads the library
	// as a file, and a conversion copies its megabyte.
	page.EChartsJS = template.JS(assets.EChartsJS)
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("reports: html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// htmlPage is what the template shows; every string is final text in the page's language.
type htmlPage struct {
	Lang, Title   string
	W             htmlHeadings
	Meta          []htmlMeta
	Method        []string
	SuppressNote  string
	LowRelNote    string
	EmptyNote     string
	Summary       htmlTable
	Families      []htmlFamily
	Entrants      []htmlTable
	EChartsJS     template.JS
	ChartsJS      template.JS
	HasEntrants   bool
	EntrantsTitle string
}

// htmlHeadings are the fixed headings of the page.
type htmlHeadings struct{ Contents, Method, Summary, Notes, Reference string }

type htmlMeta struct{ Term, Value string }

type htmlFamily struct {
	ID, Title string
	// Item marks the table of one item's answers; the first of a questionnaire opens its
	// section (Section, SectionID, SectionNote).
	Item                            bool
	Section, SectionID, SectionNote string
	// Theme opens the framing of a theme before its first family: a title, the
	// paragraph that frames it, and its indicators side by side (Figures.Compare).
	ThemeID, Theme, ThemeIntro string
	ThemeTable                 *htmlTable
	// Charts are the family's chart, then its trend over the years when there is one.
	Charts     []htmlChart
	Indicators []htmlIndicator
}

type htmlChart struct {
	ID, Label string
	Caption   []string
}

type htmlIndicator struct {
	ID, Label, Total string
	Definition       []htmlMeta // denominator, then numerator ("among them, …")
	References       []htmlReference
	Tables           []htmlTable
}

type htmlReference struct{ Value, Population, Note, Source string }

type htmlTable struct {
	Indicator, Breakdown string
	Caption              string
	Head                 []string
	Rows                 []htmlRow
	Foot                 []htmlRow
}

type htmlRow struct {
	Group  string // data-group: the category code
	Header string
	Cells  []htmlCell
}

type htmlCell struct {
	Text   string
	Class  string // "x" suppressed, "lr" low reliability, "empty"
	LowRel bool
	Group  string // data-group of a cell of a cross table
}

// htmlBuildPage lays out the report of f in the language named lang (see words.Parse):
// the page of report.html, and the body of the dashboard.
func htmlBuildPage(f *Figures, lang string) (*htmlPage, error) {
	l, err := reportLanguage(lang)
	if err != nil {
		return nil, err
	}
	lang = string(l)
	nf := reportNumberFormats[l]
	cat := f.Catalog
	p := &htmlPage{Lang: lang, Title: l.T("report.title", f.Year),
		W: htmlHeadings{Contents: l.T("report.contents"), Method: l.T("report.method"), Summary: l.T("report.key_figures"),
			Notes: l.T("report.notes"), Reference: l.T("report.reference")}}

	var sites, pooled []string
	for _, s := range f.Sites {
		sites = append(sites, f.Label(DimSite, s, lang))
		if slices.Contains(f.Pooled, s) {
			pooled = append(pooled, f.Label(DimSite, s, lang))
		}
	}
	p.Meta = []htmlMeta{
		{l.T("report.year"), strconv.Itoa(f.Year)},
		{l.T("report.release"), f.Release + " — " + l.T("report.release_rule")},
		{l.T("report.figures_of"), GroupName(f, lang)},
		{l.T("report.sites"), strings.Join(sites, ", ")},
	}
	if len(pooled) > 0 {
		p.Meta = append(p.Meta, htmlMeta{l.T("report.counted_in", f.Label(DimSite, OtherSites, lang)), strings.Join(pooled, ", ")})
	}
	p.Meta = append(p.Meta,
		htmlMeta{l.T("report.cut_off"), reportDate(l, f.CutOff)},
		htmlMeta{l.T("report.k"), strconv.Itoa(f.Config.K)})
	if len(f.Levels) > 0 {
		p.Meta = append(p.Meta, htmlMeta{l.T("report.merged_breakdowns"), LevelsText(f, lang)})
	}
	p.SuppressNote = strings.Replace(l.T("report.suppressed_note"), " k ", " k = "+strconv.Itoa(f.Config.K)+" ", 1)
	p.LowRelNote = "* " + l.T("report.low_reliability_note")
	p.EmptyNote = l.T("report.empty_note")
	p.Method = []string{l.T("report.entrants_note"), l.T("report.ci_note"), l.T("report.ref_note")}

	p.Summary = htmlTable{Breakdown: Total, Caption: l.T("report.key_figures"), Head: []string{l.T("report.indicator"), "n", "N", "%", l.T("report.ci")}}
	for _, ind := range f.Indicator {
		if ind.Decl.Distribution {
			continue // in its questionnaire's section
		}
		row := htmlShareRow(ind.Total(), "", ind.Short.In(lang), nf)
		row.Group = ind.ID
		p.Summary.Rows = append(p.Summary.Rows, row)
	}

	chartsByID := map[string]chartSpec{}
	var specs []string
	for _, c := range chartSpecs(f, l) {
		chartsByID[c.ID] = c
		js, err := chartOptionScript(c.Options)
		if err != nil {
			return nil, err
		}
		id, _ := json.Marshal(c.ID)
		specs = append(specs, "{id:"+string(id)+",top:"+strconv.Itoa(c.pageTop)+",option:"+js+"}")
	}
	p.ChartsJS = template.JS(htmlChartBoot(specs))

	section, themes := "", map[string]bool{}
	for _, fam := range cat.Families {
		hf := htmlFamily{ID: fam.ID, Title: fam.Title.In(lang), Item: fam.Distribution}
		for _, id := range []string{"chart-" + fam.ID, "chart-trend-" + fam.ID} {
			if c, ok := chartsByID[id]; ok {
				hf.Charts = append(hf.Charts, htmlChart{ID: c.ID, Label: c.Title + ". " + l.T("report.chart.alt"), Caption: c.caption})
			}
		}
		for _, ind := range f.Indicator {
			if ind.Family != fam.ID {
				continue
			}
			hf.Indicators = append(hf.Indicators, htmlIndicatorOf(f, ind, l))
		}
		if len(hf.Indicators) == 0 {
			continue
		}
		if fam.Theme != "" && !themes[fam.Theme] {
			themes[fam.Theme] = true
			hf.ThemeID, hf.Theme, hf.ThemeIntro = "theme-"+fam.Theme, l.T(themeWords[fam.Theme].Title), l.T(themeWords[fam.Theme].Intro)
			if tc, ok := f.Compare(fam.Theme, DimNationalityGroup); ok {
				t := htmlThemeTable(f, tc, l)
				hf.ThemeTable = &t
			}
		}
		if fam.Distribution && section != fam.Questionnaire {
			// The first item of a questionnaire opens its section of every answer.
			section = fam.Questionnaire
			hf.SectionID = "answers-" + fam.Questionnaire
			hf.Section = l.T("report.dist_section", cat.Questionnaires[fam.Questionnaire].In(lang))
			hf.SectionNote = l.T("report.dist_note")
		}
		p.Families = append(p.Families, hf)
	}

	p.EntrantsTitle = l.T("report.entrants_interviewed")
	for _, ct := range f.Entrants {
		p.Entrants = append(p.Entrants, htmlCrossTable(f, ct, lang))
	}
	p.HasEntrants = len(p.Entrants) > 0
	return p, nil
}

func htmlIndicatorOf(f *Figures, ind IndicatorFigures, l words.Lang) htmlIndicator {
	lang := string(l)
	nf := reportNumberFormats[l]
	hi := htmlIndicator{ID: ind.Decl.PublishedID(), Label: ind.Label.In(lang), Definition: []htmlMeta{
		{l.T("report.denominator") + nf.colon, ind.Denominator.In(lang)}, {l.T("report.numerator") + nf.colon, ind.Numerator.In(lang)}}}
	total := ind.Total()
	hi.Total = htmlTotalLine(l, total)
	for _, r := range f.Catalog.ReferencesOf(ind.ID) {
		hi.References = append(hi.References, htmlReference{
			Value:      l.T("report.reference") + nf.colon + nf.refRange(r.Low, r.High),
			Population: fmt.Sprintf("%s (%d)", r.Population.In(lang), r.Year),
			Note:       r.Note.In(lang),
			Source:     l.T("report.source") + nf.colon + r.Source,
		})
	}
	for _, b := range ind.Breakdowns {
		if b.Dim == Total {
			continue
		}
		t := htmlTable{Indicator: ind.ID, Breakdown: b.Dim,
			Caption: ind.Short.In(lang) + " — " + l.T("report.by") + " " + strings.ToLower(f.DimLabel(b.Dim, lang)),
			Head:    []string{f.DimLabel(b.Dim, lang), "n", "N", "%", l.T("report.ci")}}
		for _, r := range b.Rows {
			t.Rows = append(t.Rows, htmlShareRow(r, r.Group, f.Label(b.Dim, r.Group, lang), nf))
		}
		t.Foot = []htmlRow{htmlShareRow(total, "", f.Label(Total, "", lang), nf)}
		hi.Tables = append(hi.Tables, t)
	}
	return hi
}

// htmlThemeTable lays out a theme comparison: a row per indicator, its share in all
// and in each category.
func htmlThemeTable(f *Figures, tc ThemeComparison, l words.Lang) htmlTable {
	lang := string(l)
	nf := reportNumberFormats[l]
	t := htmlTable{Indicator: tc.Theme, Breakdown: tc.Dim, Caption: l.T(themeWords[tc.Theme].ByNationality),
		Head: []string{l.T("report.indicator"), f.Label(Total, "", lang)}}
	for _, c := range tc.Cols {
		t.Head = append(t.Head, f.Label(tc.Dim, c, lang))
	}
	for _, r := range tc.Rows {
		row := htmlRow{Group: r.Indicator.ID, Header: r.Indicator.Short.In(lang), Cells: []htmlCell{htmlShareCell(r.Total.Share, nf)}}
		for i, c := range r.Cells {
			cell := htmlCell{Text: "–", Class: "empty"}
			if !r.Missing[i] {
				cell = htmlShareCell(c.Share, nf)
			}
			cell.Group = r.Indicator.ID + "+" + tc.Cols[i]
			row.Cells = append(row.Cells, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// htmlShareCell is a share as the tables show it: a percentage, the suppression mark or
// a dash for nobody.
func htmlShareCell(s Share, nf reportNumbers) htmlCell {
	est, ok := s.Estimate()
	switch {
	case ok:
		lowRel := s.Status() == disclosure.LowReliability
		class := ""
		if lowRel {
			class = "lr"
		}
		return htmlCell{Text: nf.share(est.P), Class: class, LowRel: lowRel}
	case s.Status() == disclosure.Empty:
		return htmlCell{Text: "–", Class: "empty"}
	}
	return htmlSuppressedCell()
}

// htmlShareRow is a row Group | n | N | % | 95% CI of the tables.
func htmlShareRow(r Row, group, header string, nf reportNumbers) htmlRow {
	row := htmlRow{Group: group, Header: header, Cells: []htmlCell{htmlCountCell(r.Numerator, nf), htmlCountCell(r.Denominator, nf)}}
	est, ok := r.Share.Estimate()
	switch {
	case ok:
		lowRel := r.Share.Status() == disclosure.LowReliability
		class := ""
		if lowRel {
			class = "lr"
		}
		row.Cells = append(row.Cells, htmlCell{Text: nf.share(est.P), Class: class, LowRel: lowRel}, htmlCell{Text: nf.interval(est.Low, est.High)})
	case r.Share.Status() == disclosure.Empty:
		row.Cells = append(row.Cells, htmlCell{Text: "–", Class: "empty"}, htmlCell{Text: "–", Class: "empty"})
	default:
		row.Cells = append(row.Cells, htmlSuppressedCell(), htmlSuppressedCell())
	}
	return row
}

// htmlCountCell shows a count, or the one suppression mark whatever the reason.
func htmlCountCell(n Number, nf reportNumbers) htmlCell {
	if v, ok := n.Value(); ok {
		return htmlCell{Text: nf.int(v)}
	}
	return htmlSuppressedCell()
}

func htmlSuppressedCell() htmlCell { return htmlCell{Text: "x", Class: "x"} }

// htmlCrossTable lays out a cross table of entrants in lang, which the caller parsed.
func htmlCrossTable(f *Figures, ct CrossTable, lang string) htmlTable {
	l := words.Lang(lang)
	nf := reportNumberFormats[l]
	t := htmlTable{Indicator: EntrantsIndicator, Breakdown: ct.RowDim + "+" + ct.ColDim,
		Caption: l.T("report.entrants_by", strings.ToLower(f.DimLabel(ct.RowDim, lang)), strings.ToLower(f.DimLabel(ct.ColDim, lang))),
		Head:    []string{f.DimLabel(ct.RowDim, lang)}}
	for _, c := range ct.Cols {
		t.Head = append(t.Head, f.Label(ct.ColDim, c, lang))
	}
	t.Head = append(t.Head, f.Label(Total, "", lang))
	for r, code := range ct.Rows {
		row := htmlRow{Group: code, Header: f.Label(ct.RowDim, code, lang)}
		for c, col := range ct.Cols {
			cell := htmlCountCell(ct.Cells[r][c], nf)
			cell.Group = code + "+" + col
			row.Cells = append(row.Cells, cell)
		}
		cell := htmlCountCell(ct.RowTotals[r], nf)
		cell.Group = code + "+total"
		row.Cells = append(row.Cells, cell)
		t.Rows = append(t.Rows, row)
	}
	foot := htmlRow{Header: f.Label(Total, "", lang)}
	for c, col := range ct.Cols {
		cell := htmlCountCell(ct.ColTotals[c], nf)
		cell.Group = "total+" + col
		foot.Cells = append(foot.Cells, cell)
	}
	cell := htmlCountCell(ct.Total, nf)
	cell.Group = "total+total"
	foot.Cells = append(foot.Cells, cell)
	t.Foot = []htmlRow{foot}
	return t
}

// htmlChartBoot is the script that draws the charts of the page and keeps them fitted to
// their boxes when the window is resized or the page printed. The page shows each chart's
// title as a heading and its subtitle as a caption, so the chart hides them; on a narrow
// screen (an ECharts media query) the labels get less room and the axis fewer ticks.
func htmlChartBoot(specs []string) string {
	return `(function(){"use strict";` +
		`var specs=[` + strings.Join(specs, ",\n") + `];` +
		`var media=[{option:{grid:[{left:12,right:72}],xAxis:[{interval:20}],yAxis:[{axisLabel:{width:150,fontSize:12}}]}},` +
		`{query:{maxWidth:560},option:{grid:[{left:4,right:60}],xAxis:[{interval:25}],yAxis:[{axisLabel:{width:96,fontSize:11}}]}}];` +
		`var charts=[];` +
		`for(var i=0;i<specs.length;i++){var s=specs[i],el=document.getElementById(s.id);if(!el){continue;}` +
		`var o=s.option;o.title.show=false;o.grid[0].top=s.top;` +
		`var c=echarts.init(el,null,{renderer:'svg'});c.setOption({baseOption:o,media:media});charts.push(c);}` +
		`var resize=function(){for(var i=0;i<charts.length;i++){charts[i].resize();}};` +
		`window.addEventListener('resize',resize);window.addEventListener('beforeprint',resize);window.addEventListener('afterprint',resize);` +
		`})();`
}

// reportDate writes a data cut-off, in UTC, as the language writes dates: "15 mars 2025
// à 14:00 UTC".
func reportDate(l words.Lang, t time.Time) string {
	t = t.UTC()
	return l.T("report.date", t.Day(), reportMonth(string(l), int(t.Month())), t.Year(), t.Hour(), t.Minute())
}

// reportMonth names month m (1–12) in lang, which the caller parsed: report.html's
// cut-off and the dashboard's arrivals.
func reportMonth(lang string, m int) string {
	return words.Lang(lang).T(fmt.Sprintf("report.month.%02d", m))
}

// htmlTotalLine sums up an indicator: "Total : 52,8 % (IC à 95 % : 45,1–60,2 %), n = 53, N = 100".
func htmlTotalLine(l words.Lang, r Row) string {
	nf := reportNumberFormats[l]
	var b strings.Builder
	b.WriteString(l.T("report.total") + nf.colon)
	est, ok := r.Share.Estimate()
	switch {
	case ok:
		b.WriteString(nf.share(est.P))
		if r.Share.Status() == disclosure.LowReliability {
			b.WriteString(" *")
		}
		b.WriteString(" (" + l.T("report.ci") + nf.colon + nf.interval(est.Low, est.High) + ")")
	case r.Share.Status() == disclosure.Empty:
		b.WriteString("–")
	default:
		b.WriteString("x")
	}
	b.WriteString(", n = " + htmlCountCell(r.Numerator, nf).Text + ", N = " + htmlCountCell(r.Denominator, nf).Text)
	return b.String()
}

// htmlTemplate is report.html. Its only scripts are inline (the ECharts library and the
// charts); its Content-Security-Policy forbids fetching anything, fonts included.
var htmlTemplate = template.Must(template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<style>
:root { --ink: #1a1a1a; --muted: #555; --line: #d0d7de; --accent: #1b4f72; --ref: #8e2f25; --refbg: #fbf1ef; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 62rem; padding: 1rem; font: 16px/1.5 "Liberation Sans", Arial, Helvetica, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.5rem 0 1rem; color: var(--accent); }
h2 { font-size: 1.35rem; margin: 2.5rem 0 0.75rem; padding-top: 0.5rem; border-top: 3px solid var(--accent); }
h3 { font-size: 1.1rem; margin: 1.75rem 0 0.5rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0 0 1rem; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; }
nav ol { columns: 2 16rem; padding-left: 1.5rem; }
a { color: var(--accent); }
.chart { width: 100%; height: 420px; margin: 0.25rem 0 0.25rem; }
figcaption { font-size: 0.9rem; color: var(--muted); margin-bottom: 1rem; }
figure { margin: 0; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: 0.5rem 0 1rem; }
table { border-collapse: collapse; min-width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; padding: 0.25rem 0; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
thead th { border-bottom: 2px solid var(--ink); text-align: right; }
thead th:first-child, tbody th, tfoot th { text-align: left; font-weight: normal; white-space: normal; min-width: 8rem; }
td { text-align: right; }
tfoot th, tfoot td { font-weight: bold; border-top: 2px solid var(--ink); }
td.x { color: var(--muted); text-align: center; }
sup.lr { color: var(--ref); font-weight: bold; }
dl.def { color: var(--muted); font-size: 0.9rem; margin: 0.25rem 0; }
dl.def dt { display: inline; font-weight: bold; }
dl.def dd { display: inline; margin: 0; }
dl.def dd::after { content: ""; display: block; margin-bottom: 0.2rem; }
.total { font-weight: bold; margin: 0.5rem 0; }
aside.ref { border: 1px dashed var(--ref); border-left: 6px solid var(--ref); background: var(--refbg); padding: 0.5rem 0.75rem; margin: 0.75rem 0; font-size: 0.95rem; }
aside.ref p { margin: 0.25rem 0; }
aside.ref .value { color: var(--ref); font-weight: bold; }
.notes { font-size: 0.9rem; color: var(--muted); border-top: 1px solid var(--line); margin-top: 2rem; }
@media (max-width: 40rem) {
  body { padding: 0.75rem; font-size: 15px; }
  h1 { font-size: 1.3rem; }
  .chart { height: 380px; }
  dl.meta { grid-template-columns: 1fr; }
  dl.meta dd { margin-bottom: 0.5rem; }
  th, td { padding: 0.25rem 0.4rem; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  section.family, section.entrants { break-before: page; page-break-before: always; }
  h2 { border-top: none; margin-top: 0; }
  .chart { width: 17cm; height: 10cm; break-inside: avoid; }
  .chart > div:not(:first-child) { display: none !important; }
  .table-wrap { overflow: visible; }
  table, aside.ref { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<dl class="meta">
{{- range .Meta}}
<dt>{{.Term}}</dt><dd>{{.Value}}</dd>
{{- end}}
</dl>
</header>
<nav aria-label="{{.W.Contents}}">
<h2 id="contents">{{.W.Contents}}</h2>
<ol>
<li><a href="#method">{{.W.Method}}</a></li>
<li><a href="#summary">{{.W.Summary}}</a></li>
{{- range .Families}}
{{- if .Theme}}
<li><a href="#{{.ThemeID}}">{{.Theme}}</a></li>
{{- end}}
{{- if not .Item}}
<li><a href="#{{.ID}}">{{.Title}}</a></li>
{{- else if .Section}}
<li><a href="#{{.SectionID}}">{{.Section}}</a></li>
{{- end}}
{{- end}}
{{- if .HasEntrants}}
<li><a href="#entrants">{{.EntrantsTitle}}</a></li>
{{- end}}
</ol>
</nav>
<main>
<section id="method" class="method">
<h2>{{.W.Method}}</h2>
{{- range .Method}}
<p>{{.}}</p>
{{- end}}
<p id="note-x">{{.SuppressNote}}</p>
<p id="note-lr">{{.LowRelNote}}</p>
<p id="note-empty">{{.EmptyNote}}</p>
</section>
<section id="summary" class="summary">
<h2>{{.W.Summary}}</h2>
{{template "table" .Summary}}
</section>
{{- range .Families}}
{{- if .Theme}}
<section id="{{.ThemeID}}" class="theme">
<h2>{{.Theme}}</h2>
<p>{{.ThemeIntro}}</p>
{{- with .ThemeTable}}
{{template "table" .}}
{{- end}}
</section>
{{- end}}
{{- if .Section}}
<h2 class="answers" id="{{.SectionID}}">{{.Section}}</h2>
<p class="hint">{{.SectionNote}}</p>
{{- end}}
<section id="{{.ID}}" class="family{{if .Item}} item{{end}}" aria-labelledby="{{.ID}}-title">
{{- if .Item}}
<h3 id="{{.ID}}-title">{{.Title}}</h3>
{{- else}}
<h2 id="{{.ID}}-title">{{.Title}}</h2>
{{- end}}
{{- range .Charts}}
<figure>
<div class="chart" id="{{.ID}}" role="img" aria-label="{{.Label}}"></div>
<figcaption>
{{- range $i, $c := .Caption}}{{if $i}}<br>{{end}}{{$c}}{{end -}}
</figcaption>
</figure>
{{- end}}
{{- range .Indicators}}
<article class="indicator" id="ind-{{.ID}}">
<h3>{{.Label}}</h3>
<dl class="def">
{{- range .Definition}}
<dt>{{.Term}}</dt><dd>{{.Value}}</dd>
{{- end}}
</dl>
<p class="total">{{.Total}}</p>
{{- range .References}}
<aside class="ref" aria-label="{{$.W.Reference}}">
<p class="value">{{.Value}}</p>
<p>{{.Population}}. {{.Note}}</p>
<p class="source">{{.Source}}</p>
</aside>
{{- end}}
{{- range .Tables}}
{{template "table" .}}
{{- end}}
</article>
{{- end}}
</section>
{{- end}}
{{- if .HasEntrants}}
<section id="entrants" class="entrants">
<h2>{{.EntrantsTitle}}</h2>
{{- range .Entrants}}
{{template "table" .}}
{{- end}}
</section>
{{- end}}
</main>
<footer class="notes">
<h2>{{.W.Notes}}</h2>
<p>{{.SuppressNote}}</p>
<p>{{.LowRelNote}}</p>
</footer>
<script>{{.EChartsJS}}</script>
<script>{{.ChartsJS}}</script>
</body>
</html>
`)).ParseFS(pageTemplates, "templates/table.html"))
