/*
 * metrics.h — relevance judgments (qrels) and the retrieval metrics computed from them.
 *
 * What: a qrels loader (BEIR TSV or TREC, told apart by content), graded lookups, and the
 * per-query metrics the evaluate stage reports: nDCG@k exactly as trec_eval's ndcg_cut,
 * MRR@k, Recall@k; ANN recall against an exact top-k with a tie rule; reciprocal rank fusion
 * for the hybrid method; latency percentiles; the TREC run-file line.
 * How: judgments live in one open-addressing hash table keyed by (query index, document id)
 * with XXH3, strings in an arena, so a 1M-line qrels file loads in well under a second and a
 * lookup is one probe sequence. Metrics are pure functions of one ranked list.
 * Why pure: these numbers decide which index settings ship, so they are unit-tested against
 * hand-computed values without a database.
 *
 * Averaging over queries is the caller's: trec_eval (and BEIR through pytrec_eval) averages
 * over the queries present in the qrels; a query whose judgments are all rel <= 0 scores 0
 * on every metric here (it has nothing to find), and qrels_n_relevant() lets the caller
 * decide whether to count it.
 */
#ifndef RAGLOAD_METRICS_H
#define RAGLOAD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* ---- qrels ----------------------------------------------------------------------------- */

struct qrels;

/* Limits that keep a corrupt or hostile file from exhausting memory. */
#define QRELS_MAX_LINE 65536          /* bytes in one line, newline included */
#define QRELS_MAX_JUDGMENTS 200000000 /* judgments in one file */

enum qrels_format { QRELS_BEIR_TSV = 1, QRELS_TREC = 2 };

/*
 * qrels_load — reads path, which is either
 *   BEIR TSV: a header line "query-id<TAB>corpus-id<TAB>score", then "qid<TAB>docid<TAB>rel"
 *             (any first line of three tab-separated fields whose third is not an integer is
 *             taken as the header; a headerless file is read the same way), or
 *   TREC:     "qid iter docid rel", whitespace separated, iter ignored.
 * The format is told from the first non-blank line, never from the file name. rel is an
 * integer ("1.0" is accepted, "0.5" is not); rel <= 0 means judged not relevant. Blank lines,
 * CRLF endings and a leading UTF-8 byte order mark are accepted.
 * A (qid, docid) pair judged twice keeps the last judgment, as pytrec_eval's dict does.
 * Malformed lines are errors logged as "<path>:<line>: <what>".
 * Returns 0 and *out (the caller frees it with qrels_free), or negative (*out = NULL).
 */
int qrels_load(const char *path, struct qrels **out);
void qrels_free(struct qrels *q);

enum qrels_format qrels_format(const struct qrels *q);
/* Judgments kept (after duplicates collapsed). */
size_t qrels_n_judgments(const struct qrels *q);
/* Query ids in first-seen file order: i in [0, qrels_n_queries). Strings owned by q. */
size_t qrels_n_queries(const struct qrels *q);
const char *qrels_query(const struct qrels *q, size_t i);
/* The graded judgment of docid for qid; 0 when not judged (trec_eval treats both alike). */
int qrels_rel(const struct qrels *q, const char *qid, const char *docid);
/* Documents with rel > 0 for qid; 0 for an unknown query. */
size_t qrels_n_relevant(const struct qrels *q, const char *qid);

/* ---- per-query metrics ------------------------------------------------------------------
 * docids: one query's ranking at document level, best first, no duplicates (use
 * metric_collapse_* on chunk rankings first). Only the first min(n, k) entries count.
 * Every metric is 0 for a query that is unknown or has no document with rel > 0.
 */

/* nDCG@k as trec_eval ndcg_cut: gain = rel for rel > 0, discount log2(rank + 1) with ranks
 * from 1; the ideal DCG ranks every judged document with rel > 0 by rel, cut at k. */
double metric_ndcg(const struct qrels *q, const char *qid, const char *const *docids, size_t n,
		   int k);
/* 1/rank of the first document with rel > 0 within the top k, else 0 (trec_eval recip_rank). */
double metric_mrr(const struct qrels *q, const char *qid, const char *const *docids, size_t n,
		  int k);
/* Documents with rel > 0 within the top k / all documents with rel > 0 for qid. */
double metric_recall(const struct qrels *q, const char *qid, const char *const *docids, size_t n,
		     int k);

