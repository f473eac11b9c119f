/*
 * fuzz_office.c — office packages and e-books (stages/office.c: libarchive's zip reader,
 * xmlReader walkers for docx/pptx/xlsx/odt/ods/odp/epub, relationships and paths, properties),
 * then the same package through normalize_item() (the sink adapter, EPUB's HTML path, page
 * marks through NFC).
 *
 * Input: byte 0 picks the type (its low 3 bits: docx pptx xlsx odt ods odp epub, 7 = docx) and
 * the mode: with bit 7 set the rest is the package itself (any bytes: libarchive's side);
 * otherwise the rest is a text listing of members, "@@name\n" starting each, which the target
 * packs into a valid stored zip (CRCs right), so the mutations reach the XML walkers instead
 * of dying in a checksum. Seeds are such listings (corpus/office/), readable and small.
 *
 * Checks the sink contract: headings never nest and are closed at the end, levels 1..6; page
 * numbers positive and never inside a heading; text events valid UTF-8; an RL_SKIP names one
 * of the two reasons; then the normalize contract for the document (valid UTF-8, page marks
 * ascending, inside the text, headings inside the text).
 */
#include "fuzz.h"
#include "../../stages/office.h"
#include "../../stages/normalize.h"

#include <zlib.h>

static const char *const types[] = { "docx", "pptx", "xlsx", "odt", "ods", "odp", "epub", "docx" };

static int on_text(void *ctx, const char *s, size_t n)
{
	struct fuzz_sink *st = ctx;
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(fuzz_utf8_valid(s, n));
	st->events++;
	return 0;
}

static int on_page(void *ctx, int number)
{
	struct fuzz_sink *st = ctx;
	FUZZ_CHECK(number > 0);
	FUZZ_CHECK(!st->in_heading);
	return 0;
}

static int on_html(void *ctx, const char *s, size_t n)
{
	struct fuzz_sink *st = ctx;
	FUZZ_CHECK(!st->in_heading);
	FUZZ_CHECK(s != NULL || n == 0);
	return 0;
}

