# Precomputed .fvecs vectors: file order kept as "_id", L2 distance, bad vectors reported.
. "$(dirname "$0")/../lib.sh"
newdb fvecs
"$RAGLOAD" -q init
python3 - "$TMP" <<'PY'
import struct, sys, math
d = sys.argv[1]
def vec(v): return struct.pack('<i', len(v)) + struct.pack('<%df' % len(v), *v)
with open(d + '/good.fvecs', 'wb') as f:
    for i in range(50):
        f.write(vec([float(i), 1.0, 2.0, 3.0]))
with open(d + '/nan.fvecs', 'wb') as f:
    f.write(vec([1.0, 2.0, 3.0, 4.0])); f.write(vec([math.nan, 0, 0, 0])); f.write(vec([math.inf, 0, 0, 0]))
    f.write(vec([5.0, 6.0, 7.0, 8.0]))
with open(d + '/truncated.fvecs', 'wb') as f:
    f.write(vec([1.0, 1.0, 1.0, 1.0])); f.write(vec([2.0, 2.0, 2.0, 2.0])[:10])
with open(d + '/baddim.fvecs', 'wb') as f:
    f.write(vec([1.0, 1.0, 1.0, 1.0])); f.write(struct.pack('<i', 7) + b'\0' * 28)
PY
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/good.fvecs" 2> "$TMP/err" || rc=$?
t_eq "good .fvecs exits 0" 0 "$rc"
t_eq "50 vectors loaded" 50 "$(q "SELECT count(*) FROM embeddings")"
t_eq "model_name is precomputed:4" "precomputed:4" "$(q "SELECT DISTINCT model_name FROM embeddings")"
t_eq "distance defaults to l2" l2 "$(q "SELECT value FROM ragload_corpus WHERE key = 'distance'")"
t_eq "file order kept as _id" "[7,1,2,3]" "$(q "SELECT embedding_vector FROM embeddings e JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id) WHERE d.metadata->>'_id' = '7'")"
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/nan.fvecs" "$TMP/truncated.fvecs" "$TMP/baddim.fvecs" 2> "$TMP/err" || rc=$?
t_eq "bad vectors: exit 3" 3 "$rc"
t_check "NaN vector named with its index" grep -q 'nan.fvecs: vector 1 at byte offset 20 holds NaN' "$TMP/err"
t_check "truncated vector named with its offset" grep -q 'truncated.fvecs: vector 1 at byte offset 20: truncated' "$TMP/err"
t_check "wrong dimension word named" grep -q 'baddim.fvecs: vector 1 at byte offset 20: dimension word 7, expected 4' "$TMP/err"
t_eq "good vectors beside bad ones loaded" 2 "$(q "SELECT count(*) FROM documents WHERE source_name IN ('nan.fvecs#0', 'nan.fvecs#3')")"
t_eq "vectors before the damage loaded" 1 "$(q "SELECT count(*) FROM documents WHERE source_name LIKE 'truncated.fvecs#%'")"
printf 'hello world\n' > "$TMP/t.txt"
rc=0; "$RAGLOAD" ingest "$TMP/good.fvecs" "$TMP/t.txt" 2> "$TMP/err" || rc=$?
t_eq "mixing .fvecs and text is a usage error" 2 "$rc"
newdb fvecs_dim
"$RAGLOAD" -q init
"$RAGLOAD" -q ingest "$TMP/good.fvecs"
python3 -c "
import struct; open('$TMP/d8.fvecs','wb').write(struct.pack('<i',8)+struct.pack('<8f',*range(8)))"
rc=0; "$RAGLOAD" ingest "$TMP/d8.fvecs" 2> "$TMP/err" || rc=$?
t_eq "a different dimension into a loaded corpus is a clear fatal error" 1 "$rc"
t_check "the error names both models" grep -q 'embedded with model precomputed:4, not precomputed:8' "$TMP/err"
