/*
 * ingest.c — `ragload ingest`: archives to embedded rows. ingest_run reads as its table of
 * contents:
 *
 *   ingest_open()     log file, the corpus opened and locked, inputs, live indexes, run log,
 *                     [search] stored for the SQL functions
 *   ingest_text()     the model (fitted first on an empty corpus); an empty corpus's postings
 *                     indexes dropped; start the loaders and the stage threads, wait for the
 *                     loaders, join the threads
 *   or ingest_fvecs() precomputed vectors straight to the loaders (ingest_vectors.c)
 *   ingest_finish()   the main connection checked, the postings' indexes built after a first
 *                     load, --prune, live indexes rebuilt, BM25
 *                     postings of chunks loaded before schema 4 written, the BM25 stats'
 *                     deltas folded, ANALYZE (and VACUUM of the postings: index-only scans)
 *   ingest_close()    threads down, summary, run log, everything freed
 *
 * Threads (DESIGN.md, Threads): a reader thread streams inputs into q_read; a normalizer thread
 * turns them into documents (text, metadata, headings, content hash) and looks them up in
 * groups (one round trip per group: a document loaded unchanged, same source key and content
 * hash, is dropped here) and hands each group whole to q_norm; EMBED_WORKERS worker threads
 * chunk and embed a group at a time (sgemm blocks over its chunks) into q_docs; load.connections
 * loader threads take documents from q_docs into their own batches, each streaming binary COPY
 * on its own connection. Groups travel whole so that a document's vectors do not depend on
 * which worker took which document: a chunk's row position in an sgemm block can move its last
 * bits (OpenBLAS's edge kernels), and the same input must give the same vectors.
 * Every queue is bounded in bytes (q_norm holds only a couple of groups: the workers are never
 * far behind), so memory does not grow with the corpus. Embedding is the pipeline's longest CPU
 * stage; with two workers (one BLAS thread each) it spreads over both cores while the server's
 * COPY backend uses what is left, instead of one embedding thread setting the pace.
 * Any thread that fails aborts every queue; the others then wind down. The threads live in
 * ingest_threads.c, --prune in ingest_prune.c, what the run says in ingest_summary.c; a
 * document's content hash and kept headings are the load stage's (stages/load.h).
 */
#include "ingest_private.h"
#include "modelcmd.h"
#include "../models/store.h"
#include "../lib/corpus.h"
#include "../lib/db.h"
#include "../lib/blas.h"
#include "../stages/read.h"
#include "../stages/normalize.h"

#include <stdlib.h>
#include <string.h>

static int resolve_model(struct rl_config *cfg, const struct ingest_args *a, PGconn *conn,
			 int64_t run_id, struct input_meter *meter, struct model **out)
{
	if (a->model_file)
		return model_read_file(a->model_file, out);
	int ok;
	int64_t n_emb = db_scalar_int(conn, "SELECT count(*) FROM (SELECT 1 FROM embeddings LIMIT 1) s",
				      0, &ok);
	if (!ok)
		return RL_ERR;
	if (n_emb > 0) {
		int rc = corpus_current_model(conn, out);
		return rc == 0 ? 0 : RL_ERR;
	}
	fit_progress_note(conn, run_id);
	int rc = model_fit_inputs(cfg, a->paths, a->n_paths, meter, out);
	fit_progress_note(NULL, -1);
	return rc;
}

/* Fresh planner statistics after a bulk load, and dead tuples cleaned after deletes: the
 * vectors on one connection, documents and chunks on the other, side by side. Each ANALYZE
 * reads its table's freshly written pages once (setting their hint bits): ~0.25 s apiece for
 * the 1x corpus, so two backends halve it. Errors are logged; the load stands either way. */
