/*
 * evaluate.c — `ragload eval`: how well and how fast the loaded corpus retrieves.
 *
 * What: for a set of queries (BEIR queries.jsonl embedded with the corpus's own model, or
 * .fvecs vectors) eval computes
 *   - the exact top-k by ragload itself: the reference every ANN figure is measured against;
 *   - for every pgvector index present and every search setting: recall@k, latency
 *     p50/p95/p99 and QPS on one connection, QPS on N connections, and the plan that served it;
 *   - with qrels: nDCG@10, MRR@10 and Recall@100 at document level for exact search, each ANN
 *     setting, PostgreSQL full-text search, and an RRF hybrid of dense and full text;
 *   - with an .ivecs ground truth: on how many queries ragload's exact top-k agrees with it;
 * then writes the report (stages/report.h) and, on request, a TREC run file.
 *
 * How (evaluate_run reads like the table of contents):
 *   corpus_open()      connect, lock, corpus facts, document keys, the corpus's model
 *   queries_load()     qrels, the queries (only judged ones), embedded or read from .fvecs
 *   truth_load()       the .ivecs file, mapped to documents
 *   pool_open()        the extra connections, each with the ANN statements prepared
 *   exact_search()     every vector once by COPY TO BINARY, streamed in blocks through
 *                      cblas_sgemm against all queries, bounded heaps per query
 *   truth_check()      ragload's exact top-k against the file, up to ties
 *   quality_exact(), quality_fts(), quality_hybrid()
 *   ann_measure()      per index and setting: EXPLAIN, timed pass, N-connection pass, quality
 *   report_emit()
 *
 * Why this way:
 * - The reference is computed here, not by PostgreSQL: one sequential read of the vectors and
 *   one matrix product per block beats an ORDER BY ... LIMIT scan per query by far, and does
 *   not depend on the planner. For the ANN reference the float sgemm only filters: a row that
 *   may enter the top k is re-scored in double precision with pgvector's formula, so reference
 *   distances agree with the server's to float rounding, which metric_ann_recall's tie rule
 *   absorbs (the ground-truth check agrees on all 100 SIFT10K queries).
 * - Both index kinds may exist at once and the planner picks one, so each setting is measured
 *   with the other kind steered away and the plan proven with EXPLAIN; a setting the intended
 *   index did not serve is flagged (seqscan) and never reported as that index's result.
 * - Rankings go to the run file in exactly the order the metrics consume them, with strictly
 *   decreasing scores (1000 - rank), so trec_eval reproduces every quality figure.
 * - Full-text ranking needs each matching chunk's tsvector. Recomputing the chunks_fts_idx
 *   expression per matching row costs ~0.4 s per SciFact query (an OR of the query's lexemes
 *   matches thousands of chunks), so eval materialises that same expression once per
 *   connection in a temporary table with its own GIN index: the same tsvectors, the same
 *   ranking, ~0.05 s per query. Untimed passes like this one run on all pool connections.
 */
#include "evaluate.h"
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

#define EVAL_DOCS 100                 /* documents per ranking: Recall@100, run-file depth */
#define EVAL_MAX_QUERIES 1000000      /* queries in one evaluation */
#define EVAL_QUERY_BYTES (2ull << 30) /* query vectors and their text literals together */
#define EVAL_LINE_MAX (1u << 20)      /* one queries.jsonl line */
#define EVAL_MAX_DIM 16000            /* pgvector's vector limit */
#define EVAL_MAX_INDEXES 8            /* vector indexes measured */
#define EVAL_MAX_ROWS 512             /* report rows of each kind */
#define EVAL_BLOCK_ROWS 4096          /* corpus rows per sgemm */
#define EVAL_SCAN_PARTS 8             /* connections the exact scan splits the heap over, at most */
#define EVAL_SCAN_PART_PAGES 128      /* heap pages per part (1 MB), at least */
#define EVAL_SCORE_FLOATS (16u << 20) /* block x queries score matrix, floats */
#define EVAL_HEAP_BYTES (4ull << 30)  /* all per-query heaps together */
#define EVAL_WARMUP 200               /* untimed queries before an index's first setting */
#define EVAL_STEER_EF 1000            /* hnsw.ef_search that prices HNSW out (pgvector max) */
#define EVAL_FILTER_TOL 1e-4          /* sgemm filter slack, relative to the norms */
#define EVAL_ITER_EF 40               /* ef_search of the iterative-scan row */
#define EVAL_FTS_TABLE "ragload_eval_fts"

enum dist { DIST_COSINE, DIST_L2, DIST_IP };

/* One reference neighbour: distance as pgvector reports it, the chunk and its document. */
struct hit {
	float d;
	int32_t chunk;
	int32_t doc;
};

/* Document keys (metadata->>'_id', else source_name): qrels and ground truth name documents
 * by key; a key index (kidx) numbers the distinct keys in strcmp order. */
struct doc_keys {
	PGresult *res;          /* owns the key strings */
	const char **key;       /* n_keys, strcmp order */
	size_t n_keys;
	int32_t *doc;           /* n_docs document ids, ascending */
	int32_t *kidx;          /* key index of doc[i] */
	size_t n_docs;
};

struct chunk_doc {
	int32_t chunk, doc;
};

/* A vector index present on embeddings. */
struct vindex {
	char name[64];
	char kind[16];          /* hnsw | ivfflat */
	char build_json[128];
	char tag[64];           /* run-file tag prefix: hnsw_m16_efc64, ivfflat_lists100 */
	double build_s;
	long long bytes;
	int lists;              /* ivfflat */
};

/* One search setting of one index. */
struct setting {
	const struct vindex *ix;
	int value;              /* ef_search or probes */
	int iterative;          /* hnsw.iterative_scan = relaxed_order */
	char sets[384];         /* the SET LOCAL statements */
	char search_json[128];
	char tag[128];
};

/* Extra connections (--connections N, none when N = 1): the untimed ranking passes and the
 * N-connection QPS figure. */
struct pool {
	PGconn *c[64];
	int n;
};

struct eval {
	const struct rl_config *cfg;
	const struct eval_args *a;
	PGconn *conn;
	/* corpus */
	char dbname[128], distance[16], model_name[256], pg_version[128], vec_version[32];
	enum dist dist;
	const char *op;
	int dim;
	int iter_scan;                /* pgvector >= 0.8: iterative index scans exist */
	long long n_docs, n_chunks, n_vectors;
	struct model *model;          /* NULL for precomputed vectors */
	char *model_json;
	struct doc_keys keys;
	/* queries */
	struct qrels *qrels;
	size_t nq;
	char **qid;
	char **qtext;                 /* normalised text; NULL for .fvecs queries */
	size_t *qord;                 /* ordinal in the queries file (ground-truth row) */
	float *qvec;                  /* nq x dim, as given / embedded */
	char **qlit;                  /* '[x,y,...]' text literals of qvec */
	int k;                        /* recall@k: min(args k, vectors) */
	char kstr[16], chunks_str[16];
	/* the exact reference */
	int kc;                       /* chunks kept per query */
	int ann_chunks;               /* chunks an ANN quality pass asks for */
	struct hit *exact;            /* nq x kc, nearest first */
	int *exact_n;
	struct chunk_doc *cmap;       /* every chunk with its document, by chunk id */
	size_t n_cmap;
	int64_t *ref_ids;             /* nq x k chunk ids and distances, for metric_ann_recall */
	float *ref_d;
	double exact_seconds;
	long long zero_vectors;
	/* ground truth */
	int gt_k;
	size_t gt_rows;
	int64_t *gt_kidx;             /* nq x gt_k; -1 - j for ids that name no document */
	float *gt_d;                  /* distances computed during the exact scan */
	double gt_agreement;          /* NAN without a file */
	size_t gt_agree, gt_checked;
	/* document rankings kept for the hybrid */
	int32_t *dense_docs, *fts_docs;
	int *dense_n, *fts_n;
	/* outputs */
	int quality_on;               /* qrels or a run file: rankings are computed */
	struct report_quality *quality;
	size_t n_quality;
	struct report_ann *ann;
	size_t n_ann;
	json_t *plans;
	FILE *run;
	char run_tmp[PATH_MAX];
	struct pool pool;
};

/* ---- small helpers ------------------------------------------------------------------------ */

/* n big-endian floats (a vector's binary form) into x: a loop the compiler turns into byte
 * shuffles, several floats at a time. */
static void be_floats(float *restrict x, const unsigned char *restrict p, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, p + 4 * (size_t)i, sizeof(u));
		u = __builtin_bswap32(u);
		memcpy(&x[i], &u, sizeof(u));
	}
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The key index of a document id, or -1. */
static int32_t doc_kidx(const struct doc_keys *k, int32_t doc)
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
static int32_t key_kidx(const struct doc_keys *k, const char *key)
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

/* ---- queries ------------------------------------------------------------------------------ */

