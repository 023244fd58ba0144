/* checkpoint.c -- the files of a growth checkpoint, and finding the one to
 * resume from.  What goes where (docs/FORMAT.md "Checkpoint files"):
 *   /config                       resolved INI text
 *   /tokenizer/...                the tokenizer (tokenizer.h)
 *   /substrate/embeddings [V, D]  the frozen input table (kind, source, checksum attrs)
 *   /model/..., /optim/{m,v}/...  tensors (tensors.c, layout.h; /optim added last)
 *   /state                        the run-state table (state.c)
 *   /metrics/steps, /metrics/depth column tables
 *   /parent                       a branch's parent (parent.c), attributes only
 * Written by rank 0 on MPI_COMM_SELF (the weights are replicated); every
 * rank learns the outcome, so a failure (disk full) stops all ranks alike.
 * The order of a resume (state, structure, tensors, RNG) is load.c's. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "strata/agree.h"
#include "strata/ckptdir.h"
#include "strata/publish.h"
#include "strata/layout.h"
#include "strata/log.h"
#include "strata/tokenizer.h"

static st_status write_contents(grow_run *g, const char *path)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    char *cfg_text = NULL;
    CHECK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT));
    cfg_text = cfg_dump(&g->cfg);
    CHECK_ALLOC(cfg_text);
    CHECK(h5_write_string(&f, "config", cfg_text));
    CHECK(tok_save(&f, "tokenizer", g->data.tok));
    if (!g->sub.trainable) {
        size_t dims[2] = {(size_t)g->sub.V, (size_t)g->sub.D};
        CHECK(h5_write(&f, "substrate/embeddings", H5_DT_F32, 2, dims, g->sub.table));
    }
    CHECK(h5_group(&f, "substrate"));
    CHECK(h5_attr_set_str(&f, "substrate", "kind", g->sub.kind));
    CHECK(h5_attr_set_str(&f, "substrate", "source", g->sub.path));
    CHECK(h5_attr_set_i64(&f, "substrate", "checksum", layout_substrate_checksum(g->sub.table, g->sub.V, g->sub.D)));
    CHECK(grow_tensors_write(&f, g));
    CHECK(h5_group(&f, "state"));
    CHECK(grow_state_write(&f, "state", &g->st));
    CHECK(met_write(&g->steps, &f));
    CHECK(met_write(&g->depth, &f));
    CHECK(grow_parent_write(&f, &g->parent));
    /* The session's sgemm peak behind /metrics/depth's mfu (FORMAT.md). */
    CHECK(h5_attr_set_array(&f, "metrics", "sgemm_peak_flops", H5_DT_F64, (size_t)g->size, g->peak_ranks));
    CHECK(h5_attr_set_str(&f, "metrics", "blas_core", g->blas_core));
    CHECK(h5_close(&f));
out:
    if (st != ST_OK) h5_close(&f);
    free(cfg_text);
    return st;
}

/* A model with a non-finite weight is never published as a checkpoint. */
static st_status check_finite(grow_run *g, const char *path)
{
    st_status st = ST_OK;
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = layout_arenas(&g->m, arenas, MODEL_MAX_ARENAS);
    for (int i = 0; i < na; i++)
        for (size_t j = 0; j < arenas[i]->numel; j++)
            if (!isfinite(arenas[i]->w[j])) {
                char p[128];
                layout_arena_path(&g->m, arenas[i], "model", p, sizeof p);
                FAIL(ST_EDIVERGED, "not writing checkpoint '%s': %s holds a non-finite weight (the run diverged)",
                     path, p);
            }
out:
    return st;
}

