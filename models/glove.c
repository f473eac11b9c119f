/*
 * glove.c — "glove": static word vectors (GloVe text format), a text embedded as the
 * smooth-inverse-frequency (SIF) weighted average of its words' vectors, L2-normalised.
 *
 * What: `--model glove:FILE` reads FILE, one "word v1 v2 ... vd" per line, every line the same
 * d (<= 2000). A text's words are the words every kind sees (embed_words(): NFKC-casefolded
 * runs of letters, marks and numbers), each occurrence of a known word adds
 * a / (a + p(w)) * v(w) (Arora, Liang & Ma 2017, without the common-component removal, which
 * needs a fit on the corpus), and the sum is L2-normalised. Words not in the file are skipped;
 * a text with none gives e_0, as in every kind.
 *
 * Word frequencies p(w): from GloVe's rank order, not from the corpus. GloVe files list words
 * by descending corpus frequency, and word frequencies follow Zipf's law, so the word of rank
 * r (from 1) gets p = 1 / (r * H_n), H_n the n-th harmonic number over the file's n words. The
 * model then needs no fit and a query embeds identically whatever corpus it is searched in.
 * With a = 1e-3 (the SIF paper's range is 1e-4..1e-3) "the" weighs ~0.01 and a word of rank
 * 5,000 ~0.98.
 *
 * Why store the vectors in the model: the corpus must be searchable with exactly its model
 * after the file is gone (eval, search, embed), so model_save() writes the words, vectors and
 * weights into ragload_models like any other model, and model_load() gives the same bits.
 *
 * Limits: MAX_WORDS words, MAX_LINE bytes a line, words of at most EMBED_WORD_MAX bytes, and
 * at most MAX_FLOATS vector elements (the model must fit in a 1 GB bytea).
 *
 * Payload (model file format 2): u32 n_words, u32 dim, u32 bytes of the word list, the words
 * each NUL-terminated in rank order, float32 vectors[n_words][dim], float32 weights[n_words].
 */
#include "model.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define KIND "glove"
#define SPEC_PREFIX "glove"
#define MAX_WORDS 4000000u
#define MAX_LINE 65536
#define MAX_FLOATS (240u * 1000 * 1000)   /* 960 MB of vectors */
#define SIF_A 1e-3

extern const struct model_kind model_kind_glove;

struct glove {
	int dim;
	uint32_t n;                  /* words */
	char *words;                 /* n NUL-terminated words, rank order */
	size_t words_len;
	uint32_t *off;               /* [n] offset of each word in words */
	float *vec;                  /* [n][dim] */
	float *weight;               /* [n] SIF weight */
	uint32_t *slot;              /* open addressing: word index + 1, 0 = empty */
	uint32_t mask;
};

static void glove_release(void *impl)
{
	struct glove *g = impl;
	if (!g)
		return;
	free(g->words);
	free(g->off);
	free(g->vec);
	free(g->weight);
	free(g->slot);
	free(g);
}

static uint64_t word_hash(const void *w, size_t n)
{
	return XXH3_64bits(w, n);
}

/* Index of word w, or -1. */
static long glove_find(const struct glove *g, const void *w, size_t n)
{
	uint32_t j = (uint32_t)word_hash(w, n) & g->mask;
	for (;;) {
		uint32_t s = g->slot[j];
		if (!s)
			return -1;
		const char *x = g->words + g->off[s - 1];
		if (strlen(x) == n && memcmp(x, w, n) == 0)
			return (long)s - 1;
		j = (j + 1) & g->mask;
	}
}

/* Builds the lookup table over words 0..n-1; a repeated word keeps its first (most
 * frequent) rank. Returns 0 or RL_ENOMEM. */
static int glove_index(struct glove *g)
{
	uint32_t size = 16;
	while (size < 2 * (uint64_t)g->n)
		size *= 2;
	g->slot = calloc(size, sizeof(*g->slot));
	if (!g->slot)
		return RL_ENOMEM;
	g->mask = size - 1;
	for (uint32_t i = 0; i < g->n; i++) {
		const char *w = g->words + g->off[i];
		size_t len = strlen(w);
		uint32_t j = (uint32_t)word_hash(w, len) & g->mask;
		int dup = 0;
		while (g->slot[j]) {
			const char *x = g->words + g->off[g->slot[j] - 1];
			if (strcmp(x, w) == 0) {
				dup = 1;
				break;
			}
			j = (j + 1) & g->mask;
		}
		if (!dup)
			g->slot[j] = i + 1;
	}
	return 0;
}

