/*
 * status.c — `ragload status`, a read-only look at the corpus and the run log, for the person
 * checking on a nightly job. A run under way that reports its progress into its row (the
 * model fit of a first ingest: pipeline/modelcmd.c) is shown with that line.
 */
#include "status.h"
#include "../lib/common.h"
#include "../lib/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_table(PGresult *r)
{
	int nf = PQnfields(r), nr = PQntuples(r);
	int w[32];
	for (int c = 0; c < nf && c < 32; c++) {
		w[c] = (int)strlen(PQfname(r, c));
		for (int i = 0; i < nr; i++)
			if (PQgetlength(r, i, c) > w[c])
				w[c] = PQgetlength(r, i, c);
		if (w[c] > 60)
			w[c] = 60;
	}
	for (int c = 0; c < nf && c < 32; c++)
		printf("  %-*s", w[c], PQfname(r, c));
	printf("\n");
	for (int i = 0; i < nr; i++) {
		for (int c = 0; c < nf && c < 32; c++)
			printf("  %-*.*s", w[c], w[c], PQgetvalue(r, i, c));
		printf("\n");
	}
}

int status_run(const struct rl_config *cfg)
{
	PGconn *conn = NULL;
	PGresult *r = NULL;
	int status = db_open_corpus(cfg->conninfo, 0, 0, 0, &conn);
	if (status != EXIT_DONE)
		goto out;
	status = EXIT_FATAL;
	int ver = db_schema_version(conn);
	r = db_query(conn,
		"SELECT current_database(), (SELECT count(*) FROM documents), "
		"(SELECT count(*) FROM chunks), (SELECT count(*) FROM embeddings), "
		"coalesce((SELECT value FROM ragload_corpus WHERE key = 'model'), '-'), "
		"coalesce((SELECT value FROM ragload_corpus WHERE key = 'distance'), '-'), "
		"coalesce((SELECT value FROM ragload_corpus WHERE key = 'generation'), '1'), "
		"coalesce((SELECT value FROM ragload_corpus WHERE key = 'chunking'), '-'), "
		"pg_size_pretty(pg_total_relation_size('documents') + pg_total_relation_size('chunks') "
		"+ pg_total_relation_size('embeddings')), "
		"(SELECT value FROM ragload_corpus WHERE key = 'prev_generation')", 0, NULL);
	if (!r)
		goto out;
	printf("corpus %s (schema version %d)\n", PQgetvalue(r, 0, 0), ver);
	printf("  documents %s, chunks %s, embeddings %s, %s on disk\n", PQgetvalue(r, 0, 1),
	       PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 8));
	printf("  generation %s: model %s, chunking (tokens/overlap) %s, distance %s\n",
	       PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 5));
	if (!PQgetisnull(r, 0, 9))
		printf("  generation %s kept for `ragload reindex --rollback`\n", PQgetvalue(r, 0, 9));
	PQclear(r);
	/* the BM25 postings, and their indexes missing while a first load runs (it builds them at
	 * its end) or after one stopped before it (init or the next ingest builds them) */
	r = db_query(conn,
		"SELECT pg_size_pretty(pg_total_relation_size(to_regclass('ragload_bm25_postings'))), "
		"(SELECT string_agg(n, ', ') FROM unnest(ARRAY['ragload_bm25_postings_term_idx', "
		"'ragload_bm25_postings_chunk_idx']) n WHERE to_regclass(n) IS NULL) "
		"WHERE to_regclass('ragload_bm25_postings') IS NOT NULL", 0, NULL);
	if (!r)
		goto out;
	if (PQntuples(r) == 1 && PQgetisnull(r, 0, 1))
		printf("  BM25 postings %s with their indexes\n", PQgetvalue(r, 0, 0));
	else if (PQntuples(r) == 1)
		printf("  BM25 postings %s; missing: %s (a first load builds them at its end; after "
		       "one that stopped before it, `ragload init` or the next ingest does)\n",
		       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	PQclear(r);
	r = db_query(conn,
		"SELECT index_name AS index, kind, CASE WHEN kind = 'fts' THEN '' ELSE storage END "
		"AS storage, params::text AS settings, "
		"round(build_seconds::numeric, 2) AS build_s, pg_size_pretty(index_bytes) AS size, "
		"to_char(created_at, 'YYYY-MM-DD HH24:MI:SS') AS built, "
		"CASE WHEN to_regclass(index_name) IS NULL THEN 'missing' WHEN serving THEN "
		"'live, serves searches' ELSE 'live' END AS state "
		"FROM ragload_indexes ORDER BY index_name", 0, NULL);
	if (!r)
		goto out;
	printf("\nindexes\n");
	if (PQntuples(r))
		print_table(r);
	else
		printf("  none (run `ragload index`)\n");
	PQclear(r);
	/* a run under way that reports its progress (the model fit of a first ingest) */
	char sql[640];
	snprintf(sql, sizeof(sql),
		"SELECT run_id, command, counts->>'progress', "
		"round(extract(epoch FROM now() - (counts->>'progress_at')::timestamptz))::bigint, "
		"EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
		"AND objsubid = 2 AND classid = %lld::oid AND pid = (counts->>'progress_pid')::int "
		"AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) "
		"FROM ragload_runs WHERE status = 'running' AND counts ? 'progress' ORDER BY run_id",
		(long long)RAGLOAD_LOCK_CLASS);
	r = db_query(conn, sql, 0, NULL);
	if (!r)
		goto out;
	if (PQntuples(r))
		printf("\nunder way\n");
	for (int i = 0; i < PQntuples(r); i++)
		printf("  run %s %s: %s (%s s ago%s)\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		       PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		       *PQgetvalue(r, i, 4) == 't' ? "" : "; no run holds the corpus lock: it stopped "
		       "without finishing");
	PQclear(r);
	r = db_query(conn,
		"SELECT run_id AS run, command, to_char(started_at, 'YYYY-MM-DD HH24:MI:SS') AS started, "
		"coalesce(round(extract(epoch FROM ended_at - started_at)::numeric, 1)::text, '-') "
		"AS seconds, status, (counts - 'progress' - 'progress_at' - 'progress_pid')::text "
		"AS counts FROM ragload_runs "
		"ORDER BY run_id DESC LIMIT 10", 0, NULL);
	if (!r)
		goto out;
	printf("\nlast runs\n");
	if (PQntuples(r))
		print_table(r);
	else
		printf("  none\n");
	status = EXIT_DONE;
out:
	PQclear(r);
	if (conn)
		PQfinish(conn);
	return status;
}
