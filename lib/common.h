/*
 * common.h — shared types and helpers for every part of ragload.
 *
 * What: the error convention, a bounded growable buffer, the document/chunk types that flow
 * between stages, and the thread-safe skip counters.
 * Why here: every floor uses them and lib/ uses nothing above it (DESIGN.md, house style
 * rule 1), so the types that cross stage boundaries live in lib/.
 */
#ifndef RAGLOAD_COMMON_H
#define RAGLOAD_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>

/* Return convention: 0 ok, RL_SKIP = the item was skipped and counted, negative = error. */
#define RL_OK 0
#define RL_SKIP 1
#define RL_ERR (-1)
#define RL_ENOMEM (-2)
#define RL_ELIMIT (-3)

/* Exit statuses, the same for every command (README, `ragload --help`). */
#define EXIT_DONE 0
#define EXIT_FATAL 1
#define EXIT_USAGE 2
#define EXIT_SKIPPED 3
#define EXIT_LOCKED 75

#define RL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- bounded growable buffer --------------------------------------------------------------
 * Every growable buffer has a hard size limit (house style 6). buf_append() fails with
 * RL_ELIMIT instead of growing past `limit` (0 = SIZE_MAX). data is NUL-terminated when len>0
 * after any append. The owner frees with buf_release(). */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
};

void buf_init(struct buf *b, size_t limit);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included), escaping as RFC 8259 requires. */
int buf_json_str(struct buf *b, const char *s, size_t n);
void buf_reset(struct buf *b);
/* Hands the data to the caller (who frees it with free()) and leaves b empty. */
char *buf_detach(struct buf *b, size_t *len);
void buf_release(struct buf *b);

char *xstrdup(const char *s);          /* NULL on NULL or out of memory */
char *xstrndup(const char *s, size_t n);

/* The length of name without the suffix of a compression filter (.gz .zst .xz .bz2 .lz4 .lzma
 * .Z, any case): "corpus.jsonl.zst" -> 12. NULL: 0. */
size_t name_unpacked_len(const char *name);
/* 1 when name, past any compression suffix, ends in ext (".rst"; any case) after at least one
 * other character: "README.rst.gz" has ".rst", ".rst" alone has not. */
int name_has_ext(const char *name, const char *ext);

/* ---- documents and chunks ------------------------------------------------------------------ */

/* A heading found by normalize: its byte offset in the normalized text, level 1..6, text. */
struct heading {
	size_t offset;
	int level;
	char *text;
};

/* Where a page or slide starts: the byte offset of its first character in the normalized
 * text and its number (1-based, as the document counts them). */
struct page_mark {
	size_t offset;
	int number;
};

/* A byte range [start, end) of a document's normalized text. */
struct span {
	size_t start;
	size_t end;
};

/* A chunk is a byte range of its document's normalized text. heading_path is a JSON array
 * literal ("[\"Intro\",\"Setup\"]") owned by the chunk, NULL when there are no headings. */
struct chunk {
	size_t start;
	size_t end;
	int token_count;
	char *heading_path;
};

/*
 * struct doc — one document as it travels from normalize to load. Owned by whoever holds it
 * (a queue hands it over); freed with doc_free(), which frees every field.
 */
struct doc {
	char *source_name;     /* stable source key: rel/path[!entry][#_id] */
	char *input;           /* the command-line input it came from, for messages */
	char *title;           /* may be NULL */
	char *text;            /* normalized NFC text, NUL-free; original_content */
	size_t text_len;
	char *metadata_json;   /* a JSON object literal; never NULL after normalize */
	struct heading *headings;
	size_t n_headings;
	struct span *code;     /* code blocks (<pre>, Markdown fences and indented code), in text
	                          order, disjoint: their lines and indentation are kept verbatim,
	                          and chunking prefers not to cut inside one; NULL when none */
	size_t n_code;
	struct page_mark *pages; /* pages or slides, in text order (offsets ascending); NULL
	                            when the format has none */
	size_t n_pages;
	const char *page_unit;   /* "pages" or "slides" (a static string), NULL without pages */
	struct chunk *chunks;
	size_t n_chunks;
	float *vectors;        /* n_chunks * dim, filled by embed */
	int dim;
	int64_t mtime;         /* seconds since the epoch, 0 when unknown */
	size_t raw_bytes;      /* input bytes this document came from */
	uint8_t hash[16];      /* content hash of text + settings (xxh128), filled by ingest */
	int64_t doc_id;        /* assigned at load; an existing doc's id when replaced */
};

struct doc *doc_new(void);
void doc_free(struct doc *d);
/* Heap size of a document, for byte-bounded queues. */
size_t doc_bytes(const struct doc *d);

/* ---- skip counters ------------------------------------------------------------------------
 * Thread-safe counts of skipped items by reason, plus the message sink. counts_skip() prints
 * "ragload: warning: <source>: <message>" on stderr (unless quiet) and counts it under reason. */
#define COUNTS_MAX_REASONS 48
#define COUNTS_PRINT_MAX 100   /* warnings printed per reason; the rest are counted */
struct counts {
	pthread_mutex_t mu;
	int quiet;
	struct {
		const char *reason;  /* static string */
		uint64_t n;
	} reasons[COUNTS_MAX_REASONS];
	int n_reasons;
	uint64_t total;
	struct {
		const char *type;    /* static string */
		uint64_t n;
	} ignored[COUNTS_MAX_REASONS];
	int n_ignored;
	uint64_t ignored_total;
	FILE *log;               /* optional second sink (--log FILE), may be NULL */
};

void counts_init(struct counts *c, int quiet);
void counts_release(struct counts *c);
void counts_skip(struct counts *c, const char *reason, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
uint64_t counts_total(struct counts *c);
/* counts_ignore — a file ragload recognises but does not read (an image, a font, an executable,
 * a symlink, one left out by --exclude...): counted under type (a static string), written to the
 * log when there is one, never printed as a warning; not a skipped item, so it does not change
 * the run's exit status. */
void counts_ignore(struct counts *c, const char *type, const char *source);
uint64_t counts_ignored(struct counts *c);

/* Logging on stderr; log_info is silenced by quiet. */
extern int rl_quiet;
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

double now_seconds(void);  /* CLOCK_MONOTONIC */
/* UTC wall-clock time with milliseconds, ISO 8601, written into buf (>= 32 bytes). */
const char *log_timestamp(char *buf, size_t len);

#endif
