/*
 * ingest_threads.c — the stage threads of `ragload ingest` and the bounded queues between them
 * (ingest.c's design note says why they are shaped so): the reader streams inputs into q_read;
 * the normalizer makes documents, drops those loaded unchanged (one lookup per group) and
 * hands groups whole to q_norm; the chunk + embed workers fill q_docs; the loaders, each on
 * its own connection, commit batches by binary COPY. Any thread that fails aborts every
 * queue; the others then wind down.
 */
#include "ingest_private.h"
#include "modelcmd.h"
#include "../models/store.h"
#include "../lib/corpus.h"
#include "../lib/db.h"
#include "../lib/blas.h"
#include "../lib/vecfile.h"
#include "../stages/read.h"
#include "../stages/normalize.h"
#include "../stages/chunk.h"
#include "../stages/embedding.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

/* ---- reader thread ----------------------------------------------------------------------- */

int ingest_in_shard(const char *source, int shard, int n_shards)
{
	if (n_shards <= 0)
		return 1;
	return (int)(XXH3_64bits(source, strlen(source)) % (uint64_t)n_shards) == shard - 1;
}

static int emit_to_queue(void *ctx, struct read_item *it)
{
	struct ingest *in = ctx;
	if (!ingest_in_shard(it->source, in->args->shard, in->args->n_shards)) {
		read_item_free(it);   /* another shard's document */
		return 0;
	}
	double t0 = now_seconds();
	int rc = queue_push(&in->q_read, it, sizeof(*it) + it->len + 256);
	in->t_read -= now_seconds() - t0; /* time blocked on a full queue is not read time */
	if (rc) {
		read_item_free(it);
		return RL_ERR;
	}
	return 0;
}

static void *reader_main(void *arg)
{
	struct ingest *in = arg;
	double t0 = now_seconds();
	int rc = read_inputs_noting(&in->cfg->read, in->args->paths, in->args->n_paths,
				    emit_to_queue, damage_from_read, in, &in->counts);
	in->t_read += now_seconds() - t0;
	if (rc < 0 && !in->failed) {
		in->failed = 1;
		queue_abort(&in->q_norm);
		queue_abort(&in->q_docs);
	}
	queue_close(&in->q_read);
	return NULL;
}

void abort_queues(struct ingest *in)
{
	queue_abort(&in->q_read);
	queue_abort(&in->q_norm);
	queue_abort(&in->q_docs);
}

/* ---- normalizer and worker threads ------------------------------------------------------- */

/* db_reconnect for this run (its conninfo, lock shard and timeouts), counted. */
int reconnect(struct ingest *in, PGconn **conn, int take_lock)
{
	if (db_reconnect(in->cfg->conninfo, conn, take_lock, in->args->shard,
			 in->cfg->load.lock_wait_s, in->cfg->load.reconnect_timeout_s))
		return RL_ERR;
	in->reconnects++;
	return 0;
}

/* The loaders: each a thread with its own connection, popping whole documents off q_docs
 * into its own batches, so that N binary COPY streams run side by side. */
struct load_worker {
	struct ingest *in;
	PGconn *conn;
	struct loader *loader;
	pthread_t thread;
	int started;
	struct load_stats snap;       /* the loader's figures, copied under in->mu for progress */
};

/* Under conn_mu: the main connection, which holds the run lock, answers, or is re-established
 * with the lock. Once that has failed (after load.reconnect_timeout_s), it fails at once for
 * every loader rather than each waiting the timeout out again. */
static int main_conn_ensure(struct ingest *in)
{
	if (in->main_lost)
		return RL_ERR;
	if (db_alive(*in->main_conn))
		return 0;
	log_warn("the main connection (it holds the run lock) stopped answering; reconnecting");
	if (reconnect(in, in->main_conn, 1)) {
		in->main_lost = 1;
		return RL_ERR;
	}
	return 0;
}

