/*
 * config.c — defaults, INI files (inih) and "section.key=value" overrides.
 *
 * One table maps every key to its field, type and bounds, so config/default.ini, --config and
 * command-line flags all go through config_set() and are validated the same way.
 *
 * Values are untrusted text (tests/fuzz/fuzz_config.c): numbers are parsed so that nothing out
 * of range reaches a conversion (NaN, infinities and overflowing sizes are refused, integers
 * are read as integers so a 64-bit seed keeps every digit), and a config file must be a regular
 * file of at most CONFIG_MAX_BYTES (a FIFO or /dev/zero named by mistake must not hang a run).
 */
#include "config.h"
#include "common.h"

#include <ini.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (1 << 20)

enum kind { K_STR, K_SIZE, K_INT, K_DOUBLE, K_BOOL, K_GLOBS, K_FUSION };

struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t offset;
	double min, max;
};

#define F(field) offsetof(struct rl_config, field)
static const struct key keys[] = {
	{"database", "conninfo", K_STR, F(conninfo), 0, 0},
	{"limits", "max_entry_bytes", K_SIZE, F(read.max_entry_bytes), 1, 1e15},
	{"limits", "max_total_bytes", K_SIZE, F(read.max_total_bytes), 1, 1e18},
	{"limits", "max_ratio", K_SIZE, F(read.max_ratio), 1, 1e12},
	{"limits", "max_line_bytes", K_SIZE, F(read.max_line_bytes), 16, 1e12},
	{"limits", "max_nesting", K_INT, F(read.max_nesting), 0, 8},
	{"inputs", "include", K_GLOBS, F(read.include), 0, 0},
	{"inputs", "exclude", K_GLOBS, F(read.exclude), 0, 0},
	{"limits", "max_doc_bytes", K_SIZE, F(norm.max_doc_bytes), 1024, 1e12},
	{"normalize", "max_binary_ratio", K_DOUBLE, F(norm.max_binary_ratio), 0, 1},
	{"limits", "parse_seconds", K_INT, F(norm.parse_seconds), 1, 86400},
	{"limits", "parse_memory_mb", K_INT, F(norm.parse_memory_mb), 64, 1 << 20},
	{"documents", "ocr", K_BOOL, F(norm.ocr), 0, 1},
	{"chunk", "tokens", K_INT, F(chunk.tokens), 8, 65536},
	{"chunk", "overlap", K_INT, F(chunk.overlap), 0, 65535},
	{"model", "dim", K_INT, F(model.dim), 2, 2000},
	{"model", "features", K_INT, F(model.features), 64, 1 << 22},
	{"model", "char_ngram_min", K_INT, F(model.char_ngram_min), 0, 16},
	{"model", "char_ngram_max", K_INT, F(model.char_ngram_max), 0, 16},
	{"model", "word_bigrams", K_BOOL, F(model.word_bigrams), 0, 1},
	{"model", "seed", K_SIZE, F(model.seed), 0, 1.8e19},
	{"model", "fit_sample_docs", K_SIZE, F(model.fit_sample_docs), 1, 1e12},
	{"model", "blas_threads", K_INT, F(model.blas_threads), 0, 256},
	{"load", "batch_bytes", K_SIZE, F(load.batch_bytes), 1024, 1e12},
	{"load", "batch_docs", K_INT, F(load.batch_docs), 1, 10000000},
	{"load", "queue_bytes", K_SIZE, F(load.queue_bytes), 1 << 16, 1e12},
	{"load", "connections", K_INT, F(load.connections), 1, 8},
	{"load", "lock_wait_s", K_INT, F(load.lock_wait_s), 0, 86400},
	{"load", "reconnect_timeout_s", K_INT, F(load.reconnect_timeout_s), 0, 86400},
	{"load", "index_rebuild_share", K_DOUBLE, F(load.index_rebuild_share), 0, 1000},
	{"index", "storage", K_STR, F(index.storage), 0, sizeof(((struct rl_config *)0)->index.storage)},
	{"index", "repeat", K_INT, F(index.repeat), 1, 100},
	{"output", "quiet", K_BOOL, F(quiet), 0, 1},
	{"search", "bm25_k1", K_DOUBLE, F(search.bm25_k1), 0, 100},
	{"search", "bm25_b", K_DOUBLE, F(search.bm25_b), 0, 1},
	{"search", "hybrid_fusion", K_FUSION, F(search.hybrid_fusion), 0, 1},
	{"search", "hybrid_weight", K_DOUBLE, F(search.hybrid_weight), 0, 1},
	{"search", "hybrid_depth", K_INT, F(search.hybrid_depth), 1, 10000},
	{"search", "hybrid_rrf_k", K_DOUBLE, F(search.hybrid_rrf_k), 0, 1e6},
};
#undef F

