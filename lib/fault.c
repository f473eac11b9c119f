/*
 * fault.c — see fault.h. Only the test build defines RAGLOAD_FAULT_INJECTION.
 */
#include "fault.h"

#ifdef RAGLOAD_FAULT_INJECTION
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static long fault_arg(const char *name)
{
	const char *f = getenv("RAGLOAD_FAULT");
	size_t n = strlen(name);
	if (!f || strncmp(f, name, n) || f[n] != '=')
		return -1;
	return atol(f + n + 1);
}

static pthread_mutex_t commit_mu = PTHREAD_MUTEX_INITIALIZER;

/* Every COMMIT of a loader is bracketed by fault_before_commit and fault_after_commit (also
 * when it fails, with committed = 0), so with kill_after_commits no second loader's COMMIT
 * can be in flight when the kill lands. */
void fault_before_commit(void)
{
	if (fault_arg("kill_after_commits") > 0)
		pthread_mutex_lock(&commit_mu);
}

void fault_after_commit(int committed)
{
	static _Atomic long commits;
	long n = fault_arg("kill_after_commits");
	if (n <= 0)
		return;
	if (committed && ++commits == n)
		raise(SIGKILL);
	pthread_mutex_unlock(&commit_mu);
}

void fault_in_copy(PGconn *conn)
{
	static _Atomic long copies;
	long n = fault_arg("drop_in_copy");
	if (n > 0 && ++copies == n)
		shutdown(PQsocket(conn), SHUT_RDWR);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int fault_injection_disabled;
#endif
