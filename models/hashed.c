/*
 * hashed.c — "ragload-hash", the built-in model: hashed word/bigram/character n-gram features,
 * weights fitted on the corpus, a projection learned from the corpus (randomized SVD), applied
 * with one cblas_sgemm per block of texts, L2-normalised.
 *
 * What (featurizer 3): the words of the NFKC-casefolded text (embed_words()); features are
 *   - word unigrams, Snowball-stemmed ("english", libstemmer) when the model says so,
 *   - bigrams of consecutive unigrams (a short English stop list is skipped by both),
 *   - character n-grams (char_ngram_min..max code points) of "<word>", unstemmed,
 * each a 64-bit hash. A feature's weight is (1 + ln tf) * idf, tf counted per text and idf
 * looked up in a table of 2^idf_bits entries indexed by the feature's hash (df fitted on the
 * corpus; an unseen feature gets the highest idf). The weighted features are added, with a
 * random sign, into `features` buckets (the sketch), and sketch x projection (features x dim)
 * with cblas_sgemm gives the vector, L2-normalised.
 *
 * Why idf per hashed feature rather than per bucket: a bucket holds hundreds of features; its
 * document frequency is that of its most common one, so a rare word sharing a bucket with
 * "ing" would get the idf of "ing". Measured on SciFact train (4096 buckets, no projection):
 * nDCG@10 0.605 with idf per bucket, 0.657 per feature; a 2^20 table equals an exact
 * vocabulary (0.659) in 4 MB, with memory that does not grow with the corpus.
 *
 * Why a learned projection: a random Gaussian projection of the sketch to 768 dimensions loses
 * 0.06 nDCG@10 to its noise (1/sqrt(dim) per cosine); the top singular directions of the
 * corpus's sketches keep what varies across the corpus, and scaling direction j by
 * sigma_j^(-1/2) keeps rarer directions from being drowned by the common ones (README, "The
 * built-in embedding model", for the measurements).
 *
 * How the fit stays bounded: model_fit_add() counts document frequencies into the 2^idf_bits
 * table (4 MB) and keeps a reservoir sample of at most FIT_SAMPLE_TEXTS texts (each cut at
 * FIT_SAMPLE_BYTES). model_fit_end() turns the counts into idf, weighs the sample's sketches
 * with it and accumulates their covariance C = X^T X (features^2 floats, 64 MB at 4096) with
 * cblas_ssyrk, then finds C's top dim eigenvectors by randomized subspace iteration (Halko,
 * Martinsson & Tropp 2011: Gaussian start, FIT_POWER_ITERS products with C, each
 * re-orthonormalised with LAPACKE sgeqrf/sorgqr, then the small projected eigenproblem with
 * LAPACKE ssyev). Everything is seeded, so a refit on the same texts gives the same bits on
 * one machine and BLAS build.
 *
 * Thread safety: the model is immutable once built; model_embed() allocates its own scratch
 * (the sketch block, the tf table, a stemmer), so any number of threads may embed at once.
 *
 * Payload (model file format 2, after the header): float32 idf_lo, float32 idf_step,
 * u8 idf codes[2^idf_bits], float32 column scales[dim], int8 projection codes[features][dim]
 * (struct hashed says why quantised).
 * (struct hashed says why quantised).
 *
 * Size: ~1,000 lines, one model kind: featuriser, fit (IDF, SVD projection), file payload.
 */
#include "model.h"
#include "../lib/progress.h"

#include <assert.h>
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <lapacke.h>
#include <libstemmer.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define KIND "ragload-hash"
#define FEATURIZER 3            /* how text becomes features and weights */
#define MIN_FEATURES 16
#define MAX_FEATURES 65536
#define MAX_NGRAM 16
#define IDF_BITS 20             /* 2^20 idf entries: as good as a vocabulary on SciFact */
#define MIN_IDF_BITS 8
#define MAX_IDF_BITS 24
#define STEM_DEFAULT 1          /* Snowball English stemming of unigrams and bigrams */
#define SVD_POWER (-0.5)        /* direction j scaled by sigma_j^SVD_POWER */
#define SVD_MAX_FEATURES 8192   /* the covariance is features^2 floats: 256 MB at 8192 */
#define SVD_OVERSAMPLE 16       /* extra directions in the subspace iteration */
#define FIT_POWER_ITERS 3
#define FIT_SAMPLE_TEXTS 16384  /* the projection is fitted on at most this many texts... */
#define FIT_SAMPLE_BYTES 4096   /* ...each cut at this many bytes: at most 64 MB of text */

#define BLOCK 256               /* texts per sgemm call: big enough for BLAS efficiency */
#define TAB 8192                /* per-text feature table slots (power of two) */
#define TAB_FLUSH (TAB / 2)     /* distinct features held before they are flushed */
#define STOP_SLOTS 256
#define STEM_CACHE 8192         /* direct-mapped word -> stem cache per scratch */
#define TF_TAB 256              /* 1 + ln(k) for small counts */

extern const struct model_kind model_kind_hashed;


/* Per-kind hash seeds: the same string as a word, a bigram or a character n-gram must land
 * in unrelated buckets. Changing any of them changes FEATURIZER. */
