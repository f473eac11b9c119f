/*
 * mail.c — one e-mail message (RFC 5322 header + MIME body) to text events and metadata.
 *
 * What: the header's Subject, From, To, Cc, Date, Message-ID and In-Reply-To (RFC 2047
 * encoded words decoded, folded lines unfolded, Date as ISO 8601 when it parses); the body's
 * text parts with their transfer encoding (base64, quoted-printable) undone, handed to the
 * sink with their declared charset; multipart/alternative read once (text/plain preferred,
 * else text/html, else its last part); named inline text parts (plain, Markdown, HTML) read
 * after a heading naming the file; attached files (disposition "attachment", or a named part
 * that is not text) handed to the sink's attachment callback, which the read stage uses to
 * read each as a nested entry under the message's key; every part not read as text listed
 * by name, type and decoded size.
 *
 * How: a recursive walk over byte ranges of the message, never a tree: a part is its header
 * lines and the body after the first blank line; a multipart body is cut at its boundary
 * lines. Decoded part bytes live in one scratch buffer per part and are only lent to the sink.
 *
 * Why own code and not GMime: the whole of what ragload needs is the above (some 600 lines);
 * GMime would bring GLib into the normalize workers and into the sanitizer and fuzz builds,
 * where an uninstrumented GLib hides what ASan should see and its type registry shows up as
 * leaks. Charset conversion stays in normalize, which already judges and counts repairs.
 *
 * Hostile input: nesting is capped (MAX_DEPTH), so are parts (MAX_PARTS), header fields per
 * part (MAX_FIELDS) and a header value's unfolded length (MAX_VALUE); every scan is linear in
 * the part it looks at, and a part is looked at once per nesting level. Damage (no closing
 * boundary, a multipart without boundary, bad base64 or quoted-printable) is counted in
 * mime_errors and the walk goes on with what is there.
 */
#include "mail.h"

#include "../lib/common.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 16
#define MAX_PARTS 1000
#define MAX_FIELDS 512
#define MAX_VALUE (16 * 1024)
#define MAX_ATTACHMENTS 1000
#define MAX_WORD 1024           /* an encoded word's longest */

struct field {
	const char *name, *value;
	size_t name_len, value_len;  /* value: raw, folded lines included */
};

struct head {
	struct field f[MAX_FIELDS];
	size_t n;
	size_t body;                 /* offset of the body */
};

struct walk {
	const struct mail_sink *sink;
	void *ctx;
	struct mail_info *info;
	size_t parts;
	int stop;                    /* the sink's non-zero answer */
};

struct ctype {
	char type[128];              /* "text/plain", lower case (OOXML types pass 64) */
	char charset[40];
	char boundary[72];           /* RFC 2046: at most 70 characters */
	char name[256];              /* file name (filename or name parameter) */
	int attachment;              /* Content-Disposition: attachment */
	int enc;                     /* ENC_* */
};

enum { ENC_NONE, ENC_BASE64, ENC_QP };

static int is_ws(char c) { return c == ' ' || c == '\t'; }

/* ---- header fields ------------------------------------------------------------------------- */

/* Length of the line at s (without its end) and, in *next, where the next one starts. */
static size_t line_at(const char *s, size_t n, size_t *next)
{
	const char *nl = memchr(s, '\n', n);
	size_t len = nl ? (size_t)(nl - s) : n;
	*next = nl ? len + 1 : n;
	if (len && s[len - 1] == '\r')
		len--;
	return len;
}

/* A field name: printable ASCII but ':' and space, then ':'. Returns the name's length or 0. */
static size_t field_name(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] > ' ' && s[i] < 127 && s[i] != ':')
		i++;
	return i && i < n && s[i] == ':' ? i : 0;
}

/*
 * Reads the header block at s. A line that is neither a field nor a continuation ends it as a
 * blank line would (the body starts there: damaged input still gives its text); *damaged is
 * set then. The From_ line of an mbox message is passed over.
 */
