# SciFact (BEIR) loaded once (the suite's shared load, tests/lib.sh: scifact_db): every
# document, every chunk embedded once, only binary COPY, and a rerun over unchanged input
# writes nothing.
. "$(dirname "$0")/../lib.sh"
if ! have_shared; then t_skip "scifact: ../shared/datasets absent"; exit 0; fi
# the suite's SciFact load (tests/lib.sh: scifact_db), checked here; this test's copy of it
scifact_db scifact
corpus=$DATASETS/scifact/corpus.jsonl
t_eq "ingest corpus.jsonl exits 0" 0 "$SCIFACT_RC"
[ "$SCIFACT_RC" = 0 ] || tail -n 5 "$SCIFACT_ERR"
t_eq "all 5183 documents loaded" 5183 "$(q "SELECT count(*) FROM documents")"
t_eq "every document has chunks" 0 "$(q "SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_id = d.doc_id)")"
t_eq "every chunk has exactly one embedding" 0 "$(q "SELECT count(*) FROM chunks c WHERE (SELECT count(*) FROM embeddings e WHERE e.chunk_id = c.chunk_id) <> 1")"
t_eq "source_name is corpus.jsonl#<_id>" "corpus.jsonl#4983" "$(q "SELECT source_name FROM documents WHERE metadata->>'_id' = '4983'")"
t_eq "_id kept in metadata" 5183 "$(q "SELECT count(DISTINCT metadata->>'_id') FROM documents")"
t_check "document text is title and text" test "$(q "SELECT count(*) FROM documents WHERE metadata->>'_id' = '4983' AND original_content LIKE 'Microstructural development of human newborn cerebral white matter%'")" = 1
t_eq "model_name names a stored model" 0 "$(q "SELECT count(*) FROM (SELECT DISTINCT model_name FROM embeddings) m WHERE NOT EXISTS (SELECT 1 FROM ragload_models r WHERE r.model_name = m.model_name)")"
t_eq "embedding_vector typed vector(768) and stored inline (no TOAST round trip)" "vector(768) p" \
  "$(q "SELECT format_type(atttypid, atttypmod) || ' ' || attstorage::text FROM pg_attribute WHERE attrelid = 'embeddings'::regclass AND attname = 'embedding_vector'")"
t_check "vectors are unit length" test "$(q "SELECT count(*) FROM (SELECT embedding_vector FROM embeddings LIMIT 200) e WHERE abs(vector_norm(embedding_vector) - 1) > 1e-3")" = 0
t_check "chunk metadata has ordinal and byte offsets" test "$(q "SELECT count(*) FROM chunks WHERE chunk_metadata ? 'ordinal' AND chunk_metadata ? 'start' AND chunk_metadata ? 'end'")" = "$(q "SELECT count(*) FROM chunks")"
t_eq "chunk text is the byte range of original_content" 0 "$(q "SELECT count(*) FROM (SELECT c.chunk_text, d.original_content, (c.chunk_metadata->>'start')::int s, (c.chunk_metadata->>'end')::int e FROM chunks c JOIN documents d USING (doc_id) LIMIT 500) x WHERE convert_from(substring(convert_to(original_content, 'UTF8') FROM s + 1 FOR e - s), 'UTF8') <> chunk_text")"
if [ -s "$SCIFACT_LOG" ]; then
  t_check "the log check sees the load's statements" grep -q 'statement: BEGIN' "$SCIFACT_LOG"
  t_check "server log shows COPY ... FROM STDIN (FORMAT BINARY)" grep -q 'COPY documents .* FROM STDIN (FORMAT BINARY)' "$SCIFACT_LOG"
  t_check "no INSERT into documents, chunks or embeddings" bash -c '! grep -qiE "INSERT INTO (documents|chunks|embeddings)" "$1"' _ "$SCIFACT_LOG"
else
  t_skip "COPY-only check: server log not readable (RAGLOAD_PGLOG unset)"
fi
# A rerun over unchanged input writes nothing to the corpus tables.
q "SELECT pg_stat_force_next_flush()" >/dev/null 2>&1
before=$(q "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables WHERE relname IN ('documents','chunks','embeddings')")
rc=0; "$RAGLOAD" --no-progress ingest "$corpus" 2> "$TMP/err2" || rc=$?
t_eq "rerun exits 0" 0 "$rc"
sleep 1
after=$(q "SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables WHERE relname IN ('documents','chunks','embeddings')")
t_eq "rerun writes zero rows to the corpus tables" "$before" "$after"
t_check "rerun summary counts 5183 unchanged" grep -q '5183 unchanged' "$TMP/err2"
