/*
 * chunk.c — document text -> overlapping token windows.
 *
 * What: a token is a run of word bytes (ASCII letters and digits, and every byte >= 0x80, so
 * a UTF-8 character is never split) of at most WORD_MAX_BYTES, or any other single non-space
 * byte. A longer run (a base64 blob, a URL-safe hash, CJK text without spaces) is cut into
 * pieces of WORD_MAX_BYTES at character boundaries, the same length the embed stage cuts its
 * words at: a window of o->tokens tokens then spans at most about o->tokens * WORD_MAX_BYTES
 * bytes of normalized text, however hostile, instead of a whole document for one "word".
 * A window holds at most o->tokens tokens and ends at the last paragraph break in its second
 * half, else the last sentence end (. ! ? before whitespace or the end) there, else at the
 * token limit. The next window starts o->overlap tokens before the previous end.
 *
 * How: one streaming pass. The tokenizer keeps only the current window plus one lookahead
 * token (which tells whether the window's last token closes a paragraph) in a fixed array of
 * o->tokens + 1 entries; after each window the overlap is moved to the front. Headings are
 * sorted by offset and chunk starts only grow, so the heading stack advances with one cursor
 * and its JSON path is rebuilt only when it changes.
 *
 * Why: linear time and O(window) scratch memory whatever the document; the only allocations
 * that grow with the text are the chunk array and the per-chunk heading paths (each label is
 * capped at PATH_LABEL_MAX bytes so a hostile heading cannot multiply memory by chunk count).
 * The overlap is capped below half the chosen window so that each window advances by at least
 * a quarter of o->tokens and ends past the previous one: with an overlap near the window size,
 * progress would be one token per window and the pass quadratic.
 */
#include "chunk.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MAX_TOKENS 65536   /* hard cap on o->tokens: the window array's size */
#define WORD_MAX_BYTES 128       /* longest token; stages/embed.c cuts words at the same length */
#define PATH_LABEL_MAX 512       /* bytes of one heading kept in a heading path */
/* six labels, each at worst escaped sixfold (\u00XX), quoted and comma-separated */
#define PATH_MAX_BYTES (6 * (6 * PATH_LABEL_MAX + 3) + 8)

enum { K_SPACE, K_WORD, K_PUNCT };

/* Byte classes: 0 space (blanks, and the controls normalize already removed), 1 word (ASCII
 * letters and digits, every byte >= 0x80), 2 punctuation. A table: this is the hot loop. */
