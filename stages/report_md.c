/*
 * report_md.c — report.md: the evaluation as Markdown tables, each figure beside its change
 * since the previous report (report_private.h).
 */
#include "report_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- report.md -------------------------------------------------------------------------- */

static void md_cell(struct out *o, const char *s)
{
	o_puts(o, " ");
	o_md(o, s);
	o_puts(o, " |");
}

static void md_num(struct out *o, const char *f, double v, int matched, double d, const char *df)
{
	char a[64], b[64];
	o_printf(o, " %s%s |", fmt_num(a, sizeof(a), f, v), matched ? fmt_delta(b, sizeof(b), df, d) : "");
}

static void md_kv(struct out *o, const char *k, const char *v)
{
	o_puts(o, "|");
	md_cell(o, k);
	md_cell(o, v ? v : NA);
	o_puts(o, "\n");
}

static void md_section(struct out *o, const char *title, int first)
{
	o_printf(o, "%s## %s\n\n| | |\n|---|---|\n", first ? "" : "\n", title);
}

/* The title, the summary line. */
static void md_head(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;

	o_puts(o, "# ragload report: ");
	o_md(o, r->corpus_name ? r->corpus_name : "corpus");
	o_printf(o, "\n\nCreated %s (report `%s`).", c->created_at, c->stamp);
	o_printf(o, " %lld documents, %lld chunks; model ", r->documents, r->chunks);
	o_md(o, r->model_name ? r->model_name : NA);
	o_printf(o, ", d = %d, distance ", r->dim);
	o_md(o, r->distance ? r->distance : NA);
	o_puts(o, ".\n\n");
	if (c->prev)
		o_printf(o, "Numbers in parentheses are changes since report `%s` (none shown when the "
			    "change rounds to zero; *new* marks rows that report did not have).\n\n",
			 c->prev_name);
}

/* Retrieval quality, one row per method and setting. */
static void md_quality(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[512];

	o_puts(o, "## Retrieval quality\n\n");
	if (!r->n_quality) {
		o_puts(o, "Not measured: no qrels file was given.\n\n");
	} else {
		o_puts(o, "| Method | Setting | nDCG@10 | MRR@10 | Recall@100 | Queries |\n"
			  "|---|---|---:|---:|---:|---:|\n");
		for (size_t i = 0; i < r->n_quality; i++) {
			const struct report_quality *q = &r->quality[i];
			const struct qdelta *d = &c->qd[i];
			setting_text(c->q_setting[i], s1, sizeof(s1));
			o_puts(o, "| ");
			o_md(o, q->method);
			o_printf(o, "%s |", c->prev && !d->matched ? " *(new)*" : "");
			md_cell(o, s1);
			md_num(o, "%.3f", q->ndcg10, d->matched, d->ndcg10, "%+.3f");
			md_num(o, "%.3f", q->mrr10, d->matched, d->mrr10, "%+.3f");
			md_num(o, "%.3f", q->recall100, d->matched, d->recall100, "%+.3f");
			o_printf(o, " %d |\n", q->n_queries);
		}
		o_puts(o, "\n");
	}
}

