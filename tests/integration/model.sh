# The model lives with the corpus: `model fit` writes a model file, ingest --model uses it,
# `model export` gives back the same bytes, `model import` into another database stores the
# same model, and `ragload embed` prints the same vectors, bit for bit, before and after.
# A corrupted file, an unknown format version and the old format 1 are refused, clearly,
# by every command that reads a model file.
. "$(dirname "$0")/../lib.sh"

# A small corpus of its own, so that the test needs no shared datasets.
mkdir -p "$TMP/docs"
i=0
for topic in "aspirin lowers the risk of heart attack in older patients" \
             "vitamin D deficiency and bone fractures in the elderly" \
             "the HNSW graph index trades build time for query speed" \
             "PostgreSQL stores table rows in heap pages of eight kilobytes" \
             "quantum chromodynamics describes quarks and gluons" \
             "deep learning models need large training corpora" \
             "inverted indexes map terms to the documents that hold them" \
             "coffee culture in Paris: croissants, espresso, conversation"; do
  i=$((i + 1))
  { echo "# Note $i"; echo; for k in 1 2 3; do echo "$topic, observation $k of note $i."; done; } > "$TMP/docs/note$i.md"
done
printf 'aspirin and heart attacks\nhow does an HNSW index work?\nCaf\xc3\xa9 culture\n\n' > "$TMP/queries.txt"

rc=0; "$RAGLOAD" --quiet model fit "$TMP/docs" -o "$TMP/m.bin" 2> "$TMP/fit.err" || rc=$?
t_eq "model fit exits 0" 0 "$rc"
t_eq "the model file starts with its magic" "RAGLMODL" "$(head -c 8 "$TMP/m.bin")"
rc=0; "$RAGLOAD" --quiet model fit "$TMP/docs" -o "$TMP/m2.bin" 2>/dev/null || rc=$?
t_check "a refit on the same inputs gives the same bytes" cmp -s "$TMP/m.bin" "$TMP/m2.bin"

newdb model_a
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" --no-progress ingest --model "$TMP/m.bin" "$TMP/docs" 2> "$TMP/ingest.err" || rc=$?
t_eq "ingest --model FILE exits 0" 0 "$rc"
name=$(q "SELECT DISTINCT model_name FROM embeddings")
t_check "embeddings name the model ($name)" bash -c "[[ '$name' == ragload-hash-v4-d*-* ]]"
t_eq "the model is stored under that name" 1 "$(q "SELECT count(*) FROM ragload_models WHERE model_name = '$name'")"
rc=0; "$RAGLOAD" model export "$TMP/exported.bin" 2>/dev/null || rc=$?
t_eq "model export exits 0" 0 "$rc"
t_check "the exported file is the fitted file, byte for byte" cmp -s "$TMP/m.bin" "$TMP/exported.bin"
rc=0; "$RAGLOAD" embed < "$TMP/queries.txt" > "$TMP/before.txt" 2> "$TMP/embed.err" || rc=$?
t_eq "embed (the corpus's model) exits 0" 0 "$rc"
t_eq "embed prints a vector per line, the empty one too" 4 "$(wc -l < "$TMP/before.txt")"
"$RAGLOAD" embed --model "$TMP/m.bin" < "$TMP/queries.txt" > "$TMP/file.txt"
t_check "embed --model FILE prints the same vectors" cmp -s "$TMP/before.txt" "$TMP/file.txt"
"$RAGLOAD" embed --json < "$TMP/queries.txt" > "$TMP/before.json"
t_check "embed --json: model name and the same numbers" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
lits = open(sys.argv[2]).read().splitlines()
ok = all(r["model"] == sys.argv[3] and len(r["embedding"]) == r["dim"] for r in rows)
ok = ok and all([float(x) for x in l[1:-1].split(",")] == r["embedding"] for r, l in zip(rows, lits))
sys.exit(0 if ok and len(rows) == 4 else 1)' "$TMP/before.json" "$TMP/before.txt" "$name"
printf '{"_id": "q1", "text": "aspirin and heart attacks"}\n"how does an HNSW index work?"\n{"no": "text"}\n' \
  > "$TMP/queries.jsonl"
rc=0; "$RAGLOAD" embed --jsonl --json < "$TMP/queries.jsonl" > "$TMP/jsonl.out" 2> "$TMP/jsonl.err" || rc=$?
t_eq "embed --jsonl: a line without text is skipped (exit 3)" 3 "$rc"
t_eq "embed --jsonl: the other lines are embedded" 2 "$(wc -l < "$TMP/jsonl.out")"
t_check "embed --jsonl --json echoes the id" grep -q '^{"id":"q1","model"' "$TMP/jsonl.out"
t_check "embed --jsonl gives the vectors of the plain lines" python3 -c '
import json, sys
a = [json.loads(l)["embedding"] for l in open(sys.argv[1])]
b = [json.loads(l)["embedding"] for l in open(sys.argv[2])][:2]
sys.exit(0 if a == b else 1)' "$TMP/jsonl.out" "$TMP/before.json"

