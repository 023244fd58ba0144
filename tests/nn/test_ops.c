/* test_ops.c -- every forward/backward kernel: values against naive or known
 * references, gradients against central differences (gradcheck.h states the
 * method and tolerance). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "harness.h"
#include "strata/lora.h"
#include "strata/ops.h"

/* ---- matmul ------------------------------------------------------------- */

typedef struct mm_ctx {
    int N, in, out;
    float *x, *W, *y, *r;
} mm_ctx;

static double mm_loss(void *c_)
{
    mm_ctx *c = c_;
    op_matmul_forward(c->y, c->x, c->W, c->N, c->in, c->out, 1.0f, 0.0f);
    return gc_dot(c->r, c->y, (size_t)c->N * c->out);
}

static void matmul_matches_naive_and_gradcheck(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 1, 0, RNG_TEST);
    mm_ctx c = {.N = 7, .in = 9, .out = 5};
    c.x = gc_alloc(63), c.W = gc_alloc(45), c.y = gc_alloc(35), c.r = gc_alloc(35);
    float *y2 = gc_alloc(35), *dx = gc_alloc(63), *dW = gc_alloc(45);
    gc_fill(c.x, 63, 1, &rg);
    gc_fill(c.W, 45, 1, &rg);
    gc_fill(c.r, 35, 1, &rg);
    gc_fill(c.y, 35, 1, &rg);
    memcpy(y2, c.y, 35 * sizeof(float));
    /* beta = 1 accumulates */
    op_matmul_forward(c.y, c.x, c.W, 7, 9, 5, 0.5f, 1.0f);
    op_matmul_forward_naive(y2, c.x, c.W, 7, 9, 5, 0.5f, 1.0f);
    for (int i = 0; i < 35; i++) assert_float_equal(c.y[i], y2[i], 1e-5);
    /* backward adds: start from 1 and subtract it again */
    for (int i = 0; i < 63; i++) dx[i] = 1.0f;
    op_matmul_backward(dx, dW, c.r, c.x, c.W, 7, 9, 5, 1.0f);
    for (int i = 0; i < 63; i++) dx[i] -= 1.0f;
    assert_true(gc_check("matmul dx", c.x, dx, 63, mm_loss, &c, 100));
    assert_true(gc_check("matmul dW", c.W, dW, 45, mm_loss, &c, 100));
    free(c.x), free(c.W), free(c.y), free(c.r), free(y2), free(dx), free(dW);
}

/* ---- bf16 matrix products (gemm.c) -------------------------------------- */

/* ref [M, N] = alpha op(A) op(B) + beta C0 in double, from A and B rounded
 * to bf16 (round) or exact; sabs = alpha sum |a b| (the error scale). */
static void gemm_ref(double *ref, double *sabs, bool round, bool ta, bool tb, int M, int N, int K,
                     float alpha, const float *A, const float *B, float beta, const float *C0, int ldc)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0, sa = 0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * M + m] : A[(size_t)m * K + k];
                float b = tb ? B[(size_t)n * K + k] : B[(size_t)k * N + n];
                if (round) a = op_bf16_round(a), b = op_bf16_round(b);
                s += (double)a * b;
                sa += fabs((double)a * b);
            }
            ref[(size_t)m * N + n] = alpha * s + beta * C0[(size_t)m * ldc + n];
            sabs[(size_t)m * N + n] = fabs(alpha) * sa;
        }
}

/* bf16 where oneDNN can run it at all: natively, or emulated on any
 * AVX-512 CPU (STRATA_TEST_BF16_EMULATED, unless the caller set it), so
 * these checks run on every machine of the suite, not only bf16 ones. */
static const char *bf16_why(void)
{
    setenv("STRATA_TEST_BF16_EMULATED", "1", 0);
    return op_bf16_unavailable();
}

/* The bf16 path gives the product of the bf16-rounded operands with fp32
 * accumulation (tight), which is within bf16 rounding of the fp32 product
 * (loose), and really is bf16 (it differs from the fp32 product). */
