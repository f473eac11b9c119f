#!/usr/bin/env bash
# bench/bm25.sh DBNAME [COPIES] — BM25 at scale: the designs of migrations 0004 and 0006
# side by side on one machine, at COPIES x SciFact's chunks (default 13: ~104k chunks).
#
#   postings   ragload_bm25_sql(): one row per (term, chunk) with tf and length, document
#              frequencies counted at query time from the term index (exact, no maintenance)
#   scan       ragload_bm25() with the extension: ragload_bm25_scan (extension/bm25.c), the
#              same scores summed in C from one index-only scan per term (when installed)
#   sparsevec  each chunk's BM25 term weights precomputed as a pgvector sparsevec (weights
#              depend on N and the average length, so they go stale between refreshes),
#              ranked by inner product with the query's idf vector (an exact scan; pgvector's
#              sparsevec HNSW is approximate)
#
# DBNAME must hold SciFact as `ragload init` + `ingest corpus.jsonl` leave it; it is copied
# (createdb -T) into DBNAME_bm25bench, which is dropped at the end. Queries: SciFact's 300 test
# claims, terms from `ragload embed --terms`; each design runs them through pgbench on 1 and
# on 4 connections for 20 s. Prints p50/p95 per design and the sparsevec/postings and scan/postings ratios
# (speed is a ratio against a baseline measured in the same run, never an absolute target).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${1:?usage: bench/bm25.sh DBNAME [COPIES]}
COPIES=${2:-13}
DB=${SRC}_bm25bench
RAGLOAD=${RAGLOAD:-$ROOT/build/ragload}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
D=${DATASETS:-$ROOT/../shared/datasets}/scifact
T=$(mktemp -d)
trap 'rm -rf "$T"; dropdb --if-exists "$DB" 2>/dev/null || true' EXIT
q() { psql -X -qtA -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

dropdb --if-exists "$DB" 2>/dev/null || true
createdb -T "$SRC" "$DB"
python3 - "$D/queries.jsonl" "$D/qrels/test.tsv" > "$T/q.jsonl" <<'EOF'
import json, sys
want = {l.split("\t")[0] for l in open(sys.argv[2]).read().splitlines()[1:] if l.strip()}
for l in open(sys.argv[1]):
    if json.loads(l)["_id"] in want:
        print(l.strip())
EOF
"$RAGLOAD" embed --jsonl --json --terms < "$T/q.jsonl" |
  python3 -c 'import json,sys
for i, l in enumerate(sys.stdin): print("%d\t{%s}" % (i + 1, ",".join(map(str, json.loads(l)["terms"]))))' > "$T/q.tsv"
n_q=$(wc -l < "$T/q.tsv")

# COPIES x the chunks: the postings (and N) copied with chunk ids shifted; the real chunk rows
# are not needed by ragload_bm25()
max=$(q "SELECT max(chunk_id) FROM chunks")
t0=$(date +%s)
q "INSERT INTO ragload_bm25_postings SELECT term, chunk_id + i * $max, tf, len FROM ragload_bm25_postings, generate_series(1, $((COPIES - 1))) i;
   INSERT INTO ragload_bm25_stats (n, total_len) SELECT (SELECT count(*) FROM chunks) * $((COPIES - 1)), 0;
   SELECT ragload_bm25_compact()"
psql -X -q -d "$DB" -c "VACUUM (ANALYZE) ragload_bm25_postings"
n_chunks=$(q "SELECT sum(n) FROM ragload_bm25_stats")
n_post=$(q "SELECT count(*) FROM ragload_bm25_postings")
echo "postings: $n_chunks chunks, $n_post postings ($(q "SELECT pg_size_pretty(pg_total_relation_size('ragload_bm25_postings'))")), built in $(( $(date +%s) - t0 )) s"

# the sparsevec candidate: a dimension per term, each chunk's BM25 tf part as its weight
t0=$(date +%s)
q "CREATE TABLE bench_terms AS SELECT term, (row_number() OVER (ORDER BY term))::int AS dim, count(*) AS df FROM ragload_bm25_postings GROUP BY term;
   CREATE UNIQUE INDEX ON bench_terms (term);
   CREATE TABLE bench_sv AS WITH s AS (SELECT sum(n)::float8 AS n, sum(total_len)::float8 / sum(n) AS avglen FROM ragload_bm25_stats)
     SELECT p.chunk_id, ('{' || string_agg(t.dim || ':' || (p.tf * 1.9 / (p.tf + 0.9 * (0.6 + 0.4 * p.len / s.avglen))), ',' ORDER BY t.dim)
       || '}/' || (SELECT count(*) FROM bench_terms))::sparsevec AS w
     FROM ragload_bm25_postings p JOIN bench_terms t USING (term), s GROUP BY p.chunk_id;
   ANALYZE bench_terms, bench_sv"
echo "sparsevec: $(q "SELECT count(*) FROM bench_sv") rows ($(q "SELECT pg_size_pretty(pg_total_relation_size('bench_sv'))")), built in $(( $(date +%s) - t0 )) s"
q "CREATE TABLE bench_q (id int PRIMARY KEY, terms bigint[]);"
psql -X -q -d "$DB" -c "\\copy bench_q FROM '$T/q.tsv'"
q "CREATE TABLE bench_qv AS SELECT q.id, ('{' || coalesce(string_agg(t.dim || ':' || (c.n * ln(1 + (s.n - t.df + 0.5) / (t.df + 0.5))), ',' ORDER BY t.dim), '') || '}/' || (SELECT count(*) FROM bench_terms))::sparsevec AS v
   FROM bench_q q LEFT JOIN LATERAL (SELECT x AS term, count(*) AS n FROM unnest(q.terms) x GROUP BY x) c ON true
   LEFT JOIN bench_terms t ON t.term = c.term, (SELECT sum(n)::float8 AS n FROM ragload_bm25_stats) s GROUP BY q.id;
   ALTER TABLE bench_qv ADD PRIMARY KEY (id); ANALYZE bench_qv"

cat > "$T/postings.sql" <<EOF
\\set id random(1, $n_q)
SELECT count(*) FROM ragload_bm25_sql((SELECT terms FROM bench_q WHERE id = :id), 10);
EOF
cat > "$T/scan.sql" <<EOF
\\set id random(1, $n_q)
SELECT count(*) FROM ragload_bm25((SELECT terms FROM bench_q WHERE id = :id), 10);
EOF
cat > "$T/sparsevec.sql" <<EOF
\\set id random(1, $n_q)
SELECT count(*) FROM (SELECT chunk_id FROM bench_sv ORDER BY w <#> (SELECT v FROM bench_qv WHERE id = :id), chunk_id LIMIT 10) x;
EOF
pct() { python3 -c 'import sys
v = sorted(float(l.split()[2]) / 1000 for l in open(sys.argv[1]))
print("%.2f %.2f %d" % (v[len(v) // 2], v[int(len(v) * 0.95)], len(v)))' "$1"; }
designs="postings sparsevec"
q "SELECT 'ragload_bm25_scan(bigint[],integer,double precision,double precision)'::regprocedure" >/dev/null 2>&1 &&
  designs="postings scan sparsevec"
for design in $designs; do
  for c in 1 4; do
    rm -f "$T"/pgbench_log.*
    (cd "$T" && "$PGBENCH" -n -d "$DB" -f "$T/$design.sql" -c "$c" -j "$c" -T 20 -l > /dev/null 2>&1)
    cat "$T"/pgbench_log.* > "$T/lat"
    read -r p50 p95 n < <(pct "$T/lat")
    echo "$design conn=$c: p50 $p50 ms, p95 $p95 ms ($n queries)"
    eval "p95_${design}_$c=$p95"
  done
done
python3 -c 'import sys; print("sparsevec/postings p95 ratio: 1 connection %.1f, 4 connections %.1f" % (float(sys.argv[1]) / float(sys.argv[2]), float(sys.argv[3]) / float(sys.argv[4])))' \
  "$p95_sparsevec_1" "$p95_postings_1" "$p95_sparsevec_4" "$p95_postings_4"
[ -n "${p95_scan_1:-}" ] &&
  python3 -c 'import sys; print("scan/postings p95 ratio: 1 connection %.2f, 4 connections %.2f" % (float(sys.argv[1]) / float(sys.argv[2]), float(sys.argv[3]) / float(sys.argv[4])))' \
    "$p95_scan_1" "$p95_postings_1" "$p95_scan_4" "$p95_postings_4"
true
