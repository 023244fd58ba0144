/* cmd_prepare.c -- `strata prepare`: turn UTF-8 text into a tokenizer and token chunks (HDF5 dataset). */
#include "cli.h"

static const cli_opt opts[] = {
    {NULL, 0, NULL, NULL, NULL},
};

const cli_cmd cmd_prepare = {
    .name = "prepare",
    .summary = "turn UTF-8 text into a tokenizer and token chunks (HDF5 dataset)",
    .usage = "[options] PATH...",
    .opts = opts,
    .run = NULL, /* not built yet */
    .uses_config = true,
};