static int qid_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Appends one query (id and text are copied; text NULL for vector queries). */
static int query_add(struct eval *e, size_t *cap, const char *id, const char *text, size_t len,
		     size_t ord)
{
	if (e->nq == EVAL_MAX_QUERIES) {
		log_error("%s: more than %d queries: use --max-queries", e->a->queries,
			  EVAL_MAX_QUERIES);
		return RL_ELIMIT;
	}
	if (e->nq == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		char **qi = realloc(e->qid, nc * sizeof(*qi));
		if (qi)
			e->qid = qi;
		char **qt = realloc(e->qtext, nc * sizeof(*qt));
		if (qt)
			e->qtext = qt;
		size_t *qo = realloc(e->qord, nc * sizeof(*qo));
		if (qo)
			e->qord = qo;
		if (!qi || !qt || !qo)
			return RL_ENOMEM;
		*cap = nc;
	}
	e->qid[e->nq] = xstrdup(id);
	e->qtext[e->nq] = text ? xstrndup(text, len) : NULL;
	e->qord[e->nq] = ord;
	if (!e->qid[e->nq] || (text && !e->qtext[e->nq])) {
		free(e->qid[e->nq]);
		free(e->qtext[e->nq]);
		return RL_ENOMEM;
	}
	e->nq++;
	return 0;
}

/* Reads one line into line (without the newline). Returns 1, 0 at EOF, or RL_ELIMIT. */
static int read_line(FILE *f, struct buf *line)
{
	char piece[65536];
	buf_reset(line);
	int got = 0;
	while (fgets(piece, sizeof(piece), f)) {
		got = 1;
		size_t n = strlen(piece);
		int nl = n && piece[n - 1] == '\n';
		if (buf_append(line, piece, n - (size_t)nl))
			return RL_ELIMIT;
		if (nl)
			return 1;
	}
	return got;
}

static int judged(const char *const *sorted, size_t n, const char *id)
{
	return n == 0 || bsearch(&id, sorted, n, sizeof(*sorted), qid_cmp) != NULL;
}

