/* run.h -- the state of a growth run, shared by the training loop
 * (grow.c), evaluation (eval.c) and checkpoints (checkpoint.c).
 *
 * Everything a checkpoint must restore for a bitwise-identical resume is in
 * grow_state (numbers) and the model (tensors: weights, LoRA adapters, AdamW
 * moments); everything else is derived from the config and the input files.
 */
#ifndef STRATA_RUN_H
#define STRATA_RUN_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata/cache.h"
#include "strata/comm.h"
#include "strata/config.h"
#include "strata/error.h"
#include "strata/metrics.h"
#include "strata/model.h"
#include "strata/rng.h"
#include "strata/schedule.h"

struct tokenizer;

/* Token chunks of a prepared dataset (all ranks hold all chunks). */
typedef struct grow_data {
    struct tokenizer *tok;
    long n_chunks;
    int ctx;          /* T: inputs per chunk (chunks hold ctx + 1 ids) */
    int32_t *chunks;  /* [n_chunks, ctx + 1] */
    double *chars;    /* [n_chunks] characters covered by the chunk's targets */
    long *train;      /* [n_train] chunk ids of the training split */
    long n_train;
    long *val;        /* [n_val] chunk ids of the validation split */
    long n_val;
} grow_data;

/* Frozen input table and what identifies it. */
typedef struct grow_substrate {
    float *table;     /* [V, D] (NULL for the trainable kind: the model owns tok_emb) */
    float *init;      /* [V, D] trainable kind: the stored initial table, else NULL */
    int V, D;
    char kind[32];
    char path[1024];
} grow_substrate;

/* The numbers a checkpoint saves (besides tensors). */
typedef struct grow_state {
    long step;        /* optimizer steps over the whole run */
    int stage;        /* stage being trained (progressive: = depth), 1-based */
    bool stage_done;  /* the stage has ended (its stage checkpoint exists) */
    long adam_t;      /* AdamW step counter within the stage */
    long cursor;      /* global data position: chunks consumed so far */
    long tokens;      /* training tokens so far */
    double wall_s;    /* wall-clock seconds of the run so far (all sessions) */
    sched_state sched;
    rng_t rng;        /* parameter-initialisation stream */
    bool lora_active; /* the stage trains LoRA adapters on lower blocks */
} grow_state;

typedef struct grow_run {
    st_config cfg;
    MPI_Comm comm;
    int rank, size;
    char dir[1200];        /* <run.dir>/<run.name> */
    bool monolithic;
    grow_data data;
    grow_substrate sub;
    model m;
    model_ws ws;           /* training/eval workspace, up to train.batch chunks */
    model_ws ws1;          /* one chunk, forward only: frozen prefixes */
    act_cache cache;
    data_order order;
    sched_cfg sched;
    grow_state st;
    double peak_flops;     /* measured sgemm rate of one rank (FLOP/s) */
    double ckpt_seconds;   /* wall time spent writing checkpoints this session */
    long ckpt_count;       /* checkpoints written this session */
    double last_val;       /* latest validation loss (progress line) */
    met_table steps;       /* /metrics/steps (+ a val_loss column) */
    met_table depth;       /* /metrics/depth */
    int steps_val_col;     /* column of val_loss in steps */
    float *xin;            /* [batch, T, D] inputs of the first trained block */
    int32_t *tokbuf;       /* [batch, T + 1] token rows of the local chunks */
} grow_run;

/* First block that trains in the current stage (0-based); blocks below it
 * are frozen and their output can come from the cache. */
int run_first_trained(const grow_run *g);
/* Is the cache usable this stage (frozen substrate and blocks below)? */
bool run_cache_usable(const grow_run *g);

/* x_start [T, D] of one chunk: output of blocks [0, start) (from the cache
 * when allowed, else computed for that chunk alone -- the same arithmetic
 * either way, which keeps cache on and off bitwise equal). */
st_status run_prefix(grow_run *g, long chunk, int start, bool use_cache, float *dst);

/* Per-depth evaluation on the validation split at depth `depth`. */
typedef struct eval_result {
    double loss;      /* nats/token */
    double bpc;       /* bits per character */
    double top1;      /* share of positions whose argmax is the target */
    double tokens;    /* positions evaluated */
    double seconds;
} eval_result;
st_status run_eval(grow_run *g, int depth, eval_result *out);

/* Training FLOPs of one step of the current stage (matmuls + attention of
 * the trained blocks, the head; frozen blocks cost nothing with the cache). */
double run_step_flops(const grow_run *g);

/* Give the model the structure of the current stage (blocks, LoRA
 * adapters, trainable flags).  New tensors are drawn from the init stream;
 * `fresh` applies the stage-start options (grow.reinit_head); a resume then
 * overwrites every value from the checkpoint. */
st_status run_build_stage(grow_run *g, bool fresh);

/* Inputs (data.c): build missing dataset/substrate files, load them. */
st_status grow_inputs_ensure(grow_run *g);
st_status grow_data_load(grow_run *g, const char *path);
st_status grow_substrate_load(grow_run *g, const char *path);
void grow_data_free(grow_data *d);

/* Checkpoints (checkpoint.c).  Written by rank 0; every rank learns the
 * outcome.  `name` is "stage-NNN.h5" or "step-NNNNNNNN.h5". */
st_status run_checkpoint_save(grow_run *g, const char *name);
/* Load the newest complete checkpoint of g->dir if any (*found).  Restores
 * model structure and tensors, optimizer moments, state and metrics. */
st_status run_checkpoint_resume(grow_run *g, bool *found);

#endif
