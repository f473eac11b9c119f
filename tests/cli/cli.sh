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
