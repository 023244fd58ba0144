/* grow.c -- the growth job: stages, steps, the coordinator's decisions, and
 * which checkpoint a resume takes (loading one is load.c's).  See grow.h for
 * the schedule and run.h for the state. */
#define _GNU_SOURCE
#include "strata/grow.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "run.h"
#include "strata/adamw.h"
#include "strata/agree.h"
#include "strata/blas_check.h"
#include "strata/ckptdir.h"
#include "strata/comm.h"
#include "strata/corpus.h"
#include "strata/layout.h"
#include "strata/log.h"
#include "strata/lora.h"
#include "strata/probe.h"
#include "strata/ops.h"
#include "strata/progress.h"
#include "strata/runlock.h"
#include "strata/signals.h"
#include "strata/timer.h"

/* ---- helpers ------------------------------------------------------------ */

/* First block that trains in the current stage (0-based); blocks below it
 * are frozen and their output can come from the cache. */
static int run_first_trained(const grow_run *g)
{
    if (g->monolithic || g->st.lora_active || g->sub.trainable) return 0;
    return g->st.stage - 1;
}

/* Is the cache usable this stage (frozen substrate and blocks below)? */
static bool run_cache_usable(const grow_run *g)
{
    return strcmp(g->cfg.grow.cache, "off") != 0 && run_first_trained(g) > 0;
}

/* x_start [T, D] of one chunk (tokens [T + 1] its row): output of blocks [0, start) (from the cache
 * when allowed, else computed for that chunk alone -- the same arithmetic
 * either way, which keeps cache on and off bitwise equal). */
static double block_fwd_flops(const grow_run *g);
static st_status run_measure_peak(grow_run *g, double seconds, bool quiet);

static st_status run_prefix(grow_run *g, long chunk, const int32_t *tokens, int start, bool use_cache, float *dst,
                            double *flops)
{
    st_status st = ST_OK;
    const int T = g->data.ctx, D = g->sub.D;
    int have = -1;
    if (use_cache) CHECK(cache_get(&g->cache, chunk, dst, &have));
    if (have == start) goto out;
    /* Advance a shallower entry by the blocks frozen since, or start from
     * the tokens; one block at a time is the same arithmetic either way. */
    if (have > start) have = -1;
    if (flops) *flops += (double)(start - (have > 0 ? have : 0)) * (double)T * block_fwd_flops(g);
    model_batch b = {.tokens = tokens, .targets = NULL, .ld = T + 1};
    CHECK(model_forward_blocks(&g->m, &g->ws1, &b, have > 0 ? dst : NULL, have > 0 ? have : 0, start, 1, T,
                               false));
    memcpy(dst, model_ws_output(&g->ws1), sizeof(float) * (size_t)T * (size_t)D);
    if (use_cache) CHECK(cache_put(&g->cache, chunk, dst, start));
out:
    return st;
}

/* FLOPs counted are those of the matrix products, as computed (elementwise
 * work is left out): per token of a block's forward, the projections
 * 2(3D^2 + D^2 + 2DF) plus the attention's scores and mixing 2 * 2 P D / T
 * for the P query-key pairs the products compute (op_attention_pairs: the
 * causal blocks, 3/4 of the T x T square),
 * plus a LoRA adapter's 2r(in + out) per adapted matrix. */
static double block_fwd_flops(const grow_run *g)
{
    const model_dims *d = &g->m.dims;
    const double T = g->data.ctx, D = d->D, F = d->F;
    return 2.0 * (4.0 * D * D + 2.0 * D * F) + 4.0 * op_attention_pairs((int)T) / T * D;
}

/* FLOPs of one token through the trained part of the model (blocks
 * [start, depth) and the head), forward and backward.  A trained block or
 * the head costs 3x its forward (backward: input and weight gradients); a
 * frozen block the gradient flows through (LoRA, a trainable table) costs
 * its forward, the input gradients of its projections (1x) and the
 * attention backward (2x); LoRA adapters 3x their forward. */
static double trained_token_flops(const grow_run *g, int start)
{
    const model *m = &g->m;
    const model_dims *d = &m->dims;
    const double T = g->data.ctx, D = d->D, F = d->F, V = d->V;
    const double proj = 2.0 * (4.0 * D * D + 2.0 * D * F), attn = 4.0 * op_attention_pairs((int)T) / T * D;
    double f = 3.0 * 2.0 * D * V;
    for (int l = start; l < m->n_blocks; l++) {
        f += m->blocks[l].trainable ? 3.0 * (proj + attn) : 2.0 * proj + 3.0 * attn;
        for (int mat = 0; m->lora[l].r > 0 && mat < LORA_NMATS; mat++) {
            int out, in;
            lora_mat_shape(mat, d->D, d->F, &out, &in);
            f += 3.0 * 2.0 * m->lora[l].r * (double)(in + out);
        }
    }
    return f;
}

/* ---- evaluation --------------------------------------------------------- */

/* eval.h's prefix source: the frozen blocks, from the cache when usable. */
/* `row` is a row of g->evaltok; the cache knows it by its chunk id. */
static st_status eval_prefix(void *ctx, long row, int start, float *dst)
{
    grow_run *g = ctx;
    /* Evaluation is not counted in the flops column (training only). */
    return run_prefix(g, g->data.val[row], g->evaltok + (size_t)row * (size_t)(g->data.ctx + 1), start,
                      run_cache_usable(g) && start > 0, dst, NULL);
}

/* How many validation chunks an evaluation reads: the first
 * min(n_val, eval.batches x batch) of the split.  eval.batches may change
 * on resume, so the count is taken from the settings of this session. */
static long run_n_evalrows(const grow_run *g)
{
    long n = g->data.n_val, cap = g->cfg.eval.batches * g->cfg.train.batch;
    return n < cap ? n : cap;
}

/* The evaluated validation chunks (run_n_evalrows), read once, on every
 * rank (eval_depths shares them out). */
static st_status run_eval_rows(grow_run *g)
{
    st_status st = ST_OK;
    const int T = g->data.ctx;
    if (g->evaltok) goto out;
    g->n_evalrows = run_n_evalrows(g);
    g->evaltok = malloc(sizeof *g->evaltok * (size_t)g->n_evalrows * (size_t)(T + 1));
    g->evalchars = malloc(sizeof *g->evalchars * (size_t)g->n_evalrows);
    g->evalids = malloc(sizeof *g->evalids * (size_t)g->n_evalrows);
    st = g->evaltok && g->evalchars && g->evalids ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory for %ld validation chunks", g->n_evalrows);
    CHECK_AGREE(st, g->comm);
    for (long i = 0; i < g->n_evalrows; i++) {
        g->evalids[i] = i;
        g->evalchars[i] = g->data.chars[g->data.val[i]];
    }
    CHECK(dataset_read_chunks(&g->data, g->data.val, g->n_evalrows, g->evaltok));
out:
    return st;
}

/* The validation split at one depth (at most eval.batches batches). */
static st_status run_eval(grow_run *g, int depth, eval_row *out)
{
    st_status st = ST_OK;
    const long B = g->cfg.train.batch;
    CHECK(run_eval_rows(g));
    eval_chunks d = {.chunks = g->evaltok, .chars = g->evalchars, .ids = g->evalids, .n = g->n_evalrows,
                     .T = g->data.ctx};
    eval_member mem = {.m = &g->m, .ws = &g->ws, .prefix = eval_prefix, .prefix_ctx = g,
                       .prefix_depth = run_first_trained(g)};
    CHECK(eval_depths(&mem, 1, &d, depth, depth, (int)B, g->comm, out));
out:
    return st;
}

/* The whole test set (data.test) at one depth, from the tokens: the
 * activation cache holds the training dataset's chunks only. */
static st_status run_eval_test(grow_run *g, int depth, eval_row *out)
{
    eval_chunks d = {.chunks = g->test.chunks, .chars = g->test.chars, .ids = g->test_ids, .n = g->n_test,
                     .T = g->test.ctx};
    eval_member mem = {.m = &g->m, .ws = &g->ws};
    return eval_depths(&mem, 1, &d, depth, depth, (int)g->cfg.train.batch, g->comm, out);
}

/* The probes (probe.h) and eval.tasks (tasks.h) of the model at `depth`, into
 * row `row` of /metrics/depth (columns: metrics.h). */
