package reports

import (
	"archive/zip"
	"bytes"
	"context"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// pdfInfo returns the number of pages of a PDF file and the size of its first page,
// as poppler's pdfinfo reads them ("595.276 x 841.89 pts (A4)").
func pdfInfo(t *testing.T, path string) (pages int, size string) {
	t.Helper()
	pdfinfo, err := exec.LookPath("pdfinfo")
	if err != nil {
		t.Fatalf("pdfinfo not found: install the Debian package poppler-utils (%v)", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), workbookReaderTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, pdfinfo, path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v\n%s", path, err, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo %s gave no page count:\n%s", path, out)
	}
	pages, _ = strconv.Atoi(string(m[1]))
	if m := regexp.MustCompile(`(?m)^Page size:\s+(.*)$`).FindSubmatch(out); m != nil {
		size = string(m[1])
	}
	return pages, size
}

// splitSheets writes a copy of the workbook per sheet into dir, with that sheet alone,
// and returns their paths in sheet order.
func splitSheets(t *testing.T, data []byte, dir string) (sheets, paths []string) {
	t.Helper()
	sheets = openWorkbook(t, data).GetSheetList()
	for i, sheet := range sheets {
		x := openWorkbook(t, data)
		for _, other := range sheets {
			if other != sheet {
				if err := x.DeleteSheet(other); err != nil {
					t.Fatalf("DeleteSheet(%s) error: %v", other, err)
				}
			}
		}
		var buf bytes.Buffer
		if err := x.Write(&buf); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "sheet"+strconv.Itoa(i+1)+".xlsx")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return sheets, paths
}

// TestWorkbookPrint prints the workbook with the answers of every questionnaire to PDF
// with LibreOffice, each sheet alone, and counts the pages: a sheet prints on at most two
// A4 pages, unless it is too long for two pages at a readable scale; such a sheet prints
// one page wide, its header row on top of every page. The whole workbook prints on as
// many pages as its sheets alone.
func TestWorkbookPrint(t *testing.T) {
	if testing.Short() {
		t.Skip("long: prints the workbook with LibreOffice; make test runs it")
	}
	r, cat := distributionRelease(t)
	f, err := r.View(cat, AllGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := writeTestWorkbook(t, f, WorkbookOptions{Lang: "fr", Questionnaires: workbookQuestionnaires})
	x := openWorkbook(t, data)
	dir := t.TempDir()
	whole := filepath.Join(dir, "figures.xlsx")
	if err := os.WriteFile(whole, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sheets, paths := splitSheets(t, data, dir)
	pdfs := libreOffice(t, t.TempDir(), "pdf", t.TempDir(), append([]string{whole}, paths...)...)
	total, _ := pdfInfo(t, pdfs[0])
	sum, long := 0, 0
	for i, sheet := range sheets {
		n, size := pdfInfo(t, pdfs[1+i])
		sum += n
		t.Logf("%-32s %3d pages", sheet, n)
		if !strings.Contains(size, "(A4)") {
			t.Errorf("sheet %q prints on pages of %s, want A4", sheet, size)
		}
		if n <= maxPrintPages {
			continue
		}
		long++
		if layout, err := x.GetPageLayout(sheet); err != nil || layout.FitToHeight == nil || *layout.FitToHeight != 0 {
			t.Errorf("sheet %q prints on %d pages, want at most %d (it is fitted to a height)", sheet, n, maxPrintPages)
		}
		row := printTitleRow(t, x, sheet)
		if row == 0 {
			continue // the methodology: two columns of text
		}
		cells, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		head := slices.DeleteFunc(slices.Clone(cells[row-1]), func(s string) bool { return s == "" })
		for p, text := range printedText(t, pdfs[1+i], n) {
			if !strings.Contains(text, head[0]) || !strings.Contains(text, head[len(head)-1]) {
				t.Errorf("sheet %q, page %d of %d lacks the header %q … %q: its columns are cut", sheet, p+1, n, head[0], head[len(head)-1])
			}
		}
	}
	t.Logf("whole workbook: %d pages, its %d sheets alone: %d, %d sheets on more than %d pages", total, len(sheets), sum, long, maxPrintPages)
	if total != sum {
		t.Errorf("the workbook prints on %d pages, its sheets alone on %d", total, sum)
	}
}

// printTitleRow returns the row that prints on top of every page of sheet, or 0.
func printTitleRow(t *testing.T, x *excelize.File, sheet string) int {
	t.Helper()
	for _, dn := range x.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Titles" && dn.Scope == sheet {
			m := regexp.MustCompile(`!\$(\d+):\$(\d+)$`).FindStringSubmatch(dn.RefersTo)
			if m == nil || m[1] != m[2] {
				t.Fatalf("sheet %q: print titles %q, want one row", sheet, dn.RefersTo)
			}
			row, _ := strconv.Atoi(m[1])
			return row
		}
	}
	return 0
}

// printedText returns the text of each page of a PDF file, as poppler's pdftotext lays
// it out.
func printedText(t *testing.T, path string, pages int) []string {
	t.Helper()
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext not found: install the Debian package poppler-utils (%v)", err)
	}
	var out []string
	for p := 1; p <= pages; p++ {
		ctx, cancel := context.WithTimeout(t.Context(), workbookReaderTimeout)
		text, err := exec.CommandContext(ctx, pdftotext, "-layout", "-f", strconv.Itoa(p), "-l", strconv.Itoa(p), path, "-").Output()
		cancel()
		if err != nil {
			t.Fatalf("pdftotext -f %d %s: %v", p, path, err)
		}
		out = append(out, string(text))
	}
	return out
}

