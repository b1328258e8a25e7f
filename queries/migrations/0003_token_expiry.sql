-- Token expiry and last use. ClickHouse 18.16 has no ALTER TABLE … ADD COLUMN IF NOT
-- EXISTS (a syntax error there), and a plain ADD COLUMN fails when repeated, so these
-- are tables of their own: CREATE TABLE IF NOT EXISTS can be repeated harmlessly.

-- The expiry of tokens that have one (no row: the token never expires). Readers take
-- the row with the latest updated_at.
CREATE TABLE IF NOT EXISTS token_expiry (
    token_hash String,
    expires_at DateTime,
    updated_at DateTime
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY token_hash;

-- When each token was last used, written by the authenticator at most once a minute per
-- token. Readers take max(last_used).
CREATE TABLE IF NOT EXISTS token_usage (
    token_hash String,
    last_used  DateTime
) ENGINE = ReplacingMergeTree(last_used)
ORDER BY token_hash;
