package main

import (
	"bytes"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"
)

// These tests drive the pages over HTTP as a browser would (cookies, forms, redirects
// not followed, so that each status can be checked), against a real ClickHouse.

type webClient struct {
	t     *testing.T
	base  string
	c     *http.Client
	last  webPage
	clock *signInClock // nil: a refused sign-in fails the test
}

// signInClock is the clock of a test app's web server: real time, moved on a second each
// time a sign-in is refused for too many attempts from the address (all the tests'
// clients share 127.0.0.1), as a person would wait, without the test waiting.
type signInClock struct{ skew atomic.Int64 }

func (k *signInClock) now() time.Time { return time.Now().Add(time.Duration(k.skew.Load())) }

// wait is a second going by for the sign-in limit.
func (k *signInClock) wait() { k.skew.Add(int64(time.Second)) }

// signInClocks holds the clock installed in each test app, by app.
var signInClocks sync.Map

// signInClockOf returns the clock of e's web server, installing it on first use (before
// the app's first page request).
func signInClockOf(e *testEnv) *signInClock {
	k, loaded := signInClocks.LoadOrStore(e.app, &signInClock{})
	if !loaded {
		e.app.web.Now = k.(*signInClock).now
	}
	return k.(*signInClock)
}

type webPage struct {
	status int
	header http.Header
	body   string
}

func newWebClient(t *testing.T, e *testEnv) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: e.srv.URL, clock: signInClockOf(e), c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) send(req *http.Request) webPage {
	w.t.Helper()
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	w.last = webPage{status: resp.StatusCode, header: resp.Header, body: string(b)}
	return w.last
}

func (w *webClient) get(path string) webPage {
	w.t.Helper()
	req, _ := http.NewRequestWithContext(w.t.Context(), http.MethodGet, w.base+path, nil)
	return w.send(req)
}

