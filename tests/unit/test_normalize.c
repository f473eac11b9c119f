/*
 * test_normalize.c — unit tests of stages/normalize: decoding, repair, NFC, controls,
 * whitespace, HTML and Markdown structure, binary detection, rows, truncation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <utf8proc.h>

#include "../../stages/normalize.h"

static struct normalize_opts opts = { .max_doc_bytes = 1 << 20, .max_binary_ratio = 0.3 };

static struct read_item file_item(const char *name, const char *data, size_t len)
{
	struct read_item it = { 0 };
	it.kind = READ_FILE;
	it.source = (char *)name;
	it.input = (char *)"test";
	it.name = (char *)name;
	it.data = (char *)data;
	it.len = len;
	it.raw_bytes = len;
	return it;
}

/* Runs normalize_item; returns its rc, *d the doc (caller frees). */
static int run(const struct normalize_opts *o, struct read_item *it, struct doc **d,
	       struct counts *c)
{
	return normalize_item(o, it, d, c);
}

static uint64_t reason_count(struct counts *c, const char *reason)
{
	for (int i = 0; i < c->n_reasons; i++)
		if (!strcmp(c->reasons[i].reason, reason))
			return c->reasons[i].n;
	return 0;
}

/* The metadata parses as a JSON object; returns it (caller decrefs). */
static json_t *meta_of(const struct doc *d)
{
	json_error_t err;
	json_t *m = json_loads(d->metadata_json, 0, &err);
	assert_non_null(m);
	assert_true(json_is_object(m));
	return m;
}

static void doc_text_is(const char *name, const char *in, const char *want)
{
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item(name, in, strlen(in));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_non_null(d);
	assert_string_equal(d->text, want);
	assert_int_equal(d->text_len, strlen(want));
	doc_free(d);
	counts_release(&c);
}

static void test_invalid_utf8_repaired_and_counted(void **state)
{
	(void)state;
	struct buf b;
	size_t bad = 99;
	buf_init(&b, 0);
	assert_int_equal(normalize_utf8("ab\xff" "cd\xc3", 6, &b, &bad), 0);
	assert_string_equal(b.data, "ab\xef\xbf\xbd" "cd\xef\xbf\xbd");
	assert_int_equal(bad, 2);
	buf_release(&b);

	/* Damaged UTF-8 among good UTF-8 is repaired (not mistaken for Windows-1252). */
	const char *in = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, na\xc3\xafve caf\xc3\xa9 "
			 "\xe2\x82 broken \xf0\x9f oops";
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item("x.txt", in, strlen(in));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_non_null(strstr(d->text, "\xef\xbf\xbd\xef\xbf\xbd broken"));
	assert_non_null(strstr(d->text, "K\xc3\xb6ln"));
	json_t *m = meta_of(d);
	assert_int_equal(json_integer_value(json_object_get(m, "invalid_utf8")), 4);
	assert_string_equal(json_string_value(json_object_get(m, "encoding")), "utf-8");
	assert_string_equal(json_string_value(json_object_get(m, "format")), "text");
	json_decref(m);
	doc_free(d);
	/* never silent: the document loads, and is warned about and counted */
	assert_int_equal(reason_count(&c, "decoding_repaired"), 1);
	counts_release(&c);
}

/* Decodes in as a file named name; checks the text, the encoding recorded and how it was
 * chosen, and that nothing was counted. */
static void charset_is(const char *name, const char *in, const char *want_text,
		       const char *want_enc, const char *want_source)
{
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item(name, in, strlen(in));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, want_text);
	json_t *m = meta_of(d);
	json_t *enc = json_object_get(m, "encoding"), *src = json_object_get(m, "encoding_source");
	if (want_enc) {
		assert_string_equal(json_string_value(enc), want_enc);
		assert_string_equal(json_string_value(src), want_source);
	} else {
		assert_null(enc);
		assert_null(src);
	}
	assert_null(json_object_get(m, "invalid_utf8"));
	assert_null(json_object_get(m, "undecodable"));
	json_decref(m);
	assert_int_equal(counts_total(&c), 0);
	doc_free(d);
	counts_release(&c);
}

