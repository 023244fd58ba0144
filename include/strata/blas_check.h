/* blas_check.h -- BLAS sanity at the start of every computing command.
 *
 * Logs the OpenBLAS core and thread count, checks a 64x64 cblas_sgemm
 * against a naive loop, and warns once when OpenBLAS runs a generic
 * fallback kernel on a CPU that has AVX2/AVX-512 (OpenBLAS 0.3.21 misdetects
 * some recent CPUs and runs Prescott kernels at a fifth of the speed).
 */
#ifndef STRATA_BLAS_CHECK_H
#define STRATA_BLAS_CHECK_H

#include <stdbool.h>

#include "strata/error.h"

typedef struct blas_info {
    char core[64];     /* openblas_get_corename() */
    int threads;       /* openblas_get_num_threads() */
    bool cpu_avx2;     /* CPU supports AVX2 */
    bool cpu_avx512;   /* CPU supports AVX-512F */
    bool generic_core; /* core is a slow fallback (Prescott, Core2, ...) */
    const char *suggest_coretype; /* value for OPENBLAS_CORETYPE, or NULL */
    double max_err;    /* max |sgemm - naive| of the 64x64 check */
} blas_info;

/* Fill `info`; ST_EBLAS if sgemm disagrees with the naive product. */
st_status blas_probe(blas_info *info);
/* One BLAS thread per rank unless the user set OPENBLAS_NUM_THREADS or
 * OMP_NUM_THREADS: strata parallelises over MPI ranks (one per core), and
 * BLAS threads on top of that fight for the same cores. */
void blas_default_threads(void);
/* blas_default_threads + blas_probe + log the result (rank 0) + warn about
 * a fallback core. */
st_status blas_check(void);
/* True for OpenBLAS core names that are generic fallbacks on x86-64. */
bool blas_core_is_generic(const char *core);
/* This process's sgemm rate in FLOP/s (the peak behind MFU): the best of
 * 256x256x256 products repeated for at least min_seconds (and 20 times),
 * after one untimed warm-up product.  0 when out of memory. */
double blas_sgemm_peak(double min_seconds);

/* ---- choosing OPENBLAS_CORETYPE by measurement -------------------------
 * The core is fixed when libopenblas loads, so each candidate is measured in
 * a child process started with OPENBLAS_CORETYPE=<candidate> (the program
 * strata-blas-core, src/cli/blas_core.c, which the job scripts and
 * bench/env.sh run when the user has not set OPENBLAS_CORETYPE).  CPU flags
 * only say which kernels can run, not which is fastest: on AMD Zen 5 the
 * AVX2 Haswell kernels beat the AVX-512 SkylakeX ones. */
enum { BLAS_MAX_CANDIDATES = 8 };
/* OpenBLAS core names whose kernels this CPU can run (per its flags), the
 * likely-fast ones first; returns how many (<= cap). */
int blas_core_candidates(const char **out, int cap);
/* sgemm GFLOP/s per CPU second of the loaded core (CPU time, so other jobs
 * on a shared machine do not count): best of `reps` timed rounds (after a
 * warm-up) of a 1024^3 square and the head-like 2048x4096x256 product.
 * < 0 when out of memory. */
double blas_sgemm_rate(int reps);
/* Index of the largest rate among n (NaN and values <= 0 are failed
 * measurements and never win; ties go to the earlier one), -1 if none. */
int blas_pick_fastest(const double *rate, int n);

#endif
