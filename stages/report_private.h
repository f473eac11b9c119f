/*
 * report_private.h — what the report stage's files share (stages/report*.c only): the
 * sticky-error output buffer, number and setting formatting, the run's context (parsed
 * fragments, deltas), the summary facts both human-readable reports state, and the writers.
 *
 *   report.c       entry point, context, deltas, the facts renderer, files and directories
 *   report_data.c  results.json, results.csv
 *   report_md.c    report.md
 *   report_html.c  report.html (summary, tables, facts)
 *   report_svg.c   the plots report.html embeds (recall versus QPS, build time, size)
 */
#ifndef RAGLOAD_REPORT_PRIVATE_H
#define RAGLOAD_REPORT_PRIVATE_H

#include "report.h"

#include <jansson.h>

#define REPORT_FILE_LIMIT (64u << 20)  /* one output file; far above any real report */
#define STAMP_LEN 20                   /* 20261125T163012.345Z */
#define RECALL_GOAL 0.95               /* the summary names the fastest setting reaching it */
#define NA "\xe2\x80\x93"              /* en dash: not measured */

/* Sticky-error output buffer: every writer appends hundreds of pieces; the first failure is
 * kept and later appends are no-ops, so the writers read as straight-line code and check once
 * at the end. */
struct out {
	struct buf b;
	int err;
};
void o_html(struct out *o, const char *s);
void o_md(struct out *o, const char *s);
__attribute__((format(printf, 2, 3)))
void o_printf(struct out *o, const char *fmt, ...);
void o_puts(struct out *o, const char *s);
void o_csv(struct out *o, const char *s);

/* ---- numbers and settings as text ------------------------------------------------------- */
const char *fmt_num(char *s, size_t n, const char *f, double v);
const char *fmt_delta(char *s, size_t n, const char *f, double d);
const char *fmt_mb(char *s, size_t n, long long bytes);
const char *fmt_ms(char *s, size_t n, double v);
double jnum(const json_t *o, const char *key);
json_t *jreal(double v);
json_t *jstr(const char *s);
void setting_text(const json_t *obj, char *s, size_t n);

/* ---- the run's context ------------------------------------------------------------------ */
struct qdelta {
	int matched;
	double ndcg10, mrr10, recall100;
};

struct adelta {
	int matched;
	double recall10, p50_ms, p95_ms, p99_ms, qps_1, qps_n, build_s, index_bytes;
};

struct ctx {
	const struct report *r;
	char stamp[80];       /* STAMP_LEN used; room to keep -Wformat-truncation quiet */
	char created_at[80];
	json_t **q_setting;           /* parsed setting of each quality row */
	json_t **a_build, **a_search; /* parsed build / search of each ann row */
	json_t *model_settings, *extra_settings;
	json_t *prev;                 /* previous results.json, when comparable */
	char prev_name[64];
	const char *no_delta_reason;  /* why there are no deltas (static), or NULL */
	struct qdelta *qd;
	struct adelta *ad;
	json_t *deltas;               /* the "deltas" object of results.json */
	double threshold;
	int n_regressions;
};

/* ---- summary facts shared by report.md and report.html ------------------------------------ */
long best_quality(const struct report *r);
int common_n_conn(const struct report *r);
long headline_ann(const struct report *r, const char *index, int *reached);
size_t index_types(const struct report *r, char (*types)[64], size_t max);
/* An ANN row's storage ("vector" when unset) and its display name: "hnsw", "hnsw halfvec". */
const char *ann_storage(const struct report_ann *a);
const char *ann_label(char *s, size_t n, const struct report_ann *a);
/* 1 when row i is on the Pareto frontier of all rows (recall@k against QPS). */
int ann_pareto(const struct report *r, size_t i);
/* The recall targets the reports name the cheapest setting for (0.90, 0.95, 0.99). */
#define REPORT_N_TARGETS 3
extern const double report_targets[REPORT_N_TARGETS];
/* The row of the highest QPS reaching recall@k >= target, or -1. */
long ann_cheapest(const struct report *r, double target);
size_t n_seqscan(const struct report *r);
size_t n_forced(const struct report *r);
double plot_qps(const struct report_ann *a);
void qps_n_header(char *s, size_t n, const struct report *r);
const char *qps_n_text(char *s, size_t n, const struct report_ann *a, int common);

/*
 * The facts both reports list (corpus and model, machine, settings), in one order and with
 * one wording, each through the format's writers: section() opens a titled section (first:
 * the first one), kv() writes one key and its value (NULL: not known).
 */
struct facts_format {
	void (*section)(struct out *o, const char *title, int first);
	void (*kv)(struct out *o, const char *key, const char *value);
};
void write_facts(struct ctx *c, struct out *o, const struct facts_format *f);

/* ---- the writers -------------------------------------------------------------------------- */
/* results.json's text (the caller frees it); 0 or negative. */
int build_json(struct ctx *c, char **text);
void write_csv(struct ctx *c, struct out *o);
void write_md(struct ctx *c, struct out *o);
void write_html(struct ctx *c, struct out *o);
/* The recall-versus-QPS plot of every ANN row (ann-benchmarks' orientation), and the best
 * recall of each index against its build time (size 0) or its size (1), as inline SVG. */
void svg_plot(struct ctx *c, struct out *o);
void svg_cost(struct ctx *c, struct out *o, int size);

#endif
