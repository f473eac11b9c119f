/*
 * fuzz_read.c — archive entry reading: the input is a file on disk (any archive format,
 * compression filter, nesting, JSONL member...) streamed by read_inputs().
 *
 * Checks what the read stage promises downstream: every item has a key of valid UTF-8 without
 * control characters, its data is NUL-terminated at len and no longer than max_entry_bytes,
 * a row's metadata is a JSON object. Limits are small so that a bomb costs milliseconds.
 */
#include "fuzz.h"
#include "../../stages/read.h"

#include <jansson.h>

static const struct read_opts opts = {
	.max_entry_bytes = 1 << 20,
	.max_total_bytes = 8 << 20,
	.max_ratio = 200,
	.max_line_bytes = 4096,
	.max_nesting = 2,
};

static void check_key(const char *k)
{
	FUZZ_CHECK(k != NULL);
	size_t n = strlen(k);
	FUZZ_CHECK(fuzz_utf8_valid(k, n));
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)k[i] >= 0x20 && k[i] != 0x7F);
}

static int check_item(void *ctx, struct read_item *it)
{
	(void)ctx;
	check_key(it->source);
	FUZZ_CHECK(it->input != NULL && it->name != NULL);
	FUZZ_CHECK(it->data != NULL && it->data[it->len] == '\0');
	if (it->kind == READ_FILE) {
		FUZZ_CHECK(it->len <= opts.max_entry_bytes);
	} else {
		FUZZ_CHECK(it->kind == READ_ROW);
		FUZZ_CHECK(it->metadata_json != NULL);
		json_error_t err;
		json_t *m = json_loads(it->metadata_json, 0, &err);
		FUZZ_CHECK(m != NULL && json_is_object(m));
		json_decref(m);
		FUZZ_CHECK(fuzz_utf8_valid(it->data, it->len));
	}
	read_item_free(it);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *paths[1];
	struct counts c;
	counts_init(&c, 1);
	paths[0] = (char *)fuzz_file("input", data, size);
	FUZZ_CHECK(read_inputs(&opts, paths, 1, check_item, NULL, &c) == 0);
	counts_release(&c);
	return 0;
}
