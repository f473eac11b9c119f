/*
 * office.c — office documents and e-books to text events (private to normalize: office.h).
 *
 * What: DOCX (word/document.xml: paragraphs, headings from paragraph styles, tables one row
 * per paragraph with cells joined by " | ", then footnotes and endnotes under a "Notes"
 * heading), PPTX (slides in presentation order, each under its title or "Slide N", text
 * frames and tables, then its speaker notes), XLSX (each sheet under its name, row by row,
 * shared strings resolved), ODF (content.xml: text:h, text:p, lists, tables, draw:page slides
 * with their notes; an ODS table under its name), EPUB (container.xml -> OPF -> spine, each
 * XHTML member handed back to normalize's HTML reader). Document properties (OOXML
 * docProps/core.xml and app.xml, ODF meta.xml, the OPF's Dublin Core) become a JSON object.
 *
 * How: the package is opened from memory by libarchive (zip only, no filters) and read in one
 * pass: the members that can hold what we read (XML, relationships, OPF, XHTML; no images, no
 * fonts) are kept in memory, sorted by name, then the format's parts are looked up in reading
 * order and streamed through libxml2's xmlReader, one node at a time, never a DOM. A walker is
 * a small state machine over element names (local names: prefixes are not fixed by the
 * standards); text goes to the sink as it comes, so memory holds the package's XML and the
 * reader's state, never a copy of the document as a tree.
 *
 * Why these bounds: a package is a zip, so it is a zip bomb's natural shape. One member may
 * expand to OFFICE_MEMBER_MAX (64 MiB: a 1,000-page docx's document.xml is ~10 MiB), all kept
 * members to OFFICE_TOTAL_MAX (256 MiB), and past 16 MiB the expansion over the package's
 * own bytes may not pass OFFICE_RATIO_MAX (XML deflates 10-30x; 200 leaves room). The read
 * stage's max_entry_bytes already bounds the package itself. A spreadsheet table stops after
 * OFFICE_SHEET_ROWS rows or OFFICE_SHEET_BYTES bytes of text (counted in truncated_sheets):
 * a sheet of a million numbers is data, not prose to retrieve. The emitter behind the sink
 * stops the walk once the document is past max_doc_bytes. libxml2 parses without network,
 * without external entities and without entity substitution; its own limits (depth, node
 * sizes) stay on.
 *
 * Damage: a package libarchive cannot read, or whose main part is missing or not XML at its
 * first node, is corrupt_document; an encrypted zip member, an ODF manifest with
 * encryption-data, an EPUB whose encryption.xml lists a content document (DRM; font
 * obfuscation is not encryption), or an OLE2 compound file holding EncryptionInfo and
 * EncryptedPackage (OOXML encryption wraps the package so) is encrypted; any other OLE2 file
 * (a legacy .doc under a .docx name) is corrupt_document. XML that breaks off after it began keeps the text
 * read up to the break (a document damaged at its end still says most of what it said).
 * read up to the break (a document damaged at its end still says most of what it said).
 *
 * Size: ~1,500 lines: the OOXML, ODF and EPUB walkers share the zip reading, the XML
 * streaming and the emitter callbacks; it splits by format (ooxml, odf, epub) once the
 * formats being added to it have landed.
 */
#include "office.h"
#include "../lib/common.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <archive.h>
#include <archive_entry.h>
#include <libxml/xmlreader.h>

#define LABEL_MAX 1024        /* bytes of a title or property value kept */
#define STYLES_MAX 4096       /* heading styles remembered from styles.xml */
#define LIST_MAX 100000       /* slides, sheets, spine items, relationships */
#define PROP_MAX 256          /* bytes of a date or number property */

/* ---- the package ----------------------------------------------------------------------------- */

struct member {
	char *name;
	char *data;   /* NUL-terminated */
	size_t len;
};

struct pkg {
	struct member *m;
	size_t n, cap;
	size_t total;
};

static void pkg_release(struct pkg *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->m[i].name);
		free(p->m[i].data);
	}
	free(p->m);
	memset(p, 0, sizeof(*p));
}

static int name_ends(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcasecmp(s + n - m, suf) == 0;
}

/* Members whose bytes can hold text or structure we read; images, fonts, media are left. */
static int member_wanted(const char *name)
{
	static const char *const suf[] = { ".xml", ".rels", ".opf", ".xhtml", ".html", ".htm" };
	for (size_t i = 0; i < RL_ARRAY_LEN(suf); i++)
		if (name_ends(name, suf[i]))
			return 1;
	return 0;
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->name, ((const struct member *)b)->name);
}

static const struct member *pkg_find(const struct pkg *p, const char *name)
{
	struct member key = { .name = (char *)name };
	return name && p->n ? bsearch(&key, p->m, p->n, sizeof(*p->m), member_cmp) : NULL;
}

static int reject(struct office_info *info, const char *reason, const char *fmt, const char *arg)
{
	info->reason = reason;
	snprintf(info->message, sizeof(info->message), fmt, arg ? arg : "");
	return RL_SKIP;
}

static xmlTextReaderPtr xr_open(const struct member *m);

/*
 * The main part must be there and be XML up to its first element: one that is not (its
 * bytes replaced, cut before its root) is a corrupt_document, not an empty one. XML that
 * breaks off later keeps what was read (see the design note). Returns 0 or RL_SKIP.
 */
static int main_part_check(const struct member *m, const char *name, struct office_info *info)
{
	xmlTextReaderPtr r = m ? xr_open(m) : NULL;
	int ok = 0, got;
	while (r && (got = xmlTextReaderRead(r)) == 1)
		if (xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT) {
			ok = 1;
			break;
		}
	xmlFreeTextReader(r);
	if (!m)
		return reject(info, "corrupt_document", "no main document part (%s)", name);
	return ok ? 0 : reject(info, "corrupt_document", "main part %s is not XML", name);
}

/* Reads one member's bytes into m (bounded by OFFICE_MEMBER_MAX and what is left of the
 * package's budget). */
static int member_read(struct archive *a, struct pkg *p, size_t n_in, struct member *m,
		       struct office_info *info)
{
	struct buf b;
	char chunk[16384];
	la_ssize_t got;
	int rc = 0;

	buf_init(&b, 0);
	while ((got = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)got > OFFICE_MEMBER_MAX) {
			rc = reject(info, "corrupt_document", "member %s expands past 64 MiB", m->name);
			goto out;
		}
		p->total += (size_t)got;
		if (p->total > OFFICE_TOTAL_MAX ||
		    (p->total > ((size_t)16 << 20) && p->total / OFFICE_RATIO_MAX > n_in)) {
			rc = reject(info, "corrupt_document",
				    "package expands past its bounds (256 MiB, or 200 times its size) at %s",
				    m->name);
			goto out;
		}
		if ((rc = buf_append(&b, chunk, (size_t)got)))
			goto out;
	}
	if (got < 0) {
		rc = reject(info, "corrupt_document", "damaged zip member %s", m->name);
		goto out;
	}
	if (!b.data && (rc = buf_putc(&b, '\0')) == 0)
		b.len = 0;
	if (rc)
		goto out;
	m->len = b.len;
	m->data = buf_detach(&b, &m->len);
out:
	buf_release(&b);
	return rc;
}

