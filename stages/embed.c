/*
 * embed.c — the built-in embedding model (hashed features, fitted weights, projection) and
 * the embed stage.
 *
 * What: text -> casefolded NFKC words -> features -> signed feature hashing into `features`
 * buckets -> per bucket sign(c) * (1 + ln|c|) * idf, L2-normalised (the "sketch") ->
 * sketch x projection with cblas_sgemm -> L2-normalised dim-vector. Featurizer 1 is: words =
 * runs of ASCII letters/digits and Unicode letters, marks and numbers (words over WORD_MAX
 * bytes are cut into pieces); features = word unigrams and bigrams, skipping a short English
 * stop list (a bigram joins consecutive non-stop words), hashed with seeded XXH3, and the
 * character n-grams of "<word>" (lengths in code points), hashed by ngram_hash().
 *
 * How: the featuriser streams over the text once. ASCII bytes are lowercased by a table; only
 * runs of non-ASCII bytes go through utf8proc (NFKC + casefold), one byte early when an
 * ASCII letter precedes the run so that "e" + U+0301 composes to "é" exactly as a precomposed
 * "é" would (the result equals normalising the whole text first). Each finished word is
 * hashed straight into a sink: a dense sketch row when embedding, a generation-stamped
 * document-frequency table when fitting. Texts are embedded in blocks of EMBED_BLOCK rows so
 * one sgemm call does the heavy work while the scratch stays bounded (EMBED_BLOCK x features
 * floats per call).
 *
 * Why: no download, no vocabulary (fitting memory is O(features) whatever the corpus size),
 * and the dense part is a single BLAS call. The projection is stored in the model rather than
 * regenerated from the seed, so a learned projection (SVD) fits the same file format, and the
 * "featurizer" number in the header pins how text becomes features, so an old model file keeps
 * embedding exactly as it did when a later version changes the featuriser.
 *
 * Determinism: the same texts in the same batch give the same bits on one machine and BLAS
 * build. A text embedded alone and inside a batch may differ in the last bits (about 1e-8),
 * because OpenBLAS picks its kernels by matrix shape.
 *
 * Thread safety: a struct model is immutable after model_fit_end()/model_load(); every call
 * allocates its own scratch, so any number of threads may embed with one model.
 *
 * File format (little-endian): "RAGLMODL", u32 format version (1), u32 header length, header
 * (the settings JSON), float32 idf[features], float32 projection[features][dim], then the
 * XXH3-128 (canonical, big-endian bytes) of everything before it.
 */
#include "embed.h"

#include <assert.h>
#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define MODEL_MAGIC "RAGLMODL"
#define MODEL_FORMAT 1          /* the binary layout */
#define MODEL_FEATURIZER 1      /* how text becomes features and weights */
#define MODEL_KIND "ragload-hash"
#define MODEL_MAX_DIM 2000      /* pgvector indexes vectors up to 2,000 dimensions */
#define MODEL_MIN_FEATURES 16
#define MODEL_MAX_FEATURES 65536
#define MODEL_MAX_NGRAM 16

#define EMBED_BLOCK 256         /* rows per sgemm call: big enough for BLAS efficiency */
#define WORD_MAX 128            /* longer words are cut into pieces of at most this many bytes */
#define SPAN_MAX 1024           /* bytes of non-ASCII text normalised per utf8proc call */
#define STOP_SLOTS 256          /* open-addressing table of stop word hashes */
#define TF_TAB 256              /* 1 + ln(k) for small counts, to avoid logf per bucket */

#define UTF8_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD)

/* Per-kind hash seeds: the same string as a word, a bigram half or a character n-gram must
 * land in unrelated buckets. Changing any of them changes MODEL_FEATURIZER. */
#define SEED_WORD 0x7261676c6f616401ull
#define SEED_BIGRAM 0x7261676c6f616402ull
#define SEED_CHAR 0x7261676c6f616403ull

/* ASCII letters and digits lowercased; 0 = separator. */
static const unsigned char ascii_word[128] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 0, 0, 0, 0, 0, 0,
	0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, 0,
	0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, 0,
};

/* Function words that carry no topic: skipped as unigrams and bigram halves (their
 * character n-grams stay; idf weighs them down). Part of featurizer 1. */
static const char *const stop_words[] = {
	"a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had",
	"has", "have", "he", "her", "his", "i", "if", "in", "into", "is", "it", "its", "of",
	"on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there",
	"these", "they", "this", "those", "to", "was", "we", "were", "what", "when", "which",
	"while", "who", "will", "with", "would", "you", "your",
};

