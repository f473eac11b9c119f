# ragload search and ragload embed on SciFact (the built-in model at default settings):
#  - every claim of qrels/test.tsv searched through the CLI: >= 70% find a relevant abstract in
#    their top 10;
#  - search shows each document once, by its best chunk (--all-chunks: every chunk);
#  - `ragload embed` prints, for every claim, the vector search uses: plain SQL with it, each
#    document ranked by its nearest chunk over every chunk, returns search's top 10;
#  - fts and hybrid answer, -k and --json behave, text output is one line per result;
#  - with an HNSW index, search goes through it and finds what exact search finds.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "search: ../shared/datasets absent"; exit 0; fi
D=$DATASETS/scifact
scifact_db search
t_eq "ingest SciFact exits 0" 0 "$SCIFACT_RC"
[ "$SCIFACT_RC" = 0 ] || { tail -n 5 "$SCIFACT_ERR"; exit 0; }

# The claims of the test qrels: one line each, "qid<TAB>text".
python3 - "$D/queries.jsonl" "$D/qrels/test.tsv" > "$TMP/claims.tsv" <<'EOF'
import json, sys
want = {l.split("\t")[0] for l in open(sys.argv[2]).read().splitlines()[1:] if l.strip()}
for line in open(sys.argv[1]):
    q = json.loads(line)
    if q["_id"] in want:
        print(q["_id"] + "\t" + " ".join(q["text"].split()))
EOF
t_eq "300 test claims" 300 "$(wc -l < "$TMP/claims.tsv")"
claim0=$(head -n 1 "$TMP/claims.tsv" | cut -f2)

# Every claim through `ragload search --json`, two at a time (one process per claim).
start=$(date +%s)
python3 - "$RAGLOAD" "$TMP/claims.tsv" "$TMP/dense.json" <<'EOF'
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
ragload, claims, out = sys.argv[1:4]
rows = [l.split("\t", 1) for l in open(claims).read().splitlines()]
def search(row):
    p = subprocess.run([ragload, "search", row[1], "-k", "10", "--json"], capture_output=True, text=True)
    return row[0], p.returncode, p.stdout, p.stderr
res = {}
with ThreadPoolExecutor(2) as ex:
    for qid, rc, so, se in ex.map(search, rows):
        res[qid] = json.loads(so) if rc == 0 else {"error": se, "rc": rc}
json.dump(res, open(out, "w"))
EOF
took=$(( $(date +%s) - start ))
echo "   300 searches, a process each, took $took s (reported, not asserted: speed lives in make bench)"

py_check() { t_json "$1" "$TMP/dense.json" "$2"; }  # r: qid -> search JSON
py_check "every search exits 0 with 10 results" \
  'all("results" in x and len(x["results"]) == 10 for x in r.values())'
py_check "results carry rank, score, chunk and document ids, source and text" \
  'all(h["rank"] == i + 1 and h["chunk_id"] > 0 and h["doc_id"] > 0 and h["text"] and h["source_name"].startswith("corpus.jsonl#") for x in r.values() for i, h in enumerate(x["results"]))'
py_check "no document appears twice in a ranking" \
  'all(len({h["doc_id"] for h in x["results"]}) == len(x["results"]) for x in r.values())'
py_check "scores (cosine similarity) descend" \
  'all(all(a["score"] >= b["score"] for a, b in zip(x["results"], x["results"][1:])) for x in r.values())'
found=$(python3 - "$TMP/dense.json" "$D/qrels/test.tsv" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
rel = {}
for l in open(sys.argv[2]).read().splitlines()[1:]:
    q, d, s = l.split("\t")
    if int(s) > 0:
        rel.setdefault(q, set()).add(d)
print(sum(1 for q in r if {h["source_name"].split("#", 1)[1] for h in r[q].get("results", [])} & rel.get(q, set())))
EOF
)
t_check ">= 70% of the 300 test claims find a relevant abstract in their top 10 ($found)" \
  test "${found:-0}" -ge 210