static int pkg_open(struct pkg *p, const char *data, size_t n, struct office_info *info)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int rc = 0, h;
	size_t seen = 0;

	if (!a)
		return RL_ENOMEM;
	archive_read_support_format_zip(a);
	if (archive_read_open_memory(a, data, n) != ARCHIVE_OK) {
		rc = reject(info, "corrupt_document", "not a readable zip package%s", NULL);
		goto out;
	}
	while ((h = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (h < ARCHIVE_WARN) {
			rc = reject(info, "corrupt_document", "damaged or truncated zip package%s",
				    NULL);
			goto out;
		}
		if (++seen > OFFICE_MEMBERS_MAX) {
			rc = reject(info, "corrupt_document", "more than 20000 members%s", NULL);
			goto out;
		}
		const char *name = archive_entry_pathname(e);
		if (!name || archive_entry_filetype(e) != AE_IFREG || !member_wanted(name))
			continue;
		if (archive_entry_is_encrypted(e)) {
			rc = reject(info, "encrypted", "zip member %s is encrypted", name);
			goto out;
		}
		if (p->n == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 32;
			struct member *m = realloc(p->m, cap * sizeof(*m));
			if (!m) {
				rc = RL_ENOMEM;
				goto out;
			}
			p->m = m;
			p->cap = cap;
		}
		struct member *m = &p->m[p->n];
		memset(m, 0, sizeof(*m));
		if (!(m->name = xstrdup(name))) {
			rc = RL_ENOMEM;
			goto out;
		}
		p->n++;
		if ((rc = member_read(a, p, n, m, info)))
			goto out;
	}
	if (p->n) /* qsort and bsearch take no NULL array, even empty */
		qsort(p->m, p->n, sizeof(*p->m), member_cmp);
	/* a name twice: the first copy is the one bsearch may find, which is good enough */
out:
	archive_read_free(a);
	return rc;
}

/* ---- streaming XML ----------------------------------------------------------------------- */

static void xr_quiet(void *arg, const char *msg, xmlParserSeverities sev, xmlTextReaderLocatorPtr loc)
{
	(void)arg, (void)msg, (void)sev, (void)loc;
}

static xmlTextReaderPtr xr_open(const struct member *m)
{
	if (!m || m->len > INT32_MAX)
		return NULL;
	xmlTextReaderPtr r = xmlReaderForMemory(m->data, (int)m->len, NULL, NULL,
						XML_PARSE_NONET | XML_PARSE_NOERROR |
						XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (r)
		xmlTextReaderSetErrorHandler(r, xr_quiet, NULL);
	return r;
}

static const char *xr_name(xmlTextReaderPtr r)
{
	const xmlChar *n = xmlTextReaderConstLocalName(r);
	return n ? (const char *)n : "";
}

/* An attribute's value by local name (xmlFree it); ns: NULL any namespace, "" none, else a
 * part of its namespace URI. */
static char *xr_attr(xmlTextReaderPtr r, const char *local, const char *ns)
{
	char *v = NULL;
	if (xmlTextReaderMoveToFirstAttribute(r) != 1)
		return NULL;
	do {
		const char *ln = (const char *)xmlTextReaderConstLocalName(r);
		const char *uri = (const char *)xmlTextReaderConstNamespaceUri(r);
		if (!ln || strcmp(ln, local))
			continue;
		if (ns && (*ns ? !uri || !strstr(uri, ns) : uri != NULL))
			continue;
		v = (char *)xmlTextReaderValue(r);
		break;
	} while (xmlTextReaderMoveToNextAttribute(r) == 1);
	xmlTextReaderMoveToElement(r);
	return v;
}

static int attr_is(xmlTextReaderPtr r, const char *local, const char *ns, const char *want)
{
	char *v = xr_attr(r, local, ns);
	int is = v && !strcmp(v, want);
	xmlFree(v);
	return is;
}

static int is_text_node(int t)
{
	return t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
	       t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE || t == XML_READER_TYPE_WHITESPACE;
}

/* ---- what every walker shares ------------------------------------------------------------ */

struct walk {
	const struct office_sink *sink;
	void *ctx;
	struct office_info *info;
	int stop;              /* a callback's non-zero return: stop everything */
	/* tables: cells of a row joined by " | ", empty cells left out */
	int tbl;               /* table depth */
	int cell_new;          /* a cell started and has not shown text yet */
	int row_cells;         /* cells of the current row that showed text */
	int in_heading;
	int note;              /* inside an ODF note's body: its paragraphs stay in the host's */
	size_t sheet_bytes;    /* text sent in the current spreadsheet table */
	const char *owed;      /* a heading to send before the next text ("Notes") */
};

#define SEND(w, call)                                      \
	do {                                               \
		if (!(w)->stop) {                          \
			int rc_ = (call);                  \
			if (rc_)                           \
				(w)->stop = rc_;           \
		}                                          \
	} while (0)

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

static void w_heading(struct walk *w, int level, const char *s, size_t n);

static void w_text(struct walk *w, const char *s, size_t n)
{
	if (!n || w->stop)
		return;
	if (w->owed && !w->in_heading && !blank(s, n)) {
		const char *h = w->owed;
		w->owed = NULL;
		w_heading(w, 1, h, strlen(h));
	}
	if (w->tbl && w->cell_new) {
		if (blank(s, n))
			return;
		if (w->row_cells++ > 0)
			SEND(w, w->sink->text(w->ctx, " | ", 3));
		w->cell_new = 0;
	}
	w->sheet_bytes += n;
	SEND(w, w->sink->text(w->ctx, s, n));
}

static void w_para(struct walk *w)
{
	if (w->tbl || w->in_heading || w->note) /* inside a cell, a heading, a note: a space */
		SEND(w, w->sink->text(w->ctx, " ", 1));
	else
		SEND(w, w->sink->para(w->ctx));
}

static void w_heading_end(struct walk *w);

static void w_heading(struct walk *w, int level, const char *s, size_t n)
{
	w_heading_end(w); /* a whole heading inside another (a table named in a heading) */
	SEND(w, w->sink->heading_begin(w->ctx, level < 1 ? 1 : level > 6 ? 6 : level));
	SEND(w, w->sink->text(w->ctx, s, n));
	SEND(w, w->sink->heading_end(w->ctx));
}

static void w_heading_begin(struct walk *w, int level)
{
	if (w->in_heading)
		return;
	if (w->owed) { /* the owed heading first: headings never nest */
		const char *h = w->owed;
		w->owed = NULL;
		w_heading(w, 1, h, strlen(h));
	}
	w->in_heading = 1;
	SEND(w, w->sink->heading_begin(w->ctx, level < 1 ? 1 : level > 6 ? 6 : level));
}

static void w_heading_end(struct walk *w)
{
	if (!w->in_heading)
		return;
	w->in_heading = 0;
	SEND(w, w->sink->heading_end(w->ctx));
}

static void w_row_begin(struct walk *w)
{
	w->row_cells = 0;
	w->cell_new = 0;
}

static void w_row_end(struct walk *w)
{
	if (w->row_cells)
		SEND(w, w->sink->para(w->ctx));
	w->row_cells = 0;
	w->cell_new = 0;
}

/* The text of a simple element (title, creator, date), trimmed and bounded; the reader ends
 * on the element's last node. NULL when empty. */
static char *xr_string(xmlTextReaderPtr r)
{
	xmlChar *s = xmlTextReaderReadString(r);
	if (!s)
		return NULL;
	char *p = (char *)s, *q;
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	size_t n = strnlen(p, LABEL_MAX);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	while (n && ((unsigned char)p[n] & 0xC0) == 0x80 && n < strlen(p))
		n--; /* a cut inside a UTF-8 sequence */
	q = n ? xstrndup(p, n) : NULL;
	xmlFree(s);
	return q;
}

static int prop_set(struct office_info *info, const char *key, char *v)
{
	if (!v)
		return 0;
	if (!info->properties && !(info->properties = json_object())) {
		free(v);
		return RL_ENOMEM;
	}
	int rc = 0;
	if (!json_object_get(info->properties, key)) {
		json_t *s = json_string(v);
		rc = s && json_object_set_new(info->properties, key, s) == 0 ? 0 : RL_ENOMEM;
	}
	free(v);
	return rc;
}

static int prop_int(struct office_info *info, const char *key, const char *v)
{
	char *end;
	long n = v ? strtol(v, &end, 10) : 0;
	if (!v || end == v || n <= 0 || n > 10000000)
		return 0;
	if (!info->properties && !(info->properties = json_object()))
		return RL_ENOMEM;
	json_t *j = json_integer(n);
	return j && json_object_set_new(info->properties, key, j) == 0 ? 0 : RL_ENOMEM;
}

/*
 * Properties by element local name: Dublin Core and OOXML/ODF names to ours. A count
 * (pages, slides) from an element's text (OOXML app.xml) or an attribute (ODF
 * meta:document-statistic).
 */
static int props_read(const struct member *m, struct office_info *info)
{
	static const struct { const char *el, *key; } map[] = {
		{ "title", "title" }, { "creator", "author" }, { "initial-creator", "author" },
		{ "created", "created" }, { "creation-date", "created" },
		{ "modified", "modified" }, { "date", "modified" },
		{ "Pages", "pages" }, { "Slides", "slides" },
	};
	xmlTextReaderPtr r = xr_open(m);
	int rc = 0;
	if (!r)
		return 0;
	while (!rc && xmlTextReaderRead(r) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT)
			continue;
		const char *name = xr_name(r);
		if (!strcmp(name, "document-statistic")) {
			char *v = xr_attr(r, "page-count", NULL);
			rc = prop_int(info, "pages", v);
			xmlFree(v);
			continue;
		}
		if (!strcmp(name, "initial-creator") && info->properties)
			json_object_del(info->properties, "author"); /* the author, over dc:creator */
		/* EPUB's OPF: dc:date is the publication date (ODF's is the last change), the last
		 * change is <meta property="dcterms:modified"> */
		if (name_ends(m->name, ".opf") && (!strcmp(name, "date") || !strcmp(name, "meta"))) {
			char *p = !strcmp(name, "meta") ? xr_attr(r, "property", NULL) : NULL;
			if (!strcmp(name, "date"))
				rc = prop_set(info, "created", xr_string(r));
			else if (p && !strcmp(p, "dcterms:modified"))
				rc = prop_set(info, "modified", xr_string(r));
			xmlFree(p);
			continue;
		}
		for (size_t i = 0; i < RL_ARRAY_LEN(map); i++) {
			if (strcmp(name, map[i].el))
				continue;
			/* ODF: meta:initial-creator is the author, dc:creator the last editor */
			if (!strcmp(name, "creator") && strstr(m->name, "meta.xml")) {
				char *v = xr_string(r);
				if (v && !info->properties)
					rc = prop_set(info, "author", v);
				else if (v && !json_object_get(info->properties, "author"))
					rc = prop_set(info, "author", v);
				else
					free(v);
				break;
			}
			if (!strcmp(map[i].key, "pages") || !strcmp(map[i].key, "slides")) {
				char *v = xr_string(r);
				rc = prop_int(info, map[i].key, v);
				free(v);
			} else {
				rc = prop_set(info, map[i].key, xr_string(r));
			}
			break;
		}
	}
	xmlFreeTextReader(r);
	return rc;
}

