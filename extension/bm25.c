/*
 * bm25.c — ragload_bm25_scan(terms, k, k1, b) -> TABLE(chunk_id, score): the exact Okapi BM25
 * of ragload_bm25_sql (config/migrations/0004_bm25.sql), scored in C.
 *
 * Why: the SQL reads each term's postings twice (its df by count(*), then the join) and runs
 * every posting through the executor's join, hash aggregate and sort: 137-832 ms p95 at 100k
 * chunks (README, "BM25 at 100k chunks"), where a query's terms have ~50k postings. Here each
 * term's postings are read once, by an index-only scan of the postings' term index (the same
 * visibility rules as the executor's: the visibility map, else the heap tuple under the
 * query's snapshot), df is their count, and the scores add up in a hash table keyed by chunk.
 * A bounded heap keeps the k best (score descending, ties by chunk_id).
 *
 * Exactly the SQL's numbers: the same float8 expressions in the same order (idf, the tf part,
 * each part rounded to a multiple of 2^-32, the sum exact below 2^21 in any order), so a chunk
 * scores bit for bit what ragload_bm25_sql gives it (tests/sql/bm25.sh compares them). N and
 * the total length are the sums of ragload_bm25_stats, read in the same snapshot.
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
#define EMPTY_KEY INT64_MIN

/* chunk_id -> score, open addressing, linear probing; keys are chunk ids widened to int64 */
struct acc {
	int64 *key;
	double *score;
	size_t cap, n;
};

static void acc_init(struct acc *a, size_t cap)
{
	a->cap = cap;
	a->n = 0;
	a->key = palloc_extended(cap * sizeof(int64), MCXT_ALLOC_HUGE);
	a->score = palloc_extended(cap * sizeof(double), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < cap; i++)
		a->key[i] = EMPTY_KEY;
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
		if (a->key[i] != EMPTY_KEY)
			acc_add(&b, (int32)a->key[i], a->score[i]);
	pfree(a->key);
	pfree(a->score);
	*a = b;
}

static void acc_add(struct acc *a, int32 chunk, double part)
{
	size_t i;
	if (2 * (a->n + 1) > a->cap)
		acc_grow(a);
	for (i = slot_of(chunk, a->cap); a->key[i] != EMPTY_KEY; i = (i + 1) & (a->cap - 1))
		if (a->key[i] == chunk) {
			a->score[i] += part;
			return;
		}
	a->key[i] = chunk;
	a->score[i] = part;
	a->n++;
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

/* The k best of a (all when k >= a->n), best first; *n their count. */
static struct hit *top_k(const struct acc *a, size_t k, size_t *n)
{
	size_t m = Min(k, a->n), c = 0;
	struct hit *h = palloc_extended((m ? m : 1) * sizeof(struct hit), MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < a->cap; i++) {
		struct hit x;
		if (a->key[i] == EMPTY_KEY)
			continue;
		x.chunk = (int32)a->key[i];
		x.score = a->score[i];
		if (c < m) {
			h[c++] = x;
			if (c == m)
				for (size_t j = m / 2 + 1; j-- > 0;)
					sift(h, m, j);
		} else if (m && better(&x, &h[0])) {
			h[0] = x;
			sift(h, m, 0);
		}
	}
	qsort(h, c, sizeof(*h), hit_cmp);
	*n = c;
	return h;
}

static int int8_cmp(const void *pa, const void *pb)
{
	int64 a = *(const int64 *)pa, b = *(const int64 *)pb;
	return a < b ? -1 : a > b;
}

/*
 * The postings' term index: a valid B-tree without predicate or expressions whose first key
 * is term and which holds chunk_id, tf and len (as keys or INCLUDE columns); pos[] gets their
 * positions in it. Migration 0004 makes ragload_bm25_postings_term_idx; a reindex's copy has
 * another name, so the index is found by what it holds.
 */
static Oid term_index(Relation heap, AttrNumber pos[3])
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
				errhint("ragload_bm25_sql() ranks without it; `ragload init` makes it.")));
	return found;
}

/* N and the average length, as ragload_bm25_sql computes them */
static void collection(double *n, double *avglen)
{
	bool null1, null2;
	double len;
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR, (errmsg("ragload: SPI_connect failed")));
	if (SPI_execute(STATS_SQL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR, (errmsg("ragload: cannot read ragload_bm25_stats")));
	*n = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null1));
	len = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
						  &null2));
	SPI_finish();
	/* sum(total_len)::float8 / greatest(sum(n), 1): the divisor a numeric cast to float8 */
	*avglen = len / (*n > 1 ? *n : 1);
}

/* growable postings of one term */
struct plist {
	int32 *chunk, *tf, *len;
	size_t n, cap;
};

