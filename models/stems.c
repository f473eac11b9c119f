/*
 * stems.c — words -> stem hashes (stems.h): embed_words()'s words, the stop list, Snowball's
 * English stemmer behind a direct-mapped cache (a corpus repeats its words: the cache saves
 * most stemmer calls), XXH3 hashes.
 */
#include "stems.h"
#include "model.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define STOP_SLOTS 256
#define STEM_CACHE 8192         /* direct-mapped word -> stem cache per scratch */

#define SEED_WORD 0x7261676c6f616401ull
#define SEED_STEM 0x7261676c6f616404ull

/* Function words that carry no topic. */
static const char *const stop_words[] = {
	"a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had",
	"has", "have", "he", "her", "his", "i", "if", "in", "into", "is", "it", "its", "of",
	"on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there",
	"these", "they", "this", "those", "to", "was", "we", "were", "what", "when", "which",
	"while", "who", "will", "with", "would", "you", "your",
};

static uint64_t stop_slot[STOP_SLOTS];   /* word hashes, 0 = empty; filled once */
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;

static uint64_t word_hash(const void *p, size_t n)
{
	return XXH3_64bits_withSeed(p, n, SEED_WORD);
}

static void stops_init(void)
{
	for (size_t i = 0; i < RL_ARRAY_LEN(stop_words); i++) {
		uint64_t h = word_hash(stop_words[i], strlen(stop_words[i]));
		size_t j = (size_t)h & (STOP_SLOTS - 1);
		while (stop_slot[j])
			j = (j + 1) & (STOP_SLOTS - 1);
		stop_slot[j] = h;
	}
}

static int is_stop(uint64_t h)
{
	size_t j = (size_t)h & (STOP_SLOTS - 1);
	while (stop_slot[j]) {
		if (stop_slot[j] == h)
			return 1;
		j = (j + 1) & (STOP_SLOTS - 1);
	}
	return 0;
}

int stems_is_stop_word(const char *w, size_t n)
{
	pthread_once(&stop_once, stops_init);
	return is_stop(word_hash(w, n));
}

struct stems {
	struct embed_words *ew;
	struct sb_stemmer *sb;
	struct stem_entry {
		uint64_t word, stem;
	} *cache;
	int failed;
	stems_fn fn;
	void *ctx;
};

void stems_free(struct stems *s)
{
	if (!s)
		return;
	embed_words_free(s->ew);
	if (s->sb)
		sb_stemmer_delete(s->sb);
	free(s->cache);
	free(s);
}

struct stems *stems_new(void)
{
	pthread_once(&stop_once, stops_init);
	struct stems *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ew = embed_words_new();
	s->sb = sb_stemmer_new("english", NULL);
	s->cache = calloc(STEM_CACHE, sizeof(*s->cache));
	if (!s->ew || !s->sb || !s->cache) {
		stems_free(s);
		return NULL;
	}
	return s;
}

static void stem_word(void *ctx, unsigned char *w, int n, int ncp)
{
	struct stems *s = ctx;
	(void)ncp;
	uint64_t h = word_hash(w, (size_t)n);
	if (is_stop(h))
		return;
	h += !h;   /* 0 marks an empty cache slot */
	size_t j = (size_t)(h >> 32) & (STEM_CACHE - 1);
	uint64_t sh;
	if (s->cache[j].word == h) {
		sh = s->cache[j].stem;
	} else {
		const sb_symbol *st = sb_stemmer_stem(s->sb, w, n);
		if (st) {
			sh = XXH3_64bits_withSeed(st, (size_t)sb_stemmer_length(s->sb), SEED_STEM);
		} else {
			s->failed = 1;
			sh = h;
		}
		sh += !sh;
		s->cache[j].word = h;
		s->cache[j].stem = sh;
	}
	s->fn(s->ctx, sh);
}

int stems_each(struct stems *s, const char *text, size_t len, stems_fn fn, void *ctx)
{
	s->fn = fn;
	s->ctx = ctx;
	int rc = embed_words(s->ew, text, len, stem_word, s);
	if (!rc && s->failed)
		rc = RL_ENOMEM;
	return rc;
}
