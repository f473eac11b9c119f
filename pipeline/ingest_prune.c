/*
 * ingest_prune.c — `ingest --prune`: documents under the given inputs that this run did not
 * see are deleted, except those under a place where the run met damage (an archive cut short,
 * an unreadable directory), which may still exist.
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

/* ---- where documents may have been missed ------------------------------------------------
 * --prune deletes documents under the given inputs whose keys this run did not see. A
 * document behind damage (an archive cut short, an unreadable directory, a file that is now
 * binary or too large) was not seen either, yet may still exist: the read stage and the
 * normalizer name each such place (a command-line input and a source key, or the whole
 * input), and prune keeps every document at or under one of them. A damaged tar therefore
 * keeps only its own documents; an unrelated md.zip of the same run is still pruned. */
#define DAMAGE_MAX (1u << 20)         /* places recorded; past this nothing is pruned */

struct damage_place {
	uint64_t hash;                /* XXH3 of "<input index>\x1f<key>" */
	char *key;                    /* NULL: the whole input */
	int input;                    /* index into args->paths */
	uint64_t kept;                /* documents prune kept because of it */
};

struct damage {
	pthread_mutex_t mu;
	struct damage_place *p;
	size_t n, cap;
	int overflow;
};

static uint64_t damage_hash(int input, const char *key, size_t len)
{
	XXH3_state_t st;
	char sep[16];
	int n = snprintf(sep, sizeof(sep), "%d\x1f", input);

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, sep, (size_t)n);
	if (key)
		XXH3_64bits_update(&st, key, len);
	else
		XXH3_64bits_update(&st, "\x1e", 1);  /* no key can hold it: the whole input */
	return XXH3_64bits_digest(&st);
}

void damage_note_input(struct ingest *in, const char *input, const char *key)
{
	struct damage *dm = in->damage;
	int idx = -1;

	if (!dm)
		return;
	for (int i = 0; i < in->args->n_paths; i++)
		if (input && strcmp(input, in->args->paths[i]) == 0)
			idx = i;
	pthread_mutex_lock(&dm->mu);
	if (idx < 0 || dm->n == DAMAGE_MAX) {
		dm->overflow = 1;  /* cannot say where: prune nothing */
	} else {
		if (dm->n == dm->cap) {
			size_t cap = dm->cap ? dm->cap * 2 : 64;
			struct damage_place *np = realloc(dm->p, cap * sizeof(*np));
			if (np) {
				dm->p = np;
				dm->cap = cap;
			}
		}
		char *k = key ? xstrdup(key) : NULL;
		if (dm->n == dm->cap || (key && !k)) {
			dm->overflow = 1;
			free(k);
		} else {
			dm->p[dm->n++] = (struct damage_place){
				damage_hash(idx, key, key ? strlen(key) : 0), k, idx, 0 };
		}
	}
	pthread_mutex_unlock(&dm->mu);
}

/* read_damage_fn for the reader thread */
void damage_from_read(void *ctx, const char *input, const char *key)
{
	damage_note_input(ctx, input, key);
}

struct damage *damage_new(void)
{
	struct damage *dm = calloc(1, sizeof(*dm));
	if (dm)
		pthread_mutex_init(&dm->mu, NULL);
	return dm;
}

void damage_free(struct damage *dm)
{
	if (!dm)
		return;
	for (size_t i = 0; i < dm->n; i++)
		free(dm->p[i].key);
	free(dm->p);
	pthread_mutex_destroy(&dm->mu);
	free(dm);
}

static int damage_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct damage_place *)a)->hash, y = ((const struct damage_place *)b)->hash;
	return x < y ? -1 : x > y;
}

static struct damage_place *damage_find(struct damage *dm, int input, const char *key, size_t len)
{
	if (!dm->n)
		return NULL;
	struct damage_place k = { .hash = damage_hash(input, key, len) };
	struct damage_place *p = bsearch(&k, dm->p, dm->n, sizeof(*dm->p), damage_cmp);

	/* the first of equal hashes: duplicates of one place are adjacent */
	while (p && p > dm->p && p[-1].hash == k.hash)
		p--;
	for (; p && p < dm->p + dm->n && p->hash == k.hash; p++)
		if (p->input == input && (key ? p->key && strlen(p->key) == len &&
					  memcmp(p->key, key, len) == 0 : !p->key))
			return p;
	return NULL;
}

/* The damaged place that covers a document (input index, key), or NULL: the whole input,
 * the key itself, or the key cut before any '!', '/' or '#' in it (its archive, directory,
 * collection). */
static struct damage_place *damage_covering(struct damage *dm, int input, const char *key)
{
	struct damage_place *p = damage_find(dm, input, NULL, 0);

	if (p)
		return p;
	for (size_t i = 0; key[i]; i++)
		if ((key[i] == '!' || key[i] == '/' || key[i] == '#') &&
		    (p = damage_find(dm, input, key, i)))
			return p;
	return damage_find(dm, input, key, strlen(key));
}

