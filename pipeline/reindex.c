/*
 * reindex.c — a new generation of the corpus built beside the live one, then swapped in.
 *
 *   lock(); live_settings(); choose_model();
 *   index settings only: rebuild_indexes();              (no re-embedding)
 *   otherwise: create_shadow(); fill_shadow(); finish_shadow(); verify(); swap();
 *
 * The shadow generation lives in schema ragload_shadow: tables made LIKE the live ones
 * (INCLUDING ALL), chunks and embeddings rebuilt from the normalized text stored in documents
 * (archives are not read again; the heading and page or slide marks ingest kept in
 * documents.metadata give the new chunks their heading paths and pages) and written through
 * the load stage's row writers, with new ids from the same sequences (ids are never reused),
 * BM25 postings beside them (their statistics kept by the triggers ragload_bm25_attach() gives
 * the shadow tables, so the shadow's N and lengths are exact for it alone),
 * then every key, constraint and index of the live tables under the same names (the vector
 * and full-text ones through the index stage's DDL, with the new settings, halfvec and bit
 * indexes too where `index --storage` made them), and foreign keys
 * to the one documents table, so doc_ids survive. The swap moves the live tables to
 * ragload_prev and the shadow ones to public in one short transaction: a reader sees the old
 * generation or the new one, never a mix, and never a missing table. The previous generation stays in ragload_prev
 * until the next reindex; --rollback swaps it back.
 */
#include "reindex.h"
#include "modelcmd.h"
#include "indexcmd.h"
#include "../lib/common.h"
#include "../lib/db.h"
#include "../models/store.h"
#include "../lib/corpus.h"
#include "../stages/load.h"
#include "../stages/chunk.h"
#include "../models/model.h"
#include "../lib/blas.h"
#include "../stages/embedding.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FETCH_DOCS 500

struct live {
	char model[256];
	char chunking[32];
	char distance[16];
	int generation;
	char prev_model[256];
	char prev_chunking[32];
};

static int live_settings(PGconn *conn, struct live *l)
{
	char gen[16];
	corpus_get(conn, "model", l->model, sizeof(l->model), "");
	corpus_get(conn, "chunking", l->chunking, sizeof(l->chunking), "256/32");
	corpus_get(conn, "distance", l->distance, sizeof(l->distance), "cosine");
	corpus_get(conn, "generation", gen, sizeof(gen), "1");
	corpus_get(conn, "prev_model", l->prev_model, sizeof(l->prev_model), "");
	corpus_get(conn, "prev_chunking", l->prev_chunking, sizeof(l->prev_chunking), "");
	l->generation = atoi(gen);
	if (!l->model[0]) {
		log_error("the corpus has no model yet: run `ragload ingest` first");
		return RL_ERR;
	}
	return 0;
}

/* Streams documents (doc_id, text, headings) in doc_id order through a cursor. */
struct doc_cursor {
	PGconn *conn;
	PGresult *page;
	int row;
	int done;
};

static int cursor_open(struct doc_cursor *c, PGconn *conn)
{
	memset(c, 0, sizeof(*c));
	c->conn = conn;
	return db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ") ||
	       db_exec(conn, "DECLARE ragload_docs NO SCROLL CURSOR FOR SELECT doc_id, "
			     "original_content, metadata->'headings', metadata->'page_marks', "
			     "metadata->>'page_unit', metadata->>'title' FROM documents ORDER BY doc_id");
}

