package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	gocharts "github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// Chart is the specification of one figure of a release: an ECharts option object built
// with go-echarts from published values only.
type Chart struct {
	// ID names the figure: the id of its element in report.html and the base name of its
	// SVG and PNG files ("chart-I01").
	ID    string
	Title string
	// Options is the ECharts option object, as JSON, in go-echarts' convention: a string
	// "__f__function(…){…}__f__" holds JavaScript code (number formatters, the error bars),
	// which is written out as code, not as a string, when the chart is put in a page.
	// Animation is off, so that a snapshot shows the final drawing.
	Options json.RawMessage
}

// The value of every bar (and error bar) is an array read by the JavaScript formatters:
// [category index, %, CI low %, CI high %, n or -1, N or -1, 1 if low reliability else 0].
const (
	chartValueP = 1 + iota
	chartValueLow
	chartValueHigh
	chartValueN
	chartValueDen
	chartValueLowRel
)

// Chart geometry of the figure files; the page sizes its charts with CSS.
const (
	chartWidth  = 900
	chartHeight = 500
	chartFont   = "Liberation Sans, Arial, Helvetica, sans-serif"

	chartLabelLineHeight = 15
)

// chartBar is one published share of a chart.
type chartBar struct {
	label   string
	est     chartEstimate
	total   bool
	lowRel  bool
	n, den  int  // -1 when not published
	missing bool // not plotted
	empty   bool // not plotted, and nothing to hide: no observation
}

// chartEstimate is a published proportion, in percent rounded as in the tables, so that
// the figure and the table show the same digits.
type chartEstimate struct{ p, low, high float64 }

// Charts returns the charts of a release, one per indicator family in catalog order: the
// parts of the family side by side for I03, I06 and I14, otherwise the share of the
// family's main part for the total and each published site. Each bar is a published
// proportion with its 95% interval drawn as an error bar; suppressed groups are left out
// (and named in the subtitle), never plotted. Reference values of other surveys are drawn
// as marked lines or areas labelled as references, with their source in the tooltip.
// lang is read by words.Parse (empty is French); another language is an error.
func Charts(f *Figures, lang string) ([]Chart, error) {
	l, err := reportLanguage(lang)
	if err != nil {
		return nil, fmt.Errorf("reports: charts: %w", err)
	}
	var out []Chart
	for _, s := range chartSpecs(f, l) {
		out = append(out, s.Chart)
	}
	return out, nil
}

// chartSpec is a chart with what report.html shows around it: the page hides the title
// and subtitle drawn in the figure (the section heading and a caption say the same, and
// wrap on a phone), so it needs the caption lines and the plot's top margin without them.
type chartSpec struct {
	Chart
	caption []string // the subtitle lines
	pageTop int      // top of the plot when the title is hidden
}

func chartSpecs(f *Figures, l words.Lang) []chartSpec {
	lang := string(l)
	var out []chartSpec
	for _, fam := range f.Catalog.Families {
		if fam.Distribution {
			continue // tables only: a chart per item would drown the indicators
		}
		var members []IndicatorFigures
		for _, ind := range f.Indicator {
			if ind.Family == fam.ID {
				members = append(members, ind)
			}
		}
		if len(members) == 0 {
			continue
		}
		var bars []chartBar
		var refs []Reference
		var subtitle string
		if chartsParts(fam.ID) {
			for _, m := range members {
				bars = append(bars, chartBarOf(m.Total(), m.Short.In(lang), false))
				refs = append(refs, f.Catalog.ReferencesOf(m.ID)...)
			}
			subtitle = l.T("report.chart.subtitle_parts")
		} else {
			main := members[0]
			bars = append(bars, chartBarOf(main.Total(), f.Label(Total, "", lang), true))
			for _, b := range main.Breakdowns {
				if b.Dim != DimSite {
					continue
				}
				for _, r := range b.Rows {
					bars = append(bars, chartBarOf(r, f.Label(DimSite, r.Group, lang), false))
				}
			}
			refs = f.Catalog.ReferencesOf(main.ID)
			subtitle = l.T("report.chart.subtitle_by_site", main.Short.In(lang))
		}
		title := fam.Title.In(lang) + " — " + strconv.Itoa(f.Year)
		spec, err := chartOptions("chart-"+fam.ID, title, subtitle, bars, refs, l)
		if err != nil {
			// The options are built from Go values that always marshal; a failure is a bug.
			panic(fmt.Sprintf("reports: chart %s: %v", fam.ID, err))
		}
		out = append(out, spec)
		// The trend of the family's first indicator: its total, year by year.
		if trend, ok := members[0].Trend(); ok {
			bars = bars[:0]
			for _, r := range trend.Rows {
				bars = append(bars, chartBarOf(r, r.Group, r.Group == strconv.Itoa(f.Year)))
			}
			first, last := trend.Rows[0].Group, trend.Rows[len(trend.Rows)-1].Group
			spec, err := chartOptions("chart-trend-"+fam.ID, fam.Title.In(lang)+" — "+first+"–"+last,
				l.T("report.chart.subtitle_trend", members[0].Short.In(lang)), bars, refs, l)
			if err != nil {
				panic(fmt.Sprintf("reports: trend chart %s: %v", fam.ID, err))
			}
			out = append(out, spec)
		}
	}
	return out
}

