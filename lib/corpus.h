/*
 * corpus.h — the corpus's own records: ragload_corpus (key/value facts: model, distance,
 * chunking, generation) and ragload_models (stored model files as bytes), and the typing of
 * the embedding column. Knows nothing of what a model is: models/store.h turns the bytes into
 * models.
 */
#ifndef RAGLOAD_CORPUS_H
#define RAGLOAD_CORPUS_H

#include "common.h"
#include "config.h"

#include <libpq-fe.h>

/* ragload_corpus's value for key into out, or def when absent or on error (logged). */
void corpus_get(PGconn *conn, const char *key, char *out, size_t len, const char *def);
/* Records key = value; overwrite 0 keeps an existing value. Returns 0 or RL_ERR (logged). */
int corpus_set(PGconn *conn, const char *key, const char *value, int overwrite);

/* Records [search] (bm25_k1, bm25_b, hybrid_*) under the same keys, where the SQL functions
 * of migration 0004 read them: every client ranks as the configuration says. Returns 0 or
 * RL_ERR (logged). */
int corpus_store_search(PGconn *conn, const struct search_opts *s);

/* The name of the model that embeds this corpus: from its embeddings, else the one recorded
 * in ragload_corpus. Returns 0 with the name in out, 1 when the corpus has none, RL_ERR. */
int corpus_model_name(PGconn *conn, char *out, size_t len);
/* The query behind corpus_model_name (one row, one column, NULL when the corpus has none),
 * also run by the extension (extension/ragload.c) to know when the live model changed. */
#define CORPUS_MODEL_NAME_SQL \
	"SELECT coalesce((SELECT model_name FROM embeddings LIMIT 1), " \
	"(SELECT value FROM ragload_corpus WHERE key = 'model'))"

/* Stores a model file's bytes under name (nothing when that name holds them already; other
 * bytes under it, which its checksum says are damaged, are replaced with a warning).
 * Returns 0 or RL_ERR (logged). */
int corpus_store_model_bytes(PGconn *conn, const char *name, int dim, const char *settings_json,
			     const void *data, size_t len);
/* The stored bytes of model name: 0 and *res (the caller PQclears it; the bytes are
 * PQgetvalue(*res, 0, 0), PQgetlength(*res, 0, 0) long), 1 when absent, RL_ERR (logged). */
int corpus_fetch_model_bytes(PGconn *conn, const char *name, PGresult **res);
/* Whether ragload_models has a row named name, without reading its bytes: 1 yes, 0 no,
 * RL_ERR (logged). */
int corpus_has_model(PGconn *conn, const char *name);

/*
 * Claims the corpus for a model known by name and dimension: checks the existing embeddings
 * (same model, same chunking "tokens/overlap" unless chunking is NULL), types the column for
 * an empty corpus, records model, distance (for an empty corpus) and chunking. Returns 0, or
 * RL_ERR with the reason logged.
 */
int corpus_claim(PGconn *conn, const char *name, int dim, const char *distance,
		 const char *chunking);
/* Types table's embedding_vector column (table: "embeddings" or a shadow copy) as
 * vector(dim), stored inline when it fits (see corpus.c). Returns 0 or RL_ERR (logged). */
int corpus_type_vectors(PGconn *conn, const char *table, int dim);

#endif
