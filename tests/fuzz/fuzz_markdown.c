/*
 * fuzz_markdown.c — Markdown -> text events (stages/markdown.c: md4c, the HTML stripper,
 * entities, front matter), then the same bytes as a .md file through normalize_item().
 *
 * Input: any bytes, all of them the document (so plain Markdown files are seeds as they are).
 * The input's length picks a stop mode: for size % 7 == 5 the sink stops quietly after a few
 * events, for size % 7 == 6 it fails with RL_ENOMEM there; both must end the parse cleanly.
 *
 * Checks the sink contract: headings never nest, end after they begin, have levels 1..6 and
 * are all closed when the parse completes; code blocks are non-empty; when the input is valid
 * UTF-8 so are the text and code events (all of them together); the events' bytes stay linear
 * in the input; front matter is a non-empty JSON object that serializes. Then the normalize
 * contract for the whole document (valid UTF-8, no control byte but '\n', no blank at either
 * end, headings inside the text).
 */
#include "fuzz_doc.h"
#include "../../stages/markdown.h"

#include <jansson.h>

struct state {
	struct buf text;        /* text and code events concatenated */
	size_t events, stop_at; /* stop_at 0: never */
	int fail;               /* stop with RL_ENOMEM instead of quietly */
	int in_heading;
	size_t paras, lines, code_bytes;
};

static int tick(struct state *st)
{
	if (st->stop_at && ++st->events >= st->stop_at)
		return st->fail ? RL_ENOMEM : 1;
	return 0;
}

static int on_text(void *ctx, const char *s, size_t n)
{
	struct state *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0);
	FUZZ_CHECK(buf_append(&st->text, s, n) == 0);
	return tick(st);
}

static int on_para(void *ctx)
{
	struct state *st = ctx;
	st->paras++;
	return tick(st);
}

static int on_line(void *ctx)
{
	struct state *st = ctx;
	st->lines++;
	return tick(st);
}

static int on_hb(void *ctx, int level)
{
	struct state *st = ctx;
	FUZZ_CHECK(!st->in_heading);
	FUZZ_CHECK(level >= 1 && level <= 6);
	st->in_heading = 1;
	return tick(st);
}

static int on_he(void *ctx)
{
	struct state *st = ctx;
	FUZZ_CHECK(st->in_heading);
	st->in_heading = 0;
	return tick(st);
}

static int on_code(void *ctx, const char *s, size_t n)
{
	struct state *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0);
	FUZZ_CHECK(!st->in_heading);
	st->code_bytes += n;
	FUZZ_CHECK(buf_append(&st->text, s, n) == 0);
	return tick(st);
}

/* jsonb cannot hold U+0000: no string in the front matter may carry one. */
static int no_nul(json_t *v)
{
	size_t i;
	json_t *x;
	if (json_is_string(v))
		return strlen(json_string_value(v)) == json_string_length(v);
	json_array_foreach(v, i, x)
		if (!no_nul(x))
			return 0;
	return 1;
}

static const struct md_sink sink = { on_text, on_para, on_line, on_hb, on_he, on_code };

/* The document through normalize (fuzz_doc.h), and what Markdown adds: headings in order, a
 * front matter that is a non-empty object. */
static void check_normalize(const uint8_t *data, size_t size)
{
	json_t *m;
	struct doc *d = fuzz_normalize("README.md", NULL, data, size, &m);
	if (!d)
		return;
	for (size_t i = 1; i < d->n_headings; i++)
		FUZZ_CHECK(d->headings[i].offset >= d->headings[i - 1].offset);
	json_t *fm = json_object_get(m, "front_matter");
	FUZZ_CHECK(!fm || (json_is_object(fm) && json_object_size(fm) > 0));
	json_decref(m);
	doc_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st = { 0 };
	json_t *fm = NULL;
	const char *s = (const char *)data;

	buf_init(&st.text, 0);
	if (size % 7 >= 5) {
		st.stop_at = size / 7 % 64 + 1;
		st.fail = size % 7 == 6;
	}
	int rc = markdown_parse(s ? s : "", size, &sink, &st, &fm);
	if (st.fail && st.events >= st.stop_at) {
		FUZZ_CHECK(rc == RL_ENOMEM);
		FUZZ_CHECK(fm == NULL);
	} else {
		FUZZ_CHECK(rc == 0);
	}
	if (!st.stop_at)
		FUZZ_CHECK(!st.in_heading);
	/* linear output: markers and " | " add a bounded amount per input byte */
	FUZZ_CHECK(st.text.len <= 8 * size + 64);
	FUZZ_CHECK(st.paras + st.lines <= 4 * size + 64);
	if (fuzz_utf8_valid(s ? s : "", size) && !st.stop_at)
		FUZZ_CHECK(fuzz_utf8_valid(st.text.data ? st.text.data : "", st.text.len));
	if (fm) {
		FUZZ_CHECK(json_is_object(fm) && json_object_size(fm) > 0);
		char *js = json_dumps(fm, JSON_COMPACT);
		FUZZ_CHECK(js != NULL);
		free(js);
		const char *key;
		json_t *v;
		json_object_foreach(fm, key, v) {
			FUZZ_CHECK(no_nul(v));
		}
		json_decref(fm);
	}
	buf_release(&st.text);
	check_normalize(data, size);
	return 0;
}
