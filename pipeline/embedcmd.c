/*
 * embedcmd.c — the embedding library's public API (include/ragload.h, build/libragload.so) and
 * `ragload embed`, the command built on it.
 *
 * What: ragload_embed() sends each text down the query path (stages/query.h): normalised as
 * ingest normalises a document (invalid UTF-8 repaired, controls dropped, NFC) and embedded
 * alone with the model, as search and eval embed a query. `ragload embed` reads stdin (a text a line, or JSON
 * lines with --jsonl), embeds each with the corpus's model (or --model SPEC) and writes one
 * pgvector literal a line, or JSON lines with --json.
 *
 * Why one text per call: BLAS picks kernels by matrix shape, so a text embedded inside a
 * batch can differ from the same text embedded alone in the last bits. Every text alone makes
 * `ragload embed` print exactly the vector search and eval use, whatever else is on stdin, at
 * a cost that does not matter for queries (a single-row projection is memory-bound, well
 * under a millisecond).
 *
 * --terms prints each text's BM25 terms instead (query_terms: the stem hashes, as the bigint[]
 * that ragload_bm25() and ragload_hybrid() take), so a client without the extension can call
 * those SQL functions; no model is read.
 *
 * Floats are printed with %.9g: nine significant digits read back to the same float32, so a
 * literal fed to PostgreSQL gives bit-for-bit the vector computed here.
 */
#include "embedcmd.h"
#include "../lib/common.h"
#include "../lib/db.h"
#include "../models/store.h"
#include "../lib/corpus.h"
#include "../include/ragload.h"
#include "../models/model.h"
#include "../stages/query.h"
#include "../lib/blas.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_LINE_MAX (16u << 20)     /* one input line (a text or a JSON object) */
#define EMBED_TEXT_MAX (64u << 20)     /* one text after normalisation */

struct ragload_model {
	struct model *m;
};

/* ---- the library API ------------------------------------------------------------------- */

static int wrap(struct model *m, struct ragload_model **out, char *err, size_t errlen)
{
	*out = malloc(sizeof(**out));
	if (!*out) {
		model_free(m);
		return embed_fail(err, errlen, "out of memory");
	}
	(*out)->m = m;
	return 0;
}

int ragload_model_open(const char *spec, struct ragload_model **out, char *err, size_t errlen)
{
	struct model *m;
	*out = NULL;
	if (!spec)
		return embed_fail(err, errlen, "no model spec");
	if (model_open(spec, &m, err, errlen))
		return RL_ERR;
	return wrap(m, out, err, errlen);
}

int ragload_model_from_bytes(const void *data, size_t len, struct ragload_model **out,
			     char *err, size_t errlen)
{
	struct model *m;
	*out = NULL;
	if (!data || model_load(data, len, &m, err, errlen))
		return RL_ERR;
	return wrap(m, out, err, errlen);
}

int ragload_model_from_db(const char *conninfo, struct ragload_model **out, char *err,
			  size_t errlen)
{
	struct model *m = NULL;
	*out = NULL;
	/* db_open_corpus and corpus_current_model say what went wrong on stderr */
	PGconn *conn;
	if (db_open_corpus(conninfo ? conninfo : "", 0, 0, 0, &conn) != EXIT_DONE)
		return embed_fail(err, errlen, "cannot open the corpus");
	int rc = corpus_current_model(conn, &m);
	PQfinish(conn);
	if (rc == 1)
		return embed_fail(err, errlen, "the corpus has no model yet (run `ragload ingest`)");
	if (rc)
		return embed_fail(err, errlen, "cannot read the corpus's model");
	return wrap(m, out, err, errlen);
}

void ragload_model_free(struct ragload_model *m)
{
	if (!m)
		return;
	model_free(m->m);
	free(m);
}

int ragload_model_dim(const struct ragload_model *m)
{
	return model_dim(m->m);
}

const char *ragload_model_name(const struct ragload_model *m)
{
	return model_name(m->m);
}

const char *ragload_model_settings(const struct ragload_model *m)
{
	return model_settings_json(m->m);
}

int ragload_embed(const struct ragload_model *m, const char *const *texts, const size_t *lens,
		  size_t n, float *out)
{
	const int dim = model_dim(m->m);
	struct buf nb;
	int rc = 0;

	buf_init(&nb, EMBED_TEXT_MAX);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t bad;
		rc = query_embed(m->m, texts[i], texts[i] ? lens[i] : 0, &nb, &bad,
				 out + i * (size_t)dim);
	}
	buf_release(&nb);
	return rc;
}

int ragload_vector_literal(const float *v, int dim, char *buf, size_t buflen)
{
	return query_literal(v, dim, buf, buflen);
}

/* ---- the command ------------------------------------------------------------------------ */

/* One input line -> the text to embed (and an id to echo, for --jsonl). Returns 0, or
 * RL_SKIP with the reason logged. */
static int parse_jsonl(const char *line, size_t len, uint64_t lineno, json_t **keep,
		       const char **text, size_t *tlen, json_t **id)
{
	json_error_t je;
	json_t *j = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	*keep = j;
	*id = NULL;
	if (json_is_string(j)) {
		*text = json_string_value(j);
		*tlen = json_string_length(j);
		return 0;
	}
	json_t *t = json_object_get(j, "text");
	if (!json_is_string(t)) {
		log_warn("stdin:%llu: expected a JSON string or an object with a \"text\" string%s%s",
			 (unsigned long long)lineno, j ? "" : ": ", j ? "" : je.text);
		return RL_SKIP;
	}
	*text = json_string_value(t);
	*tlen = json_string_length(t);
	*id = json_object_get(j, "_id");
	if (!*id)
		*id = json_object_get(j, "id");
	return 0;
}

