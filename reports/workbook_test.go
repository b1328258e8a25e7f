package reports

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// workbookReaderTimeout bounds each run of an external reader.
const workbookReaderTimeout = 30 * time.Second

var workbookQuestionnaires = []string{"entry v1", "followup v1"}

func writeTestWorkbook(t *testing.T, f *Figures, opts WorkbookOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteWorkbook(&buf, f, opts); err != nil {
		t.Fatalf("WriteWorkbook(%+v) error: %v", opts, err)
	}
	return buf.Bytes()
}

func openWorkbook(t *testing.T, data []byte) *excelize.File {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("excelize.OpenReader(workbook) error: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

var chartFormula = regexp.MustCompile(`<(?:c:)?f>([^<]*)</(?:c:)?f>`)

// dumpWorkbook renders the workbook as text: the document properties, every sheet's
// frozen panes and cell grid (formatted values, tab-separated, with row numbers), and
// the cells each chart reads.
func dumpWorkbook(t *testing.T, data []byte) string {
	t.Helper()
	x := openWorkbook(t, data)
	var sb strings.Builder
	props, err := x.GetDocProps()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&sb, "title: %s\nsubject: %s\ndescription: %s\ncreator: %s\ncreated: %s\nmodified: %s\nlanguage: %s\n",
		props.Title, props.Subject, props.Description, props.Creator, props.Created, props.Modified, props.Language)
	escape := strings.NewReplacer("\n", `\n`, "\t", `\t`)
	for _, sheet := range x.GetSheetList() {
		fmt.Fprintf(&sb, "\n== %s ==\n", sheet)
		if panes, err := x.GetPanes(sheet); err == nil && panes.Freeze {
			fmt.Fprintf(&sb, "frozen above %s\n", panes.TopLeftCell)
		}
		rows, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			for len(row) > 0 && row[len(row)-1] == "" {
				row = row[:len(row)-1]
			}
			if len(row) == 0 {
				continue
			}
			for j := range row {
				row[j] = escape.Replace(row[j])
			}
			fmt.Fprintf(&sb, "%d\t%s\n", i+1, strings.Join(row, "\t"))
		}
	}
	for _, c := range workbookCharts(t, data) {
		fmt.Fprintf(&sb, "\n== %s ==\n%s\n", c.name, strings.Join(c.refs, "\n"))
	}
	return sb.String()
}

type workbookChart struct {
	name string
	refs []string // the ranges the chart reads
}

// charts returns the chart parts of the workbook in name order.
func workbookCharts(t *testing.T, data []byte) []workbookChart {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out []workbookChart
	for _, e := range zr.File {
		if !strings.HasPrefix(e.Name, "xl/charts/chart") {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		c := workbookChart{name: e.Name}
		for _, m := range chartFormula.FindAllStringSubmatch(buf.String(), -1) {
			c.refs = append(c.refs, html.UnescapeString(m[1]))
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b workbookChart) int { return strings.Compare(a.name, b.name) })
	return out
}

func TestWorkbookGolden(t *testing.T) {
	f := fixtureFigures(t)
	for _, lang := range []string{"fr", "en"} {
		t.Run(lang, func(t *testing.T) {
			got := dumpWorkbook(t, writeTestWorkbook(t, f, WorkbookOptions{Lang: lang, Questionnaires: workbookQuestionnaires}))
			path := filepath.Join("testdata", "workbook."+lang+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./reports -run TestWorkbookGolden -update creates it)", err)
			}
			if got != string(want) {
				gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
				for i := range max(len(gl), len(wl)) {
					g, w := workbookLine(gl, i), workbookLine(wl, i)
					if g != w {
						t.Fatalf("workbook dump differs from %s at line %d:\n got: %q\nwant: %q\n(run with -update if the change is intended)", path, i+1, g, w)
					}
				}
			}
		})
	}
}

func workbookLine(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end>"
}

