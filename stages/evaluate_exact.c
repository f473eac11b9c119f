/*
 * evaluate_exact.c — the exact reference: every vector once by COPY TO BINARY (the heap split
 * into TID ranges, one connection each, one snapshot), streamed in blocks through cblas_sgemm
 * against all queries into bounded heaps per query; candidates re-scored in double precision
 * with pgvector's formula; then the agreement with an .ivecs ground truth, up to ties.
 */
#include "evaluate_private.h"
#include "index.h"
#include "query.h"
#include "../lib/db.h"
#include "../lib/blas.h"
#include "../lib/pgcopy.h"
#include "../lib/vecfile.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* n big-endian floats (a vector's binary form) into x: a loop the compiler turns into byte
 * shuffles, several floats at a time. */
static void be_floats(float *restrict x, const unsigned char *restrict p, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, p + 4 * (size_t)i, sizeof(u));
		u = __builtin_bswap32(u);
		memcpy(&x[i], &u, sizeof(u));
	}
}


/* Work list for the exact scan: which (query, slot) needs the distance to which document. */
struct need {
	int32_t kidx;
	uint32_t slot;
};

static int need_cmp(const void *x, const void *y)
{
	const struct need *a = x, *b = y;
	return (a->kidx > b->kidx) - (a->kidx < b->kidx);
}

/* ---- exact search --------------------------------------------------------------------------
 * The corpus is read once with COPY TO BINARY and streamed in blocks of EVAL_BLOCK_ROWS rows
 * through one cblas_sgemm against all queries. The heap of embeddings is split into one block
 * range per core (TID range scans, so each backend reads only its part), each part fetched on
 * its own connection by its own thread, all in one exported snapshot; the chunk -> document map
 * comes first, by a COPY of its own, so no backend joins (a join per part made the planner hash
 * the vectors). The parts' heaps are merged at the end. (Splitting by chunk_id % N instead was
 * slower than one connection: every backend still scanned and joined the whole table.)
 * Two bounded structures per query:
 *   ref   the k nearest by pgvector's distance in double precision: the ANN reference. The
 *         sgemm only filters; a row within its rounding slack of the heap's worst is scored
 *         exactly, so reference distances agree with the server's to float rounding.
 *   rank  the kc nearest by the sgemm's float distance (only when kc > k): the dense ranking
 *         for document-level quality, where a swap of two chunks 1e-7 apart changes nothing.
 *         A heap of 1000 per query does not stay in cache (its sift-downs were most of the
 *         scan), so it is a buffer of 2 kc candidates under a bar, cut back to the best kc by
 *         quickselect when full: appends are sequential, each cut is linear. */

struct scan_shared {
	const float *qs;                /* nq x dim queries as scanned (unit length for cosine) */
	const double *qn;               /* squared norms of qs */
	const struct need *need;        /* ground-truth work, sorted by kidx */
	size_t n_need;
	const uint8_t *need_mark;       /* per kidx: any need */
};

struct scan {
	const struct eval *e;
	const struct scan_shared *sh;
	PGconn *conn;
	unsigned long long lo, hi;      /* heap blocks [lo, hi) of embeddings; hi 0 = to the end */
	int rc;
	float *x;                       /* block rows */
	double *xn;                     /* squared norms; < 0 = a zero vector under cosine */
	int32_t *chunk, *doc;
	float *s;                       /* block x nq dot products */
	size_t nb, cap;
	struct hit *ref, *rank;         /* nq x k heaps, nq x 2kc buffers (rank NULL: kc == k) */
	int *ref_n, *rank_n;
	/* Each heap's entry bar, contiguous so the inner loop over queries stays in cache: the
	 * worst kept distance once full, +inf before (ref_top exact, rank_top as the sgemm sees) */
	double *ref_top;
	float *rank_top;
	float *gt_d;                    /* distances of the file's ids (part 0: e->gt_d), or NULL */
	float *gt_own;                  /* gt_d when this part owns it */
	long long zero_vectors;
	unsigned long long rows;
	int header_done, trailer;
};

/* pgvector's distances in double precision (l2_distance, vector_negative_inner_product,
 * vector_cosine_distance); na, nb are the squared norms. Four partial sums, because one
 * accumulator makes the loop wait on the adder's latency. */
