/*
 * read.c — the read stage: every input path becomes a stream of read_items.
 *
 * What: directories (walked in sorted order), archives (tar, zip, 7z, cpio, ar, iso9660, ...
 * under any compression filter), compressed single files (.gz .zst .xz .bz2 ...), plain files,
 * and JSONL collections found in any of them, handed to emit() as READ_FILE / READ_ROW items
 * with stable source keys ("dir/rel/path", "file!entry", "a.tar!inner.zip!x", "corpus.jsonl#id").
 *
 * How: each file on disk is opened once with libarchive, which classifies it: a real archive
 * (entries streamed one at a time), the raw format under a filter (a compressed single file,
 * streamed as the file inside), or the raw format with no filter (a plain file, then read with
 * read()). Every byte an item gets goes through stream_read(), which counts expanded bytes and
 * checks the limits while streaming: a bomb is refused a block past the limit, never after it
 * is in memory. An entry named like an archive is read into memory (bounded by
 * max_entry_bytes) and opened again the same way, up to max_nesting levels. A JSONL collection
 * is split into lines as it streams; only one line is held at a time.
 *
 * Why: nothing is ever written to disk, so ".." and absolute entry names are just text and no
 * extraction directory needs cleaning; one classification path for files and in-memory entries
 * keeps nested archives behaving exactly like top-level ones.
 *
 * Choices (DESIGN.md is silent on them):
 * - Formats: every libarchive reader except mtree, which would read files named in the input
 *   from the local disk (and claims ordinary text files). Filters: the built-in decompressors
 *   only; uu (would decode a text file that starts with "begin 644") and the external-program
 *   ones (lrzip, grzip, lzop) are not enabled.
 * - The byte limits (max_total_bytes, max_ratio) apply per file on disk: a command-line file,
 *   or each file of a walked directory. Expanded bytes are everything pulled out of an archive
 *   at any nesting level, including entries drained to be skipped, plus a plain file's bytes.
 *   The ratio compares them with the bytes read from the file on disk so far.
 * - A JSONL collection is not bound by max_entry_bytes (BEIR corpora reach gigabytes); each
 *   line is bound by max_line_bytes, the whole by max_total_bytes.
 * - A limit of 0 means "no limit". Peak memory for entries is (max_nesting + 1) *
 *   max_entry_bytes.
 * - An empty archive or empty compressed file emits nothing and counts nothing; a 0-byte
 *   plain file is emitted (normalize decides what an empty document is).
 * - Directory walk: each directory's names are sorted with strcmp and visited depth-first
 *   (as fts does), so "a/x" comes before "a.txt". Symlinks are never followed: one to a
 *   directory is skipped silently, any other is counted ("symlink"). A path named on the
 *   command line is followed even when it is a symlink: the user chose it.
 * - Source keys replace invalid UTF-8 and control characters with '?'. The reading thread
 *   runs under a C.UTF-8 LC_CTYPE (uselocale, restored on return) so that libarchive's name
 *   conversions give the same keys whatever the process locale.
 * - Duplicate _ids are found with a set of 128-bit xxh3 hashes of the ids (16 bytes per id).
 */
#include "read.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>
#include <xxhash.h>

#define READ_CHUNK (64 * 1024)
#define RATIO_FLOOR ((uint64_t)16 << 20)  /* small inputs compress well: judge the ratio past this */
#define MAX_DIR_DEPTH 128                 /* each level holds a directory fd */

/* Internal unwinding codes; read_inputs() never returns them. */
#define R_ABORT (-100)   /* emit() refused an item: r->emit_rc holds its value */
#define R_STOP (-101)    /* the file on disk is abandoned (counted); go on with the next one */
#define R_BROKEN (-102)  /* the archive is damaged (counted); its enclosing level goes on */
#define R_FAILED (-103)  /* one entry failed (counted); the archive may go on */

struct reader {
	const struct read_opts *o;
	read_emit_fn emit;
	void *ctx;
	struct counts *c;
	const char *input;       /* the command-line path */
	/* per file on disk, the unit of the byte limits */
	const char *file_key;
	struct archive *outer;   /* the archive reading that file, for the ratio; NULL when plain */
	uint64_t expanded;
	int emit_rc;
	char *chunk;             /* READ_CHUNK bytes of scratch for archive_read_data() and read() */
};

/* Where one item sits: enough to name it, date it and bound it. */
struct place {
	const char *key;         /* its source key */
	const char *name;        /* its own file name, compression suffix stripped */
	int64_t mtime;
	int64_t size;            /* declared size, -1 when unknown */
	int depth;               /* archive nesting level of the container it comes from */
	int nestable;            /* an archive entry: may be opened as an archive itself */
};