static void head_parse(const char *s, size_t n, struct head *h, size_t *damaged)
{
	size_t at = 0;
	h->n = 0;
	if (n >= 5 && memcmp(s, "From ", 5) == 0)
		(void)line_at(s, n, &at);
	while (at < n) {
		size_t next, len = line_at(s + at, n - at, &next), nl;
		if (len == 0) {
			at += next;
			break;
		}
		if (is_ws(s[at])) {
			if (h->n)
				h->f[h->n - 1].value_len = at + len - (size_t)(h->f[h->n - 1].value - s);
		} else if ((nl = field_name(s + at, len))) {
			if (h->n < MAX_FIELDS) {
				struct field *f = &h->f[h->n++];
				f->name = s + at;
				f->name_len = nl;
				f->value = s + at + nl + 1;
				f->value_len = len - nl - 1;
			}
		} else {
			(*damaged)++;
			break;
		}
		at += next;
	}
	h->body = at;
}

static const struct field *head_get(const struct head *h, const char *name)
{
	size_t m = strlen(name);
	for (size_t i = 0; i < h->n; i++)
		if (h->f[i].name_len == m && strncasecmp(h->f[i].name, name, m) == 0)
			return &h->f[i];
	return NULL;
}

/* The value unfolded into out (NUL-terminated, at most cap - 1 bytes), blanks trimmed. */
static size_t unfold(const struct field *f, char *out, size_t cap)
{
	size_t k = 0;
	int sp = 0;
	for (size_t i = 0; i < f->value_len && k + 1 < cap; i++) {
		char c = f->value[i];
		if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
			sp = k > 0;
			continue;
		}
		if (sp && k + 2 < cap)
			out[k++] = ' ';
		sp = 0;
		out[k++] = c;
	}
	out[k] = '\0';
	return k;
}

/* ---- UTF-8 and RFC 2047 -------------------------------------------------------------------- */

/* Appends s/n as valid UTF-8 without controls (each invalid byte becomes U+FFFD). */
static int utf8_put(struct buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	int rc = 0;
	for (size_t i = 0; !rc && i < n;) {
		unsigned c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4 : 0;
		int ok = len && i + len <= n && !(len == 2 && c < 0xc2);
		for (size_t k = 1; ok && k < len; k++)
			ok = (s[i + k] & 0xc0) == 0x80;
		if (ok && len == 3) {
			unsigned cp = (c & 0x0f) << 12 | (s[i + 1] & 0x3f) << 6;
			ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
		} else if (ok && len == 4) {
			unsigned cp = (c & 0x07) << 18 | (unsigned)(s[i + 1] & 0x3f) << 12;
			ok = cp >= 0x10000 && cp <= 0x10ffff;
		}
		if (!ok) {
			rc = buf_append(b, "\xEF\xBF\xBD", 3);
			i++;
		} else if (len == 1 && (c < 0x20 || c == 0x7f)) {
			rc = buf_putc(b, ' ');
			i++;
		} else {
			rc = buf_append(b, s + i, len);
			i += len;
		}
	}
	return rc;
}

/* Lower-cases a charset label into out; "" when it is not a plausible one. */
static void charset_copy(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':') || k + 1 >= cap) {
			k = 0;
			break;
		}
		out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[k] = '\0';
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* base64 into out, skipping what is not of its alphabet; *bad counts such bytes. */
static int b64_decode(const char *s, size_t n, struct buf *out, size_t *bad)
{
	unsigned acc = 0;
	int bits = 0, rc = buf_reserve(out, n / 4 * 3 + 4);
	for (size_t i = 0; !rc && i < n; i++) {
		int v = b64_val((unsigned char)s[i]);
		if (v < 0) {
			if (s[i] != '\r' && s[i] != '\n' && s[i] != ' ' && s[i] != '\t' && s[i] != '=')
				(*bad)++;
			continue;
		}
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			rc = buf_putc(out, (char)(acc >> bits & 0xff));
		}
	}
	return rc;
}