/* ---- featuriser ------------------------------------------------------------------------ */

/* The immutable featuriser settings, shared read-only by every thread. */
struct fz {
	uint32_t mask;               /* features - 1 */
	int ng_min, ng_max;          /* character n-gram lengths in code points; max 0 = none */
	int bigrams;
	uint64_t stop[STOP_SLOTS];   /* word hashes of stop_words, 0 = empty slot */
	float tf[TF_TAB];            /* tf[k] = 1 + ln k */
};

/* Per-call state: the current word and where its features go. */
struct fz_scratch {
	unsigned char w[WORD_MAX + 16];  /* '<' word '>', then slack for ngram_hash's 8-byte reads */
	uint8_t off[WORD_MAX + 8];       /* byte offset of each code point in w, plus the end */
	int wlen;                        /* bytes in w, '<' included */
	int ncp;                         /* code points in w, '<' included */
	int has_prev;
	uint64_t prev;                   /* word hash of the previous non-stop word */
	utf8proc_int32_t *u;             /* utf8proc code point buffer */
	size_t ucap;
	/* sink: row != NULL when embedding, else the fit's document-frequency table */
	float *row;
	uint64_t *df;
	uint32_t *stamp;
	uint32_t gen;
};

static uint64_t word_hash(const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, SEED_WORD);
}

/* moremur, a bijective 64-bit finaliser (Pelle Evensen): every input bit reaches every
 * output bit, so low bits (the bucket) and the top bit (the sign) are both well mixed. */
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
 * Character n-grams are most of the features (about 15 per word), so they get a fast path:
 * an n-gram of at most 8 bytes is read as a little-endian integer, zero-padded, and mixed.
 * N-grams never contain a NUL byte, so the padding is unambiguous, and the mixer is a
 * bijection, so distinct short n-grams never share a hash before bucketing. This is several
 * times faster than a call to XXH3 for 3..5-byte strings; longer n-grams (non-ASCII text)
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

static void fz_init(struct fz *f, int features, int ng_min, int ng_max, int bigrams)
{
	memset(f, 0, sizeof(*f));
	f->mask = (uint32_t)features - 1;
	f->ng_min = ng_min;
	f->ng_max = ng_max;
	f->bigrams = bigrams;
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

static void fz_scratch_init(struct fz_scratch *s)
{
	memset(s, 0, sizeof(*s));
	s->w[0] = '<';
	s->wlen = 1;
	s->ncp = 1;
}

static void fz_scratch_release(struct fz_scratch *s)
{
	free(s->u);
	s->u = NULL;
	s->ucap = 0;
}

static inline void fz_emit(const struct fz *f, struct fz_scratch *s, uint64_t h)
{
	uint32_t b = (uint32_t)h & f->mask;
	if (s->row) {
		/* the top bit is the sign, so colliding features cancel in expectation; made
		 * without a branch because it is a coin flip the CPU cannot predict */
		uint32_t one = 0x3f800000u | (uint32_t)(h >> 63) << 31;
		float sign;
		memcpy(&sign, &one, sizeof(sign));
		s->row[b] += sign;
	} else if (s->stamp[b] != s->gen) {
		s->stamp[b] = s->gen;
		s->df[b]++;
	}
}

static void fz_word_reset(struct fz_scratch *s)
{
	s->wlen = 1;
	s->ncp = 1;
}

static void fz_word_end(const struct fz *f, struct fz_scratch *s)
{
	if (s->wlen <= 1)
		return;
	const unsigned char *w = s->w + 1;
	size_t n = (size_t)s->wlen - 1;
	uint64_t h = word_hash(w, n);
	if (!fz_is_stop(f, h)) {
		fz_emit(f, s, h);
		if (f->bigrams && s->has_prev)
			fz_emit(f, s, XXH3_64bits_withSeed(w, n, s->prev ^ SEED_BIGRAM));
		s->prev = h;
		s->has_prev = 1;
	}
	if (f->ng_max > 0) {
		/* close the padded word: offsets of '>' and of the end */
		int ncp = s->ncp + 1;
		s->w[s->wlen] = '>';
		s->off[s->ncp] = (uint8_t)s->wlen;
		s->off[ncp] = (uint8_t)(s->wlen + 1);
		for (int k = f->ng_min; k <= f->ng_max && k <= ncp; k++)
			for (int i = 0; i + k <= ncp; i++)
				fz_emit(f, s, ngram_hash(s->w + s->off[i],
							 (size_t)(s->off[i + k] - s->off[i])));
	}
	fz_word_reset(s);
}

/* A word longer than WORD_MAX bytes is cut into WORD_MAX-byte pieces, each a word: nothing
 * is lost (text without spaces, such as Chinese, is one long "word") and the work per word
 * stays bounded. */
static inline void fz_put_ascii(const struct fz *f, struct fz_scratch *s, unsigned char c)
{
	if (s->wlen >= WORD_MAX + 1)
		fz_word_end(f, s);
	s->off[s->ncp++] = (uint8_t)s->wlen;
	s->w[s->wlen++] = c;
}

static void fz_put_cp(const struct fz *f, struct fz_scratch *s, utf8proc_int32_t cp)
{
	unsigned char tmp[4];
	int n = (int)utf8proc_encode_char(cp, tmp);
	if (n <= 0)
		return;
	if (s->wlen + n > WORD_MAX + 1)
		fz_word_end(f, s);
	s->off[s->ncp++] = (uint8_t)s->wlen;
	memcpy(s->w + s->wlen, tmp, (size_t)n);
	s->wlen += n;
}

/* Letters, marks and numbers make words, as in chunk_count_tokens(). */
static int cp_is_word(utf8proc_int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);
	return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO;
}

