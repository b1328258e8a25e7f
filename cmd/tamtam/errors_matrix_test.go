package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tamtam-ngo/tamtam/collector"
)

// matrixCase is one request of TestErrorMatrix and the exact answer it must get.
type matrixCase struct {
	endpoint    string // the route under test, for the subtest name
	name        string // the fault: no token, wrong role, other site, malformed, …
	method      string
	path        string
	token       string
	contentType string
	body        []byte
	chunked     bool // send the body without a Content-Length

	status  int
	code    string   // error.code; "" when the body must have no "error"
	items   []string // "item:code" of the body's "errors"; nil when it must have none
	results []string // batch: "status:word[item:code …]" per submission; nil when no "results"
	keys    []string // top-level keys of a 2xx body; nil: derived from code, items, results
}

// withField returns a copy of the submission sub with key set to value.
func withField(sub map[string]any, key string, value any) map[string]any {
	out := maps.Clone(sub)
	out[key] = value
	return out
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestErrorMatrix sends every endpoint each fault that applies to it and checks the exact
// status and error body (DESIGN.md §3): error.code for the non-400 answers, the itemised
// "item:code" list for the 400s. Nothing may be stored by any of them.
func TestErrorMatrix(t *testing.T) {
	e := newTestEnv(t)
	intake := e.token("intake", "haren")
	coordinator := e.token("coordinator")
	funder := e.token("funder", "lantin")

	// Each submission differs from a valid one by the fault under test only: the valid
	// ones pass the whole ingest path except the store (API.Prepare), so every refusal
	// below is the fault's.
	n := 0
	valid := func() map[string]any {
		n++
		return entry(uuidN(70000 + n))
	}
	for _, sub := range []map[string]any{valid(), valid()} {
		env, ferrs := collector.DecodeEnvelope(mustMarshal(t, sub))
		if ferrs != nil {
			t.Fatalf("DecodeEnvelope(valid entry) = %v", ferrs)
		}
		p := collector.Principal{Role: collector.RoleIntake, Sites: []string{"haren"}}
		if _, err := e.app.api.Prepare(p, env); err != nil {
			t.Fatalf("Prepare(valid entry) error: %v", err)
		}
	}
	one := func() []byte { return mustMarshal(t, valid()) }
	batch := func(subs ...any) []byte { return mustMarshal(t, map[string]any{"submissions": subs}) }
	// noColon is a complete, valid submission with the colon after its first key left out.
	noColon := func() []byte { return bytes.Replace(one(), []byte(`":`), []byte(`" `), 1) }
	spaces := func(n int) []byte { return bytes.Repeat([]byte(" "), n) }
	var tooMany []any
	for range collector.MaxBatchSize + 1 {
		tooMany = append(tooMany, map[string]any{})
	}

	const (
		appJSON     = "application/json"
		subs        = "POST /api/v1/submissions"
		batchRoute  = "POST /api/v1/submissions:batch"
		report      = "GET /api/v1/reports/{file}"
		quest       = "GET /api/v1/questionnaires/{id}"
		sites       = "GET /api/v1/sites"
		unknown     = "unknown route"
		post, get   = http.MethodPost, http.MethodGet
		subsPath    = "/api/v1/submissions"
		batchPath   = "/api/v1/submissions:batch"
		reportPath  = "/api/v1/reports/2025.xlsx"
		unknownCode = "not_found"
	)
	tests := []matrixCase{
		// POST /api/v1/submissions
		{endpoint: subs, name: "no token", method: post, path: subsPath, contentType: appJSON, body: one(),
			status: http.StatusUnauthorized, code: "unauthorized"},
		{endpoint: subs, name: "unknown token", method: post, path: subsPath, token: "tt_nope", contentType: appJSON, body: one(),
			status: http.StatusUnauthorized, code: "unauthorized"},
		{endpoint: subs, name: "wrong role coordinator", method: post, path: subsPath, token: coordinator, contentType: appJSON, body: one(),
			status: http.StatusForbidden, code: "forbidden"},
		{endpoint: subs, name: "wrong role funder", method: post, path: subsPath, token: funder, contentType: appJSON, body: one(),
			status: http.StatusForbidden, code: "forbidden"},
		{endpoint: subs, name: "other site", method: post, path: subsPath, token: intake, contentType: appJSON,
			body:   mustMarshal(t, withField(valid(), "site", "mons")),
			status: http.StatusForbidden, code: "forbidden", items: []string{"site:site_not_allowed"}},
		{endpoint: subs, name: "unknown site", method: post, path: subsPath, token: intake, contentType: appJSON,
			body:   mustMarshal(t, withField(valid(), "site", "atlantis")),
			status: http.StatusBadRequest, items: []string{"site:unknown_site"}},
		{endpoint: subs, name: "malformed truncated", method: post, path: subsPath, token: intake, contentType: appJSON,
			body: []byte(`{"submission_id":`), status: http.StatusBadRequest, items: []string{":malformed"}},
		{endpoint: subs, name: "malformed array", method: post, path: subsPath, token: intake, contentType: appJSON,
			body: []byte(`[]`), status: http.StatusBadRequest, items: []string{":malformed"}},
		{endpoint: subs, name: "malformed key not a string", method: post, path: subsPath, token: intake, contentType: appJSON,
			body: []byte(`{0:1}`), status: http.StatusBadRequest, items: []string{":malformed"}},
		{endpoint: subs, name: "malformed key without colon", method: post, path: subsPath, token: intake, contentType: appJSON,
			body: noColon(), status: http.StatusBadRequest, items: []string{":malformed"}},
		{endpoint: subs, name: "unknown envelope field", method: post, path: subsPath, token: intake, contentType: appJSON,
			body:   mustMarshal(t, withField(valid(), "name", "Jean")),
			status: http.StatusBadRequest, items: []string{"name:unknown_field"}},
		{endpoint: subs, name: "oversize", method: post, path: subsPath, token: intake, contentType: appJSON,
			body:   append(one(), spaces(collector.MaxSubmissionBytes)...),
			status: http.StatusRequestEntityTooLarge, code: "too_large"},
		{endpoint: subs, name: "oversize chunked", method: post, path: subsPath, token: intake, contentType: appJSON,
			body: append(one(), spaces(collector.MaxSubmissionBytes)...), chunked: true,
			status: http.StatusRequestEntityTooLarge, code: "too_large"},
		{endpoint: subs, name: "wrong content type", method: post, path: subsPath, token: intake, contentType: "text/plain", body: one(),
			status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"},
		{endpoint: subs, name: "no content type", method: post, path: subsPath, token: intake, body: one(),
			status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"},
		{endpoint: subs, name: "form content type", method: post, path: subsPath, token: intake,
			contentType: "application/x-www-form-urlencoded", body: one(),
			status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"},
		{endpoint: subs, name: "unknown questionnaire", method: post, path: subsPath, token: intake, contentType: appJSON,
			body:   mustMarshal(t, withField(valid(), "questionnaire", "exit")),
			status: http.StatusBadRequest, items: []string{"questionnaire:unknown_questionnaire"}},
		{endpoint: subs, name: "unknown version", method: post, path: subsPath, token: intake, contentType: appJSON,
			body:   mustMarshal(t, withField(valid(), "version", 2)),
			status: http.StatusBadRequest, items: []string{"version:unknown_version"}},

		// POST /api/v1/submissions:batch: a batch that decodes is answered 200 with a
		// result per submission; only the batch as a whole gets a non-2xx status.
		{endpoint: batchRoute, name: "no token", method: post, path: batchPath, contentType: appJSON, body: batch(valid()),
			status: http.StatusUnauthorized, code: "unauthorized"},
		{endpoint: batchRoute, name: "unknown token", method: post, path: batchPath, token: "tt_nope", contentType: appJSON, body: batch(valid()),
			status: http.StatusUnauthorized, code: "unauthorized"},
		{endpoint: batchRoute, name: "wrong role coordinator", method: post, path: batchPath, token: coordinator, contentType: appJSON,
			body: batch(valid()), status: http.StatusForbidden, code: "forbidden"},
		{endpoint: batchRoute, name: "wrong role funder", method: post, path: batchPath, token: funder, contentType: appJSON,
			body: batch(valid()), status: http.StatusForbidden, code: "forbidden"},
		{endpoint: batchRoute, name: "other site", method: post, path: batchPath, token: intake, contentType: appJSON,
			body:   batch(withField(valid(), "site", "mons")),
			status: http.StatusOK, results: []string{"403:forbidden[site:site_not_allowed]"}},
		{endpoint: batchRoute, name: "malformed truncated", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: []byte(`{"submissions":[`), status: http.StatusBadRequest, items: []string{"submissions:malformed"}},
		{endpoint: batchRoute, name: "malformed extra key", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: []byte(`{"submissions":[],"site":"haren"}`), status: http.StatusBadRequest, items: []string{"submissions:malformed"}},
		{endpoint: batchRoute, name: "malformed key not a string", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: []byte(`{0:[]}`), status: http.StatusBadRequest, items: []string{"submissions:malformed"}},
		{endpoint: batchRoute, name: "malformed key without colon", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: []byte(`{"submissions" []}`), status: http.StatusBadRequest, items: []string{"submissions:malformed"}},
		{endpoint: batchRoute, name: "malformed submissions not an array", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: []byte(`{"submissions":{}}`), status: http.StatusBadRequest, items: []string{"submissions:wrong_type"}},
		{endpoint: batchRoute, name: "malformed submission", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: batch("x"), status: http.StatusOK, results: []string{"400:invalid[:malformed]"}},
		{endpoint: batchRoute, name: "too many submissions", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: batch(tooMany...), status: http.StatusBadRequest, items: []string{"submissions:too_many_submissions"}},
		{endpoint: batchRoute, name: "oversize", method: post, path: batchPath, token: intake, contentType: appJSON,
			body:   append(batch(valid()), spaces(collector.MaxBatchBytes)...),
			status: http.StatusRequestEntityTooLarge, code: "too_large"},
		{endpoint: batchRoute, name: "oversize chunked", method: post, path: batchPath, token: intake, contentType: appJSON,
			body: append(batch(valid()), spaces(collector.MaxBatchBytes)...), chunked: true,
			status: http.StatusRequestEntityTooLarge, code: "too_large"},
		{endpoint: batchRoute, name: "wrong content type", method: post, path: batchPath, token: intake, contentType: "text/csv",
			body: batch(valid()), status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"},
		{endpoint: batchRoute, name: "unknown questionnaire", method: post, path: batchPath, token: intake, contentType: appJSON,
			body:   batch(withField(valid(), "questionnaire", "exit")),
			status: http.StatusOK, results: []string{"400:invalid[questionnaire:unknown_questionnaire]"}},
		{endpoint: batchRoute, name: "unknown version", method: post, path: batchPath, token: intake, contentType: appJSON,
			body:   batch(withField(valid(), "version", 2)),
			status: http.StatusOK, results: []string{"400:invalid[version:unknown_version]"}},

		// GET /api/v1/reports/{year}.xlsx: 2019 has no release (no_release); the checks
		// of token, role, language and sites come first.
		{endpoint: report, name: "no token", method: get, path: reportPath,
			status: http.StatusUnauthorized, code: "unauthorized"},
		{endpoint: report, name: "unknown token", method: get, path: reportPath, token: "tt_nope",
			status: http.StatusUnauthorized, code: "unauthorized"},
		{endpoint: report, name: "wrong role intake", method: get, path: reportPath, token: intake,
			status: http.StatusForbidden, code: "forbidden"},
		{endpoint: report, name: "other site", method: get, path: reportPath + "?site=haren", token: funder,
			status: http.StatusForbidden, code: "forbidden"},
		{endpoint: report, name: "unknown site", method: get, path: reportPath + "?site=atlantis", token: coordinator,
			status: http.StatusBadRequest, code: "invalid"},
		{endpoint: report, name: "unknown language", method: get, path: reportPath + "?lang=de", token: coordinator,
			status: http.StatusBadRequest, code: "invalid"},
		{endpoint: report, name: "unknown year", method: get, path: "/api/v1/reports/2019.xlsx", token: coordinator,
			status: http.StatusNotFound, code: "no_release"},
		{endpoint: report, name: "unknown year funder", method: get, path: "/api/v1/reports/2019.xlsx", token: funder,
			status: http.StatusNotFound, code: "no_release"},
		{endpoint: report, name: "unknown format", method: get, path: "/api/v1/reports/2025.pdf", token: coordinator,
			status: http.StatusNotFound, code: "not_found"},

		// GET /api/v1/questionnaires/{id}: public.
		{endpoint: quest, name: "no token", method: get, path: "/api/v1/questionnaires/entry?version=1",
			status: http.StatusOK, keys: []string{"description", "id", "items", "title", "version"}},
		{endpoint: quest, name: "unknown questionnaire", method: get, path: "/api/v1/questionnaires/exit",
			status: http.StatusNotFound, code: "not_found"},
		{endpoint: quest, name: "unknown version", method: get, path: "/api/v1/questionnaires/entry?version=9",
			status: http.StatusNotFound, code: "not_found"},
		{endpoint: quest, name: "version 0", method: get, path: "/api/v1/questionnaires/entry?version=0",
			status: http.StatusNotFound, code: "not_found"},
		{endpoint: quest, name: "malformed version", method: get, path: "/api/v1/questionnaires/entry?version=one",
			status: http.StatusBadRequest, code: "invalid"},

		// GET /api/v1/sites: public.
		{endpoint: sites, name: "no token", method: get, path: "/api/v1/sites",
			status: http.StatusOK, keys: []string{"sites"}},

		// Routes that do not exist are answered like every other error, in JSON.
		{endpoint: unknown, name: "unknown path", method: get, path: "/api/v1/nope", token: coordinator,
			status: http.StatusNotFound, code: unknownCode},
		{endpoint: unknown, name: "unknown action", method: post, path: "/api/v1/submissions:validate", token: intake,
			contentType: appJSON, body: one(), status: http.StatusNotFound, code: unknownCode},
		{endpoint: unknown, name: "unknown method", method: http.MethodDelete, path: subsPath, token: intake,
			status: http.StatusNotFound, code: unknownCode},
	}

	var stored []string // cases answered that something was stored
	for _, tt := range tests {
		t.Run(tt.endpoint+"/"+tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = bytes.NewReader(tt.body)
				if tt.chunked {
					body = struct{ io.Reader }{body} // hides the length: sent chunked
				}
			}
			r := e.do(tt.method, tt.path, tt.token, tt.contentType, body)
			if r.body["status"] == "stored" || strings.Contains(r.raw, `"status":"stored"`) {
				stored = append(stored, tt.endpoint+"/"+tt.name)
			}
			checkMatrixAnswer(t, tt, r)
		})
	}
	if got := e.sql("SELECT count() FROM submissions"); got != "0" {
		t.Errorf("rows after the error matrix = %s, want 0 (answered stored: %q)", got, stored)
	}
}

// checkMatrixAnswer compares the status, content type and the exact shape of the body.
func checkMatrixAnswer(t *testing.T, tt matrixCase, r response) {
	t.Helper()
	if r.status != tt.status {
		t.Errorf("%s %s = %d (%.300s), want %d", tt.method, tt.path, r.status, r.raw, tt.status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type = %q (%.100s), want application/json", tt.method, tt.path, ct, r.raw)
	}
	if tt.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s %s: 401 without WWW-Authenticate", tt.method, tt.path)
	}
	if r.body == nil {
		t.Fatalf("%s %s: body %.300q is not a JSON object", tt.method, tt.path, r.raw)
	}
	wantKeys := tt.keys
	if wantKeys == nil {
		if tt.code != "" {
			wantKeys = append(wantKeys, "error")
		}
		if tt.items != nil {
			wantKeys = append(wantKeys, "errors")
		}
		if tt.results != nil {
			wantKeys = append(wantKeys, "results")
		}
		slices.Sort(wantKeys)
	}
	if got := slices.Sorted(maps.Keys(r.body)); !slices.Equal(got, wantKeys) {
		t.Errorf("%s %s: body keys = %q, want %q (%.300s)", tt.method, tt.path, got, wantKeys, r.raw)
	}
	if tt.code != "" {
		errObj, _ := r.body["error"].(map[string]any)
		msg, _ := errObj["message"].(string)
		if errObj["code"] != tt.code || msg == "" || len(errObj) != 2 {
			t.Errorf("%s %s: error = %v, want {code: %s, message: …}", tt.method, tt.path, r.body["error"], tt.code)
		}
	}
	if tt.items != nil {
		if got, want := sortedPairs(r.body["errors"]), slices.Sorted(slices.Values(tt.items)); !slices.Equal(got, want) {
			t.Errorf("%s %s: errors = %q, want %q", tt.method, tt.path, got, want)
		}
	}
	if tt.results != nil {
		list, _ := r.body["results"].([]any)
		var got []string
		for _, x := range list {
			m, _ := x.(map[string]any)
			got = append(got, fmt.Sprintf("%v:%v%v", m["code"], m["status"], sortedPairs(m["errors"])))
		}
		if !slices.Equal(got, tt.results) {
			t.Errorf("%s %s: results = %q, want %q", tt.method, tt.path, got, tt.results)
		}
	}
}

// sortedPairs returns "item:code" for each itemised error of a JSON "errors" list, sorted,
// after checking that each has exactly an item, a code and a non-empty message.
func sortedPairs(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, x := range list {
		m, _ := x.(map[string]any)
		pair := fmt.Sprintf("%v:%v", m["item"], m["code"])
		if msg, _ := m["message"].(string); msg == "" || len(m) != 3 {
			pair += "(malformed error object)"
		}
		out = append(out, pair)
	}
	slices.Sort(out)
	return out
}
