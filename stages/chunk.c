/*
 * chunk.c — document text -> overlapping token windows.
 *
 * What: a token is
 *   - a word: a run of letters, digits and marks of one kind of script (ASCII letters and
 *     digits and every other alphabet; Hangul; Thai, Lao, Khmer, Myanmar and their kin) of at
 *     most WORD_MAX_BYTES. Scripts written without spaces get pseudo-words: a Hangul run is
 *     cut every HANGUL_RUN_MAX syllables (a long eojeol, or Korean set without spaces), a
 *     Thai/Lao/Khmer/Myanmar run every SEA_RUN_MAX characters (a character with its combining
 *     vowels and tone marks), so a sentence-long run is neither one token nor one per byte;
 *   - one Han, Kana, Bopomofo or Yi character (with its combining marks): Chinese and Japanese
 *     have no spaces, and a character there carries about what a short word does elsewhere,
 *     so a window of 256 tokens of Chinese holds about 256 characters (it held ~10,000 when a
 *     run of Han was one "word" cut every 128 bytes);
 *   - any other single non-space character (punctuation, symbols), with its marks.
 * Spaces are ASCII blanks and controls, Unicode spaces (Zs, U+2028/9) and U+200B, which Thai,
 * Khmer and Myanmar texts use as an invisible word break. Invalid UTF-8 bytes are letters (the
 * fuzzer sends them; normalize has already repaired real text). A token's extent depends only
 * on the text from its first byte to its end, so chunk_count_tokens() on a chunk's range counts
 * exactly what chunk_doc() counted for it.
 *
 * Windows hold at most o->tokens tokens and end at the last paragraph break in their second
 * half, else the last sentence end there (. ! ? before whitespace, a closing quote or bracket,
 * or the end; 。！？．｡ and their kin anywhere), else the last word boundary there, else at the
 * token limit. A window that would end inside a code block (doc->code) ends before the block
 * when that keeps it at least half full, else at a line start inside the block when there is
 * one. The next window starts about o->overlap tokens before the previous end (between half
 * and one and a half times that): at a sentence start if there is one in that range, else
 * after a comma or semicolon, else at a word start, else at any token that is not closing
 * punctuation, nearest the exact overlap.
 * So no chunk begins with a space, mid-word, or on the previous sentence's full stop.
 *
 * How: one streaming pass. The tokenizer keeps only the current window plus one lookahead
 * token (which tells whether the window's last token closes a paragraph) in a fixed array of
 * o->tokens + 1 entries; after each window the overlap is moved to the front. ASCII is
 * classified by a table, other characters by code-point ranges and utf8proc's category (a
 * two-level table). Code spans are followed with one cursor, as are headings: they are
 * sorted by offset and chunk starts only grow, so the heading stack advances with one cursor
 * and its JSON path is rebuilt only when it changes.
 *
 * Why: linear time and O(window) scratch memory whatever the document; the only allocations
 * that grow with the text are the chunk array and the per-chunk heading paths (each label is
 * capped at PATH_LABEL_MAX bytes so a hostile heading cannot multiply memory by chunk count).
 * The overlap is capped below half the window just taken, and a window takes more tokens than
 * it shares with the previous one, so each window starts and ends past the previous one; with
 * an overlap near the window size, progress would be one token per window and the pass
 * quadratic. Per-character CJK tokens rather than a dictionary segmenter (ICU's word
 * BreakIterator): token counts only size windows, a character is the unit Chinese and
 * Japanese retrieval models count anyway, and it costs a range check per character.
 */
#include "chunk.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define CHUNK_MAX_TOKENS 65536   /* hard cap on o->tokens: the window array's size */
#define WORD_MAX_BYTES 128       /* longest token; models/model.c cuts words at the same length */
#define HANGUL_RUN_MAX 4         /* syllables per Hangul token: most eojeol are 1-4 */
#define SEA_RUN_MAX 4            /* characters per Thai/Lao/Khmer/Myanmar pseudo-word */
#define PATH_LABEL_MAX 512       /* bytes of one heading kept in a heading path */
/* six labels, each at worst escaped sixfold (\u00XX), quoted and comma-separated */
#define PATH_MAX_BYTES (6 * (6 * PATH_LABEL_MAX + 3) + 8)

