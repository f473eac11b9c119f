/*
 * markdown.c — Markdown -> text events for the normalize stage (private: markdown.h).
 *
 * What: turns a Markdown document (GitHub flavour: tables, strikethrough, task lists,
 * autolinks) into what a reader of the rendered page sees, as events for the caller's sink:
 * paragraphs, headings with their levels, list items each a paragraph behind its marker, table
 * rows each a paragraph with cells joined by " | ", code blocks verbatim. Links become their
 * text (an autolink its URL), images their alt text (but for status badges: linked SVGs and
 * images from badge services), entities their characters; emphasis and other markers go. Raw HTML is stripped, not shown: comments (block and inline) and the
 * bodies of <script> and <style> vanish, tags go, their text stays, block tags break
 * paragraphs (so "<details><summary>Click</summary> body" reads "Click", then "body") and
 * <h1>..<h6> make headings. A leading YAML (---) or TOML (+++) front matter block is metadata,
 * not text: its simple top-level keys become a JSON object.
 *
 * How: md4c parses (one pass, callbacks, no tree); the callbacks here keep a little state (the
 * list stack for markers, the table cell count, the code block being collected, a streaming
 * HTML stripper whose state survives md4c's line-by-line HTML text) and call the sink.
 * List markers are kept ("- ", "3. ", "[x] "): in a prompt they say "this is a list", the
 * numbers carry the order of steps that the text refers to ("see step 3"), and a task's box
 * is its state; each item is its own paragraph so a chunk boundary prefers to fall between
 * items, as between table rows.
 *
 * Why md4c: a CommonMark parser is the only way to get READMEs right (lazy continuation, list
 * and HTML block rules, link reference definitions, entity and escape rules are not line
 * patterns); md4c is a small C library, SAX-like (no tree, so memory stays linear and
 * bounded), fast (hundreds of MB/s), fuzzed upstream, and packaged by Debian.
 */
#include "markdown.h"

#include "../lib/common.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <md4c.h>
#include <utf8proc.h>

#define LIST_DEPTH_MAX 32       /* list nesting tracked for ordered markers; deeper is "- " */
#define TAG_NAME_MAX 16         /* longest HTML tag name we care about (+1) */
#define FRONT_MAX_BYTES (64 << 10) /* front matter read for keys; the rest is skipped */
#define FRONT_MAX_KEYS 256
#define FRONT_KEY_MAX 128
#define MD_PAD 64               /* zero bytes after the copy md4c parses; see markdown_parse() */

/* ---- entities ------------------------------------------------------------------------------ */

/* HTML5 names that READMEs use and HTML 4 (libxml2's table) lacks. */
static const struct { const char *name; uint32_t cp; } entity_extra[] = {
	{ "apos", '\'' }, { "check", 0x2713 }, { "checkmark", 0x2713 }, { "cross", 0x2717 },
	{ "star", 0x2606 }, { "starf", 0x2605 }, { "colon", ':' }, { "lpar", '(' },
	{ "rpar", ')' }, { "lsqb", '[' }, { "rsqb", ']' }, { "lbrack", '[' }, { "rbrack", ']' },
	{ "lbrace", '{' }, { "rbrace", '}' }, { "vert", '|' }, { "verbar", '|' }, { "ast", '*' },
	{ "num", '#' }, { "excl", '!' }, { "period", '.' }, { "comma", ',' }, { "grave", '`' },
	{ "dollar", '$' }, { "percnt", '%' }, { "plus", '+' }, { "equals", '=' },
	{ "quest", '?' }, { "semi", ';' }, { "bsol", '\\' }, { "lowbar", '_' }, { "commat", '@' },
	{ "Hat", '^' }, { "sol", '/' }, { "hyphen", 0x2010 }, { "dash", 0x2010 },
	{ "NewLine", '\n' }, { "Tab", '\t' }, { "nbsp", 0xA0 }, { "emsp", 0x2003 },
	{ "ensp", 0x2002 }, { "thinsp", 0x2009 }, { "ZeroWidthSpace", 0x200B },
	{ "rightarrow", 0x2192 }, { "leftarrow", 0x2190 }, { "RightArrow", 0x2192 },
	{ "LeftArrow", 0x2190 }, { "mldr", 0x2026 }, { "bullet", 0x2022 },
};