/* ---- relationships and paths ------------------------------------------------------------------ */

struct rel {
	char *id, *target, *type;
};

struct rels {
	struct rel *r;
	size_t n;
};

static void rels_release(struct rels *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		xmlFree(rs->r[i].id);
		free(rs->r[i].target);
		xmlFree(rs->r[i].type);
	}
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

/* dir + target, "." and ".." segments resolved, percent-escapes decoded, fragment dropped; an
 * absolute target ("/ppt/x.xml") starts from the package root. */
static char *path_join(const char *dir, size_t dir_len, const char *target)
{
	size_t tl = strlen(target);
	char *s = malloc(dir_len + tl + 2), *out;
	if (!s)
		return NULL;
	size_t n = 0;
	if (target[0] != '/') {
		memcpy(s, dir, dir_len);
		n = dir_len;
	}
	for (size_t i = 0; i < tl && target[i] != '#'; i++) {
		char c = target[i];
		if (c == '%' && i + 2 < tl && strchr("0123456789abcdefABCDEF", target[i + 1]) &&
		    strchr("0123456789abcdefABCDEF", target[i + 2]) && target[i + 1] && target[i + 2]) {
			char hex[3] = { target[i + 1], target[i + 2], 0 };
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		s[n++] = c;
	}
	s[n] = '\0';
	/* segments */
	out = malloc(n + 1);
	if (!out) {
		free(s);
		return NULL;
	}
	size_t o = 0;
	for (char *save = NULL, *seg = strtok_r(s, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			while (o && out[o - 1] != '/')
				o--;
			if (o)
				o--;
			continue;
		}
		if (o)
			out[o++] = '/';
		size_t sl = strlen(seg);
		memcpy(out + o, seg, sl);
		o += sl;
	}
	out[o] = '\0';
	free(s);
	return out;
}

static size_t dir_len_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? (size_t)(slash - path) + 1 : 0;
}

/* The relationships of part (its _rels/NAME.rels), targets resolved against part's folder. */
static int rels_read(const struct pkg *p, const char *part, struct rels *rs)
{
	size_t dl = dir_len_of(part);
	char *relname = malloc(strlen(part) + 16);
	int rc = 0;
	size_t cap = 0;
	memset(rs, 0, sizeof(*rs));
	if (!relname)
		return RL_ENOMEM;
	sprintf(relname, "%.*s_rels/%s.rels", (int)dl, part, part + dl);
	xmlTextReaderPtr r = xr_open(pkg_find(p, relname));
	free(relname);
	if (!r)
		return 0;
	while (!rc && xmlTextReaderRead(r) == 1 && rs->n < LIST_MAX) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT ||
		    strcmp(xr_name(r), "Relationship"))
			continue;
		if (attr_is(r, "TargetMode", NULL, "External"))
			continue;
		char *id = xr_attr(r, "Id", NULL), *target = xr_attr(r, "Target", NULL);
		char *type = xr_attr(r, "Type", NULL);
		if (!id || !target) {
			xmlFree(id);
			xmlFree(target);
			xmlFree(type);
			continue;
		}
		if (rs->n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct rel *nr = realloc(rs->r, nc * sizeof(*nr));
			if (!nr) {
				xmlFree(id);
				xmlFree(target);
				xmlFree(type);
				rc = RL_ENOMEM;
				break;
			}
			rs->r = nr;
			cap = nc;
		}
		char *path = path_join(part, dl, target);
		xmlFree(target);
		if (!path) {
			xmlFree(id);
			xmlFree(type);
			rc = RL_ENOMEM;
			break;
		}
		rs->r[rs->n++] = (struct rel){ id, path, type };
	}
	xmlFreeTextReader(r);
	return rc;
}