static void bf16_gemm_matches_rounded_product(void **state)
{
    (void)state;
    const char *why = bf16_why();
    if (why) {
        ST_SKIP("bf16 unavailable (%s)", why);
    }
    assert_int_equal(op_bf16_round(1.0f + 1.0f / 256), 1.0f);         /* tie to even */
    assert_int_equal(op_bf16_round(1.0f + 3.0f / 256), 1.0f + 4.0f / 256); /* tie to even, up */
    assert_true(isnan(op_bf16_round(NAN)));
    rng_t rg;
    rng_init(&rg, 5, 0, RNG_TEST);
    enum { M = 37, N = 29, K = 70, LDC = 33 };
    float *A = gc_alloc(M * K), *B = gc_alloc(K * N), *C = gc_alloc(M * LDC), *C0 = gc_alloc(M * LDC);
    double *ref = malloc(sizeof(double) * M * N), *exact = malloc(sizeof(double) * M * N),
           *sabs = malloc(sizeof(double) * M * N);
    assert_non_null(ref);
    assert_non_null(exact);
    assert_non_null(sabs);
    gc_fill(A, M * K, 1, &rg);
    gc_fill(B, K * N, 1, &rg);
    gc_fill(C0, M * LDC, 1, &rg);
    for (int tt = 0; tt < 4; tt++) {
        bool ta = tt & 1, tb = tt & 2;
        float alpha = tt == 3 ? 0.5f : 1.0f, beta = tt >= 2 ? 1.0f : 0.0f;
        memcpy(C, C0, sizeof(float) * M * LDC);
        assert_int_equal(op_precision_set(OP_BF16), 0);
        op_gemm(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, LDC);
        assert_int_equal(op_precision_set(OP_FP32), 0);
        gemm_ref(ref, sabs, true, ta, tb, M, N, K, alpha, A, B, beta, C0, LDC);
        gemm_ref(exact, sabs, false, ta, tb, M, N, K, alpha, A, B, beta, C0, LDC);
        double off_exact = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double c = C[(size_t)m * LDC + n], e = sabs[(size_t)m * N + n] + 1e-30;
                assert_true(fabs(c - ref[(size_t)m * N + n]) <= 1e-5 * e + 1e-6);
                assert_true(fabs(c - exact[(size_t)m * N + n]) <= 2.0 / 256 * e + 1e-6);
                off_exact = fmax(off_exact, fabs(c - exact[(size_t)m * N + n]) / e);
            }
        assert_true(off_exact > 1e-4); /* not silently float32 */
        for (int m = 0; m < M; m++) /* columns past N untouched */
            for (int n = N; n < LDC; n++) assert_true(C[(size_t)m * LDC + n] == C0[(size_t)m * LDC + n]);
    }
    /* op_linear_backward in bf16 against the fp32 one, with dx aliasing x */
    enum { R = 24, IN = 40, OUT = 56 };
    float *x = gc_alloc(R * IN), *W = gc_alloc(OUT * IN), *dy = gc_alloc(R * OUT);
    float *dx1 = gc_alloc(R * IN), *dW1 = gc_alloc(OUT * IN), *dx2 = gc_alloc(R * IN), *dW2 = gc_alloc(OUT * IN);
    gc_fill(x, R * IN, 1, &rg);
    gc_fill(W, OUT * IN, 1, &rg);
    gc_fill(dy, R * OUT, 1, &rg);
    memcpy(dx1, x, sizeof(float) * R * IN);
    memcpy(dx2, x, sizeof(float) * R * IN);
    for (int i = 0; i < OUT * IN; i++) dW1[i] = dW2[i] = 1.0f;
    op_linear_backward(dx1, 0.0f, dW1, dy, dx1, W, R, IN, OUT, 1.0f);
    assert_int_equal(op_precision_set(OP_BF16), 0);
    op_linear_backward(dx2, 0.0f, dW2, dy, dx2, W, R, IN, OUT, 1.0f);
    assert_int_equal(op_precision_set(OP_FP32), 0);
    double scale_dx = 0, scale_dW = 0, err_dx = 0, err_dW = 0;
    for (int i = 0; i < R * IN; i++) scale_dx = fmax(scale_dx, fabs(dx1[i])), err_dx = fmax(err_dx, fabs(dx1[i] - dx2[i]));
    for (int i = 0; i < OUT * IN; i++) scale_dW = fmax(scale_dW, fabs(dW1[i] - 1)), err_dW = fmax(err_dW, fabs(dW1[i] - dW2[i]));
    assert_true(err_dx <= 0.02 * scale_dx && err_dx > 0);
    assert_true(err_dW <= 0.02 * scale_dW && err_dW > 0);
    free(A), free(B), free(C), free(C0), free(ref), free(exact), free(sabs);
    free(x), free(W), free(dy), free(dx1), free(dW1), free(dx2), free(dW2);
}

/* ---- RMSNorm ------------------------------------------------------------ */

typedef struct rms_ctx {
    int N, D;
    float *x, *g, *y, *rstd, *r;
} rms_ctx;

static double rms_loss(void *c_)
{
    rms_ctx *c = c_;
    op_rmsnorm_forward(c->y, c->rstd, c->x, c->g, c->N, c->D, 1e-5f);
    return gc_dot(c->r, c->y, (size_t)c->N * c->D);
}

static void rmsnorm_values_and_gradcheck(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 2, 0, RNG_TEST);
    rms_ctx c = {.N = 4, .D = 6};
    size_t n = 24;
    c.x = gc_alloc(n), c.g = gc_alloc(6), c.y = gc_alloc(n), c.rstd = gc_alloc(4), c.r = gc_alloc(n);
    float *dx = gc_alloc(n), *dg = gc_alloc(6);
    gc_fill(c.x, n, 1, &rg);
    gc_fill(c.g, 6, 1, &rg);
    gc_fill(c.r, n, 1, &rg);
    rms_loss(&c);
    for (int i = 0; i < 4; i++) {
        double ss = 0;
        for (int j = 0; j < 6; j++) ss += (double)c.x[i * 6 + j] * c.x[i * 6 + j];
        double rr = 1 / sqrt(ss / 6 + 1e-5);
        for (int j = 0; j < 6; j++) assert_float_equal(c.y[i * 6 + j], c.x[i * 6 + j] * rr * c.g[j], 1e-5);
    }
    op_rmsnorm_backward(dx, dg, c.r, c.x, c.rstd, c.g, 4, 6);
    assert_true(gc_check("rmsnorm dx", c.x, dx, n, rms_loss, &c, 100));
    assert_true(gc_check("rmsnorm dg", c.g, dg, 6, rms_loss, &c, 100));
    free(c.x), free(c.g), free(c.y), free(c.rstd), free(c.r), free(dx), free(dg);
}