static double dist_exact(enum dist k, const float *a, const float *b, int d, double na, double nb)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	int i = 0;
	if (k == DIST_L2) {
		for (; i + 4 <= d; i += 4) {
			double t0 = (double)a[i] - b[i], t1 = (double)a[i + 1] - b[i + 1];
			double t2 = (double)a[i + 2] - b[i + 2], t3 = (double)a[i + 3] - b[i + 3];
			s0 += t0 * t0;
			s1 += t1 * t1;
			s2 += t2 * t2;
			s3 += t3 * t3;
		}
		for (; i < d; i++)
			s0 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		return sqrt((s0 + s1) + (s2 + s3));
	}
	for (; i + 4 <= d; i += 4) {
		s0 += (double)a[i] * b[i];
		s1 += (double)a[i + 1] * b[i + 1];
		s2 += (double)a[i + 2] * b[i + 2];
		s3 += (double)a[i + 3] * b[i + 3];
	}
	for (; i < d; i++)
		s0 += (double)a[i] * b[i];
	double dot = (s0 + s1) + (s2 + s3);
	if (k == DIST_IP)
		return -dot;
	double sim = dot / sqrt(na * nb);
	sim = sim > 1 ? 1 : sim < -1 ? -1 : sim;
	return 1.0 - sim;
}

static int hit_after(const struct hit *a, const struct hit *b)
{
	return a->d > b->d || (a->d == b->d && a->chunk > b->chunk);
}

