/* main.c -- `strata <command> [options]`: parse, dispatch, exit.
 *
 * The only place in strata that calls exit codes into being: library code
 * returns st_status, commands turn it into an exit code with cli_report(). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "help_gen.h"
#include "strata_build.h"
#include "strata/config.h"
#include "strata/mpilife.h"
#include "strata/log.h"

static const cli_cmd *const commands[] = {
    &cmd_prepare, &cmd_tokenizer, &cmd_substrate, &cmd_grow,    &cmd_eval,
    &cmd_generate, &cmd_merge,    &cmd_metrics,   &cmd_inspect, &cmd_config,  &cmd_report, &cmd_tasks,
    &cmd_export,   &cmd_import,
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

/* Options every command takes; --config/--set only where uses_config. */
static const cli_opt common_opts[] = {
    {"help", CLI_FLAG, NULL, NULL, "show this help and exit"},
    {"log-level", CLI_VALUE, "LEVEL", "info", "error, warn, info or debug"},
    {"log-all-ranks", CLI_FLAG, NULL, NULL, "let every MPI rank print, not only rank 0"},
    {"config", CLI_VALUE, "FILE", NULL, "read settings from an INI file"},
    {"set", CLI_LIST, "SECTION.KEY=VALUE", NULL, "override one setting (repeatable; applied after --config)"},
    {NULL, 0, NULL, NULL, NULL},
};
enum { NCOMMON = 5, COMMON_CONFIG = 3 };

static int count_opts(const cli_opt *o)
{
    int n = 0;
    while (o && o[n].name) n++;
    return n;
}

static const cli_opt *opt_at(const cli_cmd *c, int i)
{
    return i < NCOMMON ? &common_opts[i] : &c->opts[i - NCOMMON];
}

static int opt_index(const cli_cmd *c, const char *name)
{
    int n = NCOMMON + count_opts(c->opts);
    for (int i = 0; i < n; i++) {
        if (i >= COMMON_CONFIG && i < NCOMMON && !c->uses_config) continue;
        if (strcmp(opt_at(c, i)->name, name) == 0) return i;
    }
    return -1;
}

bool cli_flag(const cli_args *a, const char *name)
{
    int i = opt_index(a->cmd, name);
    return i >= 0 && a->flag[i];
}

const char *cli_value(const cli_args *a, const char *name)
{
    int i = opt_index(a->cmd, name);
    return i >= 0 ? a->value[i] : NULL;
}

int cli_list(const cli_args *a, const char *name, const char *const **items)
{
    int i = opt_index(a->cmd, name);
    if (i < 0) {
        *items = NULL;
        return 0;
    }
    *items = a->list[i];
    return a->nlist[i];
}

/* Errors are printed by main() after the ranks have had a chance to agree
 * that they all failed (then rank 0 alone prints). */
static st_status pending = ST_OK;

int cli_report(st_status st)
{
    if (st != ST_OK) pending = st;
    return st_exit_code(st);
}

static void print_pending(void)
{
    /* Preemption is not an error: the run already said what it wrote. */
    if (pending == ST_OK || pending == ST_EPREEMPT) return;
    const char *msg = st_last_error();
    log_error("%s", msg[0] ? msg : st_status_name(pending));
    log_debug("(reported at %s)", st_last_error_where());
}

/* Did every rank fail?  A non-blocking barrier that only failing ranks
 * enter: it completes within the grace period iff all of them are here. */
static bool all_ranks_failed(MPI_Comm agree, double grace_s)
{
    MPI_Request req;
    int done = 0;
    if (MPI_Ibarrier(agree, &req) != MPI_SUCCESS) return false;
    double t0 = MPI_Wtime();
    while (!done && MPI_Wtime() - t0 < grace_s) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done) usleep(2000);
    }
    return done != 0;
}

static void print_opt(FILE *f, const cli_opt *o)
{
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
    fprintf(f, "  %-30s %s", left, o->help);
    if (o->def) fprintf(f, " [default: %s]", o->def);
    fputc('\n', f);
}

static void print_main_help(FILE *f)
{
    fprintf(f,
            "Usage: strata <command> [options]\n"
            "       strata --help | --version | --help-man | --help-completion\n\n"
            "Grow transformer language models one block at a time on a frozen glyph\n"
            "substrate, distributed over MPI (run commands under mpirun for several ranks).\n\n"
            "Commands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s%s\n", commands[i]->name, commands[i]->summary,
                commands[i]->run ? "" : " (not built yet)");
    fprintf(f, "\n'strata <command> --help' lists a command's options with their defaults.\n"
               "--help-man and --help-completion print the man page strata(1) and the bash\n"
               "completion script (the build installs both).\n"
               "Exit codes: 0 done; 2 bad usage or config; 3 bad input data; 4 checkpoint\n"
               "problem; 5 training diverged; 75 preempted after a clean checkpoint; 1 anything else.\n");
}

/* The settings sections a command reads (the others do not change what it
 * does, so its --help leaves them out); commands not listed read them all. */
static const struct {
    const char *cmd, *sections;
} cmd_sections[] = {
    {"prepare", "data tokenizer"},
    {"tokenizer", "data tokenizer"},
    {"substrate", "run data substrate"},
};

