/*
 * test_embed.c — unit tests of the embedding models and the embed stage (models/model.c,
 * stages/embedding.c, models/contrastive.c, models/glove.c, the ragload.h API in
 * pipeline/embedcmd.c): vector
 * properties, normalisation insensitivity, the word splitter, the model file format and its
 * refusals, model_open and GloVe files, the bounded fit, embed_docs, and thread safety.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <xxhash.h>

#include "../../include/ragload.h"
#include "../../models/model.h"
#include "../../lib/blas.h"
#include "../../stages/embedding.h"
#include "../../stages/query.h"
#include "../../models/stems.h"

static const char *const corpus[] = {
	"The cat sat on the mat and looked at the garden.",
	"A small cat sleeps on a warm mat near the window.",
	"Dogs chase cats around the garden in the morning.",
	"Quantum chromodynamics describes the strong interaction between quarks and gluons.",
	"Lattice gauge theory computes hadron masses from first principles.",
	"PostgreSQL stores rows in heap pages; indexes point at tuples.",
	"The HNSW graph index trades build time for query speed.",
	"Aspirin reduces the risk of heart attack in some patients.",
	"Vitamin D deficiency is associated with bone fractures in older adults.",
	"Café culture in Paris: croissants, espresso and long conversations.",
	"Deep learning models need large training corpora and GPUs.",
	"Inverted indexes map each term to the documents that contain it.",
};

static struct model_opts small_opts(void)
{
	struct model_opts o = {
		.dim = 64,
		.features = 1024,
		.char_ngram_min = 3,
		.char_ngram_max = 5,
		.word_bigrams = 1,
		.seed = 42,
	};
	return o;
}

static struct model *fit_model(const struct model_opts *o, const char *const *texts, size_t n)
{
	struct model_fit *fit = NULL;
	struct model *m = NULL;
	assert_int_equal(model_fit_begin(o, &fit), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(model_fit_add(fit, texts[i], strlen(texts[i])), 0);
	assert_int_equal(model_fit_end(fit, &m), 0);
	assert_non_null(m);
	return m;
}

static struct model *fit_small(void)
{
	struct model_opts o = small_opts();
	return fit_model(&o, corpus, RL_ARRAY_LEN(corpus));
}

/* Embeds NUL-terminated strings; returns a malloc'd n x dim matrix. */
static float *embed_strs(const struct model *m, const char *const *texts, size_t n)
{
	size_t *lens = malloc(n * sizeof(*lens));
	float *out = malloc(n * (size_t)model_dim(m) * sizeof(float));
	assert_non_null(lens);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(texts[i]);
	assert_int_equal(model_embed(m, texts, lens, n, out), 0);
	free(lens);
	return out;
}

static float *embed_one(const struct model *m, const char *text)
{
	return embed_strs(m, &text, 1);
}

static double dot(const float *a, const float *b, int dim)
{
	double s = 0.0;
	for (int i = 0; i < dim; i++)
		s += (double)a[i] * b[i];
	return s;
}

static void assert_unit(const float *v, int dim)
{
	double n = sqrt(dot(v, v, dim));
	assert_true(fabs(n - 1.0) < 1e-5);
	for (int i = 0; i < dim; i++)
		assert_true(isfinite(v[i]));
}

/* Equal up to rounding: what a different batch composition may change. */
static void assert_close(const float *a, const float *b, int dim)
{
	for (int i = 0; i < dim; i++)
		assert_true(fabsf(a[i] - b[i]) < 1e-6f);
}

static void test_vectors_are_unit_length(void **state)
{
	(void)state;
	struct model *m = fit_small();
	size_t n = RL_ARRAY_LEN(corpus);
	float *v = embed_strs(m, corpus, n);
	for (size_t i = 0; i < n; i++)
		assert_unit(v + i * (size_t)model_dim(m), model_dim(m));
	free(v);
	model_free(m);
}

static void test_same_text_gives_identical_vector(void **state)
{
	(void)state;
	struct model *m = fit_small();
	int dim = model_dim(m);
	const char *t = corpus[3];
	float *a = embed_one(m, t);
	float *b = embed_one(m, t);
	assert_memory_equal(a, b, (size_t)dim * sizeof(float));
	/* in a batch the same bits as the same batch again, and as alone up to the last bits
	 * (BLAS picks its kernels by matrix shape, so the rounding may differ) */
	const char *batch[] = {corpus[0], t, corpus[5], t};
	float *c = embed_strs(m, batch, 4);
	float *d = embed_strs(m, batch, 4);
	assert_memory_equal(c, d, 4 * (size_t)dim * sizeof(float));
	assert_memory_equal(c + 1 * (size_t)dim, c + 3 * (size_t)dim, (size_t)dim * sizeof(float));
	assert_close(a, c + 1 * (size_t)dim, dim);
	free(d);
	free(a);
	free(b);
	free(c);
	model_free(m);
}

static void test_similar_texts_have_higher_cosine_than_unrelated(void **state)
{
	(void)state;
	struct model *m = fit_small();
	int dim = model_dim(m);
	const char *t[] = {
		"the cat sat on the mat",
		"a cat was sitting on a mat",
		"lattice gauge theory of quarks",
		"gauge theories on a lattice describe quark confinement",
	};
	float *v = embed_strs(m, t, 4);
	double cat_cat = dot(v, v + dim, dim);
	double cat_qcd = dot(v, v + 2 * dim, dim);
	double qcd_qcd = dot(v + 2 * dim, v + 3 * dim, dim);
	double qcd_cat = dot(v + 3 * dim, v + dim, dim);
	assert_true(cat_cat > cat_qcd);
	assert_true(cat_cat > qcd_cat);
	assert_true(qcd_qcd > cat_qcd);
	assert_true(qcd_qcd > qcd_cat);
	free(v);
	model_free(m);
}