/* Max-heap (root = the worst kept neighbour). */
static void heap_push(struct hit *h, int *n, struct hit x)
{
	int i = (*n)++;
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!hit_after(&x, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

static void heap_replace_top(struct hit *h, int n, struct hit x)
{
	int i = 0;
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct hit *big = &x;
		if (l < n && hit_after(&h[l], big)) {
			m = l;
			big = &h[l];
		}
		if (r < n && hit_after(&h[r], big))
			m = r;
		if (m == i)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = x;
}

/* Moves the m best of h[0..n) (hit order) into h[0..m), in no particular order: quickselect. */
static void hit_select(struct hit *h, int n, int m)
{
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		struct hit piv = h[lo + (hi - lo) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (hit_after(&piv, &h[i]))
				i++;
			while (hit_after(&h[j], &piv))
				j--;
			if (i <= j) {
				struct hit t = h[i];
				h[i++] = h[j];
				h[j--] = t;
			}
		}
		if (m - 1 <= j)
			hi = j;
		else if (m - 1 >= i)
			lo = i;
		else
			break;
	}
}

/* Cuts a rank buffer back to its best kc and raises its bar to the worst of those. */
static void rank_cut(struct hit *h, int *n, float *top, int kc)
{
	if (*n <= kc)
		return;
	hit_select(h, *n, kc);
	*n = kc;
	float worst = h[0].d;
	for (int i = 1; i < kc; i++)
		worst = h[i].d > worst ? h[i].d : worst;
	*top = worst;
}

/* Offers x to a bounded heap of cap entries. */
static void heap_offer(struct hit *h, int *n, int cap, struct hit x)
{
	if (*n < cap)
		heap_push(h, n, x);
	else if (hit_after(&h[0], &x))
		heap_replace_top(h, *n, x);
}

int eval_hit_cmp(const void *x, const void *y)
{
	const struct hit *a = x, *b = y;
	return hit_after(a, b) ? 1 : hit_after(b, a) ? -1 : 0;
}

static int chunk_doc_cmp(const void *x, const void *y)
{
	const struct chunk_doc *a = x, *b = y;
	return (a->chunk > b->chunk) - (a->chunk < b->chunk);
}

/* The document of a chunk (from the exact scan's map), or -1. */
int32_t eval_chunk_doc(const struct eval *e, int32_t chunk)
{
	struct chunk_doc key = { chunk, 0 };
	const struct chunk_doc *m = bsearch(&key, e->cmap, e->n_cmap, sizeof(key), chunk_doc_cmp);
	return m ? m->doc : -1;
}

/* One block of corpus rows against every query. */
static void exact_block(struct scan *s)
{
	const struct eval *e = s->e;
	const struct scan_shared *sh = s->sh;
	size_t nb = s->nb, nq = e->nq;
	int d = e->dim, k = e->k, kc = e->kc;
	if (nb == 0)
		return;
	for (size_t i = 0; i < nb; i++) {
		float *x = s->x + i * d;
		double n2 = 0;
		for (int j = 0; j < d; j++)
			n2 += (double)x[j] * x[j];
		if (e->dist == DIST_COSINE) {
			if (n2 == 0) {  /* pgvector's cosine is NaN here; its indexes skip the row */
				s->xn[i] = -1;
				s->zero_vectors++;
				continue;
			}
			float inv = (float)(1.0 / sqrt(n2));
			n2 = 0;  /* the norm of the stored floats, so cosine stays exact */
			for (int j = 0; j < d; j++) {
				x[j] *= inv;
				n2 += (double)x[j] * x[j];
			}
		}
		s->xn[i] = n2;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)nq, d, 1.0f, s->x, d,
		    sh->qs, d, 0.0f, s->s, (int)nq);
	for (size_t i = 0; i < nb; i++) {
		if (s->xn[i] < 0)
			continue;
		const float *x = s->x + i * d;
		const float *dots = s->s + i * nq;
		double xn = s->xn[i];
		for (size_t q = 0; q < nq; q++) {
			double dot = dots[q], scale = sh->qn[q] + xn, approx;
			/* l2 compares squared distances: no square root per pair */
			approx = e->dist == DIST_COSINE ? 1.0 - dot : e->dist == DIST_IP ? -dot
										: scale - 2.0 * dot;
			if (s->rank && (float)approx <= s->rank_top[q]) {
				struct hit *h = s->rank + q * 2 * kc;
				h[s->rank_n[q]++] = (struct hit){ (float)approx, s->chunk[i], s->doc[i] };
				if (s->rank_n[q] == 2 * kc)
					rank_cut(h, &s->rank_n[q], &s->rank_top[q], kc);
			}
			double top = s->ref_top[q];
			if (top < INFINITY) {
				double thr = e->dist == DIST_COSINE ? top + EVAL_FILTER_TOL
					   : e->dist == DIST_IP ? top + EVAL_FILTER_TOL * scale
					   : top * top + EVAL_FILTER_TOL * scale;
				if (approx > thr)
					continue;
			}
			struct hit *h = s->ref + q * k;
			struct hit c = { (float)dist_exact(e->dist, sh->qs + q * d, x, d, sh->qn[q], xn),
					 s->chunk[i], s->doc[i] };
			heap_offer(h, &s->ref_n[q], k, c);
			if (s->ref_n[q] == k)
				s->ref_top[q] = h[0].d;
		}
		if (sh->n_need) {
			int32_t kx = eval_doc_kidx(&e->keys, s->doc[i]);
			if (kx < 0 || !sh->need_mark[kx])
				continue;
			struct need key = { kx, 0 };
			const struct need *p = bsearch(&key, sh->need, sh->n_need, sizeof(*p), need_cmp);
			while (p > sh->need && p[-1].kidx == kx)
				p--;
			for (; p < sh->need + sh->n_need && p->kidx == kx; p++) {
				size_t q = p->slot / (uint32_t)e->gt_k;
				float dd = (float)dist_exact(e->dist, sh->qs + q * d, x, d, sh->qn[q], xn);
				if (!(s->gt_d[p->slot] <= dd))  /* NaN (unset) or farther */
					s->gt_d[p->slot] = dd;
			}
		}
	}
	s->nb = 0;
}

/* Reads a binary COPY's header off the first message: 0, or -1 when it is not one. */
static int copy_header(const unsigned char *p, size_t n, size_t *pos)
{
	static const unsigned char sig[11] = "PGCOPY\n\377\r\n";
	if (n < 19 || memcmp(p, sig, 11) != 0)
		return -1;
	uint32_t ext = (uint32_t)pgcopy_get32(p + 15);
	if (ext > n - 19)
		return -1;
	*pos = 19 + ext;
	return 0;
}

/* Parses one CopyData message (rows of chunk_id int4, vector) into the block, scanning each
 * full block. The first message also carries the 19-byte header. */
