#!/usr/bin/env bash
# tests/fuzz/make-seeds.sh OUT — generates the binary seed inputs (archives, compressed files,
# vector files) into OUT/<target>/, so that no binary blob is committed. Small on purpose
# (each well under 64 KiB): libFuzzer mutates them, it does not need realistic sizes.
# Idempotent: an existing OUT/.done stamp newer than this script means nothing to do.
set -eu
out=${1:?usage: make-seeds.sh OUT}
here=$(cd "$(dirname "$0")" && pwd)
if [ -f "$out/.done" ] && [ "$out/.done" -nt "$0" ]; then exit 0; fi
rm -rf "$out"
mkdir -p "$out/read" "$out/jsonl" "$out/vecfile" "$out/normalize" "$out/chunk" "$out/config" "$out/mail"
out=$(cd "$out" && pwd)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cd "$src"
mkdir -p d/sub
printf 'Plain text document.\n\nSecond paragraph.\n' > d/a.txt
printf '<html><head><title>T</title></head><body><h1>H</h1><p>para</p></body></html>\n' > d/sub/b.html
printf '# Md\n\ntext\n' > d/c.md
printf '{"_id":"1","text":"row one"}\n{"_id":"2","title":"t","text":"row two"}\n' > d/corpus.jsonl
ln -s a.txt d/link.txt
ln d/a.txt d/hard.txt
r=$out/read
(cd d && bsdtar -cf "$r/plain.tar" .)
(cd d && bsdtar --format=ustar -czf "$r/t.tar.gz" a.txt sub)
(cd d && bsdtar --zstd -cf "$r/t.tar.zst" a.txt c.md)
(cd d && bsdtar -cJf "$r/t.tar.xz" a.txt)
(cd d && bsdtar -cjf "$r/t.tar.bz2" a.txt)
(cd d && bsdtar --format=zip -cf "$r/t.zip" a.txt sub corpus.jsonl)
(cd d && bsdtar --format=zip --options zip:compression=store -cf "$r/stored.zip" a.txt)
(cd d && bsdtar --format=7zip -cf "$r/t.7z" a.txt c.md)
(cd d && bsdtar --format=newc -cf "$r/t.cpio" a.txt hard.txt link.txt)
(cd d && bsdtar --format=ar -cf "$r/t.ar" a.txt)
(cd d && bsdtar --format=pax -cf "$r/pax.tar" a.txt link.txt hard.txt)
(cd d && zip -q -P secret "$r/encrypted.zip" a.txt)
gzip -c d/a.txt > "$r/single.gz"
zstd -q -c d/corpus.jsonl > "$r/single.zst"
xz -c d/a.txt > "$r/single.xz"
: > "$r/empty"
gzip -c < /dev/null > "$r/empty.gz"
bsdtar -cf "$r/empty.tar" -T /dev/null
# an archive inside an archive inside an archive (max_nesting 2 in the target)
cp "$r/t.tar.gz" inner.tar.gz
bsdtar -cf mid.tar inner.tar.gz d/a.txt
bsdtar --format=zip -cf "$r/nested.zip" mid.tar
bsdtar -cf "$r/jsonl-member.tar" -C d corpus.jsonl
head -c $(( $(stat -c %s "$r/t.tar.zst") / 2 )) "$r/t.tar.zst" > "$r/truncated.tar.zst"
head -c $(( $(stat -c %s "$r/t.zip") / 2 )) "$r/t.zip" > "$r/truncated.zip"
python3 - "$r" <<'PY'
import io, sys, tarfile, struct
r = sys.argv[1]
def add(t, name, data=b"x\n", **kw):
    ti = tarfile.TarInfo(name); ti.size = len(data)
    for k, v in kw.items(): setattr(ti, k, v)
    t.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
