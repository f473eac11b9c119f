/*
 * embed.h — the built-in embedding model and the embed stage.
 *
 * The model (DESIGN.md, Embedding model): hashed features of the casefolded NFKC text (word
 * unigrams and bigrams, character n-grams within words) weighted by statistics fitted on the
 * corpus, projected to dim dimensions with cblas_sgemm, L2-normalised. A fitted model is a
 * versioned byte string (model_save/model_load) with a checksum; model_name() is the exact
 * id stored in embeddings.model_name. Queries are embedded by model_embed(), the very code
 * path the corpus went through.
 */
#ifndef RAGLOAD_EMBED_H
#define RAGLOAD_EMBED_H

#include "../pipeline/common.h"
#include "../pipeline/config.h"

struct model;
struct model_fit;

/* Fitting: begin, add the texts of the corpus sample (one call per chunk of text), end.
 * One thread at a time per model_fit. model_fit_end() frees fit and returns the model. */
int model_fit_begin(const struct model_opts *o, struct model_fit **out);
int model_fit_add(struct model_fit *fit, const char *text, size_t len);
int model_fit_end(struct model_fit *fit, struct model **out);
void model_fit_free(struct model_fit *fit);

/*
 * model_embed — embeds n texts into out (n * model_dim() floats, row-major), each row
 * L2-normalised; a text with no features gives a fixed unit vector, so that a cosine index
 * never sees a zero vector. Thread-safe: many threads may share one model.
 * Returns 0 or negative (out of memory).
 */
int model_embed(const struct model *m, const char *const *texts, const size_t *lens, size_t n,
		float *out);

int model_dim(const struct model *m);
const char *model_name(const struct model *m);   /* owned by m */
/* A JSON object describing the model (kind, version, dim, features...), owned by m. */
const char *model_settings_json(const struct model *m);

/* Serialisation: format magic + version, settings, fitted weights, projection, checksum. */
int model_save(const struct model *m, struct buf *out);
/* Refuses a wrong magic, unknown version, bad checksum or inconsistent sizes with a message in
 * err. Returns 0 and a new model (caller frees with model_free), or negative. */
int model_load(const void *data, size_t len, struct model **out, char *err, size_t errlen);
void model_free(struct model *m);

/* The embed stage: fills docs[i]->vectors (n_chunks * dim, owned by the doc) for every chunk
 * of every doc in one or a few cblas_sgemm calls. Returns 0 or negative. Thread-safe. */
int embed_docs(const struct model *m, struct doc **docs, size_t n);

/* Sets OpenBLAS's thread count (0 = leave as is). */
void embed_set_blas_threads(int n);

#endif