/* Character classes. */
enum {
	C_SPACE,
	C_WORD,    /* letters and digits of spaced scripts; invalid bytes */
	C_MARK,    /* combining marks and format characters: part of the token before */
	C_CJK,     /* Han, Kana, Bopomofo, Yi: one token each */
	C_HANGUL,  /* runs cut every HANGUL_RUN_MAX syllables */
	C_SEA,     /* Thai, Lao, Khmer, Myanmar...: runs cut every SEA_RUN_MAX characters */
	C_PUNCT,   /* other punctuation and symbols: one token each */
	C_OPEN,    /* opening brackets and quotes */
	C_CLOSE,   /* closing brackets and quotes, commas, colons: never start a chunk */
	C_STOP,    /* full stops that need no space after them (。！？．｡ ।): end a sentence */
};

/* ASCII classes. A table: this is the hot loop. '.', '!' and '?' are C_CLOSE here; the
 * tokenizer decides whether they end a sentence. '"' and '\'' open as often as they close. */
static const unsigned char ascii_class[128] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	/*    !  "  #  $  %  &  '  (  )  *  +  ,  -  .  / */
	0, 8, 6, 6, 6, 8, 6, 6, 7, 8, 6, 6, 8, 6, 8, 6, /* 0x20 */
	/*0-9                            :  ;  <  =  >  ? */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8, 6, 6, 6, 8, /* 0x30 */
	6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 @A-O */
	/*P-Z                               [  \  ]  ^  _ */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7, 6, 8, 6, 6, /* 0x50 */
	6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 `a-o */
	/*p-z                               {  |  }  ~ DEL */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7, 6, 8, 6, 0, /* 0x70 */
};

/* ASCII letters and digits: the word loop's table */
static const unsigned char ascii_word[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* Decodes the character at s (n > 0 bytes left): its length, and *cp (-1 for a byte that does
 * not start a well-formed sequence: it stands alone). */
static inline size_t utf8_next(const unsigned char *s, size_t n, int32_t *cp)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
	if (len == 0 || c > 0xF4 || len > n)
		goto bad;
	int32_t v = c & (0x3F >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ||
	    (len == 4 && (v < 0x10000 || v > 0x10FFFF)))
		goto bad;
	*cp = v;
	return len;
bad:
	*cp = -1;
	return 1;
}

static int in_cjk(int32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3040 && cp <= 0x30FF) ||
	       (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x2E80 && cp <= 0x2FDF) ||
	       (cp >= 0x3005 && cp <= 0x3007) || (cp >= 0x3021 && cp <= 0x3029) ||
	       (cp >= 0x3031 && cp <= 0x3035) || (cp >= 0x303B && cp <= 0x303C) ||
	       (cp >= 0x3100 && cp <= 0x312F) || (cp >= 0x3190 && cp <= 0x31FF) ||
	       (cp >= 0xA000 && cp <= 0xA4CF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	       (cp >= 0xFF66 && cp <= 0xFF9D) || (cp >= 0x1B000 && cp <= 0x1B16F) ||
	       (cp >= 0x20000 && cp <= 0x3FFFF);
}

static int in_hangul(int32_t cp)
{
	return (cp >= 0xAC00 && cp <= 0xD7FF) || (cp >= 0x1100 && cp <= 0x11FF) ||
	       (cp >= 0x3130 && cp <= 0x318F) || (cp >= 0xA960 && cp <= 0xA97F) ||
	       (cp >= 0xFFA0 && cp <= 0xFFDC);
}

/* Thai, Lao, Myanmar, Khmer, Tai Le/Lue/Tham and their extensions: written without spaces. */
static int in_sea(int32_t cp)
{
	return (cp >= 0x0E00 && cp <= 0x0EFF) || (cp >= 0x1000 && cp <= 0x109F) ||
	       (cp >= 0x1780 && cp <= 0x17FF) || (cp >= 0x1950 && cp <= 0x19FF) ||
	       (cp >= 0x1A20 && cp <= 0x1AAF) || (cp >= 0xA9E0 && cp <= 0xA9FF) ||
	       (cp >= 0xAA60 && cp <= 0xAADF);
}

/* The class of a non-ASCII character (cp -1: an invalid byte). */
static int cp_class(int32_t cp)
{
	if (cp < 0)
		return C_WORD;
	/* the common letters first: Han, Kana, Hangul, Latin-1 and Latin Extended, Cyrillic */
	if (cp >= 0x4E00 && cp <= 0x9FFF)
		return C_CJK;
	if ((cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x30A1 && cp <= 0x30FA) ||
	    (cp >= 0x30FC && cp <= 0x30FF))
		return C_CJK;
	if (cp >= 0xAC00 && cp <= 0xD7A3)
		return C_HANGUL;
	if ((cp >= 0x00C0 && cp <= 0x024F && cp != 0xD7 && cp != 0xF7) ||
	    (cp >= 0x0400 && cp <= 0x0481))
		return C_WORD;
	switch (cp) {
	case 0x200B: case 0x2028: case 0x2029:
		return C_SPACE;
	case 0x3002: case 0xFF01: case 0xFF0E: case 0xFF1F: case 0xFF61: case 0x203C:
	case 0x2047: case 0x2048: case 0x2049: case 0x0964: case 0x0965: case 0x06D4:
	case 0x061F: case 0x1362: case 0x104A: case 0x104B: case 0x17D4: case 0x0E5A:
		return C_STOP;
	case 0x3001: case 0xFF0C: case 0xFF1A: case 0xFF1B: case 0xFF64: case 0x2026:
	case 0x060C: case 0x00B0: case 0x2030: case 0x2031:
		return C_CLOSE;
	}
	utf8proc_category_t cat = utf8proc_category(cp);
	switch (cat) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
		return in_cjk(cp) ? C_CJK : in_hangul(cp) ? C_HANGUL : in_sea(cp) ? C_SEA : C_WORD;
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_CF:
		return C_MARK;
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
	case UTF8PROC_CATEGORY_CC:
		return C_SPACE;
	case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PI:
		return C_OPEN;
	case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PF:
		return C_CLOSE;
	case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PO:
	case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
	case UTF8PROC_CATEGORY_SO:
		return in_cjk(cp) ? C_CJK : C_PUNCT; /* CJK radicals are symbols */
	default: /* unassigned, private use, surrogates */
		return C_WORD;
	}
}

/* The class of the character at s[0..n), its length in *len, its code point in *cp. */
static inline int char_class(const unsigned char *s, size_t n, size_t *len, int32_t *cp)
{
	if (s[0] < 0x80) {
		*len = 1;
		*cp = s[0];
		return ascii_class[s[0]];
	}
	*len = utf8_next(s, n, cp);
	return cp_class(*cp);
}

struct tok {
	size_t start, end;
	uint32_t code;              /* 1 + index of the code span the token starts in, 0 outside */
	unsigned char f;            /* T_* flags, written once per token (this is the hot loop) */
};

enum {
	T_PARA = 1,     /* a blank line separates it from the previous token */
	T_NL = 2,       /* it starts a line */
	T_END = 4,      /* a window may end after it as after a sentence */
	T_WORD = 8,     /* a chunk may start here: a word, not a piece of one */
	T_SENT = 16,    /* a word start after a sentence end, a blank line, or a line break
			   inside code */
	T_CLAUSE = 32,  /* a word start after a comma, semicolon or colon */
	T_LOOSE = 64,   /* not closing punctuation: a start when nothing better is */
};

struct tokenizer {
	const unsigned char *s;
	size_t n, pos;
	const struct span *code;    /* NULL when counting */
	size_t n_code, ci;          /* code spans and the cursor over them */
	int prev_class;             /* class of the last token; -1 before the first */
	int prev_wide;              /* the last token was CJK or fullwidth/CJK punctuation */
	int prev_end;               /* the last token ended a sentence */
	int stop_pending;           /* the last token was a full stop a closing quote may follow */
	int prev_comma;             /* the last token was , ; : 、 ， ； ： */
	/* the last non-ASCII character classified: a token's end is found by classifying the
	 * character after it, which then starts the next token (decoded once, not twice) */
	size_t cpos, clen;
	int32_t ccp;
	int ccls;
};

/* char_class() at s[p], with the one-character cache. */
static inline int tz_class(struct tokenizer *tz, size_t p, size_t *len, int32_t *cp)
{
	const unsigned char *s = tz->s;
	if (s[p] < 0x80) {
		*len = 1;
		*cp = s[p];
		return ascii_class[s[p]];
	}
	if (p != tz->cpos) {
		tz->clen = utf8_next(s + p, tz->n - p, &tz->ccp);
		tz->ccls = cp_class(tz->ccp);
		tz->cpos = p;
	}
	*len = tz->clen;
	*cp = tz->ccp;
	return tz->ccls;
}

static int is_space_at(struct tokenizer *tz, size_t p)
{
	size_t len;
	int32_t cp;
	return p >= tz->n || tz_class(tz, p, &len, &cp) == C_SPACE;
}

/* Extends a token over the combining marks that follow position p; returns the new end. */
static size_t take_marks(struct tokenizer *tz, size_t p, size_t limit)
{
	size_t len;
	int32_t cp;
	while (p < tz->n && tz->s[p] >= 0x80 && tz_class(tz, p, &len, &cp) == C_MARK &&
	       p + len <= limit)
		p += len;
	return p;
}

/* Next token into *t; 0 at the end of the text. */
static int tokenizer_next(struct tokenizer *tz, struct tok *t)
{
	const unsigned char *s = tz->s;
	size_t n = tz->n, p = tz->pos, len;
	int32_t cp;
	int newlines = 0, cls;
	for (;;) { /* whitespace */
		if (p >= n) {
			tz->pos = p;
			return 0;
		}
		if (s[p] < 0x80) {
			if (ascii_class[s[p]] != C_SPACE)
				break;
			newlines += s[p++] == '\n';
			continue;
		}
		if (tz_class(tz, p, &len, &cp) != C_SPACE)
			break;
		p += len;
		newlines += cp == 0x2028 || cp == 0x2029;
	}
	int spaced = p > tz->pos || tz->prev_class < 0;
	t->start = p;
	unsigned f = newlines >= 2 ? T_PARA | T_NL : newlines ? T_NL : 0;
	int end = 0;
	cls = tz_class(tz, p, &len, &cp);
	size_t limit = n - p > WORD_MAX_BYTES ? p + WORD_MAX_BYTES : n;
	int wide = 0, stop_pending = 0, comma = 0;
	p += len;
	switch (cls) {
	case C_WORD:
	case C_MARK: /* a mark with nothing before it starts a word */
		cls = C_WORD;
		while (p < n) {
			while (p < limit && ascii_word[s[p]])
				p++;
			if (p >= limit || s[p] < 0x80)
				break;
			int c2 = tz_class(tz, p, &len, &cp);
			if ((c2 != C_WORD && c2 != C_MARK) || p + len > limit)
				break;
			p += len;
		}
		break;
	case C_HANGUL:
	case C_SEA: {
		int max = cls == C_HANGUL ? HANGUL_RUN_MAX : SEA_RUN_MAX, bases = 1;
		while (p < n && s[p] >= 0x80) {
			int c2 = tz_class(tz, p, &len, &cp);
			if ((c2 != cls && c2 != C_MARK) || p + len > limit ||
			    (c2 == cls && bases == max))
				break;
			bases += c2 == cls;
			p += len;
		}
		break;
	}
	case C_CJK:
		wide = 1;
		p = take_marks(tz, p, limit);
		break;
	default: { /* punctuation and symbols */
		int32_t c = cp;
		wide = c >= 0x2E80;
		p = take_marks(tz, p, limit);
		if (c == '.' || c == '!' || c == '?') {
			/* a sentence end before whitespace or the end; before a closing quote or
			 * bracket, the closer ends the sentence */
			if (is_space_at(tz, p))
				end = 1;
			else
				stop_pending = 1;
		} else if (cls == C_STOP) {
			end = 1;
			stop_pending = 1;
		} else if (tz->stop_pending && !spaced &&
			   (cls == C_CLOSE || c == '"' || c == '\'')) {
			end = wide || is_space_at(tz, p);
			stop_pending = 1;
		}
		if (c == '"' || c == '\'')
			cls = spaced ? C_OPEN : C_CLOSE;
		comma = c == ',' || c == ';' || c == ':' || c == 0x3001 || c == 0xFF0C ||
			c == 0xFF1B || c == 0xFF1A || c == 0xFF64;
		break;
	}
	}
	t->end = p;
	tz->pos = p;

	/* Where a chunk may start: not on closing punctuation, nor inside a word (after a
	 * hyphen, or a piece of a long run) unless the word is CJK or follows CJK, nor on a
	 * symbol ("< 0.05", "= 0%") unless it begins a line (a list bullet). */
	if (end)
		f |= T_END;
	if (cls != C_CLOSE && cls != C_STOP) {
		f |= T_LOOSE;
		if ((cls != C_PUNCT || (f & T_NL)) && (spaced || cls == C_CJK || tz->prev_wide)) {
			f |= T_WORD;
			if (tz->prev_class < 0 || (f & T_PARA) || tz->prev_end)
				f |= T_SENT;
			if (tz->prev_comma)
				f |= T_CLAUSE;
		}
	}

	/* code spans: sorted and disjoint, so one cursor (that survives unsorted ones) */
	t->code = 0;
	if (tz->code) {
		while (tz->ci < tz->n_code && tz->code[tz->ci].end <= t->start)
			tz->ci++;
		if (tz->ci < tz->n_code && tz->code[tz->ci].start <= t->start &&
		    tz->ci < UINT32_MAX) {
			t->code = (uint32_t)(tz->ci + 1);
			if ((f & T_NL) && (f & T_WORD))
				f |= T_SENT;
		}
	}
	tz->prev_class = cls;
	tz->prev_wide = wide;
	t->f = (unsigned char)f;
	tz->prev_end = end;
	tz->stop_pending = stop_pending;
	tz->prev_comma = comma;
	return 1;
}

int chunk_count_tokens(const char *s, size_t n)
{
	struct tokenizer tz = { .s = (const unsigned char *)s, .n = n, .prev_class = -1,
				.cpos = SIZE_MAX };
	struct tok t;
	int count = 0;
	while (count < INT_MAX && tokenizer_next(&tz, &t))
		count++;
	return count;
}

double chunk_cjk_share(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t letters = 0, cjk = 0, len;
	int32_t cp;
	for (size_t p = 0; p < n; p += len) {
		int c = char_class(u + p, n - p, &len, &cp);
		if (c == C_WORD && cp >= 0 && u[p] >= 0x80)
			letters++;
		else if (c == C_WORD && (u[p] | 0x20) >= 'a' && (u[p] | 0x20) <= 'z')
			letters++;
		else if (c == C_HANGUL || c == C_SEA)
			letters++;
		else if (c == C_CJK)
			letters++, cjk++;
	}
	return letters ? (double)cjk / (double)letters : 0.0;
}

/*
 * How many of the window's tokens to take, given T + 1 tokens in w (w[T] is the lookahead)
 * of which the first `carried` were in the previous window: the last paragraph end in the
 * second half, else the last sentence end there, else the last word boundary there, else T.
 * Then code: a cut inside a code span moves to before the span when that keeps the window
 * half full, else to the last line start inside the span (any, after the carried tokens).
 */
static size_t window_end(const struct tok *w, size_t T, size_t carried)
{
	size_t min_take = (T + 1) / 2, take = 0;
	for (size_t k = T; k >= min_take && k > 0 && !take; k--)
		if ((w[k].f & T_PARA))
			take = k;
	for (size_t k = T; k >= min_take && k > 0 && !take; k--)
		if ((w[k - 1].f & T_END))
			take = k;
	for (size_t k = T; k >= min_take && k > 0 && !take; k--)
		if ((w[k].f & T_WORD))
			take = k;
	if (!take)
		take = T;

	uint32_t code = w[take].code;
	if (!code || w[take - 1].code != code)
		return take;
	/* the first token of the span, if this window holds it */
	size_t first = take - 1;
	while (first > 0 && w[first - 1].code == code)
		first--;
	if (first > 0 && first >= min_take) {
		for (size_t k = first; k >= min_take; k--)
			if ((w[k].f & T_PARA))
				return k;
		return first;
	}
	if ((w[take].f & T_NL))
		return take;
	for (size_t k = T; k > carried && k > first; k--) /* the last, half full or not */
		if ((w[k].f & T_NL) && w[k].code == code)
			return k;
	return take;
}

/*
 * Where the next window starts, as an index into w, after taking `take` tokens: about ov
 * tokens back (from ov/2 to 3*ov/2, below half of take so windows advance), at the sentence
 * start nearest the exact overlap, else the nearest clause start (after a comma, semicolon or
 * colon), else the nearest word start, else the nearest token that is not closing
 * punctuation, else exactly ov back.
 */
static size_t next_start(const struct tok *w, size_t take, size_t ov)
{
	size_t cap = (take - 1) / 2;
	if (ov > cap)
		ov = cap;
	if (ov == 0)
		return take;
	size_t hi = ov + ov / 2, lo = ov / 2;
	if (hi > cap)
		hi = cap;
	if (lo < 1)
		lo = 1;
	size_t target = take - ov, best[4] = { 0 };
	size_t dist[4] = { SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX };
	for (size_t s = take - hi; s <= take - lo; s++) {
		size_t d = s > target ? s - target : target - s;
		unsigned f = w[s].f;
		int tier = f & T_SENT ? 0 : f & T_CLAUSE ? 1 : f & T_WORD ? 2 : f & T_LOOSE ? 3 : 4;
		if (tier < 4 && d < dist[tier]) { /* ties: the earlier, more overlap */
			dist[tier] = d;
			best[tier] = s;
		}
	}
	for (int tier = 0; tier < 4; tier++)
		if (dist[tier] != SIZE_MAX)
			return best[tier];
	return target;
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
	struct tokenizer tz = { .s = (const unsigned char *)(d->text ? d->text : ""),
				.n = d->text ? d->text_len : 0, .code = d->code,
				.n_code = d->code ? d->n_code : 0, .prev_class = -1,
				.cpos = SIZE_MAX };
	struct hpath hp = { .dirty = 1, .empty = 1 };
	struct tok *w = NULL;
	size_t cnt = 0, cap = 0, carried = 0;
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
		size_t take = window_end(w, T, carried);
		rc = chunks_push(d, &cap, w, take, &hp);
		if (rc)
			break;
		/* below half of take, and the next window takes more than it carries over, so
		 * the next window starts and ends past this one */
		size_t adv = next_start(w, take, overlap);
		carried = take - adv;
		memmove(w, w + adv, (cnt - adv) * sizeof(*w));
		cnt -= adv;
	}
out:
	free(w);
	buf_release(&hp.json);
	return rc;
}
