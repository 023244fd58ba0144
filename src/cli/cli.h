/* cli.h -- the command-line layer: one struct per command, one option table
 * per command that drives parsing and --help.  Only this layer decides to
 * exit; everything below returns st_status. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "strata/error.h"

typedef enum cli_opt_kind {
    CLI_FLAG,   /* --name            sets a bool */
    CLI_VALUE,  /* --name VALUE      sets a string (last wins) */
    CLI_LIST,   /* --name VALUE ...  repeatable, collects strings */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;    /* long name without dashes */
    cli_opt_kind kind;
    const char *metavar; /* e.g. "FILE" */
    const char *def;     /* default shown in --help, or NULL */
    const char *help;
} cli_opt;

#define CLI_MAX_OPTS 24
#define CLI_MAX_LIST 64

/* Parsed arguments of one command. */
typedef struct cli_args {
    const struct cli_cmd *cmd;
    bool flag[CLI_MAX_OPTS];
    const char *value[CLI_MAX_OPTS];
    const char *list[CLI_MAX_OPTS][CLI_MAX_LIST];
    int nlist[CLI_MAX_OPTS];
    const char **pos; /* positional arguments */
    int npos;
} cli_args;

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *usage;       /* after "strata NAME " */
    const char *description; /* paragraph for --help, or NULL */
    const cli_opt *opts;     /* command-specific options, NULL-name terminated */
    int (*run)(const cli_args *args); /* returns an exit code; NULL: not built yet */
    bool uses_config;        /* accepts --config/--set */
} cli_cmd;

/* Lookups for command implementations. */
bool cli_flag(const cli_args *a, const char *name);
const char *cli_value(const cli_args *a, const char *name); /* NULL when absent */
int cli_list(const cli_args *a, const char *name, const char *const **items);

/* Print an error from the last st_fail and return its exit code. */
int cli_report(st_status st);

/* Commands (one file each). */
extern const cli_cmd cmd_prepare, cmd_tokenizer, cmd_substrate, cmd_grow, cmd_eval, cmd_generate, cmd_merge,
    cmd_metrics, cmd_inspect, cmd_config, cmd_report, cmd_tasks,
    cmd_export, cmd_import;
/* `strata report ARGS`: execute the strata-report program with ARGS (cmd_report.c). */
int cmd_report_exec(int argc, char **argv);

#endif
