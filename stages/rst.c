/*
 * rst.c — reStructuredText to text events (rst.h).
 *
 * How: the document is split into lines (start, length, indentation) once; blocks() walks a
 * range of them at a base indentation: a more indented run is a block quote (parsed again
 * at its own indentation) or, after a paragraph ending in "::", a literal block; at the
 * base, a line may start a section title, a directive or comment (".. "), a doctest (">>>"),
 * a table (code, lines kept) or a paragraph. Directive bodies are parsed again, so nesting
 * recurses, bounded by RST_DEPTH (deeper: plain paragraphs). Inline markup is reduced by
 * inl() into a scratch buffer, then handed to the sink as one paragraph's text.
 */
#include "rst.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RST_DEPTH 16
#define RST_STYLES 6
#define RST_SUBS 256
#define RST_SPAN 4096  /* inline markup closes within this many bytes, or is text */

struct line {
	size_t s, n;   /* bytes of the line, '\n' and trailing blanks excluded */
	size_t ind;    /* columns of leading blanks (tabs to 8); SIZE_MAX for a blank line */
};

struct rst {
	const char *s;
	struct line *l;
	size_t nl;
	const struct md_sink *sink;
	void *ctx;
	struct buf *title;
	struct buf tmp, code, join;
	int styles[RST_STYLES], nstyles;
	struct { const char *name, *text; size_t nn, tn; } sub[RST_SUBS];  /* |name| replace:: */
	size_t nsub;
	size_t sub_budget;  /* bytes substitutions may still add: the document's size in all */
	int stop;      /* the sink said stop, or out of memory */
	int rc;
};

int rst_name(const char *name)
{
	/* README.rst.gz: the name inside */
	return name_has_ext(name, ".rst") || name_has_ext(name, ".rest") ||
	       name_has_ext(name, ".rst.txt");
}

static const char *text_of(const struct rst *r, size_t i, size_t *len)
{
	const struct line *L = &r->l[i];
	size_t k = 0;
	while (k < L->n && (r->s[L->s + k] == ' ' || r->s[L->s + k] == '\t'))
		k++;
	*len = L->n - k;
	return r->s + L->s + k;
}

static int blank(const struct rst *r, size_t i)
{
	return r->l[i].ind == SIZE_MAX;
}

