/*
 * index.c — vector and full-text indexes, built after the load (inserting into an HNSW graph
 * row by row is orders of magnitude slower than building it once).
 *
 *   index_ddl()        the one writer of their CREATE INDEX statements
 *   index_build()      DDL under a temporary name; run_build(); swap by rename; record()
 *   index_live_*()     ingest: drop the vector indexes when a load outgrows them, rebuild
 *                      them from their own definitions at the end
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

int index_corpus_facts(PGconn *conn, const char *distance, struct index_corpus *f)
{
	PGresult *r = db_query(conn,
		"SELECT (SELECT count(*) FROM embeddings), (SELECT count(*) FROM chunks), "
		"(SELECT atttypmod FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
		" AND attname = 'embedding_vector'), "
		"coalesce((SELECT value FROM ragload_corpus WHERE key = 'distance'), 'cosine')", 0, NULL);
	if (!r)
		return RL_ERR;
	f->rows = atoll(PQgetvalue(r, 0, 0));
	f->chunks = atoll(PQgetvalue(r, 0, 1));
	f->dim = atoi(PQgetvalue(r, 0, 2));
	snprintf(f->distance, sizeof(f->distance), "%s", distance ? distance : PQgetvalue(r, 0, 3));
	PQclear(r);
	return 0;
}

int index_build_memory(PGconn *conn, long long rows, int dim, int m)
{
	char sql[256];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(sql, sizeof(sql), "SET maintenance_work_mem = '%lldkB'; "
		 "SET max_parallel_maintenance_workers = %ld",
		 index_hnsw_memory_kb(rows, dim, m), ncpu > 1 ? ncpu : 1);
	return db_exec(conn, sql) ? RL_ERR : 0;
}

int index_ddl(PGconn *conn, const char *kind, const char *name, const char *schema,
	      const char *distance, const struct index_args *a, long long rows, char *sql,
	      size_t len, char *params, size_t plen)
{
	const char *opclass = index_opclass(distance);
	char on[96];
	snprintf(on, sizeof(on), "%s%s", schema ? schema : "", schema ? "." : "");
	if (!strcmp(kind, "hnsw") && opclass) {
		snprintf(params, plen, "{\"m\": %d, \"ef_construction\": %d}", a->m,
			 a->ef_construction);
		snprintf(sql, len, "CREATE INDEX %s ON %sembeddings USING hnsw (embedding_vector %s) "
			 "WITH (m = %d, ef_construction = %d)", name, on, opclass, a->m,
			 a->ef_construction);
	} else if (!strcmp(kind, "ivfflat") && opclass) {
		int lists = a->lists > 0 ? a->lists : index_default_lists(rows);
		snprintf(params, plen, "{\"lists\": %d}", lists);
		snprintf(sql, len, "CREATE INDEX %s ON %sembeddings USING ivfflat (embedding_vector %s) "
			 "WITH (lists = %d)", name, on, opclass, lists);
	} else if (!strcmp(kind, "fts")) {
		char *cfgname = PQescapeLiteral(conn, a->fts_config, strlen(a->fts_config));
		if (!cfgname) {
			log_error("fts: %s", PQerrorMessage(conn));
			return RL_ERR;
		}
		snprintf(params, plen, "{\"config\": \"%s\"}", a->fts_config);
		snprintf(sql, len, "CREATE INDEX %s ON %schunks USING gin "
			 "(to_tsvector(%s::regconfig, chunk_text))", name, on, cfgname);
		PQfreemem(cfgname);
	} else {
		log_error("index: unknown kind '%s' or distance '%s'", kind, distance);
		return RL_ERR;
	}
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

static const char *index_name(const char *kind)
{
	return !strcmp(kind, "hnsw") ? INDEX_HNSW_NAME : !strcmp(kind, "ivfflat") ? INDEX_IVFFLAT_NAME
									       : INDEX_FTS_NAME;
}

int index_build(PGconn *conn, PGconn *watch, const char *kind, const struct index_corpus *f,
		const struct index_args *a, int progress, int quiet)
{
	char sql[1024], create_sql[1024], params[256];
	char tmp[96];
	const char *name = index_name(kind);
	const char *opclass = strcmp(kind, "fts") ? index_opclass(f->distance) : NULL;
	long long rows = strcmp(kind, "fts") ? f->rows : f->chunks;
	snprintf(tmp, sizeof(tmp), "%s_new", name);
	if (index_ddl(conn, kind, tmp, NULL, f->distance, a, f->rows, create_sql,
		      sizeof(create_sql), params, sizeof(params)))
		return RL_ERR;
	snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", tmp);
	if (db_exec(conn, sql))
		return RL_ERR;
	double t0 = now_seconds();
	if (run_build(conn, watch, create_sql, progress, kind))
		return RL_ERR;
	double secs = now_seconds() - t0;
	snprintf(sql, sizeof(sql), "BEGIN; DROP INDEX IF EXISTS %s; ALTER INDEX %s RENAME TO %s; "
		 "COMMIT", name, tmp, name);
	if (db_exec(conn, sql)) {
		db_exec_quiet(conn, "ROLLBACK", NULL, 0);
		return RL_ERR;
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
		return RL_ERR;
	if (!quiet)
		fprintf(stderr, "ragload: %s %s %s: built in %.2f s, %.1f MB\n", kind, name, params,
			secs, atof(PQgetvalue(r, 0, 0)) / 1048576.0);
	PQclear(r);
	return 0;
}

/* ---- live vector indexes during a load (ingest) ------------------------------------------- */

