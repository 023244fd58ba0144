/* schedule.c -- when a stage ends (see schedule.h). */
#include "strata/schedule.h"

#include <math.h>
#include <string.h>

st_status sched_cfg_from_config(const st_config *cfg, long stage_scale, sched_cfg *out)
{
    st_status st = ST_OK;
    memset(out, 0, sizeof *out);
    if (strcmp(cfg->grow.stop, "steps") == 0)
        out->stop = SCHED_STEPS;
    else if (strcmp(cfg->grow.stop, "tokens") == 0)
        out->stop = SCHED_TOKENS;
    else if (strcmp(cfg->grow.stop, "plateau") == 0)
        out->stop = SCHED_PLATEAU;
    else
        FAIL(ST_EUSAGE, "grow.stop = '%s' is not one of steps, tokens, plateau", cfg->grow.stop);
    out->steps = cfg->grow.steps * stage_scale;
    out->tokens = cfg->grow.tokens * stage_scale;
    out->min_steps = cfg->grow.min_steps * stage_scale;
    out->max_steps = cfg->grow.max_steps * stage_scale;
    out->patience = cfg->grow.patience;
    out->min_delta = cfg->grow.min_delta;
out:
    return st;
}

void sched_stage_start(sched_state *s)
{
    s->steps = 0;
    s->tokens = 0;
    s->best_val = INFINITY;
    s->stale_evals = 0;
}

void sched_record_step(sched_state *s, long tokens)
{
    s->steps++;
    s->tokens += tokens;
}

void sched_record_eval(sched_state *s, const sched_cfg *c, double val_loss)
{
    if (val_loss < s->best_val - c->min_delta || !isfinite(s->best_val)) {
        s->best_val = val_loss;
        s->stale_evals = 0;
    } else {
        if (val_loss < s->best_val) s->best_val = val_loss;
        s->stale_evals++;
    }
}

bool sched_stage_done(const sched_state *s, const sched_cfg *c)
{
    switch (c->stop) {
    case SCHED_STEPS: return s->steps >= c->steps;
    case SCHED_TOKENS: return s->tokens >= c->tokens;
    case SCHED_PLATEAU:
        if (s->steps >= c->max_steps) return true;
        return s->steps >= c->min_steps && s->stale_evals >= c->patience;
    }
    return true;
}

st_status sched_decide(const sched_state *s, const sched_cfg *c, MPI_Comm comm, bool *done)
{
    st_status st = ST_OK;
    int d = sched_stage_done(s, c) ? 1 : 0;
    CHECK_MPI(MPI_Bcast(&d, 1, MPI_INT, 0, comm));
    *done = d != 0;
out:
    return st;
}

long sched_planned_steps(const sched_cfg *c, long tokens_per_step)
{
    switch (c->stop) {
    case SCHED_STEPS: return c->steps;
    case SCHED_TOKENS: return tokens_per_step > 0 ? (c->tokens + tokens_per_step - 1) / tokens_per_step : 1;
    case SCHED_PLATEAU: return c->max_steps;
    }
    return 1;
}
