/*
 * bench/stages.c — ragload's stages timed alone, and the bare baselines they are compared
 * with. Driven by bench/run.sh, which turns what this prints into reports/bench/bench.json.
 *
 * What: one program, several subcommands, each printing "key value" lines on stdout:
 *   read FILE             the read stage alone: read_inputs() with an emit callback that
 *                         frees each entry (decompressed and handed on, nothing else)
 *   docx PATH...          the office path alone: read_inputs() of the documents, each
 *                         normalized (office.c's package reader and XML walk, the emitter, NFC)
 *                         as it is read, on one thread: what ingest does before chunking
 *   stages FILE [--load]  the corpus in memory, then each stage alone on one thread:
 *                         normalize, chunk, model fit, embed (1 thread, then one thread per
 *                         core), a bare cblas_sgemm of the projection's shape (1 thread, one
 *                         per core), and with --load the load stage into $PGDATABASE (or
 *                         into each of $BENCH_LOAD_DBS, one timing each)
 *   rawcopy DIR T1 T2 ...  the "raw binary COPY" baseline: pre-encoded binary COPY files
 *                         DIR/<batch>.<i>.bin loaded into tables T1..T3 from memory in 1 MB
 *                         PQputCopyData pieces, one transaction per batch (DIR/batches)
 *   pgscan Q.fvecs K OP   PostgreSQL's exact top-K: one ORDER BY embedding_vector OP $1
 *                         LIMIT K query per query vector, default planner settings
 *   fvecs N OUT           the first N embeddings of $PGDATABASE as an .fvecs file
 *   embedq MODEL OUT      texts on stdin (one a line) embedded with a model file (`ragload
 *                         model export`) by model_embed(), the queries' code path, as .fvecs
 *   sgemm M N K           the bare sgemm alone (run under OPENBLAS_CORETYPE=... to see what
 *                         another kernel of the same library would do on this CPU)
 *   pdf FILE...           the PDF path of normalize alone: normalize_item() on each PDF (read
 *                         into memory first), which runs build/ragload-parse per document:
 *                         wall and CPU time, this process's and its workers' (waited for)
 *   cputime CMD...        runs CMD (stdout to /dev/null): its wall and CPU (user + system) time
 *   chunks PATH [TEXT [MB]]  read + normalize + chunk as ingest does (its excludes and
 *                         settings), one document at a time, nothing kept: a line "N\tSOURCE"
 *                         per document (N its chunks), totals on stderr; with TEXT, the
 *                         normalized texts (up to MB megabytes, default 64) written there, one
 *                         blank-line-separated document after another. What
 *                         datasets/make-scale-corpus.sh sizes its corpora by and trains its
 *                         text generator on
 *   jget FILE PATH        a number from a JSON file (PATH = dotted keys)
 *   blasinfo              OpenBLAS's build and the core it picked
 *
 * How: every figure is a ratio or a rate from one run, so this program only measures: wall
 * time on the monotonic clock around exactly the work named, inputs prepared beforehand and
 * outside the timed region. It uses the stage APIs (stages/ *.h) the pipeline uses, so a
 * stage measured here is the code `ragload ingest` runs. Two constants mirror ingest's and
 * the embed stage's (GROUP_DOCS/GROUP_BYTES: documents embedded together; EMBED_BLOCK: rows
 * per sgemm); they are repeated here, not shared, because those are internal to them.
 *
 * CPU: besides wall time, each single-threaded stage reports this process's CPU time (what
 * bench/run.sh rates them by: equal to wall time on an idle core, unmoved by neighbours), and
 * the loads report the PostgreSQL backend's too (from /proc/<pid>/stat, same machine), which
 * shows where a load's time goes: the client's encoding or the server's inserts, indexes, WAL.
 * BLAS: the program re-executes itself under the OpenBLAS kernels ragload would pick
 * (blas_tune, lib/blas.c, as ragload does), so the stages are timed as they run.
 *
 * Why a separate program rather than flags of ragload: the baselines (bare sgemm, raw COPY)
 * have no place in the product, and timing a stage alone needs the others' output prepared
 * in memory first, which the streaming pipeline never does.
 *
 * Size: ~1,200 lines: one short subcommand per figure bench/run.sh reports; they share the
 * corpus loading and timing helpers, so they stay one program.
 */
#include "../lib/common.h"
#include "../lib/config.h"
#include "../lib/db.h"
#include "../lib/pgcopy.h"
#include "../stages/read.h"
#include "../stages/normalize.h"
#include "../stages/chunk.h"
#include "../models/model.h"
#include "../stages/load.h"
#include "../lib/blas.h"
#include "../stages/embedding.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <strings.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define GROUP_DOCS 64              /* pipeline/ingest_private.h: documents embedded together */
#define GROUP_BYTES (1u << 20)     /* ... or this much text */
#define EMBED_BLOCK 256            /* stages/embedding.c: texts per model_embed() call */
#define SGEMM_K 4096               /* the sketch of the hashed model before featurizer 4 */
#define SGEMM_CALLS 24             /* bare sgemm calls per thread (~1-2 s) */
#define COPY_PIECE (1u << 20)      /* the raw baseline's PQputCopyData size */
#define MAX_THREADS 64

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench-stages: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static int ncores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the calling thread alone: for the stages that run on it alone (read,
 * normalize + chunk). OpenBLAS's idle pool threads spin for a while after the library starts
 * or after a call before they sleep, and the process clock would charge that to the stage. */
static double thread_cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of a process on this machine, or -1 when unreadable. */
static double pid_cpu_seconds(int pid)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = 0;
	char *p = strrchr(line, ')');   /* the command name may hold spaces */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- read ---------------------------------------------------------------------------------- */

