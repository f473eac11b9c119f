/*
 * corpus.c — the corpus's own records (lib/corpus.h): ragload_corpus facts, ragload_models
 * rows as bytes, and the embedding column typed vector(dim) while the table is empty. The
 * model itself lives with the corpus through models/store.c, which serialises it.
 */
#include "corpus.h"
#include "db.h"

#include <stdlib.h>
#include <string.h>

void corpus_get(PGconn *conn, const char *key, char *out, size_t len, const char *def)
{
	const char *p[1] = {key};
	PGresult *r = db_query(conn, "SELECT value FROM ragload_corpus WHERE key = $1", 1, p);
	snprintf(out, len, "%s", r && PQntuples(r) ? PQgetvalue(r, 0, 0) : def);
	PQclear(r);
}

int corpus_model_name(PGconn *conn, char *out, size_t len)
{
	PGresult *r = db_query(conn, CORPUS_MODEL_NAME_SQL, 0, NULL);
	if (!r)
		return RL_ERR;
	int rc = PQgetisnull(r, 0, 0) ? 1 : 0;
	if (!rc)
		snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

int corpus_store_model_bytes(PGconn *conn, const char *name, int dim, const char *settings_json,
			     const void *data, size_t len)
{
	char d[16];
	snprintf(d, sizeof(d), "%d", dim);
	const char *params[4] = {name, d, settings_json, data};
	int lengths[4] = {0, 0, 0, (int)len};
	int formats[4] = {0, 0, 0, 1};
	/* The name ends in a checksum of the bytes, so a row of that name holds these bytes; one
	 * that does not was damaged or edited in place: it is replaced, and the repair said. */
	PGresult *r = PQexecParams(conn,
		"INSERT INTO ragload_models (model_name, format_version, dim, settings, data) "
		"VALUES ($1, 1, $2, $3::jsonb, $4) ON CONFLICT (model_name) DO UPDATE SET "
		"dim = EXCLUDED.dim, settings = EXCLUDED.settings, data = EXCLUDED.data "
		"WHERE ragload_models.data IS DISTINCT FROM EXCLUDED.data RETURNING (xmax <> 0)",
		4, NULL, params, lengths, formats, 0);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("storing model %s: %s", name, PQresultErrorMessage(r));
		rc = RL_ERR;
	} else if (PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t")) {
		log_warn("stored model %s did not hold the bytes its name is the checksum of: "
			 "replaced with the model just made", name);
	}
	PQclear(r);
	return rc;
}

int corpus_fetch_model_bytes(PGconn *conn, const char *name, PGresult **res)
{
	const char *params[1] = {name};
	PGresult *r = PQexecParams(conn, "SELECT data FROM ragload_models WHERE model_name = $1",
				   1, NULL, params, NULL, NULL, 1);
	*res = NULL;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("reading model %s: %s", name, PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 1;
	}
	*res = r;
	return 0;
}

int corpus_has_model(PGconn *conn, const char *name)
{
	const char *params[1] = {name};
	PGresult *r = db_query(conn, "SELECT 1 FROM ragload_models WHERE model_name = $1", 1,
			       params);
	if (!r)
		return RL_ERR;
	int rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

/* Writes nothing when the key already holds that value. */
int corpus_set(PGconn *conn, const char *key, const char *value, int overwrite)
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

int corpus_store_search(PGconn *conn, const struct search_opts *s)
{
	char v[6][32];
	snprintf(v[0], sizeof(v[0]), "%.15g", s->bm25_k1);
	snprintf(v[1], sizeof(v[1]), "%.15g", s->bm25_b);
	snprintf(v[2], sizeof(v[2]), "%s", s->hybrid_fusion ? "convex" : "rrf");
	snprintf(v[3], sizeof(v[3]), "%.15g", s->hybrid_weight);
	snprintf(v[4], sizeof(v[4]), "%d", s->hybrid_depth);
	snprintf(v[5], sizeof(v[5]), "%.15g", s->hybrid_rrf_k);
	static const char *const keys[6] = {"bm25_k1", "bm25_b", "hybrid_fusion", "hybrid_weight",
					    "hybrid_depth", "hybrid_rrf_k"};
	for (int i = 0; i < 6; i++)
		if (corpus_set(conn, keys[i], v[i], 1))
			return RL_ERR;
	return 0;
}