static void test_charsets(void **state)
{
	(void)state;
	/* German in Windows-1252/Latin-1: runs of two accented letters ("\xe4\xdf") are
	 * letters, not damaged UTF-8 */
	charset_is("brief.txt",
		   "Gem\xe4\xdf \xa7 3 ist die Gr\xf6\xdf" "e der Fl\xe4" "che ma\xdf" "geblich.\n"
		   "Mit freundlichen Gr\xfc\xdf" "en\n",
		   "Gem\xc3\xa4\xc3\x9f \xc2\xa7 3 ist die Gr\xc3\xb6\xc3\x9f" "e der "
		   "Fl\xc3\xa4" "che ma\xc3\x9f" "geblich. Mit freundlichen Gr\xc3\xbc\xc3\x9f" "en",
		   "windows-1252", "detected");
	/* declared by <meta charset>: curly quotes, euro sign, en dash */
	charset_is("w.html",
		   "<html><head><meta charset=\"windows-1252\"><title>Preise</title></head><body>"
		   "<p>\x84Gut\x93 kostet 5 \x80 \x96 \x93quoted\x94 \x85</p></body></html>",
		   "\xe2\x80\x9eGut\xe2\x80\x9c kostet 5 \xe2\x82\xac \xe2\x80\x93 "
		   "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\xa6",
		   "windows-1252", "declared");
	/* http-equiv, ISO-8859-1 (read as Windows-1252, its WHATWG meaning) */
	charset_is("l1.htm",
		   "<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; "
		   "charset=ISO-8859-1\"></HEAD><BODY><P>\xc0 la carte, \xa9 1999, "
		   "cr\xe8me br\xfbl\xe9" "e</P></BODY></HTML>",
		   "\xc3\x80 la carte, \xc2\xa9 1999, cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e",
		   "windows-1252", "declared");
	/* an XML declaration names the charset (ISO-8859-15: its 0xA4 is the euro sign) */
	charset_is("page.xhtml",
		   "<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?><html><body><p>Prix: 5 \xa4"
		   "</p></body></html>",
		   "Prix: 5 \xe2\x82\xac", "iso-8859-15", "declared");
	/* detected: KOI8-R and Shift_JIS */
	charset_is("ru.txt",
		   "\xf3\xdf\xc5\xdb\xd8\x20\xd6\xc5\x20\xc5\xdd\xa3\x20\xdc\xd4\xc9\xc8\x20"
		   "\xcd\xd1\xc7\xcb\xc9\xc8\x20\xc6\xd2\xc1\xce\xc3\xd5\xda\xd3\xcb\xc9\xc8\x20"
		   "\xc2\xd5\xcc\xcf\xcb\x2c\x20\xc4\xc1\x20\xd7\xd9\xd0\xc5\xca\x20\xde\xc1"
		   "\xc0\x2e",
		   "\xd0\xa1\xd1\x8a\xd0\xb5\xd1\x88\xd1\x8c \xd0\xb6\xd0\xb5 \xd0\xb5\xd1\x89"
		   "\xd1\x91 \xd1\x8d\xd1\x82\xd0\xb8\xd1\x85 \xd0\xbc\xd1\x8f\xd0\xb3\xd0\xba"
		   "\xd0\xb8\xd1\x85 \xd1\x84\xd1\x80\xd0\xb0\xd0\xbd\xd1\x86\xd1\x83\xd0\xb7"
		   "\xd1\x81\xd0\xba\xd0\xb8\xd1\x85 \xd0\xb1\xd1\x83\xd0\xbb\xd0\xbe\xd0\xba, "
		   "\xd0\xb4\xd0\xb0 \xd0\xb2\xd1\x8b\xd0\xbf\xd0\xb5\xd0\xb9 \xd1\x87\xd0\xb0"
		   "\xd1\x8e.",
		   "koi8-r", "detected");
	charset_is("neko.txt",
		   "\x8c\xe1\x94\x79\x82\xcd\x94\x4c\x82\xc5\x82\xa0\x82\xe9\x81\x42\x96\xbc"
		   "\x91\x4f\x82\xcd\x82\xdc\x82\xbe\x96\xb3\x82\xa2\x81\x42\x82\xc7\x82\xb1"
		   "\x82\xc5\x90\xb6\x82\xea\x82\xbd\x82\xa9\x82\xc6\x82\xf1\x82\xc6\x8c\xa9"
		   "\x93\x96\x82\xaa\x82\xc2\x82\xa9\x82\xca\x81\x42",
		   "\xe5\x90\xbe\xe8\xbc\xa9\xe3\x81\xaf\xe7\x8c\xab\xe3\x81\xa7\xe3\x81\x82"
		   "\xe3\x82\x8b\xe3\x80\x82\xe5\x90\x8d\xe5\x89\x8d\xe3\x81\xaf\xe3\x81\xbe"
		   "\xe3\x81\xa0\xe7\x84\xa1\xe3\x81\x84\xe3\x80\x82\xe3\x81\xa9\xe3\x81\x93"
		   "\xe3\x81\xa7\xe7\x94\x9f\xe3\x82\x8c\xe3\x81\x9f\xe3\x81\x8b\xe3\x81\xa8"
		   "\xe3\x82\x93\xe3\x81\xa8\xe8\xa6\x8b\xe5\xbd\x93\xe3\x81\x8c\xe3\x81\xa4"
		   "\xe3\x81\x8b\xe3\x81\xac\xe3\x80\x82",
		   "shift_jis", "detected");
	/* valid UTF-8 stays UTF-8 whatever a stale <meta> says; pure ASCII too */
	charset_is("stale.html",
		   "<meta charset=\"iso-8859-1\"><p>Gr\xc3\xbc\xc3\x9f" "e</p>",
		   "Gr\xc3\xbc\xc3\x9f" "e", NULL, NULL);
	charset_is("ascii.html", "<meta charset=\"koi8-r\"><p>plain</p>", "plain", NULL, NULL);
	/* a page that claims UTF-8 but is Latin-1: the bytes are detected instead */
	charset_is("claims.html", "<meta charset=\"utf-8\"><p>caf\xe9 cr\xe8me</p>",
		   "caf\xc3\xa9 cr\xc3\xa8me", "windows-1252", "detected");

	/* garbage no charset explains: loaded, repaired, warned about and counted */
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	const char *bad = "Valid start, then bad bytes \xff\xfe\xc3 and an overlong \xc0\xaf end.";
	struct read_item it = file_item("garbled.txt", bad, strlen(bad));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_non_null(strstr(d->text, "bad bytes \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd and"));
	assert_int_equal(reason_count(&c, "decoding_repaired"), 1);
	json_t *m = meta_of(d);
	assert_int_equal(json_integer_value(json_object_get(m, "invalid_utf8")), 5);
	json_decref(m);
	doc_free(d);
	/* a declared charset whose bytes do not all decode: replacements counted as well */
	const char *sj = "<meta charset=\"shift_jis\"><p>ok \x82\xa0 then \x82\xff\x82 end</p>";
	it = file_item("sj.html", sj, strlen(sj));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_int_equal(reason_count(&c, "decoding_repaired"), 2);
	assert_non_null(strstr(d->text, "\xef\xbf\xbd"));
	m = meta_of(d);
	assert_true(json_integer_value(json_object_get(m, "undecodable")) >= 1);
	json_decref(m);
	doc_free(d);
	counts_release(&c);
}

static void test_nfc_composition(void **state)
{
	(void)state;
	struct buf b;
	size_t bad;
	buf_init(&b, 0);
	/* e + U+0301 -> é; A + ring -> Å; ANGSTROM SIGN (singleton) -> Å; é stays */
	const char *in = "caf" "e\xcc\x81 A\xcc\x8a \xe2\x84\xab \xc3\xa9";
	assert_int_equal(normalize_utf8(in, strlen(in), &b, &bad), 0);
	assert_string_equal(b.data, "caf\xc3\xa9 \xc3\x85 \xc3\x85 \xc3\xa9");
	assert_int_equal(bad, 0);
	buf_release(&b);
	doc_text_is("n.txt", "Cafe\xcc\x81 au lait", "Caf\xc3\xa9 au lait");
}

/* The ASCII / inert fast path must agree with utf8proc on text dense in tricky cases. */
static void test_nfc_matches_utf8proc(void **state)
{
	(void)state;
	static const int32_t pool[] = {
		'a', 'e', 'A', ' ', 'z', 0xE9, 0x301, 0x300, 0x323, 0x308, 0x327, 0x212B, 0x2126,
		0xF900, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0x0958, 0x0915, 0x093C, 0x3099,
		0x304B, 0x0B47, 0x0B3E, 0x4E00, 0x1F600, 0x1D15E, 0x2F800, 0x0344, 0x0F73, 0x05D0,
		0xFB2C, 0x00C5, 0x1E0A, 0x0307, 0x0345, 0x03B1, 0x1FB3,
	};
	struct buf b;
	buf_init(&b, 0);
	srand(7);
	for (int round = 0; round < 3000; round++) {
		utf8proc_uint8_t s[512];
		size_t n = 0;
		int len = rand() % 40;
		for (int i = 0; i < len; i++)
			n += (size_t)utf8proc_encode_char(pool[rand() % (int)RL_ARRAY_LEN(pool)],
							  s + n);
		s[n] = 0;
		utf8proc_uint8_t *want = NULL;
		assert_true(utf8proc_map(s, (utf8proc_ssize_t)n, &want,
					 UTF8PROC_STABLE | UTF8PROC_COMPOSE) >= 0);
		size_t bad;
		buf_reset(&b);
		assert_int_equal(normalize_utf8((const char *)s, n, &b, &bad), 0);
		assert_string_equal(b.len ? b.data : "", (const char *)want);
		free(want);
	}
	buf_release(&b);
}

