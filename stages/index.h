/*
 * index.h — `ragload index`: pgvector HNSW and IVFFlat indexes (and the full-text index used
 * by eval) built after loading, with settings tuned for the build.
 */
#ifndef RAGLOAD_INDEX_H
#define RAGLOAD_INDEX_H

#include "../lib/common.h"
#include "../lib/config.h"

struct index_args {
	const char *distance;     /* cosine | l2 | ip; NULL = the corpus's */
	int m;                    /* HNSW m (16) */
	int ef_construction;      /* HNSW ef_construction (64) */
	int lists;                /* IVFFlat lists; 0 = rows/1000 (>= 10), sqrt(rows) above 1M */
	const char *only;         /* hnsw | ivfflat | fts | NULL = all three */
	const char *fts_config;   /* text search configuration of the full-text index (english) */
};

void index_args_defaults(struct index_args *a);
/* Returns an exit status. */
int index_run(const struct rl_config *cfg, const struct index_args *a);

/* Index names, shared with eval. */
#define INDEX_HNSW_NAME "embeddings_hnsw_idx"
#define INDEX_IVFFLAT_NAME "embeddings_ivfflat_idx"
#define INDEX_FTS_NAME "chunks_fts_idx"

/* The pgvector operator class and distance operator for a distance name (NULL if unknown). */
const char *index_opclass(const char *distance);
const char *index_operator(const char *distance);
/* IVFFlat lists for a row count, as documented above. */
int index_default_lists(long long rows);
/* maintenance_work_mem in kB that holds an HNSW graph of rows x dim with m. */
long long index_hnsw_memory_kb(long long rows, int dim, int m);

#endif
