# The load comparisons of `make bench` replay ragload's transactions: bench/txexport.sh exports
# each transaction's rows and the replay loads them in as many transactions. Loader connections
# reserve ids concurrently, so two transactions' id ranges interleave; the export must follow
# exact membership (a range export wrote a document twice and the replay hit the primary key).
# Here the interleaving is made on purpose twice: by ragload itself (8 loader connections,
# 100 documents a batch: 3,000 documents gave a few overlapping pairs among 30 transactions) and by two hand-written transactions whose ids alternate.
. "$(dirname "$0")/../lib.sh"
newdb bench_replay
"$RAGLOAD" -q init
mkdir -p "$TMP/docs"
awk -v d="$TMP/docs" 'BEGIN { for (i = 1; i <= 3000; i++) {
  f = d "/d" i ".txt"
  printf "Document %d, word%d.\n", i, i % 17 > f
  close(f) } }'
rc=0
"$RAGLOAD" -q --no-progress --set load.connections=8 --set load.batch_docs=100 ingest "$TMP/docs" || rc=$?
t_eq "ingest with 8 loader connections, 100 documents a batch" 0 "$rc"

# Two more transactions written by hand: even and odd copies of the first 20 documents, so the
# two transactions' doc_id, chunk_id and embedding_id ranges overlap whatever the loaders did.
copy_tx() {
  q "BEGIN;
  INSERT INTO documents (doc_id, source_name, metadata, original_content, content_hash, source_input)
    SELECT doc_id + 100000, 'copy/' || source_name, metadata, original_content, content_hash, source_input
    FROM documents WHERE doc_id <= 20 AND doc_id % 2 = $1;
  INSERT INTO chunks (chunk_id, doc_id, chunk_text, token_count, chunk_metadata)
    SELECT chunk_id + 100000, doc_id + 100000, chunk_text, token_count, chunk_metadata
    FROM chunks WHERE doc_id <= 20 AND doc_id % 2 = $1;
  INSERT INTO embeddings (embedding_id, chunk_id, embedding_vector, model_name)
    SELECT embedding_id + 100000, e.chunk_id + 100000, embedding_vector, model_name
    FROM embeddings e JOIN chunks c USING (chunk_id) WHERE c.doc_id <= 20 AND c.doc_id % 2 = $1;
  COMMIT;" >/dev/null
}
copy_tx 0; copy_tx 1

# transactions whose doc_id ranges overlap: what a range export gets wrong
overlaps() {
  q "WITH r AS (SELECT xmin::text AS x, min(doc_id) lo, max(doc_id) hi FROM documents GROUP BY 1)
     SELECT count(*) FROM r a JOIN r b ON a.x < b.x AND a.lo <= b.hi AND b.lo <= a.hi $1"
}
t_check "some transactions' doc_id ranges interleave" test "$(overlaps '')" -gt 0
echo "   transactions with interleaved ranges: $(overlaps '') ($(overlaps 'AND a.lo < 100000') from the loaders alone)"

rows=$(q "SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM chunks) + (SELECT count(*) FROM embeddings)")
rc=0; out=$("$ROOT/bench/txexport.sh" "$PGDATABASE" "$TMP/copy") || rc=$?
t_eq "export exits 0" 0 "$rc"
t_eq "export holds every row once" "$rows" "$out"
t_eq "one batch per writing transaction" \
  "$(q "SELECT count(DISTINCT x) FROM (SELECT xmin::text x FROM documents UNION ALL SELECT xmin::text FROM chunks UNION ALL SELECT xmin::text FROM embeddings) t")" \
  "$(wc -l < "$TMP/copy/batches")"

# the corpus's content, for comparing a replay with its source
content() {
  psql -X -qtA -d "$1" -c "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
    SELECT doc_id || source_name || original_content || content_hash AS t FROM documents
    UNION ALL SELECT chunk_id || '/' || doc_id || chunk_text || chunk_metadata::text FROM chunks
    UNION ALL SELECT embedding_id || '/' || chunk_id || embedding_vector::text FROM embeddings) s"
}
src=$(content "$PGDATABASE")
replaydb() {
  dropdb --if-exists "$1" 2>/dev/null; createdb "$1"
  pg_dump -s "$PGDATABASE" | psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null 2>&1
}

replaydb rl_bench_replay_text
rc=0; psql -X -q -d rl_bench_replay_text -f "$TMP/copy/text_load.sql" > "$TMP/text.out" 2>&1 || rc=$?
t_eq "psql \\copy replay of the export exits 0" 0 "$rc"
grep -m 3 ERROR "$TMP/text.out" | sed 's/^/   /'
t_eq "text replay equals the source corpus" "$src" "$(content rl_bench_replay_text)"
t_eq "text replay commits one transaction per batch" "$(wc -l < "$TMP/copy/batches")" \
  "$(psql -X -qtA -d rl_bench_replay_text -c "SELECT count(DISTINCT xmin::text) FROM documents")"
dropdb rl_bench_replay_text

# the binary replay of the same export (bench/stages rawcopy)
if make -s -C "$ROOT" build/bench/stages >/dev/null 2>&1; then
  replaydb rl_bench_replay_bin
  rc=0
  PGDATABASE=rl_bench_replay_bin "$ROOT/build/bench/stages" rawcopy "$TMP/copy" \
    "documents (doc_id, source_name, metadata, original_content, content_hash, source_input)" \
    "chunks (chunk_id, doc_id, chunk_text, token_count, chunk_metadata)" \
    "embeddings (embedding_id, chunk_id, embedding_vector, model_name)" > "$TMP/raw.out" 2>&1 || rc=$?
  t_eq "binary replay of the export exits 0" 0 "$rc"
  t_eq "binary replay equals the source corpus" "$src" "$(content rl_bench_replay_bin)"
  dropdb rl_bench_replay_bin
else
  t_fail "build/bench/stages does not build"
fi