static void test_nul_and_controls_removed(void **state)
{
	(void)state;
	struct buf b;
	size_t bad;
	buf_init(&b, 0);
	const char in[] = "a\0b\x01" "c\x7f d\xc2\x85" "e\xc2\x9f" "z\tq\r\n";
	assert_int_equal(normalize_utf8(in, sizeof(in) - 1, &b, &bad), 0);
	assert_string_equal(b.data, "abc dez\tq\n");
	buf_release(&b);

	/* In a document (a row: NULs come from \u0000 escapes) controls vanish, NEL is a break. */
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = { .kind = READ_ROW, .source = "rows#1", .input = "rows",
				.name = "rows", .data = (char *)"x\0y\x02z\x1b[0m end", .len = 13 };
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "xyz[0m end");
	doc_free(d);
	counts_release(&c);
}

static void test_whitespace_tidy(void **state)
{
	(void)state;
	doc_text_is("w.txt", "  Hello   world\t\tfoo\nbar  \n\n\n  Second   para \r\n \t\r\n third  \n",
		    "Hello world foo bar\n\nSecond para\n\nthird");
	/* NBSP and ideographic space are whitespace too */
	doc_text_is("u.txt", "a\xc2\xa0\xc2\xa0" "b\xe3\x80\x80" "c", "a b c");
	/* single newlines join lines, a blank line with spaces still separates */
	doc_text_is("l.txt", "one\ntwo\n   \nthree", "one two\n\nthree");
}

static void test_empty_skipped(void **state)
{
	(void)state;
	struct counts c;
	struct doc *d = (struct doc *)1;
	counts_init(&c, 1);
	struct read_item it = file_item("e.txt", " \n\n\t \x01 ", 7);
	assert_int_equal(run(&opts, &it, &d, &c), RL_SKIP);
	assert_null(d);
	assert_int_equal(reason_count(&c, "empty"), 1);
	const char *only_script = "<html><script>x()</script></html>";
	struct read_item h = file_item("e.html", only_script, strlen(only_script));
	assert_int_equal(run(&opts, &h, &d, &c), RL_SKIP);
	assert_int_equal(reason_count(&c, "empty"), 2);
	const char *names[] = { "zero.txt", "zero.md", "zero.html" };
	for (int i = 0; i < 3; i++) { /* zero-byte files */
		struct read_item z = file_item(names[i], "", 0);
		assert_int_equal(run(&opts, &z, &d, &c), RL_SKIP);
	}
	assert_int_equal(reason_count(&c, "empty"), 5);
	counts_release(&c);
}

static void test_html_structure(void **state)
{
	(void)state;
	const char *html =
		"<!DOCTYPE html><html><head><title> My  Page </title>"
		"<style>p { color: red }</style>"
		"<script>var x = \"<p>not text</p>\";</script></head>"
		"<body><h1>Main   Title</h1><p>First para.</p>\n"
		"<div>Second <b>bold</b>\n   para &amp; more&nbsp;here</div>"
		"<h2>Sub <i>head</i></h2><ul><li>one</li><li>two</li></ul>"
		"<noscript>enable js</noscript><template><p>tpl</p></template>"
		"<p>line<br>break</p><table><tr><td>c1</td><td>c2</td></tr></table>"
		"<!-- comment --></body></html>";
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item("page.html", html, strlen(html));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "Main Title\n\nFirst para.\n\nSecond bold para & more here"
				     "\n\nSub head\n\none\n\ntwo\n\nline\n\nbreak\n\nc1 c2");
	assert_null(strstr(d->text, "not text"));
	assert_null(strstr(d->text, "color"));
	assert_string_equal(d->title, "My Page");
	assert_int_equal(d->n_headings, 2);
	assert_int_equal(d->headings[0].level, 1);
	assert_int_equal(d->headings[0].offset, 0);
	assert_string_equal(d->headings[0].text, "Main Title");
	assert_int_equal(d->headings[1].level, 2);
	assert_string_equal(d->headings[1].text, "Sub head");
	assert_memory_equal(d->text + d->headings[1].offset, "Sub head", 8);
	assert_string_equal(d->text + d->headings[1].offset - 2, "\n\nSub head\n\none\n\ntwo"
				"\n\nline\n\nbreak\n\nc1 c2");
	json_t *m = meta_of(d);
	assert_string_equal(json_string_value(json_object_get(m, "format")), "html");
	assert_string_equal(json_string_value(json_object_get(m, "title")), "My Page");
	json_decref(m);
	doc_free(d);
	counts_release(&c);
}

/* Heading offsets stay exact when NFC changes lengths before and inside headings. */
static void test_heading_offsets_after_nfc(void **state)
{
	(void)state;
	const char *html = "<p>Cafe\xcc\x81 e\xcc\x81t\xcc\x81</p><h3>Re\xcc\x81sume\xcc\x81</h3>"
			   "<p>A\xcc\x8a</p><h4>End</h4>";
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item("n.htm", html, strlen(html));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "Caf\xc3\xa9 \xc3\xa9t\xcc\x81\n\nR\xc3\xa9sum\xc3\xa9"
				     "\n\n\xc3\x85\n\nEnd");
	assert_int_equal(d->n_headings, 2);
	assert_string_equal(d->headings[0].text, "R\xc3\xa9sum\xc3\xa9");
	assert_memory_equal(d->text + d->headings[0].offset, d->headings[0].text,
			    strlen(d->headings[0].text));
	assert_string_equal(d->text + d->headings[1].offset, "End");
	/* no <title>: none invented from h3 */
	assert_null(d->title);
	doc_free(d);
	counts_release(&c);
}

