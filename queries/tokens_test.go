package queries_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// exec runs a statement on db's database through a connection of its own, for what the
// store does not offer (dropping its migration records).
func exec(t *testing.T, db *queries.DB, stmt string) {
	t.Helper()
	ep := chtest.Endpoint()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ep.Addr},
		Auth: clickhouse.Auth{Database: db.Database(), Username: ep.User, Password: ep.Password}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(t.Context(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func newToken(bearer string, role collector.Role, created time.Time, sites ...string) collector.Token {
	return collector.Token{Hash: collector.HashToken(bearer), Role: role, Sites: sites, Label: "label " + bearer, CreatedAt: created}
}

// TestMigration0003Repeated applies every migration a second time, as after a crash
// between a statement and its record: 18.16 has no ADD COLUMN IF NOT EXISTS, so the
// expiry must not need one, and nothing stored may be lost.
func TestMigration0003Repeated(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	tok := newToken("tt_a", collector.RoleIntake, day(2026, 1, 2), "haren")
	tok.ExpiresAt = day(2027, 1, 1)
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	exec(t, db, "DROP TABLE schema_migrations")
	applied, err := db.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if !slices.Contains(applied, "0003_token_expiry.sql") {
		t.Errorf("Migrate again applied %v, want 0003_token_expiry.sql among them", applied)
	}
	if applied, err := db.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Errorf("third Migrate = %v, %v; want nothing to do", applied, err)
	}
	tables, err := db.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"token_expiry", "token_usage", "tokens"} {
		if !slices.Contains(tables, want) {
			t.Errorf("Tables() = %v, want %s among them", tables, want)
		}
	}
	got, err := db.TokenByHash(ctx, tok.Hash)
	if err != nil || !got.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Errorf("TokenByHash after migrating again = %+v, %v; want expiry %v kept", got, err, tok.ExpiresAt)
	}
}

func TestTokenExpiry(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	expiring := newToken("tt_expiring", collector.RoleFunder, day(2026, 1, 2), "haren", "mons")
	expiring.ExpiresAt = day(2026, 7, 1)
	forever := newToken("tt_forever", collector.RoleCoordinator, day(2026, 1, 3))
	for _, tok := range []collector.Token{expiring, forever} {
		if err := db.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		tok  collector.Token
		want time.Time
	}{
		{expiring, day(2026, 7, 1)},
		{forever, time.Time{}},
	}
	for _, tt := range tests {
		got, err := db.TokenByHash(ctx, tt.tok.Hash)
		if err != nil {
			t.Fatalf("TokenByHash(%s): %v", tt.tok.Label, err)
		}
		if !got.ExpiresAt.Equal(tt.want) || got.ExpiresAt.IsZero() != tt.want.IsZero() {
			t.Errorf("TokenByHash(%s).ExpiresAt = %v, want %v", tt.tok.Label, got.ExpiresAt, tt.want)
		}
		if got.Role != tt.tok.Role || !slices.Equal(got.Sites, tt.tok.Sites) || !got.CreatedAt.Equal(tt.tok.CreatedAt) || got.Revoked {
			t.Errorf("TokenByHash(%s) = %+v, want %+v", tt.tok.Label, got, tt.tok)
		}
	}
	if !expiring.Expired(day(2026, 7, 1)) || expiring.Expired(day(2026, 6, 30)) || forever.Expired(day(2100, 1, 1)) {
		t.Error("Token.Expired disagrees with ExpiresAt")
	}
}

func TestRevokeToken(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	tok := newToken("tt_r", collector.RoleIntake, day(2026, 1, 2), "haren")
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// A revocation dated before the creation row (this host's clock behind the one that
	// created the token) must still be the latest state.
	got, err := db.RevokeToken(ctx, tok.Hash, day(2020, 1, 1))
	if err != nil || !got.Revoked || got.Hash != tok.Hash || got.Role != tok.Role {
		t.Fatalf("RevokeToken() = %+v, %v; want the token, revoked", got, err)
	}
	if got, err := db.TokenByHash(ctx, tok.Hash); err != nil || !got.Revoked || !slices.Equal(got.Sites, tok.Sites) {
		t.Errorf("TokenByHash(revoked) = %+v, %v; want revoked, sites kept", got, err)
	}
	if _, err := db.RevokeToken(ctx, tok.Hash, time.Now()); err != nil {
		t.Errorf("RevokeToken(revoked) error = %v, want nil", err)
	}
	all, err := db.Tokens(ctx)
	if err != nil || len(all) != 1 || !all[0].Revoked {
		t.Errorf("Tokens() = %+v, %v; want the one token, revoked", all, err)
	}
	if _, err := db.RevokeToken(ctx, collector.HashToken("tt_unknown"), time.Now()); !errors.Is(err, collector.ErrNoToken) {
		t.Errorf("RevokeToken(unknown) error = %v, want ErrNoToken", err)
	}
}

