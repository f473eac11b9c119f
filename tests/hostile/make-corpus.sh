#!/usr/bin/env bash
# tests/hostile/make-corpus.sh OUT — builds the hostile-input corpus in OUT/in/ (the directory
# to ingest) and says what ragload must make of it in OUT/expect:
#   GOOD <tab> source key             loaded exactly once
#   BAD  <tab> source key <tab> reason  reported on stderr as "<key>: ... [reason]" (or
#                                     "<key>!entry: ..."), not loaded unless also GOOD
#   NONE <tab> source key             neither loaded nor reported
#   MAYBE <tab> key prefix            may be loaded (data a damaged stream may or may not pass)
# Everything is generated here, in a few seconds, from scripts: no binary blob is committed.
# Limits assumed (tests/integration/hostile.sh passes them): max_entry_bytes = 20MB,
# max_line_bytes = 64KB, max_doc_bytes = 1MB, max_nesting = 1, the rest at their defaults.
set -eu
out=${1:?usage: make-corpus.sh OUT}
rm -rf "$out"
mkdir -p "$out/in" "$out/work"
out=$(cd "$out" && pwd)
in=$out/in
w=$out/work
exp=$out/expect
: > "$exp"
good() { printf 'GOOD\t%s\n' "$1" >> "$exp"; }
bad() { printf 'BAD\t%s\t%s\n' "$1" "$2" >> "$exp"; }
none() { printf 'NONE\t%s\n' "$1" >> "$exp"; }
maybe() { printf 'MAYBE\t%s\n' "$1" >> "$exp"; }
cd "$w"

# ---- good documents next to everything else ---------------------------------------------------
printf 'A plain good document about PostgreSQL.\n\nIt has two paragraphs.\n' > "$in/good.txt"; good good.txt
printf '# Markdown\n\nGood markdown document.\n' > "$in/good.md"; good good.md
printf '<html><head><title>Good</title></head><body><h1>Good page</h1><p>Text.</p></body></html>' > "$in/good.html"; good good.html

# ---- text classes -------------------------------------------------------------------------------
mkdir -p "$in/text"
printf 'Valid start, then bad bytes \xff\xfe\xc3 and an overlong \xc0\xaf end.\n' > "$in/text/invalid-utf8.txt"; good text/invalid-utf8.txt
printf '\xff\xfe' > "$in/text/utf16le-bom.txt"; printf 'UTF-16 little endian with BOM, caf\xe9.\n' | iconv -f latin1 -t UTF-16LE >> "$in/text/utf16le-bom.txt"; good text/utf16le-bom.txt
printf '\xfe\xff' > "$in/text/utf16be-bom.txt"; printf 'UTF-16 big endian with BOM.\n' | iconv -f latin1 -t UTF-16BE >> "$in/text/utf16be-bom.txt"; good text/utf16be-bom.txt
printf 'UTF-16 little endian without a byte order mark, long enough to be recognised.\n' | iconv -f latin1 -t UTF-16LE > "$in/text/utf16le-nobom.txt"; good text/utf16le-nobom.txt
printf 'Русский текст в UTF-16 без метки порядка байтов, достаточно длинный.\n' | iconv -f UTF-8 -t UTF-16LE > "$in/text/utf16le-cyrillic-nobom.txt"; good text/utf16le-cyrillic-nobom.txt
printf '日本語のテキストです。バイト順マークはありません。十分に長い文章です。\n' | iconv -f UTF-8 -t UTF-16BE > "$in/text/utf16be-cjk-nobom.txt"; good text/utf16be-cjk-nobom.txt
printf 'Legacy Windows-1252: caf\xe9, na\xefve, \x93quoted\x94, \x80 5.\n' > "$in/text/cp1252.txt"; good text/cp1252.txt
printf 'Text with NUL\0bytes in\0 the middle, still a text document.\n' > "$in/text/nul-bytes.txt"; good text/nul-bytes.txt
printf 'Control \x01\x02\x03 characters \x1b[31m and \x7f DEL and C1 \xc2\x85 here.\n' > "$in/text/controls.txt"; good text/controls.txt
python3 -c "
import sys
sys.stdout.write(' '.join('word%d' % i for i in range(400000)))" > "$in/text/long-line.txt"; good text/long-line.txt
python3 -c "
import sys
sys.stdout.write('start ' + 'x' * 3000000 + ' end')" > "$in/text/long-word.txt"; good text/long-word.txt
python3 -c "
import sys
sys.stdout.write('<p>before the deep part</p>' + '<div>' * 100000 + 'deep text' + '</div>' * 100000 + '<p>after the deep part</p>')" > "$in/text/deep.html"; good text/deep.html
python3 -c "
import sys
sys.stdout.write('<b>' * 200 + '</i>' * 400000 + '<p>after many stray end tags</p>')" > "$in/text/stray-end-tags.html"; good text/stray-end-tags.html
printf '<html><body><p>unclosed <b>bold <i>italic<table><td>cell<h2>heading<li>item</ul></div></span><<>>&bogus; &#xD800; &#0; text</p' > "$in/text/malformed.html"; good text/malformed.html
: > "$in/text/empty.txt"; bad text/empty.txt empty
printf ' \n\t\r\n  \n' > "$in/text/blank.txt"; bad text/blank.txt empty
printf '<html><head><title></title><script>var x = 1;</script></head><body> </body></html>' > "$in/text/no-text.html"; bad text/no-text.html empty
head -c 65536 /dev/urandom > "$in/text/random.bin"; bad text/random.bin binary
python3 -c "
import sys
sys.stdout.write(('A paragraph of a document that is too long. ' * 20 + '\n\n') * 1500)" > "$in/text/over-max-doc.txt"; good text/over-max-doc.txt; bad text/over-max-doc.txt truncated_doc