static const char *rels_target(const struct rels *rs, const char *id)
{
	for (size_t i = 0; id && i < rs->n; i++)
		if (!strcmp(rs->r[i].id, id))
			return rs->r[i].target;
	return NULL;
}

static const char *rels_by_type(const struct rels *rs, const char *type_suffix)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i].type && name_ends(rs->r[i].type, type_suffix))
			return rs->r[i].target;
	return NULL;
}

/* A list of strings read from an index part (slide ids, sheet names, spine items). */
struct strs {
	char **v;
	size_t n, cap;
};

static void strs_release(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Takes ownership of v (an xmlChar* or malloc'd: both are plain malloc here, see below). */
static int strs_push(struct strs *s, const char *v)
{
	if (s->n >= LIST_MAX)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char **nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return RL_ENOMEM;
		s->v = nv;
		s->cap = cap;
	}
	if (!(s->v[s->n] = xstrdup(v ? v : "")))
		return RL_ENOMEM;
	s->n++;
	return 0;
}

/* ---- DOCX -------------------------------------------------------------------------------- */

struct style {
	char *id;
	int level;
};

struct styles {
	struct style s[STYLES_MAX];
	size_t n;
};

static int heading_level_of_name(const char *name)
{
	if (!strcasecmp(name, "title"))
		return 1;
	if (!strncasecmp(name, "heading", 7)) {
		const char *p = name + 7;
		if (*p == ' ')
			p++;
		if (*p >= '1' && *p <= '9' && !p[1])
			return *p - '0' > 6 ? 6 : *p - '0';
	}
	return 0;
}

static void styles_release(struct styles *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->s[i].id);
	st->n = 0;
}

/* Paragraph style ids whose names (or outline levels) make headings. */
static int styles_read(const struct member *m, struct styles *st)
{
	xmlTextReaderPtr r = xr_open(m);
	char *id = NULL;
	int level = 0, rc = 0;
	if (!r)
		return 0;
	while (!rc && xmlTextReaderRead(r) == 1) {
		int t = xmlTextReaderNodeType(r);
		const char *name = xr_name(r);
		if (t == XML_READER_TYPE_ELEMENT && !strcmp(name, "style")) {
			free(id);
			id = NULL;
			level = 0;
			char *v = xr_attr(r, "styleId", NULL);
			if (v && attr_is(r, "type", NULL, "paragraph"))
				id = xstrdup(v);
			xmlFree(v);
			if (xmlTextReaderIsEmptyElement(r)) {
				free(id);
				id = NULL;
			}
		} else if (t == XML_READER_TYPE_ELEMENT && id && !strcmp(name, "name")) {
			char *v = xr_attr(r, "val", NULL);
			if (v && heading_level_of_name(v))
				level = heading_level_of_name(v);
			xmlFree(v);
		} else if (t == XML_READER_TYPE_ELEMENT && id && !strcmp(name, "outlineLvl")) {
			char *v = xr_attr(r, "val", NULL);
			if (v && !level && v[0] >= '0' && v[0] <= '5' && !v[1])
				level = v[0] - '0' + 1;
			xmlFree(v);
		} else if (t == XML_READER_TYPE_END_ELEMENT && !strcmp(name, "style")) {
			if (id && level && st->n < STYLES_MAX) {
				st->s[st->n++] = (struct style){ id, level };
				id = NULL;
			}
			free(id);
			id = NULL;
		}
	}
	free(id);
	xmlFreeTextReader(r);
	return rc;
}

static int style_level(const struct styles *st, const char *id)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->s[i].id, id))
			return st->s[i].level;
	return heading_level_of_name(id); /* "Heading1", "Title" without styles.xml */
}

/*
 * word/document.xml, footnotes.xml, endnotes.xml. Runs (w:r) hold the text (w:t), tabs and
 * breaks; a paragraph's style comes first in its w:pPr, so a heading begins there. Deleted
 * text, field codes and the fallback copies of alternate content are not text.
 */
static void docx_walk(struct walk *w, const struct member *m, const struct styles *st, int notes)
{
	xmlTextReaderPtr r = xr_open(m);
	int in_t = 0, in_r = 0, skip = -1;
	if (!r)
		return;
	while (!w->stop && xmlTextReaderRead(r) == 1) {
		int t = xmlTextReaderNodeType(r);
		if (is_text_node(t)) {
			if (in_t && skip < 0) {
				const char *v = (const char *)xmlTextReaderConstValue(r);
				if (v)
					w_text(w, v, strlen(v));
			}
			continue;
		}
		const char *name = xr_name(r);
		int empty = t == XML_READER_TYPE_ELEMENT && xmlTextReaderIsEmptyElement(r);
		if (skip >= 0) {
			if (t == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(r) == skip)
				skip = -1;
			continue;
		}
		if (t == XML_READER_TYPE_ELEMENT) {
			if (!strcmp(name, "Fallback") || !strcmp(name, "delText") ||
			    !strcmp(name, "instrText") ||
			    (notes && (!strcmp(name, "footnote") || !strcmp(name, "endnote")) &&
			     (attr_is(r, "type", NULL, "separator") ||
			      attr_is(r, "type", NULL, "continuationSeparator") ||
			      attr_is(r, "type", NULL, "continuationNotice")))) {
				if (!empty)
					skip = xmlTextReaderDepth(r);
				continue;
			}
			if (!strcmp(name, "t")) {
				in_t = !empty;
			} else if (!strcmp(name, "r")) {
				in_r += !empty;
			} else if (in_r && !strcmp(name, "tab")) {
				w_text(w, " ", 1);
			} else if (in_r && (!strcmp(name, "br") || !strcmp(name, "cr"))) {
				/* a line break keeps its lines apart (code, addresses, verse: pandoc
				 * writes a code block as one paragraph of breaks); in a cell, a heading,
				 * a note it is a space */
				w_para(w);
			} else if (!strcmp(name, "pStyle") && !w->tbl) {
				char *v = xr_attr(r, "val", NULL);
				int level = v ? style_level(st, v) : 0;
				xmlFree(v);
				if (level)
					w_heading_begin(w, level);
			} else if (!strcmp(name, "outlineLvl") && !w->tbl) {
				char *v = xr_attr(r, "val", NULL);
				if (v && v[0] >= '0' && v[0] <= '5' && !v[1])
					w_heading_begin(w, v[0] - '0' + 1);
				xmlFree(v);
			} else if (!strcmp(name, "tbl")) {
				if (!w->tbl++)
					SEND(w, w->sink->para(w->ctx));
			} else if (!strcmp(name, "tr")) {
				w_row_begin(w);
			} else if (!strcmp(name, "tc")) {
				w->cell_new = 1;
			} else if (!strcmp(name, "p") && empty) {
				w_para(w);
			}
		} else if (t == XML_READER_TYPE_END_ELEMENT) {
			if (!strcmp(name, "t")) {
				in_t = 0;
			} else if (!strcmp(name, "r")) {
				if (in_r)
					in_r--;
			} else if (!strcmp(name, "p")) {
				if (w->in_heading)
					w_heading_end(w);
				else
					w_para(w);
			} else if (!strcmp(name, "tr")) {
				w_row_end(w);
			} else if (!strcmp(name, "tbl")) {
				if (w->tbl)
					w->tbl--;
			} else if ((!strcmp(name, "footnote") || !strcmp(name, "endnote")) && notes) {
				SEND(w, w->sink->para(w->ctx));
			}
		}
	}
	w_heading_end(w);
	w->tbl = 0;
	xmlFreeTextReader(r);
}