#define SEED_WORD 0x7261676c6f616401ull
#define SEED_BIGRAM 0x7261676c6f616402ull
#define SEED_CHAR 0x7261676c6f616403ull
#define SEED_STEM 0x7261676c6f616404ull

/* Function words that carry no topic: skipped as unigrams and bigram halves (their
 * character n-grams stay; idf weighs them down). */
static const char *const stop_words[] = {
	"a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had",
	"has", "have", "he", "her", "his", "i", "if", "in", "into", "is", "it", "its", "of",
	"on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there",
	"these", "they", "this", "those", "to", "was", "we", "were", "what", "when", "which",
	"while", "who", "will", "with", "would", "you", "your",
};

/* ---- featuriser ------------------------------------------------------------------------ */

/* Immutable featuriser settings, shared read-only by every thread. */
struct fz {
	int features;                /* sketch buckets, a power of two */
	int idf_bits;
	int ng_min, ng_max;          /* character n-gram lengths in code points; max 0 = none */
	int bigrams, stem;
	uint64_t stop[STOP_SLOTS];   /* word hashes of stop_words, 0 = empty slot */
	float tf[TF_TAB];            /* tf[k] = 1 + ln k */
};


/* Per-call state: the current text's features and where they go when flushed. */
struct fz_scratch {
	const struct fz *f;
	struct embed_words *ew;
	struct sb_stemmer *stemmer;
	struct stem_entry {
		uint64_t word, stem;
	} *cache;                    /* [STEM_CACHE], NULL when not stemming */
	uint64_t *key;               /* [TAB] feature hashes; 0 = empty (hash 0 is taken as 1) */
	uint32_t *tf;                /* [TAB] their counts in the text */
	uint16_t *used;              /* [TAB_FLUSH] slots in use, in insertion order */
	int n_used;
	int has_prev;
	uint64_t prev;               /* the previous unigram's hash, for the bigram */
	int failed;                  /* the stemmer ran out of memory */
	/* the sink: a sketch row when embedding, the fit's document-frequency table otherwise */
	float *row;
	const uint8_t *idf_q;        /* idf = idf_lo + code * idf_step (struct hashed) */
	float idf_lo, idf_step;
	uint32_t *df, *stamp, gen;
};

static uint64_t word_hash(const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, SEED_WORD);
}

/* moremur, a bijective 64-bit finaliser (Pelle Evensen): every input bit reaches every
 * output bit, so the bucket (low bits), sign, table slot and idf index (high bits) are all
 * well mixed. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 27;
	x *= 0x3C79AC492BA7B653ull;
	x ^= x >> 33;
	x *= 0x1C69B3F74AC4AE35ull;
	x ^= x >> 27;
	return x;
}

/*
 * Character n-grams are most of the features (about 11 per word), so they get a fast path:
 * an n-gram of at most 8 bytes is read as a little-endian integer, zero-padded, and mixed.
 * N-grams never contain a NUL byte, so the padding is unambiguous, and the mixer is a
 * bijection, so distinct short n-grams never share a hash. Longer n-grams (non-ASCII text)
 * use XXH3. p must have 8 readable bytes.
 */
static inline uint64_t ngram_hash(const unsigned char *p, size_t n)
{
	if (n <= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v = __builtin_bswap64(v);
#endif
		v &= n == 8 ? ~0ull : (1ull << (8 * n)) - 1;
		return mix64(v ^ SEED_CHAR);
	}
	return XXH3_64bits_withSeed(p, n, SEED_CHAR);
}

static void fz_init(struct fz *f, int features, int idf_bits, int ng_min, int ng_max,
		    int bigrams, int stem)
{
	memset(f, 0, sizeof(*f));
	f->features = features;
	f->idf_bits = idf_bits;
	f->ng_min = ng_min;
	f->ng_max = ng_max;
	f->bigrams = bigrams;
	f->stem = stem;
	for (size_t i = 0; i < RL_ARRAY_LEN(stop_words); i++) {
		uint64_t h = word_hash(stop_words[i], strlen(stop_words[i]));
		size_t j = (size_t)h & (STOP_SLOTS - 1);
		while (f->stop[j])
			j = (j + 1) & (STOP_SLOTS - 1);
		f->stop[j] = h;
	}
	f->tf[0] = 0.0f;
	for (int k = 1; k < TF_TAB; k++)
		f->tf[k] = (float)(1.0 + log((double)k));
}

static int fz_is_stop(const struct fz *f, uint64_t h)
{
	size_t j = (size_t)h & (STOP_SLOTS - 1);
	while (f->stop[j]) {
		if (f->stop[j] == h)
			return 1;
		j = (j + 1) & (STOP_SLOTS - 1);
	}
	return 0;
}

static inline uint32_t idf_index(const struct fz *f, uint64_t h)
{
	return (uint32_t)(h >> (64 - f->idf_bits));
}

static void fz_scratch_release(struct fz_scratch *s)
{
	embed_words_free(s->ew);
	sb_stemmer_delete(s->stemmer);
	free(s->key);
	free(s->tf);
	free(s->used);
	free(s->cache);
	memset(s, 0, sizeof(*s));
}

