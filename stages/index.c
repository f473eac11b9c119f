/*
 * index.c — vector and full-text indexes, built after the load (inserting into an HNSW graph
 * row by row is orders of magnitude slower than building it once).
 *
 *   index_ddl()        the one writer of their CREATE INDEX statements, on a storage
 *   index_dense_sql()  the one writer of the dense query each storage's index serves
 *   index_serving()    which vector index searches use (ragload_indexes.serving)
 *   index_dense_function()  ragload_dense(), the SQL every client ranks dense by, rewritten
 *                      from index_dense_sql() for the serving index whenever that changes
 *   index_build()      DDL under a temporary name; run_build(); swap by rename; record()
 *   index_check_*()    --repeat: recall@10 of each build against an exact scan
 *   index_live_*()     ingest: drop the vector indexes when a load outgrows them, rebuild
 *                      them from their own definitions at the end
 *
 * Each index is built under a temporary name and swapped in with a rename in one short
 * transaction, so readers keep the old index until the new one is ready. The build runs with
 * maintenance_work_mem sized to the graph (pgvector slows down badly once the graph no longer
 * fits) and parallel maintenance workers; progress comes from pg_stat_progress_create_index.
 *
 * Storages are expression indexes on the contract column, whose type never changes:
 * ((embedding_vector::halfvec(dim)) halfvec_cosine_ops) and
 * ((binary_quantize(embedding_vector)::bit(dim)) bit_hamming_ops). The planner uses one only
 * for an ORDER BY on the very same expression, hence one writer of the query. A binary index
 * orders by Hamming distance, a coarse proxy: it fetches more candidates than wanted and they
 * are re-ranked by the exact distance on the full vectors.
 */
#include "index.h"
#include "../lib/corpus.h"
#include "../lib/db.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#define INDEX_STR_(x) #x
#define INDEX_STR(x) INDEX_STR_(x)

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

int index_storage_ok(const char *storage)
{
	return storage && (!strcmp(storage, "vector") || !strcmp(storage, "halfvec") ||
			   !strcmp(storage, "bit"));
}

const char *index_storage_opclass(const char *storage, const char *distance)
{
	const char *vec = index_opclass(distance);
	if (!vec || !index_storage_ok(storage))
		return NULL;
	if (!strcmp(storage, "bit"))
		return "bit_hamming_ops";
	if (!strcmp(storage, "vector"))
		return vec;
	return !strcmp(distance, "cosine") ? "halfvec_cosine_ops"
	       : !strcmp(distance, "l2")   ? "halfvec_l2_ops" : "halfvec_ip_ops";
}

void index_name_for(const char *kind, const char *storage, char *out, size_t n)
{
	if (!strcmp(kind, "fts"))
		snprintf(out, n, "%s", INDEX_FTS_NAME);
	else if (!storage || !strcmp(storage, "vector"))
		snprintf(out, n, "%s", !strcmp(kind, "hnsw") ? INDEX_HNSW_NAME : INDEX_IVFFLAT_NAME);
	else
		snprintf(out, n, "embeddings_%s_%s_idx", kind, storage);
}

/* The expression a storage's index is built on, over column col (or a query vector). */
static int storage_expr(struct buf *b, const char *storage, int dim, const char *col)
{
	if (!strcmp(storage, "halfvec"))
		return buf_printf(b, "(%s)::halfvec(%d)", col, dim);
	if (!strcmp(storage, "bit"))
		return buf_printf(b, "binary_quantize(%s)::bit(%d)", col, dim);
	return buf_printf(b, "%s", col);
}

