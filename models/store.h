/*
 * store.h — the model lives with the corpus: stored in ragload_models under the exact id that
 * embeddings.model_name holds, recorded as the corpus model in ragload_corpus, read back by
 * every command that embeds text (search, eval, embed, ingest, reindex) and by libragload.
 */
#ifndef RAGLOAD_STORE_H
#define RAGLOAD_STORE_H

#include "model.h"

#include <libpq-fe.h>

/* Stores m (model_save's bytes) in ragload_models. Returns 0 or RL_ERR (logged). */
int corpus_store_model(PGconn *conn, const struct model *m);
/* Loads a stored model by name. Returns 0 and *out, 1 when absent, negative on error. */
int corpus_load_model(PGconn *conn, const char *name, struct model **out);
/* The model that embeds this corpus (corpus_model_name). Returns 0 and *out, 1 when the
 * corpus has none, negative on error (logged; a recorded name missing from ragload_models is
 * an error). */
int corpus_current_model(PGconn *conn, struct model **out);
/* Makes m the corpus model: stores it, then corpus_claim (chunking "tokens/overlap", cosine
 * for an empty corpus). Refuses (negative, message logged) a model other than the one the
 * existing embeddings were made with. */
int corpus_use_model(PGconn *conn, const struct model *m, const char *chunking);

/* Reads a model file or spec (glove:FILE) with model_open. 0 and *out, or RL_ERR (logged). */
int model_read_file(const char *path, struct model **out);

#endif
