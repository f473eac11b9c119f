# A real documentation tree with the defaults: the Python 3 HTML docs from Debian's python3-doc
# (Sphinx: sidebars, permalinks, _sources/ copies, searchindex.js, CSS/JS, images). Only the
# content pages load, without their navigation, and code keeps its lines.
. "$(dirname "$0")/../lib.sh"
HTML=""
for d in /usr/share/doc/python3/html /usr/share/doc/python3-doc/html /usr/share/doc/python3.*/html; do
  [ -f "$d/index.html" ] && { HTML=$(readlink -f "$d"); break; }
done
if [ -z "$HTML" ]; then t_skip "python3-doc is not installed (run.sh installs it)"; exit 0; fi
newdb python_docs
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" --no-progress ingest "$HTML" 2> "$TMP/err" || rc=$?
t_eq "ingest of $HTML with the defaults exits 0" 0 "$rc"
grep -E 'warning|ignored:|documents:|chunks:' "$TMP/err" | head -n 8 | sed 's/^/   /'

t_eq "no search index, _sources copy, stylesheet or script loaded" 0 \
  "$(q "SELECT count(*) FROM documents WHERE source_name ~ '(searchindex\.js|objects\.inv|(^|/)_sources/|(^|/)_static/|\.css$|\.js$)'")"
pages=$(cd "$HTML" && find . -name '*.html' ! -path './_*' ! -name 'genindex*.html' ! -name 'search.html' \
  ! -name 'py-modindex.html' | wc -l)
t_eq "every content page is a document" "$pages" \
  "$(q "SELECT count(*) FROM documents WHERE source_name LIKE '%.html'")"
t_eq "no generated index pages" 0 "$(q "SELECT count(*) FROM documents WHERE source_name ~ '(genindex|py-modindex|search)\.html$'")"

# Sphinx's sidebar and related bars: "Previous topic", "Next topic", "This Page", "Show Source",
# the quick search, the "Navigation" bar, and the local "Table of Contents" box.
sidebar="chunk_text LIKE '%Previous topic%' OR chunk_text LIKE '%Next topic%' OR chunk_text LIKE '%Show Source%' OR chunk_text LIKE '%This Page%' OR chunk_text LIKE '%Quick search%'"
n=$(q "SELECT count(*) FROM chunks WHERE $sidebar")
t_eq "no chunk holds the sidebar's text" 0 "$n"
[ "$n" = 0 ] || q "SELECT left(chunk_text, 200) FROM chunks WHERE $sidebar LIMIT 3" | sed 's/^/   /'
t_eq "no chunk under a 'Navigation' or 'Table of Contents' heading" 0 \
  "$(q "SELECT count(*) FROM chunks WHERE chunk_metadata->'headings' @> '[\"Navigation\"]' OR chunk_metadata->'headings' @> '[\"Table of Contents\"]'")"
t_eq "no permalink symbol in the text" 0 "$(q "SELECT count(*) FROM chunks WHERE chunk_text LIKE '%¶%'")"

# code keeps its lines: the csv module's first example
t_check "csv.html's example keeps its lines (import csv, then with open on the next line)" test \
  "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name LIKE '%library/csv.html' AND c.chunk_text ~ E'import csv\\n(>>> )?with open'")" -gt 0
echo "   $(q "SELECT count(*) FROM documents") documents, $(q "SELECT count(*) FROM chunks") chunks"