/* Where an item's bytes come from: an archive's current entry, a file, or memory. */
struct stream {
	struct archive *a;
	int fd;
	const char *mem;
	size_t mem_len;
	size_t mem_pos;
	const char *key;         /* the item's key, for limit messages */
	const char *container;   /* the key of the archive holding it, for damage messages */
	const char *entry;       /* its name inside that archive */
};

/* A file on disk or an in-memory entry that libarchive is asked to classify and read. */
struct container {
	const char *key;
	const char *name;
	int64_t mtime;
	int depth;               /* 0 = a file on disk */
	int fd;                  /* >= 0: a file on disk; else mem/len */
	char *mem;               /* malloc'd; the plain path may take it (then set to NULL) */
	size_t len;
};

enum container_kind { K_PLAIN, K_EMPTY, K_SINGLE, K_ARCHIVE, K_BROKEN };

static int input_read(struct reader *r, const char *path);

/* ---- entry point --------------------------------------------------------------------------- */

int read_inputs(const struct read_opts *o, char *const *paths, int n_paths, read_emit_fn emit,
		void *ctx, struct counts *c)
{
	struct reader r = { .o = o, .emit = emit, .ctx = ctx, .c = c };
	/* libarchive converts entry names to the thread's locale: make it UTF-8 so that keys do
	 * not depend on how ragload was started (7z names are lost in the C locale otherwise) */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t prev = utf8 ? uselocale(utf8) : (locale_t)0;
	int rc = 0;

	r.chunk = malloc(READ_CHUNK);
	if (!r.chunk) {
		rc = RL_ENOMEM;
		goto out;
	}
	for (int i = 0; i < n_paths; i++) {
		r.input = paths[i];
		rc = input_read(&r, paths[i]);
		if (rc == R_ABORT)
			rc = r.emit_rc;
		if (rc)
			goto out;
	}
out:
	free(r.chunk);
	if (utf8) {
		uselocale(prev);
		freelocale(utf8);
	}
	return rc;
}

void read_item_free(struct read_item *it)
{
	if (!it)
		return;
	free(it->source);
	free(it->input);
	free(it->name);
	free(it->data);
	free(it->title);
	free(it->metadata_json);
	free(it);
}

/* ---- names and keys ------------------------------------------------------------------------ */

static const char *const compress_suffixes[] = { ".gz", ".zst", ".xz", ".bz2", ".lz4", ".lzma", ".Z" };
static const char *const container_suffixes[] = {
	".tar", ".tgz", ".tzst", ".txz", ".tbz", ".tbz2", ".zip", ".7z", ".cpio",
	".gz", ".zst", ".xz", ".bz2",
};

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && strcasecmp(s + n - m, suf) == 0;
}

static int name_is_container(const char *name)
{
	for (size_t i = 0; i < RL_ARRAY_LEN(container_suffixes); i++)
		if (has_suffix(name, container_suffixes[i]))
			return 1;
	return 0;
}

static int name_is_collection(const char *name)
{
	return has_suffix(name, ".jsonl");
}

/* "corpus.jsonl.zst" -> "corpus.jsonl": the name of what a compression filter holds. */
static char *name_uncompressed(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < RL_ARRAY_LEN(compress_suffixes); i++)
		if (has_suffix(name, compress_suffixes[i]))
			return xstrndup(name, n - strlen(compress_suffixes[i]));
	return xstrdup(name);
}

