/*
 * fuzz.h — what every fuzz target shares: a scratch file per process (the parsers under test
 * read paths, not memory) and checks that abort, so that libFuzzer and the replay driver both
 * see a broken invariant as a crash.
 *
 * Each target defines LLVMFuzzerTestOneInput(); it is linked either with libFuzzer (clang,
 * -fsanitize=fuzzer) or with replay.c (gcc + ASan/UBSan, reads files named on the command line).
 */
#ifndef RAGLOAD_FUZZ_H
#define RAGLOAD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, \
				__LINE__);                                                 \
			abort();                                                           \
		}                                                                          \
	} while (0)

static char fuzz_dir[256];

static inline void fuzz_cleanup(void)
{
	char cmd[300];
	if (!fuzz_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir);
	if (system(cmd) != 0)
		fuzz_dir[0] = '\0';
}

/* Writes data to <scratch dir>/<name> (created once per process, removed at exit); returns the
 * path, valid until the next call. Aborts when the scratch space cannot be written: a fuzz run
 * that tests nothing must not look green. */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[512];
	if (!fuzz_dir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/ragload-fuzz.XXXXXX",
			 base && *base ? base : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"));
		FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL);
		atexit(fuzz_cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
	FUZZ_CHECK(fclose(f) == 0);
	return path;
}

/* The sink's heading contract, shared by the targets of parsers that call a doc sink (office,
 * pdfwire): headings never nest, levels 1..6; events counted. ctx is a struct fuzz_sink. */
struct fuzz_sink {
	int in_heading, last_page;
	size_t events;
};

static inline int fuzz_sink_para(void *ctx)
{
	((struct fuzz_sink *)ctx)->events++;
	return 0;
}

static inline int fuzz_sink_heading_begin(void *ctx, int level)
{
	struct fuzz_sink *st = ctx;
	FUZZ_CHECK(!st->in_heading);
	FUZZ_CHECK(level >= 1 && level <= 6);
	st->in_heading = 1;
	return 0;
}

static inline int fuzz_sink_heading_end(void *ctx)
{
	struct fuzz_sink *st = ctx;
	FUZZ_CHECK(st->in_heading);
	st->in_heading = 0;
	return 0;
}

/* Valid UTF-8 (RFC 3629), the contract of every text the stages hand on. */
static inline int fuzz_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], len, cp, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
		else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
		else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
		else return 0;
		if (i + len > n)
			return 0;
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += len;
	}
	return 1;
}

#endif