static void test_fitted_idf_downweights_common_words(void **state)
{
	(void)state;
	/* "common" is in every fitted text, "quokka" in none */
	enum { N = 50 };
	char texts[N][64];
	const char *ptrs[N];
	for (int i = 0; i < N; i++) {
		snprintf(texts[i], sizeof(texts[i]), "common filler%d words%d", i, i * 13);
		ptrs[i] = texts[i];
	}
	struct model_opts o = small_opts();
	o.dim = 512;
	o.features = 4096;
	struct model *m = fit_model(&o, ptrs, N);
	int dim = model_dim(m);
	/* equally long words: without idf "both" would be about as close to either */
	const char *t[] = {"common quokka", "quokka", "common"};
	float *v = embed_strs(m, t, 3);
	assert_true(dot(v, v + dim, dim) > dot(v, v + 2 * dim, dim) + 0.3);
	free(v);
	model_free(m);
}

static void test_casefold_and_nfkc_insensitive(void **state)
{
	(void)state;
	struct model *m = fit_small();
	size_t sz = (size_t)model_dim(m) * sizeof(float);
	struct {
		const char *a, *b;
	} pairs[] = {
		/* fullwidth letters (NFKC) and upper case (casefold) */
		{"\xef\xbc\xa3\xef\xbd\x81\xef\xbd\x86\xc3\xa9 au lait", "caf\xc3\xa9 au lait"},
		{"CAF\xc3\x89 AU LAIT", "caf\xc3\xa9 au lait"},
		/* e + combining acute composes to the precomposed é, also after an ASCII letter */
		{"cafe\xcc\x81 au lait", "caf\xc3\xa9 au lait"},
		/* the fi ligature, and German sharp s casefolded to ss */
		{"\xef\xac\x81le stra\xc3\x9f" "e", "FILE STRASSE"},
		/* fullwidth digits and punctuation */
		{"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x81 Go", "123! go"},
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(pairs); i++) {
		float *a = embed_one(m, pairs[i].a);
		float *b = embed_one(m, pairs[i].b);
		assert_memory_equal(a, b, sz);
		free(a);
		free(b);
	}
	model_free(m);
}

static void test_empty_text_gives_unit_vector(void **state)
{
	(void)state;
	struct model *m = fit_small();
	int dim = model_dim(m);
	const char *t[] = {"", "  ... --- !!! \n\t", "the of and to"};
	size_t lens[] = {0, strlen(t[1]), strlen(t[2])};
	float *v = malloc(3 * (size_t)dim * sizeof(float));
	assert_int_equal(model_embed(m, t, lens, 3, v), 0);
	/* the first two have no features at all: the fixed vector e_0 */
	for (int r = 0; r < 2; r++) {
		assert_unit(v + r * dim, dim);
		assert_true(v[r * dim] == 1.0f);
	}
	/* stop words still have character n-grams */
	assert_unit(v + 2 * dim, dim);
	/* a NULL text of length 0 is empty too */
	const char *nul = NULL;
	size_t zero = 0;
	assert_int_equal(model_embed(m, &nul, &zero, 1, v), 0);
	assert_true(v[0] == 1.0f);
	free(v);
	model_free(m);
}

static void test_odd_input_is_handled(void **state)
{
	(void)state;
	struct model *m = fit_small();
	int dim = model_dim(m);
	/* invalid UTF-8, a huge word, a long run of non-ASCII letters and combining marks */
	size_t big = 20000;
	char *word = malloc(big + 1);
	char *cjk = malloc(3 * big + 1);
	char *marks = malloc(2 * big + 2);
	memset(word, 'x', big);
	word[big] = '\0';
	for (size_t i = 0; i < big; i++)
		memcpy(cjk + 3 * i, "\xe6\xbc\xa2", 3); /* 漢 */
	cjk[3 * big] = '\0';
	marks[0] = 'a';
	for (size_t i = 0; i < big; i++)
		memcpy(marks + 1 + 2 * i, "\xcc\x81", 2); /* combining acute */
	marks[1 + 2 * big] = '\0';
	const char *t[] = {"abc \xff\xfe def \xc3", word, cjk, marks, "caf\xc3\xa9\xcc"};
	float *v = embed_strs(m, t, RL_ARRAY_LEN(t));
	for (size_t i = 0; i < RL_ARRAY_LEN(t); i++)
		assert_unit(v + i * (size_t)dim, dim);
	free(v);
	free(word);
	free(cjk);
	free(marks);
	model_free(m);
}

static void test_long_words_are_split_not_cut(void **state)
{
	(void)state;
	/* text without spaces (Chinese) is one long word: its end must still count */
	struct model *m = fit_small();
	size_t sz = (size_t)model_dim(m) * sizeof(float);
	char a[3 * 200 + 4], b[3 * 200 + 4];
	for (int i = 0; i < 200; i++) {
		memcpy(a + 3 * i, "\xe6\xbc\xa2", 3);
		memcpy(b + 3 * i, "\xe6\xbc\xa2", 3);
	}
	memcpy(a + 600, "\xe5\xad\x97", 4); /* 字 */
	memcpy(b + 600, "\xe8\xaa\x9e", 4); /* 語 */
	float *va = embed_one(m, a);
	float *vb = embed_one(m, b);
	assert_memory_not_equal(va, vb, sz);
	free(va);
	free(vb);
	model_free(m);
}

static void save(const struct model *m, struct buf *b)
{
	buf_init(b, 0);
	assert_int_equal(model_save(m, b), 0);
	assert_true(b->len > 8);
}

static void test_save_load_round_trip_is_bit_identical(void **state)
{
	(void)state;
	struct model_opts o = small_opts();
	o.dim = 768;
	o.features = 4096;
	struct model *m = fit_model(&o, corpus, RL_ARRAY_LEN(corpus));
	struct buf b;
	save(m, &b);
	char err[256] = "";
	struct model *l = NULL;
	assert_int_equal(model_load(b.data, b.len, &l, err, sizeof(err)), 0);
	assert_non_null(l);
	assert_string_equal(model_name(m), model_name(l));
	assert_string_equal(model_settings_json(m), model_settings_json(l));
	assert_int_equal(model_dim(l), 768);

	const char *t[] = {corpus[0], corpus[4], corpus[9], "", "something not in the corpus"};
	float *a = embed_strs(m, t, RL_ARRAY_LEN(t));
	float *c = embed_strs(l, t, RL_ARRAY_LEN(t));
	assert_memory_equal(a, c, RL_ARRAY_LEN(t) * 768 * sizeof(float));

	/* saving the loaded model gives the very same bytes */
	struct buf b2;
	save(l, &b2);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);

	free(a);
	free(c);
	buf_release(&b);
	buf_release(&b2);
	model_free(m);
	model_free(l);
}

