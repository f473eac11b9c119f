#!/usr/bin/env bash
# tests/fuzz/replay.sh — replays every fuzz target's seed and regression corpora through the
# target built without libFuzzer (tests/fuzz/replay.c driver, gcc + ASan/UBSan + LeakSanitizer).
# Takes seconds; tests/run.sh calls it. Prints one line per target; exits 1 on any crash,
# leak, broken invariant or build failure.
#   BUILD=dir (default build)   REPLAY_WORK=1 also replays $BUILD/fuzz/work/T (what fuzzing found)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
targets=(read jsonl normalize markdown mail office pdfwire chunk vecfile config extension man pod info rst docbook)
if ! make -s BUILD="$BUILD" replay-build > "$BUILD/fuzz-replay-build.log" 2>&1; then
  echo "FAIL fuzz replay: build failed (see $BUILD/fuzz-replay-build.log)"; exit 1
fi
tests/fuzz/make-seeds.sh "$BUILD/fuzz/seeds" || { echo "FAIL fuzz replay: seed generation failed"; exit 1; }
fail=0
for t in "${targets[@]}"; do
  dirs=("tests/fuzz/corpus/$t" "$BUILD/fuzz/seeds/$t" "tests/fuzz/regressions/$t")
  [ "${REPLAY_WORK:-0}" = 1 ] && dirs+=("$BUILD/fuzz/work/$t")
  log=$BUILD/fuzz/replay_$t.log
  start=$(date +%s.%N)
  if out=$(REPLAY_VERBOSE=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
           timeout 300 "$BUILD/fuzz/replay_$t" "${dirs[@]}" 2> "$log"); then
    printf 'PASS fuzz replay %-9s %s in %.1f s\n' "$t" "$out" "$(echo "$(date +%s.%N) - $start" | bc)"
  else
    fail=1
    printf 'FAIL fuzz replay %-9s (log %s)\n' "$t" "$log"
    grep -E '^replay:' "$log" | tail -n 1 | sed 's/^/    last input: /'
    grep -E 'ERROR|SUMMARY|fuzz check|runtime error' "$log" | tail -n 6 | sed 's/^/    /'
  fi
done
exit $fail