# ---- JSONL collection ---------------------------------------------------------------------------
python3 - "$in/corpus.jsonl" <<'PY'
import sys
rows = [
    b'{"_id":"r1","title":"Row one","text":"A good row."}',
    b'{"_id":"r2","text":"Another good row.","metadata":{"lang":"en"}}',
    b'{"_id":3,"text":"Numeric id row."}',
    b'{"_id":"r4","text":"bad JSON",}',                      # line 4: malformed
    b'{"text":"no id"}',                                      # line 5
    b'{"_id":"r6"}',                                          # line 6: no text
    b'{"_id":"r7","text":42}',                                # line 7: text not a string
    b'{"_id":["r8"],"text":"id not a string"}',               # line 8
    b'{"_id":"r1","text":"duplicate id"}',                    # line 9
    b'{"_id":"r10","text":"NUL \\u0000 escape and metadata NUL","metadata":{"k\\u0000":"v\\u0000"}}',
    b'{"_id":"r11","text":"unpaired \\ud800 surrogate and \\udc00 low one, paired \\ud83d\\ude00 fine"}',
    b'{"_id":"r12","text":"raw invalid UTF-8 \xff\xfe inside a string"}',
    b'[1,2,3]',                                               # line 13: not an object
    b'{"_id":"r14","text":"' + b'y ' * 40000 + b'"}',         # line 14: over max_line_bytes
    b'',
    b'{"_id":"r16","text":"after a blank line and the long one"}',
    b'{"_id":"r17","text":"cut in the middle of the li',      # last line, no newline
]
with open(sys.argv[1], "wb") as f:
    f.write(b"\n".join(rows))
PY
for k in r1 r2 3 r10 r11 r12 r16; do good "corpus.jsonl#$k"; done
bad corpus.jsonl bad_jsonl_line       # lines 4-8, 13, 17
bad corpus.jsonl duplicate_id
bad corpus.jsonl line_too_long

