/*
 * evaluate.c — the evaluate stage (`ragload eval`): how well and how fast the loaded corpus
 * retrieves.
 *
 * What: for a set of queries (BEIR queries.jsonl embedded with the corpus's own model, or
 * .fvecs vectors) eval computes
 *   - the exact top-k by ragload itself: the reference every ANN figure is measured against;
 *   - for every pgvector index present (each storage: vector, halfvec, bits re-ranked) and
 *     every search setting of its sweep: recall@k, latency p50/p95/p99 and QPS (the median of
 *     repeated timed passes) on one connection, QPS on N connections, and the plan that
 *     served it;
 *   - with qrels: nDCG@10, MRR@10 and Recall@100 at document level for exact search, each ANN
 *     setting, PostgreSQL full-text search, an RRF hybrid of dense and full text (hybrid_fts),
 *     Okapi BM25 and the hybrid of dense and BM25, the last two ranked by the SQL functions
 *     every client calls (ragload_bm25, ragload_hybrid);
 *   - with an .ivecs ground truth: on how many queries ragload's exact top-k agrees with it;
 * then writes the report (stages/report.h) and, on request, a TREC run file.
 *
 * How (evaluate_run reads like the table of contents; the sections are files of their own,
 * sharing struct eval through evaluate_private.h):
 *   corpus_open()      corpus facts, document keys, the corpus's model (this file; the
 *                      command opened and locked the corpus)
 *   queries_load()     qrels, the queries (only judged ones), embedded down the query path or
 *   truth_load()       read from .fvecs; the .ivecs ground truth      (evaluate_queries.c)
 *   eval_pool_open()   the extra connections, the ANN statements prepared (evaluate_ann.c)
 *   exact_search()     every vector once by COPY TO BINARY, streamed in blocks through
 *                      cblas_sgemm against all queries, bounded heaps per query
 *   truth_check()      ragload's exact top-k against the file, up to ties (evaluate_exact.c)
 *   quality_exact(), quality_fts(), quality_hybrid_fts(), quality_bm25(),
 *   quality_hybrid()                                              (evaluate_quality.c)
 *   ann_measure()      per index and setting: EXPLAIN, timed passes, N-connection passes, quality
 *                                                                  (evaluate_ann.c)
 *   report_emit()      the report stage (stages/report.h)
 *
 * Why this way:
 * - The reference is computed here, not by PostgreSQL: one sequential read of the vectors and
 *   one matrix product per block beats an ORDER BY ... LIMIT scan per query by far, and does
 *   not depend on the planner. For the ANN reference the float sgemm only filters: a row that
 *   may enter the top k is re-scored in double precision with pgvector's formula, so reference
 *   distances agree with the server's to float rounding, which metric_ann_recall's tie rule
 *   absorbs (the ground-truth check agrees on all 100 SIFT10K queries).
 * - Both index kinds may exist at once and the planner picks one, so each setting is measured
 *   with the other kind steered away and the plan proven with EXPLAIN; where the planner
 *   prefers a sequential scan, the index is forced (enable_seqscan = off in the same SET
 *   LOCAL) and the row says so (forced); a setting the intended index still did not serve is
 *   flagged (seqscan) and never reported as that index's result.
 * - Every ranking breaks ties by chunk id (exact, ANN, full text, BM25, hybrid), so a figure
 *   does not move from run to run.
 * - Rankings go to the run file in exactly the order the metrics consume them, with strictly
 *   decreasing scores (1000 - rank), so trec_eval reproduces every quality figure.
 * - Full-text ranking needs each matching chunk's tsvector. Recomputing the chunks_fts_idx
 *   expression per matching row costs ~0.4 s per SciFact query (an OR of the query's lexemes
 *   matches thousands of chunks), so eval materialises that same expression once per
 *   connection in a temporary table with its own GIN index: the same tsvectors, the same
 *   ranking, ~0.05 s per query. Untimed passes like this one run on all pool connections.
 */