static st_status run_probes(grow_run *g, int depth, size_t row)
{
    st_status st = ST_OK;
    eval_member mem = {.m = &g->m};
    const int B = (int)g->cfg.train.batch;
    char col[256];
    if (g->cfg.eval.induction_seqs > 0) {
        probe_induction_row ind;
        CHECK(probe_induction(&mem, 1, CKPT_MEAN_LOGITS, NULL, g->data.tok, g->cfg.eval.induction_seqs,
                              (int)g->cfg.eval.induction_len, depth, depth, B, g->comm, &ind));
        CHECK(met_set(&g->depth, row, MET_INDUCTION_GAIN, ind.gain));
        CHECK(met_set(&g->depth, row, MET_INDUCTION_FIRST, ind.loss_first));
        CHECK(met_set(&g->depth, row, MET_INDUCTION_SECOND, ind.loss_second));
    }
    for (int i = 0; i < g->ntasks; i++) {
        task_row tr;
        CHECK(task_score(&mem, 1, CKPT_MEAN_LOGITS, NULL, &g->tasks[i], g->data.ctx, depth, depth, B, g->comm, &tr));
        const double v[MET_TASK_NCOLS] = {tr.acc, tr.acc_se, tr.acc_char, tr.acc_char_se};
        for (int c = 0; c < MET_TASK_NCOLS; c++) {
            met_task_column(col, sizeof col, g->tasks[i].name, c);
            CHECK(met_set(&g->depth, row, col, v[c]));
        }
    }
out:
    return st;
}

/* eval.tasks, read and tokenized once (a bad file: exit 3 before training). */
static st_status run_tasks_load(grow_run *g)
{
    st_status st = ST_OK;
    char **files = NULL;
    int nf = 0;
    CHECK(corpus_split_list(g->cfg.eval.tasks, &files, &nf));
    if (nf == 0) goto out;
    g->tasks = calloc((size_t)nf, sizeof *g->tasks);
    CHECK_ALLOC(g->tasks);
    for (int i = 0; i < nf; i++) {
        CHECK(task_load(files[i], g->data.tok, &g->tasks[i]));
        g->ntasks++;
        for (int j = 0; j < i; j++)
            if (strcmp(g->tasks[j].name, g->tasks[i].name) == 0)
                FAIL(ST_EUSAGE, "eval.tasks: '%s' and '%s' have the same task name '%s' (rename one)",
                     g->tasks[j].path, g->tasks[i].path, g->tasks[i].name);
    }
out:
    corpus_free_list(files, nf);
    return st;
}

/* ---- stages ------------------------------------------------------------- */

static st_status stage_begin(grow_run *g)
{
    st_status st = ST_OK;
    sched_stage_start(&g->st.sched);
    g->st.adam_t = 0;
    g->st.stage_done = false;
    g->st.lr_scale = 1.0;
    g->st.stage_rollbacks = 0;
    g->st.skip_cursor = -1;
    g->st.loss_mean = 0;
    g->st.loss_n = 0;
    g->st.stage_wall_s = 0;
    g->st.stage_loss_sum = 0;
    g->st.stage_flops = 0;
    g->last_val = NAN; /* the previous stage's value is not this stage's */
    if (g->st.stage > 1) CHECK(run_measure_peak(g, 0.05, true));
    CHECK(run_build_stage(g, true));
    log_info("stage %d/%ld: training %s%s%s", g->st.stage, g->monolithic ? 1L : g->cfg.model.n_layers,
             g->monolithic ? "all blocks end to end" : "the new block + head",
             g->st.lora_active ? " + LoRA on the frozen blocks" : "",
             run_cache_usable(g) ? " (frozen blocks from the activation cache)" : "");
out:
    return st;
}

static st_status stage_end(grow_run *g, double stage_wall, double stage_tokens_per_s, double train_loss)
{
    st_status st = ST_OK;
    model *m = &g->m;
    if (g->st.lora_active) {
        for (int l = 0; l < m->n_blocks; l++)
            if (m->lora[l].r > 0) CHECK(model_lora_merge(m, l));
        g->st.lora_active = false;
        cache_reset(&g->cache); /* the frozen blocks changed */
        g->cache_depth = -1;
        CHECK(run_set_trainable(g));
    }
    int depth = m->n_blocks;
    eval_row ev;
    CHECK(run_eval(g, depth, &ev));
    double *r = NULL;
    CHECK(met_append(&g->depth, &r));
    r[MD_DEPTH] = depth;
    r[MD_STEPS] = (double)g->st.sched.steps;
    r[MD_TOKENS] = (double)g->st.sched.tokens;
    r[MD_WALL_S] = stage_wall;
    r[MD_TRAIN_LOSS] = train_loss;
    r[MD_VAL_LOSS] = ev.loss;
    r[MD_VAL_BPC] = ev.bpc;
    r[MD_VAL_TOP1] = ev.top1;
    r[MD_TOKENS_PER_S] = stage_tokens_per_s;
    /* Achieved FLOP/s over the stage's wall time / the ranks' summed peak. */
    r[MD_MFU] = g->peak_total > 0 && stage_wall > 0 ? g->st.stage_flops / stage_wall / g->peak_total : NAN;
    r[MD_FLOPS] = g->st.stage_flops;
    CHECK(met_set(&g->depth, g->depth.nrows - 1, "rollbacks", (double)g->st.stage_rollbacks));
    eval_row te = {.loss = LIVE_MISSING, .bpc = LIVE_MISSING, .top1 = LIVE_MISSING};
    if (g->n_test > 0) {
        CHECK(run_eval_test(g, depth, &te));
        CHECK(met_set(&g->depth, g->depth.nrows - 1, "test_loss", te.loss));
        CHECK(met_set(&g->depth, g->depth.nrows - 1, "test_bits_per_char", te.bpc));
        CHECK(met_set(&g->depth, g->depth.nrows - 1, "test_top1", te.top1));
    }
    CHECK(run_probes(g, depth, g->depth.nrows - 1));
    g->st.stage_done = true;
    log_info("stage %d done: %ld steps, val loss %.4f nats/token, %.4f bits/char, top-1 %.3f",
             g->st.stage, g->st.sched.steps, ev.loss, ev.bpc, ev.top1);
    char name[64];
    snprintf(name, sizeof name, "stage-%03d.h5", g->st.stage);
    CHECK(grow_checkpoint_save(g, name));
    live_write(g, "stage", "depth", (double)depth, "steps", r[MD_STEPS], "train_loss", r[MD_TRAIN_LOSS], "val_loss",
               ev.loss, "val_bits_per_char", ev.bpc, "val_top1", ev.top1, "wall_s", stage_wall, "rollbacks",
               (double)g->st.stage_rollbacks, "test_loss", te.loss, "test_bits_per_char", te.bpc, "test_top1",
               te.top1, "flops", isnan(r[MD_FLOPS]) ? LIVE_MISSING : r[MD_FLOPS], "mfu",
               isnan(r[MD_MFU]) ? LIVE_MISSING : r[MD_MFU], NULL);
out:
    return st;
}

/* ---- divergence guard -------------------------------------------------- */

static bool arenas_finite(param_arena *const *a, int n, bool grads)
{
    for (int i = 0; i < n; i++) {
        const float *x = grads ? a[i]->g : a[i]->w;
        for (size_t j = 0; j < a[i]->numel; j++)
            if (!isfinite(x[j])) return false;
    }
    return true;
}

/* Remember the current state as the last good one (stage start, after a
 * periodic checkpoint, after a skipped batch). */
static st_status snapshot_take(grow_run *g)
{
    st_status st = ST_OK;
    grow_snapshot *s = &g->good;
    model *m = &g->m;
    if (s->n != m->n_train || s->nm != m->n_moments) {
        free(s->w);
        free(s->m);
        free(s->v);
        s->n = m->n_train;
        s->nm = m->n_moments;
        s->w = malloc(sizeof(float) * (s->n ? s->n : 1));
        s->m = malloc(sizeof(float) * (s->nm ? s->nm : 1));
        s->v = malloc(sizeof(float) * (s->nm ? s->nm : 1));
        s->valid = false;
        CHECK_ALLOC(s->w);
        CHECK_ALLOC(s->m);
        CHECK_ALLOC(s->v);
    }
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = model_trainable_arenas(m, arenas, MODEL_MAX_ARENAS);
    size_t off = 0;
    for (int i = 0; i < na; i++) {
        memcpy(s->w + off, arenas[i]->w, sizeof(float) * arenas[i]->numel);
        off += arenas[i]->numel;
    }
    /* the moments as this rank keeps them (its shard under train.zero) */
    memcpy(s->m, m->adam_m, sizeof(float) * s->nm);
    memcpy(s->v, m->adam_v, sizeof(float) * s->nm);
    s->st = g->st;
    s->steps_rows = g->steps.nrows;
    s->valid = true;
out:
    return st;
}

