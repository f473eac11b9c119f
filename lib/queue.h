/*
 * queue.h — a bounded queue between two stage threads, with its capacity in bytes.
 *
 * A push blocks while the queue holds cap bytes or more, so reading never runs far ahead of
 * loading and peak memory is bounded by the capacities whatever the corpus size. One item is
 * always admitted into an empty queue, even when it alone is larger than cap (so a big
 * document cannot deadlock the pipeline).
 */
#ifndef RAGLOAD_QUEUE_H
#define RAGLOAD_QUEUE_H

#include <pthread.h>
#include <stddef.h>

struct queue_node;

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_full;
	pthread_cond_t not_empty;
	struct queue_node *head, *tail;
	size_t bytes, cap, count;
	size_t peak_bytes;
	int closed;    /* producer is done: pops drain, then return NULL */
	int aborted;   /* shutting down: pushes fail, pops return NULL at once */
};

int queue_init(struct queue *q, size_t cap_bytes);
/* Blocks while full. Returns 0, or -1 when the queue was aborted (item not taken: caller
 * still owns it). */
int queue_push(struct queue *q, void *item, size_t bytes);
/* Blocks while empty. Returns the oldest item (caller owns it), or NULL when closed and
 * drained, or aborted. */
void *queue_pop(struct queue *q);
void queue_close(struct queue *q);
void queue_abort(struct queue *q);
/* Frees the queue; items still inside are passed to free_item (may be NULL). */
void queue_release(struct queue *q, void (*free_item)(void *));

#endif
