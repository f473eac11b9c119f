-- 0007: the source keys of a directory input start with the directory's name
-- ("bash/copyright", was "copyright"), so that directories given side by side, or in turn,
-- never share a key: before, /usr/share/doc/bash and /usr/share/doc/git both gave
-- "copyright", and the later one was skipped (one run) or replaced the other (two runs).
-- Every existing key of a directory input is renamed here, in place: doc_id, chunks,
-- embeddings and postings stay as they are, and the next ingest finds each document unchanged.
--
-- A directory input is told from a file input by its key: a file's key is its own name, the
-- last component of source_input, alone or before '!' (an archive member) or '#' (a row).
-- A directory holding an entry of its own name ("docs/docs") is taken for a file input, so
-- that one key is kept, and the next ingest adds it as "docs/docs" (--prune removes the old).
-- Inputs recorded without a name ("/") keep their keys: read_input_name() gives them none.
CREATE FUNCTION pg_temp.ragload_directory_keys(s text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    EXECUTE format($q$
        WITH k AS (
            SELECT doc_id, source_name, substring(source_input FROM '([^/]+)/*$') AS name
            FROM %I.documents WHERE source_input IS NOT NULL)
        UPDATE %I.documents d SET source_name = k.name || '/' || k.source_name
        FROM k
        WHERE d.doc_id = k.doc_id AND k.name IS NOT NULL
          AND k.source_name <> k.name
          AND left(k.source_name, length(k.name) + 1) NOT IN (k.name || '!', k.name || '#')$q$,
        s, s);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
SELECT pg_temp.ragload_directory_keys('public');
-- the previous generation a reindex keeps for its rollback
SELECT pg_temp.ragload_directory_keys('ragload_prev')
  WHERE to_regclass('ragload_prev.documents') IS NOT NULL;
