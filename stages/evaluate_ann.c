/*
 * evaluate_ann.c — the ANN sweep: every vector index present (HNSW and IVFFlat on each storage:
 * vector, halfvec, binary re-ranked), every search setting, with the other index kind steered
 * away and the plan proven by EXPLAIN; timed passes on one connection (latency p50/p95/p99,
 * QPS), QPS on N connections, recall@k against the exact reference, and quality when
 * documents are ranked.
 *
 * The sweep: ef_search (HNSW), probes (IVFFlat) or the over-fetch of the binary index double
 * until recall@k reaches EVAL_SWEEP_TARGET or stops rising (unless a list was given), so every
 * index shows up at the recalls a user chooses between. QPS is the median of timed passes
 * repeated for qps_seconds and EVAL_MIN_PASSES at least: one pass of a few hundred queries
 * on a busy machine is noise (a pass of EVAL_LONG_PASS_S or more is not, and stands alone).
 * Each query runs the statement of its index's storage (index_dense_sql), as search does.
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

/* ---- ANN ---------------------------------------------------------------------------------- */

static const char *const storages[] = {"vector", "halfvec", "bit"};

/* The statements every ANN measurement runs, one pair per storage ("ann_vector", ...): the
 * index orders embeddings (in a subquery, so the join cannot hide the ORDER BY ... LIMIT from
 * the index), then the chunks are joined. $1 the query, $2 the limit, $3 the candidates the
 * binary index fetches. */
static int conn_prepare(const struct eval *e, PGconn *c)
{
	/* A generic plan would price LIMIT $2 blind and may pick a sequential scan; a custom plan
	 * per execution is what EXPLAIN EXECUTE shows, so the proven plan is the measured one. */
	if (db_exec(c, "SET plan_cache_mode = force_custom_plan"))
		return RL_ERR;
	static const Oid types[3] = {0, 20, 20};  /* text, int8, int8 */
	struct buf sql;
	buf_init(&sql, 0);
	int rc = 0;
	for (size_t i = 0; i < RL_ARRAY_LEN(storages) && !rc; i++) {
		char name[32];
		buf_reset(&sql);
		rc = buf_printf(&sql, "SELECT e.chunk_id, c.doc_id, e.d FROM (") ||
		     index_dense_sql(&sql, storages[i], e->dim, e->op, "$1::vector", "$2", "$3") ||
		     buf_printf(&sql, ") e JOIN chunks c USING (chunk_id) ORDER BY e.d, e.chunk_id");
		if (rc)
			break;
		/* halfvec and bit need pgvector 0.7: only the vector statements must prepare */
		snprintf(name, sizeof(name), "ann_%s", storages[i]);
		PGresult *r = PQprepare(c, name, sql.data, 3, types);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && i == 0) {
			log_error("eval: preparing the ANN query: %s", PQresultErrorMessage(r));
			rc = RL_ERR;
		}
		PQclear(r);
		/* The quality pass asks for hundreds of rows; joined to chunks that is priced as a
		 * hash join over the whole table, so it maps chunks to documents on the client. */
		buf_reset(&sql);
		if (rc || (rc = index_dense_sql(&sql, storages[i], e->dim, e->op, "$1::vector", "$2",
						"$3")))
			break;
		snprintf(name, sizeof(name), "annq_%s", storages[i]);
		r = PQprepare(c, name, sql.data, 3, types);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && i == 0) {
			log_error("eval: preparing the ANN quality query: %s", PQresultErrorMessage(r));
			rc = RL_ERR;
		}
		PQclear(r);
	}
	buf_release(&sql);
	return rc;
}

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --repeat's builds of an index (ragload_indexes.builds) into b. */
static void builds_read(const char *json, struct report_builds *b)
{
	memset(b, 0, sizeof(*b));
	json_t *j = *json ? json_loads(json, 0, NULL) : NULL;
	json_t *runs = json_object_get(j, "runs");
	double bs[128], rs[128];
	int n = 0, nr = 0;
	size_t i;
	json_t *x;
	json_array_foreach(runs, i, x) {
		if (n == (int)RL_ARRAY_LEN(bs))
			break;
		bs[n++] = json_number_value(json_object_get(x, "build_seconds"));
		if (json_is_number(json_object_get(x, "recall10")))
			rs[nr++] = json_number_value(json_object_get(x, "recall10"));
	}
	if (n > 1) {
		b->n = n;
		b->build_med = median(bs, n);
		b->build_min = bs[0];
		b->build_max = bs[n - 1];
		b->recall_med = nr ? median(rs, nr) : NAN;
		b->recall_min = nr ? rs[0] : NAN;
		b->recall_max = nr ? rs[nr - 1] : NAN;
		char *sj = json_dumps(json_object_get(j, "search"), JSON_COMPACT);
		snprintf(b->search_json, sizeof(b->search_json), "%s", sj ? sj : "");
		free(sj);
	}
	json_decref(j);
}

