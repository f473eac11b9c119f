/*
 * test_markdown.c — unit tests of stages/markdown (Markdown -> text events through md4c, front
 * matter -> JSON), both on its own (a sink that records the events) and through
 * normalize_item (the text, headings, title and metadata a Markdown document ends up with).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../stages/markdown.h"
#include "../../stages/normalize.h"

/* ---- the events, recorded: text as is, "<P>" para, "<L>" line, "<Hn>" "</H>" heading,
 * "<CODE>...</CODE>" a code block ------------------------------------------------------------ */

static int rec_text(void *ctx, const char *s, size_t n)
{
	return buf_append(ctx, s, n);
}
static int rec_para(void *ctx)
{
	return buf_append(ctx, "<P>", 3);
}
static int rec_line(void *ctx)
{
	return buf_append(ctx, "<L>", 3);
}
static int rec_hb(void *ctx, int level)
{
	return buf_printf(ctx, "<H%d>", level);
}
static int rec_he(void *ctx)
{
	return buf_append(ctx, "</H>", 4);
}
static int rec_code(void *ctx, const char *s, size_t n)
{
	int rc = buf_append(ctx, "<CODE>", 6);
	if (!rc)
		rc = buf_append(ctx, s, n);
	return rc ? rc : buf_append(ctx, "</CODE>", 7);
}
static const struct md_sink rec = { rec_text, rec_para, rec_line, rec_hb, rec_he, rec_code };

/* The events of md, with runs of "<P>" squeezed to one and those at either end dropped, so the
 * expectations read as the structure, not as md4c's exact block nesting. */
