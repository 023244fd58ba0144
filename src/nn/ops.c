/* ops.c -- forward/backward kernels (see ops.h).  Big products go to
 * op_gemm (gemm.c); elementwise work stays in plain loops the compiler vectorises. */
#include "fastmath.h" /* first: switches on vectorisation for this file */

#include "strata/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* ---- matmul ------------------------------------------------------------ */

void op_matmul_forward(float *y, const float *x, const float *W, int N, int in, int out,
                       float alpha, float beta)
{
    /* y [N, out] = alpha x [N, in] W[out, in]^T + beta y */
    op_gemm(false, true, N, out, in, alpha, x, in, W, in, beta, y, out);
}

void op_matmul_backward(float *dx, float *dW, const float *dy, const float *x, const float *W,
                        int N, int in, int out, float alpha)
{
    /* dx [N, in] += alpha dy [N, out] W [out, in] ; dW [out, in] += alpha dy^T x */
    op_linear_backward(dx, 1.0f, dW, dy, x, W, N, in, out, alpha);
}

void op_matmul_forward_naive(float *y, const float *x, const float *W, int N, int in, int out,
                             float alpha, float beta)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++) s += (double)x[(size_t)n * in + i] * W[(size_t)o * in + i];
            float *yo = &y[(size_t)n * out + o];
            *yo = (float)(alpha * s + (beta != 0.0f ? beta * *yo : 0.0));
        }
}

/* ---- lane reductions ---------------------------------------------------- */

/* Reductions in explicit lanes: they vectorise without reassociating (a
 * plain sum is one long dependency chain) and give the same bits from every
 * clone. */

/* sum_i a[i] b[i] in 8 double lanes */
ST_INLINE double dot_lanes(const float *a, const float *b, int n)
{
    double lane[8] = {0}, s = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)a[i + k] * b[i + k];
    for (; i < n; i++) s += (double)a[i] * b[i];
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

/* sum_i a[i] b[i] c[i] in 8 double lanes */
ST_INLINE double dot3_lanes(const float *a, const float *b, const float *c, int n)
{
    double lane[8] = {0}, s = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)a[i + k] * b[i + k] * c[i + k];
    for (; i < n; i++) s += (double)a[i] * b[i] * c[i];
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

/* max of r [V] in 64 lanes: the compiler vectorises the scan into four
 * independent chains (one would wait on the latency of each max); the
 * maximum is exact in any order */
ST_INLINE float row_max(const float *r, int V)
{
    float lane[64];
    int j = 0;
    for (int k = 0; k < 64; k++) lane[k] = r[0];
    for (; j + 64 <= V; j += 64)
        for (int k = 0; k < 64; k++) lane[k] = r[j + k] > lane[k] ? r[j + k] : lane[k];
    float mx = lane[0];
    for (int k = 1; k < 64; k++) mx = lane[k] > mx ? lane[k] : mx;
    for (; j < V; j++) mx = r[j] > mx ? r[j] : mx;
    return mx;
}

/* sum_j exp(r[j] - mx), accumulated in 8 double lanes; next (or NULL): the
 * row read after this one, prefetched as in row_exp_store */
ST_INLINE double row_sum_exp(const float *r, float mx, int V, const float *next)
{
    double lane[8] = {0};
    int j = 0;
    for (; j + 8 <= V; j += 8) {
        if (next && j % 16 == 0) __builtin_prefetch(next + j, 0, 3);
        for (int k = 0; k < 8; k++) lane[k] += st_expf(r[j + k] - mx);
    }
    double s = 0;
    for (; j < V; j++) s += st_expf(r[j] - mx);
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

/* e[j] = exp(r[j] - mx) (e may be r); returns their sum, accumulated in 16
 * double lanes (the same bits from every clone).  next (or NULL): the row
 * the caller reads after this one, V floats, fetched into cache while the
 * exponentials keep the core busy (the cross-entropy's [N, V] logits come
 * from memory, and its first pass over a row would otherwise wait for it). */
ST_INLINE double row_exp_store(float *e, const float *r, float mx, int V, const float *next)
{
    double lane[16] = {0};
    int j = 0;
    for (; j + 16 <= V; j += 16) {
        if (next) __builtin_prefetch(next + j, 0, 3);
        for (int k = 0; k < 16; k++) {
            float x = st_expf(r[j + k] - mx);
            e[j + k] = x;
            lane[k] += x;
        }
    }
    double s = 0;
    for (; j < V; j++) {
        e[j] = st_expf(r[j] - mx);
        s += e[j];
    }
    for (int k = 0; k < 16; k++) s += lane[k];
    return s;
}

/* ---- RMSNorm ----------------------------------------------------------- */

ST_CLONES void op_rmsnorm_forward(float *y, float *rstd, const float *x, const float *g, int N, int D, float eps)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D;
        float *yr = y + (size_t)n * D;
        double ss = dot_lanes(xr, xr, D);
        float r = (float)(1.0 / sqrt(ss / D + eps));
        rstd[n] = r;
        for (int i = 0; i < D; i++) yr[i] = xr[i] * r * g[i];
    }
}