#include "evaluate_private.h"
#include "../models/model.h"
#include "index.h"
#include "query.h"
#include "report.h"
#include "../lib/db.h"
#include "../models/store.h"
#include "../lib/metrics.h"
#include "../lib/pgcopy.h"
#include "../lib/vecfile.h"
#include "../lib/blas.h"

#include <cblas.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------------------------ */

/* The key index of a document id, or -1. */
int32_t eval_doc_kidx(const struct doc_keys *k, int32_t doc)
{
	size_t lo = 0, hi = k->n_docs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->doc[mid] < doc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < k->n_docs && k->doc[lo] == doc ? k->kidx[lo] : -1;
}

/* The key index of a key string, or -1. */
int32_t eval_key_kidx(const struct doc_keys *k, const char *key)
{
	size_t lo = 0, hi = k->n_keys;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(k->key[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < k->n_keys && strcmp(k->key[lo], key) == 0 ? (int32_t)lo : -1;
}

static void doc_keys_release(struct doc_keys *k)
{
	PQclear(k->res);
	free(k->key);
	free(k->doc);
	free(k->kidx);
	memset(k, 0, sizeof(*k));
}

struct doc_pair {
	int32_t doc, kidx;
};

static int doc_pair_cmp(const void *x, const void *y)
{
	const struct doc_pair *a = x, *b = y;
	return (a->doc > b->doc) - (a->doc < b->doc);
}

/* Loads every document's key. Keys come sorted by byte order (COLLATE "C" = strcmp), so equal
 * keys are adjacent and numbered once; two documents with one key are one document to qrels. */
static int doc_keys_load(PGconn *conn, struct doc_keys *k)
{
	int rc = RL_ENOMEM;
	struct doc_pair *pairs = NULL;
	k->res = db_query(conn,
		"SELECT doc_id, coalesce(metadata->>'_id', source_name) AS key FROM documents "
		"ORDER BY coalesce(metadata->>'_id', source_name) COLLATE \"C\", doc_id", 0, NULL);
	if (!k->res)
		return RL_ERR;
	size_t n = (size_t)PQntuples(k->res);
	k->key = malloc((n ? n : 1) * sizeof(*k->key));
	k->doc = malloc((n ? n : 1) * sizeof(*k->doc));
	k->kidx = malloc((n ? n : 1) * sizeof(*k->kidx));
	pairs = malloc((n ? n : 1) * sizeof(*pairs));
	if (!k->key || !k->doc || !k->kidx || !pairs)
		goto out;
	size_t nk = 0;
	for (size_t i = 0; i < n; i++) {
		const char *key = PQgetvalue(k->res, (int)i, 1);
		if (nk == 0 || strcmp(k->key[nk - 1], key) != 0)
			k->key[nk++] = key;
		pairs[i].doc = (int32_t)strtol(PQgetvalue(k->res, (int)i, 0), NULL, 10);
		pairs[i].kidx = (int32_t)(nk - 1);
	}
	qsort(pairs, n, sizeof(*pairs), doc_pair_cmp);
	for (size_t i = 0; i < n; i++) {
		k->doc[i] = pairs[i].doc;
		k->kidx[i] = pairs[i].kidx;
	}
	k->n_keys = nk;
	k->n_docs = n;
	if (nk < n)
		log_warn("eval: %zu documents share a key with another; they count as one document",
			 n - nk);
	rc = 0;
out:
	free(pairs);
	return rc;
}

/* ---- corpus ------------------------------------------------------------------------------- */

/* Reads the corpus facts, document keys and the model. Returns 0 or negative (logged). */
static int corpus_open(struct eval *e)
{
	PGresult *r = db_query(e->conn,
		"SELECT current_database(), (SELECT count(*) FROM documents), "
		"(SELECT count(*) FROM chunks), (SELECT count(*) FROM embeddings), "
		"coalesce((SELECT value FROM ragload_corpus WHERE key = 'distance'), 'cosine'), "
		"coalesce((SELECT model_name FROM embeddings LIMIT 1), "
		"         (SELECT value FROM ragload_corpus WHERE key = 'model'), ''), "
		"(SELECT atttypmod FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
		" AND attname = 'embedding_vector'), current_setting('server_version'), "
		"coalesce((SELECT extversion FROM pg_extension WHERE extname = 'vector'), '')",
		0, NULL);
	if (!r)
		return RL_ERR;
	snprintf(e->dbname, sizeof(e->dbname), "%s", PQgetvalue(r, 0, 0));
	e->n_docs = atoll(PQgetvalue(r, 0, 1));
	e->n_chunks = atoll(PQgetvalue(r, 0, 2));
	e->n_vectors = atoll(PQgetvalue(r, 0, 3));
	snprintf(e->distance, sizeof(e->distance), "%s", PQgetvalue(r, 0, 4));
	snprintf(e->model_name, sizeof(e->model_name), "%s", PQgetvalue(r, 0, 5));
	e->dim = atoi(PQgetvalue(r, 0, 6));
	snprintf(e->pg_version, sizeof(e->pg_version), "%s", PQgetvalue(r, 0, 7));
	snprintf(e->vec_version, sizeof(e->vec_version), "%s", PQgetvalue(r, 0, 8));
	PQclear(r);

	int major = 0, minor = 0;
	sscanf(e->vec_version, "%d.%d", &major, &minor);
	e->iter_scan = major > 0 || minor >= 8;
	/* extension 1.2: the other vector indexes are hidden from the planner, not priced away */
	int ok = 0;
	e->hide_ix = db_scalar_int(e->conn, "SELECT (to_regprocedure('ragload_hide_indexes(text)') "
				   "IS NOT NULL)::int", 0, &ok) == 1;
	e->op = index_operator(e->distance);
	if (!e->op) {
		log_error("ragload_corpus: unknown distance '%s'", e->distance);
		return RL_ERR;
	}
	e->dist = !strcmp(e->distance, "l2") ? DIST_L2 : !strcmp(e->distance, "ip") ? DIST_IP
										  : DIST_COSINE;
	if (e->n_vectors == 0) {
		log_error("the corpus has no embeddings yet: run `ragload ingest` first");
		return RL_ERR;
	}
	if (doc_keys_load(e->conn, &e->keys))
		return RL_ERR;

	/* A text model embeds the queries; precomputed vectors have none (queries come as .fvecs). */
	if (strncmp(e->model_name, "precomputed:", 12) == 0) {
		json_t *j = json_pack("{s:s, s:i}", "kind", "precomputed", "dim",
				      atoi(e->model_name + 12));
		e->model_json = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	} else {
		int mrc = corpus_current_model(e->conn, &e->model);
		if (mrc < 0)
			return RL_ERR;
		if (mrc == 0) {
			e->model_json = xstrdup(model_settings_json(e->model));
			if (e->dim <= 0)
				e->dim = model_dim(e->model);
			if (model_dim(e->model) != e->dim) {
				log_error("model %s has %d dimensions, embeddings.embedding_vector %d",
					  e->model_name, model_dim(e->model), e->dim);
				return RL_ERR;
			}
		}
	}
	return 0;
}

/* ---- report --------------------------------------------------------------------------------- */

static int report_emit(struct eval *e, int *regressed)
{
	const struct eval_args *a = e->a;
	json_t *st = json_pack("{s:i, s:i, s:i, s:f}", "connections", a->connections,
			       "exact_chunks_per_query", e->kc, "docs_per_ranking", EVAL_DOCS,
			       "qps_seconds", a->qps_seconds);
	/* the full-text configuration only where full text was measured */
	if (st && e->quality_on && (a->methods & EVAL_M_FTS))
		json_object_set_new(st, "fts_config", json_string(a->fts_config));
	if (!st)
		return RL_ENOMEM;
	/* how each index's sweep kept the planner off the other vector indexes */
	if (a->methods & EVAL_M_ANN)
		json_object_set_new(st, "other_indexes", json_string(e->hide_ix ? "hidden" : "steered"));
	if (a->ground_truth) {
		json_object_set_new(st, "ground_truth_file", json_string(a->ground_truth));
		json_object_set_new(st, "ground_truth_agreement", isfinite(e->gt_agreement) ?
				    json_real(e->gt_agreement) : json_null());
		json_object_set_new(st, "ground_truth_queries", json_integer((json_int_t)e->gt_checked));
	}
	if (a->max_queries)
		json_object_set_new(st, "max_queries", json_integer(a->max_queries));
	if (a->run_file)
		json_object_set_new(st, "run_file", json_string(a->run_file));
	json_object_set(st, "ann_plans", e->plans);
	char *settings = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	if (!settings)
		return RL_ENOMEM;

	struct report r;
	report_init(&r);
	r.corpus_name = e->dbname;
	r.documents = e->n_docs;
	r.chunks = e->n_chunks;
	r.distance = e->distance;
	r.dim = e->dim;
	r.model_name = e->model_name;
	r.model_json = e->model_json ? e->model_json : "";
	r.pg_version = e->pg_version;
	r.pgvector_version = e->vec_version;
	r.k = e->k;
	r.queries_file = a->queries;
	r.qrels_file = a->qrels;
	r.n_queries = (int)e->nq;
	r.settings_json = settings;
	r.quality = e->quality;
	r.n_quality = e->n_quality;
	r.ann = e->ann;
	r.n_ann = e->n_ann;
	r.exact_seconds = e->exact_seconds;
	char dir[PATH_MAX];
	int rc = report_write(&r, a->reports_dir, a->keep, a->fail_on_regression, dir, sizeof(dir),
			      regressed);
	free(settings);
	if (!rc)
		printf("%s/report.html\n", dir);
	return rc;
}

/* ---- the command -------------------------------------------------------------------------- */

void eval_args_defaults(struct eval_args *a)
{
	memset(a, 0, sizeof(*a));
	a->k = 10;
	a->reports_dir = "reports";
	a->connections = 2;
	a->qps_seconds = 1.0;
	a->fts_config = "english";
	a->methods = EVAL_M_ALL;
}

int eval_methods_parse(const char *list, unsigned *bits)
{
	static const struct { const char *name; unsigned bit; } m[] = {
		{"exact", 0}, {"fts", EVAL_M_FTS}, {"hybrid_fts", EVAL_M_HYBRID_FTS | EVAL_M_FTS},
		{"hybrid-fts", EVAL_M_HYBRID_FTS | EVAL_M_FTS}, {"bm25", EVAL_M_BM25},
		{"hybrid", EVAL_M_HYBRID}, {"ann", EVAL_M_ANN},
	};
	*bits = 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ","), i;
		for (i = 0; i < RL_ARRAY_LEN(m); i++)
			if (strlen(m[i].name) == n && !strncmp(p, m[i].name, n))
				break;
		if (i == RL_ARRAY_LEN(m))
			return -1;
		*bits |= m[i].bit;
		p += n + (p[n] == ',');
	}
	return 0;
}

