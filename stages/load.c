/*
 * load.c — documents, chunks and embeddings into PostgreSQL through binary COPY.
 *
 * A batch is one transaction holding whole documents, never part of one:
 *
 *   BEGIN; delete_replaced(); load_reserve_ids(); copy_documents(); load_copy_chunks();
 *   load_copy_embeddings(); load_copy_postings(); COMMIT;
 *
 * COPY has no RETURNING, so ids are reserved from the three sequences in one round trip and
 * written explicitly; foreign keys line up without reading anything back. When a batch fails
 * (a value the server rejects), it is rolled back and retried in halves, so only the offending
 * document is skipped and counted and nothing else is lost or duplicated.
 *
 * The id reservation and the chunk, embedding and BM25 postings writers (with chunk_metadata)
 * are public: reindex writes its shadow generation through them, so these rows have one
 * producer. The postings' collection statistics (N, total length) follow by themselves:
 * triggers of migration 0004 add their deltas in the same transaction.
 */
#include "load.h"
#include "../lib/pgcopy.h"
#include "../lib/db.h"
#include "../lib/fault.h"
#include "../models/stems.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

struct loader {
	PGconn *conn;
	struct load_opts opts;
	char *model_name;
	struct counts *counts;
	struct doc **batch;
	size_t n, cap;
	uint64_t batch_bytes;
	struct load_stats stats;
	int fatal;
	load_reconnect_fn reconnect;
	void *reconnect_ctx;
};

int load_init(struct loader **out, PGconn *conn, const struct load_opts *o, const char *model_name,
	      struct counts *c)
{
	struct loader *l = calloc(1, sizeof(*l));
	if (!l)
		return RL_ENOMEM;
	l->conn = conn;
	l->opts = *o;
	l->model_name = xstrdup(model_name);
	l->counts = c;
	if (!l->model_name) {
		free(l);
		return RL_ENOMEM;
	}
	*out = l;
	return 0;
}

/* Parses a PostgreSQL int8 array literal "{1,2,3}" into ids (exactly n expected). */
static int parse_ids(const char *s, int64_t *ids, size_t n)
{
	size_t i = 0;
	if (*s != '{')
		return -1;
	s++;
	while (*s && *s != '}' && i < n) {
		char *end;
		ids[i++] = strtoll(s, &end, 10);
		s = end;
		if (*s == ',')
			s++;
	}
	return i == n ? 0 : -1;
}

