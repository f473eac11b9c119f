/*
 * search.c — `ragload search "query"`: the top k chunks for a query, dense (the query embedded
 * with the corpus's own model, searched through the vector index), fts (PostgreSQL full-text
 * search) or hybrid (both fused by reciprocal rank).
 *
 *   connect(); load_model(); normalise(query); rank(method); details(); print();
 *
 * Dense: the query is normalised as corpus text was (normalize_utf8), embedded alone with the
 * corpus's model (the vector `ragload embed` prints for it) and ranked by the corpus's distance
 * operator in one ORDER BY ... LIMIT k statement: through the HNSW index with hnsw.ef_search
 * = max(SEARCH_EF_SEARCH, k) when there is one, else IVFFlat with ivfflat.probes =
 * ceil(sqrt(lists)), else an exact scan. The score printed is the cosine similarity (1 -
 * distance) for cosine corpora, else minus the distance, so that bigger is always better.
 * Fts: the OR of the query's lexemes (plainto_tsquery's AND finds almost nothing for a
 * sentence-long query), matched through the chunks_fts_idx expression and ranked by ts_rank.
 * Hybrid: the top SEARCH_FUSE chunks of both, fused with rrf_fuse() (as eval fuses them).
 *
 * Why the model is read from the database on every run rather than cached: the corpus is
 * always queried with the model that embedded it, and a reindex may swap it at any moment; the
 * built-in model is ~17 MB and loads in a few tens of milliseconds.
 */
#include "search.h"
#include "common.h"
#include "db.h"
#include "ingest.h"
#include "metrics.h"
#include "../stages/chunk.h"
#include "../stages/embed.h"
#include "../stages/index.h"
#include "../stages/normalize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_EF_SEARCH 100     /* HNSW candidate list: recall ~0.99 at k = 10 on SciFact */
#define SEARCH_FUSE 100          /* candidates per method fused by hybrid */
#define SEARCH_K_MAX 10000
#define SEARCH_QUERY_MAX (1u << 20)
#define SEARCH_SNIPPET 100       /* code points of chunk text on a result line */

struct hit {
	int64_t chunk_id;
	double score;
};

struct search {
	const struct search_args *a;
	PGconn *conn;
	struct model *model;
	char distance[16];
	struct buf query;            /* the normalised query text */
	struct hit *hits;
	size_t n_hits;
};

/* ---- dense --------------------------------------------------------------------------------- */

/* Sets the index's search parameter for this transaction (none: exact scan). */
static int index_settings(PGconn *conn, int k)
{
	PGresult *r = db_query(conn,
		"SELECT (SELECT 1 FROM pg_class WHERE relname = '" INDEX_HNSW_NAME "'), "
		"(SELECT coalesce((SELECT substring(o FROM 7)::int FROM unnest(reloptions) o "
		"WHERE o LIKE 'lists=%'), 100) FROM pg_class WHERE relname = '" INDEX_IVFFLAT_NAME "')",
		0, NULL);
	if (!r)
		return RL_ERR;
	char sql[128] = "";
	if (!PQgetisnull(r, 0, 0))
		snprintf(sql, sizeof(sql), "SET LOCAL hnsw.ef_search = %d",
			 k > SEARCH_EF_SEARCH ? k : SEARCH_EF_SEARCH);
	else if (!PQgetisnull(r, 0, 1))
		snprintf(sql, sizeof(sql), "SET LOCAL ivfflat.probes = %d",
			 (int)ceil(sqrt(atof(PQgetvalue(r, 0, 1)))));
	PQclear(r);
	return sql[0] ? db_exec(conn, sql) : 0;
}

static int vector_literal(const float *v, int dim, struct buf *out)
{
	int rc = buf_putc(out, '[');
	for (int i = 0; i < dim && !rc; i++)
		rc = buf_printf(out, "%s%.9g", i ? "," : "", (double)v[i]);
	return rc ? rc : buf_putc(out, ']');
}

