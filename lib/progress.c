/*
 * progress.c — the status line (progress.h). A mutex keeps two threads' lines from
 * interleaving; the throttle is on the monotonic clock. The sink is called outside that
 * mutex (it may wait on the database), under its own, so that its calls do not overlap. Below it, the input meter that gives
 * ingest and model fit their percentage.
 */
#include "progress.h"
#include "common.h"

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int enabled;
static int drawn;          /* a line is on the screen */
static double last;        /* when it was drawn */
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;   /* one sink call at a time */
static progress_sink_fn sink;
static void *sink_ctx;
static double sink_last;   /* when the sink was last given the line */

void progress_enable(int on)
{
	pthread_mutex_lock(&mu);
	enabled = on;
	pthread_mutex_unlock(&mu);
}

int progress_enabled(void)
{
	pthread_mutex_lock(&mu);
	int on = enabled;
	pthread_mutex_unlock(&mu);
	return on;
}

int progress_wanted(void)
{
	pthread_mutex_lock(&mu);
	int on = enabled || sink;
	pthread_mutex_unlock(&mu);
	return on;
}

void progress_sink(progress_sink_fn fn, void *ctx)
{
	pthread_mutex_lock(&sink_mu);
	pthread_mutex_lock(&mu);
	sink = fn;
	sink_ctx = ctx;
	sink_last = 0;
	pthread_mutex_unlock(&mu);
	pthread_mutex_unlock(&sink_mu);
}

void progress_update(int force, const char *fmt, ...)
{
	char line[512];
	int have = 0;
	pthread_mutex_lock(&mu);
	double t = now_seconds();
	if (enabled && (force || !drawn || t - last >= 1.0 / PROGRESS_HZ)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		have = 1;
		fprintf(stderr, "\r%s\033[K", line);
		fflush(stderr);
		drawn = 1;
		last = t;
	}
	int to_sink = sink && (force || t - sink_last >= PROGRESS_SINK_S);
	if (to_sink)
		sink_last = t;
	pthread_mutex_unlock(&mu);
	if (!to_sink)
		return;
	if (!have) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&sink_mu);
	if (sink)    /* not unset meanwhile */
		sink(sink_ctx, line);
	pthread_mutex_unlock(&sink_mu);
}

void progress_end(int keep)
{
	pthread_mutex_lock(&mu);
	if (enabled && drawn) {
		fputs(keep ? "\n" : "\r\033[K", stderr);
		fflush(stderr);
	}
	drawn = 0;
	pthread_mutex_unlock(&mu);
}

const char *progress_duration(double s, char *buf, int len)
{
	if (s < 0 || s != s)
		s = 0;
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, (size_t)len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, (size_t)len, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, (size_t)len, "%lds", t);
	return buf;
}

/* ---- how far through the inputs -------------------------------------------------------------
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

void meter_free(struct input_meter *m)
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
struct input_meter *meter_start(char *const *paths, int n)
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
void meter_note(struct input_meter *m, const char *input, size_t raw)
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
void meter_rewind(struct input_meter *m)
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
uint64_t meter_done(struct input_meter *m)
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

uint64_t meter_total(struct input_meter *m)
{
	return m && m->sized ? m->total : 0;
}