/* BEIR queries.jsonl: {"_id", "text"} per line; only judged queries when qrels are given. */
static int queries_jsonl(struct eval *e, const char *const *judged_ids, size_t n_judged)
{
	const char *path = e->a->queries;
	int rc = 0;
	size_t cap = 0, lineno = 0, ord = 0;
	struct buf line;
	buf_init(&line, EVAL_LINE_MAX);
	FILE *f = fopen(path, "r");
	if (!f) {
		log_error("%s: %s", path, strerror(errno));
		rc = RL_ERR;
		goto out;
	}
	for (;;) {
		int got = read_line(f, &line);
		lineno++;
		if (got < 0) {
			log_error("%s:%zu: line longer than %u bytes", path, lineno, EVAL_LINE_MAX);
			rc = got;
			goto out;
		}
		if (got == 0)
			break;
		const char *s = line.len ? line.data : "";
		if (lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
			s += 3;  /* a byte order mark */
		if (strspn(s, " \t\r") == strlen(s))
			continue;
		json_error_t err;
		json_t *j = json_loads(s, 0, &err);
		json_t *id = j ? json_object_get(j, "_id") : NULL;
		json_t *text = j ? json_object_get(j, "text") : NULL;
		char idbuf[32];
		const char *ids = NULL;
		if (json_is_string(id))
			ids = json_string_value(id);
		else if (json_is_integer(id)) {
			snprintf(idbuf, sizeof(idbuf), "%lld", (long long)json_integer_value(id));
			ids = idbuf;
		}
		if (!j || !ids || !*ids || !json_is_string(text)) {
			log_error("%s:%zu: %s", path, lineno,
				  j ? "expected an object with string \"_id\" and \"text\"" : err.text);
			json_decref(j);
			rc = RL_ERR;
			goto out;
		}
		size_t this_ord = ord++;
		if (judged(judged_ids, n_judged, ids))
			rc = query_add(e, &cap, ids, json_string_value(text),
				       json_string_length(text), this_ord);
		json_decref(j);
		if (rc || (e->a->max_queries && e->nq == (size_t)e->a->max_queries))
			goto out;
	}
	if (ferror(f)) {
		log_error("%s: read error", path);
		rc = RL_ERR;
	}
out:
	if (f)
		fclose(f);
	buf_release(&line);
	return rc;
}

/* .fvecs (lib/vecfile.c): query i has id "i". */
static int queries_fvecs(struct eval *e, const char *const *judged_ids, size_t n_judged)
{
	const char *path = e->a->queries;
	int rc = RL_ERR, got;
	size_t cap = 0, vcap = 0, ord = 0;
	float *v = NULL;
	struct vecfile vf;
	char err[256];
	if (vecfile_open(&vf, path, err, sizeof(err))) {
		log_error("%s: %s", path, err);
		return RL_ERR;
	}
	int d = vf.dim;
	if (d > EVAL_MAX_DIM || (d > 0 && e->dim > 0 && d != e->dim)) {
		log_error("%s: dimension %d, the corpus has %d", path, d, e->dim);
		goto out;
	}
	if (d > 0)
		e->dim = d;
	if (!(v = malloc(4 * (size_t)(d > 0 ? d : 1)))) {
		rc = RL_ENOMEM;
		goto out;
	}
	for (; (got = vecfile_next(&vf, v, err, sizeof(err))) == 1; ord++) {
		if (e->a->max_queries && e->nq >= (size_t)e->a->max_queries)
			break;
		char id[32];
		snprintf(id, sizeof(id), "%zu", ord);
		if (!judged(judged_ids, n_judged, id))
			continue;
		if (e->nq == vcap) {
			size_t nc = vcap ? vcap * 2 : 256;
			if ((unsigned long long)nc * (size_t)d * 4 > EVAL_QUERY_BYTES / 4) {
				log_error("%s: too many query vectors: use --max-queries", path);
				rc = RL_ELIMIT;
				goto out;
			}
			float *nv = realloc(e->qvec, nc * (size_t)d * sizeof(float));
			if (!nv) {
				rc = RL_ENOMEM;
				goto out;
			}
			e->qvec = nv;
			vcap = nc;
		}
		for (int i = 0; i < d; i++) {
			if (!isfinite(v[i])) {
				log_error("%s: vector %zu: element %d is not finite", path, ord, i);
				goto out;
			}
		}
		memcpy(e->qvec + e->nq * (size_t)d, v, (size_t)d * sizeof(float));
		if ((rc = query_add(e, &cap, id, NULL, 0, ord)))
			goto out;
		rc = RL_ERR;
	}
	if (got < 0) {
		log_error("%s: %s", path, err);
		goto out;
	}
	free(e->qtext);
	e->qtext = NULL;  /* vectors have no text: no full-text search */
	rc = 0;
out:
	free(v);
	vecfile_close(&vf);
	return rc;
}

/* Each text query down the query path (stages/query.h), as `ragload search` takes it:
 * normalised as the corpus text was, then embedded alone with the corpus's model, so that a
 * query's vector here is the one search ranks with, to the last bit. */
static int queries_embed(struct eval *e)
{
	if ((unsigned long long)e->nq * (unsigned)e->dim * 4 > EVAL_QUERY_BYTES / 4) {
		log_error("%s: too many queries for dimension %d: use --max-queries", e->a->queries,
			  e->dim);
		return RL_ELIMIT;
	}
	e->qvec = malloc(e->nq * (size_t)e->dim * sizeof(float));
	if (!e->qvec)
		return RL_ENOMEM;
	struct buf nb;
	buf_init(&nb, EVAL_LINE_MAX * 4);
	size_t invalid = 0;
	int rc = 0;
	for (size_t i = 0; i < e->nq && !rc; i++) {
		size_t bad = 0;
		if ((rc = query_normalise(e->qtext[i], strlen(e->qtext[i]), &nb, &bad)))
			break;
		invalid += bad;
		free(e->qtext[i]);
		e->qtext[i] = nb.len ? buf_detach(&nb, NULL) : xstrdup("");
		if (!e->qtext[i])
			rc = RL_ENOMEM;
		else
			rc = query_vector(e->model, e->qtext[i], strlen(e->qtext[i]),
					  e->qvec + i * (size_t)e->dim);
	}
	buf_release(&nb);
	if (invalid)
		log_warn("%s: %zu invalid UTF-8 bytes replaced", e->a->queries, invalid);
	return rc;
}

/* '[x,y,...]' (query_literal): a float32 survives the text round trip exactly. */
static int queries_literals(struct eval *e)
{
	size_t each = (size_t)e->dim * 17 + 3;
	if ((unsigned long long)each * e->nq > EVAL_QUERY_BYTES / 2) {
		log_error("%s: too many queries for dimension %d: use --max-queries", e->a->queries,
			  e->dim);
		return RL_ELIMIT;
	}
	e->qlit = calloc(e->nq, sizeof(*e->qlit));
	if (!e->qlit)
		return RL_ENOMEM;
	for (size_t q = 0; q < e->nq; q++) {
		char *lit = malloc(each);
		if (!lit)
			return RL_ENOMEM;
		if (query_literal(e->qvec + q * (size_t)e->dim, e->dim, lit, each) < 0) {
			free(lit);
			return RL_ERR;
		}
		e->qlit[q] = lit;
	}
	return 0;
}

/* qrels, then the queries (judged ones only), their vectors and literals. */
static int queries_load(struct eval *e)
{
	const struct eval_args *a = e->a;
	int rc = 0;
	const char **judged_ids = NULL;
	size_t n_judged = 0;
	if (a->qrels) {
		if ((rc = qrels_load(a->qrels, &e->qrels)))
			return rc;
		n_judged = qrels_n_queries(e->qrels);
		judged_ids = malloc((n_judged ? n_judged : 1) * sizeof(*judged_ids));
		if (!judged_ids)
			return RL_ENOMEM;
		for (size_t i = 0; i < n_judged; i++)
			judged_ids[i] = qrels_query(e->qrels, i);
		qsort(judged_ids, n_judged, sizeof(*judged_ids), qid_cmp);
		if (n_judged == 0) {
			log_error("%s: no judgments", a->qrels);
			rc = RL_ERR;
			goto out;
		}
	}
	int fvecs = ends_with(a->queries, ".fvecs");
	if (!fvecs && !e->model) {
		log_error("%s: the corpus holds precomputed vectors (%s) and has no text model: give "
			  "the queries as .fvecs", a->queries, e->model_name);
		rc = RL_ERR;
		goto out;
	}
	rc = fvecs ? queries_fvecs(e, judged_ids, n_judged) : queries_jsonl(e, judged_ids, n_judged);
	if (rc)
		goto out;
	if (e->nq == 0) {
		log_error("%s: no queries%s%s", a->queries, a->qrels ? " judged in " : "",
			  a->qrels ? a->qrels : "");
		rc = RL_ERR;
		goto out;
	}
	if (!fvecs && (rc = queries_embed(e)))
		goto out;
	rc = queries_literals(e);
	log_info("eval: %zu queries from %s, dimension %d, distance %s", e->nq, a->queries, e->dim,
		 e->distance);
out:
	free(judged_ids);
	return rc;
}

/* ---- ground truth ------------------------------------------------------------------------- */

/* .ivecs (lib/vecfile.c): per query the ids of its exact top k (0-based file order = document
 * key). Row r belongs to the query at ordinal r of the queries file. */
static int truth_load(struct eval *e)
{
	const char *path = e->a->ground_truth;
	int rc = RL_ERR, got = 0;
	size_t maxord = 0;
	for (size_t q = 0; q < e->nq; q++)
		maxord = e->qord[q] > maxord ? e->qord[q] : maxord;
	int32_t *row_of = NULL;  /* ordinal -> query */
	int32_t *ids = NULL;
	struct vecfile vf;
	char err[256];
	if (vecfile_open(&vf, path, err, sizeof(err))) {
		log_error("%s: %s", path, err);
		return RL_ERR;
	}
	e->gt_k = e->k;
	row_of = malloc((maxord + 1) * sizeof(*row_of));
	e->gt_kidx = malloc(e->nq * (size_t)e->gt_k * sizeof(*e->gt_kidx));
	e->gt_d = malloc(e->nq * (size_t)e->gt_k * sizeof(*e->gt_d));
	ids = malloc(4 * (size_t)(vf.dim > 0 ? vf.dim : 1));
	if (!row_of || !e->gt_kidx || !e->gt_d || !ids) {
		rc = RL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i <= maxord; i++)
		row_of[i] = -1;
	for (size_t q = 0; q < e->nq; q++)
		row_of[e->qord[q]] = (int32_t)q;
	for (size_t i = 0; i < e->nq * (size_t)e->gt_k; i++) {
		e->gt_kidx[i] = -1;
		e->gt_d[i] = NAN;
	}
	if (vf.dim > 0 && vf.dim < e->gt_k) {
		log_error("%s: rows of %d ids, fewer than k = %d", path, vf.dim, e->gt_k);
		goto out;
	}
	size_t r;
	for (r = 0; r <= maxord && (got = vecfile_next(&vf, ids, err, sizeof(err))) == 1; r++) {
		if (row_of[r] < 0)
			continue;
		for (int j = 0; j < e->gt_k; j++) {
			char key[16];
			snprintf(key, sizeof(key), "%d", ids[j]);
			int32_t kx = key_kidx(&e->keys, key);
			e->gt_kidx[(size_t)row_of[r] * e->gt_k + j] = kx >= 0 ? kx : -1 - j;
		}
	}
	if (got < 0) {
		log_error("%s: %s", path, err);
		goto out;
	}
	e->gt_rows = r;
	if (r <= maxord)
		log_warn("%s: %zu rows, fewer than the queries; queries beyond are not checked",
			 path, r);
	rc = 0;
out:
	free(row_of);
	free(ids);
	vecfile_close(&vf);
	return rc;
}

/* Work list for the exact scan: which (query, slot) needs the distance to which document. */
struct need {
	int32_t kidx;
	uint32_t slot;
};

static int need_cmp(const void *x, const void *y)
{
	const struct need *a = x, *b = y;
	return (a->kidx > b->kidx) - (a->kidx < b->kidx);
}

/* ---- exact search --------------------------------------------------------------------------
 * The corpus is read once with COPY TO BINARY and streamed in blocks of EVAL_BLOCK_ROWS rows
 * through one cblas_sgemm against all queries. The heap of embeddings is split into one block
 * range per core (TID range scans, so each backend reads only its part), each part fetched on
 * its own connection by its own thread, all in one exported snapshot; the chunk -> document map
 * comes first, by a COPY of its own, so no backend joins (a join per part made the planner hash
 * the vectors). The parts' heaps are merged at the end. (Splitting by chunk_id % N instead was
 * slower than one connection: every backend still scanned and joined the whole table.)
 * Two bounded structures per query:
 *   ref   the k nearest by pgvector's distance in double precision: the ANN reference. The
 *         sgemm only filters; a row within its rounding slack of the heap's worst is scored
 *         exactly, so reference distances agree with the server's to float rounding.
 *   rank  the kc nearest by the sgemm's float distance (only when kc > k): the dense ranking
 *         for document-level quality, where a swap of two chunks 1e-7 apart changes nothing.
 *         A heap of 1000 per query does not stay in cache (its sift-downs were most of the
 *         scan), so it is a buffer of 2 kc candidates under a bar, cut back to the best kc by
 *         quickselect when full: appends are sequential, each cut is linear. */

struct scan_shared {
	const float *qs;                /* nq x dim queries as scanned (unit length for cosine) */
	const double *qn;               /* squared norms of qs */
	const struct need *need;        /* ground-truth work, sorted by kidx */
	size_t n_need;
	const uint8_t *need_mark;       /* per kidx: any need */
};

struct scan {
	const struct eval *e;
	const struct scan_shared *sh;
	PGconn *conn;
	unsigned long long lo, hi;      /* heap blocks [lo, hi) of embeddings; hi 0 = to the end */
	int rc;
	float *x;                       /* block rows */
	double *xn;                     /* squared norms; < 0 = a zero vector under cosine */
	int32_t *chunk, *doc;
	float *s;                       /* block x nq dot products */
	size_t nb, cap;
	struct hit *ref, *rank;         /* nq x k heaps, nq x 2kc buffers (rank NULL: kc == k) */
	int *ref_n, *rank_n;
	/* Each heap's entry bar, contiguous so the inner loop over queries stays in cache: the
	 * worst kept distance once full, +inf before (ref_top exact, rank_top as the sgemm sees) */
	double *ref_top;
	float *rank_top;
	float *gt_d;                    /* distances of the file's ids (part 0: e->gt_d), or NULL */
	float *gt_own;                  /* gt_d when this part owns it */
	long long zero_vectors;
	unsigned long long rows;
	int header_done, trailer;
};

/* pgvector's distances in double precision (l2_distance, vector_negative_inner_product,
 * vector_cosine_distance); na, nb are the squared norms. Four partial sums, because one
 * accumulator makes the loop wait on the adder's latency. */
static double dist_exact(enum dist k, const float *a, const float *b, int d, double na, double nb)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int i = 0;
	if (k == DIST_L2) {
		for (; i + 4 <= d; i += 4) {
			double t0 = (double)a[i] - b[i], t1 = (double)a[i + 1] - b[i + 1];
			double t2 = (double)a[i + 2] - b[i + 2], t3 = (double)a[i + 3] - b[i + 3];
			s0 += t0 * t0;
			s1 += t1 * t1;
			s2 += t2 * t2;
			s3 += t3 * t3;
		}
		for (; i < d; i++)
			s0 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		return sqrt((s0 + s1) + (s2 + s3));
	}
	for (; i + 4 <= d; i += 4) {
		s0 += (double)a[i] * b[i];
		s1 += (double)a[i + 1] * b[i + 1];
		s2 += (double)a[i + 2] * b[i + 2];
		s3 += (double)a[i + 3] * b[i + 3];
	}
	for (; i < d; i++)
		s0 += (double)a[i] * b[i];
	double dot = (s0 + s1) + (s2 + s3);
	if (k == DIST_IP)
		return -dot;
	double sim = dot / sqrt(na * nb);
	sim = sim > 1 ? 1 : sim < -1 ? -1 : sim;
	return 1.0 - sim;
}