/* SIF weights from the rank order (the file comment). */
static void glove_weights(struct glove *g)
{
	double hn = 0;
	for (uint32_t r = 1; r <= g->n; r++)
		hn += 1.0 / r;
	for (uint32_t i = 0; i < g->n; i++) {
		double p = 1.0 / ((double)(i + 1) * hn);
		g->weight[i] = (float)(SIF_A / (SIF_A + p));
	}
}

static int settings_build(struct model *m, const char *source)
{
	const struct glove *g = m->impl;
	struct buf b;
	buf_init(&b, 8192);
	int rc = buf_printf(&b, "{\"kind\":\"" KIND "\",\"format\":2,\"dim\":%d,\"words\":%" PRIu32
			    ",\"weighting\":\"sif\",\"sif_a\":0.001,\"frequencies\":\"zipf-rank\","
			    "\"words_from\":\"ragload-words\",\"source\":",
			    g->dim, g->n);
	if (!rc)
		rc = buf_json_str(&b, source, strlen(source));
	if (!rc)
		rc = buf_putc(&b, '}');
	if (rc) {
		buf_release(&b);
		return rc;
	}
	free(m->settings);
	m->settings = buf_detach(&b, NULL);
	snprintf(m->name, sizeof(m->name), KIND "-d%d", g->dim);
	return 0;
}

/* ---- reading a GloVe text file ------------------------------------------------------------ */

struct reader {
	struct glove *g;
	size_t cap_words, cap_bytes, cap_vec;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return RL_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Parses one line into the model. Returns 0, or RL_ERR with the reason in err. */
static int read_line(struct reader *r, char *line, size_t len, const char *path,
		     uint64_t lineno, char *err, size_t errlen)
{
	struct glove *g = r->g;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (len == 0)
		return 0;
	char *sp = memchr(line, ' ', len);
	if (!sp || sp == line)
		return embed_fail(err, errlen, "%s:%" PRIu64 ": expected \"word v1 v2 ...\"", path,
				  lineno);
	size_t wlen = (size_t)(sp - line);
	if (wlen > EMBED_WORD_MAX || memchr(line, '\0', wlen))
		return embed_fail(err, errlen, "%s:%" PRIu64 ": word longer than %d bytes", path,
				  lineno, EMBED_WORD_MAX);
	if (g->n >= MAX_WORDS)
		return embed_fail(err, errlen, "%s: more than %u words", path, MAX_WORDS);
	/* the vector, into the next row */
	int d = 0;
	char *p = sp;
	size_t row = (size_t)g->n * (size_t)(g->dim ? g->dim : MODEL_MAX_DIM);
	if (grow((void **)&g->vec, &r->cap_vec, row + MODEL_MAX_DIM, sizeof(float)))
		return embed_fail(err, errlen, "%s: out of memory", path);
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (d >= MODEL_MAX_DIM)
			return embed_fail(err, errlen, "%s:%" PRIu64 ": more than %d numbers", path,
					  lineno, MODEL_MAX_DIM);
		char *end;
		errno = 0;
		float v = strtof(p, &end);
		if (end == p || (*end && *end != ' ' && *end != '\t') || !isfinite(v))
			return embed_fail(err, errlen, "%s:%" PRIu64 ": element %d is not a finite "
					  "number", path, lineno, d + 1);
		g->vec[row + (size_t)d++] = v;
		p = end;
	}
	if (g->dim == 0) {
		if (d < 1)
			return embed_fail(err, errlen, "%s:%" PRIu64 ": no vector", path, lineno);
		g->dim = d;
	} else if (d != g->dim) {
		return embed_fail(err, errlen, "%s:%" PRIu64 ": %d numbers, the first line had %d",
				  path, lineno, d, g->dim);
	}
	if ((uint64_t)(g->n + 1) * (uint64_t)g->dim > MAX_FLOATS)
		return embed_fail(err, errlen, "%s: more than %u vector elements: too big to store "
				  "as a model", path, MAX_FLOATS);
	if (grow((void **)&g->off, &r->cap_words, (size_t)g->n + 1, sizeof(*g->off)) ||
	    grow((void **)&g->words, &r->cap_bytes, g->words_len + wlen + 1, 1))
		return embed_fail(err, errlen, "%s: out of memory", path);
	g->off[g->n] = (uint32_t)g->words_len;
	memcpy(g->words + g->words_len, line, wlen);
	g->words[g->words_len + wlen] = '\0';
	g->words_len += wlen + 1;
	g->n++;
	return 0;
}

