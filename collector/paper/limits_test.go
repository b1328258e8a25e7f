package paper

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
)

// rezip rewrites the parts of a workbook through edit (which may drop a part by returning
// nil) and adds the parts of extra as they are.
func rezip(t *testing.T, data []byte, edit func(name string, body []byte) []byte, extra ...rawPart) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if body = edit(f.Name, body); body == nil {
			continue
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	for _, p := range extra {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate,
			CompressedSize64: uint64(len(p.zipped)), UncompressedSize64: p.declared})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.zipped)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// rawPart is a part written as it is: its declared size need not be what it unzips to.
type rawPart struct {
	name     string
	declared uint64
	zipped   []byte
}

// deflated compresses b as a zip part would be.
func deflated(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// padSheet returns an edit that pads the data sheet with n bytes of white space, valid
// XML that zips a thousand times smaller: the zip bomb of issue #11.
func padSheet(n int) func(string, []byte) []byte {
	return func(name string, body []byte) []byte {
		if name != "xl/worksheets/sheet1.xml" {
			return body
		}
		i := bytes.Index(body, []byte("</sheetData>"))
		return slices.Concat(body[:i], bytes.Repeat([]byte(" "), n), body[i:])
	}
}

var rowRef = regexp.MustCompile(`r="([A-Z]*)3"`)

// growSheet returns an edit that repeats row 3 of the data sheet as rows 3 to 2+n: a
// sheet as large as a real one of n rows, and as compressible.
func growSheet(n int) func(string, []byte) []byte {
	return func(name string, body []byte) []byte {
		if name != "xl/worksheets/sheet1.xml" {
			return body
		}
		s := string(body)
		i := strings.Index(s, `<row r="3"`)
		j := i + strings.Index(s[i:], "</row>") + len("</row>")
		var b strings.Builder
		b.WriteString(s[:i])
		for r := 3; r < 3+n; r++ {
			b.WriteString(rowRef.ReplaceAllString(s[i:j], `r="${1}`+strconv.Itoa(r)+`"`))
		}
		b.WriteString(s[j:])
		return []byte(b.String())
	}
}

// allocated returns the bytes allocated while fn runs: a bound of how much the heap grew.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// privateTempDir points os.TempDir at a directory of the test's and returns it.
func privateTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	if os.TempDir() != dir {
		t.Fatalf("os.TempDir() = %s, want %s", os.TempDir(), dir)
	}
	return dir
}

// tempFiles returns the files in dir: the temporary files a workbook left there.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// tooLargeError checks that err is a CodeTooLarge error (413) whose message and fields
// name every part of want, and returns it.
func tooLargeError(t *testing.T, err error, want ...string) *collector.Error {
	t.Helper()
	var ce *collector.Error
	if !errors.As(err, &ce) || ce.Code != collector.CodeTooLarge || ce.Code.Status() != 413 {
		t.Fatalf("error = %v, want a collector.Error with code %s (413)", err, collector.CodeTooLarge)
	}
	for _, part := range want {
		found := false
		for _, f := range ce.Fields {
			found = found || f.Item == part
		}
		if !found || !strings.Contains(ce.Message, part+": ") {
			t.Errorf("error %q (fields %v) does not name %s", ce.Message, ce.Fields, part)
		}
	}
	return ce
}

