# Real document trees: legacy charsets decoded exactly (declared, else detected), never a
# silent U+FFFD; HTML pages reduced to their main content; code blocks keep their lines.
. "$(dirname "$0")/../lib.sh"
newdb real_text
if ! "$RAGLOAD" -q init; then t_fail "ragload init ($RAGLOAD)"; exit 0; fi
in=$TMP/in
mkdir -p "$in" "$TMP/tar" "$TMP/bad"

# ---- charsets -------------------------------------------------------------------------------------
de='Gem\xe4\xdf \xa7 3 ist die Gr\xf6\xdfe der Fl\xe4che ma\xdfgeblich.\nMit freundlichen Gr\xfc\xdfen\n'
printf "$de" > "$in/brief.txt"
printf "$de" > "$TMP/tar/brief.txt"
tar -C "$TMP/tar" -cf "$in/post.tar" brief.txt
printf '<html><head><meta charset="windows-1252"><title>Preise</title></head><body><p>\x84Gut\x93 kostet 5 \x80 \x96 \x93quoted\x94\x85</p></body></html>' > "$in/preise.html"
printf '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=ISO-8859-1"><TITLE>Men\xfc</TITLE></HEAD><BODY><P>\xc0 la carte, cr\xe8me br\xfbl\xe9e \xa9 1999</P></BODY></HTML>' > "$in/menu.htm"
printf 'Съешь же ещё этих мягких французских булок, да выпей чаю.\n' | iconv -f UTF-8 -t KOI8-R > "$in/koi8.txt"
printf '吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。\n' | iconv -f UTF-8 -t SHIFT_JIS > "$in/neko.txt"
printf 'plain ASCII text\n' > "$in/ascii.txt"

# ---- HTML: main content, navigation out, code kept -------------------------------------------------
cat > "$in/fs.html" <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>File system | Node.js v18 Documentation</title></head>
<body class="alt apidoc" id="api-section-fs">
<a href="#apicontent" class="skip-to-content">Skip to content</a>
<div id="content" class="clearfix">
  <div id="column2" class="interior" role="navigation">
    <div id="intro" class="interior"><a href="/">Node.js</a></div>
    <ul><li><a href="assert.html">Assertion testing</a></li><li><a href="buffer.html">Buffer</a></li></ul>
  </div>
  <div id="column1" data-id="fs" class="interior">
    <header class="header"><h1>Node.js v18 documentation</h1><hr></header>
    <details role="navigation" id="toc" open><summary>Table of contents</summary>
      <ul><li><a href="#file-system">File system</a></li></ul></details>
    <div role="main" id="apicontent">
      <h2>File system<span><a class="mark" href="#file-system" id="file-system">#</a></span></h2>
      <p>The <code>node:fs</code> module enables interacting with the file system.</p>
      <pre><code class="language-js">import { readFile } from 'node:fs';

readFile('/etc/passwd', (err, data) =&gt; {
  if (err) throw err;
  console.log(data);
});</code></pre>
    </div>
  </div>
</div>
</body></html>
HTML
py=/usr/share/doc/python3.11-doc/html/library/csv.html
[ -f "$py" ] && cp "$py" "$in/csv.html"

rc=0
"$RAGLOAD" --no-progress ingest "$in" > "$TMP/out" 2> "$TMP/err" || rc=$?
t_eq "legacy charsets and real pages load without a warning (exit 0)" 0 "$rc"
[ "$rc" = 0 ] || head -n 20 "$TMP/err"

# keys start with the input directory's name
doc() { q "SELECT original_content FROM documents WHERE source_name = 'in/$1'"; }
meta() { q "SELECT metadata->>'$2' FROM documents WHERE source_name = '${3:-in}/$1'"; }
want_de=$(printf 'Gemäß § 3 ist die Größe der Fläche maßgeblich. Mit freundlichen Grüßen')
t_eq "German Latin-1 text stored exactly" "$want_de" "$(doc brief.txt)"
t_eq "... also inside a tar" "$want_de" "$(doc 'post.tar!brief.txt')"
t_eq "... its encoding recorded" "windows-1252 detected" "$(meta brief.txt encoding) $(meta brief.txt encoding_source)"
t_eq "declared windows-1252: curly quotes, euro, dashes exact" '„Gut“ kostet 5 € – “quoted”…' "$(doc preise.html)"
t_eq "... recorded as declared" "windows-1252 declared" "$(meta preise.html encoding) $(meta preise.html encoding_source)"
t_eq "http-equiv ISO-8859-1 page exact" 'À la carte, crème brûlée © 1999' "$(doc menu.htm)"
t_eq "... its title too" 'Menü' "$(q "SELECT metadata->>'title' FROM documents WHERE source_name = 'in/menu.htm'")"
t_eq "KOI8-R detected" 'Съешь же ещё этих мягких французских булок, да выпей чаю. koi8-r' "$(doc koi8.txt) $(meta koi8.txt encoding)"
t_eq "Shift_JIS detected" '吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。 shift_jis' "$(doc neko.txt) $(meta neko.txt encoding)"
t_eq "UTF-8 and ASCII need no decoding (no encoding recorded)" "" "$(meta ascii.txt encoding)"
t_eq "no U+FFFD anywhere" 0 "$(q "SELECT count(*) FROM documents WHERE strpos(original_content, chr(65533)) > 0")"

want_fs=$(printf "File system\n\nThe node:fs module enables interacting with the file system.\n\nimport { readFile } from 'node:fs';\n\nreadFile('/etc/passwd', (err, data) => {\n  if (err) throw err;\n  console.log(data);\n});")
t_eq "Node.js page: main content only, code block verbatim" "$want_fs" "$(doc fs.html)"
t_check "a chunk keeps the code's indentation" test "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'in/fs.html' AND strpos(c.chunk_text, E'{\n  if (err) throw err;\n  console.log(data);') > 0")" -ge 1
if [ -f "$py" ]; then
  t_eq "Python docs page: no sidebar, related bar or permalink in its chunks" 0 \
    "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'in/csv.html' AND c.chunk_text ~ '(Table of Contents|Previous topic|This Page|Report a Bug|Show Source|Navigation|¶)'")"
  t_check "Python docs page: the example keeps its lines" test "$(q "SELECT count(*) FROM documents WHERE source_name = 'in/csv.html' AND strpos(original_content, E'import csv\nwith open(''eggs.csv'', ''w'', newline='''') as csvfile:\n    spamwriter = csv.writer(') > 0")" = 1
  t_eq "Python docs page: title from <title>" 'csv — CSV File Reading and Writing — Python 3.11.2 documentation' "$(meta csv.html title | sed 's/3\.11\.[0-9]*/3.11.2/')"
else
  t_skip "Python docs (python3.11-doc not installed)"
fi

# ---- garbage no charset explains: loaded, warned about, counted, exit 3 ---------------------------
printf 'Valid start, then bad bytes \xff\xfe\xc3 and an overlong \xc0\xaf end.\n' > "$TMP/bad/garbled.txt"
rc=0
"$RAGLOAD" --no-progress ingest "$TMP/bad" > "$TMP/out2" 2> "$TMP/err2" || rc=$?
t_eq "garbled text: exit 3" 3 "$rc"
t_check "garbled text: warned with its reason and count" grep -q 'ragload: warning: bad/garbled.txt: 5 bytes not valid utf-8, replaced by U+FFFD \[decoding_repaired\]' "$TMP/err2"
t_eq "garbled text: still loaded, replacements counted" "5" "$(meta garbled.txt invalid_utf8 bad)"
