-- The fingerprint (SHA-256 of the served JSON) of every questionnaire version the store
-- has known (collector.CheckFingerprints): a definition whose version holds records may
-- not change, or the records would be read with another meaning; a new version must be
-- given instead. The latest row of a version is its fingerprint (recorded is a nanosecond
-- counter of the writer); two servers starting at once write the same row, harmlessly.
CREATE TABLE IF NOT EXISTS questionnaire_fingerprints (
    questionnaire String,
    version       UInt16,
    sha256        String,
    recorded      UInt64
) ENGINE = ReplacingMergeTree(recorded)
ORDER BY (questionnaire, version);
