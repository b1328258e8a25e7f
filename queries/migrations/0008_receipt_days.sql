-- tamtam: node only
-- (this migration rewrites rows stored before it; a cluster starts at the current schema)
-- Receipt times become days (PRIVACY.md R2): next to intake schedules, a receipt time to
-- the second links a row to a person. New rows are written with the day (collector.
-- ReceiptDay); this rewrites the rows stored before. received_at is the version column
-- of the ReplacingMergeTree, which ALTER … UPDATE refuses (code 420), and a copy with an
-- earlier version would lose to the original at the next merge: the table is copied
-- (through FINAL, so that a re-keyed row, not the row it replaced, is what is copied),
-- swapped by RENAME, and the rows a writer put in the old table meanwhile are copied
-- after it. Every statement can run again after a crash at any point: the first three
-- finish an interrupted swap. The copies also blank the fingerprints stored before: they
-- were keyed hashes of the raw submission, against which whoever holds the linkage key
-- could test guesses of an exact age or country (a retry of such a row answers 409).
CREATE TABLE IF NOT EXISTS submissions_seconds AS submissions;
INSERT INTO submissions (submission_id, questionnaire, version, site, year, month, consent, gender, age_band, nationality_group, link_id, key_id, fingerprint, answer_item, answer_value, received_at)
  SELECT submission_id, questionnaire, version, site, year, month, consent, gender, age_band, nationality_group, link_id, key_id, '', answer_item, answer_value, toStartOfDay(received_at, 'UTC') FROM submissions_seconds FINAL
  WHERE submission_id NOT IN (SELECT submission_id FROM submissions);
DROP TABLE submissions_seconds;
DROP TABLE IF EXISTS submissions_days;
CREATE TABLE submissions_days AS submissions;
INSERT INTO submissions_days (submission_id, questionnaire, version, site, year, month, consent, gender, age_band, nationality_group, link_id, key_id, fingerprint, answer_item, answer_value, received_at)
  SELECT submission_id, questionnaire, version, site, year, month, consent, gender, age_band, nationality_group, link_id, key_id, '', answer_item, answer_value, toStartOfDay(received_at, 'UTC') FROM submissions FINAL;
RENAME TABLE submissions TO submissions_seconds, submissions_days TO submissions;
INSERT INTO submissions (submission_id, questionnaire, version, site, year, month, consent, gender, age_band, nationality_group, link_id, key_id, fingerprint, answer_item, answer_value, received_at)
  SELECT submission_id, questionnaire, version, site, year, month, consent, gender, age_band, nationality_group, link_id, key_id, '', answer_item, answer_value, toStartOfDay(received_at, 'UTC') FROM submissions_seconds FINAL
  WHERE submission_id NOT IN (SELECT submission_id FROM submissions);
DROP TABLE submissions_seconds;

-- The re-key pairs note when a record of the person arrived: the same, for link_rekeys
-- (noted_at is its version column).
CREATE TABLE IF NOT EXISTS link_rekeys_seconds AS link_rekeys;
INSERT INTO link_rekeys (from_key_id, from_link_id, to_key_id, to_link_id, noted_at)
  SELECT from_key_id, from_link_id, to_key_id, to_link_id, toStartOfDay(noted_at, 'UTC') FROM link_rekeys_seconds FINAL
  WHERE (from_link_id, to_key_id) NOT IN (SELECT from_link_id, to_key_id FROM link_rekeys);
DROP TABLE link_rekeys_seconds;
DROP TABLE IF EXISTS link_rekeys_days;
CREATE TABLE link_rekeys_days AS link_rekeys;
INSERT INTO link_rekeys_days (from_key_id, from_link_id, to_key_id, to_link_id, noted_at)
  SELECT from_key_id, from_link_id, to_key_id, to_link_id, toStartOfDay(noted_at, 'UTC') FROM link_rekeys FINAL;
RENAME TABLE link_rekeys TO link_rekeys_seconds, link_rekeys_days TO link_rekeys;
INSERT INTO link_rekeys (from_key_id, from_link_id, to_key_id, to_link_id, noted_at)
  SELECT from_key_id, from_link_id, to_key_id, to_link_id, toStartOfDay(noted_at, 'UTC') FROM link_rekeys_seconds FINAL
  WHERE (from_link_id, to_key_id) NOT IN (SELECT from_link_id, to_key_id FROM link_rekeys);
DROP TABLE link_rekeys_seconds;
