-- 0004: near-duplicate state in the warehouse, so that any worker can
-- deduplicate and the state survives restarts. Only cluster founders are
-- indexed: new articles are compared with founders, never with copies, so
-- clusters cannot chain. Fingerprints carry their algorithm version.

CREATE TABLE news.dedup_founders (
    founder_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    canonical_url text NOT NULL UNIQUE,
    algorithm     text NOT NULL,
    published_at  timestamptz,
    size          integer NOT NULL,
    samples       bigint[] NOT NULL,
    indexed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dedup_founders_algorithm_idx ON news.dedup_founders (algorithm, published_at);
COMMENT ON TABLE news.dedup_founders IS 'Fingerprints of cluster founders (the article that opened each story cluster).';
COMMENT ON COLUMN news.dedup_founders.founder_id IS 'Surrogate key used by the postings.';
COMMENT ON COLUMN news.dedup_founders.canonical_url IS 'The founding article (news.articles.canonical_url).';
COMMENT ON COLUMN news.dedup_founders.algorithm IS 'Fingerprint algorithm version; other versions are recomputed, never compared.';
COMMENT ON COLUMN news.dedup_founders.published_at IS 'Publication time of the founder, for the comparison window.';
COMMENT ON COLUMN news.dedup_founders.size IS 'Informative samples of the fingerprint (denominator of containment).';
COMMENT ON COLUMN news.dedup_founders.samples IS 'Sampled word 3-gram hashes of the boilerplate-free body, quotes removed.';
COMMENT ON COLUMN news.dedup_founders.indexed_at IS 'When the fingerprint was stored.';

CREATE TABLE news.dedup_postings (
    shingle    bigint NOT NULL,
    founder_id bigint NOT NULL REFERENCES news.dedup_founders (founder_id) ON DELETE CASCADE,
    PRIMARY KEY (shingle, founder_id)
);
CREATE INDEX dedup_postings_founder_idx ON news.dedup_postings (founder_id);
COMMENT ON TABLE news.dedup_postings IS 'Inverted index: which founders contain each informative sampled shingle.';
COMMENT ON COLUMN news.dedup_postings.shingle IS 'Sampled shingle hash.';
COMMENT ON COLUMN news.dedup_postings.founder_id IS 'Founder containing it.';

CREATE TABLE news.dedup_shingle_df (
    shingle  bigint PRIMARY KEY,
    founders integer NOT NULL
);
COMMENT ON TABLE news.dedup_shingle_df IS 'Founders per sampled shingle; frequent shingles are stock phrases and are ignored.';
COMMENT ON COLUMN news.dedup_shingle_df.shingle IS 'Sampled shingle hash.';
COMMENT ON COLUMN news.dedup_shingle_df.founders IS 'Number of founders whose fingerprint holds it.';

CREATE TABLE news.dedup_site_lines (
    site      text NOT NULL,
    line_hash bigint NOT NULL,
    docs      integer NOT NULL,
    PRIMARY KEY (site, line_hash)
);
COMMENT ON TABLE news.dedup_site_lines IS 'Per site, how many articles contain each body line: repeated lines are boilerplate.';
COMMENT ON COLUMN news.dedup_site_lines.site IS 'Outlet (feed outlet or site name).';
COMMENT ON COLUMN news.dedup_site_lines.line_hash IS 'CRC-32 of the normalised line.';
COMMENT ON COLUMN news.dedup_site_lines.docs IS 'Articles of the site containing the line.';

ALTER TABLE news.articles ADD COLUMN secondary_of bigint REFERENCES news.articles (article_id);
COMMENT ON COLUMN news.articles.secondary_of IS 'For a stitched page: the founder of the second story it contains.';