static void test_markdown_headings(void **state)
{
	(void)state;
	const char *md = "# Title #\n\nIntro text\nmore.\n\nSub heading\n-----------\n\n"
			 "Body ## not a heading\n#hashtag\n\n```sh\n# a comment\n```\n\n"
			 "   ### Third ###\n- item\n---\nAfter\n";
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item("README.md", md, strlen(md));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	/* md4c: the fence's lines are code, not markup; "---" after a list item is a rule */
	assert_string_equal(d->text, "Title\n\nIntro text more.\n\nSub heading\n\n"
				     "Body ## not a heading #hashtag\n\n# a comment\n\n"
				     "Third\n\n- item\n\nAfter");
	assert_int_equal(d->n_headings, 3);
	const char *want[] = { "Title", "Sub heading", "Third" };
	int levels[] = { 1, 2, 3 };
	for (int i = 0; i < 3; i++) {
		assert_string_equal(d->headings[i].text, want[i]);
		assert_int_equal(d->headings[i].level, levels[i]);
		assert_memory_equal(d->text + d->headings[i].offset, want[i], strlen(want[i]));
	}
	assert_string_equal(d->title, "Title");
	json_t *m = meta_of(d);
	assert_string_equal(json_string_value(json_object_get(m, "format")), "markdown");
	json_decref(m);
	doc_free(d);
	counts_release(&c);

	/* Setext level 1 over a two-line paragraph; plain text never has headings. */
	doc_text_is("s.markdown", "Big\nTitle\n=====\ntext", "Big Title\n\ntext");
	struct doc *t = NULL;
	counts_init(&c, 1);
	struct read_item p = file_item("plain.txt", "# not\n\nx", 8);
	assert_int_equal(run(&opts, &p, &t, &c), 0);
	assert_int_equal(t->n_headings, 0);
	doc_free(t);
	counts_release(&c);
}

static void test_binary_detection(void **state)
{
	(void)state;
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	char *rnd = malloc(20000);
	srand(1);
	for (int i = 0; i < 20000; i++)
		rnd[i] = (char)(rand() & 0xFF);
	struct read_item it = file_item("blob.txt", rnd, 20000);
	assert_int_equal(run(&opts, &it, &d, &c), RL_SKIP);
	assert_null(d);

	static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0"
				  "\x1f\xf3\xff" "a";
	struct read_item p = file_item("image.txt", png, sizeof(png) - 1);
	assert_int_equal(run(&opts, &p, &d, &c), RL_SKIP);

	/* No NUL but mostly control bytes */
	memset(rnd, 0x01, 1000);
	memcpy(rnd + 1000, "text", 4);
	struct read_item k = file_item("ctl.txt", rnd, 1004);
	assert_int_equal(run(&opts, &k, &d, &c), RL_SKIP);
	assert_int_equal(reason_count(&c, "binary"), 3);
	assert_int_equal(counts_total(&c), 3);
	free(rnd);
	counts_release(&c);
}

/* UTF-16 in the given byte order from ASCII-or-Latin-1 text, optionally with a BOM. */
static size_t utf16(const char *latin1, int be, int bom, char *out)
{
	size_t n = 0;
	if (bom) {
		out[n++] = be ? '\xFE' : '\xFF';
		out[n++] = be ? '\xFF' : '\xFE';
	}
	for (const unsigned char *p = (const unsigned char *)latin1; *p; p++) {
		out[n++] = be ? 0 : (char)*p;
		out[n++] = be ? (char)*p : 0;
	}
	return n;
}

static void test_utf16_decoded(void **state)
{
	(void)state;
	char buf[256];
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	size_t n = utf16("Hello w\xf6rld\r\nline two", 0, 1, buf);
	struct read_item it = file_item("u16.txt", buf, n);
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "Hello w\xc3\xb6rld line two");
	json_t *m = meta_of(d);
	assert_string_equal(json_string_value(json_object_get(m, "encoding")), "utf-16le");
	json_decref(m);
	doc_free(d);

	n = utf16("Big endian text", 1, 1, buf);
	it = file_item("u16be.txt", buf, n);
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "Big endian text");
	doc_free(d);

	/* without a BOM: recognised by the alternating NULs */
	n = utf16("No BOM here, just ASCII text", 0, 0, buf);
	it = file_item("nobom.txt", buf, n);
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "No BOM here, just ASCII text");
	doc_free(d);
	assert_int_equal(counts_total(&c), 0);
	counts_release(&c);
}

static void test_latin1_decoded(void **state)
{
	(void)state;
	const char *in = "Caf\xe9 na\xefve \x93quoted\x94 \x80 5 and \xc0 la carte";
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item("old.txt", in, strlen(in));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "Caf\xc3\xa9 na\xc3\xafve \xe2\x80\x9cquoted\xe2\x80\x9d "
				     "\xe2\x82\xac 5 and \xc3\x80 la carte");
	json_t *m = meta_of(d);
	assert_string_equal(json_string_value(json_object_get(m, "encoding")), "windows-1252");
	assert_null(json_object_get(m, "invalid_utf8"));
	json_decref(m);
	doc_free(d);
	counts_release(&c);
}

static void test_deeply_nested_html(void **state)
{
	(void)state;
	const int depth = 100000;
	size_t n = (size_t)depth * 11 + 64, len = 0;
	char *html = malloc(n);
	for (int i = 0; i < depth; i++)
		len += (size_t)sprintf(html + len, "<div>");
	len += (size_t)sprintf(html + len, "deep text");
	for (int i = 0; i < depth; i++)
		len += (size_t)sprintf(html + len, "</div>");
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item("deep.html", html, len);
	int rc = run(&opts, &it, &d, &c);
	/* libxml2 may cap the depth; what matters is a clean return, not a crash */
	assert_true(rc == 0 || rc == RL_SKIP);
	if (rc == 0)
		assert_true(d->text_len > 0);
	doc_free(d);

	/* Text before a too-deep region is kept; text after it is either kept or, when the
	 * parser gives up (libxml2 2.9 halts at depth 256), the loss is counted. */
	len = (size_t)sprintf(html, "<p>before</p>");
	for (int i = 0; i < 300; i++)
		len += (size_t)sprintf(html + len, "<div>");
	len += (size_t)sprintf(html + len, "middle");
	for (int i = 0; i < 300; i++)
		len += (size_t)sprintf(html + len, "</div>");
	len += (size_t)sprintf(html + len, "<p>after</p>");
	it = file_item("deep1.html", html, len);
	d = NULL;
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_memory_equal(d->text, "before", 6);
	if (strstr(d->text, "after")) {
		assert_int_equal(reason_count(&c, "truncated_doc"), 0);
	} else {
		assert_int_equal(reason_count(&c, "truncated_doc"), 1);
		json_t *m = meta_of(d);
		assert_true(json_is_true(json_object_get(m, "truncated")));
		json_decref(m);
	}
	doc_free(d);

	/* nested headings and lists, unclosed */
	len = 0;
	for (int i = 0; i < depth / 10; i++)
		len += (size_t)sprintf(html + len, "<h2><li>x");
	it = file_item("deep2.html", html, len);
	d = NULL;
	rc = run(&opts, &it, &d, &c);
	assert_true(rc == 0 || rc == RL_SKIP);
	doc_free(d);
	free(html);
	counts_release(&c);
}

