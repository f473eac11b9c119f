/*
 * report.c — the report stage: results.json, results.csv, report.md, report.html.
 *
 * What: one evaluation run becomes a timestamped directory under reports/, `latest` points at
 * the newest, older ones are pruned on request, and every number is shown next to its change
 * since the previous comparable report.
 * How (report_write reads like the table of contents):
 *   parse_fragments()  validate the caller's JSON fragments once
 *   load_previous()    latest/results.json, if it describes the same corpus and model
 *   compute_deltas()   match rows, flag regressions
 *   claim_stamp()      mkdir <stamp>/ — the name is ours even if two runs start in one ms
 *   write_*()          the four files, into a hidden temporary directory
 *   publish()          rename the temporary directory over the claimed one, repoint latest
 *   prune()            keep the newest `keep` timestamped directories
 * Why this way: a reader (a dashboard, the next run's delta) must never see a half-written
 * report, hence temp dir + rename and a symlink replaced by rename; pruning touches only names
 * that match the timestamp pattern, because reports/ may hold anything else a user put there.
 * The HTML draws its own SVG (no JavaScript, no external assets) so a report stays readable
 * when mailed or archived years later.
 */
#include "report.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define REPORT_FILE_LIMIT (64u << 20)  /* one output file; far above any real report */
#define STAMP_LEN 20                   /* 20261125T163012.345Z */
#define RECALL_GOAL 0.95               /* the summary names the fastest setting reaching it */

static const char *const report_files[] = { "results.json", "results.csv", "report.md",
					    "report.html" };

/* ---- sticky-error output buffer ------------------------------------------------------------
 * Every writer appends hundreds of pieces; the first failure is kept and later appends are
 * no-ops, so the writers read as straight-line code and check once at the end. */

struct out {
	struct buf b;
	int err;
};

static void o_init(struct out *o)
{
	buf_init(&o->b, REPORT_FILE_LIMIT);
	o->err = 0;
}

__attribute__((format(printf, 2, 3)))
static void o_printf(struct out *o, const char *fmt, ...)
{
	if (o->err)
		return;
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = RL_ERR;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		o->err = buf_append(&o->b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		o->err = RL_ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->err = buf_append(&o->b, big, (size_t)n);
	free(big);
}

static void o_puts(struct out *o, const char *s)
{
	if (!o->err)
		o->err = buf_append(&o->b, s, strlen(s));
}

static void o_html(struct out *o, const char *s)
{
	for (; s && *s && !o->err; s++) {
		switch (*s) {
		case '&': o_puts(o, "&amp;"); break;
		case '<': o_puts(o, "&lt;"); break;
		case '>': o_puts(o, "&gt;"); break;
		case '"': o_puts(o, "&quot;"); break;
		case '\'': o_puts(o, "&#39;"); break;
		default: o->err = buf_putc(&o->b, *s);
		}
	}
}

/* Markdown table cell text: no line breaks, no raw HTML, no table or emphasis syntax. */
static void o_md(struct out *o, const char *s)
{
	for (const char *p = s; p && *p && !o->err; p++) {
		char c = *p;
		if (c == '\n' || c == '\r' || c == '\t') {
			o->err = buf_putc(&o->b, ' ');
			continue;
		}
		/* an intraword underscore (ef_search) is literal in CommonMark; others may emphasise */
		int word_ = c == '_' && p > s && isalnum((unsigned char)p[-1]) &&
			    isalnum((unsigned char)p[1]);
		if (strchr("\\`*|<>[]", c) || (c == '_' && !word_))
			o->err = buf_putc(&o->b, '\\');
		if (!o->err)
			o->err = buf_putc(&o->b, c);
	}
}

/* RFC 4180: quote when the field holds a comma, quote or line break; double inner quotes. */
static void o_csv(struct out *o, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		o_puts(o, s);
		return;
	}
	o_puts(o, "\"");
	for (; *s && !o->err; s++) {
		if (*s == '"')
			o_puts(o, "\"");
		o->err = o->err ? o->err : buf_putc(&o->b, *s);
	}
	o_puts(o, "\"");
}

/* ---- number formatting ---------------------------------------------------------------------- */

#define NA "\xe2\x80\x93"  /* en dash: not measured */

static const char *fmt(char *s, size_t n, const char *f, double v)
{
	if (!isfinite(v))
		snprintf(s, n, "%s", NA);
	else
		snprintf(s, n, f, v);
	return s;
}

static const char *fmt_ms(char *s, size_t n, double v)
{
	return fmt(s, n, isfinite(v) && fabs(v) < 1.0 ? "%.3f" : "%.2f", v);
}

static const char *fmt_mb(char *s, size_t n, long long bytes)
{
	/* MB as PostgreSQL's pg_size_pretty counts them (2^20 bytes), to match \di+ */
	return fmt(s, n, "%.1f", bytes < 0 ? NAN : (double)bytes / 1048576.0);
}

/* " (+0.004)", or "" when there is no delta or it rounds to zero at the shown precision:
 * a wall of "(+0.000)" would hide the changes that matter. */
static const char *fmt_delta(char *s, size_t n, const char *f, double d)
{
	char num[48];  /* callers pass 64: room for " (" num ")" */
	s[0] = '\0';
	if (!isfinite(d))
		return s;
	snprintf(num, sizeof(num), f, d);
	if (strspn(num, "+-0.") == strlen(num))
		return s;
	snprintf(s, n, " (%s)", num);
	return s;
}

/* ---- JSON fragments --------------------------------------------------------------------- */

