/*
 * pdf.c — a PDF to text events: the worker process, its output read back, the page layout.
 *
 * What: pdf_parse() runs build/ragload-parse (stages/pdfworker.c, MuPDF) on one document and
 * turns what it reports (pdfwire.h: properties, outline, pages of text blocks and lines with
 * their boxes) into the events office.c's consumers already take: text in reading order,
 * paragraph breaks between blocks, a page mark where each page starts, headings where the
 * outline (bookmarks) points. On the way it drops running headers and footers, joins words
 * split by end-of-line hyphenation and expands ligatures.
 *
 * How:
 * - The worker, run by lib/spawn.c's spawn_filter(): the document goes in as a memfd on its
 *   stdin (no pipe to keep fed, no temporary file on disk), its output comes back on a pipe,
 *   stderr goes to /dev/null. It is started with posix_spawn (never fork() of this threaded
 *   process) with a clean signal mask and limits itself (RLIMIT_CPU = parse_seconds, RLIMIT_AS = parse_memory_mb) before it
 *   reads a byte. The parent waits at most 2 * parse_seconds + 5 s of wall clock (a worker
 *   blocked in the kernel or starved of CPU uses no CPU time), then SIGKILLs it. Its output is
 *   bounded (PDF_WIRE_MAX, or 4 * max_text + 16 MiB) and read whole, then decoded.
 * - Reading the output (pdf_from_wire): every record is checked (lengths, counts, page
 *   numbers ascending, UTF-8 without controls, an end record last); anything else is a
 *   malformed answer, "parse_failed". Lines are kept as pointers into the output buffer.
 * - Headers and footers: a line in the top or bottom 15% of its page, among the page's three
 *   first or last lines by position, whose text (lower-cased, digits as '#', so "Page 3" and
 *   "Page 4" are one) occurs so on at least 2 pages and on at least 3 or half of the pages
 *   with text, is dropped. Outline headings are never dropped.
 * - Tables of contents: a page most of whose lines end in a dot leader and a rising page
 *   number ("2.1 Invoking . . . . 14") is navigation; its text is dropped (drop_toc) and
 *   counted (the document's metadata: toc_pages_dropped). Its outline headings stay.
 * - Headings: each outline entry with a page is looked for on that page from its target's
 *   height down (200 lines at most), then in the next page's first 5 lines: the first line
 *   whose letters and digits equal the title's (after a section number, "1.2." or
 *   "Chapter 3"), or the first two lines' together do.
 *   That line is the heading, at the entry's level (6 at most). An entry whose title is not on
 *   its page is a heading with the outline's words where it points: taken from the document,
 *   never invented. Without an outline there are no headings (tagged structure is not read).
 * - Hyphenation: a line ending in a letter and a hyphen ('-', U+2010, U+00AD) followed by a
 *   line that starts with a lower-case letter has the next line's first word pulled up: the
 *   soft hyphen always goes; a hard one stays when the document spells the joined word with
 *   its hyphen elsewhere ("well-known" mid-line) or the left part is already a compound
 *   ("state-of-" + "the-art"), else it goes ("hyphen-" + "ation" = "hyphenation"). A word
 *   split across a page break stays on the first page.
 * - OCR ([documents] ocr = on): the worker reads scanned pages with Tesseract and flags them;
 *   their lines are text like any other (placed mid-page, never taken for headers).
 * - Ligatures U+FB00..U+FB06 become their letters (MuPDF already does this for fonts that
 *   map them; a font whose ToUnicode says U+FB01 would otherwise keep "ﬁ", which NFC keeps).
 *
 * Why this split: the worker only reports what the library saw; every judgement lives here,
 * in code that is ours, unit-tested (tests/unit/test_pdf.c) and fuzzed on arbitrary worker
 * output (tests/fuzz/fuzz_pdfwire.c). Reading order is MuPDF's block order, which follows
 * the content stream: a two-column page comes out column by column for every producer we
 * measured (groff .2C, pdfTeX twocolumn); a producer that draws columns interleaved would
 * need a geometric sort, not done.
 *
 * Size: ~1,400 lines, one path from the worker's answer to events: spawning and limits, the
 * answer's checks, then the page layout (headers and footers, hyphenation, columns, tables of
 * contents, outline headings). The layout passes are where it splits next (a pdf_layout.c).
 */
#include "pdf.h"
#include "../lib/spawn.h"
#include "pdfwire.h"
#include "../lib/common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <utf8proc.h>

#define PDF_WIRE_MAX ((size_t)1 << 30)  /* the worker's whole answer, at most */
#define PDF_PAGES_MAX 1000000
#define PDF_OUTLINE_MAX 20000
#define PDF_OUTLINE_LEVEL 64
#define HEADING_SEARCH 200              /* lines looked at for one outline entry */
#define HEADING_NEXT 5                  /* ... and of the next page's first lines */
#define HEADING_SCAN 2000               /* lines passed over for one entry, at most (entries x
                                           this bounds the work a hostile outline can cause) */
#define EDGE_LINES 3                    /* first/last lines of a page that may be a header */
#define EDGE_BAND 0.15                  /* ... within this share of the page height */
#define KEY_MAX 120                     /* bytes of a header's text compared */
#define TOC_LEADER 4                    /* dots of a table-of-contents line's leader, at least */
#define TOC_MIN 3                       /* such lines on a contents page, at least */
#define TOC_SHARE 40                    /* ... and this percentage of its lines */

/* ---- the worker's answer, decoded ---------------------------------------------------------- */

struct wline {
	const char *s;
	uint32_t n;
	int32_t y0, y1;
	uint32_t block;       /* blocks are numbered through the document */
	uint32_t page;        /* index into pages */
	int heading;          /* 0, or the outline entry + 1 that made it a heading */
	uint32_t skip;        /* leading bytes pulled up into the line before (a hyphenated word) */
	unsigned drop : 1;    /* a running header or footer */
};

struct wpage {
	uint32_t number;
	int32_t w, h;
	uint32_t flags;
	size_t first, count;  /* its lines */
};

