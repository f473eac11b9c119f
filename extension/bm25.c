/*
 * bm25.c — ragload_bm25_scan(terms, k, k1, b) -> TABLE(chunk_id, score): the exact Okapi BM25
 * of ragload_bm25_sql (config/migrations/0004_bm25.sql), scored in C.
 *
 * Why: the SQL reads each term's postings twice (its df by count(*), then the join) and runs
 * every posting through the executor's join, hash aggregate and sort: 137-832 ms p95 at 100k
 * chunks (README, "BM25 at 100k chunks"), where a query's terms have ~70k postings (~150k at
 * the 95th percentile). Reading them all in C is ~0.19 us a posting, still 20-30 ms, so this
 * reads only what can change the top k (MaxScore, term at a time):
 *   - df comes from ragload_bm25_df (migration 0006, kept by triggers like the statistics), so
 *     each term's idf and its bound, idf x (k1 + 1) (the tf part is below k1 + 1), are known
 *     before any posting is read;
 *   - terms are read whole in decreasing bound, their parts summed per chunk in a hash table,
 *     until the bounds of the terms left add up to less than the k-th best sum so far: then
 *     no chunk without a part yet can reach the top k;
 *   - each remaining term then only completes the chunks that still can (sum + bounds left >=
 *     k-th best): by a probe of the (term, chunk_id) index per chunk, or by reading the term
 *     whole where that is cheaper (fewer than ~16 postings per probe), dropping chunks as the
 *     k-th best rises.
 * The chunks returned have every part summed, so their scores are exact. Every read is an
 * index-only scan of the postings' (term, chunk_id) index, under the executor's visibility
 * rules (the visibility map, else the heap tuple under the query's snapshot). A bounded heap
 * keeps the k best (score descending, ties by chunk_id). Pruning needs 0 <= b <= 1, k1 >= 0 and
 * positive idfs (the bound's premises); otherwise every term is read whole.
 *
 * Exactly the SQL's numbers: the same float8 expressions in the same order (idf, the tf part,
 * each part rounded to a multiple of 2^-32, the sum exact below 2^21 in any order), so a chunk
 * scores bit for bit what ragload_bm25_sql gives it (tests/integration/bm25.sh and extension.sh
 * compare them). N, the total length and df are the sums of ragload_bm25_stats' and
 * ragload_bm25_df's delta rows, read in the same snapshot; a term read whole whose postings
 * disagree with its df is an error naming the repair (ragload_bm25_df_rebuild()).
 *
 * Input: NULL terms (the array or an element) are skipped, an empty list or k < 1 or NULL gives
 * no row (the SQL's LIMIT greatest(k, 0)); k1 and b NULL are an error;
 * a term listed n times counts n times. Memory is palloc'd in the call's context (huge
 * allocations allowed: a term in every chunk of a 10M-chunk corpus), and the scan checks for
 * interrupts every 4,096 postings.
 */
#include <postgres.h>

#include <access/genam.h>
#include <access/relscan.h>
#include <access/stratnum.h>
#include <access/table.h>
#include <access/tableam.h>
#include <access/visibilitymap.h>
#include <catalog/namespace.h>
#include <catalog/pg_am.h>
#include <catalog/pg_type.h>
#include <executor/spi.h>
#include <executor/tuptable.h>
#include <fmgr.h>
#include <funcapi.h>
#include <miscadmin.h>
#include <nodes/makefuncs.h>
#include <storage/bufmgr.h>
#include <utils/array.h>
#include <utils/fmgroids.h>
#include <utils/lsyscache.h>
#include <utils/rel.h>
#include <utils/snapmgr.h>
#include <utils/tuplestore.h>

#include <math.h>

