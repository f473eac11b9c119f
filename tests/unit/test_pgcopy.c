/* Binary COPY encoding: header, field lengths, big-endian values, jsonb version byte,
 * timestamptz epoch, pgvector layout, NaN refusal. Encodes without a connection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "../../lib/pgcopy.h"

static void test_header_and_trailer(void **state)
{
	(void)state;
	struct pgcopy pc;
	assert_int_equal(pgcopy_begin(&pc, NULL, "t"), 0);
	assert_int_equal(pc.b.len, 19);
	assert_memory_equal(pc.b.data, "PGCOPY\n\377\r\n\0", 11);
	assert_memory_equal(pc.b.data + 11, "\0\0\0\0\0\0\0\0", 8);
	pgcopy_row(&pc, 1);
	pgcopy_null(&pc);
	const unsigned char *p = (const unsigned char *)pc.b.data + 19;
	assert_int_equal(pgcopy_get16(p), 1);
	assert_int_equal(pgcopy_get32(p + 2), -1);
	buf_release(&pc.b);
}

static void test_int_text_jsonb(void **state)
{
	(void)state;
	struct pgcopy pc;
	pgcopy_begin(&pc, NULL, "t");
	size_t h = pc.b.len;
	pgcopy_row(&pc, 3);
	pgcopy_int4(&pc, 0x01020304);
	pgcopy_text(&pc, "héllo", strlen("héllo"));
	pgcopy_jsonb(&pc, "{}", 2);
	const unsigned char *p = (const unsigned char *)pc.b.data + h;
	assert_int_equal(pgcopy_get16(p), 3);
	assert_int_equal(pgcopy_get32(p + 2), 4);
	assert_memory_equal(p + 6, "\x01\x02\x03\x04", 4);
	assert_int_equal(pgcopy_get32(p + 10), 6);
	assert_memory_equal(p + 14, "héllo", 6);
	assert_int_equal(pgcopy_get32(p + 20), 3);   /* version byte + 2 */
	assert_int_equal(p[24], 1);
	assert_memory_equal(p + 25, "{}", 2);
	buf_release(&pc.b);
}

static void test_timestamptz_epoch(void **state)
{
	(void)state;
	struct pgcopy pc;
	pgcopy_begin(&pc, NULL, "t");
	size_t h = pc.b.len;
	/* 2000-01-01 00:00:00 UTC is 0 in PostgreSQL's epoch */
	pgcopy_timestamptz(&pc, INT64_C(946684800) * 1000000);
	pgcopy_timestamptz(&pc, INT64_C(946684801) * 1000000);
	const unsigned char *p = (const unsigned char *)pc.b.data + h;
	assert_int_equal(pgcopy_get32(p), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(p[4 + i], 0);
	assert_int_equal(pgcopy_get32(p + 12), 8);
	assert_int_equal(pgcopy_get32(p + 16), 0);
	assert_int_equal(pgcopy_get32(p + 20), 1000000);
	buf_release(&pc.b);
}

static void test_vector_layout(void **state)
{
	(void)state;
	struct pgcopy pc;
	pgcopy_begin(&pc, NULL, "t");
	size_t h = pc.b.len;
	float v[3] = {1.0f, -2.5f, 0.0f};
	assert_int_equal(pgcopy_vector(&pc, v, 3), 0);
	const unsigned char *p = (const unsigned char *)pc.b.data + h;
	assert_int_equal(pgcopy_get32(p), 4 + 12);
	assert_int_equal(pgcopy_get16(p + 4), 3);
	assert_int_equal(pgcopy_get16(p + 6), 0);
	assert_memory_equal(p + 8, "\x3f\x80\x00\x00", 4);   /* 1.0f big-endian */
	assert_memory_equal(p + 12, "\xc0\x20\x00\x00", 4);  /* -2.5f */
	buf_release(&pc.b);
}

static void test_vector_refuses_nan_and_inf(void **state)
{
	(void)state;
	struct pgcopy pc;
	pgcopy_begin(&pc, NULL, "t");
	float v[2] = {1.0f, NAN};
	assert_int_not_equal(pgcopy_vector(&pc, v, 2), 0);
	assert_true(pc.failed);
	assert_non_null(strstr(pc.error, "NaN"));
	buf_release(&pc.b);
	pgcopy_begin(&pc, NULL, "t");
	float w[1] = {INFINITY};
	assert_int_not_equal(pgcopy_vector(&pc, w, 1), 0);
	buf_release(&pc.b);
}

static void test_end_writes_trailer(void **state)
{
	(void)state;
	struct pgcopy pc;
	pgcopy_begin(&pc, NULL, "t");
	pgcopy_row(&pc, 1);
	pgcopy_int4(&pc, 7);
	/* pgcopy_end releases the buffer; check the trailer just before */
	assert_int_equal(pgcopy_end(&pc, 1), 0);
	assert_null(pc.b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_and_trailer),
		cmocka_unit_test(test_int_text_jsonb),
		cmocka_unit_test(test_timestamptz_epoch),
		cmocka_unit_test(test_vector_layout),
		cmocka_unit_test(test_vector_refuses_nan_and_inf),
		cmocka_unit_test(test_end_writes_trailer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
