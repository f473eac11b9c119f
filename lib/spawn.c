/*
 * spawn.c — spawn_filter(): a helper program run on one document (spawn.h).
 *
 * How: the document is written to a memfd that becomes the child's stdin; its stdout is a
 * pipe read with poll() until EOF, the cap or the deadline; then the child is reaped (wait4,
 * for its CPU time), killed first when it overran. A child that closes its stdout and hangs
 * is still bounded by the deadline.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *data, size_t n)
{
	while (n) {
		ssize_t w = write(fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

int spawn_filter(const char *path, int search, char *const argv[], const char *data, size_t n,
		 double wall_s, size_t cap, struct buf *out, struct spawn_result *res)
{
	int memfd = -1, pfd[2] = { -1, -1 }, rc = 0, status = 0, err = 0;
	pid_t pid = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int fa_ok = 0, at_ok = 0;

	memset(res, 0, sizeof(*res));
	errno = 0;
	if ((memfd = memfd_create("ragload-spawn", MFD_CLOEXEC)) < 0 ||
	    write_all(memfd, data, n) || lseek(memfd, 0, SEEK_SET) != 0 || pipe2(pfd, O_CLOEXEC)) {
		err = errno ? errno : EIO;  /* a short write sets none */
		rc = RL_ERR;
		goto out;
	}
	sigset_t none, deflt;
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGXCPU);
	sigaddset(&deflt, SIGSEGV);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGINT);
	/* these return an error number; errno is not theirs to set */
	if ((err = posix_spawn_file_actions_init(&fa)) || !(fa_ok = 1) ||
	    (err = posix_spawn_file_actions_adddup2(&fa, memfd, 0)) ||
	    (err = posix_spawn_file_actions_adddup2(&fa, pfd[1], 1)) ||
	    (err = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)) ||
	    (err = posix_spawnattr_init(&at)) || !(at_ok = 1) ||
	    (err = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) ||
	    (err = posix_spawnattr_setsigmask(&at, &none)) ||
	    (err = posix_spawnattr_setsigdefault(&at, &deflt))) {
		rc = RL_ERR;
		goto out;
	}
	err = search ? posix_spawnp(&pid, path, &fa, &at, argv, environ)
		     : posix_spawn(&pid, path, &fa, &at, argv, environ);
	if (err) {
		pid = -1;
		rc = RL_ERR;
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	close(memfd);
	memfd = -1;

	double deadline = mono() + wall_s;
	for (;;) {
		double left = deadline - mono();
		if (left <= 0) {
			res->how = SPAWN_DEADLINE;
			break;
		}
		struct pollfd pf = { pfd[0], POLLIN, 0 };
		int pr = poll(&pf, 1, (int)(left * 1000) + 1);
		if (pr <= 0)
			continue;  /* EINTR, or the deadline: checked above */
		if ((rc = buf_reserve(out, 1 << 16))) {
			if (rc == RL_ELIMIT) {
				res->how = SPAWN_TOO_LONG;
				rc = 0;
			}
			break;
		}
		size_t room = out->cap - out->len - 1;
		if (room > cap - out->len)
			room = cap - out->len;
		ssize_t r = read(pfd[0], out->data + out->len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		out->len += (size_t)r;
		if (out->len >= cap) {
			res->how = SPAWN_TOO_LONG;
			break;
		}
	}
	if (res->how || rc)
		kill(pid, SIGKILL);
	/* its output is complete; it exits right after (or hangs: the deadline holds) */
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	for (;;) {
		pid_t w = wait4(pid, &status, res->how || rc ? 0 : WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (w == 0) {
			if (mono() >= deadline) {
				kill(pid, SIGKILL);
				res->how = SPAWN_DEADLINE;
				continue;
			}
			struct timespec ts = { 0, 2 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	pid = -1;
	res->status = status;
	res->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (memfd >= 0)
		close(memfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (rc == RL_ERR)
		errno = err;
	return rc;
}

int spawn_failed(const char *prog, const struct spawn_result *res, int max_ok, double wall_s,
		 size_t cap, const char *failed, char *why, size_t whylen)
{
	if (res->how == SPAWN_DEADLINE)
		snprintf(why, whylen, "%s did not finish within %.0f s", prog, wall_s);
	else if (res->how == SPAWN_TOO_LONG)
		snprintf(why, whylen, "%s wrote more than %zu bytes", prog, cap);
	else if (!WIFEXITED(res->status))
		snprintf(why, whylen, "%s was killed (signal %d)", prog, WTERMSIG(res->status));
	else if (WEXITSTATUS(res->status) > max_ok)
		snprintf(why, whylen, "%s %s (exit status %d)", prog, failed ? failed : "failed",
			 WEXITSTATUS(res->status));
	else
		return 0;
	return 1;
}
