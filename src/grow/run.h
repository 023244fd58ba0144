/* run.h -- the state of a growth run, private to src/grow: the training
 * loop (grow.c), its inputs (inputs.c), its checkpoints (checkpoint.c,
 * state.c, tensors.c, parent.c; load.c loads one), and branches (branch.c).
 *
 * Everything a checkpoint must restore for a bitwise-identical resume is in
 * grow_state (numbers, described by one table in state.c) and the model
 * (tensors: weights, LoRA adapters, AdamW moments); everything else is
 * derived from the config and the input files.
 *
 * Adding a checkpoint field: a member of grow_state plus one row of the
 * table in state.c (name, type, offset); newer readers of older files see
 * it as missing (LATER gives its default), older readers ignore it -> if
 * ignoring it changes what a resume does (order_slots did), bump the
 * checkpoint row of the version table in src/io/h5_kind.c and
 * docs/FORMAT.md "Root attributes", so older readers refuse the file.
 */
#ifndef STRATA_GROW_RUN_H
#define STRATA_GROW_RUN_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "strata/cache.h"
#include "strata/config.h"
#include "strata/dataset.h"
#include "strata/error.h"
#include "strata/eval.h"
#include "strata/grow.h"
#include "strata/h5.h"
#include "strata/metrics.h"
#include "strata/model.h"
#include "strata/order.h"
#include "strata/rng.h"
#include "strata/schedule.h"
#include "strata/tasks.h"

/* Input table and what identifies it. */
typedef struct grow_substrate {
    bool trainable;   /* the kind trains its table (substrate.h kinds table) */
    float *table;     /* [V, D] frozen table, NULL for a trainable kind (the model owns tok_emb) */
    float *init;      /* [V, D] trainable kind: the stored initial table, else NULL */
    int V, D;
    char kind[32];
    char path[1024];
} grow_substrate;

/* The numbers a checkpoint saves (besides tensors): one table in state.c. */
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
    int n_blocks;     /* blocks of the model when saved */
    int nranks;       /* ranks of the job that saved it */
    /* divergence guard (grow.c) */
    double lr_scale;      /* multiplies the stage's learning rate; 1 until a rollback */
    long rollbacks;       /* rollbacks over the whole run */
    long stage_rollbacks; /* rollbacks in this stage (limit: train.max_rollbacks) */
    long skip_cursor;     /* data position of a batch that diverged: skipped when reached (-1: none) */
    double loss_mean;     /* running mean of this stage's accepted train losses */
    long loss_n;          /* steps in loss_mean */
    /* the stage so far, over every session that worked on it */
    double stage_wall_s;   /* wall-clock seconds */
    double stage_loss_sum; /* sum of the accepted train losses (mean: / loss_n) */
    double stage_flops;    /* training FLOPs computed (summed over ranks; NaN: a file from before it was kept) */
    long order_slots;      /* batch slots of the data order (order.h): train.batch; 1 in files from before shards */
} grow_state;

/* The last good state of the stage, in memory, for the divergence guard:
 * trainable weights and AdamW moments in the gradient layout, the numbers,
 * and how many rows /metrics/steps had. */
typedef struct grow_snapshot {
    size_t n;           /* floats in w (model.n_train) */
    size_t nm;          /* floats in m, v (model.n_moments: the rank's shard under train.zero) */
    float *w;           /* [n] */
    float *m, *v;       /* [nm] */
    grow_state st;
    size_t steps_rows;
    bool valid;
} grow_snapshot;


