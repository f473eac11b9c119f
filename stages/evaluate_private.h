/*
 * evaluate_private.h — what the evaluate stage's files share (stages/evaluate*.c only): the
 * limits, the evaluation's state (struct eval, in the sections its fields are grouped by) and
 * the functions one section calls in another.
 *
 *   evaluate.c          evaluate_run (the table of contents), the corpus, the report
 *   evaluate_queries.c  qrels, queries (embedded down the query path, or .fvecs), ground truth
 *   evaluate_exact.c    the exact reference: a COPY of every vector through cblas_sgemm
 *   evaluate_quality.c  qrels metrics of rankings, ranking passes, full text, hybrid
 *   evaluate_ann.c      the ANN sweep: every index and search setting, latency, QPS, plans
 */
#ifndef RAGLOAD_EVALUATE_PRIVATE_H
#define RAGLOAD_EVALUATE_PRIVATE_H

#include "evaluate.h"
#include "report.h"
#include "../lib/metrics.h"
#include "../models/model.h"

#include <jansson.h>
#include <limits.h>
#include <libpq-fe.h>
#include <stdio.h>

#define EVAL_DOCS 100                 /* documents per ranking: Recall@100, run-file depth */
#define EVAL_MAX_QUERIES 1000000      /* queries in one evaluation */
#define EVAL_QUERY_BYTES (2ull << 30) /* query vectors and their text literals together */
#define EVAL_LINE_MAX (1u << 20)      /* one queries.jsonl line */
#define EVAL_MAX_DIM 16000            /* pgvector's vector limit */
#define EVAL_MAX_INDEXES 8            /* vector indexes measured */
#define EVAL_MAX_ROWS 512             /* report rows of each kind */
#define EVAL_BLOCK_ROWS 4096          /* corpus rows per sgemm */
#define EVAL_SCAN_PARTS 8             /* connections the exact scan splits the heap over, at most */
#define EVAL_SCAN_PART_PAGES 128      /* heap pages per part (1 MB), at least */
#define EVAL_SCORE_FLOATS (16u << 20) /* block x queries score matrix, floats */
#define EVAL_HEAP_BYTES (4ull << 30)  /* all per-query heaps together */
#define EVAL_WARMUP 200               /* untimed queries before an index's first setting */
#define EVAL_STEER_EF 1000            /* hnsw.ef_search that prices HNSW out (pgvector max), where
                                       * the other indexes cannot be hidden */
#define EVAL_FILTER_TOL 1e-4          /* sgemm filter slack, relative to the norms */
#define EVAL_ITER_EF 40               /* ef_search of the iterative-scan row */
#define EVAL_SWEEP_TARGET 0.99        /* an adaptive sweep stops at this recall@k ... */
#define EVAL_SWEEP_GAIN 0.0005        /* ... or when recall@k rises by no more than this */
#define EVAL_MIN_PASSES 3             /* timed passes of a setting at least (QPS: their median) */
#define EVAL_MAX_PASSES 50            /* ... at most */
#define EVAL_LONG_PASS_S 5.0          /* ... unless the first took this long: one is enough */
#define EVAL_FTS_TABLE "ragload_eval_fts"

enum dist { DIST_COSINE, DIST_L2, DIST_IP };

/* One reference neighbour: distance as pgvector reports it, the chunk and its document. */
struct hit {
	float d;
	int32_t chunk;
	int32_t doc;
};

/* Document keys (metadata->>'_id', else source_name): qrels and ground truth name documents
 * by key; a key index (kidx) numbers the distinct keys in strcmp order. */
struct doc_keys {
	PGresult *res;          /* owns the key strings */
	const char **key;       /* n_keys, strcmp order */
	size_t n_keys;
	int32_t *doc;           /* n_docs document ids, ascending */
	int32_t *kidx;          /* key index of doc[i] */
	size_t n_docs;
};

struct chunk_doc {
	int32_t chunk, doc;
};

/* A vector index present on embeddings. */
struct vindex {
	char name[64];
	char kind[16];          /* hnsw | ivfflat */
	char storage[16];       /* vector | halfvec | bit */
	char build_json[128];
	char tag[64];           /* run-file tag prefix: hnsw_m16_efc64, ivfflat_halfvec_lists100 */
	double build_s;         /* the median over the builds --repeat recorded, else the one */
	long long bytes;
	int lists;              /* ivfflat */
	struct report_builds builds;  /* --repeat's builds (n 0: one build) */
};

/* One search setting of one index. */
struct setting {
	const struct vindex *ix;
	int value;              /* ef_search, probes, or the binary index's over-fetch */
	int ef_search;          /* bit: the ef_search that lets the over-fetch through */
	char fetch[24];         /* candidates fetched (bit: k x over-fetch; else k) */
	int iterative;          /* hnsw.iterative_scan = relaxed_order */
	char sets[2048];        /* the SET LOCAL statements */
	char search_json[128];
	char tag[128];
};

