/*
 * ragload.c — the ragload PostgreSQL extension: retrieval with one SQL call, no model in the
 * client.
 *
 * What: ragload_embed(text) -> vector, ragload_terms(text) -> bigint[] and
 * ragload_search(query, k, method) -> TABLE(chunk_id, doc_id, score, source_name, chunk_text).
 * How: glue only (fmgr, SPI, the model cache, errors). A query goes down the CLI's own query
 * path through core.c (stages/query.h: normalise, embed alone, %.9g literal; the stems of
 * models/stems.h for its terms), linked from the same object files as `ragload`
 * (build/libragload.a), so ragload_embed gives the bits `ragload embed` prints. Ranking is
 * the SQL of the BM25 migration (ragload_dense, ragload_bm25, ragload_hybrid), called through
 * SPI with plans kept per backend (kept_plan): one definition of BM25 and of the fusion, which clients without the extension call
 * themselves (ragload_bm25 itself scores through bm25.c's ragload_bm25_scan where the extension
 * is installed: the same bits as its SQL). A call first takes the corpus tables' share locks in the order reindex's swap
 * takes its exclusive ones (lock_corpus), so that it waits for a swap instead of deadlocking.
 * The model: read from ragload_models once per backend and kept (malloc'd by the model code);
 * each call asks for the live model's name (CORPUS_MODEL_NAME_SQL, the CLI's own query), which
 * ends in the checksum of its bytes, and loads it again when it changed (a reindex swap). A
 * model replaces the cached one only once it loaded whole, so an error never leaves half a
 * model behind; everything malloc'd for one call is freed before any ereport.
 * Runs as the caller (SECURITY INVOKER): ragload_reader's SELECT grants are all it needs.
 * OpenBLAS is held at one thread in the backend (_PG_init).
 */
/* the server's headers (pg_config --includedir-server) in <>; ragload's own point down */
#include <postgres.h>

#include <catalog/pg_type.h>
#include <executor/spi.h>
#include <fmgr.h>
#include <funcapi.h>
#include <mb/pg_wchar.h>
#include <miscadmin.h>
#include <utils/array.h>
#include <utils/builtins.h>
#include <utils/lsyscache.h>
#include <utils/tuplestore.h>

#include "../lib/blas.h"
#include "../lib/corpus.h"
#include "../models/model.h"
#include "core.h"
#include "planner.h"

PG_MODULE_MAGIC;

#define SEARCH_K_MAX 10000

void _PG_init(void);
PGDLLEXPORT Datum pg_ragload_embed(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pg_ragload_terms(PG_FUNCTION_ARGS);
PGDLLEXPORT Datum pg_ragload_search(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pg_ragload_embed);
PG_FUNCTION_INFO_V1(pg_ragload_terms);
PG_FUNCTION_INFO_V1(pg_ragload_search);

static struct model *live;            /* the cached live model, or NULL */
static char live_name[256];

/*
 * The statements every call runs, parsed and planned once per backend and kept: planning the
 * search's statement (the hybrid's SQL inlined) was a tenth of a hybrid call. PostgreSQL's plan
 * cache plans them again when what they use changes (a reindex's swap renames the tables,
 * `ragload index` rewrites ragload_dense(), search_path changes); a failed call keeps them.
 */
static SPIPlanPtr lock_plan, name_plan;

static SPIPlanPtr kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (!*slot) {
		SPIPlanPtr p = SPI_prepare(sql, nargs, types);
		if (!p)
			ereport(ERROR, (errmsg("ragload: cannot prepare a statement: %s",
					       SPI_result_code_string(SPI_result))));
		if (SPI_keepplan(p))
			ereport(ERROR, (errmsg("ragload: cannot keep a statement's plan")));
		*slot = p;
	}
	return *slot;
}

void _PG_init(void)
{
	/* a backend is one thread: OpenBLAS's pool would only compete with other backends */
	blas_set_threads(1);
	planner_init();
}

/*
 * Takes the corpus tables' share locks in the order reindex's swap takes its exclusive ones
 * (pipeline/reindex.c: chunks, embeddings, BM25 postings, statistics), before anything else
 * reads them, so that a call waits for a swap instead of deadlocking with it (holding
 * embeddings from the model's name while the swap holds chunks and wants embeddings). The
 * statements after it then run on fresh snapshots (read_only false): the model's name and
 * the rows it ranks come from the same generation. Inside SPI_connect.
 */
