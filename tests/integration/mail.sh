# E-mail: an .eml (multipart/alternative with a base64 ISO-8859-1 text/plain and an HTML part,
# a quoted-printable part with soft line breaks, attachments: a PNG image, a Markdown file, a
# pandoc-made .docx, a forwarded message, a PGP signature) and an mbox of 3 messages (one with
# a ">From " escaped line, one with a base64 .odt attachment) load as one document a message:
# keys x.mbox#1..3, the subject as title, from/to/date/message-id in documents.metadata, the
# decoded text exact, no transfer encoding left in the chunks, the attachments listed. Each
# attachment that is a document is read like an archive member under the message's key
# ("a.eml!notes.md", "x.mbox#3!minutes.odt"), judged by its content, with metadata naming the
# message; the image and the signature are counted as ignored. Then a damaged mbox: a message
# cut short loads what it has, one over max_entry_bytes is skipped with its reason while its
# siblings load (exit 3), an attachment over max_entry_bytes is skipped with its reason while
# its message loads. Every fixture is made here.
. "$(dirname "$0")/../lib.sh"
newdb mail
"$RAGLOAD" -q init
d=$TMP/mail
mkdir -p "$d"
have_pandoc=0
if command -v pandoc >/dev/null; then
  have_pandoc=1
  printf '# Budget memo\n\nThe ferry budget grows by nine percent next spring.\n\n## Risks\n\nFuel prices may rise.\n' > "$TMP/memo.md"
  pandoc "$TMP/memo.md" -o "$TMP/memo.docx"
  printf '# Minutes\n\nThe committee approved the lighthouse repairs unanimously.\n' > "$TMP/minutes.md"
  pandoc "$TMP/minutes.md" -o "$TMP/minutes.odt"
fi
python3 - "$d" "$TMP" <<'PY'
import base64, os, sys
d, tmp = sys.argv[1], sys.argv[2]
def b64file(p):
    return base64.encodebytes(open(p, 'rb').read()).decode().strip() if os.path.exists(p) else ''
png = base64.encodebytes(b'\x89PNG\r\n\x1a\n' + bytes(range(64))).decode().strip()
plain = "Grüße aus München: schöne Öfen und Käse.\nZweite Zeile.\n".encode("iso-8859-1")
eml = """Return-Path: <jm@example.org>
Received: from mx.example.org by mail.example.com; Tue, 1 Jul 2025 14:05:10 +0200
From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <jm@example.org>
To: Bob <bob@example.com>
Subject: =?UTF-8?B?R3LDvMOfZQ==?= aus dem Test
Date: Tue, 1 Jul 2025 14:05:09 +0200
Message-ID: <msg1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is a multi-part message in MIME format.
--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: base64

%s
--alt
Content-Type: text/html; charset=utf-8

<html><body><p>HTML-only wording</p></body></html>
--alt--

--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

A quoted-printable paragraph that is long enough to be broken with a soft line=
 break, an equals sign a=3Db, and caf=C3=A9 au lait.

--outer
Content-Type: image/png; name="chart.png"
Content-Disposition: attachment; filename="chart.png"
Content-Transfer-Encoding: base64

%s
--outer
Content-Type: text/markdown; charset=utf-8; name="notes.md"
Content-Disposition: attachment; filename="notes.md"

## Index notes

Attached notes about *vector* indexes.
--outer
Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="=?UTF-8?Q?M=C3=A9mo.docx?="
Content-Disposition: attachment; filename*=UTF-8''M%%C3%%A9mo.docx
Content-Transfer-Encoding: base64

%s
--outer
Content-Type: message/rfc822
Content-Disposition: attachment; filename="forwarded.eml"

From: Carol <carol@example.net>
Subject: The forwarded note
Date: Mon, 30 Jun 2025 08:00:00 +0000

The forwarded note says the pier opens in May.
--outer
Content-Type: application/pgp-signature; name="signature.asc"
Content-Disposition: attachment; filename="signature.asc"

-----BEGIN PGP SIGNATURE-----
iQEzBAEBCAAdFiEE0000000000000000000000000000000000000000000000000000
-----END PGP SIGNATURE-----
--outer--
""" % (base64.encodebytes(plain).decode().strip(), png, b64file(tmp + "/memo.docx"))
open(d + "/a.eml", "w").write(eml)

def msg(i, extra="", body=None):
    return ("From sender%d@example.org Mon Jan  %d 10:00:00 2024\n"
            "From: Sender %d <sender%d@example.org>\nTo: list@example.com\n"
            "Subject: Message number %d\nDate: Mon, %d Jan 2024 10:00:00 +0000\n"
            "Message-ID: <m%d@example.org>\n%s\n%s\n") % (i, i, i, i, i, i, i, extra,
            body if body is not None else "Body of message %d.\n" % i)
