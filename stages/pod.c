/*
 * pod.c — POD to text events (pod.h).
 *
 * How: one pass over lines gathers a paragraph (lines up to a blank or whitespace-only one);
 * each paragraph is a command (starts with '=' and a letter), verbatim (starts with a space
 * or tab) or ordinary. Ordinary text and command arguments go through fmt(), which expands
 * formatting codes into a buffer (recursion bounded by POD_DEPTH); the buffer goes to the sink
 * as text, whose whitespace the emitter collapses (POD's line breaks inside a paragraph are
 * spaces). Verbatim paragraphs go to the sink as code, lines and indentation kept.
 */
#include "pod.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POD_DEPTH 32
#define TITLE_MAX 512

static int is_blank_line(const char *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] != ' ' && l[i] != '\t' && l[i] != '\r')
			return 0;
	return 1;
}

static int is_command(const char *s, size_t n)
{
	return n >= 2 && s[0] == '=' && isalpha((unsigned char)s[1]);
}

/* Is l/len one of the commands POD may start with? */
static int first_command(const char *l, size_t len)
{
	static const char *const first[] = { "pod", "head1", "head2", "head3", "head4", "head5",
					     "head6", "encoding", "begin", "for", "over" };
	if (!is_command(l, len))
		return 0;
	for (size_t k = 0; k < sizeof(first) / sizeof(*first); k++) {
		size_t m = strlen(first[k]);
		if (len >= m + 1 && !memcmp(l + 1, first[k], m) &&
		    (len == m + 1 || l[m + 1] == ' ' || l[m + 1] == '\t' || l[m + 1] == '\r'))
			return 1;
	}
	return 0;
}

int pod_detect(const char *s, size_t n, const char *name)
{
	size_t nl_len = name ? strlen(name) : 0;
	int named = nl_len > 4 && !strcasecmp(name + nl_len - 4, ".pod");
	size_t i = 0;
	while (i < n) {
		const char *l = s + i, *nl = memchr(l, '\n', n - i);
		size_t len = nl ? (size_t)(nl - l) : n - i;
		i += len + (nl != NULL);
		if (is_blank_line(l, len))
			continue;
		if (first_command(l, len))
			return 1;
		/* under a .pod name, text may come before the first command (a preamble) */
		if (!named)
			return 0;
	}
	return 0;
}

static int put_cp(struct buf *o, unsigned long cp)
{
	char u[4];
	size_t k;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	if (cp < 0x80) {
		u[0] = (char)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		k = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		k = 4;
	}
	return buf_append(o, u, k);
}

/* E<...>: the character it names; nothing for a name nobody knows. */
static int put_entity(struct buf *o, const char *s, size_t n)
{
	char name[32];
	if (!n || n >= sizeof(name))
		return 0;
	memcpy(name, s, n);
	name[n] = '\0';
	if (!strcmp(name, "lt"))
		return buf_putc(o, '<');
	if (!strcmp(name, "gt"))
		return buf_putc(o, '>');
	if (!strcmp(name, "verbar"))
		return buf_putc(o, '|');
	if (!strcmp(name, "sol"))
		return buf_putc(o, '/');
	if (isdigit((unsigned char)name[0])) {
		char *end;
		unsigned long cp = strtoul(name, &end, name[0] == '0' && (name[1] == 'x' || name[1] == 'X') ? 16 : name[0] == '0' ? 8 : 10);
		return *end ? 0 : put_cp(o, cp);
	}
	const htmlEntityDesc *ent = htmlEntityLookup((const xmlChar *)name);
	return ent ? put_cp(o, ent->value) : 0;
}

static int fmt(const char *s, size_t n, struct buf *o, int depth);

/* L<...>: "text|target" gives text; "name/sec" "sec in name"; "/sec" sec; else as written. */
static int put_link(const char *s, size_t n, struct buf *o, int depth)
{
	const char *bar = NULL;
	int nest = 0;
	for (size_t i = 0; i < n; i++) {  /* the '|' outside nested codes */
		if (i + 1 < n && isupper((unsigned char)s[i]) && s[i + 1] == '<')
			nest++;
		else if (s[i] == '>' && nest)
			nest--;
		else if (s[i] == '|' && !nest) {
			bar = s + i;
			break;
		}
	}
	if (bar)
		return fmt(s, (size_t)(bar - s), o, depth);
	if (memmem(s, n, "://", 3))
		return fmt(s, n, o, depth);  /* a URL, as written */
	const char *slash = memchr(s, '/', n);
	if (!slash)
		return fmt(s, n, o, depth);
	const char *sec = slash + 1;
	size_t sn = n - (size_t)(sec - s), nn = (size_t)(slash - s);
	if (sn >= 2 && sec[0] == '"' && sec[sn - 1] == '"') {
		sec++;
		sn -= 2;
	}
	int rc = fmt(sec, sn, o, depth);
	if (!rc && nn) {
		rc = buf_append(o, " in ", 4);
		if (!rc)
			rc = fmt(s, nn, o, depth);
	}
	return rc;
}

