# reStructuredText sources (.rst, Sphinx's .rst.txt): section titles as headings in the order
# their styles appear; literal blocks after "::" and code-block bodies as code; roles, links,
# literals, emphasis and substitutions reduced to their words; comments, targets, toctree and
# image not read; admonitions and version notes read as text; tables and doctests kept as code.
. "$(dirname "$0")/../lib.sh"
newdb rst
"$RAGLOAD" -q init
r=$TMP/docs
mkdir -p "$r"
cp "$(dirname "$0")/../fuzz/corpus/rst/crane.rst" "$r/crane.rst"
gzip -9 < "$r/crane.rst" > "$r/packed.rst.gz"
printf 'Plain notes\n===========\n\nNot reStructuredText by name.\n' > "$r/notes.txt"
rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 32 --chunk-overlap 0 "$r" 2> "$TMP/err" || rc=$?
t_eq "rst tree: exit 0" 0 "$rc"
t_eq "by name: .rst and .rst.gz are rst, .txt stays text; titled by the first section" \
  "docs/crane.rst:rst:Harbour Cranes docs/notes.txt:text: docs/packed.rst.gz:rst:Harbour Cranes" \
  "$(q "SELECT string_agg(source_name || ':' || (metadata->>'format') || ':' || coalesce(metadata->>'title', ''), ' ' ORDER BY source_name) FROM documents")"
text=$(q "SELECT original_content FROM documents WHERE source_name = 'docs/crane.rst'")
t_check "inline markup reduced to its words" \
  grep -q 'The crane module lifts heavy loads with crane.lift(t); see lift and the manual, or Harbour\.' <<<"$text"
t_check "no role, literal, link or directive syntax left" \
  bash -c "! grep -qE ':(mod|func):|\`\`|\`_|^\\.\\. |toctree|maxdepth|crane\\.png|not text|A comment|crane-top|replace::' <<<\"\$1\"" _ "$text"
t_check "the paragraph before a literal block keeps one colon; a link across lines reduced" \
  grep -q 'at most its limit (the limits say more):$' <<<"$text"
t_check "fields before the first title (:orphan:) are not text" bash -c "! grep -qE 'orphan|tocdepth' <<<\"\$1\"" _ "$text"
t_check "the literal block keeps its lines" grep -qx 'crane.lift(12)' <<<"$text"
t_check "the code-block body, dedented, without its options" grep -qx '    return t <= LIMIT' <<<"$text"
t_check "a version note as Sphinx writes it" grep -qx 'New in version 2.1.' <<<"$text"
t_check "a note's body is text" grep -qx 'Tides change the limit.' <<<"$text"
t_check "a list item's lines stay one paragraph" grep -qx -- '- North quay: 40 tonnes, south quay: 12.' <<<"$text"
t_check "the grid table keeps its rows" grep -qx '| north  | 40     |' <<<"$text"
t_check "a footnote is text" grep -qx 'A footnote is text.' <<<"$text"
t_eq "headings and their levels (overlined '=', '=', '-')" '1 Harbour Cranes|2 Lifting|3 Limits' \
  "$(q "SELECT string_agg((h->>1) || ' ' || (h->>2), '|' ORDER BY o) FROM documents, jsonb_array_elements(metadata->'headings') WITH ORDINALITY AS x(h, o) WHERE source_name = 'docs/crane.rst'")"
t_eq "a chunk under its heading path" '["Harbour Cranes", "Lifting", "Limits"]' \
  "$(q "SELECT string_agg(DISTINCT c.chunk_metadata->>'headings', ' ') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'docs/crane.rst' AND c.chunk_text LIKE '%West quay%'")"