static int fz_scratch_init(struct fz_scratch *s, const struct fz *f)
{
	memset(s, 0, sizeof(*s));
	s->f = f;
	s->ew = embed_words_new();
	s->key = calloc(TAB, sizeof(*s->key));
	s->tf = malloc(TAB * sizeof(*s->tf));
	s->used = malloc(TAB_FLUSH * sizeof(*s->used));
	/* the stem cache starts empty: word hash 0 never occurs (see stem_of) */
	if (f->stem) {
		s->stemmer = sb_stemmer_new("english", NULL);
		s->cache = calloc(STEM_CACHE, sizeof(*s->cache));
	}
	if (!s->ew || !s->key || !s->tf || !s->used || (f->stem && (!s->stemmer || !s->cache))) {
		fz_scratch_release(s);
		return RL_ENOMEM;
	}
	return 0;
}

/* Empties the feature table into the sink: the weighted features into the sketch row, or
 * one document-frequency count per distinct idf index when fitting. */
static void fz_flush(struct fz_scratch *s)
{
	const struct fz *f = s->f;
	const uint32_t mask = (uint32_t)f->features - 1;
	for (int i = 0; i < s->n_used; i++) {
		uint32_t j = s->used[i];
		uint64_t h = s->key[j];
		uint32_t n = s->tf[j];
		uint32_t ix = idf_index(f, h);
		if (s->row) {
			float idf = s->idf_lo + (float)s->idf_q[ix] * s->idf_step;
			float w = (n < TF_TAB ? f->tf[n] : 1.0f + logf((float)n)) * idf;
			/* bit 31 is the sign, so colliding features cancel in expectation */
			s->row[(uint32_t)h & mask] += (h >> 31 & 1) ? -w : w;
		} else if (s->stamp[ix] != s->gen) {
			s->stamp[ix] = s->gen;
			s->df[ix]++;
		}
		s->key[j] = 0;
	}
	s->n_used = 0;
}

static inline void fz_emit(struct fz_scratch *s, uint64_t h)
{
	h += !h;  /* 0 marks an empty slot */
	uint32_t j = (uint32_t)(h >> 32) & (TAB - 1);
	for (;;) {
		uint64_t k = s->key[j];
		if (k == h) {
			s->tf[j]++;
			return;
		}
		if (!k)
			break;
		j = (j + 1) & (TAB - 1);
	}
	/* a text with more distinct features than the table holds (a huge query, or text made
	 * of long unbroken words) is flushed in parts: its tf then counts per part */
	if (s->n_used == TAB_FLUSH) {
		fz_flush(s);
		fz_emit(s, h);
		return;
	}
	s->key[j] = h;
	s->tf[j] = 1;
	s->used[s->n_used++] = (uint16_t)j;
	/* the flush reads this feature's idf code at random from a 1 MB table: start the
	 * load now, while the rest of the text is featurised */
	if (s->idf_q)
		__builtin_prefetch(&s->idf_q[idf_index(s->f, h)]);
}

/* The stem's hash of a word (its hash when not stemming), through a small cache: words
 * repeat (Zipf), and a Snowball call costs ~10x a hash. */
static uint64_t stem_of(struct fz_scratch *s, const unsigned char *w, int n, uint64_t h)
{
	if (!s->f->stem)
		return h;
	size_t j = (size_t)(h >> 32) & (STEM_CACHE - 1);
	if (s->cache[j].word == h && h)
		return s->cache[j].stem;
	const sb_symbol *st = sb_stemmer_stem(s->stemmer, w, n);
	uint64_t sh;
	if (st) {
		sh = XXH3_64bits_withSeed(st, (size_t)sb_stemmer_length(s->stemmer), SEED_STEM);
	} else {
		s->failed = 1;   /* out of memory inside libstemmer */
		sh = h;
	}
	s->cache[j].word = h;
	s->cache[j].stem = sh;
	return sh;
}

/* One word: its unigram, the bigram with the previous unigram, its character n-grams. */
static void fz_word(void *ctx, unsigned char *w, int n, int ncp)
{
	struct fz_scratch *s = ctx;
	const struct fz *f = s->f;
	uint64_t h = word_hash(w, (size_t)n);

	if (!fz_is_stop(f, h)) {
		uint64_t u = stem_of(s, w, n, h);
		fz_emit(s, u);
		if (f->bigrams && s->has_prev)
			fz_emit(s, mix64(s->prev * 0x9E3779B97F4A7C15ull ^ u ^ SEED_BIGRAM));
		s->prev = u;
		s->has_prev = 1;
	}
	if (f->ng_max == 0)
		return;
	/* "<word>": w[-1] is '<' and the bytes after the word are ours (embed_words) */
	unsigned char *p = w - 1;
	int len = n + 2, ncps = ncp + 2;
	w[n] = '>';
	memset(w + n + 1, 0, 8);
	if (ncps == len) {
		/* ASCII: code points are bytes */
		for (int k = f->ng_min; k <= f->ng_max && k <= len; k++)
			for (int i = 0; i + k <= len; i++)
				fz_emit(s, ngram_hash(p + i, (size_t)k));
		return;
	}
	uint8_t off[EMBED_WORD_MAX + 4];
	int c = 0;
	for (int i = 0; i < len; i++)
		if ((p[i] & 0xC0) != 0x80)
			off[c++] = (uint8_t)i;
	off[c] = (uint8_t)len;
	for (int k = f->ng_min; k <= f->ng_max && k <= c; k++)
		for (int i = 0; i + k <= c; i++)
			fz_emit(s, ngram_hash(p + off[i], (size_t)(off[i + k] - off[i])));
}