static void analyze_tables(PGconn *conn, PGconn *other, int vacuum)
{
	/* the postings always vacuumed: BM25 reads them by index-only scans, which need the
	 * visibility map a VACUUM sets (and their document frequencies, compacted just before) */
	const char *b = vacuum ? "VACUUM (ANALYZE) documents, chunks" : "ANALYZE documents, chunks";
	if (!other || PQstatus(other) != CONNECTION_OK || !PQsendQuery(other, b)) {
		db_exec(conn, vacuum ? "VACUUM (ANALYZE) documents, chunks, embeddings, "
				       "ragload_bm25_postings, ragload_bm25_df"
				     : "ANALYZE documents, chunks, embeddings");
		if (!vacuum)
			db_exec(conn, "VACUUM (ANALYZE) ragload_bm25_postings, ragload_bm25_df");
		return;
	}
	db_exec(conn, vacuum ? "VACUUM (ANALYZE) embeddings" : "ANALYZE embeddings");
	db_exec(conn, "VACUUM (ANALYZE) ragload_bm25_postings, ragload_bm25_df");
	PGresult *r;
	while ((r = PQgetResult(other)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			log_error("%s: %s", b, PQresultErrorMessage(r));
		PQclear(r);
	}
}

/* ---- the steps ------------------------------------------------------------------------------ */

/* The log file, the corpus opened and locked, the inputs, the live indexes, the run log. */
static int ingest_open(struct ingest *in)
{
	const struct ingest_args *a = in->args;
	struct rl_config *cfg = in->cfg;
	if (a->log_file) {
		in->logf = fopen(a->log_file, "a");
		if (!in->logf) {
			log_error("%s: cannot open log file", a->log_file);
			return EXIT_FATAL;
		}
		in->counts.log = in->logf;
		char ts[32];
		fprintf(in->logf, "%s ingest started:", log_timestamp(ts, sizeof(ts)));
		for (int i = 0; i < a->n_paths; i++)
			fprintf(in->logf, " %s", a->paths[i]);
		fprintf(in->logf, "\n");
	}
	int status = db_open_corpus(cfg->conninfo, 1, a->shard,
				    a->no_wait ? 0 : cfg->load.lock_wait_s, &in->conn);
	if (status != EXIT_DONE)
		return status;
	if (db_schema_version(in->conn) < DB_SCHEMA_DIR_KEYS) {
		/* keys made now would not find the documents loaded under the old ones */
		log_error("database %s keys the documents of directory inputs without the "
			  "directory's name, as ragload did before: run 'ragload init' (it renames "
			  "them), then ingest", PQdb(in->conn));
		return EXIT_FATAL;
	}
	if (resolve_inputs(in))
		return EXIT_FATAL;
	in->worker_conn = db_connect(cfg->conninfo);
	if (!in->worker_conn || index_live_init(in->conn, &in->live))
		return EXIT_FATAL;
	if (a->prune) {
		if (db_exec(in->worker_conn, "CREATE TEMP TABLE ragload_seen (key text PRIMARY KEY)"))
			return EXIT_FATAL;
		in->seen_table = 1;
		if (!(in->damage = damage_new()))
			return EXIT_FATAL;
	}
	if (!a->dry_run) {
		in->run_id = db_run_begin(in->conn, "ingest", a->paths, a->n_paths);
		if (corpus_store_search(in->conn, &in->cfg->search) ||
		    load_postings_indexes_repair(in->conn))
			return EXIT_FATAL;
		/* an empty corpus gets every chunk's postings from the load itself: no backfill's
		 * anti-join of chunks against the postings after it (0.5 s at 125k chunks) */
		if (db_exec(in->conn, "INSERT INTO ragload_corpus (key, value) SELECT 'bm25_postings', "
			    "'all' WHERE NOT EXISTS (SELECT 1 FROM chunks) ON CONFLICT (key) DO NOTHING"))
			return EXIT_FATAL;
	}
	int n_fvecs = 0;
	for (int i = 0; i < a->n_paths; i++)
		n_fvecs += has_suffix(a->paths[i], ".fvecs");
	if (n_fvecs && n_fvecs != a->n_paths) {
		log_error("precomputed .fvecs vectors cannot be mixed with text inputs in one run");
		return EXIT_USAGE;
	}
	return EXIT_DONE;
}

static int queues_init(struct ingest *in)
{
	return queue_init(&in->q_read, in->cfg->load.queue_bytes) ||
	       queue_init(&in->q_norm, NORM_QUEUE_BYTES) ||
	       queue_init(&in->q_docs, in->cfg->load.queue_bytes) ? RL_ENOMEM : 0;
}

/*
 * The model this run embeds with, made the corpus's: in a dry run the corpus's own when it
 * has one (never fitted or altered; *have 0 without one); with --shard under an advisory
 * lock, so that shards starting side by side on an empty corpus agree on one model (the first
 * fits and records it, the others use the recorded one); else --model, the corpus's, or one
 * fitted on the inputs.
 */
static int text_model(struct ingest *in, int *have)
{
	const struct ingest_args *a = in->args;
	PGconn *conn = in->conn;
	char chunking[32];
	snprintf(chunking, sizeof(chunking), "%d/%d", in->cfg->chunk.tokens, in->cfg->chunk.overlap);
	*have = 1;
	if (a->dry_run) {
		int rc = corpus_current_model(conn, &in->own_model);
		*have = rc == 0;
		return rc < 0 ? RL_ERR : 0;
	}
	if (!a->n_shards)
		return resolve_model(in->cfg, a, conn, in->run_id, in->meter, &in->own_model) ||
		       corpus_use_model(conn, in->own_model, chunking) ? RL_ERR : 0;
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d, %d)", RAGLOAD_LOCK_CLASS,
		 RAGLOAD_SETUP_KEY);
	if (db_exec(conn, sql))
		return RL_ERR;
	int rc = a->model_file ? 1 : corpus_current_model(conn, &in->own_model);
	if (rc == 1)
		rc = resolve_model(in->cfg, a, conn, in->run_id, in->meter, &in->own_model);
	if (!rc)
		rc = corpus_use_model(conn, in->own_model, chunking);
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d)", RAGLOAD_LOCK_CLASS,
		 RAGLOAD_SETUP_KEY);
	db_exec(conn, sql);
	return rc ? RL_ERR : 0;
}

