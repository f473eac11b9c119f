/*
 * test_pdf.c — unit tests of stages/pdf's reading of the worker's answer (pdf_from_wire) on
 * answers written here record by record: running headers and footers dropped, hyphenated
 * words joined (soft, hard, compounds kept), ligatures, headings from the outline (found on
 * the page, on the next page, or placed where it points), page events, properties and PDF
 * dates, scanned pages counted, and the malformed, encrypted and corrupt answers refused.
 * The worker itself runs in tests/integration/pdf.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../lib/common.h"
#include "../../stages/pdf.h"
#include "../../stages/pdfwire.h"

/* ---- an answer under construction ---------------------------------------------------------- */

static void put32(struct buf *b, int32_t v)
{
	unsigned char x[4] = { (unsigned char)((uint32_t)v >> 24), (unsigned char)((uint32_t)v >> 16),
			       (unsigned char)((uint32_t)v >> 8), (unsigned char)v };
	assert_int_equal(buf_append(b, x, 4), 0);
}

static void rec(struct buf *b, int tag, size_t len)
{
	assert_int_equal(buf_putc(b, (char)tag), 0);
	put32(b, (int32_t)len);
}

static void w_begin(struct buf *b, int pages)
{
	buf_init(b, 0);
	assert_int_equal(buf_append(b, PDFWIRE_MAGIC, PDFWIRE_MAGIC_LEN), 0);
	rec(b, PDFW_PAGES, 4);
	put32(b, pages);
}

static void w_prop(struct buf *b, const char *k, const char *v)
{
	rec(b, PDFW_PROP, strlen(k) + 1 + strlen(v));
	assert_int_equal(buf_append(b, k, strlen(k) + 1), 0);
	assert_int_equal(buf_append(b, v, strlen(v)), 0);
}

static void w_outline(struct buf *b, int level, int page, int y, const char *t)
{
	rec(b, PDFW_OUTLINE, 12 + strlen(t));
	put32(b, level);
	put32(b, page);
	put32(b, y);
	assert_int_equal(buf_append(b, t, strlen(t)), 0);
}

static void w_page(struct buf *b, int n, unsigned flags)
{
	rec(b, PDFW_PAGE, 16);
	put32(b, n);
	put32(b, 6120);
	put32(b, 7920);
	put32(b, (int32_t)flags);
}

static void w_block(struct buf *b)
{
	rec(b, PDFW_BLOCK, 16);
	for (int i = 0; i < 4; i++)
		put32(b, 0);
}

/* a line at height y (tenths of a point; the page is 7920 high) */
static void w_line(struct buf *b, int y, const char *t)
{
	rec(b, PDFW_LINE, 16 + strlen(t));
	put32(b, 720);
	put32(b, y);
	put32(b, 5000);
	put32(b, y + 120);
	assert_int_equal(buf_append(b, t, strlen(t)), 0);
}

static void w_end(struct buf *b, int status, const char *msg)
{
	rec(b, PDFW_END, 4 + strlen(msg));
	put32(b, status);
	assert_int_equal(buf_append(b, msg, strlen(msg)), 0);
}

/* ---- a sink that writes a transcript: text, "|" paragraphs, "<h2>..</h>", "[p3]" pages --- */

struct tr {
	struct buf out;
	int in_heading;
};

static int t_text(void *ctx, const char *s, size_t n)
{
	return buf_append(&((struct tr *)ctx)->out, s, n);
}

static int t_para(void *ctx)
{
	return buf_putc(&((struct tr *)ctx)->out, '|');
}

static int t_hb(void *ctx, int level)
{
	struct tr *t = ctx;
	assert_false(t->in_heading);
	t->in_heading = 1;
	return buf_printf(&t->out, "<h%d>", level);
}

static int t_he(void *ctx)
{
	struct tr *t = ctx;
	assert_true(t->in_heading);
	t->in_heading = 0;
	return buf_append(&t->out, "</h>", 4);
}

static int t_page(void *ctx, int n)
{
	return buf_printf(&((struct tr *)ctx)->out, "[p%d]", n);
}

static const struct office_sink sink = {
	.text = t_text, .para = t_para, .heading_begin = t_hb, .heading_end = t_he, .page = t_page,
};

static char *run(struct buf *w, int want_rc, struct pdf_info *info)
{
	struct tr t = { 0 };
	buf_init(&t.out, 0);
	memset(info, 0, sizeof(*info));
	int rc = pdf_from_wire(w->data, w->len, &sink, &t, info);
	assert_int_equal(rc, want_rc);
	assert_false(t.in_heading);
	char *s = buf_detach(&t.out, NULL);
	return s ? s : strdup("");
}

/* ---- tests ----------------------------------------------------------------------------------- */

/* Three pages with a running header (its page number changing) and a footer: both dropped;
 * a hyphenated word joined across lines and across a page break; a compound kept. */
