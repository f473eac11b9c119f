/*
 * fuzz_pod.c — POD to text events (stages/pod.c: paragraphs, commands, =begin/=end nesting,
 * verbatim blocks, formatting codes nested and with multiple brackets, E<> entities, L<>).
 *
 * Input: any bytes, all of them the document (plain .pod files are seeds as they are). The
 * input's length picks a stop mode: for size % 7 == 5 the sink stops quietly after a few
 * events; the parse must end cleanly.
 * Checks the sink contract: headings never nest, end after they begin, have levels 1..6, are
 * all closed when the parse completes; text and code events are non-empty; the events' bytes
 * stay within twice the input (+ 64); the title, when set, is no longer than 512 bytes + 4.
 * pod_detect() with and without a .pod name: a document detected without the name is detected
 * with it.
 */
#include "fuzz_sink.h"
#include "../../stages/pod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink_check st;
	struct buf title;
	const char *s = (const char *)data;

	sink_check_init(&st, 6, size);
	if (pod_detect(s, size, NULL))
		FUZZ_CHECK(pod_detect(s, size, "x.pod"));
	buf_init(&title, 0);
	FUZZ_CHECK(pod_parse(s, size, &sink_check, &st, &title) == 0);
	FUZZ_CHECK(!st.in_heading || st.stop_at);
	FUZZ_CHECK(st.bytes <= 2 * size + 64);
	FUZZ_CHECK(title.len <= 516);
	buf_release(&title);
	return 0;
}