int load_reserve_ids(PGconn *conn, size_t n_docs, size_t n_chunks, int64_t *doc_ids,
		     int64_t *chunk_ids, int64_t *emb_ids, char *err, size_t errlen)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT (SELECT coalesce(array_agg(nextval('documents_doc_id_seq')), '{}') "
		 "FROM generate_series(1, %zu)), "
		 "(SELECT array_agg(nextval('chunks_chunk_id_seq')) FROM generate_series(1, %zu)), "
		 "(SELECT array_agg(nextval('embeddings_embedding_id_seq')) "
		 "FROM generate_series(1, %zu))", n_docs, n_chunks, n_chunks);
	PGresult *r = PQexec(conn, sql);
	int rc = -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		goto out;
	}
	if (parse_ids(PQgetvalue(r, 0, 0), doc_ids, n_docs) ||
	    parse_ids(PQgetvalue(r, 0, 1), chunk_ids, n_chunks) ||
	    parse_ids(PQgetvalue(r, 0, 2), emb_ids, n_chunks)) {
		snprintf(err, errlen, "unexpected id reservation result");
		goto out;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

static int delete_replaced(struct loader *l, struct doc **docs, size_t n, char *err, size_t errlen)
{
	struct buf sql;
	buf_init(&sql, 0);
	int any = 0, rc = 0;
	rc = buf_printf(&sql, "DELETE FROM documents WHERE doc_id IN (");
	for (size_t i = 0; i < n && !rc; i++) {
		if (docs[i]->doc_id <= 0)
			continue;
		rc = buf_printf(&sql, "%s%lld", any ? "," : "", (long long)docs[i]->doc_id);
		any = 1;
	}
	if (!rc && any) {
		rc = buf_putc(&sql, ')');
		if (!rc)
			rc = db_exec_quiet(l->conn, sql.data, err, errlen);
	}
	buf_release(&sql);
	return rc;
}

/* The pages (or slides) a chunk's bytes lie on: the mark at or before its first byte and the
 * one at or before its last; 0 when it starts before the first mark (a title page without a
 * number). Binary search: marks are in text order. */
static int page_at(const struct doc *d, size_t off)
{
	size_t lo = 0, hi = d->n_pages;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->pages[mid].offset <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? d->pages[lo - 1].number : 0;
}

static void page_range(const struct doc *d, const struct chunk *ch, int *first, int *last)
{
	*first = page_at(d, ch->start);
	*last = page_at(d, ch->end > ch->start ? ch->end - 1 : ch->start);
	if (*first <= 0 && *last > 0)
		*first = d->pages[0].number;
}

int load_chunk_metadata(struct buf *b, const struct doc *d, size_t i)
{
	const struct chunk *ch = &d->chunks[i];
	buf_reset(b);
	int rc = buf_printf(b, "{\"ordinal\": %zu, \"start\": %zu, \"end\": %zu", i, ch->start,
			    ch->end);
	if (!rc && ch->heading_path)
		rc = buf_printf(b, ", \"headings\": %s", ch->heading_path);
	if (!rc && d->n_pages && d->page_unit) {
		int first, last;
		page_range(d, ch, &first, &last);
		if (first > 0)
			rc = buf_printf(b, ", \"%s\": [%d, %d]", d->page_unit, first, last);
	}
	return rc ? rc : buf_putc(b, '}');
}

static int copy_documents(PGconn *conn, struct doc *const *docs, size_t n,
			  const int64_t *doc_ids, char *err, size_t errlen)
{
	struct pgcopy pc;
	pgcopy_begin(&pc, conn,
		     "documents (doc_id, source_name, metadata, original_content, content_hash, "
		     "source_input)");
	for (size_t i = 0; i < n; i++) {
		const struct doc *d = docs[i];
		pgcopy_row(&pc, 6);
		pgcopy_int4(&pc, (int32_t)doc_ids[i]);
		pgcopy_text(&pc, d->source_name, strlen(d->source_name));
		pgcopy_jsonb(&pc, d->metadata_json, strlen(d->metadata_json));
		pgcopy_text(&pc, d->text, d->text_len);
		pgcopy_bytea(&pc, d->hash, sizeof(d->hash));
		if (d->input)
			pgcopy_text(&pc, d->input, strlen(d->input));
		else
			pgcopy_null(&pc);
	}
	if (pgcopy_end(&pc, 1)) {
		snprintf(err, errlen, "%s", pc.error);
		return RL_ERR;
	}
	return 0;
}

/* ---- the row writers (load.h) --------------------------------------------------------- */

int load_copy_chunks(PGconn *conn, const char *table, struct doc *const *docs, size_t n,
		     const int64_t *doc_ids, const int64_t *chunk_ids, char *err, size_t errlen)
{
	struct pgcopy pc;
	struct buf meta, target;
	int rc = RL_ERR;
	buf_init(&meta, 0);
	buf_init(&target, 0);
	if (buf_printf(&target, "%s (chunk_id, doc_id, chunk_text, token_count, chunk_metadata)",
		       table)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	pgcopy_begin(&pc, conn, target.data);
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct doc *d = docs[i];
		for (size_t j = 0; j < d->n_chunks; j++, k++) {
			const struct chunk *ch = &d->chunks[j];
			pgcopy_row(&pc, 5);
			pgcopy_int4(&pc, (int32_t)chunk_ids[k]);
			pgcopy_int4(&pc, (int32_t)doc_ids[i]);
			pgcopy_text(&pc, d->text + ch->start, ch->end - ch->start);
			pgcopy_int4(&pc, ch->token_count);
			if (load_chunk_metadata(&meta, d, j)) {
				pgcopy_end(&pc, 0);
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			pgcopy_jsonb(&pc, meta.data, meta.len);
		}
	}
	if (pgcopy_end(&pc, 1))
		snprintf(err, errlen, "%s", pc.error);
	else
		rc = 0;
out:
	buf_release(&meta);
	buf_release(&target);
	return rc;
}

int load_copy_embeddings(PGconn *conn, const char *table, struct doc *const *docs, size_t n,
			 const int64_t *chunk_ids, const int64_t *emb_ids, const char *model_name,
			 char *err, size_t errlen)
{
	struct pgcopy pc;
	char target[160];
	size_t model_len = strlen(model_name);
	snprintf(target, sizeof(target), "%s (embedding_id, chunk_id, embedding_vector, model_name)",
		 table);
	pgcopy_begin(&pc, conn, target);
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct doc *d = docs[i];
		for (size_t j = 0; j < d->n_chunks; j++, k++) {
			pgcopy_row(&pc, 4);
			pgcopy_int4(&pc, (int32_t)emb_ids[k]);
			pgcopy_int4(&pc, (int32_t)chunk_ids[k]);
			pgcopy_vector(&pc, d->vectors + (size_t)j * (size_t)d->dim, d->dim);
			pgcopy_text(&pc, model_name, model_len);
		}
	}
	if (pgcopy_end(&pc, 1)) {
		snprintf(err, errlen, "%s", pc.error);
		return RL_ERR;
	}
	return 0;
}

struct stem_list {
	uint64_t *v;
	size_t n, cap;
	int oom;
};

static void stem_add(void *ctx, uint64_t stem)
{
	struct stem_list *t = ctx;
	if (t->oom)
		return;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		uint64_t *v = realloc(t->v, cap * sizeof(*v));
		if (!v) {
			t->oom = 1;
			return;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = stem;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* a postings row */
struct posting {
	int64_t term;
	int32_t chunk_id, tf, len;
};

struct posting_list {
	struct posting *v;
	size_t n, cap;
};

/* One chunk's postings: its stems sorted, one per distinct stem, appended to out. Returns 0
 * or RL_ENOMEM. */
static int chunk_postings(struct posting_list *out, struct stems *s, struct stem_list *t,
			  const char *text, size_t len, int64_t chunk_id)
{
	t->n = 0;
	if (text && len && stems_each(s, text, len, stem_add, t))
		t->oom = 1;
	if (t->oom || t->n > INT32_MAX)
		return RL_ENOMEM;
	if (t->n > 1)  /* qsort of no elements may not be given a null array */
		qsort(t->v, t->n, sizeof(*t->v), cmp_u64);
	for (size_t a = 0, b; a < t->n; a = b) {
		for (b = a + 1; b < t->n && t->v[b] == t->v[a]; b++)
			;
		if (out->n == out->cap) {
			size_t cap = out->cap ? 2 * out->cap : 4096;
			struct posting *v = realloc(out->v, cap * sizeof(*v));
			if (!v)
				return RL_ENOMEM;
			out->v = v;
			out->cap = cap;
		}
		out->v[out->n++] = (struct posting){(int64_t)t->v[a], (int32_t)chunk_id,
						    (int32_t)(b - a), (int32_t)t->n};
	}
	return 0;
}

/* the term index's order: term as the signed bigint it is stored as, then chunk */
static int cmp_posting(const void *a, const void *b)
{
	const struct posting *x = a, *y = b;
	if (x->term != y->term)
		return x->term < y->term ? -1 : 1;
	return (x->chunk_id > y->chunk_id) - (x->chunk_id < y->chunk_id);
}

/* rows sorted and sent by one COPY into table; 0, or RL_ERR with the server's message */
static int send_postings(PGconn *conn, const char *table, struct posting_list *rows, char *err,
			 size_t errlen)
{
	struct pgcopy pc;
	char target[160];
	if (rows->n > 1)
		qsort(rows->v, rows->n, sizeof(*rows->v), cmp_posting);
	snprintf(target, sizeof(target), "%s (term, chunk_id, tf, len)", table);
	pgcopy_begin(&pc, conn, target);
	for (size_t i = 0; i < rows->n; i++) {
		pgcopy_row(&pc, 4);
		pgcopy_int8(&pc, rows->v[i].term);
		pgcopy_int4(&pc, rows->v[i].chunk_id);
		pgcopy_int4(&pc, rows->v[i].tf);
		pgcopy_int4(&pc, rows->v[i].len);
	}
	if (pgcopy_end(&pc, 1)) {
		snprintf(err, errlen, "%s", pc.error);
		return RL_ERR;
	}
	return 0;
}

/*
 * The batch's postings are sent in the term index's order, (term, chunk_id): each B-tree
 * insert then lands beside the one before it, on a leaf page still in the CPU's cache,
 * instead of on a random one (the stems' hashes scatter a chunk's rows over the whole index).
 */
int load_copy_postings(PGconn *conn, const char *table, struct doc *const *docs, size_t n,
		       const int64_t *chunk_ids, char *err, size_t errlen)
{
	struct stem_list t = {0};
	struct posting_list rows = {0};
	struct stems *s = stems_new();
	int rc = RL_ERR;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return RL_ERR;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct doc *d = docs[i];
		for (size_t j = 0; j < d->n_chunks; j++, k++) {
			const struct chunk *ch = &d->chunks[j];
			if (chunk_postings(&rows, s, &t, d->text ? d->text + ch->start : NULL,
					   ch->end - ch->start, chunk_ids[k])) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
	}
	rc = send_postings(conn, table, &rows, err, errlen);
out:
	free(rows.v);
	free(t.v);
	stems_free(s);
	return rc;
}


/* name, definition after it: migrations 0004 and 0006 */
static const char *const POSTINGS_INDEXES[2][2] = {
	{"ragload_bm25_postings_term_idx",
	 "ON ragload_bm25_postings (term, chunk_id) INCLUDE (tf, len)"},
	{"ragload_bm25_postings_chunk_idx", "ON ragload_bm25_postings (chunk_id)"},
};

/* 1 when this role may drop and create the postings' indexes (it owns the table, as the
 * role that ran init does; ragload_loader does not), 0 when not, RL_ERR */
static int postings_owner(PGconn *conn)
{
	int ok;
	int64_t own = db_scalar_int(conn, "SELECT pg_has_role(relowner, 'USAGE')::int FROM pg_class "
				    "WHERE oid = 'ragload_bm25_postings'::regclass", 0, &ok);
	return ok ? (int)own : RL_ERR;
}

int load_postings_indexes_drop(PGconn *conn, int *dropped)
{
	char sql[128];
	int own = postings_owner(conn);
	*dropped = 0;
	if (own <= 0)
		return own;
	for (int i = 0; i < 2; i++) {
		snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s", POSTINGS_INDEXES[i][0]);
		if (db_exec(conn, sql))
			return RL_ERR;
	}
	*dropped = 1;
	return 0;
}

int load_postings_indexes_build(PGconn *conn, int *built)
{
	*built = 0;
	for (int i = 0; i < 2; i++) {
		char sql[256];
		const char *p[1] = {POSTINGS_INDEXES[i][0]};
		PGresult *r = db_query(conn, "SELECT to_regclass($1) IS NULL", 1, p);
		int missing = r && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (!r)
			return RL_ERR;
		if (!missing)
			continue;
		int own = postings_owner(conn);
		if (own <= 0) {
			if (own == 0)
				log_warn("the BM25 postings lack %s, and this role may not build it: "
					 "BM25 ranks slowly (or, in the extension, not at all) until their "
					 "owner runs `ragload init`", p[0]);
			return own;
		}
		/* the sort in memory where the server allows it: 11 M postings (125k chunks) are
		 * about 500 MB of sort tuples; the setting lasts for this session */
		if (!*built && db_exec(conn, "SELECT set_config('maintenance_work_mem', greatest("
				       "pg_size_bytes(current_setting('maintenance_work_mem')) / 1024, "
				       "524288)::text || 'kB', false)"))
			return RL_ERR;
		snprintf(sql, sizeof(sql), "CREATE INDEX IF NOT EXISTS %s %s", POSTINGS_INDEXES[i][0],
			 POSTINGS_INDEXES[i][1]);
		double t0 = now_seconds();
		if (db_exec(conn, sql))
			return RL_ERR;
		log_info("built %s in %.1f s", POSTINGS_INDEXES[i][0], now_seconds() - t0);
		(*built)++;
	}
	return 0;
}

int load_postings_indexes_repair(PGconn *conn)
{
	int built;
	if (load_postings_indexes_build(conn, &built))
		return RL_ERR;
	if (built)
		log_warn("the BM25 postings lacked %s (a first load stopped before its end): "
			 "built again", built == 2 ? "both their indexes" : "an index");
	return 0;
}

int load_backfill_postings(PGconn *conn, uint64_t *n_chunks)
{
	struct stem_list t = {0};
	struct posting_list rows = {0};
	struct stems *s = stems_new();
	PGresult *r = NULL;
	int rc = RL_ERR, in_tx = 0;
	*n_chunks = 0;
	if (!s)
		return RL_ENOMEM;
	if (db_exec(conn, "BEGIN"))
		goto out;
	in_tx = 1;
	if (db_exec(conn, "DECLARE ragload_backfill NO SCROLL CURSOR FOR SELECT c.chunk_id, "
			  "c.chunk_text FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM "
			  "ragload_bm25_postings p WHERE p.chunk_id = c.chunk_id) ORDER BY c.chunk_id"))
		goto out;
	for (;;) {
		PQclear(r);
		r = db_query(conn, "FETCH 2000 FROM ragload_backfill", 0, NULL);
		if (!r)
			goto out;
		if (PQntuples(r) == 0)
			break;
		char err[512];
		rows.n = 0;
		for (int i = 0; i < PQntuples(r); i++) {
			if (chunk_postings(&rows, s, &t, PQgetvalue(r, i, 1),
					   (size_t)PQgetlength(r, i, 1),
					   strtoll(PQgetvalue(r, i, 0), NULL, 10))) {
				rc = RL_ENOMEM;
				goto out;
			}
		}
		if (send_postings(conn, "ragload_bm25_postings", &rows, err, sizeof(err))) {
			log_error("writing BM25 postings: %s", err);
			goto out;
		}
		*n_chunks += (uint64_t)PQntuples(r);
	}
	rc = db_exec(conn, "CLOSE ragload_backfill") || db_exec(conn, "COMMIT") ? RL_ERR : 0;
	in_tx = 0;
out:
	if (in_tx)
		db_exec_quiet(conn, "ROLLBACK", NULL, 0);
	PQclear(r);
	free(rows.v);
	free(t.v);
	stems_free(s);
	return rc;
}

/* ---- what a document row keeps (load.h) ------------------------------------------------ */

void load_hash_text(struct doc *d, const char *sig)
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, d->text, d->text_len);
	XXH3_128bits_update(&st, "\0", 1);
	XXH3_128bits_update(&st, d->metadata_json, strlen(d->metadata_json));
	XXH3_128bits_update(&st, "\0", 1);
	XXH3_128bits_update(&st, sig, strlen(sig));
	XXH128_hash_t h = XXH3_128bits_digest(&st);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(d->hash, c.digest, 16);
}

void load_hash_vectors(struct doc *d, const char *sig)
{
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, d->vectors, (size_t)d->dim * sizeof(float));
	XXH3_128bits_update(&st, sig, strlen(sig));
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
	memcpy(d->hash, c.digest, 16);
}

