/* cli_config.h -- settings of a command from defaults, --config and --set,
 * and the checkpoint a command's argument names. */
#ifndef STRATA_CLI_CONFIG_H
#define STRATA_CLI_CONFIG_H

#include <mpi.h>

#include "cli.h"
#include "strata/config.h"

/* Defaults, then the --config file, then every --set in order; validated. */
st_status cli_load_config(const cli_args *a, st_config *cfg);

/* *path (malloc'd) = the checkpoint `arg` names: a checkpoint file as it is,
 * a run directory or its LATEST file as the newest checkpoint of that run
 * that verifies (ckpt_newest_good: LATEST first, then the newest other
 * good file), named in the log.  A directory without any checkpoint:
 * ST_ECKPT (exit 4) in one line.  Collective over comm. */
st_status cli_checkpoint_path(const char *arg, char **path, MPI_Comm comm);

#endif
