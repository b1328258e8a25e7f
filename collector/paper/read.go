package paper

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/tamtam-ngo/tamtam/collector"
)

// What a workbook may make the importer hold.
//
// A workbook is read whole: excelize unzips every part of it into memory, parses the
// small ones (workbook, styles, theme, relationships) and the shared strings whole, and
// streams the data sheet row by row. Its zip directory is checked first, before anything
// is unzipped, against the limits below (archive/zip refuses a part that unzips to more
// than the directory says). excelize is given one limit for the whole workbook and for
// one sheet: by default it unzips a sheet over 16 MB into a temporary file, where the
// answers of the file would stay in plain text; with both limits equal it never does.
//
// The limits come from a template of the entry questionnaire filled with 100,000 rows,
// about the largest file the import page takes (see maxUpload in package web), every
// row from the demo generator with dropdown entries ("code — label") and its own
// submission_id: a 16 MB file that unzips to 159 MB, the data sheet 153 MB and the
// shared strings 6.2 MB, every other part under 40 kB (written by excelize; LibreOffice
// 7.4 writes the same rows in 132 MB). Every part of it zips 2 to 12 times smaller, and
// so do 20,000 identical rows; a zip bomb is hundreds of times smaller.
//
// Check then holds the file twice while it opens it, the unzipped parts, the parsed
// shared strings and small parts (15 to 20 times their size, with the garbage collector's
// slack), and a bounded pipeline of rows. On the file of 100,000 rows the heap grew by
// 390 MB for a check (a dry run), by 750 MB for an import that keeps its records for
// Store (the import page's); with its shared strings and styles filled up to their
// limits with random entries, the worst the limits let in, by 775 MB and 1.2 GB.
const (
	// maxUnzipped bounds the parts of a workbook together: a filled template of 100,000
	// rows, and 60% more.
	maxUnzipped = 256 << 20
	// maxSharedStrings bounds the shared strings, parsed whole (some 20 times their size
	// in memory at worst): 100,000 rows of codes make 0.8 MB of them, with their own
	// submission_id and linkage identifier and every label 11 MB.
	maxSharedStrings = 16 << 20
	// maxAttachments bounds the comments, drawings and pictures together, which only
	// WriteReport parses: an annotated report of 10,000 problems holds some 8 MB of them.
	maxAttachments = 32 << 20
	// maxOtherParts bounds every other part together (workbook, styles, theme,
	// relationships, properties), parsed whole when the workbook is opened: a template's
	// come to 25 kB, Excel's to a few hundred.
	maxOtherParts = 4 << 20
	// maxParts is the most parts a workbook may have: a template has 13, an annotated
	// report 16.
	maxParts = 256
	// maxRatio is how many times smaller than unzipped a part of over ratioFrom bytes
	// may be zipped.
	maxRatio  = 100
	ratioFrom = 1 << 20
)

// What any file may make the importer hold, row by row.
const (
	// maxCell is the longest cell read, in characters: the most a spreadsheet cell
	// holds. A cell of the template holds a code, a number or a month.
	maxCell = excelize.TotalCellChars
	// maxRecord is the longest CSV record read, in bytes: encoding/csv holds a record
	// whole, and a file without line breaks is one record. A row of the template is
	// under 2 kB.
	maxRecord = 1 << 20
	// columnMargin is how many times the template's columns a file may have (empty cells
	// at the end of a row are not counted): a column or two typed beside the data is
	// reported as such, a sheet thousands of columns wide is refused.
	columnMargin = 2
)

// tooLongMessage is the message of an ErrTooLong problem.
const tooLongMessage = "longer than 32,767 characters, the most a spreadsheet cell holds: a cell of the template holds a code, a number or a month"

// Problem codes of the limits, beside those of the rows (see Problem).
const (
	ErrTooLong        = "too_long"         // a cell longer than maxCell characters
	ErrTooManyColumns = "too_many_columns" // a row wider than the template allows
	ErrTooLarge       = "too_large"        // a part of a workbook over its limit
	ErrTooCompressed  = "too_compressed"   // a part of a workbook zipped like a zip bomb
)

// tooLarge returns the error of a file over a limit: a [collector.Error] with
// [collector.CodeTooLarge] (413), whose message, safe to show, names every part over its
// limit; the parts are its fields too.
func tooLarge(msg string, parts ...collector.FieldError) error {
	for _, p := range parts {
		msg += "; " + p.Item + ": " + p.Message
	}
	return fmt.Errorf("paper: %w", &collector.Error{Code: collector.CodeTooLarge, Message: msg, Fields: parts})
}

