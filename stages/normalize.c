/*
 * normalize.c — raw entry -> document.
 *
 * What: decides text or binary; decodes to UTF-8: a BOM (UTF-8/16/32), BOM-less UTF-16 (its
 * alternating NULs, or for other scripts its code units), valid UTF-8 as it is, and anything
 * else by its declared charset (XML declaration, HTML <meta>), else by Mozilla's detector
 * (libuchardet) when its guess reads like text, through iconv; what no charset explains is
 * repaired (each invalid byte U+FFFD), counted, and warned about ("decoding_repaired"). Turns
 * HTML (libxml2's SAX parser, a linear stripper past what libxml2 handles well) and Markdown
 * (md4c, through markdown.c: what the rendered page shows, comments and markup gone, list
 * items and table rows as paragraphs, front matter as metadata) into plain text keeping the
 * headings and the code blocks; e-mail (an item of type "eml", through mail.c: each text
 * part converted from its declared charset and repaired like any text, HTML parts through the
 * HTML path, the subject as title, header fields and attachments as metadata "mail" and
 * "attachments"); HTML is reduced to its main
 * content (a <main> / role="main" element when there is one) without navigation (nav, aside,
 * page header/footer, ARIA landmarks, sidebars by class/id, skip links, permalinks). Drops
 * NUL (counted) and C0/C1 controls; tidies whitespace; applies NFC. Office documents and
 * e-books (a read item with a type) are opened by office.c, whose text events feed the same
 * emitter (an EPUB chapter through the HTML path), page and slide marks included, which NFC's
 * split remaps like the headings.
 *
 * How: every format feeds one emitter that writes the tidy text directly. Whitespace is held
 * back as a pending separator (a space or a paragraph break) and written only when the next
 * visible character arrives, so lines come out trimmed and paragraphs joined by exactly "\n\n"
 * in one pass. Code blocks (emit_code) are the exception: their own paragraphs, written line
 * for line with their indentation. Headings and code blocks are byte ranges of that text. NFC
 * runs last, split at the heading and code boundaries: those always touch a '\n' (or the
 * text's ends), which NFC never composes or reorders across, so the ranges remap exactly. NFC
 * copies ASCII and NFC-inert characters (a bitmap built once from utf8proc's tables) and hands
 * utf8proc only the short spans around combining marks.
 *
 * Why: normalize + chunk must run at >= 50 MB/s per core, so the common path is one linear
 * pass per step without per-character library calls: valid UTF-8 is checked eight bytes at a
 * time and never sees the detector, and the HTML filter costs a table lookup per element
 * (flags beside the tag kind) and a look at class/id/role only on block elements and anchors.
 * Hostile input stays bounded: HTML never becomes a tree (SAX events drive the emitter through
 * counters of open elements; nesting depth and parse errors are capped, the rest of a page
 * past a cap is stripped linearly and filtered by counting, see "HTML"; a page is parsed at
 * most three times: with the main filter, without it when its "<main" was a false alarm, and
 * unfiltered when the filter left nothing), NFC spans are capped (utf8proc's canonical
 * ordering is quadratic in a run of marks), the detector sees at most 1 MB, and the emitter
 * stops once the text is far enough past max_doc_bytes that the final cut cannot come up
 * short. Stray NUL bytes in otherwise clean text do not make it binary
 * (tests/fuzz/fuzz_normalize.c and tests/hostile/ exercise all of this).
 *
 * Choices: rows (BEIR) are text by construction, so they skip binary detection and charset
 * detection (invalid UTF-8 in a row is repaired and counted in its metadata, not warned
 * about). A declared charset wins over the detector unless its decoding needs replacements
 * and the detector's needs none; Latin-1 and ASCII labels mean Windows-1252 (WHATWG); a
 * single-byte Latin guess must keep its accented letters next to ASCII letters or alone, any
 * other single-byte guess must decode to letters (90%), else the bytes are repaired as UTF-8.
 * The doc title is the row's title, HTML <title>, Markdown front matter's "title", else the
 * first level-1 heading (HTML and Markdown). Unicode spaces (NBSP, U+2000..U+200A, ...) count as whitespace; U+FEFF is dropped.
 * Code blocks expand tabs to 8 columns and drop trailing blanks; a document never starts with
 * a blank, so a leading code block loses its first line's indentation. Metadata records each
 * decision: "encoding" and "encoding_source" (absent for UTF-8), "invalid_utf8",
 * "undecodable", "nul_bytes", "html_fallback", "truncated", and a Markdown file's
 * "front_matter" (an object), an office document's "properties" and "truncated_sheets"
 * (its "format" is its type: "docx", "epub"...). Binary bytes under an archive's
 * name are counted as unsupported_format (or corrupt_archive when they start with a known
 * magic number): the read stage could not open them as the archive they claim to be; under
 * an office document's name (.docx, .epub...) they are a corrupt_document.
 * an office document's name (.docx, .epub...) they are a corrupt_document.
 *
 * Size: over 3,000 lines, kept in one file while the PDF and other-format adapters are being
 * added to it: moving its sections out under that work would make every change to them a
 * conflict. Its sections are where it splits next (UTF-8 and NFC; the emitter; HTML; the
 * Markdown, office and mail adapters; charsets; finishing), one file each behind a private
 * header.
 */
#include "normalize.h"
#include "mail.h"
#include "markdown.h"
#include "office.h"
#include "pdf.h"
#include "man.h"
#include "docbook.h"
#include "pandoc.h"
#include "pod.h"
#include "info.h"
#include "rst.h"

#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <uchardet.h>
#include <utf8proc.h>

enum fmt { FMT_TEXT, FMT_MARKDOWN, FMT_HTML, FMT_MAIL, FMT_POD, FMT_INFO, FMT_RST };
static const char *const fmt_name[] = { "text", "markdown", "html", "mail", "pod", "info", "rst" };
static enum fmt format_of(const char *name);

#define SNIFF_BYTES 8192          /* binary / UTF-16 detection looks at this much */
#define MAN_SECONDS 30.0          /* wall clock mandoc gets for one manual page */
#define PANDOC_SECONDS 60.0       /* pandoc for one (0.7 MB notebook ~1 s, 0.6 MB of LaTeX ~3 s) */
#define LABEL_MAX 1024            /* bytes kept of a title or heading label */
#define NFC_SPAN_MAX 4096         /* longest run handed to utf8proc at once */
#define CHARSET_NAME_MAX 40       /* bytes of a charset name, NUL included */
#define DEFAULT_BINARY_RATIO 0.3
#define NFC_OPTS ((utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE))

enum { SEP_NONE, SEP_SPACE, SEP_PARA };

/* ---- UTF-8 primitives --------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 when invalid (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
			return 0;
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* Code point of a sequence utf8_seq() accepted with length k. */
static int32_t utf8_cp(const unsigned char *s, size_t k)
{
	switch (k) {
	case 1: return s[0];
	case 2: return ((s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	case 3: return ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
	default:
		return ((s[0] & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) |
		       (s[3] & 0x3F);
	}
}

/* Bytes before the first non-ASCII byte; eight at a time because most text is ASCII. */
static size_t ascii_span(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i + 8 <= n) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ull)
			break;
		i += 8;
	}
	while (i < n && s[i] < 0x80)
		i++;
	return i;
}

/* Largest cut <= n that does not split a UTF-8 sequence. */
static size_t utf8_floor(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

struct utf8_stats {
	size_t multibyte;    /* valid sequences of 2..4 bytes */
	size_t invalid;      /* invalid bytes */
	size_t runs;         /* maximal runs of consecutive invalid bytes */
	size_t single_runs;  /* ... of length one: the signature of 8-bit legacy text */
};

static void utf8_scan(const unsigned char *s, size_t n, struct utf8_stats *st)
{
	size_t i = 0, run = 0;
	memset(st, 0, sizeof(*st));
	while (i < n) {
		size_t a = ascii_span(s + i, n - i);
		size_t k = a ? a : utf8_seq(s + i, n - i);
		if (k && run) {
			st->runs++;
			st->single_runs += run == 1;
			run = 0;
		}
		if (!k) {
			st->invalid++;
			run++;
			i++;
			continue;
		}
		st->multibyte += !a;
		i += k;
	}
	if (run) {
		st->runs++;
		st->single_runs += run == 1;
	}
}

/* Copies s to out with each invalid byte replaced by U+FFFD; *n_bad += replaced bytes. */
static int utf8_repair(const unsigned char *s, size_t n, struct buf *out, size_t *n_bad)
{
	int rc = buf_reserve(out, n + n / 2 + 16);
	size_t i = 0, from = 0;
	while (!rc && i < n) {
		size_t a = ascii_span(s + i, n - i);
		size_t k = a ? a : utf8_seq(s + i, n - i);
		if (k) {
			i += k;
			continue;
		}
		rc = buf_append(out, s + from, i - from);
		if (!rc)
			rc = buf_append(out, "\xEF\xBF\xBD", 3);
		(*n_bad)++;
		from = ++i;
	}
	if (!rc)
		rc = buf_append(out, s + from, n - from);
	return rc;
}

/* ---- NFC ------------------------------------------------------------------------------------
 * A code point is NFC-inert when NFC leaves it alone whatever surrounds it: a starter (class 0)
 * that NFC maps to itself and that never composes with the character before it (utf8proc marks
 * those with comb_index >= 0x8000; Hangul vowel and trailing jamo compose algorithmically).
 * A run of ASCII and inert characters is already NFC (the UAX #15 quick check). */

static uint8_t nfc_inert_bits[0x110000 / 8];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static int nfc_is_inert(int32_t cp)
{
	return (nfc_inert_bits[cp >> 3] >> (cp & 7)) & 1;
}

static int nfc_maps_to_itself(int32_t cp)
{
	utf8proc_uint8_t u[4];
	utf8proc_int32_t v[32];
	utf8proc_ssize_t k = utf8proc_encode_char(cp, u);
	utf8proc_ssize_t m = utf8proc_decompose(u, k, v, 32, NFC_OPTS);
	if (m <= 0 || m > 32)
		return 0;
	m = utf8proc_normalize_utf32(v, m, NFC_OPTS);
	return m == 1 && v[0] == cp;
}

static void normalize_init(void)
{
	/* libxml2 wants its global state set up once before threads parse concurrently. */
	xmlInitParser();
	for (int32_t cp = 0; cp < 0x110000; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2))
			continue;
		const utf8proc_property_t *p = utf8proc_get_property(cp);
		if (p->combining_class != 0)
			continue;
		if (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000)
			continue;
		if (p->decomp_seqindex != UINT16_MAX && !nfc_maps_to_itself(cp))
			continue;
		nfc_inert_bits[cp >> 3] |= (uint8_t)(1u << (cp & 7));
	}
}

struct nfc_scratch {
	utf8proc_int32_t *v;
	size_t cap;
};

/* NFC of one span through utf8proc, into scratch memory reused across spans (no malloc per
 * span, which would dominate text with many accents). */
static int nfc_span(const unsigned char *s, size_t n, struct buf *out, struct nfc_scratch *sc)
{
	utf8proc_ssize_t m;
	for (;;) {
		m = utf8proc_decompose(s, (utf8proc_ssize_t)n, sc->v, (utf8proc_ssize_t)sc->cap,
				       NFC_OPTS);
		if (m < 0)
			return buf_append(out, s, n); /* cannot happen on valid UTF-8: keep it */
		if ((size_t)m <= sc->cap)
			break;
		size_t cap = (size_t)m + 64;
		utf8proc_int32_t *v = realloc(sc->v, cap * sizeof(*v));
		if (!v)
			return RL_ENOMEM;
		sc->v = v;
		sc->cap = cap;
	}
	m = utf8proc_reencode(sc->v, m, NFC_OPTS);
	if (m < 0)
		return buf_append(out, s, n);
	return buf_append(out, sc->v, (size_t)m);
}

/* Appends NFC(s) to out; s is valid UTF-8. */
static int nfc_append(const char *str, size_t n, struct buf *out, struct nfc_scratch *sc)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, copied = 0;
	int rc = 0;
	while (!rc && i < n) {
		i += ascii_span(s + i, n - i);
		if (i >= n)
			break;
		size_t k = utf8_seq(s + i, n - i);
		if (!k)
			k = 1; /* not reached for valid input; never loop */
		if (nfc_is_inert(utf8_cp(s + i, k))) {
			i += k;
			continue;
		}
		/* The span starts at the previous character: the starter a mark may compose with. */
		size_t a = i;
		if (a > copied) {
			a--;
			while (a > copied && (s[a] & 0xC0) == 0x80)
				a--;
		}
		size_t b = i + k;
		while (b < n && b - a < NFC_SPAN_MAX && s[b] >= 0x80) {
			size_t k2 = utf8_seq(s + b, n - b);
			if (!k2)
				k2 = 1;
			if (nfc_is_inert(utf8_cp(s + b, k2)))
				break;
			b += k2;
		}
		rc = buf_append(out, s + copied, a - copied);
		if (!rc)
			rc = nfc_span(s + a, b - a, out, sc);
		copied = i = b;
	}
	if (!rc)
		rc = buf_append(out, s + copied, n - copied);
	return rc;
}

/* ---- emitter: tidy text with headings ----------------------------------------------------- */

struct hrange {
	size_t start, end;
	int level;
};

struct emit {
	struct buf out;
	int pend;         /* separator owed before the next visible character */
	int nl;           /* newlines in the current whitespace run */
	int full;         /* out reached its limit: later input is ignored */
	int nfc;          /* a character that is not NFC-inert was written: NFC pass needed */
	int h_level;      /* heading being written (0 none) ... */
	size_t h_start;   /* ... and where its first character went (SIZE_MAX: none yet) */
	struct hrange *h;
	size_t n_h, cap_h;
	struct span *code;  /* code blocks written, in order */
	size_t n_code, cap_code;
	struct page_mark *pg;  /* pages/slides begun, at their first character */
	size_t n_pg, cap_pg;
	int pg_owed;        /* a page begun whose first character is still to come (its number) */
	json_t *props;      /* a page's <meta> author and dates, when the caller wants them
	                       (a top-level HTML file; not owned here), else NULL */
};

static void emit_init(struct emit *e, size_t limit)
{
	memset(e, 0, sizeof(*e));
	buf_init(&e->out, limit);
	e->h_start = SIZE_MAX;
}

static void emit_release(struct emit *e)
{
	buf_release(&e->out);
	free(e->h);
	free(e->code);
	free(e->pg);
}

/* Forgets everything written (a page parsed again), keeping the memory. */
static void emit_reset(struct emit *e)
{
	e->out.len = 0;
	if (e->out.data)
		e->out.data[0] = '\0';
	e->pend = e->nl = e->full = e->nfc = e->h_level = 0;
	e->h_start = SIZE_MAX;
	e->n_h = e->n_code = e->n_pg = 0;
	e->pg_owed = 0;
}

static void emit_sep(struct emit *e, int sep)
{
	if (sep == SEP_PARA && e->h_level)
		sep = SEP_SPACE; /* a heading is one paragraph whatever markup it holds */
	if (e->pend < sep)
		e->pend = sep;
}

/* Unicode whitespace other than ASCII: 1 space-like, 2 line break, 3 paragraph break. */
static int uspace_kind(int32_t cp)
{
	if (cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
	    cp == 0x205F || cp == 0x3000)
		return 1;
	if (cp == 0x85 || cp == 0x2028)
		return 2;
	if (cp == 0x2029)
		return 3;
	return 0;
}

/* Whitespace seen: kind 1 a space, 2 a line break, 3 a paragraph break. A blank line (two
 * line breaks in one run) is a paragraph break only where paragraphs exist (paras). */
static void emit_space(struct emit *e, int kind, int paras)
{
	if (!e->pend)
		e->pend = SEP_SPACE;
	if (kind == 2)
		e->nl++;
	if (paras && (kind == 3 || e->nl >= 2))
		emit_sep(e, SEP_PARA);
}

/* Writes the separator owed before a visible character (none at the very start). */
static char *emit_flush(struct emit *e, char *base, char *o)
{
	if (e->pend && o > base) {
		if (e->pend == SEP_PARA)
			*o++ = '\n';
		*o++ = e->pend == SEP_PARA ? '\n' : ' ';
	}
	e->pend = SEP_NONE;
	e->nl = 0;
	if (e->h_level && e->h_start == SIZE_MAX)
		e->h_start = (size_t)(o - base);
	if (e->pg_owed) { /* room was made when the page began */
		e->pg[e->n_pg++] = (struct page_mark){ (size_t)(o - base), e->pg_owed };
		e->pg_owed = 0;
	}
	return o;
}

/*
 * Appends valid UTF-8 text. paras: blank lines are paragraph breaks (plain text, Markdown,
 * <pre>); otherwise all whitespace is one space (HTML). Output never exceeds n + 2 bytes (only
 * the separator owed from before may be longer than the whitespace it stands for), which lets
 * the loop write without bounds checks.
 */
