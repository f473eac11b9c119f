/*
 * fuzz_info.c — GNU Info files to text events (stages/info.c: node separators and headers,
 * tables, menus, underlined headings, indented blocks).
 *
 * Input: any bytes, all of them the file (Info files are seeds as they are). The input's
 * length picks a stop mode: for size % 7 == 5 the sink stops quietly after a few events.
 * Checks the sink contract: headings never nest, end after they begin, have levels 1..4, are
 * closed when the parse completes; text and code events are non-empty and no longer than the
 * input (cross references only shrink a block); no more nodes than separators + 1.
 */
#include "fuzz.h"
#include "../../stages/info.h"

struct state {
	const char *s;
	size_t n, events, stop_at;
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
	FUZZ_CHECK(n <= st->n);  /* cross references only shrink the text */
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
	FUZZ_CHECK(level >= 1 && level <= 4);
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
	FUZZ_CHECK(!st->in_heading);
	FUZZ_CHECK(s != NULL && n > 0);
	FUZZ_CHECK(n <= st->n);  /* cross references only shrink a block */
	return tick(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct md_sink sink = { on_text, on_para, on_para, on_hbegin, on_hend, on_code };
	struct state st = { .s = (const char *)data, .n = size };
	size_t nodes = 0, seps = 0;

	if (size % 7 == 5)
		st.stop_at = 3 + size % 11;
	(void)info_detect((const char *)data, size);
	FUZZ_CHECK(info_parse((const char *)data, size, &sink, &st, &nodes) == 0);
	FUZZ_CHECK(!st.in_heading || st.stop_at);
	for (size_t i = 0; i < size; i++)
		seps += data[i] == 0x1F;
	FUZZ_CHECK(nodes <= seps + 1);
	return 0;
}
