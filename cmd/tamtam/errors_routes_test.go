package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/net/html"
)

// routeCase is one refused request of TestErrorRoutes and the shape of its answer.
type routeCase struct {
	route string // "METHOD /pattern" as the engine lists it
	name  string
	do    func() routeAnswer
	// status of the answer, and its form: JSON ({"error":{"code","message"}} with code)
	// or the HTML error page.
	status int
	code   string // JSON only: error.code
	html   bool
}

// routeAnswer is what a route answered.
type routeAnswer struct {
	status int
	header http.Header
	body   string
}

// routesWithoutErrors are the routes that answer no error a client can cause, and why.
var routesWithoutErrors = map[string]string{
	"GET /healthz":               "always 200",
	"GET /readyz":                "503 with the store or spool down: TestSpoolFull and TestReadyWithoutSpool",
	"GET /api/v1/questionnaires": "public list",
	"GET /api/v1/sites":          "public list",
	"GET /api/v1/openapi.json":   "the embedded document",
	"GET /":                      "a redirect, to the sign-in page or the role's first page",
	"GET /login":                 "the sign-in form, or a redirect when signed in",
}

// TestErrorRoutes drives an error case of every route of the engine (a route without a
// case fails the test) and checks that errors are answered in one way: the status from
// the error's code, Retry-After on 429 and 503, the JSON error object on the API and the
// downloads, the error page (parsed) with the pages' security headers on the pages.
func TestErrorRoutes(t *testing.T) {
	e := newTestEnv(t)
	intakeTok, coordTok := e.token("intake", "haren"), e.token("coordinator")
	anon, intake, coord, funder := newWebClient(t, e), newWebClient(t, e), newWebClient(t, e), newWebClient(t, e)
	for _, s := range []struct {
		w   *webClient
		tok string
	}{{intake, intakeTok}, {coord, coordTok}, {funder, e.token("funder", "lantin")}} {
		if p := s.w.signIn(s.tok); p.status != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", p.status)
		}
	}
	intake.get("/forms")
	intakeCSRF := intake.csrf()

	page := func(w *webClient, method, path string, form url.Values) func() routeAnswer {
		return func() routeAnswer {
			var p webPage
			if method == http.MethodGet {
				p = w.get(path)
			} else {
				p = w.post(path, form)
			}
			return routeAnswer{p.status, p.header, p.body}
		}
	}
	api := func(method, path, token, contentType, body string) func() routeAnswer {
		return func() routeAnswer {
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			r := e.do(method, path, token, contentType, rd)
			return routeAnswer{r.status, r.header, r.raw}
		}
	}
	get, post := http.MethodGet, http.MethodPost
	cases := []routeCase{
		{route: "GET /api/v1/questionnaires/:id", name: "unknown", do: api(get, "/api/v1/questionnaires/nope", "", "", ""),
			status: 404, code: "not_found"},
		{route: "GET /api/v1/questionnaires/:id", name: "bad version", do: api(get, "/api/v1/questionnaires/entry?version=x", "", "", ""),
			status: 400, code: "invalid"},
		{route: "POST /api/v1/submissions", name: "no token", do: api(post, "/api/v1/submissions", "", "application/json", "{}"),
			status: 401, code: "unauthorized"},
		{route: "POST /api/v1/submissions", name: "wrong role", do: api(post, "/api/v1/submissions", coordTok, "application/json", "{}"),
			status: 403, code: "forbidden"},
		{route: "POST /api/v1/submissions:batch", name: "no token", do: api(post, "/api/v1/submissions:batch", "", "application/json", "{}"),
			status: 401, code: "unauthorized"},
		{route: "POST /api/v1/submissions:batch", name: "media type", do: api(post, "/api/v1/submissions:batch", intakeTok, "text/plain", "{}"),
			status: 415, code: "unsupported_media_type"},
		{route: "GET /api/v1/reports/:file", name: "wrong role", do: api(get, "/api/v1/reports/2025.xlsx", intakeTok, "", ""),
			status: 403, code: "forbidden"},
		{route: "GET /api/v1/reports/:file", name: "no release", do: api(get, "/api/v1/reports/2019.csv", coordTok, "", ""),
			status: 404, code: "no_release"},
		{route: "GET /static/*file", name: "unknown file", do: page(anon, get, "/static/nope.css", nil), status: 404, html: true},
		{route: "POST /login", name: "no CSRF", do: page(anon, post, "/login", url.Values{"token": {"tt_x"}}), status: 403, html: true},
		{route: "POST /logout", name: "no session", do: page(anon, post, "/logout", url.Values{}), status: 401, html: true},
		{route: "POST /forms/:questionnaire", name: "no session", do: page(anon, post, "/forms/entry", url.Values{}), status: 401, html: true},
		{route: "POST /forms/:questionnaire", name: "unknown", do: page(intake, post, "/forms/nope", url.Values{"csrf": {intakeCSRF}}),
			status: 404, html: true},
		{route: "POST /import", name: "no session", do: page(anon, post, "/import", url.Values{}), status: 401, html: true},
		{route: "POST /import", name: "other site", do: page(intake, post, "/import", url.Values{"csrf": {intakeCSRF}, "site": {"lantin"}}),
			status: 403, html: true},
		{route: "GET /forms", name: "wrong role", do: page(coord, get, "/forms", nil), status: 403, html: true},
		{route: "GET /forms/:questionnaire", name: "unknown", do: page(intake, get, "/forms/nope", nil), status: 404, html: true},
		{route: "GET /forms/:questionnaire/done", name: "unknown", do: page(intake, get, "/forms/nope/done", nil), status: 404, html: true},
		{route: "GET /forms/:questionnaire/template.xlsx", name: "unknown", do: page(intake, get, "/forms/nope/template.xlsx", nil),
			status: 404, html: true},
		{route: "GET /import", name: "wrong role", do: page(funder, get, "/import", nil), status: 403, html: true},
		{route: "GET /import/annotated/:id", name: "unknown", do: page(intake, get, "/import/annotated/0123", nil), status: 404, html: true},
		{route: "GET /audit", name: "wrong role", do: page(funder, get, "/audit", nil), status: 403, html: true},
		{route: "GET /audit", name: "bad date", do: page(coord, get, "/audit?since=yesterday", nil), status: 400},
		{route: "GET /reports", name: "wrong role", do: page(intake, get, "/reports", nil), status: 403, html: true},
		{route: "GET /reports", name: "unknown site", do: page(coord, get, "/reports?site=atlantis", nil), status: 400, html: true},
		{route: "GET /reports/:file", name: "wrong role", do: page(intake, get, "/reports/2025.xlsx", nil), status: 403, html: true},
		{route: "GET /reports/:file", name: "chart script of nobody", do: page(coord, get, "/reports/charts-0123.js", nil),
			status: 404, html: true},
		// A download among the pages answers as the API's download does.
		{route: "GET /reports/:file", name: "download, no release", do: page(coord, get, "/reports/2019.csv", nil),
			status: 404, code: "no_release"},
	}

	engine, ok := e.srv.Config.Handler.(*gin.Engine)
	if !ok {
		t.Fatalf("the handler is a %T, not a *gin.Engine", e.srv.Config.Handler)
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
	}
	for _, r := range engine.Routes() {
		route := r.Method + " " + r.Path
		if _, exempt := routesWithoutErrors[route]; !exempt && !covered[route] {
			t.Errorf("route %s has no error case in TestErrorRoutes", route)
		}
	}

	for _, c := range cases {
		t.Run(c.route+"/"+c.name, func(t *testing.T) {
			a := c.do()
			if a.status != c.status {
				t.Fatalf("= %d (%.200s), want %d", a.status, a.body, c.status)
			}
			if (a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable) && a.header.Get("Retry-After") == "" {
				t.Errorf("%d without Retry-After", a.status)
			}
			switch {
			case c.code != "":
				checkJSONError(t, a, c.code)
			case c.html:
				checkErrorPage(t, a)
			default: // a page shown again with its problem (a form, a filter)
				if !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
					t.Errorf("Content-Type = %q, want a page", a.header.Get("Content-Type"))
				}
			}
		})
	}
}

