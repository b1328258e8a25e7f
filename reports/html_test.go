package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports/assets"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// htmlTestSiteNames are the names of the fixture's sites, so that tables and charts show
// names as in a real release.
var htmlTestSiteNames = map[string]Text{
	"haren":     {FR: "Haren", NL: "Haren", EN: "Haren"},
	"lantin":    {FR: "Lantin", NL: "Lantin", EN: "Lantin"},
	"antwerpen": {FR: "Anvers", NL: "Antwerpen", EN: "Antwerp"},
	"dinant":    {FR: "Dinant", NL: "Dinant", EN: "Dinant"},
	"namur":     {FR: "Namur", NL: "Namen", EN: "Namur"},
}

// htmlTestFigures is the fixture release with site names, and with the "yes" answers of
// I01 at Antwerp brought down to two, so that a site of a chart is suppressed (primary)
// and another one with it (secondary).
func htmlTestFigures(t testing.TB) *Figures {
	t.Helper()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	src := fixtureSource(t, cat)
	yes := 0
	for i := range src.people {
		p := &src.people[i]
		for j, c := range p.cells {
			if c.Indicator == "I01" && c.Site == "antwerpen" {
				p.cells[j].Num = 0
				if yes < 2 && c.Den > 0 {
					p.cells[j].Num = 1
					yes++
				}
			}
		}
	}
	r, err := Make(context.Background(), src, cat, nil, MakeOptions{Year: 2025, Sites: fixtureSites, Policy: testPolicy(t),
		CutOff: fixtureCutOff, Now: fixtureCutOff, Rand: fixedRand()})
	if err != nil {
		t.Fatalf("Make(fixture) error: %v", err)
	}
	f, err := r.View(cat, AllGroup, htmlTestSiteNames)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func writeTestHTML(t testing.TB, f *Figures, lang string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, f, HTMLOptions{Lang: lang}); err != nil {
		t.Fatalf("WriteHTML(%q) error: %v", lang, err)
	}
	return buf.Bytes()
}

func parseTestHTML(t testing.TB, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("html.Parse(report.html) error: %v", err)
	}
	return doc
}

// htmlAll returns the elements under n for which match is true, in document order.
func htmlAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

func htmlAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func htmlHasClass(n *html.Node, class string) bool {
	v, _ := htmlAttr(n, "class")
	return slices.Contains(strings.Fields(v), class)
}

func htmlTextOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// TestWriteHTMLOffline checks that the page can fetch nothing: no element points at
// another file, the library is inlined byte for byte, and the CSP forbids the network.
func TestWriteHTMLOffline(t *testing.T) {
	f := htmlTestFigures(t)
	page := writeTestHTML(t, f, "fr")
	doc := parseTestHTML(t, page)
	external := regexp.MustCompile(`(?i)^\s*(https?:|//|ftp:|file:|[a-z][a-z0-9+.-]*:)`)
	for _, n := range htmlAll(doc, func(*html.Node) bool { return true }) {
		switch n.DataAtom {
		case atom.Link, atom.Iframe, atom.Object, atom.Embed, atom.Img, atom.Audio, atom.Video, atom.Source, atom.Base, atom.Form:
			t.Errorf("report.html has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			switch strings.ToLower(a.Key) {
			case "src", "srcset", "data", "poster", "action", "formaction", "background", "ping":
				t.Errorf("<%s %s=%q>: report.html must not load anything", n.Data, a.Key, a.Val)
			case "href":
				if !strings.HasPrefix(a.Val, "#") || external.MatchString(a.Val) {
					t.Errorf("<%s href=%q>: only links within the page are allowed", n.Data, a.Val)
				}
			case "style":
				if strings.Contains(a.Val, "url(") {
					t.Errorf("<%s style=%q> loads a resource", n.Data, a.Val)
				}
			}
		}
	}
	styles := htmlAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Style })
	for _, s := range styles {
		if css := htmlTextOf(s); strings.Contains(css, "url(") || strings.Contains(css, "@import") || strings.Contains(css, "@font-face") {
			t.Errorf("the style sheet loads a resource")
		}
	}

	var csp string
	for _, m := range htmlAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Meta }) {
		if v, _ := htmlAttr(m, "http-equiv"); strings.EqualFold(v, "Content-Security-Policy") {
			csp, _ = htmlAttr(m, "content")
		}
	}
	if want := "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"; csp != want {
		t.Errorf("Content-Security-Policy = %q, want %q", csp, want)
	}

	scripts := htmlAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Script })
	if len(scripts) != 2 {
		t.Fatalf("report.html has %d <script> elements, want 2 (the library, the charts)", len(scripts))
	}
	// The parser turns the library's few CRLF into LF, as a browser does.
	lib := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(assets.EChartsJS))
	if got := htmlTextOf(scripts[0]); got != lib || !bytes.Contains(page, assets.EChartsJS) {
		t.Errorf("the first <script> is not the embedded ECharts library (%d bytes, want %d)", len(got), len(lib))
	}
	if !bytes.Contains(assets.EChartsJS, []byte(`version="5.4.3"`)) && !bytes.Contains(assets.EChartsJS, []byte(`"5.4.3"`)) {
		t.Errorf("the embedded library is not ECharts 5.4.3 (run npm ci in reports/assets)")
	}
	boot := htmlTextOf(scripts[1])
	if strings.Contains(boot, "__f__") {
		t.Errorf("the chart script holds an unconverted go-echarts function marker")
	}
	if strings.Contains(string(page), "go-echarts-assets") || strings.Contains(string(page), "cdn") {
		t.Errorf("report.html mentions a CDN")
	}
}

