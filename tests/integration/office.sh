# Every format ragload reads, end to end (issue 13's acceptance 1): pandoc writes a
# .docx, .odt, .epub, .pptx, a standalone .html, a plain .txt and groff ms (typeset by groff
# into a .pdf with its outline, title and author) from one Markdown source this
# test knows (a YAML title, author and date, headings, a list, a table, a footnote), which is
# also loaded as it is (.md); the same text goes out as an e-mail (.eml) and as the first
# message of an mbox; python3's zipfile writes a minimal .xlsx, .ods and .odp by hand. Each
# loads as ONE document under its own key (an mbox: one a message), its text keeps the
# source's words in order, chunks carry the right heading path and (pptx, odp) slide numbers,
# the properties (title, author, created, modified, pages or slides, where the format has
# them) reach documents.metadata; a truncated docx and random bytes named .docx are skipped
# as corrupt_document (exit 3) while the others load; a .tar.gz and a .zip of the directory
# load the same documents with the same text. Then: reindex keeps the slides; bad samples of
# every office format are skipped with their reasons.
#
# (PDF's own cases, two columns, running headers, hyphenation, bad and hostile samples, are
# pdf.sh's.)
#
# Word coverage: the source's words (\w+, lower-cased; the footnote's definition left out)
# against the document's: longest common subsequence / source word count >= 0.98. The
# footnote's words must appear in order somewhere (docx puts notes at the end, odt inline).
. "$(dirname "$0")/../lib.sh"
command -v pandoc >/dev/null || { t_skip "office: pandoc not installed"; exit 0; }
command -v groff >/dev/null || { t_skip "office: groff not installed"; exit 0; }
newdb office
"$RAGLOAD" -q init
d=$TMP/office
mkdir -p "$d"
cat > "$TMP/src.md" <<'EOF'
---
title: The Quarterly Harbour Report
author: Ada Lovelace
date: 2025-03-14
---

# Introduction

The harbour opened in spring and the ferries carried many passengers across the bay.[^1]
Fishermen unloaded their catch at dawn while traders argued over the price of cod.

## Shipping lanes

- First lane runs north past the lighthouse and the old signal tower
- Second lane runs east to the fishing village beyond the dunes
- Third lane is closed for dredging until the autumn storms pass

| Vessel | Tonnage | Crew |
|--------|---------|------|
| Albatross | 1200 | 14 |
| Cormorant | 800 | 9 |

# Finances

Revenue grew steadily while costs for fuel and maintenance stayed flat this year.
The treasurer reported a modest surplus that will fund repairs to the eastern breakwater.

## Outlook

Next year the council plans a new pier for larger cruise ships and cargo boats.
Engineers expect construction to take eighteen months if the weather cooperates.

[^1]: Passenger numbers come from the ticket office ledger.
EOF
for t in docx odt epub pptx; do
  pandoc "$TMP/src.md" -o "$d/report.$t" 2> "$TMP/pandoc.err" ||
    t_fail "pandoc writes report.$t: $(head -c 200 "$TMP/pandoc.err")"
done
pandoc -s "$TMP/src.md" -o "$d/report.html"
pandoc -t plain "$TMP/src.md" -o "$d/report.txt"
# (Times: pandoc's ms default, Palatino, is not among groff's own PDF fonts)
pandoc -s -t ms -V fontfamily=T "$TMP/src.md" -o "$TMP/src.ms"
groff -ms -mpdfmark -t -k -Tpdf "$TMP/src.ms" > "$d/report.pdf" 2> "$TMP/groff.err" ||
  t_fail "groff writes report.pdf: $(head -c 200 "$TMP/groff.err")"