/* Normalises one span and feeds its code points to the current word. Returns 0, 1 when the
 * span is not valid UTF-8 (nothing consumed), or RL_ENOMEM. */
static int fz_span_norm(const struct fz *f, struct fz_scratch *s, const unsigned char *p,
			size_t len)
{
	utf8proc_ssize_t n;
	if (!s->u) {
		/* enough for a whole span of ASCII-sized characters; grown below if needed */
		s->u = malloc((SPAN_MAX + 2) * sizeof(*s->u));
		if (!s->u)
			return RL_ENOMEM;
		s->ucap = SPAN_MAX + 2;
	}
	for (;;) {
		n = utf8proc_decompose(p, (utf8proc_ssize_t)len, s->u, (utf8proc_ssize_t)s->ucap,
				       UTF8_OPTS);
		if (n < 0 || (size_t)n <= s->ucap)
			break;
		utf8proc_int32_t *u = realloc(s->u, ((size_t)n + 1) * sizeof(*u));
		if (!u)
			return RL_ENOMEM;
		s->u = u;
		s->ucap = (size_t)n + 1;
	}
	if (n >= 0)
		n = utf8proc_normalize_utf32(s->u, n, UTF8_OPTS);
	if (n < 0)
		return 1;
	for (utf8proc_ssize_t k = 0; k < n; k++) {
		utf8proc_int32_t cp = s->u[k];
		if (cp < 0x80) {
			unsigned char c = ascii_word[cp];
			if (c)
				fz_put_ascii(f, s, c);
			else
				fz_word_end(f, s);
		} else if (cp_is_word(cp)) {
			fz_put_cp(f, s, cp);
		} else {
			fz_word_end(f, s);
		}
	}
	return 0;
}

/* A non-ASCII span. Text that is not UTF-8 (queries come from anywhere) is split at each
 * invalid byte, which separates words, and the valid stretches are normalised. */
static int fz_span(const struct fz *f, struct fz_scratch *s, const unsigned char *p, size_t len)
{
	int rc = fz_span_norm(f, s, p, len);
	if (rc <= 0)
		return rc;
	size_t i = 0, start = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k > 0) {
			i += (size_t)k;
			continue;
		}
		if (i > start && (rc = fz_span_norm(f, s, p + start, i - start)) < 0)
			return rc;
		fz_word_end(f, s);
		i++;
		start = i;
	}
	/* utf8proc_decompose validates as utf8proc_iterate does: valid stretches never give 1 */
	if (i > start && (rc = fz_span_norm(f, s, p + start, i - start)) < 0)
		return rc;
	return 0;
}

/* Feeds every feature of text to the sink in s. Returns 0 or RL_ENOMEM. */
static int fz_text(const struct fz *f, struct fz_scratch *s, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;
	int rc = 0;

	fz_word_reset(s);
	s->has_prev = 0;
	while (i < len) {
		unsigned char c = p[i];
		if (c < 0x80) {
			unsigned char l = ascii_word[c];
			if (l)
				fz_put_ascii(f, s, l);
			else
				fz_word_end(f, s);
			i++;
			continue;
		}
		size_t start = i, end = i;
		while (end < len && p[end] >= 0x80 && end - start < SPAN_MAX)
			end++;
		/* a span cut at SPAN_MAX ends before a lead byte, never inside a character */
		if (end < len && p[end] >= 0x80)
			while (end > start + 1 && (p[end] & 0xC0) == 0x80)
				end--;
		/* the ASCII letter before the span is its base character if the span starts with
		 * a combining mark: take it back out of the word (it is always the last byte
		 * there) and normalise it with the span */
		if (start > 0 && p[start - 1] < 0x80 && ascii_word[p[start - 1]]) {
			assert(s->wlen > 1 && s->w[s->wlen - 1] == ascii_word[p[start - 1]]);
			s->wlen--;
			s->ncp--;
			start--;
		}
		rc = fz_span(f, s, p + start, end - start);
		if (rc)
			goto out;
		i = end;
	}
	fz_word_end(f, s);
out:
	return rc;
}

