/* cmd_merge.c -- `strata merge`: a parameter-free mixture of checkpoints
 * (mean of logits, mean of probabilities or the context posterior) written
 * as an ensemble file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "strata/ckpt_model.h"
#include "strata/log.h"
#include "strata/outguard.h"

static const cli_opt opts[] = {
    {"output", CLI_VALUE, "ENSEMBLE.h5", NULL, "ensemble file to write (required)"},
    {"combine", CLI_VALUE, "MODE", "mean-logits", "mean-logits, mean-probs or posterior (docs/MODEL.md \"Ensembles\")"},
    {"prior", CLI_VALUE, "W1,W2,...", "uniform", "prior weight of each member (numbers > 0, one per member)"},
    {"force", CLI_FLAG, NULL, NULL, "replace the output file when it exists (never one of the checkpoints)"},
    {NULL, 0, NULL, NULL, NULL},
};

/* --prior "w1,w2,...": one finite number > 0 per member, into the members. */
static st_status set_priors(ckpt_model *ens, const char *list)
{
    st_status st = ST_OK;
    const char *p = list;
    int k = 0;
    for (;;) {
        char *end = NULL;
        errno = 0;
        double w = strtod(p, &end);
        if (errno || end == p || (*end != ',' && *end != '\0'))
            FAIL(ST_EUSAGE, "--prior '%s': weight %d is not a number", list, k + 1);
        if (!(w > 0 && w <= 1e300)) FAIL(ST_EUSAGE, "--prior '%s': weight %d (%g) is not a finite number > 0", list, k + 1, w);
        if (k < ens->n) ens->mem[k].prior = w;
        k++;
        if (*end == '\0') break;
        p = end + 1;
    }
    if (k != ens->n) FAIL(ST_EUSAGE, "--prior '%s' has %d weight%s for %d members", list, k, k == 1 ? "" : "s", ens->n);
out:
    return st;
}

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    ckpt_model ens = {0}, one = {0};
    const char *outp = cli_value(a, "output");
    if (!outp || a->npos < 1) {
        fprintf(stderr, "strata merge: expected --output ENSEMBLE.h5 and at least one CHECKPOINT "
                        "(see 'strata merge --help')\n");
        return 2;
    }
    ckpt_combine how = CKPT_MEAN_LOGITS;
    if (cli_value(a, "combine") && !ckpt_combine_parse(cli_value(a, "combine"), &how))
        FAIL(ST_EUSAGE, "--combine '%s' is not one of mean-logits, mean-probs, posterior", cli_value(a, "combine"));
    /* Every rank, before loading: a member is never replaced by the ensemble. */
    CHECK(out_guard(outp, cli_flag(a, "force"), a->pos, a->npos));
    for (int i = 0; i < a->npos; i++) {
        CHECK(ckpt_model_load(&one, a->pos[i], MPI_COMM_WORLD));
        CHECK(ckpt_model_join(&ens, &one));
    }
    if (cli_value(a, "prior")) CHECK(set_priors(&ens, cli_value(a, "prior")));
    ens.combine = how;
    CHECK(ckpt_model_save_ensemble(&ens, outp, MPI_COMM_WORLD));
    log_info("wrote %s: %d member%s, usable depth 1..%d, combine = %s", outp, ens.n, ens.n == 1 ? "" : "s",
             ens.depth, ckpt_combine_name(how));
out:
    ckpt_model_free(&one);
    ckpt_model_free(&ens);
    return cli_report(st);
}

const cli_cmd cmd_merge = {
    .name = "merge",
    .summary = "combine checkpoints into an ensemble (mean of logits, of probabilities, or posterior)",
    .usage = "[--combine MODE] [--prior W1,W2,...] [--force] --output ENSEMBLE.h5 CHECKPOINT...",
    .description =
        "A parameter-free mixture of experts (docs/MODEL.md \"Ensembles\"), pi = prior:\n"
        "  mean-logits  softmax(sum_j pi_j z_j): the papers' mixture (the default)\n"
        "  mean-probs   sum_j pi_j softmax(z_j)\n"
        "  posterior    sum_j w_j(t) softmax(z_j), w_j(t) ~ pi_j times the probability\n"
        "               member j gave to the preceding tokens of the context window\n"
        "               (Bayesian model averaging: the member that explains the text wins)\n"
        "'strata eval --combine' evaluates another mode without merging again.  The\n"
        "priors default to the members' own (1 for a checkpoint).  The checkpoints\n"
        "(or ensembles, flattened) must share the tokenizer and the substrate; otherwise\n"
        "exit 3 naming the files and what differs.  Members may differ in depth, width\n"
        "of the MLP and heads; depth k uses each member's first min(k, its depth) blocks,\n"
        "up to the deepest member's depth.\n"
        "The file copies every member's weights and settings (docs/FORMAT.md \"Ensemble\n"
        "files\"); 'strata eval' and 'strata generate' accept it like a checkpoint.\n"
        "An existing output is replaced only with --force, and never when it is one of\n"
        "the CHECKPOINTs (also through another name or link): exit 2.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
