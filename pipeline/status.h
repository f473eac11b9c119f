/*
 * status.h — `ragload status`: what is live (corpus counts, model, distance, indexes, schema
 * version) and the last runs from the run log.
 */
#ifndef RAGLOAD_STATUS_H
#define RAGLOAD_STATUS_H

#include "../lib/config.h"

/* Prints on stdout. Returns an exit status. */
int status_run(const struct rl_config *cfg);

#endif
