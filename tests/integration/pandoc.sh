# Documents pandoc reads (stages/pandoc.c), by name: LaTeX (.tex, also compressed), Jupyter
# notebooks, Org, MediaWiki, Textile, FictionBook, and RTF by its content, become HTML that
# the HTML path reads: the title block
# (title, author, abstract) and sections as headings, math kept as TeX, verbatim and code
# cells as code, a notebook's text outputs kept and its images not; \input reads nothing
# (pandoc's sandbox); a document pandoc cannot read is counted and loads as its source.
# The Org, MediaWiki, RTF and FictionBook files are pandoc's renderings of a real README.
. "$(dirname "$0")/../lib.sh"
if ! command -v pandoc >/dev/null; then t_skip "pandoc: not installed (run.sh installs it)"; exit 0; fi
newdb pandoc
"$RAGLOAD" -q init
r=$TMP/docs
mkdir -p "$r"
printf 'secret-%s\n' "$$" > "$TMP/private.tex"
cat > "$r/paper.tex" <<TEX
\\documentclass{article}
\\title{Widget Frobnication at Scale}
\\author{A. Writer}
\\begin{document}
\\maketitle
\\begin{abstract}
We frobnicate widgets in linear time.
\\end{abstract}
\\section{Introduction}\\label{sec:intro}
Widgets are \\emph{everywhere}. See Section~\\ref{sec:intro}.
\\input{$TMP/private}
If \\code{True}, the \\var{cache} is used.
\\begin{methoddesc}{request}{uri}
Performs a single \\code{HTTP} request.
\\end{methoddesc}
\\subsection{Method}
The cost is \$O(n \\log n)\$.
\\begin{verbatim}
frob --all
  --twice
