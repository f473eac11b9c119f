-- 0007: the source keys of a directory input start with the directory's name
-- ("bash/copyright", was "copyright"), so that directories given side by side, or in turn,
-- no longer share a key when their names differ: before, /usr/share/doc/bash and
-- /usr/share/doc/git both gave "copyright", and the later one was skipped (one run) or
-- replaced the other (two runs). Every existing key of a directory input is renamed here, in
-- place: doc_id, chunks, embeddings and postings stay, and the next ingest finds each
-- document unchanged.
--
-- Which inputs were directories: those with a key holding '/' before any '!' (an archive
-- member) or '#' (a row), or with keys of more than one head (the part before '!' or '#'); a
-- file input's keys all share one head without '/', its own name. A directory input that
-- held a single file and nothing deeper reads as a file input: its one key is kept, the next
-- ingest adds it under the new key, and --prune removes the old one. The name put before a
-- key is the last part of documents.source_input (the input's real path), as
-- read_input_name() gives it; inputs recorded as "/" have none and keep their keys.
--
-- The rename goes through a first step to keys no document can have (starting with 0x01:
-- key_clean() replaces control characters), so that the unique index on source_name never
-- sees two rows with one key mid-way (a parent and a child directory both loaded before).
CREATE FUNCTION pg_temp.ragload_directory_keys(s text) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    EXECUTE format($q$
        WITH k AS (
            SELECT doc_id, source_name, source_input,
                   substring(source_input FROM '([^/]+)/*$') AS name,
                   substring(source_name FROM '^[^!#]*') AS head
            FROM %I.documents WHERE source_input IS NOT NULL),
        dirs AS (
            SELECT source_input FROM k
            GROUP BY source_input
            HAVING bool_or(strpos(head, '/') > 0) OR count(DISTINCT head) > 1)
        UPDATE %I.documents d SET source_name = chr(1) || k.name || '/' || k.source_name
        FROM k JOIN dirs USING (source_input)
        WHERE d.doc_id = k.doc_id AND k.name IS NOT NULL$q$, s, s);
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format($q$UPDATE %I.documents SET source_name = substr(source_name, 2)
                      WHERE left(source_name, 1) = chr(1)$q$, s);
    RETURN n;
END
$fn$;
SELECT pg_temp.ragload_directory_keys('public');
-- the previous generation a reindex keeps for its rollback
SELECT pg_temp.ragload_directory_keys('ragload_prev')
  WHERE to_regclass('ragload_prev.documents') IS NOT NULL;
