package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/audit"
)

// TestAttacksReplayed replays the three attacks that made releases frozen and jointly
// protected (PRIVACY.md T10–T12) against the whole server, with only what each role may
// legitimately obtain through the API: every view of every release, downloaded.
func TestAttacksReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("long: replays three attacks through the server and audits every view with GLPK; make test runs it")
	}
	e := newTestEnv(t)
	intake := e.token("intake", "haren", "lantin", "dinant", "mons")
	e.submitDemoSites(intake, map[string]int{"haren": 90, "lantin": 60, "mons": 40})
	// Dinant: three entrants.
	for i := range 3 {
		s := entry(uuidN(9100 + i))
		s["site"] = "dinant"
		if r := e.post("/api/v1/submissions", intake, s); r.status != http.StatusCreated {
			t.Fatalf("POST = %d %s", r.status, r.raw)
		}
	}
	coordinator := e.token("coordinator")
	funderA := e.token("funder", "haren", "lantin")
	funderC := e.token("funder", "lantin", "dinant")
	release := func() string {
		t.Helper()
		code, stdout, stderr := e.cli("release", "--year", "2025")
		if code != 0 {
			t.Fatalf("release = exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		return lines[len(lines)-1]
	}
	first := release()

	// Everything each role can download of the latest release: the coordinator's view of
	// every group of the release, and each funder's.
	type asked struct {
		who, token, query string
		sites             []string // a funder's; a coordinator's group has its own
	}
	var obtained []audit.View
	download := func(id string) map[string][]byte {
		t.Helper()
		plan := e.plan(id)
		views := []asked{{who: "funder A", token: funderA, sites: []string{"haren", "lantin"}},
			{who: "funder C", token: funderC, sites: []string{"dinant", "lantin"}}}
		for _, g := range plan.Groups {
			views = append(views, asked{who: "coordinator " + g.Code, token: coordinator, query: "?group=" + url.QueryEscape(g.Code), sites: g.Sites})
		}
		all := plan.Groups[0].Sites
		got := map[string][]byte{}
		for _, v := range views {
			r := e.do(http.MethodGet, "/api/v1/reports/2025.csv"+v.query, v.token, "", nil)
			if r.status == http.StatusNotFound && v.who == "funder C" {
				// C's sites together would be Lantin plus a small pooled site: no such group.
				if !strings.Contains(r.raw, "no_release") {
					t.Errorf("funder C: %s, want no_release", r.raw)
				}
				continue
			}
			if r.status != http.StatusOK {
				t.Fatalf("%s: GET = %d %s", v.who, r.status, r.raw)
			}
			if r.header.Get("ETag") != `"`+id+`"` {
				t.Errorf("%s: ETag %q, want the release %s", v.who, r.header.Get("ETag"), id)
			}
			got[v.who] = []byte(r.raw)
			obtained = append(obtained, audit.View{Name: id + " " + v.who, Release: id, CutOff: e.cutOff(id),
				Sites: v.sites, AllSites: all, Pooled: plan.Pooled, CSV: []byte(r.raw)})
		}
		return got
	}
	before := download(first)

	// T11: a funder downloads, one entrant is recorded, the funder downloads again: the
	// same bytes, until a new release.
	s := entry(uuidN(9200))
	s["site"] = "haren"
	answers(s)["demo.age"] = 40
	if r := e.post("/api/v1/submissions", intake, s); r.status != http.StatusCreated {
		t.Fatalf("POST = %d %s", r.status, r.raw)
	}
	for who, body := range before {
		query := ""
		token := funderA
		switch {
		case who == "funder C":
			token = funderC
		case strings.HasPrefix(who, "coordinator "):
			token, query = coordinator, "?group="+url.QueryEscape(strings.TrimPrefix(who, "coordinator "))
		}
		r := e.do(http.MethodGet, "/api/v1/reports/2025.csv"+query, token, "", nil)
		if r.raw != string(body) {
			t.Errorf("%s: the download changed after one more entrant, without a new release", who)
		}
	}
	xlsx := func() string { return e.do(http.MethodGet, "/api/v1/reports/2025.xlsx", funderA, "", nil).raw }
	if a, b := xlsx(), xlsx(); a != b {
		t.Errorf("two workbook downloads of one release differ")
	}
	time.Sleep(1100 * time.Millisecond) // a later cut-off, to the second
	second := release()
	if second == first {
		t.Fatalf("the second release is the first: %s", first)
	}
	download(second)

	// T10, T11, T12: the auditor, holding every view of both releases, computes no
	// suppressed cell, no pooled site and no count from 1 to k-1.
	auditViews(t, 5, obtained)
}

// plan returns the publication groups and pooled sites of a release, from its header
// in the ledger: what `tamtam release list` and the methodology of every output state.
func (e *testEnv) plan(id string) (p struct {
	Groups []struct {
		Code  string   `json:"code"`
		Sites []string `json:"sites"`
	} `json:"groups"`
	Pooled []string `json:"pooled"`
}) {
	e.t.Helper()
	var h struct {
		Plan json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal([]byte(e.sql("SELECT any(header) FROM release_headers WHERE release_id = '"+id+"' FORMAT TSVRaw")), &h); err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(h.Plan, &p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// cutOff returns the data cut-off of a release.
func (e *testEnv) cutOff(id string) time.Time {
	e.t.Helper()
	c, err := time.Parse("2006-01-02 15:04:05", e.sql("SELECT toString(any(cut_off), 'UTC') FROM release_headers WHERE release_id = '"+id+"'"))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