PGDLLEXPORT Datum pg_ragload_bm25_scan(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(pg_ragload_bm25_scan);

#define POSTINGS "ragload_bm25_postings"
#define STATS_SQL                                                                              \
	"SELECT coalesce(sum(n), 0)::float8, coalesce(sum(total_len), 0)::float8 FROM "        \
	"ragload_bm25_stats"
#define DF_SQL "SELECT term, sum(df)::float8 FROM ragload_bm25_df WHERE term = ANY($1) GROUP BY term"
/* read a remaining term whole rather than probe when it has fewer postings than this many
 * per chunk to complete (a probe descends the B-tree: ~3 us against ~0.19 us a posting) */
#define PROBE_COST 16
#define EMPTY_KEY INT64_MIN

/* chunk_id -> score, open addressing, linear probing; keys are chunk ids widened to int64,
 * each beside its score (one cache line holds both) */
struct slot {
	int64 key;
	double score;
};
struct acc {
	struct slot *s;
	size_t cap, n;
};

static void acc_init(struct acc *a, size_t cap)
{
	a->cap = cap;
	a->n = 0;
	a->s = palloc_extended(cap * sizeof(struct slot), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < cap; i++)
		a->s[i].key = EMPTY_KEY;
}

static inline size_t slot_of(int64 key, size_t cap)
{
	uint64 h = (uint64)key * UINT64CONST(0x9E3779B97F4A7C15);
	return (size_t)(h >> 17) & (cap - 1);
}

static void acc_add(struct acc *a, int32 chunk, double part);

static void acc_grow(struct acc *a)
{
	struct acc b;
	acc_init(&b, a->cap * 2);
	for (size_t i = 0; i < a->cap; i++)
		if (a->s[i].key != EMPTY_KEY)
			acc_add(&b, (int32)a->s[i].key, a->s[i].score);
	pfree(a->s);
	*a = b;
}

static void acc_add(struct acc *a, int32 chunk, double part)
{
	size_t i;
	if (2 * (a->n + 1) > a->cap)
		acc_grow(a);
	for (i = slot_of(chunk, a->cap); a->s[i].key != EMPTY_KEY; i = (i + 1) & (a->cap - 1))
		if (a->s[i].key == chunk) {
			a->s[i].score += part;
			return;
		}
	a->s[i].key = chunk;
	a->s[i].score = part;
	a->n++;
}

/* chunk's score slot in a, or NULL */
static inline double *acc_find(const struct acc *a, int32 chunk)
{
	for (size_t i = slot_of(chunk, a->cap); a->s[i].key != EMPTY_KEY; i = (i + 1) & (a->cap - 1))
		if (a->s[i].key == chunk)
			return &a->s[i].score;
	return NULL;
}

/* one chunk's result; "better" is a higher score, then a lower chunk_id */
struct hit {
	int32 chunk;
	double score;
};

static inline bool better(const struct hit *x, const struct hit *y)
{
	return x->score > y->score || (x->score == y->score && x->chunk < y->chunk);
}

static int hit_cmp(const void *pa, const void *pb)
{
	const struct hit *a = pa, *b = pb;
	return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* sift h[i] down a heap whose root is its worst hit */
static void sift(struct hit *h, size_t n, size_t i)
{
	for (;;) {
		size_t w = i, l = 2 * i + 1, r = l + 1;
		struct hit t;
		if (l < n && better(&h[w], &h[l]))
			w = l;
		if (r < n && better(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/* a bounded heap of the k best hits offered (h: k slots) */
struct best {
	struct hit *h;
	size_t k, n;
};

static void best_offer(struct best *t, struct hit x)
{
	if (t->n < t->k) {
		t->h[t->n++] = x;
		if (t->n == t->k)
			for (size_t j = t->k / 2 + 1; j-- > 0;)
				sift(t->h, t->k, j);
	} else if (t->k && better(&x, &t->h[0])) {
		t->h[0] = x;
		sift(t->h, t->k, 0);
	}
}

/* the k best of the accumulator's chunks whose score is at least floor: the k best of all of
 * them where floor is at most their k-th best score (otherwise fewer than k, or the k best
 * of those at least floor) */
static void best_of_acc(const struct acc *a, struct best *t, double floor)
{
	t->n = 0;
	for (size_t i = 0; i < a->cap; i++)
		if (a->s[i].key != EMPTY_KEY && a->s[i].score >= floor) {
			struct hit x = {(int32)a->s[i].key, a->s[i].score};
			best_offer(t, x);
		}
}

/* the k-th best score of t, -inf while it holds fewer than k */
static double kth(const struct best *t)
{
	return t->n == t->k && t->k ? t->h[0].score : -INFINITY;
}

static int int4_cmp(const void *pa, const void *pb)
{
	int32 a = *(const int32 *)pa, b = *(const int32 *)pb;
	return a < b ? -1 : a > b;
}

static int int8_cmp(const void *pa, const void *pb)
{
	int64 a = *(const int64 *)pa, b = *(const int64 *)pb;
	return a < b ? -1 : a > b;
}

/*
 * The postings' term index: a valid B-tree without predicate or expressions whose first key
 * is term and which holds chunk_id, tf and len (as keys or INCLUDE columns); pos[] gets their
 * positions in it, *probe whether chunk_id is its second key (migration 0006's (term,
 * chunk_id) INCLUDE (tf, len)), which probes need. A reindex's copy has another name, so the
 * index is found by what it holds.
 */
static Oid term_index(Relation heap, AttrNumber pos[3], bool *probe)
{
	static const char *const cols[3] = {"chunk_id", "tf", "len"};
	Oid relid = RelationGetRelid(heap), found = InvalidOid;
	AttrNumber term = get_attnum(relid, "term"), want[3];
	List *ixs = RelationGetIndexList(heap);
	ListCell *lc;

	for (int j = 0; j < 3; j++)
		want[j] = get_attnum(relid, cols[j]);
	foreach (lc, ixs) {
		Relation ix = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index f = ix->rd_index;
		bool ok = ix->rd_rel->relam == BTREE_AM_OID && f->indisvalid && f->indisready &&
			  f->indnkeyatts >= 1 && f->indkey.values[0] == term &&
			  term != InvalidAttrNumber && RelationGetIndexPredicate(ix) == NIL &&
			  RelationGetIndexExpressions(ix) == NIL;
		for (int j = 0; ok && j < 3; j++) {
			pos[j] = InvalidAttrNumber;
			for (int c = 0; c < f->indnatts; c++)
				if (want[j] != InvalidAttrNumber && f->indkey.values[c] == want[j])
					pos[j] = (AttrNumber)(c + 1);
			ok = pos[j] != InvalidAttrNumber;
		}
		*probe = ok && f->indnkeyatts >= 2 && pos[0] == 2;
		index_close(ix, NoLock);
		if (ok) {
			found = lfirst_oid(lc);
			break;
		}
	}
	list_free(ixs);
	if (!OidIsValid(found))
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("ragload: %s has no term index", RelationGetRelationName(heap)),
				errhint("A first load into an empty corpus builds it at its end; `ragload "
					"init` builds it again after one stopped before. "
					"ragload_bm25_sql() ranks without it, slowly.")));
	return found;
}

/* one distinct query term */
struct qterm {
	int64 term;
	double qtf, df, idf, bound;
};

static int qterm_cmp(const void *pa, const void *pb)
{
	const struct qterm *a = pa, *b = pb;
	if (a->bound != b->bound)
		return a->bound > b->bound ? -1 : 1;
	return a->term < b->term ? -1 : a->term > b->term;
}

/* N, the average length (as ragload_bm25_sql computes them) and each term's df */
static void collection(struct qterm *q, size_t nq, double *n, double *avglen)
{
	bool null1, null2;
	double len;
	Datum *d = palloc_extended((nq ? nq : 1) * sizeof(Datum), MCXT_ALLOC_HUGE);
	Datum arg;
	Oid argtype = INT8ARRAYOID;

	for (size_t i = 0; i < nq; i++)
		d[i] = Int64GetDatum(q[i].term);
	arg = PointerGetDatum(construct_array(d, (int)nq, INT8OID, 8, FLOAT8PASSBYVAL,
					      TYPALIGN_DOUBLE));
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errmsg("ragload: SPI_connect failed")));
	if (SPI_execute(STATS_SQL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errmsg("ragload: cannot read ragload_bm25_stats")));
	*n = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null1));
	len = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
					   &null2));
	if (SPI_execute_with_args(DF_SQL, 1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR, (errmsg("ragload: cannot read ragload_bm25_df")));
	for (uint64 r = 0; r < SPI_processed; r++) {
		int64 term = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
							 SPI_tuptable->tupdesc, 1, &null1));
		double df = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[r],
							 SPI_tuptable->tupdesc, 2, &null2));
		/* q is sorted by term here */
		size_t lo = 0, hi = nq;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (q[mid].term < term)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < nq && q[lo].term == term && !null2)
			q[lo].df = df;
	}
	SPI_finish();
	pfree(d);
	/* sum(total_len)::float8 / greatest(sum(n), 1): the divisor a numeric cast to float8 */
	*avglen = len / (*n > 1 ? *n : 1);
}