func (w *webClient) post(path string, form url.Values) webPage {
	w.t.Helper()
	req, _ := http.NewRequestWithContext(w.t.Context(), http.MethodPost, w.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return w.send(req)
}

func (w *webClient) upload(path string, fields map[string]string, name string, file []byte) webPage {
	w.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(file)
	mw.Close()
	req, _ := http.NewRequestWithContext(w.t.Context(), http.MethodPost, w.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return w.send(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the last page.
func (w *webClient) csrf() string {
	w.t.Helper()
	m := csrfField.FindStringSubmatch(w.last.body)
	if m == nil {
		w.t.Fatalf("no CSRF field in the last page (status %d)", w.last.status)
	}
	return m[1]
}

// signIn signs in with token and returns the page it was sent to.
// Sign-ins are limited per address (all the test's clients share 127.0.0.1): a 429 is
// waited out as a person would, on the server's test clock.
func (w *webClient) signIn(token string) webPage {
	w.t.Helper()
	for {
		w.get("/login")
		p := w.post("/login", url.Values{"csrf": {w.csrf()}, "token": {"  " + token + "\n"}})
		if p.status != http.StatusTooManyRequests {
			return p
		}
		if w.clock == nil {
			w.t.Fatalf("sign-in refused: %d", p.status)
		}
		w.clock.wait()
	}
}

func location(p webPage) string { return p.header.Get("Location") }

// TestWebSignIn checks sessions: where a browser without one is sent, the cookie's
// attributes, the security headers, CSRF on every form, roles, sign-out, and the audit
// of every sign-in.
func TestWebSignIn(t *testing.T) {
	e := newTestEnv(t)
	intake := e.token("intake", "haren")
	w := newWebClient(t, e)

	if p := w.get("/forms/entry?lang=nl"); p.status != http.StatusSeeOther || location(p) != "/login?next=%2Fforms%2Fentry%3Flang%3Dnl" {
		t.Errorf("GET /forms/entry without a session = %d to %q, want 303 to the sign-in page", p.status, location(p))
	}
	p := w.get("/login")
	for h, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := p.header.Get(h); !strings.HasPrefix(got, want) {
			t.Errorf("header %s = %q, want it to start with %q", h, got, want)
		}
	}
	if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(p.body) {
		t.Errorf("the sign-in page holds an inline script or event handler")
	}

	// A sign-in form posted without its CSRF token, or from another browser, is refused.
	if p := w.post("/login", url.Values{"token": {intake}}); p.status != http.StatusForbidden {
		t.Errorf("POST /login without CSRF = %d, want 403", p.status)
	}
	w.get("/login")
	if p := w.post("/login", url.Values{"csrf": {w.csrf()}, "token": {"tt_wrong"}}); p.status != http.StatusUnauthorized ||
		!strings.Contains(p.body, "Ce jeton ne fonctionne pas") {
		t.Errorf("POST /login with a wrong token = %d, want 401 with the explanation", p.status)
	}

	p = w.signIn(intake)
	if p.status != http.StatusSeeOther || location(p) != "/forms" {
		t.Fatalf("sign-in = %d to %q, want 303 to /forms", p.status, location(p))
	}
	var cookie string
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "tamtam_session=") {
			cookie = c
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, intake) || strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie %q holds the token or claims Secure without TLS", cookie)
	}
	if p := w.get("/forms"); p.status != http.StatusOK || !strings.Contains(p.body, "Questionnaire d&#39;entrée") {
		t.Errorf("GET /forms signed in = %d", p.status)
	}
	if p := w.get("/reports"); p.status != http.StatusForbidden {
		t.Errorf("GET /reports as intake = %d, want 403", p.status)
	}
	if p := w.get("/audit"); p.status != http.StatusForbidden {
		t.Errorf("GET /audit as intake = %d, want 403", p.status)
	}

	// Sign out: the same cookie no longer opens anything.
	saved := w.c.Jar.Cookies(mustURL(t, w.base))
	w.get("/forms")
	if p := w.post("/logout", url.Values{"csrf": {w.csrf()}}); p.status != http.StatusSeeOther || location(p) != "/login?signed_out=1" {
		t.Errorf("sign-out = %d to %q", p.status, location(p))
	}
	w.c.Jar.SetCookies(mustURL(t, w.base), saved)
	if p := w.get("/forms"); p.status != http.StatusSeeOther {
		t.Errorf("GET /forms with the cookie of a closed session = %d, want 303 to sign in", p.status)
	}

	got := e.sql("SELECT action, outcome, actor != '-', role FROM audit_log WHERE action LIKE 'session.%' ORDER BY action, outcome FORMAT TSV")
	want := "session.signin\tdenied\t0\t\nsession.signin\tok\t1\tintake\nsession.signout\tok\t1\tintake"
	if got != want {
		t.Errorf("audit of the sessions:\n%s\nwant\n%s", got, want)
	}
	if leaked := e.sql("SELECT count() FROM audit_log WHERE position(detail, 'tt_') > 0 OR position(actor, 'tt_') > 0"); leaked != "0" {
		t.Errorf("%s audit rows hold a token", leaked)
	}
	if strings.Contains(e.logs.String(), intake) {
		t.Errorf("the logs hold the token")
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// entryForm is a valid entry questionnaire as the form posts it.
func entryForm(csrf, id string) url.Values {
	return url.Values{"csrf": {csrf}, "submission_id": {id}, "version": {"1"}, "site": {"haren"},
		"meta.consent": {"1"}, "meta.entry_month": {"2025-05"}, "demo.gender": {"F"}, "demo.age": {"29"},
		"demo.nationality": {"RO"}, "drug.lifetime_any": {"1"}, "drug.lifetime": {"cannabis", "heroin"},
		"drug.before_12m": {"heroin"}, "inject.status": {"3"}, "inject.share_needle_12m": {"1"}}
}

// TestWebFormResend checks that a form sent twice (a double click, a reload) is stored
// once, that a form without its CSRF token stores nothing, and that another site than the
// token's is refused.
func TestWebFormResend(t *testing.T) {
	e := newTestEnv(t)
	w := newWebClient(t, e)
	w.signIn(e.token("intake", "haren"))
	p := w.get("/forms/entry")
	id := regexpSubmissionID.FindStringSubmatch(p.body)[1]
	csrf := w.csrf()

	form := entryForm(csrf, id)
	form.Del("csrf")
	if p := w.post("/forms/entry", form); p.status != http.StatusForbidden {
		t.Errorf("form without CSRF = %d, want 403", p.status)
	}
	form = entryForm("forged", id)
	if p := w.post("/forms/entry", form); p.status != http.StatusForbidden {
		t.Errorf("form with a forged CSRF token = %d, want 403", p.status)
	}
	if n := e.sql("SELECT count() FROM submissions"); n != "0" {
		t.Fatalf("%s rows stored by refused forms", n)
	}
	other := entryForm(csrf, id)
	other.Set("site", "lantin")
	if p := w.post("/forms/entry", other); p.status != http.StatusForbidden {
		t.Errorf("form for another site = %d, want 403", p.status)
	}
	for i, want := range []string{"stored", "replayed"} {
		p := w.post("/forms/entry", entryForm(csrf, id))
		if p.status != http.StatusSeeOther || !strings.Contains(location(p), "status="+want) {
			t.Errorf("send %d = %d to %q, want 303 with status=%s", i+1, p.status, location(p), want)
		}
	}
	if got := e.sql("SELECT count(), any(toString(submission_id)), any(age_band), any(nationality_group) FROM submissions"); got != "1\t"+id+"\t25-34\tEU13" {
		t.Errorf("stored = %q, want one row for %s, 25-34, EU13", got, id)
	}
	// The same id with other answers is a conflict: the page says so, nothing changes.
	changed := entryForm(csrf, id)
	changed.Set("demo.age", "45")
	if p := w.post("/forms/entry", changed); p.status != http.StatusConflict || !strings.Contains(p.body, "déjà été enregistré avec d&#39;autres réponses") {
		t.Errorf("changed resend = %d, want 409 with the explanation", p.status)
	}
	if p := w.get("/forms/entry/done?site=haren&status=stored&lang=en"); !strings.Contains(p.body, `href="/forms/entry?lang=en&amp;site=haren"`) {
		t.Errorf("the confirmation's next person link does not keep the site and language")
	}
}

// TestWebImportPage imports paper forms through the page: a check lists every problem
// by row and item and hands back the annotated workbook, a faulty file stores nothing,
// the corrected one is stored whole, and sending it again stores nothing twice.
func TestWebImportPage(t *testing.T) {
	e := newTestEnv(t)
	w := newWebClient(t, e)
	w.signIn(e.token("intake", "haren"))
	p := w.get("/import")
	if p.status != http.StatusOK {
		t.Fatalf("GET /import = %d", p.status)
	}
	csrf := w.csrf()

	// The template is offered on the page too.
	tp := w.get("/forms/entry/template.xlsx?lang=fr")
	if tp.status != http.StatusOK || !strings.HasPrefix(tp.body, "PK") {
		t.Fatalf("template download = %d", tp.status)
	}
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "entry.xlsx")
	if err := os.WriteFile(tmpl, []byte(tp.body), 0o600); err != nil {
		t.Fatal(err)
	}
	faulty, fixed := filepath.Join(dir, "faulty.xlsx"), filepath.Join(dir, "fixed.xlsx")
	paperFill(t, tmpl, faulty, paperRows())
	paperFill(t, tmpl, fixed, paperFixedRows())
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fields := func(action string) map[string]string {
		return map[string]string{"csrf": csrf, "site": "haren", "questionnaire": "entry", "action": action}
	}

	for _, action := range []string{"check", "import"} {
		p := w.upload("/import?lang=en", fields(action), "faulty.xlsx", read(faulty))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s of the faulty file = %d, want 422", action, p.status)
		}
		doc, err := html.Parse(strings.NewReader(p.body))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tr := range findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-row") != "" }) {
			got = append(got, "row "+attr(tr, "data-row")+", "+attr(tr, "data-item"))
		}
		var want []string
		for _, prob := range paperProblems {
			want = append(want, prob[:strings.Index(prob, ": ")])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: problems listed %q, want %q", action, got, want)
		}
		if !strings.Contains(p.body, "Give a number between 18 and 99.") {
			t.Errorf("%s: the out-of-range problem is not explained in plain English", action)
		}
		// The annotated workbook, handed back in the page.
		href := ""
		for _, a := range findAll(doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "id") == "annotated" }) {
			href = attr(a, "href")
		}
		if !strings.HasPrefix(href, "/import/annotated/") {
			t.Fatalf("%s: no annotated workbook in the page (link %q)", action, href)
		}
		file := w.get(href)
		if file.status != http.StatusOK || file.header.Get("Cache-Control") != "no-store" || !strings.Contains(file.header.Get("Content-Disposition"), "annotated-faulty.xlsx") {
			t.Fatalf("%s: annotated workbook = %d, %v", action, file.status, file.header)
		}
		// Only its uploader gets it.
		other := newWebClient(t, e)
		other.signIn(e.token("intake", "haren"))
		if p := other.get(href); p.status != http.StatusNotFound {
			t.Errorf("another intake worker gets the annotated workbook: %d", p.status)
		}
		xlsx := []byte(file.body)
		annotated := filepath.Join(dir, action+"-annotated.xlsx")
		os.WriteFile(annotated, xlsx, 0o600)
		paperCheckReport(t, annotated, paperMarkedCells)
		if n := e.sql("SELECT count() FROM submissions"); n != "0" {
			t.Fatalf("after the %s of a faulty file the store holds %s rows, want none", action, n)
		}
	}

	p = w.upload("/import?lang=en", fields("check"), "fixed.xlsx", read(fixed))
	if p.status != http.StatusOK || !strings.Contains(p.body, `<dd id="would-store">8</dd>`) {
		t.Errorf("check of the fixed file = %d, want 200 and 8 to store", p.status)
	}
	p = w.upload("/import?lang=en", fields("import"), "fixed.xlsx", read(fixed))
	if p.status != http.StatusOK || !strings.Contains(p.body, `<dd id="stored">8</dd>`) || !strings.Contains(p.body, `<dd id="replayed">0</dd>`) {
		t.Errorf("import of the fixed file = %d, want 8 stored:\n%s", p.status, p.body)
	}
	p = w.upload("/import?lang=en", fields("import"), "fixed.xlsx", read(fixed))
	if p.status != http.StatusOK || !strings.Contains(p.body, `<dd id="stored">0</dd>`) || !strings.Contains(p.body, `<dd id="replayed">8</dd>`) {
		t.Errorf("second import = %d, want 0 stored and 8 already there", p.status)
	}
	if got := e.sql("SELECT count(), uniqExact(submission_id) FROM submissions"); got != "8\t8" {
		t.Errorf("store holds %s, want 8 distinct submissions", got)
	}
	if p := w.upload("/import", map[string]string{"csrf": csrf, "site": "lantin", "action": "check"}, "fixed.xlsx", read(fixed)); p.status != http.StatusForbidden {
		t.Errorf("import for another site = %d, want 403", p.status)
	}
	if p := w.upload("/import", map[string]string{"site": "haren", "action": "import"}, "fixed.xlsx", read(fixed)); p.status != http.StatusForbidden {
		t.Errorf("import without CSRF = %d, want 403", p.status)
	}
	got := e.sql("SELECT action, outcome, count() FROM audit_log WHERE action LIKE 'import%' GROUP BY action, outcome ORDER BY action, outcome FORMAT TSV")
	if want := "import\tfailed\t1\nimport\tok\t2\nimport.check\tdenied\t1\nimport.check\tfailed\t1\nimport.check\tok\t1"; got != want {
		// The upload without CSRF is refused before it is read: it is not an import.
		t.Errorf("audit of the imports:\n%s\nwant\n%s", got, want)
	}
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, findAll(c, match)...)
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// TestWebDashboard checks the coordinator's dashboard and a funder's: the questionnaires
// by site and month match the store, no published count is below k, a funder sees only
// its sites, downloads work from the page and are audited, and in Chromium every chart
// is drawn under the page's Content-Security-Policy.
func TestWebDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("long: the dashboard in headless Chromium; make test runs it")
	}
	e := newTestEnv(t)
	if code, _, errOut := e.cli("demo", "--year", "2025", "--n", "1500"); code != 0 {
		t.Fatalf("demo: %s", errOut)
	}
	if code, _, errOut := e.cli("release", "--year", "2025"); code != 0 {
		t.Fatalf("release: %s", errOut)
	}
	coordinator := e.token("coordinator")
	w := newWebClient(t, e)
	if p := w.signIn(coordinator); location(p) != "/reports" {
		t.Fatalf("coordinator sign-in goes to %q, want /reports", location(p))
	}
	// Without a year, the dashboard opens on the latest year with data.
	if p := w.get("/reports?lang=en"); p.status != http.StatusOK || !strings.Contains(p.body, `<option value="2025" selected>`) {
		t.Errorf("GET /reports = %d, want the year 2025 selected", p.status)
	}
	p := w.get("/reports?year=2025&lang=en")
	if p.status != http.StatusOK {
		t.Fatalf("GET /reports = %d", p.status)
	}
	// A coordinator chooses among the releases of the year and their groups, never among
	// ad-hoc sets of sites.
	if !strings.Contains(p.body, `<select id="release" name="release">`) || !strings.Contains(p.body, `<option value="site:haren"`) ||
		strings.Contains(p.body, `type="checkbox"`) {
		t.Errorf("the dashboard offers no choice of release and group, or a choice of sites")
	}
	if g := w.get("/reports?year=2025&lang=en&group=site:haren"); g.status != http.StatusOK || !strings.Contains(g.body, `<option value="site:haren" selected>`) {
		t.Errorf("GET /reports?group=site:haren = %d, want Haren's group shown", g.status)
	}
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	// Every count shown is 0, at least k, or the suppression mark.
	k := 5
	for _, td := range findAll(doc, func(n *html.Node) bool { return n.Data == "td" }) {
		s := strings.NewReplacer(",", "", "\u00a0", "", " ", "").Replace(textOf(td))
		if n, err := strconv.Atoi(s); err == nil && n > 0 && n < k {
			t.Errorf("cell %s shows %d, below k = %d", attr(td, "data-group"), n, k)
		}
	}
	// The arrivals table against clickhouse-client, cell by cell where published.
	stored := map[string]string{}
	for _, line := range strings.Split(e.sql("SELECT site, month, count() FROM submissions WHERE year = 2025 GROUP BY site, month FORMAT TSV"), "\n") {
		f := strings.Split(line, "\t")
		stored[f[0]+"+"+f[1]] = f[2]
	}
	tables := findAll(doc, func(n *html.Node) bool { return n.Data == "table" && attr(n, "data-indicator") == "questionnaires" })
	if len(tables) != 1 {
		t.Fatalf("%d arrivals tables, want 1", len(tables))
	}
	published, total := 0, 0
	for _, td := range findAll(tables[0], func(n *html.Node) bool { return n.Data == "td" }) {
		group := attr(td, "data-group")
		text := strings.ReplaceAll(textOf(td), ",", "")
		if text == "x" || strings.HasPrefix(group, "total+") || strings.HasSuffix(group, "+total") || strings.HasPrefix(group, "other_sites") {
			continue
		}
		want := stored[group]
		if want == "" {
			want = "0"
		}
		if text != want {
			t.Errorf("arrivals %s = %s, clickhouse-client says %s", group, text, want)
		}
		published++
	}
	for _, td := range findAll(tables[0], func(n *html.Node) bool { return attr(n, "data-group") == "total+total" }) {
		total, _ = strconv.Atoi(strings.ReplaceAll(textOf(td), ",", ""))
	}
	if published < 12 || strconv.Itoa(total) != e.sql("SELECT count() FROM submissions WHERE year = 2025") {
		t.Errorf("arrivals: %d cells checked, total %d; want at least a year of one site and the stored total", published, total)
	}

	// Downloads from the page.
	x := w.get("/reports/2025.xlsx?lang=en")
	if x.status != http.StatusOK || !strings.HasPrefix(x.body, "PK") {
		t.Errorf("workbook download from the dashboard = %d", x.status)
	}
	if got := e.sql("SELECT action, outcome, count() FROM audit_log WHERE action IN ('dashboard.view', 'report.download') GROUP BY action, outcome ORDER BY action FORMAT TSV"); got != "dashboard.view\tok\t3\nreport.download\tok\t1" {
		t.Errorf("audit of the dashboard = %q", got)
	}
	// Each view is a delivery of the release in the ledger, with the hash of the
	// figures shown.
	if got := e.sql("SELECT count(), countIf(has(file_names, 'dashboard-2025.csv')) FROM releases"); got != "4\t3" {
		t.Errorf("deliveries (all, dashboard views) = %q, want 4 with 3 views", got)
	}

	// A funder of haren sees haren (or its pool) and nothing else, and cannot ask for more.
	f := newWebClient(t, e)
	f.signIn(e.token("funder", "haren"))
	p = f.get("/reports?year=2025")
	if p.status != http.StatusOK || strings.Contains(p.body, `value="lantin"`) || strings.Contains(p.body, `data-group="lantin`) {
		t.Errorf("funder dashboard = %d, or shows lantin", p.status)
	}
	if p := f.get("/reports?year=2025&site=lantin"); p.status != http.StatusForbidden {
		t.Errorf("funder asking for lantin = %d, want 403", p.status)
	}
	if strings.Contains(p.body, `name="site"`) {
		t.Errorf("a funder is offered a choice of sites")
	}
	if p := f.get("/audit"); p.status != http.StatusForbidden {
		t.Errorf("funder on /audit = %d, want 403", p.status)
	}

	// The audit page shows the coordinator every sign-in.
	p = w.get("/audit?action=session.signin&lang=en")
	if p.status != http.StatusOK || strings.Count(p.body, "<td>session.signin</td>") != 2 {
		t.Errorf("audit page = %d with %d sign-ins, want 2", p.status, strings.Count(p.body, "<td>session.signin</td>"))
	}
	if p := w.get("/audit?since=yesterday"); p.status != http.StatusBadRequest {
		t.Errorf("audit page with a bad date = %d, want 400", p.status)
	}

	// In Chromium every chart is drawn, with no script error and no CSP violation.
	b := newBrowser(t, true)
	b.signIn(t, e, "/reports?year=2025", coordinator)
	b.do(t, "charts", waitVisible(".chart svg"))
	charts := get(t, b, "count the charts", chromedp.Evaluate[[]int](
		`[document.querySelectorAll('.chart').length, document.querySelectorAll('.chart svg').length]`))
	if charts[0] < 5 || charts[0] != charts[1] {
		t.Errorf("%d charts, %d drawn; want every chart drawn", charts[0], charts[1])
	}
	if p := b.problems(); len(p) > 0 {
		t.Errorf("the dashboard reported problems:\n%s", strings.Join(p, "\n"))
	}
}