struct read_tally {
	uint64_t items, bytes, raw_bytes;
	struct read_item **keep;   /* NULL: free each item at once */
	size_t n, cap;
};

static int emit_tally(void *ctx, struct read_item *it)
{
	struct read_tally *t = ctx;
	t->items++;
	t->bytes += it->len;
	t->raw_bytes += it->raw_bytes;
	if (!t->keep) {
		read_item_free(it);
		return 0;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		struct read_item **k = realloc(t->keep, t->cap * sizeof(*k));
		if (!k)
			die("out of memory");
		t->keep = k;
	}
	t->keep[t->n++] = it;
	return 0;
}

static int cmd_read(const struct rl_config *cfg, char *path)
{
	struct counts c;
	counts_init(&c, 1);
	struct read_tally t = {0};
	char *paths[1] = {path};
	/* ingest sets one BLAS thread (which stops OpenBLAS's spinning pool) before its reader
	 * starts; so here, or the pool's spin shares the cores with the read */
	blas_set_threads(1);
	double c0 = thread_cpu_seconds(), t0 = now_seconds();
	int rc = read_inputs(&cfg->read, paths, 1, emit_tally, &t, &c);
	double s = now_seconds() - t0, cs = thread_cpu_seconds() - c0;
	if (rc < 0)
		die("read_inputs failed on %s", path);
	printf("items %llu\nbytes %llu\nraw_bytes %llu\nskipped %llu\nseconds %.6f\n"
	       "cpu_seconds %.6f\n", (unsigned long long)t.items, (unsigned long long)t.bytes,
	       (unsigned long long)t.raw_bytes, (unsigned long long)counts_total(&c), s, cs);
	counts_release(&c);
	return 0;
}

/* ---- docx: read + normalize of office documents -------------------------------------------- */

struct docx_tally {
	const struct rl_config *cfg;
	struct counts *c;
	unsigned long long files, bytes, text_bytes, failed;
};

static int emit_normalize(void *ctx, struct read_item *it)
{
	struct docx_tally *t = ctx;
	struct doc *d = NULL;
	t->files++;
	t->bytes += it->len;
	if (normalize_item(&t->cfg->norm, it, &d, t->c) == 0 && d)
		t->text_bytes += d->text_len;
	else
		t->failed++;
	doc_free(d);
	read_item_free(it);
	return 0;
}

static int cmd_docx(const struct rl_config *cfg, char **paths, int n)
{
	struct counts c;
	counts_init(&c, 1);
	struct docx_tally t = {.cfg = cfg, .c = &c};
	blas_set_threads(1);
	double c0 = thread_cpu_seconds(), t0 = now_seconds();
	int rc = read_inputs(&cfg->read, paths, n, emit_normalize, &t, &c);
	double s = now_seconds() - t0, cs = thread_cpu_seconds() - c0;
	if (rc < 0 || t.failed)
		die("read + normalize failed (%llu of %llu documents)", t.failed, t.files);
	printf("files %llu\nbytes %llu\ntext_bytes %llu\nseconds %.6f\ncpu_seconds %.6f\n", t.files,
	       t.bytes, t.text_bytes, s, cs);
	counts_release(&c);
	return 0;
}

/* ---- chunks: per-document chunk counts -------------------------------------------------------- */

struct chunk_tally {
	const struct rl_config *cfg;
	struct counts *c;
	FILE *text;
	uint64_t text_left;
	unsigned long long docs, chunks, bytes;
};

static int emit_chunks(void *ctx, struct read_item *it)
{
	struct chunk_tally *t = ctx;
	struct doc *d = NULL;
	t->bytes += it->len;
	if (normalize_item(&t->cfg->norm, it, &d, t->c) == 0 && d) {
		if (chunk_doc(&t->cfg->chunk, d))
			die("chunk_doc failed");
		if (d->n_chunks) {
			printf("%zu\t%s\n", d->n_chunks, it->source);
			t->docs++;
			t->chunks += d->n_chunks;
		}
		if (t->text && t->text_left >= d->text_len + 2) {
			fwrite(d->text, 1, d->text_len, t->text);
			fputs("\n\n", t->text);
			t->text_left -= d->text_len + 2;
		}
	}
	doc_free(d);
	read_item_free(it);
	return 0;
}

static int cmd_chunks(const struct rl_config *cfg, char *path, const char *text, double mb)
{
	struct counts c;
	counts_init(&c, 1);
	struct chunk_tally t = {.cfg = cfg, .c = &c};
	if (text) {
		t.text = fopen(text, "w");
		if (!t.text)
			die("cannot write %s", text);
		t.text_left = (uint64_t)(mb * 1048576.0);
	}
	blas_set_threads(1);
	char *paths[1] = {path};
	double t0 = now_seconds();
	if (read_inputs(&cfg->read, paths, 1, emit_chunks, &t, &c) < 0)
		die("read_inputs failed on %s", path);
	if (t.text && fclose(t.text))
		die("cannot write %s", text);
	fflush(stdout);
	fprintf(stderr, "docs %llu\nchunks %llu\ninput_bytes %llu\nskipped %llu\nseconds %.3f\n",
		t.docs, t.chunks, t.bytes, (unsigned long long)counts_total(&c), now_seconds() - t0);
	counts_release(&c);
	return 0;
}

/* ---- embed: groups as ingest forms them, spread over threads --------------------------------- */

struct group {
	size_t first, n;
};

struct embed_job {
	const struct model *m;
	struct doc **docs;
	const struct group *groups;
	size_t n_groups;
	_Atomic size_t next;
	_Atomic int failed;
};