static int emit_text(struct emit *e, const char *str, size_t n, int paras)
{
	const unsigned char *s = (const unsigned char *)str;
	if (e->full)
		return 0;
	size_t room = e->out.limit - e->out.len;
	if (room < 16) {
		e->full = 1;
		return 0;
	}
	if (n > room - 16) {
		n = utf8_floor(str, room - 16);
		e->full = 1;
	}
	int rc = buf_reserve(&e->out, n + 2);
	if (rc)
		return rc;
	char *base = e->out.data, *o = base + e->out.len;
	size_t i = 0, j;
	while (i < n) {
		unsigned char c = s[i];
		if (c > 0x20 && c < 0x7F) {
			/* The common case, already tidy text: words joined by single spaces are
			 * copied in one tight loop, no separator bookkeeping per word. */
			o = emit_flush(e, base, o);
			for (;;) {
				while (i < n && s[i] > 0x20 && s[i] < 0x7F)
					*o++ = (char)s[i++];
				if (i + 1 < n && s[i] == ' ' && s[i + 1] > 0x20 && s[i + 1] < 0x7F) {
					*o++ = ' ';
					i++;
					continue;
				}
				break;
			}
			continue;
		} else if (c < 0x80) {
			/* whitespace is owed; NUL, other C0 controls and DEL are dropped */
			if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
				emit_space(e, 1, paras);
			else if (c == '\n')
				emit_space(e, 2, paras);
			i++;
			continue;
		} else {
			size_t k = utf8_seq(s + i, n - i);
			int32_t cp = k ? utf8_cp(s + i, k) : 0;
			int u = k ? uspace_kind(cp) : 0;
			if (u)
				emit_space(e, u, paras);
			/* C1 controls and a stray BOM are dropped (k == 0: not reached, validated) */
			if (!k || u || cp <= 0x9F || cp == 0xFEFF) {
				i += k ? k : 1;
				continue;
			}
			if (!nfc_is_inert(cp))
				e->nfc = 1;
			j = i + k;
		}
		o = emit_flush(e, base, o);
		memcpy(o, s + i, j - i);
		o += j - i;
		i = j;
	}
	e->out.len = (size_t)(o - base);
	base[e->out.len] = '\0';
	return 0;
}

/* A page or slide numbered number starts with the next visible character, after a paragraph
 * break (so its offset always follows a '\n', which NFC's split relies on). A page that shows
 * no character before the next one begins has no mark. */
static int emit_page(struct emit *e, int number)
{
	if (e->h_level || number <= 0)
		return 0;
	emit_sep(e, SEP_PARA);
	if (e->n_pg == e->cap_pg) {
		size_t cap = e->cap_pg ? e->cap_pg * 2 : 16;
		struct page_mark *pg = realloc(e->pg, cap * sizeof(*pg));
		if (!pg)
			return RL_ENOMEM;
		e->pg = pg;
		e->cap_pg = cap;
	}
	e->pg_owed = number;
	return 0;
}

static void emit_heading_begin(struct emit *e, int level)
{
	emit_sep(e, SEP_PARA);
	e->h_level = level;
	e->h_start = SIZE_MAX;
}

static int emit_heading_end(struct emit *e)
{
	if (e->h_level && e->h_start != SIZE_MAX) {
		if (e->n_h == e->cap_h) {
			size_t cap = e->cap_h ? e->cap_h * 2 : 16;
			struct hrange *h = realloc(e->h, cap * sizeof(*h));
			if (!h)
				return RL_ENOMEM;
			e->h = h;
			e->cap_h = cap;
		}
		e->h[e->n_h++] = (struct hrange){ e->h_start, e->out.len, e->h_level };
	}
	e->h_level = 0;
	e->h_start = SIZE_MAX;
	emit_sep(e, SEP_PARA);
	return 0;
}

/*
 * Appends a code block (valid UTF-8) as its own paragraph, verbatim: its lines, their leading
 * indentation and the blank lines between them are kept; tabs are expanded to the next
 * multiple of 8 columns (text holds no control character but '\n'); trailing blanks on each
 * line, blank lines before and after, '\r', NUL and other controls are dropped; Unicode
 * spaces become ' ' and Unicode line breaks '\n'. Its byte range is recorded in e->code.
 * Inside a heading it is heading text like any other. At the very start of the text its first
 * line loses its indentation (text never starts with a blank). It writes at most n + 7 per tab
 * + 2, reserved up front, so the loop writes without bounds checks.
 */
static int emit_code(struct emit *e, const char *s, size_t n)
{
	const unsigned char *us = (const unsigned char *)s;
	if (e->h_level)
		return emit_text(e, s, n, 0);
	if (e->full)
		return 0;
	size_t room = e->out.limit - e->out.len, need = 0, tabs = 0;
	if (room < 16) {
		e->full = 1;
		return 0;
	}
	for (const char *p = s; (p = memchr(p, '\t', (size_t)(s + n - p))); p++)
		tabs++;
	if (tabs > (SIZE_MAX - n) / 8 || n + 7 * tabs > room - 16) {
		/* the longest prefix whose expansion fits */
		size_t i = 0;
		for (; i < n && need + (us[i] == '\t' ? 8 : 1) <= room - 16; i++)
			need += us[i] == '\t' ? 8 : 1;
		n = utf8_floor(s, i);
		for (tabs = 0, i = 0; i < n; i++)
			tabs += us[i] == '\t';
		e->full = 1;
	}
	if (e->n_code == e->cap_code) {
		size_t cap = e->cap_code ? e->cap_code * 2 : 8;
		struct span *c = realloc(e->code, cap * sizeof(*c));
		if (!c)
			return RL_ENOMEM;
		e->code = c;
		e->cap_code = cap;
	}
	int rc = buf_reserve(&e->out, n + 7 * tabs + 2);
	if (rc)
		return rc;
	char *base = e->out.data, *o = base + e->out.len;
	size_t start = SIZE_MAX, blank = 0;
	for (size_t i = 0; i < n;) {
		/* one line: [i, le) */
		size_t le = i;
		while (le < n && us[le] != '\n' && us[le] != '\r')
			le++;
		char *line_at = o;
		if (start != SIZE_MAX)
			for (size_t k = 0; k <= blank; k++)
				*o++ = '\n';
		char *text_at = o;
		size_t col = 0;  /* characters written on this line */
		for (size_t j = i; j < le;) {
			unsigned char c = us[j];
			if (c >= 0x20 && c < 0x7F) {
				*o++ = (char)c;
				col++;
				j++;
				continue;
			}
			if (c < 0x80) { /* a tab is expanded, other controls and DEL dropped */
				if (c == '\t')
					do {
						*o++ = ' ';
					} while (++col % 8);
				j++;
				continue;
			}
			col++;
			size_t k = utf8_seq(us + j, le - j);
			int32_t cp = k ? utf8_cp(us + j, k) : 0;
			int u = k ? uspace_kind(cp) : 0;
			if (u == 1)
				*o++ = ' ';
			else if (u)
				*o++ = '\n';
			else if (k && cp > 0x9F && cp != 0xFEFF) {
				if (!nfc_is_inert(cp))
					e->nfc = 1;
				memcpy(o, us + j, k);
				o += k;
			}
			j += k ? k : 1;
		}
		while (o > text_at && (o[-1] == ' ' || o[-1] == '\t'))
			o--;
		if (start == SIZE_MAX && line_at == base) {
			/* the text never starts with a blank, even a code line's indentation */
			char *p = text_at;
			while (p < o && *p == ' ')
				p++;
			memmove(text_at, p, (size_t)(o - p));
			o -= p - text_at;
		}
		if (o == text_at) { /* a blank line: owed only if more text follows */
			o = line_at;
			blank += start != SIZE_MAX;
		} else {
			if (start == SIZE_MAX) {
				/* the paragraph break before the block, the block's first line after it */
				size_t len = (size_t)(o - text_at), sep = line_at > base ? 2 : 0;
				emit_sep(e, SEP_PARA);
				memmove(text_at + sep, text_at, len);
				char *at = emit_flush(e, base, line_at);
				start = (size_t)(at - base);
				o = at + len;
			}
			blank = 0;
		}
		/* "\r\n" is one line break */
		i = le < n && us[le] == '\r' && le + 1 < n && us[le + 1] == '\n' ? le + 2 : le + 1;
	}
	e->out.len = (size_t)(o - base);
	base[e->out.len] = '\0';
	if (start != SIZE_MAX) {
		e->code[e->n_code++] = (struct span){ start, e->out.len };
		emit_sep(e, SEP_PARA);
	}
	return 0;
}

/* ---- HTML ------------------------------------------------------------------------------------ */

enum tag { T_OTHER, T_SKIP, T_HEAD, T_TITLE, T_BLOCK, T_CELL, T_PRE, T_H };

/* What else an element is, for the content filter (html_is_nav) and the walk. */
enum {
	TF_SECT = 1,    /* article, main, section: a header/footer inside is the content's */
	TF_MAIN = 2,    /* main */
	TF_NAV = 4,     /* nav, aside */
	TF_PAGE = 8,    /* header, footer */
	TF_BOX = 16,    /* div, details, ul, ol: a "toc" of these is navigation */
	TF_ROOT = 32,   /* html, body: never dropped */
	TF_A = 64,      /* a */
	TF_CODE = 128,  /* code */
};

struct tag_entry {
	const char *name;
	enum tag tag;
	unsigned flags;
};

/* Sorted for bsearch. Inline elements are absent (but a and code): their text runs on
 * without a break. */
static const struct tag_entry tag_table[] = {
	{ "a", T_OTHER, TF_A },
	{ "address", T_BLOCK, 0 }, { "article", T_BLOCK, TF_SECT }, { "aside", T_BLOCK, TF_NAV },
	{ "blockquote", T_BLOCK, 0 }, { "body", T_BLOCK, TF_ROOT }, { "br", T_BLOCK, 0 },
	{ "caption", T_BLOCK, 0 }, { "center", T_BLOCK, 0 }, { "code", T_OTHER, TF_CODE },
	{ "dd", T_BLOCK, 0 }, { "details", T_BLOCK, TF_BOX }, { "dialog", T_BLOCK, 0 },
	{ "div", T_BLOCK, TF_BOX }, { "dl", T_BLOCK, 0 }, { "dt", T_BLOCK, 0 },
	{ "fieldset", T_BLOCK, 0 }, { "figcaption", T_BLOCK, 0 }, { "figure", T_BLOCK, 0 },
	{ "footer", T_BLOCK, TF_PAGE }, { "form", T_BLOCK, 0 }, { "h1", T_H, 0 },
	{ "h2", T_H, 0 }, { "h3", T_H, 0 }, { "h4", T_H, 0 }, { "h5", T_H, 0 }, { "h6", T_H, 0 },
	{ "head", T_HEAD, 0 }, { "header", T_BLOCK, TF_PAGE }, { "hr", T_BLOCK, 0 },
	{ "html", T_BLOCK, TF_ROOT }, { "iframe", T_SKIP, 0 }, { "legend", T_BLOCK, 0 },
	{ "li", T_BLOCK, 0 }, { "main", T_BLOCK, TF_SECT | TF_MAIN }, { "nav", T_BLOCK, TF_NAV },
	{ "noscript", T_SKIP, 0 }, { "object", T_SKIP, 0 }, { "ol", T_BLOCK, TF_BOX },
	{ "p", T_BLOCK, 0 }, { "pre", T_PRE, 0 }, { "script", T_SKIP, 0 },
	{ "section", T_BLOCK, TF_SECT }, { "style", T_SKIP, 0 }, { "summary", T_BLOCK, 0 },
	{ "table", T_BLOCK, 0 }, { "tbody", T_BLOCK, 0 }, { "td", T_CELL, 0 },
	{ "template", T_SKIP, 0 }, { "tfoot", T_BLOCK, 0 }, { "th", T_CELL, 0 },
	{ "thead", T_BLOCK, 0 }, { "title", T_TITLE, 0 }, { "tr", T_BLOCK, 0 },
	{ "ul", T_BLOCK, TF_BOX },
};

static int tag_cmp(const void *key, const void *ent)
{
	return strcmp(key, ((const struct tag_entry *)ent)->name);
}

/* libxml2's HTML parser lower-cases element names, so a plain strcmp table works. *flags
 * gets the element's TF_* flags. */
static enum tag tag_of(const char *name, unsigned *flags)
{
	const struct tag_entry *t = bsearch(name, tag_table, RL_ARRAY_LEN(tag_table),
					    sizeof(tag_table[0]), tag_cmp);
	*flags = t ? t->flags : 0;
	return t ? t->tag : T_OTHER;
}

#define HTML_MAX_DEPTH 256
#define HTML_MAX_ERRORS 10000

/* What a page's content is: FILTER_MAIN only its <main> / role="main" elements, FILTER_NAV all
 * of it but its navigation, FILTER_NONE all of it (the last resort, see html_extract). */
enum filter { FILTER_NONE, FILTER_NAV, FILTER_MAIN };

/* The attributes that decide what a start tag is: pointers into the tag (n = 0: absent). */
struct attr_val {
	const char *s;
	size_t n;
};
struct html_attrs {
	struct attr_val cls, id, role, href;
};

static void attr_set(struct html_attrs *a, const char *name, size_t nl, const char *v, size_t n)
{
	struct attr_val *dst = NULL;
	switch (nl) {
	case 2: dst = !strncasecmp(name, "id", 2) ? &a->id : NULL; break;
	case 4: dst = !strncasecmp(name, "role", 4) ? &a->role
		    : !strncasecmp(name, "href", 4) ? &a->href : NULL; break;
	case 5: dst = !strncasecmp(name, "class", 5) ? &a->cls : NULL; break;
	default: break;
	}
	if (dst)
		*dst = (struct attr_val){ v, n };
}

static int attr_is(struct attr_val v, const char *word)
{
	size_t n = strlen(word);
	return v.n == n && !strncasecmp(v.s, word, n);
}

static int html_is_main(unsigned flags, const struct html_attrs *a)
{
	return (flags & TF_MAIN) || attr_is(a->role, "main");
}

/* A word of a token list, with its length. */
struct word {
	const char *s;
	size_t n;
};
#define WORD(lit) { lit, sizeof(lit) - 1 }

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* The next whitespace-separated word of v from *i: its start in *b, its length returned (0:
 * none left); *i moves past it. */
static size_t next_word(struct attr_val v, size_t *i, size_t *b)
{
	while (*i < v.n && is_ws(v.s[*i]))
		(*i)++;
	*b = *i;
	while (*i < v.n && !is_ws(v.s[*i]))
		(*i)++;
	return *i - *b;
}

static int words_has(struct attr_val v, const struct word *ws, size_t n_ws)
{
	size_t i = 0, b, n;
	while ((n = next_word(v, &i, &b)) > 0)
		for (size_t k = 0; k < n_ws; k++)
			if (ws[k].n == n && !strncasecmp(v.s + b, ws[k].s, n))
				return 1;
	return 0;
}

static const struct word nav_roles[] = {
	WORD("navigation"), WORD("banner"), WORD("contentinfo"), WORD("complementary"),
	WORD("search"),
};
static const struct word nav_names[] = {
	WORD("sidebar"), WORD("sphinxsidebar"), WORD("sphinxsidebarwrapper"), WORD("related"),
	WORD("breadcrumb"), WORD("breadcrumbs"), WORD("navigation"), WORD("navbar"),
	WORD("skip-link"), WORD("skiplink"), WORD("headerlink"),
	/* generators' ids (their classes are matched by nav_token): Doxygen's */
	WORD("nav-path"), WORD("nav-tree"), WORD("side-nav"),
};
static const struct word toc_names[] = { WORD("toc") };
static const struct word header_names[] = { WORD("header") };

/*
 * A class token that names navigation the way documentation generators spell it: starting
 * with "nav" (DocBook XSL's navheader/navfooter, Texinfo 7's nav-panel, Doxygen's navpath,
 * Javadoc's navList), ending with it (Javadoc's topNav/subNav/bottomNav, side-nav) or holding
 * "navbar" (glfwnavbar). Not "navy..." or "nava..." (colours), and not "nav" inside a word: the
 * Read the Docs theme's content is "wy-nav-content". Classes only: ids are made from headings
 * (Sphinx's <section id="navigating-the-tcl-tk-reference-manual"> is content).
 */
static int nav_token(const char *s, size_t n)
{
	if (n >= 3 && !strncasecmp(s, "nav", 3))
		return !(n > 3 && (s[3] == 'y' || s[3] == 'Y' || s[3] == 'a' || s[3] == 'A'));
	if (n >= 3 && !strncasecmp(s + n - 3, "nav", 3))
		return 1;
	for (size_t i = 0; i + 6 <= n; i++)
		if (!strncasecmp(s + i, "navbar", 6))
			return 1;
	return 0;
}

static int words_nav(struct attr_val v)
{
	size_t i = 0, b, n;
	while ((n = next_word(v, &i, &b)) > 0)
		if (nav_token(v.s + b, n))
			return 1;
	return 0;
}

/*
 * Navigation, not content: <nav>, <aside>, a page's own <header>/<footer> (sect: not inside
 * <article>, <main> or <section>), the ARIA landmarks of navigation, sidebars and permalinks
 * by their class or id tokens (a "toc" only when it is a container; inline elements other
 * than anchors are not looked at). The page itself and its main element never are.
 */