cp "$TMP/src.md" "$d/report.md"
python3 - "$d" "$d/report.txt" <<'EOF'
import sys
d, body = sys.argv[1], open(sys.argv[2]).read()
head = ("From: Ada Lovelace <ada@example.org>\nTo: council@example.org\n"
        "Subject: The Quarterly Harbour Report\nDate: Fri, 14 Mar 2025 09:30:00 +0000\n"
        "Message-ID: <report@example.org>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
open(d + "/report.eml", "w").write(head + body)
open(d + "/notes.mbox", "w").write(
    "From ada@example.org Fri Mar 14 09:30:00 2025\n" + head + body.replace("\nFrom ", "\n>From ")
    + "\nFrom bob@example.org Sat Mar 15 10:00:00 2025\nFrom: Bob <bob@example.org>\n"
    "Subject: Re: The Quarterly Harbour Report\nDate: Sat, 15 Mar 2025 10:00:00 +0000\n"
    "In-Reply-To: <report@example.org>\n\nThanks, the pier plan looks good.\n")
EOF
# the formats each check below runs over
COVER_FORMATS="docx odt epub pptx md html txt eml pdf"
HEADING_FORMATS="docx odt epub md html pdf"
PROP_FORMATS="docx odt epub pptx md html eml pdf"
N_DOCS=14
python3 - "$d" <<'EOF'
import sys, zipfile
d = sys.argv[1]
def pkg(name, members, mimetype=None):
    z = zipfile.ZipFile(d + '/' + name, 'w', zipfile.ZIP_DEFLATED)
    if mimetype:
        z.writestr(zipfile.ZipInfo('mimetype'), mimetype)  # stored, first
    for m, x in members:
        z.writestr(m, x)
    z.close()
S = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'
R = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships'
P = 'http://schemas.openxmlformats.org/package/2006/relationships'
strings = ['Vessel', 'Tonnage', 'Albatross', 'Cormorant', 'Harbour fees']
sst = ''.join('<si><t>%s</t></si>' % s for s in strings)
def row(n, cells):
    return '<row r="%d">%s</row>' % (n, ''.join(cells))
s1 = row(1, ['<c r="A1" t="s"><v>0</v></c>', '<c r="B1" t="s"><v>1</v></c>']) + \
     row(2, ['<c r="A2" t="s"><v>2</v></c>', '<c r="B2"><v>1200</v></c>']) + \
     row(3, ['<c r="A3" t="s"><v>3</v></c>', '<c r="B3"><v>800</v></c>'])
s2 = row(1, ['<c r="A1" t="s"><v>4</v></c>', '<c r="B1" t="inlineStr"><is><t>paid quarterly</t></is></c>'])
pkg('fleet.xlsx', [
    ('[Content_Types].xml', '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
    ('_rels/.rels', '<Relationships xmlns="%s"><Relationship Id="rId1" Type="%s/officeDocument" Target="xl/workbook.xml"/></Relationships>' % (P, R)),
    ('xl/workbook.xml', '<workbook xmlns="%s" xmlns:r="%s"><sheets><sheet name="Fleet" sheetId="1" r:id="rId1"/><sheet name="Fees" sheetId="2" r:id="rId2"/></sheets></workbook>' % (S, R)),
    ('xl/_rels/workbook.xml.rels', '<Relationships xmlns="%s"><Relationship Id="rId1" Type="%s/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="%s/worksheet" Target="worksheets/sheet2.xml"/><Relationship Id="rId3" Type="%s/sharedStrings" Target="sharedStrings.xml"/></Relationships>' % (P, R, R, R)),
    ('xl/sharedStrings.xml', '<sst xmlns="%s">%s</sst>' % (S, sst)),
    ('xl/worksheets/sheet1.xml', '<worksheet xmlns="%s"><sheetData>%s</sheetData></worksheet>' % (S, s1)),
    ('xl/worksheets/sheet2.xml', '<worksheet xmlns="%s"><sheetData>%s</sheetData></worksheet>' % (S, s2)),
    ('docProps/core.xml', '<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Fleet Register</dc:title><dc:creator>Grace Hopper</dc:creator></cp:coreProperties>'),
])
NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
      'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
      'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
      'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
      'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
      'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
      'xmlns:dc="http://purl.org/dc/elements/1.1/"')
def meta(title, author):
    return ('<office:document-meta %s><office:meta><dc:title>%s</dc:title>'
            '<meta:initial-creator>%s</meta:initial-creator><dc:creator>Someone Else</dc:creator>'
            '<meta:document-statistic meta:page-count="2"/></office:meta></office:document-meta>' % (NS, title, author))
def cell(v):
    return '<table:table-cell><text:p>%s</text:p></table:table-cell>' % v
ods = ('<office:document-content %s><office:body><office:spreadsheet><table:table table:name="Moorings">'
       '<table:table-row>%s</table:table-row><table:table-row>%s<table:table-cell table:number-columns-repeated="3"/></table:table-row>'
       '</table:table></office:spreadsheet></office:body></office:document-content>' % (NS, cell('Berth') + cell('Owner'), cell('North quay') + cell('Harbour trust')))
pkg('moorings.ods', [('content.xml', ods), ('meta.xml', meta('Moorings List', 'Alan Turing')),
    ('META-INF/manifest.xml', '<manifest/>')], 'application/vnd.oasis.opendocument.spreadsheet')
def page(n, title, body, notes):
    return ('<draw:page draw:name="page%d"><draw:frame presentation:class="title"><draw:text-box><text:p>%s</text:p></draw:text-box></draw:frame>'
            '<draw:frame presentation:class="outline"><draw:text-box><text:p>%s</text:p></draw:text-box></draw:frame>'
            '<draw:frame presentation:class="page-number"><draw:text-box><text:p>%d</text:p></draw:text-box></draw:frame>'
            '<presentation:notes><draw:page-thumbnail/><draw:frame><draw:text-box><text:p>%s</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>' % (n, title, body, n, notes))
odp = ('<office:document-content %s><office:body><office:presentation>%s%s</office:presentation></office:body></office:document-content>'
       % (NS, page(1, 'Welcome aboard', 'The tour starts at the lighthouse.', 'Greet the visitors warmly.'),
          page(2, 'Safety briefing', 'Life jackets hang under every seat.', 'Point at the exits twice.')))
pkg('tour.odp', [('content.xml', odp), ('meta.xml', meta('Harbour Tour', 'Alan Turing'))],
    'application/vnd.oasis.opendocument.presentation')
EOF
head -c 3000 "$d/report.docx" > "$d/truncated.docx"
# a zip bomb under a docx's clothes: 40 MB of XML deflated to some 40 KB (ratio ~1000)
python3 - "$d/report.docx" "$TMP/bomb.docx" <<'EOF'
import sys, zipfile
src, dst = zipfile.ZipFile(sys.argv[1]), zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED)
for n in src.namelist():
    x = src.read(n)
    if n == 'word/document.xml':
        x = x.replace(b'<w:body>', b'<w:body>' + b' ' * (40 << 20))
    dst.writestr(n, x)
