/*
 * evaluate.h — the evaluate stage (`ragload eval` runs it): exact ground truth computed by ragload, ANN recall and latency
 * for every vector index present, retrieval quality against qrels for exact, fts, hybrid and
 * each ANN setting, then the report (stages/report.h).
 */
#ifndef RAGLOAD_EVALUATE_H
#define RAGLOAD_EVALUATE_H

#include "../lib/common.h"
#include "../lib/config.h"

#include <libpq-fe.h>

#define EVAL_MAX_SETTINGS 32          /* search settings per index */
#define EVAL_CHUNKS 1000              /* chunks fetched to fill a ranking: -k's bound */

struct eval_args {
	const char *queries;          /* BEIR queries.jsonl or .fvecs (required) */
	const char *qrels;            /* BEIR TSV or TREC qrels, optional */
	const char *ground_truth;     /* .ivecs exact top-k ids (0-based file order), optional */
	int k;                        /* default 10 */
	const char *run_file;         /* TREC run output, optional */
	const char *reports_dir;      /* default "reports" */
	int keep;                     /* prune older reports beyond this many; 0 = keep all */
	double fail_on_regression;    /* > 0: exit 1 when nDCG@10 or recall@10 drops by more */
	int connections;              /* N for the concurrent QPS figure; default 2 */
	/* Search settings measured. n 0: a sweep that doubles from 10 (ef_search) or 1 (probes,
	 * the binary index's over-fetch) until recall@k reaches 0.99 or stops rising. */
	int ef_search[EVAL_MAX_SETTINGS]; /* HNSW (vector, halfvec) */
	int n_ef_search;
	int probes[EVAL_MAX_SETTINGS];    /* IVFFlat */
	int n_probes;
	double qps_seconds;           /* timed passes per setting last this long at least, and are
				       * EVAL_MIN_PASSES at least unless the first lasted
				       * EVAL_LONG_PASS_S (1.0); 0: one pass */
	const char *fts_config;       /* text search configuration, default "english" */
	int max_queries;              /* 0 = all */
	unsigned methods;             /* EVAL_M_* measured besides exact (always); EVAL_M_ALL */
};

/* eval --methods: what is measured besides the exact dense ranking, the reference of all */
#define EVAL_M_FTS        1u
#define EVAL_M_HYBRID_FTS 2u      /* needs fts: asking for it measures fts too */
#define EVAL_M_BM25       4u
#define EVAL_M_HYBRID     8u
#define EVAL_M_ANN        16u     /* the sweep of every HNSW and IVFFlat index */
#define EVAL_M_ALL        31u

/* Parses a comma list of exact, fts, hybrid_fts (or hybrid-fts), bm25, hybrid and ann into
 * EVAL_M_* bits; 0 with *bits set, or -1 naming nothing (the caller's usage error). */
int eval_methods_parse(const char *list, unsigned *bits);

/* What the run log records of an evaluation. */
struct eval_summary {
	size_t queries, quality_rows, ann_rows;
	int regressed;                /* a figure dropped by more than fail_on_regression */
};

void eval_args_defaults(struct eval_args *a);
/*
 * evaluate_run — the evaluation of the corpus on conn (opened and locked by the caller, so
 * that no ingest or index run changes what is measured), its report written and its path
 * printed on stdout. Returns 0 with *sum filled (sum->regressed: the caller's exit status
 * says so), or negative (logged).
 */
int evaluate_run(const struct rl_config *cfg, PGconn *conn, const struct eval_args *a,
		 struct eval_summary *sum);

#endif