static const char *name_last(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid or truncated. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2; min = 0x80; cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; min = 0x800; cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; min = 0x10000; cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Source keys go into a PostgreSQL text column and into messages: valid UTF-8, no controls. */
static char *key_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		unsigned char c = (unsigned char)s[i];
		if (k == 0 || (k == 1 && (c < 0x20 || c == 0x7f))) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

/* 7z names are UTF-16 inside: in the C locale libarchive only has them as wide strings. */
static char *wide_to_utf8(const wchar_t *w)
{
	struct buf b;
	int rc = 0;

	buf_init(&b, 0);
	for (; *w && !rc; w++) {
		uint32_t cp = (uint32_t)*w;
		unsigned char u[4];
		size_t n;
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			cp = '?';
		if (cp < 0x80) {
			u[0] = (unsigned char)cp; n = 1;
		} else if (cp < 0x800) {
			u[0] = (unsigned char)(0xc0 | (cp >> 6)); u[1] = (unsigned char)(0x80 | (cp & 0x3f)); n = 2;
		} else if (cp < 0x10000) {
			u[0] = (unsigned char)(0xe0 | (cp >> 12)); u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (unsigned char)(0x80 | (cp & 0x3f)); n = 3;
		} else {
			u[0] = (unsigned char)(0xf0 | (cp >> 18)); u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
			u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (unsigned char)(0x80 | (cp & 0x3f)); n = 4;
		}
		rc = buf_append(&b, u, n);
	}
	if (rc) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/*
 * The entry's path as key text: UTF-8 whichever the locale (libarchive's UTF-8 view first,
 * then the raw bytes, then the wide form), leading "/" and "./" stripped, ".." kept as text.
 */
static char *entry_path(struct archive_entry *e)
{
	const char *p = archive_entry_pathname_utf8(e);
	char *w = NULL, *out;

	if (!p)
		p = archive_entry_pathname(e);
	if (!p && archive_entry_pathname_w(e))
		p = w = wide_to_utf8(archive_entry_pathname_w(e));
	if (!p)
		p = "";
	for (;;) {
		if (p[0] == '/')
			p++;
		else if (p[0] == '.' && p[1] == '/')
			p += 2;
		else
			break;
	}
	out = key_clean(p[0] ? p : "(unnamed)");
	free(w);
	if (out) {
		size_t n = strlen(out);
		while (n > 1 && out[n - 1] == '/')  /* a directory-looking regular entry keeps a name */
			out[--n] = '\0';
	}
	return out;
}

static char *key_join(const char *a, char sep, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *k = malloc(na + nb + 2);

	if (!k)
		return NULL;
	memcpy(k, a, na);
	k[na] = sep;
	memcpy(k + na + 1, b, nb + 1);
	return k;
}

/* ---- emitting ------------------------------------------------------------------------------ */

static int item_emit(struct reader *r, struct read_item *it)
{
	int rc = r->emit(r->ctx, it);
	if (rc) {
		r->emit_rc = rc;
		return R_ABORT;
	}
	return 0;
}

/* Takes ownership of data (malloc'd, data[len] == 0). */
static int file_emit(struct reader *r, const struct place *at, char *data, size_t len)
{
	struct read_item *it = calloc(1, sizeof(*it));

	if (!it) {
		free(data);
		return RL_ENOMEM;
	}
	it->kind = READ_FILE;
	it->data = data;
	it->len = len;
	it->raw_bytes = len;
	it->mtime = at->mtime;
	it->source = xstrdup(at->key);
	it->input = xstrdup(r->input);
	it->name = xstrdup(at->name);
	if (!it->source || !it->input || !it->name) {
		read_item_free(it);
		return RL_ENOMEM;
	}
	return item_emit(r, it);
}

/* ---- streaming with limits ----------------------------------------------------------------- */

/* ARCHIVE_RETRY sorts above ARCHIVE_WARN: a damaged tar header must not pass for a warning. */
static int la_failed(int rc)
{
	return rc != ARCHIVE_OK && rc != ARCHIVE_WARN;
}

/* Counts damage to an archive: what was read before it stays emitted, the run goes on. */
static void archive_damage(struct reader *r, struct archive *a, const char *container,
			   const char *entry)
{
	const char *err = archive_error_string(a);

	counts_skip(r->c, "corrupt_archive", container, "%s: %s (at byte offset %lld)", entry,
		    err ? err : "unknown error", (long long)archive_filter_bytes(a, -1));
}

static int limits_check(struct reader *r, const char *key)
{
	const struct read_opts *o = r->o;

	if (o->max_total_bytes && r->expanded > o->max_total_bytes) {
		counts_skip(r->c, "input_too_large", r->file_key,
			    "stopped at %s: more than max_total_bytes (%llu) expanded", key,
			    (unsigned long long)o->max_total_bytes);
		return R_STOP;
	}
	if (r->outer && o->max_ratio && r->expanded > RATIO_FLOOR) {
		int64_t raw = archive_filter_bytes(r->outer, -1);
		if (raw > 0 && (uint64_t)raw <= UINT64_MAX / o->max_ratio &&
		    r->expanded > o->max_ratio * (uint64_t)raw) {
			counts_skip(r->c, "compression_ratio", r->file_key,
				    "stopped at %s: %llu bytes expanded from %lld, ratio above max_ratio (%llu)",
				    key, (unsigned long long)r->expanded, (long long)raw,
				    (unsigned long long)o->max_ratio);
			return R_STOP;
		}
	}
	return 0;
}

/*
 * The next piece of the item: returns its length (*p points at it), 0 at the end, or a
 * negative R_ code once the failure is counted.
 */
static ssize_t stream_read(struct reader *r, struct stream *s, const char **p)
{
	ssize_t n;

	if (s->a) {
		n = archive_read_data(s->a, r->chunk, READ_CHUNK);
		if (n < 0) {
			archive_damage(r, s->a, s->container, s->entry);
			return n == ARCHIVE_FATAL ? R_BROKEN : R_FAILED;
		}
	} else if (s->fd >= 0) {
		do
			n = read(s->fd, r->chunk, READ_CHUNK);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			counts_skip(r->c, "unreadable", s->key, "read: %s", strerror(errno));
			return R_STOP;
		}
	} else {
		/* already counted when it left the archive that held it */
		*p = s->mem + s->mem_pos;
		n = (ssize_t)(s->mem_len - s->mem_pos);
		s->mem_pos = s->mem_len;
		return n;
	}
	*p = r->chunk;
	if (n > 0) {
		r->expanded += (uint64_t)n;
		int rc = limits_check(r, s->key);
		if (rc)
			return rc;
	}
	return n;
}

/* Data stored as is (no filter, no per-entry compression): skipping it costs a seek. */
static int archive_stored(struct archive *a)
{
	int f = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
	return archive_filter_count(a) == 1 &&
	       (f == ARCHIVE_FORMAT_TAR || f == ARCHIVE_FORMAT_CPIO || f == ARCHIVE_FORMAT_AR);
}

/*
 * Finishes the current entry. Compressed data is drained through stream_read() rather than
 * skipped inside libarchive so that the limits still see it: a bomb must not hide in an
 * entry we decided to skip.
 */
static int entry_skip(struct reader *r, struct stream *s)
{
	const char *p;
	ssize_t n;

	if (archive_stored(s->a)) {
		if (la_failed(archive_read_data_skip(s->a))) {
			archive_damage(r, s->a, s->container, s->entry);
			return R_BROKEN;
		}
		return 0;
	}
	while ((n = stream_read(r, s, &p)) > 0)
		;
	return (int)n;
}

static void too_large(struct reader *r, const struct place *at, uint64_t declared)
{
	if (declared)
		counts_skip(r->c, "entry_too_large", at->key, "declares %llu bytes, more than max_entry_bytes (%llu)",
			    (unsigned long long)declared, (unsigned long long)r->o->max_entry_bytes);
	else
		counts_skip(r->c, "entry_too_large", at->key, "more than max_entry_bytes (%llu)",
			    (unsigned long long)r->o->max_entry_bytes);
}

/*
 * Reads the whole item into one malloc'd buffer (*out[*len] == 0). Returns 0, RL_SKIP when it
 * is larger than max_entry_bytes (counted, the rest left unread), or a negative code. Growth
 * is clamped to the limit so that memory never exceeds it.
 */
static int data_collect(struct reader *r, struct stream *s, const struct place *at, char **out,
			size_t *out_len)
{
	uint64_t max = r->o->max_entry_bytes ? r->o->max_entry_bytes : SIZE_MAX / 2;
	size_t cap, len = 0;
	char *data = NULL;
	const char *p;
	ssize_t n;
	int rc = 0;

	if (at->size >= 0 && (uint64_t)at->size > max) {
		too_large(r, at, (uint64_t)at->size);
		return RL_SKIP;
	}
	cap = at->size >= 0 ? (size_t)at->size + 1 : READ_CHUNK + 1;
	data = malloc(cap);
	if (!data)
		return RL_ENOMEM;
	while ((n = stream_read(r, s, &p)) > 0) {
		if ((uint64_t)len + (uint64_t)n > max) {
			too_large(r, at, 0);
			rc = RL_SKIP;
			goto out;
		}
		if (len + (size_t)n + 1 > cap) {
			size_t want = cap * 2 > len + (size_t)n + 1 ? cap * 2 : len + (size_t)n + 1;
			if (want > max + 1)
				want = (size_t)max + 1;
			char *q = realloc(data, want);
			if (!q) {
				rc = RL_ENOMEM;
				goto out;
			}
			data = q;
			cap = want;
		}
		memcpy(data + len, p, (size_t)n);
		len += (size_t)n;
	}
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	data[len] = '\0';
	*out = data;
	*out_len = len;
	data = NULL;
out:
	free(data);
	return rc;
}

/* ---- JSONL collections --------------------------------------------------------------------- */

/* Set of _ids seen in one collection, as 128-bit hashes: 16 bytes per row, whatever the id. */
struct idset {
	XXH128_hash_t *slots;    /* all-zero = empty */
	size_t cap;              /* power of two */
	size_t n;
};

static void idset_release(struct idset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}

static void idset_place(XXH128_hash_t *slots, size_t cap, XXH128_hash_t h)
{
	size_t i = (size_t)h.low64 & (cap - 1);
	while (slots[i].low64 || slots[i].high64)
		i = (i + 1) & (cap - 1);
	slots[i] = h;
}

/* Returns 0 when added, 1 when already present, RL_ENOMEM. */
static int idset_add(struct idset *s, const char *id, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(id, len);

	if (!h.low64 && !h.high64)
		h.low64 = 1;
	if ((s->n + 1) * 10 > s->cap * 7) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		XXH128_hash_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return RL_ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i].low64 || s->slots[i].high64)
				idset_place(slots, cap, s->slots[i]);
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	for (size_t i = (size_t)h.low64 & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slots[i].low64 && !s->slots[i].high64)
			break;
		if (XXH128_isEqual(s->slots[i], h))
			return 1;
	}
	idset_place(s->slots, s->cap, h);
	s->n++;
	return 0;
}