static int html_is_nav(enum tag t, unsigned flags, const struct html_attrs *a, int sect)
{
	/* inline elements (spans of syntax highlighting...) are never looked at but anchors */
	if ((flags & (TF_ROOT | TF_MAIN)) || (t == T_OTHER && !(flags & TF_A)))
		return 0;
	if (flags & TF_NAV)
		return 1;
	if (!sect && (flags & TF_PAGE))
		return 1;
	if (!a->cls.n && !a->id.n && !a->role.n)
		return 0;
	if (attr_is(a->role, "main"))
		return 0;
	if (words_has(a->role, nav_roles, RL_ARRAY_LEN(nav_roles)) ||
	    words_has(a->cls, nav_names, RL_ARRAY_LEN(nav_names)) ||
	    words_has(a->id, nav_names, RL_ARRAY_LEN(nav_names)) ||
	    (!(flags & TF_SECT) && words_nav(a->cls)))
		return 1;
	return (flags & TF_BOX) && (words_has(a->cls, toc_names, 1) || words_has(a->id, toc_names, 1));
}

/*
 * HTML is parsed with libxml2's SAX interface, never into a tree: a tree costs a few hundred
 * bytes per element (a 256 MB page of "<b>x</b>" would need gigabytes) and libxml2's tree
 * builder halts at nesting depth 256, dropping the rest of the page. The events drive the
 * emitter directly through a few counters (libxml2 closes every element it opened, implied
 * closes included, so the counters always balance): `depth` counts open elements, and the
 * depth where a dropped element, a main element, an anchor or a code block opened is all it
 * takes to know where it closes.
 *
 * Depth: libxml2 keeps a stack of open element names and scans it for every end tag that
 * matches nothing, so an unbounded stack makes stray end tags quadratic. Errors: libxml2
 * formats and copies a message for each one (about 2 us), so a page made of nothing but
 * errors ("</i></i>...", "<1<1<1...") would take minutes. At HTML_MAX_DEPTH open elements or
 * HTML_MAX_ERRORS errors the parser is stopped and the rest of the page goes through
 * html_strip(), a linear tag stripper (text, entities, block breaks, headings, navigation by
 * tag name and attributes; no nesting kept but a counter): no text is lost, and the metadata
 * records "html_fallback". Offsets: the input is valid UTF-8 and decoded as UTF-8, so
 * libxml2's input offsets are offsets into our buffer; the stop offset is checked (a start
 * tag's '>', or the next '<') before it is trusted.
 *
 * Anchors: a skip link ("Skip to content", href="#...") or a permalink symbol in a heading
 * ("¶", "#", "§", "🔗") is known only by its text, so the emitter's state is saved where an
 * anchor opens and restored where it closes when its text turns out to be one of those.
 * Code: <pre> (and a <code> that starts a block and holds a line break) is collected as it
 * comes and written by emit_code() where it closes.
 */
struct anchor_mark {
	int depth;                /* 0: none open */
	int hash;                 /* href starts with '#' */
	size_t len, n_h, n_code, h_start;
	int pend, nl;
};

struct html_walk {
	struct emit *e;
	htmlParserCtxtPtr ctxt;
	const char *src;          /* the page, to check the stop offset against */
	size_t src_len;
	enum filter filter;
	struct buf title;
	struct buf code;          /* a code block being collected */
	int in_title, title_done; /* inside the first <title>; it was seen */
	int skip;                 /* depth inside script, style...: no text there */
	int head, pre;            /* inside <head>, <pre> */
	int h_open, h_active;     /* open h1..h6 elements; the outermost one is being emitted */
	int depth;                /* open elements */
	int drop;                 /* depth of the navigation element being dropped, 0 none */
	int in_main;              /* depth of the main element being emitted, 0 none */
	int main_seen, dropped;   /* a main element was found; something was left out */
	int sect;                 /* open article, main, section elements */
	int code_depth;           /* depth of the <pre>/<code> being collected, 0 none */
	int code_pre;             /* ... which is a <pre> */
	struct anchor_mark a;
	struct anchor_mark blk;   /* a <div class="header"> that may be Texinfo's node links */
	int rc;                   /* first error; later events are ignored */
	int stopped;              /* stopped at HTML_MAX_DEPTH or HTML_MAX_ERRORS */
	int errors;
	size_t resume;            /* where html_strip() takes over, SIZE_MAX when unknown */
};

/* Text goes out: not in a dropped element, and in a main element when only those count. */
static int html_emitting(const struct html_walk *w)
{
	return !w->drop && (w->filter != FILTER_MAIN || w->in_main);
}

/* Stops libxml2 and notes where the page goes on: past the start tag being reported
 * (in_tag), else at the next tag. */
static void html_stop(struct html_walk *w, int in_tag)
{
	xmlParserInputPtr in = w->ctxt->input;
	size_t at = SIZE_MAX;

	if (in && in->cur && in->base && in->cur >= in->base) {
		at = (size_t)in->consumed + (size_t)(in->cur - in->base);
		if (at > w->src_len) {
			at = SIZE_MAX;
		} else if (in_tag) {
			/* libxml2 reports a start tag before it steps over its '>' (or "/>") */
			if (at < w->src_len && w->src[at] == '/' && at + 1 < w->src_len)
				at++;
			at = at < w->src_len && w->src[at] == '>' ? at + 1 : SIZE_MAX;
		} else {
			const char *lt = memchr(w->src + at, '<', w->src_len - at);
			at = lt ? (size_t)(lt - w->src) : w->src_len;
		}
	}
	w->stopped = 1;
	w->resume = at;
	if (w->code_depth && !w->rc) /* what was collected is text all the same */
		w->rc = emit_code(w->e, w->code.data ? w->code.data : "", w->code.len);
	w->code_depth = 0;
	if (w->h_active) {
		w->h_active = 0;
		if (!w->rc)
			w->rc = emit_heading_end(w->e);
	}
	emit_sep(w->e, SEP_PARA);
	xmlStopParser(w->ctxt);
}

static void html_code_put(struct html_walk *w, const char *s, size_t n)
{
	size_t room = w->code.limit - w->code.len;
	if (room && buf_append(&w->code, s, n < room ? n : room))
		w->rc = RL_ENOMEM;
}

/* The text an anchor wrote since its mark, separators before it skipped. */
static const char *anchor_text(const struct html_walk *w, size_t *n)
{
	const struct emit *e = w->e;
	size_t i = w->a.len;
	while (i < e->out.len && (e->out.data[i] == ' ' || e->out.data[i] == '\n'))
		i++;
	*n = e->out.len - i;
	return e->out.data ? e->out.data + i : "";
}

/* A permalink symbol in a heading, or a skip link: written, then taken back. */
/* The emitter back where mark m was taken: what came out since is left out. */
static void html_undo(struct html_walk *w, const struct anchor_mark *m)
{
	struct emit *e = w->e;
	e->out.len = m->len;
	if (e->out.data)
		e->out.data[e->out.len] = '\0';
	e->n_h = m->n_h;
	e->n_code = m->n_code;
	e->h_start = m->h_start;
	e->pend = m->pend;
	e->nl = m->nl;
	w->dropped = 1;
}

static void html_anchor_end(struct html_walk *w)
{
	static const char *const marks[] = { "\xc2\xb6", "#", "\xc2\xa7", "\xf0\x9f\x94\x97",
					      "\xc2\xb6\xef\xb8\x8f", "\xf0\x9f\x94\x97\xef\xb8\x8f" };
	struct emit *e = w->e;
	size_t n;
	const char *t = anchor_text(w, &n);
	int undo = 0;
	if (w->h_open)
		for (size_t i = 0; i < RL_ARRAY_LEN(marks) && !undo; i++)
			undo = n == strlen(marks[i]) && !memcmp(t, marks[i], n);
	if (!undo && w->a.hash && n >= 5)
		undo = !strncasecmp(t, "skip ", 5) || (n >= 8 && !strncasecmp(t, "jump to ", 8));
	if (undo && !e->full)
		html_undo(w, &w->a);
	w->a.depth = 0;
}

/*
 * Texinfo's node header (makeinfo 5 and 6; 7 calls it "nav-panel"): <div class="header"><p>Next:
 * <a>..</a>, Previous: <a>..</a>, Up: <a>..</a> [Contents][Index]</p></div> above every node. It is
 * known by its text only: Doxygen and Javadoc keep the page's title in a div of the same class.
 * So the div is dropped where it closes when its text starts with one of those labels and it
 * held no heading or code.
 */
static void html_header_end(struct html_walk *w)
{
	static const struct word lead[] = { WORD("Next:"), WORD("Previous:"), WORD("Prev:"),
					    WORD("Up:") };
	struct emit *e = w->e;
	if (!e->full && e->n_h == w->blk.n_h && e->n_code == w->blk.n_code &&
	    e->out.len > w->blk.len && e->out.data) {
		const char *t = e->out.data + w->blk.len;
		size_t n = e->out.len - w->blk.len;
		while (n && is_ws(*t))
			t++, n--;
		for (size_t i = 0; i < RL_ARRAY_LEN(lead); i++)
			if (n >= lead[i].n && !strncmp(t, lead[i].s, lead[i].n)) {
				html_undo(w, &w->blk);
				break;
			}
	}
	w->blk.depth = 0;
}

static void sax_attrs(const xmlChar **atts, struct html_attrs *a)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; atts && atts[i]; i += 2) {
		const char *name = (const char *)atts[i], *v = (const char *)atts[i + 1];
		struct attr_val *dst = NULL;
		/* names come lower-cased from libxml2 */
		switch (name[0]) {
		case 'i': dst = !strcmp(name, "id") ? &a->id : NULL; break;
		case 'r': dst = !strcmp(name, "role") ? &a->role : NULL; break;
		case 'h': dst = !strcmp(name, "href") ? &a->href : NULL; break;
		case 'c': dst = !strcmp(name, "class") ? &a->cls : NULL; break;
		default: break;
		}
		if (dst && v)
			*dst = (struct attr_val){ v, strlen(v) };
	}
}

/*
 * A page's document properties from its <meta> elements (HTML has no other place for them):
 * name="author" / "dc.creator" / "dcterms.creator" is the author; "date", "dc.date",
 * "dcterms.date", "dcterms.created", property="article:published_time" the creation date;
 * "dcterms.modified", property="article:modified_time" the last change. The first of each
 * wins; a value is kept up to LABEL_MAX bytes (cut at a character boundary).
 */
static void html_meta(struct html_walk *w, const xmlChar **atts)
{
	static const struct { const char *name, *key; } map[] = {
		{ "author", "author" }, { "dc.creator", "author" }, { "dcterms.creator", "author" },
		{ "date", "created" }, { "dc.date", "created" }, { "dcterms.date", "created" },
		{ "dcterms.created", "created" }, { "article:published_time", "created" },
		{ "dcterms.modified", "modified" }, { "article:modified_time", "modified" },
	};
	const char *name = NULL, *content = NULL;
	for (size_t i = 0; atts && atts[i]; i += 2) {
		const char *a = (const char *)atts[i], *v = (const char *)atts[i + 1];
		if (v && (!strcmp(a, "name") || !strcmp(a, "property")))
			name = v;
		else if (v && !strcmp(a, "content"))
			content = v;
	}
	if (!name || !content)
		return;
	while (*content == ' ' || *content == '\t' || *content == '\n' || *content == '\r')
		content++;
	size_t n = strnlen(content, LABEL_MAX + 4);
	if (n > LABEL_MAX)
		n = utf8_floor(content, LABEL_MAX);
	while (n && (content[n - 1] == ' ' || content[n - 1] == '\n' || content[n - 1] == '\t' ||
		     content[n - 1] == '\r'))
		n--;
	for (size_t i = 0; n && i < RL_ARRAY_LEN(map); i++) {
		if (strcasecmp(name, map[i].name) || json_object_get(w->e->props, map[i].key))
			continue;
		json_t *v = json_stringn(content, n);  /* NULL when not valid UTF-8: left out */
		if (v && json_object_set_new(w->e->props, map[i].key, v))
			w->rc = RL_ENOMEM;
		break;
	}
}

static void html_start(void *ctx, const xmlChar *xname, const xmlChar **atts)
{
	struct html_walk *w = ctx;
	const char *name = (const char *)xname;
	struct html_attrs a;
	unsigned fl;
	enum tag t;

	if (w->rc || w->stopped)
		return;
	w->depth++;
	if (w->ctxt->nameNr > HTML_MAX_DEPTH) {
		html_stop(w, 1);
		return;
	}
	t = tag_of(name, &fl);
	if (w->skip) {
		w->skip += t == T_SKIP;
		return;
	}
	if (t == T_SKIP) {
		w->skip = 1;
		return;
	}
	if (t == T_HEAD) {
		w->head++;
		return;
	}
	if (t == T_TITLE) {
		w->in_title += !w->title_done;
		return;
	}
	if (w->e->props && name[0] == 'm' && !strcmp(name, "meta")) {
		html_meta(w, atts);
		return;
	}
	sax_attrs(atts, &a);
	if (w->filter && !w->drop && !w->in_main && html_is_main(fl, &a)) {
		w->main_seen = 1;
		if (w->filter == FILTER_MAIN) {
			w->in_main = w->depth;
			emit_sep(w->e, SEP_PARA);
		}
	}
	w->sect += (fl & TF_SECT) != 0;
	if (!html_emitting(w))
		return;
	if (w->filter && html_is_nav(t, fl, &a, w->sect - ((fl & TF_SECT) != 0))) {
		w->drop = w->depth;
		w->dropped = 1;
		return;
	}
	if (w->code_depth) { /* inside a code block, elements are line breaks at most */
		if (t == T_BLOCK || t == T_PRE || t == T_H)
			html_code_put(w, "\n", 1);
		return;
	}
	if (w->filter && !w->blk.depth && (fl & TF_BOX) && !w->a.depth &&
	    words_has(a.cls, header_names, 1)) {
		struct emit *e = w->e;
		w->blk = (struct anchor_mark){ w->depth, 0, e->out.len, e->n_h,
					       e->n_code, e->h_start, e->pend, e->nl };
	}
	int hash = a.href.n && a.href.s[0] == '#';
	if ((fl & TF_A) && !w->a.depth && (w->h_open || hash)) {
		struct emit *e = w->e;
		w->a = (struct anchor_mark){ w->depth, hash, e->out.len, e->n_h,
					     e->n_code, e->h_start, e->pend, e->nl };
	}
	switch (t) {
	case T_BLOCK: emit_sep(w->e, SEP_PARA); break;
	case T_PRE:
		emit_sep(w->e, SEP_PARA);
		if (w->pre++ == 0 && !w->h_active && !w->a.depth) {
			w->code_depth = w->depth;
			w->code_pre = 1;
			buf_reset(&w->code);
		}
		break;
	case T_CELL: emit_sep(w->e, SEP_SPACE); break;
	case T_H:
		if (w->h_open++ == 0 && !w->head) {
			emit_heading_begin(w->e, name[1] - '0');
			w->h_active = 1;
		}
		break;
	default:
		/* <code> at the start of a block may be one; its line breaks tell (at its end) */
		if ((fl & TF_CODE) && !w->h_active && !w->a.depth &&
		    (w->e->pend == SEP_PARA || !w->e->out.len)) {
			w->code_depth = w->depth;
			w->code_pre = 0;
			buf_reset(&w->code);
		}
		break;
	}
}

static void html_end(void *ctx, const xmlChar *xname)
{
	struct html_walk *w = ctx;
	unsigned fl;
	enum tag t;
	int d;

	if (w->rc || w->stopped)
		return;
	d = w->depth--;
	t = tag_of((const char *)xname, &fl);
	if (w->skip) {
		w->skip -= t == T_SKIP;
		return;
	}
	switch (t) {
	case T_HEAD: w->head -= w->head > 0; return;
	case T_TITLE:
		if (w->in_title && --w->in_title == 0)
			w->title_done = 1;
		return;
	default: break;
	}
	w->sect -= (fl & TF_SECT) && w->sect > 0;
	if (w->drop) {
		if (d == w->drop)
			w->drop = 0;
		return;
	}
	if (d == w->in_main) {
		w->in_main = 0;
		emit_sep(w->e, SEP_PARA);
		return;
	}
	if (!html_emitting(w))
		return;
	if (w->code_depth) {
		if (d != w->code_depth) {
			/* a block ends a line (a <br> did so where it opened) */
			if ((t == T_BLOCK || t == T_PRE || t == T_H) && strcmp((const char *)xname, "br"))
				html_code_put(w, "\n", 1);
			return;
		}
		w->code_depth = 0;
		if (w->code_pre || (w->code.len && memchr(w->code.data, '\n', w->code.len))) {
			w->rc = emit_code(w->e, w->code.data ? w->code.data : "", w->code.len);
		} else {
			w->rc = emit_text(w->e, w->code.data ? w->code.data : "", w->code.len, 0);
			return;
		}
	}
	if (d == w->a.depth) {
		html_anchor_end(w);
		return;
	}
	if (d == w->blk.depth)
		html_header_end(w);
	switch (t) {
	case T_BLOCK: emit_sep(w->e, SEP_PARA); break;
	case T_PRE: w->pre -= w->pre > 0; emit_sep(w->e, SEP_PARA); break;
	case T_CELL: emit_sep(w->e, SEP_SPACE); break;
	case T_H:
		if (w->h_open > 0 && --w->h_open == 0 && w->h_active) {
			w->h_active = 0;
			w->rc = emit_heading_end(w->e);
		}
		break;
	default: break;
	}
}

static void html_text(void *ctx, const xmlChar *ch, int len)
{
	struct html_walk *w = ctx;
	size_t n = len > 0 ? (size_t)len : 0;

	if (w->rc || w->stopped || w->skip || !n)
		return;
	if (w->in_title) {
		/* a label: what fits in its buffer is plenty, the rest is not kept */
		size_t room = w->title.limit - w->title.len;
		if (room && buf_append(&w->title, ch, n < room ? n : room))
			w->rc = RL_ENOMEM;
		return;
	}
	if (w->head || !html_emitting(w))
		return;
	if (w->code_depth)
		html_code_put(w, (const char *)ch, n);
	else
		w->rc = emit_text(w->e, (const char *)ch, n, w->pre > 0);
}

