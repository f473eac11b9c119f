/*
 * reindex.c — a new generation of the corpus built beside the live one, then swapped in.
 *
 *   lock(); live_settings(); choose_model();
 *   index settings only: rebuild_indexes();              (no re-embedding)
 *   otherwise: create_shadow(); fill_shadow(); finish_shadow(); verify(); swap();
 *
 * The shadow generation lives in schema ragload_shadow: chunks and embeddings rebuilt from the
 * normalized text stored in documents (archives are not read again), with new chunk ids from
 * the same sequences (ids are never reused), its own indexes, and foreign keys to the one
 * documents table, so doc_ids survive. The swap moves the live tables to ragload_prev and the
 * shadow ones to public in one short transaction: a reader sees the old generation or the new
 * one, never a mix, and never a missing table. The previous generation stays in ragload_prev
 * until the next reindex; --rollback swaps it back.
 */
#include "reindex.h"
#include "common.h"
#include "db.h"
#include "ingest.h"
#include "pgcopy.h"
#include "../stages/chunk.h"
#include "../stages/embed.h"

#include <jansson.h>
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

static void corpus_value(PGconn *conn, const char *key, char *out, size_t len, const char *def)
{
	const char *p[1] = {key};
	PGresult *r = db_query(conn, "SELECT value FROM ragload_corpus WHERE key = $1", 1, p);
	snprintf(out, len, "%s", r && PQntuples(r) ? PQgetvalue(r, 0, 0) : def);
	PQclear(r);
}

static int live_settings(PGconn *conn, struct live *l)
{
	char gen[16];
	corpus_value(conn, "model", l->model, sizeof(l->model), "");
	corpus_value(conn, "chunking", l->chunking, sizeof(l->chunking), "256/32");
	corpus_value(conn, "distance", l->distance, sizeof(l->distance), "cosine");
	corpus_value(conn, "generation", gen, sizeof(gen), "1");
	corpus_value(conn, "prev_model", l->prev_model, sizeof(l->prev_model), "");
	corpus_value(conn, "prev_chunking", l->prev_chunking, sizeof(l->prev_chunking), "");
	l->generation = atoi(gen);
	if (!l->model[0]) {
		log_error("the corpus has no model yet: run `ragload ingest` first");
		return -1;
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
			     "original_content, metadata->'headings', metadata->>'title' FROM documents "
			     "ORDER BY doc_id");
}

