/* lora.c -- LoRA adapters: init, the adapted linear layer, merge (see lora.h). */
#include "strata/lora.h"

#include <string.h>

#include "strata/ops.h"

st_status lora_init(lora_t *l, int D, int F, int r, float alpha, rng_t *rng)
{
    st_status st = ST_OK;
    memset(l, 0, sizeof *l);
    if (r < 1) FAIL(ST_EUSAGE, "LoRA rank %d: must be >= 1", r);
    CHECK(param_arena_lora(&l->p, D, F, r));
    param_init_values(&l->p, rng);
    l->r = r;
    l->alpha = alpha;
    l->scale = alpha / (float)r;
    l->p.trainable = true;
out:
    return st;
}

void lora_free(lora_t *l)
{
    if (!l) return;
    param_arena_free(&l->p);
    memset(l, 0, sizeof *l);
}

void lora_mat_shape(int mat, int D, int F, int *out, int *in)
{
    static const int outs[LORA_NMATS][2] = {{3, 0}, {1, 0}, {0, 1}, {1, 0}}; /* (a D + b F) */
    static const int ins[LORA_NMATS][2] = {{1, 0}, {1, 0}, {1, 0}, {0, 1}};
    *out = outs[mat][0] * D + outs[mat][1] * F;
    *in = ins[mat][0] * D + ins[mat][1] * F;
}

int lora_base_index(int mat)
{
    static const int idx[LORA_NMATS] = {BLK_ATTN_QKV_W, BLK_ATTN_OUT_W, BLK_MLP_IN_W, BLK_MLP_OUT_W};
    return idx[mat];
}

void lora_merge_into(const lora_t *l, param_arena *blk, int D, int F)
{
    for (int j = 0; j < LORA_NMATS; j++) {
        int out, in;
        lora_mat_shape(j, D, F, &out, &in);
        const float *A = param_ptr(&l->p, 2 * j), *Bm = param_ptr(&l->p, 2 * j + 1);
        float *W = param_ptr(blk, lora_base_index(j));
        /* W [out, in] += s B [out, r] A [r, in] */
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                double acc = 0;
                for (int k = 0; k < l->r; k++) acc += (double)Bm[(size_t)o * l->r + k] * A[(size_t)k * in + i];
                W[(size_t)o * in + i] += (float)(l->scale * acc);
            }
    }
}

void lora_linear_forward(float *y, float *u, const float *x, const float *W, const float *A,
                         const float *Bm, float s, int N, int in, int out, int r, float beta)
{
    op_matmul_forward(y, x, W, N, in, out, 1.0f, beta);
    if (!A || r == 0) return;
    op_matmul_forward(u, x, A, N, in, r, 1.0f, 0.0f);   /* u [N, r] = x A^T */
    op_matmul_forward(y, u, Bm, N, r, out, s, 1.0f);    /* y += s u B^T */
}

void lora_linear_backward(float *dx, float *dA, float *dB, float *du, const float *dy,
                          const float *x, const float *u, const float *W, const float *A,
                          const float *Bm, float s, int N, int in, int out, int r)
{
    if (dx && W) op_matmul_backward(dx, NULL, dy, x, W, N, in, out, 1.0f);
    if (!A || r == 0) return;
    if (dB) /* dB [out, r] += s dy^T u */
        op_matmul_backward(NULL, dB, dy, u, Bm, N, r, out, s);
    if (!dx && !dA) return;
    /* du [N, r] = dy B */
    op_gemm(false, false, N, r, out, 1.0f, dy, out, Bm, r, 0.0f, du, r);
    /* dx += s du A ; dA [r, in] += s du^T x */
    op_matmul_backward(dx, dA, du, x, A, N, in, r, s);
}