/* quoted-printable into out (header: '_' is a space, RFC 2047's Q encoding). */
static int qp_decode(const char *s, size_t n, int header, struct buf *out, size_t *bad)
{
	int rc = buf_reserve(out, n + 1);
	for (size_t i = 0; !rc && i < n; i++) {
		char c = s[i];
		if (c == '_' && header) {
			rc = buf_putc(out, ' ');
		} else if (c != '=') {
			/* blanks before a line end are padding (RFC 2045 6.7 rule 3) */
			if (!header && (c == ' ' || c == '\t')) {
				size_t j = i;
				while (j < n && (s[j] == ' ' || s[j] == '\t'))
					j++;
				if (j == n || s[j] == '\r' || s[j] == '\n') {
					i = j - 1;
					continue;
				}
			}
			rc = buf_putc(out, c);
		} else if (i + 2 < n && hex_val((unsigned char)s[i + 1]) >= 0 &&
			   hex_val((unsigned char)s[i + 2]) >= 0) {
			rc = buf_putc(out, (char)(hex_val((unsigned char)s[i + 1]) << 4 |
						  hex_val((unsigned char)s[i + 2])));
			i += 2;
		} else {
			/* a soft line break: '=' then blanks then the line end */
			size_t j = i + 1;
			while (j < n && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j < n && s[j] == '\r')
				j++;
			if (j < n && s[j] == '\n') {
				i = j;
			} else if (j >= n) {
				i = n;
			} else {
				(*bad)++;
				rc = buf_putc(out, '=');
			}
		}
	}
	return rc;
}

/* Converts s/n from charset to valid UTF-8 appended to out. */
static int charset_put(const char *charset, const char *s, size_t n, struct buf *out)
{
	iconv_t cd = (iconv_t)-1;
	int rc = 0;
	if (*charset && strcmp(charset, "utf-8") && strcmp(charset, "us-ascii"))
		cd = iconv_open("UTF-8", strcmp(charset, "iso-8859-1") ? charset : "WINDOWS-1252");
	if (cd == (iconv_t)-1)
		return utf8_put(out, s, n);
	struct buf tmp;
	buf_init(&tmp, 0);
	rc = buf_reserve(&tmp, n * 4 + 16);
	char *in = (char *)s;
	size_t left = n;
	while (!rc && left) {
		char *o = tmp.data + tmp.len;
		size_t room = tmp.cap - tmp.len - 1;
		size_t r = iconv(cd, &in, &left, &o, &room);
		tmp.len = (size_t)(o - tmp.data);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			rc = buf_reserve(&tmp, left * 4 + 16);
		} else {
			in++;
			left--;
			rc = buf_append(&tmp, "\xEF\xBF\xBD", 3);
		}
	}
	if (!rc)
		rc = utf8_put(out, tmp.data ? tmp.data : "", tmp.len);
	buf_release(&tmp);
	iconv_close(cd);
	return rc;
}

/*
 * A header value (raw, folded) decoded to UTF-8: encoded words (=?cs?B|Q?text?=) decoded, the
 * blanks between two of them dropped, line folds unfolded. Returns 0 or negative.
 */
static int header_decode(const struct field *f, struct buf *out, size_t *bad)
{
	char *v = malloc(MAX_VALUE);
	size_t n, i = 0, plain_from = 0;
	int rc = 0, after_word = 0;
	struct buf raw;

	if (!v)
		return RL_ENOMEM;
	n = unfold(f, v, MAX_VALUE);
	buf_init(&raw, 0);
	while (!rc && i < n) {
		char *q1, *q2, *end;
		/* an encoded word is short (RFC 2047: 75 bytes; some mailers write longer ones):
		 * looking no further than MAX_WORD keeps a value full of "=?" linear */
		size_t look = n - i < MAX_WORD ? n - i : MAX_WORD;
		if (v[i] == '=' && i + 1 < n && v[i + 1] == '?' &&
		    (q1 = memchr(v + i + 2, '?', look - 2)) && q1 + 2 < v + i + look && q1[2] == '?' &&
		    (q1[1] == 'B' || q1[1] == 'b' || q1[1] == 'Q' || q1[1] == 'q') &&
		    (q2 = memchr(q1 + 3, '?', (size_t)(v + i + look - q1 - 3))) &&
		    q2 + 1 < v + i + look && q2[1] == '=') {
			char cs[40];
			const char *star = memchr(v + i + 2, '*', (size_t)(q1 - v - i - 2));
			size_t csl = (size_t)((star ? star : q1) - (v + i + 2));
			size_t gap = plain_from;
			/* blanks between two encoded words vanish */
			int blank = 1;
			for (size_t k = gap; k < i; k++)
				blank &= is_ws(v[k]);
			if (!(after_word && blank))
				rc = utf8_put(out, v + plain_from, i - plain_from);
			charset_copy(v + i + 2, csl, cs, sizeof(cs));
			buf_reset(&raw);
			if (!rc)
				rc = q1[1] == 'B' || q1[1] == 'b'
					? b64_decode(q1 + 3, (size_t)(q2 - q1 - 3), &raw, bad)
					: qp_decode(q1 + 3, (size_t)(q2 - q1 - 3), 1, &raw, bad);
			if (!rc)
				rc = charset_put(cs, raw.data ? raw.data : "", raw.len, out);
			end = q2 + 2;
			i = plain_from = (size_t)(end - v);
			after_word = 1;
			continue;
		}
		if (!is_ws(v[i]))
			after_word = 0;
		i++;
	}
	if (!rc)
		rc = utf8_put(out, v + plain_from, n - plain_from);
	buf_release(&raw);
	free(v);
	return rc;
}

