package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/paper"
	"github.com/tamtam-ngo/tamtam/queries"
)

// paperValidRow is a complete entry questionnaire as an intake worker types it from paper:
// dropdown entries, codes, numbers.
func paperValidRow() map[string]any {
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
		"residence.status": "no_permit", "gp.before": "0", "release.stay_in_be": "9", "link.identifier": "HAR-2025-017",
	}
}

// paperWith returns row with the item/value pairs changed; a nil value empties the cell.
func paperWith(row map[string]any, changes ...any) map[string]any {
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

// paperRows are the forms of the import tests, from row 3: valid ones, one per problem of
// the issue (age 17, a code not in the list, a skip-logic violation, a bad month, an
// unknown code in a multi), a repeated form and a month typed as a date.
func paperRows() []map[string]any {
	minimal := map[string]any{"meta.consent": "1", "meta.entry_month": "2025-02", "demo.gender": "F",
		"demo.age": 52, "demo.nationality": "BE", "drug.lifetime_any": "0"}
	return []map[string]any{
		paperValidRow(), // row 3
		{"meta.consent": "0 — Non", "meta.entry_month": "2025-04"},      // 4: a refusal
		paperWith(paperValidRow(), "demo.age", 17),                      // 5
		paperWith(paperValidRow(), "demo.gender", "Q"),                  // 6
		paperWith(minimal, "drug.lifetime", "cannabis"),                 // 7
		paperWith(paperValidRow(), "meta.entry_month", "2025-13"),       // 8
		paperWith(paperValidRow(), "drug.lifetime", "cannabis;tobacco"), // 9
		paperValidRow(), // 10: the same form as row 3
		paperWith(minimal, "meta.entry_month", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "demo.gender", "f"), // 11
	}
}

func paperFixedRows() []map[string]any {
	rows := paperRows()
	rows[2] = paperWith(rows[2], "demo.age", 18)
	rows[3] = paperWith(rows[3], "demo.gender", "X")
	rows[4] = paperWith(rows[4], "drug.lifetime", nil)
	rows[5] = paperWith(rows[5], "meta.entry_month", "2025-01")
	rows[6] = paperWith(rows[6], "drug.lifetime", "cannabis;heroin")
	return rows
}

// The problems of paperRows, as tamtam import prints them, and the cells they mark.
var (
	paperProblems = []string{
		"row 5, demo.age: out_of_range: must be between 18 and 99",
		"row 6, demo.gender: invalid_choice: not one of the choice codes of this item",
		"row 7, drug.lifetime: not_applicable: this item does not apply given the answers to drug.lifetime_any; leave it out",
		"row 8, meta.entry_month: bad_month: must be a month written YYYY-MM (never a full date)",
		"row 9, drug.lifetime: invalid_choice: not one of the choice codes of this item",
	}
	paperMarkedCells = []string{"C8", "G6", "H5", "P7", "P9"}
)

// paperFill writes rows into the data sheet of the template at tmpl, from row 3, as a
// spreadsheet stores them (numbers as numbers, a time as a date cell), and saves it at out.
func paperFill(t *testing.T, tmpl, out string, rows []map[string]any) {
	t.Helper()
	f, err := excelize.OpenFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheet := f.GetSheetName(0)
	header, _ := f.GetRows(sheet)
	date, _ := f.NewStyle(&excelize.Style{NumFmt: 17})
	for i, row := range rows {
		for code, v := range row {
			col := slices.Index(header[0], code)
			if col < 0 {
				t.Fatalf("template has no column %s", code)
			}
			cell, _ := excelize.CoordinatesToCellName(col+1, i+3)
			if err := f.SetCellValue(sheet, cell, v); err != nil {
				t.Fatal(err)
			}
			if _, ok := v.(time.Time); ok {
				f.SetCellStyle(sheet, cell, cell, date)
			}
		}
	}
	if err := f.SaveAs(out); err != nil {
		t.Fatal(err)
	}
}

// paperCSV writes rows as a semicolon-separated CSV file under the headers of the template
// at tmpl (item codes, then the row of labels), as Excel saves one in French.
func paperCSV(t *testing.T, tmpl, out string, rows []map[string]any) {
	t.Helper()
	f, err := excelize.OpenFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head, _ := f.GetRows(f.GetSheetName(0))
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	w.Write(head[0])
	w.Write(head[1])
	for _, row := range rows {
		rec := make([]string, len(head[0]))
		for code, v := range row {
			if tm, ok := v.(time.Time); ok {
				v = tm.Format("2006-01")
			}
			rec[slices.Index(head[0], code)] = fmt.Sprint(v)
		}
		w.Write(rec)
	}
	w.Flush()
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPaperTemplate(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(t.Context(), args, &out, &errOut, func(string) string { return "" })
		return code, out.String(), errOut.String()
	}
	wants := map[string]struct{ sheet, label, never string }{
		"fr": {"Données", "Vous êtes\u00a0: *", "Ne jamais écrire"},
		"nl": {"Gegevens", "U bent: *", "Nooit invullen"},
	}
	for _, lang := range []string{"fr", "nl"} {
		path := filepath.Join(dir, "entry."+lang+".xlsx")
		code, out, errOut := cli("template", "--questionnaire", "entry", "--lang", lang, "--out", path)
		if code != 0 || out != fmt.Sprintf("template %s: entry version 1, 42 items, %s\n", path, lang) {
			t.Fatalf("template --lang %s = exit %d, %q, %q", lang, code, out, errOut)
		}
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatalf("template --lang %s: %v", lang, err)
		}
		want := wants[lang]
		sheets := f.GetSheetList()
		rows, _ := f.GetRows(want.sheet)
		if sheets[0] != want.sheet || len(rows) != 2 || rows[0][0] != "submission_id" || rows[0][7] != "demo.age" || rows[1][6] != want.label {
			t.Errorf("template %s: sheets %q, first rows %q", lang, sheets, rows)
		}
		dvs, _ := f.GetDataValidations(want.sheet)
		var gender, age string
		for _, dv := range dvs {
			switch dv.Sqref {
			case "G3:G1048576":
				gender = dv.Type + " " + dv.Formula1
			case "H3:H1048576":
				age = dv.Type + " " + dv.Formula1 + " " + dv.Formula2
			}
		}
		if gender != "list Codes!$D$3:$D$7" || age != "whole 18 99" {
			t.Errorf("template %s: demo.gender validation %q, demo.age %q", lang, gender, age)
		}
		entries, _ := f.GetCellValue("Codes", "D3")
		inst, _ := f.GetRows(sheets[1])
		if !strings.HasPrefix(entries, "M — ") || !strings.Contains(fmt.Sprint(inst), want.never) {
			t.Errorf("template %s: first gender entry %q; instructions sheet %s lacks %q", lang, entries, sheets[1], want.never)
		}
		f.Close()
	}
	if code, _, errOut := cli("template", "--questionnaire", "followup", "--lang", "en", "--out", filepath.Join(dir, "f.xlsx")); code != 0 {
		t.Errorf("template followup = exit %d, %s", code, errOut)
	}
	for _, args := range [][]string{
		{"template", "--out", filepath.Join(dir, "x.xlsx"), "--lang", "de"},
		{"template", "--out", filepath.Join(dir, "x.xlsx"), "--questionnaire", "exit"},
		{"template", "--out", filepath.Join(dir, "x.xlsx"), "--version", "9"},
		{"template"},
		{"import", "--site", "haren"},
		{"import", filepath.Join(dir, "entry.fr.xlsx")},
		{"import", filepath.Join(dir, "entry.fr.xlsx"), "--site", "atlantis"},
		{"import", filepath.Join(dir, "entry.fr.xlsx"), "--site", "haren", "--report", filepath.Join(dir, "entry.fr.xlsx")},
	} {
		code, out, errOut := cli(args...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "tamtam: ") {
			t.Errorf("tamtam %q = exit %d, %q, %q; want exit 2 and one line on stderr", args, code, out, errOut)
		}
	}
}