/* ---- RoPE --------------------------------------------------------------- */

typedef struct rope_ctx {
    int B, T, H, hd, ld;
    float *x, *y, *cs, *sn, *r;
} rope_ctx;

static double rope_loss(void *c_)
{
    rope_ctx *c = c_;
    size_t n = (size_t)c->B * c->T * c->ld;
    memcpy(c->y, c->x, n * sizeof(float));
    op_rope_apply(c->y, c->B, c->T, c->ld, c->H, c->hd, c->cs, c->sn, 0);
    return gc_dot(c->r, c->y, n);
}

static void rope_values_inverse_and_gradcheck(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 3, 0, RNG_TEST);
    /* two heads of 4 inside rows of width 10 (ld > H*hd: columns 8, 9 untouched) */
    rope_ctx c = {.B = 2, .T = 5, .H = 2, .hd = 4, .ld = 10};
    size_t n = 100;
    c.x = gc_alloc(n), c.y = gc_alloc(n), c.r = gc_alloc(n), c.cs = gc_alloc(10), c.sn = gc_alloc(10);
    float *dx = gc_alloc(n);
    gc_fill(c.x, n, 1, &rg);
    gc_fill(c.r, n, 1, &rg);
    op_rope_tables(c.cs, c.sn, 5, 4, 10000.0);
    rope_loss(&c);
    /* position 3, head 1, pair i = 1: angle 3 * 10000^(-2/4) = 0.03 */
    const float *xp = c.x + (0 * 5 + 3) * 10 + 4, *yp = c.y + (0 * 5 + 3) * 10 + 4;
    double a = 3 * pow(10000.0, -0.5);
    assert_float_equal(yp[2], xp[2] * cos(a) - xp[3] * sin(a), 1e-6);
    assert_float_equal(yp[3], xp[2] * sin(a) + xp[3] * cos(a), 1e-6);
    assert_float_equal(yp[0], xp[0] * cos(3.0) - xp[1] * sin(3.0), 1e-6);
    assert_float_equal(c.y[38], c.x[38], 0); /* column 8 is outside the heads */
    /* inverse undoes the rotation */
    op_rope_apply(c.y, 2, 5, 10, 2, 4, c.cs, c.sn, 1);
    for (size_t i = 0; i < n; i++) assert_float_equal(c.y[i], c.x[i], 1e-6);
    /* backward = inverse rotation of dy (linear map's transpose) */
    memcpy(dx, c.r, n * sizeof(float));
    op_rope_apply(dx, 2, 5, 10, 2, 4, c.cs, c.sn, 1);
    assert_true(gc_check("rope dx", c.x, dx, n, rope_loss, &c, 100));
    free(c.x), free(c.y), free(c.r), free(c.cs), free(c.sn), free(dx);
}

/* ---- attention ---------------------------------------------------------- */

typedef struct att_ctx {
    int B, T, H, hd;
    float *qkv, *o, *att, *r;
} att_ctx;

static double att_loss(void *c_)
{
    att_ctx *c = c_;
    op_attention_forward(c->o, c->att, c->qkv, c->B, c->T, c->H, c->hd);
    return gc_dot(c->r, c->o, (size_t)c->B * c->T * c->H * c->hd);
}

/* T = 6 and 7: the causal products split the queries at T / 2 (even and odd
 * halves) */
