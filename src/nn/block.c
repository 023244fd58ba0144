/* block.c -- one pre-norm transformer block, forward and backward (see block.h). */
#include "strata/block.h"

#include <string.h>

#include "strata/ops.h"

static bool has_lora(const lora_t *lo) { return lo && lo->r > 0; }

/* y [N, out] (beta 0: =, 1: +=) x W^T (+ s (x A^T) B^T for LoRA matrix `mat`). */
static void lin_fwd(const param_arena *p, const lora_t *lo, int mat, float *y, float *u,
                    const float *x, int N, int in, int out, float beta)
{
    const float *W = param_ptr(p, lora_base_index(mat));
    if (has_lora(lo))
        lora_linear_forward(y, u, x, W, param_ptr(&lo->p, 2 * mat), param_ptr(&lo->p, 2 * mat + 1),
                            lo->scale, N, in, out, lo->r, beta);
    else
        op_matmul_forward(y, x, W, N, in, out, 1.0f, beta);
}

/* Backward of lin_fwd: dx [N, in] is OVERWRITTEN (when not NULL), weight and
 * adapter gradients are added when their arena trains. */
static void lin_bwd(const param_arena *p, const lora_t *lo, int mat, float *dx, float *du,
                    const float *dy, const float *x, const float *u, int N, int in, int out)
{
    int wi = lora_base_index(mat);
    const float *W = param_ptr(p, wi);
    /* dW += dy^T x ; dx = dy W */
    op_linear_backward(dx, 0.0f, p->trainable && p->g ? param_ptr_in(p, p->g, wi) : NULL, dy, x, W,
                       N, in, out, 1.0f);
    if (has_lora(lo)) {
        bool lt = lo->p.trainable && lo->p.g;
        lora_linear_backward(dx, lt ? param_ptr_in(&lo->p, lo->p.g, 2 * mat) : NULL,
                             lt ? param_ptr_in(&lo->p, lo->p.g, 2 * mat + 1) : NULL, du, dy, x, u,
                             NULL, param_ptr(&lo->p, 2 * mat), param_ptr(&lo->p, 2 * mat + 1),
                             lo->scale, N, in, out, lo->r);
    }
}

void block_forward(const block_ctx *c, const param_arena *p, const lora_t *lora, block_acts *a,
                   int B, int T, const float *x, float *y)
{
    int N = B * T, D = c->D, F = c->F;
    size_t nd = (size_t)N * D;
    /* attention branch */
    op_rmsnorm_forward(a->a1, a->rstd1, x, param_ptr(p, BLK_LN1_G), N, D, c->eps);
    lin_fwd(p, lora, LORA_QKV, a->qkv, a->lu[LORA_QKV], a->a1, N, D, 3 * D, 0.0f);
    op_rope_apply(a->qkv, B, T, 3 * D, c->H, c->hd, c->rope_cos, c->rope_sin, 0);     /* q */
    op_rope_apply(a->qkv + D, B, T, 3 * D, c->H, c->hd, c->rope_cos, c->rope_sin, 0); /* k */
    op_attention_forward(a->ao, a->att, a->qkv, B, T, c->H, c->hd);
    memcpy(a->x1, x, nd * sizeof(float));
    lin_fwd(p, lora, LORA_OUT, a->x1, a->lu[LORA_OUT], a->ao, N, D, D, 1.0f);
    /* MLP branch */
    op_rmsnorm_forward(a->m, a->rstd2, a->x1, param_ptr(p, BLK_LN2_G), N, D, c->eps);
    lin_fwd(p, lora, LORA_MLP_IN, a->hpre, a->lu[LORA_MLP_IN], a->m, N, D, F, 0.0f);
    op_gelu_forward(a->hg, a->hpre, (size_t)N * F);
    memcpy(y, a->x1, nd * sizeof(float));
    lin_fwd(p, lora, LORA_MLP_OUT, y, a->lu[LORA_MLP_OUT], a->hg, N, F, D, 1.0f);
}

void block_backward(const block_ctx *c, const param_arena *p, const lora_t *lora,
                    const block_acts *a, block_scratch *s, int B, int T, const float *x,
                    const float *dy, float *dx)
{
    int N = B * T, D = c->D, F = c->F;
    size_t nd = (size_t)N * D;
    bool train = p->trainable && p->g;
    float *dg1 = train ? param_ptr_in(p, p->g, BLK_LN1_G) : NULL;
    float *dg2 = train ? param_ptr_in(p, p->g, BLK_LN2_G) : NULL;

    /* y = x1 + hg Wmo^T: dh = dy Wmo, then through GELU */
    lin_bwd(p, lora, LORA_MLP_OUT, s->dh, s->du, dy, a->hg, a->lu[LORA_MLP_OUT], N, F, D);
    op_gelu_backward_set(s->dh, s->dh, a->hpre, (size_t)N * F);
    /* hpre = m Win^T: dm = dh Win */
    lin_bwd(p, lora, LORA_MLP_IN, s->dn, s->du, s->dh, a->m, a->lu[LORA_MLP_IN], N, D, F);
    /* dx1 = dy + rmsnorm backward(dm) */
    memcpy(s->dx1, dy, nd * sizeof(float));
    op_rmsnorm_backward(s->dx1, dg2, s->dn, a->x1, a->rstd2, param_ptr(p, BLK_LN2_G), N, D);
    /* x1 = x + ao Wout^T */
    lin_bwd(p, lora, LORA_OUT, s->dao, s->du, s->dx1, a->ao, a->lu[LORA_OUT], N, D, D);
    op_attention_backward(s->dqkv, s->dp, s->dao, a->qkv, a->att, B, T, c->H, c->hd);
    op_rope_apply(s->dqkv, B, T, 3 * D, c->H, c->hd, c->rope_cos, c->rope_sin, 1);
    op_rope_apply(s->dqkv + D, B, T, 3 * D, c->H, c->hd, c->rope_cos, c->rope_sin, 1);
    /* qkv = a1 Wqkv^T: da1 is needed for dx or for ln1_g's gradient */
    bool need_da1 = dx || dg1;
    lin_bwd(p, lora, LORA_QKV, need_da1 ? s->dn : NULL, s->du, s->dqkv, a->a1, a->lu[LORA_QKV], N,
            D, 3 * D);
    if (!need_da1) return;
    op_rmsnorm_backward(dx, dg1, s->dn, x, a->rstd1, param_ptr(p, BLK_LN1_G), N, D);
    if (dx) op_residual_backward(dx, NULL, s->dx1, nd);
}
