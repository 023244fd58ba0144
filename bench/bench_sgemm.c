/* bench_sgemm.c -- sgemm rate: large squares (the peak) and the shapes of
 * one stage step (d=256, 4 heads, d_ff=1024, T=256, B=8, V=5000).
 * Usage: bench_sgemm [reps]   (best of reps; run with OPENBLAS_NUM_THREADS=1) */
#include <stdio.h>
#include <stdlib.h>

#include "bench_sgemm.h"

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    bench_print_blas();
    double peak_cpu = 0.0, peak = bench_sgemm_peak(reps, &peak_cpu);
    printf("sgemm peak (best square)  %8.1f GFLOP/s (%.1f per CPU second)\n", peak, peak_cpu);
    bench_gemm g[32];
    int n = bench_stage_gemms(256, 1024, 4, 8, 256, 5000, g, 32);
    double flops = 0.0, secs = 0.0;
    for (int i = 0; i < n; i++) {
        double r = bench_sgemm_gflops(&g[i], reps, NULL);
        double f = 2.0 * g[i].m * g[i].n * (double)g[i].k * g[i].batch;
        flops += f;
        secs += f / (r * 1e9);
        printf("sgemm %-10s %c%c m=%-5d n=%-5d k=%-5d x%-3d %8.1f GFLOP/s (%.0f%% of peak)\n",
               g[i].what, g[i].ta ? 'T' : 'N', g[i].tb ? 'T' : 'N', g[i].m, g[i].n, g[i].k,
               g[i].batch, r, 100.0 * r / peak);
    }
    printf("sgemm stage shapes, flop-weighted: %.1f GFLOP/s (%.0f%% of peak)\n",
           flops / secs * 1e-9, 100.0 * flops / secs * 1e-9 / peak);
    /* for bench/bf16.sh: the step's MFU cannot exceed this share with this BLAS */
    printf("RESULT shapes_share %.2f\n", 100.0 * flops / secs * 1e-9 / peak);
    return 0;
}
