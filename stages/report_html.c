/*
 * report_html.c — report.html: one self-contained page (inline CSS and SVG, no JavaScript, no
 * external assets), so a report stays readable when mailed or archived years later; the plots
 * are report_svg.c's.
 */
#include "report_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- report.html --------------------------------------------------------------------------- */

static const char html_css[] =
	"body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;"
	"background:#f6f7f9;margin:0}"
	"main{max-width:1500px;margin:0 auto;padding:24px 28px 60px;background:#fff;"
	"box-shadow:0 0 0 1px #e3e6ea}"
	"h1{font-size:1.6em;margin:.2em 0 .1em}h2{font-size:1.25em;margin-top:2em;"
	"border-bottom:1px solid #e3e6ea;padding-bottom:.2em}h3{font-size:1.05em;margin-top:1.4em}"
	".meta{color:#5b6472;margin-top:0}"
	".summary{background:#f1f5fb;border-left:4px solid #3a6fb0;padding:8px 16px}"
	".summary li{margin:.2em 0}"
	"table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}"
	"th,td{padding:4px 8px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}"
	"th{background:#f3f4f6;font-weight:600;white-space:nowrap}td{white-space:nowrap}"
	"td.s{white-space:normal;min-width:8em;max-width:22em}"
	"td.n,th.n{text-align:right}.tw{overflow-x:auto}"
	"tr.seq td{color:#8a3b12;background:#fff6ef}"
	".d{font-size:.85em;margin-left:.3em}.better{color:#17803d}.worse{color:#b42318}"
	".flag.new{background:#e0ecff;color:#1e4f9a}"
	".flag{display:inline-block;font-size:.78em;padding:0 6px;border-radius:8px;"
	"background:#fde5d4;color:#8a3b12;margin-left:.4em}"
	".reg{color:#b42318;font-weight:600}"
	"figure{margin:1em 0 2em}figcaption{color:#5b6472;font-size:.9em;max-width:760px}"
	"svg{max-width:100%;height:auto;display:block}"
	"dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 18px}"
	"dl.kv dt{color:#5b6472}dl.kv dd{margin:0;overflow-wrap:anywhere}"
	"code{font-size:.92em}";

/* A delta span; better_up = 1 when a rise is good (recall, QPS), 0 when bad (latency). */
static void html_delta(struct out *o, int matched, double d, const char *f, int better_up)
{
	char s[64];
	if (!matched || !*fmt_delta(s, sizeof(s), f, d))
		return;
	o_printf(o, "<span class=\"d %s\">%s</span>", (d > 0) == (better_up != 0) ? "better" : "worse",
		 s + 1);
}

static void html_num(struct out *o, const char *f, double v, int matched, double d,
		     const char *df, int better_up)
{
	char s[64];
	o_printf(o, "<td class=\"n\">%s", fmt_num(s, sizeof(s), f, v));
	html_delta(o, matched, d, df, better_up);
	o_puts(o, "</td>");
}

static void html_td(struct out *o, const char *s)
{
	o_puts(o, "<td>");
	o_html(o, s && *s ? s : NA);
	o_puts(o, "</td>");
}

/* A settings cell: wraps, so a wide table still fits its page. */
static void html_ts(struct out *o, const char *s)
{
	o_puts(o, "<td class=\"s\">");
	o_html(o, s && *s ? s : NA);
	o_puts(o, "</td>");
}

static void html_kv(struct out *o, const char *k, const char *v)
{
	o_puts(o, "<dt>");
	o_html(o, k);
	o_puts(o, "</dt><dd>");
	o_html(o, v && *v ? v : NA);
	o_puts(o, "</dd>\n");
}

static void html_section(struct out *o, const char *title, int first)
{
	o_puts(o, first ? "" : "</dl>\n");
	o_printf(o, "<h2>%s</h2>\n<dl class=\"kv\">\n", title);
}

