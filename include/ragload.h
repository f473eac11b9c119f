/*
 * ragload.h — ragload's embedding models as a C library (build/libragload.so).
 *
 * A chatbot backend (or any program) embeds a question exactly as ragload embedded the corpus:
 * open the corpus's model (from the database, from an exported model file, or a GloVe file),
 * embed texts, compare the vectors with embeddings.embedding_vector (cosine distance, `<=>`).
 * `ragload embed` is a thin command over this API.
 *
 *   #include "ragload.h"      cc app.c -Iinclude -Lbuild -lragload
 *
 *   struct ragload_model *m;
 *   char err[512];
 *   if (ragload_model_from_db("dbname=corpus", &m, err, sizeof err)) { puts(err); return 1; }
 *   float *v = malloc(ragload_model_dim(m) * sizeof(float));
 *   const char *q = "aspirin and heart attacks";
 *   size_t len = strlen(q);
 *   ragload_embed(m, &q, &len, 1, v);
 *   char lit[65536];
 *   ragload_vector_literal(v, ragload_model_dim(m), lit, sizeof lit);
 *   // SELECT chunk_id FROM embeddings ORDER BY embedding_vector <=> $1::vector LIMIT 10
 *   ragload_model_free(m);
 *
 * Conventions: functions return 0 on success and a negative number on failure, with a
 * message in err (when err is not NULL and errlen > 0). A model is immutable once opened:
 * any number of threads may call ragload_embed() with one model at once. Strings returned
 * are owned by the model. Texts are UTF-8 (invalid bytes are replaced, as ingest does).
 */
#ifndef RAGLOAD_H
#define RAGLOAD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RAGLOAD_API_VERSION 1

struct ragload_model;

/* A model from a spec: the path of a model file (`ragload model export`, `ragload model fit
 * -o`), or "glove:FILE" for GloVe text-format word vectors. */
int ragload_model_open(const char *spec, struct ragload_model **out, char *err, size_t errlen);

/* The model a corpus is embedded with, read from its database (libpq conninfo string or URI;
 * NULL or "" = the PG* environment, as psql). */
int ragload_model_from_db(const char *conninfo, struct ragload_model **out, char *err,
			  size_t errlen);

/* A model from the bytes of a model file (ragload_models.data). */
int ragload_model_from_bytes(const void *data, size_t len, struct ragload_model **out,
			     char *err, size_t errlen);

void ragload_model_free(struct ragload_model *m);   /* accepts NULL */

/* The vector dimension; the id stored in embeddings.model_name; the settings as JSON. */
int ragload_model_dim(const struct ragload_model *m);
const char *ragload_model_name(const struct ragload_model *m);
const char *ragload_model_settings(const struct ragload_model *m);

/*
 * ragload_embed — embeds n texts (texts[i] of lens[i] bytes) into out, n * dim floats, row i
 * the L2-normalised vector of texts[i]. Each text is first normalised as ingest normalises a
 * document (invalid UTF-8 repaired, controls dropped, NFC), so a text gives the same vector
 * here, in `ragload search` and in `ragload embed`. Texts are embedded one at a time, so a
 * text's vector does not depend on the other texts of the call. Returns 0 or negative.
 */
int ragload_embed(const struct ragload_model *m, const char *const *texts, const size_t *lens,
		  size_t n, float *out);

/*
 * ragload_vector_literal — writes v as a pgvector literal "[x1,x2,...]" with every float
 * printed in the shortest form that reads back to the same bits (at most 9 significant
 * digits). Returns the length of the literal (excluding the NUL), as snprintf does: when that
 * is >= buflen the output was cut; 16 * dim + 3 bytes always suffice. Negative on bad input.
 */
int ragload_vector_literal(const float *v, int dim, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif

#endif
