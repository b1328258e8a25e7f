package reports

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/xuri/excelize/v2"
)

// Print layout of the workbook's sheets (issue #15): every sheet prints on A4, one page
// wide, with its table's header row at the top of every page, its charts inside the
// printed range, and the sheet name and page number in the footer.
//
// The choices below (orientation, fitting the height too) come from an estimate of the
// sheet's printed size, made as Excel and LibreOffice draw Arial 10: a column of width w
// is 7w+5 pixels at 96 dpi, a row without a height of its own 12.75 points.
const (
	a4Short, a4Long = 210.0, 297.0 // A4, in millimetres
	// Margins, in inches as the file states them: narrow sides leave room for the
	// columns, the header and footer sit in the top and bottom margins.
	printSide, printTopBottom, printHeaderFooter = 0.4, 0.6, 0.3
	// minPrintScale is the smallest scale a sheet is shrunk to so that it fits on
	// maxPrintPages pages: below it, 10-point text is too small to read, and a long sheet
	// prints on more pages at the scale that fits its width.
	minPrintScale = 0.5
	maxPrintPages = 2
	// minPortraitScale is the smallest scale a sheet prints at in portrait: a wider
	// sheet prints in landscape, where it is shrunk less.
	minPortraitScale = 0.75
	// defaultRowPoints is the height of a row with Arial 10 and no height of its own.
	defaultRowPoints = 12.75
	// maxRowPoints is the greatest row height Excel allows (excelize refuses more).
	maxRowPoints = excelize.MaxRowHeight
	// a4PaperSize is A4 in the paper sizes of SpreadsheetML (ECMA-376 §18.3.1.63).
	a4PaperSize = 9
	mmPerInch   = 25.4
)

// printLayout is what a sheet prints: the range from A1 to lastCol, lastRow, and the
// rows repeated at the top of every page.
type printLayout struct {
	lastCol, lastRow int
	// titleFrom, titleTo are the rows repeated at the top of every page; 0 for none.
	titleFrom, titleTo int
	// fitHeight lets the sheet shrink below the scale that fits its width so as to fit
	// on maxPrintPages pages, if it stays at minPrintScale or more.
	fitHeight bool
}

// colMillimetres is the printed width of a column of width w (in characters).
func colMillimetres(w float64) float64 { return (7*w + 5) * mmPerInch / 96 }

// printSize estimates the printed width and height of layout's range of sheet at 100 %,
// in millimetres.
func (b *workbook) printSize(sheet string, p printLayout) (width, height float64) {
	for c := 1; c <= p.lastCol; c++ {
		name, _ := excelize.ColumnNumberToName(c)
		w, err := b.x.GetColWidth(sheet, name)
		if err != nil {
			b.err = err
			return 0, 0
		}
		width += colMillimetres(w)
	}
	points := 0.0
	for r := 1; r <= p.lastRow; r++ {
		h, err := b.x.GetRowHeight(sheet, r)
		if err != nil || h <= 0 {
			h = defaultRowPoints
		}
		points += max(h, defaultRowPoints)
	}
	return width, points * mmPerInch / 72
}

// printSetup prepares sheet for print as p says: A4, in landscape if the sheet is too
// wide for portrait, fitted to one page wide (and to maxPrintPages high where p.fitHeight
// allows it), the range as print area, the title rows as print titles, and the sheet name
// and page number in the footer.
func (b *workbook) printSetup(sheet string, p printLayout) {
	if b.fitRows(sheet); b.err != nil {
		return
	}
	width, height := b.printSize(sheet, p)
	if b.err != nil {
		return
	}
	side := 2 * printSide * mmPerInch
	topBottom := 2 * printTopBottom * mmPerInch
	orientation, fitHeight := "portrait", 0
	pageW, pageH := a4Short-side, a4Long-topBottom
	if pageW/width < minPortraitScale {
		orientation, pageW, pageH = "landscape", a4Long-side, a4Short-topBottom
	}
	scale := min(1, pageW/width)
	if p.fitHeight && height*scale > maxPrintPages*pageH && maxPrintPages*pageH/height >= minPrintScale {
		fitHeight = maxPrintPages
	}
	b.err = b.x.SetPageLayout(sheet, &excelize.PageLayoutOptions{Size: new(a4PaperSize),
		Orientation: new(orientation), FitToWidth: new(1), FitToHeight: new(fitHeight)})
	if b.err == nil {
		b.err = b.x.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: new(true)})
	}
	if b.err == nil {
		b.err = b.x.SetPageMargins(sheet, &excelize.PageLayoutMarginsOptions{
			Left: new(printSide), Right: new(printSide), Top: new(printTopBottom), Bottom: new(printTopBottom),
			Header: new(printHeaderFooter), Footer: new(printHeaderFooter)})
	}
	if b.err == nil {
		// Left the sheet name, right the page of the pages: no words to translate.
		b.err = b.x.SetHeaderFooter(sheet, &excelize.HeaderFooterOptions{OddFooter: "&L&8&A&R&8&P / &N"})
	}
	ref := "'" + strings.ReplaceAll(sheet, "'", "''") + "'!"
	last, _ := excelize.CoordinatesToCellName(p.lastCol, p.lastRow, true)
	if b.err == nil {
		b.err = b.x.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Area", RefersTo: ref + "$A$1:" + last, Scope: sheet})
	}
	if b.err == nil && p.titleFrom > 0 {
		b.err = b.x.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", Scope: sheet,
			RefersTo: ref + "$" + strconv.Itoa(p.titleFrom) + ":$" + strconv.Itoa(max(p.titleFrom, p.titleTo))})
	}
}

