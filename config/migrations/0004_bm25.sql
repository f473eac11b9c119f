-- 0004: exact Okapi BM25 in the database, and the three retrieval functions any client calls
-- (ragload_bm25, ragload_dense, ragload_hybrid), plain SQL and PL/pgSQL: no extension needed.
--
-- Terms are the stems of models/stems.h (the very words the built-in model sees), as their
-- 64-bit hashes cast to bigint. One postings row per (term, chunk): tf, and the chunk's length
-- in stems (its sum of tf) repeated on every row, so that scoring reads the term index alone.
-- Document frequencies are counted at query time from that index, so they are exact with no
-- maintenance. N (the live chunks) and the total length are sums of delta rows in
-- ragload_bm25_stats, appended by statement triggers in the very transaction that inserts or
-- deletes chunks or postings (a load, a replacement, a prune, a hand-made DELETE): exact at
-- every snapshot, and no row lock shared by concurrent loaders. ragload_bm25_compact() folds
-- the deltas into one row (ingest, prune and reindex call it at their end).
--
-- Everything here is per schema: a reindex builds ragload_shadow's copies of these tables,
-- attaches the same triggers there (ragload_bm25_attach) and swaps them in with chunks.

CREATE TABLE ragload_bm25_postings (
    term     BIGINT NOT NULL,
    chunk_id INTEGER NOT NULL,
    tf       INTEGER NOT NULL,
    len      INTEGER NOT NULL
);
-- the scoring index: each term's postings, read by index-only scans
CREATE INDEX ragload_bm25_postings_term_idx ON ragload_bm25_postings (term) INCLUDE (chunk_id, tf, len);
-- deletes: a chunk's postings
CREATE INDEX ragload_bm25_postings_chunk_idx ON ragload_bm25_postings (chunk_id);

CREATE TABLE ragload_bm25_stats (
    n         BIGINT NOT NULL,   -- chunks
    total_len BIGINT NOT NULL    -- stems in them
);

-- chunks: N moves with them; a deleted chunk takes its postings along
CREATE FUNCTION ragload_bm25_chunks_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.ragload_bm25_stats (n, total_len) '
                   'SELECT count(*), 0 FROM ragload_bm25_new HAVING count(*) > 0', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE FUNCTION ragload_bm25_chunks_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM %I.ragload_bm25_postings p USING ragload_bm25_old o '
                   'WHERE p.chunk_id = o.chunk_id', TG_TABLE_SCHEMA);
    EXECUTE format('INSERT INTO %I.ragload_bm25_stats (n, total_len) '
                   'SELECT -count(*), 0 FROM ragload_bm25_old HAVING count(*) > 0', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

-- TRUNCATE chunks (or documents ... CASCADE): no chunk is left, so no posting either
CREATE FUNCTION ragload_bm25_chunks_trunc() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('TRUNCATE %1$I.ragload_bm25_postings, %1$I.ragload_bm25_stats', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

-- postings: the total length moves with them
CREATE FUNCTION ragload_bm25_postings_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.ragload_bm25_stats (n, total_len) '
                   'SELECT 0, sum(tf) FROM ragload_bm25_new HAVING count(*) > 0', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

CREATE FUNCTION ragload_bm25_postings_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO %I.ragload_bm25_stats (n, total_len) '
                   'SELECT 0, -sum(tf) FROM ragload_bm25_old HAVING count(*) > 0', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;

-- The triggers on schema s's chunks and postings (public here; ragload_shadow by reindex).
CREATE FUNCTION ragload_bm25_attach(s text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER ragload_bm25_chunks_ins AFTER INSERT ON %I.chunks '
                   'REFERENCING NEW TABLE AS ragload_bm25_new FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.ragload_bm25_chunks_ins()', s);
    EXECUTE format('CREATE TRIGGER ragload_bm25_chunks_del AFTER DELETE ON %I.chunks '
                   'REFERENCING OLD TABLE AS ragload_bm25_old FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.ragload_bm25_chunks_del()', s);
    EXECUTE format('CREATE TRIGGER ragload_bm25_chunks_trunc AFTER TRUNCATE ON %I.chunks '
                   'FOR EACH STATEMENT EXECUTE FUNCTION public.ragload_bm25_chunks_trunc()', s);
    EXECUTE format('CREATE TRIGGER ragload_bm25_postings_ins AFTER INSERT ON %I.ragload_bm25_postings '
                   'REFERENCING NEW TABLE AS ragload_bm25_new FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.ragload_bm25_postings_ins()', s);
    EXECUTE format('CREATE TRIGGER ragload_bm25_postings_del AFTER DELETE ON %I.ragload_bm25_postings '
                   'REFERENCING OLD TABLE AS ragload_bm25_old FOR EACH STATEMENT '
                   'EXECUTE FUNCTION public.ragload_bm25_postings_del()', s);
END $$;

SELECT ragload_bm25_attach('public');
-- a corpus whose roles exist already (init --roles before this migration)
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ragload_loader') THEN
        GRANT SELECT, INSERT, DELETE ON ragload_bm25_postings, ragload_bm25_stats TO ragload_loader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ragload_reader') THEN
        GRANT SELECT ON ragload_bm25_postings, ragload_bm25_stats TO ragload_reader;
    END IF;
END $$;
-- chunks already loaded count in N now; their postings come from `ragload ingest`, which
-- writes the terms of every chunk that has none (a corpus loaded before this migration)
INSERT INTO ragload_bm25_stats (n, total_len) SELECT count(*), 0 FROM chunks;

-- Folds schema s's delta rows into one (the sums are unchanged, so readers see the same N
-- and length before and after).
CREATE FUNCTION ragload_bm25_compact(s text DEFAULT 'public') RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('WITH d AS (DELETE FROM %1$I.ragload_bm25_stats RETURNING n, total_len) '
                   'INSERT INTO %1$I.ragload_bm25_stats (n, total_len) '
                   'SELECT coalesce(sum(n), 0), coalesce(sum(total_len), 0) FROM d', s);
END $$;

-- A setting of [search] as ingest stored it in ragload_corpus, else def.
CREATE FUNCTION ragload_setting(key text, def double precision) RETURNS double precision
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT value::double precision FROM ragload_corpus c WHERE c.key = $1), $2)
$$;

