# --shard i/N: three processes at once load each document exactly once, side by side.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "shard: ../shared/datasets absent"; exit 0; fi
head -n 2000 "$DATASETS/scifact/corpus.jsonl" > "$TMP/corpus.jsonl"
newdb shard; "$RAGLOAD" -q init
pids=()
for i in 1 2 3; do
  "$RAGLOAD" --no-progress --set load.batch_docs=100 --shard $i/3 ingest "$TMP/corpus.jsonl" 2> "$TMP/err$i" & pids+=($!)
done
ok=1; for p in "${pids[@]}"; do wait "$p" || ok=0; done
t_eq "three shard processes exit 0" 1 "$ok"
t_eq "every document loaded" 2000 "$(q "SELECT count(*) FROM documents")"
t_eq "no document twice" 0 "$(q "SELECT count(*) FROM (SELECT source_name FROM documents GROUP BY 1 HAVING count(*) > 1) d")"
t_eq "one model for all shards" 1 "$(q "SELECT count(DISTINCT model_name) FROM embeddings")"
for i in 1 2 3; do
  n=$(grep -o '[0-9]* added' "$TMP/err$i" | cut -d' ' -f1)
  t_check "shard $i/3 loaded a share (${n:-0} documents)" test "${n:-0}" -gt 400
done
t_check "the shards ran side by side (runs overlap in the run log)" test "$(q "SELECT count(*) FROM ragload_runs a JOIN ragload_runs b ON a.run_id < b.run_id AND a.started_at < b.ended_at AND b.started_at < a.ended_at")" -ge 1
rc=0; "$RAGLOAD" --no-wait --shard 1/3 ingest "$TMP/corpus.jsonl" 2>/dev/null || rc=$?
t_eq "a rerun of one shard finds its documents unchanged" 0 "$rc"
rc=0; "$RAGLOAD" --shard 4/3 ingest "$TMP/corpus.jsonl" 2>/dev/null || rc=$?
t_eq "--shard 4/3 is a usage error" 2 "$rc"
