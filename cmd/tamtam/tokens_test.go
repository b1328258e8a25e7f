package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// table parses the aligned output of `tamtam token list` or `tamtam audit`: every line
// must have its columns where the header has them. It returns one map per row, by header.
func table(t *testing.T, out string, columns ...string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	starts := make([]int, len(columns))
	for i, c := range columns {
		if starts[i] = strings.Index(header, c); starts[i] < 0 || (i > 0 && starts[i] <= starts[i-1]) {
			t.Fatalf("header %q: column %s missing or out of order", header, c)
		}
	}
	var rows []map[string]string
	for _, line := range lines[1:] {
		row := map[string]string{}
		for i, c := range columns {
			if len(line) <= starts[i] || line[starts[i]] == ' ' || (i > 0 && line[starts[i]-1] != ' ') {
				t.Fatalf("line %q: column %s does not start at %d, where the header has it:\n%s", line, c, starts[i], out)
			}
			end := len(line)
			if i+1 < len(columns) {
				end = starts[i+1]
			}
			row[c] = strings.TrimSpace(line[starts[i]:end])
		}
		rows = append(rows, row)
	}
	return rows
}

var tokenColumns = []string{"ID", "ROLE", "SITES", "LABEL", "CREATED", "EXPIRES", "REVOKED", "LAST USED"}

func (e *testEnv) tokenList(args ...string) []map[string]string {
	e.t.Helper()
	code, out, errOut := e.cli(append([]string{"token", "list"}, args...)...)
	if code != 0 {
		e.t.Fatalf("token list %v = exit %d, %s", args, code, errOut)
	}
	if out == "" {
		return nil
	}
	return table(e.t, out, tokenColumns...)
}

func rowByID(rows []map[string]string, id string) map[string]string {
	for _, r := range rows {
		if r["ID"] == id {
			return r
		}
	}
	return nil
}

