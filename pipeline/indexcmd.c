/*
 * indexcmd.c — `ragload index`:
 *
 *   db_open_corpus(lock); index_corpus_facts(); index_build_memory();
 *   index_build(hnsw); index_build(ivfflat); index_build(fts); ANALYZE;
 *
 * Each build runs under a temporary name and is swapped in by rename (stages/index.c), so
 * readers keep the old index until the new one is ready; progress comes from a second
 * connection reading pg_stat_progress_create_index.
 */
#include "indexcmd.h"
#include "../lib/common.h"
#include "../lib/db.h"

#include <string.h>
#include <unistd.h>

int indexcmd_run(const struct rl_config *cfg, const struct index_args *a)
{
	PGconn *conn = NULL, *watch = NULL;
	int status = db_open_corpus(cfg->conninfo, 1, 0, cfg->load.lock_wait_s, &conn);
	if (status != EXIT_DONE)
		goto out;
	status = EXIT_FATAL;
	struct index_corpus f;
	if (index_corpus_facts(conn, a->distance, &f))
		goto out;
	if (!index_opclass(f.distance)) {
		log_error("unknown distance '%s'", f.distance);
		goto out;
	}
	if (f.rows == 0 || f.dim <= 0) {
		log_error("the corpus has no embeddings yet: run `ragload ingest` first");
		goto out;
	}
	int progress = cfg->progress < 0 ? (!cfg->quiet && isatty(2)) : cfg->progress;
	if (progress)
		watch = db_connect(cfg->conninfo);
	if (index_build_memory(conn, f.rows, f.dim, a->m))
		goto out;
	static const char *const kinds[] = {"hnsw", "ivfflat", "fts"};
	for (size_t i = 0; i < RL_ARRAY_LEN(kinds); i++)
		if ((!a->only || !strcmp(a->only, kinds[i])) &&
		    index_build(conn, watch, kinds[i], &f, a, progress, cfg->quiet))
			goto out;
	db_exec(conn, "ANALYZE embeddings, chunks");
	status = EXIT_DONE;
out:
	if (watch)
		PQfinish(watch);
	if (conn)
		PQfinish(conn);
	return status;
}
