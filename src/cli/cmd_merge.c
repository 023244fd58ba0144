/* cmd_merge.c -- `strata merge`: average the logits of checkpoints that share tokenizer and substrate. */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_merge = {
    .name = "merge",
    .summary = "average the logits of checkpoints that share tokenizer and substrate",
    .usage = "[options] CHECKPOINT...",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = false,
};