// chartEnd returns the column and row of the cell where a chart of width by height
// pixels anchored at col, row ends, as excelize places it: a column of width w is
// int(8w+0.5) pixels, a row 20 pixels unless it has a height of its own.
func (b *workbook) chartEnd(sheet string, col, row, width, height int) (int, int) {
	for ; ; col++ {
		name, _ := excelize.ColumnNumberToName(col)
		w, _ := b.x.GetColWidth(sheet, name)
		if width -= int(8*w + 0.5); width <= 0 {
			break
		}
	}
	for ; ; row++ {
		h, _ := b.x.GetRowHeight(sheet, row)
		if height -= int(math.Ceil(4.0 / 3.4 * h)); height <= 0 {
			break
		}
	}
	return col, row
}

// wrappedCell is a cell whose text wraps, for the height of its row.
type wrappedCell struct {
	col, row int
	text     string
	bold     bool
}

// fitRows gives every row of sheet with wrapped text the height its longest cell needs,
// unless the row has a height already. Excel makes a row without a height fit its
// wrapped text, LibreOffice keeps it one line high and the text runs over the next rows,
// in print too.
func (b *workbook) fitRows(sheet string) {
	lines := map[int]int{}
	for _, c := range b.wrapped[sheet] {
		name, _ := excelize.ColumnNumberToName(c.col)
		w, err := b.x.GetColWidth(sheet, name)
		if err != nil {
			b.err = err
			return
		}
		lines[c.row] = max(lines[c.row], wrappedLines(c.text, c.bold, w))
	}
	rows := make([]int, 0, len(lines))
	for r := range lines {
		rows = append(rows, r)
	}
	slices.Sort(rows)
	for _, r := range rows {
		if b.err != nil || lines[r] < 2 {
			continue
		}
		if h, err := b.x.GetRowHeight(sheet, r); err != nil || h > defaultRowPoints+3 {
			continue // a height of its own
		}
		// Excel's tallest row; a longer text is cut there, on screen as on paper.
		b.err = b.x.SetRowHeight(sheet, r, min(float64(lines[r])*defaultRowPoints+3, maxRowPoints))
	}
}

// wrappedLines estimates how many lines text takes in Arial 10 in a column of width w,
// wrapped at spaces as Excel and LibreOffice do, with the widths of Arial's glyphs
// rounded up so that the estimate errs on the side of a line too many.
func wrappedLines(text string, bold bool, w float64) int {
	room := 7*w - 2 // pixels inside the cell's padding
	glyph := func(r rune) float64 {
		px := 6.0 // lower case, digits, most punctuation
		switch {
		case r == ' ':
			px = 3
		case strings.ContainsRune("iljtf.,;:'!|()[]", r):
			px = 3.5
		case unicode.IsUpper(r) || strings.ContainsRune("mwMW%—–", r):
			px = 9
		}
		if bold {
			px *= 1.1
		}
		return px
	}
	n := 0
	for _, para := range strings.Split(text, "\n") {
		n++
		line := 0.0
		for i, word := range strings.Split(para, " ") {
			ww := 0.0
			for _, r := range word {
				ww += glyph(r)
			}
			switch {
			case i == 0:
				line = ww
			case line+glyph(' ')+ww <= room:
				line += glyph(' ') + ww
			default:
				n++
				line = ww
			}
			for line > room { // a word longer than the column breaks anywhere
				n++
				line -= room
			}
		}
	}
	return n
}