static void attention_matches_naive_and_gradcheck(void **state)
{
    (void)state;
    /* the pairs the FLOP counts take: the causal blocks of the split at T/2
     * (covering the lower triangle, never the whole square for T > 1) */
    assert_true(op_attention_pairs(1) == 1.0);
    assert_true(op_attention_pairs(6) == 3 * 3 + 3 * 6);
    assert_true(op_attention_pairs(7) == 3 * 3 + 4 * 7);
    assert_true(op_attention_pairs(512) == 0.75 * 512 * 512);
    for (int T = 2; T < 40; T++)
        assert_true(op_attention_pairs(T) >= T * (T + 1) / 2.0 && op_attention_pairs(T) < (double)T * T);
    rng_t rg;
    rng_init(&rg, 4, 0, RNG_TEST);
    for (int T = 6; T <= 7; T++) {
        att_ctx c = {.B = 2, .T = T, .H = 2, .hd = 4};
        int D = 8;
        size_t nq = 2 * T * 3 * D, no = 2 * T * D;
        c.qkv = gc_alloc(nq), c.o = gc_alloc(no), c.att = gc_alloc(2 * 2 * T * T), c.r = gc_alloc(no);
        float *o2 = gc_alloc(no), *dq = gc_alloc(nq), *dp = gc_alloc(T * T);
        gc_fill(c.qkv, nq, 1, &rg);
        gc_fill(c.r, no, 1, &rg);
        for (int i = 0; i < 2 * 2 * T * T; i++) c.att[i] = NAN; /* every entry must be written */
        for (int i = 0; i < T * T; i++) dp[i] = NAN;
        att_loss(&c);
        op_attention_forward_naive(o2, c.qkv, 2, T, 2, 4);
        for (size_t i = 0; i < no; i++) assert_float_equal(c.o[i], o2[i], 1e-5);
        /* causality: probabilities above the diagonal are exactly zero, rows sum to 1 */
        for (int bh = 0; bh < 4; bh++)
            for (int t = 0; t < T; t++) {
                double s = 0;
                for (int j = 0; j < T; j++) {
                    float p = c.att[(bh * T + t) * T + j];
                    if (j > t) assert_true(p == 0.0f);
                    s += p;
                }
                assert_float_equal(s, 1.0, 1e-6);
            }
        /* position 0 attends only to itself: o = v_0 */
        for (int i = 0; i < D; i++) assert_float_equal(c.o[i], c.qkv[2 * D + i], 1e-6);
        for (size_t i = 0; i < nq; i++) dq[i] = NAN; /* overwritten, not added to */
        op_attention_backward(dq, dp, c.r, c.qkv, c.att, 2, T, 2, 4);
        assert_true(gc_check("attention dqkv", c.qkv, dq, nq, att_loss, &c, 300));
        free(c.qkv), free(c.o), free(c.att), free(c.r), free(o2), free(dq), free(dp);
    }
}

/* ---- GELU, residual ----------------------------------------------------- */

typedef struct ew_ctx {
    size_t n;
    float *x, *b, *y, *r;
    int which; /* 0 gelu, 1 residual */
} ew_ctx;

static double ew_loss(void *c_)
{
    ew_ctx *c = c_;
    if (c->which == 0)
        op_gelu_forward(c->y, c->x, c->n);
    else
        op_residual_forward(c->y, c->x, c->b, c->n);
    return gc_dot(c->r, c->y, c->n);
}

static void gelu_and_residual(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 5, 0, RNG_TEST);
    ew_ctx c = {.n = 50};
    c.x = gc_alloc(50), c.b = gc_alloc(50), c.y = gc_alloc(50), c.r = gc_alloc(50);
    float *dx = gc_alloc(50), *db = gc_alloc(50);
    gc_fill(c.x, 50, 2, &rg);
    gc_fill(c.b, 50, 1, &rg);
    gc_fill(c.r, 50, 1, &rg);
    /* exact GELU known values: gelu(1) = Phi(1), gelu(-2) = -2 Phi(-2) */
    float v[2] = {1.0f, -2.0f}, w[2];
    op_gelu_forward(w, v, 2);
    assert_float_equal(w[0], 0.8413447460685429, 1e-6);
    assert_float_equal(w[1], -2 * 0.022750131948179195, 1e-6);
    op_gelu_backward(dx, c.r, c.x, 50);
    assert_true(gc_check("gelu dx", c.x, dx, 50, ew_loss, &c, 100));
    c.which = 1;
    memset(dx, 0, 50 * sizeof(float));
    op_residual_backward(dx, db, c.r, 50);
    assert_true(gc_check("residual da", c.x, dx, 50, ew_loss, &c, 100));
    assert_true(gc_check("residual db", c.b, db, 50, ew_loss, &c, 100));
    free(c.x), free(c.b), free(c.y), free(c.r), free(dx), free(db);
}

/* ---- cross-entropy ------------------------------------------------------ */

typedef struct xe_ctx {
    int N, T, ld, V;
    float *logits, *lse;
    int32_t *tg;
} xe_ctx;

static double xe_loss(void *c_)
{
    xe_ctx *c = c_;
    return op_xent_forward(c->lse, c->logits, c->tg, c->N, c->T, c->ld, c->V) / c->N;
}