static void test_corrupted_byte_is_refused_with_checksum_message(void **state)
{
	(void)state;
	struct model *m = fit_small();
	struct buf b;
	save(m, &b);
	size_t where[] = {b.len / 2, b.len - 20, 20, b.len - 1};
	for (size_t i = 0; i < RL_ARRAY_LEN(where); i++) {
		char err[256] = "";
		struct model *l = (struct model *)&err; /* must be reset to NULL */
		b.data[where[i]] ^= 0x10;
		assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
		assert_null(l);
		assert_non_null(strstr(err, "checksum mismatch"));
		b.data[where[i]] ^= 0x10;
	}
	buf_release(&b);
	model_free(m);
}

static void test_truncated_file_is_refused(void **state)
{
	(void)state;
	struct model *m = fit_small();
	struct buf b;
	save(m, &b);
	size_t lens[] = {b.len - 1, b.len - 16, b.len / 2, 40, 16, 9, 0};
	for (size_t i = 0; i < RL_ARRAY_LEN(lens); i++) {
		char err[256] = "";
		struct model *l = NULL;
		assert_true(model_load(b.data, lens[i], &l, err, sizeof(err)) < 0);
		assert_null(l);
		assert_true(strlen(err) > 0);
	}
	/* where the header is intact, the message says what happened */
	char err[256] = "";
	struct model *l = NULL;
	assert_true(model_load(b.data, b.len - 100, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "truncated"));
	buf_release(&b);
	model_free(m);
}

static void test_wrong_magic_is_refused(void **state)
{
	(void)state;
	struct model *m = fit_small();
	struct buf b;
	save(m, &b);
	char err[256] = "";
	struct model *l = NULL;
	b.data[0] = 'X';
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_null(l);
	assert_non_null(strstr(err, "not a ragload model file"));
	const char junk[] = "{\"hello\": \"world\"}";
	assert_true(model_load(junk, sizeof(junk) - 1, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not a ragload model file"));
	buf_release(&b);
	model_free(m);
}

/* Builds a model file with a valid checksum around any header and payload, for the refusals
 * that only a well-formed but unacceptable file can reach. The payload is `zeros` zero bytes
 * after `pre` (if any). */
static void craft(struct buf *b, uint32_t version, const char *header, const void *pre,
		  size_t pre_len, size_t zeros)
{
	buf_init(b, 0);
	uint32_t hl = (uint32_t)strlen(header);
	uint64_t pl = pre_len + zeros;
	unsigned char v[4] = {(unsigned char)version, (unsigned char)(version >> 8),
			      (unsigned char)(version >> 16), (unsigned char)(version >> 24)};
	unsigned char h[4] = {(unsigned char)hl, (unsigned char)(hl >> 8), (unsigned char)(hl >> 16),
			      (unsigned char)(hl >> 24)};
	unsigned char l[8];
	for (int i = 0; i < 8; i++)
		l[i] = (unsigned char)(pl >> (8 * i));
	assert_int_equal(buf_append(b, "RAGLMODL", 8), 0);
	assert_int_equal(buf_append(b, v, 4), 0);
	assert_int_equal(buf_append(b, h, 4), 0);
	assert_int_equal(buf_append(b, header, hl), 0);
	assert_int_equal(buf_append(b, l, 8), 0);
	if (pre_len)
		assert_int_equal(buf_append(b, pre, pre_len), 0);
	assert_int_equal(buf_reserve(b, zeros), 0);
	memset(b->data + b->len, 0, zeros);
	b->len += zeros;
	XXH128_canonical_t sum;
	XXH128_canonicalFromHash(&sum, XXH3_128bits(b->data, b->len));
	assert_int_equal(buf_append(b, sum.digest, 16), 0);
}

#define HDR(dim, vocab, buckets)                                                                 \
	"{\"kind\":\"ragload-hash\",\"format\":2,\"featurizer\":4,\"dim\":" #dim                   \
	",\"vocab\":" #vocab ",\"oov_buckets\":" #buckets ",\"stem\":\"english\","                  \
	"\"projection\":\"contrastive\",\"seed\":\"1\"}"
/* the payload: vocab stem hashes (u64), idf and codes for vocab + 4096 bucket rows, scales */
#define ROWS(vocab) ((size_t)(vocab) + 4096)
#define PAYLOAD(dim, vocab) (8 * (size_t)(vocab) + 4 * ROWS(vocab) + 4u * (dim) + ROWS(vocab) * (dim))

static void test_bad_version_and_sizes_are_refused(void **state)
{
	(void)state;
	char err[512];
	struct model *l = NULL;
	struct buf b;

	/* a well-formed file is accepted (the crafting is right): no vocabulary, zero weights */
	craft(&b, 2, HDR(4, 0, 4096), NULL, 0, PAYLOAD(4, 0));
	assert_int_equal(model_load(b.data, b.len, &l, err, sizeof(err)), 0);
	assert_int_equal(model_dim(l), 4);
	assert_true(strncmp(model_name(l), "ragload-hash-v4-d4-", 19) == 0);
	model_free(l);
	l = NULL;
	buf_release(&b);

	/* format 1 (the old hashed model) is refused with what to do about it */
	craft(&b, 1, HDR(4, 0, 4096), NULL, 0, PAYLOAD(4, 0));
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "format version 1"));
	assert_non_null(strstr(err, "model fit"));
	buf_release(&b);

	craft(&b, 3, HDR(4, 0, 4096), NULL, 0, PAYLOAD(4, 0));
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "unsupported model format version 3"));
	buf_release(&b);

	/* featurizer 3, the LSA model of earlier builds: refused with the way out */
	craft(&b, 2, "{\"kind\":\"ragload-hash\",\"format\":2,\"featurizer\":3,\"dim\":4,"
		     "\"features\":16,\"idf_bits\":8}", NULL, 0, 8 + 256 + 16 + 64);
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "featurizer 3"));
	assert_non_null(strstr(err, "ragload reindex --refit"));
	buf_release(&b);

	/* an older featurizer of this format */
	craft(&b, 2, "{\"kind\":\"ragload-hash\",\"featurizer\":2}", NULL, 0, 0);
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "unsupported featurizer 2"));
	buf_release(&b);

	/* dim above pgvector's index limit */
	craft(&b, 2, HDR(2001, 0, 4096), NULL, 0, PAYLOAD(2001, 0));
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "dim"));
	buf_release(&b);

	/* sizes that disagree with the header, under a valid checksum */
	craft(&b, 2, HDR(4, 0, 4096), NULL, 0, PAYLOAD(4, 0) - 1);
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "sizes"));
	buf_release(&b);

	craft(&b, 2, HDR(4, 0, 100), NULL, 0, PAYLOAD(4, 0));
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "oov_buckets"));
	buf_release(&b);

	/* a vocabulary out of order (two equal hashes) */
	const uint64_t keys[2] = {7, 7};
	craft(&b, 2, HDR(4, 2, 4096), keys, sizeof(keys), PAYLOAD(4, 2) - sizeof(keys));
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "ascending"));
	buf_release(&b);

	/* a weight that is not a number */
	const float nan_idf[1] = {NAN};
	craft(&b, 2, HDR(4, 0, 4096), nan_idf, sizeof(nan_idf), PAYLOAD(4, 0) - sizeof(nan_idf));
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "finite"));
	buf_release(&b);

	craft(&b, 2, "not json", NULL, 0, 0);
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "header"));
	buf_release(&b);

	craft(&b, 2, "{\"kind\":\"word2vec\"}", NULL, 0, 16);
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "unknown model kind \"word2vec\""));
	buf_release(&b);

	/* a payload length that disagrees with the file */
	craft(&b, 2, HDR(4, 0, 4096), NULL, 0, PAYLOAD(4, 0));
	b.data[16 + strlen(HDR(4, 0, 4096))] ^= 1;
	assert_true(model_load(b.data, b.len, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "checksum"));
	buf_release(&b);
	assert_null(l);
}

