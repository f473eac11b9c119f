/*
 * reindex.h — `ragload reindex`: a new generation of chunks, embeddings and indexes built in
 * shadow tables while the live ones keep serving, verified, then swapped in with one short
 * transaction; `--rollback` swaps the previous generation back.
 */
#ifndef RAGLOAD_REINDEX_H
#define RAGLOAD_REINDEX_H

#include "../lib/config.h"
#include "../stages/index.h"

struct reindex_args {
	const char *model_file;   /* embed with this model file */
	int refit;                /* fit a new model on the stored text */
	int tokens, overlap;      /* new chunk settings; 0 / -1 = keep the live ones */
	int index_given;          /* index settings were given: rebuild with them */
	struct index_args index;  /* HNSW / IVFFlat settings */
	int rollback;             /* swap the previous generation back */
};

/* Returns an exit status. */
int reindex_run(const struct rl_config *cfg, const struct reindex_args *a);

#endif
