/* help_gen.h -- text generated from the option and settings tables: the man
 * page strata(1) and the bash completion script, which the build writes by
 * running the built binary (src/cli/local.mk), so neither can drift from
 * `--help`; and `--version`. */
#ifndef STRATA_CLI_HELP_GEN_H
#define STRATA_CLI_HELP_GEN_H

#include <stdio.h>

#include "cli.h"

/* The command list and the options every command takes (main.c). */
typedef struct cli_tables {
    const cli_cmd *const *commands;
    int ncommands;
    const cli_opt *common; /* the first n_common_always are taken by every command, the rest with uses_config */
    int ncommon, ncommon_always;
    /* the settings sections a command reads ("data tokenizer"), NULL: all */
    const char *(*sections_of)(const cli_cmd *c);
} cli_tables;

void cli_print_man(FILE *f, const cli_tables *t);
void cli_print_bash_completion(FILE *f, const cli_tables *t);
void cli_print_version(FILE *f);

#endif
