// This file reads the header of a file: the row of item codes that says what each
// column holds, and the template's row of labels under it, which is skipped.

package paper

import (
	"fmt"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector"
)

// column is what a column of the file holds.
type column struct {
	item   *collector.Item // nil: the id column, or a column to ignore
	id     bool
	noCode bool // no header: any data in it is a problem
}

// blank reports whether a row has no cell but spaces.
func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// header reads row 1, the item codes, into the columns of rd. The problems of a column
// (unknown, twice, a site column, too long) go to the batch; the error is for a header
// that makes the file unreadable: too many columns, or no item code at all.
func (rd *rowReader) header(row int, cells []string) error {
	cells = trimRow(cells)
	if len(cells) > rd.b.columns {
		return tooLarge(fmt.Sprintf("row %d has %d columns, and the template of %s version %d has %d: tamtam reads at most %d; remove the other columns",
			row, len(cells), rd.d.ID, rd.d.Version, 1+len(rd.d.Items), rd.b.columns))
	}
	rd.itCol = map[string]int{}
	rd.cols = make([]column, len(cells))
	known := 0
	for i, cell := range cells {
		n := i + 1
		code := strings.TrimSpace(strings.TrimPrefix(cell, "\ufeff")) // a CSV from Excel starts with a BOM
		switch {
		case code == "":
			rd.cols[i].noCode = true
		case code == IDColumn && rd.idCol == 0:
			rd.cols[i].id, rd.idCol, rd.b.idCol = true, n, n
		case tooLongCell(code):
			rd.b.problem(Problem{Row: row, Column: n, Item: clip(code, 40), Code: ErrTooLong, Message: tooLongMessage})
		case code == IDColumn || rd.itCol[code] != 0:
			rd.b.problem(Problem{Row: row, Column: n, Item: code, Code: ErrDuplicateColumn, Message: "this column is in the file twice; keep one"})
		case code == "site":
			rd.b.problem(Problem{Row: row, Column: n, Item: code, Code: ErrSiteColumn,
				Message: "a site column is not allowed: the site of every row is given with --site; remove the column"})
		case rd.d.Item(code) == nil:
			// The header is no answer, but shown whole it could fill a page.
			rd.b.problem(Problem{Row: row, Column: n, Item: clip(code, 80), Code: ErrUnknownColumn,
				Message: fmt.Sprintf("not an item of %s version %d; remove the column", rd.d.ID, rd.d.Version)})
		default:
			rd.cols[i].item = rd.d.Item(code)
			rd.itCol[code] = n
			known++
		}
	}
	if known == 0 {
		return fmt.Errorf("paper: row %d holds no item code of %s version %d: it must be the first row of the template (%s, %s…)",
			row, rd.d.ID, rd.d.Version, IDColumn, rd.d.Items[0].Code)
	}
	return nil
}

// labels reports whether the row under the header is the template's row of questions:
// its submission_id cell is that column's label, or at least half of its non-empty cells
// are their column's label in one of the languages (a label edited here and there does
// not make it a questionnaire).
func (rd *rowReader) labels(cells []string) bool {
	matched, filled := 0, 0
	for i, cell := range cells {
		cell = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cell), strings.TrimSpace(requiredMark)))
		if cell == "" || i >= len(rd.cols) {
			continue
		}
		var label collector.Text
		switch c := rd.cols[i]; {
		case c.id:
			label = idLabels
			if cell == label.FR || cell == label.NL || cell == label.EN {
				return true
			}
		case c.item != nil:
			label = c.item.Label
		default:
			continue // an unknown column is reported on row 1
		}
		filled++
		if cell == label.FR || cell == label.NL || cell == label.EN {
			matched++
		}
	}
	return matched > 0 && 2*matched >= filled
}

// column returns the column of an item or envelope field of a row: the envelope's fields
// and items without a column point at the submission_id column, or the row (0).
func (rd *rowReader) column(item string) int {
	if n, ok := rd.itCol[item]; ok {
		return n
	}
	return rd.idCol
}