static void snapshot_restore(grow_run *g)
{
    grow_snapshot *s = &g->good;
    model *m = &g->m;
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = model_trainable_arenas(m, arenas, MODEL_MAX_ARENAS);
    size_t off = 0;
    for (int i = 0; i < na; i++) {
        memcpy(arenas[i]->w, s->w + off, sizeof(float) * arenas[i]->numel);
        off += arenas[i]->numel;
    }
    memcpy(m->adam_m, s->m, sizeof(float) * s->nm);
    memcpy(m->adam_v, s->v, sizeof(float) * s->nm);
    g->st = s->st;
    g->steps.nrows = s->steps_rows;
}

/* Step `bad` diverged: back to the last good state with a lower learning
 * rate, skipping the batch at data position `at` when it comes again. */
static st_status rollback(grow_run *g, long bad, long at, double loss, double gnorm)
{
    st_status st = ST_OK;
    const st_config *c = &g->cfg;
    grow_state now = g->st;
    if (!g->good.valid || g->good.n != g->m.n_train || g->good.nm != g->m.n_moments)
        FAIL(ST_ERR, "divergence guard: no good state to return to");
    if (now.stage_rollbacks >= c->train.max_rollbacks)
        FAIL(ST_EDIVERGED,
             "training diverged at step %ld (loss %g, gradient norm %g) after %ld rollback%s in stage %d "
             "(train.max_rollbacks = %ld); the last good checkpoint is in %s: lower train.lr or raise "
             "train.grad_clip, then run grow again",
             bad, loss, gnorm, now.stage_rollbacks, now.stage_rollbacks == 1 ? "" : "s", now.stage,
             c->train.max_rollbacks, g->dir);
    snapshot_restore(g);
    g->st.wall_s = now.wall_s;
    g->st.stage_wall_s = now.stage_wall_s;
    g->st.stage_flops = now.stage_flops;
    g->st.rollbacks = now.rollbacks + 1;
    g->st.stage_rollbacks = now.stage_rollbacks + 1;
    g->st.lr_scale = now.lr_scale * c->train.rollback_lr_factor;
    g->st.skip_cursor = at;
    log_warn("step %ld diverged (loss %g, gradient norm %g): back to step %ld with the learning rate x %g; the "
             "batch at data position %ld will be skipped (rollback %ld of at most %ld in this stage)",
             bad, loss, gnorm, g->st.step, g->st.lr_scale, at, g->st.stage_rollbacks, c->train.max_rollbacks);
    /* The steps after the good state are gone from the live log too. */
    CHECK(live_rewind(g));
    live_write(g, "rollback", "diverged_step", (double)bad, "train_loss", loss, "grad_norm", gnorm, "lr_scale",
               g->st.lr_scale, "skip_position", (double)at, NULL);
out:
    return st;
}

/* Did this step diverge?  Non-finite loss or gradient norm, or a loss above
 * train.spike_factor x the stage's running mean.  The values are the same on
 * every rank (all-reduced); the vote keeps the ranks together regardless. */
static st_status diverged(grow_run *g, double loss, double gnorm, bool grads_finite, bool *out)
{
    const double f = g->cfg.train.spike_factor;
    bool bad = !isfinite(loss) || !isfinite(gnorm) || !grads_finite ||
               (f > 0 && g->st.loss_n >= 10 && loss > f * g->st.loss_mean);
    return comm_any(bad, out, g->comm);
}

/* Testing hook: STRATA_TEST_DIVERGE_AT_STEP=N makes the loss of step N
 * non-finite the first time it is reached (N:always -- every time). */
static bool test_diverge(const grow_run *g)
{
    const char *e = getenv("STRATA_TEST_DIVERGE_AT_STEP");
    if (!e) return false;
    char *end = NULL;
    long n = strtol(e, &end, 10);
    bool always = end && strcmp(end, ":always") == 0;
    return g->st.step + 1 == n && (always || g->st.rollbacks == 0);
}

/* Testing hook: STRATA_TEST_WAIT_STOP_AT_STEP=N[,M...] makes the ranks wait
 * after global step N (and M...) until a stop request arrives (at most
 * 300 s), so that a test's preemption signal lands mid-stage at a known step
 * however loaded the machine is (tests/hpc/: a signal sent on a timer could
 * land on a stage boundary instead).  Rank 0 logs that it waits. */
static bool test_wait_hit(const grow_run *g)
{
    const char *p = getenv("STRATA_TEST_WAIT_STOP_AT_STEP");
    while (p && *p) {
        char *end = NULL;
        long n = strtol(p, &end, 10);
        if (end == p) break;
        if (n == g->st.step) return true;
        if (*end != ',') break;
        p = end + 1;
    }
    return false;
}

static st_status test_wait_stop(grow_run *g)
{
    st_status st = ST_OK;
    log_info("test hook: step %ld done, waiting for a stop request", g->st.step);
    for (int i = 0; i < 6000; i++) {
        bool stop = false;
        CHECK(comm_any(sig_stop_requested(), &stop, g->comm));
        if (stop) goto out;
        usleep(50000);
    }
    log_warn("test hook: no stop request at step %ld within 300 s; going on", g->st.step);
out:
    return st;
}

/* ---- the activation cache ---------------------------------------------- */

/* want[n] (the cache's entries): the entries the rest of the run is planned
 * to read, i.e. the rank's training chunks at the data positions of the
 * planned steps left in this stage and in every later stage (each planned
 * like this one: the same settings), and every validation entry (every
 * stage end evaluates).  The positions are walked until every training
 * entry is marked or two passes over the order have gone by (by then every
 * chunk has come round), so the walk costs at most ~2 n / N lookups. */
static st_status run_cache_wanted(grow_run *g, bool *want)
{
    st_status st = ST_OK;
    const long B = g->cfg.train.batch, n_train = g->data.n_train;
    const int n_stages = (int)g->cfg.model.n_layers;
    long planned = sched_planned_steps(&g->sched, B * g->data.ctx);
    long left = planned - g->st.sched.steps;
    double horizon = (double)(left > 0 ? left : 0) + (double)(n_stages - g->st.stage) * (double)planned;
    long S = B < n_train ? B : n_train, cap = 2 * ((n_train + S - 1) / S) + 1;
    long steps = horizon < (double)cap ? (long)horizon : cap;
    long first, count, unmarked = 0;
    for (long i = 0; i < g->cache.n; i++) want[i] = false;
    for (long i = 0; i < g->data.n_val; i++) {
        long e = cache_index(&g->cache, g->data.val[i]);
        if (e >= 0) want[e] = true;
    }
    for (long i = 0; i < g->cache.n; i++) unmarked += !want[i];
    comm_share(B, g->rank, g->size, &first, &count);
    for (long t = 0; t < steps && unmarked > 0; t++)
        for (long i = 0; i < count; i++) {
            long k = data_order_chunk(&g->order, g->st.cursor + t * B + first + i);
            if (k < 0) FAIL(ST_ENOMEM, "out of memory for the data order");
            long e = cache_index(&g->cache, g->data.train[k]);
            if (e >= 0 && !want[e]) {
                want[e] = true;
                unmarked--;
            }
        }
out:
    return st;
}

/* Bring the entries the rest of the run will read (run_cache_wanted) to
 * depth `start` (the output of the stage's frozen blocks), once, before the
 * stage's first step: entries of the previous stage advance by the one
 * block frozen since, empty ones (a new run's stage 2, a resumed session)
 * come from the tokens.  After it a step reads its frozen prefix from the
 * cache whatever the depth and however few chunks the stage visits
 * (cache.h); a chunk no later stage will read is not brought forward, so
 * over the run each chunk costs one block per depth it is read at, as if
 * each were computed when first needed.  An entry left behind (a stage ran
 * longer than planned) comes forward on use, several blocks at once: the
 * same arithmetic.  Tokens are read as the steps read them, collectively
 * in windows of pf_cap rows (every rank takes part in every round); the
 * FLOPs count as the stage's. */
