/*
 * evaluate.h — `ragload eval`: exact ground truth computed by ragload, ANN recall and latency
 * for every vector index present, retrieval quality against qrels for exact, fts, hybrid and
 * each ANN setting, then the report (stages/report.h).
 */
#ifndef RAGLOAD_EVALUATE_H
#define RAGLOAD_EVALUATE_H

#include "../lib/common.h"
#include "../lib/config.h"

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
	const char *ef_search;        /* comma list, default "10,20,40,80,160,320" */
	const char *probes;           /* comma list, default 1,2,4,... up to lists/4 */
	const char *fts_config;       /* text search configuration, default "english" */
	int max_queries;              /* 0 = all */
};

void eval_args_defaults(struct eval_args *a);
/* Runs the evaluation; returns an exit status (0 done, 1 fatal or regression, 2 usage). */
int evaluate_run(const struct rl_config *cfg, const struct eval_args *a);

#endif
