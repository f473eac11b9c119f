-- ragload extension 1.1 -> 1.2 (extension/planner.c): indexes hidden from the planner.
\echo Use "ALTER EXTENSION ragload UPDATE TO '1.2'" to load this file. \quit

-- SET LOCAL ragload.hidden_indexes = names: the planner of this transaction does not see the
-- named indexes (a comma-separated list of index names; NULL or '' hides none). eval measures
-- an IVFFlat index beside an HNSW index on the same column with it (and the reverse).
CREATE FUNCTION ragload_hide_indexes(names text) RETURNS void
AS 'MODULE_PATHNAME', 'pg_ragload_hide_indexes' LANGUAGE C VOLATILE PARALLEL UNSAFE;