/* Feeds every feature of text to the sink. Returns 0 or RL_ENOMEM. */
static int fz_text(struct fz_scratch *s, const char *text, size_t len)
{
	s->has_prev = 0;
	int rc = embed_words(s->ew, text, len, fz_word, s);
	fz_flush(s);
	if (!rc && s->failed)
		rc = RL_ENOMEM;
	return rc;
}

/* ---- the model ------------------------------------------------------------------------- */

/*
 * The fitted weights are stored quantised, so that the model is small enough to be read from
 * the database by every `ragload search` (4.2 MB at the defaults instead of 17 MB): idf as
 * 8-bit codes (idf = idf_lo + code * idf_step), the projection as 8-bit codes with a scale
 * per column. The fit quantises before it embeds anything, so the model in memory is exactly
 * the one a load gives back. Measured on SciFact train: no change in nDCG@10 (README).
 */
struct hashed {
	struct fz fz;
	int dim;
	uint64_t seed, fit_texts, svd_texts;
	char projection[16];         /* "svd" or "gaussian" */
	float idf_lo, idf_step;
	uint8_t *idf_q;              /* [2^idf_bits]: embedding reads the codes (1 MB, in cache) */
	float *proj_scale;           /* [dim] */
	int8_t *proj_q;              /* [features][dim] */
	float *proj;                 /* [features][dim], row-major, dequantised for sgemm */
	float *idf_fit;              /* [2^idf_bits] while fitting only, then NULL */
};


static void hashed_release(void *impl)
{
	struct hashed *h = impl;
	if (!h)
		return;
	free(h->idf_fit);
	free(h->proj);
	free(h->idf_q);
	free(h->proj_scale);
	free(h->proj_q);
	free(h);
}

static struct hashed *hashed_alloc(int dim, int features, int idf_bits, int ng_min, int ng_max,
				   int bigrams, int stem)
{
	struct hashed *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	fz_init(&h->fz, features, idf_bits, ng_min, ng_max, bigrams, stem);
	h->dim = dim;
	h->proj = embed_alloc_big((size_t)features * (size_t)dim * sizeof(float));
	h->idf_q = malloc((size_t)1 << idf_bits);
	h->proj_scale = malloc((size_t)dim * sizeof(float));
	h->proj_q = malloc((size_t)features * (size_t)dim);
	if (!h->proj || !h->idf_q || !h->proj_scale || !h->proj_q) {
		hashed_release(h);
		return NULL;
	}
	return h;
}

static int is_pow2(long x)
{
	return x > 0 && (x & (x - 1)) == 0;
}

/* Returns NULL when the settings are usable, else why not. */
static const char *opts_problem(int dim, int features, int ng_min, int ng_max)
{
	if (dim < 1 || dim > MODEL_MAX_DIM)
		return "dim must be 1..2000 (pgvector indexes at most 2,000 dimensions)";
	if (!is_pow2(features) || features < MIN_FEATURES || features > MAX_FEATURES)
		return "features must be a power of two in 16..65536";
	if (ng_max != 0 && (ng_min < 1 || ng_min > ng_max || ng_max > MAX_NGRAM))
		return "character n-grams need 1 <= char_ngram_min <= char_ngram_max <= 16 "
		       "(char_ngram_max 0 turns them off)";
	return NULL;
}

/* The header: every setting that decides how text becomes a vector, deterministic. */
static int settings_build(struct model *m)
{
	const struct hashed *h = m->impl;
	struct buf b;
	buf_init(&b, 4096);
	int rc = buf_printf(&b,
		"{\"kind\":\"" KIND "\",\"format\":2,\"featurizer\":%d,\"dim\":%d,"
		"\"features\":%d,\"idf_bits\":%d,\"char_ngram_min\":%d,\"char_ngram_max\":%d,"
		"\"word_bigrams\":%s,\"stem\":\"%s\",\"stopwords\":\"en-small\","
		"\"weighting\":\"(1+ln tf)*idf\",\"weights\":\"u8-idf,i8-projection\",\"projection\":\"%s\",\"svd_power\":%.2f,"
		"\"fit_texts\":%" PRIu64 ",\"svd_texts\":%" PRIu64 ",\"seed\":\"%" PRIu64 "\"}",
		FEATURIZER, h->dim, h->fz.features, h->fz.idf_bits, h->fz.ng_min, h->fz.ng_max,
		h->fz.bigrams ? "true" : "false", h->fz.stem ? "english" : "none", h->projection,
		strcmp(h->projection, "svd") ? 0.0 : SVD_POWER, h->fit_texts, h->svd_texts,
		h->seed);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	free(m->settings);
	m->settings = buf_detach(&b, NULL);
	snprintf(m->name, sizeof(m->name), KIND "-v%d-d%d", FEATURIZER, h->dim);
	return 0;
}

/* The weights embedding uses, from their stored codes (the same code for fit and load). */
static void hashed_dequantise(struct hashed *h)
{
	for (size_t i = 0; i < (size_t)h->fz.features; i++)
		for (int j = 0; j < h->dim; j++)
			h->proj[i * (size_t)h->dim + (size_t)j] =
				(float)h->proj_q[i * (size_t)h->dim + (size_t)j] * h->proj_scale[j];
}