/* The next document, or NULL at the end (*err set on failure). */
static struct doc *cursor_next(struct doc_cursor *c, int *err)
{
	*err = 0;
	if (c->page && c->row >= PQntuples(c->page)) {
		PQclear(c->page);
		c->page = NULL;
	}
	if (!c->page && !c->done) {
		char sql[64];
		snprintf(sql, sizeof(sql), "FETCH %d FROM ragload_docs", FETCH_DOCS);
		c->page = db_query(c->conn, sql, 0, NULL);
		c->row = 0;
		if (!c->page) {
			*err = 1;
			return NULL;
		}
		if (PQntuples(c->page) == 0)
			c->done = 1;
	}
	if (c->done)
		return NULL;
	int i = c->row++;
	struct doc *d = doc_new();
	if (!d)
		goto fail;
	d->doc_id = strtoll(PQgetvalue(c->page, i, 0), NULL, 10);
	d->text_len = (size_t)PQgetlength(c->page, i, 1);
	d->text = xstrndup(PQgetvalue(c->page, i, 1), d->text_len);
	d->source_name = xstrdup("");
	d->metadata_json = xstrdup("{}");
	if (!d->text || !d->source_name || !d->metadata_json)
		goto fail;
	if (!PQgetisnull(c->page, i, 2) && load_read_headings(d, PQgetvalue(c->page, i, 2)))
		goto fail;
	if (!PQgetisnull(c->page, i, 3) && !PQgetisnull(c->page, i, 4) &&
	    load_read_pages(d, PQgetvalue(c->page, i, 3), PQgetvalue(c->page, i, 4)))
		goto fail;
	/* the title, for the model fit's (title, body) pairs */
	if (!PQgetisnull(c->page, i, 5) && !(d->title = xstrdup(PQgetvalue(c->page, i, 5))))
		goto fail;
	return d;
fail:
	doc_free(d);
	*err = 1;
	return NULL;
}

static void cursor_close(struct doc_cursor *c)
{
	PQclear(c->page);
	db_exec_quiet(c->conn, "COMMIT", NULL, 0);
}

/*
 * The shadow tables are made from the live ones (LIKE ... INCLUDING ALL: columns, defaults,
 * NOT NULL and CHECK constraints, storage, statistics, comments), without their indexes,
 * which come after the bulk load, where building is faster than maintaining them row by row.
 * finish_shadow() then gives them every key, constraint and index the live tables have, read
 * from the catalog, so whatever a migration adds to them survives a reindex's swap.
 */
static int create_shadow(PGconn *conn, int dim)
{
	return db_exec(conn, "DROP SCHEMA IF EXISTS ragload_shadow CASCADE") ||
	       db_exec(conn, "CREATE SCHEMA ragload_shadow") ||
	       db_exec(conn, "CREATE TABLE ragload_shadow.chunks (LIKE public.chunks "
			     "INCLUDING ALL EXCLUDING INDEXES)") ||
	       db_exec(conn, "CREATE TABLE ragload_shadow.embeddings (LIKE public.embeddings "
			     "INCLUDING ALL EXCLUDING INDEXES)") ||
	       db_exec(conn, "CREATE TABLE ragload_shadow.ragload_bm25_postings (LIKE "
			     "public.ragload_bm25_postings INCLUDING ALL EXCLUDING INDEXES)") ||
	       db_exec(conn, "CREATE TABLE ragload_shadow.ragload_bm25_stats (LIKE "
			     "public.ragload_bm25_stats INCLUDING ALL)") ||
	       db_exec(conn, "CREATE TABLE ragload_shadow.ragload_bm25_df (LIKE "
			     "public.ragload_bm25_df INCLUDING ALL)") ||
	       db_exec(conn, "SELECT ragload_bm25_attach('ragload_shadow')") ||
	       corpus_type_vectors(conn, "ragload_shadow.embeddings", dim);
}

/* Chunks and embeds one batch of documents, then writes it into the shadow tables through the
 * load stage's row writers (ids from the live sequences: ids are never reused). */
static int write_batch(PGconn *conn, const struct model *m, struct doc **docs, size_t n)
{
	size_t n_chunks = 0;
	for (size_t i = 0; i < n; i++)
		n_chunks += docs[i]->n_chunks;
	if (!n_chunks)
		return 0;
	int64_t *ids = malloc((2 * n_chunks + n) * sizeof(int64_t));
	char err[1024];
	int rc = RL_ERR;
	if (!ids)
		return RL_ENOMEM;
	int64_t *chunk_ids = ids, *emb_ids = ids + n_chunks, *doc_ids = ids + 2 * n_chunks;
	for (size_t i = 0; i < n; i++)
		doc_ids[i] = docs[i]->doc_id;
	if (load_reserve_ids(conn, 0, n_chunks, NULL, chunk_ids, emb_ids, err, sizeof(err)))
		log_error("reserving ids for the shadow generation: %s", err);
	else if (load_copy_chunks(conn, "ragload_shadow.chunks", docs, n, doc_ids, chunk_ids, err,
				  sizeof(err)))
		log_error("copying chunks into the shadow generation: %s", err);
	else if (load_copy_embeddings(conn, "ragload_shadow.embeddings", docs, n, chunk_ids, emb_ids,
				      model_name(m), err, sizeof(err)))
		log_error("copying embeddings into the shadow generation: %s", err);
	else if (load_copy_postings(conn, "ragload_shadow.ragload_bm25_postings", docs, n, chunk_ids,
				    err, sizeof(err)))
		log_error("copying BM25 postings into the shadow generation: %s", err);
	else
		rc = 0;
	free(ids);
	return rc;
}

