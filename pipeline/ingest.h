/*
 * ingest.h — `ragload ingest`: model resolution, the staged pipeline, the summary.
 */
#ifndef RAGLOAD_INGEST_H
#define RAGLOAD_INGEST_H

#include "../lib/common.h"
#include "../lib/config.h"


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

#endif
