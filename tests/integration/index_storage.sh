# Index storages on the contract column (vector, halfvec, binary re-ranked) on 2,000 SIFT
# vectors and a tenth of SciFact:
#  - `index --storage vector,halfvec,bit` builds HNSW and IVFFlat on vector and halfvec and HNSW
#    on bits as expression indexes, embedding_vector keeping its type; a bad storage is a usage
#    error naming it;
#  - `index --repeat 3` records three builds with their recall@10, and eval shows the spread;
#  - eval sweeps every index until recall@10 reaches 0.99 or stops rising, the binary index by
#    its over-fetch; the re-ranked binary index's recall equals one computed here against an
#    exact scan; QPS comes from repeated passes;
#  - search is served by the index ragload_indexes marks, whichever the storage, through
#    ragload_dense(), which `ragload index` rewrites for that index: the reader role still
#    calls it, and its ranking of a binary index's candidates is by the exact distance.
. "$(dirname "$0")/../lib.sh"
S=$DATASETS/siftsmall
if [ ! -d "$S" ]; then t_skip "index_storage: ../shared/datasets absent"; exit 0; fi
newdb index_storage
"$RAGLOAD" -q init
head -c $((2000 * 516)) "$S/siftsmall_base.fvecs" > "$TMP/base.fvecs"  # 2,000 vectors of 128
"$RAGLOAD" -q --no-progress ingest "$TMP/base.fvecs"
t_eq "2000 vectors loaded" 2000 "$(q "SELECT count(*) FROM embeddings")"

rc=0; "$RAGLOAD" --no-progress index --storage vector,halfvec,bit 2> "$TMP/index.err" || rc=$?
t_eq "index --storage vector,halfvec,bit exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/index.err"
t_eq "five vector indexes: HNSW and IVFFlat on vector and halfvec, HNSW on bits" \
  "embeddings_hnsw_bit_idx hnsw bit|embeddings_hnsw_halfvec_idx hnsw halfvec|embeddings_hnsw_idx hnsw vector|embeddings_ivfflat_halfvec_idx ivfflat halfvec|embeddings_ivfflat_idx ivfflat vector" \
  "$(q "SELECT string_agg(index_name || ' ' || kind || ' ' || storage, '|' ORDER BY index_name) FROM ragload_indexes WHERE kind <> 'fts'")"
t_eq "expression indexes on embedding_vector: two on halfvec(128), one on binary_quantize(...)::bit(128)" "2 1" \
  "$(q "SELECT count(*) FILTER (WHERE indexdef LIKE '%((embedding_vector)::halfvec(128)) halfvec_l2_ops%') || ' ' || count(*) FILTER (WHERE indexdef LIKE '%((binary_quantize(embedding_vector))::bit(128)) bit_hamming_ops%') FROM pg_indexes WHERE tablename = 'embeddings'")"
t_eq "the contract column keeps its type" "vector(128)" \
  "$(q "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'embeddings'::regclass AND attname = 'embedding_vector'")"
t_eq "the first storage's HNSW serves searches" "embeddings_hnsw_idx" \
  "$(q "SELECT string_agg(index_name, ',') FROM ragload_indexes WHERE serving")"
rc=0; "$RAGLOAD" index --storage vector,float16 2> "$TMP/bad.err" || rc=$?
t_eq "an unknown storage is a usage error" 2 "$rc"
t_check "the error names the storage and the choices" grep -q "storage 'float16': expected vector, halfvec or bit" "$TMP/bad.err"

rc=0; "$RAGLOAD" --no-progress index --only hnsw --storage halfvec --repeat 3 2> "$TMP/repeat.err" || rc=$?
t_eq "index --repeat 3 exits 0" 0 "$rc"
t_check "index --repeat 3 prints the median and spread" \
  grep -qE 'hnsw halfvec over 3 builds: build [0-9.]+ s \([0-9.]+–[0-9.]+\), recall@10 [01]\.[0-9]+ \(' "$TMP/repeat.err"
t_eq "three builds recorded, each with its recall@10 against an exact scan" "3 3" \
  "$(q "SELECT jsonb_array_length(builds->'runs') || ' ' || (SELECT count(*) FROM jsonb_array_elements(builds->'runs') x WHERE (x->>'recall10')::float8 BETWEEN 0.5 AND 1) FROM ragload_indexes WHERE index_name = 'embeddings_hnsw_halfvec_idx'")"
t_eq "the HNSW just built serves searches" "embeddings_hnsw_halfvec_idx" \
  "$(q "SELECT string_agg(index_name, ',') FROM ragload_indexes WHERE serving")"