static char *events(const char *md, json_t **front)
{
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(markdown_parse(md, strlen(md), &rec, &b, front), 0);
	char *s = b.data ? b.data : calloc(1, 1), *o = s;
	assert_non_null(s);
	for (const char *p = s; *p;) {
		if (!strncmp(p, "<P>", 3)) {
			while (!strncmp(p, "<P>", 3))
				p += 3;
			if (o > s && *p)
				memcpy(o, "<P>", 3), o += 3;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	return s;
}

static void events_are(const char *md, const char *want)
{
	char *got = events(md, NULL);
	assert_string_equal(got, want);
	free(got);
}

/* ---- through normalize_item ---------------------------------------------------------------- */

static struct normalize_opts opts = { .max_doc_bytes = 1 << 20, .max_binary_ratio = 0.3 };

static struct doc *normalize_md(const char *name, const char *md)
{
	struct read_item it = { 0 };
	struct counts c;
	struct doc *d = NULL;
	it.kind = READ_FILE;
	it.source = it.name = (char *)name;
	it.input = (char *)"test";
	it.data = (char *)md;
	it.len = it.raw_bytes = strlen(md);
	counts_init(&c, 1);
	assert_int_equal(normalize_item(&opts, &it, &d, &c), 0);
	assert_non_null(d);
	counts_release(&c);
	return d;
}

static void text_is(const char *md, const char *want)
{
	struct doc *d = normalize_md("README.md", md);
	assert_string_equal(d->text, want);
	doc_free(d);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_comments_dropped(void **state)
{
	(void)state;
	/* block comments, multi-line, inline, empty */
	text_is("<!-- toc -->\n- [A](#a)\n<!-- tocstop -->\n\n"
		"<!--\nmulti\nline\n-->\nText <!-- inline --> here.<!---->\n\n"
		"<!-- BADGES:START --><!-- BADGES:END -->\nLast line.\n",
		"- A\n\nText here.\n\nLast line.");
	/* an unclosed block comment hides the rest, as a browser would */
	text_is("Before\n\n<!-- never closed\n\n# Not shown\n", "Before");
}

static void test_links_images_inline(void **state)
{
	(void)state;
	events_are("A [link](http://x.y \"t\") and [ref][r], ![alt *text*](i.png), "
		   "<https://auto.example/p?q=1>, www.example.com, `a <b> c`, *em* **st** ~~del~~.\n\n"
		   "[r]: http://ref.example\n",
		   "A link and ref, alt text, https://auto.example/p?q=1, www.example.com, "
		   "a <b> c, em st del.");
	/* badges (linked SVGs, badge services) say nothing; other linked images their alt text */
	text_is("# tool [![Build](https://ci/b.svg)](https://ci) [![npm](https://img.shields.io/"
		"npm/v/x)](https://n) [![cov](https://c.io/badge.png?x=1)](c)\n\n"
		"[![Screenshot](shot.png)](big.png) ![Logo](logo.svg)\n",
		"tool\n\nScreenshot Logo");
	/* hard breaks are line events; soft breaks spaces */
	events_are("one  \ntwo\\\nthree\nfour", "one<L>two<L>three four");
}

static void test_html(void **state)
{
	(void)state;
	text_is("<details><summary>Click</summary> body</details>\n", "Click\n\nbody");
	text_is("<details>\n<summary>Show more</summary>\n\nInner *text*.\n\n</details>\n\nAfter\n",
		"Show more\n\nInner text.\n\nAfter");
	/* scripts and styles go whole, even when their body looks like markup */
	text_is("<script>\nvar s = \"<p>no</p>\";\n</script>\n\n<style>p{x:y}</style>\n\nKept <b>bold</b>"
		" <span title=\"a > b\">span</span>.\n",
		"Kept bold span.");
	/* an HTML heading is a heading; attributes, images and <br> inside it are not text */
	struct doc *d = normalize_md("README.md", "<h1 align=\"center\">\n  <img src=\"l.png\" "
				     "alt=\"logo\"><br>\n  My &amp; Tool\n</h1>\n\nIntro.\n");
	assert_string_equal(d->text, "My & Tool\n\nIntro.");
	assert_int_equal(d->n_headings, 1);
	assert_int_equal(d->headings[0].level, 1);
	assert_string_equal(d->headings[0].text, "My & Tool");
	assert_string_equal(d->title, "My & Tool");
	doc_free(d);
	/* block tags break paragraphs; a lone '<' stays text */
	text_is("<div>one</div><p>two<br>three</p>\n\na < b and 1<2\n",
		"one\n\ntwo\n\nthree\n\na < b and 1<2");
}

static void test_lists(void **state)
{
	(void)state;
	events_are("- a\n- b\n  1. x\n  2. y\n\n3) c\n4) d\n\n* [x] done\n* [ ] open\n",
		   "- a<P>- b<P>1. x<P>2. y<P>3. c<P>4. d<P>- [x] done<P>- [ ] open");
	/* loose items (paragraphs inside) read the same; an empty item leaves no marker */
	events_are("1. one\n\n   more\n2. two\n3.\n", "1. one<P>more<P>2. two");
	text_is("- item *one*\n- item two\n", "- item one\n\n- item two");
}

static void test_tables(void **state)
{
	(void)state;
	events_are("| Name | Value |\n|:-----|------:|\n| `a` | 1 |\n| b \\| c | |\n\nAfter",
		   "Name | Value<P>a | 1<P>b | c | <P>After");
	text_is("Name | Value\n--- | ---\nx | **1**\n", "Name | Value\n\nx | 1");
}

static void test_headings(void **state)
{
	(void)state;
	events_are("# One\n\n## Two *em*\n\nThree\n=====\n\n#### Four ####\n\n#nohash\n",
		   "<H1>One</H><H2>Two em</H><H1>Three</H><H4>Four</H><P>#nohash");
	struct doc *d = normalize_md("a.md", "Intro\n\n## Sub\n\ntext\n\n# Main\n\n### Deep\n");
	assert_int_equal(d->n_headings, 3);
	int levels[] = { 2, 1, 3 };
	const char *want[] = { "Sub", "Main", "Deep" };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d->headings[i].level, levels[i]);
		assert_string_equal(d->headings[i].text, want[i]);
		assert_memory_equal(d->text + d->headings[i].offset, want[i], strlen(want[i]));
	}
	assert_string_equal(d->title, "Main"); /* the first level-1 heading */
	doc_free(d);
	/* a list marker never becomes part of a heading */
	events_are("- # In item\n", "<H1>In item</H>");
}

static void test_code_blocks(void **state)
{
	(void)state;
	/* verbatim to the code event: lines and indentation (md4c gives a tab in the indentation
	 * as spaces, to its tab stop); no info string, no fences */
	events_are("Text\n\n```c\nint main(void)\n{\n\treturn 0;  /* x */\n}\n```\n\n"
		   "    indented\n      more\n\n~~~\n# not a heading\n<!-- not a comment -->\n~~~\n",
		   "Text<P><CODE>int main(void)\n{\n    return 0;  /* x */\n}\n</CODE><P>"
		   "<CODE>indented\n  more\n</CODE><P>"
		   "<CODE># not a heading\n<!-- not a comment -->\n</CODE>");
	/* code inside a list item and a quote loses the container's markers only */
	events_are("- item\n\n  ```\n  a\n    b\n  ```\n> ```\n> q\n> ```\n",
		   "- item<P><CODE>a\n  b\n</CODE><P><CODE>q\n</CODE>");
	/* through normalize: the lines and indentation stay lines */
	struct doc *d = normalize_md("a.md", "Intro\n\n```\nif x:\n    y()\n```\n\nEnd\n");
	assert_non_null(strstr(d->text, "if x:\n    y()"));
	assert_true(!strncmp(d->text, "Intro\n\n", 7));
	assert_true(strlen(d->text) > 4 && !strcmp(d->text + strlen(d->text) - 5, "\n\nEnd"));
	doc_free(d);
}

static void test_entities(void **state)
{
	(void)state;
	events_are("&amp; &lt;b&gt; &copy; &nbsp;x &#233; &#x1F600; &#0; &check; &bogus; &#xD800;",
		   "& <b> \xC2\xA9 \xC2\xA0x \xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBF\xBD \xE2\x9C\x93 "
		   "&bogus; \xEF\xBF\xBD");
	/* in raw HTML too */
	text_is("<p>Caf&eacute; &amp; bar &unknown; &#65;</p>\n", "Caf\xC3\xA9 & bar &unknown; A");
}

static void test_front_matter(void **state)
{
	(void)state;
	const char *md = "---\ntitle: \"Guide: part 1\"\ndate: 2024-01-02\ndraft: false\n"
			 "weight: 10\nversion: 1.10\ntags: [a, 'b c', 3]\nauthors:\n  - Ann\n"
			 "  - 'Bob'\ncats:\n- x\n- y\nsummary: >\n  folded\n  text\nnested:\n"
			 "  key: v\nempty:\nnote: it's # a comment\n---\n# Heading\n\nBody\n";
	json_t *fm = NULL;
	char *ev = events(md, &fm);
	assert_string_equal(ev, "<H1>Heading</H><P>Body");
	free(ev);
	assert_non_null(fm);
	char *js = json_dumps(fm, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(js, "{\"title\":\"Guide: part 1\",\"date\":\"2024-01-02\",\"draft\":false,"
				"\"weight\":10,\"version\":\"1.10\",\"tags\":[\"a\",\"b c\",3],"
				"\"authors\":[\"Ann\",\"Bob\"],\"cats\":[\"x\",\"y\"],"
				"\"summary\":\"folded text\",\"note\":\"it's\"}");
	free(js);
	json_decref(fm);

	/* through normalize: the front matter's title wins over the first heading */
	struct doc *d = normalize_md("post.md", md);
	assert_string_equal(d->text, "Heading\n\nBody");
	assert_string_equal(d->title, "Guide: part 1");
	json_error_t err;
	json_t *m = json_loads(d->metadata_json, 0, &err);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "title")), "Guide: part 1");
	json_t *f = json_object_get(m, "front_matter");
	assert_true(json_is_object(f));
	assert_int_equal(json_integer_value(json_object_get(f, "weight")), 10);
	json_decref(m);
	doc_free(d);

	/* TOML, with a table whose keys are not top-level */
	fm = NULL;
	ev = events("+++\ntitle = 'T'\ncount = 3\nlist = [\"a\", \"b\"]\n[extra]\nk = 1\n+++\nText\n",
		    &fm);
	assert_string_equal(ev, "Text");
	free(ev);
	js = json_dumps(fm, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(js, "{\"title\":\"T\",\"count\":3,\"list\":[\"a\",\"b\"]}");
	free(js);
	json_decref(fm);

	/* not front matter: not at byte 0, not closed; a rule then text stays text */
	fm = NULL;
	ev = events("---\ntitle: x\n\nno end\n", &fm);
	assert_null(fm);
	assert_string_equal(ev, "title: x<P>no end");
	free(ev);
	ev = events("\n---\na: b\n---\n", &fm);
	assert_null(fm);
	assert_string_equal(ev, "<H2>a: b</H>");
	free(ev);
	/* a YAML closing "..." line and nothing usable: no object */
	ev = events("---\n# only a comment\n...\nBody", &fm);
	assert_null(fm);
	assert_string_equal(ev, "Body");
	free(ev);
}