// TestWriteHTMLCharts checks that every family has one chart container, with its pinned
// id, drawn by the page script.
func TestWriteHTMLCharts(t *testing.T) {
	f := htmlTestFigures(t)
	doc := parseTestHTML(t, writeTestHTML(t, f, "fr"))
	boot := htmlTextOf(htmlAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Script })[1])
	for _, fam := range declaredFamilies(f.Catalog) {
		sections := htmlAll(doc, func(n *html.Node) bool {
			id, _ := htmlAttr(n, "id")
			return n.DataAtom == atom.Section && id == fam.ID
		})
		if len(sections) != 1 {
			t.Errorf("family %s: %d sections, want 1", fam.ID, len(sections))
			continue
		}
		containers := htmlAll(sections[0], func(n *html.Node) bool { return htmlHasClass(n, "chart") })
		if len(containers) != 1 {
			t.Errorf("family %s: %d chart containers, want 1", fam.ID, len(containers))
			continue
		}
		id, _ := htmlAttr(containers[0], "id")
		if want := "chart-" + fam.ID; id != want {
			t.Errorf("family %s: chart id = %q, want %q", fam.ID, id, want)
		}
		if !strings.Contains(boot, `id:"`+id+`"`) {
			t.Errorf("family %s: the page script does not draw %s", fam.ID, id)
		}
		if label, _ := htmlAttr(containers[0], "aria-label"); label == "" {
			t.Errorf("family %s: the chart has no aria-label", fam.ID)
		}
	}
	if got, want := len(htmlAll(doc, func(n *html.Node) bool { return htmlHasClass(n, "chart") })), len(declaredFamilies(f.Catalog)); got != want {
		t.Errorf("report.html has %d chart containers, want %d (one per family)", got, want)
	}
}

// htmlWantRow is what a table row must show for r: the mark "x" wherever f says the value
// is suppressed, whatever the reason.
func htmlWantRow(r Row, nf reportNumbers) []string {
	count := func(n Number) string {
		if v, ok := n.Value(); ok {
			return nf.int(v)
		}
		return "x"
	}
	out := []string{count(r.Numerator), count(r.Denominator)}
	est, ok := r.Share.Estimate()
	switch {
	case ok && r.Share.Status() == disclosure.LowReliability:
		out = append(out, nf.share(est.P)+"*", nf.interval(est.Low, est.High))
	case ok:
		out = append(out, nf.share(est.P), nf.interval(est.Low, est.High))
	case r.Share.Status() == disclosure.Empty:
		out = append(out, "–", "–")
	default:
		out = append(out, "x", "x")
	}
	return out
}

func htmlCells(tr *html.Node) []string {
	var out []string
	for _, td := range htmlAll(tr, func(n *html.Node) bool { return n.DataAtom == atom.Td }) {
		out = append(out, htmlTextOf(td))
	}
	return out
}

