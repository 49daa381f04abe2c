-- 0002: per-run records and the staging tables through which pages and
-- extracted articles travel between tasks (any worker can run any task).

CREATE TABLE news.ingest_runs (
    run_key       text NOT NULL,
    feed_name     text NOT NULL,
    logical_date  date,
    dag_run_id    text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    entries       integer NOT NULL DEFAULT 0,
    fetched       integer NOT NULL DEFAULT 0,
    not_modified  integer NOT NULL DEFAULT 0,
    skipped_known integer NOT NULL DEFAULT 0,
    extracted     integer NOT NULL DEFAULT 0,
    skipped       integer NOT NULL DEFAULT 0,
    new_articles  integer NOT NULL DEFAULT 0,
    duplicates    integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    feed_failed   boolean NOT NULL DEFAULT false,
    failures      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (run_key, feed_name)
);
COMMENT ON TABLE news.ingest_runs IS 'One row per ingest run and feed with the counts of each stage.';
COMMENT ON COLUMN news.ingest_runs.run_key IS 'Run identity: the logical date (YYYY-MM-DD) or, for runs without one, the DAG run id.';
COMMENT ON COLUMN news.ingest_runs.feed_name IS 'Feed counted by this row.';
COMMENT ON COLUMN news.ingest_runs.logical_date IS 'Logical date of the run, NULL for runs triggered without one.';
COMMENT ON COLUMN news.ingest_runs.dag_run_id IS 'Airflow DAG run id (or cli-... for newsingest run) that last wrote the row.';
COMMENT ON COLUMN news.ingest_runs.started_at IS 'When the row was first written.';
COMMENT ON COLUMN news.ingest_runs.updated_at IS 'When a stage last updated the row.';
COMMENT ON COLUMN news.ingest_runs.entries IS 'Distinct feed entries seen.';
COMMENT ON COLUMN news.ingest_runs.fetched IS 'Article pages downloaded successfully.';
COMMENT ON COLUMN news.ingest_runs.not_modified IS '1 when the feed answered 304 Not Modified.';
COMMENT ON COLUMN news.ingest_runs.skipped_known IS 'Entries not fetched because their article is already in the warehouse.';
COMMENT ON COLUMN news.ingest_runs.extracted IS 'Pages that yielded a loadable article.';
COMMENT ON COLUMN news.ingest_runs.skipped IS 'Pages skipped by extraction quality gates (see news.staged_articles.skipped_reason).';
COMMENT ON COLUMN news.ingest_runs.new_articles IS 'Articles loaded by this run as originals (new story).';
COMMENT ON COLUMN news.ingest_runs.duplicates IS 'Articles loaded by this run as duplicates of an earlier one.';
COMMENT ON COLUMN news.ingest_runs.failed IS 'Failed fetches (feed and pages) after retries.';
COMMENT ON COLUMN news.ingest_runs.feed_failed IS 'True when the feed document itself could not be fetched or parsed.';
COMMENT ON COLUMN news.ingest_runs.failures IS 'Failures by error class, e.g. {"http_5xx": 2}.';

CREATE TABLE news.raw_pages (
    run_key        text NOT NULL,
    url            text NOT NULL,
    feed_name      text NOT NULL,
    requested_url  text NOT NULL,
    final_url      text NOT NULL,
    status         integer NOT NULL,
    content_type   text NOT NULL DEFAULT '',
    charset        text,
    fetched_at     timestamptz NOT NULL,
    entry          jsonb NOT NULL,
    body_gz        bytea NOT NULL,
    PRIMARY KEY (run_key, url)
);
COMMENT ON TABLE news.raw_pages IS 'Downloaded article pages (gzip-compressed), staged for extraction; pruned by retention.';
COMMENT ON COLUMN news.raw_pages.run_key IS 'Run that downloaded the page.';
COMMENT ON COLUMN news.raw_pages.url IS 'Canonical URL of the page (its key).';
COMMENT ON COLUMN news.raw_pages.feed_name IS 'Feed whose entry pointed at the page.';
COMMENT ON COLUMN news.raw_pages.requested_url IS 'URL as given by the feed entry.';
COMMENT ON COLUMN news.raw_pages.final_url IS 'URL after redirects.';
COMMENT ON COLUMN news.raw_pages.status IS 'HTTP status of the response.';
COMMENT ON COLUMN news.raw_pages.content_type IS 'Media type from the Content-Type header.';
COMMENT ON COLUMN news.raw_pages.charset IS 'Character set from the header, BOM or meta tag, NULL if unknown.';
COMMENT ON COLUMN news.raw_pages.fetched_at IS 'When the page was downloaded.';
COMMENT ON COLUMN news.raw_pages.entry IS 'The feed entry (title, dates, guid, summary) as JSON.';
COMMENT ON COLUMN news.raw_pages.body_gz IS 'Raw response body, gzip-compressed.';

CREATE TABLE news.staged_articles (
    run_key        text NOT NULL,
    url            text NOT NULL,
    feed_name      text NOT NULL,
    skipped_reason text,
    record         jsonb NOT NULL,
    dedup          jsonb,
    PRIMARY KEY (run_key, url)
);
COMMENT ON TABLE news.staged_articles IS 'Extraction output per run and page, read by deduplication and load.';
COMMENT ON COLUMN news.staged_articles.run_key IS 'Run that extracted the page.';
COMMENT ON COLUMN news.staged_articles.url IS 'Canonical URL of the page.';
COMMENT ON COLUMN news.staged_articles.feed_name IS 'Feed of the page.';
COMMENT ON COLUMN news.staged_articles.skipped_reason IS 'Why the page is not loaded (empty_body, too_short, not_article, future_date, ...); NULL when loadable.';
COMMENT ON COLUMN news.staged_articles.record IS 'The extracted article record as JSON.';
COMMENT ON COLUMN news.staged_articles.dedup IS 'Deduplication decision (cluster key, duplicate_of, similarity, relation) as JSON; NULL until deduplicated.';