static void eval_release(struct eval *e)
{
	for (size_t q = 0; q < e->nq; q++) {
		free(e->qid[q]);
		if (e->qtext)
			free(e->qtext[q]);
		if (e->qlit)
			free(e->qlit[q]);
	}
	free(e->qid);
	free(e->qtext);
	free(e->qlit);
	free(e->qord);
	free(e->qvec);
	free(e->exact);
	free(e->exact_n);
	free(e->cmap);
	free(e->ref_ids);
	free(e->ref_d);
	free(e->gt_kidx);
	free(e->gt_d);
	free(e->dense_docs);
	free(e->dense_n);
	free(e->fts_docs);
	free(e->fts_n);
	free(e->quality);
	free(e->ann);
	json_decref(e->plans);
	free(e->model_json);
	model_free(e->model);
	qrels_free(e->qrels);
	doc_keys_release(&e->keys);
	for (int i = 0; i < e->pool.n; i++)
		PQfinish(e->pool.c[i]);
	if (e->run) {
		fclose(e->run);
		unlink(e->run_tmp);
	}
}

/* Report rows, the plan log and the run file (written to <file>.tmp, renamed at the end). */
static int eval_init(struct eval *e)
{
	e->quality = calloc(EVAL_MAX_ROWS, sizeof(*e->quality));
	e->ann = calloc(EVAL_MAX_ROWS, sizeof(*e->ann));
	e->plans = json_array();
	if (!e->quality || !e->ann || !e->plans)
		return RL_ENOMEM;
	if (e->a->run_file) {
		snprintf(e->run_tmp, sizeof(e->run_tmp), "%s.tmp", e->a->run_file);
		if (!(e->run = fopen(e->run_tmp, "w"))) {
			log_error("%s: %s", e->run_tmp, strerror(errno));
			return RL_ERR;
		}
	}
	return 0;
}