/*
 * Keeps the document's headings in documents.metadata ("headings": [[offset, level, text],
 * ...]), and its page or slide marks ("page_marks": [[offset, number], ...], "page_unit":
 * "pages"|"slides"), so that a reindex with new chunk settings rebuilds heading paths and
 * pages from the stored text without reading the archives again.
 */
int load_keep_headings(struct doc *d)
{
	size_t n = strlen(d->metadata_json);
	if ((!d->n_headings && !(d->n_pages && d->page_unit)) || n < 2 ||
	    d->metadata_json[n - 1] != '}')
		return 0;
	struct buf b;
	buf_init(&b, 0);
	int rc = buf_append(&b, d->metadata_json, n - 1);
	int empty = 1;
	for (size_t i = 0; i + 1 < n - 1 && empty; i++)
		empty = d->metadata_json[i + 1] == ' ' || d->metadata_json[i + 1] == '\n';
	if (!rc && d->n_headings)
		rc = buf_printf(&b, "%s\"headings\": [", empty ? "" : ", ");
	for (size_t i = 0; i < d->n_headings && !rc; i++) {
		const struct heading *h = &d->headings[i];
		rc = buf_printf(&b, "%s[%zu, %d, ", i ? ", " : "", h->offset, h->level);
		if (!rc)
			rc = buf_json_str(&b, h->text, strlen(h->text));
		if (!rc)
			rc = buf_putc(&b, ']');
	}
	if (!rc && d->n_headings)
		rc = buf_putc(&b, ']');
	if (!rc && d->n_pages && d->page_unit) {
		rc = buf_printf(&b, "%s\"page_unit\": \"%s\", \"page_marks\": [",
				empty && !d->n_headings ? "" : ", ", d->page_unit);
		for (size_t i = 0; i < d->n_pages && !rc; i++)
			rc = buf_printf(&b, "%s[%zu, %d]", i ? ", " : "", d->pages[i].offset,
					d->pages[i].number);
		if (!rc)
			rc = buf_putc(&b, ']');
	}
	if (!rc)
		rc = buf_putc(&b, '}');
	if (rc) {
		buf_release(&b);
		return rc;
	}
	free(d->metadata_json);
	d->metadata_json = buf_detach(&b, NULL);
	return 0;
}

