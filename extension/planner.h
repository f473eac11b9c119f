/* planner.h — ragload.hidden_indexes and its planner hook (planner.c), set up by _PG_init. */
#ifndef RAGLOAD_EXT_PLANNER_H
#define RAGLOAD_EXT_PLANNER_H

void planner_init(void);

#endif