/* Decodes the entity or character reference s ("&amp;", "&#233;", "&#x1F600;", n bytes, the
 * ';' included or not) into u (at least 4 bytes). Returns the UTF-8 length, 0 when s is not one
 * we know (the caller keeps it as text). Numeric references outside Unicode, to a surrogate or
 * to NUL become U+FFFD, as CommonMark says. */
static size_t entity_decode(const char *s, size_t n, char *u)
{
	uint32_t cp = 0;
	size_t i = 1, k = 0;

	if (n < 3 || s[0] != '&')
		return 0;
	if (s[n - 1] == ';')
		n--;
	if (s[1] == '#') {
		int hex = n > 2 && (s[2] == 'x' || s[2] == 'X');
		for (i = hex ? 3 : 2; i < n; i++, k++) {
			int c = (unsigned char)s[i];
			int d = isdigit(c) ? c - '0' : hex && isxdigit(c) ? (c | 0x20) - 'a' + 10 : -1;
			if (d < 0)
				return 0;
			if (cp <= 0x10FFFF)
				cp = cp * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (!k)
			return 0;
		if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			cp = 0xFFFD;
	} else {
		char name[40];
		if (n - 1 >= sizeof(name))
			return 0;
		memcpy(name, s + 1, n - 1);
		name[n - 1] = '\0';
		const htmlEntityDesc *ent = htmlEntityLookup((const xmlChar *)name);
		if (ent) {
			cp = ent->value;
		} else {
			for (size_t j = 0; !cp && j < RL_ARRAY_LEN(entity_extra); j++)
				if (!strcmp(entity_extra[j].name, name))
					cp = entity_extra[j].cp;
			if (!cp)
				return 0;
		}
	}
	return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)u);
}

/* ---- the walk: md4c callbacks -> sink -------------------------------------------------------- */

/* HTML stripper states; see html_feed(). */
enum { H_TEXT, H_LT, H_LT_SLASH, H_NAME, H_ATTRS, H_BANG, H_BANG_DASH, H_COMMENT, H_DECL,
       H_RAW };

struct list_level {
	int ordered;
	unsigned next;    /* ordered: the number of the next item */
};

struct walk {
	const struct md_sink *sink;
	void *ctx;
	int rc;                  /* first non-zero callback result: stop */
	size_t n;                /* input bytes: no text event can be longer */
	int depth;               /* open blocks */
	int in_code;             /* inside MD_BLOCK_CODE: text goes to code */
	struct buf code;
	int heading;             /* inside a heading (Markdown or HTML) */
	int html_heading_depth;  /* block depth an HTML <hN> opened at (0: none) */
	struct list_level lists[LIST_DEPTH_MAX];
	int n_lists;             /* may exceed LIST_DEPTH_MAX: only the first levels are kept */
	char marker[24];         /* list marker owed before the item's first text */
	size_t marker_len;
	int cell;                /* cells so far in the current table row */
	int links;               /* open links */
	int badge;               /* open images whose alt text is dropped (badges) */
	/* the HTML stripper, fed md4c's MD_TEXT_HTML pieces */
	int h_state;
	char h_name[TAG_NAME_MAX];
	size_t h_name_len;
	int h_closing;
	char h_quote;
	int h_dashes;            /* '-' seen in a row inside a comment */
	int h_raw;               /* inside <script> (1) or <style> (2) */
	size_t h_match;          /* bytes of "</script" or "</style" matched */
};

/* Calls a sink callback unless the walk already stopped; records what stops it. */
#define SINK(w, call)                                                                    \
	do {                                                                             \
		if (!(w)->rc) {                                                          \
			int rc_ = (w)->sink->call;                                       \
			if (rc_)                                                         \
				(w)->rc = rc_;                                           \
		}                                                                        \
	} while (0)

static void put_text(struct walk *w, const char *s, size_t n)
{
	if (!n || w->rc)
		return;
	if (w->marker_len) {
		SINK(w, text(w->ctx, w->marker, w->marker_len));
		w->marker_len = 0;
	}
	SINK(w, text(w->ctx, s, n));
}

/* A paragraph break; none between a list marker and its item's first block. */
static void put_para(struct walk *w)
{
	if (!w->marker_len)
		SINK(w, para(w->ctx));
}

static void put_line(struct walk *w)
{
	if (!w->marker_len)
		SINK(w, line(w->ctx));
}