ST_CLONES void op_rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *rstd,
                         const float *g, int N, int D)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D, *dyr = dy + (size_t)n * D;
        float r = rstd[n];
        if (dg)
            for (int i = 0; i < D; i++) dg[i] += dyr[i] * xr[i] * r;
        if (!dx) continue;
        /* y_i = x_i r g_i, r = (mean x^2 + eps)^-1/2:
         * dx_i = r g_i dy_i - x_i r^3 / D * sum_j g_j dy_j x_j */
        double dot = dot3_lanes(g, dyr, xr, D);
        float c = (float)(dot * r * r * r / D);
        float *dxr = dx + (size_t)n * D;
        for (int i = 0; i < D; i++) dxr[i] += r * g[i] * dyr[i] - c * xr[i];
    }
}

/* ---- RoPE -------------------------------------------------------------- */

void op_rope_tables(float *cosb, float *sinb, int T, int hd, double theta)
{
    int h2 = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < h2; i++) {
            double f = pow(theta, -2.0 * i / hd);
            double a = t * f;
            cosb[(size_t)t * h2 + i] = (float)cos(a);
            sinb[(size_t)t * h2 + i] = (float)sin(a);
        }
}

ST_CLONES void op_rope_apply(float *x, int B, int T, int ld, int H, int hd, const float *cosb,
                   const float *sinb, int inverse)
{
    int h2 = hd / 2;
    float sgn = inverse ? -1.0f : 1.0f;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *row = x + ((size_t)b * T + t) * ld;
            const float *c = cosb + (size_t)t * h2, *s = sinb + (size_t)t * h2;
            for (int h = 0; h < H; h++) {
                float *p = row + h * hd;
                for (int i = 0; i < h2; i++) {
                    float x0 = p[2 * i], x1 = p[2 * i + 1], si = sgn * s[i];
                    p[2 * i] = x0 * c[i] - x1 * si;
                    p[2 * i + 1] = x0 * si + x1 * c[i];
                }
            }
        }
}

/* ---- causal attention -------------------------------------------------- */

/* The causal products skip the query-key blocks above the diagonal: the
 * queries are split at h = T/2, rows [0, h) meet keys [0, h) only and rows
 * [h, T) meet all T, so each product does 3/4 of the full square's work
 * (the probabilities there are zero; the softmax writes those zeros). */
static int causal_split(int T) { return T >= 2 ? T / 2 : T; }

double op_attention_pairs(int T)
{
    int h = causal_split(T);
    return (double)h * h + (double)(T - h) * T;
}

ST_CLONES void op_attention_forward(float *o, float *att, const float *qkv, int B, int T, int H, int hd)
{
    int D = H * hd, ld = 3 * D, h = causal_split(T);
    float scale = (float)(1.0 / sqrt((double)hd));
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < H; hh++) {
            const float *q = qkv + (size_t)b * T * ld + hh * hd, *k = q + D, *v = q + 2 * D;
            float *p = att + ((size_t)b * H + hh) * T * T;
            float *ob = o + (size_t)b * T * D + hh * hd;
            /* S [T, T] = scale Q K^T on the causal blocks (one sgemm per
             * block beats T small ones at these sizes) */
            op_gemm(false, true, h, h, hd, scale, q, ld, k, ld, 0.0f, p, T);
            if (h < T)
                op_gemm(false, true, T - h, T, hd, scale, q + (size_t)h * ld, ld, k, ld, 0.0f,
                        p + (size_t)h * T, T);
            for (int t = 0; t < T; t++) {
                float *r = p + (size_t)t * T;
                float mx = row_max(r, t + 1);
                float inv = (float)(1.0 / row_exp_store(r, r, mx, t + 1, NULL));
                for (int j = 0; j <= t; j++) r[j] *= inv;
                for (int j = t + 1; j < T; j++) r[j] = 0.0f;
            }
            /* O_h [T, hd] = P V_h, written into its columns of o [B*T, D] */
            op_gemm(false, false, h, hd, h, 1.0f, p, T, v, ld, 0.0f, ob, D);
            if (h < T)
                op_gemm(false, false, T - h, hd, T, 1.0f, p + (size_t)h * T, T, v, ld, 0.0f,
                        ob + (size_t)h * D, D);
        }
}

