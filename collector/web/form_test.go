package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"golang.org/x/net/html"

	"github.com/tamtam-ngo/tamtam/collector"
)

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

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
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

// renderForm renders the form page of d in lang, as a signed-in intake worker of sites
// sees it, with the posted values and field errors given.
func renderForm(t *testing.T, d *collector.Definition, lang string, sites []string, values url.Values, ferrs []collector.FieldError) *html.Node {
	t.Helper()
	gin.SetMode(gin.TestMode)
	known, err := collector.LoadSites("")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := NewPages(NewSessions(make([]byte, 32), nil, nil, SessionOptions{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{API: &collector.API{Sites: known}, Pages: pages}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodGet, "/forms/"+d.ID+"?lang="+lang, nil)
	p := collector.Principal{TokenID: "t", Role: collector.RoleIntake, Sites: sites}
	collector.SetPrincipal(c, p)
	pg := pages.NewPage(c, "forms_title")
	f := newForm(d, lang, values, ferrs)
	f.SubmissionID = "00000000-0000-4000-8000-000000000001"
	f.Sites = s.siteOptions(p, values.Get("site"), lang)
	s.renderForm(c, http.StatusOK, pg, f)
	if w.Code != http.StatusOK {
		t.Fatalf("render %s/%s = %d", d.ID, lang, w.Code)
	}
	doc, err := html.Parse(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestFormFollowsDefinition checks every questionnaire in every language: one block per
// item in definition order, controls named by item code and valued by choice code, the
// conditions of the definition on the block, and the accessible structure a screen
// reader needs (a legend for every group of choices, a label for every other control,
// unique ids, descriptions that exist).
func TestFormFollowsDefinition(t *testing.T) {
	cat, err := collector.BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range cat.IDs() {
		d, _ := cat.Latest(id)
		for _, lang := range collector.Languages {
			doc := renderForm(t, d, lang, []string{"haren", "lantin"}, nil, nil)
			blocks := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-item"); return ok && n.Data == "div" })
			if len(blocks) != len(d.Items) {
				t.Fatalf("%s/%s: %d item blocks, want %d", id, lang, len(blocks), len(d.Items))
			}
			ids := map[string]bool{}
			for _, n := range findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "id"); return ok }) {
				v, _ := attr(n, "id")
				if ids[v] {
					t.Errorf("%s/%s: id %q used twice", id, lang, v)
				}
				ids[v] = true
			}
			for i, it := range d.Items {
				b := blocks[i]
				if code, _ := attr(b, "data-item"); code != it.Code {
					t.Fatalf("%s/%s: block %d is %s, want %s", id, lang, i, code, it.Code)
				}
				when, _ := attr(b, "data-when")
				if want, _ := json.Marshal(it.When); len(it.When) > 0 && when != string(want) || len(it.When) == 0 && when != "" {
					t.Errorf("%s/%s %s: data-when %q, want %s", id, lang, it.Code, when, want)
				}
				controls := findAll(b, func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" })
				var values []string
				for _, c := range controls {
					name, _ := attr(c, "name")
					if name != it.Code {
						t.Errorf("%s %s: control named %q", id, it.Code, name)
					}
					typ, _ := attr(c, "type")
					if typ == "radio" || typ == "checkbox" {
						v, _ := attr(c, "value")
						if v != "" {
							values = append(values, v)
						}
					}
					for _, o := range findAll(c, func(n *html.Node) bool { return n.Data == "option" }) {
						if v, _ := attr(o, "value"); v != "" {
							values = append(values, v)
						}
					}
					if cid, _ := attr(c, "id"); typ != "radio" && typ != "checkbox" &&
						len(findAll(b, func(n *html.Node) bool { f, _ := attr(n, "for"); return n.Data == "label" && f == cid })) != 1 {
						t.Errorf("%s %s: control %s has no label", id, it.Code, cid)
					}
					if desc, ok := attr(c, "aria-describedby"); ok {
						for _, ref := range strings.Fields(desc) {
							if !ids[ref] {
								t.Errorf("%s %s: aria-describedby names %q, which does not exist", id, it.Code, ref)
							}
						}
					}
				}
				var want []string
				for _, ch := range it.Choices {
					want = append(want, ch.Code)
				}
				if !slices.Equal(values, want) {
					t.Errorf("%s/%s %s: choice values %v, want %v", id, lang, it.Code, values, want)
				}
				if it.Type == collector.TypeChoice && len(it.Choices) <= maxRadios || it.Type == collector.TypeMulti {
					legends := findAll(b, func(n *html.Node) bool { return n.Data == "legend" })
					if len(findAll(b, func(n *html.Node) bool { return n.Data == "fieldset" })) != 1 || len(legends) != 1 ||
						!strings.HasPrefix(textOf(legends[0]), it.Label.In(lang)) {
						t.Errorf("%s/%s %s: choices not in a fieldset with the question as legend", id, lang, it.Code)
					}
				}
			}
		}
	}
}

// TestFormKeepsAnswers renders a form sent back with errors: every answer is in place and
// each problem is beside its question, linked from the summary.
func TestFormKeepsAnswers(t *testing.T) {
	cat, _ := collector.BuiltinCatalog()
	d, _ := cat.Latest("entry")
	values := url.Values{"site": {"lantin"}, "meta.consent": {"1"}, "demo.age": {"150"}, "demo.nationality": {"MA"},
		"drug.lifetime": {"cannabis", "heroin"}, "link.identifier": {"AB 12"}}
	ferrs := []collector.FieldError{
		{Item: "demo.age", Code: collector.ErrOutOfRange, Message: "must be between 18 and 99"},
		{Item: "demo.gender", Code: collector.ErrMissingRequired, Message: "required"},
		{Item: "drug.lifetime", Code: collector.ErrNotApplicable, Message: "does not apply"},
	}
	doc := renderForm(t, d, "nl", []string{"haren", "lantin"}, values, ferrs)
	value := func(sel func(*html.Node) bool) []string {
		var out []string
		for _, n := range findAll(doc, sel) {
			v, _ := attr(n, "value")
			out = append(out, v)
		}
		return out
	}
	named := func(name string) func(*html.Node) bool {
		return func(n *html.Node) bool { v, _ := attr(n, "name"); return v == name }
	}
	checked := func(name string) []string {
		return value(func(n *html.Node) bool { _, c := attr(n, "checked"); return named(name)(n) && c })
	}
	selected := func(name string) []string {
		var out []string
		for _, s := range findAll(doc, named(name)) {
			for _, o := range findAll(s, func(n *html.Node) bool { _, ok := attr(n, "selected"); return n.Data == "option" && ok }) {
				v, _ := attr(o, "value")
				out = append(out, v)
			}
		}
		return out
	}
	for what, got := range map[string][]string{
		"site":             selected("site"),
		"meta.consent":     checked("meta.consent"),
		"demo.age":         value(named("demo.age")),
		"demo.nationality": selected("demo.nationality"),
		"drug.lifetime":    checked("drug.lifetime"),
		"link.identifier":  value(named("link.identifier")),
	} {
		want := slices.Sorted(slices.Values(values[what]))
		if got = slices.Sorted(slices.Values(got)); !slices.Equal(got, want) {
			t.Errorf("%s kept as %v, want %v", what, got, want)
		}
	}
	errs := map[string]string{}
	for _, b := range findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-item"); return ok && n.Data == "div" }) {
		code, _ := attr(b, "data-item")
		for _, p := range findAll(b, func(n *html.Node) bool { c, _ := attr(n, "class"); return n.Data == "p" && c == "error" }) {
			errs[code] = textOf(p)
		}
	}
	want := map[string]string{
		"demo.age":      "Geef een getal tussen 18 en 99.",
		"demo.gender":   "Deze vraag is verplicht.",
		"drug.lifetime": words.NL.T("field.not_applicable"),
	}
	if len(errs) != len(want) {
		t.Errorf("errors beside items: %v, want %v", errs, want)
	}
	for k, v := range want {
		if errs[k] != v {
			t.Errorf("error beside %s = %q, want %q", k, errs[k], v)
		}
	}
	links := findAll(doc, func(n *html.Node) bool { h, _ := attr(n, "href"); return n.Data == "a" && strings.HasPrefix(h, "#f-") })
	if len(links) != 3 {
		t.Errorf("%d links from the error summary, want 3", len(links))
	}
}

// TestEnvelopeFromForm checks how posted controls become the answers an API client would
// send: empty controls are no answer, several boxes an array, digits a number, anything
// else left as text for validation to refuse beside its item.
func TestEnvelopeFromForm(t *testing.T) {
	cat, _ := collector.BuiltinCatalog()
	d, _ := cat.Latest("entry")
	env := envelope(d, url.Values{"submission_id": {"id-1"}, "site": {"haren"}, "version": {"1"}, "csrf": {"x"},
		"meta.consent": {"1"}, "meta.entry_month": {"2025-03"}, "demo.age": {" 034 "}, "drug.main_age_first": {"seize"},
		"drug.lifetime": {"cannabis", "", "heroin"}, "demo.gender": {"M", "F"}, "inject.status": {""}, "nope": {"1"}})
	got := map[string]string{}
	for k, v := range env.Answers {
		got[k] = string(v)
	}
	want := map[string]string{"meta.consent": `"1"`, "meta.entry_month": `"2025-03"`, "demo.age": `34`,
		"drug.main_age_first": `"seize"`, "drug.lifetime": `["cannabis","heroin"]`, "demo.gender": `["M","F"]`}
	// Digits are a number however long: validation then says what is wrong with it.
	long := envelope(d, url.Values{"demo.age": {"123456789012345678901234"}})
	if got := string(long.Answers["demo.age"]); got != "123456789012345678901234" {
		t.Errorf("a long number becomes %s, want the digits as a JSON number", got)
	}
	if env.SubmissionID != "id-1" || env.Site != "haren" || env.Version != 1 || env.Questionnaire != "entry" {
		t.Errorf("envelope fields = %+v", env)
	}
	if len(got) != len(want) {
		t.Errorf("answers = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("answer %s = %s, want %s", k, got[k], v)
		}
	}
}