// megabytes writes a size as people read it ("52.4 MB", "65 kB").
func megabytes(n uint64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatUint(n, 10) + " bytes"
	case n < 1<<20:
		return strconv.FormatUint(n>>10, 10) + " kB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
}

// The parts of a workbook as the limits see them: partGroups[partGroup(name)].
const (
	sheetParts = iota
	sharedStringsPart
	attachmentParts
	otherParts
)

var partGroups = [...]struct {
	what  string
	limit uint64
}{
	sheetParts:        {"the worksheets unzip to", maxUnzipped},
	sharedStringsPart: {"the shared strings unzip to", maxSharedStrings},
	attachmentParts:   {"the comments, drawings and pictures unzip to", maxAttachments},
	otherParts:        {"the workbook's other parts (styles, theme, relationships…) unzip to", maxOtherParts},
}

func partGroup(name string) int {
	name = strings.ToLower(strings.ReplaceAll(name, "\\", "/")) // as excelize reads it
	switch {
	case strings.HasPrefix(name, "xl/worksheets/"):
		return sheetParts
	case name == "xl/sharedstrings.xml":
		return sharedStringsPart
	case strings.HasPrefix(name, "xl/comments"), strings.HasPrefix(name, "xl/threadedcomments/"),
		strings.HasPrefix(name, "xl/persons/"), strings.HasPrefix(name, "xl/drawings/"), strings.HasPrefix(name, "xl/media/"):
		return attachmentParts
	}
	return otherParts
}

// checkParts checks the zip directory of a workbook against the limits and returns the
// size of its parts unzipped. It returns a [collector.CodeTooLarge] error naming each
// part, or group of parts, over its limit.
func checkParts(zr *zip.Reader) (uint64, error) {
	if n := len(zr.File); n > maxParts {
		return 0, tooLarge(fmt.Sprintf("the workbook has %d parts: a template has 13, and tamtam reads at most %d", n, maxParts))
	}
	var (
		total   uint64
		sums    [len(partGroups)]uint64
		largest [len(partGroups)]*zip.File
		over    []collector.FieldError
	)
	for _, f := range zr.File {
		size := f.UncompressedSize64
		total += size
		g := partGroup(f.Name)
		sums[g] += size
		if largest[g] == nil || size > largest[g].UncompressedSize64 {
			largest[g] = f
		}
		if size > ratioFrom && size/max(f.CompressedSize64, 1) > maxRatio {
			over = append(over, collector.FieldError{Item: f.Name, Code: ErrTooCompressed,
				Message: fmt.Sprintf("unzips to %s from %s, %d times smaller: a part of a workbook is at most %d times",
					megabytes(size), megabytes(f.CompressedSize64), size/max(f.CompressedSize64, 1), maxRatio)})
		}
	}
	ratios := len(over) // parts over maxRatio
	for g, sum := range sums {
		if sum <= partGroups[g].limit {
			continue
		}
		msg := fmt.Sprintf("%s %s, at most %s", partGroups[g].what, megabytes(sum), megabytes(partGroups[g].limit))
		if part := largest[g].UncompressedSize64; part != sum {
			msg = fmt.Sprintf("%s %s (this part %s), at most %s", partGroups[g].what, megabytes(sum), megabytes(part), megabytes(partGroups[g].limit))
		}
		over = append(over, collector.FieldError{Item: largest[g].Name, Code: ErrTooLarge, Message: msg})
	}
	if total > maxUnzipped && len(over) == ratios { // else a group says it
		over = append(over, collector.FieldError{Item: "workbook", Code: ErrTooLarge,
			Message: fmt.Sprintf("all parts unzip to %s, at most %s", megabytes(total), megabytes(maxUnzipped))})
	}
	switch {
	case len(over) > ratios:
		return total, tooLarge("the workbook unzips to more than tamtam reads (a filled template of 100,000 rows unzips "+
			"to about 160 MB): split the rows into several files", over...)
	case ratios > 0:
		return total, tooLarge("the workbook is zipped like a zip bomb, not as a spreadsheet program zips it: "+
			"save it again from the spreadsheet program", over...)
	}
	return total, nil
}

