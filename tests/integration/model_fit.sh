# The built-in model's fit (featurizer 4, models/contrastive.c) against the corpus it lives in:
#   - a corpus whose model is the LSA model of earlier builds (featurizer 3) is refused by
#     ingest, search and embed with the message to `reindex --refit`, and that refit works;
#   - a refit on the same stored text gives the same model bytes;
#   - a fit killed midway (SIGKILL during `reindex --refit`) leaves the corpus and its live
#     model as they were.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$TMP/docs"
i=0
for topic in "Aspirin lowers the risk of heart attack in older patients. It thins the blood." \
             "Vitamin D deficiency weakens bones in the elderly. Sunlight makes vitamin D." \
             "The HNSW graph index trades build time for query speed. Its layers are sparse." \
             "PostgreSQL stores table rows in heap pages. Vacuum reclaims dead tuples." \
             "Quantum chromodynamics describes quarks and gluons. Lattice methods compute it." \
             "Deep learning models need large training corpora. Gradients flow backwards."; do
  i=$((i + 1))
  { echo "# Note $i"; echo; for k in 1 2 3; do echo "$topic Observation $k of note $i is recorded here."; done; } > "$TMP/docs/note$i.md"
done

# A model file with featurizer 3 in its header and a valid checksum, as an earlier build wrote
# its models: made from a current file by a small tool (XXH3-128 over all but the last 16 bytes).
cat > "$TMP/old.c" <<'EOF'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
int main(int argc, char **argv)
{
	FILE *f = fopen(argv[1], "rb");
	if (!f || argc != 3 || fseek(f, 0, SEEK_END))
		return 1;
	long n = ftell(f);
	rewind(f);
	unsigned char *b = malloc((size_t)n);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		return 1;
	fclose(f);
	unsigned char *p = memmem(b, (size_t)n, "\"featurizer\":4", 14);
	if (!p)
		return 1;
	p[13] = '3';
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(b, (size_t)n - 16));
	memcpy(b + n - 16, c.digest, 16);
	f = fopen(argv[2], "wb");
	return !f || fwrite(b, 1, (size_t)n, f) != (size_t)n || fclose(f);
}
EOF
cc -O1 -o "$TMP/old" "$TMP/old.c" -lxxhash

newdb model_fit_old
"$RAGLOAD" -q init
"$RAGLOAD" -q --set model.dim=16 ingest "$TMP/docs"
name=$(q "SELECT DISTINCT model_name FROM embeddings")
"$RAGLOAD" -q model export "$TMP/v4.bin"
rc=0; "$TMP/old" "$TMP/v4.bin" "$TMP/v3.bin" || rc=$?
t_eq "a featurizer-3 model file is made" 0 "$rc"
# the corpus's stored model becomes that older model
python3 -c 'import sys; print(open(sys.argv[1], "rb").read().hex())' "$TMP/v3.bin" > "$TMP/v3.hex"
psql -X -q -v ON_ERROR_STOP=1 <<EOF
CREATE TEMP TABLE hx (h text);
\copy hx FROM '$TMP/v3.hex'
UPDATE ragload_models SET data = decode((SELECT h FROM hx), 'hex') WHERE model_name = '$name';
EOF
refused() {  # NAME COMMAND...
  local what=$1 rc=0; shift
  "$@" < /dev/null > /dev/null 2> "$TMP/refused.err" || rc=$?
  if [ "$rc" = 1 ] && grep -q "featurizer 3" "$TMP/refused.err" &&
     grep -q "ragload reindex --refit" "$TMP/refused.err"; then t_pass "$what"
  else t_fail "$what (exit $rc: $(head -c 300 "$TMP/refused.err"))"; fi
}
echo "More about aspirin and the heart. A second sentence follows here." > "$TMP/more.txt"
# The older model is written over the row in place, under the name the embeddings hold, and
# that name is the checksum of the real model: this machine's model cache (models/store.c)
# holds those real bytes. An earlier build's corpus has never been in it, so the cache is off.
mc_saved=${RAGLOAD_MODEL_CACHE-}
export RAGLOAD_MODEL_CACHE=off
refused "ingest into a featurizer-3 corpus: refused, saying to reindex --refit" \
  "$RAGLOAD" --no-progress ingest "$TMP/more.txt"
refused "search in a featurizer-3 corpus: refused, saying to reindex --refit" \
  "$RAGLOAD" search "aspirin"
refused "embed with a featurizer-3 corpus model: refused, saying to reindex --refit" \
  "$RAGLOAD" embed