static void plist_push(struct plist *p, int32 chunk, int32 tf, int32 len)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 4096;
		p->chunk = p->cap ? repalloc_huge(p->chunk, cap * sizeof(int32))
				  : palloc_extended(cap * sizeof(int32), MCXT_ALLOC_HUGE);
		p->tf = p->cap ? repalloc_huge(p->tf, cap * sizeof(int32))
			       : palloc_extended(cap * sizeof(int32), MCXT_ALLOC_HUGE);
		p->len = p->cap ? repalloc_huge(p->len, cap * sizeof(int32))
				: palloc_extended(cap * sizeof(int32), MCXT_ALLOC_HUGE);
		p->cap = cap;
	}
	p->chunk[p->n] = chunk;
	p->tf[p->n] = tf;
	p->len[p->n] = len;
	p->n++;
}

/* term's postings visible to snap into p (emptied first) */
static void read_postings(IndexScanDesc sd, TupleTableSlot *slot, Buffer *vm, const AttrNumber pos[3],
			  int64 term, struct plist *p)
{
	ScanKeyData key;
	ItemPointer tid;
	size_t seen = 0;

	p->n = 0;
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(term));
	index_rescan(sd, &key, 1, NULL, 0);
	while ((tid = index_getnext_tid(sd, ForwardScanDirection)) != NULL) {
		bool n1, n2, n3;
		Datum c, t, l;
		if ((++seen & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		/* as an index-only scan: the heap tuple only where the page is not all-visible */
		if (!VM_ALL_VISIBLE(sd->heapRelation, ItemPointerGetBlockNumber(tid), vm)) {
			if (!index_fetch_heap(sd, slot))
				continue;
			ExecClearTuple(slot);
			if (sd->xs_heap_continue)
				elog(ERROR, "ragload: non-MVCC snapshots are not supported");
		}
		c = index_getattr(sd->xs_itup, pos[0], sd->xs_itupdesc, &n1);
		t = index_getattr(sd->xs_itup, pos[1], sd->xs_itupdesc, &n2);
		l = index_getattr(sd->xs_itup, pos[2], sd->xs_itupdesc, &n3);
		if (n1 || n2 || n3)
			continue;  /* NOT NULL columns: never */
		plist_push(p, DatumGetInt32(c), DatumGetInt32(t), DatumGetInt32(l));
	}
}

Datum pg_ragload_bm25_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *)fcinfo->resultinfo;
	ArrayType *arr;
	Datum *elems;
	bool *nulls;
	int nelems;
	int64 *terms;
	size_t nterms = 0, nhits;
	int32 k;
	double k1, b, n, avglen;
	struct acc acc;
	struct plist pl = {0};
	struct hit *hits;
	AttrNumber pos[3];
	Oid relid;
	Relation heap, ix;
	IndexScanDesc sd;
	TupleTableSlot *slot;
	Buffer vm = InvalidBuffer;
	double avg;

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
	k1 = PG_GETARG_FLOAT8(2);
	b = PG_GETARG_FLOAT8(3);
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

	/* the postings first, then the statistics: reindex's swap locks them in that order */
	relid = RangeVarGetRelid(makeRangeVar(NULL, POSTINGS, -1), AccessShareLock, false);
	heap = table_open(relid, NoLock);
	ix = index_open(term_index(heap, pos), AccessShareLock);
	collection(&n, &avglen);
	avg = avglen > 1e-9 ? avglen : 1e-9;  /* greatest(s.avglen, 1e-9) */

	sd = index_beginscan(heap, ix, GetActiveSnapshot(), 1, 0);
	slot = table_slot_create(heap, NULL);

	sd->xs_want_itup = true;
	acc_init(&acc, 4096);
	for (size_t i = 0; i < nterms;) {
		size_t j = i;
		while (j < nterms && terms[j] == terms[i])
			j++;
		CHECK_FOR_INTERRUPTS();
		read_postings(sd, slot, &vm, pos, terms[i], &pl);
		if (pl.n > 0) {
			/* q.qtf * ln(1 + (s.n - d.df + 0.5) / (d.df + 0.5)) */
			double qtf = (double)(j - i), df = (double)pl.n;
			double idf = qtf * log(1 + (n - df + 0.5) / (df + 0.5));
			for (size_t p = 0; p < pl.n; p++) {
				double tf = pl.tf[p];
				double part = rint(4294967296.0 * idf * tf * (k1 + 1) /
						   (tf + k1 * (1 - b + b * (double)pl.len[p] / avg))) /
					      4294967296.0;
				acc_add(&acc, pl.chunk[p], part);
			}
		}
		i = j;
	}
	index_endscan(sd);
	if (BufferIsValid(vm))
		ReleaseBuffer(vm);
	ExecDropSingleTupleTableSlot(slot);
	index_close(ix, NoLock);
	table_close(heap, NoLock);

	hits = top_k(&acc, (size_t)k, &nhits);
	for (size_t i = 0; i < nhits; i++) {
		Datum values[2] = {Int32GetDatum(hits[i].chunk), Float8GetDatum(hits[i].score)};
		bool isnull[2] = {false, false};
		tuplestore_putvalues(rsi->setResult, rsi->setDesc, values, isnull);
	}
	return (Datum)0;
}