static int hit_after(const struct hit *a, const struct hit *b)
{
	return a->d > b->d || (a->d == b->d && a->chunk > b->chunk);
}

/* Max-heap (root = the worst kept neighbour). */
static void heap_push(struct hit *h, int *n, struct hit x)
{
	int i = (*n)++;
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!hit_after(&x, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

static void heap_replace_top(struct hit *h, int n, struct hit x)
{
	int i = 0;
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct hit *big = &x;
		if (l < n && hit_after(&h[l], big)) {
			m = l;
			big = &h[l];
		}
		if (r < n && hit_after(&h[r], big))
			m = r;
		if (m == i)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = x;
}

/* Moves the m best of h[0..n) (hit order) into h[0..m), in no particular order: quickselect. */
static void hit_select(struct hit *h, int n, int m)
{
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		struct hit piv = h[lo + (hi - lo) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (hit_after(&piv, &h[i]))
				i++;
			while (hit_after(&h[j], &piv))
				j--;
			if (i <= j) {
				struct hit t = h[i];
				h[i++] = h[j];
				h[j--] = t;
			}
		}
		if (m - 1 <= j)
			hi = j;
		else if (m - 1 >= i)
			lo = i;
		else
			break;
	}
}

/* Cuts a rank buffer back to its best kc and raises its bar to the worst of those. */
static void rank_cut(struct hit *h, int *n, float *top, int kc)
{
	if (*n <= kc)
		return;
	hit_select(h, *n, kc);
	*n = kc;
	float worst = h[0].d;
	for (int i = 1; i < kc; i++)
		worst = h[i].d > worst ? h[i].d : worst;
	*top = worst;
}

/* Offers x to a bounded heap of cap entries. */
static void heap_offer(struct hit *h, int *n, int cap, struct hit x)
{
	if (*n < cap)
		heap_push(h, n, x);
	else if (hit_after(&h[0], &x))
		heap_replace_top(h, *n, x);
}

static int hit_cmp(const void *x, const void *y)
{
	const struct hit *a = x, *b = y;
	return hit_after(a, b) ? 1 : hit_after(b, a) ? -1 : 0;
}

static int chunk_doc_cmp(const void *x, const void *y)
{
	const struct chunk_doc *a = x, *b = y;
	return (a->chunk > b->chunk) - (a->chunk < b->chunk);
}

/* The document of a chunk (from the exact scan's map), or -1. */
static int32_t chunk_doc(const struct eval *e, int32_t chunk)
{
	struct chunk_doc key = { chunk, 0 };
	const struct chunk_doc *m = bsearch(&key, e->cmap, e->n_cmap, sizeof(key), chunk_doc_cmp);
	return m ? m->doc : -1;
}

/* One block of corpus rows against every query. */
static void exact_block(struct scan *s)
{
	const struct eval *e = s->e;
	const struct scan_shared *sh = s->sh;
	size_t nb = s->nb, nq = e->nq;
	int d = e->dim, k = e->k, kc = e->kc;
	if (nb == 0)
		return;
	for (size_t i = 0; i < nb; i++) {
		float *x = s->x + i * d;
		double n2 = 0;
		for (int j = 0; j < d; j++)
			n2 += (double)x[j] * x[j];
		if (e->dist == DIST_COSINE) {
			if (n2 == 0) {  /* pgvector's cosine is NaN here; its indexes skip the row */
				s->xn[i] = -1;
				s->zero_vectors++;
				continue;
			}
			float inv = (float)(1.0 / sqrt(n2));
			n2 = 0;  /* the norm of the stored floats, so cosine stays exact */
			for (int j = 0; j < d; j++) {
				x[j] *= inv;
				n2 += (double)x[j] * x[j];
			}
		}
		s->xn[i] = n2;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)nq, d, 1.0f, s->x, d,
		    sh->qs, d, 0.0f, s->s, (int)nq);
	for (size_t i = 0; i < nb; i++) {
		if (s->xn[i] < 0)
			continue;
		const float *x = s->x + i * d;
		const float *dots = s->s + i * nq;
		double xn = s->xn[i];
		for (size_t q = 0; q < nq; q++) {
			double dot = dots[q], scale = sh->qn[q] + xn, approx;
			/* l2 compares squared distances: no square root per pair */
			approx = e->dist == DIST_COSINE ? 1.0 - dot : e->dist == DIST_IP ? -dot
										: scale - 2.0 * dot;
			if (s->rank && (float)approx <= s->rank_top[q]) {
				struct hit *h = s->rank + q * 2 * kc;
				h[s->rank_n[q]++] = (struct hit){ (float)approx, s->chunk[i], s->doc[i] };
				if (s->rank_n[q] == 2 * kc)
					rank_cut(h, &s->rank_n[q], &s->rank_top[q], kc);
			}
			double top = s->ref_top[q];
			if (top < INFINITY) {
				double thr = e->dist == DIST_COSINE ? top + EVAL_FILTER_TOL
					   : e->dist == DIST_IP ? top + EVAL_FILTER_TOL * scale
					   : top * top + EVAL_FILTER_TOL * scale;
				if (approx > thr)
					continue;
			}
			struct hit *h = s->ref + q * k;
			struct hit c = { (float)dist_exact(e->dist, sh->qs + q * d, x, d, sh->qn[q], xn),
					 s->chunk[i], s->doc[i] };
			heap_offer(h, &s->ref_n[q], k, c);
			if (s->ref_n[q] == k)
				s->ref_top[q] = h[0].d;
		}
		if (sh->n_need) {
			int32_t kx = doc_kidx(&e->keys, s->doc[i]);
			if (kx < 0 || !sh->need_mark[kx])
				continue;
			struct need key = { kx, 0 };
			const struct need *p = bsearch(&key, sh->need, sh->n_need, sizeof(*p), need_cmp);
			while (p > sh->need && p[-1].kidx == kx)
				p--;
			for (; p < sh->need + sh->n_need && p->kidx == kx; p++) {
				size_t q = p->slot / (uint32_t)e->gt_k;
				float dd = (float)dist_exact(e->dist, sh->qs + q * d, x, d, sh->qn[q], xn);
				if (!(s->gt_d[p->slot] <= dd))  /* NaN (unset) or farther */
					s->gt_d[p->slot] = dd;
			}
		}
	}
	s->nb = 0;
}

/* Reads a binary COPY's header off the first message: 0, or -1 when it is not one. */
static int copy_header(const unsigned char *p, size_t n, size_t *pos)
{
	static const unsigned char sig[11] = "PGCOPY\n\377\r\n";
	if (n < 19 || memcmp(p, sig, 11) != 0)
		return -1;
	uint32_t ext = (uint32_t)pgcopy_get32(p + 15);
	if (ext > n - 19)
		return -1;
	*pos = 19 + ext;
	return 0;
}

/* Parses one CopyData message (rows of chunk_id int4, vector) into the block, scanning each
 * full block. The first message also carries the 19-byte header. */
static int exact_message(struct scan *s, const unsigned char *p, size_t n)
{
	int dim_want = s->e->dim;
	size_t pos = 0;
	if (!s->header_done) {
		if (copy_header(p, n, &pos)) {
			log_error("eval: COPY of embeddings: bad binary header");
			return RL_ERR;
		}
		s->header_done = 1;
	}
	while (pos < n) {
		if (n - pos < 2)
			goto bad;
		int16_t nf = pgcopy_get16(p + pos);
		pos += 2;
		if (nf == -1) {
			s->trailer = 1;
			return 0;
		}
		if (nf != 2 || n - pos < 14 || pgcopy_get32(p + pos) != 4)
			goto bad;
		int32_t chunk = pgcopy_get32(p + pos + 4);
		pos += 8;
		int32_t len = pgcopy_get32(p + pos);
		int dim = pgcopy_get16(p + pos + 4);
		pos += 4;
		if (len < 4 || (size_t)len > n - pos || dim != dim_want || len != 4 + 4 * dim) {
			log_error("eval: chunk %d: vector of dimension %d, expected %d", chunk, dim,
				  dim_want);
			return RL_ERR;
		}
		float *x = s->x + s->nb * dim;
		be_floats(x, p + pos + 4, dim);
		pos += (size_t)len;
		s->chunk[s->nb] = chunk;
		s->doc[s->nb] = chunk_doc(s->e, chunk);
		s->rows++;
		if (++s->nb == s->cap)
			exact_block(s);
	}
	return 0;
bad:
	log_error("eval: COPY of embeddings: malformed row after %llu rows", s->rows);
	return RL_ERR;
}