static void html_error(void *ctx, xmlErrorPtr err)
{
	struct html_walk *w = ctx;

	(void)err;
	if (!w->rc && !w->stopped && ++w->errors > HTML_MAX_ERRORS)
		html_stop(w, 0);
}

/* Decodes the character reference or entity at s ("&amp;", "&#233;", "&#x1F600;") into u
 * (UTF-8, at most 4 bytes). Returns the bytes it spans, 0 when it is not one. */
static size_t html_entity(const char *s, size_t n, char *u, size_t *ulen)
{
	char name[40];
	size_t i = 1, k = 0;
	uint32_t cp = 0;

	if (n > 1 && s[1] == '#') {
		int hex = n > 2 && (s[2] == 'x' || s[2] == 'X');
		for (i = hex ? 3 : 2; i < n && k < 8; i++, k++) {
			char c = s[i];
			int d = c >= '0' && c <= '9' ? c - '0'
			      : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
			      : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (d < 0)
				break;
			cp = cp * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (!k)
			return 0;
		if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || k == 8)
			cp = 0xFFFD;
	} else {
		for (; i < n && k < sizeof(name) - 1 &&
		       ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9'));
		     i++)
			name[k++] = s[i];
		name[k] = '\0';
		const htmlEntityDesc *ent = k ? htmlEntityLookup((const xmlChar *)name) : NULL;
		if (!ent)
			return 0;
		cp = ent->value;
	}
	if (i < n && s[i] == ';')
		i++;
	*ulen = (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)u);
	return *ulen ? i : 0;
}

/* Where the element named name (lower case, n bytes) closes: just past "</name...>", or n. */
static size_t html_raw_end(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);
	for (const char *p = s; (p = memchr(p, '<', (size_t)(s + n - p)));) {
		size_t at = (size_t)(p - s);
		if (at + 2 + k <= n && p[1] == '/' && strncasecmp(p + 2, name, k) == 0) {
			const char *gt = memchr(p, '>', n - at);
			return gt ? (size_t)(gt - s) + 1 : n;
		}
		p++;
	}
	return n;
}

/* The attributes of a raw start tag's text (after its name, up to its '>'). */
static void raw_attrs(const char *s, size_t n, struct html_attrs *a)
{
	size_t i = 0;
	memset(a, 0, sizeof(*a));
	while (i < n) {
		while (i < n && !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			i++;
		size_t nb = i;
		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				 s[i] == '-' || s[i] == ':'))
			i++;
		size_t nl = i - nb;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		if (i >= n || s[i] != '=')
			continue;
		i++;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		char q = i < n && (s[i] == '"' || s[i] == '\'') ? s[i++] : 0;
		size_t vb = i;
		while (i < n && (q ? s[i] != q : !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
						   s[i] == '\r' || s[i] == '/')))
			i++;
		attr_set(a, s + nb, nl, s + vb, i - vb);
		i += i < n;
	}
}

/* What html_strip() carries from the SAX walk: which elements it is inside. */
struct strip_state {
	enum filter filter;
	int wait_main;      /* FILTER_MAIN outside a main element: nothing goes out until one */
	int main_seen;
	int sect;           /* open article, main, section elements (roughly: no stack) */
	char drop[16];      /* name of the navigation element being dropped ("" none) ... */
	int drop_open;      /* ... and how many of that name are open */
	int dropped;
};

/*
 * A linear tag stripper for what libxml2 is not given: text runs are emitted, entities
 * decoded, comments and script/style bodies dropped, block elements break paragraphs, h1..h6
 * make headings, navigation (html_is_nav) is dropped by counting the opens and closes of its
 * element's name, and with FILTER_MAIN nothing goes out before a main element. No stack, so
 * nesting depth costs nothing; code blocks are plain text here.
 */
static int html_strip(struct emit *e, const char *s, size_t n, struct strip_state *st)
{
	size_t i = 0, run = 0;
	int rc = 0;

	while (i < n && !rc && !e->full) {
		char c = s[i];
		if (c != '<' && c != '&') {
			const char *p = memchr(s + i, '<', n - i), *q = memchr(s + i, '&', n - i);
			i = p && (!q || p < q) ? (size_t)(p - s) : q ? (size_t)(q - s) : n;
			continue;
		}
		int out = !st->drop_open && !st->wait_main;
		if (out)
			rc = emit_text(e, s + run, i - run, 0);
		if (rc)
			break;
		if (c == '&') {
			char u[8];
			size_t ulen = 0, used = html_entity(s + i, n - i, u, &ulen);
			if (out)
				rc = used ? emit_text(e, u, ulen, 0) : emit_text(e, "&", 1, 0);
			i += used ? used : 1;
			run = i;
			continue;
		}
		if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			const char *end = memmem(s + i + 4, n - i - 4, "-->", 3);
			i = end ? (size_t)(end - s) + 3 : n;
			run = i;
			continue;
		}
		size_t j = i + 1;
		int close = j < n && s[j] == '/';
		j += close;
		int letter = j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'));
		if (!letter && !(j < n && (s[j] == '!' || s[j] == '?'))) {
			if (out)
				rc = emit_text(e, "<", 1, 0);  /* a lone '<' is text */
			run = ++i;
			continue;
		}
		char name[16];
		size_t k = 0;
		while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
				 (s[j] >= '0' && s[j] <= '9'))) {
			if (k < sizeof(name) - 1)
				name[k++] = (char)(s[j] | 0x20);
			j++;
		}
		name[k] = '\0';
		size_t attrs_at = j;
		for (char q = 0; j < n && (q || s[j] != '>'); j++) {
			if (q)
				q = s[j] == q ? 0 : q;
			else if (s[j] == '"' || s[j] == '\'')
				q = s[j];
		}
		size_t attrs_len = j - attrs_at;
		int self_closing = attrs_len && s[j - 1] == '/';
		i = j < n ? j + 1 : n;
		run = i;
		if (!letter)
			continue;  /* <!DOCTYPE ...>, <?xml ...?> */
		unsigned fl;
		enum tag t = tag_of(name, &fl);
		if (t == T_SKIP) {
			if (!close && (!strcmp(name, "script") || !strcmp(name, "style"))) {
				i += html_raw_end(s + i, n - i, name);
				run = i;
			}
			continue;
		}
		if (st->filter) {
			if (close) {
				st->sect -= (fl & TF_SECT) && st->sect > 0;
				if (st->drop_open && !strcmp(name, st->drop))
					st->drop_open--;
				if (st->drop_open || st->wait_main)
					continue;
			} else {
				struct html_attrs a;
				raw_attrs(s + attrs_at, attrs_len, &a);
				int sect = st->sect;
				st->sect += (fl & TF_SECT) && !self_closing;
				if (st->drop_open) {
					st->drop_open += !strcmp(name, st->drop) && !self_closing;
					continue;
				}
				if (st->wait_main) {
					if (!html_is_main(fl, &a))
						continue;
					st->wait_main = 0;
					st->main_seen = 1;
				}
				if (html_is_nav(t, fl, &a, sect) && !self_closing) {
					memcpy(st->drop, name, sizeof(name));
					st->drop_open = 1;
					st->dropped = 1;
					continue;
				}
			}
		}
		switch (t) {
		case T_CELL: emit_sep(e, SEP_SPACE); break;
		case T_H:
			if (!close && !e->h_level)
				emit_heading_begin(e, name[1] - '0');
			else if (close && e->h_level)
				rc = emit_heading_end(e);
			break;
		case T_OTHER: break;
		default: emit_sep(e, SEP_PARA); break;
		}
	}
	if (!rc && run < n && !e->full && !st->drop_open && !st->wait_main)
		rc = emit_text(e, s + run, n - run, 0);
	return rc;
}

/* Whether the page has a main element: "<main" or a role="main" anywhere (one in a script or
 * comment is found out by the parse, which then sees none). */
static int html_has_main(const char *s, size_t n)
{
	static const char *const words[] = { "main", "MAIN", "Main" };
	for (size_t w = 0; w < RL_ARRAY_LEN(words); w++) {
		for (const char *p = s; (p = memmem(p, (size_t)(s + n - p), words[w], 4)); p += 4) {
			size_t at = (size_t)(p - s);
			char next = at + 4 < n ? s[at + 4] : '\0';
			if (at >= 1 && s[at - 1] == '<' &&
			    (next == '>' || next == ' ' || next == '\t' || next == '\n' || next == '\r'))
				return 1;
			size_t b = at;
			if (b >= 1 && (s[b - 1] == '"' || s[b - 1] == '\''))
				b--;
			if (b >= 5 && !strncasecmp(s + b - 5, "role=", 5) &&
			    (b == at || next == s[b]))
				return 1;
		}
	}
	return 0;
}

/* One parse of the page (see above) with the given filter. */
static int html_parse(struct emit *e, const char *s, size_t n, enum filter filter,
		      struct buf *title, int *limited, int *halted, int *main_seen, int *dropped)
{
	struct html_walk w = { .e = e, .src = s, .src_len = n, .filter = filter,
			       .resume = SIZE_MAX };
	struct strip_state st = { .filter = filter, .wait_main = filter == FILTER_MAIN };
	htmlSAXHandler *sax = NULL;
	htmlDocPtr doc = NULL;
	int rc = 0;

	buf_init(&w.title, LABEL_MAX * 8);
	buf_init(&w.code, e->out.limit);
	if (n > INT_MAX) {
		/* beyond what libxml2's int sizes address: the stripper reads all of it */
		*limited = 1;
		rc = html_strip(e, s, n, &st);
		goto out;
	}
	w.ctxt = htmlNewParserCtxt();
	/* libxml2 frees the handler with the context, so it comes from its allocator */
	sax = w.ctxt ? xmlMalloc(sizeof(*sax)) : NULL;
	if (!sax) {
		rc = RL_ENOMEM;
		goto out;
	}
	memset(sax, 0, sizeof(*sax));
	/* The HTML parser only calls the SAX1 callbacks; the magic routes errors to serror. */
	sax->initialized = XML_SAX2_MAGIC;
	sax->serror = html_error;
	sax->startElement = html_start;
	sax->endElement = html_end;
	sax->characters = html_text;
	sax->cdataBlock = html_text;
	xmlFree(w.ctxt->sax);
	w.ctxt->sax = sax;
	w.ctxt->userData = &w;
	/* Already UTF-8 (decoded by us), so the encoding is forced: a stale <meta charset> must
	 * not make libxml2 transcode a second time. */
	doc = htmlCtxtReadMemory(w.ctxt, s, (int)n, NULL, "UTF-8",
				 HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
					 HTML_PARSE_NONET | HTML_PARSE_NOBLANKS);
	rc = w.rc;
	if (rc)
		goto out;
	if (w.stopped && w.resume != SIZE_MAX) {
		*limited = 1;
		st.wait_main = filter == FILTER_MAIN && !w.in_main;
		st.sect = w.sect;
		rc = html_strip(e, s + w.resume, n - w.resume, &st);
	} else if (w.stopped) {
		*halted = 1;
	}
	if (!rc)
		rc = buf_append(title, w.title.data ? w.title.data : "", w.title.len);
out:
	*main_seen = w.main_seen || st.main_seen;
	*dropped = w.dropped || st.dropped;
	buf_release(&w.title);
	buf_release(&w.code);
	if (doc)
		xmlFreeDoc(doc);
	if (w.ctxt)
		htmlFreeParserCtxt(w.ctxt);
	return rc;
}

/*
 * Parses HTML into the emitter: a page with a main element (<main>, role="main") is that
 * element, else the page without its navigation. *title gets <title>'s raw text; *limited is
 * set when the page was nested deeper than HTML_MAX_DEPTH or held more than HTML_MAX_ERRORS
 * errors and its rest was stripped linearly, *halted when text was lost (the stop offset
 * could not be trusted), which the caller reports. A page parses again (at most twice more,
 * so the work stays linear) when the main element it seemed to have was not one (a "<main"
 * in a script), and without any filter when the filter left no text at all: a page that is
 * nothing but a link list is still a document.
 */
static int html_extract(struct emit *e, const char *s, size_t n, struct buf *title, int *limited,
			int *halted)
{
	enum filter f = html_has_main(s, n) ? FILTER_MAIN : FILTER_NAV;
	int rc, main_seen = 0, dropped = 0;
	for (;;) {
		rc = html_parse(e, s, n, f, title, limited, halted, &main_seen, &dropped);
		if (rc || f == FILTER_NONE)
			return rc;
		if (f == FILTER_MAIN && !main_seen)
			f = FILTER_NAV;
		else if (!e->out.len && (dropped || f == FILTER_MAIN))
			f = FILTER_NONE;
		else
			return 0;
		emit_reset(e);
		buf_reset(title);
		*limited = *halted = 0;
	}
}

/* ---- Markdown (parsed by markdown.c; the adapter here feeds its events to the emitter) ---- */

static int md_on_text(void *ctx, const char *s, size_t n)
{
	struct emit *e = ctx;
	int rc = emit_text(e, s, n, 0);
	return rc ? rc : e->full; /* full: nothing more can be written, stop the parse */
}

static int md_on_para(void *ctx)
{
	emit_sep(ctx, SEP_PARA);
	return 0;
}

static int md_on_heading_begin(void *ctx, int level)
{
	emit_heading_begin(ctx, level);
	return 0;
}

static int md_on_heading_end(void *ctx)
{
	return emit_heading_end(ctx);
}

static int md_on_code(void *ctx, const char *s, size_t n)
{
	struct emit *e = ctx;
	int rc = emit_code(e, s, n);
	return rc ? rc : e->full;
}

/*
 * The sink every line-structured format drives (Markdown through md4c, markdown.c; POD,
 * pod.c; GNU Info, info.c; reStructuredText, rst.c). A hard line break is a paragraph break
 * here: the emitter has no single line break outside code, and list items and table rows
 * (paragraphs in these events) are where a chunk should rather end.
 */
static const struct md_sink text_sink = {
	.text = md_on_text,
	.para = md_on_para,
	.line = md_on_para,
	.heading_begin = md_on_heading_begin,
	.heading_end = md_on_heading_end,
	.code = md_on_code,
};

/* Markdown; *front gets the front matter. */
static int md_extract(struct emit *e, const char *s, size_t n, json_t **front)
{
	return markdown_parse(s, n, &text_sink, e, front);
}

/* ---- office documents and e-books (parsed by office.c; the adapter feeds the emitter) ----- */

struct office_adapter {
	struct emit *e;
	struct emit page;      /* one EPUB XHTML member's text, then copied into e */
	struct buf title;      /* its <title>: not used (the OPF's title is the book's) */
	struct buf fixed;      /* its bytes with invalid UTF-8 repaired */
	int limited, halted;
};

static int of_text(void *ctx, const char *s, size_t n)
{
	struct emit *e = ((struct office_adapter *)ctx)->e;
	int rc = emit_text(e, s, n, 0);
	return rc ? rc : e->full;
}

static int of_para(void *ctx)
{
	emit_sep(((struct office_adapter *)ctx)->e, SEP_PARA);
	return 0;
}

static int of_heading_begin(void *ctx, int level)
{
	emit_heading_begin(((struct office_adapter *)ctx)->e, level);
	return 0;
}

static int of_heading_end(void *ctx)
{
	return emit_heading_end(((struct office_adapter *)ctx)->e);
}

static int of_page(void *ctx, int number)
{
	return emit_page(((struct office_adapter *)ctx)->e, number);
}

/*
 * One EPUB content document: read by the HTML path on an emitter of its own (html_extract
 * may start a page over, which must not erase the chapters before it), then its text copied
 * into the book's emitter range by range: headings as headings, code blocks as code, the
 * rest as text whose blank lines are its paragraph breaks.
 */
static int of_html(void *ctx, const char *s, size_t n)
{
	struct office_adapter *a = ctx;
	struct emit *e = a->e, *p = &a->page;
	struct utf8_stats st;
	size_t bad = 0;
	int rc;

	emit_reset(p);
	buf_reset(&a->title);
	utf8_scan((const unsigned char *)s, n, &st);
	if (st.invalid) {
		buf_reset(&a->fixed);
		if ((rc = utf8_repair((const unsigned char *)s, n, &a->fixed, &bad)))
			return rc;
		s = a->fixed.data ? a->fixed.data : "";
		n = a->fixed.len;
	}
	int limited = 0, halted = 0;
	if ((rc = html_extract(p, s, n, &a->title, &limited, &halted)))
		return rc;
	a->limited |= limited;
	a->halted |= halted;
	if (p->h_level && (rc = emit_heading_end(p)))
		return rc;
	size_t prev = 0, i = 0, k = 0;
	const char *t = p->out.data ? p->out.data : "";
	while (!rc && !e->full && (i < p->n_h || k < p->n_code)) {
		int is_h = k >= p->n_code || (i < p->n_h && p->h[i].start < p->code[k].start);
		size_t a0 = is_h ? p->h[i].start : p->code[k].start;
		size_t b0 = is_h ? p->h[i].end : p->code[k].end;
		rc = emit_text(e, t + prev, a0 - prev, 1);
		if (!rc && is_h) {
			emit_heading_begin(e, p->h[i++].level);
			rc = emit_text(e, t + a0, b0 - a0, 0);
			if (!rc)
				rc = emit_heading_end(e);
		} else if (!rc) {
			emit_sep(e, SEP_PARA);
			rc = emit_code(e, t + a0, b0 - a0);
			emit_sep(e, SEP_PARA);
			k++;
		}
		prev = b0;
	}
	if (!rc)
		rc = emit_text(e, t + prev, p->out.len - prev, 1);
	emit_sep(e, SEP_PARA);
	return rc ? rc : e->full;
}

