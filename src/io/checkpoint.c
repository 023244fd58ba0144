/* checkpoint.c -- what a growth checkpoint holds, and how a run resumes.
 *
 * Layout (docs/FORMAT.md "Checkpoint files"):
 *   /config                       resolved INI text
 *   /tokenizer/...                the tokenizer (tokenizer.h)
 *   /substrate/embeddings [V, D]  the frozen input table (kind, source attrs)
 *   /model/block_NNN/<tensor>     block NNN (1-based depth) with attributes
 *                                 trained_in_stage, frozen; LoRA adapters of
 *                                 a stage in progress under .../lora/
 *   /model/head/<tensor>, /model/embed/<tensor> (trainable table only)
 *   /optim/{m,v}/<same path>      AdamW moments of the trainable tensors
 *   /state                        attributes: counters, RNG state, cursor
 *   /metrics/steps, /metrics/depth column tables
 * Written by rank 0 on MPI_COMM_SELF (the weights are replicated); every
 * rank learns the outcome, so a failure (disk full) stops all ranks alike.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/ckpt_model.h"
#include "strata/ckptdir.h"
#include "strata/comm.h"
#include "strata/h5.h"
#include "strata/log.h"
#include "strata/metrics.h"
#include "strata/run.h"
#include "strata/tokenizer.h"

/* ---- tensors ------------------------------------------------------------ */

/* The layout of the model's tensors is shared with the checkpoint reader of
 * eval/generate/merge (ckpt_model.h). */
static void arena_path(const grow_run *g, const param_arena *a, char *buf, size_t len)
{
    ckpt_arena_path(&g->m, a, "model", buf, len);
}

/* ---- state ---------------------------------------------------------------- */

/* The numbers of grow_state as (name, pointer-to-int64-or-double) pairs: one
 * table drives both save and load. */
typedef struct state_field {
    const char *name;
    int64_t *i;
    double *f;
} state_field;

typedef struct state_io {
    int64_t step, stage, stage_done, adam_t, cursor, tokens, sched_steps, sched_tokens, sched_stale;
    int64_t rng_seed, rng_rank, rng_purpose, rng_counter, lora_active, n_blocks, nranks;
    double wall_s, sched_best_val;
} state_io;

static int state_fields(state_io *s, state_field *f)
{
    int n = 0;
#define SF_I(x) f[n++] = (state_field){#x, &s->x, NULL}
#define SF_F(x) f[n++] = (state_field){#x, NULL, &s->x}
    SF_I(step); SF_I(stage); SF_I(stage_done); SF_I(adam_t); SF_I(cursor); SF_I(tokens);
    SF_I(sched_steps); SF_I(sched_tokens); SF_I(sched_stale); SF_I(rng_seed); SF_I(rng_rank);
    SF_I(rng_purpose); SF_I(rng_counter); SF_I(lora_active); SF_I(n_blocks); SF_I(nranks);
    SF_F(wall_s); SF_F(sched_best_val);
#undef SF_I
#undef SF_F
    return n;
}

static void state_pack(const grow_run *g, state_io *s)
{
    const grow_state *t = &g->st;
    *s = (state_io){
        .step = t->step, .stage = t->stage, .stage_done = t->stage_done, .adam_t = t->adam_t,
        .cursor = t->cursor, .tokens = t->tokens, .sched_steps = t->sched.steps,
        .sched_tokens = t->sched.tokens, .sched_stale = t->sched.stale_evals,
        .rng_seed = (int64_t)t->rng.seed, .rng_rank = t->rng.rank, .rng_purpose = t->rng.purpose,
        .rng_counter = (int64_t)t->rng.counter, .lora_active = t->lora_active,
        .n_blocks = g->m.n_blocks, .nranks = g->size, .wall_s = t->wall_s,
        .sched_best_val = t->sched.best_val,
    };
}