// TestPaperImport is the paper workflow end to end on ClickHouse: template, a dry run
// listing every problem with a report marking exactly those cells, a refused import, the
// corrected file stored whole, a re-import storing nothing twice, and the same through CSV.
func TestPaperImport(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "entry.xlsx")
	if code, _, errOut := e.cli("template", "--out", tmpl); code != 0 {
		t.Fatalf("template = exit %d, %s", code, errOut)
	}
	count := func() string { return e.sql("SELECT count(), uniqExact(toString(submission_id)) FROM submissions") }

	faulty := filepath.Join(dir, "faulty.xlsx")
	paperFill(t, tmpl, faulty, paperRows())
	report := filepath.Join(dir, "report.xlsx")
	code, out, errOut := e.cli("import", faulty, "--site", "haren", "--dry-run", "--report", report)
	wantOut := strings.Join(paperProblems, "\n") + "\n" +
		"row 10: same answers as row 3: one questionnaire, counted once\n" +
		"report written to " + report + "\n" +
		"dry run: 9 questionnaire rows (1 repeating an earlier row), 5 problems in 5 rows; nothing stored\n"
	if code != 1 || out != wantOut || errOut != "tamtam: import: dry run found 5 problems in 5 rows\n" {
		t.Errorf("import --dry-run = exit %d\nstdout:\n%s\nstderr: %s\nwant exit 1 and stdout:\n%s", code, out, errOut, wantOut)
	}
	paperCheckReport(t, report, paperMarkedCells)
	if info, err := os.Stat(report); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("report file: %v, mode %v; want 0600 (it holds answers)", err, info.Mode().Perm())
	}

	// A real import of a file with problems stores nothing at all.
	code, out, errOut = e.cli("import", faulty, "--site", "haren")
	if code != 1 || !strings.HasSuffix(out, "9 questionnaire rows (1 repeating an earlier row), 5 problems in 5 rows; nothing stored\n") ||
		errOut != "tamtam: import: nothing stored: 5 problems in 5 rows\n" {
		t.Errorf("import (faulty) = exit %d, %q, %q", code, out, errOut)
	}
	if got := count(); got != "0\t0" {
		t.Fatalf("after a refused import the store holds %s submissions, want none", got)
	}
	if got := e.sql(importTables); got != "0" {
		t.Errorf("after a refused import %s staging tables are left, want none", got)
	}

	// Corrected, every distinct form is stored, anonymised like an API submission.
	fixed := filepath.Join(dir, "fixed.xlsx")
	paperFill(t, tmpl, fixed, paperFixedRows())
	code, out, errOut = e.cli("import", "--site", "haren", fixed)
	if code != 0 || !strings.HasSuffix(out, "import: 9 questionnaire rows (1 repeating an earlier row): 8 stored, 0 already there\n") {
		t.Fatalf("import (fixed) = exit %d, %q, %q", code, out, errOut)
	}
	if got := count(); got != "8\t8" {
		t.Errorf("store holds %s submissions, want 8 distinct", got)
	}
	got := e.sql(`SELECT groupUniqArray(site), countIf(consent = 0), arraySort(groupUniqArray(age_band)),
		countIf(has(answer_item, 'demo.age') AND answer_value[indexOf(answer_item, 'demo.age')] IN ('17', '18', '34', '52')),
		countIf(link_id != ''), countIf(has(answer_item, 'link.identifier'))
		FROM submissions`)
	if want := "['haren']\t1\t['','18-24','25-34','45-54']\t0\t5\t0"; got != want {
		t.Errorf("stored (sites, refusals, age bands, exact ages, link ids, identifiers) = %q, want %q", got, want)
	}

	// Importing the same file again, or checking it, stores nothing twice.
	code, out, _ = e.cli("import", fixed, "--site", "haren")
	if code != 0 || !strings.HasSuffix(out, ": 0 stored, 8 already there\n") {
		t.Errorf("re-import = exit %d, %q; want 0 stored", code, out)
	}
	code, out, _ = e.cli("import", fixed, "--site", "haren", "--dry-run")
	if code != 0 || !strings.HasSuffix(out, "no problem: 0 would be stored, 8 already there; nothing stored\n") {
		t.Errorf("dry run of an imported file = exit %d, %q", code, out)
	}
	if got := count(); got != "8\t8" {
		t.Errorf("after re-import the store holds %s submissions, want 8", got)
	}

	// CSV with the same headers: the same problems on the same rows, the same submissions.
	faultyCSV := filepath.Join(dir, "faulty.csv")
	paperCSV(t, tmpl, faultyCSV, paperRows())
	reportCSV := filepath.Join(dir, "report-csv.xlsx")
	code, out, _ = e.cli("import", faultyCSV, "--site", "haren", "--dry-run", "--report", reportCSV)
	if code != 1 || !strings.HasPrefix(out, strings.Join(paperProblems, "\n")+"\n") {
		t.Errorf("import CSV --dry-run = exit %d, %q", code, out)
	}
	paperCheckReport(t, reportCSV, paperMarkedCells)
	fixedCSV := filepath.Join(dir, "fixed.csv")
	newForm := paperWith(paperValidRow(), "demo.age", 61, "link.identifier", nil)
	paperCSV(t, tmpl, fixedCSV, append(paperFixedRows(), newForm))
	code, out, errOut = e.cli("import", fixedCSV, "--site", "haren")
	if code != 0 || !strings.HasSuffix(out, ": 1 stored, 8 already there\n") {
		t.Errorf("import CSV = exit %d, %q, %q; want the one new form stored", code, out, errOut)
	}
	if got := count(); got != "9\t9" {
		t.Errorf("after the CSV import the store holds %s submissions, want 9", got)
	}
	if got := e.sql(importTables); got != "0" {
		t.Errorf("after the imports %s staging tables are left, want none", got)
	}
	// Every run is audited, with counts and never a cell.
	got = e.sql("SELECT action, outcome, count() FROM audit_log WHERE action LIKE 'import%' GROUP BY action, outcome ORDER BY action, outcome FORMAT TSV")
	if want := "import\tfailed\t1\nimport\tok\t3\nimport.check\tfailed\t2\nimport.check\tok\t1"; got != want {
		t.Errorf("audit of the imports:\n%s\nwant\n%s", got, want)
	}
	if got := e.sql("SELECT arraySort(groupArray(detail)) FROM audit_log WHERE action = 'import' AND outcome = 'ok'"); got != "['entry v1: 10 rows, 0 problems, 1 stored, 8 already there','entry v1: 9 rows, 0 problems, 0 stored, 8 already there','entry v1: 9 rows, 0 problems, 8 stored, 0 already there']" {
		t.Errorf("audit details = %s", got)
	}
	if n := e.sql("SELECT count() FROM audit_log WHERE position(detail, 'HAR-2025') > 0 OR position(detail, 'Maroc') > 0"); n != "0" {
		t.Errorf("%s audit rows quote a cell", n)
	}
}

