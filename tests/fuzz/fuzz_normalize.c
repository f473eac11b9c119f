/*
 * fuzz_normalize.c — raw entry -> document: binary detection, decoding (UTF-8 repair, UTF-16/32,
 * Windows-1252), HTML and Markdown to text, NFC, truncation.
 *
 * Input layout: byte 0 picks the item (bits 0-2: entry name .txt/.md/.html/.htm/none/row;
 * bit 3: a small max_doc_bytes); for a row, the bytes up to the first 0xFF are its title. The
 * rest is the entry's data.
 *
 * Checks the normalize contract: the text is valid UTF-8, NUL-free, holds no control byte but
 * '\n', has no leading or trailing blank, stays within max_doc_bytes and is NFC when it was not
 * cut; headings lie inside the text, in order, with labels that are valid UTF-8; the metadata
 * is a JSON object.
 */
#include "fuzz.h"
#include "../../stages/normalize.h"

#include <jansson.h>
#include <utf8proc.h>

static const char *const names[] = { "a.txt", "a.md", "a.html", "a.htm", "noext", "b.markdown",
				     "c.xhtml", NULL /* row */ };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct normalize_opts o = { .max_doc_bytes = 64u << 20, .max_binary_ratio = 0.3 };
	struct read_item it = { 0 };
	struct counts c;
	struct doc *d = NULL;
	char *title = NULL;
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	if (sel & 8)
		o.max_doc_bytes = 1024 + (sel >> 4) * 64;
	const char *name = names[sel & 7];
	it.source = (char *)"fuzz";
	it.input = (char *)"fuzz";
	if (name) {
		it.kind = READ_FILE;
		it.name = (char *)name;
	} else {
		const uint8_t *ff = memchr(data, 0xFF, size);
		it.kind = READ_ROW;
		it.name = (char *)"c.jsonl";
		if (ff) {
			size_t tn = (size_t)(ff - data);
			title = malloc(tn + 1);
			FUZZ_CHECK(title != NULL);
			memcpy(title, data, tn);
			title[tn] = '\0';
			it.title = title;
			data = ff + 1;
			size -= tn + 1;
		}
		it.metadata_json = (char *)"{\"_id\":\"x\",\"k\":[1,\"v\"]}";
	}
	/* the read stage's contract: data[len] == 0 */
	it.data = malloc(size + 1);
	FUZZ_CHECK(it.data != NULL);
	memcpy(it.data, data, size);
	it.data[size] = '\0';
	it.len = size;
	it.raw_bytes = size;

	counts_init(&c, 1);
	int rc = normalize_item(&o, &it, &d, &c);
	FUZZ_CHECK(rc == 0 || rc == RL_SKIP);
	/* 0 without a doc: not a document, counted as ignored (a manual page that only includes
	 * another, a split Info manual's index file) */
	FUZZ_CHECK(rc == 0 || d == NULL);
	if (rc == 0 && !d)
		FUZZ_CHECK(counts_ignored(&c) >= 1);
	if (rc == RL_SKIP)
		FUZZ_CHECK(counts_total(&c) >= 1);
	if (d) {
		const char *t = d->text;
		size_t n = d->text_len;
		FUZZ_CHECK(n > 0 && n <= o.max_doc_bytes);
		FUZZ_CHECK(strlen(t) == n);
		FUZZ_CHECK(fuzz_utf8_valid(t, n));
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK((unsigned char)t[i] >= 0x20 || t[i] == '\n');
		FUZZ_CHECK(t[0] != ' ' && t[0] != '\n' && t[n - 1] != ' ' && t[n - 1] != '\n');
		json_error_t err;
		json_t *m = json_loads(d->metadata_json, 0, &err);
		FUZZ_CHECK(m != NULL && json_is_object(m));
		int truncated = json_is_true(json_object_get(m, "truncated"));
		json_decref(m);
		if (!truncated) {
			utf8proc_uint8_t *nfc = utf8proc_NFC((const utf8proc_uint8_t *)t);
			FUZZ_CHECK(nfc != NULL);
			FUZZ_CHECK(strcmp((const char *)nfc, t) == 0);
			free(nfc);
		}
		for (size_t i = 0; i < d->n_headings; i++) {
			const struct heading *h = &d->headings[i];
			FUZZ_CHECK(h->offset < n);
			FUZZ_CHECK(i == 0 || h->offset >= d->headings[i - 1].offset);
			FUZZ_CHECK(h->level >= 1 && h->level <= 6);
			FUZZ_CHECK(h->text && fuzz_utf8_valid(h->text, strlen(h->text)));
		}
		if (d->title)
			FUZZ_CHECK(fuzz_utf8_valid(d->title, strlen(d->title)));
	}
	doc_free(d);
	free(it.data);
	free(title);
	counts_release(&c);
	return 0;
}
