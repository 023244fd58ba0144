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

double adamw_grad_norm(param_arena *const *arenas, int n)
{
    double s = 0;
    for (int a = 0; a < n; a++) {
        const param_arena *p = arenas[a];
        if (!p->trainable || !p->g) continue;
        s += sum_sq(p->g, p->numel);
    }
    return sqrt(s);
}

double adamw_clip(param_arena *const *arenas, int n, double clip, double norm)
{
    if (!(clip > 0)) return 1.0;
    double f = clip / (norm + 1e-6);
    if (f >= 1.0) return 1.0;
    for (int a = 0; a < n; a++) {
        param_arena *p = arenas[a];
        if (!p->trainable || !p->g) continue;
        for (size_t i = 0; i < p->numel; i++) p->g[i] = (float)(p->g[i] * f);
    }
    return f;
}

ST_CLONES void adamw_update(param_arena *const *arenas, int n, const adamw_cfg *cfg, double lr, long t)
{
    double b1 = cfg->beta1, b2 = cfg->beta2;
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    /* p -= lr * (m / bc1) / (sqrt(v / bc2) + eps), in the PyTorch arrangement */
    float step = (float)(lr / bc1), inv_sbc2 = (float)(1.0 / sqrt(bc2)), eps = (float)cfg->eps;
    float fb1 = (float)b1, fb2 = (float)b2, c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2);
    for (int a = 0; a < n; a++) {
        param_arena *p = arenas[a];
        if (!p->trainable || !p->g || !p->m || !p->v) continue;
        for (int k = 0; k < p->n; k++) {
            const param_desc *d = &p->desc[k];
            float *w = p->w + d->offset, *g = p->g + d->offset;
            float *m = p->m + d->offset, *v = p->v + d->offset;
            float decay = d->decay ? (float)(1.0 - lr * cfg->weight_decay) : 1.0f;
            for (size_t i = 0; i < d->numel; i++) {
                float gi = g[i];
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
    adamw_clip(arenas, n, cfg->grad_clip, norm);
    adamw_update(arenas, n, cfg, lr, t);
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
