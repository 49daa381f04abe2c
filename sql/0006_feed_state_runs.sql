-- 0006: remember which run last tried a feed, so that retrying a failing day
-- counts it once in the error streak; list every error class the fetcher logs.

ALTER TABLE news.feed_state ADD COLUMN last_run_key text;
COMMENT ON COLUMN news.feed_state.last_run_key IS 'Run of the last attempt; a rerun of the same run does not add to error_streak.';

COMMENT ON COLUMN news.fetch_log.error_class IS 'NULL on success; else timeout, dns, refused, connection, http_4xx, http_429, http_5xx, too_large, bad_content_type, decode_error, bad_url, robots_disallowed, robots_unavailable, blocked_address, redirect_loop, too_many_redirects, parse_error; not_modified for a 304. A robots.txt answering 4xx is logged as http_4xx and means "no rules".';
