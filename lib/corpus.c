/*
 * corpus.c — the model lives with the corpus: stored in ragload_models under the exact id
 * that embeddings.model_name holds, recorded as the corpus model in ragload_corpus, and the
 * embedding column typed vector(dim) for it while the table is empty.
 */
#include "../pipeline/ingest.h"
#include "db.h"
#include "../models/model.h"

#include <stdlib.h>
#include <string.h>

int corpus_store_model(PGconn *conn, const struct model *m)
{
	struct buf data;
	buf_init(&data, 0);
	int rc = model_save(m, &data);
	if (rc) {
		log_error("cannot serialise model %s", model_name(m));
		goto out;
	}
	char dim[16];
	snprintf(dim, sizeof(dim), "%d", model_dim(m));
	const char *params[4] = {model_name(m), dim, model_settings_json(m), data.data};
	int lengths[4] = {0, 0, 0, (int)data.len};
	int formats[4] = {0, 0, 0, 1};
	PGresult *r = PQexecParams(conn,
		"INSERT INTO ragload_models (model_name, format_version, dim, settings, data) "
		"VALUES ($1, 1, $2, $3::jsonb, $4) ON CONFLICT (model_name) DO NOTHING",
		4, NULL, params, lengths, formats, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("storing model %s: %s", model_name(m), PQresultErrorMessage(r));
		rc = -1;
	}
	PQclear(r);
out:
	buf_release(&data);
	return rc;
}

int corpus_load_model(PGconn *conn, const char *name, struct model **out)
{
	const char *params[1] = {name};
	PGresult *r = PQexecParams(conn, "SELECT data FROM ragload_models WHERE model_name = $1",
				   1, NULL, params, NULL, NULL, 1);
	int rc = -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("reading model %s: %s", name, PQresultErrorMessage(r));
		goto out;
	}
	if (PQntuples(r) == 0) {
		rc = 1;
		goto out;
	}
	char err[256];
	if (model_load(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), out, err, sizeof(err))) {
		log_error("stored model %s: %s", name, err);
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

int corpus_current_model(PGconn *conn, struct model **out)
{
	PGresult *r = db_query(conn,
		"SELECT coalesce((SELECT model_name FROM embeddings LIMIT 1), "
		"(SELECT value FROM ragload_corpus WHERE key = 'model'))", 0, NULL);
	if (!r)
		return -1;
	int rc = 1;
	if (!PQgetisnull(r, 0, 0)) {
		char *name = xstrdup(PQgetvalue(r, 0, 0));
		rc = corpus_load_model(conn, name, out);
		if (rc == 1)
			log_error("the corpus is embedded with model %s, which is not in ragload_models",
				  name);
		if (rc == 1)
			rc = -1;
		free(name);
	}
	PQclear(r);
	return rc;
}

/* Records key = value in ragload_corpus; writes nothing when it already holds that value. */
static int corpus_set(PGconn *conn, const char *key, const char *value, int overwrite)
{
	const char *params[2] = {key, value};
	PGresult *u = PQexecParams(conn, overwrite ?
		"INSERT INTO ragload_corpus (key, value) VALUES ($1, $2) "
		"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now() "
		"WHERE ragload_corpus.value IS DISTINCT FROM EXCLUDED.value" :
		"INSERT INTO ragload_corpus (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
		2, NULL, params, NULL, NULL, 0);
	int rc = PQresultStatus(u) == PGRES_COMMAND_OK ? 0 : -1;
	if (rc)
		log_error("recording the corpus %s: %s", key, PQresultErrorMessage(u));
	PQclear(u);
	return rc;
}

int corpus_claim(PGconn *conn, const char *name, int dim, const char *distance,
		 const char *chunking)
{
	int rc = -1;
	PGresult *r = db_query(conn,
		"SELECT (SELECT model_name FROM embeddings LIMIT 1), "
		"(SELECT atttypmod FROM pg_attribute WHERE attrelid = 'embeddings'::regclass "
		"AND attname = 'embedding_vector'), "
		"(SELECT value FROM ragload_corpus WHERE key = 'chunking')", 0, NULL);
	if (!r)
		return -1;
	int empty = PQgetisnull(r, 0, 0);
	int typmod = atoi(PQgetvalue(r, 0, 1));
	/* The settings that shape a document's rows belong to the live generation: a run with
	 * other chunk settings would mix two chunkings in one corpus. */
	if (!empty && chunking && !PQgetisnull(r, 0, 2) && strcmp(PQgetvalue(r, 0, 2), chunking)) {
		log_error("the corpus is chunked with tokens/overlap %s, this run with %s: use the "
			  "same settings, or `ragload reindex` to change them", PQgetvalue(r, 0, 2),
			  chunking);
		goto out;
	}
	if (!empty && strcmp(PQgetvalue(r, 0, 0), name) != 0) {
		log_error("the corpus is embedded with model %s, not %s: a different model needs a "
			  "reindex (or a fresh database)", PQgetvalue(r, 0, 0), name);
		goto out;
	}
	if (typmod != dim) {
		if (!empty) {
			log_error("embeddings.embedding_vector is vector(%d) but model %s has %d "
				  "dimensions", typmod, name, dim);
			goto out;
		}
		if (corpus_type_vectors(conn, "embeddings", dim))
			goto out;
	}
	/* The distance follows the first model of an empty corpus; later runs keep it. */
	if (corpus_set(conn, "model", name, 1) || corpus_set(conn, "distance", distance, empty) ||
	    (chunking && corpus_set(conn, "chunking", chunking, 1)))
		goto out;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/*
 * pgvector's type is stored EXTERNAL: a 768-d vector (3 KB) is over the 2 KB TOAST threshold,
 * so every row went to the TOAST table (a second heap insert and index entry), and every HNSW
 * build, exact scan and search fetched it back from there. PLAIN keeps it in the row: measured
 * on 47,295 x 768, binary COPY in 10% faster and the HNSW build 20% faster (38.7/53.6 s ->
 * 30.4/32.4 s). Up to 1,536 dimensions (6 KB) the row still fits a page with room to spare;
 * wider vectors keep pgvector's default.
 */
#define VECTOR_INLINE_MAX_DIM 1536

int corpus_type_vectors(PGconn *conn, const char *table, int dim)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ALTER COLUMN embedding_vector TYPE vector(%d)%s",
		 table, dim, dim <= VECTOR_INLINE_MAX_DIM ? ", ALTER COLUMN embedding_vector SET "
		 "STORAGE PLAIN" : "");
	return db_exec(conn, sql) ? -1 : 0;
}

int corpus_use_model(PGconn *conn, const struct model *m, const char *chunking)
{
	if (corpus_store_model(conn, m))
		return -1;
	return corpus_claim(conn, model_name(m), model_dim(m), "cosine", chunking);
}

int model_read_file(const char *path, struct model **out)
{
	/* a model file, or a spec such as glove:FILE (model_open names the file in err) */
	char err[512];
	if (model_open(path, out, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}
