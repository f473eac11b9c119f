/*
 * report.h — the report stage: one evaluation run written as JSON, CSV, Markdown and a
 * self-contained HTML page with SVG recall-versus-QPS plots, plus deltas against the previous
 * report.
 *
 * The evaluate stage fills a struct report and calls report_write(); nothing here touches the
 * database, so the whole stage is unit-tested on made-up numbers.
 */
#ifndef RAGLOAD_REPORT_H
#define RAGLOAD_REPORT_H

#include <stddef.h>

#include "../lib/common.h"

/*
 * Every double that was not measured is NAN: it is written as JSON null, an empty CSV field,
 * and "–" in Markdown/HTML (e.g. qps_n when only one connection was measured).
 * JSON fragments (setting_json, build_json, search_json, model_json, settings_json) are JSON
 * object literals such as {"ef_search":40}; "" means {}. Invalid JSON there is a programmer
 * error: report_write() fails naming the field.
 */

/* One retrieval-quality row: a method, at one setting, averaged over the qrels queries. */
struct report_quality {
	char method[16];         /* exact | fts | hybrid | hnsw | ivfflat */
	char setting_json[256];  /* e.g. {"ef_search":40}, {"k_rrf":60}, "" for exact/fts */
	double ndcg10, mrr10, recall100;
	int n_queries;
};

/* The builds `ragload index --repeat N` measured of one index (n 0: one build, nothing
 * recorded): build seconds and recall@10 of its own check (sample queries, exact scan). */
struct report_builds {
	int n;
	double build_med, build_min, build_max;
	double recall_med, recall_min, recall_max;
	char search_json[128];   /* the setting the check's recall was measured at */
};

/* One ANN row: an index built with build_json, searched with search_json. */
struct report_ann {
	char index[16];          /* hnsw | ivfflat */
	char storage[16];        /* vector | halfvec | bit ("" = vector) */
	char build_json[128];    /* {"m":16,"ef_construction":64} or {"lists":100} */
	char search_json[128];   /* {"ef_search":40} or {"probes":8} */
	double build_s;          /* build time in seconds */
	long long index_bytes;   /* pg_relation_size of the index; < 0 unknown */
	double recall10;         /* mean recall@10 against the exact top 10 (tie rule in metrics.h) */
	double p50_ms, p95_ms, p99_ms;  /* per-query latency, one connection */
	double qps_1, qps_n;     /* queries per second on 1 and on n_conn connections */
	int n_conn;
	int seqscan;             /* 1 = the planner fell back to a sequential scan: flagged, not ANN */
	int forced;              /* 1 = the planner preferred a sequential scan, so the index was
				  * forced (enable_seqscan = off in the setting's SET LOCAL) */
	struct report_builds builds;
};

/*
 * struct report — everything one report shows. Strings are borrowed (the caller keeps them
 * alive during report_write) and may be NULL (written as null / "–"). The arrays are borrowed.
 * report_init() zeroes it, sets every double to NAN and fills the machine fields it can
 * detect (cpus, ram_bytes, cpu_model, os).
 */
struct report {
	/* corpus: deltas are computed only against a report of the same name, documents, chunks */
	const char *corpus_name;
	long long documents, chunks;
	const char *distance;        /* cosine | l2 | ip */
	int dim;
	/* model: deltas also need the same model name */
	const char *model_name;
	const char *model_json;      /* model settings as a JSON object literal */
	/* machine */
	int cpus;
	long long ram_bytes;
	char cpu_model[128];
	char os[128];
	const char *pg_version;
	const char *pgvector_version;
	/* settings of the evaluation */
	int k;                       /* k of ANN recall@k (10) */
	const char *queries_file;
	const char *qrels_file;
	int n_queries;
	const char *settings_json;   /* further settings (JSON object), merged into "settings" */
	/* results */
	const struct report_quality *quality;
	size_t n_quality;
	const struct report_ann *ann;
	size_t n_ann;
	double exact_seconds;        /* exact top-k ground truth, all queries, seconds */
};

void report_init(struct report *r);

/*
 * report_write — writes results.json, results.csv, report.md and report.html into a new
 * directory <reports_dir>/<UTC timestamp, e.g. 20261125T163012.345Z>/ (reports_dir is created
 * like mkdir -p), then atomically repoints the relative symlink <reports_dir>/latest at it.
 * The files are written into a hidden temporary directory that is renamed into place, so a
 * timestamped directory is always complete.
 * Before writing, <reports_dir>/latest/results.json (if any) is read: when its corpus (name,
 * documents, chunks) and model name match, per-row deltas are shown in every format (quality
 * rows matched by method + setting, ANN rows by index + build + search).
 * keep > 0 then removes timestamped directories beyond the newest keep; only names matching the
 * timestamp pattern exactly are ever removed, never the one just written, never anything else.
 * out_dir (may be NULL) receives the new directory's path. *regressed (may be NULL) is set to
 * 1 when fail_on_regression > 0 and a matched nDCG@10 or recall@10 dropped by more than it,
 * else 0. Returns 0 or negative (messages logged); a failed prune is only a warning.
 */
int report_write(const struct report *r, const char *reports_dir, int keep,
		 double fail_on_regression, char *out_dir, size_t out_len, int *regressed);

#endif