static void *embed_worker(void *arg)
{
	struct embed_job *j = arg;
	for (;;) {
		size_t g = atomic_fetch_add(&j->next, 1);
		if (g >= j->n_groups)
			break;
		if (embed_docs(j->m, j->docs + j->groups[g].first, j->groups[g].n))
			j->failed = 1;
	}
	return NULL;
}

/* Embeds every group with `threads` threads (each calling embed_docs, BLAS on 1 thread).
 * Returns the wall time. */
static double embed_all(const struct model *m, struct doc **docs, const struct group *groups,
			size_t n_groups, int threads)
{
	struct embed_job j = {m, docs, groups, n_groups, 0, 0};
	pthread_t th[MAX_THREADS];
	double t0 = now_seconds();
	if (threads == 1) {
		embed_worker(&j);
	} else {
		for (int i = 0; i < threads; i++)
			if (pthread_create(&th[i], NULL, embed_worker, &j))
				die("pthread_create failed");
		for (int i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
	}
	double s = now_seconds() - t0;
	if (j.failed)
		die("embed_docs failed");
	return s;
}

/* ---- bare sgemm of the projection's shape ---------------------------------------------------- */

struct sgemm_job {
	int m, n, k, calls;
	const float *a, *b;
};

static void *sgemm_worker(void *arg)
{
	const struct sgemm_job *j = arg;
	float *c = xmalloc((size_t)j->m * (size_t)j->n * sizeof(float));
	for (int i = 0; i < j->calls; i++)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->m, j->n, j->k, 1.0f, j->a,
			    j->k, j->b, j->n, 0.0f, c, j->n);
	free(c);
	return NULL;
}

/* GFLOP/s (wall) of `threads` threads each running SGEMM_CALLS calls of m x k times k x n;
 * *seconds gets the wall time, *cpu the process's CPU time. */
static double sgemm_rate(int m, int n, int k, int threads, double *seconds, double *cpu)
{
	float *a = xmalloc((size_t)m * k * sizeof(float)), *b = xmalloc((size_t)k * n * sizeof(float));
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < (size_t)m * k; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		a[i] = (float)((double)(x >> 40) / (double)(1 << 24)) - 0.5f;
	}
	for (size_t i = 0; i < (size_t)k * n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (float)((double)(x >> 40) / (double)(1 << 24)) - 0.5f;
	}
	struct sgemm_job warm = {m, n, k, 2, a, b}, j = {m, n, k, SGEMM_CALLS, a, b};
	sgemm_worker(&warm);
	pthread_t th[MAX_THREADS];
	double c0 = cpu_seconds(), t0 = now_seconds();
	if (threads == 1) {
		sgemm_worker(&j);
	} else {
		for (int i = 0; i < threads; i++)
			if (pthread_create(&th[i], NULL, sgemm_worker, &j))
				die("pthread_create failed");
		for (int i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
	}
	*seconds = now_seconds() - t0;
	*cpu = cpu_seconds() - c0;
	free(a);
	free(b);
	return 2.0 * m * n * (double)k * SGEMM_CALLS * threads / *seconds / 1e9;
}

/* ---- stages ---------------------------------------------------------------------------------- */