dst.close()
EOF
head -c 4096 /dev/urandom > "$d/random.docx"
# OOXML encryption: the package inside an OLE2 compound file (EncryptionInfo, EncryptedPackage)
cat > "$TMP/cfb.py" <<'EOF'
# cfb.py OUT [STREAM...]: a minimal OLE2 compound file (512-byte sectors: header, one FAT
# sector, one directory sector, one data sector) whose directory holds the named streams.
import os, struct, sys
out, names = sys.argv[1], sys.argv[2:] or ['EncryptionInfo', 'EncryptedPackage']
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
hdr = (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + bytes(16) + struct.pack('<HHHHH', 0x3E, 3, 0xFFFE, 9, 6)
       + bytes(6) + struct.pack('<IIIIIIIII', 0, 1, 1, 0, 4096, END, 0, END, 0)
       + struct.pack('<I', 0) + struct.pack('<I', FREE) * 108)
fat = struct.pack('<III', FATSECT, END, END) + struct.pack('<I', FREE) * 125
def entry(name, kind, child=NOSTREAM, right=NOSTREAM, start=END, size=0):
    n = (name + '\0').encode('utf-16-le')
    return (n.ljust(64, b'\0') + struct.pack('<HBB', len(n), kind, 1)
            + struct.pack('<III', NOSTREAM, right, child) + bytes(16 + 4 + 16)
            + struct.pack('<IQ', start, size))