/* The vector indexes on embeddings, with their build settings. */
static int ann_indexes(struct eval *e, struct vindex *ix, int *n_ix)
{
	PGresult *r = db_query(e->conn,
		"SELECT * FROM (SELECT c.relname, am.amname, coalesce(ri.params::text, ''), ri.build_seconds, "
		"pg_relation_size(c.oid), coalesce(array_to_string(c.reloptions, ','), ''), "
		"CASE WHEN pg_get_indexdef(c.oid) LIKE '%binary_quantize(%' THEN 'bit' "
		"WHEN pg_get_indexdef(c.oid) LIKE '%::halfvec(%' THEN 'halfvec' ELSE 'vector' END st, "
		"coalesce(ri.builds::text, '') "
		"FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
		"JOIN pg_am am ON am.oid = c.relam "
		"LEFT JOIN ragload_indexes ri ON ri.index_name = c.relname "
		"WHERE i.indrelid = 'embeddings'::regclass AND i.indisvalid "
		"AND am.amname IN ('hnsw', 'ivfflat')) x ORDER BY amname, st <> 'vector', st, relname",
		0, NULL);
	if (!r)
		return RL_ERR;
	int n = 0;
	for (int i = 0; i < PQntuples(r) && n < EVAL_MAX_INDEXES; i++) {
		struct vindex *v = &ix[n++];
		memset(v, 0, sizeof(*v));
		snprintf(v->name, sizeof(v->name), "%s", PQgetvalue(r, i, 0));
		snprintf(v->kind, sizeof(v->kind), "%s", PQgetvalue(r, i, 1));
		v->build_s = PQgetisnull(r, i, 3) ? NAN : atof(PQgetvalue(r, i, 3));
		v->bytes = atoll(PQgetvalue(r, i, 4));
		snprintf(v->storage, sizeof(v->storage), "%s", PQgetvalue(r, i, 6));
		builds_read(PQgetvalue(r, i, 7), &v->builds);
		if (v->builds.n > 1)
			v->build_s = v->builds.build_med;
		char st[24] = "";
		if (strcmp(v->storage, "vector"))
			snprintf(st, sizeof(st), "%s_", v->storage);
		int hnsw = !strcmp(v->kind, "hnsw");
		/* Build settings: as ragload recorded them, else the reloptions, else the defaults. */
		json_t *p = NULL;
		if (*PQgetvalue(r, i, 2))
			p = json_loads(PQgetvalue(r, i, 2), 0, NULL);
		if (!json_is_object(p)) {
			json_decref(p);
			p = json_object();
			char opts[256];
			snprintf(opts, sizeof(opts), "%s", PQgetvalue(r, i, 5));
			for (char *save = NULL, *t = strtok_r(opts, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				char *eq = strchr(t, '=');
				if (eq) {
					*eq = '\0';
					json_object_set_new(p, t, json_integer(atoll(eq + 1)));
				}
			}
		}
		int m = json_is_integer(json_object_get(p, "m")) ?
			(int)json_integer_value(json_object_get(p, "m")) : 16;
		int efc = json_is_integer(json_object_get(p, "ef_construction")) ?
			  (int)json_integer_value(json_object_get(p, "ef_construction")) : 64;
		v->lists = json_is_integer(json_object_get(p, "lists")) ?
			   (int)json_integer_value(json_object_get(p, "lists")) : 100;
		json_decref(p);
		if (hnsw) {
			snprintf(v->build_json, sizeof(v->build_json),
				 "{\"m\":%d,\"ef_construction\":%d}", m, efc);
			snprintf(v->tag, sizeof(v->tag), "hnsw_%sm%d_efc%d", st, m, efc);
		} else {
			snprintf(v->build_json, sizeof(v->build_json), "{\"lists\":%d}", v->lists);
			snprintf(v->tag, sizeof(v->tag), "ivfflat_%slists%d", st, v->lists);
		}
	}
	PQclear(r);
	*n_ix = n;
	return 0;
}

/* "SELECT ragload_hide_indexes('\"a\",\"b\"'); " naming every index of all but ix (each a
 * quoted identifier, " doubled, inside an SQL literal, ' doubled) at out, n bytes, enough for
 * EVAL_MAX_INDEXES names of 63 bytes. Returns the length written. */
static int hide_others(const struct vindex *ix, const struct vindex *all, int n_all, char *out,
		       size_t n)
{
	size_t len = (size_t)snprintf(out, n, "SELECT ragload_hide_indexes('");
	for (int i = 0; i < n_all; i++) {
		if (&all[i] == ix)
			continue;
		if (len + 2 * strlen(all[i].name) * 2 + 8 >= n)
			break;
		if (out[len - 1] != '\'')
			out[len++] = ',';
		out[len++] = '"';
		for (const char *p = all[i].name; *p; p++) {
			if (*p == '"' || *p == '\'')
				out[len++] = *p;
			out[len++] = *p;
		}
		out[len++] = '"';
	}
	len += (size_t)snprintf(out + len, n - len, "'); ");
	return (int)len;
}

/* One search setting of one index: value is ef_search, probes or (bit) the over-fetch; the
 * SET LOCALs select it. The other vector indexes are hidden from the planner where the
 * extension is there (ragload_hide_indexes, extension 1.2); elsewhere the planner is steered
 * off the other kind, e.g. ivfflat.probes = lists makes IVFFlat cost like a full scan, which
 * fails past a few percent of the lists probed (pgvector prices HNSW below that at any
 * ef_search): those rows are then flagged. */
static void ann_setting_make(const struct eval *e, const struct vindex *ix,
			     const struct vindex *all, int n_all, int value, int iterative,
			     struct setting *s)
{
	int hnsw = !strcmp(ix->kind, "hnsw"), bit = !strcmp(ix->storage, "bit");
	int other_lists = 0, other_hnsw = 0;
	for (int i = 0; i < n_all && !e->hide_ix; i++) {
		if (!strcmp(all[i].kind, "ivfflat") && all[i].lists > other_lists)
			other_lists = all[i].lists;
		other_hnsw |= !strcmp(all[i].kind, "hnsw");
	}
	memset(s, 0, sizeof(*s));
	s->ix = ix;
	s->iterative = iterative;
	s->value = iterative ? EVAL_ITER_EF : value;
	long fetch = bit ? (long)e->k * s->value : e->k;
	snprintf(s->fetch, sizeof(s->fetch), "%ld", fetch);
	int len = e->hide_ix && n_all > 1 ? hide_others(ix, all, n_all, s->sets, sizeof(s->sets)) : 0;
	if (hnsw) {
		/* the binary index returns at most ef_search candidates: as many as the over-fetch */
		s->ef_search = bit ? (fetch > EVAL_ITER_EF ? (fetch < 1000 ? (int)fetch : 1000)
						     : EVAL_ITER_EF) : s->value;
		len += snprintf(s->sets + len, sizeof(s->sets) - len, "SET LOCAL hnsw.ef_search = %d; ",
				s->ef_search);
		if (other_lists)
			len += snprintf(s->sets + len, sizeof(s->sets) - len,
					"SET LOCAL ivfflat.probes = %d; ", other_lists);
		if (bit) {
			snprintf(s->search_json, sizeof(s->search_json),
				 "{\"overfetch\":%d,\"ef_search\":%d}", s->value, s->ef_search);
			snprintf(s->tag, sizeof(s->tag), "%s_of%d", ix->tag, s->value);
		} else {
			snprintf(s->search_json, sizeof(s->search_json), iterative ?
				 "{\"ef_search\":%d,\"iterative_scan\":\"relaxed_order\"}" :
				 "{\"ef_search\":%d}", s->value);
			snprintf(s->tag, sizeof(s->tag), "%s_ef%d%s", ix->tag, s->value,
				 iterative ? "_relaxed" : "");
		}
	} else {
		len += snprintf(s->sets + len, sizeof(s->sets) - len, "SET LOCAL ivfflat.probes = %d; ",
				s->value);
		if (other_hnsw)
			len += snprintf(s->sets + len, sizeof(s->sets) - len,
					"SET LOCAL hnsw.ef_search = %d; ", EVAL_STEER_EF);
		snprintf(s->search_json, sizeof(s->search_json), "{\"probes\":%d}", s->value);
		snprintf(s->tag, sizeof(s->tag), "%s_probes%d", ix->tag, s->value);
	}
	/* Iterative scans off unless wanted: a server default must not change the figures. */
	if (e->iter_scan)
		snprintf(s->sets + len, sizeof(s->sets) - len,
			 "SET LOCAL hnsw.iterative_scan = %s; SET LOCAL ivfflat.iterative_scan = off",
			 iterative ? "relaxed_order" : "off");
}

/* The values one index is swept over: the list given, else a doubling sweep (*adaptive) from
 * 10 (ef_search) or 1 (probes, over-fetch) to pgvector's bound (ef_search 1000, probes =
 * lists, over-fetch 1000 / k). */
static int ann_values(const struct eval *e, const struct vindex *ix, int *vals, int *adaptive)
{
	int hnsw = !strcmp(ix->kind, "hnsw"), bit = !strcmp(ix->storage, "bit"), n = 0;
	*adaptive = 0;
	if (hnsw && !bit && e->a->n_ef_search) {
		memcpy(vals, e->a->ef_search, sizeof(e->a->ef_search));
		return e->a->n_ef_search;
	}
	if (!hnsw && e->a->n_probes) {
		memcpy(vals, e->a->probes, sizeof(e->a->probes));
		return e->a->n_probes;
	}
	*adaptive = 1;
	int top = bit ? 1000 / (e->k > 0 ? e->k : 1) : hnsw ? 1000 : ix->lists;
	if (top < 1)
		top = 1;
	for (int v = hnsw && !bit ? 10 : 1; n < EVAL_MAX_SETTINGS; v *= 2) {
		vals[n++] = v < top ? v : top;
		if (v >= top)
			break;
	}
	return n;
}

/* Finds the node that reads embeddings in an EXPLAIN (FORMAT JSON) plan: its index name, or
 * its node type when it is not an index scan. */
static void plan_find(json_t *node, char *out, size_t n)
{
	if (!json_is_object(node) || *out)
		return;
	const char *rel = json_string_value(json_object_get(node, "Relation Name"));
	if (rel && !strcmp(rel, "embeddings")) {
		const char *ixn = json_string_value(json_object_get(node, "Index Name"));
		const char *type = json_string_value(json_object_get(node, "Node Type"));
		snprintf(out, n, "%s", ixn ? ixn : type ? type : "?");
		return;
	}
	json_t *kids = json_object_get(node, "Plans");
	size_t i;
	json_t *kid;
	json_array_foreach(kids, i, kid)
		plan_find(kid, out, n);
}

/* EXPLAINs statement stmt for query 0 with limit; out gets what reads embeddings. */
static int plan_of(struct eval *e, PGconn *c, const char *stmt, const char *limit, char *out,
		   size_t n)
{
	struct buf sql;
	buf_init(&sql, 0);
	out[0] = '\0';
	int rc = buf_printf(&sql, "EXPLAIN (FORMAT JSON) EXECUTE %s('%s', %s)", stmt, e->qlit[0],
			    limit);
	if (rc)
		goto out;
	PGresult *r = db_query(c, sql.data, 0, NULL);
	if (!r) {
		rc = RL_ERR;
		goto out;
	}
	json_t *j = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	PQclear(r);
	plan_find(json_object_get(json_array_get(j, 0), "Plan"), out, n);
	json_decref(j);
	if (!*out)
		snprintf(out, n, "?");
out:
	buf_release(&sql);
	return rc;
}

static int begin_with(PGconn *c, const char *sets)
{
	return db_exec(c, "BEGIN") || db_exec(c, sets) ? RL_ERR : 0;
}

/* Runs query q through s's "ann" statement; fills ids/dists (up to max) and doc ids (may be
 * NULL). Returns the row count or negative. *ms gets the latency around the execution only. */
static int ann_query(const struct eval *e, PGconn *c, const struct setting *s, size_t q,
		     const char *limit, int64_t *ids, float *dists, int32_t *docs, int max, double *ms)
{
	const char *params[3] = { e->qlit[q], limit, s->fetch };
	char stmt[32];
	snprintf(stmt, sizeof(stmt), "ann_%s", s->ix->storage);
	double t0 = now_seconds();
	PGresult *r = PQexecPrepared(c, stmt, 3, params, NULL, NULL, 0);
	if (ms)
		*ms = (now_seconds() - t0) * 1000.0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("eval: ANN query %s: %s", e->qid[q], PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	int n = PQntuples(r);
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++) {
		if (ids)
			ids[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		if (docs)
			docs[i] = (int32_t)strtol(PQgetvalue(r, i, 1), NULL, 10);
		if (dists)
			dists[i] = strtof(PQgetvalue(r, i, 2), NULL);
	}
	PQclear(r);
	return n;
}

/* The start line of the N-connection figure: every worker has begun its transaction and
 * set its settings before the clock starts. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready, go;
};

/* One thread of the N-connection figure: its share of the queries, one connection. */
struct worker {
	const struct eval *e;
	PGconn *conn;
	const struct setting *s;
	int t, n;
	struct gate *gate;
	double end;
	int rc;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct eval *e = w->e;
	w->rc = begin_with(w->conn, w->s->sets);
	pthread_mutex_lock(&w->gate->mu);
	w->gate->ready++;
	pthread_cond_broadcast(&w->gate->cv);
	while (!w->gate->go)
		pthread_cond_wait(&w->gate->cv, &w->gate->mu);
	pthread_mutex_unlock(&w->gate->mu);
	for (size_t q = (size_t)w->t; q < e->nq && !w->rc; q += (size_t)w->n)
		if (ann_query(e, w->conn, w->s, q, e->kstr, NULL, NULL, NULL, 0, NULL) < 0)
			w->rc = RL_ERR;
	w->end = now_seconds();
	db_exec(w->conn, w->rc ? "ROLLBACK" : "COMMIT");
	return NULL;
}

/* QPS with every pool connection busy: queries split round robin, total / wall time. */
static double ann_qps_pass(struct eval *e, const struct setting *s)
{
	struct pool *p = &e->pool;
	struct worker w[RL_ARRAY_LEN(p->c)];
	pthread_t th[RL_ARRAY_LEN(p->c)];
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	int started = 0;
	for (int i = 0; i < p->n; i++) {
		w[i] = (struct worker){ .e = e, .conn = p->c[i], .s = s, .t = i, .n = p->n,
					.gate = &g };
		if (pthread_create(&th[i], NULL, worker_main, &w[i]))
			break;
		started++;
	}
	pthread_mutex_lock(&g.mu);
	while (g.ready < started)
		pthread_cond_wait(&g.cv, &g.mu);
	double t0 = now_seconds(), end = t0;
	g.go = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	int ok = started == p->n;
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		ok &= w[i].rc == 0;
		end = w[i].end > end ? w[i].end : end;
	}
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
	return ok && end > t0 ? (double)e->nq / (end - t0) : NAN;
}

/* After n timed passes begun at t0, the first of which took first_s: another one? Passes go
 * on for qps_seconds and EVAL_MIN_PASSES at least, except that a first pass of
 * EVAL_LONG_PASS_S or more is a steady figure alone (at a million rows, an IVFFlat setting
 * probing half the lists takes minutes a pass). */
static int more_passes(const struct eval *e, int n, double t0, double first_s)
{
	if (e->a->qps_seconds <= 0 || n >= EVAL_MAX_PASSES)
		return 0;
	if (now_seconds() - t0 < e->a->qps_seconds)
		return 1;
	return n < EVAL_MIN_PASSES && first_s < EVAL_LONG_PASS_S;
}

/* The N-connection QPS: the median of passes repeated as the one-connection figure's are. */
static double ann_qps_n(struct eval *e, const struct setting *s)
{
	double v[EVAL_MAX_PASSES], t0 = now_seconds(), first_s = 0;
	int n = 0;
	do {
		v[n] = ann_qps_pass(e, s);
		if (!isfinite(v[n]))
			return NAN;
		if (!n)
			first_s = now_seconds() - t0;
		n++;
	} while (more_passes(e, n, t0, first_s));
	return median(v, n);
}

/* Prepares the main connection and opens the extra ones (connecting is part of no figure). */
int eval_pool_open(struct eval *e)
{
	int want = e->a->connections;
	if (conn_prepare(e, e->conn))
		return RL_ERR;
	if (want <= 1)
		return 0;
	if (want > (int)RL_ARRAY_LEN(e->pool.c))
		want = (int)RL_ARRAY_LEN(e->pool.c);
	for (int i = 0; i < want; i++) {
		PGconn *c = db_connect(e->cfg->conninfo);
		if (!c)
			return RL_ERR;
		e->pool.c[e->pool.n++] = c;
		if (conn_prepare(e, c))
			return RL_ERR;
	}
	return 0;
}

/* The quality pass of one setting, per connection: the setting's SET LOCALs, and the
 * sequential scan off: a LIMIT of hundreds is priced as most of the table and the planner would read it
 * all, but the quality of an index is what it returns when it is used (the timed pass keeps
 * the planner's own choice). */
struct annq_arg {
	const struct setting *s;
	char limit[16];
};

static int annq_setup(const struct eval *e, PGconn *c, const void *arg)
{
	const struct annq_arg *a = arg;
	(void)e;
	return begin_with(c, a->s->sets) || db_exec(c, "SET LOCAL enable_seqscan = off") ? RL_ERR
											  : 0;
}

static int annq_query(const struct eval *e, PGconn *c, size_t q, const void *arg,
		      int32_t *chunk_docs)
{
	const struct annq_arg *a = arg;
	char stmt[32], fetch[24];
	snprintf(stmt, sizeof(stmt), "annq_%s", a->s->ix->storage);
	/* the binary index: its over-fetch of the rows asked for */
	snprintf(fetch, sizeof(fetch), "%lld", atoll(a->limit) * (strcmp(a->s->ix->storage, "bit") ?
								  1 : a->s->value));
	const char *params[3] = { e->qlit[q], a->limit, fetch };
	PGresult *r = PQexecPrepared(c, stmt, 3, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("eval: ANN query %s: %s", e->qid[q], PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	int n = PQntuples(r) < EVAL_CHUNKS ? PQntuples(r) : EVAL_CHUNKS;
	struct hit h[EVAL_CHUNKS];
	for (int i = 0; i < n; i++) {
		h[i].chunk = (int32_t)strtol(PQgetvalue(r, i, 0), NULL, 10);
		h[i].d = strtof(PQgetvalue(r, i, 1), NULL);
		h[i].doc = eval_chunk_doc(e, h[i].chunk);
	}
	PQclear(r);
	/* by distance, ties by chunk id, so that a ranking does not move from run to run (and
	 * relaxed_order returns rows only roughly in order, as pgvector's documentation says) */
	qsort(h, (size_t)n, sizeof(*h), eval_hit_cmp);
	for (int i = 0; i < n; i++)
		chunk_docs[i] = h[i].doc;
	return n;
}

static void annq_teardown(const struct eval *e, PGconn *c, int failed)
{
	(void)e;
	db_exec_quiet(c, failed ? "ROLLBACK" : "COMMIT", NULL, 0);
}

/* Records which plan served a setting, for the report's settings. */
static void plan_note(struct eval *e, const struct setting *s, const char *pass, const char *plan)
{
	json_t *o = json_pack("{s:s, s:o, s:s, s:s}", "index", s->ix->name, "search",
			      json_loads(s->search_json, 0, NULL), "pass", pass, "plan", plan);
	if (o)
		json_array_append_new(e->plans, o);
}

/* The quality pass: up to ann_chunks chunks per query through the index, collapsed to
 * documents. Without iterative scans HNSW returns at most ef_search rows, so it is asked for
 * no more (a larger LIMIT only misleads the planner) and the row records the cap. */
static int ann_quality(struct eval *e, const struct setting *s, int32_t *docs, int *n_docs)
{
	char plan[128], setting[256];
	struct annq_arg arg = { .s = s };
	/* the binary index: at most ef_search candidates, re-ranked, over-fetch times the rows */
	int bit = !strcmp(s->ix->storage, "bit");
	int cap = bit ? s->ef_search / s->value : s->value;
	int capped = !strcmp(s->ix->kind, "hnsw") && !s->iterative && cap < e->ann_chunks;
	snprintf(arg.limit, sizeof(arg.limit), "%d", capped ? (cap > 0 ? cap : 1) : e->ann_chunks);
	char stmt[32], limits[64];
	snprintf(stmt, sizeof(stmt), "annq_%s", s->ix->storage);
	snprintf(limits, sizeof(limits), "%s, %lld", arg.limit, atoll(arg.limit) * (bit ? s->value : 1));
	int rc = annq_setup(e, e->conn, &arg);
	if (!rc)
		rc = plan_of(e, e->conn, stmt, limits, plan, sizeof(plan));
	db_exec_quiet(e->conn, "ROLLBACK", NULL, 0);
	if (rc)
		return rc;
	plan_note(e, s, "quality", plan);
	if (strcmp(plan, s->ix->name) != 0) {
		log_warn("eval: %s %s with LIMIT %s: the plan reads embeddings by %s, not the index: "
			 "no quality row", s->ix->kind, s->search_json, arg.limit, plan);
		return 0;
	}
	int len = (int)strlen(s->search_json);
	if (capped)
		snprintf(setting, sizeof(setting), "%.*s,\"max_chunks\":%d}", len - 1,
			 s->search_json, capped ? (cap > 0 ? cap : 1) : e->ann_chunks);
	else
		snprintf(setting, sizeof(setting), "%s", s->search_json);
	/* a quality row names its storage: halfvec's settings are vector's */
	if (strcmp(s->ix->storage, "vector")) {
		size_t n = strlen(setting);
		snprintf(setting + n - 1, sizeof(setting) - n + 1, ",\"storage\":\"%s\"}",
			 s->ix->storage);
	}
	struct pass p = { annq_setup, annq_query, annq_teardown, &arg, docs, n_docs };
	if ((rc = eval_pass_run(e, &p)))
		return rc;
	return quality_score(e, docs, n_docs, s->tag, s->ix->kind, setting);
}

/* Scratch of the ANN passes: per query up to k results of the timed pass. */
struct ann_scratch {
	int64_t *ids;           /* nq x k */
	float *dists;           /* nq x k */
	int *n;                 /* nq */
	double *lat;            /* nq x passes, ms */
	size_t lat_cap;
	int32_t *docs;          /* nq x EVAL_DOCS rankings of the quality pass */
	int *n_docs;            /* nq */
};

/* One timed pass over every query in one transaction; pass 0 keeps the results (recall).
 * Returns its QPS, or NAN after an error (logged, *rc set). */
static double ann_pass(struct eval *e, const struct setting *s, struct ann_scratch *x, int pass,
		       int *rc)
{
	size_t need = (size_t)(pass + 1) * e->nq;
	if (need > x->lat_cap) {
		double *l = realloc(x->lat, need * 2 * sizeof(*l));
		if (!l) {
			*rc = RL_ENOMEM;
			return NAN;
		}
		x->lat = l;
		x->lat_cap = need * 2;
	}
	double *lat = x->lat + (size_t)pass * e->nq;
	if ((*rc = begin_with(e->conn, s->sets)))
		return NAN;
	double t0 = now_seconds();
	for (size_t q = 0; q < e->nq; q++) {
		size_t o = q * (size_t)e->k;
		int n = ann_query(e, e->conn, s, q, e->kstr, pass ? NULL : x->ids + o,
				  pass ? NULL : x->dists + o, NULL, pass ? 0 : e->k, &lat[q]);
		if (n < 0) {
			*rc = n;
			db_exec_quiet(e->conn, "ROLLBACK", NULL, 0);
			return NAN;
		}
		if (!pass)
			x->n[q] = n;
	}
	double wall = now_seconds() - t0;
	if ((*rc = db_exec(e->conn, "COMMIT")))
		return NAN;
	return (double)e->nq / wall;
}

/*
 * One setting: plan proof, timed passes (latency, recall@k, QPS on 1), N connections,
 * quality. *recall gets recall@k (NAN when the plan was not the index). Where the planner
 * would read embeddings by a sequential scan (a large ef_search on a small table is priced
 * above a scan), the index is forced: enable_seqscan = off joins the setting's SET LOCALs,
 * for every pass of it, and the row says so (forced), so that a row is always the index's
 * figure. Only a plan that still avoids the index is flagged.
 */
static int ann_setting(struct eval *e, const struct setting *given, struct ann_scratch *x,
		       double *recall_out)
{
	char plan[128], stmt[32], limits[64];
	struct report_ann *row = NULL;
	struct setting forced_set = *given;
	const struct setting *s = given;
	int forced = 0;
	*recall_out = NAN;
	snprintf(stmt, sizeof(stmt), "ann_%s", s->ix->storage);
	snprintf(limits, sizeof(limits), "%s, %s", e->kstr, s->fetch);
	int rc = begin_with(e->conn, s->sets);
	if (!rc)
		rc = plan_of(e, e->conn, stmt, limits, plan, sizeof(plan));
	if (!rc && strcmp(plan, s->ix->name) != 0) {
		size_t len = strlen(forced_set.sets);
		snprintf(forced_set.sets + len, sizeof(forced_set.sets) - len,
			 "%sSET LOCAL enable_seqscan = off", len && forced_set.sets[len - 1] != ' '
							     ? "; " : "");
		if (!(rc = db_exec(e->conn, "SET LOCAL enable_seqscan = off")))
			rc = plan_of(e, e->conn, stmt, limits, plan, sizeof(plan));
		forced = !rc && strcmp(plan, s->ix->name) == 0;
		if (forced) {
			s = &forced_set;
			log_info("eval: %s %s %s: the planner prefers a sequential scan; measured "
				 "with enable_seqscan = off (index forced)", s->ix->kind,
				 s->ix->storage, s->search_json);
		}
	}
	db_exec_quiet(e->conn, rc ? "ROLLBACK" : "COMMIT", NULL, 0);
	if (rc)
		return rc;
	plan_note(e, s, "timed", plan);
	int flagged = strcmp(plan, s->ix->name) != 0;
	if (flagged)
		log_warn("eval: %s %s %s: the plan reads embeddings by %s, not %s: flagged, not "
			 "reported as ANN", s->ix->kind, s->ix->storage, s->search_json, plan,
			 s->ix->name);
	/* passes until qps_seconds have gone and EVAL_MIN_PASSES at least (more_passes): their
	 * median QPS */
	double qps[EVAL_MAX_PASSES], t0 = now_seconds(), first_s = 0;
	int passes = 0;
	do {
		qps[passes] = ann_pass(e, s, x, passes, &rc);
		if (rc)
			return rc;
		if (!passes)
			first_s = now_seconds() - t0;
		passes++;
	} while (!flagged && more_passes(e, passes, t0, first_s));
	double recall = 0;
	for (size_t q = 0; q < e->nq; q++) {
		size_t o = q * (size_t)e->k;
		recall += metric_ann_recall(x->ids + o, x->dists + o, x->n[q], e->ref_ids + o,
					    e->ref_d + o, e->k, -1);
	}

	if (e->n_ann == EVAL_MAX_ROWS)
		return RL_ELIMIT;
	row = &e->ann[e->n_ann++];
	memset(row, 0, sizeof(*row));
	snprintf(row->index, sizeof(row->index), "%s", s->ix->kind);
	snprintf(row->storage, sizeof(row->storage), "%s", s->ix->storage);
	snprintf(row->build_json, sizeof(row->build_json), "%s", s->ix->build_json);
	snprintf(row->search_json, sizeof(row->search_json), "%s", s->search_json);
	row->build_s = s->ix->build_s;
	row->index_bytes = s->ix->bytes;
	row->builds = s->ix->builds;
	row->recall10 = recall / (double)e->nq;
	size_t nlat = (size_t)passes * e->nq;
	row->p50_ms = metric_percentile(x->lat, nlat, 50);
	row->p95_ms = metric_percentile(x->lat, nlat, 95);
	row->p99_ms = metric_percentile(x->lat, nlat, 99);
	row->qps_1 = median(qps, passes);
	row->qps_n = NAN;
	row->n_conn = 1;
	row->seqscan = flagged;
	row->forced = forced;
	if (!flagged && e->pool.n > 1) {
		row->qps_n = ann_qps_n(e, s);
		row->n_conn = e->pool.n;
	}
	if (!flagged)
		*recall_out = row->recall10;
	char qn[32] = "";
	if (isfinite(row->qps_n))
		snprintf(qn, sizeof(qn), ", %.0f on %d", row->qps_n, row->n_conn);
	log_info("eval: %-7s %-7s %-44s recall@%d %.4f  p50 %.2f ms  p99 %.2f ms  QPS %.0f%s "
		 "(%d passes)%s", s->ix->kind, s->ix->storage, s->search_json, e->k, row->recall10,
		 row->p50_ms, row->p99_ms, row->qps_1, qn, passes,
		 flagged ? "  (not the index: flagged)" : forced ? "  (index forced)" : "");
	if (!flagged && e->quality_on)
		return ann_quality(e, s, x->docs, x->n_docs);
	return 0;
}

/* Every vector index, every setting: a doubling sweep stops at EVAL_SWEEP_TARGET or once
 * recall stops rising; HNSW on vector and halfvec adds the iterative-scan row. */
int ann_measure(struct eval *e)
{
	struct vindex ix[EVAL_MAX_INDEXES];
	struct setting set;
	int vals[EVAL_MAX_SETTINGS];
	int n_ix = 0, rc;
	struct ann_scratch x;
	memset(&x, 0, sizeof(x));
	x.ids = malloc(e->nq * (size_t)e->k * sizeof(*x.ids));
	x.dists = malloc(e->nq * (size_t)e->k * sizeof(*x.dists));
	x.n = malloc(e->nq * sizeof(*x.n));
	x.docs = malloc(e->nq * EVAL_DOCS * sizeof(*x.docs));
	x.n_docs = malloc(e->nq * sizeof(*x.n_docs));
	rc = !x.ids || !x.dists || !x.n || !x.docs || !x.n_docs ? RL_ENOMEM : 0;
	if (!rc)
		rc = ann_indexes(e, ix, &n_ix);
	if (rc || n_ix == 0) {
		if (!rc)
			log_info("eval: no HNSW or IVFFlat index on embeddings: exact, fts and hybrid "
				 "only (run `ragload index` for ANN figures)");
		goto out;
	}
	for (int i = 0; i < n_ix && !rc; i++) {
		int adaptive, n = ann_values(e, &ix[i], vals, &adaptive);
		ann_setting_make(e, &ix[i], ix, n_ix, vals[0], 0, &set);
		/* Warm-up, untimed: the first pass over an index would measure the disk. */
		if ((rc = begin_with(e->conn, set.sets)))
			break;
		for (size_t q = 0; q < e->nq && q < EVAL_WARMUP && !rc; q++)
			if (ann_query(e, e->conn, &set, q, e->kstr, NULL, NULL, NULL, 0, NULL) < 0)
				rc = RL_ERR;
		db_exec(e->conn, rc ? "ROLLBACK" : "COMMIT");
		double prev = -1, recall;
		for (int j = 0; j < n && !rc; j++) {
			ann_setting_make(e, &ix[i], ix, n_ix, vals[j], 0, &set);
			if ((rc = ann_setting(e, &set, &x, &recall)))
				break;
			if (adaptive && isfinite(recall) &&
			    (metric_recall_reaches(recall, EVAL_SWEEP_TARGET) || recall <= prev + EVAL_SWEEP_GAIN))
				break;
			if (isfinite(recall))
				prev = recall;
		}
		if (!rc && e->iter_scan && !strcmp(ix[i].kind, "hnsw") && strcmp(ix[i].storage, "bit")) {
			ann_setting_make(e, &ix[i], ix, n_ix, EVAL_ITER_EF, 1, &set);
			rc = ann_setting(e, &set, &x, &recall);
		}
	}
out:
	free(x.ids);
	free(x.dists);
	free(x.n);
	free(x.lat);
	free(x.docs);
	free(x.n_docs);
	return rc;
}