static int is_html(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	return dot && (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"));
}

static void doc_hash(struct doc *d)
{
	XXH128_hash_t h = XXH3_128bits(d->text, d->text_len);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(d->hash, c.digest, 16);
}

/* A deep copy of what the load stage reads from a doc. */
static struct doc *doc_clone(const struct doc *d)
{
	struct doc *x = doc_new();
	if (!x)
		die("out of memory");
	x->source_name = xstrdup(d->source_name);
	x->input = d->input ? xstrdup(d->input) : NULL;
	x->title = d->title ? xstrdup(d->title) : NULL;
	x->text = xmalloc(d->text_len + 1);
	memcpy(x->text, d->text, d->text_len + 1);
	x->text_len = d->text_len;
	x->metadata_json = xstrdup(d->metadata_json);
	x->chunks = xmalloc((d->n_chunks ? d->n_chunks : 1) * sizeof(struct chunk));
	for (size_t i = 0; i < d->n_chunks; i++) {
		x->chunks[i] = d->chunks[i];
		x->chunks[i].heading_path = d->chunks[i].heading_path ?
			xstrdup(d->chunks[i].heading_path) : NULL;
	}
	x->n_chunks = d->n_chunks;
	size_t nv = d->n_chunks * (size_t)(d->dim > 0 ? d->dim : 0);
	x->vectors = xmalloc((nv ? nv : 1) * sizeof(float));
	if (nv)
		memcpy(x->vectors, d->vectors, nv * sizeof(float));
	x->dim = d->dim;
	x->mtime = d->mtime;
	x->raw_bytes = d->raw_bytes;
	memcpy(x->hash, d->hash, sizeof(x->hash));
	return x;
}

/* One timed load of every doc into db (NULL: $PGDATABASE); the last round hands over the
 * originals, earlier rounds copies. Prints load_* keys, suffixed _<round> after the first. */
/* One loader of a load_once: its own connection, documents taken in turn from a shared index
 * (as ingest's loaders take them off their queue). */
struct load_thread {
	const struct rl_config *cfg;
	const struct model *m;
	struct doc **docs;
	size_t n_docs;
	_Atomic size_t *next;
	struct counts *c;
	const char *conninfo;
	PGconn *conn;
	struct loader *l;
	pthread_t th;
};

static void *load_thread_main(void *arg)
{
	struct load_thread *t = arg;
	size_t i;
	while ((i = atomic_fetch_add(t->next, 1)) < t->n_docs)
		if (load_add(t->l, t->docs[i]))
			die("load_add failed");
	if (load_flush(t->l))
		die("load_flush failed");
	return NULL;
}

static void load_once(const struct rl_config *cfg, const struct model *m, struct doc **docs,
		      size_t n_docs, const char *db, int round, int last, struct counts *c)
{
	char conninfo[512] = "", sfx[16] = "";
	if (db)
		snprintf(conninfo, sizeof(conninfo), "dbname=%s", db);
	if (round)
		snprintf(sfx, sizeof(sfx), "_%d", round);
	struct doc **mine = docs;
	if (!last) {
		mine = xmalloc((n_docs ? n_docs : 1) * sizeof(*mine));
		for (size_t i = 0; i < n_docs; i++)
			mine[i] = doc_clone(docs[i]);
	}
	/* load.connections loaders side by side, as ingest runs them */
	int nl = cfg->load.connections > 0 ? cfg->load.connections : 1;
	struct load_thread *lt = xmalloc((size_t)nl * sizeof(*lt));
	_Atomic size_t next = 0;
	double be0 = 0;
	int be_ok = 1;
	for (int k = 0; k < nl; k++) {
		lt[k] = (struct load_thread){ cfg, m, mine, n_docs, &next, c, conninfo, NULL, NULL, 0 };
		if (!(lt[k].conn = db_connect(conninfo)))
			die("cannot connect");
		if (load_init(&lt[k].l, lt[k].conn, &cfg->load, model_name(m), c))
			die("load_init failed");
		double b = pid_cpu_seconds(PQbackendPID(lt[k].conn));
		be_ok = be_ok && b >= 0;
		be0 += b;
	}
	double cpu0 = cpu_seconds(), t0 = now_seconds();
	for (int k = 0; k < nl; k++)
		if (pthread_create(&lt[k].th, NULL, load_thread_main, &lt[k]))
			die("pthread_create failed");
	for (int k = 0; k < nl; k++)
		pthread_join(lt[k].th, NULL);
	double t_load = now_seconds() - t0, be1 = 0;
	struct load_stats ls = { 0 };
	for (int k = 0; k < nl; k++) {
		double b = pid_cpu_seconds(PQbackendPID(lt[k].conn));
		be_ok = be_ok && b >= 0;
		be1 += b;
		const struct load_stats *s = load_get_stats(lt[k].l);
		ls.docs_added += s->docs_added;
		ls.chunks += s->chunks;
		ls.transactions += s->transactions;
		ls.seconds += s->seconds;
	}
	printf("load_seconds%s %.6f\nload_client_cpu_seconds%s %.3f\nload_server_cpu_seconds%s %.3f\n"
	       "load_db_seconds%s %.6f\nload_transactions%s %llu\nload_rows%s %llu\n"
	       "load_docs%s %llu\nload_chunks%s %llu\nload_connections%s %d\n", sfx, t_load, sfx,
	       cpu_seconds() - cpu0, sfx, be_ok ? be1 - be0 : -1.0, sfx, ls.seconds, sfx,
	       (unsigned long long)ls.transactions, sfx,
	       (unsigned long long)(ls.docs_added + 2 * ls.chunks), sfx,
	       (unsigned long long)ls.docs_added, sfx, (unsigned long long)ls.chunks, sfx, nl);
	for (int k = 0; k < nl; k++) {
		load_free(lt[k].l);
		PQfinish(lt[k].conn);
	}
	free(lt);
	if (!last)
		free(mine);
}

static int cmd_stages(struct rl_config *cfg, char *path, int do_load)
{
	struct counts c;
	counts_init(&c, 1);
	char *paths[1] = {path};
	blas_set_threads(1);  /* as in cmd_read; the fit below asks for every core again */
	/* 1. everything read into memory (not a figure: the read stage is timed by `read`) */
	struct read_tally keep = {0};
	keep.keep = xmalloc(sizeof(struct read_item *));
	keep.cap = 1;
	double t0 = now_seconds();
	if (read_inputs(&cfg->read, paths, 1, emit_tally, &keep, &c) < 0)
		die("read_inputs failed on %s", path);
	printf("read_to_memory_seconds %.6f\n", now_seconds() - t0);
	printf("items %zu\ninput_bytes %llu\n", keep.n, (unsigned long long)keep.bytes);

	/* 2. normalize alone, then chunk alone, one thread */
	struct doc **docs = xmalloc(keep.n * sizeof(*docs));
	size_t n_docs = 0;
	double t_norm = 0, t_html = 0, t_other = 0, c_nc = thread_cpu_seconds();
	uint64_t b_html = 0, b_other = 0, text_bytes = 0;
	for (size_t i = 0; i < keep.n; i++) {
		struct read_item *it = keep.keep[i];
		struct doc *d = NULL;
		double a = now_seconds();
		int rc = normalize_item(&cfg->norm, it, &d, &c);
		double s = now_seconds() - a;
		t_norm += s;
		if (is_html(it->name)) {
			t_html += s;
			b_html += it->len;
		} else {
			t_other += s;
			b_other += it->len;
		}
		if (rc < 0)
			die("normalize_item failed");
		if (rc == 0 && d) {
			d->raw_bytes = it->raw_bytes;
			docs[n_docs++] = d;
			text_bytes += d->text_len;
		}
		read_item_free(it);
	}
	free(keep.keep);
	double t_chunk = 0;
	uint64_t n_chunks = 0, tokens = 0;
	t0 = now_seconds();
	for (size_t i = 0; i < n_docs; i++)
		if (chunk_doc(&cfg->chunk, docs[i]))
			die("chunk_doc failed");
	t_chunk = now_seconds() - t0;
	c_nc = thread_cpu_seconds() - c_nc;
	for (size_t i = 0; i < n_docs; i++) {
		n_chunks += docs[i]->n_chunks;
		for (size_t k = 0; k < docs[i]->n_chunks; k++)
			tokens += (uint64_t)docs[i]->chunks[k].token_count;
	}
	printf("docs %zu\nskipped %llu\ntext_bytes %llu\nchunks %llu\ntokens %llu\n", n_docs,
	       (unsigned long long)counts_total(&c), (unsigned long long)text_bytes,
	       (unsigned long long)n_chunks, (unsigned long long)tokens);
	printf("normalize_seconds %.6f\nnormalize_html_seconds %.6f\nnormalize_html_bytes %llu\n"
	       "normalize_other_seconds %.6f\nnormalize_other_bytes %llu\nchunk_seconds %.6f\n"
	       "normalize_chunk_cpu_seconds %.3f\n",
	       t_norm, t_html, (unsigned long long)b_html, t_other, (unsigned long long)b_other,
	       t_chunk, c_nc);

	/* 3. the model, fitted as ingest fits it (every chunk of the first fit_sample_docs docs) */
	struct model_fit *fit;
	struct model *m;
	blas_set_threads(ncores());
	t0 = now_seconds();
	if (model_fit_begin(&cfg->model, &fit))
		die("model_fit_begin failed");
	for (size_t i = 0; i < n_docs && i < cfg->model.fit_sample_docs; i++)
		for (size_t k = 0; k < docs[i]->n_chunks; k++)
			model_fit_add_titled(fit, docs[i]->title,
					     docs[i]->text + docs[i]->chunks[k].start,
					     docs[i]->chunks[k].end - docs[i]->chunks[k].start);
	if (model_fit_end(fit, &m))
		die("model_fit_end failed");
	printf("fit_seconds %.6f\nmodel %s\ndim %d\nfeatures %d\n", now_seconds() - t0,
	       model_name(m), model_dim(m), cfg->model.features);

	/* 4. embed alone: groups as the ingest worker forms them */
	struct group *groups = xmalloc((n_docs + 1) * sizeof(*groups));
	size_t n_groups = 0;
	for (size_t i = 0; i < n_docs;) {
		size_t first = i, bytes = 0;
		while (i < n_docs && i - first < GROUP_DOCS && bytes < GROUP_BYTES)
			bytes += docs[i++]->text_len;
		groups[n_groups++] = (struct group){first, i - first};
	}
	int cores = ncores();
	blas_set_threads(1);
	double c0 = cpu_seconds();
	double t_embed1 = embed_all(m, docs, groups, n_groups, 1);
	double c_embed1 = cpu_seconds() - c0;
	double t_embedn = embed_all(m, docs, groups, n_groups, cores);
	printf("groups %zu\nembed_1t_seconds %.6f\nembed_1t_cpu_seconds %.3f\nembed_threads %d\n"
	       "embed_nt_seconds %.6f\n", n_groups, t_embed1, c_embed1, cores, t_embedn);

	/* 5. bare sgemm of the old projection's shape (256 texts x 4096-bucket sketch x dim), same
	 * threading as the embed passes: a reference for the machine's BLAS (the built-in model
	 * since featurizer 4 sums the rows of the words a text has instead) */
	double s1, sn, cs1, csn;
	double g1 = sgemm_rate(EMBED_BLOCK, model_dim(m), SGEMM_K, 1, &s1, &cs1);
	double gn = sgemm_rate(EMBED_BLOCK, model_dim(m), SGEMM_K, cores, &sn, &csn);
	printf("sgemm_m %d\nsgemm_n %d\nsgemm_k %d\nsgemm_calls %d\n", EMBED_BLOCK, model_dim(m),
	       SGEMM_K, SGEMM_CALLS);
	printf("sgemm_1t_gflops %.3f\nsgemm_1t_seconds %.6f\nsgemm_1t_cpu_seconds %.6f\n"
	       "sgemm_nt_gflops %.3f\nsgemm_nt_seconds %.6f\nsgemm_nt_cpu_seconds %.6f\n",
	       g1, s1, cs1, gn, sn, csn);
	free(groups);

	/* 6. load alone, into each database named in $BENCH_LOAD_DBS (else $PGDATABASE): fresh,
	 * `ragload init`, embeddings typed vector(dim). Several databases give several timings
	 * of the same documents (best of them is taken); each load gets its own copies. */
	if (do_load) {
		char *real = realpath(path, NULL);
		for (size_t i = 0; i < n_docs; i++) {
			doc_hash(docs[i]);
			free(docs[i]->input);
			docs[i]->input = xstrdup(real ? real : path);
		}
		free(real);
		const char *dbs_env = getenv("BENCH_LOAD_DBS");
		char *dbs = xstrdup(dbs_env && *dbs_env ? dbs_env : ""), *save = NULL;
		char *db = strtok_r(dbs, " ", &save);
		int round = 0;
		do {
			char *next = db ? strtok_r(NULL, " ", &save) : NULL;
			load_once(cfg, m, docs, n_docs, db, round++, next == NULL, &c);
			db = next;
		} while (db);
		free(dbs);
	} else {
		for (size_t i = 0; i < n_docs; i++)
			doc_free(docs[i]);
	}
	free(docs);
	model_free(m);
	counts_release(&c);
	return 0;
}

/* ---- rawcopy: the minimal binary COPY from memory -------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	struct buf b;
	buf_init(&b, 0);
	char tmp[1 << 16];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (buf_append(&b, tmp, n))
			die("out of memory");
	fclose(f);
	return buf_detach(&b, len);
}

static void exec_ok(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

static int cmd_rawcopy(const char *dir, char **tables, int n_tables)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/batches", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	int n_batches = 0;
	char line[256];
	while (fgets(line, sizeof(line), f))
		n_batches++;
	fclose(f);
	char **data = xmalloc((size_t)n_batches * n_tables * sizeof(char *));
	size_t *len = xmalloc((size_t)n_batches * n_tables * sizeof(size_t));
	uint64_t total = 0;
	for (int b = 0; b < n_batches; b++)
		for (int t = 0; t < n_tables; t++) {
			snprintf(path, sizeof(path), "%s/%d.%d.bin", dir, b, t);
			data[b * n_tables + t] = slurp(path, &len[b * n_tables + t]);
			total += len[b * n_tables + t];
		}
	PGconn *conn = db_connect("");
	if (!conn)
		die("cannot connect");
	double table_s[8] = {0};
	if (n_tables > 8)
		die("at most 8 tables");
	int pid = PQbackendPID(conn);
	double be0 = pid_cpu_seconds(pid), cpu0 = cpu_seconds();
	double t0 = now_seconds();
	for (int b = 0; b < n_batches; b++) {
		exec_ok(conn, "BEGIN");
		for (int t = 0; t < n_tables; t++) {
			double ts = now_seconds();
			char sql[1024];
			snprintf(sql, sizeof(sql), "COPY %s FROM STDIN (FORMAT BINARY)", tables[t]);
			PGresult *r = PQexec(conn, sql);
			if (PQresultStatus(r) != PGRES_COPY_IN)
				die("%s: %s", sql, PQresultErrorMessage(r));
			PQclear(r);
			const char *p = data[b * n_tables + t];
			size_t left = len[b * n_tables + t];
			while (left) {
				size_t n = left < COPY_PIECE ? left : COPY_PIECE;
				if (PQputCopyData(conn, p, (int)n) <= 0)
					die("PQputCopyData: %s", PQerrorMessage(conn));
				p += n;
				left -= n;
			}
			if (PQputCopyEnd(conn, NULL) <= 0)
				die("PQputCopyEnd: %s", PQerrorMessage(conn));
			while ((r = PQgetResult(conn)) != NULL) {
				if (PQresultStatus(r) != PGRES_COMMAND_OK)
					die("COPY %s: %s", tables[t], PQresultErrorMessage(r));
				PQclear(r);
			}
			table_s[t] += now_seconds() - ts;
		}
		exec_ok(conn, "COMMIT");
	}
	double s = now_seconds() - t0, be1 = pid_cpu_seconds(pid);
	printf("batches %d\nbytes %llu\nseconds %.6f\n", n_batches, (unsigned long long)total, s);
	for (int t = 0; t < n_tables; t++)
		printf("table%d_seconds %.6f\n", t, table_s[t]);
	printf("client_cpu_seconds %.3f\nserver_cpu_seconds %.3f\n", cpu_seconds() - cpu0,
	       be0 >= 0 && be1 >= 0 ? be1 - be0 : -1.0);
	for (int i = 0; i < n_batches * n_tables; i++)
		free(data[i]);
	free(data);
	free(len);
	PQfinish(conn);
	return 0;
}

/* ---- pgscan: PostgreSQL's exact top-k, one query per vector ---------------------------------- */

/* Reads a whole .fvecs file; returns the vectors (n x dim). */
static float *fvecs_read(const char *path, int *dim, size_t *n)
{
	size_t len;
	char *data = slurp(path, &len);
	*dim = 0;
	*n = 0;
	if (len < 4)
		die("%s: empty", path);
	int32_t d;
	memcpy(&d, data, 4);
	if (d <= 0 || d > 16000 || len % (4 + 4 * (size_t)d))
		die("%s: not an .fvecs file", path);
	*dim = d;
	*n = len / (4 + 4 * (size_t)d);
	float *v = xmalloc(*n * (size_t)d * sizeof(float));
	for (size_t i = 0; i < *n; i++)
		memcpy(v + i * d, data + i * (4 + 4 * (size_t)d) + 4, 4 * (size_t)d);
	free(data);
	return v;
}

static int cmd_pgscan(const char *qpath, int k, const char *op)
{
	int dim;
	size_t nq;
	float *q = fvecs_read(qpath, &dim, &nq);
	if (strcmp(op, "<->") && strcmp(op, "<=>") && strcmp(op, "<#>"))
		die("operator must be <->, <=> or <#>");
	PGconn *conn = db_connect("");
	if (!conn)
		die("cannot connect");
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT chunk_id FROM embeddings ORDER BY embedding_vector %s "
		 "$1::vector LIMIT %d", op, k);
	/* the literals are built before the clock starts */
	char **lit = xmalloc(nq * sizeof(char *));
	for (size_t i = 0; i < nq; i++) {
		struct buf b;
		buf_init(&b, 0);
		buf_putc(&b, '[');
		for (int j = 0; j < dim; j++)
			buf_printf(&b, "%s%.9g", j ? "," : "", q[i * dim + j]);
		buf_putc(&b, ']');
		lit[i] = buf_detach(&b, NULL);
	}
	PGresult *r = PQprepare(conn, "q", sql, 1, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("prepare: %s", PQresultErrorMessage(r));
	PQclear(r);
	uint64_t rows = 0;
	double t0 = now_seconds();
	for (size_t i = 0; i < nq; i++) {
		const char *p[1] = {lit[i]};
		r = PQexecPrepared(conn, "q", 1, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("query: %s", PQresultErrorMessage(r));
		rows += (uint64_t)PQntuples(r);
		PQclear(r);
	}
	double s = now_seconds() - t0;
	printf("queries %zu\nrows %llu\nseconds %.6f\n", nq, (unsigned long long)rows, s);
	for (size_t i = 0; i < nq; i++)
		free(lit[i]);
	free(lit);
	free(q);
	PQfinish(conn);
	return 0;
}

/* ---- fvecs: export embeddings ---------------------------------------------------------------- */

static float be_float(const unsigned char *p)
{
	uint32_t u = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static int cmd_fvecs(long n, const char *out)
{
	PGconn *conn = db_connect("");
	if (!conn)
		die("cannot connect");
	char sql[256];
	snprintf(sql, sizeof(sql), "COPY (SELECT embedding_vector FROM embeddings ORDER BY "
		 "embedding_id LIMIT %ld) TO STDOUT (FORMAT BINARY)", n);
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT)
		die("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	struct buf all;
	buf_init(&all, 0);
	char *msg;
	int len;
	while ((len = PQgetCopyData(conn, &msg, 0)) > 0) {
		if (buf_append(&all, msg, (size_t)len))
			die("out of memory");
		PQfreemem(msg);
	}
	while ((r = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("COPY: %s", PQresultErrorMessage(r));
		PQclear(r);
	}
	FILE *f = fopen(out, "wb");
	if (!f)
		die("%s: %s", out, strerror(errno));
	const unsigned char *p = (const unsigned char *)all.data;
	size_t pos = 19, rows = 0;
	int dim = 0;
	float *v = NULL;
	while (pos + 2 <= all.len && pgcopy_get16(p + pos) != -1) {
		if (pgcopy_get16(p + pos) != 1)
			die("unexpected COPY row");
		int32_t l = pgcopy_get32(p + pos + 2);
		int d = pgcopy_get16(p + pos + 6);
		if (!v) {
			dim = d;
			v = xmalloc((size_t)d * sizeof(float));
		}
		if (d != dim || l != 4 + 4 * d)
			die("mixed dimensions");
		for (int j = 0; j < d; j++)
			v[j] = be_float(p + pos + 10 + 4 * (size_t)j);
		int32_t dd = d;
		if (fwrite(&dd, 4, 1, f) != 1 || fwrite(v, 4, (size_t)d, f) != (size_t)d)
			die("%s: write failed", out);
		pos += 6 + (size_t)l;
		rows++;
	}
	if (fclose(f))
		die("%s: write failed", out);
	printf("rows %zu\ndim %d\n", rows, dim);
	free(v);
	buf_release(&all);
	PQfinish(conn);
	return 0;
}

/* ---- embedq: query texts -> .fvecs with a model file ----------------------------------------- */

static int cmd_embedq(const char *model_path, const char *out)
{
	size_t mlen;
	char *mdata = slurp(model_path, &mlen), err[256] = "";
	struct model *m;
	if (model_load(mdata, mlen, &m, err, sizeof(err)))
		die("%s: %s", model_path, err);
	free(mdata);
	size_t n = 0, cap = 64;
	char **texts = xmalloc(cap * sizeof(char *));
	size_t *lens = xmalloc(cap * sizeof(size_t));
	char *line = NULL;
	size_t lcap = 0;
	ssize_t got;
	while ((got = getline(&line, &lcap, stdin)) > 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = 0;
		if (got == 0)
			continue;
		if (n == cap) {
			cap *= 2;
			texts = realloc(texts, cap * sizeof(char *));
			lens = realloc(lens, cap * sizeof(size_t));
			if (!texts || !lens)
				die("out of memory");
		}
		texts[n] = xstrdup(line);
		lens[n++] = (size_t)got;
	}
	free(line);
	int dim = model_dim(m);
	float *v = xmalloc(n * (size_t)dim * sizeof(float));
	if (n && model_embed(m, (const char *const *)texts, lens, n, v))
		die("model_embed failed");
	FILE *f = fopen(out, "wb");
	if (!f)
		die("%s: %s", out, strerror(errno));
	for (size_t i = 0; i < n; i++) {
		int32_t d = dim;
		if (fwrite(&d, 4, 1, f) != 1 || fwrite(v + i * dim, 4, (size_t)dim, f) != (size_t)dim)
			die("%s: write failed", out);
	}
	if (fclose(f))
		die("%s: write failed", out);
	printf("queries %zu\ndim %d\n", n, dim);
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(lens);
	free(v);
	model_free(m);
	return 0;
}

/* ---- sgemm alone (e.g. under another OPENBLAS_CORETYPE) ------------------------------------- */

static int cmd_sgemm(int m, int n, int k)
{
	double s1, sn, c1, cn;
	blas_set_threads(1);
	double g1 = sgemm_rate(m, n, k, 1, &s1, &c1);
	double gn = sgemm_rate(m, n, k, ncores(), &sn, &cn);
	double flop = 2.0 * m * n * (double)k * SGEMM_CALLS;
	printf("core %s\nsgemm_1t_gflops %.3f\nsgemm_1t_cpu_gflops %.3f\nsgemm_nt_gflops %.3f\n",
	       openblas_get_corename(), g1, flop / c1 / 1e9, gn);
	return 0;
}

/* ---- pdf: normalize's PDF path, worker processes included ------------------------------------ */

static double cpu_of(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmd_pdf(const struct rl_config *cfg, char **files, int n)
{
	struct read_item *items = calloc((size_t)n, sizeof(*items));
	struct counts c;
	long pages = 0, docs = 0;
	size_t in_bytes = 0, text_bytes = 0;
	if (!items)
		die("out of memory");
	for (int i = 0; i < n; i++) {  /* outside the timed region */
		FILE *f = fopen(files[i], "rb");
		if (!f)
			die("%s: %s", files[i], strerror(errno));
		struct buf b;
		buf_init(&b, 0);
		char tmp[65536];
		size_t k;
		while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
			if (buf_append(&b, tmp, k))
				die("out of memory");
		fclose(f);
		items[i] = (struct read_item){ .kind = READ_FILE, .source = files[i], .input = files[i],
					       .name = files[i], .type = "pdf" };
		items[i].data = buf_detach(&b, &items[i].len);
		in_bytes += items[i].len;
	}
	counts_init(&c, 1);
	double c0 = cpu_of(RUSAGE_SELF), k0 = cpu_of(RUSAGE_CHILDREN), t0 = now_seconds();
	for (int i = 0; i < n; i++) {
		struct doc *d = NULL;
		if (normalize_item(&cfg->norm, &items[i], &d, &c) == 0 && d) {
			json_t *m = json_loads(d->metadata_json, 0, NULL);
			pages += json_integer_value(json_object_get(json_object_get(m, "properties"), "pages"));
			json_decref(m);
			text_bytes += d->text_len;
			docs++;
		}
		doc_free(d);
	}
	double wall = now_seconds() - t0;
	double self = cpu_of(RUSAGE_SELF) - c0, kids = cpu_of(RUSAGE_CHILDREN) - k0;
	printf("pdfs %d\ndocs %ld\npages %ld\ninput_bytes %zu\ntext_bytes %zu\nseconds %.6f\n"
	       "cpu_seconds %.6f\nparent_cpu_seconds %.6f\nworker_cpu_seconds %.6f\nskipped %llu\n",
	       n, docs, pages, in_bytes, text_bytes, wall, self + kids, self, kids,
	       (unsigned long long)counts_total(&c));
	counts_release(&c);
	for (int i = 0; i < n; i++)
		free(items[i].data);
	free(items);
	return 0;
}

/* ---- cputime: a command's wall and CPU time ------------------------------------------------- */

static int cmd_cputime(char **argv)
{
	double t0 = now_seconds();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4: %s", strerror(errno));
	double wall = now_seconds() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("%s failed", argv[0]);
	double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("seconds %.6f\ncpu_seconds %.6f\n", wall, cpu);
	return 0;
}

/* ---- jget, blasinfo -------------------------------------------------------------------------- */

static int cmd_jget(const char *file, const char *path)
{
	json_error_t err;
	json_t *root = json_load_file(file, 0, &err), *j = root;
	if (!root)
		die("%s: %s", file, err.text);
	char *p = xstrdup(path), *save = NULL;
	for (char *k = strtok_r(p, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = json_object_get(j, k);
	if (!j || !json_is_number(j))
		die("%s: no number at %s", file, path);
	printf("%.9g\n", json_number_value(j));
	free(p);
	json_decref(root);
	return 0;
}

static int cmd_blasinfo(void)
{
	printf("config %s\ncore %s\n", openblas_get_config(), openblas_get_corename());
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-stages read FILE | docx PATH... | stages FILE [--load] | rawcopy DIR T1 T2 ... |"
		" pgscan Q.fvecs K OP | fvecs N OUT | embedq MODEL OUT | sgemm M N K | pdf FILE... |"
		" cputime CMD... | chunks PATH [TEXT [MB]] |"
		" jget FILE PATH |"
		" blasinfo\n");
	exit(2);
}

int main(int argc, char **argv)
{
	blas_tune(argv);  /* the kernels ragload runs with (lib/blas.c) */
	struct rl_config cfg;
	config_defaults(&cfg);
	rl_quiet = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	const char *cmd = argv[1];
	if (!strcmp(cmd, "read") && argc == 3)
		return cmd_read(&cfg, argv[2]);
	if (!strcmp(cmd, "docx") && argc >= 3)
		return cmd_docx(&cfg, argv + 2, argc - 2);
	if (!strcmp(cmd, "stages") && (argc == 3 || (argc == 4 && !strcmp(argv[3], "--load"))))
		return cmd_stages(&cfg, argv[2], argc == 4);
	if (!strcmp(cmd, "rawcopy") && argc >= 4)
		return cmd_rawcopy(argv[2], argv + 3, argc - 3);
	if (!strcmp(cmd, "pgscan") && argc == 5)
		return cmd_pgscan(argv[2], atoi(argv[3]), argv[4]);
	if (!strcmp(cmd, "fvecs") && argc == 4)
		return cmd_fvecs(atol(argv[2]), argv[3]);
	if (!strcmp(cmd, "sgemm") && argc == 5)
		return cmd_sgemm(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "cputime") && argc >= 3)
		return cmd_cputime(argv + 2);
	if (!strcmp(cmd, "pdf") && argc >= 3)
		return cmd_pdf(&cfg, argv + 2, argc - 2);
	if (!strcmp(cmd, "embedq") && argc == 4)
		return cmd_embedq(argv[2], argv[3]);
	if (!strcmp(cmd, "chunks") && argc >= 3 && argc <= 5)
		return cmd_chunks(&cfg, argv[2], argc >= 4 ? argv[3] : NULL, argc == 5 ? atof(argv[4]) : 64);
	if (!strcmp(cmd, "jget") && argc == 4)
		return cmd_jget(argv[2], argv[3]);
	if (!strcmp(cmd, "blasinfo") && argc == 2)
		return cmd_blasinfo();
	usage();
}