int load_read_headings(struct doc *d, const char *json)
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

/*
 * The page or slide marks load_keep_headings() kept, back into d, so that the new chunks say
 * their pages as ingest's did. Marks out of order or past the text are dropped (the metadata
 * is a column anyone may have edited).
 */
int load_read_pages(struct doc *d, const char *json, const char *unit)
{
	json_error_t e;
	json_t *a = json_loads(json, 0, &e);
	d->page_unit = !strcmp(unit, "slides") ? "slides" : !strcmp(unit, "pages") ? "pages" : NULL;
	if (!json_is_array(a) || !d->page_unit) {
		json_decref(a);
		d->page_unit = NULL;
		return 0;
	}
	size_t n = json_array_size(a);
	d->pages = calloc(n ? n : 1, sizeof(*d->pages));
	if (!d->pages) {
		json_decref(a);
		return RL_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(a, i);
		json_int_t off = json_integer_value(json_array_get(m, 0));
		json_int_t num = json_integer_value(json_array_get(m, 1));
		if (!json_is_integer(json_array_get(m, 0)) || off < 0 || (size_t)off > d->text_len ||
		    num <= 0 || num > INT32_MAX ||
		    (d->n_pages && (size_t)off < d->pages[d->n_pages - 1].offset))
			continue;
		d->pages[d->n_pages].offset = (size_t)off;
		d->pages[d->n_pages++].number = (int)num;
	}
	json_decref(a);
	if (!d->n_pages) {
		free(d->pages);
		d->pages = NULL;
		d->page_unit = NULL;
	}
	return 0;
}