static void test_fit_rejects_bad_options(void **state)
{
	(void)state;
	struct model_fit *fit = (struct model_fit *)&fit;
	struct model_opts o = small_opts();
	o.dim = 2001;
	assert_true(model_fit_begin(&o, &fit) < 0);
	assert_null(fit);
	o = small_opts();
	o.features = 8;   /* the vocabulary's size: 16..65536 */
	assert_true(model_fit_begin(&o, &fit) < 0);
	o = small_opts();
	o.features = 70000;
	assert_true(model_fit_begin(&o, &fit) < 0);
	model_fit_free(NULL);
	model_free(NULL);
}

static void test_name_and_settings_describe_the_fitted_model(void **state)
{
	(void)state;
	struct model *a = fit_small();
	struct model *b = fit_small();
	struct model_opts o = small_opts();
	struct model *c = fit_model(&o, corpus, 5); /* other weights, same settings */
	assert_string_equal(model_name(a), model_name(b));
	assert_string_not_equal(model_name(a), model_name(c));
	assert_true(strncmp(model_name(a), "ragload-hash-v4-d64-", 20) == 0);
	assert_int_equal(strlen(model_name(a)), 20 + 12);

	json_error_t je;
	json_t *j = json_loads(model_settings_json(a), 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "ragload-hash");
	assert_int_equal(json_integer_value(json_object_get(j, "format")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "featurizer")), 4);
	assert_string_equal(json_string_value(json_object_get(j, "stem")), "english");
	/* one-sentence texts without titles make no pair: the LSA projection */
	assert_string_equal(json_string_value(json_object_get(j, "projection")), "lsa");
	assert_int_equal(json_integer_value(json_object_get(j, "pairs")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "dim")), 64);
	assert_true(json_integer_value(json_object_get(j, "vocab")) > 50);
	assert_int_equal(json_integer_value(json_object_get(j, "oov_buckets")), 4096);
	assert_int_equal(json_integer_value(json_object_get(j, "fit_texts")),
			 (json_int_t)RL_ARRAY_LEN(corpus));
	assert_int_equal(json_integer_value(json_object_get(j, "sample_texts")),
			 (json_int_t)RL_ARRAY_LEN(corpus));
	assert_string_equal(json_string_value(json_object_get(j, "seed")), "42");
	json_decref(j);
	model_free(a);
	model_free(b);
	model_free(c);
}

static struct doc *make_doc(const char *text, const size_t (*ranges)[2], size_t n)
{
	struct doc *d = doc_new();
	assert_non_null(d);
	d->text = xstrdup(text);
	d->text_len = strlen(text);
	d->n_chunks = n;
	d->chunks = n ? calloc(n, sizeof(*d->chunks)) : NULL;
	for (size_t i = 0; i < n; i++) {
		d->chunks[i].start = ranges[i][0];
		d->chunks[i].end = ranges[i][1];
	}
	return d;
}