static void test_layout(void **state)
{
	(void)state;
	struct buf w;
	struct pdf_info info;
	w_begin(&w, 3);
	w_prop(&w, "title", "Tide Tables");
	w_prop(&w, "created", "D:20240102030405+01'30'");
	w_prop(&w, "modified", "D:2024");
	const char *body[3][3] = {
		{ "The well-known harbour master wrote a hyphen-", "ated note on the extra-",
		  "ordinary tides of the har-" },
		{ "bour coast, where the well-", "known ferry sails. The \xef\xac\x81rst boat",
		  "left at dawn and re-" },
		{ "turned by noon with every passen\xc2\xad", "ger aboard.", "Nothing else hap-" },
	};
	for (int p = 0; p < 3; p++) {
		char head[64];
		w_page(&w, p + 1, 0);
		w_block(&w);
		snprintf(head, sizeof(head), "Harbour Report   Page %d", p + 1);
		w_line(&w, 300, head);
		w_block(&w);
		for (int i = 0; i < 3; i++)
			w_line(&w, 1500 + 150 * i, body[p][i]);
		w_block(&w);
		w_line(&w, 7700, "Confidential");
	}
	w_end(&w, PDFW_OK, "");
	char *s = run(&w, 0, &info);
	assert_string_equal(s,
		"[p1]|The well-known harbour master wrote a hyphenated note on the extraordinary "
		"tides of the harbour"
		"[p2]|coast, where the well-known ferry sails. The first boat left at dawn and returned"
		"[p3]|by noon with every passenger aboard. Nothing else hap-");
	assert_int_equal(info.headers_dropped, 6);
	assert_int_equal(info.pages, 3);
	json_t *p = info.properties;
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "title")), "Tide Tables");
	assert_string_equal(json_string_value(json_object_get(p, "created")), "2024-01-02T03:04:05+01:30");
	assert_string_equal(json_string_value(json_object_get(p, "modified")), "2024");
	assert_int_equal(json_integer_value(json_object_get(p, "pages")), 3);
	json_decref(p);
	free(s);
	buf_release(&w);
}

/* Outline entries: one found on its page after a section number, one whose heading moved to
 * the next page, one whose title is not on its page (a heading of the outline's words where it
 * points), one pointing at no page (left out). */
static void test_headings(void **state)
{
	(void)state;
	struct buf w;
	struct pdf_info info;
	w_begin(&w, 2);
	w_outline(&w, 1, 1, 900, "Intro");
	w_outline(&w, 2, 1, 7000, "Moved Down");
	w_outline(&w, 9, 2, 3000, "Not In Text");
	w_outline(&w, 1, 0, -1, "Nowhere");
	w_page(&w, 1, 0);
	w_block(&w);
	w_line(&w, 1000, "1. Intro");
	w_block(&w);
	w_line(&w, 1200, "First words.");
	w_page(&w, 2, 0);
	w_block(&w);
	w_line(&w, 800, "1.1 Moved");
	w_line(&w, 950, "Down");
	w_block(&w);
	w_line(&w, 1200, "Second words.");
	w_block(&w);
	w_line(&w, 3200, "Third words.");
	w_end(&w, PDFW_OK, "");
	char *s = run(&w, 0, &info);
	assert_string_equal(s, "[p1]<h1>1. Intro</h>|First words.[p2]<h2>1.1 Moved Down</h>|Second "
			       "words.<h6>Not In Text</h>|Third words.");
	json_decref(info.properties);
	free(s);
	buf_release(&w);
}

/* Contents pages: page 1's entries in both layouts (number on the line, number alone on the
 * next line, section numbers set apart) are dropped, its outline heading stays; page 2 ends the
 * contents (two entries) before its first heading, then body text that stays; page 3 is a
 * price list with leaders whose numbers do not rise: content, kept. */
static void test_contents(void **state)
{
	(void)state;
	struct buf w;
	struct pdf_info info;
	w_begin(&w, 3);
	w_outline(&w, 1, 1, 700, "Contents");
	w_outline(&w, 1, 2, 2500, "Preface");
	w_page(&w, 1, 0);
	w_block(&w);
	w_line(&w, 800, "Contents");
	w_block(&w);
	w_line(&w, 1000, "1");
	w_line(&w, 1100, "Getting started . . . . . . . . . . . . 1");
	w_line(&w, 1200, "1.1");
	w_line(&w, 1300, "Installing . . . . . . . . . . . . . . .");
	w_line(&w, 1400, "2");
	w_line(&w, 1500, "1.2 Running the tool ...................... 4");
	w_line(&w, 1600, "2 Tuning \xe2\x80\xa6\xe2\x80\xa6 7");
	w_page(&w, 2, 0);
	w_block(&w);
	w_line(&w, 1000, "3 Limits . . . . . . . . . 9");
	w_line(&w, 1100, "4 Index . . . . . . . . . 12");
	w_block(&w);
	w_line(&w, 2600, "Preface");
	w_block(&w);
	w_line(&w, 2800, "This guide explains the tool.");
	w_page(&w, 3, 0);
	w_block(&w);
	w_line(&w, 1000, "Coffee . . . . . . . 4");
	w_line(&w, 1100, "Tea . . . . . . . . 3");
	w_line(&w, 1200, "Cake . . . . . . . . 5");
	w_line(&w, 1300, "Water . . . . . . . 1");
	w_end(&w, PDFW_OK, "");
	char *s = run(&w, 0, &info);
	assert_string_equal(s, "[p1]<h1>Contents</h>[p2]<h1>Preface</h>|This guide explains the tool."
			       "[p3]|Coffee . . . . . . . 4 Tea . . . . . . . . 3 Cake . . . . . . . . 5 "
			       "Water . . . . . . . 1");
	assert_int_equal(info.toc_pages, 2);
	json_decref(info.properties);
	free(s);
	buf_release(&w);
}

