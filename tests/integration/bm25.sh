# BM25 in the database (migrations 0004, 0006) on a small corpus of SciFact abstracts, one file each:
#  - ragload_bm25() equals an Okapi BM25 computed here, independently, in python3 over each
#    chunk's terms (`ragload embed --terms`, the stems the load wrote), scores and order;
#  - the extension's C scorer (ragload_bm25_scan, which ragload_bm25 calls) and the plain SQL
#    (ragload_bm25_sql) give the same rows bit for bit, after every change below;
#  - N, the total length (ragload_bm25_stats) and each term's df (ragload_bm25_df) stay exact
#    after an incremental load, a replaced document, a prune and a reindex (new chunking,
#    shadow tables swapped in) and its rollback, and the postings follow every one of them;
#  - ties break by chunk id (duplicate documents score alike) and two runs rank alike;
#  - search --method bm25|hybrid work; the reader role calls the three SQL functions.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "bm25: ../shared/datasets absent"; exit 0; fi
D=$DATASETS/scifact
newdb bm25
"$RAGLOAD" -q init --roles

# 60 abstracts as text files (title, blank line, text): 45 in docs/ (two of them twice, for
# ties), 15 in more/ for an incremental load
mkdir -p "$TMP/docs" "$TMP/more"
python3 - "$D/corpus.jsonl" "$TMP" <<'EOF'
import json, sys
for i, line in enumerate(open(sys.argv[1])):
    if i == 60:
        break
    d = json.loads(line)
    text = d["title"] + "\n\n" + d["text"] + "\n"
    open("%s/%s/%s.txt" % (sys.argv[2], "docs" if i < 45 else "more", d["_id"]), "w").write(text)
    if i < 2:
        open("%s/docs/dup%d.txt" % (sys.argv[2], i), "w").write(text)
EOF
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/docs" 2> "$TMP/ingest.err" || rc=$?
t_eq "ingest 47 abstracts exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/ingest.err"
t_eq "an empty corpus's first load writes every chunk's postings itself: marked, no backfill" \
  "all 0" "$(q "SELECT value FROM ragload_corpus WHERE key = 'bm25_postings'") $(grep -c 'loaded before them' "$TMP/ingest.err")"
# the first load builds the postings' indexes after it, as the migrations define them
pix() { q "SELECT string_agg(indexdef, ' | ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'ragload_bm25_postings'"; }
PIX_WANT="CREATE INDEX ragload_bm25_postings_chunk_idx ON public.ragload_bm25_postings USING btree (chunk_id) | CREATE INDEX ragload_bm25_postings_term_idx ON public.ragload_bm25_postings USING btree (term, chunk_id) INCLUDE (tf, len)"
t_eq "a first load builds both postings indexes after it, as the migrations make them" "$PIX_WANT" "$(pix)"
t_eq "... and says so" 2 "$(grep -c 'built ragload_bm25_postings_' "$TMP/ingest.err")"

# queries: 12 SciFact claims, and their terms
head -n 12 "$D/queries.jsonl" > "$TMP/queries.jsonl"
"$RAGLOAD" embed --jsonl --json --terms < "$TMP/queries.jsonl" > "$TMP/qterms.jsonl"

# The brute force: every live chunk's terms from its text (as a query's are made), then
# Okapi BM25 as the SQL function documents it (idf = ln(1 + (N - df + 0.5)/(df + 0.5))).
cat > "$TMP/brute.py" <<'EOF'
import collections, json, math, subprocess, sys
ragload, qterms, chunks, k1, b = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
rows = [json.loads(l) for l in open(chunks)]
p = subprocess.run([ragload, "embed", "--jsonl", "--json", "--terms"], input="".join(
    json.dumps({"id": r["chunk_id"], "text": r["text"]}) + "\n" for r in rows), text=True,
    capture_output=True, check=True)
terms = {}
for l in p.stdout.splitlines():
    x = json.loads(l)
    terms[x["id"]] = collections.Counter(x["terms"])