static void lock_corpus(void)
{
	SPIPlanPtr p = kept_plan(&lock_plan, "SELECT FROM chunks, embeddings, "
				 "ragload_bm25_postings, ragload_bm25_stats LIMIT 0", 0, NULL);
	if (SPI_execute_plan(p, NULL, NULL, false, 0) != SPI_OK_SELECT)
		ereport(ERROR, (errmsg("ragload: cannot read the corpus tables")));
}

/* The corpus's live model, loaded when its name changed. Inside SPI_connect. */
static const struct model *live_model(void)
{
	char *name;
	bytea *data;
	struct model *m;
	char err[256];
	Datum arg;
	Oid argtype = TEXTOID;
	bool isnull;

	if (SPI_execute_plan(kept_plan(&name_plan, CORPUS_MODEL_NAME_SQL, 0, NULL), NULL, NULL,
			     false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errmsg("ragload: cannot read the corpus's model name")));
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (!name)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("ragload: the corpus has no model yet"),
				errhint("Load documents with `ragload ingest` first.")));
	if (live && strcmp(name, live_name) == 0)
		return live;
	if (strlen(name) >= sizeof(live_name))
		ereport(ERROR, (errmsg("ragload: model name \"%s\" is too long", name)));
	arg = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT data FROM ragload_models WHERE model_name = $1", 1,
				  &argtype, &arg, NULL, false, 1) != SPI_OK_SELECT)
		ereport(ERROR, (errmsg("ragload: cannot read model %s", name)));
	if (SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("ragload: the corpus is embedded with model %s, which is not in "
				       "ragload_models", name)));
	arg = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR, (errmsg("ragload: model %s has no bytes", name)));
	data = DatumGetByteaPP(arg);
	if (model_load(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &m, err, sizeof(err)))
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("ragload: stored model %s: %s", name, err)));
	/* no ereport from here on: the model is whole, it replaces the old one */
	model_free(live);
	live = m;
	strlcpy(live_name, name, sizeof(live_name));
	return live;
}

static void query_fail(int rc, const char *what)
{
	if (rc == RL_ELIMIT)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("ragload: query text over %u bytes once normalised",
				       EXT_QUERY_TEXT_MAX)));
	if (rc == RL_ENOMEM)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("ragload: out of memory %s", what)));
	ereport(ERROR, (errmsg("ragload: cannot %s", what)));
}

/* The query's vector as its pgvector literal (palloc'd), and/or its terms as bigint[]
 * (palloc'd), either pointer NULL when not wanted. m NULL when no vector is wanted. */
static void query_parts(const struct model *m, text *t, char **literal, ArrayType **terms)
{
	const char *s = VARDATA_ANY(t);
	size_t len = VARSIZE_ANY_EXHDR(t), nt = 0;
	float *v = NULL;
	int64_t *tv = NULL;
	char *u;
	int rc;

	if (len > EXT_QUERY_TEXT_MAX)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("ragload: query text of %zu bytes is over the limit of %u",
				       len, EXT_QUERY_TEXT_MAX)));
	/* the server's encoding to UTF-8 (the same text when the database is UTF-8) */
	u = pg_server_to_any(s, (int)len, PG_UTF8);
	if (u != s)
		len = strlen(u);
	/* palloc before the core mallocs, so that an ERROR here leaks nothing */
	if (literal) {
		v = palloc((size_t)model_dim(m) * sizeof(float));
		*literal = palloc(EXT_LITERAL_MAX(model_dim(m)));
	}
	rc = ext_query(m, u, len, v, literal ? *literal : NULL, terms ? &tv : NULL, &nt);
	if (rc)
		query_fail(rc, "read the query");
	if (terms) {
		/* palloc_extended: an ERROR here would leak tv */
		Datum *d = palloc_extended((nt ? nt : 1) * sizeof(Datum), MCXT_ALLOC_HUGE |
					   MCXT_ALLOC_NO_OOM);
		for (size_t i = 0; d && i < nt; i++)
			d[i] = Int64GetDatum(tv[i]);
		free(tv);
		if (!d)
			query_fail(RL_ENOMEM, "for the query's terms");
		*terms = construct_array(d, (int)nt, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	}
}