/* A scanned page (images, no text) is counted; a page the library failed on too. */
static void test_scan(void **state)
{
	(void)state;
	struct buf w;
	struct pdf_info info;
	w_begin(&w, 3);
	w_page(&w, 1, PDFW_PAGE_IMAGES);
	w_page(&w, 2, PDFW_PAGE_FAILED);
	w_page(&w, 3, 0);
	w_block(&w);
	w_line(&w, 1000, "Only text.");
	rec(&w, PDFW_TRUNCATED, 0);
	w_end(&w, PDFW_OK, "");
	char *s = run(&w, 0, &info);
	assert_string_equal(s, "[p1][p2][p3]|Only text.");
	assert_int_equal(info.no_text_pages, 1);
	assert_int_equal(info.failed_pages, 1);
	assert_int_equal(info.truncated, 1);
	json_decref(info.properties);
	free(s);
	buf_release(&w);
}

static void expect_skip(struct buf *w, const char *reason, const char *msg_part)
{
	struct pdf_info info;
	char *s = run(w, RL_SKIP, &info);
	assert_non_null(info.reason);
	assert_string_equal(info.reason, reason);
	if (!strstr(info.message, msg_part))
		fail_msg("message '%s' lacks '%s'", info.message, msg_part);
	json_decref(info.properties);
	free(s);
}

/* The statuses and the malformed answers. */
static void test_refused(void **state)
{
	(void)state;
	struct buf w;
	buf_init(&w, 0);
	expect_skip(&w, "parse_failed", "said nothing readable");
	w_begin(&w, 1);
	w_end(&w, PDFW_ENCRYPTED, "needs a password");
	expect_skip(&w, "encrypted", "needs a password");
	buf_release(&w);
	w_begin(&w, 1);
	w_end(&w, PDFW_CORRUPT, "no objects\x01");
	expect_skip(&w, "corrupt_document", "no objects?");
	buf_release(&w);
	w_begin(&w, 1);
	w_end(&w, PDFW_NOMEM, "");
	expect_skip(&w, "parse_failed", "out of memory");
	buf_release(&w);
	/* no end record: the worker died */
	w_begin(&w, 1);
	w_page(&w, 1, 0);
	expect_skip(&w, "parse_failed", "no end record");
	buf_release(&w);
	/* a page beyond the count; pages out of order; a line outside a block */
	w_begin(&w, 1);
	w_page(&w, 2, 0);
	w_end(&w, 0, "");
	expect_skip(&w, "parse_failed", "bad page record");
	buf_release(&w);
	w_begin(&w, 3);
	w_page(&w, 2, 0);
	w_page(&w, 1, 0);
	w_end(&w, 0, "");
	expect_skip(&w, "parse_failed", "bad page record");
	buf_release(&w);
	w_begin(&w, 1);
	w_page(&w, 1, 0);
	w_line(&w, 100, "orphan");
	w_end(&w, 0, "");
	expect_skip(&w, "parse_failed", "bad line");
	buf_release(&w);
	/* text that is not UTF-8, a control character, a length past the end, data after the end */
	w_begin(&w, 1);
	w_page(&w, 1, 0);
	w_block(&w);
	w_line(&w, 100, "bad \xff byte");
	w_end(&w, 0, "");
	expect_skip(&w, "parse_failed", "bad line");
	buf_release(&w);
	w_begin(&w, 1);
	w_page(&w, 1, 0);
	w_block(&w);
	w_line(&w, 100, "tab\there");
	w_end(&w, 0, "");
	expect_skip(&w, "parse_failed", "bad line");
	buf_release(&w);
	w_begin(&w, 1);
	rec(&w, PDFW_LINE, 1000);
	expect_skip(&w, "parse_failed", "longer than the answer");
	buf_release(&w);
	w_begin(&w, 1);
	w_end(&w, 0, "");
	w_page(&w, 1, 0);
	expect_skip(&w, "parse_failed", "after the end record");
	buf_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_headings),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_contents),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