rc=0
"$RAGLOAD" --no-progress eval --queries "$S/siftsmall_query.fvecs" --max-queries 30 \
  --qps-seconds 0.05 --connections 1 --reports-dir "$TMP/reports" > "$TMP/eval.out" 2> "$TMP/eval.err" || rc=$?
t_eq "eval exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 10 "$TMP/eval.err"
R=$TMP/reports/latest/results.json
check() { t_json "$1" "$R" "$2"; }
check "every (index, storage) has rows served by its index" \
  '{(x["index"], x["storage"]) for x in a if not x["seqscan"]} == {("hnsw", "vector"), ("hnsw", "halfvec"), ("hnsw", "bit"), ("ivfflat", "vector"), ("ivfflat", "halfvec")}'
check "each index was measured with the others hidden from the planner (extension 1.2)" \
  'r["settings"]["other_indexes"] == "hidden"'
sweep_ok() { python3 "$ROOT/tests/integration/sweep_check.py" "$R" "$@"; }
t_check "HNSW vector: ef_search doubles from 10 until recall@10 reaches 0.99 or stops rising" sweep_ok hnsw vector ef_search 10
t_check "HNSW halfvec: likewise" sweep_ok hnsw halfvec ef_search 10
t_check "IVFFlat halfvec: probes double from 1 likewise" sweep_ok ivfflat halfvec probes 1
t_check "HNSW bit: the over-fetch doubles from 1 likewise" sweep_ok hnsw bit overfetch 1
check "the halfvec HNSW rows show the spread of its 3 builds" \
  'all(x["builds"]["n"] == 3 and x["builds"]["build_s"]["min"] <= x["build_s"] <= x["builds"]["build_s"]["max"] and x["builds"]["recall@10"]["min"] <= x["builds"]["recall@10"]["median"] <= x["builds"]["recall@10"]["max"] for x in a if x["index"] == "hnsw" and x["storage"] == "halfvec") and all(x["builds"] is None for x in a if x["storage"] != "halfvec")'
# QPS as the report ranks it: one connection's, else the N connections' where one connection
# gave none (stages/report.c: plot_qps)
check "the cheapest setting per recall target is one that reaches it, the fastest that does" \
  '(lambda qps: all(t["row"] is None or (a[t["row"]]["recall@10"] >= t["recall"] and qps(a[t["row"]]) == max(qps(x) for x in a if not x["seqscan"] and (x["recall@10"] or 0) >= t["recall"])) for t in r["targets"]) and len(r["targets"]) == 3)(lambda x: x["qps_1"] if x["qps_1"] else (x["qps_n"] or 0))'
check "Pareto rows: none is both slower and less accurate than another" \
  'all(not any(y["recall@10"] >= x["recall@10"] and y["qps_1"] >= x["qps_1"] and (y["recall@10"], y["qps_1"]) != (x["recall@10"], x["qps_1"]) for y in a if not y["seqscan"]) for x in a if x["pareto"]) and any(x["pareto"] for x in a)'
check "a vector-only corpus lists no full-text configuration" '"fts_config" not in r["settings"]'
t_check "QPS from at least 3 timed passes per setting" grep -qE 'hnsw +vector .*\(([3-9]|[1-9][0-9]) passes\)' "$TMP/eval.err"
t_check "report.html: one recall-vs-QPS chart and recall against build time and size" \
  test "$(grep -c '<svg' "$TMP/reports/latest/report.html")" = 3
t_check "report.html shows the builds' spread" grep -q '<td class="n">3</td>' "$TMP/reports/latest/report.html"

# The re-ranked binary index's recall against an exact scan computed here, independently of
# eval: the same 30 queries, the top 10 by a sequential scan, the top 10 of 40 Hamming
# candidates (over-fetch 4, ef_search 40) re-ranked by L2; eval's row must say the same.
python3 - "$S/siftsmall_query.fvecs" > "$TMP/q.sql" <<'EOF'
import struct, sys
f = open(sys.argv[1], "rb")
rows = []
for i in range(30):
    d = struct.unpack("<i", f.read(4))[0]
    v = struct.unpack("<%df" % d, f.read(4 * d))
    rows.append("(%d, '[%s]'::vector)" % (i, ",".join("%g" % x for x in v)))
