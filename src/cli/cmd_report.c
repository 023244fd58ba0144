/* cmd_report.c -- `strata report`: PNG figures and an index.html of runs.
 *
 * The figures are drawn by a small Python program (tools/strata-report.py,
 * installed beside strata as `strata-report`; python3-h5py and
 * python3-matplotlib): `strata report ARGS` executes it with ARGS, so the C
 * binary needs Python neither to build nor to run any other command.  The
 * program is found as $STRATA_REPORT, else `strata-report` in the directory
 * of the running strata binary (the build tree or the install's bindir). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const cli_opt opts[] = {
    {"output", CLI_VALUE, "DIR", NULL, "directory to write: PNG panels, index.html, manifest.json"},
    {"force", CLI_FLAG, NULL, NULL, "replace an existing DIR"},
    {"per-position", CLI_LIST, "FILE.csv", NULL, "per-position loss CSV of 'strata eval --per-position' (repeatable)"},
    {"label", CLI_LIST, "NAME", NULL, "legend name of each input, in order"},
    {NULL, 0, NULL, NULL, NULL},
};

/* Never called: main() hands `strata report ...` to cmd_report_exec before
 * parsing, since the program parses its own arguments. */
static int run(const cli_args *a)
{
    (void)a;
    return 2;
}

int cmd_report_exec(int argc, char **argv)
{
    char path[PATH_MAX];
    const char *env = getenv("STRATA_REPORT");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0 || (size_t)n >= sizeof path - 16) {
            fprintf(stderr, "strata report: cannot find the strata binary's directory (set STRATA_REPORT)\n");
            return 1;
        }
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "strata-report");
    }
    char **args = calloc((size_t)argc, sizeof *args);
    if (!args) {
        fprintf(stderr, "strata report: out of memory\n");
        return 101;
    }
    args[0] = path;
    for (int i = 2; i < argc; i++) args[i - 1] = argv[i];
    execv(path, args);
    fprintf(stderr,
            "strata report: cannot run %s (%s); it is installed with strata and needs /usr/bin/python3 with "
            "python3-h5py and python3-matplotlib\n",
            path, strerror(errno));
    free(args);
    return 1;
}

const cli_cmd cmd_report = {
    .name = "report",
    .summary = "PNG figures and an index.html of runs (Python: h5py, matplotlib)",
    .usage = "RUN_DIR_OR_CHECKPOINT [more...] --output DIR [--force]",
    .description = "Training loss vs tokens coloured by stage, and by depth: validation bits/char, top-1, wall "
                   "time, MFU and every other numeric per-depth column (probes, tasks); per-position loss from "
                   "--per-position files.  Several inputs are overlaid, one series each.  Exit codes: 2 usage "
                   "(an existing DIR without --force), 3 bad metrics.jsonl or CSV, 4 a checkpoint problem, 1 "
                   "anything else.  See docs/REPORT.md.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
