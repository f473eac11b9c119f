/*
 * test_docbook.c — unit tests of stages/docbook (DocBook XML -> HTML) on its own and through
 * normalize_item (the text, title, headings and format a DocBook document ends up with): what
 * is detected as DocBook and what is not, divisions' titles as headings at their depth
 * (DocBook 4's sect1/sect1info and 5's section/info), entities (HTML names, the internal
 * subset, never an external one), what is not text (info blocks, index terms, remarks), lists,
 * reference pages, Mallard pages, the output cap, and a document without text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../stages/docbook.h"
#include "../../stages/normalize.h"

#define DB4 "<?xml version=\"1.0\"?>\n<!DOCTYPE book PUBLIC \"-//OASIS//DTD DocBook XML V4.5//EN\" " \
	    "\"http://www.oasis-open.org/docbook/xml/4.5/docbookx.dtd\">\n"

static char *html_of(const char *xml, char *title, size_t tn, int *rc)
{
	struct buf h;
	char why[200];
	int cut = 0;
	buf_init(&h, 0);
	*rc = docbook_to_html(xml, strlen(xml), 1 << 20, &h, title, tn, &cut, why, sizeof(why));
	assert_int_equal(cut, 0);
	char *out = xstrdup(h.data ? h.data : "");
	buf_release(&h);
	return out;
}

static void has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("missing [%s] in:\n%s", needle, hay);
}

static void lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("unexpected [%s] in:\n%s", needle, hay);
}

static void test_table_order(void **state)
{
	(void)state;
	assert_int_equal(docbook_table_ok(), 1);
}

static void test_detect(void **state)
{
	(void)state;
	const char *yes2[] = {
		DB4 "<book><title>T</title></book>",
		"\xEF\xBB\xBF<?xml version=\"1.0\"?><!-- c --><?pi x?>\n<article xmlns=\"http://docbook.org/ns/docbook\" version=\"5.0\"><title>T</title></article>",
		"<db:chapter xmlns:db=\"http://docbook.org/ns/docbook\"><db:title>T</db:title></db:chapter>",
		"<!DOCTYPE refentry PUBLIC \"-//OASIS//DTD DocBook XML V4.2//EN\" [ <!ENTITY a \"]>\"> ]>\n<refentry/>",
	};
	for (size_t i = 0; i < sizeof(yes2) / sizeof(*yes2); i++)
		assert_int_equal(docbook_detect(yes2[i], strlen(yes2[i])), 2);
	const char *yes1[] = { "<?xml version=\"1.0\"?>\n<sect1><title>T</title></sect1>",
			       "<book>", "<refentry id=\"x\">" };
	for (size_t i = 0; i < sizeof(yes1) / sizeof(*yes1); i++)
		assert_int_equal(docbook_detect(yes1[i], strlen(yes1[i])), 1);
	const char *no[] = {
		"<!DOCTYPE html><html><body>x</body></html>",
		"<?xml version=\"1.0\"?><config><set name=\"a\"/></config>",
		"<section xmlns=\"http://www.w3.org/1999/xhtml\">x</section>",
		"<section>only a section, no namespace: too common a name</section>",
		"plain text <book>", "", "<!-- never closed", "<?xml never closed",
		"<svg:book xmlns:svg=\"http://www.w3.org/2000/svg\"/>",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		assert_int_equal(docbook_detect(no[i], strlen(no[i])), 0);
	assert_int_equal(docbook_detect(NULL, 0), 0);
}

static void test_headings_and_blocks(void **state)
{
	(void)state;
	char title[128];
	int rc;
	char *h = html_of(DB4 "<book><bookinfo><title>The Guide</title><author><surname>Writer"
			  "</surname></author><copyright><year>2024</year></copyright></bookinfo>"
			  "<chapter><title>One</title><para>Text<indexterm><primary>idx</primary>"
			  "</indexterm> here.</para><sect1><title>One.1</title><sect2><title>Deep"
			  "</title><programlisting>int  x;\n  y &lt; 2;</programlisting>"
			  "<remark>todo</remark></sect2></sect1></chapter>"
			  "<appendix><title>A</title><table><title>Sizes</title><tgroup cols=\"2\">"
			  "<tbody><row><entry>a</entry><entry>b</entry></row></tbody></tgroup></table>"
			  "</appendix></book>", title, sizeof(title), &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(title, "The Guide");
	has(h, "<h1>The Guide</h1>");
	has(h, "<h2>One</h2>");
	has(h, "<h3>One.1</h3>");
	has(h, "<h4>Deep</h4>");
	has(h, "<h2>A</h2>");
	has(h, "<p>Text here.</p>");
	has(h, "<pre>int  x;\n  y &lt; 2;</pre>");
	has(h, "<p>Sizes</p>");  /* a table's title is not a heading */
	has(h, "<td>a</td><td>b</td>");
	lacks(h, "Writer");
	lacks(h, "2024");
	lacks(h, "idx");
	lacks(h, "todo");
	free(h);

	/* DocBook 5: the title in <info>, sections nested */
	h = html_of("<article xmlns=\"http://docbook.org/ns/docbook\" version=\"5.0\"><info>"
		    "<title>Five</title><subtitle>not text</subtitle><abstract><para>no</para>"
		    "</abstract></info><section><info><title>S1</title></info><section><title>S2"
		    "</title><para>p</para></section></section></article>", title, sizeof(title),
		    &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(title, "Five");
	has(h, "<h1>Five</h1>");
	has(h, "<h2>S1</h2>");
	has(h, "<h3>S2</h3>");
	lacks(h, "not text");
	lacks(h, "<p>no</p>");
	free(h);
}

