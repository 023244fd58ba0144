/* tensors.c -- the model's tensors in a growth checkpoint: every arena at
 * its layout.h path below /model, with (during a stage) its AdamW moments at
 * /optim/{m,v}/<the same path>.  One routine reads and writes an arena with
 * its moments, so the two directions cannot drift apart.  Under train.zero
 * each rank holds a slice of the moments: they are gathered for writing and
 * sliced when read, so /optim is the same file with zero on or off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "strata/agree.h"
#include "strata/comm.h"
#include "strata/layout.h"

/* The offset of arena a in the gradient layout (the layout of /optim as written). */
static size_t grad_offset(const grow_run *g, const param_arena *a) { return (size_t)(a->g - g->m.grad); }

/* One moment of arena a at path q: written from full[n_train] (gradient
 * layout), read into the rank's slice a->m or a->v (`mine`). */
static st_status moment_io(h5_file *f, grow_run *g, param_arena *a, const char *q, const float *full, float *mine,
                           bool write)
{
    st_status st = ST_OK;
    float *tmp = NULL;
    size_t first, count;
    param_owned(a, &first, &count);
    if (write) {
        CHECK(layout_arena_io(f, a, q, (float *)full + grad_offset(g, a), true));
    } else if (first == 0 && count == a->numel) {
        CHECK(layout_arena_io(f, a, q, mine, false));
    } else {
        CHECK_ALLOC(tmp = param_falloc(a->numel));
        CHECK(layout_arena_io(f, a, q, tmp, false));
        memcpy(mine, tmp + first, count * sizeof *mine);
    }
out:
    free(tmp);
    return st;
}

static st_status arena_io(h5_file *f, grow_run *g, param_arena *a, const char *p, bool moments, const float *mf,
                          const float *vf, bool write)
{
    st_status st = ST_OK;
    char q[160];
    CHECK(layout_arena_io(f, a, p, a->w, write));
    if (moments && a->trainable && a->m) {
        snprintf(q, sizeof q, "optim/m/%s", p);
        CHECK(moment_io(f, g, a, q, mf, a->m, write));
        snprintf(q, sizeof q, "optim/v/%s", p);
        CHECK(moment_io(f, g, a, q, vf, a->v, write));
    }
out:
    return st;
}

/* Attributes that describe an arena to other tools (docs/FORMAT.md). */
static st_status arena_attrs(h5_file *f, const grow_run *g, const param_arena *a, const char *p)
{
    st_status st = ST_OK;
    const model *m = &g->m;
    CHECK(h5_attr_set_i64(f, p, "frozen", a->trainable ? 0 : 1));
    for (int l = 0; l < m->n_blocks; l++) {
        if (a == &m->blocks[l]) CHECK(h5_attr_set_i64(f, p, "trained_in_stage", g->monolithic ? 1 : l + 1));
        if (a == &m->lora[l].p) {
            CHECK(h5_attr_set_i64(f, p, "rank", m->lora[l].r));
            CHECK(h5_attr_set_f64(f, p, "alpha", m->lora[l].alpha));
        }
    }
out:
    return st;
}

static st_status tensors_io(h5_file *f, grow_run *g, bool moments, const float *mf, const float *vf, bool write)
{
    st_status st = ST_OK;
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = layout_arenas(&g->m, arenas, MODEL_MAX_ARENAS);
    for (int i = 0; i < na; i++) {
        char p[128];
        layout_arena_path(&g->m, arenas[i], "model", p, sizeof p);
        CHECK(arena_io(f, g, arenas[i], p, moments, mf, vf, write));
        if (write) CHECK(arena_attrs(f, g, arenas[i], p));
    }
out:
    return st;
}

st_status grow_tensors_write(h5_file *f, grow_run *g, bool moments, const float *m, const float *v)
{
    return tensors_io(f, g, moments && m && v, m, v, true);
}

st_status grow_tensors_read(h5_file *f, grow_run *g, bool moments) { return tensors_io(f, g, moments, NULL, NULL, false); }

st_status grow_moments_gather(grow_run *g, float **m, float **v, bool *gathered)
{
    st_status st = ST_OK;
    model *md = &g->m;
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = model_trainable_arenas(md, arenas, MODEL_MAX_ARENAS);
    bool sharded = false;
    for (int i = 0; i < na; i++) sharded |= arenas[i]->sharded;
    *m = *v = NULL;
    *gathered = sharded && g->size > 1;
    if (!*gathered) {
        if (g->rank == 0) {
            *m = md->adam_m;
            *v = md->adam_v;
        }
        goto out;
    }
    /* Rank 0 holds the whole moments only while it writes the file. */
    if (g->rank == 0) {
        *m = param_falloc(md->n_train ? md->n_train : 1);
        *v = param_falloc(md->n_train ? md->n_train : 1);
    }
    CHECK(st_agree(g->rank == 0 && (!*m || !*v) ? ST_ENOMEM : ST_OK, g->comm));
    for (int i = 0; i < na; i++) {
        param_arena *a = arenas[i];
        size_t off = grad_offset(g, a);
        CHECK(comm_gather_segments(a->m, g->rank == 0 ? *m + off : NULL, a->numel, 0, g->comm));
        CHECK(comm_gather_segments(a->v, g->rank == 0 ? *v + off : NULL, a->numel, 0, g->comm));
    }
out:
    if (st != ST_OK && *gathered) {
        free(*m);
        free(*v);
        *m = *v = NULL;
    }
    return st;
}