/* One punctuation character repeated (at least 2): an adornment; its character, else 0. */
static int adornment(const char *t, size_t n)
{
	if (n < 2 || !ispunct((unsigned char)t[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (t[i] != t[0])
			return 0;
	return (unsigned char)t[0];
}

static size_t width(const char *t, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)t[i] & 0xC0) != 0x80;
	return w;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Bytes from i to the end, at most RST_SPAN: how far a closing string is looked for, so that
 * unclosed openers cost a bounded scan each. */
static size_t span(size_t i, size_t n)
{
	return n - i < RST_SPAN ? n - i : RST_SPAN;
}

/* Is t/n made of '=' and spaces only (a simple table's border)? */
static int border(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (t[i] != '=' && t[i] != ' ')
			return 0;
	return 1;
}

/* Before an inline start-string: the start, whitespace or punctuation other than these. */
static int opens_at(const char *s, size_t i)
{
	if (i == 0)
		return 1;
	unsigned char p = (unsigned char)s[i - 1];
	return is_ws((char)p) || (ispunct(p) && p != '\\' && p != '*' && p != '`') || p >= 0x80;
}

static int closes_at(const char *s, size_t n, size_t i)
{
	if (i >= n)
		return 1;
	unsigned char c = (unsigned char)s[i];
	return is_ws((char)c) || (ispunct(c) && c != '*' && c != '`') || c >= 0x80;
}

/* `text <target>` or `text`: the text part, '~' and '!' prefixes dropped. */
static int ref_text(const char *t, size_t n, struct buf *o)
{
	if (n && (t[0] == '~' || t[0] == '!')) {
		t++;
		n--;
	}
	if (n && t[n - 1] == '>') {
		const char *lt = NULL;
		for (size_t i = n - 1; i-- > 0;)
			if (t[i] == '<') {
				lt = t + i;
				break;
			}
		if (lt && lt > t) {
			size_t m = (size_t)(lt - t);
			while (m && is_ws(t[m - 1]))
				m--;
			if (m)
				n = m;
		}
	}
	return buf_append(o, t, n);
}

/* |name|: its "replace::" text where the document defines one, else the name. */
static int sub_text(struct rst *r, const char *name, size_t n, struct buf *o)
{
	for (size_t k = 0; r && k < r->nsub; k++)
		if (r->sub[k].nn == n && !memcmp(r->sub[k].name, name, n) &&
		    r->sub[k].tn <= r->sub_budget) {  /* past the budget: the name (no blow-up) */
			r->sub_budget -= r->sub[k].tn;
			return buf_append(o, r->sub[k].text, r->sub[k].tn);
		}
	return buf_append(o, name, n);
}

/* The document's ".. |name| replace:: text" definitions (one line each), before anything. */
static void subs_find(struct rst *r)
{
	for (size_t i = 0; i < r->nl && r->nsub < RST_SUBS; i++) {
		size_t n;
		if (r->l[i].ind == SIZE_MAX)
			continue;
		const char *t = text_of(r, i, &n);
		if (n < 5 || memcmp(t, ".. |", 4))
			continue;
		const char *e = memchr(t + 4, '|', n - 4);
		const char *rep = e ? memmem(e, (size_t)(t + n - e), " replace::", 10) : NULL;
		if (!e || e == t + 4 || !rep || rep != e + 1)
			continue;
		const char *v = rep + 10;
		while (v < t + n && is_ws(*v))
			v++;
		r->sub[r->nsub].name = t + 4;
		r->sub[r->nsub].nn = (size_t)(e - (t + 4));
		r->sub[r->nsub].text = v;
		r->sub[r->nsub].tn = (size_t)(t + n - v);
		r->nsub++;
	}
}

/* Inline markup of s/n reduced to its words, into o (r: its substitutions; may be NULL). */
static int inl(struct rst *r, const char *s, size_t n, struct buf *o)
{
	size_t i = 0;
	int rc = 0;
	while (i < n && !rc) {
		char c = s[i];
		if (c == '\\' && i + 1 < n) {  /* an escape: the character itself */
			rc = buf_putc(o, s[i + 1]);
			i += 2;
			continue;
		}
		if (c == '`' && i + 1 < n && s[i + 1] == '`' && opens_at(s, i)) {
			const char *e = i + 2 < n ? memmem(s + i + 2, span(i + 2, n), "``", 2) : NULL;
			if (e && e > s + i + 2) {
				rc = buf_append(o, s + i + 2, (size_t)(e - (s + i + 2)));
				i = (size_t)(e - s) + 2;
				continue;
			}
		}
		if (c == ':' && opens_at(s, i)) {  /* :role:`text` */
			size_t j = i + 1;
			while (j < n && (isalnum((unsigned char)s[j]) || strchr("_:+.-", s[j])) && s[j])
				j++;
			if (j > i + 2 && s[j - 1] == ':' && j < n && s[j] == '`') {
				const char *e = memchr(s + j + 1, '`', span(j + 1, n));
				if (e) {
					rc = ref_text(s + j + 1, (size_t)(e - (s + j + 1)), o);
					i = (size_t)(e - s) + 1;
					continue;
				}
			}
		}
		if (c == '`' && opens_at(s, i) && i + 1 < n && !is_ws(s[i + 1])) {
			const char *e = memchr(s + i + 1, '`', span(i + 1, n));
			if (e) {
				rc = ref_text(s + i + 1, (size_t)(e - (s + i + 1)), o);
				i = (size_t)(e - s) + 1;
				while (i < n && s[i] == '_')  /* `link`_ and `anonymous`__ */
					i++;
				if (i < n && s[i] == ':') {  /* `text`:role: */
					size_t j = i + 1;
					while (j < n && (isalnum((unsigned char)s[j]) || strchr("_+.-", s[j])) && s[j])
						j++;
					if (j < n && s[j] == ':' && j > i + 1)
						i = j + 1;
				}
				continue;
			}
		}
		if (c == '*' && opens_at(s, i)) {  /* **strong** and *emphasis* */
			size_t k = i + 1 < n && s[i + 1] == '*' ? 2 : 1;
			if (i + k < n && !is_ws(s[i + k]) && s[i + k] != '*') {
				size_t j = i + k, end = i + k + span(i + k, n);
				for (; j + k <= end; j++) {
					if (s[j] == '*' && (k == 1 || s[j + 1] == '*') && !is_ws(s[j - 1]) &&
					    closes_at(s, n, j + k))
						break;
				}
				if (j + k <= end) {
					rc = buf_append(o, s + i + k, j - i - k);
					i = j + k;
					continue;
				}
			}
		}
		if (c == '|' && opens_at(s, i) && i + 1 < n && !is_ws(s[i + 1])) {  /* |sub| */
			const char *e = memchr(s + i + 1, '|', span(i + 1, n) < 256 ? span(i + 1, n) : 256);
			if (e && !is_ws(e[-1]) && closes_at(s, n, (size_t)(e - s) + 1 + (e + 1 < s + n && e[1] == '_'))) {
				rc = sub_text(r, s + i + 1, (size_t)(e - (s + i + 1)), o);
				i = (size_t)(e - s) + 1;
				while (i < n && s[i] == '_')
					i++;
				continue;
			}
		}
		rc = buf_putc(o, c);
		i++;
	}
	return rc;
}

static void fail(struct rst *r, int rc)
{
	if (rc) {
		r->stop = 1;
		if (rc < 0)
			r->rc = rc;
	}
}

/* Lines [a, b) joined (inline markup may span lines), then reduced, as one paragraph. */
static void para(struct rst *r, size_t a, size_t b, int literal_mark)
{
	buf_reset(&r->join);
	buf_reset(&r->tmp);
	int rc = 0;
	for (size_t i = a; i < b && !rc; i++) {
		if (blank(r, i))
			continue;
		size_t n;
		const char *t = text_of(r, i, &n);
		if (i == b - 1 && literal_mark && n >= 2 && !memcmp(t + n - 2, "::", 2)) {
			/* "text::" reads "text:"; "text ::" and a lone "::" lose it */
			n -= (n >= 3 && !is_ws(t[n - 3])) ? 1 : 2;
			while (n && is_ws(t[n - 1]))
				n--;
		}
		if (r->join.len)
			rc = buf_putc(&r->join, ' ');
		if (!rc)
			rc = buf_append(&r->join, t, n);
	}
	if (!rc && r->join.len)
		rc = inl(r, r->join.data, r->join.len, &r->tmp);
	if (!rc && r->tmp.len && !(rc = r->sink->para(r->ctx)))
		rc = r->sink->text(r->ctx, r->tmp.data, r->tmp.len);
	fail(r, rc);
}

/* Lines [a, b) as one code block, dedented to their least indentation. */
static void code(struct rst *r, size_t a, size_t b)
{
	size_t min = SIZE_MAX;
	while (b > a && blank(r, b - 1))
		b--;
	while (a < b && blank(r, a))
		a++;
	for (size_t i = a; i < b; i++)
		if (!blank(r, i) && r->l[i].ind < min)
			min = r->l[i].ind;
	if (a >= b)
		return;
	buf_reset(&r->code);
	int rc = 0;
	for (size_t i = a; i < b && !rc; i++) {
		if (i > a)
			rc = buf_putc(&r->code, '\n');
		if (rc || blank(r, i))
			continue;
		const char *t = r->s + r->l[i].s;
		size_t n = r->l[i].n, col = 0, k = 0;
		while (k < n && col < min && (t[k] == ' ' || t[k] == '\t')) {
			col = t[k] == '\t' ? (col / 8 + 1) * 8 : col + 1;
			k++;
		}
		rc = buf_append(&r->code, t + k, n - k);
	}
	if (!rc && r->code.len && !(rc = r->sink->para(r->ctx)))
		rc = r->sink->code(r->ctx, r->code.data, r->code.len);
	fail(r, rc);
}

static void heading(struct rst *r, const char *t, size_t n, int style)
{
	int level = 0;
	for (int k = 0; k < r->nstyles; k++)
		if (r->styles[k] == style)
			level = k + 1;
	if (!level) {
		if (r->nstyles < RST_STYLES)
			r->styles[r->nstyles++] = style;
		level = r->nstyles;
	}
	buf_reset(&r->tmp);
	int rc = inl(r, t, n, &r->tmp);
	if (!rc && r->title && !r->title->len && r->tmp.len)
		rc = buf_append(r->title, r->tmp.data, r->tmp.len < 512 ? r->tmp.len : 512);
	if (!rc && r->tmp.len && !(rc = r->sink->heading_begin(r->ctx, level)) &&
	    !(rc = r->sink->text(r->ctx, r->tmp.data, r->tmp.len)))
		rc = r->sink->heading_end(r->ctx);
	fail(r, rc);
}

static int in_set(const char *w, size_t n, const char *const *set)
{
	for (; *set; set++)
		if (strlen(*set) == n && !memcmp(w, *set, n))
			return 1;
	return 0;
}

static void blocks(struct rst *r, size_t a, size_t b, size_t base, int depth);

/* ".. " at line i (indentation ind), its body [i + 1, e). */
static void explicit(struct rst *r, size_t i, size_t e, int depth)
{
	static const char *const as_code[] = { "code-block", "code", "sourcecode", "doctest",
		"parsed-literal", "productionlist", "math", "testcode", "testoutput", "csv-table", NULL };
	static const char *const skipped[] = { "toctree", "image", "figure", "include",
		"literalinclude", "raw", "index", "contents", "highlight", "meta", "tabularcolumns",
		"sectionauthor", "moduleauthor", "codeauthor", "currentmodule", "default-role",
		"role", "sectnum", "header", "footer", "autosummary", "testsetup", "testcleanup",
		"graphviz", "digraph", "only", "ifconfig", "spelling:word-list", NULL };
	size_t n;
	const char *t = text_of(r, i, &n);
	t += 3;
	n -= 3;
	size_t k = 0;
	while (k < n && !is_ws(t[k]) && !(t[k] == ':' && k + 1 < n && t[k + 1] == ':'))
		k++;
	if (k == 0 || k + 1 >= n || t[k] != ':' || t[k + 1] != ':') {
		/* a comment, hyperlink target or substitution definition: not read; a footnote or
		 * citation ("[1] text") is text */
		if (n && t[0] == '[' && memchr(t, ']', n)) {
			const char *rb = memchr(t, ']', n);
			size_t skip = (size_t)(rb - t) + 1;
			buf_reset(&r->tmp);
			int rc = inl(r, t + skip, n - skip, &r->tmp);
			if (!rc && r->tmp.len && !(rc = r->sink->para(r->ctx)))
				rc = r->sink->text(r->ctx, r->tmp.data, r->tmp.len);
			fail(r, rc);
			if (!r->stop && e > i + 1)
				blocks(r, i + 1, e, r->l[i].ind + 1, depth + 1);
		}
		return;
	}
	const char *name = t;
	size_t nn = k;
	const char *arg = t + k + 2;
	size_t an = n - k - 2;
	while (an && is_ws(*arg)) {
		arg++;
		an--;
	}
	/* the body: options (":name: value" lines at its start), then its content */
	size_t c = i + 1;
	while (c < e && !blank(r, c)) {
		size_t on;
		const char *ot = text_of(r, c, &on);
		if (on < 2 || ot[0] != ':' || !memchr(ot + 1, ':', on - 1))
			break;
		c++;
	}
	if (in_set(name, nn, skipped))
		return;
	if (in_set(name, nn, as_code)) {
		code(r, c, e);
		return;
	}
	/* admonitions, Sphinx's object descriptions, unknown directives: the argument, then
	 * the body as text; Sphinx's version notes read as Sphinx writes them */
	static const struct { const char *name, *says; } versions[] = {
		{ "versionadded", "New in version " }, { "versionchanged", "Changed in version " },
		{ "deprecated", "Deprecated since version " }, { "deprecated-removed", "Deprecated since version " },
	};
	const char *says = NULL;
	for (size_t v = 0; v < sizeof(versions) / sizeof(*versions); v++)
		if (strlen(versions[v].name) == nn && !memcmp(name, versions[v].name, nn))
			says = versions[v].says;
	if (an) {
		buf_reset(&r->tmp);
		int rc = says ? buf_append(&r->tmp, says, strlen(says)) : 0;
		if (!rc)
			rc = inl(r, arg, an, &r->tmp);
		if (!rc && says)
			rc = buf_putc(&r->tmp, '.');
		if (!rc && r->tmp.len && !(rc = r->sink->para(r->ctx)))
			rc = r->sink->text(r->ctx, r->tmp.data, r->tmp.len);
		fail(r, rc);
	}
	if (!r->stop && c < e)
		blocks(r, c, e, r->l[i].ind + 1, depth + 1);
}

static int list_marker(const char *t, size_t n)
{
	if (n >= 2 && strchr("-*+", t[0]) && t[0] && t[1] == ' ')
		return 1;
	size_t k = 0;
	while (k < n && (isdigit((unsigned char)t[k]) || t[k] == '#'))
		k++;
	return k && k + 1 < n && (t[k] == '.' || t[k] == ')') && t[k + 1] == ' ';
}

static void blocks(struct rst *r, size_t a, size_t b, size_t base, int depth)
{
	int literal_next = 0;
	size_t i = a;
	while (i < b && !r->stop) {
		if (blank(r, i)) {
			i++;
			continue;
		}
		size_t ind = r->l[i].ind, n;
		const char *t = text_of(r, i, &n);
		if (ind > base) {  /* an indented run: a literal block or a block quote */
			size_t j = i, min = ind;
			while (j < b && (blank(r, j) || r->l[j].ind > base)) {
				if (!blank(r, j) && r->l[j].ind < min)
					min = r->l[j].ind;
				j++;
			}
			if (literal_next || depth >= RST_DEPTH)
				code(r, i, j);
			else
				blocks(r, i, j, min, depth + 1);
			literal_next = 0;
			i = j;
			continue;
		}
		literal_next = 0;
		if (ind < base)  /* less indented than the range says: read it at its own */
			base = ind;
		int adorn = adornment(t, n);
		/* a section title: overline, title, underline */
		if (adorn && depth == 0 && i + 2 < b && !blank(r, i + 1)) {
			size_t tn, un;
			const char *tt = text_of(r, i + 1, &tn), *ut = text_of(r, i + 2, &un);
			if (adornment(ut, un) == adorn && un == n && width(tt, tn) <= n + 1) {
				heading(r, tt, tn, adorn + 256);
				i += 3;
				continue;
			}
		}
		if (adorn && n >= 4 && (i + 1 >= b || blank(r, i + 1))) {  /* a transition */
			i++;
			continue;
		}
		/* a section title: title, underline */
		if (!adorn && depth == 0 && ind == 0 && i + 1 < b && !blank(r, i + 1) &&
		    r->l[i + 1].ind == 0) {
			size_t un;
			const char *ut = text_of(r, i + 1, &un);
			int u = adornment(ut, un);
			size_t w = width(t, n);
			if (u && un + 1 >= w && un >= 2 && (i + 2 >= b || blank(r, i + 2))) {
				heading(r, t, n, u);
				i += 2;
				continue;
			}
		}
		if (n >= 3 && !memcmp(t, ".. ", 3)) {
			size_t e = i + 1;
			while (e < b && (blank(r, e) || r->l[e].ind > ind))
				e++;
			if (depth < RST_DEPTH)
				explicit(r, i, e, depth);
			i = e;
			continue;
		}
		if (n == 2 && !memcmp(t, "..", 2)) {  /* an empty comment */
			i++;
			continue;
		}
		int doctest = n >= 3 && !memcmp(t, ">>>", 3);
		int table = n >= 2 && t[0] == '+' && (t[1] == '-' || t[1] == '=');  /* a grid */
		int simple_table = n >= 3 && t[0] == '=' && memchr(t, ' ', n) && border(t, n);
		if (doctest || table || simple_table) {
			size_t j = i;
			while (j < b && !blank(r, j))
				j++;
			if (simple_table)  /* its rows may be apart: to the closing border */
				while (j + 1 < b && !blank(r, j + 1) && j < b) {
					size_t bn;
					const char *bt = text_of(r, j + 1, &bn);
					if (!(bn >= 3 && bt[0] == '=' && border(bt, bn)))
						break;
					j += 2;
					while (j < b && !blank(r, j))
						j++;
				}
			code(r, i, j);
			i = j;
			continue;
		}
		/* a paragraph (or list item, field, definition term) */
		int item = list_marker(t, n);
		if (depth == 0 && !r->nstyles && n >= 3 && t[0] == ':') {
			/* fields before the first title (":orphan:", ":tocdepth: 2"): the document's
			 * metadata for Sphinx, not text */
			size_t j = i;
			while (j < b && !blank(r, j)) {
				size_t fn;
				const char *ft = text_of(r, j, &fn);
				const char *c2 = fn > 1 ? memchr(ft + 1, ':', fn - 1) : NULL;
				if (ft[0] != ':' || !c2 || c2 == ft + 1)
					break;
				j++;
			}
			if (j < b && !blank(r, j))
				j = i;  /* not all fields: an ordinary paragraph */
			if (j > i) {
				i = j;
				continue;
			}
		}
		size_t j = i + 1;
		while (j < b && !blank(r, j)) {
			size_t jn;
			const char *jt = text_of(r, j, &jn);
			if (r->l[j].ind == ind ? list_marker(jt, jn) && item : !(item && r->l[j].ind > ind))
				break;
			j++;
		}
		size_t pn;
		const char *pt = text_of(r, j - 1, &pn);
		literal_next = pn >= 2 && !memcmp(pt + pn - 2, "::", 2);
		para(r, i, j, literal_next);
		i = j;
	}
}

int rst_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx, struct buf *title)
{
	struct rst r = { .s = s, .sink = sink, .ctx = ctx, .title = title };
	size_t cap = 1;
	for (size_t i = 0; i < n; i++)
		cap += s[i] == '\n';
	r.l = malloc(cap * sizeof(*r.l));
	if (!r.l)
		return RL_ENOMEM;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) : n - i;
		struct line *L = &r.l[r.nl++];
		L->s = i;
		L->n = len;
		while (L->n && is_ws(s[L->s + L->n - 1]))
			L->n--;
		size_t col = 0, k = 0;
		while (k < L->n && (s[i + k] == ' ' || s[i + k] == '\t')) {
			col = s[i + k] == '\t' ? (col / 8 + 1) * 8 : col + 1;
			k++;
		}
		L->ind = k == L->n ? SIZE_MAX : col;
		i += len + (nl != NULL);
	}
	buf_init(&r.tmp, 0);
	buf_init(&r.code, 0);
	buf_init(&r.join, 0);
	r.sub_budget = n;
	subs_find(&r);
	blocks(&r, 0, r.nl, 0, 0);
	buf_release(&r.tmp);
	buf_release(&r.code);
	buf_release(&r.join);
	free(r.l);
	return r.rc;
}
