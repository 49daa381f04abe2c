"""Story clustering: the path a new article takes to its story cluster.

1. lines and boilerplate: lines recurring beside unrelated texts are set aside;
2. fingerprints: sampled word 3-grams (candidate keys) and a sentence sketch;
3. candidates: founders sharing enough keys, found through the stored postings;
4. verify: each candidate aligned with the text sentence by sentence, quotes left out;
5. assign: the article joins the founder it copies (or opens a cluster); store
   keeps founders, postings and line counts in PostgreSQL; batch runs a day's
   articles against that state, and jsonl is `newsingest dedup`.
"""