static const char *sections_of(const cli_cmd *c)
{
    for (size_t i = 0; i < sizeof cmd_sections / sizeof cmd_sections[0]; i++)
        if (strcmp(cmd_sections[i].cmd, c->name) == 0) return cmd_sections[i].sections;
    return NULL;
}

static void print_cmd_help(FILE *f, const cli_cmd *c)
{
    fprintf(f, "Usage: strata %s %s\n\n%s.\n", c->name, c->usage, c->summary);
    if (!c->run) fprintf(f, "\nThis command is not built yet in strata %s.\n", PACKAGE_VERSION);
    if (c->description) fprintf(f, "\n%s\n", c->description);
    fprintf(f, "\nOptions:\n");
    for (int i = 0; c->opts && c->opts[i].name; i++) print_opt(f, &c->opts[i]);
    for (int i = 0; i < NCOMMON; i++)
        if (i < COMMON_CONFIG || c->uses_config) print_opt(f, &common_opts[i]);
    if (c->uses_config) {
        const char *sections = sections_of(c);
        if (sections)
            fprintf(f, "\nSettings it reads, of the sections %s (INI [section] key, or --set\n"
                       "section.key=value; 'strata grow --help' lists every setting):\n",
                    sections);
        else
            fprintf(f, "\nSettings (INI [section] key, or --set section.key=value):\n");
        cfg_print_help_sections(f, sections);
    }
}

/* Parse argv[2..] of a command.  Returns 0 or an exit code (2) after printing. */
static int parse_args(const cli_cmd *c, int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = c;
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    if (!a->pos) return 1;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            a->pos[a->npos++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (arg[1] != '-') {
            if (strcmp(arg, "-h") == 0) {
                a->flag[0] = true;
                continue;
            }
            fprintf(stderr, "strata %s: unknown option '%s' (see 'strata %s --help')\n", c->name, arg, c->name);
            return 2;
        }
        char name[64];
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        int k = opt_index(c, name);
        if (k < 0) {
            fprintf(stderr, "strata %s: unknown option '--%s' (see 'strata %s --help')\n", c->name, name, c->name);
            return 2;
        }
        const cli_opt *o = opt_at(c, k);
        if (o->kind == CLI_FLAG) {
            if (eq) {
                fprintf(stderr, "strata %s: option '--%s' takes no value\n", c->name, name);
                return 2;
            }
            a->flag[k] = true;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "strata %s: option '--%s' needs a value (%s)\n", c->name, name, o->metavar);
            return 2;
        }
        if (o->kind == CLI_VALUE) {
            a->value[k] = val;
        } else {
            if (a->nlist[k] == CLI_MAX_LIST) {
                fprintf(stderr, "strata %s: too many --%s options (at most %d)\n", c->name, name, CLI_MAX_LIST);
                return 2;
            }
            a->list[k][a->nlist[k]++] = val;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_main_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const cli_tables tables = {commands, NCOMMANDS, common_opts, NCOMMON, COMMON_CONFIG, sections_of};
    if (strcmp(argv[1], "--version") == 0) {
        cli_print_version(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--help-man") == 0) {
        cli_print_man(stdout, &tables);
        return 0;
    }
    if (strcmp(argv[1], "--help-completion") == 0) {
        cli_print_bash_completion(stdout, &tables);
        return 0;
    }
    const cli_cmd *c = NULL;
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) c = commands[i];
    if (!c) {
        fprintf(stderr, "strata: unknown command '%s' (see 'strata --help')\n", argv[1]);
        return 2;
    }
    /* The report program parses its own arguments (and --help). */
    if (c == &cmd_report) return cmd_report_exec(argc, argv);
    cli_args args;
    int rc = parse_args(c, argc - 2, argv + 2, &args);
    if (rc) goto done;
    if (args.flag[0]) {
        print_cmd_help(stdout, c);
        goto done;
    }
    if (!c->run) {
        fprintf(stderr, "strata %s: this command is not built yet in strata %s\n", c->name, PACKAGE_VERSION);
        rc = 2;
        goto done;
    }
    log_level lvl = ST_LOG_INFO;
    const char *lv = cli_value(&args, "log-level");
    if (lv && log_parse_level(lv, &lvl) != ST_OK) {
        fprintf(stderr, "strata %s: --log-level '%s' is not one of error, warn, info, debug\n", c->name, lv);
        rc = 2;
        goto done;
    }
    st_mpi_init(&argc, &argv);
    log_init(MPI_COMM_WORLD, lvl, cli_flag(&args, "log-all-ranks"));
    /* A private communicator for the failure agreement below, so it never
     * matches a collective that other ranks may still be waiting in. */
    MPI_Comm agree;
    MPI_Comm_dup(MPI_COMM_WORLD, &agree);
    rc = c->run(&args);
    int nranks = 1, rank = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc != 0 && rc != 75 && nranks > 1) {
        /* All ranks failed alike (bad config, bad input): rank 0 reports and
         * everyone exits normally.  A rank that failed alone may leave the
         * others waiting in a collective: report and take the job down. */
        if (all_ranks_failed(agree, 5.0)) {
            log_init(MPI_COMM_WORLD, lvl, false);
            if (rank == 0) print_pending();
        } else {
            print_pending();
            MPI_Abort(MPI_COMM_WORLD, rc);
        }
    } else {
        print_pending();
    }
    MPI_Comm_free(&agree);
    st_mpi_finalize();
done:
    free(args.pos);
    return rc;
}