t_eq "nothing was added by the refused ingest" 6 "$(q "SELECT count(*) FROM documents")"
if [ -n "$mc_saved" ]; then export RAGLOAD_MODEL_CACHE=$mc_saved; else unset RAGLOAD_MODEL_CACHE; fi
rc=0; "$RAGLOAD" --no-progress --set model.dim=16 reindex --refit 2> "$TMP/refit.err" || rc=$?
t_eq "reindex --refit of the featurizer-3 corpus exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/refit.err"
new=$(q "SELECT DISTINCT model_name FROM embeddings")
t_check "the corpus now has a featurizer-4 model ($new)" bash -c "[[ '$new' == ragload-hash-v4-d16-* ]]"
t_eq "a reindex of a corpus without vector indexes builds the configured storage's (halfvec HNSW, IVFFlat)" \
  "embeddings_hnsw_halfvec_idx embeddings_ivfflat_halfvec_idx" \
  "$(q "SELECT string_agg(indexname, ' ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'embeddings' AND (indexdef LIKE '%USING hnsw%' OR indexdef LIKE '%USING ivfflat%')")"
# (the refit of the same text may give the very model whose stored bytes were replaced above:
# storing it again repairs that row, so the corpus never reads the old bytes under a new name)
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/more.txt" 2> "$TMP/again.err" || rc=$?
t_eq "ingest works again after the refit" 0 "$rc"
[ "$rc" = 0 ] || tail -n 3 "$TMP/again.err"
t_eq "the corpus's model does not hold the old bytes" 0 \
  "$(q "SELECT count(*) FROM ragload_models WHERE md5(data) = '$(md5sum < "$TMP/v3.bin" | cut -c1-32)' AND model_name = (SELECT min(model_name) FROM embeddings)")"
t_check "search finds the aspirin note" bash -c "'$RAGLOAD' search -k 3 'aspirin heart attack' | grep -q note1"

# A refit on the same stored text gives the same bytes.
"$RAGLOAD" -q --set model.dim=16 reindex --refit
m1=$(q "SELECT DISTINCT model_name FROM embeddings")
"$RAGLOAD" -q --set model.dim=16 reindex --refit
m2=$(q "SELECT DISTINCT model_name FROM embeddings")
t_eq "reindex --refit twice: the same model (name = checksum of its bytes)" "$m1" "$m2"

# A fit killed midway: the corpus and its live model are unchanged.
if ! have_shared; then t_skip "model_fit: ../shared/datasets absent (fit killed midway)"; exit 0; fi
head -n 2000 "$DATASETS/scifact/corpus.jsonl" > "$TMP/corpus.jsonl"
newdb model_fit_kill
"$RAGLOAD" -q init
"$RAGLOAD" -q ingest "$TMP/corpus.jsonl"
before=$(q "SELECT (SELECT string_agg(model_name || ':' || md5(data), ',' ORDER BY model_name) FROM ragload_models) || ' ' || (SELECT count(*) FROM documents) || ' ' || (SELECT md5(string_agg(embedding_vector::text, '|' ORDER BY chunk_id)) FROM embeddings) || ' ' || (SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM ragload_corpus)")
"$RAGLOAD" --progress reindex --refit 2> "$TMP/kill.err" & pid=$!
for _ in $(seq 1 600); do   # until the fit trains (its progress names the epoch), at most 60 s
  grep -q "epoch" "$TMP/kill.err" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
t_check "the fit reached its training epochs" grep -q "pairs, epoch 1 of" "$TMP/kill.err"
"$RAGLOAD" status > "$TMP/status.out" 2>&1
kill -9 "$pid" 2>/dev/null
rc=0; wait "$pid" || rc=$?
t_eq "the refit was killed (SIGKILL)" 137 "$rc"
# `ragload status`, another process, saw the fit under way (the run's row carries its line)
t_check "status during the fit: the reindex run under way, fitting the model" \
  grep -Eq "^  run [0-9]+ reindex: fitting the model: .*s ago\)$" "$TMP/status.out"
"$RAGLOAD" status > "$TMP/status2.out" 2>&1
t_check "status after the kill: the run's last line, marked as stopped (no lock held)" \
  grep -q "no run holds the corpus lock" "$TMP/status2.out"
after=$(q "SELECT (SELECT string_agg(model_name || ':' || md5(data), ',' ORDER BY model_name) FROM ragload_models) || ' ' || (SELECT count(*) FROM documents) || ' ' || (SELECT md5(string_agg(embedding_vector::text, '|' ORDER BY chunk_id)) FROM embeddings) || ' ' || (SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM ragload_corpus)")
t_eq "after the kill: the same models, documents, vectors and corpus settings" "$before" "$after"
rc=0; "$RAGLOAD" search -k 1 "aspirin" > /dev/null 2>&1 || rc=$?
t_eq "search works after the kill" 0 "$rc"