static int exact_message(struct scan *s, const unsigned char *p, size_t n)
{
	int dim_want = s->e->dim;
	size_t pos = 0;
	if (!s->header_done) {
		if (copy_header(p, n, &pos)) {
			log_error("eval: COPY of embeddings: bad binary header");
			return RL_ERR;
		}
		s->header_done = 1;
	}
	while (pos < n) {
		if (n - pos < 2)
			goto bad;
		int16_t nf = pgcopy_get16(p + pos);
		pos += 2;
		if (nf == -1) {
			s->trailer = 1;
			return 0;
		}
		if (nf != 2 || n - pos < 14 || pgcopy_get32(p + pos) != 4)
			goto bad;
		int32_t chunk = pgcopy_get32(p + pos + 4);
		pos += 8;
		int32_t len = pgcopy_get32(p + pos);
		int dim = pgcopy_get16(p + pos + 4);
		pos += 4;
		if (len < 4 || (size_t)len > n - pos || dim != dim_want || len != 4 + 4 * dim) {
			log_error("eval: chunk %d: vector of dimension %d, expected %d", chunk, dim,
				  dim_want);
			return RL_ERR;
		}
		float *x = s->x + s->nb * dim;
		be_floats(x, p + pos + 4, dim);
		pos += (size_t)len;
		s->chunk[s->nb] = chunk;
		s->doc[s->nb] = eval_chunk_doc(s->e, chunk);
		s->rows++;
		if (++s->nb == s->cap)
			exact_block(s);
	}
	return 0;
bad:
	log_error("eval: COPY of embeddings: malformed row after %llu rows", s->rows);
	return RL_ERR;
}

/* Every chunk with its document, into e->cmap sorted by chunk id. */
static int chunk_map_fetch(struct eval *e, PGconn *c)
{
	PGresult *r = PQexec(c, "COPY (SELECT chunk_id, doc_id FROM chunks) TO STDOUT (FORMAT BINARY)");
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		log_error("eval: COPY of chunks: %s", PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	PQclear(r);
	int rc = 0, header = 0;
	size_t cap = 0;
	for (;;) {
		char *msg = NULL;
		int len = PQgetCopyData(c, &msg, 0);
		if (len == -1)
			break;
		if (len < 0) {
			log_error("eval: COPY of chunks: %s", PQerrorMessage(c));
			rc = RL_ERR;
			break;
		}
		const unsigned char *p = (const unsigned char *)msg;
		size_t n = (size_t)len, pos = 0;
		if (!rc && !header) {
			if (copy_header(p, n, &pos))
				rc = RL_ERR;
			header = 1;
		}
		while (!rc && pos + 2 <= n) {
			int16_t nf = pgcopy_get16(p + pos);
			if (nf == -1)
				break;
			if (nf != 2 || n - pos < 18 || pgcopy_get32(p + pos + 2) != 4 ||
			    pgcopy_get32(p + pos + 10) != 4) {
				rc = RL_ERR;
				break;
			}
			if (e->n_cmap == cap) {
				size_t nc = cap ? cap * 2 : 4096;
				struct chunk_doc *m = realloc(e->cmap, nc * sizeof(*m));
				if (!m) {
					rc = RL_ENOMEM;
					break;
				}
				e->cmap = m;
				cap = nc;
			}
			e->cmap[e->n_cmap++] = (struct chunk_doc){ pgcopy_get32(p + pos + 6),
								   pgcopy_get32(p + pos + 14) };
			pos += 18;
		}
		if (rc == RL_ERR && pos < n)
			log_error("eval: COPY of chunks: malformed row after %zu rows", e->n_cmap);
		PQfreemem(msg);  /* after an error keep draining, so the connection stays usable */
	}
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("eval: COPY of chunks: %s", PQresultErrorMessage(r));
			rc = RL_ERR;
		}
		PQclear(r);
	}
	if (!rc)
		qsort(e->cmap, e->n_cmap, sizeof(*e->cmap), chunk_doc_cmp);
	return rc;
}

