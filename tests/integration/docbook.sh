# DocBook XML (4 and 5): divisions' titles as headings at their depth, program listings and
# screens as code, lists and tables as text; info blocks (authors, copyright), index terms and
# remarks not read; entities from HTML's names and the internal subset, never an external one;
# detected by content (a DocBook DOCTYPE or namespace) whatever the name, by its root alone
# only under an XML name; a document that gives no text loads as its source and is counted.
# Mallard (GNOME's help pages) by its namespace: titles, code, steps and terms; info not read.
# Sources: the hand-written guide of the fuzz corpus, and DocBook 4 and 5 written by pandoc
# from a real README of this machine (skipped, with the reason, without pandoc).
. "$(dirname "$0")/../lib.sh"
newdb docbook
"$RAGLOAD" -q init
r=$TMP/docs
mkdir -p "$r"
cp "$(dirname "$0")/../fuzz/corpus/docbook/guide4.xml" "$r/guide.xml"
gzip -9 < "$r/guide.xml" > "$r/packed.dbk.gz"
printf '<chapter><title>Weak</title><para>A DocBook 4 root alone.</para></chapter>\n' > "$r/weak.txt"
cp "$r/weak.txt" "$r/weak.xml"
printf '<?xml version="1.0"?>\n<!DOCTYPE book PUBLIC "-//OASIS//DTD DocBook XML V4.5//EN" "x.dtd">\n<book><bookinfo><author><surname>Only</surname></author></bookinfo></book>\n' > "$r/empty.xml"
printf '<?xml version="1.0"?>\n<config><option name="a">1</option></config>\n' > "$r/config.xml"
have_pandoc=0
readme=/usr/share/doc/git/README.md
if command -v pandoc >/dev/null && [ -f "$readme" ]; then
  have_pandoc=1
  pandoc -s -f gfm -t docbook4 "$readme" -o "$r/git4.xml"
  pandoc -s -f gfm -t docbook5 "$readme" -o "$r/git5.dbk"
fi
h=$TMP/help
mkdir -p "$h"
cp "$(dirname "$0")/../fuzz/corpus/docbook/mallard.page" "$h/convert.page"
cp "$(dirname "$0")/../fuzz/corpus/docbook/mallard-legal.xml" "$h/legal.xml"
rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 32 --chunk-overlap 0 "$r" "$h" 2> "$TMP/err" || rc=$?
t_eq "DocBook tree: exit 3 (one document without text, loaded as its source and counted)" 3 "$rc"
t_eq "formats and titles: DocBook by its DOCTYPE, its namespace, or its root under an XML name" \
  "docs/config.xml:text: docs/empty.xml:text: docs/guide.xml:docbook:The Frobnicator Guide docs/packed.dbk.gz:docbook:The Frobnicator Guide docs/weak.txt:text: docs/weak.xml:docbook:Weak" \
  "$(q "SELECT string_agg(source_name || ':' || (metadata->>'format') || ':' || coalesce(metadata->>'title', ''), ' ' ORDER BY source_name) FROM documents WHERE source_name LIKE 'docs/%' AND source_name NOT LIKE 'docs/git%'")"
t_check "the document without text is counted, named, and loaded as its XML source" \
  grep -q 'empty.xml.*docbook: .*loaded as its XML source' "$TMP/err"
text=$(q "SELECT original_content FROM documents WHERE source_name = 'docs/guide.xml'")
t_check "entities: the internal subset's and HTML's names" \
  grep -q 'The Frobnicator frobnicates widgets—quickly… and safely\.' <<<"$text"
t_check "no markup, no metadata, no index term or remark, no external entity" \
  bash -c "! grep -qE '<|>|Writer|Someone|2024|TODO|primary|localhost|$(hostname)' <<<\"\$1\"" _ "$text"
t_check "the screen keeps its lines" grep -qx 'Installed\.' <<<"$text"
t_check "a reference page: name — purpose, its synopsis" \
  bash -c "grep -qx 'frob — frobnicate widgets' <<<\"\$1\" && grep -qx 'frob -v file' <<<\"\$1\"" _ "$text"
t_eq "headings and their levels (book, chapter, sect1, chapter, refsynopsisdiv, refsect1)" \
  '1 The Frobnicator Guide|2 Getting started|3 Installing|2 Reference|4 Synopsis|4 Description' \
  "$(q "SELECT string_agg((h->>1) || ' ' || (h->>2), '|' ORDER BY o) FROM documents, jsonb_array_elements(metadata->'headings') WITH ORDINALITY AS x(h, o) WHERE source_name = 'docs/guide.xml'")"
t_eq "a chunk under its heading path" '["The Frobnicator Guide", "Getting started", "Installing"]' \
  "$(q "SELECT string_agg(DISTINCT c.chunk_metadata->>'headings', ' ') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'docs/guide.xml' AND c.chunk_text LIKE '%Overwrite existing%'")"
if [ "$have_pandoc" = 1 ]; then
  for f in git4.xml git5.dbk; do
    t_eq "pandoc's $f: read as DocBook, titled by its first section" \
      "docbook:Git - fast, scalable, distributed revision control system" \
      "$(q "SELECT (metadata->>'format') || ':' || coalesce(metadata->>'title', '') FROM documents WHERE source_name = 'docs/$f'")"
    t_check "pandoc's $f: the README's words, no DocBook tag left" bash -c "
      t=\$(psql -X -qtA -c \"SELECT original_content FROM documents WHERE source_name = 'docs/$f'\")
      ! grep -qE '</?(para|sect[0-9]|section|title|info|articleinfo|emphasis|literal|link|ulink|itemizedlist|listitem|programlisting)\\b' <<<\"\$t\" &&
      grep -q 'Git is a fast, scalable, distributed revision control system' <<<\"\$t\" &&
      grep -q 'git-<commandname>.txt for documentation of each command' <<<\"\$t\""
  done
else
  t_skip "pandoc's DocBook: pandoc or $readme absent"
fi
t_eq "Mallard (GNOME's help): a page and the license fragment it includes, by their namespace" \
  "help/convert.page:mallard:Converting units help/legal.xml:mallard:" \
  "$(q "SELECT string_agg(source_name || ':' || (metadata->>'format') || ':' || coalesce(metadata->>'title', ''), ' ' ORDER BY source_name) FROM documents WHERE source_name LIKE 'help/%'")"
text=$(q "SELECT original_content FROM documents WHERE source_name = 'help/convert.page'")
t_check "Mallard: menu paths and key combinations joined, inline code in its sentence" \
  grep -q 'Choose Mode ▸ Advanced and press Ctrl+U\.' <<<"$text"
t_check "Mallard: the code block keeps its lines; steps and terms are text" \
  bash -c "grep -qx '= 30.48' <<<\"\$1\" && grep -qx 'Enter the value.' <<<\"\$1\" && grep -qx 'Inches.' <<<\"\$1\"" _ "$text"
t_check "Mallard: the info block (link titles, credits), media and comments are not text" \
  bash -c "! grep -qE 'Link title|description for link|Some Author|Screenshot|remark|<' <<<\"\$1\"" _ "$text"
t_eq "Mallard: page and section titles as headings" '1 Converting units|2 Length' \
  "$(q "SELECT string_agg((h->>1) || ' ' || (h->>2), '|' ORDER BY o) FROM documents, jsonb_array_elements(metadata->'headings') WITH ORDINALITY AS x(h, o) WHERE source_name = 'help/convert.page'")"