static int glove_open(const char *path, struct model **out, char *err, size_t errlen)
{
	struct reader r = {0};
	struct model *m = NULL;
	char *line = NULL;
	FILE *f = NULL;
	int rc = RL_ERR;

	*out = NULL;
	r.g = calloc(1, sizeof(*r.g));
	line = malloc(MAX_LINE + 2);
	if (!r.g || !line) {
		embed_fail(err, errlen, "out of memory");
		goto out;
	}
	f = fopen(path, "r");
	if (!f) {
		embed_fail(err, errlen, "%s: cannot open GloVe file: %s", path, strerror(errno));
		goto out;
	}
	uint64_t lineno = 0;
	while (fgets(line, MAX_LINE + 2, f)) {
		size_t len = strlen(line);
		lineno++;
		if (len > MAX_LINE) {
			embed_fail(err, errlen, "%s:%" PRIu64 ": line longer than %d bytes", path,
				   lineno, MAX_LINE);
			goto out;
		}
		if (read_line(&r, line, len, path, lineno, err, errlen))
			goto out;
	}
	if (ferror(f)) {
		embed_fail(err, errlen, "%s: read error", path);
		goto out;
	}
	if (r.g->n == 0) {
		embed_fail(err, errlen, "%s: no word vectors (expected GloVe text format)", path);
		goto out;
	}
	r.g->weight = malloc((size_t)r.g->n * sizeof(float));
	if (!r.g->weight || glove_index(r.g)) {
		embed_fail(err, errlen, "%s: out of memory", path);
		goto out;
	}
	glove_weights(r.g);
	m = model_new(&model_kind_glove);
	if (!m) {
		embed_fail(err, errlen, "out of memory");
		goto out;
	}
	m->impl = r.g;
	m->dim = r.g->dim;
	r.g = NULL;
	const char *base = strrchr(path, '/');
	if (settings_build(m, base ? base + 1 : path) || model_finish(m)) {
		embed_fail(err, errlen, "out of memory");
		goto out;
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	if (f)
		fclose(f);
	free(line);
	glove_release(r.g);
	model_free(m);
	return rc;
}

/* ---- embedding --------------------------------------------------------------------------- */

struct acc {
	const struct glove *g;
	float *v;
	int hits;
};

static void glove_word(void *ctx, unsigned char *w, int n, int ncp)
{
	struct acc *a = ctx;
	const struct glove *g = a->g;
	(void)ncp;
	long i = glove_find(g, w, (size_t)n);
	if (i < 0)
		return;
	const float *x = g->vec + (size_t)i * (size_t)g->dim;
	float wt = g->weight[i];
	for (int j = 0; j < g->dim; j++)
		a->v[j] += wt * x[j];
	a->hits++;
}

static int glove_embed(const struct model *m, const char *const *texts, const size_t *lens,
		       size_t n, float *out)
{
	const struct glove *g = m->impl;
	struct embed_words *ew = embed_words_new();
	int rc = RL_ENOMEM;
	if (!ew)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct acc a = {g, out + i * (size_t)g->dim, 0};
		memset(a.v, 0, (size_t)g->dim * sizeof(float));
		if ((rc = embed_words(ew, texts[i], lens[i], glove_word, &a)))
			goto out;
	}
	embed_rows_normalise(out, n, g->dim);
	rc = 0;
out:
	embed_words_free(ew);
	return rc;
}

/* ---- saving and loading ------------------------------------------------------------------ */

