// This file writes the report of a check: the file given back with its faulty cells
// marked.

package paper

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Reports mark faulty cells with this fill and comments by this author.
const (
	highlightColor = "FFC7CE"
	reportAuthor   = "tamtam"
)

// The largest files WriteReport annotates: it parses the data sheet whole, some 25 times
// its size in memory (a template of 10,000 rows, 16.6 MB unzipped, with a problem on each
// row took 400 MB), and a CSV file becomes such a sheet.
const (
	maxReportUnzipped = 16 << 20
	maxReportRows     = 10_000
)

// WriteReport writes the file b was read from (src) back as a workbook with every faulty
// cell filled light red and commented with its problems (those kept in b: see
// Options.MaxProblems); a problem of a whole row is marked on its first cell. A CSV file
// becomes a workbook of text cells. The marks of an earlier report are removed first (a
// comment on a faulty cell is replaced), so that a corrected report can be checked again
// and imported. A file larger than a template of about 10,000 rows is not annotated: the
// error then has [collector.CodeTooLarge].
func WriteReport(w io.Writer, src io.Reader, b *Batch) error {
	var (
		f     *excelize.File
		sheet string
		err   error
	)
	switch b.Format {
	case "xlsx":
		var (
			data []byte
			size uint64
		)
		if data, size, err = readWorkbook(src); err != nil {
			return err
		}
		if size > maxReportUnzipped {
			return tooLarge(fmt.Sprintf("the workbook unzips to %s, and tamtam annotates workbooks of at most %s "+
				"(about %d rows): correct the rows listed, or split the file", megabytes(size), megabytes(maxReportUnzipped), maxReportRows))
		}
		if f, err = openBytes(data); err != nil {
			return err
		}
		sheet = b.Sheet
	case "csv":
		if b.records > maxReportRows {
			return tooLarge(fmt.Sprintf("the file has %d rows, and tamtam annotates files of at most %d: correct the rows listed, or split the file",
				b.records, maxReportRows))
		}
		sheet = DataSheetNames.EN
		if f, err = csvWorkbook(src, sheet, b.columns); err != nil {
			return err
		}
	default:
		return fmt.Errorf("paper: report: unknown format %q", b.Format)
	}
	defer f.Close()
	m := &marker{f: f, sheet: sheet, restyled: map[int]int{}}
	if err := m.clear(); err != nil {
		return err
	}
	if err := m.mark(b.Problems); err != nil {
		return err
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("paper: write report: %w", err)
	}
	return nil
}