with tarfile.open(r + "/names.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "../../evil.txt", b"dot dot\n")
    add(t, "/abs/path.txt", b"absolute\n")
    add(t, "bad\xffname.txt".encode("latin-1").decode("utf-8", "surrogateescape"), b"bytes\n")
    add(t, "ctl\x01name.txt", b"control\n")
    add(t, "dup.txt", b"one\n"); add(t, "./dup.txt", b"two\n")
    ti = tarfile.TarInfo("fifo"); ti.type = tarfile.FIFOTYPE; t.addfile(ti)
    ti = tarfile.TarInfo("dev"); ti.type = tarfile.CHRTYPE; ti.devmajor = 1; ti.devminor = 3; t.addfile(ti)
    ti = tarfile.TarInfo("sym"); ti.type = tarfile.SYMTYPE; ti.linkname = "/etc/passwd"; t.addfile(ti)
    ti = tarfile.TarInfo("hard"); ti.type = tarfile.LNKTYPE; ti.linkname = "dup.txt"; t.addfile(ti)
v = sys.argv[1] + "/../vecfile"
def vec(vals, fmt="f"): return struct.pack("<i", len(vals)) + struct.pack("<%d%s" % (len(vals), fmt), *vals)
open(v + "/good.fvecs", "wb").write(b"".join(vec([float(i), 1.0, -2.5, 3.0]) for i in range(4)))
open(v + "/good.ivecs", "wb").write(b"".join(vec([i, 7, 9], "i") for i in range(3)))
open(v + "/nan.fvecs", "wb").write(vec([float("nan"), float("inf"), 0.0]))
open(v + "/truncated.fvecs", "wb").write(vec([1.0, 2.0]) + vec([3.0, 4.0])[:6])
open(v + "/baddim.fvecs", "wb").write(vec([1.0, 2.0]) + struct.pack("<i", 3) + b"\0" * 12)
open(v + "/negdim.fvecs", "wb").write(struct.pack("<i", -5) + b"\0" * 20)
open(v + "/hugedim.fvecs", "wb").write(struct.pack("<i", 1 << 30))
PY
# mail with attachments that are documents, archives, images, messages (read as nested entries)
python3 - "$out/mail" "$here/corpus/office/pandoc.docx" "$here/corpus/office/hand.ods" "$r/t.zip" <<'PY'
import base64, sys
out, docx, ods, tzip = sys.argv[1:5]
def b64(p): return base64.encodebytes(open(p, 'rb').read()).decode()
def att(name, ctype, body, enc='base64'):
    return ('--b\nContent-Type: %s; name="%s"\nContent-Disposition: attachment; filename="%s"\n'
            'Content-Transfer-Encoding: %s\n\n%s\n' % (ctype, name, name, enc, body))
head = 'From: a@example.org\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n'
png = base64.encodebytes(b'\x89PNG\r\n\x1a\n' + bytes(32)).decode()
open(out + '/attach-docx.eml', 'w').write(head + att('m.docx', 'application/octet-stream', b64(docx)) + '--b--\n')
open(out + '/attach-mixed.eml', 'w').write(head + att('s.ods', 'application/vnd.oasis.opendocument.spreadsheet', b64(ods))
    + att('t.zip', 'application/zip', b64(tzip)) + att('i.png', 'image/png', png)
    + att('n.md', 'text/markdown', '# T\n\ntext', '7bit') + '--b--\n')
inner = head.replace('boundary=b', 'boundary=c').replace('--b', '--c') + \
        att('x.txt', 'text/plain', 'inner text', 'quoted-printable').replace('--b', '--c') + '--c--\n'
open(out + '/attach-nested.eml', 'w').write(head + '--b\nContent-Type: message/rfc822\n'
    'Content-Disposition: attachment; filename="fw.eml"\n\n' + inner + '--b--\n')
PY
# office: raw OLE2 compound files (byte 0: bit 7, the rest the file): encrypted OOXML
# (EncryptionInfo, EncryptedPackage in the directory) and a legacy Word file
mkdir -p "$out/office"
python3 - "$out/office" <<'PY'
import struct, sys
FREE, END = 0xFFFFFFFF, 0xFFFFFFFE
def cfb(names):
    hdr = (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + bytes(16) + struct.pack('<HHHHH', 0x3E, 3, 0xFFFE, 9, 6)
           + bytes(6) + struct.pack('<IIIIIIIII', 0, 1, 1, 0, 4096, END, 0, END, 0)
           + struct.pack('<I', 0) + struct.pack('<I', FREE) * 108)
    fat = struct.pack('<III', 0xFFFFFFFD, END, END) + struct.pack('<I', FREE) * 125
    ents = b''
    for k, nm in enumerate(['Root Entry'] + names):
        n = (nm + '\0').encode('utf-16-le')
        ents += n.ljust(64, b'\0') + struct.pack('<HBB', len(n), 2 if k else 5, 1) + bytes(60)
    return hdr + fat + ents.ljust(512, b'\0') + bytes(512)
open(sys.argv[1] + '/ole2-encrypted', 'wb').write(b'\x80' + cfb(['EncryptionInfo', 'EncryptedPackage']))
open(sys.argv[1] + '/ole2-legacy', 'wb').write(b'\x82' + cfb(['WordDocument', '1Table']))
PY
# JSONL seeds that only make sense compressed
zstd -q -c "$here/corpus/jsonl/basic.jsonl" > "$out/jsonl/basic.jsonl.zst"
# pdfwire: what the real PDF worker says about groff-made PDFs (outline, running headers,
# hyphenated line ends, two columns), an image-only page, a truncated and an encrypted file
worker=${RAGLOAD_PARSE:-$here/../../build/ragload-parse}
if [ -x "$worker" ] && command -v groff >/dev/null; then
  mkdir -p "$out/pdfwire"
  fix=$here/../fixtures
  python3 "$fix/pdf-ms.py" s.ms s.words 5 2 && groff -ms -Tpdf s.ms > s.pdf
  python3 "$fix/pdf-ms.py" l.ms l.words 9 4 && groff -ms -Tpdf l.ms > l.pdf
  python3 "$fix/pdf-scan.py" scan.pdf
  head -c 2000 s.pdf > cut.pdf
  for f in s l scan cut; do "$worker" --cpu 20 < $f.pdf > "$out/pdfwire/$f.wire" || true; done
  if command -v qpdf >/dev/null; then
    qpdf --encrypt u o 256 -- s.pdf enc.pdf && "$worker" --cpu 20 < enc.pdf > "$out/pdfwire/enc.wire" || true
  fi
fi
touch "$out/.done"
