# PDF: groff (gropdf) writes real multi-page PDFs at test time from an ms source whose words
# tests/fixtures/pdf-ms.py knows: a running header and footer, numbered sections with
# bookmarks (the outline), hyphenated line ends, compound words, a last section in two
# columns. The almanac loads as one document with >= 98% of the source's words in order, the
# columns one after the other, the headers and footers gone, hyphenated words joined and real
# compounds kept, headings from the outline, pages in every chunk, the properties in
# documents.metadata. Corrupt, truncated, encrypted (qpdf), oversized and image-only PDFs are
# skipped with their reason while their siblings load (exit 3); a scanned page of text is read
# with [documents] ocr = on (Tesseract); with the faults build a PDF
# that crashes the worker, one that spins, one that sleeps and one that eats memory are killed
# or stopped and counted.
#
# Word coverage: the source's words (\w+, lower-cased, "well-known" = "well known") against
# the stored text's: longest common subsequence / source word count >= 0.98.
. "$(dirname "$0")/../lib.sh"
for t in groff qpdf pdftotext; do
  command -v $t >/dev/null || { t_skip "pdf: $t not installed"; exit 0; }
done
newdb pdf
"$RAGLOAD" -q init
d=$TMP/pdf
mkdir -p "$d"
FIX=$ROOT/tests/fixtures
python3 "$FIX/pdf-ms.py" "$TMP/almanac.ms" "$TMP/almanac.words" 7 6
groff -ms -Tpdf "$TMP/almanac.ms" > "$d/almanac.pdf" 2> "$TMP/groff.err" ||
  t_fail "groff writes almanac.pdf: $(head -c 200 "$TMP/groff.err")"
printf '.TL\nShort Notes\n.PP\nThe lighthouse keeper logs every passing vessel at dusk.\n' |
  groff -ms -Tpdf > "$d/notes.pdf"
python3 "$FIX/pdf-ms.py" "$TMP/big.ms" "$TMP/big.words" 3 60
groff -ms -Tpdf "$TMP/big.ms" > "$d/big.pdf"
size=$(stat -c %s "$d/almanac.pdf"); big=$(stat -c %s "$d/big.pdf")
t_check "big.pdf is larger than the limit the run sets ($big > 100 KB > $size)" \
  test "$big" -gt 102400 -a "$size" -lt 102400
head -c $((size * 6 / 10)) "$d/almanac.pdf" > "$d/truncated.pdf"
{ printf '%%PDF-1.4\n'; head -c 3000 /dev/urandom; } > "$d/corrupt.pdf"
qpdf --encrypt user owner 256 -- "$d/almanac.pdf" "$d/locked.pdf"
python3 "$FIX/pdf-scan.py" "$d/scan.pdf"
pages=$(pdfinfo "$d/almanac.pdf" | awk '/^Pages:/ {print $2}')

rc=0; "$RAGLOAD" --no-progress --set limits.max_entry_bytes=100KB ingest --chunk-tokens 64 \
  --chunk-overlap 0 "$d" 2> "$TMP/err" || rc=$?
t_eq "pdf dir: exit 3 (damaged samples skipped)" 3 "$rc"
t_check "truncated.pdf skipped as corrupt_document" grep -q "truncated.pdf: pdf: not a readable PDF" "$TMP/err"
t_check "corrupt.pdf skipped as corrupt_document" grep -q "corrupt.pdf: pdf: not a readable PDF" "$TMP/err"
t_check "locked.pdf skipped as encrypted" grep -q "locked.pdf: pdf: encrypted PDF.*\[encrypted\]" "$TMP/err"
t_check "big.pdf skipped as entry_too_large" grep -q "big.pdf.*\[entry_too_large\]" "$TMP/err"
t_check "scan.pdf (no text layer) skipped as no_text_layer" grep -q "scan.pdf: pdf: none of its 1 pages has a text layer.*\[no_text_layer\]" "$TMP/err"
t_eq "the two good PDFs loaded, each once" "pdf/almanac.pdf pdf/notes.pdf" \
  "$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name) FROM documents")"

q "SELECT original_content FROM documents WHERE source_name = 'pdf/almanac.pdf'" > "$TMP/almanac.txt"
cov=$(words_kept "$TMP/almanac.words" "$TMP/almanac.txt")
t_check "almanac.pdf keeps >= 98% of the source's words in order ($cov)" \
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.98 else 1)" "$cov"
t_check "two columns read column by column (every alpha word before every omega word)" \
  python3 -c "
