-- Imports in progress. An import stages its rows in a table of its own (import_stage_…,
-- renamed import_commit_… once it is committed) and keeps it alive here with a heartbeat
-- every few seconds. A staging table whose heartbeat has stopped belongs to an import
-- that crashed: RecoverImports drops it (stage) or completes the move (commit). Readers
-- take max(heartbeat) per staging table; only table names are written here, never data.
CREATE TABLE IF NOT EXISTS import_leases (
    staging   String,
    heartbeat DateTime
) ENGINE = ReplacingMergeTree(heartbeat)
ORDER BY staging;
