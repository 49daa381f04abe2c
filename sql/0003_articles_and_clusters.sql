-- 0003: the warehouse proper: one row per article (by canonical URL) and
-- one row per story cluster, plus the views analysts start from.

CREATE TABLE news.story_clusters (
    cluster_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    canonical_article_id  bigint,
    first_seen            timestamptz NOT NULL DEFAULT now(),
    first_published_at    timestamptz,
    member_count          integer NOT NULL DEFAULT 0,
    outlets               text[] NOT NULL DEFAULT '{}',
    agencies              text[] NOT NULL DEFAULT '{}',
    updated_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE news.story_clusters IS 'One row per story: an original article and all its copies and rewrites.';
COMMENT ON COLUMN news.story_clusters.cluster_id IS 'Stable story id.';
COMMENT ON COLUMN news.story_clusters.canonical_article_id IS 'The cluster''s canonical article: earliest published, wire-attributed preferred.';
COMMENT ON COLUMN news.story_clusters.first_seen IS 'When the first member was loaded.';
COMMENT ON COLUMN news.story_clusters.first_published_at IS 'Earliest published_at among members.';
COMMENT ON COLUMN news.story_clusters.member_count IS 'Number of articles in the cluster.';
COMMENT ON COLUMN news.story_clusters.outlets IS 'Distinct outlets with a member article, sorted.';
COMMENT ON COLUMN news.story_clusters.agencies IS 'Distinct wire agencies credited by members, sorted.';
COMMENT ON COLUMN news.story_clusters.updated_at IS 'When the statistics were last recomputed.';

CREATE TABLE news.articles (
    article_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    canonical_url       text NOT NULL UNIQUE,
    url                 text NOT NULL,
    feed_name           text NOT NULL,
    outlet              text NOT NULL DEFAULT '',
    site_name           text NOT NULL DEFAULT '',
    title               text NOT NULL DEFAULT '',
    authors             text[] NOT NULL DEFAULT '{}',
    published_at        timestamptz,
    published_at_source text NOT NULL DEFAULT '',
    fetched_at          timestamptz NOT NULL,
    language            text NOT NULL DEFAULT '',
    body                text NOT NULL CHECK (body <> ''),
    description         text NOT NULL DEFAULT '',
    tags                text[] NOT NULL DEFAULT '{}',
    image_url           text NOT NULL DEFAULT '',
    wire_agencies       text[] NOT NULL DEFAULT '{}',
    wire_evidence       text[] NOT NULL DEFAULT '{}',
    content_hash        text NOT NULL,
    cluster_id          bigint NOT NULL REFERENCES news.story_clusters (cluster_id),
    is_canonical        boolean NOT NULL DEFAULT false,
    duplicate_of        bigint REFERENCES news.articles (article_id),
    similarity          real NOT NULL DEFAULT 1.0,
    dup_relation        text NOT NULL DEFAULT 'original'
                        CHECK (dup_relation IN ('original', 'exact', 'near', 'stitched')),
    extractor_version   text NOT NULL,
    first_run_key       text NOT NULL,
    last_run_key        text NOT NULL,
    inserted_at         timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    search_vector       tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A')
        || setweight(to_tsvector('simple'::regconfig, body), 'B')
    ) STORED
);
CREATE INDEX articles_published_idx ON news.articles (published_at);
CREATE INDEX articles_content_hash_idx ON news.articles (content_hash);
CREATE INDEX articles_cluster_idx ON news.articles (cluster_id);
CREATE INDEX articles_feed_idx ON news.articles (feed_name, fetched_at);
CREATE INDEX articles_search_idx ON news.articles USING gin (search_vector);
ALTER TABLE news.story_clusters
    ADD CONSTRAINT story_clusters_canonical_fk
    FOREIGN KEY (canonical_article_id) REFERENCES news.articles (article_id)
    DEFERRABLE INITIALLY DEFERRED;

