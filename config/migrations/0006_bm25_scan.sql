-- 0006: BM25 scored in C by the ragload extension where it is installed.
--
-- ragload_bm25() takes the extension's ragload_bm25_scan (extension 1.1, extension/bm25.c:
-- the same scores bit for bit, reading only the postings that can change the top k) and the
-- plain SQL of migration 0004 elsewhere, now named ragload_bm25_sql. Chosen at each call, so
-- creating or dropping the extension later needs nothing else. Everything that ranks by BM25
-- (ragload_hybrid, ragload_search, `search`, `eval`) goes through ragload_bm25().
--
-- What the scan needs beside migration 0004's tables:
--   ragload_bm25_df   each term's document frequency, as delta rows (term, +-count) appended
--                     by the postings' statement triggers in the transaction that writes or
--                     deletes them, like ragload_bm25_stats: exact at every snapshot, no row
--                     lock shared by concurrent loaders; ragload_bm25_compact() folds each
--                     term's rows into one. A term's idf (and its score bound) is then known
--                     before any of its postings is read. ragload_bm25_sql still counts df
--                     from the postings, so the two are independent (the tests compare them).
--   the term index    on (term, chunk_id) INCLUDE (tf, len), was (term) INCLUDE (chunk_id, tf,
--                     len): the same index-only scans by term, each term's postings in chunk
--                     order, and a probe of one (term, chunk) pair.
ALTER FUNCTION ragload_bm25(bigint[], integer, double precision, double precision)
    RENAME TO ragload_bm25_sql;

CREATE TABLE ragload_bm25_df (
    term BIGINT NOT NULL,
    df   BIGINT NOT NULL    -- a delta: + postings written, - postings deleted
);
CREATE INDEX ragload_bm25_df_term_idx ON ragload_bm25_df (term) INCLUDE (df);
INSERT INTO ragload_bm25_df (term, df) SELECT term, count(*) FROM ragload_bm25_postings GROUP BY term;

DROP INDEX ragload_bm25_postings_term_idx;
CREATE INDEX ragload_bm25_postings_term_idx ON ragload_bm25_postings (term, chunk_id) INCLUDE (tf, len);

-- postings: the total length and the document frequencies move with them
CREATE OR REPLACE FUNCTION ragload_bm25_postings_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.ragload_bm25_stats (n, total_len) '
                   'SELECT 0, sum(tf) FROM ragload_bm25_new HAVING count(*) > 0', TG_TABLE_SCHEMA);
    EXECUTE format('INSERT INTO %I.ragload_bm25_df (term, df) '
                   'SELECT term, count(*) FROM ragload_bm25_new GROUP BY term', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ragload_bm25_postings_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.ragload_bm25_stats (n, total_len) '
                   'SELECT 0, -sum(tf) FROM ragload_bm25_old HAVING count(*) > 0', TG_TABLE_SCHEMA);
    EXECUTE format('INSERT INTO %I.ragload_bm25_df (term, df) '
                   'SELECT term, -count(*) FROM ragload_bm25_old GROUP BY term', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ragload_bm25_chunks_trunc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('TRUNCATE %1$I.ragload_bm25_postings, %1$I.ragload_bm25_stats, '
                   '%1$I.ragload_bm25_df', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

-- Folds schema s's delta rows: the statistics into one row, each term's df rows into one
-- (a term whose postings are all gone, into none). The sums are unchanged, so readers see
-- the same N, length and df before and after.
CREATE OR REPLACE FUNCTION ragload_bm25_compact(s text DEFAULT 'public') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('WITH d AS (DELETE FROM %1$I.ragload_bm25_stats RETURNING n, total_len) '
                   'INSERT INTO %1$I.ragload_bm25_stats (n, total_len) '
                   'SELECT coalesce(sum(n), 0), coalesce(sum(total_len), 0) FROM d', s);
    EXECUTE format('WITH f AS (SELECT term FROM %1$I.ragload_bm25_df GROUP BY term '
                   '           HAVING count(*) > 1 OR sum(df) = 0), '
                   'd AS (DELETE FROM %1$I.ragload_bm25_df x USING f WHERE x.term = f.term '
                   '      RETURNING x.term, x.df) '
                   'INSERT INTO %1$I.ragload_bm25_df (term, df) '
                   'SELECT term, sum(df) FROM d GROUP BY term HAVING sum(df) <> 0', s);
END $$;

-- Counts schema s's document frequencies again from its postings (the repair that
-- ragload_bm25_scan names when a term's postings disagree with its df).
CREATE FUNCTION ragload_bm25_df_rebuild(s text DEFAULT 'public') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('LOCK TABLE %1$I.ragload_bm25_postings IN SHARE MODE', s);
    EXECUTE format('DELETE FROM %1$I.ragload_bm25_df', s);
    EXECUTE format('INSERT INTO %1$I.ragload_bm25_df (term, df) '
                   'SELECT term, count(*) FROM %1$I.ragload_bm25_postings GROUP BY term', s);
END $$;

-- The generation a reindex kept for its rollback: its own document frequencies (its term
-- index keeps the old layout: the scan reads its terms whole, without probes).
DO $$ BEGIN
    IF to_regclass('ragload_prev.ragload_bm25_postings') IS NOT NULL THEN
        CREATE TABLE ragload_prev.ragload_bm25_df (LIKE public.ragload_bm25_df INCLUDING ALL);
        PERFORM ragload_bm25_df_rebuild('ragload_prev');
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ragload_loader') THEN
        GRANT SELECT, INSERT, DELETE ON ragload_bm25_df TO ragload_loader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ragload_reader') THEN
        GRANT SELECT ON ragload_bm25_df TO ragload_reader;
    END IF;
END $$;

CREATE FUNCTION ragload_bm25(terms bigint[], k integer, k1 double precision DEFAULT NULL,
                             b double precision DEFAULT NULL)
RETURNS TABLE (chunk_id integer, score double precision)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
DECLARE
    kk1 double precision := coalesce(k1, ragload_setting('bm25_k1', 0.9));
    bb double precision := coalesce(b, ragload_setting('bm25_b', 0.4));
BEGIN
    IF to_regprocedure('ragload_bm25_scan(bigint[], integer, double precision, double precision)')
       IS NOT NULL THEN
        RETURN QUERY SELECT s.chunk_id, s.score FROM ragload_bm25_scan(terms, k, kk1, bb) s;
    ELSE
        RETURN QUERY SELECT s.chunk_id, s.score FROM ragload_bm25_sql(terms, k, kk1, bb) s;
    END IF;
END $$;
