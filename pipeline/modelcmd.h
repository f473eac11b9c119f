/*
 * modelcmd.h — `ragload model fit|export|import`, and the fit pass that ingest also runs on
 * the first load of an empty corpus.
 */
#ifndef RAGLOAD_MODELCMD_H
#define RAGLOAD_MODELCMD_H

#include "../lib/config.h"
#include "../lib/db.h"
#include "../lib/progress.h"
#include "../models/model.h"

struct modelcmd_args {
	const char *sub;              /* fit | export | import */
	char *const *paths;           /* fit: the inputs; export, import: the one FILE */
	int n_paths;
	const char *output;           /* fit: -o FILE */
};

/* Returns an exit status. */
int modelcmd_run(const struct rl_config *cfg, const struct modelcmd_args *a);

/*
 * Fits the built-in model on inputs (read -> normalize -> chunk, the first fit_sample_docs
 * documents). meter (may be NULL) shows how far the reading got and is rewound at the end, for
 * the load pass that follows. Returns 0 and *out (caller frees with model_free), or negative.
 */
int model_fit_inputs(const struct rl_config *cfg, char *const *paths, int n_paths,
		     struct input_meter *meter, struct model **out);

/*
 * From now on the progress line (the fit's) also goes, at most once a second, into the run's
 * row of ragload_runs, counts = {"progress": line, "progress_at": time, "progress_pid": the
 * backend holding the run's lock}, for `ragload status` (another process) to show; conn must
 * stay open and idle in between. fit_progress_note(NULL, -1) stops it and removes the keys. Nothing when run_id < 0.
 */
void fit_progress_note(PGconn *conn, int64_t run_id);

#endif