COMMENT ON TABLE news.articles IS 'One clean row per article, keyed by canonical URL; duplicates are kept and flagged.';
COMMENT ON COLUMN news.articles.article_id IS 'Stable article id.';
COMMENT ON COLUMN news.articles.canonical_url IS 'Normalised URL (tracking parameters, fragments, www/AMP variants removed): the natural key.';
COMMENT ON COLUMN news.articles.url IS 'URL the page was fetched from, after redirects.';
COMMENT ON COLUMN news.articles.feed_name IS 'Feed that led to the article (first one seen).';
COMMENT ON COLUMN news.articles.outlet IS 'Outlet name from the feed registry.';
COMMENT ON COLUMN news.articles.site_name IS 'Site name from the page metadata (og:site_name etc.).';
COMMENT ON COLUMN news.articles.title IS 'Headline.';
COMMENT ON COLUMN news.articles.authors IS 'Author names as given by the page.';
COMMENT ON COLUMN news.articles.published_at IS 'Publication time in UTC; NULL when neither page nor feed gives a usable date.';
COMMENT ON COLUMN news.articles.published_at_source IS 'Where published_at came from: page or feed.';
COMMENT ON COLUMN news.articles.fetched_at IS 'When the page was downloaded.';
COMMENT ON COLUMN news.articles.language IS 'Language of the body (ISO 639-1) from the page or the feed registry.';
COMMENT ON COLUMN news.articles.body IS 'Clean article text, paragraphs separated by newlines.';
COMMENT ON COLUMN news.articles.description IS 'Summary from the page metadata or the feed entry.';
COMMENT ON COLUMN news.articles.tags IS 'Tags and categories from the page metadata.';
COMMENT ON COLUMN news.articles.image_url IS 'Main image URL from the page metadata.';
COMMENT ON COLUMN news.articles.wire_agencies IS 'Wire agencies the article is attributed to (AFP, Reuters, AP, ...).';
COMMENT ON COLUMN news.articles.wire_evidence IS 'Text that attributed each agency (dateline, credit line, byline).';
COMMENT ON COLUMN news.articles.content_hash IS 'SHA-256 of the normalised body: equal hashes mean identical text.';
COMMENT ON COLUMN news.articles.cluster_id IS 'Story cluster (news.story_clusters).';
COMMENT ON COLUMN news.articles.is_canonical IS 'True for the one canonical article of its cluster.';
COMMENT ON COLUMN news.articles.duplicate_of IS 'Article this one copies (the cluster canonical when loaded), NULL for originals.';
COMMENT ON COLUMN news.articles.similarity IS 'Similarity to duplicate_of in [0, 1]; 1 for originals and exact copies.';
COMMENT ON COLUMN news.articles.dup_relation IS 'original, exact (same text), near (rewrite) or stitched (part of a page joining stories).';
COMMENT ON COLUMN news.articles.extractor_version IS 'Version of the extraction code and options that produced the row.';
COMMENT ON COLUMN news.articles.first_run_key IS 'Ingest run that first loaded the row.';
COMMENT ON COLUMN news.articles.last_run_key IS 'Ingest run that last wrote the row.';
COMMENT ON COLUMN news.articles.inserted_at IS 'When the row was first inserted.';
COMMENT ON COLUMN news.articles.updated_at IS 'When the row was last written.';
COMMENT ON COLUMN news.articles.search_vector IS 'Full-text index of title (weight A) and body (weight B), simple configuration.';

CREATE VIEW news.unique_stories AS
SELECT c.cluster_id, c.member_count, c.outlets, c.agencies, c.first_published_at,
       a.article_id, a.canonical_url, a.outlet, a.title, a.published_at, a.language, a.body
FROM news.story_clusters c
JOIN news.articles a ON a.article_id = c.canonical_article_id;
COMMENT ON VIEW news.unique_stories IS 'One row per story: the canonical article of each cluster with cluster statistics.';
COMMENT ON COLUMN news.unique_stories.cluster_id IS 'Story cluster id.';
COMMENT ON COLUMN news.unique_stories.member_count IS 'Articles in the story.';
COMMENT ON COLUMN news.unique_stories.outlets IS 'Outlets that published the story.';
COMMENT ON COLUMN news.unique_stories.agencies IS 'Wire agencies credited.';
COMMENT ON COLUMN news.unique_stories.first_published_at IS 'Earliest publication time in the story.';
COMMENT ON COLUMN news.unique_stories.article_id IS 'Canonical article id.';
COMMENT ON COLUMN news.unique_stories.canonical_url IS 'Canonical article URL.';
COMMENT ON COLUMN news.unique_stories.outlet IS 'Outlet of the canonical article.';
COMMENT ON COLUMN news.unique_stories.title IS 'Headline of the canonical article.';
COMMENT ON COLUMN news.unique_stories.published_at IS 'Publication time of the canonical article.';
COMMENT ON COLUMN news.unique_stories.language IS 'Language of the canonical article.';
COMMENT ON COLUMN news.unique_stories.body IS 'Body of the canonical article.';

CREATE VIEW news.daily_feed_stats AS
SELECT r.logical_date, r.run_key, r.feed_name, f.outlet, r.entries, r.fetched, r.not_modified,
       r.skipped_known, r.extracted, r.skipped, r.new_articles, r.duplicates, r.failed,
       r.feed_failed, r.failures
FROM news.ingest_runs r
LEFT JOIN news.feeds f USING (feed_name);
COMMENT ON VIEW news.daily_feed_stats IS 'Per run and feed counts with the outlet name, for daily monitoring.';
COMMENT ON COLUMN news.daily_feed_stats.logical_date IS 'Logical date of the run.';
COMMENT ON COLUMN news.daily_feed_stats.run_key IS 'Run identity.';
COMMENT ON COLUMN news.daily_feed_stats.feed_name IS 'Feed.';
COMMENT ON COLUMN news.daily_feed_stats.outlet IS 'Outlet of the feed.';
COMMENT ON COLUMN news.daily_feed_stats.entries IS 'Distinct feed entries seen.';
COMMENT ON COLUMN news.daily_feed_stats.fetched IS 'Pages downloaded.';
COMMENT ON COLUMN news.daily_feed_stats.not_modified IS '1 when the feed answered 304.';
COMMENT ON COLUMN news.daily_feed_stats.skipped_known IS 'Entries already in the warehouse.';
COMMENT ON COLUMN news.daily_feed_stats.extracted IS 'Pages that yielded an article.';
COMMENT ON COLUMN news.daily_feed_stats.skipped IS 'Pages skipped by quality gates.';
COMMENT ON COLUMN news.daily_feed_stats.new_articles IS 'New stories loaded.';
COMMENT ON COLUMN news.daily_feed_stats.duplicates IS 'Duplicates loaded.';
COMMENT ON COLUMN news.daily_feed_stats.failed IS 'Failed fetches.';
COMMENT ON COLUMN news.daily_feed_stats.feed_failed IS 'Whether the feed itself failed.';
COMMENT ON COLUMN news.daily_feed_stats.failures IS 'Failures by error class.';
