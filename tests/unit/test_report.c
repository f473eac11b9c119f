/* The report writer: the four files, results.json parsed back with jansson, an SVG per index
 * type in the HTML, HTML escaping, the `latest` symlink, pruning that spares everything not
 * named like a report, deltas against the previous run, fail_on_regression. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../../stages/report.h"

static char root[256];   /* a fresh temporary directory per test */
static char reports[512];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/ragload-report-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* two levels that do not exist yet: report_write must mkdir -p */
	snprintf(reports, sizeof(reports), "%s/out/reports", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *s = malloc((size_t)n + 1);
	size_t got = fread(s, 1, (size_t)n, f);
	s[got] = '\0';
	fclose(f);
	return s;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static struct report_quality quality[3];
static struct report_ann ann[5];

/* A plausible SciFact-like run: three quality rows, an HNSW sweep with one seq-scan fallback,
 * an IVFFlat sweep. */
static void fill(struct report *r)
{
	report_init(r);
	r->corpus_name = "scifact <test> & co";
	r->documents = 5183;
	r->chunks = 9012;
	r->distance = "cosine";
	r->dim = 768;
	r->model_name = "hashproj-768-v1";
	r->model_json = "{\"ngrams\":5,\"projection\":\"svd\"}";
	r->pg_version = "PostgreSQL 16.4";
	r->pgvector_version = "0.7.4";
	r->k = 10;
	r->queries_file = "datasets/scifact/queries.jsonl";
	r->qrels_file = "datasets/scifact/qrels/test.tsv";
	r->n_queries = 300;
	r->settings_json = "{\"n_conn\":8}";
	r->exact_seconds = 1.25;

	memset(quality, 0, sizeof(quality));
	const char *methods[] = { "exact", "fts", "hybrid" };
	const char *settings[] = { "", "", "{\"k_rrf\":60}" };
	double ndcg[] = { 0.630, 0.601, 0.652 };
	for (int i = 0; i < 3; i++) {
		snprintf(quality[i].method, sizeof(quality[i].method), "%s", methods[i]);
		snprintf(quality[i].setting_json, sizeof(quality[i].setting_json), "%s", settings[i]);
		quality[i].ndcg10 = ndcg[i];
		quality[i].mrr10 = ndcg[i] - 0.04;
		quality[i].recall100 = 0.9 + i * 0.01;
		quality[i].n_queries = 300;
	}
	r->quality = quality;
	r->n_quality = 3;

	memset(ann, 0, sizeof(ann));
	struct {
		const char *index, *build, *search;
		double recall, qps;
		int seq;
	} rows[] = {
		{ "hnsw", "{\"m\":16,\"ef_construction\":64}", "{\"ef_search\":20}", 0.91, 2400, 0 },
		{ "hnsw", "{\"m\":16,\"ef_construction\":64}", "{\"ef_search\":40}", 0.962, 1700, 0 },
		{ "hnsw", "{\"m\":16,\"ef_construction\":64}", "{\"ef_search\":400}", 1.0, 300, 1 },
		{ "ivfflat", "{\"lists\":100}", "{\"probes\":1}", 0.55, 5200, 0 },
		{ "ivfflat", "{\"lists\":100}", "{\"probes\":8}", 0.93, 1300, 0 },
	};
	for (int i = 0; i < 5; i++) {
		snprintf(ann[i].index, sizeof(ann[i].index), "%s", rows[i].index);
		snprintf(ann[i].build_json, sizeof(ann[i].build_json), "%s", rows[i].build);
		snprintf(ann[i].search_json, sizeof(ann[i].search_json), "%s", rows[i].search);
		ann[i].build_s = rows[i].index[0] == 'h' ? 12.5 : 3.2;
		ann[i].index_bytes = rows[i].index[0] == 'h' ? 37748736 : 29360128;
		ann[i].recall10 = rows[i].recall;
		ann[i].p50_ms = 1000.0 / rows[i].qps;
		ann[i].p95_ms = 1.5 * ann[i].p50_ms;
		ann[i].p99_ms = 2.0 * ann[i].p50_ms;
		ann[i].qps_1 = rows[i].qps;
		ann[i].qps_n = rows[i].qps * 6.5;
		ann[i].n_conn = 8;
		ann[i].seqscan = rows[i].seq;
	}
	r->ann = ann;
	r->n_ann = 5;
}

static json_t *load_json(const char *dir)
{
	char path[4096];
	json_error_t e;
	snprintf(path, sizeof(path), "%s/results.json", dir);
	json_t *j = json_load_file(path, 0, &e);
	if (!j)
		print_error("results.json: %s at line %d\n", e.text, e.line);
	assert_non_null(j);
	return j;
}

static void assert_latest_is(const char *dir)
{
	char link[1024], latest[1024];
	snprintf(latest, sizeof(latest), "%s/latest", reports);
	ssize_t n = readlink(latest, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_null(strchr(link, '/'));  /* relative, so the tree can move */
	assert_string_equal(link, strrchr(dir, '/') + 1);
}

static void test_report_writes_four_files(void **state)
{
	(void)state;
	struct report r;
	char dir[1024];
	int regressed = -1;
	fill(&r);
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), &regressed), 0);
	assert_int_equal(regressed, 0);
	assert_int_equal(strncmp(dir, reports, strlen(reports)), 0);
	const char *base = strrchr(dir, '/') + 1;
	/* 20261125T163012.345Z */
	assert_int_equal(strlen(base), 20);
	assert_int_equal(base[8], 'T');
	assert_int_equal(base[15], '.');
	assert_int_equal(base[19], 'Z');
	const char *files[] = { "results.json", "results.csv", "report.md", "report.html" };
	for (int i = 0; i < 4; i++) {
		char *s = slurp(dir, files[i]);
		assert_non_null(s);
		assert_true(strlen(s) > 100);
		free(s);
	}
	assert_latest_is(dir);
	/* no temporary leftovers */
	DIR *d = opendir(reports);
	struct dirent *e;
	while ((e = readdir(d)))
		assert_true(strncmp(e->d_name, ".tmp", 4) != 0 && strncmp(e->d_name, ".latest", 7) != 0);
	closedir(d);
}

