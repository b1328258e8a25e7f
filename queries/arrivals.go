package queries

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tamtam-ngo/tamtam/reports"
)

// arrivalsQuery counts the questionnaires of a year by site and month, every
// questionnaire alike: what the coordinator watches arrive. Distinct ids, so that a
// duplicate row not yet merged away is not counted twice.
const arrivalsQuery = `SELECT site, month, uniqExact(submission_id)
FROM submissions
WHERE year = ? AND received_at <= ? AND site IN ?
GROUP BY site, month`

// Arrivals returns the number of questionnaires of year received up to cutOff, by site
// and month, for the sites given.
func (db *DB) Arrivals(ctx context.Context, year int, sites []string, cutOff time.Time) ([]reports.ArrivalCell, error) {
	if len(sites) == 0 {
		return nil, nil
	}
	set := clickhouse.GroupSet{Value: make([]any, len(sites))}
	for i, s := range sites {
		set.Value[i] = s
	}
	rows, err := db.conn.Query(ctx, arrivalsQuery, uint16(year), cutOff, set)
	if err != nil {
		return nil, fmt.Errorf("queries: arrivals: %w", err)
	}
	defer rows.Close()
	var out []reports.ArrivalCell
	for rows.Next() {
		var c reports.ArrivalCell
		var n uint64
		if err := rows.Scan(&c.Site, &c.Month, &n); err != nil {
			return nil, fmt.Errorf("queries: arrivals: %w", err)
		}
		c.N = int(n)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: arrivals: %w", err)
	}
	return out, nil
}
