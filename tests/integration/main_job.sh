# Smoke test of the main job's path (./run.sh with no arguments) on a small sample of the
# default corpus: setup, corpus build, fresh database, init, ingest, summary.
. "$(dirname "$0")/../lib.sh"
rc=0
RAGLOAD_SAMPLE=40 RAGLOAD_MAIN_DB=rl_main_job RAGLOAD_REPORTS=$TMP/reports "$ROOT/run.sh" > "$TMP/out" 2>&1 || rc=$?
t_eq "./run.sh main job exits 0 on a 40-page sample" 0 "$rc"
[ "$rc" = 0 ] || tail -n 20 "$TMP/out"
export PGDATABASE=rl_main_job
t_eq "40 pages loaded" 40 "$(q "SELECT count(*) FROM documents")"
t_check "summary printed" grep -q 'documents: 40 added' "$TMP/out"
t_eq "no chunk holds the manual's navigation bars (DocBook's navheader and navfooter)" 0 \
  "$(q "SELECT count(*) FROM chunks WHERE chunk_text ~ '\mPrev\s+Up\M|\mHome\s+Next\M'")"
t_check "html headings kept in chunk metadata" test "$(q "SELECT count(*) FROM chunks WHERE chunk_metadata ? 'headings'")" -gt 0
t_check "source names are archive!entry" test "$(q "SELECT count(*) FROM documents WHERE source_name LIKE 'pg-manual-sample40.tar.zst!%.html'")" = 40
t_check "vector indexes built" test "$(q "SELECT count(*) FROM pg_indexes WHERE indexname IN ('embeddings_hnsw_halfvec_idx', 'embeddings_ivfflat_halfvec_idx')")" = 2
report=$(sed -n 's/^report: //p' "$TMP/out")
t_check "the main job prints the path of report.html" test -f "$report"
t_check "the report has exact, fts and hybrid rows" python3 -c "
import json, sys; r = json.load(open('$TMP/reports/latest/results.json'))
m = {q['method'] for q in r['quality']}; sys.exit(0 if {'exact', 'fts', 'hybrid'} <= m else 1)"