/* Every chunk with its document, into e->cmap sorted by chunk id. */
static int chunk_map_fetch(struct eval *e, PGconn *c)
{
	PGresult *r = PQexec(c, "COPY (SELECT chunk_id, doc_id FROM chunks) TO STDOUT (FORMAT BINARY)");
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		log_error("eval: COPY of chunks: %s", PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	PQclear(r);
	int rc = 0, header = 0;
	size_t cap = 0;
	for (;;) {
		char *msg = NULL;
		int len = PQgetCopyData(c, &msg, 0);
		if (len == -1)
			break;
		if (len < 0) {
			log_error("eval: COPY of chunks: %s", PQerrorMessage(c));
			rc = RL_ERR;
			break;
		}
		const unsigned char *p = (const unsigned char *)msg;
		size_t n = (size_t)len, pos = 0;
		if (!rc && !header) {
			if (copy_header(p, n, &pos))
				rc = RL_ERR;
			header = 1;
		}
		while (!rc && pos + 2 <= n) {
			int16_t nf = pgcopy_get16(p + pos);
			if (nf == -1)
				break;
			if (nf != 2 || n - pos < 18 || pgcopy_get32(p + pos + 2) != 4 ||
			    pgcopy_get32(p + pos + 10) != 4) {
				rc = RL_ERR;
				break;
			}
			if (e->n_cmap == cap) {
				size_t nc = cap ? cap * 2 : 4096;
				struct chunk_doc *m = realloc(e->cmap, nc * sizeof(*m));
				if (!m) {
					rc = RL_ENOMEM;
					break;
				}
				e->cmap = m;
				cap = nc;
			}
			e->cmap[e->n_cmap++] = (struct chunk_doc){ pgcopy_get32(p + pos + 6),
								   pgcopy_get32(p + pos + 14) };
			pos += 18;
		}
		if (rc == RL_ERR && pos < n)
			log_error("eval: COPY of chunks: malformed row after %zu rows", e->n_cmap);
		PQfreemem(msg);  /* after an error keep draining, so the connection stays usable */
	}
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("eval: COPY of chunks: %s", PQresultErrorMessage(r));
			rc = RL_ERR;
		}
		PQclear(r);
	}
	if (!rc)
		qsort(e->cmap, e->n_cmap, sizeof(*e->cmap), chunk_doc_cmp);
	return rc;
}

/* The COPY, streamed block by block. */
static int scan_run(struct scan *s)
{
	char sql[256];
	int at = snprintf(sql, sizeof(sql), "COPY (SELECT chunk_id, embedding_vector FROM embeddings");
	if (s->lo)
		at += snprintf(sql + at, sizeof(sql) - (size_t)at, " WHERE ctid >= '(%llu,0)'", s->lo);
	if (s->hi)
		at += snprintf(sql + at, sizeof(sql) - (size_t)at, " %s ctid < '(%llu,0)'",
			       s->lo ? "AND" : "WHERE", s->hi);
	snprintf(sql + at, sizeof(sql) - (size_t)at, ") TO STDOUT (FORMAT BINARY)");
	PGresult *r = PQexec(s->conn, sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		log_error("eval: COPY of embeddings: %s", PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	PQclear(r);
	int rc = 0;
	for (;;) {
		char *msg = NULL;
		int len = PQgetCopyData(s->conn, &msg, 0);
		if (len == -1)
			break;
		if (len < 0) {
			log_error("eval: COPY of embeddings: %s", PQerrorMessage(s->conn));
			rc = RL_ERR;
			break;
		}
		if (!rc)
			rc = exact_message(s, (const unsigned char *)msg, (size_t)len);
		PQfreemem(msg);  /* after an error keep draining, so the connection stays usable */
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("eval: COPY of embeddings: %s", PQresultErrorMessage(r));
			rc = RL_ERR;
		}
		PQclear(r);
	}
	if (!rc)
		exact_block(s);
	return rc;
}

static int scan_init(struct scan *s, const struct eval *e, const struct scan_shared *sh,
		     PGconn *c, int part)
{
	size_t nq = e->nq;
	int d = e->dim;
	memset(s, 0, sizeof(*s));
	s->e = e;
	s->sh = sh;
	s->conn = c;
	s->cap = EVAL_BLOCK_ROWS;
	while (s->cap > 64 && s->cap * nq > EVAL_SCORE_FLOATS)
		s->cap /= 2;
	s->x = malloc(s->cap * d * sizeof(float));
	s->xn = malloc(s->cap * sizeof(double));
	s->chunk = malloc(s->cap * sizeof(int32_t));
	s->doc = malloc(s->cap * sizeof(int32_t));
	s->s = malloc(s->cap * nq * sizeof(float));
	s->ref = malloc(nq * (size_t)e->k * sizeof(struct hit));
	s->ref_n = calloc(nq, sizeof(int));
	s->ref_top = malloc(nq * sizeof(double));
	for (size_t q = 0; s->ref_top && q < nq; q++)
		s->ref_top[q] = INFINITY;
	if (e->kc > e->k) {
		s->rank = malloc(nq * 2 * (size_t)e->kc * sizeof(struct hit));
		s->rank_n = calloc(nq, sizeof(int));
		s->rank_top = malloc(nq * sizeof(float));
		for (size_t q = 0; s->rank_top && q < nq; q++)
			s->rank_top[q] = INFINITY;
	}
	s->gt_d = e->gt_d;
	if (part > 0 && e->gt_d) {  /* a copy of the unset distances, merged at the end */
		size_t n = e->nq * (size_t)e->gt_k;
		if (!(s->gt_own = malloc(n * sizeof(float))))
			return RL_ENOMEM;
		memcpy(s->gt_own, e->gt_d, n * sizeof(float));
		s->gt_d = s->gt_own;
	}
	if (!s->x || !s->xn || !s->chunk || !s->doc || !s->s || !s->ref || !s->ref_n ||
	    !s->ref_top || (e->kc > e->k && (!s->rank || !s->rank_n || !s->rank_top)))
		return RL_ENOMEM;
	return 0;
}

static void scan_release(struct scan *s)
{
	free(s->x);
	free(s->xn);
	free(s->chunk);
	free(s->doc);
	free(s->s);
	free(s->ref);
	free(s->ref_n);
	free(s->ref_top);
	free(s->rank);
	free(s->rank_n);
	free(s->rank_top);
	free(s->gt_own);
}

static void *scan_main(void *arg)
{
	struct scan *s = arg;
	s->rc = scan_run(s);
	return NULL;
}

/* Folds part b's neighbours, ground-truth distances and counts into part a. */
static void scan_merge(struct scan *a, struct scan *b)
{
	const struct eval *e = a->e;
	int k = e->k, kc = e->kc;
	for (size_t q = 0; q < e->nq; q++) {
		const struct hit *h = b->ref + q * k;
		for (int i = 0; i < b->ref_n[q]; i++)
			heap_offer(a->ref + q * k, &a->ref_n[q], k, h[i]);
		if (a->rank) {
			struct hit *ha = a->rank + q * 2 * kc, *hb = b->rank + q * 2 * kc;
			rank_cut(hb, &b->rank_n[q], &b->rank_top[q], kc);
			for (int i = 0; i < b->rank_n[q]; i++) {
				ha[a->rank_n[q]++] = hb[i];
				if (a->rank_n[q] == 2 * kc)
					rank_cut(ha, &a->rank_n[q], &a->rank_top[q], kc);
			}
		}
	}
	if (a->gt_d && b->gt_d)
		for (size_t i = 0, n = e->nq * (size_t)e->gt_k; i < n; i++)
			if (b->gt_d[i] <= b->gt_d[i] && !(a->gt_d[i] <= b->gt_d[i]))
				a->gt_d[i] = b->gt_d[i];  /* set in b, and unset or farther in a */
	a->rows += b->rows;
	a->zero_vectors += b->zero_vectors;
}

/* Ground-truth work: every (query, slot) of the file, grouped by document. */
static int exact_needs(const struct eval *e, struct need **need, size_t *n_need, uint8_t **mark)
{
	*need = NULL;
	*mark = NULL;
	*n_need = 0;
	if (!e->gt_kidx)
		return 0;
	size_t n = e->nq * (size_t)e->gt_k;
	*need = malloc(n * sizeof(**need));
	*mark = calloc(e->keys.n_keys ? e->keys.n_keys : 1, 1);
	if (!*need || !*mark)
		return RL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (e->gt_kidx[i] < 0)
			continue;
		(*need)[(*n_need)++] = (struct need){ (int32_t)e->gt_kidx[i], (uint32_t)i };
		(*mark)[e->gt_kidx[i]] = 1;
	}
	qsort(*need, *n_need, sizeof(**need), need_cmp);
	return 0;
}

