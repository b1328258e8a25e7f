package collector

import (
	"context"
	"time"
)

// AuditEvent is one line of the audit log: who did what, when, and how it ended. It
// never holds answers or tokens; Actor is a token id (a prefix of its hash) or "cli".
type AuditEvent struct {
	At      time.Time
	Actor   string
	Role    string
	Sites   []string
	Action  string // e.g. "report.download", "report.release", "token.create"
	Detail  string // e.g. "2025.xlsx"
	Outcome string // "ok", "denied", "failed"
}

// Auditor records audit events. It is implemented by package queries.
type Auditor interface {
	Audit(ctx context.Context, e AuditEvent) error
}