ents = [entry('Root Entry', 5, child=1)]
for i, nm in enumerate(names[:3]):
    ents.append(entry(nm, 2, right=i + 2 if i + 1 < len(names[:3]) else NOSTREAM, start=2, size=64))
d = b''.join(ents).ljust(512, b'\0')
open(out, 'wb').write(hdr + fat + d + os.urandom(512))
EOF
python3 "$TMP/cfb.py" "$d/locked.docx"

rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 24 --chunk-overlap 0 "$d" 2> "$TMP/err" || rc=$?
t_eq "office dir: exit 3 (two damaged documents)" 3 "$rc"
rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 24 --chunk-overlap 0 "$TMP/bomb.docx" 2> "$TMP/err.bomb" || rc=$?
t_eq "bomb.docx: exit 3" 3 "$rc"
t_check "bomb.docx: skipped as corrupt_document (expansion bound)" grep -q "bomb.docx: docx: package expands past its bounds" "$TMP/err.bomb"
t_check "truncated.docx skipped as corrupt_document" grep -q "truncated.docx: .*docx" "$TMP/err"
t_check "random.docx skipped as corrupt_document" grep -q "random.docx: named like an office document" "$TMP/err"
t_check "locked.docx (OLE2 holding EncryptedPackage) skipped as encrypted" grep -q "locked.docx: docx: an encrypted OOXML package.*\[encrypted\]" "$TMP/err"
t_check "summary counts corrupt_document 2" grep -qE "corrupt_document:? +2|corrupt_document 2" "$TMP/err"
t_eq "each document once, under its own key (an mbox: one a message)" \
  "office/fleet.xlsx office/moorings.ods office/notes.mbox#1 office/notes.mbox#2 office/report.docx office/report.eml office/report.epub office/report.html office/report.md office/report.odt office/report.pdf office/report.pptx office/report.txt office/tour.odp" \
  "$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name) FROM documents")"

# word coverage, in order
words() { python3 -c '
import re, sys
t = open(sys.argv[1]).read()
print(" ".join(re.findall(r"\w+", t.lower())))' "$1"; }
python3 - "$TMP/src.md" > "$TMP/src.words" <<'EOF'
import re, sys
t = open(sys.argv[1]).read().split('---', 2)[2]
t = re.sub(r'\[\^1\]:.*', '', t).replace('[^1]', '')
print(' '.join(re.findall(r'\w+', t.lower())))
EOF
for t in $COVER_FORMATS mbox; do
  key=office/report.$t; [ "$t" = mbox ] && key='office/notes.mbox#1'
  q "SELECT original_content FROM documents WHERE source_name = '$key'" > "$TMP/$t.txt"
  cov="$(words_kept "$TMP/src.words" "$TMP/$t.txt") $(python3 -c '
import re, sys
doc = " ".join(re.findall(r"\w+", open(sys.argv[1]).read().lower()))
print("note" if "passenger numbers come from the ticket office ledger" in doc else "nonote")' "$TMP/$t.txt")"
  t_check "$key keeps >= 98% of the source's words in order ($cov)" \
    python3 -c "import sys; c, n = sys.argv[1].split(); sys.exit(0 if float(c) >= 0.98 and n == 'note' else 1)" "$cov"
done

# heading paths
for t in $HEADING_FORMATS; do
  # (a chunk's heading path is the one at its start; the treasurer's sentence starts one)
  t_eq "report.$t: the chunk about the surplus is under Finances" t \
    "$(q "SELECT bool_and(c.chunk_metadata->'headings' = '[\"Finances\"]') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/report.$t' AND c.chunk_text LIKE '%treasurer reported%'")"
  t_eq "report.$t: the table rows are under Introduction > Shipping lanes" t \
    "$(q "SELECT bool_and(c.chunk_metadata->'headings' = '[\"Introduction\", \"Shipping lanes\"]') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/report.$t' AND c.chunk_text LIKE '%Albatross%'")"
done
t_check "report.docx: table cells joined by ' | '" grep -q "Albatross | 1200 | 14" "$TMP/docx.txt"
t_check "report.docx: notes under a Notes heading" grep -q "^Notes$" "$TMP/docx.txt"

# slides
t_eq "report.pptx: the surplus chunk is on slide 3" "[3, 3]" \
  "$(q "SELECT c.chunk_metadata->>'slides' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/report.pptx' AND c.chunk_text LIKE '%treasurer reported%' LIMIT 1")"
t_eq "report.pptx: a chunk across slides 2 and 3 says both" "[2, 3]" \
  "$(q "SELECT c.chunk_metadata->>'slides' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/report.pptx' AND c.chunk_text LIKE '%Cormorant%Finances%' LIMIT 1")"
t_eq "report.pptx: every chunk has slides" 0 \
  "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/report.pptx' AND NOT c.chunk_metadata ? 'slides'")"
