# GNU Info manuals (what makeinfo writes; /usr/share/info): the text of each node with its
# headings (underlined '*', '=', '-', '.') and its examples as code, cross references
# ("*note Label: Node.") as their label; not read: the preamble
# (copying permission, dir entries), node header lines, menus, the tag table and the Local
# Variables trailer; the index file of a split manual (its nodes are in its parts) is ignored.
. "$(dirname "$0")/../lib.sh"
newdb info
"$RAGLOAD" -q init
i=$TMP/info
mkdir -p "$i"
src=$(dirname "$0")/../fuzz/corpus/info
gzip -9 < "$src/crane.info" > "$i/crane.info.gz"
cp "$src/split.info" "$i/split.info"
rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 24 --chunk-overlap 0 "$i" 2> "$TMP/err" || rc=$?
t_eq "info tree: exit 0" 0 "$rc"
t_eq "the manual reads as info, titled by its top node; the split index is not a document" \
  "info/crane.info.gz:info:Harbour Cranes" \
  "$(q "SELECT string_agg(source_name || ':' || (metadata->>'format') || ':' || (metadata->>'title'), ' ') FROM documents")"
t_check "the split manual's index file is counted as ignored (info_index)" grep -q 'info_index 1' "$TMP/err"
text=$(q "SELECT original_content FROM documents WHERE source_name = 'info/crane.info.gz'")
t_check "no node header, menu, tag table, dir entry, permission or trailer" \
  bash -c "! grep -qE 'Node: |\\* Menu:|Lifting::|Tag Table|INFO-DIR|START-INFO|Permission is granted|Local Variables|coding: utf-8|produced by makeinfo' <<<\"\$1\"" _ "$text"
t_check "the node's text is read, its cross references reduced to their labels" \
  grep -q 'A crane lifts a load of at most its limit (The limit)\. Tides change it: Tides$' <<<"$text"
t_check "the example keeps its lines and indentation" grep -qx '     crane --limit 12 south' <<<"$text"
t_eq "headings and their levels (an underline as wide as a line with UTF-8 in it)" \
  '1 Harbour Cranes|1 1 Lifting loads|2 1.1 The limit|3 1.1.1 Über the tide' \
  "$(q "SELECT string_agg((h->>1) || ' ' || (h->>2), '|' ORDER BY o) FROM documents, jsonb_array_elements(metadata->'headings') WITH ORDINALITY AS x(h, o) WHERE source_name = 'info/crane.info.gz'")"
t_eq "a chunk under its heading path" '["1 Lifting loads", "1.1 The limit"]' \
  "$(q "SELECT string_agg(DISTINCT c.chunk_metadata->>'headings', ' ') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'info/crane.info.gz' AND c.chunk_text LIKE '%crane --limit 12%'")"
real=/usr/share/info/coreutils.info.gz
if [ -f "$real" ]; then
  mkdir -p "$TMP/sys" && cp "$real" "$TMP/sys/"
  "$RAGLOAD" -q ingest --chunk-tokens 24 --chunk-overlap 0 "$TMP/sys"
  t_eq "coreutils: no navigation in any chunk" 0 \
    "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'sys/coreutils.info.gz' AND c.chunk_text ~ 'Node: |\\* Menu:'")"
  t_eq "coreutils: ls's section has its heading path" 1 \
    "$(q "SELECT (count(*) > 0)::int FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'sys/coreutils.info.gz' AND c.chunk_metadata->>'headings' LIKE '%ls%List directory contents%'")"
else
  t_skip "info: $real absent (no Info manuals on this system)"
fi
