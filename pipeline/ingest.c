/*
 * ingest.c — `ragload ingest`: archives to embedded rows.
 *
 *   lock(); resolve_model(); start reader, normalizer and embed workers; load_loop(); summary();
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
 * Any thread that fails aborts every queue; the others then wind down.
 */
#include "ingest.h"
#include "db.h"
#include "queue.h"
#include "vecfile.h"
#include "progress.h"
#include "../stages/index.h"
#include "../stages/read.h"
#include "../stages/normalize.h"
#include "../stages/chunk.h"
#include "../stages/embed.h"
#include "../stages/load.h"

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#define RAGLOAD_SETUP_KEY 1000000     /* advisory key serialising shards' model setup */
#define GROUP_DOCS 64                 /* documents embedded together */
#define GROUP_BYTES (1u << 20)
#define NORM_QUEUE_BYTES (2 * GROUP_BYTES) /* normalized documents waiting for the workers */
#define EMBED_WORKERS 2               /* chunk + embed threads */

/* Bumped when normalize or chunk change how text becomes rows, so a rerun redoes them. */
#define PIPELINE_VERSION "ragload-text-1"

struct ingest {
	struct rl_config *cfg;
	const struct ingest_args *args;
	struct counts counts;
	struct queue q_read, q_norm, q_docs;
	const struct model *model;
	char settings_sig[256];
	PGconn *worker_conn;
	_Atomic int failed;               /* set by any thread on a fatal error */
	/* figures */
	double t_read, t_normalize, t_chunk, t_embed, t_lookup;   /* chunk, embed: summed over workers */
	pthread_mutex_t mu;           /* t_chunk, t_embed, workers_left */
	int workers_left;             /* the last worker out closes q_docs */
	uint64_t items;
	_Atomic uint64_t raw_bytes, unchanged, docs_seen;  /* read by progress */
	struct input_meter *meter;    /* how far through the inputs, for progress; may be NULL */
	_Atomic uint64_t docs_to_load; /* documents the loaders took (embedded), for progress */
	uint64_t would_add, would_change, pruned;         /* dry run and prune */
	char **input_ids;             /* real path of each command-line input (prune scope) */
	PGconn **main_conn;           /* holds the run lock; live-index DDL; under conn_mu */
	pthread_mutex_t conn_mu;      /* the main connection while loaders run */
	struct live_indexes *li;      /* checked per document before it joins a batch */
	uint64_t incoming;            /* chunks handed to loaders, committed or not (conn_mu) */
	double main_checked;          /* when the main connection last answered (conn_mu) */
	int main_lost;                /* its reconnect gave up: no loader tries again (conn_mu) */
	struct load_worker *loaders;  /* load.connections of them */
	int n_loaders;
	pthread_cond_t loaded;        /* signalled (under mu) as each loader finishes */
	int loaders_left;
	_Atomic int prune_unsafe;     /* the seen-keys table was lost with a connection */
	struct damage *damage;        /* where this run may have missed documents (prune) */
	_Atomic uint64_t reconnects;
	int seen_table;               /* keys seen are recorded in a temp table (prune) */
};

static void meter_note(struct input_meter *m, const char *input, size_t raw);
/* ---- where documents may have been missed ------------------------------------------------
 * --prune deletes documents under the given inputs whose keys this run did not see. A
 * document behind damage (an archive cut short, an unreadable directory, a file that is now
 * binary or too large) was not seen either, yet may still exist: the read stage and the
 * normalizer name each such place (a command-line input and a source key, or the whole
 * input), and prune keeps every document at or under one of them. A damaged tar therefore
 * keeps only its own documents; an unrelated md.zip of the same run is still pruned. */
#define DAMAGE_MAX (1u << 20)         /* places recorded; past this nothing is pruned */

struct damage_place {
	uint64_t hash;                /* XXH3 of "<input index>\x1f<key>" */
	char *key;                    /* NULL: the whole input */
	int input;                    /* index into args->paths */
	uint64_t kept;                /* documents prune kept because of it */
};

struct damage {
	pthread_mutex_t mu;
	struct damage_place *p;
	size_t n, cap;
	int overflow;
};

static uint64_t damage_hash(int input, const char *key, size_t len)
{
	XXH3_state_t st;
	char sep[16];
	int n = snprintf(sep, sizeof(sep), "%d\x1f", input);

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, sep, (size_t)n);
	if (key)
		XXH3_64bits_update(&st, key, len);
	else
		XXH3_64bits_update(&st, "\x1e", 1);  /* no key can hold it: the whole input */
	return XXH3_64bits_digest(&st);
}

static void damage_note_input(struct ingest *in, const char *input, const char *key)
{
	struct damage *dm = in->damage;
	int idx = -1;

	if (!dm)
		return;
	for (int i = 0; i < in->args->n_paths; i++)
		if (input && strcmp(input, in->args->paths[i]) == 0)
			idx = i;
	pthread_mutex_lock(&dm->mu);
	if (idx < 0 || dm->n == DAMAGE_MAX) {
		dm->overflow = 1;  /* cannot say where: prune nothing */
	} else {
		if (dm->n == dm->cap) {
			size_t cap = dm->cap ? dm->cap * 2 : 64;
			struct damage_place *np = realloc(dm->p, cap * sizeof(*np));
			if (np) {
				dm->p = np;
				dm->cap = cap;
			}
		}
		char *k = key ? xstrdup(key) : NULL;
		if (dm->n == dm->cap || (key && !k)) {
			dm->overflow = 1;
			free(k);
		} else {
			dm->p[dm->n++] = (struct damage_place){
				damage_hash(idx, key, key ? strlen(key) : 0), k, idx, 0 };
		}
	}
	pthread_mutex_unlock(&dm->mu);
}

/* read_damage_fn for the reader thread */
static void damage_from_read(void *ctx, const char *input, const char *key)
{
	damage_note_input(ctx, input, key);
}

static void damage_free(struct damage *dm)
{
	if (!dm)
		return;
	for (size_t i = 0; i < dm->n; i++)
		free(dm->p[i].key);
	free(dm->p);
	pthread_mutex_destroy(&dm->mu);
	free(dm);
}

static int damage_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct damage_place *)a)->hash, y = ((const struct damage_place *)b)->hash;
	return x < y ? -1 : x > y;
}

static struct damage_place *damage_find(struct damage *dm, int input, const char *key, size_t len)
{
	if (!dm->n)
		return NULL;
	struct damage_place k = { .hash = damage_hash(input, key, len) };
	struct damage_place *p = bsearch(&k, dm->p, dm->n, sizeof(*dm->p), damage_cmp);

	/* the first of equal hashes: duplicates of one place are adjacent */
	while (p && p > dm->p && p[-1].hash == k.hash)
		p--;
	for (; p && p < dm->p + dm->n && p->hash == k.hash; p++)
		if (p->input == input && (key ? p->key && strlen(p->key) == len &&
					  memcmp(p->key, key, len) == 0 : !p->key))
			return p;
	return NULL;
}

/* The damaged place that covers a document (input index, key), or NULL: the whole input,
 * the key itself, or the key cut before any '!', '/' or '#' in it (its archive, directory,
 * collection). */
