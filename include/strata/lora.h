/* lora.h -- LoRA adapters of one block (docs/MODEL.md "LoRA").
 *
 * For each of attn_qkv_w, attn_out_w, mlp_in_w, mlp_out_w (W [out, in]):
 * A [r, in] ~ normal(0, 1/sqrt(in)), B [out, r] = 0, named
 * "<matrix>.lora_A" / "<matrix>.lora_B"; the layer computes
 * x W^T + s (x A^T) B^T with s = alpha / r.  All eight tensors live in one
 * arena (kind ARENA_LORA), A then B per matrix, in the order above.
 */
#ifndef STRATA_LORA_H
#define STRATA_LORA_H

#include "strata/error.h"
#include "strata/params.h"
#include "strata/rng.h"

typedef struct lora_t {
    int r;         /* rank; 0 = no adapters */
    float alpha;
    float scale;   /* alpha / r */
    param_arena p; /* the adapters */
} lora_t;

/* Allocate and initialise adapters for a block of width D, MLP width F. */
st_status lora_init(lora_t *l, int D, int F, int r, float alpha, rng_t *rng);
void lora_free(lora_t *l);
/* Shapes [out, in] of the four adapted matrices for (D, F). */
void lora_mat_shape(int mat, int D, int F, int *out, int *in);
/* Base-weight tensor index (BLK_*) adapted by LoRA matrix `mat`. */
int lora_base_index(int mat);
/* W += s B A for all four matrices of block arena `blk`, in double accumulation. */
void lora_merge_into(const lora_t *l, param_arena *blk, int D, int F);

/* Adapted linear: y [N, out] (+)= x W^T + s (x A^T) B^T; u [N, r] = x A^T is kept
 * for the backward.  beta = 0 overwrites y, 1 accumulates. */
void lora_linear_forward(float *y, float *u, const float *x, const float *W, const float *A,
                         const float *Bm, float s, int N, int in, int out, int r, float beta);
/* From dy [N, out]: dx += dy W + s (dy B) A (dx may be NULL), dA += s (dy B)^T x,
 * dB += s dy^T u (dA/dB may be NULL; W may be NULL to skip the dy W term when the
 * caller handles the base weight); du [N, r] is scratch. */
void lora_linear_backward(float *dx, float *dA, float *dB, float *du, const float *dy,
                          const float *x, const float *u, const float *W, const float *A,
                          const float *Bm, float s, int N, int in, int out, int r);

#endif