static json_t *jreal(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *parse_object(const char *s, const char *what, size_t row)
{
	if (!s || !*s)
		return json_object();
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j || !json_is_object(j)) {
		log_error("report: %s of row %zu is not a JSON object: %s", what, row,
			  j ? "not an object" : e.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* "m=16, ef_construction=64": a setting as people write it; "" for {}. */
static void setting_text(const json_t *obj, char *s, size_t n)
{
	const char *key;
	json_t *v;
	size_t len = 0;
	s[0] = '\0';
	json_object_foreach((json_t *)obj, key, v) {
		char val[128];
		if (json_is_string(v))
			snprintf(val, sizeof(val), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(val, sizeof(val), "%g", json_real_value(v));
		else {
			char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			snprintf(val, sizeof(val), "%s", d ? d : "?");
			free(d);
		}
		int w = snprintf(s + len, n - len, "%s%s=%s", len ? ", " : "", key, val);
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
}

static double jnum(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* ---- the run's context -------------------------------------------------------------------- */

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

static void ctx_release(struct ctx *c)
{
	for (size_t i = 0; c->q_setting && i < c->r->n_quality; i++)
		json_decref(c->q_setting[i]);
	for (size_t i = 0; c->a_build && i < c->r->n_ann; i++) {
		json_decref(c->a_build[i]);
		json_decref(c->a_search[i]);
	}
	free(c->q_setting);
	free(c->a_build);
	free(c->a_search);
	json_decref(c->model_settings);
	json_decref(c->extra_settings);
	json_decref(c->prev);
	json_decref(c->deltas);
	free(c->qd);
	free(c->ad);
}

static int parse_fragments(struct ctx *c)
{
	const struct report *r = c->r;
	c->q_setting = calloc(r->n_quality + 1, sizeof(json_t *));
	c->a_build = calloc(r->n_ann + 1, sizeof(json_t *));
	c->a_search = calloc(r->n_ann + 1, sizeof(json_t *));
	c->qd = calloc(r->n_quality + 1, sizeof(*c->qd));
	c->ad = calloc(r->n_ann + 1, sizeof(*c->ad));
	if (!c->q_setting || !c->a_build || !c->a_search || !c->qd || !c->ad)
		return RL_ENOMEM;
	for (size_t i = 0; i < r->n_quality; i++)
		if (!(c->q_setting[i] = parse_object(r->quality[i].setting_json, "setting_json", i)))
			return RL_ERR;
	for (size_t i = 0; i < r->n_ann; i++) {
		if (!(c->a_build[i] = parse_object(r->ann[i].build_json, "build_json", i)))
			return RL_ERR;
		if (!(c->a_search[i] = parse_object(r->ann[i].search_json, "search_json", i)))
			return RL_ERR;
	}
	if (!(c->model_settings = parse_object(r->model_json, "model_json", 0)))
		return RL_ERR;
	if (!(c->extra_settings = parse_object(r->settings_json, "settings_json", 0)))
		return RL_ERR;
	return 0;
}

/* ---- previous report and deltas ------------------------------------------------------------ */

static int json_same(json_t *a, json_t *b)
{
	if (!a)
		a = json_null();
	if (!b)
		b = json_null();
	return json_equal(a, b);
}

static int same_str(const json_t *j, const char *s)
{
	if (!s)
		return !j || json_is_null(j);
	return json_is_string(j) && strcmp(json_string_value(j), s) == 0;
}

static int same_int(const json_t *j, long long v)
{
	return json_is_integer(j) && json_integer_value(j) == v;
}

/* Reads latest/results.json. A missing one is normal (first run); an unreadable one is a
 * warning, never a failure: deltas are a convenience. */
static void load_previous(struct ctx *c, const char *dir)
{
	char path[4096], link[4096];
	json_error_t e;

	snprintf(path, sizeof(path), "%s/latest", dir);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		c->no_delta_reason = "there is no previous report";
		return;
	}
	link[n] = '\0';
	const char *base = strrchr(link, '/');
	snprintf(c->prev_name, sizeof(c->prev_name), "%.63s", base ? base + 1 : link);
	snprintf(path, sizeof(path), "%s/latest/results.json", dir);
	json_t *prev = json_load_file(path, 0, &e);
	if (!prev || !json_is_object(prev)) {
		if (access(path, F_OK) == 0)
			log_warn("report: %s: unreadable (%s); no deltas", path, e.text);
		c->no_delta_reason = "the previous report could not be read";
		json_decref(prev);
		return;
	}
	const struct report *r = c->r;
	json_t *corpus = json_object_get(prev, "corpus");
	json_t *model = json_object_get(prev, "model");
	if (!same_str(json_object_get(corpus, "name"), r->corpus_name) ||
	    !same_int(json_object_get(corpus, "documents"), r->documents) ||
	    !same_int(json_object_get(corpus, "chunks"), r->chunks) ||
	    !same_str(json_object_get(model, "name"), r->model_name)) {
		c->no_delta_reason = "the previous report is of a different corpus or model";
		json_decref(prev);
		return;
	}
	c->prev = prev;
}

/* cur - prev, where a difference within the 10 significant digits results.json keeps is 0:
 * the previous value was read back from text, so it carries that rounding. */
static double diff(double cur, double prev)
{
	if (!isfinite(cur) || !isfinite(prev))
		return NAN;
	double d = cur - prev;
	return fabs(d) <= 1e-9 * fmax(fabs(cur), fabs(prev)) ? 0.0 : d;
}

/* Records one regression: a quality row (method + setting) or an ANN row (index + build +
 * search; build != NULL). */
static int add_regression(struct ctx *c, const char *name, json_t *build, json_t *setting,
			  const char *metric, double prev, double cur)
{
	json_t *regs = json_object_get(c->deltas, "regressions");
	json_t *o = json_pack("{s:s, s:s, s:O, s:s, s:o, s:o, s:o}", "kind",
			      build ? "ann" : "quality", build ? "index" : "method", name,
			      build ? "search" : "setting", setting, "metric", metric, "previous",
			      jreal(prev), "current", jreal(cur), "delta", jreal(cur - prev));
	if (!o)
		return RL_ENOMEM;
	if (build && json_object_set(o, "build", build)) {
		json_decref(o);
		return RL_ENOMEM;
	}
	if (json_array_append_new(regs, o))  /* frees o on failure too */
		return RL_ENOMEM;
	c->n_regressions++;
	return 0;
}

/* A previous row of `array` matching on the given keys (json_equal: key order is irrelevant). */
static json_t *prev_row(json_t *array, const char *k1, json_t *v1, const char *k2, json_t *v2,
			const char *k3, json_t *v3)
{
	size_t i;
	json_t *row;
	json_array_foreach(array, i, row) {
		if (json_same(json_object_get(row, k1), v1) &&
		    json_same(json_object_get(row, k2), v2) &&
		    (!k3 || json_same(json_object_get(row, k3), v3)))
			return row;
	}
	return NULL;
}

static int compute_deltas(struct ctx *c)
{
	const struct report *r = c->r;
	json_t *qa = NULL, *aa = NULL;
	int rc = RL_ENOMEM;

	if (!c->prev)
		return 0;
	c->deltas = json_pack("{s:s, s:O, s:o, s:[], s:[], s:[]}", "previous", c->prev_name,
			      "previous_created_at",
			      json_object_get(c->prev, "created_at") ?
				      json_object_get(c->prev, "created_at") : json_null(),
			      "fail_on_regression", c->threshold > 0 ? json_real(c->threshold) :
									 json_null(),
			      "quality", "ann", "regressions");
	if (!c->deltas)
		goto out;
	qa = json_object_get(c->deltas, "quality");
	aa = json_object_get(c->deltas, "ann");

	for (size_t i = 0; i < r->n_quality; i++) {
		const struct report_quality *q = &r->quality[i];
		json_t *method = json_string(q->method);
		json_t *p = method ? prev_row(json_object_get(c->prev, "quality"), "method", method,
					      "setting", c->q_setting[i], NULL, NULL) : NULL;
		json_decref(method);
		if (!p)
			continue;
		struct qdelta *d = &c->qd[i];
		double pn = jnum(p, "ndcg@10");
		d->matched = 1;
		d->ndcg10 = diff(q->ndcg10, pn);
		d->mrr10 = diff(q->mrr10, jnum(p, "mrr@10"));
		d->recall100 = diff(q->recall100, jnum(p, "recall@100"));
		json_t *o = json_pack("{s:s, s:O, s:o, s:o, s:o}", "method", q->method, "setting",
				      c->q_setting[i], "ndcg@10", jreal(d->ndcg10), "mrr@10",
				      jreal(d->mrr10), "recall@100", jreal(d->recall100));
		if (!o || json_array_append_new(qa, o))
			goto out;
		if (c->threshold > 0 && isfinite(d->ndcg10) && -d->ndcg10 > c->threshold &&
		    add_regression(c, q->method, NULL, c->q_setting[i], "ndcg@10", pn, q->ndcg10))
			goto out;
	}
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		json_t *index = json_string(a->index);
		json_t *p = index ? prev_row(json_object_get(c->prev, "ann"), "index", index, "build",
					     c->a_build[i], "search", c->a_search[i]) : NULL;
		json_decref(index);
		if (!p)
			continue;
		struct adelta *d = &c->ad[i];
		double pr = jnum(p, "recall@10");
		double pb = jnum(p, "index_bytes");
		d->matched = 1;
		d->recall10 = diff(a->recall10, pr);
		d->p50_ms = diff(a->p50_ms, jnum(p, "p50_ms"));
		d->p95_ms = diff(a->p95_ms, jnum(p, "p95_ms"));
		d->p99_ms = diff(a->p99_ms, jnum(p, "p99_ms"));
		d->qps_1 = diff(a->qps_1, jnum(p, "qps_1"));
		d->qps_n = diff(a->qps_n, jnum(p, "qps_n"));
		d->build_s = diff(a->build_s, jnum(p, "build_s"));
		d->index_bytes = diff(a->index_bytes < 0 ? NAN : (double)a->index_bytes, pb);
		json_t *o = json_pack("{s:s, s:O, s:O, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
				      "index", a->index, "build", c->a_build[i], "search",
				      c->a_search[i], "recall@10", jreal(d->recall10), "p50_ms",
				      jreal(d->p50_ms), "p95_ms", jreal(d->p95_ms), "p99_ms",
				      jreal(d->p99_ms), "qps_1", jreal(d->qps_1), "qps_n",
				      jreal(d->qps_n), "build_s", jreal(d->build_s), "index_bytes",
				      isfinite(d->index_bytes) ? json_integer((json_int_t)d->index_bytes) :
								 json_null());
		if (!o || json_array_append_new(aa, o))
			goto out;
		if (c->threshold > 0 && isfinite(d->recall10) && -d->recall10 > c->threshold &&
		    add_regression(c, a->index, c->a_build[i], c->a_search[i], "recall@10", pr,
				   a->recall10))
			goto out;
	}
	if (json_object_set_new(c->deltas, "regressed", json_boolean(c->n_regressions > 0)))
		goto out;
	rc = 0;
out:
	if (rc)
		log_error("report: out of memory computing deltas");
	return rc;
}

/* ---- results.json ------------------------------------------------------------------------ */

static int build_json(struct ctx *c, char **text)
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
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		json_t *o = json_pack(
			"{s:s, s:O, s:o, s:o, s:O, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:b}", "index",
			a->index, "build", c->a_build[i], "build_s", jreal(a->build_s), "index_bytes",
			a->index_bytes < 0 ? json_null() : json_integer(a->index_bytes), "search",
			c->a_search[i], "recall@10", jreal(a->recall10), "p50_ms", jreal(a->p50_ms),
			"p95_ms", jreal(a->p95_ms), "p99_ms", jreal(a->p99_ms), "qps_1",
			jreal(a->qps_1), "qps_n", jreal(a->qps_n), "n_conn", a->n_conn, "seqscan",
			a->seqscan != 0);
		if (!o || json_array_append_new(ann, o))
			goto out;
	}
	root = json_pack(
		"{s:s, s:s, s:{s:o, s:I, s:I, s:o, s:i}, s:{s:o, s:O}, s:{s:i, s:I, s:s, s:s, s:o, s:o},"
		" s:O, s:O, s:O, s:{s:o}}",
		"created_at", c->created_at, "report", c->stamp,
		"corpus", "name", jstr(r->corpus_name), "documents", (json_int_t)r->documents,
		"chunks", (json_int_t)r->chunks, "distance", jstr(r->distance), "dim", r->dim,
		"model", "name", jstr(r->model_name), "settings", c->model_settings,
		"machine", "cpus", r->cpus, "ram_bytes", (json_int_t)r->ram_bytes, "cpu_model",
		r->cpu_model, "os", r->os, "postgresql", jstr(r->pg_version), "pgvector",
		jstr(r->pgvector_version),
		"settings", settings, "quality", quality, "ann", ann,
		"exact", "seconds", jreal(r->exact_seconds));
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

static void write_csv(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	o_puts(o, "kind,method,setting,build,search,ndcg@10,mrr@10,recall@100,n_queries,"
		  "recall@10,p50_ms,p95_ms,p99_ms,qps_1,qps_n,n_conn,build_s,index_bytes,seqscan\r\n");
	for (size_t i = 0; i < r->n_quality; i++) {
		const struct report_quality *q = &r->quality[i];
		o_puts(o, "quality,");
		o_csv(o, q->method);
		csv_json(o, c->q_setting[i]);
		o_puts(o, ",,");
		csv_num(o, q->ndcg10);
		csv_num(o, q->mrr10);
		csv_num(o, q->recall100);
		o_printf(o, ",%d,,,,,,,,,,\r\n", q->n_queries);
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
		o_printf(o, ",%d\r\n", a->seqscan ? 1 : 0);
	}
}

/* ---- summary facts shared by report.md and report.html ---------------------------------- */

/* The n_conn shared by every ann row, or -1 when they differ (then each cell says it). */
static int common_n_conn(const struct report *r)
{
	int n = r->n_ann ? r->ann[0].n_conn : 0;
	for (size_t i = 1; i < r->n_ann; i++)
		if (r->ann[i].n_conn != n)
			return -1;
	return n;
}

static const char *qps_n_text(char *s, size_t n, const struct report_ann *a, int common)
{
	char v[48];
	fmt(v, sizeof(v), "%.0f", a->qps_n);
	if (common < 0 && isfinite(a->qps_n))
		snprintf(s, n, "%s @%d", v, a->n_conn);
	else
		snprintf(s, n, "%s", v);
	return s;
}

static void qps_n_header(char *s, size_t n, const struct report *r)
{
	int common = common_n_conn(r);
	if (common > 0)
		snprintf(s, n, "QPS (%d conn.)", common);
	else
		snprintf(s, n, "QPS (N conn.)");
}

/* Index of the quality row with the best nDCG@10, or -1. */
static long best_quality(const struct report *r)
{
	long best = -1;
	for (size_t i = 0; i < r->n_quality; i++)
		if (isfinite(r->quality[i].ndcg10) &&
		    (best < 0 || r->quality[i].ndcg10 > r->quality[best].ndcg10))
			best = (long)i;
	return best;
}

static double plot_qps(const struct report_ann *a)
{
	return isfinite(a->qps_1) && a->qps_1 > 0 ? a->qps_1 : a->qps_n;
}

/* For one index type: the fastest non-seq-scan row reaching RECALL_GOAL, else the one with the
 * best recall; -1 when there is none. *reached tells which. */
static long headline_ann(const struct report *r, const char *index, int *reached)
{
	long fast = -1, best = -1;
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		if (strcmp(a->index, index) != 0 || a->seqscan || !isfinite(a->recall10))
			continue;
		if (a->recall10 >= RECALL_GOAL && isfinite(plot_qps(a)) &&
		    (fast < 0 || plot_qps(a) > plot_qps(&r->ann[fast])))
			fast = (long)i;
		if (best < 0 || a->recall10 > r->ann[best].recall10)
			best = (long)i;
	}
	*reached = fast >= 0;
	return fast >= 0 ? fast : best;
}

/* Distinct index types in first-seen order. */
static size_t index_types(const struct report *r, const char **types, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_ann; i++) {
		size_t j;
		for (j = 0; j < n; j++)
			if (strcmp(types[j], r->ann[i].index) == 0)
				break;
		if (j == n && n < max)
			types[n++] = r->ann[i].index;
	}
	return n;
}

static size_t n_seqscan(const struct report *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_ann; i++)
		n += r->ann[i].seqscan != 0;
	return n;
}

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
	o_printf(o, " %s%s |", fmt(a, sizeof(a), f, v), matched ? fmt_delta(b, sizeof(b), df, d) : "");
}