static void test_lists_and_refentry(void **state)
{
	(void)state;
	char title[64];
	int rc;
	char *h = html_of("<refentry><refmeta><refentrytitle>frob</refentrytitle><manvolnum>1"
			  "</manvolnum></refmeta><refnamediv><refname>frob</refname><refpurpose>"
			  "frobnicate widgets</refpurpose></refnamediv><refsynopsisdiv><cmdsynopsis>"
			  "<command>frob</command><arg>-v</arg><arg><replaceable>file</replaceable>"
			  "</arg></cmdsynopsis></refsynopsisdiv><refsect1><title>Options</title>"
			  "<variablelist><varlistentry><term>-v</term><listitem><para>verbose</para>"
			  "</listitem></varlistentry></variablelist><itemizedlist><listitem><para>a"
			  "</para></listitem></itemizedlist><orderedlist><listitem><simpara>b"
			  "</simpara></listitem></orderedlist></refsect1></refentry>",
			  title, sizeof(title), &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(title, "frob");
	has(h, "frob \xE2\x80\x94 frobnicate widgets");
	has(h, "<h2>Synopsis</h2>");
	has(h, "frob -v file");
	has(h, "<h2>Options</h2>");
	has(h, "<dl>");
	has(h, "<dt>-v</dt>");
	has(h, "<dd><p>verbose</p>");
	has(h, "<ul><li><p>a</p>");
	has(h, "<ol><li><p>b</p>");
	lacks(h, "<h1>");  /* the refentry has no title of its own: refmeta is not text */
	free(h);
}

static void test_entities(void **state)
{
	(void)state;
	char title[64];
	int rc;
	/* HTML names, the internal subset; external entities (general and parameter) are never
	 * read, whatever they name */
	char *h = html_of("<?xml version=\"1.0\"?>\n<!DOCTYPE book PUBLIC \"-//OASIS//DTD DocBook "
			  "XML V4.5//EN\" \"docbookx.dtd\" [\n<!ENTITY prod \"Frob &amp; Co\">\n"
			  "<!ENTITY ext SYSTEM \"/etc/passwd\">\n<!ENTITY % pe SYSTEM \"/etc/passwd\">\n"
			  "%pe;\n]>\n<book><title>&prod;</title><para>a&mdash;b&hellip; &eacute;t&eacute; "
			  "&lt;x&gt; &#x263A; [&ext;] [&undefined;]</para></book>",
			  title, sizeof(title), &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(title, "Frob & Co");
	has(h, "<h1>Frob &amp; Co</h1>");
	has(h, "a\xE2\x80\x94" "b\xE2\x80\xA6 \xC3\xA9t\xC3\xA9 &lt;x&gt; \xE2\x98\xBA []");
	lacks(h, "root:");
	free(h);
}

static void test_limits_and_failures(void **state)
{
	(void)state;
	struct buf h;
	char why[200], title[8];
	int cut = 0, rc;
	/* the cap: the page stops there */
	struct buf big;
	buf_init(&big, 0);
	assert_int_equal(buf_append(&big, "<book><title>T</title>", 22), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(buf_append(&big, "<para>some words here</para>", 28), 0);
	assert_int_equal(buf_append(&big, "</book>", 7), 0);
	buf_init(&h, 0);
	rc = docbook_to_html(big.data, big.len, 4096, &h, title, sizeof(title), &cut, why,
			     sizeof(why));
	assert_int_equal(rc, 0);
	assert_int_equal(cut, 1);
	assert_true(h.len <= 4096);
	buf_release(&h);
	buf_release(&big);
	/* a title longer than its buffer is cut at a character */
	buf_init(&h, 0);
	const char *t = "<book><title>ab\xC3\xA9\xC3\xA9\xC3\xA9</title><para>x</para></book>";
	rc = docbook_to_html(t, strlen(t), 1 << 20, &h, title, sizeof(title), &cut, why,
			     sizeof(why));
	assert_int_equal(rc, 0);
	assert_string_equal(title, "ab\xC3\xA9\xC3\xA9");
	buf_release(&h);
	/* broken XML is read as far as it goes; no text at all is an error with a reason */
	char *p = html_of("<book><title>T</title><para>open <emphasis>never</para>", title,
			  sizeof(title), &rc);
	assert_int_equal(rc, 0);
	has(p, "never");
	free(p);
	buf_init(&h, 0);
	rc = docbook_to_html("<book><", 7, 1 << 20, &h, NULL, 0, &cut, why, sizeof(why));
	assert_int_equal(rc, RL_ERR);
	assert_true(why[0] != '\0');
	buf_release(&h);
}

static void test_mallard(void **state)
{
	(void)state;
	char title[64];
	int rc;
	const char *page =
		"<page xmlns=\"http://projectmallard.org/1.0/\" type=\"topic\" id=\"x\"><info>"
		"<title type=\"link\">Link title</title><desc>Description</desc><credit><name>"
		"Author</name></credit></info><title>Converting</title><p>Choose <guiseq><gui>Mode"
		"</gui><gui>Advanced</gui></guiseq>, press <keyseq><key>Ctrl</key><key>U</key>"
		"</keyseq>, type <code>12 in to cm</code>.</p><section><title>Length</title>"
		"<code mime=\"text/plain\">a = 1\nb = 2</code><steps><item><p>one</p></item></steps>"
		"<terms><item><title>in</title><p>Inches.</p></item></terms><media src=\"x.png\">"
		"Screenshot</media><comment><p>remark</p></comment></section><links type=\"topic\"/>"
		"</page>";
	assert_int_equal(docbook_detect(page, strlen(page)), 3);
	char *h = html_of(page, title, sizeof(title), &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(title, "Converting");
	has(h, "<h1>Converting</h1>");
	has(h, "<h2>Length</h2>");
	has(h, "Choose Mode \xE2\x96\xB8 Advanced, press Ctrl+U, type 12 in to cm.");
	has(h, "<pre>a = 1\nb = 2</pre>");
	has(h, "<ol><li><p>one</p>");
	has(h, "<p>in</p>");
	has(h, "<p>Inches.</p>");
	lacks(h, "Link title");
	lacks(h, "Description");
	lacks(h, "Author");
	lacks(h, "Screenshot");
	lacks(h, "remark");
	free(h);
	/* a fragment pages include: Mallard too */
	const char *legal = "<license xmlns=\"http://projectmallard.org/1.0/\"><p>Licensed.</p>"
			    "</license>";
	assert_int_equal(docbook_detect(legal, strlen(legal)), 3);
	h = html_of(legal, title, sizeof(title), &rc);
	assert_int_equal(rc, 0);
	has(h, "<p>Licensed.</p>");
	free(h);
}

/* ---- through normalize_item ------------------------------------------------------------------ */

static struct normalize_opts opts = { .max_doc_bytes = 1 << 20, .max_binary_ratio = 0.3 };

static struct doc *normalize_file(const char *name, const char *s, int *skipped)
{
	struct read_item it = { 0 };
	struct counts c;
	struct doc *d = NULL;
	it.kind = READ_FILE;
	it.source = it.name = (char *)name;
	it.input = (char *)"test";
	it.data = (char *)s;
	it.len = it.raw_bytes = strlen(s);
	counts_init(&c, 1);
	assert_true(normalize_item(&opts, &it, &d, &c) >= 0);
	*skipped = (int)counts_total(&c);
	counts_release(&c);
	return d;
}

static void test_through_normalize(void **state)
{
	(void)state;
	int skipped;
	struct doc *d = normalize_file("guide.xml",
		DB4 "<book><bookinfo><title>Guide</title></bookinfo><chapter><title>Install</title>"
		"<para>Run it&mdash;now.</para><screen>$ make\n$ make install</screen></chapter>"
		"</book>", &skipped);
	assert_non_null(d);
	assert_int_equal(skipped, 0);
	assert_string_equal(d->title, "Guide");
	has(d->text, "Install");
	has(d->text, "Run it\xE2\x80\x94now.");
	has(d->text, "$ make\n$ make install");
	lacks(d->text, "<");
	has(d->metadata_json, "\"format\":\"docbook\"");
	assert_true(d->n_headings >= 2);
	assert_string_equal(d->headings[1].text, "Install");
	assert_int_equal(d->headings[1].level, 2);
	assert_int_equal(d->n_code, 1);
	doc_free(d);

	/* a weak sign (a DocBook 4 root, no DOCTYPE) counts only under an XML name */
	d = normalize_file("notes.txt", "<chapter><title>X</title><para>y</para></chapter>",
			   &skipped);
	assert_non_null(d);
	has(d->text, "<chapter>");
	doc_free(d);
	d = normalize_file("notes.dbk.gz", "<chapter><title>X</title><para>y</para></chapter>",
			   &skipped);
	assert_non_null(d);
	lacks(d->text, "<chapter>");
	doc_free(d);

	/* no text in it: loaded as its source, and counted */
	d = normalize_file("empty.xml", DB4 "<book><bookinfo><author><surname>x</surname>"
			   "</author></bookinfo><indexterm><primary>y</primary></indexterm></book>",
			   &skipped);
	assert_non_null(d);
	assert_int_equal(skipped, 1);
	has(d->text, "<indexterm>");
	doc_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_order),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_headings_and_blocks),
		cmocka_unit_test(test_lists_and_refentry),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_limits_and_failures),
		cmocka_unit_test(test_mallard),
		cmocka_unit_test(test_through_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
