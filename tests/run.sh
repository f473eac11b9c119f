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
# the local model cache (models/store.c) of this suite alone, not the user's ~/.cache
RAGLOAD_MODEL_CACHE=$RAGLOAD_TEST_CACHE/models; export RAGLOAD_MODEL_CACHE
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

# Integration and CLI tests run in RAGLOAD_TEST_LANES lanes (default 2): each test has its own
# databases (rl_<name>), its own scratch directory and the shared fixtures (tests/lib.sh)
# behind a lock, and most of a test's time is one process waiting on another, so two lanes
# keep both cores busy. A test's output is printed whole when it ends. Tests in SOLO_TESTS
# stop or restart the cluster and run first, alone with it (see below); the ASan runs of ASAN_INTEGRATION join the lanes
# once the ASan build is ready and the test's own run has ended (they share its databases).
LANES=${RAGLOAD_TEST_LANES:-2}
SOLO_TESTS="crash"
# (longest first, as measured: the last of them to end closes the suite)
ASAN_INTEGRATION="pdf cli hostile office mail bad_input incremental fvecs schema"
LOGDIR=$RAGLOAD_TEST_CACHE/logs; mkdir -p "$LOGDIR"
declare -A job_log=() done_test=()
jobs_running=0

# run_test FILE NAME [RAGLOAD]: one test, its output into the log; the closing line gives its
# wall time and the CPU seconds of its processes (the cluster's are shared between lanes).
run_test() {
  local t=$1 name=$2 bin=${3:-}
  local start me=$BASHPID; start=$(date +%s)
  echo "-- $t${bin:+ (asan)}"
  RAGLOAD=${bin:-$ROOT/build/ragload} TEST_NAME=$name timeout 900 bash "$t" || {
    rc=$?; echo "FAIL $name: script exited $rc" >> "$RESULTS"; echo "  FAIL script exited $rc"; }
  echo "   ($(( $(date +%s) - start )) s; CPU $(awk -v t="$(getconf CLK_TCK)" \
    '{ printf "%d", ($16 + $17) / t }' /proc/$me/stat) s)"
}
start_test() {
  run_test "$@" > "$LOGDIR/$2.log" 2>&1 &
  job_log[$!]=$2; jobs_running=$((jobs_running + 1))
}
# Waits for one lane (or the prebuild) to end and prints its test's output. Polls: bash's
# `wait -n` does not return for a job that ended before it was called.
reap_test() {
  local pid
  while :; do
    if [ -n "${prebuild:-}" ] && ! kill -0 "$prebuild" 2> /dev/null; then
      wait "$prebuild"; prebuild=; phase "sanitizer builds ready"; return 0
    fi
    for pid in "${!job_log[@]}"; do
      kill -0 "$pid" 2> /dev/null && continue
      wait "$pid"
      cat "$LOGDIR/${job_log[$pid]}.log"
      done_test[${job_log[$pid]}]=1; jobs_running=$((jobs_running - 1))
      unset "job_log[$pid]"
      return 0
    done
    sleep 0.3
  done
}