/* A loader lost its connection: the run lock lives on the main connection, so that is
 * checked first (a server restart ends it too, and the lock with it) and re-established with
 * the lock before this loader writes again. */
static int reconnect_loader(void *ctx, PGconn **conn)
{
	struct load_worker *w = ctx;
	struct ingest *in = w->in;
	pthread_mutex_lock(&in->conn_mu);
	int rc = main_conn_ensure(in);
	pthread_mutex_unlock(&in->conn_mu);
	if (!rc)
		rc = reconnect(in, conn, 0);
	w->conn = *conn;  /* the loader's old connection is gone either way */
	return rc;
}

/* The prune scope of a document: the real path of the command-line input it came from. */
int set_input_id(struct ingest *in, struct doc *d)
{
	for (int i = 0; i < in->args->n_paths; i++) {
		if (d->input && strcmp(d->input, in->args->paths[i]) == 0) {
			char *id = xstrdup(in->input_ids[i]);
			if (!id)
				return RL_ERR;
			free(d->input);
			d->input = id;
			return 0;
		}
	}
	return 0;
}

/*
 * Looks the group's source keys up: a document loaded with the same hash is dropped
 * (unchanged), one loaded with another hash keeps its doc_id (replaced in place). One round
 * trip per group.
 */
int lookup_existing(struct ingest *in, struct doc **g, size_t *n)
{
	struct buf arr;
	buf_init(&arr, 0);
	char **keys = malloc(*n * sizeof(char *));
	int rc = RL_ERR;
	PGresult *r = NULL;
	if (!keys)
		goto out;
	for (size_t i = 0; i < *n; i++)
		keys[i] = g[i]->source_name;
	if (db_text_array(&arr, keys, *n))
		goto out;
	const char *params[1] = {arr.data};
	if (in->seen_table) {
		/* A temporary table of this session, not a corpus table: what --prune keeps. */
		PGresult *s = db_query(in->worker_conn, "INSERT INTO pg_temp.ragload_seen "
				       "SELECT unnest($1::text[]) RETURNING 1", 1, params);
		if (!s)
			goto out;
		PQclear(s);
	}
	r = db_query(in->worker_conn,
		     "SELECT source_name, doc_id, encode(content_hash, 'hex') FROM documents "
		     "WHERE source_name = ANY($1::varchar[])", 1, params);
	if (!r)
		goto out;
	for (int row = 0; row < PQntuples(r); row++) {
		const char *key = PQgetvalue(r, row, 0);
		for (size_t i = 0; i < *n; i++) {
			if (!g[i] || strcmp(g[i]->source_name, key))
				continue;
			char hex[33];
			for (int k = 0; k < 16; k++)
				snprintf(hex + 2 * k, 3, "%02x", g[i]->hash[k]);
			if (strcmp(hex, PQgetvalue(r, row, 2)) == 0) {
				doc_free(g[i]);
				g[i] = NULL;
				in->unchanged++;
			} else {
				g[i]->doc_id = strtoll(PQgetvalue(r, row, 1), NULL, 10);
			}
			break;
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < *n; i++)
		if (g[i])
			g[k++] = g[i];
	for (size_t i = k; i < *n; i++)
		g[i] = NULL;   /* the caller frees what is left in the whole group */
	*n = k;
	rc = 0;
out:
	PQclear(r);
	free(keys);
	buf_release(&arr);
	return rc;
}

/* Drops the group's documents loaded unchanged (the caller frees the emptied slots). */
static int lookup_group(struct ingest *in, struct doc **g, size_t *n)
{
	double t0 = now_seconds();
	if (lookup_existing(in, g, n)) {
		if (PQstatus(in->worker_conn) == CONNECTION_OK || reconnect(in, &in->worker_conn, 0))
			return RL_ERR;
		if (in->seen_table)
			in->prune_unsafe = 1;   /* the temporary table went with the old session */
		in->seen_table = 0;
		if (lookup_existing(in, g, n))
			return RL_ERR;
	}
	in->t_lookup += now_seconds() - t0;
	return 0;
}

/* A group of documents on its way from the normalizer to a worker, whole. */
struct norm_group {
	size_t n;
	struct doc *docs[GROUP_DOCS];
};

void norm_group_free(struct norm_group *ng)
{
	if (!ng)
		return;
	for (size_t i = 0; i < ng->n; i++)
		doc_free(ng->docs[i]);
	free(ng);
}

/* A dry run counts what the group would add or change (a doc_id: an existing document). */
void count_dry_run(struct ingest *in, struct doc *const *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (g[i]->doc_id > 0)
			in->would_change++;
		else
			in->would_add++;
	}
}