struct woutline {
	int level;
	uint32_t page;        /* 1-based, 0: nowhere */
	int32_t y;
	const char *s;
	uint32_t n;
	size_t before;        /* not found on its page: a heading of its own before this line */
	int found;
};

struct wdoc {
	struct wline *lines;
	size_t n_lines, cap_lines;
	struct wpage *pages;
	size_t n_pages, cap_pages;
	struct woutline *ol;
	size_t n_ol, cap_ol;
	uint32_t npages;      /* what the document says it has */
	uint32_t status;
	char msg[160];
};

static void wdoc_release(struct wdoc *d)
{
	free(d->lines);
	free(d->pages);
	free(d->ol);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, c * size);
	if (!q)
		return RL_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Valid UTF-8 (RFC 3629) without C0/C1 controls, DEL or NUL. */
static int text_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F)
				return 0;
			i++;
			continue;
		}
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0 || (cp >= 0x80 && cp < 0xA0) || (cp >= 0xD800 && cp < 0xE000))
			return 0;
		i += (size_t)k;
	}
	return 1;
}

static void set_reason(struct pdf_info *info, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_reason(struct pdf_info *info, const char *reason, const char *fmt, ...)
{
	va_list ap;
	info->reason = reason;
	va_start(ap, fmt);
	vsnprintf(info->message, sizeof(info->message), fmt, ap);
	va_end(ap);
}

/* "D:20261206081149+00'00'" -> "2026-12-06T08:11:49+00:00" (shorter forms as far as they go);
 * NULL when s is not a PDF date. */
static json_t *pdf_date(const char *s, size_t n)
{
	char o[40];
	size_t i = 0, k = 0;
	int len[] = { 4, 2, 2, 2, 2, 2 };
	const char *sep[] = { "", "-", "-", "T", ":", ":" };
	if (n >= 2 && s[0] == 'D' && s[1] == ':')
		i = 2;
	int parts = 0;
	for (; parts < 6; parts++) {
		if (i + (size_t)len[parts] > n)
			break;
		int digits = 1;
		for (int j = 0; j < len[parts]; j++)
			digits &= s[i + j] >= '0' && s[i + j] <= '9';
		if (!digits)
			break;
		k += (size_t)snprintf(o + k, sizeof(o) - k, "%s%.*s", sep[parts], len[parts], s + i);
		i += (size_t)len[parts];
	}
	if (parts < 1)
		return NULL;
	if (parts == 4)  /* an hour without minutes is not ISO 8601 */
		k += (size_t)snprintf(o + k, sizeof(o) - k, ":00");
	if (parts >= 4 && i < n && s[i] == 'Z')
		k += (size_t)snprintf(o + k, sizeof(o) - k, "Z");
	else if (parts >= 4 && i + 3 <= n && (s[i] == '+' || s[i] == '-') && s[i + 1] >= '0' &&
		 s[i + 1] <= '9' && s[i + 2] >= '0' && s[i + 2] <= '9') {
		char mm[3] = "00";
		size_t j = i + 3 + (i + 3 < n && s[i + 3] == '\'');
		if (j + 2 <= n && s[j] >= '0' && s[j] <= '9' && s[j + 1] >= '0' && s[j + 1] <= '9')
			mm[0] = s[j], mm[1] = s[j + 1];
		k += (size_t)snprintf(o + k, sizeof(o) - k, "%c%c%c:%s", s[i], s[i + 1], s[i + 2], mm);
	}
	(void)k;
	return json_string(o);
}

static int add_prop(struct pdf_info *info, const char *key, const char *v, size_t n)
{
	static const char *const keys[] = { "title", "author", "subject", "keywords", "creator",
					    "producer", "created", "modified" };
	int known = 0;
	for (size_t i = 0; i < RL_ARRAY_LEN(keys); i++)
		known |= !strcmp(key, keys[i]);
	if (!strcmp(key, "repaired")) {
		info->repaired = 1;
		return 0;
	}
	if (!known || !n)
		return 0;
	if (!info->properties && !(info->properties = json_object()))
		return RL_ENOMEM;
	json_t *j = NULL;
	if (!strcmp(key, "created") || !strcmp(key, "modified"))
		j = pdf_date(v, n);
	if (!j)
		j = json_stringn(v, n);
	if (!j || json_object_set_new(info->properties, key, j))
		return RL_ENOMEM;
	return 0;
}

/*
 * Decodes the worker's output into d and info (properties). Returns 0, RL_SKIP (malformed:
 * info says where) or RL_ENOMEM.
 */
static int wire_decode(const char *w, size_t n, struct wdoc *d, struct pdf_info *info)
{
	const unsigned char *p = (const unsigned char *)w;
	size_t i = PDFWIRE_MAGIC_LEN;
	uint32_t blocks = 0;
	int have_pages = 0, have_block = 0, ended = 0, rc;
	const char *why = NULL;

	if (n < PDFWIRE_MAGIC_LEN || memcmp(w, PDFWIRE_MAGIC, PDFWIRE_MAGIC_LEN)) {
		set_reason(info, "parse_failed", "the PDF worker said nothing readable (%zu bytes)", n);
		return RL_SKIP;
	}
	while (i < n && !why) {
		size_t at = i;
		if (ended) {
			why = "data after the end record";
			break;
		}
		if (n - i < 5) {
			why = "a record header cut short";
			break;
		}
		int tag = p[i];
		uint32_t len = be32(p + i + 1);
		if (len > PDFWIRE_RECORD_MAX || len > n - i - 5) {
			why = "a record longer than the answer";
			break;
		}
		const unsigned char *r = p + i + 5;
		i += 5 + (size_t)len;
		switch (tag) {
		case PDFW_PROP: {
			const unsigned char *z = memchr(r, 0, len);
			if (!z || z == r || z - r > 32 || !text_ok(z + 1, len - (size_t)(z - r) - 1)) {
				why = "a bad property";
				break;
			}
			char key[33];
			memcpy(key, r, (size_t)(z - r));
			key[z - r] = '\0';
			if ((rc = add_prop(info, key, (const char *)z + 1, len - (size_t)(z - r) - 1)))
				return rc;
			break;
		}
		case PDFW_PAGES:
			if (len != 4 || have_pages || d->n_pages || be32(r) > PDF_PAGES_MAX) {
				why = "a bad page count";
				break;
			}
			d->npages = be32(r);
			have_pages = 1;
			break;
		case PDFW_PAGE: {
			if (len != 16) {
				why = "a bad page record";
				break;
			}
			uint32_t num = be32(r);
			int32_t pw = (int32_t)be32(r + 4), ph = (int32_t)be32(r + 8);
			if (!num || num > d->npages ||
			    (d->n_pages && num <= d->pages[d->n_pages - 1].number) || pw < 0 || ph < 0) {
				why = "a bad page record";
				break;
			}
			if ((rc = grow((void **)&d->pages, &d->cap_pages, d->n_pages, sizeof(*d->pages))))
				return rc;
			d->pages[d->n_pages++] = (struct wpage){ num, pw, ph, be32(r + 12), d->n_lines, 0 };
			have_block = 0;
			break;
		}
		case PDFW_BLOCK:
			if (len != 16 || !d->n_pages) {
				why = "a block outside a page";
				break;
			}
			blocks++;
			have_block = 1;
			break;
		case PDFW_LINE: {
			if (len <= 16 || !have_block || !text_ok(r + 16, len - 16)) {
				why = "a bad line";
				break;
			}
			if ((rc = grow((void **)&d->lines, &d->cap_lines, d->n_lines, sizeof(*d->lines))))
				return rc;
			d->lines[d->n_lines++] = (struct wline){
				.s = (const char *)r + 16, .n = len - 16, .y0 = (int32_t)be32(r + 4),
				.y1 = (int32_t)be32(r + 12), .block = blocks,
				.page = (uint32_t)(d->n_pages - 1),
			};
			d->pages[d->n_pages - 1].count++;
			break;
		}
		case PDFW_OUTLINE: {
			uint32_t lvl = len >= 12 ? be32(r) : 0, pg = len >= 12 ? be32(r + 4) : 0;
			int32_t y = len >= 12 ? (int32_t)be32(r + 8) : 0;
			if (len < 12 || !lvl || lvl > PDF_OUTLINE_LEVEL || pg > d->npages || y < -1 ||
			    d->n_pages || !text_ok(r + 12, len - 12)) {
				why = "a bad outline entry";
				break;
			}
			if (d->n_ol >= PDF_OUTLINE_MAX || len == 12 || !pg)
				break;
			if ((rc = grow((void **)&d->ol, &d->cap_ol, d->n_ol, sizeof(*d->ol))))
				return rc;
			d->ol[d->n_ol++] = (struct woutline){ (int)lvl, pg, y, (const char *)r + 12,
							     len - 12, 0, 0 };
			break;
		}
		case PDFW_TRUNCATED:
			if (len) {
				why = "a bad truncation record";
				break;
			}
			info->truncated = 1;
			break;
		case PDFW_END: {
			if (len < 4 || be32(r) > PDFW_FAILED) {
				why = "a bad end record";
				break;
			}
			d->status = be32(r);
			size_t m = len - 4 < sizeof(d->msg) - 1 ? len - 4 : sizeof(d->msg) - 1;
			for (size_t k = 0; k < m; k++)  /* for a message line: printable ASCII */
				d->msg[k] = r[4 + k] >= 0x20 && r[4 + k] < 0x7F ? (char)r[4 + k] : '?';
			d->msg[m] = '\0';
			ended = 1;
			break;
		}
		default:
			why = "an unknown record";
		}
		if (why)
			i = at;
	}
	if (!why && !ended)
		why = "no end record (the worker stopped early)";
	if (why) {
		set_reason(info, "parse_failed", "the PDF worker's answer is malformed at byte %zu: %s",
			   i, why);
		return RL_SKIP;
	}
	info->pages = (int)d->npages;
	if (d->npages) {
		if (!info->properties && !(info->properties = json_object()))
			return RL_ENOMEM;
		if (json_object_set_new(info->properties, "pages", json_integer(d->npages)))
			return RL_ENOMEM;
	}
	return 0;
}

/* ---- layout ---------------------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, unsigned char c)
{
	return (h ^ c) * 0x100000001b3ull;
}

/* A header's key: lower-cased, digit runs as one '#', spaces dropped; the top or bottom band
 * mixed in. */
static uint64_t edge_key(const struct wline *l, int band)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)band;
	int digit = 0;
	for (uint32_t i = 0; i < l->n && i < KEY_MAX; i++) {
		unsigned char c = (unsigned char)l->s[i];
		if (c >= '0' && c <= '9') {
			if (!digit)
				h = fnv(h, '#');
			digit = 1;
			continue;
		}
		digit = 0;
		if (c == ' ')
			continue;
		h = fnv(h, c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The lines at the page's edges: index of the k-th line by y from the top (from_top) or the
 * bottom, among its count lines; selection by repeated scan (k < EDGE_LINES). */
static size_t edge_line(const struct wdoc *d, const struct wpage *pg, int from_top, int k,
			size_t *picked, int n_picked)
{
	size_t best = SIZE_MAX;
	for (size_t i = pg->first; i < pg->first + pg->count; i++) {
		int used = 0;
		for (int j = 0; j < n_picked; j++)
			used |= picked[j] == i;
		if (used)
			continue;
		if (best == SIZE_MAX || (from_top ? d->lines[i].y0 < d->lines[best].y0
						  : d->lines[i].y1 > d->lines[best].y1))
			best = i;
	}
	(void)k;
	return best;
}

/* Candidates of a page: up to EDGE_LINES top and bottom lines inside the edge bands. */
static int edges(const struct wdoc *d, const struct wpage *pg, size_t *idx, int *band)
{
	int32_t h = pg->h;
	int n = 0;
	if (h <= 0)
		return 0;
	for (int top = 1; top >= 0; top--) {
		size_t picked[EDGE_LINES];
		int np = 0;
		for (int k = 0; k < EDGE_LINES; k++) {
			size_t i = edge_line(d, pg, top, k, picked, np);
			if (i == SIZE_MAX)
				break;
			picked[np++] = i;
			const struct wline *l = &d->lines[i];
			int in = top ? l->y1 <= (int32_t)(h * EDGE_BAND) : l->y0 >= (int32_t)(h * (1 - EDGE_BAND));
			if (!in)
				break;
			if (l->heading)
				continue;
			idx[n] = i;
			band[n++] = top;
		}
	}
	return n;
}

/* Marks running headers and footers d->lines[].drop. Returns 0 or RL_ENOMEM. */
static int drop_edges(struct wdoc *d, struct pdf_info *info)
{
	size_t with_text = 0, n_keys = 0;
	uint64_t *keys = malloc((d->n_pages * 2 * EDGE_LINES + 1) * sizeof(*keys));
	if (!keys)
		return RL_ENOMEM;
	for (size_t p = 0; p < d->n_pages; p++) {
		size_t idx[2 * EDGE_LINES];
		int band[2 * EDGE_LINES];
		int n = edges(d, &d->pages[p], idx, band);
		with_text += d->pages[p].count > 0;
		size_t start = n_keys;
		for (int j = 0; j < n; j++) {
			uint64_t k = edge_key(&d->lines[idx[j]], band[j]);
			int dup = 0;  /* once per page */
			for (size_t m = start; m < n_keys; m++)
				dup |= keys[m] == k;
			if (!dup)
				keys[n_keys++] = k;
		}
	}
	qsort(keys, n_keys, sizeof(*keys), cmp_u64);
	/* on at least 2 pages, and on 3 or half of those with text */
	size_t half = (with_text + 1) / 2, need = half < 3 ? half : 3;
	if (need < 2)
		need = 2;
	for (size_t p = 0; p < d->n_pages && with_text >= 2; p++) {
		size_t idx[2 * EDGE_LINES];
		int band[2 * EDGE_LINES];
		int n = edges(d, &d->pages[p], idx, band);
		for (int j = 0; j < n; j++) {
			uint64_t k = edge_key(&d->lines[idx[j]], band[j]);
			uint64_t *hit = bsearch(&k, keys, n_keys, sizeof(*keys), cmp_u64);
			if (!hit)
				continue;
			size_t lo = (size_t)(hit - keys), hi = lo;
			while (lo > 0 && keys[lo - 1] == k)
				lo--;
			while (hi + 1 < n_keys && keys[hi + 1] == k)
				hi++;
			if (hi - lo + 1 >= need && !d->lines[idx[j]].drop) {
				d->lines[idx[j]].drop = 1;
				info->headers_dropped++;
			}
		}
	}
	free(keys);
	return 0;
}

/* ---- tables of contents --------------------------------------------------------------------- */

/* A page number at the end of s/n (after spaces): its first byte's offset into *at and its
 * value (0 for a roman one); -1 when s does not end in one. */
static long page_number_at_end(const char *s, size_t n, size_t *at)
{
	size_t e = n;
	while (e > 0 && s[e - 1] == ' ')
		e--;
	size_t d = e;
	while (d > 0 && e - d < 6 && s[d - 1] >= '0' && s[d - 1] <= '9')
		d--;
	long num = 0;
	if (d < e) {
		if (d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9')
			return -1;   /* too long for a page number */
		for (size_t i = d; i < e; i++)
			num = num * 10 + (s[i] - '0');
	} else {
		while (d > 0 && e - d < 8 && s[d - 1] && strchr("ivxlcdmIVXLCDM", s[d - 1]))
			d--;
		if (d == e || (d > 0 && isalpha((unsigned char)s[d - 1])))
			return -1;
	}
	*at = d;
	return num;
}

/* Whether s/n ends in a dot leader (at least TOC_LEADER dots: '.', U+00B7 or U+2026, with
 * spaces between them allowed), trailing spaces aside. */
static int ends_in_leader(const char *s, size_t n)
{
	int dots = 0;
	size_t i = n;
	while (i > 0) {
		unsigned char c = (unsigned char)s[i - 1];
		if (c == ' ' || c == '.') {
			dots += c == '.';
			i--;
		} else if (i >= 2 && (unsigned char)s[i - 2] == 0xC2 && c == 0xB7) {
			dots++;
			i -= 2;
		} else if (i >= 3 && (unsigned char)s[i - 3] == 0xE2 && (unsigned char)s[i - 2] == 0x80 &&
			   c == 0xA6) {
			dots += 3;
			i -= 3;
		} else {
			break;
		}
	}
	return dots >= TOC_LEADER;
}

/* Whether s/n is a label a contents page sets apart from its entry: a section or page number
 * ("A.1", "1.2.10", "232", "xvi"); such lines count neither for nor against a contents page. */
static int toc_label(const char *s, size_t n)
{
	while (n > 0 && s[n - 1] == ' ')
		n--;
	while (n > 0 && s[0] == ' ')
		s++, n--;
	if (!n || n > 12)
		return 0;
	int digit = 0, roman = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.')
			return 0;
		digit |= isdigit(c);
		roman &= c != '.' && !isdigit(c) && strchr("ivxlcdmIVXLCDM", c) != NULL;
	}
	return digit || roman;
}

/* The page number of a table-of-contents entry at line i of its page: "Title . . . . 42" or
 * "Title ..... xii" on one line, or a line ending in the leader and the number alone on the
 * next line (as some producers' layouts come out). Returns the arabic number, 0 for a roman
 * one, -1 when line i is no such entry. *used is set to the lines it took (1 or 2). */
static long toc_entry(const struct wdoc *d, size_t i, size_t end, size_t *used)
{
	const struct wline *l = &d->lines[i];
	size_t at;
	long num = page_number_at_end(l->s, l->n, &at);
	*used = 1;
	if (num >= 0 && at < l->n && ends_in_leader(l->s, at))
		return num;
	if (!ends_in_leader(l->s, l->n) || i + 1 >= end)
		return -1;
	const struct wline *nx = &d->lines[i + 1];
	size_t lead = 0;
	while (lead < nx->n && nx->s[lead] == ' ')
		lead++;
	num = page_number_at_end(nx->s, nx->n, &at);
	if (num < 0 || at != lead)
		return -1;
	*used = 2;
	return num;
}

/*
 * Drops the text of table-of-contents pages (contents, lists of figures and tables): pages
 * where at least TOC_SHARE percent of the lines (section and page numbers set apart aside),
 * and at least TOC_MIN lines, end in a dot leader and a page number, those numbers (the
 * arabic ones) rising from line to line but rarely, and never past twice the document's
 * pages; on the page after such a page, the entries that end the contents (its lines up to
 * the last entry before the first heading). The outline gives the same structure as
 * headings; the page's own text is navigation, not content a reader asks about (a manual's
 * contents were one chunk in five of its text). Outline headings on such a page stay.
 */
static void drop_toc(struct wdoc *d, struct pdf_info *info)
{
	long limit = 2L * (long)(d->npages > d->n_pages ? d->npages : d->n_pages) + 10;
	int prev_toc = 0;
	for (size_t p = 0; p < d->n_pages; p++) {
		const struct wpage *pg = &d->pages[p];
		size_t lines = 0, toc = 0, pairs = 0, falls = 0;
		/* the contents' last page: the lines up to its last entry before the first
		 * heading, when entries are TOC_SHARE percent of them */
		size_t cut = 0, cut_lines = 0, cut_toc = 0;
		int before_heading = 1;
		long last = -1;
		int beyond = 0;
		const size_t end = pg->first + pg->count;
		for (size_t i = pg->first, used; i < end; i += used) {
			const struct wline *l = &d->lines[i];
			used = 1;
			if (l->heading)
				before_heading = 0;
			if (l->drop || l->heading)
				continue;
			long num = toc_entry(d, i, end, &used);
			if (num < 0 && toc_label(l->s, l->n))
				continue;
			lines++;
			if (num < 0)
				continue;
			toc++;
			if (before_heading) {
				cut = i + used;
				cut_lines = lines;
				cut_toc = toc;
			}
			beyond |= num > limit;
			if (num > 0) {
				if (last > 0) {
					pairs++;
					falls += num < last;
				}
				last = num;
			}
		}
		int whole = toc >= TOC_MIN && toc * 100 >= lines * TOC_SHARE && !beyond &&
			    falls * 5 <= pairs;
		if (!whole && !(prev_toc && cut && cut_toc * 100 >= cut_lines * TOC_SHARE &&
				!beyond && falls * 5 <= pairs)) {
			prev_toc = 0;
			continue;
		}
		for (size_t i = pg->first; i < (whole ? end : cut); i++)
			if (!d->lines[i].heading)
				d->lines[i].drop = 1;
		info->toc_pages++;
		prev_toc = whole;
	}
}

/* Letters and digits of s, lower-cased (ASCII; other bytes as they are), into o (cap bytes). */
static size_t alnum(const char *s, size_t n, char *o, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			o[k++] = (char)(c + 32);
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80)
			o[k++] = (char)c;
	}
	return k;
}