/* Reads every document once: fits a model on the stored text (fit != NULL), or chunks,
 * embeds and writes the shadow generation. */
static int scan_documents(const struct rl_config *cfg, const struct chunk_opts *co,
			  struct model_fit *fit, const struct model *m, PGconn *out_conn,
			  uint64_t *n_docs)
{
	PGconn *rd = db_connect(cfg->conninfo);
	struct doc_cursor c;
	struct doc *batch[FETCH_DOCS];
	size_t n = 0;
	int rc = RL_ERR, err = 0;
	*n_docs = 0;
	if (!rd || cursor_open(&c, rd))
		goto out;
	struct doc *d;
	while ((d = cursor_next(&c, &err)) != NULL) {
		if (chunk_doc(co, d)) {
			doc_free(d);
			goto close;
		}
		(*n_docs)++;
		if (fit) {
			for (size_t i = 0; i < d->n_chunks; i++)
				model_fit_add_titled(fit, d->title, d->text + d->chunks[i].start,
						     d->chunks[i].end - d->chunks[i].start);
			doc_free(d);
			if (*n_docs >= cfg->model.fit_sample_docs)
				break;
			continue;
		}
		batch[n++] = d;
		if (n == FETCH_DOCS) {
			int bad = embed_docs(m, batch, n) || write_batch(out_conn, m, batch, n);
			for (size_t i = 0; i < n; i++)
				doc_free(batch[i]);
			n = 0;
			if (bad)
				goto close;
		}
	}
	if (err)
		goto close;
	if (n && (embed_docs(m, batch, n) || write_batch(out_conn, m, batch, n)))
		goto close;
	rc = 0;
close:
	for (size_t i = 0; i < n; i++)
		doc_free(batch[i]);
	cursor_close(&c);
out:
	if (rd)
		PQfinish(rd);
	return rc;
}

/*
 * The live table's keys, constraints (primary, unique, foreign, exclusion: LIKE copied the
 * CHECK and NOT NULL ones) and indexes, given to its shadow copy under the same names; the
 * vector and full-text indexes excepted, which are built with the new settings. Definitions
 * are read with search_path = public and replayed with ragload_shadow first on it, so a
 * foreign key between the two tables points at the shadow copy and one to documents at the
 * live documents table.
 */
static int copy_keys(PGconn *conn, const char *table)
{
	char sql[1024], on_live[96], on_shadow[96];
	int rc = RL_ERR;
	PGresult *k = NULL, *ix = NULL;
	snprintf(sql, sizeof(sql), "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
		 "WHERE conrelid = 'public.%s'::regclass AND contype IN ('p', 'u', 'f', 'x') "
		 "ORDER BY contype = 'f', conname", table);
	if (db_exec(conn, "SET search_path = public") || !(k = db_query(conn, sql, 0, NULL)))
		goto out;
	snprintf(sql, sizeof(sql), "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN "
		 "pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE "
		 "i.indrelid = 'public.%s'::regclass AND a.amname NOT IN ('hnsw', 'ivfflat') AND "
		 "c.relname <> '" INDEX_FTS_NAME "' AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
		 "WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid) ORDER BY c.relname",
		 table);
	if (!(ix = db_query(conn, sql, 0, NULL)) ||
	    db_exec(conn, "SET search_path = ragload_shadow, public"))
		goto out;
	for (int i = 0; i < PQntuples(k); i++) {
		char *name = PQescapeIdentifier(conn, PQgetvalue(k, i, 0), strlen(PQgetvalue(k, i, 0)));
		struct buf add;
		buf_init(&add, 0);
		int bad = !name || buf_printf(&add, "ALTER TABLE ragload_shadow.%s ADD CONSTRAINT %s %s",
					      table, name, PQgetvalue(k, i, 1)) ||
			  db_exec(conn, add.data);
		PQfreemem(name);
		buf_release(&add);
		if (bad)
			goto out;
	}
	snprintf(on_live, sizeof(on_live), " ON public.%s ", table);
	snprintf(on_shadow, sizeof(on_shadow), " ON ragload_shadow.%s ", table);
	for (int i = 0; i < PQntuples(ix); i++) {
		const char *def = PQgetvalue(ix, i, 0), *on = strstr(def, on_live);
		struct buf create;
		buf_init(&create, 0);
		if (!on) {
			log_error("reindex: cannot place index on the shadow table: %s", def);
			goto out;
		}
		int bad = buf_append(&create, def, (size_t)(on - def)) ||
			  buf_printf(&create, "%s%s", on_shadow, on + strlen(on_live)) ||
			  db_exec(conn, create.data);
		buf_release(&create);
		if (bad)
			goto out;
	}
	rc = 0;
out:
	PQclear(k);
	PQclear(ix);
	db_exec(conn, "SET search_path TO DEFAULT");
	return rc;
}

