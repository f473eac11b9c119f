/*
 * spawn.h — run a helper program as a filter: bytes in on its stdin, its stdout back.
 *
 * What: spawn_filter() hands data to a program as a memfd on its stdin (no pipe to keep fed,
 * no temporary file), reads its stdout whole, up to cap bytes, and waits at most wall_s
 * seconds of wall clock before SIGKILL. stderr goes to /dev/null. The program is started
 * with posix_spawn (never fork() of this threaded process) with a clean signal mask.
 * Why: the PDF worker (stages/pdf.c) and the man-page formatter (stages/man.c) are run this
 * way; a program that hangs, loops or floods its output costs one document, never the run.
 */
#ifndef RAGLOAD_SPAWN_H
#define RAGLOAD_SPAWN_H

#include "common.h"

#include <stddef.h>

struct spawn_result {
	int how;          /* SPAWN_EXITED, SPAWN_DEADLINE (killed at wall_s), SPAWN_TOO_LONG */
	int status;       /* wait status (WIFEXITED, WEXITSTATUS, WIFSIGNALED...) when exited */
	double cpu_s;     /* its user + system CPU time */
};
#define SPAWN_EXITED 0
#define SPAWN_DEADLINE 1
#define SPAWN_TOO_LONG 4

/*
 * Runs path (a full path; with search set, a name looked up in PATH) with argv on data/n;
 * appends its stdout to out, at most cap bytes (more: killed, SPAWN_TOO_LONG). Returns 0 (see
 * res), RL_ENOMEM, or RL_ERR when it could not be started (errno says why: ENOENT when the
 * program is missing).
 */
int spawn_filter(const char *path, int search, char *const argv[], const char *data, size_t n,
		 double wall_s, size_t cap, struct buf *out, struct spawn_result *res);

/*
 * 0 when res is a run that ended well (it exited with a status of at most max_ok), else 1
 * with why saying what went wrong: "PROG did not finish within S s", "PROG wrote more than N
 * bytes" (wall_s and cap as spawn_filter had them), "PROG FAILED (exit status X)" (failed:
 * NULL for "failed", or e.g. "could not read it as rtf"), "PROG was killed (signal X)".
 */
int spawn_failed(const char *prog, const struct spawn_result *res, int max_ok, double wall_s,
		 size_t cap, const char *failed, char *why, size_t whylen);

#endif