/* Text inputs: the model; start the loaders and the stage threads, wait for the loaders
 * (progress meanwhile), join the threads. */
static int ingest_text(struct ingest *in)
{
	int have;
	if (text_model(in, &have))
		return EXIT_FATAL;
	in->model = in->own_model;
	/* The hash is the document's content; the model and chunk settings that shape its rows
	 * are the live generation's, checked by corpus_use_model, so that a reindex swaps
	 * generations without rewriting every document's hash. */
	snprintf(in->settings_sig, sizeof(in->settings_sig), "%s", PIPELINE_VERSION);
	/* Two pipeline threads besides the loader share the cores with BLAS. */
	blas_set_threads(in->cfg->model.blas_threads > 0 ? in->cfg->model.blas_threads : 1);
	in->li = &in->live;
	/* Into an empty corpus the postings' indexes are built after the load, from sorted rows:
	 * the 125k scale corpus (11 M postings) loads in 53 s with the two builds, 73 s with the
	 * indexes kept up row by row; 1M in 381 s against 693 s. Not with --shard: the other
	 * shards load meanwhile. */
	if (!in->args->dry_run && !in->args->n_shards) {
		int ok;
		int64_t empty = db_scalar_int(in->conn, "SELECT (NOT EXISTS (SELECT 1 FROM chunks))::int",
					      0, &ok);
		if (!ok || (empty && load_postings_indexes_drop(in->conn, &in->postings_dropped)))
			return EXIT_FATAL;
	}
	if (queues_init(in) || loaders_start(in, have ? model_name(in->own_model) : "-"))
		return EXIT_FATAL;
	ingest_threads_start(in);
	int progress = progress_enabled();
	in->t0_pipeline = now_seconds();
	loaders_wait(in, progress, in->t0_pipeline);
	ingest_threads_join(in);
	if (progress) {
		struct load_stats ls;
		loaders_stats(in, &ls);
		print_progress(in, &ls, in->t0_pipeline, 1);
	}
	return in->failed ? EXIT_FATAL : EXIT_DONE;
}

/* Precomputed vectors: the corpus claimed for "precomputed:DIM" (TEXMEX ground truth is L2,
 * so such a corpus defaults to L2), the vectors handed to the loaders. */
static int ingest_fvecs(struct ingest *in)
{
	const struct ingest_args *a = in->args;
	int dim;
	char name[64];
	if (vectors_probe_dim(a->paths, a->n_paths, &dim))
		return EXIT_FATAL;
	snprintf(name, sizeof(name), "precomputed:%d", dim);
	snprintf(in->settings_sig, sizeof(in->settings_sig), "vectors");
	if ((!a->dry_run && corpus_claim(in->conn, name, dim, "l2", NULL)) || queues_init(in) ||
	    loaders_start(in, name))
		return EXIT_FATAL;
	int rc = ingest_vectors(in);
	if (rc)
		abort_queues(in);
	else
		queue_close(&in->q_docs);  /* the loaders commit what is left, then stop */
	loaders_wait(in, 0, in->t0);
	return rc || in->failed ? EXIT_FATAL : EXIT_DONE;
}

/* After the load: the main connection checked (the loaders reconnect it after a loss they
 * notice; one they did not, a restart after their last commit, is noticed here), --prune,
 * the live indexes rebuilt, fresh statistics. */
static int ingest_finish(struct ingest *in)
{
	const struct ingest_args *a = in->args;
	if (!db_alive(in->conn) && reconnect(in, &in->conn, 1))
		return EXIT_FATAL;
	if (in->postings_dropped) {
		int built;
		if (load_postings_indexes_build(in->conn, &built))
			return EXIT_FATAL;
		in->postings_dropped = 0;
	}
	if (a->prune && prune(in))
		return EXIT_FATAL;
	if (index_live_rebuild(in->conn, &in->live, in->own_model ? model_dim(in->own_model) : 0))
		return EXIT_FATAL;
	if (!a->dry_run) {
		struct load_stats ls;
		uint64_t backfilled = 0;
		char done[8];
		/* a corpus loaded before BM25 (schema 4) gets the postings of its chunks once */
		corpus_get(in->conn, "bm25_postings", done, sizeof(done), "");
		if (strcmp(done, "all")) {
			if (load_backfill_postings(in->conn, &backfilled) ||
			    corpus_set(in->conn, "bm25_postings", "all", 1))
				return EXIT_FATAL;
			if (backfilled)
				log_info("BM25 postings written for %llu chunks loaded before them",
					 (unsigned long long)backfilled);
		}
		if (db_exec(in->conn, "SELECT ragload_bm25_compact()"))
			return EXIT_FATAL;
		loaders_stats(in, &ls);
		if (backfilled)
			ls.docs_added++;
		if (ls.docs_changed || in->pruned)
			analyze_tables(in->conn, in->worker_conn, 1);
		else if (ls.docs_added)
			analyze_tables(in->conn, in->worker_conn, 0);
	}
	return counts_total(&in->counts) ? EXIT_SKIPPED : EXIT_DONE;
}

