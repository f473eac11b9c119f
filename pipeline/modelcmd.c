/*
 * modelcmd.c — `ragload model`: the built-in model fitted on inputs without loading them
 * (read -> normalize -> chunk -> model_fit_add, the pass ingest also runs first on an empty
 * corpus), and a corpus's model exported to or imported from a file.
 *
 *   fit:    model_fit_inputs(); save_model();
 *   export: db_open_corpus(); corpus_current_model(); save_model();
 *   import: db_open_corpus(); model_read_file(); corpus_store_model();
 *
 * While ingest fits the model, fit_progress_note() gives the fit's progress line (reading,
 * LSA, pairs, epoch, loss, ETA) to the run's row of ragload_runs as well, at most once a
 * second, where `ragload status`, another process, shows it.
 */
#include "modelcmd.h"
#include "../lib/common.h"
#include "../lib/db.h"
#include "../models/store.h"
#include "../stages/read.h"
#include "../stages/normalize.h"
#include "../stages/chunk.h"

#include <stdlib.h>
#include <string.h>

/* ---- the fit pass --------------------------------------------------------------------------- */

struct fit_ctx {
	const struct rl_config *cfg;
	struct model_fit *fit;
	struct counts *counts;
	uint64_t docs;
	int failed;
	uint64_t raw_bytes;           /* for progress */
	struct input_meter *meter;    /* may be NULL */
};

static int fit_emit(void *ctx, struct read_item *it)
{
	struct fit_ctx *fc = ctx;
	struct doc *d = NULL;
	int rc = normalize_item(&fc->cfg->norm, it, &d, fc->counts);
	fc->raw_bytes += it->raw_bytes;
	meter_note(fc->meter, it->input, it->raw_bytes);
	read_item_free(it);
	if (rc < 0 || (rc == 0 && d && chunk_doc(&fc->cfg->chunk, d))) {
		doc_free(d);
		fc->failed = 1;
		return RL_ERR;
	}
	if (rc == RL_SKIP || !d)
		return 0;
	for (size_t i = 0; i < d->n_chunks; i++)
		model_fit_add_titled(fc->fit, d->title, d->text + d->chunks[i].start,
				     d->chunks[i].end - d->chunks[i].start);
	doc_free(d);
	++fc->docs;
	if (progress_wanted()) {
		uint64_t total = meter_total(fc->meter);
		char pct[32] = "";
		if (total)
			snprintf(pct, sizeof(pct), ", %.0f%% of %.1f MB",
				 100.0 * (double)meter_done(fc->meter) / (double)total,
				 (double)total / 1e6);
		progress_update(0, "ragload: fitting the model: reading documents: %llu read "
				"(%.1f MB%s; the fit samples up to %llu)",
				(unsigned long long)fc->docs, (double)fc->raw_bytes / 1e6, pct,
				(unsigned long long)fc->cfg->model.fit_sample_docs);
	}
	return fc->docs >= fc->cfg->model.fit_sample_docs ? 1 : 0;
}

int model_fit_inputs(const struct rl_config *cfg, char *const *paths, int n_paths,
		     struct input_meter *meter, struct model **out)
{
	struct counts quiet;
	counts_init(&quiet, 1); /* the load pass reports bad input; do not say it twice */
	struct fit_ctx fc = {cfg, NULL, &quiet, 0, 0, 0, meter};
	int rc = model_fit_begin(&cfg->model, &fc.fit);
	if (rc)
		goto out;
	double t0 = now_seconds();
	progress_update(1, "ragload: fitting the model: reading documents");
	rc = read_inputs(&cfg->read, paths, n_paths, fit_emit, &fc, &quiet);
	if (fc.failed || rc < 0) {
		rc = RL_ERR;
		goto out;
	}
	progress_update(1, "ragload: fitting the model on %llu documents",
			(unsigned long long)fc.docs);
	rc = model_fit_end(fc.fit, out);
	fc.fit = NULL;
	progress_end(0);
	if (!rc)
		log_info("fitted model %s on %llu documents in %.1f s", model_name(*out),
			 (unsigned long long)fc.docs, now_seconds() - t0);
out:
	progress_end(0);
	meter_rewind(fc.meter);
	model_fit_free(fc.fit);
	counts_release(&quiet);
	return rc;
}

/* ---- the fit's progress in the run log --------------------------------------------------------- */

static struct {
	PGconn *conn;
	int64_t run_id;
} note = {NULL, -1};

/* The progress sink: the line into the run's row (best effort: a failed update is not the
 * fit's failure, and is not logged on every line). */
static void note_line(void *ctx, const char *line)
{
	(void)ctx;
	if (!strncmp(line, "ragload: ", 9))
		line += 9;
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)note.run_id);
	const char *params[2] = {id, line};
	PQclear(PQexecParams(note.conn,
		"UPDATE ragload_runs SET counts = counts || jsonb_build_object('progress', $2::text, "
		"'progress_at', now(), 'progress_pid', pg_backend_pid()) "
		"WHERE run_id = $1 AND status = 'running'", 2, NULL, params,
		NULL, NULL, 0));
}

void fit_progress_note(PGconn *conn, int64_t run_id)
{
	if (conn && run_id >= 0) {
		note.conn = conn;
		note.run_id = run_id;
		progress_sink(note_line, NULL);
		return;
	}
	progress_sink(NULL, NULL);
	if (note.conn) {
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)note.run_id);
		const char *params[1] = {id};
		PQclear(PQexecParams(note.conn,
			"UPDATE ragload_runs SET counts = counts - 'progress' - 'progress_at' "
			"- 'progress_pid' WHERE run_id = $1", 1, NULL, params, NULL, NULL, 0));
	}
	note.conn = NULL;
	note.run_id = -1;
}

/* ---- the command ---------------------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		log_error("%s: cannot create file", path);
		return RL_ERR;
	}
	int rc = fwrite(data, 1, len, f) == len ? 0 : RL_ERR;
	if (fclose(f))
		rc = RL_ERR;
	if (rc)
		log_error("%s: write failed", path);
	return rc;
}

static int save_model(const struct model *m, const char *path)
{
	struct buf b;
	buf_init(&b, 0);
	int rc = model_save(m, &b) || write_file(path, b.data, b.len) ? RL_ERR : 0;
	buf_release(&b);
	if (!rc)
		log_info("wrote model %s (%d dimensions) to %s", model_name(m), model_dim(m), path);
	return rc;
}

int modelcmd_run(const struct rl_config *cfg, const struct modelcmd_args *a)
{
	struct model *m = NULL;
	PGconn *conn = NULL;
	int status = EXIT_FATAL;
	if (!strcmp(a->sub, "fit")) {
		if (model_fit_inputs(cfg, a->paths, a->n_paths, NULL, &m) || save_model(m, a->output))
			goto out;
	} else if (!strcmp(a->sub, "export")) {
		if ((status = db_open_corpus(cfg->conninfo, 0, 0, 0, &conn)) != EXIT_DONE)
			goto out;
		status = EXIT_FATAL;
		int rc = corpus_current_model(conn, &m);
		if (rc == 1)
			log_error("this corpus has no model yet");
		if (rc || save_model(m, a->paths[0]))
			goto out;
	} else {
		if ((status = db_open_corpus(cfg->conninfo, 0, 0, 0, &conn)) != EXIT_DONE)
			goto out;
		status = EXIT_FATAL;
		if (model_read_file(a->paths[0], &m) || corpus_store_model(conn, m))
			goto out;
		log_info("stored model %s", model_name(m));
	}
	status = EXIT_DONE;
out:
	model_free(m);
	if (conn)
		PQfinish(conn);
	return status;
}
