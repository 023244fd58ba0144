/* cmd_export.c -- `strata export`: a model as safetensors + JSON that other
 * tools load (docs/FORMAT.md "Export directories"; tools/strata_torch.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_config.h"
#include "cli_num.h"
#include "strata/ckpt_model.h"
#include "strata/export.h"
#include "strata/log.h"

static const cli_opt opts[] = {
    {"format", CLI_VALUE, "FORMAT", "safetensors", "output format (only safetensors)"},
    {"depth", CLI_VALUE, "K", "all blocks", "export blocks 1..K with the head (the logit lens at depth K)"},
    {"member", CLI_VALUE, "I", NULL, "member I (1-based) of an ensemble file (required for ensembles)"},
    {"output", CLI_VALUE, "DIR", NULL, "export directory to write (required)"},
    {"force", CLI_FLAG, NULL, NULL, "replace DIR when it exists and holds only an export"},
    {NULL, 0, NULL, NULL, NULL},
};

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    ckpt_model cm = {0};
    char *ckpt = NULL; /* the checkpoint file (a run directory or LATEST: its newest) */
    const char *outp = cli_value(a, "output"), *fmt = cli_value(a, "format");
    if (!outp || a->npos != 1) {
        fprintf(stderr, "strata export: expected CHECKPOINT and --output DIR (see 'strata export --help')\n");
        return 2;
    }
    if (fmt && strcmp(fmt, "safetensors") != 0) {
        fprintf(stderr, "strata export: --format %s: the only format is safetensors\n", fmt);
        return 2;
    }
    long depth = 0, member = 0;
    CHECK(cli_long(a, "depth", 0, 1, 4096, &depth));
    CHECK(cli_long(a, "member", 0, 1, 1024, &member));
    /* before loading: a wrong output fails at once */
    CHECK(export_guard(outp, cli_flag(a, "force")));
    CHECK(cli_checkpoint_path(a->pos[0], &ckpt, MPI_COMM_WORLD));
    CHECK(ckpt_model_load(&cm, ckpt, MPI_COMM_WORLD));
    if (cm.n > 1 && member == 0)
        FAIL(ST_EUSAGE, "'%s' is an ensemble of %d members (their prediction combines them): "
             "export one with --member 1..%d", ckpt, cm.n, cm.n);
    if (member > cm.n) FAIL(ST_EUSAGE, "--member %ld: '%s' has %d member%s", member, ckpt, cm.n, cm.n == 1 ? "" : "s");
    int mi = member ? (int)member - 1 : 0;
    if (depth == 0) depth = cm.mem[mi].m.n_blocks;
    if (depth > cm.mem[mi].m.n_blocks)
        FAIL(ST_EUSAGE, "--depth %ld: '%s' has %d blocks", depth, ckpt, cm.mem[mi].m.n_blocks);
    CHECK(export_write(&cm, mi, (int)depth, outp, cli_flag(a, "force"), MPI_COMM_WORLD));
    log_info("wrote %s: %ld block%s + head, vocabulary %d, width %d (model.safetensors, config.json, tokenizer.json)",
             outp, depth, depth == 1 ? "" : "s", cm.V, cm.D);
out:
    free(ckpt);
    ckpt_model_free(&cm);
    return cli_report(st);
}

const cli_cmd cmd_export = {
    .name = "export",
    .summary = "write a model as safetensors + JSON for other tools",
    .usage = "[--depth K] [--member I] [--force] --output DIR CHECKPOINT",
    .description =
        "Writes DIR/model.safetensors (float32 tensors: embed.weight [V, D] -- the frozen\n"
        "substrate or the trained table --, blocks.N.<name> for N = 0..K-1, head.norm_g,\n"
        "head.out_w), DIR/config.json (shapes, RMSNorm eps, RoPE layout and theta, GELU,\n"
        "the training settings) and DIR/tokenizer.json (every id's kind and text, the\n"
        "specials, byte fallback, content hash).  docs/FORMAT.md \"Export directories\";\n"
        "tools/strata_torch.py rebuilds the model in PyTorch; 'strata import' reads it back.\n"
        "LoRA adapters of a mid-stage checkpoint are merged first.  An ensemble needs\n"
        "--member (its combined prediction is not one model).  CHECKPOINT may be a run\n"
        "directory or its LATEST (the newest usable checkpoint).\n"
        "DIR appears whole or not at all (written aside, then renamed); an existing DIR\n"
        "is replaced only with --force and only when it holds just an export: exit 2.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