# The local model cache (models/store.c): the searches above read the model from the database
# once and from the cache after; a damaged cached file is ignored and replaced; "off" writes none.
mc=$TMP/model-cache
model=$(q "SELECT value FROM ragload_corpus WHERE key = 'model'")
RAGLOAD_MODEL_CACHE=$mc "$RAGLOAD" search "$claim0" -k 10 --json > "$TMP/c1.json"
t_check "search keeps the model in the cache folder, named by the model ($model)" \
  test -s "$mc/$model.model"
cmp -s "$TMP/c1.json" <(RAGLOAD_MODEL_CACHE=$mc "$RAGLOAD" search "$claim0" -k 10 --json)
t_eq "a search through the cached model prints the same results" 0 $?
printf 'damaged' | dd of="$mc/$model.model" bs=1 seek=4096 conv=notrunc status=none
RAGLOAD_MODEL_CACHE=$mc "$RAGLOAD" search "$claim0" -k 10 --json > "$TMP/c2.json" 2> "$TMP/c2.err"
t_check "a damaged cached model is ignored: same results, nothing said" \
  sh -c 'cmp -s "$1" "$2" && ! test -s "$3"' _ "$TMP/c1.json" "$TMP/c2.json" "$TMP/c2.err"
"$RAGLOAD" -q model export "$TMP/stored.model"
t_check "... and replaced by the stored model's bytes" cmp -s "$TMP/stored.model" "$mc/$model.model"
RAGLOAD_MODEL_CACHE=off "$RAGLOAD" search "$claim0" -k 10 --json > "$TMP/c3.json"
t_check "RAGLOAD_MODEL_CACHE=off: same results" cmp -s "$TMP/c1.json" "$TMP/c3.json"

# `ragload embed` prints the vector search uses: plain SQL with it gives search's top 10.
cut -f2 "$TMP/claims.tsv" > "$TMP/claims.txt"
rc=0; "$RAGLOAD" embed < "$TMP/claims.txt" > "$TMP/vectors.txt" 2> "$TMP/embed.err" || rc=$?
t_eq "embed exits 0" 0 "$rc"
t_eq "embed prints one vector per claim" 300 "$(wc -l < "$TMP/vectors.txt")"
dim=$(q "SELECT vector_dims(embedding_vector) FROM embeddings LIMIT 1")
t_check "a vector is a pgvector literal of the model's $dim floats" \
  test "$(head -n 1 "$TMP/vectors.txt" | tr ',' '\n' | wc -l)" = "$dim" -a "$(head -c 1 "$TMP/vectors.txt")" = "["
python3 - "$TMP/claims.tsv" "$TMP/vectors.txt" > "$TMP/sql.txt" <<'EOF'
import sys
qids = [l.split("\t", 1)[0] for l in open(sys.argv[1]).read().splitlines()]
for q, v in zip(qids, open(sys.argv[2]).read().splitlines()):
    # every chunk's distance, each document by its nearest chunk: no index, no over-fetch
    print(f"SELECT '{q}', string_agg(chunk_id::text, ' ' ORDER BY d, chunk_id) FROM (SELECT "
          f"chunk_id, d FROM (SELECT DISTINCT ON (c.doc_id) e.chunk_id, e.embedding_vector <=> "
          f"'{v}'::vector AS d FROM embeddings e JOIN chunks c USING (chunk_id) ORDER BY "
          f"c.doc_id, d, e.chunk_id) t ORDER BY d, chunk_id LIMIT 10) u;")
EOF
split -n l/2 "$TMP/sql.txt" "$TMP/sql.part."
for f in "$TMP"/sql.part.*; do psql -X -qtA -F'	' -f "$f" > "$f.out" & done
wait
cat "$TMP"/sql.part.*.out > "$TMP/sql.out"
python3 - "$TMP/dense.json" "$TMP/sql.out" > "$TMP/sql.diff" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n = same = 0
for l in open(sys.argv[2]).read().splitlines():
    q, ids = l.split("\t")
    n += 1
    mine = " ".join(str(h["chunk_id"]) for h in r[q].get("results", []))
    same += mine == ids
    if mine != ids:
        print(q, "search:", mine, "sql:", ids)
print(n, same)
EOF
t_eq "SQL with embed's vector (each document by its nearest chunk) returns search's top 10 for every claim" \
  "300 300" "$(tail -n 1 "$TMP/sql.diff")"

