-- 0012: feed-volume monitoring. A feed can answer 200 and be empty for weeks, or a template
-- change can turn every page into one the quality gates skip; neither fails a fetch. Each
-- feed's daily volume is compared with its own history on the same weekday (median and
-- median absolute deviation of the last weeks, so weekends and one odd day do not count),
-- and what the check finds is kept in news.alerts. Also says what articles.similarity is.

COMMENT ON COLUMN news.articles.similarity IS 'Containment of the shorter text in the other: share of its sampled word 3-grams found in duplicate_of, in [0, 1]. A trimmed or truncated rewrite scores 1 while being near, not exact; 1 for originals and exact copies.';

CREATE FUNCTION news.feed_health_at(p_day date, p_weeks integer)
RETURNS TABLE (
    feed_name text,
    day date,
    volume integer,
    expected double precision,
    spread double precision,
    history_days integer,
    days_since_new integer,
    error_streak integer,
    pages integer,
    skipped_share double precision,
    usual_skipped_share double precision
)
LANGUAGE sql STABLE
AS $$
    WITH daily AS (
        SELECT r.feed_name, r.logical_date AS day, sum(r.new_articles + r.duplicates) AS volume,
               sum(r.extracted + r.skipped) AS pages, sum(r.skipped) AS skipped
        FROM news.ingest_runs r
        WHERE r.logical_date IS NOT NULL AND r.logical_date <= p_day
        GROUP BY r.feed_name, r.logical_date
    ),
    same_weekday AS (
        SELECT d.feed_name, d.volume
        FROM daily d
        WHERE d.day < p_day AND d.day >= p_day - 7 * p_weeks AND (p_day - d.day) % 7 = 0
    ),
    medians AS (
        SELECT feed_name, percentile_cont(0.5) WITHIN GROUP (ORDER BY volume) AS expected,
               count(*) AS history_days
        FROM same_weekday GROUP BY feed_name
    ),
    spreads AS (
        SELECT s.feed_name,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(s.volume - m.expected)) AS spread
        FROM same_weekday s JOIN medians m USING (feed_name) GROUP BY s.feed_name
    ),
    usual_skips AS (
        SELECT d.feed_name,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY d.skipped::double precision / d.pages)
                   AS usual_skipped_share
        FROM daily d
        WHERE d.day < p_day AND d.day >= p_day - 7 * p_weeks AND d.pages > 0
        GROUP BY d.feed_name
    ),
    last_new AS (
        SELECT d.feed_name, max(d.day) AS day FROM daily d WHERE d.volume > 0
        GROUP BY d.feed_name
    )
    SELECT t.feed_name, t.day, t.volume::integer, m.expected, s.spread,
           coalesce(m.history_days, 0)::integer,
           (p_day - l.day)::integer,
           coalesce(fs.error_streak, 0),
           t.pages::integer,
           CASE WHEN t.pages > 0 THEN t.skipped::double precision / t.pages END,
           u.usual_skipped_share
    FROM daily t
    LEFT JOIN medians m USING (feed_name)
    LEFT JOIN spreads s USING (feed_name)
    LEFT JOIN usual_skips u USING (feed_name)
    LEFT JOIN last_new l USING (feed_name)
    LEFT JOIN news.feed_state fs ON fs.feed_name = t.feed_name
    WHERE t.day = p_day
    ORDER BY t.feed_name
$$;
COMMENT ON FUNCTION news.feed_health_at(date, integer) IS 'Per feed with a dated run on p_day: its volume that day against the median and median absolute deviation of the same weekday over the previous p_weeks weeks, days since its last new article, error streak and share of pages skipped by quality gates (that day and usually).';

CREATE VIEW news.feed_health AS
SELECT h.*
FROM news.feed_health_at(
    (SELECT max(logical_date) FROM news.ingest_runs), 8
) h;
COMMENT ON VIEW news.feed_health IS 'Each feed on the latest dated run day, against its own last 8 weeks (news.feed_health_at gives any day and window).';
COMMENT ON COLUMN news.feed_health.feed_name IS 'Feed name from the registry.';
COMMENT ON COLUMN news.feed_health.day IS 'Latest logical date with a run.';
COMMENT ON COLUMN news.feed_health.volume IS 'Articles the feed brought that day (new originals and duplicates).';
COMMENT ON COLUMN news.feed_health.expected IS 'Median volume of the same weekday over the last 8 weeks; NULL without history.';
COMMENT ON COLUMN news.feed_health.spread IS 'Median absolute deviation of those same-weekday volumes from expected.';
COMMENT ON COLUMN news.feed_health.history_days IS 'Same-weekday days with a run behind expected and spread.';
COMMENT ON COLUMN news.feed_health.days_since_new IS 'Days since the last day the feed brought an article (0: that day); NULL if it never did.';
COMMENT ON COLUMN news.feed_health.error_streak IS 'Consecutive runs whose fetch of the feed failed (news.feed_state), now.';
COMMENT ON COLUMN news.feed_health.pages IS 'Article pages extracted or skipped that day.';
COMMENT ON COLUMN news.feed_health.skipped_share IS 'Share of those pages skipped by extraction quality gates; NULL without pages.';
COMMENT ON COLUMN news.feed_health.usual_skipped_share IS 'Median daily skipped share over the last 8 weeks.';

CREATE TABLE news.alerts (
    alert_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_key     text NOT NULL,
    feed_name   text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('below_expected', 'silent', 'skipped_jump')),
    day         date NOT NULL,
    message     text NOT NULL,
    figures     jsonb NOT NULL DEFAULT '{}'::jsonb,
    raised_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_key, feed_name, kind)
);
COMMENT ON TABLE news.alerts IS 'Warnings of the feed-volume check, one per run, feed and kind; a rerun of the run updates its rows.';
COMMENT ON COLUMN news.alerts.alert_id IS 'Surrogate key.';
COMMENT ON COLUMN news.alerts.run_key IS 'Run whose check raised the alert.';
COMMENT ON COLUMN news.alerts.feed_name IS 'Feed the alert is about.';
COMMENT ON COLUMN news.alerts.kind IS 'below_expected (volume far below its weekday median), silent (no new article for N days) or skipped_jump (far more pages skipped by quality gates than usual).';
COMMENT ON COLUMN news.alerts.day IS 'Logical date checked.';
COMMENT ON COLUMN news.alerts.message IS 'What was found, with the numbers, as logged by the check task.';
COMMENT ON COLUMN news.alerts.figures IS 'The feed_health figures behind the alert, as JSON.';
COMMENT ON COLUMN news.alerts.raised_at IS 'When the check last raised it.';
