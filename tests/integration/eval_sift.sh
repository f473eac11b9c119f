# ragload eval on SIFT10K (TEXMEX .fvecs, l2): ragload's exact top-10 agrees with the published
# ground truth up to ties, and HNSW (m 16, ef_construction 64) at ef_search 40 recalls >= 0.96 (builds vary).
. "$(dirname "$0")/../lib.sh"
S=$DATASETS/siftsmall
if [ ! -d "$S" ]; then t_skip "eval_sift: ../shared/datasets absent"; exit 0; fi
newdb eval_sift
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" --no-progress ingest "$S/siftsmall_base.fvecs" 2> "$TMP/ingest.err" || rc=$?
t_eq "ingest siftsmall_base.fvecs exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/ingest.err"
t_eq "10000 vectors loaded" 10000 "$(q "SELECT count(*) FROM embeddings")"
t_eq "precomputed 128-d vectors, l2" "precomputed:128 l2" \
  "$(q "SELECT (SELECT min(model_name) FROM embeddings) || ' ' || (SELECT value FROM ragload_corpus WHERE key = 'distance')")"
rc=0; "$RAGLOAD" --no-progress index 2> "$TMP/index.err" || rc=$?
t_eq "index exits 0" 0 "$rc"

rc=0
"$RAGLOAD" --no-progress eval --queries "$S/siftsmall_query.fvecs" \
  --ground-truth "$S/siftsmall_groundtruth.ivecs" --reports-dir "$TMP/reports" --qps-seconds 0 \
  --ef-search 20,40 \
  > "$TMP/eval.out" 2> "$TMP/eval.err" || rc=$?
t_eq "eval exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 10 "$TMP/eval.err"
check() { t_json "$1" "$TMP/reports/latest/results.json" "$2"; }  # r, a = ann rows
check "ragload's exact top-10 equals the ground truth for every query, up to ties" \
  'r["settings"]["ground_truth_agreement"] == 1.0 and r["settings"]["ground_truth_queries"] == 100'
# pgvector's parallel HNSW build is not deterministic: builds of SIFT10K at these settings give
# 0.965-0.998 at ef_search 40 (issue's five builds; 0.977 seen here), so the bound is 0.96
check "HNSW m 16 / ef_construction 64 at ef_search 40: recall@10 >= 0.96, served by the index" \
  'any(x["index"] == "hnsw" and x["build"] == {"m": 16, "ef_construction": 64} and x["search"] == {"ef_search": 40} and not x["seqscan"] and x["recall@10"] >= 0.96 for x in a)'
check "IVFFlat rows with recall, latency and QPS" \
  'any(x["index"] == "ivfflat" and 0 < x["recall@10"] <= 1 and x["p99_ms"] >= x["p50_ms"] > 0 and x["qps_1"] > 0 for x in a)'
check "no quality rows without qrels; corpus and distance recorded" \
  'r["quality"] == [] and r["corpus"]["distance"] == "l2" and r["corpus"]["dim"] == 128'
t_check "the agreement is logged" grep -q 'agrees on 100 of 100 queries' "$TMP/eval.err"