static void test_collection_row(void **state)
{
	(void)state;
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = { .kind = READ_ROW, .source = "corpus.jsonl#42",
				.input = "corpus.jsonl", .name = "corpus.jsonl",
				.data = (char *)"Body  text\nhere.", .len = 16,
				.title = (char *)"The \"Title\"",
				.metadata_json = (char *)"{\"_id\":\"42\",\"year\":2020,\"format\":\"x\"}",
				.mtime = 7, .raw_bytes = 80 };
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "The \"Title\"\n\nBody text here.");
	assert_string_equal(d->title, "The \"Title\"");
	assert_string_equal(d->source_name, "corpus.jsonl#42");
	assert_string_equal(d->input, "corpus.jsonl");
	assert_int_equal(d->mtime, 7);
	assert_int_equal(d->raw_bytes, 80);
	assert_int_equal(d->n_headings, 0);
	json_t *m = meta_of(d);
	assert_string_equal(json_string_value(json_object_get(m, "_id")), "42");
	assert_int_equal(json_integer_value(json_object_get(m, "year")), 2020);
	assert_string_equal(json_string_value(json_object_get(m, "format")), "text");
	assert_string_equal(json_string_value(json_object_get(m, "title")), "The \"Title\"");
	json_decref(m);
	doc_free(d);

	/* no title: the text alone */
	it.title = NULL;
	it.metadata_json = NULL;
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "Body text here.");
	assert_null(d->title);
	m = meta_of(d);
	assert_null(json_object_get(m, "title"));
	json_decref(m);
	doc_free(d);
	counts_release(&c);
}

static void test_truncation_at_max_doc_bytes(void **state)
{
	(void)state;
	struct normalize_opts o = { .max_doc_bytes = 100, .max_binary_ratio = 0.3 };
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	/* paragraphs of 39 bytes + "\n\n": the cut falls after the second one (80 bytes) */
	const char *in = "aaaaaaaaa aaaaaaaaa aaaaaaaaa aaaaaaaaa\n\n"
			 "bbbbbbbbb bbbbbbbbb bbbbbbbbb bbbbbbbbb\n\n"
			 "ccccccccc ccccccccc ccccccccc ccccccccc\n\n"
			 "ddddddddd ddddddddd ddddddddd ddddddddd\n\n# late heading\n";
	struct read_item it = file_item("long.md", in, strlen(in));
	assert_int_equal(run(&o, &it, &d, &c), 0);
	assert_true(d->text_len <= 100);
	assert_int_equal(d->text_len, 80);
	assert_string_equal(d->text + 41, "bbbbbbbbb bbbbbbbbb bbbbbbbbb bbbbbbbbb");
	assert_int_equal(d->n_headings, 0);
	assert_int_equal(reason_count(&c, "truncated_doc"), 1);
	json_t *m = meta_of(d);
	assert_true(json_is_true(json_object_get(m, "truncated")));
	json_decref(m);
	doc_free(d);

	/* no paragraph break in reach: cut at a space, never inside a word or a character */
	o.max_doc_bytes = 25;
	const char *w = "word1 word2 word3 w\xc3\xb6rd4 word5 word6";
	it = file_item("w.txt", w, strlen(w));
	assert_int_equal(run(&o, &it, &d, &c), 0);
	assert_string_equal(d->text, "word1 word2 word3 w\xc3\xb6rd4");
	doc_free(d);

	/* a huge input stops early but still cuts exactly */
	size_t big = 10u << 20;
	char *s = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		s[i] = (i % 7 == 6) ? ' ' : 'x';
	o.max_doc_bytes = 1000;
	it = file_item("big.txt", s, big);
	assert_int_equal(run(&o, &it, &d, &c), 0);
	assert_true(d->text_len <= 1000 && d->text_len > 990);
	assert_int_equal(reason_count(&c, "truncated_doc"), 3);
	doc_free(d);
	free(s);
	counts_release(&c);
}

/* Hostile HTML: libxml2 is stopped at depth 256 or after 10000 errors and the rest of the page
 * is stripped linearly: the text after the bad region is kept (html_fallback), in seconds. */
static void test_hostile_html_keeps_text(void **state)
{
	(void)state;
	size_t cap = 8u << 20, len = 0;
	char *html = malloc(cap);
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);

	len = (size_t)sprintf(html, "<h1>Top</h1><p>before</p>");
	for (int i = 0; i < 100000; i++)
		len += (size_t)sprintf(html + len, "<div>");
	len += (size_t)sprintf(html + len, "deep &amp; text<script>var x = '<p>no</p>';</script>");
	for (int i = 0; i < 100000; i++)
		len += (size_t)sprintf(html + len, "</div>");
	len += (size_t)sprintf(html + len, "<h2>Late &eacute;</h2><p>after &#x263A; the deep part</p>");
	struct read_item it = file_item("deep.html", html, len);
	double t0 = now_seconds();
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_true(now_seconds() - t0 < 10);
	assert_non_null(strstr(d->text, "before"));
	assert_non_null(strstr(d->text, "deep & text"));
	assert_null(strstr(d->text, "no"));
	assert_non_null(strstr(d->text, "after \xe2\x98\xba the deep part"));
	assert_int_equal(d->n_headings, 2);
	assert_string_equal(d->headings[1].text, "Late \xc3\xa9");
	assert_int_equal(reason_count(&c, "truncated_doc"), 0);
	json_t *m = meta_of(d);
	assert_true(json_is_true(json_object_get(m, "html_fallback")));
	json_decref(m);
	doc_free(d);

	/* stray end tags scan libxml2's stack of open elements: under depth 256, after many */
	len = 0;
	for (int i = 0; i < 250; i++)
		len += (size_t)sprintf(html + len, "<span>");
	for (int i = 0; i < 1000000; i++)
		len += (size_t)sprintf(html + len, "</i>");
	len += (size_t)sprintf(html + len, "<p>the end</p>");
	it = file_item("stray.html", html, len);
	t0 = now_seconds();
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_true(now_seconds() - t0 < 10);
	assert_non_null(strstr(d->text, "the end"));
	doc_free(d);
	free(html);
	counts_release(&c);
}

/* Stray NULs do not make text binary (they are dropped and counted); random bytes still are,
 * and binary bytes named like an archive are named for what they are. */