static void md_kv(struct out *o, const char *k, const char *v)
{
	o_puts(o, "|");
	md_cell(o, k);
	md_cell(o, v ? v : NA);
	o_puts(o, "\n");
}

static void write_md(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[512], s2[512], s3[512], num[64];

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
			o_puts(o, "| ");
			o_md(o, a->index);
			o_printf(o, "%s%s |", a->seqscan ? " **(seq scan, not ANN)**" : "",
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
			    "k-th distance counts as a hit. QPS on 1 connection is the x axis of the "
			    "plots in report.html.\n\n", r->k > 0 ? r->k : 10, r->k > 0 ? r->k : 10);
		if (n_seqscan(r))
			o_printf(o, "%zu setting(s) fell back to a sequential scan: their recall is not "
				    "the index's.\n\n", n_seqscan(r));
	}

	o_puts(o, "## Exact search\n\n");
	o_printf(o, "Exact top-k for all queries (client-side BLAS): %s s.\n\n",
		 fmt(num, sizeof(num), "%.2f", r->exact_seconds));

	o_puts(o, "## Corpus and model\n\n| | |\n|---|---|\n");
	md_kv(o, "Corpus", r->corpus_name);
	o_printf(o, "| Documents | %lld |\n| Chunks | %lld |\n", r->documents, r->chunks);
	md_kv(o, "Distance", r->distance);
	o_printf(o, "| Dimension | %d |\n", r->dim);
	md_kv(o, "Model", r->model_name);
	setting_text(c->model_settings, s1, sizeof(s1));
	md_kv(o, "Model settings", s1);

	o_puts(o, "\n## Machine\n\n| | |\n|---|---|\n");
	o_printf(o, "| CPUs | %d |\n", r->cpus);
	o_printf(o, "| RAM | %.1f GiB |\n", (double)r->ram_bytes / (1024.0 * 1024.0 * 1024.0));
	md_kv(o, "CPU model", r->cpu_model[0] ? r->cpu_model : NULL);
	md_kv(o, "OS", r->os[0] ? r->os : NULL);
	md_kv(o, "PostgreSQL", r->pg_version);
	md_kv(o, "pgvector", r->pgvector_version);

	o_puts(o, "\n## Settings\n\n| | |\n|---|---|\n");
	o_printf(o, "| k | %d |\n", r->k);
	md_kv(o, "Queries file", r->queries_file);
	md_kv(o, "Qrels file", r->qrels_file);
	o_printf(o, "| Queries | %d |\n", r->n_queries);
	const char *key;
	json_t *v;
	json_object_foreach(c->extra_settings, key, v) {
		json_t *one = json_pack("{s:O}", key, v);
		setting_text(one, s1, sizeof(s1));
		json_decref(one);
		const char *eq = strchr(s1, '=');
		md_kv(o, key, eq ? eq + 1 : s1);
	}

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