/* One vector index on the shadow generation: index_ddl_storage's DDL under name. */
static int shadow_index(PGconn *conn, const char *kind, const char *storage, const char *name,
			const struct live *l, const struct index_args *a, long long rows, int dim)
{
	char sql[1024], params[256];
	char *id = PQescapeIdentifier(conn, name, strlen(name));
	int bad = !id ||
		  index_ddl_storage(conn, kind, storage, dim, id, "ragload_shadow", l->distance, a,
				    rows, sql, sizeof(sql), params, sizeof(params)) ||
		  db_exec(conn, sql);
	PQfreemem(id);
	return bad ? RL_ERR : 0;
}

/* Keys, constraints and indexes of the shadow generation, named as the live ones are; the
 * vector and full-text indexes through the index stage's DDL, with the new settings. The
 * vector indexes are the live generation's (each kind and storage ragload_indexes records,
 * under its name, so that the one marked serving exists after the swap); a live generation
 * without any gets the HNSW and IVFFlat of each configured storage (bit: HNSW only). */
static int finish_shadow(PGconn *conn, const struct live *l, const struct index_args *ia,
			 const char *storages, long long rows, int dim, char *serve, size_t nserve)
{
	struct index_args a = *ia;
	char sql[1024], params[256];
	if (!a.fts_config)
		a.fts_config = "english";
	if (copy_keys(conn, "chunks") || copy_keys(conn, "embeddings") ||
	    copy_keys(conn, "ragload_bm25_postings") || index_build_memory(conn, rows, dim, a.m))
		return RL_ERR;
	PGresult *st = db_query(conn, "SELECT r.kind, r.storage, r.index_name FROM ragload_indexes r "
				"WHERE r.kind IN ('hnsw', 'ivfflat') AND "
				"to_regclass(format('public.%I', r.index_name)) IS NOT NULL "
				"ORDER BY r.serving DESC, r.kind = 'hnsw' DESC, r.index_name", 0, NULL);
	if (!st)
		return RL_ERR;
	/* the storage the new generation is searched through: the serving index's */
	snprintf(serve, nserve, "%s", PQntuples(st) ? PQgetvalue(st, 0, 1) : "");
	for (int i = 0; i < PQntuples(st); i++)
		if (shadow_index(conn, PQgetvalue(st, i, 0), PQgetvalue(st, i, 1),
				 PQgetvalue(st, i, 2), l, &a, rows, dim)) {
			PQclear(st);
			return RL_ERR;
		}
	if (PQntuples(st) == 0) {
		char list[64], *save = NULL;
		snprintf(list, sizeof(list), "%s", storages && *storages ? storages : "halfvec");
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!*serve)
				snprintf(serve, nserve, "%s", t);
			for (int k = 0; k < 2; k++) {
				const char *kind = k ? "ivfflat" : "hnsw";
				char name[64];
				if (k && !strcmp(t, "bit"))
					continue;
				index_name_for(kind, t, name, sizeof(name));
				if (shadow_index(conn, kind, t, name, l, &a, rows, dim)) {
					PQclear(st);
					return RL_ERR;
				}
			}
		}
	}
	if (index_ddl(conn, "fts", INDEX_FTS_NAME, "ragload_shadow", l->distance, &a, rows, sql,
		      sizeof(sql), params, sizeof(params)) || db_exec(conn, sql)) {
		PQclear(st);
		return RL_ERR;
	}
	PQclear(st);
	return db_exec(conn, "SELECT ragload_bm25_compact('ragload_shadow')") ||
	       db_exec(conn, "VACUUM (ANALYZE) ragload_shadow.ragload_bm25_postings, "
			     "ragload_shadow.ragload_bm25_df") ||
	       db_exec(conn, "ANALYZE ragload_shadow.chunks, ragload_shadow.embeddings") ? RL_ERR : 0;
}

