-- Anonymised records: one row per submission. The answers are kept as two parallel
-- arrays (item code, stored value), a multi answer giving one pair per chosen code, so
-- that a new questionnaire version needs no schema change. The breakdown dimensions are
-- also columns, for fast grouping. No exact age, country, identifier or date finer than
-- a month is ever written here (PRIVACY.md R2).
CREATE TABLE IF NOT EXISTS submissions (
    submission_id     String,
    questionnaire     String,
    version           UInt16,
    site              String,
    year              UInt16,
    month             String,
    consent           UInt8,
    gender            String,
    age_band          String,
    nationality_group String,
    link_id           String,
    key_id            String,
    fingerprint       String,
    answer_item       Array(String),
    answer_value      Array(String),
    received_at       DateTime
) ENGINE = ReplacingMergeTree(received_at)
PARTITION BY year
ORDER BY submission_id;

-- Bearer tokens, stored as SHA-256 hashes. A change (revocation) is a new row with a
-- later updated_at; readers take the latest.
CREATE TABLE IF NOT EXISTS tokens (
    token_hash String,
    role       String,
    sites      Array(String),
    label      String,
    created_at DateTime,
    revoked    UInt8,
    updated_at DateTime
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY token_hash;