static st_status run_cache_advance(grow_run *g, int start)
{
    st_status st = ST_OK;
    const int T = g->data.ctx;
    double t0 = timer_now(), flops = 0;
    bool *want = malloc(sizeof *want * (size_t)(g->cache.n > 0 ? g->cache.n : 1));
    long *ids = malloc(sizeof *ids * (size_t)(g->cache.n > 0 ? g->cache.n : 1));
    st = want && ids ? ST_OK : ST_ERROR(ST_ENOMEM, "out of memory for the activation cache's index");
    if (st == ST_OK) st = run_cache_wanted(g, want);
    CHECK_AGREE(st, g->comm);
    long n = 0;
    for (long i = 0; i < g->cache.n; i++)
        if (want[i]) ids[n++] = g->cache.ids[i];
    long rounds = (n + g->pf_cap - 1) / g->pf_cap;
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_LONG, MPI_MAX, g->comm));
    g->pf_cursor = -1; /* the window's buffers are used here */
    for (long r = 0; r < rounds; r++) {
        long lo = r * g->pf_cap, m = lo >= n ? 0 : n - lo < g->pf_cap ? n - lo : g->pf_cap;
        memcpy(g->batch_ids, ids + lo, sizeof *g->batch_ids * (size_t)m);
        CHECK(dataset_read_chunks(&g->data, g->batch_ids, m, g->pf_tok));
        for (long i = 0; i < m && st == ST_OK; i++)
            st = run_prefix(g, g->batch_ids[i], g->pf_tok + (size_t)i * (size_t)(T + 1), start, true, g->xin,
                            &flops);
        CHECK_AGREE(st, g->comm);
    }
    g->cache_depth = start;
    double sums[3] = {flops, (double)n, (double)g->cache.n};
    CHECK(comm_allreduce_sum_f64(sums, 3, g->comm));
    g->st.stage_flops += sums[0];
    log_info("activation cache: %.0f of %.0f entries brought to depth %d in %.1f s (%.1f GFLOP; the chunks the "
             "planned steps will read)",
             sums[1], sums[2], start, timer_now() - t0, sums[0] / 1e9);
out:
    free(want);
    free(ids);
    return st;
}

/* ---- one step ----------------------------------------------------------- */

/* ---- gradient reduction overlapped with the backward ------------------- */

/* One deterministic reduce-scatter per trainable arena (comm.h: each
 * rank's segment of the arena's gradient slice summed in rank order),
 * started the moment model_backward_hooked() reports the arena final, all
 * finished before the clip and the optimizer step.  Without train.zero the
 * reduced segments are then all-gathered so every rank holds the whole
 * gradient; with it each rank keeps its segment, updates its slice of the
 * weights and the weights are all-gathered.  Every element of m->grad is
 * summed exactly once, by the same additions in the same order, on every
 * path: overlap on or off, zero on or off are bitwise equal
 * (tests/grow/overlap.sh, tests/grow/zero.sh).  Every rank must start the
 * transfers in the same order: the order is the fixed plan below (backward
 * order), never the order of the callbacks, and an arena starts only when
 * it and every arena before it in the plan are ready. */
typedef struct grad_reducer {
    MPI_Comm comm;
    float scale;        /* this rank's share of the global batch */
    int n;              /* arenas in the plan */
    int next;           /* plan[next] is the first not yet started */
    param_arena **plan; /* [n] head, then lora l and block l for l = L-1..0, embed */
    bool *ready;        /* [n] */
    float **scratch;    /* [n] arena i's part of grow_run.rs_scratch */
    comm_rs *op;        /* [n] */
} grad_reducer;

static void reducer_free(grad_reducer *r)
{
    /* an unfinished operation (an error on the way) still frees its requests */
    for (int i = 0; r->op && i < r->n; i++) free(r->op[i].req);
    free(r->plan);
    free(r->ready);
    free(r->scratch);
    free(r->op);
    memset(r, 0, sizeof *r);
}

static st_status reducer_init(grad_reducer *r, grow_run *g, float scale)
{
    st_status st = ST_OK;
    model *m = &g->m;
    memset(r, 0, sizeof *r);
    int cap = MODEL_ARENAS(m->n_blocks);
    r->plan = calloc((size_t)cap, sizeof *r->plan);
    r->ready = calloc((size_t)cap, sizeof *r->ready);
    r->scratch = calloc((size_t)cap, sizeof *r->scratch);
    r->op = calloc((size_t)cap, sizeof *r->op);
    CHECK_ALLOC(r->plan);
    CHECK_ALLOC(r->ready);
    CHECK_ALLOC(r->scratch);
    CHECK_ALLOC(r->op);
    r->comm = g->comm;
    r->scale = scale;
#define PLAN(a)                                                                                    \
    do {                                                                                           \
        if ((a)->trainable && (a)->w && (a)->g) r->plan[r->n++] = (a);                             \
    } while (0)
    PLAN(&m->head);
    for (int l = m->n_blocks - 1; l >= 0; l--) {
        if (m->lora[l].r) PLAN(&m->lora[l].p);
        PLAN(&m->blocks[l]);
    }
    if (!m->substrate) PLAN(&m->embed);
#undef PLAN
    size_t total = 0, need = 0;
    for (int i = 0; i < r->n; i++) {
        total += r->plan[i]->numel;
        need += comm_rs_scratch(r->plan[i]->numel, g->rank, g->size);
    }
    if (total != m->n_train)
        FAIL(ST_ERR, "gradient reduction plan covers %zu of %zu gradient floats", total, m->n_train);
    /* Kept from step to step: (N - 1) / N of the gradient, all arenas in flight at once. */
    if (need > g->rs_scratch_n) {
        free(g->rs_scratch);
        g->rs_scratch_n = 0;
        CHECK_ALLOC(g->rs_scratch = param_falloc(need));
        g->rs_scratch_n = need;
    }
    need = 0;
    for (int i = 0; i < r->n; i++) {
        r->scratch[i] = g->rs_scratch + need;
        need += comm_rs_scratch(r->plan[i]->numel, g->rank, g->size);
    }
out:
    if (st != ST_OK) reducer_free(r);
    return st;
}

/* Start every ready arena at the front of the plan, then let the started
 * ones advance. */
static st_status reducer_start_ready(grad_reducer *r)
{
    st_status st = ST_OK;
    for (; r->next < r->n && r->ready[r->next]; r->next++) {
        param_arena *a = r->plan[r->next];
        /* The local loss is a mean over this rank's share: weigh by the share
         * so the sum over ranks is the mean over the global batch. */
        for (size_t off = 0; off < a->numel; off += COMM_IPIECE) {
            size_t len = a->numel - off < COMM_IPIECE ? a->numel - off : COMM_IPIECE;
            cblas_sscal((int)len, r->scale, a->g + off, 1);
        }
        CHECK(comm_rs_start(&r->op[r->next], a->g, a->numel, r->scratch[r->next], r->comm));
    }
    for (int i = 0; i < r->next; i++) CHECK(comm_rs_progress(&r->op[i]));
out:
    return st;
}

static st_status reducer_ready(void *ctx, param_arena *a)
{
    grad_reducer *r = ctx;
    for (int i = 0; i < r->n; i++)
        if (r->plan[i] == a) r->ready[i] = true;
    return reducer_start_ready(r);
}

/* Start what is left (arenas the backward did not reach, or all of them on a
 * rank without a batch share), then finish every reduce-scatter (in plan
 * order) and, unless each rank keeps only its segment (`keep_segments`),
 * all-gather the reduced gradient. */
static st_status reducer_finish(grad_reducer *r, bool keep_segments)
{
    st_status st = ST_OK;
    for (int i = 0; i < r->n; i++) r->ready[i] = true;
    CHECK(reducer_start_ready(r));
    for (int i = 0; i < r->n; i++) CHECK(comm_rs_finish(&r->op[i]));
    for (int i = 0; i < r->n && !keep_segments; i++)
        CHECK(comm_allgather_segments(r->plan[i]->g, r->plan[i]->numel, r->comm));
out:
    return st;
}

/* One optimizer step of the current stage; *loss = mean train loss of the
 * global batch.  *bad: the step diverged and changed nothing (the caller
 * rolls back).  *skipped: the batch was the one to skip after a rollback. */