/* Does a line's text (letters and digits) say the title t, perhaps after a section number
 * ("11" of "1.1.", "chapter3", "appendixa")? */
static int title_match(const char *l, size_t ln, const char *t, size_t tn)
{
	if (!tn || ln < tn || memcmp(l + ln - tn, t, tn))
		return 0;
	size_t pre = ln - tn, digits = 0;
	for (size_t i = 0; i < pre; i++)
		digits += l[i] >= '0' && l[i] <= '9';
	if (digits == pre)
		return 1;
	static const char *const words[] = { "chapter", "section", "appendix", "part" };
	for (size_t w = 0; w < RL_ARRAY_LEN(words); w++) {
		size_t wl = strlen(words[w]);
		if (pre > wl && pre <= wl + 4 && !memcmp(l, words[w], wl))
			return 1;
	}
	return 0;
}

/* Finds each outline entry's line on its page (marks it a heading) or where it points. */
static void place_headings(struct wdoc *d)
{
	char t[512], a[512], b[1024];
	for (size_t e = 0; e < d->n_ol; e++) {
		struct woutline *o = &d->ol[e];
		size_t lo = 0, hi = d->n_pages;
		while (lo < hi) {  /* the page, by number */
			size_t mid = lo + (hi - lo) / 2;
			if (d->pages[mid].number < o->page)
				lo = mid + 1;
			else
				hi = mid;
		}
		o->before = SIZE_MAX;
		if (lo == d->n_pages || d->pages[lo].number != o->page)
			continue;  /* a page the worker did not send (truncated) */
		const struct wpage *pg = &d->pages[lo];
		size_t tn = alnum(o->s, o->n, t, sizeof(t));
		size_t end = pg->first + pg->count, seen = 0;
		o->before = end < d->n_lines ? end : d->n_lines;
		int placed = 0;
		/* a heading set at the foot of a page often moves to the next one (groff's .ne, TeX's
		 * widow control) while its bookmark stays: the next page's first lines are looked at
		 * too */
		size_t next_end = lo + 1 < d->n_pages ? d->pages[lo + 1].first + d->pages[lo + 1].count
						      : end;
		if (next_end > d->pages[lo + 1 < d->n_pages ? lo + 1 : lo].first + HEADING_NEXT)
			next_end = d->pages[lo + 1 < d->n_pages ? lo + 1 : lo].first + HEADING_NEXT;
		if (next_end < end)
			next_end = end;
		for (size_t i = pg->first, scanned = 0;
		     i < next_end && seen < HEADING_SEARCH && scanned < HEADING_SCAN; i++, scanned++) {
			struct wline *l = &d->lines[i];
			if (i < end && o->y >= 0 && l->y1 < o->y - 20)
				continue;
			if (!placed) {
				o->before = i;
				placed = 1;
			}
			seen++;
			if (l->heading)
				continue;
			size_t an = alnum(l->s, l->n, a, sizeof(a));
			if (title_match(a, an, t, tn)) {
				l->heading = (int)e + 1;
				o->found = 1;
				break;
			}
			if (i + 1 < next_end && !d->lines[i + 1].heading && an < tn) {
				memcpy(b, a, an);
				size_t bn = an + alnum(d->lines[i + 1].s, d->lines[i + 1].n, b + an,
						       sizeof(b) - an);
				if (title_match(b, bn, t, tn)) {
					l->heading = d->lines[i + 1].heading = (int)e + 1;
					o->found = 1;
					break;
				}
			}
		}
	}
}

