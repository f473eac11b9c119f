-- ragload extension 1.0 -> 1.1 (extension/bm25.c): BM25 scored in C.
\echo Use "ALTER EXTENSION ragload UPDATE TO '1.1'" to load this file. \quit

-- The exact Okapi BM25 of ragload_bm25_sql (config/migrations/0004_bm25.sql), the same scores
-- bit for bit, each term's postings read once by an index-only scan of the term index and
-- summed in C. ragload_bm25() calls it when it exists (migration 0006); k1 and b as given
-- (ragload_bm25 resolves NULL to [search]).
CREATE FUNCTION ragload_bm25_scan(terms bigint[], k integer, k1 double precision,
                                  b double precision)
RETURNS TABLE (chunk_id integer, score double precision)
AS 'MODULE_PATHNAME', 'pg_ragload_bm25_scan' LANGUAGE C STABLE ROWS 10;
