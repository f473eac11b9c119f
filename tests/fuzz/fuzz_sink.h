/*
 * fuzz_sink.h — the text-event sink contract (stages/markdown.h's struct md_sink) that the
 * POD, Info and reStructuredText targets check alike: headings never nest, end after they
 * begin, have levels 1..max_level; text and code events are non-empty and counted (bytes);
 * code never inside a heading. With stop_at set, the sink asks the parser to stop after that
 * many events, which it must do cleanly. fuzz_markdown checks more (UTF-8, its own stops) and
 * keeps its own.
 */
#ifndef RAGLOAD_FUZZ_SINK_H
#define RAGLOAD_FUZZ_SINK_H

#include "fuzz.h"
#include "../../stages/markdown.h"

struct sink_check {
	int max_level;
	size_t bytes, events, stop_at;
	int in_heading;
};

static int sc_tick(struct sink_check *st)
{
	return st->stop_at && ++st->events >= st->stop_at;
}

static int sc_text(void *ctx, const char *s, size_t n)
{
	struct sink_check *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0);
	st->bytes += n;
	return sc_tick(st);
}

static int sc_para(void *ctx)
{
	return sc_tick(ctx);
}

static int sc_hbegin(void *ctx, int level)
{
	struct sink_check *st = ctx;
	FUZZ_CHECK(!st->in_heading);
	FUZZ_CHECK(level >= 1 && level <= st->max_level);
	st->in_heading = 1;
	return sc_tick(st);
}

static int sc_hend(void *ctx)
{
	struct sink_check *st = ctx;
	FUZZ_CHECK(st->in_heading);
	st->in_heading = 0;
	return 0;
}

static int sc_code(void *ctx, const char *s, size_t n)
{
	struct sink_check *st = ctx;
	FUZZ_CHECK(!st->in_heading);
	return sc_text(ctx, s, n);
}

static const struct md_sink sink_check = { sc_text, sc_para, sc_para, sc_hbegin, sc_hend, sc_code };

/* The stop mode the input's length picks (size % 7 == 5: stop after a few events). */
static inline void sink_check_init(struct sink_check *st, int max_level, size_t size)
{
	memset(st, 0, sizeof(*st));
	st->max_level = max_level;
	if (size % 7 == 5)
		st->stop_at = 3 + size % 11;
}

#endif
