/* head.h -- final RMSNorm + output projection + cross-entropy.
 *
 *   logits = rmsnorm(x, norm_g) out_w^T ; loss = mean -log softmax[target]
 */
#ifndef STRATA_HEAD_H
#define STRATA_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "strata/params.h"

typedef struct head_acts {
    float *xn;     /* [N, D] rmsnorm(x, norm_g) */
    float *rstd;   /* [N] */
    float *logits; /* [N, V] (overwritten by dlogits in head_backward / head_loss_grad) */
    float *lse;    /* [N] logsumexp of each logits row */
    /* [N, V] dlogits rounded to bfloat16 by head_loss_grad, for the bf16
     * backward products (train.precision = bfloat16 only: allocated by
     * model_forward_head on the first bf16 training step, else NULL) */
    uint16_t *dlogits16;
    bool have16; /* dlogits16 holds the current dlogits */
} head_acts;

/* logits = head(x [N, D]); eps is the RMSNorm epsilon. */
void head_forward(const param_arena *p, head_acts *a, const float *x, int N, int D, int V, float eps);
/* Sum over rows of -log softmax(logits)[target]; targets addressed as in
 * op_xent_forward.  Fills a->lse.  *correct (if not NULL) = argmax hits. */
double head_loss(head_acts *a, const int32_t *targets, int N, int T, int ld, int V, long *correct);
/* Gradient of (scale * summed loss): turns a->logits into dlogits in place,
 * ADDS into p->g (if p->trainable and p->g) and dx [N, D] (if not NULL).
 * = op_xent_backward + head_backward_dlogits. */
void head_backward(const param_arena *p, head_acts *a, const int32_t *targets, const float *x, float *dx,
                   int N, int T, int ld, int D, int V, float scale);
/* Training path: loss and dlogits in one pass (op_xent_fused); a->logits then
 * holds dlogits -- or, when a->dlogits16 is allocated and the precision is
 * bfloat16, a->dlogits16 holds them in bf16 (a->have16) and a->logits is
 * used up.  Returns the summed loss. */
double head_loss_grad(head_acts *a, const int32_t *targets, int N, int T, int ld, int V, float scale,
                      long *correct);
/* The rest of the head backward once a->logits holds dlogits [N, V]
 * (overwrites a->xn). */
void head_backward_dlogits(const param_arena *p, head_acts *a, const float *x, float *dx, int N, int D,
                           int V);

#endif
