# Hostile input end to end (tests/hostile/make-corpus.sh lists the classes): no crash, exit 3,
# every good entry loaded exactly once and nothing else, every bad one reported with its
# reason, nothing written outside the database (not in the working directory, not in the
# input tree, no "evil" file from an entry named ../../evil.txt), bounded time.
. "$(dirname "$0")/../lib.sh"
newdb hostile
if ! "$RAGLOAD" -q init; then t_fail "ragload init ($RAGLOAD)"; exit 0; fi
corpus=$TMP/c
if ! bash "$ROOT/tests/hostile/make-corpus.sh" "$corpus" > "$TMP/gen.log" 2>&1; then
  t_fail "corpus generation (see below)"; tail -n 20 "$TMP/gen.log"; exit 0
fi
mkdir -p "$TMP/cwd"
parent=$(dirname "$TMP")
evil_before=$(ls -a "$parent" | grep -c '^evil' || true)
snap() { (cd "$1" && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort); }
snap "$corpus" > "$TMP/tree.before"

start=$(date +%s)
rc=0
(cd "$TMP/cwd" && timeout 600 "$RAGLOAD" --no-progress \
   --set limits.max_entry_bytes=20MB --set limits.max_line_bytes=64KB \
   --set limits.max_doc_bytes=1MB --set limits.max_nesting=1 \
   ingest "$corpus/in") > "$TMP/out" 2> "$TMP/err" || rc=$?
secs=$(( $(date +%s) - start ))

t_eq "exit status 3 (done, bad items skipped)" 3 "$rc"
t_check "no crash or sanitizer report" bash -c "! grep -qiE 'segmentation|core dumped|AddressSanitizer|runtime error|assertion' '$TMP/err'"
t_check "finished in bounded time ($secs s < 300 s)" test "$secs" -lt 300

