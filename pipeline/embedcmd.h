/*
 * embedcmd.h — `ragload embed`: texts on stdin (one per line, or JSON lines with --jsonl)
 * embedded under the corpus's model, written as pgvector literals or JSON, so that a chatbot
 * backend in any language can embed a question exactly as the corpus was embedded.
 */
#ifndef RAGLOAD_EMBEDCMD_H
#define RAGLOAD_EMBEDCMD_H

#include "../lib/config.h"

struct embedcmd_args {
	int jsonl;      /* input lines are JSON objects with a "text" field (or JSON strings) */
	int json;       /* output JSON lines {"model": ..., "embedding": [...]} instead of literals */
	const char *model_spec;  /* --model FILE or glove:FILE instead of the corpus's model */
	int terms;      /* print BM25 terms (query_terms) as bigint[] literals; no model read */
};

/* Returns an exit status. */
int embedcmd_run(const struct rl_config *cfg, const struct embedcmd_args *a);

#endif