static int docx_read(const struct pkg *p, struct walk *w)
{
	struct rels rs;
	struct styles *st = calloc(1, sizeof(*st));
	const char *main_part = "word/document.xml";
	int rc;

	if (!st)
		return RL_ENOMEM;
	rc = rels_read(p, "", &rs); /* _rels/.rels: the officeDocument part */
	if (!rc) {
		const char *t = rels_by_type(&rs, "/officeDocument");
		if (t && pkg_find(p, t))
			main_part = t;
	}
	const struct member *doc = pkg_find(p, main_part);
	if (!rc)
		rc = main_part_check(doc, main_part, w->info);
	if (!rc)
		rc = styles_read(pkg_find(p, "word/styles.xml"), st);
	if (!rc)
		rc = props_read(pkg_find(p, "docProps/core.xml"), w->info);
	if (!rc)
		rc = props_read(pkg_find(p, "docProps/app.xml"), w->info);
	if (!rc) {
		docx_walk(w, doc, st, 0);
		/* the notes follow the text, under a heading of their own when there are any */
		w->owed = "Notes";
		docx_walk(w, pkg_find(p, "word/footnotes.xml"), st, 1);
		docx_walk(w, pkg_find(p, "word/endnotes.xml"), st, 1);
		w->owed = NULL;
	}
	rels_release(&rs);
	styles_release(st);
	free(st);
	return rc;
}

/* ---- PPTX -------------------------------------------------------------------------------- */

static int ph_is(xmlTextReaderPtr r, const char *const *types, size_t n)
{
	char *v = xr_attr(r, "type", NULL);
	int is = 0;
	for (size_t i = 0; v && i < n; i++)
		is |= !strcmp(v, types[i]);
	xmlFree(v);
	return is;
}

static const char *const ph_title[] = { "title", "ctrTitle" };
static const char *const ph_chrome[] = { "sldImg", "sldNum", "hdr", "ftr", "dt" };

/* The slide's title placeholder's text, NULL when none. */
static char *pptx_title(const struct member *m)
{
	xmlTextReaderPtr r = xr_open(m);
	struct buf b;
	int in_sp = 0, title = 0, in_t = 0;
	buf_init(&b, LABEL_MAX);
	if (!r)
		return NULL;
	while (xmlTextReaderRead(r) == 1) {
		int t = xmlTextReaderNodeType(r);
		const char *name = xr_name(r);
		if (is_text_node(t) && title && in_t) {
			const char *v = (const char *)xmlTextReaderConstValue(r);
			if (v && buf_append(&b, v, strlen(v)))
				break;
		} else if (t == XML_READER_TYPE_ELEMENT) {
			if (!strcmp(name, "sp"))
				in_sp = 1, title = 0;
			else if (in_sp && !strcmp(name, "ph") && ph_is(r, ph_title, 2))
				title = 1;
			else if (!strcmp(name, "t"))
				in_t = !xmlTextReaderIsEmptyElement(r);
			else if (title && (!strcmp(name, "br") || !strcmp(name, "p")) && b.len &&
				 buf_putc(&b, ' '))
				break;
		} else if (t == XML_READER_TYPE_END_ELEMENT) {
			if (!strcmp(name, "t"))
				in_t = 0;
			else if (!strcmp(name, "sp") && title)
				break;
			else if (!strcmp(name, "sp"))
				in_sp = 0;
		}
	}
	xmlFreeTextReader(r);
	char *s = b.len && !blank(b.data, b.len) ? buf_detach(&b, NULL) : NULL;
	buf_release(&b);
	return s;
}

/* A slide's or a notes page's shapes: text frames as paragraphs, tables row by row; the
 * placeholders in skip (the title, already the heading; a notes page's slide image and
 * number) are left out. */
static void pptx_walk(struct walk *w, const struct member *m, const char *const *mute,
		      size_t n_mute)
{
	xmlTextReaderPtr r = xr_open(m);
	int in_t = 0, muted = 0, skip = -1;
	if (!r)
		return;
	while (!w->stop && xmlTextReaderRead(r) == 1) {
		int t = xmlTextReaderNodeType(r);
		if (skip >= 0) {
			if (t == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(r) == skip)
				skip = -1;
			continue;
		}
		if (is_text_node(t)) {
			if (in_t && !muted) {
				const char *v = (const char *)xmlTextReaderConstValue(r);
				if (v)
					w_text(w, v, strlen(v));
			}
			continue;
		}
		const char *name = xr_name(r);
		int empty = t == XML_READER_TYPE_ELEMENT && xmlTextReaderIsEmptyElement(r);
		if (t == XML_READER_TYPE_ELEMENT) {
			if (!strcmp(name, "sp"))
				muted = 0;
			else if (!strcmp(name, "ph") && ph_is(r, mute, n_mute))
				muted = 1;
			else if (!strcmp(name, "t"))
				in_t = !empty;
			else if ((!strcmp(name, "br") || !strcmp(name, "tab")) && !muted)
				w_text(w, " ", 1);
			else if (!strcmp(name, "tbl"))
				w->tbl += !empty;
			else if (!strcmp(name, "tr"))
				w_row_begin(w);
			else if (!strcmp(name, "tc"))
				w->cell_new = 1;
			else if (!strcmp(name, "Fallback") && !empty)
				skip = xmlTextReaderDepth(r);
		} else if (t == XML_READER_TYPE_END_ELEMENT) {
			if (!strcmp(name, "t"))
				in_t = 0;
			else if (!strcmp(name, "p") && !muted)
				w_para(w);
			else if (!strcmp(name, "sp"))
				muted = 0;
			else if (!strcmp(name, "tr"))
				w_row_end(w);
			else if (!strcmp(name, "tbl") && w->tbl)
				w->tbl--;
		}
	}
	w->tbl = 0;
	xmlFreeTextReader(r);
}