static void heading_begin(struct walk *w, int level)
{
	w->marker_len = 0; /* a heading carries no list marker: it would become its label */
	w->heading = 1;
	SINK(w, heading_begin(w->ctx, level));
}

static void heading_end(struct walk *w)
{
	w->heading = 0;
	w->html_heading_depth = 0;
	SINK(w, heading_end(w->ctx));
}

/* What an HTML tag does to the text: block tags break paragraphs, <br> breaks a line, cells
 * are spaced, <hN> is a heading, <script>/<style> hide their bodies. */
static void html_tag(struct walk *w)
{
	static const char *const blocks[] = {
		"address", "article", "aside", "blockquote", "center", "dd", "details", "dialog",
		"div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
		"hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
		"tfoot", "thead", "tr", "ul",
	};
	const char *t = w->h_name;

	if (!w->h_name_len || w->h_name_len >= TAG_NAME_MAX)
		return;
	if (!w->h_closing && (!strcmp(t, "script") || !strcmp(t, "style"))) {
		w->h_raw = t[1] == 'c' ? 1 : 2;
		w->h_match = 0;
		return;
	}
	if (t[0] == 'h' && t[1] >= '1' && t[1] <= '6' && !t[2]) {
		if (!w->h_closing && !w->heading) {
			heading_begin(w, t[1] - '0');
			w->html_heading_depth = w->depth;
		} else if (w->h_closing && w->html_heading_depth) {
			heading_end(w);
		}
		return;
	}
	if (!strcmp(t, "br")) {
		put_line(w);
		return;
	}
	if (!strcmp(t, "td") || !strcmp(t, "th")) {
		put_text(w, " ", 1);
		return;
	}
	for (size_t i = 0; i < RL_ARRAY_LEN(blocks); i++)
		if (!strcmp(t, blocks[i])) {
			put_para(w);
			return;
		}
}

/* Plain text inside HTML: entities decoded. */
static void html_text(struct walk *w, const char *s, size_t n)
{
	while (n && !w->rc) {
		const char *amp = memchr(s, '&', n);
		size_t k = amp ? (size_t)(amp - s) : n;
		put_text(w, s, k);
		if (!amp)
			return;
		s += k;
		n -= k;
		/* an entity: '&', up to 32 name bytes, ';' */
		size_t e = 1;
		while (e < n && e < 34 && (isalnum((unsigned char)s[e]) || s[e] == '#'))
			e++;
		char u[8];
		size_t ulen = e < n && s[e] == ';' ? entity_decode(s, e + 1, u) : 0;
		if (ulen) {
			put_text(w, u, ulen);
			e++;
		} else {
			put_text(w, "&", 1);
			e = 1;
		}
		s += e;
		n -= e;
	}
}

/*
 * A streaming HTML stripper: md4c hands an HTML block over line by line, so a tag, a comment
 * or a <script> body may span calls; the state lives in the walk and is reset when the block
 * ends. Text runs go out in one piece; only markup is looked at byte by byte.
 */