// drawingEnds returns, by sheet name, the cells (column, row from 1) where the drawings
// of the workbook's sheets end, read from the package parts.
func drawingEnds(t *testing.T, data []byte) map[string][][2]int {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	part := func(name string) string {
		f, err := zr.Open(name)
		if err != nil {
			return ""
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	targets := map[string]string{} // relationship id → target
	for _, m := range regexp.MustCompile(`<Relationship Id="([^"]+)" Target="([^"]+)"`).FindAllStringSubmatch(part("xl/_rels/workbook.xml.rels"), -1) {
		targets[m[1]] = m[2]
	}
	to := regexp.MustCompile(`<xdr:to><xdr:col>(\d+)</xdr:col><xdr:colOff>\d+</xdr:colOff><xdr:row>(\d+)</xdr:row>`)
	ends := map[string][][2]int{}
	for _, m := range regexp.MustCompile(`<sheet name="([^"]+)" sheetId="\d+" r:id="([^"]+)"`).FindAllStringSubmatch(part("xl/workbook.xml"), -1) {
		sheet, target := html.UnescapeString(m[1]), targets[m[2]]
		rels := part("xl/worksheets/_rels/" + strings.TrimPrefix(target, "worksheets/") + ".rels")
		for _, d := range regexp.MustCompile(`Target="\.\./drawings/([^"]+)"`).FindAllStringSubmatch(rels, -1) {
			for _, e := range to.FindAllStringSubmatch(part("xl/drawings/"+d[1]), -1) {
				col, _ := strconv.Atoi(e[1])
				row, _ := strconv.Atoi(e[2])
				ends[sheet] = append(ends[sheet], [2]int{col + 1, row + 1})
			}
		}
	}
	return ends
}

// TestWorkbookPageSetup reads the print settings of every sheet of the workbook in each
// language: A4, one page wide, a print area that holds every written cell and every
// chart, and the rows frozen on screen repeated on top of every printed page.
func TestWorkbookPageSetup(t *testing.T) {
	r, cat := distributionRelease(t)
	f, err := r.View(cat, AllGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"fr", "nl", "en"} {
		t.Run(lang, func(t *testing.T) {
			data := writeTestWorkbook(t, f, WorkbookOptions{Lang: lang, Questionnaires: workbookQuestionnaires})
			x := openWorkbook(t, data)
			charts := drawingEnds(t, data)
			if len(charts) < len(declaredFamilies(cat))*3/4 {
				t.Errorf("found the charts of %d sheets, want most of the %d families'", len(charts), len(declaredFamilies(cat)))
			}
			areas := map[string]string{}
			for _, dn := range x.GetDefinedName() {
				if dn.Name == "_xlnm.Print_Area" {
					areas[dn.Scope] = dn.RefersTo
				}
			}
			for _, sheet := range x.GetSheetList() {
				layout, err := x.GetPageLayout(sheet)
				if err != nil {
					t.Fatal(err)
				}
				props, err := x.GetSheetProps(sheet)
				if err != nil {
					t.Fatal(err)
				}
				if layout.Size == nil || *layout.Size != a4PaperSize || layout.Orientation == nil ||
					layout.FitToWidth == nil || *layout.FitToWidth != 1 || layout.FitToHeight == nil ||
					(*layout.FitToHeight != 0 && *layout.FitToHeight != maxPrintPages) || props.FitToPage == nil || !*props.FitToPage {
					t.Errorf("sheet %q: page layout %s, fit to page %v; want A4, fit to 1 page wide and 0 or %d high",
						sheet, fmtLayout(layout), props.FitToPage, maxPrintPages)
				}
				m := regexp.MustCompile(`^'((?:[^']|'')+)'!\$A\$1:\$([A-Z]+)\$(\d+)$`).FindStringSubmatch(areas[sheet])
				if m == nil || strings.ReplaceAll(m[1], "''", "'") != sheet {
					t.Errorf("sheet %q: print area %q, want A1 to a cell of the sheet", sheet, areas[sheet])
					continue
				}
				lastCol, _ := excelize.ColumnNameToNumber(m[2])
				lastRow, _ := strconv.Atoi(m[3])
				rows, err := x.GetRows(sheet)
				if err != nil {
					t.Fatal(err)
				}
				for i, row := range rows {
					for j, v := range row {
						if v != "" && (j+1 > lastCol || i+1 > lastRow) {
							cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
							t.Errorf("sheet %q: %s = %q is outside the print area %s", sheet, cell, v, areas[sheet])
						}
					}
				}
				for _, end := range charts[sheet] {
					if end[0] > lastCol || end[1] > lastRow {
						cell, _ := excelize.CoordinatesToCellName(end[0], end[1])
						t.Errorf("sheet %q: a chart ends at %s, outside the print area %s", sheet, cell, areas[sheet])
					}
				}
				if panes, err := x.GetPanes(sheet); err == nil && panes.Freeze {
					if got := printTitleRow(t, x, sheet); got != panes.YSplit {
						t.Errorf("sheet %q: print titles row %d, want the frozen row %d", sheet, got, panes.YSplit)
					}
				}
			}
		})
	}
}

func fmtLayout(l excelize.PageLayoutOptions) string {
	deref := func(p *int) string {
		if p == nil {
			return "unset"
		}
		return strconv.Itoa(*p)
	}
	orientation := "unset"
	if l.Orientation != nil {
		orientation = *l.Orientation
	}
	return "size " + deref(l.Size) + ", " + orientation + ", fit " + deref(l.FitToWidth) + " wide " + deref(l.FitToHeight) + " high"
}
