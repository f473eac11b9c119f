#!/usr/bin/env bash
# bench/txexport.sh DB DIR — a loaded corpus's rows, transaction by transaction, ready to be
# replayed by the load comparisons of bench/run.sh (psql \copy as text, bench/stages rawcopy).
#
# Writes into DIR:
#   batches         one line per transaction that wrote rows, in commit-id order: "xid rows"
#   B.T.bin, B.T.txt  batch B's rows of table T (0 documents, 1 chunks, 2 embeddings, 3 BM25
#                   postings, in the order the load sent them), as COPY TO writes them in
#                   binary and in text
#   text_load.sql   a psql script replaying every batch as text, one transaction per batch
# and prints the number of rows of documents + chunks + embeddings (the figures' row count; the
# postings, which every load writes beside them, travel along and are checked too).
#
# Why by xmin membership: the loader connections reserve ids from the sequences concurrently,
# so two transactions' document ids interleave (nextval of one session between another's).
# A transaction is therefore exactly the rows whose xmin is its id, never an id range: exporting
# `doc_id BETWEEN min AND max` exported a document twice when two ranges overlapped, and the
# replay failed on the primary key. Each table's own xmin is used, so a chunk travels with the
# transaction that wrote it, whatever its document. The export refuses to finish unless it
# holds every row of the four tables exactly once. The postings have no id: their own xmin
# selects them, in heap (ctid) order, the order the load's COPY sent them.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: bench/txexport.sh DB DIR" >&2; exit 2; }
DB=$1 DIR=$2
die() { printf 'txexport: error: %s\n' "$*" >&2; exit 1; }
sql() { psql -X -qtA -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
mkdir -p "$DIR"

COLS_DOC="doc_id, source_name, metadata, original_content, content_hash, source_input"
COLS_CHUNK="chunk_id, doc_id, chunk_text, token_count, chunk_metadata"
COLS_EMB="embedding_id, chunk_id, embedding_vector, model_name"
COLS_POST="term, chunk_id, tf, len"

# Membership tables, built once in the exporting session (temporary: nothing is written to the
# corpus); an xid as bigint orders batches as they were assigned.
members="CREATE TEMP TABLE tx_doc AS SELECT xmin::text::bigint AS x, doc_id FROM documents;
CREATE TEMP TABLE tx_chunk AS SELECT xmin::text::bigint AS x, chunk_id FROM chunks;
CREATE TEMP TABLE tx_emb AS SELECT xmin::text::bigint AS x, embedding_id FROM embeddings;
CREATE INDEX ON tx_doc (x); CREATE INDEX ON tx_chunk (x); CREATE INDEX ON tx_emb (x);
ANALYZE tx_doc; ANALYZE tx_chunk; ANALYZE tx_emb;"

psql -X -qtA -v ON_ERROR_STOP=1 -d "$DB" > "$DIR/batches" <<EOF
$members
SELECT x, count(*) FROM (SELECT x FROM tx_doc UNION ALL SELECT x FROM tx_chunk
  UNION ALL SELECT x FROM tx_emb
  UNION ALL SELECT xmin::text::bigint FROM ragload_bm25_postings) t GROUP BY x ORDER BY x;
EOF
sed -i 's/|/ /' "$DIR/batches"

{ echo '\set ON_ERROR_STOP on'; echo "$members"; } > "$DIR/export.sql"
{ echo '\set ON_ERROR_STOP on'; echo '\timing on'; } > "$DIR/text_load.sql"
b=0
while read -r x _; do
  sel=("SELECT $COLS_DOC FROM documents WHERE doc_id IN (SELECT doc_id FROM tx_doc WHERE x = $x) ORDER BY doc_id"
       "SELECT $COLS_CHUNK FROM chunks WHERE chunk_id IN (SELECT chunk_id FROM tx_chunk WHERE x = $x) ORDER BY chunk_id"
       "SELECT $COLS_EMB FROM embeddings WHERE embedding_id IN (SELECT embedding_id FROM tx_emb WHERE x = $x) ORDER BY embedding_id"
       "SELECT $COLS_POST FROM ragload_bm25_postings WHERE xmin::text::bigint = $x ORDER BY ctid")
  for i in 0 1 2 3; do
    echo "\\copy (${sel[$i]}) TO '$DIR/$b.$i.bin' (FORMAT BINARY)"
    echo "\\copy (${sel[$i]}) TO '$DIR/$b.$i.txt'"
  done >> "$DIR/export.sql"
  { echo "BEGIN;"
    echo "\\copy documents ($COLS_DOC) FROM '$DIR/$b.0.txt'"
    echo "\\copy chunks ($COLS_CHUNK) FROM '$DIR/$b.1.txt'"
    echo "\\copy embeddings ($COLS_EMB) FROM '$DIR/$b.2.txt'"
    echo "\\copy ragload_bm25_postings ($COLS_POST) FROM '$DIR/$b.3.txt'"
    echo "COMMIT;"; } >> "$DIR/text_load.sql"
  b=$((b + 1))
done < "$DIR/batches"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$DIR/export.sql" >/dev/null
rm -f "$DIR/export.sql"

# every row once: text COPY writes one line per row (newlines inside values are escaped)
rows=$(sql "SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM chunks) + (SELECT count(*) FROM embeddings)")
all=$(sql "SELECT $rows + (SELECT count(*) FROM ragload_bm25_postings)")
exported=0
[ "$b" -eq 0 ] || exported=$(cat "$DIR"/*.txt | wc -l)
[ "$exported" = "$all" ] || die "exported $exported rows of $all from $DB"
echo "$rows"