/* Whatever the status: threads and loaders down, the summary (stderr, the log file), the run
 * log, the live indexes never left dropped, everything freed. */
static void ingest_close(struct ingest *in, int status)
{
	const struct ingest_args *a = in->args;
	if (in->threads) {
		abort_queues(in);
		ingest_threads_join(in);
	}
	if (in->n_loaders) {
		abort_queues(in);  /* no-op after a finished load */
		loaders_wait(in, 0, in->t0);
		struct load_stats ls;
		loaders_stats(in, &ls);
		double elapsed = now_seconds() - in->t0;
		if (!in->cfg->quiet)
			summary(in, &ls, elapsed, stderr);
		if (in->logf) {
			char ts[32];
			fprintf(in->logf, "%s ingest %s\n", log_timestamp(ts, sizeof(ts)),
				status == EXIT_FATAL ? "failed" : "finished");
			summary(in, &ls, elapsed, in->logf);
		}
		if (in->conn && PQstatus(in->conn) == CONNECTION_OK && in->run_id >= 0) {
			struct buf cj;
			buf_init(&cj, 0);
			counts_json(in, &ls, &cj);
			db_run_end(in->conn, in->run_id, status == EXIT_FATAL ? "failed" :
				   status == EXIT_SKIPPED ? "done_with_skips" : "done", cj.data, NULL);
			buf_release(&cj);
		}
	} else if (in->conn && in->run_id >= 0 && PQstatus(in->conn) == CONNECTION_OK) {
		db_run_end(in->conn, in->run_id, "failed", "{}", NULL);
	}
	if (in->q_read.cap) {
		queue_release(&in->q_read, (void (*)(void *))read_item_free);
		queue_release(&in->q_norm, (void (*)(void *))norm_group_free);
		queue_release(&in->q_docs, (void (*)(void *))doc_free);
	}
	int dim = in->own_model ? model_dim(in->own_model) : 0;
	if (in->live.dropped && in->conn && PQstatus(in->conn) == CONNECTION_OK)
		index_live_rebuild(in->conn, &in->live, dim);  /* never leave a corpus without them */
	if (in->postings_dropped && in->conn && PQstatus(in->conn) == CONNECTION_OK)
		load_postings_indexes_repair(in->conn);
	index_live_release(&in->live);
	loaders_free(in);
	model_free(in->own_model);
	if (in->worker_conn)
		PQfinish(in->worker_conn);
	if (in->conn)
		PQfinish(in->conn);
	for (int i = 0; in->input_ids && i < a->n_paths; i++)
		free(in->input_ids[i]);
	free(in->input_ids);
	damage_free(in->damage);
	counts_release(&in->counts);
	meter_free(in->meter);
	free(in->workers);
	pthread_mutex_destroy(&in->mu);
	if (in->logf)
		fclose(in->logf);
}

int ingest_run(struct rl_config *cfg, const struct ingest_args *a)
{
	struct ingest in;
	memset(&in, 0, sizeof(in));
	in.cfg = cfg;
	in.args = a;
	in.t0 = in.t0_pipeline = now_seconds();
	in.run_id = -1;
	in.main_conn = &in.conn;
	if (progress_enabled())
		in.meter = meter_start(a->paths, a->n_paths);
	counts_init(&in.counts, 0);
	pthread_mutex_init(&in.mu, NULL);
	pthread_mutex_init(&in.conn_mu, NULL);
	pthread_cond_init(&in.loaded, NULL);
	in.workers = calloc(EMBED_WORKERS, sizeof(*in.workers));

	int status = in.workers ? ingest_open(&in) : EXIT_FATAL;
	if (status == EXIT_DONE)
		status = has_suffix(a->paths[0], ".fvecs") ? ingest_fvecs(&in) : ingest_text(&in);
	if (status == EXIT_DONE)
		status = ingest_finish(&in);
	ingest_close(&in, status);
	return status;
}
