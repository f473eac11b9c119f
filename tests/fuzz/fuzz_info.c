/*
 * fuzz_info.c — GNU Info files to text events (stages/info.c: node separators and headers,
 * tables, menus, underlined headings, indented blocks).
 *
 * Input: any bytes, all of them the file (Info files are seeds as they are). The input's
 * length picks a stop mode: for size % 7 == 5 the sink stops quietly after a few events.
 * Checks the sink contract: headings never nest, end after they begin, have levels 1..4, are
 * closed when the parse completes (fuzz_sink.h); the events' bytes add up to no more than the
 * input (disjoint parts of it; cross references only shrink); no more nodes than
 * separators + 1.
 */
#include "fuzz_sink.h"
#include "../../stages/info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink_check st;
	size_t nodes = 0, seps = 0;

	sink_check_init(&st, 4, size);
	(void)info_detect((const char *)data, size);
	FUZZ_CHECK(info_parse((const char *)data, size, &sink_check, &st, &nodes) == 0);
	FUZZ_CHECK(!st.in_heading || st.stop_at);
	for (size_t i = 0; i < size; i++)
		seps += data[i] == 0x1F;
	FUZZ_CHECK(nodes <= seps + 1);
	FUZZ_CHECK(st.bytes <= size);  /* disjoint parts of it, cross references only shrink */
	return 0;
}