/*
 * Small deltas go into the live HNSW/IVFFlat indexes. Once a load has added more than
 * index_rebuild_share of the rows, inserting into the graph row by row costs more than a
 * rebuild: the vector indexes are dropped (their definitions kept) and rebuilt at the end.
 */
int index_live_init(PGconn *conn, struct index_live *li)
{
	memset(li, 0, sizeof(*li));
	li->defs = db_query(conn, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
			    "current_schema() AND tablename = 'embeddings' AND (indexdef LIKE "
			    "'%USING hnsw%' OR indexdef LIKE '%USING ivfflat%')", 0, NULL);
	if (!li->defs)
		return RL_ERR;
	int ok;
	li->rows = (double)db_scalar_int(conn, "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
					 "WHERE oid = 'embeddings'::regclass", 0, &ok);
	return ok ? 0 : -1;
}

int index_live_check(PGconn *conn, struct index_live *li, double rebuild_share, uint64_t added)
{
	if (li->dropped || !li->defs || PQntuples(li->defs) == 0 ||
	    (double)added <= rebuild_share * li->rows)
		return 0;
	log_info("this load adds more than %.0f%% of the rows: dropping the vector indexes, "
		 "rebuilding them after the load", 100 * rebuild_share);
	for (int i = 0; i < PQntuples(li->defs); i++) {
		char *name = PQescapeIdentifier(conn, PQgetvalue(li->defs, i, 0),
						strlen(PQgetvalue(li->defs, i, 0)));
		char sql[256];
		snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", name ? name : "");
		PQfreemem(name);
		if (db_exec(conn, sql))
			return RL_ERR;
	}
	li->dropped = 1;
	return 0;
}

int index_live_rebuild(PGconn *conn, struct index_live *li, int dim)
{
	if (!li->dropped)
		return 0;
	int ok, m = 16;
	long long rows = db_scalar_int(conn, "SELECT count(*) FROM embeddings", 0, &ok);
	for (int i = 0; i < PQntuples(li->defs); i++) {
		/* the graph's m from its own definition: WITH (m='24', ef_construction='64') */
		const char *w = strstr(PQgetvalue(li->defs, i, 1), "(m='");
		if (w)
			m = atoi(w + 4) > 1 ? atoi(w + 4) : m;
	}
	if (!ok || index_build_memory(conn, rows, dim, m))
		return RL_ERR;
	for (int i = 0; i < PQntuples(li->defs); i++) {
		double t0 = now_seconds();
		if (db_exec(conn, PQgetvalue(li->defs, i, 1)))
			return RL_ERR;
		char secs[32];
		snprintf(secs, sizeof(secs), "%.3f", now_seconds() - t0);
		const char *p[2] = {PQgetvalue(li->defs, i, 0), secs};
		PQclear(db_query(conn, "UPDATE ragload_indexes SET build_seconds = $2, index_bytes = "
				 "pg_relation_size($1::text::regclass), row_count = (SELECT count(*) "
				 "FROM embeddings), created_at = now() WHERE index_name = $1 "
				 "RETURNING 1", 2, p));
		log_info("rebuilt %s in %s s", PQgetvalue(li->defs, i, 0), secs);
	}
	li->dropped = 0;
	return 0;
}

void index_live_release(struct index_live *li)
{
	PQclear(li->defs);
	li->defs = NULL;
}
