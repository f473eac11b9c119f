/*
 * read.h — the read stage: inputs (directories, archives, compressed single files, plain
 * files, JSONL collections) streamed through libarchive, one entry at a time, never extracted
 * to disk.
 */
#ifndef RAGLOAD_READ_H
#define RAGLOAD_READ_H

#include "../lib/common.h"
#include "../lib/config.h"

enum read_kind {
	READ_FILE = 1,   /* a whole file or archive entry: data = its raw bytes */
	READ_ROW = 2,    /* one row of a collection (BEIR corpus.jsonl): text/title/metadata parsed */
};

/*
 * struct read_item — one unit handed to normalize. The receiver owns it and frees it with
 * read_item_free() (accepts NULL).
 *
 * READ_FILE: data/len = raw bytes (not NUL-terminated necessarily; data[len] == 0 is
 *            guaranteed for convenience), name = entry file name used to pick the format
 *            (".html", ".md", ".txt"...; compressed suffixes already stripped). An mbox is
 *            never one item: each message is a READ_FILE of type "eml" keyed "file#n".
 * READ_ROW:  data/len = the row's "text" (UTF-8 as decoded by the JSON parser, may contain
 *            NULs from \u0000 escapes: len is authoritative), title may be NULL,
 *            metadata_json = a JSON object literal holding the row's "metadata" plus "_id".
 */
struct read_item {
	enum read_kind kind;
	char *source;         /* stable source key, e.g. "docs/a.tar.zst!html/x.html", "corpus.jsonl#42" */
	char *input;          /* the command-line path this came from */
	char *name;           /* entry's own file name (last path component, suffix-stripped) */
	char *data;
	size_t len;
	size_t raw_bytes;     /* bytes of input this item accounts for */
	int64_t mtime;
	char *title;          /* READ_ROW only */
	char *metadata_json;  /* READ_ROW; READ_FILE: NULL, or for what a mail attachment holds
	                         {"attachment": {"message", "name", "content_type", "bytes"}} */
	const char *type;     /* READ_FILE: a document type told by content that needs its own
	                         extractor (a static string: "docx", "xlsx", "pptx", "odt",
	                         "ods", "odp", "epub", ...): the whole package, never walked;
	                         NULL for text, HTML and Markdown, which normalize judges */
};

void read_item_free(struct read_item *it);

/*
 * Called for each item, in input order. The callback takes ownership of it (even when it
 * returns an error). A non-zero return stops reading and is returned by read_inputs().
 */
typedef int (*read_emit_fn)(void *ctx, struct read_item *it);

/*
 * Called (from the reading thread) for each place this run may have missed documents of
 * because of damage, once its warning is counted: key is a source key (a file, an archive, a
 * directory of a walked input, an entry), and every document at or under it ("key",
 * "key!...", "key/...", "key#...") may still exist although it was not read; key NULL: the
 * whole command-line input. input is that command-line path. Both strings are only lent.
 * --prune keeps such documents (pipeline/ingest_prune.c).
 */
typedef void (*read_damage_fn)(void *ctx, const char *input, const char *key);

