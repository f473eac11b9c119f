/*
 * info.c — GNU Info files to text events (info.h).
 *
 * How: one pass over lines. A line starting with 0x1F separates nodes: the next line is the
 * node's header ("File: ..., Node: ...": dropped; "Tag Table:", "Indirect:", "End Tag Table":
 * a table, dropped to the next separator). Inside a node, lines gather into blocks split by
 * blank lines; a non-indented line whose next line is one underline character
 * repeated (as wide as the line, give or take one) is a heading. "* Menu:" drops the rest of
 * the node. (Blocks are split by blank lines only.) A block is code when its first line is
 * indented (a list item's continuation lines are indented too, and stay its text); every block's cross references ("*note Label:
 * Node.") are reduced to their label (definition bodies, indented, hold them too).
 */
#include "info.h"

#include <string.h>

#define INFO_SCAN (64 * 1024)
#define INFO_CODE_INDENT 5

static int has(const char *s, size_t n, const char *lit)
{
	return memmem(s, n, lit, strlen(lit)) != NULL;
}

static int starts(const char *l, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n >= m && !memcmp(l, lit, m);
}

int info_detect(const char *s, size_t n)
{
	const char *nl = memchr(s, '\n', n);
	size_t first = nl ? (size_t)(nl - s) : n;
	if (starts(s, first, "This is ") &&
	    (has(s, first, "produced by makeinfo") || has(s, first, "produced by texi2any")))
		return 1;
	size_t lim = n < INFO_SCAN ? n : INFO_SCAN;
	for (const char *p = s; (p = memchr(p, 0x1F, lim - (size_t)(p - s))); p++) {
		const char *q = p + 1;
		if (q < s + n && *q == '\n')
			q++;
		if ((size_t)(s + n - q) > 6 && !memcmp(q, "File: ", 6) &&
		    has(q, (size_t)(s + n - q) < 200 ? (size_t)(s + n - q) : 200, "Node: "))
			return 1;
	}
	return 0;
}

/* Display width of a line: UTF-8 continuation bytes do not count; tabs to 8 columns. */
static size_t width(const char *l, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];
		if (c == '\t')
			w = (w / 8 + 1) * 8;
		else if ((c & 0xC0) != 0x80)
			w++;
	}
	return w;
}

static size_t indent(const char *l, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (l[i] == ' ')
			w++;
		else if (l[i] == '\t')
			w = (w / 8 + 1) * 8;
		else
			return w;
	}
	return SIZE_MAX;  /* blank */
}

/* 1..4 when u/un underlines l/ln ('*', '=', '-', '.'), else 0. */
static int underline(const char *l, size_t ln, const char *u, size_t un)
{
	static const char marks[] = "*=-.";
	while (un && (u[un - 1] == ' ' || u[un - 1] == '\r'))
		un--;
	while (ln && (l[ln - 1] == ' ' || l[ln - 1] == '\r'))
		ln--;
	if (un < 3 || !ln)
		return 0;
	const char *m = strchr(marks, u[0]);
	if (!m || !u[0])
		return 0;
	for (size_t i = 1; i < un; i++)
		if (u[i] != u[0])
			return 0;
	size_t w = width(l, ln);
	if (un + 1 < w || un > w + 1)
		return 0;
	return (int)(m - marks) + 1;
}

struct block {
	size_t start, end;  /* bytes of s */
	int code;
	int open;
	struct buf text;    /* the block with its cross references reduced */
};

static int ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Cross references as makeinfo writes them, "*note Label: Node." / "*Note Node::" (the label
 * and node may wrap across lines), become their label: "see *note Mode Structure::." reads
 * "see Mode Structure.". Anything else is copied.
 */
static int unref(const char *s, size_t n, struct buf *o)
{
	size_t i = 0;
	int rc = 0;
	while (i < n && !rc) {
		const char *star = memchr(s + i, '*', n - i);
		size_t at = star ? (size_t)(star - s) : n;
		if ((rc = buf_append(o, s + i, at - i)) || at == n)
			break;
		i = at;
		if (n - i < 6 || (memcmp(s + i, "*note", 5) && memcmp(s + i, "*Note", 5)) ||
		    !ws(s[i + 5])) {
			rc = buf_putc(o, '*');
			i++;
			continue;
		}
		size_t l = i + 6, lim = n - l < 400 ? n : l + 400, k = l, end = 0;
		while (k + 1 < lim && !(s[k] == ':' && (s[k + 1] == ':' || ws(s[k + 1]))))
			k++;
		if (k + 1 >= lim) {  /* not a reference after all */
			rc = buf_putc(o, '*');
			i++;
			continue;
		}
		if (s[k + 1] == ':') {
			end = k + 2;
		} else {  /* "Label: Node" ends at the node's first '.' or ',' ("2bc.s": the
			     reference was the word's stem) */
			size_t t = k + 1;
			while (t < lim && s[t] != '.' && s[t] != ',')
				t++;
			if (t >= lim) {
				rc = buf_putc(o, '*');
				i++;
				continue;
			}
			end = t + 1;
		}
		rc = buf_append(o, s + l, k - l);
		i = end;
	}
	return rc;
}

