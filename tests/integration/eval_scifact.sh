# ragload eval on SciFact (BEIR): exact, full-text, BM25, the dense+BM25 hybrid and the old
# dense+full-text hybrid (hybrid_fts) quality rows (and one per ANN setting, each measured
# through its index: forced where the planner would scan), the report files, a TREC run file from which an independent scorer reproduces
# every nDCG@10, and eval without any ANN index.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "eval_scifact: ../shared/datasets absent"; exit 0; fi
D=$DATASETS/scifact
scifact_db eval_scifact
t_eq "ingest corpus.jsonl exits 0" 0 "$SCIFACT_RC"
rc=0; "$RAGLOAD" --no-progress index 2> "$TMP/index.err" || rc=$?
t_eq "index exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/index.err"

rc=0
"$RAGLOAD" --no-progress eval --queries "$D/queries.jsonl" --qrels "$D/qrels/test.tsv" \
  --reports-dir "$TMP/reports" --run-file "$TMP/run.txt" --qps-seconds 0 > "$TMP/eval.out" 2> "$TMP/eval.err" || rc=$?
t_eq "eval exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 10 "$TMP/eval.err"
html=$(tail -n 1 "$TMP/eval.out")
t_check "eval prints the path of report.html" test -f "$html" -a "$(basename "$html")" = report.html
t_check "the latest symlink exists" test -L "$TMP/reports/latest" -a -f "$TMP/reports/latest/results.json"
t_check "report.html has an inline SVG plot" grep -q '<svg' "$TMP/reports/latest/report.html"

# results.json: field checks in one python3 run; each failing line names what is wrong.
json_check() { t_json "$1" "$TMP/reports/latest/results.json" "$2"; }  # r, q, a
json_check "results.json has exact, fts, hybrid_fts, bm25 and hybrid rows over 300 queries" \
  'all(m in q and q[m][0]["n_queries"] == 300 for m in ("exact", "fts", "hybrid_fts", "bm25", "hybrid"))'
json_check "fts nDCG@10 >= 0.55" 'q["fts"][0]["ndcg@10"] >= 0.55'
json_check "bm25 nDCG@10 >= 0.66 (k1 0.9, b 0.4)" \
  'q["bm25"][0]["ndcg@10"] >= 0.66 and q["bm25"][0]["setting"]["k1"] == 0.9'
json_check "hybrid (convex, through the HNSW index) nDCG@10 >= 0.69 and above each of its parts" \
  'q["hybrid"][0]["ndcg@10"] >= 0.69 and q["hybrid"][0]["ndcg@10"] > max(q["bm25"][0]["ndcg@10"], q["exact"][0]["ndcg@10"]) and q["hybrid"][0]["setting"]["index"] == "hnsw"'
json_check "every ANN row measured through its index (none flagged as a sequential scan)" \
  'a and not any(x["seqscan"] for x in a)'
json_check "built-in model (featurizer 4), exact dense: nDCG@10 >= 0.67 and Recall@100 >= 0.93" \
  'q["exact"][0]["ndcg@10"] >= 0.67 and q["exact"][0]["recall@100"] >= 0.93'
json_check "exact seconds recorded" 'r["exact"]["seconds"] > 0'
# The sweeps double ef_search (from 10) and probes (from 1) until recall@10 reaches 0.99 or
# stops rising (or pgvector's bound: ef_search 1000, probes = lists).
sweep_ok() { python3 "$ROOT/tests/integration/sweep_check.py" "$TMP/reports/latest/results.json" "$@"; }
t_check "HNSW ef_search doubles from 10 until recall@10 reaches 0.99 or stops rising" \
  sweep_ok hnsw halfvec ef_search 10
json_check "HNSW settings up to ef_search 80 served by the index" \
  'not any(x["seqscan"] for x in a if x["index"] == "hnsw" and x["search"]["ef_search"] <= 80)'
json_check "HNSW recall@10 reaches 0.95 within the sweep" \
  'max(x["recall@10"] for x in a if x["index"] == "hnsw") >= 0.95'
t_check "IVFFlat probes double from 1 until recall@10 reaches 0.99 or stops rising" \
  sweep_ok ivfflat halfvec probes 1
json_check "IVFFlat reaches recall@10 0.9 within the sweep" \
  'max(x["recall@10"] for x in a if x["index"] == "ivfflat") >= 0.9'
json_check "the cheapest settings reaching recall@10 0.90, 0.95 and 0.99 are named" \
  '[t["recall"] for t in r["targets"]] == [0.9, 0.95, 0.99] and all(t["row"] is None or a[t["row"]]["recall@10"] >= t["recall"] for t in r["targets"]) and r["targets"][0]["row"] is not None'
json_check "IVFFlat rows with latency and QPS at 2 connections" \
  'any(x["index"] == "ivfflat" for x in a) and all(x["p50_ms"] > 0 and x["qps_1"] > 0 for x in a) and all(x["n_conn"] == 2 and x["qps_n"] > 0 for x in a if not x["seqscan"])'
json_check "a quality row per ANN setting served by its index" \
  'len(q.get("hnsw", [])) + len(q.get("ivfflat", [])) == sum(1 for x in a if not x["seqscan"])'
json_check "every setting's plan is recorded" \
  'len(r["settings"]["ann_plans"]) >= len(a)'
t_eq "the run log has the eval" "done" "$(q "SELECT status FROM ragload_runs WHERE command = 'eval' ORDER BY run_id DESC LIMIT 1")"