/* Fitted idf (idf_fit) -> codes. */
static void hashed_quantise_idf(struct hashed *h)
{
	const size_t n_idf = (size_t)1 << h->fz.idf_bits;
	const float *idf = h->idf_fit;
	float lo = idf[0], hi = idf[0];
	for (size_t i = 1; i < n_idf; i++) {
		lo = idf[i] < lo ? idf[i] : lo;
		hi = idf[i] > hi ? idf[i] : hi;
	}
	h->idf_lo = lo;
	h->idf_step = hi > lo ? (hi - lo) / 255.0f : 1.0f;
	for (size_t i = 0; i < n_idf; i++) {
		long q = lrintf((idf[i] - lo) / h->idf_step);
		h->idf_q[i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
	}
}

/* The fitted float projection (proj) -> codes -> the dequantised projection. */
static void hashed_quantise(struct hashed *h)
{
	for (int j = 0; j < h->dim; j++) {
		float mx = 0.0f;
		for (size_t i = 0; i < (size_t)h->fz.features; i++)
			mx = fmaxf(mx, fabsf(h->proj[i * (size_t)h->dim + (size_t)j]));
		h->proj_scale[j] = mx > 0.0f ? mx / 127.0f : 1.0f;
	}
	for (size_t i = 0; i < (size_t)h->fz.features; i++)
		for (int j = 0; j < h->dim; j++) {
			long q = lrintf(h->proj[i * (size_t)h->dim + (size_t)j] / h->proj_scale[j]);
			h->proj_q[i * (size_t)h->dim + (size_t)j] =
				(int8_t)(q < -127 ? -127 : q > 127 ? 127 : q);
		}
	hashed_dequantise(h);
}

/* ---- embedding ------------------------------------------------------------------------- */

static int hashed_embed(const struct model *m, const char *const *texts, const size_t *lens,
			size_t n, float *out)
{
	const struct hashed *h = m->impl;
	const int F = h->fz.features;
	struct fz_scratch s;
	float *x = NULL;
	size_t rows = n < BLOCK ? n : BLOCK;
	int rc = fz_scratch_init(&s, &h->fz);
	if (rc)
		return rc;
	rc = RL_ENOMEM;
	x = malloc(rows * (size_t)F * sizeof(float));
	if (!x)
		goto out;
	s.idf_q = h->idf_q;
	s.idf_lo = h->idf_lo;
	s.idf_step = h->idf_step;
	for (size_t i = 0; i < n; i += BLOCK) {
		size_t nb = n - i < BLOCK ? n - i : BLOCK;
		for (size_t r = 0; r < nb; r++) {
			assert(texts[i + r] || lens[i + r] == 0);
			s.row = x + r * (size_t)F;
			/* cleared just before use, so the row is in cache when the flush scatters */
			memset(s.row, 0, (size_t)F * sizeof(float));
			rc = fz_text(&s, texts[i + r], lens[i + r]);
			if (rc)
				goto out;
		}
		float *o = out + i * (size_t)h->dim;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, h->dim, F, 1.0f, x,
			    F, h->proj, h->dim, 0.0f, o, h->dim);
		embed_rows_normalise(o, nb, h->dim);
	}
	rc = 0;
out:
	free(x);
	fz_scratch_release(&s);
	return rc;
}

/* ---- fitting --------------------------------------------------------------------------- */

struct model_fit {
	struct model_opts o;
	struct fz fz;
	struct fz_scratch s;
	uint32_t *df, *stamp;        /* [2^idf_bits] */
	uint64_t n_texts;
	uint64_t rng;
	char **sample;               /* reservoir of texts, [FIT_SAMPLE_TEXTS] */
	size_t *sample_len;
	size_t n_sample;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1), never 0, so that log() below is finite. */
static double unit_open(uint64_t *x)
{
	return ((double)(splitmix64(x) >> 11) + 0.5) * 0x1.0p-53;
}

/* n Gaussian N(0, scale^2) floats by Box-Muller over splitmix64, reproducible from the seed. */
static void gaussian_fill(float *p, size_t n, double scale, uint64_t seed)
{
	uint64_t x = seed;
	for (size_t i = 0; i < n; i += 2) {
		double r = sqrt(-2.0 * log(unit_open(&x)));
		double t = 2.0 * M_PI * unit_open(&x);
		p[i] = (float)(r * cos(t) * scale);
		if (i + 1 < n)
			p[i + 1] = (float)(r * sin(t) * scale);
	}
}

void model_fit_free(struct model_fit *fit)
{
	if (!fit)
		return;
	fz_scratch_release(&fit->s);
	free(fit->df);
	free(fit->stamp);
	for (size_t i = 0; fit->sample && i < fit->n_sample; i++)
		free(fit->sample[i]);
	free(fit->sample);
	free(fit->sample_len);
	free(fit);
}