static const unsigned char byte_kind_table[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x20  !"#$%&'()*+,-./ */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, /* 0x30 0-9 :;<=>? */
	2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 @A-O */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, /* 0x50 P-Z [\]^_ */
	2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 `a-o */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0, /* 0x70 p-z {|}~ DEL */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x80.. */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, /* ..0xFF */
};

static inline int byte_kind(unsigned char c)
{
	return byte_kind_table[c];
}

struct tok {
	size_t start, end;
	unsigned para_before : 1;   /* a blank line separates it from the previous token */
	unsigned sentence_end : 1;  /* '.', '!' or '?' followed by whitespace or the end */
};

struct tokenizer {
	const unsigned char *s;
	size_t n, pos;
};

/* Next token into *t; 0 at the end of the text. */
static int tokenizer_next(struct tokenizer *tz, struct tok *t)
{
	const unsigned char *s = tz->s;
	size_t n = tz->n, p = tz->pos;
	int newlines = 0;
	while (p < n && byte_kind(s[p]) == K_SPACE)
		newlines += s[p++] == '\n';
	if (p >= n) {
		tz->pos = p;
		return 0;
	}
	t->start = p;
	t->para_before = newlines >= 2;
	t->sentence_end = 0;
	if (byte_kind(s[p]) == K_WORD) {
		size_t max = n - p > WORD_MAX_BYTES ? p + WORD_MAX_BYTES : n;
		while (p < max && byte_kind(s[p]) == K_WORD)
			p++;
		/* cut at a character boundary, unless the run is not UTF-8 at all */
		if (p == max && p < n && byte_kind(s[p]) == K_WORD) {
			size_t q = p;
			while (q > t->start && (s[q] & 0xC0) == 0x80)
				q--;
			if (q > t->start)
				p = q;
		}
	} else {
		unsigned char c = s[p++];
		t->sentence_end = (c == '.' || c == '!' || c == '?') &&
				  (p >= n || byte_kind(s[p]) == K_SPACE);
	}
	t->end = p;
	tz->pos = p;
	return 1;
}

int chunk_count_tokens(const char *s, size_t n)
{
	struct tokenizer tz = { (const unsigned char *)s, n, 0 };
	struct tok t;
	int count = 0;
	while (count < INT_MAX && tokenizer_next(&tz, &t))
		count++;
	return count;
}

/*
 * How many of the window's tokens to take, given T + 1 tokens in w (w[T] is the lookahead):
 * the last paragraph end in the second half, else the last sentence end there, else T.
 */
static size_t window_end(const struct tok *w, size_t T)
{
	size_t min_take = (T + 1) / 2;
	for (size_t take = T; take >= min_take && take > 0; take--)
		if (w[take].para_before)
			return take;
	for (size_t take = T; take >= min_take && take > 0; take--)
		if (w[take - 1].sentence_end)
			return take;
	return T;
}

/* ---- heading paths ------------------------------------------------------------------------ */

struct hpath {
	const struct heading *stack[7];  /* by level 1..6 */
	size_t next;                     /* first heading not yet in force */
	struct buf json;                 /* the current path literal, valid when !dirty */
	int dirty, empty;
};

/* Brings the stack up to offset pos: a level-L heading replaces every entry of level >= L. */
static void hpath_advance(struct hpath *hp, const struct doc *d, size_t pos)
{
	while (hp->next < d->n_headings && d->headings[hp->next].offset <= pos) {
		const struct heading *h = &d->headings[hp->next++];
		int level = h->level < 1 ? 1 : h->level > 6 ? 6 : h->level;
		hp->stack[level] = h;
		for (int l = level + 1; l <= 6; l++)
			hp->stack[l] = NULL;
		hp->dirty = 1;
	}
}

/* The chunk's own copy of the current path, NULL (*out) when no heading is in force. */
static int hpath_dup(struct hpath *hp, char **out)
{
	int rc = 0;
	*out = NULL;
	if (hp->dirty) {
		buf_reset(&hp->json);
		hp->empty = 1;
		rc = buf_putc(&hp->json, '[');
		for (int l = 1; l <= 6 && !rc; l++) {
			const struct heading *h = hp->stack[l];
			if (!h || !h->text)
				continue;
			size_t len = strlen(h->text);
			if (len > PATH_LABEL_MAX) { /* cut at a character boundary */
				len = PATH_LABEL_MAX;
				while (len > 0 && ((unsigned char)h->text[len] & 0xC0) == 0x80)
					len--;
			}
			if (!hp->empty)
				rc = buf_putc(&hp->json, ',');
			if (!rc)
				rc = buf_json_str(&hp->json, h->text, len);
			hp->empty = 0;
		}
		if (!rc)
			rc = buf_putc(&hp->json, ']');
		if (rc)
			return rc;
		hp->dirty = 0;
	}
	if (hp->empty)
		return 0;
	*out = xstrndup(hp->json.data, hp->json.len);
	return *out ? 0 : RL_ENOMEM;
}

/* ---- windows ------------------------------------------------------------------------------ */

static int chunks_push(struct doc *d, size_t *cap, const struct tok *w, size_t take,
		       struct hpath *hp)
{
	if (d->n_chunks == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct chunk *p = realloc(d->chunks, ncap * sizeof(*p));
		if (!p)
			return RL_ENOMEM;
		d->chunks = p;
		*cap = ncap;
	}
	struct chunk *ch = &d->chunks[d->n_chunks];
	ch->start = w[0].start;
	ch->end = w[take - 1].end;
	ch->token_count = (int)take;
	hpath_advance(hp, d, ch->start);
	int rc = hpath_dup(hp, &ch->heading_path);
	if (!rc)
		d->n_chunks++;
	return rc;
}

int chunk_doc(const struct chunk_opts *o, struct doc *d)
{
	size_t T = o->tokens < 1 ? 256 : o->tokens > CHUNK_MAX_TOKENS ? CHUNK_MAX_TOKENS
								       : (size_t)o->tokens;
	size_t overlap = o->overlap < 0 ? 0 : (size_t)o->overlap;
	struct tokenizer tz = { (const unsigned char *)(d->text ? d->text : ""),
				d->text ? d->text_len : 0, 0 };
	struct hpath hp = { .dirty = 1, .empty = 1 };
	struct tok *w = NULL;
	size_t cnt = 0, cap = 0;
	int eof = 0, rc = 0;

	buf_init(&hp.json, PATH_MAX_BYTES);
	for (size_t i = 0; i < d->n_chunks; i++) /* re-chunking replaces the old windows */
		free(d->chunks[i].heading_path);
	free(d->chunks);
	d->chunks = NULL;
	d->n_chunks = 0;
	if (!(w = malloc((T + 1) * sizeof(*w)))) {
		rc = RL_ENOMEM;
		goto out;
	}
	for (;;) {
		while (cnt < T + 1 && !eof) {
			if (tokenizer_next(&tz, &w[cnt]))
				cnt++;
			else
				eof = 1;
		}
		if (cnt == 0)
			break;
		if (cnt <= T) { /* the rest of the document fits: the last window */
			rc = chunks_push(d, &cap, w, cnt, &hp);
			break;
		}
		size_t take = window_end(w, T);
		rc = chunks_push(d, &cap, w, take, &hp);
		if (rc)
			break;
		/* Below half the window, so the next window (which takes at least half of T)
		 * always ends past this one, and each window advances by about T/4 or more. */
		size_t ov = overlap < (take - 1) / 2 ? overlap : (take - 1) / 2;
		size_t adv = take - ov;
		memmove(w, w + adv, (cnt - adv) * sizeof(*w));
		cnt -= adv;
	}
out:
	free(w);
	buf_release(&hp.json);
	return rc;
}