static int flush(const char *s, struct block *b, const struct md_sink *sink, void *ctx,
		 int *had_text)
{
	if (!b->open)
		return 0;
	b->open = 0;
	int rc = sink->para(ctx);
	if (rc)
		return rc;
	*had_text = 1;
	buf_reset(&b->text);
	if ((rc = unref(s + b->start, b->end - b->start, &b->text)) || !b->text.len)
		return rc;
	return b->code ? sink->code(ctx, b->text.data, b->text.len)
		       : sink->text(ctx, b->text.data, b->text.len);
}

int info_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx, size_t *nodes)
{
	enum { PREAMBLE, HEADER, BODY, SKIP } st = PREAMBLE;
	struct block b = { 0 };
	int rc = 0, had_text = 0;
	size_t i = 0;

	*nodes = 0;
	buf_init(&b.text, 0);
	if (!memchr(s, 0x1F, n))
		st = BODY;  /* no nodes at all (a fragment): every line is text */
	while (i < n && !rc) {
		const char *l = s + i, *nl = memchr(l, '\n', n - i);
		size_t len = nl ? (size_t)(nl - l) : n - i;
		size_t next = i + len + (nl != NULL);
		if (len && l[0] == 0x1F) {  /* a node separator */
			if ((rc = flush(s, &b, sink, ctx, &had_text)))
				break;
			if (had_text)
				++*nodes;
			had_text = 0;
			st = HEADER;
			/* the header may follow on the same line */
			if (len > 1) {
				l++;
				len--;
			} else {
				i = next;
				continue;
			}
		}
		if (st == HEADER) {  /* a form feed may follow the separator ("\037\f") */
			while (len && (l[0] == '\n' || l[0] == '\r' || l[0] == '\f'))
				l++, len--;
			if (!len) {  /* blank lines before the header */
				i = next;
				continue;
			}
			st = starts(l, len, "File: ") ? BODY : SKIP;  /* tag / indirect tables */
			i = next;
			continue;
		}
		if (st == PREAMBLE || st == SKIP) {
			i = next;
			continue;
		}
		if (starts(l, len, "* Menu:")) {  /* links to other nodes, to the node's end */
			if ((rc = flush(s, &b, sink, ctx, &had_text)))
				break;
			st = SKIP;
			i = next;
			continue;
		}
		if (starts(l, len, "Local Variables:")) {
			if ((rc = flush(s, &b, sink, ctx, &had_text)))
				break;
			st = SKIP;
			i = next;
			continue;
		}
		size_t ind = indent(l, len);
		if (ind == SIZE_MAX) {  /* blank: ends the block */
			rc = flush(s, &b, sink, ctx, &had_text);
			i = next;
			continue;
		}
		/* a heading: this line, then its underline */
		if (ind < INFO_CODE_INDENT && nl && next < n) {
			const char *u = s + next, *unl = memchr(u, '\n', n - next);
			size_t un = unl ? (size_t)(unl - u) : n - next;
			int level = underline(l, len, u, un);
			if (level) {
				if ((rc = flush(s, &b, sink, ctx, &had_text)) ||
				    (rc = sink->heading_begin(ctx, level)) ||
				    (rc = sink->text(ctx, l, len)) || (rc = sink->heading_end(ctx)))
					break;
				had_text = 1;
				i = next + un + (unl != NULL);
				continue;
			}
		}
		if (!b.open) {  /* the block's first line says what it is: a list item's
				   continuation lines, indented further, stay its text */
			b.open = 1;
			b.code = ind >= INFO_CODE_INDENT;
			b.start = i;
		}
		b.end = i + len;
		i = next;
	}
	if (!rc)
		rc = flush(s, &b, sink, ctx, &had_text);
	if (had_text)
		++*nodes;
	buf_release(&b.text);
	return rc < 0 ? rc : 0;
}