# ---- archives -----------------------------------------------------------------------------------
mkdir -p src
printf 'First member of the archive.\n' > src/a.txt
printf 'Second member of the archive.\n' > src/b.txt
python3 -c "
import random
random.seed(7)
print('\n'.join(''.join(random.choice('abcdefghij klmnop') for _ in range(200)) for _ in range(3000)))" > src/c.txt
mkdir -p "$in/arc"
for f in tar tar.gz tar.zst tar.xz zip 7z; do
  case $f in
    tar) bsdtar -cf full.$f -C src a.txt b.txt c.txt;;
    tar.gz) bsdtar -czf full.$f -C src a.txt b.txt c.txt;;
    tar.zst) bsdtar --zstd -cf full.$f -C src a.txt b.txt c.txt;;
    tar.xz) bsdtar -cJf full.$f -C src a.txt b.txt c.txt;;
    zip) bsdtar --format=zip -cf full.$f -C src a.txt b.txt c.txt;;
    7z) bsdtar --format=7zip -cf full.$f -C src a.txt b.txt c.txt;;
  esac
  size=$(stat -c %s full.$f)
  # cut inside c.txt (600 KB, several compression blocks): a.txt and b.txt come before the
  # damage (7z keeps its index at the end, so nothing of it can be read)
  head -c $((size * 3 / 4)) full.$f > "$in/arc/truncated.$f"
  bad "arc/truncated.$f" corrupt_archive
  if [ "$f" != 7z ]; then good "arc/truncated.$f!a.txt"; good "arc/truncated.$f!b.txt"; fi
done
# a gzip stream with bytes flipped in the middle of its data: an inflate error, a damaged tar
# header or (when the damage still inflates) the CRC check ragload adds to libarchive's gzip
# reader. Built with fixed metadata so that the same bytes come every time.
python3 - src/c.txt src/a.txt "$in/arc/corrupt.tar.gz" <<'PY'
import gzip, io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
    for path in sys.argv[1:3]:
        data = open(path, 'rb').read()
        ti = tarfile.TarInfo(path.split('/')[-1])
        ti.size, ti.mtime, ti.mode, ti.uname, ti.gname = len(data), 1700000000, 0o644, 'u', 'g'
        t.addfile(ti, io.BytesIO(data))