/* ---- report.html --------------------------------------------------------------------------- */

static const char html_css[] =
	"body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;"
	"background:#f6f7f9;margin:0}"
	"main{max-width:1240px;margin:0 auto;padding:24px 28px 60px;background:#fff;"
	"box-shadow:0 0 0 1px #e3e6ea}"
	"h1{font-size:1.6em;margin:.2em 0 .1em}h2{font-size:1.25em;margin-top:2em;"
	"border-bottom:1px solid #e3e6ea;padding-bottom:.2em}h3{font-size:1.05em;margin-top:1.4em}"
	".meta{color:#5b6472;margin-top:0}"
	".summary{background:#f1f5fb;border-left:4px solid #3a6fb0;padding:8px 16px}"
	".summary li{margin:.2em 0}"
	"table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}"
	"th,td{padding:4px 8px;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}"
	"th{background:#f3f4f6;font-weight:600;white-space:nowrap}td{white-space:nowrap}"
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
	"dl.kv dt{color:#5b6472}dl.kv dd{margin:0}"
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
	o_printf(o, "<td class=\"n\">%s", fmt(s, sizeof(s), f, v));
	html_delta(o, matched, d, df, better_up);
	o_puts(o, "</td>");
}

static void html_td(struct out *o, const char *s)
{
	o_puts(o, "<td>");
	o_html(o, s && *s ? s : NA);
	o_puts(o, "</td>");
}

/* ---- SVG recall-versus-QPS plot ---------------------------------------------------------- */

#define PW 880.0   /* svg width; the height grows with the legend */
#define PL 64.0    /* plot area left */
#define PR 800.0   /* plot area right: labels of the rightmost points need room */
#define PT 20.0
#define PB 340.0   /* plot area bottom */
#define LEGEND_Y (PB + 62)
#define LEGEND_LINE 16.0
#define LEGEND_FRONTIER_W 120.0

static const char *const palette[] = { "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
				       "#e377c2", "#17becf", "#7f7f7f" };

