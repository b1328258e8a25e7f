-- Sessions of the web pages (server-side: the cookie holds a random id, this table the
-- SHA-256 of that id, never the id). A session's state is its latest row: ended sessions
-- stay ended (readers order by ended first). version is a nanosecond counter of the
-- writer, not a time that says anything about the person signed in.
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    String,
    token_hash String,
    issued_at  DateTime,
    seen_at    DateTime,
    ended      UInt8,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id_hash;
