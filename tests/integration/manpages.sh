# Manual pages as /usr/share/man holds them (roff source, gzip-compressed or not, man(7) and
# mdoc(7) macros): mandoc formats each, so a page loads as text with its sections as headings
# and none of its requests or font escapes; a page that only includes another (".so") is
# ignored like a symbolic link; text that merely starts with a dot stays text.
. "$(dirname "$0")/../lib.sh"
newdb manpages
"$RAGLOAD" -q init
if ! command -v mandoc >/dev/null; then
  t_skip "manpages: mandoc is not installed (./run.sh setup installs it)"
  exit 0
fi
m=$TMP/man
mkdir -p "$m/man1" "$m/man5"
cat > "$m/man1/frobnicate.1" <<'ROFF'
.\" Written for ragload's tests.
.TH FROBNICATE 1 "2026-12-07" "frob 2.1" "User Commands"
.SH NAME
frobnicate \- tune the flux capacitor of a harbour crane
.SH SYNOPSIS
.B frobnicate
[\fB\-\-verbose\fR] [\fB\-n\fR \fIcount\fR] \fIfile\fR...
.SH DESCRIPTION
.B frobnicate
reads each \fIfile\fR and tunes the crane's flux capacitor.
It never touches the ballast tanks.
.SS Calibration
The capacitor is calibrated against the tide tables first.
.SH OPTIONS
.TP
.BR \-v ", " \-\-verbose
Say what is tuned, one line per crane.
.TP
.BI \-n " count"
Tune at most \fIcount\fR cranes.
.SH EXAMPLES
.nf
frobnicate \-\-verbose cranes.conf
frobnicate \-n 3 north.conf south.conf
.fi
.SH SEE ALSO
.BR crane.conf (5)
ROFF
gzip -9 < "$m/man1/frobnicate.1" > "$m/man1/frobnicate-gz.1.gz"
rm "$m/man1/frobnicate.1"
cat > "$m/man5/crane.conf.5" <<'ROFF'
.Dd December 7, 2026
.Dt CRANE.CONF 5
.Os
.Sh NAME
.Nm crane.conf
.Nd the cranes a harbour has
.Sh DESCRIPTION
Each line of
.Nm
names one crane and its lifting limit in tonnes.
.Bl -tag -width Ds
.It Cm limit Ar tonnes
The heaviest load the crane may lift.
.El
.Sh FILES
.Bl -tag -width Ds -compact
.It Pa /etc/crane.conf
.El
ROFF
printf '.so man1/frobnicate.1\n' > "$m/man1/frob.1"
printf '...and so the notes begin with dots.\nThey are plain text.\n' > "$m/notes.txt"

rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 24 --chunk-overlap 0 "$m" 2> "$TMP/err" || rc=$?
t_eq "man tree: exit 0" 0 "$rc"
t_eq "pages load as man, the dotted notes as text, the .so page not at all" \
  "man/man1/frobnicate-gz.1.gz:man:FROBNICATE(1) man/man5/crane.conf.5:man:CRANE.CONF(5) man/notes.txt:text:" \
  "$(q "SELECT string_agg(source_name || ':' || (metadata->>'format') || ':' || coalesce(metadata->>'title', ''), ' ' ORDER BY source_name) FROM documents")"
t_check "the .so page is counted as ignored (man_link)" grep -q 'man_link 1' "$TMP/err"
page() { q "SELECT original_content FROM documents WHERE source_name = 'man/$1'"; }
t_check "no roff request or font escape left in any page" \
  bash -c "! psql -X -qtA -c \"SELECT original_content FROM documents WHERE metadata->>'format' = 'man'\" | grep -qE '^\\.(TH|SH|SS|TP|B|BR|nf|fi|Sh|Nm|Bl|It)\\b|\\\\f[BIRP]|\\\\-'"
t_check "options read as the page shows them" grep -q -- '-v, --verbose' <<<"$(page man1/frobnicate-gz.1.gz)"
t_check "the example keeps its lines" grep -qx 'frobnicate -n 3 north.conf south.conf' <<<"$(page man1/frobnicate-gz.1.gz)"
t_eq "sections are headings: a chunk under OPTIONS" 1 \
  "$(q "SELECT (count(*) > 0)::int FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'man/man1/frobnicate-gz.1.gz' AND c.chunk_metadata->'headings' ? 'OPTIONS'")"
t_eq "... and the subsection under its section" '["DESCRIPTION", "Calibration"]' \
  "$(q "SELECT DISTINCT c.chunk_metadata->>'headings' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'man/man1/frobnicate-gz.1.gz' AND c.chunk_text LIKE '%tide tables%'")"
t_check "mdoc: the name line and the tagged list read as text" \
  bash -c "grep -q 'crane.conf — the cranes a harbour has' <<<\"\$1\" && grep -q 'limit tonnes' <<<\"\$1\"" _ "$(page man5/crane.conf.5)"
t_check "the page's header table (its title repeated) is not text" bash -c "! grep -q 'User Commands' <<<\"\$1\"" _ "$(page man1/frobnicate-gz.1.gz)"
t_check "the dotted notes stay text" grep -q '^\.\.\.and so the notes begin with dots\. They are plain text\.$' <<<"$(page notes.txt)"
rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 24 --chunk-overlap 0 "$m" 2> "$TMP/err" || rc=$?
t_check "rerun: unchanged" grep -q '0 added, 0 changed, 3 unchanged' "$TMP/err"

# a real page of the system, when it has them (slim images drop /usr/share/man)
real=/usr/share/man/man1/tar.1.gz
if [ -f "$real" ]; then
  mkdir -p "$TMP/sys" && cp "$real" "$TMP/sys/"
  "$RAGLOAD" -q ingest --chunk-tokens 24 --chunk-overlap 0 "$TMP/sys"
  t_eq "tar(1): its sections are headings" 1 \
    "$(q "SELECT (count(DISTINCT c.chunk_metadata->'headings'->>0) >= 4)::int FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'sys/tar.1.gz'")"
  t_eq "tar(1): no font escapes" 0 "$(q "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'sys/tar.1.gz' AND c.chunk_text ~ '\\\\f[BIRP]'")"
else
  t_skip "manpages: $real absent (no manual pages on this system)"
fi
