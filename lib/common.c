/*
 * common.c — bounded buffers, documents, skip counters and logging shared by every stage.
 */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int rl_quiet;

void buf_init(struct buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit ? limit : SIZE_MAX;
}

int buf_reserve(struct buf *b, size_t extra)
{
	if (extra > b->limit || b->len > b->limit - extra)
		return RL_ELIMIT;
	size_t need = b->len + extra + 1; /* room for the terminating NUL */
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return RL_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RL_ERR;
	int rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_json_str(struct buf *b, const char *s, size_t n)
{
	int rc = buf_putc(b, '"');
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': rc = buf_append(b, "\\\"", 2); break;
		case '\\': rc = buf_append(b, "\\\\", 2); break;
		case '\n': rc = buf_append(b, "\\n", 2); break;
		case '\t': rc = buf_append(b, "\\t", 2); break;
		case '\r': rc = buf_append(b, "\\r", 2); break;
		default:
			if (c < 0x20)
				rc = buf_printf(b, "\\u%04x", c);
			else
				rc = buf_putc(b, (char)c);
		}
	}
	return rc ? rc : buf_putc(b, '"');
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data;
	if (len)
		*len = b->len;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

struct doc *doc_new(void)
{
	return calloc(1, sizeof(struct doc));
}

void doc_free(struct doc *d)
{
	if (!d)
		return;
	free(d->source_name);
	free(d->input);
	free(d->title);
	free(d->text);
	free(d->metadata_json);
	for (size_t i = 0; i < d->n_headings; i++)
		free(d->headings[i].text);
	free(d->headings);
	free(d->code);
	free(d->pages);
	for (size_t i = 0; i < d->n_chunks; i++)
		free(d->chunks[i].heading_path);
	free(d->chunks);
	free(d->vectors);
	free(d);
}

size_t doc_bytes(const struct doc *d)
{
	size_t n = sizeof(*d) + d->text_len;
	n += d->n_chunks * (sizeof(struct chunk) + 64);
	n += d->n_headings * (sizeof(struct heading) + 32);
	n += d->n_code * sizeof(struct span);
	n += d->n_pages * sizeof(struct page_mark);
	n += (size_t)d->n_chunks * (size_t)(d->dim > 0 ? d->dim : 0) * sizeof(float);
	if (d->metadata_json)
		n += strlen(d->metadata_json);
	if (d->source_name)
		n += strlen(d->source_name);
	return n;
}

void counts_init(struct counts *c, int quiet)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->quiet = quiet;
}

void counts_release(struct counts *c)
{
	pthread_mutex_destroy(&c->mu);
}

void counts_skip(struct counts *c, const char *reason, const char *source, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&c->mu);
	int i;
	for (i = 0; i < c->n_reasons; i++)
		if (strcmp(c->reasons[i].reason, reason) == 0)
			break;
	if (i == c->n_reasons && i < COUNTS_MAX_REASONS) {
		c->reasons[i].reason = reason;
		c->n_reasons++;
	}
	if (i < COUNTS_MAX_REASONS)
		c->reasons[i].n++;
	c->total++;
	/* An archive with a million bad entries must not print a million lines: the first
	 * COUNTS_PRINT_MAX of each reason are printed, the rest only counted (and logged). */
	uint64_t n = i < COUNTS_MAX_REASONS ? c->reasons[i].n : 0;
	if (!c->quiet && n <= COUNTS_PRINT_MAX)
		fprintf(stderr, "ragload: warning: %s: %s [%s]\n", source ? source : "-", msg, reason);
	if (!c->quiet && n == COUNTS_PRINT_MAX)
		fprintf(stderr, "ragload: warning: further [%s] warnings are counted, not printed\n",
			reason);
	if (c->log) {
		char ts[32];
		fprintf(c->log, "%s warning: %s: %s [%s]\n", log_timestamp(ts, sizeof(ts)),
			source ? source : "-", msg, reason);
	}
	pthread_mutex_unlock(&c->mu);
}

uint64_t counts_total(struct counts *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t n = c->total;
	pthread_mutex_unlock(&c->mu);
	return n;
}

void counts_ignore(struct counts *c, const char *type, const char *source)
{
	pthread_mutex_lock(&c->mu);
	int i;
	for (i = 0; i < c->n_ignored; i++)
		if (strcmp(c->ignored[i].type, type) == 0)
			break;
	if (i == c->n_ignored && i < COUNTS_MAX_REASONS) {
		c->ignored[i].type = type;
		c->n_ignored++;
	}
	if (i < COUNTS_MAX_REASONS)
		c->ignored[i].n++;
	c->ignored_total++;
	if (c->log) {
		char ts[32];
		fprintf(c->log, "%s ignored: %s [%s]\n", log_timestamp(ts, sizeof(ts)),
			source ? source : "-", type);
	}
	pthread_mutex_unlock(&c->mu);
}

uint64_t counts_ignored(struct counts *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t n = c->ignored_total;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "ragload: %s%s\n", level, msg);
}

void log_info(const char *fmt, ...)
{
	if (rl_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("error: ", fmt, ap);
	va_end(ap);
}

const char *log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return buf;
}

double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

size_t name_unpacked_len(const char *name)
{
	static const char *const packed[] = { ".gz", ".zst", ".xz", ".bz2", ".lz4", ".lzma", ".Z" };
	size_t n = name ? strlen(name) : 0;
	for (size_t i = 0; i < RL_ARRAY_LEN(packed); i++) {
		size_t m = strlen(packed[i]);
		if (n > m && !strcasecmp(name + n - m, packed[i]))
			return n - m;
	}
	return n;
}

int name_has_ext(const char *name, const char *ext)
{
	size_t n = name_unpacked_len(name), m = strlen(ext);
	return n > m && !strncasecmp(name + n - m, ext, m);
}
