-- 0005: views behind `newsingest report`: the day's top stories and the
-- outlets that mostly republish rewritten wire copy.

CREATE VIEW news.story_spread AS
SELECT c.cluster_id,
       (c.first_published_at AT TIME ZONE 'UTC')::date AS first_day,
       c.first_published_at,
       c.member_count,
       cardinality(c.outlets) AS outlet_count,
       c.outlets,
       c.agencies,
       a.outlet AS first_outlet,
       a.title,
       a.canonical_url
FROM news.story_clusters c
JOIN news.articles a ON a.article_id = c.canonical_article_id;
COMMENT ON VIEW news.story_spread IS 'Per story cluster: how far it spread (members, outlets) and who published it first.';
COMMENT ON COLUMN news.story_spread.cluster_id IS 'Story cluster id.';
COMMENT ON COLUMN news.story_spread.first_day IS 'UTC day of the earliest publication in the cluster.';
COMMENT ON COLUMN news.story_spread.first_published_at IS 'Earliest publication time in the cluster.';
COMMENT ON COLUMN news.story_spread.member_count IS 'Articles in the cluster.';
COMMENT ON COLUMN news.story_spread.outlet_count IS 'Distinct outlets with an article in the cluster.';
COMMENT ON COLUMN news.story_spread.outlets IS 'Those outlets, sorted.';
COMMENT ON COLUMN news.story_spread.agencies IS 'Wire agencies credited by members.';
COMMENT ON COLUMN news.story_spread.first_outlet IS 'Outlet of the canonical article (the first or the agency original).';
COMMENT ON COLUMN news.story_spread.title IS 'Headline of the canonical article.';
COMMENT ON COLUMN news.story_spread.canonical_url IS 'URL of the canonical article.';

CREATE VIEW news.daily_outlet_copies AS
SELECT (coalesce(published_at, fetched_at) AT TIME ZONE 'UTC')::date AS day,
       outlet,
       count(*) AS articles,
       count(*) FILTER (WHERE dup_relation IN ('near', 'stitched')) AS rewritten_copies,
       count(*) FILTER (WHERE dup_relation = 'exact') AS exact_copies,
       count(*) FILTER (WHERE dup_relation <> 'original' AND wire_agencies <> '{}')
           AS attributed_copies,
       round(count(*) FILTER (WHERE dup_relation <> 'original')::numeric / count(*), 3)
           AS copy_share
FROM news.articles
GROUP BY 1, 2;
COMMENT ON VIEW news.daily_outlet_copies IS 'Per UTC day and outlet: how many articles copy a story first published elsewhere.';
COMMENT ON COLUMN news.daily_outlet_copies.day IS 'UTC day of publication (of fetching when undated).';
COMMENT ON COLUMN news.daily_outlet_copies.outlet IS 'Outlet name from the registry.';
COMMENT ON COLUMN news.daily_outlet_copies.articles IS 'Articles of the outlet that day.';
COMMENT ON COLUMN news.daily_outlet_copies.rewritten_copies IS 'Articles rewriting (near) or stitching a story first published elsewhere.';
COMMENT ON COLUMN news.daily_outlet_copies.exact_copies IS 'Articles identical to an earlier one.';
COMMENT ON COLUMN news.daily_outlet_copies.attributed_copies IS 'Copies that credit a wire agency.';
COMMENT ON COLUMN news.daily_outlet_copies.copy_share IS 'Share of the outlet''s articles that day that are copies of any kind.';
