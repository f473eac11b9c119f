/*
 * store.c — models kept with their corpus (models/store.h): model_save's bytes into
 * ragload_models through lib/corpus.c, model_load's model back out of it.
 */
#include "store.h"
#include "../lib/corpus.h"

#include <stdlib.h>
#include <string.h>

int corpus_store_model(PGconn *conn, const struct model *m)
{
	struct buf data;
	buf_init(&data, 0);
	int rc = model_save(m, &data);
	if (rc)
		log_error("cannot serialise model %s", model_name(m));
	else
		rc = corpus_store_model_bytes(conn, model_name(m), model_dim(m),
					      model_settings_json(m), data.data, data.len);
	buf_release(&data);
	return rc;
}

int corpus_load_model(PGconn *conn, const char *name, struct model **out)
{
	PGresult *r;
	int rc = corpus_fetch_model_bytes(conn, name, &r);
	if (rc)
		return rc;
	char err[256];
	if (model_load(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), out, err, sizeof(err))) {
		log_error("stored model %s: %s", name, err);
		rc = RL_ERR;
	}
	PQclear(r);
	return rc;
}

int corpus_current_model(PGconn *conn, struct model **out)
{
	char name[256];
	int rc = corpus_model_name(conn, name, sizeof(name));
	if (rc)
		return rc;
	rc = corpus_load_model(conn, name, out);
	if (rc == 1) {
		log_error("the corpus is embedded with model %s, which is not in ragload_models",
			  name);
		rc = RL_ERR;
	}
	return rc;
}

int corpus_use_model(PGconn *conn, const struct model *m, const char *chunking)
{
	if (corpus_store_model(conn, m))
		return RL_ERR;
	return corpus_claim(conn, model_name(m), model_dim(m), "cosine", chunking);
}

int model_read_file(const char *path, struct model **out)
{
	/* a model file, or a spec such as glove:FILE (model_open names the file in err) */
	char err[512];
	if (model_open(path, out, err, sizeof(err))) {
		log_error("%s", err);
		return RL_ERR;
	}
	return 0;
}