static void test_embed_docs_fills_vectors_equal_to_model_embed(void **state)
{
	(void)state;
	struct model *m = fit_small();
	int dim = model_dim(m);
	const char *t0 = "The cat sat on the mat. Quarks and gluons. Heap pages and tuples.";
	const size_t r0[][2] = {{0, 23}, {24, 42}, {43, 65}, {4, 30}};
	const char *t2 = "Aspirin and the heart.";
	const size_t r2[][2] = {{0, 22}};
	struct doc *docs[3] = {make_doc(t0, r0, 4), make_doc("no chunks here", NULL, 0),
			       make_doc(t2, r2, 1)};
	assert_int_equal(embed_docs(m, docs, 3), 0);
	/* the same texts in one model_embed call: the same bits */
	const char *all[5];
	size_t lens[5], k = 0;
	for (size_t i = 0; i < 3; i++)
		for (size_t c = 0; c < docs[i]->n_chunks; c++, k++) {
			all[k] = docs[i]->text + docs[i]->chunks[c].start;
			lens[k] = docs[i]->chunks[c].end - docs[i]->chunks[c].start;
		}
	assert_int_equal(k, 5);
	float *batch = malloc(5 * (size_t)dim * sizeof(float));
	assert_int_equal(model_embed(m, all, lens, 5, batch), 0);
	assert_memory_equal(docs[0]->vectors, batch, 4 * (size_t)dim * sizeof(float));
	assert_memory_equal(docs[2]->vectors, batch + 4 * (size_t)dim, (size_t)dim * sizeof(float));
	free(batch);
	/* each chunk alone: the same vector up to rounding */
	for (size_t i = 0; i < 3; i++) {
		struct doc *d = docs[i];
		assert_int_equal(d->dim, dim);
		assert_true(d->n_chunks == 0 || d->vectors != NULL);
		for (size_t c = 0; c < d->n_chunks; c++) {
			const char *p = d->text + d->chunks[c].start;
			size_t len = d->chunks[c].end - d->chunks[c].start;
			float *want = malloc((size_t)dim * sizeof(float));
			assert_int_equal(model_embed(m, &p, &len, 1, want), 0);
			assert_close(d->vectors + c * (size_t)dim, want, dim);
			assert_unit(d->vectors + c * (size_t)dim, dim);
			free(want);
		}
	}
	/* embedding again replaces the vectors (no leak, same values) */
	float first = docs[0]->vectors[0];
	assert_int_equal(embed_docs(m, docs, 3), 0);
	assert_true(docs[0]->vectors[0] == first);
	for (size_t i = 0; i < 3; i++)
		doc_free(docs[i]);
	assert_int_equal(embed_docs(m, NULL, 0), 0);
	model_free(m);
}

static void test_embed_docs_spans_blocks(void **state)
{
	(void)state;
	/* more chunks than one sgemm block, over several docs */
	struct model *m = fit_small();
	int dim = model_dim(m);
	enum { NDOC = 7, NCH = 100 };
	char text[NCH * 16 + 1];
	size_t ranges[NCH][2];
	for (int c = 0; c < NCH; c++) {
		snprintf(text + c * 16, 17, "word%04u things ", (unsigned)c % 10000u);
		ranges[c][0] = (size_t)c * 16;
		ranges[c][1] = (size_t)c * 16 + 15;
	}
	struct doc *docs[NDOC];
	for (int i = 0; i < NDOC; i++)
		docs[i] = make_doc(text, (const size_t(*)[2])ranges, i % 3 == 1 ? 0 : NCH);
	assert_int_equal(embed_docs(m, docs, NDOC), 0);
	float *want = malloc((size_t)dim * sizeof(float));
	for (int i = 0; i < NDOC; i++)
		for (size_t c = 0; c < docs[i]->n_chunks; c++) {
			const char *p = text + ranges[c][0];
			size_t len = 15;
			assert_int_equal(model_embed(m, &p, &len, 1, want), 0);
			assert_close(docs[i]->vectors + c * (size_t)dim, want, dim);
		}
	free(want);
	for (int i = 0; i < NDOC; i++)
		doc_free(docs[i]);
	model_free(m);
}

struct job {
	const struct model *m;
	const char **texts;
	size_t *lens;
	size_t n;
	float *out;
	int rc;
};

static void *embed_job(void *arg)
{
	struct job *j = arg;
	for (int rep = 0; rep < 3 && j->rc == 0; rep++)
		j->rc = model_embed(j->m, j->texts, j->lens, j->n, j->out);
	return NULL;
}

static void test_concurrent_embed_equals_single_threaded(void **state)
{
	(void)state;
	struct model_opts o = small_opts();
	o.dim = 256;
	o.features = 2048;
	struct model *m = fit_model(&o, corpus, RL_ARRAY_LEN(corpus));
	int dim = model_dim(m);
	enum { N = 600 };
	const char **texts = malloc(N * sizeof(*texts));
	size_t *lens = malloc(N * sizeof(*lens));
	char (*gen)[96] = malloc(N * sizeof(*gen));
	for (size_t i = 0; i < N; i++) {
		snprintf(gen[i], sizeof(gen[i]), "%s item %zu caf\xc3\xa9 %zu",
			 corpus[i % RL_ARRAY_LEN(corpus)], i, i * 7919);
		texts[i] = gen[i];
		lens[i] = strlen(gen[i]);
	}
	size_t sz = (size_t)N * (size_t)dim * sizeof(float);
	float *single = malloc(sz);
	assert_int_equal(model_embed(m, texts, lens, N, single), 0);

	struct job jobs[2];
	pthread_t th[2];
	for (int k = 0; k < 2; k++) {
		jobs[k] = (struct job){m, texts, lens, N, malloc(sz), 0};
		assert_int_equal(pthread_create(&th[k], NULL, embed_job, &jobs[k]), 0);
	}
	for (int k = 0; k < 2; k++) {
		assert_int_equal(pthread_join(th[k], NULL), 0);
		assert_int_equal(jobs[k].rc, 0);
		assert_memory_equal(jobs[k].out, single, sz);
		free(jobs[k].out);
	}
	free(single);
	free(gen);
	free(lens);
	free(texts);
	model_free(m);
}

/* ---- the word splitter -------------------------------------------------------------------- */

struct words {
	char out[512];
	int n;
};

static void collect(void *ctx, unsigned char *w, int n, int ncp)
{
	struct words *c = ctx;
	assert_true(w[-1] == '<');
	assert_true(ncp >= 1 && ncp <= n);
	size_t at = strlen(c->out);
	snprintf(c->out + at, sizeof(c->out) - at, "%s%.*s/%d", c->n ? " " : "", n, (char *)w, ncp);
	c->n++;
	memset(w + n, 'Z', 16); /* the callback may scribble after the word */
}