/* Extra connections (--connections N, none when N = 1): the untimed ranking passes and the
 * N-connection QPS figure. */
struct pool {
	PGconn *c[64];
	int n;
};

struct eval {
	const struct rl_config *cfg;
	const struct eval_args *a;
	PGconn *conn;
	/* corpus */
	char dbname[128], distance[16], model_name[256], pg_version[128], vec_version[32];
	enum dist dist;
	const char *op;
	int dim;
	int iter_scan;                /* pgvector >= 0.8: iterative index scans exist */
	int hide_ix;                  /* ragload_hide_indexes() exists (the extension, 1.2) */
	long long n_docs, n_chunks, n_vectors;
	struct model *model;          /* NULL for precomputed vectors */
	char *model_json;
	struct doc_keys keys;
	/* queries */
	struct qrels *qrels;
	size_t nq;
	char **qid;
	char **qtext;                 /* normalised text; NULL for .fvecs queries */
	size_t *qord;                 /* ordinal in the queries file (ground-truth row) */
	float *qvec;                  /* nq x dim, as given / embedded */
	char **qlit;                  /* '[x,y,...]' text literals of qvec */
	int k;                        /* recall@k: min(args k, vectors) */
	char kstr[16], chunks_str[16];
	/* the exact reference */
	int kc;                       /* chunks kept per query */
	int ann_chunks;               /* chunks an ANN quality pass asks for */
	struct hit *exact;            /* nq x kc, nearest first */
	int *exact_n;
	struct chunk_doc *cmap;       /* every chunk with its document, by chunk id */
	size_t n_cmap;
	int64_t *ref_ids;             /* nq x k chunk ids and distances, for metric_ann_recall */
	float *ref_d;
	double exact_seconds;
	long long zero_vectors;
	/* ground truth */
	int gt_k;
	size_t gt_rows;
	int64_t *gt_kidx;             /* nq x gt_k; -1 - j for ids that name no document */
	float *gt_d;                  /* distances computed during the exact scan */
	double gt_agreement;          /* NAN without a file */
	size_t gt_agree, gt_checked;
	/* document rankings kept for the hybrid */
	int32_t *dense_docs, *fts_docs;
	int *dense_n, *fts_n;
	/* outputs */
	int quality_on;               /* qrels or a run file: rankings are computed */
	struct report_quality *quality;
	size_t n_quality;
	struct report_ann *ann;
	size_t n_ann;
	json_t *plans;
	FILE *run;
	char run_tmp[PATH_MAX];
	struct pool pool;
};

struct pass {
	/* per connection before its first query (BEGIN + SET LOCAL, temporary tables...) */
	int (*setup)(const struct eval *e, PGconn *c, const void *arg);
	/* one query: the document ids of its chunks, best first; returns the count or < 0 */
	int (*query)(const struct eval *e, PGconn *c, size_t q, const void *arg, int32_t *chunk_docs);
	/* per connection at the end, whatever happened */
	void (*teardown)(const struct eval *e, PGconn *c, int failed);
	const void *arg;
	int32_t *docs;          /* out: nq x EVAL_DOCS document rankings (key indexes) */
	int *n_docs;            /* out: nq */
};

/* ---- across the sections ---------------------------------------------------------------- */

/* evaluate.c */
int32_t eval_doc_kidx(const struct doc_keys *k, int32_t doc);
int32_t eval_key_kidx(const struct doc_keys *k, const char *key);
/* evaluate_queries.c */
int queries_load(struct eval *e);
int truth_load(struct eval *e);
/* evaluate_exact.c */
int32_t eval_chunk_doc(const struct eval *e, int32_t chunk);
int exact_search(struct eval *e);
int eval_hit_cmp(const void *x, const void *y);
int truth_check(struct eval *e);
/* evaluate_quality.c */
int eval_pass_run(const struct eval *e, const struct pass *p);
int quality_exact(struct eval *e);
/* One ranking query of a pass: the prepared statement stmt with its two parameters; NULL
 * (what and the query id logged) on failure. */
PGresult *eval_exec_prepared(PGconn *c, const char *stmt, const char *const params[2],
			     const char *what, const char *qid);
int quality_fts(struct eval *e);
int quality_hybrid_fts(struct eval *e);
int quality_bm25(struct eval *e);
int quality_hybrid(struct eval *e);
int quality_score(struct eval *e, const int32_t *docs, const int *n_docs, const char *tag,
			 const char *method, const char *setting);
/* evaluate_ann.c */
int ann_measure(struct eval *e);
int eval_pool_open(struct eval *e);

#endif