/* How deep each search goes: k for recall@k; kc chunks when documents are ranked (qrels or a
 * run file) or when a ground truth names documents of several chunks. */
static int eval_depths(struct eval *e)
{
	const struct eval_args *a = e->a;
	e->k = a->k < e->n_vectors ? a->k : (int)e->n_vectors;
	e->quality_on = a->qrels || a->run_file;
	e->kc = e->k;
	if (e->quality_on || (a->ground_truth && e->n_chunks > e->n_docs))
		e->kc = e->n_vectors < EVAL_CHUNKS ? (int)e->n_vectors : EVAL_CHUNKS;
	/* An ANN quality pass needs enough chunks for EVAL_DOCS documents: three times the mean
	 * chunks per document (the server's cost grows with the LIMIT, notably for iterative
	 * scans), at most EVAL_CHUNKS; the exact ranking always takes EVAL_CHUNKS. */
	double per = e->n_docs > 0 ? (double)e->n_chunks / (double)e->n_docs : 1;
	double want = 3.0 * EVAL_DOCS * (per > 1 ? per : 1);
	e->ann_chunks = want < EVAL_CHUNKS ? (int)want : EVAL_CHUNKS;
	snprintf(e->kstr, sizeof(e->kstr), "%d", e->k);
	snprintf(e->chunks_str, sizeof(e->chunks_str), "%d", EVAL_CHUNKS);
	return 0;
}