static int parse_headings(struct doc *d, const char *json)
{
	json_error_t e;
	json_t *a = json_loads(json, 0, &e);
	if (!json_is_array(a)) {
		json_decref(a);
		return 0;
	}
	size_t n = json_array_size(a);
	d->headings = calloc(n ? n : 1, sizeof(struct heading));
	if (!d->headings) {
		json_decref(a);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(a, i);
		json_t *t = json_array_get(h, 2);
		if (!json_is_string(t))
			continue;
		struct heading *hd = &d->headings[d->n_headings];
		hd->offset = (size_t)json_integer_value(json_array_get(h, 0));
		hd->level = (int)json_integer_value(json_array_get(h, 1));
		hd->text = xstrdup(json_string_value(t));
		if (!hd->text || hd->offset > d->text_len)
			continue;
		d->n_headings++;
	}
	json_decref(a);
	return 0;
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
	if (!PQgetisnull(c->page, i, 2) && parse_headings(d, PQgetvalue(c->page, i, 2)))
		goto fail;
	/* the title, for the model fit's (title, body) pairs */
	if (!PQgetisnull(c->page, i, 3) && !(d->title = xstrdup(PQgetvalue(c->page, i, 3))))
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

static int create_shadow(PGconn *conn, int dim)
{
	/* Only defaults for now: keys and indexes come after the bulk load, which is faster. */
	return db_exec(conn, "DROP SCHEMA IF EXISTS ragload_shadow CASCADE") ||
	       db_exec(conn, "CREATE SCHEMA ragload_shadow") ||
	       db_exec(conn, "CREATE TABLE ragload_shadow.chunks (LIKE public.chunks "
			     "INCLUDING DEFAULTS)") ||
	       db_exec(conn, "CREATE TABLE ragload_shadow.embeddings (LIKE public.embeddings "
			     "INCLUDING DEFAULTS)") ||
	       corpus_type_vectors(conn, "ragload_shadow.embeddings", dim);
}

static int parse_id_array(const char *s, int64_t *ids, size_t n)
{
	size_t i = 0;
	if (*s++ != '{')
		return -1;
	while (*s && *s != '}' && i < n) {
		char *end;
		ids[i++] = strtoll(s, &end, 10);
		s = *end == ',' ? end + 1 : end;
	}
	return i == n ? 0 : -1;
}

/* Chunks, embeds and copies one batch of documents into the shadow tables. */
static int write_batch(PGconn *conn, const struct model *m, struct doc **docs, size_t n)
{
	size_t n_chunks = 0;
	for (size_t i = 0; i < n; i++)
		n_chunks += docs[i]->n_chunks;
	if (!n_chunks)
		return 0;
	int64_t *ids = malloc(2 * n_chunks * sizeof(int64_t));
	struct buf meta;
	buf_init(&meta, 0);
	struct pgcopy pc;
	int rc = -1;
	char sql[384];
	PGresult *r = NULL;
	if (!ids)
		goto out;
	snprintf(sql, sizeof(sql),
		 "SELECT (SELECT array_agg(nextval('chunks_chunk_id_seq')) FROM generate_series(1, %zu)), "
		 "(SELECT array_agg(nextval('embeddings_embedding_id_seq')) FROM generate_series(1, %zu))",
		 n_chunks, n_chunks);
	r = db_query(conn, sql, 0, NULL);
	if (!r || parse_id_array(PQgetvalue(r, 0, 0), ids, n_chunks) ||
	    parse_id_array(PQgetvalue(r, 0, 1), ids + n_chunks, n_chunks))
		goto out;
	pgcopy_begin(&pc, conn, "ragload_shadow.chunks (chunk_id, doc_id, chunk_text, token_count, "
				"chunk_metadata)");
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct doc *d = docs[i];
		for (size_t j = 0; j < d->n_chunks; j++, k++) {
			const struct chunk *ch = &d->chunks[j];
			buf_reset(&meta);
			buf_printf(&meta, "{\"ordinal\": %zu, \"start\": %zu, \"end\": %zu", j, ch->start,
				   ch->end);
			if (ch->heading_path)
				buf_printf(&meta, ", \"headings\": %s", ch->heading_path);
			buf_putc(&meta, '}');
			pgcopy_row(&pc, 5);
			pgcopy_int4(&pc, (int32_t)ids[k]);
			pgcopy_int4(&pc, (int32_t)d->doc_id);
			pgcopy_text(&pc, d->text + ch->start, ch->end - ch->start);
			pgcopy_int4(&pc, ch->token_count);
			pgcopy_jsonb(&pc, meta.data, meta.len);
		}
	}
	if (pgcopy_end(&pc, 1)) {
		log_error("copying chunks into the shadow generation: %s", pc.error);
		goto out;
	}
	const char *name = model_name(m);
	pgcopy_begin(&pc, conn, "ragload_shadow.embeddings (embedding_id, chunk_id, "
				"embedding_vector, model_name)");
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct doc *d = docs[i];
		for (size_t j = 0; j < d->n_chunks; j++, k++) {
			pgcopy_row(&pc, 4);
			pgcopy_int4(&pc, (int32_t)ids[n_chunks + k]);
			pgcopy_int4(&pc, (int32_t)ids[k]);
			pgcopy_vector(&pc, d->vectors + j * (size_t)d->dim, d->dim);
			pgcopy_text(&pc, name, strlen(name));
		}
	}
	if (pgcopy_end(&pc, 1)) {
		log_error("copying embeddings into the shadow generation: %s", pc.error);
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	buf_release(&meta);
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
	int rc = -1, err = 0;
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

/* Keys, foreign keys and indexes of the shadow generation, named as the live ones are. */
static int finish_shadow(PGconn *conn, const struct live *l, const struct index_args *ia,
			 long long rows, int dim)
{
	const char *opclass = index_opclass(l->distance);
	int lists = ia->lists > 0 ? ia->lists : index_default_lists(rows);
	char hnsw[512], ivf[512], mem[128];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(mem, sizeof(mem), "SET maintenance_work_mem = '%lldkB'; "
		 "SET max_parallel_maintenance_workers = %ld",
		 index_hnsw_memory_kb(rows, dim, ia->m), ncpu > 1 ? ncpu : 1);
	snprintf(hnsw, sizeof(hnsw), "CREATE INDEX " INDEX_HNSW_NAME " ON ragload_shadow.embeddings "
		 "USING hnsw (embedding_vector %s) WITH (m = %d, ef_construction = %d)", opclass,
		 ia->m, ia->ef_construction);
	snprintf(ivf, sizeof(ivf), "CREATE INDEX " INDEX_IVFFLAT_NAME " ON ragload_shadow.embeddings "
		 "USING ivfflat (embedding_vector %s) WITH (lists = %d)", opclass, lists);
	char *cfgname = PQescapeLiteral(conn, ia->fts_config, strlen(ia->fts_config));
	char fts[384];
	snprintf(fts, sizeof(fts), "CREATE INDEX " INDEX_FTS_NAME " ON ragload_shadow.chunks USING "
		 "gin (to_tsvector(%s::regconfig, chunk_text))", cfgname ? cfgname : "'english'");
	PQfreemem(cfgname);
	return db_exec(conn, "ALTER TABLE ragload_shadow.chunks ADD PRIMARY KEY (chunk_id), "
			     "ADD FOREIGN KEY (doc_id) REFERENCES public.documents (doc_id) "
			     "ON DELETE CASCADE") ||
	       db_exec(conn, "CREATE INDEX chunks_doc_id_idx ON ragload_shadow.chunks (doc_id)") ||
	       db_exec(conn, "CREATE INDEX chunks_chunk_metadata_gin ON ragload_shadow.chunks "
			     "USING gin (chunk_metadata)") ||
	       db_exec(conn, "ALTER TABLE ragload_shadow.embeddings ADD PRIMARY KEY (embedding_id), "
			     "ADD UNIQUE (chunk_id), ADD FOREIGN KEY (chunk_id) REFERENCES "
			     "ragload_shadow.chunks (chunk_id) ON DELETE CASCADE") ||
	       db_exec(conn, mem) || db_exec(conn, hnsw) || db_exec(conn, ivf) ||
	       db_exec(conn, fts) ||
	       db_exec(conn, "ANALYZE ragload_shadow.chunks, ragload_shadow.embeddings");
}

/* Counts, and a recall spot check: a stored vector must find its own chunk first. */
static int verify_shadow(PGconn *conn, const struct live *l)
{
	PGresult *r = db_query(conn,
		"SELECT (SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM "
		"ragload_shadow.chunks c WHERE c.doc_id = d.doc_id) AND length(d.original_content) > 0), "
		"(SELECT count(*) FROM ragload_shadow.chunks c WHERE NOT EXISTS (SELECT 1 FROM "
		"ragload_shadow.embeddings e WHERE e.chunk_id = c.chunk_id))", 0, NULL);
	if (!r)
		return -1;
	long long no_chunks = atoll(PQgetvalue(r, 0, 0)), no_emb = atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	if (no_chunks || no_emb) {
		log_error("the new generation is incomplete (%lld documents without chunks, %lld "
			  "chunks without embeddings): not swapped in", no_chunks, no_emb);
		return -1;
	}
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FILTER (WHERE hit), count(*) FROM (SELECT s.chunk_id = (SELECT "
		 "e.chunk_id FROM ragload_shadow.embeddings e ORDER BY e.embedding_vector %s "
		 "s.embedding_vector LIMIT 1) AS hit FROM (SELECT chunk_id, embedding_vector FROM "
		 "ragload_shadow.embeddings ORDER BY chunk_id LIMIT 20) s) x",
		 index_operator(l->distance));
	if (db_exec(conn, "BEGIN; SET LOCAL hnsw.ef_search = 100"))
		return -1;
	r = db_query(conn, sql, 0, NULL);
	db_exec_quiet(conn, "COMMIT", NULL, 0);
	if (!r)
		return -1;
	int hits = atoi(PQgetvalue(r, 0, 0)), n = atoi(PQgetvalue(r, 0, 1));
	PQclear(r);
	/* Duplicate texts can legitimately find a twin first; most must find themselves. */
	if (n && hits * 10 < n * 8) {
		log_error("recall spot check failed on the new generation (%d of %d chunks found "
			  "themselves): not swapped in", hits, n);
		return -1;
	}
	log_info("verified the new generation: counts complete, self-recall %d/%d", hits, n);
	return 0;
}

/* Moves schema from's chunks/embeddings to schema to, keeping the id sequences in public. */
static int move_generation(PGconn *conn, const char *from, const char *to)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "ALTER TABLE %s.embeddings SET SCHEMA %s; ALTER TABLE %s.chunks SET SCHEMA %s",
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
	    db_exec(conn, "LOCK TABLE public.chunks, public.embeddings IN ACCESS EXCLUSIVE MODE") ||
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
	const char *keys[5] = {"model", "chunking", "generation", "prev_model", "prev_chunking"};
	char prev_gen[16];
	snprintf(prev_gen, sizeof(prev_gen), "%d", l->generation);
	const char *vals[5] = {new_model, new_chunking, gen, l->model, l->chunking};
	for (int i = 0; i < 5; i++) {
		const char *p[2] = {keys[i], vals[i]};
		PGresult *r = db_query(conn, "INSERT INTO ragload_corpus (key, value) VALUES ($1, $2) "
				       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
				       "updated_at = now() RETURNING 1", 2, p);
		if (!r)
			goto fail;
		PQclear(r);
	}
	{
		const char *p[2] = {"prev_generation", prev_gen};
		PGresult *r = db_query(conn, "INSERT INTO ragload_corpus (key, value) VALUES ($1, $2) "
				       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
				       "updated_at = now() RETURNING 1", 2, p);
		if (!r)
			goto fail;
		PQclear(r);
	}
	/* Least privilege survives the swap: grants live on the tables that just moved in. */
	int ok;
	if (db_scalar_int(conn, "SELECT count(*) FROM pg_roles WHERE rolname = '" ROLE_READER "'",
			  0, &ok) > 0 && db_create_roles(conn))
		goto fail;
	if (!ok || db_exec(conn, "COMMIT"))
		goto fail;
	return 0;
fail:
	db_exec_quiet(conn, "ROLLBACK", NULL, 0);
	return -1;
}

static int rollback(PGconn *conn, const struct live *l)
{
	int ok;
	if (db_scalar_int(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'ragload_prev' "
				"AND tablename IN ('chunks', 'embeddings')", 0, &ok) != 2 || !ok) {
		log_error("there is no previous generation to roll back to");
		return -1;
	}
	char prev_gen[16];
	corpus_value(conn, "prev_generation", prev_gen, sizeof(prev_gen), "1");
	/* The generation rolled back from becomes the previous one: a second rollback redoes. */
	if (swap(conn, "ragload_prev", l, l->prev_model, l->prev_chunking, atoi(prev_gen)))
		return -1;
	log_info("rolled back to generation %s (model %s, chunking %s)", prev_gen, l->prev_model,
		 l->prev_chunking);
	return 0;
}

static int choose_model(const struct rl_config *cfg, const struct reindex_args *a,
			const struct chunk_opts *co, PGconn *conn, struct model **out)
{
	if (a->model_file)
		return model_read_file(a->model_file, out);
	if (a->refit) {
		struct model_fit *fit;
		uint64_t n;
		if (model_fit_begin(&cfg->model, &fit))
			return -1;
		if (scan_documents(cfg, co, fit, NULL, NULL, &n)) {
			model_fit_free(fit);
			return -1;
		}
		log_info("fitting a new model on %llu stored documents", (unsigned long long)n);
		return model_fit_end(fit, out);
	}
	return corpus_current_model(conn, out) == 0 ? 0 : -1;
}

int reindex_run(const struct rl_config *cfg, const struct reindex_args *a)
{
	int status = EXIT_FATAL;
	struct model *m = NULL;
	PGconn *conn = db_connect(cfg->conninfo);
	struct live l;
	if (!conn)
		goto out;
	if (db_schema_version(conn) <= 0) {
		log_error("the database has no ragload schema: run `ragload init` first");
		goto out;
	}
	if ((status = db_take_lock(conn, 0, cfg->load.lock_wait_s)) != EXIT_DONE)
		goto out;
	status = EXIT_FATAL;
	if (live_settings(conn, &l))
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
	if (!precomputed && choose_model(cfg, a, &co, conn, &m))
		goto out;
	const char *new_model = precomputed ? l.model : model_name(m);
	if (!strcmp(new_model, l.model) && !strcmp(chunking, l.chunking)) {
		/* Only the index settings change: rebuild them in place (each swapped in by
		 * rename); nothing is re-embedded. */
		PQfinish(conn);  /* index_run takes the lock itself */
		conn = NULL;
		log_info("model and chunking unchanged: rebuilding the indexes only");
		status = index_run(cfg, &a->index);
		goto out;
	}
	embed_set_blas_threads(cfg->model.blas_threads > 0 ? cfg->model.blas_threads : 2);
	double t0 = now_seconds();
	uint64_t n_docs;
	log_info("building generation %d (model %s, chunking %s) beside generation %d",
		 l.generation + 1, new_model, chunking, l.generation);
	if (corpus_store_model(conn, m) || create_shadow(conn, model_dim(m)) ||
	    scan_documents(cfg, &co, NULL, m, conn, &n_docs))
		goto failed;
	int ok;
	long long rows = db_scalar_int(conn, "SELECT count(*) FROM ragload_shadow.embeddings", 0, &ok);
	if (!ok || finish_shadow(conn, &l, &a->index, rows, model_dim(m)) || verify_shadow(conn, &l))
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