// importTables counts the staging tables of imports in the test's database.
const importTables = `SELECT count() FROM system.tables WHERE database = currentDatabase()
	AND (name LIKE 'import\\_stage\\_%' OR name LIKE 'import\\_commit\\_%')`

// TestPaperImportCrash kills tamtam import (SIGKILL) while it stages a large file: nothing
// of the file is visible, the staging table left behind is dropped by the next start's
// recovery once its lease has expired, and importing the file again stores every row once.
func TestPaperImportCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("long: kills tamtam import while it stages a large file; make test runs it")
	}
	e := newTestEnv(t)
	const rows = 100_000
	file := filepath.Join(t.TempDir(), "entry.csv")
	writeImportCSV(t, file, rows)
	args, _ := json.Marshal([]string{"import", file, "--site", "haren", "--data", e.cfg.Data, "--clickhouse", e.cfg.ClickHouse, "--log-level", "warn"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveArgsEnv+"="+string(args))
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	// Kill it once its staging table exists: the import streams its rows into it, from
	// the first four thousand until the last, long before it commits.
	staging := `SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'import\\_stage\\_%'`
	for e.sql(staging) == "0" {
		select {
		case <-exited:
			t.Fatalf("tamtam import ended before it could be killed while staging:\n%s", logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited

	if got := e.sql("SELECT count() FROM submissions"); got != "0" {
		t.Fatalf("after a killed import the store holds %s submissions, want none", got)
	}
	if got := e.sql(staging); got != "1" {
		t.Fatalf("after a killed import %s uncommitted staging tables are left, want its one (it was killed too late?)", got)
	}
	// The next import recovers only what is stale: its lease is still fresh, so this one
	// stores the file beside the staging table; once the lease expires, recovery drops it.
	code, out, errOut := e.cli("import", file, "--site", "haren")
	if want := fmt.Sprintf("import: %d questionnaire rows: %d stored, 0 already there\n", rows, rows); code != 0 || out != want {
		t.Fatalf("import after the crash = exit %d, %q, %q; want %q", code, out, errOut, want)
	}
	if got := e.sql("SELECT count(), uniqExact(toString(submission_id)) FROM submissions"); got != fmt.Sprintf("%d\t%d", rows, rows) {
		t.Errorf("store holds %s submissions (rows, ids), want %d once each", got, rows)
	}
	if got := e.sql(importTables); got != "1" {
		t.Errorf("%s staging tables left, want the crashed one (its lease is fresh)", got)
	}
	rec, err := e.app.db.RecoverImports(t.Context(), 0) // the owner is known dead
	if err != nil || rec != (queries.ImportRecovery{Dropped: 1}) {
		t.Errorf("RecoverImports = %+v, %v; want the crashed import's table dropped", rec, err)
	}
	if got := e.sql(importTables); got != "0" {
		t.Errorf("after recovery %s staging tables are left, want none", got)
	}
	if got := e.sql("SELECT count() FROM submissions"); got != strconv.Itoa(rows) {
		t.Errorf("after recovery the store holds %s submissions, want %d", got, rows)
	}
}

// paperCheckReport checks that exactly cells are filled light red on the data sheet of the
// report, each with a tamtam comment.
func paperCheckReport(t *testing.T, path string, cells []string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	defer f.Close()
	sheet := f.GetSheetName(0)
	comments, _ := f.GetComments(sheet)
	var commented, filled []string
	for _, c := range comments {
		if c.Author == "tamtam" {
			commented = append(commented, c.Cell)
		}
	}
	rows, _ := f.GetRows(sheet)
	for r := 1; r <= len(rows); r++ {
		for c := 1; c <= len(rows[0]); c++ {
			cell, _ := excelize.CoordinatesToCellName(c, r)
			id, _ := f.GetCellStyle(sheet, cell)
			if st, _ := f.GetStyle(id); st.Fill.Type == "pattern" && slices.Equal(st.Fill.Color, []string{"FFC7CE"}) {
				filled = append(filled, cell)
			}
		}
	}
	slices.Sort(commented)
	slices.Sort(filled)
	if !slices.Equal(commented, cells) || !slices.Equal(filled, cells) {
		t.Errorf("report %s: commented %q, filled %q; want exactly %q", filepath.Base(path), commented, filled, cells)
	}
}

// TestPaperImportExplicitIDs: rows with their own submission_id are checked against the
// store in one look-up in the staging table: a stored id with other answers refuses the
// file (nothing stored, nothing staged left), the same answers are already there.
func TestPaperImportExplicitIDs(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "entry.xlsx")
	if code, _, errOut := e.cli("template", "--out", tmpl); code != 0 {
		t.Fatalf("template = exit %d, %s", code, errOut)
	}
	const id1, id2, id3 = "0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f", "1b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f", "2b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"
	first := filepath.Join(dir, "first.csv")
	paperCSV(t, tmpl, first, []map[string]any{paperWith(paperValidRow(), "submission_id", id1), paperWith(paperValidRow(), "submission_id", id2, "demo.age", 40)})
	if code, out, errOut := e.cli("import", first, "--site", "haren"); code != 0 || !strings.HasSuffix(out, ": 2 stored, 0 already there\n") {
		t.Fatalf("import = exit %d, %q, %q", code, out, errOut)
	}
	// id2 again with other answers, and a new form: refused as a whole.
	second := filepath.Join(dir, "second.csv")
	paperCSV(t, tmpl, second, []map[string]any{paperWith(paperValidRow(), "submission_id", id3), paperWith(paperValidRow(), "submission_id", id2, "demo.age", 50)})
	code, out, errOut := e.cli("import", second, "--site", "haren")
	want := "row 4, submission_id: conflict: a submission with this submission_id is already stored with other answers\n"
	if code != 1 || !strings.HasPrefix(out, want) || errOut != "tamtam: import: nothing stored: 1 problems in 1 rows\n" {
		t.Errorf("import of a conflict = exit %d, %q, %q; want %q first", code, out, errOut, want)
	}
	if got := e.sql("SELECT count() FROM submissions"); got != "2" {
		t.Errorf("after a refused import the store holds %s submissions, want 2", got)
	}
	if got := e.sql(importTables); got != "0" {
		t.Errorf("after a refused import %s staging tables are left, want none", got)
	}
	// The first file again: nothing new.
	if code, out, _ := e.cli("import", first, "--site", "haren"); code != 0 || !strings.HasSuffix(out, ": 0 stored, 2 already there\n") {
		t.Errorf("re-import = exit %d, %q", code, out)
	}
}

// TestPaperStoreConflictMeanwhile: a submission stored under a row's own id between Check
// and Store (by the API, another import) is the one way for part of a file to be
// refused: Store names the row, stores the others, and never stores the id twice.
func TestPaperStoreConflictMeanwhile(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "entry.xlsx")
	if code, _, errOut := e.cli("template", "--out", tmpl); code != 0 {
		t.Fatalf("template = exit %d, %s", code, errOut)
	}
	const id1, id2 = "0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f", "1b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"
	file := filepath.Join(dir, "forms.csv")
	paperCSV(t, tmpl, file, []map[string]any{paperWith(paperValidRow(), "submission_id", id1), paperWith(paperValidRow(), "submission_id", id2, "demo.age", 40), paperValidRow()})
	im := &paper.Importer{Catalog: e.app.catalog, Preparer: e.app.api, Lookup: e.app.db, Stager: stager{e.app.db}}
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b, err := im.Check(t.Context(), in, paper.Options{Site: "haren"})
	if err != nil || len(b.Problems) != 0 || b.Valid() != 3 {
		t.Fatalf("Check = %v, %v; want 3 valid rows", b, err)
	}
	// Meanwhile id2 is stored with other answers.
	other := collector.Record{SubmissionID: id2, Questionnaire: "entry", Version: 1, Site: "haren", Month: "2025-03",
		Year: 2025, Fingerprint: "other", Received: time.Now()}
	if err := e.app.db.InsertRecords(t.Context(), []collector.Record{other}); err != nil {
		t.Fatal(err)
	}
	res, err := im.Store(t.Context(), b)
	if err == nil || !strings.Contains(err.Error(), "rows 4:") || res != (paper.Result{Stored: 2}) {
		t.Errorf("Store = %+v, %v; want 2 stored and row 4 named", res, err)
	}
	if got := e.sql("SELECT count(), uniqExact(toString(submission_id)), countIf(fingerprint = 'other') FROM submissions"); got != "3\t3\t1" {
		t.Errorf("store holds (rows, ids, the other one) %s, want 3 3 1", got)
	}
	if got := e.sql(importTables); got != "0" {
		t.Errorf("%s staging tables are left, want none", got)
	}
}