static void test_words_are_casefolded_nfkc_runs(void **state)
{
	(void)state;
	struct embed_words *ew = embed_words_new();
	assert_non_null(ew);
	struct {
		const char *in, *want;
	} cases[] = {
		{"Hello, World! x2", "hello/5 world/5 x2/2"},
		{"CAF\xc3\x89 cafe\xcc\x81", "caf\xc3\xa9/4 caf\xc3\xa9/4"},
		{"\xef\xac\x81le \xef\xbc\xa1\xef\xbc\xa2", "file/4 ab/2"},
		{"a\xff" "b", "a/1 b/1"},
		{"", ""},
		{"  --  ", ""},
		{"e\xcc\x81t\xc3\xa9", "\xc3\xa9t\xc3\xa9/3"},
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(cases); i++) {
		struct words c = {"", 0};
		assert_int_equal(embed_words(ew, cases[i].in, strlen(cases[i].in), collect, &c), 0);
		assert_string_equal(c.out, cases[i].want);
	}
	/* a word longer than EMBED_WORD_MAX bytes comes in pieces */
	char big[3 * EMBED_WORD_MAX];
	memset(big, 'q', sizeof(big));
	struct words c = {"", 0};
	assert_int_equal(embed_words(ew, big, sizeof(big), collect, &c), 0);
	assert_int_equal(c.n, 3);
	embed_words_free(ew);
	embed_words_free(NULL);
}

/* ---- model_open, GloVe files ---------------------------------------------------------------- */

