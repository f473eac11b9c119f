/*
 * embedding.c — the embed stage: fills each document's vectors from its chunks.
 *
 * Chunks of all the documents handed over are gathered into blocks of EMBED_BLOCK texts, one
 * model_embed() (one sgemm) per block, so that small documents share a projection. The block
 * a chunk lands in can move the last bits of its vector (OpenBLAS's edge kernels), which is
 * why ingest hands groups of documents over whole (pipeline/ingest.c).
 */
#include "embedding.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_BLOCK 256              /* texts per model_embed() call */

int embed_docs(const struct model *m, struct doc **docs, size_t n)
{
	const char *texts[EMBED_BLOCK];
	size_t lens[EMBED_BLOCK];
	float *tmp = NULL;
	int rc = RL_ENOMEM;

	tmp = malloc((size_t)EMBED_BLOCK * (size_t)model_dim(m) * sizeof(float));
	if (!tmp)
		goto out;
	/* allocate every doc's vectors first, so a failure leaves no doc half-filled */
	for (size_t i = 0; i < n; i++) {
		struct doc *d = docs[i];
		free(d->vectors);
		d->vectors = NULL;
		d->dim = model_dim(m);
		if (d->n_chunks == 0)
			continue;
		d->vectors = malloc(d->n_chunks * (size_t)model_dim(m) * sizeof(float));
		if (!d->vectors)
			goto out;
	}
	/* walk the chunks of all docs in blocks; (di, ci) is the next chunk to gather, (sd, sc)
	 * the next to receive its vector */
	size_t di = 0, ci = 0, sd = 0, sc = 0;
	for (;;) {
		size_t nb = 0;
		while (nb < EMBED_BLOCK && di < n) {
			struct doc *d = docs[di];
			if (ci >= d->n_chunks) {
				di++;
				ci = 0;
				continue;
			}
			const struct chunk *c = &d->chunks[ci++];
			assert(c->start <= c->end && c->end <= d->text_len);
			texts[nb] = d->text + c->start;
			lens[nb] = c->end - c->start;
			nb++;
		}
		if (nb == 0)
			break;
		rc = model_embed(m, texts, lens, nb, tmp);
		if (rc)
			goto out;
		for (size_t r = 0; r < nb; r++) {
			while (sc >= docs[sd]->n_chunks) {
				sd++;
				sc = 0;
			}
			memcpy(docs[sd]->vectors + sc * (size_t)model_dim(m), tmp + r * (size_t)model_dim(m),
			       (size_t)model_dim(m) * sizeof(float));
			sc++;
		}
	}
	rc = 0;
out:
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			free(docs[i]->vectors);
			docs[i]->vectors = NULL;
		}
	}
	free(tmp);
	return rc;
}