/* The COPY, streamed block by block. */
static int scan_run(struct scan *s)
{
	char sql[256];
	int at = snprintf(sql, sizeof(sql), "COPY (SELECT chunk_id, embedding_vector FROM embeddings");
	if (s->lo)
		at += snprintf(sql + at, sizeof(sql) - (size_t)at, " WHERE ctid >= '(%llu,0)'", s->lo);
	if (s->hi)
		at += snprintf(sql + at, sizeof(sql) - (size_t)at, " %s ctid < '(%llu,0)'",
			       s->lo ? "AND" : "WHERE", s->hi);
	snprintf(sql + at, sizeof(sql) - (size_t)at, ") TO STDOUT (FORMAT BINARY)");
	PGresult *r = PQexec(s->conn, sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		log_error("eval: COPY of embeddings: %s", PQresultErrorMessage(r));
		PQclear(r);
		return RL_ERR;
	}
	PQclear(r);
	int rc = 0;
	for (;;) {
		char *msg = NULL;
		int len = PQgetCopyData(s->conn, &msg, 0);
		if (len == -1)
			break;
		if (len < 0) {
			log_error("eval: COPY of embeddings: %s", PQerrorMessage(s->conn));
			rc = RL_ERR;
			break;
		}
		if (!rc)
			rc = exact_message(s, (const unsigned char *)msg, (size_t)len);
		PQfreemem(msg);  /* after an error keep draining, so the connection stays usable */
	}
	while ((r = PQgetResult(s->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("eval: COPY of embeddings: %s", PQresultErrorMessage(r));
			rc = RL_ERR;
		}
		PQclear(r);
	}
	if (!rc)
		exact_block(s);
	return rc;
}

static int scan_init(struct scan *s, const struct eval *e, const struct scan_shared *sh,
		     PGconn *c, int part)
{
	size_t nq = e->nq;
	int d = e->dim;
	memset(s, 0, sizeof(*s));
	s->e = e;
	s->sh = sh;
	s->conn = c;
	s->cap = EVAL_BLOCK_ROWS;
	while (s->cap > 64 && s->cap * nq > EVAL_SCORE_FLOATS)
		s->cap /= 2;
	s->x = malloc(s->cap * d * sizeof(float));
	s->xn = malloc(s->cap * sizeof(double));
	s->chunk = malloc(s->cap * sizeof(int32_t));
	s->doc = malloc(s->cap * sizeof(int32_t));
	s->s = malloc(s->cap * nq * sizeof(float));
	s->ref = malloc(nq * (size_t)e->k * sizeof(struct hit));
	s->ref_n = calloc(nq, sizeof(int));
	s->ref_top = malloc(nq * sizeof(double));
	for (size_t q = 0; s->ref_top && q < nq; q++)
		s->ref_top[q] = INFINITY;
	if (e->kc > e->k) {
		s->rank = malloc(nq * 2 * (size_t)e->kc * sizeof(struct hit));
		s->rank_n = calloc(nq, sizeof(int));
		s->rank_top = malloc(nq * sizeof(float));
		for (size_t q = 0; s->rank_top && q < nq; q++)
			s->rank_top[q] = INFINITY;
	}
	s->gt_d = e->gt_d;
	if (part > 0 && e->gt_d) {  /* a copy of the unset distances, merged at the end */
		size_t n = e->nq * (size_t)e->gt_k;
		if (!(s->gt_own = malloc(n * sizeof(float))))
			return RL_ENOMEM;
		memcpy(s->gt_own, e->gt_d, n * sizeof(float));
		s->gt_d = s->gt_own;
	}
	if (!s->x || !s->xn || !s->chunk || !s->doc || !s->s || !s->ref || !s->ref_n ||
	    !s->ref_top || (e->kc > e->k && (!s->rank || !s->rank_n || !s->rank_top)))
		return RL_ENOMEM;
	return 0;
}

static void scan_release(struct scan *s)
{
	free(s->x);
	free(s->xn);
	free(s->chunk);
	free(s->doc);
	free(s->s);
	free(s->ref);
	free(s->ref_n);
	free(s->ref_top);
	free(s->rank);
	free(s->rank_n);
	free(s->rank_top);
	free(s->gt_own);
}

static void *scan_main(void *arg)
{
	struct scan *s = arg;
	s->rc = scan_run(s);
	return NULL;
}

/* Folds part b's neighbours, ground-truth distances and counts into part a. */
static void scan_merge(struct scan *a, struct scan *b)
{
	const struct eval *e = a->e;
	int k = e->k, kc = e->kc;
	for (size_t q = 0; q < e->nq; q++) {
		const struct hit *h = b->ref + q * k;
		for (int i = 0; i < b->ref_n[q]; i++)
			heap_offer(a->ref + q * k, &a->ref_n[q], k, h[i]);
		if (a->rank) {
			struct hit *ha = a->rank + q * 2 * kc, *hb = b->rank + q * 2 * kc;
			rank_cut(hb, &b->rank_n[q], &b->rank_top[q], kc);
			for (int i = 0; i < b->rank_n[q]; i++) {
				ha[a->rank_n[q]++] = hb[i];
				if (a->rank_n[q] == 2 * kc)
					rank_cut(ha, &a->rank_n[q], &a->rank_top[q], kc);
			}
		}
	}
	if (a->gt_d && b->gt_d)
		for (size_t i = 0, n = e->nq * (size_t)e->gt_k; i < n; i++)
			if (b->gt_d[i] <= b->gt_d[i] && !(a->gt_d[i] <= b->gt_d[i]))
				a->gt_d[i] = b->gt_d[i];  /* set in b, and unset or farther in a */
	a->rows += b->rows;
	a->zero_vectors += b->zero_vectors;
}

/* Ground-truth work: every (query, slot) of the file, grouped by document. */
static int exact_needs(const struct eval *e, struct need **need, size_t *n_need, uint8_t **mark)
{
	*need = NULL;
	*mark = NULL;
	*n_need = 0;
	if (!e->gt_kidx)
		return 0;
	size_t n = e->nq * (size_t)e->gt_k;
	*need = malloc(n * sizeof(**need));
	*mark = calloc(e->keys.n_keys ? e->keys.n_keys : 1, 1);
	if (!*need || !*mark)
		return RL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (e->gt_kidx[i] < 0)
			continue;
		(*need)[(*n_need)++] = (struct need){ (int32_t)e->gt_kidx[i], (uint32_t)i };
		(*mark)[e->gt_kidx[i]] = 1;
	}
	qsort(*need, *n_need, sizeof(**need), need_cmp);
	return 0;
}

