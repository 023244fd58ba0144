/* cmd_substrate.c -- `strata substrate`: build the frozen input embedding table (HDF5 substrate). */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_substrate = {
    .name = "substrate",
    .summary = "build the frozen input embedding table (HDF5 substrate)",
    .usage = "[options]",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = true,
};
