/*
 * evaluate_queries.c — the evaluation's queries: qrels first (only judged queries are read),
 * then BEIR queries.jsonl, each down the query path (stages/query.h) as `ragload search` takes
 * it, or .fvecs vectors; an .ivecs ground truth mapped to document keys. Vector files are read
 * through lib/vecfile.c, the reader the fuzzer checks.
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

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
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
int queries_load(struct eval *e)
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
int truth_load(struct eval *e)
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
			int32_t kx = eval_key_kidx(&e->keys, key);
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