static void test_results_json_shape(void **state)
{
	(void)state;
	struct report r;
	char dir[1024];
	fill(&r);
	ann[4].qps_n = NAN;  /* not measured -> null */
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL), 0);
	json_t *j = load_json(dir);

	json_t *corpus = json_object_get(j, "corpus");
	assert_string_equal(json_string_value(json_object_get(corpus, "name")), "scifact <test> & co");
	assert_int_equal(json_integer_value(json_object_get(corpus, "documents")), 5183);
	assert_int_equal(json_integer_value(json_object_get(corpus, "chunks")), 9012);
	assert_int_equal(json_integer_value(json_object_get(corpus, "dim")), 768);
	json_t *model = json_object_get(j, "model");
	assert_string_equal(json_string_value(json_object_get(model, "name")), "hashproj-768-v1");
	assert_true(json_is_object(json_object_get(j, "machine")));
	assert_true(json_is_object(json_object_get(j, "settings")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "settings"), "n_conn")),
			 8);
	assert_true(json_is_string(json_object_get(j, "created_at")));
	assert_null(json_object_get(j, "deltas"));  /* first report: nothing to compare */

	json_t *q = json_object_get(j, "quality");
	assert_int_equal(json_array_size(q), 3);
	json_t *h = json_array_get(q, 2);
	assert_string_equal(json_string_value(json_object_get(h, "method")), "hybrid");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "setting"), "k_rrf")),
			 60);
	assert_float_equal(json_number_value(json_object_get(h, "ndcg@10")), 0.652, 1e-9);
	assert_true(json_is_number(json_object_get(h, "mrr@10")));
	assert_true(json_is_number(json_object_get(h, "recall@100")));
	assert_true(json_is_object(json_object_get(json_array_get(q, 0), "setting")));

	json_t *a = json_object_get(j, "ann");
	assert_int_equal(json_array_size(a), 5);
	json_t *a0 = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(a0, "index")), "hnsw");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a0, "build"), "m")), 16);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(a0, "build"), "ef_construction")),
		64);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(a0, "search"), "ef_search")), 20);
	const char *keys[] = { "build_s", "index_bytes", "recall@10", "p50_ms", "p95_ms", "p99_ms",
			       "qps_1", "qps_n" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_true(json_is_number(json_object_get(a0, keys[i])));
	json_t *a4 = json_array_get(a, 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a4, "build"), "lists")),
			 100);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a4, "search"), "probes")),
			 8);
	assert_true(json_is_null(json_object_get(a4, "qps_n")));
	assert_true(json_is_true(json_object_get(json_array_get(a, 2), "seqscan")));
	assert_float_equal(
		json_number_value(json_object_get(json_object_get(j, "exact"), "seconds")), 1.25, 0);
	json_decref(j);
}

