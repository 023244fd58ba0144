/* params.c -- parameter arenas and their descriptor tables (see params.h). */
#include "strata/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float *param_falloc(size_t n)
{
    /* C11 aligned_alloc wants a size that is a multiple of the alignment */
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

static param_desc mat(const char *name, int out, int in, param_init init, double std, bool decay)
{
    param_desc d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    d.ndim = 2;
    d.shape[0] = out;
    d.shape[1] = in;
    d.init = init;
    d.std = std;
    d.decay = decay;
    return d;
}

static param_desc vec(const char *name, int n)
{
    param_desc d = mat(name, n, 1, PINIT_ONES, 0.0, false);
    d.ndim = 1;
    d.shape[1] = 0;
    return d;
}

st_status param_arena_from_table(param_arena *a, arena_kind kind, const param_desc *table, int n)
{
    st_status st = ST_OK;
    memset(a, 0, sizeof *a);
    if (n < 1 || n > PARAM_MAX_TENSORS)
        FAIL(ST_EUSAGE, "parameter arena: %d tensors (1..%d allowed)", n, PARAM_MAX_TENSORS);
    a->kind = kind;
    a->n = n;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        param_desc d = table[i];
        if (d.shape[0] <= 0 || (d.ndim == 2 && d.shape[1] <= 0))
            FAIL(ST_EUSAGE, "parameter %s: bad shape [%d, %d]", d.name, d.shape[0], d.shape[1]);
        d.numel = (size_t)d.shape[0] * (d.ndim == 2 ? (size_t)d.shape[1] : 1);
        d.offset = off;
        /* keep every tensor 16-float aligned (64 bytes) */
        off += (d.numel + 15) & ~(size_t)15;
        a->desc[i] = d;
    }
    a->numel = off;
    a->w = param_falloc(off);
    CHECK_ALLOC(a->w);
out:
    return st;
}

st_status param_arena_block(param_arena *a, int D, int F, int L, double init_std)
{
    double s2 = init_std / sqrt(2.0 * (L > 0 ? L : 1));
    param_desc t[BLK_NTENSORS] = {
        [BLK_LN1_G] = vec("ln1_g", D),
        [BLK_ATTN_QKV_W] = mat("attn_qkv_w", 3 * D, D, PINIT_NORMAL, init_std, true),
        [BLK_ATTN_OUT_W] = mat("attn_out_w", D, D, PINIT_NORMAL, s2, true),
        [BLK_LN2_G] = vec("ln2_g", D),
        [BLK_MLP_IN_W] = mat("mlp_in_w", F, D, PINIT_NORMAL, init_std, true),
        [BLK_MLP_OUT_W] = mat("mlp_out_w", D, F, PINIT_NORMAL, s2, true),
    };
    return param_arena_from_table(a, ARENA_BLOCK, t, BLK_NTENSORS);
}

st_status param_arena_head(param_arena *a, int D, int V, double init_std)
{
    param_desc t[HEAD_NTENSORS] = {
        [HEAD_NORM_G] = vec("norm_g", D),
        [HEAD_OUT_W] = mat("out_w", V, D, PINIT_NORMAL, init_std, true),
    };
    return param_arena_from_table(a, ARENA_HEAD, t, HEAD_NTENSORS);
}

st_status param_arena_embed(param_arena *a, int V, int D)
{
    param_desc t[EMB_NTENSORS] = {
        [EMB_TOK] = mat("tok_emb", V, D, PINIT_NORMAL, 1.0 / sqrt((double)D), false),
    };
    return param_arena_from_table(a, ARENA_EMBED, t, EMB_NTENSORS);
}

st_status param_arena_lora(param_arena *a, int D, int F, int r)
{
    static const char *names[LORA_NMATS] = {"attn_qkv_w", "attn_out_w", "mlp_in_w", "mlp_out_w"};
    const int outs[LORA_NMATS] = {3 * D, D, F, D}, ins[LORA_NMATS] = {D, D, D, F};
    param_desc t[2 * LORA_NMATS];
    for (int j = 0; j < LORA_NMATS; j++) {
        char nm[PARAM_NAME_MAX];
        snprintf(nm, sizeof nm, "%s.lora_A", names[j]);
        t[2 * j] = mat(nm, r, ins[j], PINIT_NORMAL, 1.0 / sqrt((double)ins[j]), true);
        snprintf(nm, sizeof nm, "%s.lora_B", names[j]);
        t[2 * j + 1] = mat(nm, outs[j], r, PINIT_ZEROS, 0.0, true);
    }
    return param_arena_from_table(a, ARENA_LORA, t, 2 * LORA_NMATS);
}

void param_arena_free(param_arena *a)
{
    if (!a) return;
    free(a->w);
    memset(a, 0, sizeof *a);
}

st_status param_arena_clone(param_arena *dst, const param_arena *src)
{
    st_status st = ST_OK;
    CHECK(param_arena_from_table(dst, src->kind, src->desc, src->n));
    memcpy(dst->w, src->w, src->numel * sizeof(float));
    dst->trainable = src->trainable;
out:
    return st;
}

void param_init_values(param_arena *a, rng_t *rng)
{
    for (int i = 0; i < a->n; i++) {
        const param_desc *d = &a->desc[i];
        float *w = a->w + d->offset;
        for (size_t k = 0; k < d->numel; k++) {
            switch (d->init) {
            case PINIT_ONES: w[k] = 1.0f; break;
            case PINIT_ZEROS: w[k] = 0.0f; break;
            case PINIT_NORMAL: w[k] = (float)(d->std * rng_normal(rng)); break;
            }
        }
    }
}

void param_zero_grad(param_arena *a)
{
    if (a->g) memset(a->g, 0, a->numel * sizeof(float));
}

int param_find(const param_arena *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->desc[i].name, name) == 0) return i;
    return -1;
}

float *param_ptr(const param_arena *a, int i) { return a->w + a->desc[i].offset; }

float *param_ptr_in(const param_arena *a, const float *base, int i)
{
    return base ? (float *)base + a->desc[i].offset : NULL;
}

const char *param_arena_kind_name(arena_kind k)
{
    switch (k) {
    case ARENA_BLOCK: return "block";
    case ARENA_HEAD: return "head";
    case ARENA_EMBED: return "embed";
    case ARENA_LORA: return "lora";
    }
    return "?";
}

static double rms(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0.0;
}

void param_arena_print(const param_arena *a, const char *title, FILE *f)
{
    static const char *inits[] = {"ones", "zeros", "normal"};
    fprintf(f, "%s (%s, %zu floats%s)\n", title ? title : param_arena_kind_name(a->kind),
            param_arena_kind_name(a->kind), a->numel, a->trainable ? ", trainable" : "");
    for (int i = 0; i < a->n; i++) {
        const param_desc *d = &a->desc[i];
        char shape[48];
        if (d->ndim == 2)
            snprintf(shape, sizeof shape, "[%d, %d]", d->shape[0], d->shape[1]);
        else
            snprintf(shape, sizeof shape, "[%d]", d->shape[0]);
        fprintf(f, "  %-22s %-14s %10zu  %-6s std=%-8.4g decay=%-3s rms=%.4g", d->name, shape,
                d->numel, inits[d->init], d->std, d->decay ? "yes" : "no",
                rms(a->w + d->offset, d->numel));
        if (a->g) fprintf(f, " grad_rms=%.4g", rms(a->g + d->offset, d->numel));
        fputc('\n', f);
    }
}

void param_owned(const param_arena *a, size_t *first, size_t *count)
{
    *first = a->sharded ? a->own_first : 0;
    *count = a->sharded ? a->own_count : a->numel;
}