static void xent_values_and_gradcheck(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 6, 0, RNG_TEST);
    /* B = 2 rows of T = 3 targets inside chunks of ld = 4 */
    xe_ctx c = {.N = 6, .T = 3, .ld = 4, .V = 7};
    c.logits = gc_alloc(42), c.lse = gc_alloc(6);
    float *d = gc_alloc(42);
    int32_t tg[8] = {1, 6, 0, 99, 3, 3, 5, 99}; /* 99 = the unused last id of each chunk */
    c.tg = tg;
    gc_fill(c.logits, 42, 2, &rg);
    double l = xe_loss(&c), ref = 0;
    for (int n = 0; n < 6; n++) {
        double s = 0;
        for (int j = 0; j < 7; j++) s += exp(c.logits[n * 7 + j]);
        int t = tg[(n / 3) * 4 + n % 3];
        ref += log(s) - c.logits[n * 7 + t];
    }
    assert_float_equal(l, ref / 6, 1e-5);
    op_xent_backward(d, c.logits, c.lse, tg, 6, 3, 4, 7, 1.0f / 6);
    assert_true(gc_check("xent dlogits", c.logits, d, 42, xe_loss, &c, 100));
    /* the fused pass gives the same loss, the same gradient in place and the argmax hits */
    float *f = gc_alloc(42), lse2[6];
    memcpy(f, c.logits, 42 * sizeof(float));
    long hits = -1, ref_hits = 0;
    c.logits[0 * 7 + 1] = 50.0f; /* row 0's argmax is its target (1): at least one hit */
    memcpy(f, c.logits, 42 * sizeof(float));
    for (int n = 0; n < 6; n++) {
        int best = 0;
        for (int j = 1; j < 7; j++)
            if (c.logits[n * 7 + j] > c.logits[n * 7 + best]) best = j;
        ref_hits += best == tg[(n / 3) * 4 + n % 3];
    }
    double lf = op_xent_fused(f, lse2, tg, 6, 3, 4, 7, 1.0f / 6, &hits, NULL);
    double l2 = op_xent_forward(c.lse, c.logits, tg, 6, 3, 4, 7);
    op_xent_backward(d, c.logits, c.lse, tg, 6, 3, 4, 7, 1.0f / 6);
    assert_float_equal(lf, l2, 1e-6);
    for (int i = 0; i < 42; i++) assert_float_equal(f[i], d[i], 1e-7);
    assert_true(ref_hits >= 1);
    assert_int_equal(hits, ref_hits);
    /* the fused gradient itself against central differences */
    memcpy(f, c.logits, 42 * sizeof(float));
    op_xent_fused(f, lse2, tg, 6, 3, 4, 7, 1.0f / 6, NULL, NULL);
    assert_true(gc_check("xent fused dlogits", c.logits, f, 42, xe_loss, &c, 100));
    /* a diverged row (NaN first, so its maximum is NaN) counts no hit and
     * the argmax scan stays inside the row (ASan watches the suite) */
    float *nanrow = malloc(sizeof(float) * 7);
    assert_non_null(nanrow);
    for (int j = 0; j < 7; j++) nanrow[j] = (float)j;
    nanrow[0] = NAN;
    int32_t tg0 = 0;
    long h = -1;
    op_xent_fused(nanrow, lse2, &tg0, 1, 1, 1, 7, 1.0f, &h, NULL);
    assert_int_equal(h, 0);
    for (int j = 0; j < 7; j++) nanrow[j] = (float)j;
    nanrow[0] = NAN;
    tg0 = 6; /* where the bounded scan stops */
    op_xent_fused(nanrow, lse2, &tg0, 1, 1, 1, 7, 1.0f, &h, NULL);
    assert_int_equal(h, 0);
    free(nanrow);
    free(f);
    free(c.logits), free(c.lse), free(d);
}

static uint16_t bf16_bits(float f)
{
    float r = op_bf16_round(f);
    uint32_t u;
    memcpy(&u, &r, sizeof u);
    return (uint16_t)(u >> 16);
}

/* The fused pass (one exp per logit, dlogits = scale e / sum e) against the
 * two-pass formula scale exp(x - lse) of op_xent_backward at a width where
 * the vector loops and their remainders both run; its bf16 output is
 * exactly the fp32 result rounded, with the same loss, lse and hits. */
