/* head.c -- final norm, output projection, cross-entropy (see head.h). */
#include "strata/head.h"


#include "strata/ops.h"

void head_forward(const param_arena *p, head_acts *a, const float *x, int N, int D, int V, float eps)
{
    op_rmsnorm_forward(a->xn, a->rstd, x, param_ptr(p, HEAD_NORM_G), N, D, eps);
    op_matmul_forward(a->logits, a->xn, param_ptr(p, HEAD_OUT_W), N, D, V, 1.0f, 0.0f);
    a->have16 = false;
}

double head_loss(head_acts *a, const int32_t *targets, int N, int T, int ld, int V, long *correct)
{
    double sum = op_xent_forward(a->lse, a->logits, targets, N, T, ld, V);
    if (correct && targets) {
        long c = 0;
        for (int n = 0; n < N; n++) {
            const float *r = a->logits + (size_t)n * V;
            int best = 0;
            for (int j = 1; j < V; j++)
                if (r[j] > r[best]) best = j;
            c += best == targets[(size_t)(n / T) * ld + n % T];
        }
        *correct = c;
    }
    return sum;
}

double head_loss_grad(head_acts *a, const int32_t *targets, int N, int T, int ld, int V, float scale,
                      long *correct)
{
    a->have16 = a->dlogits16 && op_precision_get() == OP_BF16;
    return op_xent_fused(a->logits, a->lse, targets, N, T, ld, V, scale, correct,
                         a->have16 ? a->dlogits16 : NULL);
}

void head_backward_dlogits(const param_arena *p, head_acts *a, const float *x, float *dx, int N, int D,
                           int V)
{
    bool train = p->trainable && p->g;
    const float *W = param_ptr(p, HEAD_OUT_W);
    if (!dx && !train) return;
    /* dW += dlogits^T xn, then dxn [N, D] = dlogits W written over xn (no
     * longer needed; op_linear_backward does dW first) */
    op_linear_backward_dy16(a->xn, 0.0f, train ? param_ptr_in(p, p->g, HEAD_OUT_W) : NULL,
                            a->have16 ? NULL : a->logits, a->have16 ? a->dlogits16 : NULL, a->xn,
                            W, N, D, V, 1.0f);
    op_rmsnorm_backward(dx, train ? param_ptr_in(p, p->g, HEAD_NORM_G) : NULL, a->xn, x, a->rstd,
                        param_ptr(p, HEAD_NORM_G), N, D);
}

void head_backward(const param_arena *p, head_acts *a, const int32_t *targets, const float *x, float *dx,
                   int N, int T, int ld, int D, int V, float scale)
{
    op_xent_backward(a->logits, a->logits, a->lse, targets, N, T, ld, V, scale);
    a->have16 = false;
    head_backward_dlogits(p, a, x, dx, N, D, V);
}