int model_fit_begin(const struct model_opts *o, struct model_fit **out)
{
	struct model_fit *fit = NULL;
	int rc = RL_ENOMEM;
	const char *why = opts_problem(o->dim, o->features, o->char_ngram_min, o->char_ngram_max);

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
	fz_init(&fit->fz, o->features, IDF_BITS, o->char_ngram_min, o->char_ngram_max,
		o->word_bigrams != 0, STEM_DEFAULT);
	if (fz_scratch_init(&fit->s, &fit->fz))
		goto out;
	fit->df = calloc((size_t)1 << IDF_BITS, sizeof(*fit->df));
	fit->stamp = calloc((size_t)1 << IDF_BITS, sizeof(*fit->stamp));
	fit->sample = calloc(FIT_SAMPLE_TEXTS, sizeof(*fit->sample));
	fit->sample_len = calloc(FIT_SAMPLE_TEXTS, sizeof(*fit->sample_len));
	if (!fit->df || !fit->stamp || !fit->sample || !fit->sample_len)
		goto out;
	fit->s.df = fit->df;
	fit->s.stamp = fit->stamp;
	*out = fit;
	fit = NULL;
	rc = 0;
out:
	model_fit_free(fit);
	return rc;
}

/* Keeps text in the reservoir with the probability that makes the sample uniform over all
 * texts added (Vitter's algorithm R), cut at FIT_SAMPLE_BYTES. */
static int sample_offer(struct model_fit *fit, const char *text, size_t len)
{
	uint64_t seen = fit->n_texts;   /* texts before this one */
	size_t slot;
	if (seen < FIT_SAMPLE_TEXTS) {
		slot = (size_t)seen;
	} else {
		uint64_t j = splitmix64(&fit->rng) % (seen + 1);
		if (j >= FIT_SAMPLE_TEXTS)
			return 0;
		slot = (size_t)j;
	}
	size_t n = len < FIT_SAMPLE_BYTES ? len : FIT_SAMPLE_BYTES;
	char *copy = malloc(n + 1);
	if (!copy)
		return RL_ENOMEM;
	memcpy(copy, text, n);
	copy[n] = '\0';
	if (slot == fit->n_sample)
		fit->n_sample++;
	else
		free(fit->sample[slot]);
	fit->sample[slot] = copy;
	fit->sample_len[slot] = n;
	return 0;
}

int model_fit_add(struct model_fit *fit, const char *text, size_t len)
{
	/* a new generation marks every idf index unseen for this text without clearing */
	if (++fit->s.gen == 0) {
		memset(fit->stamp, 0, ((size_t)1 << IDF_BITS) * sizeof(*fit->stamp));
		fit->s.gen = 1;
	}
	int rc = fz_text(&fit->s, text, len);
	if (!rc)
		rc = sample_offer(fit, text, len);
	if (!rc)
		fit->n_texts++;
	return rc;
}

/* Orthonormalises the k columns of the row-major n x k matrix a in place (Householder QR). */
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

/* The sample's sketches, weighed with the fitted idf and L2-normalised, accumulated into
 * the upper triangle of c = X^T X (F x F), BLOCK rows per ssyrk call. */
static int fit_covariance(struct model_fit *fit, const struct hashed *h, float *c)
{
	const int F = h->fz.features;
	struct fz_scratch s;
	float *x = malloc((size_t)BLOCK * (size_t)F * sizeof(float));
	int rc = fz_scratch_init(&s, &h->fz);
	if (rc || !x) {
		rc = RL_ENOMEM;
		goto out;
	}
	s.idf_q = h->idf_q;
	s.idf_lo = h->idf_lo;
	s.idf_step = h->idf_step;
	memset(c, 0, (size_t)F * (size_t)F * sizeof(float));
	for (size_t i = 0; i < fit->n_sample; i += BLOCK) {
		size_t nb = fit->n_sample - i < BLOCK ? fit->n_sample - i : BLOCK;
		progress_update(0, "ragload: fitting the model: covariance of the sample, %zu of %zu "
				"texts (%.0f%%)", i, fit->n_sample, 100.0 * (double)i / (double)fit->n_sample);
		for (size_t r = 0; r < nb; r++) {
			s.row = x + r * (size_t)F;
			memset(s.row, 0, (size_t)F * sizeof(float));
			if ((rc = fz_text(&s, fit->sample[i + r], fit->sample_len[i + r])))
				goto out;
		}
		/* each text weighs the same in the covariance, whatever its length */
		for (size_t r = 0; r < nb; r++) {
			float *row = x + r * (size_t)F;
			double ss = 0;
			for (int b = 0; b < F; b++)
				ss += (double)row[b] * row[b];
			float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
			for (int b = 0; b < F; b++)
				row[b] *= inv;
		}
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, F, (int)nb, 1.0f, x, F, 1.0f, c,
			    F);
	}
	rc = 0;
out:
	free(x);
	fz_scratch_release(&s);
	return rc;
}

/*
 * The projection: the top dim eigenvectors of the covariance, by randomized subspace
 * iteration, column j scaled by lambda_j^(SVD_POWER/2) (= sigma_j^SVD_POWER). Memory: the
 * covariance (F^2 floats) and three F x k panels, k = dim + SVD_OVERSAMPLE (at most F).
 */