/* Counts, and a recall spot check: a stored vector must find its own chunk first. */
static int verify_shadow(PGconn *conn, const struct live *l, const char *storage, int dim)
{
	PGresult *r = db_query(conn,
		"SELECT (SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM "
		"ragload_shadow.chunks c WHERE c.doc_id = d.doc_id) AND length(d.original_content) > 0), "
		"(SELECT count(*) FROM ragload_shadow.chunks c WHERE NOT EXISTS (SELECT 1 FROM "
		"ragload_shadow.embeddings e WHERE e.chunk_id = c.chunk_id))", 0, NULL);
	if (!r)
		return RL_ERR;
	long long no_chunks = atoll(PQgetvalue(r, 0, 0)), no_emb = atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	if (no_chunks || no_emb) {
		log_error("the new generation is incomplete (%lld documents without chunks, %lld "
			  "chunks without embeddings): not swapped in", no_chunks, no_emb);
		return RL_ERR;
	}
	/* through the index the new generation is served from (its storage's expression) */
	struct buf sql;
	buf_init(&sql, 0);
	if (buf_printf(&sql, "SELECT count(*) FILTER (WHERE hit), count(*) FROM (SELECT s.chunk_id "
		       "= (SELECT n.chunk_id FROM (") ||
	    index_dense_sql(&sql, *storage ? storage : "vector", dim, index_operator(l->distance),
			    "s.embedding_vector", "1", "10") ||
	    buf_printf(&sql, ") n ORDER BY n.d, n.chunk_id LIMIT 1) AS hit FROM (SELECT chunk_id, "
		       "embedding_vector FROM embeddings ORDER BY chunk_id LIMIT 20) s) x")) {
		buf_release(&sql);
		return RL_ENOMEM;
	}
	if (db_exec(conn, "BEGIN; SET LOCAL hnsw.ef_search = 100; "
			  "SET LOCAL search_path TO ragload_shadow, public")) {
		buf_release(&sql);
		return RL_ERR;
	}
	r = db_query(conn, sql.data, 0, NULL);
	db_exec_quiet(conn, "COMMIT", NULL, 0);
	buf_release(&sql);
	if (!r)
		return RL_ERR;
	int hits = atoi(PQgetvalue(r, 0, 0)), n = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	/* Duplicate texts can legitimately find a twin first; most must find themselves. */
	if (n && hits * 10 < n * 8) {
		log_error("recall spot check failed on the new generation (%d of %d chunks found "
			  "themselves): not swapped in", hits, n);
		return RL_ERR;
	}
	log_info("verified the new generation: counts complete, self-recall %d/%d", hits, n);
	return 0;
}

/* Moves schema from's chunks/embeddings, with their BM25 postings, statistics and document
 * frequencies, to schema to, keeping the id sequences in public. */
static int move_generation(PGconn *conn, const char *from, const char *to)
{
	char sql[640];
	snprintf(sql, sizeof(sql),
		 "ALTER TABLE %s.embeddings SET SCHEMA %s; ALTER TABLE %s.chunks SET SCHEMA %s; "
		 "ALTER TABLE %s.ragload_bm25_postings SET SCHEMA %s; "
		 "ALTER TABLE %s.ragload_bm25_stats SET SCHEMA %s; "
		 "ALTER TABLE %s.ragload_bm25_df SET SCHEMA %s", from, to, from, to, from, to,
		 from, to, from, to);
	return db_exec(conn, sql);
}

/*
 * The swap, in one short transaction: live -> ragload_prev, shadow (or prev, for a rollback)
 * -> public. The sequences are detached first, since a table moving schema takes the
 * sequences it owns with it, and re-attached to the new live tables afterwards.
 */