t_eq "tour.odp: the second slide's notes are on slide 2, under its title" "[2, 2] [\"Safety briefing\"]" \
  "$(q "SELECT (c.chunk_metadata->>'slides') || ' ' || (c.chunk_metadata->>'headings') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/tour.odp' AND c.chunk_text LIKE '%exits twice%'")"
t_eq "tour.odp: the chunk from slide 1 into slide 2 says [1, 2]" "[1, 2]" \
  "$(q "SELECT c.chunk_metadata->>'slides' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/tour.odp' AND c.chunk_text LIKE '%lighthouse%Life jackets%'")"
t_check "tour.odp: speaker notes kept, slide number frame left out" \
  bash -c "psql -X -qtA -c \"SELECT original_content FROM documents WHERE source_name = 'office/tour.odp'\" | grep -q 'Point at the exits twice' && ! psql -X -qtA -c \"SELECT original_content FROM documents WHERE source_name = 'office/tour.odp'\" | grep -qx '2'"
t_eq "report.docx has no page marks (its pages are not in the XML)" 0 \
  "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/report.docx' AND c.chunk_metadata ? 'slides'")"

# properties: title and author everywhere they are written; the dates and counts each
# format keeps (pandoc stamps the OOXML and ODF packages with the time it wrote them, the
# EPUB's dc:date, the HTML's <meta> and the Markdown's and the mail's dates are the source's
# 2025-03-14)
for t in $PROP_FORMATS; do
  t_eq "report.$t: title and author in metadata" "The Quarterly Harbour Report|Ada Lovelace" \
    "$(q "SELECT (metadata->'properties'->>'title') || '|' || regexp_replace(metadata->'properties'->>'author', ' <.*', '') FROM documents WHERE source_name = 'office/report.$t'")"
done
t_eq "each format says what it is" "docx epub html mail markdown odt pdf pptx text" \
  "$(q "SELECT string_agg(DISTINCT metadata->>'format', ' ') FROM documents WHERE source_name LIKE 'office/report.%'")"
today=$(date -u +%Y-%m-%d)
props() { q "SELECT concat_ws('|', metadata->'properties'->>'created', metadata->'properties'->>'modified', metadata->'properties'->>'pages', metadata->'properties'->>'slides') FROM documents WHERE source_name = 'office/$1'" | sed "s/${today}T[0-9:]*Z/TODAY/g"; }
t_eq "report.docx: created, modified, pages" "TODAY|TODAY|1" "$(props report.docx)"
t_eq "report.pptx: created, modified, slides (as many as its slide marks)" "TODAY|TODAY|4|4" \
  "$(props report.pptx)|$(q "SELECT jsonb_array_length(metadata->'page_marks') FROM documents WHERE source_name = 'office/report.pptx'")"
t_eq "report.odt: created, modified" "TODAY|TODAY" "$(props report.odt)"
t_eq "report.pdf: created, modified (gropdf stamps them), pages" "TODAY|TODAY|1" \
  "$(props report.pdf | sed "s/${today}T[0-9:]*+00:00/TODAY/g")"