func TestTokensAndUsage(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	a := newToken("tt_a", collector.RoleIntake, day(2026, 1, 3), "haren")
	b := newToken("tt_b", collector.RoleFunder, day(2026, 1, 2), "mons")
	b.ExpiresAt = day(2026, 3, 1)
	c := newToken("tt_c", collector.RoleCoordinator, day(2026, 1, 4))
	for _, tok := range []collector.Token{a, b, c} {
		if err := db.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeToken(ctx, c.Hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.TokenUsage(ctx, nil); err != nil {
		t.Errorf("TokenUsage(nothing) = %v, want nil", err)
	}
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := db.TokenUsage(ctx, map[string]time.Time{a.Hash: at, b.Hash: at.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// A later flush, and an earlier one arriving late: the latest use wins.
	if err := db.TokenUsage(ctx, map[string]time.Time{a.Hash: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := db.TokenUsage(ctx, map[string]time.Time{a.Hash: at.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id       string
		revoked  bool
		expires  time.Time
		lastUsed time.Time
	}
	var rows []row
	for _, tok := range got {
		rows = append(rows, row{tok.ID(), tok.Revoked, tok.ExpiresAt, tok.LastUsed})
	}
	want := []row{ // oldest first
		{b.ID(), false, day(2026, 3, 1), at.Add(-time.Hour)},
		{a.ID(), false, time.Time{}, at.Add(time.Minute)},
		{c.ID(), true, time.Time{}, time.Time{}},
	}
	if !slices.EqualFunc(rows, want, func(x, y row) bool {
		return x.id == y.id && x.revoked == y.revoked && x.expires.Equal(y.expires) && x.lastUsed.Equal(y.lastUsed) &&
			x.expires.IsZero() == y.expires.IsZero() && x.lastUsed.IsZero() == y.lastUsed.IsZero()
	}) {
		t.Errorf("Tokens() =\n%+v\nwant\n%+v", rows, want)
	}
	if len(got) > 0 && (got[0].Label != b.Label || !slices.Equal(got[0].Sites, b.Sites) || got[0].Role != b.Role) {
		t.Errorf("Tokens()[0] = %+v, want %+v", got[0], b)
	}
}

func TestAuditLog(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	base := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	events := []collector.AuditEvent{
		{At: base, Actor: "cli", Role: "operator", Action: "token.create", Detail: "token aaaaaaaaaaaa role intake", Outcome: "ok", Sites: []string{"haren"}},
		{At: base.Add(time.Hour), Actor: "0123456789ab", Role: "funder", Action: "report.download", Detail: "2025.xlsx", Outcome: "denied", Sites: []string{"mons"}},
		{At: base.Add(48 * time.Hour), Actor: "cli", Role: "operator", Action: "token.revoke", Detail: "token aaaaaaaaaaaa role intake", Outcome: "ok", Sites: []string{"haren"}},
	}
	for _, e := range events {
		if err := db.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		q    queries.AuditQuery
		want []string // actions, newest first
	}{
		{"all", queries.AuditQuery{}, []string{"token.revoke", "report.download", "token.create"}},
		{"since", queries.AuditQuery{Since: base.Add(time.Hour)}, []string{"token.revoke", "report.download"}},
		{"action", queries.AuditQuery{Action: "token.create"}, []string{"token.create"}},
		{"limit", queries.AuditQuery{Limit: 2}, []string{"token.revoke", "report.download"}},
		{"nothing", queries.AuditQuery{Since: base.Add(72 * time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.AuditLog(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range got {
				actions = append(actions, e.Action)
			}
			if !slices.Equal(actions, tt.want) {
				t.Errorf("AuditLog(%+v) actions = %v, want %v", tt.q, actions, tt.want)
			}
		})
	}
	got, err := db.AuditLog(ctx, queries.AuditQuery{Action: "report.download"})
	if err != nil || len(got) != 1 {
		t.Fatalf("AuditLog(report.download) = %v, %v", got, err)
	}
	e, want := got[0], events[1]
	if !e.At.Equal(want.At) || e.Actor != want.Actor || e.Role != want.Role || !slices.Equal(e.Sites, want.Sites) ||
		e.Detail != want.Detail || e.Outcome != want.Outcome {
		t.Errorf("AuditLog() = %+v, want %+v", e, want)
	}
}

// TestAuthenticatorOverStore checks expiry, revocation within the cache TTL and usage
// recording against the real store, with a controlled clock.
func TestAuthenticatorOverStore(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	now := day(2026, 6, 1).Add(9 * time.Hour)
	clock := func() time.Time { return now }
	auth := collector.NewAuthenticatorWith(db, collector.AuthOptions{TTL: 10 * time.Second, Now: clock})
	defer auth.Close()

	expiring := newToken("tt_exp", collector.RoleIntake, day(2026, 1, 1), "haren")
	expiring.ExpiresAt = day(2026, 6, 2)
	revoked := newToken("tt_rev", collector.RoleIntake, day(2026, 1, 1), "haren")
	for _, tok := range []collector.Token{expiring, revoked} {
		if err := db.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	for _, bearer := range []string{"tt_exp", "tt_rev"} {
		if p, err := auth.Authenticate(ctx, bearer); err != nil || p.TokenID != collector.TokenID(collector.HashToken(bearer)) {
			t.Fatalf("Authenticate(%s) = %+v, %v; want its principal", bearer, p, err)
		}
	}
	if _, err := db.RevokeToken(ctx, revoked.Hash, now); err != nil {
		t.Fatal(err)
	}
	unknown := func(bearer string) string {
		_, err := auth.Authenticate(ctx, bearer)
		if collector.ErrorCode(err) != collector.CodeUnauthorized {
			return "not refused: " + errString(err)
		}
		return err.Error()
	}
	want := unknown("tt_never_created")
	now = now.Add(11 * time.Second) // past the cache TTL
	if got := unknown("tt_rev"); got != want {
		t.Errorf("Authenticate(revoked, after TTL) = %s, want %s", got, want)
	}
	now = day(2026, 6, 2).Add(-time.Second)
	if _, err := auth.Authenticate(ctx, "tt_exp"); err != nil {
		t.Errorf("Authenticate(expiring, a second before expiry) = %v, want ok", err)
	}
	used := now
	// The expiry instant, within the cache TTL of the last lookup: expiry is checked on
	// every request, not only when the cache is refreshed.
	now = day(2026, 6, 2)
	if got := unknown("tt_exp"); got != want {
		t.Errorf("Authenticate(expired) = %s, want %s", got, want)
	}
	auth.Close() // writes the pending usage
	all, err := db.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range all {
		if tok.Hash == expiring.Hash && !tok.LastUsed.Equal(used) {
			t.Errorf("LastUsed(expiring) = %v, want %v", tok.LastUsed, used)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// failingUsage is a store whose usage writes fail, as during a ClickHouse outage.
type failingUsage struct{ *queries.DB }

func (failingUsage) TokenUsage(context.Context, map[string]time.Time) error {
	return errors.New("store down")
}

// TestAuthenticatorUsage checks that last use reaches the store from the authenticator's
// own goroutine, and that a failure to write it is logged and fails no request.
func TestAuthenticatorUsage(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	tok := newToken("tt_u", collector.RoleIntake, day(2026, 1, 1), "haren")
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}

	t.Run("periodic", func(t *testing.T) {
		used := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
		auth := collector.NewAuthenticatorWith(db, collector.AuthOptions{Now: func() time.Time { return used },
			UsageInterval: 10 * time.Millisecond})
		defer auth.Close()
		if _, err := auth.Authenticate(ctx, "tt_u"); err != nil {
			t.Fatal(err)
		}
		// Written without Close, by the periodic flush: poll until it lands.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			all, err := db.Tokens(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) == 1 && all[0].LastUsed.Equal(used) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Tokens() = %+v; last use %v never written", all, used)
			}
		}
	})

	t.Run("store down", func(t *testing.T) {
		var logs strings.Builder
		auth := collector.NewAuthenticatorWith(failingUsage{db}, collector.AuthOptions{
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		for range 3 {
			if p, err := auth.Authenticate(ctx, "tt_u"); err != nil || p.TokenID != tok.ID() {
				t.Fatalf("Authenticate() = %+v, %v; want the principal whatever the usage writes do", p, err)
			}
		}
		auth.Close()
		if !strings.Contains(logs.String(), "token usage not recorded") || strings.Contains(logs.String(), "tt_u") {
			t.Errorf("logs = %q, want the failure logged, without the token", logs.String())
		}
	})
}
