# The README's chatbot example (the ```python block after "<!-- chatbot example"), run as
# written with Debian's python3-psycopg against a SciFact corpus as ragload_reader: it searches
# with one ragload_search call and logs the turn, the answer's chunk ids in
# chat_messages.retrieved_chunk_ids; the reader cannot write the corpus tables.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "chatbot: ../shared/datasets absent"; exit 0; fi
if ! /usr/bin/python3 -c 'import psycopg' 2>/dev/null; then t_fail "python3-psycopg missing (./run.sh setup)"; exit 0; fi
scifact_db chatbot
[ "$SCIFACT_RC" = 0 ] || { t_fail "SciFact load failed"; exit 0; }
"$RAGLOAD" -q init --roles
/usr/bin/python3 - "$ROOT/README.md" "$TMP/chatbot.py" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
at = text.index("<!-- chatbot example")
m = re.compile(r"^```python\n(.*?)^```$", re.S | re.M).search(text, at)
open(sys.argv[2], "w").write(m.group(1))
EOF
t_check "the README has the chatbot example" test -s "$TMP/chatbot.py"
question="Does aspirin prevent heart attacks?"
rc=0; PGUSER=ragload_reader /usr/bin/python3 "$TMP/chatbot.py" "$question" > "$TMP/out" 2> "$TMP/err" || rc=$?
t_eq "the example runs as ragload_reader" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/      /' "$TMP/err" | tail -n 10
t_eq "it prints 5 retrieved chunks and an answer" "5 1" "$(grep -c '  chunk [0-9]' "$TMP/out") $(grep -c '^answer: ' "$TMP/out")"
t_eq "the user's turn and the answer are logged in one session" "user assistant" \
  "$(q "SELECT string_agg(sender, ' ' ORDER BY message_id) FROM chat_messages")"
t_eq "the answer's retrieved_chunk_ids are ragload_search's chunks, in rank order" \
  "$(q "SELECT array_agg(chunk_id) FROM ragload_search('$question', 5, 'hybrid')")" \
  "$(q "SELECT retrieved_chunk_ids FROM chat_messages WHERE sender = 'assistant'")"
t_eq "... which name live chunks" 5 \
  "$(q "SELECT count(*) FROM chat_messages m, unnest(m.retrieved_chunk_ids) i JOIN chunks c ON c.chunk_id = i WHERE m.sender = 'assistant'")"
for stmt in "INSERT INTO documents (source_name) VALUES ('x')" "UPDATE chunks SET chunk_text = 'x'" \
  "DELETE FROM embeddings" "UPDATE ragload_models SET data = ''" "DELETE FROM ragload_bm25_postings" \
  "INSERT INTO ragload_corpus (key, value) VALUES ('model', 'x')" "TRUNCATE chunks CASCADE"; do
  rc=0; PGUSER=ragload_reader psql -X -qtA -c "$stmt" > "$TMP/w.out" 2>&1 || rc=$?
  t_check "the reader cannot: $stmt" grep -qiE 'permission denied|must be owner' "$TMP/w.out"
done
t_eq "the corpus is unchanged" "5183 0" "$(q "SELECT (SELECT count(*) FROM documents) || ' ' || (SELECT count(*) FROM chunks WHERE chunk_text = 'x')")"