static void test_nul_bytes_and_unreadable_archives(void **state)
{
	(void)state;
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	static const char nul[] = "Some text\0 with\0\0 NULs <b>inside</b>.";
	struct read_item it = file_item("nul.html", nul, sizeof(nul) - 1);
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_string_equal(d->text, "Some text with NULs inside.");
	json_t *m = meta_of(d);
	assert_int_equal(json_integer_value(json_object_get(m, "nul_bytes")), 3);
	json_decref(m);
	doc_free(d);

	char rnd[4000];
	srand(3);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (char)(rand() & 0xFF);
	it = file_item("data.bin", rnd, sizeof(rnd));
	assert_int_equal(run(&opts, &it, &d, &c), RL_SKIP);
	it = file_item("data.tar.lzo", rnd, sizeof(rnd));
	assert_int_equal(run(&opts, &it, &d, &c), RL_SKIP);
	memcpy(rnd, "\x1f\x8b\x08", 3);
	it = file_item("cut.tar.gz", rnd, sizeof(rnd));
	assert_int_equal(run(&opts, &it, &d, &c), RL_SKIP);
	assert_int_equal(reason_count(&c, "binary"), 1);
	assert_int_equal(reason_count(&c, "unsupported_format"), 1);
	assert_int_equal(reason_count(&c, "corrupt_archive"), 1);
	counts_release(&c);
}

/* BOM-less UTF-16 of non-Latin scripts has no NUL pattern: recognised by its code units when
 * its bytes do not pass for text (a Cyrillic letter's high byte is a control byte; a line
 * break is a NUL). CJK without a single such byte stays undetected (it reads as legacy 8-bit). */
