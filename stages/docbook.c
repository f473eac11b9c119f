/*
 * docbook.c — DocBook XML to HTML (docbook.h).
 *
 * One SAX pass over libxml2's XML parser writes the page: each element is looked up in a
 * table that says what it becomes (a division, a heading's title, a block, code, a list, a
 * table part, skipped with everything in it, or nothing: inline markup is its text). A
 * division's title becomes <hN>, N its division depth (the root 1, at most 6), wherever
 * DocBook puts it: first in the division or in its info block (DocBook 5's <info>, 4's
 * <sect1info>...). Titles of anything else (a table, an example, a note) are paragraphs.
 */
#include "docbook.h"

#include <libxml/HTMLparser.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DB_SNIFF ((size_t)64 << 10)
#define DB_MAX_DEPTH 512        /* elements tracked; deeper ones are text (libxml2 stops at 256) */
#define DB_CHUNK ((size_t)1 << 20)
#define DB_NS "http://docbook.org/ns/docbook"
#define MAL_NS "http://projectmallard.org/1.0/"
#define DB_TAIL 15              /* "</body></html>\n" */

/* ---- what an element becomes --------------------------------------------------------------- */

enum db_role {
	R_INLINE,   /* its text, no tag */
	R_DIV,      /* a division: its title is a heading */
	R_TITLE,    /* a title: the heading of its division, else a paragraph */
	R_INFO,     /* metadata: only a title in it is read */
	R_SKIP,     /* nothing in it is text */
	R_PARA,     /* <p> */
	R_BLOCK,    /* <div> */
	R_PRE,      /* <pre> */
	R_UL, R_OL, R_LI, R_DL, R_DT, R_DD,
	R_TABLE, R_TR, R_TD, R_TH,
	R_SPACED,   /* inline, a space before it (a command's arguments, a refname's purpose) */
	R_FOOTNOTE, /* inline: its paragraphs run on in the sentence that holds it */
	R_ENTRY,    /* a variable list's or glossary's entry: its listitem is a <dd> */
	R_SEQ,      /* inline, its elements joined: keys by "+", menu items by " > " */
};

struct db_entry {
	const char *name;
	enum db_role role;
};

