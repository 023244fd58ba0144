/* cmd_import.c -- `strata import`: an export directory (strata export, or
 * any tool writing the same format) back into a model file. */
#include <stdio.h>

#include "cli.h"
#include "strata/ckpt_model.h"
#include "strata/export.h"
#include "strata/log.h"
#include "strata/outguard.h"

static const cli_opt opts[] = {
    {"output", CLI_VALUE, "MODEL.h5", NULL, "model file to write (required)"},
    {"force", CLI_FLAG, NULL, NULL, "replace the output file when it exists"},
    {NULL, 0, NULL, NULL, NULL},
};

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    ckpt_model cm = {0};
    const char *outp = cli_value(a, "output");
    if (!outp || a->npos != 1) {
        fprintf(stderr, "strata import: expected DIR and --output MODEL.h5 (see 'strata import --help')\n");
        return 2;
    }
    CHECK(out_guard(outp, cli_flag(a, "force"), a->pos, 1));
    CHECK(export_read(a->pos[0], &cm, MPI_COMM_WORLD));
    CHECK(ckpt_model_save_ensemble(&cm, outp, MPI_COMM_WORLD));
    log_info("wrote %s: %d block%s + head, vocabulary %d, width %d", outp, cm.depth, cm.depth == 1 ? "" : "s", cm.V, cm.D);
out:
    ckpt_model_free(&cm);
    return cli_report(st);
}

const cli_cmd cmd_import = {
    .name = "import",
    .summary = "read an export directory back into a model file",
    .usage = "[--force] --output MODEL.h5 DIR",
    .description =
        "Reads DIR/config.json, DIR/tokenizer.json and DIR/model.safetensors (the format\n"
        "'strata export' writes, docs/FORMAT.md \"Export directories\") and writes a model\n"
        "file -- an ensemble file of one member, which predicts exactly like that model\n"
        "-- that 'strata eval', 'generate', 'merge' and 'inspect' read, and that\n"
        "'strata grow --from MODEL.h5' grows further: its blocks become a finished stage\n"
        "of a new run, frozen bit for bit (docs/HPC.md \"Branching\").  Every defect\n"
        "(header length, JSON, dtype, shape, offsets, file size, an unknown or missing\n"
        "tensor, a tokenizer whose content hash disagrees) is exit 3 naming the file and\n"
        "the tensor or key.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
