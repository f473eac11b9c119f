/*
 * man.h — manual pages (roff source: man(7) and mdoc(7), as /usr/share/man holds them) to
 * HTML by mandoc(1), which normalize's HTML path then reads like any page: sections become
 * headings, .nf/.EX blocks code, font escapes and requests go.
 *
 * Why mandoc: roff is a programming language (macros, strings, conditionals, tbl and eqn
 * preprocessors); mandoc is the maintained, fuzzed formatter of the BSDs and Debian for both
 * macro sets, 25 ms for bash(1), the largest page here. It is run as a filter per page
 * (lib/spawn.c); there is no library package of it in Debian.
 */
#ifndef RAGLOAD_MAN_H
#define RAGLOAD_MAN_H

#include "../lib/common.h"

#include <stddef.h>

enum man_kind { MAN_NONE, MAN_PAGE, MAN_LINK };

/*
 * What s/n is: MAN_PAGE when, past blank and comment lines (.\" '\"), its first line is a
 * request ('.' or '\'') and a .TH (man) or .Dd/.Dt (mdoc) title line comes within its first
 * 200 lines; MAN_LINK when its only request is ".so FILE" (a page that includes another, as
 * bzfgrep.1 does bzgrep.1: nothing of its own); else MAN_NONE. title (size tn, may be NULL)
 * gets "name(section)" from the title line.
 */
enum man_kind man_detect(const char *s, size_t n, char *title, size_t tn);

/*
 * Formats the page with `mandoc -T html -O fragment`, at most wall_s seconds, into html (its
 * header and footer tables, which repeat the title, dropped). Returns 0, RL_ENOMEM, or RL_ERR
 * with the reason in why (mandoc missing: *missing set; it failed, was killed, or wrote
 * nothing).
 */
int man_to_html(const char *s, size_t n, double wall_s, struct buf *html, int *missing,
		char *why, size_t whylen);

#endif
