# Least privilege: the reader cannot modify the corpus; ingest works as the loader.
. "$(dirname "$0")/../lib.sh"
newdb roles
"$RAGLOAD" -q init --roles
printf 'A first document.\n' > "$TMP/one.txt"
"$RAGLOAD" -q ingest "$TMP/one.txt"      # the owner types the vector column on the first load
printf 'A second document.\n' > "$TMP/two.txt"
rc=0; PGUSER=ragload_loader "$RAGLOAD" --no-progress ingest "$TMP/two.txt" 2> "$TMP/err" || rc=$?
t_eq "ingest as ragload_loader exits 0" 0 "$rc"
t_eq "loader's document loaded" 1 "$(q "SELECT count(*) FROM documents WHERE source_name = 'two.txt'")"
# a postings index missing (a first load killed before its end): the loader may not build it,
# loads anyway and says who can; the owner's init builds it
q "DROP INDEX ragload_bm25_postings_term_idx"
printf 'A third document.\n' > "$TMP/three.txt"
rc=0; PGUSER=ragload_loader "$RAGLOAD" --no-progress ingest "$TMP/three.txt" 2> "$TMP/err" || rc=$?
t_eq "ingest as ragload_loader without a postings index exits 0, and warns" "0 1" \
  "$rc $(grep -c 'may not build it.*ragload init' "$TMP/err")"
"$RAGLOAD" -q init
t_eq "the owner's init builds it" 1 "$(q "SELECT count(*) FROM pg_indexes WHERE indexname = 'ragload_bm25_postings_term_idx'")"
asreader() { PGUSER=ragload_reader psql -X -qtA -c "$1" 2>&1; }
for stmt in "INSERT INTO documents (source_name) VALUES ('x')" "UPDATE documents SET source_name = 'y'" \
  "DELETE FROM chunks" "DELETE FROM embeddings" "TRUNCATE documents CASCADE" "DROP TABLE embeddings"; do
  t_check "reader cannot: $stmt" bash -c "PGUSER=ragload_reader psql -X -qtA -c \"$stmt\" 2>&1 | grep -qiE 'permission denied|must be owner'"
done
t_eq "reader reads the corpus" 3 "$(asreader "SELECT count(*) FROM documents")"
t_check "reader writes the chat tables" bash -c "PGUSER=ragload_reader psql -X -qtA -v ON_ERROR_STOP=1 -c \"INSERT INTO users (username) VALUES ('alice'); INSERT INTO chat_sessions (user_id) SELECT user_id FROM users; INSERT INTO chat_messages (session_id, sender, message_text, retrieved_chunk_ids) SELECT session_id, 'user', 'hi', ARRAY[1] FROM chat_sessions\" >/dev/null"
rc=0; PGUSER=ragload_reader "$RAGLOAD" ingest "$TMP/one.txt" 2> "$TMP/err" || rc=$?
t_check "ingest as the reader fails" test "$rc" -ne 0
rc=0; PGUSER=ragload_loader "$RAGLOAD" init 2> "$TMP/err" || rc=$?
t_eq "schema changes stay with the owner: init as loader is refused" 1 "$rc"
t_check "second init --roles is idempotent" "$RAGLOAD" -q init --roles