/* ---- the model ------------------------------------------------------------------------- */

struct model {
	struct fz fz;
	int dim;
	int features;
	uint64_t seed;
	uint64_t fit_docs;
	float *idf;                  /* [features] */
	float *proj;                 /* [features][dim], row-major */
	char projection[16];         /* how proj was made: "gaussian" (later "svd") */
	char *settings;              /* the header JSON */
	char name[96];
};

struct model_fit {
	struct model_opts o;
	struct fz fz;
	struct fz_scratch s;
	uint64_t *df;
	uint32_t *stamp;
	uint64_t n_docs;
};

static int is_pow2(int x)
{
	return x > 0 && (x & (x - 1)) == 0;
}

/* Returns NULL when the settings are usable, else why not. */
static const char *opts_problem(int dim, int features, int ng_min, int ng_max)
{
	if (dim < 1 || dim > MODEL_MAX_DIM)
		return "dim must be 1..2000 (pgvector indexes at most 2,000 dimensions)";
	if (!is_pow2(features) || features < MODEL_MIN_FEATURES || features > MODEL_MAX_FEATURES)
		return "features must be a power of two in 16..65536";
	if (ng_max != 0 && (ng_min < 1 || ng_min > ng_max || ng_max > MODEL_MAX_NGRAM))
		return "character n-grams need 1 <= char_ngram_min <= char_ngram_max <= 16 "
		       "(char_ngram_max 0 turns them off)";
	return NULL;
}

void model_fit_free(struct model_fit *fit)
{
	if (!fit)
		return;
	fz_scratch_release(&fit->s);
	free(fit->df);
	free(fit->stamp);
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
	fz_init(&fit->fz, o->features, o->char_ngram_min, o->char_ngram_max, o->word_bigrams != 0);
	fz_scratch_init(&fit->s);
	fit->df = calloc((size_t)o->features, sizeof(*fit->df));
	fit->stamp = calloc((size_t)o->features, sizeof(*fit->stamp));
	if (!fit->df || !fit->stamp)
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

int model_fit_add(struct model_fit *fit, const char *text, size_t len)
{
	/* a new generation marks every bucket unseen for this text without clearing the table */
	if (++fit->s.gen == 0) {
		memset(fit->stamp, 0, (size_t)fit->o.features * sizeof(*fit->stamp));
		fit->s.gen = 1;
	}
	int rc = fz_text(&fit->fz, &fit->s, text, len);
	if (rc == 0)
		fit->n_docs++;
	return rc;
}

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

/* Gaussian N(0, 1/dim) entries by Box-Muller over splitmix64: reproducible from the seed on
 * any machine with a correctly rounded libm, and stored anyway. */
static void proj_gaussian(float *p, size_t n, int dim, uint64_t seed)
{
	uint64_t x = seed ^ 0x70726f6a65637431ull;
	double scale = 1.0 / sqrt((double)dim);
	for (size_t i = 0; i < n; i += 2) {
		double r = sqrt(-2.0 * log(unit_open(&x)));
		double t = 2.0 * M_PI * unit_open(&x);
		p[i] = (float)(r * cos(t) * scale);
		if (i + 1 < n)
			p[i + 1] = (float)(r * sin(t) * scale);
	}
}

static int settings_build(struct model *m)
{
	struct buf b;
	buf_init(&b, 4096);
	int rc = buf_printf(&b,
			    "{\"kind\":\"" MODEL_KIND "\",\"format\":%d,\"featurizer\":%d,"
			    "\"dim\":%d,\"features\":%d,\"char_ngram_min\":%d,"
			    "\"char_ngram_max\":%d,\"word_bigrams\":%s,\"stopwords\":\"en-small\","
			    "\"weighting\":\"(1+ln tf)*idf\",\"projection\":\"%s\","
			    "\"fit_docs\":%" PRIu64 ",\"seed\":\"%" PRIu64 "\"}",
			    MODEL_FORMAT, MODEL_FEATURIZER, m->dim, m->features, m->fz.ng_min,
			    m->fz.ng_max, m->fz.bigrams ? "true" : "false", m->projection, m->fit_docs,
			    m->seed);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	free(m->settings);
	m->settings = buf_detach(&b, NULL);
	return 0;
}

/* The name is the checksum of the saved bytes: it changes whenever anything fitted does. */
static void name_from_digest(struct model *m, const unsigned char digest[16])
{
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	snprintf(m->name, sizeof(m->name), "%s-v%d-d%d-%.12s", MODEL_KIND, MODEL_FEATURIZER, m->dim,
		 hex);
}

static int model_set_name(struct model *m)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = model_save(m, &b);
	if (rc == 0)
		name_from_digest(m, (const unsigned char *)b.data + b.len - 16);
	buf_release(&b);
	return rc;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	free(m->idf);
	free(m->proj);
	free(m->settings);
	free(m);
}