// chartBarOf reads one row as a bar; a row whose share may not be published is marked missing.
func chartBarOf(r Row, label string, total bool) chartBar {
	est, ok := r.Share.Estimate()
	if !ok {
		// An empty group (N = 0) has nothing to draw; anything else unpublishable is
		// suppressed and named as such.
		return chartBar{label: label, total: total, missing: true, empty: r.Share.Status() == disclosure.Empty}
	}
	b := chartBar{label: label, total: total, lowRel: r.Share.Flag() == "low_reliability", n: -1, den: -1,
		est: chartEstimate{p: chartPercent(est.P), low: chartPercent(est.Low), high: chartPercent(est.High)}}
	if v, ok := r.Numerator.Value(); ok {
		b.n = v
	}
	if v, ok := r.Denominator.Value(); ok {
		b.den = v
	}
	return b
}

// chartPercent is a share in percent, rounded to the one decimal the tables show.
func chartPercent(p float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(p*100, 'f', 1, 64), 64)
	return v
}

// chartOptions builds the go-echarts bar chart (horizontal bars, error bars as a custom
// series on top) and returns its option object.
func chartOptions(id, title, subtitle string, bars []chartBar, refs []Reference, l words.Lang) (chartSpec, error) {
	var cats, missing []string
	var data []opts.BarData
	var whiskers []opts.CustomData
	for _, b := range bars {
		if b.missing {
			if !b.empty {
				missing = append(missing, b.label)
			}
			continue
		}
		lowRel := 0
		if b.lowRel {
			lowRel = 1
		}
		value := []any{len(cats), b.est.p, b.est.low, b.est.high, b.n, b.den, lowRel}
		// Light enough for the black error bars to show on them; the total darker; a
		// low-reliability share paler (and starred).
		color := "#7fb0dd"
		switch {
		case b.total && b.lowRel:
			color = "#a3bdd3"
		case b.total:
			color = "#3f7fb5"
		case b.lowRel:
			color = "#cfe2f3"
		}
		data = append(data, opts.BarData{Name: b.label, Value: value, ItemStyle: &opts.ItemStyle{Color: color}})
		whiskers = append(whiskers, opts.CustomData{Name: b.label, Value: value})
		cats = append(cats, b.label)
	}
	if slices.ContainsFunc(bars, func(b chartBar) bool { return b.lowRel && !b.missing }) {
		subtitle += "\n" + l.T("report.chart.low_reliability")
	}
	if len(missing) > 0 {
		subtitle += "\n" + l.T("report.chart.not_shown") + strings.Join(missing, ", ")
	}

	markLines, markAreas, refRows := referenceMarks(refs, l)
	gridTop := 60 + 16*strings.Count(subtitle, "\n") + 16*refRows
	js := chartScripts(l)
	c := gocharts.NewBar()
	c.SetGlobalOptions(
		// go-echarts points at a CDN and draws random ids unless told otherwise. Its page
		// template is not used (report.html and the figures inline the library), but the
		// settings are pinned all the same so that nothing it emits can reach the network
		// or vary between runs.
		gocharts.WithInitializationOpts(opts.Initialization{ChartID: id, AssetsHost: "./", Renderer: "svg",
			Width: strconv.Itoa(chartWidth) + "px", Height: strconv.Itoa(chartHeight) + "px", BackgroundColor: "#ffffff"}),
		gocharts.WithAnimation(false),
		gocharts.WithTitleOpts(opts.Title{Title: title, Subtitle: subtitle, Left: "8", Top: "4",
			TitleStyle:    &opts.TextStyle{FontSize: 16, FontWeight: "bold", Color: "#1a1a1a"},
			SubtitleStyle: &opts.TextStyle{FontSize: 12, Color: "#444444"}}),
		gocharts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		gocharts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item", Formatter: opts.FuncOpts(js.tooltip)}),
		gocharts.WithToolboxOpts(opts.Toolbox{Show: opts.Bool(false)}),
		gocharts.WithGridOpts(opts.Grid{Left: "12", Right: "72", Top: strconv.Itoa(gridTop), Bottom: "28", ContainLabel: opts.Bool(true)}),
		gocharts.WithXAxisOpts(opts.XAxis{Type: "value", Min: 0, Max: 100, SplitNumber: 5,
			AxisLabel: &opts.AxisLabel{Formatter: opts.FuncOpts(js.axis)}}),
		gocharts.WithYAxisOpts(opts.YAxis{Type: "category", Inverse: opts.Bool(true),
			AxisLabel: &opts.AxisLabel{Interval: "0", Width: 150, Overflow: "break", FontSize: 12, Color: "#333333"}}),
	)
	c.Accept(chartVisitor{})
	c.SetXAxis(cats).XYReversal()

	c.AddSeries(l.T("report.chart.share"), data,
		gocharts.WithEncodeOpts(opts.Encode{X: chartValueP, Y: 0}),
		gocharts.WithSeriesOpts(func(s *gocharts.SingleSeries) {
			s.BarMaxWidth = "34"
			s.BarCategoryGap = "35%"
			s.MarkLines = markLines
			s.MarkAreas = markAreas
		}),
	)
	errs := gocharts.NewCustom()
	errs.AddSeries(l.T("report.ci"), whiskers,
		gocharts.WithCustomChartOpts(opts.CustomChart{RenderItem: opts.FuncOpts(js.errorBar)}),
		gocharts.WithEncodeOpts(opts.Encode{X: []int{chartValueLow, chartValueHigh}, Y: 0}),
	)
	c.Overlap(errs)
	c.Validate()
	options, err := json.Marshal(c.JSON())
	if err != nil {
		return chartSpec{}, err
	}
	return chartSpec{Chart: Chart{ID: id, Title: title, Options: options},
		caption: strings.Split(subtitle, "\n"), pageTop: 20 + 16*refRows}, nil
}

