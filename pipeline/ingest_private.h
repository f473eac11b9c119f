/*
 * ingest_private.h — what the files of `ragload ingest` share (pipeline/ingest*.c only): the
 * run's state and the functions one file lends another.
 *
 *   ingest.c          ingest_run, the table of contents: open, text or vector inputs, finish,
 *                     close; the model the run embeds with
 *   ingest_threads.c  the stage threads (reader, normalizer, chunk + embed workers, loaders)
 *                     and the queues between them
 *   ingest_vectors.c  precomputed .fvecs vectors straight to the loaders
 *   ingest_prune.c    --prune, and the damage that keeps documents from it
 *   ingest_summary.c  progress, the summary, the run log's counts
 */
#ifndef RAGLOAD_INGEST_PRIVATE_H
#define RAGLOAD_INGEST_PRIVATE_H

#include "ingest.h"
#include "../lib/progress.h"
#include "../lib/queue.h"
#include "../models/model.h"
#include "../stages/index.h"
#include "../stages/load.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define RAGLOAD_SETUP_KEY 1000000     /* advisory key serialising shards' model setup */
#define GROUP_DOCS 64                 /* documents embedded together */
#define GROUP_BYTES (1u << 20)
#define NORM_QUEUE_BYTES (2 * GROUP_BYTES) /* normalized documents waiting for the workers */
#define EMBED_WORKERS 2               /* chunk + embed threads */

/* Bumped when normalize or chunk change how text becomes rows, so a rerun redoes them. */
#define PIPELINE_VERSION "ragload-text-1"

struct load_worker;
struct damage;
struct norm_group;

/* A chunk + embed worker thread. */
struct worker {
	struct ingest *in;
	pthread_t thread;
	int started;
	double t_chunk, t_embed;
};

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
	struct index_live *li;        /* checked per document before it joins a batch */
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
	int postings_dropped;         /* a first load: the postings' indexes built after it */
	/* the run: ingest_run's steps hand these on */
	PGconn *conn;                 /* the main connection (main_conn points here) */
	struct model *own_model;      /* the model this run embeds with (text inputs), or NULL */
	struct index_live live;       /* the vector indexes, dropped and rebuilt for big loads */
	int64_t run_id;               /* ragload_runs row, -1 without one */
	FILE *logf;                   /* --log FILE, or NULL */
	double t0, t0_pipeline;       /* start of the run, of the pipeline */
	pthread_t reader, normalizer;
	int started[2];               /* reader, normalizer */
	struct worker *workers;       /* EMBED_WORKERS of them */
	int threads;                  /* stage threads to join */
};

/* ingest_threads.c */
void count_dry_run(struct ingest *in, struct doc *const *g, size_t n);
int hand_to_loaders(struct ingest *in, struct doc **g, size_t n);
void abort_queues(struct ingest *in);
/* Starts the reader, the normalizer and the workers (the loaders run already); on failure
 * the run is marked failed and the queues aborted, so that the loaders wind down. */
void ingest_threads_start(struct ingest *in);
/* Joins whichever stage threads were started. */
void ingest_threads_join(struct ingest *in);
void loaders_free(struct ingest *in);
int loaders_start(struct ingest *in, const char *model_name);
void loaders_stats(struct ingest *in, struct load_stats *t);
void loaders_wait(struct ingest *in, int progress, double t0);
int lookup_existing(struct ingest *in, struct doc **g, size_t *n);
void norm_group_free(struct norm_group *ng);
int reconnect(struct ingest *in, PGconn **conn, int take_lock);
int set_input_id(struct ingest *in, struct doc *d);

/* ingest_vectors.c */
int has_suffix(const char *s, const char *suffix);
int ingest_vectors(struct ingest *in);
int vectors_probe_dim(char *const *paths, int n, int *dim);

/* ingest_prune.c */
struct damage *damage_new(void);
void damage_free(struct damage *dm);
void damage_from_read(void *ctx, const char *input, const char *key);
void damage_note_input(struct ingest *in, const char *input, const char *key);
int prune(struct ingest *in);
int resolve_inputs(struct ingest *in);

/* ingest_summary.c */
void counts_json(struct ingest *in, const struct load_stats *ls, struct buf *b);
void print_progress(struct ingest *in, const struct load_stats *ls, double t0, int final);
void summary(struct ingest *in, const struct load_stats *ls, double elapsed, FILE *f);


#endif
