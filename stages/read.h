/*
 * read.h — the read stage: inputs (directories, archives, compressed single files, plain
 * files, JSONL collections) streamed through libarchive, one entry at a time, never extracted
 * to disk.
 */
#ifndef RAGLOAD_READ_H
#define RAGLOAD_READ_H

#include "../pipeline/common.h"
#include "../pipeline/config.h"

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
 *            (".html", ".md", ".txt"...; compressed suffixes already stripped).
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
	char *metadata_json;  /* READ_ROW only */
};

void read_item_free(struct read_item *it);

/*
 * Called for each item, in input order. The callback takes ownership of it (even when it
 * returns an error). A non-zero return stops reading and is returned by read_inputs().
 */
typedef int (*read_emit_fn)(void *ctx, struct read_item *it);

/*
 * read_inputs — streams every path (directory walked recursively in sorted order, archive,
 * compressed single file, plain file) to emit().
 *
 * Source keys: the path relative to the directory given on the command line (the file's own
 * name when a file is given), then "!entry/path" for an archive member (nested:
 * "a.tar!inner.zip!x.txt") and "#_id" for a collection row.
 *
 * Bad input (truncated/corrupt archive, limit exceeded, malformed JSONL line...) is reported
 * through counts_skip(c, reason, source, message) and reading goes on with what follows: the
 * entries read before the damage are emitted. Returns 0, RL_ENOMEM, or the emit callback's
 * non-zero return.
 * Blocks while emit() blocks. Thread: call from one thread; c is thread-safe.
 */
int read_inputs(const struct read_opts *o, char *const *paths, int n_paths, read_emit_fn emit,
		void *ctx, struct counts *c);

#endif