static struct damage_place *damage_covering(struct damage *dm, int input, const char *key)
{
	struct damage_place *p = damage_find(dm, input, NULL, 0);

	if (p)
		return p;
	for (size_t i = 0; key[i]; i++)
		if ((key[i] == '!' || key[i] == '/' || key[i] == '#') &&
		    (p = damage_find(dm, input, key, i)))
			return p;
	return damage_find(dm, input, key, strlen(key));
}

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
		return -1;
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

static void abort_queues(struct ingest *in)
{
	queue_abort(&in->q_read);
	queue_abort(&in->q_norm);
	queue_abort(&in->q_docs);
}

/* ---- normalizer and worker threads ------------------------------------------------------- */

static void content_hash(struct ingest *in, struct doc *d)
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, d->text, d->text_len);
	XXH3_128bits_update(&st, "\0", 1);
	XXH3_128bits_update(&st, d->metadata_json, strlen(d->metadata_json));
	XXH3_128bits_update(&st, "\0", 1);
	XXH3_128bits_update(&st, in->settings_sig, strlen(in->settings_sig));
	XXH128_hash_t h = XXH3_128bits_digest(&st);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(d->hash, c.digest, 16);
}

/*
 * Reconnects after a lost connection or a server restart: backoff from 0.25 s doubling to
 * 5 s, for up to load.reconnect_timeout_s. A main connection gets the run lock again (the old
 * session, and its lock, died with it).
 */
static int reconnect(struct ingest *in, PGconn **conn, int take_lock)
{
	double deadline = now_seconds() + in->cfg->load.reconnect_timeout_s, wait = 0.25;
	if (*conn)
		PQfinish(*conn);
	*conn = NULL;
	for (;;) {
		PGconn *c = PQconnectdb(in->cfg->conninfo);
		if (PQstatus(c) == CONNECTION_OK) {
			PQclear(PQexec(c, "SET client_min_messages = warning"));
			if (!take_lock || db_lock(c, in->args->shard, in->cfg->load.lock_wait_s) == 0) {
				*conn = c;
				in->reconnects++;
				log_warn("reconnected to PostgreSQL");
				return 0;
			}
		}
		PQfinish(c);
		if (now_seconds() + wait > deadline) {
			log_error("could not reconnect to PostgreSQL within %d s; giving up",
				  in->cfg->load.reconnect_timeout_s);
			return -1;
		}
		usleep((useconds_t)(wait * 1e6));
		wait = wait * 2 > 5 ? 5 : wait * 2;
	}
}