struct jsonl {
	struct reader *r;
	const struct place *at;
	struct buf line;
	uint64_t lineno;         /* 1-based number of the line being gathered */
	int discarding;          /* the current line is too long: drop bytes up to its newline */
	struct idset ids;
};

static void bad_line(struct jsonl *j, const char *msg)
{
	counts_skip(j->r->c, "bad_jsonl_line", j->at->key, "line %llu: %s",
		    (unsigned long long)j->lineno, msg);
}

/* Builds the row: "text" is the document, "title" its title, the rest metadata plus "_id". */
static int row_build(struct jsonl *j, json_t *root, const char *id, size_t id_len,
		     json_t *text, size_t line_len, struct read_item **out)
{
	struct read_item *it = calloc(1, sizeof(*it));
	json_t *title = json_object_get(root, "title");
	json_t *meta = json_object_get(root, "metadata");
	json_t *m = json_object();
	char *idz = xstrndup(id, id_len);
	size_t n = json_string_length(text);
	int rc = RL_ENOMEM;

	if (!it || !m || !idz)
		goto out;
	it->kind = READ_ROW;
	it->mtime = j->at->mtime;
	it->raw_bytes = line_len + 1;
	it->len = n;
	it->data = malloc(n + 1);
	it->source = key_join(j->at->key, '#', idz);
	it->input = xstrdup(j->r->input);
	it->name = xstrdup(j->at->name);
	if (!it->data || !it->source || !it->input || !it->name)
		goto out;
	memcpy(it->data, json_string_value(text), n);
	it->data[n] = '\0';
	if (json_is_string(title) && json_string_length(title) > 0 &&
	    !(it->title = xstrdup(json_string_value(title))))
		goto out;
	/* A non-object "metadata" is kept whole rather than dropped. */
	if (json_is_object(meta) ? json_object_update(m, meta) != 0
				 : (meta && !json_is_null(meta) && json_object_set(m, "metadata", meta) != 0))
		goto out;
	if (json_object_set_new(m, "_id", json_stringn(id, id_len)) != 0)
		goto out;
	it->metadata_json = json_dumps(m, JSON_COMPACT);
	if (!it->metadata_json)
		goto out;
	*out = it;
	it = NULL;
	rc = 0;
out:
	read_item_free(it);
	json_decref(m);
	free(idz);
	return rc;
}

