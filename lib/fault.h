/*
 * fault.h — fault injection for deterministic crash and connection-loss tests.
 *
 * Compiled in only with -DRAGLOAD_FAULT_INJECTION (the build/faults binary that tests use);
 * in every other build these are empty inline functions. Set RAGLOAD_FAULT to one of:
 *   kill_after_commits=N    SIGKILL this process right after the N-th committed batch. With
 *                           several loader connections, the faults build sends one COMMIT
 *                           at a time (fault_before_commit) so that no other batch commits
 *                           between the N-th and the kill.
 *   drop_in_copy=N          shut the connection's socket during the N-th COPY (connection loss)
 */
#ifndef RAGLOAD_FAULT_H
#define RAGLOAD_FAULT_H

#include <libpq-fe.h>

#ifdef RAGLOAD_FAULT_INJECTION
void fault_before_commit(void);
void fault_after_commit(int committed);
void fault_in_copy(PGconn *conn);
#else
static inline void fault_before_commit(void) {}
static inline void fault_after_commit(int committed) { (void)committed; }
static inline void fault_in_copy(PGconn *conn) { (void)conn; }
#endif

#endif
