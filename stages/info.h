/*
 * info.h — GNU Info files (what makeinfo writes from Texinfo: the .info.gz files of
 * /usr/share/info, the manuals of bash, coreutils, gcc, make...) to text events.
 *
 * Why: read as plain text, an Info file's navigation reaches every chunk: each node starts
 * with "File: bash.info, Node: Pipelines, Next: Lists, Prev: Simple Commands, Up: Shell
 * Commands", ends with a "* Menu:" of links, and the file with a tag table of byte offsets;
 * its headings are lines underlined with '*', '=', '-' or '.', which plain text cannot tell.
 * Hand-written: no library reads Info (it is the reader's own format; libtexinfo does not
 * exist as a package), and the format is lines.
 */
#ifndef RAGLOAD_INFO_H
#define RAGLOAD_INFO_H

#include "markdown.h"
#include "../lib/common.h"

#include <stddef.h>

/* Is s/n an Info file? Its first line says "produced by makeinfo" (or texi2any), or a node
 * separator (0x1F) followed by a "File: ..., Node: ..." line comes within its first 64 KB. */
int info_detect(const char *s, size_t n);

/*
 * Drives sink with s/n: the text of each node, its heading lines (underlined by '*', '=',
 * '-', '.': levels 1 to 4) as headings, blocks whose first line is indented (five columns or
 * more: examples and definition bodies) as code, other blocks as paragraphs, their cross
 * references ("*note Label: Node.", "*Note Node::") reduced to the label; not read: the preamble before the
 * first node (the "This is ..." line, the copying permission, INFO-DIR-SECTION entries),
 * node header lines, menus (from "* Menu:" to the node's end), the indirect and tag tables
 * and a "Local Variables:" trailer. *nodes gets how many nodes had text (0: an index file of
 * a split manual, whose nodes live in its "-1", "-2" parts). Returns 0 (also when a
 * callback stopped it) or RL_ENOMEM. Linear in n.
 */
int info_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx, size_t *nodes);

#endif