static int office_extract(struct emit *e, const struct read_item *it, struct office_info *info,
			  int *limited, int *halted)
{
	static const struct office_sink sink = {
		.text = of_text,
		.para = of_para,
		.heading_begin = of_heading_begin,
		.heading_end = of_heading_end,
		.page = of_page,
		.html = of_html,
	};
	struct office_adapter a = { .e = e };
	emit_init(&a.page, e->out.limit);
	buf_init(&a.title, LABEL_MAX * 8);
	buf_init(&a.fixed, 0);
	int rc = office_parse(it->type, it->data ? it->data : "", it->len, &sink, &a, info);
	*limited = a.limited;
	*halted = a.halted;
	emit_release(&a.page);
	buf_release(&a.title);
	buf_release(&a.fixed);
	return rc;
}

/* A PDF (pdf.c, through its worker process): the same adapter as an office document. */
static int pdf_extract(const struct normalize_opts *o, struct emit *e, const struct read_item *it,
		       struct pdf_info *info)
{
	static const struct office_sink sink = {
		.text = of_text,
		.para = of_para,
		.heading_begin = of_heading_begin,
		.heading_end = of_heading_end,
		.page = of_page,
	};
	struct office_adapter a = { .e = e };
	struct pdf_opts po = {
		.parse_seconds = o->parse_seconds,
		.parse_memory_mb = o->parse_memory_mb,
		.max_text = o->max_doc_bytes && o->max_doc_bytes < SIZE_MAX / 4
				    ? 2 * (size_t)o->max_doc_bytes + 4096 : 0,
		.ocr = o->ocr ? "eng" : NULL,
	};
	return pdf_parse(it->data ? it->data : "", it->len, &po, &sink, &a, info);
}

/* ---- decoding ------------------------------------------------------------------------------ */

struct decoded {
	const char *s;           /* valid UTF-8: it->data or tmp */
	size_t n;
	struct buf tmp;
	const char *encoding;    /* NULL when the input was valid UTF-8 */
	const char *enc_source;  /* how the encoding was chosen: "bom", "declared", "detected" */
	char label[CHARSET_NAME_MAX]; /* encoding's storage when it is not a literal */
	size_t n_invalid;        /* invalid UTF-8 bytes replaced */
	size_t n_undecodable;    /* units iconv rejected (UTF-16/32 units, legacy bytes) */
	size_t unit;             /* bytes of such a unit (0 taken as 1) */
	size_t n_nul;            /* NUL bytes dropped */
	const char *reason;      /* skip reason */
};

/* ---- e-mail (parsed by mail.c; the adapter converts each part's charset and emits it) ---- */

struct mail_ctx {
	struct emit *e;
	struct decoded *dec;     /* repairs are counted here, as for any file */
	struct buf utf8;         /* one part in UTF-8 */
	int *limited, *halted;
};

static int html_extract(struct emit *e, const char *s, size_t n, struct buf *title, int *limited,
			int *halted);
static int iconv_decode(const char *from, const unsigned char *s, size_t n, size_t unit,
			int replace, struct buf *out, size_t *n_bad);
static const char *charset_iconv(const char *label);

/* A part's bytes in its declared charset -> valid UTF-8 without NUL in m->utf8. */
static int mail_to_utf8(struct mail_ctx *m, const char *s, size_t n, const char *charset)
{
	const char *from = *charset ? charset_iconv(charset) : NULL;
	struct utf8_stats st;
	size_t w = 0;
	int rc = RL_SKIP;

	buf_reset(&m->utf8);
	utf8_scan((const unsigned char *)s, n, &st);
	if (from)  /* even valid UTF-8: ISO-2022-JP and UTF-7 are 7-bit */
		rc = iconv_decode(from, (const unsigned char *)s, n, 1, 1, &m->utf8,
				  &m->dec->n_undecodable);
	if (rc == RL_SKIP) {  /* no charset other than UTF-8, or one iconv lacks */
		buf_reset(&m->utf8);
		rc = st.invalid ? utf8_repair((const unsigned char *)s, n, &m->utf8, &m->dec->n_invalid)
				: buf_append(&m->utf8, s, n);
	}
	for (size_t i = 0; !rc && i < m->utf8.len; i++) {
		if (m->utf8.data[i])
			m->utf8.data[w++] = m->utf8.data[i];
		else
			m->dec->n_nul++;
	}
	if (!rc && m->utf8.data) {
		m->utf8.len = w;
		m->utf8.data[w] = '\0';
	}
	return rc;
}

static int md_extract(struct emit *e, const char *s, size_t n, json_t **front);

static int mail_on_text(void *ctx, const char *s, size_t n, const char *charset,
			enum mail_kind kind)
{
	struct mail_ctx *m = ctx;
	int rc = mail_to_utf8(m, s, n, charset);

	if (rc)
		return rc;
	emit_sep(m->e, SEP_PARA);
	if (kind != MAIL_PLAIN) {  /* its own emitter: the HTML path may start a page over */
		struct emit sub;
		struct buf title;
		json_t *front = NULL;
		int limited = 0, halted = 0;
		emit_init(&sub, m->e->out.limit);
		buf_init(&title, LABEL_MAX * 8);
		if (kind == MAIL_HTML)
			rc = html_extract(&sub, m->utf8.data ? m->utf8.data : "", m->utf8.len, &title,
					  &limited, &halted);
		else
			rc = md_extract(&sub, m->utf8.data ? m->utf8.data : "", m->utf8.len, &front);
		json_decref(front);
		if (!rc)
			rc = emit_text(m->e, sub.out.data ? sub.out.data : "", sub.out.len, 1);
		*m->limited |= limited;
		*m->halted |= halted;
		buf_release(&title);
		emit_release(&sub);
	} else {
		rc = emit_text(m->e, m->utf8.data ? m->utf8.data : "", m->utf8.len, 1);
	}
	emit_sep(m->e, SEP_PARA);
	return rc ? rc : m->e->full;
}

static int mail_on_heading(void *ctx, const char *s, size_t n)
{
	struct mail_ctx *m = ctx;
	emit_heading_begin(m->e, 2);
	int rc = emit_text(m->e, s, n, 0);
	int rc2 = emit_heading_end(m->e);
	return rc ? rc : rc2 ? rc2 : m->e->full;
}

/*
 * The document properties every format names alike ("properties": title, author, created),
 * from a format's own object src (an e-mail's header fields, Markdown front matter), string
 * values only; set in meta when any is there. Returns 0 or RL_ENOMEM.
 */
static int properties_from(json_t *meta, json_t *src, const char *title, const char *author,
			   const char *created)
{
	const char *from[3] = { title, author, created }, *to[3] = { "title", "author", "created" };
	json_t *p = NULL;
	for (int i = 0; i < 3; i++) {
		json_t *v = json_is_object(src) ? json_object_get(src, from[i]) : NULL;
		if (!json_is_string(v) || !json_string_length(v))
			continue;
		if (!p && !(p = json_object()))
			return RL_ENOMEM;
		if (json_object_set(p, to[i], v)) {
			json_decref(p);
			return RL_ENOMEM;
		}
	}
	return p && json_object_set_new(meta, "properties", p) ? RL_ENOMEM : 0;
}

/* An e-mail message: the subject is the title, header fields and attachments metadata. */
static int mail_extract(struct emit *e, struct decoded *dec, struct buf *title, int *limited,
			int *halted, json_t **meta)
{
	static const struct mail_sink sink = { .text = mail_on_text, .heading = mail_on_heading };
	struct mail_ctx m = { .e = e, .dec = dec, .limited = limited, .halted = halted };
	struct mail_info info;
	int rc;

	buf_init(&m.utf8, 0);
	rc = mail_parse(dec->s, dec->n, &sink, &m, &info);
	if (rc > 0)
		rc = 0;
	if (!rc && info.subject)
		rc = buf_append(title, info.subject, strnlen(info.subject, 2 * LABEL_MAX));
	if (!rc && !(*meta = json_object()))
		rc = RL_ENOMEM;
	if (!rc && info.mime_errors)
		rc = json_object_set_new(info.mail, "mime_errors",
					 json_integer((json_int_t)info.mime_errors)) ? RL_ENOMEM : 0;
	if (!rc && json_object_set(*meta, "mail", info.mail))
		rc = RL_ENOMEM;
	if (!rc && info.attachments && json_object_set(*meta, "attachments", info.attachments))
		rc = RL_ENOMEM;
	if (!rc)
		rc = properties_from(*meta, info.mail, "subject", "from", "date");
	mail_info_release(&info);
	buf_release(&m.utf8);
	return rc;
}

/*
 * Binary when the first SNIFF_BYTES hold too many control bytes, or hold NUL bytes among
 * anything but text. A few stray NULs (or NUL padding) in otherwise clean text do not make a
 * document binary: they are dropped (and counted) like other controls. Random or compressed
 * bytes hold a NUL every 256 bytes but are far from text, so they stay binary.
 */
static int looks_binary(const unsigned char *s, size_t n, double ratio)
{
	size_t m = n < SNIFF_BYTES ? n : SNIFF_BYTES, ctrl = 0, nul = 0, text = 0;
	if (m == 0)
		return 0;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = s[i];
		nul += c == 0;
		ctrl += (c && c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' &&
			 c != '\v') || c == 0x7F;
	}
	if ((double)ctrl > ratio * (double)m)
		return 1;
	if (!nul)
		return 0;
	/* NULs: the other bytes must be printable ASCII, whitespace or valid UTF-8 */
	for (size_t i = 0; i < m;) {
		unsigned char c = s[i];
		size_t k = c < 0x80 ? 1 : utf8_seq(s + i, m - i);
		if (c >= 0x80 && !k) {
			if (m - i < 4 && m < n)
				break;  /* a sequence cut by the sample's end */
			i++;
			continue;
		}
		text += c == 0 ? 0 : (c >= 0x20 && c != 0x7F) || c == '\t' || c == '\n' ||
					     c == '\r' || c == '\f' || c == '\v' ? k : 0;
		i += k;
	}
	return m == nul || text * 100 < (m - nul) * 98;
}

/* Drops NUL bytes (stray ones in text, U+0000 decoded from UTF-16 or from a row's JSON
 * escape): libxml2 would take the first one for the end of the page, and PostgreSQL text
 * cannot hold them. */
static int drop_nuls(struct decoded *dec)
{
	const char *p = dec->n ? memchr(dec->s, 0, dec->n) : NULL;
	struct buf clean;
	size_t from = 0;
	int rc = 0;

	if (!p)
		return 0;
	buf_init(&clean, 0);
	rc = buf_reserve(&clean, dec->n);
	for (size_t i = (size_t)(p - dec->s); !rc && i < dec->n; i++) {
		if (dec->s[i])
			continue;
		rc = buf_append(&clean, dec->s + from, i - from);
		from = i + 1;
		dec->n_nul++;
	}
	if (!rc)
		rc = buf_append(&clean, dec->s + from, dec->n - from);
	if (rc) {
		buf_release(&clean);
		return rc;
	}
	buf_release(&dec->tmp);
	dec->tmp = clean;
	dec->s = clean.data ? clean.data : "";
	dec->n = clean.len;
	return 0;
}

/* BOM-less UTF-16: in ASCII-heavy text every other byte is NUL and the others almost never. */
static const char *sniff_utf16(const unsigned char *s, size_t n, const char **label)
{
	size_t m = (n < SNIFF_BYTES ? n : SNIFF_BYTES) & ~(size_t)1, pairs = m / 2;
	size_t z_even = 0, z_odd = 0;
	if (pairs < 2)
		return NULL;
	for (size_t i = 0; i < m; i += 2) {
		z_even += !s[i];
		z_odd += !s[i + 1];
	}
	if (z_odd * 10 >= pairs * 6 && z_even * 20 <= pairs) {
		*label = "utf-16le";
		return "UTF-16LE";
	}
	if (z_even * 10 >= pairs * 6 && z_odd * 20 <= pairs) {
		*label = "utf-16be";
		return "UTF-16BE";
	}
	return NULL;
}

/* A UTF-16 code unit that belongs in text: a letter, mark, number, punctuation, symbol or
 * space of an assigned code point, or a tab or line break. */
static int utf16_unit_is_text(uint32_t u)
{
	if (u == '\t' || u == '\n' || u == '\r')
		return 1;
	if (u < 0x20 || (u >= 0x7F && u < 0xA0) || (u >= 0xD800 && u <= 0xDFFF))
		return 0;
	utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)u);
	return c != UTF8PROC_CATEGORY_CN && c != UTF8PROC_CATEGORY_CC &&
	       c != UTF8PROC_CATEGORY_CS && c != UTF8PROC_CATEGORY_CO;
}

/*
 * BOM-less UTF-16 of a script other than Latin (Cyrillic, Greek, CJK...) has no NUL pattern
 * and looks binary byte by byte (0x04 is a control byte, a line break holds a NUL). Asked only
 * about such samples (ASCII text read as UTF-16 is CJK ideographs, so text that passes as
 * bytes is never second-guessed; CJK UTF-16 without one control byte stays undetected): at
 * least 98% of its code units (surrogate pairs counted whole) must be characters of text,
 * which random or compressed bytes read as UTF-16 never reach (about 70% of all 16-bit values
 * are assigned letters and symbols), and hold at least 8 distinct units (a run of one
 * repeated byte pair, 0x01 0x01..., reads as "āāā" but is no text).
 */
static const char *sniff_utf16_text(const unsigned char *s, size_t n, const char **label)
{
	size_t m = (n < SNIFF_BYTES ? n : SNIFF_BYTES) & ~(size_t)1, units = m / 2;
	size_t spread[2] = { SIZE_MAX, SIZE_MAX };
	if (units < 32)
		return NULL;
	for (int be = 0; be < 2; be++) {
		size_t text = 0, n_seen = 0, n_high = 0;
		uint32_t seen[8];
		uint8_t high[32] = { 0 };
		for (size_t i = 0; i + 1 < m; i += 2) {
			uint32_t u = be ? (uint32_t)s[i] << 8 | s[i + 1] : (uint32_t)s[i + 1] << 8 | s[i];
			size_t k = 0;
			while (k < n_seen && seen[k] != u)
				k++;
			if (k == n_seen && n_seen < RL_ARRAY_LEN(seen))
				seen[n_seen++] = u;
			if (!(high[u >> 11] & (1u << ((u >> 8) & 7)))) {
				high[u >> 11] |= (uint8_t)(1u << ((u >> 8) & 7));
				n_high++;
			}
			if (u >= 0xD800 && u <= 0xDBFF && i + 3 < m) {
				uint32_t lo = be ? (uint32_t)s[i + 2] << 8 | s[i + 3]
						 : (uint32_t)s[i + 3] << 8 | s[i + 2];
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					text += 2;
					i += 2;
					continue;
				}
			}
			text += (size_t)utf16_unit_is_text(u);
		}
		if (text * 100 >= units * 98 && n_seen == RL_ARRAY_LEN(seen))
			spread[be] = n_high;
	}
	/* Both orders may read as text (CJK swapped is often CJK or Hangul): text in one script
	 * keeps its high bytes in a few blocks, so the order with fewer distinct ones wins. */
	if (spread[0] == SIZE_MAX && spread[1] == SIZE_MAX)
		return NULL;
	if (spread[1] < spread[0]) {
		*label = "utf-16be";
		return "UTF-16BE";
	}
	*label = "utf-16le";
	return "UTF-16LE";
}

/*
 * Converts s from `from` to UTF-8 in out. A unit iconv rejects is skipped: with `replace` it
 * becomes U+FFFD and is counted in *n_bad, otherwise it vanishes (Windows-1252's five
 * undefined bytes, which WHATWG maps to C1 controls that normalize drops anyway).
 * RL_SKIP when iconv lacks the conversion.
 */
static int iconv_decode(const char *from, const unsigned char *s, size_t n, size_t unit,
			int replace, struct buf *out, size_t *n_bad)
{
	iconv_t cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		return errno == ENOMEM ? RL_ENOMEM : RL_SKIP;
	int rc = buf_reserve(out, n / unit * 4 + 16);
	char *in = (char *)s;
	size_t left = n;
	while (!rc && left) {
		char *o = out->data + out->len;
		size_t room = out->cap - out->len - 1;
		size_t r = iconv(cd, &in, &left, &o, &room);
		out->len = (size_t)(o - out->data);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			rc = buf_reserve(out, left / unit * 4 + 16);
		} else if (errno == EILSEQ || errno == EINVAL) {
			size_t skip = left < unit ? left : unit;
			in += skip;
			left -= skip;
			if (replace) {
				rc = buf_append(out, "\xEF\xBF\xBD", 3);
				(*n_bad)++;
			}
		} else {
			rc = RL_ERR;
		}
	}
	if (!rc)
		out->data[out->len] = '\0';
	iconv_close(cd);
	return rc;
}

