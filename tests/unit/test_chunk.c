/*
 * test_chunk.c — unit tests of stages/chunk: window sizes and overlap, boundary preferences,
 * heading paths, token counts, and range invariants on random text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../stages/chunk.h"

static const struct chunk_opts defaults = { .tokens = 256, .overlap = 32 };

/* A doc owning a copy of text (headings added by the caller). */
static struct doc *doc_of(const char *text)
{
	struct doc *d = doc_new();
	assert_non_null(d);
	d->text = strdup(text);
	d->text_len = strlen(text);
	return d;
}

static void add_heading(struct doc *d, const char *text, int level)
{
	const char *p = strstr(d->text, text);
	assert_non_null(p);
	d->headings = realloc(d->headings, (d->n_headings + 1) * sizeof(*d->headings));
	d->headings[d->n_headings++] =
		(struct heading){ (size_t)(p - d->text), level, strdup(text) };
}

/* "w0 w1 w2 ..." n words from index first, into a malloc'd string. */
static char *words(int first, int n)
{
	char *s = malloc((size_t)n * 12 + 1);
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "%sw%d", i ? " " : "", first + i);
	s[len] = 0;
	return s;
}

/* The invariants every chunking must satisfy. */
static void check_chunks(const struct chunk_opts *o, const struct doc *d)
{
	int total = chunk_count_tokens(d->text, d->text_len);
	if (total == 0) {
		assert_int_equal(d->n_chunks, 0);
		return;
	}
	assert_true(d->n_chunks >= 1);
	for (size_t i = 0; i < d->n_chunks; i++) {
		const struct chunk *c = &d->chunks[i];
		assert_true(c->start < c->end);
		assert_true(c->end <= d->text_len);
		assert_true(c->token_count >= 1 && c->token_count <= o->tokens);
		assert_int_equal(c->token_count,
				 chunk_count_tokens(d->text + c->start, c->end - c->start));
		/* ranges begin and end on token boundaries: no whitespace at either side */
		assert_true(d->text[c->start] != ' ' && d->text[c->start] != '\n');
		assert_true(d->text[c->end - 1] != ' ' && d->text[c->end - 1] != '\n');
		if (i) {
			assert_true(c->start > d->chunks[i - 1].start);
			assert_true(c->end > d->chunks[i - 1].end);
			/* no token skipped between windows */
			size_t pe = d->chunks[i - 1].end;
			if (c->start > pe)
				assert_int_equal(chunk_count_tokens(d->text + pe, c->start - pe), 0);
		}
	}
	/* everything is covered: first token to last token */
	assert_int_equal(chunk_count_tokens(d->text, d->chunks[0].start), 0);
	assert_int_equal(chunk_count_tokens(d->text + d->chunks[d->n_chunks - 1].end,
					    d->text_len - d->chunks[d->n_chunks - 1].end),
			 0);
}

static void test_short_doc_one_chunk(void **state)
{
	(void)state;
	struct doc *d = doc_of("Hello world. A short document.");
	assert_int_equal(chunk_doc(&defaults, d), 0);
	assert_int_equal(d->n_chunks, 1);
	assert_int_equal(d->chunks[0].start, 0);
	assert_int_equal(d->chunks[0].end, d->text_len);
	assert_int_equal(d->chunks[0].token_count, 7);
	assert_null(d->chunks[0].heading_path);
	check_chunks(&defaults, d);
	doc_free(d);
}

static void test_long_doc_windows_overlap(void **state)
{
	(void)state;
	char *text = words(0, 2000); /* no punctuation, no paragraphs: cuts at the limit */
	struct doc *d = doc_of(text);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	assert_true(d->n_chunks >= 2000 / 256);
	for (size_t i = 0; i + 1 < d->n_chunks; i++) {
		assert_int_equal(d->chunks[i].token_count, 256);
		/* the next window starts 32 tokens before this one ends */
		const struct chunk *a = &d->chunks[i], *b = &d->chunks[i + 1];
		assert_int_equal(chunk_count_tokens(d->text + b->start, a->end - b->start), 32);
	}
	assert_int_equal(d->chunks[0].start, 0);
	assert_int_equal(d->chunks[d->n_chunks - 1].end, d->text_len);
	doc_free(d);
	free(text);
}

