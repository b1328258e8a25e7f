package web

import (
	"archive/zip"
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/net/html"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/paper"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// importEnv is the import page of a server of its own, and the session of an intake
// worker of Haren on it.
type importEnv struct {
	server       *Server
	router       *gin.Engine
	catalog      *collector.Catalog
	cookie, csrf string
}

func newImportEnv(t *testing.T) *importEnv {
	t.Helper()
	gin.SetMode(gin.TestMode)
	now := func() time.Time { return time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC) }
	store := &tokens{m: map[string]collector.Token{}}
	_, hash, err := collector.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	store.m[hash] = collector.Token{Hash: hash, Role: collector.RoleIntake, Sites: []string{"haren"}}
	auth := collector.NewAuthenticator(store, time.Minute, now)
	t.Cleanup(func() { auth.Close() })
	sessions := NewSessions(make([]byte, 32), &sessionTable{m: map[string]collector.Session{}}, auth, SessionOptions{Now: now})
	pages, err := NewPages(sessions, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	api := &collector.API{Catalog: catalog, Sites: sites, Now: now,
		Anonymiser: &collector.Anonymiser{Keys: &collector.Keyring{Current: key}}}
	s := &Server{API: api, Sessions: sessions, Pages: pages, Now: now,
		Importer: &paper.Importer{Catalog: catalog, Preparer: api}}
	e := &importEnv{server: s, router: gin.New(), catalog: catalog}
	e.router.GET("/open", func(c *gin.Context) {
		if err := sessions.Open(c, hash); err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.Status(http.StatusNoContent)
	})
	s.Mount(e.router)

	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/open", nil))
	if e.cookie = sessionCookieOf(t, w); e.cookie == "" {
		t.Fatal("no session cookie")
	}
	req := httptest.NewRequest(http.MethodGet, "/import?lang=en", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.cookie})
	w = httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	doc, err := html.Parse(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range findAll(doc, func(n *html.Node) bool { name, _ := attr(n, "name"); return n.Data == "input" && name == "csrf" }) {
		e.csrf, _ = attr(n, "value")
	}
	if e.csrf == "" {
		t.Fatalf("GET /import = %d without a CSRF token", w.Code)
	}
	return e
}

// check uploads a file to check (a dry run) and returns the answer.
func (e *importEnv) check(t *testing.T, name string, data []byte) *httptest.ResponseRecorder {
	t.Helper()
	return e.upload(t, "check", name, data)
}

// upload uploads a file for Haren with action "check" or "import", and returns the
// answer.
func (e *importEnv) upload(t *testing.T, action, name string, data []byte) *httptest.ResponseRecorder {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{"csrf": e.csrf, "site": "haren", "questionnaire": "entry", "action": action} {
		mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/import?lang=en", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.cookie})
	w := httptest.NewRecorder()
	e.router.ServeHTTP(w, req)
	return w
}

// byID returns the text of the element with id in the page, and whether there is one.
func byID(t *testing.T, page []byte, id string) (string, bool) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	found := findAll(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(found) == 0 {
		return "", false
	}
	return textOf(found[0]), true
}

// entryHeader is the header row of the entry questionnaire's CSV files.
func entryHeader(e *importEnv) []string {
	d, _ := e.catalog.Latest("entry")
	header := []string{paper.IDColumn}
	for _, it := range d.Items {
		header = append(header, it.Code)
	}
	return header
}

// csvRow is a row of answers under header, with extra cells after it.
func csvRow(header []string, answers map[string]string, extra string) string {
	cells := make([]string, len(header))
	for i, h := range header {
		cells[i] = answers[h]
	}
	return strings.Join(cells, ",") + extra + "\n"
}

var minimalAnswers = map[string]string{"meta.consent": "1", "meta.entry_month": "2025-02", "demo.gender": "F",
	"demo.age": "17", "demo.nationality": "BE", "drug.lifetime_any": "0"} // demo.age out of range

// TestImportPageZipBomb is issue #11 through the page: a 60 kB workbook whose data sheet
// unzips to 50 MB is refused with a 413 that names the part, nothing is written to the
// temporary directory and little memory is used.
func TestImportPageZipBomb(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newImportEnv(t)
	d, _ := e.catalog.Latest("entry")
	var tmpl bytes.Buffer
	if err := paper.WriteTemplate(&tmpl, d, "en"); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(tmpl.Bytes()), int64(tmpl.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	for _, f := range zr.File {
		rc, _ := f.Open()
		part, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "xl/worksheets/sheet1.xml" {
			i := bytes.Index(part, []byte("</sheetData>"))
			part = bytes.Join([][]byte{part[:i], bytes.Repeat([]byte(" "), 50<<20), part[i:]}, nil)
		}
		w, _ := zw.Create(f.Name)
		w.Write(part)
	}
	zw.Close()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w := e.check(t, "bomb.xlsx", bomb.Bytes())
	runtime.ReadMemStats(&after)
	msg, _ := byID(t, w.Body.Bytes(), "import-error")
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "xl/worksheets/sheet1.xml: unzips to 50.0 MB") {
		t.Errorf("POST /import (zip bomb of %d bytes) = %d, %q; want 413 naming the data sheet", bomb.Len(), w.Code, msg)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 200<<20 {
		t.Errorf("the upload allocated %d MB, want less than 200", alloc>>20)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
		t.Errorf("the upload left %d files in the temporary directory", len(entries))
	}
}

// TestImportPageWideCSV: a CSV file 200,000 columns wide made a page of 31 MB; it is
// refused with a 413 and a short message.
func TestImportPageWideCSV(t *testing.T) {
	e := newImportEnv(t)
	header := entryHeader(e)
	data := strings.Join(header, ",") + strings.Repeat(",x", 200_000-len(header)) + "\n" + csvRow(header, minimalAnswers, "")
	w := e.check(t, "wide.csv", []byte(data))
	msg, _ := byID(t, w.Body.Bytes(), "import-error")
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "row 1 has 200000 columns") || w.Body.Len() > 32<<10 {
		t.Errorf("POST /import (200,000 columns) = %d, %d bytes, %q; want 413, a short page", w.Code, w.Body.Len(), msg)
	}
}

// TestImportPageManyProblems: the page lists the first problems and counts the others;
// a file too large to annotate says so instead of offering the annotated file.
func TestImportPageManyProblems(t *testing.T) {
	e := newImportEnv(t)
	header := entryHeader(e)
	file := func(rows int) []byte {
		var b strings.Builder
		b.WriteString(strings.Join(header, ",") + "\n")
		for range rows {
			b.WriteString(csvRow(header, minimalAnswers, ",x")) // two problems a row
		}
		return []byte(b.String())
	}

	w := e.check(t, "many.csv", file(1000))
	page := w.Body.Bytes()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	listed := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-row"); return n.Data == "tr" && ok })
	count, _ := byID(t, page, "problem-count")
	more, _ := byID(t, page, "more-problems")
	if w.Code != http.StatusUnprocessableEntity || len(listed) != maxListedProblems || count != "2000" ||
		more != "… and 1,800 more problems, not listed here: correct these first, then check again." {
		t.Errorf("POST /import (1,000 rows, 2,000 problems) = %d, %d listed, count %q, %q", w.Code, len(listed), count, more)
	}
	if _, ok := byID(t, page, "annotated"); !ok {
		t.Error("no annotated file for 1,000 rows")
	}
	if len(page) > 256<<10 {
		t.Errorf("the page is %d kB", len(page)>>10)
	}

	w = e.check(t, "larger.csv", file(10_001))
	note, _ := byID(t, w.Body.Bytes(), "annotated-note")
	if _, ok := byID(t, w.Body.Bytes(), "annotated"); ok || w.Code != http.StatusUnprocessableEntity || !strings.Contains(note, "too large to annotate") {
		t.Errorf("POST /import (10,001 rows with problems) = %d, note %q; want 422 and no annotated file", w.Code, note)
	}
}

func TestGroupDigits(t *testing.T) {
	for _, tt := range []struct {
		n    int
		lang string
		want string
	}{
		{0, "en", "0"}, {999, "en", "999"}, {1000, "en", "1,000"}, {1234567, "en", "1,234,567"},
		{12345, "fr", "12\u00a0345"}, {12345, "nl", "12.345"},
	} {
		if got := words.Lang(tt.lang).Number(tt.n); got != tt.want {
			t.Errorf("Lang(%s).Number(%d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
}