// TestCheckZipBomb is issue #11: a small workbook whose data sheet unzips to 50 MB was
// unzipped into temporary files (the answers in plain text) and read at length. It is
// refused from its zip directory, with a 413 naming the part, nothing written to disk
// and little memory used.
func TestCheckZipBomb(t *testing.T) {
	tmp := privateTempDir(t)
	im, _ := newImporter(t)
	d := entryDefinition(t)
	bomb := rezip(t, fillTemplate(t, templateBytes(t, d, "fr"), testRows()), padSheet(50<<20))
	if len(bomb) > 200<<10 {
		t.Fatalf("the bomb is %d bytes, want a small file", len(bomb))
	}
	var err error
	alloc := allocated(func() { _, err = im.Check(t.Context(), bytes.NewReader(bomb), Options{Site: "haren"}) })
	ce := tooLargeError(t, err, "xl/worksheets/sheet1.xml")
	if !strings.Contains(ce.Message, "times smaller") || ce.Fields[0].Code != ErrTooCompressed {
		t.Errorf("error %q, fields %v: want the compression ratio named", ce.Message, ce.Fields)
	}
	if alloc > 200<<20 {
		t.Errorf("Check(zip bomb) allocated %d MB, want less than 200", alloc>>20)
	}
	if files := tempFiles(t, tmp); len(files) > 0 {
		t.Errorf("Check(zip bomb) left %q in the temporary directory", files)
	}
	// The annotated report takes the same road.
	if err := WriteReport(io.Discard, bytes.NewReader(bomb), &Batch{Format: "xlsx", Sheet: DataSheetNames.FR}); collector.ErrorCode(err) != collector.CodeTooLarge {
		t.Errorf("WriteReport(zip bomb) = %v, want %s", err, collector.CodeTooLarge)
	}
}

// TestLargeWorkbook: a workbook within the limits whose data sheet is over excelize's
// default of 16 MB is read in memory, never from a temporary file, while it is open as
// after; its problems beyond Options.MaxProblems are counted; and, larger than a
// template of 10,000 rows, it is not annotated (413).
func TestLargeWorkbook(t *testing.T) {
	tmp := privateTempDir(t)
	im, _ := newImporter(t)
	d := entryDefinition(t)
	rows := 15_000
	big := rezip(t, fillTemplate(t, templateBytes(t, d, "fr"), []map[string]any{with(validRow(), "demo.age", 17)}), growSheet(rows))
	w, err := openWorkbook(bytes.NewReader(big))
	if err != nil {
		t.Fatalf("openWorkbook(%d rows) error: %v", rows, err)
	}
	if files := tempFiles(t, tmp); len(files) > 0 {
		t.Errorf("an open workbook of %d rows has %q in the temporary directory", rows, files)
	}
	w.Close()

	b := check(t, im, big, Options{DryRun: true, MaxProblems: 100})
	if b.Rows != rows || len(b.Problems) != 100 || b.MoreProblems != rows-100 || b.RowsWithProblems() != rows {
		t.Errorf("Check(%d rows, a problem each) = %d rows, %d problems, %d more, %d rows with problems",
			rows, b.Rows, len(b.Problems), b.MoreProblems, b.RowsWithProblems())
	}
	err = WriteReport(io.Discard, bytes.NewReader(big), b)
	if ce := tooLargeError(t, err); !strings.Contains(ce.Message, "annotates workbooks of at most 16.0 MB") {
		t.Errorf("WriteReport error %q, want the limit named", ce.Message)
	}
	if files := tempFiles(t, tmp); len(files) > 0 {
		t.Errorf("Check(%d rows) left %q in the temporary directory", rows, files)
	}
}