/* the scans: one by term, one by (term, chunk_id), and what reading a posting needs */
struct reader {
	IndexScanDesc by_term, by_chunk;
	TupleTableSlot *slot;
	Buffer vm;
	AttrNumber pos[3];
	double k1, b, avg;
	size_t read, probes;
};

/* the next visible posting of sd: *chunk, *tf, *len; false at the end */
static bool next_posting(struct reader *r, IndexScanDesc sd, int32 *chunk, int32 *tf, int32 *len)
{
	ItemPointer tid;
	while ((tid = index_getnext_tid(sd, ForwardScanDirection)) != NULL) {
		bool n1, n2, n3;
		Datum c, t, l;
		if ((++r->read & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		/* as an index-only scan: the heap tuple only where the page is not all-visible */
		if (!VM_ALL_VISIBLE(sd->heapRelation, ItemPointerGetBlockNumber(tid), &r->vm)) {
			if (!index_fetch_heap(sd, r->slot))
				continue;
			ExecClearTuple(r->slot);
			if (sd->xs_heap_continue)
				elog(ERROR, "ragload: non-MVCC snapshots are not supported");
		}
		c = index_getattr(sd->xs_itup, r->pos[0], sd->xs_itupdesc, &n1);
		t = index_getattr(sd->xs_itup, r->pos[1], sd->xs_itupdesc, &n2);
		l = index_getattr(sd->xs_itup, r->pos[2], sd->xs_itupdesc, &n3);
		if (n1 || n2 || n3)
			continue;  /* NOT NULL columns: never */
		*chunk = DatumGetInt32(c);
		*tf = DatumGetInt32(t);
		*len = DatumGetInt32(l);
		return true;
	}
	return false;
}

/* the term's part for a posting: ragload_bm25_sql's expression, in its order */
static inline double part(const struct reader *r, double idf, int32 tf_, int32 len)
{
	double tf = tf_;
	return rint(4294967296.0 * idf * tf * (r->k1 + 1) /
		    (tf + r->k1 * (1 - r->b + r->b * (double)len / r->avg))) /
	       4294967296.0;
}

static void start_term(struct reader *r, int64 term)
{
	ScanKeyData key;
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(term));
	index_rescan(r->by_term, &key, 1, NULL, 0);
}

static void df_mismatch(const struct qterm *q, size_t seen)
{
	ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
			errmsg("ragload: term %lld has %zu postings, ragload_bm25_df says %.0f",
			       (long long)q->term, seen, q->df),
			errhint("SELECT ragload_bm25_df_rebuild() counts them again.")));
}

