package queries

import (
	"context"
	"fmt"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/reports"
)

var (
	_ reports.Ledger    = (*DB)(nil)
	_ collector.Auditor = (*DB)(nil)
)

// RecordRelease adds a release to the ledger.
func (db *DB) RecordRelease(ctx context.Context, r reports.LedgerEntry) error {
	names := make([]string, len(r.Files))
	hashes := make([]string, len(r.Files))
	for i, f := range r.Files {
		names[i], hashes[i] = f.Name, f.SHA256
	}
	err := db.insertRow(ctx, `INSERT INTO releases (released_at, actor, role, year, sites, lang, k, cut_off, settings,
		file_names, file_hashes)`,
		r.At.UTC().Truncate(time.Second), r.Actor, r.Role, uint16(r.Year), r.Sites, r.Lang, uint8(r.K),
		r.CutOff.UTC(), r.Settings, names, hashes)
	if err != nil {
		return fmt.Errorf("queries: record release: %w", err)
	}
	return nil
}

// Audit appends an event to the audit log.
func (db *DB) Audit(ctx context.Context, e collector.AuditEvent) error {
	err := db.insertRow(ctx, "INSERT INTO audit_log (at, actor, role, sites, action, detail, outcome)",
		e.At.UTC().Truncate(time.Second), e.Actor, e.Role, e.Sites, e.Action, e.Detail, e.Outcome)
	if err != nil {
		return fmt.Errorf("queries: audit: %w", err)
	}
	return nil
}
