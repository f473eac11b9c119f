/*
 * evalcmd.h — `ragload eval`: the evaluate stage run on the locked corpus, logged in the run
 * log, its exit status (1 on a regression beyond --fail-on-regression).
 */
#ifndef RAGLOAD_EVALCMD_H
#define RAGLOAD_EVALCMD_H

#include "../lib/config.h"
#include "../stages/evaluate.h"

/* ef_search, probes: the comma lists given on the command line, or NULL for the defaults of
 * a. Returns an exit status. */
int evalcmd_run(const struct rl_config *cfg, const struct eval_args *a, const char *ef_search,
		const char *probes);

#endif