// readWorkbook reads a workbook whole and checks its zip directory (checkParts) before
// anything is unzipped. It returns the file and the size of its parts unzipped.
func readWorkbook(r io.Reader) ([]byte, uint64, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxUnzipped+1))
	if err != nil {
		return nil, 0, fmt.Errorf("paper: read the workbook: %w", err)
	}
	if len(data) > maxUnzipped {
		return nil, 0, tooLarge(fmt.Sprintf("the workbook is larger than %s: split the rows into several files", megabytes(maxUnzipped)))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, 0, fmt.Errorf("paper: not a readable xlsx workbook: %w", err)
	}
	size, err := checkParts(zr)
	if err != nil {
		return nil, 0, err
	}
	return data, size, nil
}

// openBytes opens a workbook read by readWorkbook. Its limits are never reached after
// checkParts; being equal, they keep excelize from unzipping a sheet to a temporary file.
func openBytes(data []byte) (*excelize.File, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: maxUnzipped})
	if err != nil {
		return nil, fmt.Errorf("paper: not a readable xlsx workbook: %w", err)
	}
	return f, nil
}

// source is a file of rows: a workbook's data sheet or a CSV file.
type source interface {
	// next returns the next row, numbered as in the sheet (1-based).
	next() (row int, cells []string, ok bool)
	err() error
	// meta returns the questionnaire and version a template names, or "" and 0.
	meta() (questionnaire string, version int)
	// month converts a cell of a month item the spreadsheet stored as a date.
	month(cell string) (string, bool)
	sheet() string
	Close() error
}

// workbook reads the data sheet of a workbook as a stream of rows.
type workbook struct {
	f        *excelize.File
	name     string
	rows     *excelize.Rows
	n        int
	e        error
	date1904 bool
}

func openWorkbook(r io.Reader) (*workbook, error) {
	data, _, err := readWorkbook(r)
	if err != nil {
		return nil, err
	}
	f, err := openBytes(data)
	if err != nil {
		return nil, err
	}
	w := &workbook{f: f, name: dataSheet(f)}
	if w.name == "" {
		f.Close()
		return nil, errors.New("paper: the workbook has no sheet")
	}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		w.date1904 = *props.Date1904
	}
	if w.rows, err = f.Rows(w.name); err != nil {
		f.Close()
		return nil, fmt.Errorf("paper: read sheet %s: %w", w.name, err)
	}
	return w, nil
}

// dataSheet returns the template's data sheet, in whichever language, or else the first
// ("" for a workbook without sheets).
func dataSheet(f *excelize.File) string {
	sheets := f.GetSheetList()
	for _, s := range sheets {
		if s == DataSheetNames.FR || s == DataSheetNames.NL || s == DataSheetNames.EN {
			return s
		}
	}
	if len(sheets) == 0 {
		return ""
	}
	return sheets[0]
}

func (w *workbook) next() (int, []string, bool) {
	if w.e != nil || !w.rows.Next() {
		return 0, nil, false
	}
	w.n++
	// Raw values: a number as stored, not as displayed (a date shows as "mars-25").
	cells, err := w.rows.Columns(excelize.Options{RawCellValue: true})
	if err != nil {
		w.e = fmt.Errorf("paper: sheet %s row %d: %w", w.name, w.n, err)
		return 0, nil, false
	}
	return w.n, cells, true
}

func (w *workbook) err() error {
	if w.e != nil {
		return w.e
	}
	if err := w.rows.Error(); err != nil {
		return fmt.Errorf("paper: sheet %s: %w", w.name, err)
	}
	return nil
}

// meta reads B1 and B2 of the meta sheet as a stream, like the data sheet: a cell read
// by address would parse the whole sheet, which may be as large as the data.
func (w *workbook) meta() (string, int) {
	if idx, err := w.f.GetSheetIndex(metaSheet); err != nil || idx < 0 {
		return "", 0
	}
	rows, err := w.f.Rows(metaSheet)
	if err != nil {
		return "", 0
	}
	defer rows.Close()
	var b [2]string
	for i := 0; i < len(b) && rows.Next(); i++ {
		if cells, err := rows.Columns(); err == nil && len(cells) > 1 {
			b[i] = cells[1]
		}
	}
	version, _ := strconv.Atoi(strings.TrimSpace(b[1]))
	return strings.TrimSpace(b[0]), version
}

// Serial numbers of 1 January 1990 and 31 December 2100: a number in a month column in
// that range is a date the spreadsheet made of what was typed ("2025-03" becomes 1 March
// 2025 in a cell not formatted as text).
const minSerial, maxSerial = 32874, 73415