static void html_summary(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[256], s2[256], num[64];
	char types[16][64];

	o_puts(o, "<section class=\"summary\"><ul>\n");
	long bq = best_quality(r);
	if (bq >= 0) {
		setting_text(c->q_setting[bq], s1, sizeof(s1));
		o_printf(o, "<li>Best nDCG@10: <strong>%.3f</strong> with ", r->quality[bq].ndcg10);
		o_html(o, r->quality[bq].method);
		if (s1[0]) {
			o_puts(o, " (");
			o_html(o, s1);
			o_puts(o, ")");
		}
		o_printf(o, " over %d queries.</li>\n", r->quality[bq].n_queries);
	} else {
		o_puts(o, "<li>Retrieval quality was not measured (no qrels file).</li>\n");
	}
	size_t nt = index_types(r, types, RL_ARRAY_LEN(types));
	if (!nt)
		o_puts(o, "<li>No vector index was built.</li>\n");
	for (size_t t = 0; t < nt; t++) {
		int reached;
		long i = headline_ann(r, types[t], &reached);
		o_puts(o, "<li>");
		o_html(o, types[t]);
		if (i < 0) {
			o_puts(o, ": every setting fell back to a sequential scan or has no recall.</li>\n");
			continue;
		}
		const struct report_ann *a = &r->ann[i];
		setting_text(c->a_search[i], s1, sizeof(s1));
		setting_text(c->a_build[i], s2, sizeof(s2));
		o_printf(o, ": %s <strong>%.3f</strong> at <strong>%s</strong> QPS with ",
			 reached ? "fastest setting reaching recall@10 ≥ 0.95:" :
				   "no setting reached recall@10 0.95; best recall@10",
			 a->recall10, fmt_num(num, sizeof(num), "%.0f", plot_qps(a)));
		o_html(o, s1[0] ? s1 : "default search settings");
		o_puts(o, " (");
		o_html(o, s2[0] ? s2 : "default build");
		o_printf(o, "), p99 %s ms.</li>\n", fmt_ms(num, sizeof(num), a->p99_ms));
	}
	for (size_t t = 0; nt && t < REPORT_N_TARGETS; t++) {
		long i = ann_cheapest(r, report_targets[t]);
		o_printf(o, "<li>Cheapest setting reaching recall@%d ≥ %.2f: ", r->k > 0 ? r->k : 10,
			 report_targets[t]);
		if (i < 0) {
			o_puts(o, "none reached it.</li>\n");
			continue;
		}
		const struct report_ann *a = &r->ann[i];
		setting_text(c->a_search[i], s1, sizeof(s1));
		setting_text(c->a_build[i], s2, sizeof(s2));
		o_puts(o, "<strong>");
		o_html(o, ann_label(num, sizeof(num), a));
		o_puts(o, "</strong> ");
		o_html(o, s2[0] ? s2 : "default build");
		o_puts(o, ", ");
		o_html(o, s1[0] ? s1 : "default search settings");
		o_printf(o, ": recall %.3f at <strong>%s</strong> QPS", a->recall10,
			 fmt_num(num, sizeof(num), "%.0f", plot_qps(a)));
		o_printf(o, ", p99 %s ms", fmt_ms(num, sizeof(num), a->p99_ms));
		o_printf(o, ", build %s s", fmt_num(num, sizeof(num), "%.1f", a->build_s));
		o_printf(o, ", %s MB.</li>\n", fmt_mb(num, sizeof(num), a->index_bytes));
	}
	if (n_seqscan(r))
		o_printf(o, "<li><span class=\"reg\">%zu ANN setting(s) fell back to a sequential "
			    "scan</span>: flagged in the tables, drawn as crosses, kept off the "
			    "frontier.</li>\n", n_seqscan(r));
	if (n_forced(r))
		o_printf(o, "<li>%zu ANN setting(s) <em>index forced</em>: the planner preferred a "
			    "sequential scan, so they were measured with <code>enable_seqscan = "
			    "off</code> in the same <code>SET LOCAL</code> as the search setting.</li>\n",
			 n_forced(r));
	if (c->prev) {
		o_puts(o, "<li>Compared with report <code>");
		o_html(o, c->prev_name);
		o_puts(o, "</code>: ");
		if (c->threshold > 0 && c->n_regressions)
			o_printf(o, "<span class=\"reg\">%d regression(s)</span> beyond %g.",
				 c->n_regressions, c->threshold);
		else if (c->threshold > 0)
			o_printf(o, "no regression beyond %g.", c->threshold);
		else
			o_puts(o, "changes are shown in parentheses.");
		o_puts(o, "</li>\n");
	}
	o_puts(o, "</ul></section>\n");
}

/* The page head, the title line and the summary. */
static void html_head(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;

	o_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		  "<title>ragload report: ");
	o_html(o, r->corpus_name ? r->corpus_name : "corpus");
	o_printf(o, " (%s)</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n", c->stamp,
		 html_css);

	o_puts(o, "<h1>ragload report: ");
	o_html(o, r->corpus_name ? r->corpus_name : "corpus");
	o_printf(o, "</h1>\n<p class=\"meta\">Created %s &middot; %lld documents &middot; %lld "
		    "chunks &middot; model <code>", c->created_at, r->documents, r->chunks);
	o_html(o, r->model_name ? r->model_name : NA);
	o_printf(o, "</code> (d = %d, ", r->dim);
	o_html(o, r->distance ? r->distance : NA);
	o_puts(o, " distance)</p>\n");
	html_summary(c, o);
}