static st_status train_step(grow_run *g, double *loss_out, double *gnorm_out, double *lr_out, bool *bad,
                            bool *skipped)
{
    st_status st = ST_OK;
    model *m = &g->m;
    grad_reducer red = {0};
    const int T = g->data.ctx, D = g->sub.D;
    const long B = g->cfg.train.batch;
    *bad = *skipped = false;
    if (g->st.cursor == g->st.skip_cursor) {
        g->st.cursor += B;
        g->st.skip_cursor = -1;
        *skipped = true;
        log_info("skipped the batch at data position %ld (it diverged before)", g->st.cursor - B);
        goto out;
    }
    long first, count;
    comm_share(B, g->rank, g->size, &first, &count);
    int start = run_first_trained(g);
    bool use_cache = run_cache_usable(g);
    if (use_cache && g->cache_depth != start) CHECK(run_cache_advance(g, start));
    double flops = (double)count * g->data.ctx * trained_token_flops(g, start); /* this rank's share */
    /* This rank's batch slots, read from the file (only these rows), a
     * window of steps at a time.  Every rank takes the same branch: the
     * window depends on the cursor only. */
    long off = g->st.cursor - g->pf_cursor;
    if (g->pf_cursor < 0 || off < 0 || off % B != 0 || off / B >= g->pf_steps) {
        g->pf_cursor = g->st.cursor;
        off = 0;
        for (long s = 0; s < g->pf_steps && st == ST_OK; s++)
            for (long i = 0; i < count && st == ST_OK; i++) {
                long k = data_order_chunk(&g->order, g->st.cursor + s * B + first + i);
                if (k < 0) st = ST_ERROR(ST_ENOMEM, "out of memory for the data order");
                else g->batch_ids[s * count + i] = g->data.train[k];
            }
        CHECK_AGREE(st, g->comm);
        CHECK(dataset_read_chunks(&g->data, g->batch_ids, g->pf_steps * count, g->pf_tok));
    }
    const long *ids = g->batch_ids + off / B * count;
    memcpy(g->tokbuf, g->pf_tok + (size_t)(off / B * count) * (size_t)(T + 1),
           sizeof(int32_t) * (size_t)count * (size_t)(T + 1));
    for (long i = 0; i < count && start > 0; i++)
        CHECK(run_prefix(g, ids[i], g->tokbuf + i * (T + 1), start, use_cache,
                         g->xin + (size_t)i * (size_t)T * (size_t)D, &flops));
    model_zero_grad(m);
    double loss = 0.0;
    /* The blocking path (train.overlap_reduce = false) starts the very same
     * per-arena reductions, only after the whole backward. */
    CHECK(reducer_init(&red, g, (float)count / (float)B));
    if (count > 0) {
        model_batch b = {.tokens = g->tokbuf, .targets = g->tokbuf + 1, .ld = T + 1};
        CHECK(model_forward(m, &g->ws, &b, start > 0 ? g->xin : NULL, start, m->n_blocks, (int)count, T,
                            true, &loss));
        if (g->cfg.train.overlap_reduce)
            CHECK(model_backward_hooked(m, &g->ws, reducer_ready, &red));
        else
            CHECK(model_backward(m, &g->ws));
    }
    const bool zero = g->cfg.train.zero;
    CHECK(reducer_finish(&red, zero));
    /* [weighted loss, FLOPs]: summed over ranks in one all-reduce */
    double sums[2] = {loss * (double)count / (double)B, flops};
    CHECK(comm_allreduce_sum_f64(sums, 2, g->comm));
    double wl = sums[0];
    /* Computed whether or not the step is then accepted (rollbacks keep it). */
    g->step_flops = sums[1];
    g->st.stage_flops += sums[1];
    if (test_diverge(g)) wl = NAN;

    const st_config *c = &g->cfg;
    long planned = sched_planned_steps(&g->sched, B * T);
    double lr = g->st.lr_scale *
                lr_schedule(g->st.sched.steps, planned, c->train.warmup, c->train.lr, c->train.min_lr);
    adamw_cfg acfg = {.beta1 = c->train.beta1, .beta2 = c->train.beta2, .eps = c->train.adam_eps,
                      .weight_decay = c->train.weight_decay, .grad_clip = c->train.grad_clip};
    param_arena *arenas[MODEL_MAX_ARENAS];
    size_t sfirst[MODEL_MAX_ARENAS], scount[MODEL_MAX_ARENAS];
    int na = model_trainable_arenas(m, arenas, MODEL_MAX_ARENAS);
    /* The global norm from each rank's reduced segments, added in rank
     * order: the same bits with zero on or off. */
    run_segments(g, arenas, na, sfirst, scount);
    double sumsq = 0;
    CHECK(comm_sum_ordered_f64(adamw_grad_sumsq(arenas, na, sfirst, scount), &sumsq, g->comm));
    /* The guard looks before the update is applied, and at the weights after it. */
    double gnorm = sqrt(sumsq);
    *loss_out = wl;
    *gnorm_out = gnorm;
    *lr_out = lr;
    CHECK(diverged(g, wl, gnorm, true, bad));
    if (*bad) goto out;
    g->st.adam_t++;
    adamw_update(arenas, na, &acfg, lr, g->st.adam_t, adamw_clip_factor(acfg.grad_clip, gnorm));
    /* train.zero: each rank updated its slice; everyone needs all weights. */
    for (int i = 0; i < na && zero; i++) CHECK(comm_allgather_segments(arenas[i]->w, arenas[i]->numel, g->comm));
    CHECK(diverged(g, wl, gnorm, arenas_finite(arenas, na, false), bad));
    if (*bad) goto out;
    g->st.loss_mean = g->st.loss_n == 0 ? wl : 0.9 * g->st.loss_mean + 0.1 * wl;
    g->st.loss_n++;
    g->st.stage_loss_sum += wl;
    g->st.cursor += B;
    g->st.step++;
    g->st.tokens += B * T;
    sched_record_step(&g->st.sched, B * T);
out:
    reducer_free(&red);
    return st;
}

/* Weights must stay identical on every rank: checked at every evaluation. */
static st_status check_replicas(grow_run *g)
{
    st_status st = ST_OK;
    param_arena *arenas[MODEL_MAX_ARENAS];
    int na = model_trainable_arenas(&g->m, arenas, MODEL_MAX_ARENAS);
    for (int i = 0; i < na; i++) {
        bool same = false;
        CHECK(comm_check_identical(arenas[i]->w, sizeof(float) * arenas[i]->numel, g->comm, &same));
        if (!same)
            FAIL(ST_ERR, "weights of a %s arena differ between ranks at step %ld (non-deterministic reduction?)",
                 param_arena_kind_name(arenas[i]->kind), g->st.step);
    }
out:
    return st;
}

/* ---- the run ------------------------------------------------------------ */

static void run_free(grow_run *g)
{
    model_ws_free(&g->ws);
    model_ws_free(&g->ws1);
    model_free(&g->m);
    cache_free(&g->cache);
    data_order_free(&g->order);
    dataset_free(&g->data);
    dataset_free(&g->test);
    free(g->test_ids);
    free(g->sub.table);
    free(g->sub.init);
    met_free(&g->steps);
    met_free(&g->depth);
    free(g->good.w);
    free(g->good.m);
    free(g->good.v);
    free(g->rs_scratch);
    free(g->peak_ranks);
    live_close(g);
    for (int i = 0; i < g->ntasks; i++) task_free(&g->tasks[i]);
    free(g->tasks);
    free(g->xin);
    free(g->tokbuf);
    grow_parent_free(&g->parent);
    free(g->batch_ids);
    free(g->pf_tok);
    free(g->evaltok);
    free(g->evalchars);
    free(g->evalids);
}

/* Empty metric tables with the run's columns. */
static st_status run_metrics_init(grow_run *g)
{
    st_status st = ST_OK;
    CHECK(met_init_steps(&g->steps));
    CHECK(met_init_depth(&g->depth));
    CHECK(met_add_column(&g->steps, "val_loss", H5_DT_F64, "nats/token",
                         "validation loss at this step (evaluation steps only)"));
    g->steps_val_col = met_col(&g->steps, "val_loss");
    CHECK(met_add_column(&g->depth, "rollbacks", H5_DT_I64, "1",
                         "times this stage went back to its last good state after diverging"));
    if (g->n_test > 0) {
        /* The test set (data.test), named like the validation columns. */
        CHECK(met_add_column(&g->depth, "test_loss", H5_DT_F64, "nats/token", "test-set loss (data.test) at this depth"));
        CHECK(met_add_column(&g->depth, "test_bits_per_char", H5_DT_F64, "bits/char",
                             "test-set bits per character (data.test) at this depth"));
        CHECK(met_add_column(&g->depth, "test_top1", H5_DT_F64, "1",
                             "test-set share of positions whose argmax is the target (data.test)"));
    }
    CHECK(met_add_probe_columns(&g->depth));
    for (int i = 0; i < g->ntasks; i++) CHECK(met_add_task_columns(&g->depth, g->tasks[i].name));
out:
    return st;
}