/* A connection that answers (a server restart leaves it looking fine until used). */
static int conn_alive(PGconn *c)
{
	if (!c || PQstatus(c) != CONNECTION_OK)
		return 0;
	PGresult *r = PQexec(c, "SELECT 1");
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
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
		return -1;
	if (conn_alive(*in->main_conn))
		return 0;
	log_warn("the main connection (it holds the run lock) stopped answering; reconnecting");
	if (reconnect(in, in->main_conn, 1)) {
		in->main_lost = 1;
		return -1;
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

/*
 * Keeps the document's headings in documents.metadata ("headings": [[offset, level, text],
 * ...]) so that a reindex with new chunk settings rebuilds heading paths from the stored text
 * without reading the archives again.
 */
static int keep_headings(struct doc *d)
{
	size_t n = strlen(d->metadata_json);
	if (!d->n_headings || n < 2 || d->metadata_json[n - 1] != '}')
		return 0;
	struct buf b;
	buf_init(&b, 0);
	int rc = buf_append(&b, d->metadata_json, n - 1);
	int empty = 1;
	for (size_t i = 0; i + 1 < n - 1 && empty; i++)
		empty = d->metadata_json[i + 1] == ' ' || d->metadata_json[i + 1] == '\n';
	if (!rc)
		rc = buf_printf(&b, "%s\"headings\": [", empty ? "" : ", ");
	for (size_t i = 0; i < d->n_headings && !rc; i++) {
		const struct heading *h = &d->headings[i];
		rc = buf_printf(&b, "%s[%zu, %d, ", i ? ", " : "", h->offset, h->level);
		if (!rc)
			rc = buf_json_str(&b, h->text, strlen(h->text));
		if (!rc)
			rc = buf_putc(&b, ']');
	}
	if (!rc)
		rc = buf_append(&b, "]}", 2);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	free(d->metadata_json);
	d->metadata_json = buf_detach(&b, NULL);
	return 0;
}

/* The prune scope of a document: the real path of the command-line input it came from. */
static int set_input_id(struct ingest *in, struct doc *d)
{
	for (int i = 0; i < in->args->n_paths; i++) {
		if (d->input && strcmp(d->input, in->args->paths[i]) == 0) {
			char *id = xstrdup(in->input_ids[i]);
			if (!id)
				return -1;
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
static int lookup_existing(struct ingest *in, struct doc **g, size_t *n)
{
	struct buf arr;
	buf_init(&arr, 0);
	char **keys = malloc(*n * sizeof(char *));
	int rc = -1;
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
			return -1;
		if (in->seen_table)
			in->prune_unsafe = 1;   /* the temporary table went with the old session */
		in->seen_table = 0;
		if (lookup_existing(in, g, n))
			return -1;
	}
	in->t_lookup += now_seconds() - t0;
	return 0;
}

/* A group of documents on its way from the normalizer to a worker, whole. */
struct norm_group {
	size_t n;
	struct doc *docs[GROUP_DOCS];
};

static void norm_group_free(struct norm_group *ng)
{
	if (!ng)
		return;
	for (size_t i = 0; i < ng->n; i++)
		doc_free(ng->docs[i]);
	free(ng);
}

/* Looks a group up and hands what is new or changed to the workers as one queue item (or
 * counts it in a dry run). The group's slots are emptied; the caller frees what is left. */
static int pass_group(struct ingest *in, struct doc **g, size_t n)
{
	if (lookup_group(in, g, &n))
		return -1;
	if (in->args->dry_run) {
		for (size_t i = 0; i < n; i++) {
			if (g[i]->doc_id > 0)
				in->would_change++;
			else
				in->would_add++;
		}
		return 0;
	}
	if (!n)
		return 0;
	struct norm_group *ng = malloc(sizeof(*ng));
	if (!ng)
		return -1;
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

struct worker {
	struct ingest *in;
	pthread_t thread;
	int started;
	double t_chunk, t_embed;
};

static int process_group(struct worker *w, struct doc **g, size_t n)
{
	struct ingest *in = w->in;
	double t1 = now_seconds();
	for (size_t i = 0; i < n; i++)
		if (chunk_doc(&in->cfg->chunk, g[i]))
			return -1;
	double t2 = now_seconds();
	w->t_chunk += t2 - t1;
	if (n && embed_docs(in->model, g, n))
		return -1;
	w->t_embed += now_seconds() - t2;
	for (size_t i = 0; i < n; i++) {
		struct doc *d = g[i];
		g[i] = NULL;
		if (queue_push(&in->q_docs, d, doc_bytes(d))) {
			doc_free(d);
			return -1;
		}
	}
	return 0;
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
				rc = -1;
				break;
			}
			if (nr == RL_SKIP || !d)
				continue;
			in->docs_seen++;
			if (set_input_id(in, d) || keep_headings(d)) {
				doc_free(d);
				rc = -1;
				break;
			}
			content_hash(in, d);
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

static void join_threads(pthread_t reader, pthread_t normalizer, const int started[2],
			 struct worker *workers)
{
	if (started[0])
		pthread_join(reader, NULL);
	if (started[1])
		pthread_join(normalizer, NULL);
	for (int i = 0; i < EMBED_WORKERS; i++)
		if (workers[i].started)
			pthread_join(workers[i].thread, NULL);
}

/* ---- progress: how far through the inputs -------------------------------------------------
 *
 * A percentage and an ETA need the inputs' size and how much of it is behind us, in the same
 * unit: bytes on disk. The size: each file's st_size, each directory's regular files summed by
 * a thread of its own (a large tree is walked while the work starts; until it is done the line
 * shows no percentage). How much is read: an archive, JSONL or compressed file is one open
 * descriptor of the reader's, whose offset (/proc/self/fdinfo) is the compressed bytes read; a
 * directory counts the raw bytes of the items read from it, which are its files' own bytes
 * (archives inside it count expanded, hence the cap at its size); inputs before the one being
 * read are done. The reader runs up to a queue ahead of the load, so the last seconds are
 * the pipeline draining.
 */
struct input_meter {
	int n;
	char *const *paths;           /* the command line's, not owned */
	char **real;                  /* realpath of each, NULL when unresolvable */
	uint64_t *size;               /* bytes of each (directories: summed by the sizing thread) */
	int *is_dir;
	_Atomic uint64_t *dir_raw;    /* raw bytes of items read from directory i */
	uint64_t *pos;                /* highest offset seen in file input i (meter_done only) */
	_Atomic int cur;              /* the highest input the normalizer has seen an item of */
	int last;                     /* cache for meter_note (normalizer thread only) */
	_Atomic uint64_t total;
	_Atomic int sized;            /* total is final */
	pthread_t sizer;
	int sizer_started;
};

static _Thread_local uint64_t walk_sum;

static int walk_add(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)f;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		walk_sum += (uint64_t)st->st_size;
	return 0;
}

static void *meter_size(void *arg)
{
	struct input_meter *m = arg;
	uint64_t total = 0;
	for (int i = 0; i < m->n; i++) {
		struct stat st;
		if (stat(m->paths[i], &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk_sum = 0;
			nftw(m->paths[i], walk_add, 16, FTW_PHYS);
			m->size[i] = walk_sum;
		}
		total += m->size[i];
	}
	m->total = total;
	m->sized = 1;
	return NULL;
}

static void meter_free(struct input_meter *m)
{
	if (!m)
		return;
	if (m->sizer_started)
		pthread_join(m->sizer, NULL);
	for (int i = 0; m->real && i < m->n; i++)
		free(m->real[i]);
	free(m->real);
	free(m->size);
	free(m->is_dir);
	free((void *)m->dir_raw);
	free(m->pos);
	free(m);
}

/* Starts sizing the inputs. NULL when out of memory (progress then shows no percentage). */
static struct input_meter *meter_start(char *const *paths, int n)
{
	struct input_meter *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->n = n;
	m->paths = paths;
	m->real = calloc((size_t)n, sizeof(*m->real));
	m->size = calloc((size_t)n, sizeof(*m->size));
	m->is_dir = calloc((size_t)n, sizeof(*m->is_dir));
	m->dir_raw = calloc((size_t)n, sizeof(*m->dir_raw));
	m->pos = calloc((size_t)n, sizeof(*m->pos));
	if (!m->real || !m->size || !m->is_dir || !m->dir_raw || !m->pos) {
		meter_free(m);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		struct stat st;
		m->real[i] = realpath(paths[i], NULL);
		if (stat(paths[i], &st) == 0) {
			m->is_dir[i] = S_ISDIR(st.st_mode);
			m->size[i] = m->is_dir[i] ? 0 : (uint64_t)st.st_size;
		}
	}
	m->sizer_started = pthread_create(&m->sizer, NULL, meter_size, m) == 0;
	if (!m->sizer_started)
		meter_size(m);
	return m;
}

/* An item from input `input` was read (normalizer thread). */
static void meter_note(struct input_meter *m, const char *input, size_t raw)
{
	if (!m || !input)
		return;
	int i = m->last;
	if (strcmp(m->paths[i], input))
		for (i = 0; i < m->n && strcmp(m->paths[i], input); i++)
			;
	if (i == m->n)
		return;
	m->last = i;
	if (i > m->cur)
		m->cur = i;
	if (m->is_dir[i])
		m->dir_raw[i] += raw;
}

/* Back to the first input, nothing read: the load pass reads the inputs again after the
 * fit has read them (main thread, while no other thread notes). */
static void meter_rewind(struct input_meter *m)
{
	if (!m)
		return;
	m->cur = 0;
	m->last = 0;
	for (int i = 0; i < m->n; i++) {
		m->dir_raw[i] = 0;
		m->pos[i] = 0;
	}
}

/* Bytes of the inputs behind us (see above); 0 while the sizes are unknown. */
static uint64_t meter_done(struct input_meter *m)
{
	if (!m || !m->sized)
		return 0;
	int cur = m->cur;
	/* the reader's open inputs: their offsets, and the furthest one it has reached */
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char link[300], target[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		for (int i = 0; i < m->n; i++) {
			if (m->is_dir[i] || !m->real[i] || strcmp(m->real[i], target))
				continue;
			char info[300];
			snprintf(info, sizeof(info), "/proc/self/fdinfo/%s", e->d_name);
			FILE *f = fopen(info, "r");
			unsigned long long pos = 0;
			if (f) {
				if (fscanf(f, "pos: %llu", &pos) == 1 && pos > m->pos[i])
					m->pos[i] = pos;
				fclose(f);
			}
			if (i > cur)
				cur = i;
		}
	}
	if (d)
		closedir(d);
	uint64_t done = 0;
	for (int i = 0; i < m->n; i++) {
		uint64_t part = i < cur ? m->size[i] : i > cur ? 0 : m->is_dir[i] ? m->dir_raw[i]
						   : m->pos[i];
		done += part < m->size[i] ? part : m->size[i];
	}
	return done;
}

/* ---- fitting ------------------------------------------------------------------------------ */

struct fit_ctx {
	const struct rl_config *cfg;
	struct model_fit *fit;
	struct counts *counts;
	uint64_t docs;
	int failed;
	uint64_t raw_bytes;           /* for progress */
	struct input_meter *meter;    /* may be NULL */
};

/* The ingest run's meter, for the fit it may start first (main thread only). */
static struct input_meter *fit_meter;

static int fit_emit(void *ctx, struct read_item *it)
{
	struct fit_ctx *fc = ctx;
	struct doc *d = NULL;
	int rc = normalize_item(&fc->cfg->norm, it, &d, fc->counts);
	fc->raw_bytes += it->raw_bytes;
	meter_note(fc->meter, it->input, it->raw_bytes);
	read_item_free(it);
	if (rc < 0 || (rc == 0 && chunk_doc(&fc->cfg->chunk, d))) {
		doc_free(d);
		fc->failed = 1;
		return -1;
	}
	if (rc == RL_SKIP || !d)
		return 0;
	for (size_t i = 0; i < d->n_chunks; i++)
		model_fit_add_titled(fc->fit, d->title, d->text + d->chunks[i].start,
				     d->chunks[i].end - d->chunks[i].start);
	doc_free(d);
	++fc->docs;
	if (progress_enabled()) {
		uint64_t total = fc->meter && fc->meter->sized ? fc->meter->total : 0;
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

int ingest_fit_model(const struct rl_config *cfg, char *const *paths, int n_paths,
		     struct model **out)
{
	struct counts quiet;
	counts_init(&quiet, 1); /* the load pass reports bad input; do not say it twice */
	struct fit_ctx fc = {cfg, NULL, &quiet, 0, 0, 0, fit_meter};
	int rc = model_fit_begin(&cfg->model, &fc.fit);
	if (rc)
		goto out;
	double t0 = now_seconds();
	progress_update(1, "ragload: fitting the model: reading documents");
	rc = read_inputs(&cfg->read, paths, n_paths, fit_emit, &fc, &quiet);
	if (fc.failed || rc < 0) {
		rc = -1;
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

/* ---- precomputed vectors (.fvecs) ------------------------------------------------------------ */

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/*
 * Each vector becomes a document with one chunk and its embedding, in file order, so the
 * 0-based ids of a matching .ivecs ground truth are the documents' "_id". Invalid vectors
 * (NaN, infinity: pgvector rejects them) are skipped and counted; a wrong dimension word or a
 * truncated last vector ends that file with a message naming the offset.
 */
static struct doc *vector_doc(const char *input, uint64_t i, const float *v, int dim)
{
	struct doc *d = doc_new();
	char key[64];
	if (!d)
		return NULL;
	snprintf(key, sizeof(key), "#%llu", (unsigned long long)i);
	size_t bl = strlen(base_name(input));
	d->source_name = malloc(bl + strlen(key) + 1);
	d->input = xstrdup(input);
	d->text = xstrdup("");
	d->chunks = calloc(1, sizeof(struct chunk));
	d->vectors = malloc((size_t)dim * sizeof(float));
	char meta[64];
	snprintf(meta, sizeof(meta), "{\"_id\": \"%llu\", \"format\": \"fvecs\"}",
		 (unsigned long long)i);
	d->metadata_json = xstrdup(meta);
	if (!d->source_name || !d->input || !d->text || !d->chunks || !d->vectors ||
	    !d->metadata_json) {
		doc_free(d);
		return NULL;
	}
	memcpy(d->source_name, base_name(input), bl);
	strcpy(d->source_name + bl, key);
	d->n_chunks = 1;
	d->dim = dim;
	memcpy(d->vectors, v, (size_t)dim * sizeof(float));
	return d;
}

static void vector_hash(struct ingest *in, struct doc *d)
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, d->vectors, (size_t)d->dim * sizeof(float));
	XXH3_128bits_update(&st, in->settings_sig, strlen(in->settings_sig));
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
	memcpy(d->hash, c.digest, 16);
}

static int vectors_probe_dim(char *const *paths, int n, int *dim)
{
	*dim = 0;
	for (int i = 0; i < n; i++) {
		struct vecfile vf;
		char err[256];
		if (vecfile_open(&vf, paths[i], err, sizeof(err))) {
			log_error("%s: %s", paths[i], err);
			return -1;
		}
		int d = vf.dim;
		vecfile_close(&vf);
		if (d && *dim && d != *dim) {
			log_error("%s: %d-dimensional vectors, but %s has %d", paths[i], d, paths[0], *dim);
			return -1;
		}
		if (d)
			*dim = d;
	}
	if (*dim == 0) {
		log_error("no vectors in the given .fvecs files");
		return -1;
	}
	return 0;
}

/* Gives a looked-up group to the loader (or only counts it in a dry run). The group's
 * slots are emptied; the caller frees what is left. */
static int hand_over(struct ingest *in, struct doc **group, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (in->args->dry_run) {
			if (group[k]->doc_id > 0)
				in->would_change++;
			else
				in->would_add++;
			continue;
		}
		struct doc *x = group[k];
		group[k] = NULL;
		if (queue_push(&in->q_docs, x, doc_bytes(x))) {
			doc_free(x);
			return -1;
		}
	}
	return 0;
}

/* Reads every .fvecs input into groups, drops unchanged vectors, hands the rest to the
 * loaders. */
static int ingest_vectors(struct ingest *in)
{
	struct doc *group[1024];
	size_t n = 0;
	float *v = NULL;
	int rc = 0;
	for (int p = 0; p < in->args->n_paths && !rc; p++) {
		const char *path = in->args->paths[p];
		struct vecfile vf;
		char err[256];
		double t0 = now_seconds();
		if (vecfile_open(&vf, path, err, sizeof(err))) {
			counts_skip(&in->counts, "bad_vector_file", path, "%s", err);
			continue;
		}
		free(v);
		v = malloc((size_t)(vf.dim ? vf.dim : 1) * sizeof(float));
		if (!v) {
			vecfile_close(&vf);
			rc = -1;
			break;
		}
		int got;
		while ((got = vecfile_next(&vf, v, err, sizeof(err))) == 1) {
			uint64_t i = vf.index - 1;
			int finite = 1;
			if (in->args->n_shards) {
				char key[512];
				snprintf(key, sizeof(key), "%s#%llu", base_name(path),
					 (unsigned long long)i);
				if (!ingest_in_shard(key, in->args->shard, in->args->n_shards))
					continue;
			}
			for (int k = 0; k < vf.dim && finite; k++)
				finite = isfinite(v[k]);
			in->raw_bytes += 4 + 4 * (uint64_t)vf.dim;
			if (!finite) {
				counts_skip(&in->counts, "bad_vector", path,
					    "vector %llu at byte offset %llu holds NaN or infinity",
					    (unsigned long long)i,
					    (unsigned long long)(vf.offset - 4 - 4 * (uint64_t)vf.dim));
				continue;
			}
			struct doc *d = vector_doc(path, i, v, vf.dim);
			if (!d || set_input_id(in, d)) {
				doc_free(d);
				rc = -1;
				break;
			}
			vector_hash(in, d);
			in->docs_seen++;
			group[n++] = d;
			if (n == RL_ARRAY_LEN(group)) {
				in->t_read += now_seconds() - t0;
				rc = lookup_existing(in, group, &n) ? -1 : hand_over(in, group, n);
				for (size_t k = 0; k < n; k++)
					doc_free(group[k]);
				n = 0;
				t0 = now_seconds();
				if (rc)
					break;
			}
		}
		in->t_read += now_seconds() - t0;
		if (got < 0)
			counts_skip(&in->counts, "bad_vector_file", path, "%s", err);
		vecfile_close(&vf);
	}
	if (!rc && n) {
		rc = lookup_existing(in, group, &n) ? -1 : hand_over(in, group, n);
	}
	for (size_t k = 0; k < n; k++)
		doc_free(group[k]);
	free(v);
	return rc;
}

/* ---- live vector indexes -------------------------------------------------------------------- */

/*
 * Small deltas go into the live HNSW/IVFFlat indexes. Once a load has added more than
 * index_rebuild_share of the rows, inserting into the graph row by row costs more than a
 * rebuild: the vector indexes are dropped (their definitions kept) and rebuilt at the end.
 */
struct live_indexes {
	PGresult *defs;       /* index name, CREATE INDEX statement */
	double rows;          /* rows of embeddings when the run started */
	int dropped;
};

static int live_indexes_init(PGconn *conn, struct live_indexes *li)
{
	memset(li, 0, sizeof(*li));
	li->defs = db_query(conn, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
			    "current_schema() AND tablename = 'embeddings' AND (indexdef LIKE "
			    "'%USING hnsw%' OR indexdef LIKE '%USING ivfflat%')", 0, NULL);
	if (!li->defs)
		return -1;
	int ok;
	li->rows = (double)db_scalar_int(conn, "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
					 "WHERE oid = 'embeddings'::regclass", 0, &ok);
	return ok ? 0 : -1;
}

static int live_indexes_check(PGconn *conn, struct live_indexes *li, const struct load_opts *o,
			      uint64_t added)
{
	if (li->dropped || !li->defs || PQntuples(li->defs) == 0 ||
	    (double)added <= o->index_rebuild_share * li->rows)
		return 0;
	log_info("this load adds more than %.0f%% of the rows: dropping the vector indexes, "
		 "rebuilding them after the load", 100 * o->index_rebuild_share);
	for (int i = 0; i < PQntuples(li->defs); i++) {
		char *name = PQescapeIdentifier(conn, PQgetvalue(li->defs, i, 0),
						strlen(PQgetvalue(li->defs, i, 0)));
		char sql[256];
		snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", name ? name : "");
		PQfreemem(name);
		if (db_exec(conn, sql))
			return -1;
	}
	li->dropped = 1;
	return 0;
}

/* ---- loader threads ------------------------------------------------------------------------ */

static void print_progress(struct ingest *in, const struct load_stats *ls, double t0, int final);

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
		rc = live_indexes_check(*in->main_conn, in->li, &in->cfg->load, in->incoming);
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
static void loaders_stats(struct ingest *in, struct load_stats *t)
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
static int loaders_start(struct ingest *in, const char *model_name)
{
	int n = in->cfg->load.connections > 0 ? in->cfg->load.connections : 1;
	in->loaders = calloc((size_t)n, sizeof(*in->loaders));
	if (!in->loaders)
		return -1;
	for (int i = 0; i < n; i++) {
		struct load_worker *w = &in->loaders[i];
		w->in = in;
		in->n_loaders++;
		if (!(w->conn = db_connect(in->cfg->conninfo)) ||
		    load_init(&w->loader, w->conn, &in->cfg->load, model_name, &in->counts))
			return -1;
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
static void loaders_wait(struct ingest *in, int progress, double t0)
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

static void loaders_free(struct ingest *in)
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

static int live_indexes_rebuild(PGconn *conn, struct live_indexes *li, int dim, int m)
{
	if (!li->dropped)
		return 0;
	int ok;
	long long rows = db_scalar_int(conn, "SELECT count(*) FROM embeddings", 0, &ok);
	char sql[256];
	snprintf(sql, sizeof(sql), "SET maintenance_work_mem = '%lldkB'",
		 index_hnsw_memory_kb(rows, dim, m));
	if (!ok || db_exec(conn, sql))
		return -1;
	for (int i = 0; i < PQntuples(li->defs); i++) {
		double t0 = now_seconds();
		if (db_exec(conn, PQgetvalue(li->defs, i, 1)))
			return -1;
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

/* ---- the command -------------------------------------------------------------------------- */

static int resolve_model(struct rl_config *cfg, const struct ingest_args *a, PGconn *conn,
			 struct model **out)
{
	if (a->model_file)
		return model_read_file(a->model_file, out);
	int ok;
	int64_t n_emb = db_scalar_int(conn, "SELECT count(*) FROM (SELECT 1 FROM embeddings LIMIT 1) s",
				      0, &ok);
	if (!ok)
		return -1;
	if (n_emb > 0) {
		int rc = corpus_current_model(conn, out);
		return rc == 0 ? 0 : -1;
	}
	return ingest_fit_model(cfg, a->paths, a->n_paths, out);
}

static void print_progress(struct ingest *in, const struct load_stats *ls, double t0, int final)
{
	double el = now_seconds() - t0;
	double mb = (double)in->raw_bytes / 1e6;
	uint64_t total = in->meter && in->meter->sized ? in->meter->total : 0;
	char where[96] = "", eta[16];
	if (total && !final) {
		/* The reader runs a queue ahead of the embedding, the slow part: the share of the
		 * inputs read, scaled by the share of the documents read so far that have been
		 * embedded (or found unchanged), is what is behind us. The rate of that gives the
		 * ETA; the first second is too noisy for one. */
		uint64_t seen = in->docs_seen, through = in->docs_to_load + in->unchanged;
		double f = (double)meter_done(in->meter) / (double)total;
		if (seen && !in->args->dry_run)
			f *= through < seen ? (double)through / (double)seen : 1.0;
		uint64_t done = (uint64_t)(f * (double)total);
		if (el >= 1 && done > 0 && f < 1)
			snprintf(where, sizeof(where), "%.0f%% of %.1f MB, ETA %s, ", 100 * f,
				 (double)total / 1e6,
				 progress_duration(el * (1 - f) / f, eta, sizeof(eta)));
		else
			snprintf(where, sizeof(where), "%.0f%% of %.1f MB, ", 100 * f,
				 (double)total / 1e6);
	}
	progress_update(final, "ragload: %s%llu documents (%llu loaded, %llu unchanged), "
			"%.1f MB, %.1f MB/s", where, (unsigned long long)in->docs_seen,
			(unsigned long long)(ls->docs_added + ls->docs_changed),
			(unsigned long long)in->unchanged, mb, el > 0 ? mb / el : 0.0);
	if (final)
		progress_end(1);
}

static void summary(struct ingest *in, const struct load_stats *ls, double elapsed, FILE *f)
{
	/* busy seconds of each stage, summed over its threads; the bottleneck is the stage
	 * whose threads were busiest (chunk and embed share the workers) */
	struct { const char *name; double t; int threads; } st[] = {
		{"read", in->t_read, 1}, {"normalize", in->t_normalize, 1},
		{"chunk", in->t_chunk, EMBED_WORKERS}, {"embed", in->t_embed, EMBED_WORKERS},
		{"load", ls->seconds, in->n_loaders > 1 ? in->n_loaders : 1},
	};
	int slow = 0;
	for (size_t i = 1; i < RL_ARRAY_LEN(st); i++) {
		double a = st[i].t / st[i].threads, b = st[slow].t / st[slow].threads;
		if (i == 3)
			a += st[2].t / st[2].threads;
		if (slow == 3)
			b += st[2].t / st[2].threads;
		if (a > b)
			slow = (int)i;
	}
	uint64_t skipped = counts_total(&in->counts);
	if (in->args->dry_run) {
		fprintf(f, "ragload: dry run (nothing written) in %.2f s\n", elapsed);
		fprintf(f, "  documents: %llu would be added, %llu changed, %llu unchanged, "
			   "%llu pruned, %llu skipped\n",
			(unsigned long long)in->would_add, (unsigned long long)in->would_change,
			(unsigned long long)in->unchanged, (unsigned long long)in->pruned,
			(unsigned long long)skipped);
	} else {
		fprintf(f, "ragload: ingest finished in %.2f s\n", elapsed);
		fprintf(f, "  documents: %llu added, %llu changed, %llu unchanged, %llu pruned, "
			   "%llu skipped\n",
			(unsigned long long)ls->docs_added, (unsigned long long)ls->docs_changed,
			(unsigned long long)in->unchanged, (unsigned long long)in->pruned,
			(unsigned long long)skipped);
		fprintf(f, "  chunks:    %llu in %llu transactions\n", (unsigned long long)ls->chunks,
			(unsigned long long)ls->transactions);
	}
	fprintf(f, "  bytes:     %.2f MB read, %.2f MB text loaded (%.1f MB/s)\n",
		(double)in->raw_bytes / 1e6, (double)ls->text_bytes / 1e6,
		elapsed > 0 ? (double)in->raw_bytes / 1e6 / elapsed : 0.0);
	fprintf(f, "  stages:   ");
	for (size_t i = 0; i < RL_ARRAY_LEN(st); i++)
		if (i == 3)
			fprintf(f, " %s %.2f s (%d threads, with chunk),", st[i].name, st[i].t,
				EMBED_WORKERS);
		else if (i == 4 && st[i].threads > 1)
			fprintf(f, " %s %.2f s (%d connections)", st[i].name, st[i].t, st[i].threads);
		else
			fprintf(f, " %s %.2f s%s", st[i].name, st[i].t,
				i + 1 < RL_ARRAY_LEN(st) ? "," : "");
	fprintf(f, " (bottleneck: %s)\n", st[slow].name);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(f, "  memory:    peak RSS %.1f MB (queues %.0f MB each)\n",
			(double)ru.ru_maxrss / 1024.0, (double)in->cfg->load.queue_bytes / 1048576.0);
	if (counts_ignored(&in->counts)) {
		/* recognised and left alone (images, fonts, symlinks, excluded files...): not
		 * warnings; the most frequent types first */
		int order[COUNTS_MAX_REASONS], m;
		pthread_mutex_lock(&in->counts.mu);
		m = in->counts.n_ignored;
		for (int i = 0; i < m; i++) {
			int j = i;
			for (; j > 0 && in->counts.ignored[order[j - 1]].n < in->counts.ignored[i].n; j--)
				order[j] = order[j - 1];
			order[j] = i;
		}
		fprintf(f, "  ignored:   %llu (", (unsigned long long)in->counts.ignored_total);
		for (int i = 0; i < m; i++)
			fprintf(f, "%s%s %llu", i ? ", " : "", in->counts.ignored[order[i]].type,
				(unsigned long long)in->counts.ignored[order[i]].n);
		pthread_mutex_unlock(&in->counts.mu);
		fprintf(f, ")\n");
	}
	if (skipped) {
		fprintf(f, "  skipped:  ");
		pthread_mutex_lock(&in->counts.mu);
		for (int i = 0; i < in->counts.n_reasons; i++)
			fprintf(f, " %s %llu%s", in->counts.reasons[i].reason,
				(unsigned long long)in->counts.reasons[i].n,
				i + 1 < in->counts.n_reasons ? "," : "");
		pthread_mutex_unlock(&in->counts.mu);
		fprintf(f, "\n");
	}
}

static void counts_json(struct ingest *in, const struct load_stats *ls, struct buf *b)
{
	buf_printf(b, "{\"added\": %llu, \"changed\": %llu, \"unchanged\": %llu, \"pruned\": %llu, "
		      "\"skipped\": %llu, \"chunks\": %llu, \"reconnects\": %llu, "
		      "\"skipped_by_reason\": {",
		   (unsigned long long)ls->docs_added, (unsigned long long)ls->docs_changed,
		   (unsigned long long)in->unchanged, (unsigned long long)in->pruned,
		   (unsigned long long)counts_total(&in->counts), (unsigned long long)ls->chunks,
		   (unsigned long long)in->reconnects);
	pthread_mutex_lock(&in->counts.mu);
	for (int i = 0; i < in->counts.n_reasons; i++)
		buf_printf(b, "%s\"%s\": %llu", i ? ", " : "", in->counts.reasons[i].reason,
			   (unsigned long long)in->counts.reasons[i].n);
	buf_printf(b, "}, \"ignored\": %llu, \"ignored_by_type\": {",
		   (unsigned long long)in->counts.ignored_total);
	for (int i = 0; i < in->counts.n_ignored; i++)
		buf_printf(b, "%s\"%s\": %llu", i ? ", " : "", in->counts.ignored[i].type,
			   (unsigned long long)in->counts.ignored[i].n);
	pthread_mutex_unlock(&in->counts.mu);
	buf_printf(b, "}}");
}

static int resolve_inputs(struct ingest *in)
{
	in->input_ids = calloc((size_t)in->args->n_paths, sizeof(char *));
	if (!in->input_ids)
		return -1;
	for (int i = 0; i < in->args->n_paths; i++) {
		char *rp = realpath(in->args->paths[i], NULL);
		in->input_ids[i] = rp ? rp : xstrdup(in->args->paths[i]);
		if (!in->input_ids[i])
			return -1;
	}
	return 0;
}

static int input_index(struct ingest *in, const char *id)
{
	for (int i = 0; i < in->args->n_paths; i++)
		if (strcmp(in->input_ids[i], id) == 0)
			return i;
	return -1;
}

/* Says which damaged places kept documents from --prune, the largest first (at most 10
 * lines; the rest summed up). */
static void prune_report_kept(struct ingest *in, uint64_t kept)
{
	struct damage *dm = in->damage;
	uint64_t said = 0;

	for (int shown = 0; shown < 10; shown++) {
		struct damage_place *best = NULL;
		for (size_t i = 0; i < dm->n; i++)
			if (dm->p[i].kept && (!best || dm->p[i].kept > best->kept))
				best = &dm->p[i];
		if (!best)
			break;
		log_warn("--prune kept %llu document%s under %s (input %s): not seen because of "
			 "the damage reported above, so they may still exist",
			 (unsigned long long)best->kept, best->kept == 1 ? "" : "s",
			 best->key ? best->key : "the whole input", in->args->paths[best->input]);
		said += best->kept;
		best->kept = 0;
	}
	if (kept > said)
		log_warn("--prune kept %llu more documents under other damaged places",
			 (unsigned long long)(kept - said));
}

/*
 * --prune: deletes documents under the given inputs whose keys were not seen in this run,
 * except those under a place where this run met damage (see "where documents may have been
 * missed"): nothing already loaded is lost because an archive got damaged, and one damaged
 * archive does not stop the pruning of the rest. Ignored files (images, symlinks, excluded
 * ones) are not damage: a document whose file is now excluded is pruned. The candidates
 * (documents not seen) are few on a rerun, so they are filtered here, in C, against the
 * damaged places and under --shard against the shard hash (SQL has no stable equivalent).
 */
static int prune(struct ingest *in)
{
	struct damage *dm = in->damage;
	int fvecs = in->args->n_paths > 0 && has_suffix(in->args->paths[0], ".fvecs");

	if (in->prune_unsafe || dm->overflow || (fvecs && counts_total(&in->counts))) {
		log_warn("--prune not applied: %s", in->prune_unsafe ?
			 "the record of documents seen was lost with a database connection" :
			 dm->overflow ? "too many damaged places to tell which documents were missed" :
			 "some vectors were skipped in this run, so documents that were not seen may "
			 "still exist");
		return 0;
	}
	if (dm->n) /* qsort and bsearch want a real array even for no elements */
		qsort(dm->p, dm->n, sizeof(*dm->p), damage_cmp);
	struct buf arr, ids;
	buf_init(&arr, 0);
	buf_init(&ids, 0);
	PGresult *r = NULL;
	uint64_t n = 0, kept = 0;
	int rc = -1;
	if (db_text_array(&arr, in->input_ids, (size_t)in->args->n_paths))
		goto out;
	const char *params[1] = {arr.data};
	r = db_query(in->worker_conn,
		"SELECT doc_id, source_name, source_input FROM documents d "
		"WHERE d.source_input = ANY($1::text[]) "
		"AND NOT EXISTS (SELECT 1 FROM pg_temp.ragload_seen s WHERE s.key = d.source_name)",
		1, params);
	if (!r)
		goto out;
	rc = buf_putc(&ids, '{');
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		const char *key = PQgetvalue(r, i, 1);
		int input = input_index(in, PQgetvalue(r, i, 2));
		struct damage_place *p;
		if (in->args->n_shards &&
		    !ingest_in_shard(key, in->args->shard, in->args->n_shards))
			continue;
		if (input >= 0 && (p = damage_covering(dm, input, key))) {
			p->kept++;
			kept++;
			continue;
		}
		rc = buf_printf(&ids, "%s%s", n++ ? "," : "", PQgetvalue(r, i, 0));
	}
	if (!rc)
		rc = buf_putc(&ids, '}');
	if (!rc && n && !in->args->dry_run) {
		const char *p[1] = {ids.data};
		PGresult *d = db_query(in->worker_conn, "WITH gone AS (DELETE FROM documents WHERE "
				       "doc_id = ANY($1::int[]) RETURNING 1) SELECT count(*) FROM gone",
				       1, p);
		rc = d ? 0 : -1;
		PQclear(d);
	}
	if (rc)
		goto out;
	in->pruned = n;
	if (kept)
		prune_report_kept(in, kept);
out:
	PQclear(r);
	buf_release(&arr);
	buf_release(&ids);
	return rc ? -1 : 0;
}

/* Fresh planner statistics after a bulk load, and dead tuples cleaned after deletes: the
 * vectors on one connection, documents and chunks on the other, side by side. Each ANALYZE
 * reads its table's freshly written pages once (setting their hint bits): ~0.25 s apiece for
 * the 1x corpus, so two backends halve it. Errors are logged; the load stands either way. */
static void analyze_tables(PGconn *conn, PGconn *other, int vacuum)
{
	const char *b = vacuum ? "VACUUM (ANALYZE) documents, chunks" : "ANALYZE documents, chunks";
	if (!other || PQstatus(other) != CONNECTION_OK || !PQsendQuery(other, b)) {
		db_exec(conn, vacuum ? "VACUUM (ANALYZE) documents, chunks, embeddings"
				     : "ANALYZE documents, chunks, embeddings");
		return;
	}
	db_exec(conn, vacuum ? "VACUUM (ANALYZE) embeddings" : "ANALYZE embeddings");
	PGresult *r;
	while ((r = PQgetResult(other)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			log_error("%s: %s", b, PQresultErrorMessage(r));
		PQclear(r);
	}
}

int ingest_run(struct rl_config *cfg, const struct ingest_args *a)
{
	int status = EXIT_FATAL;
	double t0 = now_seconds(), t0_pipeline = t0;
	struct ingest in;
	memset(&in, 0, sizeof(in));
	in.cfg = cfg;
	in.args = a;
	if (progress_enabled())
		fit_meter = in.meter = meter_start(a->paths, a->n_paths);
	counts_init(&in.counts, 0);
	pthread_mutex_init(&in.mu, NULL);
	pthread_mutex_init(&in.conn_mu, NULL);
	pthread_cond_init(&in.loaded, NULL);
	struct model *model = NULL;
	struct live_indexes li = {0};
	struct load_stats lsum;
	int64_t run_id = -1;
	int threads = 0, started[2] = { 0, 0 };
	pthread_t reader, normalizer;
	struct worker workers[EMBED_WORKERS];
	FILE *logf = NULL;
	PGconn *conn = NULL;

	if (a->log_file) {
		logf = fopen(a->log_file, "a");
		if (!logf) {
			log_error("%s: cannot open log file", a->log_file);
			goto out;
		}
		in.counts.log = logf;
		char ts[32];
		fprintf(logf, "%s ingest started:", log_timestamp(ts, sizeof(ts)));
		for (int i = 0; i < a->n_paths; i++)
			fprintf(logf, " %s", a->paths[i]);
		fprintf(logf, "\n");
	}
	in.main_conn = &conn;
	conn = db_connect(cfg->conninfo);
	if (!conn || resolve_inputs(&in))
		goto out;
	if (db_schema_version(conn) <= 0) {
		log_error("the database has no ragload schema: run `ragload init` first");
		goto out;
	}
	status = db_take_lock(conn, a->shard, a->no_wait ? 0 : cfg->load.lock_wait_s);
	if (status != EXIT_DONE)
		goto out;
	status = EXIT_FATAL;
	in.worker_conn = db_connect(cfg->conninfo);
	if (!in.worker_conn || live_indexes_init(conn, &li))
		goto out;
	if (a->prune) {
		if (db_exec(in.worker_conn, "CREATE TEMP TABLE ragload_seen (key text PRIMARY KEY)"))
			goto out;
		in.seen_table = 1;
		if (!(in.damage = calloc(1, sizeof(*in.damage))))
			goto out;
		pthread_mutex_init(&in.damage->mu, NULL);
	}
	if (!a->dry_run)
		run_id = db_run_begin(conn, "ingest", a->paths, a->n_paths);
	int n_fvecs = 0;
	for (int i = 0; i < a->n_paths; i++)
		n_fvecs += has_suffix(a->paths[i], ".fvecs");
	if (n_fvecs && n_fvecs != a->n_paths) {
		log_error("precomputed .fvecs vectors cannot be mixed with text inputs in one run");
		status = EXIT_USAGE;
		goto out;
	}
	if (n_fvecs) {
		/* TEXMEX ground truth is L2, so a precomputed corpus defaults to L2. */
		int dim;
		char name[64];
		if (vectors_probe_dim(a->paths, a->n_paths, &dim))
			goto out;
		snprintf(name, sizeof(name), "precomputed:%d", dim);
		snprintf(in.settings_sig, sizeof(in.settings_sig), "vectors");
		if ((!a->dry_run && corpus_claim(conn, name, dim, "l2", NULL)) ||
		    queue_init(&in.q_read, cfg->load.queue_bytes) ||
		    queue_init(&in.q_norm, NORM_QUEUE_BYTES) ||
		    queue_init(&in.q_docs, cfg->load.queue_bytes) || loaders_start(&in, name))
			goto out;
		int rc = ingest_vectors(&in);
		if (rc)
			abort_queues(&in);
		else
			queue_close(&in.q_docs);  /* the loaders commit what is left, then stop */
		loaders_wait(&in, 0, t0);
		if (rc || in.failed)
			goto out;
	} else {
		int have = 0;
		char chunking[32];
		snprintf(chunking, sizeof(chunking), "%d/%d", cfg->chunk.tokens, cfg->chunk.overlap);
		if (a->dry_run) {
			/* Compare against the corpus's model when it has one; never fit or alter. */
			int rc = corpus_current_model(conn, &model);
			if (rc < 0)
				goto out;
			have = rc == 0;
		} else if (a->n_shards) {
			/* Shards starting side by side on an empty corpus must agree on one model:
			 * the first fits and records it, the others wait and use the recorded one. */
			char sql[128];
			snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d, %d)",
				 RAGLOAD_LOCK_CLASS, RAGLOAD_SETUP_KEY);
			if (db_exec(conn, sql))
				goto out;
			int rc = a->model_file ? 1 : corpus_current_model(conn, &model);
			if (rc == 1)
				rc = resolve_model(cfg, a, conn, &model);
			if (!rc)
				rc = corpus_use_model(conn, model, chunking);
			snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d)",
				 RAGLOAD_LOCK_CLASS, RAGLOAD_SETUP_KEY);
			db_exec(conn, sql);
			if (rc)
				goto out;
			have = 1;
		} else {
			if (resolve_model(cfg, a, conn, &model) ||
			    corpus_use_model(conn, model, chunking))
				goto out;
			have = 1;
		}
		in.model = model;
		/* The hash is the document's content; the model and chunk settings that shape its
		 * rows are the live generation's, checked above (corpus_claim), so that a reindex
		 * swaps generations without rewriting every document's hash. */
		snprintf(in.settings_sig, sizeof(in.settings_sig), "%s", PIPELINE_VERSION);
		/* Two pipeline threads besides the loader share the cores with BLAS. */
		embed_set_blas_threads(cfg->model.blas_threads > 0 ? cfg->model.blas_threads : 1);
		in.li = &li;
		if (queue_init(&in.q_read, cfg->load.queue_bytes) ||
		    queue_init(&in.q_norm, NORM_QUEUE_BYTES) ||
		    queue_init(&in.q_docs, cfg->load.queue_bytes) ||
		    loaders_start(&in, have ? model_name(model) : "-"))
			goto out;
		in.workers_left = EMBED_WORKERS;
		int err = pthread_create(&reader, NULL, reader_main, &in), e;
		started[0] = !err;
		started[1] = !(e = pthread_create(&normalizer, NULL, normalizer_main, &in));
		err = err ? err : e;
		for (int i = 0; i < EMBED_WORKERS; i++) {
			workers[i] = (struct worker){ .in = &in };
			e = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
			workers[i].started = !e;
			err = err ? err : e;
		}
		threads = 1;
		if (err) {
			/* the stages wait for each other: without all of them, none can finish */
			log_error("cannot start the pipeline's threads: %s", strerror(err));
			in.failed = 1;
			abort_queues(&in);
		}

		int progress = progress_enabled();
		t0_pipeline = now_seconds();
		loaders_wait(&in, progress, t0_pipeline);
		join_threads(reader, normalizer, started, workers);
		threads = 0;
		if (progress) {
			loaders_stats(&in, &lsum);
			print_progress(&in, &lsum, t0_pipeline, 1);
		}
		if (in.failed)
			goto out;
	}
	/* the loaders reconnect it after a loss they notice; one they did not (a restart after
	 * their last commit) is noticed here, before the work that follows */
	if (!conn_alive(conn) && reconnect(&in, &conn, 1))
		goto out;
	if (a->prune && prune(&in))
		goto out;
	if (live_indexes_rebuild(conn, &li, model ? model_dim(model) : 0, 16))
		goto out;
	if (!a->dry_run) {
		loaders_stats(&in, &lsum);
		const struct load_stats *ls = &lsum;
		if (ls->docs_changed || in.pruned)
			analyze_tables(conn, in.worker_conn, 1);
		else if (ls->docs_added)
			analyze_tables(conn, in.worker_conn, 0);
	}
	status = counts_total(&in.counts) ? EXIT_SKIPPED : EXIT_DONE;
out:
	if (threads) {
		abort_queues(&in);
		join_threads(reader, normalizer, started, workers);
	}
	if (in.n_loaders) {
		abort_queues(&in);  /* no-op after a finished load */
		loaders_wait(&in, 0, t0);
	}
	if (in.n_loaders) {
		loaders_stats(&in, &lsum);
		const struct load_stats *ls = &lsum;
		if (!cfg->quiet)
			summary(&in, ls, now_seconds() - t0, stderr);
		if (logf) {
			char ts[32];
			fprintf(logf, "%s ingest %s\n", log_timestamp(ts, sizeof(ts)),
				status == EXIT_FATAL ? "failed" : "finished");
			summary(&in, ls, now_seconds() - t0, logf);
		}
		if (conn && PQstatus(conn) == CONNECTION_OK && run_id >= 0) {
			struct buf cj;
			buf_init(&cj, 0);
			counts_json(&in, ls, &cj);
			db_run_end(conn, run_id, status == EXIT_FATAL ? "failed" :
				   status == EXIT_SKIPPED ? "done_with_skips" : "done", cj.data, NULL);
			buf_release(&cj);
		}
	} else if (conn && run_id >= 0 && PQstatus(conn) == CONNECTION_OK) {
		db_run_end(conn, run_id, "failed", "{}", NULL);
	}
	if (in.q_read.cap) {
		queue_release(&in.q_read, (void (*)(void *))read_item_free);
		queue_release(&in.q_norm, (void (*)(void *))norm_group_free);
		queue_release(&in.q_docs, (void (*)(void *))doc_free);
	}
	if (li.dropped && conn && PQstatus(conn) == CONNECTION_OK)
		live_indexes_rebuild(conn, &li, model ? model_dim(model) : 0, 16);  /* never leave a
										      * corpus without them */
	PQclear(li.defs);
	loaders_free(&in);
	model_free(model);
	if (in.worker_conn)
		PQfinish(in.worker_conn);
	if (conn)
		PQfinish(conn);
	for (int i = 0; in.input_ids && i < a->n_paths; i++)
		free(in.input_ids[i]);
	free(in.input_ids);
	damage_free(in.damage);
	counts_release(&in.counts);
	fit_meter = NULL;
	meter_free(in.meter);
	pthread_mutex_destroy(&in.mu);
	if (logf)
		fclose(logf);
	return status;
}
