/*
 * blas.h — how OpenBLAS runs in this process: its kernels (re-executing the process with
 * OPENBLAS_CORETYPE where Debian's OpenBLAS misjudges the CPU) and its thread count.
 */
#ifndef RAGLOAD_BLAS_H
#define RAGLOAD_BLAS_H

/* Called first thing in main() by every program that runs ragload's BLAS work (ragload,
 * bench/stages.c), so that they all run the same kernels. May re-execute the process with
 * argv; returns when it does not. */
void blas_tune(char **argv);

/* Sets OpenBLAS's thread count (0 = leave as is); with 1, its idle thread pool is stopped. */
void blas_set_threads(int n);

#endif