typedef struct grow_run {
    st_config cfg;
    MPI_Comm comm;
    int rank, size;
    char dir[2 * CFG_STR_MAX]; /* <run.dir>/<run.name> */
    bool monolithic;
    dataset data;
    dataset test;          /* data.test: the test set (test.n_chunks == 0: none) */
    long *test_ids;        /* [n_test] every chunk of the test set */
    long n_test;
    grow_substrate sub;
    model m;
    model_ws ws;           /* training/eval workspace, up to train.batch chunks */
    model_ws ws1;          /* one chunk, forward only: frozen prefixes */
    act_cache cache;       /* this rank's chunks (run_data_setup) */
    int cache_depth;       /* depth every cache entry was brought to (run_cache_advance), -1: none */
    data_order order;      /* set up after the resume: its slots come from the state */
    sched_cfg sched;
    grow_state st;
    grow_snapshot good;    /* divergence guard: where a rollback returns to */
    float *rs_scratch;     /* [rs_scratch_n] the other ranks' gradient segments of a step's reduce-scatter */
    size_t rs_scratch_n;
    double peak_flops;     /* this rank's measured sgemm rate (FLOP/s, blas_sgemm_peak) */
    double peak_total;     /* sum of peak_flops over the ranks: the MFU denominator */
    double *peak_ranks;    /* [size] every rank's peak_flops (stored in checkpoints) */
    char blas_core[64];    /* OpenBLAS core the peak was measured with */
    double step_flops;     /* FLOPs of the last training step, summed over ranks */
    double ckpt_seconds;   /* wall time spent writing checkpoints this session */
    long ckpt_count;       /* checkpoints written this session */
    double last_val;       /* latest validation loss (progress line) */
    met_table steps;       /* /metrics/steps (+ a val_loss column) */
    met_table depth;       /* /metrics/depth */
    int steps_val_col;     /* column of val_loss in steps */
    FILE *live;            /* metrics.jsonl on rank 0 (live.c), else NULL */
    task_set *tasks;       /* [ntasks] eval.tasks, scored at every stage end */
    int ntasks;
    float *xin;            /* [batch, T, D] inputs of the first trained block */
    int32_t *tokbuf;       /* [batch, T + 1] token rows of the local chunks */
    grow_parent parent;    /* a branch's parent (parent.set), else zero */
    const char *config_path; /* --config file for messages, or NULL */
    /* Prefetch window: the local rows of pf_steps consecutive steps from
     * data position pf_cursor, read in one collective read (a per-step read
     * would decompress and checksum a whole HDF5 chunk per row). */
    long *batch_ids;       /* [pf_cap] chunk ids of the local shares, step after step */
    int32_t *pf_tok;       /* [pf_cap, T + 1] their token rows */
    long pf_cap;           /* rows the window holds */
    long pf_cursor;        /* data position of the window's first step, -1: empty */
    long pf_steps;         /* steps in the window */
    long n_evalrows;       /* validation chunks evaluated: min(n_val, eval.batches x batch) */
    int32_t *evaltok;      /* [n_evalrows, T + 1] their tokens, read at the first evaluation */
    double *evalchars;     /* [n_evalrows] their character counts */
    long *evalids;         /* [n_evalrows] 0..n-1: rows of evaltok (the chunk id is data.val[i]) */
} grow_run;

/* ---- load.c: a stage's structure, and a checkpoint loaded into it ------ */

/* Give the model the structure of the current stage (blocks, LoRA
 * adapters, trainable flags).  New tensors are drawn from the init stream;
 * `fresh` applies the stage-start options (grow.reinit_head); a resume then
 * overwrites every value from the checkpoint. */
st_status run_build_stage(grow_run *g, bool fresh);
/* The current stage's trainable flags, then its gradients and moments (the
 * whole moments, or under train.zero only this rank's segments). */
st_status run_set_trainable(grow_run *g);
/* This rank's segment of each of the n trained arenas (comm_segment). */
void run_segments(grow_run *g, param_arena *const *arenas, int n, size_t *first, size_t *count);

/* Load checkpoint f (path) into g: state, structure, tensors, metric
 * tables, and /parent when present (collective; ST_EUSAGE when it holds
 * more blocks than model.n_layers). */
st_status run_load(grow_run *g, h5_file *f, const char *path);

/* ---- branch.c: a run started from another run's stage checkpoint -------- */

