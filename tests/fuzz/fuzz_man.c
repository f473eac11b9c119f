/*
 * fuzz_man.c — manual page detection (stages/man.c: man_detect, the lines it scans, the title
 * it takes from .TH/.Dt arguments, quoted or not).
 *
 * Input: any bytes, all of them the page. Checks: the kind is one of the three; the title is
 * NUL-terminated within its buffer, holds no control byte, is empty unless the kind is a page;
 * a buffer of 1 byte and no buffer give the same kind.
 * Formatting (mandoc as a process) is not fuzzed here: mandoc is fuzzed by its own authors,
 * and a document it fails on loads as its source (tests/integration/manpages.sh).
 */
#include "fuzz.h"
#include "../../stages/man.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char title[64];
	char tiny[1];
	memset(title, 'x', sizeof(title));
	enum man_kind k = man_detect((const char *)data, size, title, sizeof(title));
	FUZZ_CHECK(k == MAN_NONE || k == MAN_PAGE || k == MAN_LINK);
	size_t tl = strnlen(title, sizeof(title));
	FUZZ_CHECK(tl < sizeof(title));
	for (size_t i = 0; i < tl; i++)
		FUZZ_CHECK((unsigned char)title[i] >= 0x20);
	FUZZ_CHECK(k == MAN_PAGE || tl == 0);
	FUZZ_CHECK(man_detect((const char *)data, size, tiny, sizeof(tiny)) == k);
	FUZZ_CHECK(tiny[0] == '\0');
	FUZZ_CHECK(man_detect((const char *)data, size, NULL, 0) == k);
	return 0;
}