/* ---- hyphenation ----------------------------------------------------------------------------- */

static int is_letter_at(const char *s, size_t n, size_t i, int lower_only)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
					      (utf8proc_ssize_t)(n - i), &cp);
	if (k <= 0)
		return 0;
	utf8proc_category_t c = utf8proc_category(cp);
	if (lower_only)
		return c == UTF8PROC_CATEGORY_LL;
	return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

/* The start of the UTF-8 character that ends at s[n - 1]. */
static size_t char_start(const char *s, size_t n)
{
	size_t i = n ? n - 1 : 0;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80 && n - i < 4)
		i--;
	return i;
}

/* A line's trailing hyphen: its byte length (1 '-', 3 U+2010, 2 U+00AD) when the line ends in a
 * letter and one; *soft set for U+00AD. */
static size_t trailing_hyphen(const char *s, size_t n, int *soft)
{
	size_t h = 0;
	*soft = 0;
	if (n >= 2 && s[n - 1] == '-')
		h = 1;
	else if (n >= 4 && !memcmp(s + n - 3, "\xe2\x80\x90", 3))
		h = 3;
	else if (n >= 3 && !memcmp(s + n - 2, "\xc2\xad", 2))
		h = 2, *soft = 1;
	if (!h)
		return 0;
	size_t c = char_start(s, n - h);
	return is_letter_at(s, n - h, c, 0) ? h : 0;
}

