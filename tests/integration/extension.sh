# The ragload extension (extension/): `ragload init` creates it; ragload_embed gives the bits
# `ragload embed` gives on every SciFact test query; ragload_search ranks as the SQL functions
# it calls; bad input is an SQL error or an empty result; a damaged stored model is an error
# that leaves no half-loaded model behind; ragload_reader searches; without the extension,
# init says what that costs and the corpus works as before.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "extension: ../shared/datasets absent"; exit 0; fi
D=$DATASETS/scifact
scifact_db extension
[ "$SCIFACT_RC" = 0 ] || { t_fail "SciFact load failed"; exit 0; }
t_eq "ragload init created the extension" 1 "$(q "SELECT count(*) FROM pg_extension WHERE extname = 'ragload'")"

# ---- ragload_embed = ragload embed, bit for bit, on the 300 test queries ----------------------
/usr/bin/python3 - "$D/queries.jsonl" "$D/qrels/test.tsv" "$TMP/q.txt" <<'EOF'
import json, sys
ids = {l.split("\t")[0] for l in open(sys.argv[2]).read().splitlines()[1:] if l}
with open(sys.argv[3], "w") as out:
    for l in open(sys.argv[1]):
        j = json.loads(l)
        if j["_id"] in ids:
            assert "\n" not in j["text"] and "\r" not in j["text"]
            out.write(j["text"] + "\n")
EOF
"$RAGLOAD" embed < "$TMP/q.txt" > "$TMP/v.txt"
/usr/bin/python3 - "$TMP/q.txt" "$TMP/v.txt" "$TMP/qv.csv" <<'EOF'
import csv, sys
qs = open(sys.argv[1]).read().splitlines()
vs = open(sys.argv[2]).read().splitlines()
assert len(qs) == len(vs)
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f)
    for i, (qq, v) in enumerate(zip(qs, vs)):
        w.writerow([i, qq, v])
EOF
n=$(wc -l < "$TMP/q.txt")
t_eq "SciFact has 300 test queries" 300 "$n"
q "CREATE TABLE cli (id int, query text, literal text)"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy cli FROM '$TMP/qv.csv' CSV"
# both sides as float4[]: the CLI's %.9g literal reads back to its exact floats
t_eq "ragload_embed equals ragload embed bit for bit on all 300 queries" "300 300" \
  "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE ragload_embed(query)::real[] = literal::vector::real[]) FROM cli")"

# ---- ragload_search ranks as the SQL functions it calls --------------------------------------
qa=$(sed -n 1p "$TMP/q.txt" | sed "s/'/''/g"); lit=$(sed -n 1p "$TMP/v.txt")
for m in dense bm25 hybrid; do
  t_eq "ragload_search(..., 10, '$m') gives 10 rows" 10 "$(q "SELECT count(*) FROM ragload_search('$qa', 10, '$m')")"
done
t_eq "dense: the chunks of ragload_dense for the CLI's vector" \
  "$(q "SELECT string_agg(chunk_id::text, ',' ORDER BY score DESC, chunk_id) FROM ragload_dense('$lit'::vector, 10)")" \
  "$(q "SELECT string_agg(chunk_id::text, ',') FROM ragload_search('$qa', 10, 'dense')")"
t_eq "bm25: the chunks of ragload_bm25 for ragload_terms" \
  "$(q "SELECT string_agg(chunk_id::text, ',' ORDER BY score DESC, chunk_id) FROM ragload_bm25(ragload_terms('$qa'), 10)")" \
  "$(q "SELECT string_agg(chunk_id::text, ',') FROM ragload_search('$qa', 10, 'bm25')")"
t_eq "hybrid (the default method): ragload_hybrid's chunks" \
  "$(q "SELECT string_agg(chunk_id::text, ',' ORDER BY score DESC, chunk_id) FROM ragload_hybrid('$lit'::vector, ragload_terms('$qa'), 10)")" \
  "$(q "SELECT string_agg(chunk_id::text, ',') FROM ragload_search('$qa', 10)")"
t_eq "rows carry their chunk's doc_id, source_name and text" 0 \
  "$(q "SELECT count(*) FROM ragload_search('$qa', 10) s JOIN chunks c USING (chunk_id) JOIN documents d ON d.doc_id = c.doc_id WHERE s.doc_id <> c.doc_id OR s.source_name <> d.source_name OR s.chunk_text <> c.chunk_text")"