static char *write_temp(const char *content, size_t len)
{
	char *path = strdup("/tmp/ragload-test-embed-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

static const char glove_text[] =
	"the 0.1 0.2 0.3\n"
	"cat 1.0 0.0 0.5\n"
	"dog 0.9 0.1 0.6\n"
	"quark -1.0 0.2 -0.4\n"
	"gluon -0.9 0.3 -0.5\n"
	"caf\xc3\xa9 0.0 1.0 0.0\n"
	"cat 5 5 5\n";   /* a repeated word keeps its first (more frequent) rank */

static void test_glove_model_opens_embeds_and_round_trips(void **state)
{
	(void)state;
	char *path = write_temp(glove_text, sizeof(glove_text) - 1);
	char spec[256], err[512] = "";
	snprintf(spec, sizeof(spec), "glove:%s", path);
	struct model *m = NULL;
	assert_int_equal(model_open(spec, &m, err, sizeof(err)), 0);
	assert_int_equal(model_dim(m), 3);
	assert_true(strncmp(model_name(m), "glove-d3-", 9) == 0);
	json_t *j = json_loads(model_settings_json(m), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "glove");
	assert_int_equal(json_integer_value(json_object_get(j, "words")), 7);
	json_decref(j);

	const char *t[] = {"The CAT", "a dog!", "Quarks and gluon", "CAF\xc3\x89", "zebra", ""};
	float *v = embed_strs(m, t, RL_ARRAY_LEN(t));
	for (size_t i = 0; i < RL_ARRAY_LEN(t); i++)
		assert_unit(v + 3 * i, 3);
	/* cat is near dog, far from gluon; unknown words and empty text give e_0 */
	assert_true(dot(v, v + 3, 3) > 0.9);
	assert_true(dot(v, v + 6, 3) < 0.0);
	assert_true(fabsf(v[9]) < 1e-6f && fabsf(v[10] - 1.0f) < 1e-6f);   /* café: its own */
	assert_true(v[12] == 1.0f && v[15] == 1.0f);
	/* "the" (rank 1) weighs less than "cat" (rank 2): "the cat" is nearer "cat" */
	const char *cat[] = {"cat", "the"};
	float *vc = embed_strs(m, cat, 2);
	assert_true(dot(v, vc, 3) > dot(v, vc + 3, 3) + 0.1);

	/* stored and loaded: the same vectors, bit for bit, and the same bytes again */
	struct buf b, b2;
	save(m, &b);
	struct model *l = NULL;
	assert_int_equal(model_load(b.data, b.len, &l, err, sizeof(err)), 0);
	assert_string_equal(model_name(m), model_name(l));
	float *w = embed_strs(l, t, RL_ARRAY_LEN(t));
	assert_memory_equal(v, w, RL_ARRAY_LEN(t) * 3 * sizeof(float));
	save(l, &b2);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	/* a corrupted GloVe model is refused like any model */
	b.data[b.len / 2] ^= 4;
	struct model *x = NULL;
	assert_true(model_load(b.data, b.len, &x, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "checksum mismatch"));
	buf_release(&b);
	buf_release(&b2);
	free(v);
	free(vc);
	free(w);
	model_free(m);
	model_free(l);
	unlink(path);
	free(path);
}

static void test_bad_glove_files_are_refused(void **state)
{
	(void)state;
	const char *bad[] = {
		"cat 1 2 3\ndog 1 2\n",      /* dimensions differ */
		"cat 1 2 x\n",               /* not a number */
		"cat 1 2 inf\n",             /* not finite */
		"cat\n",                     /* no vector */
		"",                          /* no words */
		" 1 2 3\n",                  /* no word */
	};
	const char *why[] = {"numbers, the first line had", "not a finite number",
			     "not a finite number", "expected", "no word vectors", "expected"};
	for (size_t i = 0; i < RL_ARRAY_LEN(bad); i++) {
		char *path = write_temp(bad[i], strlen(bad[i]));
		char spec[256], err[512] = "";
		snprintf(spec, sizeof(spec), "glove:%s", path);
		struct model *m = (struct model *)&err;
		assert_true(model_open(spec, &m, err, sizeof(err)) < 0);
		assert_null(m);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, why[i]));
		unlink(path);
		free(path);
	}
	char err[512] = "";
	struct model *m = NULL;
	assert_true(model_open("glove:/nonexistent/glove.txt", &m, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/glove.txt"));
	assert_true(model_open("/nonexistent/model.bin", &m, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/model.bin"));
}

static void test_model_open_reads_model_files(void **state)
{
	(void)state;
	struct model *m = fit_small();
	struct buf b;
	save(m, &b);
	char *path = write_temp(b.data, b.len);
	char err[512] = "";
	struct model *l = NULL;
	assert_int_equal(model_open(path, &l, err, sizeof(err)), 0);
	assert_string_equal(model_name(m), model_name(l));
	model_free(l);
	/* a corrupt file is refused, and the message names it */
	b.data[b.len / 3] ^= 1;
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	assert_true(model_open(path, &l, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "checksum mismatch"));
	unlink(path);
	free(path);
	buf_release(&b);
	model_free(m);
}

/* ---- fitting ------------------------------------------------------------------------------- */

static void collect_stem(void *ctx, uint64_t stem)
{
	struct { uint64_t v[16]; size_t n; } *c = ctx;
	if (c->n < 16)
		c->v[c->n++] = stem;
}

/* query_terms: models/stems.h's stems in text order, repeats kept, stop words skipped, as the
 * signed bigint PostgreSQL stores; its literal is a bigint[]. */
static void test_query_terms_are_the_stems(void **state)
{
	(void)state;
	const char *q = "The brains of THE brain, and a Brain's cells";
	int64_t *t = NULL;
	size_t n = 0;
	assert_int_equal(query_terms(q, strlen(q), &t, &n), 0);
	struct { uint64_t v[16]; size_t n; } c = {{0}, 0};
	struct stems *s = stems_new();
	assert_non_null(s);
	assert_int_equal(stems_each(s, q, strlen(q), collect_stem, &c), 0);
	stems_free(s);
	assert_int_equal(n, c.n);
	assert_int_equal(n, 5);  /* the, of, the, and, a skipped */
	for (size_t i = 0; i < n; i++)
		assert_true((uint64_t)t[i] == c.v[i]);
	assert_true(t[0] == t[1] && t[1] == t[2]);  /* brains, brain, Brain's: one stem */
	struct buf lit;
	buf_init(&lit, 0);
	assert_int_equal(query_terms_literal(t, n, &lit), 0);
	assert_true(lit.data[0] == '{' && lit.data[lit.len - 1] == '}');
	char want[32];
	snprintf(want, sizeof(want), "{%lld,", (long long)t[0]);
	assert_int_equal(strncmp(lit.data, want, strlen(want)), 0);
	buf_release(&lit);
	free(t);
	assert_int_equal(query_terms("the of and", 10, &t, &n), 0);
	assert_int_equal(n, 0);
	assert_null(t);
	assert_int_equal(query_terms(NULL, 0, &t, &n), 0);
	assert_int_equal(n, 0);
}

static void test_fit_sample_is_bounded(void **state)
{
	(void)state;
	/* more texts than the projection's sample holds: every one counts for idf, a uniform
	 * sample of 16384 for the projection */
	struct model_opts o = small_opts();
	o.dim = 16;
	o.features = 256;
	struct model_fit *fit = NULL;
	assert_int_equal(model_fit_begin(&o, &fit), 0);
	enum { N = 20000 };
	for (int i = 0; i < N; i++) {
		char t[64];
		snprintf(t, sizeof(t), "text %d about topic%d and word%d", i, i % 37, i % 101);
		assert_int_equal(model_fit_add(fit, t, strlen(t)), 0);
	}
	struct model *m = NULL;
	assert_int_equal(model_fit_end(fit, &m), 0);
	json_t *j = json_loads(model_settings_json(m), 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "fit_texts")), N);
	assert_int_equal(json_integer_value(json_object_get(j, "sample_texts")), 16384);
	json_decref(j);
	model_free(m);
}

/* A dozen documents of a few sentences, no titles: the fit pairs each sentence with the rest
 * of its document, trains, and a question about one topic finds its document. */
static const char *const tiny_docs[] = {
	"Cats sleep most of the day on warm mats. A cat purrs when it is content and calm. "
	"Kittens learn to hunt by playing with their siblings.",
	"Quarks are bound together by gluons in protons. The strong interaction is described by "
	"quantum chromodynamics. Lattice simulations compute hadron masses.",
	"PostgreSQL stores table rows in heap pages. Indexes point at tuples by their physical "
	"location. Vacuum reclaims the space of dead tuples.",
	"Aspirin lowers the risk of a heart attack in some patients. It thins the blood by "
	"blocking platelets. Bleeding in the stomach is its main risk.",
	"Vitamin D deficiency weakens bones in older adults. Sunlight lets the skin make vitamin "
	"D. Fractures of the hip are more common without it.",
	"Espresso is brewed by forcing hot water through fine coffee. A good shot has a thick "
	"crema on top. Baristas tune the grind to the bean.",
	"Glaciers carve valleys as they slide downhill. Ice ages left moraines across northern "
	"Europe. Melting glaciers raise the level of the sea.",
	"The violin has four strings tuned in fifths. Its bow is strung with horse hair and "
	"rosin. Stradivari built the most famous violins.",
	"Volcanoes erupt when magma rises through the crust. Lava flows bury fields and roads. "
	"Ash clouds from an eruption ground aircraft.",
	"Bees pollinate flowers while collecting nectar. A hive is ruled by a single queen. "
	"Honey is nectar the bees have concentrated.",
	"Chess openings aim to control the centre of the board. A gambit sacrifices a pawn for "
	"development. Endgames reward an active king.",
	"Sourdough bread rises with wild yeast and bacteria. The starter is fed flour and water "
	"daily. A long fermentation gives the crumb its sour taste.",
};

static void test_tiny_corpus_without_titles_fits_and_embeds(void **state)
{
	(void)state;
	struct model_opts o = small_opts();
	o.dim = 768;
	o.features = 32768;
	const size_t n = RL_ARRAY_LEN(tiny_docs);
	struct model *m = fit_model(&o, tiny_docs, n);
	json_t *j = json_loads(model_settings_json(m), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "projection")), "contrastive");
	assert_int_equal(json_integer_value(json_object_get(j, "pairs")), 3 * (json_int_t)n);
	json_decref(j);
	float *v = embed_strs(m, tiny_docs, n);
	for (size_t i = 0; i < n; i++)
		assert_unit(v + 768 * i, 768);
	const char *q[] = {"why do cats purr", "how is hadron mass computed", "what does vacuum do",
			   "does aspirin cause bleeding", "how to brew espresso", "sour bread starter"};
	const size_t want[] = {0, 1, 2, 3, 5, 11};
	float *qv = embed_strs(m, q, RL_ARRAY_LEN(q));
	for (size_t k = 0; k < RL_ARRAY_LEN(q); k++) {
		size_t best = 0;
		for (size_t i = 1; i < n; i++)
			if (dot(qv + 768 * k, v + 768 * i, 768) > dot(qv + 768 * k, v + 768 * best, 768))
				best = i;
		assert_int_equal(best, want[k]);
	}
	/* a word no document has still counts (it has a bucket row of its own) */
	float *a = embed_one(m, "cats quokka");
	float *b = embed_one(m, "cats");
	assert_true(dot(a, b, 768) < 0.99);
	free(a);
	free(b);
	free(qv);
	free(v);
	model_free(m);
}

