/*
 * office.h — private to the normalize stage (only normalize.c includes it): office documents
 * (OOXML docx/xlsx/pptx, ODF odt/ods/odp) and EPUB e-books to a stream of text events, their
 * document properties to a JSON object.
 */
#ifndef RAGLOAD_OFFICE_H
#define RAGLOAD_OFFICE_H

#include <stddef.h>

#include <jansson.h>

/*
 * What office_parse() reports, in reading order. Every callback gets the ctx given to
 * office_parse() and returns 0 to go on, a positive value to stop quietly (the consumer has
 * all it wants) or a negative error, which office_parse() returns.
 *
 * text:  inline text, valid UTF-8; its whitespace is not meaningful. May be called with
 *        pieces of one word.
 * para:  a paragraph break (between paragraphs, list items, table rows, slide text frames).
 * heading_begin/heading_end: the text between is a heading of level 1..6; never nested.
 * page:  a page or slide numbered number (1-based) starts with the next text; called between
 *        paragraphs, never inside a heading.
 * html:  one XHTML content document of an EPUB, its raw bytes (UTF-8 by the EPUB rules, not
 *        checked), to be read as an HTML page would be; between paragraphs.
 */
struct office_sink {
	int (*text)(void *ctx, const char *s, size_t n);
	int (*para)(void *ctx);
	int (*heading_begin)(void *ctx, int level);
	int (*heading_end)(void *ctx);
	int (*page)(void *ctx, int number);
	int (*html)(void *ctx, const char *s, size_t n);
};

/*
 * What office_parse() learnt besides the text. properties: a JSON object the caller owns
 * (json_decref; NULL when the package has none): "title", "author", "created", "modified",
 * "pages"/"slides" as the package states them. page_unit: "pages" or "slides" when page
 * events were sent (a static string), else NULL. truncated_sheets: spreadsheet tables cut at
 * OFFICE_SHEET_ROWS rows or OFFICE_SHEET_BYTES bytes of text. reason/message: why the
 * document was rejected, when office_parse() returns RL_SKIP.
 */
struct office_info {
	json_t *properties;
	const char *page_unit;
	int truncated_sheets;
	const char *reason;     /* "corrupt_document" or "encrypted" (a static string) */
	char message[200];
};

/* Bounds (office.c's design note says why these values). */
#define OFFICE_MEMBER_MAX ((size_t)64 << 20)     /* one XML member, expanded */
#define OFFICE_TOTAL_MAX ((size_t)256 << 20)     /* all members kept, expanded */
#define OFFICE_RATIO_MAX 200                     /* expanded / package bytes, past 16 MiB */
#define OFFICE_MEMBERS_MAX 20000                 /* members looked at */
#define OFFICE_SHEET_ROWS 100000                 /* rows of one spreadsheet table */
#define OFFICE_SHEET_BYTES ((size_t)16 << 20)    /* text of one spreadsheet table */

/*
 * office_parse — reads the package data/n (the whole file) of the given type ("docx", "xlsx",
 * "pptx", "odt", "ods", "odp", "epub"; an unknown type is corrupt_document) and drives sink
 * with ctx. info is filled (zero it first; the caller releases info->properties).
 * Returns 0 (also when a callback stopped the walk), RL_SKIP when the package is not readable
 * (not a zip, truncated or corrupt, its main part missing, over a bound above, encrypted:
 * info->reason and info->message say which; nothing was sent then or what was sent is to be
 * dropped), or a negative error (RL_ENOMEM, a callback's error).
 * XML is streamed (libxml2's xmlReader, no DOM, no network, no external entities); memory is
 * bounded by OFFICE_TOTAL_MAX plus the libraries' own state. Thread-safe.
 */
int office_parse(const char *type, const char *data, size_t n, const struct office_sink *sink,
		 void *ctx, struct office_info *info);

#endif
