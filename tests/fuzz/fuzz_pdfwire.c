/*
 * fuzz_pdfwire.c — the PDF worker's answer as ragload reads it (stages/pdf.c: pdf_from_wire():
 * the record decoder, properties and PDF dates, the outline, headers and footers, headings
 * matched on their pages, hyphenated words joined, ligatures) and the sink contract. The
 * worker (build/ragload-parse) is not ours to trust: a crash, a bug or a compromised library
 * could make it say anything, so any bytes must be refused or read within bounds.
 *
 * Input: the worker's output itself (pdfwire.h). Seeds: corpus/pdfwire/ (hand-made answers)
 * and what make-seeds.sh has the real worker say about groff-made PDFs (build/fuzz/seeds/).
 *
 * Checks: headings never nest and are closed at the end, levels 1..6; page numbers positive,
 * ascending, never inside a heading; text events valid UTF-8 and non-empty; an RL_SKIP names
 * one of the four reasons and a message; the properties serialise.
 */
#include "fuzz.h"
#include "../../lib/common.h"
#include "../../stages/pdf.h"

static int on_text(void *ctx, const char *s, size_t n)
{
	struct fuzz_sink *st = ctx;
	FUZZ_CHECK(s != NULL && n > 0);
	FUZZ_CHECK(fuzz_utf8_valid(s, n));
	st->events++;
	return st->events > 5000000;  /* a positive return stops the walk quietly */
}

static int on_page(void *ctx, int number)
{
	struct fuzz_sink *st = ctx;
	FUZZ_CHECK(number > st->last_page);
	FUZZ_CHECK(!st->in_heading);
	st->last_page = number;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct office_sink sink = {
		.text = on_text, .para = fuzz_sink_para,
		.heading_begin = fuzz_sink_heading_begin, .heading_end = fuzz_sink_heading_end,
		.page = on_page,
	};
	struct fuzz_sink st = { 0 };
	struct pdf_info info = { 0 };
	/* a copy of exactly size bytes, so ASan sees any read past the end */
	char *w = malloc(size ? size : 1);
	FUZZ_CHECK(w != NULL);
	if (size)
		memcpy(w, data, size);
	int rc = pdf_from_wire(w, size, &sink, &st, &info);
	FUZZ_CHECK(rc == 0 || rc == RL_SKIP);
	if (rc == 0)
		FUZZ_CHECK(!st.in_heading);
	if (rc == RL_SKIP) {
		FUZZ_CHECK(info.reason && (!strcmp(info.reason, "corrupt_document") ||
					   !strcmp(info.reason, "encrypted") ||
					   !strcmp(info.reason, "parse_failed") ||
					   !strcmp(info.reason, "parse_timeout")));
		FUZZ_CHECK(info.message[0] != '\0');
	}
	FUZZ_CHECK(info.no_text_pages >= 0 && info.failed_pages >= 0);
	if (info.properties) {
		char *js = json_dumps(info.properties, JSON_COMPACT);
		FUZZ_CHECK(js != NULL);
		free(js);
	}
	json_decref(info.properties);
	free(w);
	return 0;
}