import re, sys
w = re.findall(r'\b(alpha|omega)[a-z]+', open(sys.argv[1]).read())
sys.exit(0 if w and w == sorted(w) and 'omega' in w else 1)" "$TMP/almanac.txt"
t_check "running header and footer dropped" \
  bash -c "! grep -qiE 'draft edition|confidential harbour circular|page [0-9]' '$TMP/almanac.txt'"
# hyphenation: gropdf broke words at line ends (pdftotext -layout shows them); no fragment
# survives: every stored word is a source word or a section number
broken=$(pdftotext -layout "$d/almanac.pdf" - | grep -cE '[a-z]-$')
t_check "groff hyphenated line ends ($broken lines end in a hyphen)" test "$broken" -ge 10
t_check "hyphenated words joined (no stored word is a fragment)" python3 -c "
import re, sys
src = set(open(sys.argv[1]).read().split())
doc = set(re.findall(r'\w+', open(sys.argv[2]).read().lower()))
bad = sorted(w for w in doc - src if not w.isdigit())
print(bad[:10]) if bad else None
sys.exit(1 if bad else 0)" "$TMP/almanac.words" "$TMP/almanac.txt"
t_check "compound hyphens kept (well-known, state-of-the-art; never wellknown)" bash -c "
grep -q 'well-known' '$TMP/almanac.txt' && grep -q 'state-of-the-art' '$TMP/almanac.txt' &&
! grep -qiE 'wellknown|stateof|ofthe-|longterm|followup|northeast' '$TMP/almanac.txt'"

# headings from the outline (bookmarks), in order and at their levels
t_eq "headings from the outline, with their levels" \
  "1 1. Introduction|2 1.1. Shipping Lanes|1 2. Finances|2 2.1. Outlook|1 3. Weather|2 3.1. Fisheries|1 4. Columns" \
  "$(q "SELECT string_agg((h->>1) || ' ' || (h->>2), '|' ORDER BY o) FROM documents, jsonb_array_elements(metadata->'headings') WITH ORDINALITY AS x(h, o) WHERE source_name = 'pdf/almanac.pdf'")"
t_eq "the alpha column's chunks are under Columns" t \
  "$(q "SELECT bool_and(c.chunk_metadata->'headings' = '[\"4. Columns\"]') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'pdf/almanac.pdf' AND c.chunk_text ~ 'alpha(one|two|three|four|five)'")"
# pages: every chunk says its pages; the Columns heading's chunk starts on the page
# pdftotext finds "4. Columns" on
colpage=0
for i in $(seq 1 "$pages"); do
  pdftotext -f "$i" -l "$i" "$d/almanac.pdf" - | grep -q '^4\. Columns' && colpage=$i
done
t_eq "every chunk of almanac.pdf has pages" 0 \
  "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'pdf/almanac.pdf' AND NOT c.chunk_metadata ? 'pages'")"
t_eq "the first chunk under Columns is on page $colpage" "$colpage" \
  "$(q "SELECT c.chunk_metadata->'pages'->>0 FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'pdf/almanac.pdf' AND c.chunk_metadata->'headings' = '[\"4. Columns\"]' ORDER BY (c.chunk_metadata->>'ordinal')::int LIMIT 1")"
t_eq "the last chunk ends on the last page ($pages)" "$pages" \
  "$(q "SELECT c.chunk_metadata->'pages'->>1 FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'pdf/almanac.pdf' ORDER BY (c.chunk_metadata->>'ordinal')::int DESC LIMIT 1")"
t_eq "the first chunk is on page 1" "[1, 1]" \
  "$(q "SELECT c.chunk_metadata->>'pages' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'pdf/almanac.pdf' ORDER BY (c.chunk_metadata->>'ordinal')::int LIMIT 1")"
# properties
t_eq "almanac.pdf: title, author, pages in metadata" "The Harbour Almanac|Ada Lovelace|$pages|pdf" \
  "$(q "SELECT (metadata->'properties'->>'title') || '|' || (metadata->'properties'->>'author') || '|' || (metadata->'properties'->>'pages') || '|' || (metadata->>'format') FROM documents WHERE source_name = 'pdf/almanac.pdf'")"
t_check "almanac.pdf: created and modified as ISO 8601" bash -c "
psql -X -qtA -c \"SELECT (metadata->'properties'->>'created') || ' ' || (metadata->'properties'->>'modified') FROM documents WHERE source_name = 'pdf/almanac.pdf'\" |
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2} [0-9]{4}-'"