print("WITH q(i, v) AS (VALUES %s)" % ", ".join(rows))
EOF
{ echo "SET enable_indexscan = off;"; cat "$TMP/q.sql"
  echo "SELECT q.i, e.chunk_id FROM q, LATERAL (SELECT chunk_id FROM embeddings ORDER BY embedding_vector <-> q.v, chunk_id LIMIT 10) e;"; } |
  psql -X -qtA -F ' ' > "$TMP/exact.txt"
{ echo "SET enable_seqscan = off; SET hnsw.ef_search = 40;"; cat "$TMP/q.sql"
  echo "SELECT q.i, b.chunk_id FROM q, LATERAL (SELECT chunk_id FROM (SELECT chunk_id, embedding_vector <-> q.v AS d FROM embeddings ORDER BY binary_quantize(embedding_vector)::bit(128) <~> binary_quantize(q.v) LIMIT 40) c ORDER BY d, chunk_id LIMIT 10) b;"; } |
  psql -X -qtA -F ' ' > "$TMP/bit.txt"
python3 - "$TMP/exact.txt" "$TMP/bit.txt" "$R" <<'EOF' && t_pass "the binary index's recall@10 (over-fetch 4) equals one computed against an exact scan" || t_fail "the binary index's recall@10 (over-fetch 4) equals one computed against an exact scan"
import json, sys
def load(p):
    s = {}
    for line in open(p):
        if line.strip():
            i, c = line.split()
            s.setdefault(int(i), set()).add(int(c))
    return s
ex, bi = load(sys.argv[1]), load(sys.argv[2])
mine = sum(len(ex[i] & bi.get(i, set())) / 10 for i in range(30)) / 30
row = [x for x in json.load(open(sys.argv[3]))["ann"] if x["storage"] == "bit" and x["search"].get("overfetch") == 4]
print("  binary index, over-fetch 4: recall@10 here %.4f, eval %s" % (mine, row[0]["recall@10"] if row else None))
sys.exit(0 if row and abs(row[0]["recall@10"] - mine) <= 0.01 and 0 < mine < 1 else 1)
EOF

# Search is served by the marked index, whichever the storage: a tenth of SciFact (so the
# builds take a second), one HNSW per storage in turn, its idx_scan counted around a search.
if ! have_shared; then exit 0; fi
scifact_db index_storage_search
[ "$SCIFACT_RC" = 0 ] || { t_fail "SciFact copy"; exit 0; }
q "DELETE FROM embeddings WHERE chunk_id % 10 <> 0" > /dev/null
"$RAGLOAD" -q init --roles
vec=$(echo "vitamin D deficiency and bone fractures" | "$RAGLOAD" embed)
for st in bit halfvec vector; do
  rc=0; "$RAGLOAD" -q --no-progress index --only hnsw --storage "$st" 2> "$TMP/ix.err" || rc=$?
  [ "$st" = bit ] && name=embeddings_hnsw_bit_idx
  [ "$st" = halfvec ] && name=embeddings_hnsw_halfvec_idx
  [ "$st" = vector ] && name=embeddings_hnsw_idx
  before=$(q "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = '$name'")
  n=$("$RAGLOAD" search -k 5 "vitamin D deficiency and bone fractures" | grep -c .)
  # the search's statistics reach pg_stat_user_indexes once its backend has exited: up to 20 s
  # on a busy machine
  for _ in $(seq 1 40); do
    after=$(q "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = '$name'")
    [ "$after" -gt "$before" ] && break
    sleep 0.5
  done
  t_check "$st: the index builds ($rc), is marked serving, and search reads it for 5 results ($before -> $after, $n lines)" \
    test "$rc" = 0 -a "$(q "SELECT index_name FROM ragload_indexes WHERE serving")" = "$name" \
    -a "$after" -gt "$before" -a "$n" = 5
  t_eq "$st: ragload_dense() was rewritten for $name" 1 \
    "$(q "SELECT count(*) FROM pg_proc WHERE proname = 'ragload_dense' AND prosrc LIKE '%served by $name %'")"
  # the reader role calls the rewritten function; its rows are in exact distance order
  # (the binary index's candidates re-ranked), as many as asked
  got=$(PGUSER=ragload_reader psql -X -qtA -v ON_ERROR_STOP=1 -c "SELECT count(*), \
    bool_and(ok) FROM (SELECT score <= lag(score, 1, score) OVER (ORDER BY n) AS ok FROM \
    ragload_dense('$vec'::vector, 20) WITH ORDINALITY AS r(chunk_id, score, n)) x" 2>&1)
  t_eq "$st: the reader role calls ragload_dense(): 20 rows in exact distance order" "20|t" "$got"
done
t_eq "ragload_dense() keeps its one signature" "qvec vector, k integer, ef_search integer DEFAULT NULL::integer" \
  "$(q "SELECT string_agg(pg_get_function_arguments(oid), ';') FROM pg_proc WHERE proname = 'ragload_dense'")"