static void html_feed(struct walk *w, const char *s, size_t n)
{
	static const char *const raw_end[] = { NULL, "</script", "</style" };
	size_t i = 0;

	while (i < n && !w->rc) {
		unsigned char c = (unsigned char)s[i];
		switch (w->h_state) {
		case H_TEXT: {
			const char *lt = memchr(s + i, '<', n - i);
			size_t k = lt ? (size_t)(lt - s) : n;
			html_text(w, s + i, k - i);
			i = k;
			if (lt) {
				w->h_state = H_LT;
				i++;
			}
			continue;
		}
		case H_LT:
			if (isalpha(c) || c == '/') {
				w->h_state = c == '/' ? H_LT_SLASH : H_NAME;
				w->h_closing = c == '/';
				w->h_name_len = 0;
				if (c == '/')
					break;
				continue; /* the letter starts the name */
			}
			if (c == '!' || c == '?') {
				w->h_state = c == '!' ? H_BANG : H_DECL;
				break;
			}
			put_text(w, "<", 1); /* a lone '<' is text */
			w->h_state = H_TEXT;
			continue;
		case H_LT_SLASH:
			if (!isalpha(c)) {
				put_text(w, "</", 2);
				w->h_state = H_TEXT;
				continue;
			}
			w->h_state = H_NAME;
			continue;
		case H_NAME:
			if (isalnum(c) || c == '-') {
				if (w->h_name_len < TAG_NAME_MAX - 1) {
					w->h_name[w->h_name_len++] = (char)tolower(c);
					w->h_name[w->h_name_len] = '\0';
				} else {
					w->h_name_len = TAG_NAME_MAX; /* too long: no tag we know */
				}
				break;
			}
			w->h_state = H_ATTRS;
			w->h_quote = 0;
			continue;
		case H_ATTRS:
			if (w->h_quote) {
				if (c == (unsigned char)w->h_quote)
					w->h_quote = 0;
			} else if (c == '"' || c == '\'') {
				w->h_quote = (char)c;
			} else if (c == '>') {
				w->h_state = H_TEXT;
				html_tag(w);
				if (w->h_raw)
					w->h_state = H_RAW;
			}
			break;
		case H_BANG:
			w->h_state = c == '-' ? H_BANG_DASH : H_DECL;
			if (c == '-')
				break;
			continue;
		case H_BANG_DASH:
			w->h_state = c == '-' ? H_COMMENT : H_DECL;
			w->h_dashes = 2; /* so "<!-->" and "<!--->" close at once, as in HTML */
			if (c == '-')
				break;
			continue;
		case H_COMMENT: {
			/* "-->" ends it; "<!-->" and "<!--->" too, as in HTML */
			const char *gt = memchr(s + i, '>', n - i);
			size_t k = gt ? (size_t)(gt - s) : n;
			for (size_t j = i; j < k; j++)
				w->h_dashes = s[j] == '-' ? w->h_dashes + 1 : 0;
			i = k;
			if (gt) {
				if (w->h_dashes >= 2)
					w->h_state = H_TEXT;
				w->h_dashes = 0;
				i++;
			}
			continue;
		}
		case H_DECL: {
			const char *gt = memchr(s + i, '>', n - i);
			i = gt ? (size_t)(gt - s) + 1 : n;
			if (gt)
				w->h_state = H_TEXT;
			continue;
		}
		case H_RAW: {
			const char *end = raw_end[w->h_raw];
			size_t len = strlen(end);
			for (; i < n; i++) {
				char lc = (char)tolower((unsigned char)s[i]);
				if (lc == end[w->h_match])
					w->h_match++;
				else
					w->h_match = lc == '<';
				if (w->h_match == len)
					break;
			}
			if (i < n) {
				/* the closing tag's name is matched: skip to its '>' */
				w->h_raw = 0;
				w->h_match = 0;
				w->h_closing = 1;
				w->h_name_len = 0;
				w->h_name[0] = '\0';
				w->h_state = H_ATTRS;
				w->h_quote = 0;
				i++;
			}
			continue;
		}
		}
		i++;
	}
}

static void html_reset(struct walk *w)
{
	if (w->h_state == H_LT)
		put_text(w, "<", 1);
	w->h_state = H_TEXT;
	w->h_raw = 0;
	w->h_match = 0;
	w->h_dashes = 0;
}

static int on_enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	struct walk *w = ud;

	w->depth++;
	switch (type) {
	case MD_BLOCK_UL:
	case MD_BLOCK_OL:
		if (w->n_lists < LIST_DEPTH_MAX) {
			struct list_level *l = &w->lists[w->n_lists];
			l->ordered = type == MD_BLOCK_OL;
			l->next = l->ordered ? ((MD_BLOCK_OL_DETAIL *)detail)->start : 0;
		}
		w->n_lists++;
		put_para(w);
		break;
	case MD_BLOCK_LI: {
		const MD_BLOCK_LI_DETAIL *li = detail;
		struct list_level *l = w->n_lists && w->n_lists <= LIST_DEPTH_MAX
					       ? &w->lists[w->n_lists - 1] : NULL;
		w->marker_len = 0;
		put_para(w);
		int k = l && l->ordered ? snprintf(w->marker, sizeof(w->marker), "%u. ", l->next++)
					: snprintf(w->marker, sizeof(w->marker), "- ");
		if (li->is_task)
			k += snprintf(w->marker + k, sizeof(w->marker) - (size_t)k, "[%c] ",
				      li->task_mark == ' ' ? ' ' : 'x');
		w->marker_len = (size_t)k;
		break;
	}
	case MD_BLOCK_H:
		heading_begin(w, (int)((MD_BLOCK_H_DETAIL *)detail)->level);
		break;
	case MD_BLOCK_CODE:
		w->in_code = 1;
		buf_reset(&w->code);
		break;
	case MD_BLOCK_TR:
		put_para(w);
		w->cell = 0;
		break;
	case MD_BLOCK_TH:
	case MD_BLOCK_TD:
		if (w->cell++)
			put_text(w, " | ", 3);
		break;
	case MD_BLOCK_DOC:
	case MD_BLOCK_THEAD:
	case MD_BLOCK_TBODY:
		break;
	default: /* QUOTE, HR, HTML, P, TABLE */
		put_para(w);
		break;
	}
	return w->rc;
}

