/* adamw.c -- AdamW, clipping, LR schedule (docs/MODEL.md "Optimiser"). */
#include "fastmath.h" /* first: vectorisation of the update loop */

#include "strata/adamw.h"

#include <math.h>

/* sum of squares in 8 double lanes (vectorises without reassociation) */
ST_CLONES static double sum_sq(const float *g, size_t n)
{
    double lane[8] = {0}, s = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)g[i + k] * g[i + k];
    for (; i < n; i++) s += (double)g[i] * g[i];
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

double adamw_grad_sumsq(param_arena *const *arenas, int n, const size_t *first, const size_t *count)
{
    double s = 0;
    for (int a = 0; a < n; a++) {
        const param_arena *p = arenas[a];
        if (!p->trainable || !p->g) continue;
        s += first ? sum_sq(p->g + first[a], count[a]) : sum_sq(p->g, p->numel);
    }
    return s;
}

double adamw_grad_norm(param_arena *const *arenas, int n) { return sqrt(adamw_grad_sumsq(arenas, n, NULL, NULL)); }

double adamw_clip_factor(double clip, double norm)
{
    if (!(clip > 0)) return 1.0;
    double f = clip / (norm + 1e-6);
    return f < 1.0 ? f : 1.0;
}

ST_CLONES void adamw_update(param_arena *const *arenas, int n, const adamw_cfg *cfg, double lr, long t,
                            double gscale)
{
    double b1 = cfg->beta1, b2 = cfg->beta2;
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    /* p -= lr * (m / bc1) / (sqrt(v / bc2) + eps), in the PyTorch arrangement */
    float step = (float)(lr / bc1), inv_sbc2 = (float)(1.0 / sqrt(bc2)), eps = (float)cfg->eps;
    float fb1 = (float)b1, fb2 = (float)b2, c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2);
    for (int a = 0; a < n; a++) {
        param_arena *p = arenas[a];
        if (!p->trainable || !p->g || !p->m || !p->v) continue;
        size_t own, nown;
        param_owned(p, &own, &nown);
        for (int k = 0; k < p->n; k++) {
            /* the part of tensor k this rank owns: elements lo .. hi - 1 of the arena */
            const param_desc *d = &p->desc[k];
            size_t lo = d->offset > own ? d->offset : own;
            size_t hi = d->offset + d->numel < own + nown ? d->offset + d->numel : own + nown;
            if (lo >= hi) continue;
            float *w = p->w + lo, *g = p->g + lo;
            float *m = p->m + (lo - own), *v = p->v + (lo - own);
            float decay = d->decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
            for (size_t i = 0; i < hi - lo; i++) {
                /* the clipped gradient, rounded as a separate clipping pass
                 * over g would store it (exact when gscale is 1) */
                float gi = (float)((double)g[i] * gscale);
                m[i] = fb1 * m[i] + c1 * gi;
                v[i] = fb2 * v[i] + c2 * gi * gi;
                w[i] = w[i] * decay - step * m[i] / (sqrtf(v[i]) * inv_sbc2 + eps);
            }
        }
    }
}

double adamw_step(param_arena *const *arenas, int n, const adamw_cfg *cfg, double lr, long t)
{
    double norm = adamw_grad_norm(arenas, n);
    adamw_update(arenas, n, cfg, lr, t, adamw_clip_factor(cfg->grad_clip, norm));
    return norm;
}

double lr_schedule(long s, long S, long w, double peak, double min_lr)
{
    if (s < w) return peak * (double)(s + 1) / (double)w;
    long den = S - w > 1 ? S - w : 1;
    double p = (double)(s - w) / (double)den;
    if (p > 1.0) p = 1.0; /* past the planned end (plateau stages): stay at min_lr */
    return min_lr + (peak - min_lr) * (1.0 + cos(3.14159265358979323846 * p)) / 2.0;
}