att = ("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b3\n")
body3 = ("--b3\nContent-Type: text/plain\n\nBody of message 3.\n--b3\n"
         "Content-Type: application/vnd.oasis.opendocument.text\n"
         "Content-Disposition: attachment; filename=minutes.odt\nContent-Transfer-Encoding: base64\n\n"
         + b64file(tmp + "/minutes.odt") + "\n--b3--\n")
mbox = msg(1, body="First body.\n>From the start this line was escaped.\n>>From stays quoted once.\n") \
     + msg(2, "In-Reply-To: <m1@example.org>\n") + msg(3, att, body3)
open(d + "/x.mbox", "w").write(mbox)
PY
# a file named .txt whose content is mail is still mail; a text file with one "Date:" is not
printf 'From: a@example.org\nSubject: Named as text\nDate: Wed, 2 Jul 2025 09:00:00 +0000\n\nMail under a .txt name.\n' > "$d/named.txt"
printf 'Date: 2025\n\nJust notes, not mail.\n' > "$d/notes.txt"

rc=0; "$RAGLOAD" --no-progress ingest "$d" 2> "$TMP/err" || rc=$?
t_eq "mail tree: exit 0" 0 "$rc"
if [ "$have_pandoc" = 1 ]; then
  t_eq "one document per message, one per document attachment" \
    "mail/a.eml mail/a.eml!Mémo.docx mail/a.eml!forwarded.eml mail/a.eml!notes.md mail/named.txt mail/notes.txt mail/x.mbox#1 mail/x.mbox#2 mail/x.mbox#3 mail/x.mbox#3!minutes.odt" \
    "$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name COLLATE \"C\") FROM documents")"
  t_eq "docx attachment: read as docx, its headings kept" 'docx|Budget memo|Risks' \
    "$(q "SELECT metadata->>'format' || '|' || (SELECT string_agg(h->>2, '|') FROM jsonb_array_elements(metadata->'headings') h) FROM documents WHERE source_name = 'mail/a.eml!Mémo.docx'")"
  t_eq "docx attachment: metadata names its message, file name and type" \
    'mail/a.eml|Mémo.docx|application/vnd.openxmlformats-officedocument.wordprocessingml.document' \
    "$(q "SELECT concat_ws('|', metadata->'attachment'->>'message', metadata->'attachment'->>'name', metadata->'attachment'->>'content_type') FROM documents WHERE source_name = 'mail/a.eml!Mémo.docx'")"
  t_check "docx attachment: its text" grep -q 'ferry budget grows by nine percent' <<<"$(q "SELECT original_content FROM documents WHERE source_name = 'mail/a.eml!Mémo.docx'")"
  t_eq "odt attachment in an mbox message: under the message's key" "odt|mail/x.mbox#3" \
    "$(q "SELECT metadata->>'format' || '|' || (metadata->'attachment'->>'message') FROM documents WHERE source_name = 'mail/x.mbox#3!minutes.odt' AND original_content LIKE '%lighthouse repairs unanimously%'")"
  t_check "message 3 keeps its own body, not the attachment's" test "$(q "SELECT count(*) FROM documents WHERE source_name = 'mail/x.mbox#3' AND original_content = 'Body of message 3.'")" = 1
else
  t_skip "mail: docx/odt attachments need pandoc"
fi
t_eq "forwarded message read as mail" "mail|The forwarded note|mail/a.eml" \
  "$(q "SELECT concat_ws('|', metadata->>'format', metadata->>'title', metadata->'attachment'->>'message') FROM documents WHERE source_name = 'mail/a.eml!forwarded.eml'")"
t_eq "Markdown attachment: its own document, read as Markdown" 'markdown|["Index notes"]' \
  "$(q "SELECT d.metadata->>'format' || '|' || (c.chunk_metadata->>'headings') FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'mail/a.eml!notes.md' AND c.chunk_text LIKE '%vector indexes%'")"
t_check "image and signature attachments counted as ignored, by type" \
  grep -qE 'ignored.*(png|signature).*(png|signature)' "$TMP/err"
