/* Retrieval metrics and qrels parsing: nDCG/MRR/Recall against hand-computed values, BEIR TSV
 * versus TREC detection by content, malformed-line errors naming file and line, ANN recall with
 * ties, RRF order, percentiles, chunk-to-document collapse, TREC run lines. No database. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/metrics.h"

/* Writes text to a fresh temporary file; the caller unlinks and frees the returned path. */
static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/ragload-qrels-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text as a qrels file; returns the rc and, through *err, what went to stderr. */
static int load_text(const char *text, struct qrels **q, char **path_out, char *err, size_t errlen)
{
	char *path = write_tmp(text);
	char errpath[] = "/tmp/ragload-stderr-XXXXXX";
	int efd = mkstemp(errpath);
	assert_true(efd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(efd, 2);
	int rc = qrels_load(path, q);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (err) {
		ssize_t n = pread(efd, err, errlen - 1, 0);
		err[n > 0 ? n : 0] = '\0';
	}
	close(efd);
	unlink(errpath);
	if (path_out)
		*path_out = path;
	else {
		unlink(path);
		free(path);
	}
	return rc;
}

static const char beir_tsv[] =
	"query-id\tcorpus-id\tscore\n"
	"q1\td1\t2\n"
	"q1\td3\t1\n"
	"q1\td4\t1\n"
	"q1\td2\t0\n"
	"q2\td9\t0\n";

/* The same judgments in TREC format, with a tab-separated line and CRLF mixed in. */
static const char trec[] =
	"q1 0 d1 2\n"
	"q1 0 d3 1\r\n"
	"q1\t0\td4\t1\n"
	"\n"
	"q1 0 d2 0\n"
	"q2 0 d9 0\n";

static struct qrels *load_ok(const char *text)
{
	struct qrels *q = NULL;
	assert_int_equal(load_text(text, &q, NULL, NULL, 0), 0);
	assert_non_null(q);
	return q;
}

static void test_ndcg_graded_hand_computed(void **state)
{
	(void)state;
	struct qrels *q = load_ok(beir_tsv);
	/*
	 * q1 judged relevant: d1 (2), d3 (1), d4 (1); d2 judged 0.
	 * Ranking d1, d2, d3 has rels 2, 0, 1 at ranks 1..3; discount log2(rank + 1):
	 *   DCG  = 2/log2(2) + 0/log2(3) + 1/log2(4)            = 2 + 0 + 0.5          = 2.5
	 *   IDCG = 2/log2(2) + 1/log2(3) + 1/log2(4) (2, 1, 1)  = 2 + 0.63092975 + 0.5 = 3.13092975
	 *   nDCG@10 = 2.5 / 3.13092975 = 0.79848486
	 */
	const char *run[] = { "d1", "d2", "d3" };
	assert_float_equal(metric_ndcg(q, "q1", run, 3, 10), 0.7984848580994974, 1e-12);
	/* cut at k = 2: DCG = 2; IDCG@2 = 2 + 1/log2(3) = 2.63092975 */
	assert_float_equal(metric_ndcg(q, "q1", run, 3, 2), 2.0 / (2.0 + 1.0 / log2(3.0)), 1e-12);
	/* the ideal ranking scores 1; extra unjudged documents after it change nothing */
	const char *ideal[] = { "d1", "d3", "d4", "x1", "x2" };
	assert_float_equal(metric_ndcg(q, "q1", ideal, 5, 10), 1.0, 1e-12);
	/* a relevant document at rank 11 is outside nDCG@10 */
	const char *late[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "d1" };
	assert_float_equal(metric_ndcg(q, "q1", late, 11, 10), 0.0, 0);
	assert_float_equal(metric_ndcg(q, "q1", run, 0, 10), 0.0, 0);
	qrels_free(q);
}

static void test_mrr(void **state)
{
	(void)state;
	struct qrels *q = load_ok(beir_tsv);
	const char *run[] = { "d2", "x", "d3", "d1" };  /* d2 is judged 0: not relevant */
	assert_float_equal(metric_mrr(q, "q1", run, 4, 10), 1.0 / 3.0, 1e-12);
	assert_float_equal(metric_mrr(q, "q1", run, 4, 2), 0.0, 0);
	const char *first[] = { "d4" };
	assert_float_equal(metric_mrr(q, "q1", first, 1, 10), 1.0, 0);
	qrels_free(q);
}

static void test_recall_at_100(void **state)
{
	(void)state;
	struct qrels *q = load_ok(beir_tsv);
	const char *run[] = { "d1", "d2", "d3" };
	assert_float_equal(metric_recall(q, "q1", run, 3, 100), 2.0 / 3.0, 1e-12);
	assert_float_equal(metric_recall(q, "q1", run, 3, 1), 1.0 / 3.0, 1e-12);
	/* 150 results with every relevant one present: recall 1 only once all are inside the cut */
	const char *many[150];
	char names[150][16];
	for (int i = 0; i < 150; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		many[i] = names[i];
	}
	many[0] = "d1";
	many[50] = "d3";
	many[120] = "d4";
	assert_float_equal(metric_recall(q, "q1", many, 150, 100), 2.0 / 3.0, 1e-12);
	assert_float_equal(metric_recall(q, "q1", many, 150, 150), 1.0, 1e-12);
	qrels_free(q);
}

static void test_query_without_relevant_docs(void **state)
{
	(void)state;
	struct qrels *q = load_ok(beir_tsv);
	const char *run[] = { "d9", "d1" };
	assert_int_equal(qrels_n_relevant(q, "q2"), 0);
	assert_int_equal(qrels_rel(q, "q2", "d9"), 0);
	assert_float_equal(metric_ndcg(q, "q2", run, 2, 10), 0.0, 0);
	assert_float_equal(metric_mrr(q, "q2", run, 2, 10), 0.0, 0);
	assert_float_equal(metric_recall(q, "q2", run, 2, 100), 0.0, 0);
	/* and an unknown query is not an error either */
	assert_float_equal(metric_ndcg(q, "nope", run, 2, 10), 0.0, 0);
	assert_int_equal(qrels_n_relevant(q, "nope"), 0);
	qrels_free(q);
}

static void test_qrels_tsv_vs_trec_detection(void **state)
{
	(void)state;
	struct qrels *a = load_ok(beir_tsv);
	struct qrels *b = load_ok(trec);
	/* headerless three-field TSV is BEIR too */
	struct qrels *c = load_ok("q1\td1\t2\nq1\td3\t1\n");
	/* another header spelling, a byte order mark, CRLF */
	struct qrels *e = load_ok("\xef\xbb\xbfquery_id\tdoc_id\trelevance\r\nq1\td7\t3\r\n");
	assert_int_equal(qrels_format(e), QRELS_BEIR_TSV);
	assert_int_equal(qrels_n_judgments(e), 1);
	assert_int_equal(qrels_rel(e, "q1", "d7"), 3);
	qrels_free(e);
	assert_int_equal(qrels_format(a), QRELS_BEIR_TSV);
	assert_int_equal(qrels_format(b), QRELS_TREC);
	assert_int_equal(qrels_format(c), QRELS_BEIR_TSV);

	assert_int_equal(qrels_n_judgments(a), 5);
	assert_int_equal(qrels_n_judgments(b), 5);
	assert_int_equal(qrels_n_queries(a), 2);
	assert_string_equal(qrels_query(a, 0), "q1");
	assert_string_equal(qrels_query(a, 1), "q2");
	assert_null(qrels_query(a, 2));
	assert_int_equal(qrels_rel(b, "q1", "d1"), 2);
	assert_int_equal(qrels_rel(b, "q1", "d4"), 1);
	assert_int_equal(qrels_rel(b, "q1", "d2"), 0);
	assert_int_equal(qrels_rel(b, "q2", "d1"), 0);  /* judged for q1 only */
	assert_int_equal(qrels_n_relevant(a, "q1"), 3);
	assert_int_equal(qrels_n_relevant(b, "q1"), 3);
	assert_int_equal(qrels_rel(c, "q1", "d3"), 1);

	const char *run[] = { "d1", "d2", "d3" };
	assert_float_equal(metric_ndcg(a, "q1", run, 3, 10), metric_ndcg(b, "q1", run, 3, 10), 0);
	qrels_free(a);
	qrels_free(b);
	qrels_free(c);
	qrels_free(NULL);
}

static void test_qrels_duplicate_last_wins(void **state)
{
	(void)state;
	struct qrels *q = load_ok("query-id\tcorpus-id\tscore\nq\td\t1\nq\td\t0\nq\te\t1.0\n");
	assert_int_equal(qrels_n_judgments(q), 2);
	assert_int_equal(qrels_rel(q, "q", "d"), 0);
	assert_int_equal(qrels_rel(q, "q", "e"), 1);
	assert_int_equal(qrels_n_relevant(q, "q"), 1);
	qrels_free(q);
}

static void test_qrels_malformed_line_error(void **state)
{
	(void)state;
	struct qrels *q = (struct qrels *)1;
	char err[1024], *path;

	/* line 3 has two fields */
	assert_true(load_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\n", &q, &path, err,
			      sizeof(err)) < 0);
	assert_null(q);
	char want[512];
	snprintf(want, sizeof(want), "%s:3:", path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "3 tab-separated fields"));
	unlink(path);
	free(path);

	/* a non-integer grade, TREC, line 2 */
	assert_true(load_text("q1 0 d1 1\nq1 0 d2 high\n", &q, &path, err, sizeof(err)) < 0);
	snprintf(want, sizeof(want), "%s:2:", path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "not an integer"));
	unlink(path);
	free(path);

	/* a fractional grade */
	assert_true(load_text("q1 0 d1 0.5\n", &q, NULL, err, sizeof(err)) < 0);
	/* neither format */
	assert_true(load_text("just some words here and more\n", &q, NULL, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ":1:"));
	/* a TREC line with a missing field after TREC was detected */
	assert_true(load_text("q1 0 d1 1\nq1 d2 1\n", &q, NULL, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ":2:"));
	/* empty file */
	assert_true(load_text("", &q, NULL, err, sizeof(err)) < 0);
	/* missing file */
	assert_true(qrels_load("/nonexistent/qrels.tsv", &q) < 0);
	assert_null(q);
}

