# Live indexes: a small delta goes into the existing HNSW/IVFFlat indexes; a load adding more
# than load.index_rebuild_share of the rows drops them and rebuilds them after loading.
. "$(dirname "$0")/../lib.sh"
newdb live_index
"$RAGLOAD" -q init
mkdir -p "$TMP/a" "$TMP/b" "$TMP/c"
for i in $(seq 1 40); do printf 'Base document %s about subject %s.\n' $i $((i * 7)) > "$TMP/a/d$i.txt"; done
for i in $(seq 1 30); do printf 'Large delta document %s on theme %s.\n' $i $((i * 3)) > "$TMP/b/e$i.txt"; done
printf 'One small addition.\n' > "$TMP/c/small.txt"
"$RAGLOAD" -q ingest "$TMP/a"
"$RAGLOAD" -q index
oid() { q "SELECT coalesce((SELECT 'embeddings_hnsw_halfvec_idx'::regclass::oid::text), 'none')"; }
before=$(oid)
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/c" 2> "$TMP/small" || rc=$?
t_eq "small delta exits 0" 0 "$rc"
t_eq "small delta goes into the live index (same index, not rebuilt)" "$before" "$(oid)"
t_check "small delta: no drop announced" bash -c "! grep -q 'dropping the vector indexes' '$TMP/small'"
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/b" 2> "$TMP/large" || rc=$?
t_eq "large delta exits 0" 0 "$rc"
t_check "large delta drops the vector indexes" grep -q 'dropping the vector indexes' "$TMP/large"
t_check "large delta rebuilds them after loading" grep -q 'rebuilt embeddings_hnsw_halfvec_idx' "$TMP/large"
t_eq "both vector indexes exist afterwards" 2 "$(q "SELECT count(*) FROM pg_indexes WHERE indexname IN ('embeddings_hnsw_halfvec_idx', 'embeddings_ivfflat_halfvec_idx')")"
t_check "the rebuilt index is a new one" test "$(oid)" != "$before"
t_eq "rebuilt index covers every row" "$(q "SELECT count(*) FROM embeddings")" "$(q "SELECT row_count FROM ragload_indexes WHERE index_name = 'embeddings_hnsw_halfvec_idx'")"
