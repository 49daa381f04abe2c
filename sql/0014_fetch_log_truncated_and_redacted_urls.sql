-- 0014: a body cut off mid-stream (fewer bytes than Content-Length, chunks without the
-- last one, a compressed stream without its end) is its own error class, truncated;
-- the fetch log keeps no user info (a password, perhaps) of the URLs it records.

COMMENT ON COLUMN news.fetch_log.error_class IS 'NULL on success; else timeout, dns, refused, connection, truncated, http_4xx, http_429, http_5xx, too_large, bad_content_type, decode_error, bad_url, robots_disallowed, robots_unavailable, blocked_address, redirect_loop, too_many_redirects, parse_error; not_modified for a 304. A robots.txt answering 4xx is logged as http_4xx and means "no rules". truncated: the body ended before its Content-Length, its last chunk or the end of its compressed stream (retried; nothing of it is kept).';
COMMENT ON COLUMN news.fetch_log.url IS 'URL requested, with any user info replaced by *** (such URLs are refused as bad_url, never sent).';
COMMENT ON COLUMN news.fetch_log.final_url IS 'URL after redirects, empty when no response came; user info replaced by *** as in url.';

-- Rows logged before: their user info goes too (the same pattern as newsingest.addresses.redacted).
UPDATE news.fetch_log
   SET url = regexp_replace(url, '^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@', '\1***@'),
       final_url = regexp_replace(final_url, '^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@', '\1***@')
 WHERE url ~ '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@'
    OR final_url ~ '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*@';
