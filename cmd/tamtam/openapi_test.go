package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tamtam-ngo/tamtam/collector"
)

// These tests hold collector/openapi.json to the server it describes: the same routes
// both ways, a document valid against the OpenAPI 3.1 meta-schema, examples valid against
// their schemas, and real answers of a running tamtam (statuses, headers, bodies) valid
// against what the document says of their route.

// openAPIURL is the base URL of the document among the schema compiler's resources. No
// loader is set: nothing is ever fetched.
const openAPIURL = "https://tamtam.invalid/openapi.json"

// openAPISpec is the document, decoded, with a JSON Schema 2020-12 compiler over it.
type openAPISpec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema // by JSON pointer
	paths    []openAPIPathMatcher
}

type openAPIPathMatcher struct {
	path    string // as in the document: /forms/{questionnaire}
	re      *regexp.Regexp
	literal int // characters outside parameters: the most literal match wins
}

func loadOpenAPI(t *testing.T) *openAPISpec {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(collector.OpenAPI()))
	if err != nil {
		t.Fatalf("collector/openapi.json: %v", err)
	}
	s := &openAPISpec{doc: doc.(map[string]any), compiler: jsonschema.NewCompiler(), compiled: map[string]*jsonschema.Schema{}}
	s.compiler.DefaultDraft(jsonschema.Draft2020)
	s.compiler.AssertFormat()
	if err := s.compiler.AddResource(openAPIURL, doc); err != nil {
		t.Fatalf("the document as a schema resource: %v", err)
	}
	param := regexp.MustCompile(`\{[^}/]+\}`)
	quotedParam := regexp.MustCompile(`\\\{[^}/]+\\\}`) // a parameter in regexp.QuoteMeta's output
	for p := range s.object("/paths") {
		re := regexp.MustCompile("^" + quotedParam.ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
		s.paths = append(s.paths, openAPIPathMatcher{path: p, re: re, literal: len(param.ReplaceAllString(p, ""))})
	}
	return s
}

// pointer returns the JSON pointer of the reference tokens.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return b.String()
}