# the same directory as a tar: the same text under the archive's keys
(cd "$TMP" && tar -cf pdf.tar pdf)
rc=0; "$RAGLOAD" --no-progress --set limits.max_entry_bytes=100KB ingest --chunk-tokens 64 \
  --chunk-overlap 0 "$TMP/pdf.tar" 2> "$TMP/err.tar" || rc=$?
t_eq "pdf.tar: exit 3" 3 "$rc"
t_eq "pdf.tar: almanac.pdf's text the same as on disk" 1 \
  "$(q "SELECT count(*) FROM documents a JOIN documents b ON b.source_name = 'pdf.tar!' || a.source_name WHERE a.source_name = 'pdf/almanac.pdf' AND a.original_content = b.original_content")"

# OCR ([documents] ocr = on): a scanned page of text (pdftoppm's rendering of notes.pdf, as the
# only thing an image-only PDF draws) is read by Tesseract
o=$TMP/ocr
mkdir -p "$o"
pdftoppm -r 150 -gray "$d/notes.pdf" "$TMP/page"
python3 "$FIX/pdf-scan.py" "$o/scanned.pdf" "$TMP"/page-1.pgm
newdb pdf_ocr
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" --no-progress --set documents.ocr=on ingest "$o" 2> "$TMP/err.ocr" || rc=$?
t_eq "ocr: exit 0" 0 "$rc"
t_check "ocr: the scanned page's words are read" bash -c "
psql -X -qtA -c \"SELECT original_content FROM documents WHERE source_name = 'ocr/scanned.pdf'\" |
grep -qi 'lighthouse keeper logs every passing vessel'"
t_eq "ocr: metadata counts the page read by OCR, chunks say page 1" "1 [1, 1]" \
  "$(q "SELECT (metadata->>'ocr_pages') || ' ' || (c.chunk_metadata->>'pages') FROM documents d JOIN chunks c USING (doc_id) WHERE source_name = 'ocr/scanned.pdf' LIMIT 1")"

# a crash and two hangs (faults build only: the worker obeys a marker in the file)
FAULTS=$ROOT/build/faults/ragload
[ -x "$FAULTS" ] && [ -x "$ROOT/build/faults/ragload-parse" ] || make -s -C "$ROOT" faults >/dev/null
f=$TMP/faults
mkdir -p "$f"
cp "$d/notes.pdf" "$f/sibling.pdf"
for k in crash spin sleep hog; do
  { cat "$d/notes.pdf"; printf '%%RAGLOAD-FAULT %s\n' "$k"; } > "$f/$k.pdf"
done
# with the model of the load above given: a fit would be a second pass through the worker, and
# the hangs would each be waited out twice
"$RAGLOAD" -q model export "$TMP/pdf.model"
newdb pdf_faults
"$RAGLOAD" -q init
start=$(date +%s)
rc=0; "$FAULTS" --no-progress --set limits.parse_seconds=2 --set limits.parse_memory_mb=256 \
  ingest --model "$TMP/pdf.model" "$f" 2> "$TMP/err.faults" || rc=$?
took=$(( $(date +%s) - start ))
t_eq "faults: exit 3" 3 "$rc"
t_check "crash.pdf: the worker's crash is counted as parse_failed" \
  grep -q "crash.pdf: pdf: the PDF worker crashed (signal 11.*\[parse_failed\]" "$TMP/err.faults"
t_check "spin.pdf: killed at its CPU limit, parse_timeout" \
  grep -q "spin.pdf: pdf: the PDF worker used up its 2 s of CPU.*\[parse_timeout\]" "$TMP/err.faults"
t_check "sleep.pdf: killed at the wall-clock deadline, parse_timeout" \
  grep -q "sleep.pdf: pdf: the PDF worker gave no answer within 9 s.*\[parse_timeout\]" "$TMP/err.faults"
t_check "hog.pdf: stopped at its 256 MB address space (dies on malloc's NULL), parse_failed" \
  grep -q "hog.pdf: pdf: the PDF worker crashed.*\[parse_failed\]" "$TMP/err.faults"
t_eq "faults: the sibling loads" "faults/sibling.pdf" \
  "$(q "SELECT string_agg(source_name, ' ') FROM documents")"
t_check "faults: the run did not wait on its hangs (took $took s, the deadline is 9 s)" test "$took" -lt 120
# the release build has no such hook: the marked files are ordinary PDFs to it
newdb pdf_release
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" -q --no-progress ingest "$f/crash.pdf" "$f/spin.pdf" 2> "$TMP/err.rel" || rc=$?
t_eq "release build: the marker does nothing (exit 0, both load)" "0 2" \
  "$rc $(q "SELECT count(*) FROM documents")"