// TestWriteHTMLTables checks every table cell against the protected figures: the same
// numbers, "x" exactly where a value is suppressed, the low-reliability mark where due,
// and no published count between 0 and k.
func TestWriteHTMLTables(t *testing.T) {
	f := htmlTestFigures(t)
	for _, lang := range []string{"fr", "nl", "en"} {
		t.Run(lang, func(t *testing.T) {
			nf := reportNumberFormats[words.Lang(lang)]
			doc := parseTestHTML(t, writeTestHTML(t, f, lang))
			tables := map[string]*html.Node{}
			for _, tb := range htmlAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Table }) {
				ind, _ := htmlAttr(tb, "data-indicator")
				dim, _ := htmlAttr(tb, "data-breakdown")
				tables[ind+"/"+dim] = tb
				if len(htmlAll(tb, func(n *html.Node) bool { return n.DataAtom == atom.Caption })) != 1 {
					t.Errorf("table %s/%s has no caption", ind, dim)
				}
			}
			rowsOf := func(tb *html.Node, parent atom.Atom) []*html.Node {
				var out []*html.Node
				for _, p := range htmlAll(tb, func(n *html.Node) bool { return n.DataAtom == parent }) {
					out = append(out, htmlAll(p, func(n *html.Node) bool { return n.DataAtom == atom.Tr })...)
				}
				return out
			}
			suppressed := 0
			for _, ind := range f.Indicator {
				for _, b := range ind.Breakdowns {
					if b.Dim == Total {
						continue
					}
					tb := tables[ind.ID+"/"+b.Dim]
					if tb == nil {
						t.Errorf("no table for %s by %s", ind.ID, b.Dim)
						continue
					}
					body := rowsOf(tb, atom.Tbody)
					if len(body) != len(b.Rows) {
						t.Errorf("table %s/%s: %d rows, want %d", ind.ID, b.Dim, len(body), len(b.Rows))
						continue
					}
					for i, r := range b.Rows {
						if g, _ := htmlAttr(body[i], "data-group"); g != r.Group {
							t.Errorf("table %s/%s row %d: group %q, want %q", ind.ID, b.Dim, i, g, r.Group)
						}
						want := htmlWantRow(r, nf)
						if got := htmlCells(body[i]); !slices.Equal(got, want) {
							t.Errorf("table %s/%s group %s = %q, want %q", ind.ID, b.Dim, r.Group, got, want)
						}
						for _, c := range want {
							if c == "x" {
								suppressed++
							}
						}
					}
					foot := rowsOf(tb, atom.Tfoot)
					if len(foot) != 1 {
						t.Errorf("table %s/%s: %d total rows, want 1", ind.ID, b.Dim, len(foot))
					} else if got, want := htmlCells(foot[0]), htmlWantRow(ind.Total(), nf); !slices.Equal(got, want) {
						t.Errorf("table %s/%s total = %q, want %q", ind.ID, b.Dim, got, want)
					}
				}
			}
			summary := tables["/"+Total]
			if summary == nil {
				t.Fatalf("no summary table")
			}
			for i, tr := range rowsOf(summary, atom.Tbody) {
				ind := f.Indicator[i]
				if g, _ := htmlAttr(tr, "data-group"); g != ind.ID {
					t.Errorf("summary row %d is %q, want %s", i, g, ind.ID)
				}
				if got, want := htmlCells(tr), htmlWantRow(ind.Total(), nf); !slices.Equal(got, want) {
					t.Errorf("summary %s = %q, want %q", ind.ID, got, want)
				}
			}
			if suppressed == 0 {
				t.Fatalf("the test release has no suppressed cell: the test proves nothing")
			}
			for _, ct := range f.Entrants {
				tb := tables["I19/"+ct.RowDim+"+"+ct.ColDim]
				if tb == nil {
					t.Errorf("no table of entrants by %s and %s", ct.RowDim, ct.ColDim)
					continue
				}
				cells := map[string]string{}
				for _, td := range htmlAll(tb, func(n *html.Node) bool { return n.DataAtom == atom.Td }) {
					g, _ := htmlAttr(td, "data-group")
					cells[g] = htmlTextOf(td)
				}
				check := func(group string, n Number) {
					want := "x"
					if v, ok := n.Value(); ok {
						want = nf.int(v)
					}
					if got := cells[group]; got != want {
						t.Errorf("entrants %s+%s cell %s = %q, want %q", ct.RowDim, ct.ColDim, group, got, want)
					}
				}
				for r, row := range ct.Rows {
					for c, col := range ct.Cols {
						check(row+"+"+col, ct.Cells[r][c])
					}
					check(row+"+total", ct.RowTotals[r])
				}
				for c, col := range ct.Cols {
					check("total+"+col, ct.ColTotals[c])
				}
				check("total+total", ct.Total)
			}

			// R5: no count between 0 and k in any table, whatever the column.
			k := f.Config.K
			digits := regexp.MustCompile(`^[0-9][0-9., \x{a0}]*$`)
			for _, tb := range tables {
				heads := htmlAll(tb, func(n *html.Node) bool { return n.DataAtom == atom.Th && htmlAttrIs(n, "scope", "col") })
				for _, tr := range htmlAll(tb, func(n *html.Node) bool { return n.DataAtom == atom.Tr }) {
					for i, td := range htmlAll(tr, func(n *html.Node) bool { return n.DataAtom == atom.Td }) {
						if i+1 < len(heads) && strings.Contains(htmlTextOf(heads[i+1]), "%") || strings.Contains(htmlTextOf(td), "%") {
							continue // a share, not a count
						}
						s := htmlTextOf(td)
						if !digits.MatchString(s) {
							continue
						}
						v, err := strconv.Atoi(strings.NewReplacer(".", "", ",", "", " ", "", "\u00a0", "").Replace(s))
						if err != nil {
							t.Errorf("count cell %q does not parse", s)
							continue
						}
						if v > 0 && v < k {
							t.Errorf("a table publishes the count %d, below k = %d", v, k)
						}
					}
				}
			}
		})
	}
}