# A chunk's stored vector is the vector `ragload embed` gives its text (up to the last bits:
# ingest embeds chunks in blocks).
cid=$(q "SELECT min(chunk_id) FROM chunks")
q "SELECT chunk_text FROM chunks WHERE chunk_id = $cid" |
  python3 -c 'import json, sys; print(json.dumps(sys.stdin.read()[:-1]))' > "$TMP/chunk.jsonl"
lit=$("$RAGLOAD" embed --jsonl < "$TMP/chunk.jsonl")
t_check "ingest and embed agree on a chunk's text (cosine > 0.99999)" test \
  "$(q "SELECT 1 - (embedding_vector <=> '$lit') > 0.99999 FROM embeddings WHERE chunk_id = $cid")" = t

# Import into another database: the same model, the same vectors.
newdb model_b
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" model import "$TMP/exported.bin" 2> "$TMP/import.err" || rc=$?
t_eq "model import exits 0" 0 "$rc"
t_eq "the imported model has the same bytes" \
  "$(PGDATABASE=rl_model_a q "SELECT md5(data) FROM ragload_models WHERE model_name = '$name'")" \
  "$(q "SELECT md5(data) FROM ragload_models WHERE model_name = '$name'")"
"$RAGLOAD" --no-progress ingest --model "$TMP/exported.bin" "$TMP/docs" 2>/dev/null
"$RAGLOAD" embed < "$TMP/queries.txt" > "$TMP/after.txt"
t_check "embed after import prints the same vectors, bit for bit" cmp -s "$TMP/before.txt" "$TMP/after.txt"
t_eq "the stored vectors are the same" \
  "$(PGDATABASE=rl_model_a q "SELECT md5(string_agg(embedding_vector::text, '|' ORDER BY c.chunk_metadata->>'start', d.source_name)) FROM embeddings e JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)")" \
  "$(q "SELECT md5(string_agg(embedding_vector::text, '|' ORDER BY c.chunk_metadata->>'start', d.source_name)) FROM embeddings e JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)")"

# Refusals: a corrupted byte, an unknown format version, the old format 1.
size=$(stat -c %s "$TMP/m.bin")
cp "$TMP/m.bin" "$TMP/bad.bin"
printf '\x55' | dd of="$TMP/bad.bin" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$TMP/m.bin" "$TMP/bad.bin" && printf '\xaa' | dd of="$TMP/bad.bin" bs=1 seek=$((size / 2)) conv=notrunc status=none
cp "$TMP/m.bin" "$TMP/v9.bin"
printf '\x09\x00\x00\x00' | dd of="$TMP/v9.bin" bs=1 seek=8 conv=notrunc status=none
cp "$TMP/m.bin" "$TMP/v1.bin"
printf '\x01\x00\x00\x00' | dd of="$TMP/v1.bin" bs=1 seek=8 conv=notrunc status=none
head -c $((size - 1000)) "$TMP/m.bin" > "$TMP/short.bin"
refused() {  # NAME EXPECTED-MESSAGE COMMAND...
  local name=$1 msg=$2 rc=0; shift 2
  "$@" < /dev/null > /dev/null 2> "$TMP/refused.err" || rc=$?
  if [ "$rc" = 1 ] && grep -q -- "$msg" "$TMP/refused.err"; then t_pass "$name"
  else t_fail "$name (exit $rc: $(head -c 300 "$TMP/refused.err"))"; fi
}
refused "import of a corrupted file: refused, checksum mismatch" "bad.bin: checksum mismatch" \
  "$RAGLOAD" model import "$TMP/bad.bin"
refused "import of a truncated file: refused" "short.bin: checksum mismatch: file is truncated" \
  "$RAGLOAD" model import "$TMP/short.bin"
refused "ingest --model with a corrupted file: refused" "checksum mismatch" \
  "$RAGLOAD" --no-progress ingest --model "$TMP/bad.bin" "$TMP/docs"
refused "embed --model with a corrupted file: refused" "checksum mismatch" \
  "$RAGLOAD" embed --model "$TMP/bad.bin"
refused "an unknown format version: refused" "unsupported model format version 9" \
  "$RAGLOAD" model import "$TMP/v9.bin"
refused "format 1 (the old hashed model): refused, saying what to do" "format version 1.*model fit" \
  "$RAGLOAD" model import "$TMP/v1.bin"
refused "not a model file: refused" "not a ragload model file" \
  "$RAGLOAD" model import "$TMP/queries.txt"
refused "a missing file: refused, named" "nope.bin: cannot open" \
  "$RAGLOAD" model import "$TMP/nope.bin"
t_eq "nothing was stored by the refused imports" 1 "$(q "SELECT count(*) FROM ragload_models")"