static void test_qrels_million_judgments(void **state)
{
	(void)state;
	char *path = strdup("/tmp/ragload-qrels-big-XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("query-id\tcorpus-id\tscore\n", f);
	for (int i = 0; i < 1000000; i++)
		fprintf(f, "q%d\tdoc%d\t%d\n", i / 100, i, i % 3);
	fclose(f);

	struct qrels *q = NULL;
	double t0 = now_seconds();
	assert_int_equal(qrels_load(path, &q), 0);
	double t = now_seconds() - t0;
	print_message("1M judgments loaded in %.3f s\n", t);
	assert_int_equal(qrels_n_judgments(q), 1000000);
	assert_int_equal(qrels_n_queries(q), 10000);
	assert_int_equal(qrels_rel(q, "q9999", "doc999998"), 999998 % 3);
	assert_int_equal(qrels_rel(q, "q0", "doc999998"), 0);
	assert_int_equal(qrels_n_relevant(q, "q5"), 67);  /* i % 3 != 0 for 67 of 500..599 */
	assert_true(t < 30.0);
	qrels_free(q);
	unlink(path);
	free(path);
}

static void test_ann_recall_ties(void **state)
{
	(void)state;
	const int64_t exact[] = { 1, 2, 3 };
	const float ed[] = { 0.10f, 0.20f, 0.30f };

	/* id 7 sits exactly at the k-th distance: a tie the exact sort broke the other way */
	const int64_t tie[] = { 1, 2, 7 };
	const float td[] = { 0.10f, 0.20f, 0.30f };
	assert_float_equal(metric_ann_recall(tie, td, 3, exact, ed, 3, 1e-5), 1.0, 0);

	/* within the tolerance: 1e-5 * 0.3 = 3e-6 */
	const float near[] = { 0.10f, 0.20f, 0.300001f };
	assert_float_equal(metric_ann_recall(tie, near, 3, exact, ed, 3, 1e-5), 1.0, 0);

	/* not a tie: 0.31 is beyond the k-th distance by far more than the tolerance */
	const float far[] = { 0.10f, 0.20f, 0.31f };
	assert_float_equal(metric_ann_recall(tie, far, 3, exact, ed, 3, 1e-5), 2.0 / 3.0, 1e-12);
	/* the same without distances: only ids count */
	assert_float_equal(metric_ann_recall(tie, NULL, 3, exact, NULL, 3, 1e-5), 2.0 / 3.0, 1e-12);

	/* nearer than the k-th yet not in the exact list (rounding between BLAS and PG): a hit */
	const float closer[] = { 0.10f, 0.20f, 0.25f };
	assert_float_equal(metric_ann_recall(tie, closer, 3, exact, ed, 3, -1), 1.0, 0);

	/* a duplicate id is one result; fewer results than k count as misses */
	const int64_t dup[] = { 1, 1, 2 };
	assert_float_equal(metric_ann_recall(dup, td, 3, exact, ed, 3, 1e-5), 2.0 / 3.0, 1e-12);
	assert_float_equal(metric_ann_recall(exact, ed, 2, exact, ed, 3, 1e-5), 2.0 / 3.0, 1e-12);
	/* only the first k ANN results count */
	const int64_t longer[] = { 9, 1, 2, 3 };
	const float ld[] = { 0.5f, 0.1f, 0.2f, 0.3f };
	assert_float_equal(metric_ann_recall(longer, ld, 4, exact, ed, 3, 1e-5), 2.0 / 3.0, 1e-12);
	/* near-zero k-th distance: the floor makes the tolerance absolute (1e-6) */
	const float zd[] = { 0.0f, 0.0f, 0.0f };
	const float zn[] = { 0.0f, 0.0f, 5e-7f };
	assert_float_equal(metric_ann_recall(tie, zn, 3, exact, zd, 3, 1e-5), 1.0, 0);
	assert_true(metric_ann_recall(tie, td, 3, exact, ed, 0, 1e-5) < 0);
}

static void test_rrf_order(void **state)
{
	(void)state;
	/* a = vector ranking, b = full-text ranking, k = 60:
	 *   1: 1/61 + 1/62 = 0.032522   3: 1/63 + 1/61 = 0.032266
	 *   2: 1/62        = 0.016129   4: 1/63        = 0.015873  */
	const int64_t a[] = { 1, 2, 3 }, b[] = { 3, 1, 4 };
	int64_t out[6];
	double sc[6];
	size_t n;
	assert_int_equal(rrf_fuse(a, 3, b, 3, 60, out, sc, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 3);
	assert_int_equal(out[2], 2);
	assert_int_equal(out[3], 4);
	assert_float_equal(sc[0], 1.0 / 61 + 1.0 / 62, 1e-15);
	assert_float_equal(sc[3], 1.0 / 63, 1e-15);

	/* a full tie: list a's first wins; duplicates inside a list count once */
	const int64_t c[] = { 5, 6, 5 }, d[] = { 6, 5 };
	assert_int_equal(rrf_fuse(c, 3, d, 2, 0, out, NULL, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 5);
	assert_int_equal(out[1], 6);
	/* one empty list: the other's order */
	assert_int_equal(rrf_fuse(NULL, 0, b, 3, 60, out, NULL, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[2], 4);
}

static void test_percentile_known_data(void **state)
{
	(void)state;
	double x[] = { 7, 1, 10, 3, 2, 9, 4, 6, 5, 8 };
	/* type 7: h = (n-1) p/100 over 1..10 */
	assert_float_equal(metric_percentile(x, 10, 50), 5.5, 1e-12);   /* h = 4.5 */
	assert_float_equal(metric_percentile(x, 10, 95), 9.55, 1e-12);  /* h = 8.55 */
	assert_float_equal(metric_percentile(x, 10, 99), 9.91, 1e-12);  /* h = 8.91 */
	assert_float_equal(metric_percentile(x, 10, 0), 1.0, 0);
	assert_float_equal(metric_percentile(x, 10, 100), 10.0, 0);
	assert_float_equal(x[0], 1.0, 0);  /* sorted in place, as documented */
	double one[] = { 42 };
	assert_float_equal(metric_percentile(one, 1, 99), 42.0, 0);
	assert_true(isnan(metric_percentile(one, 0, 50)));
	assert_true(isnan(metric_percentile(one, 1, 101)));
}

static void test_collapse_chunks_to_documents(void **state)
{
	(void)state;
	int64_t ids[] = { 5, 3, 5, 7, 3, 9 };
	size_t n;
	assert_int_equal(metric_collapse_ids(ids, 6, ids, &n), 0);  /* in place */
	assert_int_equal(n, 4);
	assert_int_equal(ids[0], 5);
	assert_int_equal(ids[1], 3);
	assert_int_equal(ids[2], 7);
	assert_int_equal(ids[3], 9);

	const char *keys[] = { "b", "a", "b", "c", "a" };
	const char *out[5];
	assert_int_equal(metric_collapse_keys(keys, 5, out, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[0], "b");
	assert_string_equal(out[1], "a");
	assert_string_equal(out[2], "c");
	assert_int_equal(metric_collapse_keys(keys, 0, out, &n), 0);
	assert_int_equal(n, 0);
}

static void test_run_line(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(metric_run_line(&b, "q1", "doc-7", 1, 0.8125, "ragload-hnsw"), 0);
	assert_string_equal(b.data, "q1 Q0 doc-7 1 0.8125 ragload-hnsw\n");
	assert_int_equal(metric_run_line(&b, "q 1", "d", 2, 0.5, "t"), RL_ERR);
	assert_int_equal(metric_run_line(&b, "q1", "", 2, 0.5, "t"), RL_ERR);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndcg_graded_hand_computed),
		cmocka_unit_test(test_mrr),
		cmocka_unit_test(test_recall_at_100),
		cmocka_unit_test(test_query_without_relevant_docs),
		cmocka_unit_test(test_qrels_tsv_vs_trec_detection),
		cmocka_unit_test(test_qrels_duplicate_last_wins),
		cmocka_unit_test(test_qrels_malformed_line_error),
		cmocka_unit_test(test_qrels_million_judgments),
		cmocka_unit_test(test_ann_recall_ties),
		cmocka_unit_test(test_rrf_order),
		cmocka_unit_test(test_percentile_known_data),
		cmocka_unit_test(test_collapse_chunks_to_documents),
		cmocka_unit_test(test_run_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