t_eq "report.pdf: every chunk is on page 1" 0 \
  "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/report.pdf' AND c.chunk_metadata->>'pages' IS DISTINCT FROM '[1, 1]'")"
t_check "report.pdf: the table row by row" grep -q "Albatross 1200 14" "$TMP/pdf.txt"
t_eq "report.epub: created (dc:date), modified (dcterms:modified)" "2025-03-14|TODAY" "$(props report.epub)"
t_eq "report.md: created from the front matter's date" "2025-03-14" "$(props report.md)"
t_eq "report.html: created from <meta name=dcterms.date>" "2025-03-14" "$(props report.html)"
t_eq "report.eml: created from the Date field" "2025-03-14T09:30:00+00:00" "$(props report.eml)"
t_eq "notes.mbox#2: its own subject and author" "Re: The Quarterly Harbour Report|Bob <bob@example.org>" \
  "$(q "SELECT concat_ws('|', metadata->'properties'->>'title', metadata->'properties'->>'author') FROM documents WHERE source_name = 'office/notes.mbox#2'")"
t_eq "moorings.ods: initial creator is the author" "Moorings List|Alan Turing|2" \
  "$(q "SELECT (metadata->'properties'->>'title') || '|' || (metadata->'properties'->>'author') || '|' || (metadata->'properties'->>'pages') FROM documents WHERE source_name = 'office/moorings.ods'")"

# spreadsheets
q "SELECT original_content FROM documents WHERE source_name = 'office/fleet.xlsx'" > "$TMP/xlsx.txt"
t_check "fleet.xlsx: shared strings and numbers, row by row" grep -q "^Albatross | 1200$" "$TMP/xlsx.txt"
t_check "fleet.xlsx: second sheet under its name" grep -q "^Fees$" "$TMP/xlsx.txt"
t_check "fleet.xlsx: inline string" grep -q "Harbour fees | paid quarterly" "$TMP/xlsx.txt"
t_eq "fleet.xlsx: the Albatross row is under the Fleet heading" '["Fleet"]' \
  "$(q "SELECT c.chunk_metadata->>'headings' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'office/fleet.xlsx' AND c.chunk_text LIKE '%Albatross%'")"
t_check "moorings.ods: rows, empty repeated cells left out" \
  bash -c "psql -X -qtA -c \"SELECT original_content FROM documents WHERE source_name = 'office/moorings.ods'\" | grep -qx 'North quay | Harbour trust'"

# reindex re-chunks the stored text: the slide marks kept in documents.metadata give the new
# chunks their slides as ingest did (and the heading paths their headings)
t_eq "slide marks kept in documents.metadata" 'slides|[[0, 1], [80, 2]]' \
  "$(q "SELECT (metadata->>'page_unit') || '|' || (metadata->>'page_marks') FROM documents WHERE source_name = 'office/tour.odp'")"
# (a database of its own: reindex's recall spot check wants chunks that are not each
# other's twins, and the docx, odt and epub say what the pptx says)
newdb office_reindex
"$RAGLOAD" -q init
"$RAGLOAD" -q ingest --chunk-tokens 24 --chunk-overlap 0 "$d/report.pptx" "$d/tour.odp"
n_pptx=$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'report.pptx'")
rc=0; "$RAGLOAD" --no-progress reindex --chunk-tokens 32 --chunk-overlap 0 2> "$TMP/err.reindex" || rc=$?
t_eq "reindex: exit 0" 0 "$rc"
t_eq "reindex: every pptx/odp chunk still has its slides" 0 \
  "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.metadata->>'format' IN ('pptx', 'odp') AND NOT c.chunk_metadata ? 'slides'")"
t_eq "reindex: the surplus chunk is on slide 3, under Finances" '[3, 3] ["Finances"]' \
  "$(q "SELECT (c.chunk_metadata->>'slides') || ' ' || (c.chunk_metadata->>'headings') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'report.pptx' AND c.chunk_text LIKE '%treasurer reported%' LIMIT 1")"