t_eq "subject is the title" "Grüße aus dem Test" "$(q "SELECT metadata->>'title' FROM documents WHERE source_name = 'mail/a.eml'")"
t_eq "from decoded" "Jürgen Müller <jm@example.org>" "$(q "SELECT metadata->'mail'->>'from' FROM documents WHERE source_name = 'mail/a.eml'")"
t_eq "to" "Bob <bob@example.com>" "$(q "SELECT metadata->'mail'->>'to' FROM documents WHERE source_name = 'mail/a.eml'")"
t_eq "date as ISO 8601" "2025-07-01T14:05:09+02:00" "$(q "SELECT metadata->'mail'->>'date' FROM documents WHERE source_name = 'mail/a.eml'")"
t_eq "message-id" "<msg1@example.org>" "$(q "SELECT metadata->'mail'->>'message_id' FROM documents WHERE source_name = 'mail/a.eml'")"
t_eq "format mail" "mail" "$(q "SELECT metadata->>'format' FROM documents WHERE source_name = 'mail/a.eml'")"
text=$(q "SELECT string_agg(chunk_text, ' ' ORDER BY chunk_id) FROM chunks JOIN documents USING (doc_id) WHERE source_name = 'mail/a.eml'")
t_check "base64 ISO-8859-1 part decoded exactly" grep -qF 'Grüße aus München: schöne Öfen und Käse.' <<<"$text"
t_check "QP soft line break joined, =3D and =C3=A9 decoded" grep -qF 'broken with a soft line break, an equals sign a=b, and café au lait.' <<<"$text"
t_check "alternative: text/plain preferred over HTML" bash -c "! grep -qF 'HTML-only wording' <<<\"\$1\"" _ "$text"
t_check "the attachments' text is not in the message's" bash -c "! grep -qE 'vector indexes|ferry budget|pier opens|PGP' <<<\"\$1\"" _ "$text"
t_eq "no base64 or QP remnants in any chunk" 0 "$(q "SELECT count(*) FROM chunks WHERE chunk_text ~ '(=3D|=C3|=\r?$|Content-Transfer-Encoding|iVBORw0|UEsDB|R3LDvMOfZQ|--outer)'")"
t_eq "attachments listed in the message's metadata" 'chart.png:image/png:72 notes.md:text/markdown:54 forwarded.eml:message/rfc822:145 signature.asc:application/pgp-signature:126' \
  "$(q "SELECT string_agg(a->>'name' || ':' || (a->>'type') || ':' || (a->>'bytes'), ' ') FROM documents, jsonb_array_elements(metadata->'attachments') a WHERE source_name = 'mail/a.eml' AND a->>'name' NOT LIKE '%docx'")"
t_eq "mbox titles" "Message number 1|Message number 2|Message number 3" \
  "$(q "SELECT string_agg(metadata->>'title', '|' ORDER BY source_name) FROM documents WHERE source_name LIKE 'mail/x.mbox#%' AND source_name NOT LIKE '%!%'")"
t_eq "mbox message-ids in metadata" "<m1@example.org> <m2@example.org> <m3@example.org>" \
  "$(q "SELECT string_agg(metadata->'mail'->>'message_id', ' ' ORDER BY source_name) FROM documents WHERE source_name LIKE 'mail/x.mbox#%' AND source_name NOT LIKE '%!%'")"
t_eq "in-reply-to" "<m1@example.org>" "$(q "SELECT metadata->'mail'->>'in_reply_to' FROM documents WHERE source_name = 'mail/x.mbox#2'")"
m1=$(q "SELECT string_agg(chunk_text, ' ' ORDER BY chunk_id) FROM chunks JOIN documents USING (doc_id) WHERE source_name = 'mail/x.mbox#1'")
t_check ">From unescaped" grep -qF 'First body. From the start this line was escaped.' <<<"$m1"
t_check ">>From loses one >" grep -qF '>From stays quoted once.' <<<"$m1"
t_check "mbox: no message header or From_ line in the text" bash -c "! grep -qE 'Message-ID|sender1@example.org Mon' <<<\"\$1\"" _ "$m1"
t_eq "mail told by content, not by name" "mail text" \
  "$(q "SELECT string_agg(metadata->>'format', ' ' ORDER BY source_name) FROM documents WHERE source_name IN ('mail/named.txt', 'mail/notes.txt')")"

# damage: a message cut short (multipart without its end, base64 cut mid-quantum) loads what
# it has; one over max_entry_bytes is skipped with its reason; the siblings load
b=$TMP/bad
mkdir -p "$b"
python3 - "$b" <<'PY'
import sys
b = sys.argv[1]
cut = ("From a@example.org Mon Jan  1 10:00:00 2024\nFrom: a@example.org\nSubject: Cut short\n"
       "Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n"
       "Content-Transfer-Encoding: base64\n\nVGhlIHBhcnQgdGhhdCBhcnJpdmVkIGJlZm9yZSB0aGUgY3V0Lg==\n--zz\n"
       "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nU2Vjb25kIHBhcnQgY3V0IG1pZA")
big = ("\nFrom b@example.org Mon Jan  2 10:00:00 2024\nFrom: b@example.org\nSubject: Too big\n\n"
       + ("padding line of a very large message\n" * 2000))