/* Retrieval quality, one row per method and setting. */
static void html_quality(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[256];

	/* quality */
	o_puts(o, "<h2>Retrieval quality</h2>\n");
	if (!r->n_quality) {
		o_puts(o, "<p>Not measured: no qrels file was given.</p>\n");
	} else {
		o_puts(o, "<p class=\"meta\">Document level (a document ranks by its best chunk), "
			  "graded gains as trec_eval's ndcg_cut.</p>\n<div class=\"tw\"><table>\n<thead><tr><th>Method</th>"
			  "<th>Setting</th><th class=\"n\">nDCG@10</th><th class=\"n\">MRR@10</th>"
			  "<th class=\"n\">Recall@100</th><th class=\"n\">Queries</th></tr></thead>\n"
			  "<tbody>\n");
		for (size_t i = 0; i < r->n_quality; i++) {
			const struct report_quality *q = &r->quality[i];
			const struct qdelta *d = &c->qd[i];
			setting_text(c->q_setting[i], s1, sizeof(s1));
			o_puts(o, "<tr><td>");
			o_html(o, q->method);
			if (c->prev && !d->matched)
				o_puts(o, "<span class=\"flag new\">new</span>");
			o_puts(o, "</td>");
			html_td(o, s1);
			html_num(o, "%.3f", q->ndcg10, d->matched, d->ndcg10, "%+.3f", 1);
			html_num(o, "%.3f", q->mrr10, d->matched, d->mrr10, "%+.3f", 1);
			html_num(o, "%.3f", q->recall100, d->matched, d->recall100, "%+.3f", 1);
			o_printf(o, "<td class=\"n\">%d</td></tr>\n", q->n_queries);
		}
		o_puts(o, "</tbody>\n</table></div>\n");
	}
}

/* Which plan read embeddings for each setting and pass (settings.ann_plans), as a table. */
static void html_plans(struct ctx *c, struct out *o)
{
	char s1[256];
	json_t *plans = json_object_get(c->extra_settings, "ann_plans");
	if (!json_array_size(plans))
		return;
	size_t i, off = 0;
	json_t *p;
	json_array_foreach(plans, i, p) {
		const char *ix = json_string_value(json_object_get(p, "index"));
		const char *plan = json_string_value(json_object_get(p, "plan"));
		off += !ix || !plan || strcmp(ix, plan);
	}
	o_printf(o, "<details><summary>Query plans: %zu of %zu (setting, pass) read embeddings "
		    "through their index</summary>\n<div class=\"tw\"><table>\n<thead><tr><th>Index"
		    "</th><th>Search</th><th>Pass</th><th>Plan reads embeddings by</th></tr></thead>"
		    "\n<tbody>\n", json_array_size(plans) - off, json_array_size(plans));
	json_array_foreach(plans, i, p) {
		const char *ix = json_string_value(json_object_get(p, "index"));
		const char *plan = json_string_value(json_object_get(p, "plan"));
		int bad = !ix || !plan || strcmp(ix, plan);
		o_printf(o, "<tr%s>", bad ? " class=\"seq\"" : "");
		html_td(o, ix);
		setting_text(json_object_get(p, "search"), s1, sizeof(s1));
		html_ts(o, s1);
		html_td(o, json_string_value(json_object_get(p, "pass")));
		html_td(o, plan);
		o_puts(o, "</tr>\n");
	}
	o_puts(o, "</tbody>\n</table></div></details>\n");
}

/* The recall-versus-QPS plot of every index, recall against build time and size, then
 * latency and throughput, then build time and size with --repeat's spread. */
