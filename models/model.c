/*
 * model.c — the model interface (kinds, file format, model_open) and the word splitter every
 * kind shares.
 *
 * What: a struct model is a kind (models/contrastive.c, models/glove.c: the table below) plus the
 * kind's immutable state. This file owns what is common to all kinds: the file container,
 * the name, dispatch and the words of a text. The embed stage (stages/embedding.c) feeds the
 * chunks of many documents through model_embed() in blocks.
 *
 * File format 2 (little-endian): "RAGLMODL", u32 format version (2), u32 header length, the
 * header (the settings JSON: "kind" and everything that decides how text becomes a vector),
 * u64 payload length, the kind's payload, then the XXH3-128 (canonical, big-endian bytes) of
 * everything before it. The model's name is "<kind prefix>-<first 12 hex digits of that
 * checksum>", so it changes whenever anything fitted does and a corpus names its model
 * exactly. Format 1 (the hashed model of featurizer 1, one fixed layout) is refused with a
 * message that says how to get a current model: its features are computed differently, so
 * reading it would give vectors unlike the ones its corpus holds.
 *
 * Why a container with a kind-specific payload: a new kind needs no new file format, and the
 * checks that protect every kind (magic, version, checksum, sizes) live in one place.
 *
 * Words: runs of letters, marks and numbers of the NFKC-casefolded text. ASCII bytes are
 * lowercased by a table; only runs of non-ASCII bytes go through utf8proc, one byte early when
 * an ASCII letter precedes the run so that "e" + U+0301 composes to "é" exactly as a
 * precomposed "é" would (the result equals normalising the whole text first).
 */
#include "model.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <utf8proc.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define MODEL_MAGIC "RAGLMODL"
#define MODEL_FORMAT MODEL_FILE_FORMAT
#define MODEL_FILE_MAX (1ull << 30)  /* bytea holds at most 1 GB: a bigger model cannot be stored */
#define SPAN_MAX 1024                /* bytes of non-ASCII text normalised per utf8proc call */

#define UTF8_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD)

/* ---- the kinds ------------------------------------------------------------------------- */

extern const struct model_kind model_kind_contrastive;   /* models/contrastive.c */
extern const struct model_kind model_kind_glove;    /* models/glove.c */

/* The one table of kinds: a new kind is a new file in models/ and one line here. */
static const struct model_kind *const kinds[] = {
	&model_kind_contrastive,
	&model_kind_glove,
};

/* ---- small helpers shared with the kinds ------------------------------------------------ */

int embed_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return RL_ERR;
}

int embed_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	return buf_append(b, p, 4);
}

uint32_t embed_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int embed_put_f32s(struct buf *b, const float *v, size_t n)
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

void embed_get_f32s(float *v, const unsigned char *p, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(v, p, n * 4);
#else
	for (size_t i = 0; i < n; i++) {
		uint32_t u = embed_get_u32(p + 4 * i);
		memcpy(&v[i], &u, 4);
	}
#endif
}