ST_CLONES void op_attention_backward(float *dqkv, float *dp, const float *dout, const float *qkv,
                           const float *att, int B, int T, int H, int hd)
{
    int D = H * hd, ld = 3 * D, h = causal_split(T);
    float scale = (float)(1.0 / sqrt((double)hd));
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < H; hh++) {
            size_t base = (size_t)b * T * ld + hh * hd;
            const float *q = qkv + base, *k = q + D, *v = q + 2 * D;
            float *dq = dqkv + base, *dk = dq + D, *dv = dq + 2 * D;
            const float *p = att + ((size_t)b * H + hh) * T * T;
            const float *dO = dout + (size_t)b * T * D + hh * hd;
            /* dP [T, T] = dO V^T on the causal blocks */
            op_gemm(false, true, h, h, hd, 1.0f, dO, D, v, ld, 0.0f, dp, T);
            if (h < T)
                op_gemm(false, true, T - h, T, hd, 1.0f, dO + (size_t)h * D, D, v, ld, 0.0f,
                        dp + (size_t)h * T, T);
            /* dV = P^T dO: keys [0, h) see all queries, keys [h, T) those from h */
            op_gemm(true, false, h, hd, T, 1.0f, p, T, dO, D, 0.0f, dv, ld);
            if (h < T)
                op_gemm(true, false, T - h, hd, T - h, 1.0f, p + (size_t)h * T + h, T,
                        dO + (size_t)h * D, D, 0.0f, dv + (size_t)h * ld, ld);
            /* dS = scale * P * (dP - rowsum(P * dP)); zero above the diagonal */
            for (int t = 0; t < T; t++) {
                const float *pr = p + (size_t)t * T;
                float *dr = dp + (size_t)t * T;
                float dot = (float)dot_lanes(pr, dr, t + 1);
                for (int j = 0; j <= t; j++) dr[j] = scale * pr[j] * (dr[j] - dot);
                for (int j = t + 1; j < T; j++) dr[j] = 0.0f;
            }
            /* dQ = dS K ; dK = dS^T Q, on the same blocks */
            op_gemm(false, false, h, hd, h, 1.0f, dp, T, k, ld, 0.0f, dq, ld);
            if (h < T)
                op_gemm(false, false, T - h, hd, T, 1.0f, dp + (size_t)h * T, T, k, ld, 0.0f,
                        dq + (size_t)h * ld, ld);
            op_gemm(true, false, h, hd, T, 1.0f, dp, T, q, ld, 0.0f, dk, ld);
            if (h < T)
                op_gemm(true, false, T - h, hd, T - h, 1.0f, dp + (size_t)h * T + h, T,
                        q + (size_t)h * ld, ld, 0.0f, dk + (size_t)h * ld, ld);
        }
}

void op_attention_forward_naive(float *o, const float *qkv, int B, int T, int H, int hd)
{
    int D = H * hd, ld = 3 * D;
    double scale = 1.0 / sqrt((double)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * ld + h * hd;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * ld + D + h * hd;
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double)q[i] * k[i];
                    d *= scale;
                    mx = d > mx ? d : mx;
                }
                float *orow = o + ((size_t)b * T + t) * D + h * hd;
                double acc[512]; /* the naive path supports hd <= 512 (tests use tiny heads) */
                int hdc = hd < 512 ? hd : 512;
                for (int i = 0; i < hdc; i++) acc[i] = 0;
                for (int j = 0; j <= t; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * ld + D + h * hd;
                    const float *v = qkv + ((size_t)b * T + j) * ld + 2 * D + h * hd;
                    double d = 0;
                    for (int i = 0; i < hd; i++) d += (double)q[i] * k[i];
                    double e = exp(d * scale - mx);
                    sum += e;
                    for (int i = 0; i < hdc; i++) acc[i] += e * v[i];
                }
                for (int i = 0; i < hdc; i++) orow[i] = (float)(acc[i] / sum);
            }
}

