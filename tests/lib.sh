# tests/lib.sh — helpers for integration and CLI tests (sourced).
# Each test script calls t_pass/t_fail/t_skip; results go to $RESULTS (one line per case).
set -u
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RAGLOAD=${RAGLOAD:-$ROOT/build/ragload}
SHARED=${SHARED:-$ROOT/../shared}
DATASETS=$SHARED/datasets
RESULTS=${RESULTS:-/dev/null}
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}

t_pass() { echo "PASS $TEST_NAME: $*" >> "$RESULTS"; echo "  ok   $*"; }
t_fail() { echo "FAIL $TEST_NAME: $*" >> "$RESULTS"; echo "  FAIL $*"; }
t_skip() { echo "SKIP $TEST_NAME: $*" >> "$RESULTS"; echo "  skip $*"; }
# t_check NAME CONDITION-COMMAND...: pass when the command succeeds.
t_check() { local name=$1; shift; if "$@"; then t_pass "$name"; else t_fail "$name"; fi; }
# t_eq NAME EXPECTED ACTUAL
t_eq() {
  if [ "$2" = "$3" ]; then t_pass "$1"; else t_fail "$1 (expected '$2', got '$3')"; fi
}

# t_json NAME FILE PYTHON-EXPRESSION: pass when the expression holds, r being the JSON in FILE;
# for a results.json also q = {method: [quality rows]} and a = its ann rows.
t_json() {
  python3 - "$2" "$3" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
q, a = {}, []
if isinstance(r, dict) and "quality" in r:
    for row in r["quality"]:
        q.setdefault(row["method"], []).append(row)
    a = r.get("ann", [])
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
  local rc=$?; if [ $rc = 0 ]; then t_pass "$1"; else t_fail "$1"; fi
}

# A fresh database for this test: rl_<name>.
newdb() {
  export PGDATABASE="rl_$1"
  dropdb --if-exists "$PGDATABASE" 2>/dev/null
  createdb "$PGDATABASE"
}
q() { psql -X -qtA -v ON_ERROR_STOP=1 -c "$1"; }

# Scratch directory removed at exit.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ragload-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

have_shared() { [ -d "$DATASETS/scifact" ]; }

# words_kept SRC_WORDS TEXT: how much of the source's words (SRC_WORDS: one line, lowercased,
# space-separated) file TEXT keeps in order: their longest common subsequence over the source's
# word count, printed as 0.xxxx. The extraction tests (office, pdf) hold it to >= 0.98.
words_kept() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
src = open(sys.argv[1]).read().split()
doc = re.findall(r'\w+', open(sys.argv[2]).read().lower())
prev = [0] * (len(doc) + 1)
for a in src:
    cur = [0] * (len(doc) + 1)
    for j, b in enumerate(doc):
        cur[j + 1] = prev[j] + 1 if a == b else max(prev[j + 1], cur[j])
    prev = cur
print('%.4f' % (prev[-1] / len(src)))
EOF
}

# scifact_db NAME: database rl_NAME holding SciFact as `ragload init` + `ingest corpus.jsonl`
# leave it (default settings, no vector index). The load runs once per suite, into the template
# rl_tpl_scifact (tests/run.sh gives every test the same RAGLOAD_TEST_CACHE; a test run alone
# loads it for itself); each test gets its own copy (createdb -T), so what one test writes no
# other sees. Sets SCIFACT_RC (the load's exit status), SCIFACT_ERR (a file: its stderr),
# SCIFACT_MODEL (the model that load fitted, exported to a file) and SCIFACT_LOG (the server
# log written during the load, which ran with log_statement=all; absent when the log is not
# readable). scifact_load alone makes sure of the load and sets those, without a copy.
scifact_load() {
  local cache=${RAGLOAD_TEST_CACHE:-$TMP} tpl=rl_tpl_scifact
  (
    flock 9
    if [ ! -f "$cache/scifact.rc" ]; then
      PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$tpl"
      createdb "$tpl"
      rc=0 log=${RAGLOAD_PGLOG:-} from=0
      [ -n "$log" ] && [ -r "$log" ] && from=$(stat -c %s "$log")
      # the load's statements go to the server log (scifact.sh checks they are binary COPY)
      { PGDATABASE=$tpl "$RAGLOAD" -q init &&
        PGDATABASE=$tpl PGOPTIONS="-c log_statement=all" "$RAGLOAD" --no-progress \
          ingest "$DATASETS/scifact/corpus.jsonl"; } 2> "$cache/scifact.err" || rc=$?
      echo "$rc" > "$cache/scifact.rc"
      [ -n "$log" ] && [ -r "$log" ] && tail -c +"$((from + 1))" "$log" > "$cache/scifact.log"
    fi
    if [ ! -f "$cache/scifact.model" ] && [ "$(cat "$cache/scifact.rc")" = 0 ]; then
      PGDATABASE=$tpl "$RAGLOAD" -q model export "$cache/scifact.model"
    fi
  ) 9> "$cache/scifact.lock"
  SCIFACT_MODEL=$cache/scifact.model
  SCIFACT_RC=$(cat "$cache/scifact.rc"); SCIFACT_ERR=$cache/scifact.err
  SCIFACT_LOG=$cache/scifact.log
}
scifact_db() {
  local tpl=rl_tpl_scifact i
  scifact_load
  export PGDATABASE="rl_$1"
  PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$PGDATABASE" 2>/dev/null
  # the template's last backend may still be exiting: createdb -T refuses while it is
  for i in 1 2 3 4 5 6 7 8 9 10; do
    createdb -T "$tpl" "$PGDATABASE" 2> "$TMP/createdb.err" && return 0
    sleep 0.5
  done
  cat "$TMP/createdb.err" >&2
  return 1
}
