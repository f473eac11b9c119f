/*
 * chunk.h — document text -> token windows that prefer paragraph, then sentence, then word
 * boundaries, in every script (Chinese and Japanese counted per character), and that keep
 * code blocks whole when they can.
 */
#ifndef RAGLOAD_CHUNK_H
#define RAGLOAD_CHUNK_H

#include "../lib/common.h"
#include "../lib/config.h"

/*
 * chunk_doc — fills d->chunks / d->n_chunks (owned by d) from d->text, d->headings and
 * d->code (only read; code spans are expected sorted and disjoint, and anything else is
 * survived). Windows hold at most o->tokens tokens; a window ends at the last paragraph break
 * in its second half if any, else the last sentence end there, else the last word boundary
 * there, else the last token; one that would end inside a code span ends before the span
 * when that leaves it at least half full, else at a line start inside the span. Consecutive
 * windows share about o->overlap tokens (half to one and a half times that, below half the
 * window): the next window starts at a sentence start, else after a comma or semicolon,
 * else at a word start, else at a token that is not closing punctuation. A document with text gets at least one chunk; empty text gets
 * none. Each chunk's heading_path is the JSON array of the headings in force at its start.
 * Returns 0 or negative (out of memory). Thread-safe for distinct docs.
 */
int chunk_doc(const struct chunk_opts *o, struct doc *d);

/* Counts tokens in s as chunk_doc does: words (runs of letters, digits and marks of one
 * script, at most 128 bytes; Hangul runs cut every 4 syllables, Thai/Lao/Khmer/Myanmar runs
 * every 4 characters), each Han/Kana/Bopomofo/Yi character, and each other non-space
 * character. A chunk's token_count is this count of its range. */
int chunk_count_tokens(const char *s, size_t n);

/* The share (0..1) of the letters in s[0..n) that are Han, Kana, Bopomofo or Yi: text that a
 * PostgreSQL text search configuration cannot split into words (it has no CJK segmenter). */
double chunk_cjk_share(const char *s, size_t n);

#endif
