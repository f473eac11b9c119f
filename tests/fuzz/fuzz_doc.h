/*
 * fuzz_doc.h — one document through normalize_item() as the read stage hands it on, and the
 * normalize contract every target that reaches normalize checks: the text is non-empty, valid
 * UTF-8 without control characters but newlines, NUL-terminated at its length, trimmed; every
 * heading lies inside it; the title is valid UTF-8; the metadata is a JSON object. The caller
 * checks what its format adds (fuzz_normalize returns the document and its metadata: the
 * caller doc_free()s and json_decref()s them), or gets NULL when the input was skipped.
 */
#ifndef RAGLOAD_FUZZ_DOC_H
#define RAGLOAD_FUZZ_DOC_H

#include "fuzz.h"
#include "../../stages/normalize.h"
#include "../../stages/read.h"

#include <jansson.h>

static inline struct doc *fuzz_normalize(const char *name, const char *type, const uint8_t *data,
					 size_t size, json_t **meta)
{
	struct normalize_opts o = { .max_doc_bytes = 64u << 20, .max_binary_ratio = 0.3 };
	struct read_item it = { 0 };
	struct counts c;
	struct doc *d = NULL;

	*meta = NULL;
	it.kind = READ_FILE;
	it.source = it.input = (char *)"fuzz";
	it.name = (char *)name;
	it.type = type;
	it.data = malloc(size + 1); /* the read stage's contract: data[len] == 0 */
	FUZZ_CHECK(it.data != NULL);
	memcpy(it.data, data, size);
	it.data[size] = '\0';
	it.len = it.raw_bytes = size;
	counts_init(&c, 1);
	int rc = normalize_item(&o, &it, &d, &c);
	FUZZ_CHECK(rc == 0 || rc == RL_SKIP);
	counts_release(&c);
	free(it.data);
	if (!d)
		return NULL;
	const char *t = d->text;
	size_t n = d->text_len;
	FUZZ_CHECK(n > 0 && strlen(t) == n && fuzz_utf8_valid(t, n));
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)t[i] >= 0x20 || t[i] == '\n');
	FUZZ_CHECK(t[0] != ' ' && t[0] != '\n' && t[n - 1] != ' ' && t[n - 1] != '\n');
	for (size_t i = 0; i < d->n_headings; i++)
		FUZZ_CHECK(d->headings[i].offset < n);
	if (d->title)
		FUZZ_CHECK(fuzz_utf8_valid(d->title, strlen(d->title)));
	json_error_t err;
	*meta = json_loads(d->metadata_json, 0, &err);
	FUZZ_CHECK(*meta != NULL && json_is_object(*meta));
	return d;
}

#endif
