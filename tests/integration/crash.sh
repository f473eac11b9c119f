# Crash and fault safety: SIGKILL at any moment (fault hook and plain kill -9), a dropped
# connection during COPY, a server restart mid-ingest, and the run lock. After each, a rerun
# gives exactly the corpus a clean load gives: no duplicates, no orphans, nothing missing.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "crash: ../shared/datasets absent"; exit 0; fi
FAULTS=$ROOT/build/faults/ragload
[ -x "$FAULTS" ] || make -s -C "$ROOT" faults >/dev/null
head -n 3000 "$DATASETS/scifact/corpus.jsonl" > "$TMP/corpus.jsonl"
# one model for every load (the fit is not what this test is about): the suite's SciFact model
# (tests/lib.sh), else one fitted here
scifact_load
model=$SCIFACT_MODEL
if [ ! -s "$model" ]; then
  model=$TMP/small.model
  "$RAGLOAD" --no-progress model fit "$TMP/corpus.jsonl" -o "$model" 2>/dev/null
fi
SMALL=(--model "$model" --set load.batch_docs=100)
pairs() { q "SELECT d.source_name || ' ' || md5(c.chunk_text) FROM documents d JOIN chunks c USING (doc_id) ORDER BY 1"; }
consistent() {
  [ "$(q "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = c.doc_id)")" = 0 ] &&
  [ "$(q "SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)")" = 0 ] &&
  [ "$(q "SELECT count(*) FROM chunks c WHERE (SELECT count(*) FROM embeddings e WHERE e.chunk_id = c.chunk_id) <> 1")" = 0 ]
}
# the postings, their document frequencies and N as a clean load leaves them
postings() { q "SELECT md5(string_agg(r, ',' ORDER BY r)) FROM (SELECT d.source_name || ' ' || md5(c.chunk_text) || ' ' || p.term || ' ' || p.tf || ' ' || p.len AS r FROM ragload_bm25_postings p JOIN chunks c USING (chunk_id) JOIN documents d USING (doc_id)) x"; }
bm25_exact() { q "SELECT (SELECT count(*) FROM (SELECT term, count(*) AS n FROM ragload_bm25_postings GROUP BY term) a FULL JOIN (SELECT term, sum(df) AS n FROM ragload_bm25_df GROUP BY term HAVING sum(df) <> 0) b USING (term) WHERE a.n IS DISTINCT FROM b.n) || ' ' || ((SELECT sum(n) FROM ragload_bm25_stats) = (SELECT count(*) FROM chunks)) || ' ' || ((SELECT sum(total_len) FROM ragload_bm25_stats) = (SELECT sum(tf) FROM ragload_bm25_postings))"; }
newdb crash_ref; "$RAGLOAD" -q init; "$RAGLOAD" -q "${SMALL[@]}" ingest "$TMP/corpus.jsonl"
pairs > "$TMP/ref"
ref_postings=$(postings)
total=$(q "SELECT count(*) FROM documents")
t_eq "reference load has 3000 documents" 3000 "$total"

# 1. fault hook: SIGKILL right after the 3rd committed batch
newdb crash_hook; "$RAGLOAD" -q init
rc=0; RAGLOAD_FAULT=kill_after_commits=3 "$FAULTS" -q "${SMALL[@]}" ingest "$TMP/corpus.jsonl" 2>/dev/null || rc=$?
t_eq "fault hook killed the run (SIGKILL)" 137 "$rc"
t_eq "exactly 3 batches committed before the kill" 300 "$(q "SELECT count(*) FROM documents")"
t_check "corpus consistent after the kill" consistent
# a first load builds the postings' indexes at its end: killed before it, they are missing
pix() { q "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'ragload_bm25_postings'"; }
t_eq "a first load killed midway leaves the BM25 postings without their indexes" 0 "$(pix)"
rc=0; "$RAGLOAD" -q "${SMALL[@]}" ingest "$TMP/corpus.jsonl" 2> "$TMP/hook.err" || rc=$?
t_eq "rerun after the kill exits 0" 0 "$rc"
t_eq "the rerun builds both again, and warns" "2 1" "$(pix) $(grep -c 'BM25 postings lacked both their indexes' "$TMP/hook.err")"
pairs > "$TMP/hook"
t_check "after kill + rerun: same (source_name, chunk_text) pairs as a clean load" cmp -s "$TMP/ref" "$TMP/hook"
t_eq "after kill + rerun: the BM25 postings equal a clean load's" "$ref_postings" "$(postings)"
t_eq "after kill + rerun: document frequencies, N and total length exact" "0 true true" "$(bm25_exact)"

# 2. plain SIGKILL at several moments, each followed by the next run, then a run to completion
newdb crash_kill; "$RAGLOAD" -q init
mid=0; counts=""
# "load": kill as soon as the first batches are in (polled), so one kill surely lands mid-load;
# those come before the fixed delays, since with its model given a load may finish in a second
for delay in 0.2 load load 1.0 1.6; do
  "$RAGLOAD" -q "${SMALL[@]}" ingest "$TMP/corpus.jsonl" 2>/dev/null & pid=$!
  if [ "$delay" = load ]; then
    base=$(q "SELECT count(*) FROM documents")
    for _ in $(seq 1 400); do
      [ "$(q "SELECT count(*) FROM documents")" -gt "$base" ] && break; sleep 0.02
    done
  else
    sleep "$delay"
  fi
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  n=$(q "SELECT count(*) FROM documents"); counts="$counts $n"
  if [ "$n" -gt 0 ] && [ "$n" -lt "$total" ]; then mid=1; fi
  consistent || t_fail "corpus inconsistent after kill -9 at ${delay}s"
