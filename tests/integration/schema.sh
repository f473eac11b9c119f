# init: the six contract tables with exactly their columns, GIN indexes, idempotent.
. "$(dirname "$0")/../lib.sh"
newdb schema
t_check "init exits 0" "$RAGLOAD" -q init
cols=$(q "SELECT table_name || '.' || column_name || ':' || data_type FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name IN
          ('documents','chunks','embeddings','users','chat_sessions','chat_messages')
          ORDER BY table_name, ordinal_position" | tr '\n' ' ')
for want in documents.doc_id:integer "documents.source_name:character varying" documents.metadata:jsonb \
  documents.original_content:text "documents.upload_timestamp:timestamp with time zone" \
  chunks.chunk_id:integer chunks.doc_id:integer chunks.chunk_text:text chunks.token_count:integer \
  chunks.chunk_metadata:jsonb embeddings.embedding_id:integer embeddings.chunk_id:integer \
  embeddings.embedding_vector:USER-DEFINED "embeddings.model_name:character varying" \
  users.user_id:integer "users.username:character varying" "users.created_at:timestamp with time zone" \
  chat_sessions.session_id:integer chat_sessions.user_id:integer \
  "chat_sessions.start_time:timestamp with time zone" chat_sessions.session_metadata:jsonb \
  chat_messages.message_id:integer chat_messages.session_id:integer \
  "chat_messages.timestamp:timestamp with time zone" "chat_messages.sender:character varying" \
  chat_messages.message_text:text chat_messages.retrieved_chunk_ids:ARRAY; do
  case " $cols" in *" $want "*) ;; *) t_fail "contract column $want"; continue;; esac
done
t_pass "contract columns present with their types"
t_eq "timestamps default to now()" "4" "$(q "SELECT count(*) FROM information_schema.columns
  WHERE table_schema='public' AND column_default = 'now()' AND table_name IN
  ('documents','chunks','embeddings','users','chat_sessions','chat_messages') AND column_name IN
  ('upload_timestamp','created_at','start_time','timestamp')")"
t_eq "GIN indexes on the three JSONB columns" "3" "$(q "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%USING gin%'
  AND (indexdef LIKE '%(metadata)%' OR indexdef LIKE '%(chunk_metadata)%' OR indexdef LIKE '%(session_metadata)%')")"
t_eq "embeddings.chunk_id is unique" "1" "$(q "SELECT count(*) FROM pg_indexes WHERE tablename='embeddings' AND indexdef LIKE 'CREATE UNIQUE INDEX%(chunk_id)'")"
last=$(basename "$(ls "$ROOT"/config/migrations/*.sql | sort | tail -n 1)")
t_eq "schema version recorded" "$((10#${last%%_*}))" "$(q "SELECT max(version) FROM ragload_schema_version")"
# pg_dump 15.14+ writes a random \restrict key per run: drop those two lines before comparing
pg_dump --schema-only "$PGDATABASE" | sed -E '/^\\(un)?restrict /d' > "$TMP/a.sql"
t_check "second init exits 0" "$RAGLOAD" -q init
pg_dump --schema-only "$PGDATABASE" | sed -E '/^\\(un)?restrict /d' > "$TMP/b.sql"
t_check "second init leaves pg_dump --schema-only identical" cmp -s "$TMP/a.sql" "$TMP/b.sql"

# A managed server: the corpus's owner is no superuser and pgvector was created for it.
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists rl_schema_owner
psql -X -q -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rl_schema_owner') THEN CREATE ROLE rl_schema_owner LOGIN; END IF; END \$\$"
createdb -O rl_schema_owner rl_schema_owner
psql -X -q -d rl_schema_owner -c "CREATE EXTENSION vector"
rc=0; PGDATABASE=rl_schema_owner PGUSER=rl_schema_owner "$RAGLOAD" -q init 2> "$TMP/owner.err" || rc=$?
t_eq "init by an owner who is not a superuser exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 5 "$TMP/owner.err"
t_eq "... and reaches the latest schema" "$(ls "$ROOT"/config/migrations/*.sql | sed -E 's|.*/0*([0-9]+)_.*|\1|' | sort -n | tail -n 1)" \
  "$(PGDATABASE=rl_schema_owner q "SELECT max(version) FROM ragload_schema_version")"
dropdb rl_schema_owner