// useClock makes the env's server authenticate with a clock the test controls, so that
// the effect of a revocation after the cache TTL, or of an expiry, can be seen without
// waiting.
func (e *testEnv) useClock(start time.Time) (set func(time.Time)) {
	e.t.Helper()
	var (
		mu  sync.Mutex
		now = start
	)
	auth := collector.NewAuthenticatorWith(e.app.db, collector.AuthOptions{TTL: 10 * time.Second,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	e.app.api.Auth.Close()
	e.app.api.Auth, e.app.reports.Auth = auth, auth
	e.t.Cleanup(func() { auth.Close() })
	e.srv.Close()
	e.srv = httptest.NewServer(e.app.Handler())
	return func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
}

func TestTokenLifecycle(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now().UTC()
	setClock := e.useClock(now)
	expiry := now.AddDate(0, 0, 3).Format(time.DateOnly)
	var outputs []string // everything printed, to search for bearer tokens

	code, out, errOut := e.cli("token", "create", "--role", "intake", "--site", "haren", "--label", "Haren team", "--expires", expiry)
	if code != 0 || !regexp.MustCompile(`^tt_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Fatalf("token create --expires %s = exit %d, %q, %s; want a token", expiry, code, out, errOut)
	}
	intake := strings.TrimSpace(out)
	intakeID := collector.TokenID(collector.HashToken(intake))
	if !strings.Contains(errOut, intakeID) || strings.Contains(errOut, intake) {
		t.Errorf("token create stderr = %q, want the token id %s and not the token", errOut, intakeID)
	}
	outputs = append(outputs, errOut)
	coordinator := e.token("coordinator")
	coordinatorID := collector.TokenID(collector.HashToken(coordinator))
	other := e.token("intake", "mons")
	otherID := collector.TokenID(collector.HashToken(other))

	for _, date := range []string{now.AddDate(0, 0, -1).Format(time.DateOnly), now.Format(time.DateOnly), "2026-13-01", "tomorrow", "2150-01-01"} {
		code, out, errOut := e.cli("token", "create", "--role", "intake", "--site", "haren", "--expires", date)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "expir") {
			t.Errorf("token create --expires %s = exit %d, %q, %q; want exit 2 and one line about the expiry", date, code, out, errOut)
		}
	}
	if got := e.sql("SELECT count() FROM tokens"); got != "3" {
		t.Errorf("tokens stored = %s, want 3 (none for refused requests)", got)
	}

	// The tokens work, and their use is recorded.
	if r := e.post("/api/v1/submissions", intake, entry(uuidN(1))); r.status != http.StatusCreated {
		t.Fatalf("POST with the new token = %d %s", r.status, r.raw)
	}
	if r := e.do(http.MethodGet, "/api/v1/reports/2025.html", coordinator, "", nil); r.status == http.StatusUnauthorized {
		t.Errorf("GET report with the coordinator token = 401")
	}

	rows := e.tokenList()
	if len(rows) != 3 {
		t.Fatalf("token list = %v, want 3 active tokens", rows)
	}
	r := rowByID(rows, intakeID)
	want := map[string]string{"ID": intakeID, "ROLE": "intake", "SITES": "haren", "LABEL": "Haren team",
		"CREATED": now.Format("2006-01-02T"), "EXPIRES": expiry, "REVOKED": "no", "LAST USED": "never"}
	for c, w := range want {
		if got := r[c]; c == "CREATED" && !strings.HasPrefix(got, w) || c != "CREATED" && got != w {
			t.Errorf("token list: %s of the intake token = %q, want %q (row %v)", c, got, w, r)
		}
	}
	if r := rowByID(rows, coordinatorID); r["SITES"] != "all" || r["EXPIRES"] != "never" || r["LABEL"] != "-" {
		t.Errorf("token list: coordinator row = %v, want all sites, never expires, no label", r)
	}

	// Revoking by an 8-character prefix of the id.
	code, out, errOut = e.cli("token", "revoke", intakeID[:8])
	if code != 0 || !strings.Contains(out, intakeID) || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke %s = exit %d, %q, %s", intakeID[:8], code, out, errOut)
	}
	outputs = append(outputs, out, errOut)
	if code, out, _ := e.cli("token", "revoke", intakeID); code != 0 || !strings.Contains(out, "already revoked") {
		t.Errorf("token revoke (again) = exit %d, %q; want 0, already revoked", code, out)
	}
	if got := e.sql("SELECT countIf(revoked = 1) FROM tokens"); got != "1" {
		t.Errorf("revocation rows = %s, want 1 (revoking again writes nothing)", got)
	}

	// Within the cache TTL the revoked token may still pass; past it, it is refused like
	// an unknown token.
	setClock(now.Add(11 * time.Second))
	unknown := e.post("/api/v1/submissions", "tt_never_created", entry(uuidN(2)))
	r2 := e.post("/api/v1/submissions", intake, entry(uuidN(2)))
	if r2.status != http.StatusUnauthorized || r2.raw != unknown.raw {
		t.Errorf("POST with a revoked token = %d %s, want 401 as for an unknown token: %s", r2.status, r2.raw, unknown.raw)
	}
	// A fresh server (another process, or the same after the TTL) refuses it at once.
	fresh := newTestEnvOn(t, e)
	if r := fresh.post("/api/v1/submissions", intake, entry(uuidN(3))); r.status != http.StatusUnauthorized {
		t.Errorf("POST with a revoked token on a fresh server = %d %s, want 401", r.status, r.raw)
	}

	// Expiry: the other intake token, given an expiry through the store, stops working at
	// that instant, even though it was looked up a moment before.
	expiring, tok := mustToken(t, e, collector.RoleIntake, "mons")
	tok.ExpiresAt = now.Add(time.Hour).Truncate(time.Second)
	if err := e.app.db.CreateToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	expiringID := tok.ID()
	mons := entry(uuidN(4))
	mons["site"] = "mons"
	setClock(tok.ExpiresAt.Add(-time.Second))
	if r := e.post("/api/v1/submissions", expiring, mons); r.status != http.StatusCreated {
		t.Errorf("POST a second before expiry = %d %s, want 201", r.status, r.raw)
	}
	setClock(tok.ExpiresAt)
	mons["submission_id"] = uuidN(5)
	if r := e.post("/api/v1/submissions", expiring, mons); r.status != http.StatusUnauthorized || r.raw != unknown.raw {
		t.Errorf("POST with an expired token = %d %s, want 401 as for an unknown token", r.status, r.raw)
	}
	setClock(now)

	// Last use is written when the authenticator flushes (here: at Close).
	e.app.api.Auth.Close()
	rows = e.tokenList()
	if ids := columnOf(rows, "ID"); !slices.Contains(ids, coordinatorID) || !slices.Contains(ids, otherID) || slices.Contains(ids, intakeID) {
		t.Errorf("token list = %v, want the active tokens only (not the revoked %s)", ids, intakeID)
	}
	if r := rowByID(rows, coordinatorID); r["LAST USED"] == "never" || !strings.HasPrefix(r["LAST USED"], now.Format("2006-01-02T")) {
		t.Errorf("token list: coordinator last used = %q, want today", r["LAST USED"])
	}
	all := e.tokenList("--all")
	if r := rowByID(all, intakeID); r["REVOKED"] != "yes" || r["LAST USED"] == "never" {
		t.Errorf("token list --all: revoked token row = %v, want revoked yes and a last use", r)
	}
	if len(all) != 4 {
		t.Errorf("token list --all = %d rows, want 4", len(all))
	}
	// The list runs on the real clock: the token expiring in an hour is still active there.
	if r := rowByID(all, expiringID); r == nil || !strings.HasPrefix(r["EXPIRES"], tok.ExpiresAt.Format("2006-01-02T15:04")) {
		t.Errorf("token list --all: expiring row = %v, want its expiry to the minute", r)
	}
	if got := e.sql("SELECT count() FROM token_usage WHERE token_hash = '" + collector.HashToken(intake) + "'"); got == "0" {
		t.Errorf("token_usage has no row for the used token")
	}

	// The audit log has every token change, by id.
	code, out, errOut = e.cli("audit")
	if code != 0 {
		t.Fatalf("audit = exit %d, %s", code, errOut)
	}
	outputs = append(outputs, out)
	events := table(t, out, "TIME", "ACTOR", "ROLE", "SITES", "ACTION", "DETAIL", "OUTCOME")
	var got []string
	for _, ev := range events {
		if strings.HasPrefix(ev["ACTION"], "token.") {
			got = append(got, ev["ACTION"]+" "+ev["DETAIL"]+" "+ev["SITES"]+" "+ev["ACTOR"]+" "+ev["ROLE"]+" "+ev["OUTCOME"])
		}
	}
	for _, w := range []string{
		"token.create token " + intakeID + " role intake expires " + expiry + " haren cli operator ok",
		"token.create token " + coordinatorID + " role coordinator - cli operator ok",
		"token.create token " + otherID + " role intake mons cli operator ok",
		"token.revoke token " + intakeID + " role intake haren cli operator ok",
	} {
		if !slices.Contains(got, w) {
			t.Errorf("audit lacks %q; token lines:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != 4 {
		t.Errorf("audit has %d token lines, want 4 (refused requests change nothing):\n%s", len(got), strings.Join(got, "\n"))
	}
	if _, err := time.Parse(time.RFC3339, events[0]["TIME"]); err != nil {
		t.Errorf("audit time %q is not RFC 3339", events[0]["TIME"])
	}

	// Nothing stored or printed holds a bearer token, except the create output itself.
	bearers := []string{intake, coordinator, other, expiring}
	outputs = append(outputs, e.logs.String(), fresh.logs.String())
	for _, args := range [][]string{{"token", "list", "--all"}, {"audit", "--limit", "1000"}} {
		_, out, errOut := e.cli(args...)
		outputs = append(outputs, out, errOut)
	}
	for _, table := range strings.Fields(e.sql("SELECT name FROM system.tables WHERE database = currentDatabase()")) {
		outputs = append(outputs, e.sql("SELECT * FROM "+table+" FORMAT TabSeparated"))
	}
	for _, o := range outputs {
		for _, b := range bearers {
			if strings.Contains(o, b) || strings.Contains(o, strings.TrimPrefix(b, "tt_")) {
				t.Errorf("a bearer token appears in:\n%s", o)
			}
		}
	}
}

// mustToken makes a token as the CLI would, without storing it.
func mustToken(t *testing.T, e *testEnv, role collector.Role, sites ...string) (string, collector.Token) {
	t.Helper()
	bearer, tok, err := collector.NewTokenFor(role, sites, "", e.app.sites, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return bearer, tok
}

func columnOf(rows []map[string]string, c string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[c])
	}
	return out
}

// newTestEnvOn starts another app on the store of e, as a second server process would.
func newTestEnvOn(t *testing.T, e *testEnv) *testEnv {
	t.Helper()
	f := &testEnv{t: t, cfg: e.cfg, database: e.database, logs: &syncBuffer{}}
	f.cfg.Data = t.TempDir()
	app, err := NewApp(t.Context(), f.cfg, slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	f.app = app
	f.srv = httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		f.srv.Close()
		app.api.Auth.Close()
		app.Close()
	})
	return f
}

func TestTokenRevokeAndAuditErrors(t *testing.T) {
	e := newTestEnv(t)
	bearer := e.token("funder", "haren")
	// Two tokens whose ids share their first 8 characters.
	for _, h := range []string{"abcdef01" + strings.Repeat("1", 56), "abcdef01" + strings.Repeat("2", 56)} {
		if err := e.app.db.CreateToken(t.Context(), collector.Token{Hash: h, Role: collector.RoleCoordinator, CreatedAt: time.Now().UTC().Truncate(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		want string // in the message
	}{
		{"no id", []string{"token", "revoke"}, "one token id"},
		{"two ids", []string{"token", "revoke", "abcdef0111", "abcdef0122"}, "one token id"},
		{"too short", []string{"token", "revoke", "abcdef0"}, "hexadecimal"},
		{"not hex", []string{"token", "revoke", "abcdefgh"}, "hexadecimal"},
		{"the token itself", []string{"token", "revoke", bearer}, "not the token itself"},
		{"the token without prefix", []string{"token", "revoke", strings.TrimPrefix(bearer, "tt_")}, "hexadecimal"},
		{"unknown", []string{"token", "revoke", "00000000"}, "no such token"},
		{"ambiguous", []string{"token", "revoke", "abcdef01"}, "several tokens"},
		{"unknown subcommand", []string{"token", "rotate"}, "usage"},
		{"list with an argument", []string{"token", "list", "x"}, "unexpected argument"},
		{"audit bad since", []string{"audit", "--since", "last week"}, "--since"},
		{"audit bad limit", []string{"audit", "--limit", "0"}, "--limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := e.cli(tt.args...)
			if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 ||
				!strings.HasPrefix(errOut, "tamtam: ") || !strings.Contains(errOut, tt.want) {
				t.Errorf("tamtam %v = exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", tt.args, code, out, errOut, tt.want)
			}
			if strings.Contains(errOut, strings.TrimPrefix(bearer, "tt_")) {
				t.Errorf("tamtam %v echoes the bearer token: %q", tt.args, errOut)
			}
		})
	}
	if got := e.sql("SELECT countIf(revoked = 1) FROM tokens"); got != "0" {
		t.Errorf("revocations after refused requests = %s, want 0", got)
	}
	// A more specific prefix picks one of the pair.
	if code, out, errOut := e.cli("token", "revoke", "ABCDEF012"); code != 0 || !strings.Contains(out, "abcdef012222") {
		t.Errorf("token revoke ABCDEF012 = exit %d, %q, %s; want abcdef012222 revoked", code, out, errOut)
	}

	// Failed attempts are audited; filters and limits apply.
	code, out, errOut := e.cli("audit", "--action", "token.revoke")
	if code != 0 {
		t.Fatalf("audit --action token.revoke = exit %d, %s", code, errOut)
	}
	var outcomes []string
	for _, ev := range table(t, out, "TIME", "ACTOR", "ROLE", "SITES", "ACTION", "DETAIL", "OUTCOME") {
		if ev["ACTION"] != "token.revoke" {
			t.Errorf("audit --action token.revoke shows %v", ev)
		}
		outcomes = append(outcomes, ev["OUTCOME"])
	}
	slices.Sort(outcomes)
	if want := []string{"failed", "failed", "ok"}; !slices.Equal(outcomes, want) {
		t.Errorf("token.revoke outcomes = %v, want %v (unknown, ambiguous, done)", outcomes, want)
	}
	if code, out, _ := e.cli("audit", "--limit", "1"); code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("audit --limit 1 = exit %d, %q; want a header and one line", code, out)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if code, out, errOut := e.cli("audit", "--since", tomorrow); code != 0 || out != "" || !strings.Contains(errOut, "no audit events") {
		t.Errorf("audit --since %s = exit %d, %q, %q; want nothing", tomorrow, code, out, errOut)
	}
}
