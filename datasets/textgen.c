/*
 * datasets/textgen.c — the generated part of the scale corpus (datasets/make-scale-corpus.sh):
 * a word-level Markov chain of order 2 trained on the corpus's real documentation text,
 * writing plain-text documents as an uncompressed tar stream on stdout.
 *
 *   textgen TRAIN FIRST COUNT SEED > out.tar
 *
 * TRAIN is plain text (the normalized documents, blank-line separated: bench/stages chunks
 * writes it). Tokens are whitespace-separated words, with punctuation attached as written; a
 * blank line is a paragraph token, so paragraphs come out as long as the training text's.
 * Document i (FIRST <= i < FIRST + COUNT) is gen/<i / 1000>/doc-<i>.txt: a title line that
 * carries its number (so no two documents are equal), then paragraphs, 300 to 2,400 words
 * drawn uniformly, ending at a paragraph or sentence end. Its words depend only on SEED and i,
 * so a smaller corpus's generated documents are a prefix of a larger one's, and any range can
 * be generated on its own.
 *
 * Model: tokens interned to ids; every bigram (a, b) of the training sequence maps, through an
 * open-addressing hash table, to the run of positions that follow it (a counting sort into
 * one array), so each generated word is one hash probe and one random pick. Generation runs
 * at some tens of MB/s on one core; the tar stream goes to bsdtar for compression.
 * Plain C11 and libc: compiled by the script that uses it (cc -O2), no other dependency.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *msg)
{
	fprintf(stderr, "textgen: %s\n", msg);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void *xcalloc(size_t n, size_t s)
{
	void *p = calloc(n ? n : 1, s);
	if (!p)
		die("out of memory");
	return p;
}

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return hash64(h);
}

/* ---- vocabulary: token text -> id ------------------------------------------------------------ */

struct vocab {
	char **word;
	uint32_t *len;
	uint32_t n, cap;
	uint32_t *slot;      /* id + 1, 0 empty */
	size_t mask;
};

static uint32_t vocab_add(struct vocab *v, const char *s, size_t n)
{
	if ((size_t)v->n * 2 >= v->mask) {
		size_t nm = v->mask ? 2 * (v->mask + 1) - 1 : (1 << 16) - 1;
		uint32_t *ns = xcalloc(nm + 1, sizeof(*ns));
		for (size_t i = 0; v->slot && i <= v->mask; i++)
			if (v->slot[i]) {
				uint32_t id = v->slot[i] - 1;
				size_t h = hash_str(v->word[id], v->len[id]) & nm;
				while (ns[h])
					h = (h + 1) & nm;
				ns[h] = id + 1;
			}
		free(v->slot);
		v->slot = ns;
		v->mask = nm;
	}
	size_t h = hash_str(s, n) & v->mask;
	while (v->slot[h]) {
		uint32_t id = v->slot[h] - 1;
		if (v->len[id] == n && !memcmp(v->word[id], s, n))
			return id;
		h = (h + 1) & v->mask;
	}
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 1 << 16;
		v->word = realloc(v->word, v->cap * sizeof(*v->word));
		v->len = realloc(v->len, v->cap * sizeof(*v->len));
		if (!v->word || !v->len)
			die("out of memory");
	}
	v->word[v->n] = xmalloc(n + 1);
	memcpy(v->word[v->n], s, n);
	v->word[v->n][n] = 0;
	v->len[v->n] = (uint32_t)n;
	v->slot[h] = v->n + 1;
	return v->n++;
}

/* ---- the chain: bigram -> positions of the words that followed it --------------------------- */

struct chain {
	uint32_t *seq;       /* token ids of the training text */
	size_t n;
	uint64_t *key;       /* hash slots: bigram key + 1 (0 empty) */
	uint32_t *start, *count;
	size_t mask;
	uint32_t *next;      /* successors, grouped by bigram */
};

static size_t chain_slot(const struct chain *c, uint64_t k)
{
	size_t h = hash64(k) & c->mask;
	while (c->key[h] && c->key[h] != k + 1)
		h = (h + 1) & c->mask;
	return h;
}

static void chain_build(struct chain *c)
{
	size_t size = 1;
	while (size < 2 * c->n)
		size <<= 1;
	c->mask = size - 1;
	c->key = xcalloc(size, sizeof(*c->key));
	c->start = xcalloc(size, sizeof(*c->start));
	c->count = xcalloc(size, sizeof(*c->count));
	for (size_t i = 0; i + 2 < c->n; i++) {
		uint64_t k = (uint64_t)c->seq[i] << 32 | c->seq[i + 1];
		size_t h = chain_slot(c, k);
		c->key[h] = k + 1;
		c->count[h]++;
	}
	uint32_t sum = 0;
	for (size_t h = 0; h < size; h++) {
		c->start[h] = sum;
		sum += c->count[h];
		c->count[h] = 0;
	}
	c->next = xmalloc((size_t)sum * sizeof(*c->next));
	for (size_t i = 0; i + 2 < c->n; i++) {
		uint64_t k = (uint64_t)c->seq[i] << 32 | c->seq[i + 1];
		size_t h = chain_slot(c, k);
		c->next[c->start[h] + c->count[h]++] = c->seq[i + 2];
	}
}

