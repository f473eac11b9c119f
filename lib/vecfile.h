/*
 * vecfile.h — TEXMEX .fvecs / .ivecs files, read one vector at a time.
 *
 * Per vector: int32 little-endian dimension d, then d float32 (.fvecs) or int32 (.ivecs).
 * Every dimension word must equal the first one; a short last vector is an error naming the
 * file, the vector index and the byte offset. Memory: one vector.
 */
#ifndef RAGLOAD_VECFILE_H
#define RAGLOAD_VECFILE_H

#include <stdint.h>
#include <stdio.h>

#define VECFILE_MAX_DIM 65536

struct vecfile {
	FILE *f;
	int dim;
	uint64_t index;     /* vectors read so far */
	uint64_t offset;    /* byte offset of the next vector */
};

/* Opens path and reads the first dimension word. Returns 0, or -1 with err set. An empty
 * file opens with dim 0 and yields no vectors. */
int vecfile_open(struct vecfile *v, const char *path, char *err, size_t errlen);
/* Reads the next vector's dim 4-byte values into out. Returns 1 (a vector), 0 (end of file),
 * or -1 with err set (wrong dimension word, truncated vector, read error). */
int vecfile_next(struct vecfile *v, void *out, char *err, size_t errlen);
void vecfile_close(struct vecfile *v);

#endif
