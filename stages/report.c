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
 *   write_*()          the four files, into a hidden temporary directory: results.json and
 *                      results.csv (report_data.c), report.md (report_md.c), report.html
 *                      (report_html.c, its plots report_svg.c); the helpers and the context
 *                      they share are report_private.h's
 *   publish()          rename the temporary directory over the claimed one, repoint latest
 *   prune()            keep the newest `keep` timestamped directories
 * Why this way: a reader (a dashboard, the next run's delta) must never see a half-written
 * report, hence temp dir + rename and a symlink replaced by rename; pruning touches only names
 * that match the timestamp pattern, because reports/ may hold anything else a user put there.
 * The HTML draws its own SVG (no JavaScript, no external assets) so a report stays readable
 * when mailed or archived years later.
 */
#include "report_private.h"
#include "../lib/metrics.h"

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


static const char *const report_files[] = { "results.json", "results.csv", "report.md",
					    "report.html" };

/* ---- sticky-error output buffer ------------------------------------------------------------
 * Every writer appends hundreds of pieces; the first failure is kept and later appends are
 * no-ops, so the writers read as straight-line code and check once at the end. */


static void o_init(struct out *o)
{
	buf_init(&o->b, REPORT_FILE_LIMIT);
	o->err = 0;
}

__attribute__((format(printf, 2, 3)))
void o_printf(struct out *o, const char *fmt, ...)
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

void o_puts(struct out *o, const char *s)
{
	if (!o->err)
		o->err = buf_append(&o->b, s, strlen(s));
}

void o_html(struct out *o, const char *s)
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
void o_md(struct out *o, const char *s)
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
void o_csv(struct out *o, const char *s)
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


const char *fmt_num(char *s, size_t n, const char *f, double v)
{
	if (!isfinite(v))
		snprintf(s, n, "%s", NA);
	else
		snprintf(s, n, f, v);
	return s;
}

const char *fmt_ms(char *s, size_t n, double v)
{
	return fmt_num(s, n, isfinite(v) && fabs(v) < 1.0 ? "%.3f" : "%.2f", v);
}

const char *fmt_mb(char *s, size_t n, long long bytes)
{
	/* MB as PostgreSQL's pg_size_pretty counts them (2^20 bytes), to match \di+ */
	return fmt_num(s, n, "%.1f", bytes < 0 ? NAN : (double)bytes / 1048576.0);
}

/* " (+0.004)", or "" when there is no delta or it rounds to zero at the shown precision:
 * a wall of "(+0.000)" would hide the changes that matter. */
const char *fmt_delta(char *s, size_t n, const char *f, double d)
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

json_t *jreal(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *jstr(const char *s)
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
void setting_text(const json_t *obj, char *s, size_t n)
{
	const char *key;
	json_t *v;
	size_t len = 0;
	s[0] = '\0';
	json_object_foreach((json_t *)obj, key, v) {
		char val[1024];
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

double jnum(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* ---- the run's context -------------------------------------------------------------------- */

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

/* The previous ANN row of the same index, storage (absent: vector), build and search. */
static json_t *prev_ann_row(json_t *array, const struct report_ann *a, json_t *build,
			    json_t *search)
{
	size_t i;
	json_t *row;
	const char *st = a->storage[0] ? a->storage : "vector";
	json_array_foreach(array, i, row) {
		const char *ps = json_string_value(json_object_get(row, "storage"));
		if (same_str(json_object_get(row, "index"), a->index) &&
		    !strcmp(ps ? ps : "vector", st) && json_same(json_object_get(row, "build"), build) &&
		    json_same(json_object_get(row, "search"), search))
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
		json_t *p = prev_ann_row(json_object_get(c->prev, "ann"), a, c->a_build[i],
					 c->a_search[i]);
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
		json_t *o = json_pack("{s:s, s:s, s:O, s:O, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
				      "index", a->index, "storage", ann_storage(a), "build", c->a_build[i], "search",
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

/* ---- summary facts shared by report.md and report.html ---------------------------------- */

/* The n_conn shared by every ann row, or -1 when they differ (then each cell says it). */
int common_n_conn(const struct report *r)
{
	int n = r->n_ann ? r->ann[0].n_conn : 0;
	for (size_t i = 1; i < r->n_ann; i++)
		if (r->ann[i].n_conn != n)
			return -1;
	return n;
}

const char *qps_n_text(char *s, size_t n, const struct report_ann *a, int common)
{
	char v[48];
	fmt_num(v, sizeof(v), "%.0f", a->qps_n);
	if (common < 0 && isfinite(a->qps_n))
		snprintf(s, n, "%s @%d", v, a->n_conn);
	else
		snprintf(s, n, "%s", v);
	return s;
}

void qps_n_header(char *s, size_t n, const struct report *r)
{
	int common = common_n_conn(r);
	if (common > 0)
		snprintf(s, n, "QPS (%d conn.)", common);
	else
		snprintf(s, n, "QPS (N conn.)");
}

/* Index of the quality row with the best nDCG@10, or -1. */
long best_quality(const struct report *r)
{
	long best = -1;
	for (size_t i = 0; i < r->n_quality; i++)
		if (isfinite(r->quality[i].ndcg10) &&
		    (best < 0 || r->quality[i].ndcg10 > r->quality[best].ndcg10))
			best = (long)i;
	return best;
}

const char *ann_storage(const struct report_ann *a)
{
	return a->storage[0] ? a->storage : "vector";
}

const char *ann_label(char *s, size_t n, const struct report_ann *a)
{
	if (strcmp(ann_storage(a), "vector"))
		snprintf(s, n, "%s %s", a->index, a->storage);
	else
		snprintf(s, n, "%s", a->index);
	return s;
}

/* Pareto-optimal: no other measured index row has both a higher recall and a higher QPS (and
 * at least as high in both). */
int ann_pareto(const struct report *r, size_t i)
{
	const struct report_ann *a = &r->ann[i];
	double q = plot_qps(a);
	if (a->seqscan || !isfinite(q) || !isfinite(a->recall10))
		return 0;
	for (size_t j = 0; j < r->n_ann; j++) {
		const struct report_ann *b = &r->ann[j];
		double qb = plot_qps(b);
		if (j == i || b->seqscan || !isfinite(qb) || !isfinite(b->recall10))
			continue;
		if (b->recall10 >= a->recall10 && qb >= q && (b->recall10 > a->recall10 || qb > q))
			return 0;
	}
	return 1;
}

/* The cheapest setting reaching recall target: the highest QPS among index rows whose
 * recall@k is at least target (ties: the smaller index); -1 when none does. */
long ann_cheapest(const struct report *r, double target)
{
	long best = -1;
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		double q = plot_qps(a);
		if (a->seqscan || !isfinite(q) || !isfinite(a->recall10) ||
		    !metric_recall_reaches(a->recall10, target))
			continue;
		if (best < 0 || q > plot_qps(&r->ann[best]) ||
		    (q == plot_qps(&r->ann[best]) && a->index_bytes < r->ann[best].index_bytes))
			best = (long)i;
	}
	return best;
}

const double report_targets[REPORT_N_TARGETS] = {0.90, 0.95, 0.99};

double plot_qps(const struct report_ann *a)
{
	return isfinite(a->qps_1) && a->qps_1 > 0 ? a->qps_1 : a->qps_n;
}

/* For one index type: the fastest non-seq-scan row reaching RECALL_GOAL, else the one with the
 * best recall; -1 when there is none. *reached tells which. */
long headline_ann(const struct report *r, const char *index, int *reached)
{
	long fast = -1, best = -1;
	char l[64];
	for (size_t i = 0; i < r->n_ann; i++) {
		const struct report_ann *a = &r->ann[i];
		if (strcmp(ann_label(l, sizeof(l), a), index) != 0 || a->seqscan ||
		    !isfinite(a->recall10))
			continue;
		if (metric_recall_reaches(a->recall10, RECALL_GOAL) && isfinite(plot_qps(a)) &&
		    (fast < 0 || plot_qps(a) > plot_qps(&r->ann[fast])))
			fast = (long)i;
		if (best < 0 || a->recall10 > r->ann[best].recall10)
			best = (long)i;
	}
	*reached = fast >= 0;
	return fast >= 0 ? fast : best;
}

/* Distinct index types ("hnsw", "hnsw halfvec", ...: ann_label) in first-seen order, into
 * types[max][64]. */
size_t index_types(const struct report *r, char (*types)[64], size_t max)
{
	size_t n = 0;
	char l[64];
	for (size_t i = 0; i < r->n_ann; i++) {
		size_t j;
		ann_label(l, sizeof(l), &r->ann[i]);
		for (j = 0; j < n; j++)
			if (strcmp(types[j], l) == 0)
				break;
		if (j == n && n < max)
			snprintf(types[n++], 64, "%s", l);
	}
	return n;
}

size_t n_forced(const struct report *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_ann; i++)
		n += r->ann[i].forced != 0;
	return n;
}

size_t n_seqscan(const struct report *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_ann; i++)
		n += r->ann[i].seqscan != 0;
	return n;
}

/* ---- the facts both reports list ----------------------------------------------------------- */

void write_facts(struct ctx *c, struct out *o, const struct facts_format *f)
{
	const struct report *r = c->r;
	char s[16384];  /* the model's settings whole, however many */

	f->section(o, "Corpus and model", 1);
	f->kv(o, "Corpus", r->corpus_name);
	snprintf(s, sizeof(s), "%lld", r->documents);
	f->kv(o, "Documents", s);
	snprintf(s, sizeof(s), "%lld", r->chunks);
	f->kv(o, "Chunks", s);
	f->kv(o, "Distance", r->distance);
	snprintf(s, sizeof(s), "%d", r->dim);
	f->kv(o, "Dimension", s);
	f->kv(o, "Model", r->model_name);
	setting_text(c->model_settings, s, sizeof(s));
	f->kv(o, "Model settings", s);

	f->section(o, "Machine", 0);
	snprintf(s, sizeof(s), "%d", r->cpus);
	f->kv(o, "CPUs", s);
	snprintf(s, sizeof(s), "%.1f GiB", (double)r->ram_bytes / (1024.0 * 1024.0 * 1024.0));
	f->kv(o, "RAM", s);
	f->kv(o, "CPU model", r->cpu_model[0] ? r->cpu_model : NULL);
	f->kv(o, "OS", r->os[0] ? r->os : NULL);
	f->kv(o, "PostgreSQL", r->pg_version);
	f->kv(o, "pgvector", r->pgvector_version);

	f->section(o, "Settings", 0);
	snprintf(s, sizeof(s), "%d", r->k);
	f->kv(o, "k", s);
	f->kv(o, "Queries file", r->queries_file);
	f->kv(o, "Qrels file", r->qrels_file);
	snprintf(s, sizeof(s), "%d", r->n_queries);
	f->kv(o, "Queries", s);
	const char *key;
	json_t *v;
	json_object_foreach(c->extra_settings, key, v) {
		if (!strcmp(key, "ann_plans"))
			continue;  /* a table of its own (report.html) */
		json_t *one = json_pack("{s:O}", key, v);
		setting_text(one, s, sizeof(s));
		json_decref(one);
		const char *eq = strchr(s, '=');
		f->kv(o, key, eq ? eq + 1 : s);
	}
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
