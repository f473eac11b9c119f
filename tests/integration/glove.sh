# The second model kind: GloVe word vectors (glove:FILE), a SIF-weighted average per text,
# through the same commands as the built-in model: ingest --model glove:FILE, eval (nDCG@10
# >= 0.06 on SciFact test with the 50-d 10k-word vectors), search, embed, export/import.
. "$(dirname "$0")/../lib.sh"
G=$DATASETS/glove-50d-10k/glove.6B.50d.10k.txt
if ! have_shared || [ ! -f "$G" ]; then t_skip "glove: ../shared/datasets absent"; exit 0; fi
D=$DATASETS/scifact
newdb glove
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" --no-progress ingest --model "glove:$G" "$D/corpus.jsonl" 2> "$TMP/ingest.err" || rc=$?
t_eq "ingest --model glove:FILE exits 0" 0 "$rc"
[ "$rc" = 0 ] || { tail -n 5 "$TMP/ingest.err"; exit 0; }
name=$(q "SELECT DISTINCT model_name FROM embeddings")
t_check "embeddings name the GloVe model ($name)" bash -c "[[ '$name' == glove-d50-* ]]"
t_eq "the column is typed vector(50)" 50 "$(q "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'embeddings'::regclass AND attname = 'embedding_vector'")"
t_eq "the model (with its vectors) is stored" glove \
  "$(q "SELECT settings->>'kind' FROM ragload_models WHERE model_name = '$name'")"

rc=0
# --methods exact: the dense ranking alone (full text, BM25 and the hybrids do not depend on
# the model, and eval_scifact.sh measures them)
"$RAGLOAD" --no-progress eval --queries "$D/queries.jsonl" --qrels "$D/qrels/test.tsv" \
  --methods exact --reports-dir "$TMP/reports" > "$TMP/eval.out" 2> "$TMP/eval.err" || rc=$?
t_eq "eval --methods exact exits 0" 0 "$rc"
t_json "--methods exact: the exact row only, no full-text configuration in the settings" \
  "$TMP/reports/latest/results.json" \
  '[x["method"] for x in r["quality"]] == ["exact"] and "fts_config" not in r["settings"]'
rc=0; "$RAGLOAD" eval --queries "$D/queries.jsonl" --methods exact,dense 2> "$TMP/m.err" || rc=$?
t_check "--methods with an unknown name: usage error (2) naming it" \
  test "$rc" = 2 -a "$(grep -c "got 'exact,dense'" "$TMP/m.err")" = 1
ndcg=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print([x for x in r["quality"] if x["method"] == "exact"][0]["ndcg@10"])' "$TMP/reports/latest/results.json" 2>/dev/null)
t_check "exact nDCG@10 >= 0.06 on SciFact test (${ndcg:-none})" \
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.06 else 1)' "${ndcg:-0}"

rc=0; "$RAGLOAD" search "aspirin and heart attacks" -k 5 > "$TMP/search.out" 2>&1 || rc=$?
t_eq "search with the GloVe corpus exits 0" 0 "$rc"
t_eq "... and prints 5 results" 5 "$(wc -l < "$TMP/search.out")"
printf 'aspirin and heart attacks\nzzzzqqq\n' | "$RAGLOAD" embed > "$TMP/vec.txt"
t_eq "embed: 50 numbers a line" "50 50" "$(awk -F, '{print NF}' "$TMP/vec.txt" | paste -sd' ')"
t_check "a text without known words gives e_0" grep -qx '\[1,0,0.*,0\]' <(sed -n 2p "$TMP/vec.txt")
printf 'aspirin and heart attacks\n' | "$RAGLOAD" embed --model "glove:$G" > "$TMP/vec_file.txt"
t_check "the stored model embeds as the GloVe file does" cmp -s <(head -n 1 "$TMP/vec.txt") "$TMP/vec_file.txt"
rc=0; "$RAGLOAD" model export "$TMP/glove.bin" 2>/dev/null || rc=$?
t_eq "model export of the GloVe model exits 0" 0 "$rc"
printf 'aspirin and heart attacks\n' | "$RAGLOAD" embed --model "$TMP/glove.bin" > "$TMP/vec_exp.txt"
t_check "the exported GloVe model embeds bit for bit the same" cmp -s "$TMP/vec_file.txt" "$TMP/vec_exp.txt"
newdb glove_import
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" model import "glove:$G" 2>/dev/null || rc=$?
t_eq "model import glove:FILE exits 0" 0 "$rc"
t_eq "... and stores the same model" "$name" "$(q "SELECT model_name FROM ragload_models")"
printf 'cat 1 2\ndog 1 2 3\n' > "$TMP/bad.txt"
rc=0; "$RAGLOAD" --no-progress ingest --model "glove:$TMP/bad.txt" "$D/corpus.jsonl" 2> "$TMP/bad.err" || rc=$?
t_eq "a malformed GloVe file is refused" 1 "$rc"
t_check "... naming the file and line" grep -q "bad.txt:2: 3 numbers, the first line had 2" "$TMP/bad.err"
