-- 0006: ragload_bm25() takes the C scorer of the ragload extension where it is installed
-- (ragload_bm25_scan, extension 1.1: the same scores bit for bit, each term's postings read
-- once and summed in C) and the plain SQL of migration 0004 elsewhere, now named
-- ragload_bm25_sql. Chosen at each call, so creating or dropping the extension later needs
-- nothing else. Everything that ranks by BM25 (ragload_hybrid, ragload_search, `search`,
-- `eval`) goes through ragload_bm25().
ALTER FUNCTION ragload_bm25(bigint[], integer, double precision, double precision)
    RENAME TO ragload_bm25_sql;

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
