/*
 * config.h — every setting of ragload, with its default, in one struct.
 *
 * config/default.ini documents each key in place; this header is its C mirror. Precedence:
 * built-in defaults < --config FILE (or config/default.ini when none given is found) < flags.
 */
#ifndef RAGLOAD_CONFIG_H
#define RAGLOAD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define READ_GLOBS_MAX 4096          /* bytes of one [inputs] pattern list */

/*
 * The default [inputs] exclude list, for documentation trees: what a docs build writes beside
 * its pages that is not prose (stylesheets, scripts, source maps, search indexes and inventories,
 * Sphinx's copies of the sources and its theme files and pickles, its index/search pages),
 * version-control directories, and node_modules (third-party packages, often larger than the
 * tree itself). README "What is read" lists them and how to take one back.
 */
#define READ_DEFAULT_EXCLUDES \
	"*.css *.js *.mjs *.map *.json *.inv .buildinfo " \
	"genindex.html genindex-*.html py-modindex.html search.html " \
	"_sources/ _static/ .doctrees/ .git/ .hg/ .svn/ node_modules/"

/* [limits] and [read]: what the read stage may expand and how deep it may go. */
struct read_opts {
	uint64_t max_entry_bytes;    /* one archive entry / file, expanded */
	uint64_t max_total_bytes;    /* all expanded bytes of one input */
	uint64_t max_ratio;          /* expanded / compressed bytes of one input, checked while streaming */
	uint64_t max_line_bytes;     /* one JSONL line */
	int max_nesting;             /* archives inside archives (1 = one level, as documented) */
	/* [inputs]: glob lists, comma or space separated (read.h says how they match). A file
	 * matching an exclude pattern is ignored ("excluded") unless it matches an include one. */
	char include[READ_GLOBS_MAX];
	char exclude[READ_GLOBS_MAX];
};

/* [normalize] */
struct normalize_opts {
	uint64_t max_doc_bytes;      /* documents longer than this are cut at a boundary, and counted */
	double max_binary_ratio;     /* share of control bytes above which an entry is binary */
	/* [limits]: the worker process that reads a PDF (stages/pdf.c) */
	int parse_seconds;           /* its CPU seconds (its wall clock: 2x + 5 s) */
	int parse_memory_mb;         /* its address space */
	int ocr;                     /* [documents] ocr: PDF pages without text through Tesseract */
};

/* [chunk] */
struct chunk_opts {
	int tokens;                  /* window size in tokens */
	int overlap;                 /* tokens shared by consecutive windows */
};

/* [model] */
struct model_opts {
	int dim;                     /* embedding dimension, <= 2000 */
	int features;                /* the built-in model's vocabulary size (16..65536) */
	int char_ngram_min;
	int char_ngram_max;
	int word_bigrams;            /* 0/1 */
	uint64_t seed;
	uint64_t fit_sample_docs;    /* fit on at most this many documents */
	int blas_threads;            /* OpenBLAS threads; 0 = cores - pipeline threads */
};

/* [load] */
struct load_opts {
	uint64_t batch_bytes;        /* a transaction holds whole documents up to about this size */
	int batch_docs;              /* ... or this many documents */
	uint64_t queue_bytes;        /* capacity of each stage queue */
	int connections;             /* loader threads, each streaming COPY on its own connection */
	int lock_wait_s;             /* how long a run waits for another run's lock */
	int reconnect_timeout_s;     /* give up reconnecting after a lost connection after this */
	double index_rebuild_share;  /* a load adding more than this share of the rows drops the
				      * vector indexes and rebuilds them afterwards */
};

/* [search]: BM25 and the hybrid's fusion. Ingest and init store them in ragload_corpus
 * (corpus_store_search), where the SQL functions of migration 0004 read them, so that every
 * client of the corpus ranks alike. */
#define SEARCH_BM25_K1 0.9
#define SEARCH_BM25_B 0.4
#define SEARCH_HYBRID_FUSION 1       /* 0 = "rrf" (reciprocal rank fusion), 1 = "convex" */
#define SEARCH_HYBRID_WEIGHT 0.7
#define SEARCH_HYBRID_DEPTH 50
#define SEARCH_HYBRID_RRF_K 60
struct search_opts {
	double bm25_k1;              /* term frequency saturation */
	double bm25_b;               /* length normalisation */
	int hybrid_fusion;           /* "rrf" = 0 | "convex" = 1 */
	double hybrid_weight;        /* convex: the dense side's weight */
	int hybrid_depth;            /* chunks each side gives the fusion */
	double hybrid_rrf_k;         /* rrf: 1 / (k + rank) */
};

/* [index] */
struct index_opts {
	char storage[64];            /* vector | halfvec | bit, or a comma list ("vector") */
	int repeat;                  /* builds of each index; > 1 measures the spread (1) */
};

struct rl_config {
	char conninfo[1024];         /* empty: libpq PG* environment */
	struct read_opts read;
	struct normalize_opts norm;
	struct chunk_opts chunk;
	struct model_opts model;
	struct load_opts load;
	struct search_opts search;
	struct index_opts index;
	int quiet;
	int progress;                /* -1 auto (stderr is a terminal), 0 off, 1 on */
};

void config_defaults(struct rl_config *c);
/* Reads an INI file over c. Returns 0, or -1 with a message naming file and line on stderr. */
int config_load(struct rl_config *c, const char *path);
/* Sets one "section.key" = value (the form flags and --set use). 0 ok, -1 unknown or invalid. */
int config_set(struct rl_config *c, const char *section, const char *key, const char *value);
/* Appends one pattern to a comma/space separated [inputs] list (a --include or --exclude
 * flag). Returns 0, or -1 when the list would pass READ_GLOBS_MAX or the pattern is empty or
 * holds a comma or a space (the list separators). */
int config_globs_append(char *list, const char *pattern);
/* Parses sizes like "64MB", "1GiB", "4096". Returns 0 or -1. */
int config_parse_size(const char *s, uint64_t *out);

#endif
