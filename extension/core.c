/*
 * core.c — the extension's C core (core.h): the query path of stages/query.h, in the order
 * `ragload embed` and `ragload search` run it, with nothing of PostgreSQL.
 */
#include "core.h"
#include "../stages/query.h"

#include <stdlib.h>

int ext_query(const struct model *m, const char *text, size_t len, float *v, char *lit,
	      int64_t **terms, size_t *n)
{
	struct buf norm;
	size_t bad;
	int rc;

	if (terms) {
		*terms = NULL;
		*n = 0;
	}
	if (len > EXT_QUERY_TEXT_MAX)
		return RL_ELIMIT;
	buf_init(&norm, EXT_QUERY_TEXT_MAX);
	rc = query_normalise(text, len, &norm, &bad);
	if (!rc && v) {
		int dim = model_dim(m);
		rc = query_vector(m, norm.data, norm.len, v);
		if (!rc && query_literal(v, dim, lit, EXT_LITERAL_MAX(dim)) >=
			       (int)EXT_LITERAL_MAX(dim))
			rc = RL_ERR;
	}
	if (!rc && terms)
		rc = query_terms(norm.data, norm.len, terms, n);
	buf_release(&norm);
	return rc;
}
