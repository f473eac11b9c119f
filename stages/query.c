/*
 * query.c — the query path (stages/query.h): normalise, embed alone, literal; the full-text
 * query's SQL; the BM25 terms (models/stems.h).
 */
#include "query.h"
#include "normalize.h"
#include "../models/stems.h"

#include <stdlib.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int query_normalise(const char *text, size_t len, struct buf *norm, size_t *bad)
{
	buf_reset(norm);
	return normalize_utf8(text ? text : "", text ? len : 0, norm, bad);
}

int query_vector(const struct model *m, const char *norm, size_t len, float *out)
{
	const char *t = norm && len ? norm : "";
	return model_embed(m, &t, &len, 1, out);
}

int query_embed(const struct model *m, const char *text, size_t len, struct buf *norm,
		size_t *bad, float *out)
{
	int rc = query_normalise(text, len, norm, bad);
	return rc ? rc : query_vector(m, norm->data, norm->len, out);
}

int query_literal(const float *v, int dim, char *buf, size_t buflen)
{
	size_t at = 0;
	char tmp[32];
	if (dim < 1 || !v)
		return RL_ERR;
	for (int i = -1; i <= dim; i++) {
		int n;
		if (i < 0)
			n = snprintf(tmp, sizeof(tmp), "[");
		else if (i == dim)
			n = snprintf(tmp, sizeof(tmp), "]");
		else
			n = snprintf(tmp, sizeof(tmp), "%s%.9g", i ? "," : "", (double)v[i]);
		/* as snprintf: copy what fits, count everything */
		if (buflen && at < buflen - 1) {
			size_t room = buflen - 1 - at;
			memcpy(buf + at, tmp, (size_t)n < room ? (size_t)n : room);
		}
		at += (size_t)n;
	}
	if (buflen)
		buf[at < buflen ? at : buflen - 1] = '\0';
	return at > (size_t)INT32_MAX ? RL_ERR : (int)at;
}

int query_literal_buf(const float *v, int dim, struct buf *out)
{
	/* at most 15 bytes a float with %.9g, its comma, the brackets */
	int rc = buf_reserve(out, 16 * (size_t)(dim > 0 ? dim : 1) + 3);
	if (rc)
		return rc;
	int n = query_literal(v, dim, out->data + out->len, out->cap - out->len);
	if (n < 0 || (size_t)n >= out->cap - out->len)
		return RL_ERR;
	out->len += (size_t)n;
	return 0;
}

int query_fts_sql(struct buf *sql, const char *cfg_literal, const char *table,
		  const char *tsv_column)
{
	char tsv[160];
	if (tsv_column)
		snprintf(tsv, sizeof(tsv), "x.%s", tsv_column);
	else
		snprintf(tsv, sizeof(tsv), "to_tsvector(%s::regconfig, x.chunk_text)", cfg_literal);
	return buf_printf(sql,
		"WITH q AS (SELECT to_tsquery(%s::regconfig, coalesce((SELECT string_agg("
		"quote_literal(lexeme), ' | ') FROM unnest(to_tsvector(%s::regconfig, $1))), '')) "
		"AS q), m AS (SELECT x.chunk_id, x.doc_id, ts_rank(%s, q.q) AS r FROM %s x, q "
		"WHERE %s @@ q.q) ", cfg_literal, cfg_literal, tsv, table, tsv);
}

#define QUERY_TERMS_MAX (1u << 24)   /* terms of one query (a 64 MB text has fewer) */

struct term_list {
	int64_t *v;
	size_t n, cap;
	int oom;
};

static void term_add(void *ctx, uint64_t stem)
{
	struct term_list *t = ctx;
	if (t->oom)
		return;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		int64_t *v = cap <= QUERY_TERMS_MAX ? realloc(t->v, cap * sizeof(*v)) : NULL;
		if (!v) {
			t->oom = 1;
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (int64_t)stem;
}

int query_terms(const char *norm, size_t len, int64_t **terms, size_t *n)
{
	struct term_list t = {0};
	struct stems *s = stems_new();
	int rc = s ? 0 : RL_ENOMEM;
	*terms = NULL;
	*n = 0;
	if (!rc && norm && len)
		rc = stems_each(s, norm, len, term_add, &t);
	stems_free(s);
	if (!rc && t.oom)
		rc = RL_ENOMEM;
	if (rc || !t.n) {
		free(t.v);
		return rc;
	}
	*terms = t.v;
	*n = t.n;
	return 0;
}

int query_terms_literal(const int64_t *terms, size_t n, struct buf *out)
{
	int rc = buf_putc(out, '{');
	for (size_t i = 0; i < n && !rc; i++)
		rc = buf_printf(out, "%s%lld", i ? "," : "", (long long)terms[i]);
	return rc ? rc : buf_putc(out, '}');
}
