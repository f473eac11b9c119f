/*
 * markdown.h — private to the normalize stage (only normalize.c includes it): Markdown to a
 * stream of text events through md4c, and front matter to a JSON object.
 */
#ifndef RAGLOAD_MARKDOWN_H
#define RAGLOAD_MARKDOWN_H

#include <stddef.h>

#include <jansson.h>

/*
 * What markdown_parse() reports, in document order. Every callback gets the ctx given to
 * markdown_parse() and returns 0 to go on, a positive value to stop quietly (the consumer has
 * all it wants) or a negative error, which markdown_parse() returns.
 *
 * text:  inline text, valid UTF-8 when the input is; entities decoded, markup gone. Its
 *        whitespace is not meaningful (soft line breaks arrive as " "). May be called with
 *        pieces of one word.
 * para:  a paragraph break (between blocks, list items, table rows).
 * line:  a hard line break inside a block (Markdown's "  \n" or "\\\n", HTML <br>); a consumer
 *        without single line breaks may treat it as para.
 * heading_begin/heading_end: the text between is a heading of level 1..6; never nested.
 * code:  one whole code block (fenced or indented), verbatim: lines end in '\n', indentation
 *        kept (md4c gives a tab in it as spaces to the next tab stop, other tabs as they
 *        are); the fence's info string is not part of it.
 */
struct md_sink {
	int (*text)(void *ctx, const char *s, size_t n);
	int (*para)(void *ctx);
	int (*line)(void *ctx);
	int (*heading_begin)(void *ctx, int level);
	int (*heading_end)(void *ctx);
	int (*code)(void *ctx, const char *s, size_t n);
};

/*
 * markdown_parse — parses s (n bytes of UTF-8; NUL bytes, if any, become U+FFFD) as GitHub
 * Markdown and drives sink with ctx. A leading YAML (---) or TOML (+++) front matter block is
 * not text: its top-level scalar keys (and lists of scalars) go to *front_matter, a new JSON
 * object the caller owns (json_decref), NULL when the input has none or none of its keys were
 * usable. front_matter may be NULL when the caller does not want it.
 * Returns 0 (also when a callback stopped the parse) or a negative error (RL_ENOMEM).
 * Linear in n; memory bounded by n (one code block is buffered at a time). Thread-safe.
 */
int markdown_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx,
		   json_t **front_matter);

#endif