static struct model *model_alloc(int dim, int features, int ng_min, int ng_max, int bigrams)
{
	struct model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	fz_init(&m->fz, features, ng_min, ng_max, bigrams);
	m->dim = dim;
	m->features = features;
	m->idf = malloc((size_t)features * sizeof(float));
	m->proj = malloc((size_t)features * (size_t)dim * sizeof(float));
	if (!m->idf || !m->proj) {
		model_free(m);
		return NULL;
	}
	return m;
}

int model_fit_end(struct model_fit *fit, struct model **out)
{
	struct model *m = NULL;
	int rc = RL_ENOMEM;

	*out = NULL;
	m = model_alloc(fit->o.dim, fit->o.features, fit->o.char_ngram_min,
			fit->o.char_ngram_max, fit->o.word_bigrams != 0);
	if (!m)
		goto out;
	m->seed = fit->o.seed;
	m->fit_docs = fit->n_docs;
	double n1 = (double)fit->n_docs + 1.0;
	for (int b = 0; b < m->features; b++)
		m->idf[b] = (float)(log(n1 / ((double)fit->df[b] + 1.0)) + 1.0);
	proj_gaussian(m->proj, (size_t)m->features * (size_t)m->dim, m->dim, m->seed);
	snprintf(m->projection, sizeof(m->projection), "gaussian");
	rc = settings_build(m);
	if (rc)
		goto out;
	rc = model_set_name(m);
	if (rc)
		goto out;
	*out = m;
	m = NULL;
out:
	model_free(m);
	model_fit_free(fit);
	return rc;
}

int model_dim(const struct model *m)
{
	return m->dim;
}

const char *model_name(const struct model *m)
{
	return m->name;
}

const char *model_settings_json(const struct model *m)
{
	return m->settings;
}

/* ---- embedding ------------------------------------------------------------------------- */

struct embed_scratch {
	struct fz_scratch fs;
	float *x;                    /* [rows][features] sketch block */
	size_t rows;
};

static int embed_scratch_init(struct embed_scratch *es, const struct model *m, size_t rows)
{
	fz_scratch_init(&es->fs);
	es->rows = rows;
	es->x = malloc(rows * (size_t)m->features * sizeof(float));
	return es->x ? 0 : RL_ENOMEM;
}

static void embed_scratch_release(struct embed_scratch *es)
{
	fz_scratch_release(&es->fs);
	free(es->x);
	es->x = NULL;
}

/* Text -> weighted, L2-normalised sketch row. */
static int sketch_row(const struct model *m, struct fz_scratch *s, const char *text, size_t len,
		      float *row)
{
	memset(row, 0, (size_t)m->features * sizeof(float));
	s->row = row;
	int rc = fz_text(&m->fz, s, text, len);
	if (rc)
		return rc;
	/* no branch on c == 0: half the buckets are empty, in no predictable order (tf[0] = 0) */
	float ss = 0.0f;
	for (int b = 0; b < m->features; b++) {
		float c = row[b];
		float a = fabsf(c);
		float w = (a < (float)TF_TAB ? m->fz.tf[(int)a] : 1.0f + logf(a)) * m->idf[b];
		row[b] = copysignf(w, c);
		ss += w * w;
	}
	if (ss > 0.0f) {
		float inv = 1.0f / sqrtf(ss);
		for (int b = 0; b < m->features; b++)
			row[b] *= inv;
	}
	return 0;
}

/* L2-normalises each row; a row without features (or, improbably, one projected to zero)
 * becomes e_0 so that a cosine index never sees a zero vector. */
