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
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

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

/*
 * LaTeX commands and environments pandoc does not know (a document class's own: Python's old
 * manuals write \code{True}, \var{cache}, \begin{methoddesc}{request}{uri}...) it drops with
 * everything in them, words of the text. Read with raw_tex, they reach this Lua filter as
 * raw TeX: a command gives its braced arguments as text, but for commands whose arguments
 * are not (labels and references, spacing, files, definitions); an environment gives its
 * arguments as a paragraph and its body read again as LaTeX, the filter applied within.
 */
static const char raw_tex_filter[] =
	"local skip = {label=1, index=1, glossary=1, hspace=1, vspace=1, includegraphics=1,\n"
	"  bibliography=1, bibliographystyle=1, setlength=1, addtolength=1, setcounter=1,\n"
	"  pagestyle=1, thispagestyle=1, documentclass=1, usepackage=1, input=1, include=1,\n"
	"  color=1, definecolor=1, newcommand=1, renewcommand=1, providecommand=1, ref=1,\n"
	"  eqref=1, pageref=1, autoref=1, cref=1, Cref=1, nameref=1}\n"
	"local function args(s)\n"
	"  local out = {}\n"
	"  for a in s:gmatch('%b{}') do out[#out + 1] = a:sub(2, -2) end\n"
	"  return out\n"
	"end\n"
	"local walker\n"
	"local function inline(el)\n"
	"  if el.format ~= 'latex' and el.format ~= 'tex' then return nil end\n"
	"  local name = el.text:match('^\\\\([%a@]+)')\n"
	"  if not name or skip[name] then return {} end\n"
	"  local a = args(el.text)\n"
	"  if #a == 0 then return {} end\n"
	"  return pandoc.Str(table.concat(a, ' '))\n"
	"end\n"
	"local function block(el)\n"
	"  if el.format ~= 'latex' and el.format ~= 'tex' then return nil end\n"
	"  local env, body = el.text:match('^\\\\begin{([%a@*]+)}(.*)\\\\end{[%a@*]+}%s*$')\n"
	"  if not env then\n"
	"    local r = inline(el)\n"
	"    if r == nil or (type(r) == 'table' and #r == 0) then return {} end\n"
	"    return pandoc.Plain({r})\n"
	"  end\n"
	"  local head = {}\n"
	"  while true do\n"
	"    local a, rest = body:match('^%s*(%b{})(.*)$')\n"
	"    if a then head[#head + 1] = a:sub(2, -2); body = rest\n"
	"    else\n"
	"      local o, rest2 = body:match('^%s*(%b[])(.*)$')\n"
	"      if o then body = rest2 else break end\n"
	"    end\n"
	"  end\n"
	"  local blocks = pandoc.read(body, 'latex+raw_tex').blocks\n"
	"  if #head > 0 then\n"
	"    table.insert(blocks, 1, pandoc.Para({pandoc.Str(table.concat(head, ' '))}))\n"
	"  end\n"
	"  return pandoc.walk_block(pandoc.Div(blocks), walker).content\n"
	"end\n"
	"walker = {RawInline = inline, RawBlock = block}\n"
	"RawInline = inline\n"
	"RawBlock = block\n";

/* The filter as a file pandoc can open: a memfd this process keeps, by its /proc path (each
 * open of it starts at its beginning); -1 when it could not be made (then no filter). */
static int filter_fd = -1;
static pthread_once_t filter_once = PTHREAD_ONCE_INIT;

static void filter_make(void)
{
	int fd = memfd_create("ragload-raw-tex.lua", 0);  /* inherited by pandoc: no CLOEXEC */
	if (fd < 0)
		return;
	size_t n = sizeof(raw_tex_filter) - 1, done = 0;
	while (done < n) {
		ssize_t w = write(fd, raw_tex_filter + done, n - done);
		if (w <= 0) {
			close(fd);
			return;
		}
		done += (size_t)w;
	}
	filter_fd = fd;
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
	char filter[64] = "", reader[32];
	if (!strcmp(from, "latex")) {
		pthread_once(&filter_once, filter_make);
		if (filter_fd >= 0)
			snprintf(filter, sizeof(filter), "--lua-filter=/proc/self/fd/%d", filter_fd);
	}
	snprintf(reader, sizeof(reader), "%s%s", from, filter[0] ? "+raw_tex" : "");
	char *argv[] = { "pandoc", "--sandbox", "-f", reader, "-t", "html5", "-s",
			 "--mathjax", "--no-highlight", "--wrap=none",
			 "--shift-heading-level-by=1", filter[0] ? filter : NULL, NULL };
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