/* sorted by name, bytewise (bsearch; docbook_table_ok() checks the order) */
static const struct db_entry db_table[] = {
	{"abstract", R_BLOCK},
	{"acknowledgements", R_DIV},
	{"address", R_PRE},
	{"anchor", R_SKIP},
	{"annotation", R_SKIP},
	{"answer", R_BLOCK},
	{"appendix", R_DIV},
	{"appendixinfo", R_INFO},
	{"area", R_SKIP},
	{"areaset", R_SKIP},
	{"areaspec", R_SKIP},
	{"arg", R_SPACED},
	{"article", R_DIV},
	{"articleinfo", R_INFO},
	{"audioobject", R_SKIP},
	{"beginpage", R_SKIP},
	{"bibliodiv", R_DIV},
	{"biblioentry", R_PARA},
	{"bibliography", R_DIV},
	{"bibliographyinfo", R_INFO},
	{"bibliomixed", R_PARA},
	{"blockinfo", R_INFO},
	{"blockquote", R_BLOCK},
	{"book", R_DIV},
	{"bookinfo", R_INFO},
	{"callout", R_LI},
	{"calloutlist", R_UL},
	{"caption", R_PARA},
	{"caution", R_BLOCK},
	{"chapter", R_DIV},
	{"chapterinfo", R_INFO},
	{"classsynopsisinfo", R_PRE},
	{"cmdsynopsis", R_PARA},
	{"co", R_SKIP},
	{"colophon", R_DIV},
	{"colspec", R_SKIP},
	{"comment", R_SKIP},
	{"coref", R_SKIP},
	{"dedication", R_DIV},
	{"docinfo", R_INFO},
	{"entry", R_TD},
	{"entrytbl", R_TD},
	{"epigraph", R_BLOCK},
	{"equation", R_BLOCK},
	{"example", R_BLOCK},
	{"figure", R_BLOCK},
	{"footnote", R_FOOTNOTE},
	{"formalpara", R_BLOCK},
	{"funcprototype", R_PARA},
	{"funcsynopsis", R_BLOCK},
	{"funcsynopsisinfo", R_PRE},
	{"glossary", R_DIV},
	{"glossaryinfo", R_INFO},
	{"glossdef", R_DD},
	{"glossdiv", R_DIV},
	{"glossentry", R_ENTRY},
	{"glosslist", R_DL},
	{"glossterm", R_INLINE},
	{"group", R_SPACED},
	{"highlights", R_BLOCK},
	{"imagedata", R_SKIP},
	{"imageobject", R_SKIP},
	{"imageobjectco", R_SKIP},
	{"important", R_BLOCK},
	{"index", R_SKIP},
	{"indexdiv", R_SKIP},
	{"indexentry", R_SKIP},
	{"indexinfo", R_SKIP},
	{"indexterm", R_SKIP},
	{"info", R_INFO},
	{"informalequation", R_BLOCK},
	{"informalexample", R_BLOCK},
	{"informalfigure", R_BLOCK},
	{"informaltable", R_TABLE},
	{"itemizedlist", R_UL},
	{"legalnotice", R_SKIP},
	{"lineannotation", R_SPACED},
	{"listitem", R_LI},
	{"literallayout", R_PRE},
	{"lot", R_SKIP},
	{"mediaobject", R_BLOCK},
	{"member", R_LI},
	{"msgset", R_BLOCK},
	{"note", R_BLOCK},
	{"objectinfo", R_INFO},
	{"orderedlist", R_OL},
	{"para", R_PARA},
	{"paramdef", R_SPACED},
	{"part", R_DIV},
	{"partinfo", R_INFO},
	{"partintro", R_BLOCK},
	{"preface", R_DIV},
	{"prefaceinfo", R_INFO},
	{"procedure", R_OL},
	{"programlisting", R_PRE},
	{"qandadiv", R_DIV},
	{"qandaentry", R_BLOCK},
	{"qandaset", R_BLOCK},
	{"question", R_BLOCK},
	{"refentry", R_DIV},
	{"refentryinfo", R_INFO},
	{"reference", R_DIV},
	{"referenceinfo", R_INFO},
	{"refmeta", R_SKIP},
	{"refname", R_SPACED},
	{"refnamediv", R_PARA},
	{"refpurpose", R_SPACED},
	{"refsect1", R_DIV},
	{"refsect1info", R_INFO},
	{"refsect2", R_DIV},
	{"refsect2info", R_INFO},
	{"refsect3", R_DIV},
	{"refsect3info", R_INFO},
	{"refsection", R_DIV},
	{"refsectioninfo", R_INFO},
	{"refsynopsisdiv", R_DIV},
	{"refsynopsisdivinfo", R_INFO},
	{"remark", R_SKIP},
	{"revhistory", R_SKIP},
	{"row", R_TR},
	{"sbr", R_SPACED},
	{"screen", R_PRE},
	{"screenco", R_BLOCK},
	{"screeninfo", R_SKIP},
	{"sect1", R_DIV},
	{"sect1info", R_INFO},
	{"sect2", R_DIV},
	{"sect2info", R_INFO},
	{"sect3", R_DIV},
	{"sect3info", R_INFO},
	{"sect4", R_DIV},
	{"sect4info", R_INFO},
	{"sect5", R_DIV},
	{"sect5info", R_INFO},
	{"section", R_DIV},
	{"sectioninfo", R_INFO},
	{"set", R_DIV},
	{"setindex", R_SKIP},
	{"setinfo", R_INFO},
	{"sidebar", R_BLOCK},
	{"simpara", R_PARA},
	{"simplelist", R_UL},
	{"simplesect", R_DIV},
	{"spanspec", R_SKIP},
	{"step", R_LI},
	{"stepalternatives", R_UL},
	{"subjectset", R_SKIP},
	{"substeps", R_OL},
	{"subtitle", R_SKIP},
	{"synopsis", R_PRE},
	{"table", R_TABLE},
	{"td", R_TD},
	{"term", R_DT},
	{"textobject", R_BLOCK},
	{"th", R_TH},
	{"tip", R_BLOCK},
	{"title", R_TITLE},
	{"titleabbrev", R_SKIP},
	{"toc", R_SKIP},
	{"topic", R_DIV},
	{"tr", R_TR},
	{"variablelist", R_DL},
	{"varlistentry", R_ENTRY},
	{"videoobject", R_SKIP},
	{"warning", R_BLOCK},
};

/* Mallard (GNOME's help pages), sorted likewise: its info block is link titles and
 * credits, so not read at all; a page's or section's title is the heading */