/* ---- chunk ranking -> document ranking -----------------------------------------------------
 * A document ranks where its best chunk ranks: the output keeps each key's first occurrence,
 * in input order. out must have room for n entries; it may be the input array itself (the
 * write position never passes the read position). metric_collapse_keys stores pointers to the
 * input strings (no copies: they live as long as keys do). Returns 0 or RL_ENOMEM.
 */
int metric_collapse_ids(const int64_t *ids, size_t n, int64_t *out, size_t *n_out);
int metric_collapse_keys(const char *const *keys, size_t n, const char **out, size_t *n_out);

/* ---- ANN recall ------------------------------------------------------------------------------
 * metric_ann_recall — recall@k of an approximate result against the exact top-k.
 * exact_ids/exact_dists: the exact top-k, nearest first (exactly k entries; pass k = corpus size
 * when the corpus is smaller than the wanted k). ann_ids/ann_dists: the index's answer, nearest
 * first, n_ann entries of which the first min(n_ann, k) count.
 * A distinct ANN id is a hit when
 *   - it is among the exact top-k ids, or
 *   - its distance d is at most the true k-th distance d_k, or within the tie tolerance of it:
 *       |d - d_k| <= rel_tol * max(|d_k|, METRIC_ANN_TIE_FLOOR)
 * so that a vector at the same distance as the k-th (a tie the exact sort broke the other way)
 * or one that differs only by float rounding between BLAS and PostgreSQL does not count as a
 * miss. The floor turns the relative tolerance into an absolute one (rel_tol * 0.1, 1e-6 at the
 * default) for near-zero k-th distances, where relative rounding error is unbounded.
 * rel_tol < 0 means METRIC_ANN_REL_TOL. ann_dists or exact_dists NULL: ids only.
 * Returns hits / k in [0, 1], or -1 for k <= 0 or out of memory.
 */
#define METRIC_ANN_REL_TOL 1e-5
#define METRIC_ANN_TIE_FLOOR 0.1
double metric_ann_recall(const int64_t *ann_ids, const float *ann_dists, int n_ann,
			 const int64_t *exact_ids, const float *exact_dists, int k, double rel_tol);

/* Whether a mean recall reaches target: a mean of per-query fractions carries float rounding
 * (300 queries at 0.99 sum to 0.98999999999999...), so it counts as reached within 1e-9. */
#define METRIC_RECALL_EPS 1e-9
static inline int metric_recall_reaches(double recall, double target)
{
	return recall >= target - METRIC_RECALL_EPS;
}

/* ---- reciprocal rank fusion ------------------------------------------------------------------
 * rrf_fuse — fuses two rankings (best first) with score(id) = sum over lists of
 * 1 / (k_rrf + rank), rank from 1 (Cormack et al. 2009; k_rrf <= 0 means RRF_K = 60).
 * Only an id's first occurrence in a list counts. Output: every distinct id, best score first;
 * equal scores keep the order of first appearance in the interleaving a[0], b[0], a[1], b[1]...
 * (so a better single rank wins, and list a wins a full tie). out needs room for na + nb;
 * scores (may be NULL) the same. Returns 0 or RL_ENOMEM.
 */
#define RRF_K 60
int rrf_fuse(const int64_t *a, size_t na, const int64_t *b, size_t nb, int k_rrf, int64_t *out,
	     double *scores, size_t *n_out);

/* ---- latency ---------------------------------------------------------------------------------
 * metric_percentile — the p-th percentile (p in [0, 100]) of n samples. SORTS samples IN PLACE
 * (ascending) so repeated calls for p50/p95/p99 cost one sort. Linear interpolation between the
 * closest ranks: h = (n - 1) * p / 100, result = x[floor h] + (h - floor h) * (x[ceil h] -
 * x[floor h]) — Hyndman & Fan type 7, numpy's default. NaN for n == 0 or p out of range.
 */
double metric_percentile(double *samples, size_t n, double p);

/* ---- TREC run files --------------------------------------------------------------------------
 * metric_run_line — appends "qid Q0 docid rank score tag\n" to out. trec_eval re-sorts a run by
 * score (ties by docid), so give strictly decreasing scores, higher = better, when the rank
 * order must survive. Returns 0, RL_ERR when a field is empty or contains whitespace (the
 * format is whitespace separated), or the buf error.
 */
int metric_run_line(struct buf *out, const char *qid, const char *docid, int rank, double score,
		    const char *tag);

#endif
