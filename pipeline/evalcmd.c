/*
 * evalcmd.c — `ragload eval`:
 *
 *   check_args(); db_open_corpus(lock); db_run_begin(); evaluate_run(); db_run_end();
 *
 * What can be checked before any work is checked first, so a typo costs no minutes. The lock
 * keeps an ingest or index run from changing what is measured.
 */
#include "evalcmd.h"
#include "../lib/common.h"
#include "../lib/db.h"
#include "../lib/blas.h"

#include <errno.h>
#include <stdlib.h>

/* Parses "10,20,40" into out (at most max values within [lo, hi]). Returns the count, or RL_ERR. */
static int parse_list(const char *s, int lo, int hi, int *out, int max)
{
	int n = 0;
	while (*s) {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (end == s || errno || v < lo || v > hi || n == max || (*end && *end != ','))
			return RL_ERR;
		out[n++] = (int)v;
		s = *end ? end + 1 : end;
	}
	return n;
}

static int check_args(struct eval_args *a, const char *ef_search, const char *probes)
{
	if (ef_search && (a->n_ef_search = parse_list(ef_search, 1, 1000, a->ef_search,
						      EVAL_MAX_SETTINGS)) <= 0) {
		log_error("--ef-search %s: expected a comma list of 1..1000 (at most %d)", ef_search,
			  EVAL_MAX_SETTINGS);
		return RL_ERR;
	}
	if (probes && (a->n_probes = parse_list(probes, 1, 32768, a->probes,
						EVAL_MAX_SETTINGS)) <= 0) {
		log_error("--probes %s: expected a comma list of 1..32768 (at most %d)", probes,
			  EVAL_MAX_SETTINGS);
		return RL_ERR;
	}
	if (a->k < 1 || a->k > EVAL_CHUNKS) {
		log_error("-k %d: expected 1..%d", a->k, EVAL_CHUNKS);
		return RL_ERR;
	}
	return 0;
}

int evalcmd_run(const struct rl_config *cfg, const struct eval_args *given, const char *ef_search,
		const char *probes)
{
	struct eval_args a = *given;
	struct eval_summary sum = {0};
	PGconn *conn = NULL;
	if (check_args(&a, ef_search, probes))
		return EXIT_USAGE;
	/* One BLAS thread from the start: every sgemm here is small or runs one per connection,
	 * and OpenBLAS's idle pool would otherwise spin beside the backends while we connect. */
	blas_set_threads(1);
	int status = db_open_corpus(cfg->conninfo, 1, 0, cfg->load.lock_wait_s, &conn);
	if (status != EXIT_DONE)
		return status;
	char *inputs[3];
	int n_in = 0;
	inputs[n_in++] = (char *)a.queries;
	if (a.qrels)
		inputs[n_in++] = (char *)a.qrels;
	if (a.ground_truth)
		inputs[n_in++] = (char *)a.ground_truth;
	int64_t run_id = db_run_begin(conn, "eval", inputs, n_in);
	int rc = evaluate_run(cfg, conn, &a, &sum);
	status = rc || sum.regressed ? EXIT_FATAL : EXIT_DONE;
	if (sum.regressed)
		log_error("eval: a quality or recall figure dropped by more than %g since the "
			  "previous report", a.fail_on_regression);
	if (run_id >= 0) {
		char counts[160];
		snprintf(counts, sizeof(counts), "{\"queries\": %zu, \"quality_rows\": %zu, "
			 "\"ann_rows\": %zu}", sum.queries, sum.quality_rows, sum.ann_rows);
		db_run_end(conn, run_id, status == EXIT_DONE ? "done" : sum.regressed ? "regressed"
			   : "failed", counts, NULL);
	}
	PQfinish(conn);
	return status;
}
