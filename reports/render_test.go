package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tamtam-ngo/tamtam/collector/words"
)

// requireBrowser fails the test when Chromium is missing: the browser tests are part of
// make test, never skipped.
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := findBrowser(); err != nil {
		t.Fatalf("%v: the browser tests need it; run apt-get install chromium", err)
	}
}

// pageEvents records what a page does that a report must not: requests, exceptions,
// console and browser errors (a Content-Security-Policy violation is one).
type pageEvents struct {
	mu         sync.Mutex
	requests   []string
	failed     []string
	exceptions []string
	errors     []string
}

func (e *pageEvents) listen(ev any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		e.requests = append(e.requests, ev.Request.URL)
	case *network.EventLoadingFailed:
		e.failed = append(e.failed, strings.TrimSpace(ev.ErrorText+" "+string(ev.BlockedReason)))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		e.exceptions = append(e.exceptions, fmt.Sprintf("%s (line %d)", msg, d.LineNumber+1))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			e.errors = append(e.errors, "console."+string(ev.Type))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			e.errors = append(e.errors, string(ev.Entry.Source)+": "+ev.Entry.Text)
		}
	}
}

// chartState is what the page's charts look like once drawn.
type chartState struct {
	ID       string `json:"id"`
	Instance bool   `json:"instance"`
	Series   int    `json:"series"`
	Bars     int    `json:"bars"`
	SVG      bool   `json:"svg"`
	Shapes   int    `json:"shapes"`
	Width    int    `json:"width"`
}

const chartStateJS = `Array.prototype.map.call(document.querySelectorAll('.chart'), function (el) {
  var c = echarts.getInstanceByDom(el), o = c ? c.getOption() : null, svg = el.querySelector('svg');
  return {id: el.id, instance: !!c, series: o ? o.series.length : 0,
    bars: o && o.series.length ? o.series[0].data.length : 0,
    svg: !!svg, shapes: svg ? svg.querySelectorAll('path, rect, text').length : 0,
    width: svg ? Math.round(svg.getBoundingClientRect().width) : 0};
})`