int index_dense_sql(struct buf *sql, const char *storage, int dim, const char *op,
		    const char *vec, const char *limit, const char *fetch)
{
	int bit = !strcmp(storage, "bit");
	const char *ord = bit ? "<~>" : op;
	int rc = bit ? buf_printf(sql, "SELECT chunk_id, d FROM (") : 0;
	if (!rc)
		rc = buf_printf(sql, "SELECT chunk_id, embedding_vector %s %s AS d FROM embeddings "
				"ORDER BY ", op, vec);
	if (!rc)
		rc = storage_expr(sql, storage, dim, "embedding_vector");
	if (!rc)
		rc = buf_printf(sql, " %s ", ord);
	if (!rc)
		rc = storage_expr(sql, storage, dim, vec);
	if (!rc)
		rc = buf_printf(sql, " LIMIT %s", bit ? fetch : limit);
	if (!rc && bit)
		rc = buf_printf(sql, ") b ORDER BY d, chunk_id LIMIT %s", limit);
	return rc;
}

int index_serving(PGconn *conn, struct index_serving *s)
{
	memset(s, 0, sizeof(*s));
	/* the marked row when its index exists; else today's names, HNSW first */
	PGresult *r = db_query(conn,
		"SELECT c.relname, am.amname, coalesce(ri.storage, 'vector'), "
		"coalesce((SELECT substring(o FROM 7)::int FROM unnest(c.reloptions) o "
		"WHERE o LIKE 'lists=%'), 100) "
		"FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid AND i.indisvalid "
		"JOIN pg_am am ON am.oid = c.relam "
		"LEFT JOIN ragload_indexes ri ON ri.index_name = c.relname "
		"WHERE i.indrelid = 'embeddings'::regclass AND (ri.serving OR c.relname IN ('"
		INDEX_HNSW_NAME "', '" INDEX_IVFFLAT_NAME "')) "
		"ORDER BY coalesce(ri.serving, false) DESC, c.relname = '" INDEX_HNSW_NAME "' DESC "
		"LIMIT 1", 0, NULL);
	if (!r)
		return RL_ERR;
	if (PQntuples(r) == 1) {
		snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(r, 0, 0));
		snprintf(s->kind, sizeof(s->kind), "%s", PQgetvalue(r, 0, 1));
		snprintf(s->storage, sizeof(s->storage), "%s", PQgetvalue(r, 0, 2));
		s->lists = atoi(PQgetvalue(r, 0, 3));
	} else {
		snprintf(s->storage, sizeof(s->storage), "vector");
	}
	PQclear(r);
	return 0;
}

void index_serve_sets(const struct index_serving *s, long limit, int ef_min, char *sets,
		      size_t n, long *fetch)
{
	*fetch = limit;
	if (!strcmp(s->storage, "bit"))
		*fetch = limit * INDEX_BIT_OVERFETCH;
	sets[0] = '\0';
	if (!strcmp(s->kind, "hnsw"))
		snprintf(sets, n, "SET LOCAL hnsw.ef_search = %ld",
			 *fetch > ef_min ? (*fetch < 1000 ? *fetch : 1000) : ef_min);
	else if (!strcmp(s->kind, "ivfflat"))
		snprintf(sets, n, "SET LOCAL ivfflat.probes = %d",
			 (int)ceil(sqrt(s->lists > 0 ? s->lists : 100)));
}

/*
 * ragload_dense(qvec, k, ef_search) rewritten for the serving index: its query is
 * index_dense_sql's for that index's storage (the dimension read from the index's own
 * expression), its operator and score the corpus's distance, HNSW's ef_search
 * max(ef_search (INDEX_DENSE_EF_SEARCH), k x the binary over-fetch) capped at 1000 (above
 * that an iterative scan), IVFFlat's probes ceil(sqrt(lists)). CREATE OR REPLACE keeps the signature, owner and
 * grants migration 0004 gave it. Runs inside the caller's transaction, if any.
 */
