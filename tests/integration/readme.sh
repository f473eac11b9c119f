# The README's runnable examples run as written: every ```sh block of README.md (the
# convention is stated in an HTML comment at its top; ```text blocks are illustrative), in
# order, from the repository root, each as one bash script (errexit, pipefail) in the
# environment `eval "$(./run.sh env)"` gives, pointed at a scratch database (RAGLOAD_DB, which
# run.sh env honours). Each block must exit 0; a command whose documented status is another
# says so in the README itself. MAX_QUERIES and QPS_SECONDS (documented in the README) scale
# the evals down: 20 queries, three timed passes a setting.
# Blocks that use ../shared are skipped, with the reason, when it is absent.
. "$(dirname "$0")/../lib.sh"
newdb readme
export RAGLOAD_DB=$PGDATABASE MAX_QUERIES=${MAX_QUERIES:-20} QPS_SECONDS=${QPS_SECONDS:-0}
python3 - "$ROOT/README.md" "$TMP/block" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"^```sh\n(.*?)^```$", text, flags=re.S | re.M)
for i, b in enumerate(blocks, 1):
    open(f"{sys.argv[2]}.{i:02d}", "w").write(b)
PY
n=$(ls "$TMP"/block.* 2> /dev/null | wc -l)
t_check "README has runnable sh blocks ($n)" test "$n" -ge 4
for f in "$TMP"/block.*; do
  i=${f##*.}
  first=$(grep -v '^\s*#' "$f" | grep -m1 . | cut -c1-70)
  if grep -q '\.\./shared' "$f" && ! have_shared; then
    t_skip "README block $i ($first): needs ../shared/datasets, absent"; continue
  fi
  start=$(date +%s)
  rc=0
  (cd "$ROOT" && PATH=$ROOT/build:$PATH bash -eo pipefail "$f") > "$TMP/out.$i" 2>&1 || rc=$?
  t_eq "README block $i ($first) exits 0 [$(( $(date +%s) - start )) s]" 0 "$rc"
  [ "$rc" = 0 ] || tail -n 15 "$TMP/out.$i" | sed 's/^/      /'
done
# what the examples promise, checked on what they printed
out=$(cat "$TMP"/out.* 2> /dev/null)
t_check "the search example prints ranked results" grep -qE '^  1  [0-9.-]+  corpus\.jsonl#' <<< "$out"
t_check "the embed example prints a pgvector literal" grep -qE '^\[-?[0-9]' <<< "$out"
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "${PGDATABASE}_sift"