-- Exact Okapi BM25 of the live chunks for the query's terms (a term given n times counts n
-- times): idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part tf (k1 + 1) / (tf + k1 (1 - b +
-- b len / avglen)). k1, b: NULL takes [search] bm25_k1, bm25_b as ingest stored them.
-- Each term's part is rounded to a multiple of 2^-32, so that a chunk's sum is exact (below
-- 2^21) whatever order the aggregate adds in: equal chunks score equal, and a score does not
-- move from run to run (a float sum in plan order would, in its last bits).
CREATE FUNCTION ragload_bm25(terms bigint[], k integer, k1 double precision DEFAULT NULL,
                             b double precision DEFAULT NULL)
RETURNS TABLE (chunk_id integer, score double precision)
LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT coalesce(sum(st.n), 0)::float8 AS n,
                      coalesce(sum(st.total_len), 0)::float8 / greatest(coalesce(sum(st.n), 0), 1) AS avglen
               FROM ragload_bm25_stats st),
         prm AS MATERIALIZED (SELECT coalesce($3, ragload_setting('bm25_k1', 0.9)) AS k1,
                        coalesce($4, ragload_setting('bm25_b', 0.4)) AS b),
         q AS (SELECT t AS term, count(*)::float8 AS qtf FROM unnest($1) t
               WHERE t IS NOT NULL GROUP BY t),
         w AS (SELECT q.term, q.qtf * ln(1 + (s.n - d.df + 0.5) / (d.df + 0.5)) AS idf
               FROM q CROSS JOIN s
               CROSS JOIN LATERAL (SELECT count(*)::float8 AS df FROM ragload_bm25_postings x
                                   WHERE x.term = q.term) d
               WHERE d.df > 0)
    SELECT x.chunk_id,
           sum(round(4294967296 * w.idf * x.tf * (prm.k1 + 1) /
                     (x.tf + prm.k1 * (1 - prm.b + prm.b * x.len / greatest(s.avglen, 1e-9))))
               / 4294967296) AS score
    FROM w JOIN ragload_bm25_postings x ON x.term = w.term CROSS JOIN s CROSS JOIN prm
    GROUP BY x.chunk_id
    ORDER BY score DESC, x.chunk_id
    LIMIT greatest($2, 0)
$$;

-- pgvector's settings (hnsw.*, ivfflat.*) exist once its library is loaded; before that a
-- SET clause names an unknown parameter, which only a superuser may set. A vector value loads
-- it, so an owner who is not a superuser (a managed server) can create the function.
SELECT '[1]'::vector;

-- The chunks nearest qvec through the corpus's vector index where one exists (HNSW:
-- ef_search = max(k, ef_search given or 200), iterative past 1000, and an IVFFlat index beside
-- it steered off; else IVFFlat: probes = ceil(sqrt(lists))), else by an exact scan; score = 1 - cosine distance (an l2 or inner
-- product corpus: minus the distance). Ties by chunk_id. The SET clauses keep the settings
-- this function makes to itself.
CREATE FUNCTION ragload_dense(qvec vector, k integer, ef_search integer DEFAULT NULL)
RETURNS TABLE (chunk_id integer, score double precision)
LANGUAGE plpgsql STABLE
SET hnsw.ef_search = 200 SET hnsw.iterative_scan = off SET ivfflat.probes = 1
AS $$
DECLARE
    dist text := coalesce((SELECT value FROM ragload_corpus c WHERE c.key = 'distance'), 'cosine');
    op text := CASE dist WHEN 'l2' THEN '<->' WHEN 'ip' THEN '<#>' ELSE '<=>' END;
    sc text := CASE dist WHEN 'cosine' THEN '1 - t.d' WHEN 'ip' THEN '-t.d' ELSE '-t.d' END;
    lists int;
    ef int := greatest(k, coalesce(ef_search, 200));