static int run_file_close(struct eval *e)
{
	if (!e->run)
		return 0;
	FILE *f = e->run;
	e->run = NULL;
	if (fclose(f) || rename(e->run_tmp, e->a->run_file)) {
		log_error("%s: %s", e->a->run_file, strerror(errno));
		unlink(e->run_tmp);
		return RL_ERR;
	}
	return 0;
}

int evaluate_run(const struct rl_config *cfg, PGconn *conn, const struct eval_args *a,
		 struct eval_summary *sum)
{
	struct eval e;
	memset(&e, 0, sizeof(e));
	e.cfg = cfg;
	e.a = a;
	e.conn = conn;
	e.gt_agreement = NAN;
	int rc = RL_ERR, regressed = 0;

	if (eval_init(&e) || corpus_open(&e))
		goto out;
	if (queries_load(&e) || eval_depths(&e) || (a->ground_truth && truth_load(&e)))
		goto out;
	if (eval_pool_open(&e) || exact_search(&e) || (a->ground_truth && truth_check(&e)))
		goto out;
	unsigned m = a->methods;
	if (e.quality_on && (quality_exact(&e) ||
			     (e.qtext && (((m & EVAL_M_FTS) && quality_fts(&e)) ||
					  ((m & EVAL_M_HYBRID_FTS) && quality_hybrid_fts(&e)) ||
					  ((m & EVAL_M_BM25) && quality_bm25(&e)) ||
					  ((m & EVAL_M_HYBRID) && quality_hybrid(&e))))))
		goto out;
	if (((m & EVAL_M_ANN) && ann_measure(&e)) || run_file_close(&e) ||
	    report_emit(&e, &regressed))
		goto out;
	rc = 0;
out:
	*sum = (struct eval_summary){e.nq, e.n_quality, e.n_ann, regressed};
	eval_release(&e);
	return rc;
}
