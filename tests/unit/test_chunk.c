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

static void add_code(struct doc *d, size_t start, size_t end)
{
	d->code = realloc(d->code, (d->n_code + 1) * sizeof(*d->code));
	d->code[d->n_code++] = (struct span){ start, end };
}

/* Random texts and settings, including an overlap as large as the window. */
static void test_ranges_within_text_and_advancing(void **state)
{
	(void)state;
	static const char *const pieces[] = { "word", "x", "42", ".", "!", "?", ",", " ",
					      " ", " ", "\n", "\n\n", "\xc3\xa9t\xc3\xa9",
					      "e.g.", "(", ")", "--",
					      "\xe6\x97\xa5\xe6\x9c\xac", "\xe3\x80\x82", "\xe3\x80\x81",
					      "\xe3\x80\x80", "\xe3\x80\x8d", "\xed\x95\x9c\xea\xb5\xad",
					      "\xe0\xb8\xaa\xe0\xb8\xb1", "\xcc\x81", "\xe2\x80\x8b",
					      "\xff\xfe", "\"", ".\"" };
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
		/* code spans, sorted and disjoint, at any byte (the normalizer's are at line
		 * starts, but nothing may depend on that) */
		for (size_t at = 0, k = 0; len && k < (size_t)(rand() % 6); k++) {
			size_t a0 = at + (size_t)rand() % (len - at + 1);
			size_t a1 = a0 + (size_t)rand() % (len - a0 + 1);
			if (a1 > a0)
				add_code(d, a0, a1);
			at = a1;
			if (at >= len)
				break;
		}
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

static int is_closing(char c)
{
	return c && strchr(".,;:!?)]}%", c) != NULL;
}

/* Sentences of 20 words: a 256-token window ends at a sentence end (12 sentences, 252
 * tokens) and the next one starts at a sentence start within 16..48 tokens back. */
static void test_overlap_starts_at_sentence(void **state)
{
	(void)state;
	size_t cap = 200000, len = 0;
	char *text = malloc(cap);
	for (int i = 0; i < 100; i++) {
		char *w = words(i * 20, 20);
		len += (size_t)sprintf(text + len, "%s%s.", i ? " " : "", w);
		free(w);
	}
	struct doc *d = doc_of(text);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	assert_true(d->n_chunks >= 8);
	for (size_t i = 0; i < d->n_chunks; i++) {
		const struct chunk *c = &d->chunks[i];
		if (i + 1 < d->n_chunks) {
			assert_int_equal(c->token_count, 252);
			assert_int_equal(d->text[c->end - 1], '.');
		}
		if (i) {
			assert_memory_equal(d->text + c->start - 2, ". ", 2);
			int ov = chunk_count_tokens(d->text + c->start, d->chunks[i - 1].end - c->start);
			assert_true(ov >= 16 && ov <= 48);
		}
	}
	doc_free(d);
	free(text);
}

/* Long sentences full of punctuation, hyphens and numbers (as in SciFact abstracts): no
 * window after the first starts with closing punctuation or inside a word. */
static void test_overlap_starts_at_word(void **state)
{
	(void)state;
	static const char *const pieces[] = {
		"IL-6", "(p < 0.05)", "3.14", "e.g.,", "word", "loss-of-function", "[95% CI, 1.2-3.4];",
		"cells.", "x/y", "\"quoted\"", "mice;", "down-regulated", "95%", "α-synuclein", "(n = 12),",
	};
	srand(7);
	for (int round = 0; round < 50; round++) {
		size_t cap = 60000, len = 0;
		char *text = malloc(cap + 64);
		while (len < cap - 64) {
			const char *p = pieces[rand() % (int)RL_ARRAY_LEN(pieces)];
			len += (size_t)sprintf(text + len, "%s%s", len ? " " : "", p);
		}
		struct doc *d = doc_of(text);
		struct chunk_opts o = { .tokens = 100 + rand() % 300, .overlap = 16 + rand() % 40 };
		assert_int_equal(chunk_doc(&o, d), 0);
		check_chunks(&o, d);
		for (size_t i = 1; i < d->n_chunks; i++) {
			const struct chunk *c = &d->chunks[i];
			assert_false(is_closing(d->text[c->start]));
			assert_int_equal(d->text[c->start - 1], ' ');
		}
		doc_free(d);
		free(text);
	}
}

/* Code points in s[0..n). */
static size_t n_chars(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

/* Chinese: a 256-token window holds about 256 characters, ends at 。, and the next starts
 * after a 。 (never on 。 or ，). */
static void test_chinese_windows(void **state)
{
	(void)state;
	/* 37 characters, 6 of them punctuation */
	const char *sent = "\xe4\xbb\x8a\xe5\xa4\xa9\xe7\x9a\x84\xe5\xa4\xa9\xe6\xb0\x94\xe5\xbe"
		"\x88\xe5\xa5\xbd\xef\xbc\x8c\xe6\x88\x91\xe4\xbb\xac\xe5\x8e\xbb\xe5\x85\xac\xe5"
		"\x9b\xad\xe6\x95\xa3\xe6\xad\xa5\xe3\x80\x81\xe7\x9c\x8b\xe4\xb9\xa6\xe3\x80\x81"
		"\xe5\x96\x9d\xe8\x8c\xb6\xef\xbc\x8c\xe7\x84\xb6\xe5\x90\x8e\xe5\x9b\x9e\xe5\xae"
		"\xb6\xe5\x90\x83\xe9\xa5\xad\xe3\x80\x82";
	/* 今天的天气很好，我们去公园散步、看书、喝茶，然后回家吃饭。 */
	assert_int_equal(chunk_count_tokens(sent, strlen(sent)), (int)n_chars(sent, strlen(sent)));
	size_t cap = 200 * strlen(sent) + 1, len = 0;
	char *text = malloc(cap);
	for (int i = 0; i < 200; i++)
		len += (size_t)sprintf(text + len, "%s", sent);
	struct doc *d = doc_of(text);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	assert_true(d->n_chunks >= 200 * 29 / 256);
	for (size_t i = 0; i + 1 < d->n_chunks; i++) {
		const struct chunk *c = &d->chunks[i];
		size_t chars = n_chars(d->text + c->start, c->end - c->start);
		assert_true(c->token_count >= 220 && c->token_count <= 256);
		assert_true(chars >= 200 && chars <= 400);
		assert_memory_equal(d->text + c->end - 3, "\xe3\x80\x82", 3); /* 。 */
		if (i) {
			assert_memory_equal(d->text + c->start - 3, "\xe3\x80\x82", 3);
			int ov = chunk_count_tokens(d->text + c->start, d->chunks[i - 1].end - c->start);
			assert_true(ov >= 16 && ov <= 48);
		}
	}
	doc_free(d);
	free(text);
}

/* Japanese with ASCII words, fullwidth and ideographic space, closing brackets after 。 */
static void test_japanese_mixed(void **state)
{
	(void)state;
	/* 日 本 語 と English の 混 在 。 次 = 10 */
	const char *a = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa8" "English\xe3\x81\xae"
			"\xe6\xb7\xb7\xe5\x9c\xa8\xe3\x80\x82\xe6\xac\xa1";
	assert_int_equal(chunk_count_tokens(a, strlen(a)), 10);
	/* U+3000 ideographic space separates, like a blank: 日 本 = 2 */
	assert_int_equal(chunk_count_tokens("\xe6\x97\xa5\xe3\x80\x80\xe6\x9c\xac", 9), 2);
	/* combining marks stay with their character: か + U+3099 = 1 */
	assert_int_equal(chunk_count_tokens("\xe3\x81\x8b\xe3\x82\x99", 6), 1);
	/* Hangul: 한국어 (1) 텍스트입니다 (6 syllables: 4 + 2) = 3 */
	const char *ko = "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed\x85\x8d\xec\x8a\xa4\xed\x8a"
			 "\xb8\xec\x9e\x85\xeb\x8b\x88\xeb\x8b\xa4";
	assert_int_equal(chunk_count_tokens(ko, strlen(ko)), 3);
	/* Thai สวัสดีครับ: 7 base characters and 3 marks -> pseudo-words of 4 + 3 */
	const char *th = "\xe0\xb8\xaa\xe0\xb8\xa7\xe0\xb8\xb1\xe0\xb8\xaa\xe0\xb8\x94\xe0\xb8"
			 "\xb5\xe0\xb8\x84\xe0\xb8\xa3\xe0\xb8\xb1\xe0\xb8\x9a";
	assert_int_equal(chunk_count_tokens(th, strlen(th)), 2);

	/* windows of 8 with overlap 2 over 「はい。」と言った。 sentences: a window ends at 。
	 * or at the 」 after it, and the next starts after it */
	const char *sent = "\xe3\x80\x8c\xe3\x81\xaf\xe3\x81\x84\xe3\x80\x82\xe3\x80\x8d\xe3\x81"
			   "\xa8\xe8\xa8\x80\xe3\x81\xa3\xe3\x81\x9f\xe3\x80\x82";
	/* 「 は い 。 」 と 言 っ た 。 = 10 */
	assert_int_equal(chunk_count_tokens(sent, strlen(sent)), 10);
	char text[4096];
	size_t len = 0;
	for (int i = 0; i < 40; i++)
		len += (size_t)sprintf(text + len, "%s%s", sent, i % 3 ? "" : "Linux 2.6 ");
	struct chunk_opts o = { .tokens = 12, .overlap = 3 };
	struct doc *d = doc_of(text);
	assert_int_equal(chunk_doc(&o, d), 0);
	check_chunks(&o, d);
	for (size_t i = 0; i < d->n_chunks; i++) {
		const struct chunk *c = &d->chunks[i];
		const char *start = d->text + c->start;
		/* never on 。 」 、 */
		assert_false(!memcmp(start, "\xe3\x80\x82", 3) || !memcmp(start, "\xe3\x80\x8d", 3) ||
			     !memcmp(start, "\xe3\x80\x81", 3) || is_closing(*start));
		if (i + 1 < d->n_chunks) {
			const char *e = d->text + c->end - 3;
			assert_true(!memcmp(e, "\xe3\x80\x82", 3) || !memcmp(e, "\xe3\x80\x8d", 3));
		}
	}
	doc_free(d);
}


/* A code block that would be cut moves whole to the next window; one longer than a window
 * is cut at line starts. */
static void test_code_spans(void **state)
{
	(void)state;
	size_t cap = 100000, len = 0;
	char *text = malloc(cap);
	char *a = words(0, 180), *b = words(1000, 300);
	/* 180 words, "Example:", then 20 lines of 8 tokens ("x1 = f(a, b);") */
	len += (size_t)sprintf(text + len, "%s Example:\n", a);
	size_t code_start = len;
	for (int i = 0; i < 20; i++)
		len += (size_t)sprintf(text + len, "%sx%d = f(a, b);", i ? "\n" : "", i);
	size_t code_end = len;
	len += (size_t)sprintf(text + len, "\n\n%s", b);
	struct doc *d = doc_of(text);
	add_code(d, code_start, code_end);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	/* without the code rule the first window would end inside the block (at a word start) */
	assert_true(d->chunks[0].end <= code_start);
	assert_true(d->chunks[0].token_count >= 128);
	int whole = 0;
	for (size_t i = 0; i < d->n_chunks; i++)
		whole |= d->chunks[i].start <= code_start && d->chunks[i].end >= code_end;
	assert_true(whole);
	doc_free(d);

	/* 200 lines of code, 8 tokens each: windows end at line ends, start at line starts */
	len = 0;
	len += (size_t)sprintf(text + len, "Intro words here.\n\n");
	code_start = len;
	for (int i = 0; i < 200; i++)
		len += (size_t)sprintf(text + len, "%sy%d = g(c, d);", i ? "\n" : "", i);
	code_end = len;
	len += (size_t)sprintf(text + len, "\n\n%s", b);
	for (int overlap = 0; overlap <= 32; overlap += 32) {
		struct chunk_opts o = { .tokens = 100, .overlap = overlap };
		d = doc_of(text);
		add_code(d, code_start, code_end);
		assert_int_equal(chunk_doc(&o, d), 0);
		check_chunks(&o, d);
		int inside = 0;
		for (size_t i = 0; i < d->n_chunks; i++) {
			const struct chunk *c = &d->chunks[i];
			if (c->end > code_start && c->end < code_end) {
				assert_int_equal(d->text[c->end], '\n');
				inside++;
			}
			if (c->start > code_start && c->start < code_end)
				assert_int_equal(d->text[c->start - 1], '\n');
		}
		assert_true(inside >= 1600 / 100);
		doc_free(d);
	}

	/* one line longer than a window: cut where it must be, invariants hold */
	len = 0;
	code_start = 0;
	for (int i = 0; i < 300; i++)
		len += (size_t)sprintf(text + len, "z%d+", i);
	len += (size_t)sprintf(text + len, "\nshort line\n");
	d = doc_of(text);
	add_code(d, code_start, len);
	assert_int_equal(chunk_doc(&defaults, d), 0);
	check_chunks(&defaults, d);
	doc_free(d);
	free(a);
	free(b);
	free(text);
}

static void test_cjk_share(void **state)
{
	(void)state;
	const char *zh = "\xe4\xbb\x8a\xe5\xa4\xa9\xe7\x9a\x84\xe5\xa4\xa9\xe6\xb0\x94 ok";
	assert_true(chunk_cjk_share(zh, strlen(zh)) > 0.5);
	assert_true(chunk_cjk_share("hello world", 11) == 0.0);
	assert_true(chunk_cjk_share("", 0) == 0.0);
	const char *ko = "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4";
	assert_true(chunk_cjk_share(ko, strlen(ko)) == 0.0);
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
		cmocka_unit_test(test_overlap_starts_at_sentence),
		cmocka_unit_test(test_overlap_starts_at_word),
		cmocka_unit_test(test_chinese_windows),
		cmocka_unit_test(test_japanese_mixed),
		cmocka_unit_test(test_code_spans),
		cmocka_unit_test(test_cjk_share),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
