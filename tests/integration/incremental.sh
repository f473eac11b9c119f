# Nightly reruns: unchanged documents untouched, a changed one replaced in place (same doc_id,
# new chunk ids), a removed one pruned only under the given input, --dry-run writes nothing.
. "$(dirname "$0")/../lib.sh"
newdb incremental
"$RAGLOAD" -q init
mkdir -p "$TMP/a" "$TMP/b"
for i in 1 2 3 4 5; do printf 'Document %s talks about topic %s.\n\nSecond paragraph %s.\n' $i $i $i > "$TMP/a/doc$i.txt"; done
printf 'Outside the pruned input.\n' > "$TMP/b/other.txt"
"$RAGLOAD" -q ingest "$TMP/a" "$TMP/b"
t_eq "first load: 6 documents" 6 "$(q "SELECT count(*) FROM documents")"
id2=$(q "SELECT doc_id FROM documents WHERE source_name = 'a/doc2.txt'")
chunks2=$(q "SELECT string_agg(chunk_id::text, ',') FROM chunks WHERE doc_id = $id2")
stats() { q "SELECT pg_stat_force_next_flush()" >/dev/null 2>&1; q "SELECT sum(n_tup_ins) || '/' || sum(n_tup_upd) || '/' || sum(n_tup_del) FROM pg_stat_user_tables WHERE relname IN ('documents','chunks','embeddings')"; }
printf 'Document 2 has new text now.\n' > "$TMP/a/doc2.txt"
rm "$TMP/a/doc5.txt"
before=$(stats)
rc=0; "$RAGLOAD" --no-progress ingest --dry-run --prune "$TMP/a" 2> "$TMP/dry" || rc=$?
t_eq "dry run exits 0" 0 "$rc"
t_check "dry run says 1 changed, 3 unchanged, 1 pruned" grep -q '0 would be added, 1 changed, 3 unchanged, 1 pruned' "$TMP/dry"
t_eq "dry run writes nothing" "$before" "$(stats)"
rc=0; "$RAGLOAD" --no-progress ingest --prune "$TMP/a" 2> "$TMP/run" || rc=$?
t_eq "rerun with --prune exits 0" 0 "$rc"
t_check "summary: 0 added, 1 changed, 3 unchanged, 1 pruned" grep -q '0 added, 1 changed, 3 unchanged, 1 pruned' "$TMP/run"
t_eq "changed document keeps its doc_id" "$id2" "$(q "SELECT doc_id FROM documents WHERE source_name = 'a/doc2.txt'")"
t_check "changed document has its new text" test "$(q "SELECT count(*) FROM documents WHERE source_name = 'a/doc2.txt' AND original_content LIKE 'Document 2 has new text now.%'")" = 1
t_check "its chunks got new ids" test "$(q "SELECT count(*) FROM chunks WHERE chunk_id IN ($chunks2)")" = 0
t_eq "pruned document gone" 0 "$(q "SELECT count(*) FROM documents WHERE source_name = 'a/doc5.txt'")"
t_eq "document outside the input never pruned" 1 "$(q "SELECT count(*) FROM documents WHERE source_name = 'b/other.txt'")"
t_eq "no orphan chunks" 0 "$(q "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = c.doc_id)")"
t_eq "no chunk without its embedding" 0 "$(q "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.chunk_id = c.chunk_id)")"
t_check "run log records the counts" test "$(q "SELECT counts->>'pruned' FROM ragload_runs ORDER BY run_id DESC LIMIT 1")" = 1
"$RAGLOAD" status > "$TMP/status" 2>&1
t_check "status shows the corpus and the last runs" grep -q 'last runs' "$TMP/status"
t_check "status shows the model" grep -q 'model ragload-hash' "$TMP/status"
# A damaged input keeps its own earlier document from --prune, and only that one: a file
# removed beside it is still pruned (before, any skipped item stopped all pruning).
mkdir -p "$TMP/c"; printf 'one\n' > "$TMP/c/x.txt"; printf 'two\n' > "$TMP/c/y.txt"; printf 'three\n' > "$TMP/c/z.txt"
"$RAGLOAD" -q ingest "$TMP/c"
rm "$TMP/c/y.txt"; head -c 4096 /dev/urandom > "$TMP/c/junk.bin"; head -c 4096 /dev/urandom > "$TMP/c/z.txt"
rc=0; "$RAGLOAD" --no-progress ingest --prune "$TMP/c" 2> "$TMP/err" || rc=$?
t_eq "run with a skipped item exits 3" 3 "$rc"
t_eq "the removed file is pruned although another was skipped" 0 "$(q "SELECT count(*) FROM documents WHERE source_name = 'c/y.txt'")"
t_eq "a file now damaged keeps its earlier document" 1 "$(q "SELECT count(*) FROM documents WHERE source_name = 'c/z.txt'")"
t_check "what was kept is said" grep -q 'prune kept 1 document under c/z.txt' "$TMP/err"
# --log FILE: timestamped warnings and the summary, and no password from a conninfo.
rc=0; "$RAGLOAD" --no-progress -d "dbname=$PGDATABASE password=s3cr3t-pw" ingest --log "$TMP/run.log" "$TMP/c" 2>/dev/null || rc=$?
t_check "log file has timestamped lines" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ingest started' "$TMP/run.log"
t_check "log file has the warning with its reason" grep -q 'junk.bin.*\[binary\]' "$TMP/run.log"
t_check "log file has the summary" grep -q 'documents:' "$TMP/run.log"
t_check "no password in the log or the run log" bash -c "! grep -rq s3cr3t-pw '$TMP/run.log' && [ \"\$(psql -X -qtA -c \"SELECT count(*) FROM ragload_runs WHERE inputs::text LIKE '%s3cr3t%' OR coalesce(errors, '') LIKE '%s3cr3t%'\")\" = 0 ]"
