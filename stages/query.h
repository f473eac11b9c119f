/*
 * query.h — the query path: a query normalised as corpus text was, embedded alone with the
 * corpus's model, written as a pgvector literal; and the full-text query. `ragload search`,
 * `ragload eval`, `ragload embed` and libragload all go through here, so a query gives the
 * same vector, literal, full-text matches and BM25 terms wherever it is asked.
 */
#ifndef RAGLOAD_QUERY_H
#define RAGLOAD_QUERY_H

#include "../lib/common.h"
#include "../models/model.h"

#include <stdint.h>

/* A query's text as corpus text is normalised (normalize_utf8: invalid UTF-8 repaired and
 * counted in *bad, controls dropped, NFC), into norm (reset first; the caller sets its
 * limit). Returns 0 or negative. */
int query_normalise(const char *text, size_t len, struct buf *norm, size_t *bad);
/* A normalised query's vector: embedded alone (see query_embed) into out. Returns 0 or
 * negative. Thread-safe. */
int query_vector(const struct model *m, const char *norm, size_t len, float *out);
/*
 * query_embed — query_normalise + query_vector: normalises text (normalize_utf8: invalid UTF-8 repaired and counted in *bad,
 * controls dropped, NFC) into norm (reset first; the caller sets its limit) and embeds it
 * alone into out (model_dim(m) floats). Alone, because BLAS picks kernels by matrix shape: a
 * text embedded inside a batch can differ in the last bits from the same text embedded alone,
 * and a query must get one vector whoever asks. Returns 0 or negative. Thread-safe.
 */
int query_embed(const struct model *m, const char *text, size_t len, struct buf *norm,
		size_t *bad, float *out);

/*
 * query_literal — v as a pgvector literal "[x,y,...]" with %.9g, which reads back to the same
 * float32, into buf (as snprintf: what fits, always terminated when n > 0). Returns the length
 * the whole literal needs, or RL_ERR.
 */
int query_literal(const float *v, int dim, char *buf, size_t n);
/* The same literal appended to out. Returns 0 or negative. */
int query_literal_buf(const float *v, int dim, struct buf *out);

/*
 * query_fts_sql — the full-text query, appended to sql: CTEs q (the OR of the lexemes of
 * parameter $1 under configuration cfg_literal, an escaped SQL literal: plainto_tsquery's AND
 * finds almost nothing for a sentence-long query) and m(chunk_id, doc_id, r) (every row of
 * table that matches, ranked by ts_rank), for the caller to select from. tsv_column names
 * table's tsvector column; NULL computes chunks_fts_idx's expression over chunk_text, so that
 * index finds the matches. Returns 0 or negative.
 */
int query_fts_sql(struct buf *sql, const char *cfg_literal, const char *table,
		  const char *tsv_column);

/*
 * query_terms — a normalised query's BM25 terms: the hashes of its stems (models/stems.h, the
 * words the built-in model sees: stop words skipped, Snowball English), as int64 (the uint64
 * cast, as PostgreSQL's bigint stores them), in text order, repeats kept (a term given twice
 * counts twice in ragload_bm25()). *terms is malloc'ed (the caller frees it; NULL when *n is
 * 0). Returns 0 or negative. Thread-safe.
 */
int query_terms(const char *norm, size_t len, int64_t **terms, size_t *n);
/* terms as a PostgreSQL bigint[] literal "{1,-2,...}" appended to out (the parameter of
 * ragload_bm25() and ragload_hybrid()). Returns 0 or negative. */
int query_terms_literal(const int64_t *terms, size_t n, struct buf *out);

#endif
