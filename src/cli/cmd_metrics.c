/* cmd_metrics.c -- `strata metrics`: export per-step and per-depth tables as CSV or JSON. */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_metrics = {
    .name = "metrics",
    .summary = "export per-step and per-depth tables as CSV or JSON",
    .usage = "[options] CHECKPOINT",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = false,
};
