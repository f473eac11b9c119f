/*
 * evaluate_quality.c — retrieval quality at document level (a document ranks by its best
 * chunk): nDCG@10, MRR@10, Recall@100 from lib/metrics.c for the exact ranking, PostgreSQL
 * full-text search (the query as search asks it, over materialised tsvectors), the RRF
 * hybrid of the two (hybrid_fts), BM25 and the dense+BM25 hybrid (the SQL functions of
 * migration 0004), and each ANN setting; the rankings also go to the run file. Untimed
 * ranking passes run on every pool connection at once.
 */
#include "evaluate_private.h"
#include "index.h"
#include "query.h"
#include "../lib/db.h"
#include "../lib/blas.h"
#include "../lib/pgcopy.h"
#include "../lib/vecfile.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- quality --------------------------------------------------------------------------------
 * One accumulator per method: each query's document ranking is scored and written to the run
 * file in the same order, so the metrics are exactly what trec_eval computes from the file. */

struct qacc {
	double ndcg, mrr, recall;
	int n;
	const char *tag;
	struct buf line;
	int bad_keys;
};

static void qacc_init(struct qacc *acc, const char *tag)
{
	memset(acc, 0, sizeof(*acc));
	acc->tag = tag;
	buf_init(&acc->line, 1u << 24);
}

/* Chunk document ids (best first) -> up to EVAL_DOCS key indexes, each document at its best
 * chunk (its first occurrence), as metric_collapse_ids does; it stops once EVAL_DOCS documents
 * are found, which is usually after a fraction of the chunks. out needs EVAL_DOCS entries. */
static int rank_docs(const struct eval *e, const int32_t *docs, size_t n, int32_t *out, int *n_out)
{
	int m = 0;
	for (size_t i = 0; i < n && m < EVAL_DOCS; i++) {
		int32_t kx = eval_doc_kidx(&e->keys, docs[i]);
		int seen = kx < 0;
		for (int j = m - 1; j >= 0 && !seen; j--)
			seen = out[j] == kx;
		if (!seen)
			out[m++] = kx;
	}
	*n_out = m;
	return 0;
}

/* Scores one query's document ranking and writes it to the run file. */
static int qacc_add(struct eval *e, struct qacc *acc, size_t q, const int32_t *docs, int n)
{
	const char *keys[EVAL_DOCS];
	for (int i = 0; i < n; i++)
		keys[i] = e->keys.key[docs[i]];
	if (e->qrels) {
		acc->ndcg += metric_ndcg(e->qrels, e->qid[q], keys, (size_t)n, 10);
		acc->mrr += metric_mrr(e->qrels, e->qid[q], keys, (size_t)n, 10);
		acc->recall += metric_recall(e->qrels, e->qid[q], keys, (size_t)n, EVAL_DOCS);
	}
	acc->n++;
	if (!e->run)
		return 0;
	buf_reset(&acc->line);
	for (int i = 0; i < n; i++) {
		int rc = metric_run_line(&acc->line, e->qid[q], keys[i], i + 1, 1000.0 - (i + 1),
					 acc->tag);
		if (rc == RL_ERR)
			acc->bad_keys++;  /* whitespace in an id: trec_eval could not read the line */
		else if (rc)
			return rc;
	}
	if (acc->line.len && fwrite(acc->line.data, 1, acc->line.len, e->run) != acc->line.len) {
		log_error("%s: %s", e->a->run_file, strerror(errno));
		return RL_ERR;
	}
	return 0;
}

/* Adds the quality row (with qrels) and releases the accumulator. */
static int qacc_finish(struct eval *e, struct qacc *acc, const char *method, const char *setting)
{
	int rc = 0;
	if (acc->bad_keys)
		log_warn("eval: %s: %d run-file lines left out: query or document id contains "
			 "whitespace", acc->tag, acc->bad_keys);
	if (e->qrels && acc->n > 0) {
		if (e->n_quality == EVAL_MAX_ROWS) {
			rc = RL_ELIMIT;
			goto out;
		}
		struct report_quality *r = &e->quality[e->n_quality++];
		memset(r, 0, sizeof(*r));
		snprintf(r->method, sizeof(r->method), "%s", method);
		snprintf(r->setting_json, sizeof(r->setting_json), "%s", setting ? setting : "");
		r->ndcg10 = acc->ndcg / acc->n;
		r->mrr10 = acc->mrr / acc->n;
		r->recall100 = acc->recall / acc->n;
		r->n_queries = acc->n;
		log_info("eval: %-8s %-48s nDCG@10 %.4f  MRR@10 %.4f  Recall@100 %.4f", method,
			 setting ? setting : "", r->ndcg10, r->mrr10, r->recall100);
	}
out:
	buf_release(&acc->line);
	return rc;
}