st_status grow_checkpoint_save(grow_run *g, const char *name)
{
    st_status st = ST_OK;
    publish_file a = {0};
    double t0 = MPI_Wtime();
    char path[sizeof g->dir + CKPT_NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", g->dir, name);
    CHECK(check_finite(g, path));
    g->st.n_blocks = g->m.n_blocks;
    g->st.nranks = g->size;
    CHECK(publish_begin(&a, path, g->comm));
    /* Only rank 0 writes; every rank learns its outcome.  A stage in
     * progress adds its moments (gathered from the ranks under train.zero). */
    st = st_agree_root(g->rank == 0 ? write_contents(g, a.tmp) : ST_OK, g->comm);
    if (st == ST_OK && !g->st.stage_done) st = grow_moments_write(g, a.tmp);
    if (st != ST_OK) {
        publish_abort(&a, g->comm);
        st_add_context("writing checkpoint '%s'", path);
        st = st == ST_ENOMEM ? st : ST_ECKPT;
        goto out;
    }
    st = publish_commit(&a, g->comm);
    if (st == ST_OK) st = ckpt_latest_write(g->dir, name, g->comm);
    if (st != ST_OK) {
        /* The previous checkpoint and LATEST are untouched. */
        st_add_context("writing checkpoint '%s' (the previous checkpoint is intact)", path);
        st = ST_ECKPT;
        goto out;
    }
    CHECK(ckpt_prune(g->dir, (int)g->cfg.ckpt.keep, NULL, g->comm));
    g->ckpt_seconds += MPI_Wtime() - t0;
    g->ckpt_count++;
    log_debug("checkpoint %s written in %.3f s", path, MPI_Wtime() - t0);
out:
    if (st != ST_OK) publish_abort(&a, g->comm);
    return st;
}

/* Settings that may not change on resume must equal the checkpoint's. */
static st_status check_config(grow_run *g, h5_file *f, const char *path)
{
    st_status st = ST_OK;
    char *text = NULL;
    st_config *old = malloc(sizeof *old);
    CHECK_ALLOC(old);
    CHECK(h5_read_string(f, "config", &text));
    cfg_defaults(old);
    CHECK(cfg_load_string(old, text, path));
    char keys[1024];
    int n = cfg_diff(&g->cfg, old, true, keys, sizeof keys);
    /* A progressive run may grow deeper; the monolithic baseline is one stage
     * of a fixed depth, and no run gets shallower than it has grown. */
    if (g->monolithic && g->cfg.model.n_layers != old->model.n_layers)
        FAIL(ST_EUSAGE, "cannot resume '%s': model.n_layers of a monolithic run may not change (%ld in the checkpoint)",
             path, old->model.n_layers);
    if (n > 0)
        FAIL(ST_EUSAGE,
             "cannot resume '%s': %d %s from the run's checkpoint and may not change on resume: "
             "%s (restore them, or start a new run with another run.name)",
             path, n, n == 1 ? "setting differs" : "settings differ", keys);
out:
    free(text);
    free(old);
    return st;
}

static st_status check_substrate(grow_run *g, h5_file *f, const char *path)
{
    st_status st = ST_OK;
    if (g->sub.trainable) goto out;
    int64_t sum = 0;
    CHECK(h5_attr_get_i64(f, "substrate", "checksum", &sum));
    if (sum != layout_substrate_checksum(g->sub.table, g->sub.V, g->sub.D))
        FAIL(ST_ECKPT, "cannot resume '%s': substrate file '%s' differs from the one the run was trained on (set "
             "substrate.file to that substrate, or start a new run with another run.name)", path, g->sub.path);
out:
    return st;
}

st_status grow_checkpoint_open(grow_run *g, const char *const *skip, int n_skip, h5_file *f, char **path)
{
    st_status st = ST_OK;
    h5_file_zero(f);
    CHECK(ckpt_newest_good_except(g->dir, skip, n_skip, path, g->comm));
    if (!*path) goto out;
    /* Every rank reads the same file independently. */
    CHECK(h5_open_kind(f, *path, MPI_COMM_SELF, H5_KIND_CHECKPOINT, ST_ECKPT));
    CHECK(check_config(g, f, *path));
    CHECK(check_substrate(g, f, *path));
out:
    /* The ranks read on their own: they agree. */
    st = st_agree(st, g->comm);
    if (st != ST_OK) h5_close(f);
    return st;
}