func htmlAttrIs(n *html.Node, key, val string) bool {
	v, ok := htmlAttr(n, key)
	return ok && v == val
}

// TestWriteHTMLNumberFormat checks the numbers are written as each language writes them.
func TestWriteHTMLNumberFormat(t *testing.T) {
	f := htmlTestFigures(t)
	ind, _ := f.Find("I01")
	est, ok := ind.Total().Share.Estimate()
	if !ok {
		t.Fatal("the fixture's I01 total is not published")
	}
	pct := strconv.FormatFloat(chartPercent(est.P), 'f', 1, 64) // "52.8"
	comma := strings.Replace(pct, ".", ",", 1)
	for _, tc := range []struct {
		lang, want, notWant string
	}{
		{"fr", comma + "\u00a0%", pct + "%"},
		{"nl", comma + "%", pct + "%"},
		{"en", pct + "%", comma + "%"},
	} {
		page := string(writeTestHTML(t, f, tc.lang))
		body := page[strings.Index(page, "<main>"):strings.Index(page, "</main>")]
		if !strings.Contains(body, tc.want) {
			t.Errorf("WriteHTML(%s) does not write the I01 total as %q", tc.lang, tc.want)
		}
		if strings.Contains(body, tc.notWant) {
			t.Errorf("WriteHTML(%s) writes %q", tc.lang, tc.notWant)
		}
		if !strings.Contains(page, `<html lang="`+tc.lang+`">`) {
			t.Errorf("WriteHTML(%s) does not declare its language", tc.lang)
		}
	}
	for _, tc := range []struct {
		lang string
		n    int
		want string
	}{
		{"fr", 1234, "1\u00a0234"}, {"nl", 1234, "1.234"}, {"en", 1234567, "1,234,567"}, {"fr", 999, "999"}, {"en", 0, "0"},
	} {
		if got := reportNumberFormats[words.Lang(tc.lang)].int(tc.n); got != tc.want {
			t.Errorf("int(%s, %d) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		lang      string
		low, high float64
		want      string
	}{
		{"fr", 51, 69, "51–69\u00a0%"}, {"fr", 36.1, 36.1, "36,1\u00a0%"}, {"nl", 51.2, 51.2, "51,2%"}, {"en", 51.2, 75, "51.2–75%"},
	} {
		if got := reportNumberFormats[words.Lang(tc.lang)].refRange(tc.low, tc.high); got != tc.want {
			t.Errorf("refRange(%s, %g, %g) = %q, want %q", tc.lang, tc.low, tc.high, got, tc.want)
		}
	}
}

// TestWriteHTMLReferences checks reference values stand apart from our columns.
func TestWriteHTMLReferences(t *testing.T) {
	f := htmlTestFigures(t)
	doc := parseTestHTML(t, writeTestHTML(t, f, "fr"))
	asides := htmlAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Aside && htmlHasClass(n, "ref") })
	if len(asides) != len(f.Catalog.References) {
		t.Errorf("report.html has %d reference boxes, want %d", len(asides), len(f.Catalog.References))
	}
	for _, a := range asides {
		text := htmlTextOf(a)
		if !strings.Contains(text, "Référence\u00a0: ") || !strings.Contains(text, "Source\u00a0: ") {
			t.Errorf("reference box %q is not labelled as a reference with its source", text)
		}
		if len(htmlAll(a, func(n *html.Node) bool { return n.DataAtom == atom.Table })) > 0 {
			t.Errorf("a reference box holds a table")
		}
	}
	for _, tb := range htmlAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Table }) {
		if strings.Contains(htmlTextOf(tb), "Référence") {
			t.Errorf("a table mixes a reference value into our columns")
		}
	}
	if !strings.Contains(htmlTextOf(doc), "Référence\u00a0: 51–69\u00a0%") {
		t.Errorf("the I01 reference range is not written as %q", "Référence : 51–69 %")
	}
}

