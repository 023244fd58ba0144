/* cmd_inspect.c -- `strata inspect`: summarise any strata HDF5 file. */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_inspect = {
    .name = "inspect",
    .summary = "summarise any strata HDF5 file",
    .usage = "[options] FILE",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = false,
};