t_eq "reindex: each chunk's slides are the marks at its first and last byte" 0 \
  "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_metadata->'slides' IS DISTINCT FROM jsonb_build_array(
     (SELECT (m->>1)::int FROM jsonb_array_elements(d.metadata->'page_marks') m WHERE (m->>0)::int <= (c.chunk_metadata->>'start')::int ORDER BY (m->>0)::int DESC LIMIT 1),
     (SELECT (m->>1)::int FROM jsonb_array_elements(d.metadata->'page_marks') m WHERE (m->>0)::int <= (c.chunk_metadata->>'end')::int - 1 ORDER BY (m->>0)::int DESC LIMIT 1))")"
t_eq "reindex: a chunk across slides 1 and 2 of tour.odp says [1, 2]" "[1, 2]" \
  "$(q "SELECT c.chunk_metadata->>'slides' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'tour.odp' AND c.chunk_text LIKE '%lighthouse%Life jackets%'")"
t_eq "reindex: chunks are the new size (fewer of them than before)" t \
  "$(q "SELECT count(*) < $n_pptx FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'report.pptx'")"

# the same directory as a .tar.gz and as a .zip: the same documents under the archive's key,
# with the same text and the same chunk metadata (heading paths, slides)
export PGDATABASE=rl_office
(cd "$TMP" && tar -czf office.tar.gz office && bsdtar --format=zip -cf office.zip office)
for a in office.tar.gz office.zip; do
  rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 24 --chunk-overlap 0 "$TMP/$a" 2> "$TMP/err" || rc=$?
  t_eq "$a: exit 3 (the damaged documents in it)" 3 "$rc"
  t_eq "$a: the same $N_DOCS documents, each under its member's key" "$N_DOCS" \
    "$(q "SELECT count(*) FROM documents WHERE source_name LIKE '$a!office/%' AND source_name NOT LIKE '$a!office/%!%'")"
  t_eq "$a: the same text as on disk" "$N_DOCS 0" \
    "$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE a.original_content <> b.original_content) FROM documents a JOIN documents b ON b.source_name = '$a!' || a.source_name")"
  t_eq "$a: the same chunks and chunk metadata as on disk" 0 \
    "$(q "SELECT count(*) FROM (SELECT d.source_name, c.chunk_text, c.chunk_metadata - 'ordinal' AS m FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name NOT LIKE 'office.%') x FULL JOIN (SELECT substr(d.source_name, length('$a!') + 1) AS source_name, c.chunk_text, c.chunk_metadata - 'ordinal' AS m FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name LIKE '$a!office/%') y USING (source_name, chunk_text, m) WHERE x.source_name IS NULL OR y.source_name IS NULL")"
  t_check "$a: damaged members named with their reason" grep -qE "$a!office/truncated.docx: .*\[corrupt_document\]" "$TMP/err"
done

# Bad samples of every format, each beside the good ones (which load): corrupt (the main
# part's XML replaced by bytes that are no XML), truncated (cut at 60%), encrypted (OOXML: an
# OLE2 compound file holding EncryptionInfo/EncryptedPackage, also under a name that says
# nothing; ODF: manifest:encryption-data; EPUB: encryption.xml listing a chapter), oversized
# (an incompressible member that takes it past max_entry_bytes). Each is skipped with its
# reason, warned about under its own name; the run exits 3. A legacy OLE2 file (no
# encryption streams) under a .docx name is a corrupt_document, not "encrypted".
newdb office_bad
"$RAGLOAD" -q init
b=$TMP/bad
mkdir -p "$b"
cp "$d/report.docx" "$d/report.pptx" "$d/fleet.xlsx" "$d/report.odt" "$d/tour.odp" "$d/moorings.ods" "$d/report.epub" "$b/"
TMP=$TMP python3 - "$b" <<'EOF'
import os, re, subprocess, sys, zipfile
b = sys.argv[1]
good = {'docx': 'report.docx', 'pptx': 'report.pptx', 'xlsx': 'fleet.xlsx', 'odt': 'report.odt',
        'odp': 'tour.odp', 'ods': 'moorings.ods', 'epub': 'report.epub'}