// TestWriteHTMLDeterministic checks the same release gives the same bytes.
func TestWriteHTMLDeterministic(t *testing.T) {
	for _, lang := range []string{"fr", "en"} {
		a := writeTestHTML(t, htmlTestFigures(t), lang)
		b := writeTestHTML(t, htmlTestFigures(t), lang)
		if !bytes.Equal(a, b) {
			i := 0
			for i < len(a) && i < len(b) && a[i] == b[i] {
				i++
			}
			t.Errorf("WriteHTML(%s) differs between two runs at byte %d: %q", lang, i, a[max(0, i-40):min(len(a), i+40)])
		}
	}
	if err := WriteHTML(&bytes.Buffer{}, htmlTestFigures(t), HTMLOptions{Lang: "de"}); err == nil {
		t.Errorf("WriteHTML(lang de) = nil error, want an unsupported-language error")
	}
}

// htmlTestChartBars returns the labels and values of the bars of a chart.
func htmlTestChartBars(t *testing.T, c Chart) (labels []string, values [][]float64, option map[string]any) {
	t.Helper()
	if err := json.Unmarshal(c.Options, &option); err != nil {
		t.Fatalf("chart %s: options are not JSON: %v", c.ID, err)
	}
	var o struct {
		Series []struct {
			Type string `json:"type"`
			Data []struct {
				Name  string    `json:"name"`
				Value []float64 `json:"value"`
			} `json:"data"`
		} `json:"series"`
	}
	if err := json.Unmarshal(c.Options, &o); err != nil {
		t.Fatalf("chart %s: %v", c.ID, err)
	}
	if len(o.Series) == 0 || o.Series[0].Type != "bar" {
		t.Fatalf("chart %s: the first series is not the bars", c.ID)
	}
	for _, d := range o.Series[0].Data {
		labels = append(labels, d.Name)
		values = append(values, d.Value)
	}
	return labels, values, option
}

// testCharts returns the charts of f in lang, failing the test on an error.
func testCharts(t *testing.T, f *Figures, lang string) []Chart {
	t.Helper()
	charts, err := Charts(f, lang)
	if err != nil {
		t.Fatalf("Charts(%q) error: %v", lang, err)
	}
	return charts
}