/* One attempt at one transaction. Returns 0, or -1 with err set (the batch is rolled back). */
static int try_batch(struct loader *l, struct doc **docs, size_t n, char *err, size_t errlen)
{
	size_t n_chunks = 0, n_new = 0;
	for (size_t i = 0; i < n; i++) {
		n_chunks += docs[i]->n_chunks;
		n_new += docs[i]->doc_id <= 0;
	}
	int64_t *ids = malloc((n_new + 2 * n_chunks + 1) * sizeof(int64_t));
	int64_t *doc_ids = malloc((n + 1) * sizeof(int64_t));
	int rc = RL_ERR;
	if (!ids || !doc_ids) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	int64_t *new_ids = ids, *chunk_ids = ids + n_new, *emb_ids = ids + n_new + n_chunks;

	if (db_exec_quiet(l->conn, "BEGIN", err, errlen) ||
	    delete_replaced(l, docs, n, err, errlen) ||
	    load_reserve_ids(l->conn, n_new, n_chunks, new_ids, chunk_ids, emb_ids, err, errlen))
		goto out;
	for (size_t i = 0, k = 0; i < n; i++)
		doc_ids[i] = docs[i]->doc_id > 0 ? docs[i]->doc_id : new_ids[k++];

	if (copy_documents(l->conn, docs, n, doc_ids, err, errlen))
		goto out;
	fault_in_copy(l->conn);
	if (load_copy_chunks(l->conn, "chunks", docs, n, doc_ids, chunk_ids, err, errlen) ||
	    load_copy_embeddings(l->conn, "embeddings", docs, n, chunk_ids, emb_ids, l->model_name,
				 err, errlen) ||
	    load_copy_postings(l->conn, "ragload_bm25_postings", docs, n, chunk_ids, err, errlen))
		goto out;

	fault_before_commit();
	if (db_exec_quiet(l->conn, "COMMIT", err, errlen)) {
		fault_after_commit(0);
		goto out;
	}
	fault_after_commit(1);
	for (size_t i = 0; i < n; i++)
		docs[i]->doc_id = doc_ids[i];
	rc = 0;
out:
	if (rc && PQstatus(l->conn) == CONNECTION_OK)
		db_exec_quiet(l->conn, "ROLLBACK", NULL, 0);
	free(ids);
	free(doc_ids);
	return rc;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	char *nl = strchr(s, '\n'); /* keep the first line of the server's message */
	if (nl)
		*nl = '\0';
}