// workbookPercentCell reports whether the cell's number format is the percentage one.
func workbookPercentCell(t *testing.T, x *excelize.File, sheet, cell string) bool {
	t.Helper()
	id, err := x.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	st, err := x.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	return st.CustomNumFmt != nil && *st.CustomNumFmt == "0.0%"
}

// TestWorkbookThreshold walks every cell of every sheet: a number is either a
// percentage (a fraction) or a count, and a count is 0 or at least k. Every written
// cell carries a style with an explicit font family.
func TestWorkbookThreshold(t *testing.T) {
	f := fixtureFigures(t)
	k := f.Config.K
	for _, lang := range []string{"fr", "nl", "en"} {
		t.Run(lang, func(t *testing.T) {
			x := openWorkbook(t, writeTestWorkbook(t, f, WorkbookOptions{Lang: lang}))
			counts := 0
			for _, sheet := range x.GetSheetList() {
				rows, err := x.GetRows(sheet, excelize.Options{RawCellValue: true})
				if err != nil {
					t.Fatal(err)
				}
				for r, row := range rows {
					for c, v := range row {
						if v == "" {
							continue
						}
						cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
						id, _ := x.GetCellStyle(sheet, cell)
						if st, err := x.GetStyle(id); err != nil || st.Font == nil || st.Font.Family != workbookFont {
							t.Errorf("%s!%s: style %d has no font family %s", sheet, cell, id, workbookFont)
						}
						typ, err := x.GetCellType(sheet, cell)
						if err != nil {
							t.Fatal(err)
						}
						if typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
							continue
						}
						n, err := strconv.ParseFloat(v, 64)
						if err != nil {
							continue // a text cell without a type attribute
						}
						if workbookPercentCell(t, x, sheet, cell) {
							if n < 0 || n > 1 {
								t.Errorf("%s!%s = %v, want a fraction in [0, 1]", sheet, cell, n)
							}
							continue
						}
						counts++
						if n != math.Trunc(n) || (n != 0 && n < float64(k)) {
							t.Errorf("%s!%s = %v, want a count that is 0 or at least k = %d", sheet, cell, n, k)
						}
					}
				}
			}
			if counts < 500 {
				t.Errorf("found %d count cells, want the fixture's hundreds", counts)
			}
		})
	}
}

// workbookSeen counts what a check saw, so that a fixture without suppressed or
// low-reliability values cannot make the checks pass vacuously.
type workbookSeen map[string]int

func (s workbookSeen) require(t *testing.T, kinds ...string) {
	t.Helper()
	for _, kind := range kinds {
		if s[kind] == 0 {
			t.Errorf("the fixture gave no %s value to check", kind)
		}
	}
}

// workbookChecker compares cells of a workbook with the protected values they show.
type workbookChecker struct {
	t    *testing.T
	x    *excelize.File
	mark string
	seen workbookSeen
}

