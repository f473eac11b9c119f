/*
 * contrastive.c — "ragload-hash" featurizer 4, the built-in model: stemmed-word features with
 * sublinear TF-IDF, a projection (one row of dim weights per word of a fitted vocabulary)
 * initialised from the corpus's LSA and then trained contrastively on pairs of texts the
 * corpus gives for free (a title and its body, a sentence and the rest of its text), L2-
 * normalised. No relevance labels, nothing downloaded.
 *
 * What (featurizer 4): the stems of the text (models/stems.h: the words of the NFKC-
 * casefolded text, a 56-word English stop list skipped, each word Snowball-stemmed and hashed
 * to 64 bits), the very terms BM25 ranks by. A stem in the model's vocabulary has a row r: its weight in a text is
 * (1 + ln tf) * idf[r], and the text's vector is sum_r weight_r * P[r], L2-normalised; stems
 * outside the vocabulary add nothing (a text with none gives e_0). The sum touches only the
 * rows of the words a text has (a chunk: about a hundred), which costs less than a dense
 * sketch x projection product (README, "The built-in embedding model").
 *
 * Why contrastive: an SVD keeps what varies across the corpus; it never learns that a
 * sentence and the rest of its abstract are about the same thing. The fit starts from the
 * SVD's projection and moves it so that each text of a pair is nearer its partner than the
 * other texts of its batch (symmetric InfoNCE with in-batch negatives). SciFact nDCG@10,
 * train / test: featurizer 3 (LSA of hashed sketches) 0.640 / 0.635, this model 0.696 / 0.675
 * (README, "The built-in embedding model", for the table of choices).
 *
 * How the fit stays bounded: model_fit_add*() counts document frequencies into a table of
 * 2^IDF_BITS entries indexed by the stem's hash (4 MB) and keeps a uniform reservoir sample of
 * FIT_SAMPLE_TEXTS texts (each cut at FIT_SAMPLE_BYTES, with its title). model_fit_end():
 *   1. vocabulary: the stems of the sample, at most o->features of them (the most frequent);
 *      idf = ln((N+1)/(df+1)) + 1 from the whole pass;
 *   2. LSA: randomized SVD (Halko, Martinsson & Tropp) of the sample's L2-normalised TF-IDF
 *      rows, LSA_POWER power iterations; P = V_k diag(sigma^-1/2), scaled to a mean column
 *      norm of 1; columns a small sample cannot fill, and the rows of words it never has
 *      (the OOV_BUCKETS rows shared by words outside the vocabulary), are seeded Gaussian;
 *   3. pairs from the sample (at most FIT_PAIRS): (title, body) and up to PAIR_SENTENCES
 *      (sentence of over SENTENCE_MIN bytes, title + the rest of the text) per text, taken in
 *      rounds over the texts (every text's first pair, then every text's second...), the
 *      longer side cut to its PAIR_WORDS heaviest words;
 *   4. FIT_EPOCHS epochs of symmetric InfoNCE (temperature TEMPERATURE, batches of BATCH
 *      pairs), Adam (LR) on the rows each batch touches, its second moment one number per
 *      row (as embedding tables are trained: a third less memory and traffic, and as good),
 *      its first moment in bfloat16 (the training streams P's touched rows and their moments
 *      through memory every batch: this halves the moment's share; SciFact train nDCG@10
 *      0.6956 -> 0.6961, test 0.6750 -> 0.6759);
 *   5. P quantised to 8-bit codes with a scale per column; embedding reads the codes, so the
 *      fitted model is exactly the one a load gives back.
 * Every product is sparse x dense (own loops over the rows a text touches, in blocks of dim
 * columns a thread each) or dense x dense (cblas_sgemm, split by rows over the threads with
 * OpenBLAS on one thread each: its own pool would spin beside our loops on the same cores).
 * Everything is seeded and the threaded loops (par_for) sum in an order that does not depend
 * on the threads: a refit on the same texts with the same OpenBLAS build and threads gives
 * the same bytes.
 *
 * Memory of the fit: the sample (at most 64 MB of text), the pairs' sparse rows, P (rows x dim
 * floats, rows = vocabulary + OOV_BUCKETS) and Adam's first moment (as many bfloat16); the LSA's
 * panels (rows x (dim + LSA_OVERSAMPLE) and 2 x texts x (dim + LSA_OVERSAMPLE) floats) are
 * freed before training starts.
 *
 * Thread safety: the model is immutable once built; model_embed() allocates its own scratch.
 *
 * Payload (model file format 2, after the header): u64 stem hashes[vocab] (ascending, as two
 * little-endian u32), float32 idf[vocab], float32 column scales[dim], int8 codes[vocab][dim].
 *
 * Size: ~1,900 lines: the fit (sample, vocabulary, LSA, pairs, training) and the embedding
 * share the featurizer and its threaded kernels (par_for); the training loop (steps 3 and 4)
 * is where it splits next.
 */
/* The row sums (embedding, the fit's sparse products, Adam) are loops over dim floats of
 * unknown length: GCC vectorises them at -O3, not under -O2's cheap cost model (4x slower). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "model.h"
#include "stems.h"
#include "../lib/blas.h"
#include "../lib/progress.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define KIND "ragload-hash"
#define FEATURIZER 4            /* how text becomes features and weights */
#define OLD_FEATURIZER 3        /* the LSA model of earlier builds: refused, refit */
#define OOV_BUCKETS 4096       /* rows shared by the words outside the vocabulary, by hash */
#define MIN_VOCAB 16
#define MAX_VOCAB 65536
#define IDF_BITS 20             /* document frequencies of the pass, by stem hash */
#define FIT_SAMPLE_TEXTS 16384  /* the fit reads at most this many texts... */
#define FIT_SAMPLE_BYTES 4096   /* ...each cut at this many bytes: at most 64 MB of text */
#define TITLE_MAX 512           /* bytes of a sampled text's title */
#define LSA_OVERSAMPLE 16
#define LSA_POWER 0             /* power iterations: 1 is no better here, and costs 5 s */
/* pairs trained on, whatever the corpus size: 32,768 took SciFact's first ingest to 2.03-2.09x
 * the build before this model (target 2x); 24,576 gives 1.77x for 0.003 of train nDCG@10 */
#define FIT_PAIRS 24576
#define PAIR_SENTENCES 4        /* (sentence, rest) pairs per sampled text */
#define PAIR_WORDS 64           /* a pair's longer side keeps its heaviest words */
#define SENTENCE_MIN 30         /* bytes: shorter sentences make no pair */
#define FIT_EPOCHS 3
#define BATCH 512
#define TEMPERATURE 0.07
#define LR 1e-3
#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8

#define TF_TAB 256              /* 1 + ln(k) for small counts */


extern const struct model_kind model_kind_contrastive;

/* 1 + ln k for small counts k (sublinear TF). */
struct tf_tab {
	float tf[TF_TAB];
};

static void tf_tab_init(struct tf_tab *t)
{
	t->tf[0] = 0.0f;
	for (int k = 1; k < TF_TAB; k++)
		t->tf[k] = (float)(1.0 + log((double)k));
}

static float tf_weight(const struct tf_tab *t, uint32_t n)
{
	return n < TF_TAB ? t->tf[n] : 1.0f + logf((float)n);
}

/* ---- the model ------------------------------------------------------------------------- */

struct ctr {
	struct tf_tab tf;
	int dim;
	uint32_t vocab;
	uint32_t rows;               /* vocab + OOV_BUCKETS */
	uint64_t *keys;              /* [vocab] stem hashes, ascending */
	float *idf;                  /* [rows] */
	float *scale;                /* [dim] */
	int8_t *q;                   /* [rows][dim] projection codes */
	uint32_t *slot;              /* [tmask + 1] row + 1, 0 = empty: stem hash -> row */
	uint32_t tmask;
	/* described in the header */
	uint64_t seed, fit_texts, sample_texts, pairs, lsa_rank;
	int epochs;
	double loss;
	char projection[16];         /* "contrastive" or "lsa" */
};

static void ctr_release(void *impl)
{
	struct ctr *c = impl;
	if (!c)
		return;
	free(c->keys);
	free(c->idf);
	free(c->scale);
	free(c->q);
	free(c->slot);
	free(c);
}

static struct ctr *ctr_alloc(int dim, uint32_t vocab)
{
	struct ctr *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	tf_tab_init(&c->tf);
	c->dim = dim;
	c->vocab = vocab;
	c->rows = vocab + OOV_BUCKETS;
	uint32_t t = 16;
	while (t < 2 * vocab)
		t *= 2;
	c->tmask = t - 1;
	c->keys = malloc(((size_t)vocab + 1) * sizeof(*c->keys));
	c->idf = malloc((size_t)c->rows * sizeof(*c->idf));
	c->scale = malloc((size_t)dim * sizeof(*c->scale));
	c->q = embed_alloc_big((size_t)c->rows * (size_t)dim);
	c->slot = calloc(t, sizeof(*c->slot));
	if (!c->keys || !c->idf || !c->scale || !c->q || !c->slot) {
		ctr_release(c);
		return NULL;
	}
	return c;
}

/* Fills the stem -> row table from keys (distinct). */
static void ctr_index(struct ctr *c)
{
	memset(c->slot, 0, ((size_t)c->tmask + 1) * sizeof(*c->slot));
	for (uint32_t r = 0; r < c->vocab; r++) {
		uint32_t j = (uint32_t)(c->keys[r] >> 32) & c->tmask;
		while (c->slot[j])
			j = (j + 1) & c->tmask;
		c->slot[j] = r + 1;
	}
}

