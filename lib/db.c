/*
 * db.c — libpq helpers, opening a corpus (schema check, run lock), reconnecting, migrations
 * and the run log.
 *
 * Migrations are compiled into the binary (build/gen/migrations.c, generated from
 * the .sql files of config/migrations by the Makefile), so `ragload init` works from any directory and
 * applies exactly the schema the binary was built for.
 */
#include "db.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Generated: name/sql pairs in version order, terminated by a NULL name. */
struct migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct migration rl_migrations[];

static void log_pg(PGconn *conn, const char *what, const char *msg)
{
	(void)conn;
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	log_error("%s: %.*s", what, (int)n, msg);
}

static void notice_sink(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* NOTICEs such as "extension already exists" are not the user's concern */
}

PGconn *db_connect(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo ? conninfo : "");
	if (PQstatus(conn) != CONNECTION_OK) {
		log_pg(conn, "cannot connect to PostgreSQL", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_sink, NULL);
	PGresult *r = PQexec(conn, "SET client_min_messages = warning");
	PQclear(r);
	return conn;
}

int db_exec(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char what[96];
		snprintf(what, sizeof(what), "%.80s", sql);
		log_pg(conn, what, PQresultErrorMessage(r));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int db_exec_quiet(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		if (err)
			snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult *r = nparams ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
			      : PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char what[96];
		snprintf(what, sizeof(what), "%.80s", sql);
		log_pg(conn, what, PQresultErrorMessage(r));
		PQclear(r);
		return NULL;
	}
	return r;
}

int64_t db_scalar_int(PGconn *conn, const char *sql, int64_t def, int *ok)
{
	PGresult *r = db_query(conn, sql, 0, NULL);
	if (ok)
		*ok = r != NULL;
	if (!r)
		return def;
	int64_t v = def;
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* One attempt: 1 held, 0 busy, -1 error. */
static int try_lock(PGconn *conn, int shard)
{
	char sql[256];
	if (shard == 0)
		snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%d, 0)", RAGLOAD_LOCK_CLASS);
	else
		snprintf(sql, sizeof(sql),
			 "SELECT CASE WHEN NOT pg_try_advisory_lock_shared(%d, 0) THEN false "
			 "WHEN pg_try_advisory_lock(%d, %d) THEN true "
			 "ELSE NOT pg_advisory_unlock_shared(%d, 0) END",
			 RAGLOAD_LOCK_CLASS, RAGLOAD_LOCK_CLASS, shard, RAGLOAD_LOCK_CLASS);
	PGresult *r = db_query(conn, sql, 0, NULL);
	if (!r)
		return -1;
	int got = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return got;
}

int db_lock(PGconn *conn, int shard, int wait_s)
{
	double deadline = now_seconds() + wait_s;
	int told = 0;
	for (;;) {
		int got = try_lock(conn, shard);
		if (got != 0)
			return got > 0 ? 0 : -1;
		if (now_seconds() >= deadline)
			return 1;
		if (!told) {
			log_info("another ragload run holds the lock on this corpus; waiting up to %d s",
				 wait_s);
			told = 1;
		}
		usleep(200 * 1000);
	}
}

int db_take_lock(PGconn *conn, int shard, int wait_s)
{
	int lk = db_lock(conn, shard, wait_s);
	if (lk > 0)
		log_error("another ragload run holds the lock on this corpus");
	return lk == 0 ? EXIT_DONE : lk > 0 ? EXIT_LOCKED : EXIT_FATAL;
}

int db_schema_version(PGconn *conn)
{
	int ok;
	int64_t exists = db_scalar_int(
		conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'ragload_schema_version' "
		      "AND schemaname = current_schema()", 0, &ok);
	if (!ok)
		return -1;
	if (!exists)
		return 0;
	int64_t v = db_scalar_int(conn, "SELECT max(version) FROM ragload_schema_version", 0, &ok);
	return ok ? (int)v : -1;
}

