/*
 * fuzz_chunk.c — token windows over any text, with any headings.
 *
 * Input layout: byte 0 window size (8..71 tokens), byte 1 overlap (0..79 tokens), byte 2 the
 * number of headings (bits 0-2: 0..7) and of code spans (bits 3-5: 0..7), then two bytes per
 * heading (offset share, level 0..7: levels outside 1..6 must be clamped), then two bytes per
 * code span (start share, length share: spans may overlap or come out of order, which
 * chunk_doc must survive); the rest is the text (any bytes: chunk_doc must not trust it).
 *
 * Checks: windows lie inside the text, start and end strictly later than the previous one,
 * leave no gap but whitespace (ASCII or Unicode: no token), start and end on tokens, hold
 * 1..tokens tokens (their token_count is what chunk_count_tokens() counts); the first starts
 * at the first token and the last ends at the last; heading paths are JSON arrays;
 * chunk_cjk_share() is a share.
 */
#include "fuzz.h"
#include "../../stages/chunk.h"

#include <jansson.h>

static int is_space(unsigned char c)
{
	return c <= 0x20 || c == 0x7F;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = { "Intro", "A \"quoted\" \\ one", "tab\there",
					      "caf\xc3\xa9", "", "x" };
	if (size < 3)
		return 0;
	struct chunk_opts o = { .tokens = 8 + data[0] % 64, .overlap = data[1] % 80 };
	size_t nh = data[2] % 8, nc = data[2] / 8 % 8, pos = 3;
	if (size < pos + 2 * nh + 2 * nc)
		return 0;
	struct doc *d = doc_new();
	FUZZ_CHECK(d != NULL);
	const uint8_t *hb = data + pos;
	pos += 2 * nh;
	const uint8_t *cb = data + pos;
	pos += 2 * nc;
	d->text_len = size - pos;
	d->text = malloc(d->text_len + 1);
	FUZZ_CHECK(d->text != NULL);
	memcpy(d->text, data + pos, d->text_len);
	d->text[d->text_len] = '\0';
	if (nh) {
		d->headings = calloc(nh, sizeof(*d->headings));
		FUZZ_CHECK(d->headings != NULL);
	}
	size_t prev = 0;
	for (size_t i = 0; i < nh; i++) {
		size_t off = d->text_len ? (size_t)hb[2 * i] * d->text_len / 256 : 0;
		if (off < prev)
			off = prev;  /* normalize hands them over in order */
		prev = off;
		d->headings[i].offset = off;
		d->headings[i].level = hb[2 * i + 1] % 8;
		d->headings[i].text = strdup(labels[hb[2 * i + 1] / 8 % 6]);
		d->n_headings++;
	}
	if (nc) {
		d->code = calloc(nc, sizeof(*d->code));
		FUZZ_CHECK(d->code != NULL);
	}
	for (size_t i = 0; i < nc; i++) {
		size_t start = (size_t)cb[2 * i] * d->text_len / 256;
		d->code[i].start = start;
		d->code[i].end = start + (size_t)cb[2 * i + 1] * d->text_len / 256;
		d->n_code++;
	}

	FUZZ_CHECK(chunk_doc(&o, d) == 0);
	double share = chunk_cjk_share(d->text, d->text_len);
	FUZZ_CHECK(share >= 0.0 && share <= 1.0);
	int total = chunk_count_tokens(d->text, d->text_len);
	FUZZ_CHECK(total >= 0);
	if (total == 0)
		FUZZ_CHECK(d->n_chunks == 0);
	else
		FUZZ_CHECK(d->n_chunks >= 1);
	for (size_t i = 0; i < d->n_chunks; i++) {
		const struct chunk *c = &d->chunks[i];
		FUZZ_CHECK(c->start < c->end && c->end <= d->text_len);
		FUZZ_CHECK(c->token_count >= 1 && c->token_count <= o.tokens);
		FUZZ_CHECK(c->token_count == chunk_count_tokens(d->text + c->start, c->end - c->start));
		FUZZ_CHECK(!is_space((unsigned char)d->text[c->start]));
		FUZZ_CHECK(!is_space((unsigned char)d->text[c->end - 1]));
		if (i == 0)
			FUZZ_CHECK(chunk_count_tokens(d->text, c->start) == 0);
		if (i == d->n_chunks - 1)
			FUZZ_CHECK(chunk_count_tokens(d->text + c->end, d->text_len - c->end) == 0);
		if (i > 0) {
			const struct chunk *p = &d->chunks[i - 1];
			FUZZ_CHECK(c->start > p->start && c->end > p->end);
			if (c->start > p->end)
				FUZZ_CHECK(chunk_count_tokens(d->text + p->end, c->start - p->end) == 0);
		}
		if (c->heading_path) {
			json_error_t err;
			json_t *a = json_loads(c->heading_path, 0, &err);
			FUZZ_CHECK(a != NULL && json_is_array(a) && json_array_size(a) >= 1);
			json_decref(a);
		}
	}
	doc_free(d);
	return 0;
}