/* ---- charsets ------------------------------------------------------------------------------
 * Bytes that are not valid UTF-8 are decoded by what they declare (an HTML <meta> or an XML
 * declaration), else by what Mozilla's detector (libuchardet) makes of them, through iconv.
 * A guess is checked before it is trusted: damaged UTF-8 (more good multibyte sequences than
 * bad runs) stays UTF-8, and a single-byte guess must read like text (below). What no charset
 * explains is repaired as UTF-8; every replacement is counted and the document warned about. */

#define CHARSET_SNIFF 4096          /* a declaration must come this early */
#define DETECT_BYTES (1u << 20)     /* uchardet sees at most this much of a document */

/* Lower-cases the charset name at s (letters, digits, "._:-"; n bytes available) into out.
 * Returns its length, 0 when there is none or it is too long. */
static size_t charset_name_copy(const char *s, size_t n, char *out)
{
	size_t k = 0;
	while (k < n && k < CHARSET_NAME_MAX - 1) {
		char c = s[k];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			break;
		out[k++] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
	}
	if (k == CHARSET_NAME_MAX - 1 && k < n && s[k] != '"' && s[k] != '\'' && s[k] != ';' &&
	    s[k] != ' ' && s[k] != '>' && s[k] != '/')
		k = 0;
	out[k] = '\0';
	return k;
}

/* The value after `key` (case-insensitive) and '=' in [s, s + n), quotes skipped: its name. */
static size_t charset_attr(const char *s, size_t n, const char *key, char *out)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl < n; i++) {
		if (strncasecmp(s + i, key, kl))
			continue;
		size_t j = i + kl;
		while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
			j++;
		if (j >= n || s[j] != '=')
			continue;
		j++;
		while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '"' || s[j] == '\''))
			j++;
		if (charset_name_copy(s + j, n - j, out))
			return 1;
	}
	return 0;
}

/*
 * The charset the document declares in its first CHARSET_SNIFF bytes: an XML declaration's
 * encoding="..." (any document that starts with one), else, in HTML, a <meta charset=...> or
 * a <meta http-equiv="Content-Type" content="...; charset=...">. 1 when found (name in out).
 */