int index_dense_function(PGconn *conn)
{
	struct index_serving ix;
	char distance[16], dimq[256], fetch[64];
	int ok = 0, rc = RL_ERR, written = 0;
	if (index_serving(conn, &ix))
		return RL_ERR;
	corpus_get(conn, "distance", distance, sizeof(distance), "cosine");
	const char *op = index_operator(distance);
	if (!op) {
		log_error("index: the corpus's distance '%s' is unknown", distance);
		return RL_ERR;
	}
	int dim = 0;
	if (strcmp(ix.storage, "vector")) {
		/* the typmod of the expression the index is built on: halfvec(d) or bit(d) */
		char *lit = PQescapeLiteral(conn, ix.name, strlen(ix.name));
		if (!lit)
			return RL_ENOMEM;
		snprintf(dimq, sizeof(dimq), "SELECT atttypmod FROM pg_attribute WHERE attrelid = "
			 "to_regclass(%s) AND attnum = 1", lit);
		PQfreemem(lit);
		dim = (int)db_scalar_int(conn, dimq, 0, &ok);
		if (!ok || dim < 1) {
			log_error("index: no dimension on the expression of %s", ix.name);
			return RL_ERR;
		}
	}
	int bit = !strcmp(ix.storage, "bit");
	snprintf(fetch, sizeof(fetch), "$2 * %d", bit ? INDEX_BIT_OVERFETCH : 1);
	struct buf q, f;
	buf_init(&q, 0);
	buf_init(&f, 0);
	if (index_dense_sql(&q, ix.storage, dim, op, "$1", "$2", fetch) || strstr(q.data, "$q$"))
		goto out;
	const char *score = !strcmp(distance, "cosine") ? "1 - t.d" : "-t.d";
	if (buf_printf(&f,
		"CREATE OR REPLACE FUNCTION ragload_dense(qvec vector, k integer, "
		"ef_search integer DEFAULT NULL)\n"
		"RETURNS TABLE (chunk_id integer, score double precision)\n"
		"LANGUAGE plpgsql STABLE\n"
		"SET hnsw.ef_search = 200 SET hnsw.iterative_scan = off SET ivfflat.probes = 1\n"
		"AS $f$\n"
		"-- written by `ragload index` (index_dense_function): served by %s (%s, storage %s)\n"
		"DECLARE\n"
		"    ef int := greatest(k * %d, coalesce(ef_search, %d));\n"
		"    lists int;\n"
		"BEGIN\n"
		"    IF k IS NULL OR k < 1 OR qvec IS NULL THEN\n"
		"        RETURN;\n"
		"    END IF;\n",
		*ix.name ? ix.name : "no index (an exact scan)", *ix.kind ? ix.kind : "-", ix.storage,
		bit ? INDEX_BIT_OVERFETCH : 1, INDEX_DENSE_EF_SEARCH))
		goto out;
	if (!strcmp(ix.kind, "hnsw") &&
	    buf_printf(&f,
		"    PERFORM set_config('hnsw.ef_search', least(ef, 1000)::text, true);\n"
		"    IF ef > 1000 THEN\n"
		"        PERFORM set_config('hnsw.iterative_scan', 'strict_order', true);\n"
		"    END IF;\n"
		"    -- an IVFFlat index beside it is priced as a full scan (all lists probed)\n"
		"    SELECT max(coalesce((SELECT substring(o FROM 7)::int FROM unnest(c.reloptions) o\n"
		"                         WHERE o LIKE 'lists=%%'), 100)) INTO lists\n"
		"    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam\n"
		"    WHERE i.indrelid = 'embeddings'::regclass AND a.amname = 'ivfflat';\n"
		"    IF lists IS NOT NULL THEN\n"
		"        PERFORM set_config('ivfflat.probes', lists::text, true);\n"
		"    END IF;\n"))
		goto out;
	if (!strcmp(ix.kind, "ivfflat") &&
	    buf_printf(&f, "    PERFORM set_config('ivfflat.probes', '%d', true);\n",
		       (int)ceil(sqrt(ix.lists > 0 ? ix.lists : 100))))
		goto out;
	if (buf_printf(&f,
		"    RETURN QUERY EXECUTE $q$SELECT t.chunk_id, (%s)::float8 FROM (%s) t "
		"ORDER BY t.d, t.chunk_id$q$ USING qvec, k;\n"
		"END $f$", score, q.data))
		goto out;
	rc = db_exec(conn, f.data) ? RL_ERR : 0;
	written = 1;
out:
	if (!written)
		log_error("index: out of memory writing ragload_dense() for %s", ix.name);
	buf_release(&q);
	buf_release(&f);
	return rc;
}

