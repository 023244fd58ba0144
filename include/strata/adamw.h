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
/* sum g^2 over g[first[a] .. first[a] + count[a]) of each trainable arena a,
 * arenas in order (NULL first/count: every element).  A sharded run adds
 * the ranks' partial sums in rank order (comm_sum_ordered_f64); the
 * unsharded run does the same over the same segments, so both clip alike. */
double adamw_grad_sumsq(param_arena *const *arenas, int n, const size_t *first, const size_t *count);
/* The global-norm clipping factor: min(1, clip / (norm + 1e-6)) if clip > 0,
 * else 1. */
double adamw_clip_factor(double clip, double norm);
/* One update at step t (>= 1) with learning rate lr, on every arena with
 * trainable set (needs g, m, v), of the elements the rank owns
 * (param_owned; each element's update is the same wherever it is owned).
 * Each gradient enters as (float)(g * gscale): the clipping factor is
 * applied inside the one pass over the moments, and g is left as it was
 * (no separate pass reads and writes every gradient). */
void adamw_update(param_arena *const *arenas, int n, const adamw_cfg *cfg, double lr, long t,
                  double gscale);
/* Norm, clip, update; returns the pre-clip global norm. */
double adamw_step(param_arena *const *arenas, int n, const adamw_cfg *cfg, double lr, long t);
/* lr at 0-based step s of a stage of S steps with warmup w (docs/MODEL.md);
 * steps past S stay at min_lr. */
double lr_schedule(long s, long S, long w, double peak, double min_lr);

#endif