static int fit_svd(struct model_fit *fit, struct hashed *h)
{
	const int F = h->fz.features, d = h->dim;
	const int k = d + SVD_OVERSAMPLE < F ? d + SVD_OVERSAMPLE : F;
	float *c = malloc((size_t)F * (size_t)F * sizeof(float));
	float *y = malloc((size_t)F * (size_t)k * sizeof(float));
	float *z = malloc((size_t)F * (size_t)k * sizeof(float));
	float *b = malloc((size_t)k * (size_t)k * sizeof(float));
	float *ev = malloc((size_t)k * sizeof(float));
	int rc = RL_ENOMEM;

	if (!c || !y || !z || !b || !ev)
		goto out;
	if ((rc = fit_covariance(fit, h, c)))
		goto out;
	gaussian_fill(y, (size_t)F * (size_t)k, 1.0, fit->o.seed ^ 0x7376647374617274ull);
	for (int it = 0; it <= FIT_POWER_ITERS; it++) {
		progress_update(1, "ragload: fitting the model: projection, subspace iteration %d of %d",
				it + 1, FIT_POWER_ITERS + 1);
		cblas_ssymm(CblasRowMajor, CblasLeft, CblasUpper, F, k, 1.0f, c, F, y, k, 0.0f, z,
			    k);
		if ((rc = orthonormalise(z, F, k)))
			goto out;
		float *t = y;
		y = z;
		z = t;
	}
	progress_update(1, "ragload: fitting the model: projection, eigenvectors");
	/* the k x k problem: B = Y^T C Y = U diag(ev) U^T, eigenvalues ascending */
	cblas_ssymm(CblasRowMajor, CblasLeft, CblasUpper, F, k, 1.0f, c, F, y, k, 0.0f, z, k);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, F, 1.0f, y, k, z, k, 0.0f, b, k);
	rc = RL_ERR;
	if (LAPACKE_ssyev(LAPACK_ROW_MAJOR, 'V', 'U', k, b, k, ev) != 0)
		goto out;
	/* eigenvectors of C: Y U (into z) */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, F, k, k, 1.0f, y, k, b, k, 0.0f, z,
		    k);
	/* directions a tiny sample cannot fill (eigenvalue ~0) are kept, amplified at most as
	 * much as a direction with 1/1000 of the top variance */
	double floor = fmax((double)ev[k - 1], 1e-30) * 1e-3;
	for (int j = 0; j < d; j++) {
		int src = k - 1 - j;
		float scale = (float)pow(fmax((double)ev[src], floor), SVD_POWER / 2);
		for (int i = 0; i < F; i++)
			h->proj[(size_t)i * d + j] = z[(size_t)i * k + src] * scale;
	}
	h->svd_texts = fit->n_sample;
	snprintf(h->projection, sizeof(h->projection), "svd");
	rc = embed_all_finite(h->proj, (size_t)F * (size_t)d) ? 0 : RL_ERR;
out:
	free(c);
	free(y);
	free(z);
	free(b);
	free(ev);
	return rc;
}

int model_fit_end(struct model_fit *fit, struct model **out)
{
	struct model *m = NULL;
	struct hashed *h = NULL;
	int rc = RL_ENOMEM;

	*out = NULL;
	h = hashed_alloc(fit->o.dim, fit->o.features, IDF_BITS, fit->o.char_ngram_min,
			 fit->o.char_ngram_max, fit->o.word_bigrams != 0, STEM_DEFAULT);
	m = model_new(&model_kind_hashed);
	if (!h || !m)
		goto out;
	h->seed = fit->o.seed;
	h->fit_texts = fit->n_texts;
	progress_update(1, "ragload: fitting the model: feature weights from %llu texts",
			(unsigned long long)fit->n_texts);
	/* smooth idf: ln((N+1)/(df+1)) + 1, so a feature seen nowhere gets the highest */
	double n1 = (double)fit->n_texts + 1.0;
	h->idf_fit = malloc(((size_t)1 << IDF_BITS) * sizeof(float));
	if (!h->idf_fit)
		goto out;
	for (size_t i = 0; i < (size_t)1 << IDF_BITS; i++)
		h->idf_fit[i] = (float)(log(n1 / ((double)fit->df[i] + 1.0)) + 1.0);
	/* the projection is learned on sketches weighted as embedding will weigh them */
	hashed_quantise_idf(h);
	free(h->idf_fit);
	h->idf_fit = NULL;
	if (h->dim + SVD_OVERSAMPLE <= h->fz.features && h->fz.features <= SVD_MAX_FEATURES &&
	    fit->n_sample > 0) {
		rc = fit_svd(fit, h);
		if (rc) {
			log_error("model: fitting the projection failed%s",
				  rc == RL_ENOMEM ? " (out of memory)" : "");
			goto out;
		}
	} else {
		/* no room for a learned projection: a random one, as good as the dimension allows */
		gaussian_fill(h->proj, (size_t)h->fz.features * (size_t)h->dim,
			      1.0 / sqrt((double)h->dim), fit->o.seed ^ 0x70726f6a65637431ull);
		snprintf(h->projection, sizeof(h->projection), "gaussian");
	}
	progress_update(1, "ragload: fitting the model: quantising");
	hashed_quantise(h);
	m->impl = h;
	h = NULL;
	m->dim = fit->o.dim;
	rc = settings_build(m);
	if (!rc)
		rc = model_finish(m);
	if (rc)
		goto out;
	*out = m;
	m = NULL;
out:
	hashed_release(h);
	model_free(m);
	model_fit_free(fit);
	return rc;
}