static void xent_fused_matches_two_pass_and_bf16_copy(void **state)
{
    (void)state;
    enum { N = 5, T = 5, LD = 6, V = 1003 };
    rng_t rg;
    rng_init(&rg, 8, 0, RNG_TEST);
    float *x = gc_alloc(N * V), *two = gc_alloc(N * V), *f1 = gc_alloc(N * V), *f2 = gc_alloc(N * V);
    float lse[N], lse1[N], lse2[N];
    uint16_t *d16 = malloc(sizeof(uint16_t) * N * V);
    assert_non_null(d16);
    int32_t tg[LD];
    for (int i = 0; i < LD; i++) tg[i] = (int32_t)rng_below(&rg, V);
    gc_fill(x, N * V, 4, &rg);
    x[2 * V + 17] = 40.0f; /* one row with a dominant logit: its softmax is ~one-hot */
    double l0 = op_xent_forward(lse, x, tg, N, T, LD, V);
    op_xent_backward(two, x, lse, tg, N, T, LD, V, 0.25f);
    memcpy(f1, x, sizeof(float) * N * V);
    memcpy(f2, x, sizeof(float) * N * V);
    long h1 = -1, h2 = -1;
    double l1 = op_xent_fused(f1, lse1, tg, N, T, LD, V, 0.25f, &h1, NULL);
    double l2 = op_xent_fused(f2, lse2, tg, N, T, LD, V, 0.25f, &h2, d16);
    assert_true(fabs(l1 - l0) <= 1e-6 * fabs(l0));
    assert_true(l1 == l2 && h1 == h2 && h1 >= 0);
    /* both against the gradient in double: the fused one is as close as the
     * two-pass one (which rounds lse to float first), and the two agree in
     * their last bits */
    double err_f = 0, err_two = 0, diff = 0;
    for (int n = 0; n < N; n++) {
        const float *r = x + (size_t)n * V;
        double mx = r[0], s = 0;
        for (int j = 1; j < V; j++) mx = fmax(mx, r[j]);
        for (int j = 0; j < V; j++) s += exp((double)r[j] - mx);
        int t = tg[(n / T) * LD + n % T];
        for (int j = 0; j < V; j++) {
            size_t i = (size_t)n * V + j;
            double p = exp((double)r[j] - mx) / s, ref = 0.25 * (p - (j == t));
            double rel = 0.25 * (j == t ? 1.0 : p) + 1e-30; /* each term's size (p - 1 at the target) */
            assert_int_equal(d16[i], bf16_bits(f1[i])); /* the fp32 result rounded */
            err_f = fmax(err_f, fabs(f1[i] - ref) / rel);
            err_two = fmax(err_two, fabs(two[i] - ref) / rel);
            diff = fmax(diff, fabs(f1[i] - two[i]) / rel);
        }
        assert_true(lse1[n] == lse2[n] && fabs(lse1[n] - lse[n]) <= 1e-6 * fabs(lse[n]) + 1e-6);
    }
    print_message("dlogits relative error: fused %.2g, two-pass %.2g, between them %.2g\n", err_f,
                  err_two, diff);
    /* x - max is rounded in float (both ways), an error of up to |x - max|
     * 2^-24 in the exponent: ~1e-6 at these logits */
    assert_true(err_f < 4e-6);
    assert_true(err_f <= 1.5 * err_two + 1e-7);
    assert_true(diff < 1e-5);
    free(x), free(two), free(f1), free(f2), free(d16);
}

/* op_linear_backward_dy16 with dy rounded by the caller gives the bits
 * op_linear_backward gets by rounding dy itself (bf16), and ignores dy16 in
 * float32. */
static void linear_backward_takes_rounded_dy(void **state)
{
    (void)state;
    enum { R = 19, IN = 24, OUT = 45 };
    rng_t rg;
    rng_init(&rg, 9, 0, RNG_TEST);
    float *x = gc_alloc(R * IN), *W = gc_alloc(OUT * IN), *dy = gc_alloc(R * OUT);
    float *dx1 = gc_alloc(R * IN), *dW1 = gc_alloc(OUT * IN), *dx2 = gc_alloc(R * IN), *dW2 = gc_alloc(OUT * IN);
    uint16_t *dy16 = malloc(sizeof(uint16_t) * R * OUT), *junk = calloc(R * OUT, sizeof(uint16_t));
    assert_non_null(dy16);
    assert_non_null(junk);
    gc_fill(x, R * IN, 1, &rg);
    gc_fill(W, OUT * IN, 1, &rg);
    gc_fill(dy, R * OUT, 1, &rg);
    for (int i = 0; i < R * OUT; i++) dy16[i] = bf16_bits(dy[i]);
    /* float32: dy16 (here zeros) is not read */
    memset(dx1, 0, sizeof(float) * R * IN), memset(dx2, 0, sizeof(float) * R * IN);
    memset(dW1, 0, sizeof(float) * OUT * IN), memset(dW2, 0, sizeof(float) * OUT * IN);
    op_linear_backward(dx1, 0.0f, dW1, dy, x, W, R, IN, OUT, 1.0f);
    op_linear_backward_dy16(dx2, 0.0f, dW2, dy, junk, x, W, R, IN, OUT, 1.0f);
    assert_memory_equal(dx1, dx2, sizeof(float) * R * IN);
    assert_memory_equal(dW1, dW2, sizeof(float) * OUT * IN);
    const char *why = bf16_why();
    if (why) {
        print_message("bf16 part skipped (%s)\n", why);
    } else {
        memset(dW1, 0, sizeof(float) * OUT * IN), memset(dW2, 0, sizeof(float) * OUT * IN);
        assert_int_equal(op_precision_set(OP_BF16), 0);
        op_linear_backward(dx1, 0.0f, dW1, dy, x, W, R, IN, OUT, 1.0f);
        op_linear_backward_dy16(dx2, 0.0f, dW2, dy, dy16, x, W, R, IN, OUT, 1.0f);
        assert_memory_equal(dx1, dx2, sizeof(float) * R * IN);
        assert_memory_equal(dW1, dW2, sizeof(float) * OUT * IN);
        /* and it really multiplies dy16, not dy: zeros give zero gradients */
        memset(dW2, 0, sizeof(float) * OUT * IN);
        op_linear_backward_dy16(dx2, 0.0f, dW2, dy, junk, x, W, R, IN, OUT, 1.0f);
        assert_int_equal(op_precision_set(OP_FP32), 0);
        for (int i = 0; i < R * IN; i++) assert_true(dx2[i] == 0.0f);
        for (int i = 0; i < OUT * IN; i++) assert_true(dW2[i] == 0.0f);
    }
    free(x), free(W), free(dy), free(dx1), free(dW1), free(dx2), free(dW2), free(dy16), free(junk);
}