var regexpSubmissionID = regexp.MustCompile(`name="submission_id" value="([^"]+)"`)

// TestWebSignInFlood checks that a burst of sign-in attempts from one address is slowed
// down (429 with Retry-After) before it reaches the audit log.
func TestWebSignInFlood(t *testing.T) {
	e := newTestEnv(t)
	w := newWebClient(t, e)
	w.get("/login")
	csrf := w.csrf()
	var statuses []int
	for range 10 {
		statuses = append(statuses, w.post("/login", url.Values{"csrf": {csrf}, "token": {"tt_guess"}}).status)
	}
	if statuses[0] != http.StatusUnauthorized || !slices.Contains(statuses, http.StatusTooManyRequests) || w.last.header.Get("Retry-After") == "" {
		t.Errorf("statuses of 10 quick attempts = %v, want 401 then 429 with Retry-After", statuses)
	}
	denied := 0
	for _, st := range statuses {
		if st == http.StatusUnauthorized {
			denied++
		}
	}
	if got := e.sql("SELECT count() FROM audit_log WHERE action = 'session.signin'"); got != strconv.Itoa(denied) {
		t.Errorf("%s sign-ins audited, want the %d that were answered", got, denied)
	}
}

// TestPageErrorMatrix sends every page each fault that applies to it — no session, wrong
// role, another site, no CSRF token, an oversize or unreadable body, an unknown
// questionnaire — and checks the exact status, and that nothing was stored.
func TestPageErrorMatrix(t *testing.T) {
	e := newTestEnv(t)
	anon := newWebClient(t, e)
	intake := newWebClient(t, e)
	intake.signIn(e.token("intake", "haren"))
	intake.get("/forms")
	intakeCSRF := intake.csrf()
	coord := newWebClient(t, e)
	coord.signIn(e.token("coordinator"))
	coord.get("/audit")
	coordCSRF := coord.csrf()
	funder := newWebClient(t, e)
	funder.signIn(e.token("funder", "lantin"))

	form := func(csrf string, changes ...string) url.Values {
		v := entryForm(csrf, "00000000-0000-4000-8000-000000000042")
		for i := 0; i < len(changes); i += 2 {
			v.Set(changes[i], changes[i+1])
		}
		return v
	}
	big := strings.Repeat("x", 70<<10)
	upload := func(w *webClient, fields map[string]string, size int) webPage {
		return w.upload("/import", fields, "f.csv", bytes.Repeat([]byte("a;"), size/2))
	}
	raw := func(w *webClient, path, contentType, body string) webPage {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, w.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		return w.send(req)
	}
	cases := []struct {
		name   string
		do     func() webPage
		status int
		where  string // Location of a redirect
	}{
		{"forms, no session", func() webPage { return anon.get("/forms/entry") }, 303, "/login?next=%2Fforms%2Fentry"},
		{"forms, coordinator", func() webPage { return coord.get("/forms/entry") }, 403, ""},
		{"forms, unknown questionnaire", func() webPage { return intake.get("/forms/nope") }, 404, ""},
		{"post form, no session", func() webPage { return anon.post("/forms/entry", form("x")) }, 401, ""},
		{"post form, coordinator", func() webPage { return coord.post("/forms/entry", form(coordCSRF)) }, 403, ""},
		{"post form, no CSRF", func() webPage { return intake.post("/forms/entry", form("")) }, 403, ""},
		{"post form, other site", func() webPage { return intake.post("/forms/entry", form(intakeCSRF, "site", "lantin")) }, 403, ""},
		{"post form, unknown site", func() webPage { return intake.post("/forms/entry", form(intakeCSRF, "site", "atlantis")) }, 400, ""},
		{"post form, unknown questionnaire", func() webPage { return intake.post("/forms/nope", form(intakeCSRF)) }, 404, ""},
		{"post form, oversize", func() webPage { return intake.post("/forms/entry", form(intakeCSRF, "pad", big)) }, 413, ""},
		{"post form, JSON", func() webPage { return raw(intake, "/forms/entry", "application/json", `{"csrf":"`+intakeCSRF+`"}`) }, 403, ""},
		{"post form, broken encoding", func() webPage {
			return raw(intake, "/forms/entry", "application/x-www-form-urlencoded", "csrf="+intakeCSRF+"&demo.age=%zz")
		}, 400, ""},
		{"import, no session", func() webPage { return anon.get("/import") }, 303, "/login?next=%2Fimport"},
		{"import, funder", func() webPage { return funder.get("/import") }, 403, ""},
		{"post import, no session", func() webPage { return upload(anon, map[string]string{"site": "haren"}, 10) }, 401, ""},
		// A stranger's upload is refused before it is read.
		{"post import, no session, oversize", func() webPage { return upload(anon, map[string]string{"site": "haren"}, 34<<20) }, 401, ""},
		{"post import, funder", func() webPage { return upload(funder, map[string]string{"site": "lantin"}, 10) }, 403, ""},
		{"post import, no CSRF", func() webPage { return upload(intake, map[string]string{"site": "haren"}, 10) }, 403, ""},
		{"post import, other site", func() webPage { return upload(intake, map[string]string{"csrf": intakeCSRF, "site": "lantin"}, 10) }, 403, ""},
		{"post import, oversize", func() webPage { return upload(intake, map[string]string{"csrf": intakeCSRF, "site": "haren"}, 34<<20) }, 413, ""},
		{"post import, no file", func() webPage {
			return raw(intake, "/import", "application/x-www-form-urlencoded", "csrf="+intakeCSRF+"&site=haren&action=import")
		}, 400, ""},
		{"post import, not a table", func() webPage {
			return intake.upload("/import", map[string]string{"csrf": intakeCSRF, "site": "haren", "action": "import"}, "f.xlsx", []byte("PK\x03\x04 not a zip"))
		}, 400, ""},
		{"reports, no session", func() webPage { return anon.get("/reports") }, 303, "/login?next=%2Freports"},
		{"reports, intake", func() webPage { return intake.get("/reports") }, 403, ""},
		{"reports, funder, other site", func() webPage { return funder.get("/reports?site=haren") }, 403, ""},
		{"reports, unknown site", func() webPage { return coord.get("/reports?site=atlantis") }, 400, ""},
		{"download, intake", func() webPage { return intake.get("/reports/2025.xlsx") }, 403, ""},
		{"download, funder, other site", func() webPage { return funder.get("/reports/2025.xlsx?site=haren") }, 403, ""},
		{"download, no data", func() webPage { return coord.get("/reports/2025.xlsx") }, 404, ""},
		{"download, unknown file", func() webPage { return coord.get("/reports/2025.pdf") }, 404, ""},
		{"chart script of another session", func() webPage { return funder.get("/reports/charts-0123456789abcdef0123456789abcdef.js") }, 404, ""},
		{"audit, funder", func() webPage { return funder.get("/audit") }, 403, ""},
		{"audit, intake", func() webPage { return intake.get("/audit") }, 403, ""},
		{"logout, no CSRF", func() webPage { return intake.post("/logout", url.Values{}) }, 403, ""},
		{"login, no CSRF", func() webPage { return anon.post("/login", url.Values{"token": {"tt_x"}}) }, 403, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.do()
			if p.status != c.status || location(p) != c.where {
				t.Errorf("= %d to %q, want %d to %q", p.status, location(p), c.status, c.where)
			}
			if p.status != 303 && !strings.HasPrefix(p.header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("answered without the pages' security headers")
			}
		})
	}
	if n := e.sql("SELECT count() FROM submissions"); n != "0" {
		t.Errorf("%s submissions stored by refused requests", n)
	}
}