int index_set_serving(PGconn *conn, const char *name)
{
	const char *p[1] = {name};
	if (db_exec(conn, "BEGIN"))
		return RL_ERR;
	PGresult *r = db_query(conn, "UPDATE ragload_indexes SET serving = false WHERE serving "
			       "AND index_name <> $1 RETURNING 1", 1, p);
	if (r) {
		PQclear(r);
		r = db_query(conn, "UPDATE ragload_indexes SET serving = true WHERE index_name = $1 "
			     "RETURNING 1", 1, p);
	}
	if (!r) {
		db_exec_quiet(conn, "ROLLBACK", NULL, 0);
		return RL_ERR;
	}
	PQclear(r);
	if (index_dense_function(conn)) {
		db_exec_quiet(conn, "ROLLBACK", NULL, 0);
		return RL_ERR;
	}
	return db_exec(conn, "COMMIT") ? RL_ERR : 0;
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
	return index_ddl_storage(conn, kind, "vector", 0, name, schema, distance, a, rows, sql,
				 len, params, plen);
}

int index_ddl_storage(PGconn *conn, const char *kind, const char *storage, int dim,
		      const char *name, const char *schema, const char *distance,
		      const struct index_args *a, long long rows, char *sql, size_t len,
		      char *params, size_t plen)
{
	const char *opclass = index_storage_opclass(storage, distance);
	char on[96], col[96];
	snprintf(on, sizeof(on), "%s%s", schema ? schema : "", schema ? "." : "");
	if (!strcmp(storage, "halfvec"))
		snprintf(col, sizeof(col), "((embedding_vector::halfvec(%d)))", dim);
	else if (!strcmp(storage, "bit"))
		snprintf(col, sizeof(col), "((binary_quantize(embedding_vector)::bit(%d)))", dim);
	else
		snprintf(col, sizeof(col), "embedding_vector");
	if (!strcmp(kind, "hnsw") && opclass) {
		snprintf(params, plen, "{\"m\": %d, \"ef_construction\": %d}", a->m,
			 a->ef_construction);
		snprintf(sql, len, "CREATE INDEX %s ON %sembeddings USING hnsw (%s %s) "
			 "WITH (m = %d, ef_construction = %d)", name, on, col, opclass, a->m,
			 a->ef_construction);
	} else if (!strcmp(kind, "ivfflat") && opclass && strcmp(storage, "bit")) {
		int lists = a->lists > 0 ? a->lists : index_default_lists(rows);
		snprintf(params, plen, "{\"lists\": %d}", lists);
		snprintf(sql, len, "CREATE INDEX %s ON %sembeddings USING ivfflat (%s %s) "
			 "WITH (lists = %d)", name, on, col, opclass, lists);
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
		log_error("index: unknown kind '%s', storage '%s' or distance '%s'", kind, storage,
			  distance);
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

int index_build(PGconn *conn, PGconn *watch, const char *kind, const char *storage,
		const struct index_corpus *f, const struct index_args *a, int progress, int quiet,
		struct index_built *out)
{
	char sql[1024], create_sql[1024], params[256];
	char tmp[96], name[64], label[48];
	int fts = !strcmp(kind, "fts");
	if (fts || !storage)
		storage = "vector";
	index_name_for(kind, storage, name, sizeof(name));
	const char *opclass = fts ? NULL : index_storage_opclass(storage, f->distance);
	long long rows = fts ? f->chunks : f->rows;
	snprintf(tmp, sizeof(tmp), "%s_new", name);
	snprintf(label, sizeof(label), "%s%s%s", kind, fts ? "" : " ", fts ? "" : storage);
	if (index_ddl_storage(conn, kind, storage, f->dim, tmp, NULL, f->distance, a, f->rows,
			      create_sql, sizeof(create_sql), params, sizeof(params)))
		return RL_ERR;
	snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", tmp);
	if (db_exec(conn, sql))
		return RL_ERR;
	double t0 = now_seconds();
	if (run_build(conn, watch, create_sql, progress, label))
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
	const char *p[7] = {name, kind, opclass, params, secs_s, rows_s, storage};
	PGresult *r = db_query(conn,
		"INSERT INTO ragload_indexes (index_name, kind, opclass, params, build_seconds, "
		"index_bytes, row_count, storage, builds) VALUES ($1::varchar, $2, $3, $4::jsonb, $5, "
		"pg_relation_size($1::text::regclass), $6, $7, NULL) ON CONFLICT (index_name) DO "
		"UPDATE SET kind = EXCLUDED.kind, opclass = EXCLUDED.opclass, params = EXCLUDED.params, "
		"build_seconds = EXCLUDED.build_seconds, index_bytes = EXCLUDED.index_bytes, "
		"row_count = EXCLUDED.row_count, storage = EXCLUDED.storage, builds = NULL, "
		"created_at = now() RETURNING index_bytes", 7, p);
	if (!r)
		return RL_ERR;
	long long bytes = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!quiet)
		fprintf(stderr, "ragload: %s %s %s: built in %.2f s, %.1f MB\n", label, name, params,
			secs, (double)bytes / 1048576.0);
	if (out) {
		snprintf(out->name, sizeof(out->name), "%s", name);
		out->seconds = secs;
		out->bytes = bytes;
		out->recall10 = NAN;
	}
	return 0;
}

/* ---- the recall check of --repeat ---------------------------------------------------------- */

int index_check_init(PGconn *conn, const struct index_corpus *f, struct index_check *c)
{
	memset(c, 0, sizeof(*c));
	const char *op = index_operator(f->distance);
	char sql[1024];
	(void)f;
	/* stored vectors in a fixed pseudo-random order, each left out of its own answers */
	PGresult *r = db_query(conn,
		"SELECT embedding_vector::text, chunk_id FROM embeddings ORDER BY hashint8(chunk_id), "
		"chunk_id LIMIT " INDEX_STR(INDEX_REPEAT_QUERIES), 0, NULL);
	if (!r)
		return RL_ERR;
	int nq = PQntuples(r), rc = RL_ENOMEM;
	c->qlit = calloc((size_t)(nq ? nq : 1), sizeof(*c->qlit));
	c->self = calloc((size_t)(nq ? nq : 1), sizeof(*c->self));
	c->truth = calloc((size_t)(nq ? nq : 1) * 10, sizeof(*c->truth));
	c->n_truth = calloc((size_t)(nq ? nq : 1), sizeof(*c->n_truth));
	if (!c->qlit || !c->self || !c->truth || !c->n_truth)
		goto out;
	c->nq = nq;
	for (int q = 0; q < nq; q++) {
		if (!(c->qlit[q] = strdup(PQgetvalue(r, q, 0))))
			goto out;
		c->self[q] = atoll(PQgetvalue(r, q, 1));
	}
	rc = RL_ERR;
	/* the exact top 10: no index may serve the ORDER BY */
	snprintf(sql, sizeof(sql), "SELECT chunk_id FROM embeddings WHERE chunk_id <> $2 ORDER BY "
		 "embedding_vector %s $1::vector, chunk_id LIMIT 10", op);
	if (db_exec(conn, "BEGIN; SET LOCAL enable_indexscan = off"))
		goto out;
	for (int q = 0; q < nq; q++) {
		char self[24];
		snprintf(self, sizeof(self), "%lld", c->self[q]);
		const char *qp[2] = {c->qlit[q], self};
		PGresult *t = db_query(conn, sql, 2, qp);
		if (!t) {
			db_exec_quiet(conn, "ROLLBACK", NULL, 0);
			goto out;
		}
		c->n_truth[q] = PQntuples(t);
		for (int i = 0; i < c->n_truth[q]; i++)
			c->truth[q * 10 + i] = atoll(PQgetvalue(t, i, 0));
		PQclear(t);
	}
	rc = db_exec(conn, "COMMIT") ? RL_ERR : 0;
out:
	PQclear(r);
	if (rc)
		index_check_release(c);
	return rc;
}

double index_check_recall(PGconn *conn, const struct index_check *c, const char *kind,
			  const char *storage, const struct index_corpus *f, const char *name,
			  char *search, size_t slen)
{
	struct index_serving s;
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.kind, sizeof(s.kind), "%s", kind);
	snprintf(s.storage, sizeof(s.storage), "%s", storage);
	int ok;
	char q[256], sets[128];
	snprintf(q, sizeof(q), "SELECT coalesce((SELECT (params->>'lists')::int FROM "
		 "ragload_indexes WHERE index_name = '%s'), 100)", name);
	s.lists = (int)db_scalar_int(conn, q, 100, &ok);
	long fetch;
	index_serve_sets(&s, 11, INDEX_REPEAT_EF_SEARCH, sets, sizeof(sets), &fetch);
	int hnsw = !strcmp(kind, "hnsw");
	if (hnsw)
		snprintf(search, slen, "{\"ef_search\": %ld%s", fetch > INDEX_REPEAT_EF_SEARCH ?
			 (fetch < 1000 ? fetch : 1000) : INDEX_REPEAT_EF_SEARCH, "");
	else
		snprintf(search, slen, "{\"probes\": %d", (int)ceil(sqrt(s.lists)));
	if (!strcmp(storage, "bit"))
		snprintf(search + strlen(search), slen - strlen(search), ", \"overfetch\": %d",
			 INDEX_BIT_OVERFETCH);
	snprintf(search + strlen(search), slen - strlen(search), "}");
	struct buf sql;
	buf_init(&sql, 0);
	char fetch_s[32];
	snprintf(fetch_s, sizeof(fetch_s), "%ld", fetch);
	double sum = 0;
	int n = 0;
	/* the other kind priced out, the sequential scan off: this index answers */
	/* 11 rows: the query's own row is left out */
	if (index_dense_sql(&sql, storage, f->dim, index_operator(f->distance), "$1::vector", "11",
			    fetch_s) ||
	    db_exec(conn, "BEGIN; SET LOCAL enable_seqscan = off") || db_exec(conn, sets) ||
	    db_exec(conn, hnsw ? "SET LOCAL ivfflat.probes = 32768" : "SET LOCAL hnsw.ef_search = 1000"))
		goto out;
	for (int qi = 0; qi < c->nq; qi++) {
		const char *qp[1] = {c->qlit[qi]};
		PGresult *r = db_query(conn, sql.data, 1, qp);
		if (!r)
			goto out;
		int hit = 0, kept = 0;
		for (int i = 0; i < PQntuples(r) && kept < 10; i++) {
			long long id = atoll(PQgetvalue(r, i, 0));
			if (id == c->self[qi])
				continue;
			kept++;
			for (int j = 0; j < c->n_truth[qi]; j++)
				hit += id == c->truth[qi * 10 + j];
		}
		PQclear(r);
		sum += c->n_truth[qi] ? (double)hit / c->n_truth[qi] : 1.0;
		n++;
	}
out:
	db_exec_quiet(conn, "ROLLBACK", NULL, 0);
	buf_release(&sql);
	return n == c->nq && n > 0 ? sum / n : NAN;
}

void index_check_release(struct index_check *c)
{
	for (int q = 0; c->qlit && q < c->nq; q++)
		free(c->qlit[q]);
	free(c->qlit);
	free(c->self);
	free(c->truth);
	free(c->n_truth);
	memset(c, 0, sizeof(*c));
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
