/*
 * pgcopy.c — binary COPY encoder and streamer.
 *
 * Why binary: no text escaping of chunk texts, and vectors travel as raw float4 instead of
 * decimal text, which is what makes COPY several times faster than psql's text \copy.
 */
#include "pgcopy.h"

#include <arpa/inet.h>
#include <math.h>
#include <string.h>

static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

static void set_error(struct pgcopy *pc, const char *msg)
{
	if (!pc->failed) {
		snprintf(pc->error, sizeof(pc->error), "%s", msg);
		size_t n = strlen(pc->error);
		while (n && (pc->error[n - 1] == '\n' || pc->error[n - 1] == ' '))
			pc->error[--n] = '\0';
	}
	pc->failed = 1;
}

static int flush(struct pgcopy *pc, int force)
{
	if (!pc->conn || pc->failed || pc->b.len == 0)
		return pc->failed ? RL_ERR : 0;
	if (!force && pc->b.len < PGCOPY_FLUSH_BYTES)
		return 0;
	if (PQputCopyData(pc->conn, pc->b.data, (int)pc->b.len) <= 0) {
		set_error(pc, PQerrorMessage(pc->conn));
		return RL_ERR;
	}
	buf_reset(&pc->b);
	return 0;
}

static int put(struct pgcopy *pc, const void *p, size_t n)
{
	if (pc->failed)
		return RL_ERR;
	if (buf_append(&pc->b, p, n)) {
		set_error(pc, "out of memory in COPY buffer");
		return RL_ENOMEM;
	}
	return 0;
}

static int put16(struct pgcopy *pc, int16_t v)
{
	uint16_t be = htons((uint16_t)v);
	return put(pc, &be, 2);
}

static int put32(struct pgcopy *pc, int32_t v)
{
	uint32_t be = htonl((uint32_t)v);
	return put(pc, &be, 4);
}

static int put64(struct pgcopy *pc, int64_t v)
{
	uint32_t hi = htonl((uint32_t)((uint64_t)v >> 32)), lo = htonl((uint32_t)v);
	int rc = put(pc, &hi, 4);
	return rc ? rc : put(pc, &lo, 4);
}

int pgcopy_begin(struct pgcopy *pc, PGconn *conn, const char *table_and_columns)
{
	memset(pc, 0, sizeof(*pc));
	buf_init(&pc->b, 0);
	pc->conn = conn;
	if (conn) {
		struct buf sql;
		buf_init(&sql, 0);
		if (buf_printf(&sql, "COPY %s FROM STDIN (FORMAT BINARY)", table_and_columns)) {
			buf_release(&sql);
			set_error(pc, "out of memory");
			return RL_ENOMEM;
		}
		PGresult *r = PQexec(conn, sql.data);
		buf_release(&sql);
		if (PQresultStatus(r) != PGRES_COPY_IN) {
			set_error(pc, PQerrorMessage(conn));
			PQclear(r);
			return RL_ERR;
		}
		PQclear(r);
	}
	return put(pc, header, sizeof(header));
}

int pgcopy_row(struct pgcopy *pc, int16_t nfields)
{
	int rc = flush(pc, 0);
	return rc ? rc : put16(pc, nfields);
}

int pgcopy_null(struct pgcopy *pc)
{
	return put32(pc, -1);
}

int pgcopy_int4(struct pgcopy *pc, int32_t v)
{
	int rc = put32(pc, 4);
	return rc ? rc : put32(pc, v);
}

int pgcopy_int8(struct pgcopy *pc, int64_t v)
{
	int rc = put32(pc, 8);
	return rc ? rc : put64(pc, v);
}

int pgcopy_text(struct pgcopy *pc, const char *s, size_t n)
{
	if (n > INT32_MAX) {
		set_error(pc, "text field over 2 GB");
		return RL_ELIMIT;
	}
	int rc = put32(pc, (int32_t)n);
	return rc ? rc : put(pc, s, n);
}

int pgcopy_bytea(struct pgcopy *pc, const void *p, size_t n)
{
	return pgcopy_text(pc, p, n);
}

int pgcopy_jsonb(struct pgcopy *pc, const char *json, size_t n)
{
	if (n >= INT32_MAX) {
		set_error(pc, "jsonb field over 2 GB");
		return RL_ELIMIT;
	}
	int rc = put32(pc, (int32_t)n + 1);
	if (!rc)
		rc = put(pc, "\1", 1);
	return rc ? rc : put(pc, json, n);
}

int pgcopy_timestamptz(struct pgcopy *pc, int64_t unix_us)
{
	return pgcopy_int8(pc, unix_us - PG_EPOCH_OFFSET_US);
}

int pgcopy_vector(struct pgcopy *pc, const float *v, int dim)
{
	if (dim < 1 || dim > 16000) {
		set_error(pc, "vector dimension out of range");
		return RL_ERR;
	}
	for (int i = 0; i < dim; i++) {
		if (!isfinite(v[i])) {
			set_error(pc, "vector holds NaN or infinity");
			return RL_ERR;
		}
	}
	int rc = put32(pc, 4 + 4 * dim);
	if (!rc)
		rc = put16(pc, (int16_t)dim);
	if (!rc)
		rc = put16(pc, 0);
	if (rc)
		return rc;
	if (buf_reserve(&pc->b, (size_t)dim * 4)) {
		set_error(pc, "out of memory in COPY buffer");
		return RL_ENOMEM;
	}
	unsigned char *out = (unsigned char *)pc->b.data + pc->b.len;
	for (int i = 0; i < dim; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		u = htonl(u);
		memcpy(out + 4 * i, &u, 4);
	}
	pc->b.len += (size_t)dim * 4;
	pc->b.data[pc->b.len] = '\0';
	return 0;
}

int pgcopy_end(struct pgcopy *pc, int ok)
{
	int rc = 0;
	if (ok && !pc->failed)
		put16(pc, -1);
	if (pc->conn) {
		if (ok && !pc->failed)
			flush(pc, 1);
		const char *reason = (ok && !pc->failed) ? NULL : "ragload: COPY aborted";
		if (PQputCopyEnd(pc->conn, reason) <= 0)
			set_error(pc, PQerrorMessage(pc->conn));
		PGresult *r;
		while ((r = PQgetResult(pc->conn)) != NULL) {
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				set_error(pc, PQresultErrorMessage(r));
			PQclear(r);
		}
	}
	if (pc->failed || !ok)
		rc = RL_ERR;
	buf_release(&pc->b);
	return rc;
}

int16_t pgcopy_get16(const unsigned char *p)
{
	return (int16_t)(((uint16_t)p[0] << 8) | p[1]);
}

int32_t pgcopy_get32(const unsigned char *p)
{
	return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}
