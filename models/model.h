/*
 * model.h — the embedding models behind one interface (the floor below the stages).
 *
 * The pipeline sees one opaque struct model: model_embed() turns texts into L2-normalised
 * vectors, model_name() is the exact id stored in embeddings.model_name, model_save() /
 * model_load() write and read the versioned, checksummed model file. Queries are embedded by
 * model_embed(), the very code path the corpus went through.
 *
 * Kinds of model (DESIGN.md, Embedding model): each is one file under models/ that fills a
 * struct model_kind (below) and is listed in the kind table in models/model.c:
 *   models/contrastive.c  "ragload-hash": the built-in model, fitted on the corpus (model_fit_*)
 *   models/glove.c   "glove": SIF-weighted averages of static word vectors (glove:FILE)
 * A third kind is a new file plus one line in that table; the stages never change. The embed
 * stage (stages/embedding.h) and the query path (stages/query.h) use this interface.
 */
#ifndef RAGLOAD_MODEL_H
#define RAGLOAD_MODEL_H

#include "../lib/common.h"
#include "../lib/config.h"

struct model;
struct model_fit;

/* Fitting the built-in model: begin, add the texts of the corpus sample (one call per chunk of
 * text), end. One thread at a time per model_fit. Memory is bounded whatever the number of
 * texts added (models/contrastive.c). model_fit_end() frees fit and returns the model. */
int model_fit_begin(const struct model_opts *o, struct model_fit **out);
int model_fit_add(struct model_fit *fit, const char *text, size_t len);
/* The same with the text's document title (may be NULL): the fit pairs a title with its
 * text (models/contrastive.c). */
int model_fit_add_titled(struct model_fit *fit, const char *title, const char *text,
			 size_t len);
int model_fit_end(struct model_fit *fit, struct model **out);
void model_fit_free(struct model_fit *fit);

/*
 * model_embed — embeds n texts into out (n * model_dim() floats, row-major), each row
 * L2-normalised; a text with no features gives a fixed unit vector (e_0), so that a cosine
 * index never sees a zero vector. Texts should be NFC (normalize_utf8()), as corpus text is.
 * Thread-safe: many threads may share one model. Returns 0 or negative (out of memory).
 */
int model_embed(const struct model *m, const char *const *texts, const size_t *lens, size_t n,
		float *out);

int model_dim(const struct model *m);
const char *model_name(const struct model *m);   /* owned by m */
/* A JSON object describing the model (kind, format, dim, features...), owned by m. */
const char *model_settings_json(const struct model *m);

/* Serialisation: format magic + version, the settings JSON, the kind's payload (fitted
 * weights, projection or word vectors), checksum. Appends to out. MODEL_FILE_FORMAT is the
 * version written (and the only one read). */
#define MODEL_FILE_FORMAT 2
int model_save(const struct model *m, struct buf *out);
/* Refuses a wrong magic, unknown version or kind, bad checksum or inconsistent sizes with a
 * message in err. Returns 0 and a new model (caller frees with model_free), or negative. */
int model_load(const void *data, size_t len, struct model **out, char *err, size_t errlen);
/*
 * model_open — a model from a spec: "KIND:ARG" for a kind that opens one (glove:FILE reads a
 * GloVe text file), else the path of a model file (model_save's bytes). Returns 0 and a new
 * model, or negative with a message in err that names the file.
 */
int model_open(const char *spec, struct model **out, char *err, size_t errlen);
void model_free(struct model *m);

/* ---- for model kinds (models/ *.c) ------------------------------------------------------ */

#define MODEL_MAX_DIM 2000       /* pgvector indexes vectors up to 2,000 dimensions */
#define MODEL_NAME_MAX 128

/*
 * struct model_kind — what a kind of model implements. The functions see a struct model whose
 * common fields model.c manages; m->impl is the kind's own state (immutable once built, so
 * that embed may run in many threads at once).
 */
struct model_kind {
	const char *kind;          /* the header's "kind" */
	const char *spec_prefix;   /* model_open("PREFIX:ARG") goes to open_spec; NULL: none */
	int (*open_spec)(const char *arg, struct model **out, char *err, size_t errlen);
	/* Builds m->impl, m->dim, m->name (prefix only) from the header JSON (already checked to
	 * be an object whose "kind" is this kind) and the payload. Must validate every size. */
	int (*load)(struct model *m, const char *header, size_t header_len, const unsigned char *p,
		    size_t n, char *err, size_t errlen);
	int (*save_payload)(const struct model *m, struct buf *out);
	int (*embed)(const struct model *m, const char *const *texts, const size_t *lens,
		     size_t n, float *out);
	void (*release)(void *impl);
};

struct model {
	const struct model_kind *kind;
	int dim;
	char *settings;              /* the header JSON, deterministic: the kind writes it */
	char name[MODEL_NAME_MAX];   /* "<prefix>-<12 hex digits of the file checksum>" */
	void *impl;
};

/* A new, empty model of kind k (NULL when out of memory). */
struct model *model_new(const struct model_kind *k);
/* Completes a model a kind built in memory (not loaded): m->settings and the name prefix
 * are set; appends the checksum of its saved bytes to the name. Returns 0 or negative. */
int model_finish(struct model *m);

/* malloc for big model arrays (free with free()): at least 2 MB are backed by huge pages
 * where the kernel allows, because faulting in a model's 16 MB page by page costs more than
 * reading it (60 ms against 2 ms here), and every `ragload search` loads one. */
void *embed_alloc_big(size_t n);

/* L2-normalises n rows of dim floats; a zero (or non-finite) row becomes e_0. */
void embed_rows_normalise(float *out, size_t n, int dim);

/*
 * embed_words — splits text into words, as every kind sees them: runs of letters, marks and
 * numbers of the NFKC-casefolded text (ASCII takes a table, other text utf8proc, with the
 * same result as normalising the whole text first). Words over EMBED_WORD_MAX bytes are cut
 * into pieces. fn gets each word (not NUL-terminated), its length in bytes and in code points
 * (equal for ASCII). For n-gram padding without a copy, w[-1] is '<' and the 16 bytes from
 * w[nbytes] are scratch fn may overwrite. Invalid UTF-8 separates words. Returns 0 or
 * RL_ENOMEM.
 */
#define EMBED_WORD_MAX 128
struct embed_words;   /* scratch: one per thread */
typedef void (*embed_word_fn)(void *ctx, unsigned char *w, int nbytes, int ncp);
struct embed_words *embed_words_new(void);
void embed_words_free(struct embed_words *ew);
int embed_words(struct embed_words *ew, const char *text, size_t len, embed_word_fn fn,
		void *ctx);

/* Little-endian payload helpers; get_* read from p, which the caller bounds-checked. */
int embed_put_u32(struct buf *b, uint32_t v);
int embed_put_f32s(struct buf *b, const float *v, size_t n);
uint32_t embed_get_u32(const unsigned char *p);
void embed_get_f32s(float *v, const unsigned char *p, size_t n);
int embed_all_finite(const float *v, size_t n);
/* printf into err (when err and errlen) and return RL_ERR. */
int embed_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