/*
 * After a reconnect: moves the documents of the batch that are already in the database with
 * their content hash (their transaction committed before the connection broke) to the front
 * and returns how many in *done. Returns -1 when the query itself failed.
 */
static int drop_committed(struct loader *l, struct doc **docs, size_t n, size_t *done)
{
	struct buf arr;
	buf_init(&arr, 0);
	char **keys = malloc(n * sizeof(char *));
	int rc = -1;
	*done = 0;
	if (!keys)
		goto out;
	for (size_t i = 0; i < n; i++)
		keys[i] = docs[i]->source_name;
	if (db_text_array(&arr, keys, n))
		goto out;
	const char *params[1] = {arr.data};
	PGresult *r = PQexecParams(l->conn, "SELECT source_name, content_hash FROM documents "
				   "WHERE source_name = ANY($1::varchar[])", 1, NULL, params, NULL,
				   NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		goto out;
	}
	for (int row = 0; row < PQntuples(r); row++) {
		for (size_t i = *done; i < n; i++) {
			if (strcmp(docs[i]->source_name, PQgetvalue(r, row, 0)) ||
			    PQgetlength(r, row, 1) != 16 ||
			    memcmp(docs[i]->hash, PQgetvalue(r, row, 1), 16))
				continue;
			struct doc *t = docs[*done];
			docs[*done] = docs[i];
			docs[i] = t;
			(*done)++;
			break;
		}
	}
	PQclear(r);
	rc = 0;
out:
	free(keys);
	buf_release(&arr);
	return rc;
}