static void html_ann(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[256], s2[256], num[64], l[64];
	int k = r->k > 0 ? r->k : 10;

	/* ANN */
	o_puts(o, "<h2>Vector indexes: recall versus speed</h2>\n");
	if (!r->n_ann) {
		o_puts(o, "<p>Nothing to plot: no vector index was built.</p>\n");
		return;
	}
	o_puts(o, "<figure>\n");
	svg_plot(c, o);
	o_printf(o, "<figcaption>Recall@%d against the exact top %d (ties at the k-th distance "
		    "count as hits) versus queries per second on one connection (log scale): up and "
		    "to the right is better. One line per index, storage and build setting through "
		    "its search settings; the dashed line is the Pareto frontier (no other setting "
		    "is both faster and more accurate), its points ringed.</figcaption>\n</figure>\n",
		 k, k);
	o_puts(o, "<figure>\n");
	svg_cost(c, o, 0);
	o_puts(o, "<figcaption>The best recall each index reaches over its search settings "
		  "against its build time, coloured by storage.</figcaption>\n</figure>\n<figure>\n");
	svg_cost(c, o, 1);
	o_puts(o, "<figcaption>The same against the index's size on disk.</figcaption>\n"
		  "</figure>\n");
	{
		int common = common_n_conn(r);
		qps_n_header(s2, sizeof(s2), r);
		o_printf(o, "<h3>Latency and throughput</h3>\n<div class=\"tw\"><table>\n<thead><tr><th>Index</th>"
			    "<th>Build</th><th>Search</th><th class=\"n\">Recall@%d</th>"
			    "<th class=\"n\">p50 ms</th><th class=\"n\">p95 ms</th><th class=\"n\">p99 ms"
			    "</th><th class=\"n\">QPS (1 conn.)</th><th class=\"n\">%s</th></tr></thead>\n"
			    "<tbody>\n", k, s2);
		for (size_t i = 0; i < r->n_ann; i++) {
			const struct report_ann *a = &r->ann[i];
			const struct adelta *d = &c->ad[i];
			o_printf(o, "<tr%s><td>", a->seqscan ? " class=\"seq\"" : "");
			o_html(o, ann_label(l, sizeof(l), a));
			if (ann_pareto(r, i))
				o_puts(o, "<span class=\"flag new\">Pareto</span>");
			if (a->seqscan)
				o_puts(o, "<span class=\"flag\">seq scan, not ANN</span>");
			if (a->forced)
				o_puts(o, "<span class=\"flag\">index forced</span>");
			if (c->prev && !d->matched)
				o_puts(o, "<span class=\"flag new\">new</span>");
			o_puts(o, "</td>");
			setting_text(c->a_build[i], s1, sizeof(s1));
			html_ts(o, s1);
			setting_text(c->a_search[i], s1, sizeof(s1));
			html_ts(o, s1);
			html_num(o, "%.3f", a->recall10, d->matched, d->recall10, "%+.3f", 1);
			o_printf(o, "<td class=\"n\">%s", fmt_ms(num, sizeof(num), a->p50_ms));
			html_delta(o, d->matched, d->p50_ms, "%+.2f", 0);
			o_printf(o, "</td><td class=\"n\">%s", fmt_ms(num, sizeof(num), a->p95_ms));
			html_delta(o, d->matched, d->p95_ms, "%+.2f", 0);
			o_printf(o, "</td><td class=\"n\">%s", fmt_ms(num, sizeof(num), a->p99_ms));
			html_delta(o, d->matched, d->p99_ms, "%+.2f", 0);
			o_puts(o, "</td>");
			html_num(o, "%.0f", a->qps_1, d->matched, d->qps_1, "%+.0f", 1);
			o_printf(o, "<td class=\"n\">%s", qps_n_text(s1, sizeof(s1), a, common));
			html_delta(o, d->matched, d->qps_n, "%+.0f", 1);
			o_puts(o, "</td></tr>\n");
		}
		o_puts(o, "</tbody>\n</table></div>\n<p class=\"meta\">QPS: the median of timed "
			  "passes over every query, repeated for a minimum time per setting.</p>\n");
		html_plans(c, o);

		/* one row per (index, storage, build): the build cost is paid once, whatever the
		 * search; --repeat's builds as median (min–max) */
		o_puts(o, "<h3>Build time and size</h3>\n<div class=\"tw\"><table>\n<thead><tr><th>Index</th>"
			  "<th>Build</th><th class=\"n\">Build s</th><th class=\"n\">Size MB</th>"
			  "<th class=\"n\">Builds</th><th class=\"n\">Build s min–max</th>"
			  "<th class=\"n\">Recall@10 median (min–max)</th><th>at</th></tr>"
			  "</thead>\n<tbody>\n");
		for (size_t i = 0; i < r->n_ann; i++) {
			const struct report_ann *a = &r->ann[i];
			size_t j;
			for (j = 0; j < i; j++)
				if (strcmp(r->ann[j].index, a->index) == 0 &&
				    strcmp(ann_storage(&r->ann[j]), ann_storage(a)) == 0 &&
				    json_equal(c->a_build[j], c->a_build[i]))
					break;
			if (j < i)
				continue;
			const struct adelta *d = &c->ad[i];
			const struct report_builds *b = &a->builds;
			o_puts(o, "<tr>");
			html_td(o, ann_label(l, sizeof(l), a));
			setting_text(c->a_build[i], s1, sizeof(s1));
			html_ts(o, s1);
			html_num(o, "%.1f", a->build_s, d->matched, d->build_s, "%+.1f", 0);
			html_num(o, "%.1f", a->index_bytes < 0 ? NAN : (double)a->index_bytes / 1048576.0,
				 d->matched, d->index_bytes / 1048576.0, "%+.1f", 0);
			o_printf(o, "<td class=\"n\">%d</td>", b->n > 1 ? b->n : 1);
			if (b->n > 1) {
				o_printf(o, "<td class=\"n\">%.2f–%.2f</td>", b->build_min, b->build_max);
				if (isfinite(b->recall_med))
					o_printf(o, "<td class=\"n\">%.3f (%.3f–%.3f)</td>", b->recall_med,
						 b->recall_min, b->recall_max);
				else
					html_td(o, NULL);
				html_ts(o, b->search_json);
			} else {
				o_puts(o, "<td class=\"n\">" NA "</td><td class=\"n\">" NA "</td><td>" NA
					  "</td>");
			}
			o_puts(o, "</tr>\n");
		}
		o_puts(o, "</tbody>\n</table></div>\n<p class=\"meta\">MB = 2<sup>20</sup> bytes, as "
			  "PostgreSQL's pg_size_pretty. Builds: <code>ragload index --repeat N</code> "
			  "builds each index N times (pgvector's parallel HNSW build is not "
			  "deterministic) and measures each build's recall@10 on sample queries against "
			  "an exact scan; Build s is then their median.</p>\n");
	}
}