static void test_csv_and_html(void **state)
{
	(void)state;
	struct report r;
	char dir[1024];
	fill(&r);
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL), 0);

	char *csv = slurp(dir, "results.csv");
	assert_int_equal(count(csv, "\r\n"), 1 + 3 + 5);  /* header + rows, CRLF per RFC 4180 */
	assert_int_equal(strncmp(csv, "kind,method,setting,", 20), 0);
	/* a JSON object holds commas and quotes: quoted, inner quotes doubled */
	assert_non_null(strstr(csv, "\"{\"\"ef_construction\"\":64,\"\"m\"\":16}\""));
	free(csv);

	char *html = slurp(dir, "report.html");
	assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
	/* one recall-vs-QPS plot on shared axes, recall against build time and against size */
	assert_int_equal(count(html, "<svg"), 3);
	assert_int_equal(count(html, "</svg>"), 3);
	assert_non_null(strstr(html, "<polyline"));  /* the frontier */
	assert_non_null(strstr(html, "ef_search=40"));
	assert_non_null(strstr(html, "probes=8"));
	assert_non_null(strstr(html, "seq scan"));
	assert_non_null(strstr(html, "log scale"));
	/* escaping: the corpus name's < & > never reach the page raw */
	assert_non_null(strstr(html, "scifact &lt;test&gt; &amp; co"));
	assert_null(strstr(html, "<test>"));
	assert_null(strstr(html, "<script"));
	/* self-contained: no external stylesheet, script or image */
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "href="));
	free(html);

	char *md = slurp(dir, "report.md");
	assert_non_null(strstr(md, "| hybrid | k_rrf=60 | 0.652 |"));
	assert_non_null(strstr(md, "seq scan, not ANN"));
	assert_non_null(strstr(md, "## Machine"));
	assert_non_null(strstr(md, "| Size MB |"));
	free(md);
}

/* Storages, Pareto flags, the cheapest setting per recall target, --repeat's spread, and a
 * legend naming only what is drawn. */
static void test_storages_targets_spread(void **state)
{
	(void)state;
	struct report r;
	char dir[1024];
	fill(&r);
	for (int i = 0; i < 3; i++) {
		snprintf(ann[i].storage, sizeof(ann[i].storage), "halfvec");
		ann[i].builds = (struct report_builds){ 3, 12.5, 11.0, 14.0, 0.96, 0.95, 0.97,
							"{\"ef_search\":40}" };
	}
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL), 0);
	json_t *j = load_json(dir);
	json_t *a = json_object_get(j, "ann");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "storage")),
			    "halfvec");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 3), "storage")),
			    "vector");
	/* Pareto: ivfflat probes 1, hnsw ef 20 and 40; ivfflat probes 8 is slower and worse than
	 * ef 40; the seq-scan row is not an index's */
	int pareto[] = { 1, 1, 0, 1, 0 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(json_is_true(json_object_get(json_array_get(a, (size_t)i), "pareto")),
				 pareto[i]);
	json_t *b = json_object_get(json_array_get(a, 0), "builds");
	assert_int_equal(json_integer_value(json_object_get(b, "n")), 3);
	assert_float_equal(json_number_value(json_object_get(json_object_get(b, "recall@10"), "min")), 0.95, 1e-9);
	assert_float_equal(json_number_value(json_object_get(json_object_get(b, "build_s"), "max")), 14.0, 1e-9);
	assert_true(json_is_null(json_object_get(json_array_get(a, 3), "builds")));
	json_t *t = json_object_get(j, "targets");
	assert_int_equal(json_array_size(t), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 0), "row")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 1), "row")), 1);
	assert_true(json_is_null(json_object_get(json_array_get(t, 2), "row")));
	json_decref(j);
	char *html = slurp(dir, "report.html");
	assert_non_null(strstr(html, "hnsw halfvec"));
	assert_non_null(strstr(html, "0.960 (0.950–0.970)"));
	assert_non_null(strstr(html, "recall@10 ≥ 0.99: none reached it"));
	assert_non_null(strstr(html, "seq-scan fallback (not ANN)"));
	free(html);
	char *md = slurp(dir, "report.md");
	assert_non_null(strstr(md, "over 3 builds: build 12.50 s (11.00–14.00)"));
	free(md);

	/* without a seq-scan row the legend does not name one */
	r.n_ann = 2;
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL), 0);
	html = slurp(dir, "report.html");
	assert_null(strstr(html, "seq-scan fallback"));
	free(html);
}

