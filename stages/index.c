/*
 * index.c — vector and full-text indexes, built after the load (inserting into an HNSW graph
 * row by row is orders of magnitude slower than building it once).
 *
 *   lock(); corpus_facts(); build(hnsw); build(ivfflat); build(fts); record();
 *
 * Each index is built under a temporary name and swapped in with a rename in one short
 * transaction, so readers keep the old index until the new one is ready. The build runs with
 * maintenance_work_mem sized to the graph (pgvector slows down badly once the graph no longer
 * fits) and parallel maintenance workers; progress comes from pg_stat_progress_create_index.
 */
#include "index.h"
#include "../lib/db.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

void index_args_defaults(struct index_args *a)
{
	memset(a, 0, sizeof(*a));
	a->m = 16;
	a->ef_construction = 64;
	a->fts_config = "english";
}

const char *index_opclass(const char *distance)
{
	if (!distance)
		return NULL;
	if (!strcmp(distance, "cosine"))
		return "vector_cosine_ops";
	if (!strcmp(distance, "l2"))
		return "vector_l2_ops";
	if (!strcmp(distance, "ip"))
		return "vector_ip_ops";
	return NULL;
}

const char *index_operator(const char *distance)
{
	if (!distance)
		return NULL;
	if (!strcmp(distance, "cosine"))
		return "<=>";
	if (!strcmp(distance, "l2"))
		return "<->";
	if (!strcmp(distance, "ip"))
		return "<#>";
	return NULL;
}

int index_default_lists(long long rows)
{
	long long lists = rows > 1000000 ? (long long)sqrt((double)rows) : rows / 1000;
	if (lists < 10)
		lists = 10;
	return (int)(lists > 32768 ? 32768 : lists);
}

long long index_hnsw_memory_kb(long long rows, int dim, int m)
{
	/* Per element: the vector, 2m neighbours on layer 0 and ~m/(m-1) above, tuple headers. */
	double per = 4.0 * dim + 8 + (2.0 * m + 2) * 10 + 160;
	double kb = rows * per * 1.3 / 1024 + 65536;
	long long ram_kb = (long long)sysconf(_SC_PHYS_PAGES) * (sysconf(_SC_PAGESIZE) / 1024);
	if (ram_kb > 0 && kb > ram_kb / 2)
		kb = (double)(ram_kb / 2);
	return (long long)kb;
}

struct corpus_facts {
	long long rows, chunks;
	int dim;
	char distance[16];
};

static int corpus_facts(PGconn *conn, const struct index_args *a, struct corpus_facts *f)
{
	PGresult *r = db_query(conn,
		"SELECT (SELECT count(*) FROM embeddings), (SELECT count(*) FROM chunks), "
		"(SELECT atttypmod FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
		" AND attname = 'embedding_vector'), "
		"coalesce((SELECT value FROM ragload_corpus WHERE key = 'distance'), 'cosine')", 0, NULL);
	if (!r)
		return -1;
	f->rows = atoll(PQgetvalue(r, 0, 0));
	f->chunks = atoll(PQgetvalue(r, 0, 1));
	f->dim = atoi(PQgetvalue(r, 0, 2));
	snprintf(f->distance, sizeof(f->distance), "%s", a->distance ? a->distance : PQgetvalue(r, 0, 3));
	PQclear(r);
	return 0;
}

/* Runs one CREATE INDEX, printing progress from a second connection while it runs. */
static int run_build(PGconn *conn, PGconn *watch, const char *sql, int progress, const char *label)
{
	if (!PQsendQuery(conn, sql)) {
		log_error("%s: %s", label, PQerrorMessage(conn));
		return -1;
	}
	char q[256];
	snprintf(q, sizeof(q), "SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total "
		 "FROM pg_stat_progress_create_index WHERE pid = %d", PQbackendPID(conn));
	int sock = PQsocket(conn), shown = 0;
	while (PQisBusy(conn)) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(sock, &rd);
		struct timeval tv = {1, 0};
		if (select(sock + 1, &rd, NULL, NULL, &tv) < 0)
			break;
		if (!PQconsumeInput(conn))
			break;
		if (progress && watch && PQisBusy(conn)) {
			PGresult *p = PQexec(watch, q);
			if (PQresultStatus(p) == PGRES_TUPLES_OK && PQntuples(p) == 1) {
				double bt = atof(PQgetvalue(p, 0, 2)), tt = atof(PQgetvalue(p, 0, 4));
				double done = tt > 0 ? atof(PQgetvalue(p, 0, 3)) / tt
					    : bt > 0 ? atof(PQgetvalue(p, 0, 1)) / bt : 0;
				fprintf(stderr, "\rragload: %s: %s %.0f%%          ", label,
					PQgetvalue(p, 0, 0), 100 * done);
				shown = 1;
			}
			PQclear(p);
		}
	}
	if (shown)
		fprintf(stderr, "\n");
	int rc = 0;
	PGresult *r;
	while ((r = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("%s: %s", label, PQresultErrorMessage(r));
			rc = -1;
		}
		PQclear(r);
	}
	return rc;
}

