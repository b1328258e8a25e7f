// Package queries is tamtam's storage: the only package that imports clickhouse-go. It
// owns the connection ([Open]), the versioned schema ([DB.Migrate]), the inserts and
// lookups of the ingest pipeline and the token store. The embedded clickhouse-server that
// tamtam starts under its data directory is supervised by the sub-package launcher.
//
// Everything here runs on Debian's ClickHouse 18.16 as well as on current servers, so it
// keeps to their common subset (DESIGN.md §4): native protocol only, explicit column
// lists in inserts, UInt8 for booleans, no Map/JSON/DateTime64/window functions, no
// server-side query parameters (values are bound client-side by the driver, never
// formatted into SQL), and margins computed explicitly since ROLLUP is ignored.
//
// Retries never double-count: submissions live in a ReplacingMergeTree keyed by
// submission id, and readers that count use FINAL or count distinct ids.
package queries