static uint64_t word_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		h = fnv(h, c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return h;
}

/* The hyphenated words the document spells mid-line ("well-known"), as sorted hashes. */
static int compounds(const struct wdoc *d, uint64_t **out, size_t *n_out)
{
	size_t n = 0, cap = 0;
	uint64_t *v = NULL;
	for (size_t li = 0; li < d->n_lines; li++) {
		const struct wline *l = &d->lines[li];
		if (l->drop)
			continue;
		size_t i = 0;
		while (i < l->n) {
			while (i < l->n && l->s[i] == ' ')
				i++;
			size_t s = i;
			int hy = 0;
			while (i < l->n && l->s[i] != ' ')
				hy |= l->s[i++] == '-';
			size_t e = i;
			/* the trailing punctuation off; a word ending the line with '-' is not one */
			while (e > s && (l->s[e - 1] == '.' || l->s[e - 1] == ',' || l->s[e - 1] == ';' ||
					 l->s[e - 1] == ':' || l->s[e - 1] == ')'))
				e--;
			if (!hy || e == s || l->s[e - 1] == '-' || l->s[s] == '-')
				continue;
			if (n == cap) {
				size_t c = cap ? cap * 2 : 64;
				uint64_t *nv = realloc(v, c * sizeof(*v));
				if (!nv) {
					free(v);
					return RL_ENOMEM;
				}
				v = nv;
				cap = c;
			}
			v[n++] = word_hash(l->s + s, e - s);
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
	*out = v;
	*n_out = n;
	return 0;
}

/* ---- emitting -------------------------------------------------------------------------------- */

struct out {
	const struct office_sink *sink;
	void *ctx;
	struct buf b;         /* one line's text, ligatures expanded, joins applied */
};

/* Appends s/n to b with ligatures as letters and soft hyphens left out. */
static int put_text(struct buf *b, const char *s, size_t n)
{
	static const char *const lig[] = { "ff", "fi", "fl", "ffi", "ffl", "st", "st" };
	size_t i = 0, run = 0;
	int rc = 0;
	while (i < n && !rc) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xAC &&
		    (unsigned char)s[i + 2] <= 0x86) {
			rc = buf_append(b, s + run, i - run);
			if (!rc)
				rc = buf_append(b, lig[(unsigned char)s[i + 2] - 0x80],
						strlen(lig[(unsigned char)s[i + 2] - 0x80]));
			i += 3;
			run = i;
		} else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xAD) {
			rc = buf_append(b, s + run, i - run);
			i += 2;
			run = i;
		} else {
			i++;
		}
	}
	return rc ? rc : buf_append(b, s + run, n - run);
}

