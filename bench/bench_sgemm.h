/* bench_sgemm.h -- single-precision GEMM throughput for the benchmarks.
 *
 * The MFU of a training step is quoted against the sgemm rate measured in
 * the same process, so it is honest about the machine it ran on (shared
 * cores, OpenBLAS core type, frequency).  Every rate is the best of `reps`
 * timed calls (after one warm-up call): the machine is shared, and the
 * best repetition is the least disturbed one.  Rates are reported both per
 * wall-clock second and per second of this process's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID): the latter excludes the time the scheduler
 * gave the core to other jobs, so it is the steadier number on a loaded
 * machine (it still includes cache and memory-bandwidth interference).
 */
#ifndef STRATA_BENCH_SGEMM_H
#define STRATA_BENCH_SGEMM_H

#include <stdbool.h>

typedef struct bench_gemm {
    const char *what; /* label, e.g. "qkv fwd" */
    int m, n, k;      /* C[m,n] = op(A)[m,k] op(B)[k,n] */
    bool ta, tb;      /* transpose A / B (row-major) */
    int batch;        /* independent products per call (attention: B*H) */
} bench_gemm;

/* Seconds of CPU time used by this process. */
double bench_cpu_now(void);
/* Best GFLOP/s of 2*m*n*k*batch flops over `reps` calls (wall clock); the
 * best per CPU second goes to *cpu_gflops (may be NULL).  < 0 on OOM. */
double bench_sgemm_gflops(const bench_gemm *g, int reps, double *cpu_gflops);
/* Print the OpenBLAS core, threads and CPU flags as `# ` lines. */
void bench_print_blas(void);
/* Best rate over large square products (n = 1024, 2048): the peak that
 * MFU is quoted against (wall clock; per CPU second in *cpu_peak, may be
 * NULL).  Prints one line per size. */
double bench_sgemm_peak(int reps, double *cpu_peak);
/* The GEMMs of one stage step of a block of width d, MLP width f, heads h,
 * batch b of t tokens and vocabulary v (forward and backward): fills
 * `out` (capacity `cap`) and returns how many. */
int bench_stage_gemms(int d, int f, int h, int b, int t, int v, bench_gemm *out, int cap);

#endif