t_eq "ragload_terms: stems in text order, repeats kept, stop words skipped" "5 true true true" \
  "$(q "SELECT cardinality(t) || ' ' || (t[1] = t[4]) || ' ' || (t[2] = t[5]) || ' ' || (t[1] <> t[2]) FROM ragload_terms('Running dogs and the runners run, dogs!') t")"

# ---- bad input: SQL errors or empty results, never a lost backend -----------------------------
err() { psql -X -qtA -c "$1" 2>&1 >/dev/null | head -n 1; }
# t_err NAME SQL TEXT: the statement fails with an error containing TEXT
t_err() { local e; e=$(err "$2"); case "$e" in *"$3"*) t_pass "$1";; *) t_fail "$1 (got: $e)";; esac; }
t_err "k = 0 is an error naming k" "SELECT * FROM ragload_search('x', 0)" "k must be between 1 and 10000, not 0"
t_err "k = -5 is an error" "SELECT * FROM ragload_search('x', -5, 'bm25')" "k must be"
t_err "k = 2^31-1 is an error" "SELECT * FROM ragload_search('x', 2147483647)" "k must be"
t_err "an unknown method is an error naming it" "SELECT * FROM ragload_search('x', 10, 'sparse')" 'unknown search method "sparse"'
t_eq "NULL query, k or method: no rows" "0 0 0" \
  "$(q "SELECT (SELECT count(*) FROM ragload_search(NULL)) || ' ' || (SELECT count(*) FROM ragload_search('x', NULL)) || ' ' || (SELECT count(*) FROM ragload_search('x', 10, NULL))")"
t_eq "ragload_embed(NULL) and ragload_terms(NULL) are NULL" "t t" "$(q "SELECT ragload_embed(NULL) IS NULL, ragload_terms(NULL) IS NULL" | tr '|' ' ')"
t_eq "an empty query: e_0, no terms, no BM25 rows, dense rows" "1 {} 0 3" \
  "$(q "SELECT (ragload_embed('')::real[])[1] || ' ' || ragload_terms('')::text || ' ' || (SELECT count(*) FROM ragload_search('', 3, 'bm25')) || ' ' || (SELECT count(*) FROM ragload_search('  ', 3, 'dense'))")"
t_eq "a 1 MB query embeds and searches" "t 5" \
  "$(q "SELECT vector_dims(ragload_embed(repeat('aspirin heart ', 75000))) > 0, (SELECT count(*) FROM ragload_search(repeat('aspirin heart ', 75000), 5))" | tr '|' ' ')"
t_err "a 70 MB query is an error naming the limit" "SELECT ragload_embed(repeat('abcdefg ', 9000000))" "over the limit"
t_eq "controls, lone surrogates' replacements and NULs' neighbours embed" 1 \
  "$(q "SELECT count(*) FROM (SELECT ragload_embed(E'\\x01\\x02 caf\\u00e9 \\uFFFD \\t\\n x')) s")"
# ragload_bm25_scan, the C scorer ragload_bm25 calls: its own edges
t_err "bm25_scan: NULL k1 or b is an error naming them" \
  "SELECT * FROM ragload_bm25_scan('{1}', 5, NULL, 0.4)" "k1 and b must be given"
t_eq "bm25_scan: NULL terms, {}, {NULL}, k 0 or -1: no rows" "0 0 0 0 0" \
  "$(q "SELECT (SELECT count(*) FROM ragload_bm25_scan(NULL, 5, 0.9, 0.4)) || ' ' ||
               (SELECT count(*) FROM ragload_bm25_scan('{}', 5, 0.9, 0.4)) || ' ' ||
               (SELECT count(*) FROM ragload_bm25_scan('{NULL}', 5, 0.9, 0.4)) || ' ' ||
               (SELECT count(*) FROM ragload_bm25_scan(ragload_terms('$qa'), 0, 0.9, 0.4)) || ' ' ||
               (SELECT count(*) FROM ragload_bm25_scan(ragload_terms('$qa'), -1, 0.9, 0.4))")"
t_eq "bm25_scan: k NULL gives no row, as the SQL's LIMIT greatest(NULL, 0)" \
  "$(q "SELECT count(*) FROM ragload_bm25_sql(ragload_terms('$qa'), NULL, 0.9, 0.4)")" \
  "$(q "SELECT count(*) FROM ragload_bm25_scan(ragload_terms('$qa'), NULL, 0.9, 0.4)")"
