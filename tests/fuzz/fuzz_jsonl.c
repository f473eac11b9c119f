/*
 * fuzz_jsonl.c — JSONL collections: the input is a corpus.jsonl read by read_inputs(); every
 * row it yields then goes through normalize_item() and chunk_doc(), as in a real ingest.
 *
 * Checks: a row's key is "c.jsonl#<id>" and its id is unique, the metadata is a JSON object
 * holding "_id", and the normalized document keeps the normalize contract (valid UTF-8, no
 * NUL or control byte but '\n').
 */
#include "fuzz.h"
#include "../../stages/chunk.h"
#include "../../stages/normalize.h"
#include "../../stages/read.h"

#include <jansson.h>

static const struct read_opts opts = {
	.max_entry_bytes = 1 << 20,
	.max_total_bytes = 8 << 20,
	.max_ratio = 200,
	.max_line_bytes = 2048,
	.max_nesting = 1,
};
static const struct normalize_opts nopts = { .max_doc_bytes = 1024, .max_binary_ratio = 0.3 };
static const struct chunk_opts copts = { .tokens = 16, .overlap = 4 };

struct seen {
	char *keys[4096];
	size_t n;
	struct counts *c;
};

static int check_row(void *ctx, struct read_item *it)
{
	struct seen *s = ctx;
	struct doc *d = NULL;
	if (it->kind != READ_ROW) {
		/* the bytes were an archive after all: its members are fuzz_read's business */
		read_item_free(it);
		return 0;
	}
	FUZZ_CHECK(strncmp(it->source, "c.jsonl#", 8) == 0 && it->source[8] != '\0');
	for (size_t i = 0; i < s->n; i++)
		FUZZ_CHECK(strcmp(s->keys[i], it->source) != 0);
	if (s->n < RL_ARRAY_LEN(s->keys))
		s->keys[s->n++] = strdup(it->source);
	json_error_t err;
	json_t *m = json_loads(it->metadata_json, 0, &err);
	FUZZ_CHECK(m != NULL && json_is_object(m) && json_object_get(m, "_id") != NULL);
	json_decref(m);

	int rc = normalize_item(&nopts, it, &d, s->c);
	FUZZ_CHECK(rc == 0 || rc == RL_SKIP);
	if (rc == 0) {
		FUZZ_CHECK(d->text_len > 0 && d->text_len <= nopts.max_doc_bytes);
		FUZZ_CHECK(strlen(d->text) == d->text_len);
		FUZZ_CHECK(fuzz_utf8_valid(d->text, d->text_len));
		for (size_t i = 0; i < d->text_len; i++)
			FUZZ_CHECK((unsigned char)d->text[i] >= 0x20 || d->text[i] == '\n');
		FUZZ_CHECK(chunk_doc(&copts, d) == 0);
		FUZZ_CHECK(d->n_chunks >= 1);
		m = json_loads(d->metadata_json, 0, &err);
		FUZZ_CHECK(m != NULL && json_is_object(m));
		json_decref(m);
	}
	doc_free(d);
	read_item_free(it);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *paths[1];
	struct counts c;
	struct seen s = { .c = &c };
	counts_init(&c, 1);
	paths[0] = (char *)fuzz_file("c.jsonl", data, size);
	FUZZ_CHECK(read_inputs(&opts, paths, 1, check_row, &s, &c) == 0);
	for (size_t i = 0; i < s.n; i++)
		free(s.keys[i]);
	counts_release(&c);
	return 0;
}