static int jsonl_line(struct jsonl *j)
{
	const char *p = j->line.data ? j->line.data : "";
	size_t n = j->line.len;
	json_t *root = NULL, *jid, *text;
	json_error_t err;
	char numid[32];
	const char *id;
	size_t id_len;
	struct read_item *it = NULL;
	int rc = 0;

	if (j->lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	if (strspn(p, " \t\r") == n)
		goto out;  /* blank line; strspn stops at an embedded NUL, which is not blank */
	root = json_loadb(p, n, JSON_ALLOW_NUL, &err);
	if (!root) {
		char msg[300];
		snprintf(msg, sizeof(msg), "invalid JSON: %s", err.text);
		bad_line(j, msg);
		goto out;
	}
	if (!json_is_object(root)) {
		bad_line(j, "not a JSON object");
		goto out;
	}
	jid = json_object_get(root, "_id");
	if (json_is_integer(jid)) {
		snprintf(numid, sizeof(numid), "%" JSON_INTEGER_FORMAT, json_integer_value(jid));
		id = numid;
		id_len = strlen(numid);
	} else if (json_is_string(jid)) {
		id = json_string_value(jid);
		id_len = json_string_length(jid);
	} else {
		bad_line(j, jid ? "\"_id\" is not a string" : "missing \"_id\"");
		goto out;
	}
	if (id_len == 0 || memchr(id, '\0', id_len)) {
		bad_line(j, "\"_id\" is empty or holds a NUL");
		goto out;
	}
	text = json_object_get(root, "text");
	if (!json_is_string(text)) {
		bad_line(j, text ? "\"text\" is not a string" : "missing \"text\"");
		goto out;
	}
	rc = idset_add(&j->ids, id, id_len);
	if (rc == 1) {
		counts_skip(j->r->c, "duplicate_id", j->at->key, "line %llu: duplicate _id \"%s\"",
			    (unsigned long long)j->lineno, id);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	rc = row_build(j, root, id, id_len, text, j->line.len, &it);
	if (rc)
		goto out;
	rc = item_emit(j->r, it);
out:
	json_decref(root);
	return rc;
}

/* Splits what streams in into lines; never holds more than one line of max_line_bytes. */
static int jsonl_feed(struct jsonl *j, const char *p, size_t n)
{
	uint64_t max = j->r->o->max_line_bytes;
	int rc = 0;

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!j->discarding) {
			if (max && j->line.len + take > max) {
				counts_skip(j->r->c, "line_too_long", j->at->key,
					    "line %llu: longer than max_line_bytes (%llu)",
					    (unsigned long long)j->lineno, (unsigned long long)max);
				j->discarding = 1;
				buf_reset(&j->line);
			} else if ((rc = buf_append(&j->line, p, take))) {
				return rc;
			}
		}
		if (nl) {
			if (!j->discarding)
				rc = jsonl_line(j);
			buf_reset(&j->line);
			j->discarding = 0;
			j->lineno++;
			if (rc)
				return rc;
			take++;
		}
		p += take;
		n -= take;
	}
	return 0;
}