selected() {
  [ ${#filter[@]} -eq 0 ] && return 0
  local f; for f in "${filter[@]}"; do case "$1" in *"$f"*) return 0;; esac; done
  return 1
}

phase "integration and CLI tests"
queue=() solo=()
for t in tests/cli/*.sh tests/integration/*.sh; do
  [ -f "$t" ] && selected "$t" || continue
  case " $SOLO_TESTS " in *" $(basename "$t" .sh) "*) solo+=("$t"); continue;; esac
  queue+=("$t")
done
# the longest first (their last measured times, in tests/durations; a new test counts as 30 s),
# so that no lane is left with a long test at the end
mapfile -t queue < <(for t in "${queue[@]}"; do
  d=$(awk -v n="$(basename "$t" .sh)" '$1 == n { print $2 }' tests/durations 2> /dev/null)
  echo "${d:-30} $t"
done | sort -k1,1nr -k2 | awk '{ print $2 }')
# The first test that needs the shared SciFact load (tests/lib.sh: scifact_load) makes it while
# any other such test waits on its lock: the test beside it should be one that does not need it.
uses_scifact() { grep -qE 'scifact_(db|load)' "$1"; }
if [ ${#queue[@]} -gt 2 ] && uses_scifact "${queue[0]}" && uses_scifact "${queue[1]}"; then
  for k in "${!queue[@]}"; do
    if [ "$k" -gt 1 ] && ! uses_scifact "${queue[$k]}"; then
      queue=("${queue[0]}" "${queue[$k]}" "${queue[@]:1:$((k - 1))}" "${queue[@]:$((k + 1))}")
      break
    fi
  done
fi
# Tests that stop or restart the cluster (SOLO_TESTS) run first, one at a time, with the cluster
# to themselves: such a test mostly waits (on kills, restarts, recovery), and the sanitizer
# builds started above, niced, take the core it leaves idle.
for t in "${solo[@]}"; do
  run_test "$t" "$(basename "$t" .sh)" > "$LOGDIR/$(basename "$t" .sh).log" 2>&1
  cat "$LOGDIR/$(basename "$t" .sh).log"
done
solo=()
for t in "${queue[@]}"; do
  while [ "$jobs_running" -ge "$LANES" ]; do reap_test; done
  start_test "$t" "$(basename "$t" .sh)"
done

# Sanitizers: the fuzz corpora replayed under ASan/UBSan, the unit tests and the integration
# tests that exercise the most code paths again under ASan/UBSan (errors abort, leaks fail the
# exit status), and the threaded pipeline under TSan; they join the lanes as the builds above
# finish. Memory-limit tests (ulimit -v) stay with the normal build: sanitizers cannot run
# there.
replay_job() {
  echo "-- fuzz corpora replayed (seeds and regressions, ASan/UBSan)"
  if out=$(tests/fuzz/replay.sh 2>&1); then
    printf '%s\n' "$out" | sed 's/^/  /'
    echo "PASS fuzz replay: every target" >> "$RESULTS"
  else
    printf '%s\n' "$out" | tail -n 20
    echo "FAIL fuzz replay" >> "$RESULTS"
  fi
}
asan_ok() {
  make -s asan > /dev/null 2>&1 && return 0
  echo "FAIL asan: build failed" >> "$RESULTS"; echo "  FAIL asan build"; return 1
}
asan_unit_job() {
  echo "-- unit tests under ASan/UBSan"
  asan_ok && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run_unit build/asan " (asan)"
}
asan_test_job() {
  asan_ok && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    run_test "$1" "$(basename "$1" .sh) (asan)" "$ROOT/build/asan/ragload"
}
tsan_job() {
  if make -s tsan > /dev/null 2>&1; then
    run_test tests/sanitize/tsan.sh tsan | sed '1s/.*/-- threaded pipeline under TSan/'
  else
    echo "-- threaded pipeline under TSan"
    echo "FAIL tsan: build failed" >> "$RESULTS"; echo "  FAIL tsan build"
  fi
}
# The jobs that wait for the sanitizer builds: the fuzz replay and the ASan unit tests (no
# database), the ASan integration runs (each after its test's own run) and TSan.
# Each entry: FUNCTION LOG-NAME [ARG] [TEST IT WAITS FOR].
late=()
if [ ${#filter[@]} -eq 0 ]; then
  late+=("replay_job replay")
  if [ "${RAGLOAD_SKIP_ASAN:-0}" != 1 ]; then
    late+=("asan_unit_job asan-unit" "tsan_job tsan")
    for name in $ASAN_INTEGRATION; do
      for t in tests/cli/$name.sh tests/integration/$name.sh; do
        [ -f "$t" ] && late+=("asan_test_job $name-asan $t $name")
      done
    done
  fi
fi
while [ ${#late[@]} -gt 0 ] || [ "$jobs_running" -gt 0 ]; do
  if [ "$jobs_running" -lt "$LANES" ]; then
    picked=
    for k in "${!late[@]}"; do
      read -r fn log arg after <<< "${late[$k]}"
      [ -z "$prebuild" ] || continue
      [ -z "${after:-}" ] || [ -n "${done_test[$after]:-}" ] || continue
      # shellcheck disable=SC2086
      $fn $arg > "$LOGDIR/$log.log" 2>&1 &
      job_log[$!]=$log; jobs_running=$((jobs_running + 1))
      unset "late[$k]"; late=("${late[@]}"); picked=1; break
    done
    [ -n "$picked" ] && continue
  fi
  reap_test
done
phase "done"
summary