# An independent scorer of the run file, written from trec_eval's definitions rather than from
# ragload's code (trec_eval is not packaged in Debian 12). trec_eval conventions reproduced:
# a run is ranked by score descending, ties by docno descending (the rank column is ignored);
# ndcg_cut.10 gain = the judged relevance (rel > 0), discount log2(rank + 1), ideal DCG from
# every judged relevant document; the mean is over the queries present in both the run and the
# qrels (trec_eval's default, without -c). One file holds every method, told apart by the tag
# (trec_eval would be given one tag's lines at a time: awk '$6 == "fts"').
cat > "$TMP/trec_ndcg.py" <<'EOF'
import collections, json, math, re, sys
qrels_path, run_path, results_path = sys.argv[1:4]
qrels = collections.defaultdict(dict)
for i, line in enumerate(open(qrels_path)):
    f = line.rstrip("\r\n").split("\t")
    if len(f) < 3 or (i == 0 and not f[2].strip().lstrip("-").isdigit()):
        continue
    qrels[f[0]][f[1]] = int(f[2])
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(run_path):
    qid, q0, doc, rank, score, tag = line.split()
    runs[tag][qid].append((float(score), doc))

def ndcg10(qid, docs):
    ranked = [d for s, d in sorted(docs, reverse=True)]   # score desc, then docno desc
    rel = qrels[qid]
    dcg = sum(rel[d] / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if rel.get(d, 0) > 0)
    ideal = sorted((v for v in rel.values() if v > 0), reverse=True)[:10]
    idcg = sum(v / math.log2(i + 2) for i, v in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0

res = json.load(open(results_path))
def eval_row(tag):
    """The results.json quality row that a run tag names."""
    storage = None
    if tag in ("exact", "fts", "hybrid", "hybrid_fts", "bm25"):
        method, want, iterative = tag, {}, False
    elif m := re.fullmatch(r"hnsw_(?:(halfvec|bit)_)?m\d+_efc\d+_ef(\d+)(_relaxed)?", tag):
        method, want, iterative = "hnsw", {"ef_search": int(m[2])}, bool(m[3])
        storage = m[1] or "vector"
    elif m := re.fullmatch(r"ivfflat_(?:(halfvec)_)?lists\d+_probes(\d+)", tag):
        method, want, iterative = "ivfflat", {"probes": int(m[2])}, False
        storage = m[1] or "vector"
    else:
        return None
    for row in res["quality"]:
        s = row["setting"]
        if row["method"] == method and all(s.get(k) == v for k, v in want.items()) \
                and (storage is None or s.get("storage", "vector") == storage) \
                and ("iterative_scan" in s) == iterative:
            return row
    return None

bad = 0
for tag, per_q in sorted(runs.items()):
    vals = [ndcg10(qid, docs) for qid, docs in per_q.items() if qid in qrels]
    mine = sum(vals) / len(vals)
    row = eval_row(tag)
    theirs = row["ndcg@10"] if row else float("nan")
    ok = row is not None and abs(mine - theirs) <= 0.002
    bad += not ok
    print(f"  {tag:32s} run-file nDCG@10 {mine:.4f}  eval {theirs:.4f}  over {len(vals)} queries"
          f"  {'ok' if ok else 'MISMATCH'}")
need = {"exact", "fts", "hybrid", "hybrid_fts", "bm25"} - set(runs)
if need:
    print("  missing tags:", need)
sys.exit(1 if bad or need else 0)
EOF
t_check "run file: every method's nDCG@10 reproduced by an independent trec_eval-style scorer (within 0.002)" \
  python3 "$TMP/trec_ndcg.py" "$D/qrels/test.tsv" "$TMP/run.txt" "$TMP/reports/latest/results.json"
t_check "run file: at most 100 documents per query and method, ranks 1.., scores strictly decreasing" \
  awk '{k=$6" "$1; n[k]++; if (n[k] > 100 || $4 != n[k] || (k in last && $5 >= last[k])) bad=1; last[k]=$5} END {exit bad}' "$TMP/run.txt"

# Without any ANN index eval still measures exact, fts, bm25 and the hybrids.
q "DROP INDEX embeddings_hnsw_halfvec_idx; DROP INDEX embeddings_ivfflat_halfvec_idx" >/dev/null
rc=0
"$RAGLOAD" --no-progress eval --queries "$D/queries.jsonl" --qrels "$D/qrels/test.tsv" \
  --max-queries 100 --qps-seconds 0 --reports-dir "$TMP/reports2" > "$TMP/eval2.out" 2> "$TMP/eval2.err" || rc=$?
t_eq "eval without an ANN index exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 10 "$TMP/eval2.err"
python3 - "$TMP/reports2/latest/results.json" <<'EOF' && t_pass "without an ANN index: exact, fts, hybrid_fts, bm25 and hybrid rows over 100 queries, no ANN rows" || t_fail "without an ANN index: exact, fts, hybrid_fts, bm25 and hybrid rows over 100 queries, no ANN rows"
import json, sys
r = json.load(open(sys.argv[1]))
m = {row["method"]: row for row in r["quality"]}
sys.exit(0 if set(m) == {"exact", "fts", "hybrid_fts", "bm25", "hybrid"} and all(v["n_queries"] == 100 for v in m.values()) and r["ann"] == [] else 1)
EOF