t_eq "bm25_scan: a 2-D array, NULLs inside, repeats and k 10^9 rank as the SQL" \
  "$(q "SELECT string_agg(chunk_id || ':' || score, ',') FROM ragload_bm25_sql(ARRAY[ragload_terms('$qa') || NULL::bigint, ragload_terms('$qa') || NULL::bigint], 1000000000, 1.2, 0.75)")" \
  "$(q "SELECT string_agg(chunk_id || ':' || score, ',') FROM ragload_bm25_scan(ARRAY[ragload_terms('$qa') || NULL::bigint, ragload_terms('$qa') || NULL::bigint], 1000000000, 1.2, 0.75)")"
# the 300 test claims, where the scan prunes (reads part of the postings, probes the rest)
q "CREATE TABLE fz_q (id serial, t text)"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy fz_q (t) FROM '$TMP/q.txt'"
for kp in "10 0.9 0.4" "50 1.2 0.75"; do
  set -- $kp
  t_eq "bm25_scan: the 300 test claims at k $1 (k1 $2, b $3) rank and score as ragload_bm25_sql" 0 \
    "$(q "SELECT count(*) FROM fz_q WHERE
            (SELECT string_agg(chunk_id || ':' || score, ',') FROM ragload_bm25_scan(ragload_terms(t), $1, $2, $3)) IS DISTINCT FROM
            (SELECT string_agg(chunk_id || ':' || score, ',') FROM ragload_bm25_sql(ragload_terms(t), $1, $2, $3))")"
done
psql -X -qtA -c "SET client_min_messages = debug1" -c "SELECT count(*) FROM fz_q, ragload_bm25_scan(ragload_terms(t), 10, 0.9, 0.4)" \
  > /dev/null 2> "$TMP/scan.log"
t_check "bm25_scan: it pruned (probes) on most of the 300 claims" python3 -c '
import re, sys
p = [int(x) for x in re.findall(r"(\d+) probes", open(sys.argv[1]).read())]
print("  scans %d, with probes %d" % (len(p), sum(1 for x in p if x)))
sys.exit(0 if len(p) == 300 and sum(1 for x in p if x) > 150 else 1)' "$TMP/scan.log"
# random term lists: the corpus's own terms, unknown ones, NULLs, extreme k1/b, 500 calls
t_eq "bm25_scan: 500 random calls (terms, NULLs, k, k1, b) equal ragload_bm25_sql" 0 \
  "$(q "SELECT setseed(0.42); CREATE TEMP TABLE fz AS
        SELECT i, (SELECT array_agg(CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.3
                     THEN (random() * 9e18)::bigint ELSE t END)
                   FROM (SELECT term AS t FROM ragload_bm25_postings
                         ORDER BY random() LIMIT (1 + random() * 30)::int) x) AS terms,
               (random() * 50)::int - 5 AS k, (ARRAY[0, 0.9, 1.2, 2, 3])[1 + (random() * 4)::int] AS k1,
               (ARRAY[0, 0.4, 0.75, 1])[1 + (random() * 3)::int] AS b
        FROM generate_series(1, 500) i;
        SELECT count(*) FROM fz WHERE
          (SELECT coalesce(string_agg(chunk_id || ':' || score, ','), '') FROM ragload_bm25_scan(terms, k, k1, b)) <>
          (SELECT coalesce(string_agg(chunk_id || ':' || score, ','), '') FROM ragload_bm25_sql(terms, k, k1, b))" | tail -n 1)"
# a list of every term of the corpus and as many unknown ones: scored whole, as the SQL
t_eq "bm25_scan: all of the corpus's terms and 50k unknown ones at once rank as the SQL" \
  "$(q "SELECT string_agg(chunk_id || ':' || score, ',') FROM ragload_bm25_sql((SELECT array_agg(term) FROM (SELECT DISTINCT term FROM ragload_bm25_postings UNION ALL SELECT g FROM generate_series(1, 50000) g) x), 10, 0.9, 0.4)")" \
  "$(q "SELECT string_agg(chunk_id || ':' || score, ',') FROM ragload_bm25_scan((SELECT array_agg(term) FROM (SELECT DISTINCT term FROM ragload_bm25_postings UNION ALL SELECT g FROM generate_series(1, 50000) g) x), 10, 0.9, 0.4)")"