static int flush(struct out *o)
{
	int rc = 0;
	if (o->b.len)
		rc = o->sink->text(o->ctx, o->b.data, o->b.len);
	buf_reset(&o->b);
	return rc;
}

/* The next line that is text (not dropped, not a heading) after i, SIZE_MAX when none. */
static size_t next_text(const struct wdoc *d, size_t i)
{
	for (size_t j = i + 1; j < d->n_lines; j++) {
		if (d->lines[j].drop)
			continue;
		return d->lines[j].heading ? SIZE_MAX : j;
	}
	return SIZE_MAX;
}

/* Writes line i (from its skip offset), pulling up the next line's first word when i ends in
 * a hyphenated word. */
static int put_line(struct out *o, struct wdoc *d, size_t i, const uint64_t *comp, size_t n_comp)
{
	struct wline *l = &d->lines[i];
	const char *s = l->s + l->skip;
	size_t n = l->n - l->skip;
	int soft, rc;
	size_t h = n ? trailing_hyphen(s, n, &soft) : 0;
	size_t j = h ? next_text(d, i) : SIZE_MAX;
	struct wline *nx = j != SIZE_MAX ? &d->lines[j] : NULL;

	if (!nx || nx->skip || !is_letter_at(nx->s, nx->n, 0, 1))
		return put_text(&o->b, s, n);
	size_t w = 0;  /* the next line's first word */
	while (w < nx->n && nx->s[w] != ' ')
		w++;
	size_t ws = n - h;  /* the start of this line's last word */
	while (ws > 0 && s[ws - 1] != ' ')
		ws--;
	int keep = 0;
	if (!soft) {
		for (size_t k = ws; k < n - h; k++)
			keep |= s[k] == '-';
		if (!keep && n_comp) {
			char tmp[256];
			size_t we = w;  /* the word's letters, without trailing punctuation */
			while (we > 0 && (nx->s[we - 1] == '.' || nx->s[we - 1] == ',' ||
					  nx->s[we - 1] == ';' || nx->s[we - 1] == ':' ||
					  nx->s[we - 1] == ')'))
				we--;
			if (n - h - ws + 1 + we <= sizeof(tmp)) {
				memcpy(tmp, s + ws, n - h - ws);
				tmp[n - h - ws] = '-';
				memcpy(tmp + n - h - ws + 1, nx->s, we);
				uint64_t k = word_hash(tmp, n - h - ws + 1 + we);
				keep = bsearch(&k, comp, n_comp, sizeof(k), cmp_u64) != NULL;
			}
		}
	}
	if ((rc = put_text(&o->b, s, n - h)))
		return rc;
	if (keep && (rc = buf_putc(&o->b, '-')))
		return rc;
	if ((rc = put_text(&o->b, nx->s, w)))
		return rc;
	nx->skip = (uint32_t)(w < nx->n ? w + 1 : w);
	return 0;
}

