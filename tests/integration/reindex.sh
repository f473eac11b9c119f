# reindex: a new generation built beside the live one and swapped in; readers querying in a
# loop across the swap see only complete generations; --rollback restores the old one.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "reindex: ../shared/datasets absent"; exit 0; fi
head -n 1500 "$DATASETS/scifact/corpus.jsonl" > "$TMP/corpus.jsonl"
newdb reindex; "$RAGLOAD" -q init
"$RAGLOAD" -q ingest "$TMP/corpus.jsonl"
"$RAGLOAD" -q index --storage vector   # vector HNSW, IVFFlat and full text
"$RAGLOAD" -q index --only hnsw --storage halfvec   # a halfvec HNSW, marked serving
gen1=$(q "SELECT count(*) || ' ' || min(model_name) FROM embeddings")
docs1=$(q "SELECT string_agg(doc_id::text, ',' ORDER BY doc_id) FROM documents")
# A reader in a loop: each read is one statement over chunks joined to embeddings.
# One session reading in a loop (about 50 reads a second) from before the reindex starts until
# after it ends; errors are kept in the output (no ON_ERROR_STOP), one line per read.
reader() {
  local n=0
  while [ ! -f "$TMP/done" ] || [ $n -lt 50 ]; do
    [ -f "$TMP/done" ] && n=$((n + 1))
    echo "SELECT count(*) || ' ' || count(DISTINCT e.model_name) || ' ' || min(e.model_name) FROM chunks c JOIN embeddings e USING (chunk_id);"
    echo "SELECT pg_sleep(0.02);"
    sleep 0.02
  done | psql -X -qtA 2>&1 | grep -v '^$' | sed 's/^.*ERROR.*/ERROR &/' > "$TMP/reads"
}
reader & rpid=$!
sleep 1
rc=0; "$RAGLOAD" --no-progress reindex --chunk-tokens 128 --chunk-overlap 16 2> "$TMP/err" || rc=$?
touch "$TMP/done"
wait "$rpid"
t_eq "reindex with new chunk settings exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/err"
t_check "the new generation passed its self-recall check (through the serving halfvec index)" \
  grep -Eq 'verified the new generation: counts complete, self-recall (1[6-9]|20)/20' "$TMP/err"
gen2=$(q "SELECT count(*) || ' ' || min(model_name) FROM embeddings")
t_eq "the halfvec HNSW that served before the reindex is rebuilt on the new generation and serves" \
  "embeddings_hnsw_halfvec_idx true 1" \
  "$(q "SELECT r.index_name || ' ' || (to_regclass('public.embeddings_hnsw_halfvec_idx') IS NOT NULL) || ' ' ||
               (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'embeddings'
                AND indexname = r.index_name AND indexdef LIKE '%halfvec(768)%')
        FROM ragload_indexes r WHERE r.serving")"
t_check "the new generation has more, smaller chunks" test "${gen2%% *}" -gt "${gen1%% *}"
t_eq "doc_ids survive the reindex" "$docs1" "$(q "SELECT string_agg(doc_id::text, ',' ORDER BY doc_id) FROM documents")"
t_eq "chunk settings recorded" "128/16" "$(q "SELECT value FROM ragload_corpus WHERE key = 'chunking'")"
t_eq "generation 2 is live" 2 "$(q "SELECT value FROM ragload_corpus WHERE key = 'generation'")"
t_eq "readers saw no error" 0 "$(grep -c ERROR "$TMP/reads")"
t_eq "readers saw one model per read" 0 "$(awk '$2 != 1' "$TMP/reads" | wc -l)"
t_check "readers saw only complete generations (old or new counts)" bash -c "awk '{print \$1}' '$TMP/reads' | sort -u | grep -vxE '${gen1%% *}|${gen2%% *}' | wc -l | grep -qx 0"
t_check "hundreds of reads ran" test "$(wc -l < "$TMP/reads")" -ge 200
t_check "reads saw both generations" test "$(awk '{print $1}' "$TMP/reads" | sort -u | wc -l)" -eq 2
echo "   reads by generation: $(awk '{print $1}' "$TMP/reads" | sort | uniq -c | tr '\n' ' ')"
t_eq "every chunk has one embedding" 0 "$(q "SELECT count(*) FROM chunks c WHERE (SELECT count(*) FROM embeddings e WHERE e.chunk_id = c.chunk_id) <> 1")"
t_check "vector and full-text indexes live on the new generation" test "$(q "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexname IN ('embeddings_hnsw_idx','embeddings_ivfflat_idx','chunks_fts_idx')")" = 3
"$RAGLOAD" status > "$TMP/status"
t_check "status shows generation 2 live" grep -q 'generation 2: model' "$TMP/status"
# an ingest with the old chunk settings is refused rather than mixing chunkings
rc=0; "$RAGLOAD" ingest "$TMP/corpus.jsonl" 2> "$TMP/err" || rc=$?
t_eq "ingest with other chunk settings than the live generation is refused" 1 "$rc"
rc=0; "$RAGLOAD" -q --chunk-tokens 128 --chunk-overlap 16 ingest "$TMP/corpus.jsonl" || rc=$?
t_eq "ingest with the live settings finds everything unchanged" 0 "$rc"
rc=0; "$RAGLOAD" --no-progress reindex --rollback 2> "$TMP/err" || rc=$?
t_eq "reindex --rollback exits 0" 0 "$rc"
t_eq "rollback restores the previous generation" "$gen1" "$(q "SELECT count(*) || ' ' || min(model_name) FROM embeddings")"
t_eq "rollback restores its chunk settings" "256/32" "$(q "SELECT value FROM ragload_corpus WHERE key = 'chunking'")"
t_eq "new chunk ids never reused" 0 "$(q "SELECT count(*) FROM chunks c JOIN ragload_prev.chunks p USING (chunk_id)")"
t_check "the sequences survive the swaps" q "SELECT nextval('chunks_chunk_id_seq')"
rc=0; "$RAGLOAD" -q ingest "$TMP/corpus.jsonl" || rc=$?
t_eq "ingest after rollback (old settings) finds everything unchanged" 0 "$rc"
