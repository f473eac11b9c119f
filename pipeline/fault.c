/*
 * fault.c — see fault.h. Only the test build defines RAGLOAD_FAULT_INJECTION.
 */
#include "fault.h"

#ifdef RAGLOAD_FAULT_INJECTION
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

void fault_after_commit(void)
{
	static _Atomic long commits;
	long n = fault_arg("kill_after_commits");
	if (n > 0 && ++commits == n)
		raise(SIGKILL);
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