/* A sink that stops: the parse ends quietly and returns 0. */
static int stop_text(void *ctx, const char *s, size_t n)
{
	(void)s;
	(void)n;
	return ++*(int *)ctx >= 2;
}
static int nop(void *ctx)
{
	(void)ctx;
	return 0;
}
static int nop_h(void *ctx, int l)
{
	(void)ctx;
	(void)l;
	return 0;
}
static int nop_code(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	(void)n;
	return 0;
}
static int fail_code(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	(void)n;
	return RL_ENOMEM;
}

static void test_stop_and_errors(void **state)
{
	(void)state;
	int calls = 0;
	struct md_sink s = { stop_text, nop, nop, nop_h, nop, nop_code };
	assert_int_equal(markdown_parse("a\n\nb\n\nc\n\nd\n", 12, &s, &calls, NULL), 0);
	assert_int_equal(calls, 2);
	json_t *fm = (json_t *)1;
	s.code = fail_code;
	calls = -100;
	assert_int_equal(markdown_parse("---\nk: v\n---\n```\nx\n```\n", 24, &s, &calls, &fm),
			 RL_ENOMEM);
	assert_null(fm); /* nothing handed out on error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comments_dropped),
		cmocka_unit_test(test_links_images_inline),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_headings),
		cmocka_unit_test(test_code_blocks),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_front_matter),
		cmocka_unit_test(test_stop_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