// lookup returns the value at a JSON pointer of the document.
func (s *openAPISpec) lookup(ptr string) (any, bool) {
	var v any = s.doc
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func (s *openAPISpec) object(ptr string) map[string]any {
	v, _ := s.lookup(ptr)
	m, _ := v.(map[string]any)
	return m
}

// resolve follows a Reference Object ({"$ref": "#/…"}) at ptr to what it names, and
// returns the pointer of the object itself.
func (s *openAPISpec) resolve(ptr string) (string, error) {
	for range 10 {
		ref, ok := s.object(ptr)["$ref"].(string)
		if !ok {
			return ptr, nil
		}
		target, found := strings.CutPrefix(ref, "#")
		if !found {
			return "", fmt.Errorf("%s: $ref %q is not in the document", ptr, ref)
		}
		if _, ok := s.lookup(target); !ok {
			return "", fmt.Errorf("%s: $ref %q names nothing", ptr, ref)
		}
		ptr = target
	}
	return "", fmt.Errorf("%s: a loop of references", ptr)
}

// schema compiles the JSON Schema at ptr (with the document as its resource, so that
// "#/components/schemas/X" resolves). Compiling checks it against the 2020-12 meta-schema.
func (s *openAPISpec) schema(ptr string) (*jsonschema.Schema, error) {
	if sch, ok := s.compiled[ptr]; ok {
		return sch, nil
	}
	var frag strings.Builder
	for _, tok := range strings.Split(ptr, "/")[1:] {
		frag.WriteString("/" + url.PathEscape(tok))
	}
	sch, err := s.compiler.Compile(openAPIURL + "#" + frag.String())
	if err != nil {
		return nil, err
	}
	s.compiled[ptr] = sch
	return sch, nil
}

// operations returns the documented operations, as "METHOD /path".
func (s *openAPISpec) operations() map[string]bool {
	out := map[string]bool{}
	for p, item := range s.object("/paths") {
		for m := range item.(map[string]any) {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				out[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	return out
}

// match returns the documented path of a request path, the most literal that matches.
func (s *openAPISpec) match(path string) (string, bool) {
	best := -1
	for i, m := range s.paths {
		if m.re.MatchString(path) && (best < 0 || m.literal > s.paths[best].literal) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return s.paths[best].path, true
}

// openAPIPath is the OpenAPI path of a Gin route: ":param" and "*wild" become "{param}",
// and an escaped colon ("\:batch") a colon.
func openAPIPath(route string) string {
	route = strings.ReplaceAll(route, `\:`, "\x00")
	route = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`).ReplaceAllString(route, "{$1}")
	return strings.ReplaceAll(route, "\x00", ":")
}

// TestOpenAPIRoutes checks the document both ways against the engine serve runs: every
// route of the engine is documented with its method, and every documented operation is a
// route of the engine.
func TestOpenAPIRoutes(t *testing.T) {
	e := newTestEnv(t)
	engine, ok := e.srv.Config.Handler.(*gin.Engine)
	if !ok {
		t.Fatalf("the handler is a %T, not a *gin.Engine", e.srv.Config.Handler)
	}
	spec := loadOpenAPI(t)
	documented := spec.operations()
	routes := map[string]bool{}
	for _, r := range engine.Routes() {
		routes[r.Method+" "+openAPIPath(r.Path)] = true
	}
	if len(routes) == 0 {
		t.Fatal("the engine has no routes")
	}
	for _, r := range slices.Sorted(maps.Keys(routes)) {
		if !documented[r] {
			t.Errorf("route %s is not in collector/openapi.json", r)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(documented)) {
		if !routes[op] {
			t.Errorf("collector/openapi.json documents %s, which is no route of the engine", op)
		}
	}
}

// TestOpenAPIDocument checks the document itself: valid against the OpenAPI 3.1
// meta-schema (the one libopenapi embeds), built into a model by libopenapi without an
// error, every $ref naming something, every schema compiling as JSON Schema 2020-12, and
// every example valid against its schema.
func TestOpenAPIDocument(t *testing.T) {
	spec := loadOpenAPI(t)

	meta := jsonschema.NewCompiler()
	metaDoc, err := jsonschema.UnmarshalJSON(strings.NewReader(datamodel.OpenAPI31SchemaData))
	if err != nil {
		t.Fatalf("the OpenAPI 3.1 meta-schema: %v", err)
	}
	const metaURL = "https://spec.openapis.org/oas/3.1/schema/2022-10-07"
	if err := meta.AddResource(metaURL, metaDoc); err != nil {
		t.Fatal(err)
	}
	metaSchema, err := meta.Compile(metaURL)
	if err != nil {
		t.Fatalf("compile the OpenAPI 3.1 meta-schema: %v", err)
	}
	if err := metaSchema.Validate(spec.doc); err != nil {
		t.Errorf("collector/openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}

	doc, err := libopenapi.NewDocument(collector.OpenAPI())
	if err != nil {
		t.Fatalf("libopenapi.NewDocument: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Errorf("libopenapi reads version %q, want 3.1", v)
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Errorf("libopenapi BuildV3Model: %v", err)
	}

	// Walk the document: references, schemas, examples.
	var refs, schemas, examples int
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch x := v.(type) {
		case []any:
			for i, el := range x {
				walk(ptr+"/"+strconv.Itoa(i), el)
			}
			return
		case map[string]any:
			if _, ok := x["$ref"].(string); ok {
				refs++
				if _, err := spec.resolve(ptr); err != nil {
					t.Error(err)
				}
			}
			// An OpenAPI object with a schema (parameter, header, media type), and its
			// examples: "example", or "examples" as a map of Example Objects.
			if _, ok := x["schema"].(map[string]any); ok {
				schemas++
				sch, err := spec.schema(ptr + "/schema")
				if err != nil {
					t.Errorf("%s/schema: %v", ptr, err)
				} else {
					if ex, ok := x["example"]; ok {
						examples++
						if err := sch.Validate(ex); err != nil {
							t.Errorf("%s/example: %v", ptr, err)
						}
					}
					if exs, ok := x["examples"].(map[string]any); ok {
						for name := range exs {
							examples++
							exPtr, err := spec.resolve(ptr + pointer("examples", name))
							if err != nil {
								t.Error(err)
								continue
							}
							value, ok := spec.object(exPtr)["value"]
							if !ok {
								t.Errorf("%s: an example without a value", exPtr)
								continue
							}
							if err := sch.Validate(value); err != nil {
								t.Errorf("%s: %v", exPtr, err)
							}
						}
					}
				}
			}
			// A JSON Schema's "examples" (an array).
			if exs, ok := x["examples"].([]any); ok {
				sch, err := spec.schema(ptr)
				if err != nil {
					t.Errorf("%s: %v", ptr, err)
				} else {
					for i, ex := range exs {
						examples++
						if err := sch.Validate(ex); err != nil {
							t.Errorf("%s/examples/%d: %v", ptr, i, err)
						}
					}
				}
			}
			for k, el := range x {
				walk(ptr+pointer(k), el)
			}
		}
	}
	walk("", spec.doc)
	for name := range spec.object("/components/schemas") {
		schemas++
		if _, err := spec.schema(pointer("components", "schemas", name)); err != nil {
			t.Errorf("components/schemas/%s: %v", name, err)
		}
	}
	// Every operation's responses resolve to response objects with a description.
	for p, item := range spec.object("/paths") {
		for m, op := range item.(map[string]any) {
			responses, _ := op.(map[string]any)["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s %s has no responses", strings.ToUpper(m), p)
			}
			for status := range responses {
				if _, err := strconv.Atoi(status); err != nil {
					t.Errorf("%s %s: response %q is not a status code", strings.ToUpper(m), p, status)
				}
				rp, err := spec.resolve(pointer("paths", p, m, "responses", status))
				if err != nil {
					t.Error(err)
					continue
				}
				if d, _ := spec.object(rp)["description"].(string); d == "" {
					t.Errorf("%s: a response without a description", rp)
				}
			}
		}
	}
	t.Logf("%d references, %d schemas, %d examples checked", refs, schemas, examples)
	if refs == 0 || schemas == 0 || examples < 20 {
		t.Errorf("checked %d references, %d schemas, %d examples: the walk missed the document", refs, schemas, examples)
	}
}

// openAPIChecker checks real answers against the document.
type openAPIChecker struct {
	t    *testing.T
	spec *openAPISpec
	seen map[string]bool // "METHOD /path STATUS" checked
}

// check checks one answer to method path: its status is documented for the route, the
// headers the document requires are there, and the body is of a documented media type
// and valid against its schema.
func (c *openAPIChecker) check(method, rawPath string, status int, header http.Header, body []byte) {
	c.t.Helper()
	path, _, _ := strings.Cut(rawPath, "?")
	doc, ok := c.spec.match(path)
	if !ok {
		c.t.Errorf("%s %s: no documented path matches", method, path)
		return
	}
	opPtr := pointer("paths", doc, strings.ToLower(method))
	if _, ok := c.spec.lookup(opPtr); !ok {
		c.t.Errorf("%s %s: %s is not documented for %s", method, path, method, doc)
		return
	}
	name := fmt.Sprintf("%s %s %d", method, doc, status)
	c.seen[name] = true
	if _, ok := c.spec.lookup(opPtr + pointer("responses", strconv.Itoa(status))); !ok {
		c.t.Errorf("%s %s answered %d, which is not documented for %s %s (%.200s)", method, rawPath, status, method, doc, body)
		return
	}
	respPtr, err := c.spec.resolve(opPtr + pointer("responses", strconv.Itoa(status)))
	if err != nil {
		c.t.Error(err)
		return
	}
	resp := c.spec.object(respPtr)
	headers, _ := resp["headers"].(map[string]any)
	for h := range headers {
		hp, err := c.spec.resolve(respPtr + pointer("headers", h))
		if err != nil {
			c.t.Error(err)
			continue
		}
		hv := header.Get(h)
		if req, _ := c.spec.object(hp)["required"].(bool); req && hv == "" {
			c.t.Errorf("%s: no %s header, which the document requires", name, h)
		}
		if hv == "" {
			continue
		}
		if sch, err := c.spec.schema(hp + "/schema"); err != nil {
			c.t.Errorf("%s/schema: %v", hp, err)
		} else {
			var v any = hv
			if n, err := strconv.Atoi(hv); err == nil && c.spec.object(hp + "/schema")["type"] == "integer" {
				v = n
			}
			if err := sch.Validate(v); err != nil {
				c.t.Errorf("%s: header %s %q: %v", name, h, hv, err)
			}
		}
	}
	if len(body) == 0 {
		return
	}
	content, _ := resp["content"].(map[string]any)
	ct := header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		c.t.Errorf("%s: Content-Type %q: %v", name, ct, err)
		return
	}
	if _, ok := content[mt]; !ok {
		c.t.Errorf("%s: a body of type %s, which the document does not give (%v)", name, mt, slices.Sorted(maps.Keys(content)))
		return
	}
	schemaPtr := respPtr + pointer("content", mt, "schema")
	if _, ok := c.spec.lookup(schemaPtr); !ok {
		return // binary: no schema
	}
	sch, err := c.spec.schema(schemaPtr)
	if err != nil {
		c.t.Errorf("%s: %v", schemaPtr, err)
		return
	}
	var v any = string(body)
	if mt == "application/json" {
		if v, err = jsonschema.UnmarshalJSON(bytes.NewReader(body)); err != nil {
			c.t.Errorf("%s: the body is not JSON: %v (%.200s)", name, err, body)
			return
		}
	}
	if err := sch.Validate(v); err != nil {
		c.t.Errorf("%s: the body does not match %s: %v\n%.500s", name, schemaPtr, err, body)
	}
}

// TestOpenAPIResponses drives a running tamtam through the API, the health checks and the
// pages, and checks every answer against the document.
func TestOpenAPIResponses(t *testing.T) {
	e := newTestEnv(t)
	chk := &openAPIChecker{t: t, spec: loadOpenAPI(t), seen: map[string]bool{}}
	intake, coord, funder := e.token("intake", "haren"), e.token("coordinator"), e.token("funder", "lantin")

	// send makes a request and checks its answer.
	send := func(method, path, token string, header map[string]string, body []byte) (int, http.Header, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		chk.check(method, path, resp.StatusCode, resp.Header, raw)
		return resp.StatusCode, resp.Header, raw
	}
	get := func(path, token string) (int, http.Header, []byte) {
		return send(http.MethodGet, path, token, nil, nil)
	}
	jsonType := map[string]string{"Content-Type": "application/json"}
	post := func(path, token string, v any) (int, []byte) {
		t.Helper()
		b, ok := v.([]byte)
		if !ok {
			b = mustMarshal(t, v)
		}
		status, _, raw := send(http.MethodPost, path, token, jsonType, b)
		return status, raw
	}
	want := func(what string, got, want int, body []byte) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d (%.300s)", what, got, want, body)
		}
	}

	// Operations.
	status, _, body := get("/healthz", "")
	want("GET /healthz", status, 200, body)
	status, _, body = get("/readyz", "")
	want("GET /readyz", status, 200, body)
	status, header, body := get("/api/v1/openapi.json", "")
	want("GET /api/v1/openapi.json", status, 200, body)
	if !bytes.Equal(body, collector.OpenAPI()) {
		t.Errorf("GET /api/v1/openapi.json is not the embedded document")
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /api/v1/openapi.json: Content-Type %q, want application/json", ct)
	}
	etag := header.Get("ETag")
	status, _, body = send(http.MethodGet, "/api/v1/openapi.json", "", map[string]string{"If-None-Match": etag}, nil)
	want("GET /api/v1/openapi.json If-None-Match its ETag", status, http.StatusNotModified, body)

	// Questionnaires and sites: every definition this tamtam serves.
	status, _, body = get("/api/v1/questionnaires", "")
	want("GET /api/v1/questionnaires", status, 200, body)
	var list struct {
		Questionnaires []struct {
			ID       string
			Versions []int
		}
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Questionnaires) == 0 {
		t.Fatalf("GET /api/v1/questionnaires: %v, %d questionnaires", err, len(list.Questionnaires))
	}
	for _, q := range list.Questionnaires {
		for _, v := range q.Versions {
			status, _, body = get(fmt.Sprintf("/api/v1/questionnaires/%s?version=%d", q.ID, v), "")
			want("GET questionnaire "+q.ID, status, 200, body)
		}
		status, _, body = get("/api/v1/questionnaires/"+q.ID, "")
		want("GET questionnaire "+q.ID, status, 200, body)
	}
	status, _, body = get("/api/v1/questionnaires/entry?version=x", "")
	want("GET questionnaire, version not a number", status, 400, body)
	status, _, body = get("/api/v1/questionnaires/nope", "")
	want("GET unknown questionnaire", status, 404, body)
	status, _, body = get("/api/v1/sites", "")
	want("GET /api/v1/sites", status, 200, body)
	// A path that is not documented answers the document's not_found error (info).
	if r := e.do(http.MethodGet, "/api/v1/nothing", "", "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET an unknown path = %d, want 404", r.status)
	} else if sch, err := chk.spec.schema("/components/schemas/NotFoundError"); err != nil {
		t.Error(err)
	} else if v, err := jsonschema.UnmarshalJSON(strings.NewReader(r.raw)); err != nil {
		t.Errorf("GET an unknown path: %v", err)
	} else if err := sch.Validate(v); err != nil {
		t.Errorf("GET an unknown path: %v", err)
	}

	// Submissions: each answer of the contract.
	sub := entry(uuidN(88001))
	status, body = post("/api/v1/submissions", intake, sub)
	want("POST a new submission", status, 201, body)
	status, body = post("/api/v1/submissions", intake, sub)
	want("POST the same again", status, 200, body)
	other := entry(uuidN(88001))
	answers(other)["demo.age"] = 35
	status, body = post("/api/v1/submissions", intake, other)
	want("POST the same id, other answers", status, 409, body)
	bad := entry(uuidN(88002))
	answers(bad)["demo.age"] = 7
	answers(bad)["demo.gender"] = "Q"
	status, body = post("/api/v1/submissions", intake, bad)
	want("POST an invalid submission", status, 400, body)
	status, body = post("/api/v1/submissions", intake, []byte(`{"submission_id":`))
	want("POST a truncated body", status, 400, body)
	status, body = post("/api/v1/submissions", "", entry(uuidN(88003)))
	want("POST without a token", status, 401, body)
	status, body = post("/api/v1/submissions", "tt_nope", entry(uuidN(88003)))
	want("POST with an unknown token", status, 401, body)
	status, body = post("/api/v1/submissions", coord, entry(uuidN(88003)))
	want("POST with a coordinator token", status, 403, body)
	status, body = post("/api/v1/submissions", intake, withField(entry(uuidN(88003)), "site", "mons"))
	want("POST for another site", status, 403, body)
	status, _, body = send(http.MethodPost, "/api/v1/submissions", intake, map[string]string{"Content-Type": "text/plain"}, mustMarshal(t, entry(uuidN(88003))))
	want("POST as text/plain", status, 415, body)
	status, body = post("/api/v1/submissions", intake, bytes.Repeat([]byte(" "), collector.MaxSubmissionBytes+1))
	want("POST over 64 KiB", status, 413, body)

	// A batch with each kind of result, and a malformed one.
	conflict := entry(uuidN(88001))
	answers(conflict)["demo.age"] = 40
	status, body = post("/api/v1/submissions:batch", intake, map[string]any{"submissions": []any{
		entry(uuidN(88010)), entry(uuidN(88001)), conflict, bad, withField(entry(uuidN(88011)), "site", "mons"), "not an object"}})
	want("POST a batch", status, 200, body)
	status, body = post("/api/v1/submissions:batch", intake, map[string]any{"batch": []any{}})
	want("POST a malformed batch", status, 400, body)
	status, body = post("/api/v1/submissions:batch", "", map[string]any{"submissions": []any{}})
	want("POST a batch without a token", status, 401, body)

	// Reports: refusals, then the three downloads of a release.
	status, _, body = get("/api/v1/reports/2019.csv", coord)
	want("GET a year without a release", status, 404, body)
	status, _, body = get("/api/v1/reports/2025.xlsx", intake)
	want("GET a report with an intake token", status, 403, body)
	status, _, body = get("/api/v1/reports/2025.pdf", coord)
	want("GET a report of no format", status, 404, body)
	status, _, body = get("/api/v1/reports/2025.csv?lang=de", coord)
	want("GET a report in German", status, 400, body)
	status, _, body = get("/api/v1/reports/2025.csv?site=atlantis", coord)
	want("GET a report of an unknown site", status, 400, body)
	status, _, body = get("/api/v1/reports/2025.csv?site=haren", funder)
	want("GET a report of a site not the funder's", status, 403, body)
	if code, stdout, stderr := e.cli("release", "--year", "2025"); code != 0 {
		t.Fatalf("tamtam release = %d: %s%s", code, stdout, stderr)
	}
	for _, f := range []string{"2025.csv", "2025.html", "2025.xlsx"} {
		status, _, body = get("/api/v1/reports/"+f, coord)
		want("GET /api/v1/reports/"+f, status, 200, body)
	}
	// The funder's site has no record: its answer (no group of its sites) is checked
	// against the document too.
	get("/api/v1/reports/2025.csv", funder)

	// Over the rate limit, on an app that allows one request a second (bursts of two),
	// its clock stopped so that the bucket does not refill.
	slow := newTestEnv(t, func(c *Config) { c.RateLimit = 1 })
	stopped := time.Now()
	slow.app.now = func() time.Time { return stopped }
	slowIntake := slow.token("intake", "haren")
	var last response
	for i := range 3 {
		last = slow.post("/api/v1/submissions", slowIntake, entry(uuidN(88100+i)))
	}
	want("POST over the rate limit", last.status, 429, []byte(last.raw))
	chk.check(http.MethodPost, "/api/v1/submissions", last.status, last.header, []byte(last.raw))

	// The pages, as a browser.
	page := func(w *webClient, method, path string, form url.Values) webPage {
		t.Helper()
		var p webPage
		if method == http.MethodGet {
			p = w.get(path)
		} else {
			p = w.post(path, form)
		}
		chk.check(method, path, p.status, p.header, []byte(p.body))
		return p
	}
	anon := newWebClient(t, e)
	want("GET /", page(anon, http.MethodGet, "/", nil).status, 303, nil)
	want("GET /forms without a session", page(anon, http.MethodGet, "/forms", nil).status, 303, nil)
	want("GET /static/tamtam.css", page(anon, http.MethodGet, "/static/tamtam.css", nil).status, 200, nil)
	want("GET /static/form.js", page(anon, http.MethodGet, "/static/form.js", nil).status, 200, nil)
	want("GET /static/nope.css", page(anon, http.MethodGet, "/static/nope.css", nil).status, 404, nil)
	want("POST /logout without a session", page(anon, http.MethodPost, "/logout", url.Values{}).status, 401, nil)
	want("POST /login without CSRF", page(anon, http.MethodPost, "/login", url.Values{"token": {"tt_x"}}).status, 403, nil)

	// Sign-ins are limited per address: signIn waits a refusal out on the server's clock;
	// its last answer is checked.
	signIn := func(token string) *webClient {
		t.Helper()
		w := newWebClient(t, e)
		want("GET /login", page(w, http.MethodGet, "/login", nil).status, 200, nil)
		p := w.signIn(token)
		chk.check(http.MethodPost, "/login", p.status, p.header, []byte(p.body))
		return w
	}
	want("POST /login with an unknown token", signIn("tt_nope").last.status, 401, nil)

	wi := signIn(intake)
	for _, p := range []string{"/forms", "/forms/entry?site=haren", "/forms/entry/done?site=haren&status=stored", "/import", "/forms/entry/template.xlsx"} {
		want("GET "+p, page(wi, http.MethodGet, p, nil).status, 200, nil)
	}
	want("GET /forms/nope", page(wi, http.MethodGet, "/forms/nope", nil).status, 404, nil)
	want("GET /audit as intake", page(wi, http.MethodGet, "/audit", nil).status, 403, nil)
	want("GET /import/annotated/0123", page(wi, http.MethodGet, "/import/annotated/0123", nil).status, 404, nil)
	wi.get("/forms/entry?site=haren")
	form := url.Values{"csrf": {wi.csrf()}, "submission_id": {uuidN(88200)}, "version": {"1"}, "site": {"haren"},
		"meta.consent": {"0"}, "meta.entry_month": {"2025-03"}}
	want("POST /forms/entry", page(wi, http.MethodPost, "/forms/entry", form).status, 303, nil)
	form.Set("meta.entry_month", "2025-04")
	want("POST /forms/entry, same id, other answers", page(wi, http.MethodPost, "/forms/entry", form).status, 409, nil)
	form.Set("submission_id", uuidN(88201))
	form.Set("meta.entry_month", "nope")
	want("POST /forms/entry with a problem", page(wi, http.MethodPost, "/forms/entry", form).status, 400, nil)
	want("POST /import without a file", page(wi, http.MethodPost, "/import", url.Values{"csrf": {wi.csrf()}, "site": {"haren"}}).status, 400, nil)
	want("POST /import for another site", page(wi, http.MethodPost, "/import", url.Values{"csrf": {wi.csrf()}, "site": {"mons"}}).status, 403, nil)

	wc := signIn(coord)
	want("GET /reports", page(wc, http.MethodGet, "/reports?year=2025", nil).status, 200, nil)
	want("GET /reports, unknown site", page(wc, http.MethodGet, "/reports?site=atlantis", nil).status, 400, nil)
	want("GET /reports/2025.csv", page(wc, http.MethodGet, "/reports/2025.csv", nil).status, 200, nil)
	want("GET /reports/2019.csv", page(wc, http.MethodGet, "/reports/2019.csv", nil).status, 404, nil)
	want("GET /reports/echarts", page(wc, http.MethodGet, "/reports/echarts-5.4.3.min.js", nil).status, 200, nil)
	want("GET /reports/charts-0123.js", page(wc, http.MethodGet, "/reports/charts-0123.js", nil).status, 404, nil)
	want("GET /audit", page(wc, http.MethodGet, "/audit", nil).status, 200, nil)
	want("GET /audit?since=yesterday", page(wc, http.MethodGet, "/audit?since=yesterday", nil).status, 400, nil)
	want("GET /forms as coordinator", page(wc, http.MethodGet, "/forms", nil).status, 403, nil)
	wc.get("/reports?year=2025")
	want("POST /logout", page(wc, http.MethodPost, "/logout", url.Values{"csrf": {wc.csrf()}}).status, 303, nil)

	seen := slices.Sorted(maps.Keys(chk.seen))
	t.Logf("answers checked against the document: %d statuses of documented operations\n%s", len(seen), strings.Join(seen, "\n"))
}