ok = ("\nFrom c@example.org Mon Jan  3 10:00:00 2024\nFrom: c@example.org\nSubject: Sibling\n"
      "Date: not a date at all\n\nThe sibling after the big one loads.\n")
empty = "\nFrom d@example.org Mon Jan  4 10:00:00 2024\nFrom: d@example.org\nSubject: No body\n\n"
open(b + "/bad.mbox", "w").write(cut + "\n" + big + ok + empty)
import base64, gzip
bomb = base64.encodebytes(gzip.compress(b"\0" * (1 << 20))).decode()
open(b + "/bomb.eml", "w").write(
    "From: e@example.org\nSubject: Attached bomb\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\n"
    "The message around the bomb loads.\n--q\nContent-Type: application/gzip\n"
    "Content-Disposition: attachment; filename=zeros.txt.gz\nContent-Transfer-Encoding: base64\n\n"
    + bomb + "--q--\n")
PY
rc=0; "$RAGLOAD" --no-progress --set limits.max_entry_bytes=32768 ingest "$b" 2> "$TMP/err" || rc=$?
t_eq "damaged mbox: exit 3" 3 "$rc"
t_eq "cut message and sibling loaded" "bad/bad.mbox#1 bad/bad.mbox#3" \
  "$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name) FROM documents WHERE source_name LIKE 'bad/bad.mbox#%'")"
t_check "cut message keeps its first part" test "$(q "SELECT count(*) FROM chunks JOIN documents USING (doc_id) WHERE source_name = 'bad/bad.mbox#1' AND chunk_text LIKE '%The part that arrived before the cut.%'")" -ge 1
t_check "mime damage recorded" test "$(q "SELECT (metadata->'mail'->>'mime_errors')::int FROM documents WHERE source_name = 'bad/bad.mbox#1'")" -ge 1
t_eq "an unparseable date kept as written" "not a date at all" "$(q "SELECT metadata->'mail'->>'date' FROM documents WHERE source_name = 'bad/bad.mbox#3'")"
t_check "big message skipped with its reason" grep -qE 'entry_too_large.*bad.mbox#2|bad.mbox#2.*max_entry_bytes' "$TMP/err"
t_check "message without body counted empty" grep -qE 'empty' "$TMP/err"
t_check "an attachment expanding past max_entry_bytes is skipped with its reason" \
  grep -qE 'bomb.eml!zeros.txt.gz.*max_entry_bytes|entry_too_large.*bomb.eml!zeros.txt.gz' "$TMP/err"
t_eq "its message loads" 1 "$(q "SELECT count(*) FROM documents WHERE source_name = 'bad/bomb.eml' AND original_content LIKE 'The message around the bomb loads.%'")"
t_check "no crash report on stderr" bash -c "! grep -qiE 'segmentation|core dumped|AddressSanitizer' '$TMP/err'"

# A PDF attachment is read by the PDF stage (its worker process) like a PDF member of an
# archive: its own document under the message's key, with its pages.
if command -v groff >/dev/null; then
  newdb mail_pdf; "$RAGLOAD" -q init
  p=$TMP/pdfmail; mkdir -p "$p"
  printf '.TL\nHarbour Dues\n.PP\nEvery vessel over ten tonnes pays the quarterly harbour dues in advance.\n' |
    groff -ms -Tpdf > "$TMP/dues.pdf"
  python3 - "$TMP/dues.pdf" "$p/dues.eml" <<'PY'
import base64, sys
pdf = base64.encodebytes(open(sys.argv[1], "rb").read()).decode()
open(sys.argv[2], "w").write(
    "From: harbourmaster@example.org\nSubject: Dues for the spring quarter\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/plain\n\n"
    "The dues notice is attached.\n--z\nContent-Type: application/pdf\n"
    "Content-Disposition: attachment; filename=dues.pdf\nContent-Transfer-Encoding: base64\n\n"
    + pdf + "--z--\n")
PY
  rc=0; "$RAGLOAD" --no-progress ingest "$p" 2> "$TMP/err.pdf" || rc=$?
  t_eq "message with a PDF attachment: exit 0" 0 "$rc"
  t_eq "PDF attachment: read as a PDF under the message's key, its page in every chunk" \
    "pdfmail/dues.eml!dues.pdf|pdf|pdfmail/dues.eml|[1, 1]" \
    "$(q "SELECT concat_ws('|', d.source_name, d.metadata->>'format', d.metadata->'attachment'->>'message', c.chunk_metadata->>'pages') FROM documents d JOIN chunks c USING (doc_id) WHERE d.source_name LIKE '%.pdf' AND c.chunk_text LIKE '%quarterly harbour dues%'")"
else
  t_skip "mail: a PDF attachment needs groff to write one"
fi