N = len(terms)
length = {c: sum(t.values()) for c, t in terms.items()}
avg = sum(length.values()) / max(N, 1)
df = collections.Counter(t for c in terms.values() for t in c)
out = {}
for l in open(qterms):
    q = json.loads(l)
    qtf = collections.Counter(q["terms"])
    score = collections.defaultdict(float)
    for t, n in qtf.items():
        if not df[t]:
            continue
        idf = n * math.log(1 + (N - df[t] + 0.5) / (df[t] + 0.5))
        for c, tc in terms.items():
            f = tc.get(t, 0)
            if f:
                score[c] += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * length[c] / avg))
    out[q["id"]] = sorted(score.items(), key=lambda x: (-x[1], x[0]))[:10]
json.dump({"N": N, "total": sum(length.values()), "rank": out}, open(sys.argv[6], "w"))
EOF
# SQL's rankings for the same queries, as JSON {qid: [[chunk_id, score], ...]}
sql_rank() {  # k1 b out [function]
  python3 - "$TMP/qterms.jsonl" "$1" "$2" "${4:-ragload_bm25}" > "$TMP/rank.sql" <<'EOF'
import json, sys
print("SELECT json_object_agg(qid, r) FROM (")
print(" UNION ALL ".join(
    "SELECT %s AS qid, (SELECT coalesce(json_agg(json_build_array(chunk_id, score)), '[]') "
    "FROM %s('{%s}', 10, %s, %s)) AS r" % ("'" + q["id"] + "'", sys.argv[4], ",".join(map(str, q["terms"])), sys.argv[2], sys.argv[3])
    for q in map(json.loads, open(sys.argv[1]))))
print(") x")
EOF
  psql -X -qtA -v ON_ERROR_STOP=1 -f "$TMP/rank.sql" > "$3"
}
# compare: same chunks in the same order, scores within 1e-8 (relative; SQL rounds each
# term's part to 2^-32)
compare() {  # label k1 b
  q "SELECT json_build_object('chunk_id', chunk_id, 'text', chunk_text) FROM chunks" > "$TMP/chunks.jsonl"
  python3 "$TMP/brute.py" "$RAGLOAD" "$TMP/qterms.jsonl" "$TMP/chunks.jsonl" "$2" "$3" "$TMP/brute.json"
  sql_rank "$2" "$3" "$TMP/sql.json"
  t_check "$1: ragload_bm25 (k1 $2, b $3) equals the brute-force BM25 on 12 queries" python3 - "$TMP/brute.json" "$TMP/sql.json" <<'EOF'
import json, sys
b, s = json.load(open(sys.argv[1]))["rank"], json.load(open(sys.argv[2]))
ok = set(b) == set(s) and any(b.values())
for qid in b:
    x, y = b[qid], s.get(qid, [])
    if [c for c, _ in x] != [c for c, _ in y] or any(abs(p - q) > 1e-8 * max(1, abs(p)) for (_, p), (_, q) in zip(x, y)):
        print("query", qid, "brute", x[:3], "sql", y[:3]); ok = False
sys.exit(0 if ok else 1)
EOF
  # the extension's C scorer (ragload_bm25 calls it) and the plain SQL: the same bits
  if [ "$scan" = t ]; then
    sql_rank "$2" "$3" "$TMP/plain.json" ragload_bm25_sql
    t_check "$1: ragload_bm25_scan (C) and ragload_bm25_sql rank and score alike, bit for bit" \
      cmp -s "$TMP/sql.json" "$TMP/plain.json"
  fi
  local stats; stats=$(q "SELECT sum(n) || ' ' || sum(total_len) FROM ragload_bm25_stats")
  t_eq "$1: N and total length are exact" "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["N"], r["total"])' "$TMP/brute.json")" "$stats"
  t_eq "$1: ragload_bm25_df holds each term's postings count, no other term" 0 \
    "$(q "SELECT count(*) FROM (SELECT term, sum(df) AS df FROM ragload_bm25_df GROUP BY term HAVING sum(df) <> 0) d
          FULL JOIN (SELECT term, count(*) AS df FROM ragload_bm25_postings GROUP BY term) p USING (term)
          WHERE d.df IS DISTINCT FROM p.df")"
  t_eq "$1: every chunk's postings, no others" "0 0" "$(q "SELECT (SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM ragload_bm25_postings p WHERE p.chunk_id = c.chunk_id)) || ' ' || (SELECT count(*) FROM ragload_bm25_postings p WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.chunk_id = p.chunk_id))")"
}
# the extension is installed by ./run.sh setup: ragload_bm25 scores through its C scan
scan=$(q "SELECT to_regprocedure('ragload_bm25_scan(bigint[], integer, double precision, double precision)') IS NOT NULL")
t_eq "ragload_bm25 has the extension's C scorer" t "$scan"
compare "first load" 0.9 0.4
compare "first load" 1.2 0.75
t_eq "[search] stored for the SQL functions" "0.9 0.4 convex" \
  "$(q "SELECT string_agg(value, ' ' ORDER BY key DESC) FROM ragload_corpus WHERE key IN ('bm25_k1', 'bm25_b', 'hybrid_fusion')" | awk '{print $2, $3, $1}')"

