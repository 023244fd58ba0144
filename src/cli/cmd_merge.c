/* cmd_merge.c -- `strata merge`: a parameter-free mixture of checkpoints
 * (mean of their logits) written as an ensemble file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_config.h"
#include "strata/ckpt_model.h"
#include "strata/log.h"
#include "strata/outguard.h"

static const cli_opt opts[] = {
    {"output", CLI_VALUE, "ENSEMBLE.h5", NULL, "ensemble file to write (required)"},
    {"force", CLI_FLAG, NULL, NULL, "replace the output file when it exists (never one of the checkpoints)"},
    {NULL, 0, NULL, NULL, NULL},
};

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    ckpt_model ens = {0}, one = {0};
    char *ckpt = NULL; /* a member (a run directory or LATEST: its newest checkpoint) */
    const char *outp = cli_value(a, "output");
    if (!outp || a->npos < 1) {
        fprintf(stderr, "strata merge: expected --output ENSEMBLE.h5 and at least one CHECKPOINT "
                        "(see 'strata merge --help')\n");
        return 2;
    }
    /* Every rank, before loading: a member is never replaced by the ensemble. */
    CHECK(out_guard(outp, cli_flag(a, "force"), a->pos, a->npos));
    for (int i = 0; i < a->npos; i++) {
        free(ckpt);
        ckpt = NULL;
        CHECK(cli_checkpoint_path(a->pos[i], &ckpt, MPI_COMM_WORLD));
        CHECK(ckpt_model_load(&one, ckpt, MPI_COMM_WORLD));
        CHECK(ckpt_model_join(&ens, &one));
    }
    CHECK(ckpt_model_save_ensemble(&ens, outp, MPI_COMM_WORLD));
    log_info("wrote %s: %d member%s, usable depth 1..%d, prediction = mean of the members' logits", outp, ens.n,
             ens.n == 1 ? "" : "s", ens.depth);
out:
    free(ckpt);
    ckpt_model_free(&one);
    ckpt_model_free(&ens);
    return cli_report(st);
}

const cli_cmd cmd_merge = {
    .name = "merge",
    .summary = "combine checkpoints into an ensemble (mean of their logits)",
    .usage = "[--force] --output ENSEMBLE.h5 CHECKPOINT...",
    .description =
        "A parameter-free mixture of experts: the ensemble predicts softmax of the MEAN\n"
        "OF THE MEMBERS' LOGITS (not the mean of their probabilities).  The checkpoints\n"
        "(or ensembles, flattened) must share the tokenizer and the substrate; otherwise\n"
        "exit 3 naming the files and what differs.  Members may differ in depth, width\n"
        "of the MLP and heads; the ensemble's usable depth is the smallest member's.\n"
        "The file copies every member's weights and settings (docs/FORMAT.md \"Ensemble\n"
        "files\"); 'strata eval' and 'strata generate' accept it like a checkpoint.\n"
        "An existing output is replaced only with --force, and never when it is one of\n"
        "the CHECKPOINTs (also through another name or link): exit 2.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
