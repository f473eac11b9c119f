#!/usr/bin/env bash
# bench/ext_latency.sh [QUERIES_PER_CONN] — ragload_search's latency (p50/p95/p99, ms) for each
# method (dense, bm25, hybrid) at 1 and 4 connections, on the corpus in $PGDATABASE (with the
# extension; `eval "$(./run.sh env)"` first), with the SciFact test queries.
#
# Baseline, measured in the same run on the same queries: the very SQL ragload_search runs
# (ragload_dense / ragload_bm25 / ragload_hybrid joined to chunks and documents) given the
# query's vector and terms computed beforehand on the client (`ragload embed`, ragload_terms),
# as a client without the extension runs it. The ratio extension / baseline is the cost of
# embedding and splitting the query in the backend and of the SPI glue. Each connection makes
# one call first (the model's load, reported apart as first_call_ms) and is then timed.
# Writes reports/bench/ext_latency.json and prints a Markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100}
Q=$ROOT/../shared/datasets/scifact
[ -f "$Q/qrels/test.tsv" ] || { echo "ext_latency: ../shared/datasets/scifact absent" >&2; exit 1; }
mkdir -p "$ROOT/reports/bench"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 - "$Q" "$TMP/q.txt" <<'EOF'
import json, sys
ids = {l.split("\t")[0] for l in open(sys.argv[1] + "/qrels/test.tsv").read().splitlines()[1:] if l}
with open(sys.argv[2], "w") as out:
    for l in open(sys.argv[1] + "/queries.jsonl"):
        j = json.loads(l)
        if j["_id"] in ids:
            out.write(j["text"].replace("\n", " ") + "\n")
EOF
"$ROOT/build/ragload" embed < "$TMP/q.txt" > "$TMP/v.txt"
/usr/bin/python3 - "$TMP/q.txt" "$TMP/v.txt" "$N" "$ROOT/reports/bench/ext_latency.json" <<'EOF'
import json, sys, threading, time
import psycopg
qs = open(sys.argv[1]).read().splitlines()
vs = open(sys.argv[2]).read().splitlines()
n = int(sys.argv[3])
JOIN = (" s JOIN chunks c ON c.chunk_id = s.chunk_id JOIN documents d ON d.doc_id = c.doc_id "
        "ORDER BY s.score DESC, s.chunk_id")
BASE = {"dense": "SELECT s.chunk_id, c.doc_id, s.score, d.source_name::text, c.chunk_text FROM ragload_dense(%(v)s::vector, 10)" + JOIN,
        "bm25": "SELECT s.chunk_id, c.doc_id, s.score, d.source_name::text, c.chunk_text FROM ragload_bm25(%(t)s, 10)" + JOIN,
        "hybrid": "SELECT s.chunk_id, c.doc_id, s.score, d.source_name::text, c.chunk_text FROM ragload_hybrid(%(v)s::vector, %(t)s, 10)" + JOIN}
with psycopg.connect(autocommit=True) as c:
    terms = [c.execute("SELECT ragload_terms(%s)", (q,)).fetchone()[0] for q in qs]
    rows = c.execute("SELECT count(*) FROM chunks").fetchone()[0]

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

def run(method, conns, ext):
    lat, first = [], []
    def worker(w):
        with psycopg.connect(autocommit=True) as c:
            t0 = time.perf_counter()
            c.execute("SELECT ragload_embed('warm up')").fetchall()
            first.append((time.perf_counter() - t0) * 1000)
            for i in range(n):
                k = (w * n + i) % len(qs)
                t0 = time.perf_counter()
                if ext:
                    c.execute("SELECT * FROM ragload_search(%s, 10, %s)", (qs[k], method)).fetchall()
                else:
                    c.execute(BASE[method], {"v": vs[k], "t": terms[k]}).fetchall()
                lat.append((time.perf_counter() - t0) * 1000)
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(conns)]
    t0 = time.perf_counter()
    for t in ts: t.start()
    for t in ts: t.join()
    wall = time.perf_counter() - t0
    return {"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99),
            "qps": len(lat) / wall, "first_call_ms": max(first), "calls": len(lat)}

res = []
for method in ["dense", "bm25", "hybrid"]:
    for conns in [1, 4]:
        b = run(method, conns, False)
        e = run(method, conns, True)
        res.append({"method": method, "connections": conns, "extension": e, "baseline": b,
                    "p95_ratio": e["p95"] / b["p95"]})
out = {"chunks": rows, "queries_per_connection": n, "k": 10, "results": res}
json.dump(out, open(sys.argv[4], "w"), indent=1)
print(f"ragload_search latency, {rows} chunks, k = 10, {n} SciFact test queries per connection")
print()
print("| method | conns | p50 ms | p95 ms | p99 ms | qps | baseline p95 ms | p95 ratio | first call ms |")
print("|---|---|---|---|---|---|---|---|---|")
for r in res:
    e, b = r["extension"], r["baseline"]
    print(f"| {r['method']} | {r['connections']} | {e['p50']:.1f} | {e['p95']:.1f} | {e['p99']:.1f} | "
          f"{e['qps']:.0f} | {b['p95']:.1f} | {r['p95_ratio']:.2f} | {e['first_call_ms']:.0f} |")
EOF