static int swap(PGconn *conn, const char *incoming, const struct live *l, const char *new_model,
		const char *new_chunking, int new_generation)
{
	char gen[16];
	snprintf(gen, sizeof(gen), "%d", new_generation);
	if (db_exec(conn, "BEGIN") ||
	    db_exec(conn, "LOCK TABLE public.chunks, public.embeddings, public.ragload_bm25_postings, "
			  "public.ragload_bm25_stats, public.ragload_bm25_df IN ACCESS EXCLUSIVE MODE") ||
	    db_exec(conn, "ALTER SEQUENCE public.chunks_chunk_id_seq OWNED BY NONE; "
			  "ALTER SEQUENCE public.embeddings_embedding_id_seq OWNED BY NONE") ||
	    db_exec(conn, "DROP SCHEMA IF EXISTS ragload_swap CASCADE; CREATE SCHEMA ragload_swap") ||
	    move_generation(conn, "public", "ragload_swap") ||
	    move_generation(conn, incoming, "public") ||
	    db_exec(conn, "DROP SCHEMA IF EXISTS ragload_prev CASCADE; "
			  "ALTER SCHEMA ragload_swap RENAME TO ragload_prev") ||
	    db_exec(conn, "ALTER SEQUENCE public.chunks_chunk_id_seq OWNED BY public.chunks.chunk_id; "
			  "ALTER SEQUENCE public.embeddings_embedding_id_seq OWNED BY "
			  "public.embeddings.embedding_id"))
		goto fail;
	const char *keys[6] = {"model", "chunking", "generation", "prev_model", "prev_chunking",
			       "prev_generation"};
	char prev_gen[16];
	snprintf(prev_gen, sizeof(prev_gen), "%d", l->generation);
	const char *vals[6] = {new_model, new_chunking, gen, l->model, l->chunking, prev_gen};
	for (int i = 0; i < 6; i++)
		if (corpus_set(conn, keys[i], vals[i], 1))
			goto fail;
	/* Least privilege survives the swap: grants live on the tables that just moved in. */
	int ok;
	if (db_scalar_int(conn, "SELECT count(*) FROM pg_roles WHERE rolname = '" ROLE_READER "'",
			  0, &ok) > 0 && db_create_roles(conn))
		goto fail;
	/* ragload_dense() follows the index that serves the generation swapped in */
	if (!ok || index_dense_function(conn) || db_exec(conn, "COMMIT"))
		goto fail;
	return 0;
fail:
	db_exec_quiet(conn, "ROLLBACK", NULL, 0);
	return RL_ERR;
}

static int rollback(PGconn *conn, const struct live *l)
{
	int ok;
	if (db_scalar_int(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'ragload_prev' "
				"AND tablename IN ('chunks', 'embeddings')", 0, &ok) != 2 || !ok) {
		log_error("there is no previous generation to roll back to");
		return RL_ERR;
	}
	if (db_scalar_int(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'ragload_prev' "
				"AND tablename IN ('ragload_bm25_postings', 'ragload_bm25_stats', "
				"'ragload_bm25_df')", 0, &ok) != 3 || !ok) {
		log_error("the previous generation predates BM25 (schema 4) and cannot be rolled "
			  "back to; reindex instead");
		return RL_ERR;
	}
	char prev_gen[16];
	corpus_get(conn, "prev_generation", prev_gen, sizeof(prev_gen), "1");
	/* The generation rolled back from becomes the previous one: a second rollback redoes. */
	if (swap(conn, "ragload_prev", l, l->prev_model, l->prev_chunking, atoi(prev_gen)))
		return RL_ERR;
	log_info("rolled back to generation %s (model %s, chunking %s)", prev_gen, l->prev_model,
		 l->prev_chunking);
	return 0;
}

static int choose_model(const struct rl_config *cfg, const struct reindex_args *a,
			const struct chunk_opts *co, PGconn *conn, int64_t run_id, struct model **out)
{
	if (a->model_file)
		return model_read_file(a->model_file, out);
	if (a->refit) {
		struct model_fit *fit;
		uint64_t n;
		if (model_fit_begin(&cfg->model, &fit))
			return RL_ERR;
		fit_progress_note(conn, run_id);
		if (scan_documents(cfg, co, fit, NULL, NULL, &n)) {
			fit_progress_note(NULL, -1);
			model_fit_free(fit);
			return RL_ERR;
		}
		log_info("fitting a new model on %llu stored documents", (unsigned long long)n);
		int rc = model_fit_end(fit, out);
		fit_progress_note(NULL, -1);
		return rc;
	}
	return corpus_current_model(conn, out) == 0 ? 0 : RL_ERR;
}