static int jsonl_read(struct reader *r, struct stream *s, const struct place *at)
{
	struct jsonl j = { .r = r, .at = at, .lineno = 1 };
	const char *p;
	ssize_t n;
	int rc = 0;

	buf_init(&j.line, 0);
	while ((n = stream_read(r, s, &p)) > 0)
		if ((rc = jsonl_feed(&j, p, (size_t)n)))
			goto out;
	if (n < 0) {
		/* damage already counted; the partial line it cut is not a second problem */
		rc = (int)n;
		goto out;
	}
	/* a last line without newline counts; one cut short fails to parse and is counted */
	if (j.line.len && !j.discarding)
		rc = jsonl_line(&j);
out:
	buf_release(&j.line);
	idset_release(&j.ids);
	return rc;
}

/* ---- files, entries and containers --------------------------------------------------------- */

static int container_read(struct reader *r, struct container *k);

static int file_read(struct reader *r, struct stream *s, const struct place *at)
{
	char *data;
	size_t len;
	int rc = data_collect(r, s, at, &data, &len);

	if (rc)
		return rc;
	return file_emit(r, at, data, len);
}

/* An entry named like an archive: read into memory, then opened as one, one level deeper. */
static int nested_read(struct reader *r, struct stream *s, const struct place *at)
{
	int max = r->o->max_nesting > 0 ? r->o->max_nesting : 0;
	struct container k = { .key = at->key, .name = at->name, .mtime = at->mtime,
			       .depth = at->depth + 1, .fd = -1 };
	int rc;

	if (k.depth > max) {
		counts_skip(r->c, "nesting", at->key, "archive nested deeper than max_nesting (%d)", max);
		return RL_SKIP;
	}
	rc = data_collect(r, s, at, &k.mem, &k.len);
	if (rc)
		return rc;
	rc = container_read(r, &k);
	free(k.mem);
	return rc;
}

/* One item's bytes: a collection, an archive inside an archive, or a file. */
static int item_read(struct reader *r, struct stream *s, const struct place *at)
{
	if (name_is_collection(at->name))
		return jsonl_read(r, s, at);
	if (at->nestable && name_is_container(at->name))
		return nested_read(r, s, at);
	return file_read(r, s, at);
}

static int entry_read(struct reader *r, struct archive *a, struct archive_entry *e,
		      const struct container *k)
{
	char *path = entry_path(e);
	char *key = path ? key_join(k->key, '!', path) : NULL;
	struct stream s = { .a = a, .fd = -1, .key = key, .container = k->key, .entry = path };
	mode_t type = archive_entry_filetype(e);
	int rc = 0;

	if (!key) {
		rc = RL_ENOMEM;
		goto out;
	}
	if (type == AE_IFDIR)
		goto out;
	/* a hard link that carries the data (cpio puts it on the last name) is read as a file */
	int link_only = archive_entry_hardlink(e) &&
			!(archive_entry_size_is_set(e) && archive_entry_size(e) > 0);

	if (link_only || type == AE_IFLNK) {
		counts_skip(r->c, "link", key, "%s link, not followed",
			    type == AE_IFLNK ? "symbolic" : "hard");
	} else if (type != AE_IFREG && type != 0) {
		counts_skip(r->c, "special_file", key, "not a regular file");
	} else if (archive_entry_is_data_encrypted(e)) {
		/* the data cannot be decoded, so there is nothing a limit could see */
		counts_skip(r->c, "encrypted", key, "encrypted entry");
		if (la_failed(archive_read_data_skip(a))) {
			archive_damage(r, a, k->key, path);
			rc = R_BROKEN;
		}
		goto out;
	} else {
		struct place at = {
			.key = key, .name = name_last(path), .depth = k->depth, .nestable = 1,
			.mtime = archive_entry_mtime_is_set(e) ? (int64_t)archive_entry_mtime(e) : k->mtime,
			.size = archive_entry_size_is_set(e) ? (int64_t)archive_entry_size(e) : -1,
		};
		rc = item_read(r, &s, &at);
	}
	if (rc >= 0)
		rc = entry_skip(r, &s);
out:
	free(key);
	free(path);
	return rc;
}

