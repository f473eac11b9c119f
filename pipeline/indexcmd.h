/*
 * indexcmd.h — `ragload index`: the vector and full-text indexes built after loading.
 */
#ifndef RAGLOAD_INDEXCMD_H
#define RAGLOAD_INDEXCMD_H

#include "../lib/config.h"
#include "../stages/index.h"

/* Returns an exit status. */
int indexcmd_run(const struct rl_config *cfg, const struct index_args *a);

#endif