func (w *workbook) month(cell string) (string, bool) {
	if len(cell) >= 10 && cell[4] == '-' && cell[7] == '-' && strings.Contains(cell, "T") {
		return cell[:7], true // a date cell stored as an ISO 8601 date-time
	}
	v, err := strconv.ParseFloat(cell, 64)
	if err != nil || !numberPattern.MatchString(cell) || v < minSerial || v > maxSerial {
		return "", false
	}
	t, err := excelize.ExcelDateToTime(v, w.date1904)
	if err != nil {
		return "", false
	}
	return t.Format("2006-01"), true
}

func (w *workbook) sheet() string { return w.name }

func (w *workbook) Close() error {
	w.rows.Close()
	return w.f.Close()
}

// csvFile reads a CSV file with the template's headers. The separator is the one of the
// header line: a comma, or the semicolon or tab spreadsheets write in French and Dutch
// locales.
type csvFile struct {
	r   *csv.Reader
	lim *recordLimit
	n   int
	e   error
}

func openCSV(br *bufio.Reader) (*csvFile, error) {
	head, err := br.Peek(br.Size())
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("paper: read CSV: %w", err)
	}
	var in io.Reader = br
	if !validUTF8Prefix(head) {
		// "CSV" from Excel and LibreOffice in a French or Dutch locale is Windows-1252,
		// only "CSV UTF-8" is not.
		in = transform.NewReader(br, charmap.Windows1252.NewDecoder())
	}
	first := head
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	lim := &recordLimit{r: in}
	r := csv.NewReader(lim)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	switch counts := []int{bytes.Count(first, []byte(",")), bytes.Count(first, []byte(";")), bytes.Count(first, []byte("\t"))}; {
	case counts[1] > counts[0] && counts[1] >= counts[2]:
		r.Comma = ';'
	case counts[2] > counts[0]:
		r.Comma = '\t'
	}
	return &csvFile{r: r, lim: lim}, nil
}

// recordLimit stops a CSV reader in a record longer than maxRecord bytes: encoding/csv
// would hold it whole, however long.
type recordLimit struct {
	r    io.Reader
	read int64 // bytes handed to the CSV reader
	mark int64 // where its last record ended (csv.Reader.InputOffset)
}

// errLongRecord is what the CSV reader gets from a recordLimit in a record too long.
var errLongRecord = errors.New("paper: CSV record too long")

func (l *recordLimit) Read(p []byte) (int, error) {
	// The CSV reader reads ahead a buffer (4 kB), hence the margin.
	if l.read-l.mark > maxRecord+64<<10 {
		return 0, errLongRecord
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// validUTF8Prefix reports whether b, the start of a file, is UTF-8: a character cut at
// its end does not count against it.
func validUTF8Prefix(b []byte) bool {
	for cut := 0; cut < utf8.UTFMax && cut <= len(b); cut++ {
		if utf8.Valid(b[:len(b)-cut]) {
			return true
		}
	}
	return false
}

func (c *csvFile) next() (int, []string, bool) {
	if c.e != nil {
		return 0, nil, false
	}
	rec, err := c.r.Read()
	c.lim.mark = c.r.InputOffset()
	switch {
	case err == io.EOF:
		return 0, nil, false
	case errors.Is(err, errLongRecord):
		c.e = tooLarge(fmt.Sprintf("record %d of the CSV file is longer than %s, and a row of the template takes a few hundred bytes: "+
			"is it a CSV file with the template's columns?", c.n+1, megabytes(maxRecord)))
		return 0, nil, false
	case err != nil:
		c.e = fmt.Errorf("paper: CSV: %w", err)
		return 0, nil, false
	}
	c.n++
	return c.n, rec, true
}

func (c *csvFile) err() error                  { return c.e }
func (c *csvFile) meta() (string, int)         { return "", 0 }
func (c *csvFile) month(string) (string, bool) { return "", false }
func (c *csvFile) sheet() string               { return "" }
func (c *csvFile) Close() error                { return nil }

// trimRow returns cells without the empty cells at their end: a spreadsheet saved as CSV
// writes as many as its used range is wide.
func trimRow(cells []string) []string {
	n := len(cells)
	for n > 0 && strings.TrimSpace(cells[n-1]) == "" {
		n--
	}
	return cells[:n]
}

// tooLongCell reports whether cell has more than maxCell characters.
func tooLongCell(cell string) bool {
	return len(cell) > maxCell && utf8.RuneCountInString(cell) > maxCell
}