static int rank_dense(struct search *s, int k, struct hit *out, size_t *n)
{
	const char *op = index_operator(s->distance);
	int dim = model_dim(s->model);
	float *v = malloc((size_t)dim * sizeof(float));
	struct buf lit, sql;
	PGresult *r = NULL;
	int rc = RL_ENOMEM, in_tx = 0;

	buf_init(&lit, 0);
	buf_init(&sql, 0);
	if (!v)
		goto out;
	const char *t = s->query.len ? s->query.data : "";
	size_t len = s->query.len;
	if ((rc = model_embed(s->model, &t, &len, 1, v)) || (rc = vector_literal(v, dim, &lit)))
		goto out;
	rc = RL_ERR;
	if (!op) {
		log_error("search: the corpus's distance '%s' is unknown", s->distance);
		goto out;
	}
	if (db_exec(s->conn, "BEGIN"))
		goto out;
	in_tx = 1;
	if (index_settings(s->conn, k))
		goto out;
	if (buf_printf(&sql, "SELECT chunk_id, embedding_vector %s $1::vector FROM embeddings "
		       "ORDER BY embedding_vector %s $1::vector LIMIT %d", op, op, k))
		goto out;
	const char *params[1] = {lit.data};
	r = db_query(s->conn, sql.data, 1, params);
	if (!r)
		goto out;
	int cosine = strcmp(s->distance, "cosine") == 0;
	*n = (size_t)PQntuples(r);
	for (size_t i = 0; i < *n; i++) {
		double d = atof(PQgetvalue(r, (int)i, 1));
		out[i].chunk_id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
		out[i].score = cosine ? 1.0 - d : -d;
	}
	rc = 0;
out:
	if (in_tx)
		db_exec(s->conn, rc ? "ROLLBACK" : "COMMIT");
	PQclear(r);
	buf_release(&lit);
	buf_release(&sql);
	free(v);
	return rc;
}

/* ---- full text ------------------------------------------------------------------------------ */

static int rank_fts(struct search *s, int k, struct hit *out, size_t *n)
{
	const char *cfgname = s->a->fts_config ? s->a->fts_config : "english";
	char *lit = PQescapeLiteral(s->conn, cfgname, strlen(cfgname));
	struct buf sql;
	PGresult *r = NULL;
	int rc = RL_ERR;

	buf_init(&sql, 0);
	if (!lit) {
		log_error("search: %s", PQerrorMessage(s->conn));
		goto out;
	}
	/* the same expression as chunks_fts_idx, so that the index finds the matches */
	if (buf_printf(&sql,
		"WITH q AS (SELECT to_tsquery(%s::regconfig, coalesce((SELECT string_agg("
		"quote_literal(lexeme), ' | ') FROM unnest(to_tsvector(%s::regconfig, $1))), '')) "
		"AS q) SELECT c.chunk_id, ts_rank(to_tsvector(%s::regconfig, c.chunk_text), q.q) AS r "
		"FROM chunks c, q WHERE to_tsvector(%s::regconfig, c.chunk_text) @@ q.q "
		"ORDER BY r DESC, c.chunk_id LIMIT %d", lit, lit, lit, lit, k)) {
		rc = RL_ENOMEM;
		goto out;
	}
	const char *params[1] = {s->query.len ? s->query.data : ""};
	if (chunk_cjk_share(params[0], s->query.len) >= 0.5) /* no text search parser splits it */
		log_info("note: full-text search (%s) does not segment Chinese/Japanese text; "
			 "use --method dense", cfgname);
	r = db_query(s->conn, sql.data, 1, params);
	if (!r)
		goto out;
	*n = (size_t)PQntuples(r);
	for (size_t i = 0; i < *n; i++) {
		out[i].chunk_id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
		out[i].score = atof(PQgetvalue(r, (int)i, 1));
	}
	rc = 0;
out:
	PQclear(r);
	PQfreemem(lit);
	buf_release(&sql);
	return rc;
}