static const struct db_entry mal_table[] = {
	{"comment", R_SKIP},
	{"example", R_BLOCK},
	{"figure", R_BLOCK},
	{"gui", R_INLINE},
	{"guiseq", R_SEQ},
	{"info", R_SKIP},
	{"item", R_LI},
	{"key", R_INLINE},
	{"keyseq", R_SEQ},
	{"links", R_SKIP},
	{"list", R_UL},
	{"listing", R_BLOCK},
	{"media", R_SKIP},
	{"note", R_BLOCK},
	{"p", R_PARA},
	{"page", R_DIV},
	{"quote", R_BLOCK},
	{"screen", R_PRE},
	{"section", R_DIV},
	{"steps", R_OL},
	{"subtitle", R_SKIP},
	{"synopsis", R_BLOCK},
	{"table", R_TABLE},
	{"td", R_TD},
	{"terms", R_DL},
	{"th", R_TH},
	{"title", R_TITLE},
	{"tr", R_TR},
	{"tree", R_UL},
};

static int db_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct db_entry *)e)->name);
}

static enum db_role role_in(const struct db_entry *t, size_t n, const char *name)
{
	const struct db_entry *e = bsearch(name, t, n, sizeof(t[0]), db_cmp);
	return e ? e->role : R_INLINE;
}

static enum db_role role_of(const char *name)
{
	return role_in(db_table, RL_ARRAY_LEN(db_table), name);
}

int docbook_table_ok(void)
{
	for (size_t i = 1; i < RL_ARRAY_LEN(db_table); i++)
		if (strcmp(db_table[i - 1].name, db_table[i].name) >= 0)
			return 0;
	for (size_t i = 1; i < RL_ARRAY_LEN(mal_table); i++)
		if (strcmp(mal_table[i - 1].name, mal_table[i].name) >= 0)
			return 0;
	return 1;
}

/* ---- detection ------------------------------------------------------------------------------ */

/* divisions only DocBook has: a root of these without a namespace is DocBook 4 */
static int db4_root(const char *name, size_t n)
{
	static const char *const roots[] = {
		"appendix", "article", "book", "chapter", "preface", "refentry", "reference",
		"sect1", "sect2", "sect3", "sect4", "sect5", "refsect1", "refsection",
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(roots); i++)
		if (strlen(roots[i]) == n && !memcmp(roots[i], name, n))
			return 1;
	return 0;
}

/* a division DocBook 5 may root a document at (with its namespace declared) */
static int db5_root(const char *name, size_t n)
{
	char b[32];
	if (n >= sizeof(b))
		return 0;
	memcpy(b, name, n);
	b[n] = '\0';
	return role_of(b) == R_DIV;
}

static const char *find(const char *s, size_t n, const char *what)
{
	size_t w = strlen(what);
	for (size_t i = 0; i + w <= n; i++)
		if (s[i] == what[0] && !memcmp(s + i, what, w))
			return s + i;
	return NULL;
}

static int ci_has(const char *s, size_t n, const char *what)
{
	size_t w = strlen(what);
	for (size_t i = 0; i + w <= n; i++)
		if (!strncasecmp(s + i, what, w))
			return 1;
	return 0;
}

