/*
 * search.h — `ragload search "query"`: the query embedded with the corpus's own model and
 * searched through the index (dense), PostgreSQL full-text search (fts), or both fused (hybrid).
 */
#ifndef RAGLOAD_SEARCH_H
#define RAGLOAD_SEARCH_H

#include "../lib/config.h"

struct search_args {
	const char *query;
	int k;                 /* results, default 10 */
	const char *method;    /* dense | fts | hybrid (default dense) */
	int json;              /* JSON output with chunk and document ids */
	const char *fts_config;
	int all_chunks;        /* every chunk; default: each document once, by its best chunk */
};

/* Prints results on stdout. Returns an exit status. */
int search_run(const struct rl_config *cfg, const struct search_args *a);

#endif
