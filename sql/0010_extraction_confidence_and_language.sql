-- 0010: each article records how its body was chosen and how far to trust it,
-- and the language identified from its body beside the declared one.
--
-- extract_page now picks the body per page by the agreement between
-- candidate extractors (docs/extraction.md, ADR 0006-extraction); the winner
-- and a confidence calibrated on the development set are kept so that an
-- operator sees an outlet whose template changed (`newsingest report` counts
-- low-confidence articles per outlet). Rows loaded before this migration
-- keep NULL confidence and empty method and detected language.

ALTER TABLE news.articles
    ADD COLUMN language_detected text NOT NULL DEFAULT '',
    ADD COLUMN language_disagrees boolean NOT NULL DEFAULT false,
    ADD COLUMN extraction_method text NOT NULL DEFAULT '',
    ADD COLUMN extraction_confidence real
        CHECK (extraction_confidence BETWEEN 0 AND 1),
    ADD COLUMN extraction_low_confidence boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN news.articles.language IS 'Declared language of the page (ISO 639-1): its <html lang>, else the feed registry''s.';
COMMENT ON COLUMN news.articles.language_detected IS 'Language identified from the body by py3langid (ISO 639-1); empty when the body is too short or the identification uncertain.';
COMMENT ON COLUMN news.articles.language_disagrees IS 'True when the declared and the detected language are both known and differ.';
COMMENT ON COLUMN news.articles.extraction_method IS 'Extractor whose body was kept: trafilatura_recall, or trafilatura_precision when the vote between candidates chose it.';
COMMENT ON COLUMN news.articles.extraction_confidence IS 'Calibrated chance (0-1) that the body is mostly right (shingle F1 >= 0.8 on the development set), from the agreement between candidate extractors; NULL for rows loaded before migration 0010.';
COMMENT ON COLUMN news.articles.extraction_low_confidence IS 'True when extraction_confidence is below the min_extraction_confidence setting at load time.';

CREATE VIEW news.daily_outlet_extraction AS
SELECT (coalesce(published_at, fetched_at) AT TIME ZONE 'UTC')::date AS day,
       outlet,
       count(*) AS articles,
       count(*) FILTER (WHERE extraction_low_confidence) AS low_confidence,
       round(avg(extraction_confidence)::numeric, 3) AS mean_confidence,
       count(*) FILTER (WHERE language_disagrees) AS language_disagreements
FROM news.articles
GROUP BY 1, 2;
COMMENT ON VIEW news.daily_outlet_extraction IS 'Per UTC day and outlet: extraction confidence and language disagreements of its articles.';
COMMENT ON COLUMN news.daily_outlet_extraction.day IS 'UTC day of publication (of fetching when undated).';
COMMENT ON COLUMN news.daily_outlet_extraction.outlet IS 'Outlet name from the registry.';
COMMENT ON COLUMN news.daily_outlet_extraction.articles IS 'Articles of the outlet that day.';
COMMENT ON COLUMN news.daily_outlet_extraction.low_confidence IS 'Articles flagged extraction_low_confidence.';
COMMENT ON COLUMN news.daily_outlet_extraction.mean_confidence IS 'Mean extraction_confidence of those articles (NULL when none has one).';
COMMENT ON COLUMN news.daily_outlet_extraction.language_disagreements IS 'Articles whose detected language differs from the declared one.';