/* ---- ranking passes ----------------------------------------------------------------------
 * A ranking pass runs one statement per query and keeps each query's document ranking. It is
 * never timed, so it runs on every pool connection at once (queries split round robin); the
 * caller then scores the rankings and writes them in query order, so the parallelism never
 * shows in a figure or in the run file. */


struct pass_worker {
	const struct eval *e;
	const struct pass *p;
	PGconn *conn;
	int t, n;
	int rc;
};

static void *pass_main(void *arg)
{
	struct pass_worker *w = arg;
	const struct eval *e = w->e;
	const struct pass *p = w->p;
	int32_t *chunk_docs = malloc(EVAL_CHUNKS * sizeof(*chunk_docs));
	w->rc = chunk_docs ? p->setup(e, w->conn, p->arg) : RL_ENOMEM;
	for (size_t q = (size_t)w->t; q < e->nq && !w->rc; q += (size_t)w->n) {
		int n = p->query(e, w->conn, q, p->arg, chunk_docs);
		w->rc = n < 0 ? n : rank_docs(e, chunk_docs, (size_t)n, p->docs + q * EVAL_DOCS,
					      &p->n_docs[q]);
	}
	p->teardown(e, w->conn, w->rc != 0);
	free(chunk_docs);
	return NULL;
}

int eval_pass_run(const struct eval *e, const struct pass *p)
{
	struct pass_worker w[RL_ARRAY_LEN(e->pool.c)];
	pthread_t th[RL_ARRAY_LEN(e->pool.c)];
	int n = e->pool.n >= 2 ? e->pool.n : 1, started[RL_ARRAY_LEN(e->pool.c)], rc = 0;
	for (int i = 0; i < n; i++) {
		w[i] = (struct pass_worker){ e, p, n > 1 ? e->pool.c[i] : e->conn, i, n, 0 };
		started[i] = n > 1 && pthread_create(&th[i], NULL, pass_main, &w[i]) == 0;
		if (!started[i])
			pass_main(&w[i]);  /* one connection, or no thread: its share runs here */
	}
	for (int i = 0; i < n; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		rc = rc ? rc : w[i].rc;
	}
	return rc;
}

/* Scores stored rankings in query order (and writes them to the run file). */
int quality_score(struct eval *e, const int32_t *docs, const int *n_docs, const char *tag,
			 const char *method, const char *setting)
{
	int rc = 0;
	struct qacc acc;
	qacc_init(&acc, tag);
	for (size_t q = 0; q < e->nq && !rc; q++)
		rc = qacc_add(e, &acc, q, docs + q * EVAL_DOCS, n_docs[q]);
	int frc = qacc_finish(e, &acc, method, rc ? NULL : setting);
	return rc ? rc : frc;
}

/* Exact dense search at document level. */
int quality_exact(struct eval *e)
{
	int rc = RL_ENOMEM;
	int32_t *docs = malloc((size_t)e->kc * sizeof(*docs));
	e->dense_docs = malloc(e->nq * EVAL_DOCS * sizeof(*e->dense_docs));
	e->dense_n = calloc(e->nq, sizeof(int));
	if (!docs || !e->dense_docs || !e->dense_n)
		goto out;
	rc = 0;
	for (size_t q = 0; q < e->nq && !rc; q++) {
		const struct hit *h = e->exact + q * e->kc;
		for (int i = 0; i < e->exact_n[q]; i++)
			docs[i] = h[i].doc;
		rc = rank_docs(e, docs, (size_t)e->exact_n[q], e->dense_docs + q * EVAL_DOCS,
			       &e->dense_n[q]);
	}
	if (!rc)
		rc = quality_score(e, e->dense_docs, e->dense_n, "exact", "exact", "");
out:
	free(docs);
	return rc;
}