static void rows_normalise(float *out, size_t n, int dim)
{
	for (size_t r = 0; r < n; r++) {
		float *v = out + r * (size_t)dim;
		double ss = 0.0;
		for (int j = 0; j < dim; j++)
			ss += (double)v[j] * v[j];
		if (ss > 0.0 && isfinite(ss)) {
			float inv = (float)(1.0 / sqrt(ss));
			for (int j = 0; j < dim; j++)
				v[j] *= inv;
		} else {
			memset(v, 0, (size_t)dim * sizeof(float));
			v[0] = 1.0f;
		}
	}
}

/* Embeds nb <= es->rows texts into out (nb x dim). */
static int embed_block(const struct model *m, struct embed_scratch *es, const char *const *texts,
		       const size_t *lens, size_t nb, float *out)
{
	assert(nb <= es->rows);
	for (size_t r = 0; r < nb; r++) {
		assert(texts[r] || lens[r] == 0);
		int rc = sketch_row(m, &es->fs, texts[r], lens[r], es->x + r * (size_t)m->features);
		if (rc)
			return rc;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, m->dim, m->features, 1.0f,
		    es->x, m->features, m->proj, m->dim, 0.0f, out, m->dim);
	rows_normalise(out, nb, m->dim);
	return 0;
}

int model_embed(const struct model *m, const char *const *texts, const size_t *lens, size_t n,
		float *out)
{
	struct embed_scratch es;
	int rc;

	if (n == 0)
		return 0;
	rc = embed_scratch_init(&es, m, n < EMBED_BLOCK ? n : EMBED_BLOCK);
	if (rc)
		goto out;
	for (size_t i = 0; i < n; i += EMBED_BLOCK) {
		size_t nb = n - i < EMBED_BLOCK ? n - i : EMBED_BLOCK;
		rc = embed_block(m, &es, texts + i, lens + i, nb, out + i * (size_t)m->dim);
		if (rc)
			goto out;
	}
out:
	embed_scratch_release(&es);
	return rc;
}

int embed_docs(const struct model *m, struct doc **docs, size_t n)
{
	const char *texts[EMBED_BLOCK];
	size_t lens[EMBED_BLOCK];
	struct embed_scratch es;
	float *tmp = NULL;
	size_t total = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		total += docs[i]->n_chunks;
	rc = embed_scratch_init(&es, m, total < EMBED_BLOCK ? (total ? total : 1) : EMBED_BLOCK);
	if (rc)
		goto out;
	rc = RL_ENOMEM;
	tmp = malloc(es.rows * (size_t)m->dim * sizeof(float));
	if (!tmp)
		goto out;
	/* allocate every doc's vectors first, so a failure leaves no doc half-filled */
	for (size_t i = 0; i < n; i++) {
		struct doc *d = docs[i];
		free(d->vectors);
		d->vectors = NULL;
		d->dim = m->dim;
		if (d->n_chunks == 0)
			continue;
		d->vectors = malloc(d->n_chunks * (size_t)m->dim * sizeof(float));
		if (!d->vectors)
			goto out;
	}
	/* walk the chunks of all docs in blocks; (di, ci) is the next chunk to gather, (sd, sc)
	 * the next to receive its vector */
	size_t di = 0, ci = 0, sd = 0, sc = 0;
	for (;;) {
		size_t nb = 0;
		while (nb < EMBED_BLOCK && di < n) {
			struct doc *d = docs[di];
			if (ci >= d->n_chunks) {
				di++;
				ci = 0;
				continue;
			}
			const struct chunk *c = &d->chunks[ci++];
			assert(c->start <= c->end && c->end <= d->text_len);
			texts[nb] = d->text + c->start;
			lens[nb] = c->end - c->start;
			nb++;
		}
		if (nb == 0)
			break;
		rc = embed_block(m, &es, texts, lens, nb, tmp);
		if (rc)
			goto out;
		for (size_t r = 0; r < nb; r++) {
			while (sc >= docs[sd]->n_chunks) {
				sd++;
				sc = 0;
			}
			memcpy(docs[sd]->vectors + sc * (size_t)m->dim, tmp + r * (size_t)m->dim,
			       (size_t)m->dim * sizeof(float));
			sc++;
		}
	}
	rc = 0;
out:
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			free(docs[i]->vectors);
			docs[i]->vectors = NULL;
		}
	}
	free(tmp);
	embed_scratch_release(&es);
	return rc;
}

void embed_set_blas_threads(int n)
{
	if (n > 0)
		openblas_set_num_threads(n);
}

/* ---- serialisation --------------------------------------------------------------------- */