d = bytearray(gzip.compress(buf.getvalue(), compresslevel=6, mtime=0))
for i in range(len(d) // 2, len(d) // 2 + 16):
    d[i] ^= 0x55
open(sys.argv[3], 'wb').write(d)
PY
bad arc/corrupt.tar.gz corrupt_archive
maybe 'arc/corrupt.tar.gz!'  # gzip has no checksum before its end: garbage may pass first
# a gzip member whose stored (uncompressed) block has a byte flipped: it inflates cleanly, only
# the CRC-32 in its trailer tells (libarchive never compares it; ragload does, at the end, so
# the damaged text may already be loaded: reported, and loaded at most once)
python3 - "$in/arc/crc-only.txt.gz" <<'PY'
import gzip, sys
d = bytearray(gzip.compress(b'A stored gzip member. ' * 200, compresslevel=0, mtime=0))
d[len(d) // 2] ^= 0x01
open(sys.argv[1], 'wb').write(d)
PY
bad arc/crc-only.txt.gz corrupt_archive
maybe arc/crc-only.txt.gz
# a zip whose one member fails its CRC check: the members beside it still load
python3 - "$in/arc/crc.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
    z.writestr('ok1.txt', 'Fine member before.\n')
    z.writestr('badcrc.txt', 'This member will fail its CRC check.\n')
    z.writestr('ok2.txt', 'Fine member after.\n')
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.find(b'This member')
d[i] = ord('X')
open(sys.argv[1], 'wb').write(d)
PY
good 'arc/crc.zip!ok1.txt'; good 'arc/crc.zip!ok2.txt'; bad 'arc/crc.zip' corrupt_archive  # "arc/crc.zip: badcrc.txt: ZIP bad CRC..."
# empty archives and empty compressed files: valid inputs that hold nothing, so they load
# nothing and count nothing (stages/read.c's choice); a 0-byte file is an empty document
bsdtar -cf "$in/arc/empty.tar" -T /dev/null; none arc/empty.tar
python3 -c "import zipfile; zipfile.ZipFile('$in/arc/empty.zip', 'w').close()"; none arc/empty.zip
bsdtar -czf "$in/arc/empty.tar.gz" -T /dev/null; none arc/empty.tar.gz
gzip -c < /dev/null > "$in/arc/empty.txt.gz"; none arc/empty.txt.gz
zstd -q -c < /dev/null > "$in/arc/empty.txt.zst"; none arc/empty.txt.zst
: > "$in/arc/zero-bytes.tar.gz"; bad arc/zero-bytes.tar.gz empty
# a truncated gzip header and random bytes named like archives
head -c 6 "$in/arc/empty.tar.gz" > "$in/arc/header-cut.tar.gz"; bad arc/header-cut.tar.gz corrupt_archive
# encrypted zip entries (one encrypted, one not) and a 7z with encrypted headers
(cd src && zip -q -P secret "$in/arc/encrypted.zip" a.txt && zip -q "$in/arc/encrypted.zip" b.txt)
bad 'arc/encrypted.zip!a.txt' encrypted; good 'arc/encrypted.zip!b.txt'
(cd src && 7z a -bd -psecret -mhe=on "$in/arc/encrypted.7z" a.txt > /dev/null)
bad arc/encrypted.7z encrypted
# unsupported: a zip member compressed with "implode", a file named .tar.lzo that no filter reads
python3 - "$in/arc/implode.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
    z.writestr('plain.txt', 'Stored member next to an imploded one.\n')
    z.writestr('imploded.txt', 'Pretend this is imploded data.\n')
d = bytearray(open(sys.argv[1], 'rb').read())
# method field (offset 8 in the local header, 10 in the central one) of the second member -> 6
loc = d.find(b'PK\x03\x04', 1)
d[loc + 8] = 6
cen = d.find(b'PK\x01\x02' , d.find(b'PK\x01\x02') + 1)
d[cen + 10] = 6
open(sys.argv[1], 'wb').write(d)
PY
good 'arc/implode.zip!plain.txt'; bad 'arc/implode.zip' unsupported_format
{ printf '\x89LZO\x00\r\n\x1a\n'; head -c 2000 /dev/urandom; } > "$in/arc/data.tar.lzo"; bad arc/data.tar.lzo unsupported_format
# nesting: outer.tar > mid.tar > inner.tar > x.txt, with max_nesting = 1
printf 'Inner text, too deep to be read.\n' > deep.txt
bsdtar -cf inner.tar deep.txt
printf 'Mid-level text, one level down: read.\n' > mid.txt
bsdtar -cf mid.tar inner.tar mid.txt
bsdtar -cf "$in/arc/outer.tar" mid.tar a.txt -C src 2>/dev/null || bsdtar -cf "$in/arc/outer.tar" mid.tar -C src a.txt
good 'arc/outer.tar!a.txt'; good 'arc/outer.tar!mid.tar!mid.txt'; bad 'arc/outer.tar!mid.tar!inner.tar' nesting

# ---- hostile names and entry types inside a tar -------------------------------------------------
python3 - "$in/arc/names.tar" <<'PY'
import io, sys, tarfile
def reg(t, name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1700000000
    t.addfile(ti, io.BytesIO(data))
def special(t, name, typ, **kw):
    ti = tarfile.TarInfo(name); ti.type = typ
    for k, v in kw.items(): setattr(ti, k, v)
    t.addfile(ti)
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT, encoding='utf-8', errors='surrogateescape') as t:
    reg(t, '../../evil.txt', b'An entry that climbs out: loaded under its name, never written.\n')
    reg(t, '/abs/evil-abs.txt', b'An absolute entry name: loaded under a relative key.\n')
    reg(t, 'sub/../../evil-mid.txt', b'Dot-dot in the middle of the name.\n')
    reg(t, 'target.txt', b'The data that links point at, loaded once under this name.\n')
    special(t, 'hardlink.txt', tarfile.LNKTYPE, linkname='target.txt')
    special(t, 'symlink.txt', tarfile.SYMTYPE, linkname='target.txt')
    special(t, 'escape-link', tarfile.SYMTYPE, linkname='../../../etc/passwd')
    special(t, 'abs-link', tarfile.SYMTYPE, linkname='/etc/passwd')
    special(t, 'fifo', tarfile.FIFOTYPE)
    special(t, 'chardev', tarfile.CHRTYPE, devmajor=1, devminor=3)
    special(t, 'blockdev', tarfile.BLKTYPE, devmajor=8, devminor=0)
    reg(t, 'same.txt', b'First of two entries with the same name.\n')
    reg(t, './same.txt', b'Second entry with the same key: a duplicate.\n')
with tarfile.open(sys.argv[1].replace('names.tar', 'bytes.tar'), 'w', format=tarfile.GNU_FORMAT,
                  encoding='utf-8', errors='surrogateescape') as t:
    reg(t, b'latin1-caf\xe9.txt'.decode('utf-8', 'surrogateescape'), b'A name that is not UTF-8.\n')
    reg(t, 'ctl\x01\x1bname.txt', b'A name with control characters.\n')
PY
good 'arc/names.tar!../../evil.txt'; good 'arc/names.tar!abs/evil-abs.txt'; good 'arc/names.tar!sub/../../evil-mid.txt'
good 'arc/names.tar!target.txt'
# links are ignored (counted by type, not warnings): a symlink is never followed, a hard
# link's data is read under its target's name
none 'arc/names.tar!hardlink.txt'; none 'arc/names.tar!symlink.txt'
none 'arc/names.tar!escape-link'; none 'arc/names.tar!abs-link'
bad 'arc/names.tar!fifo' special_file; bad 'arc/names.tar!chardev' special_file; bad 'arc/names.tar!blockdev' special_file
good 'arc/names.tar!same.txt'; bad 'arc/names.tar!same.txt' duplicate_entry
good 'arc/bytes.tar!latin1-caf?.txt'; good 'arc/bytes.tar!ctl??name.txt'
# a 3000-byte entry name: loaded under a key cut to 512 bytes plus a hash (a btree key's limit)
python3 - "$in/arc/longname.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:
    for c in 'ab':
        data = b'An entry with a very long name.\n'
        ti = tarfile.TarInfo('d/' + c * 3000 + '.txt'); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
PY
maybe 'arc/longname.tar!'  # two keys of at most 512 bytes after the "!", checked by hostile.sh

# ---- the input directory itself: links, a fifo, a name that is not UTF-8 -------------------------
mkdir -p "$in/fs"
printf 'A file reached only through links.\n' > "$out/outside.txt"
ln -s "$out/outside.txt" "$in/fs/link-outside.txt"; none fs/link-outside.txt
ln -s ../../good.txt "$in/fs/link-inside.txt"; none fs/link-inside.txt
mkfifo "$in/fs/pipe"; bad fs/pipe special_file
printf 'File whose name is Latin-1.\n' > "$in/fs/$(printf 'na\xefve.txt')"; good 'fs/na?ve.txt'
printf 'One file, two names.\n' > "$in/fs/hard-a.txt"; ln "$in/fs/hard-a.txt" "$in/fs/hard-b.txt"
good fs/hard-a.txt; none fs/hard-b.txt

# ---- size: bombs (a member of a tar, a compressed file, a whole archive), an entry too large ----
# max_entry_bytes is 20MB here, above the 16MB the ratio check waits for, so both limits show.
mkdir -p "$in/size"
head -c 64M /dev/zero | zstd -q -1 > zeros.txt.zst
printf 'Good file after the bomb member.\n' > after-bomb.txt
bsdtar -cf "$in/size/member-bomb.tar" zeros.txt.zst after-bomb.txt
bad 'size/member-bomb.tar!zeros.txt.zst' compression_ratio; good 'size/member-bomb.tar!after-bomb.txt'
head -c 64M /dev/zero | xz -0 -T1 > "$in/size/zeros.txt.xz"; bad size/zeros.txt.xz compression_ratio
printf 'First member, before the bomb.\n' > first.txt
head -c 64M /dev/zero | tr '\0' a > huge.txt
printf 'Last member, after the bomb: never reached.\n' > last.txt
bsdtar --zstd -cf "$in/size/ratio.tar.zst" first.txt huge.txt last.txt
good 'size/ratio.tar.zst!first.txt'; bad size/ratio.tar.zst compression_ratio
python3 -c "
import sys
sys.stdout.write(('Twenty-four MB of text in one entry, over max_entry_bytes. ' * 20 + '\n') * 20500)" > big.txt
printf 'Small member after the big one.\n' > small.txt
bsdtar -cf - big.txt small.txt | gzip -1 > "$in/size/big-entry.tar.gz"
bad 'size/big-entry.tar.gz!big.txt' entry_too_large; good 'size/big-entry.tar.gz!small.txt'

rm -rf "$w"