/* Full-text search, per connection: the chunks_fts_idx expression materialised once in a
 * temporary table (see the file comment) and the ranking statement. */
static int fts_setup(const struct eval *e, PGconn *c, const void *arg)
{
	const char *lit = arg;
	char sql[1024];
	(void)e;
	/* Refused once the session has used a temporary table; then the default stays. */
	db_exec_quiet(c, "SET temp_buffers = '512MB'", NULL, 0);
	snprintf(sql, sizeof(sql),
		 "DROP TABLE IF EXISTS " EVAL_FTS_TABLE "; "
		 "CREATE TEMP TABLE " EVAL_FTS_TABLE " AS SELECT chunk_id, doc_id, "
		 "to_tsvector(%s::regconfig, chunk_text) AS tsv FROM chunks; "
		 "CREATE INDEX ON " EVAL_FTS_TABLE " USING gin (tsv); ANALYZE " EVAL_FTS_TABLE, lit);
	if (db_exec(c, sql))
		return RL_ERR;
	/* The query as search asks it (query_fts_sql), over the materialised tsvectors. */
	struct buf q;
	buf_init(&q, 0);
	if (query_fts_sql(&q, lit, EVAL_FTS_TABLE, "tsv") ||
	    buf_printf(&q, "SELECT chunk_id, doc_id, r FROM m ORDER BY r DESC, chunk_id LIMIT $2")) {
		buf_release(&q);
		return RL_ENOMEM;
	}
	PGresult *r = PQprepare(c, "fts", q.data, 2, NULL);
	buf_release(&q);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : RL_ERR;
	if (rc)
		log_error("eval: full-text query: %s", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

PGresult *eval_exec_prepared(PGconn *c, const char *stmt, const char *const params[2],
			     const char *what, const char *qid)
{
	PGresult *r = PQexecPrepared(c, stmt, 2, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("eval: %s %s: %s", what, qid, PQresultErrorMessage(r));
		PQclear(r);
		return NULL;
	}
	return r;
}

static int fts_query(const struct eval *e, PGconn *c, size_t q, const void *arg,
		     int32_t *chunk_docs)
{
	(void)arg;
	const char *params[2] = { e->qtext[q], e->chunks_str };
	PGresult *r = eval_exec_prepared(c, "fts", params, "full-text query", e->qid[q]);
	if (!r)
		return RL_ERR;
	int n = PQntuples(r) < EVAL_CHUNKS ? PQntuples(r) : EVAL_CHUNKS;
	for (int i = 0; i < n; i++)
		chunk_docs[i] = (int32_t)strtol(PQgetvalue(r, i, 1), NULL, 10);
	PQclear(r);
	return n;
}

static void fts_teardown(const struct eval *e, PGconn *c, int failed)
{
	(void)e;
	(void)failed;
	db_exec_quiet(c, "DROP TABLE IF EXISTS " EVAL_FTS_TABLE, NULL, 0);
	db_exec_quiet(c, "DEALLOCATE fts", NULL, 0);
}

/* PostgreSQL full-text search over the chunks, ranked with ts_rank. */
int quality_fts(struct eval *e)
{
	int rc = RL_ENOMEM;
	const char *cfgname = e->a->fts_config;
	char *lit = PQescapeLiteral(e->conn, cfgname, strlen(cfgname));
	e->fts_docs = malloc(e->nq * EVAL_DOCS * sizeof(*e->fts_docs));
	e->fts_n = calloc(e->nq, sizeof(int));
	if (!lit || !e->fts_docs || !e->fts_n)
		goto out;
	PGresult *r = db_query(e->conn,
		"SELECT to_regclass('" INDEX_FTS_NAME "') IS NOT NULL, "
		"(SELECT params->>'config' FROM ragload_indexes WHERE index_name = '" INDEX_FTS_NAME "')",
		0, NULL);
	rc = RL_ERR;
	if (!r)
		goto out;
	if (PQgetvalue(r, 0, 0)[0] != 't')
		log_info("eval: no %s: full-text search runs without it", INDEX_FTS_NAME);
	else if (!PQgetisnull(r, 0, 1) && strcmp(PQgetvalue(r, 0, 1), cfgname) != 0)
		log_warn("eval: %s is built for configuration %s, eval searches with %s",
			 INDEX_FTS_NAME, PQgetvalue(r, 0, 1), cfgname);
	PQclear(r);

	double t0 = now_seconds();
	struct pass p = { fts_setup, fts_query, fts_teardown, lit, e->fts_docs, e->fts_n };
	if ((rc = eval_pass_run(e, &p)))
		goto out;
	log_info("eval: full-text search of %zu queries in %.2f s", e->nq, now_seconds() - t0);
	char setting[128];
	snprintf(setting, sizeof(setting), "{\"config\":\"%s\"}", cfgname);
	rc = quality_score(e, e->fts_docs, e->fts_n, "fts", "fts", setting);
out:
	if (lit)
		PQfreemem(lit);
	return rc;
}

/* hybrid_fts: reciprocal rank fusion of the exact dense and the full-text document rankings. */
int quality_hybrid_fts(struct eval *e)
{
	int rc = 0;
	struct qacc acc;
	qacc_init(&acc, "hybrid_fts");
	for (size_t q = 0; q < e->nq && !rc; q++) {
		int64_t a[EVAL_DOCS], b[EVAL_DOCS], out[2 * EVAL_DOCS];
		int32_t ranked[EVAL_DOCS];
		size_t n;
		for (int i = 0; i < e->dense_n[q]; i++)
			a[i] = e->dense_docs[q * EVAL_DOCS + i];
		for (int i = 0; i < e->fts_n[q]; i++)
			b[i] = e->fts_docs[q * EVAL_DOCS + i];
		rc = rrf_fuse(a, (size_t)e->dense_n[q], b, (size_t)e->fts_n[q], RRF_K, out, NULL, &n);
		if (rc)
			break;
		if (n > EVAL_DOCS)
			n = EVAL_DOCS;
		for (size_t i = 0; i < n; i++)
			ranked[i] = (int32_t)out[i];
		rc = qacc_add(e, &acc, q, ranked, (int)n);
	}
	char setting[64];
	snprintf(setting, sizeof(setting), "{\"k_rrf\":%d}", RRF_K);
	int frc = qacc_finish(e, &acc, "hybrid_fts", setting);
	return rc ? rc : frc;
}

/* ---- BM25 and the hybrid: the SQL functions of migration 0004 ------------------------------
 * Ranked by the very statements search and every client run (ragload_bm25, ragload_hybrid),
 * so a figure here is what a chatbot gets. The hybrid asks for the fusion's own depth of
 * chunks ([search] hybrid_depth as the corpus stores it): the fused ranking's top 10 is the
 * same for any k up to it. */

#define XSTR_(x) #x
#define RL_XSTR(x) XSTR_(x)

struct sqlrank {
	const char *stmt;
	const char *sql;
	int dense;              /* $1 is the query vector, $2 the terms */
};

static int sqlrank_setup(const struct eval *e, PGconn *c, const void *arg)
{
	const struct sqlrank *sr = arg;
	(void)e;
	PGresult *r = PQprepare(c, sr->stmt, sr->sql, 0, NULL);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : RL_ERR;
	if (rc)
		log_error("eval: %s: %s", sr->stmt, PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

static int sqlrank_query(const struct eval *e, PGconn *c, size_t q, const void *arg,
			 int32_t *chunk_docs)
{
	const struct sqlrank *sr = arg;
	struct buf terms;
	int64_t *t = NULL;
	size_t nt = 0;
	buf_init(&terms, 0);
	int rc = query_terms(e->qtext[q], strlen(e->qtext[q]), &t, &nt);
	if (!rc)
		rc = query_terms_literal(t, nt, &terms);
	free(t);
	if (rc) {
		buf_release(&terms);
		return rc;
	}
	const char *params[2] = {sr->dense ? e->qlit[q] : terms.data,
				 sr->dense ? terms.data : e->chunks_str};
	PGresult *r = PQexecPrepared(c, sr->stmt, 2, params, NULL, NULL, 0);
	buf_release(&terms);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("eval: %s %s: %s", sr->stmt, e->qid[q], PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	int n = PQntuples(r) < EVAL_CHUNKS ? PQntuples(r) : EVAL_CHUNKS;
	for (int i = 0; i < n; i++)
		chunk_docs[i] = (int32_t)strtol(PQgetvalue(r, i, 0), NULL, 10);
	PQclear(r);
	return n;
}

/* The pool's connections serve the ANN passes next: their statements stay. */
static void sqlrank_teardown(const struct eval *e, PGconn *c, int failed)
{
	(void)e;
	(void)failed;
	db_exec_quiet(c, "DEALLOCATE bm25", NULL, 0);
	db_exec_quiet(c, "DEALLOCATE hybrid", NULL, 0);
}

static int sqlrank_run(struct eval *e, const struct sqlrank *sr, const char *method,
		       const char *setting_sql)
{
	int32_t *docs = malloc(e->nq * EVAL_DOCS * sizeof(*docs));
	int *n_docs = calloc(e->nq, sizeof(int));
	PGresult *r = NULL;
	int rc = RL_ENOMEM;
	if (!docs || !n_docs)
		goto out;
	rc = RL_ERR;
	if (!(r = db_query(e->conn, setting_sql, 0, NULL)))
		goto out;
	double t0 = now_seconds();
	struct pass p = { sqlrank_setup, sqlrank_query, sqlrank_teardown, sr, docs, n_docs };
	if ((rc = eval_pass_run(e, &p)))
		goto out;
	log_info("eval: %s of %zu queries in %.2f s", method, e->nq, now_seconds() - t0);
	rc = quality_score(e, docs, n_docs, method, method, PQgetvalue(r, 0, 0));
out:
	PQclear(r);
	free(docs);
	free(n_docs);
	return rc;
}

/* Okapi BM25 (ragload_bm25) over the chunks, documents by their best chunk. */
int quality_bm25(struct eval *e)
{
	static const struct sqlrank sr = {
		"bm25", "SELECT c.doc_id FROM ragload_bm25($1::bigint[], $2::int) r JOIN chunks c "
			"USING (chunk_id) ORDER BY r.score DESC, r.chunk_id", 0 };
	return sqlrank_run(e, &sr, "bm25",
		"SELECT json_build_object('k1', ragload_setting('bm25_k1', " RL_XSTR(SEARCH_BM25_K1)
		"), 'b', ragload_setting('bm25_b', " RL_XSTR(SEARCH_BM25_B) "))::text");
}

/* The hybrid (ragload_hybrid): dense through the serving index and BM25, fused. */
int quality_hybrid(struct eval *e)
{
	static const struct sqlrank sr = {
		"hybrid", "SELECT c.doc_id FROM ragload_hybrid($1::vector, $2::bigint[], "
			  "ragload_setting('hybrid_depth', " RL_XSTR(SEARCH_HYBRID_DEPTH) ")::int) r "
			  "JOIN chunks c USING (chunk_id) ORDER BY r.score DESC, r.chunk_id", 1 };
	return sqlrank_run(e, &sr, "hybrid",
		"SELECT json_build_object('fusion', coalesce((SELECT value FROM ragload_corpus WHERE "
		"key = 'hybrid_fusion'), 'convex'), 'weight', ragload_setting('hybrid_weight', "
		RL_XSTR(SEARCH_HYBRID_WEIGHT) "), 'depth', ragload_setting('hybrid_depth', "
		RL_XSTR(SEARCH_HYBRID_DEPTH) "), 'rrf_k', ragload_setting('hybrid_rrf_k', "
		RL_XSTR(SEARCH_HYBRID_RRF_K) "), 'index', (SELECT a.amname FROM pg_index i JOIN "
		"pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid "
		"= 'embeddings'::regclass AND a.amname IN ('hnsw', 'ivfflat') ORDER BY a.amname "
		"LIMIT 1))::text");
}