/* The exact top-k (and the top-kc ranking) of every query, by one pass over every vector. */
static int exact_search(struct eval *e)
{
	int rc = RL_ENOMEM;
	size_t nq = e->nq;
	int d = e->dim, k = e->k, kc = e->kc;
	struct scan sc[EVAL_SCAN_PARTS];
	pthread_t th[EVAL_SCAN_PARTS];
	int started[EVAL_SCAN_PARTS] = { 0 }, parts = 1, in_tx = 0;
	struct scan_shared sh = { 0 };
	float *qs = NULL;
	double *qn = NULL;
	struct need *need = NULL;
	uint8_t *mark = NULL;
	PGresult *r = NULL;

	memset(sc, 0, sizeof(sc));
	if ((unsigned long long)nq * (k + 2 * kc) * sizeof(struct hit) > EVAL_HEAP_BYTES) {
		log_error("eval: %zu queries x %d neighbours exceed the memory limit: use "
			  "--max-queries", nq, kc);
		return RL_ELIMIT;
	}
	/* One part per core, each of at least EVAL_SCAN_PART_PAGES heap pages; its connection is
	 * opened before the clock starts, as the pool's are. */
	int ok = 0;
	int64_t pages = db_scalar_int(e->conn, "SELECT pg_relation_size('embeddings') / "
				      "current_setting('block_size')::int", 0, &ok);
	if (!ok)
		return RL_ERR;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	while (parts < EVAL_SCAN_PARTS && parts < ncpu && pages / (parts + 1) >= EVAL_SCAN_PART_PAGES)
		parts++;
	sc[0].conn = e->conn;
	for (int i = 1; i < parts; i++)
		if (!(sc[i].conn = db_connect(e->cfg->conninfo))) {
			rc = RL_ERR;
			goto out;
		}
	double t0 = now_seconds();
	qs = malloc(nq * d * sizeof(float));
	qn = malloc(nq * sizeof(double));
	e->exact = malloc(nq * (size_t)kc * sizeof(struct hit));
	e->exact_n = calloc(nq, sizeof(int));
	e->ref_ids = malloc(nq * k * sizeof(*e->ref_ids));
	e->ref_d = malloc(nq * k * sizeof(*e->ref_d));
	if (!qs || !qn || !e->exact || !e->exact_n || !e->ref_ids || !e->ref_d ||
	    exact_needs(e, &need, &sh.n_need, &mark))
		goto out;
	memcpy(qs, e->qvec, nq * d * sizeof(float));
	for (size_t q = 0; q < nq; q++) {
		float *v = qs + q * d;
		double n2 = 0;
		for (int i = 0; i < d; i++)
			n2 += (double)v[i] * v[i];
		if (e->dist == DIST_COSINE && n2 > 0) {
			double inv = 1.0 / sqrt(n2);
			n2 = 0;
			for (int i = 0; i < d; i++) {
				v[i] = (float)(v[i] * inv);
				n2 += (double)v[i] * v[i];
			}
		}
		qn[q] = n2;
	}
	sh.qs = qs;
	sh.qn = qn;
	sh.need = need;
	sh.need_mark = mark;

	/* One snapshot for the map and every part: a load committing meanwhile is seen by none. */
	rc = RL_ERR;
	if (db_exec(e->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
		goto out;
	in_tx = 1;
	if (parts > 1) {
		if (!(r = db_query(e->conn, "SELECT pg_export_snapshot()", 0, NULL)))
			goto out;
		char set[128];
		snprintf(set, sizeof(set), "SET TRANSACTION SNAPSHOT '%s'", PQgetvalue(r, 0, 0));
		for (int i = 1; i < parts; i++)
			if (db_exec(sc[i].conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") ||
			    db_exec(sc[i].conn, set))
				goto out;
	}
	if ((rc = chunk_map_fetch(e, e->conn)))
		goto out;
	for (int i = 0; i < parts; i++) {
		PGconn *c = sc[i].conn;
		if ((rc = scan_init(&sc[i], e, &sh, c, i)))
			goto out;
		/* the last part runs to the end: pages added since the count are not in the
		 * snapshot anyway */
		sc[i].lo = (unsigned long long)(pages * i / parts);
		sc[i].hi = i + 1 < parts ? (unsigned long long)(pages * (i + 1) / parts) : 0;
	}
	/* One BLAS thread per part: each part is bound by its fetch, every backend needs a core,
	 * and BLAS threads waiting for a busy core made each sgemm several times slower. */
	blas_set_threads(1);
	for (int i = 1; i < parts; i++)
		if (!(started[i] = pthread_create(&th[i], NULL, scan_main, &sc[i]) == 0))
			sc[i].rc = RL_ERR;
	sc[0].rc = scan_run(&sc[0]);
	rc = 0;
	for (int i = 0; i < parts; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		started[i] = 0;
		if (sc[i].rc && !rc)
			rc = sc[i].rc;
	}
	if (rc)
		goto out;
	for (int i = 1; i < parts; i++)
		scan_merge(&sc[0], &sc[i]);

	/* Nearest first: the ranking and the reference. */
	for (size_t q = 0; q < nq; q++) {
		struct hit *ref = sc[0].ref + q * k;
		int nr = sc[0].ref_n[q];
		qsort(ref, (size_t)nr, sizeof(*ref), hit_cmp);
		if (kc > k) {
			struct hit *h = sc[0].rank + q * 2 * kc, *out = e->exact + q * kc;
			rank_cut(h, &sc[0].rank_n[q], &sc[0].rank_top[q], kc);
			qsort(h, (size_t)sc[0].rank_n[q], sizeof(*h), hit_cmp);
			e->exact_n[q] = sc[0].rank_n[q];
			for (int i = 0; i < e->exact_n[q]; i++) {
				out[i] = h[i];
				if (e->dist == DIST_L2)  /* the rank buffer holds squared distances */
					out[i].d = h[i].d > 0 ? sqrtf(h[i].d) : 0;
			}
		} else {
			memcpy(e->exact + q * kc, ref, (size_t)nr * sizeof(*ref));
			e->exact_n[q] = nr;
		}
		for (int i = 0; i < k; i++) {
			/* fewer than k only when zero vectors were skipped: pad with no-ids */
			e->ref_ids[q * k + i] = i < nr ? ref[i].chunk : -1 - i;
			e->ref_d[q * k + i] = i < nr ? ref[i].d : NAN;
		}
	}
	e->zero_vectors = sc[0].zero_vectors;
	e->exact_seconds = now_seconds() - t0;
	if (e->zero_vectors)
		log_warn("eval: %lld zero vectors skipped (cosine distance is undefined for them)",
			 e->zero_vectors);
	log_info("eval: exact top-%d of %zu queries over %llu vectors in %.3f s (%d connection%s)",
		 kc, nq, sc[0].rows, e->exact_seconds, parts, parts == 1 ? "" : "s");
out:
	PQclear(r);
	for (int i = 0; i < parts; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		if (in_tx && sc[i].conn && PQstatus(sc[i].conn) == CONNECTION_OK)
			db_exec(sc[i].conn, rc ? "ROLLBACK" : "COMMIT");
		if (i > 0 && sc[i].conn)
			PQfinish(sc[i].conn);
		scan_release(&sc[i]);
	}
	free(qs);
	free(qn);
	free(need);
	free(mark);
	return rc;
}

/* ragload's exact top-k documents of each query against the file, up to ties: a file id
 * matches when it is among ours or its distance ties our k-th (metric_ann_recall's rule). */
static int truth_check(struct eval *e)
{
	int k = e->gt_k;
	int64_t *ours = malloc((size_t)e->kc * sizeof(*ours));
	float *our_d = malloc((size_t)e->kc * sizeof(*our_d));
	if (!ours || !our_d) {
		free(ours);
		free(our_d);
		return RL_ENOMEM;
	}
	for (size_t q = 0; q < e->nq; q++) {
		if (e->qord[q] >= e->gt_rows)
			continue;
		const struct hit *h = e->exact + q * e->kc;
		int n = 0;
		for (int i = 0; i < e->exact_n[q] && n < k; i++) {  /* documents by their best chunk */
			int64_t kx = doc_kidx(&e->keys, h[i].doc);
			int seen = 0;
			for (int j = 0; j < n && !seen; j++)
				seen = ours[j] == kx;
			if (!seen) {
				ours[n] = kx;
				our_d[n++] = h[i].d;
			}
		}
		e->gt_checked++;
		if (n < k)
			continue;  /* the corpus has fewer than k documents within reach: disagrees */
		double rec = metric_ann_recall(e->gt_kidx + q * k, e->gt_d + q * k, k, ours, our_d, k,
					       -1);
		if (rec >= 1.0 - 1e-12)
			e->gt_agree++;
	}
	free(ours);
	free(our_d);
	e->gt_agreement = e->gt_checked ? (double)e->gt_agree / (double)e->gt_checked : NAN;
	char msg[PATH_MAX + 128];
	snprintf(msg, sizeof(msg), "eval: ground truth %s: ragload's exact top-%d agrees on %zu of "
		 "%zu queries (up to ties)", e->a->ground_truth, k, e->gt_agree, e->gt_checked);
	if (e->gt_agree < e->gt_checked)
		log_warn("%s", msg);  /* a different metric, corpus or file order: worth a look */
	else
		log_info("%s", msg);
	return 0;
}

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
		int32_t kx = doc_kidx(&e->keys, docs[i]);
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

struct pass {
	/* per connection before its first query (BEGIN + SET LOCAL, temporary tables...) */
	int (*setup)(const struct eval *e, PGconn *c, const void *arg);
	/* one query: the document ids of its chunks, best first; returns the count or < 0 */
	int (*query)(const struct eval *e, PGconn *c, size_t q, const void *arg, int32_t *chunk_docs);
	/* per connection at the end, whatever happened */
	void (*teardown)(const struct eval *e, PGconn *c, int failed);
	const void *arg;
	int32_t *docs;          /* out: nq x EVAL_DOCS document rankings (key indexes) */
	int *n_docs;            /* out: nq */
};

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

static int pass_run(const struct eval *e, const struct pass *p)
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
static int quality_score(struct eval *e, const int32_t *docs, const int *n_docs, const char *tag,
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
static int quality_exact(struct eval *e)
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

static int fts_query(const struct eval *e, PGconn *c, size_t q, const void *arg,
		     int32_t *chunk_docs)
{
	(void)arg;
	const char *params[2] = { e->qtext[q], e->chunks_str };
	PGresult *r = PQexecPrepared(c, "fts", 2, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("eval: full-text query %s: %s", e->qid[q], PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
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
static int quality_fts(struct eval *e)
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
	if ((rc = pass_run(e, &p)))
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

/* Reciprocal rank fusion of the exact dense and the full-text document rankings. */
static int quality_hybrid(struct eval *e)
{
	int rc = 0;
	struct qacc acc;
	qacc_init(&acc, "hybrid");
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
	int frc = qacc_finish(e, &acc, "hybrid", setting);
	return rc ? rc : frc;
}

/* ---- ANN ---------------------------------------------------------------------------------- */

/* The statement every ANN measurement runs: the index orders embeddings (in a subquery, so the
 * join cannot hide the ORDER BY ... LIMIT from the index), then the chunks are joined. */
static int conn_prepare(const struct eval *e, PGconn *c)
{
	char sql[768];
	/* A generic plan would price LIMIT $2 blind and may pick a sequential scan; a custom plan
	 * per execution is what EXPLAIN EXECUTE shows, so the proven plan is the measured one. */
	if (db_exec(c, "SET plan_cache_mode = force_custom_plan"))
		return RL_ERR;
	snprintf(sql, sizeof(sql),
		 "SELECT e.chunk_id, c.doc_id, e.d FROM (SELECT chunk_id, embedding_vector %s "
		 "$1::vector AS d FROM embeddings ORDER BY embedding_vector %s $1::vector LIMIT $2) e "
		 "JOIN chunks c USING (chunk_id) ORDER BY e.d, e.chunk_id", e->op, e->op);
	PGresult *r = PQprepare(c, "ann", sql, 2, NULL);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : RL_ERR;
	if (rc)
		log_error("eval: preparing the ANN query: %s", PQresultErrorMessage(r));
	PQclear(r);
	if (rc)
		return rc;
	/* The quality pass asks for hundreds of rows; joined to chunks that is priced as a hash
	 * join over the whole table, so it maps chunks to documents on the client instead. */
	snprintf(sql, sizeof(sql),
		 "SELECT chunk_id, embedding_vector %s $1::vector AS d FROM embeddings "
		 "ORDER BY embedding_vector %s $1::vector LIMIT $2", e->op, e->op);
	r = PQprepare(c, "annq", sql, 2, NULL);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : RL_ERR;
	if (rc)
		log_error("eval: preparing the ANN quality query: %s", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

/* The vector indexes on embeddings, with their build settings. */
static int ann_indexes(struct eval *e, struct vindex *ix, int *n_ix)
{
	PGresult *r = db_query(e->conn,
		"SELECT c.relname, am.amname, coalesce(ri.params::text, ''), ri.build_seconds, "
		"pg_relation_size(c.oid), coalesce(array_to_string(c.reloptions, ','), '') "
		"FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
		"JOIN pg_am am ON am.oid = c.relam "
		"LEFT JOIN ragload_indexes ri ON ri.index_name = c.relname "
		"WHERE i.indrelid = 'embeddings'::regclass AND i.indisvalid "
		"AND am.amname IN ('hnsw', 'ivfflat') ORDER BY am.amname, c.relname", 0, NULL);
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
			snprintf(v->tag, sizeof(v->tag), "hnsw_m%d_efc%d", m, efc);
		} else {
			snprintf(v->build_json, sizeof(v->build_json), "{\"lists\":%d}", v->lists);
			snprintf(v->tag, sizeof(v->tag), "ivfflat_lists%d", v->lists);
		}
	}
	PQclear(r);
	*n_ix = n;
	return 0;
}

/* The search settings of one index: the SET LOCALs that select it and steer the planner off
 * the other kind, e.g. ivfflat.probes = lists makes IVFFlat cost like a full scan. */
static int ann_settings(struct eval *e, const struct vindex *ix, const struct vindex *all, int n_all,
			struct setting *out, int *n_out)
{
	int vals[EVAL_MAX_SETTINGS], n;
	int hnsw = !strcmp(ix->kind, "hnsw");
	if (hnsw) {
		n = e->a->n_ef_search;
		memcpy(vals, e->a->ef_search, sizeof(vals));
	} else if (e->a->n_probes) {
		n = e->a->n_probes;
		memcpy(vals, e->a->probes, sizeof(vals));
	} else {
		n = 0;
		for (int p = 1; n == 0 || (p <= ix->lists / 4 && n < EVAL_MAX_SETTINGS); p *= 2)
			vals[n++] = p;
	}
	int other_lists = 0, other_hnsw = 0;
	for (int i = 0; i < n_all; i++) {
		if (!strcmp(all[i].kind, "ivfflat") && all[i].lists > other_lists)
			other_lists = all[i].lists;
		other_hnsw |= !strcmp(all[i].kind, "hnsw");
	}
	int iter_row = hnsw && e->iter_scan;
	int m = 0;
	for (int i = 0; i < n + iter_row && m < EVAL_MAX_SETTINGS + 1; i++) {
		struct setting *s = &out[m++];
		memset(s, 0, sizeof(*s));
		s->ix = ix;
		s->iterative = i == n;
		s->value = s->iterative ? EVAL_ITER_EF : vals[i];
		int len;
		if (hnsw) {
			len = snprintf(s->sets, sizeof(s->sets), "SET LOCAL hnsw.ef_search = %d; ",
				       s->value);
			if (other_lists)
				len += snprintf(s->sets + len, sizeof(s->sets) - len,
						"SET LOCAL ivfflat.probes = %d; ", other_lists);
			snprintf(s->search_json, sizeof(s->search_json), s->iterative ?
				 "{\"ef_search\":%d,\"iterative_scan\":\"relaxed_order\"}" :
				 "{\"ef_search\":%d}", s->value);
			snprintf(s->tag, sizeof(s->tag), "%s_ef%d%s", ix->tag, s->value,
				 s->iterative ? "_relaxed" : "");
		} else {
			len = snprintf(s->sets, sizeof(s->sets), "SET LOCAL ivfflat.probes = %d; ",
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
				 s->iterative ? "relaxed_order" : "off");
	}
	*n_out = m;
	return 0;
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

/* Runs query q through "ann"; fills ids/dists (up to max) and doc ids (may be NULL).
 * Returns the row count or negative. *ms gets the latency around the execution only. */
static int ann_query(const struct eval *e, PGconn *c, size_t q, const char *limit, int64_t *ids,
		     float *dists, int32_t *docs, int max, double *ms)
{
	const char *params[2] = { e->qlit[q], limit };
	double t0 = now_seconds();
	PGresult *r = PQexecPrepared(c, "ann", 2, params, NULL, NULL, 0);
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
	const char *sets;
	int t, n;
	struct gate *gate;
	double end;
	int rc;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct eval *e = w->e;
	w->rc = begin_with(w->conn, w->sets);
	pthread_mutex_lock(&w->gate->mu);
	w->gate->ready++;
	pthread_cond_broadcast(&w->gate->cv);
	while (!w->gate->go)
		pthread_cond_wait(&w->gate->cv, &w->gate->mu);
	pthread_mutex_unlock(&w->gate->mu);
	for (size_t q = (size_t)w->t; q < e->nq && !w->rc; q += (size_t)w->n)
		if (ann_query(e, w->conn, q, e->kstr, NULL, NULL, NULL, 0, NULL) < 0)
			w->rc = RL_ERR;
	w->end = now_seconds();
	db_exec(w->conn, w->rc ? "ROLLBACK" : "COMMIT");
	return NULL;
}

/* QPS with every pool connection busy: queries split round robin, total / wall time. */
static double ann_qps_n(struct eval *e, const struct setting *s)
{
	struct pool *p = &e->pool;
	struct worker w[RL_ARRAY_LEN(p->c)];
	pthread_t th[RL_ARRAY_LEN(p->c)];
	struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	int started = 0;
	for (int i = 0; i < p->n; i++) {
		w[i] = (struct worker){ .e = e, .conn = p->c[i], .sets = s->sets, .t = i, .n = p->n,
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

/* Prepares the main connection and opens the extra ones (connecting is part of no figure). */
static int pool_open(struct eval *e)
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
	const char *params[2] = { e->qlit[q], a->limit };
	PGresult *r = PQexecPrepared(c, "annq", 2, params, NULL, NULL, 0);
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
		h[i].doc = chunk_doc(e, h[i].chunk);
	}
	PQclear(r);
	/* relaxed_order returns rows only roughly in order: sort them by distance, as pgvector's
	 * documentation does with a materialised CTE */
	if (a->s->iterative)
		qsort(h, (size_t)n, sizeof(*h), hit_cmp);
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
	int capped = !strcmp(s->ix->kind, "hnsw") && !s->iterative && s->value < e->ann_chunks;
	snprintf(arg.limit, sizeof(arg.limit), "%d", capped ? s->value : e->ann_chunks);
	int rc = annq_setup(e, e->conn, &arg);
	if (!rc)
		rc = plan_of(e, e->conn, "annq", arg.limit, plan, sizeof(plan));
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
			 s->search_json, s->value);
	else
		snprintf(setting, sizeof(setting), "%s", s->search_json);
	struct pass p = { annq_setup, annq_query, annq_teardown, &arg, docs, n_docs };
	if ((rc = pass_run(e, &p)))
		return rc;
	return quality_score(e, docs, n_docs, s->tag, s->ix->kind, setting);
}

/* Scratch of the ANN passes: per query up to k results of the timed pass. */
struct ann_scratch {
	int64_t *ids;           /* nq x k */
	float *dists;           /* nq x k */
	int *n;                 /* nq */
	double *lat;            /* nq, ms */
	int32_t *docs;          /* nq x EVAL_DOCS rankings of the quality pass */
	int *n_docs;            /* nq */
};

/* One setting: plan proof, timed pass (latency, recall@k, QPS on 1), N connections, quality. */
static int ann_setting(struct eval *e, const struct setting *s, struct ann_scratch *x)
{
	char plan[128];
	struct report_ann *row = NULL;
	int rc = begin_with(e->conn, s->sets);
	if (!rc)
		rc = plan_of(e, e->conn, "ann", e->kstr, plan, sizeof(plan));
	if (rc)
		goto out;
	plan_note(e, s, "timed", plan);
	int flagged = strcmp(plan, s->ix->name) != 0;
	if (flagged)
		log_warn("eval: %s %s: the plan reads embeddings by %s, not %s: flagged, not "
			 "reported as ANN", s->ix->kind, s->search_json, plan, s->ix->name);
	double t0 = now_seconds();
	for (size_t q = 0; q < e->nq; q++) {
		size_t o = q * (size_t)e->k;
		x->n[q] = ann_query(e, e->conn, q, e->kstr, x->ids + o, x->dists + o, NULL, e->k,
				    &x->lat[q]);
		if (x->n[q] < 0) {
			rc = x->n[q];
			goto out;
		}
	}
	double wall = now_seconds() - t0;
	if ((rc = db_exec(e->conn, "COMMIT")))
		goto out;
	double recall = 0;
	for (size_t q = 0; q < e->nq; q++) {
		size_t o = q * (size_t)e->k;
		recall += metric_ann_recall(x->ids + o, x->dists + o, x->n[q], e->ref_ids + o,
					    e->ref_d + o, e->k, -1);
	}

	if (e->n_ann == EVAL_MAX_ROWS) {
		rc = RL_ELIMIT;
		goto out;
	}
	row = &e->ann[e->n_ann++];
	memset(row, 0, sizeof(*row));
	snprintf(row->index, sizeof(row->index), "%s", s->ix->kind);
	snprintf(row->build_json, sizeof(row->build_json), "%s", s->ix->build_json);
	snprintf(row->search_json, sizeof(row->search_json), "%s", s->search_json);
	row->build_s = s->ix->build_s;
	row->index_bytes = s->ix->bytes;
	row->recall10 = recall / (double)e->nq;
	row->p50_ms = metric_percentile(x->lat, e->nq, 50);
	row->p95_ms = metric_percentile(x->lat, e->nq, 95);
	row->p99_ms = metric_percentile(x->lat, e->nq, 99);
	row->qps_1 = (double)e->nq / wall;
	row->qps_n = NAN;
	row->n_conn = 1;
	row->seqscan = flagged;
	if (!flagged && e->pool.n > 1) {
		row->qps_n = ann_qps_n(e, s);
		row->n_conn = e->pool.n;
	}
	char qn[32] = "";
	if (isfinite(row->qps_n))
		snprintf(qn, sizeof(qn), ", %.0f on %d", row->qps_n, row->n_conn);
	log_info("eval: %-7s %-52s recall@%d %.4f  p50 %.2f ms  p99 %.2f ms  QPS %.0f%s%s",
		 s->ix->kind, s->search_json, e->k, row->recall10, row->p50_ms, row->p99_ms,
		 row->qps_1, qn, flagged ? "  (not the index: flagged)" : "");
	if (!flagged && e->quality_on)
		return ann_quality(e, s, x->docs, x->n_docs);
	return 0;
out:
	db_exec_quiet(e->conn, "ROLLBACK", NULL, 0);
	return rc;
}

/* Every vector index, every setting. */
static int ann_measure(struct eval *e)
{
	struct vindex ix[EVAL_MAX_INDEXES];
	struct setting set[EVAL_MAX_SETTINGS + 1];
	int n_ix = 0, n_set, rc;
	struct ann_scratch x;
	x.ids = malloc(e->nq * (size_t)e->k * sizeof(*x.ids));
	x.dists = malloc(e->nq * (size_t)e->k * sizeof(*x.dists));
	x.n = malloc(e->nq * sizeof(*x.n));
	x.lat = malloc(e->nq * sizeof(*x.lat));
	x.docs = malloc(e->nq * EVAL_DOCS * sizeof(*x.docs));
	x.n_docs = malloc(e->nq * sizeof(*x.n_docs));
	rc = !x.ids || !x.dists || !x.n || !x.lat || !x.docs || !x.n_docs ? RL_ENOMEM : 0;
	if (!rc)
		rc = ann_indexes(e, ix, &n_ix);
	if (rc || n_ix == 0) {
		if (!rc)
			log_info("eval: no HNSW or IVFFlat index on embeddings: exact, fts and hybrid "
				 "only (run `ragload index` for ANN figures)");
		goto out;
	}
	for (int i = 0; i < n_ix && !rc; i++) {
		if ((rc = ann_settings(e, &ix[i], ix, n_ix, set, &n_set)))
			break;
		/* Warm-up, untimed: the first pass over an index would measure the disk. */
		if ((rc = begin_with(e->conn, set[0].sets)))
			break;
		for (size_t q = 0; q < e->nq && q < EVAL_WARMUP && !rc; q++)
			if (ann_query(e, e->conn, q, e->kstr, NULL, NULL, NULL, 0, NULL) < 0)
				rc = RL_ERR;
		db_exec(e->conn, rc ? "ROLLBACK" : "COMMIT");
		for (int j = 0; j < n_set && !rc; j++)
			rc = ann_setting(e, &set[j], &x);
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

/* ---- report --------------------------------------------------------------------------------- */

static int report_emit(struct eval *e, int *regressed)
{
	const struct eval_args *a = e->a;
	json_t *st = json_pack("{s:i, s:i, s:i, s:s}", "connections", a->connections,
			       "exact_chunks_per_query", e->kc, "docs_per_ranking", EVAL_DOCS,
			       "fts_config", a->fts_config);
	if (!st)
		return RL_ENOMEM;
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
	for (int ef = 10; ef <= 320; ef *= 2)
		a->ef_search[a->n_ef_search++] = ef;
	a->fts_config = "english";
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
	if (pool_open(&e) || exact_search(&e) || (a->ground_truth && truth_check(&e)))
		goto out;
	if (e.quality_on && (quality_exact(&e) ||
			     (e.qtext && (quality_fts(&e) || quality_hybrid(&e)))))
		goto out;
	if (ann_measure(&e) || run_file_close(&e) || report_emit(&e, &regressed))
		goto out;
	rc = 0;
out:
	*sum = (struct eval_summary){e.nq, e.n_quality, e.n_ann, regressed};
	eval_release(&e);
	return rc;
}
