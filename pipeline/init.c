/*
 * init.c — `ragload init`: connect(); migrate(); store_search(); roles();
 *
 * The migrations are compiled into the binary (lib/db.c), so init applies exactly the schema
 * the binary was built for; concurrent inits serialise on a transaction-level lock there.
 */
#include "init.h"
#include "../lib/common.h"
#include "../lib/db.h"
#include "../lib/corpus.h"

int init_run(const struct rl_config *cfg, int roles)
{
	PGconn *conn = db_connect(cfg->conninfo);
	if (!conn)
		return EXIT_FATAL;
	int rc = db_migrate(conn);
	if (!rc)
		log_info("schema at version %d", db_schema_version(conn));
	if (!rc)  /* [search], where the SQL functions read it */
		rc = corpus_store_search(conn, &cfg->search);
	if (!rc && roles)
		rc = db_create_roles(conn);
	PQfinish(conn);
	return rc ? EXIT_FATAL : EXIT_DONE;
}