// TestReportInChromium loads report.html in headless Chromium with the network cut and
// checks that every chart is drawn, nothing is requested and no script fails; then that
// the charts follow the width of a phone and of a desktop window.
func TestReportInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("long: loads the report in headless Chromium; make test runs it")
	}
	requireBrowser(t)
	f := htmlTestFigures(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, writeTestHTML(t, f, "fr"), 0o644); err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: path}).String()

	// StartBrowser already sends every request to a closed port and resolves no host
	// name; the bypass list sends loopback requests there too, and the page is loaded
	// with the network emulated offline.
	ctx, stop, err := StartBrowser(t.Context(), chromedp.Flag("proxy-bypass-list", "<-loopback>"))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var events pageEvents
	if err := chromedp.Listen(ctx, events.listen); err != nil {
		t.Fatal(err)
	}
	offline := chromedp.Func(func(ctx2 context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx2, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}},
		})
		return err
	})
	if err := chromedp.Do(ctx, offline, chromedp.EmulateViewport(1200, 900), chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("load report.html: %v", err)
	}
	states, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartState](chartStateJS))
	if err != nil {
		t.Fatalf("read the charts: %v", err)
	}
	charts := testCharts(t, f, "fr")
	if len(states) != len(charts) {
		t.Fatalf("the page has %d chart containers, want %d", len(states), len(charts))
	}
	for i, s := range states {
		labels, _, _ := htmlTestChartBars(t, charts[i])
		switch {
		case s.ID != charts[i].ID:
			t.Errorf("chart %d is %q, want %q", i, s.ID, charts[i].ID)
		case !s.Instance || s.Series < 2:
			t.Errorf("%s: not drawn (instance %v, %d series)", s.ID, s.Instance, s.Series)
		case s.Bars != len(labels):
			t.Errorf("%s: %d bars drawn, want %d", s.ID, s.Bars, len(labels))
		case !s.SVG || s.Shapes < 2*len(labels):
			t.Errorf("%s: the SVG holds %d shapes, want at least %d", s.ID, s.Shapes, 2*len(labels))
		case s.Width < 900:
			t.Errorf("%s: %d px wide in a 1200 px window", s.ID, s.Width)
		}
	}
	// A phone: the charts shrink with the window.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile), chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	states, err = chromedp.Run(ctx, chromedp.Evaluate[[]chartState](chartStateJS))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Width == 0 || s.Width > 375 {
			t.Errorf("%s: %d px wide on a 375 px phone", s.ID, s.Width)
		}
	}
	// The tooltip of a bar writes French numbers.
	tip, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
  var c = echarts.getInstanceByDom(document.getElementById('chart-I01'));
  c.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0});
  var el = document.querySelector('#chart-I01 > div:last-child');
  return el ? el.textContent : '';
})()`))
	if err != nil {
		t.Fatal(err)
	}
	ind, _ := f.Find("I01")
	est, _ := ind.Total().Share.Estimate()
	if want := reportNumberFormats[words.FR].share(est.P); !strings.Contains(tip, want) || !strings.Contains(tip, "IC à 95") {
		t.Errorf("the I01 tooltip is %q, want it to hold %q and the interval", tip, want)
	}

	// Hovering a reference line shows its population and source.
	ref, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
  var el = document.getElementById('chart-I15'), c = echarts.getInstanceByDom(el);
  el.scrollIntoView();
  c.getZr().handler.dispatch('mousemove', {zrX: c.convertToPixel({xAxisIndex: 0}, 51.2), zrY: c.getHeight() - 60});
  var tip = el.querySelector('div:last-child');
  return tip ? tip.textContent : '';
})()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ref, "Référence (2017)") || !strings.Contains(ref, "Source\u00a0: Mistiaen P.") {
		t.Errorf("the tooltip of the I15 reference line is %q, want the reference with its source", ref)
	}

	events.mu.Lock()
	defer events.mu.Unlock()
	for _, u := range events.requests {
		if u != pageURL && !strings.HasPrefix(u, "data:") {
			t.Errorf("report.html requested %s", u)
		}
	}
	if !slices.Contains(events.requests, pageURL) {
		t.Errorf("no request for the page itself was seen (%q): the network events are not recorded", events.requests)
	}
	for _, e := range events.exceptions {
		t.Errorf("JavaScript exception: %s", e)
	}
	for _, e := range events.errors {
		t.Errorf("browser error: %s", e)
	}
	for _, e := range events.failed {
		t.Errorf("a request failed: %s", e)
	}
}

// TestRenderFigures checks every chart comes out as an SVG and a PNG that parse.
func TestRenderFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("long: draws every chart in headless Chromium; make test runs it")
	}
	requireBrowser(t)
	f := htmlTestFigures(t)
	dir := filepath.Join(t.TempDir(), "figures")
	paths, err := RenderFigures(t.Context(), f, "fr", dir)
	if err != nil {
		t.Fatalf("RenderFigures error: %v", err)
	}
	charts := testCharts(t, f, "fr")
	if len(paths) != 2*len(charts) {
		t.Fatalf("RenderFigures wrote %d files, want %d", len(paths), 2*len(charts))
	}
	for i, c := range charts {
		svgPath, pngPath := filepath.Join(dir, c.ID+".svg"), filepath.Join(dir, c.ID+".png")
		if paths[2*i] != svgPath || paths[2*i+1] != pngPath {
			t.Errorf("RenderFigures paths %q, %q; want %q, %q", paths[2*i], paths[2*i+1], svgPath, pngPath)
		}
		svg, err := os.ReadFile(svgPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(svg), []byte("</svg>")) ||
			!(bytes.Contains(svg, []byte("<path")) || bytes.Contains(svg, []byte("<rect"))) {
			t.Errorf("%s is not a drawn SVG: %.80q", svgPath, svg)
		}
		if bytes.Contains(svg, []byte("http://")) && !bytes.Contains(svg, []byte(`xmlns="http://www.w3.org/2000/svg"`)) {
			t.Errorf("%s refers to a URL", svgPath)
		}
		data, err := os.ReadFile(pngPath)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", pngPath, err)
			continue
		}
		if b := img.Bounds(); b.Dx() != 2*chartWidth || b.Dy() != 2*chartHeight {
			t.Errorf("%s is %dx%d, want %dx%d", pngPath, b.Dx(), b.Dy(), 2*chartWidth, 2*chartHeight)
		}
	}
	// The figure of I01 writes its numbers in French, with the references labelled.
	svg, _ := os.ReadFile(filepath.Join(dir, "chart-I01.svg"))
	ind, _ := f.Find("I01")
	est, _ := ind.Total().Share.Estimate()
	for _, want := range []string{reportNumberFormats[words.FR].share(est.P), "Référence (2021)\u00a0: 51–69\u00a0%", "Non représentés (x)"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("chart-I01.svg does not show %q", want)
		}
	}
}

// TestRenderFiguresNoBrowser checks that without Chromium RenderFigures says so and writes
// nothing, so that a report can go on without figures.
func TestRenderFiguresNoBrowser(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := filepath.Join(t.TempDir(), "figures")
	paths, err := RenderFigures(t.Context(), fixtureFigures(t), "fr", dir)
	if !errors.Is(err, ErrNoBrowser) {
		t.Fatalf("RenderFigures without a browser = %v, want ErrNoBrowser", err)
	}
	if !strings.Contains(err.Error(), "apt-get install chromium") {
		t.Errorf("the error %q does not say how to install Chromium", err)
	}
	if len(paths) != 0 {
		t.Errorf("RenderFigures without a browser returned %q", paths)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RenderFigures without a browser created %s", dir)
	}
}