int docbook_detect(const char *s, size_t n)
{
	size_t i = 0;
	if (!s)
		return 0;
	if (n > DB_SNIFF)
		n = DB_SNIFF;
	if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
		i = 3;
	for (;;) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i >= n || s[i] != '<')
			return 0;
		if (n - i >= 4 && !memcmp(s + i, "<!--", 4)) {
			const char *e = find(s + i + 4, n - i - 4, "-->");
			if (!e)
				return 0;
			i = (size_t)(e - s) + 3;
		} else if (n - i >= 2 && s[i + 1] == '?') {
			const char *e = find(s + i + 2, n - i - 2, "?>");
			if (!e)
				return 0;
			i = (size_t)(e - s) + 2;
		} else if (n - i >= 9 && !strncasecmp(s + i, "<!DOCTYPE", 9)) {
			/* up to its end: the internal subset's ']' then '>', or the first '>' */
			size_t j = i + 9, lim;
			const char *br = memchr(s + j, '[', n - j), *gt = memchr(s + j, '>', n - j);
			if (!gt)
				return 0;
			if (br && br < gt) {
				const char *e = find(br, n - (size_t)(br - s), "]");
				while (e && (size_t)(e - s) + 1 < n) {
					size_t k = (size_t)(e - s) + 1;
					while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' ||
							 s[k] == '\n'))
						k++;
					if (k < n && s[k] == '>')
						break;
					e = find(e + 1, n - (size_t)(e + 1 - s), "]");
				}
				if (!e)
					return 0;
				lim = (size_t)(e - s);
			} else {
				lim = (size_t)(gt - s);
			}
			/* the public or system identifier of DocBook's DTDs */
			if (ci_has(s + i, (br && br < gt ? (size_t)(br - s) : lim) - i, "docbook"))
				return 2;
			const char *e = memchr(s + lim, '>', n - lim);
			if (!e)
				return 0;
			i = (size_t)(e - s) + 1;
		} else {
			break;
		}
	}
	/* the root's start tag: its name (any prefix dropped) and its attributes */
	size_t a = i + 1, b = a;
	while (b < n && s[b] != ' ' && s[b] != '\t' && s[b] != '\r' && s[b] != '\n' &&
	       s[b] != '>' && s[b] != '/')
		b++;
	const char *colon = memchr(s + a, ':', b - a);
	size_t na = colon ? (size_t)(colon - s) + 1 : a;
	const char *gt = memchr(s + b, '>', n - b);
	size_t end = gt ? (size_t)(gt - s) : n;
	if (find(s + b, end - b, MAL_NS))
		return 3;  /* Mallard: a page, or a fragment pages include (legal.xml's license) */
	int ns = find(s + b, end - b, DB_NS) != NULL;
	int any_ns = find(s + b, end - b, "xmlns") != NULL;
	if (ns)
		return db5_root(s + na, b - na) ? 2 : 0;
	return !any_ns && !colon && db4_root(s + a, b - a) ? 1 : 0;
}

/* ---- conversion ----------------------------------------------------------------------------- */

struct dbw {
	struct buf *out;
	size_t max;
	int cut, failed, stopped;
	int mallard;               /* the vocabulary: Mallard, else DocBook */
	xmlParserCtxtPtr ctxt;
	xmlDocPtr ents;            /* the entities handed to the parser (internal, HTML names) */
	int depth;                 /* open elements */
	int skip;                  /* > 0: the depth of the skipped element we are in */
	int info;                  /* > 0: the depth of the info block we are in */
	int divs;                  /* open divisions */
	int footnote;              /* open footnotes */
	int pre;                   /* open code blocks */
	int title_depth;           /* > 0: the depth of the heading title being written */
	int root_title;            /* the title being written is the document's */
	struct buf title;          /* the document's title */
	int titled[DB_MAX_DEPTH];  /* division i (1-based) has had its title */
	const char *close[DB_MAX_DEPTH];
	const char *seq[DB_MAX_DEPTH];   /* R_SEQ: what joins its elements */
	int kids[DB_MAX_DEPTH];          /* R_SEQ: its elements so far */
	enum db_role role[DB_MAX_DEPTH];
	int got_refname;
	size_t text;               /* bytes of text written */
	char why[160];
};

static void put(struct dbw *w, const char *s, size_t n)
{
	if (w->failed || w->cut)
		return;
	if (w->out->len + n + DB_TAIL > w->max) {  /* room kept for the page's end */
		w->cut = 1;
		return;
	}
	if (buf_append(w->out, s, n))
		w->failed = 1;
}

/* At the end of a callback (never before: stopping frees the input its arguments point
 * into), the parser stops once the page is cut or memory ran out. */
static void settle(struct dbw *w)
{
	if ((w->cut || w->failed) && !w->stopped) {
		w->stopped = 1;
		xmlStopParser(w->ctxt);
	}
}

