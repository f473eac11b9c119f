/*
 * core.h — the extension's C core without PostgreSQL: one query's text in, its vector (with
 * its %.9g literal) and its BM25 terms out, down the CLI's query path (stages/query.h). The
 * fmgr/SPI glue (ragload.c) calls it; the fuzz target tests/fuzz/fuzz_extension.c drives it
 * alone, with a loaded model and with model bytes as stored.
 */
#ifndef RAGLOAD_EXT_CORE_H
#define RAGLOAD_EXT_CORE_H

#include "../models/model.h"

#include <stdint.h>

/* A query's normalised text, at most (as `ragload embed` allows one text) */
#define EXT_QUERY_TEXT_MAX (64u << 20)

/* Bytes the literal of a dim-dimensional vector needs at most (query_literal). */
#define EXT_LITERAL_MAX(dim) (16 * (size_t)(dim) + 3)

/*
 * ext_query — text (UTF-8, len bytes, need not be valid) normalised as the CLI normalises a
 * query, then: when v is not NULL, embedded with m into v (model_dim(m) floats) and written as
 * a pgvector literal into lit (EXT_LITERAL_MAX(dim) bytes); when terms is not NULL, its BM25
 * terms into *terms (malloc'ed, the caller frees; NULL when *n is 0). Allocates nothing else
 * that outlives the call. Returns 0, RL_ELIMIT (text over EXT_QUERY_TEXT_MAX once
 * normalised), RL_ENOMEM or RL_ERR.
 */
int ext_query(const struct model *m, const char *text, size_t len, float *v, char *lit,
	      int64_t **terms, size_t *n);

#endif