# a document frequency that disagrees with the postings: an error naming the repair
term=$(q "SELECT term FROM ragload_bm25_df ORDER BY df DESC, term LIMIT 1")
q "UPDATE ragload_bm25_df SET df = df + 1 WHERE term = $term"
t_err "bm25_scan: a df that disagrees with the postings is an error naming the repair" \
  "SELECT * FROM ragload_bm25_scan('{$term}', 5, 0.9, 0.4)" "ragload_bm25_df says"
q "SELECT ragload_bm25_df_rebuild()" > /dev/null
t_eq "bm25_scan: ragload_bm25_df_rebuild() repairs it" 5 "$(q "SELECT count(*) FROM ragload_bm25_scan('{$term}', 5, 0.9, 0.4)")"
t_eq "the backend survived all of it" 1 "$(q "SELECT 1")"
threads=$(/usr/bin/python3 - <<'EOF'
import os, psycopg
with psycopg.connect() as c:
    pid = c.execute("SELECT pg_backend_pid() FROM (SELECT ragload_search('aspirin', 5)) s LIMIT 1").fetchone()[0]
    try:
        print(len(os.listdir("/proc/%d/task" % pid)))
    except OSError:
        print("unreadable")
EOF
)
if [ "$threads" = unreadable ]; then t_skip "a backend's threads: /proc not readable"
else t_eq "a backend that embedded and searched runs one thread (no OpenBLAS pool)" 1 "$threads"; fi

# ---- ragload_hide_indexes: an index hidden from this transaction's planner ------------------
# Two vector indexes on one column: with every IVFFlat list probed and ef_search 10, pgvector
# prices the HNSW index far below the IVFFlat one, whatever else is set. Hidden, the IVFFlat
# index serves; after the transaction the HNSW index serves again; other sessions never see it.
q "CREATE TABLE hv (id int, v vector(8)); INSERT INTO hv SELECT i, ARRAY(SELECT sin(i * j) FROM generate_series(1, 8) j)::real[]::vector FROM generate_series(1, 3000) i; CREATE INDEX hv_hnsw ON hv USING hnsw (v vector_l2_ops); CREATE INDEX \"hv ivf'q\" ON hv USING ivfflat (v vector_l2_ops) WITH (lists = 10); ANALYZE hv"
plan() { psql -X -qtA -c "BEGIN" -c "SET LOCAL ivfflat.probes = 10" -c "SET LOCAL hnsw.ef_search = 10" -c "SET LOCAL enable_seqscan = off" ${1:+-c "$1"} -c "EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <-> '[1,0,0,0,0,0,0,0]' LIMIT 5" -c "COMMIT" 2>&1 | grep -o "Index Scan using [^ ]* on\|Index Scan using \"[^\"]*\" on\|ERROR.*" | head -n 1; }
t_eq "two vector indexes on one column: the planner takes HNSW" "Index Scan using hv_hnsw on" "$(plan)"
t_eq "hidden, the IVFFlat index serves (a quoted name with a quote in it)" 'Index Scan using "hv ivf'"'"'q" on' \
  "$(plan "SELECT ragload_hide_indexes('hv_hnsw')")"
t_eq "hiding the IVFFlat one by its quoted name leaves HNSW" "Index Scan using hv_hnsw on" \
  "$(plan "SELECT ragload_hide_indexes('\"hv ivf''q\", nosuch')")"
t_eq "both hidden: neither index serves" "" "$(plan "SELECT ragload_hide_indexes('HV_HNSW, \"hv ivf''q\"')" | grep -c "Index Scan" | sed 's/^0$//')"
t_eq "the setting ends with its transaction" "Index Scan using hv_hnsw on []" \
  "$(psql -X -qtA -c "BEGIN" -c "SELECT ragload_hide_indexes('hv_hnsw')" -c "COMMIT" -c "SET ivfflat.probes = 10" -c "SET hnsw.ef_search = 10" -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <-> '[1,0,0,0,0,0,0,0]' LIMIT 5" -c "SELECT '[' || current_setting('ragload.hidden_indexes') || ']'" | grep -o "Index Scan using [^ ]* on\|^\[.*\]$" | tr '\n' ' ' | sed 's/ $//')"
