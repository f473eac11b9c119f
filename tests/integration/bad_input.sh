# A directory with a good .txt, a .tar.zst cut in half and random bytes: the good file is
# loaded, the run exits 3 and names the truncated archive, nothing crashes.
. "$(dirname "$0")/../lib.sh"
newdb bad_input
"$RAGLOAD" -q init
mkdir -p "$TMP/in" "$TMP/src"
printf 'PostgreSQL stores documents.\n\nThis file is fine and must be loaded.\n' > "$TMP/in/good.txt"
for i in $(seq 1 40); do
  head -c 30000 /dev/urandom | base64 > "$TMP/src/part$i.txt"   # incompressible text
done
(cd "$TMP/src" && bsdtar --zstd -cf "$TMP/full.tar.zst" .)
size=$(stat -c %s "$TMP/full.tar.zst")
head -c $((size / 2)) "$TMP/full.tar.zst" > "$TMP/in/broken.tar.zst"
head -c 65536 /dev/urandom > "$TMP/in/random.bin"
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/in" 2> "$TMP/err" || rc=$?
t_eq "exit status 3 (done with skipped input)" 3 "$rc"
t_check "stderr names the truncated archive" grep -q 'broken.tar.zst' "$TMP/err"
t_eq "good.txt loaded" 1 "$(q "SELECT count(*) FROM documents WHERE source_name = 'in/good.txt'")"
t_check "entries before the damage loaded" test "$(q "SELECT count(*) FROM documents WHERE source_name LIKE 'in/broken.tar.zst!%'")" -ge 1
t_eq "random bytes not loaded" 0 "$(q "SELECT count(*) FROM documents WHERE source_name = 'in/random.bin'")"
t_check "binary skip counted in summary" grep -q 'binary' "$TMP/err"
t_eq "no document without chunks" 0 "$(q "SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)")"
t_eq "no chunk without embedding" 0 "$(q "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.chunk_id = c.chunk_id)")"
t_check "no crash report on stderr" bash -c "! grep -qiE 'segmentation|core dumped|AddressSanitizer' '$TMP/err'"