static void state_unpack(grow_run *g, const state_io *s)
{
    grow_state *t = &g->st;
    t->step = s->step;
    t->stage = (int)s->stage;
    t->stage_done = s->stage_done != 0;
    t->adam_t = s->adam_t;
    t->cursor = s->cursor;
    t->tokens = s->tokens;
    t->sched.steps = s->sched_steps;
    t->sched.tokens = s->sched_tokens;
    t->sched.stale_evals = s->sched_stale;
    t->sched.best_val = s->sched_best_val;
    t->rng.seed = (uint64_t)s->rng_seed;
    t->rng.rank = (uint32_t)s->rng_rank;
    t->rng.purpose = (uint32_t)s->rng_purpose;
    t->rng.counter = (uint64_t)s->rng_counter;
    t->lora_active = s->lora_active != 0;
    t->wall_s = s->wall_s;
}

/* ---- save ------------------------------------------------------------------ */

/* Values of an arena at `p`, and with `moments` its AdamW moments at
 * optim/{m,v}/`p` (trainable arenas only): one routine for save and load. */
static st_status arena_state_io(h5_file *f, param_arena *a, const char *p, bool moments, bool write)
{
    st_status st = ST_OK;
    char q[160];
    CHECK(ckpt_arena_io(f, a, p, a->w, write));
    if (moments && a->trainable && a->m) {
        snprintf(q, sizeof q, "optim/m/%s", p);
        CHECK(ckpt_arena_io(f, a, q, a->m, write));
        snprintf(q, sizeof q, "optim/v/%s", p);
        CHECK(ckpt_arena_io(f, a, q, a->v, write));
    }
out:
    return st;
}

static st_status write_contents(grow_run *g, const char *path)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    char *cfg_text = NULL;
    model *m = &g->m;
    CHECK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT));
    cfg_text = cfg_dump(&g->cfg);
    CHECK_ALLOC(cfg_text);
    CHECK(h5_write_string(&f, "config", cfg_text));
    CHECK(h5_group(&f, "tokenizer"));
    CHECK(tok_save_h5(f.id, "tokenizer", g->data.tok));
    if (g->sub.table) {
        size_t dims[2] = {(size_t)g->sub.V, (size_t)g->sub.D};
        CHECK(h5_write(&f, "substrate/embeddings", H5_DT_F32, 2, dims, g->sub.table));
    }
    CHECK(h5_group(&f, "substrate"));
    CHECK(h5_attr_set_str(&f, "substrate", "kind", g->sub.kind));
    CHECK(h5_attr_set_str(&f, "substrate", "source", g->sub.path));
    CHECK(h5_attr_set_i64(&f, "substrate", "checksum", ckpt_substrate_checksum(g->sub.table, g->sub.V, g->sub.D)));

    param_arena *arenas[2 * 1024 + 2];
    int na = ckpt_arenas(&g->m, arenas, (int)(sizeof arenas / sizeof arenas[0]));
    for (int i = 0; i < na; i++) {
        param_arena *a = arenas[i];
        char p[128];
        arena_path(g, a, p, sizeof p);
        CHECK(arena_state_io(&f, a, p, !g->st.stage_done, true));
        CHECK(h5_attr_set_i64(&f, p, "frozen", a->trainable ? 0 : 1));
        if (a->kind == ARENA_BLOCK) {
            int l = (int)(a - m->blocks);
            CHECK(h5_attr_set_i64(&f, p, "trained_in_stage", g->monolithic ? 1 : l + 1));
        }
        if (a->kind == ARENA_LORA) {
            int l = (int)((const char *)a - (const char *)&m->lora[0].p) / (int)sizeof(lora_t);
            CHECK(h5_attr_set_i64(&f, p, "rank", m->lora[l].r));
            CHECK(h5_attr_set_f64(&f, p, "alpha", m->lora[l].alpha));
        }
    }
    state_io s;
    state_field fields[32];
    state_pack(g, &s);
    int nf = state_fields(&s, fields);
    CHECK(h5_group(&f, "state"));
    for (int i = 0; i < nf; i++) {
        if (fields[i].i)
            CHECK(h5_attr_set_i64(&f, "state", fields[i].name, *fields[i].i));
        else
            CHECK(h5_attr_set_f64(&f, "state", fields[i].name, *fields[i].f));
    }
    CHECK(met_write(&g->steps, &f));
    CHECK(met_write(&g->depth, &f));
    CHECK(h5_close(&f));
out:
    if (st != ST_OK) h5_close(&f);
    free(cfg_text);
    return st;
}

