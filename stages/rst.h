/*
 * rst.h — reStructuredText (Python's and most Sphinx projects' documentation sources, many
 * READMEs) to text events: section titles as headings, literal and code blocks as code, the
 * markup of roles, links and emphasis reduced to its text, directives that are not text
 * (toctree, image, include...) and comments left out.
 *
 * Why by hand: docutils is Python, and no C library reads reStructuredText; what a reader
 * needs of it for retrieval is its block structure and its inline markup's words.
 */
#ifndef RAGLOAD_RST_H
#define RAGLOAD_RST_H

#include "markdown.h"
#include "../lib/common.h"

#include <stddef.h>

/* Is a file of this name reStructuredText? ".rst", ".rest", ".rst.txt" (Sphinx's _sources),
 * also under a compression suffix (README.rst.gz). */
int rst_name(const char *name);

/*
 * Drives sink with s/n. Section titles (a line underlined, and maybe overlined, by one
 * punctuation character repeated at least as wide as it, give or take one) are headings, their
 * levels in the order the styles first appear (at most 6); a paragraph ending in "::" is
 * followed by a literal block (code), as are the bodies of code-block, code, sourcecode,
 * literalinclude's inline content, doctest and parsed-literal directives; admonitions (note,
 * warning, seealso, versionadded...) and unknown directives give their body as text, with the
 * directive's argument as a paragraph; toctree, image, figure options, include, raw, index,
 * contents, only, highlight, meta, tabularcolumns and the like, comments, hyperlink targets
 * and substitution definitions are not read; field lists and doctest blocks (">>>") as they are.
 * Inline: :role:`text <target>` and `text <url>`_ give text, ``literal`` its literal, **strong**,
 * *emphasis* their words, |name| its "replace::" text (while the replacements add up to no
 * more than the document's size: then the name). title (may be NULL) gets the first section
 * title.
 * Returns 0 (also when a callback stopped it) or RL_ENOMEM. Linear in n.
 */
int rst_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx, struct buf *title);

#endif
