package collector

import (
	"context"
	"errors"
	"testing"
	"time"
)

// memTokens is an in-memory TokenAdminStore.
type memTokens struct {
	tokens   []Token
	events   []AuditEvent
	auditErr error
}

func (m *memTokens) Audit(_ context.Context, e AuditEvent) error {
	m.events = append(m.events, e)
	return m.auditErr
}

func (m *memTokens) CreateToken(_ context.Context, t Token) error {
	m.tokens = append(m.tokens, t)
	return nil
}

func (m *memTokens) Tokens(context.Context) ([]Token, error) { return m.tokens, nil }

func (m *memTokens) RevokeToken(_ context.Context, hash string, _ time.Time) (Token, error) {
	for i := range m.tokens {
		if m.tokens[i].Hash == hash {
			m.tokens[i].Revoked = true
			return m.tokens[i], nil
		}
	}
	return Token{}, ErrNoToken
}

// TestTokenAdmin: create, list, revoke, each audited by id; a revoked token is listed
// only with all; an unknown id is audited as a failed revocation.
func TestTokenAdmin(t *testing.T) {
	sites, err := LoadSites("")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store := &memTokens{}
	admin := &TokenAdmin{Store: store, Actor: "cli", Role: "operator", Now: func() time.Time { return now }}
	if _, _, err := PrepareToken(RoleIntake, nil, "", "", sites, now); err == nil {
		t.Errorf("PrepareToken(intake, no site) = nil error, want one")
	}
	if _, _, err := PrepareToken(RoleIntake, []string{"haren"}, "", "2026-02-01", sites, now); err == nil {
		t.Errorf("PrepareToken(expiry in the past) = nil error, want one")
	}
	bearer, tok, err := PrepareToken(RoleIntake, []string{"haren"}, "team", "2027-01-01", sites, now)
	if err != nil || bearer == "" || tok.ExpiresAt.IsZero() {
		t.Fatalf("PrepareToken = %q, %+v, %v", bearer, tok, err)
	}
	if err := admin.Create(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if got, want := store.events[0].Detail, "token "+tok.ID()+" role intake expires 2027-01-01"; got != want || store.events[0].Outcome != "ok" {
		t.Errorf("creation audited as %q %s, want %q ok", got, store.events[0].Outcome, want)
	}
	if err := CheckTokenID(bearer); err == nil {
		t.Errorf("CheckTokenID(a bearer token) = nil, want an error")
	}
	if _, _, err := admin.Revoke(t.Context(), "0123456789abcdef"); !errors.Is(err, ErrNoToken) || store.events[1].Outcome != "failed" {
		t.Errorf("Revoke(unknown) = %v, audited %+v; want ErrNoToken, audited failed", err, store.events[1])
	}
	got, already, err := admin.Revoke(t.Context(), tok.ID())
	if err != nil || already || got.ID() != tok.ID() {
		t.Fatalf("Revoke = %+v, %v, %v", got, already, err)
	}
	if _, already, _ := admin.Revoke(t.Context(), tok.ID()); !already {
		t.Errorf("Revoke again: already = false, want true")
	}
	if list, _ := admin.List(t.Context(), false); len(list) != 0 {
		t.Errorf("List(active) = %d tokens, want 0 after the revocation", len(list))
	}
	if list, _ := admin.List(t.Context(), true); len(list) != 1 {
		t.Errorf("List(all) = %d tokens, want 1", len(list))
	}
	store.auditErr = errors.New("down")
	_, tok2, _ := PrepareToken(RoleCoordinator, nil, "", "", sites, now)
	var ae *AuditError
	if err := admin.Create(t.Context(), tok2); !errors.As(err, &ae) || ae.Done {
		t.Errorf("Create with the audit log down = %v, want an AuditError (bearer withheld)", err)
	}
}
