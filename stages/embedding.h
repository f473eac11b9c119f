/*
 * embedding.h — the embed stage: the chunks of many documents through one model, in blocks.
 *
 * The model interface itself (struct model, model_embed, the kinds) is models/model.h; this
 * stage only walks documents' chunks and hands them to model_embed() a block at a time.
 */
#ifndef RAGLOAD_EMBEDDING_H
#define RAGLOAD_EMBEDDING_H

#include "../lib/common.h"
#include "../models/model.h"

/* Fills docs[i]->vectors (n_chunks * dim, owned by the doc) for every chunk of every doc, a
 * block of texts per model_embed() call. Returns 0 or negative; on failure no doc keeps
 * vectors. Thread-safe. */
int embed_docs(const struct model *m, struct doc **docs, size_t n);

#endif