/* ---- GELU (exact) ------------------------------------------------------ */

#define ST_INV_SQRT_2PI 0.39894228040143267794f

ST_CLONES void op_gelu_forward(float *y, const float *x, size_t n)
{
    /* gelu(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) */
    for (size_t i = 0; i < n; i++) y[i] = x[i] * st_normcdf(x[i]);
}

ST_INLINE float gelu_grad(float x)
{
    return st_normcdf(x) + x * ST_INV_SQRT_2PI * st_expf(-0.5f * x * x);
}

ST_CLONES void op_gelu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * gelu_grad(x[i]);
}

ST_CLONES void op_gelu_backward_set(float *dx, const float *dy, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_grad(x[i]);
}

/* ---- residual ---------------------------------------------------------- */

ST_CLONES void op_residual_forward(float *y, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

ST_CLONES void op_residual_backward(float *da, float *db, const float *dy, size_t n)
{
    if (da)
        for (size_t i = 0; i < n; i++) da[i] += dy[i];
    if (db)
        for (size_t i = 0; i < n; i++) db[i] += dy[i];
}

/* ---- cross-entropy ----------------------------------------------------- */

ST_INLINE int32_t target_of(const int32_t *targets, int n, int T, int ld)
{
    return targets[(size_t)(n / T) * ld + n % T];
}

ST_CLONES double op_xent_forward(float *lse, const float *logits, const int32_t *targets, int N, int T, int ld,
                       int V)
{
    double total = 0;
    for (int n = 0; n < N; n++) {
        const float *r = logits + (size_t)n * V;
        float mx = row_max(r, V);
        double l = mx + log(row_sum_exp(r, mx, V, n + 1 < N ? r + V : NULL));
        lse[n] = (float)l;
        if (targets) total += l - r[target_of(targets, n, T, ld)];
    }
    return total;
}

ST_CLONES double op_xent_fused(float *logits, float *lse, const int32_t *targets, int N, int T, int ld, int V,
                     float scale, long *correct, uint16_t *dlogits16)
{
    double total = 0;
    long hits = 0;
    /* bf16 output: the exponentials go to a row buffer that stays in cache
     * (in place they would dirty the row and cost a write-back of the whole
     * [N, V] matrix, ~20 % of the pass at V = 65,536); without the buffer
     * the row itself serves */
    float *ebuf = dlogits16 ? malloc(sizeof(float) * (size_t)V) : NULL;
    for (int n = 0; n < N; n++) {
        float *r = logits + (size_t)n * V;
        float *e = ebuf ? ebuf : r;
        float mx = row_max(r, V);
        int32_t tg = target_of(targets, n, T, ld);
        float xt = r[tg];
        if (correct) {
            int best = 0;
            /* first index of the maximum (bounded: a NaN maximum, from a
             * diverged row, equals nothing, and such a row is no hit) */
            while (best < V - 1 && r[best] != mx) best++;
            hits += best == tg && r[best] == mx;
        }
        /* one exp per logit: e_j = exp(x_j - max) kept, then
         * dlogits_j = scale e_j / sum_j e_j */
        double sum = row_exp_store(e, r, mx, V, n + 1 < N ? r + V : NULL);
        double l = mx + log(sum);
        lse[n] = (float)l;
        total += l - xt;
        float f = (float)(scale / sum);
        if (dlogits16) { /* bf16 only: no fp32 gradient is written */
            uint16_t *d = dlogits16 + (size_t)n * V;
            for (int j = 0; j < V; j++) d[j] = st_bf16_of(e[j] * f);
            d[tg] = st_bf16_of(e[tg] * f - scale);
        } else {
            for (int j = 0; j < V; j++) r[j] *= f;
            r[tg] -= scale;
        }
    }
    free(ebuf);
    if (correct) *correct = hits;
    return total;
}

ST_CLONES void op_xent_backward(float *dlogits, const float *logits, const float *lse, const int32_t *targets,
                      int N, int T, int ld, int V, float scale)
{
    for (int n = 0; n < N; n++) {
        const float *r = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        float l = lse[n];
        for (int j = 0; j < V; j++) d[j] = scale * st_expf(r[j] - l);
        d[target_of(targets, n, T, ld)] -= scale;
    }
}
