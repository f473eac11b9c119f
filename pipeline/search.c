/*
 * search.c — `ragload search "query"`: the top k chunks for a query, dense (the query embedded
 * with the corpus's own model, searched through the vector index), fts (PostgreSQL full-text
 * search) or hybrid (both fused by reciprocal rank).
 *
 *   connect(); load_model(); normalise(query); rank(method); details(); print();
 *
 * Dense: the query goes down the query path (stages/query.h): normalised as corpus text was,
 * embedded alone with the corpus's model (the vector `ragload embed` prints for it) and ranked by
 * ragload_dense(), whose body `ragload index` writes for the index ragload_indexes marks
 * serving (index_dense_function: index_dense_sql's statement for its storage; halfvec orders
 * by embedding_vector::halfvec(d), bit fetches k x the over-fetch by Hamming distance,
 * re-ranked exactly): HNSW with hnsw.ef_search = max(SEARCH_EF_SEARCH, the chunks fetched)
 * capped at 1000, IVFFlat with ivfflat.probes = ceil(sqrt(lists)), none an exact scan. The
 * function sets them itself (its SET clauses scope them to the call, which would hide a
 * SET LOCAL of ours): the fetch passed as its k carries the setting. The score printed is the
 * cosine similarity (1 - distance) for cosine corpora, else minus the distance, so that bigger
 * is always better.
 * Fts: the OR of the query's lexemes (query_fts_sql, as eval asks it), matched through the
 * chunks_fts_idx expression and ranked by ts_rank.
 * Hybrid: the top SEARCH_FUSE of both, fused with rrf_fuse() (as eval fuses them).
 * Each document is shown once, by its best chunk (--all-chunks: every chunk), so that one long
 * document cannot fill the page: done in SQL (DISTINCT ON / a window over doc_id), so that k
 * documents come back whenever the corpus has k.
 *
 * Why the model is read from the database on every run rather than cached: the corpus is
 * always queried with the model that embedded it, and a reindex may swap it at any moment; the
 * built-in model is ~17 MB and loads in a few tens of milliseconds.
 */
#include "search.h"
#include "../lib/common.h"
#include "../lib/db.h"
#include "../models/store.h"
#include "../lib/corpus.h"
#include "../lib/metrics.h"
#include "../stages/chunk.h"
#include "../models/model.h"
#include "../stages/index.h"
#include "../stages/query.h"
#include "../lib/blas.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_EF_SEARCH 200     /* HNSW candidate list: each document by its best chunk, k = 10:
                                    * recall 0.99 on SciFact (100: 0.95-0.97, build to build) */
#define SEARCH_FUSE 100          /* candidates per method fused by hybrid */
#define SEARCH_K_MAX 10000
#define SEARCH_QUERY_MAX (1u << 20)
#define SEARCH_SNIPPET 100       /* code points of chunk text on a result line */
#define DENSE_OVERFETCH 4        /* chunks fetched per document wanted, at first */