int db_open_corpus(const char *conninfo, int lock, int shard, int wait_s, PGconn **out)
{
	*out = NULL;
	PGconn *conn = db_connect(conninfo);
	if (!conn)
		return EXIT_FATAL;
	int v = db_schema_version(conn);
	if (v == 0) {
		log_error("no ragload corpus in database %s: run 'ragload init' first", PQdb(conn));
		goto fail;
	}
	if (v > 0 && v < DB_SCHEMA_MIN) {
		log_error("the schema of database %s is at version %d, this ragload needs %d: run "
			  "'ragload init' to upgrade it", PQdb(conn), v, DB_SCHEMA_MIN);
		goto fail;
	}
	if (v < 0)
		goto fail;
	if (lock) {
		int status = db_take_lock(conn, shard, wait_s);
		if (status != EXIT_DONE) {
			PQfinish(conn);
			return status;
		}
	}
	*out = conn;
	return EXIT_DONE;
fail:
	PQfinish(conn);
	return EXIT_FATAL;
}

int db_reconnect(const char *conninfo, PGconn **conn, int lock, int shard, int lock_wait_s,
		 int timeout_s)
{
	double deadline = now_seconds() + timeout_s, wait = 0.25;
	if (*conn)
		PQfinish(*conn);
	*conn = NULL;
	for (;;) {
		PGconn *c = PQconnectdb(conninfo);
		if (PQstatus(c) == CONNECTION_OK) {
			PQclear(PQexec(c, "SET client_min_messages = warning"));
			if (!lock || db_lock(c, shard, lock_wait_s) == 0) {
				*conn = c;
				log_warn("reconnected to PostgreSQL");
				return 0;
			}
		}
		PQfinish(c);
		if (now_seconds() + wait > deadline) {
			log_error("could not reconnect to PostgreSQL within %d s; giving up", timeout_s);
			return -1;
		}
		usleep((useconds_t)(wait * 1e6));
		wait = wait * 2 > 5 ? 5 : wait * 2;
	}
}

int db_alive(PGconn *c)
{
	if (!c || PQstatus(c) != CONNECTION_OK)
		return 0;
	PGresult *r = PQexec(c, "SELECT 1");
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

int db_migrate(PGconn *conn)
{
	int rc = -1;
	/* Serialise concurrent inits; the lock ends with the transaction. */
	if (db_exec(conn, "BEGIN") ||
	    db_exec(conn, "SELECT pg_advisory_xact_lock(1380009728, 0)") ||
	    db_exec(conn, "CREATE TABLE IF NOT EXISTS ragload_schema_version ("
			  "version INT PRIMARY KEY, name VARCHAR NOT NULL, "
			  "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"))
		goto out;
	int current = db_schema_version(conn);
	if (current < 0)
		goto out;
	for (const struct migration *m = rl_migrations; m->name; m++) {
		if (m->version <= current)
			continue;
		log_info("applying migration %04d %s", m->version, m->name);
		if (db_exec(conn, m->sql))
			goto out;
		char ver[16];
		snprintf(ver, sizeof(ver), "%d", m->version);
		const char *params[2] = {ver, m->name};
		PGresult *r = PQexecParams(conn,
			"INSERT INTO ragload_schema_version (version, name) VALUES ($1, $2)", 2, NULL,
			params, NULL, NULL, 0);
		int bad = PQresultStatus(r) != PGRES_COMMAND_OK;
		if (bad)
			log_pg(conn, "recording migration", PQresultErrorMessage(r));
		PQclear(r);
		if (bad)
			goto out;
	}
	rc = db_exec(conn, "COMMIT");
out:
	if (rc)
		db_exec_quiet(conn, "ROLLBACK", NULL, 0);
	return rc;
}

int db_text_array(struct buf *out, char *const *items, size_t n)
{
	int rc = buf_putc(out, '{');
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = buf_putc(out, ',');
		if (!rc)
			rc = buf_putc(out, '"');
		for (const char *p = items[i]; *p && !rc; p++) {
			if (*p == '"' || *p == '\\')
				rc = buf_putc(out, '\\');
			if (!rc)
				rc = buf_putc(out, *p);
		}
		if (!rc)
			rc = buf_putc(out, '"');
	}
	return rc ? rc : buf_putc(out, '}');
}

