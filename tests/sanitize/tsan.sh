# The threaded ingest pipeline (reader, worker, loader, bounded queues) under ThreadSanitizer,
# with tiny queues so that every push and pop blocks, plus a reconnect-free bad input; the
# model fit's threads on the same input (`model fit`, at 64 dimensions: under TSan a 768-wide
# fit took most of the test's CPU); eval's parallel exact scan.
. "$(dirname "$0")/../lib.sh"
TSAN_BIN=$ROOT/build/tsan/ragload
newdb tsan
"$RAGLOAD" -q init
mkdir -p "$TMP/in"
if have_shared; then head -n 600 "$DATASETS/scifact/corpus.jsonl" > "$TMP/in/corpus.jsonl"; fi
for i in $(seq 1 50); do printf 'Document %s.\n\nWith two paragraphs of text %s.\n' $i $i > "$TMP/in/d$i.txt"; done
head -c 4096 /dev/urandom > "$TMP/in/noise.bin"
# PDFs: the normalize workers start PDF worker processes side by side (stages/pdf.c)
if command -v groff >/dev/null; then
  for i in 1 2 3 4; do
    printf '.TL\nNotes %s\n.PP\nThe keeper logs vessel %s at dusk.\n' $i $i | groff -ms -Tpdf > "$TMP/in/p$i.pdf"
  done
fi
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 suppressions=$ROOT/tests/sanitize/tsan.supp"
rc=0
"$TSAN_BIN" --no-progress --set model.dim=64 model fit "$TMP/in" -o "$TMP/fit.model" 2> "$TMP/fit.err" || rc=$?
t_eq "model fit under TSan exits 0" 0 "$rc"
t_eq "no ThreadSanitizer report from the fit" 0 "$(grep -c 'WARNING: ThreadSanitizer' "$TMP/fit.err")"
# the pipeline with a given model (the suite's SciFact model when ../shared is there): no fit
model=()
if have_shared; then scifact_load; [ -f "$SCIFACT_MODEL" ] && model=(--model "$SCIFACT_MODEL"); fi
rc=0
"$TSAN_BIN" --no-progress --set load.batch_docs=40 --set load.queue_bytes=64KB ingest "${model[@]}" \
  "$TMP/in" 2> "$TMP/err" || rc=$?
t_eq "ingest under TSan exits 3 (one binary file skipped)" 3 "$rc"
t_eq "no ThreadSanitizer report" 0 "$(grep -c 'WARNING: ThreadSanitizer' "$TMP/err")"
t_check "documents loaded under TSan" test "$(q "SELECT count(*) FROM documents")" -ge 50

# eval's exact scan: one thread and connection per part of the heap, merged at the end
if have_shared; then
  head -n 20 "$DATASETS/scifact/queries.jsonl" > "$TMP/queries.jsonl"
  rc=0
  "$TSAN_BIN" --no-progress eval --queries "$TMP/queries.jsonl" -k 10 --reports-dir "$TMP/reports" > /dev/null 2> "$TMP/eval.err" || rc=$?
  t_eq "eval under TSan exits 0" 0 "$rc"
  t_check "the exact scan ran on more than one connection" grep -q 'exact top-10 of 20 queries over .* ([2-9] connections)' "$TMP/eval.err"
  t_eq "no ThreadSanitizer report from eval" 0 "$(grep -c 'WARNING: ThreadSanitizer' "$TMP/eval.err")"
else
  t_skip "tsan eval: ../shared/datasets absent (no queries)"
fi
