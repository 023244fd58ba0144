/* blas_check.c -- BLAS sanity check (see blas_check.h). */
#include "strata/blas_check.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "strata/log.h"
#include "strata/rng.h"
#include "strata/timer.h"

bool blas_core_is_generic(const char *core)
{
    static const char *generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                    "Atom", "Katmai", "Coppermine", "Northwood", "Banias"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(core, generic[i]) == 0) return true;
    return false;
}

st_status blas_probe(blas_info *info)
{
    enum { N = 64 };
    st_status st = ST_OK;
    float *a = NULL, *b = NULL, *c = NULL;
    memset(info, 0, sizeof *info);
    snprintf(info->core, sizeof info->core, "%s", openblas_get_corename());
    info->threads = openblas_get_num_threads();
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    info->cpu_avx2 = __builtin_cpu_supports("avx2");
    info->cpu_avx512 = __builtin_cpu_supports("avx512f");
#endif
    info->generic_core = blas_core_is_generic(info->core);
    if (info->generic_core && info->cpu_avx512)
        info->suggest_coretype = "SkylakeX";
    else if (info->generic_core && info->cpu_avx2)
        info->suggest_coretype = "Haswell";

    a = malloc(sizeof(float) * N * N);
    b = malloc(sizeof(float) * N * N);
    c = malloc(sizeof(float) * N * N);
    CHECK_ALLOC(a);
    CHECK_ALLOC(b);
    CHECK_ALLOC(c);
    rng_t r;
    rng_init(&r, 42, 0, RNG_TEST);
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)(rng_uniform(&r) - 0.5);
        b[i] = (float)(rng_uniform(&r) - 0.5);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
    double max_err = 0.0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < N; k++) s += (double)a[i * N + k] * b[k * N + j];
            double e = fabs(s - c[i * N + j]);
            if (!(e <= max_err)) max_err = e; /* also catches NaN */
        }
    info->max_err = max_err;
    /* |a|,|b| <= 0.5 and 64 terms: float rounding stays far below 1e-4. */
    if (!(max_err < 1e-4))
        FAIL(ST_EBLAS,
             "OpenBLAS sgemm gives wrong results (max error %.3g on a 64x64 product, core %s); "
             "try another OPENBLAS_CORETYPE or OpenBLAS build",
             max_err, info->core);
out:
    free(a);
    free(b);
    free(c);
    return st;
}

void blas_default_threads(void)
{
    if (getenv("OPENBLAS_NUM_THREADS") == NULL && getenv("OMP_NUM_THREADS") == NULL)
        openblas_set_num_threads(1);
}

st_status blas_check(void)
{
    blas_info info;
    blas_default_threads();
    st_status st = blas_probe(&info);
    if (st != ST_OK) return st;
    log_info("OpenBLAS core %s, %d thread%s, sgemm check ok (max err %.1e)", info.core,
             info.threads, info.threads == 1 ? "" : "s", info.max_err);
    if (info.suggest_coretype && getenv("OPENBLAS_CORETYPE") == NULL)
        log_warn("OpenBLAS uses its generic %s kernels on a CPU with %s; set "
                 "OPENBLAS_CORETYPE (e.g. %s; `strata-blas-core` measures which core is "
                 "fastest here) for several times faster matrix products",
                 info.core, info.cpu_avx512 ? "AVX-512" : "AVX2", info.suggest_coretype);
    return ST_OK;
}

double blas_sgemm_peak(double min_seconds)
{
    enum { N = 256, MIN_REPS = 20 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
          *c = malloc(sizeof(float) * N * N);
    double best = 0.0;
    if (a && b && c) {
        for (int i = 0; i < N * N; i++) a[i] = b[i] = 1e-3f * (float)(i % 97);
        /* One untimed product first: OpenBLAS allocates its buffers and the
         * core leaves its idle clock.  Then the best of many short products
         * (0.3 ms each at 100 GFLOP/s) for min_seconds: on a loaded machine
         * some run within one time slice, while a few long ones would all be
         * cut by other processes -- an underestimated peak makes MFU exceed 1.
         * 256^3 runs as fast as 512^3 or 1024^3 with OpenBLAS on one thread. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        double t_end = timer_now() + min_seconds;
        for (int rep = 0; rep < MIN_REPS || timer_now() < t_end; rep++) {
            double t0 = timer_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
            double dt = timer_now() - t0;
            double rate = dt > 0 ? 2.0 * N * N * (double)N / dt : 0.0;
            if (rate > best) best = rate;
        }
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* ---- choosing OPENBLAS_CORETYPE by measurement -------------------------- */

int blas_core_candidates(const char **out, int cap)
{
    const char *list[BLAS_MAX_CANDIDATES];
    int n = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) list[n++] = "Haswell";
    if (__builtin_cpu_supports("avx2")) list[n++] = "Zen";
    if (__builtin_cpu_supports("avx512f")) list[n++] = "SkylakeX";
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16"))
        list[n++] = "Cooperlake";
    if (n == 0 && __builtin_cpu_supports("avx")) list[n++] = "Sandybridge";
#endif
    int k = n < cap ? n : cap;
    for (int i = 0; i < k; i++) out[i] = list[i];
    return k;
}

int blas_pick_fastest(const double *rate, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (rate[i] > 0 && (best < 0 || rate[i] > rate[best])) best = i; /* NaN fails both */
    return best;
}

/* Seconds of CPU time of this process: on a shared machine the time the
 * scheduler gives other jobs does not count against a candidate core. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double blas_sgemm_rate(int reps)
{
    /* C [m, n] = A [m, k] B [k, n]: a square and the output head's shape */
    static const int shape[][3] = {{1024, 1024, 1024}, {2048, 4096, 256}};
    enum { NS = sizeof shape / sizeof shape[0] };
    double best[NS], flop = 0.0, time = 0.0, rate = -1.0;
    float *a = malloc(sizeof(float) * 2048 * 1024), *b = malloc(sizeof(float) * 1024 * 4096),
          *c = malloc(sizeof(float) * 2048 * 4096);
    if (!a || !b || !c) goto out;
    for (size_t i = 0; i < (size_t)2048 * 1024; i++) a[i] = (float)((i * 7919u) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < (size_t)1024 * 4096; i++) b[i] = (float)((i * 104729u) % 1000) * 1e-3f - 0.5f;
    for (int s = 0; s < NS; s++) {
        int m = shape[s][0], n = shape[s][1], k = shape[s][2];
        best[s] = INFINITY;
        for (int r = 0; r <= reps; r++) { /* r == 0: warm-up */
            double t0 = cpu_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
            double dt = cpu_now() - t0;
            if (r > 0 && dt < best[s]) best[s] = dt;
        }
        flop += 2.0 * m * n * (double)k;
        time += best[s];
    }
    rate = flop / time * 1e-9;
out:
    free(a);
    free(b);
    free(c);
    return rate;
}
