/* cmd_generate.c -- `strata generate`: sample text from a checkpoint at a chosen depth. */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_generate = {
    .name = "generate",
    .summary = "sample text from a checkpoint at a chosen depth",
    .usage = "[options] CHECKPOINT",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = true,
};