int64_t db_run_begin(PGconn *conn, const char *command, char *const *inputs, int n_inputs)
{
	struct buf arr;
	buf_init(&arr, 0);
	if (db_text_array(&arr, inputs, (size_t)n_inputs)) {
		buf_release(&arr);
		return -1;
	}
	const char *params[2] = {command, arr.data};
	PGresult *r = db_query(conn,
		"INSERT INTO ragload_runs (command, inputs) VALUES ($1, $2) RETURNING run_id", 2,
		params);
	buf_release(&arr);
	if (!r)
		return -1;
	int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return id;
}

int db_run_end(PGconn *conn, int64_t run_id, const char *status, const char *counts_json,
	       const char *errors)
{
	if (run_id < 0)
		return 0;
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)run_id);
	const char *params[4] = {id, status, counts_json ? counts_json : "{}", errors};
	PGresult *r = PQexecParams(conn,
		"UPDATE ragload_runs SET ended_at = now(), status = $2, counts = $3::jsonb, "
		"errors = $4 WHERE run_id = $1", 4, NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc)
		log_pg(conn, "updating the run log", PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

int db_create_roles(PGconn *conn)
{
	static const char *const sql[] = {
		/* Roles belong to the cluster: an init in another database may create them at the
		 * same moment (the loser of that race sees unique_violation), so either error means
		 * the role is there. */
		"DO $$ BEGIN "
		"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" ROLE_LOADER "') THEN "
		"BEGIN CREATE ROLE " ROLE_LOADER " LOGIN; "
		"EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END IF; "
		"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" ROLE_READER "') THEN "
		"BEGIN CREATE ROLE " ROLE_READER " LOGIN; "
		"EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END IF; END $$",
		"GRANT USAGE ON SCHEMA public TO " ROLE_LOADER ", " ROLE_READER,
		/* loader: the corpus and what a load records */
		"GRANT SELECT, INSERT, UPDATE, DELETE ON documents, chunks, embeddings, ragload_models, "
		"ragload_corpus, ragload_runs TO " ROLE_LOADER,
		"GRANT SELECT ON ragload_schema_version, ragload_indexes TO " ROLE_LOADER,
		/* BM25: the loader's writes keep the postings and their statistics */
		"GRANT SELECT, INSERT, DELETE ON ragload_bm25_postings, ragload_bm25_stats, "
		"ragload_bm25_df TO " ROLE_LOADER,
		"GRANT USAGE, SELECT, UPDATE ON SEQUENCE documents_doc_id_seq, chunks_chunk_id_seq, "
		"embeddings_embedding_id_seq, ragload_runs_run_id_seq TO " ROLE_LOADER,
		/* reader: reads the corpus, writes the chat tables */
		"GRANT SELECT ON documents, chunks, embeddings, ragload_models, ragload_corpus, "
		"ragload_indexes, ragload_schema_version, ragload_bm25_postings, ragload_bm25_stats, "
		"ragload_bm25_df TO " ROLE_READER,
		"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON documents, chunks, embeddings FROM "
		ROLE_READER,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON users, chat_sessions, chat_messages TO "
		ROLE_READER,
		"GRANT USAGE, SELECT ON SEQUENCE users_user_id_seq, chat_sessions_session_id_seq, "
		"chat_messages_message_id_seq TO " ROLE_READER,
	};
	for (size_t i = 0; i < RL_ARRAY_LEN(sql); i++)
		if (db_exec(conn, sql[i]))
			return -1;
	log_info("roles %s (loads the corpus) and %s (reads it, writes the chat tables) ready",
		 ROLE_LOADER, ROLE_READER);
	return 0;
}
