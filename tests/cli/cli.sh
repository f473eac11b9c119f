# CLI behaviour with golden output: help, usage errors and their exit statuses.
. "$(dirname "$0")/../lib.sh"
GOLDEN=$ROOT/tests/cli/golden
"$RAGLOAD" --help > "$TMP/help" 2>&1; rc=$?
t_eq "--help exits 0" 0 "$rc"
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then cp "$TMP/help" "$GOLDEN/help.txt"; fi
t_check "--help matches golden output" cmp -s "$TMP/help" "$GOLDEN/help.txt"
t_check "--help documents exit status 75" grep -q '^  75 ' "$TMP/help"
rc=0; "$RAGLOAD" > /dev/null 2>&1 || rc=$?; t_eq "no command exits 2" 2 "$rc"
rc=0; "$RAGLOAD" frobnicate 2> "$TMP/e" || rc=$?; t_eq "unknown command exits 2" 2 "$rc"
t_check "unknown command is named" grep -q "unknown command 'frobnicate'" "$TMP/e"
rc=0; "$RAGLOAD" ingest 2> /dev/null || rc=$?; t_eq "ingest without inputs exits 2" 2 "$rc"
rc=0; "$RAGLOAD" --set chunk.nope=1 init 2> "$TMP/e" || rc=$?; t_eq "unknown setting exits 2" 2 "$rc"
rc=0; "$RAGLOAD" --chunk-tokens 32 --chunk-overlap 40 ingest x 2> "$TMP/e" || rc=$?
t_eq "overlap >= tokens is a usage error" 2 "$rc"
printf '[chunk]\ntokens = many\n' > "$TMP/bad.ini"
rc=0; "$RAGLOAD" --config "$TMP/bad.ini" init 2> "$TMP/e" || rc=$?
t_eq "bad config value exits 2" 2 "$rc"
t_check "bad config names file and key" grep -q "bad.ini: \[chunk\] tokens = many" "$TMP/e"
t_check "shipped config/default.ini parses" "$RAGLOAD" --config "$ROOT/config/default.ini" --version
newdb cli_noinit
rc=0; "$RAGLOAD" ingest "$ROOT/README.md" 2> "$TMP/e" || rc=$?
t_eq "ingest before init exits 1" 1 "$rc"
t_check "ingest before init says to run init" grep -q 'ragload init' "$TMP/e"
rc=0; "$RAGLOAD" -d "host=/nonexistent-socket-dir port=1" init 2> "$TMP/e" || rc=$?
t_eq "unreachable server exits 1" 1 "$rc"

# Usage errors: the one error line and where to read more, never the whole help.
rc=0; "$RAGLOAD" search -k 0 q 2> "$TMP/e" || rc=$?
t_eq "search -k 0 exits 2" 2 "$rc"
t_eq "-k 0 names the option and its bound" "ragload: error: -k: must be ≥ 1" "$(head -n 1 "$TMP/e")"
t_eq "a usage error points at the command's help" "Try 'ragload search --help'" "$(tail -n 1 "$TMP/e")"
t_eq "a usage error prints two lines, not the help" 2 "$(wc -l < "$TMP/e")"
for args in "index --hnsw-m 1" "index --lists=0" "eval -k x --queries q" "--chunk-tokens 4 ingest x" \
            "index --only btree" "search --method nope q" "index --distance hamming" \
            "eval --connections 0 --queries q" "--shard 0/2 ingest x"; do
  rc=0; eval "\"\$RAGLOAD\" $args" > /dev/null 2> "$TMP/e" || rc=$?
  opt=$(printf '%s\n' $args | grep -m1 -- '^-' | cut -d= -f1)
  t_check "'$args': exit 2, the error names $opt, two lines" \
    test "$rc" = 2 -a "$(wc -l < "$TMP/e")" = 2 -a "$(head -n 1 "$TMP/e" | grep -c -- "error: $opt: ")" = 1
done
rc=0; "$RAGLOAD" --frobnicate status 2> "$TMP/e" || rc=$?
t_check "an unknown option exits 2 and is named" test "$rc" = 2 -a "$(grep -c "unknown option '--frobnicate'" "$TMP/e")" = 1
rc=0; "$RAGLOAD" search 2> "$TMP/e" || rc=$?; t_eq "search without a query exits 2" 2 "$rc"
for qq in "" "   " "$(printf '\t\n')"; do
  rc=0; "$RAGLOAD" search "$qq" 2> "$TMP/e" || rc=$?
  t_check "an empty or blank query is a usage error" test "$rc" = 2 -a "$(grep -c 'query is empty' "$TMP/e")" = 1
done
rc=0; "$RAGLOAD" frobnicate 2> "$TMP/e" || rc=$?
t_eq "unknown command: two lines" 2 "$(wc -l < "$TMP/e")"

# Each command's own help: ragload COMMAND --help and ragload help COMMAND.
for c in init status ingest model index reindex search embed eval; do
  rc=0; "$RAGLOAD" $c --help > "$TMP/h" 2>&1 || rc=$?
  t_check "$c --help exits 0 with its own usage line" test "$rc" = 0 -a "$(head -n 1 "$TMP/h" | grep -c "^usage: ragload $c")" = 1
  "$RAGLOAD" help $c > "$TMP/h2" 2>&1
  t_check "help $c prints the same" cmp -s "$TMP/h" "$TMP/h2"
