/*
 * init.c — `ragload init`: connect(); migrate(); the postings' indexes repaired; store_search();
 *          extension(); roles();
 *
 * The migrations are compiled into the binary (lib/db.c), so init applies exactly the schema
 * the binary was built for; concurrent inits serialise on a transaction-level lock there.
 * The ragload extension (extension/) is created when PostgreSQL has it and lets this role
 * create it; where it cannot be (a managed server that allows only listed extensions), init
 * says so and what that costs, and nothing else changes: the corpus, BM25 and search are
 * plain SQL and the CLI.
 */
#include "init.h"
#include "../lib/common.h"
#include "../lib/db.h"
#include "../lib/corpus.h"
#include "../stages/load.h"

#include <string.h>

static void extension(PGconn *conn)
{
	char err[512];
	if (db_exec_quiet(conn, "CREATE EXTENSION IF NOT EXISTS ragload", err, sizeof(err)) == 0) {
		/* a corpus made by an older ragload: its extension to this build's version */
		if (db_exec_quiet(conn, "ALTER EXTENSION ragload UPDATE", err, sizeof(err))) {
			err[strcspn(err, "\n")] = '\0';
			log_warn("the ragload extension cannot be updated (%s): BM25 ranks in plain "
				 "SQL (ragload_bm25_sql), about 10x slower at 100k chunks", err);
		}
		return;
	}
	/* the server's message without its "ERROR:  " and newline */
	char *msg = strncmp(err, "ERROR:  ", 8) ? err : err + 8;
	msg[strcspn(msg, "\n")] = '\0';
	log_warn("the ragload extension is not available (%s): clients embed their queries "
		 "themselves (`ragload embed`, libragload) instead of calling ragload_embed and "
		 "ragload_search; BM25 and the hybrid remain plain SQL (ragload_bm25, ragload_dense, "
		 "ragload_hybrid), with BM25 scored by the executor instead of in C (about 10x "
		 "slower at 100k chunks); everything else works as before", msg);
}

int init_run(const struct rl_config *cfg, int roles)
{
	PGconn *conn = db_connect(cfg->conninfo);
	if (!conn)
		return EXIT_FATAL;
	int rc = db_migrate(conn);
	if (!rc)
		log_info("schema at version %d", db_schema_version(conn));
	if (!rc)  /* a first load killed before its end left the postings without indexes */
		rc = load_postings_indexes_repair(conn);
	if (!rc)  /* [search], where the SQL functions read it */
		rc = corpus_store_search(conn, &cfg->search);
	if (!rc)
		extension(conn);
	if (!rc && roles)
		rc = db_create_roles(conn);
	PQfinish(conn);
	return rc ? EXIT_FATAL : EXIT_DONE;
}