/* Before the inputs are set up (collective).  With `from` (--from): the run
 * directory must hold no checkpoint (ST_EUSAGE), `from` is resolved to a
 * stage file (a run directory or its LATEST: the newest stage-NNN.h5 there)
 * or stays a file given (a checkpoint, or a one-member ensemble)
 * and g->parent is set.  Without: a run directory that holds no checkpoint
 * but a PARENT file is a branch that wrote none yet: g->parent comes from
 * PARENT (with the hash the parent must still have). */
st_status branch_plan(grow_run *g, const char *from);
/* After setup, when no checkpoint of the run itself was resumed: check the
 * parent against the run's settings and inputs, load it, write PARENT.  A
 * one-member ensemble parent is a finished stage n_blocks at step 0; an
 * ensemble of several members is ST_EUSAGE, a damaged parent ST_ECKPT. */
st_status branch_start(grow_run *g);

/* ---- parent.c: /parent of a checkpoint --------------------------------- */

/* Write /parent when p->set (nothing otherwise); grow_parent_read and
 * grow_parent_free (grow.h) read it back and free it. */
st_status grow_parent_write(h5_file *f, const grow_parent *p);

/* ---- inputs.c ---------------------------------------------------------- */

/* Build the dataset and substrate files when missing (empty names: inside
 * the run directory), then open both into g->data and g->sub. */
st_status grow_inputs_ensure(grow_run *g);

/* ---- state.c: the run-state table -------------------------------------- */

/* Write s as attributes of group `obj` (which must exist), or read every
 * field back (a missing or mistyped field -> ST_ECKPT naming it). */
st_status grow_state_write(h5_file *f, const char *obj, const grow_state *s);
st_status grow_state_read(h5_file *f, const char *obj, grow_state *s);

/* ---- tensors.c: the model's tensors in a checkpoint --------------------- */

/* Every arena of g->m under /model (rank 0 writes); reading takes the AdamW
 * moments under /optim too when `moments` (a stage in progress).  /optim
 * always holds the whole moments of every trained arena, whatever the rank
 * count and train.zero: grow_moments_write gathers them, reading gives
 * each rank its slice (param_owned), so a checkpoint resumes on any rank
 * count with zero on or off.  Reading needs the structure built. */
st_status grow_tensors_write(h5_file *f, grow_run *g);
st_status grow_tensors_read(h5_file *f, grow_run *g, bool moments);
/* Add /optim to the closed checkpoint file `path` that rank 0 wrote
 * (collective): under train.zero each arena's moments are gathered to rank
 * 0 one arena at a time; rank 0 reopens the file and writes them.  Every
 * rank returns rank 0's outcome. */
st_status grow_moments_write(grow_run *g, const char *path);

/* ---- live.c: metrics.jsonl ---------------------------------------------- */

/* A value not to write (it was not measured). */
#define LIVE_MISSING (-1.0e300)
/* Drop lines of steps after g->st.step, then append (collective). */
st_status live_open(grow_run *g);
/* The same after a rollback changed g->st.step (collective). */
st_status live_rewind(grow_run *g);
void live_close(grow_run *g);
/* One record on rank 0: type, then (const char *name, double value) pairs,
 * ending with NULL. */
void live_write(grow_run *g, const char *type, ...);
/* Peak resident memory of this process (MiB). */
double live_rss_mb(void);

/* ---- checkpoint.c: checkpoint files ------------------------------------ */

/* Write <dir>/<name> ("stage-NNN.h5" or "step-NNNNNNNN.h5") atomically,
 * then LATEST, then prune old step files.  Rank 0 writes; every rank learns
 * the outcome. */
st_status grow_checkpoint_save(grow_run *g, const char *name);
/* Open the newest complete checkpoint of g->dir not named in skip[n_skip]
 * on every rank (*path NULL and f closed when there is none) after checking
 * that its settings may resume under g->cfg (else ST_EUSAGE) and its
 * substrate is g's.  *path malloc'd.  Collective. */
st_status grow_checkpoint_open(grow_run *g, const char *const *skip, int n_skip, h5_file *f, char **path);

#endif