/* Hands each document of g to the loaders (q_docs), emptying its slot. */
int hand_to_loaders(struct ingest *in, struct doc **g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct doc *d = g[i];
		g[i] = NULL;
		if (queue_push(&in->q_docs, d, doc_bytes(d))) {
			doc_free(d);
			return RL_ERR;
		}
	}
	return 0;
}

/* Looks a group up and hands what is new or changed to the workers as one queue item (or
 * counts it in a dry run). The group's slots are emptied; the caller frees what is left. */
static int pass_group(struct ingest *in, struct doc **g, size_t n)
{
	if (lookup_group(in, g, &n))
		return RL_ERR;
	if (in->args->dry_run) {
		count_dry_run(in, g, n);
		return 0;
	}
	if (!n)
		return 0;
	struct norm_group *ng = malloc(sizeof(*ng));
	if (!ng)
		return RL_ERR;
	size_t bytes = sizeof(*ng);
	ng->n = n;
	for (size_t i = 0; i < n; i++) {
		ng->docs[i] = g[i];
		g[i] = NULL;
		bytes += doc_bytes(ng->docs[i]);
	}
	if (queue_push(&in->q_norm, ng, bytes)) {
		norm_group_free(ng);
		return 1;   /* aborted by another thread, which reports why */
	}
	return 0;
}


static int process_group(struct worker *w, struct doc **g, size_t n)
{
	struct ingest *in = w->in;
	double t1 = now_seconds();
	for (size_t i = 0; i < n; i++)
		if (chunk_doc(&in->cfg->chunk, g[i]))
			return RL_ERR;
	double t2 = now_seconds();
	w->t_chunk += t2 - t1;
	if (n && embed_docs(in->model, g, n))
		return RL_ERR;
	w->t_embed += now_seconds() - t2;
	return hand_to_loaders(in, g, n);
}