// TestCheckWorkbookLimits: every limit of the zip directory, each refused with a 413
// naming the parts over it, whatever the parts would unzip to (the declared sizes are
// all that is read), and a part that lies about its size cannot make the importer hold
// more than it says.
func TestCheckWorkbookLimits(t *testing.T) {
	tmp := privateTempDir(t)
	im, _ := newImporter(t)
	tmpl := fillTemplate(t, templateBytes(t, entryDefinition(t), "fr"), []map[string]any{validRow()})
	junk := deflated(t, []byte("<x/>"))
	drop := func(part string) func(string, []byte) []byte {
		return func(name string, body []byte) []byte {
			if name == part {
				return nil
			}
			return body
		}
	}
	keepAll := func(_ string, body []byte) []byte { return body }
	tests := []struct {
		name string
		file []byte
		want []string // parts named
	}{
		{"data sheet over the whole", rezip(t, tmpl, drop("xl/worksheets/sheet1.xml"),
			rawPart{"xl/worksheets/sheet1.xml", 300 << 20, junk}), []string{"xl/worksheets/sheet1.xml"}},
		{"all parts together", rezip(t, tmpl, keepAll, rawPart{"xl/worksheets/sheet9.xml", 250 << 20, bytes.Repeat([]byte{1}, 3<<20)},
			rawPart{"xl/sharedStrings2.xml", 3 << 20, bytes.Repeat([]byte{1}, 1<<20)}, rawPart{"xl/media/a.png", 8 << 20, bytes.Repeat([]byte{1}, 1<<20)}),
			[]string{"workbook"}},
		{"shared strings", rezip(t, tmpl, drop("xl/sharedStrings.xml"),
			rawPart{"xl/sharedStrings.xml", maxSharedStrings + 1, bytes.Repeat([]byte{1}, 1<<20)}), []string{"xl/sharedStrings.xml"}},
		{"styles", rezip(t, tmpl, drop("xl/styles.xml"),
			rawPart{"xl/styles.xml", maxOtherParts + 1, bytes.Repeat([]byte{1}, 1<<20)}), []string{"xl/styles.xml"}},
		{"pictures", rezip(t, tmpl, keepAll,
			rawPart{"xl/media/image1.png", maxAttachments + 1, bytes.Repeat([]byte{1}, 1<<20)}), []string{"xl/media/image1.png"}},
		{"two at once", rezip(t, tmpl, drop("xl/styles.xml"),
			rawPart{"xl/styles.xml", 2 << 20, junk}, rawPart{"docProps/custom.xml", 3 << 20, bytes.Repeat([]byte{1}, 1<<20)}),
			[]string{"xl/styles.xml", "docProps/custom.xml"}}, // the ratio of one, the sum of both
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			alloc := allocated(func() { _, err = im.Check(t.Context(), bytes.NewReader(tt.file), Options{Site: "haren"}) })
			tooLargeError(t, err, tt.want...)
			if alloc > 64<<20 {
				t.Errorf("Check allocated %d MB before refusing the file", alloc>>20)
			}
		})
	}

	t.Run("parts", func(t *testing.T) {
		var many []rawPart
		for i := range maxParts {
			many = append(many, rawPart{fmt.Sprintf("customXml/item%d.xml", i), 4, junk})
		}
		_, err := im.Check(t.Context(), bytes.NewReader(rezip(t, tmpl, keepAll, many...)), Options{Site: "haren"})
		if ce := tooLargeError(t, err); !strings.Contains(ce.Message, fmt.Sprintf("has %d parts", maxParts+13)) {
			t.Errorf("error %q does not count the parts", ce.Message)
		}
	})

	// A part that says 4 kB and unzips to 50 MB: archive/zip stops at what it said.
	t.Run("lying size", func(t *testing.T) {
		sheet := []byte(`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
			strings.Repeat(" ", 50<<20) + `</sheetData></worksheet>`)
		liar := rezip(t, tmpl, drop("xl/worksheets/sheet1.xml"), rawPart{"xl/worksheets/sheet1.xml", 4 << 10, deflated(t, sheet)})
		sheet = nil
		var err error
		alloc := allocated(func() { _, err = im.Check(t.Context(), bytes.NewReader(liar), Options{Site: "haren"}) })
		if err == nil {
			t.Error("Check(a sheet cut at its declared size) succeeded, want an error")
		}
		if alloc > 64<<20 {
			t.Errorf("Check allocated %d MB for a part of 4 kB", alloc>>20)
		}
	})
	if files := tempFiles(t, tmp); len(files) > 0 {
		t.Errorf("temporary files left: %q", files)
	}
}

// TestLimitsFitLargestUpload measures what the limits are made of: a template filled
// the most verbose way (every row from the demo generator, dropdown entries with their
// labels, a submission_id and an identifier per row), scaled to 100,000 rows, fits under
// each limit with a margin, and zips far less than a zip bomb.
func TestLimitsFitLargestUpload(t *testing.T) {
	const rows, target = 2_000, 100_000
	d := entryDefinition(t)
	f := openXLSX(t, templateBytes(t, d, "fr"))
	sheet := f.GetSheetName(0)
	gen := collector.NewDemo(2025, 5, testNow)
	for r := firstDataRow; r < firstDataRow+rows; {
		var m struct {
			Questionnaire string         `json:"questionnaire"`
			Answers       map[string]any `json:"answers"`
		}
		if err := json.Unmarshal(gen.Next().Body, &m); err != nil {
			t.Fatal(err)
		}
		if m.Questionnaire != d.ID {
			continue
		}
		row := []any{uuid.NewString()}
		for _, it := range d.Items {
			entry := func(code string) string {
				if ch, ok := it.Choice(code); ok {
					return code + choiceSeparator + ch.Label.FR
				}
				return code
			}
			switch v := m.Answers[it.Code].(type) {
			case string:
				row = append(row, entry(v))
			case float64:
				row = append(row, int(v))
			case []any:
				var parts []string
				for _, p := range v {
					parts = append(parts, entry(p.(string)))
				}
				row = append(row, strings.Join(parts, ";"))
			default:
				if it.Type == collector.TypeIdentifier {
					row = append(row, fmt.Sprintf("ZQ-%06d", r))
				} else {
					row = append(row, nil)
				}
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, r)
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			t.Fatal(err)
		}
		r++
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var sums [len(partGroups)]uint64
	var total uint64
	for _, p := range zr.File {
		g := partGroup(p.Name)
		size := p.UncompressedSize64
		if g == sheetParts || g == sharedStringsPart { // they grow with the rows; the rest does not
			size = size * target / rows
		}
		sums[g] += size
		total += size
		if ratio := p.UncompressedSize64 / max(p.CompressedSize64, 1); ratio > maxRatio/4 {
			t.Errorf("%s zips %d times smaller, want far below %d", p.Name, ratio, maxRatio)
		}
	}
	t.Logf("%d rows scale to %s for %d rows (the data sheet and shared strings %s, %s); the file %s",
		rows, megabytes(total), target, megabytes(sums[0]), megabytes(sums[1]), megabytes(uint64(buf.Len())*target/rows))
	for g, sum := range sums {
		if sum > partGroups[g].limit*3/4 {
			t.Errorf("%s %s for %d rows, too close to the limit %s", partGroups[g].what, megabytes(sum), target, megabytes(partGroups[g].limit))
		}
	}
	if total > maxUnzipped*3/4 {
		t.Errorf("%d rows unzip to %s, too close to the limit %s", target, megabytes(total), megabytes(maxUnzipped))
	}
	if _, err := checkParts(zr); err != nil {
		t.Errorf("checkParts(%d rows) error: %v", rows, err)
	}
}

// TestCheckCSVLimits is the other half of issue #11: a CSV file 200,000 columns wide
// made a page of 31 MB. The header of such a file is refused with a short 413; rows too
// wide, cells too long and records too long are refused alike; and the problems kept are
// capped with the count of the others.
func TestCheckCSVLimits(t *testing.T) {
	im, _ := newImporter(t)
	d := entryDefinition(t)
	header := []string{IDColumn}
	for _, it := range d.Items {
		header = append(header, it.Code)
	}
	line := func(cells map[string]string, extra string) string {
		out := make([]string, len(header))
		for i, h := range header {
			out[i] = cells[h]
		}
		return strings.Join(out, ",") + extra + "\n"
	}
	valid := map[string]string{"meta.consent": "1", "meta.entry_month": "2025-02", "demo.gender": "F",
		"demo.age": "52", "demo.nationality": "BE", "drug.lifetime_any": "0"}
	wide := strings.Repeat(",x", 200_000-len(header))

	t.Run("200,000 columns", func(t *testing.T) {
		data := strings.Join(header, ",") + wide + "\n" + line(valid, "")
		_, err := im.Check(t.Context(), strings.NewReader(data), Options{Site: "haren"})
		ce := tooLargeError(t, err)
		if !strings.Contains(ce.Message, "row 1 has 200000 columns") || len(ce.Message) > 512 {
			t.Errorf("error %q, want a short message counting the columns", ce.Message)
		}
	})

	t.Run("rows too wide", func(t *testing.T) {
		data := strings.Join(header, ",") + "\n" + line(valid, wide) + line(valid, "") + line(valid, wide)
		b := check(t, im, []byte(data), Options{})
		want := regexp.MustCompile(`^row [24]: too_many_columns: the row has cells after column CH: the template has 43 columns, tamtam reads 86;`)
		if len(b.Problems) != 2 || !want.MatchString(b.Problems[0].String()) || !want.MatchString(b.Problems[1].String()) || b.Valid() != 1 {
			t.Errorf("problems %q, %d valid; want rows 2 and 4 too wide, row 3 valid", problemStrings(b), b.Valid())
		}
	})

	t.Run("empty cells at the end", func(t *testing.T) {
		// As a spreadsheet saves its used range: not counted as columns.
		empty := strings.Repeat(",", 500)
		data := strings.Join(header, ",") + empty + "\n" + line(valid, empty)
		if b := check(t, im, []byte(data), Options{}); len(b.Problems) != 0 || b.Valid() != 1 {
			t.Errorf("problems %q, %d valid; want none, 1", problemStrings(b), b.Valid())
		}
	})

	t.Run("cell too long", func(t *testing.T) {
		data := strings.Join(header, ",") + "\n" + line(with2(valid, "demo.gender", strings.Repeat("é", maxCell+1)), "")
		b := check(t, im, []byte(data), Options{})
		if got := problemStrings(b); len(got) != 1 || !strings.HasPrefix(got[0], "row 2, demo.gender: too_long: ") {
			t.Errorf("problems %q, want demo.gender too long", got)
		}
		var out bytes.Buffer
		if err := WriteReport(&out, strings.NewReader(data), b); err != nil {
			t.Errorf("WriteReport error: %v", err)
		}
	})

	t.Run("record too long", func(t *testing.T) {
		data := strings.Join(header, ",") + "\n" + line(valid, "") + `"` + strings.Repeat("x\n", maxRecord) + `"` + "\n"
		var err error
		alloc := allocated(func() { _, err = im.Check(t.Context(), strings.NewReader(data), Options{Site: "haren"}) })
		if ce := tooLargeError(t, err); !strings.Contains(ce.Message, "record 3 of the CSV file is longer than 1.0 MB") {
			t.Errorf("error %q, want record 3 named", ce.Message)
		}
		if alloc > 64<<20 {
			t.Errorf("Check allocated %d MB", alloc>>20)
		}
	})

	t.Run("problems kept", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(strings.Join(header, ",") + ",notes\n")
		for range 1000 {
			b.WriteString(line(with2(valid, "demo.age", "17"), ",,x")) // two problems a row
		}
		batch := check(t, im, []byte(b.String()), Options{MaxProblems: 200})
		if len(batch.Problems) != 200 || batch.MoreProblems != 1+2*1000-200 || batch.RowsWithProblems() != 1001 {
			t.Errorf("%d problems kept, %d more, %d rows with problems; want 200, %d, 1001",
				len(batch.Problems), batch.MoreProblems, batch.RowsWithProblems(), 1+2*1000-200)
		}
		if p := batch.Problems[0]; p.Row != 1 || p.Code != ErrUnknownColumn {
			t.Errorf("first problem %v, want the header's", p)
		}
		all := check(t, im, []byte(b.String()), Options{})
		if len(all.Problems) != 2001 || all.MoreProblems != 0 || all.RowsWithProblems() != 1001 {
			t.Errorf("without a cap: %d problems, %d more, %d rows", len(all.Problems), all.MoreProblems, all.RowsWithProblems())
		}
	})
}

// TestCheckWorkbookColumns: in a workbook too, a header wider than twice the template is
// refused and a row wider is a problem; a cell at the last column of Excel costs no more.
func TestCheckWorkbookColumns(t *testing.T) {
	im, _ := newImporter(t)
	d := entryDefinition(t)
	file := fillTemplate(t, templateBytes(t, d, "en"), []map[string]any{validRow(), validRow()})
	f := openXLSX(t, file)
	sheet := f.GetSheetName(0)
	f.SetCellValue(sheet, "XFD3", "x")
	var buf bytes.Buffer
	f.WriteTo(&buf)
	b := check(t, im, buf.Bytes(), Options{})
	if got := problemStrings(b); len(got) != 1 || !strings.HasPrefix(got[0], "row 3: too_many_columns: ") {
		t.Errorf("problems %q, want row 3 too wide", got)
	}
	var report bytes.Buffer
	if err := WriteReport(&report, bytes.NewReader(buf.Bytes()), b); err != nil {
		t.Errorf("WriteReport error: %v", err)
	}

	f.SetCellValue(sheet, "XFD1", "x")
	buf.Reset()
	f.WriteTo(&buf)
	_, err := im.Check(t.Context(), bytes.NewReader(buf.Bytes()), Options{Site: "haren"})
	if ce := tooLargeError(t, err); !strings.Contains(ce.Message, "row 1 has 16384 columns") {
		t.Errorf("error %q, want the columns counted", ce.Message)
	}
}

// TestReportLimits: a CSV file of more rows than WriteReport annotates (see also
// TestLargeWorkbook) is refused with a 413.
func TestReportLimits(t *testing.T) {
	im, _ := newImporter(t)
	d := entryDefinition(t)
	rows := make([]map[string]any, maxReportRows+1)
	for i := range rows {
		rows[i] = with(validRow(), "demo.age", 17)
	}
	data := csvFileOf(t, d, ',', false, rows)
	b := check(t, im, data, Options{DryRun: true, MaxProblems: 100})
	if err := WriteReport(io.Discard, bytes.NewReader(data), b); collector.ErrorCode(err) != collector.CodeTooLarge {
		t.Errorf("WriteReport(%d CSV rows) = %v, want %s", len(rows), err, collector.CodeTooLarge)
	}
}

// with2 is with for the cells of a CSV row.
func with2(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	out[k] = v
	return out
}

// TestMaxRows: a file with more questionnaire rows than Options.MaxRows is refused whole
// with 413, however small its rows (refusals are a few bytes each); at the limit it is
// checked.
func TestMaxRows(t *testing.T) {
	im, _ := newImporter(t)
	d := entryDefinition(t)
	refusal := map[string]any{"meta.consent": "0", "meta.entry_month": "2025-04"}
	rows := make([]map[string]any, 11)
	for i := range rows {
		rows[i] = refusal
	}
	file := csvFileOf(t, d, ';', true, rows)
	_, err := im.Check(t.Context(), bytes.NewReader(file), Options{Site: "haren", MaxRows: 10})
	if ce := tooLargeError(t, err); !strings.Contains(ce.Message, "more than 10 questionnaire rows") {
		t.Errorf("error %q does not say the limit", ce.Message)
	}
	if b, err := im.Check(t.Context(), bytes.NewReader(file), Options{Site: "haren", MaxRows: 11}); err != nil || b.Valid() != 11 {
		t.Errorf("11 rows with a limit of 11: %v; want them checked", err)
	}
}