st_status run_checkpoint_save(grow_run *g, const char *name)
{
    st_status st = ST_OK;
    atomic_file a = {0};
    double t0 = MPI_Wtime();
    char path[sizeof g->dir + CKPT_NAME_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", g->dir, name);
    CHECK(atomic_begin(&a, path, g->comm));
    /* Only rank 0 writes; the others learn the outcome from the broadcast. */
    int rc = ST_OK;
    char msg[512] = "";
    if (g->rank == 0) {
        rc = write_contents(g, a.tmp);
        if (rc != ST_OK) snprintf(msg, sizeof msg, "%s", st_last_error());
    }
    CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, g->comm));
    if (rc != ST_OK) {
        CHECK_MPI(MPI_Bcast(msg, sizeof msg, MPI_CHAR, 0, g->comm));
        atomic_abort(&a, g->comm);
        FAIL(ST_ECKPT, "writing checkpoint '%s': %s", path, msg);
    }
    st = atomic_commit(&a, g->comm);
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
    if (st != ST_OK) atomic_abort(&a, g->comm);
    return st;
}

/* ---- resume ----------------------------------------------------------------- */

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

static st_status load_contents(grow_run *g, const char *path)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    model *m = &g->m;
    CHECK(h5_open_kind(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT, ST_ECKPT));
    CHECK(check_config(g, &f, path));

    state_io s;
    state_field fields[32];
    memset(&s, 0, sizeof s);
    int nf = state_fields(&s, fields);
    for (int i = 0; i < nf; i++) {
        if (fields[i].i)
            CHECK(h5_attr_get_i64(&f, "state", fields[i].name, fields[i].i));
        else
            CHECK(h5_attr_get_f64(&f, "state", fields[i].name, fields[i].f));
    }
    if (g->sub.table) {
        int64_t sum = 0;
        CHECK(h5_attr_get_i64(&f, "substrate", "checksum", &sum));
        int64_t now = ckpt_substrate_checksum(g->sub.table, g->sub.V, g->sub.D);
        if (sum != now)
            FAIL(ST_ECKPT, "cannot resume '%s': substrate file '%s' differs from the one the run was trained on",
                 path, g->sub.path);
    }
    /* Rebuild the structure, then overwrite every value from the file. */
    state_unpack(g, &s);
    if (s.stage_done) {
        while (m->n_blocks < s.n_blocks) CHECK(model_add_block(m, &g->st.rng));
    } else {
        CHECK(run_build_stage(g, false));
    }
    if (m->n_blocks != s.n_blocks)
        FAIL(ST_ECKPT, "checkpoint '%s' holds %ld blocks but its state describes stage %ld", path,
             (long)s.n_blocks, (long)s.stage);
    param_arena *arenas[2 * 1024 + 2];
    int na = ckpt_arenas(&g->m, arenas, (int)(sizeof arenas / sizeof arenas[0]));
    for (int i = 0; i < na; i++) {
        param_arena *a = arenas[i];
        char p[128];
        arena_path(g, a, p, sizeof p);
        CHECK(arena_state_io(&f, a, p, !s.stage_done, false));
    }
    CHECK(met_read(&g->steps, &f));
    CHECK(met_read(&g->depth, &f));
    /* Structure building drew from the init stream: restore it last. */
    state_unpack(g, &s);
    if (s.nranks != g->size)
        log_info("resuming on %d rank%s (the checkpoint was written on %ld)", g->size, g->size == 1 ? "" : "s",
                 (long)s.nranks);
    CHECK(h5_close(&f));
out:
    if (st != ST_OK) h5_close(&f);
    return st;
}

st_status run_checkpoint_resume(grow_run *g, bool *found)
{
    st_status st = ST_OK;
    char *path = NULL;
    *found = false;
    CHECK(ckpt_newest_good(g->dir, &path, g->comm));
    if (!path) goto out;
    /* Every rank reads the same file independently. */
    st = load_contents(g, path);
    int rc = st, worst = 0;
    CHECK_MPI(MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, g->comm));
    if (worst != ST_OK && st == ST_OK) FAIL(ST_ECKPT, "resuming from '%s' failed on another rank", path);
    if (st != ST_OK) goto out;
    log_info("resuming from %s: stage %d, step %ld", path, g->st.stage, g->st.step);
    *found = true;
out:
    free(path);
    return st;
}
