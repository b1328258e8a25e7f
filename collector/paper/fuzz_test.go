package paper

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// FuzzImport feeds arbitrary files to the importer, as CSV and as workbooks (the seeds
// are both). Invariants: it never panics; it reports problems on rows of the file; a
// row is counted once, valid or not; and whatever it accepts went through the API's
// validation — every record it would store is for the site given and for a known
// questionnaire, and no exact age or identifier survives in it.
func FuzzImport(f *testing.F) {
	im, store := newImporter(f)
	d, _ := im.Catalog.Latest("entry")

	header := []string{IDColumn}
	for _, it := range d.Items {
		header = append(header, it.Code)
	}
	row := map[string]string{"meta.consent": "1", "meta.entry_month": "2025-03", "demo.gender": "F", "demo.age": "52",
		"demo.nationality": "BE", "drug.lifetime_any": "1", "drug.lifetime": "cannabis;heroin", "link.identifier": "ZQ-4471"}
	line := func(sep string, r map[string]string) string {
		cells := make([]string, len(header))
		for i, h := range header {
			cells[i] = r[h]
		}
		return strings.Join(cells, sep)
	}
	for _, sep := range []string{",", ";"} {
		f.Add([]byte(strings.Join(header, sep) + "\n" + line(sep, row) + "\n" + line(sep, map[string]string{"meta.consent": "0", "meta.entry_month": "2025-04"}) + "\n"))
	}
	f.Add([]byte(strings.Join(header, ",") + "\n" + line(",", map[string]string{"meta.consent": "1", "demo.age": "17", "demo.gender": "Q"}) + "\n"))
	f.Add([]byte("submission_id,meta.consent\n\"unterminated,1\n"))
	f.Add([]byte("\xef\xbb\xbfmeta.consent;meta.entry_month\n0;2025-01\n"))

	var tmpl bytes.Buffer
	if err := WriteTemplate(&tmpl, d, "fr"); err != nil {
		f.Fatal(err)
	}
	f.Add(tmpl.Bytes())
	wb, err := excelize.OpenReader(bytes.NewReader(tmpl.Bytes()))
	if err != nil {
		f.Fatal(err)
	}
	sheet := wb.GetSheetName(0)
	for col, h := range header {
		if v, ok := row[h]; ok {
			cell, _ := excelize.CoordinatesToCellName(col+1, firstDataRow)
			wb.SetCellValue(sheet, cell, v)
		}
	}
	var filled bytes.Buffer
	if _, err := wb.WriteTo(&filled); err != nil {
		f.Fatal(err)
	}
	f.Add(filled.Bytes())

	f.Fuzz(func(t *testing.T, data []byte) {
		// A file that makes the importer hang is a failure too: the worker dies, and the
		// fuzzer keeps the input.
		hang := time.AfterFunc(time.Minute, func() { panic(fmt.Sprintf("Check hangs on %q", data)) })
		defer hang.Stop()
		ctx := context.Background()
		b, err := im.Check(ctx, bytes.NewReader(data), Options{Site: "haren"})
		if err != nil {
			return // the file as a whole is refused, with a message
		}
		if b.Valid() < 0 || b.Valid() > b.Rows || b.RowsWithProblems() > b.Rows+2 {
			t.Fatalf("rows %d, valid %d, rows with problems %d", b.Rows, b.Valid(), b.RowsWithProblems())
		}
		for _, p := range b.Problems {
			if p.Row < 1 || p.Code == "" || p.Message == "" {
				t.Fatalf("problem %+v", p)
			}
		}
		before := len(store.fps)
		res, err := im.Store(ctx, b)
		switch {
		case len(b.Problems) > 0 && err != ErrProblems:
			t.Fatalf("Store of a file with problems = %v, want ErrProblems", err)
		case len(b.Problems) > 0:
			return
		case err != nil:
			t.Fatalf("Store: %v", err)
		}
		if res.Stored+res.Replayed != b.Valid() || len(store.fps) != before+res.Stored {
			t.Fatalf("Store = %+v for %d valid rows; the store grew by %d", res, b.Valid(), len(store.fps)-before)
		}
		for _, rec := range b.recs {
			if rec.Site != "haren" || (rec.Questionnaire != "entry" && rec.Questionnaire != "followup") {
				t.Fatalf("record for %s/%s", rec.Site, rec.Questionnaire)
			}
			for _, a := range rec.Answers {
				if a.Item == "demo.age" && !strings.Contains(a.Value, "-") && !strings.HasSuffix(a.Value, "+") && a.Value != "8" && a.Value != "9" {
					t.Fatalf("exact age %q stored", a.Value)
				}
				if a.Item == "link.identifier" {
					t.Fatalf("identifier stored")
				}
			}
		}
	})
}