static int entries_read(struct reader *r, struct archive *a, struct archive_entry *e,
			const struct container *k)
{
	char *prev = NULL;
	int h, rc;

	for (;;) {
		rc = entry_read(r, a, e, k);
		if (rc == R_BROKEN) {
			rc = 0;  /* counted; nothing after the damage can be trusted */
			break;
		}
		if (rc == R_FAILED)
			rc = 0;  /* counted; libarchive can go on with the next entry */
		if (rc)
			break;
		free(prev);
		prev = entry_path(e);
		h = archive_read_next_header(a, &e);
		if (h == ARCHIVE_EOF)
			break;
		if (la_failed(h)) {
			char what[600];
			snprintf(what, sizeof(what), "header after %s", prev ? prev : "?");
			archive_damage(r, a, k->key, what);
			break;
		}
	}
	free(prev);
	return rc;
}

/* A compressed single file: the file inside keeps the key, loses the suffix from its name. */
static int single_read(struct reader *r, struct archive *a, const struct container *k)
{
	char *name = name_uncompressed(k->name);
	struct place at = { .key = k->key, .name = name, .mtime = k->mtime, .size = -1,
			    .depth = k->depth };
	struct stream s = { .a = a, .fd = -1, .key = k->key, .container = k->key, .entry = name };
	int rc;

	if (!name)
		return RL_ENOMEM;
	rc = item_read(r, &s, &at);
	free(name);
	return rc == R_BROKEN || rc == R_FAILED || rc == RL_SKIP ? 0 : rc;
}

/* Not an archive: a file on disk is read again with read(), memory is handed over. */
static int plain_read(struct reader *r, struct container *k, int64_t size)
{
	struct place at = { .key = k->key, .name = k->name, .mtime = k->mtime, .size = size,
			    .depth = k->depth };
	struct stream s = { .fd = k->fd, .key = k->key, .container = k->key, .entry = k->name };
	int rc;

	if (k->fd < 0 && !name_is_collection(k->name)) {
		rc = file_emit(r, &at, k->mem, k->len);
		k->mem = NULL;
		return rc;
	}
	if (k->fd < 0) {
		s.mem = k->mem;
		s.mem_len = k->len;
	} else if (lseek(k->fd, 0, SEEK_SET) < 0) {
		counts_skip(r->c, "unreadable", k->key, "seek: %s", strerror(errno));
		return 0;
	}
	rc = item_read(r, &s, &at);
	return rc == RL_SKIP ? 0 : rc;
}