// chartVisitor adds the options go-echarts has no field for.
type chartVisitor struct {
	gocharts.BaseConfigurationVisitor
}

// Visit sets one font for every text, so that figures look alike on every machine.
func (chartVisitor) Visit(chart map[string]any) {
	chart["textStyle"] = map[string]any{"fontFamily": chartFont}
}

// referenceMarks draws the reference values: a line for a single value, a shaded band for
// a range, each labelled as a reference above the plot, with its population and source
// for the tooltip. Labels of close values are stacked; rows is the number of label rows.
// (The category axis is inverted, so a line starts at the top.)
func referenceMarks(refs []Reference, l words.Lang) (ml *opts.MarkLines, ma *opts.MarkAreas, rows int) {
	nf := reportNumberFormats[l]
	var lines, areas []any
	for i, r := range refs {
		label := fmt.Sprintf("%s (%d)%s%s", l.T("report.reference"), r.Year, nf.colon, nf.refRange(r.Low, r.High))
		item := map[string]any{"name": label, "population": r.Population.In(string(l)), "source": r.Source, "xAxis": r.Low}
		row := 0
		for _, prev := range refs[:i] {
			if math.Abs(prev.Low-r.Low) < 30 {
				row = i
			}
		}
		rows = max(rows, row+1)
		if r.Low == r.High {
			item["label"] = map[string]any{"formatter": label, "position": "start", "offset": []int{0, -14 * row}}
			lines = append(lines, item)
			continue
		}
		item["label"] = map[string]any{"show": true, "formatter": label, "position": "top", "offset": []int{0, -14 * row},
			"color": "#8e2f25", "fontSize": 11}
		areas = append(areas, []any{item, map[string]any{"xAxis": r.High}})
	}
	if len(lines) > 0 {
		ml = &opts.MarkLines{Data: lines, MarkLineStyle: opts.MarkLineStyle{Symbol: []string{"none", "none"},
			Label:     &opts.Label{Show: opts.Bool(true), Color: "#8e2f25", FontSize: 11},
			LineStyle: &opts.LineStyle{Color: "#b03a2e", Width: 2, Type: "dashed"}}}
	}
	if len(areas) > 0 {
		ma = &opts.MarkAreas{Data: areas, MarkAreaStyle: opts.MarkAreaStyle{
			ItemStyle: &opts.ItemStyle{Color: "rgba(176,58,46,0.10)", BorderColor: "#b03a2e", BorderWidth: 1}}}
	}
	return ml, ma, rows
}

