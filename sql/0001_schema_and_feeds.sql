-- 0001: create schema `news` with the feed registry mirror, per-feed fetch
-- state and the fetch log, so that every HTTP attempt is auditable and
-- conditional GET state survives across workers and runs.

CREATE SCHEMA IF NOT EXISTS news;
COMMENT ON SCHEMA news IS 'newsingest warehouse: articles, story clusters, feeds and run records.';

CREATE TABLE news.feeds (
    feed_name   text PRIMARY KEY,
    url         text NOT NULL,
    kind        text NOT NULL DEFAULT 'auto',
    outlet      text NOT NULL DEFAULT '',
    language    text NOT NULL DEFAULT '',
    first_seen  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE news.feeds IS 'One row per feed of the registry, as last read by a run.';
COMMENT ON COLUMN news.feeds.feed_name IS 'Unique feed name from the registry (stable key used everywhere).';
COMMENT ON COLUMN news.feeds.url IS 'Feed URL, or a homepage whose feeds are discovered.';
COMMENT ON COLUMN news.feeds.kind IS 'Declared format: rss, atom, rdf, jsonfeed, sitemap, homepage or auto.';
COMMENT ON COLUMN news.feeds.outlet IS 'Human name of the outlet publishing the feed.';
COMMENT ON COLUMN news.feeds.language IS 'Declared language of the feed (ISO 639-1), empty if unknown.';
COMMENT ON COLUMN news.feeds.first_seen IS 'When a run first saw this feed in the registry.';
COMMENT ON COLUMN news.feeds.updated_at IS 'When a run last wrote this row.';

CREATE TABLE news.feed_state (
    feed_name        text PRIMARY KEY REFERENCES news.feeds (feed_name),
    etag             text,
    last_modified    text,
    discovered_url   text,
    last_attempt_at  timestamptz,
    last_success_at  timestamptz,
    error_streak     integer NOT NULL DEFAULT 0,
    last_error_class text,
    last_error       text
);
COMMENT ON TABLE news.feed_state IS 'Fetch state per feed: conditional GET validators and health.';
COMMENT ON COLUMN news.feed_state.feed_name IS 'Feed this state belongs to.';
COMMENT ON COLUMN news.feed_state.etag IS 'ETag of the last successful feed response, sent back as If-None-Match.';
COMMENT ON COLUMN news.feed_state.last_modified IS 'Last-Modified of the last successful response, sent back as If-Modified-Since.';
COMMENT ON COLUMN news.feed_state.discovered_url IS 'Feed URL discovered from a homepage entry, reused by later runs.';
COMMENT ON COLUMN news.feed_state.last_attempt_at IS 'When the feed was last requested.';
COMMENT ON COLUMN news.feed_state.last_success_at IS 'When the feed last answered 200 or 304 with a parsable document.';
COMMENT ON COLUMN news.feed_state.error_streak IS 'Consecutive failed runs for this feed; 0 after a success.';
COMMENT ON COLUMN news.feed_state.last_error_class IS 'Error class of the last failure (see news.fetch_log.error_class).';
COMMENT ON COLUMN news.feed_state.last_error IS 'Message of the last failure.';

CREATE TABLE news.fetch_log (
    attempt_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_key     text NOT NULL,
    feed_name   text NOT NULL,
    target      text NOT NULL CHECK (target IN ('feed', 'page', 'robots')),
    url         text NOT NULL,
    final_url   text NOT NULL DEFAULT '',
    status      integer,
    bytes       bigint NOT NULL DEFAULT 0,
    elapsed_ms  integer NOT NULL DEFAULT 0,
    attempt     integer NOT NULL DEFAULT 1,
    error_class text,
    error       text NOT NULL DEFAULT '',
    logged_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fetch_log_run_idx ON news.fetch_log (run_key, feed_name);
COMMENT ON TABLE news.fetch_log IS 'Append-only log: one row per HTTP attempt (feed, page or robots.txt).';
COMMENT ON COLUMN news.fetch_log.attempt_id IS 'Surrogate key.';
COMMENT ON COLUMN news.fetch_log.run_key IS 'Ingest run that made the attempt (see news.ingest_runs).';
COMMENT ON COLUMN news.fetch_log.feed_name IS 'Feed on whose behalf the request was made.';
COMMENT ON COLUMN news.fetch_log.target IS 'What was requested: feed, page or robots.';
COMMENT ON COLUMN news.fetch_log.url IS 'URL requested.';
COMMENT ON COLUMN news.fetch_log.final_url IS 'URL after redirects, empty when no response came.';
COMMENT ON COLUMN news.fetch_log.status IS 'HTTP status, NULL when no response came.';
COMMENT ON COLUMN news.fetch_log.bytes IS 'Decoded body bytes read.';
COMMENT ON COLUMN news.fetch_log.elapsed_ms IS 'Wall time of the attempt in milliseconds.';
COMMENT ON COLUMN news.fetch_log.attempt IS 'Attempt number for this URL within the run (1 = first try).';
COMMENT ON COLUMN news.fetch_log.error_class IS 'NULL on success; else timeout, dns, refused, connection, http_4xx, http_5xx, too_large, bad_content_type, robots_disallowed, blocked_address, redirect_loop, parse_error, not_modified.';
COMMENT ON COLUMN news.fetch_log.error IS 'Human-readable error message.';
COMMENT ON COLUMN news.fetch_log.logged_at IS 'When the attempt finished.';
