package reports

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tamtam-ngo/tamtam/reports/assets"
)

// ErrNoBrowser is returned (wrapped) by RenderFigures when no Chromium or Chrome is
// installed. The caller can then say that it skipped the figures and go on: every other
// output of a report is made without a browser.
var ErrNoBrowser = errors.New("reports: no Chromium found to render the figures (apt-get install chromium)")

// browserNames are the programs looked up in PATH, in order.
var browserNames = []string{"chromium", "chromium-browser", "google-chrome"}

// renderTimeout bounds the rendering of all the figures of a release.
const renderTimeout = 2 * time.Minute

// findBrowser returns the path of Chromium or Chrome, or an error wrapping ErrNoBrowser.
func findBrowser() (string, error) {
	for _, name := range browserNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: none of %s in PATH", ErrNoBrowser, strings.Join(browserNames, ", "))
}

// StartBrowser starts one headless Chromium for the caller, with a fresh profile in a
// temporary directory. Chromium is told to stay off the network: no background services,
// no QUIC, every host name unresolvable and a proxy on a closed local port, so that
// nothing leaves the machine even if a page asked. extra flags are added (tests use them).
// stop ends the browser and removes its profile.
func StartBrowser(ctx context.Context, extra ...chromedp.ExecAllocatorOption) (bctx context.Context, stop func(), err error) {
	path, err := findBrowser()
	if err != nil {
		return nil, nil, err
	}
	profile, err := os.MkdirTemp("", "tamtam-chromium-")
	if err != nil {
		return nil, nil, fmt.Errorf("reports: browser profile: %w", err)
	}
	flags := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // the sandbox refuses to run as root, as in containers and CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.ProxyServer("127.0.0.1:9"),
		chromedp.WindowSize(1200, 900),
	)
	flags = append(flags, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, flags...)
	quiet := func(string, ...any) {}
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(quiet), chromedp.WithErrorf(quiet))
	stop = func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to end
		os.RemoveAll(profile)
	}
	// The first Do starts the browser; it lives as long as bctx.
	if err := chromedp.Do(bctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("reports: start %s: %w", path, err)
	}
	return bctx, stop, nil
}

// RenderFigures draws every chart of f in headless Chromium with ECharts, as the report
// page does, and writes dir/<id>.svg (for print) and dir/<id>.png (900×500 at twice the
// pixel density, on white). It returns the paths written, in chart order. Without a
// browser it returns an error wrapping ErrNoBrowser and writes nothing; a language other
// than fr, nl or en is an error too.
func RenderFigures(ctx context.Context, f *Figures, lang, dir string) ([]string, error) {
	charts, err := Charts(f, lang)
	if err != nil {
		return nil, err
	}
	if _, err := findBrowser(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, renderTimeout)
	defer cancel()
	bctx, stop, err := StartBrowser(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	page, err := os.MkdirTemp("", "tamtam-figures-")
	if err != nil {
		return nil, fmt.Errorf("reports: figures: %w", err)
	}
	defer os.RemoveAll(page)
	pagePath := filepath.Join(page, "figures.html")
	if err := os.WriteFile(pagePath, figurePage(), 0o600); err != nil {
		return nil, fmt.Errorf("reports: figures: %w", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate((&url.URL{Scheme: "file", Path: pagePath}).String())); err != nil {
		return nil, fmt.Errorf("reports: figures: load the drawing page: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reports: figures: %w", err)
	}
	var written []string
	for _, c := range charts {
		option, err := chartOptionScript(c.Options)
		if err != nil {
			return written, err
		}
		type drawing struct {
			SVG string `json:"svg"`
			PNG string `json:"png"`
		}
		d, err := chromedp.Run(bctx, chromedp.Evaluate[drawing]("tamtamDraw("+option+")"))
		if err != nil {
			return written, fmt.Errorf("reports: figures: draw %s: %w", c.ID, err)
		}
		pngData, err := decodePNGDataURL(d.PNG)
		if err != nil {
			return written, fmt.Errorf("reports: figures: %s: %w", c.ID, err)
		}
		if !strings.HasPrefix(d.SVG, "<svg") {
			return written, fmt.Errorf("reports: figures: %s: ECharts returned no SVG", c.ID)
		}
		for _, out := range []struct {
			ext  string
			data []byte
		}{{".svg", []byte(d.SVG)}, {".png", pngData}} {
			path := filepath.Join(dir, c.ID+out.ext)
			if err := os.WriteFile(path, out.data, 0o644); err != nil {
				return written, fmt.Errorf("reports: figures: %w", err)
			}
			written = append(written, path)
		}
	}
	return written, nil
}

// decodePNGDataURL returns the PNG of a "data:image/png;base64," URL, checked to decode.
func decodePNGDataURL(s string) ([]byte, error) {
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(s, prefix) {
		return nil, errors.New("ECharts returned no PNG")
	}
	data, err := base64.StdEncoding.DecodeString(s[len(prefix):])
	if err != nil {
		return nil, fmt.Errorf("PNG data URL: %w", err)
	}
	if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("PNG: %w", err)
	}
	return data, nil
}

// figurePage is the local page the figures are drawn in: the inlined library and a
// function that draws one option with each renderer at the figure size. Animation is off
// in the options; the canvas snapshot is taken with getDataURL, which repaints at once.
func figurePage() []byte {
	w, h := strconv.Itoa(chartWidth), strconv.Itoa(chartHeight)
	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8">` +
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">` +
		`<style>body{margin:0;background:#fff}.c{width:` + w + `px;height:` + h + `px}</style></head><body>` +
		`<div id="svg" class="c"></div><div id="canvas" class="c"></div><script>`)
	b.Write(assets.EChartsJS)
	b.WriteString(`</script><script>
function tamtamDraw(option) {
  var size = {width: ` + w + `, height: ` + h + `};
  var c = echarts.init(document.getElementById('svg'), null, {renderer: 'svg', width: size.width, height: size.height});
  c.setOption(option);
  var svg = c.renderToSVGString();
  c.dispose();
  c = echarts.init(document.getElementById('canvas'), null, {renderer: 'canvas', width: size.width, height: size.height});
  c.setOption(option);
  var png = c.getDataURL({type: 'png', pixelRatio: 2, backgroundColor: '#fff'});
  c.dispose();
  return {svg: svg, png: png};
}
</script></body></html>`)
	return b.Bytes()
}
