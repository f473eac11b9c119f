/*
 * load.h — the load stage: whole documents into PostgreSQL with binary COPY, many per
 * transaction, ids reserved from the sequences in one round trip.
 */
#ifndef RAGLOAD_LOAD_H
#define RAGLOAD_LOAD_H

#include "../lib/common.h"
#include "../lib/config.h"

#include <libpq-fe.h>

struct load_stats {
	uint64_t docs_added;
	uint64_t docs_changed;     /* replaced in place: same doc_id, new chunks */
	uint64_t chunks;
	uint64_t text_bytes;
	uint64_t transactions;
	uint64_t retries;          /* batches split in halves after a failure */
	double seconds;            /* time spent in the database */
	uint64_t reconnects;       /* connections re-established after a loss */
};

struct loader;

/*
 * load_init — a loader writing through conn (borrowed: the caller keeps and closes it).
 * model_name goes into embeddings.model_name. Returns 0 or negative.
 */
int load_init(struct loader **out, PGconn *conn, const struct load_opts *o, const char *model_name,
	      struct counts *c);
/*
 * load_add — queues d (the loader takes ownership) and commits a batch when it holds
 * o->batch_bytes or o->batch_docs. A doc with doc_id > 0 replaces that existing document
 * (same doc_id, old chunks and embeddings deleted in the same transaction).
 * A batch that fails is retried in halves so only the offending document is skipped (counted
 * as "db_rejected"). Returns 0, or negative on a fatal error (connection lost).
 */
int load_add(struct loader *l, struct doc *d);

/*
 * load_chunk_metadata — chunk i's chunk_metadata (a JSON object: ordinal, start, end, its
 * heading path, the pages or slides it lies on) into b (reset first). The one writer of
 * chunk_metadata: ingest's loader and reindex's shadow generation both use it. Returns 0 or
 * RL_ENOMEM. Pure.
 */
int load_chunk_metadata(struct buf *b, const struct doc *d, size_t i);
/* Commits what is queued. Returns 0 or negative. */
int load_flush(struct loader *l);
/*
 * A reconnect callback: replaces *conn (the loader's, already broken) with a new connection,
 * waiting and retrying as it sees fit. Returns 0, or -1 to give up (the run then fails).
 * After it succeeds, the interrupted batch is retried; documents whose commit reached the
 * server before the loss are recognised by key and content hash and not written twice.
 */
typedef int (*load_reconnect_fn)(void *ctx, PGconn **conn);
void load_set_reconnect(struct loader *l, load_reconnect_fn fn, void *ctx);
const struct load_stats *load_get_stats(const struct loader *l);
void load_free(struct loader *l);

/* ---- what a document row keeps ----------------------------------------------------------- */

/* documents.content_hash: xxh128 of the text, the metadata and sig (what else shapes the
 * rows), NUL-separated; a vector document's (no text) of its vector and sig. A document
 * loaded with the same source key and hash is unchanged. */
void load_hash_text(struct doc *d, const char *sig);
void load_hash_vectors(struct doc *d, const char *sig);
/* Keeps the document's headings in its metadata ("headings": [[offset, level, text], ...])
 * and its page or slide marks ("page_unit", "page_marks": [[offset, number], ...]), so that a
 * reindex with new chunk settings rebuilds heading paths and pages from the stored text;
 * load_read_headings() and load_read_pages() read them back into d (unparsable JSON: none).
 * Return 0 or negative. */
int load_keep_headings(struct doc *d);
int load_read_headings(struct doc *d, const char *json);
int load_read_pages(struct doc *d, const char *json, const char *unit);

/* ---- the row writers: the one producer of chunk and embedding rows (reindex uses them too) */

/* Reserves ids from the documents, chunks and embeddings sequences in one round trip (n_docs
 * may be 0). Returns 0, or RL_ERR with the server's message in err. */
int load_reserve_ids(PGconn *conn, size_t n_docs, size_t n_chunks, int64_t *doc_ids,
		     int64_t *chunk_ids, int64_t *emb_ids, char *err, size_t errlen);
/* COPYs every chunk of docs[0..n) into table ("chunks" or a shadow copy) with chunk_ids in
 * order, docs[i]'s under doc_ids[i], chunk_metadata as the load writes it (ordinal, byte
 * range, headings, pages). Returns 0, or RL_ERR with the reason in err. */
int load_copy_chunks(PGconn *conn, const char *table, struct doc *const *docs, size_t n,
		     const int64_t *doc_ids, const int64_t *chunk_ids, char *err, size_t errlen);
/* COPYs every chunk's vector into table ("embeddings" or a shadow copy): emb_ids[k] for
 * chunk_ids[k], under model_name. Returns 0, or RL_ERR with the reason in err. */
int load_copy_embeddings(PGconn *conn, const char *table, struct doc *const *docs, size_t n,
			 const int64_t *chunk_ids, const int64_t *emb_ids, const char *model_name,
			 char *err, size_t errlen);
/* COPYs every chunk's BM25 postings into table ("ragload_bm25_postings" or a shadow copy):
 * one row (term, chunk_id, tf, len) per distinct stem of the chunk's text (models/stems.h,
 * the words the model sees), len = the chunk's stems. Returns 0, or RL_ERR with the reason in
 * err. */
int load_copy_postings(PGconn *conn, const char *table, struct doc *const *docs, size_t n,
		       const int64_t *chunk_ids, char *err, size_t errlen);

/* Writes the postings of every chunk that has none (a corpus loaded before schema 4; a chunk
 * without any stem is read again and writes nothing) in one transaction, *n_chunks the
 * chunks read. Returns 0 or negative (logged). */
int load_backfill_postings(PGconn *conn, uint64_t *n_chunks);

/* The postings' two B-tree indexes in the current schema (the term index BM25 ranks by, the
 * chunk index deletes go by), as migrations 0004 and 0006 make them. A first load into an
 * empty corpus drops them (load_postings_indexes_drop) and builds them once after it
 * (load_postings_indexes_build: each one missing, built by a sort; *built how many): a B-tree
 * built from sorted rows costs a fraction of inserting as many rows one by one into pages
 * scattered over the whole index. The build also repairs a corpus whose first load was
 * killed before it. Only the table's owner may do either: for another role (ragload_loader)
 * the drop leaves them (*dropped 0) and the build warns. Both return 0 or RL_ERR (logged). */
int load_postings_indexes_drop(PGconn *conn, int *dropped);
int load_postings_indexes_build(PGconn *conn, int *built);
/* The build, warning when it had an index to make (ingest, reindex and init call it first). */
int load_postings_indexes_repair(PGconn *conn);

#endif