/* every posting of q into the accumulator */
static void add_whole(struct reader *r, const struct qterm *q, struct acc *acc)
{
	int32 chunk, tf, len;
	size_t seen = 0;
	start_term(r, q->term);
	while (next_posting(r, r->by_term, &chunk, &tf, &len)) {
		acc_add(acc, chunk, part(r, q->idf, tf, len));
		seen++;
	}
	if ((double)seen != q->df)
		df_mismatch(q, seen);
}

/* q's part of chunk (0 where it has none), by a probe of the (term, chunk_id) index */
static double probe(struct reader *r, const struct qterm *q, int32 chunk)
{
	ScanKeyData keys[2];
	int32 c, tf, len;
	double s = 0;
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(q->term));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(chunk));
	index_rescan(r->by_chunk, keys, 2, NULL, 0);
	r->probes++;
	while (next_posting(r, r->by_chunk, &c, &tf, &len))
		s += part(r, q->idf, tf, len);
	return s;
}

/* q's parts of the candidate chunks in c */
static void complete(struct reader *r, const struct qterm *q, struct acc *c)
{
	int32 chunk, tf, len;
	int32 *ids;
	size_t n = 0;

	if (q->df < (double)c->n * PROBE_COST) {
		size_t seen = 0;
		start_term(r, q->term);
		while (next_posting(r, r->by_term, &chunk, &tf, &len)) {
			double *sc = acc_find(c, chunk);
			seen++;
			if (sc)
				*sc += part(r, q->idf, tf, len);
		}
		if ((double)seen != q->df)
			df_mismatch(q, seen);
		return;
	}
	/* one probe a chunk, in chunk order (neighbouring leaf pages) */
	ids = palloc_extended((c->n ? c->n : 1) * sizeof(int32), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < c->cap; i++)
		if (c->s[i].key != EMPTY_KEY)
			ids[n++] = (int32)c->s[i].key;
	qsort(ids, n, sizeof(int32), int4_cmp);
	for (size_t i = 0; i < n; i++) {
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
		*acc_find(c, ids[i]) += probe(r, q, ids[i]);
	}
	pfree(ids);
}