/* The queries as the scan compares them: unit length for cosine (as pgvector's <=> takes
 * them), with each one's squared norm in qn. */
static void exact_queries(const struct eval *e, float *qs, double *qn)
{
	size_t nq = e->nq;
	int d = e->dim;
	memcpy(qs, e->qvec, nq * d * sizeof(float));
	for (size_t q = 0; q < nq; q++) {
		float *v = qs + q * d;
		double n2 = 0;
		for (int i = 0; i < d; i++)
			n2 += (double)v[i] * v[i];
		if (e->dist == DIST_COSINE && n2 > 0) {
			double inv = 1.0 / sqrt(n2);
			n2 = 0;
			for (int i = 0; i < d; i++) {
				v[i] = (float)(v[i] * inv);
				n2 += (double)v[i] * v[i];
			}
		}
		qn[q] = n2;
	}
}

/* One snapshot for the map and every part: a load committing meanwhile is seen by none. The
 * main connection's transaction is open; the parts join its exported snapshot. */
static int share_snapshot(PGconn *main, struct scan *sc, int parts)
{
	PGresult *r = db_query(main, "SELECT pg_export_snapshot()", 0, NULL);
	if (!r)
		return RL_ERR;
	char set[128];
	snprintf(set, sizeof(set), "SET TRANSACTION SNAPSHOT '%s'", PQgetvalue(r, 0, 0));
	PQclear(r);
	for (int i = 1; i < parts; i++)
		if (db_exec(sc[i].conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") ||
		    db_exec(sc[i].conn, set))
			return RL_ERR;
	return 0;
}

/* Nearest first, from the merged scan s: each query's ranking (kc chunks, true distances) and
 * its reference top k (chunk ids and distances for metric_ann_recall). */
static void exact_order(struct eval *e, struct scan *s)
{
	size_t nq = e->nq;
	int k = e->k, kc = e->kc;
	for (size_t q = 0; q < nq; q++) {
		struct hit *ref = s->ref + q * k;
		int nr = s->ref_n[q];
		qsort(ref, (size_t)nr, sizeof(*ref), eval_hit_cmp);
		if (kc > k) {
			struct hit *h = s->rank + q * 2 * kc, *out = e->exact + q * kc;
			rank_cut(h, &s->rank_n[q], &s->rank_top[q], kc);
			qsort(h, (size_t)s->rank_n[q], sizeof(*h), eval_hit_cmp);
			e->exact_n[q] = s->rank_n[q];
			for (int i = 0; i < e->exact_n[q]; i++) {
				out[i] = h[i];
				if (e->dist == DIST_L2)  /* the rank buffer holds squared distances */
					out[i].d = h[i].d > 0 ? sqrtf(h[i].d) : 0;
			}
		} else {
			memcpy(e->exact + q * kc, ref, (size_t)nr * sizeof(*ref));
			e->exact_n[q] = nr;
		}
		for (int i = 0; i < k; i++) {
			/* fewer than k only when zero vectors were skipped: pad with no-ids */
			e->ref_ids[q * k + i] = i < nr ? ref[i].chunk : -1 - i;
			e->ref_d[q * k + i] = i < nr ? ref[i].d : NAN;
		}
	}
}

/* The exact top-k (and the top-kc ranking) of every query, by one pass over every vector. */
int exact_search(struct eval *e)
{
	int rc = RL_ENOMEM;
	size_t nq = e->nq;
	int d = e->dim, k = e->k, kc = e->kc;
	struct scan sc[EVAL_SCAN_PARTS];
	pthread_t th[EVAL_SCAN_PARTS];
	int started[EVAL_SCAN_PARTS] = { 0 }, parts = 1, in_tx = 0;
	struct scan_shared sh = { 0 };
	float *qs = NULL;
	double *qn = NULL;
	struct need *need = NULL;
	uint8_t *mark = NULL;

	memset(sc, 0, sizeof(sc));
	if ((unsigned long long)nq * (k + 2 * kc) * sizeof(struct hit) > EVAL_HEAP_BYTES) {
		log_error("eval: %zu queries x %d neighbours exceed the memory limit: use "
			  "--max-queries", nq, kc);
		return RL_ELIMIT;
	}
	/* One part per core, each of at least EVAL_SCAN_PART_PAGES heap pages; its connection is
	 * opened before the clock starts, as the pool's are. */
	int ok = 0;
	int64_t pages = db_scalar_int(e->conn, "SELECT pg_relation_size('embeddings') / "
				      "current_setting('block_size')::int", 0, &ok);
	if (!ok)
		return RL_ERR;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	while (parts < EVAL_SCAN_PARTS && parts < ncpu && pages / (parts + 1) >= EVAL_SCAN_PART_PAGES)
		parts++;
	sc[0].conn = e->conn;
	for (int i = 1; i < parts; i++)
		if (!(sc[i].conn = db_connect(e->cfg->conninfo))) {
			rc = RL_ERR;
			goto out;
		}
	double t0 = now_seconds();
	qs = malloc(nq * d * sizeof(float));
	qn = malloc(nq * sizeof(double));
	e->exact = malloc(nq * (size_t)kc * sizeof(struct hit));
	e->exact_n = calloc(nq, sizeof(int));
	e->ref_ids = malloc(nq * k * sizeof(*e->ref_ids));
	e->ref_d = malloc(nq * k * sizeof(*e->ref_d));
	if (!qs || !qn || !e->exact || !e->exact_n || !e->ref_ids || !e->ref_d ||
	    exact_needs(e, &need, &sh.n_need, &mark))
		goto out;
	exact_queries(e, qs, qn);
	sh.qs = qs;
	sh.qn = qn;
	sh.need = need;
	sh.need_mark = mark;

	/* One snapshot for the map and every part: a load committing meanwhile is seen by none. */
	rc = RL_ERR;
	if (db_exec(e->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
		goto out;
	in_tx = 1;
	if ((parts > 1 && share_snapshot(e->conn, sc, parts)) ||
	    (rc = chunk_map_fetch(e, e->conn)))
		goto out;
	for (int i = 0; i < parts; i++) {
		PGconn *c = sc[i].conn;
		if ((rc = scan_init(&sc[i], e, &sh, c, i)))
			goto out;
		/* the last part runs to the end: pages added since the count are not in the
		 * snapshot anyway */
		sc[i].lo = (unsigned long long)(pages * i / parts);
		sc[i].hi = i + 1 < parts ? (unsigned long long)(pages * (i + 1) / parts) : 0;
	}
	/* One BLAS thread per part: each part is bound by its fetch, every backend needs a core,
	 * and BLAS threads waiting for a busy core made each sgemm several times slower. */
	blas_set_threads(1);
	for (int i = 1; i < parts; i++)
		if (!(started[i] = pthread_create(&th[i], NULL, scan_main, &sc[i]) == 0))
			sc[i].rc = RL_ERR;
	sc[0].rc = scan_run(&sc[0]);
	rc = 0;
	for (int i = 0; i < parts; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		started[i] = 0;
		if (sc[i].rc && !rc)
			rc = sc[i].rc;
	}
	if (rc)
		goto out;
	for (int i = 1; i < parts; i++)
		scan_merge(&sc[0], &sc[i]);

	exact_order(e, &sc[0]);
	e->zero_vectors = sc[0].zero_vectors;
	e->exact_seconds = now_seconds() - t0;
	if (e->zero_vectors)
		log_warn("eval: %lld zero vectors skipped (cosine distance is undefined for them)",
			 e->zero_vectors);
	log_info("eval: exact top-%d of %zu queries over %llu vectors in %.3f s (%d connection%s)",
		 kc, nq, sc[0].rows, e->exact_seconds, parts, parts == 1 ? "" : "s");
out:
	for (int i = 0; i < parts; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		if (in_tx && sc[i].conn && PQstatus(sc[i].conn) == CONNECTION_OK)
			db_exec(sc[i].conn, rc ? "ROLLBACK" : "COMMIT");
		if (i > 0 && sc[i].conn)
			PQfinish(sc[i].conn);
		scan_release(&sc[i]);
	}
	free(qs);
	free(qn);
	free(need);
	free(mark);
	return rc;
}

/* ragload's exact top-k documents of each query against the file, up to ties: a file id
 * matches when it is among ours or its distance ties our k-th (metric_ann_recall's rule). */
int truth_check(struct eval *e)
{
	int k = e->gt_k;
	int64_t *ours = malloc((size_t)e->kc * sizeof(*ours));
	float *our_d = malloc((size_t)e->kc * sizeof(*our_d));
	if (!ours || !our_d) {
		free(ours);
		free(our_d);
		return RL_ENOMEM;
	}
	for (size_t q = 0; q < e->nq; q++) {
		if (e->qord[q] >= e->gt_rows)
			continue;
		const struct hit *h = e->exact + q * e->kc;
		int n = 0;
		for (int i = 0; i < e->exact_n[q] && n < k; i++) {  /* documents by their best chunk */
			int64_t kx = eval_doc_kidx(&e->keys, h[i].doc);
			int seen = 0;
			for (int j = 0; j < n && !seen; j++)
				seen = ours[j] == kx;
			if (!seen) {
				ours[n] = kx;
				our_d[n++] = h[i].d;
			}
		}
		e->gt_checked++;
		if (n < k)
			continue;  /* the corpus has fewer than k documents within reach: disagrees */
		double rec = metric_ann_recall(e->gt_kidx + q * k, e->gt_d + q * k, k, ours, our_d, k,
					       -1);
		if (rec >= 1.0 - 1e-12)
			e->gt_agree++;
	}
	free(ours);
	free(our_d);
	e->gt_agreement = e->gt_checked ? (double)e->gt_agree / (double)e->gt_checked : NAN;
	char msg[PATH_MAX + 128];
	snprintf(msg, sizeof(msg), "eval: ground truth %s: ragload's exact top-%d agrees on %zu of "
		 "%zu queries (up to ties)", e->a->ground_truth, k, e->gt_agree, e->gt_checked);
	if (e->gt_agree < e->gt_checked)
		log_warn("%s", msg);  /* a different metric, corpus or file order: worth a look */
	else
		log_info("%s", msg);
	return 0;
}