static int pptx_read(const struct pkg *p, struct walk *w)
{
	const char *main_part = "ppt/presentation.xml";
	const struct member *pres = pkg_find(p, main_part);
	struct rels rs = { 0 };
	struct strs ids = { 0 };
	int rc = 0;

	if ((rc = main_part_check(pres, main_part, w->info)))
		return rc;
	if ((rc = props_read(pkg_find(p, "docProps/core.xml"), w->info)) ||
	    (rc = props_read(pkg_find(p, "docProps/app.xml"), w->info)) ||
	    (rc = rels_read(p, main_part, &rs)))
		goto out;
	xmlTextReaderPtr r = xr_open(pres);
	while (!rc && r && xmlTextReaderRead(r) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT || strcmp(xr_name(r), "sldId"))
			continue;
		char *id = xr_attr(r, "id", "relationships");
		if (id)
			rc = strs_push(&ids, id);
		xmlFree(id);
	}
	xmlFreeTextReader(r);
	if (rc)
		goto out;
	w->info->page_unit = "slides";
	for (size_t i = 0; i < ids.n && !w->stop; i++) {
		const struct member *slide = pkg_find(p, rels_target(&rs, ids.v[i]));
		if (!slide)
			continue;
		char *title = pptx_title(slide);
		char num[32];
		SEND(w, w->sink->page(w->ctx, (int)i + 1));
		snprintf(num, sizeof(num), "Slide %zu", i + 1);
		w_heading(w, 1, title ? title : num, strlen(title ? title : num));
		free(title);
		pptx_walk(w, slide, ph_title, 2);
		struct rels srs;
		if ((rc = rels_read(p, slide->name, &srs)))
			goto out;
		const struct member *notes = pkg_find(p, rels_by_type(&srs, "/notesSlide"));
		if (notes) {
			SEND(w, w->sink->para(w->ctx));
			pptx_walk(w, notes, ph_chrome, RL_ARRAY_LEN(ph_chrome));
		}
		rels_release(&srs);
	}
out:
	rels_release(&rs);
	strs_release(&ids);
	return rc;
}

/* ---- XLSX -------------------------------------------------------------------------------- */

struct sst {
	struct buf text;
	size_t *off;    /* n + 1 offsets into text */
	size_t n, cap;
};

static void sst_release(struct sst *s)
{
	buf_release(&s->text);
	free(s->off);
}

static int sst_read(const struct member *m, struct sst *s)
{
	xmlTextReaderPtr r = xr_open(m);
	int in_t = 0, in_rph = 0, rc = 0;
	buf_init(&s->text, OFFICE_MEMBER_MAX);
	if (!(s->off = malloc(sizeof(size_t))))
		rc = RL_ENOMEM;
	else
		s->off[0] = 0, s->cap = 1;
	while (!rc && r && xmlTextReaderRead(r) == 1) {
		int t = xmlTextReaderNodeType(r);
		const char *name = xr_name(r);
		if (is_text_node(t) && in_t && !in_rph) {
			const char *v = (const char *)xmlTextReaderConstValue(r);
			rc = v ? buf_append(&s->text, v, strlen(v)) : 0;
		} else if (t == XML_READER_TYPE_ELEMENT) {
			if (!strcmp(name, "t"))
				in_t = !xmlTextReaderIsEmptyElement(r);
			else if (!strcmp(name, "rPh"))
				in_rph = !xmlTextReaderIsEmptyElement(r);
			else if (!strcmp(name, "si") && xmlTextReaderIsEmptyElement(r))
				goto end_si;
		} else if (t == XML_READER_TYPE_END_ELEMENT) {
			if (!strcmp(name, "t"))
				in_t = 0;
			else if (!strcmp(name, "rPh"))
				in_rph = 0;
			else if (!strcmp(name, "si"))
				goto end_si;
		}
		continue;
end_si:
		if (s->n + 2 > s->cap) {
			size_t cap = 2 * s->cap + 16;
			size_t *o = realloc(s->off, cap * sizeof(*o));
			if (!o) {
				rc = RL_ENOMEM;
				break;
			}
			s->off = o;
			s->cap = cap;
		}
		s->off[++s->n] = s->text.len;
	}
	xmlFreeTextReader(r);
	return rc;
}

/* Cell values: a shared string's index, a number, an inline string, a formula's result. */
static void xlsx_sheet(struct walk *w, const struct member *m, const struct sst *sst)
{
	xmlTextReaderPtr r = xr_open(m);
	struct buf v;
	int in_v = 0, in_is_t = 0, shared = 0;
	size_t rows = 0;
	buf_init(&v, 64 * 1024);
	if (!r)
		return;
	w->tbl = 1;
	w->sheet_bytes = 0;
	while (!w->stop && xmlTextReaderRead(r) == 1) {
		int t = xmlTextReaderNodeType(r);
		if (is_text_node(t)) {
			const char *s = (const char *)xmlTextReaderConstValue(r);
			if (s && in_v)
				buf_append(&v, s, strlen(s)); /* past its cap: the value is cut */
			else if (s && in_is_t)
				w_text(w, s, strlen(s));
			continue;
		}
		const char *name = xr_name(r);
		int empty = t == XML_READER_TYPE_ELEMENT && xmlTextReaderIsEmptyElement(r);
		if (t == XML_READER_TYPE_ELEMENT) {
			if (!strcmp(name, "row")) {
				if (rows++ >= OFFICE_SHEET_ROWS || w->sheet_bytes > OFFICE_SHEET_BYTES) {
					w->info->truncated_sheets++;
					break;
				}
				w_row_begin(w);
			} else if (!strcmp(name, "c")) {
				shared = attr_is(r, "t", NULL, "s");
				w->cell_new = 1;
			} else if (!strcmp(name, "v")) {
				in_v = !empty;
				buf_reset(&v);
			} else if (!strcmp(name, "t")) {
				in_is_t = !empty;
			}
		} else if (t == XML_READER_TYPE_END_ELEMENT) {
			if (!strcmp(name, "row")) {
				w_row_end(w);
			} else if (!strcmp(name, "t")) {
				in_is_t = 0;
			} else if (!strcmp(name, "v") && in_v) {
				in_v = 0;
				if (shared) {
					char *end;
					unsigned long k = v.len ? strtoul(v.data, &end, 10) : ULONG_MAX;
					if (k < sst->n && sst->off[k + 1] > sst->off[k])
						w_text(w, sst->text.data + sst->off[k],
						       sst->off[k + 1] - sst->off[k]);
				} else if (v.len) {
					w_text(w, v.data, v.len);
				}
			}
		}
	}
	w_row_end(w);
	w->tbl = 0;
	buf_release(&v);
	xmlFreeTextReader(r);
}

static int xlsx_read(const struct pkg *p, struct walk *w)
{
	const char *main_part = "xl/workbook.xml";
	const struct member *wb = pkg_find(p, main_part);
	struct rels rs = { 0 };
	struct strs names = { 0 }, ids = { 0 };
	struct sst sst = { 0 };
	int rc = 0;

	if ((rc = main_part_check(wb, main_part, w->info)))
		return rc;
	if ((rc = props_read(pkg_find(p, "docProps/core.xml"), w->info)) ||
	    (rc = rels_read(p, main_part, &rs)))
		goto out;
	const char *sst_part = rels_by_type(&rs, "/sharedStrings");
	if ((rc = sst_read(pkg_find(p, sst_part ? sst_part : "xl/sharedStrings.xml"), &sst)))
		goto out;
	xmlTextReaderPtr r = xr_open(wb);
	while (!rc && r && xmlTextReaderRead(r) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT || strcmp(xr_name(r), "sheet"))
			continue;
		char *name = xr_attr(r, "name", ""), *id = xr_attr(r, "id", "relationships");
		if (name && id && !(rc = strs_push(&names, name)))
			rc = strs_push(&ids, id);
		xmlFree(name);
		xmlFree(id);
	}
	xmlFreeTextReader(r);
	for (size_t i = 0; !rc && i < ids.n && !w->stop; i++) {
		const struct member *sheet = pkg_find(p, rels_target(&rs, ids.v[i]));
		if (!sheet)
			continue;
		if (names.v[i][0])
			w_heading(w, 1, names.v[i], strlen(names.v[i]));
		xlsx_sheet(w, sheet, &sst);
	}