static int charset_declared(const char *s, size_t n, int html, char *out)
{
	size_t m = n < CHARSET_SNIFF ? n : CHARSET_SNIFF, i = 0;
	while (i < m && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	if (m - i >= 5 && memcmp(s + i, "<?xml", 5) == 0) {
		const char *end = memmem(s + i, m - i, "?>", 2);
		if (end && charset_attr(s + i, (size_t)(end - s) - i, "encoding", out))
			return 1;
	}
	if (!html)
		return 0;
	for (const char *p = s; (p = memchr(p, '<', (size_t)(s + m - p)));) {
		size_t at = (size_t)(p - s);
		p++;
		if (m - at < 6 || strncasecmp(s + at + 1, "meta", 4) ||
		    !(s[at + 5] == ' ' || s[at + 5] == '\t' || s[at + 5] == '\n' || s[at + 5] == '\r'))
			continue;
		const char *gt = memchr(s + at, '>', m - at);
		size_t end = gt ? (size_t)(gt - s) : m;
		/* charset= covers both forms: the attribute and the one inside content="..." */
		if (charset_attr(s + at + 5, end - at - 5, "charset", out))
			return 1;
	}
	return 0;
}

/* What iconv is asked for a charset label (WHATWG's aliases for the common ones: Latin-1 and
 * ASCII labels mean Windows-1252, the GB and Korean labels their supersets). NULL: the label
 * means UTF-8 or UTF-16, which a <meta> cannot truly declare for bytes read this far. */
static const char *charset_iconv(const char *label)
{
	static const struct { const char *label, *iconv; } alias[] = {
		{ "iso-8859-1", "WINDOWS-1252" }, { "latin1", "WINDOWS-1252" },
		{ "l1", "WINDOWS-1252" }, { "iso8859-1", "WINDOWS-1252" },
		{ "iso_8859-1", "WINDOWS-1252" }, { "us-ascii", "WINDOWS-1252" },
		{ "ascii", "WINDOWS-1252" }, { "cp1252", "WINDOWS-1252" },
		{ "x-cp1252", "WINDOWS-1252" }, { "gb2312", "GB18030" }, { "gbk", "GB18030" },
		{ "x-gbk", "GB18030" }, { "euc-kr", "CP949" }, { "ks_c_5601-1987", "CP949" },
		{ "x-sjis", "SHIFT_JIS" }, { "sjis", "SHIFT_JIS" }, { "ms_kanji", "SHIFT_JIS" },
		{ "windows-31j", "CP932" }, { "big5", "BIG5-HKSCS" }, { "tis-620", "WINDOWS-874" },
		{ "iso-8859-11", "WINDOWS-874" }, { "iso-8859-9", "WINDOWS-1254" },
		{ "latin5", "WINDOWS-1254" }, { "x-mac-cyrillic", "MAC-CYRILLIC" },
		{ "x-mac-roman", "MACINTOSH" }, { "mac", "MACINTOSH" },
	};
	if (!strcmp(label, "utf-8") || !strcmp(label, "utf8") || !strncmp(label, "utf-16", 6) ||
	    !strncmp(label, "utf-32", 6) || !strcmp(label, "x-user-defined"))
		return NULL;
	for (size_t i = 0; i < RL_ARRAY_LEN(alias); i++)
		if (!strcmp(label, alias[i].label))
			return alias[i].iconv;
	return label; /* glibc's iconv knows the rest by these names, case aside */
}

/* The metadata label for the conversion used: what iconv was asked, lower case. */
static const char *charset_label(const char *iconv_name, char *buf)
{
	size_t k = 0;
	for (; iconv_name[k] && k < CHARSET_NAME_MAX - 1; k++)
		buf[k] = (char)(iconv_name[k] >= 'A' && iconv_name[k] <= 'Z' ? iconv_name[k] | 0x20
									     : iconv_name[k]);
	buf[k] = '\0';
	return buf;
}

/* Mozilla's detector over (at most DETECT_BYTES of) s: a lower-case name in out, 0 when it
 * has no answer. */
static int charset_detect(const char *s, size_t n, char *out)
{
	uchardet_t ud = uchardet_new();
	int found = 0;
	if (!ud)
		return 0;
	if (uchardet_handle_data(ud, s, n < DETECT_BYTES ? n : DETECT_BYTES) == 0) {
		uchardet_data_end(ud);
		const char *cs = uchardet_get_charset(ud);
		found = cs && charset_name_copy(cs, strlen(cs), out) > 0;
	}
	uchardet_delete(ud);
	return found;
}

static int charset_multibyte(const char *label)
{
	static const char *const prefixes[] = { "shift_jis", "sjis", "cp932", "euc-", "gb", "big5",
						"iso-2022", "cp949", "uhc", "hz" };
	for (size_t i = 0; i < RL_ARRAY_LEN(prefixes); i++)
		if (!strncmp(label, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

/* Single-byte charsets of Latin script, where words mix ASCII and accented letters. */
static int charset_latin(const char *label)
{
	static const char *const latin[] = {
		"windows-1252", "iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4",
		"iso-8859-9", "iso-8859-10", "iso-8859-13", "iso-8859-14", "iso-8859-15",
		"iso-8859-16", "windows-1250", "windows-1254", "windows-1257", "windows-1258",
		"mac-centraleurope", "macintosh", "ibm850", "ibm852",
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(latin); i++)
		if (!strcmp(label, latin[i]))
			return 1;
	return 0;
}

static int ascii_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * Reads Latin legacy text like text: its accented letters sit inside words, next to ASCII
 * letters ("Gemäß", "Größe"), or stand alone as one byte ("à", "§", "€"). Damaged UTF-8 and
 * other garbage hold runs of high bytes between blanks ("\xff\xfe\xc3 "). At most one run in
 * eight may look like that.
 */
static int latin_plausible(const unsigned char *s, size_t n)
{
	size_t runs = 0, odd = 0;
	for (size_t i = 0; i < n;) {
		i += ascii_span(s + i, n - i);
		if (i >= n)
			break;
		size_t a = i;
		while (i < n && s[i] >= 0x80)
			i++;
		runs++;
		if (i - a > 1 && !(a > 0 && ascii_alnum(s[a - 1])) && !(i < n && ascii_alnum(s[i])))
			odd++;
	}
	return odd * 8 <= runs;
}

/* Text of another script decoded from single bytes: at least 90% of the non-ASCII characters
 * are letters or marks (random bytes read as Windows-1251 are about 75% letters). */
static int letters_plausible(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t all = 0, letters = 0;
	for (size_t i = 0; i < n;) {
		i += ascii_span(s + i, n - i);
		if (i >= n)
			break;
		size_t k = utf8_seq(s + i, n - i);
		if (!k) {
			i++;
			continue;
		}
		utf8proc_category_t c = utf8proc_category(utf8_cp(s + i, k));
		all++;
		letters += c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME;
		i += k;
	}
	return letters * 10 >= all * 9;
}

/*
 * Decodes s as `label` (iconv name) into dec. check: a guess, verified (above) and dropped
 * when implausible. Returns 0 (decoded), 1 (not used: unknown to iconv or implausible),
 * negative on error. Windows-1252's five undefined bytes vanish (WHATWG maps them to C1
 * controls, which normalize drops anyway); anything else iconv rejects becomes U+FFFD.
 */
static int charset_decode(const char *name, const unsigned char *s, size_t n, int check,
			  struct decoded *dec)
{
	char label[CHARSET_NAME_MAX];
	size_t bad = 0;
	charset_label(name, label);
	int single = !charset_multibyte(label);
	if (check && single && charset_latin(label) && !latin_plausible(s, n))
		return 1;
	buf_reset(&dec->tmp);
	int rc = iconv_decode(name, s, n, 1, strcmp(label, "windows-1252") != 0, &dec->tmp, &bad);
	if (rc < 0)
		return rc;
	if (rc == RL_SKIP ||
	    (check && single && !charset_latin(label) &&
	     !letters_plausible(dec->tmp.data ? dec->tmp.data : "", dec->tmp.len))) {
		buf_reset(&dec->tmp);
		return 1;
	}
	memcpy(dec->label, label, sizeof(label));
	dec->encoding = dec->label;
	dec->n_undecodable = bad;
	dec->s = dec->tmp.data ? dec->tmp.data : "";
	dec->n = dec->tmp.len;
	return 0;
}

/*
 * Bytes that are not valid UTF-8: damaged UTF-8 stays UTF-8; else the declared charset, else
 * the detected one, else (no answer, or an implausible one) UTF-8 with each invalid byte
 * replaced. A declaration whose decoding needs replacements gives way to a detection that
 * needs none.
 */
static int decode_legacy(const struct read_item *it, const unsigned char *s, size_t n,
			 const struct utf8_stats *st, struct decoded *dec)
{
	char declared[CHARSET_NAME_MAX], detected[CHARSET_NAME_MAX];
	const char *name;
	int rc;

	if (st->multibyte < 2 * st->runs) {
		if (charset_declared((const char *)s, n, format_of(it->name) == FMT_HTML,
				     declared) && (name = charset_iconv(declared))) {
			rc = charset_decode(name, s, n, 0, dec);
			if (rc <= 0 && !dec->n_undecodable) {
				dec->enc_source = "declared";
				return rc;
			}
			if (rc == 0) { /* keep it unless a detection does better */
				size_t bad = dec->n_undecodable;
				struct buf keep = dec->tmp;
				buf_init(&dec->tmp, 0);
				if (charset_detect((const char *)s, n, detected) &&
				    (name = charset_iconv(detected)) &&
				    charset_decode(name, s, n, 1, dec) == 0 && !dec->n_undecodable) {
					buf_release(&keep);
					dec->enc_source = "detected";
					return 0;
				}
				buf_release(&dec->tmp);
				dec->tmp = keep;
				charset_label(charset_iconv(declared), dec->label);
				dec->encoding = dec->label;
				dec->n_undecodable = bad;
				dec->s = dec->tmp.data ? dec->tmp.data : "";
				dec->n = dec->tmp.len;
				dec->enc_source = "declared";
				return 0;
			}
		}
		if (charset_detect((const char *)s, n, detected) && (name = charset_iconv(detected))) {
			rc = charset_decode(name, s, n, 1, dec);
			if (rc <= 0) {
				dec->enc_source = "detected";
				return rc;
			}
		} else if (st->single_runs * 5 >= st->runs * 4 && st->multibyte * 4 <= st->runs) {
			/* no answer: lone high bytes between ASCII are the mark of 8-bit text */
			rc = charset_decode("WINDOWS-1252", s, n, 1, dec);
			if (rc <= 0) {
				dec->enc_source = "detected";
				return rc;
			}
		}
	}
	buf_reset(&dec->tmp);
	rc = utf8_repair(s, n, &dec->tmp, &dec->n_invalid);
	dec->encoding = "utf-8";
	dec->s = dec->tmp.data ? dec->tmp.data : "";
	dec->n = dec->tmp.len;
	return rc;
}

/* Decodes a READ_FILE entry to valid UTF-8, or RL_SKIP with dec->reason. */
static int decode_file(const struct normalize_opts *o, const struct read_item *it,
		       struct decoded *dec)
{
	const unsigned char *s = (const unsigned char *)(it->data ? it->data : "");
	size_t n = it->data ? it->len : 0, unit = 0;
	double ratio = o->max_binary_ratio > 0 && o->max_binary_ratio <= 1 ? o->max_binary_ratio
									   : DEFAULT_BINARY_RATIO;
	const char *from = NULL, *label = NULL;
	struct utf8_stats st;
	int rc, sniffed = 0;

	static const struct {
		const char *bom, *from, *label;
		size_t unit;  /* also the BOM's length */
	} boms[] = {
		{ "\xFF\xFE\0\0", "UTF-32LE", "utf-32le", 4 },
		{ "\0\0\xFE\xFF", "UTF-32BE", "utf-32be", 4 },
		{ "\xFF\xFE", "UTF-16LE", "utf-16le", 2 },
		{ "\xFE\xFF", "UTF-16BE", "utf-16be", 2 },
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(boms) && !from; i++) {
		if (n >= boms[i].unit && memcmp(s, boms[i].bom, boms[i].unit) == 0) {
			from = boms[i].from;
			label = boms[i].label;
			unit = boms[i].unit;
		}
	}
	if (from) {
		s += unit;
		n -= unit;
	} else if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		n -= 3;
	} else if ((from = sniff_utf16(s, n, &label))) {
		unit = 2;
		sniffed = 1;
	} else if (looks_binary(s, n, ratio) && (from = sniff_utf16_text(s, n, &label))) {
		unit = 2;
		sniffed = 1;
	}

	if (from) {
		rc = iconv_decode(from, s, n, unit, 1, &dec->tmp, &dec->n_undecodable);
		if (rc == RL_SKIP)
			dec->reason = "encoding";
		if (rc)
			return rc;
		dec->encoding = label;
		dec->unit = unit;
		dec->enc_source = sniffed ? "detected" : "bom";
		dec->s = dec->tmp.data ? dec->tmp.data : "";
		dec->n = dec->tmp.len;
		if (looks_binary((const unsigned char *)dec->s, dec->n, ratio)) {
			dec->reason = "binary";
			return RL_SKIP;
		}
		return 0;
	}
	if (looks_binary(s, n, ratio)) {
		dec->reason = "binary";
		return RL_SKIP;
	}
	utf8_scan(s, n, &st);
	if (!st.invalid) {
		dec->s = (const char *)s;
		dec->n = n;
		return 0;
	}
	return decode_legacy(it, s, n, &st, dec);
}

/* A collection row: title + "\n\n" + text (the BEIR convention), repaired if need be. */
static int decode_row(const struct read_item *it, struct decoded *dec)
{
	size_t tn = it->title ? strlen(it->title) : 0;
	struct utf8_stats st;
	int rc = 0;
	if (tn) {
		rc = buf_reserve(&dec->tmp, tn + 2 + it->len);
		if (!rc)
			rc = buf_append(&dec->tmp, it->title, tn);
		if (!rc)
			rc = buf_append(&dec->tmp, "\n\n", 2);
		if (!rc)
			rc = buf_append(&dec->tmp, it->data, it->len);
		if (rc)
			return rc;
		dec->s = dec->tmp.data;
		dec->n = dec->tmp.len;
	} else {
		dec->s = it->data ? it->data : "";
		dec->n = it->data ? it->len : 0;
	}
	utf8_scan((const unsigned char *)dec->s, dec->n, &st);
	if (!st.invalid)
		return 0;
	struct buf fixed;
	buf_init(&fixed, 0);
	rc = utf8_repair((const unsigned char *)dec->s, dec->n, &fixed, &dec->n_invalid);
	buf_release(&dec->tmp);
	dec->tmp = fixed;
	dec->s = fixed.data ? fixed.data : "";
	dec->n = fixed.len;
	return rc;
}

/* ---- finishing --------------------------------------------------------------------------- */

/* A one-line label (title, heading): any bytes in, tidy NFC text of at most LABEL_MAX bytes
 * out, NULL when nothing visible is left (*out) . */
static int tidy_label(const char *s, size_t n, struct nfc_scratch *sc, char **out)
{
	struct buf fixed, t;
	struct emit e;
	struct utf8_stats st;
	size_t bad = 0;
	int rc = 0;
	*out = NULL;
	buf_init(&fixed, 0);
	buf_init(&t, 0);
	emit_init(&e, 4 * (size_t)LABEL_MAX + 64);
	if (n > 2 * LABEL_MAX)
		n = 2 * LABEL_MAX; /* bytes beyond cannot survive the cut below */
	utf8_scan((const unsigned char *)s, n, &st);
	if (st.invalid) {
		rc = utf8_repair((const unsigned char *)s, n, &fixed, &bad);
		if (rc)
			goto out;
		s = fixed.data;
		n = fixed.len;
	}
	rc = emit_text(&e, s, n, 0);
	if (rc || !e.out.len)
		goto out;
	rc = nfc_append(e.out.data, e.out.len, &t, sc);
	if (rc || !t.len)
		goto out;
	t.len = utf8_floor(t.data, t.len > LABEL_MAX ? LABEL_MAX : t.len);
	*out = xstrndup(t.data, t.len);
	if (!*out)
		rc = RL_ENOMEM;
out:
	buf_release(&fixed);
	buf_release(&t);
	emit_release(&e);
	return rc;
}

/* Where to cut text of more than max bytes: the last paragraph break in the second half of
 * the limit, else the last space there, else a character boundary. Returns the new length. */
static size_t cut_point(const char *s, size_t max)
{
	const char *p = memrchr(s + max / 2, '\n', max - max / 2 + 1);
	if (p) {
		while (p > s && p[-1] == '\n')
			p--;
		return (size_t)(p - s);
	}
	p = memrchr(s + max / 2, ' ', max - max / 2 + 1);
	if (p)
		return (size_t)(p - s);
	/* no blank in reach: a character boundary, which may follow a separator */
	size_t cut = utf8_floor(s, max);
	while (cut > 0 && (s[cut - 1] == ' ' || s[cut - 1] == '\n'))
		cut--;
	return cut;
}

struct result {
	struct buf text;
	struct heading *h;
	size_t n_h;
	struct span *code;  /* code blocks, offsets into text */
	size_t n_code;
	struct page_mark *pg;  /* pages or slides, offsets into text */
	size_t n_pg;
	int truncated;
	int html_limited;  /* HTML too deep or too broken: its rest was stripped linearly */
	size_t full_len;   /* length before the cut */
};

/*
 * NFC over the emitter's text, cut at max_doc_bytes, headings remapped onto the final text.
 * NFC runs piecewise between heading boundaries so their new offsets are known exactly; the
 * emitter's ranges are rewritten in place to final offsets.
 */
static int finish_text(const struct normalize_opts *o, struct emit *e, struct nfc_scratch *sc,
		       struct result *r)
{
	size_t prev = 0, max = o->max_doc_bytes && o->max_doc_bytes < SIZE_MAX
					? (size_t)o->max_doc_bytes : SIZE_MAX;
	int rc = 0;
	if (e->h_level) /* cut off inside a heading: it ends where the text does */
		rc = emit_heading_end(e);
	if (rc)
		return rc;
	if (!e->nfc) { /* already NFC (ASCII and inert characters only): no copy */
		r->text = e->out;
		buf_init(&e->out, 0);
		goto cut;
	}
	buf_init(&r->text, e->out.len <= (SIZE_MAX - 64) / 3 ? 3 * e->out.len + 64 : SIZE_MAX);
	rc = buf_reserve(&r->text, e->out.len + e->out.len / 8);
	/* headings and code blocks are disjoint: walk both in text order, with the page marks
	 * (points, at most at a range's start) */
	for (size_t i = 0, k = 0, g = 0; !rc && (i < e->n_h || k < e->n_code || g < e->n_pg);) {
		size_t *a, *b;
		size_t hs = i < e->n_h ? e->h[i].start : SIZE_MAX;
		size_t cs = k < e->n_code ? e->code[k].start : SIZE_MAX;
		if (g < e->n_pg && e->pg[g].offset <= hs && e->pg[g].offset <= cs) {
			size_t off = e->pg[g].offset;
			rc = nfc_append(e->out.data + prev, off - prev, &r->text, sc);
			e->pg[g++].offset = r->text.len;
			prev = off;
			continue;
		}
		if (k >= e->n_code || (i < e->n_h && e->h[i].start < e->code[k].start)) {
			a = &e->h[i].start;
			b = &e->h[i++].end;
		} else {
			a = &e->code[k].start;
			b = &e->code[k++].end;
		}
		rc = nfc_append(e->out.data + prev, *a - prev, &r->text, sc);
		size_t start = r->text.len;
		if (!rc)
			rc = nfc_append(e->out.data + *a, *b - *a, &r->text, sc);
		prev = *b;
		*a = start;
		*b = r->text.len;
	}
	if (!rc)
		rc = nfc_append(e->out.data ? e->out.data + prev : "", e->out.len - prev, &r->text,
				sc);
	if (rc)
		return rc;
cut:
	r->full_len = r->text.len;
	if (e->full || r->text.len > max) {
		r->truncated = 1;
		if (r->text.len > max)
			r->text.len = cut_point(r->text.data, max);
	}
	/* no trailing blank: a cut in a code block's indentation or blank lines, or a code
	 * block whose last lines held nothing visible once decoded (found by fuzz_normalize) */
	while (r->text.len && (r->text.data[r->text.len - 1] == ' ' ||
			       r->text.data[r->text.len - 1] == '\n'))
		r->text.len--;
	/* nor a leading one: a code block whose first lines held nothing visible once decoded
	 * (found by fuzz_normalize); the ranges below move with the text */
	size_t lead = 0;
	while (lead < r->text.len && (r->text.data[lead] == ' ' || r->text.data[lead] == '\n'))
		lead++;
	if (lead) {
		memmove(r->text.data, r->text.data + lead, r->text.len - lead);
		r->text.len -= lead;
	}
	if (r->text.data)
		r->text.data[r->text.len] = '\0';
#define SHIFT(x) ((x) > lead ? (x) - lead : 0)
	if (e->n_h && !(r->h = calloc(e->n_h, sizeof(*r->h))))
		return RL_ENOMEM;
	for (size_t i = 0; i < e->n_h && SHIFT(e->h[i].start) < r->text.len; i++) {
		size_t start = SHIFT(e->h[i].start), end = SHIFT(e->h[i].end);
		size_t len = (end < r->text.len ? end : r->text.len) - start;
		if (len > LABEL_MAX)
			len = utf8_floor(r->text.data + start, LABEL_MAX);
		r->h[r->n_h].offset = start;
		r->h[r->n_h].level = e->h[i].level;
		if (!(r->h[r->n_h].text = xstrndup(r->text.data + start, len)))
			return RL_ENOMEM;
		r->n_h++;
	}
	for (size_t i = 0; i < e->n_code && SHIFT(e->code[i].start) < r->text.len; i++) {
		struct span sp = { SHIFT(e->code[i].start), SHIFT(e->code[i].end) };
		if (sp.end > r->text.len)
			sp.end = r->text.len;
		if (sp.end > sp.start)
			e->code[r->n_code++] = sp; /* in place: i >= r->n_code */
	}
#undef SHIFT
	if (r->n_code) {
		r->code = e->code;
		e->code = NULL;
		e->n_code = e->cap_code = 0;
	}
	for (size_t i = 0; i < e->n_pg && e->pg[i].offset < r->text.len; i++)
		e->pg[r->n_pg++] = e->pg[i]; /* in place: i >= r->n_pg */
	if (r->n_pg) {
		r->pg = e->pg;
		e->pg = NULL;
		e->n_pg = e->cap_pg = 0;
	}
	/* The text buffer grew by doubling; the doc may wait in a queue for a while. */
	if (r->text.data && r->text.cap > r->text.len + 1) {
		char *p = realloc(r->text.data, r->text.len + 1);
		if (p) {
			r->text.data = p;
			r->text.cap = r->text.len + 1;
		}
	}
	return 0;
}

static void result_release(struct result *r)
{
	buf_release(&r->text);
	for (size_t i = 0; i < r->n_h; i++)
		free(r->h[i].text);
	free(r->h);
	free(r->code);
	free(r->pg);
}

static int json_set(json_t *m, const char *key, json_t *v)
{
	return v && json_object_set_new(m, key, v) == 0 ? 0 : RL_ENOMEM;
}

/* The row's metadata object (when any) with our keys set over it; a fresh object otherwise. */
static int build_metadata(const struct read_item *it, enum fmt f, const char *title,
			  json_t *front, json_t *extra, const struct decoded *dec,
			  const struct result *r, char **out)
{
	json_t *m = NULL;
	int rc = 0;
	if (it->metadata_json) {
		json_error_t err;
		m = json_loads(it->metadata_json, JSON_ALLOW_NUL, &err);
		if (m && !json_is_object(m)) {
			json_decref(m);
			m = NULL;
		}
	}
	if (!m && !(m = json_object()))
		return RL_ENOMEM;
	rc = json_set(m, "format", json_string(fmt_name[f]));
	if (!rc && title)
		rc = json_set(m, "title", json_string(title));
	if (!rc && front)
		rc = json_set(m, "front_matter", json_incref(front));
	if (!rc && extra && json_object_update(m, extra))
		rc = RL_ENOMEM;
	if (!rc && dec->encoding)
		rc = json_set(m, "encoding", json_string(dec->encoding));
	if (!rc && dec->enc_source)
		rc = json_set(m, "encoding_source", json_string(dec->enc_source));
	if (!rc && dec->n_invalid)
		rc = json_set(m, "invalid_utf8", json_integer((json_int_t)dec->n_invalid));
	if (!rc && dec->n_undecodable)
		rc = json_set(m, "undecodable", json_integer((json_int_t)dec->n_undecodable));
	if (!rc && dec->n_nul)
		rc = json_set(m, "nul_bytes", json_integer((json_int_t)dec->n_nul));
	if (!rc && r->html_limited)
		rc = json_set(m, "html_fallback", json_true());
	if (!rc && r->truncated)
		rc = json_set(m, "truncated", json_true());
	if (rc)
		goto out;
	size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
	size_t need = json_dumpb(m, NULL, 0, flags);
	if (!need || !(*out = malloc(need + 1))) {
		rc = RL_ENOMEM;
		goto out;
	}
	json_dumpb(m, *out, need, flags);
	(*out)[need] = '\0';
out:
	json_decref(m);
	return rc;
}

/*
 * A manual page (dec: its decoded roff) formatted by mandoc into html: 0, RL_ENOMEM, or 1
 * when it is to load as its roff source (mandoc missing: said once per process; mandoc
 * failed on it: a counted warning, "man_unformatted").
 */
static int man_page(struct counts *c, const struct read_item *it, const struct decoded *dec,
		    struct buf *html)
{
	static atomic_int told;
	char why[160];
	int missing = 0;
	int rc = man_to_html(dec->s, dec->n, MAN_SECONDS, html, &missing, why, sizeof(why));

	if (rc == RL_ENOMEM)
		return rc;
	if (!rc)
		return 0;
	buf_reset(html);
	if (missing) {
		if (!atomic_exchange(&told, 1))
			log_warn("mandoc is not installed: manual pages load as their roff source "
				 "(apt-get install mandoc)");
	} else {
		counts_skip(c, "man_unformatted", it->source, "man: %s; loaded as its roff source",
			    why);
	}
	return 1;
}

static size_t emit_limit(const struct normalize_opts *o, size_t in_len);

/* pandoc's HTML of a document into html: 0, RL_ENOMEM, or 1 when it could not (without
 * pandoc: one warning a run; else counted), the document then loading as its source (RTF,
 * whose source is control words: skipped, and counted) */
static int pandoc_page(struct counts *c, const struct read_item *it, const char *from,
		       const struct decoded *dec, struct buf *html)
{
	static atomic_int told;
	char why[200];
	int missing = 0;
	int rc = pandoc_to_html(from, dec->s, dec->n, PANDOC_SECONDS, html, &missing, why,
				sizeof(why));
	if (rc == RL_ENOMEM)
		return rc;
	if (!rc)
		return 0;
	buf_reset(html);
	int rtf = !strcmp(from, "rtf");
	if (missing) {
		if (!atomic_exchange(&told, 1))
			log_warn("pandoc is not installed: LaTeX, notebooks, Org, MediaWiki and "
				 "Textile load as their source, RTF is skipped (apt-get install "
				 "pandoc)");
		if (rtf)
			counts_skip(c, "pandoc_missing", it->source, "rtf: pandoc is not installed");
	} else {
		counts_skip(c, "pandoc_unread", it->source, "%s; %s", why,
			    rtf ? "skipped" : "loaded as its source");
	}
	return 1;
}

/* A name that says XML: .xml, .dbk, .docbook, also compressed (guide.xml.gz). */
static int xml_name(const char *name)
{
	return name_has_ext(name, ".xml") || name_has_ext(name, ".dbk") ||
	       name_has_ext(name, ".docbook");
}

/* DocBook to HTML into html: 0, RL_ENOMEM, or 1 when the XML gave no text (counted; the
 * document loads as its source, markup and all) */
static int docbook_page(const struct normalize_opts *o, struct counts *c,
			const struct read_item *it, const struct decoded *dec, struct buf *html,
			char *title, size_t tn)
{
	char why[200];
	int cut = 0;
	size_t max = emit_limit(o, dec->n);
	int rc = docbook_to_html(dec->s, dec->n, max, html, title, tn, &cut, why, sizeof(why));
	if (rc == RL_ENOMEM)
		return rc;
	if (!rc)
		return 0;
	buf_reset(html);
	counts_skip(c, "docbook_unread", it->source, "docbook: %s; loaded as its XML source", why);
	return 1;
}

static enum fmt format_of(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	if (!dot)
		return FMT_TEXT;
	if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm") || !strcasecmp(dot, ".xhtml"))
		return FMT_HTML;
	if (!strcasecmp(dot, ".md") || !strcasecmp(dot, ".markdown"))
		return FMT_MARKDOWN;
	return FMT_TEXT;
}

/* The emitter's hard limit: far enough past max_doc_bytes that NFC (which shrinks text at
 * most threefold, Hangul jamo) cannot bring it back under the limit, so the cut stays exact. */
static size_t emit_limit(const struct normalize_opts *o, size_t in_len)
{
	size_t cap = in_len <= (SIZE_MAX - 4096) / 4 ? 4 * in_len + 4096 : SIZE_MAX;
	if (o->max_doc_bytes && o->max_doc_bytes <= (SIZE_MAX - 4096) / 4 &&
	    4 * o->max_doc_bytes + 4096 < cap)
		cap = 4 * (size_t)o->max_doc_bytes + 4096;
	return cap;
}

/* Names that promise an archive or a compressed file, including formats ragload lacks. */
static int name_promises_archive(const char *name)
{
	static const char *const suffixes[] = {
		".tar", ".tgz", ".tzst", ".txz", ".tbz", ".tbz2", ".zip", ".7z", ".cpio", ".gz",
		".zst", ".xz", ".bz2", ".lz", ".lzo", ".lrz", ".rar", ".cab", ".iso", ".xar", ".lha",
		".lzh", ".arj", ".br", ".lz4", ".lzma", ".z", ".tlz", ".rpm", ".deb", ".ar", ".zipx",
	};
	size_t n = name ? strlen(name) : 0;
	for (size_t i = 0; i < RL_ARRAY_LEN(suffixes); i++) {
		size_t m = strlen(suffixes[i]);
		if (n > m && strcasecmp(name + n - m, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

/* Names of the office and e-book packages office.c reads. */
static int name_promises_document(const char *name)
{
	static const char *const suffixes[] = { ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp",
						".epub" };
	size_t n = name ? strlen(name) : 0;
	for (size_t i = 0; i < RL_ARRAY_LEN(suffixes); i++) {
		size_t m = strlen(suffixes[i]);
		if (n > m && strcasecmp(name + n - m, suffixes[i]) == 0)
			return 1;
	}
	return 0;
}

/* The magic number of a format the read stage reads, at the start of p (tar's further in). */
static const char *format_magic(const unsigned char *p, size_t n)
{
	static const struct { const char *magic; size_t len; const char *name; } m[] = {
		{ "\x1f\x8b", 2, "gzip" }, { "BZh", 3, "bzip2" }, { "\xfd" "7zXZ", 5, "xz" },
		{ "\x28\xb5\x2f\xfd", 4, "zstd" }, { "PK\x03\x04", 4, "zip" },
		{ "PK\x05\x06", 4, "zip" }, { "7z\xbc\xaf\x27\x1c", 6, "7z" },
		{ "\x04\x22\x4d\x18", 4, "lz4" }, { "LZIP", 4, "lzip" }, { "Rar!\x1a\x07", 6, "rar" },
		{ "xar!", 4, "xar" }, { "!<arch>\n", 8, "ar" },
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(m); i++)
		if (n >= m[i].len && memcmp(p, m[i].magic, m[i].len) == 0)
			return m[i].name;
	if (n >= 262 && memcmp(p + 257, "ustar", 5) == 0)
		return "tar";
	return NULL;
}

/*
 * Counts an entry that cannot be decoded. Binary content under a name that promises an
 * archive is what the read stage could not open: named for what it is (an archive ragload
 * cannot read, or one whose header is damaged), not just "binary".
 */
static void skip_undecodable(const struct read_item *it, const struct decoded *dec,
			     struct counts *c)
{
	const unsigned char *p = (const unsigned char *)(it->data ? it->data : "");
	const char *magic;

	if (strcmp(dec->reason, "binary")) {
		counts_skip(c, dec->reason, it->source, "undecodable text encoding");
	} else if (name_promises_document(it->name)) {
		counts_skip(c, "corrupt_document", it->source,
			    "named like an office document or e-book, but not a package ragload can open");
	} else if (!name_promises_archive(it->name)) {
		counts_skip(c, "binary", it->source, "binary content (NUL or control bytes)");
	} else if ((magic = format_magic(p, it->len))) {
		counts_skip(c, "corrupt_archive", it->source,
			    "starts like %s but could not be read as it (damaged or truncated)",
			    magic);
	} else {
		counts_skip(c, "unsupported_format", it->source,
			    "named like an archive or compressed file, but not a format ragload reads");
	}
}

/* ---- public ---------------------------------------------------------------------------------- */

int normalize_item(const struct normalize_opts *o, const struct read_item *it, struct doc **out,
		   struct counts *c)
{
	enum fmt f = it->kind == READ_ROW ? FMT_TEXT
		   : it->type && !strcmp(it->type, "eml") ? FMT_MAIL : format_of(it->name);
	struct decoded dec = { 0 };
	struct nfc_scratch sc = { 0 };
	struct result r = { 0 };
	struct emit e;
	struct buf raw_title;
	struct doc *d = NULL;
	char *title = NULL, *meta = NULL;
	json_t *front = NULL;  /* Markdown front matter */
	struct office_info info = { 0 };
	struct pdf_info pinfo = { 0 };
	struct buf man_html;   /* a manual page as mandoc formats it */
	size_t info_nodes = 0; /* an Info file's nodes with text */
	json_t *extra = NULL;  /* a format's own metadata (e-mail: "mail", "attachments") */
	json_t *html_props = NULL;  /* an HTML page's <meta> properties */
	int rc, halted = 0;

	*out = NULL;
	pthread_once(&init_once, normalize_init);
	buf_init(&dec.tmp, 0);
	buf_init(&raw_title, LABEL_MAX * 8);
	buf_init(&man_html, 0);
	emit_init(&e, 0);

	if (it->kind == READ_FILE && it->type && !strcmp(it->type, "pdf")) {
		/* a PDF: read by a worker process (pdf.c); its text is UTF-8 by construction */
		emit_release(&e);
		emit_init(&e, emit_limit(o, SIZE_MAX / 8));
		rc = pdf_extract(o, &e, it, &pinfo);
		if (rc == RL_SKIP) {
			counts_skip(c, pinfo.reason, it->source, "pdf: %s", pinfo.message);
			goto out;
		}
		info.page_unit = "pages";
		json_t *t = pinfo.properties ? json_object_get(pinfo.properties, "title") : NULL;
		if (!rc && json_is_string(t))
			rc = buf_append(&raw_title, json_string_value(t),
					strnlen(json_string_value(t), 2 * LABEL_MAX));
		if (!rc)
			rc = finish_text(o, &e, &sc, &r);
		if (!rc && !(extra = json_object()))
			rc = RL_ENOMEM;
		if (!rc)
			rc = json_set(extra, "format", json_string("pdf"));
		if (!rc && pinfo.properties)
			rc = json_set(extra, "properties", json_incref(pinfo.properties));
		if (!rc && pinfo.no_text_pages)
			rc = json_set(extra, "pages_without_text", json_integer(pinfo.no_text_pages));
		if (!rc && pinfo.failed_pages)
			rc = json_set(extra, "unreadable_pages", json_integer(pinfo.failed_pages));
		if (!rc && pinfo.ocr_pages)
			rc = json_set(extra, "ocr_pages", json_integer(pinfo.ocr_pages));
		if (!rc && pinfo.toc_pages)
			rc = json_set(extra, "toc_pages_dropped", json_integer(pinfo.toc_pages));
		if (!rc && pinfo.repaired)
			rc = json_set(extra, "repaired", json_true());
		if (rc)
			goto out;
		if (pinfo.no_text_pages && !r.text.len) {
			counts_skip(c, "no_text_layer", it->source,
				    "pdf: none of its %d pages has a text layer (scanned?)%s; not read",
				    pinfo.pages, o->ocr ? " and OCR found no text" : "");
			rc = RL_SKIP;
			goto out;
		}
		if (pinfo.no_text_pages)
			counts_skip(c, "no_text_layer", it->source,
				    "pdf: %d of its %d pages have no text layer (scanned?); their text is "
				    "not read%s", pinfo.no_text_pages, pinfo.pages,
				    o->ocr ? " (OCR found none)" : " ([documents] ocr is off)");
		if (pinfo.failed_pages)
			counts_skip(c, "unreadable_pages", it->source,
				    "pdf: %d of its %d pages could not be read; the others loaded",
				    pinfo.failed_pages, pinfo.pages);
		if (pinfo.truncated && !r.truncated) {
			counts_skip(c, "truncated_doc", it->source,
				    "pdf: text cut after %zu bytes (max_doc_bytes = %llu)", r.text.len,
				    (unsigned long long)o->max_doc_bytes);
			r.truncated = 1;
		}
		goto extracted;
	}
	if (it->kind == READ_FILE && it->type && f != FMT_MAIL && strcmp(it->type, "rtf")) {
		/* an office document or e-book: its package's XML says its own encoding */
		emit_release(&e);
		emit_init(&e, emit_limit(o, OFFICE_TOTAL_MAX));
		rc = office_extract(&e, it, &info, &r.html_limited, &halted);
		if (rc == RL_SKIP) {
			counts_skip(c, info.reason, it->source, "%s: %s", it->type, info.message);
			goto out;
		}
		json_t *t = info.properties ? json_object_get(info.properties, "title") : NULL;
		if (!rc && json_is_string(t))
			rc = buf_append(&raw_title, json_string_value(t),
					strnlen(json_string_value(t), 2 * LABEL_MAX));
		if (!rc)
			rc = finish_text(o, &e, &sc, &r);
		/* its own metadata; its "format" is its type (over fmt_name's "text") */
		if (!rc && !(extra = json_object()))
			rc = RL_ENOMEM;
		if (!rc)
			rc = json_set(extra, "format", json_string(it->type));
		if (!rc && info.properties)
			rc = json_set(extra, "properties", json_incref(info.properties));
		if (!rc && info.truncated_sheets)
			rc = json_set(extra, "truncated_sheets", json_integer(info.truncated_sheets));
		if (rc)
			goto out;
		goto extracted;
	}
	if (f == FMT_MAIL) {  /* 7-bit by rule: each part is decoded by its own charset */
		dec.s = it->data ? it->data : "";
		dec.n = it->data ? it->len : 0;
		rc = 0;
	} else {
		rc = it->kind == READ_ROW ? decode_row(it, &dec) : decode_file(o, it, &dec);
	}
	if (rc == 0)
		rc = drop_nuls(&dec);
	if (rc == RL_SKIP) {
		skip_undecodable(it, &dec, c);
		goto out;
	}
	if (rc)
		goto out;

	if (f == FMT_TEXT && it->kind == READ_FILE && !it->type) {
		/* DocBook XML and Mallard pages: made HTML (docbook.c), read as any page */
		int db = docbook_detect(dec.s, dec.n);
		if (db >= 2 || (db == 1 && xml_name(it->name))) {
			char dtitle[256];
			if ((rc = docbook_page(o, c, it, &dec, &man_html, dtitle, sizeof(dtitle))) < 0)
				goto out;
			if (!rc) {
				f = FMT_HTML;
				dec.s = man_html.data;
				dec.n = man_html.len;
				if (dtitle[0] && (rc = buf_append(&raw_title, dtitle, strlen(dtitle))))
					goto out;
				if (!(extra = json_object()) ||
				    json_set(extra, "format",
					     json_string(db == 3 ? "mallard" : "docbook"))) {
					rc = RL_ENOMEM;
					goto out;
				}
			}
			rc = 0;
		}
	}
	const char *from = it->kind != READ_FILE ? NULL
			 : it->type ? (!strcmp(it->type, "rtf") ? "rtf" : NULL)
				    : pandoc_reader(it->name);
	if (f == FMT_TEXT && from) {
		/* LaTeX, a notebook, Org, RTF...: pandoc makes it HTML, read as any page */
		if ((rc = pandoc_page(c, it, from, &dec, &man_html)) < 0)
			goto out;
		if (rc && !strcmp(from, "rtf")) {  /* its source is control words, not text */
			rc = RL_SKIP;
			goto out;
		}
		if (!rc) {
			f = FMT_HTML;
			dec.s = man_html.data;
			dec.n = man_html.len;
			if (!(extra = json_object()) || json_set(extra, "format", json_string(from))) {
				rc = RL_ENOMEM;
				goto out;
			}
		}
		rc = 0;
	}
	if (f == FMT_TEXT && it->kind == READ_FILE && !it->type) {
		/* a manual page's roff source: mandoc makes it HTML, read as any page */
		char mtitle[192];
		enum man_kind mk = man_detect(dec.s, dec.n, mtitle, sizeof(mtitle));
		if (mk == MAN_LINK) {  /* ".so other.1": the other page is the text */
			counts_ignore(c, "man_link", it->source);
			goto out;
		}
		if (mk == MAN_PAGE && (rc = man_page(c, it, &dec, &man_html)) < 0)
			goto out;
		if (mk == MAN_PAGE && !rc) {
			f = FMT_HTML;
			dec.s = man_html.data;
			dec.n = man_html.len;
			if (mtitle[0] && (rc = buf_append(&raw_title, mtitle, strlen(mtitle))))
				goto out;
			if (!(extra = json_object()) || json_set(extra, "format", json_string("man"))) {
				rc = RL_ENOMEM;
				goto out;
			}
		}
		rc = 0;
		if (mk == MAN_NONE && pod_detect(dec.s, dec.n, it->name))  /* Perl's documentation */
			f = FMT_POD;
		else if (mk == MAN_NONE && info_detect(dec.s, dec.n))  /* a GNU Info manual */
			f = FMT_INFO;
		else if (mk == MAN_NONE && rst_name(it->name))  /* reStructuredText, by its name */
			f = FMT_RST;
	}
	emit_release(&e);
	emit_init(&e, emit_limit(o, dec.n));
	if (f == FMT_HTML && !(html_props = json_object()))
		rc = RL_ENOMEM;
	e.props = html_props;
	if (rc)
		;
	else if (f == FMT_HTML)
		rc = html_extract(&e, dec.s, dec.n, &raw_title, &r.html_limited, &halted);
	else if (f == FMT_MARKDOWN)
		rc = md_extract(&e, dec.s, dec.n, &front);
	else if (f == FMT_POD)
		rc = pod_parse(dec.s, dec.n, &text_sink, &e, &raw_title);  /* title: NAME's text */
	else if (f == FMT_INFO)
		rc = info_parse(dec.s, dec.n, &text_sink, &e, &info_nodes);
	else if (f == FMT_RST)
		rc = rst_parse(dec.s, dec.n, &text_sink, &e, &raw_title);  /* title: the first section */
	else if (f == FMT_MAIL)
		rc = mail_extract(&e, &dec, &raw_title, &r.html_limited, &halted, &extra);
	else
		rc = emit_text(&e, dec.s, dec.n, 1);
	if (!rc && f == FMT_INFO && !info_nodes) {
		/* the index file of a split manual: its nodes are in its "-1", "-2"... parts */
		counts_ignore(c, "info_index", it->source);
		goto out;
	}
	if (!rc)
		rc = finish_text(o, &e, &sc, &r);
	if (!rc && json_object_size(html_props)) { /* <meta> author and dates (title below) */
		if (!extra && !(extra = json_object()))
			rc = RL_ENOMEM;
		if (!rc && json_object_set(extra, "properties", html_props))
			rc = RL_ENOMEM;
	}
	if (!rc && front && f == FMT_MARKDOWN) { /* its title, author and date are properties */
		if (!extra && !(extra = json_object()))
			rc = RL_ENOMEM;
		if (!rc)
			rc = properties_from(extra, front, "title", "author", "date");
	}
	if (!rc && front) { /* the front matter's title is the document's */
		json_t *t = json_object_get(front, "title");
		size_t tn = json_is_string(t) ? json_string_length(t) : 0;
		if (tn > 2 * LABEL_MAX)
			tn = utf8_floor(json_string_value(t), 2 * LABEL_MAX);
		if (tn)
			rc = buf_append(&raw_title, json_string_value(t), tn);
	}
	if (rc)
		goto out;
extracted:
	if (!r.text.len) {
		counts_skip(c, "empty", it->source, "no text after normalization");
		rc = RL_SKIP;
		goto out;
	}
	if (r.truncated)
		counts_skip(c, "truncated_doc", it->source,
			    "document cut to %zu bytes (over %zu; max_doc_bytes = %llu)", r.text.len,
			    r.full_len, (unsigned long long)o->max_doc_bytes);
	else if (halted)
		counts_skip(c, "truncated_doc", it->source,
			    "HTML nested deeper than the parser allows: text after that point lost");
	r.truncated |= halted;
	if (it->kind != READ_ROW && (dec.n_invalid || dec.n_undecodable))
		counts_skip(c, "decoding_repaired", it->source,
			    "%zu bytes not valid %s, replaced by U+FFFD",
			    dec.n_invalid + dec.n_undecodable * (dec.unit ? dec.unit : 1),
			    dec.encoding ? dec.encoding : "utf-8");

	if (it->kind == READ_ROW && it->title)
		rc = tidy_label(it->title, strlen(it->title), &sc, &title);
	else if (raw_title.len)
		rc = tidy_label(raw_title.data, raw_title.len, &sc, &title);
	/* the first top heading: not in POD, whose first is "NAME" (its paragraph is the title) */
	for (size_t i = 0; !rc && !title && ((f != FMT_TEXT && f != FMT_POD) || it->type) && i < r.n_h; i++) {
		if (r.h[i].level == 1 && !(title = xstrdup(r.h[i].text)))
			rc = RL_ENOMEM;
	}
	/* an HTML page with <meta> properties: its title among them too (extra holds them) */
	if (!rc && title && json_object_size(html_props) &&
	    json_object_set_new(html_props, "title", json_string(title)))
		rc = RL_ENOMEM;
	if (!rc)
		rc = build_metadata(it, f, title, front, extra, &dec, &r, &meta);
	if (rc)
		goto out;

	if (!(d = doc_new())) {
		rc = RL_ENOMEM;
		goto out;
	}
	d->source_name = xstrdup(it->source ? it->source : "");
	d->input = xstrdup(it->input ? it->input : "");
	if (!d->source_name || !d->input) {
		rc = RL_ENOMEM;
		goto out;
	}
	d->text = buf_detach(&r.text, &d->text_len);
	if (!d->text) {
		rc = RL_ENOMEM;
		goto out;
	}
	d->headings = r.h;
	d->n_headings = r.n_h;
	r.h = NULL;
	r.n_h = 0;
	d->code = r.code;
	d->n_code = r.n_code;
	r.code = NULL;
	r.n_code = 0;
	d->pages = r.pg;
	d->n_pages = r.n_pg;
	d->page_unit = r.n_pg ? info.page_unit : NULL;
	if (!d->page_unit) {
		free(d->pages);
		d->pages = NULL;
		d->n_pages = 0;
	}
	r.pg = NULL;
	r.n_pg = 0;
	d->title = title;
	d->metadata_json = meta;
	title = meta = NULL;
	d->mtime = it->mtime;
	d->raw_bytes = it->raw_bytes;
	*out = d;
	d = NULL;
out:
	doc_free(d);
	free(title);
	free(meta);
	json_decref(front);
	json_decref(info.properties);
	json_decref(pinfo.properties);
	json_decref(extra);
	json_decref(html_props);
	result_release(&r);
	emit_release(&e);
	buf_release(&raw_title);
	buf_release(&man_html);
	buf_release(&dec.tmp);
	free(sc.v);
	return rc;
}

int normalize_utf8(const char *s, size_t n, struct buf *out, size_t *n_invalid)
{
	struct buf fixed, clean;
	struct nfc_scratch sc = { 0 };
	struct utf8_stats st;
	size_t bad = 0;
	int rc = 0;

	pthread_once(&init_once, normalize_init);
	buf_init(&fixed, 0);
	buf_init(&clean, 0);
	utf8_scan((const unsigned char *)s, n, &st);
	if (st.invalid) {
		rc = utf8_repair((const unsigned char *)s, n, &fixed, &bad);
		if (rc)
			goto out;
		s = fixed.data;
		n = fixed.len;
	}
	rc = buf_reserve(&clean, n);
	if (rc)
		goto out;
	/* Controls out before NFC: a dropped control must not keep a mark from its base. */
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		size_t k = ch < 0x80 ? 1 : utf8_seq((const unsigned char *)s + i, n - i);
		if (!k)
			k = 1;
		int drop = ch < 0x80 ? (ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7F
				     : ch == 0xC2 && (unsigned char)s[i + 1] <= 0x9F;
		if (!drop)
			memcpy(clean.data + clean.len, s + i, k), clean.len += k;
		i += k;
	}
	if (clean.data)
		clean.data[clean.len] = '\0';
	rc = nfc_append(clean.data ? clean.data : "", clean.len, out, &sc);
out:
	if (n_invalid)
		*n_invalid = bad;
	buf_release(&fixed);
	buf_release(&clean);
	free(sc.v);
	return rc;
}