/* Builds name_new, swaps it in for name, records it. */
static int build(PGconn *conn, PGconn *watch, const struct rl_config *cfg, const char *kind,
		 const char *name, const char *create_sql, const char *opclass, const char *params,
		 long long rows, int progress)
{
	char sql[1024];
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "%s_new", name);
	snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", tmp);
	if (db_exec(conn, sql))
		return -1;
	double t0 = now_seconds();
	if (run_build(conn, watch, create_sql, progress, kind))
		return -1;
	double secs = now_seconds() - t0;
	snprintf(sql, sizeof(sql), "BEGIN; DROP INDEX IF EXISTS %s; ALTER INDEX %s RENAME TO %s; "
		 "COMMIT", name, tmp, name);
	if (db_exec(conn, sql)) {
		db_exec_quiet(conn, "ROLLBACK", NULL, 0);
		return -1;
	}
	char secs_s[32], rows_s[32];
	snprintf(secs_s, sizeof(secs_s), "%.3f", secs);
	snprintf(rows_s, sizeof(rows_s), "%lld", rows);
	const char *p[6] = {name, kind, opclass, params, secs_s, rows_s};
	PGresult *r = db_query(conn,
		"INSERT INTO ragload_indexes (index_name, kind, opclass, params, build_seconds, "
		"index_bytes, row_count) VALUES ($1::varchar, $2, $3, $4::jsonb, $5, "
		"pg_relation_size($1::text::regclass), $6) ON CONFLICT (index_name) DO UPDATE SET "
		"kind = EXCLUDED.kind, opclass = EXCLUDED.opclass, params = EXCLUDED.params, "
		"build_seconds = EXCLUDED.build_seconds, index_bytes = EXCLUDED.index_bytes, "
		"row_count = EXCLUDED.row_count, created_at = now() RETURNING index_bytes", 6, p);
	if (!r)
		return -1;
	if (!cfg->quiet)
		fprintf(stderr, "ragload: %s %s %s: built in %.2f s, %.1f MB\n", kind, name, params,
			secs, atof(PQgetvalue(r, 0, 0)) / 1048576.0);
	PQclear(r);
	return 0;
}

int index_run(const struct rl_config *cfg, const struct index_args *a)
{
	int status = EXIT_FATAL;
	PGconn *conn = db_connect(cfg->conninfo), *watch = NULL;
	if (!conn)
		goto out;
	if (db_schema_version(conn) < 2) {
		log_error("the database schema is missing or old: run `ragload init` first");
		goto out;
	}
	if ((status = db_take_lock(conn, 0, cfg->load.lock_wait_s)) != EXIT_DONE)
		goto out;
	status = EXIT_FATAL;
	struct corpus_facts f;
	if (corpus_facts(conn, a, &f))
		goto out;
	const char *opclass = index_opclass(f.distance);
	if (!opclass) {
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
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char sql[1024], params[256];
	snprintf(sql, sizeof(sql), "SET maintenance_work_mem = '%lldkB'; "
		 "SET max_parallel_maintenance_workers = %ld",
		 index_hnsw_memory_kb(f.rows, f.dim, a->m), ncpu > 1 ? ncpu : 1);
	if (db_exec(conn, sql))
		goto out;

	if (!a->only || !strcmp(a->only, "hnsw")) {
		snprintf(params, sizeof(params), "{\"m\": %d, \"ef_construction\": %d}", a->m,
			 a->ef_construction);
		snprintf(sql, sizeof(sql), "CREATE INDEX %s_new ON embeddings USING hnsw "
			 "(embedding_vector %s) WITH (m = %d, ef_construction = %d)", INDEX_HNSW_NAME,
			 opclass, a->m, a->ef_construction);
		if (build(conn, watch, cfg, "hnsw", INDEX_HNSW_NAME, sql, opclass, params, f.rows,
			  progress))
			goto out;
	}
	if (!a->only || !strcmp(a->only, "ivfflat")) {
		int lists = a->lists > 0 ? a->lists : index_default_lists(f.rows);
		snprintf(params, sizeof(params), "{\"lists\": %d}", lists);
		snprintf(sql, sizeof(sql), "CREATE INDEX %s_new ON embeddings USING ivfflat "
			 "(embedding_vector %s) WITH (lists = %d)", INDEX_IVFFLAT_NAME, opclass, lists);
		if (build(conn, watch, cfg, "ivfflat", INDEX_IVFFLAT_NAME, sql, opclass, params,
			  f.rows, progress))
			goto out;
	}
	if (!a->only || !strcmp(a->only, "fts")) {
		char *cfgname = PQescapeLiteral(conn, a->fts_config, strlen(a->fts_config));
		if (!cfgname)
			goto out;
		snprintf(params, sizeof(params), "{\"config\": \"%s\"}", a->fts_config);
		snprintf(sql, sizeof(sql), "CREATE INDEX %s_new ON chunks USING gin "
			 "(to_tsvector(%s::regconfig, chunk_text))", INDEX_FTS_NAME, cfgname);
		PQfreemem(cfgname);
		if (build(conn, watch, cfg, "fts", INDEX_FTS_NAME, sql, NULL, params, f.chunks,
			  progress))
			goto out;
	}
	db_exec(conn, "ANALYZE embeddings, chunks");
	status = EXIT_DONE;
out:
	if (watch)
		PQfinish(watch);
	if (conn)
		PQfinish(conn);
	return status;
}
