-- Linkage key rotation (PRIVACY.md R3). When a record with a linkage identifier arrives
-- while an earlier key is still kept, tamtam notes here the link id that identifier had
-- under the earlier key (from) and has under the current one (to). Rows of submissions
-- keyed under "from" are then re-keyed to "to" by inserting a replacement row (same
-- submission id and received_at, so ReplacingMergeTree keeps the later one), which lets
-- the entry of a person link with a follow-up made after the rotation. Only link ids are
-- held, never identifiers or keys. One partition per earlier key: when that key is
-- destroyed, its partition is dropped, and the old links with it.
CREATE TABLE IF NOT EXISTS link_rekeys (
    from_key_id  String,
    from_link_id String,
    to_key_id    String,
    to_link_id   String,
    noted_at     DateTime
) ENGINE = ReplacingMergeTree(noted_at)
PARTITION BY from_key_id
ORDER BY (from_link_id, to_key_id);