static void test_prefers_paragraph_break(void **state)
{
	(void)state;
	/* a sentence end at token 220 and a paragraph end at token 200: the paragraph wins */
	char *a = words(0, 199), *b = words(199, 20), *c = words(300, 400);
	size_t n = strlen(a) + strlen(b) + strlen(c) + 16;
	char *text = malloc(n);
	snprintf(text, n, "%s.\n\n%s. %s", a, b, c);
	struct doc *d = doc_of(text);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	assert_int_equal(d->chunks[0].token_count, 200);
	assert_int_equal(d->text[d->chunks[0].end - 1], '.');
	assert_memory_equal(d->text + d->chunks[0].end, "\n\n", 2);
	doc_free(d);

	/* a paragraph break in the first half does not count */
	snprintf(text, n, "%s.\n\n%s %s", b, a, c);
	d = doc_of(text);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	assert_int_equal(d->chunks[0].token_count, 256);
	doc_free(d);
	free(a);
	free(b);
	free(c);
	free(text);
}

static void test_prefers_sentence_end(void **state)
{
	(void)state;
	/* sentence ends after tokens 50 (first half: ignored), 180 and 230; no paragraphs */
	char *a = words(0, 49), *b = words(100, 129), *c = words(300, 49), *e = words(500, 300);
	size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(e) + 16;
	char *text = malloc(n);
	snprintf(text, n, "%s. %s! %s? %s", a, b, c, e);
	struct doc *d = doc_of(text);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	assert_int_equal(d->chunks[0].token_count, 230);
	assert_int_equal(d->text[d->chunks[0].end - 1], '?');
	/* the next window starts 32 tokens back */
	assert_int_equal(chunk_count_tokens(d->text + d->chunks[1].start,
					    d->chunks[0].end - d->chunks[1].start),
			 32);
	doc_free(d);

	/* "3.14" and "e.g." inside words are not sentence ends */
	struct chunk_opts o = { .tokens = 10, .overlap = 2 };
	d = doc_of("aa bb cc dd ee ff 3.14 gg hh ii jj kk ll mm nn");
	assert_int_equal(chunk_doc(&o, d), 0);
	assert_int_equal(d->chunks[0].token_count, 10);
	doc_free(d);
	free(a);
	free(b);
	free(c);
	free(e);
	free(text);
}

static void test_heading_paths(void **state)
{
	(void)state;
	struct chunk_opts o = { .tokens = 8, .overlap = 2 };
	struct doc *d = doc_of("Intro words before any heading at all here\n\n"
			       "Alpha\n\none two three four five six seven\n\n"
			       "Beta \"quoted\"\n\neight nine ten eleven twelve thirteen\n\n"
			       "Gamma\n\nfourteen fifteen sixteen seventeen eighteen nineteen\n\n"
			       "Delta\n\ntwenty one two three four five six");
	add_heading(d, "Alpha", 1);
	add_heading(d, "Beta \"quoted\"", 2);
	add_heading(d, "Gamma", 2);
	add_heading(d, "Delta", 1);
	assert_int_equal(chunk_doc(&o, d), 0);
	check_chunks(&o, d);
	int saw_beta = 0, saw_gamma = 0, saw_delta = 0;
	for (size_t i = 0; i < d->n_chunks; i++) {
		const struct chunk *c = &d->chunks[i];
		const char *p = c->heading_path;
		size_t alpha = d->headings[0].offset, beta = d->headings[1].offset;
		size_t gamma = d->headings[2].offset, delta = d->headings[3].offset;
		if (c->start < alpha) {
			assert_null(p);
			continue;
		}
		assert_non_null(p);
		json_error_t err;
		json_t *j = json_loads(p, 0, &err); /* a valid JSON array */
		assert_non_null(j);
		assert_true(json_is_array(j));
		json_decref(j);
		if (c->start >= delta) {
			assert_string_equal(p, "[\"Delta\"]");
			saw_delta = 1;
		} else if (c->start >= gamma) {
			assert_string_equal(p, "[\"Alpha\",\"Gamma\"]");
			saw_gamma = 1;
		} else if (c->start >= beta) {
			assert_string_equal(p, "[\"Alpha\",\"Beta \\\"quoted\\\"\"]");
			saw_beta = 1;
		} else {
			assert_string_equal(p, "[\"Alpha\"]");
		}
	}
	assert_true(saw_beta && saw_gamma && saw_delta);
	doc_free(d);
}