// csvWorkbook copies a CSV file into a new workbook, every cell as text, and at most
// columns+1 cells a row when columns > 0 (a row too wide is marked on the one after).
func csvWorkbook(src io.Reader, sheet string, columns int) (*excelize.File, error) {
	c, err := openCSV(bufio.NewReaderSize(src, 64<<10))
	if err != nil {
		return nil, err
	}
	f := excelize.NewFile()
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		f.Close()
		return nil, err
	}
	style, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Family: fontFamily, Size: 10}, NumFmt: 49})
	if err != nil {
		f.Close()
		return nil, err
	}
	width := 0
	for {
		n, cells, ok := c.next()
		if !ok {
			break
		}
		if n > maxReportRows {
			f.Close()
			return nil, tooLarge(fmt.Sprintf("the file has more than %d rows, and tamtam annotates files of at most %d", maxReportRows, maxReportRows))
		}
		if cells = trimRow(cells); columns > 0 {
			cells = cells[:min(len(cells), columns+1)]
		}
		row := make([]any, len(cells))
		for i, v := range cells {
			if tooLongCell(v) { // marked as too long; a spreadsheet cell cannot hold it
				v = string([]rune(v)[:maxCell])
			}
			row[i] = v
		}
		width = max(width, len(cells))
		if err := f.SetSheetRow(sheet, "A"+strconv.Itoa(n), &row); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := c.err(); err != nil {
		f.Close()
		return nil, err
	}
	if width > 0 {
		last, _ := excelize.ColumnNumberToName(width)
		if err := f.SetColStyle(sheet, "A:"+last, style); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.SetColWidth(sheet, "A", last, 18); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// marker highlights and comments cells of one sheet.
type marker struct {
	f        *excelize.File
	sheet    string
	restyled map[int]int // a cell style -> the same with (or, when clearing, without) the highlight
}

// clear removes the comments and fills of an earlier report.
func (m *marker) clear() error {
	comments, err := m.f.GetComments(m.sheet)
	if err != nil {
		return fmt.Errorf("paper: report: %w", err)
	}
	unfilled := map[int]int{}
	for _, c := range comments {
		if c.Author != reportAuthor {
			continue
		}
		if err := m.f.DeleteComment(m.sheet, c.Cell); err != nil {
			return fmt.Errorf("paper: report: %w", err)
		}
		id, err := m.f.GetCellStyle(m.sheet, c.Cell)
		if err != nil {
			return err
		}
		st, err := m.f.GetStyle(id)
		if err != nil || !highlighted(st) {
			continue
		}
		plain, ok := unfilled[id]
		if !ok {
			st.Fill = excelize.Fill{}
			if plain, err = m.f.NewStyle(st); err != nil {
				return err
			}
			unfilled[id] = plain
		}
		if err := m.f.SetCellStyle(m.sheet, c.Cell, c.Cell, plain); err != nil {
			return err
		}
	}
	return nil
}

// highlighted reports whether a style is the report's fill.
func highlighted(st *excelize.Style) bool {
	return st.Fill.Type == "pattern" && len(st.Fill.Color) == 1 && strings.EqualFold(st.Fill.Color[0], highlightColor)
}

// mark fills the cell of every problem and comments it with all the problems of that
// cell (a problem of a whole row on its first cell), replacing an earlier comment.
func (m *marker) mark(problems []Problem) error {
	type cell struct{ row, col int }
	var order []cell
	notes := map[cell][]string{}
	for _, p := range problems {
		c := cell{p.Row, max(p.Column, 1)}
		if _, ok := notes[c]; !ok {
			order = append(order, c)
		}
		note := p.Code + ": " + p.Message
		if p.Item != "" {
			note = p.Item + ": " + note
		}
		notes[c] = append(notes[c], note)
	}
	existing := map[string]bool{}
	comments, err := m.f.GetComments(m.sheet)
	if err != nil {
		return err
	}
	for _, c := range comments {
		existing[c.Cell] = true
	}
	for _, c := range order {
		name, err := excelize.CoordinatesToCellName(c.col, c.row)
		if err != nil {
			return err
		}
		if err := m.fill(name); err != nil {
			return err
		}
		if existing[name] {
			if err := m.f.DeleteComment(m.sheet, name); err != nil {
				return err
			}
		}
		text := strings.Join(notes[c], "\n")
		if err := m.f.AddComment(m.sheet, excelize.Comment{Cell: name, Author: reportAuthor, Text: text,
			Width: 320, Height: uint(40 + 30*len(notes[c]))}); err != nil {
			return fmt.Errorf("paper: report: comment %s: %w", name, err)
		}
	}
	return nil
}

// fill highlights a cell, keeping the rest of its style (number format, font…).
func (m *marker) fill(cell string) error {
	id, err := m.f.GetCellStyle(m.sheet, cell)
	if err != nil {
		return err
	}
	marked, ok := m.restyled[id]
	if !ok {
		st, err := m.f.GetStyle(id)
		if err != nil {
			return err
		}
		st.Fill = excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{highlightColor}}
		if st.Font == nil {
			st.Font = &excelize.Font{Family: fontFamily, Size: 10}
		} else if st.Font.Family == "" {
			st.Font.Family = fontFamily
		}
		if marked, err = m.f.NewStyle(st); err != nil {
			return err
		}
		m.restyled[id] = marked
	}
	return m.f.SetCellStyle(m.sheet, cell, cell, marked)
}