/*
 * read_inputs — streams every path (directory walked recursively in sorted order, archive,
 * compressed single file, plain file) to emit().
 *
 * Mail is told by content: a file whose first lines are an RFC 5322 header is an item of type
 * "eml"; an mbox (a "From " line, then a header) is split while it streams, one "eml" item per
 * message keyed "<file key>#<n>" (n from 1), each bounded by max_entry_bytes (a larger one is
 * counted as entry_too_large and passed over; the mbox itself is not). A message's attached
 * files (mail.h says which parts are) are read like archive members one nesting level below
 * it, after it: "<message key>!<file name>" ("attachment-N" when unnamed), judged by content
 * through the same path as any file, their items carrying metadata_json that names the
 * message; signatures and TNEF are counted as ignored ("signature").
 *
 * Source keys: for a directory given on the command line, its name then the path under it
 * ("docs/guide/intro.md" for `ingest ../docs`; read_input_name() gives the name), so that
 * directories given side by side never share a key ("bash/copyright", "git/copyright"); for
 * a file, its own name; then "!entry/path" for an archive member (nested:
 * "a.tar!inner.zip!x.txt") and "#_id" for a collection row.
 *
 * Bad input (truncated/corrupt archive, limit exceeded, malformed JSONL line...) is reported
 * through counts_skip(c, reason, source, message) and reading goes on with what follows: the
 * entries read before the damage are emitted. Returns 0, RL_ENOMEM, or the emit callback's
 * non-zero return.
 * Office documents, e-books and PDFs (read_sniff()'s "docx", "odt", "epub", "pdf"...) are
 * emitted whole, as one READ_FILE item with it->type set, under the key the file itself has.
 * Files ragload recognises but does not read (read_sniff()), symbolic links inside a walked
 * directory or an archive, further names of a hard-linked file, and files left out by the
 * [inputs] globs are counted with counts_ignore() (not warnings, the exit status stays 0).
 *
 * Globs (o->include, o->exclude; comma or space separated): a pattern with no '/' matches a
 * file's own name ("*.js"); one ending in '/' matches a directory name anywhere on the path
 * ("_static/", ".git/"); any other matches the path relative to the input (inside an archive:
 * the entry's path), at any depth unless it starts with '/' ("api/gen-*.html" anywhere,
 * "/drafts/old*" at the top only); '*' never crosses a '/'. A file that matches an exclude pattern is ignored
 * ("excluded") unless it also matches an include pattern. A walked directory that an exclude
 * pattern names is not entered (counted once) unless include patterns are given, which may
 * take back files under it.
 *
 * Blocks while emit() blocks. Thread: call from one thread; c is thread-safe.
 */
int read_inputs(const struct read_opts *o, char *const *paths, int n_paths, read_emit_fn emit,
		void *ctx, struct counts *c);

/*
 * The name a directory input's source keys start with: the last component of its real path
 * (as documents.source_input records it: "." in ~/docs is "docs", a symlink given on the
 * command line names the directory it leads to); "" for "/" (its keys start under it).
 * malloc'd, NULL when out of memory; the keys carry it with control characters replaced, as
 * any key part.
 */
char *read_input_name(const char *path);

/* read_inputs() that also reports where damage may have hidden documents (damaged may be
 * NULL; it gets ctx too). */
int read_inputs_noting(const struct read_opts *o, char *const *paths, int n_paths,
		       read_emit_fn emit, read_damage_fn damaged, void *ctx, struct counts *c);

/*
 * read_sniff — what the first bytes of a file say it is, when it is something ragload
 * recognises and must not walk or read as text: an image, audio, video, a font, an
 * executable or object file, compiled Python, a database, a PDF, PostScript, RTF, an office
 * or e-book document (OLE2, or a zip that is an OOXML/ODF/EPUB/JAR package), a gettext
 * catalogue... The office and e-book packages ("docx", "xlsx", "pptx", "odt", "ods", "odp",
 * "epub") and PDFs ("pdf") are read: read_inputs() hands each on whole as one READ_FILE
 * item with it->type
 * set (an OLE2 file under one of their names too: an encrypted package); every other type
 * is counted with counts_ignore(). Returns its
 * short type name (a static string: "png", "elf", "docx", ...) or NULL for anything else
 * (text, HTML, Markdown, archives and compressed files to walk, damaged or unknown bytes,
 * which normalize judges). head/n: the first bytes (READ_SNIFF_BYTES are enough); tail/ntail:
 * the last bytes of the whole file (a zip's central directory; may be NULL); name: the file's
 * name, a tie-breaker for weak signatures only (may be NULL). Pure; thread-safe.
 */
#define READ_SNIFF_BYTES 4096
#define READ_SNIFF_TAIL (64 * 1024 + 22)
const char *read_sniff(const unsigned char *head, size_t n, const unsigned char *tail,
		       size_t ntail, const char *name);

#endif