int embed_all_finite(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

void *embed_alloc_big(size_t n)
{
	const size_t huge = (size_t)2 << 20;
	if (n < huge)
		return malloc(n ? n : 1);
	void *p = aligned_alloc(huge, (n + huge - 1) / huge * huge);
#ifdef MADV_HUGEPAGE
	if (p)
		madvise(p, (n + huge - 1) / huge * huge, MADV_HUGEPAGE);   /* a hint: failure is fine */
#endif
	return p;
}

void embed_rows_normalise(float *out, size_t n, int dim)
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

/* ---- words ------------------------------------------------------------------------------ */

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

struct embed_words {
	unsigned char w[EMBED_WORD_MAX + 24];  /* '<' word, then 16+ bytes of callback scratch */
	int wlen;                              /* bytes in w, '<' included */
	int ncp;                               /* code points in the word */
	utf8proc_int32_t *u;                   /* utf8proc code point buffer (grown, bounded) */
	size_t ucap;
	embed_word_fn fn;
	void *ctx;
};

struct embed_words *embed_words_new(void)
{
	struct embed_words *ew = calloc(1, sizeof(*ew));
	if (ew) {
		ew->w[0] = '<';
		ew->wlen = 1;
	}
	return ew;
}

void embed_words_free(struct embed_words *ew)
{
	if (!ew)
		return;
	free(ew->u);
	free(ew);
}

static void words_end(struct embed_words *ew)
{
	if (ew->wlen > 1)
		ew->fn(ew->ctx, ew->w + 1, ew->wlen - 1, ew->ncp);
	ew->wlen = 1;
	ew->ncp = 0;
}

/* A word longer than EMBED_WORD_MAX bytes is cut into pieces, each a word: nothing is lost
 * (text without spaces, such as Chinese, is one long "word") and the work per word stays
 * bounded. */
static inline void words_put_ascii(struct embed_words *ew, unsigned char c)
{
	if (ew->wlen >= EMBED_WORD_MAX + 1)
		words_end(ew);
	ew->w[ew->wlen++] = c;
	ew->ncp++;
}

static void words_put_cp(struct embed_words *ew, utf8proc_int32_t cp)
{
	unsigned char tmp[4];
	int n = (int)utf8proc_encode_char(cp, tmp);
	if (n <= 0)
		return;
	if (ew->wlen + n > EMBED_WORD_MAX + 1)
		words_end(ew);
	memcpy(ew->w + ew->wlen, tmp, (size_t)n);
	ew->wlen += n;
	ew->ncp++;
}

/* Letters, marks and numbers make words, as in chunk_count_tokens(). */
static int cp_is_word(utf8proc_int32_t cp)
{
	utf8proc_category_t c = utf8proc_category(cp);
	return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO;
}

/* Normalises one span and feeds its code points to the current word. Returns 0, 1 when the
 * span is not valid UTF-8 (nothing consumed), or RL_ENOMEM. */
static int words_span_norm(struct embed_words *ew, const unsigned char *p, size_t len)
{
	utf8proc_ssize_t n;
	if (!ew->u) {
		/* enough for a whole span of ASCII-sized characters; grown below if needed (NFKC
		 * expands a character at most 18-fold, so a span stays under 19 * SPAN_MAX) */
		ew->u = malloc((SPAN_MAX + 2) * sizeof(*ew->u));
		if (!ew->u)
			return RL_ENOMEM;
		ew->ucap = SPAN_MAX + 2;
	}
	for (;;) {
		n = utf8proc_decompose(p, (utf8proc_ssize_t)len, ew->u, (utf8proc_ssize_t)ew->ucap,
				       UTF8_OPTS);
		if (n < 0 || (size_t)n <= ew->ucap)
			break;
		utf8proc_int32_t *u = realloc(ew->u, ((size_t)n + 1) * sizeof(*u));
		if (!u)
			return RL_ENOMEM;
		ew->u = u;
		ew->ucap = (size_t)n + 1;
	}
	if (n >= 0)
		n = utf8proc_normalize_utf32(ew->u, n, UTF8_OPTS);
	if (n < 0)
		return 1;
	for (utf8proc_ssize_t k = 0; k < n; k++) {
		utf8proc_int32_t cp = ew->u[k];
		if (cp < 0x80) {
			unsigned char c = ascii_word[cp];
			if (c)
				words_put_ascii(ew, c);
			else
				words_end(ew);
		} else if (cp_is_word(cp)) {
			words_put_cp(ew, cp);
		} else {
			words_end(ew);
		}
	}
	return 0;
}

/* A non-ASCII span. Text that is not UTF-8 (queries come from anywhere) is split at each
 * invalid byte, which separates words, and the valid stretches are normalised. */
static int words_span(struct embed_words *ew, const unsigned char *p, size_t len)
{
	int rc = words_span_norm(ew, p, len);
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
		if (i > start && (rc = words_span_norm(ew, p + start, i - start)) < 0)
			return rc;
		words_end(ew);
		i++;
		start = i;
	}
	/* utf8proc_decompose validates as utf8proc_iterate does: valid stretches never give 1 */
	if (i > start && (rc = words_span_norm(ew, p + start, i - start)) < 0)
		return rc;
	return 0;
}