/* Commits docs[0..n), splitting on failure. Returns 0, or -1 when the connection is gone. */
static int commit_docs(struct loader *l, struct doc **docs, size_t n)
{
	char err[1024] = "";
	int replaced = 0;
	for (size_t i = 0; i < n; i++)
		replaced += docs[i]->doc_id > 0;
	double t0 = now_seconds();
	int rc = try_batch(l, docs, n, err, sizeof(err));
	l->stats.seconds += now_seconds() - t0;
	if (rc == 0) {
		l->stats.transactions++;
		l->stats.docs_changed += (uint64_t)replaced;
		l->stats.docs_added += n - (uint64_t)replaced;
		for (size_t i = 0; i < n; i++) {
			l->stats.chunks += docs[i]->n_chunks;
			l->stats.text_bytes += docs[i]->text_len;
		}
		return 0;
	}
	if (PQstatus(l->conn) != CONNECTION_OK) {
		trim(err);
		if (!l->reconnect) {
			log_error("database connection lost: %s", err);
			return -1;
		}
		log_warn("database connection lost (%s); reconnecting", err);
		if (l->reconnect(l->reconnect_ctx, &l->conn))
			return -1;
		l->stats.reconnects++;
		/* The COMMIT may have reached the server before the connection broke. */
		size_t done;
		if (drop_committed(l, docs, n, &done))
			return commit_docs(l, docs, n); /* lost again: retry from the top */
		l->stats.docs_added += done;
		for (size_t i = 0; i < done; i++) {
			l->stats.chunks += docs[i]->n_chunks;
			l->stats.text_bytes += docs[i]->text_len;
		}
		return n > done ? commit_docs(l, docs + done, n - done) : 0;
	}
	if (n == 1) {
		trim(err);
		counts_skip(l->counts, "db_rejected", docs[0]->source_name, "%s", err);
		return 0;
	}
	l->stats.retries++;
	size_t half = n / 2;
	if (commit_docs(l, docs, half))
		return -1;
	return commit_docs(l, docs + half, n - half);
}