// checkJSONError checks a JSON error answer: exactly {"error":{"code","message"}}.
func checkJSONError(t *testing.T, a routeAnswer, code string) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]map[string]any
	if err := json.Unmarshal([]byte(a.body), &body); err != nil {
		t.Fatalf("body %.200q: %v", a.body, err)
	}
	errObj := body["error"]
	if len(body) != 1 || errObj["code"] != code || errObj["message"] == "" || len(errObj) != 2 {
		t.Errorf("body = %.300s, want {\"error\":{\"code\":%q,\"message\":…}}", a.body, code)
	}
	if a.status == http.StatusUnauthorized && a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
}

// checkErrorPage parses the answer as the error page: an HTML document with a non-empty
// #error-message, and the pages' security headers.
func checkErrorPage(t *testing.T, a routeAnswer) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if !strings.HasPrefix(a.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("error page without the pages' security headers")
	}
	doc, err := html.Parse(strings.NewReader(a.body))
	if err != nil {
		t.Fatalf("error page: %v", err)
	}
	msg := ""
	if n := findByID(doc, "error-message"); n != nil {
		msg = textOf(n)
	}
	if msg == "" || strings.HasPrefix(msg, "[") {
		t.Errorf("error page message = %q, want a message of the catalogue (%.300s)", msg, a.body)
	}
}

