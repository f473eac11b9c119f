# Perl's documentation format (POD), as the Perl manual and CPAN modules ship it: headings,
# paragraphs and verbatim code as text events; formatting codes, entities and links reduced to
# their text; blocks for other formatters and the code around =cut not read; the NAME
# paragraph is the title. A Perl module (.pm) with POD inside stays text.
. "$(dirname "$0")/../lib.sh"
newdb pod
"$RAGLOAD" -q init
p=$TMP/perl
mkdir -p "$p"
cp "$(dirname "$0")/../fuzz/corpus/pod/constructs.pod" "$p/Crane.pod"
printf 'package Harbour::Tide;\nuse strict;\n\n=head1 NAME\n\nHarbour::Tide - tides\n\n=cut\n\n1;\n' > "$p/Tide.pm"
rc=0; "$RAGLOAD" --no-progress ingest --chunk-tokens 32 --chunk-overlap 0 "$p" 2> "$TMP/err" || rc=$?
t_eq "perl tree: exit 0" 0 "$rc"
t_eq "the .pod reads as POD, the module as text" "perl/Crane.pod:pod perl/Tide.pm:text" \
  "$(q "SELECT string_agg(source_name || ':' || (metadata->>'format'), ' ' ORDER BY source_name) FROM documents")"
t_eq "the NAME paragraph is the title" 'Harbour::Crane - lift heavy loads with $crane->lift($t)' \
  "$(q "SELECT metadata->>'title' FROM documents WHERE source_name = 'perl/Crane.pod'")"
text=$(q "SELECT original_content FROM documents WHERE source_name = 'perl/Crane.pod'")
t_check "no formatting code, command or entity left" bash -c "! grep -qE '[BCILEFSXZ]<|^=[a-z]' <<<\"\$1\"" _ "$text"
t_check "entities decoded: <tonnes> é ☺ A" grep -q '<tonnes> é ☺ A' <<<"$text"
t_check "S<<-- HERE> keeps its text" grep -q '<-- HERE' <<<"$text"
t_check "links: the section in the page, a link's own text" \
  grep -q 'see High water in Harbour::Tide and the manual\.' <<<"$text"
t_check "nested codes give their text; a code never closed runs to the paragraph's end" grep -q 'nested codes deep and an unmatched here\.' <<<"$text"
t_check "verbatim code keeps its lines and indentation" grep -q '^    my \$c = Harbour::Crane->new(limit => 40);$' <<<"$text"
t_check "=begin html and =for comment not read" bash -c "! grep -qE 'not text|not read' <<<\"\$1\"" _ "$text"
t_check "=for text read" grep -q 'read as text' <<<"$text"
t_check "the preamble and the code after =cut not read" bash -c "! grep -qE 'preamble|code_not_read' <<<\"\$1\"" _ "$text"
t_check "POD after =pod read again" grep -q 'Back in POD after code\.' <<<"$text"
t_eq "a chunk under its heading path" '["SYNOPSIS", "Options"]' \
  "$(q "SELECT DISTINCT c.chunk_metadata->>'headings' FROM chunks c JOIN documents d USING (doc_id) WHERE d.source_name = 'perl/Crane.pod' AND c.chunk_text LIKE '%heaviest load%'")"