/* ---- Content-Type and friends -------------------------------------------------------------- */

/* The parameter key of a header value into out ("" when absent); RFC 2231's key* too. */
static void param_get(const char *v, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	const char *p = v;
	out[0] = '\0';
	while ((p = strchr(p, ';'))) {
		p++;
		while (is_ws(*p))
			p++;
		if (strncasecmp(p, key, kl))
			continue;
		const char *q = p + kl;
		int ext = 0;
		if (*q == '*') {
			ext = 1;
			q++;
			while (*q >= '0' && *q <= '9')  /* a continuation: its first piece only */
				q++;
			if (*q == '*')
				q++;
		}
		while (is_ws(*q))
			q++;
		if (*q != '=')
			continue;
		q++;
		while (is_ws(*q))
			q++;
		size_t k = 0;
		if (*q == '"') {
			for (q++; *q && *q != '"' && k + 1 < cap; q++) {
				if (*q == '\\' && q[1])
					q++;
				out[k++] = *q;
			}
		} else {
			while (*q && *q != ';' && !is_ws(*q) && k + 1 < cap)
				out[k++] = *q++;
		}
		out[k] = '\0';
		if (ext) {  /* charset'lang'pct-encoded: the bytes, charset left to the caller */
			char *a = strchr(out, '\''), *b = a ? strchr(a + 1, '\'') : NULL;
			const char *src = b ? b + 1 : out;
			size_t j = 0;
			for (const char *s = src; *s; s++) {
				if (*s == '%' && hex_val((unsigned char)s[1]) >= 0 &&
				    hex_val((unsigned char)s[2]) >= 0) {
					out[j++] = (char)(hex_val((unsigned char)s[1]) << 4 |
							  hex_val((unsigned char)s[2]));
					s += 2;
				} else {
					out[j++] = *s;
				}
			}
			out[j] = '\0';
		}
		return;
	}
}