static void puts_(struct dbw *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_text(struct dbw *w, const char *s, size_t n)
{
	size_t i = 0, from = 0;
	for (; i < n; i++) {
		const char *rep = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;"
											: NULL;
		if (!rep)
			continue;
		put(w, s + from, i - from);
		puts_(w, rep);
		from = i + 1;
	}
	put(w, s + from, n - from);
	w->text += n;
}

/* the element's role where it stands: a listitem in a variable list is a <dd>, a title is a
 * heading when its parent (or its info block's parent) is a division without a title yet */
static enum db_role role_here(struct dbw *w, int d, const char *name)
{
	enum db_role parent = d > 0 && d <= DB_MAX_DEPTH ? w->role[d - 1] : R_INLINE;
	if (w->mallard) {
		enum db_role r = role_in(mal_table, RL_ARRAY_LEN(mal_table), name);
		/* <code> is a block where blocks stand, else a word in a paragraph */
		if (!strcmp(name, "code") && (parent == R_DIV || parent == R_BLOCK ||
					      parent == R_LI || parent == R_DD || parent == R_TD))
			r = R_PRE;
		if (r == R_LI && parent == R_DL)  /* a term's item: its title, then its text */
			r = R_BLOCK;
		return r;
	}
	enum db_role r = role_of(name);
	if (parent == R_ENTRY && !strcmp(name, "listitem"))
		r = R_DD;  /* varlistentry's listitem */
	else if (parent == R_ENTRY && !strcmp(name, "glossterm"))
		r = R_DT;
	return r;
}

static void start(struct dbw *w, const char *name)
{
	int d = w->depth++;
	if (d >= DB_MAX_DEPTH || w->skip)
		return;
	if (d > 0 && w->role[d - 1] == R_SEQ && w->kids[d - 1]++ > 0)
		puts_(w, w->seq[d - 1]);
	w->kids[d] = 0;
	enum db_role r = role_here(w, d, name);
	w->role[d] = r;
	w->close[d] = NULL;
	if (w->info && r != R_TITLE) {
		r = R_SKIP;
		w->role[d] = R_SKIP;
	}
	switch (r) {
	case R_SKIP:
		w->skip = d + 1;
		return;
	case R_INFO:
		w->info = d + 1;
		return;
	case R_DIV:
		w->divs++;
		if (w->divs <= DB_MAX_DEPTH)
			w->titled[w->divs - 1] = 0;
		if (!strcmp(name, "refsynopsisdiv")) {
			char h[48];
			int lv = w->divs < 6 ? w->divs : 6;
			snprintf(h, sizeof(h), "<h%d>Synopsis</h%d>\n", lv, lv);
			puts_(w, h);
			if (w->divs <= DB_MAX_DEPTH)
				w->titled[w->divs - 1] = 1;
		}
		return;
	case R_TITLE: {
		/* the division's heading: directly in it, or in its info block */
		int parent = d - 1, in_info = w->info && w->info == d;
		if (in_info)
			parent = d - 2;
		int is_div = parent >= 0 && w->role[parent] == R_DIV && w->divs > 0 &&
			     w->divs <= DB_MAX_DEPTH && !w->titled[w->divs - 1] && !w->title_depth;
		if (w->info && !in_info) {  /* a title deeper in an info block */
			w->skip = d + 1;
			return;
		}
		if (!is_div) {
			if (in_info) {  /* a second title of the division */
				w->skip = d + 1;
				return;
			}
			puts_(w, "<p>");
			w->close[d] = "</p>\n";
			return;
		}
		char h[24];
		int lv = w->divs < 6 ? w->divs : 6;
		w->titled[w->divs - 1] = 1;
		w->title_depth = d + 1;
		w->root_title = w->title.len == 0 && !w->got_refname;
		snprintf(h, sizeof(h), "<h%d>", lv);
		puts_(w, h);
		w->close[d] = lv == 1 ? "</h1>\n" : lv == 2 ? "</h2>\n" : lv == 3 ? "</h3>\n"
			      : lv == 4 ? "</h4>\n" : lv == 5 ? "</h5>\n" : "</h6>\n";
		return;
	}
	case R_PARA:
		if (w->footnote) {
			puts_(w, " ");
			return;
		}
		puts_(w, "<p>");
		w->close[d] = "</p>\n";
		return;
	case R_BLOCK:
		if (!w->footnote) {
			puts_(w, "<div>");
			w->close[d] = "</div>\n";
		}
		return;
	case R_PRE:
		w->pre++;
		puts_(w, "<pre>");
		w->close[d] = "</pre>\n";
		return;
	case R_UL: puts_(w, "<ul>"); w->close[d] = "</ul>\n"; return;
	case R_OL: puts_(w, "<ol>"); w->close[d] = "</ol>\n"; return;
	case R_LI: puts_(w, "<li>"); w->close[d] = "</li>\n"; return;
	case R_DL: puts_(w, "<dl>"); w->close[d] = "</dl>\n"; return;
	case R_DT: puts_(w, "<dt>"); w->close[d] = "</dt>\n"; return;
	case R_DD: puts_(w, "<dd>"); w->close[d] = "</dd>\n"; return;
	case R_TABLE: puts_(w, "<table>"); w->close[d] = "</table>\n"; return;
	case R_TR: puts_(w, "<tr>"); w->close[d] = "</tr>\n"; return;
	case R_TD: puts_(w, "<td>"); w->close[d] = "</td>"; return;
	case R_TH: puts_(w, "<th>"); w->close[d] = "</th>"; return;
	case R_SPACED:
		if (!strcmp(name, "refpurpose"))
			puts_(w, " \xE2\x80\x94 ");  /* name — purpose, as man pages say it */
		else
			puts_(w, " ");
		if (!strcmp(name, "refname") && !w->got_refname) {
			w->got_refname = 1;
			if (!w->title.len)
				w->root_title = 2;  /* the refname is the title */
			w->title_depth = w->title_depth ? w->title_depth : d + 1;
		}
		return;
	case R_FOOTNOTE:
		w->footnote++;
		puts_(w, " (");
		w->close[d] = ")";
		return;
	case R_SEQ:
		w->seq[d] = !strcmp(name, "keyseq") ? "+" : " \xE2\x96\xB8 ";  /* Ctrl+C, Edit ▸ Copy */
		return;
	case R_INLINE:
	case R_ENTRY:
		return;
	}
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		     const xmlChar *uri, int nns, const xmlChar **nss, int nattrs, int ndef,
		     const xmlChar **attrs)
{
	(void)prefix, (void)uri, (void)nns, (void)nss, (void)nattrs, (void)ndef, (void)attrs;
	start(ctx, (const char *)localname);
	settle(ctx);
}

static void end(struct dbw *w)
{
	if (w->depth <= 0)
		return;
	int d = --w->depth;
	if (d >= DB_MAX_DEPTH)
		return;
	if (w->skip) {
		if (w->skip == d + 1)
			w->skip = 0;
		return;
	}
	enum db_role r = w->role[d];
	if (w->info == d + 1)
		w->info = 0;
	if (w->title_depth == d + 1) {
		w->title_depth = 0;
		w->root_title = 0;
	}
	if (r == R_DIV && w->divs > 0)
		w->divs--;
	if (r == R_PRE && w->pre > 0)
		w->pre--;
	if (r == R_FOOTNOTE && w->footnote > 0)
		w->footnote--;
	if (w->close[d])
		puts_(w, w->close[d]);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	(void)localname, (void)prefix, (void)uri;
	end(ctx);
	settle(ctx);
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
	struct dbw *w = ctx;
	if (w->skip || len <= 0 || (w->info && !w->title_depth))
		return;
	put_text(w, (const char *)ch, (size_t)len);
	if (w->root_title && w->title.len < 1024) {
		size_t n = (size_t)len < 1024 - w->title.len ? (size_t)len : 1024 - w->title.len;
		if (buf_append(&w->title, ch, n))
			w->failed = 1;
	}
	settle(w);
}

/* Entities: the document's internal general ones with a value, and HTML's names; nothing
 * external is ever handed over, so nothing outside the buffer is read. */
static xmlEntityPtr on_entity(void *ctx, const xmlChar *name)
{
	struct dbw *w = ctx;
	xmlEntityPtr e = xmlGetPredefinedEntity(name);
	if (e)
		return e;
	if (!w->ents)
		return NULL;
	e = xmlGetDocEntity(w->ents, name);
	if (e)
		return e;
	const htmlEntityDesc *h = htmlEntityLookup(name);
	if (!h)
		return NULL;
	char ref[16];
	snprintf(ref, sizeof(ref), "&#%u;", h->value);
	return xmlAddDocEntity(w->ents, name, XML_INTERNAL_GENERAL_ENTITY, NULL, NULL,
			       (const xmlChar *)ref);
}

static xmlEntityPtr on_param_entity(void *ctx, const xmlChar *name)
{
	(void)ctx, (void)name;
	return NULL;  /* parameter entities are never expanded, declared or not */
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
			   const xmlChar *sys, xmlChar *content)
{
	struct dbw *w = ctx;
	(void)pub, (void)sys;
	if (type == XML_INTERNAL_GENERAL_ENTITY && content && w->ents &&
	    !xmlGetDocEntity(w->ents, name))
		xmlAddDocEntity(w->ents, name, XML_INTERNAL_GENERAL_ENTITY, NULL, NULL, content);
}

static void on_error(void *ctx, xmlErrorPtr e)
{
	struct dbw *w = ctx;
	if (!w->why[0] && e && e->message) {
		snprintf(w->why, sizeof(w->why), "line %ld: %.120s", (long)e->line, e->message);
		size_t l = strlen(w->why);
		while (l && (w->why[l - 1] == '\n' || w->why[l - 1] == '\r'))
			w->why[--l] = '\0';
	}
}

int docbook_to_html(const char *s, size_t n, size_t max, struct buf *html, char *title,
		    size_t tn, int *cut, char *why, size_t whylen)
{
	struct dbw *w = calloc(1, sizeof(*w));
	xmlSAXHandler sax;
	int rc = RL_ENOMEM;

	if (title && tn)
		title[0] = '\0';
	if (why && whylen)
		why[0] = '\0';
	*cut = 0;
	if (!w)
		return RL_ENOMEM;
	w->out = html;
	w->max = max;
	w->mallard = docbook_detect(s, n) == 3;
	buf_init(&w->title, 0);
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.cdataBlock = on_text;
	sax.getEntity = on_entity;
	sax.getParameterEntity = on_param_entity;
	sax.entityDecl = on_entity_decl;
	sax.serror = on_error;
	w->ents = xmlNewDoc((const xmlChar *)"1.0");
	if (!w->ents || !xmlCreateIntSubset(w->ents, (const xmlChar *)"x", NULL, NULL))
		goto out;
	w->ctxt = xmlCreatePushParserCtxt(&sax, w, NULL, 0, NULL);
	if (!w->ctxt)
		goto out;
	xmlCtxtUseOptions(w->ctxt, XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOENT |
					   XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					   XML_PARSE_NOCDATA);
	if (buf_append(html, "<html><body>\n", 13))
		goto out;
	for (size_t off = 0; off < n && !w->failed && !w->cut;) {
		size_t k = n - off < DB_CHUNK ? n - off : DB_CHUNK;
		if (xmlParseChunk(w->ctxt, s + off, (int)k, 0) != 0 && w->ctxt->disableSAX)
			break;  /* stopped (cut) or unrecoverable */
		off += k;
	}
	if (!w->failed && !w->cut)
		xmlParseChunk(w->ctxt, NULL, 0, 1);
	if (w->failed)
		goto out;
	if (buf_append(html, "</body></html>\n", 15))
		goto out;
	*cut = w->cut;
	if (title && tn) {
		/* its words, one space between them; control characters are spaces, bytes that
		 * are not UTF-8 (recovered past an error) dropped */
		size_t o = 0;
		int space = 0;
		const unsigned char *t = (const unsigned char *)w->title.data;
		for (size_t i = 0; i < w->title.len && o + 1 < tn;) {
			unsigned char ch = t[i];
			size_t len = ch < 0x80 ? 1 : (ch & 0xE0) == 0xC0 && ch >= 0xC2 ? 2
				   : (ch & 0xF0) == 0xE0 ? 3 : (ch & 0xF8) == 0xF0 && ch <= 0xF4 ? 4 : 0;
			for (size_t k = 1; len && k < len; k++)
				if (i + k >= w->title.len || (t[i + k] & 0xC0) != 0x80)
					len = 0;
			if (!len) {
				i++;
				continue;
			}
			if (ch < 0x20 || ch == 0x7F || ch == ' ') {
				space = o > 0;
				i++;
				continue;
			}
			if (space && o + 2 < tn)
				title[o++] = ' ';
			space = 0;
			if (o + len >= tn)
				break;
			memcpy(title + o, t + i, len);
			o += len;
			i += len;
		}
		title[o] = '\0';
	}
	rc = w->text ? 0 : RL_ERR;
	if (rc && why && whylen)
		snprintf(why, whylen, "%s", w->why[0] ? w->why : "no text in it");
out:
	if (w->ctxt) {
		if (w->ctxt->myDoc)  /* made by libxml2 for an entity's content */
			xmlFreeDoc(w->ctxt->myDoc);
		xmlFreeParserCtxt(w->ctxt);
	}
	if (w->ents)
		xmlFreeDoc(w->ents);
	buf_release(&w->title);
	free(w);
	return rc;
}