static int on_leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	struct walk *w = ud;

	(void)detail;
	html_reset(w);
	if (w->html_heading_depth == w->depth)
		heading_end(w); /* an HTML heading ends with the block it opened in */
	w->depth--;
	switch (type) {
	case MD_BLOCK_UL:
	case MD_BLOCK_OL:
		w->n_lists--;
		put_para(w);
		break;
	case MD_BLOCK_LI:
		w->marker_len = 0; /* an empty item: no lone marker */
		break;
	case MD_BLOCK_H:
		if (w->heading)
			heading_end(w);
		break;
	case MD_BLOCK_CODE:
		w->in_code = 0;
		w->marker_len = 0; /* a marker before a code block would be a line of its own */
		if (w->code.len)
			SINK(w, code(w->ctx, w->code.data, w->code.len));
		buf_reset(&w->code);
		put_para(w);
		break;
	case MD_BLOCK_DOC:
	case MD_BLOCK_THEAD:
	case MD_BLOCK_TBODY:
	case MD_BLOCK_TH:
	case MD_BLOCK_TD:
		break;
	default:
		put_para(w);
		break;
	}
	return w->rc;
}

/* A status badge: a linked image whose URL is an SVG or names a badge service. Its alt text
 * ("build", "npm", "coverage 98%") would be noise in every chunk of a README's first section
 * and, in a "# name [![npm](...)](...)" heading, in the title. */
static int is_badge(const MD_SPAN_IMG_DETAIL *img)
{
	const char *u = img->src.text;
	size_t n = img->src.size, q = 0;
	if (!u)
		return 0;
	while (q < n && u[q] != '?' && u[q] != '#')
		q++;
	if (q >= 4 && !strncasecmp(u + q - 4, ".svg", 4))
		return 1;
	for (size_t i = 0; i + 5 <= n; i++)
		if (!strncasecmp(u + i, "badge", 5) || (i + 7 <= n && !strncasecmp(u + i, "shields", 7)))
			return 1;
	return 0;
}

static int on_enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
	/* Links, images, emphasis, code spans: their text is reported by on_text; the markup
	 * (and a link's target, an image's URL) is not text. */
	struct walk *w = ud;
	if (type == MD_SPAN_A)
		w->links++;
	else if (type == MD_SPAN_IMG && (w->badge || (w->links && is_badge(detail))))
		w->badge++;
	return w->rc;
}

static int on_leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
	struct walk *w = ud;
	(void)detail;
	if (type == MD_SPAN_A && w->links)
		w->links--;
	else if (type == MD_SPAN_IMG && w->badge)
		w->badge--;
	return w->rc;
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE size, void *ud)
{
	struct walk *w = ud;
	char u[8];
	size_t n;

	if (size > w->n)
		return w->rc; /* cannot be right (a parser bug): dropped, never read */
	if (w->badge && !w->in_code)
		return w->rc;
	if (w->in_code) {
		if (type == MD_TEXT_NULLCHAR)
			s = "\xEF\xBF\xBD", size = 3;
		/* bounded by the input (buf limit); a block past it keeps its head */
		if (buf_append(&w->code, s, size) == RL_ENOMEM)
			w->rc = RL_ENOMEM;
		return w->rc;
	}
	switch (type) {
	case MD_TEXT_NULLCHAR:
		put_text(w, "\xEF\xBF\xBD", 3);
		break;
	case MD_TEXT_BR:
		put_line(w);
		break;
	case MD_TEXT_SOFTBR:
		put_text(w, " ", 1);
		break;
	case MD_TEXT_ENTITY:
		n = entity_decode(s, size, u);
		if (n)
			put_text(w, u, n);
		else
			put_text(w, s, size);
		break;
	case MD_TEXT_HTML:
		html_feed(w, s, size);
		break;
	default: /* NORMAL, CODE (a code span), LATEXMATH */
		put_text(w, s, size);
		break;
	}
	return w->rc;
}

