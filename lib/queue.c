/*
 * queue.c — mutex + not-full/not-empty condition variables + shutdown flags (DESIGN.md,
 * Threads). Items are linked nodes so a push never reallocates a shared array.
 */
#include "queue.h"

#include <stdlib.h>

struct queue_node {
	struct queue_node *next;
	void *item;
	size_t bytes;
};

int queue_init(struct queue *q, size_t cap_bytes)
{
	q->head = q->tail = NULL;
	q->bytes = q->count = q->peak_bytes = 0;
	q->cap = cap_bytes;
	q->closed = q->aborted = 0;
	if (pthread_mutex_init(&q->mu, NULL))
		return -1;
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	return 0;
}

int queue_push(struct queue *q, void *item, size_t bytes)
{
	struct queue_node *n = malloc(sizeof(*n));
	if (!n)
		return -1;
	n->next = NULL;
	n->item = item;
	n->bytes = bytes;
	pthread_mutex_lock(&q->mu);
	while (!q->aborted && q->count > 0 && q->bytes + bytes > q->cap)
		pthread_cond_wait(&q->not_full, &q->mu);
	if (q->aborted) {
		pthread_mutex_unlock(&q->mu);
		free(n);
		return -1;
	}
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->bytes += bytes;
	q->count++;
	if (q->bytes > q->peak_bytes)
		q->peak_bytes = q->bytes;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void *queue_pop(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	while (!q->aborted && !q->head && !q->closed)
		pthread_cond_wait(&q->not_empty, &q->mu);
	if (q->aborted || !q->head) {
		pthread_mutex_unlock(&q->mu);
		return NULL;
	}
	struct queue_node *n = q->head;
	q->head = n->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= n->bytes;
	q->count--;
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
	void *item = n->item;
	free(n);
	return item;
}

void queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

void queue_abort(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->aborted = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

void queue_release(struct queue *q, void (*free_item)(void *))
{
	struct queue_node *n = q->head;
	while (n) {
		struct queue_node *next = n->next;
		if (free_item)
			free_item(n->item);
		free(n);
		n = next;
	}
	q->head = q->tail = NULL;
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->mu);
}