/* the chunks of a whose score + slack >= theta, in a new accumulator (a is freed) */
static void keep_candidates(struct acc *a, double slack, double theta)
{
	struct acc b;
	size_t n = 0, cap = 16;
	for (size_t i = 0; i < a->cap; i++)
		n += a->s[i].key != EMPTY_KEY && a->s[i].score + slack >= theta;
	while (cap < 2 * n + 2)
		cap *= 2;
	acc_init(&b, cap);
	for (size_t i = 0; i < a->cap; i++)
		if (a->s[i].key != EMPTY_KEY && a->s[i].score + slack >= theta)
			acc_add(&b, (int32)a->s[i].key, a->s[i].score);
	pfree(a->s);
	*a = b;
}

Datum pg_ragload_bm25_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *)fcinfo->resultinfo;
	ArrayType *arr;
	Datum *elems;
	bool *nulls;
	int nelems;
	int64 *terms;
	size_t nterms = 0, nq = 0, done;
	int32 k;
	double n, avglen, left = 0, readb = 0, sumdf = 0, restdf, theta = -INFINITY;
	/* the k-th best sum in acc so far: sums only grow while terms are read whole, so the k
	 * best sums are never below it (theta can be higher: whole scores of completed chunks) */
	double sumfloor = -INFINITY;
	struct acc acc, exact;
	struct qterm *q;
	struct best top;
	struct reader r = {0};
	Relation heap, ix;
	bool can_probe, prune;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("ragload: k1 and b must be given"),
				errhint("ragload_bm25() takes them from [search] when NULL.")));
	/* LIMIT greatest(k, 0): k NULL is 0 */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum)0;
	arr = PG_GETARG_ARRAYTYPE_P(0);
	k = PG_GETARG_INT32(1);
	r.k1 = PG_GETARG_FLOAT8(2);
	r.b = PG_GETARG_FLOAT8(3);
	if (ARR_ELEMTYPE(arr) != INT8OID)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("ragload: terms must be bigint[]")));
	if (k < 1)
		return (Datum)0;
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls,
			  &nelems);
	terms = palloc_extended((nelems ? (size_t)nelems : 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	for (int i = 0; i < nelems; i++)
		if (!nulls[i])
			terms[nterms++] = DatumGetInt64(elems[i]);
	if (nterms == 0)
		return (Datum)0;
	qsort(terms, nterms, sizeof(int64), int8_cmp);
	q = palloc_extended(nterms * sizeof(*q), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < nterms;) {
		size_t j = i;
		while (j < nterms && terms[j] == terms[i])
			j++;
		q[nq].term = terms[i];
		q[nq].qtf = (double)(j - i);
		q[nq].df = 0;
		nq++;
		i = j;
	}

	/* the postings first, then the statistics: reindex's swap locks them in that order */
	heap = table_open(RangeVarGetRelid(makeRangeVar(NULL, POSTINGS, -1), AccessShareLock,
					   false), NoLock);
	ix = index_open(term_index(heap, r.pos, &can_probe), AccessShareLock);
	collection(q, nq, &n, &avglen);
	r.avg = avglen > 1e-9 ? avglen : 1e-9;  /* greatest(s.avglen, 1e-9) */

	/* idf and bound of each term that has postings (WHERE d.df > 0), best bound first */
	prune = can_probe && r.k1 >= 0 && r.b >= 0 && r.b <= 1;
	done = 0;
	for (size_t i = 0; i < nq; i++) {
		if (!(q[i].df > 0))
			continue;
		q[done] = q[i];
		/* q.qtf * ln(1 + (s.n - d.df + 0.5) / (d.df + 0.5)) */
		q[done].idf = q[i].qtf * log(1 + (n - q[i].df + 0.5) / (q[i].df + 0.5));
		/* each part is below idf (k1 + 1), up to its rounding to 2^-32 */
		q[done].bound = q[done].idf * (r.k1 + 1) * (1 + 1e-12) + 1e-9;
		if (!(q[done].idf > 0) || !isfinite(q[done].bound))
			prune = false;
		left += q[done].bound;
		sumdf += q[done].df;
		done++;
	}
	nq = done;
	restdf = sumdf;  /* the postings of the terms not read whole yet */
	qsort(q, nq, sizeof(*q), qterm_cmp);

	r.by_term = index_beginscan(heap, ix, GetActiveSnapshot(), 1, 0);
	r.by_term->xs_want_itup = true;
	if (can_probe) {
		r.by_chunk = index_beginscan(heap, ix, GetActiveSnapshot(), 2, 0);
		r.by_chunk->xs_want_itup = true;
	}
	r.slot = table_slot_create(heap, NULL);
	r.vm = InvalidBuffer;
	/* no more chunks can have a part than the terms have postings */
	top.k = (size_t)Min((double)k, Max(sumdf, 1));
	top.h = palloc_extended(top.k * sizeof(struct hit), MCXT_ALLOC_HUGE);
	acc_init(&acc, 4096);

	/*
	 * Terms read whole until no chunk without a part can reach the top k: until the bounds
	 * of the terms left add up to less than theta, a lower bound of the final k-th best
	 * score. theta is the k-th best of the sums so far, or higher: the k-th best whole score
	 * of the chunks best so far, each completed by probes of the terms left (where that is
	 * cheaper than reading them).
	 */
	acc_init(&exact, 64);
	for (done = 0; done < nq; done++) {
		/* every step for a query's dozen terms, then at powers of two (a list of a million
		 * terms would otherwise rescan the sums a million times) */
		if (prune && done > 0 && acc.n >= (size_t)k && (done < 64 || !(done & (done - 1)))) {
			if ((double)k * (double)(nq - done) * PROBE_COST < restdf) {
				best_of_acc(&acc, &top, sumfloor);
				sumfloor = Max(sumfloor, kth(&top));
				theta = Max(theta, kth(&top));
				for (size_t i = 0; i < top.n; i++)
					if (!acc_find(&exact, top.h[i].chunk)) {
						double sc = top.h[i].score;
						for (size_t j = done; j < nq; j++)
							sc += probe(&r, &q[j], top.h[i].chunk);
						acc_add(&exact, top.h[i].chunk, sc);
					}
				best_of_acc(&exact, &top, -INFINITY);
				theta = Max(theta, kth(&top));
			} else if (left < readb) {
				/* the k-th best sum is at most the bounds read so far */
				best_of_acc(&acc, &top, sumfloor);
				sumfloor = Max(sumfloor, kth(&top));
				theta = Max(theta, kth(&top));
			}
			if (left < theta)
				break;
		}
		CHECK_FOR_INTERRUPTS();
		add_whole(&r, &q[done], &acc);
		left -= q[done].bound;
		readb += q[done].bound;
		restdf -= q[done].df;
	}
	if (done < nq) {
		/* the chunks that can still reach the top k, completed term by term */
		keep_candidates(&acc, left, theta);
		for (; done < nq; done++) {
			CHECK_FOR_INTERRUPTS();
			complete(&r, &q[done], &acc);
			left -= q[done].bound;
			if (done + 1 < nq && (done < 64 || !(done & (done - 1)))) {
				best_of_acc(&acc, &top, theta);
				theta = Max(theta, kth(&top));
				keep_candidates(&acc, left, theta);
			}
		}
	}
	best_of_acc(&acc, &top, theta);

	index_endscan(r.by_term);
	if (r.by_chunk)
		index_endscan(r.by_chunk);
	if (BufferIsValid(r.vm))
		ReleaseBuffer(r.vm);
	ExecDropSingleTupleTableSlot(r.slot);
	index_close(ix, NoLock);
	table_close(heap, NoLock);

	qsort(top.h, top.n, sizeof(struct hit), hit_cmp);
	for (size_t i = 0; i < top.n; i++) {
		Datum values[2] = {Int32GetDatum(top.h[i].chunk), Float8GetDatum(top.h[i].score)};
		bool isnull[2] = {false, false};
		tuplestore_putvalues(rsi->setResult, rsi->setDesc, values, isnull);
	}
	elog(DEBUG1, "ragload_bm25_scan: %zu terms, %zu postings read, %zu probes", nq, r.read,
	     r.probes);
	return (Datum)0;
}