struct hit {
	int64_t chunk_id;
	int64_t doc_id;
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

/* ---- dense, bm25, hybrid: the SQL functions of migration 0004 ------------------------------ */

/* The query's vector as a pgvector literal into lit. */
static int query_vec_literal(struct search *s, struct buf *lit)
{
	int dim = model_dim(s->model);
	float *v = malloc((size_t)dim * sizeof(float));
	int rc = v ? query_vector(s->model, s->query.data, s->query.len, v) : RL_ENOMEM;
	if (!rc)
		rc = query_literal_buf(v, dim, lit);
	free(v);
	return rc;
}

/* The query's BM25 terms as a bigint[] literal into lit. */
static int query_terms_buf(struct search *s, struct buf *lit)
{
	int64_t *t;
	size_t n;
	int rc = query_terms(s->query.data, s->query.len, &t, &n);
	if (!rc)
		rc = query_terms_literal(t, n, lit);
	free(t);
	return rc;
}

/* The hits of a ranking query's rows: chunk id, score, document id. */
static void read_hits(const PGresult *r, struct hit *out, size_t *n)
{
	*n = (size_t)PQntuples(r);
	for (size_t i = 0; i < *n; i++) {
		out[i].chunk_id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
		out[i].score = atof(PQgetvalue(r, (int)i, 1));
		out[i].doc_id = strtoll(PQgetvalue(r, (int)i, 2), NULL, 10);
	}
}

/*
 * The top k chunks by ragload_dense(), ragload_bm25() or ragload_hybrid() (the one definition
 * of each ranking, which every client of the corpus calls); per_doc: each document once, by its
 * best chunk. The functions rank chunks, so documents come from an over-fetch of
 * DENSE_OVERFETCH x k chunks (at least SEARCH_EF_SEARCH), deduplicated by DISTINCT ON; when
 * that yields fewer than k documents and there are more chunks to see, the fetch grows
 * fourfold and runs again (a document with many good chunks cannot crowd the others out).
 * Ties are broken by chunk id, so a ranking is stable.
 */
static int rank_sql(struct search *s, const char *method, int k, int per_doc, struct hit *out,
		    size_t *n)
{
	struct buf vec, terms, sql;
	PGresult *r = NULL;
	int rc = RL_ENOMEM;
	int dense = strcmp(method, "bm25") != 0, lexical = strcmp(method, "dense") != 0;

	buf_init(&vec, 0);
	buf_init(&terms, 0);
	buf_init(&sql, 0);
	if ((dense && query_vec_literal(s, &vec)) || (lexical && query_terms_buf(s, &terms)))
		goto out;
	if (lexical && chunk_cjk_share(s->query.data, s->query.len) >= 0.5)  /* no spaces to split at */
		log_info("note: BM25 matches Chinese/Japanese text only as whole runs between spaces "
			 "and punctuation; use --method dense");
	const char *call = !strcmp(method, "dense") ? "ragload_dense($1::vector, %ld)"
			   : !strcmp(method, "bm25") ? "ragload_bm25($1::bigint[], %ld)"
						     : "ragload_hybrid($1::vector, $2::bigint[], %ld)";
	long fetch = per_doc ? (long)k * DENSE_OVERFETCH : k;
	if (per_doc && fetch < SEARCH_EF_SEARCH)
		fetch = SEARCH_EF_SEARCH;
	for (;;) {
		buf_reset(&sql);
		if (buf_printf(&sql, "WITH t AS MATERIALIZED (SELECT * FROM ") ||
		    buf_printf(&sql, call, fetch) || buf_printf(&sql, ") ") ||
		    (per_doc ? buf_printf(&sql, "SELECT chunk_id, score, doc_id, (SELECT count(*) FROM "
					  "t) FROM (SELECT DISTINCT ON (c.doc_id) t.chunk_id, t.score, "
					  "c.doc_id FROM t JOIN chunks c USING (chunk_id) ORDER BY "
					  "c.doc_id, t.score DESC, t.chunk_id) u ORDER BY score DESC, "
					  "chunk_id LIMIT %d", k)
			     : buf_printf(&sql, "SELECT t.chunk_id, t.score, c.doc_id, 0 FROM t JOIN "
					  "chunks c USING (chunk_id) ORDER BY t.score DESC, t.chunk_id")))
			goto out;
		const char *params[2] = {dense ? vec.data : terms.data, terms.data};
		PQclear(r);
		rc = RL_ERR;
		r = db_query(s->conn, sql.data, dense && lexical ? 2 : 1, params);
		if (!r)
			goto out;
		rc = RL_ENOMEM;
		if (!per_doc || PQntuples(r) >= k || PQntuples(r) == 0 ||
		    strtoll(PQgetvalue(r, 0, 3), NULL, 10) < fetch)
			break;
		fetch *= 4;  /* fewer than k documents among the chunks fetched, and more to see */
	}
	read_hits(r, out, n);
	rc = 0;
out:
	PQclear(r);
	buf_release(&vec);
	buf_release(&terms);
	buf_release(&sql);
	return rc;
}

static int rank_dense(struct search *s, int k, int per_doc, struct hit *out, size_t *n)
{
	return rank_sql(s, "dense", k, per_doc, out, n);
}

/* ---- full text ------------------------------------------------------------------------------ */

/* The top k chunks by ts_rank; per_doc: each document once, by its best chunk (a window
 * over every match, which full-text search ranks anyway). Ties broken by chunk id. */
static int rank_fts(struct search *s, int k, int per_doc, struct hit *out, size_t *n)
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
	if (query_fts_sql(&sql, lit, "chunks", NULL) ||
	    (per_doc ? buf_printf(&sql, "SELECT chunk_id, r, doc_id FROM (SELECT m.*, row_number() "
				  "OVER (PARTITION BY doc_id ORDER BY r DESC, chunk_id) AS nth FROM m) "
				  "b WHERE nth = 1 ORDER BY r DESC, chunk_id LIMIT %d", k)
		     : buf_printf(&sql, "SELECT chunk_id, r, doc_id FROM m ORDER BY r DESC, chunk_id "
				  "LIMIT %d", k))) {
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
	read_hits(r, out, n);
	rc = 0;
out:
	PQclear(r);
	PQfreemem(lit);
	buf_release(&sql);
	return rc;
}

/* ---- hybrid --------------------------------------------------------------------------------- */

/* Where id is in the first n hits of h (by chunk, or by document), or n when absent. */
static size_t hit_pos(const struct hit *h, size_t n, int64_t id, int by_doc)
{
	size_t i = 0;
	while (i < n && (by_doc ? h[i].doc_id : h[i].chunk_id) != id)
		i++;
	return i;
}

/*
 * hybrid-fts: reciprocal rank fusion of the top SEARCH_FUSE of dense and fts. per_doc: the two document
 * rankings (each document by its best chunk) are fused, and a document shows the chunk of
 * the method that ranked it higher (dense on a tie); otherwise the two chunk rankings.
 */
static int rank_hybrid_fts(struct search *s, int k, int per_doc, struct hit *out, size_t *n)
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
	if ((rc = rank_dense(s, depth, per_doc, d, &nd)) ||
	    (rc = rank_fts(s, depth, per_doc, f, &nf)))
		goto out;
	for (size_t i = 0; i < nd; i++)
		a[i] = per_doc ? d[i].doc_id : d[i].chunk_id;
	for (size_t i = 0; i < nf; i++)
		b[i] = per_doc ? f[i].doc_id : f[i].chunk_id;
	if ((rc = rrf_fuse(a, nd, b, nf, RRF_K, fused, scores, &nfused)))
		goto out;
	*n = nfused < (size_t)k ? nfused : (size_t)k;
	for (size_t i = 0; i < *n; i++) {
		size_t pd = hit_pos(d, nd, fused[i], per_doc), pf = hit_pos(f, nf, fused[i], per_doc);
		const struct hit *h = pd <= pf ? &d[pd] : &f[pf];
		out[i] = (struct hit){h->chunk_id, h->doc_id, scores[i]};
	}
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
	if (!a->json && out.len == 0 && buf_printf(&out, "no results\n"))
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
	blas_set_threads(1);
	if ((status = db_open_corpus(cfg->conninfo, 0, 0, 0, &s.conn)) != EXIT_DONE)
		goto out;
	status = EXIT_FATAL;
	int dense = strcmp(a->method, "fts") != 0 && strcmp(a->method, "bm25") != 0;
	if (dense && load_model(&s))
		goto out;
	if (query_normalise(a->query, strlen(a->query), &s.query, &bad))
		goto out;
	if (!s.query.len || s.query.data[strspn(s.query.data, " \t\n\r\v\f")] == '\0') {
		log_error("search: the query is empty once normalised");
		status = EXIT_USAGE;
		goto out;
	}
	s.hits = malloc((size_t)k * sizeof(*s.hits));
	if (!s.hits)
		goto out;
	int per_doc = !a->all_chunks;
	int rc = !strcmp(a->method, "fts") ? rank_fts(&s, k, per_doc, s.hits, &s.n_hits)
		 : !strcmp(a->method, "hybrid-fts")
			 ? rank_hybrid_fts(&s, k, per_doc, s.hits, &s.n_hits)
			 : rank_sql(&s, a->method, k, per_doc, s.hits, &s.n_hits);
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