out:
	rels_release(&rs);
	strs_release(&names);
	strs_release(&ids);
	sst_release(&sst);
	return rc;
}

/* ---- ODF --------------------------------------------------------------------------------- */

/*
 * content.xml's office:body. Text is what text:p and text:h hold (text:s and text:tab are
 * spaces, text:line-break ends a line as a paragraph break would); a note's citation is left
 * out, its body read where it stands;
 * slides (draw:page) send page marks and their title frame is a heading; a spreadsheet's
 * table is under its name.
 */
static void odf_walk(struct walk *w, const struct member *m, int sheets)
{
	xmlTextReaderPtr r = xr_open(m);
	int in_body = 0, title_frame = 0, slide = 0, skip = -1;
	size_t rows = 0;
	if (!r)
		return;
	while (!w->stop && xmlTextReaderRead(r) == 1) {
		int t = xmlTextReaderNodeType(r);
		if (skip >= 0) {
			if (t == XML_READER_TYPE_END_ELEMENT && xmlTextReaderDepth(r) <= skip)
				skip = -1;
			else
				continue;
			if (!strcmp(xr_name(r), "table-row"))
				continue; /* the end of a row left out (a long sheet's rest) */
		}
		if (is_text_node(t)) {
			const char *v = (const char *)xmlTextReaderConstValue(r);
			if (in_body && v && t != XML_READER_TYPE_WHITESPACE)
				w_text(w, v, strlen(v));
			continue;
		}
		const char *name = xr_name(r);
		int empty = t == XML_READER_TYPE_ELEMENT && xmlTextReaderIsEmptyElement(r);
		if (t == XML_READER_TYPE_ELEMENT) {
			if (!strcmp(name, "body")) {
				in_body = 1;
			} else if (!in_body) {
				continue;
			} else if (!strcmp(name, "note-citation") || !strcmp(name, "page-thumbnail") ||
				   !strcmp(name, "tracked-changes") || !strcmp(name, "annotation") ||
				   !strcmp(name, "sequence-decls") || !strcmp(name, "forms") ||
				   (!strcmp(name, "frame") &&
				    (attr_is(r, "class", "presentation", "page-number") ||
				     attr_is(r, "class", "presentation", "footer") ||
				     attr_is(r, "class", "presentation", "header") ||
				     attr_is(r, "class", "presentation", "date-time")))) {
				if (!empty)
					skip = xmlTextReaderDepth(r);
			} else if (!strcmp(name, "h")) {
				char *v = xr_attr(r, "outline-level", NULL);
				int level = v ? atoi(v) : 1;
				xmlFree(v);
				if (!w->tbl && !empty)
					w_heading_begin(w, level);
			} else if (!strcmp(name, "note-body") && !empty) {
				w_text(w, " ", 1); /* read where it stands, apart from the word before */
				w->note++;
			} else if (!strcmp(name, "s") || !strcmp(name, "tab")) {
				w_text(w, " ", 1);
			} else if (!strcmp(name, "line-break")) {
				w_para(w);  /* its lines apart, as a docx's w:br */
			} else if (!strcmp(name, "page")) {
				/* a page never starts inside a heading, however the XML nests */
				w_heading_end(w);
				title_frame = 0;
				SEND(w, w->sink->page(w->ctx, ++slide));
				w->info->page_unit = "slides";
			} else if (!strcmp(name, "frame") &&
				   attr_is(r, "class", "presentation", "title") && !empty) {
				title_frame = 1;
				w_heading_begin(w, 1);
			} else if (!strcmp(name, "table")) {
				if (!empty && !w->tbl++) {
					rows = 0;
					w->sheet_bytes = 0;
					char *v = sheets ? xr_attr(r, "name", NULL) : NULL;
					if (v && *v)
						w_heading(w, 1, v, strlen(v));
					else
						SEND(w, w->sink->para(w->ctx));
					xmlFree(v);
				}
			} else if (!strcmp(name, "table-row") && w->tbl) {
				if (sheets && w->tbl == 1 &&
				    (rows++ >= OFFICE_SHEET_ROWS || w->sheet_bytes > OFFICE_SHEET_BYTES)) {
					/* the rest of this table is left out: up to the table's end,
					 * which the skip hands on to close the table */
					w->info->truncated_sheets++;
					w_row_end(w);
					skip = xmlTextReaderDepth(r) - 1;
					continue;
				}
				w_row_begin(w);
			} else if ((!strcmp(name, "table-cell") || !strcmp(name, "covered-table-cell")) &&
				   w->tbl) {
				w->cell_new = 1;
			}
		} else if (t == XML_READER_TYPE_END_ELEMENT && in_body) {
			if (!strcmp(name, "h")) {
				w_heading_end(w);
			} else if (!strcmp(name, "p")) {
				if (!w->in_heading)
					w_para(w);
				else
					w_text(w, " ", 1);
			} else if (!strcmp(name, "note-body") && w->note) {
				w->note--;
				w_text(w, " ", 1);
			} else if (!strcmp(name, "frame") && title_frame) {
				title_frame = 0;
				w_heading_end(w);
			} else if (!strcmp(name, "table-row") && w->tbl) {
				w_row_end(w);
			} else if (!strcmp(name, "table") && w->tbl) {
				w->tbl--;
			} else if (!strcmp(name, "body")) {
				in_body = 0;
			}
		}
	}
	w_heading_end(w);
	w->tbl = 0;
	xmlFreeTextReader(r);
}

static int odf_read(const struct pkg *p, struct walk *w, int sheets)
{
	const struct member *man = pkg_find(p, "META-INF/manifest.xml");
	const struct member *content = pkg_find(p, "content.xml");
	int rc;

	if (man && strstr(man->data, "encryption-data"))
		return reject(w->info, "encrypted", "the package's manifest lists encrypted parts%s",
			      NULL);
	/* LibreOffice leaves content.xml out of a template without a body (its Default.ott):
	 * when the manifest does not list it either, the package is whole and has no text */
	if (!content && man && man->len && !strstr(man->data, "\"content.xml\"") &&
	    main_part_check(man, "META-INF/manifest.xml", w->info) == 0)
		return props_read(pkg_find(p, "meta.xml"), w->info);
	if ((rc = main_part_check(content, "content.xml", w->info)))
		return rc;
	if ((rc = props_read(pkg_find(p, "meta.xml"), w->info)))
		return rc;
	odf_walk(w, content, sheets);
	return 0;
}

/* ---- EPUB -------------------------------------------------------------------------------- */

/*
 * EPUB encryption (OCF: META-INF/encryption.xml): font obfuscation lists only fonts and
 * leaves the text readable; a content document (XHTML, HTML, XML) listed as a CipherReference
 * means DRM: the book is encrypted.
 */
static int epub_encrypted(const struct member *enc, struct office_info *info)
{
	static const char *const text[] = { ".xhtml", ".html", ".htm", ".xml", ".opf", ".ncx" };
	xmlTextReaderPtr r = xr_open(enc);
	int rc = 0;
	while (r && !rc && xmlTextReaderRead(r) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT ||
		    strcmp(xr_name(r), "CipherReference"))
			continue;
		char *uri = xr_attr(r, "URI", NULL);
		for (size_t i = 0; uri && i < RL_ARRAY_LEN(text); i++)
			if (name_ends(uri, text[i])) {
				rc = reject(info, "encrypted", "content document %s is encrypted (DRM)", uri);
				break;
			}
		xmlFree(uri);
	}
	xmlFreeTextReader(r);
	return rc;
}