/* Expands the formatting codes of s/n into o. */
static int fmt(const char *s, size_t n, struct buf *o, int depth)
{
	size_t i = 0;
	int rc = 0;
	while (i < n && !rc) {
		char c = s[i];
		if (!(depth < POD_DEPTH && i + 1 < n && s[i + 1] == '<' && strchr("IBCLEFSXZ", c) && c)) {
			rc = buf_putc(o, c);
			i++;
			continue;
		}
		size_t j = i + 1, k = 0;
		while (j < n && s[j] == '<') {
			k++;
			j++;
		}
		size_t cs, ce, next;  /* content [cs, ce), then go on at next */
		if (k >= 2 && (j >= n || !isspace((unsigned char)s[j]))) {
			k = 1;  /* "S<<-- HERE>": a single-bracket code whose text starts with '<' */
			j = i + 2;
		}
		if (k >= 2) {
			cs = j;
			ce = next = n;
			for (size_t p = j; p + k <= n; p++) {  /* whitespace then k '>' */
				if (!isspace((unsigned char)s[p]))
					continue;
				size_t q = p;
				while (q < n && isspace((unsigned char)s[q]))
					q++;
				size_t g = 0;
				while (q + g < n && s[q + g] == '>' && g < k)
					g++;
				if (g == k) {
					ce = p;
					next = q + k;
					break;
				}
				p = q - 1;
			}
			while (cs < ce && isspace((unsigned char)s[cs]))
				cs++;
			while (ce > cs && isspace((unsigned char)s[ce - 1]))
				ce--;
		} else {
			int nest = 0;
			cs = j;
			ce = next = n;
			for (size_t p = j; p < n; p++) {
				if (p + 1 < n && isupper((unsigned char)s[p]) && s[p + 1] == '<') {
					nest++;
					p++;
				} else if (s[p] == '>') {
					if (!nest) {
						ce = p;
						next = p + 1;
							break;
					}
					nest--;
				}
			}
		}
		/* a code never closed runs to the paragraph's end (ce = next = n), as Pod::Simple
		 * reads it: no opener's scan is repeated, so this is linear whatever the brackets */
		switch (c) {
		case 'E':
			rc = put_entity(o, s + cs, ce - cs);
			break;
		case 'L':
			rc = put_link(s + cs, ce - cs, o, depth + 1);
			break;
		case 'X':
		case 'Z':
			break;
		default:
			rc = fmt(s + cs, ce - cs, o, depth + 1);
		}
		i = next;
	}
	return rc;
}

struct pod_state {
	const struct md_sink *sink;
	void *ctx;
	struct buf *title;
	struct buf tmp;
	int want_title;  /* the paragraph after =head1 NAME is the title */
	int skip;        /* inside =begin blocks for other formatters (depth) */
};

/* Formats s/n and hands it on as a paragraph's text; 1 when the sink stopped. */
static int para_text(struct pod_state *st, const char *s, size_t n)
{
	buf_reset(&st->tmp);
	int rc = fmt(s, n, &st->tmp, 0);
	if (rc)
		return rc;
	if (!st->tmp.len)
		return 0;
	if ((rc = st->sink->para(st->ctx)))
		return rc;
	return st->sink->text(st->ctx, st->tmp.data, st->tmp.len);
}

static int word_is(const char *w, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(w, lit, n);
}