/* Vector indexes: recall, latency and throughput per setting, build time and size. */
static void md_ann(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[512], s2[512], s3[512], num[64];

	o_puts(o, "## Vector indexes\n\n");
	if (!r->n_ann) {
		o_puts(o, "Nothing to show: no vector index was built.\n\n");
	} else {
		int common = common_n_conn(r);
		qps_n_header(s3, sizeof(s3), r);
		o_printf(o, "| Index | Build | Search | Recall@%d | p50 ms | p95 ms | p99 ms | QPS (1 conn.) "
			    "| %s | Build s | Size MB |\n"
			    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
			 r->k > 0 ? r->k : 10, s3);
		for (size_t i = 0; i < r->n_ann; i++) {
			const struct report_ann *a = &r->ann[i];
			const struct adelta *d = &c->ad[i];
			setting_text(c->a_build[i], s1, sizeof(s1));
			setting_text(c->a_search[i], s2, sizeof(s2));
			char l[64];
			o_puts(o, "| ");
			o_md(o, ann_label(l, sizeof(l), a));
			o_printf(o, "%s%s%s%s |", ann_pareto(r, i) ? " *(Pareto)*" : "",
				 a->seqscan ? " **(seq scan, not ANN)**" : "",
				 a->forced ? " *(index forced)*" : "",
				 c->prev && !d->matched ? " *(new)*" : "");
			md_cell(o, s1);
			md_cell(o, s2);
			md_num(o, "%.3f", a->recall10, d->matched, d->recall10, "%+.3f");
			md_num(o, isfinite(a->p50_ms) && a->p50_ms < 1 ? "%.3f" : "%.2f", a->p50_ms,
			       d->matched, d->p50_ms, "%+.2f");
			md_num(o, isfinite(a->p95_ms) && a->p95_ms < 1 ? "%.3f" : "%.2f", a->p95_ms,
			       d->matched, d->p95_ms, "%+.2f");
			md_num(o, isfinite(a->p99_ms) && a->p99_ms < 1 ? "%.3f" : "%.2f", a->p99_ms,
			       d->matched, d->p99_ms, "%+.2f");
			md_num(o, "%.0f", a->qps_1, d->matched, d->qps_1, "%+.0f");
			o_printf(o, " %s%s |", qps_n_text(s3, sizeof(s3), a, common),
				 d->matched ? fmt_delta(num, sizeof(num), "%+.0f", d->qps_n) : "");
			md_num(o, "%.1f", a->build_s, d->matched, d->build_s, "%+.1f");
			o_printf(o, " %s%s |\n", fmt_mb(s3, sizeof(s3), a->index_bytes),
				 d->matched ? fmt_delta(num, sizeof(num), "%+.1f", d->index_bytes / 1048576.0) :
					      "");
		}
		o_printf(o, "\nRecall@%d is measured against the exact top %d; a result tied with the "
			    "k-th distance counts as a hit. QPS on 1 connection (the median of timed "
			    "passes) is the y axis of the plot in report.html.\n\n", r->k > 0 ? r->k : 10, r->k > 0 ? r->k : 10);
		if (n_seqscan(r))
			o_printf(o, "%zu setting(s) fell back to a sequential scan: their recall is not "
				    "the index's.\n\n", n_seqscan(r));
		if (n_forced(r))
			o_printf(o, "%zu setting(s) marked *index forced*: the planner preferred a "
				    "sequential scan, so they were measured with `enable_seqscan = off` in "
				    "the same `SET LOCAL` as the search setting (the index's figures, not "
				    "the planner's choice).\n\n", n_forced(r));
		for (size_t t = 0; t < REPORT_N_TARGETS; t++) {
			long i = ann_cheapest(r, report_targets[t]);
			char l[64];
			o_printf(o, "- Cheapest setting reaching recall@%d ≥ %.2f: ", r->k > 0 ? r->k : 10,
				 report_targets[t]);
			if (i < 0) {
				o_puts(o, "none reached it.\n");
				continue;
			}
			setting_text(c->a_build[i], s1, sizeof(s1));
			setting_text(c->a_search[i], s2, sizeof(s2));
			o_md(o, ann_label(l, sizeof(l), &r->ann[i]));
			o_puts(o, " ");
			o_md(o, s1);
			o_puts(o, ", ");
			o_md(o, s2);
			o_printf(o, ": recall %.3f at %s QPS.\n", r->ann[i].recall10,
				 fmt_num(num, sizeof(num), "%.0f", plot_qps(&r->ann[i])));
		}
		o_puts(o, "\n");
		for (size_t i = 0; i < r->n_ann; i++) {
			const struct report_builds *b = &r->ann[i].builds;
			size_t j;
			for (j = 0; j < i; j++)
				if (!strcmp(r->ann[j].index, r->ann[i].index) &&
				    !strcmp(ann_storage(&r->ann[j]), ann_storage(&r->ann[i])) &&
				    json_equal(c->a_build[j], c->a_build[i]))
					break;
			if (j < i || b->n < 2)
				continue;
			char l[64];
			setting_text(c->a_build[i], s1, sizeof(s1));
			o_puts(o, "- ");
			o_md(o, ann_label(l, sizeof(l), &r->ann[i]));
			o_puts(o, " ");
			o_md(o, s1);
			o_printf(o, " over %d builds: build %.2f s (%.2f–%.2f)", b->n, b->build_med,
				 b->build_min, b->build_max);
			if (isfinite(b->recall_med))
				o_printf(o, ", recall@10 %.3f (%.3f–%.3f) at %s", b->recall_med,
					 b->recall_min, b->recall_max, b->search_json);
			o_puts(o, ".\n");
		}
		o_puts(o, "\n");
	}
}

/* The exact search's time, then corpus and model, machine, settings (write_facts). */
static void md_exact_facts(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char num[64];

	o_puts(o, "## Exact search\n\n");
	o_printf(o, "Exact top-k for all queries (client-side BLAS): %s s.\n\n",
		 fmt_num(num, sizeof(num), "%.2f", r->exact_seconds));

	static const struct facts_format md_facts = { md_section, md_kv };
	write_facts(c, o, &md_facts);
}

/* What changed since the previous report, regressions first. */
static void md_changes(struct ctx *c, struct out *o)
{
	char s1[512];

	o_puts(o, "\n## Changes since the previous report\n\n");
	if (!c->prev) {
		o_printf(o, "No deltas: %s.\n", c->no_delta_reason ? c->no_delta_reason : "none");
	} else {
		o_printf(o, "Compared with report `%s`.", c->prev_name);
		if (c->threshold > 0)
			o_printf(o, " Regressions (nDCG@10 or recall@10 down by more than %g): %d.",
				 c->threshold, c->n_regressions);
		o_puts(o, "\n");
		size_t i;
		json_t *g;
		json_array_foreach(json_object_get(c->deltas, "regressions"), i, g) {
			int is_q = json_object_get(g, "method") != NULL;
			o_puts(o, "\n- **regression**: ");
			o_md(o, json_string_value(json_object_get(g, is_q ? "method" : "index")));
			if (!is_q) {
				setting_text(json_object_get(g, "build"), s1, sizeof(s1));
				o_puts(o, " (");
				o_md(o, s1);
				o_puts(o, ")");
			}
			setting_text(json_object_get(g, is_q ? "setting" : "search"), s1, sizeof(s1));
			o_puts(o, " ");
			o_md(o, s1);
			o_printf(o, ": %s %.3f -> %.3f", json_string_value(json_object_get(g, "metric")),
				 jnum(g, "previous"), jnum(g, "current"));
		}
		o_puts(o, "\n");
	}
}

void write_md(struct ctx *c, struct out *o)
{
	md_head(c, o);
	md_quality(c, o);
	md_ann(c, o);
	md_exact_facts(c, o);
	md_changes(c, o);
}