/* "{" and, when the input line had one, its "id": the start of a --json output line. */
static int open_json_line(struct buf *out, json_t *id)
{
	int rc = buf_putc(out, '{');
	if (!rc && id) {
		char *s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
		rc = s ? buf_printf(out, "\"id\":%s,", s) : RL_ENOMEM;
		free(s);
	}
	return rc;
}

static int write_vector(const struct ragload_model *m, const float *v, json_t *id, int json,
			struct buf *out)
{
	int dim = ragload_model_dim(m);
	int rc = buf_reserve(out, 16 * (size_t)dim + 256);
	if (rc)
		return rc;
	buf_reset(out);
	if (json) {
		rc = open_json_line(out, id);
		if (!rc)
			rc = buf_printf(out, "\"model\":");
		if (!rc)
			rc = buf_json_str(out, ragload_model_name(m), strlen(ragload_model_name(m)));
		if (!rc)
			rc = buf_printf(out, ",\"dim\":%d,\"embedding\":", dim);
	}
	if (!rc)
		rc = query_literal_buf(v, dim, out);
	if (rc)
		return rc;
	rc = json ? buf_printf(out, "}\n") : buf_putc(out, '\n');
	if (rc)
		return rc;
	return fwrite(out->data, 1, out->len, stdout) == out->len ? 0 : RL_ERR;
}

/* A text's BM25 terms: a bigint[] literal, or {"id":..,"terms":[..]} with --json. */
static int write_terms(const char *text, size_t len, json_t *id, int json, struct buf *norm,
		       struct buf *out)
{
	size_t bad, n = 0;
	int64_t *t = NULL;
	int rc = query_normalise(text, len, norm, &bad);
	if (!rc)
		rc = query_terms(norm->data, norm->len, &t, &n);
	buf_reset(out);
	if (!rc && json) {
		rc = open_json_line(out, id);
		if (!rc)
			rc = buf_printf(out, "\"terms\":[");
		for (size_t i = 0; i < n && !rc; i++)
			rc = buf_printf(out, "%s%lld", i ? "," : "", (long long)t[i]);
		if (!rc)
			rc = buf_printf(out, "]}\n");
	} else if (!rc) {
		rc = query_terms_literal(t, n, out);
		if (!rc)
			rc = buf_putc(out, '\n');
	}
	free(t);
	if (rc)
		return rc;
	return fwrite(out->data, 1, out->len, stdout) == out->len ? 0 : RL_ERR;
}

int embedcmd_run(const struct rl_config *cfg, const struct embedcmd_args *a)
{
	struct ragload_model *m = NULL;
	struct buf line, out, norm;
	float *v = NULL;
	char err[512];
	int status = EXIT_FATAL, skipped = 0;
	uint64_t lineno = 0;

	buf_init(&line, EMBED_LINE_MAX);
	buf_init(&out, 0);
	buf_init(&norm, EMBED_TEXT_MAX);
	/* texts are embedded one at a time: BLAS worker threads would only compete for cores */
	blas_set_threads(1);
	if (!a->terms && (a->model_spec ? ragload_model_open(a->model_spec, &m, err, sizeof(err))
			  : ragload_model_from_db(cfg->conninfo, &m, err, sizeof(err)))) {
		log_error("embed: %s", err);
		goto out;
	}
	v = malloc(m ? (size_t)ragload_model_dim(m) * sizeof(float) : 1);
	if (!v)
		goto out;
	for (;;) {
		/* one line, bounded: a longer one is skipped whole */
		int c, too_long = 0;
		buf_reset(&line);
		while ((c = getc_unlocked(stdin)) != EOF && c != '\n')
			if (!too_long && buf_putc(&line, (char)c))
				too_long = 1;
		if (c == EOF && line.len == 0 && !too_long)
			break;
		lineno++;
		if (too_long) {
			log_warn("stdin:%llu: line longer than %u bytes skipped",
				 (unsigned long long)lineno, EMBED_LINE_MAX);
			skipped++;
			continue;
		}
		if (line.len && line.data[line.len - 1] == '\r')
			line.data[--line.len] = '\0';
		const char *text = line.len ? line.data : "";
		size_t tlen = line.len;
		json_t *keep = NULL, *id = NULL;
		if (a->jsonl && parse_jsonl(text, tlen, lineno, &keep, &text, &tlen, &id)) {
			json_decref(keep);
			skipped++;
			continue;
		}
		int rc = a->terms ? write_terms(text, tlen, id, a->json, &norm, &out)
				  : ragload_embed(m, &text, &tlen, 1, v);
		if (!rc && !a->terms)
			rc = write_vector(m, v, id, a->json, &out);
		json_decref(keep);
		if (rc) {
			log_error("embed: stdin:%llu: %s", (unsigned long long)lineno,
				  rc == RL_ENOMEM ? "out of memory" : "cannot embed or write");
			goto out;
		}
		if (c == EOF)
			break;
	}
	if (ferror(stdin)) {
		log_error("embed: error reading stdin");
		goto out;
	}
	if (fflush(stdout)) {
		log_error("embed: error writing stdout");
		goto out;
	}
	status = skipped ? EXIT_SKIPPED : EXIT_DONE;
out:
	free(v);
	buf_release(&line);
	buf_release(&out);
	buf_release(&norm);
	ragload_model_free(m);
	return status;
}
