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
#include "fuzz_sink.h"
#include "../../stages/rst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink_check st;
	struct buf title;
	const char *s = (const char *)data;

	sink_check_init(&st, 6, size);
	buf_init(&title, 0);
	FUZZ_CHECK(rst_parse(s, size, &sink_check, &st, &title) == 0);
	FUZZ_CHECK(!st.in_heading || st.stop_at);
	/* reductions shrink; substitutions add at most the document's size */
	FUZZ_CHECK(st.bytes <= 2 * size + 64);
	FUZZ_CHECK(title.len <= 512);
	buf_release(&title);
	return 0;
}