static void test_no_ann_says_so(void **state)
{
	(void)state;
	struct report r;
	char dir[1024];
	fill(&r);
	r.n_ann = 0;
	r.ann = NULL;
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL), 0);
	char *html = slurp(dir, "report.html");
	assert_non_null(strstr(html, "no vector index was built"));
	assert_null(strstr(html, "<svg"));
	free(html);
	json_t *j = load_json(dir);
	assert_int_equal(json_array_size(json_object_get(j, "ann")), 0);
	json_decref(j);
}

static void test_keep_prunes_only_report_dirs(void **state)
{
	(void)state;
	struct report r;
	char dir[1024], p[4096];
	fill(&r);
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL), 0);
	char first[1024];
	snprintf(first, sizeof(first), "%s", dir);

	/* things that must survive: look-alikes, a file, a symlink named like a report */
	const char *keep_dirs[] = { "notes", "20200101T000000.000Z.bak", "2020-01-01" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", reports, keep_dirs[i]);
		assert_int_equal(mkdir(p, 0777), 0);
	}
	snprintf(p, sizeof(p), "%s/20190101T000000.000Z", reports);
	FILE *f = fopen(p, "w");
	fputs("a file, not a report", f);
	fclose(f);
	char outside[1024];
	snprintf(outside, sizeof(outside), "%s/outside", root);
	assert_int_equal(mkdir(outside, 0777), 0);
	snprintf(p, sizeof(p), "%s/20180101T000000.000Z", reports);
	assert_int_equal(symlink(outside, p), 0);
	/* an old real report directory: goes */
	snprintf(p, sizeof(p), "%s/20170101T000000.000Z", reports);
	assert_int_equal(mkdir(p, 0777), 0);
	snprintf(p, sizeof(p), "%s/20170101T000000.000Z/report.md", reports);
	f = fopen(p, "w");
	fclose(f);

	assert_int_equal(report_write(&r, reports, 1, 0.0, dir, sizeof(dir), NULL), 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(stat(first, &st) != 0);  /* older report pruned */
	snprintf(p, sizeof(p), "%s/20170101T000000.000Z", reports);
	assert_true(lstat(p, &st) != 0);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", reports, keep_dirs[i]);
		assert_int_equal(stat(p, &st), 0);
	}
	snprintf(p, sizeof(p), "%s/20190101T000000.000Z", reports);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/20180101T000000.000Z", reports);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(stat(outside, &st), 0);
	assert_latest_is(dir);
}