main = {'docx': 'word/document.xml', 'pptx': 'ppt/presentation.xml', 'xlsx': 'xl/workbook.xml',
        'odt': 'content.xml', 'odp': 'content.xml', 'ods': 'content.xml'}
ENC = ('<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
       '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
       '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA"/>'
       '</manifest:file-entry></manifest:manifest>')
def rewrite(src, dst, change=lambda n, x: x, add=()):
    zi = zipfile.ZipFile(src)
    zo = zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED)
    names = dict(add)
    for info in zi.infolist():
        x = names.pop(info.filename, None) or change(info.filename, zi.read(info.filename))
        zo.writestr(info, x)
    for n, x in names.items():
        zo.writestr(n, x)
    zo.close()
cfb = os.environ['TMP'] + '/cfb.py'
for t, g in good.items():
    src = os.path.join(b, g)
    data = open(src, 'rb').read()
    open(os.path.join(b, 'truncated.' + t), 'wb').write(data[:len(data) * 6 // 10])
    names = zipfile.ZipFile(src).namelist()
    if t == 'epub':
        part = [n for n in names if n.endswith('.opf')][0]
        ch = [n for n in names if n.endswith('.xhtml') and '/ch' in n][0]
        enc = ('<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
               'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
               '<enc:CipherReference URI="%s"/></enc:CipherData></enc:EncryptedData></encryption>' % ch)
        rewrite(src, os.path.join(b, 'encrypted.' + t), add=[('META-INF/encryption.xml', enc)])
    else:
        part = main[t]
    rewrite(src, os.path.join(b, 'corrupt.' + t), lambda n, x: b'\x00\x01 no XML here' if n == part else x)
    if t in ('odt', 'odp', 'ods'):
        rewrite(src, os.path.join(b, 'encrypted.' + t), add=[('META-INF/manifest.xml', ENC)])
    if t in ('docx', 'pptx', 'xlsx'):
        subprocess.check_call([sys.executable, cfb, os.path.join(b, 'encrypted.' + t)])
    rewrite(src, os.path.join(b, 'oversized.' + t), add=[('media/padding.bin', os.urandom(300000))])
subprocess.check_call([sys.executable, cfb, os.path.join(b, 'locked-without-a-name')])
subprocess.check_call([sys.executable, cfb, os.path.join(b, 'legacy.docx'), 'WordDocument', '1Table'])
EOF
rc=0; "$RAGLOAD" --no-progress --set limits.max_entry_bytes=200000 ingest "$b" 2> "$TMP/err.bad" || rc=$?
t_eq "bad samples: exit 3" 3 "$rc"
for t in docx pptx xlsx odt odp ods epub; do
  t_check "corrupt.$t: corrupt_document" grep -qE "corrupt\.$t: .*\[corrupt_document\]" "$TMP/err.bad"
  t_check "truncated.$t: corrupt_document" grep -qE "truncated\.$t: .*\[corrupt_document\]" "$TMP/err.bad"
  t_check "encrypted.$t: encrypted" grep -qE "encrypted\.$t: .*\[encrypted\]" "$TMP/err.bad"
  t_check "oversized.$t: entry_too_large" grep -qE "oversized\.$t: .*max_entry_bytes.*\[entry_too_large\]" "$TMP/err.bad"
done
t_check "an encrypted OOXML package is told by content, whatever its name" \
  grep -qE "locked-without-a-name: .*\[encrypted\]" "$TMP/err.bad"
t_check "a legacy OLE2 file under a .docx name: corrupt_document" \
  grep -qE "legacy\.docx: docx: an OLE2 compound file \(a legacy.*\[corrupt_document\]" "$TMP/err.bad"
t_eq "bad samples: only the seven good siblings load" \
  "bad/fleet.xlsx bad/moorings.ods bad/report.docx bad/report.epub bad/report.odt bad/report.pptx bad/tour.odp" \
  "$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name) FROM documents")"
