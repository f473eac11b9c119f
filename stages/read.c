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
 * is split into lines as it streams; only one line is held at a time. An mbox is split into
 * messages the same way (one message held at a time, each an "eml" item "file#n"); a single
 * message is told by its header and typed "eml" for normalize's mail path. A message's
 * attached files are decoded by mail.c and read, after the message, as in-memory entries one
 * level deeper ("file#n!name"), through the same classification as any file.
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
 *
 * Hostile input (tests/hostile/, tests/fuzz/fuzz_read.c, fuzz_jsonl.c, fuzz_mail.c):
 * - Expansion ratio per level: the file on disk (its filters and format) is judged after
 *   RATIO_FLOOR expanded bytes and, over max_ratio, the rest of the file is abandoned (the
 *   stream cannot be skipped without decompressing it). Each archive or compressed file inside
 *   an archive is judged on its own, against the bytes it consumed from its container's entry,
 *   after NESTED_RATIO_FLOOR: a bomb member (x.txt.zst in a tar) is refused under
 *   compression_ratio and its siblings still load. max_total_bytes counts every level.
 * - An entry whose compression method or feature libarchive lacks is unsupported_format. (A
 *   file named like an archive that libarchive does not recognise is emitted as a plain file;
 *   normalize names it unsupported_format or corrupt_archive when its bytes are not text.)
 * - Source keys are unique within a run: two items with the same key (tar entries "x" and
 *   "./x", names that differ only in bytes that are not UTF-8, the same file name given twice
 *   on the command line) are loaded once, the later ones counted as duplicate_entry. 16 bytes
 *   per file or archive entry (JSONL rows use their collection's _id set instead).
 * - Hard links load their data once. A file on disk with several names is read under the
 *   first name met, the others counted as links (a set of device and inode numbers, 16 bytes
 *   per such file). In archives, a link entry without data is counted as a link; one with
 *   data (cpio "odc") is too when its target was already read; a cpio "newc" link group keeps
 *   the data on its last name, so its earlier, empty names are skipped without a word.
 * - JSONL lines: unpaired surrogate escapes become U+FFFD and invalid UTF-8 bytes become
 *   U+FFFD before parsing (both counted in the row's metadata: unpaired_surrogates,
 *   invalid_utf8); NULs from \u0000 are dropped from the title and the metadata (PostgreSQL
 *   text and jsonb cannot hold them; normalize drops and counts the text's). Messages name the
 *   line and its byte offset; a last line cut short says so.
 *   line and its byte offset; a last line cut short says so.
 *
 * Size: over 2,500 lines, kept in one file while new formats are being added to its type
 * table and readers (as normalize.c is); its sections (what a file is, globs, streaming with
 * limits, JSONL, mbox, containers, files and directories) are where it splits next.
 */
#include "read.h"
#include "mail.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>
#include <xxhash.h>
#include <zlib.h>

#define READ_CHUNK (64 * 1024)
#define RATIO_FLOOR ((uint64_t)16 << 20)  /* small inputs compress well: judge the ratio past this */
#define NESTED_RATIO_FLOOR ((uint64_t)1 << 20)  /* a member is judged sooner: there may be many */
#define MAX_DIR_DEPTH 128                 /* each level holds a directory fd */
#define MAX_DIR_NAMES (1 << 22)           /* names of one directory held for sorting */

/* Internal unwinding codes; read_inputs() never returns them. */
#define R_ABORT (-100)   /* emit() refused an item: r->emit_rc holds its value */
#define R_STOP (-101)    /* the file on disk is abandoned (counted); go on with the next one */
#define R_BROKEN (-102)  /* the archive is damaged (counted); its enclosing level goes on */
#define R_FAILED (-103)  /* one entry failed (counted); the archive may go on */

/* Set of strings (a collection's _ids, a run's source keys) as 128-bit hashes: 16 bytes per
 * member, whatever its length. */
struct idset {
	XXH128_hash_t *slots;    /* all-zero = empty */
	size_t cap;              /* power of two */
	size_t n;
};

static void idset_release(struct idset *s);

struct reader {
	const struct read_opts *o;
	read_emit_fn emit;
	void *ctx;
	struct counts *c;
	const char *input;       /* the command-line path */
	size_t walk_skip;        /* in a walked directory: bytes of its name and '/' that start
	                            each relative path (the globs match what follows) */
	/* per file on disk, the unit of the byte limits */
	const char *file_key;
	uint64_t expanded;       /* bytes expanded from it, at every level */
	int emit_rc;
	char *chunk;             /* READ_CHUNK bytes of scratch for archive_read_data() and read() */
	struct idset *keys;      /* source keys emitted so far in this run (files, collections) */
	struct idset *inodes;    /* files on disk with several names, read so far */
	read_damage_fn damaged;  /* may be NULL */
	struct globs *include, *exclude;
	unsigned char *sniff;    /* READ_SNIFF_BYTES + READ_SNIFF_TAIL bytes of scratch */
	const char *doc_type;    /* the office/e-book type sniffed for the item being read, which
	                            file_emit() hands on (set by sniff_ignore(), cleared when a new
	                            item is judged and when it is emitted) */
	const char *attached;    /* metadata (a JSON object's text) for the items read from a
	                            mail attachment being read, NULL elsewhere */
};

/* One [inputs] pattern, parsed once (see read.h for how each kind matches). */
enum glob_kind { G_NAME, G_DIR, G_PATH };
struct glob {
	enum glob_kind kind;
	int anchored;            /* G_PATH starting with '/': at the input's top only */
	char *pat;
};
struct globs {
	struct glob *g;
	size_t n;
	char *text;              /* the list's copy the patterns point into */
};

/* One archive or compressed file being read: the unit of the expansion ratio. */
struct level {
	struct archive *a;
	const char *key;         /* its source key */
	int depth;               /* 0 = a file on disk */
	uint64_t expanded;       /* bytes its formats and filters produced */
	int damaged;             /* its damage (or a limit) was counted: nothing more to check */
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
	struct level *lv;        /* the archive it comes from (NULL: a file or memory) */
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

static int globs_parse(struct globs *gs, const char *list);
static void globs_release(struct globs *gs);

int read_inputs(const struct read_opts *o, char *const *paths, int n_paths, read_emit_fn emit,
		void *ctx, struct counts *c)
{
	return read_inputs_noting(o, paths, n_paths, emit, NULL, ctx, c);
}

int read_inputs_noting(const struct read_opts *o, char *const *paths, int n_paths,
		       read_emit_fn emit, read_damage_fn damaged, void *ctx, struct counts *c)
{
	struct idset keys = { 0 }, inodes = { 0 };
	struct globs inc = { 0 }, exc = { 0 };
	struct reader r = { .o = o, .emit = emit, .ctx = ctx, .c = c, .keys = &keys,
			    .inodes = &inodes, .damaged = damaged, .include = &inc, .exclude = &exc };
	/* libarchive converts entry names to the thread's locale: make it UTF-8 so that keys do
	 * not depend on how ragload was started (7z names are lost in the C locale otherwise) */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t prev = utf8 ? uselocale(utf8) : (locale_t)0;
	int rc = 0;

	r.chunk = malloc(READ_CHUNK);
	r.sniff = malloc(READ_SNIFF_BYTES + READ_SNIFF_TAIL);
	if (!r.chunk || !r.sniff || globs_parse(&inc, o->include) || globs_parse(&exc, o->exclude)) {
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
	free(r.sniff);
	globs_release(&inc);
	globs_release(&exc);
	idset_release(&keys);
	idset_release(&inodes);
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
	return xstrndup(name, name_unpacked_len(name));
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

/*
 * Source keys go into a PostgreSQL text column and into messages: valid UTF-8, no controls.
 * They are also a unique btree key (at most about 2.7 kB a row), so one part of a key (a path,
 * an _id) longer than KEY_PART_MAX is cut at a character and ends in "~" and 16 hex digits of
 * a hash of the whole: two long names stay two keys, and the key stays the same across runs.
 */
#define KEY_PART_MAX 512
static char *key_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc((n < KEY_PART_MAX ? n : KEY_PART_MAX) + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	if (n > KEY_PART_MAX) {
		size_t cut = KEY_PART_MAX - 17;
		while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		char *head = xstrndup(s, cut);
		char *clean = head ? key_clean(head) : NULL;
		free(head);
		if (!clean) {
			free(out);
			return NULL;
		}
		snprintf(out, KEY_PART_MAX + 1, "%s~%016llx", clean,
			 (unsigned long long)XXH3_64bits(s, n));
		free(clean);
		return out;
	}
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

/* A path inside an archive as key text: leading "/" and "./" stripped, ".." kept as text
 * (nothing is ever resolved against the file system), cleaned, no trailing "/". */
static char *path_key(const char *p)
{
	char *out;

	for (;;) {
		if (p[0] == '/')
			p++;
		else if (p[0] == '.' && p[1] == '/')
			p += 2;
		else
			break;
	}
	out = key_clean(p[0] ? p : "(unnamed)");
	if (out) {
		size_t n = strlen(out);
		while (n > 1 && out[n - 1] == '/')  /* a directory-looking regular entry keeps a name */
			out[--n] = '\0';
	}
	return out;
}

/* The entry's path as key text: UTF-8 whichever the locale (libarchive's UTF-8 view first,
 * then the raw bytes, then the wide form). */
static char *entry_path(struct archive_entry *e)
{
	const char *p = archive_entry_pathname_utf8(e);
	char *w = NULL, *out;

	if (!p)
		p = archive_entry_pathname(e);
	if (!p && archive_entry_pathname_w(e))
		p = w = wide_to_utf8(archive_entry_pathname_w(e));
	out = path_key(p ? p : "");
	free(w);
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

/* ---- warnings ------------------------------------------------------------------------------ */

static void skip(struct reader *r, const char *reason, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Counts a skipped item (a warning, exit 3) and tells the damage hook where documents may
 * have been missed: key is a source key, or NULL for the whole command-line input.
 */
static void skip(struct reader *r, const char *reason, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	counts_skip(r->c, reason, key ? key : r->input, "%s", msg);
	if (r->damaged)
		r->damaged(r->ctx, r->input, key);
}

/* ---- sets of keys ---------------------------------------------------------------------------- */

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

static XXH128_hash_t idset_hash(const char *id, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(id, len);

	if (!h.low64 && !h.high64)
		h.low64 = 1;
	return h;
}

static int idset_has(const struct idset *s, const char *id, size_t len)
{
	XXH128_hash_t h = idset_hash(id, len);

	if (!s->cap)
		return 0;
	for (size_t i = (size_t)h.low64 & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slots[i].low64 && !s->slots[i].high64)
			return 0;
		if (XXH128_isEqual(s->slots[i], h))
			return 1;
	}
}

/* Returns 0 when added, 1 when already present, RL_ENOMEM. */
static int idset_add(struct idset *s, const char *id, size_t len)
{
	XXH128_hash_t h = idset_hash(id, len);

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

/* ---- what a file is -------------------------------------------------------------------------- */

/*
 * Types ragload recognises but does not read, by their first bytes. Content decides; a name
 * only breaks a tie for signatures too short or too common to trust alone (an MP3 frame sync,
 * a pickle, an OLE2 file's kind). Every signature below is at least 4 bytes or checked
 * further, so random bytes (damaged input, which must stay a warning) almost never match one:
 * the weakest (JPEG's 3 bytes) once in 16 million.
 *
 * Why a table and not libmagic: measured on this machine's /usr/share/doc (5,943 regular
 * files, 192 MB; the first 4 KiB of each read into memory beforehand, so only classification
 * is timed), this table judges all of them in 4.6 ms (0.8 us a file); libmagic 5.44's
 * magic_buffer() with MAGIC_MIME_TYPE on the same buffers took 32 s (5.4 ms a file), about
 * 7,000 times slower and far slower than reading the files. libmagic also answers questions
 * ragload does not ask ("text/x-c", "text/x-script.python") and names damaged bytes
 * "application/octet-stream" just like a real format it lacks, so the text-or-binary
 * decision would stay in normalize (looks_binary) anyway: this table only adds "a type we
 * ignore", in one place, before libarchive sees the bytes.
 */
struct sig {
	unsigned short off;
	unsigned char len;
	const char *magic;
	const char *type;
};

static const struct sig sigs[] = {
	/* images */
	{ 0, 8, "\x89PNG\r\n\x1a\n", "png" },
	{ 0, 3, "\xff\xd8\xff", "jpeg" },
	{ 0, 6, "GIF87a", "gif" }, { 0, 6, "GIF89a", "gif" },
	{ 0, 4, "II*\0", "tiff" }, { 0, 4, "MM\0*", "tiff" },
	{ 0, 8, "gimp xcf", "xcf" }, { 0, 4, "8BPS", "psd" }, { 0, 4, "icns", "icns" },
	{ 0, 12, "\0\0\0\x0cjP  \r\n\x87\n", "jpeg2000" }, { 0, 12, "\0\0\0\x0cJXL \r\n\x87\n", "jxl" },
	{ 0, 4, "\x76\x2f\x31\x01", "exr" }, { 0, 9, "/* XPM */", "xpm" },
	/* audio and video */
	{ 0, 3 + 1, "ID3\x03", "mp3" }, { 0, 3 + 1, "ID3\x04", "mp3" }, { 0, 3 + 1, "ID3\x02", "mp3" },
	{ 0, 4, "fLaC", "flac" }, { 0, 4, "OggS", "ogg" }, { 0, 4, "MThd", "midi" },
	{ 0, 4, "caff", "caf" }, { 0, 4, ".snd", "au" },
	{ 0, 4, "\x1a\x45\xdf\xa3", "matroska" }, { 0, 4, "FLV\x01", "flv" },
	{ 0, 4, "\0\0\x01\xba", "mpeg" }, { 0, 4, "\0\0\x01\xb3", "mpeg" },
	{ 0, 8, "\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf" },
	/* fonts */
	{ 0, 4, "OTTO", "otf" }, { 0, 4, "ttcf", "ttc" }, { 0, 4, "wOFF", "woff" },
	{ 0, 4, "wOF2", "woff2" }, { 0, 4, "\x01" "fcp", "pcf" },
	{ 0, 4, "\x72\xb5\x4a\x86", "psf" },
	{ 0, 14, "%!PS-AdobeFont", "type1" }, { 0, 11, "%!FontType1", "type1" },
	{ 6, 14, "%!PS-AdobeFont", "type1" },  /* .pfb: a 6-byte segment header first */
	/* executables, object code, compiled code */
	{ 0, 4, "\x7f" "ELF", "elf" },
	{ 0, 4, "\xfe\xed\xfa\xce", "mach-o" }, { 0, 4, "\xfe\xed\xfa\xcf", "mach-o" },
	{ 0, 4, "\xce\xfa\xed\xfe", "mach-o" }, { 0, 4, "\xcf\xfa\xed\xfe", "mach-o" },
	{ 0, 4, "\0asm", "wasm" }, { 0, 4, "BC\xc0\xde", "llvm-bitcode" },
	{ 0, 21, "!<arch>\ndebian-binary", "deb" },
	/* documents (PDF is read: doc_type_read), databases, catalogues, build byproducts */
	{ 0, 5, "%PDF-", "pdf" }, { 0, 4, "%!PS", "postscript" },
	{ 0, 4, "\xc5\xd0\xd3\xc6", "postscript" }, { 0, 5, "{\\rtf", "rtf" },
	{ 0, 8, "AT&TFORM", "djvu" },
	{ 0, 16, "SQLite format 3\0", "sqlite" },
	{ 4, 15, "Standard Jet DB", "access-db" }, { 4, 15, "Standard ACE DB", "access-db" },
	{ 0, 6, "\xf7\x02\x01\x83\x92\xc0", "dvi" },
	{ 0, 4, "\xde\x12\x04\x95", "gettext-mo" }, { 0, 4, "\x95\x04\x12\xde", "gettext-mo" },
	{ 0, 26, "# Sphinx inventory version", "sphinx-inventory" },
	{ 0, 8, "\0\0\0\x01" "Bud1", "ds_store" },
};

static int name_ends(const char *name, const char *suf)
{
	return name && has_suffix(name, suf);
}

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }
static uint32_t be16(const unsigned char *p) { return (uint32_t)p[0] << 8 | p[1]; }

/* XML whose first element is <svg>: past a BOM, the XML declaration, comments, a doctype. */
static int svg_text(const unsigned char *p, size_t n)
{
	size_t i = n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;

	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i + 4 > n || p[i] != '<')
			return 0;
		if (p[i + 1] == '?' || p[i + 1] == '!') {
			const char *close = p[i + 1] == '!' && p[i + 2] == '-' ? "-->" : ">";
			const unsigned char *e = memmem(p + i, n - i, close, strlen(close));
			if (!e)
				return 0;
			i = (size_t)(e - p) + strlen(close);
			continue;
		}
		return memcmp(p + i + 1, "svg", 3) == 0 || (i + 8 <= n && memcmp(p + i + 1, "svg:svg", 7) == 0);
	}
	return 0;
}

/* A zip that is a document package (ODF, EPUB, OOXML, JAR), not an archive of files to walk. */
static const char *zip_document(const unsigned char *h, size_t n, const unsigned char *t,
				size_t nt)
{
	static const struct { const char *mime, *type; } odf[] = {
		{ "application/epub+zip", "epub" },
		{ "application/vnd.oasis.opendocument.text", "odt" },
		{ "application/vnd.oasis.opendocument.spreadsheet", "ods" },
		{ "application/vnd.oasis.opendocument.presentation", "odp" },
		{ "application/vnd.oasis.opendocument.graphics", "odg" },
		{ "application/vnd.oasis.opendocument.", "odf" },
	};
	size_t namelen = n >= 30 ? le16(h + 26) : 0, extra = n >= 30 ? le16(h + 28) : 0;
	const unsigned char *name = h + 30;

	if (n >= 30 + 8 && namelen == 8 && memcmp(name, "mimetype", 8) == 0) {
		size_t at = 30 + namelen + extra;
		for (size_t i = 0; i < RL_ARRAY_LEN(odf); i++) {
			size_t m = strlen(odf[i].mime);
			if (at + m <= n && memcmp(h + at, odf[i].mime, m) == 0)
				return odf[i].type;
		}
		return "odf";  /* a mimetype member first is the ODF/EPUB packaging rule */
	}
	/* the package's marker member: first in the local headers, else in the central
	 * directory at the end */
	int ooxml = n >= 30 + 19 && namelen == 19 && memcmp(name, "[Content_Types].xml", 19) == 0;
	int manifest = n >= 30 + 9 && namelen >= 9 && memcmp(name, "META-INF/", 9) == 0;
	if (!ooxml && t && nt)
		ooxml = memmem(t, nt, "[Content_Types].xml", 19) != NULL;
	if (ooxml) {
		const unsigned char *hay[2] = { h, t };
		size_t len[2] = { n, t ? nt : 0 };
		for (int k = 0; k < 2; k++) {
			if (!len[k])
				continue;
			if (memmem(hay[k], len[k], "word/", 5))
				return "docx";
			if (memmem(hay[k], len[k], "xl/", 3))
				return "xlsx";
			if (memmem(hay[k], len[k], "ppt/", 4))
				return "pptx";
		}
		return "ooxml";
	}
	if (t && nt && memmem(t, nt, "META-INF/container.xml", 22))
		return "epub";
	if (manifest || (t && nt && memmem(t, nt, "META-INF/MANIFEST.MF", 20)))
		return "jar";
	return NULL;
}

const char *read_sniff(const unsigned char *h, size_t n, const unsigned char *t, size_t nt,
		       const char *name)
{
	if (!h || n < 4)
		return NULL;
	for (size_t i = 0; i < RL_ARRAY_LEN(sigs); i++)
		if (n >= (size_t)sigs[i].off + sigs[i].len &&
		    memcmp(h + sigs[i].off, sigs[i].magic, sigs[i].len) == 0)
			return sigs[i].type;
	if (n >= 12 && memcmp(h, "RIFF", 4) == 0) {
		if (memcmp(h + 8, "WEBP", 4) == 0)
			return "webp";
		if (memcmp(h + 8, "WAVE", 4) == 0)
			return "wav";
		if (memcmp(h + 8, "AVI ", 4) == 0)
			return "avi";
	}
	if (n >= 12 && memcmp(h, "FORM", 4) == 0 && (memcmp(h + 8, "AIFF", 4) == 0 || memcmp(h + 8, "AIFC", 4) == 0))
		return "aiff";
	if (n >= 12 && memcmp(h + 4, "ftyp", 4) == 0) {
		const unsigned char *b = h + 8;
		if (!memcmp(b, "avif", 4) || !memcmp(b, "avis", 4))
			return "avif";
		if (!memcmp(b, "heic", 4) || !memcmp(b, "heix", 4) || !memcmp(b, "mif1", 4) || !memcmp(b, "msf1", 4))
			return "heic";
		if (!memcmp(b, "M4A ", 4) || !memcmp(b, "M4B ", 4))
			return "m4a";
		if (!memcmp(b, "qt  ", 4))
			return "mov";
		return "mp4";
	}
	/* BMP: "BM", then the reserved words are zero */
	if (n >= 26 && h[0] == 'B' && h[1] == 'M' && le32(h + 6) == 0 && le32(h + 14) >= 12 && le32(h + 14) <= 124)
		return "bmp";
	/* ICO / CUR: reserved 0, type 1 or 2, 1..255 images */
	if (n >= 22 && h[0] == 0 && h[1] == 0 && (h[2] == 1 || h[2] == 2) && h[3] == 0 &&
	    h[4] > 0 && h[5] == 0 && (h[9] == 0 || h[9] == 255))
		return h[2] == 1 ? "ico" : "cur";
	/* TrueType: version 1.0 and a sane table count; Apple's "true" */
	if (n >= 12 && (memcmp(h, "\0\x01\0\0", 4) == 0 || memcmp(h, "true", 4) == 0) &&
	    be16(h + 4) >= 4 && be16(h + 4) <= 64)
		return "ttf";
	/* Java class (CAFEBABE with a class-file major version) or a Mach-O universal binary */
	if (memcmp(h, "\xca\xfe\xba\xbe", 4) == 0 && n >= 8)
		return be16(h + 6) >= 45 ? "java-class" : "mach-o";
	/* PE: "MZ" and the "PE\0\0" its header points at */
	if (n >= 64 && h[0] == 'M' && h[1] == 'Z') {
		uint32_t pe = le32(h + 60);
		if (pe >= 64 && pe + 4 <= n && memcmp(h + pe, "PE\0\0", 4) == 0)
			return "pe";
		if (name_ends(name, ".exe") || name_ends(name, ".dll"))
			return "pe";
	}
	/* compiled Python: a 2-byte version magic, "\r\n", then (3.7+) a flags word of 0..3 */
	if (n >= 16 && h[2] == '\r' && h[3] == '\n' &&
	    ((h[4] <= 3 && h[5] == 0 && h[6] == 0 && h[7] == 0 && h[1] >= 0x0c && h[1] <= 0x0f) ||
	     name_ends(name, ".pyc") || name_ends(name, ".pyo")))
		return "pyc";
	/* OLE2 compound files: an encrypted OOXML package when its directory names the
	 * "EncryptedPackage" stream (UTF-16LE; Office writes the directory near either end),
	 * else .doc, .xls, .ppt, .msi...: the name says which */
	if (n >= 8 && memcmp(h, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0) {
		static const char *const ole[] = { ".doc", ".xls", ".ppt", ".msi", ".msg", ".vsd" };
		static const char ep[] = "E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";
		if (memmem(h, n, ep, sizeof(ep) - 1) || (t && memmem(t, nt, ep, sizeof(ep) - 1)))
			return "ooxml-encrypted";
		for (size_t i = 0; i < RL_ARRAY_LEN(ole); i++)
			if (name_ends(name, ole[i]))
				return ole[i] + 1;
		return "ole2";
	}
	if (memcmp(h, "PK\x03\x04", 4) == 0 || memcmp(h, "PK\x05\x06", 4) == 0)
		return zip_document(h, n, t, nt);
	/* weak signatures: the name breaks the tie */
	if (h[0] == 0xff && (h[1] & 0xe0) == 0xe0 && name_ends(name, ".mp3"))
		return "mp3";
	if (h[0] == 0x80 && h[1] >= 2 && h[1] <= 5 &&
	    (name_ends(name, ".pickle") || name_ends(name, ".pkl") || name_ends(name, ".doctree")))
		return "pickle";
	if (h[0] == 0x36 && h[1] == 0x04 && (name_ends(name, ".psf") || name_ends(name, ".psfu")))
		return "psf";
	if ((h[0] == '<' || h[0] == 0xef || h[0] == ' ' || h[0] == '\n') && svg_text(h, n))
		return "svg";
	if (name_ends(name, ".svg") && memmem(h, n, "<svg", 4))
		return "svg";
	return NULL;
}

/* ---- mail ---------------------------------------------------------------------------------
 * An RFC 5322 message is told by its first lines: header fields only (or their folded
 * continuations) up to the first blank line, at least two of them ones a mail carries (one
 * suffices when the name ends in ".eml": the name only breaks ties). An mbox starts with a
 * "From " line (sender, then a date) followed by such a header. Both are text, so these
 * checks come after the signature table has said it is nothing ragload ignores. */

static const char *const mail_fields[] = {
	"received", "return-path", "from", "to", "cc", "subject", "date", "message-id",
	"mime-version", "delivered-to", "reply-to", "sender", "in-reply-to", "references",
	"content-type", "content-transfer-encoding", "x-mailer", "user-agent", "bcc",
};

/* Length of a header field's name at the line h/n (followed by ':'), 0 when it is none. */
static size_t mail_field(const unsigned char *h, size_t n)
{
	size_t i = 0;
	while (i < n && h[i] > ' ' && h[i] < 127 && h[i] != ':')
		i++;
	return i && i < n && h[i] == ':' ? i : 0;
}

/* Known header fields in the header block at h (-1: a line that is no header field). */
static int mail_header_fields(const unsigned char *h, size_t n)
{
	int known = 0;
	size_t at = 0, lines = 0;
	while (at < n) {
		const unsigned char *nl = memchr(h + at, '\n', n - at);
		size_t len = nl ? (size_t)(nl - h - at) : n - at, fl;
		if (len && h[at + len - 1] == '\r')
			len--;
		if (!len)
			break;
		if (h[at] == ' ' || h[at] == '\t') {
			if (!lines)
				return -1;
		} else if ((fl = mail_field(h + at, len))) {
			for (size_t i = 0; i < RL_ARRAY_LEN(mail_fields); i++)
				if (fl == strlen(mail_fields[i]) &&
				    strncasecmp((const char *)h + at, mail_fields[i], fl) == 0)
					known++;
		} else if (nl) {  /* a last line cut short by the sniff window is let pass */
			return -1;
		}
		lines++;
		if (!nl)
			break;
		at = (size_t)(nl - h) + 1;
	}
	return known;
}

/* "mbox", "eml" or NULL for the item whose first bytes are h/n (see above). */
static const char *mail_type(const unsigned char *h, size_t n, const char *name)
{
	if (n > READ_SNIFF_BYTES)
		n = READ_SNIFF_BYTES;
	if (n >= 5 && memcmp(h, "From ", 5) == 0) {
		const unsigned char *nl = memchr(h, '\n', n);
		size_t len = nl ? (size_t)(nl - h) : 0, digits = 0;
		for (size_t i = 5; i < len; i++)
			digits += h[i] >= '0' && h[i] <= '9';
		if (!nl || len < 7 || h[5] == ' ' || digits < 4)
			return NULL;
		return mail_header_fields(nl + 1, n - len - 1) >= 1 ? "mbox" : NULL;
	}
	int known = mail_header_fields(h, n);
	return known >= 2 || (known == 1 && name_ends(name, ".eml")) ? "eml" : NULL;
}

static int is_mbox(const char *h, size_t n, const char *name)
{
	const char *t = h ? mail_type((const unsigned char *)h, n, name) : NULL;
	return t && !strcmp(t, "mbox");
}

/*
 * The office and e-book packages normalize reads (stages/office.c): the type read_sniff()
 * named, as a static string, or NULL for a type ragload ignores. An OLE2 file under an OOXML
 * name is an encrypted package (OOXML encryption wraps the zip in OLE2): handed on under its
 * name's type, so that normalize counts it as encrypted instead of it vanishing as ignored;
 * so is a package whose members did not tell its kind (a docx cut short).
 */
static const char *doc_type_read(const char *type, const char *name)
{
	static const char *const read[] = { "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub" };
	for (size_t i = 0; i < RL_ARRAY_LEN(read); i++)
		if (!strcmp(type, read[i]))
			return read[i];
	if (!strcmp(type, "pdf"))  /* read by normalize through stages/pdf.c's worker */
		return "pdf";
	if (!strcmp(type, "rtf"))  /* read by normalize through pandoc (stages/pandoc.c) */
		return "rtf";
	/* the content says "a package" (OLE2: encrypted OOXML; a zip whose members did not say
	 * which, e.g. one cut before its directory): the name says which */
	int encrypted = !strcmp(type, "ooxml-encrypted");
	if (encrypted || !strcmp(type, "ole2") || !strcmp(type, "ooxml") || !strcmp(type, "odf"))
		for (size_t i = 0; i < RL_ARRAY_LEN(read); i++) {
			char suf[8] = ".";
			strcat(suf, read[i]);
			if (name_ends(name, suf))
				return read[i];
		}
	/* encrypted whatever its name: normalize says so (office.c reads its directory) */
	return encrypted ? "ooxml-encrypted" : NULL;
}

/*
 * Counts the item as ignored when its first bytes name a type ragload does not read. head is
 * what is at hand (all of the item when it is short), tail its end when known. Returns
 * RL_SKIP when it was ignored, else 0.
 */
static int sniff_ignore(struct reader *r, const char *key, const char *name,
			const unsigned char *head, size_t n, const unsigned char *tail, size_t nt)
{
	const char *type = read_sniff(head, n, tail, nt, name);

	if (!type)
		return 0;
	if ((r->doc_type = doc_type_read(type, name)))
		return 0;  /* a document normalize extracts: read whole, as one file */
	counts_ignore(r->c, type, key);
	return RL_SKIP;
}

/* ---- [inputs] globs -------------------------------------------------------------------------- */

static void globs_release(struct globs *gs)
{
	free(gs->g);
	free(gs->text);
	memset(gs, 0, sizeof(*gs));
}

static int globs_parse(struct globs *gs, const char *list)
{
	size_t cap = 0;
	char *p;

	memset(gs, 0, sizeof(*gs));
	if (!(gs->text = xstrdup(list ? list : "")))
		return RL_ENOMEM;
	for (p = gs->text; *p; p++)
		cap += *p == ',' || *p == ' ' || *p == '\t';
	gs->g = calloc(cap + 1, sizeof(*gs->g));
	if (!gs->g)
		return RL_ENOMEM;
	for (char *save = NULL, *tok = strtok_r(gs->text, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		struct glob *g = &gs->g[gs->n];
		size_t len = strlen(tok);
		if (len > 1 && tok[len - 1] == '/' && !strchr(tok + (tok[0] == '/'), '/')[1]) {
			/* "name/": a directory anywhere; a leading '/' is taken as the same */
			tok[len - 1] = '\0';
			g->kind = G_DIR;
			g->pat = tok + (tok[0] == '/');
		} else if (!strchr(tok, '/')) {
			g->kind = G_NAME;
			g->pat = tok;
		} else {
			g->kind = G_PATH;
			g->anchored = tok[0] == '/';
			g->pat = tok + g->anchored;
		}
		if (g->pat[0])
			gs->n++;
	}
	return 0;
}

/* Does any directory component of path (all of it when is_dir) match pat? */
static int glob_dir(const char *pat, const char *path, int is_dir)
{
	char comp[1024];

	for (const char *c = path; *c;) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);
		if (!slash && !is_dir)
			return 0;  /* the last component is the file itself */
		if (len < sizeof(comp)) {
			memcpy(comp, c, len);
			comp[len] = '\0';
			if (fnmatch(pat, comp, FNM_PERIOD) == 0)
				return 1;
		}
		if (!slash)
			return 0;
		c = slash + 1;
	}
	return 0;
}

/* path: relative to the input or the archive ("a/b/c.js"); is_dir: path is a directory. */
static int globs_match(const struct globs *gs, const char *path, int is_dir)
{
	const char *base = name_last(path);

	for (size_t i = 0; i < gs->n; i++) {
		const struct glob *g = &gs->g[i];
		switch (g->kind) {
		case G_NAME:
			if (!is_dir && fnmatch(g->pat, base, FNM_PERIOD) == 0)
				return 1;
			break;
		case G_DIR:
			if (glob_dir(g->pat, path, is_dir))
				return 1;
			break;
		case G_PATH:
			if (is_dir)
				break;
			for (const char *s = path; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL) {
				if (fnmatch(g->pat, s, FNM_PATHNAME | FNM_PERIOD) == 0)
					return 1;
				if (g->anchored)
					break;
			}
			break;
		}
	}
	return 0;
}

/*
 * Is this file (or walked directory) left out by the [inputs] globs? A compressed file is
 * judged by its name with and without the compression suffix ("x.js.gz" as "x.js" too).
 * A directory is left out whole only when no include pattern could take something back.
 */
static int excluded(struct reader *r, const char *path, int is_dir)
{
	char *plain = NULL;
	int out;

	if (!r->exclude->n || (is_dir && r->include->n))
		return 0;
	out = globs_match(r->exclude, path, is_dir);
	if (!out && !is_dir && (plain = name_uncompressed(path)) && strcmp(plain, path))
		out = globs_match(r->exclude, plain, 0);
	if (out && !is_dir)
		out = !globs_match(r->include, path, 0) && !(plain && globs_match(r->include, plain, 0));
	free(plain);
	return out;
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

/*
 * Claims key for this run. Returns 0, 1 when an earlier item already had it (counted as a
 * duplicate: each key loads once, and the database would reject or overwrite the second), or
 * RL_ENOMEM.
 */
static int key_claim(struct reader *r, const char *key)
{
	int rc = idset_add(r->keys, key, strlen(key));

	if (rc == 1)
		skip(r, "duplicate_entry", key,
			    "an earlier item of this run has the same source key; this one is not loaded");
	return rc;
}

/*
 * Mail attachments. An attached file (mail.h says which parts are) is read like an archive
 * member one nesting level below its message: key "<message key>!<file name>", judged by
 * content through the same path as any file (read_sniff(): a document, an archive to walk,
 * an image to count as ignored...), bounded by max_entry_bytes and max_nesting, left out by
 * the [inputs] globs on its file name. Every item read from it carries metadata naming the
 * message ("attachment": {"message", "name", "content_type", "bytes"}). The decoded bytes of
 * all attachments of one message together are at most the message's own bytes.
 */
struct attached_file {
	char *name, *type, *data;
	size_t len;
};

struct attachments {
	struct attached_file *v;
	size_t n, cap;
};

static void attachments_release(struct attachments *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].type);
		free(a->v[i].data);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static int att_text(void *ctx, const char *s, size_t n, const char *charset, enum mail_kind kind)
{
	(void)ctx, (void)s, (void)n, (void)charset, (void)kind;
	return 0;
}

static int att_file(void *ctx, const char *name, const char *type, const char *s, size_t n)
{
	struct attachments *a = ctx;
	struct attached_file *f;
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4;
		struct attached_file *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return RL_ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	f = &a->v[a->n];
	f->name = xstrdup(name);
	f->type = xstrdup(type);
	f->data = malloc(n + 1);
	if (!f->name || !f->type || !f->data) {
		free(f->name);
		free(f->type);
		free(f->data);
		return RL_ENOMEM;
	}
	if (n)
		memcpy(f->data, s, n);
	f->data[n] = '\0';
	f->len = n;
	a->n++;
	return 0;
}

static int attachments_collect(const char *data, size_t len, struct attachments *a)
{
	static const struct mail_sink sink = { .text = att_text, .attachment = att_file };
	struct mail_info info;
	int rc = mail_parse(data ? data : "", len, &sink, a, &info);
	mail_info_release(&info);
	return rc > 0 ? 0 : rc;
}

/* A name for an attachment that has none, from its type (content decides what it is). */
static const char *attachment_suffix(const char *type)
{
	return !strcmp(type, "message/rfc822") ? ".eml" : !strcmp(type, "text/html") ? ".html"
	     : !strcmp(type, "text/markdown") || !strcmp(type, "text/x-markdown") ? ".md"
	     : !strncmp(type, "text/", 5) ? ".txt" : "";
}

/* Signatures, keys and Outlook's TNEF wrapper travel as attachments but are no documents:
 * counted as ignored like an image, by their declared type (a PGP signature is ASCII text
 * that content alone would load). */
static int mail_signature(const char *type)
{
	static const char *const t[] = {
		"application/pgp-signature", "application/pgp-keys", "application/pkcs7-signature",
		"application/x-pkcs7-signature", "application/ms-tnef", "application/vnd.ms-tnef",
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(t); i++)
		if (!strcmp(type, t[i]))
			return 1;
	return 0;
}

static int container_read(struct reader *r, struct container *k);

static int attachments_read(struct reader *r, const struct place *msg, struct attachments *a)
{
	int max = r->o->max_nesting > 0 ? r->o->max_nesting : 0;
	uint64_t max_bytes = r->o->max_entry_bytes;
	const char *outer = r->attached;
	int rc = 0;

	for (size_t i = 0; !rc && i < a->n; i++) {
		struct attached_file *f = &a->v[i];
		char unnamed[48], *path = NULL, *key = NULL, *meta = NULL;
		json_t *m = NULL;
		snprintf(unnamed, sizeof(unnamed), "attachment-%zu%s", i + 1, attachment_suffix(f->type));
		/* a name is text to key_clean(), never a path to follow: "../x" stays as written */
		path = f->name[0] ? key_clean(f->name) : xstrdup(unnamed);
		key = path ? key_join(msg->key, '!', path) : NULL;
		m = json_pack("{s:{s:s,s:s,s:s,s:I}}", "attachment", "message", msg->key,
			      "name", f->name, "content_type", f->type, "bytes", (json_int_t)f->len);
		meta = m ? json_dumps(m, JSON_COMPACT) : NULL;
		if (!key || !meta) {
			rc = RL_ENOMEM;
		} else if (excluded(r, path, 0)) {
			counts_ignore(r->c, "excluded", key);
		} else if (mail_signature(f->type)) {
			counts_ignore(r->c, "signature", key);
		} else if (msg->depth + 1 > max) {
			skip(r, "nesting", key, "mail attachment nested deeper than max_nesting (%d)", max);
		} else if (max_bytes && f->len > max_bytes) {
			skip(r, "entry_too_large", key, "attachment of %zu bytes, more than max_entry_bytes (%llu)",
			     f->len, (unsigned long long)max_bytes);
		} else {
			struct container k = { .key = key, .name = name_last(path), .mtime = msg->mtime,
					       .depth = msg->depth + 1, .fd = -1, .mem = f->data,
					       .len = f->len };
			f->data = NULL;
			r->attached = meta;
			rc = container_read(r, &k);
			r->attached = outer;
			free(k.mem);
		}
		json_decref(m);
		free(meta);
		free(key);
		free(path);
	}
	return rc;
}

/*
 * Takes ownership of data (malloc'd, data[len] == 0). A duplicate key is counted, not an error.
 * type: the document type when the caller knows it, else judged here by content.
 */
static int file_emit_typed(struct reader *r, const struct place *at, char *data, size_t len,
			   const char *type)
{
	struct read_item *it = NULL;
	int rc = key_claim(r, at->key);

	if (rc) {
		free(data);
		return rc == 1 ? 0 : rc;
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		free(data);
		return RL_ENOMEM;
	}
	it->kind = READ_FILE;
	if (r->doc_type) {  /* an office document or e-book told by read_sniff() */
		it->type = r->doc_type;
		r->doc_type = NULL;
	} else {
		it->type = type ? type : mail_type((const unsigned char *)data, len, at->name);
		if (it->type && strcmp(it->type, "eml"))
			it->type = NULL;  /* an mbox held whole (read as one text) is split only while streaming */
	}
	it->data = data;
	it->len = len;
	it->raw_bytes = len;
	it->mtime = at->mtime;
	it->source = xstrdup(at->key);
	it->input = xstrdup(r->input);
	it->name = xstrdup(at->name);
	if (!it->source || !it->input || !it->name ||
	    (r->attached && !(it->metadata_json = xstrdup(r->attached)))) {
		read_item_free(it);
		return RL_ENOMEM;
	}
	if (!it->type || strcmp(it->type, "eml"))
		return item_emit(r, it);
	/* a message: its attachments are taken out before the item (and its bytes) is handed
	 * on, and read after it, as nested entries */
	struct attachments att = { 0 };
	if ((rc = attachments_collect(data, len, &att)) == 0 && (rc = item_emit(r, it)) == 0)
		rc = attachments_read(r, at, &att);
	else if (rc != R_ABORT)
		read_item_free(it);
	attachments_release(&att);
	return rc;
}

static int file_emit(struct reader *r, const struct place *at, char *data, size_t len)
{
	return file_emit_typed(r, at, data, len, NULL);
}

/* ---- streaming with limits ----------------------------------------------------------------- */

/* ARCHIVE_RETRY sorts above ARCHIVE_WARN: a damaged tar header must not pass for a warning. */
static int la_failed(int rc)
{
	return rc != ARCHIVE_OK && rc != ARCHIVE_WARN;
}

/*
 * Counts damage to an archive (container: its key; what: the entry or header it hit): what
 * was read before it stays emitted, the run goes on. The reason follows libarchive's message:
 * a compression method or feature it lacks is unsupported_format, missing keys are encrypted.
 */
static void archive_damage(struct reader *r, struct archive *a, const char *container,
			   const char *what)
{
	const char *err = archive_error_string(a);
	const char *reason = "corrupt_archive";

	if (!err)
		err = "truncated or damaged (libarchive gives no detail)";
	if (strstr(err, "nsupported") || strstr(err, "not supported"))
		reason = "unsupported_format";
	else if (strstr(err, "ncrypt") || strstr(err, "assphrase"))
		reason = "encrypted";
	skip(r, reason, container, "%s: %s (at byte offset %lld)", what, err,
		    (long long)archive_filter_bytes(a, -1));
}

/*
 * Checks the limits after n more bytes came out of level lv (NULL: a plain file). Returns 0,
 * R_STOP (the file on disk is abandoned) or R_BROKEN (lv, an archive inside an archive, is).
 */
static int limits_check(struct reader *r, struct level *lv, const char *key)
{
	const struct read_opts *o = r->o;

	if (o->max_total_bytes && r->expanded > o->max_total_bytes) {
		skip(r, "input_too_large", r->file_key,
			    "stopped at %s: more than max_total_bytes (%llu) expanded", key,
			    (unsigned long long)o->max_total_bytes);
		return R_STOP;
	}
	if (lv && o->max_ratio && lv->expanded > (lv->depth ? NESTED_RATIO_FLOOR : RATIO_FLOOR)) {
		int64_t raw = archive_filter_bytes(lv->a, -1);
		if (raw > 0 && (uint64_t)raw <= UINT64_MAX / o->max_ratio &&
		    lv->expanded > o->max_ratio * (uint64_t)raw) {
			skip(r, "compression_ratio", lv->key,
				    "%s at %s: %llu bytes expanded from %lld, ratio above max_ratio (%llu)",
				    lv->depth ? "refused" : "stopped", key,
				    (unsigned long long)lv->expanded, (long long)raw,
				    (unsigned long long)o->max_ratio);
			return lv->depth ? R_BROKEN : R_STOP;
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
			skip(r, "unreadable", s->key, "read: %s", strerror(errno));
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
		if (s->lv)
			s->lv->expanded += (uint64_t)n;
		int rc = limits_check(r, s->lv, s->key);
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
		skip(r, "entry_too_large", at->key, "declares %llu bytes, more than max_entry_bytes (%llu)",
			    (unsigned long long)declared, (unsigned long long)r->o->max_entry_bytes);
	else
		skip(r, "entry_too_large", at->key, "more than max_entry_bytes (%llu)",
			    (unsigned long long)r->o->max_entry_bytes);
}

/*
 * Reads the whole item into one malloc'd buffer (*out[*len] == 0). Returns 0, RL_SKIP when it
 * is larger than max_entry_bytes (counted, the rest left unread) or, with sniff, when its
 * first bytes name a type ragload ignores (counted with counts_ignore, the rest left unread:
 * a video in a tar is judged by its first block, not held whole), or a negative code. Growth
 * is clamped to the limit so that memory never exceeds it.
 */
static int data_collect(struct reader *r, struct stream *s, const struct place *at, int sniff,
			const char *first, ssize_t n_first, char **out, size_t *out_len)
{
	uint64_t max = r->o->max_entry_bytes ? r->o->max_entry_bytes : SIZE_MAX / 2;
	int big = at->size >= 0 && (uint64_t)at->size > max;
	size_t cap, len = 0;
	char *data = NULL;
	const char *p;
	ssize_t n;
	int rc = 0;

	if (sniff)
		r->doc_type = NULL;
	if (big && !sniff) {
		too_large(r, at, (uint64_t)at->size);
		return RL_SKIP;
	}
	cap = at->size >= 0 && !big ? (size_t)at->size + 1 : READ_CHUNK + 1;
	data = malloc(cap);
	if (!data)
		return RL_ENOMEM;
	/* first: a piece the caller already took from the stream (n_first bytes) */
	for (p = first, n = first ? n_first : stream_read(r, s, &p); n > 0;
	     n = stream_read(r, s, &p)) {
		if ((uint64_t)len + (uint64_t)n > max) {
			if (!sniff || !(rc = sniff_ignore(r, at->key, at->name, (unsigned char *)data,
							  len, NULL, 0)))
				too_large(r, at, big ? (uint64_t)at->size : 0);
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
		if (sniff && len >= READ_SNIFF_BYTES) {
			/* a zip's members (and an OLE2 file's directory) may only be known at its
			 * end: judged again there */
			sniff = (len >= 2 && data[0] == 'P' && data[1] == 'K') ||
				(len >= 8 && memcmp(data, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0);
			if ((rc = sniff_ignore(r, at->key, at->name, (unsigned char *)data, len, NULL, 0)))
				goto out;
			if (big) {
				too_large(r, at, (uint64_t)at->size);
				rc = RL_SKIP;
				goto out;
			}
		}
	}
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (sniff && (rc = sniff_ignore(r, at->key, at->name, (unsigned char *)data, len,
					(unsigned char *)data, len)))
		goto out;
	data[len] = '\0';
	*out = data;
	*out_len = len;
	data = NULL;
out:
	free(data);
	return rc;
}

/* ---- JSONL collections --------------------------------------------------------------------- */

struct jsonl {
	struct reader *r;
	const struct place *at;
	struct buf line;
	struct buf fixed;        /* the line with invalid UTF-8 replaced, when it needs that */
	uint64_t lineno;         /* 1-based number of the line being gathered */
	uint64_t line_start;     /* its byte offset in the collection */
	uint64_t pos;            /* bytes of the collection seen so far */
	int discarding;          /* the current line is too long: drop bytes up to its newline */
	int unterminated;        /* the line being parsed is the last one and has no newline */
	size_t surrogates;       /* repairs made to the line being parsed */
	size_t invalid;
	struct idset ids;
};

static void bad_line(struct jsonl *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bad_line(struct jsonl *j, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	skip(j->r, "bad_jsonl_line", j->at->key, "line %llu: %s (line at byte offset %llu)",
		    (unsigned long long)j->lineno, msg, (unsigned long long)j->line_start);
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Rewrites each unpaired surrogate escape ("\ud800" not followed by a low one, a lone "\udc00")
 * as "\ufffd", in place (same length): jansson refuses the whole line otherwise, and one bad
 * escape should cost a character, not a document. Backslashes only occur inside strings in
 * JSON that parses at all, so escapes are recognised without tracking strings. Returns the
 * number of escapes rewritten.
 */
static size_t json_fix_surrogates(char *p, size_t n)
{
	size_t fixed = 0;

	for (size_t i = 0; i + 1 < n;) {
		if (p[i] != '\\') {
			i++;
			continue;
		}
		if (p[i + 1] != 'u' || i + 6 > n) {
			i += 2;
			continue;
		}
		int v = hex4(p + i + 2);
		if (v >= 0xD800 && v <= 0xDBFF && i + 12 <= n && p[i + 6] == '\\' &&
		    p[i + 7] == 'u') {
			int lo = hex4(p + i + 8);
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				i += 12;
				continue;
			}
		}
		if (v >= 0xD800 && v <= 0xDFFF) {
			memcpy(p + i + 2, "fffd", 4);
			fixed++;
		}
		i += 6;
	}
	return fixed;
}

/*
 * Rewrites each \u0000 escape inside an object key as \ufffd, in place: jansson takes NULs in
 * values (dropped later) but refuses a line with one in a key. A string is a key when the next
 * thing after it is ':'.
 */
static void json_escape_nul_keys(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '"')
			continue;
		size_t start = ++i;
		while (i < n && p[i] != '"')
			i += p[i] == '\\' ? 2 : 1;
		if (i >= n)
			return;
		size_t end = i, k = i + 1;
		while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r' || p[k] == '\n'))
			k++;
		if (k >= n || p[k] != ':')
			continue;
		for (size_t j = start; j + 6 <= end;) {
			if (p[j] != '\\') {
				j++;
			} else if (p[j + 1] == 'u' && hex4(p + j + 2) == 0) {
				memcpy(p + j + 2, "fffd", 4);
				j += 6;
			} else {
				j += 2;
			}
		}
	}
}

/* The line with each invalid UTF-8 byte replaced by U+FFFD into j->fixed; *bad gets their
 * number. Returns 0 or RL_ENOMEM / RL_ELIMIT. */
static int jsonl_repair(struct jsonl *j, const char *p, size_t n, size_t *bad)
{
	size_t from = 0;
	int rc = 0;

	buf_reset(&j->fixed);
	for (size_t i = 0; i < n && !rc;) {
		size_t k = utf8_seq((const unsigned char *)p + i, n - i);
		if (k) {
			i += k;
			continue;
		}
		rc = buf_append(&j->fixed, p + from, i - from);
		if (!rc)
			rc = buf_append(&j->fixed, "\xef\xbf\xbd", 3);
		(*bad)++;
		from = ++i;
	}
	if (!rc)
		rc = buf_append(&j->fixed, p + from, n - from);
	return rc;
}

/* Drops NULs (from \u0000) out of every string in v: PostgreSQL's text and jsonb refuse them.
 * Recursion is bounded by jansson's own nesting limit. */
static int json_drop_nuls(json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v), o = 0;
		if (!memchr(s, '\0', n))
			return 0;
		char *t = malloc(n + 1);
		if (!t)
			return RL_ENOMEM;
		for (size_t k = 0; k < n; k++)
			if (s[k])
				t[o++] = s[k];
		int rc = json_string_setn(v, t, o) ? RL_ENOMEM : 0;
		free(t);
		return rc;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			if (json_drop_nuls(child))
				return RL_ENOMEM;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if (json_drop_nuls(child))
				return RL_ENOMEM;
	}
	return 0;
}

/* Builds the row: "text" is the document, "title" its title, the rest metadata plus "_id". */
static int row_build(struct jsonl *j, json_t *root, const char *id, size_t id_len,
		     const char *id_key, json_t *text, size_t line_len, struct read_item **out)
{
	struct read_item *it = calloc(1, sizeof(*it));
	json_t *title = json_object_get(root, "title");
	json_t *meta = json_object_get(root, "metadata");
	json_t *m = json_object();
	size_t n = json_string_length(text);
	int rc = RL_ENOMEM;

	if (!it || !m)
		goto out;
	it->kind = READ_ROW;
	it->mtime = j->at->mtime;
	it->raw_bytes = line_len + 1;
	it->len = n;
	it->data = malloc(n + 1);
	it->source = key_join(j->at->key, '#', id_key);
	it->input = xstrdup(j->r->input);
	it->name = xstrdup(j->at->name);
	if (!it->data || !it->source || !it->input || !it->name)
		goto out;
	memcpy(it->data, json_string_value(text), n);
	it->data[n] = '\0';
	if (json_is_string(title) && json_string_length(title) > 0) {
		/* a C string: whatever follows a \u0000 would be lost, so NULs go instead */
		const char *t = json_string_value(title);
		size_t tn = json_string_length(title), o = 0;
		if (!(it->title = malloc(tn + 1)))
			goto out;
		for (size_t k = 0; k < tn; k++)
			if (t[k])
				it->title[o++] = t[k];
		it->title[o] = '\0';
	}
	/* A non-object "metadata" is kept whole rather than dropped. */
	if (json_is_object(meta) ? json_object_update(m, meta) != 0
				 : (meta && !json_is_null(meta) && json_object_set(m, "metadata", meta) != 0))
		goto out;
	if (json_drop_nuls(m))
		goto out;
	if (json_object_set_new(m, "_id", json_stringn(id, id_len)) != 0)
		goto out;
	if (j->surrogates &&
	    json_object_set_new(m, "unpaired_surrogates", json_integer((json_int_t)j->surrogates)))
		goto out;
	if (j->invalid && json_object_set_new(m, "invalid_utf8", json_integer((json_int_t)j->invalid)))
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
	return rc;
}

static int jsonl_line(struct jsonl *j)
{
	char *p = j->line.data ? j->line.data : "";
	size_t n = j->line.len;
	json_t *root = NULL, *jid, *text;
	json_error_t err;
	char numid[32];
	const char *id;
	char *id_key = NULL;
	size_t id_len;
	struct read_item *it = NULL;
	int rc = 0;

	j->surrogates = j->invalid = 0;
	if (j->lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	if (strspn(p, " \t\r") == n)
		goto out;  /* blank line; strspn stops at an embedded NUL, which is not blank */
	j->surrogates = json_fix_surrogates(p, n);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)p + i, n - i);
		if (!k) {
			rc = jsonl_repair(j, p, n, &j->invalid);
			if (rc)
				goto out;
			p = j->fixed.data;
			n = j->fixed.len;
			break;
		}
		i += k;
	}
	root = json_loadb(p, n, JSON_ALLOW_NUL, &err);
	if (!root && json_error_code(&err) == json_error_null_byte_in_key) {
		/* jansson allows \u0000 in values only: in a key it becomes U+FFFD, then retry */
		json_escape_nul_keys(p, n);
		root = json_loadb(p, n, JSON_ALLOW_NUL, &err);
	}
	if (!root) {
		if (j->unterminated)
			bad_line(j, "invalid JSON: the input ends inside this line, cut short (%s)",
				 err.text);
		else
			bad_line(j, "invalid JSON: %s, at byte %d of the line", err.text, err.position);
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
		bad_line(j, "%s", jid ? "\"_id\" is not a string or an integer" : "missing \"_id\"");
		goto out;
	}
	if (id_len == 0 || memchr(id, '\0', id_len)) {
		bad_line(j, "\"_id\" is empty or holds a NUL");
		goto out;
	}
	text = json_object_get(root, "text");
	if (!json_is_string(text)) {
		bad_line(j, "%s", text ? "\"text\" is not a string" : "missing \"text\"");
		goto out;
	}
	/* the key's form of the id (controls as '?'), so that two ids never share a key */
	if (!(id_key = key_clean(id))) {
		rc = RL_ENOMEM;
		goto out;
	}
	rc = idset_add(&j->ids, id_key, strlen(id_key));
	if (rc == 1) {
		skip(j->r, "duplicate_id", j->at->key,
			    "line %llu: duplicate _id \"%s\" (line at byte offset %llu)",
			    (unsigned long long)j->lineno, id_key, (unsigned long long)j->line_start);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	rc = row_build(j, root, id, id_len, id_key, text, j->line.len, &it);
	if (rc)
		goto out;
	rc = item_emit(j->r, it);
out:
	free(id_key);
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
				skip(j->r, "line_too_long", j->at->key,
					    "line %llu: longer than max_line_bytes (%llu) (line at byte offset %llu)",
					    (unsigned long long)j->lineno, (unsigned long long)max,
					    (unsigned long long)j->line_start);
				j->discarding = 1;
				buf_reset(&j->line);
			} else if ((rc = buf_append(&j->line, p, take))) {
				return rc;
			}
		}
		j->pos += take;
		if (nl) {
			if (!j->discarding)
				rc = jsonl_line(j);
			buf_reset(&j->line);
			j->discarding = 0;
			j->lineno++;
			j->line_start = ++j->pos;
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
	uint64_t max = r->o->max_line_bytes;
	const char *p;
	ssize_t n;
	int rc = key_claim(r, at->key);

	if (rc)
		return rc == 1 ? RL_SKIP : rc;  /* a duplicate collection: counted, not read */
	/* hard limits: one line, and its repaired copy (U+FFFD is 3 bytes for each bad one) */
	buf_init(&j.line, max && max < SIZE_MAX / 4 ? (size_t)max : 0);
	buf_init(&j.fixed, max && max < SIZE_MAX / 4 ? 3 * (size_t)max + 16 : 0);
	while ((n = stream_read(r, s, &p)) > 0)
		if ((rc = jsonl_feed(&j, p, (size_t)n)))
			goto out;
	if (n < 0) {
		/* damage already counted; the partial line it cut is not a second problem */
		rc = (int)n;
		goto out;
	}
	/* a last line without newline counts; one cut short fails to parse and is counted */
	if (j.line.len && !j.discarding) {
		j.unterminated = 1;
		rc = jsonl_line(&j);
	}
out:
	buf_release(&j.line);
	buf_release(&j.fixed);
	idset_release(&j.ids);
	return rc;
}

/* ---- mbox ---------------------------------------------------------------------------------- */

/*
 * An mbox streams through line by line: a line starting "From " after a blank line (or the
 * first line) starts a message; ">From ", ">>From "... lose one '>' (mboxrd; mboxo's escapes
 * read the same). Only the message being gathered is held, bounded by max_entry_bytes; a
 * larger one is counted (entry_too_large) and passed over up to the next separator.
 */
#define MBOX_FROM_LINE 1024      /* a longer "From " line is no separator: bounded anyway */

struct mbox {
	struct reader *r;
	const struct place *at;
	struct buf msg;          /* the current message, its From_ line left out */
	uint64_t number;         /* its 1-based number, 0 before the first */
	uint64_t offset;         /* byte offset of its From_ line */
	uint64_t pos;            /* bytes consumed */
	size_t line_start;       /* where the current line starts in msg */
	unsigned char head[24];  /* the current line's first bytes */
	size_t line_len;         /* its length so far */
	int prev_blank;          /* the line before was blank (or there was none) */
	int discarding;          /* the current message is over the limit */
};

static int mbox_message(struct mbox *m)
{
	char key_suffix[32];
	char *key, *data;
	size_t len = m->msg.len;
	int rc;

	if (!m->number || m->discarding)
		return 0;
	/* the blank line before the next From_ line belongs to the separator */
	if (len && m->msg.data[len - 1] == '\n')
		len--;
	if (len && m->msg.data[len - 1] == '\r')
		len--;
	snprintf(key_suffix, sizeof(key_suffix), "%llu", (unsigned long long)m->number);
	if (!(key = key_join(m->at->key, '#', key_suffix)))
		return RL_ENOMEM;
	if (!(data = malloc(len + 1))) {
		free(key);
		return RL_ENOMEM;
	}
	if (len)
		memcpy(data, m->msg.data, len);
	data[len] = '\0';
	struct place p = *m->at;
	p.key = key;
	p.size = (int64_t)len;
	rc = file_emit_typed(m->r, &p, data, len, "eml");
	free(key);
	return rc;
}

/* A whole line was gathered (its '\n' included in msg unless discarding). */
static int mbox_line_end(struct mbox *m)
{
	size_t hl = m->line_len < sizeof(m->head) ? m->line_len : sizeof(m->head);
	int blank = m->line_len == 0 || (m->line_len == 1 && m->head[0] == '\r');
	int rc = 0;

	if (m->prev_blank && hl >= 5 && m->line_len <= MBOX_FROM_LINE &&
	    memcmp(m->head, "From ", 5) == 0) {
		if (!m->discarding)
			m->msg.len = m->line_start;
		rc = mbox_message(m);
		buf_reset(&m->msg);
		m->number++;
		m->offset = m->pos - m->line_len - 1;
		m->discarding = 0;
	} else if (!m->discarding && m->head[0] == '>') {
		size_t k = 1;
		while (k < hl && m->head[k] == '>')
			k++;
		if (k + 5 <= hl && memcmp(m->head + k, "From ", 5) == 0) {
			char *line = m->msg.data + m->line_start;
			memmove(line, line + 1, m->msg.len - m->line_start - 1);
			m->msg.len--;
			m->msg.data[m->msg.len] = '\0';
		}
	}
	m->prev_blank = blank;
	m->line_len = 0;
	m->line_start = m->msg.len;
	return rc;
}

static int mbox_feed(struct mbox *m, const char *p, size_t n)
{
	uint64_t max = m->r->o->max_entry_bytes ? m->r->o->max_entry_bytes : SIZE_MAX / 2;
	int rc = 0;

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;

		for (size_t i = 0; m->line_len + i < sizeof(m->head) && i < take; i++)
			m->head[m->line_len + i] = (unsigned char)p[i];
		if (!m->discarding && (uint64_t)m->msg.len + take > max) {
			/* a From_ line itself never counts against the message before it */
			int sep = m->prev_blank && m->line_len + take >= 5 &&
				  m->line_len + take <= MBOX_FROM_LINE && memcmp(m->head, "From ", 5) == 0;
			if (!sep) {
				char num[32];
				snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)(m->number ? m->number : 1));
				char *key = key_join(m->at->key, '#', num);
				skip(m->r, "entry_too_large", key ? key : m->at->key,
				     "message at byte offset %llu: more than max_entry_bytes (%llu)",
				     (unsigned long long)m->offset, (unsigned long long)max);
				free(key);
				m->discarding = 1;
				buf_reset(&m->msg);
				m->line_start = 0;
			}
		}
		if (!m->discarding && (rc = buf_append(&m->msg, p, take)))
			return rc;
		m->line_len += take - (nl ? 1 : 0);
		m->pos += take;
		if (nl && (rc = mbox_line_end(m)))
			return rc;
		p += take;
		n -= take;
	}
	return 0;
}

/* first/n: the stream's first piece, already read. */
static int mbox_read(struct reader *r, struct stream *s, const struct place *at,
		     const char *first, ssize_t n)
{
	struct mbox m = { .r = r, .at = at, .prev_blank = 1 };
	const char *p = first;
	int rc = key_claim(r, at->key);

	if (rc)
		return rc == 1 ? RL_SKIP : rc;  /* a duplicate mbox: counted, not read */
	buf_init(&m.msg, 0);
	for (; n > 0; n = stream_read(r, s, &p))
		if ((rc = mbox_feed(&m, p, (size_t)n)))
			goto out;
	if (n < 0) {
		/* damage already counted; the message it cut is still loaded */
		rc = mbox_message(&m);
		if (!rc)
			rc = (int)n;
		goto out;
	}
	rc = mbox_message(&m);
out:
	buf_release(&m.msg);
	return rc;
}

/* ---- files, entries and containers --------------------------------------------------------- */

static int container_read(struct reader *r, struct container *k);

static int file_read(struct reader *r, struct stream *s, const struct place *at)
{
	char *data;
	size_t len;
	const char *p;
	ssize_t n = stream_read(r, s, &p);
	int rc;

	if (n < 0)
		return (int)n;
	/* an mbox is split while it streams: it is never held whole */
	if (n > 0 && is_mbox(p, (size_t)n, at->name))
		return mbox_read(r, s, at, p, n);
	/* a file on disk or in memory was judged as a container already; an archive member or
	 * what a compression filter holds is judged here */
	rc = data_collect(r, s, at, s->a != NULL, n ? p : NULL, n, &data, &len);
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
		skip(r, "nesting", at->key, "archive nested deeper than max_nesting (%d)", max);
		return RL_SKIP;
	}
	rc = data_collect(r, s, at, 0, NULL, 0, &k.mem, &k.len);
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

/*
 * Hard links load their data once (see the design note). Returns the message for an entry that
 * is only a link ("" for one skipped without a word), NULL for one that is read as a file.
 */
static const char *entry_link(struct reader *r, struct archive *a, struct archive_entry *e,
			      const struct container *k, char *msg, size_t msglen)
{
	const char *target = archive_entry_hardlink(e);
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	int format = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;

	if (archive_entry_filetype(e) == AE_IFLNK) {
		const char *to = archive_entry_symlink(e);
		char *clean = key_clean(to ? to : "?");
		snprintf(msg, msglen, "symbolic link to \"%s\", not followed", clean ? clean : "?");
		free(clean);
		return msg;
	}
	if (target) {
		char *tpath = path_key(target), *tkey = tpath ? key_join(k->key, '!', tpath) : NULL;
		int seen = tkey && idset_has(r->keys, tkey, strlen(tkey));
		snprintf(msg, msglen, "hard link to \"%s\", whose data is read under its own name",
			 tpath ? tpath : "?");
		free(tkey);
		free(tpath);
		/* with data, and the target not read before: this name carries the group's data */
		return size > 0 && !seen ? NULL : msg;
	}
	if (format == ARCHIVE_FORMAT_CPIO && size == 0 && archive_entry_nlink(e) > 1 &&
	    (archive_format(a) == ARCHIVE_FORMAT_CPIO_SVR4_NOCRC ||
	     archive_format(a) == ARCHIVE_FORMAT_CPIO_SVR4_CRC))
		return "";  /* silent: the group's data comes, once, with its last name */
	return NULL;
}

static int entry_read(struct reader *r, struct archive *a, struct archive_entry *e,
		      const struct container *k, struct level *lv)
{
	char *path = entry_path(e);
	char *key = path ? key_join(k->key, '!', path) : NULL;
	struct stream s = { .a = a, .fd = -1, .key = key, .container = k->key, .entry = path,
			    .lv = lv };
	mode_t type = archive_entry_filetype(e);
	const char *link;
	char msg[600];
	int rc = 0;

	if (!key) {
		rc = RL_ENOMEM;
		goto out;
	}
	if (type == AE_IFDIR)
		goto out;
	link = type == AE_IFLNK || type == AE_IFREG || type == 0
		       ? entry_link(r, a, e, k, msg, sizeof(msg)) : NULL;
	if (link) {
		/* a symlink is not followed; a hard link's data is read under its target's name */
		if (*link)
			counts_ignore(r->c, type == AE_IFLNK ? "symlink" : "hardlink", key);
	} else if ((type == AE_IFREG || type == 0) && excluded(r, path, 0)) {
		counts_ignore(r->c, "excluded", key);
	} else if (type != AE_IFREG && type != 0) {
		skip(r, "special_file", key, "not a regular file (%s)",
			    type == AE_IFIFO ? "FIFO" : type == AE_IFCHR ? "character device"
			    : type == AE_IFBLK ? "block device" : type == AE_IFSOCK ? "socket" : "other");
	} else if (archive_entry_is_data_encrypted(e)) {
		/* the data cannot be decoded, so there is nothing a limit could see */
		skip(r, "encrypted", key, "encrypted entry");
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
			const struct container *k, struct level *lv)
{
	char *prev = NULL;
	int h, rc;

	for (;;) {
		rc = entry_read(r, a, e, k, lv);
		if (rc == R_BROKEN) {
			rc = 0;  /* counted; nothing after the damage can be trusted */
			lv->damaged = 1;
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
			lv->damaged = 1;
			break;
		}
	}
	free(prev);
	return rc;
}

/* A compressed single file: the file inside keeps the key, loses the suffix from its name. */
static int single_read(struct reader *r, struct archive *a, const struct container *k,
		       struct level *lv)
{
	char *name = name_uncompressed(k->name);
	struct place at = { .key = k->key, .name = name, .mtime = k->mtime, .size = -1,
			    .depth = k->depth };
	struct stream s = { .a = a, .fd = -1, .key = k->key, .container = k->key, .entry = name,
			    .lv = lv };
	int rc;

	if (!name)
		return RL_ENOMEM;
	rc = item_read(r, &s, &at);
	free(name);
	if (rc == R_BROKEN || rc == R_FAILED)
		lv->damaged = 1;
	return rc == R_BROKEN || rc == R_FAILED || rc == RL_SKIP ? 0 : rc;
}

/* Not an archive: a file on disk is read again with read(), memory is handed over. */
static int plain_read(struct reader *r, struct container *k, int64_t size)
{
	struct place at = { .key = k->key, .name = k->name, .mtime = k->mtime, .size = size,
			    .depth = k->depth };
	struct stream s = { .fd = k->fd, .key = k->key, .container = k->key, .entry = k->name };
	int rc;

	if (k->fd < 0 && !name_is_collection(k->name) &&
	    !is_mbox(k->mem, k->len, k->name)) {
		rc = file_emit(r, &at, k->mem, k->len);
		k->mem = NULL;
		return rc;
	}
	if (k->fd < 0) {
		s.mem = k->mem;
		s.mem_len = k->len;
	} else if (lseek(k->fd, 0, SEEK_SET) < 0) {
		skip(r, "unreadable", k->key, "seek: %s", strerror(errno));
		return 0;
	}
	rc = item_read(r, &s, &at);
	return rc == RL_SKIP ? 0 : rc;
}

/* A reader for every format (raw_only: the compression filters and the raw format only). */
static struct archive *archive_new_reader(int raw_only)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	/* the built-in decompressors only: no uu, no external programs (see the design note) */
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_compress(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_rpm(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	if (raw_only) {
		archive_read_support_format_raw(a);
		return a;
	}
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
 * libarchive's tar reader takes a stream that starts with zero blocks for an empty tar, so a
 * compressed file of zeros ("zeros.txt.zst", a classic bomb) or a plain file of them would
 * pass for an empty archive, unread and unreported. An "empty archive" whose name does not
 * say tar is therefore read again as what its name says: a compressed single file or a plain
 * file, which the limits and normalize then judge.
 */
static int empty_tar_suspect(struct archive *a, const struct container *k)
{
	char *plain;
	int suspect;

	if ((archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_TAR)
		return 0;
	plain = name_uncompressed(k->name);
	suspect = plain && !name_is_container(plain);
	free(plain);
	return suspect;
}

/*
 * libarchive reads gzip's trailer but never compares its CRC-32 and length with the data, so
 * a stream damaged in a way that still inflates (a flipped byte inside a stored or literal
 * run) passes unseen, unlike zstd, xz and bzip2, whose checks libarchive's decoders apply. A
 * container whose only filter is gzip and that was read to its end without a word is therefore
 * inflated once more by zlib, which checks every member's trailer. Its entries are already
 * emitted by then (a gzip check can only come at the end), so the message says they may hold
 * damaged data. Output is bounded: past twice what the archive yielded plus 16 MB (data after
 * a tar's end that libarchive never needed), the rest is left unchecked, so a bomb hidden
 * behind the end of an archive costs no more than the archive itself.
 */
static int gzip_only(struct archive *a)
{
	return archive_filter_count(a) == 2 && archive_filter_code(a, 0) == ARCHIVE_FILTER_GZIP;
}

static void gzip_check(struct reader *r, const struct container *k, const struct level *lv)
{
	const uint64_t limit = 2 * lv->expanded + ((uint64_t)16 << 20);
	unsigned char *in = NULL, *out = NULL;
	uint64_t in_off = 0, produced = 0;
	const char *bad = NULL;
	z_stream z;
	int zrc = Z_OK, members = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return;
	in = malloc(READ_CHUNK);
	out = malloc(READ_CHUNK);
	if (!in || !out)
		goto out;
	for (;;) {
		if (z.avail_in == 0) {
			ssize_t n;
			if (k->fd >= 0) {
				n = pread(k->fd, in, READ_CHUNK, (off_t)in_off);
				if (n < 0)
					goto out;  /* not seekable (a pipe): left unchecked */
			} else {
				size_t left = k->len - (size_t)in_off;
				n = (ssize_t)(left < READ_CHUNK ? left : READ_CHUNK);
				memcpy(in, k->mem + in_off, (size_t)n);
			}
			if (n == 0) {
				if (zrc != Z_STREAM_END)
					bad = "the gzip stream ends before its trailer";
				goto out;
			}
			in_off += (uint64_t)n;
			z.next_in = in;
			z.avail_in = (uInt)n;
		}
		if (zrc == Z_STREAM_END) {
			/* another member follows only if it starts like one; anything else (zero
			 * padding, as some tar writers leave) is ignored, as gzip and libarchive do */
			if (z.next_in[0] != 0x1f || (z.avail_in > 1 && z.next_in[1] != 0x8b))
				goto out;
			if (inflateReset(&z) != Z_OK)
				goto out;
		}
		z.next_out = out;
		z.avail_out = READ_CHUNK;
		zrc = inflate(&z, Z_NO_FLUSH);
		produced += READ_CHUNK - z.avail_out;
		if (zrc == Z_STREAM_END)
			members++;
		else if (zrc == Z_BUF_ERROR && z.avail_in == 0)
			zrc = Z_OK;  /* needs more input */
		else if (zrc != Z_OK) {
			bad = z.msg ? z.msg : "inflate failed";
			goto out;
		}
		if (produced > limit)
			goto out;
	}
out:
	if (bad)
		skip(r, "corrupt_archive", k->key,
			    "gzip check failed after reading to the end: %s (member %d, near byte "
			    "offset %llu); what was read from it may hold damaged data",
			    bad, members + 1, (unsigned long long)(in_off - z.avail_in));
	inflateEnd(&z);
	free(in);
	free(out);
}

static int container_read_as(struct reader *r, struct container *k, int raw_only);

/*
 * Judges a file on disk or an in-memory entry by its first bytes (and, for a zip, its last
 * ones) before libarchive sees it: an image is not opened as an archive that fails, and a
 * docx or an epub is a document, not a zip to walk (read whole: r->doc_type is set then).
 * Returns RL_SKIP when it was ignored.
 */
static int container_sniff(struct reader *r, const struct container *k)
{
	const unsigned char *head = r->sniff, *tail = NULL;
	size_t n = 0, nt = 0;

	if (k->fd >= 0) {
		ssize_t got;
		do
			got = pread(k->fd, r->sniff, READ_SNIFF_BYTES, 0);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return 0;  /* a read error is libarchive's to report */
		n = (size_t)got;
		if (n >= 8 && (memcmp(head, "PK", 2) == 0 ||
			       memcmp(head, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0)) {
			struct stat st;
			if (fstat(k->fd, &st) == 0 && st.st_size > 0) {
				off_t from = st.st_size > READ_SNIFF_TAIL ? st.st_size - READ_SNIFF_TAIL : 0;
				do
					got = pread(k->fd, r->sniff + READ_SNIFF_BYTES, READ_SNIFF_TAIL, from);
				while (got < 0 && errno == EINTR);
				if (got > 0) {
					tail = r->sniff + READ_SNIFF_BYTES;
					nt = (size_t)got;
				}
			}
		}
	} else {
		head = (const unsigned char *)k->mem;
		n = k->len < READ_SNIFF_BYTES ? k->len : READ_SNIFF_BYTES;
		nt = k->len < READ_SNIFF_TAIL ? k->len : READ_SNIFF_TAIL;
		tail = head ? head + k->len - nt : NULL;
	}
	return sniff_ignore(r, k->key, k->name, head, n, tail, nt);
}

/*
 * Asks libarchive what the file or in-memory entry is, then reads it as that. Damage is
 * counted and returns 0 (the enclosing level goes on); R_STOP, R_ABORT and RL_ENOMEM unwind.
 */
static int container_read(struct reader *r, struct container *k)
{
	return container_read_as(r, k, 0);
}

static int container_read_as(struct reader *r, struct container *k, int raw_only)
{
	struct archive *a = archive_new_reader(raw_only);
	struct archive_entry *e = NULL;
	struct level lv = { .a = a, .key = k->key, .depth = k->depth };
	int64_t size = k->fd >= 0 ? -1 : (int64_t)k->len;
	int rc = 0, h;

	if (!a)
		return RL_ENOMEM;
	r->doc_type = NULL;
	if (!raw_only && container_sniff(r, k)) {
		archive_read_free(a);
		return 0;  /* a type ragload ignores: counted */
	}
	if (r->doc_type) {  /* an office document or e-book: one file, never walked */
		const char *type = r->doc_type;
		archive_read_free(a);
		if (k->fd >= 0) {
			struct stat st;
			if (fstat(k->fd, &st) == 0)
				size = st.st_size;
		}
		r->doc_type = type;
		return plain_read(r, k, size);
	}
	h = k->fd >= 0 ? archive_read_open_fd(a, k->fd, READ_CHUNK)
		       : archive_read_open_memory(a, k->mem, k->len);
	if (h == ARCHIVE_OK)
		h = archive_read_next_header(a, &e);
	else
		h = ARCHIVE_FATAL;
	switch (container_classify(a, h)) {
	case K_PLAIN:
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
		if (!raw_only && empty_tar_suspect(a, k)) {
			archive_read_free(a);
			a = NULL;
			if (k->fd >= 0 && lseek(k->fd, 0, SEEK_SET) < 0) {
				skip(r, "unreadable", k->key, "seek: %s", strerror(errno));
				break;
			}
			rc = container_read_as(r, k, 1);
		}
		break;
	case K_SINGLE:
		rc = single_read(r, a, k, &lv);
		if (rc == 0 && !lv.damaged && gzip_only(a))
			gzip_check(r, k, &lv);
		break;
	case K_ARCHIVE:
		rc = entries_read(r, a, e, k, &lv);
		if (rc == 0 && !lv.damaged && gzip_only(a))
			gzip_check(r, k, &lv);
		break;
	case K_BROKEN:
		/* 7z with encrypted headers fails here; later, libarchive's flag would also be set
		 * by any earlier encrypted entry, so it only decides at the first header */
		if (archive_read_has_encrypted_entries(a) > 0)
			skip(r, "encrypted", k->key, "encrypted archive: %s",
				    archive_error_string(a) ? archive_error_string(a) : "no key");
		else
			archive_damage(r, a, k->key, "first header");
		break;
	}
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

	/* a file with several names (hard links) is read once, under the first name met */
	if (st->st_nlink > 1) {
		uint64_t id[2] = { (uint64_t)st->st_dev, (uint64_t)st->st_ino };
		rc = idset_add(r->inodes, (const char *)id, sizeof(id));
		if (rc == 1)  /* its data is read under that name: nothing is missed */
			counts_ignore(r->c, "hardlink", key);
		if (rc)
			return rc == 1 ? 0 : rc;
	}
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
		skip(r, "unreadable", key, "%s", strerror(errno));
		goto out;
	}
	/* the globs see the path under the input, without the directory's own name */
	char *under = r->walk_skip ? key_clean(rel + r->walk_skip) : NULL;
	if (r->walk_skip && !under) {
		rc = RL_ENOMEM;
		goto out;
	}
	int out_of_globs = excluded(r, under ? under : key, S_ISDIR(st.st_mode));
	free(under);
	if (out_of_globs) {
		counts_ignore(r->c, "excluded", key);
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		counts_ignore(r->c, "symlink", key);  /* never followed, whatever it points at */
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		skip(r, "special_file", key, "not a regular file");
		goto out;
	}
	/* O_NOFOLLOW and the fstat below: the name may have been swapped since fstatat */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			       (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0 || fstat(fd, &st) < 0) {
		skip(r, "unreadable", key, "%s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (depth + 1 > MAX_DIR_DEPTH) {
			skip(r, "unreadable", key, "directories nested deeper than %d", MAX_DIR_DEPTH);
			goto out;
		}
		rc = dir_walk(r, fd, rel, depth + 1);
		fd = -1;  /* dir_walk owns it */
	} else if (S_ISREG(st.st_mode)) {
		rc = disk_file_read(r, fd, key, &st);
	} else {
		skip(r, "special_file", key, "not a regular file");
	}
out:
	if (fd >= 0)
		close(fd);
	free(key);
	return rc;
}

/* Walks the directory open on dfd (takes it) in sorted order; rel is its key before cleaning:
 * the input's name at the top (read_input_name(); NULL when it has none, as "/"). */
static int dir_walk(struct reader *r, int dfd, const char *rel, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	char **names = NULL, *child = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d) {
		skip(r, "unreadable", rel, "%s", strerror(errno));
		close(dfd);
		return 0;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == MAX_DIR_NAMES) {
			skip(r, "unreadable", rel,
				    "more than %d names in one directory: the rest are not read",
				    MAX_DIR_NAMES);
			break;
		}
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

char *read_input_name(const char *path)
{
	/* the real path's name, as documents.source_input records it: a symlink given on the
	 * command line keys its documents by the directory it leads to */
	char *real = realpath(path, NULL), *trimmed = NULL, *name;
	const char *base;

	if (real) {
		base = name_last(real);
	} else {  /* not resolvable now: the name as given, trailing slashes dropped */
		size_t len = strlen(path);
		while (len > 1 && path[len - 1] == '/')
			len--;
		if (!(trimmed = xstrndup(path, len)))
			return NULL;
		base = name_last(trimmed);
		if (!strcmp(base, ".") || !strcmp(base, ".."))
			base = "";
	}
	name = xstrdup(base);
	free(real);
	free(trimmed);
	return name;
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
		skip(r, "unreadable", NULL, "%s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		/* keys start with the directory's name: inputs side by side never share one */
		char *name = read_input_name(path);
		if (!name) {
			rc = RL_ENOMEM;
			goto out;
		}
		r->walk_skip = name[0] ? strlen(name) + 1 : 0;
		rc = dir_walk(r, fd, name[0] ? name : NULL, 0);
		r->walk_skip = 0;
		fd = -1;
		free(name);
	} else if (S_ISREG(st.st_mode)) {
		rc = disk_file_read(r, fd, key, &st);
	} else {
		skip(r, "special_file", NULL, "not a regular file or directory");
	}
out:
	if (fd >= 0)
		close(fd);
	free(key);
	free(trimmed);
	return rc;
}
