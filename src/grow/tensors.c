/* tensors.c -- the model's tensors in a growth checkpoint: every arena at
 * its layout.h path below /model, with (during a stage) its AdamW moments at
 * /optim/{m,v}/<the same path>.  One routine reads and writes an arena with
 * its moments (moment_io), so the two directions cannot drift apart.  Under
 * train.zero each rank holds a slice of the moments: they are gathered for
 * writing and sliced when read, so /optim is the same file with zero on or
 * off and on any rank count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "strata/agree.h"
#include "strata/comm.h"
#include "strata/layout.h"
#include "strata/publish.h"

/* One moment of arena a at path q: written from `whole` [a->numel] (rank 0,
 * grow_moments_write), or read into the rank's slice `mine` [own count]. */
static st_status moment_io(h5_file *f, param_arena *a, const char *q, const float *whole, float *mine, bool write)
{
    st_status st = ST_OK;
    float *tmp = NULL;
    size_t first, count;
    param_owned(a, &first, &count);
    if (write) {
        CHECK(layout_arena_io(f, a, q, (float *)whole, true));
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

static bool has_moments(const param_arena *a) { return a->trainable && a->m && a->v; }

static void moment_path(char *q, size_t cap, const char *p, int which)
{
    snprintf(q, cap, "optim/%s/%s", which ? "v" : "m", p);
}

static st_status arena_io(h5_file *f, param_arena *a, const char *p, bool moments, bool write)
{
    st_status st = ST_OK;
    char q[160];
    CHECK(layout_arena_io(f, a, p, a->w, write));
    /* written by grow_moments_write (the moments may have to be gathered first) */
    if (moments && !write && has_moments(a))
        for (int k = 0; k < 2; k++) {
            moment_path(q, sizeof q, p, k);
            CHECK(moment_io(f, a, q, NULL, k ? a->v : a->m, false));
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

st_status grow_tensors_write(h5_file *f, grow_run *g) { return tensors_io(f, g, false, true); }

st_status grow_tensors_read(h5_file *f, grow_run *g, bool moments) { return tensors_io(f, g, moments, false); }

st_status grow_moments_write(grow_run *g, const char *path)
{
    st_status st = ST_OK, lst = ST_OK; /* lst: rank 0's writing */
    h5_file f;
    h5_file_zero(&f);
    float *whole = NULL;
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = layout_arenas(&g->m, arenas, MODEL_MAX_ARENAS);
    /* Sharded over several ranks: gather arena by arena into one buffer of
     * the largest arena, so rank 0 never holds all the moments at once. */
    bool gather = false;
    size_t biggest = 1;
    for (int i = 0; i < na; i++)
        if (has_moments(arenas[i])) {
            gather |= arenas[i]->sharded && g->size > 1;
            if (arenas[i]->numel > biggest) biggest = arenas[i]->numel;
        }
    if (g->rank == 0) {
        lst = h5_open(&f, path, MPI_COMM_SELF, true);
        if (lst == ST_OK && gather && !(whole = param_falloc(biggest))) lst = ST_ENOMEM;
    }
    /* every rank takes part in every gather whatever rank 0's state */
    CHECK(st_agree_root(lst, g->comm));
    for (int i = 0; i < na; i++) {
        param_arena *a = arenas[i];
        if (!has_moments(a)) continue;
        char p[128], q[160];
        layout_arena_path(&g->m, a, "model", p, sizeof p);
        for (int k = 0; k < 2; k++) {
            const float *mine = k ? a->v : a->m;
            if (gather) CHECK(comm_gather_segments(mine, whole, a->numel, 0, g->comm));
            moment_path(q, sizeof q, p, k);
            if (g->rank == 0 && lst == ST_OK && publish_fault("ckpt_optim"))
                lst = ST_ERROR(ST_EIO, "cannot write %s: No space left on device (injected fault ckpt_optim)", q);
            if (g->rank == 0 && lst == ST_OK) lst = moment_io(&f, a, q, gather ? whole : mine, NULL, true);
        }
    }
    if (g->rank == 0) {
        st_status cst = h5_close(&f);
        if (lst == ST_OK) lst = cst;
    }
    st = st_agree_root(lst, g->comm);
out:
    if (g->rank == 0) h5_close(&f);
    free(whole);
    return st;
}