// TestWebSignInForwardedFor checks that a client cannot escape the sign-in limit by
// claiming other addresses in X-Forwarded-For.
func TestWebSignInForwardedFor(t *testing.T) {
	e := newTestEnv(t)
	w := newWebClient(t, e)
	w.get("/login")
	csrf := w.csrf()
	limited := false
	for i := range 10 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, w.base+"/login",
			strings.NewReader(url.Values{"csrf": {csrf}, "token": {"tt_guess"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
		if w.send(req).status == http.StatusTooManyRequests {
			limited = true
		}
	}
	if !limited {
		t.Errorf("10 quick sign-ins with 10 forwarded-for addresses were never limited")
	}
}

// TestWebSignOutSurvivesRestart: a signed-out cookie opens nothing on the server
// restarted on the same data (the sessions are in the store; a second server sharing it
// is covered with a fake clock in package web).
func TestWebSignOutSurvivesRestart(t *testing.T) {
	e := newTestEnv(t)
	coordinator := e.token("coordinator")
	w := newWebClient(t, e)
	if p := w.signIn(coordinator); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", p.status)
	}
	saved := w.c.Jar.Cookies(mustURL(t, w.base))
	if p := w.get("/reports"); p.status != http.StatusOK {
		t.Fatalf("GET /reports signed in = %d", p.status)
	}
	if p := w.post("/logout", url.Values{"csrf": {w.csrf()}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-out = %d", p.status)
	}
	// The server is stopped and started again on the same data.
	e.srv.Close()
	e.app.Close()
	restarted, err := NewApp(t.Context(), e.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(restarted.Handler())
	t.Cleanup(func() { srv.Close(); restarted.Close() })
	again := &webClient{t: t, base: srv.URL, c: &http.Client{Jar: w.c.Jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	again.c.Jar.SetCookies(mustURL(t, again.base), saved)
	if p := again.get("/reports"); p.status != http.StatusSeeOther {
		t.Errorf("a signed-out cookie after a restart = %d, want 303 to sign in", p.status)
	}
	if n := e.sql("SELECT count() FROM sessions WHERE ended = 1"); n != "1" {
		t.Errorf("%s ended sessions in the store, want 1", n)
	}
}