static _Thread_local const struct woutline *sort_ol;

static int cmp_pending(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (sort_ol[x].before != sort_ol[y].before)
		return sort_ol[x].before < sort_ol[y].before ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* An outline entry whose title is not on its page: a heading of the outline's words. */
static int put_heading(struct out *o, const struct woutline *e, int *in_heading)
{
	int rc = 0;
	if (*in_heading && (rc = o->sink->heading_end(o->ctx)))
		return rc;
	*in_heading = 0;
	if ((rc = flush(o)) || (rc = o->sink->heading_begin(o->ctx, e->level < 6 ? e->level : 6)) ||
	    (rc = put_text(&o->b, e->s, e->n)) || (rc = flush(o)))
		return rc;
	return o->sink->heading_end(o->ctx);
}

/* The document, page by page, to the sink. */
static int emit_doc(struct wdoc *d, const struct office_sink *sink, void *ctx,
		    struct pdf_info *info)
{
	struct out o = { .sink = sink, .ctx = ctx };
	uint64_t *comp = NULL;
	size_t n_comp = 0, ol = 0;
	uint32_t block = 0;
	int rc = compounds(d, &comp, &n_comp), in_heading = 0;

	buf_init(&o.b, 0);
	/* outline entries not found on their page, in line order */
	size_t *pending = NULL, n_pending = 0;
	if (!rc && d->n_ol && !(pending = malloc(d->n_ol * sizeof(*pending))))
		rc = RL_ENOMEM;
	for (size_t e = 0; !rc && e < d->n_ol; e++)
		if (!d->ol[e].found && d->ol[e].before != SIZE_MAX)
			pending[n_pending++] = e;
	/* by position, outline order among equals */
	sort_ol = d->ol;
	if (n_pending > 1)
		qsort(pending, n_pending, sizeof(*pending), cmp_pending);

	for (size_t p = 0; !rc && p < d->n_pages; p++) {
		const struct wpage *pg = &d->pages[p];
		if (pg->flags & PDFW_PAGE_FAILED)
			info->failed_pages++;
		else if (!pg->count && (pg->flags & PDFW_PAGE_IMAGES))
			info->no_text_pages++;
		else if (pg->flags & PDFW_PAGE_OCR)
			info->ocr_pages++;
		/* a page never starts inside a heading (one that ends a page is closed there) */
		if ((rc = flush(&o)) || (in_heading && (rc = sink->heading_end(ctx))))
			break;
		in_heading = 0;
		if ((rc = sink->page(ctx, (int)pg->number)))
			break;
		for (size_t i = pg->first; !rc && i < pg->first + pg->count; i++) {
			while (!rc && ol < n_pending && d->ol[pending[ol]].before <= i) {
				rc = put_heading(&o, &d->ol[pending[ol++]], &in_heading);
				block = 0;
			}
			struct wline *l = &d->lines[i];
			if (rc || l->drop || l->skip >= l->n)
				continue;
			if (l->heading) {
				if (in_heading != l->heading) {
					if (in_heading && (rc = sink->heading_end(ctx)))
						break;
					int lvl = d->ol[l->heading - 1].level;
					if ((rc = flush(&o)) || (rc = sink->heading_begin(ctx, lvl < 6 ? lvl : 6)))
						break;
					in_heading = l->heading;
				} else if ((rc = buf_putc(&o.b, ' '))) {
					break;
				}
				rc = put_text(&o.b, l->s, l->n);
				if (!rc)
					rc = flush(&o);
				block = 0;
				continue;
			}
			if (in_heading) {
				if ((rc = flush(&o)) || (rc = sink->heading_end(ctx)))
					break;
				in_heading = 0;
			}
			if (l->block != block) {
				if ((rc = flush(&o)) || (rc = sink->para(ctx)))
					break;
				block = l->block;
			} else if ((rc = buf_putc(&o.b, ' '))) {
				break;
			}
			rc = put_line(&o, d, i, comp, n_comp);
		}
	}
	while (!rc && ol < n_pending)
		rc = put_heading(&o, &d->ol[pending[ol++]], &in_heading);
	if (!rc)
		rc = flush(&o);
	if (!rc && in_heading)
		rc = sink->heading_end(ctx);
	free(pending);
	free(comp);
	buf_release(&o.b);
	return rc;
}

int pdf_from_wire(const char *w, size_t n, const struct office_sink *sink, void *ctx,
		  struct pdf_info *info)
{
	struct wdoc d = { 0 };
	int rc = wire_decode(w, n, &d, info);
	if (rc)
		goto out;
	switch (d.status) {
	case PDFW_OK:
		break;
	case PDFW_ENCRYPTED:
		set_reason(info, "encrypted", "encrypted PDF: %s", d.msg);
		rc = RL_SKIP;
		goto out;
	case PDFW_CORRUPT:
		set_reason(info, "corrupt_document", "not a readable PDF: %s", d.msg);
		rc = RL_SKIP;
		goto out;
	case PDFW_NOMEM:
		set_reason(info, "parse_failed", "the PDF worker ran out of memory (its limit): %s",
			   d.msg);
		rc = RL_SKIP;
		goto out;
	default:
		set_reason(info, "parse_failed", "the PDF library failed: %s", d.msg);
		rc = RL_SKIP;
		goto out;
	}
	place_headings(&d);
	if ((rc = drop_edges(&d, info)))
		goto out;
	drop_toc(&d, info);
	rc = emit_doc(&d, sink, ctx, info);
	if (rc > 0)  /* a callback stopped the walk */
		rc = 0;
out:
	wdoc_release(&d);
	return rc;
}

/* ---- the worker process ---------------------------------------------------------------------- */

/* The worker's path into buf: o->worker, $RAGLOAD_PARSE, else ragload-parse beside this
 * executable or one directory up (the unit tests and the bench live in build/tests/). */
static int worker_path(const struct pdf_opts *o, char *buf, size_t cap)
{
	const char *env = getenv("RAGLOAD_PARSE");
	if (o->worker || (env && *env)) {
		int k = snprintf(buf, cap, "%s", o->worker ? o->worker : env);
		return k > 0 && (size_t)k < cap ? 0 : -1;
	}
	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (k <= 0)
		return -1;
	exe[k] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	for (int up = 0; up < 2; up++) {
		int m = snprintf(buf, cap, "%s%s/ragload-parse", exe, up ? "/.." : "");
		if (m > 0 && (size_t)m < cap && access(buf, X_OK) == 0)
			return 0;
	}
	return -1;
}


/*
 * Runs the worker on data/n; its answer into out. *how: 0 exited, 1 killed at the wall-clock
 * deadline, 2 over its CPU time, 3 killed by another signal (*sig), 4 its answer too long.
 * Returns 0, RL_ENOMEM or RL_ERR (could not start it: message in info).
 */
static int run_worker(const char *data, size_t n, const struct pdf_opts *o, struct buf *out,
		      int *how, int *sig, struct pdf_info *info)
{
	char path[PATH_MAX], cpu[24], mem[24], maxt[24], ocr[64];
	struct spawn_result res;

	*how = 0;
	*sig = 0;
	if (worker_path(o, path, sizeof(path))) {
		set_reason(info, "parse_failed", "the PDF worker (ragload-parse) was not found next to ragload");
		return RL_ERR;
	}
	snprintf(cpu, sizeof(cpu), "%d", o->parse_seconds > 0 ? o->parse_seconds : 0);
	snprintf(mem, sizeof(mem), "%d", o->parse_memory_mb > 0 ? o->parse_memory_mb : 0);
	snprintf(maxt, sizeof(maxt), "%zu", o->max_text);
	snprintf(ocr, sizeof(ocr), "%s", o->ocr ? o->ocr : "");
	char *argv[] = { path, "--cpu", cpu, "--mem", mem, "--max-text", maxt, "--ocr", ocr, NULL };

	double wall = 2.0 * (o->parse_seconds > 0 ? o->parse_seconds : 30) + 5.0;
	size_t cap = o->max_text && o->max_text < (PDF_WIRE_MAX - (16u << 20)) / 4
			     ? 4 * o->max_text + (16u << 20) : PDF_WIRE_MAX;
	int rc = spawn_filter(path, 0, argv, data, n, wall, cap, out, &res);
	if (rc == RL_ERR) {
		set_reason(info, "parse_failed", "could not start the PDF worker %s: %s", path,
			   strerror(errno));
		return rc;
	}
	*how = res.how;
	if (!rc && !*how && WIFSIGNALED(res.status)) {
		*sig = WTERMSIG(res.status);
		*how = *sig == SIGXCPU || (*sig == SIGKILL && o->parse_seconds > 0 &&
					   res.cpu_s >= o->parse_seconds - 0.05) ? 2 : 3;
	}
	return rc;
}

int pdf_parse(const char *data, size_t n, const struct pdf_opts *o,
	      const struct office_sink *sink, void *ctx, struct pdf_info *info)
{
	struct buf out;
	int how = 0, sig = 0;
	buf_init(&out, 0);
	int rc = run_worker(data, n, o, &out, &how, &sig, info);
	if (rc == RL_ERR) {
		rc = RL_SKIP;  /* counted as parse_failed: one document, not the run */
		goto done;
	}
	if (rc)
		goto done;
	switch (how) {
	case 1:
		set_reason(info, "parse_timeout", "the PDF worker gave no answer within %d s of wall "
			   "clock; killed", 2 * (o->parse_seconds > 0 ? o->parse_seconds : 30) + 5);
		rc = RL_SKIP;
		goto done;
	case 2:
		set_reason(info, "parse_timeout", "the PDF worker used up its %d s of CPU "
			   "([limits] parse_seconds); killed", o->parse_seconds);
		rc = RL_SKIP;
		goto done;
	case 3:
		set_reason(info, "parse_failed", "the PDF worker crashed (signal %d, %s)", sig,
			   strsignal(sig));
		rc = RL_SKIP;
		goto done;
	case 4:
		set_reason(info, "parse_failed", "the PDF worker's answer passed its bound; killed");
		rc = RL_SKIP;
		goto done;
	}
	rc = pdf_from_wire(out.data ? out.data : "", out.len, sink, ctx, info);
done:
	buf_release(&out);
	return rc;
}
