# Compression bombs under a hard address-space limit (ulimit -v 8000000, in a subshell; so
# build/ragload, not a sanitizer build): a tar holding zeros.txt.zst (2 GB of zeros, zstd,
# generated streaming in seconds) is refused by a limit within seconds while the good files
# before and after it in the tar, and beside the tar, load; the same member alone as a
# compressed file is refused the same way. Default limits.
. "$(dirname "$0")/../lib.sh"
newdb bomb
if ! "$RAGLOAD" -q init; then t_fail "ragload init ($RAGLOAD)"; exit 0; fi
mkdir -p "$TMP/in" "$TMP/src"
gen_start=$(date +%s)
head -c 2G /dev/zero | zstd -q -1 --long > "$TMP/src/zeros.txt.zst"
printf 'Good file before the bomb, inside the tar.\n' > "$TMP/src/before.txt"
printf 'Good file after the bomb, inside the tar.\n' > "$TMP/src/after.txt"
(cd "$TMP/src" && bsdtar -cf "$TMP/in/bomb.tar" before.txt zeros.txt.zst after.txt)
cp "$TMP/src/zeros.txt.zst" "$TMP/in/alone.txt.zst"
printf 'Good file beside the tar.\n' > "$TMP/in/beside.txt"
t_check "bomb generated in under 60 s ($(( $(date +%s) - gen_start )) s, $(stat -c %s "$TMP/src/zeros.txt.zst") bytes)" \
  test $(( $(date +%s) - gen_start )) -lt 60

start=$(date +%s)
rc=0
( ulimit -v 8000000 && cd "$TMP" && exec timeout 300 "$RAGLOAD" --no-progress ingest "$TMP/in" ) \
  > "$TMP/out" 2> "$TMP/err" || rc=$?
secs=$(( $(date +%s) - start ))
t_eq "exit status 3 (bombs skipped, the rest loaded)" 3 "$rc"
t_check "refused within seconds ($secs s < 60 s)" test "$secs" -lt 60
t_check "no crash, no allocation failure" bash -c "! grep -qiE 'segmentation|core dumped|out of memory|cannot allocate|fatal' '$TMP/err'"
t_check "the member is refused by a limit, named as such" \
  grep -qE '^ragload: warning: in/bomb\.tar!zeros\.txt\.zst: .*\[(compression_ratio|entry_too_large)\]$' "$TMP/err"
t_check "the compressed file alone is refused by a limit" \
  grep -qE '^ragload: warning: in/alone\.txt\.zst: .*\[(compression_ratio|entry_too_large|input_too_large)\]$' "$TMP/err"
loaded=$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name) FROM documents")
t_eq "the good files load, the bombs do not" "in/beside.txt in/bomb.tar!after.txt in/bomb.tar!before.txt" "$loaded"
peak=$(sed -nE 's/.*peak RSS ([0-9.]+) MB.*/\1/p' "$TMP/err" | head -n 1)
[ -n "$peak" ] && t_check "peak RSS stays small (${peak} MB < 1024 MB)" awk -v p="$peak" 'BEGIN { exit !(p < 1024) }'