/* ---- front matter -------------------------------------------------------------------------- */

static const char *line_end(const char *s, const char *end)
{
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	return nl ? nl : end;
}

static const char *rtrim_end(const char *s, const char *e)
{
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	return e;
}

static const char *skip_blanks(const char *s, const char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* Is [s, e) exactly the delimiter d (three of '-', '.' or '+'), trailing blanks allowed? */
static int is_delim(const char *s, const char *e, char d)
{
	e = rtrim_end(s, e);
	return e - s == 3 && s[0] == d && s[1] == d && s[2] == d;
}

/*
 * Where front matter ends: the offset just past its closing line, 0 when s does not open with
 * front matter. [*in_start, *in_end) gets its content; *toml whether it is TOML.
 */
static size_t front_matter_span(const char *s, size_t n, size_t *in_start, size_t *in_end,
				int *toml)
{
	const char *end = s + n, *p = s;
	if (n < 4 || (s[0] != '-' && s[0] != '+'))
		return 0;
	char d = s[0];
	const char *le = line_end(p, end);
	if (le == end || !is_delim(p, le, d))
		return 0;
	*in_start = (size_t)(le + 1 - s);
	for (p = le + 1; p < end; p = le + 1) {
		le = line_end(p, end);
		if (is_delim(p, le, d) || (d == '-' && is_delim(p, le, '.'))) {
			*in_end = (size_t)(p - s);
			*toml = d == '+';
			return le == end ? n : (size_t)(le + 1 - s);
		}
		if (le == end)
			break;
	}
	return 0;
}

/* A JSON string of [s, e) unless it is not valid UTF-8 or holds NUL (jsonb has no \u0000). */
static json_t *json_str(const char *s, const char *e)
{
	if (memchr(s, '\0', (size_t)(e - s)))
		return NULL;
	return json_stringn(s, (size_t)(e - s));
}

/* A quoted scalar starting at *s ('"' or '\''), unescaped into b; *s moves past the closing
 * quote. Returns 0, or -1 when it does not close before e. */
static int unquote(const char **sp, const char *e, struct buf *b)
{
	const char *s = *sp;
	char q = *s++;
	buf_reset(b);
	while (s < e) {
		char c = *s++;
		if (c == q) {
			if (q == '\'' && s < e && *s == '\'') { /* '' is a quote in single quotes */
				s++;
			} else {
				*sp = s;
				return 0;
			}
		} else if (c == '\\' && q == '"' && s < e) {
			char x = *s++;
			c = x == 'n' ? '\n' : x == 't' ? '\t' : x == 'r' ? '\r' : x;
			if (x != '"' && x != '\\' && x != '/' && x != 'n' && x != 't' && x != 'r' &&
			    buf_putc(b, '\\'))
				return -1;
		}
		if (buf_putc(b, c))
			return -1;
	}
	return -1;
}

/* One scalar [s, e) (already trimmed): quoted -> string; true/false, null/~, numbers -> typed;
 * anything else -> the string as written. NULL when unusable. */
static json_t *scalar(const char *s, const char *e, struct buf *b)
{
	size_t n = (size_t)(e - s);
	if (!n)
		return NULL;
	if (*s == '"' || *s == '\'') {
		const char *p = s;
		if (unquote(&p, e, b) || skip_blanks(p, e) != e)
			return json_str(s, e); /* not one quoted string: keep as written */
		return b->len ? json_str(b->data, b->data + b->len) : json_string("");
	}
	static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False",
										   "FALSE" };
	static const char *const nul[] = { "~", "null", "Null", "NULL" };
	for (size_t i = 0; i < 3; i++) {
		if (n == strlen(t[i]) && !memcmp(s, t[i], n))
			return json_true();
		if (n == strlen(f[i]) && !memcmp(s, f[i], n))
			return json_false();
	}
	for (size_t i = 0; i < 4; i++)
		if (n == strlen(nul[i]) && !memcmp(s, nul[i], n))
			return json_null();
	if (n < 32) {
		char num[32], *endp;
		memcpy(num, s, n);
		num[n] = '\0';
		size_t i = num[0] == '-' || num[0] == '+';
		int digits = i < n && isdigit((unsigned char)num[i]);
		/* integers only: "version: 1.10" is meant as written, not as the float 1.1 */
		if (digits && strspn(num + i, "0123456789") == n - i) {
			long long v = strtoll(num, &endp, 10);
			if (*endp == '\0' && v != LLONG_MAX && v != LLONG_MIN)
				return json_integer((json_int_t)v);
		}
	}
	return json_str(s, e);
}

