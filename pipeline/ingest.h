/*
 * ingest.h — the ingest command: model resolution, the staged pipeline, the summary.
 */
#ifndef RAGLOAD_INGEST_H
#define RAGLOAD_INGEST_H

#include "../lib/common.h"
#include "../lib/config.h"

#include <libpq-fe.h>

struct model;

struct ingest_args {
	char *const *paths;
	int n_paths;
	const char *model_file;   /* --model FILE, or NULL */
	int no_wait;              /* --no-wait: exit 75 at once when locked */
	int prune;                /* --prune: delete documents under the inputs that are gone */
	int dry_run;              /* --dry-run: say what would happen, write nothing */
	const char *log_file;     /* --log FILE: timestamped messages appended there too */
	int shard, n_shards;      /* --shard i/N (1 <= i <= N): only documents whose key hashes
				   * to share i; 0/0 = all */
};

/* Whether a source key belongs to shard i of n (1-based; n == 0: always). Stable across
 * machines and runs: xxh3 of the key. */
int ingest_in_shard(const char *source, int shard, int n_shards);

/* Runs `ragload ingest`. Returns an exit status (EXIT_DONE, EXIT_SKIPPED, EXIT_FATAL,
 * EXIT_LOCKED). */
int ingest_run(struct rl_config *cfg, const struct ingest_args *a);

/*
 * Fits a model on the inputs (read -> normalize -> chunk, the first fit_sample_docs
 * documents). Returns 0 and *out (caller frees with model_free), or negative.
 */
int ingest_fit_model(const struct rl_config *cfg, char *const *paths, int n_paths,
		     struct model **out);

/* Reads and checks a model file (format, version, checksum). 0 and *out, or -1 (logged). */
int model_read_file(const char *path, struct model **out);

/* Corpus model storage (ragload_models / ragload_corpus). */
int corpus_store_model(PGconn *conn, const struct model *m);
/* Loads a stored model by name. Returns 0 and *out, 1 when absent, negative on error. */
int corpus_load_model(PGconn *conn, const char *name, struct model **out);
/* The model that embeds this corpus: from its embeddings, else the one recorded in
 * ragload_corpus. Returns 0 and *out, 1 when the corpus has none, negative on error. */
int corpus_current_model(PGconn *conn, struct model **out);
/* Makes m the corpus model (chunking: "tokens/overlap", refused when it differs from the
 * live generation's): records it, and sets embeddings.embedding_vector to vector(dim)
 * when the table is empty. Refuses (negative, message logged) a model other than the one the
 * existing embeddings were made with. */
int corpus_use_model(PGconn *conn, const struct model *m, const char *chunking);
/* The same for a model known by name and dimension only (precomputed vectors): checks the
 * existing embeddings, types the column, records model and (for an empty corpus) distance. */
int corpus_claim(PGconn *conn, const char *name, int dim, const char *distance,
		 const char *chunking);
/* Types table's embedding_vector column (table: "embeddings" or a shadow copy) as
 * vector(dim), stored inline when it fits (see corpus.c). Returns 0 or -1 (logged). */
int corpus_type_vectors(PGconn *conn, const char *table, int dim);

#endif
