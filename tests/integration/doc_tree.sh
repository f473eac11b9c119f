# A documentation tree as real ones are: pages beside images, fonts, binaries, scripts, a
# Sphinx build's copies and symlinks. Only the pages load, the rest is ignored and counted by
# type, the run exits 0; --prune prunes a removed page; a damaged tar.gz keeps only its own
# documents from --prune; --include takes a default exclude back; a missing input is exit 2.
# Every fixture is made here (printf, python3, copies from /usr/share and /bin).
. "$(dirname "$0")/../lib.sh"
newdb doc_tree
"$RAGLOAD" -q init
d=$TMP/docs
mkdir -p "$d/guide" "$d/_static" "$d/_sources/guide" "$d/_images"
printf '<html><head><title>Start</title></head><body><h1>Start</h1><p>PostgreSQL stores the corpus.</p></body></html>\n' > "$d/index.html"
printf '<html><head><title>Install</title></head><body><h1>Install</h1><p>Run the loader nightly.</p></body></html>\n' > "$d/guide/install.html"
printf '# Usage\n\nMarkdown page about vector indexes.\n' > "$d/guide/usage.md"
printf 'Plain text notes about HNSW and IVFFlat.\n' > "$d/notes.txt"
python3 - "$d" <<'EOF'
import struct, sys, zlib
d = sys.argv[1]
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 0, 0, 0, 0)) \
      + chunk(b'IDAT', zlib.compress(b'\0\0')) + chunk(b'IEND', b'')
open(d + '/_images/logo.png', 'wb').write(png)
open(d + '/diagram.png', 'wb').write(png)
# a TrueType header: version 1.0, 10 tables, then zeros
open(d + '/font.ttf', 'wb').write(b'\0\1\0\0' + struct.pack('>HHHH', 10, 128, 3, 32) + bytes(200))
open(d + '/figure.svg', 'w').write('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>label</text></svg>\n')
EOF
cp /bin/true "$d/helper"
printf 'var x = 1;\n' > "$d/_static/app.js"
printf 'body { margin: 0 }\n' > "$d/_static/style.css"
printf 'document.write("x");\n' > "$d/extra.js"
printf 'Search.setIndex({"docnames": []})\n' > "$d/searchindex.js"
printf 'Start\n=====\n\nPostgreSQL stores the corpus.\n' > "$d/_sources/index.rst.txt"
printf 'Install\n' > "$d/_sources/guide/install.rst.txt"
ln -s notes.txt "$d/notes-link.txt"
ln -s guide "$d/guide-link"

rc=0; "$RAGLOAD" --no-progress ingest "$d" 2> "$TMP/err" || rc=$?
t_eq "docs tree: exit 0" 0 "$rc"
t_eq "only the 4 pages loaded" "docs/guide/install.html docs/guide/usage.md docs/index.html docs/notes.txt" \
  "$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name) FROM documents")"
t_check "no warning printed" bash -c "! grep -q 'warning' '$TMP/err'"
t_check "summary counts ignored files by type" grep -qE 'ignored: +[0-9]+ \(.*png 2' "$TMP/err"
for ty in 'symlink 2' 'ttf 1' 'elf 1' 'svg 1' 'excluded 4'; do
  t_check "summary: $ty" grep -q "$ty" "$TMP/err"
done
t_check "run log records ignored by type" test "$(q "SELECT counts->'ignored_by_type'->>'png' FROM ragload_runs ORDER BY run_id DESC LIMIT 1")" = 2

# rerun with a page removed: --prune prunes it, ignored files do not stop it
rm "$d/guide/usage.md"
rc=0; "$RAGLOAD" --no-progress ingest --prune "$d" 2> "$TMP/err" || rc=$?
t_eq "rerun with --prune: exit 0" 0 "$rc"
t_check "summary says 1 pruned" grep -q '3 unchanged, 1 pruned' "$TMP/err"
t_eq "removed page pruned" 0 "$(q "SELECT count(*) FROM documents WHERE source_name = 'docs/guide/usage.md'")"

