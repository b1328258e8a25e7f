-- Frozen releases (PRIVACY.md R11): the figures of a year protected once, stored here and
-- never changed. A release's cells are written first and its header last: a release
-- whose header is not here does not exist, and readers check that the cells they read
-- are complete (their count and SHA-256 are in the header). Every cell keeps its true
-- count, suppressed ones included, so that a later release can be protected jointly
-- with this one; only the published ones ever leave through an output. Storing a
-- release twice changes nothing. release_leases serialises the making of releases.
CREATE TABLE IF NOT EXISTS release_cells (
    release_id String,
    cell       String,
    n          Int64,
    status     UInt8
) ENGINE = ReplacingMergeTree
ORDER BY (release_id, cell);

CREATE TABLE IF NOT EXISTS release_headers (
    release_id   String,
    year         UInt16,
    cut_off      DateTime,
    made_at      DateTime,
    actor        String,
    role         String,
    k            UInt8,
    earlier      Array(String),
    groups       Array(String),
    cells        UInt32,
    suppressed   UInt32,
    cells_sha256 String,
    header       String
) ENGINE = ReplacingMergeTree
ORDER BY (year, release_id);

-- Who is making a release of a year: one at a time, or two releases would not be
-- protected jointly. A holder inserts its lease, then looks: if another live lease is
-- there, it gives up (both may; neither goes on alone). done = 1 ends a lease; a lease
-- older than five minutes is dead (a crashed tamtam release).
CREATE TABLE IF NOT EXISTS release_leases (
    year   UInt16,
    holder String,
    at     DateTime,
    done   UInt8
) ENGINE = ReplacingMergeTree(done)
ORDER BY (year, holder);
