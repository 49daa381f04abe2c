-- 0009: what loading a large day needs: page validators and content digests,
-- so that a rerun of an unchanged day neither extracts nor rewrites a page
-- again; a record of URL clashes, so that a page whose canonical URL is an
-- article already loaded never overwrites it; and stage timings per run, so
-- that an operator sees from the warehouse which stage was slow.

ALTER TABLE news.raw_pages
    ADD COLUMN body_sha256 bytea,
    ADD COLUMN etag text,
    ADD COLUMN last_modified text,
    ADD COLUMN refetch boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN news.raw_pages.body_sha256 IS 'SHA-256 of the page as downloaded (before compression): an unchanged page is not extracted again.';
COMMENT ON COLUMN news.raw_pages.etag IS 'ETag of the page response, sent back as If-None-Match when the run is repeated.';
COMMENT ON COLUMN news.raw_pages.last_modified IS 'Last-Modified of the page response, sent back as If-Modified-Since when the run is repeated.';
COMMENT ON COLUMN news.raw_pages.refetch IS 'True when the page was fetched again on purpose because its feed says the loaded story was updated (refetch_updated): only such a page may update a loaded article.';

ALTER TABLE news.staged_articles
    ADD COLUMN source_sha256 bytea,
    ADD COLUMN extractor_version text;
COMMENT ON COLUMN news.staged_articles.source_sha256 IS 'body_sha256 of the raw page this record was extracted from.';
COMMENT ON COLUMN news.staged_articles.extractor_version IS 'Extractor version that produced the record; with source_sha256 it decides whether a page must be extracted again.';

ALTER TABLE news.ingest_runs ADD COLUMN clashes integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN news.ingest_runs.clashes IS 'Pages of the feed whose canonical URL clashed with an article loaded earlier or with another page of the run (see news.url_clashes); never applied.';

CREATE TABLE news.url_clashes (
    run_key        text NOT NULL,
    page_url       text NOT NULL,
    feed_name      text NOT NULL,
    canonical_url  text NOT NULL,
    article_id     bigint REFERENCES news.articles (article_id),
    other_page_url text NOT NULL DEFAULT '',
    reason         text NOT NULL CHECK (reason IN ('loaded_earlier', 'same_run')),
    detected_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, page_url)
);
CREATE INDEX url_clashes_article_idx ON news.url_clashes (article_id);
COMMENT ON TABLE news.url_clashes IS 'Pages not loaded because their canonical URL is taken: by an article an earlier run loaded (which stays as it was), or by another page of the same run (the first by page URL is loaded).';
COMMENT ON COLUMN news.url_clashes.run_key IS 'The run that staged the page.';
COMMENT ON COLUMN news.url_clashes.page_url IS 'Canonical form of the URL the feed linked (news.staged_articles.url).';
COMMENT ON COLUMN news.url_clashes.feed_name IS 'Feed that linked the page.';
COMMENT ON COLUMN news.url_clashes.canonical_url IS 'The canonical URL the page declared or normalised to, already taken.';
COMMENT ON COLUMN news.url_clashes.article_id IS 'The loaded article holding that canonical URL (null when the other page of the run was not loaded either).';
COMMENT ON COLUMN news.url_clashes.other_page_url IS 'For same_run: the page of this run that was loaded under that canonical URL.';
COMMENT ON COLUMN news.url_clashes.reason IS 'loaded_earlier: an earlier run loaded that canonical URL and this page is no refetch of it; same_run: another page of this run has the same canonical URL.';
COMMENT ON COLUMN news.url_clashes.detected_at IS 'When the load found the clash.';

CREATE TABLE news.stage_timings (
    run_key     text NOT NULL,
    stage       text NOT NULL,
    part        text NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    wall_s      double precision NOT NULL,
    cpu_s       double precision NOT NULL,
    items       integer NOT NULL DEFAULT 0,
    worker      text NOT NULL DEFAULT '',
    PRIMARY KEY (run_key, stage, part)
);
COMMENT ON TABLE news.stage_timings IS 'How long each stage of a run took, one row per stage and part (a feed for fetch, a shard for extract); a rerun replaces the row.';
COMMENT ON COLUMN news.stage_timings.run_key IS 'The run (its day, or its DAG run id).';
COMMENT ON COLUMN news.stage_timings.stage IS 'prepare, fetch, extract, deduplicate, load or check.';
COMMENT ON COLUMN news.stage_timings.part IS 'The feed of a fetch, the shard of an extract (shard/shards); empty for the other stages.';
COMMENT ON COLUMN news.stage_timings.started_at IS 'When the stage started.';
COMMENT ON COLUMN news.stage_timings.finished_at IS 'When it finished.';
COMMENT ON COLUMN news.stage_timings.wall_s IS 'Wall-clock seconds.';
COMMENT ON COLUMN news.stage_timings.cpu_s IS 'CPU seconds of the process running the stage and of the worker processes it used (not the database''s).';
COMMENT ON COLUMN news.stage_timings.items IS 'What the stage handled: pages fetched, pages extracted, articles deduplicated or loaded.';
COMMENT ON COLUMN news.stage_timings.worker IS 'Host name and process id that ran the stage.';

CREATE TABLE news.page_claims (
    run_key    text NOT NULL,
    url        text NOT NULL,
    feed_name  text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_key, url)
);
COMMENT ON TABLE news.page_claims IS 'Which feed of a run fetches each page URL: feeds fetched at once (mapped tasks, several workers) claim their URLs here first, so a URL two feeds link is fetched once per run.';
COMMENT ON COLUMN news.page_claims.run_key IS 'The run.';
COMMENT ON COLUMN news.page_claims.url IS 'Canonical form of the page URL (the key of news.raw_pages).';
COMMENT ON COLUMN news.page_claims.feed_name IS 'The feed that claimed it first; other feeds of the run count it as known.';
COMMENT ON COLUMN news.page_claims.claimed_at IS 'When it was claimed (pruned with the staged pages).';

-- The checks and the per-feed counts of a run select its articles by run key: without
-- these, each is a sequential scan of the whole warehouse.
CREATE INDEX articles_first_run_idx ON news.articles (first_run_key);
CREATE INDEX articles_last_run_idx ON news.articles (last_run_key);
-- The fetch stage asks which of a feed's URLs any other run staged (skipped pages are not
-- fetched daily either): by URL alone, which the (run_key, url) key does not serve.
CREATE INDEX staged_articles_url_idx ON news.staged_articles (url);