static int put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	return buf_append(b, p, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int put_f32s(struct buf *b, const float *v, size_t n)
{
	int rc = buf_reserve(b, n * 4);
	if (rc)
		return rc;
	unsigned char *p = (unsigned char *)b->data + b->len;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, v, n * 4);
#else
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		p[4 * i] = (unsigned char)u;
		p[4 * i + 1] = (unsigned char)(u >> 8);
		p[4 * i + 2] = (unsigned char)(u >> 16);
		p[4 * i + 3] = (unsigned char)(u >> 24);
	}
#endif
	b->len += n * 4;
	b->data[b->len] = '\0';
	return 0;
}

static void get_f32s(float *v, const unsigned char *p, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(v, p, n * 4);
#else
	for (size_t i = 0; i < n; i++) {
		uint32_t u = get_u32(p + 4 * i);
		memcpy(&v[i], &u, 4);
	}
#endif
}

int model_save(const struct model *m, struct buf *out)
{
	size_t start = out->len;
	size_t hlen = strlen(m->settings);
	int rc;

	rc = buf_append(out, MODEL_MAGIC, 8);
	if (!rc)
		rc = put_u32(out, MODEL_FORMAT);
	if (!rc)
		rc = put_u32(out, (uint32_t)hlen);
	if (!rc)
		rc = buf_append(out, m->settings, hlen);
	if (!rc)
		rc = put_f32s(out, m->idf, (size_t)m->features);
	if (!rc)
		rc = put_f32s(out, m->proj, (size_t)m->features * (size_t)m->dim);
	if (rc)
		goto out;
	XXH128_canonical_t sum;
	XXH128_canonicalFromHash(&sum, XXH3_128bits(out->data + start, out->len - start));
	rc = buf_append(out, sum.digest, sizeof(sum.digest));
out:
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

/* The header fields model_load needs, parsed without trusting them yet. */
struct header {
	int featurizer, dim, features, ng_min, ng_max, bigrams;
	uint64_t fit_docs, seed;
	char projection[16];
};

static int header_int(json_t *o, const char *key, long long lo, long long hi, long long *v)
{
	json_t *j = json_object_get(o, key);
	if (!json_is_integer(j))
		return -1;
	*v = json_integer_value(j);
	return *v < lo || *v > hi ? -1 : 0;
}

/* Returns NULL or what is wrong with the header (a static string or err itself). */
static const char *header_parse(const unsigned char *p, size_t n, struct header *h, char *err,
				size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb((const char *)p, n, 0, &je);
	const char *why = NULL;
	long long v;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "header is not a JSON object (%s)", je.text);
		why = err;
		goto out;
	}
	json_t *kind = json_object_get(o, "kind");
	if (!json_is_string(kind) || strcmp(json_string_value(kind), MODEL_KIND) != 0) {
		why = "model kind is not \"" MODEL_KIND "\"";
		goto out;
	}
	if (header_int(o, "featurizer", 0, INT32_MAX, &v)) {
		why = "header lacks \"featurizer\"";
		goto out;
	}
	h->featurizer = (int)v;
	if (header_int(o, "dim", 0, INT32_MAX, &v)) {
		why = "header lacks a valid \"dim\"";
		goto out;
	}
	h->dim = (int)v;
	if (header_int(o, "features", 0, INT32_MAX, &v)) {
		why = "header lacks a valid \"features\"";
		goto out;
	}
	h->features = (int)v;
	if (header_int(o, "char_ngram_min", 0, 64, &v)) {
		why = "header lacks a valid \"char_ngram_min\"";
		goto out;
	}
	h->ng_min = (int)v;
	if (header_int(o, "char_ngram_max", 0, 64, &v)) {
		why = "header lacks a valid \"char_ngram_max\"";
		goto out;
	}
	h->ng_max = (int)v;
	json_t *bg = json_object_get(o, "word_bigrams");
	if (!json_is_boolean(bg)) {
		why = "header lacks \"word_bigrams\"";
		goto out;
	}
	h->bigrams = json_is_true(bg);
	if (header_int(o, "fit_docs", 0, INT64_MAX, &v)) {
		why = "header lacks a valid \"fit_docs\"";
		goto out;
	}
	h->fit_docs = (uint64_t)v;
	/* the seed is a decimal string: JSON numbers lose 64-bit integers in many readers */
	json_t *seed = json_object_get(o, "seed");
	const char *s = json_is_string(seed) ? json_string_value(seed) : NULL;
	char *end = NULL;
	errno = 0;
	unsigned long long sv = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
	if (!s || !end || *end || errno) {
		why = "header lacks a valid \"seed\"";
		goto out;
	}
	h->seed = (uint64_t)sv;
	/* informational (the matrix itself is stored), but kept so that a re-save keeps it */
	json_t *pj = json_object_get(o, "projection");
	const char *ps = json_is_string(pj) ? json_string_value(pj) : NULL;
	if (!ps || !*ps || strlen(ps) >= sizeof(h->projection) ||
	    strspn(ps, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(ps)) {
		why = "header lacks a valid \"projection\"";
		goto out;
	}
	snprintf(h->projection, sizeof(h->projection), "%s", ps);
out:
	json_decref(o);
	return why;
}

