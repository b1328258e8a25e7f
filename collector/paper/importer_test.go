package paper

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/tamtam-ngo/tamtam/collector"
)

// testNow is the clock of the API in these tests: months after June 2025 are in the future.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// memStore is an in-memory store with the ingester's rules: a known id with the same
// fingerprint is a replay, with another a conflict.
type memStore struct {
	fps     map[string]string
	submits int
}

func (m *memStore) Submit(_ context.Context, recs []collector.Record) ([]collector.Outcome, error) {
	m.submits++
	outs := make([]collector.Outcome, len(recs))
	for i, r := range recs {
		fp, ok := m.fps[r.SubmissionID]
		switch {
		case !ok:
			m.fps[r.SubmissionID] = r.Fingerprint
			outs[i] = collector.Stored
		case fp == r.Fingerprint:
			outs[i] = collector.Replayed
		default:
			outs[i] = collector.Conflict
		}
	}
	return outs, nil
}

func (m *memStore) Fingerprints(_ context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		if fp, ok := m.fps[id]; ok {
			out[id] = fp
		}
	}
	return out, nil
}

func newImporter(t testing.TB) (*Importer, *memStore) {
	t.Helper()
	sites, err := collector.LoadSites("")
	if err != nil {
		t.Fatal(err)
	}
	key, err := collector.NewKey(bytes.Repeat([]byte{7}, collector.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := collector.BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	api := &collector.API{Catalog: catalog, Sites: sites,
		Anonymiser: &collector.Anonymiser{Keys: &collector.Keyring{Current: key}},
		Now:        func() time.Time { return testNow }}
	store := &memStore{fps: map[string]string{}}
	return &Importer{Catalog: catalog, Preparer: api, Submitter: store, Lookup: store}, store
}

// validRow is a complete entry questionnaire as an intake worker types it: dropdown
// entries, codes, numbers.
func validRow() map[string]any {
	return map[string]any{
		"meta.consent": "1 — Oui", "meta.entry_month": "2025-03", "meta.interview_lang": "fr — Français",
		"meta.already_answered": "0", "demo.gender": "M", "demo.age": 34, "demo.nationality": "MA — Maroc",
		"demo.birth_country": "MA", "demo.legal_status": "remand", "demo.prev_incarcerations": "1",
		"drug.lifetime_any": "1", "drug.lifetime": "cannabis;cocaine", "drug.before_12m": "cannabis",
		"drug.before_30d": "-", "drug.main": "cannabis", "drug.main_route": "2", "drug.main_freq30": "5",
		"drug.main_age_first": 16, "inject.status": "1", "overdose.before_12m": "0", "prev_prison.drug_use": "1",
		"prev_prison.first_use": "0", "prev_prison.injected": "0", "ost.status": "1", "treat.ever": "0",
		"test.hiv_last": "never", "test.hcv_last": "never", "health.self_rated": "2", "mh.psy_treatment_ever": "0",
		"support.wants_help": "1", "lang.fr_nl_sufficient": "1", "interp.needed": "0", "insurance.before": "none",
		"residence.status": "no_permit", "gp.before": "0", "release.stay_in_be": "9",
	}
}

func with(row map[string]any, changes ...any) map[string]any {
	out := maps.Clone(row)
	for i := 0; i < len(changes); i += 2 {
		if changes[i+1] == nil {
			delete(out, changes[i].(string))
		} else {
			out[changes[i].(string)] = changes[i+1]
		}
	}
	return out
}

// testRows are the rows of the import tests, from row 3 of the sheet: the valid ones,
// then one per kind of problem the issue names, then a repeat and a typed date.
func testRows() []map[string]any {
	minimal := map[string]any{"meta.consent": "1", "meta.entry_month": "2025-02", "demo.gender": "F",
		"demo.age": 52, "demo.nationality": "BE", "drug.lifetime_any": "0"}
	return []map[string]any{
		validRow(), // row 3
		{"meta.consent": "0 — Non", "meta.entry_month": "2025-04"}, // 4: a refusal
		with(validRow(), "demo.age", 17),                           // 5: too young
		with(validRow(), "demo.gender", "Q"),                       // 6: not in the list
		with(minimal, "drug.lifetime", "cannabis"),                 // 7: skip logic
		with(validRow(), "meta.entry_month", "2025-13"),            // 8: bad month
		with(validRow(), "drug.lifetime", "cannabis;tobacco"),      // 9: unknown code in a multi
		validRow(), // 10: the same form as row 3
		with(minimal, "meta.entry_month", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "demo.gender", "f"), // 11: a date cell, a lower-case code
	}
}

// wantProblems are the problems of testRows, in the order of the sheet.
var wantProblems = []string{
	"row 5, demo.age: out_of_range: must be between 18 and 99",
	"row 6, demo.gender: invalid_choice: not one of the choice codes of this item",
	"row 7, drug.lifetime: not_applicable: this item does not apply given the answers to drug.lifetime_any; leave it out",
	"row 8, meta.entry_month: bad_month: must be a month written YYYY-MM (never a full date)",
	"row 9, drug.lifetime: invalid_choice: not one of the choice codes of this item",
}

// fixRows corrects the faulty rows of testRows.
func fixRows(rows []map[string]any) []map[string]any {
	rows = slices.Clone(rows)
	rows[2] = with(rows[2], "demo.age", 18)
	rows[3] = with(rows[3], "demo.gender", "X")
	rows[4] = with(rows[4], "drug.lifetime", nil)
	rows[5] = with(rows[5], "meta.entry_month", "2025-01")
	rows[6] = with(rows[6], "drug.lifetime", "cannabis;heroin")
	return rows
}

// FillTemplate writes rows into the data sheet of a template from row 3 and returns the
// workbook. Values are set as a spreadsheet would store them: numbers as numbers, a
// time as a date cell.
func fillTemplate(t *testing.T, tmpl []byte, rows []map[string]any) []byte {
	t.Helper()
	f := openXLSX(t, tmpl)
	sheet := f.GetSheetName(0)
	header, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 17}) // mmm-yy, what Excel picks for "2025-03"
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		for code, v := range row {
			col := slices.Index(header[0], code)
			if col < 0 {
				t.Fatalf("no column %s in the template", code)
			}
			cell, _ := excelize.CoordinatesToCellName(col+1, i+firstDataRow)
			if err := f.SetCellValue(sheet, cell, v); err != nil {
				t.Fatal(err)
			}
			if _, ok := v.(time.Time); ok {
				if err := f.SetCellStyle(sheet, cell, cell, dateStyle); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// csvFileOf writes rows as CSV under the template's headers (and labels when given).
func csvFileOf(t *testing.T, d *collector.Definition, comma rune, labels bool, rows []map[string]any) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma = comma
	header := []string{IDColumn}
	label := []string{idLabels.FR}
	for _, it := range d.Items {
		header = append(header, it.Code)
		label = append(label, it.Label.FR)
	}
	w.Write(header)
	if labels {
		w.Write(label)
	}
	for _, row := range rows {
		rec := make([]string, len(header))
		for code, v := range row {
			if tm, ok := v.(time.Time); ok {
				v = tm.Format("2006-01")
			}
			rec[slices.Index(header, code)] = fmt.Sprint(v)
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

func problemStrings(b *Batch) []string {
	var out []string
	for _, p := range b.Problems {
		out = append(out, p.String())
	}
	return out
}

func check(t *testing.T, im *Importer, data []byte, opts Options) *Batch {
	t.Helper()
	if opts.Site == "" {
		opts.Site = "haren"
	}
	b, err := im.Check(t.Context(), bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Check error: %v", err)
	}
	return b
}

func TestImportWorkbook(t *testing.T) {
	im, store := newImporter(t)
	d := entryDefinition(t)
	for _, lang := range []string{"fr", "nl"} {
		tmpl := templateBytes(t, d, lang)
		file := fillTemplate(t, tmpl, testRows())
		b := check(t, im, file, Options{CountExisting: true})
		if got := problemStrings(b); !slices.Equal(got, wantProblems) {
			t.Errorf("%s: problems =\n%s\nwant\n%s", lang, strings.Join(got, "\n"), strings.Join(wantProblems, "\n"))
		}
		// Row 10 repeats row 3: another person's identical form, counted (issue #11).
		if b.Rows != 9 || b.Valid() != 4 || b.RowsWithProblems() != 5 || len(b.Duplicates) != 0 {
			t.Errorf("%s: rows %d, valid %d, with problems %d, duplicates %v; want 9, 4, 5, none",
				lang, b.Rows, b.Valid(), b.RowsWithProblems(), b.Duplicates)
		}
		if b.Questionnaire != "entry" || b.Version != 1 || b.Format != "xlsx" || b.Sheet != DataSheetNames.In(lang) {
			t.Errorf("%s: batch %s v%d %s sheet %q", lang, b.Questionnaire, b.Version, b.Format, b.Sheet)
		}
		if _, err := im.Store(t.Context(), b); !errors.Is(err, ErrProblems) || store.submits != 0 {
			t.Errorf("%s: Store(batch with problems) = %v after %d submits; want ErrProblems and nothing submitted", lang, err, store.submits)
		}
	}

	// Fixed, the file stores every distinct form, in one call.
	tmpl := templateBytes(t, d, "fr")
	fixed := fillTemplate(t, tmpl, fixRows(testRows()))
	b := check(t, im, fixed, Options{})
	if len(b.Problems) != 0 || b.Valid() != 9 {
		t.Fatalf("fixed file: problems %q, %d valid; want none and 9", problemStrings(b), b.Valid())
	}
	for _, rec := range b.recs {
		if rec.Site != "haren" || rec.Questionnaire != "entry" || rec.Version != 1 {
			t.Errorf("record %s: site %s, %s v%d", rec.SubmissionID, rec.Site, rec.Questionnaire, rec.Version)
		}
		for _, a := range rec.Answers {
			if a.Item == "demo.age" && !slices.Contains(collector.AgeBands, a.Value) {
				t.Errorf("record %s stores demo.age %q, want an age band", rec.SubmissionID, a.Value)
			}
		}
	}
	res, err := im.Store(t.Context(), b)
	if err != nil || res != (Result{Stored: 9}) || store.submits != 1 {
		t.Fatalf("Store(fixed) = %+v, %v after %d submits; want 9 stored in one submit", res, err, store.submits)
	}
	// The row with a typed date and a lower-case code came in as the API would take it.
	if got := b.recs[7].Month; got != "2025-03" {
		t.Errorf("month of a date cell = %q, want 2025-03", got)
	}
	// Importing again, even with the rows in another order, stores nothing.
	rows := fixRows(testRows())
	slices.Reverse(rows)
	again := check(t, im, fillTemplate(t, tmpl, rows), Options{CountExisting: true})
	if again.Existing != 9 {
		t.Errorf("re-import: %d rows found already stored, want 9", again.Existing)
	}
	res, err = im.Store(t.Context(), again)
	if err != nil || res != (Result{Replayed: 9}) {
		t.Errorf("Store(re-import) = %+v, %v; want 9 already there", res, err)
	}
	if len(store.fps) != 9 {
		t.Errorf("store holds %d submissions, want 9", len(store.fps))
	}
	// The same forms through the Dutch template and through CSV are the same submissions.
	for name, data := range map[string][]byte{
		"nl template":                fillTemplate(t, templateBytes(t, d, "nl"), fixRows(testRows())),
		"csv with labels":            csvFileOf(t, d, ';', true, fixRows(testRows())),
		"csv with commas, no labels": csvFileOf(t, d, ',', false, fixRows(testRows())),
	} {
		b := check(t, im, data, Options{CountExisting: true})
		if len(b.Problems) != 0 || b.Existing != 9 || b.Valid() != 9 {
			t.Errorf("%s: problems %q, %d of %d already stored; want none, 9 of 9", name, problemStrings(b), b.Existing, b.Valid())
		}
	}
}

func TestImportCSV(t *testing.T) {
	im, _ := newImporter(t)
	d := entryDefinition(t)
	// With a label row the CSV rows are numbered as in the sheet; without, one less.
	b := check(t, im, csvFileOf(t, d, ';', true, testRows()), Options{})
	if got := problemStrings(b); !slices.Equal(got, wantProblems) {
		t.Errorf("CSV problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantProblems, "\n"))
	}
	if b.Format != "csv" || b.Rows != 9 {
		t.Errorf("CSV batch: format %s, %d rows; want csv, 9", b.Format, b.Rows)
	}
	// "CSV" saved by Excel or LibreOffice in a French locale is Windows-1252, and a label
	// edited here and there still makes a label row.
	latin1, err := charmap.Windows1252.NewEncoder().Bytes(bytes.Replace(csvFileOf(t, d, ';', true, testRows()),
		[]byte("Vous êtes"), []byte("Genre"), 1))
	if err != nil {
		t.Fatal(err)
	}
	b = check(t, im, latin1, Options{})
	if got := problemStrings(b); !slices.Equal(got, wantProblems) {
		t.Errorf("Windows-1252 CSV problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantProblems, "\n"))
	}
	b = check(t, im, csvFileOf(t, d, ',', false, testRows()[2:3]), Options{})
	if got := problemStrings(b); !slices.Equal(got, []string{"row 2, demo.age: out_of_range: must be between 18 and 99"}) {
		t.Errorf("CSV without labels: problems %q", got)
	}
}

func TestImportReport(t *testing.T) {
	im, _ := newImporter(t)
	d := entryDefinition(t)
	file := fillTemplate(t, templateBytes(t, d, "fr"), testRows())
	b := check(t, im, file, Options{})
	var out bytes.Buffer
	if err := WriteReport(&out, bytes.NewReader(file), b); err != nil {
		t.Fatalf("WriteReport error: %v", err)
	}
	report := out.Bytes()
	wantCells := map[string]string{ // cell -> comment
		"H5": "demo.age: out_of_range: must be between 18 and 99",
		"G6": "demo.gender: invalid_choice: not one of the choice codes of this item",
		"P7": "drug.lifetime: not_applicable: this item does not apply given the answers to drug.lifetime_any; leave it out",
		"C8": "meta.entry_month: bad_month: must be a month written YYYY-MM (never a full date)",
		"P9": "drug.lifetime: invalid_choice: not one of the choice codes of this item",
	}
	checkMarks(t, report, wantCells)

	// The report is still the file: fixed there and checked again, its marks go.
	f := openXLSX(t, report)
	sheet := f.GetSheetName(0)
	for cell, v := range map[string]any{"H5": 40, "G6": "X", "P7": "", "C8": "2025-01", "P9": "cannabis;heroin"} {
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	var fixed bytes.Buffer
	f.WriteTo(&fixed)
	b = check(t, im, fixed.Bytes(), Options{})
	if len(b.Problems) != 0 {
		t.Fatalf("fixed report: problems %q", problemStrings(b))
	}
	var again bytes.Buffer
	if err := WriteReport(&again, bytes.NewReader(fixed.Bytes()), b); err != nil {
		t.Fatal(err)
	}
	checkMarks(t, again.Bytes(), map[string]string{})

	// A CSV file comes back as a workbook of its cells.
	data := csvFileOf(t, d, ';', true, testRows())
	b = check(t, im, data, Options{})
	out.Reset()
	if err := WriteReport(&out, bytes.NewReader(data), b); err != nil {
		t.Fatal(err)
	}
	checkMarks(t, out.Bytes(), wantCells)
	csvReport := openXLSX(t, out.Bytes())
	if v, _ := csvReport.GetCellValue(csvReport.GetSheetName(0), "B1"); v != "meta.consent" {
		t.Errorf("CSV report B1 = %q, want the header meta.consent", v)
	}
}

// checkMarks checks that exactly the cells of want are filled light red on the data sheet
// and carry a tamtam comment with the text of want.
func checkMarks(t *testing.T, report []byte, want map[string]string) {
	t.Helper()
	f := openXLSX(t, report)
	sheet := f.GetSheetName(0)
	comments, err := f.GetComments(sheet)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range comments {
		got[c.Cell] = c.Text
		for _, r := range c.Paragraph {
			got[c.Cell] += r.Text
		}
		if c.Author != reportAuthor {
			t.Errorf("comment on %s by %q, want %q", c.Cell, c.Author, reportAuthor)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("comments = %q, want %q", got, want)
	}
	rows, _ := f.GetRows(sheet)
	width := len(rows[0])
	for r := 1; r <= len(rows)+1; r++ {
		for c := 1; c <= width; c++ {
			cell, _ := excelize.CoordinatesToCellName(c, r)
			id, _ := f.GetCellStyle(sheet, cell)
			st, _ := f.GetStyle(id)
			_, faulty := want[cell]
			if highlighted(st) != faulty {
				t.Errorf("cell %s highlighted = %v, want %v", cell, highlighted(st), faulty)
			}
		}
	}
}

func TestImportHeaderProblems(t *testing.T) {
	im, _ := newImporter(t)
	data := []byte("submission_id,meta.consent,meta.entry_month,site,demo.notes,meta.consent,\n" +
		",0,2025-04,haren,,0,\n" +
		",0,2025-05,,,,he said his name\n")
	b := check(t, im, data, Options{})
	want := []string{
		"row 1, site: site_column: a site column is not allowed: the site of every row is given with --site; remove the column",
		"row 1, demo.notes: unknown_column: not an item of entry version 1; remove the column",
		"row 1, meta.consent: duplicate_column: this column is in the file twice; keep one",
		"row 3: unknown_column: this column has no item code in row 1: remove what is written in it",
	}
	if got := problemStrings(b); !slices.Equal(got, want) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range b.Problems {
		if strings.Contains(p.Message, "name") && p.Row == 3 && strings.Contains(p.Message, "he said") {
			t.Error("a message quotes the cell")
		}
	}

	for name, data := range map[string]string{
		"empty":        "",
		"labels first": "Acceptez-vous de répondre,Mois\n1,2025-03\n",
	} {
		if _, err := im.Check(t.Context(), strings.NewReader(data), Options{Site: "haren"}); err == nil {
			t.Errorf("Check(%s) succeeded, want an error", name)
		}
	}
	if _, err := im.Check(t.Context(), bytes.NewReader(templateBytes(t, entryDefinition(t), "en")), Options{Site: "haren", Questionnaire: "followup"}); err == nil ||
		!strings.Contains(err.Error(), "template for questionnaire entry") {
		t.Errorf("Check(entry template as followup) = %v, want a mismatch error", err)
	}
}

func TestImportExplicitIDs(t *testing.T) {
	im, store := newImporter(t)
	d := entryDefinition(t)
	const id1, id2 = "0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f", "1b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"
	rows := []map[string]any{
		with(validRow(), IDColumn, id1),
		with(validRow(), IDColumn, id1, "demo.age", 40), // same id, other answers
		with(validRow(), IDColumn, "12345"),             // not a UUID
	}
	b := check(t, im, fillTemplate(t, templateBytes(t, d, "en"), rows), Options{})
	want := []string{
		"row 4, submission_id: duplicate_id: row 3 has the same submission_id with other answers",
		"row 5, submission_id: invalid_id: must be empty (tamtam derives the id from the answers) or a UUID like 0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f",
	}
	if got := problemStrings(b); !slices.Equal(got, want) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A stored id with other answers is a conflict found before anything is stored.
	store.fps[id2] = "another fingerprint"
	b = check(t, im, fillTemplate(t, templateBytes(t, d, "en"), []map[string]any{with(validRow(), IDColumn, id2), validRow()}), Options{})
	if got := problemStrings(b); !slices.Equal(got, []string{"row 3, submission_id: conflict: a submission with this submission_id is already stored with other answers"}) {
		t.Errorf("problems = %q, want a conflict on row 3", got)
	} else if b.Problems[0].Column != 1 {
		t.Errorf("conflict marked in column %d, want 1 (submission_id)", b.Problems[0].Column)
	}
	if b.recs[0].SubmissionID != id2 || b.recs[1].SubmissionID != DerivedID(b.recs[1].Fingerprint) {
		t.Errorf("ids = %s, %s; want the given one and a derived one", b.recs[0].SubmissionID, b.recs[1].SubmissionID)
	}
}

func TestAnswer(t *testing.T) {
	d := entryDefinition(t)
	wb := &workbook{}
	tests := []struct {
		item, cell string
		src        source
		want       string
	}{
		{"demo.gender", "F — Une femme", wb, `"F"`},
		{"demo.gender", "f", wb, `"F"`},
		{"demo.nationality", "ma", wb, `"MA"`},
		{"demo.prev_incarcerations", "2-4 — 2 à 4 fois", wb, `"2-4"`},
		{"demo.prev_incarcerations", "2-4", wb, `"2-4"`},
		{"demo.gender", "Q", wb, `"Q"`},
		{"drug.lifetime", "cannabis; Cocaine ;", wb, `["cannabis","cocaine"]`},
		{"drug.lifetime", "heroin — Héroïne;crack", wb, `["heroin","crack"]`},
		{"drug.lifetime", "-", wb, `[]`},
		{"demo.age", "34", wb, `34`},
		{"demo.age", "34.5", wb, `34.5`},
		{"demo.age", "trente", wb, `"trente"`},
		{"demo.age", "85010112345", wb, `85010112345`},
		{"meta.entry_month", "2025-03", wb, `"2025-03"`},
		{"meta.entry_month", "45717", wb, `"2025-03"`},
		{"meta.entry_month", "2025-03-01T00:00:00Z", wb, `"2025-03"`},
		{"meta.entry_month", "45717", &csvFile{}, `"45717"`},
		{"meta.entry_month", "2025-03-15", wb, `"2025-03-15"`},
		{"link.identifier", "AB-12.345", wb, `"AB-12.345"`},
	}
	for _, tt := range tests {
		got := answer(d.Item(tt.item), tt.cell, tt.src)
		var v any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Errorf("answer(%s, %q) = %s, not JSON", tt.item, tt.cell, got)
		}
		if string(got) != tt.want {
			t.Errorf("answer(%s, %q) = %s, want %s", tt.item, tt.cell, got, tt.want)
		}
	}
}

func TestDerivedIDs(t *testing.T) {
	im, _ := newImporter(t)
	d := entryDefinition(t)
	ids := func(site string, data []byte) []string {
		b := check(t, im, data, Options{Site: site})
		var out []string
		for _, r := range b.recs {
			out = append(out, r.SubmissionID)
		}
		slices.Sort(out)
		return out
	}
	rows := fixRows(testRows())
	haren := ids("haren", csvFileOf(t, d, ',', false, rows))
	// The same answers written differently: dropdown entries, codes in another order.
	rows[0] = with(rows[0], "drug.lifetime", "cocaine — Cocaïne;cannabis", "demo.gender", "M — Un homme")
	if got := ids("haren", csvFileOf(t, d, ',', false, rows)); !slices.Equal(got, haren) {
		t.Errorf("ids changed with the writing of the same answers:\n%q\n%q", got, haren)
	}
	if got := ids("mons", csvFileOf(t, d, ',', false, rows)); slices.ContainsFunc(got, func(id string) bool { return slices.Contains(haren, id) }) {
		t.Error("the same forms for another site got the same ids")
	}
}

// TestIsNumber: isNumber is numberPattern without the regular expression.
func TestIsNumber(t *testing.T) {
	cases := []string{"", "-", "0", "34", "-34", "007", "34.", "34.5", ".5", "3e", "3e5", "3E+5", "3e-05", "3.4e1",
		"1e600000000", "+3", "3 ", " 3", "3x", "--3", "3.4.5", "3ee5", "٣", "85010112345", "3e+", "-.5", "3.e5"}
	for _, s := range cases {
		if got, want := isNumber(s), numberPattern.MatchString(s); got != want {
			t.Errorf("isNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

// memStaging is a staging area over a memStore, for the importer's side of staging (the
// ClickHouse side is tested in package queries and end to end in cmd/tamtam).
type memStaging struct {
	store                *memStore
	staged               []collector.Record
	stages, adds         int
	committed, discarded bool
}

func (m *memStaging) Stage(context.Context) (Staging, error) { m.stages++; return m, nil }
func (m *memStaging) Add(_ context.Context, recs []collector.Record) error {
	m.adds++
	m.staged = append(m.staged, recs...)
	return nil
}
func (m *memStaging) Stored(_ context.Context, fn func(id, fp string)) error {
	for _, r := range m.staged {
		if fp, ok := m.store.fps[r.SubmissionID]; ok {
			fn(r.SubmissionID, fp)
		}
	}
	return nil
}
func (m *memStaging) Commit(context.Context) error {
	for _, r := range m.staged {
		if _, ok := m.store.fps[r.SubmissionID]; !ok {
			m.store.fps[r.SubmissionID] = r.Fingerprint
		}
	}
	m.committed = true
	return nil
}
func (m *memStaging) Discard(context.Context) error { m.discarded = true; return nil }

// TestImportStaged: with a Stager, every valid row is staged in file order, a file with a
// problem (a conflict found by the one look-up at the end included) is discarded, and a
// clean one is committed by Store.
func TestImportStaged(t *testing.T) {
	im, store := newImporter(t)
	d := entryDefinition(t)
	st := &memStaging{store: store}
	im.Stager = st
	b := check(t, im, csvFileOf(t, d, ';', true, testRows()), Options{})
	if got := problemStrings(b); !slices.Equal(got, wantProblems) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantProblems, "\n"))
	}
	if !st.discarded || len(st.staged) != 4 {
		t.Errorf("file with problems: discarded %v, %d staged; want discarded, the 4 valid rows staged", st.discarded, len(st.staged))
	}
	if _, err := im.Store(t.Context(), b); !errors.Is(err, ErrProblems) || st.committed {
		t.Errorf("Store(problems) = %v, committed %v; want ErrProblems, nothing committed", err, st.committed)
	}

	// A large clean file: staged in blocks, in order, committed once.
	data := demoCSV(t, 10_000)
	st = &memStaging{store: store}
	im.Stager = st
	b = check(t, im, data, Options{})
	if len(b.Problems) != 0 || b.Valid() != len(st.staged) || st.stages != 1 || st.adds < 2 {
		t.Fatalf("clean file: problems %q, %d valid, %d staged in %d stagings, %d adds", problemStrings(b), b.Valid(), len(st.staged), st.stages, st.adds)
	}
	mem := check(t, &Importer{Catalog: im.Catalog, Preparer: im.Preparer}, data, Options{})
	for i, r := range mem.recs {
		if st.staged[i].SubmissionID != r.SubmissionID {
			t.Fatalf("staged record %d is %s, want %s: the order of the file", i, st.staged[i].SubmissionID, r.SubmissionID)
		}
	}
	res, err := im.Store(t.Context(), b)
	if err != nil || !st.committed || res != (Result{Stored: b.Valid()}) || b.Discard(t.Context()) != nil || st.discarded {
		t.Errorf("Store = %+v, %v; committed %v, discarded %v; want all %d stored", res, err, st.committed, st.discarded, b.Valid())
	}

	// Stored again with an explicit id changed: the look-up finds the conflict.
	rows := fixRows(testRows())
	rows[0] = with(rows[0], IDColumn, "0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f")
	store.fps["0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"] = "other answers"
	st = &memStaging{store: store}
	im.Stager = st
	b = check(t, im, csvFileOf(t, d, ',', false, rows), Options{})
	if got := problemStrings(b); !slices.Equal(got, []string{"row 2, submission_id: conflict: a submission with this submission_id is already stored with other answers"}) || !st.discarded {
		t.Errorf("conflict: problems %q, discarded %v", got, st.discarded)
	}
}

// TestIdenticalFormsCount: identical rows are the forms of different people (two
// refusals of one month are two people), each stored; importing the file again stores
// nothing, also after a rotation of the linkage key; one more copy in a later file is
// one more form.
func TestIdenticalFormsCount(t *testing.T) {
	im, store := newImporter(t)
	d := entryDefinition(t)
	refusal := map[string]any{"meta.consent": "0 — Non", "meta.entry_month": "2025-04"}
	rows := []map[string]any{refusal, validRow(), refusal, refusal}
	file := csvFileOf(t, d, ';', true, rows)
	b := check(t, im, file, Options{})
	if len(b.Problems) != 0 || b.Valid() != 4 || len(b.Duplicates) != 0 {
		t.Fatalf("three identical refusals and a form: problems %q, %d valid, duplicates %v; want 4 valid", problemStrings(b), b.Valid(), b.Duplicates)
	}
	if res, err := im.Store(t.Context(), b); err != nil || res.Stored != 4 {
		t.Fatalf("Store = %+v, %v; want 4 stored", res, err)
	}

	// The linkage key is rotated: the ids do not depend on it.
	key2, err := collector.NewKey(bytes.Repeat([]byte{9}, collector.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	api := im.Preparer.(*collector.API)
	api.Anonymiser.Use(&collector.Keyring{Current: key2, Previous: []*collector.Key{api.Anonymiser.Keys.Current}})
	again := check(t, im, file, Options{CountExisting: true})
	if again.Existing != 4 {
		t.Errorf("re-import after a key rotation: %d rows found already stored, want 4", again.Existing)
	}
	if res, err := im.Store(t.Context(), again); err != nil || res.Stored != 0 {
		t.Errorf("Store(re-import) = %+v, %v; want nothing new", res, err)
	}
	// With the same follow-up code, an identical row is the same person's form typed
	// twice: one submission, the repeat reported.
	linked := with(validRow(), "link.identifier", "HAR-2025-017")
	twice := check(t, im, csvFileOf(t, d, ';', true, []map[string]any{linked, linked}), Options{})
	if twice.Valid() != 1 || len(twice.Duplicates) != 1 {
		t.Errorf("two identical rows with one follow-up code: %d valid, duplicates %v; want 1 and the repeat", twice.Valid(), twice.Duplicates)
	}
	// Two people with the same coarsened answers and their own follow-up codes are two.
	other := with(linked, "link.identifier", "HAR-2025-018")
	if two := check(t, im, csvFileOf(t, d, ';', true, []map[string]any{linked, other}), Options{}); two.Valid() != 2 || len(two.Duplicates) != 0 {
		t.Errorf("two rows alike but for their follow-up codes: %d valid, duplicates %v; want 2", two.Valid(), two.Duplicates)
	}
	more := check(t, im, csvFileOf(t, d, ';', true, append(rows, refusal)), Options{CountExisting: true})
	if res, err := im.Store(t.Context(), more); err != nil || res.Stored != 1 || len(store.fps) != 5 {
		t.Errorf("a file with a fourth identical refusal: Store = %+v, %v, %d in the store; want 1 more, 5", res, err, len(store.fps))
	}
}
