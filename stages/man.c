/*
 * man.c — manual pages to HTML by mandoc (man.h).
 *
 * Detection reads lines, not the whole page: a text file whose first request-looking line is
 * followed by a title macro within 200 lines is a page; ordinary text that happens to start
 * with a dot ("...and so on") has no .TH/.Dd after it.
 * mandoc's exit status: 0 clean, 1-3 warnings and errors it formatted past (output usable),
 * 4 and up unsupported input, bad arguments or a system error. Its output is taken when it
 * exited 0-3 with something written.
 */
#include "man.h"
#include "../lib/spawn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAN_SCAN_LINES 200
#define MAN_HTML_MAX ((size_t)256 << 20)

/* .\" and '\" comment lines, and \" ones (roff reads those as comments too) */
static int is_comment(const char *l, size_t n)
{
	if (n >= 2 && l[0] == '\\' && (l[1] == '"' || l[1] == '#'))
		return 1;
	return n >= 3 && (l[0] == '.' || l[0] == '\'') && l[1] == '\\' && (l[2] == '"' || l[2] == '#');
}

/* Word i (0-based) of a request line's arguments, quotes dropped, into out (size on). */
static void arg_word(const char *l, size_t n, int want, char *out, size_t on)
{
	size_t i = 0, o = 0;
	int w = -1;
	out[0] = '\0';
	while (i < n && l[i] != ' ' && l[i] != '\t')  /* the macro */
		i++;
	while (i < n) {
		while (i < n && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i >= n)
			break;
		w++;
		int q = l[i] == '"';
		if (q)
			i++;
		while (i < n && (q ? l[i] != '"' : (l[i] != ' ' && l[i] != '\t'))) {
			char ch = l[i++];
			if (ch == '\\' && i < n) {  /* the escapes a name carries: \- \e \& \fB \(xx */
				char e = l[i++];
				if (e == '-' || e == 'e' || e == ' ' || e == '\\')
					ch = e == 'e' ? '\\' : e;
				else if (e == 'f' && i < n)
					i += l[i] == '[' && memchr(l + i, ']', n - i)
						     ? (size_t)((const char *)memchr(l + i, ']', n - i) - (l + i)) + 1
						     : 1;
				else if (e == '(' && i + 2 <= n)
					i += 2;
				if (e != '-' && e != 'e' && e != ' ' && e != '\\')
					continue;
			}
			if (w == want && o + 1 < on && (unsigned char)ch >= 0x20)
				out[o++] = ch;
		}
		if (q && i < n)
			i++;
		if (w == want)
			break;
	}
	out[o] = '\0';
}

enum man_kind man_detect(const char *s, size_t n, char *title, size_t tn)
{
	size_t i = 0;
	int lines = 0, first = 1, requests = 0, so = 0, mdoc = 0;

	if (title && tn)
		title[0] = '\0';
	while (i < n && lines < MAN_SCAN_LINES) {
		const char *l = s + i, *nl = memchr(l, '\n', n - i);
		size_t len = nl ? (size_t)(nl - l) : n - i;
		i += len + (nl != NULL);
		lines++;
		if (len && l[len - 1] == '\r')
			len--;
		size_t k = 0;
		while (k < len && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (k == len || is_comment(l, len))
			continue;
		int request = l[0] == '.' || l[0] == '\'';
		if (first) {
			if (!request)
				return MAN_NONE;
			first = 0;
		}
		if (!request)
			continue;
		requests++;
		if (len > 3 && !memcmp(l, ".so", 3) && (l[3] == ' ' || l[3] == '\t'))
			so++;
		int th = len > 3 && !memcmp(l, ".TH", 3) && (l[3] == ' ' || l[3] == '\t');
		int dt = len > 3 && !memcmp(l, ".Dt", 3) && (l[3] == ' ' || l[3] == '\t');
		int dd = len >= 3 && !memcmp(l, ".Dd", 3) && (len == 3 || l[3] == ' ' || l[3] == '\t');
		if (th || dt) {
			if (title && tn) {
				char name[128], sec[32];
				arg_word(l, len, 0, name, sizeof(name));
				arg_word(l, len, 1, sec, sizeof(sec));
				if (name[0])
					snprintf(title, tn, sec[0] ? "%s(%s)" : "%s", name, sec);
			}
			return MAN_PAGE;
		}
		if (dd)  /* mdoc: its .Dt (the title) follows */
			mdoc = 1;
	}
	if (mdoc)
		return MAN_PAGE;
	return so && so == requests ? MAN_LINK : MAN_NONE;
}

/* Removes the first <table class="NAME"> ... </table> of b (mandoc writes no nested one). */
static void drop_table(struct buf *b, const char *name)
{
	char open[48];
	snprintf(open, sizeof(open), "<table class=\"%s\">", name);
	char *a = b->len ? memmem(b->data, b->len, open, strlen(open)) : NULL;
	if (!a)
		return;
	char *e = memmem(a, b->len - (size_t)(a - b->data), "</table>", 8);
	if (!e)
		return;
	e += 8;
	memmove(a, e, b->len - (size_t)(e - b->data));
	b->len -= (size_t)(e - a);
	b->data[b->len] = '\0';
}

/*
 * s/n with its .so requests made comments: mandoc resolves ".so FILE" against its working
 * directory, so a page from an untrusted archive could pull a file of the machine running
 * ragload into the corpus. A page that is only a .so is a MAN_LINK and never formatted.
 */
static int drop_so(const char *s, size_t n, struct buf *o)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		const char *l = s + i, *nl = memchr(l, '\n', n - i);
		size_t len = nl ? (size_t)(nl - l) + 1 : n - i, k = 1;
		if (len > 3 && (l[0] == '.' || l[0] == '\'')) {
			while (k < len && (l[k] == ' ' || l[k] == '\t'))
				k++;
			if (k + 2 < len && l[k] == 's' && l[k + 1] == 'o' &&
			    (l[k + 2] == ' ' || l[k + 2] == '\t' || l[k + 2] == '\n')) {
				rc = buf_append(o, ".\\\" .so dropped\n", 16);
				i += len;
				continue;
			}
		}
		rc = buf_append(o, l, len);
		i += len;
	}
	return rc;
}

int man_to_html(const char *s, size_t n, double wall_s, struct buf *html, int *missing,
		char *why, size_t whylen)
{
	char *argv[] = { "mandoc", "-T", "html", "-O", "fragment", NULL };
	struct spawn_result res;
	size_t cap = n < (MAN_HTML_MAX - (1u << 20)) / 8 ? 8 * n + (1u << 20) : MAN_HTML_MAX;
	struct buf safe;

	*missing = 0;
	buf_init(&safe, 0);
	int rc = drop_so(s, n, &safe);
	if (!rc)
		rc = spawn_filter("mandoc", 1, argv, safe.data ? safe.data : "", safe.len, wall_s, cap,
				  html, &res);
	int err = errno;
	buf_release(&safe);
	if (rc == RL_ERR) {
		*missing = err == ENOENT;
		snprintf(why, whylen, "could not run mandoc: %s", strerror(err));
		return RL_ERR;
	}
	if (rc)
		return rc;
	if (spawn_failed("mandoc", &res, 3, wall_s, cap, NULL, why, whylen))
		return RL_ERR;
	if (!html->len) {
		snprintf(why, whylen, "mandoc wrote nothing");
		return RL_ERR;
	}
	if ((rc = buf_putc(html, '\0')))
		return rc;
	html->len--;
	drop_table(html, "head");
	drop_table(html, "foot");
	return 0;
}
