/*
 * fuzz_extension.c — the PostgreSQL extension's C core (extension/core.h), as ragload_embed,
 * ragload_terms and ragload_search call it, and the model bytes it loads from ragload_models.
 *
 * The first byte picks what the rest is:
 *   even: a query's text. ext_query with a built-in model (64 dimensions, fitted once at
 *         start on fixed sentences) must return 0 and a unit vector of finite floats whose literal
 *         reads back to the very floats, and as many terms as the text has stems; the same
 *         text without a vector gives the same terms.
 *   odd:  model bytes as stored. model_load must refuse them with a message, or give a model
 *         that embeds a query into a unit vector. Odd inputs whose second byte is odd patch
 *         the stored bytes of a small GloVe model instead (offset from the next two bytes),
 *         so that the loader sees inputs near a valid file.
 */
#include "fuzz.h"
#include "../../extension/core.h"
#include "../../lib/config.h"

#include <math.h>

static const char *const sentences[] = {
	"Aspirin lowers the risk of heart attacks in adults over fifty.",
	"Vitamin D deficiency is common in northern countries during winter.",
	"The heart pumps blood through arteries and veins to every organ.",
	"Randomised trials compare a treatment with a placebo in patients.",
	"Statins reduce cholesterol and the risk of cardiovascular events.",
	"Cells divide by mitosis; errors in division can lead to cancer.",
	"Sleep deprivation impairs memory, attention and glucose tolerance.",
	"Antibiotic resistance spreads when bacteria exchange plasmids.",
	"Exercise improves insulin sensitivity in people with diabetes.",
	"Smoking damages the lungs and raises the risk of lung cancer.",
	"Vaccines train the immune system to recognise a pathogen.",
	"Obesity is associated with inflammation and heart disease.",
};

static struct model *built_in;
static struct buf glove_bytes;

static void setup(void)
{
	struct rl_config c;
	struct model_fit *fit;
	struct model *g;
	char err[256];
	if (built_in)
		return;
	config_defaults(&c);
	/* a small model of the built-in kind: the fit runs in a second even instrumented */
	c.model.dim = 64;
	c.model.features = 4096;
	c.model.blas_threads = 1;
	FUZZ_CHECK(model_fit_begin(&c.model, &fit) == 0);
	for (int r = 0; r < 4; r++)
		for (size_t i = 0; i < sizeof(sentences) / sizeof(*sentences); i++)
			FUZZ_CHECK(model_fit_add(fit, sentences[i], strlen(sentences[i])) == 0);
	FUZZ_CHECK(model_fit_end(fit, &built_in) == 0);
	static const char glove[] = "aspirin 0.1 0.2 -0.3 0.4\nheart 0.5 -0.1 0.0 0.2\n"
				    "the 0.01 0.02 0.03 0.04\nattack -0.2 0.3 0.1 0.9\n";
	char spec[600];
	snprintf(spec, sizeof(spec), "glove:%s",
		 fuzz_file("g.txt", (const uint8_t *)glove, sizeof(glove) - 1));
	FUZZ_CHECK(model_open(spec, &g, err, sizeof(err)) == 0);
	buf_init(&glove_bytes, 0);
	FUZZ_CHECK(model_save(g, &glove_bytes) == 0);
	model_free(g);
}

/* ext_query's vector and literal checked; returns the terms' count. */
static size_t check_query(const struct model *m, const char *t, size_t n)
{
	int dim = model_dim(m);
	float *v = malloc((size_t)dim * sizeof(float));
	char *lit = malloc(EXT_LITERAL_MAX(dim));
	int64_t *terms = NULL, *terms2 = NULL;
	size_t nt = 0, nt2 = 0;
	FUZZ_CHECK(v && lit);
	FUZZ_CHECK(ext_query(m, t, n, v, lit, &terms, &nt) == 0);
	double norm = 0;
	for (int i = 0; i < dim; i++) {
		FUZZ_CHECK(isfinite(v[i]));
		norm += (double)v[i] * v[i];
	}
	FUZZ_CHECK(fabs(norm - 1) < 1e-3);
	/* the literal reads back to the very floats, as pgvector's input will read it */
	FUZZ_CHECK(lit[0] == '[');
	char *p = lit + 1;
	for (int i = 0; i < dim; i++) {
		char *end;
		float x = strtof(p, &end);
		FUZZ_CHECK(end != p && memcmp(&x, &v[i], sizeof(x)) == 0);
		FUZZ_CHECK(*end == (i + 1 < dim ? ',' : ']'));
		p = end + 1;
	}
	FUZZ_CHECK(*p == '\0');
	FUZZ_CHECK((nt == 0) == (terms == NULL));
	FUZZ_CHECK(ext_query(m, t, n, NULL, NULL, &terms2, &nt2) == 0);
	FUZZ_CHECK(nt2 == nt && (nt == 0 || memcmp(terms, terms2, nt * sizeof(*terms)) == 0));
	free(terms);
	free(terms2);
	free(lit);
	free(v);
	return nt;
}

/* libFuzzer: the fit before the first input, outside its per-input timeout (the replay
 * driver fits at the first input) */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	const char *rest = (const char *)data + 1;
	size_t n = size - 1;
	if ((data[0] & 1) == 0) {
		check_query(built_in, rest, n);
		return 0;
	}
	const void *bytes = rest;
	size_t len = n;
	char *patched = NULL;
	if (n >= 3 && (data[1] & 1)) {
		size_t at = ((size_t)(uint8_t)rest[1] << 8 | (uint8_t)rest[2]) % glove_bytes.len;
		patched = malloc(glove_bytes.len);
		FUZZ_CHECK(patched != NULL);
		memcpy(patched, glove_bytes.data, glove_bytes.len);
		for (size_t i = 3; i < n && at < glove_bytes.len; i++)
			patched[at++] ^= rest[i];
		bytes = patched;
		len = glove_bytes.len;
	}
	struct model *m;
	char err[256];
	err[0] = '\0';
	if (model_load(bytes, len, &m, err, sizeof(err)) == 0) {
		check_query(m, "aspirin and heart attacks", 25);
		model_free(m);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	free(patched);
	return 0;
}
