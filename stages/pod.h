/*
 * pod.h — Perl's Plain Old Documentation (perlpod, perlpodspec) to text events: the .pod
 * files of Perl's own manual and of CPAN modules, as /usr/share/perl and perl-doc hold them.
 *
 * Why here, by hand: no C library reads POD (Perl's own Pod::Simple is Perl; pod2man | mandoc
 * would be two processes a file, ~40 ms). The grammar is small: paragraphs split by blank
 * lines, =commands, verbatim (indented) paragraphs, and formatting codes X<...> / X<< ... >>.
 */
#ifndef RAGLOAD_POD_H
#define RAGLOAD_POD_H

#include "markdown.h"
#include "../lib/common.h"

#include <stddef.h>

/* Is s/n POD? Its first non-blank line is a POD command (=pod, =head1..6, =encoding, =begin,
 * =for, =over); under a name ending in .pod (name may be NULL), any line may be the first
 * command (text before it, a preamble, is not POD and is not read). */
int pod_detect(const char *s, size_t n, const char *name);

/*
 * Drives sink with s/n (UTF-8): =head1..=head6 are headings of levels 1..6 (their text
 * formatted), ordinary paragraphs and =item texts are paragraphs (a bare "*" or "1." marker
 * is dropped), verbatim paragraphs are code; =begin/=end blocks and =for paragraphs for other
 * formatters are skipped, as are =over, =back, =encoding, =pod, =cut and the non-POD text
 * around =cut. Formatting codes: I B C F S give their text, E<name> its character (lt, gt,
 * verbar, sol, numbers, HTML entity names), L<text|target> the text (L<name/"sec">: "sec in
 * name"), X and Z nothing; a code never closed runs to the paragraph's end (as Pod::Simple). Codes nest up to 32 deep (deeper:
 * their text as written). title (may be NULL) gets the paragraph after "=head1 NAME".
 * Returns 0 (also when a callback stopped it) or RL_ENOMEM. Linear in n.
 */
int pod_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx, struct buf *title);

#endif
