/*
 * report_data.c — the machine-readable files of a report: results.json (every figure, the
 * deltas and regressions, for dashboards and the next run's comparison) and results.csv (one
 * row per quality or ANN figure).
 */
#include "report_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- results.json ------------------------------------------------------------------------ */

int build_json(struct ctx *c, char **text)
{
	const struct report *r = c->r;
	int rc = RL_ENOMEM;
	json_t *root = NULL, *settings = NULL, *quality = NULL, *ann = NULL;

	settings = json_pack("{s:i, s:o, s:o, s:i}", "k", r->k, "queries_file",
			     jstr(r->queries_file), "qrels_file", jstr(r->qrels_file), "n_queries",
			     r->n_queries);
	if (!settings || json_object_update(settings, c->extra_settings))
		goto out;
	quality = json_array();
	ann = json_array();
	if (!quality || !ann)
		goto out;
	for (size_t i = 0; i < r->n_quality; i++) {
		const struct report_quality *q = &r->quality[i];
		json_t *o = json_pack("{s:s, s:O, s:o, s:o, s:o, s:i}", "method", q->method, "setting",
				      c->q_setting[i], "ndcg@10", jreal(q->ndcg10), "mrr@10",
				      jreal(q->mrr10), "recall@100", jreal(q->recall100), "n_queries",
				      q->n_queries);
		if (!o || json_array_append_new(quality, o))
			goto out;
	}
	json_t *targets = json_array();
	if (!targets)
		goto out;
	for (size_t t = 0; t < REPORT_N_TARGETS; t++) {
		long i = ann_cheapest(r, report_targets[t]);
		json_t *o = i < 0 ? json_pack("{s:f, s:n}", "recall", report_targets[t], "row") :
			json_pack("{s:f, s:I, s:s, s:s, s:O, s:O, s:o, s:o, s:o, s:o, s:o}", "recall",
				  report_targets[t], "row", (json_int_t)i, "index", r->ann[i].index,
				  "storage", ann_storage(&r->ann[i]), "build", c->a_build[i], "search",
				  c->a_search[i], "recall@10", jreal(r->ann[i].recall10), "qps_1",
				  jreal(r->ann[i].qps_1), "p99_ms", jreal(r->ann[i].p99_ms), "build_s",
				  jreal(r->ann[i].build_s), "index_bytes",
				  r->ann[i].index_bytes < 0 ? json_null() :
				  json_integer(r->ann[i].index_bytes));
		if (!o || json_array_append_new(targets, o)) {
			json_decref(targets);
			goto out;
		}
	}
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		const struct report_builds *b = &a->builds;
		json_t *builds = b->n > 1 ? json_pack("{s:i, s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o}, s:o}",
			"n", b->n, "build_s", "median", jreal(b->build_med), "min", jreal(b->build_min),
			"max", jreal(b->build_max), "recall@10", "median", jreal(b->recall_med), "min",
			jreal(b->recall_min), "max", jreal(b->recall_max), "search",
			b->search_json[0] ? json_loads(b->search_json, 0, NULL) : json_null())
					  : json_null();
		json_t *o = json_pack(
			"{s:s, s:O, s:o, s:o, s:O, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:b, s:b}", "index",
			a->index, "build", c->a_build[i], "build_s", jreal(a->build_s), "index_bytes",
			a->index_bytes < 0 ? json_null() : json_integer(a->index_bytes), "search",
			c->a_search[i], "recall@10", jreal(a->recall10), "p50_ms", jreal(a->p50_ms),
			"p95_ms", jreal(a->p95_ms), "p99_ms", jreal(a->p99_ms), "qps_1",
			jreal(a->qps_1), "qps_n", jreal(a->qps_n), "n_conn", a->n_conn, "seqscan",
			a->seqscan != 0, "forced_index", a->forced != 0);
		if (o && (json_object_set_new(o, "storage", json_string(ann_storage(a))) ||
			  json_object_set_new(o, "pareto", json_boolean(ann_pareto(r, i))) ||
			  json_object_set_new(o, "builds", builds ? builds : json_null()))) {
			json_decref(o);
			o = NULL;
		}
		if (!o || json_array_append_new(ann, o)) {
			json_decref(targets);
			goto out;
		}
	}
	root = json_pack(
		"{s:s, s:s, s:{s:o, s:I, s:I, s:o, s:i}, s:{s:o, s:O}, s:{s:i, s:I, s:s, s:s, s:o, s:o},"
		" s:O, s:O, s:O, s:{s:o}, s:o}",
		"created_at", c->created_at, "report", c->stamp,
		"corpus", "name", jstr(r->corpus_name), "documents", (json_int_t)r->documents,
		"chunks", (json_int_t)r->chunks, "distance", jstr(r->distance), "dim", r->dim,
		"model", "name", jstr(r->model_name), "settings", c->model_settings,
		"machine", "cpus", r->cpus, "ram_bytes", (json_int_t)r->ram_bytes, "cpu_model",
		r->cpu_model, "os", r->os, "postgresql", jstr(r->pg_version), "pgvector",
		jstr(r->pgvector_version),
		"settings", settings, "quality", quality, "ann", ann,
		"exact", "seconds", jreal(r->exact_seconds), "targets", targets);
	if (!root)
		goto out;
	if (c->deltas && json_object_set(root, "deltas", c->deltas))
		goto out;
	*text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	if (!*text)
		goto out;
	rc = 0;
out:
	if (rc)
		log_error("report: cannot build results.json (out of memory)");
	json_decref(root);
	json_decref(settings);
	json_decref(quality);
	json_decref(ann);
	return rc;
}

/* ---- results.csv ----------------------------------------------------------------------- */

static void csv_num(struct out *o, double v)
{
	o_puts(o, ",");
	if (isfinite(v))
		o_printf(o, "%.10g", v);
}

static void csv_json(struct out *o, const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	o_puts(o, ",");
	if (!s) {
		o->err = RL_ENOMEM;
		return;
	}
	o_csv(o, s);
	free(s);
}

void write_csv(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	o_puts(o, "kind,method,setting,build,search,ndcg@10,mrr@10,recall@100,n_queries,"
		  "recall@10,p50_ms,p95_ms,p99_ms,qps_1,qps_n,n_conn,build_s,index_bytes,seqscan,"
		  "storage,pareto\r\n");
	for (size_t i = 0; i < r->n_quality; i++) {
		const struct report_quality *q = &r->quality[i];
		o_puts(o, "quality,");
		o_csv(o, q->method);
		csv_json(o, c->q_setting[i]);
		o_puts(o, ",,");
		csv_num(o, q->ndcg10);
		csv_num(o, q->mrr10);
		csv_num(o, q->recall100);
		o_printf(o, ",%d,,,,,,,,,,,,\r\n", q->n_queries);
	}
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		o_puts(o, "ann,");
		o_csv(o, a->index);
		o_puts(o, ",");
		csv_json(o, c->a_build[i]);
		csv_json(o, c->a_search[i]);
		o_puts(o, ",,,,");
		csv_num(o, a->recall10);
		csv_num(o, a->p50_ms);
		csv_num(o, a->p95_ms);
		csv_num(o, a->p99_ms);
		csv_num(o, a->qps_1);
		csv_num(o, a->qps_n);
		o_printf(o, ",%d", a->n_conn);
		csv_num(o, a->build_s);
		o_puts(o, ",");
		if (a->index_bytes >= 0)
			o_printf(o, "%lld", a->index_bytes);
		o_printf(o, ",%d,%s,%d\r\n", a->seqscan ? 1 : 0, ann_storage(a), ann_pareto(r, i));
	}
}
