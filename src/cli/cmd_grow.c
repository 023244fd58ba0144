/* cmd_grow.c -- `strata grow`: grow a model block by block (resumes from the newest checkpoint). */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_grow = {
    .name = "grow",
    .summary = "grow a model block by block (resumes from the newest checkpoint)",
    .usage = "[options]",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = true,
};