/* A one-line flow sequence "[a, 'b', 3]" of scalars; NULL when it is anything else. */
static json_t *flow_list(const char *s, const char *e, struct buf *b)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	s++; /* '[' */
	for (;;) {
		s = skip_blanks(s, e);
		if (s < e && *s == ']' && !json_array_size(a) && skip_blanks(s + 1, e) == e)
			return a; /* [] */
		const char *v = s, *ve;
		if (s < e && (*s == '"' || *s == '\'')) {
			if (unquote(&s, e, b))
				break;
			ve = s;
		} else {
			while (s < e && *s != ',' && *s != ']' && *s != '[' && *s != '{')
				s++;
			ve = rtrim_end(v, s);
		}
		json_t *x = scalar(v, ve, b);
		if (!x || json_array_append_new(a, x))
			break;
		s = skip_blanks(s, e);
		if (s < e && *s == ',') {
			s++;
			continue;
		}
		if (s < e && *s == ']' && skip_blanks(s + 1, e) == e)
			return a;
		break;
	}
	json_decref(a);
	return NULL;
}

/* The value of a key: a flow list, or a scalar with a trailing " # comment" dropped. */
static json_t *value_of(const char *s, const char *e, struct buf *b)
{
	if (s < e && *s == '[')
		return flow_list(s, e, b);
	if (s < e && (*s == '{' || *s == '&' || *s == '*' || *s == '!'))
		return NULL; /* flow maps, anchors, aliases, tags: not simple */
	if (s < e && *s != '"' && *s != '\'') {
		for (const char *p = s + 1; p < e; p++)
			if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t')) {
				e = rtrim_end(s, p);
				break;
			}
	}
	return scalar(s, e, b);
}

/* Key name [s, e): quotes removed; NULL when empty, too long or odd. */
static int key_ok(const char *s, const char *e)
{
	return e > s && e - s < FRONT_KEY_MAX && !memchr(s, '\0', (size_t)(e - s));
}

/*
 * Top-level "key: value" (YAML) or "key = value" (TOML) lines into m. YAML block lists
 * ("key:" then "  - item" lines) and block scalars ("key: |" or ">") are read too; other
 * nested structures (maps, TOML tables) are skipped whole.
 */