struct pt {
	size_t row;
	double qps, recall;
	int series;          /* index of its build among this index type's builds */
	int on_front;
};

/* ---- label placement ------------------------------------------------------------------------
 * Sweeps put many points close together; each label takes the candidate position (right,
 * left, above, below the point) that overlaps least with the markers and the labels already
 * placed, frontier points first, so the settings that matter stay readable. */

struct box {
	double x0, y0, x1, y1;
};

static const struct {
	int anchor;  /* -1 end, 0 middle, 1 start */
	double dx, dy;
} label_pos[] = { { 1, 7, -5 }, { 1, 7, 14 }, { -1, -7, -5 }, { -1, -7, 14 },
		  { 0, 0, -9 }, { 0, 0, 19 } };

static double overlap(struct box a, struct box b)
{
	double w = fmin(a.x1, b.x1) - fmax(a.x0, b.x0);
	double h = fmin(a.y1, b.y1) - fmax(a.y0, b.y0);
	return w > 0 && h > 0 ? w * h : 0.0;
}

static struct box label_box(double x, double y, int pos, double w)
{
	double lx = x + label_pos[pos].dx, by = y + label_pos[pos].dy;
	double x0 = label_pos[pos].anchor > 0 ? lx : label_pos[pos].anchor < 0 ? lx - w : lx - w / 2;
	return (struct box){ x0, by - 10, x0 + w, by + 3 };
}

/* Chooses a position for a label of width w at (x, y); adds its box to placed[*np]. */
static int label_place(double x, double y, double w, struct box *placed, size_t *np,
		       struct box area)
{
	int best = 0;
	double best_cost = INFINITY;
	for (int p = 0; p < (int)RL_ARRAY_LEN(label_pos); p++) {
		struct box b = label_box(x, y, p, w);
		/* leaving the drawing costs more than any overlap */
		double cost = (b.x0 < area.x0 || b.x1 > area.x1 || b.y0 < area.y0 || b.y1 > area.y1) ?
				      1e9 : 0.0;
		for (size_t i = 0; i < *np; i++)
			cost += overlap(b, placed[i]);
		if (cost < best_cost) {
			best_cost = cost;
			best = p;
		}
	}
	placed[(*np)++] = label_box(x, y, best, w);
	return best;
}

static int pt_cmp_qps_desc(const void *x, const void *y)
{
	const struct pt *a = x, *b = y;
	if (a->qps != b->qps)
		return a->qps > b->qps ? -1 : 1;
	return (a->recall < b->recall) - (a->recall > b->recall);
}

static int pt_cmp_qps_asc(const void *x, const void *y)
{
	return -pt_cmp_qps_desc(x, y);
}

static const char *qps_label(char *s, size_t n, double v)
{
	if (v >= 1e6)
		snprintf(s, n, "%gM", v / 1e6);
	else if (v >= 1e3)
		snprintf(s, n, "%gk", v / 1e3);
	else
		snprintf(s, n, "%g", v);
	return s;
}

/* Width of a legend entry for build text s (empty = "default build"); 6.2 px per character
 * is a generous average for an 11 px sans-serif. */
static double legend_width(const char *s)
{
	return 22 + 6.2 * (double)(s[0] ? strlen(s) : strlen("default build"));
}