void config_defaults(struct rl_config *c)
{
	memset(c, 0, sizeof(*c));
	c->read.max_entry_bytes = 256ull << 20;
	c->read.max_total_bytes = 64ull << 30;
	c->read.max_ratio = 1000;
	c->read.max_line_bytes = 16ull << 20;
	c->read.max_nesting = 1;
	snprintf(c->read.exclude, sizeof(c->read.exclude), "%s", READ_DEFAULT_EXCLUDES);
	c->norm.max_doc_bytes = 64ull << 20;
	c->norm.max_binary_ratio = 0.30;
	c->norm.parse_seconds = 60;
	c->norm.parse_memory_mb = 1024;
	c->chunk.tokens = 256;
	c->chunk.overlap = 32;
	c->model.dim = 768;
	c->model.features = 32768;  /* the vocabulary's size (models/contrastive.c) */
	c->model.char_ngram_min = 3;
	c->model.char_ngram_max = 4;
	c->model.word_bigrams = 1;
	c->model.seed = 0x5241474c4f4144ull; /* "RAGLOAD" */
	c->model.fit_sample_docs = 50000;
	c->model.blas_threads = 0;
	c->load.batch_bytes = 16ull << 20;
	c->load.batch_docs = 5000;
	c->load.queue_bytes = 24ull << 20;
	c->load.connections = 2;
	c->load.lock_wait_s = 60;
	c->load.reconnect_timeout_s = 300;
	c->load.index_rebuild_share = 0.2;
	c->search.bm25_k1 = SEARCH_BM25_K1;
	c->search.bm25_b = SEARCH_BM25_B;
	c->search.hybrid_fusion = SEARCH_HYBRID_FUSION;
	c->search.hybrid_weight = SEARCH_HYBRID_WEIGHT;
	c->search.hybrid_depth = SEARCH_HYBRID_DEPTH;
	c->search.hybrid_rrf_k = SEARCH_HYBRID_RRF_K;
	snprintf(c->index.storage, sizeof(c->index.storage), "halfvec");
	c->index.repeat = 1;
	c->progress = -1;
}

static const struct {
	const char *suffix;
	uint64_t mult;
} size_units[] = {
	{"", 1}, {"b", 1}, {"k", 1ull << 10}, {"kb", 1ull << 10}, {"kib", 1ull << 10},
	{"m", 1ull << 20}, {"mb", 1ull << 20}, {"mib", 1ull << 20},
	{"g", 1ull << 30}, {"gb", 1ull << 30}, {"gib", 1ull << 30},
	{"t", 1ull << 40}, {"tb", 1ull << 40}, {"tib", 1ull << 40},
};

/* A plain integer ("4096", "64MB") is read exactly; a fraction ("1.5GiB") through a double,
 * finite and in range before it is converted (a cast of NaN or 1e30 is undefined behaviour). */
int config_parse_size(const char *s, uint64_t *out)
{
	const char *p = s, *end;
	uint64_t mult = 0, iv = 0;
	double dv = 0;
	int exact = 1;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;  /* no sign, no "nan"/"inf", no leading dot */
	end = p;
	while (*end >= '0' && *end <= '9')
		end++;
	if (*end == '.' || *end == 'e' || *end == 'E' || *end == 'x' || *end == 'X') {
		char *e;
		errno = 0;
		dv = strtod(p, &e);
		if (errno || e == p || !isfinite(dv) || dv < 0)
			return -1;
		end = e;
		exact = 0;
	} else {
		char *e;
		errno = 0;
		unsigned long long v = strtoull(p, &e, 10);
		if (errno || e != end)
			return -1;
		iv = v;
	}
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < RL_ARRAY_LEN(size_units) && !mult; i++)
		if (strcasecmp(end, size_units[i].suffix) == 0)
			mult = size_units[i].mult;
	if (!mult)
		return -1;
	if (exact) {
		if (iv > UINT64_MAX / mult)
			return -1;
		*out = iv * mult;
		return 0;
	}
	dv *= (double)mult;
	if (!(dv < 18446744073709549568.0))  /* the largest double below 2^64 */
		return -1;
	*out = (uint64_t)dv;
	return 0;
}

