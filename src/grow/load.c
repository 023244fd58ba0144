/* load.c -- the structure of a stage (blocks, LoRA adapters, trainable
 * flags, the optimizer's gradients and moments), and a checkpoint loaded
 * into it: the order of a resume (state, structure, tensors, RNG).  Below
 * grow.c, which builds each new stage, and branch.c, which loads a parent
 * the same way; above state.c, tensors.c and parent.c, which read the parts. */
#include <string.h>

#include "run.h"
#include "strata/agree.h"
#include "strata/comm.h"
#include "strata/log.h"

/* This rank's segment of every trained arena (model_trainable_arenas order):
 * the part of the gradient its reduce-scatter sums, and under train.zero
 * the part of the moments it keeps and updates. */
void run_segments(grow_run *g, param_arena *const *arenas, int n, size_t *first, size_t *count)
{
    for (int i = 0; i < n; i++) comm_segment(arenas[i]->numel, g->rank, g->size, &first[i], &count[i]);
}

/* Gradients and moments for the trainable arenas: the whole moments, or
 * (train.zero) only this rank's segments. */
static st_status run_optim_setup(grow_run *g)
{
    st_status st = ST_OK;
    model *m = &g->m;
    param_arena *arenas[MODEL_MAX_ARENAS];
    size_t first[MODEL_MAX_ARENAS], count[MODEL_MAX_ARENAS];
    if (!g->cfg.train.zero) {
        CHECK(model_train_setup(m));
        goto out;
    }
    int na = model_trainable_arenas(m, arenas, MODEL_MAX_ARENAS);
    run_segments(g, arenas, na, first, count);
    CHECK(model_train_setup_shard(m, first, count));
out:
    if (st == ST_OK)
        log_info("optimizer: AdamW moments %.1f MiB on rank 0 (%zu trained parameters%s)",
                 2.0 * sizeof(float) * (double)m->n_moments / 1048576.0, m->n_train,
                 g->cfg.train.zero ? ", sharded over the ranks by train.zero" : "");
    return st;
}

st_status run_set_trainable(grow_run *g)
{
    st_status st = ST_OK;
    model *m = &g->m;
    for (int l = 0; l < m->n_blocks; l++)
        m->blocks[l].trainable = g->monolithic || l == g->st.stage - 1;
    m->head.trainable = true;
    if (g->sub.trainable) m->embed.trainable = true;
    CHECK(run_optim_setup(g));
out:
    return st;
}

st_status run_build_stage(grow_run *g, bool fresh)
{
    st_status st = ST_OK;
    model *m = &g->m;
    const st_config *c = &g->cfg;
    int k = g->st.stage;
    int want = g->monolithic ? (int)c->model.n_layers : k;
    while (m->n_blocks < want) {
        CHECK(model_add_block(m, &g->st.rng));
        int l = m->n_blocks - 1;
        if (!g->monolithic && strcmp(c->grow.init, "copy") == 0 && l > 0)
            memcpy(m->blocks[l].w, m->blocks[l - 1].w, sizeof(float) * m->blocks[l].numel);
    }
    if (fresh && !g->monolithic && k > 1 && c->grow.reinit_head) param_init_values(&m->head, &g->st.rng);
    g->st.lora_active = !g->monolithic && c->grow.lora_from_depth > 0 && k >= c->grow.lora_from_depth && k > 1;
    if (g->st.lora_active)
        for (int l = 0; l < k - 1; l++)
            if (m->lora[l].r == 0)
                CHECK(model_lora_add(m, l, (int)c->grow.lora_rank, (float)c->grow.lora_alpha, &g->st.rng));
    CHECK(run_set_trainable(g));
out:
    return st;
}

/* Load checkpoint f (path) into g: read the state, build the structure it
 * describes, read the tensors into it, and restore the state last (building
 * drew from the init stream).  Every rank reads on its own; they agree. */
st_status run_load(grow_run *g, h5_file *f, const char *path)
{
    st_status st = ST_OK;
    grow_state s;
    model *m = &g->m;
    st = grow_state_read(f, "state", &s);
    if (st == ST_OK && s.n_blocks > g->cfg.model.n_layers)
        st = ST_ERROR(ST_EUSAGE, "cannot resume '%s': it has grown %d blocks but model.n_layers = %ld (raise it)",
                      path, s.n_blocks, g->cfg.model.n_layers);
    if (st == ST_OK) {
        g->st = s;
        if (s.stage_done) {
            while (st == ST_OK && m->n_blocks < s.n_blocks) st = model_add_block(m, &g->st.rng);
        } else {
            st = run_build_stage(g, false);
        }
    }
    if (st == ST_OK && m->n_blocks != s.n_blocks)
        st = ST_ERROR(ST_ECKPT, "checkpoint '%s' holds %d blocks but its state describes stage %d", path,
                      s.n_blocks, s.stage);
    if (st == ST_OK) st = grow_tensors_read(f, g, !s.stage_done);
    if (st == ST_OK) st = met_read(&g->steps, f);
    if (st == ST_OK) st = met_read(&g->depth, f);
    if (st == ST_OK) st = grow_parent_read(f, &g->parent);
    if (st == ST_OK) g->st = s;
    return st_agree(st, g->comm);
}
