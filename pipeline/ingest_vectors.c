/*
 * ingest_vectors.c — precomputed .fvecs vectors (lib/vecfile.c): each vector a document with
 * one chunk and its embedding, in file order, so the 0-based ids of a matching .ivecs ground
 * truth are the documents' "_id"; looked up by content hash like text and handed straight to
 * the loaders (nothing to chunk or embed).
 */
#include "ingest_private.h"
#include "modelcmd.h"
#include "../models/store.h"
#include "../lib/corpus.h"
#include "../lib/db.h"
#include "../lib/blas.h"
#include "../lib/vecfile.h"
#include "../stages/read.h"
#include "../stages/normalize.h"
#include "../stages/chunk.h"
#include "../stages/embedding.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

/* ---- precomputed vectors (.fvecs) ------------------------------------------------------------ */

int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/*
 * Each vector becomes a document with one chunk and its embedding, in file order, so the
 * 0-based ids of a matching .ivecs ground truth are the documents' "_id". Invalid vectors
 * (NaN, infinity: pgvector rejects them) are skipped and counted; a wrong dimension word or a
 * truncated last vector ends that file with a message naming the offset.
 */
static struct doc *vector_doc(const char *input, uint64_t i, const float *v, int dim)
{
	struct doc *d = doc_new();
	char key[64];
	if (!d)
		return NULL;
	snprintf(key, sizeof(key), "#%llu", (unsigned long long)i);
	size_t bl = strlen(base_name(input));
	d->source_name = malloc(bl + strlen(key) + 1);
	d->input = xstrdup(input);
	d->text = xstrdup("");
	d->chunks = calloc(1, sizeof(struct chunk));
	d->vectors = malloc((size_t)dim * sizeof(float));
	char meta[64];
	snprintf(meta, sizeof(meta), "{\"_id\": \"%llu\", \"format\": \"fvecs\"}",
		 (unsigned long long)i);
	d->metadata_json = xstrdup(meta);
	if (!d->source_name || !d->input || !d->text || !d->chunks || !d->vectors ||
	    !d->metadata_json) {
		doc_free(d);
		return NULL;
	}
	memcpy(d->source_name, base_name(input), bl);
	strcpy(d->source_name + bl, key);
	d->n_chunks = 1;
	d->dim = dim;
	memcpy(d->vectors, v, (size_t)dim * sizeof(float));
	return d;
}

int vectors_probe_dim(char *const *paths, int n, int *dim)
{
	*dim = 0;
	for (int i = 0; i < n; i++) {
		struct vecfile vf;
		char err[256];
		if (vecfile_open(&vf, paths[i], err, sizeof(err))) {
			log_error("%s: %s", paths[i], err);
			return RL_ERR;
		}
		int d = vf.dim;
		vecfile_close(&vf);
		if (d && *dim && d != *dim) {
			log_error("%s: %d-dimensional vectors, but %s has %d", paths[i], d, paths[0], *dim);
			return RL_ERR;
		}
		if (d)
			*dim = d;
	}
	if (*dim == 0) {
		log_error("no vectors in the given .fvecs files");
		return RL_ERR;
	}
	return 0;
}

/* Gives a looked-up group to the loader (or only counts it in a dry run). The group's
 * slots are emptied; the caller frees what is left. */
static int hand_over(struct ingest *in, struct doc **group, size_t n)
{
	if (!in->args->dry_run)
		return hand_to_loaders(in, group, n);
	count_dry_run(in, group, n);
	return 0;
}

/* Reads every .fvecs input into groups, drops unchanged vectors, hands the rest to the
 * loaders. */
int ingest_vectors(struct ingest *in)
{
	struct doc *group[1024];
	size_t n = 0;
	float *v = NULL;
	int rc = 0;
	for (int p = 0; p < in->args->n_paths && !rc; p++) {
		const char *path = in->args->paths[p];
		struct vecfile vf;
		char err[256];
		double t0 = now_seconds();
		if (vecfile_open(&vf, path, err, sizeof(err))) {
			counts_skip(&in->counts, "bad_vector_file", path, "%s", err);
			continue;
		}
		free(v);
		v = malloc((size_t)(vf.dim ? vf.dim : 1) * sizeof(float));
		if (!v) {
			vecfile_close(&vf);
			rc = RL_ERR;
			break;
		}
		int got;
		while ((got = vecfile_next(&vf, v, err, sizeof(err))) == 1) {
			uint64_t i = vf.index - 1;
			int finite = 1;
			if (in->args->n_shards) {
				char key[512];
				snprintf(key, sizeof(key), "%s#%llu", base_name(path),
					 (unsigned long long)i);
				if (!ingest_in_shard(key, in->args->shard, in->args->n_shards))
					continue;
			}
			for (int k = 0; k < vf.dim && finite; k++)
				finite = isfinite(v[k]);
			in->raw_bytes += 4 + 4 * (uint64_t)vf.dim;
			if (!finite) {
				counts_skip(&in->counts, "bad_vector", path,
					    "vector %llu at byte offset %llu holds NaN or infinity",
					    (unsigned long long)i,
					    (unsigned long long)(vf.offset - 4 - 4 * (uint64_t)vf.dim));
				continue;
			}
			struct doc *d = vector_doc(path, i, v, vf.dim);
			if (!d || set_input_id(in, d)) {
				doc_free(d);
				rc = RL_ERR;
				break;
			}
			load_hash_vectors(d, in->settings_sig);
			in->docs_seen++;
			group[n++] = d;
			if (n == RL_ARRAY_LEN(group)) {
				in->t_read += now_seconds() - t0;
				rc = lookup_existing(in, group, &n) ? RL_ERR : hand_over(in, group, n);
				for (size_t k = 0; k < n; k++)
					doc_free(group[k]);
				n = 0;
				t0 = now_seconds();
				if (rc)
					break;
			}
		}
		in->t_read += now_seconds() - t0;
		if (got < 0)
			counts_skip(&in->counts, "bad_vector_file", path, "%s", err);
		vecfile_close(&vf);
	}
	if (!rc && n) {
		rc = lookup_existing(in, group, &n) ? RL_ERR : hand_over(in, group, n);
	}
	for (size_t k = 0; k < n; k++)
		doc_free(group[k]);
	free(v);
	return rc;
}