static int glove_save(const struct model *m, struct buf *out)
{
	const struct glove *g = m->impl;
	int rc = embed_put_u32(out, g->n);
	if (!rc)
		rc = embed_put_u32(out, (uint32_t)g->dim);
	if (!rc)
		rc = embed_put_u32(out, (uint32_t)g->words_len);
	if (!rc)
		rc = buf_append(out, g->words, g->words_len);
	if (!rc)
		rc = embed_put_f32s(out, g->vec, (size_t)g->n * (size_t)g->dim);
	if (!rc)
		rc = embed_put_f32s(out, g->weight, g->n);
	return rc;
}

static int glove_load(struct model *m, const char *header, size_t hlen, const unsigned char *p,
		      size_t n, char *err, size_t errlen)
{
	struct glove *g = NULL;
	json_t *o = json_loadb(header, hlen, 0, NULL);
	int rc = RL_ERR;

	json_t *jd = json_object_get(o, "dim"), *jw = json_object_get(o, "words");
	if (!json_is_integer(jd) || !json_is_integer(jw)) {
		embed_fail(err, errlen, "bad model header: no \"dim\" or \"words\"");
		goto out;
	}
	if (n < 12) {
		embed_fail(err, errlen, "model payload is truncated");
		goto out;
	}
	uint32_t nw = embed_get_u32(p), dim = embed_get_u32(p + 4), wb = embed_get_u32(p + 8);
	if (dim < 1 || dim > MODEL_MAX_DIM || nw < 1 || nw > MAX_WORDS ||
	    (uint64_t)nw * dim > MAX_FLOATS || json_integer_value(jd) != (json_int_t)dim ||
	    json_integer_value(jw) != (json_int_t)nw) {
		embed_fail(err, errlen, "bad model: %" PRIu32 " words of dimension %" PRIu32
			   " (header and payload must agree, dim <= 2000)", nw, dim);
		goto out;
	}
	uint64_t want = 12 + (uint64_t)wb + 4ull * nw * dim + 4ull * nw;
	if (want != n || wb == 0 || p[12 + wb - 1] != '\0') {
		embed_fail(err, errlen, "model sizes disagree with its header (payload %zu bytes)",
			   n);
		goto out;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		goto oom;
	g->dim = (int)dim;
	g->n = nw;
	g->words_len = wb;
	g->words = malloc(wb);
	g->off = malloc((size_t)nw * sizeof(*g->off));
	g->vec = malloc((size_t)nw * dim * sizeof(float));
	g->weight = malloc((size_t)nw * sizeof(float));
	if (!g->words || !g->off || !g->vec || !g->weight)
		goto oom;
	memcpy(g->words, p + 12, wb);
	/* exactly nw words, each non-empty and at most EMBED_WORD_MAX bytes */
	uint32_t k = 0;
	for (size_t at = 0; at < wb; k++) {
		size_t len = strlen(g->words + at);
		if (k >= nw || len == 0 || len > EMBED_WORD_MAX) {
			embed_fail(err, errlen, "bad model: malformed word list");
			goto out;
		}
		g->off[k] = (uint32_t)at;
		at += len + 1;
	}
	if (k != nw) {
		embed_fail(err, errlen, "bad model: %" PRIu32 " words listed, header says %" PRIu32,
			   k, nw);
		goto out;
	}
	embed_get_f32s(g->vec, p + 12 + wb, (size_t)nw * dim);
	embed_get_f32s(g->weight, p + 12 + wb + 4 * (size_t)nw * dim, nw);
	if (!embed_all_finite(g->vec, (size_t)nw * dim) || !embed_all_finite(g->weight, nw)) {
		embed_fail(err, errlen, "model weights are not all finite numbers");
		goto out;
	}
	if (glove_index(g))
		goto oom;
	m->impl = g;
	m->dim = (int)dim;
	g = NULL;
	snprintf(m->name, sizeof(m->name), KIND "-d%" PRIu32, dim);
	rc = 0;
	goto out;
oom:
	embed_fail(err, errlen, "out of memory loading a model");
out:
	glove_release(g);
	json_decref(o);
	return rc;
}

const struct model_kind model_kind_glove = {
	.kind = KIND,
	.spec_prefix = SPEC_PREFIX,
	.open_spec = glove_open,
	.load = glove_load,
	.save_payload = glove_save,
	.embed = glove_embed,
	.release = glove_release,
};
