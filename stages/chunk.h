/*
 * chunk.h — document text -> token windows that prefer paragraph, then sentence, then word
 * boundaries.
 */
#ifndef RAGLOAD_CHUNK_H
#define RAGLOAD_CHUNK_H

#include "../pipeline/common.h"
#include "../pipeline/config.h"

/*
 * chunk_doc — fills d->chunks / d->n_chunks (owned by d) from d->text and d->headings.
 * Windows hold at most o->tokens tokens; consecutive windows share about o->overlap tokens;
 * a window ends at the last paragraph break in its second half if any, else the last sentence
 * end, else the last token. A document with text gets at least one chunk; empty text gets none.
 * Each chunk's heading_path is the JSON array of the headings in force at its start.
 * Returns 0 or negative (out of memory). Thread-safe for distinct docs.
 */
int chunk_doc(const struct chunk_opts *o, struct doc *d);

/* Counts tokens in s as chunk_doc does (words = runs of letters/digits/marks, and each other
 * non-space character). */
int chunk_count_tokens(const char *s, size_t n);

#endif
