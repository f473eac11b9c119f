/*
 * pandoc.c — documents pandoc reads, to HTML (pandoc.h).
 *
 * pandoc's exit status: 0 done (warnings on stderr, which goes to /dev/null), anything else
 * a failure (64 a parse error, 83 an I/O refused by the sandbox when the document needs it
 * to proceed...). Its output is taken only after exit 0 with something written.
 */
#include "pandoc.h"
#include "../lib/spawn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PANDOC_HTML_MAX ((size_t)256 << 20)

const char *pandoc_reader(const char *name)
{
	static const struct {
		const char *ext, *reader;
	} map[] = {
		{ ".tex", "latex" }, { ".latex", "latex" }, { ".ltx", "latex" },
		{ ".ipynb", "ipynb" }, { ".org", "org" }, { ".mediawiki", "mediawiki" },
		{ ".wiki", "mediawiki" }, { ".textile", "textile" }, { ".fb2", "fb2" },
		{ ".nxml", "jats" },
	};
	for (size_t k = 0; k < RL_ARRAY_LEN(map); k++)
		if (name_has_ext(name, map[k].ext))  /* paper.tex.gz too */
			return map[k].reader;
	return NULL;
}

/* pandoc titles a page without a title "-" (and says so on stderr): no title, then */
static void drop_dash_title(struct buf *html)
{
	static const char dash[] = "<title>-</title>", none[] = "<title></title>";
	const size_t dl = sizeof(dash) - 1, nl = sizeof(none) - 1;
	char *p = strstr(html->data, dash);
	if (!p)
		return;
	size_t at = (size_t)(p - html->data);
	memmove(p + nl, p + dl, html->len - at - dl + 1);  /* its NUL too */
	memcpy(p, none, nl);
	html->len -= dl - nl;
}

/* pandoc's title block (title, authors, date, abstract) is a <header>, which the HTML path
 * takes for a page's navigation: made a <div> (same length: "div   " pads the tag) */
static void title_block(struct buf *html)
{
	static const char open[] = "<header id=\"title-block-header\">";
	char *p = strstr(html->data, open);
	if (!p)
		return;
	memcpy(p + 1, "div   ", 6);
	char *e = strstr(p, "</header>");
	if (e)
		memcpy(e + 2, "div   ", 6);
}

int pandoc_to_html(const char *from, const char *s, size_t n, double wall_s, struct buf *html,
		   int *missing, char *why, size_t whylen)
{
	char *argv[] = { "pandoc", "--sandbox", "-f", (char *)from, "-t", "html5", "-s",
			 "--mathjax", "--no-highlight", "--wrap=none",
			 "--shift-heading-level-by=1", NULL };
	struct spawn_result res;
	size_t cap = n < (PANDOC_HTML_MAX - (1u << 20)) / 8 ? 8 * n + (1u << 20) : PANDOC_HTML_MAX;

	*missing = 0;
	int rc = spawn_filter("pandoc", 1, argv, s ? s : "", n, wall_s, cap, html, &res);
	int err = errno;
	if (rc == RL_ERR) {
		*missing = err == ENOENT;
		snprintf(why, whylen, "could not run pandoc: %s", strerror(err));
		return RL_ERR;
	}
	if (rc)
		return rc;
	char failed[64];
	snprintf(failed, sizeof(failed), "could not read it as %s", from);
	if (spawn_failed("pandoc", &res, 0, wall_s, cap, failed, why, whylen))
		return RL_ERR;
	if (!html->len) {
		snprintf(why, whylen, "pandoc wrote nothing");
		return RL_ERR;
	}
	if ((rc = buf_putc(html, '\0')))
		return rc;
	html->len--;
	drop_dash_title(html);
	title_block(html);
	return 0;
}
