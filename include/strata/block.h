/* block.h -- one pre-norm transformer block (docs/MODEL.md "Forward").
 *
 *   a = rmsnorm(x, ln1_g); qkv = a Wqkv^T (+ LoRA); rope(q, k); o = attn(qkv)
 *   x1 = x + o Wout^T (+ LoRA); m = rmsnorm(x1, ln2_g)
 *   y  = x1 + gelu(m Win^T (+ LoRA)) Wout2^T (+ LoRA)
 *
 * block_forward fills a block_acts (what the backward needs); the caller owns
 * the buffers (model_ws).  Rows n = b*T + t, N = B*T.
 */
#ifndef STRATA_BLOCK_H
#define STRATA_BLOCK_H

#include <stdbool.h>

#include "strata/error.h"
#include "strata/lora.h"
#include "strata/params.h"

/* Sizes and the RoPE tables shared by all blocks. */
typedef struct block_ctx {
    int D, H, hd, F;
    float eps;
    int cap_T;
    float *rope_cos; /* [cap_T, hd/2] (owned by whoever filled it) */
    float *rope_sin; /* [cap_T, hd/2] */
} block_ctx;

/* Activations of one block kept for its backward. */
typedef struct block_acts {
    float *a1;         /* [N, D] rmsnorm(x, ln1_g) */
    float *rstd1;      /* [N] */
    float *qkv;        /* [N, 3D] after RoPE on q and k */
    float *att;        /* [B, H, T, T] softmax probabilities */
    float *ao;         /* [N, D] attention output (heads concatenated) */
    float *x1;         /* [N, D] x + attention branch */
    float *m;          /* [N, D] rmsnorm(x1, ln2_g) */
    float *rstd2;      /* [N] */
    float *hpre;       /* [N, F] m Win^T (pre-GELU) */
    float *hg;         /* [N, F] gelu(hpre) */
    float *lu[LORA_NMATS]; /* [N, r_max] LoRA down projections x A^T (NULL when r_max == 0) */
} block_acts;

/* Backward scratch (one per workspace). */
typedef struct block_scratch {
    float *dqkv; /* [N, 3D] */
    float *dh;   /* [N, F] */
    float *dao;  /* [N, D] */
    float *dx1;  /* [N, D] */
    float *dn;   /* [N, D] gradient at a norm output */
    float *dp;   /* [T, T] */
    float *du;   /* [N, r_max] */
} block_scratch;

/* y [N, D] = block(x [N, D]); lora may be NULL (or lora->r == 0).  y != x. */
void block_forward(const block_ctx *c, const param_arena *p, const lora_t *lora, block_acts *a,
                   int B, int T, const float *x, float *y);
/* From dy [N, D]: ADD weight gradients into p->g (if p->trainable and p->g),
 * LoRA gradients into lora->p.g (if trainable), and dx [N, D] += dL/dx unless
 * dx == NULL.  x is the block input of the forward. */
void block_backward(const block_ctx *c, const param_arena *p, const lora_t *lora,
                    const block_acts *a, block_scratch *s, int B, int T, const float *x,
                    const float *dy, float *dx);

#endif