int embed_words(struct embed_words *ew, const char *text, size_t len, embed_word_fn fn,
		void *ctx)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;
	int rc = 0;

	ew->fn = fn;
	ew->ctx = ctx;
	ew->wlen = 1;
	ew->ncp = 0;
	while (i < len) {
		unsigned char c = p[i];
		if (c < 0x80) {
			unsigned char l = ascii_word[c];
			if (l)
				words_put_ascii(ew, l);
			else
				words_end(ew);
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
			assert(ew->wlen > 1 && ew->w[ew->wlen - 1] == ascii_word[p[start - 1]]);
			ew->wlen--;
			ew->ncp--;
			start--;
		}
		rc = words_span(ew, p + start, end - start);
		if (rc)
			goto out;
		i = end;
	}
	words_end(ew);
out:
	return rc;
}

/* ---- models ----------------------------------------------------------------------------- */

struct model *model_new(const struct model_kind *k)
{
	struct model *m = calloc(1, sizeof(*m));
	if (m)
		m->kind = k;
	return m;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	if (m->impl && m->kind && m->kind->release)
		m->kind->release(m->impl);
	free(m->settings);
	free(m);
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

int model_embed(const struct model *m, const char *const *texts, const size_t *lens, size_t n,
		float *out)
{
	if (n == 0)
		return 0;
	return m->kind->embed(m, texts, lens, n, out);
}

/* ---- the file container ----------------------------------------------------------------- */

int model_save(const struct model *m, struct buf *out)
{
	size_t start = out->len;
	size_t hlen = strlen(m->settings);
	int rc;

	rc = buf_append(out, MODEL_MAGIC, 8);
	if (!rc)
		rc = embed_put_u32(out, MODEL_FORMAT);
	if (!rc)
		rc = embed_put_u32(out, (uint32_t)hlen);
	if (!rc)
		rc = buf_append(out, m->settings, hlen);
	/* the payload length, filled in once the kind has written it */
	size_t at = out->len;
	if (!rc)
		rc = embed_put_u32(out, 0);
	if (!rc)
		rc = embed_put_u32(out, 0);
	if (!rc)
		rc = m->kind->save_payload(m, out);
	if (rc)
		goto out;
	uint64_t plen = (uint64_t)(out->len - at - 8);
	for (int i = 0; i < 8; i++)
		out->data[at + (size_t)i] = (char)(unsigned char)(plen >> (8 * i));
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

/* Appends "-<12 hex digits of the checksum>" to the kind's name prefix. */
static void name_from_digest(struct model *m, const unsigned char digest[16])
{
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	size_t n = strnlen(m->name, sizeof(m->name));
	snprintf(m->name + n, sizeof(m->name) - n, "-%.12s", hex);
}

int model_finish(struct model *m)
{
	struct buf b;
	buf_init(&b, MODEL_FILE_MAX);
	int rc = model_save(m, &b);
	if (rc == 0)
		name_from_digest(m, (const unsigned char *)b.data + b.len - 16);
	buf_release(&b);
	return rc;
}

/* The kind named in the header, or NULL with the reason in err. */
static const struct model_kind *header_kind(const unsigned char *h, size_t n, char *err,
					    size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb((const char *)h, n, 0, &je);
	const struct model_kind *k = NULL;
	if (!json_is_object(o)) {
		embed_fail(err, errlen, "bad model header: not a JSON object (%s)", je.text);
		goto out;
	}
	const char *name = json_string_value(json_object_get(o, "kind"));
	if (!name) {
		embed_fail(err, errlen, "bad model header: no \"kind\"");
		goto out;
	}
	for (size_t i = 0; i < RL_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i]->kind, name) == 0)
			k = kinds[i];
	if (!k)
		embed_fail(err, errlen, "unknown model kind \"%.64s\" (this build knows "
			   "ragload-hash and glove)", name);
out:
	json_decref(o);
	return k;
}