/* ---- hybrid --------------------------------------------------------------------------------- */

static int rank_hybrid(struct search *s, int k, struct hit *out, size_t *n)
{
	int depth = k > SEARCH_FUSE ? k : SEARCH_FUSE;
	struct hit *d = malloc((size_t)depth * sizeof(*d)), *f = malloc((size_t)depth * sizeof(*f));
	int64_t *a = malloc((size_t)depth * sizeof(*a)), *b = malloc((size_t)depth * sizeof(*b));
	int64_t *fused = malloc(2 * (size_t)depth * sizeof(*fused));
	double *scores = malloc(2 * (size_t)depth * sizeof(*scores));
	size_t nd = 0, nf = 0, nfused = 0;
	int rc = RL_ENOMEM;

	if (!d || !f || !a || !b || !fused || !scores)
		goto out;
	if ((rc = rank_dense(s, depth, d, &nd)) || (rc = rank_fts(s, depth, f, &nf)))
		goto out;
	for (size_t i = 0; i < nd; i++)
		a[i] = d[i].chunk_id;
	for (size_t i = 0; i < nf; i++)
		b[i] = f[i].chunk_id;
	if ((rc = rrf_fuse(a, nd, b, nf, RRF_K, fused, scores, &nfused)))
		goto out;
	*n = nfused < (size_t)k ? nfused : (size_t)k;
	for (size_t i = 0; i < *n; i++)
		out[i] = (struct hit){fused[i], scores[i]};
out:
	free(d);
	free(f);
	free(a);
	free(b);
	free(fused);
	free(scores);
	return rc;
}

/* ---- output --------------------------------------------------------------------------------- */

/* Appends text on one line: whitespace runs become one space, cut after max code points. */
static int one_line(struct buf *out, const char *t, size_t n, int max)
{
	int cps = 0, space = 0, rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			space = 1;
			continue;
		}
		if ((c & 0xC0) != 0x80) {
			if (cps == max)
				return buf_printf(out, "...");
			if (space && cps)
				rc = buf_putc(out, ' ');
			space = 0;
			cps++;
		}
		if (!rc)
			rc = buf_putc(out, (char)c);
	}
	return rc;
}

static int print_results(struct search *s)
{
	const struct search_args *a = s->a;
	struct buf ids, out;
	PGresult *r = NULL;
	int rc = RL_ENOMEM;

	buf_init(&ids, 0);
	buf_init(&out, 0);
	if (buf_putc(&ids, '{'))
		goto out;
	for (size_t i = 0; i < s->n_hits; i++)
		if (buf_printf(&ids, "%s%lld", i ? "," : "", (long long)s->hits[i].chunk_id))
			goto out;
	if (buf_putc(&ids, '}'))
		goto out;
	const char *params[1] = {ids.data};
	r = db_query(s->conn,
		"SELECT c.chunk_id, c.doc_id, d.source_name, c.chunk_text FROM chunks c "
		"JOIN documents d ON d.doc_id = c.doc_id WHERE c.chunk_id = ANY ($1::bigint[])",
		1, params);
	rc = RL_ERR;
	if (!r)
		goto out;
	rc = RL_ENOMEM;
	if (a->json) {
		/* fts needs no model: "model" is null */
		const char *mn = s->model ? model_name(s->model) : NULL;
		if (buf_printf(&out, "{\"query\":") || buf_json_str(&out, a->query, strlen(a->query)) ||
		    buf_printf(&out, ",\"method\":\"%s\",\"model\":", a->method) ||
		    (mn ? buf_json_str(&out, mn, strlen(mn)) : buf_printf(&out, "null")) ||
		    buf_printf(&out, ",\"results\":["))
			goto out;
	}
	for (size_t i = 0; i < s->n_hits; i++) {
		int row = -1;
		for (int j = 0; j < PQntuples(r); j++)
			if (strtoll(PQgetvalue(r, j, 0), NULL, 10) == s->hits[i].chunk_id)
				row = j;
		if (row < 0)
			continue;   /* deleted since it was ranked (a concurrent run) */
		const char *src = PQgetvalue(r, row, 2), *text = PQgetvalue(r, row, 3);
		if (a->json) {
			if (buf_printf(&out, "%s{\"rank\":%zu,\"score\":%.6g,\"chunk_id\":%s,"
				       "\"doc_id\":%s,\"source_name\":", i ? "," : "", i + 1,
				       s->hits[i].score, PQgetvalue(r, row, 0),
				       PQgetvalue(r, row, 1)) ||
			    buf_json_str(&out, src, strlen(src)) || buf_printf(&out, ",\"text\":") ||
			    buf_json_str(&out, text, (size_t)PQgetlength(r, row, 3)) ||
			    buf_putc(&out, '}'))
				goto out;
		} else {
			if (buf_printf(&out, "%3zu  %.4f  %s  ", i + 1, s->hits[i].score, src) ||
			    one_line(&out, text, (size_t)PQgetlength(r, row, 3), SEARCH_SNIPPET) ||
			    buf_putc(&out, '\n'))
				goto out;
		}
	}
	if (a->json && buf_printf(&out, "]}\n"))
		goto out;
	rc = fwrite(out.data ? out.data : "", 1, out.len, stdout) == out.len && !fflush(stdout)
		     ? 0 : RL_ERR;
	if (rc)
		log_error("search: error writing stdout");
out:
	PQclear(r);
	buf_release(&ids);
	buf_release(&out);
	return rc;
}

