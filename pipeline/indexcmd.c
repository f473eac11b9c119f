/*
 * indexcmd.c — `ragload index`:
 *
 *   db_open_corpus(lock); index_corpus_facts(); index_build_memory();
 *   for each storage (--storage vector,halfvec,bit): index_build(hnsw), index_build(ivfflat)
 *       (none on bit) — each --repeat N times, with a recall check per build when N > 1;
 *   index_build(fts); index_set_serving(the first storage's HNSW, when one was built: with
 *       ragload_dense() rewritten for it, index_dense_function, in the same transaction); ANALYZE;
 *
 * Each build runs under a temporary name and is swapped in by rename (stages/index.c), so
 * readers keep the old index until the new one is ready; progress comes from a second
 * connection reading pg_stat_progress_create_index.
 *
 * --repeat N: pgvector's parallel HNSW build is not deterministic (one graph can miss
 * neighbours another finds), so one build's recall is a draw. Each index is built N times;
 * each build's time, size and recall@10 (index_check_*: sample queries against an exact scan)
 * go into ragload_indexes.builds, and the median and spread (min–max) are printed. The last
 * build stays.
 */
#include "indexcmd.h"
#include "../lib/common.h"
#include "../lib/db.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INDEXCMD_MAX_REPEAT 100

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

/* median, min and max of v[0..n) (sorted in place) */
static void spread(double *v, int n, double *med, double *lo, double *hi)
{
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	*lo = v[0];
	*hi = v[n - 1];
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One index built a->repeat times; the builds recorded when there is more than one. */
static int build_repeated(PGconn *conn, PGconn *watch, const char *kind, const char *storage,
			  const struct index_corpus *f, const struct index_args *a,
			  struct index_check *check, int progress, int quiet)
{
	int n = a->repeat > 1 ? a->repeat : 1;
	double secs[INDEXCMD_MAX_REPEAT], recall[INDEXCMD_MAX_REPEAT];
	struct index_built b;
	struct buf js;
	char search[128] = "{}";
	int rc = 0;
	buf_init(&js, 0);
	for (int i = 0; i < n && !rc; i++) {
		if ((rc = index_build(conn, watch, kind, storage, f, a, progress, quiet, &b)))
			break;
		secs[i] = b.seconds;
		recall[i] = n > 1 ? index_check_recall(conn, check, kind, storage, f, b.name, search,
						      sizeof(search)) : NAN;
		if (n > 1 && !quiet)
			fprintf(stderr, "ragload: %s %s build %d/%d: %.2f s, recall@10 %.4f at %s\n",
				kind, storage, i + 1, n, secs[i], recall[i], search);
		rc = buf_printf(&js, "%s{\"build_seconds\": %.3f, \"index_bytes\": %lld, "
				"\"recall10\": %.6g}", i ? ", " : "[", b.seconds, b.bytes,
				isfinite(recall[i]) ? recall[i] : -1);
	}
	if (rc || n == 1)
		goto out;
	if ((rc = buf_printf(&js, "]")))
		goto out;
	char body[256];
	snprintf(body, sizeof(body), "{\"search\": %s, \"queries\": %d}", search, check->nq);
	const char *p[3] = {b.name, js.data, body};
	/* recall -1 (a failed check) becomes null */
	PGresult *r = db_query(conn, "UPDATE ragload_indexes SET builds = jsonb_build_object("
			       "'runs', (SELECT jsonb_agg(CASE WHEN (x->>'recall10')::float8 < 0 THEN "
			       "x || '{\"recall10\": null}' ELSE x END) FROM jsonb_array_elements($2::jsonb) x)) "
			       "|| $3::jsonb WHERE index_name = $1 RETURNING 1", 3, p);
	if (!r) {
		rc = RL_ERR;
		goto out;
	}
	PQclear(r);
	double sm, slo, shi, rm, rlo, rhi;
	spread(secs, n, &sm, &slo, &shi);
	spread(recall, n, &rm, &rlo, &rhi);
	if (!quiet)
		fprintf(stderr, "ragload: %s %s over %d builds: build %.2f s (%.2f–%.2f), recall@10 "
			"%.4f (%.4f–%.4f) at %s\n", kind, storage, n, sm, slo, shi, rm, rlo, rhi,
			search);
out:
	buf_release(&js);
	return rc;
}

int indexcmd_run(const struct rl_config *cfg, const struct index_args *given)
{
	struct index_args args = *given, *a = &args;
	if (a->repeat <= 0)
		a->repeat = cfg->index.repeat;
	PGconn *conn = NULL, *watch = NULL;
	struct index_check check = {0};
	char storages[64], serve[64] = "", *save = NULL;
	const char *list = a->storage && *a->storage ? a->storage : cfg->index.storage;
	snprintf(storages, sizeof(storages), "%s", *list ? list : "halfvec");
	/* check the list before connecting: a typo must not cost a build */
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s", storages);
	for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (!index_storage_ok(t)) {
			log_error("index: storage '%s': expected %s (a comma list)", t, INDEX_STORAGES);
			return EXIT_USAGE;
		}
	if (a->repeat > INDEXCMD_MAX_REPEAT) {
		log_error("index: --repeat %d: at most %d", a->repeat, INDEXCMD_MAX_REPEAT);
		return EXIT_USAGE;
	}
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
	int vector_kinds = !a->only || strcmp(a->only, "fts");
	if (vector_kinds && a->repeat > 1 && index_check_init(conn, &f, &check))
		goto out;
	save = NULL;
	for (char *st = strtok_r(storages, ",", &save); st && vector_kinds;
	     st = strtok_r(NULL, ",", &save)) {
		static const char *const kinds[] = {"hnsw", "ivfflat"};
		for (size_t i = 0; i < RL_ARRAY_LEN(kinds); i++) {
			if (a->only && strcmp(a->only, kinds[i]))
				continue;
			if (!strcmp(st, "bit") && !strcmp(kinds[i], "ivfflat")) {
				if (a->only)
					log_info("index: no IVFFlat on bit (binary quantisation is "
						 "built as HNSW only)");
				continue;
			}
			if (build_repeated(conn, watch, kinds[i], st, &f, a, &check, progress,
					   cfg->quiet))
				goto out;
			if (!*serve && !strcmp(kinds[i], "hnsw"))
				index_name_for(kinds[i], st, serve, sizeof(serve));
		}
	}
	if ((!a->only || !strcmp(a->only, "fts")) &&
	    index_build(conn, watch, "fts", NULL, &f, a, progress, cfg->quiet, NULL))
		goto out;
	/* serving marked and ragload_dense() rewritten for it in one transaction; else the
	 * function follows whatever serves now (an IVFFlat index, or none) */
	if (*serve ? index_set_serving(conn, serve) : index_dense_function(conn))
		goto out;
	if (*serve && !cfg->quiet)
		fprintf(stderr, "ragload: searches are served by %s\n", serve);
	db_exec(conn, "ANALYZE embeddings, chunks");
	status = EXIT_DONE;
out:
	index_check_release(&check);
	if (watch)
		PQfinish(watch);
	if (conn)
		PQfinish(conn);
	return status;
}