/* The exact search's time. */
static void html_exact(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char num[64];
	int k = r->k > 0 ? r->k : 10;

	/* the exact scan keeps as many chunks per query as the quality rankings need */
	double kc = jnum(c->extra_settings, "exact_chunks_per_query");
	int top = isfinite(kc) && kc > k ? (int)kc : k;
	o_printf(o, "<h2>Exact search</h2>\n<p>Exact top-%d chunks for all queries (client-side "
		    "BLAS; the top %d are the recall@%d ground truth): %s s.</p>\n", top, k, k,
		 fmt_num(num, sizeof(num), "%.2f", r->exact_seconds));
}

/* Corpus and model, machine, settings (write_facts). */
static void html_facts_all(struct ctx *c, struct out *o)
{
	static const struct facts_format html_facts = { html_section, html_kv };
	write_facts(c, o, &html_facts);
}

/* What changed since the previous report, regressions first. */
static void html_changes(struct ctx *c, struct out *o)
{
	char s1[256];

	o_puts(o, "</dl>\n<h2>Changes since the previous report</h2>\n");
	if (!c->prev) {
		o_puts(o, "<p>No deltas: ");
		o_html(o, c->no_delta_reason ? c->no_delta_reason : "none");
		o_puts(o, ".</p>\n");
	} else {
		o_puts(o, "<p>Compared with report <code>");
		o_html(o, c->prev_name);
		o_puts(o, "</code>; the changes are shown in parentheses in the tables above.</p>\n");
		size_t i;
		json_t *g;
		json_t *regs = json_object_get(c->deltas, "regressions");
		if (json_array_size(regs)) {
			o_puts(o, "<ul>\n");
			json_array_foreach(regs, i, g) {
				int is_q = json_object_get(g, "method") != NULL;
				o_puts(o, "<li class=\"reg\">Regression: ");
				o_html(o, json_string_value(json_object_get(g, is_q ? "method" : "index")));
				if (!is_q) {
					setting_text(json_object_get(g, "build"), s1, sizeof(s1));
					o_puts(o, " (");
					o_html(o, s1);
					o_puts(o, ")");
				}
				setting_text(json_object_get(g, is_q ? "setting" : "search"), s1,
					     sizeof(s1));
				o_puts(o, " ");
				o_html(o, s1);
				o_puts(o, ": ");
				o_html(o, json_string_value(json_object_get(g, "metric")));
				o_printf(o, " %.3f &rarr; %.3f</li>\n", jnum(g, "previous"),
					 jnum(g, "current"));
			}
			o_puts(o, "</ul>\n");
		}
	}
	o_puts(o, "</main>\n</body>\n</html>\n");
}

void write_html(struct ctx *c, struct out *o)
{
	html_head(c, o);
	html_quality(c, o);
	html_ann(c, o);
	html_exact(c, o);
	html_facts_all(c, o);
	html_changes(c, o);
}