// chartJS are the JavaScript functions of a chart.
type chartJS struct{ axis, tooltip, errorBar string }

// chartScripts returns the functions that format numbers in the report's language with
// Intl.NumberFormat (ECharts itself would write English numbers), draw the error bars and
// fill the tooltips. They read the bar values laid out as described at chartValueP. Intl writes
// a narrow no-break space in French; it is replaced by the no-break space of the tables.
func chartScripts(l words.Lang) chartJS {
	nf := reportNumberFormats[l]
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	num := `function(v,d){return new Intl.NumberFormat(` + q(nf.jsLocale) + `,{minimumFractionDigits:d,maximumFractionDigits:d}).format(v).replace(/\u202f/g,'\u00a0');}`
	pct := `function(v){return (` + num + `)(v,1)+` + q(nf.pctSep+"%") + `;}`
	esc := `function(s){return String(s==null?'':s).replace(/[&<>"']/g,function(c){return '&#'+c.charCodeAt(0)+';';});}`
	var js chartJS
	js.axis = `function(v){return (` + num + `)(v,0)+` + q(nf.pctSep+"%") + `;}`
	js.tooltip = `function(p){var num=` + num + `,pct=` + pct + `,esc=` + esc + `;var d=p.data||{};` +
		`if(p.componentType==='markLine'||p.componentType==='markArea'){return '<b>'+esc(d.name)+'<\/b><br>'+esc(d.population)+'<br>'+` + q(l.T("report.source")+nf.colon) + `+esc(d.source);}` +
		`var v=p.value||d.value;if(!v){return '';}` +
		`var s='<b>'+esc(d.name||p.name)+'<\/b><br>'+pct(v[` + strconv.Itoa(chartValueP) + `])+(v[` + strconv.Itoa(chartValueLowRel) + `]?' *':'');` +
		`s+='<br>'+` + q(l.T("report.ci")+nf.colon) + `+num(v[` + strconv.Itoa(chartValueLow) + `],1)+'\u2013'+pct(v[` + strconv.Itoa(chartValueHigh) + `]);` +
		`var c=[];if(v[` + strconv.Itoa(chartValueN) + `]>=0){c.push(` + q("n = ") + `+num(v[` + strconv.Itoa(chartValueN) + `],0));}` +
		`if(v[` + strconv.Itoa(chartValueDen) + `]>=0){c.push(` + q("N = ") + `+num(v[` + strconv.Itoa(chartValueDen) + `],0));}` +
		`if(c.length){s+='<br>'+c.join(', ');}` +
		`if(v[` + strconv.Itoa(chartValueLowRel) + `]){s+='<br>* '+` + q(l.T("report.low_reliability")) + `;}return s;}`
	js.errorBar = `function(params,api){var pct=` + pct + `;` +
		`var y=api.value(0),a=api.coord([api.value(` + strconv.Itoa(chartValueLow) + `),y]),b=api.coord([api.value(` + strconv.Itoa(chartValueHigh) + `),y]);` +
		`var h=Math.max(3,api.size([0,1])[1]*0.16),st={stroke:'#222222',lineWidth:1.5};` +
		`var t=pct(api.value(` + strconv.Itoa(chartValueP) + `))+(api.value(` + strconv.Itoa(chartValueLowRel) + `)?' *':'');` +
		`return {type:'group',children:[` +
		`{type:'line',z2:10,shape:{x1:a[0],y1:a[1],x2:b[0],y2:b[1]},style:st},` +
		`{type:'line',z2:10,shape:{x1:a[0],y1:a[1]-h,x2:a[0],y2:a[1]+h},style:st},` +
		`{type:'line',z2:10,shape:{x1:b[0],y1:b[1]-h,x2:b[0],y2:b[1]+h},style:st},` +
		`{type:'text',z2:10,x:b[0]+6,y:b[1],style:{text:t,verticalAlign:'middle',align:'left',fill:'#1a1a1a',fontSize:12,fontFamily:` + q(chartFont) + `}}]};}`
	return js
}

