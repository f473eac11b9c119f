/*
 * test_office.c — unit tests of stages/office (office packages and e-books -> text events) on
 * small zips written in memory by libarchive: the DOCX, PPTX, XLSX and ODF walkers, slide
 * order and numbers, relationships and paths, properties, the damaged and encrypted cases,
 * a sink that stops; then one package through normalize_item (page marks on the doc).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <jansson.h>

#include "../../stages/normalize.h"
#include "../../stages/office.h"

/* ---- a zip in memory: name, data pairs, NULL-terminated --------------------------------- */

static char *zip_make(const char *const *members, size_t *len)
{
	size_t cap = 1 << 20, used = 0;
	char *out = malloc(cap);
	struct archive *a = archive_write_new();
	assert_non_null(out);
	archive_write_set_format_zip(a);
	assert_int_equal(archive_write_open_memory(a, out, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; members[i]; i += 2) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, members[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)strlen(members[i + 1]));
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		archive_write_data(a, members[i + 1], strlen(members[i + 1]));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	*len = used;
	return out;
}

/* ---- the events, recorded: text as is, "<P>" para, "<Hn>" "</H>" heading, "<#n>" page,
 * "<HTML n>" an XHTML member of n bytes ----------------------------------------------------- */

static int stop_after = -1; /* events before a quiet stop; -1 never */

static int tick(void)
{
	return stop_after >= 0 && --stop_after < 0 ? 1 : 0;
}
static int rec_text(void *ctx, const char *s, size_t n)
{
	return buf_append(ctx, s, n) ? RL_ENOMEM : tick();
}
static int rec_para(void *ctx)
{
	return buf_append(ctx, "<P>", 3) ? RL_ENOMEM : tick();
}
static int rec_hb(void *ctx, int level)
{
	return buf_printf(ctx, "<H%d>", level) ? RL_ENOMEM : tick();
}
static int rec_he(void *ctx)
{
	return buf_append(ctx, "</H>", 4) ? RL_ENOMEM : tick();
}
static int rec_page(void *ctx, int n)
{
	return buf_printf(ctx, "<#%d>", n) ? RL_ENOMEM : tick();
}
static int rec_html(void *ctx, const char *s, size_t n)
{
	(void)s;
	return buf_printf(ctx, "<HTML %zu>", n) ? RL_ENOMEM : tick();
}

static const struct office_sink sink = { rec_text, rec_para, rec_hb, rec_he, rec_page, rec_html };

/* Parses the package; returns office_parse()'s code, the events in *events (static). */
static int run(const char *type, const char *const *members, struct office_info *info,
	       const char **events)
{
	static struct buf b;
	size_t len;
	char *zip = zip_make(members, &len);
	buf_release(&b);
	buf_init(&b, 0);
	buf_putc(&b, '\0');
	b.len = 0;
	memset(info, 0, sizeof(*info));
	int rc = office_parse(type, zip, len, &sink, &b, info);
	free(zip);
	*events = b.data;
	return rc;
}

/* ---- DOCX --------------------------------------------------------------------------------- */

#define W "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""