int load_flush(struct loader *l)
{
	if (l->fatal)
		return RL_ERR;
	int rc = l->n ? commit_docs(l, l->batch, l->n) : 0;
	for (size_t i = 0; i < l->n; i++)
		doc_free(l->batch[i]);
	l->n = 0;
	l->batch_bytes = 0;
	if (rc)
		l->fatal = 1;
	return rc ? RL_ERR : 0;
}

int load_add(struct loader *l, struct doc *d)
{
	if (l->fatal) {
		doc_free(d);
		return RL_ERR;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct doc **b = realloc(l->batch, cap * sizeof(*b));
		if (!b) {
			doc_free(d);
			return RL_ENOMEM;
		}
		l->batch = b;
		l->cap = cap;
	}
	l->batch[l->n++] = d;
	l->batch_bytes += doc_bytes(d);
	if (l->batch_bytes >= l->opts.batch_bytes || l->n >= (size_t)l->opts.batch_docs)
		return load_flush(l);
	return 0;
}

const struct load_stats *load_get_stats(const struct loader *l)
{
	return &l->stats;
}

void load_free(struct loader *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		doc_free(l->batch[i]);
	free(l->batch);
	free(l->model_name);
	free(l);
}

void load_set_reconnect(struct loader *l, load_reconnect_fn fn, void *ctx)
{
	l->reconnect = fn;
	l->reconnect_ctx = ctx;
}
