-- 0008: a shingle's founder count is read from its postings, capped at
-- dedup_df_cap; the separate frequency table goes.
--
-- store_founder posts a shingle for a founder only while fewer than the cap
-- hold it, so its postings number min(founders, cap): exactly what the
-- decisions use (a shingle is informative below the cap, and only counts
-- below it matter). Reading both tables probed two large indexes per
-- shingle; bench/dedup_throughput.py, 10,000 new articles against 1,000,000
-- founders, lookups in the pipeline's chunks: 3.1-3.4 s with both tables,
-- 2.7-2.8 s from the postings alone. The table held a row per distinct
-- shingle ever stored (77 million, 4.8 GB with its index, at a million founders).

DROP TABLE news.dedup_shingle_df;

COMMENT ON TABLE news.dedup_postings IS 'Inverted index: the founders holding each sampled shingle, up to dedup_df_cap of them; a shingle posted that many times is a stock phrase and is ignored.';
COMMENT ON COLUMN news.dedup_postings.founder_id IS 'Founder holding it (one of the first dedup_df_cap to).';