/* The row of a stem: its own, or the bucket that words outside the vocabulary share. */
static inline long ctr_row(const struct ctr *c, uint64_t h)
{
	uint32_t j = (uint32_t)(h >> 32) & c->tmask;
	for (;;) {
		uint32_t s = c->slot[j];
		if (!s)
			return (long)c->vocab + (long)((h >> 40) & (OOV_BUCKETS - 1));
		if (c->keys[s - 1] == h)
			return (long)s - 1;
		j = (j + 1) & c->tmask;
	}
}

/* A text's rows and their counts: cnt[vocab] is zero between texts; rows lists those set. */
struct bag {
	const struct ctr *c;
	uint32_t *cnt;
	uint32_t *rows;
	uint32_t n;
};

static int bag_init(struct bag *b, const struct ctr *c)
{
	b->c = c;
	b->n = 0;
	b->cnt = calloc((size_t)c->rows, sizeof(*b->cnt));
	b->rows = malloc((size_t)c->rows * sizeof(*b->rows));
	if (!b->cnt || !b->rows) {
		free(b->cnt);
		free(b->rows);
		return RL_ENOMEM;
	}
	return 0;
}

static void bag_release(struct bag *b)
{
	free(b->cnt);
	free(b->rows);
}

static void bag_stem(void *ctx, uint64_t h)
{
	struct bag *b = ctx;
	long r = ctr_row(b->c, h);
	if (b->cnt[r]++ == 0)
		b->rows[b->n++] = (uint32_t)r;
}

/* Clears the bag after use. */
static void bag_clear(struct bag *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		b->cnt[b->rows[i]] = 0;
	b->n = 0;
}

static int ctr_embed(const struct model *m, const char *const *texts, const size_t *lens,
		     size_t n, float *out)
{
	const struct ctr *c = m->impl;
	const int d = c->dim;
	struct stems *s = stems_new();
	struct bag b;
	int rc = 0;
	if (!s)
		return RL_ENOMEM;
	if (bag_init(&b, c)) {
		stems_free(s);
		return RL_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		float *o = out + i * (size_t)d;
		memset(o, 0, (size_t)d * sizeof(float));
		if ((rc = stems_each(s, texts[i], lens[i], bag_stem, &b)))
			break;
		for (uint32_t k = 0; k < b.n; k++) {
			uint32_t r = b.rows[k];
			if (k + 1 < b.n)
				__builtin_prefetch(c->q + (size_t)b.rows[k + 1] * (size_t)d);
			const float w = tf_weight(&c->tf, b.cnt[r]) * c->idf[r];
			const int8_t *qr = c->q + (size_t)r * (size_t)d;
			for (int j = 0; j < d; j++)
				o[j] += w * (float)qr[j];
		}
		bag_clear(&b);
		for (int j = 0; j < d; j++)
			o[j] *= c->scale[j];
	}
	if (!rc)
		embed_rows_normalise(out, n, d);
	bag_release(&b);
	stems_free(s);
	return rc;
}

static int settings_build(struct model *m)
{
	const struct ctr *c = m->impl;
	struct buf b;
	buf_init(&b, 4096);
	int rc = buf_printf(&b,
		"{\"kind\":\"" KIND "\",\"format\":2,\"featurizer\":%d,\"dim\":%d,\"vocab\":%" PRIu32
		",\"oov_buckets\":%d,\"stem\":\"english\",\"stopwords\":\"en-small\",\"weighting\":\"(1+ln tf)*idf\","
		"\"weights\":\"f32-idf,i8-projection\",\"projection\":\"%s\",\"lsa_rank\":%" PRIu64
		",\"fit_texts\":%" PRIu64 ",\"sample_texts\":%" PRIu64 ",\"pairs\":%" PRIu64
		",\"epochs\":%d,\"batch\":%d,\"temperature\":%.3f,\"learning_rate\":%g,"
		"\"loss\":%.4f,\"seed\":\"%" PRIu64 "\"}",
		FEATURIZER, c->dim, c->vocab, OOV_BUCKETS, c->projection, c->lsa_rank, c->fit_texts,
		c->sample_texts, c->pairs, c->epochs, BATCH, TEMPERATURE, LR,
		isfinite(c->loss) ? c->loss : 0.0, c->seed);
	if (rc) {
		buf_release(&b);
		return RL_ENOMEM;
	}
	free(m->settings);
	m->settings = b.data;
	snprintf(m->name, sizeof(m->name), KIND "-v%d-d%d", FEATURIZER, c->dim);
	return 0;
}

/* ---- fitting: the pass ------------------------------------------------------------------- */

