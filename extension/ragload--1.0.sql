-- ragload extension 1.0 (extension/ragload.c). Every function runs as its caller: reading the
-- corpus (chunks, documents, embeddings, ragload_models, ragload_corpus and the BM25 tables)
-- is all it needs, so ragload_reader may call them.
\echo Use "CREATE EXTENSION ragload" to load this file. \quit

-- The query's embedding with the corpus's live model: the bits `ragload embed` gives.
CREATE FUNCTION ragload_embed(query text) RETURNS vector
AS 'MODULE_PATHNAME', 'pg_ragload_embed' LANGUAGE C STABLE STRICT;

-- The query's terms as ragload_bm25 and ragload_hybrid take them: the stem hashes of the
-- normalised query (models/stems.h) in text order, a term given twice listed twice.
CREATE FUNCTION ragload_terms(query text) RETURNS bigint[]
AS 'MODULE_PATHNAME', 'pg_ragload_terms' LANGUAGE C IMMUTABLE STRICT;

-- The k best chunks for the query by method dense, bm25 or hybrid, best first, ties by
-- chunk_id: the query embedded and split here, ranked by ragload_dense, ragload_bm25 or
-- ragload_hybrid (config/migrations/0004_bm25.sql).
CREATE FUNCTION ragload_search(query text, k integer DEFAULT 10, method text DEFAULT 'hybrid')
RETURNS TABLE (chunk_id integer, doc_id integer, score double precision, source_name text,
               chunk_text text)
AS 'MODULE_PATHNAME', 'pg_ragload_search' LANGUAGE C STABLE STRICT ROWS 10;
