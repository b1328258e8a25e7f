package queries

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

var _ reports.ReleaseStore = (*DB)(nil)

// SaveRelease stores a frozen release: its cells in one insert, then its header, the
// commit point. A crash in between leaves cells no header names, which nothing reads.
func (db *DB) SaveRelease(ctx context.Context, r *reports.Release) error {
	batch, err := db.conn.PrepareBatch(ctx, "INSERT INTO release_cells (release_id, cell, n, status)")
	if err != nil {
		return fmt.Errorf("queries: save release %s: %w", r.ID, err)
	}
	defer batch.Close()
	for _, c := range r.Cells() {
		if err := batch.Append(r.ID, c.Key.String(), int64(c.N), uint8(c.Status)); err != nil {
			return fmt.Errorf("queries: save release %s: %w", r.ID, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("queries: save release %s: %w", r.ID, err)
	}
	info := r.Info()
	earlier, groups := info.Earlier, info.Groups
	if earlier == nil {
		earlier = []string{}
	}
	err = db.insertRow(ctx, `INSERT INTO release_headers (release_id, year, cut_off, made_at, actor, role, k, earlier,
		groups, cells, suppressed, cells_sha256, header)`,
		r.ID, uint16(r.Year), r.CutOff.UTC(), r.MadeAt.UTC(), r.Actor, r.Role, uint8(r.Config.K), earlier, groups,
		uint32(info.Cells), uint32(info.Suppressed), info.CellsSHA256, r.Header())
	if err != nil {
		return fmt.Errorf("queries: save release %s: %w", r.ID, err)
	}
	return nil
}

// releaseColumns are the columns of release_headers a listing reads. A release stored
// twice (the same id) is listed once, as first made.
const releaseColumns = `release_id, any(year), any(cut_off), min(made_at), argMin(actor, made_at), argMin(role, made_at),
	any(k), any(earlier), any(groups), any(cells), any(suppressed), any(cells_sha256)`

// ListReleases returns the releases of year (every year for 0) in the order they were
// made.
func (db *DB) ListReleases(ctx context.Context, year int) ([]reports.ReleaseInfo, error) {
	query := "SELECT " + releaseColumns + " FROM release_headers WHERE year = ? OR ? = 0 GROUP BY release_id ORDER BY min(made_at), any(cut_off), release_id"
	rows, err := db.conn.Query(ctx, query, uint16(year), uint16(year))
	if err != nil {
		return nil, fmt.Errorf("queries: list releases: %w", err)
	}
	defer rows.Close()
	var out []reports.ReleaseInfo
	for rows.Next() {
		var (
			r              reports.ReleaseInfo
			y              uint16
			k              uint8
			cells, supp    uint32
			cutOff, madeAt time.Time
		)
		if err := rows.Scan(&r.ID, &y, &cutOff, &madeAt, &r.Actor, &r.Role, &k, &r.Earlier, &r.Groups, &cells, &supp, &r.CellsSHA256); err != nil {
			return nil, fmt.Errorf("queries: list releases: %w", err)
		}
		r.Year, r.K, r.Cells, r.Suppressed = int(y), int(k), int(cells), int(supp)
		r.CutOff, r.MadeAt = cutOff.UTC(), madeAt.UTC()
		if len(r.Earlier) == 0 {
			r.Earlier = nil
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: list releases: %w", err)
	}
	return out, nil
}

// LoadRelease reads a release back, checking that its cells are complete.
func (db *DB) LoadRelease(ctx context.Context, id string) (*reports.Release, error) {
	var (
		header, actor, role string
		madeAt              time.Time
		n                   uint64
	)
	if err := db.conn.QueryRow(ctx, `SELECT any(header), min(made_at), argMin(actor, made_at), argMin(role, made_at), count()
		FROM release_headers WHERE release_id = ?`, id).Scan(&header, &madeAt, &actor, &role, &n); err != nil {
		return nil, fmt.Errorf("queries: load release %s: %w", id, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s", reports.ErrNoRelease, id)
	}
	rows, err := db.conn.Query(ctx, "SELECT cell, any(n), any(status) FROM release_cells WHERE release_id = ? GROUP BY cell", id)
	if err != nil {
		return nil, fmt.Errorf("queries: load release %s: %w", id, err)
	}
	defer rows.Close()
	var cells []disclosure.StoredCell
	for rows.Next() {
		var (
			key    string
			count  int64
			status uint8
		)
		if err := rows.Scan(&key, &count, &status); err != nil {
			return nil, fmt.Errorf("queries: load release %s: %w", id, err)
		}
		k, err := disclosure.ParseKey(key)
		if err != nil {
			return nil, fmt.Errorf("queries: load release %s: %w", id, err)
		}
		cells = append(cells, disclosure.StoredCell{Key: k, N: int(count), Status: disclosure.Status(status)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: load release %s: %w", id, err)
	}
	return reports.RestoreRelease(id, madeAt, actor, role, header, cells)
}

var _ reports.ReleaseLocker = (*DB)(nil)

// releaseLeaseLife is how long a lease holds without being ended: longer than any
// release takes to make.
const releaseLeaseLife = 5 * time.Minute

// LockReleases takes the lease of making a release of year, or returns
// reports.ErrConcurrentRelease when another process holds it. unlock ends it.
func (db *DB) LockReleases(ctx context.Context, year int) (unlock func(), err error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	holder := hex.EncodeToString(b[:])
	end := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := db.insertRow(ctx, "INSERT INTO release_leases (year, holder, at, done)", uint16(year), holder, db.now().UTC(), uint8(1)); err != nil {
			db.log.Warn("release lease not ended; it lapses in five minutes", "err", err)
		}
	}
	if err := db.insertRow(ctx, "INSERT INTO release_leases (year, holder, at, done)", uint16(year), holder, db.now().UTC(), uint8(0)); err != nil {
		return nil, fmt.Errorf("queries: release lease: %w", err)
	}
	var others uint64
	if err := db.conn.QueryRow(ctx, `SELECT count() FROM (
		SELECT holder FROM release_leases WHERE year = ? AND holder != ?
		GROUP BY holder HAVING max(done) = 0 AND max(at) > now() - ?)`,
		uint16(year), holder, uint32(releaseLeaseLife/time.Second)).Scan(&others); err != nil {
		end()
		return nil, fmt.Errorf("queries: release lease: %w", err)
	}
	if others > 0 {
		end()
		return nil, reports.ErrConcurrentRelease
	}
	return end, nil
}
