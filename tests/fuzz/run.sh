#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [TARGET...] — runs each libFuzzer target SECONDS seconds (default
# 60) on its corpora: the committed seeds (tests/fuzz/corpus/T), the generated binary seeds
# ($BUILD/fuzz/seeds/T), the regression inputs (tests/fuzz/regressions/T) and what earlier
# runs found ($BUILD/fuzz/work/T, the only directory libFuzzer writes to). FUZZ_JOBS=N runs N
# targets at a time. Crashes land in $BUILD/fuzz/crashes/T/; once fixed, copy them into
# tests/fuzz/regressions/T/. Prints one line per target (executions, coverage, crashes) and
# exits 1 when any target crashed. Expects `make fuzz-build` (make fuzz does it).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(read jsonl normalize markdown mail office pdfwire chunk vecfile config extension man pod info rst docbook)
jobs=${FUZZ_JOBS:-1}
tests/fuzz/make-seeds.sh "$BUILD/fuzz/seeds" || { echo "fuzz: seed generation failed"; exit 1; }
mkdir -p "$BUILD/fuzz/logs"

# Per target: the largest input worth trying (archives need room, a config line does not).
max_len() {
  case $1 in read) echo 65536;; pdfwire) echo 32768;; jsonl|normalize|markdown|mail|office|extension) echo 16384;; *) echo 4096;; esac
}

fuzz_one() {
  local t=$1 bin=$BUILD/fuzz/fuzz_$1 log=$BUILD/fuzz/logs/$1.log
  mkdir -p "$BUILD/fuzz/work/$t" "$BUILD/fuzz/crashes/$t"
  # -close_fd_mask=2: the config target's error messages would drown the log; libFuzzer and
  # the sanitizers still report on a duplicate of stderr.
  # the targets write their input to a scratch file under TMPDIR: one directory per target,
  # removed here whatever way libFuzzer exits
  local scratch; scratch=$(mktemp -d "${TMPDIR:-/tmp}/ragload-fuzz-$t.XXXXXX")
  # libFuzzer exits at once on a corpus directory that does not exist (vecfile has no
  # hand-written seeds: its seeds are all generated), so only the existing ones are given
  local dirs=("$BUILD/fuzz/work/$t") d
  for d in "tests/fuzz/corpus/$t" "$BUILD/fuzz/seeds/$t" "tests/fuzz/regressions/$t"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  TMPDIR=$scratch "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 -max_len="$(max_len "$t")" \
    -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/crashes/$t/" \
    "${dirs[@]}" > "$log" 2>&1
  local rc=$?
  rm -rf "$scratch"
  local done execs cov ft crashes
  done=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(printf '%s' "$done" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
  ft=$(printf '%s' "$done" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
  if [ -z "$cov" ]; then  # stopped by a crash: the last status line has the figures
    local last; last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(printf '%s' "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    ft=$(printf '%s' "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
  fi
  crashes=$(find "$BUILD/fuzz/crashes/$t" -type f -newer "$log.start" 2>/dev/null | wc -l)
  printf 'fuzz %-9s %s: %s execs in %ss, cov %s, ft %s, corpus %s, new crash files %s (log %s)\n' \
    "$t" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" "${execs:-?}" "$secs" "${cov:-?}" "${ft:-?}" \
    "$(ls "$BUILD/fuzz/work/$t" | wc -l)" "$crashes" "$log"
  return $rc
}

fail=0
pids=()
for t in "${targets[@]}"; do
  [ -x "$BUILD/fuzz/fuzz_$t" ] || { echo "fuzz $t FAIL: $BUILD/fuzz/fuzz_$t not built (make fuzz-build)"; fail=1; continue; }
  touch "$BUILD/fuzz/logs/$t.log.start"
  fuzz_one "$t" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || fail=1; done
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || fail=1; done
exit $fail
