/* cmd_grow.c -- `strata grow`: the growth job (see include/strata/grow.h). */
#include "cli.h"
#include "cli_config.h"
#include "strata/grow.h"

static const cli_opt opts[] = {
    {"from", CLI_VALUE, "CHECKPOINT", NULL,
     "branch: start a new run (run.dir/run.name) from a stage checkpoint, run directory or LATEST of another run, "
     "or a one-model file (strata import)"},
    {NULL, 0, NULL, NULL, NULL},
};

static int run(const cli_args *a)
{
    st_config cfg;
    if (a->npos > 0) {
        fprintf(stderr, "strata grow: unexpected argument '%s' (settings go in --config/--set)\n", a->pos[0]);
        return 2;
    }
    const char *const *sets;
    if (!cli_value(a, "config") && cli_list(a, "set", &sets) == 0) {
        /* Without settings grow would start (or resume) the default run
         * "demo" in ./checkpoints: never do that by accident. */
        fprintf(stderr, "strata grow: no settings given: use --config FILE [--set SECTION.KEY=VALUE]...\n"
                        "  e.g. strata grow --config jobs/configs/smoke.ini (see 'strata grow --help', README \"Running\")\n");
        return 2;
    }
    st_status st = cli_load_config(a, &cfg);
    grow_options o = {.from = cli_value(a, "from"), .config_path = cli_value(a, "config")};
    if (st == ST_OK) st = grow_start(&cfg, &o, MPI_COMM_WORLD);
    return cli_report(st);
}

const cli_cmd cmd_grow = {
    .name = "grow",
    .summary = "grow a model block by block (resumes from the newest checkpoint)",
    .usage = "[--from CHECKPOINT] [--config FILE] [--set SECTION.KEY=VALUE]...",
    .description =
        "Trains block 1 with the head, freezes it, stacks block 2, and so on up to\n"
        "model.n_layers (grow.schedule = monolithic trains all blocks end to end instead).\n"
        "Checkpoints go to <run.dir>/<run.name>/: stage-NNN.h5 after every stage,\n"
        "step-NNNNNNNN.h5 every ckpt.interval steps, LATEST naming the newest.  Running\n"
        "grow again on the same run directory resumes from the newest complete checkpoint.\n"
        "If data.dataset or substrate.file does not exist it is built first (from\n"
        "data.corpus).  SIGUSR1/SIGTERM: finish the step, checkpoint, exit 75.\n"
        "Raise model.n_layers to grow a finished run deeper.  --from P branches: a new\n"
        "run directory starts after the stage of checkpoint P (frozen blocks, head and data\n"
        "position from P; other growth settings allowed; model shape, substrate, tokenizer\n"
        "and data.ctx must match P, else exit 3).  The new directory must hold no\n"
        "checkpoint (exit 2); later starts resume it with plain 'strata grow --config'.\n"
        "P may also be a model file of one member ('strata import' or a 'strata merge' of\n"
        "one checkpoint): its blocks and head become finished stage n = its block count\n"
        "(several members: exit 2; a damaged file: exit 4).\n"
        "Run under mpirun for several ranks: mpirun -np 4 strata grow --config run.ini",
    .opts = opts,
    .run = run,
    .uses_config = true,
};