\\end{verbatim}
% a comment, not text
\\end{document}
TEX
gzip -9 < "$r/paper.tex" > "$r/packed.tex.gz"
cat > "$r/analysis.ipynb" <<'NB'
{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Counting widgets\n", "\n", "We load the *data*."]},
 {"cell_type": "code", "execution_count": 1, "metadata": {"scrolled": true}, "source": ["import widgets\n", "print(widgets.count())"],
  "outputs": [{"name": "stdout", "output_type": "stream", "text": ["42 widgets\n"]},
   {"data": {"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "text/plain": ["<Figure size 640x480>"]}, "metadata": {}, "output_type": "display_data"}]}],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
NB
printf '{"cells": [ {"cell_type": "markdown", "source": ["cut short' > "$r/broken.ipynb"
pandoc -f gfm -t org /usr/share/doc/git/README.md -o "$r/git.org"
pandoc -f gfm -t mediawiki /usr/share/doc/git/README.md -o "$r/git.wiki"
printf 'h1. Textile notes\n\nSome *strong* words.\n' > "$r/notes.textile"
pandoc -s -f gfm -t rtf /usr/share/doc/git/README.md -o "$r/git.rtf" 2>/dev/null
cp "$r/git.rtf" "$r/letter.doc"   # RTF under a Word name: told by its content, "{\rtf"
printf '{\\rtf1 cut short {\\b never closed' > "$r/broken.rtf"
pandoc -s -f gfm -t fb2 /usr/share/doc/git/README.md -o "$r/git.fb2" 2>/dev/null
rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 32 --chunk-overlap 0 "$r" 2> "$TMP/err" || rc=$?
t_eq "pandoc tree: exit 3 (the broken notebook loaded as its source, the broken RTF skipped)" 3 "$rc"
t_eq "formats by name (RTF by content) and titles" \
  "docs/analysis.ipynb:ipynb: docs/broken.ipynb:text: docs/git.fb2:fb2: docs/git.org:org: docs/git.rtf:rtf: docs/git.wiki:mediawiki: docs/letter.doc:rtf: docs/notes.textile:textile: docs/packed.tex.gz:latex:Widget Frobnication at Scale docs/paper.tex:latex:Widget Frobnication at Scale" \
  "$(q "SELECT string_agg(source_name || ':' || (metadata->>'format') || ':' || coalesce(metadata->>'title', ''), ' ' ORDER BY source_name) FROM documents")"
t_check "the broken notebook is named with pandoc's complaint" grep -q 'broken.ipynb.*pandoc could not read it as ipynb.*loaded as its source' "$TMP/err"
t_check "the broken RTF is named, skipped and counted (its source is control words)" \
  bash -c "grep -q 'broken.rtf.*pandoc could not read it as rtf.*skipped' '$TMP/err' && grep -q 'pandoc_unread 2' '$TMP/err'"
text=$(q "SELECT original_content FROM documents WHERE source_name = 'docs/paper.tex'")
t_check "LaTeX: the title block (author, abstract) is text" \
  bash -c "grep -qx 'A. Writer' <<<\"\$1\" && grep -qx 'We frobnicate widgets in linear time.' <<<\"\$1\"" _ "$text"
t_check "LaTeX: math stays TeX, verbatim keeps its lines, macros and comments go" \
  bash -c "grep -qF '\\(O(n \\log n)\\)' <<<\"\$1\" && grep -qx '  --twice' <<<\"\$1\" && ! grep -qE 'emph|maketitle|documentclass|a comment' <<<\"\$1\"" _ "$text"
t_check "LaTeX: commands and environments pandoc does not know give their words (not labels)" \
  bash -c "grep -q 'If True, the cache is used\\.' <<<\"\$1\" && grep -qx 'request uri' <<<\"\$1\" && grep -qx 'Performs a single HTTP request.' <<<\"\$1\" && ! grep -q 'sec:intro' <<<\"\$1\"" _ "$text"
t_check "LaTeX: \\input reads nothing from disk (pandoc's sandbox)" bash -c "! grep -q 'secret-' <<<\"\$1\"" _ "$text"
t_eq "LaTeX: the title, sections and subsections as headings" '1 Widget Frobnication at Scale|2 Introduction|3 Method' \
  "$(q "SELECT string_agg((h->>1) || ' ' || (h->>2), '|' ORDER BY o) FROM documents, jsonb_array_elements(metadata->'headings') WITH ORDINALITY AS x(h, o) WHERE source_name = 'docs/paper.tex'")"
nb=$(q "SELECT original_content FROM documents WHERE source_name = 'docs/analysis.ipynb'")
t_check "notebook: Markdown cells, code cells and text outputs; no image, no cell metadata" \
  bash -c "grep -qx 'We load the data.' <<<\"\$1\" && grep -qx 'print(widgets.count())' <<<\"\$1\" && grep -qx '42 widgets' <<<\"\$1\" && ! grep -qE 'iVBOR|scrolled|kernelspec|execution_count' <<<\"\$1\"" _ "$nb"
t_eq "notebook: its first Markdown heading" '2 Counting widgets' \
  "$(q "SELECT string_agg((h->>1) || ' ' || (h->>2), '|' ORDER BY o) FROM documents, jsonb_array_elements(metadata->'headings') WITH ORDINALITY AS x(h, o) WHERE source_name = 'docs/analysis.ipynb'")"
for f in git.org git.wiki git.rtf git.fb2; do
  t_check "$f: the README's words, no markup of its own left" bash -c "
    t=\$(psql -X -qtA -c \"SELECT original_content FROM documents WHERE source_name = 'docs/$f'\")
    grep -q 'Git is a fast, scalable, distributed revision control system' <<<\"\$t\" &&
    ! grep -qE '^(\\*+ |=+ )|#\\+|\\[\\[Documentation|<nowiki>|\\\\(rtf|pard|par)|<(p|section|title)>' <<<\"\$t\""
done
t_check "Textile: its heading and its words" \
  test "$(q "SELECT original_content FROM documents WHERE source_name = 'docs/notes.textile'")" = "$(printf 'Textile notes\n\nSome strong words.')"