/* ---- loading and saving ---------------------------------------------------------------- */

static int hashed_save(const struct model *m, struct buf *out)
{
	const struct hashed *h = m->impl;
	int rc = embed_put_f32s(out, &h->idf_lo, 1);
	if (!rc)
		rc = embed_put_f32s(out, &h->idf_step, 1);
	if (!rc)
		rc = buf_append(out, h->idf_q, (size_t)1 << h->fz.idf_bits);
	if (!rc)
		rc = embed_put_f32s(out, h->proj_scale, (size_t)h->dim);
	if (!rc)
		rc = buf_append(out, h->proj_q, (size_t)h->fz.features * (size_t)h->dim);
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

static int hashed_load(struct model *m, const char *header, size_t hlen, const unsigned char *p,
		       size_t n, char *err, size_t errlen)
{
	json_t *o = json_loadb(header, hlen, 0, NULL);
	struct hashed *h = NULL;
	long long fz, dim, features, bits, ngmin, ngmax;
	int rc = RL_ERR;

	if (get_int(o, "featurizer", 0, INT32_MAX, &fz)) {
		embed_fail(err, errlen, "bad model header: no \"featurizer\"");
		goto out;
	}
	if (fz != FEATURIZER) {
		embed_fail(err, errlen, "unsupported featurizer %lld (this build implements %d)",
			   fz, FEATURIZER);
		goto out;
	}
	if (get_int(o, "dim", 1, MODEL_MAX_DIM, &dim) ||
	    get_int(o, "features", MIN_FEATURES, MAX_FEATURES, &features) ||
	    get_int(o, "idf_bits", MIN_IDF_BITS, MAX_IDF_BITS, &bits) ||
	    get_int(o, "char_ngram_min", 0, MAX_NGRAM, &ngmin) ||
	    get_int(o, "char_ngram_max", 0, MAX_NGRAM, &ngmax)) {
		embed_fail(err, errlen, "bad model header: dim, features, idf_bits or char_ngram_* "
			   "missing or out of range");
		goto out;
	}
	const char *why = opts_problem((int)dim, (int)features, (int)ngmin, (int)ngmax);
	if (why) {
		embed_fail(err, errlen, "bad model header: %s", why);
		goto out;
	}
	json_t *bg = json_object_get(o, "word_bigrams");
	const char *stem = json_string_value(json_object_get(o, "stem"));
	const char *proj = json_string_value(json_object_get(o, "projection"));
	if (!json_is_boolean(bg) || !stem || (strcmp(stem, "english") && strcmp(stem, "none")) ||
	    !proj || (strcmp(proj, "svd") && strcmp(proj, "gaussian"))) {
		embed_fail(err, errlen, "bad model header: word_bigrams, stem or projection");
		goto out;
	}
	size_t want = 8 + ((size_t)1 << bits) + 4 * (size_t)dim + (size_t)features * (size_t)dim;
	if (n != want) {
		embed_fail(err, errlen, "model sizes disagree with its header (payload %zu bytes, "
			   "header implies %zu)", n, want);
		goto out;
	}
	h = hashed_alloc((int)dim, (int)features, (int)bits, (int)ngmin, (int)ngmax,
			 json_is_true(bg), strcmp(stem, "english") == 0);
	if (!h) {
		embed_fail(err, errlen, "out of memory loading a model");
		goto out;
	}
	snprintf(h->projection, sizeof(h->projection), "%s", proj);
	long long v;
	h->fit_texts = get_int(o, "fit_texts", 0, INT64_MAX, &v) ? 0 : (uint64_t)v;
	h->svd_texts = get_int(o, "svd_texts", 0, INT64_MAX, &v) ? 0 : (uint64_t)v;
	if (get_u64_string(o, "seed", &h->seed)) {
		embed_fail(err, errlen, "bad model header: no \"seed\"");
		goto out;
	}
	const unsigned char *q = p;
	embed_get_f32s(&h->idf_lo, q, 1);
	embed_get_f32s(&h->idf_step, q + 4, 1);
	q += 8;
	memcpy(h->idf_q, q, (size_t)1 << bits);
	q += (size_t)1 << bits;
	embed_get_f32s(h->proj_scale, q, (size_t)dim);
	q += 4 * (size_t)dim;
	memcpy(h->proj_q, q, (size_t)features * (size_t)dim);
	if (!isfinite(h->idf_lo) || !isfinite(h->idf_step) || h->idf_step <= 0 ||
	    !isfinite(h->idf_lo + 255.0f * h->idf_step) ||
	    !embed_all_finite(h->proj_scale, (size_t)dim)) {
		embed_fail(err, errlen, "model weights are not all finite numbers");
		goto out;
	}
	hashed_dequantise(h);
	m->dim = (int)dim;
	m->impl = h;
	h = NULL;
	snprintf(m->name, sizeof(m->name), KIND "-v%d-d%lld", FEATURIZER, dim);
	rc = 0;
out:
	hashed_release(h);
	json_decref(o);
	return rc;
}

const struct model_kind model_kind_hashed = {
	.kind = KIND,
	.spec_prefix = NULL,
	.open_spec = NULL,
	.load = hashed_load,
	.save_payload = hashed_save,
	.embed = hashed_embed,
	.release = hashed_release,
};
