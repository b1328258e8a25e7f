package collector

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AuditError is returned when a change could not be audited: Action was done (a token
// revoked, a key rotated) or, for a token creation, stored but its bearer withheld, since
// no usable token may exist without its audit event.
type AuditError struct {
	Action string // e.g. "token.create"
	Done   bool   // the change took effect
	Err    error  // the audit log's error
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("%s: audit event not written: %v", e.Action, e.Err)
}

func (e *AuditError) Unwrap() error { return e.Err }

// TokenAdminStore is what token administration needs of the store. It is implemented by
// package queries.
type TokenAdminStore interface {
	Auditor
	CreateToken(ctx context.Context, t Token) error
	// Tokens returns every token, revoked and expired ones too.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes the token of hash at at.
	RevokeToken(ctx context.Context, hash string, at time.Time) (Token, error)
}

// TokenAdmin creates, lists and revokes access tokens on behalf of Actor (in Role), and
// writes every creation and revocation to the audit log, naming the token by its id,
// never by the token.
type TokenAdmin struct {
	Store       TokenAdminStore
	Actor, Role string           // e.g. "cli", "operator": whoever reaches the store directly
	Now         func() time.Time // nil: time.Now
}

func (a *TokenAdmin) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

// PrepareToken checks a token request — sites known and fitting role, a one-line label,
// an expiry date (YYYY-MM-DD, "" for never) after now — and returns the bearer to show
// once and the Token to store. It needs no store: a request is checked before one is
// opened.
func PrepareToken(role Role, sites []string, label, expires string, known *Sites, now time.Time) (string, Token, error) {
	bearer, tok, err := NewTokenFor(role, sites, label, known, now)
	if err != nil {
		return "", Token{}, err
	}
	if expires != "" {
		if tok.ExpiresAt, err = ParseExpiry(expires, now); err != nil {
			return "", Token{}, err
		}
	}
	return bearer, tok, nil
}

// Create stores tok (from [PrepareToken]) and audits it. An [*AuditError] means the
// token is stored but its creation was not audited: its bearer must not be handed out.
func (a *TokenAdmin) Create(ctx context.Context, tok Token) error {
	note := ""
	if !tok.ExpiresAt.IsZero() {
		note = "expires " + tok.ExpiresAt.Format(time.DateOnly)
	}
	if err := a.Store.CreateToken(ctx, tok); err != nil {
		_ = a.audit(ctx, "token.create", tok, "failed", note) // best effort: the store is likely down
		return err
	}
	if err := a.audit(ctx, "token.create", tok, "ok", note); err != nil {
		return &AuditError{Action: "token.create", Err: err}
	}
	return nil
}

// List returns the tokens, oldest first as the store keeps them; without all, only
// those that work now (neither revoked nor expired).
func (a *TokenAdmin) List(ctx context.Context, all bool) ([]Token, error) {
	tokens, err := a.Store.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	if all {
		return tokens, nil
	}
	now := a.now()
	var out []Token
	for _, t := range tokens {
		if t.Active(now) {
			out = append(out, t)
		}
	}
	return out, nil
}

// CheckTokenID checks the form of a token id (or prefix) given to Revoke, before a store
// is opened. Its error never quotes id, which may be a bearer token pasted by mistake.
func CheckTokenID(id string) error {
	if _, err := MatchTokenID(nil, id); !errors.Is(err, ErrNoToken) {
		return err
	}
	return nil
}

// Revoke revokes the token whose id starts with id and audits it; already is true when
// it was revoked before (nothing is done). The errors of [MatchTokenID] ([ErrNoToken],
// [ErrAmbiguousToken]) come back after a failed attempt is audited; an [*AuditError]
// means the token is revoked but the event not written.
func (a *TokenAdmin) Revoke(ctx context.Context, id string) (tok Token, already bool, err error) {
	tokens, err := a.Store.Tokens(ctx)
	if err != nil {
		return Token{}, false, err
	}
	tok, err = MatchTokenID(tokens, id)
	if err != nil {
		if aerr := a.Store.Audit(ctx, AuditEvent{At: a.now(), Actor: a.Actor, Role: a.Role,
			Action: "token.revoke", Detail: err.Error(), Outcome: "failed"}); aerr != nil {
			return Token{}, false, aerr
		}
		return Token{}, false, err
	}
	if tok.Revoked {
		return tok, true, nil
	}
	if _, err := a.Store.RevokeToken(ctx, tok.Hash, a.now()); err != nil {
		_ = a.audit(ctx, "token.revoke", tok, "failed", "") // best effort: the store is likely down
		return tok, false, err
	}
	if err := a.audit(ctx, "token.revoke", tok, "ok", ""); err != nil {
		return tok, false, &AuditError{Action: "token.revoke", Done: true, Err: err}
	}
	return tok, false, nil
}

// audit records a change of tok; the detail names it by id, never by the token.
func (a *TokenAdmin) audit(ctx context.Context, action string, tok Token, outcome, note string) error {
	detail := fmt.Sprintf("token %s role %s", tok.ID(), tok.Role)
	if note != "" {
		detail += " " + note
	}
	return a.Store.Audit(ctx, AuditEvent{At: a.now(), Actor: a.Actor, Role: a.Role, Sites: tok.Sites,
		Action: action, Detail: detail, Outcome: outcome})
}