t_err "a malformed list is an SQL error" "SELECT ragload_hide_indexes('a,,b')" 'invalid value for parameter "ragload.hidden_indexes"'
t_err "an unterminated quote is an SQL error" "SELECT ragload_hide_indexes('\"abc')" 'invalid value for parameter'
t_eq "NULL, '' and a 1 MB list of unknown names hide nothing" "Index Scan using hv_hnsw on" \
  "$(plan "SELECT ragload_hide_indexes(NULL), ragload_hide_indexes(''), ragload_hide_indexes(repeat('x,', 500000) || 'y')")"
q "DROP TABLE hv"

# ---- a damaged stored model: an error, then the repaired one loads ---------------------------
name=$(q "SELECT model_name FROM embeddings LIMIT 1")
out=$(psql -X -qtA 2>&1 <<EOF
CREATE TABLE keep AS SELECT data FROM ragload_models WHERE model_name = '$name';
UPDATE ragload_models SET data = substring(data FROM 1 FOR length(data) - 7) WHERE model_name = '$name';
SELECT 'first', vector_dims(ragload_embed('aspirin'));
UPDATE ragload_models SET data = (SELECT data FROM keep) WHERE model_name = '$name';
SELECT 'second', ragload_embed('aspirin') = '$(sed -n 1p "$TMP/v.txt")'::vector;
SELECT 'third', ragload_embed('$qa') = '$lit'::vector;
EOF
)
t_check "a damaged model is an SQL error naming it" grep -q "ERROR:  ragload: stored model $name" <<< "$out"
t_check "no half-loaded model stays: the repaired bytes load in the same session" grep -qx "third|t" <<< "$out"

# ---- the reader role searches ----------------------------------------------------------------
"$RAGLOAD" -q init --roles
for m in dense bm25 hybrid; do
  t_eq "ragload_reader: ragload_search '$m'" 3 "$(PGUSER=ragload_reader q "SELECT count(*) FROM ragload_search('$qa', 3, '$m')")"
done
t_eq "ragload_reader may hide indexes from its own plans" "" \
  "$(PGUSER=ragload_reader psql -X -qtA -c "SELECT ragload_hide_indexes('embeddings_pkey')" 2>&1)"

# ---- a corpus without a model yet ------------------------------------------------------------
newdb extension_empty
"$RAGLOAD" -q init
t_err "no model yet: an error saying to ingest" "SELECT ragload_embed('x')" "has no model yet"
t_eq "no model yet: bm25 needs none and finds nothing" 0 "$(q "SELECT count(*) FROM ragload_search('x', 5, 'bm25')")"

# ---- where the extension cannot be created ----------------------------------------------------
# As on a managed server that allows only listed extensions: an event trigger refuses
# CREATE EXTENSION ragload in this database.
newdb extension_absent
q "CREATE FUNCTION refuse() RETURNS event_trigger LANGUAGE plpgsql AS \$\$ BEGIN IF current_query() ~* 'create\\s+extension\\s+(if\\s+not\\s+exists\\s+)?ragload' THEN RAISE EXCEPTION 'extension \"ragload\" is not allow-listed'; END IF; END \$\$; CREATE EVENT TRIGGER allow_list ON ddl_command_start WHEN TAG IN ('CREATE EXTENSION') EXECUTE FUNCTION refuse()"
rc=0; "$RAGLOAD" init 2> "$TMP/init.err" || rc=$?
t_eq "init without the extension exits 0" 0 "$rc"
t_check "init says the extension is absent and what that costs" \
  grep -q "ragload extension is not available (extension \"ragload\" is not allow-listed).*clients embed their queries themselves.*BM25 and the hybrid remain plain SQL" "$TMP/init.err"
printf 'Aspirin lowers the risk of heart attacks.\n' > "$TMP/a.txt"
"$RAGLOAD" -q ingest "$TMP/a.txt"
rc=0; "$RAGLOAD" search "aspirin" -k 3 > "$TMP/search.out" 2>&1 || rc=$?
t_check "... ingest and search work as before" grep -q "a.txt" "$TMP/search.out"
vec=$(printf 'aspirin\n' | "$RAGLOAD" embed)
t_eq "... and a client ranks by plain SQL with its own vector and terms" 1 \
  "$(q "SELECT count(*) FROM ragload_hybrid('$vec'::vector, (SELECT array_agg(term) FROM ragload_bm25_postings), 3)")"