static void test_utf16_without_bom_non_latin(void **state)
{
	(void)state;
	/* "Привет, мир! " x 4 in UTF-16LE, "日本語のテキスト。\n" x 4 in UTF-16BE */
	static const uint16_t ru[] = { 0x41F, 0x440, 0x438, 0x432, 0x435, 0x442, 0x2C, 0x20, 0x43C,
				       0x438, 0x440, 0x21, 0x20 };
	static const uint16_t ja[] = { 0x65E5, 0x672C, 0x8A9E, 0x306E, 0x30C6, 0x30AD, 0x30B9,
				       0x30C8, 0x3002, 0x000A };
	unsigned char buf[512];
	size_t n = 0;
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	for (int r = 0; r < 4; r++)
		for (size_t i = 0; i < RL_ARRAY_LEN(ru); i++) {
			buf[n++] = (unsigned char)(ru[i] & 0xFF);
			buf[n++] = (unsigned char)(ru[i] >> 8);
		}
	struct read_item it = file_item("ru.txt", (char *)buf, n);
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_memory_equal(d->text, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, ", 14);
	json_t *m = meta_of(d);
	assert_string_equal(json_string_value(json_object_get(m, "encoding")), "utf-16le");
	json_decref(m);
	doc_free(d);
	n = 0;
	for (int r = 0; r < 4; r++)
		for (size_t i = 0; i < RL_ARRAY_LEN(ja); i++) {
			buf[n++] = (unsigned char)(ja[i] >> 8);
			buf[n++] = (unsigned char)(ja[i] & 0xFF);
		}
	it = file_item("ja.txt", (char *)buf, n);
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_memory_equal(d->text, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9);
	doc_free(d);
	assert_int_equal(counts_total(&c), 0);
	counts_release(&c);
}

/* Normalizes an HTML page; returns the doc (caller frees), asserting it loaded uncounted. */
static struct doc *html_doc(const char *name, const char *html)
{
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	struct read_item it = file_item(name, html, strlen(html));
	assert_int_equal(run(&opts, &it, &d, &c), 0);
	assert_int_equal(counts_total(&c), 0);
	counts_release(&c);
	return d;
}

static void test_html_meta_properties(void **state)
{
	(void)state;
	/* <meta> author and dates are properties, with the title; the first of each wins; a
	 * page without them has no properties */
	struct doc *d = html_doc("p.html",
		"<html><head><title> Harbour\n report </title><meta name=\"Author\" content=\" Ada \">"
		"<meta name=\"author\" content=\"Second\"><meta property=\"article:published_time\" "
		"content=\"2025-03-14\"><meta name=\"dcterms.modified\" content=\"2025-04-01\">"
		"<meta name=\"generator\" content=\"x\"></head><body><p>Text.</p></body></html>");
	json_t *m = meta_of(d), *p = json_object_get(m, "properties");
	assert_string_equal(json_string_value(json_object_get(p, "author")), "Ada");
	assert_string_equal(json_string_value(json_object_get(p, "created")), "2025-03-14");
	assert_string_equal(json_string_value(json_object_get(p, "modified")), "2025-04-01");
	assert_string_equal(json_string_value(json_object_get(p, "title")), "Harbour report");
	assert_int_equal(json_object_size(p), 4);
	json_decref(m);
	doc_free(d);
	d = html_doc("q.html", "<html><head><title>T</title></head><body><p>Text.</p></body></html>");
	m = meta_of(d);
	assert_null(json_object_get(m, "properties"));
	json_decref(m);
	doc_free(d);
}

static void test_html_main_content(void **state)
{
	(void)state;
	/* a <main>: it is the document; the title still comes from <title> */
	struct doc *d = html_doc("m.html",
		"<html><head><title>Guide</title></head><body>"
		"<a href=\"#main\">Skip to main content</a>"
		"<header><h1>Site name</h1><nav><a href=\"/\">Home</a></nav></header>"
		"<aside>Sidebar links</aside>"
		"<main id=\"main\"><article><header><h1>Install<a class=\"headerlink\" "
		"href=\"#install\">\xc2\xb6</a></h1></header><p>Run the installer.</p>"
		"<nav class=\"toc\">On this page</nav>"
		"<footer>Article footnote.</footer></article></main>"
		"<footer>Copyright 2024</footer></body></html>");
	assert_string_equal(d->text, "Install\n\nRun the installer.\n\nArticle footnote.");
	assert_string_equal(d->title, "Guide");
	assert_int_equal(d->n_headings, 1);
	assert_string_equal(d->headings[0].text, "Install");
	doc_free(d);

	/* role="main", Sphinx style: related bar, sidebar, permalinks by class */
	d = html_doc("sphinx.html",
		"<div class=\"related\" role=\"navigation\"><h3>Navigation</h3><ul><li>index</li>"
		"</ul></div><div class=\"document\"><div class=\"body\" role=\"main\">"
		"<section><h1>csv<a class=\"headerlink\" href=\"#csv\">\xc2\xb6</a></h1>"
		"<dl><dt>csv.reader()<a class=\"headerlink\" href=\"#r\">\xc2\xb6</a></dt>"
		"<dd>Reads.</dd></dl></section></div></div>"
		"<div class=\"sphinxsidebar\" role=\"navigation\"><h3>Table of Contents</h3>"
		"<h4>Previous topic</h4><ul><li>Show Source</li></ul></div>");
	assert_string_equal(d->text, "csv\n\ncsv.reader()\n\nReads.");
	assert_string_equal(d->title, "csv");
	doc_free(d);

	/* several role="main" regions all count; a "<main" in a script is none */
	d = html_doc("two.html", "<p>menu</p><div role=main>one</div><p>x</p>"
				 "<div role='main'>two</div>");
	assert_string_equal(d->text, "one\n\ntwo");
	doc_free(d);
	d = html_doc("fake.html", "<script>var s = '<main>';</script><nav>menu</nav>"
				  "<p>Body text.</p>");
	assert_string_equal(d->text, "Body text.");
	doc_free(d);
}

/* Documentation generators' own navigation, by their class names (and Texinfo's by its text) */
static void test_html_generator_navigation(void **state)
{
	(void)state;
	/* DocBook XSL (the PostgreSQL manual): navheader and navfooter tables */
	struct doc *d = html_doc("sql-begin.html",
		"<html><head><title>BEGIN</title></head><body><div class=\"navheader\">"
		"<table summary=\"Navigation header\"><tr><th colspan=\"5\">BEGIN</th></tr><tr><td>"
		"<a accesskey=\"p\" href=\"sql-analyze.html\">Prev</a></td><td><a accesskey=\"u\" "
		"href=\"sql-commands.html\">Up</a></td><th>SQL Commands</th><td><a accesskey=\"h\" "
		"href=\"index.html\">Home</a></td><td><a accesskey=\"n\" href=\"sql-call.html\">Next"
		"</a></td></tr></table><hr></div><div class=\"refentry\" id=\"SQL-BEGIN\">"
		"<h2>BEGIN</h2><p>BEGIN — start a transaction block</p></div>"
		"<div class=\"navfooter\"><hr><table summary=\"Navigation footer\"><tr><td>"
		"<a accesskey=\"p\" href=\"sql-analyze.html\">Prev</a></td></tr><tr><td>ANALYZE </td>"
		"<td>CALL</td></tr></table></div></body></html>");
	assert_string_equal(d->text, "BEGIN\n\nBEGIN — start a transaction block");
	assert_int_equal(d->n_headings, 1);
	doc_free(d);

	/* Texinfo 6 (makeinfo): the node's links in a "header" div, known by their labels */
	d = html_doc("Memory-Layout.html",
		"<body><a name=\"Memory-Layout\"></a><div class=\"header\"><p>Next: <a href=\"R.html\" "
		"accesskey=\"n\" rel=\"next\">Reader and Printer</a>, Up: <a href=\"C.html\" "
		"accesskey=\"u\" rel=\"up\">Character Types</a> &nbsp; [<a href=\"index.html#SEC_Contents\""
		" rel=\"contents\">Contents</a>]</p></div><hr><div class=\"section\">"
		"<h3 class=\"section\">10.1 Memory Layout</h3><p>Characters are immediate.</p></div>"
		"<div class=\"header\"><p>Previous: <a href=\"A.html\">A</a></p></div></body>");
	assert_string_equal(d->text, "10.1 Memory Layout\n\nCharacters are immediate.");
	doc_free(d);

	/* Texinfo 7 names it nav-panel; Javadoc's bars; Doxygen's path; a site's own navbar */
	d = html_doc("gen.html",
		"<div class=\"nav-panel\"><p>Next: <a href=\"b.html\">B</a></p></div>"
		"<div class=\"topNav\"><ul class=\"navList\"><li>Overview</li></ul></div>"
		"<div class=\"subNav\">All Classes</div>"
		"<div id=\"nav-path\" class=\"navpath\"><ul><li class=\"navelem\">GLFW</li></ul></div>"
		"<ul class=\"glfwnavbar\"><li>Download</li></ul>"
		/* Javadoc's and Doxygen's "header" divs hold the page's title: kept */
		"<div class=\"header\"><div class=\"subTitle\">Package org.junit</div>"
		"<h2 class=\"title\">Annotation Type Rule</h2></div>"
		"<div class=\"header\"><div class=\"headertitle\"><div class=\"title\">Keyboard keys"
		"</div></div></div>"
		/* "nav" inside a word, or a colour, is not navigation; a heading keeps its header */
		"<div class=\"wy-nav-content\"><p class=\"navy\">Body text.</p></div>"
		"<div class=\"header\"><h4>Up: the rise of tea</h4></div>"
		"<div class=\"bottomNav\">Overview Package</div>"
		/* ids are made from headings (Sphinx, pandoc): only generators' exact ids count */
		"<section id=\"navigating-the-tcl-tk-reference-manual\"><p>Read man pages.</p></section>"
		"<div id=\"nav-tree\">Files</div><section class=\"navsection\"><p>Kept.</p></section>");
	assert_string_equal(d->text, "Package org.junit\n\nAnnotation Type Rule\n\nKeyboard keys\n\n"
				     "Body text.\n\nUp: the rise of tea\n\nRead man pages.\n\nKept.");
	doc_free(d);
}

static void test_html_navigation_dropped(void **state)
{
	(void)state;
	/* Node.js API page layout, no main element */
	struct doc *d = html_doc("fs.html",
		"<html><head><title>File system | Node.js</title></head>"
		"<body class=\"alt apidoc\"><div id=\"content\" class=\"clearfix\">"
		"<div id=\"column2\" class=\"interior\" role=\"navigation\">"
		"<div id=\"intro\" class=\"interior\"><a href=\"/\">Node.js</a></div>"
		"<ul><li><a href=\"assert.html\">Assertion testing</a></li></ul></div>"
		"<div id=\"column1\" data-id=\"fs\" class=\"interior\">"
		"<header class=\"header\"><h1>Node.js v18 documentation</h1><hr></header>"
		"<div id=\"toc\"><h2>Table of Contents</h2><ul><li>File system</li></ul></div>"
		"<div id=\"apicontent\"><h2>File system<span><a class=\"mark\" "
		"href=\"#file-system\" id=\"file-system\">#</a></span></h2>"
		"<p>The <code>node:fs</code> module enables interacting with the file system.</p>"
		"<h3><a href=\"#promises\">Promises API</a> <a href=\"#p\">\xf0\x9f\x94\x97</a></h3>"
		"<p>See <a href=\"#x\">the callback API</a>.</p>"
		"</div></div></div>"
		"<div class=\"breadcrumbs\">Home &gt; API</div>"
		"<div role=\"contentinfo\">Footer</div></body></html>");
	assert_string_equal(d->text, "File system\n\nThe node:fs module enables interacting with the "
				     "file system.\n\nPromises API\n\nSee the callback API.");
	assert_int_equal(d->n_headings, 2);
	assert_string_equal(d->headings[0].text, "File system");
	assert_string_equal(d->headings[1].text, "Promises API");
	assert_string_equal(d->text + d->headings[1].offset, "Promises API\n\nSee the callback API.");
	assert_string_equal(d->title, "File system | Node.js");
	doc_free(d);

	/* a page of nothing but navigation is still a document */
	d = html_doc("links.html", "<nav><ul><li><a href=\"a.html\">Chapter A</a></li>"
				   "<li><a href=\"b.html\">Chapter B</a></li></ul></nav>");
	assert_string_equal(d->text, "Chapter A\n\nChapter B");
	doc_free(d);

	/* an ordinary in-page link and a "#" that is not alone in its heading stay */
	d = html_doc("keep.html", "<h2>C# tips</h2><p><a href=\"#s\">Skipping rope</a> and "
				  "<a href=\"#t\">Skip to the end</a>.</p>");
	assert_string_equal(d->text, "C# tips\n\nSkipping rope and .");
	doc_free(d);

	/* past the depth cap the linear stripper filters too */
	size_t depth = 300, len = 0;
	char *html = malloc(depth * 5 + 256);
	for (size_t i = 0; i < depth; i++)
		len += (size_t)sprintf(html + len, "<div>");
	len += (size_t)sprintf(html + len, "deep<nav class=\"x\"><nav>menu</nav>more menu</nav>"
				       "<div class=\"sidebar\"><div>side</div>bar</div><p>after</p>");
	d = html_doc("deep.html", html);
	assert_string_equal(d->text, "deep\n\nafter");
	doc_free(d);
	free(html);
}

/* Whether the doc's code blocks are exactly want (n of them). */
static void code_is(const struct doc *d, const char *const *want, size_t n)
{
	assert_int_equal(d->n_code, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(d->code[i].end <= d->text_len);
		assert_true(i == 0 || d->code[i].start >= d->code[i - 1].end);
		assert_int_equal(d->code[i].end - d->code[i].start, strlen(want[i]));
		assert_memory_equal(d->text + d->code[i].start, want[i], strlen(want[i]));
	}
}

static void test_html_code_blocks(void **state)
{
	(void)state;
	struct doc *d = html_doc("code.html",
		"<p>A short usage example:</p>"
		"<div class=\"highlight\"><pre>\n<span class=\"kn\">import</span> csv\n"
		"<span class=\"k\">with</span> open(<span class=\"s1\">'some.csv'</span>, "
		"newline=<span class=\"s1\">''</span>) <span class=\"k\">as</span> f:   \n"
		"    reader = csv.reader(f)\n\n\n\tfor row in reader:\r\n"
		"        print(row &amp; 1)\n\n</pre></div>"
		"<p>Cafe\xcc\x81 text   after.</p><h2>Next</h2>"
		"<pre>x = 1<br>y = 2</pre>");
	static const char *const want[] = {
		"import csv\nwith open('some.csv', newline='') as f:\n    reader = csv.reader(f)"
		"\n\n\n        for row in reader:\n        print(row & 1)",
		"x = 1\ny = 2",
	};
	code_is(d, want, 2);
	assert_string_equal(d->text, "A short usage example:\n\n"
		"import csv\nwith open('some.csv', newline='') as f:\n    reader = csv.reader(f)"
		"\n\n\n        for row in reader:\n        print(row & 1)\n\n"
		"Caf\xc3\xa9 text after.\n\nNext\n\nx = 1\ny = 2");
	assert_string_equal(d->text + d->headings[0].offset, "Next\n\nx = 1\ny = 2");
	doc_free(d);

	/* NFC changes lengths inside and before a block: the range still fits exactly */
	d = html_doc("nfc.html", "<p>e\xcc\x81t\xc3\xa9</p><pre>  s = \"Re\xcc\x81sume\xcc\x81\"\n"
				 "  t = 1</pre><p>o\xcc\x88</p>");
	static const char *const want2[] = { "  s = \"R\xc3\xa9sum\xc3\xa9\"\n  t = 1" };
	code_is(d, want2, 1);
	assert_string_equal(d->text, "\xc3\xa9t\xc3\xa9\n\n  s = \"R\xc3\xa9sum\xc3\xa9\"\n  t = 1"
				     "\n\n\xc3\xb6");
	doc_free(d);

	/* <code> that opens a block and holds line breaks is a block; inline <code> is text */
	d = html_doc("blk.html", "<div><code>make\n  install</code></div>"
				 "<p>Run <code>make\ninstall</code> now; <code>ls</code>.</p>"
				 "<p><code>solo</code></p><textarea>a\n  b</textarea>");
	static const char *const want3[] = { "make\n  install" };
	code_is(d, want3, 1);
	assert_string_equal(d->text, "make\n  install\n\nRun make install now; ls.\n\nsolo\n\na b");
	doc_free(d);

	/* a document that starts with a code block: its first line loses its indentation (text
	 * never starts with a blank), the others keep theirs; an empty <pre> records nothing */
	d = html_doc("only.html", "<pre>\n\n  only\n    more</pre><pre> \n </pre>");
	static const char *const want4[] = { "only\n    more" };
	code_is(d, want4, 1);
	assert_string_equal(d->text, "only\n    more");
	doc_free(d);

	/* cut at max_doc_bytes inside a code block's indentation: no trailing blank */
	struct normalize_opts small = { .max_doc_bytes = 40, .max_binary_ratio = 0.3 };
	const char *pre = "<pre>first line of code\n                              x</pre>";
	struct counts c;
	counts_init(&c, 1);
	struct read_item it = file_item("cut.html", pre, strlen(pre));
	assert_int_equal(run(&small, &it, &d, &c), 0);
	assert_string_equal(d->text, "first line of code");
	assert_int_equal(d->n_code, 1);
	assert_int_equal(d->code[0].end, d->text_len);
	doc_free(d);
	counts_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_utf8_repaired_and_counted),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_html_main_content),
		cmocka_unit_test(test_html_meta_properties),
		cmocka_unit_test(test_html_navigation_dropped),
		cmocka_unit_test(test_html_generator_navigation),
		cmocka_unit_test(test_html_code_blocks),
		cmocka_unit_test(test_nfc_composition),
		cmocka_unit_test(test_nfc_matches_utf8proc),
		cmocka_unit_test(test_nul_and_controls_removed),
		cmocka_unit_test(test_whitespace_tidy),
		cmocka_unit_test(test_empty_skipped),
		cmocka_unit_test(test_html_structure),
		cmocka_unit_test(test_heading_offsets_after_nfc),
		cmocka_unit_test(test_markdown_headings),
		cmocka_unit_test(test_binary_detection),
		cmocka_unit_test(test_utf16_decoded),
		cmocka_unit_test(test_latin1_decoded),
		cmocka_unit_test(test_deeply_nested_html),
		cmocka_unit_test(test_collection_row),
		cmocka_unit_test(test_truncation_at_max_doc_bytes),
		cmocka_unit_test(test_hostile_html_keeps_text),
		cmocka_unit_test(test_nul_bytes_and_unreadable_archives),
		cmocka_unit_test(test_utf16_without_bom_non_latin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
