#!/usr/bin/env bash
# tests/run.sh — the whole suite: unit tests (cmocka), integration and CLI tests against the
# private PostgreSQL that run.sh starts, then the unit tests again under ASan/UBSan.
# Prints a closing line "N passed, N failed, N skipped"; exits 1 when anything failed.
#   tests/run.sh            everything (expects PG* from `./run.sh env`; ./run.sh test does that)
#   tests/run.sh --unit DIR only the unit tests of build dir DIR
#   tests/run.sh NAME...    only the integration/CLI tests whose file name contains NAME
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ROOT
RESULTS=$(mktemp); export RESULTS
# fixtures loaded once per suite and shared by its tests (tests/lib.sh: scifact_db)
RAGLOAD_TEST_CACHE=$(mktemp -d); export RAGLOAD_TEST_CACHE
trap 'rm -rf "$RESULTS" "$RAGLOAD_TEST_CACHE"' EXIT
cd "$ROOT"
SUITE_START=$(date +%s)

# CPU seconds used so far by this suite's processes (reaped children) and by the cluster
# (the postmaster and the backends it has reaped): where the time goes, phase by phase.
pg_cpu() {
  local dir pid
  dir=$(psql -X -qtA -d postgres -c "SHOW data_directory" 2>/dev/null) || { echo 0; return; }
  pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  awk -v t="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15 + $16 + $17) / t }' "/proc/$pid/stat" 2>/dev/null || echo 0
}
own_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15 + $16 + $17) / t }' /proc/$$/stat; }
phase() {
  echo "== $1 (at $(( $(date +%s) - SUITE_START )) s; CPU so far: tests $(own_cpu) s, PostgreSQL $(pg_cpu) s)"
}

run_unit() {
  local dir=$1 label=$2 t out
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    local name; name=$(basename "$t")
    if out=$(cd "$ROOT" && timeout 300 "$t" 2>&1); then
      local n; n=$(printf '%s\n' "$out" | grep -c '^\[       OK \]')
      echo "PASS unit$label: $name ($n cases)" >> "$RESULTS"
      echo "  ok   unit$label $name ($n cases)"
      # count each cmocka case as one test
      for _ in $(seq 2 "$n"); do echo "PASS unit$label: $name case" >> "$RESULTS"; done
    else
      echo "FAIL unit$label: $name" >> "$RESULTS"
      printf '%s\n' "$out" | grep -E 'FAIL|ERROR|error|Assert|==[0-9]+==' | head -n 30
      echo "  FAIL unit$label $name"
    fi
  done
}

summary() {
  local p f s
  p=$(grep -c '^PASS' "$RESULTS"); f=$(grep -c '^FAIL' "$RESULTS"); s=$(grep -c '^SKIP' "$RESULTS")
  if [ "$f" -gt 0 ]; then echo; echo "failed:"; grep '^FAIL' "$RESULTS" | sed 's/^/  /'; fi
  if [ "$s" -gt 0 ]; then echo "skipped:"; grep '^SKIP' "$RESULTS" | sed 's/^/  /'; fi
  echo "$p passed, $f failed, $s skipped"
  [ "$f" -eq 0 ]
}

if [ "${1:-}" = "--unit" ]; then
  run_unit "${2:-build}" ""
  summary; exit
fi

phase "build"
make -s && make -s faults || { echo "build failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
filter=("$@")
phase "unit tests"
[ ${#filter[@]} -eq 0 ] && run_unit build ""

# The fuzz-replay and sanitizer builds start now, niced, and compile while the integration
# tests run, on the CPU those leave idle (waiting on PostgreSQL, sleeping, checking in one
# thread); the phases below wait for them and run `make` again, which is then a no-op (or
# reports the failure).
prebuild=
if [ ${#filter[@]} -eq 0 ]; then
  ( nice -n 19 make -s replay-build > "$RAGLOAD_TEST_CACHE/replay-build.log" 2>&1
    if [ "${RAGLOAD_SKIP_ASAN:-0}" != 1 ]; then
      nice -n 19 make -s asan > "$RAGLOAD_TEST_CACHE/asan-build.log" 2>&1
      nice -n 19 make -s tsan > "$RAGLOAD_TEST_CACHE/tsan-build.log" 2>&1
    fi ) &
  prebuild=$!
fi

phase "integration and CLI tests"
for t in tests/cli/*.sh tests/integration/*.sh; do
  [ -f "$t" ] || continue
  if [ ${#filter[@]} -gt 0 ]; then
    m=0; for f in "${filter[@]}"; do case "$t" in *"$f"*) m=1;; esac; done
    [ $m -eq 1 ] || continue
  fi
  echo "-- $t"
  start=$(date +%s) c0=$(own_cpu) p0=$(pg_cpu)
  TEST_NAME=$(basename "$t" .sh) timeout 900 bash "$t" || {
    rc=$?; echo "FAIL $(basename "$t" .sh): script exited $rc" >> "$RESULTS"; echo "  FAIL script exited $rc"; }
  echo "   ($(( $(date +%s) - start )) s; CPU: $(( $(own_cpu) - c0 )) s, PostgreSQL $(( $(pg_cpu) - p0 )) s)"
done

# Sanitizers: unit tests and the integration tests that exercise the most code paths again
# under ASan/UBSan (errors abort, leaks fail the exit status), and the threaded pipeline under
# TSan. Memory-limit tests (ulimit -v) stay with the normal build: sanitizers cannot run there.
ASAN_INTEGRATION="cli schema bad_input incremental fvecs hostile mail office pdf"
[ -n "$prebuild" ] && wait "$prebuild"
if [ ${#filter[@]} -eq 0 ]; then
  phase "fuzz corpora replayed (seeds and regressions, ASan/UBSan)"
  if out=$(tests/fuzz/replay.sh 2>&1); then
    printf '%s\n' "$out" | sed 's/^/  /'
    echo "PASS fuzz replay: every target" >> "$RESULTS"
  else
    printf '%s\n' "$out" | tail -n 20
    echo "FAIL fuzz replay" >> "$RESULTS"
  fi
fi

if [ ${#filter[@]} -eq 0 ] && [ "${RAGLOAD_SKIP_ASAN:-0}" != 1 ]; then
  phase "unit tests under ASan/UBSan"
  if make -s asan >/dev/null 2>&1; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
    run_unit build/asan " (asan)"
    phase "integration tests under ASan/UBSan"
    for name in $ASAN_INTEGRATION; do
      for t in tests/cli/$name.sh tests/integration/$name.sh; do
        [ -f "$t" ] || continue
        echo "-- $t (asan)"
        RAGLOAD=$ROOT/build/asan/ragload TEST_NAME="$name (asan)" timeout 900 bash "$t" || {
          echo "FAIL $name (asan): script exited $?" >> "$RESULTS"; }
      done
    done
    unset ASAN_OPTIONS
  else
    echo "FAIL asan: build failed" >> "$RESULTS"; echo "  FAIL asan build"
  fi
  phase "threaded pipeline under TSan"
  if make -s tsan >/dev/null 2>&1; then
    TEST_NAME=tsan bash tests/sanitize/tsan.sh
  else
    echo "FAIL tsan: build failed" >> "$RESULTS"; echo "  FAIL tsan build"
  fi
fi
phase "done"
summary