/* A refit on the same texts gives the same bytes. */
static void test_refit_gives_the_same_bytes(void **state)
{
	(void)state;
	struct model_opts o = small_opts();
	o.dim = 128;
	struct model *a = fit_model(&o, tiny_docs, RL_ARRAY_LEN(tiny_docs));
	struct model *b = fit_model(&o, tiny_docs, RL_ARRAY_LEN(tiny_docs));
	struct buf ba, bb;
	buf_init(&ba, 0);
	buf_init(&bb, 0);
	assert_int_equal(model_save(a, &ba), 0);
	assert_int_equal(model_save(b, &bb), 0);
	assert_int_equal(ba.len, bb.len);
	assert_memory_equal(ba.data, bb.data, ba.len);
	assert_string_equal(model_name(a), model_name(b));
	buf_release(&ba);
	buf_release(&bb);
	model_free(a);
	model_free(b);
}

/* ---- the public API (ragload.h) ------------------------------------------------------------- */

static void test_public_api_embeds_like_the_pipeline(void **state)
{
	(void)state;
	struct model *m = fit_small();
	struct buf b;
	save(m, &b);
	struct ragload_model *r = NULL;
	char err[256];
	assert_int_equal(ragload_model_from_bytes(b.data, b.len, &r, err, sizeof(err)), 0);
	assert_string_equal(ragload_model_name(r), model_name(m));
	assert_int_equal(ragload_model_dim(r), 64);
	assert_non_null(strstr(ragload_model_settings(r), "ragload-hash"));
	/* the text is normalised first (here: decomposed é composed by NFC, a control dropped),
	 * then embedded alone */
	const char *raw = "cafe\xcc\x81 au\x01 lait", *nfc = "caf\xc3\xa9 au lait";
	size_t rl = strlen(raw), nl = strlen(nfc);
	float got[64], want[64];
	assert_int_equal(ragload_embed(r, &raw, &rl, 1, got), 0);
	assert_int_equal(model_embed(m, &nfc, &nl, 1, want), 0);
	assert_memory_equal(got, want, sizeof(got));
	/* a batch gives each text's single vector */
	const char *two[] = {corpus[1], raw};
	size_t tl[] = {strlen(corpus[1]), rl};
	float pair[128];
	assert_int_equal(ragload_embed(r, two, tl, 2, pair), 0);
	assert_memory_equal(pair + 64, got, sizeof(got));

	/* literals read back to the same floats; the length is reported as snprintf does */
	char lit[64 * 16 + 3];
	int n = ragload_vector_literal(got, 64, lit, sizeof(lit));
	assert_true(n > 0 && (size_t)n == strlen(lit) && lit[0] == '[' && lit[n - 1] == ']');
	char *p = lit + 1;
	for (int i = 0; i < 64; i++) {
		char *end;
		float x = strtof(p, &end);
		assert_memory_equal(&x, &got[i], sizeof(float));
		p = end + 1;
	}
	char small[8];
	assert_int_equal(ragload_vector_literal(got, 64, small, sizeof(small)), n);
	assert_int_equal(strlen(small), 7);
	assert_true(ragload_vector_literal(got, 0, lit, sizeof(lit)) < 0);

	struct ragload_model *bad = NULL;
	b.data[10] ^= 1;
	assert_true(ragload_model_from_bytes(b.data, b.len, &bad, err, sizeof(err)) < 0);
	assert_null(bad);
	ragload_model_free(NULL);
	ragload_model_free(r);
	buf_release(&b);
	model_free(m);
}

int main(void)
{
	/* one BLAS thread: OpenBLAS's own worker threads hand work over in ways ThreadSanitizer
	 * cannot see (false reports); test_concurrent_embed_equals_single_threaded runs two
	 * embedding threads of our own */
	blas_set_threads(1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_are_unit_length),
		cmocka_unit_test(test_same_text_gives_identical_vector),
		cmocka_unit_test(test_similar_texts_have_higher_cosine_than_unrelated),
		cmocka_unit_test(test_fitted_idf_downweights_common_words),
		cmocka_unit_test(test_casefold_and_nfkc_insensitive),
		cmocka_unit_test(test_empty_text_gives_unit_vector),
		cmocka_unit_test(test_odd_input_is_handled),
		cmocka_unit_test(test_long_words_are_split_not_cut),
		cmocka_unit_test(test_save_load_round_trip_is_bit_identical),
		cmocka_unit_test(test_corrupted_byte_is_refused_with_checksum_message),
		cmocka_unit_test(test_truncated_file_is_refused),
		cmocka_unit_test(test_wrong_magic_is_refused),
		cmocka_unit_test(test_bad_version_and_sizes_are_refused),
		cmocka_unit_test(test_fit_rejects_bad_options),
		cmocka_unit_test(test_name_and_settings_describe_the_fitted_model),
		cmocka_unit_test(test_embed_docs_fills_vectors_equal_to_model_embed),
		cmocka_unit_test(test_embed_docs_spans_blocks),
		cmocka_unit_test(test_concurrent_embed_equals_single_threaded),
		cmocka_unit_test(test_words_are_casefolded_nfkc_runs),
		cmocka_unit_test(test_glove_model_opens_embeds_and_round_trips),
		cmocka_unit_test(test_bad_glove_files_are_refused),
		cmocka_unit_test(test_model_open_reads_model_files),
		cmocka_unit_test(test_fit_sample_is_bounded),
		cmocka_unit_test(test_query_terms_are_the_stems),
		cmocka_unit_test(test_tiny_corpus_without_titles_fits_and_embeds),
		cmocka_unit_test(test_refit_gives_the_same_bytes),
		cmocka_unit_test(test_public_api_embeds_like_the_pipeline),
	};
	return cmocka_run_group_tests_name("embed", tests, NULL, NULL);
}