int config_set(struct rl_config *c, const char *section, const char *key, const char *value)
{
	for (size_t i = 0; i < RL_ARRAY_LEN(keys); i++) {
		const struct key *k = &keys[i];
		if (strcmp(k->section, section) || strcmp(k->name, key))
			continue;
		char *field = (char *)c + k->offset;
		char *end;
		switch (k->kind) {
		case K_STR: /* max: the field's size, when not conninfo's */
			if (strlen(value) >= (k->max > 0 ? (size_t)k->max : sizeof(c->conninfo)))
				return -1;
			strcpy(field, value);
			return 0;
		case K_GLOBS:
			/* the whole list: "exclude =" empties it (no default excludes) */
			if (strlen(value) >= READ_GLOBS_MAX)
				return -1;
			strcpy(field, value);
			return 0;
		case K_SIZE: {
			uint64_t v;
			if (config_parse_size(value, &v) || (double)v < k->min || (double)v > k->max)
				return -1;
			memcpy(field, &v, sizeof(v));
			return 0;
		}
		case K_INT: {
			errno = 0;
			long v = strtol(value, &end, 10);
			if (errno || end == value || *end || v < k->min || v > k->max)
				return -1;
			int iv = (int)v;
			memcpy(field, &iv, sizeof(iv));
			return 0;
		}
		case K_DOUBLE: {
			errno = 0;
			double v = strtod(value, &end);
			/* NaN would pass both bound checks below */
			if (errno || end == value || *end || !isfinite(v) || v < k->min || v > k->max)
				return -1;
			memcpy(field, &v, sizeof(v));
			return 0;
		}
		case K_FUSION: {
			int v = !strcasecmp(value, "rrf") ? 0 : !strcasecmp(value, "convex") ? 1 : -1;
			if (v < 0)
				return -1;
			memcpy(field, &v, sizeof(v));
			return 0;
		}
		case K_BOOL: {
			int v;
			if (!strcasecmp(value, "1") || !strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
			    !strcasecmp(value, "on"))
				v = 1;
			else if (!strcasecmp(value, "0") || !strcasecmp(value, "false") ||
				 !strcasecmp(value, "no") || !strcasecmp(value, "off"))
				v = 0;
			else
				return -1;
			if (v > k->max)  /* a switch that can only be off */
				return -1;
			memcpy(field, &v, sizeof(v));
			return 0;
		}
		}
	}
	return -1;
}

int config_globs_append(char *list, const char *pattern)
{
	size_t n = strlen(list), m = strlen(pattern);

	if (!m || strpbrk(pattern, ", \t") || n + m + 2 > READ_GLOBS_MAX)
		return -1;
	if (n)
		list[n++] = ' ';
	memcpy(list + n, pattern, m + 1);
	return 0;
}

struct load_ctx {
	struct rl_config *c;
	const char *path;
	int failed;
};

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *lc = user;
	if (config_set(lc->c, section, name, value)) {
		log_error("%s: [%s] %s = %s: unknown key or invalid value", lc->path, section, name,
			  value);
		lc->failed = 1;
		return 0;
	}
	return 1;
}

int config_load(struct rl_config *c, const char *path)
{
	struct load_ctx lc = {c, path, 0};
	struct stat st;
	FILE *f = NULL;
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), rc = -1;

	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("%s: cannot open config file: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
		log_error("%s: not a config file (a regular file of at most %d bytes)", path,
			  CONFIG_MAX_BYTES);
		goto out;
	}
	if (!(f = fdopen(fd, "r"))) {
		log_error("%s: cannot open config file: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;  /* f owns it */
	rc = ini_parse_file(f, on_ini, &lc);
	if (rc > 0 && !lc.failed)
		log_error("%s: line %d: syntax error", path, rc);
	rc = rc || lc.failed ? -1 : 0;
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	return rc;
}
