/*
 * pgcopy.h — PostgreSQL binary COPY: encoding rows and streaming them through libpq.
 *
 * Format (DESIGN.md, Binary COPY): header "PGCOPY\n\377\r\n\0" + int32 flags + int32
 * extension length; per row int16 field count, per field int32 length (-1 = NULL) + bytes;
 * trailer int16 -1; all big-endian. A struct pgcopy buffers rows and hands them to
 * PQputCopyData in pieces of about PGCOPY_FLUSH_BYTES, so memory stays bounded.
 */
#ifndef RAGLOAD_PGCOPY_H
#define RAGLOAD_PGCOPY_H

#include "common.h"

#include <libpq-fe.h>

#define PGCOPY_FLUSH_BYTES (1u << 20)
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000) /* 2000-01-01 minus 1970-01-01 */

struct pgcopy {
	PGconn *conn;      /* NULL: encode only (tests) */
	struct buf b;
	int failed;
	char error[512];
};

/* Starts "COPY <table>(<cols>) FROM STDIN (FORMAT BINARY)" on conn (when not NULL) and writes
 * the header. Returns 0 or negative with error set. */
int pgcopy_begin(struct pgcopy *pc, PGconn *conn, const char *table_and_columns);
int pgcopy_row(struct pgcopy *pc, int16_t nfields);
int pgcopy_null(struct pgcopy *pc);
int pgcopy_int4(struct pgcopy *pc, int32_t v);
int pgcopy_int8(struct pgcopy *pc, int64_t v);
int pgcopy_text(struct pgcopy *pc, const char *s, size_t n);
int pgcopy_bytea(struct pgcopy *pc, const void *p, size_t n);
/* jsonb binary = version byte 1 + JSON text. */
int pgcopy_jsonb(struct pgcopy *pc, const char *json, size_t n);
/* timestamptz from microseconds since the Unix epoch. */
int pgcopy_timestamptz(struct pgcopy *pc, int64_t unix_us);
/* pgvector binary: int16 dim, int16 0, dim float4. Refuses NaN/Inf (RL_ERR, error set). */
int pgcopy_vector(struct pgcopy *pc, const float *v, int dim);
/* Writes the trailer, ends the COPY (PQputCopyEnd with NULL or a reason), collects every
 * result. ok = 0 aborts the COPY. Returns 0 when the server accepted all rows; otherwise
 * negative with error set to the server's message. Always releases the buffer. */
int pgcopy_end(struct pgcopy *pc, int ok);

/* Helpers for decoding COPY TO binary output and for tests. */
int16_t pgcopy_get16(const unsigned char *p);
int32_t pgcopy_get32(const unsigned char *p);

#endif