struct model_fit {
	struct model_opts o;
	struct stems *s;
	uint32_t *df, *stamp, gen;   /* [2^IDF_BITS] */
	uint64_t n_texts;
	uint64_t rng;
	struct sample {
		char *text, *title;
		size_t len;
	} *sample;                   /* reservoir, [FIT_SAMPLE_TEXTS] */
	size_t n_sample;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double unit_open(uint64_t *x)
{
	return ((double)(splitmix64(x) >> 11) + 0.5) * 0x1.0p-53;
}

/* Gaussian draws, Box-Muller on splitmix64: draw pair k (elements 2k, 2k + 1) takes the
 * generator's states seed + (2k + 1) G and seed + (2k + 2) G, so parts fill apart. */
struct gauss_job {
	float *p;
	size_t n;
	double scale;
	uint64_t seed;
};

static void gauss_part(void *ctx, size_t lo, size_t hi)
{
	const struct gauss_job *g = ctx;
	uint64_t x = g->seed + 2 * (uint64_t)lo * 0x9E3779B97F4A7C15ull;
	for (size_t k = lo; k < hi; k++) {
		double r = sqrt(-2.0 * log(unit_open(&x)));
		double t = 2.0 * M_PI * unit_open(&x);
		g->p[2 * k] = (float)(r * cos(t) * g->scale);
		if (2 * k + 1 < g->n)
			g->p[2 * k + 1] = (float)(r * sin(t) * g->scale);
	}
}

static void par_for(size_t n, void (*fn)(void *, size_t, size_t), void *ctx);

static void gaussian_fill(float *p, size_t n, double scale, uint64_t seed)
{
	struct gauss_job g = {p, n, scale, seed};
	par_for((n + 1) / 2, gauss_part, &g);
}

/* +1 or -1, 64 elements from each splitmix64 draw: element i takes bit i % 64 of draw i / 64
 * (the generator's state seed + (i / 64 + 1) G), so parts fill apart */
struct sign_job {
	float *p;
	size_t n;
	uint64_t seed;
};

static void sign_part(void *ctx, size_t lo, size_t hi)
{
	const struct sign_job *g = ctx;
	for (size_t w = lo; w < hi; w++) {
		uint64_t x = g->seed + (uint64_t)w * 0x9E3779B97F4A7C15ull;
		uint64_t bits = splitmix64(&x);
		size_t end = (w + 1) * 64 < g->n ? (w + 1) * 64 : g->n;
		for (size_t i = w * 64; i < end; i++, bits >>= 1)
			g->p[i] = bits & 1 ? 1.0f : -1.0f;
	}
}

static void sign_fill(float *p, size_t n, uint64_t seed)
{
	struct sign_job g = {p, n, seed};
	par_for((n + 63) / 64, sign_part, &g);
}

/* Elements [a, b) of what gaussian_fill(p, n, scale, seed) writes (the same values, as each
 * draw pair has its own generator state), into p[a..b). */
static void gaussian_span(float *p, size_t a, size_t b, double scale, uint64_t seed)
{
	for (size_t k = a / 2; 2 * k < b; k++) {
		uint64_t x = seed + 2 * (uint64_t)k * 0x9E3779B97F4A7C15ull;
		double r = sqrt(-2.0 * log(unit_open(&x)));
		double t = 2.0 * M_PI * unit_open(&x);
		if (2 * k >= a)
			p[2 * k] = (float)(r * cos(t) * scale);
		if (2 * k + 1 >= a && 2 * k + 1 < b)
			p[2 * k + 1] = (float)(r * sin(t) * scale);
	}
}

static inline uint32_t df_index(uint64_t h)
{
	return (uint32_t)(h >> (64 - IDF_BITS));
}

void model_fit_free(struct model_fit *fit)
{
	if (!fit)
		return;
	stems_free(fit->s);
	free(fit->df);
	free(fit->stamp);
	for (size_t i = 0; fit->sample && i < fit->n_sample; i++) {
		free(fit->sample[i].text);
		free(fit->sample[i].title);
	}
	free(fit->sample);
	free(fit);
}

static const char *opts_problem(const struct model_opts *o)
{
	if (o->dim < 1 || o->dim > MODEL_MAX_DIM)
		return "dim must be 1..2000 (pgvector indexes at most 2,000 dimensions)";
	if (o->features < MIN_VOCAB || o->features > MAX_VOCAB)
		return "features (the vocabulary's size) must be in 16..65536";
	return NULL;
}

int model_fit_begin(const struct model_opts *o, struct model_fit **out)
{
	struct model_fit *fit = NULL;
	int rc = RL_ENOMEM;
	const char *why = opts_problem(o);

	*out = NULL;
	if (why) {
		log_error("model: %s", why);
		rc = RL_ERR;
		goto out;
	}
	fit = calloc(1, sizeof(*fit));
	if (!fit)
		goto out;
	fit->o = *o;
	fit->rng = o->seed ^ 0x73616d706c650001ull;
	if (!(fit->s = stems_new()))
		goto out;
	fit->df = calloc((size_t)1 << IDF_BITS, sizeof(*fit->df));
	fit->stamp = calloc((size_t)1 << IDF_BITS, sizeof(*fit->stamp));
	fit->sample = calloc(FIT_SAMPLE_TEXTS, sizeof(*fit->sample));
	if (!fit->df || !fit->stamp || !fit->sample)
		goto out;
	*out = fit;
	fit = NULL;
	rc = 0;
out:
	model_fit_free(fit);
	return rc;
}

static void df_stem(void *ctx, uint64_t h)
{
	struct model_fit *fit = ctx;
	uint32_t ix = df_index(h);
	if (fit->stamp[ix] != fit->gen) {
		fit->stamp[ix] = fit->gen;
		fit->df[ix]++;
	}
}

static char *copy_cut(const char *s, size_t n, size_t max, size_t *len)
{
	if (n > max) {
		n = max;
		/* not inside a UTF-8 sequence */
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	*len = n;
	return c;
}

/* Vitter's algorithm R over all texts added. */
static int sample_offer(struct model_fit *fit, const char *title, const char *text, size_t len)
{
	uint64_t seen = fit->n_texts;
	size_t slot;
	if (seen < FIT_SAMPLE_TEXTS) {
		slot = (size_t)seen;
	} else {
		uint64_t j = splitmix64(&fit->rng) % (seen + 1);
		if (j >= FIT_SAMPLE_TEXTS)
			return 0;
		slot = (size_t)j;
	}
	size_t n, tn = 0;
	char *copy = copy_cut(text, len, FIT_SAMPLE_BYTES, &n);
	char *tcopy = title && *title ? copy_cut(title, strlen(title), TITLE_MAX, &tn) : NULL;
	if (!copy || (title && *title && !tcopy)) {
		free(copy);
		free(tcopy);
		return RL_ENOMEM;
	}
	struct sample *s = &fit->sample[slot];
	if (slot == fit->n_sample) {
		fit->n_sample++;
	} else {
		free(s->text);
		free(s->title);
	}
	s->text = copy;
	s->title = tcopy;
	s->len = n;
	return 0;
}

int model_fit_add_titled(struct model_fit *fit, const char *title, const char *text, size_t len)
{
	if (++fit->gen == 0) {
		memset(fit->stamp, 0, ((size_t)1 << IDF_BITS) * sizeof(*fit->stamp));
		fit->gen = 1;
	}
	int rc = stems_each(fit->s, text, len, df_stem, fit);
	if (!rc)
		rc = sample_offer(fit, title, text, len);
	if (!rc)
		fit->n_texts++;
	return rc;
}

int model_fit_add(struct model_fit *fit, const char *text, size_t len)
{
	return model_fit_add_titled(fit, NULL, text, len);
}

/* ---- fitting: vocabulary ------------------------------------------------------------------ */

/* A growable set of stem hashes (open addressing, 0 = empty). */
struct hset {
	uint64_t *k;
	size_t mask, n;
	int failed;
};

static int hset_init(struct hset *s, size_t cap)
{
	s->mask = cap - 1;
	s->n = 0;
	s->failed = 0;
	s->k = calloc(cap, sizeof(*s->k));
	return s->k ? 0 : RL_ENOMEM;
}

static void hset_add(void *ctx, uint64_t h)
{
	struct hset *s = ctx;
	if (s->failed)
		return;
	if ((s->n + 1) * 2 > s->mask + 1) {
		size_t cap = (s->mask + 1) * 2;
		uint64_t *k = calloc(cap, sizeof(*k));
		if (!k) {
			s->failed = 1;
			return;
		}
		for (size_t i = 0; i <= s->mask; i++) {
			if (!s->k[i])
				continue;
			size_t j = (size_t)(s->k[i] >> 32) & (cap - 1);
			while (k[j])
				j = (j + 1) & (cap - 1);
			k[j] = s->k[i];
		}
		free(s->k);
		s->k = k;
		s->mask = cap - 1;
	}
	size_t j = (size_t)(h >> 32) & s->mask;
	while (s->k[j]) {
		if (s->k[j] == h)
			return;
		j = (j + 1) & s->mask;
	}
	s->k[j] = h;
	s->n++;
}

/* By pass document frequency, descending, then hash: a total order, so the vocabulary is the
 * same whatever qsort does with ties. */
static int by_df(const void *a, const void *b, void *df)
{
	const uint32_t *sort_df = df;
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	uint32_t dx = sort_df[df_index(x)], dy = sort_df[df_index(y)];
	if (dx != dy)
		return dx > dy ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The vocabulary: the sample's stems (titles included), the most frequent o->features. */
static int fit_vocab(struct model_fit *fit, struct ctr **out)
{
	struct hset set;
	int rc = hset_init(&set, 1 << 16);
	if (rc)
		return rc;
	for (size_t i = 0; i < fit->n_sample && !rc; i++) {
		struct sample *s = &fit->sample[i];
		rc = stems_each(fit->s, s->text, s->len, hset_add, &set);
		if (!rc && s->title)
			rc = stems_each(fit->s, s->title, strlen(s->title), hset_add, &set);
		if (!rc && set.failed)
			rc = RL_ENOMEM;
	}
	uint64_t *keys = NULL;
	if (!rc && !(keys = malloc((set.n + 1) * sizeof(*keys))))
		rc = RL_ENOMEM;
	if (rc) {
		free(set.k);
		return rc;
	}
	size_t n = 0;
	for (size_t i = 0; i <= set.mask; i++)
		if (set.k[i])
			keys[n++] = set.k[i];
	free(set.k);
	if (n > (size_t)fit->o.features) {
		qsort_r(keys, n, sizeof(*keys), by_df, fit->df);
		n = (size_t)fit->o.features;
	}
	qsort(keys, n, sizeof(*keys), by_value);
	struct ctr *c = ctr_alloc(fit->o.dim, (uint32_t)n);
	if (!c) {
		free(keys);
		return RL_ENOMEM;
	}
	memcpy(c->keys, keys, n * sizeof(*keys));
	free(keys);
	double n1 = (double)fit->n_texts + 1.0;
	for (size_t r = 0; r < n; r++)
		c->idf[r] = (float)(log(n1 / ((double)fit->df[df_index(c->keys[r])] + 1.0)) + 1.0);
	/* a word outside the vocabulary is rare: the idf of a word seen nowhere */
	for (size_t r = n; r < c->rows; r++)
		c->idf[r] = (float)(log(n1) + 1.0);
	ctr_index(c);
	*out = c;
	return 0;
}

/* ---- fitting: sparse rows ------------------------------------------------------------------ */

/* Rows of (column, weight), L2-normalised TF-IDF. */
struct csr {
	size_t n, cap, nnz, nnz_cap;
	size_t *ptr;                 /* [n + 1] */
	uint32_t *col;
	float *val;
};

static void csr_release(struct csr *m)
{
	free(m->ptr);
	free(m->col);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

/* Appends the bag as a row (and clears it). */
static int csr_push(struct csr *m, struct bag *b)
{
	if (m->n + 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		size_t *p = realloc(m->ptr, cap * sizeof(*p));
		if (!p)
			return RL_ENOMEM;
		m->ptr = p;
		m->cap = cap;
	}
	if (m->nnz + b->n > m->nnz_cap) {
		size_t cap = m->nnz_cap ? m->nnz_cap : 65536;
		while (cap < m->nnz + b->n)
			cap *= 2;
		uint32_t *c = realloc(m->col, cap * sizeof(*c));
		if (!c)
			return RL_ENOMEM;
		m->col = c;
		float *v = realloc(m->val, cap * sizeof(*v));
		if (!v)
			return RL_ENOMEM;
		m->val = v;
		m->nnz_cap = cap;
	}
	if (m->n == 0)
		m->ptr[0] = 0;
	const struct ctr *c = b->c;
	double ss = 0.0;
	size_t at = m->nnz;
	for (uint32_t i = 0; i < b->n; i++) {
		uint32_t r = b->rows[i];
		float w = tf_weight(&c->tf, b->cnt[r]) * c->idf[r];
		m->col[at + i] = r;
		m->val[at + i] = w;
		ss += (double)w * w;
	}
	float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
	for (uint32_t i = 0; i < b->n; i++)
		m->val[at + i] *= inv;
	m->nnz += b->n;
	m->ptr[++m->n] = m->nnz;
	bag_clear(b);
	return 0;
}

/*
 * par_for — fn(ctx, lo, hi) over contiguous parts of [0, n) on up to PAR_MAX threads (the
 * cores), the first part on the caller's. Every use below writes disjoint outputs whose
 * values do not depend on the split, so the fit's bytes do not depend on the thread count
 * (only OpenBLAS's sgemm may).
 */
#define PAR_MAX 8
#define PAR_MIN 64                /* items per thread worth a thread */
typedef void (*par_fn)(void *ctx, size_t lo, size_t hi);
struct par_part {
	par_fn fn;
	void *ctx;
	size_t lo, hi;
};

static void *par_run(void *arg)
{
	struct par_part *p = arg;
	p->fn(p->ctx, p->lo, p->hi);
	return NULL;
}

static int par_threads(void)
{
	long c = sysconf(_SC_NPROCESSORS_ONLN);
	return c < 1 ? 1 : c > PAR_MAX ? PAR_MAX : (int)c;
}

/* par_for with parts of at least min items */
static void par_for_min(size_t n, size_t min, par_fn fn, void *ctx)
{
	int t = par_threads();
	if ((size_t)t > n / min)
		t = (int)(n / min);
	if (t <= 1) {
		fn(ctx, 0, n);
		return;
	}
	struct par_part part[PAR_MAX];
	pthread_t th[PAR_MAX];
	int started[PAR_MAX] = {0};
	for (int i = 0; i < t; i++)
		part[i] = (struct par_part){fn, ctx, n * (size_t)i / (size_t)t,
					    n * (size_t)(i + 1) / (size_t)t};
	for (int i = 1; i < t; i++)
		started[i] = pthread_create(&th[i], NULL, par_run, &part[i]) == 0;
	fn(ctx, part[0].lo, part[0].hi);
	for (int i = 1; i < t; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			fn(ctx, part[i].lo, part[i].hi);   /* no thread: do its part here */
	}
}

static void par_for(size_t n, void (*fn)(void *, size_t, size_t), void *ctx)
{
	par_for_min(n, PAR_MIN, fn, ctx);
}

struct gather_job {
	const struct csr *x;
	const uint32_t *rows;
	const float *d;
	int k;
	float *y;
};

static void gather_part(void *ctx, size_t lo, size_t hi)
{
	const struct gather_job *g = ctx;
	const struct csr *x = g->x;
	const int k = g->k;
	for (size_t i = lo; i < hi; i++) {
		size_t r = g->rows ? g->rows[i] : i;
		float *yr = g->y + i * (size_t)k;
		memset(yr, 0, (size_t)k * sizeof(float));
		for (size_t e = x->ptr[r]; e < x->ptr[r + 1]; e++) {
			const float v = x->val[e];
			const float *dr = g->d + (size_t)x->col[e] * (size_t)k;
			for (int j = 0; j < k; j++)
				yr[j] += v * dr[j];
		}
	}
}

/* y (n x k) = X[rows] * d (V x k), row i of y for row rows[i] (or i when rows is NULL). */
static void csr_gather(const struct csr *x, const uint32_t *rows, size_t n, const float *d, int k,
		       float *y)
{
	struct gather_job g = {x, rows, d, k, y};
	par_for(n, gather_part, &g);
}


/* The transpose of x (V rows), for X^T products as gathers. */
static int csr_transpose(const struct csr *x, uint32_t ncols, struct csr *t)
{
	memset(t, 0, sizeof(*t));
	t->n = ncols;
	t->nnz = x->nnz;
	t->ptr = calloc((size_t)ncols + 1, sizeof(*t->ptr));
	t->col = malloc((x->nnz + 1) * sizeof(*t->col));
	t->val = malloc((x->nnz + 1) * sizeof(*t->val));
	if (!t->ptr || !t->col || !t->val) {
		csr_release(t);
		return RL_ENOMEM;
	}
	for (size_t e = 0; e < x->nnz; e++)
		t->ptr[x->col[e] + 1]++;
	for (uint32_t c = 0; c < ncols; c++)
		t->ptr[c + 1] += t->ptr[c];
	size_t *at = malloc(((size_t)ncols + 1) * sizeof(*at));
	if (!at) {
		csr_release(t);
		return RL_ENOMEM;
	}
	memcpy(at, t->ptr, ((size_t)ncols + 1) * sizeof(*at));
	for (size_t r = 0; r < x->n; r++)
		for (size_t e = x->ptr[r]; e < x->ptr[r + 1]; e++) {
			size_t o = at[x->col[e]]++;
			t->col[o] = (uint32_t)r;
			t->val[o] = x->val[e];
		}
	free(at);
	return 0;
}

/* ---- fitting: LSA ---------------------------------------------------------------------------- */

static int orthonormalise(float *a, int n, int k)
{
	float *tau = malloc((size_t)k * sizeof(float));
	int rc = RL_ENOMEM;
	if (!tau)
		goto out;
	rc = RL_ERR;
	if (LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, n, k, a, k, tau) != 0 ||
	    LAPACKE_sorgqr(LAPACK_ROW_MAJOR, n, k, k, a, k, tau) != 0)
		goto out;
	rc = 0;
out:
	free(tau);
	return rc;
}

/*
 * P (V x dim) from the randomized SVD of the sample's rows x: Q spans X's range (n x k), the
 * k x k problem Q^T X X^T Q = U diag(ev) U^T, right singular vectors X^T Q U / sigma; column
 * j of P is v_j sigma_j^-1/2, then every column is scaled so that their mean norm is 1.
 * Columns beyond the sample's rank are seeded Gaussian of norm ~1.
 */
/* P's Gaussian start: scale and seed (its draws are kept only where the LSA leaves them) */
#define P_SCALE(V) (1.0 / sqrt((double)(V)))
#define P_SEED 0x70726f6a65637431ull

/* the draws the LSA keeps in P: the rows the sample never fills whole, the others from
 * column rank on */
struct p_draws {
	float *p;
	const struct csr *xt;
	int d, rank;
	double scale;
	uint64_t seed;
};

static void p_draws_part(void *ctx, size_t lo, size_t hi)
{
	const struct p_draws *w = ctx;
	const size_t d = (size_t)w->d;
	for (size_t i = lo; i < hi; i++) {
		int empty = w->xt->ptr[i + 1] == w->xt->ptr[i];
		size_t from = empty ? 0 : (size_t)w->rank;
		if (from < d)
			gaussian_span(w->p, i * d + from, i * d + d, w->scale, w->seed);
	}
}

static int fit_lsa(const struct csr *x, struct ctr *c, uint64_t seed, float *p)
{
	const size_t V = c->rows, n = x->n;
	const int d = c->dim;
	size_t kk = (size_t)d + LSA_OVERSAMPLE;
	if (kk > n)
		kk = n;
	if (kk > V)
		kk = V;
	const int k = (int)kk;
	struct csr xt = {0};
	float *y = NULL, *z = NULL, *w = NULL, *g = NULL, *ev = NULL, *u = NULL;
	int rc = RL_ENOMEM, rank = 0;
	const int blas_threads = openblas_get_num_threads();

	/* OpenBLAS's pool runs the QR, eigen and sgemm calls; between them it is stopped (it
	 * would spin beside the par_for loops on the same cores) */
	blas_set_threads(1);
	if (k < 1) {
		gaussian_fill(p, V * (size_t)d, P_SCALE(V), seed ^ P_SEED);
		goto done;
	}
	if (csr_transpose(x, (uint32_t)V, &xt))
		goto out;
	z = malloc(V * (size_t)k * sizeof(float));
	y = malloc(n * (size_t)k * sizeof(float));
	w = malloc(n * (size_t)k * sizeof(float));
	g = malloc((size_t)k * (size_t)k * sizeof(float));
	ev = malloc((size_t)k * sizeof(float));
	u = malloc((size_t)k * (size_t)d * sizeof(float));
	if (!z || !y || !w || !g || !ev || !u)
		goto out;
	/* the random start Omega (V x k): random signs, which find the range as Gaussian
	 * draws do (the same nDCG on SciFact, README) at a twentieth of their cost; it lives in
	 * z until z is needed */
	sign_fill(z, V * (size_t)k, seed ^ 0x7376647374617274ull);
	progress_update(1, "ragload: fitting the model: LSA of %zu texts, %zu words", n, V);
	csr_gather(x, NULL, n, z, k, y);
	blas_set_threads(blas_threads);
	if ((rc = orthonormalise(y, (int)n, k)))
		goto out;
	for (int it = 0; it < LSA_POWER; it++) {
		blas_set_threads(1);
		csr_gather(&xt, NULL, V, y, k, z);
		csr_gather(x, NULL, n, z, k, y);
		blas_set_threads(blas_threads);
		if ((rc = orthonormalise(y, (int)n, k)))
			goto out;
	}
	/* z = X^T Q (V x k), w = X z = X X^T Q (n x k), g = Q^T w */
	blas_set_threads(1);
	csr_gather(&xt, NULL, V, y, k, z);
	csr_gather(x, NULL, n, z, k, w);
	blas_set_threads(blas_threads);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, (int)n, 1.0f, y, k, w, k, 0.0f,
		    g, k);
	rc = RL_ERR;
	if (LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'U', k, g, k, ev) != 0)
		goto out;
	/* eigenvalues ascending: direction j is eigenvector k-1-j; only those clearly above 0 */
	double top = ev[k - 1] > 0 ? ev[k - 1] : 0;
	rank = 0;
	for (int j = 0; j < d && j < k; j++) {
		double e = ev[k - 1 - j];
		if (!(e > top * 1e-6) || !(e > 0))
			break;
		rank++;
	}
	/* u (k x d): column j = eigenvector * sigma^-1 * sigma^-1/2 (so z u = V_k sigma^-1/2) */
	memset(u, 0, (size_t)k * (size_t)d * sizeof(float));
	for (int j = 0; j < rank; j++) {
		double sg = sqrt((double)ev[k - 1 - j]);
		float f = (float)pow(sg, -1.5);
		for (int i = 0; i < k; i++)
			u[(size_t)i * d + j] = g[(size_t)i * k + (k - 1 - j)] * f;
	}
	if (rank > 0) {
		/* rows the sample never fills (the buckets of unseen words) get a Gaussian draw,
		 * scaled to the RMS norm of the others; the other rows get V_k sigma^-1/2 in their
		 * first rank columns, the Gaussian in the rest (the draws of a Gaussian fill of the
		 * whole of P, made only where they are kept) */
		size_t n_empty = 0;
		for (size_t i = 0; i < V; i++)
			n_empty += xt.ptr[i + 1] == xt.ptr[i];
		/* P's first rank columns = X^T (Q u): an n x k x rank sgemm and a sparse product,
		 * cheaper than z u (V x k x rank) as the sample has fewer texts than words */
		float *qu = malloc(n * (size_t)rank * sizeof(float));
		float *pr = rank == d ? p : malloc(V * (size_t)rank * sizeof(float));
		if (!qu || !pr) {
			free(qu);
			if (pr != p)
				free(pr);
			rc = RL_ENOMEM;
			goto out;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, rank, k, 1.0f, y, k,
			    u, d, 0.0f, qu, rank);
		blas_set_threads(1);
		csr_gather(&xt, NULL, V, qu, rank, pr);
		free(qu);
		if (pr != p) {
			for (size_t i = 0; i < V; i++)
				memcpy(p + i * d, pr + i * (size_t)rank, (size_t)rank * sizeof(float));
			free(pr);
		}
		/* columns < rank: mean norm 1 (empty rows are 0 there until drawn) */
		double sum = 0;
		for (int j = 0; j < rank; j++) {
			double ss = 0;
			for (size_t i = 0; i < V; i++)
				ss += (double)p[i * d + j] * p[i * d + j];
			sum += sqrt(ss);
		}
		float f = sum > 0 ? (float)(rank / sum) : 1.0f;
		struct p_draws pd = {p, &xt, d, rank, P_SCALE(V), seed ^ P_SEED};
		par_for(V, p_draws_part, &pd);
		double ss_full = 0, ss_empty = 0;
		for (size_t i = 0; i < V; i++) {
			float *pr = p + i * d;
			int empty = xt.ptr[i + 1] == xt.ptr[i];
			if (!empty)
				for (int j = 0; j < rank; j++)
					pr[j] *= f;
			double ss = 0;
			for (int j = 0; j < d; j++)
				ss += (double)pr[j] * pr[j];
			*(empty ? &ss_empty : &ss_full) += ss;
		}
		if (n_empty < V && n_empty > 0 && ss_empty > 0) {
			float gs = (float)sqrt((ss_full / (double)(V - n_empty)) /
					       (ss_empty / (double)n_empty));
			for (size_t i = 0; i < V; i++)
				if (xt.ptr[i + 1] == xt.ptr[i])
					for (int j = 0; j < d; j++)
						p[i * d + j] *= gs;
		}
	} else {
		gaussian_fill(p, V * (size_t)d, P_SCALE(V), seed ^ P_SEED);
	}
done:
	c->lsa_rank = (uint64_t)rank;
	rc = embed_all_finite(p, V * (size_t)d) ? 0 : RL_ERR;
out:
	blas_set_threads(blas_threads);
	csr_release(&xt);
	free(y);
	free(z);
	free(w);
	free(g);
	free(ev);
	free(u);
	return rc;
}

/* ---- fitting: pairs ------------------------------------------------------------------------ */

struct pairs {
	struct csr a, b;             /* row i of a and row i of b are a pair */
};

/* The body of a sampled text: its text after the title when it starts with it. */
static size_t body_start(const struct sample *s)
{
	if (!s->title)
		return 0;
	size_t tn = strlen(s->title);
	if (tn > s->len || memcmp(s->text, s->title, tn) != 0)
		return 0;
	size_t i = tn;
	while (i < s->len && (s->text[i] == ' ' || s->text[i] == '\n' || s->text[i] == '\t' ||
			      s->text[i] == '\r'))
		i++;
	return i;
}

#define MAX_SENT 256

/* Sentences of t[0..n): ends after . ! or ? followed by white space. */
static int sentences(const char *t, size_t n, size_t (*sp)[2])
{
	int ns = 0;
	size_t start = 0;
	while (start < n && ns < MAX_SENT) {
		while (start < n && (t[start] == ' ' || t[start] == '\n' || t[start] == '\t' ||
				     t[start] == '\r'))
			start++;
		if (start >= n)
			break;
		size_t e = start;
		while (e < n && !((t[e] == '.' || t[e] == '!' || t[e] == '?') && e + 1 < n &&
				  (t[e + 1] == ' ' || t[e + 1] == '\n' || t[e + 1] == '\t' ||
				   t[e + 1] == '\r')))
			e++;
		e = e < n ? e + 1 : n;
		sp[ns][0] = start;
		sp[ns][1] = e;
		ns++;
		start = e;
	}
	return ns;
}

static int bag_text(struct stems *s, struct bag *b, const char *t, size_t n)
{
	return n ? stems_each(s, t, n, bag_stem, b) : 0;
}

/* Adds the pair (a, b) unless either side has no word in the vocabulary. */
static int pair_push(struct pairs *pp, struct bag *ba, struct bag *bb)
{
	int rc = 0;
	if (bb->n > PAIR_WORDS) {
		/* the longer side (title + the rest of a text) keeps its PAIR_WORDS heaviest words:
		 * as good on SciFact train (0.6950 -> 0.6943 at 3 epochs) and the batches touch
		 * fewer rows of P. Selection by weight, ties by row. */
		const struct ctr *c = bb->c;
		for (uint32_t i = 0; i < PAIR_WORDS; i++) {
			uint32_t best = i;
			float bw = tf_weight(&c->tf, bb->cnt[bb->rows[i]]) * c->idf[bb->rows[i]];
			for (uint32_t j = i + 1; j < bb->n; j++) {
				float w = tf_weight(&c->tf, bb->cnt[bb->rows[j]]) * c->idf[bb->rows[j]];
				if (w > bw || (w == bw && bb->rows[j] < bb->rows[best])) {
					bw = w;
					best = j;
				}
			}
			uint32_t t = bb->rows[i];
			bb->rows[i] = bb->rows[best];
			bb->rows[best] = t;
		}
		for (uint32_t j = PAIR_WORDS; j < bb->n; j++)
			bb->cnt[bb->rows[j]] = 0;
		bb->n = PAIR_WORDS;
	}
	if (ba->n && bb->n) {
		rc = csr_push(&pp->a, ba);
		if (!rc)
			rc = csr_push(&pp->b, bb);
	}
	bag_clear(ba);
	bag_clear(bb);
	return rc;
}

static int fit_pairs(struct model_fit *fit, const struct ctr *c, struct pairs *pp)
{
	struct bag ba, bb;
	size_t *order = malloc((fit->n_sample + 1) * sizeof(*order));
	size_t (*sp)[2] = malloc(MAX_SENT * sizeof(*sp));
	int *cand = malloc(MAX_SENT * sizeof(*cand));
	int rc = RL_ENOMEM;
	uint64_t rng = fit->o.seed ^ 0x7061697273000001ull;
	memset(pp, 0, sizeof(*pp));
	if (!order || !sp || !cand || bag_init(&ba, c)) {
		free(order);
		free(sp);
		free(cand);
		return RL_ENOMEM;
	}
	if (bag_init(&bb, c)) {
		bag_release(&ba);
		goto out;
	}
	/* texts in a seeded random order, so that the cap takes a uniform subset */
	for (size_t i = 0; i < fit->n_sample; i++)
		order[i] = i;
	for (size_t i = fit->n_sample; i > 1; i--) {
		size_t j = (size_t)(splitmix64(&rng) % i);
		size_t t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	/* In rounds, each over the texts in that order: round 0 takes every text's (title, body)
	 * pair, round r its r-th sentence pair (its sentences in an order seeded by the text), so
	 * that every text has its share before any has more when the cap cuts in. Taking each
	 * text's pairs at once instead left the texts past the cap with none (SciFact: a fifth of
	 * them): which fifth moved dense nDCG@10 by 0.017 on train between seeds, and the rounds
	 * gave train 0.6808 -> 0.6866 and test 0.6734 -> 0.6869 (the means of three seeds). */
	rc = 0;
	for (int r = 0; r <= PAIR_SENTENCES && pp->a.n < FIT_PAIRS && !rc; r++) {
		for (size_t oi = 0; oi < fit->n_sample && pp->a.n < FIT_PAIRS && !rc; oi++) {
			const struct sample *s = &fit->sample[order[oi]];
			size_t b0 = body_start(s);
			const char *body = s->text + b0;
			size_t bn = s->len - b0;
			const char *title = s->title ? s->title : "";
			size_t tn = strlen(title);
			if (r == 0) {
				if (tn && bn && !(rc = bag_text(fit->s, &ba, title, tn)) &&
				    !(rc = bag_text(fit->s, &bb, body, bn)))
					rc = pair_push(pp, &ba, &bb);
				continue;
			}
			int ns = sentences(body, bn, sp), nc = 0;
			if (ns < 2)
				continue;
			for (int i = 0; i < ns; i++)
				if (sp[i][1] - sp[i][0] > SENTENCE_MIN)
					cand[nc++] = i;
			if (nc < r)
				continue;
			/* the first r of the text's sentences drawn without replacement */
			uint64_t trng = rng ^ ((uint64_t)order[oi] * 0x9E3779B97F4A7C15ull);
			for (int i = 0; i < r; i++) {
				int j = i + (int)(splitmix64(&trng) % (uint64_t)(nc - i));
				int t = cand[i];
				cand[i] = cand[j];
				cand[j] = t;
			}
			size_t s0 = sp[cand[r - 1]][0], s1 = sp[cand[r - 1]][1];
			if (!(rc = bag_text(fit->s, &ba, body + s0, s1 - s0)) &&
			    !(rc = bag_text(fit->s, &bb, title, tn)) &&
			    !(rc = bag_text(fit->s, &bb, body, s0)) &&
			    !(rc = bag_text(fit->s, &bb, body + s1, bn - s1)))
				rc = pair_push(pp, &ba, &bb);
		}
	}
	bag_release(&bb);
	bag_release(&ba);
out:
	free(order);
	free(sp);
	free(cand);
	return rc;
}

/* ---- fitting: training --------------------------------------------------------------------- */

/*
 * The batch as columns: the rows of P it touches (in order of first touch), and for each the
 * (pair, side, weight) entries that use it. P's rows are far more than the caches hold, so
 * both the forward product and the gradient go column by column: each touched row of P (and
 * its Adam moments) is read once per batch instead of once per text that has the word.
 *
 * Both go in blocks of DBLK of the dim columns, a block on one thread: a block of the batch's
 * 2 x BATCH embeddings (or their gradients) is 256 KB, held in the core's L2 cache while every
 * touched row's slice of that block is added into it (whole rows, 3 MB, spilled to L3 on each
 * of the ~40,000 entries of a batch). The threads do not split the entries, so none scans
 * another's, and no element's sum depends on the thread count.
 *
 * Adam's step on P is applied late: a step computes a row's first moment and the row's
 * factor f = lr c1 / (sqrt(v c2) + eps), and P's row takes its -= f m1 when the next batch
 * that has the word reads it (or at the end), the same arithmetic as at once, but one pass
 * over the row instead of two.
 */
#define DBLK 64

struct trainer {
	size_t V;
	int d, nblk;                 /* nblk: dim blocks of DBLK */
	float *p;                    /* [V][d]: projection */
	uint16_t *m1;                /* [V][d]: Adam's first moment, bfloat16 */
	float *m2;                   /* [V]: Adam's second moment, one per row */
	float *due;                  /* [V]: the row's Adam factor not yet applied to P, 0 none */
	int32_t *slot;               /* [V]: row -> its column in the batch, -1 none */
	uint32_t *touched;           /* [V]: the batch's rows of P, by column */
	size_t n_touched;
	size_t *cptr;                /* [V + 1]: entries of column c at cptr[c]..cptr[c+1] */
	uint32_t *erow;              /* entry: the pair (batch row) << 1 | side (0 a, 1 b) */
	float *eval;                 /* entry: the weight */
	float *gsq;                  /* [n_touched][nblk]: a row's squared gradient by block */
	size_t e_cap;
	uint64_t step;
	float *blk;                  /* [nblk][2 * BATCH][DBLK]: a block of ea and eb, by pair */
};

static int batch_columns(struct trainer *t, const struct pairs *pp, const uint32_t *ix, size_t n)
{
	size_t ne = 0;
	t->n_touched = 0;
	for (int side = 0; side < 2; side++) {
		const struct csr *x = side ? &pp->b : &pp->a;
		for (size_t i = 0; i < n; i++)
			for (size_t e = x->ptr[ix[i]]; e < x->ptr[ix[i] + 1]; e++) {
				uint32_t r = x->col[e];
				if (t->slot[r] < 0) {
					t->slot[r] = (int32_t)t->n_touched;
					t->cptr[t->n_touched + 1] = 0;
					t->touched[t->n_touched++] = r;
				}
				t->cptr[t->slot[r] + 1]++;
				ne++;
			}
	}
	if (ne > t->e_cap) {
		uint32_t *er = realloc(t->erow, ne * sizeof(*er));
		if (!er)
			return RL_ENOMEM;
		t->erow = er;
		float *ev = realloc(t->eval, ne * sizeof(*ev));
		if (!ev)
			return RL_ENOMEM;
		t->eval = ev;
		t->e_cap = ne;
	}
	t->cptr[0] = 0;
	for (size_t c = 0; c < t->n_touched; c++)
		t->cptr[c + 1] += t->cptr[c];
	/* fill: a column's entries in (side, pair) order; cptr[c] walks to cptr[c + 1] and is
	 * restored after */
	for (int side = 0; side < 2; side++) {
		const struct csr *x = side ? &pp->b : &pp->a;
		for (size_t i = 0; i < n; i++)
			for (size_t e = x->ptr[ix[i]]; e < x->ptr[ix[i] + 1]; e++) {
				size_t at = t->cptr[t->slot[x->col[e]]]++;
				t->erow[at] = (uint32_t)i << 1 | (uint32_t)side;
				t->eval[at] = x->val[e];
			}
	}
	for (size_t c = t->n_touched; c > 0; c--)
		t->cptr[c] = t->cptr[c - 1];
	t->cptr[0] = 0;
	return 0;
}

/* The rows a block reads are far apart in P: their cache lines are asked for this many
 * columns ahead. */
#define PREFETCH 16

static inline void prefetch_block(const float *a, int w)
{
	for (int j = 0; j < w; j += 16)
		__builtin_prefetch(a + j, 1);
}

static inline void prefetch_block16(const uint16_t *a, int w)
{
	for (int j = 0; j < w; j += 32)
		__builtin_prefetch(a + j, 1);
}

/* bfloat16: a float's top half, rounded to nearest even (the moment needs its range, not
 * its digits). */
static inline float bf16_get(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static inline uint16_t bf16_put(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	u += 0x7FFFu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

struct fwd_job {
	struct trainer *t;
	size_t n;
	float *ea, *eb;              /* [n][d] */
};

/* Blocks [lo, hi) of ea and eb = X P, each row of P brought up to date first. */
static void fwd_part(void *ctx, size_t lo, size_t hi)
{
	const struct fwd_job *f = ctx;
	const struct trainer *t = f->t;
	const size_t d = (size_t)t->d, n = f->n;
	for (size_t b = lo; b < hi; b++) {
		const int j0 = (int)b * DBLK, w = t->d - j0 < DBLK ? t->d - j0 : DBLK;
		float *o = t->blk + b * 2 * BATCH * DBLK;
		memset(o, 0, 2 * BATCH * DBLK * sizeof(float));
		for (size_t c = 0; c < t->n_touched; c++) {
			const uint32_t r = t->touched[c];
			if (c + PREFETCH < t->n_touched) {
				const uint32_t rn = t->touched[c + PREFETCH];
				prefetch_block(t->p + rn * d + j0, w);
				if (t->due[rn] != 0.0f)
					prefetch_block16(t->m1 + rn * d + j0, w);
			}
			float *pr = t->p + r * d + j0;
			const float fa = t->due[r];
			if (fa != 0.0f) {
				const uint16_t *mr = t->m1 + r * d + j0;
				for (int j = 0; j < w; j++)
					pr[j] -= fa * bf16_get(mr[j]);
			}
			for (size_t e = t->cptr[c]; e < t->cptr[c + 1]; e++) {
				float *ov = o + ((size_t)(t->erow[e] & 1) * BATCH + (t->erow[e] >> 1)) * DBLK;
				const float v = t->eval[e];
				for (int j = 0; j < w; j++)
					ov[j] += v * pr[j];
			}
		}
		for (size_t i = 0; i < n; i++) {
			memcpy(f->ea + i * d + j0, o + i * DBLK, (size_t)w * sizeof(float));
			memcpy(f->eb + i * d + j0, o + (BATCH + i) * DBLK, (size_t)w * sizeof(float));
		}
	}
}

struct step_job {
	struct trainer *t;
	size_t n;
	const float *da, *db;
};

/* Blocks [lo, hi): each touched row's gradient in the block (from the pairs that use it, in
 * the batch's order), its first moment there, and the block's share of its squared norm. */
static void step_part(void *ctx, size_t lo, size_t hi)
{
	const struct step_job *sj = ctx;
	struct trainer *t = sj->t;
	const size_t d = (size_t)t->d, n = sj->n;
	const float b1 = (float)ADAM_B1;
	float g[DBLK];
	for (size_t b = lo; b < hi; b++) {
		const int j0 = (int)b * DBLK, w = t->d - j0 < DBLK ? t->d - j0 : DBLK;
		float *gb = t->blk + b * 2 * BATCH * DBLK;
		for (size_t i = 0; i < n; i++) {
			memcpy(gb + i * DBLK, sj->da + i * d + j0, (size_t)w * sizeof(float));
			memcpy(gb + (BATCH + i) * DBLK, sj->db + i * d + j0, (size_t)w * sizeof(float));
		}
		for (size_t c = 0; c < t->n_touched; c++) {
			if (c + PREFETCH < t->n_touched)
				prefetch_block16(t->m1 + (size_t)t->touched[c + PREFETCH] * d + j0, w);
			memset(g, 0, sizeof(g));
			for (size_t e = t->cptr[c]; e < t->cptr[c + 1]; e++) {
				const float *gr = gb + ((size_t)(t->erow[e] & 1) * BATCH +
							(t->erow[e] >> 1)) * DBLK;
				const float v = t->eval[e];
				for (int j = 0; j < w; j++)
					g[j] += v * gr[j];
			}
			uint16_t *m = t->m1 + (size_t)t->touched[c] * d + j0;
			float gg = 0;
			for (int j = 0; j < w; j++)
				gg += g[j] * g[j];
			for (int j = 0; j < w; j++)
				m[j] = bf16_put(b1 * bf16_get(m[j]) + (1.0f - b1) * g[j]);
			t->gsq[c * (size_t)t->nblk + b] = gg;
		}
	}
}

/* One optimiser step from the batch's embedding gradients da, db (n x d). Rows the batch
 * does not touch have no gradient and keep their moments. */
static void train_step(struct trainer *t, size_t n, const float *da, const float *db)
{
	t->step++;
	const float b2 = (float)ADAM_B2, lr = (float)LR;
	const float c1 = (float)(1.0 / (1.0 - pow(ADAM_B1, (double)t->step)));
	const float c2 = (float)(1.0 / (1.0 - pow(ADAM_B2, (double)t->step)));
	struct step_job sj = {t, n, da, db};
	par_for_min((size_t)t->nblk, 1, step_part, &sj);
	for (size_t c = 0; c < t->n_touched; c++) {
		uint32_t r = t->touched[c];
		float gg = 0;
		for (int b = 0; b < t->nblk; b++)
			gg += t->gsq[c * (size_t)t->nblk + b];
		float *vr = t->m2 + r;
		*vr = b2 * *vr + (1.0f - b2) * gg / (float)t->d;
		t->due[r] = lr * c1 / (sqrtf(*vr * c2) + (float)ADAM_EPS);
		t->slot[r] = -1;
	}
	t->n_touched = 0;
}

/* P's rows brought up to date at the end. */
static void train_flush(struct trainer *t)
{
	const size_t d = (size_t)t->d;
	for (size_t r = 0; r < t->V; r++) {
		const float fa = t->due[r];
		if (fa == 0.0f)
			continue;
		float *pr = t->p + r * d;
		const uint16_t *mr = t->m1 + r * d;
		for (size_t j = 0; j < d; j++)
			pr[j] -= fa * bf16_get(mr[j]);
		t->due[r] = 0.0f;
	}
}

/* Normalises the rows of e (n x d) in place, their norms into nrm. */
static void rows_unit(float *e, size_t n, int d, float *nrm)
{
	for (size_t i = 0; i < n; i++) {
		float *r = e + i * (size_t)d;
		double ss = 0;
		for (int j = 0; j < d; j++)
			ss += (double)r[j] * r[j];
		double l = sqrt(ss);
		nrm[i] = l > 1e-12 ? (float)l : 1e-12f;
		float inv = 1.0f / nrm[i];
		for (int j = 0; j < d; j++)
			r[j] *= inv;
	}
}

/* de (n x d) := (de - e (e . de)) / nrm: through the normalisation. */
static void unit_backward(const float *e, float *de, size_t n, int d, const float *nrm)
{
	for (size_t i = 0; i < n; i++) {
		const float *er = e + i * (size_t)d;
		float *dr = de + i * (size_t)d;
		double dot = 0;
		for (int j = 0; j < d; j++)
			dot += (double)er[j] * dr[j];
		float f = (float)dot, inv = 1.0f / nrm[i];
		for (int j = 0; j < d; j++)
			dr[j] = (dr[j] - er[j] * f) * inv;
	}
}

/*
 * A batch's dense part, its steps split by rows (or columns) over the threads, each with
 * OpenBLAS on one thread (the caller sets it): the embeddings made unit, S = ea eb^T / T,
 * the softmax of S's rows (p1) and columns (p2) with each row's and column's loss, dS =
 * (p1 + p2 - 2 I) / (2 n T) in s, then da = dS eb and db = dS^T ea through the normalisation.
 */
struct dense_job {
	size_t n;
	int d;
	float *ea, *eb, *da, *db, *s, *p1, *p2, *na, *nb;
	double *lrow, *lcol;
	int phase;
};

static void dense_part(void *ctx, size_t lo, size_t hi)
{
	const struct dense_job *j = ctx;
	const size_t n = j->n;
	const int d = j->d;
	const int m = (int)(hi - lo);
	switch (j->phase) {
	case 0:
		rows_unit(j->ea + lo * d, hi - lo, d, j->na + lo);
		rows_unit(j->eb + lo * d, hi - lo, d, j->nb + lo);
		break;
	case 1:
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, (int)n, d,
			    (float)(1.0 / TEMPERATURE), j->ea + lo * d, d, j->eb, d, 0.0f,
			    j->s + lo * n, (int)n);
		break;
	case 2:
		/* rows lo..hi of p1; columns lo..hi of p2 */
		for (size_t i = lo; i < hi; i++) {
			const float *r = j->s + i * n;
			float *o = j->p1 + i * n;
			float mx = r[0];
			for (size_t k = 1; k < n; k++)
				mx = r[k] > mx ? r[k] : mx;
			double z = 0;
			for (size_t k = 0; k < n; k++) {
				o[k] = expf(r[k] - mx);
				z += o[k];
			}
			float inv = (float)(1.0 / z);
			for (size_t k = 0; k < n; k++)
				o[k] *= inv;
			j->lrow[i] = (r[i] - mx) - log(z);
		}
		for (size_t c = lo; c < hi; c++) {
			float mx = j->s[c];
			for (size_t i = 1; i < n; i++)
				mx = j->s[i * n + c] > mx ? j->s[i * n + c] : mx;
			double z = 0;
			for (size_t i = 0; i < n; i++) {
				j->p2[i * n + c] = expf(j->s[i * n + c] - mx);
				z += j->p2[i * n + c];
			}
			float inv = (float)(1.0 / z);
			for (size_t i = 0; i < n; i++)
				j->p2[i * n + c] *= inv;
			j->lcol[c] = (j->s[c * n + c] - mx) - log(z);
		}
		break;
	case 3: {
		const float f = (float)(1.0 / (2.0 * (double)n * TEMPERATURE));
		for (size_t i = lo; i < hi; i++)
			for (size_t k = 0; k < n; k++)
				j->s[i * n + k] = (j->p1[i * n + k] + j->p2[i * n + k] -
						   (i == k ? 2.0f : 0.0f)) * f;
		break;
	}
	case 4:
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, (int)n, 1.0f,
			    j->s + lo * n, (int)n, j->eb, d, 0.0f, j->da + lo * d, d);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, d, (int)n, 1.0f,
			    j->s + lo, (int)n, j->ea, d, 0.0f, j->db + lo * d, d);
		unit_backward(j->ea + lo * d, j->da + lo * d, hi - lo, d, j->na + lo);
		unit_backward(j->eb + lo * d, j->db + lo * d, hi - lo, d, j->nb + lo);
		break;
	}
}

/* The loss of a batch whose embeddings are in j->ea, j->eb; leaves their gradients in j->da,
 * j->db. */
static double dense_batch(struct dense_job *j)
{
	for (j->phase = 0; j->phase <= 4; j->phase++)
		par_for_min(j->n, 32, dense_part, j);
	double loss = 0;
	for (size_t i = 0; i < j->n; i++)
		loss -= j->lrow[i];
	for (size_t i = 0; i < j->n; i++)
		loss -= j->lcol[i];
	return loss / (2.0 * (double)j->n);
}

static int fit_train(const struct pairs *pp, struct ctr *c, uint64_t seed, float *p, double *loss_out)
{
	const size_t np = pp->a.n, V = c->rows;
	const int d = c->dim;
	struct trainer t = {.V = V, .d = d, .nblk = (d + DBLK - 1) / DBLK, .p = p};
	uint32_t *perm = malloc((np + 1) * sizeof(*perm));
	struct dense_job dj = {.d = d};
	uint16_t *m1 = embed_alloc_big(V * (size_t)d * sizeof(uint16_t));
	uint64_t rng = seed ^ 0x747261696e000001ull;
	int rc = RL_ENOMEM;
	double t0 = now_seconds(), loss = 0;
	const size_t nbatch = (np + BATCH - 1) / BATCH;
	const int blas_threads = openblas_get_num_threads();

	dj.ea = malloc((size_t)BATCH * d * sizeof(float));
	dj.eb = malloc((size_t)BATCH * d * sizeof(float));
	dj.da = malloc((size_t)BATCH * d * sizeof(float));
	dj.db = malloc((size_t)BATCH * d * sizeof(float));
	dj.s = malloc((size_t)BATCH * BATCH * sizeof(float));
	dj.p1 = malloc((size_t)BATCH * BATCH * sizeof(float));
	dj.p2 = malloc((size_t)BATCH * BATCH * sizeof(float));
	dj.na = malloc((size_t)BATCH * sizeof(float));
	dj.nb = malloc((size_t)BATCH * sizeof(float));
	dj.lrow = malloc((size_t)BATCH * sizeof(double));
	dj.lcol = malloc((size_t)BATCH * sizeof(double));
	t.m1 = m1;
	t.m2 = calloc(V, sizeof(float));
	t.due = calloc(V, sizeof(float));
	t.slot = malloc(V * sizeof(*t.slot));
	t.touched = malloc(V * sizeof(*t.touched));
	t.cptr = malloc((V + 1) * sizeof(*t.cptr));
	t.gsq = malloc(V * (size_t)t.nblk * sizeof(float));
	t.blk = malloc((size_t)t.nblk * 2 * BATCH * DBLK * sizeof(float));
	if (!perm || !dj.ea || !dj.eb || !dj.da || !dj.db || !dj.s || !dj.p1 || !dj.p2 || !dj.na ||
	    !dj.nb || !dj.lrow || !dj.lcol || !m1 || !t.m2 || !t.due || !t.slot || !t.touched ||
	    !t.cptr || !t.gsq || !t.blk)
		goto out;
	memset(m1, 0, V * (size_t)d * sizeof(uint16_t));
	/* the threads below each run OpenBLAS on one thread: its own pool would spin beside them */
	blas_set_threads(1);
	rc = 0;
	for (size_t i = 0; i < V; i++)
		t.slot[i] = -1;
	for (size_t i = 0; i < np; i++)
		perm[i] = (uint32_t)i;
	for (int ep = 0; ep < FIT_EPOCHS; ep++) {
		for (size_t i = np; i > 1; i--) {
			size_t j = (size_t)(splitmix64(&rng) % i);
			uint32_t x = perm[i - 1];
			perm[i - 1] = perm[j];
			perm[j] = x;
		}
		double eloss = 0;
		size_t eb_n = 0;
		for (size_t b0 = 0; b0 < np; b0 += BATCH) {
			size_t n = np - b0 < BATCH ? np - b0 : BATCH;
			if (n < 2)
				continue;   /* one pair has no negative to learn from */
			if ((rc = batch_columns(&t, pp, perm + b0, n)))
				goto out;
			struct fwd_job fj = {&t, n, dj.ea, dj.eb};
			par_for_min((size_t)t.nblk, 1, fwd_part, &fj);
			for (size_t i = 0; i < t.n_touched; i++)
				t.due[t.touched[i]] = 0.0f;
			dj.n = n;
			eloss += dense_batch(&dj);
			eb_n++;
			train_step(&t, n, dj.da, dj.db);
			if (progress_wanted()) {
				double done = (double)(ep * nbatch + b0 / BATCH + 1);
				double el = now_seconds() - t0;
				char eta[32];
				progress_update(0, "ragload: fitting the model: %zu pairs, epoch %d of %d, "
						"loss %.3f, ETA %s", np, ep + 1, FIT_EPOCHS,
						eloss / (double)eb_n,
						progress_duration(el / done * ((double)(FIT_EPOCHS * nbatch) - done),
								  eta, sizeof(eta)));
			}
		}
		loss = eb_n ? eloss / (double)eb_n : 0;
	}
	train_flush(&t);
	*loss_out = loss;
	rc = embed_all_finite(p, V * (size_t)d) ? 0 : RL_ERR;
out:
	blas_set_threads(blas_threads);
	free(perm);
	free(dj.ea);
	free(dj.eb);
	free(dj.da);
	free(dj.db);
	free(dj.s);
	free(dj.p1);
	free(dj.p2);
	free(dj.na);
	free(dj.nb);
	free(dj.lrow);
	free(dj.lcol);
	free(m1);
	free(t.m2);
	free(t.due);
	free(t.slot);
	free(t.touched);
	free(t.cptr);
	free(t.erow);
	free(t.eval);
	free(t.gsq);
	free(t.blk);
	return rc;
}

/* ---- fitting: the end ---------------------------------------------------------------------- */

static void quantise(struct ctr *c, const float *p)
{
	const size_t V = c->rows;
	const int d = c->dim;
	for (int j = 0; j < d; j++)
		c->scale[j] = 0.0f;
	for (size_t i = 0; i < V; i++)
		for (int j = 0; j < d; j++)
			c->scale[j] = fmaxf(c->scale[j], fabsf(p[i * d + j]));
	for (int j = 0; j < d; j++)
		c->scale[j] = c->scale[j] > 0.0f ? c->scale[j] / 127.0f : 1.0f;
	for (size_t i = 0; i < V; i++)
		for (int j = 0; j < d; j++) {
			long q = lrintf(p[i * d + j] / c->scale[j]);
			c->q[i * d + j] = (int8_t)(q < -127 ? -127 : q > 127 ? 127 : q);
		}
}

int model_fit_end(struct model_fit *fit, struct model **out)
{
	struct model *m = NULL;
	struct ctr *c = NULL;
	struct csr x = {0};
	struct pairs pp = {{0}, {0}};
	float *p = NULL;
	int rc;
	double t0 = now_seconds();

	*out = NULL;
	progress_update(1, "ragload: fitting the model: vocabulary of %zu sampled texts",
			fit->n_sample);
	if ((rc = fit_vocab(fit, &c)))
		goto out;
	rc = RL_ENOMEM;
	m = model_new(&model_kind_contrastive);
	p = embed_alloc_big((size_t)c->rows * (size_t)c->dim * sizeof(float));
	if (!m || !p)
		goto out;
	c->seed = fit->o.seed;
	c->fit_texts = fit->n_texts;
	c->sample_texts = fit->n_sample;
	c->epochs = FIT_EPOCHS;
	rc = 0;
	{
		struct bag b;
		if (bag_init(&b, c))
			goto out;
		for (size_t i = 0; i < fit->n_sample && !rc; i++) {
			rc = bag_text(fit->s, &b, fit->sample[i].text, fit->sample[i].len);
			if (!rc)
				rc = csr_push(&x, &b);
		}
		bag_release(&b);
		if (rc)
			goto out;
	}
	if ((rc = fit_lsa(&x, c, fit->o.seed, p)))
		goto out;
	csr_release(&x);
	double t_lsa = now_seconds() - t0;
	if ((rc = fit_pairs(fit, c, &pp)))
		goto out;
	c->pairs = pp.a.n;
	snprintf(c->projection, sizeof(c->projection), "lsa");
	if (pp.a.n >= 2) {
		if ((rc = fit_train(&pp, c, fit->o.seed, p, &c->loss)))
			goto out;
		snprintf(c->projection, sizeof(c->projection), "contrastive");
	}
	log_info("model fit: %" PRIu32 " words, LSA rank %" PRIu64 " of %" PRIu64 " texts (%.1f s), "
		 "%" PRIu64 " pairs x %d epochs, loss %.3f (%.1f s)", c->vocab, c->lsa_rank,
		 c->sample_texts, t_lsa, c->pairs, c->pairs >= 2 ? FIT_EPOCHS : 0, c->loss,
		 now_seconds() - t0 - t_lsa);
	progress_update(1, "ragload: fitting the model: quantising");
	quantise(c, p);
	m->impl = c;
	c = NULL;
	m->dim = fit->o.dim;
	rc = settings_build(m);
	if (!rc)
		rc = model_finish(m);
	if (rc)
		goto out;
	*out = m;
	m = NULL;
out:
	if (rc)
		log_error("model: the fit failed%s", rc == RL_ENOMEM ? " (out of memory)" : "");
	csr_release(&x);
	csr_release(&pp.a);
	csr_release(&pp.b);
	free(p);
	ctr_release(c);
	model_free(m);
	model_fit_free(fit);
	return rc;
}

/* ---- loading and saving ---------------------------------------------------------------- */

static int ctr_save(const struct model *m, struct buf *out)
{
	const struct ctr *c = m->impl;
	int rc = 0;
	for (uint32_t r = 0; r < c->vocab && !rc; r++) {
		rc = embed_put_u32(out, (uint32_t)c->keys[r]);
		if (!rc)
			rc = embed_put_u32(out, (uint32_t)(c->keys[r] >> 32));
	}
	if (!rc)
		rc = embed_put_f32s(out, c->idf, c->rows);
	if (!rc)
		rc = embed_put_f32s(out, c->scale, (size_t)c->dim);
	if (!rc)
		rc = buf_append(out, c->q, (size_t)c->rows * (size_t)c->dim);
	return rc;
}

static int get_int(json_t *o, const char *key, long long lo, long long hi, long long *v)
{
	json_t *j = json_object_get(o, key);
	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return *v < lo || *v > hi ? -1 : 0;
}

static int get_u64_string(json_t *o, const char *key, uint64_t *v)
{
	const char *s = json_string_value(json_object_get(o, key));
	char *end = NULL;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (*end || errno)
		return -1;
	*v = (uint64_t)x;
	return 0;
}

static int ctr_load(struct model *m, const char *header, size_t hlen, const unsigned char *p,
		    size_t n, char *err, size_t errlen)
{
	json_t *o = json_loadb(header, hlen, 0, NULL);
	struct ctr *c = NULL;
	long long fz, dim, vocab, v;
	int rc = RL_ERR;

	if (get_int(o, "featurizer", 0, INT32_MAX, &fz)) {
		embed_fail(err, errlen, "bad model header: no \"featurizer\"");
		goto out;
	}
	if (fz == OLD_FEATURIZER) {
		embed_fail(err, errlen, "the model is ragload-hash featurizer %d (the LSA model of "
			   "an earlier build), which this build no longer reads: refit the corpus "
			   "with `ragload reindex --refit` (or fit a new model file with `ragload model "
			   "fit`)", OLD_FEATURIZER);
		goto out;
	}
	if (fz != FEATURIZER) {
		embed_fail(err, errlen, "unsupported featurizer %lld (this build implements %d)",
			   fz, FEATURIZER);
		goto out;
	}
	long long buckets;
	if (get_int(o, "dim", 1, MODEL_MAX_DIM, &dim) ||
	    get_int(o, "vocab", 0, MAX_VOCAB, &vocab) ||
	    get_int(o, "oov_buckets", OOV_BUCKETS, OOV_BUCKETS, &buckets)) {
		embed_fail(err, errlen, "bad model header: dim, vocab or oov_buckets missing or out "
			   "of range");
		goto out;
	}
	const char *proj = json_string_value(json_object_get(o, "projection"));
	const char *stem = json_string_value(json_object_get(o, "stem"));
	if (!proj || (strcmp(proj, "contrastive") && strcmp(proj, "lsa")) || !stem ||
	    strcmp(stem, "english")) {
		embed_fail(err, errlen, "bad model header: projection or stem");
		goto out;
	}
	const size_t rows = (size_t)vocab + OOV_BUCKETS;
	size_t want = (size_t)vocab * 8 + rows * 4 + 4 * (size_t)dim + rows * (size_t)dim;
	if (n != want) {
		embed_fail(err, errlen, "model sizes disagree with its header (payload %zu bytes, "
			   "header implies %zu)", n, want);
		goto out;
	}
	c = ctr_alloc((int)dim, (uint32_t)vocab);
	if (!c) {
		embed_fail(err, errlen, "out of memory loading a model");
		goto out;
	}
	snprintf(c->projection, sizeof(c->projection), "%s", proj);
	if (get_u64_string(o, "seed", &c->seed)) {
		embed_fail(err, errlen, "bad model header: no \"seed\"");
		goto out;
	}
	c->fit_texts = get_int(o, "fit_texts", 0, INT64_MAX, &v) ? 0 : (uint64_t)v;
	c->sample_texts = get_int(o, "sample_texts", 0, INT64_MAX, &v) ? 0 : (uint64_t)v;
	c->pairs = get_int(o, "pairs", 0, INT64_MAX, &v) ? 0 : (uint64_t)v;
	c->lsa_rank = get_int(o, "lsa_rank", 0, INT64_MAX, &v) ? 0 : (uint64_t)v;
	c->epochs = get_int(o, "epochs", 0, 1000, &v) ? 0 : (int)v;
	c->loss = json_number_value(json_object_get(o, "loss"));
	const unsigned char *q = p;
	for (long long r = 0; r < vocab; r++, q += 8) {
		c->keys[r] = (uint64_t)embed_get_u32(q) | (uint64_t)embed_get_u32(q + 4) << 32;
		if (c->keys[r] == 0 || (r > 0 && c->keys[r] <= c->keys[r - 1])) {
			embed_fail(err, errlen, "model vocabulary is not strictly ascending");
			goto out;
		}
	}
	embed_get_f32s(c->idf, q, rows);
	q += 4 * rows;
	embed_get_f32s(c->scale, q, (size_t)dim);
	q += 4 * (size_t)dim;
	memcpy(c->q, q, rows * (size_t)dim);
	if (!embed_all_finite(c->idf, rows) || !embed_all_finite(c->scale, (size_t)dim)) {
		embed_fail(err, errlen, "model weights are not all finite numbers");
		goto out;
	}
	ctr_index(c);
	m->dim = (int)dim;
	m->impl = c;
	c = NULL;
	snprintf(m->name, sizeof(m->name), KIND "-v%d-d%lld", FEATURIZER, dim);
	rc = 0;
out:
	ctr_release(c);
	json_decref(o);
	return rc;
}

const struct model_kind model_kind_contrastive = {
	.kind = KIND,
	.spec_prefix = NULL,
	.open_spec = NULL,
	.load = ctr_load,
	.save_payload = ctr_save,
	.embed = ctr_embed,
	.release = ctr_release,
};
