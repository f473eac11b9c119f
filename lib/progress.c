/*
 * progress.c — the status line (progress.h). A mutex keeps two threads' lines from
 * interleaving; the throttle is on the monotonic clock.
 */
#include "progress.h"
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int enabled;
static int drawn;          /* a line is on the screen */
static double last;        /* when it was drawn */

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

void progress_update(int force, const char *fmt, ...)
{
	pthread_mutex_lock(&mu);
	double t = now_seconds();
	if (enabled && (force || !drawn || t - last >= 1.0 / PROGRESS_HZ)) {
		char line[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		fprintf(stderr, "\r%s\033[K", line);
		fflush(stderr);
		drawn = 1;
		last = t;
	}
	pthread_mutex_unlock(&mu);
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