static void ctype_read(const struct head *h, int in_digest, struct ctype *ct)
{
	char v[2048];
	const struct field *f = head_get(h, "Content-Type");
	memset(ct, 0, sizeof(*ct));
	strcpy(ct->type, in_digest ? "message/rfc822" : "text/plain");
	if (f) {
		unfold(f, v, sizeof(v));
		size_t k = 0;
		for (const char *p = v; *p && *p != ';' && !is_ws(*p) && k + 1 < sizeof(ct->type); p++)
			ct->type[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		ct->type[k] = '\0';
		for (size_t i = 0; i < k; i++)  /* a type is an ASCII token: else unknown bytes */
			if ((unsigned char)ct->type[i] <= ' ' || (unsigned char)ct->type[i] >= 127 ||
			    ct->type[i] == '"')
				strcpy(ct->type, "application/octet-stream");
		if (!strchr(ct->type, '/'))
			strcpy(ct->type, "text/plain");
		char cs[64];
		param_get(v, "charset", cs, sizeof(cs));
		charset_copy(cs, strlen(cs), ct->charset, sizeof(ct->charset));
		param_get(v, "boundary", ct->boundary, sizeof(ct->boundary));
		param_get(v, "name", ct->name, sizeof(ct->name));
	}
	if ((f = head_get(h, "Content-Disposition"))) {
		unfold(f, v, sizeof(v));
		ct->attachment = strncasecmp(v, "attachment", 10) == 0;
		char name[256];
		param_get(v, "filename", name, sizeof(name));
		if (name[0])
			memcpy(ct->name, name, sizeof(name));
	}
	if ((f = head_get(h, "Content-Transfer-Encoding"))) {
		unfold(f, v, sizeof(v));
		ct->enc = !strncasecmp(v, "base64", 6) ? ENC_BASE64
			: !strncasecmp(v, "quoted-printable", 16) ? ENC_QP : ENC_NONE;
	}
}

/* ---- the walk ------------------------------------------------------------------------------ */

static int part_walk(struct walk *w, const char *s, size_t n, int depth, int in_digest, int top);

/* A boundary line at s: "--" boundary, then "--" (*last) or blanks to the line end. */
static int boundary_at(const char *s, size_t n, const char *b, size_t bl, int *last)
{
	if (n < bl + 2 || s[0] != '-' || s[1] != '-' || memcmp(s + 2, b, bl))
		return 0;
	size_t i = bl + 2;
	*last = i + 1 < n && s[i] == '-' && s[i + 1] == '-';
	if (*last)
		i += 2;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i == n || s[i] == '\n';
}

/* The children of a multipart body, as byte ranges; returns how many (at most max). */
static size_t multipart_split(struct walk *w, const char *s, size_t n, const char *b,
			      size_t *from, size_t *to, size_t max)
{
	size_t bl = strlen(b), at = 0, k = 0, start = 0;
	int open = 0, last = 0;
	while (at < n) {
		size_t next;
		(void)line_at(s + at, n - at, &next);
		if (s[at] == '-' && boundary_at(s + at, n - at, b, bl, &last)) {
			if (open && k < max) {
				/* the line end before the boundary belongs to it */
				size_t end = at;
				if (end > start && s[end - 1] == '\n')
					end--;
				if (end > start && s[end - 1] == '\r')
					end--;
				from[k] = start;
				to[k++] = end;
			}
			open = !last;
			start = at + next;
			if (last)
				return k;
		}
		at += next;
	}
	if (open && k < max) {  /* no closing boundary: the last part runs to the end */
		w->info->mime_errors++;
		from[k] = start;
		to[k++] = n;
	} else if (!k) {
		w->info->mime_errors++;
	}
	return k;
}

static int text_name(const char *name, const char *type)
{
	static const char *const sfx[] = { ".txt", ".md", ".markdown", ".html", ".htm", ".text" };
	size_t nl = strlen(name);
	if (!strcmp(type, "text/plain") || !strcmp(type, "text/markdown") ||
	    !strcmp(type, "text/x-markdown") || !strcmp(type, "text/html"))
		return 1;
	for (size_t i = 0; i < RL_ARRAY_LEN(sfx); i++) {
		size_t m = strlen(sfx[i]);
		if (nl > m && !strcasecmp(name + nl - m, sfx[i]))
			return !strncmp(type, "text/", 5) || !strcmp(type, "application/octet-stream");
	}
	return 0;
}

static enum mail_kind part_kind(const char *name, const char *type)
{
	size_t nl = strlen(name);
	if (!strcmp(type, "text/html") || (nl > 5 && !strcasecmp(name + nl - 5, ".html")) ||
	    (nl > 4 && !strcasecmp(name + nl - 4, ".htm")))
		return MAIL_HTML;
	if (!strcmp(type, "text/markdown") || !strcmp(type, "text/x-markdown") ||
	    (nl > 3 && !strcasecmp(name + nl - 3, ".md")) ||
	    (nl > 9 && !strcasecmp(name + nl - 9, ".markdown")))
		return MAIL_MARKDOWN;
	return MAIL_PLAIN;
}

/* Lists a part not read as text (name: its decoded file name) in info->attachments. */
static int attachment_list(struct walk *w, const struct ctype *ct, const struct buf *name,
			   size_t bytes)
{
	struct mail_info *in = w->info;
	json_t *a;
	if (!in->attachments && !(in->attachments = json_array()))
		return RL_ENOMEM;
	if (json_array_size(in->attachments) >= MAX_ATTACHMENTS)
		return 0;
	if (!(a = json_pack("{s:s%,s:s,s:I}", "name", name->data ? name->data : "", name->len,
			    "type", ct->type, "bytes", (json_int_t)bytes)))
		return RL_ENOMEM;
	return json_array_append_new(in->attachments, a) ? RL_ENOMEM : 0;
}

/*
 * A leaf part: decoded, then read as text, or listed (and handed to the sink's attachment
 * callback when it is an attached file: disposition "attachment", or not text and named).
 */
static int leaf_walk(struct walk *w, const struct ctype *ct, const char *body, size_t n, int top)
{
	struct buf dec, name;
	const char *p = body;
	size_t len = n, bad = 0;
	int rc = 0, text, attached;

	buf_init(&dec, 0);
	buf_init(&name, 0);
	if (ct->enc == ENC_BASE64)
		rc = b64_decode(body, n, &dec, &bad);
	else if (ct->enc == ENC_QP)
		rc = qp_decode(body, n, 0, &dec, &bad);
	if (rc)
		goto out;
	if (ct->enc != ENC_NONE) {
		p = dec.data ? dec.data : "";
		len = dec.len;
	}
	if (bad)
		w->info->mime_errors++;
	if (ct->name[0]) {
		struct field f = { .value = ct->name, .value_len = strlen(ct->name) };
		if ((rc = header_decode(&f, &name, &bad)))
			goto out;
	}
	text = text_name(ct->name, ct->type);
	/* message/external-body holds where a file is (a URL, an FTP site), not the file */
	attached = (ct->attachment || (!text && ct->name[0])) &&
		   strcmp(ct->type, "message/external-body");
	if (attached || !text) {
		rc = attachment_list(w, ct, &name, len);
		if (!rc && attached && w->sink->attachment)
			rc = w->sink->attachment(w->ctx, name.data ? name.data : "", ct->type,
						 len ? p : "", len);
		goto out;
	}
	if (ct->name[0] && !top && name.len && w->sink->heading &&
	    (rc = w->sink->heading(w->ctx, name.data, name.len)))
		goto out;
	if (len)
		rc = w->sink->text(w->ctx, p, len, ct->charset, part_kind(ct->name, ct->type));
out:
	buf_release(&dec);
	buf_release(&name);
	return rc;
}

/* Which child of a multipart/alternative to read: text/plain, else text/html, else the last. */
static size_t alternative_pick(const char *s, const size_t *from, const size_t *to, size_t k)
{
	size_t html = k, i;
	for (i = 0; i < k; i++) {
		struct head *h = malloc(sizeof(*h));
		struct ctype ct;
		size_t dmg = 0;
		if (!h)
			return k - 1;
		head_parse(s + from[i], to[i] - from[i], h, &dmg);
		ctype_read(h, 0, &ct);
		free(h);
		if (!strcmp(ct.type, "text/plain"))
			return i;
		if (!strcmp(ct.type, "text/html") && html == k)
			html = i;
	}
	return html < k ? html : k - 1;
}

static int part_walk(struct walk *w, const char *s, size_t n, int depth, int in_digest, int top)
{
	struct head *h = NULL;
	struct ctype ct;
	size_t *from = NULL, *to = NULL;
	int rc = 0;

	if (depth > MAX_DEPTH || ++w->parts > MAX_PARTS) {
		w->info->mime_errors++;
		return 0;
	}
	if (!(h = malloc(sizeof(*h))))
		return RL_ENOMEM;
	head_parse(s, n, h, &w->info->mime_errors);
	ctype_read(h, in_digest, &ct);
	const char *body = s + h->body;
	size_t blen = n - h->body;

	if (!strncmp(ct.type, "multipart/", 10) && ct.boundary[0]) {
		from = malloc(MAX_PARTS * sizeof(*from));
		to = malloc(MAX_PARTS * sizeof(*to));
		if (!from || !to) {
			rc = RL_ENOMEM;
			goto out;
		}
		size_t k = multipart_split(w, body, blen, ct.boundary, from, to, MAX_PARTS);
		int digest = !strcmp(ct.type, "multipart/digest");
		if (!k) {  /* not one boundary line (counted): what is there is read as text */
			strcpy(ct.type, "text/plain");
			rc = leaf_walk(w, &ct, body, blen, top);
		} else if (!strcmp(ct.type, "multipart/alternative")) {
			size_t i = alternative_pick(body, from, to, k);
			rc = part_walk(w, body + from[i], to[i] - from[i], depth + 1, 0, 0);
		} else {
			for (size_t i = 0; !rc && i < k; i++)
				rc = part_walk(w, body + from[i], to[i] - from[i], depth + 1, digest, 0);
		}
	} else if (!strcmp(ct.type, "message/rfc822") && ct.enc == ENC_NONE && !ct.attachment) {
		rc = part_walk(w, body, blen, depth + 1, 0, 0);
	} else {
		if (!strncmp(ct.type, "multipart/", 10)) {  /* no boundary: read as text */
			w->info->mime_errors++;
			strcpy(ct.type, "text/plain");
		}
		rc = leaf_walk(w, &ct, body, blen, top);
	}
out:
	free(from);
	free(to);
	free(h);
	return rc;
}

/* ---- the top header ------------------------------------------------------------------------ */

/* RFC 5322 date ("[Day, ]DD Mon YYYY HH:MM[:SS] zone") as ISO 8601, 0 when it does not parse. */
static int date_iso(const char *v, char *out, size_t cap)
{
	static const char mon[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int d, y, hh, mm, ss = 0, used = 0, zone = 0, month = 0;
	char m[4] = "", z[16] = "";
	const char *p = strchr(v, ',');
	p = p ? p + 1 : v;
	if (sscanf(p, " %2d %3s %4d %2d:%2d%n", &d, m, &y, &hh, &mm, &used) != 5)
		return 0;
	p += used;
	if (*p == ':') {
		if (sscanf(p, ":%2d%n", &ss, &used) != 1)
			return 0;
		p += used;
	}
	for (int i = 0; i < 12; i++)
		if (!strncasecmp(m, mon + 3 * i, 3) && strlen(m) == 3)
			month = i + 1;
	if (!month || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 0)
		return 0;
	if (y < 50)
		y += 2000;
	else if (y < 1000)
		y += 1900;
	if (sscanf(p, " %15s", z) == 1 && (z[0] == '+' || z[0] == '-') && strlen(z) >= 5) {
		int zh = (z[1] - '0') * 10 + (z[2] - '0'), zm = (z[3] - '0') * 10 + (z[4] - '0');
		if (zh < 0 || zh > 23 || zm < 0 || zm > 59)
			return 0;
		zone = (z[0] == '-' ? -1 : 1) * (zh * 60 + zm);
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, month, d, hh, mm, ss,
		 zone < 0 ? '-' : '+', abs(zone) / 60, abs(zone) % 60);
	return 1;
}

static int meta_fields(struct mail_info *in, const struct head *h)
{
	static const struct { const char *field, *key; } keep[] = {
		{ "Subject", "subject" }, { "From", "from" }, { "To", "to" }, { "Cc", "cc" },
		{ "Date", "date" }, { "Message-ID", "message_id" }, { "In-Reply-To", "in_reply_to" },
	};
	struct buf v;
	int rc = 0;
	size_t bad = 0;
	buf_init(&v, 0);
	for (size_t i = 0; !rc && i < RL_ARRAY_LEN(keep); i++) {
		const struct field *f = head_get(h, keep[i].field);
		char iso[40];
		if (!f)
			continue;
		buf_reset(&v);
		if ((rc = header_decode(f, &v, &bad)))
			break;
		if (!v.len)
			continue;
		if (!strcmp(keep[i].key, "date") && date_iso(v.data, iso, sizeof(iso))) {
			buf_reset(&v);
			rc = buf_append(&v, iso, strlen(iso));
		}
		if (!rc && json_object_set_new(in->mail, keep[i].key, json_stringn(v.data, v.len)))
			rc = RL_ENOMEM;
		if (!rc && !strcmp(keep[i].key, "subject") && !(in->subject = xstrndup(v.data, v.len)))
			rc = RL_ENOMEM;
	}
	buf_release(&v);
	return rc;
}

/* ---- public -------------------------------------------------------------------------------- */

int mail_parse(const char *s, size_t n, const struct mail_sink *sink, void *ctx,
	       struct mail_info *info)
{
	struct walk w = { .sink = sink, .ctx = ctx, .info = info };
	struct head *h;
	size_t dmg = 0;
	int rc;

	memset(info, 0, sizeof(*info));
	if (!(info->mail = json_object()) || !(h = malloc(sizeof(*h))))
		return RL_ENOMEM;
	head_parse(s, n, h, &dmg);
	rc = meta_fields(info, h);
	free(h);
	if (!rc)
		rc = part_walk(&w, s, n, 0, 0, 1);
	info->parts = w.parts;
	return rc;
}

void mail_info_release(struct mail_info *info)
{
	if (!info)
		return;
	free(info->subject);
	json_decref(info->mail);
	json_decref(info->attachments);
	memset(info, 0, sizeof(*info));
}
