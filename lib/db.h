/*
 * db.h — libpq helpers: connecting (conninfo or PG* environment), running statements with
 * errors reported once, the run lock, migrations and the run log.
 */
#ifndef RAGLOAD_DB_H
#define RAGLOAD_DB_H

#include "common.h"

#include <libpq-fe.h>

/* Connects with conninfo ("" = PG* environment, .pgpass, sslmode as libpq does). On failure
 * logs libpq's message (which never contains the password) and returns NULL. */
PGconn *db_connect(const char *conninfo);
/* Runs a statement that returns no rows. 0 or -1 (message logged, prefixed with what). */
int db_exec(PGconn *conn, const char *sql);
/* Like db_exec, but hands the message to the caller (into err) instead of logging it. */
int db_exec_quiet(PGconn *conn, const char *sql, char *err, size_t errlen);
/* Runs a query; returns the result when its status is PGRES_TUPLES_OK, else logs and NULL. */
PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params);
/* First column of the first row as int64, or def when there is no row or it is NULL. *ok (when
 * ok is not NULL) is set to 1 when the query ran, 0 when it failed (logged); on failure the
 * function returns def, so a caller must test *ok, not the value, to tell an error apart. */
int64_t db_scalar_int(PGconn *conn, const char *sql, int64_t def, int *ok);

/*
 * The corpus lock: session-level advisory locks in class RAGLOAD_LOCK_CLASS. shard 0 = the
 * whole corpus: exclusive on key 0. shard i > 0 (ingest --shard i/N): shared on key 0 plus
 * exclusive on key i, so shards load side by side but never beside a whole-corpus run or the
 * same shard twice. Waits up to wait_s seconds (0 = try once). Returns 0 when held, 1 when
 * another run holds it, -1 on error.
 */
#define RAGLOAD_LOCK_CLASS 0x52414700
int db_lock(PGconn *conn, int shard, int wait_s);
/* db_lock for a command: returns EXIT_DONE when held, else the exit status to stop with
 * (EXIT_LOCKED, said on stderr, or EXIT_FATAL). */
int db_take_lock(PGconn *conn, int shard, int wait_s);

/*
 * db_open_corpus — the one way a command opens a corpus: connects, checks that `ragload init`
 * ran and that the schema is at least DB_SCHEMA_MIN (every column the code reads or writes
 * exists: load.c writes documents.source_input, added by migration 0003), and with lock set
 * takes the run lock (db_lock's shard and wait_s). Returns EXIT_DONE with *out (the caller
 * closes it with PQfinish), or the exit status to stop with (EXIT_FATAL, EXIT_LOCKED), the
 * reason said on stderr.
 */
#define DB_SCHEMA_MIN 4
/* ingest needs 7: a directory input's source keys start with its name (migration 0007) */
#define DB_SCHEMA_DIR_KEYS 7
int db_open_corpus(const char *conninfo, int lock, int shard, int wait_s, PGconn **out);

/*
 * db_reconnect — after a lost connection or a server restart: closes *conn and connects again
 * with backoff from 0.25 s doubling to 5 s, for up to timeout_s seconds; with lock set, the new
 * session takes the run lock again (shard, lock_wait_s), since the old session's lock died
 * with it. Returns 0 with a new *conn, or -1 (logged) with *conn NULL.
 */
int db_reconnect(const char *conninfo, PGconn **conn, int lock, int shard, int lock_wait_s,
		 int timeout_s);

/* Whether a connection answers (a server restart leaves it looking fine until used). */
int db_alive(PGconn *c);

/* Applies config/migrations (compiled in) in order, once each; idempotent. */
int db_migrate(PGconn *conn);
/* Highest applied schema version, 0 when none, -1 on error. */
int db_schema_version(PGconn *conn);

/*
 * Least privilege (init --roles): ragload_loader writes the corpus tables, ragload_reader reads
 * them and writes the chat tables; schema changes (init, index, reindex) stay with the owner.
 * Idempotent; run again after a migration to grant on new tables.
 */
#define ROLE_LOADER "ragload_loader"
#define ROLE_READER "ragload_reader"
int db_create_roles(PGconn *conn);

/* Run log (ragload_runs). run_begin returns the run id or -1. */
int64_t db_run_begin(PGconn *conn, const char *command, char *const *inputs, int n_inputs);
int db_run_end(PGconn *conn, int64_t run_id, const char *status, const char *counts_json,
	       const char *errors);

/* Builds a PostgreSQL array literal {"a","b"} from strings, escaping as array input needs. */
int db_text_array(struct buf *out, char *const *items, size_t n);

#endif
