/* tensors.c -- the model's tensors in a growth checkpoint: every arena at
 * its layout.h path below /model, with (during a stage) its AdamW moments at
 * /optim/{m,v}/<the same path>.  One routine reads and writes an arena with
 * its moments, so the two directions cannot drift apart. */
#include <stdio.h>

#include "run.h"
#include "strata/layout.h"

static st_status arena_io(h5_file *f, param_arena *a, const char *p, bool moments, bool write)
{
    st_status st = ST_OK;
    char q[160];
    CHECK(layout_arena_io(f, a, p, a->w, write));
    if (moments && a->trainable && a->m) {
        snprintf(q, sizeof q, "optim/m/%s", p);
        CHECK(layout_arena_io(f, a, q, a->m, write));
        snprintf(q, sizeof q, "optim/v/%s", p);
        CHECK(layout_arena_io(f, a, q, a->v, write));
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

static st_status tensors_io(h5_file *f, grow_run *g, bool moments, bool write)
{
    st_status st = ST_OK;
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = layout_arenas(&g->m, arenas, MODEL_MAX_ARENAS);
    for (int i = 0; i < na; i++) {
        char p[128];
        layout_arena_path(&g->m, arenas[i], "model", p, sizeof p);
        CHECK(arena_io(f, arenas[i], p, moments, write));
        if (write) CHECK(arena_attrs(f, g, arenas[i], p));
    }
out:
    return st;
}

st_status grow_tensors_write(h5_file *f, grow_run *g, bool moments) { return tensors_io(f, g, moments, true); }

st_status grow_tensors_read(h5_file *f, grow_run *g, bool moments) { return tensors_io(f, g, moments, false); }
