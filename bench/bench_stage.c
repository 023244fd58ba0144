/* bench_stage.c -- one stage step of the C engine: frozen substrate ->
 * 1 trainable block -> trainable head, forward + backward + clip + AdamW,
 * at d=256, 4 heads, d_ff=1024, T=256, B=8, V=5000 (override with
 * `bench_stage steps reps D H F T B V [float32|bfloat16]`).  The sgemm peak is measured in the
 * same run and the step's model FLOP utilisation (MFU) is quoted against it.
 *
 * FLOPs per step (only matrix products; norms, softmax, GELU, AdamW and
 * cross-entropy are not counted):
 *   linear layers: 6 * P * N with P = 4 D^2 + 2 D F + V D matrix parameters
 *                  (qkv, attn_out, mlp_in, mlp_out, head) and N = B T tokens
 *                  (forward 2PN, input gradients 2PN, weight gradients 2PN;
 *                  the qkv input gradient is real work: ln1_g needs it);
 *   attention:     Q K^T and P V over the causal triangle, T (T+1) / 2
 *                  query-key pairs per sequence and head, 2 hd flops each
 *                  product: forward 2 * 2 hd H B T(T+1)/2, backward twice
 *                  that = 6 D B T (T+1) in all.
 * Counting the full T x T square instead (what PaLM's MFU formula does)
 * would add 6 D B T (T-1) and flatter the result by ~3 % at these sizes.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_sgemm.h"
#include "strata/adamw.h"
#include "strata/model.h"
#include "strata/ops.h"
#include "strata/rng.h"
#include "strata/timer.h"

static int arg(int argc, char **argv, int i, int def)
{
    return argc > i ? atoi(argv[i]) : def;
}

int main(int argc, char **argv)
{
    int steps = arg(argc, argv, 1, 5), reps = arg(argc, argv, 2, 3);
    int D = arg(argc, argv, 3, 256), H = arg(argc, argv, 4, 4), F = arg(argc, argv, 5, 1024);
    int T = arg(argc, argv, 6, 256), B = arg(argc, argv, 7, 8), V = arg(argc, argv, 8, 5000);
    /* argv[9]: float32 (default) or bfloat16 (train.precision) */
    const char *prec = argc > 9 ? argv[9] : "float32";
    st_status st = ST_OK;
    model m;
    model_ws ws;
    memset(&m, 0, sizeof m);
    memset(&ws, 0, sizeof ws);
    float *E = malloc(sizeof(float) * V * D);          /* [V, D] frozen substrate */
    int32_t *tok = malloc(sizeof(int32_t) * B * (T + 1)); /* [B, T+1] */
    CHECK_ALLOC(E);
    CHECK_ALLOC(tok);

    /* BENCH_SKIP_PEAK=1 skips the sgemm peak (for profiling the step alone). */
    bool skip_peak = getenv("BENCH_SKIP_PEAK") && atoi(getenv("BENCH_SKIP_PEAK"));
    bench_print_blas();
    if (strcmp(prec, "bfloat16") == 0 && op_precision_set(OP_BF16) != 0)
        FAIL(ST_EUSAGE, "bfloat16: %s", op_bf16_unavailable());
    if (strcmp(prec, "bfloat16") != 0 && strcmp(prec, "float32") != 0)
        FAIL(ST_EUSAGE, "precision %s: expected float32 or bfloat16", prec);
    printf("# precision %s\n", prec);
    double peak_cpu = NAN, peak = skip_peak ? NAN : bench_sgemm_peak(reps, &peak_cpu);

    rng_t rng;
    rng_init(&rng, 7, 0, RNG_TEST);
    for (int v = 0; v < V; v++) {
        double n2 = 0.0;
        for (int j = 0; j < D; j++) {
            E[v * D + j] = (float)rng_normal(&rng);
            n2 += (double)E[v * D + j] * E[v * D + j];
        }
        for (int j = 0; j < D; j++) E[v * D + j] /= (float)sqrt(n2);
    }
    for (int i = 0; i < B * (T + 1); i++) tok[i] = (int32_t)rng_below(&rng, (uint64_t)V);

    model_dims d;
    model_dims_default(&d, D, H, F, V, 1);
    CHECK(model_init(&m, &d, E, &rng));
    CHECK(model_add_block(&m, &rng));
    m.blocks[0].trainable = true;
    m.head.trainable = true;
    CHECK(model_train_setup(&m));
    CHECK(model_ws_init(&ws, &d, B, T, 1, 0));
    param_arena *arenas[8];
    int na = model_trainable_arenas(&m, arenas, 8);
    adamw_cfg cfg = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1.0};
    model_batch batch = {.tokens = tok, .targets = tok + 1, .ld = T + 1};

    /* Phases of the best repetition: block forward, head forward + loss (the
     * engine fuses the dlogits computation into the training loss pass),
     * zero-grad + backward (head and block), clip + AdamW. */
    enum { PH_BLOCK, PH_HEAD, PH_BWD, PH_ADAM, PH_N };
    static const char *ph_name[PH_N] = {"block forward", "head fwd + loss (+dlogits)",
                                        "zero grad + backward", "clip + AdamW"};
    double ph[PH_N], ph_best[PH_N] = {0};
    double loss0 = NAN, loss = NAN, best = INFINITY, best_cpu = INFINITY;
    long t = 0;
    for (int r = 0; r <= reps; r++) {
        double t0 = timer_now(), c0 = bench_cpu_now();
        memset(ph, 0, sizeof ph);
        for (int s = 0; s < (r == 0 ? 1 : steps); s++) { /* r == 0: one warm-up step */
            double a = timer_now();
            CHECK(model_forward_blocks(&m, &ws, &batch, NULL, 0, 1, B, T, true));
            double b = timer_now();
            CHECK(model_forward_head(&m, &ws, model_ws_output(&ws), &batch, &loss, NULL));
            double c = timer_now();
            model_zero_grad(&m);
            CHECK(model_backward(&m, &ws));
            double e = timer_now();
            adamw_step(arenas, na, &cfg, 1e-3, ++t);
            double f = timer_now();
            ph[PH_BLOCK] += b - a;
            ph[PH_HEAD] += c - b;
            ph[PH_BWD] += e - c;
            ph[PH_ADAM] += f - e;
            if (t == 1) loss0 = loss;
        }
        double dt = (timer_now() - t0) / steps, dc = (bench_cpu_now() - c0) / steps;
        if (r > 0 && dc < best_cpu) best_cpu = dc;
        if (r > 0 && dt < best) {
            best = dt;
            for (int i = 0; i < PH_N; i++) ph_best[i] = ph[i] / steps;
        }
    }
    for (int i = 0; i < PH_N; i++)
        printf("  %-27s %8.4f s/step (%4.1f %%)\n", ph_name[i], ph_best[i], 100.0 * ph_best[i] / best);

    /* Peak again after the step: other jobs on a shared machine come and go,
     * and the higher of the two peaks gives the more conservative MFU. */
    double peak2_cpu = NAN, peak2 = skip_peak ? NAN : bench_sgemm_peak(reps, &peak2_cpu);
    if (peak2 > peak) peak = peak2;
    if (peak2_cpu > peak_cpu) peak_cpu = peak2_cpu;
    printf("sgemm peak (best square, before and after the step) %8.1f GFLOP/s "
           "(%.1f per CPU second)\n", peak, peak_cpu);

    double N = (double)B * T;
    double P = 4.0 * D * D + 2.0 * D * F + (double)V * D;
    double flops = 6.0 * P * N + 6.0 * D * (double)B * T * (T + 1);
    double rate = flops / best * 1e-9, rate_cpu = flops / best_cpu * 1e-9;
    printf("stage step (%s) D=%d H=%d F=%d T=%d B=%d V=%d: %.4f s/step (best of %d x %d steps; "
           "%.4f CPU s/step), loss %.4f -> %.4f\n", prec, D, H, F, T, B, V, best, reps, steps, best_cpu,
           loss0, loss);
    printf("stage step: %.2f GFLOP/step, %.1f GFLOP/s, MFU %.1f %% of the sgemm peak "
           "(target >= 60 %%)\n", flops * 1e-9, rate, 100.0 * rate / peak);
    printf("stage step per CPU second: %.1f GFLOP/s, MFU %.1f %% of the sgemm peak per CPU second\n",
           rate_cpu, 100.0 * rate_cpu / peak_cpu);
    if (!skip_peak) {
        printf("RESULT mfu_wall %.2f\n", 100.0 * rate / peak);
        printf("RESULT mfu_cpu %.2f\n", 100.0 * rate_cpu / peak_cpu);
        /* the step's tokens/s if every counted FLOP ran at the sgemm peak:
         * the ceiling of any ratio against this step (bench/bf16.sh) */
        printf("RESULT peak_tokens_per_s %.1f\n", N / (flops / (peak * 1e9)));
        printf("RESULT peak_tokens_per_cpu_s %.1f\n", N / (flops / (peak_cpu * 1e9)));
    }
    printf("RESULT tokens_per_s %.1f\n", N / best);
    printf("RESULT tokens_per_cpu_s %.1f\n", N / best_cpu);
out:
    if (st != ST_OK) fprintf(stderr, "bench_stage: %s\n", st_last_error());
    model_ws_free(&ws);
    model_free(&m);
    free(E);
    free(tok);
    return st == ST_OK ? 0 : 1;
}
