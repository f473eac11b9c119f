/*
 * init.h — `ragload init`: the schema (versioned migrations, applied once each) and, with
 * --roles, the least-privilege roles.
 */
#ifndef RAGLOAD_INIT_H
#define RAGLOAD_INIT_H

#include "../lib/config.h"

/* Returns an exit status. */
int init_run(const struct rl_config *cfg, int roles);

#endif