/* Without a float32 dy, float32 products use dy16 widened tile by tile: the
 * result of op_linear_backward on the widened matrix, with row tiles (N *
 * out > 65536) and column tiles (out > 65536), and dx aliasing x. */
static void linear_backward_widens_dy16(void **state)
{
    (void)state;
    static const int shape[2][3] = {{3001, 7, 45}, {3, 5, 70001}}; /* N, in, out */
    rng_t rg;
    rng_init(&rg, 10, 0, RNG_TEST);
    for (int k = 0; k < 2; k++) {
        int R = shape[k][0], IN = shape[k][1], OUT = shape[k][2];
        float *x = gc_alloc(R * IN), *W = gc_alloc(OUT * IN), *dy = gc_alloc(R * OUT);
        float *dx1 = gc_alloc(R * IN), *dW1 = gc_alloc(OUT * IN), *dx2 = gc_alloc(R * IN), *dW2 = gc_alloc(OUT * IN);
        uint16_t *dy16 = malloc(sizeof(uint16_t) * R * OUT);
        assert_non_null(dy16);
        gc_fill(x, R * IN, 1, &rg);
        gc_fill(W, OUT * IN, 1, &rg);
        gc_fill(dy, R * OUT, 1, &rg);
        for (int i = 0; i < R * OUT; i++) dy16[i] = bf16_bits(dy[i]), dy[i] = op_bf16_round(dy[i]);
        for (int i = 0; i < OUT * IN; i++) dW1[i] = dW2[i] = 0.5f;
        memcpy(dx1, x, sizeof(float) * R * IN);
        memcpy(dx2, x, sizeof(float) * R * IN);
        op_linear_backward(dx1, 0.0f, dW1, dy, dx1, W, R, IN, OUT, 0.5f);
        op_linear_backward_dy16(dx2, 0.0f, dW2, NULL, dy16, dx2, W, R, IN, OUT, 0.5f);
        double sx = 0, sw = 0, ex = 0, ew = 0;
        for (int i = 0; i < R * IN; i++) sx = fmax(sx, fabs(dx1[i])), ex = fmax(ex, fabs(dx1[i] - dx2[i]));
        for (int i = 0; i < OUT * IN; i++) sw = fmax(sw, fabs(dW1[i])), ew = fmax(ew, fabs(dW1[i] - dW2[i]));
        assert_true(sx > 0.1 && sw > 0.1);
        assert_true(ex <= 1e-5 * sx && ew <= 1e-5 * sw); /* summation order only */
        free(x), free(W), free(dy), free(dx1), free(dW1), free(dx2), free(dW2), free(dy16);
    }
}

/* ---- LoRA linear -------------------------------------------------------- */

typedef struct lo_ctx {
    int N, in, out, r;
    float s;
    float *x, *W, *A, *B, *u, *y, *rr;
} lo_ctx;

static double lo_loss(void *c_)
{
    lo_ctx *c = c_;
    lora_linear_forward(c->y, c->u, c->x, c->W, c->A, c->B, c->s, c->N, c->in, c->out, c->r, 0.0f);
    return gc_dot(c->rr, c->y, (size_t)c->N * c->out);
}

static void lora_linear_gradcheck_and_merge(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 7, 0, RNG_TEST);
    lo_ctx c = {.N = 5, .in = 6, .out = 4, .r = 2, .s = 1.5f};
    c.x = gc_alloc(30), c.W = gc_alloc(24), c.A = gc_alloc(12), c.B = gc_alloc(8);
    c.u = gc_alloc(10), c.y = gc_alloc(20), c.rr = gc_alloc(20);
    float *dx = gc_alloc(30), *dA = gc_alloc(12), *dB = gc_alloc(8), *du = gc_alloc(10);
    float *y2 = gc_alloc(20), *Wm = gc_alloc(24);
    gc_fill(c.x, 30, 1, &rg);
    gc_fill(c.W, 24, 1, &rg);
    gc_fill(c.A, 12, 1, &rg);
    gc_fill(c.B, 8, 1, &rg); /* non-zero B so dA carries signal */
    gc_fill(c.rr, 20, 1, &rg);
    lo_loss(&c);
    lora_linear_backward(dx, dA, dB, du, c.rr, c.x, c.u, c.W, c.A, c.B, c.s, 5, 6, 4, 2);
    assert_true(gc_check("lora dx", c.x, dx, 30, lo_loss, &c, 100));
    assert_true(gc_check("lora dA", c.A, dA, 12, lo_loss, &c, 100));
    assert_true(gc_check("lora dB", c.B, dB, 8, lo_loss, &c, 100));
    /* merged weight W + s B A gives the same output without adapters */
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < 6; i++) {
            double a = 0;
            for (int k = 0; k < 2; k++) a += (double)c.B[o * 2 + k] * c.A[k * 6 + i];
            Wm[o * 6 + i] = (float)(c.W[o * 6 + i] + c.s * a);
        }
    lo_loss(&c);
    op_matmul_forward(y2, c.x, Wm, 5, 6, 4, 1.0f, 0.0f);
    for (int i = 0; i < 20; i++) assert_float_equal(c.y[i], y2[i], 1e-5);
    free(c.x), free(c.W), free(c.A), free(c.B), free(c.u), free(c.y), free(c.rr);
    free(dx), free(dA), free(dB), free(du), free(y2), free(Wm);
}