/* ---- output ----------------------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = 2 * (b->n + n) + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("out of memory");
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void tar_entry(const char *name, const char *data, size_t n)
{
	char h[512] = {0};
	snprintf(h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf(h + 124, 12, "%011llo", (unsigned long long)n);
	snprintf(h + 136, 12, "%011llo", 1704067200ULL);   /* 2024-01-01, as the real files */
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 265, "root", 5);
	memcpy(h + 297, "root", 5);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	static const char zero[512];
	if (fwrite(h, 1, 512, stdout) != 512 || fwrite(data, 1, n, stdout) != n ||
	    (n % 512 && fwrite(zero, 1, 512 - n % 512, stdout) != 512 - n % 512))
		die("cannot write the tar stream");
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int sentence_end(const struct vocab *v, uint32_t id)
{
	char c = v->word[id][v->len[id] - 1];
	return c == '.' || c == '?' || c == '!';
}

int main(int argc, char **argv)
{
	if (argc != 5)
		die("usage: textgen TRAIN FIRST COUNT SEED > out.tar");
	unsigned long long first = strtoull(argv[2], NULL, 10), count = strtoull(argv[3], NULL, 10);
	uint64_t seed = strtoull(argv[4], NULL, 10);
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		die("cannot open the training text");
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (sz <= 0)
		die("empty training text");
	char *text = xmalloc((size_t)sz + 1);
	if (fread(text, 1, (size_t)sz, f) != (size_t)sz)
		die("cannot read the training text");
	fclose(f);
	text[sz] = 0;

	struct vocab v = {0};
	const uint32_t PAR = vocab_add(&v, "\n\n", 2);
	struct chain c = {0};
	size_t cap = (size_t)sz / 4 + 16;
	c.seq = xmalloc(cap * sizeof(*c.seq));
	size_t i = 0, newlines = 0;
	while (i < (size_t)sz) {
		char ch = text[i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v') {
			if (ch == '\n' && ++newlines == 2 && c.n && c.seq[c.n - 1] != PAR)
				c.seq[c.n++] = PAR;
			i++;
			continue;
		}
		newlines = 0;
		size_t j = i;
		while (j < (size_t)sz && !(text[j] == ' ' || text[j] == '\t' || text[j] == '\r' ||
					   text[j] == '\n' || text[j] == '\f' || text[j] == '\v'))
			j++;
		if (c.n + 2 >= cap) {
			cap *= 2;
			c.seq = realloc(c.seq, cap * sizeof(*c.seq));
			if (!c.seq)
				die("out of memory");
		}
		c.seq[c.n++] = vocab_add(&v, text + i, j - i);
		i = j;
	}
	free(text);
	if (c.n < 1000)
		die("training text too short (fewer than 1,000 words)");
	chain_build(&c);
	fprintf(stderr, "textgen: %zu training words, %u distinct\n", c.n, v.n);

	struct buf b = {0};
	char name[100], line[64];
	for (unsigned long long d = first; d < first + count; d++) {
		uint64_t s = hash64(seed ^ hash64(d + 1));
		b.n = 0;
		size_t target = 300 + rng_next(&s) % 2101, words = 0;
		/* start at a random paragraph start (a word after a paragraph token) */
		size_t p = rng_next(&s) % (c.n - 3);
		for (size_t tries = 0; tries < 1000 && !(p > 0 && c.seq[p - 1] == PAR && c.seq[p] != PAR &&
							  c.seq[p + 1] != PAR); tries++)
			p = rng_next(&s) % (c.n - 3);
		uint32_t a = c.seq[p], bb = c.seq[p + 1];
		int n = snprintf(line, sizeof(line), "Notes %llu: ", d);
		buf_put(&b, line, (size_t)n);
		/* the title: the first words up to a sentence end (at most 12), then the body */
		buf_put(&b, v.word[a], v.len[a]);
		int title = 1, title_words = 1;
		uint32_t prev = a, cur = bb;
		for (;;) {
			if (cur == PAR) {
				if (words >= target)
					break;
				if (!title)
					buf_put(&b, "\n\n", 2);
			} else {
				if (title && (title_words >= 12 || sentence_end(&v, prev))) {
					buf_put(&b, "\n\n", 2);
					title = 0;
				} else if (prev != PAR || title) {
					buf_put(&b, " ", 1);
				}
				buf_put(&b, v.word[cur], v.len[cur]);
				words++;
				title_words += title;
				if (words >= target + 200 || (words >= target && sentence_end(&v, cur)))
					break;
			}
			if (cur == PAR && title) {
				buf_put(&b, "\n\n", 2);
				title = 0;
			}
			uint64_t k = (uint64_t)prev << 32 | cur;
			size_t h = chain_slot(&c, k);
			uint32_t nx;
			if (!c.key[h]) {  /* the training text's last bigram: jump elsewhere */
				size_t q = rng_next(&s) % (c.n - 3);
				prev = c.seq[q];
				cur = c.seq[q + 1];
				continue;
			}
			nx = c.next[c.start[h] + rng_next(&s) % c.count[h]];
			prev = cur;
			cur = nx;
		}
		buf_put(&b, "\n", 1);
		snprintf(name, sizeof(name), "gen/%04llu/doc-%08llu.txt", d / 1000, d);
		tar_entry(name, b.p, b.n);
	}
	static const char zero[1024];
	if (fwrite(zero, 1, 1024, stdout) != 1024 || fflush(stdout))
		die("cannot write the tar stream");
	return 0;
}