BEGIN
    IF k IS NULL OR k < 1 OR qvec IS NULL THEN
        RETURN;
    END IF;
    SELECT coalesce((SELECT substring(o FROM 7)::int FROM unnest(c.reloptions) o
                     WHERE o LIKE 'lists=%'), 100) INTO lists
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
    WHERE i.indrelid = 'embeddings'::regclass AND a.amname = 'ivfflat' ORDER BY 1 DESC LIMIT 1;
    IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_am a ON a.oid = c.relam
               WHERE i.indrelid = 'embeddings'::regclass AND a.amname = 'hnsw') THEN
        PERFORM set_config('hnsw.ef_search', least(ef, 1000)::text, true);
        IF ef > 1000 THEN
            PERFORM set_config('hnsw.iterative_scan', 'strict_order', true);
        END IF;
        -- HNSW serves; an IVFFlat index beside it is priced as a full scan (all lists probed)
        IF lists IS NOT NULL THEN
            PERFORM set_config('ivfflat.probes', lists::text, true);
        END IF;
    ELSIF lists IS NOT NULL THEN
        PERFORM set_config('ivfflat.probes', ceil(sqrt(lists))::int::text, true);
    END IF;
    -- the inner ORDER BY ... LIMIT alone, so that the vector index serves it
    RETURN QUERY EXECUTE format(
        'WITH t AS MATERIALIZED (SELECT e.chunk_id, e.embedding_vector %1$s $1 AS d '
        'FROM embeddings e ORDER BY e.embedding_vector %1$s $1 LIMIT $2) '
        'SELECT t.chunk_id, (%2$s)::float8 FROM t ORDER BY t.d, t.chunk_id', op, sc)
        USING qvec, k;
END $$;

-- Dense and BM25 fused: each side gives its top `depth` chunks (NULL: [search] hybrid_depth),
-- fused by `fusion` (NULL: [search] hybrid_fusion): 'rrf' sums 1 / (rrf_k + rank) over the
-- sides; 'convex' is weight x dense + (1 - weight) x BM25, each score min-max normalised over
-- its side's list (a chunk absent from a side gets 0 there). Ties by chunk_id.
CREATE FUNCTION ragload_hybrid(qvec vector, terms bigint[], k integer,
                               fusion text DEFAULT NULL, weight double precision DEFAULT NULL,
                               depth integer DEFAULT NULL, rrf_k double precision DEFAULT NULL)
RETURNS TABLE (chunk_id integer, score double precision)
LANGUAGE sql STABLE AS $$
    WITH prm AS MATERIALIZED (SELECT coalesce($4, (SELECT value FROM ragload_corpus c
                                      WHERE c.key = 'hybrid_fusion'), 'convex') AS fusion,
                        coalesce($5, ragload_setting('hybrid_weight', 0.7)) AS weight,
                        greatest(coalesce($6, ragload_setting('hybrid_depth', 50)::int), $3) AS depth,
                        coalesce($7, ragload_setting('hybrid_rrf_k', 60)) AS rrf_k),
         d AS (SELECT r.chunk_id, r.score, row_number() OVER (ORDER BY r.score DESC, r.chunk_id) AS rk
               FROM prm, ragload_dense($1, prm.depth) r),
         l AS (SELECT r.chunk_id, r.score, row_number() OVER (ORDER BY r.score DESC, r.chunk_id) AS rk
               FROM prm, ragload_bm25($2, prm.depth) r),
         dn AS (SELECT d.*, coalesce((d.score - min(d.score) OVER ()) /
                            nullif(max(d.score) OVER () - min(d.score) OVER (), 0), 1) AS nz FROM d),
         bn AS (SELECT l.*, coalesce((l.score - min(l.score) OVER ()) /
                            nullif(max(l.score) OVER () - min(l.score) OVER (), 0), 1) AS nz FROM l),
         f AS (SELECT coalesce(dn.chunk_id, bn.chunk_id) AS chunk_id,
                      CASE WHEN prm.fusion = 'rrf'
                           THEN coalesce(1 / (prm.rrf_k + dn.rk), 0) + coalesce(1 / (prm.rrf_k + bn.rk), 0)
                           ELSE prm.weight * coalesce(dn.nz, 0) + (1 - prm.weight) * coalesce(bn.nz, 0)
                      END AS score
               FROM dn FULL JOIN bn ON dn.chunk_id = bn.chunk_id CROSS JOIN prm)
    SELECT f.chunk_id, f.score::float8 FROM f ORDER BY f.score DESC, f.chunk_id LIMIT greatest($3, 0)
$$;
