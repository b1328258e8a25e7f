-- The release ledger (PRIVACY.md R7): every report released, with who asked, the
-- settings and the SHA-256 of every file, so any published figure can be traced back.
CREATE TABLE IF NOT EXISTS releases (
    released_at DateTime,
    actor       String,
    role        String,
    year        UInt16,
    sites       Array(String),
    lang        String,
    k           UInt8,
    cut_off     DateTime,
    settings    String,
    file_names  Array(String),
    file_hashes Array(String)
) ENGINE = MergeTree
ORDER BY (year, released_at);

-- The audit log: who did what, when, with what outcome. Never answers, never tokens.
CREATE TABLE IF NOT EXISTS audit_log (
    at      DateTime,
    actor   String,
    role    String,
    sites   Array(String),
    action  String,
    detail  String,
    outcome String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY at;