static void svg_plot(struct ctx *c, struct out *o, const char *index)
{
	const struct report *r = c->r;
	struct pt *pts = calloc(r->n_ann + 1, sizeof(*pts));
	struct pt *front = calloc(r->n_ann + 1, sizeof(*front));
	size_t *builds = calloc(r->n_ann + 1, sizeof(*builds));  /* first row of each build */
	struct box *placed = calloc(2 * r->n_ann + 1, sizeof(*placed));
	int *where = calloc(r->n_ann + 1, sizeof(*where));
	size_t n = 0, nf = 0, nb = 0, skipped = 0, nseq = 0;
	char s1[256], s2[256];

	if (!pts || !front || !builds || !placed || !where) {
		o->err = RL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		if (strcmp(a->index, index) != 0)
			continue;
		double q = plot_qps(a);
		if (!isfinite(q) || q <= 0 || !isfinite(a->recall10)) {
			skipped++;
			continue;
		}
		size_t b;
		for (b = 0; b < nb; b++)
			if (json_equal(c->a_build[builds[b]], c->a_build[i]))
				break;
		if (b == nb)
			builds[nb++] = i;
		pts[n++] = (struct pt){ .row = i, .qps = q, .recall = a->recall10, .series = (int)b };
		nseq += a->seqscan != 0;
	}
	if (n == 0) {
		o_puts(o, "<p>No ");
		o_html(o, index);
		o_puts(o, " setting has both a recall and a QPS measurement to plot.</p>\n");
		goto out;
	}

	/* Pareto frontier: walking from the fastest, keep each point that beats every faster one's
	 * recall. Seq-scan fallbacks are not the index's performance and stay off it. */
	memcpy(front, pts, n * sizeof(*pts));
	qsort(front, n, sizeof(*front), pt_cmp_qps_desc);
	double best = -1.0;
	for (size_t i = 0; i < n; i++) {
		if (r->ann[front[i].row].seqscan || front[i].recall <= best)
			continue;
		best = front[i].recall;
		front[nf++] = front[i];
		for (size_t j = 0; j < n; j++)
			if (pts[j].row == front[i].row)
				pts[j].on_front = 1;
	}
	qsort(front, nf, sizeof(*front), pt_cmp_qps_asc);

	/* axes: x log10 over whole decades, y linear from a round value below the worst recall */
	double qmin = pts[0].qps, qmax = pts[0].qps, rmin = pts[0].recall;
	for (size_t i = 1; i < n; i++) {
		qmin = fmin(qmin, pts[i].qps);
		qmax = fmax(qmax, pts[i].qps);
		rmin = fmin(rmin, pts[i].recall);
	}
	double x0 = floor(log10(qmin)), x1 = ceil(log10(qmax));
	if (x1 <= x0)
		x1 = x0 + 1;
	double y1 = 1.0, y0 = floor(fmin(rmin, 0.999) * 10.0) / 10.0;
	if (y0 < 0)
		y0 = 0;
	double yr = y1 - y0;
	double ystep = yr <= 0.1 + 1e-9 ? 0.02 : yr <= 0.3 + 1e-9 ? 0.05 : 0.1;
#define X(q) (PL + (log10(q) - x0) / (x1 - x0) * (PR - PL))
#define Y(v) (PB - ((v) - y0) / yr * (PB - PT))

	/* the legend's layout first: the svg's height depends on how many lines it wraps to */
	double lx = PL, ly = LEGEND_Y;
	for (size_t b = 0; b < nb; b++) {
		setting_text(c->a_build[builds[b]], s2, sizeof(s2));
		double w = legend_width(s2);
		if (lx + w > PW - 10) {
			lx = PL;
			ly += LEGEND_LINE;
		}
		lx += w + 12;
	}
	if (lx + LEGEND_FRONTIER_W + (nseq ? 200 : 0) > PW - 10)
		ly += LEGEND_LINE;
	double ph = ly + 12;

	o_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
		    "height=\"%.0f\" role=\"img\" aria-label=\"",
		 PW, ph, PW, ph);
	o_html(o, index);
	o_printf(o, ": recall@%d versus queries per second\" font-family=\"system-ui,sans-serif\" "
		    "font-size=\"11\">\n", r->k > 0 ? r->k : 10);
	o_printf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fcfcfd\" "
		    "stroke=\"#c9ced6\"/>\n", PL, PT, PR - PL, PB - PT);

	/* y grid and ticks */
	for (int i = 0;; i++) {
		double v = y0 + i * ystep;
		if (v > y1 + 1e-9)
			break;
		double y = Y(v);
		o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e9ee\"/>"
			    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%.2f</text>\n",
			 PL, y, PR, y, PL - 5, y, PL, y, PL - 8, y + 4, v);
	}
	/* x grid and ticks: decades, plus 2x and 5x when the range spans two decades or fewer */
	int minor = x1 - x0 <= 2;
	for (int e = (int)x0; e <= (int)x1; e++) {
		static const double mult[] = { 1, 2, 5 };
		for (size_t m = 0; m < (minor ? 3u : 1u); m++) {
			double q = mult[m] * pow(10.0, e);
			if (log10(q) > x1 + 1e-9)
				break;
			double x = X(q);
			o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
				    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>"
				    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">%s</text>\n",
				 x, PT, x, PB, m ? "#f0f2f5" : "#e6e9ee", x, PB, x, PB + 5, x, PB + 18,
				 qps_label(s1, sizeof(s1), q));
		}
	}
	o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">"
		    "queries per second, 1 connection (log scale)</text>\n",
		 (PL + PR) / 2, PB + 36);
	o_printf(o, "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\" "
		    "font-size=\"12\" fill=\"#222\">recall@%d</text>\n",
		 (PT + PB) / 2, r->k > 0 ? r->k : 10);

	/* frontier first, so points are drawn over it */
	if (nf > 1) {
		o_puts(o, "<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\" "
			  "stroke-linejoin=\"round\" points=\"");
		for (size_t i = 0; i < nf; i++)
			o_printf(o, "%s%.1f,%.1f", i ? " " : "", X(front[i].qps), Y(front[i].recall));
		o_puts(o, "\"/>\n");
	}

	/* markers occupy their spot before any label is placed */
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		double x = X(pts[i].qps), y = Y(pts[i].recall);
		placed[np++] = (struct box){ x - 5, y - 5, x + 5, y + 5 };
	}
	struct box area = { PL + 2, 2, PW - 2, PB - 2 };  /* keep off the tick labels */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if (pts[i].on_front == !pass) {
				setting_text(c->a_search[pts[i].row], s1, sizeof(s1));
				double w = 6.2 * (double)(strlen(s1[0] ? s1 : "default") +
							  (r->ann[pts[i].row].seqscan ? 11 : 0));
				where[i] = label_place(X(pts[i].qps), Y(pts[i].recall), w, placed,
						       &np, area);
			}

	for (size_t i = 0; i < n; i++) {
		const struct report_ann *a = &r->ann[pts[i].row];
		double x = X(pts[i].qps), y = Y(pts[i].recall);
		const char *color = palette[pts[i].series % (int)RL_ARRAY_LEN(palette)];
		setting_text(c->a_search[pts[i].row], s1, sizeof(s1));
		setting_text(c->a_build[pts[i].row], s2, sizeof(s2));
		/* <title> is the hover tooltip: no JavaScript needed */
		o_puts(o, "<g><title>");
		o_html(o, index);
		o_puts(o, " ");
		o_html(o, s2);
		o_puts(o, "; ");
		o_html(o, s1);
		o_printf(o, ": recall %.3f at %.0f QPS%s</title>", pts[i].recall, pts[i].qps,
			 a->seqscan ? " (sequential scan fallback, not ANN)" : "");
		if (a->seqscan)
			o_printf(o, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#c2410c\" "
				    "stroke-width=\"2\"/>", x - 4, y - 4);
		else
			o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" "
				    "stroke=\"#fff\" stroke-width=\"1\"/>", x, y, color);
		int p = where[i];
		o_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\">",
			 x + label_pos[p].dx, y + label_pos[p].dy,
			 label_pos[p].anchor > 0 ? "start" : label_pos[p].anchor < 0 ? "end" : "middle",
			 a->seqscan ? "#c2410c" : "#333");
		o_html(o, s1[0] ? s1 : "default");
		if (a->seqscan)
			o_puts(o, " (seq scan)");
		o_puts(o, "</text></g>\n");
	}

	/* legend: one swatch per build, the frontier, the seq-scan mark (same layout as above) */
	lx = PL;
	ly = LEGEND_Y;
	for (size_t b = 0; b < nb; b++) {
		setting_text(c->a_build[builds[b]], s2, sizeof(s2));
		double w = legend_width(s2);
		if (!s2[0])
			snprintf(s2, sizeof(s2), "default build");
		if (lx + w > PW - 10) {
			lx = PL;
			ly += LEGEND_LINE;
		}
		o_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">",
			 lx + 5, ly - 4, palette[b % RL_ARRAY_LEN(palette)], lx + 14, ly);
		o_html(o, s2);
		o_puts(o, "</text>\n");
		lx += w + 12;
	}
	if (lx + LEGEND_FRONTIER_W + (nseq ? 200 : 0) > PW - 10) {
		lx = PL;
		ly += LEGEND_LINE;
	}
	o_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" "
		    "stroke-width=\"1.5\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">Pareto frontier"
		    "</text>\n", lx, ly - 4, lx + 18, ly - 4, lx + 24, ly);
	lx += LEGEND_FRONTIER_W;
	if (nseq) {
		o_printf(o, "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"#c2410c\" stroke-width=\"2\"/>"
			    "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c2410c\">seq-scan fallback (not ANN)"
			    "</text>\n", lx, ly - 8, lx + 14, ly);
	}
	o_puts(o, "</svg>\n");
#undef X
#undef Y
	if (skipped) {
		o_printf(o, "<p class=\"meta\">%zu ", skipped);
		o_html(o, index);
		o_puts(o, " setting(s) without a QPS or recall measurement are not plotted.</p>\n");
	}
out:
	free(pts);
	free(front);
	free(builds);
	free(placed);
	free(where);
}

static void html_kv(struct out *o, const char *k, const char *v)
{
	o_puts(o, "<dt>");
	o_html(o, k);
	o_puts(o, "</dt><dd>");
	o_html(o, v && *v ? v : NA);
	o_puts(o, "</dd>\n");
}