static int front_parse(const char *s, const char *end, int toml, json_t *m)
{
	struct buf b, text;
	int rc = 0;
	buf_init(&b, FRONT_MAX_BYTES);
	buf_init(&text, FRONT_MAX_BYTES);
	for (const char *p = s, *le; p < end && !rc; p = le + 1) {
		le = line_end(p, end);
		const char *ke = rtrim_end(p, le), *v;
		if (p == ke || *p == ' ' || *p == '\t' || *p == '#' || *p == '-')
			goto next;
		if (toml && *p == '[')
			break; /* a table: everything after belongs to it */
		const char *sep = toml ? memchr(p, '=', (size_t)(ke - p)) : NULL;
		for (const char *q = p; !toml && q < ke; q++)
			if (*q == ':' && (q + 1 == ke || q[1] == ' ' || q[1] == '\t')) {
				sep = q;
				break;
			}
		if (!sep)
			goto next;
		const char *ks = p, *kend = rtrim_end(p, sep);
		if (kend - ks >= 2 && (*ks == '"' || *ks == '\'') && kend[-1] == *ks)
			ks++, kend--;
		if (!key_ok(ks, kend) || json_object_size(m) >= FRONT_MAX_KEYS)
			goto next;
		char key[FRONT_KEY_MAX];
		memcpy(key, ks, (size_t)(kend - ks));
		key[kend - ks] = '\0';
		v = skip_blanks(sep + 1, ke);
		json_t *val = NULL;
		if (!toml && (v == ke || *v == '|' || *v == '>')) {
			/* the indented lines that follow: a block list, a block scalar or a map */
			int folded = v < ke && *v == '>', block = v < ke, list = 1, any = 0;
			json_t *a = block ? NULL : json_array();
			buf_reset(&text);
			while (le < end) {
				const char *q = le + 1, *qe = line_end(q, end), *t = skip_blanks(q, qe);
				int item = t < qe && *t == '-' && (t + 1 == qe || t[1] == ' ' || t[1] == '\r');
				if (rtrim_end(q, qe) != q && t == q && (block || !item))
					break; /* back at the top level ("- x" there is still ours) */
				le = qe;
				if (t == rtrim_end(t, qe))
					continue;
				any = 1;
				if (block) {
					if (text.len && buf_putc(&text, folded ? ' ' : '\n'))
						break;
					if (buf_append(&text, t, (size_t)(rtrim_end(t, qe) - t)))
						break;
				} else if (list && a && item) {
					const char *is = skip_blanks(t + 1, qe);
					json_t *x = value_of(is, rtrim_end(is, qe), &b);
					if (!x || json_array_append_new(a, x))
						list = 0;
				} else {
					list = 0;
				}
			}
			if (block && text.len)
				val = json_str(text.data, text.data + text.len);
			else if (!block && list && any)
				val = a, a = NULL;
			json_decref(a);
		} else {
			if (toml && v + 3 <= ke && (!memcmp(v, "\"\"\"", 3) || !memcmp(v, "'''", 3)))
				goto next; /* a multi-line string: skipped */
			val = value_of(v, ke, &b);
		}
		/* fails only for a key that is not UTF-8 (or out of memory): the key is lost */
		if (val)
			json_object_set_new(m, key, val);
next:
		if (le == end)
			break;
	}
	buf_release(&b);
	buf_release(&text);
	return rc;
}

/* ---- public ---------------------------------------------------------------------------------- */

int markdown_parse(const char *s, size_t n, const struct md_sink *sink, void *ctx,
		   json_t **front_matter)
{
	MD_PARSER parser = {
		.abi_version = 0,
		.flags = MD_DIALECT_GITHUB,
		.enter_block = on_enter_block,
		.leave_block = on_leave_block,
		.enter_span = on_enter_span,
		.leave_span = on_leave_span,
		.text = on_text,
	};
	struct walk w = { .sink = sink, .ctx = ctx };
	char *copy = NULL;
	size_t in_start = 0, in_end = 0, body = 0;
	int toml = 0, rc = 0;

	if (front_matter)
		*front_matter = NULL;
	if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
		s += 3, n -= 3;
	body = front_matter_span(s, n, &in_start, &in_end, &toml);
	if (body && front_matter) {
		json_t *m = json_object();
		if (!m)
			return RL_ENOMEM;
		if (in_end - in_start > FRONT_MAX_BYTES)
			in_end = in_start + FRONT_MAX_BYTES;
		rc = front_parse(s + in_start, s + in_end, toml, m);
		if (rc || !json_object_size(m))
			json_decref(m);
		else
			*front_matter = m;
		if (rc)
			return rc;
	}
	s += body;
	n -= body;
	/* md4c sizes are 32-bit; a longer text is cut (max_doc_bytes is far below) */
	if (n > UINT_MAX)
		n = UINT_MAX;
	/* md4c 0.4.8 (Debian 12) reads past the end of its input on some documents (fixed
	 * upstream later), and what it finds there steers it: it parses a copy followed by
	 * zero bytes, so those reads see defined bytes, whatever the caller's buffer. */
	if (!(copy = malloc(n + MD_PAD))) {
		rc = RL_ENOMEM;
		goto out;
	}
	memcpy(copy, s, n);
	memset(copy + n, 0, MD_PAD);
	w.n = n;
	buf_init(&w.code, n + 64);
	int r = md_parse(copy, (MD_SIZE)n, &parser, &w);
	if (w.rc < 0)
		rc = w.rc;
	else if (r < 0 && !w.rc)
		rc = RL_ENOMEM; /* md4c's only runtime error */
	buf_release(&w.code);
out:
	free(copy);
	if (rc && front_matter) {
		json_decref(*front_matter);
		*front_matter = NULL;
	}
	return rc;
}