/* The model as a new run starts it: no blocks, head (and trainable table)
 * from the init stream.  Also used to start over after a checkpoint that
 * could not be loaded. */
static st_status run_model_fresh(grow_run *g, const model_dims *d)
{
    st_status st = ST_OK;
    model_free(&g->m);
    memset(&g->m, 0, sizeof g->m);
    rng_init(&g->st.rng, (uint64_t)g->cfg.run.seed, 0, RNG_INIT);
    CHECK(model_init(&g->m, d, g->sub.table, &g->st.rng));
    if (g->sub.init) memcpy(g->m.embed.w, g->sub.init, sizeof(float) * g->m.embed.numel);
out:
    return st;
}

/* The same-run sgemm peak behind MFU: every rank measures at once (after a
 * barrier), so ranks sharing cores measure under the contention they train
 * under; MFU divides by the sum over ranks.  Measured for `seconds` at start
 * and again briefly at every stage start, keeping each rank's best: on a
 * shared machine one measurement may still catch a busy moment. */
static st_status run_measure_peak(grow_run *g, double seconds, bool quiet)
{
    st_status st = ST_OK;
    if (!g->peak_ranks) {
        g->peak_ranks = calloc((size_t)g->size, sizeof(double));
        CHECK_ALLOC(g->peak_ranks);
    }
    CHECK_MPI(MPI_Barrier(g->comm));
    double p = blas_sgemm_peak(seconds);
    if (p > g->peak_flops) g->peak_flops = p;
    snprintf(g->blas_core, sizeof g->blas_core, "%s", openblas_get_corename());
    double before = g->peak_total;
    CHECK_MPI(MPI_Allgather(&g->peak_flops, 1, MPI_DOUBLE, g->peak_ranks, 1, MPI_DOUBLE, g->comm));
    double lo = g->peak_ranks[0], hi = lo;
    g->peak_total = 0;
    for (int r = 0; r < g->size; r++) {
        g->peak_total += g->peak_ranks[r];
        lo = g->peak_ranks[r] < lo ? g->peak_ranks[r] : lo;
        hi = g->peak_ranks[r] > hi ? g->peak_ranks[r] : hi;
    }
    if (quiet && g->peak_total < 1.05 * before) goto out; /* log only what changed */
    if (g->size == 1)
        log_info("sgemm peak %.1f GFLOP/s (OpenBLAS core %s; the MFU denominator)", g->peak_flops / 1e9,
                 g->blas_core);
    else
        log_info("sgemm peak %.1f GFLOP/s over %d ranks (%.1f..%.1f per rank; OpenBLAS core %s; the MFU "
                 "denominator)",
                 g->peak_total / 1e9, g->size, lo / 1e9, hi / 1e9, g->blas_core);
out:
    return st;
}

static st_status run_setup(grow_run *g)
{
    st_status st = ST_OK;
    const st_config *c = &g->cfg;
    CHECK(grow_inputs_ensure(g));
    if (g->data.n_train < 1) FAIL(ST_EDATA, "dataset '%s' has no training chunks", c->data.dataset);
    if (g->data.n_val < 1)
        FAIL(ST_EDATA, "dataset '%s' has no validation chunks (raise data.val_fraction)", c->data.dataset);

    model_dims d;
    CHECK(layout_dims(c, g->sub.D, g->sub.V, (int)c->model.n_layers, &d));
    CHECK(run_model_fresh(g, &d));

    const int T = g->data.ctx;
    const long B = c->train.batch;
    /* Blocks whose activations the backward needs: all of them when gradients
     * flow below the new block (monolithic, LoRA, a trainable table). */
    int keep = g->monolithic || c->grow.lora_from_depth > 0 || g->sub.trainable ? (int)c->model.n_layers : 1;
    int r_max = c->grow.lora_from_depth > 0 ? (int)c->grow.lora_rank : 0;
    CHECK(model_ws_init(&g->ws, &d, (int)B, T, keep, r_max));
    CHECK(model_ws_init(&g->ws1, &d, 1, T, 1, r_max));
    g->xin = malloc(sizeof(float) * (size_t)B * (size_t)T * (size_t)d.D);
    g->tokbuf = malloc(sizeof(int32_t) * (size_t)B * (size_t)(T + 1));
    {
        /* a window of up to 64 steps, at most 16 MiB of rows */
        long first, count;
        comm_share(B, g->rank, g->size, &first, &count);
        long row_bytes = (long)sizeof(int32_t) * (T + 1) * (count > 0 ? count : 1);
        g->pf_steps = (16L << 20) / row_bytes;
        if (g->pf_steps > 64) g->pf_steps = 64;
        if (g->pf_steps < 1) g->pf_steps = 1;
        g->pf_cap = g->pf_steps * (count > 0 ? count : 1);
        g->pf_cursor = -1;
    }
    g->batch_ids = malloc(sizeof *g->batch_ids * (size_t)g->pf_cap);
    g->pf_tok = malloc(sizeof *g->pf_tok * (size_t)g->pf_cap * (size_t)(T + 1));
    CHECK_ALLOC(g->xin);
    CHECK_ALLOC(g->tokbuf);
    CHECK_ALLOC(g->batch_ids);
    CHECK_ALLOC(g->pf_tok);

    CHECK(run_tasks_load(g));
    CHECK(run_metrics_init(g));
    CHECK(sched_cfg_from_config(c, g->monolithic ? c->model.n_layers : 1, &g->sched));
    CHECK(run_measure_peak(g, 0.2, false));
out:
    return st;
}

/* Bytes free for the activation cache on this node: 80 % of MemAvailable
 * (memory) or the free space of the scratch directory (disk).  The test
 * hooks STRATA_TEST_MEM_AVAILABLE / STRATA_TEST_DISK_AVAILABLE (bytes)
 * stand in for the machine. */
static double cache_room(cache_mode mode, const char *dir)
{
    const char *hook = getenv(mode == CACHE_MEMORY ? "STRATA_TEST_MEM_AVAILABLE" : "STRATA_TEST_DISK_AVAILABLE");
    if (hook) return strtod(hook, NULL) * (mode == CACHE_MEMORY ? 0.8 : 1.0);
    if (mode == CACHE_DISK) {
        struct statvfs v;
        return statvfs(dir, &v) == 0 ? (double)v.f_bavail * (double)v.f_frsize : INFINITY;
    }
    FILE *f = fopen("/proc/meminfo", "r");
    double kb = INFINITY;
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    if (f) fclose(f);
    return 0.8 * kb * 1024.0;
}

/* The chunks this rank trains and evaluates on: the training chunks of the
 * shards of its batch slots (order.h; every training chunk when the order's
 * slots are not this run's batch positions, a run from before shards), and
 * its share of the evaluated validation rows (eval.c shares them out the
 * same way).  *ids malloc'd [*n]. */
static st_status run_local_chunks(grow_run *g, long **ids, long *n)
{
    st_status st = ST_OK;
    const long B = g->cfg.train.batch;
    long first, count, n_eval = run_n_evalrows(g);
    bool sharded = g->order.slots == B;
    comm_share(B, g->rank, g->size, &first, &count);
    long max = (sharded ? 0 : g->data.n_train) + n_eval;
    for (long s = first; sharded && s < first + count && s < first + g->order.shards; s++) {
        long lo, len;
        data_order_slot_range(&g->order, s, &lo, &len);
        max += len;
    }
    *n = 0;
    *ids = malloc(sizeof **ids * (size_t)(max > 0 ? max : 1));
    CHECK_ALLOC(*ids);
    if (!sharded)
        for (long i = 0; i < g->data.n_train; i++) (*ids)[(*n)++] = g->data.train[i];
    /* with fewer chunks than slots, slots s and s + shards share a shard: once is enough */
    for (long s = first; sharded && s < first + count && s < first + g->order.shards; s++) {
        long lo, len;
        data_order_slot_range(&g->order, s, &lo, &len);
        for (long i = lo; i < lo + len; i++) (*ids)[(*n)++] = g->data.train[i];
    }
    comm_share(n_eval, g->rank, g->size, &first, &count);
    for (long i = first; i < first + count; i++) (*ids)[(*n)++] = g->data.val[i];
out:
    return st;
}