static void html_summary(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[256], s2[256], num[64];
	const char *types[16];

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
			 a->recall10, fmt(num, sizeof(num), "%.0f", plot_qps(a)));
		o_html(o, s1[0] ? s1 : "default search settings");
		o_puts(o, " (");
		o_html(o, s2[0] ? s2 : "default build");
		o_printf(o, "), p99 %s ms.</li>\n", fmt_ms(num, sizeof(num), a->p99_ms));
	}
	if (n_seqscan(r))
		o_printf(o, "<li><span class=\"reg\">%zu ANN setting(s) fell back to a sequential "
			    "scan</span>: flagged in the tables, drawn as crosses, kept off the "
			    "frontier.</li>\n", n_seqscan(r));
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

static void write_html(struct ctx *c, struct out *o)
{
	const struct report *r = c->r;
	char s1[256], s2[256], num[64];
	const char *types[16];
	int k = r->k > 0 ? r->k : 10;

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

	/* ANN */
	o_puts(o, "<h2>Vector indexes: recall versus speed</h2>\n");
	size_t nt = index_types(r, types, RL_ARRAY_LEN(types));
	if (!nt)
		o_puts(o, "<p>Nothing to plot: no vector index was built.</p>\n");
	for (size_t t = 0; t < nt; t++) {
		o_puts(o, "<figure>\n<h3>");
		o_html(o, types[t]);
		o_puts(o, "</h3>\n");
		svg_plot(c, o, types[t]);
		o_printf(o, "<figcaption>Recall@%d against the exact top %d (ties at the k-th "
			    "distance count as hits) versus queries per second on one connection, "
			    "log scale. Each point is one search setting; colours are build settings; "
			    "the line is the Pareto frontier (no other setting is both faster and more "
			    "accurate).</figcaption>\n</figure>\n", k, k);
	}
	if (r->n_ann) {
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
			o_html(o, a->index);
			if (a->seqscan)
				o_puts(o, "<span class=\"flag\">seq scan, not ANN</span>");
			if (c->prev && !d->matched)
				o_puts(o, "<span class=\"flag new\">new</span>");
			o_puts(o, "</td>");
			setting_text(c->a_build[i], s1, sizeof(s1));
			html_td(o, s1);
			setting_text(c->a_search[i], s1, sizeof(s1));
			html_td(o, s1);
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
		o_puts(o, "</tbody>\n</table></div>\n");

		/* one row per (index, build): the build cost is paid once, whatever the search */
		o_puts(o, "<h3>Build time and size</h3>\n<div class=\"tw\"><table>\n<thead><tr><th>Index</th>"
			  "<th>Build</th><th class=\"n\">Build s</th><th class=\"n\">Size MB</th></tr>"
			  "</thead>\n<tbody>\n");
		for (size_t i = 0; i < r->n_ann; i++) {
			const struct report_ann *a = &r->ann[i];
			size_t j;
			for (j = 0; j < i; j++)
				if (strcmp(r->ann[j].index, a->index) == 0 &&
				    json_equal(c->a_build[j], c->a_build[i]))
					break;
			if (j < i)
				continue;
			const struct adelta *d = &c->ad[i];
			o_puts(o, "<tr>");
			html_td(o, a->index);
			setting_text(c->a_build[i], s1, sizeof(s1));
			html_td(o, s1);
			html_num(o, "%.1f", a->build_s, d->matched, d->build_s, "%+.1f", 0);
			html_num(o, "%.1f", a->index_bytes < 0 ? NAN : (double)a->index_bytes / 1048576.0,
				 d->matched, d->index_bytes / 1048576.0, "%+.1f", 0);
			o_puts(o, "</tr>\n");
		}
		o_puts(o, "</tbody>\n</table></div>\n<p class=\"meta\">MB = 2<sup>20</sup> bytes, as "
			  "PostgreSQL's pg_size_pretty.</p>\n");
	}

	o_printf(o, "<h2>Exact search</h2>\n<p>Exact top-%d for all queries (client-side BLAS "
		    "ground truth): %s s.</p>\n", k, fmt(num, sizeof(num), "%.2f", r->exact_seconds));

	o_puts(o, "<h2>Corpus and model</h2>\n<dl class=\"kv\">\n");
	html_kv(o, "Corpus", r->corpus_name);
	snprintf(s1, sizeof(s1), "%lld", r->documents);
	html_kv(o, "Documents", s1);
	snprintf(s1, sizeof(s1), "%lld", r->chunks);
	html_kv(o, "Chunks", s1);
	html_kv(o, "Distance", r->distance);
	snprintf(s1, sizeof(s1), "%d", r->dim);
	html_kv(o, "Dimension", s1);
	html_kv(o, "Model", r->model_name);
	setting_text(c->model_settings, s1, sizeof(s1));
	html_kv(o, "Model settings", s1);
	o_puts(o, "</dl>\n<h2>Machine</h2>\n<dl class=\"kv\">\n");
	snprintf(s1, sizeof(s1), "%d", r->cpus);
	html_kv(o, "CPUs", s1);
	snprintf(s1, sizeof(s1), "%.1f GiB", (double)r->ram_bytes / (1024.0 * 1024.0 * 1024.0));
	html_kv(o, "RAM", s1);
	html_kv(o, "CPU model", r->cpu_model);
	html_kv(o, "OS", r->os);
	html_kv(o, "PostgreSQL", r->pg_version);
	html_kv(o, "pgvector", r->pgvector_version);
	o_puts(o, "</dl>\n<h2>Settings</h2>\n<dl class=\"kv\">\n");
	snprintf(s1, sizeof(s1), "%d", r->k);
	html_kv(o, "k", s1);
	html_kv(o, "Queries file", r->queries_file);
	html_kv(o, "Qrels file", r->qrels_file);
	snprintf(s1, sizeof(s1), "%d", r->n_queries);
	html_kv(o, "Queries", s1);
	const char *key;
	json_t *v;
	json_object_foreach(c->extra_settings, key, v) {
		json_t *one = json_pack("{s:O}", key, v);
		setting_text(one, s1, sizeof(s1));
		json_decref(one);
		const char *eq = strchr(s1, '=');
		html_kv(o, key, eq ? eq + 1 : s1);
	}
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

/* ---- files and directories ---------------------------------------------------------------- */

static int mkdir_p(const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return RL_ERR;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0777) && errno != EEXIST)
			return RL_ERR;
		*p = '/';
	}
	if (mkdir(tmp, 0777) && errno != EEXIST)
		return RL_ERR;
	struct stat st;
	return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : RL_ERR;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[4096];
	int rc = RL_ERR;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		goto out;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		goto out;
	}
	if (fclose(f))
		goto out;
	rc = 0;
out:
	if (rc)
		log_error("report: cannot write %s: %s", path, strerror(errno));
	return rc;
}