func findByID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findByID(c, id); f != nil {
			return f
		}
	}
	return nil
}

// TestErrorLanguages checks that the API's error messages follow Accept-Language
// (English by default, and exactly as before in English), and the itemised ones too.
func TestErrorLanguages(t *testing.T) {
	e := newTestEnv(t)
	intake := e.token("intake", "haren")
	ask := func(method, path, token, body, lang string) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	message := func(body map[string]any) string {
		m, _ := body["error"].(map[string]any)
		s, _ := m["message"].(string)
		return s
	}
	tests := []struct{ lang, want string }{
		{"", "a bearer token is required"},
		{"en-GB", "a bearer token is required"},
		{"fr-BE,fr;q=0.9", "un jeton bearer est requis"},
		{"nl", "een bearer-token is vereist"},
		{"de", "a bearer token is required"},
	}
	for _, tt := range tests {
		if got := message(ask(http.MethodPost, "/api/v1/submissions", "", "{}", tt.lang)); got != tt.want {
			t.Errorf("401 with Accept-Language %q: message %q, want %q", tt.lang, got, tt.want)
		}
	}
	// An itemised 400: the envelope's messages in the three languages.
	items := map[string]string{}
	for _, lang := range []string{"en", "fr", "nl"} {
		body := ask(http.MethodPost, "/api/v1/submissions", intake, "[]", lang)
		list, _ := body["errors"].([]any)
		if len(list) != 1 {
			t.Fatalf("POST [] in %s: %v, want one itemised error", lang, body)
		}
		items[lang] = list[0].(map[string]any)["message"].(string)
	}
	if items["en"] != "the body is not a valid JSON submission object" || len(slices.Compact(slices.Sorted(maps.Values(items)))) != 3 {
		t.Errorf("itemised messages by language = %q, want the English one as before and three different texts", items)
	}
}

// TestErrorRoutesRateLimited: over its token's rate, the dashboard answers the error page
// and its files (downloads, scripts) answer JSON, as the API's downloads do, both with
// Retry-After. The clock is stopped so the bucket does not refill however slow the run.
func TestErrorRoutesRateLimited(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.RateLimit = 1 }) // bursts of 2
	stopped := time.Now()
	e.app.now = func() time.Time { return stopped }
	coord := newWebClient(t, e)
	if p := coord.signIn(e.token("coordinator")); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", p.status)
	}
	var last webPage
	for range 4 {
		last = coord.get("/reports/2019.csv")
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("GET /reports/2019.csv over the rate = %d, Retry-After %q; want 429 with Retry-After", last.status, last.header.Get("Retry-After"))
	}
	checkJSONError(t, routeAnswer{last.status, last.header, last.body}, "rate_limited")
	last = coord.get("/reports?year=2019")
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
		t.Fatalf("GET /reports over the rate = %d, Retry-After %q; want 429 with Retry-After", last.status, last.header.Get("Retry-After"))
	}
	checkErrorPage(t, routeAnswer{last.status, last.header, last.body})
}
