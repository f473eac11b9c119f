/*
 * vecfile.c — streaming .fvecs/.ivecs reader (see vecfile.h). Little-endian on disk; this
 * project targets little-endian hosts (x86-64, arm64), checked at compile time below.
 *
 * Hostile files (tests/fuzz/fuzz_vecfile.c): only a regular file is read (a FIFO would block
 * the open, a directory would read as "truncated"); a read error is told apart from a short
 * file; every dimension word is checked before anything is read into the caller's dim-sized
 * buffer, so a wrong word can never overrun it.
 */
#include "vecfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vecfile.c reads little-endian files on a little-endian host"
#endif

static int read_dim(struct vecfile *v, int32_t *d, char *err, size_t errlen, int *eof)
{
	size_t n = fread(d, 1, 4, v->f);
	*eof = 0;
	if (n != 4 && ferror(v->f)) {
		snprintf(err, errlen, "vector %llu at byte offset %llu: read error: %s",
			 (unsigned long long)v->index, (unsigned long long)v->offset, strerror(errno));
		return -1;
	}
	if (n == 0) {
		*eof = 1;
		return 0;
	}
	if (n != 4) {
		snprintf(err, errlen, "vector %llu at byte offset %llu: truncated dimension word",
			 (unsigned long long)v->index, (unsigned long long)v->offset);
		return -1;
	}
	return 0;
}

int vecfile_open(struct vecfile *v, const char *path, char *err, size_t errlen)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO must not block the open; it is refused below anyway */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	memset(v, 0, sizeof(*v));
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		close(fd);
		return -1;
	}
	v->f = fdopen(fd, "rb");
	if (!v->f) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		close(fd);
		return -1;
	}
	int32_t d;
	int eof;
	if (read_dim(v, &d, err, errlen, &eof))
		goto fail;
	if (eof)
		return 0;
	if (d < 1 || d > VECFILE_MAX_DIM) {
		snprintf(err, errlen, "vector 0 at byte offset 0: dimension word %d out of range", d);
		goto fail;
	}
	v->dim = d;
	rewind(v->f);
	return 0;
fail:
	fclose(v->f);
	v->f = NULL;
	return -1;
}

int vecfile_next(struct vecfile *v, void *out, char *err, size_t errlen)
{
	if (!v->f || v->dim == 0)
		return 0;
	int32_t d;
	int eof;
	if (read_dim(v, &d, err, errlen, &eof))
		return -1;
	if (eof)
		return 0;
	if (d != v->dim) {
		snprintf(err, errlen, "vector %llu at byte offset %llu: dimension word %d, expected %d",
			 (unsigned long long)v->index, (unsigned long long)v->offset, d, v->dim);
		return -1;
	}
	size_t want = (size_t)v->dim * 4;
	if (fread(out, 1, want, v->f) != want) {
		if (ferror(v->f))
			snprintf(err, errlen, "vector %llu at byte offset %llu: read error: %s",
				 (unsigned long long)v->index, (unsigned long long)v->offset,
				 strerror(errno));
		else
			snprintf(err, errlen,
				 "vector %llu at byte offset %llu: truncated (file ends inside it)",
				 (unsigned long long)v->index, (unsigned long long)v->offset);
		return -1;
	}
	v->index++;
	v->offset += 4 + want;
	return 1;
}

void vecfile_close(struct vecfile *v)
{
	if (v && v->f) {
		fclose(v->f);
		v->f = NULL;
	}
}
