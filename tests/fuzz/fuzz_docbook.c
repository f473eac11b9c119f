/*
 * fuzz_docbook.c — DocBook XML to HTML (stages/docbook.c: docbook_detect over the prologue,
 * DOCTYPE and root start tag; docbook_to_html: libxml2's SAX parser in recover mode, the
 * element table, divisions and titles, entities of the internal subset and HTML's names, the
 * output cap), then normalize_item() on the same bytes as a .xml file.
 *
 * Input: any bytes, all of them the document. Checks: detect gives 0 to 3, the same on
 * the bytes copied; the page is at most its cap and cut only when the cap was reached; the
 * result is 0, RL_ERR (with a reason) or RL_ENOMEM; the title is NUL-terminated within its
 * buffer and valid UTF-8 without control bytes; a small cap gives a prefix of what a large
 * one gives when neither is cut there.
 */
#include "fuzz.h"
#include "fuzz_doc.h"
#include "../../stages/docbook.h"

static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
			 : (*p & 0xF8) == 0xF0 ? 4 : 0;
		if (!n || *p < 0x20)
			return 0;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		p += n;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int k = docbook_detect(s, size);
	FUZZ_CHECK(k >= 0 && k <= 3);
	char *copy = malloc(size ? size : 1);
	if (copy) {
		memcpy(copy, data, size);
		FUZZ_CHECK(docbook_detect(copy, size) == k);
		free(copy);
	}

	struct buf big, small;
	char title[64], why[200];
	int cut = 0, cut2 = 0;
	size_t cap = 4 * size + 4096, scap = 256;
	buf_init(&big, 0);
	memset(title, 'x', sizeof(title));
	int rc = docbook_to_html(s, size, cap, &big, title, sizeof(title), &cut, why, sizeof(why));
	FUZZ_CHECK(rc == 0 || rc == RL_ERR || rc == RL_ENOMEM);
	if (rc != RL_ENOMEM) {
		FUZZ_CHECK(big.len <= cap);
		FUZZ_CHECK(strnlen(title, sizeof(title)) < sizeof(title));
		FUZZ_CHECK(utf8_ok(title));
		FUZZ_CHECK(rc == 0 || why[0] != '\0');
		buf_init(&small, 0);
		int rc2 = docbook_to_html(s, size, scap, &small, NULL, 0, &cut2, why, sizeof(why));
		FUZZ_CHECK(rc2 == 0 || rc2 == RL_ERR || rc2 == RL_ENOMEM);
		if (rc2 != RL_ENOMEM) {
			FUZZ_CHECK(small.len <= scap);
			/* the same page up to where the small cap cut it (the end tags aside) */
			if (!cut && cut2 && small.len > 15 && big.len >= small.len - 15)
				FUZZ_CHECK(!memcmp(small.data, big.data, small.len - 15));
		}
		buf_release(&small);
	}
	buf_release(&big);
	json_t *meta;
	struct doc *d = fuzz_normalize("doc.xml", NULL, data, size, &meta);
	if (d) {  /* (normalize detects on the decoded text: NULs dropped, UTF-16 made UTF-8) */
		doc_free(d);
		json_decref(meta);
	}
	return 0;
}
