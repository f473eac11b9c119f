/*
 * fuzz_config.c — configuration files: config_load() on any bytes (INI syntax, unknown keys,
 * sizes with units, numbers out of range, NaN and infinities, very long lines).
 *
 * Checks: a load either fails or leaves every setting inside the bounds the key table
 * promises, whatever it accepted on earlier lines; config_parse_size() on each value never
 * misbehaves (UBSan catches a float-to-integer overflow).
 */
#include "fuzz.h"
#include "../../lib/common.h"
#include "../../lib/config.h"

#include <math.h>

static void check_bounds(const struct rl_config *c)
{
	FUZZ_CHECK(memchr(c->conninfo, '\0', sizeof(c->conninfo)) != NULL);
	FUZZ_CHECK(c->read.max_entry_bytes >= 1);
	FUZZ_CHECK(c->read.max_total_bytes >= 1);
	FUZZ_CHECK(c->read.max_ratio >= 1);
	FUZZ_CHECK(c->read.max_line_bytes >= 16);
	FUZZ_CHECK(c->read.max_nesting >= 0 && c->read.max_nesting <= 8);
	FUZZ_CHECK(c->norm.max_doc_bytes >= 1024);
	FUZZ_CHECK(isfinite(c->norm.max_binary_ratio));
	FUZZ_CHECK(c->norm.max_binary_ratio >= 0 && c->norm.max_binary_ratio <= 1);
	FUZZ_CHECK(c->chunk.tokens >= 8 && c->chunk.tokens <= 65536);
	FUZZ_CHECK(c->chunk.overlap >= 0 && c->chunk.overlap <= 65535);
	FUZZ_CHECK(c->model.dim >= 2 && c->model.dim <= 2000);
	FUZZ_CHECK(c->model.features >= 64 && c->model.features <= (1 << 22));
	FUZZ_CHECK(c->model.char_ngram_min >= 0 && c->model.char_ngram_max <= 16);
	FUZZ_CHECK(c->model.word_bigrams == 0 || c->model.word_bigrams == 1);
	FUZZ_CHECK(c->model.blas_threads >= 0 && c->model.blas_threads <= 256);
	FUZZ_CHECK(c->load.batch_bytes >= 1024);
	FUZZ_CHECK(c->load.batch_docs >= 1);
	FUZZ_CHECK(c->load.queue_bytes >= (1 << 16));
	FUZZ_CHECK(c->load.lock_wait_s >= 0 && c->load.lock_wait_s <= 86400);
	FUZZ_CHECK(c->quiet == 0 || c->quiet == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rl_config c;
	const char *path = fuzz_file("f.ini", data, size);
	config_defaults(&c);
	check_bounds(&c);
	(void)config_load(&c, path);
	check_bounds(&c);

	/* every line's value, as a size (what --set and flags go through) */
	char line[512];
	size_t i = 0;
	while (i < size) {
		size_t n = 0;
		while (i < size && data[i] != '\n' && n < sizeof(line) - 1)
			line[n++] = (char)data[i++];
		while (i < size && data[i] != '\n')
			i++;
		i++;
		line[n] = '\0';
		char *eq = strchr(line, '=');
		uint64_t v;
		(void)config_parse_size(eq ? eq + 1 : line, &v);
		if (eq) {
			*eq = '\0';
			char *dot = strchr(line, '.');
			if (dot) {
				*dot = '\0';
				(void)config_set(&c, line, dot + 1, eq + 1);
				check_bounds(&c);
			}
		}
	}
	return 0;
}