/* After the resume (the order's slots are part of the state): the data
 * order, and the activation cache of this rank's chunks when a stage can
 * use it, its size checked against what the node has (ST_EUSAGE naming the
 * settings that help).  Collective. */
static st_status run_data_setup(grow_run *g)
{
    st_status st = ST_OK;
    const st_config *c = &g->cfg;
    long *ids = NULL, n = 0;
    MPI_Comm node = MPI_COMM_NULL;
    cache_mode cm;
    cache_dtype cdt;
    CHECK(cache_mode_parse(c->grow.cache, &cm));
    CHECK(cache_dtype_parse(c->grow.cache_dtype, &cdt));
    CHECK(data_order_init(&g->order, g->data.n_train, g->st.order_slots, (uint64_t)c->run.seed));
    /* Only a stage above frozen blocks reads the cache: never in a
     * monolithic run, with a trainable table, a single block, or LoRA on
     * the frozen blocks from stage 2 on. */
    if (g->monolithic || g->sub.trainable || c->model.n_layers < 2 ||
        (c->grow.lora_from_depth > 0 && c->grow.lora_from_depth <= 2))
        cm = CACHE_OFF;
    if (cm != CACHE_OFF) CHECK(run_local_chunks(g, &ids, &n));
    const int T = g->data.ctx, D = g->sub.D;
    const char *dir = c->grow.cache_dir[0] ? c->grow.cache_dir : g->dir;
    if (cm != CACHE_OFF) {
        /* Ranks of one node share its memory (and, usually, its scratch disk). */
        double need = cache_bytes(n, T, D, cdt);
        int ranks = 1;
        CHECK_MPI(MPI_Comm_split_type(g->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
        CHECK_MPI(MPI_Comm_size(node, &ranks));
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &need, 1, MPI_DOUBLE, MPI_SUM, node));
        double room = cache_room(cm, dir);
        const double gib = 1024.0 * 1024 * 1024;
        if (need > room)
            st = ST_ERROR(ST_EUSAGE,
                          "grow.cache = %s: the activation cache of this node's %d rank%s needs %.2f GiB (%ld "
                          "chunks x %d x %d %s on this rank) but %s has %.2f GiB; set %s grow.cache_dtype = bfloat16 "
                          "(half), run on more ranks (each caches its share), or set grow.cache = off",
                          c->grow.cache, ranks, ranks == 1 ? "" : "s", need / gib, n, T, D,
                          c->grow.cache_dtype, cm == CACHE_MEMORY ? "memory (80% of MemAvailable)" : dir,
                          room / gib, cm == CACHE_MEMORY ? "grow.cache = disk (with grow.cache_dir on node-local scratch)," : "grow.cache_dir to a larger disk,");
        CHECK_AGREE(st, g->comm);
    }
    st = cache_init(&g->cache, cm, cdt, ids, n, T, D, dir, g->rank);
    CHECK_AGREE(st, g->comm);
    g->cache_depth = -1;
    if (cm != CACHE_OFF)
        log_info("activation cache: %ld chunks on this rank, %.2f GiB (%s, %s)", g->cache.n,
                 cache_bytes(g->cache.n, T, D, cdt) / (1024.0 * 1024 * 1024), c->grow.cache, c->grow.cache_dtype);
out:
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    free(ids);
    return st;
}

static st_status run_stages(grow_run *g)
{
    st_status st = ST_OK;
    const st_config *c = &g->cfg;
    const long B = c->train.batch;
    const int T = g->data.ctx;
    const int n_stages = g->monolithic ? 1 : (int)c->model.n_layers;
    const char *stop_env = getenv("STRATA_TEST_STOP_AT_STEP");
    long stop_at = stop_env ? atol(stop_env) : -1;
    progress prog;
    memset(&prog, 0, sizeof prog); /* progress_end at out: is safe before init */
    progress_mode pmode;
    CHECK(progress_mode_parse(c->log.progress, &pmode));
    progress_init(&prog, g->comm, c->log.interval, pmode);
    double session_t0 = timer_now(), wall0 = g->st.wall_s;
    /* A resume mid-stage shows the stage's last validation loss, not "-". */
    for (size_t i = g->steps.nrows; !g->st.stage_done && i-- > 0 && met_get(&g->steps, i, MS_STAGE) == g->st.stage;)
        if (!isnan(met_get(&g->steps, i, g->steps_val_col))) {
            g->last_val = met_get(&g->steps, i, g->steps_val_col);
            break;
        }

    const int until = c->grow.until_stage > 0 && c->grow.until_stage < n_stages ? (int)c->grow.until_stage : n_stages;
    if (g->st.stage_done) {
        if (g->st.stage >= until) {
            log_info("%s: nothing left to train (stage %d of %d done)", g->dir, g->st.stage, n_stages);
            goto finished;
        }
        g->st.stage++;
        CHECK(stage_begin(g));
    } else if (g->st.step == 0 && g->st.sched.steps == 0) {
        CHECK(stage_begin(g));
    }
    for (;;) {
        double stage_t0 = timer_now(), stage_wall0 = g->st.stage_wall_s;
        long stage_steps0 = g->st.sched.steps;
        double loss = NAN, gnorm = 0, lr = 0;
        bool done = false, bad = false, skipped = false;
        CHECK(snapshot_take(g));
        CHECK(sched_decide(&g->st.sched, &g->sched, g->comm, &done));
        while (!done) {
            double t0 = timer_now();
            CHECK(train_step(g, &loss, &gnorm, &lr, &bad, &skipped));
            if (bad) {
                CHECK(rollback(g, g->st.step + 1, g->st.cursor, loss, gnorm));
                continue;
            }
            if (skipped) {
                CHECK(snapshot_take(g));
                continue;
            }
            double dt = timer_now() - t0;
            g->st.wall_s = wall0 + (timer_now() - session_t0);
            g->st.stage_wall_s = stage_wall0 + (timer_now() - stage_t0);
            double val_loss = NAN;
            if (c->eval.interval > 0 && g->st.sched.steps % c->eval.interval == 0) {
                eval_row ev;
                CHECK(run_eval(g, g->m.n_blocks, &ev));
                val_loss = ev.loss;
                g->last_val = ev.loss;
                live_write(g, "eval", "val_loss", ev.loss, "val_bits_per_char", ev.bpc, "val_top1", ev.top1, NULL);
                sched_record_eval(&g->st.sched, &g->sched, ev.loss);
                CHECK(check_replicas(g));
            }
            double *row = NULL;
            CHECK(met_append(&g->steps, &row));
            row[MS_STEP] = (double)g->st.step;
            row[MS_STAGE] = g->st.stage;
            row[MS_TOKENS] = (double)g->st.tokens;
            row[MS_LR] = lr;
            row[MS_TRAIN_LOSS] = loss;
            row[MS_GRAD_NORM] = gnorm;
            row[MS_TOKENS_PER_S] = (double)B * T / dt;
            row[MS_WALL_S] = g->st.wall_s;
            row[g->steps_val_col] = val_loss;
            const double mfu = g->peak_total > 0 && dt > 0 ? g->step_flops / dt / g->peak_total : LIVE_MISSING;
            live_write(g, "step", "tokens", (double)g->st.tokens, "train_loss", loss, "lr", lr, "grad_norm", gnorm,
                       "tokens_per_s", row[MS_TOKENS_PER_S], "mfu", mfu, "wall_s", g->st.wall_s, "mem_mb",
                       live_rss_mb(), NULL);
            long planned = sched_planned_steps(&g->sched, B * T);
            double per_step = (timer_now() - stage_t0) / (double)(g->st.sched.steps - stage_steps0);
            char eta[32];
            progress_format_eta(per_step * (double)(planned - g->st.sched.steps) +
                                    per_step * (double)planned * (double)(n_stages - g->st.stage),
                                eta, sizeof eta);
            /* Only values of the current stage: "-" until its first evaluation. */
            char val[32] = "-", mfus[32] = "-";
            if (!isnan(g->last_val)) snprintf(val, sizeof val, "%.4f", g->last_val);
            if (mfu != LIVE_MISSING) snprintf(mfus, sizeof mfus, "%.2f", mfu);
            progress_update(&prog, false, "stage %d/%d step %ld/%ld loss %.4f val %s tok/s %.0f mfu %s eta %s",
                            g->st.stage, n_stages, g->st.sched.steps, planned, loss, val,
                            row[MS_TOKENS_PER_S], mfus, eta);

            CHECK(sched_decide(&g->st.sched, &g->sched, g->comm, &done));
            if (done) break;
            if (test_wait_hit(g)) {
                progress_end(&prog);
                CHECK(test_wait_stop(g));
            }
            bool stop = false;
            CHECK(comm_any(sig_stop_requested() || g->st.step == stop_at, &stop, g->comm));
            if (stop) {
                char name[64];
                snprintf(name, sizeof name, "step-%08ld.h5", g->st.step);
                progress_end(&prog);
                CHECK(grow_checkpoint_save(g, name));
                log_info("stop requested: checkpoint %s/%s written; exiting with 75 (requeue to resume)", g->dir,
                         name);
                st = ST_EPREEMPT;
                goto out;
            }
            if (c->ckpt.interval > 0 && g->st.step % c->ckpt.interval == 0) {
                char name[64];
                snprintf(name, sizeof name, "step-%08ld.h5", g->st.step);
                CHECK(grow_checkpoint_save(g, name));
                CHECK(snapshot_take(g));
            }
        }
        progress_end(&prog);
        /* The whole stage, whichever sessions trained it (resumes included). */
        g->st.stage_wall_s = stage_wall0 + (timer_now() - stage_t0);
        double stage_wall = g->st.stage_wall_s;
        long nsteps = g->st.sched.steps;
        double tps = stage_wall > 0 && nsteps > 0 ? (double)nsteps * (double)B * T / stage_wall : NAN;
        g->st.wall_s = wall0 + (timer_now() - session_t0);
        CHECK(stage_end(g, stage_wall, tps, g->st.loss_n ? g->st.stage_loss_sum / (double)g->st.loss_n : NAN));
        bool stop = false;
        CHECK(comm_any(sig_stop_requested(), &stop, g->comm));
        if (g->st.stage >= until) break;
        if (stop) {
            log_info("stop requested: stage checkpoint written; exiting with 75 (requeue to resume)");
            st = ST_EPREEMPT;
            goto out;
        }
        g->st.stage++;
        CHECK(stage_begin(g));
    }
finished:
    if (g->st.stage >= n_stages) log_info("run %s is complete: all %d stages trained", g->dir, n_stages);
    if (g->st.stage < n_stages)
        log_info("stopped after stage %d of %d (grow.until_stage = %ld): run grow again with a larger "
                 "grow.until_stage (or 0) to continue",
                 g->st.stage, n_stages, c->grow.until_stage);
    log_info("checkpoints: %ld written in %.2f s, %.2f%% of this session's %.1f s", g->ckpt_count,
             g->ckpt_seconds, 100.0 * g->ckpt_seconds / (timer_now() - session_t0), timer_now() - session_t0);
    if (g->rank == 0) {
        printf("\nper-depth evaluation (%s/LATEST; /metrics/depth):\n", g->dir);
        met_print(&g->depth, stdout);
        fflush(stdout);
    }
out:
    progress_end(&prog);
    return st;
}

