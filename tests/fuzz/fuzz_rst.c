/*
 * fuzz_rst.c — reStructuredText to text events (stages/rst.c: section titles and their styles,
 * directives and their bodies (recursive), literal blocks, tables, inline markup).
 *
 * Input: any bytes, all of them the document (plain .rst files are seeds as they are). The
 * input's length picks a stop mode: for size % 7 == 5 the sink stops quietly after a few
 * events; the parse must end cleanly.
 * Checks the sink contract: headings never nest, end after they begin, have levels 1..6, are
 * all closed when the parse completes; text and code events are non-empty; the events' bytes
 * stay within twice the input (+ 64: substitutions add at most its size); the title is at
 * most 512 bytes.
 */
#include "fuzz.h"
#include "../../stages/rst.h"

struct state {
	size_t bytes, events, stop_at;
	int in_heading;
};

static int tick(struct state *st)
{
	return st->stop_at && ++st->events >= st->stop_at;
}

static int on_text(void *ctx, const char *s, size_t n)
{
	struct state *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0);
	st->bytes += n;
	return tick(st);
}

static int on_para(void *ctx)
{
	return tick(ctx);
}

static int on_hbegin(void *ctx, int level)
{
	struct state *st = ctx;
	FUZZ_CHECK(!st->in_heading);
	FUZZ_CHECK(level >= 1 && level <= 6);
	st->in_heading = 1;
	return tick(st);
}

static int on_hend(void *ctx)
{
	struct state *st = ctx;
	FUZZ_CHECK(st->in_heading);
	st->in_heading = 0;
	return 0;
}

static int on_code(void *ctx, const char *s, size_t n)
{
	struct state *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0);
	FUZZ_CHECK(!st->in_heading);
	st->bytes += n;
	return tick(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct md_sink sink = { on_text, on_para, on_para, on_hbegin, on_hend, on_code };
	struct state st = { 0 };
	struct buf title;
	const char *s = (const char *)data;

	if (size % 7 == 5)
		st.stop_at = 3 + size % 11;
	buf_init(&title, 0);
	FUZZ_CHECK(rst_parse(s, size, &sink, &st, &title) == 0);
	FUZZ_CHECK(!st.in_heading || st.stop_at);
	/* reductions shrink; substitutions add at most the document's size */
	FUZZ_CHECK(st.bytes <= 2 * size + 64);
	FUZZ_CHECK(title.len <= 512);
	buf_release(&title);
	return 0;
}
