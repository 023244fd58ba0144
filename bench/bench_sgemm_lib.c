/* bench_sgemm_lib.c -- sgemm timing shared by the benchmarks (bench_sgemm.h). */
#include "bench_sgemm.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "strata/blas_check.h"
#include "strata/timer.h"

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_sgemm_gflops(const bench_gemm *g, int reps, double *cpu_gflops)
{
    size_t na = (size_t)g->m * g->k, nb = (size_t)g->k * g->n, nc = (size_t)g->m * g->n;
    float *a = malloc(sizeof(float) * na * g->batch);  /* [batch][m,k] or [k,m] */
    float *b = malloc(sizeof(float) * nb * g->batch);  /* [batch][k,n] or [n,k] */
    float *c = malloc(sizeof(float) * nc * g->batch);  /* [batch][m,n] */
    double best = -1.0, best_cpu = -1.0;
    if (!a || !b || !c) goto out;
    for (size_t i = 0; i < na * g->batch; i++) a[i] = (float)((i * 7919u) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < nb * g->batch; i++) b[i] = (float)((i * 104729u) % 1000) * 1e-3f - 0.5f;
    int lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
    for (int r = 0; r <= reps; r++) {
        double t0 = timer_now(), c0 = bench_cpu_now();
        for (int i = 0; i < g->batch; i++)
            cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                        g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0f, a + i * na,
                        lda, b + i * nb, ldb, 0.0f, c + i * nc, g->n);
        double dt = timer_now() - t0, dc = bench_cpu_now() - c0;
        double flop = 2.0 * g->m * g->n * (double)g->k * g->batch;
        if (r > 0 && flop / dt * 1e-9 > best) best = flop / dt * 1e-9; /* r == 0: warm-up */
        if (r > 0 && dc > 0 && flop / dc * 1e-9 > best_cpu) best_cpu = flop / dc * 1e-9;
    }
out:
    if (cpu_gflops) *cpu_gflops = best_cpu;
    free(a);
    free(b);
    free(c);
    return best;
}

void bench_print_blas(void)
{
    blas_info info;
    if (blas_probe(&info) != ST_OK) {
        printf("# blas_probe failed\n");
        return;
    }
    printf("# openblas_get_corename() = %s, threads = %d, avx2 = %d, avx512f = %d%s\n",
           info.core, info.threads, info.cpu_avx2, info.cpu_avx512,
           info.generic_core ? " (generic fallback core!)" : "");
}

double bench_sgemm_peak(int reps, double *cpu_peak)
{
    static const int sizes[] = {1024, 2048};
    double peak = 0.0, peak_cpu = 0.0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        bench_gemm g = {"square", sizes[i], sizes[i], sizes[i], false, false, 1};
        double rc = 0.0, r = bench_sgemm_gflops(&g, sizes[i] > 1024 ? (reps + 1) / 2 : reps, &rc);
        printf("sgemm square n=%-5d %8.1f GFLOP/s (%.1f per CPU second)\n", sizes[i], r, rc);
        if (r > peak) peak = r;
        if (rc > peak_cpu) peak_cpu = rc;
    }
    if (cpu_peak) *cpu_peak = peak_cpu;
    return peak;
}

int bench_stage_gemms(int d, int f, int h, int b, int t, int v, bench_gemm *out, int cap)
{
    int n = b * t, hd = d / h;
    /* Linear layers y[n,out] = x[n,in] W[out,in]^T: forward, dX = dY W,
     * dW = dY^T X. */
    struct { const char *what; int out, in; } lin[] = {
        {"qkv", 3 * d, d}, {"attn_out", d, d}, {"mlp_in", f, d}, {"mlp_out", d, f}, {"head", v, d}};
    int k = 0;
    for (size_t i = 0; i < sizeof lin / sizeof lin[0] && k + 3 <= cap; i++) {
        out[k++] = (bench_gemm){lin[i].what, n, lin[i].out, lin[i].in, false, true, 1};
        out[k++] = (bench_gemm){"  dX", n, lin[i].in, lin[i].out, false, false, 1};
        out[k++] = (bench_gemm){"  dW", lin[i].out, lin[i].in, n, true, false, 1};
    }
    /* Attention per (sequence, head): S = Q K^T, O = P V. */
    if (k + 2 <= cap) {
        out[k++] = (bench_gemm){"attn QK^T", t, t, hd, false, true, b * h};
        out[k++] = (bench_gemm){"attn PV", t, hd, t, false, false, b * h};
    }
    return k;
}