static void test_token_counts(void **state)
{
	(void)state;
	/* Hello , world ! It ' s 3 . 14 héllo 日 本 語 = 14 */
	const char *s = "Hello, world! It's 3.14 h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";
	assert_int_equal(chunk_count_tokens(s, strlen(s)), 14);
	assert_int_equal(chunk_count_tokens("", 0), 0);
	assert_int_equal(chunk_count_tokens("  \n\n\t ", 6), 0);
	assert_int_equal(chunk_count_tokens("a_b--c", 6), 6);
	struct doc *d = doc_of(s);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	assert_int_equal(d->n_chunks, 1);
	assert_int_equal(d->chunks[0].token_count, 14);
	doc_free(d);
}

static void test_empty_text_no_chunks(void **state)
{
	(void)state;
	struct doc *d = doc_of("");
	assert_int_equal(chunk_doc(&defaults, d), 0);
	assert_int_equal(d->n_chunks, 0);
	doc_free(d);
	d = doc_new();
	assert_int_equal(chunk_doc(&defaults, d), 0); /* text NULL */
	assert_int_equal(d->n_chunks, 0);
	doc_free(d);
	d = doc_of(" \n\n ");
	assert_int_equal(chunk_doc(&defaults, d), 0);
	assert_int_equal(d->n_chunks, 0);
	doc_free(d);
}

/* Random texts and settings, including an overlap as large as the window. */
static void test_ranges_within_text_and_advancing(void **state)
{
	(void)state;
	static const char *const pieces[] = { "word", "x", "42", ".", "!", "?", ",", " ",
					      " ", " ", "\n", "\n\n", "\xc3\xa9t\xc3\xa9",
					      "e.g.", "(", ")", "--" };
	srand(3);
	for (int round = 0; round < 400; round++) {
		size_t cap = 20000, len = 0;
		char *text = malloc(cap + 16);
		int n = rand() % 3000;
		for (int i = 0; i < n && len < cap; i++) {
			const char *p = pieces[rand() % (int)RL_ARRAY_LEN(pieces)];
			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		text[len] = 0;
		struct doc *d = doc_of(text);
		struct chunk_opts o = { .tokens = 1 + rand() % 300, .overlap = rand() % 320 };
		assert_int_equal(chunk_doc(&o, d), 0);
		check_chunks(&o, d);
		/* chunking twice gives the same windows (and frees the first ones) */
		size_t n1 = d->n_chunks;
		assert_int_equal(chunk_doc(&o, d), 0);
		assert_int_equal(d->n_chunks, n1);
		doc_free(d);
		free(text);
	}
}

/* Hostile text: a 1 MB "word" and a run of CJK without spaces are cut into tokens of at most
 * 128 bytes at character boundaries, so a window stays a bounded number of bytes. */
static void test_long_words_split(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *text = malloc(n + 1);
	memset(text, 'x', n);
	text[n] = '\0';
	struct doc *d = doc_of(text);
	assert_int_equal(chunk_count_tokens(text, n), (int)((n + 127) / 128));
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	for (size_t i = 0; i < d->n_chunks; i++)
		assert_true(d->chunks[i].end - d->chunks[i].start <= 256 * 128);
	doc_free(d);

	/* a run of Cyrillic (2-byte letters): 128 bytes a token, cut at character boundaries */
	size_t k = 0;
	for (int i = 0; i < 1000; i++)
		k += (size_t)sprintf(text + k, "\xd0\xb6");
	assert_int_equal(chunk_count_tokens(text, k), (2000 + 127) / 128);
	/* a run of Han: one token a character, so 1000 characters make 5 windows (224 new each) */
	k = 0;
	for (int i = 0; i < 1000; i++)
		k += (size_t)sprintf(text + k, "\xe6\x97\xa5");
	d = doc_of(text);
	assert_int_equal(chunk_count_tokens(text, k), 1000);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	assert_int_equal(d->n_chunks, 5);
	assert_int_equal(d->chunks[0].token_count, 256);
	assert_int_equal(d->chunks[0].end - d->chunks[0].start, 256 * 3);
	doc_free(d);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_doc_one_chunk),
		cmocka_unit_test(test_long_doc_windows_overlap),
		cmocka_unit_test(test_prefers_paragraph_break),
		cmocka_unit_test(test_prefers_sentence_end),
		cmocka_unit_test(test_heading_paths),
		cmocka_unit_test(test_token_counts),
		cmocka_unit_test(test_empty_text_no_chunks),
		cmocka_unit_test(test_ranges_within_text_and_advancing),
		cmocka_unit_test(test_long_words_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