static void test_deltas_against_previous(void **state)
{
	(void)state;
	struct report r;
	char dir[1024];
	fill(&r);
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL), 0);

	quality[2].ndcg10 = 0.656;  /* hybrid +0.004 */
	ann[1].recall10 = 0.970;    /* hnsw ef_search=40 +0.008 */
	/* a build setting the previous run did not have: no delta for it */
	snprintf(ann[0].build_json, sizeof(ann[0].build_json), "{\"ef_construction\":64,\"m\":24}");
	/* key order differs from the previous run's: still the same setting */
	snprintf(ann[1].build_json, sizeof(ann[1].build_json), "{\"ef_construction\":64,\"m\":16}");
	int regressed = -1;
	assert_int_equal(report_write(&r, reports, 0, 0.01, dir, sizeof(dir), &regressed), 0);
	assert_int_equal(regressed, 0);

	json_t *j = load_json(dir);
	json_t *d = json_object_get(j, "deltas");
	assert_non_null(d);
	json_t *dq = json_object_get(d, "quality");
	assert_int_equal(json_array_size(dq), 3);
	assert_float_equal(json_number_value(json_object_get(json_array_get(dq, 2), "ndcg@10")),
			   0.004, 1e-9);
	json_t *da = json_object_get(d, "ann");
	assert_int_equal(json_array_size(da), 4);  /* the m=24 row has no previous */
	assert_float_equal(json_number_value(json_object_get(json_array_get(da, 0), "recall@10")),
			   0.008, 1e-9);
	assert_false(json_is_true(json_object_get(d, "regressed")));
	json_decref(j);

	char *md = slurp(dir, "report.md");
	assert_non_null(strstr(md, "0.656 (+0.004)"));
	assert_non_null(strstr(md, "0.970 (+0.008)"));
	free(md);
	char *html = slurp(dir, "report.html");
	assert_non_null(strstr(html, "0.656<span class=\"d better\">(+0.004)</span>"));
	free(html);

	/* another corpus: no deltas at all */
	r.documents = 1;
	assert_int_equal(report_write(&r, reports, 0, 0.01, dir, sizeof(dir), &regressed), 0);
	j = load_json(dir);
	assert_null(json_object_get(j, "deltas"));
	json_decref(j);
}

static void test_fail_on_regression(void **state)
{
	(void)state;
	struct report r;
	char dir[1024];
	int regressed = -1;
	fill(&r);
	assert_int_equal(report_write(&r, reports, 0, 0.01, dir, sizeof(dir), &regressed), 0);
	assert_int_equal(regressed, 0);

	quality[0].ndcg10 -= 0.05;  /* exact nDCG@10 0.630 -> 0.580 */
	assert_int_equal(report_write(&r, reports, 0, 0.01, dir, sizeof(dir), &regressed), 0);
	assert_int_equal(regressed, 1);
	json_t *j = load_json(dir);
	json_t *regs = json_object_get(json_object_get(j, "deltas"), "regressions");
	assert_int_equal(json_array_size(regs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(regs, 0), "metric")),
			    "ndcg@10");
	json_decref(j);

	/* a recall@10 drop within the threshold is not a regression; beyond it is */
	ann[4].recall10 -= 0.005;
	assert_int_equal(report_write(&r, reports, 0, 0.01, dir, sizeof(dir), &regressed), 0);
	assert_int_equal(regressed, 0);
	ann[4].recall10 -= 0.2;
	assert_int_equal(report_write(&r, reports, 0, 0.01, dir, sizeof(dir), &regressed), 0);
	assert_int_equal(regressed, 1);
	char *html = slurp(dir, "report.html");
	assert_non_null(strstr(html, "Regression: ivfflat (lists=100) probes=8: recall@10 0.925 &rarr; 0.725"));
	free(html);
	/* the threshold off: never regressed */
	ann[4].recall10 -= 0.2;
	assert_int_equal(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), &regressed), 0);
	assert_int_equal(regressed, 0);
}

static void test_bad_fragment_fails_cleanly(void **state)
{
	(void)state;
	struct report r;
	char dir[1024] = "unchanged";
	fill(&r);
	snprintf(quality[1].setting_json, sizeof(quality[1].setting_json), "{not json");
	assert_true(report_write(&r, reports, 0, 0.0, dir, sizeof(dir), NULL) < 0);
	assert_string_equal(dir, "");
	/* nothing half-written was left behind */
	DIR *d = opendir(reports);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	if (d)
		closedir(d);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report_writes_four_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_results_json_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_and_html, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storages_targets_spread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_ann_says_so, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_prunes_only_report_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deltas_against_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_on_regression, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_fragment_fails_cleanly, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
