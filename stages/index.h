/*
 * index.h — the index stage: pgvector HNSW and IVFFlat indexes and the full-text index, built
 * after loading with settings tuned for the build. The one place their SQL is written
 * (index_ddl): `ragload index`, reindex's shadow generation and ingest's live rebuild all
 * build through it or through the server's own definitions of what exists.
 *
 * Storage: a vector index reads the contract column embeddings.embedding_vector (which keeps
 * its type) as vector, as halfvec (an expression index on embedding_vector::halfvec(dim)) or
 * as bits (HNSW on binary_quantize(embedding_vector)::bit(dim), Hamming distance). The one
 * place the dense query is written (index_dense_sql): search, eval and the SQL functions ask
 * through it, so the ORDER BY matches the index's expression and the binary index's
 * candidates are re-ranked by the exact distance. ragload_indexes marks the one vector index
 * to serve searches (index_serving); whenever it changes, ragload_dense() (migration 0004,
 * the dense ranking every client calls) is rewritten from index_dense_sql for that index
 * (index_dense_function).
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
	const char *storage;      /* vector | halfvec | bit, or a comma list of them; NULL = [index] storage */
	int repeat;               /* builds of each index (>= 1); > 1 measures recall per build */
};

void index_args_defaults(struct index_args *a);

/* Index names, shared with eval, search and reindex. */
#define INDEX_HNSW_NAME "embeddings_hnsw_idx"
#define INDEX_IVFFLAT_NAME "embeddings_ivfflat_idx"
#define INDEX_FTS_NAME "chunks_fts_idx"

/* The pgvector operator class and distance operator for a distance name (NULL if unknown). */
const char *index_opclass(const char *distance);
const char *index_operator(const char *distance);

#define INDEX_STORAGES "vector, halfvec or bit"
#define INDEX_BIT_OVERFETCH 10     /* search: binary-index candidates per row wanted, re-ranked */
#define INDEX_REPEAT_QUERIES 100   /* --repeat: queries of each build's recall check */
/* ragload_dense's HNSW ef_search when the call gives none: on the 125k scale corpus with
 * halfvec storage, recall@10 0.84 for questions taken from its real chunks (0.89 at 200) at
 * a p95 of 5 ms on one connection and 13 ms on four (12 and 29 ms at 200); SciFact's hybrid
 * nDCG@10 the same as at 200 (README "Latency") */
#define INDEX_DENSE_EF_SEARCH 100
#define INDEX_REPEAT_EF_SEARCH 40  /* --repeat: HNSW ef_search of the check (pgvector's default) */
/* 1 when storage is one of INDEX_STORAGES. */
int index_storage_ok(const char *storage);
/* The operator class of storage for distance (bit: bit_hamming_ops); NULL if unknown. */
const char *index_storage_opclass(const char *storage, const char *distance);
/* The name of the kind (hnsw | ivfflat | fts) index on storage: embeddings_hnsw_idx,
 * embeddings_hnsw_halfvec_idx, ... (vector keeps the names indexes had before storages). */
void index_name_for(const char *kind, const char *storage, char *out, size_t n);
/*
 * index_dense_sql — appends the dense query: (chunk_id, d) of the limit rows nearest the
 * query vector vec (an SQL expression of type vector, e.g. "$1::vector"), d the exact distance
 * by operator op, ordered by the expression a storage's index serves (embedding_vector,
 * embedding_vector::halfvec(dim) or its binary quantisation; bit: fetch candidates by
 * Hamming distance re-ranked by d, then limit). limit and fetch are SQL expressions (fetch
 * is read for bit only). Rows come roughly in d order (halfvec, relaxed scans): callers that
 * need it exact ORDER BY d, chunk_id. Returns 0 or negative.
 */
int index_dense_sql(struct buf *sql, const char *storage, int dim, const char *op,
		    const char *vec, const char *limit, const char *fetch);

/* The vector index searches are served from: the row ragload_indexes marks serving when it
 * exists, else embeddings_hnsw_idx, else embeddings_ivfflat_idx; name "" = none (exact). */
struct index_serving {
	char name[64];
	char kind[16];            /* hnsw | ivfflat */
	char storage[16];         /* vector | halfvec | bit */
	int lists;                /* ivfflat */
};
int index_serving(PGconn *conn, struct index_serving *s);
/* The SET LOCALs that fetch limit rows from s (HNSW: ef_search max(ef_min, limit x the
 * binary over-fetch); IVFFlat: probes ceil(sqrt(lists))) into sets ("" for none), and the
 * candidates the binary index re-ranks into *fetch (limit for the other storages). */
void index_serve_sets(const struct index_serving *s, long limit, int ef_min, char *sets,
		      size_t n, long *fetch);
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
/* index_ddl on a storage (vector | halfvec | bit) of a dim-dimensional column. */
int index_ddl_storage(PGconn *conn, const char *kind, const char *storage, int dim,
		      const char *name, const char *schema, const char *distance,
		      const struct index_args *a, long long rows, char *sql, size_t len,
		      char *params, size_t plen);
/* What one build gave: its time, size, and (when a check was asked) recall@10. */
struct index_built {
	char name[64];
	double seconds;
	long long bytes;
	double recall10;          /* NAN without a check */
};
/* Builds kind on storage on the live tables under a temporary name, swaps it in by a rename
 * in one short transaction (readers keep the old one until then) and records it in
 * ragload_indexes; progress (when asked) is read on watch; *out (may be NULL) gets what the
 * build gave. Returns 0 or RL_ERR (logged). */
int index_build(PGconn *conn, PGconn *watch, const char *kind, const char *storage,
		const struct index_corpus *f, const struct index_args *a, int progress, int quiet,
		struct index_built *out);

/*
 * The recall check of --repeat: INDEX_REPEAT_QUERIES stored vectors as queries, each left out
 * of its own answers (leave-one-out: a held-out row, as a real query is), and their exact top
 * 10 by a sequential scan, computed once; index_check_recall() then measures one index's mean
 * recall@10 at the setting it records in search (JSON object).
 */
struct index_check {
	char **qlit;              /* query vectors as text literals */
	long long *self;          /* the chunk each one is */
	long long *truth;         /* nq x 10 chunk ids */
	int *n_truth;
	int nq;
};
int index_check_init(PGconn *conn, const struct index_corpus *f, struct index_check *c);
double index_check_recall(PGconn *conn, const struct index_check *c, const char *kind,
			  const char *storage, const struct index_corpus *f, const char *name,
			  char *search, size_t slen);
void index_check_release(struct index_check *c);
/* Marks name the one vector index searches are served from, and rewrites ragload_dense() for
 * it in the same transaction. Returns 0 or RL_ERR. */
int index_set_serving(PGconn *conn, const char *name);
/* Rewrites the body of ragload_dense() (migration 0004; same signature, owner and grants) to
 * serve through the index index_serving() names, its query from index_dense_sql(), in the
 * caller's transaction if any: search, eval's hybrid, the extension and plain-SQL clients
 * all follow the serving index. Returns 0 or RL_ERR. */
int index_dense_function(PGconn *conn);

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
