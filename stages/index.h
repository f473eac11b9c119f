/*
 * index.h — the index stage: pgvector HNSW and IVFFlat indexes and the full-text index, built
 * after loading with settings tuned for the build. The one place their SQL is written
 * (index_ddl): `ragload index`, reindex's shadow generation and ingest's live rebuild all
 * build through it or through the server's own definitions of what exists.
 */
#ifndef RAGLOAD_INDEX_H
#define RAGLOAD_INDEX_H

#include "../lib/common.h"
#include "../lib/config.h"

#include <libpq-fe.h>

struct index_args {
	const char *distance;     /* cosine | l2 | ip; NULL = the corpus's */
	int m;                    /* HNSW m (16) */
	int ef_construction;      /* HNSW ef_construction (64) */
	int lists;                /* IVFFlat lists; 0 = rows/1000 (>= 10), sqrt(rows) above 1M */
	const char *only;         /* hnsw | ivfflat | fts | NULL = all three */
	const char *fts_config;   /* text search configuration of the full-text index (english) */
};

void index_args_defaults(struct index_args *a);

/* Index names, shared with eval, search and reindex. */
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

/* What a build needs to know of the corpus. */
struct index_corpus {
	long long rows, chunks;   /* embeddings, chunks */
	int dim;
	char distance[16];        /* the one given, else the corpus's */
};
int index_corpus_facts(PGconn *conn, const char *distance, struct index_corpus *f);

/* Sets maintenance_work_mem for an HNSW graph of rows x dim with m, and as many parallel
 * maintenance workers as there are cores, for this session. Returns 0 or RL_ERR (logged). */
int index_build_memory(PGconn *conn, long long rows, int dim, int m);
/*
 * index_ddl — the CREATE INDEX statement of kind (hnsw | ivfflat | fts) named name, on
 * schema.embeddings (or schema.chunks for fts; schema NULL: the search path's), with a's
 * settings (lists from rows when a->lists is 0), into sql; the settings as a JSON object (what
 * ragload_indexes records) into params. Returns 0 or RL_ERR (logged).
 */
int index_ddl(PGconn *conn, const char *kind, const char *name, const char *schema,
	      const char *distance, const struct index_args *a, long long rows, char *sql,
	      size_t len, char *params, size_t plen);
/* Builds kind on the live tables under a temporary name, swaps it in by a rename in one short
 * transaction (readers keep the old one until then) and records it in ragload_indexes;
 * progress (when asked) is read on watch. Returns 0 or RL_ERR (logged). */
int index_build(PGconn *conn, PGconn *watch, const char *kind, const struct index_corpus *f,
		const struct index_args *a, int progress, int quiet);

/*
 * During a load: small deltas go into the live HNSW/IVFFlat indexes; once a load adds more
 * than rebuild_share of the rows, the vector indexes are dropped (their definitions kept) and
 * rebuilt at the end. index_live_check is called with the rows added so far; rebuild is a
 * no-op when nothing was dropped, and must be called before release on every path.
 */
struct index_live {
	PGresult *defs;       /* index name, CREATE INDEX statement (pg_indexes) */
	double rows;          /* rows of embeddings when the run started */
	int dropped;
};
int index_live_init(PGconn *conn, struct index_live *li);
int index_live_check(PGconn *conn, struct index_live *li, double rebuild_share, uint64_t added);
int index_live_rebuild(PGconn *conn, struct index_live *li, int dim);
void index_live_release(struct index_live *li);

#endif
