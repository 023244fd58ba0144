/* grow.h -- the growth job: `strata grow`.
 *
 * Collective over `comm`; rank 0 coordinates (stage ends, evaluation,
 * checkpoints) and also computes.  The run lives in <run.dir>/<run.name>/:
 * stage-NNN.h5 after every stage, step-NNNNNNNN.h5 every ckpt.interval steps
 * (the last ckpt.keep kept) and LATEST naming the newest complete one.  A
 * run directory that already holds a checkpoint is resumed from the newest
 * complete one; a run stopped mid-stage and resumed on the same rank count
 * ends bitwise identical to an uninterrupted run.
 *
 * Progressive schedule, stage k = 1..L: block k is added (random, or a copy
 * of block k-1), blocks < k are frozen, block k + final norm + head train
 * (plus LoRA adapters on blocks < k when grow.lora_from_depth <= k, merged
 * at the stage end).  With frozen lower blocks and a frozen substrate, their
 * output per chunk comes from the activation cache (cache.h).  Monolithic
 * schedule: one stage training all L blocks on L stages' token budget.
 *
 * Data: the global batch (train.batch chunks) is independent of the rank
 * count; rank r computes a contiguous share of it and the gradients are
 * weighted by share and summed.  The data cursor is a global chunk position
 * and batch slot s always draws from shard s of the training chunks
 * (order.h), so a run resumes on any rank count, and a rank reads and
 * caches only the shards of its own slots.
 */
#ifndef STRATA_GROW_H
#define STRATA_GROW_H

#include <mpi.h>

#include <stdbool.h>

#include "strata/config.h"
#include "strata/error.h"

struct h5_file;

/* Run or resume.  Returns ST_EPREEMPT after writing a clean checkpoint when
 * a stop was requested (SIGUSR1/SIGTERM/SIGINT, signals.h), ST_EDIVERGED
 * (exit code 5) when a stage diverged more than train.max_rollbacks times.
 *
 * Divergence guard: after the gradient all-reduce and before the update,
 * every rank checks the loss and the gradient norm (and after the update, the
 * weights); a non-finite value or a loss above train.spike_factor x the
 * stage's running mean restores the last good state of the stage (kept in
 * memory: taken at the stage start, after each periodic checkpoint and after
 * a skipped batch), multiplies the learning rate by train.rollback_lr_factor,
 * and skips the batch that diverged when it comes again.  Rollbacks are
 * counted in /state and in the rollbacks column of /metrics/depth.  No
 * checkpoint is written from a model with a non-finite weight. */
st_status grow_main(const st_config *cfg, MPI_Comm comm);

/* How a run starts, besides its settings (`strata grow` options). */
typedef struct grow_options {
    /* --from: branch a new run from another run's stage checkpoint -- a
     * stage-NNN.h5 file, a run directory or its LATEST (both: the newest
     * stage checkpoint there).  NULL: a new run, or resume the run directory
     * (a branch directory resumes from its checkpoints, or restarts from its
     * PARENT file when it has none).  See docs/HPC.md "Branching". */
    const char *from;
    const char *config_path; /* --config file, named in messages (NULL: none) */
} grow_options;

/* grow_main with options (o may be NULL).  A branch: the new run directory
 * <run.dir>/<run.name> must hold no checkpoint (else ST_EUSAGE); the run
 * starts at stage K+1 after the parent's stage K with the parent's blocks
 * (frozen), head, trainable table (if any), data position, step count and
 * metric tables, and a fresh optimizer (as every stage); settings that fix
 * the model's shape, substrate, tokenizer and context must equal the
 * parent's (else ST_EDATA naming the setting, both values and the files). A
 * mid-stage parent is refused (ST_EUSAGE naming its stage file).  Every
 * checkpoint of the branch records its parent in /parent (docs/FORMAT.md). */
st_status grow_start(const st_config *cfg, const grow_options *o, MPI_Comm comm);

/* Where a branch started: its parent checkpoint, as /parent of every
 * checkpoint of the branch records it (docs/FORMAT.md). */
typedef struct grow_parent {
    bool set;
    char path[CFG_STR_MAX]; /* the parent file, absolute */
    char sha256[65];        /* of the whole parent file ("" until known) */
    int stage;              /* the parent's finished stage */
    long step;              /* its global step */
    char *lineage;          /* "stage<TAB>sha256<TAB>path\n" per ancestor, parent first (malloc'd) */
} grow_parent;

/* Read and check /parent of an open checkpoint into *p (p->set = false when
 * the file has none; a previous *p is freed first).  Inconsistent values ->
 * ST_ECKPT naming the file. */
st_status grow_parent_read(struct h5_file *f, grow_parent *p);
void grow_parent_free(grow_parent *p);

/* Testing hooks, read from the environment: STRATA_TEST_STOP_AT_STEP=N acts
 * as if SIGUSR1 arrived during global step N; STRATA_TEST_DIVERGE_AT_STEP=N
 * makes step N's loss NaN the first time (N:always: every time);
 * STRATA_TEST_WAIT_STOP_AT_STEP=N[,M...] makes the ranks wait after step N
 * until a stop request (signal) arrives, so a test's stop lands there. */

#endif
