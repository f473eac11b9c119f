/*
 * blas.c — OpenBLAS's kernels and threads for the whole process (lib/blas.h).
 */
#include "blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

/*
 * Debian 12's OpenBLAS (0.3.21) does not recognise newer AVX-512 CPUs (e.g. Zen 4/5) and falls
 * back to its Haswell kernels, at 0.55-0.6x the sgemm speed. OpenBLAS picks its kernels when it
 * loads, so the only fix from inside is to re-run this process with OPENBLAS_CORETYPE set. Done
 * only when the CPU has every AVX-512 subset the SkylakeX kernels use and the user has not set
 * OPENBLAS_CORETYPE; RAGLOAD_BLAS_REEXEC stops any loop.
 */
void blas_tune(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (getenv("OPENBLAS_CORETYPE") || getenv("RAGLOAD_BLAS_REEXEC"))
		return;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
	    !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
		return;
	const char *core = openblas_get_corename();
	if (!core || (strcasecmp(core, "haswell") && strcasecmp(core, "zen")))
		return;
	setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
	setenv("RAGLOAD_BLAS_REEXEC", "1", 1);
	execv("/proc/self/exe", argv);
	unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with what we have */
#else
	(void)argv;
#endif
}

/* OpenBLAS's own shutdown of its thread pool (exported, not in cblas.h; weak, so another BLAS
 * links too). Its pool threads spin on sched_yield for ~0.1 s after start and after each job
 * before they sleep; with one thread per caller they never get work, and on 2 cores their spin
 * took a third of a 40 ms exact scan. OpenBLAS starts the pool again when a call wants it. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void blas_set_threads(int n)
{
	if (n <= 0)
		return;
	openblas_set_num_threads(n);
	if (n == 1 && blas_thread_shutdown_)
		blas_thread_shutdown_();
}
