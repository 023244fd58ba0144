/* adamw.h -- AdamW (PyTorch torch.optim.AdamW semantics), global grad-norm
 * clipping and the learning-rate schedule of docs/MODEL.md "Optimiser".
 *
 * Parameters, gradients and moments are arenas (params.h): the update runs
 * over each arena's descriptor table so weight decay applies only where the
 * table says (never norm gains).  The step counter is an integer the caller
 * keeps (and saves); it is 1 for the first update of a stage.
 */
#ifndef STRATA_ADAMW_H
#define STRATA_ADAMW_H

#include "strata/params.h"

typedef struct adamw_cfg {
    double beta1, beta2;  /* 0.9, 0.95 */
    double eps;           /* 1e-8 */
    double weight_decay;  /* 0.1; applied only to tensors with decay */
    double grad_clip;     /* clip global norm to this (0 = off) */
} adamw_cfg;

/* sqrt(sum g^2) over the trainable arenas (double accumulation). */
double adamw_grad_norm(param_arena *const *arenas, int n);
/* If clip > 0: g *= min(1, clip / (norm + 1e-6)); returns the factor used. */
double adamw_clip(param_arena *const *arenas, int n, double clip, double norm);
/* One update at step t (>= 1) with learning rate lr, on every arena with
 * trainable set (needs g, m, v).  No clipping here. */
void adamw_update(param_arena *const *arenas, int n, const adamw_cfg *cfg, double lr, long t);
/* Norm, clip, update; returns the pre-clip global norm. */
double adamw_step(param_arena *const *arenas, int n, const adamw_cfg *cfg, double lr, long t);
/* lr at 0-based step s of a stage of S steps with warmup w (docs/MODEL.md);
 * steps past S stay at min_lr. */
double lr_schedule(long s, long S, long w, double peak, double min_lr);

#endif