# ---- every good entry exactly once, nothing else (keys start with the input's name, "in/") ---------------------------------------------
q "SELECT source_name FROM documents ORDER BY 1" > "$TMP/loaded"
awk -F'\t' '$1 == "GOOD" { print "in/" $2 }' "$corpus/expect" | LC_ALL=C sort -u > "$TMP/good"
ngood=$(wc -l < "$TMP/good")
missing=$(LC_ALL=C comm -23 "$TMP/good" <(LC_ALL=C sort "$TMP/loaded") | tr '\n' ' ')
awk -F'\t' '$1 == "MAYBE" { print "in/" $2 }' "$corpus/expect" > "$TMP/maybe"
unexpected=$(LC_ALL=C comm -13 "$TMP/good" <(LC_ALL=C sort "$TMP/loaded") |
  awk 'NR == FNR { p[NR] = $0; n = NR; next }
       { for (i = 1; i <= n; i++) if (index($0, p[i]) == 1) next; print }' "$TMP/maybe" - | tr '\n' ' ')
dups=$(q "SELECT string_agg(source_name, ' ') FROM (SELECT source_name FROM documents GROUP BY 1 HAVING count(*) > 1) d")
t_eq "all $ngood good entries loaded" "" "$missing"
t_eq "nothing loaded that is not a good entry" "" "$unexpected"
t_eq "no source key loaded twice" "" "$dups"

# ---- every bad entry reported with its reason --------------------------------------------------
# a line "ragload: warning: KEY: ... [REASON]" or "ragload: warning: KEY!entry: ... [REASON]"
reported() {
  awk -v key="ragload: warning: $1" -v why="[$2]" '
    index($0, key) == 1 { c = substr($0, length(key) + 1, 1)
      if ((c == ":" || c == "!") && substr($0, length($0) - length(why) + 1) == why) found = 1 }
    END { exit !found }' "$TMP/err"
}
unreported=""
nbad=0
while IFS=$'\t' read -r kind key why; do
  [ "$kind" = BAD ] || continue
  nbad=$((nbad + 1))
  reported "in/$key" "$why" || unreported="$unreported $key [$why];"
done < "$corpus/expect"
t_eq "all $nbad bad entries reported with their reason" "" "$unreported"
silent=""
while IFS=$'\t' read -r kind key; do
  [ "$kind" = NONE ] || continue
  grep -qF "ragload: warning: in/$key" "$TMP/err" && silent="$silent $key"
done < "$corpus/expect"
t_eq "valid but empty archives neither loaded nor reported" "" "$silent"
t_check "every warning names its reason" bash -c "! grep '^ragload: warning: ' '$TMP/err' | grep -vqE '\[[a-z_]+\]\$'"

# ---- nothing written outside the database ------------------------------------------------------
t_eq "nothing written in the working directory" "" "$(ls -A "$TMP/cwd")"
snap "$corpus" > "$TMP/tree.after"
t_check "input tree unchanged" cmp -s "$TMP/tree.before" "$TMP/tree.after"
t_eq "no evil file beside the test directory" "$evil_before" "$(ls -a "$parent" | grep -c '^evil' || true)"
t_eq "no evil file anywhere under the test directory" "" "$(find "$TMP" -name 'evil*' | tr '\n' ' ')"

# ---- what the good-but-odd entries became -----------------------------------------------------
meta() { q "SELECT metadata->>'$2' FROM documents WHERE source_name = 'in/$1'"; }
text_has() { q "SELECT count(*) FROM documents WHERE source_name = 'in/$1' AND strpos(original_content, '$2') > 0"; }
t_eq "Windows-1252 decoded and recorded" "windows-1252" "$(meta text/cp1252.txt encoding)"
t_eq "Windows-1252 text decoded" 1 "$(text_has text/cp1252.txt 'café')"
t_eq "UTF-16 without BOM recorded" "utf-16le" "$(meta text/utf16le-nobom.txt encoding)"
t_eq "UTF-16 without BOM, Cyrillic, recognised" "utf-16le" "$(meta text/utf16le-cyrillic-nobom.txt encoding)"
t_eq "UTF-16 without BOM, Japanese, recognised" "utf-16be" "$(meta text/utf16be-cjk-nobom.txt encoding)"
t_eq "UTF-16 BE with BOM decoded" 1 "$(text_has text/utf16be-bom.txt 'big endian')"
t_check "invalid UTF-8 repaired and counted" test "$(meta text/invalid-utf8.txt invalid_utf8)" -ge 4
t_eq "NUL bytes dropped and counted, text kept" "2 1" "$(meta text/nul-bytes.txt nul_bytes) $(text_has text/nul-bytes.txt 'NULbytes in the middle')"
t_eq "text after 100000 nested elements kept" 1 "$(text_has text/deep.html 'after the deep part')"
t_eq "deep HTML recorded as read by the fallback" true "$(meta text/deep.html html_fallback)"
t_eq "text after 400000 stray end tags kept" 1 "$(text_has text/stray-end-tags.html 'after many stray end tags')"
t_check "over max_doc_bytes: cut to at most 1 MB" test "$(q "SELECT octet_length(original_content) FROM documents WHERE source_name = 'in/text/over-max-doc.txt'")" -le 1048576
t_eq "over max_doc_bytes: recorded as truncated" true "$(meta text/over-max-doc.txt truncated)"
t_check "a 3 MB word is split into bounded chunks" test "$(q "SELECT max(octet_length(chunk_text)) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'in/text/long-word.txt'")" -le 65536
t_eq "unpaired surrogate escapes repaired and counted" 2 "$(meta 'corpus.jsonl#r11' unpaired_surrogates)"
t_eq "raw invalid UTF-8 in a JSONL line repaired and counted" 2 "$(meta 'corpus.jsonl#r12' invalid_utf8)"
t_eq "\\u0000 dropped from JSONL metadata values, U+FFFD in keys" v \
  "$(q "SELECT metadata->>('k' || chr(65533)) FROM documents WHERE source_name = 'in/corpus.jsonl#r10'")"
t_check "JSONL messages name the line and its byte offset" grep -q 'corpus.jsonl: line 4: invalid JSON.*(line at byte offset [0-9]*)' "$TMP/err"
t_check "a JSONL file cut inside its last line says so" grep -q 'corpus.jsonl: line 17: .*cut short' "$TMP/err"
t_check "damage names the archive, the entry and a byte offset" grep -qE 'arc/truncated.tar.gz: c.txt: .*\(at byte offset [0-9]+\)' "$TMP/err"
t_eq "two 3000-byte entry names: two keys of at most 512 bytes each" "2 2" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT source_name) FROM documents WHERE source_name LIKE 'in/arc/longname.tar!%' AND octet_length(source_name) <= length('in/arc/longname.tar!') + 512")"
t_eq "every document has chunks and every chunk an embedding" 0 "$(q "SELECT (SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)) + (SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.chunk_id = c.chunk_id))")"

# ---- a second run over the same input changes nothing ----------------------------------------
rc=0
(cd "$TMP/cwd" && timeout 600 "$RAGLOAD" --no-progress -q \
   --set limits.max_entry_bytes=20MB --set limits.max_line_bytes=64KB \
   --set limits.max_doc_bytes=1MB ingest "$corpus/in") > /dev/null 2> "$TMP/err2" || rc=$?
t_eq "rerun: exit 3 again (same bad items)" 3 "$rc"
t_eq "rerun: same documents" "$(wc -l < "$TMP/loaded")" "$(q "SELECT count(*) FROM documents")"