static int stamp_valid(const char *s)
{
	static const char pat[] = "ddddddddTdddddd.dddZ";  /* d = a digit */
	if (strlen(s) != STAMP_LEN)
		return 0;
	for (int i = 0; i < STAMP_LEN; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	return 1;
}

/* Picks the UTC-millisecond name and claims it with mkdir (atomic: two runs in the same
 * millisecond get different names). */
static int claim_stamp(struct ctx *c, const char *dir)
{
	char path[4096];
	for (int attempt = 0; attempt < 100; attempt++) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		int ms = (int)(ts.tv_nsec / 1000000);
		snprintf(c->stamp, sizeof(c->stamp), "%04d%02d%02dT%02d%02d%02d.%03dZ",
			 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ms);
		snprintf(c->created_at, sizeof(c->created_at), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ms);
		snprintf(path, sizeof(path), "%s/%s", dir, c->stamp);
		if (mkdir(path, 0777) == 0)
			return 0;
		if (errno != EEXIST)
			break;
		struct timespec pause = { 0, 1000000 };
		nanosleep(&pause, NULL);
	}
	log_error("report: cannot create a report directory in %s: %s", dir, strerror(errno));
	c->stamp[0] = '\0';
	return RL_ERR;
}

/* The finished temporary directory replaces the claimed (empty) one in one rename, then
 * `latest` is replaced in one rename of a fresh symlink. */
static int publish(struct ctx *c, const char *dir, const char *tmp)
{
	char final[4096], link_tmp[4096], latest[4096];
	snprintf(final, sizeof(final), "%s/%s", dir, c->stamp);
	if (rename(tmp, final)) {
		log_error("report: cannot rename %s to %s: %s", tmp, final, strerror(errno));
		return RL_ERR;
	}
	snprintf(link_tmp, sizeof(link_tmp), "%s/.latest-%ld", dir, (long)getpid());
	snprintf(latest, sizeof(latest), "%s/latest", dir);
	unlink(link_tmp);
	if (symlink(c->stamp, link_tmp) || rename(link_tmp, latest)) {
		log_error("report: cannot point %s at %s: %s", latest, c->stamp, strerror(errno));
		unlink(link_tmp);
		return RL_ERR;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
	if (rc)
		log_warn("report: cannot remove %s: %s", path, strerror(errno));
	return 0;  /* keep going: remove what we can */
}

static int cmp_name_desc(const void *a, const void *b)
{
	return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes timestamped report directories beyond the newest keep. Names sort chronologically
 * because the stamp is fixed-width UTC. Never follows symlinks, never removes `current`. */
static void prune(const char *dir, int keep, const char *current)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (!d) {
		log_warn("report: cannot list %s: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		if (!stamp_valid(e->d_name))
			continue;
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **p = realloc(names, nc * sizeof(*p));
			if (!p)
				goto out;
			names = p;
			cap = nc;
		}
		if (!(names[n] = strdup(e->d_name)))
			goto out;
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_name_desc);
	for (size_t i = (size_t)keep; i < n; i++) {
		if (strcmp(names[i], current) == 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

/* ---- entry points --------------------------------------------------------------------------- */

void report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->exact_seconds = NAN;
	r->k = 10;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	r->cpus = cpus > 0 ? (int)cpus : 0;
	r->ram_bytes = pages > 0 && page > 0 ? (long long)pages * page : 0;
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(r->os, sizeof(r->os), "%.40s %.60s %.20s", u.sysname, u.release, u.machine);
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "model name", 10) != 0)
				continue;
			char *v = strchr(line, ':');
			if (!v)
				continue;
			v += strspn(v + 1, " \t") + 1;
			v[strcspn(v, "\n")] = '\0';
			snprintf(r->cpu_model, sizeof(r->cpu_model), "%s", v);
			break;
		}
		fclose(f);
	}
}

int report_write(const struct report *r, const char *reports_dir, int keep,
		 double fail_on_regression, char *out_dir, size_t out_len, int *regressed)
{
	int rc = RL_ERR;
	struct ctx c = { .r = r, .threshold = fail_on_regression };
	struct out o;
	char tmp[4096] = "", claimed[4096] = "";
	char *json_text = NULL;
	int published = 0;

	o_init(&o);
	if (regressed)
		*regressed = 0;
	if (out_dir && out_len)
		out_dir[0] = '\0';
	if (strlen(reports_dir) > 3000) {
		log_error("report: directory name too long: %s", reports_dir);
		goto out;
	}
	if ((rc = parse_fragments(&c)))
		goto out;
	if (mkdir_p(reports_dir)) {
		log_error("report: cannot create %s: %s", reports_dir, strerror(errno));
		rc = RL_ERR;
		goto out;
	}
	load_previous(&c, reports_dir);
	if ((rc = compute_deltas(&c)))
		goto out;
	if ((rc = claim_stamp(&c, reports_dir)))
		goto out;
	snprintf(claimed, sizeof(claimed), "%s/%s", reports_dir, c.stamp);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%ld", reports_dir, c.stamp, (long)getpid());
	if (mkdir(tmp, 0777)) {
		log_error("report: cannot create %s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		rc = RL_ERR;
		goto out;
	}

	if ((rc = build_json(&c, &json_text)) ||
	    (rc = write_file(tmp, "results.json", json_text, strlen(json_text))))
		goto out;
	write_csv(&c, &o);
	if ((rc = o.err) || (rc = write_file(tmp, "results.csv", o.b.data, o.b.len)))
		goto out;
	buf_reset(&o.b);
	write_md(&c, &o);
	if ((rc = o.err) || (rc = write_file(tmp, "report.md", o.b.data, o.b.len)))
		goto out;
	buf_reset(&o.b);
	write_html(&c, &o);
	if ((rc = o.err) || (rc = write_file(tmp, "report.html", o.b.data, o.b.len)))
		goto out;

	if ((rc = publish(&c, reports_dir, tmp)))
		goto out;
	published = 1;
	if (keep > 0)
		prune(reports_dir, keep, c.stamp);
	if (out_dir && out_len)
		snprintf(out_dir, out_len, "%s", claimed);
	if (regressed)
		*regressed = c.n_regressions > 0;
	rc = 0;
out:
	if (rc && o.err)
		log_error("report: cannot format the report (%s)",
			  o.err == RL_ELIMIT ? "size limit reached" : "out of memory");
	if (!published && tmp[0]) {
		for (size_t i = 0; i < RL_ARRAY_LEN(report_files); i++) {
			char p[4200];
			snprintf(p, sizeof(p), "%s/%s", tmp, report_files[i]);
			unlink(p);
		}
		rmdir(tmp);
	}
	if (!published && claimed[0] && rc)
		rmdir(claimed);  /* only if still empty: the rename may have happened */
	free(json_text);
	buf_release(&o.b);
	ctx_release(&c);
	return rc;
}