# One document per result by default; --all-chunks shows each chunk, so one abstract can
# take several ranks (it does for this query on SciFact).
nrep() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(len(r) - len({h["doc_id"] for h in r}), len(r))' "$1"; }
for m in dense bm25 fts hybrid hybrid-fts; do
  "$RAGLOAD" search "aspirin and heart attacks" --method $m -k 10 --json > "$TMP/a.json"
  t_eq "--method $m: 10 results, no document twice" "0 10" "$(nrep "$TMP/a.json")"
done
"$RAGLOAD" search "aspirin and heart attacks" -k 10 --all-chunks --json > "$TMP/a.json"
t_check "--all-chunks: 10 chunks, some of one document ($(nrep "$TMP/a.json"))" \
  test "$(nrep "$TMP/a.json" | cut -d' ' -f1)" -gt 0 -a "$(nrep "$TMP/a.json" | cut -d' ' -f2)" = 10
"$RAGLOAD" search "aspirin and heart attacks" -k 10 --json > "$TMP/d.json"
t_check "the default ranking is --all-chunks' with later chunks of a document dropped" python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["results"]; d = json.load(open(sys.argv[2]))["results"]
seen, first = set(), []
for h in a:
    if h["doc_id"] not in seen:
        seen.add(h["doc_id"]); first.append(h["chunk_id"])
sys.exit(0 if [h["chunk_id"] for h in d][:len(first)] == first else 1)' "$TMP/a.json" "$TMP/d.json"
out=$("$RAGLOAD" search "zzqqxxyy" --method fts); rc=$?
t_check "no match: 'no results', exit 0" test "$rc" = 0 -a "$out" = "no results"

# The other methods, -k, --json, text output.
claim=$(head -n 1 "$TMP/claims.txt")
for m in bm25 fts hybrid hybrid-fts; do
  rc=0; "$RAGLOAD" search "$claim" --method $m -k 5 --json > "$TMP/$m.json" 2> "$TMP/$m.err" || rc=$?
  t_eq "search --method $m exits 0" 0 "$rc"
  t_eq "search --method $m -k 5 gives 5 results" 5 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["results"]))' "$TMP/$m.json")"
done
"$RAGLOAD" search "$claim" -k 3 > "$TMP/text.out"
t_eq "text output: one line per result" 3 "$(wc -l < "$TMP/text.out")"
t_check "text output: rank, score, source name, text" \
  grep -qE '^  1  [0-9.-]+  corpus\.jsonl#[0-9]+  .+' "$TMP/text.out"
rc=0; "$RAGLOAD" search "$claim" --method nope > /dev/null 2>&1 || rc=$?
t_eq "an unknown method is a usage error" 2 "$rc"
newdb search_empty
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" search "$claim" > /dev/null 2> "$TMP/empty.err" || rc=$?
t_eq "search on a corpus without a model exits 1" 1 "$rc"
t_check "... and says so" grep -q "no model" "$TMP/empty.err"
export PGDATABASE=rl_search

# Through an HNSW index: the plan uses it and finds what exact search found.
rc=0; "$RAGLOAD" --no-progress index --only hnsw 2> "$TMP/index.err" || rc=$?
t_eq "index --only hnsw exits 0" 0 "$rc"
head -n 30 "$TMP/claims.tsv" > "$TMP/claims30.tsv"
python3 - "$RAGLOAD" "$TMP/claims30.tsv" "$TMP/dense.json" > "$TMP/hnsw.out" <<'EOF'
import json, subprocess, sys
ragload, claims, exact = sys.argv[1:4]
ex = json.load(open(exact))
tot = 0.0
for q, text in (l.split("\t", 1) for l in open(claims).read().splitlines()):
    p = subprocess.run([ragload, "search", text, "-k", "10", "--json"], capture_output=True, text=True)
    got = {h["chunk_id"] for h in json.loads(p.stdout)["results"]}
    tot += len(got & {h["chunk_id"] for h in ex[q]["results"]}) / 10
print(f"{tot / 30:.3f}")
EOF
t_check "search through HNSW (ef_search 200) finds >= 95% of the exact top 10 ($(cat "$TMP/hnsw.out"))" \
  python3 -c 'import sys; sys.exit(0 if float(open(sys.argv[1]).read()) >= 0.95 else 1)' "$TMP/hnsw.out"
