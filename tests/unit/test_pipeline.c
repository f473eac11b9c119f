/* Pipeline plumbing: the byte-bounded queue, bounded buffers, config parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/common.h"
#include "../../lib/config.h"
#include "../../lib/queue.h"

static void test_buf_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "12345678", 8), 0);
	assert_int_equal(buf_append(&b, "9", 1), RL_ELIMIT);
	assert_int_equal(b.len, 8);
	buf_release(&b);
}

static void test_buf_json_str_escapes(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_json_str(&b, "a\"b\\c\n\x01", 7);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	buf_release(&b);
}

struct producer {
	struct queue *q;
	int n;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	for (int i = 0; i < p->n; i++) {
		int *v = malloc(sizeof(int));
		*v = i;
		if (queue_push(p->q, v, 100))
			free(v);
	}
	queue_close(p->q);
	return NULL;
}

static void test_queue_order_and_bound(void **state)
{
	(void)state;
	struct queue q;
	queue_init(&q, 1000); /* 10 items of 100 bytes */
	struct producer p = {&q, 5000};
	pthread_t t;
	pthread_create(&t, NULL, produce, &p);
	int *v, expect = 0;
	while ((v = queue_pop(&q)) != NULL) {
		assert_int_equal(*v, expect++);
		free(v);
	}
	pthread_join(t, NULL);
	assert_int_equal(expect, 5000);
	assert_true(q.peak_bytes <= 1000);
	queue_release(&q, free);
}

static void test_queue_admits_one_oversized_item(void **state)
{
	(void)state;
	struct queue q;
	queue_init(&q, 10);
	int x = 1;
	assert_int_equal(queue_push(&q, &x, 1000), 0);
	assert_ptr_equal(queue_pop(&q), &x);
	queue_release(&q, NULL);
}

static void test_queue_abort_wakes_producer(void **state)
{
	(void)state;
	struct queue q;
	queue_init(&q, 100);
	struct producer p = {&q, 1000};
	pthread_t t;
	pthread_create(&t, NULL, produce, &p);
	usleep(20000);
	queue_abort(&q);
	pthread_join(t, NULL);   /* would hang if abort did not wake the blocked push */
	assert_null(queue_pop(&q));
	queue_release(&q, free);
}

static void test_config_sizes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(config_parse_size("64MB", &v), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(config_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(config_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_not_equal(config_parse_size("lots", &v), 0);
	assert_int_not_equal(config_parse_size("-1", &v), 0);
}

static void test_config_set_validates(void **state)
{
	(void)state;
	struct rl_config c;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "chunk", "tokens", "128"), 0);
	assert_int_equal(c.chunk.tokens, 128);
	assert_int_not_equal(config_set(&c, "chunk", "tokens", "many"), 0);
	assert_int_not_equal(config_set(&c, "model", "dim", "4096"), 0); /* over pgvector's 2000 */
	assert_int_not_equal(config_set(&c, "nope", "x", "1"), 0);
	assert_int_equal(config_set(&c, "model", "word_bigrams", "off"), 0);
	assert_int_equal(c.model.word_bigrams, 0);
}

/* The shipped config/default.ini states exactly the built-in defaults. */
static void test_default_ini_matches_builtin(void **state)
{
	(void)state;
	struct rl_config a, b;
	config_defaults(&a);
	config_defaults(&b);
	assert_int_equal(config_load(&b, "config/default.ini"), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_buf_json_str_escapes),
		cmocka_unit_test(test_queue_order_and_bound),
		cmocka_unit_test(test_queue_admits_one_oversized_item),
		cmocka_unit_test(test_queue_abort_wakes_producer),
		cmocka_unit_test(test_config_sizes),
		cmocka_unit_test(test_config_set_validates),
		cmocka_unit_test(test_default_ini_matches_builtin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