int model_load(const void *data, size_t len, struct model **out, char *err, size_t errlen)
{
	const unsigned char *p = data;
	struct model *m = NULL;
	int rc = RL_ERR;

	*out = NULL;
	if (len < 8 || memcmp(p, MODEL_MAGIC, 8) != 0) {
		embed_fail(err, errlen, "not a ragload model file (bad magic)");
		goto out;
	}
	if (len < 12) {
		embed_fail(err, errlen, "model file is truncated (%zu bytes)", len);
		goto out;
	}
	uint32_t version = embed_get_u32(p + 8);
	if (version == 1) {
		embed_fail(err, errlen, "model format version 1 (the hashed model of featurizer 1) "
			   "is no longer read: its vectors cannot be reproduced by this build; fit a "
			   "new model (`ragload model fit`, or `ragload reindex --refit`)");
		goto out;
	}
	if (version != MODEL_FORMAT) {
		embed_fail(err, errlen, "unsupported model format version %" PRIu32
			   " (this build reads version %d)", version, MODEL_FORMAT);
		goto out;
	}
	if (len < 8 + 4 + 4 + 8 + 16) {
		embed_fail(err, errlen, "model file is truncated (%zu bytes)", len);
		goto out;
	}
	size_t hlen = embed_get_u32(p + 12);
	int sizes_ok = hlen <= len - 40;
	uint64_t plen = 0;
	if (sizes_ok) {
		plen = (uint64_t)embed_get_u32(p + 16 + hlen) |
		       (uint64_t)embed_get_u32(p + 20 + hlen) << 32;
		sizes_ok = plen == len - 40 - hlen;
	}
	XXH128_canonical_t sum;
	XXH128_canonicalFromHash(&sum, XXH3_128bits(p, len - 16));
	if (memcmp(sum.digest, p + len - 16, 16) != 0) {
		if (!sizes_ok)
			embed_fail(err, errlen, "checksum mismatch: file is truncated, has trailing "
				   "bytes or is corrupt (%zu bytes)", len);
		else
			embed_fail(err, errlen, "checksum mismatch: file is corrupt");
		goto out;
	}
	if (!sizes_ok) {
		embed_fail(err, errlen, "model sizes disagree with its header (%zu bytes)", len);
		goto out;
	}
	const struct model_kind *k = header_kind(p + 16, hlen, err, errlen);
	if (!k)
		goto out;
	m = model_new(k);
	if (!m || !(m->settings = xstrndup((const char *)p + 16, hlen))) {
		embed_fail(err, errlen, "out of memory loading a %zu-byte model", len);
		goto out;
	}
	rc = k->load(m, (const char *)p + 16, hlen, p + 24 + hlen, (size_t)plen, err, errlen);
	if (rc)
		goto out;
	assert(m->dim >= 1 && m->dim <= MODEL_MAX_DIM && m->impl);
	name_from_digest(m, p + len - 16);
	*out = m;
	m = NULL;
	rc = 0;
out:
	model_free(m);
	return rc ? RL_ERR : 0;
}

/* Reads a whole file, refusing more than MODEL_FILE_MAX bytes. */
static int read_file(const char *path, struct buf *b, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return embed_fail(err, errlen, "%s: cannot open model file", path);
	char tmp[65536];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		rc = buf_append(b, tmp, n);
	if (!rc && ferror(f))
		rc = embed_fail(err, errlen, "%s: read error", path);
	else if (rc == RL_ELIMIT)
		rc = embed_fail(err, errlen, "%s: larger than %llu bytes: not a model file", path,
				(unsigned long long)MODEL_FILE_MAX);
	else if (rc)
		rc = embed_fail(err, errlen, "%s: out of memory", path);
	fclose(f);
	return rc;
}

int model_open(const char *spec, struct model **out, char *err, size_t errlen)
{
	struct buf b;
	char why[512];
	int rc;

	*out = NULL;
	for (size_t i = 0; i < RL_ARRAY_LEN(kinds); i++) {
		const char *pre = kinds[i]->spec_prefix;
		size_t n = pre ? strlen(pre) : 0;
		if (n && strncmp(spec, pre, n) == 0 && spec[n] == ':')
			return kinds[i]->open_spec(spec + n + 1, out, err, errlen);
	}
	buf_init(&b, MODEL_FILE_MAX);
	rc = read_file(spec, &b, err, errlen);
	if (rc)
		goto out;
	rc = model_load(b.data, b.len, out, why, sizeof(why));
	if (rc)
		embed_fail(err, errlen, "%s: %s", spec, why);
out:
	buf_release(&b);
	return rc;
}