int resolve_inputs(struct ingest *in)
{
	in->input_ids = calloc((size_t)in->args->n_paths, sizeof(char *));
	if (!in->input_ids)
		return RL_ERR;
	for (int i = 0; i < in->args->n_paths; i++) {
		char *rp = realpath(in->args->paths[i], NULL);
		in->input_ids[i] = rp ? rp : xstrdup(in->args->paths[i]);
		if (!in->input_ids[i])
			return RL_ERR;
	}
	return 0;
}

static int input_index(struct ingest *in, const char *id)
{
	for (int i = 0; i < in->args->n_paths; i++)
		if (strcmp(in->input_ids[i], id) == 0)
			return i;
	return RL_ERR;
}

/* Says which damaged places kept documents from --prune, the largest first (at most 10
 * lines; the rest summed up). */
static void prune_report_kept(struct ingest *in, uint64_t kept)
{
	struct damage *dm = in->damage;
	uint64_t said = 0;

	for (int shown = 0; shown < 10; shown++) {
		struct damage_place *best = NULL;
		for (size_t i = 0; i < dm->n; i++)
			if (dm->p[i].kept && (!best || dm->p[i].kept > best->kept))
				best = &dm->p[i];
		if (!best)
			break;
		log_warn("--prune kept %llu document%s under %s (input %s): not seen because of "
			 "the damage reported above, so they may still exist",
			 (unsigned long long)best->kept, best->kept == 1 ? "" : "s",
			 best->key ? best->key : "the whole input", in->args->paths[best->input]);
		said += best->kept;
		best->kept = 0;
	}
	if (kept > said)
		log_warn("--prune kept %llu more documents under other damaged places",
			 (unsigned long long)(kept - said));
}

/*
 * --prune: deletes documents under the given inputs whose keys were not seen in this run,
 * except those under a place where this run met damage (see "where documents may have been
 * missed"): nothing already loaded is lost because an archive got damaged, and one damaged
 * archive does not stop the pruning of the rest. Ignored files (images, symlinks, excluded
 * ones) are not damage: a document whose file is now excluded is pruned. The candidates
 * (documents not seen) are few on a rerun, so they are filtered here, in C, against the
 * damaged places and under --shard against the shard hash (SQL has no stable equivalent).
 */
int prune(struct ingest *in)
{
	struct damage *dm = in->damage;
	int fvecs = in->args->n_paths > 0 && has_suffix(in->args->paths[0], ".fvecs");

	if (in->prune_unsafe || dm->overflow || (fvecs && counts_total(&in->counts))) {
		log_warn("--prune not applied: %s", in->prune_unsafe ?
			 "the record of documents seen was lost with a database connection" :
			 dm->overflow ? "too many damaged places to tell which documents were missed" :
			 "some vectors were skipped in this run, so documents that were not seen may "
			 "still exist");
		return 0;
	}
	if (dm->n) /* qsort and bsearch want a real array even for no elements */
		qsort(dm->p, dm->n, sizeof(*dm->p), damage_cmp);
	struct buf arr, ids;
	buf_init(&arr, 0);
	buf_init(&ids, 0);
	PGresult *r = NULL;
	uint64_t n = 0, kept = 0;
	int rc = RL_ERR;
	if (db_text_array(&arr, in->input_ids, (size_t)in->args->n_paths))
		goto out;
	const char *params[1] = {arr.data};
	r = db_query(in->worker_conn,
		"SELECT doc_id, source_name, source_input FROM documents d "
		"WHERE d.source_input = ANY($1::text[]) "
		"AND NOT EXISTS (SELECT 1 FROM pg_temp.ragload_seen s WHERE s.key = d.source_name)",
		1, params);
	if (!r)
		goto out;
	rc = buf_putc(&ids, '{');
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		const char *key = PQgetvalue(r, i, 1);
		int input = input_index(in, PQgetvalue(r, i, 2));
		struct damage_place *p;
		if (in->args->n_shards &&
		    !ingest_in_shard(key, in->args->shard, in->args->n_shards))
			continue;
		if (input >= 0 && (p = damage_covering(dm, input, key))) {
			p->kept++;
			kept++;
			continue;
		}
		rc = buf_printf(&ids, "%s%s", n++ ? "," : "", PQgetvalue(r, i, 0));
	}
	if (!rc)
		rc = buf_putc(&ids, '}');
	if (!rc && n && !in->args->dry_run) {
		const char *p[1] = {ids.data};
		PGresult *d = db_query(in->worker_conn, "WITH gone AS (DELETE FROM documents WHERE "
				       "doc_id = ANY($1::int[]) RETURNING 1) SELECT count(*) FROM gone",
				       1, p);
		rc = d ? 0 : RL_ERR;
		PQclear(d);
	}
	if (rc)
		goto out;
	in->pruned = n;
	if (kept)
		prune_report_kept(in, kept);
out:
	PQclear(r);
	buf_release(&arr);
	buf_release(&ids);
	return rc ? RL_ERR : 0;
}
