/*
 * pandoc.h — LaTeX, Jupyter notebooks, Org, MediaWiki, Textile, RTF, FictionBook and JATS
 * documents to HTML by pandoc(1), which normalize's HTML path then reads like any page (as it
 * reads mandoc's for manual pages): sections become headings, code and a notebook's outputs code blocks, math
 * stays TeX, macros and cell metadata go.
 *
 * Why pandoc: each of these is a language with its own parser (LaTeX's macros and
 * environments, the notebook's JSON cells with Markdown inside, Org's outlines); pandoc, the
 * maintained converter Debian ships, reads them all, in ~0.1 s a document. There is no
 * library of it: it runs as a filter per document (lib/spawn.c), with --sandbox, so that a
 * document's \input, \include or #+INCLUDE reads nothing from disk.
 */
#ifndef RAGLOAD_PANDOC_H
#define RAGLOAD_PANDOC_H

#include "../lib/common.h"

#include <stddef.h>

/* pandoc's reader for a file name, by its extension (also compressed: paper.tex.gz):
 * "latex" (.tex, .latex, .ltx), "ipynb", "org", "mediawiki" (.mediawiki, .wiki),
 * "textile", "fb2" (FictionBook e-books), "jats" (.nxml: PubMed Central's articles); NULL for
 * any other name. (RTF is told by its content, "{\rtf": the read stage's type.) */
const char *pandoc_reader(const char *name);

/*
 * Converts s/n, read as `from`, to an HTML page (`pandoc --sandbox -s -t html5`, math kept as
 * TeX, sections one level below the document's title, no syntax highlighting) in at most
 * wall_s seconds, into html. Returns 0, RL_ENOMEM, or RL_ERR with the reason in why (pandoc
 * missing: *missing set; it failed, was killed, or wrote nothing).
 */
int pandoc_to_html(const char *from, const char *s, size_t n, double wall_s, struct buf *html,
		   int *missing, char *why, size_t whylen);

#endif