static struct archive *archive_new_reader(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_compress(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_rpm(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_ar(a);
	archive_read_support_format_cab(a);
	archive_read_support_format_cpio(a);
	archive_read_support_format_empty(a);
	archive_read_support_format_iso9660(a);
	archive_read_support_format_lha(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_warc(a);
	archive_read_support_format_xar(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_raw(a);  /* last resort: bids lowest, so only for non-archives */
	return a;
}

static enum container_kind container_classify(struct archive *a, int h)
{
	int f = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;

	if (h == ARCHIVE_EOF)
		return f == ARCHIVE_FORMAT_EMPTY && archive_filter_count(a) == 1 ? K_PLAIN : K_EMPTY;
	if (la_failed(h))
		return f == 0 ? K_PLAIN : K_BROKEN;
	if (f == ARCHIVE_FORMAT_RAW)
		return archive_filter_count(a) > 1 ? K_SINGLE : K_PLAIN;
	return K_ARCHIVE;
}

/*
 * Asks libarchive what the file or in-memory entry is, then reads it as that. Damage is
 * counted and returns 0 (the enclosing level goes on); R_STOP, R_ABORT and RL_ENOMEM unwind.
 */
static int container_read(struct reader *r, struct container *k)
{
	struct archive *a = archive_new_reader();
	struct archive_entry *e = NULL;
	int64_t size = k->fd >= 0 ? -1 : (int64_t)k->len;
	int rc = 0, h;

	if (!a)
		return RL_ENOMEM;
	h = k->fd >= 0 ? archive_read_open_fd(a, k->fd, READ_CHUNK)
		       : archive_read_open_memory(a, k->mem, k->len);
	if (h == ARCHIVE_OK)
		h = archive_read_next_header(a, &e);
	else
		h = ARCHIVE_FATAL;
	if (k->depth == 0)
		r->outer = a;
	switch (container_classify(a, h)) {
	case K_PLAIN:
		r->outer = NULL;
		archive_read_free(a);
		a = NULL;
		if (k->fd >= 0) {
			struct stat st;
			if (fstat(k->fd, &st) == 0)
				size = st.st_size;
		}
		rc = plain_read(r, k, size);
		break;
	case K_EMPTY:
		break;
	case K_SINGLE:
		rc = single_read(r, a, k);
		break;
	case K_ARCHIVE:
		rc = entries_read(r, a, e, k);
		break;
	case K_BROKEN:
		/* 7z with encrypted headers fails here; later, libarchive's flag would also be set
		 * by any earlier encrypted entry, so it only decides at the first header */
		if (archive_read_has_encrypted_entries(a) > 0)
			counts_skip(r->c, "encrypted", k->key, "encrypted archive: %s",
				    archive_error_string(a) ? archive_error_string(a) : "no key");
		else
			archive_damage(r, a, k->key, "first header");
		break;
	}
	if (k->depth == 0)
		r->outer = NULL;
	archive_read_free(a);
	return rc;
}

/* ---- files on disk and directories --------------------------------------------------------- */

/* One file on disk: the unit the byte limits apply to. */
static int disk_file_read(struct reader *r, int fd, const char *key, const struct stat *st)
{
	const char *name = name_last(key);
	struct container k = { .key = key, .name = name, .mtime = (int64_t)st->st_mtime, .fd = fd };
	int rc;

	r->file_key = key;
	r->expanded = 0;
	rc = container_read(r, &k);
	r->file_key = NULL;
	return rc == R_STOP ? 0 : rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int dir_walk(struct reader *r, int dfd, const char *rel, int depth);

/* One name of a walked directory; rel is its key before cleaning. */
static int dir_entry(struct reader *r, int dfd, const char *name, const char *rel, int depth)
{
	char *key = key_clean(rel);
	struct stat st;
	int fd = -1, rc = 0;

	if (!key)
		return RL_ENOMEM;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		counts_skip(r->c, "unreadable", key, "%s", strerror(errno));
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		struct stat t;
		if (fstatat(dfd, name, &t, 0) == 0 && S_ISDIR(t.st_mode))
			goto out;
		counts_skip(r->c, "symlink", key, "symbolic link, not followed");
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		counts_skip(r->c, "special_file", key, "not a regular file");
		goto out;
	}
	/* O_NOFOLLOW and the fstat below: the name may have been swapped since fstatat */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			       (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0 || fstat(fd, &st) < 0) {
		counts_skip(r->c, "unreadable", key, "%s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (depth + 1 > MAX_DIR_DEPTH) {
			counts_skip(r->c, "unreadable", key, "directories nested deeper than %d", MAX_DIR_DEPTH);
			goto out;
		}
		rc = dir_walk(r, fd, rel, depth + 1);
		fd = -1;  /* dir_walk owns it */
	} else if (S_ISREG(st.st_mode)) {
		rc = disk_file_read(r, fd, key, &st);
	} else {
		counts_skip(r->c, "special_file", key, "not a regular file");
	}
out:
	if (fd >= 0)
		close(fd);
	free(key);
	return rc;
}

/* Walks the directory open on dfd (takes it) in sorted order; rel is its path, NULL at the top. */
static int dir_walk(struct reader *r, int dfd, const char *rel, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	char **names = NULL, *child = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d) {
		counts_skip(r->c, "unreadable", rel ? rel : r->input, "%s", strerror(errno));
		close(dfd);
		return 0;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 64;
			char **p = realloc(names, c2 * sizeof(*p));
			if (!p) {
				rc = RL_ENOMEM;
				goto out;
			}
			names = p;
			cap = c2;
		}
		if (!(names[n] = xstrdup(de->d_name))) {
			rc = RL_ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		child = rel ? key_join(rel, '/', names[i]) : xstrdup(names[i]);
		if (!child) {
			rc = RL_ENOMEM;
			goto out;
		}
		rc = dir_entry(r, dirfd(d), names[i], child, depth);
		free(child);
		child = NULL;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* A command-line path: followed even when it is a symlink, since the user named it. */
static int input_read(struct reader *r, const char *path)
{
	char *key = NULL;
	const char *base;
	struct stat st;
	size_t len = strlen(path);
	int fd = -1, rc = 0;

	/* "docs/" and "docs" name the same thing: drop trailing slashes before taking the name */
	while (len > 1 && path[len - 1] == '/')
		len--;
	char *trimmed = xstrndup(path, len);
	if (!trimmed)
		return RL_ENOMEM;
	base = name_last(trimmed);
	key = key_clean(base[0] ? base : trimmed);
	if (!key) {
		rc = RL_ENOMEM;
		goto out;
	}
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		counts_skip(r->c, "unreadable", path, "%s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = dir_walk(r, fd, NULL, 0);
		fd = -1;
	} else if (S_ISREG(st.st_mode)) {
		rc = disk_file_read(r, fd, key, &st);
	} else {
		counts_skip(r->c, "special_file", path, "not a regular file or directory");
	}
out:
	if (fd >= 0)
		close(fd);
	free(key);
	free(trimmed);
	return rc;
}