static int command(struct pod_state *st, const char *p, size_t n, int *in_pod)
{
	size_t i = 1;
	while (i < n && !isspace((unsigned char)p[i]))
		i++;
	const char *cmd = p + 1, *arg = p + i;
	size_t cn = i - 1, an = n - i;
	while (an && isspace((unsigned char)*arg)) {
		arg++;
		an--;
	}
	while (an && isspace((unsigned char)arg[an - 1]))
		an--;
	if (word_is(cmd, cn, "cut")) {
		*in_pod = 0;
		return 0;
	}
	if (word_is(cmd, cn, "begin")) {
		if (st->skip || !(word_is(arg, an < 4 ? an : 4, "text") || (an && arg[0] == ':')))
			st->skip++;
		return 0;
	}
	if (word_is(cmd, cn, "end")) {
		if (st->skip)
			st->skip--;
		return 0;
	}
	if (st->skip)
		return 0;
	if (cn == 5 && !memcmp(cmd, "head", 4) && cmd[4] >= '1' && cmd[4] <= '6') {
		buf_reset(&st->tmp);
		int rc = fmt(arg, an, &st->tmp, 0);
		if (rc || !st->tmp.len)
			return rc;
		st->want_title = cmd[4] == '1' && word_is(st->tmp.data, st->tmp.len, "NAME");
		if ((rc = st->sink->heading_begin(st->ctx, cmd[4] - '0')) ||
		    (rc = st->sink->text(st->ctx, st->tmp.data, st->tmp.len)))
			return rc;
		return st->sink->heading_end(st->ctx);
	}
	if (word_is(cmd, cn, "item")) {
		size_t d = 0;
		while (d < an && isdigit((unsigned char)arg[d]))
			d++;
		if ((an == 1 && (arg[0] == '*' || arg[0] == 'o')) || (d && (d == an || (d + 1 == an && arg[d] == '.'))))
			return 0;  /* a bare list marker: the paragraph after it is the item */
		return para_text(st, arg, an);
	}
	if (word_is(cmd, cn, "for")) {  /* =for text ...: the rest is text; other formatters': not */
		size_t w = 0;
		while (w < an && !isspace((unsigned char)arg[w]))
			w++;
		if (word_is(arg, w, "text") || (w && arg[0] == ':')) {
			while (w < an && isspace((unsigned char)arg[w]))
				w++;
			return para_text(st, arg + w, an - w);
		}
	}
	return 0;  /* =pod, =over, =back, =encoding, unknown commands */
}

static int paragraph(struct pod_state *st, const char *p, size_t n, int *in_pod)
{
	if (!*in_pod) {
		if (!is_command(p, n))
			return 0;
		*in_pod = 1;
	}
	if (is_command(p, n))
		return command(st, p, n, in_pod);
	if (st->skip)
		return 0;
	if (p[0] == ' ' || p[0] == '\t') {
		int rc = st->sink->para(st->ctx);
		return rc ? rc : st->sink->code(st->ctx, p, n);
	}
	if (st->want_title && st->title && !st->title->len) {
		buf_reset(&st->tmp);
		int rc = fmt(p, n, &st->tmp, 0);
		if (rc)
			return rc;
		size_t tn = st->tmp.len < TITLE_MAX ? st->tmp.len : TITLE_MAX;
		while (tn && ((unsigned char)st->tmp.data[tn - 1] & 0xC0) == 0x80)
			tn--;  /* never half a character */
		if (tn && ((unsigned char)st->tmp.data[tn - 1] & 0x80) && tn < st->tmp.len)
			tn--;
		for (size_t i = 0; i < tn && !rc; i++)
			rc = buf_putc(st->title, st->tmp.data[i] == '\n' ? ' ' : st->tmp.data[i]);
		if (rc)
			return rc;
	}
	st->want_title = 0;
	return para_text(st, p, n);
}

int pod_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx, struct buf *title)
{
	struct pod_state st = { .sink = sink, .ctx = ctx, .title = title };
	size_t i = 0, ps = 0, pe = 0;  /* the paragraph gathered: [ps, pe) */
	int in_pod = 0, rc = 0, have = 0;

	buf_init(&st.tmp, 0);
	while (!rc && i <= n) {
		const char *l = s + i, *nl = i < n ? memchr(l, '\n', n - i) : NULL;
		size_t len = i < n ? (nl ? (size_t)(nl - l) : n - i) : 0;
		int end = i >= n, blank = end || is_blank_line(l, len);
		/* outside POD a command starts a paragraph even right after a line of code */
		if (have && (blank || (!in_pod && is_command(l, len)))) {
			rc = paragraph(&st, s + ps, pe - ps, &in_pod);
			have = 0;
		}
		if (end || rc)
			break;
		if (!blank) {
			if (!have) {
				ps = i;
				have = 1;
			}
			pe = i + len;
		}
		i += len + (nl != NULL);
		if (!nl)
			i = n;  /* the last line had no newline: one more turn ends the paragraph */
	}
	buf_release(&st.tmp);
	return rc < 0 ? rc : 0;
}