static int all_finite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

static int load_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int load_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return RL_ERR;
}

int model_load(const void *data, size_t len, struct model **out, char *err, size_t errlen)
{
	const unsigned char *p = data;
	struct model *m = NULL;
	struct header h;
	char why_buf[256];
	int rc;

	*out = NULL;
	if (len < 8 || memcmp(p, MODEL_MAGIC, 8) != 0) {
		rc = load_fail(err, errlen, "not a ragload model file (bad magic)");
		goto out;
	}
	if (len < 8 + 4 + 4 + 16) {
		rc = load_fail(err, errlen, "model file is truncated (%zu bytes)", len);
		goto out;
	}
	uint32_t version = get_u32(p + 8);
	if (version != MODEL_FORMAT) {
		rc = load_fail(err, errlen,
			       "unsupported model format version %" PRIu32
			       " (this build reads version %d)",
			       version, MODEL_FORMAT);
		goto out;
	}
	size_t hlen = get_u32(p + 12);
	const char *why = hlen <= len - 32 ? header_parse(p + 16, hlen, &h, why_buf,
							  sizeof(why_buf))
					   : "header length exceeds the file";
	/* expected size, when the header is readable and sane enough to compute it */
	size_t want = 0;
	if (!why && !opts_problem(h.dim, h.features, h.ng_min, h.ng_max))
		want = 16 + hlen + 4 * (size_t)h.features * (1 + (size_t)h.dim) + 16;

	XXH128_canonical_t sum;
	XXH128_canonicalFromHash(&sum, XXH3_128bits(p, len - 16));
	if (memcmp(sum.digest, p + len - 16, 16) != 0) {
		if (want && want != len)
			rc = load_fail(err, errlen,
				       "checksum mismatch: file is truncated or has trailing bytes "
				       "(%zu bytes, its header implies %zu)",
				       len, want);
		else
			rc = load_fail(err, errlen, "checksum mismatch: file is corrupt");
		goto out;
	}
	if (why) {
		rc = load_fail(err, errlen, "bad model header: %s", why);
		goto out;
	}
	if (h.featurizer != MODEL_FEATURIZER) {
		rc = load_fail(err, errlen,
			       "unsupported featurizer %d (this build implements %d)",
			       h.featurizer, MODEL_FEATURIZER);
		goto out;
	}
	why = opts_problem(h.dim, h.features, h.ng_min, h.ng_max);
	if (why) {
		rc = load_fail(err, errlen, "bad model header: %s (dim %d, features %d)", why,
			       h.dim, h.features);
		goto out;
	}
	if (want != len) {
		rc = load_fail(err, errlen, "model sizes disagree with its header (%zu bytes, "
			       "header implies %zu)", len, want);
		goto out;
	}
	m = model_alloc(h.dim, h.features, h.ng_min, h.ng_max, h.bigrams);
	if (!m) {
		rc = load_fail(err, errlen, "out of memory loading a %zu-byte model", len);
		goto out;
	}
	m->seed = h.seed;
	m->fit_docs = h.fit_docs;
	memcpy(m->projection, h.projection, sizeof(m->projection));
	const unsigned char *q = p + 16 + hlen;
	get_f32s(m->idf, q, (size_t)h.features);
	q += 4 * (size_t)h.features;
	get_f32s(m->proj, q, (size_t)h.features * (size_t)h.dim);
	if (!all_finite(m->idf, (size_t)h.features) ||
	    !all_finite(m->proj, (size_t)h.features * (size_t)h.dim)) {
		rc = load_fail(err, errlen, "model weights are not all finite numbers");
		goto out;
	}
	rc = settings_build(m);
	if (rc) {
		rc = load_fail(err, errlen, "out of memory loading a model");
		goto out;
	}
	name_from_digest(m, p + len - 16);
	*out = m;
	m = NULL;
	rc = 0;
out:
	model_free(m);
	return rc;
}
