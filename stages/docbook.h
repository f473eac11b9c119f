/*
 * docbook.h — DocBook XML (4.x and 5, books, articles, chapters, reference pages), and
 * Mallard, GNOME's help pages, to HTML,
 * which normalize's HTML path then reads like any page, as it does mandoc's output for
 * manual pages: divisions' titles become headings by their nesting, program listings and
 * screens code, lists and tables themselves; index terms, remarks, and the info blocks
 * (authors, copyright, revision history) are not text of the document.
 *
 * Why not the HTML path alone: an XML document is not HTML to libxml2's HTML parser (it
 * knows nothing of <sect1> or <programlisting>), so its text would come out without
 * structure and its entities (&mdash;, declared in DocBook's DTD) undefined.
 *
 * Parsing: libxml2's XML SAX parser in recover mode, never a tree. Nothing is read but the
 * buffer: no DTD, no external entity, general or parameter, no network, no XInclude. Entities
 * are the five of XML, those the document's internal subset declares with a value, and the
 * HTML 4 names DocBook's DTD gives the same characters (&mdash;, &nbsp;, &eacute;...); libxml2's
 * own limits bound their expansion.
 */
#ifndef RAGLOAD_DOCBOOK_H
#define RAGLOAD_DOCBOOK_H

#include "../lib/common.h"

#include <stddef.h>

/*
 * Whether s/n is a DocBook XML document, looking past a byte order mark, the XML
 * declaration, comments, processing instructions and whitespace (at the first 64 KB at
 * most): 2 when its DOCTYPE names a DocBook DTD or its first element is one of DocBook's
 * divisions (book, article, chapter, section, sect1, refentry, ...; a prefix such as "db:"
 * allowed) declaring DocBook 5's namespace; 1 when its first element, without any namespace,
 * is a division DocBook 4 roots documents at (book, article, chapter, sect1..sect5,
 * refentry, ...): DocBook when the file is named as XML; 3 when it is a Mallard page
 * (GNOME's help: a root element, <page> or a fragment pages include, in Mallard's
 * namespace), which docbook_to_html reads with
 * Mallard's elements (page and section titles as headings, p, code and screen blocks,
 * lists, steps, terms and tables; info blocks, links and media not read); else 0.
 */
int docbook_detect(const char *s, size_t n);

/*
 * Writes the document as an HTML page into html (at most max bytes of it: past that the
 * rest is dropped and *cut set) and its title (the root division's, else the first
 * refname; "" when none) into title (size tn, may be NULL). Returns 0, RL_ENOMEM, or RL_ERR
 * when the parse gave no text at all (then why says what libxml2 reported first).
 */
int docbook_to_html(const char *s, size_t n, size_t max, struct buf *html, char *title,
		    size_t tn, int *cut, char *why, size_t whylen);

/* 1 when the element table is in the order its binary search needs (tests/unit/test_docbook.c) */
int docbook_table_ok(void);

#endif