Datum pg_ragload_embed(PG_FUNCTION_ARGS)
{
	text *t = PG_GETARG_TEXT_PP(0);
	Oid vtype = get_func_rettype(fcinfo->flinfo->fn_oid), input, ioparam;
	const struct model *m;
	char *literal;

	CHECK_FOR_INTERRUPTS();
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errmsg("ragload: SPI_connect failed")));
	lock_corpus();
	m = live_model();
	SPI_finish();
	query_parts(m, t, &literal, NULL);
	/* through pgvector's own input: the %.9g literal reads back to the very floats */
	getTypeInputInfo(vtype, &input, &ioparam);
	PG_RETURN_DATUM(OidInputFunctionCall(input, literal, ioparam, -1));
}

Datum pg_ragload_terms(PG_FUNCTION_ARGS)
{
	ArrayType *terms;
	CHECK_FOR_INTERRUPTS();
	query_parts(NULL, PG_GETARG_TEXT_PP(0), NULL, &terms);
	PG_RETURN_ARRAYTYPE_P(terms);
}

/* Each method's SQL: $1 the query vector's literal, $2 its terms, $3 k. */
static const struct method {
	const char *name;
	int vector, terms;
	const char *from;
} methods[] = {
	{"dense", 1, 0, "ragload_dense($1::vector, $3)"},
	{"bm25", 0, 1, "ragload_bm25($2, $3)"},
	{"hybrid", 1, 1, "ragload_hybrid($1::vector, $2, $3)"},
};
static SPIPlanPtr method_plans[lengthof(methods)];

Datum pg_ragload_search(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *)fcinfo->resultinfo;
	text *query = PG_GETARG_TEXT_PP(0);
	int32 k = PG_GETARG_INT32(1);
	char *name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	const struct method *me = NULL;
	const struct model *m = NULL;
	char *literal = NULL, sql[512];
	ArrayType *terms = NULL;
	Oid types[3] = {TEXTOID, INT8ARRAYOID, INT4OID};
	Datum args[3];
	char nulls[3] = {' ', ' ', ' '};

	CHECK_FOR_INTERRUPTS();
	for (size_t i = 0; i < lengthof(methods); i++)
		if (pg_strcasecmp(name, methods[i].name) == 0)
			me = &methods[i];
	if (!me)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("ragload: unknown search method \"%s\"", name),
				errhint("Use dense, bm25 or hybrid.")));
	if (k < 1 || k > SEARCH_K_MAX)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("ragload: k must be between 1 and %d, not %d", SEARCH_K_MAX, k)));
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errmsg("ragload: SPI_connect failed")));
	lock_corpus();
	if (me->vector)
		m = live_model();
	query_parts(m, query, me->vector ? &literal : NULL, me->terms ? &terms : NULL);
	args[0] = literal ? CStringGetTextDatum(literal) : (Datum)0;
	nulls[0] = literal ? ' ' : 'n';
	args[1] = terms ? PointerGetDatum(terms) : (Datum)0;
	nulls[1] = terms ? ' ' : 'n';
	args[2] = Int32GetDatum(k);
	snprintf(sql, sizeof(sql),
		 "SELECT s.chunk_id::int4, c.doc_id::int4, s.score::float8, d.source_name::text, "
		 "c.chunk_text::text FROM %s s JOIN chunks c ON c.chunk_id = s.chunk_id "
		 "JOIN documents d ON d.doc_id = c.doc_id ORDER BY s.score DESC, s.chunk_id",
		 me->from);
	if (SPI_execute_plan(kept_plan(&method_plans[me - methods], sql, 3, types), args, nulls,
			     false, 0) != SPI_OK_SELECT)
		ereport(ERROR, (errmsg("ragload: the %s search failed", me->name)));
	for (uint64 i = 0; i < SPI_processed; i++) {
		Datum values[5];
		bool isnull[5];
		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, isnull);
		tuplestore_putvalues(rsi->setResult, rsi->setDesc, values, isnull);
	}
	SPI_finish();
	return (Datum)0;
}
