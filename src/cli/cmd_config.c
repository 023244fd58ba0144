/* cmd_config.c -- `strata config`: show the resolved settings. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_config.h"

static const cli_opt opts[] = {
    {"dump", CLI_FLAG, NULL, NULL, "print the resolved configuration as INI text (the default action)"},
    {NULL, 0, NULL, NULL, NULL},
};

static int run(const cli_args *a)
{
    st_config cfg;
    if (a->npos > 0) {
        fprintf(stderr, "strata config: unexpected argument '%s'\n", a->pos[0]);
        return 2;
    }
    st_status st = cli_load_config(a, &cfg);
    if (st != ST_OK) return cli_report(st);
    char *text = cfg_dump(&cfg);
    if (!text) return cli_report(ST_ERROR(ST_ENOMEM, "out of memory"));
    fputs(text, stdout);
    free(text);
    return 0;
}

const cli_cmd cmd_config = {
    .name = "config",
    .summary = "print the resolved configuration (defaults + --config + --set)",
    .usage = "[--dump] [--config FILE] [--set SECTION.KEY=VALUE]...",
    .description = "The output is valid INI: feed it back with --config.  Every checkpoint stores\n"
                   "this text, so a run can be reproduced from it.",
    .opts = opts,
    .run = run,
    .uses_config = true,
};
