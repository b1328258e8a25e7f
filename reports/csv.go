package reports

import (
	"encoding/csv"
	"io"
	"strconv"
)

// CSVHeader is the header of the tidy CSV (DESIGN.md §3).
var CSVHeader = []string{"indicator", "breakdown", "group", "numerator", "denominator", "percent", "ci_low", "ci_high", "flag", "questionnaire"}

// WriteCSV writes every published cell of f in tidy form, one row per indicator,
// breakdown and group: the same protected numbers as the workbook. A suppressed value is
// empty and its flag says "suppressed"; codes, not labels, so the file reads the same in
// every language. Entrants by site and another dimension come under I19 with a breakdown
// such as "site+gender" and groups such as "haren+F" ("haren+total", "total+F" for the
// margins). The last column is the questionnaire; a distribution table's rows have the
// indicator ITEM=CHOICE ("needs.topics=language").
func WriteCSV(w io.Writer, f *Figures) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, ind := range f.Indicator {
		for _, b := range ind.Breakdowns {
			for _, r := range b.Rows {
				rec := []string{ind.Decl.PublishedID(), b.Dim, r.Group, count(r.Numerator), count(r.Denominator), "", "", "", r.Share.Flag(), ind.Questionnaire}
				if est, ok := r.Share.Estimate(); ok {
					rec[5], rec[6], rec[7] = percent(est.P), percent(est.Low), percent(est.High)
				}
				if err := cw.Write(rec); err != nil {
					return err
				}
			}
		}
	}
	i19, _ := f.Catalog.Indicator(EntrantsIndicator)
	for _, ct := range f.Entrants {
		breakdown := ct.RowDim + "+" + ct.ColDim
		write := func(group string, n Number) error {
			flag := ""
			if n.Status().Suppressed() {
				flag = "suppressed"
			}
			return cw.Write([]string{EntrantsIndicator, breakdown, group, count(n), "", "", "", "", flag, i19.Questionnaire})
		}
		for r, row := range ct.Rows {
			for c, col := range ct.Cols {
				if err := write(row+"+"+col, ct.Cells[r][c]); err != nil {
					return err
				}
			}
			if err := write(row+"+total", ct.RowTotals[r]); err != nil {
				return err
			}
		}
		for c, col := range ct.Cols {
			if err := write("total+"+col, ct.ColTotals[c]); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func count(n Number) string {
	if v, ok := n.Value(); ok {
		return strconv.Itoa(v)
	}
	return ""
}

// percent writes a share as a percentage with one decimal, the precision of the tables.
func percent(p float64) string { return strconv.FormatFloat(p*100, 'f', 1, 64) }