static void put16(struct buf *b, unsigned v)
{
	unsigned char x[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	FUZZ_CHECK(buf_append(b, x, 2) == 0);
}

static void put32(struct buf *b, unsigned long v)
{
	put16(b, (unsigned)(v & 0xffff));
	put16(b, (unsigned)(v >> 16));
}

/* The listing's members as a stored zip (no compression, right CRCs, a central directory). */
static void pack(const char *s, size_t n, struct buf *zip)
{
	struct buf cd;
	unsigned count = 0;
	buf_init(&cd, 0);
	const char *p = s, *end = s + n;
	while (p < end && count < 200) {
		const char *at = memmem(p, (size_t)(end - p), "@@", 2);
		if (!at)
			break;
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		if (!nl)
			break;
		const char *name = at + 2, *data = nl + 1;
		size_t name_len = (size_t)(nl - name);
		const char *next = memmem(data, (size_t)(end - data), "\n@@", 3);
		size_t len = next ? (size_t)(next - data) : (size_t)(end - data);
		if (name_len > 200)
			name_len = 200;
		unsigned long crc = crc32(0, (const unsigned char *)data, (unsigned)len);
		unsigned long off = (unsigned long)zip->len;
		put32(zip, 0x04034b50); put16(zip, 20); put16(zip, 0); put16(zip, 0);
		put16(zip, 0); put16(zip, 0); put32(zip, crc); put32(zip, len); put32(zip, len);
		put16(zip, (unsigned)name_len); put16(zip, 0);
		FUZZ_CHECK(buf_append(zip, name, name_len) == 0);
		FUZZ_CHECK(buf_append(zip, data, len) == 0);
		put32(&cd, 0x02014b50); put16(&cd, 20); put16(&cd, 20); put16(&cd, 0); put16(&cd, 0);
		put16(&cd, 0); put16(&cd, 0); put32(&cd, crc); put32(&cd, len); put32(&cd, len);
		put16(&cd, (unsigned)name_len); put16(&cd, 0); put16(&cd, 0); put16(&cd, 0);
		put16(&cd, 0); put32(&cd, 0); put32(&cd, off);
		FUZZ_CHECK(buf_append(&cd, name, name_len) == 0);
		count++;
		p = next ? next + 1 : end;
	}
	unsigned long cd_off = (unsigned long)zip->len;
	if (cd.len)
		FUZZ_CHECK(buf_append(zip, cd.data, cd.len) == 0);
	put32(zip, 0x06054b50); put16(zip, 0); put16(zip, 0); put16(zip, count); put16(zip, count);
	put32(zip, cd.len); put32(zip, cd_off); put16(zip, 0);
	buf_release(&cd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct office_sink sink = {
		.text = on_text, .para = fuzz_sink_para,
		.heading_begin = fuzz_sink_heading_begin, .heading_end = fuzz_sink_heading_end,
		.page = on_page, .html = on_html,
	};
	if (size < 1)
		return 0;
	const char *type = types[data[0] & 7];
	struct buf zip;
	buf_init(&zip, 0);
	if (data[0] & 0x80)
		FUZZ_CHECK(buf_append(&zip, data + 1, size - 1) == 0 || size == 1);
	else
		pack((const char *)data + 1, size - 1, &zip);

	struct fuzz_sink st = { 0 };
	struct office_info info = { 0 };
	int rc = office_parse(type, zip.data ? zip.data : "", zip.len, &sink, &st, &info);
	FUZZ_CHECK(rc == 0 || rc == RL_SKIP);
	if (rc == 0)
		FUZZ_CHECK(!st.in_heading);
	if (rc == RL_SKIP)
		FUZZ_CHECK(info.reason && (!strcmp(info.reason, "corrupt_document") ||
					   !strcmp(info.reason, "encrypted")));
	if (info.properties) {
		char *js = json_dumps(info.properties, JSON_COMPACT);
		FUZZ_CHECK(js != NULL);
		free(js);
	}
	json_decref(info.properties);

	/* the whole normalize path, with a small document limit now and then */
	struct normalize_opts o = { .max_doc_bytes = (data[0] & 0x40) ? 300 : 1 << 20,
				    .max_binary_ratio = 0.3 };
	struct counts c;
	counts_init(&c, 1);
	char name[16];
	snprintf(name, sizeof(name), "f.%s", type);
	struct read_item it = { .kind = READ_FILE, .source = name, .input = name, .name = name,
				.type = type, .len = zip.len };
	it.data = malloc(zip.len + 1);
	FUZZ_CHECK(it.data != NULL);
	if (zip.len)
		memcpy(it.data, zip.data, zip.len);
	it.data[zip.len] = '\0';
	struct doc *d = NULL;
	rc = normalize_item(&o, &it, &d, &c);
	FUZZ_CHECK(rc == 0 || rc == RL_SKIP);
	if (d) {
		FUZZ_CHECK(fuzz_utf8_valid(d->text, d->text_len));
		FUZZ_CHECK(d->text_len <= o.max_doc_bytes);
		for (size_t i = 0; i < d->n_pages; i++) {
			FUZZ_CHECK(d->pages[i].offset < d->text_len);
			FUZZ_CHECK(d->pages[i].number > 0);
			FUZZ_CHECK(i == 0 || d->pages[i].offset >= d->pages[i - 1].offset);
		}
		FUZZ_CHECK(!d->n_pages || d->page_unit);
		for (size_t i = 0; i < d->n_headings; i++)
			FUZZ_CHECK(d->headings[i].offset < d->text_len);
		FUZZ_CHECK(d->metadata_json && d->metadata_json[0] == '{');
	}
	doc_free(d);
	free(it.data);
	counts_release(&c);
	buf_release(&zip);
	return 0;
}
