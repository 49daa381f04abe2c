-- 0011: what verifying a candidate against a stored founder needs, and
-- line counts that find boilerplate whatever the site.
--
-- Clustering runs in two stages (ADR 0006-dedup): candidates from the
-- sampled shingles' postings, then verification by sentence alignment on
-- the texts. A founder's sketch (its sentences as 16-bit content-word
-- hashes, quotes and boilerplate left out; about 2 bytes a word) is read
-- with the founder, so any worker verifies against the history without the
-- article bodies. Founders stored before this migration hold an empty
-- sketch and an older algorithm version: the first batch re-fingerprints them.
-- A line held by many founders (each a story of its own) stands beside
-- unrelated texts: it is boilerplate on any site.

ALTER TABLE news.dedup_founders ADD COLUMN sketch bytea NOT NULL DEFAULT ''::bytea;
COMMENT ON COLUMN news.dedup_founders.sketch IS 'Verification sketch: little-endian 16-bit values, the sentence count, each sentence''s content-word count, then the words'' hashes (quotes and boilerplate left out).';

CREATE TABLE news.dedup_lines (
    line_hash bigint PRIMARY KEY,
    founders  integer NOT NULL
);
COMMENT ON TABLE news.dedup_lines IS 'Per normalised body line, how many cluster founders hold it: a line beside many unrelated stories is boilerplate whatever its site.';
COMMENT ON COLUMN news.dedup_lines.line_hash IS 'CRC-32 of the whitespace- and case-normalised line.';
COMMENT ON COLUMN news.dedup_lines.founders IS 'Cluster founders whose body holds the line.';