static void *normalizer_main(void *arg)
{
	struct ingest *in = arg;
	struct doc *group[GROUP_DOCS];
	size_t n = 0, bytes = 0;
	int rc = 0;
	for (;;) {
		struct read_item *it = queue_pop(&in->q_read);
		if (it) {
			struct doc *d = NULL;
			double t0 = now_seconds();
			int nr = normalize_item(&in->cfg->norm, it, &d, &in->counts);
			in->t_normalize += now_seconds() - t0;
			in->items++;
			in->raw_bytes += it->raw_bytes;
			meter_note(in->meter, it->input, it->raw_bytes);
			if (nr == RL_SKIP)  /* its earlier document, if any, is not pruned */
				damage_note_input(in, it->input, it->source);
			read_item_free(it);
			if (nr < 0) {
				rc = RL_ERR;
				break;
			}
			if (nr == RL_SKIP || !d)
				continue;
			in->docs_seen++;
			if (set_input_id(in, d) || load_keep_headings(d)) {
				doc_free(d);
				rc = RL_ERR;
				break;
			}
			load_hash_text(d, in->settings_sig);
			group[n++] = d;
			bytes += d->text_len;
		}
		if (n && (!it || n == GROUP_DOCS || bytes >= GROUP_BYTES)) {
			rc = pass_group(in, group, n);
			for (size_t i = 0; i < n; i++)
				doc_free(group[i]);
			n = 0;
			bytes = 0;
			if (rc)
				break;
		}
		if (!it)
			break;
	}
	for (size_t i = 0; i < n; i++)
		doc_free(group[i]);
	if (rc < 0 && !in->failed) {
		in->failed = 1;
		log_error("the normalize stage failed (out of memory or database error)");
	}
	if (rc)
		abort_queues(in);
	queue_close(&in->q_norm);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ingest *in = w->in;
	struct norm_group *ng;
	int rc = 0;
	while (!rc && (ng = queue_pop(&in->q_norm)) != NULL) {
		rc = process_group(w, ng->docs, ng->n);
		norm_group_free(ng);  /* what process_group did not hand on */
	}
	if (rc && !in->failed) {
		in->failed = 1;
		log_error("the embed stage failed (out of memory)");
	}
	if (rc)
		abort_queues(in);
	pthread_mutex_lock(&in->mu);
	in->t_chunk += w->t_chunk;
	in->t_embed += w->t_embed;
	if (--in->workers_left == 0)
		queue_close(&in->q_docs);
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

void ingest_threads_start(struct ingest *in)
{
	in->workers_left = EMBED_WORKERS;
	int err = pthread_create(&in->reader, NULL, reader_main, in), e;
	in->started[0] = !err;
	in->started[1] = !(e = pthread_create(&in->normalizer, NULL, normalizer_main, in));
	err = err ? err : e;
	for (int i = 0; i < EMBED_WORKERS; i++) {
		in->workers[i] = (struct worker){ .in = in };
		e = pthread_create(&in->workers[i].thread, NULL, worker_main, &in->workers[i]);
		in->workers[i].started = !e;
		err = err ? err : e;
	}
	in->threads = 1;
	if (err) {
		/* the stages wait for each other: without all of them, none can finish */
		log_error("cannot start the pipeline's threads: %s", strerror(err));
		in->failed = 1;
		abort_queues(in);
	}
}

void ingest_threads_join(struct ingest *in)
{
	if (!in->threads)
		return;
	if (in->started[0])
		pthread_join(in->reader, NULL);
	if (in->started[1])
		pthread_join(in->normalizer, NULL);
	for (int i = 0; i < EMBED_WORKERS; i++)
		if (in->workers[i].started)
			pthread_join(in->workers[i].thread, NULL);
	in->threads = 0;
}

/* ---- loader threads ------------------------------------------------------------------------ */


/* How often the main connection, idle while the loaders write, is asked whether it still
 * holds the run lock. */
#define MAIN_CHECK_S 1.0

/* Before a document joins a batch: counts its chunks, and drops the live vector indexes when
 * the load outgrows them (on the main connection; a loader mid-commit holds the DROP back
 * until its COMMIT, and no loader waits for this lock inside a transaction). Once a second it
 * also checks that the main connection still answers: it holds the run lock, and a session
 * ended alone (pg_terminate_backend, idle_session_timeout, a dropped idle socket) releases
 * it while the loaders go on writing. It is then re-established with the lock, or the run
 * stops if another run took the lock meanwhile. The check also keeps that session from
 * idling out. */
static int load_gate(struct ingest *in, const struct doc *d)
{
	int rc = 0;
	in->docs_to_load++;
	pthread_mutex_lock(&in->conn_mu);
	in->incoming += d->n_chunks;
	double t = now_seconds();
	if (in->main_lost || t - in->main_checked >= MAIN_CHECK_S) {
		rc = main_conn_ensure(in);
		in->main_checked = t;
	}
	if (!rc && in->li)
		rc = index_live_check(*in->main_conn, in->li, in->cfg->load.index_rebuild_share,
				      in->incoming);
	pthread_mutex_unlock(&in->conn_mu);
	return rc;
}

static void loader_snap(struct load_worker *w)
{
	pthread_mutex_lock(&w->in->mu);
	w->snap = *load_get_stats(w->loader);
	pthread_mutex_unlock(&w->in->mu);
}

static void *loader_main(void *arg)
{
	struct load_worker *w = arg;
	struct ingest *in = w->in;
	struct doc *d;
	int failed = 0;
	while ((d = queue_pop(&in->q_docs)) != NULL) {
		if (failed || in->failed || load_gate(in, d)) {
			doc_free(d);
			failed = 1;
		} else if (load_add(w->loader, d)) {  /* takes d, even on failure */
			failed = 1;
		}
		if (failed) {
			in->failed = 1;
			abort_queues(in);
			break;
		}
		loader_snap(w);
	}
	if (!failed && !in->failed && load_flush(w->loader)) {
		in->failed = 1;
		abort_queues(in);
	}
	loader_snap(w);
	pthread_mutex_lock(&in->mu);
	in->loaders_left--;
	pthread_cond_broadcast(&in->loaded);
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

/* Every loader's figures added up (for progress while they run, and the summary). */
void loaders_stats(struct ingest *in, struct load_stats *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&in->mu);
	for (int i = 0; i < in->n_loaders; i++) {
		const struct load_stats *s = &in->loaders[i].snap;
		t->docs_added += s->docs_added;
		t->docs_changed += s->docs_changed;
		t->chunks += s->chunks;
		t->text_bytes += s->text_bytes;
		t->transactions += s->transactions;
		t->retries += s->retries;
		t->seconds += s->seconds;
		t->reconnects += s->reconnects;
	}
	pthread_mutex_unlock(&in->mu);
}

/* Opens load.connections loaders and starts their threads. */
int loaders_start(struct ingest *in, const char *model_name)
{
	int n = in->cfg->load.connections > 0 ? in->cfg->load.connections : 1;
	in->loaders = calloc((size_t)n, sizeof(*in->loaders));
	if (!in->loaders)
		return RL_ERR;
	for (int i = 0; i < n; i++) {
		struct load_worker *w = &in->loaders[i];
		w->in = in;
		in->n_loaders++;
		if (!(w->conn = db_connect(in->cfg->conninfo)) ||
		    load_init(&w->loader, w->conn, &in->cfg->load, model_name, &in->counts))
			return RL_ERR;
		load_set_reconnect(w->loader, reconnect_loader, w);
	}
	in->loaders_left = n;
	for (int i = 0; i < n; i++) {
		struct load_worker *w = &in->loaders[i];
		w->started = pthread_create(&w->thread, NULL, loader_main, w) == 0;
		if (!w->started) {
			in->failed = 1;
			abort_queues(in);
			pthread_mutex_lock(&in->mu);
			in->loaders_left--;
			pthread_mutex_unlock(&in->mu);
		}
	}
	return 0;
}

/* Waits for the loaders, printing progress meanwhile when asked to. */
void loaders_wait(struct ingest *in, int progress, double t0)
{
	struct load_stats ls;
	pthread_mutex_lock(&in->mu);
	while (in->loaders_left > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000000L / PROGRESS_HZ;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&in->loaded, &in->mu, &ts);
		if (progress && in->loaders_left > 0) {
			pthread_mutex_unlock(&in->mu);
			loaders_stats(in, &ls);
			print_progress(in, &ls, t0, 0);
			pthread_mutex_lock(&in->mu);
		}
	}
	pthread_mutex_unlock(&in->mu);
	for (int i = 0; i < in->n_loaders; i++)
		if (in->loaders[i].started) {
			pthread_join(in->loaders[i].thread, NULL);
			in->loaders[i].started = 0;
		}
}

void loaders_free(struct ingest *in)
{
	for (int i = 0; i < in->n_loaders; i++) {
		if (in->loaders[i].loader)
			load_free(in->loaders[i].loader);
		if (in->loaders[i].conn)
			PQfinish(in->loaders[i].conn);
	}
	free(in->loaders);
	in->loaders = NULL;
}