static int epub_read(const struct pkg *p, struct walk *w)
{
	struct strs ids = { 0 }, item_id = { 0 }, item_href = { 0 };
	char *opf_path = NULL;
	int rc = 0;
	xmlTextReaderPtr r = xr_open(pkg_find(p, "META-INF/container.xml"));

	while (r && !opf_path && xmlTextReaderRead(r) == 1)
		if (xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT &&
		    !strcmp(xr_name(r), "rootfile")) {
			char *v = xr_attr(r, "full-path", NULL);
			opf_path = v ? path_join("", 0, v) : NULL;
			xmlFree(v);
		}
	xmlFreeTextReader(r);
	const struct member *opf = pkg_find(p, opf_path);
	if (!opf) {
		rc = reject(w->info, "corrupt_document", "no package document (OPF) found%s", NULL);
		goto out;
	}
	if ((rc = main_part_check(opf, opf->name, w->info)))
		goto out;
	if ((rc = epub_encrypted(pkg_find(p, "META-INF/encryption.xml"), w->info)))
		goto out;
	if ((rc = props_read(opf, w->info)))
		goto out;
	r = xr_open(opf);
	while (!rc && r && xmlTextReaderRead(r) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT)
			continue;
		const char *name = xr_name(r);
		if (!strcmp(name, "item")) {
			char *id = xr_attr(r, "id", NULL), *href = xr_attr(r, "href", NULL);
			if (id && href && !(rc = strs_push(&item_id, id)))
				rc = strs_push(&item_href, href);
			xmlFree(id);
			xmlFree(href);
		} else if (!strcmp(name, "itemref")) {
			char *id = xr_attr(r, "idref", NULL);
			if (id)
				rc = strs_push(&ids, id);
			xmlFree(id);
		}
	}
	xmlFreeTextReader(r);
	size_t dl = dir_len_of(opf->name);
	for (size_t i = 0; !rc && i < ids.n && !w->stop; i++) {
		size_t k = 0;
		while (k < item_id.n && strcmp(item_id.v[k], ids.v[i]))
			k++;
		if (k == item_id.n)
			continue;
		char *path = path_join(opf->name, dl, item_href.v[k]);
		if (!path) {
			rc = RL_ENOMEM;
			break;
		}
		const struct member *doc = pkg_find(p, path);
		free(path);
		if (!doc || !doc->len)
			continue;
		SEND(w, w->sink->para(w->ctx));
		SEND(w, w->sink->html(w->ctx, doc->data, doc->len));
	}
out:
	free(opf_path);
	strs_release(&ids);
	strs_release(&item_id);
	strs_release(&item_href);
	return rc;
}

/* ---- OLE2 (Compound File Binary) ----------------------------------------------------------
 * OOXML encryption (ECMA-376 part 2; MS-OFFCRYPTO) stores the encrypted zip as the stream
 * "EncryptedPackage" of an OLE2 compound file, beside "EncryptionInfo". The directory is a
 * chain of sectors through the FAT; only the FAT sectors the header lists (109 of them: files
 * up to ~7 MiB with 512-byte sectors, ~440 MiB with 4096-byte ones) are followed, and every
 * walk is bounded by the file's own sector count, so a loop in the chain ends. */

static uint32_t le32_at(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A directory entry's name (UTF-16LE, its length in bytes with the NUL) is the ASCII s. */
static int cfb_name_is(const unsigned char *e, const char *s)
{
	size_t len = (size_t)e[64] | (size_t)e[65] << 8, m = strlen(s);
	if (len != 2 * (m + 1))
		return 0;
	for (size_t i = 0; i < m; i++)
		if (e[2 * i] != (unsigned char)s[i] || e[2 * i + 1])
			return 0;
	return 1;
}

/* 1: an encrypted OOXML package; 0: some other compound file; -1: its directory is unreadable. */
static int cfb_encrypted(const unsigned char *d, size_t n)
{
	if (n < 512)
		return -1;
	unsigned shift = (unsigned)d[30] | (unsigned)d[31] << 8;
	if (shift != 9 && shift != 12)
		return -1;
	size_t ssz = (size_t)1 << shift, per = ssz / 4, sectors = n / ssz;
	uint32_t sec = le32_at(d + 48);
	int info = 0, package = 0;
	for (size_t steps = 0; sec < 0xFFFFFFFA && steps <= sectors; steps++) {
		size_t off = ((size_t)sec + 1) << shift;
		if (off + ssz > n || off < ssz)
			return -1;
		for (size_t e = off; e + 128 <= off + ssz; e += 128) {
			if (d[e + 66] != 2)  /* streams only */
				continue;
			info |= cfb_name_is(d + e, "EncryptionInfo");
			package |= cfb_name_is(d + e, "EncryptedPackage");
		}
		if (info && package)
			return 1;
		/* the next directory sector: FAT[sec], in the FAT sector the header's DIFAT names */
		size_t fs = sec / per;
		if (fs >= 109)
			return -1;
		uint32_t fat = le32_at(d + 76 + 4 * fs);
		size_t foff = ((size_t)fat + 1) << shift;
		if (fat >= 0xFFFFFFFA || foff + ssz > n || foff < ssz)
			return -1;
		sec = le32_at(d + foff + 4 * (sec % per));
	}
	return 0;
}

/* ---- public ------------------------------------------------------------------------------ */

int office_parse(const char *type, const char *data, size_t n, const struct office_sink *sink,
		 void *ctx, struct office_info *info)
{
	struct pkg p = { 0 };
	struct walk w = { .sink = sink, .ctx = ctx, .info = info };
	int rc;

	if (n >= 8 && memcmp(data, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0) {
		int enc = cfb_encrypted((const unsigned char *)data, n);
		if (enc > 0)
			return reject(info, "encrypted", "an encrypted OOXML package (OLE2 compound "
				      "file holding EncryptionInfo and EncryptedPackage)%s", NULL);
		return reject(info, "corrupt_document", enc < 0
			      ? "an OLE2 compound file whose directory cannot be read%s"
			      : "an OLE2 compound file (a legacy binary Office file?), not a package%s",
			      NULL);
	}
	if ((rc = pkg_open(&p, data, n, info)))
		goto out;
	if (!type)
		rc = reject(info, "corrupt_document", "no document type%s", NULL);
	else if (!strcmp(type, "docx"))
		rc = docx_read(&p, &w);
	else if (!strcmp(type, "pptx"))
		rc = pptx_read(&p, &w);
	else if (!strcmp(type, "xlsx"))
		rc = xlsx_read(&p, &w);
	else if (!strcmp(type, "odt") || !strcmp(type, "odp"))
		rc = odf_read(&p, &w, 0);
	else if (!strcmp(type, "ods"))
		rc = odf_read(&p, &w, 1);
	else if (!strcmp(type, "epub"))
		rc = epub_read(&p, &w);
	else
		rc = reject(info, "corrupt_document", "not a document type ragload reads (%s)", type);
	if (!rc && w.stop < 0)
		rc = w.stop;
out:
	pkg_release(&p);
	return rc;
}
