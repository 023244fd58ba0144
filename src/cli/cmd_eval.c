/* cmd_eval.c -- `strata eval`: evaluate a checkpoint at any depth on any dataset. */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_eval = {
    .name = "eval",
    .summary = "evaluate a checkpoint at any depth on any dataset",
    .usage = "[options] CHECKPOINT",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = true,
};