# ties: the duplicated abstracts score alike, and rank by chunk id
dupq=$(head -n 1 "$TMP/docs/dup0.txt" | "$RAGLOAD" embed --terms)
top=$(q "SELECT string_agg(chunk_id || ' ' || score, ' ') FROM ragload_bm25('$dupq', 2)")
t_check "a title's abstract and its duplicate tie first, lower chunk id first" \
  python3 -c 'import sys; c1, s1, c2, s2 = sys.argv[1].split(); sys.exit(0 if s1 == s2 and int(c1) < int(c2) else 1)' "$top"
ties=$(q "SELECT string_agg(chunk_id::text, ' ') FROM ragload_bm25('$dupq', 20)")
t_eq "two runs rank alike (bm25)" "$ties" "$(q "SELECT string_agg(chunk_id::text, ' ') FROM ragload_bm25('$dupq', 20)")"
a=$("$RAGLOAD" search --method hybrid --all-chunks --json -k 5 "$(head -n 1 "$TMP/docs/dup0.txt")")
b=$("$RAGLOAD" search --method hybrid --all-chunks --json -k 5 "$(head -n 1 "$TMP/docs/dup0.txt")")
t_eq "two runs rank alike (search --method hybrid)" "$a" "$b"

# an incremental load with a replaced document
echo "A replaced text about zebrafish heart regeneration." > "$TMP/docs/dup1.txt"
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/docs" "$TMP/more" 2> "$TMP/ingest.err" || rc=$?
t_eq "incremental ingest (15 new, 1 replaced) exits 0" 0 "$rc"
t_eq "a load into a corpus with chunks keeps the postings indexes (nothing built)" "0 $PIX_WANT" \
  "$(grep -c 'built ragload_bm25_postings_' "$TMP/ingest.err") $(pix)"
compare "incremental load, replaced document" 0.9 0.4
t_eq "stats compacted to one row after ingest" 1 "$(q "SELECT count(*) FROM ragload_bm25_stats")"
t_eq "document frequencies compacted to one row a term after ingest" 0 \
  "$(q "SELECT count(*) FROM (SELECT term FROM ragload_bm25_df GROUP BY term HAVING count(*) > 1 OR sum(df) = 0) x")"
# prune
rm "$TMP/docs/dup0.txt" "$(ls -d "$TMP"/docs/*.txt | head -n 1)"
"$RAGLOAD" -q ingest --prune "$TMP/docs" "$TMP/more"
compare "prune" 0.9 0.4
# reindex with another chunking: the shadow generation brings its own postings and stats
rc=0; "$RAGLOAD" --no-progress reindex --chunk-tokens 64 --chunk-overlap 8 2> "$TMP/reindex.err" || rc=$?
t_eq "reindex --chunk-tokens 64 exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/reindex.err"
t_check "reindex made more, smaller chunks" test "$(q "SELECT count(*) FROM chunks")" -gt "$(q "SELECT count(*) FROM ragload_prev.chunks")"
compare "reindex" 0.9 0.4
t_check "the previous generation keeps its own stats" test "$(q "SELECT sum(n) FROM ragload_prev.ragload_bm25_stats")" = "$(q "SELECT count(*) FROM ragload_prev.chunks")"
"$RAGLOAD" -q reindex --rollback
compare "rollback" 0.9 0.4
echo "A new text about the triggers that moved with the tables." > "$TMP/more/new.txt"
"$RAGLOAD" -q ingest "$TMP/more"   # a load after the swaps: the triggers moved with the tables
compare "load after rollback" 0.9 0.4

