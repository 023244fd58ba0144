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
 * (comm.h data_order), so a run resumes on any rank count.
 */
#ifndef STRATA_GROW_H
#define STRATA_GROW_H

#include <mpi.h>

#include "strata/config.h"
#include "strata/error.h"

/* Run or resume.  Returns ST_EPREEMPT after writing a clean checkpoint when
 * a stop was requested (SIGUSR1/SIGTERM/SIGINT, signals.h). */
st_status grow_main(const st_config *cfg, MPI_Comm comm);

/* Testing hook, read from the environment: STRATA_TEST_STOP_AT_STEP=N acts
 * as if SIGUSR1 arrived during global step N. */

#endif