/* ---- the command ---------------------------------------------------------------------------- */

static int load_model(struct search *s)
{
	PGresult *r = db_query(s->conn, "SELECT value FROM ragload_corpus WHERE key = 'distance'",
			       0, NULL);
	if (!r)
		return RL_ERR;
	snprintf(s->distance, sizeof(s->distance), "%s",
		 PQntuples(r) ? PQgetvalue(r, 0, 0) : "cosine");
	PQclear(r);
	int rc = corpus_current_model(s->conn, &s->model);
	if (rc == 1) {
		log_error("search: the corpus has no model yet: run `ragload ingest` first");
		return RL_ERR;
	}
	return rc;
}

int search_run(const struct rl_config *cfg, const struct search_args *a)
{
	struct search s = {.a = a};
	int status = EXIT_FATAL, k = a->k > 0 ? a->k : 10;
	size_t bad = 0;

	buf_init(&s.query, SEARCH_QUERY_MAX * 4);
	if (k > SEARCH_K_MAX || strlen(a->query) > SEARCH_QUERY_MAX) {
		log_error("search: -k must be 1..%d and the query at most %u bytes", SEARCH_K_MAX,
			  SEARCH_QUERY_MAX);
		status = EXIT_USAGE;
		goto out;
	}
	/* one query: BLAS worker threads would only compete with this one for the cores */
	embed_set_blas_threads(1);
	s.conn = db_connect(cfg->conninfo);
	if (!s.conn)
		goto out;
	int dense = strcmp(a->method, "fts") != 0;
	if (dense && load_model(&s))
		goto out;
	if (normalize_utf8(a->query, strlen(a->query), &s.query, &bad))
		goto out;
	s.hits = malloc((size_t)k * sizeof(*s.hits));
	if (!s.hits)
		goto out;
	int rc = !strcmp(a->method, "fts")      ? rank_fts(&s, k, s.hits, &s.n_hits)
		 : !strcmp(a->method, "hybrid") ? rank_hybrid(&s, k, s.hits, &s.n_hits)
						: rank_dense(&s, k, s.hits, &s.n_hits);
	if (rc || print_results(&s))
		goto out;
	status = EXIT_DONE;
out:
	if (s.conn)
		PQfinish(s.conn);
	model_free(s.model);
	free(s.hits);
	buf_release(&s.query);
	return status;
}
