/* decode.c -- incremental decoding with a KV cache (batch 1; see model.h).
 * Uses the same kernels as the full forward (one row at a time), so the two
 * agree to float rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/model.h"
#include "strata/ops.h"

static float *kv_alloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

st_status kv_cache_init(kv_cache *c, const model *m, int depth, int cap_T)
{
    st_status st = ST_OK;
    memset(c, 0, sizeof *c);
    const model_dims *d = &m->dims;
    if (depth < 0 || depth > m->n_blocks || cap_T < 1)
        FAIL(ST_EUSAGE, "KV cache: depth %d (model has %d blocks) or length %d invalid", depth,
             m->n_blocks, cap_T);
    c->depth = depth;
    c->cap_T = cap_T;
    c->D = d->D;
    c->H = d->H;
    c->F = d->F;
    c->V = d->V;
    for (int l = 0; l < depth; l++)
        if (m->lora[l].r > c->r_max) c->r_max = m->lora[l].r;
    size_t kvn = (size_t)(depth ? depth : 1) * cap_T * d->D;
    int hd = d->D / d->H;
    CHECK_ALLOC(c->k = kv_alloc(kvn));
    CHECK_ALLOC(c->v = kv_alloc(kvn));
    CHECK_ALLOC(c->x = kv_alloc(d->D));
    CHECK_ALLOC(c->a = kv_alloc(d->D));
    CHECK_ALLOC(c->qkv = kv_alloc(3 * (size_t)d->D));
    CHECK_ALLOC(c->o = kv_alloc(d->D));
    CHECK_ALLOC(c->h = kv_alloc(d->F));
    CHECK_ALLOC(c->u = kv_alloc(c->r_max));
    CHECK_ALLOC(c->att = kv_alloc(cap_T));
    CHECK_ALLOC(c->logits = kv_alloc(d->V));
    CHECK_ALLOC(c->rope_cos = kv_alloc((size_t)cap_T * hd / 2));
    CHECK_ALLOC(c->rope_sin = kv_alloc((size_t)cap_T * hd / 2));
    op_rope_tables(c->rope_cos, c->rope_sin, cap_T, hd, d->theta);
out:
    if (st != ST_OK) kv_cache_free(c);
    return st;
}

void kv_cache_free(kv_cache *c)
{
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c->x);
    free(c->a);
    free(c->qkv);
    free(c->o);
    free(c->h);
    free(c->u);
    free(c->att);
    free(c->logits);
    free(c->rope_cos);
    free(c->rope_sin);
    memset(c, 0, sizeof *c);
}

void kv_cache_reset(kv_cache *c) { c->pos = 0; }

/* one row of x W^T (+ LoRA) */
static void lin1(const param_arena *p, const lora_t *lo, int mat, float *y, float *u, const float *x,
                 int in, int out, float beta)
{
    const float *W = param_ptr(p, lora_base_index(mat));
    if (lo && lo->r)
        lora_linear_forward(y, u, x, W, param_ptr(&lo->p, 2 * mat), param_ptr(&lo->p, 2 * mat + 1),
                            lo->scale, 1, in, out, lo->r, beta);
    else
        op_matmul_forward(y, x, W, 1, in, out, 1.0f, beta);
}

st_status model_decode_step(model *m, kv_cache *c, int32_t token)
{
    st_status st = ST_OK;
    const model_dims *d = &m->dims;
    int t = c->pos, D = d->D, H = d->H, hd = D / H, F = d->F, h2 = hd / 2;
    float rstd;
    if (t >= c->cap_T) FAIL(ST_EUSAGE, "KV cache full (%d positions)", c->cap_T);
    if (token < 0 || token >= d->V) FAIL(ST_EDATA, "token id %d outside [0, %d)", (int)token, d->V);
    for (int l = 0; l < c->depth; l++)
        if (m->lora[l].r > c->r_max)
            FAIL(ST_EUSAGE, "KV cache: block %d got LoRA rank %d after the cache was built (max %d)", l,
                 m->lora[l].r, c->r_max);
    memcpy(c->x, model_embed_table(m) + (size_t)token * D, (size_t)D * sizeof(float));
    float scale = (float)(1.0 / sqrt((double)hd));
    for (int l = 0; l < c->depth; l++) {
        const param_arena *p = &m->blocks[l];
        const lora_t *lo = m->lora[l].r ? &m->lora[l] : NULL;
        float *K = c->k + (size_t)l * c->cap_T * D, *Vc = c->v + (size_t)l * c->cap_T * D;
        op_rmsnorm_forward(c->a, &rstd, c->x, param_ptr(p, BLK_LN1_G), 1, D, d->eps);
        lin1(p, lo, LORA_QKV, c->qkv, c->u, c->a, D, 3 * D, 0.0f);
        /* tables offset by t: "row 0" of this call is position t */
        op_rope_apply(c->qkv, 1, 1, 3 * D, H, hd, c->rope_cos + (size_t)t * h2,
                      c->rope_sin + (size_t)t * h2, 0);
        op_rope_apply(c->qkv + D, 1, 1, 3 * D, H, hd, c->rope_cos + (size_t)t * h2,
                      c->rope_sin + (size_t)t * h2, 0);
        memcpy(K + (size_t)t * D, c->qkv + D, (size_t)D * sizeof(float));
        memcpy(Vc + (size_t)t * D, c->qkv + 2 * D, (size_t)D * sizeof(float));
        for (int h = 0; h < H; h++) {
            const float *q = c->qkv + h * hd;
            float mx = -INFINITY, sum = 0;
            for (int j = 0; j <= t; j++) {
                const float *k = K + (size_t)j * D + h * hd;
                float s = 0;
                for (int i = 0; i < hd; i++) s += q[i] * k[i];
                c->att[j] = s * scale;
                mx = c->att[j] > mx ? c->att[j] : mx;
            }
            for (int j = 0; j <= t; j++) {
                c->att[j] = expf(c->att[j] - mx);
                sum += c->att[j];
            }
            float *o = c->o + h * hd;
            for (int i = 0; i < hd; i++) o[i] = 0;
            for (int j = 0; j <= t; j++) {
                const float *v = Vc + (size_t)j * D + h * hd;
                float w = c->att[j] / sum;
                for (int i = 0; i < hd; i++) o[i] += w * v[i];
            }
        }
        lin1(p, lo, LORA_OUT, c->x, c->u, c->o, D, D, 1.0f);
        op_rmsnorm_forward(c->a, &rstd, c->x, param_ptr(p, BLK_LN2_G), 1, D, d->eps);
        lin1(p, lo, LORA_MLP_IN, c->h, c->u, c->a, D, F, 0.0f);
        op_gelu_forward(c->h, c->h, (size_t)F);
        lin1(p, lo, LORA_MLP_OUT, c->x, c->u, c->h, F, D, 1.0f);
    }
    op_rmsnorm_forward(c->a, &rstd, c->x, param_ptr(&m->head, HEAD_NORM_G), 1, D, d->eps);
    op_matmul_forward(c->logits, c->a, param_ptr(&m->head, HEAD_OUT_W), 1, D, d->V, 1.0f, 0.0f);
    c->pos++;
out:
    return st;
}