done
"$RAGLOAD" search --help > "$TMP/h"
t_check "search --help lists --all-chunks and -k" grep -q -- '--all-chunks' "$TMP/h"
# Every option of the overview is documented by some command's help (a new option must be
# added to its command's help too).
for c in init status ingest model index reindex search embed eval; do "$RAGLOAD" $c --help; done > "$TMP/all"
missing=$(grep -oE -- '--[a-z][a-z-]+' "$GOLDEN/help.txt" | sort -u | while read -r o; do
  grep -q -- "$o" "$TMP/all" || echo "$o"; done | grep -v -- '--version' | tr '\n' ' ')
t_eq "every option in --help is in a command's help" "" "$missing"

# A database without `ragload init`: one clear message for every command that reads the corpus.
newdb cli_noinit2
for args in status "search q" index "eval --queries q" "model export $TMP/m"; do
  rc=0; "$RAGLOAD" $args < /dev/null > /dev/null 2> "$TMP/e" || rc=$?
  t_check "'$args' before init: exit 1, no corpus, run init" \
    test "$rc" = 1 -a "$(grep -c "no ragload corpus in database rl_cli_noinit2: run 'ragload init' first" "$TMP/e")" = 1
done
rc=0; echo q | "$RAGLOAD" embed > /dev/null 2> "$TMP/e" || rc=$?
t_check "embed before init: exit 1, says so" test "$rc" = 1 -a "$(grep -c 'no ragload corpus' "$TMP/e")" = 1

# Progress on a (pseudo) terminal: the fit's steps, then a percentage and an ETA; none with
# -q, --no-progress, or when stderr is not a terminal.
if command -v script > /dev/null; then
  "$RAGLOAD" -q init
  # 4,000 notes, 16 MB: a load of a few seconds, long enough for several redraws (4 a second)
  # on a machine twice as fast as this one. Their words come from a short list: 300 distinct
  # numbers a note made the BM25 postings most of the load (30 s of the server's CPU).
  mkdir -p "$TMP/docs"
  awk -v d="$TMP/docs" 'BEGIN { split("load chunk embed vector index search query table row page", w, " ")
    for (j = 1; j <= 300; j++) s = s " " w[j % 10 + 1] (j < 100 ? "" : "s")
    for (i = 1; i <= 4000; i++) { f = d "/n" i ".md"
      printf "# Note %d\n\nParagraph %d about loading documents into PostgreSQL with pgvector, chunking and embedding them for retrieval.%s\n\nA second paragraph %d.%s\n", i, i, s, i, s > f
      close(f) } }'
  # a 64-dimension model: the fit's size is not what this checks (under ASan a 768-dimension fit
  # of these notes took a minute of CPU)
  script -qfec "\"$RAGLOAD\" --set model.dim=64 ingest \"$TMP/docs\"" "$TMP/tty" > /dev/null 2>&1; rc=$?
  t_eq "ingest on a tty exits 0" 0 "$rc"
  tr '\r' '\n' < "$TMP/tty" > "$TMP/tty.txt"
  t_check "the fit reports what it is doing" grep -q 'fitting the model: ' "$TMP/tty.txt"
  t_check "ingest progress shows a percentage of the input size" grep -qE '^ragload: [0-9]+% of [0-9.]+ MB' "$TMP/tty.txt"
  t_check "the fit's progress through a directory moves past 0%" grep -qE 'reading documents: .*[1-9][0-9]*% of [0-9.]+ MB' "$TMP/tty.txt"
  t_check "progress redraws one line in place" grep -q $'\r' "$TMP/tty"
  # the same load again with the model just fitted (no fit: seconds, not tens of them)
  "$RAGLOAD" -q model export "$TMP/m.model"
  empty() { PGOPTIONS="-c client_min_messages=warning" q "TRUNCATE documents CASCADE"; }
  empty
  script -qfec "\"$RAGLOAD\" -q ingest --model \"$TMP/m.model\" \"$TMP/docs\"" "$TMP/tty" > /dev/null 2>&1
  t_check "-q: no progress on a tty" test "$(grep -c '% of' "$TMP/tty")" = 0
  empty
  script -qfec "\"$RAGLOAD\" --no-progress ingest --model \"$TMP/m.model\" \"$TMP/docs\"" "$TMP/tty" > /dev/null 2>&1
  t_check "--no-progress: no progress on a tty" test "$(grep -c '% of' "$TMP/tty")" = 0
  t_check "... but the summary" grep -q 'ingest finished' "$TMP/tty"
  empty
  "$RAGLOAD" ingest --model "$TMP/m.model" "$TMP/docs" > /dev/null 2> "$TMP/e"
  t_check "no progress when stderr is not a terminal" test "$(grep -c $'\r' "$TMP/e")" = 0
else
  t_skip "progress on a terminal: script (util-linux) is absent"
fi
