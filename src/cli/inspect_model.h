/* inspect_model.h -- `strata inspect` on a checkpoint or an ensemble: the
 * model's shape, its parameter counts per block and of the head, the
 * substrate table and (ensembles) the members. */
#ifndef STRATA_CLI_INSPECT_MODEL_H
#define STRATA_CLI_INSPECT_MODEL_H

#include <mpi.h>
#include <stdio.h>

#include "strata/error.h"

/* Load `path` (ckpt_model_load, collective over comm) and print to out
 * (NULL on ranks that do not print). */
st_status inspect_model(const char *path, FILE *out, MPI_Comm comm);

#endif