// TestCharts checks the chart specifications: pinned ids, no animation, only published
// shares plotted with the table's digits, suppressed groups left out and named, and the
// references marked.
func TestCharts(t *testing.T) {
	f := htmlTestFigures(t)
	charts := testCharts(t, f, "fr")
	if _, err := Charts(f, "de"); err == nil {
		t.Error(`Charts(f, "de") error = nil, want an unknown language refused`)
	}
	fams := declaredFamilies(f.Catalog)
	if len(charts) != len(fams) {
		t.Fatalf("Charts = %d charts, want %d (one per declared family)", len(charts), len(fams))
	}
	for i, c := range charts {
		fam := fams[i]
		if want := "chart-" + fam.ID; c.ID != want {
			t.Errorf("chart %d id = %q, want %q", i, c.ID, want)
		}
		labels, values, option := htmlTestChartBars(t, c)
		if option["animation"] != false {
			t.Errorf("chart %s: animation = %v, want false", c.ID, option["animation"])
		}
		if strings.Contains(string(c.Options), "http") {
			t.Errorf("chart %s: the options hold a URL", c.ID)
		}
		// The expected bars, from the figures.
		var wantLabels []string
		var wantRows []Row
		var hidden []string
		add := func(r Row, label string) {
			if _, ok := r.Share.Estimate(); ok {
				wantLabels = append(wantLabels, label)
				wantRows = append(wantRows, r)
			} else if r.Share.Status() != disclosure.Empty {
				hidden = append(hidden, label)
			}
		}
		var members []IndicatorFigures
		for _, ind := range f.Indicator {
			if ind.Family == fam.ID {
				members = append(members, ind)
			}
		}
		if chartsParts(fam.ID) {
			for _, m := range members {
				add(m.Total(), m.Short.FR)
			}
		} else {
			add(members[0].Total(), "Total")
			for _, b := range members[0].Breakdowns {
				if b.Dim == DimSite {
					for _, r := range b.Rows {
						add(r, f.Label(DimSite, r.Group, "fr"))
					}
				}
			}
		}
		if !slices.Equal(labels, wantLabels) {
			t.Errorf("chart %s bars = %q, want %q", c.ID, labels, wantLabels)
			continue
		}
		for j, r := range wantRows {
			est, _ := r.Share.Estimate()
			want := []float64{float64(j), chartPercent(est.P), chartPercent(est.Low), chartPercent(est.High)}
			if !slices.Equal(values[j][:4], want) {
				t.Errorf("chart %s bar %s = %v, want %v", c.ID, labels[j], values[j][:4], want)
			}
		}
		title, _ := option["title"].(map[string]any)
		subtitle, _ := title["subtext"].(string)
		for _, h := range hidden {
			if !strings.Contains(subtitle, h) {
				t.Errorf("chart %s: suppressed group %s is not named in the subtitle %q", c.ID, h, subtitle)
			}
		}
	}

	// The release was made so that Antwerp is suppressed in I01.
	i01 := charts[0]
	labels, _, _ := htmlTestChartBars(t, i01)
	if slices.Contains(labels, "Anvers") {
		t.Errorf("chart-I01 plots Anvers, whose I01 share is suppressed")
	}
	if !strings.Contains(string(i01.Options), "Non représentés (x)\u00a0: Anvers") && !strings.Contains(string(i01.Options), "Non représentés (x) : Anvers") {
		t.Errorf("chart-I01 does not name the suppressed group")
	}
	if !strings.Contains(string(i01.Options), `"markArea"`) || !strings.Contains(string(i01.Options), "Référence (2021)\u00a0: 51–69\u00a0%") {
		t.Errorf("chart-I01 does not mark the reference range 51–69 %%")
	}
	i15 := charts[14]
	if n := strings.Count(string(i15.Options), `"source":`); n != 2 {
		t.Errorf("chart-I15 has %d references with a source, want 2", n)
	}

	// The same release gives the same options.
	again := testCharts(t, htmlTestFigures(t), "fr")
	for i := range charts {
		if !bytes.Equal(charts[i].Options, again[i].Options) {
			t.Errorf("Charts: %s differs between two runs", charts[i].ID)
		}
	}
}

// TestChartOptionScript checks the go-echarts function strings become JavaScript code.
func TestChartOptionScript(t *testing.T) {
	in := json.RawMessage(`{"a":"__f__function(v){return v+\"\u00a0%\";}__f__","b":"x"}`)
	got, err := chartOptionScript(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":function(v){return v+"` + "\u00a0" + `%";},"b":"x"}`; got != want {
		t.Errorf("chartOptionScript = %s, want %s", got, want)
	}
	if _, err := chartOptionScript(json.RawMessage(`{"a":"__f__function(){return '\u003c/script>';}__f__"}`)); err == nil {
		t.Errorf("chartOptionScript accepted a function holding </script>")
	}
}
