/*
 * stems.h — the words every term-based part of ragload sees: the words of the NFKC-casefolded
 * text (embed_words()), a 56-word English stop list skipped, each word Snowball-stemmed
 * ("english", libstemmer) and hashed to 64 bits (never 0). The built-in model's features
 * (models/contrastive.c) and BM25's terms are these hashes, so that the lexical and the dense
 * retrieval see the same words.
 */
#ifndef RAGLOAD_STEMS_H
#define RAGLOAD_STEMS_H

#include "../lib/common.h"

#include <stdint.h>

struct stems;   /* scratch: a splitter, a stemmer and its cache; one per thread */

struct stems *stems_new(void);
void stems_free(struct stems *s);

typedef void (*stems_fn)(void *ctx, uint64_t stem);
/* Calls fn with the hash of each stem of text, in order, stop words skipped. Returns 0 or
 * RL_ENOMEM. */
int stems_each(struct stems *s, const char *text, size_t len, stems_fn fn, void *ctx);

/* The hash of a word if it is a stop word's (the hash is taken of the casefolded word as
 * embed_words() gives it): 1 for a stop word, else 0. */
int stems_is_stop_word(const char *w, size_t n);

#endif
