/* schedule.h -- the coordinator's growth decisions.
 *
 * A stage ends after a number of steps, after a number of tokens, or on a
 * plateau of the validation loss (improvement < min_delta for `patience`
 * evaluations, never before min_steps, always at max_steps).  Rank 0
 * decides and broadcasts, so every rank switches stage at the same step
 * even if their views of the numbers could differ.  The state is a handful
 * of numbers saved in every checkpoint.
 */
#ifndef STRATA_SCHEDULE_H
#define STRATA_SCHEDULE_H

#include <mpi.h>
#include <stdbool.h>

#include "strata/config.h"
#include "strata/error.h"

typedef enum sched_stop { SCHED_STEPS, SCHED_TOKENS, SCHED_PLATEAU } sched_stop;

typedef struct sched_cfg {
    sched_stop stop;
    long steps;     /* SCHED_STEPS: steps per stage */
    long tokens;    /* SCHED_TOKENS: tokens per stage */
    long min_steps; /* SCHED_PLATEAU bounds */
    long max_steps;
    long patience;
    double min_delta;
} sched_cfg;

typedef struct sched_state {
    long steps;       /* optimizer steps taken in this stage */
    long tokens;      /* training tokens consumed in this stage */
    double best_val;  /* best validation loss of this stage (nats/token) */
    long stale_evals; /* evaluations since the last improvement >= min_delta */
} sched_state;

/* From the [grow] settings.  `stage_scale` multiplies the per-stage budget
 * (the monolithic baseline runs one stage with L times the budget). */
st_status sched_cfg_from_config(const st_config *cfg, long stage_scale, sched_cfg *out);
void sched_stage_start(sched_state *s);
void sched_record_step(sched_state *s, long tokens);
void sched_record_eval(sched_state *s, const sched_cfg *c, double val_loss);
/* The local answer: has the stage ended? */
bool sched_stage_done(const sched_state *s, const sched_cfg *c);
/* The coordinator's answer, broadcast to every rank. */
st_status sched_decide(const sched_state *s, const sched_cfg *c, MPI_Comm comm, bool *done);
/* Upper bound on steps of a stage, for the LR schedule and ETA. */
long sched_planned_steps(const sched_cfg *c, long tokens_per_step);

#endif