# --include takes a default exclude back
rc=0; "$RAGLOAD" --no-progress ingest --include 'extra.js' "$d" 2> "$TMP/err" || rc=$?
t_eq "--include: exit 0" 0 "$rc"
t_eq "--include brings extra.js back" 1 "$(q "SELECT count(*) FROM documents WHERE source_name = 'docs/extra.js'")"
t_eq "other scripts still excluded" 0 "$(q "SELECT count(*) FROM documents WHERE source_name LIKE '%.js' AND source_name <> 'docs/extra.js'")"
rc=0; "$RAGLOAD" --no-progress ingest --no-default-excludes --exclude '*.js' --exclude '*.css' "$d" 2> "$TMP/err" || rc=$?
t_eq "--no-default-excludes: the _sources copies load" 2 "$(q "SELECT count(*) FROM documents WHERE source_name LIKE 'docs/_sources/%'")"
t_check "--exclude on the command line still applies" test "$(q "SELECT count(*) FROM documents WHERE source_name LIKE 'docs/_static/%'")" = 0

# a damaged tar.gz beside an unrelated md.zip: exit 3; the zip's removed member is pruned,
# nothing under the damaged tar is
newdb doc_tree_damage
"$RAGLOAD" -q init
t=$TMP/two
mkdir -p "$t" "$TMP/src/tar" "$TMP/src/zip"
for i in 1 2 3 4 5 6; do head -c 40000 /dev/urandom | base64 > "$TMP/src/tar/part$i.txt"; done
printf '# One\n\nFirst markdown page.\n' > "$TMP/src/zip/one.md"
printf '# Two\n\nSecond markdown page.\n' > "$TMP/src/zip/two.md"
(cd "$TMP/src/tar" && tar -czf "$t/big.tar.gz" .)
(cd "$TMP/src/zip" && python3 -c "import zipfile; z = zipfile.ZipFile('$t/md.zip', 'w'); [z.write(f) for f in ('one.md', 'two.md')]")
ln -s md.zip "$t/md-link.zip"
rc=0; "$RAGLOAD" --no-progress ingest "$t" 2> "$TMP/err" || rc=$?
t_eq "first load of tar.gz + md.zip: exit 0" 0 "$rc"
t_eq "all 8 documents loaded" 8 "$(q "SELECT count(*) FROM documents")"
size=$(stat -c %s "$t/big.tar.gz")
head -c $((size / 2)) "$t/big.tar.gz" > "$TMP/cut" && mv "$TMP/cut" "$t/big.tar.gz"
(cd "$TMP/src/zip" && rm -f "$t/md.zip" && python3 -c "import zipfile; z = zipfile.ZipFile('$t/md.zip', 'w'); z.write('one.md')")
rc=0; "$RAGLOAD" --no-progress ingest --prune "$t" 2> "$TMP/err" || rc=$?
t_eq "damaged tar.gz: exit 3" 3 "$rc"
t_check "the damaged archive is named" grep -q 'big.tar.gz' "$TMP/err"
t_eq "the zip's removed member is pruned" 0 "$(q "SELECT count(*) FROM documents WHERE source_name = 'two/md.zip!two.md'")"
t_eq "the zip's other member stays" 1 "$(q "SELECT count(*) FROM documents WHERE source_name = 'two/md.zip!one.md'")"
t_eq "nothing under the damaged tar is pruned" 6 "$(q "SELECT count(*) FROM documents WHERE source_name LIKE 'two/big.tar.gz!%'")"
t_check "what was kept, and why, is said" grep -q 'prune kept .* under two/big.tar.gz' "$TMP/err"
t_check "summary: 1 pruned" grep -q '1 pruned' "$TMP/err"

# a missing input: exit 2 before anything runs, nothing written
runs=$(q "SELECT count(*) FROM ragload_runs")
rc=0; "$RAGLOAD" --no-progress ingest "$t" "$TMP/no-such-dir" 2> "$TMP/err" || rc=$?
t_eq "missing input: exit 2" 2 "$rc"
t_check "says no such input" grep -q "ragload: error: no such input: $TMP/no-such-dir" "$TMP/err"
t_eq "nothing written (no run recorded)" "$runs" "$(q "SELECT count(*) FROM ragload_runs")"