static void test_docx(void **state)
{
	(void)state;
	const char *const m[] = {
		"word/document.xml",
		"<w:document " W "><w:body>"
		"<w:p><w:pPr><w:pStyle w:val=\"MyHead\"/><w:tabs><w:tab w:val=\"left\"/></w:tabs></w:pPr>"
		"<w:r><w:t>Intro</w:t></w:r></w:p>"
		"<w:p><w:r><w:t xml:space=\"preserve\">Hello </w:t></w:r><w:r><w:t>world</w:t><w:tab/>"
		"<w:t>tabbed</w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del></w:p>"
		"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc>"
		"<w:tc><w:p><w:r><w:t>c</w:t></w:r></w:p><w:p><w:r><w:t>c2</w:t></w:r></w:p></w:tc></w:tr>"
		"<w:tr><w:tc><w:p><w:r><w:t>d</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
		"<w:p><w:pPr><w:pStyle w:val=\"Heading3\"/></w:pPr><w:r><w:t>Fallback</w:t></w:r></w:p>"
		"<w:p/><w:p><w:r><w:t>End</w:t></w:r></w:p>"
		"</w:body></w:document>",
		"word/styles.xml",
		"<w:styles " W "><w:style w:type=\"paragraph\" w:styleId=\"MyHead\">"
		"<w:name w:val=\"heading 2\"/></w:style>"
		"<w:style w:type=\"character\" w:styleId=\"Heading1Char\"><w:name w:val=\"heading 1\"/></w:style>"
		"</w:styles>",
		"word/footnotes.xml",
		"<w:footnotes " W "><w:footnote w:type=\"separator\" w:id=\"-1\"><w:p><w:r><w:t>SEP</w:t>"
		"</w:r></w:p></w:footnote><w:footnote w:id=\"1\"><w:p><w:r><w:t>A note.</w:t></w:r></w:p>"
		"</w:footnote></w:footnotes>",
		"docProps/core.xml",
		"<cp:coreProperties xmlns:cp=\"c\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
		"xmlns:dcterms=\"http://purl.org/dc/terms/\"><dc:title> My Title </dc:title>"
		"<dc:creator>Ada</dc:creator><dcterms:created>2024-01-02T03:04:05Z</dcterms:created>"
		"</cp:coreProperties>",
		"docProps/app.xml", "<Properties><Pages>7</Pages></Properties>",
		"word/media/image1.png", "\x89PNG not read",
		NULL,
	};
	struct office_info info;
	const char *ev;
	assert_int_equal(run("docx", m, &info, &ev), 0);
	assert_string_equal(ev, "<H2>Intro</H>Hello world tabbed<P>"
				"<P>a   | c c2 <P>d <P>" /* spaces: the emitter collapses them */
				"<H3>Fallback</H><P>End<P>"
				"<H1>Notes</H>A note.<P><P>");
	char *js = json_dumps(info.properties, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(js, "{\"author\":\"Ada\",\"created\":\"2024-01-02T03:04:05Z\","
				"\"pages\":7,\"title\":\"My Title\"}");
	free(js);
	json_decref(info.properties);
	assert_null(info.page_unit);
}

/* ---- PPTX: slide order from sldIdLst, titles, notes, slide numbers ------------------------ */

#define P "xmlns:p=\"http://schemas.openxmlformats.org/presentationml/2006/main\" " \
	  "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" " \
	  "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\""
#define SP(ph, text) "<p:sp><p:nvSpPr><p:nvPr>" ph "</p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>" \
	text "</a:t></a:r></a:p></p:txBody></p:sp>"

static void test_pptx(void **state)
{
	(void)state;
	const char *const m[] = {
		"ppt/presentation.xml",
		"<p:presentation " P "><p:sldIdLst><p:sldId id=\"256\" r:id=\"rId9\"/>"
		"<p:sldId id=\"257\" r:id=\"rId2\"/><p:sldId id=\"258\" r:id=\"rIdMissing\"/>"
		"</p:sldIdLst></p:presentation>",
		"ppt/_rels/presentation.xml.rels",
		"<Relationships><Relationship Id=\"rId2\" Type=\"x/slide\" Target=\"slides/slide1.xml\"/>"
		"<Relationship Id=\"rId9\" Type=\"x/slide\" Target=\"/ppt/slides/slide2.xml\"/></Relationships>",
		"ppt/slides/slide1.xml",
		"<p:sld " P "><p:cSld><p:spTree>" SP("", "Body one") SP("<p:ph type=\"title\"/>", "First")
		"</p:spTree></p:cSld></p:sld>",
		"ppt/slides/slide2.xml",
		"<p:sld " P "><p:cSld><p:spTree>" SP("<p:ph type=\"body\"/>", "No title here")
		"</p:spTree></p:cSld></p:sld>",
		"ppt/slides/_rels/slide1.xml.rels",
		"<Relationships><Relationship Id=\"rId1\" Type=\"http://x/notesSlide\" "
		"Target=\"../notesSlides/notesSlide4.xml\"/></Relationships>",
		"ppt/notesSlides/notesSlide4.xml",
		"<p:notes " P "><p:cSld><p:spTree>" SP("<p:ph type=\"sldNum\"/>", "2")
		SP("<p:ph type=\"body\"/>", "Say hello") "</p:spTree></p:cSld></p:notes>",
		NULL,
	};
	struct office_info info;
	const char *ev;
	assert_int_equal(run("pptx", m, &info, &ev), 0);
	assert_string_equal(ev, "<#1><H1>Slide 1</H>No title here<P>"
				"<#2><H1>First</H>Body one<P><P>Say hello<P>");
	assert_string_equal(info.page_unit, "slides");
	json_decref(info.properties);
}

/* ---- XLSX ----------------------------------------------------------------------------------- */

static void test_xlsx(void **state)
{
	(void)state;
	const char *const m[] = {
		"xl/workbook.xml",
		"<workbook xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
		"<sheets><sheet name=\"Fleet\" r:id=\"rId1\"/></sheets></workbook>",
		"xl/_rels/workbook.xml.rels",
		"<Relationships><Relationship Id=\"rId1\" Target=\"worksheets/sheet1.xml\"/></Relationships>",
		"xl/sharedStrings.xml",
		"<sst><si><t>Vessel</t></si><si><r><t>Alba</t></r><r><t>tross</t></r>"
		"<rPh><t>PHONETIC</t></rPh></si></sst>",
		"xl/worksheets/sheet1.xml",
		"<worksheet><sheetData><row><c t=\"s\"><v>0</v></c><c/><c t=\"s\"><v>99</v></c>"
		"<c><v>42</v></c></row><row><c t=\"s\"><v>1</v></c><c t=\"inlineStr\"><is><t>inline"
		"</t></is></c><c t=\"str\"><f>SUM(A1)</f><v>7</v></c></row><row/></sheetData></worksheet>",
		NULL,
	};
	struct office_info info;
	const char *ev;
	assert_int_equal(run("xlsx", m, &info, &ev), 0);
	assert_string_equal(ev, "<H1>Fleet</H>Vessel | 42<P>Albatross | inline | 7<P>");
	assert_int_equal(info.truncated_sheets, 0);
}

/* ---- ODF ------------------------------------------------------------------------------------ */

#define NS "xmlns:office=\"o\" xmlns:text=\"t\" xmlns:table=\"tb\" xmlns:draw=\"d\" " \
	   "xmlns:presentation=\"urn:oasis:names:tc:opendocument:xmlns:presentation:1.0\""

static void test_odf(void **state)
{
	(void)state;
	const char *const odt[] = {
		"content.xml",
		"<office:document-content " NS "><office:automatic-styles><text:p>style</text:p>"
		"</office:automatic-styles><office:body><office:text>"
		"<text:h text:outline-level=\"2\">Intro</text:h><text:p>One<text:s/>two<text:note>"
		"<text:note-citation>1</text:note-citation><text:note-body><text:p>Note.</text:p>"
		"</text:note-body></text:note>three</text:p><text:list><text:list-item><text:p>item"
		"</text:p></text:list-item></text:list><table:table><table:table-row><table:table-cell>"
		"<text:p>a</text:p></table:table-cell><table:table-cell table:number-columns-repeated=\"3\"/>"
		"<table:table-cell><text:p>b</text:p></table:table-cell></table:table-row></table:table>"
		"</office:text></office:body></office:document-content>",
		"meta.xml",
		"<office:document-meta xmlns:office=\"o\" xmlns:meta=\"m\" xmlns:dc=\"dc\"><office:meta>"
		"<dc:creator>Editor</dc:creator><meta:initial-creator>Author</meta:initial-creator>"
		"<meta:document-statistic meta:page-count=\"3\"/></office:meta></office:document-meta>",
		NULL,
	};
	struct office_info info;
	const char *ev;
	assert_int_equal(run("odt", odt, &info, &ev), 0);
	assert_string_equal(ev, "<H2>Intro</H>One two Note.  three<P>item<P><P>a  | b <P>");
	char *js = json_dumps(info.properties, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(js, "{\"author\":\"Author\",\"pages\":3}");
	free(js);
	json_decref(info.properties);

	const char *const odp[] = {
		"content.xml",
		"<office:document-content " NS "><office:body><office:presentation>"
		"<draw:page><draw:frame presentation:class=\"title\"><draw:text-box><text:p>Hi</text:p>"
		"</draw:text-box></draw:frame><draw:frame presentation:class=\"page-number\"><text:p>1"
		"</text:p></draw:frame><presentation:notes><draw:page-thumbnail/><draw:frame>"
		"<text:p>note</text:p></draw:frame></presentation:notes></draw:page>"
		"<draw:page><draw:frame><text:p>body</text:p></draw:frame></draw:page>"
		"</office:presentation></office:body></office:document-content>",
		NULL,
	};
	assert_int_equal(run("odp", odp, &info, &ev), 0);
	assert_string_equal(ev, "<#1><H1>Hi </H>note<P><#2>body<P>");
	assert_string_equal(info.page_unit, "slides");
}

/* ---- EPUB: container -> OPF -> spine, paths relative to the OPF ---------------------------- */

static void test_epub(void **state)
{
	(void)state;
	const char *const m[] = {
		"META-INF/container.xml",
		"<container><rootfiles><rootfile full-path=\"OEBPS/pkg/book.opf\"/></rootfiles></container>",
		"OEBPS/pkg/book.opf",
		"<package xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><metadata><dc:title>Book</dc:title>"
		"<dc:creator>Writer</dc:creator><dc:date>2020</dc:date></metadata><manifest>"
		"<item id=\"c2\" href=\"../text/ch%202.xhtml#top\" media-type=\"application/xhtml+xml\"/>"
		"<item id=\"c1\" href=\"./ch1.xhtml\" media-type=\"application/xhtml+xml\"/></manifest>"
		"<spine><itemref idref=\"c1\"/><itemref idref=\"c2\"/><itemref idref=\"nope\"/></spine></package>",
		"OEBPS/pkg/ch1.xhtml", "<html><body><p>one</p></body></html>",
		"OEBPS/text/ch 2.xhtml", "<html><body><p>two!</p></body></html>",
		NULL,
	};
	struct office_info info;
	const char *ev;
	assert_int_equal(run("epub", m, &info, &ev), 0);
	assert_string_equal(ev, "<P><HTML 36><P><HTML 37>");
	assert_string_equal(json_string_value(json_object_get(info.properties, "title")), "Book");
	assert_string_equal(json_string_value(json_object_get(info.properties, "author")), "Writer");
	json_decref(info.properties);
}

/* ---- damage, encryption, stopping ----------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16), p[3] = (unsigned char)(v >> 24);
}

/* An OLE2 compound file (512-byte sectors: header, FAT, directory, data) into f[2048] whose
 * directory names the streams a and b. */
static void cfb_make(unsigned char *f, const char *a, const char *b)
{
	const char *names[] = { "Root Entry", a, b };
	memset(f, 0, 2048);
	memcpy(f, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
	f[24] = 0x3e, f[26] = 3, f[28] = 0xfe, f[29] = 0xff, f[30] = 9, f[32] = 6;
	put32(f + 44, 1);                /* FAT sectors */
	put32(f + 48, 1);                /* the directory's first sector */
	put32(f + 60, 0xFFFFFFFE);
	put32(f + 68, 0xFFFFFFFE);
	for (int i = 0; i < 109; i++)
		put32(f + 76 + 4 * i, i ? 0xFFFFFFFF : 0);
	for (int i = 0; i < 128; i++)
		put32(f + 512 + 4 * i, i == 0 ? 0xFFFFFFFD : i < 3 ? 0xFFFFFFFE : 0xFFFFFFFF);
	for (int k = 0; k < 3; k++) {
		unsigned char *e = f + 1024 + 128 * k;
		size_t n = strlen(names[k]);
		for (size_t i = 0; i < n; i++)
			e[2 * i] = (unsigned char)names[k][i];
		e[64] = (unsigned char)(2 * (n + 1));
		e[66] = k ? 2 : 5;
	}
}

static void test_damaged(void **state)
{
	(void)state;
	struct office_info info = { 0 };
	static unsigned char cfb[2048];
	struct buf b;
	buf_init(&b, 0);
	/* OOXML encryption: its streams in an OLE2 directory */
	cfb_make(cfb, "EncryptionInfo", "EncryptedPackage");
	assert_int_equal(office_parse("docx", (const char *)cfb, sizeof(cfb), &sink, &b, &info),
			 RL_SKIP);
	assert_string_equal(info.reason, "encrypted");
	memset(&info, 0, sizeof(info));
	/* a legacy Word file, and OLE2 bytes without a readable directory, are no packages */
	cfb_make(cfb, "WordDocument", "1Table");
	assert_int_equal(office_parse("docx", (const char *)cfb, sizeof(cfb), &sink, &b, &info),
			 RL_SKIP);
	assert_string_equal(info.reason, "corrupt_document");
	memset(&info, 0, sizeof(info));
	assert_int_equal(office_parse("docx", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 rest", 13, &sink, &b,
				      &info), RL_SKIP);
	assert_string_equal(info.reason, "corrupt_document");
	memset(&info, 0, sizeof(info));
	assert_int_equal(office_parse("docx", "PK\3\4 not really a zip", 22, &sink, &b, &info),
			 RL_SKIP);
	assert_string_equal(info.reason, "corrupt_document");

	const char *ev;
	const char *const nomain[] = { "word/styles.xml", "<x/>", NULL };
	assert_int_equal(run("docx", nomain, &info, &ev), RL_SKIP);
	assert_string_equal(info.reason, "corrupt_document");
	assert_non_null(strstr(info.message, "word/document.xml"));
	/* a template LibreOffice wrote without a body: no content.xml, nor in the manifest */
	const char *const bodiless[] = { "META-INF/manifest.xml",
					 "<manifest><file-entry full-path=\"styles.xml\"/></manifest>",
					 "styles.xml", "<x/>", NULL };
	memset(&info, 0, sizeof(info));
	assert_int_equal(run("odt", bodiless, &info, &ev), 0);
	assert_string_equal(ev, "");
	const char *const lost[] = { "META-INF/manifest.xml",
				     "<manifest><file-entry full-path=\"content.xml\"/></manifest>",
				     "styles.xml", "<x/>", NULL };
	assert_int_equal(run("odt", lost, &info, &ev), RL_SKIP);
	assert_string_equal(info.reason, "corrupt_document");
	const char *const enc[] = { "META-INF/manifest.xml",
				    "<manifest><file-entry><encryption-data/></file-entry></manifest>",
				    "content.xml", "<x/>", NULL };
	assert_int_equal(run("odt", enc, &info, &ev), RL_SKIP);
	assert_string_equal(info.reason, "encrypted");
	/* a main part that breaks off: what came before it is kept */
	const char *const cut[] = { "word/document.xml",
				    "<w:document " W "><w:body><w:p><w:r><w:t>kept</w:t></w:r></w:p><w:p><w:r><w:t>lo",
				    NULL };
	assert_int_equal(run("docx", cut, &info, &ev), 0);
	assert_string_equal(ev, "kept<P>");
	/* a sink that stops quietly */
	const char *const two[] = { "word/document.xml",
				    "<w:document " W "><w:body><w:p><w:r><w:t>one</w:t></w:r></w:p><w:p><w:r><w:t>two</w:t></w:r></w:p></w:body></w:document>",
				    NULL };
	stop_after = 1;
	assert_int_equal(run("docx", two, &info, &ev), 0);
	stop_after = -1;
	assert_string_equal(ev, "one<P>");
	buf_release(&b);
}

/* ---- through normalize: slide marks on the document ---------------------------------------- */

static void test_normalize_pages(void **state)
{
	(void)state;
	const char *const m[] = {
		"content.xml",
		"<office:document-content " NS "><office:body><office:presentation>"
		"<draw:page><draw:frame presentation:class=\"title\"><text:p>Cafe\xcc\x81</text:p></draw:frame>"
		"<draw:frame><text:p>e\xcc\x81t\xc3\xa9 one</text:p></draw:frame></draw:page>"
		"<draw:page><draw:frame><text:p>two</text:p></draw:frame></draw:page>"
		"</office:presentation></office:body></office:document-content>",
		"meta.xml", "<office:document-meta xmlns:office=\"o\" xmlns:dc=\"dc\"><office:meta>"
		"<dc:title>Deck</dc:title></office:meta></office:document-meta>",
		NULL,
	};
	size_t len;
	char *zip = zip_make(m, &len);
	struct read_item it = { .kind = READ_FILE, .source = "d.odp", .input = "d.odp",
				.name = "d.odp", .data = zip, .len = len, .type = "odp" };
	struct normalize_opts o = { .max_doc_bytes = 1 << 20, .max_binary_ratio = 0.3 };
	struct counts c;
	struct doc *d = NULL;
	counts_init(&c, 1);
	assert_int_equal(normalize_item(&o, &it, &d, &c), 0);
	/* NFC composed the title's and the text's e + U+0301: the marks still land on "two" */
	assert_string_equal(d->text, "Caf\xc3\xa9\n\n\xc3\xa9t\xc3\xa9 one\n\ntwo");
	assert_string_equal(d->page_unit, "slides");
	assert_int_equal(d->n_pages, 2);
	assert_int_equal(d->pages[0].offset, 0);
	assert_int_equal(d->pages[1].number, 2);
	assert_string_equal(d->text + d->pages[1].offset, "two");
	assert_string_equal(d->title, "Deck");
	assert_non_null(strstr(d->metadata_json, "\"format\":\"odp\""));
	doc_free(d);
	counts_release(&c);
	free(zip);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docx),
		cmocka_unit_test(test_pptx),
		cmocka_unit_test(test_xlsx),
		cmocka_unit_test(test_odf),
		cmocka_unit_test(test_epub),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_normalize_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