// chartFuncPattern matches a JSON string holding a go-echarts function ("__f__…__f__").
var chartFuncPattern = regexp.MustCompile(`"__f__(?:[^"\\]|\\.)*?__f__"`)

// chartOptionScript turns the JSON options of a chart into a JavaScript object literal: the
// function strings become code. The result is safe inside a <script> element: the JSON is
// HTML-escaped by encoding/json, and the functions are ours and hold no "</".
func chartOptionScript(options json.RawMessage) (string, error) {
	var err error
	out := chartFuncPattern.ReplaceAllFunc(options, func(m []byte) []byte {
		var code string
		if e := json.Unmarshal(m, &code); e != nil {
			err = e
			return m
		}
		code = strings.TrimSuffix(strings.TrimPrefix(code, "__f__"), "__f__")
		if strings.Contains(code, "</") || strings.Contains(code, "<!--") {
			err = fmt.Errorf("reports: chart function holds %q", "</")
			return m
		}
		return []byte(code)
	})
	if err != nil {
		return "", err
	}
	if bytes.Contains(out, []byte("__f__")) {
		return "", fmt.Errorf("reports: chart options hold an unconverted function")
	}
	return string(out), nil
}

// reportNumbers writes numbers as the report's language does: "52,8 %" and "1 234" in
// French (with no-break spaces), "52,8%" and "1.234" in Dutch, "52.8%" and "1,234" in English.
//
// These are typography, not words, so they stay here rather than in the catalogue of
// words: nobody translates them, a catalogue key would hold "," in two languages and "."
// in the third (the drift its tests refuse), and they must agree with jsLocale, which
// the charts' Intl.NumberFormat uses. The words around them come from the catalogue.
type reportNumbers struct {
	decimal  string
	group    string
	pctSep   string // between a number and "%"
	colon    string // before a colon: French puts a space there
	jsLocale string // for Intl.NumberFormat
	docLang  string // the language tag of the workbook's properties
}

var reportNumberFormats = map[words.Lang]reportNumbers{
	words.FR: {decimal: ",", group: "\u00a0", pctSep: "\u00a0", colon: "\u00a0: ", jsLocale: "fr-FR", docLang: "fr-BE"},
	words.NL: {decimal: ",", group: ".", colon: ": ", jsLocale: "nl-BE", docLang: "nl-BE"},
	words.EN: {decimal: ".", group: ",", colon: ": ", jsLocale: "en-GB", docLang: "en"},
}

// reportLanguage reads the language an output is asked for, in the one way every output
// does: words.Parse with French as the default. A language other than fr, nl or en is
// an error, never a silent French.
func reportLanguage(lang string) (words.Lang, error) {
	return words.Parse(lang, words.FR)
}

// int writes a count with thousands separators.
func (nf reportNumbers) int(v int) string {
	s := strconv.Itoa(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(nf.group)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// decimal1 writes a percentage value with one decimal ("52,8").
func (nf reportNumbers) decimal1(v float64) string {
	return strings.Replace(strconv.FormatFloat(v, 'f', 1, 64), ".", nf.decimal, 1)
}

// share writes a proportion (0–1) as a percentage with one decimal, as the CSV does.
func (nf reportNumbers) share(p float64) string {
	return nf.decimal1(chartPercent(p)) + nf.pctSep + "%"
}

// interval writes a Wilson interval as "45,1–60,2 %".
func (nf reportNumbers) interval(low, high float64) string {
	return nf.decimal1(chartPercent(low)) + "\u2013" + nf.decimal1(chartPercent(high)) + nf.pctSep + "%"
}

// refRange writes a reference value, given in percent with its own precision: "51–69 %",
// "36,1 %".
func (nf reportNumbers) refRange(low, high float64) string {
	f := func(v float64) string {
		if v == math.Trunc(v) {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return strings.Replace(strconv.FormatFloat(v, 'f', -1, 64), ".", nf.decimal, 1)
	}
	if low == high {
		return f(low) + nf.pctSep + "%"
	}
	return f(low) + "\u2013" + f(high) + nf.pctSep + "%"
}