int reindex_run(const struct rl_config *cfg, const struct reindex_args *a)
{
	int status = EXIT_FATAL;
	struct model *m = NULL;
	PGconn *conn = NULL;
	struct live l;
	if ((status = db_open_corpus(cfg->conninfo, 1, 0, cfg->load.lock_wait_s, &conn)) !=
	    EXIT_DONE)
		goto out;
	status = EXIT_FATAL;
	if (live_settings(conn, &l) || load_postings_indexes_repair(conn))
		goto out;
	int64_t run_id = db_run_begin(conn, a->rollback ? "reindex --rollback" : "reindex", NULL, 0);
	if (a->rollback) {
		status = rollback(conn, &l) ? EXIT_FATAL : EXIT_DONE;
		db_run_end(conn, run_id, status ? "failed" : "done", "{}", NULL);
		goto out;
	}
	struct chunk_opts co = cfg->chunk;
	if (sscanf(l.chunking, "%d/%d", &co.tokens, &co.overlap) != 2) {
		co.tokens = 256;
		co.overlap = 32;
	}
	if (a->tokens > 0)
		co.tokens = a->tokens;
	if (a->overlap >= 0)
		co.overlap = a->overlap;
	if (co.overlap >= co.tokens) {
		log_error("chunk overlap (%d) must be smaller than chunk tokens (%d)", co.overlap,
			  co.tokens);
		status = EXIT_USAGE;
		goto out;
	}
	char chunking[32];
	snprintf(chunking, sizeof(chunking), "%d/%d", co.tokens, co.overlap);
	int precomputed = strncmp(l.model, "precomputed:", 12) == 0;
	if (precomputed && (a->model_file || a->refit || strcmp(chunking, l.chunking))) {
		log_error("a corpus of precomputed vectors can only be reindexed with new index "
			  "settings");
		status = EXIT_USAGE;
		goto out;
	}
	if (!precomputed && choose_model(cfg, a, &co, conn, run_id, &m))
		goto out;
	const char *new_model = precomputed ? l.model : model_name(m);
	if (!strcmp(new_model, l.model) && !strcmp(chunking, l.chunking)) {
		/* Only the index settings change: rebuild them in place (each swapped in by
		 * rename); nothing is re-embedded. A refit that gave the very model stored it
		 * again, which repairs a row whose bytes no longer match its name. */
		if (m && corpus_store_model(conn, m))
			goto out;
		PQfinish(conn);  /* indexcmd_run takes the lock itself */
		conn = NULL;
		log_info("model and chunking unchanged: rebuilding the indexes only");
		status = indexcmd_run(cfg, &a->index);
		goto out;
	}
	blas_set_threads(cfg->model.blas_threads > 0 ? cfg->model.blas_threads : 2);
	double t0 = now_seconds();
	uint64_t n_docs;
	log_info("building generation %d (model %s, chunking %s) beside generation %d",
		 l.generation + 1, new_model, chunking, l.generation);
	if (corpus_store_model(conn, m) || create_shadow(conn, model_dim(m)) ||
	    scan_documents(cfg, &co, NULL, m, conn, &n_docs))
		goto failed;
	int ok;
	long long rows = db_scalar_int(conn, "SELECT count(*) FROM ragload_shadow.embeddings", 0, &ok);
	char serve[16];
	if (!ok ||
	    finish_shadow(conn, &l, &a->index,
			  a->index.storage ? a->index.storage : cfg->index.storage, rows,
			  model_dim(m), serve, sizeof(serve)) ||
	    verify_shadow(conn, &l, serve, model_dim(m)))
		goto failed;
	double t1 = now_seconds();
	if (swap(conn, "ragload_shadow", &l, new_model, chunking, l.generation + 1))
		goto failed;
	db_exec(conn, "DROP SCHEMA IF EXISTS ragload_shadow CASCADE");
	log_info("generation %d is live: %llu documents, %lld chunks re-embedded in %.1f s, swap "
		 "%.3f s; generation %d kept for `reindex --rollback`", l.generation + 1,
		 (unsigned long long)n_docs, rows, t1 - t0, now_seconds() - t1, l.generation);
	db_run_end(conn, run_id, "done", "{}", NULL);
	status = EXIT_DONE;
	goto out;
failed:
	db_run_end(conn, run_id, "failed", "{}", NULL);
	log_error("reindex failed; the live generation is unchanged");
out:
	model_free(m);
	if (conn)
		PQfinish(conn);
	return status;
}