# a corpus loaded before BM25: chunks without postings get theirs at the next ingest
q "DELETE FROM ragload_bm25_postings WHERE chunk_id IN (SELECT chunk_id FROM chunks ORDER BY chunk_id LIMIT 20);
   DELETE FROM ragload_corpus WHERE key = 'bm25_postings'"
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/more" 2> "$TMP/backfill.err" || rc=$?
t_check "ingest writes the postings of 20 chunks that had none" grep -q "BM25 postings written for 20 chunks" "$TMP/backfill.err"
compare "backfill" 0.9 0.4

# a first load killed before its end leaves the postings without indexes: init and the next
# ingest build them again, and say so
t_check "status shows the postings with their indexes" bash -c "'$RAGLOAD' status | grep -q 'BM25 postings .* with their indexes'"
q "DROP INDEX ragload_bm25_postings_term_idx; DROP INDEX ragload_bm25_postings_chunk_idx"
t_check "status names the missing postings indexes" bash -c "'$RAGLOAD' status | grep -q 'missing: ragload_bm25_postings_term_idx, ragload_bm25_postings_chunk_idx'"
"$RAGLOAD" init 2> "$TMP/init.err" || true
t_eq "init builds the missing postings indexes again" "$PIX_WANT" "$(pix)"
t_check "... and warns" grep -q "BM25 postings lacked both their indexes" "$TMP/init.err"
q "DROP INDEX ragload_bm25_postings_term_idx"
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/more" 2> "$TMP/repair.err" || rc=$?
t_eq "ingest builds a missing postings index again" "0 $PIX_WANT" "$rc $(pix)"
t_check "... and warns" grep -q "BM25 postings lacked an index" "$TMP/repair.err"
compare "postings indexes built again" 0.9 0.4

# search
for m in bm25 hybrid; do
  out=$("$RAGLOAD" search --method $m --json -k 3 "$(head -n 1 "$TMP/more/$(ls "$TMP/more" | head -n 1)")" 2> "$TMP/search.err")
  cat "$TMP/search.err"
  t_check "search --method $m returns 3 results, its document first" python3 -c '
import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if len(r["results"]) == 3 and r["results"][0]["source_name"] == sys.argv[2] else 1)' "$out" "more/$(ls "$TMP/more" | head -n 1)"
done

# the reader role calls the three functions
asreader() { PGUSER=ragload_reader psql -X -qtA -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
vec=$(head -n 1 "$TMP/queries.jsonl" | "$RAGLOAD" embed --jsonl)
terms=$(python3 -c 'import json,sys; print("{" + ",".join(map(str, json.loads(open(sys.argv[1]).readline())["terms"])) + "}")' "$TMP/qterms.jsonl")
t_eq "reader: ragload_bm25" 5 "$(asreader "SELECT count(*) FROM ragload_bm25('$terms', 5)")"
t_eq "reader: ragload_dense" 5 "$(asreader "SELECT count(*) FROM ragload_dense('$vec', 5)")"
t_eq "reader: ragload_hybrid" 5 "$(asreader "SELECT count(*) FROM ragload_hybrid('$vec', '$terms', 5)")"
t_eq "empty terms: no rows" 0 "$(q "SELECT count(*) FROM ragload_bm25('{}', 5)")"
t_eq "NULL query: no rows" "0 0" "$(q "SELECT count(*) FROM ragload_bm25(NULL, 5)") $(q "SELECT count(*) FROM ragload_dense(NULL, 5)")" 
q "TRUNCATE documents CASCADE"
t_eq "TRUNCATE empties the postings, the stats and the document frequencies with the chunks" "0 0 0" "$(q "SELECT (SELECT count(*) FROM ragload_bm25_postings) || ' ' || (SELECT coalesce(sum(n), 0) FROM ragload_bm25_stats) || ' ' || (SELECT count(*) FROM ragload_bm25_df)")"