/* The check must be able to fail: a 5% error in one entry, or a dropped
 * term, is reported. */
static void gradcheck_catches_wrong_gradients(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 8, 0, RNG_TEST);
    rms_ctx c = {.N = 3, .D = 5};
    c.x = gc_alloc(15), c.g = gc_alloc(5), c.y = gc_alloc(15), c.rstd = gc_alloc(3), c.r = gc_alloc(15);
    float *dx = gc_alloc(15);
    gc_fill(c.x, 15, 1, &rg);
    gc_fill(c.g, 5, 1, &rg);
    gc_fill(c.r, 15, 1, &rg);
    rms_loss(&c);
    op_rmsnorm_backward(dx, NULL, c.r, c.x, c.rstd, c.g, 3, 5);
    int imax = 0;
    for (int i = 1; i < 15; i++)
        if (fabsf(dx[i]) > fabsf(dx[imax])) imax = i;
    dx[imax] *= 1.05f;
    assert_false(gc_check("rmsnorm dx (5% off, must fail)", c.x, dx, 15, rms_loss, &c, 100));
    /* dropping the normalisation term: dx = r g dy only */
    for (int n = 0; n < 3; n++)
        for (int i = 0; i < 5; i++) dx[n * 5 + i] = c.rstd[n] * c.g[i] * c.r[n * 5 + i];
    assert_false(gc_check("rmsnorm dx (term dropped, must fail)", c.x, dx, 15, rms_loss, &c, 100));
    free(c.x), free(c.g), free(c.y), free(c.rstd), free(c.r), free(dx);
}

/* The GELU and exp used by the kernels are inline approximations (fastmath.h);
 * bound their error against libm in double over the whole useful range. */
static void gelu_and_exp_accuracy(void **state)
{
    (void)state;
    enum { NX = 24001 };
    float *x = gc_alloc(NX), *y = gc_alloc(NX), *dy = gc_alloc(NX), *ones = gc_alloc(NX);
    for (int i = 0; i < NX; i++) x[i] = -12.0f + 0.001f * i, ones[i] = 1.0f;
    op_gelu_forward(y, x, NX);
    op_gelu_backward(dy, ones, x, NX);
    double worst = 0, worst_d = 0;
    for (int i = 0; i < NX; i++) {
        double xi = x[i], phi = 0.5 * erfc(-xi / sqrt(2.0));
        double g = xi * phi, dg = phi + xi * exp(-0.5 * xi * xi) / sqrt(2 * 3.14159265358979323846);
        worst = fmax(worst, fabs(y[i] - g) / fmax(1.0, fabs(xi)));
        worst_d = fmax(worst_d, fabs(dy[i] - dg));
    }
    if (getenv("STRATA_TEST_VERBOSE")) fprintf(stderr, "# gelu max err %.3g, gelu' max err %.3g\n", worst, worst_d);
    assert_true(worst < 5e-7);
    assert_true(worst_d < 5e-7);
    /* exp through the softmax of one row: logsumexp of [-80, 80] in steps */
    enum { V = 1601 };
    float *row = gc_alloc(V), lse;
    for (int j = 0; j < V; j++) row[j] = -80.0f + 0.1f * j;
    op_xent_forward(&lse, row, NULL, 1, 1, 1, V);
    double s = 0;
    for (int j = 0; j < V; j++) s += exp((double)row[j] - row[V - 1]);
    assert_float_equal(lse, row[V - 1] + log(s), 1e-5);
    free(x), free(y), free(dy), free(ones), free(row);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(gelu_and_exp_accuracy),
    cmocka_unit_test(matmul_matches_naive_and_gradcheck),
    cmocka_unit_test(bf16_gemm_matches_rounded_product),
    cmocka_unit_test(rmsnorm_values_and_gradcheck),
    cmocka_unit_test(rope_values_inverse_and_gradcheck),
    cmocka_unit_test(attention_matches_naive_and_gradcheck),
    cmocka_unit_test(gelu_and_residual),
    cmocka_unit_test(xent_values_and_gradcheck),
    cmocka_unit_test(xent_fused_matches_two_pass_and_bf16_copy),
    cmocka_unit_test(linear_backward_takes_rounded_dy),
    cmocka_unit_test(linear_backward_widens_dy16),
    cmocka_unit_test(lora_linear_gradcheck_and_merge),
    cmocka_unit_test(gradcheck_catches_wrong_gradients),
};

ST_TEST_MAIN(tests)