done
echo "   documents after each kill:$counts"
t_eq "at least one kill landed mid-load (0 < documents < all)" 1 "$mid"
rc=0; "$RAGLOAD" -q "${SMALL[@]}" ingest "$TMP/corpus.jsonl" || rc=$?
t_eq "run to completion after kills exits 0" 0 "$rc"
pairs > "$TMP/kill"
t_check "after kills + rerun: same pairs as a clean load, no duplicates" cmp -s "$TMP/ref" "$TMP/kill"

# 3. the connection drops during COPY: reconnect, retry, complete
newdb crash_drop; "$RAGLOAD" -q init
rc=0; RAGLOAD_FAULT=drop_in_copy=4 "$FAULTS" --no-progress "${SMALL[@]}" ingest "$TMP/corpus.jsonl" 2> "$TMP/drop" || rc=$?
t_eq "run with a dropped connection exits 0" 0 "$rc"
t_check "the loss and the reconnect are reported" grep -q 'reconnected' "$TMP/drop"
pairs > "$TMP/dropped"
t_check "after a dropped connection: same pairs as a clean load" cmp -s "$TMP/ref" "$TMP/dropped"
t_check "run log records the reconnect" test "$(q "SELECT counts->>'reconnects' FROM ragload_runs ORDER BY run_id DESC LIMIT 1")" -ge 1

# 4. the server restarts mid-ingest
newdb crash_restart; "$RAGLOAD" -q init
"$RAGLOAD" --no-progress --model "$model" --set load.batch_docs=50 ingest "$TMP/corpus.jsonl" \
  2> "$TMP/restart" & pid=$!
for _ in $(seq 1 200); do
  n=$(q "SELECT count(*) FROM documents" 2>/dev/null || echo 0)
  [ "${n:-0}" -gt 0 ] && break; sleep 0.05
done
"$ROOT/run.sh" restart
rc=0; wait "$pid" || rc=$?
t_eq "ingest across a server restart exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/restart"
pairs > "$TMP/restarted"
t_check "after a server restart: the corpus is complete" cmp -s "$TMP/ref" "$TMP/restarted"

# 4b. only the session holding the run lock ends (pg_terminate_backend, idle_session_timeout):
# the loaders' connections live on, so the run must notice and take the lock again. The whole
# SciFact corpus in small transactions with a model fitted beforehand, so that the load goes on
# for over a second after the kill and the check between batches (once a second) sees it; a
# faster load would only see it after the last batch (the check before the post-load work).
scifact_db crash_scifact  # for the suite's SciFact model, fitted once
newdb crash_lockloss; "$RAGLOAD" -q init
"$RAGLOAD" --no-progress --model "$SCIFACT_MODEL" --set load.batch_docs=10 \
  ingest "$DATASETS/scifact/corpus.jsonl" 2> "$TMP/lockloss" & pid=$!
for _ in $(seq 1 200); do
  n=$(q "SELECT count(*) FROM documents" 2>/dev/null || echo 0)
  [ "${n:-0}" -gt 0 ] && break; sleep 0.05
done
holder=$(q "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1")
t_check "the run lock is held during the load" test -n "$holder"
q "SELECT pg_terminate_backend($holder)" >/dev/null
rc=0; wait "$pid" || rc=$?
t_eq "ingest after its lock session was terminated exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/lockloss"
t_check "run log shows the lock session re-established" grep -q "reconnected to PostgreSQL" "$TMP/lockloss"
if grep -q "stopped answering" "$TMP/lockloss"; then
  echo "   noticed between batches"
else
  echo "   noticed after the last batch (the load ended within a second of the kill)"
fi
t_eq "after the lock session was terminated: every document once" \
  "$(wc -l < "$DATASETS/scifact/corpus.jsonl")" "$(q "SELECT count(*) FROM documents")"
t_check "after the lock session was terminated: the corpus is consistent" consistent
t_check "run log shows the reconnect" test "$(q "SELECT counts->>'reconnects' FROM ragload_runs ORDER BY run_id DESC LIMIT 1")" -ge 1

# 5. two runs at once cannot interleave: the advisory lock
psql -X -qtA -c "SELECT pg_advisory_lock(1380009728, 0), pg_sleep(6)" >/dev/null & holder=$!
sleep 1
rc=0; "$RAGLOAD" --no-wait ingest "$TMP/corpus.jsonl" 2> "$TMP/lock" || rc=$?
t_eq "--no-wait exits 75 while another run holds the lock" 75 "$rc"
start=$(date +%s)
rc=0; "$RAGLOAD" --set load.lock_wait_s=1 ingest "$TMP/corpus.jsonl" 2> "$TMP/lock" || rc=$?
t_eq "waiting for the lock gives up with 75 after lock_wait_s" 75 "$rc"
wait "$holder"
rc=0; "$RAGLOAD" -q ingest "$TMP/corpus.jsonl" || rc=$?
t_eq "once the lock is free the run proceeds" 0 "$rc"