/* Resume from the newest usable checkpoint, if any (*found).  A file that
 * verifies but cannot be loaded (a missing tensor, a wrong shape, a bad
 * state) is passed over with a warning for the next older one; settings
 * that may not change are a usage error, not a reason to fall back. */
static st_status run_resume(grow_run *g, bool *found)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    char *path = NULL;
    char **rejected = NULL;
    int n_rejected = 0;
    const model_dims dims = g->m.dims;
    *found = false;
    for (;;) {
        CHECK(grow_checkpoint_open(g, (const char *const *)rejected, n_rejected, &f, &path));
        if (!path) goto out;
        st = run_load(g, &f, path);
        h5_close(&f);
        if (st == ST_OK) break;
        if (st == ST_EUSAGE || st == ST_ENOMEM) goto out;
        log_warn("checkpoint '%s' cannot be resumed from (%s); trying the previous one", path, st_last_error());
        char **r = realloc(rejected, sizeof *r * (size_t)(n_rejected + 1));
        CHECK_ALLOC(r);
        rejected = r;
        const char *slash = strrchr(path, '/');
        rejected[n_rejected] = strdup(slash ? slash + 1 : path);
        CHECK_ALLOC(rejected[n_rejected]);
        n_rejected++;
        free(path);
        path = NULL;
        /* Start over from the structure of a new run. */
        met_free(&g->steps);
        met_free(&g->depth);
        CHECK(run_metrics_init(g));
        CHECK(run_model_fresh(g, &dims));
        memset(&g->st, 0, sizeof g->st);
    }
    if (g->st.nranks != g->size)
        log_info("resuming on %d rank%s (the checkpoint was written on %d)", g->size, g->size == 1 ? "" : "s",
                 g->st.nranks);
    log_info("resuming from %s: stage %d, step %ld", path, g->st.stage, g->st.step);
    *found = true;
out:
    if (st != ST_OK) h5_close(&f);
    for (int i = 0; i < n_rejected; i++) free(rejected[i]);
    free(rejected);
    free(path);
    return st;
}

/* train.precision: bfloat16 only where it is fast (ops.h), refused otherwise
 * on every rank alike (a mixed-CPU job must not run half in float32). */
static st_status run_precision(const st_config *cfg, MPI_Comm comm)
{
    st_status st = ST_OK;
    bool bf16 = strcmp(cfg->train.precision, "bfloat16") == 0;
    const char *why = bf16 ? op_bf16_unavailable() : NULL;
    if (why)
        st = ST_ERROR(ST_EUSAGE, "train.precision = bfloat16 cannot run here: %s; set "
                      "train.precision = float32", why);
    CHECK_AGREE(st, comm);
    op_precision_set(bf16 ? OP_BF16 : OP_FP32);
    if (bf16) log_info("matrix products in bfloat16 (oneDNN), fp32 accumulation");
out:
    return st;
}

st_status grow_main(const st_config *cfg, MPI_Comm comm) { return grow_start(cfg, NULL, comm); }

st_status grow_start(const st_config *cfg, const grow_options *o, MPI_Comm comm)
{
    st_status st = ST_OK;
    run_lock lock = RUN_LOCK_INIT;
    grow_run *g = calloc(1, sizeof *g);
    if (!g) return ST_ERROR(ST_ENOMEM, "out of memory");
    g->cfg = *cfg;
    g->comm = comm;
    MPI_Comm_rank(comm, &g->rank);
    MPI_Comm_size(comm, &g->size);
    g->monolithic = strcmp(cfg->grow.schedule, "monolithic") == 0;
    g->cache.fd = -1;
    g->cache_depth = -1;
    g->last_val = NAN;
    g->config_path = o ? o->config_path : NULL;
    if ((size_t)snprintf(g->dir, sizeof g->dir, "%s/%s", cfg->run.dir, cfg->run.name) >= sizeof g->dir)
        FAIL(ST_EUSAGE, "run.dir + run.name is too long a path");

    sig_install();
    CHECK(blas_check());
    CHECK(run_precision(cfg, comm));
    st = ckpt_dir_make(g->dir, g->comm);
    if (st != ST_OK) {
        st = ST_ECKPT; /* exit code 4: the checkpoint directory is the problem */
        goto out;
    }
    /* One job per run directory, before anything is built or read there. */
    CHECK(run_lock_acquire(&lock, g->dir, g->comm));
    CHECK(branch_plan(g, o ? o->from : NULL));
    CHECK(run_setup(g));
    bool found = false;
    CHECK(run_resume(g, &found));
    if (!found && g->parent.set) {
        CHECK(branch_start(g));
        found = true;
    }
    CHECK(live_open(g));
    if (!found) {
        g->st.stage = 1;
        g->st.lr_scale = 1.0;
        g->st.skip_cursor = -1;
    }
    /* A new run (or a branch from an imported model, which has no order)
     * orders by batch slots; a resume or branch keeps its parent's order. */
    if (!found || g->st.order_slots < 1) g->st.order_slots = cfg->train.batch;
    CHECK(run_data_setup(g));
    CHECK(run_stages(g));
out:
    run_lock_release(&lock, g->comm);
    run_free(g);
    free(g);
    return st;
}