func (c *workbookChecker) raw(sheet string, col, row int) string {
	cell, _ := excelize.CoordinatesToCellName(col, row)
	v, err := c.x.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

func (c *workbookChecker) count(sheet string, col, row int, n Number) {
	c.t.Helper()
	got := c.raw(sheet, col, row)
	want := c.mark
	if v, ok := n.Value(); ok {
		want = strconv.Itoa(v)
		c.seen["published count"]++
	} else {
		c.seen["suppressed count"]++
	}
	if got != want {
		c.t.Errorf("%s!R%dC%d = %q, want %q (count %s)", sheet, row, col, got, want, n.Status())
	}
}

func (c *workbookChecker) share(sheet string, col, row int, s Share) {
	c.t.Helper()
	got := []string{c.raw(sheet, col, row), c.raw(sheet, col+1, row), c.raw(sheet, col+2, row)}
	est, ok := s.Estimate()
	switch {
	case ok:
		c.seen[s.Status().String()]++
		for i, want := range []float64{est.P, est.Low, est.High} {
			if v, err := strconv.ParseFloat(got[i], 64); err != nil || math.Abs(v-want) > 1e-12 {
				c.t.Errorf("%s!R%dC%d = %q, want %v", sheet, row, col+i, got[i], want)
			}
		}
	case s.Status() == disclosure.Empty:
		if got[0]+got[1]+got[2] != "" {
			c.t.Errorf("%s!R%dC%d: an empty share shows %q", sheet, row, col, got)
		}
	default:
		c.seen["suppressed share"]++
		if got[0] != c.mark || got[1] != c.mark || got[2] != c.mark {
			c.t.Errorf("%s!R%dC%d = %q, want the mark %q thrice (share %s)", sheet, row, col, got, c.mark, s.Status())
		}
	}
}

// findRow returns the first row from row on whose column A is text.
func (c *workbookChecker) findRow(sheet string, from int, text string) int {
	c.t.Helper()
	rows, err := c.x.GetRows(sheet)
	if err != nil {
		c.t.Fatal(err)
	}
	for r := from; r <= len(rows); r++ {
		if len(rows[r-1]) > 0 && rows[r-1][0] == text {
			return r
		}
	}
	c.t.Fatalf("sheet %s has no row %q from row %d", sheet, text, from)
	return 0
}

func (c *workbookChecker) expect(sheet string, col, row int, want string) {
	c.t.Helper()
	if got := c.raw(sheet, col, row); got != want {
		c.t.Errorf("%s!R%dC%d = %q, want %q", sheet, row, col, got, want)
	}
}

// TestWorkbookCells finds every protected value of the fixture in the workbook: a
// published one as its number, a suppressed one as the mark, whatever its status.
func TestWorkbookCells(t *testing.T) {
	f := fixtureFigures(t)
	for _, lang := range []string{"fr", "en"} {
		t.Run(lang, func(t *testing.T) {
			x := openWorkbook(t, writeTestWorkbook(t, f, WorkbookOptions{Lang: lang}))
			c := &workbookChecker{t: t, x: x, mark: f.Catalog.Text("suppressed_mark", lang), seen: workbookSeen{}}
			sheets := x.GetSheetList()

			// Summary: the total of every indicator.
			summary := sheets[0]
			for _, ind := range f.Indicator {
				row := c.findRow(summary, 1, ind.ID)
				c.count(summary, 4, row, ind.Total().Denominator)
				c.share(summary, 5, row, ind.Total().Share)
			}

			// Indicator sheets: every row of every breakdown, in order.
			for _, fam := range declaredFamilies(f.Catalog) {
				i := slices.IndexFunc(sheets, func(s string) bool { return strings.HasPrefix(s, fam.ID+" ") })
				if i < 0 {
					t.Errorf("no sheet for family %s in %q", fam.ID, sheets)
					continue
				}
				sheet := sheets[i]
				row := 1
				for _, ind := range f.Indicator {
					if ind.Family != fam.ID {
						continue
					}
					row = c.findRow(sheet, row, ind.ID+" — "+ind.Label.In(lang)) + 1
					for _, b := range ind.Breakdowns {
						if len(b.Rows) == 0 {
							continue
						}
						if b.Dim != Total {
							c.expect(sheet, 1, row, f.DimLabel(b.Dim, lang))
							row++
						}
						for _, r := range b.Rows {
							c.expect(sheet, 1, row, f.Label(b.Dim, r.Group, lang))
							c.count(sheet, 2, row, r.Numerator)
							c.count(sheet, 3, row, r.Denominator)
							c.share(sheet, 4, row, r.Share)
							row++
						}
					}
				}
			}

			// Entrants: every cell and margin of every cross table.
			entrants := sheets[len(sheets)-2]
			if len(f.Entrants) == 0 {
				t.Fatal("the fixture has no entrants tables")
			}
			row := 1
			for _, ct := range f.Entrants {
				row = c.findRow(entrants, row, f.DimLabel(ct.RowDim, lang)+" × "+f.DimLabel(ct.ColDim, lang)) + 2
				for r, code := range ct.Rows {
					c.expect(entrants, 1, row, f.Label(ct.RowDim, code, lang))
					for col := range ct.Cols {
						c.count(entrants, 2+col, row, ct.Cells[r][col])
					}
					c.count(entrants, 2+len(ct.Cols), row, ct.RowTotals[r])
					row++
				}
				for col := range ct.Cols {
					c.count(entrants, 2+col, row, ct.ColTotals[col])
				}
				c.count(entrants, 2+len(ct.Cols), row, ct.Total)
			}
			c.seen.require(t, "published count", "suppressed count", "suppressed share",
				disclosure.Published.String(), disclosure.LowReliability.String())
		})
	}
}

// TestWorkbookCharts checks that every chart reads only published percentages: its
// values are numbers between 0 and 1 or empty cells, never the mark.
func TestWorkbookCharts(t *testing.T) {
	f := fixtureFigures(t)
	data := writeTestWorkbook(t, f, WorkbookOptions{})
	x := openWorkbook(t, data)
	cs := workbookCharts(t, data)
	// One chart per family that has a published value to draw.
	want := 0
	fams := declaredFamilies(f.Catalog)
	for _, fam := range fams {
		drawn := false
		for _, ind := range f.Indicator {
			if ind.Family != fam.ID {
				continue
			}
			for _, b := range ind.Breakdowns {
				if (b.Dim == DimSite || (b.Dim == Total && chartsParts(fam.ID))) &&
					slices.ContainsFunc(b.Rows, func(r Row) bool { _, ok := r.Share.Estimate(); return ok }) {
					drawn = true
				}
			}
		}
		if drawn {
			want++
		}
	}
	if len(cs) != want || want < len(fams)*3/4 {
		t.Errorf("workbook has %d charts, want one per family with a published value (%d of %d)", len(cs), want, len(fams))
	}
	ref := regexp.MustCompile(`^'((?:[^']|'')+)'!\$([A-Z]+)\$(\d+)(?::\$([A-Z]+)\$(\d+))?$`)
	values := 0
	for _, c := range cs {
		for i, r := range c.refs {
			m := ref.FindStringSubmatch(r)
			if m == nil {
				t.Fatalf("%s: reference %q is not a range of a sheet", c.name, r)
			}
			if i%3 != 2 { // each series reads its name, categories, values
				continue
			}
			sheet := strings.ReplaceAll(m[1], "''", "'")
			from, _ := strconv.Atoi(m[3])
			to, _ := strconv.Atoi(m[5])
			if m[4] != m[2] && m[4] != "" {
				t.Fatalf("%s: values %q span columns", c.name, r)
			}
			for row := from; row <= max(from, to); row++ {
				cell := fmt.Sprintf("%s%d", m[2], row)
				v, err := x.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
				if err != nil {
					t.Fatal(err)
				}
				if v == "" {
					continue
				}
				p, err := strconv.ParseFloat(v, 64)
				if err != nil || p < 0 || p > 1 || !workbookPercentCell(t, x, sheet, cell) {
					t.Errorf("%s reads %s!%s = %q, want a published percentage or nothing", c.name, sheet, cell, v)
				}
				values++
			}
		}
	}
	if values == 0 {
		t.Error("no chart plots any value")
	}
}

func TestWorkbookDeterministic(t *testing.T) {
	opts := WorkbookOptions{Lang: "fr", Questionnaires: workbookQuestionnaires}
	f := fixtureFigures(t)
	a := writeTestWorkbook(t, f, opts)
	b := writeTestWorkbook(t, fixtureFigures(t), opts) // built again: no map order may leak
	if !bytes.Equal(a, b) {
		t.Fatalf("two writes of the same figures differ (%d and %d bytes)", len(a), len(b))
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range zr.File {
		if !e.Modified.Equal(f.CutOff) {
			t.Errorf("zip entry %s modified %v, want the cut-off %v", e.Name, e.Modified, f.CutOff)
		}
	}
	props, err := openWorkbook(t, a).GetDocProps()
	if err != nil {
		t.Fatal(err)
	}
	want := f.CutOff.Format(time.RFC3339)
	if props.Created != want || props.Modified != want || props.Creator != "tamtam" {
		t.Errorf("document properties created %s, modified %s, creator %s; want %s, %s, tamtam",
			props.Created, props.Modified, props.Creator, want, want)
	}
}

func TestWorkbookOptions(t *testing.T) {
	f := fixtureFigures(t)
	if err := WriteWorkbook(&bytes.Buffer{}, f, WorkbookOptions{Lang: "de"}); err == nil {
		t.Error(`WriteWorkbook(Lang: "de") = nil, want an error`)
	}
	if err := WriteWorkbook(&bytes.Buffer{}, &Figures{Catalog: f.Catalog}, WorkbookOptions{}); err == nil {
		t.Error("WriteWorkbook(figures without cut-off) = nil, want an error")
	}
	for _, lang := range []string{"fr", "nl", "en"} {
		x := openWorkbook(t, writeTestWorkbook(t, f, WorkbookOptions{Lang: lang, Title: "Rapport 2025"}))
		sheets := x.GetSheetList()
		// Summary, access to care, a sheet per family, entrants, methodology.
		if want := 2 + 1 + len(declaredFamilies(f.Catalog)) + 1; len(sheets) != want {
			t.Errorf("%s: %d sheets %q, want %d", lang, len(sheets), sheets, want)
		}
		for _, s := range sheets {
			if len([]rune(s)) > 31 || strings.ContainsAny(s, `[]:*?/\`) {
				t.Errorf("%s: sheet name %q is not a valid Excel sheet name", lang, s)
			}
		}
		props, err := x.GetDocProps()
		if err != nil {
			t.Fatal(err)
		}
		if props.Title != "Rapport 2025" || !strings.HasPrefix(props.Language, lang) {
			t.Errorf("%s: title %q, language %q; want Rapport 2025, %s", lang, props.Title, props.Language, lang)
		}
		if v, _ := x.GetCellValue(sheets[0], "A1"); v != "Rapport 2025" {
			t.Errorf("%s: %s!A1 = %q, want the title", lang, sheets[0], v)
		}
	}
}

// writeWorkbookFile writes the fixture workbook in lang to a temporary file.
func writeWorkbookFile(t *testing.T, f *Figures, lang string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "figures.xlsx")
	if err := os.WriteFile(path, writeTestWorkbook(t, f, WorkbookOptions{Lang: lang, Questionnaires: workbookQuestionnaires}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWorkbookOpenpyxl opens the workbook with openpyxl, a reader independent of
// excelize, and reads the first indicator's total back.
func TestWorkbookOpenpyxl(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := exec.LookPath(python); err != nil {
		t.Fatalf("%s not found: install the Debian packages python3 and python3-openpyxl (%v)", python, err)
	}
	f := fixtureFigures(t)
	path := writeWorkbookFile(t, f, "fr")
	x := openWorkbook(t, func() []byte { b, _ := os.ReadFile(path); return b }())
	sheets := x.GetSheetList()
	sheet := sheets[slices.IndexFunc(sheets, func(s string) bool { return strings.HasPrefix(s, f.Indicator[0].Family+" ") })]
	total := f.Indicator[0].Total()
	n, ok := total.Denominator.Value()
	est, ok2 := total.Share.Estimate()
	if !ok || !ok2 {
		t.Fatal("the fixture's first total is not published")
	}
	// Row 6 is the first indicator's total: title row 2, note 3, indicator heading 5.
	script := `
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb[sys.argv[2]]
print(json.dumps({"sheets": wb.sheetnames, "label": ws["A6"].value, "n": ws["C6"].value,
    "p": ws["D6"].value, "format": ws["D6"].number_format, "font": ws["C6"].font.name,
    "creator": wb.properties.creator}))
`
	ctx, cancel := context.WithTimeout(t.Context(), workbookReaderTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", script, path, sheet).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("No module named 'openpyxl'")) {
			t.Fatalf("openpyxl is missing: install the Debian package python3-openpyxl\n%s", out)
		}
		t.Fatalf("openpyxl could not read the workbook: %v\n%s", err, out)
	}
	var got struct {
		Sheets       []string
		Label        string
		N            int
		P            float64
		Format, Font string
		Creator      string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("openpyxl output %q: %v", out, err)
	}
	want := x.GetSheetList()
	if !slices.Equal(got.Sheets, want) {
		t.Errorf("openpyxl sheets = %q, want %q", got.Sheets, want)
	}
	if got.Label != f.Catalog.Text("total", "fr") || got.N != n || math.Abs(got.P-est.P) > 1e-12 ||
		got.Format != "0.0%" || got.Font != workbookFont || got.Creator != "tamtam" {
		t.Errorf("openpyxl read %s!A6:D6 = %q %d %v (%s, font %s), creator %s; want Total %d %v (0.0%%, %s), tamtam",
			sheet, got.Label, got.N, got.P, got.Format, got.Font, got.Creator, n, est.P, workbookFont)
	}
}

// libreOffice converts files with LibreOffice's soffice in one run, headless, with a
// private profile under home (shared by the runs of a test), into outDir. to is the
// --convert-to argument ("pdf", "csv:…"). It returns the files written, in the order of
// files. soffice starts once for all of them, which takes most of the time.
func libreOffice(t *testing.T, home, to, outDir string, files ...string) []string {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		t.Fatalf("soffice not found: install the Debian package libreoffice-calc-nogui (%v)", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), workbookReaderTimeout*time.Duration(1+len(files)/2))
	defer cancel()
	args := append([]string{"-env:UserInstallation=file://" + home + "/profile",
		"--headless", "--norestore", "--convert-to", to, "--outdir", outDir}, files...)
	cmd := exec.CommandContext(ctx, soffice, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice --convert-to %s: %v (context: %v)\n%s", to, err, ctx.Err(), out)
	}
	ext, _, _ := strings.Cut(to, ":")
	written := make([]string, len(files))
	for i, f := range files {
		// NAME.ext, or NAME-SHEET.ext when the filter writes one sheet.
		base := filepath.Join(outDir, strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)))
		matches, _ := filepath.Glob(base + "-*." + ext)
		if _, err := os.Stat(base + "." + ext); err == nil {
			matches = append(matches, base+"."+ext)
		}
		if len(matches) != 1 {
			t.Fatalf("soffice --convert-to %s wrote %q for %s, want one file\n%s", to, matches, f, out)
		}
		written[i] = matches[0]
	}
	return written
}

// TestWorkbookLibreOffice converts the workbook with LibreOffice, a second independent
// reader: to PDF (every sheet, charts included) and the first indicator sheet to CSV.
func TestWorkbookLibreOffice(t *testing.T) {
	if testing.Short() {
		t.Skip("long: converts the workbook with LibreOffice; make test runs it")
	}
	f := fixtureFigures(t)
	path := writeWorkbookFile(t, f, "fr")
	home := t.TempDir() // LibreOffice writes its profile there
	convert := func(t *testing.T, to string) string {
		t.Helper()
		data, err := os.ReadFile(libreOffice(t, home, to, t.TempDir(), path)[0])
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	t.Run("pdf", func(t *testing.T) {
		if pdf := convert(t, "pdf"); len(pdf) < 1000 || !strings.HasPrefix(pdf, "%PDF") {
			t.Errorf("soffice wrote a PDF of %d bytes starting %q, want a PDF", len(pdf), pdf[:min(8, len(pdf))])
		}
	})
	t.Run("csv", func(t *testing.T) {
		// Filter options: comma, double quote, UTF-8, from line 1, …, sheet 3 (I01, after
		// the summary and access to care).
		csv := convert(t, `csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,3`)
		total := f.Indicator[0].Total()
		n, _ := total.Denominator.Value()
		num, _ := total.Numerator.Value()
		want := fmt.Sprintf("%s,%d,%d,", f.Catalog.Text("total", "fr"), num, n)
		if !strings.Contains(csv, want) {
			t.Errorf("LibreOffice's CSV of the I01 sheet has no line starting %q:\n%s", want, csv[:min(600, len(csv))])
		}
	})
}

// TestWorkbookHiddenValues plants values behind suppressed and unchecked statuses, which
// Build never keeps, and checks that none of them reaches a cell or a chart: the
// workbook shows the mark, and the chart leaves the group out or a gap.
func TestWorkbookHiddenValues(t *testing.T) {
	f := fixtureFigures(t)
	const secret = 0.123456789
	hidden := Share{status: disclosure.SuppressedSecondary, estimate: disclosure.Estimate{Yes: 3, N: 7, P: secret, Low: secret / 2, High: secret * 2}}
	site := func(id string) *Row {
		ind := f.Indicator[slices.IndexFunc(f.Indicator, func(x IndicatorFigures) bool { return x.ID == id })]
		for _, b := range ind.Breakdowns {
			if b.Dim == DimSite {
				return &b.Rows[0]
			}
		}
		t.Fatalf("%s has no site breakdown", id)
		return nil
	}
	// I01, a one-series chart: the group disappears from it.
	r := site("I01")
	r.Numerator = Number{value: 3, status: disclosure.SuppressedPrimary}
	r.Denominator = Number{value: 4, status: disclosure.Unchecked}
	r.Share = hidden
	// I13, a two-series chart: the group stays with a gap for the hidden part.
	r = site("I13.on_ost")
	r.Numerator = Number{value: 4, status: disclosure.SuppressedSecondary}
	r.Share = hidden
	f.Entrants[0].Cells[0][0] = Number{value: 2, status: disclosure.SuppressedPrimary}

	data := writeTestWorkbook(t, f, WorkbookOptions{})
	x := openWorkbook(t, data)
	for _, sheet := range x.GetSheetList() {
		rows, err := x.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			for j, v := range row {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					continue
				}
				cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
				if n == secret || n == secret/2 || n == secret*2 || (n >= 1 && n <= 4 && !workbookPercentCell(t, x, sheet, cell)) {
					t.Errorf("%s!%s = %s: a hidden value is shown", sheet, cell, v)
				}
			}
		}
	}
	c := &workbookChecker{t: t, x: x, mark: "x", seen: workbookSeen{}}
	sheets := x.GetSheetList()
	label := f.Label(DimSite, "haren", "fr")
	i01 := sheets[slices.IndexFunc(sheets, func(s string) bool { return strings.HasPrefix(s, "I01 ") })]
	row := c.findRow(i01, c.findRow(i01, 1, f.DimLabel(DimSite, "fr")), label)
	for col := 2; col <= 6; col++ {
		c.expect(i01, col, row, "x")
	}
	c.expect(i01, 7, row, words.FR.T("report.flag_suppressed"))
	if got := c.raw(i01, chartDataCol, 4); got == label {
		t.Errorf("the I01 chart data still lists %s, whose value is hidden", label)
	}
	i13 := sheets[slices.IndexFunc(sheets, func(s string) bool { return strings.HasPrefix(s, "I13 ") })]
	c.expect(i13, chartDataCol, 4, label)
	c.expect(i13, chartDataCol+1, 4, "")
	if got := c.raw(i13, chartDataCol+2, 4); got == "" {
		t.Errorf("the I13 chart data lost the published part of %s", label)
	}
	c.expect(sheets[len(sheets)-2], 2, 6, "x")
}
