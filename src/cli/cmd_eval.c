/* cmd_eval.c -- `strata eval`: evaluate a checkpoint (or an ensemble) at every
 * depth on any dataset that uses its tokenizer. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_config.h"
#include "cli_num.h"
#include "strata/ckpt_model.h"
#include "strata/dataset.h"
#include "strata/eval.h"
#include "strata/outguard.h"
#include "strata/publish.h"

static const cli_opt opts[] = {
    {"depth", CLI_VALUE, "K", "all blocks", "evaluate depths 1..K"},
    {"dataset", CLI_VALUE, "FILE", "the run's data.dataset", "prepared dataset with the same tokenizer"},
    {"split", CLI_VALUE, "NAME", "val", "val, train or all"},
    {"max-chunks", CLI_VALUE, "N", "0 (all)", "evaluate the first N chunks of the split"},
    {"batch", CLI_VALUE, "N", "train.batch", "chunks per forward pass"},
    {"combine", CLI_VALUE, "MODE", "the ensemble's", "mean-logits, mean-probs or posterior: how an ensemble's members combine"},
    {"output", CLI_VALUE, "FILE.csv", NULL, "also write the table as CSV (atomically)"},
    {"force", CLI_FLAG, NULL, NULL, "replace the --output file when it exists (never the checkpoint or dataset)"},
    {NULL, 0, NULL, NULL, NULL},
};

/* Column names follow /metrics/depth (docs/FORMAT.md, "Column names"): a
 * quantity measured on a split is <split>_<quantity>. */
static char *table_csv(const eval_row *r, int n, const char *split)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "depth,%s_loss,%s_bits_per_char,%s_top1,%s_tokens\n", split, split, split, split);
    for (int i = 0; i < n; i++)
        fprintf(f, "%d,%.17g,%.17g,%.17g,%.17g\n", r[i].depth, r[i].loss, r[i].bpc, r[i].top1, r[i].tokens);
    fclose(f);
    return buf;
}

/* An ensemble: each member alone (at the depths it has) and the ensemble, at
 * every depth; member_out as eval_depths_mix. */
static char *ensemble_csv(const eval_row *r, const eval_row *mr, const ckpt_model *cm, int n, const char *split)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "member,depth,%s_loss,%s_bits_per_char,%s_top1,%s_tokens\n", split, split, split, split);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cm->n; j++) {
            const eval_row *m = &mr[(size_t)j * n + i];
            if (r[i].depth > cm->mem[j].m.n_blocks) continue; /* beyond its depth: see its last row */
            fprintf(f, "%d,%d,%.17g,%.17g,%.17g,%.17g\n", j + 1, m->depth, m->loss, m->bpc, m->top1, m->tokens);
        }
        fprintf(f, "ensemble,%d,%.17g,%.17g,%.17g,%.17g\n", r[i].depth, r[i].loss, r[i].bpc, r[i].top1, r[i].tokens);
    }
    fclose(f);
    return buf;
}

static void ensemble_print(const eval_row *r, const eval_row *mr, const ckpt_model *cm, int n)
{
    for (int j = 0; j < cm->n; j++)
        printf("  member %d: %s (%d block%s, prior %g)\n", j + 1, cm->mem[j].source, cm->mem[j].m.n_blocks,
               cm->mem[j].m.n_blocks == 1 ? "" : "s", cm->mem[j].prior);
    printf("%5s %-9s %12s %14s %8s\n", "depth", "member", "loss", "bits/char", "top1");
    for (int i = 0; i < n; i++) {
        double best = INFINITY;
        int arg = 0;
        for (int j = 0; j < cm->n; j++) {
            const eval_row *m = &mr[(size_t)j * n + i];
            if (m->bpc < best) {
                best = m->bpc;
                arg = j + 1;
            }
            if (r[i].depth > cm->mem[j].m.n_blocks) continue;
            printf("%5d %-9d %12.6f %14.6f %8.4f\n", r[i].depth, j + 1, m->loss, m->bpc, m->top1);
        }
        printf("%5d %-9s %12.6f %14.6f %8.4f   %+.4f bits/char vs the best member (%d)\n", r[i].depth, "ensemble",
               r[i].loss, r[i].bpc, r[i].top1, r[i].bpc - best, arg);
    }
}

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    ckpt_model cm = {0};
    dataset ds = {0};
    eval_member *mem = NULL;
    long *ids = NULL, n = 0;
    eval_row *rows = NULL, *mrows = NULL;
    double *prior = NULL;
    char *csv = NULL;
    char *ckpt = NULL; /* the checkpoint file (a run directory or LATEST: its newest) */
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (a->npos != 1) {
        fprintf(stderr, "strata eval: expected one CHECKPOINT file (see 'strata eval --help')\n");
        return 2;
    }
    CHECK(cli_checkpoint_path(a->pos[0], &ckpt, MPI_COMM_WORLD));
    const char *split = cli_value(a, "split") ? cli_value(a, "split") : "val";
    if (strcmp(split, "val") != 0 && strcmp(split, "train") != 0 && strcmp(split, "all") != 0)
        FAIL(ST_EUSAGE, "--split '%s' is not one of val, train, all", split);
    ckpt_combine how = CKPT_MEAN_LOGITS;
    if (cli_value(a, "combine") && !ckpt_combine_parse(cli_value(a, "combine"), &how))
        FAIL(ST_EUSAGE, "--combine '%s' is not one of mean-logits, mean-probs, posterior", cli_value(a, "combine"));
    long depth = 0, max_chunks = 0, batch = 0;
    CHECK(cli_long(a, "depth", 0, 1, 4096, &depth));
    CHECK(cli_long(a, "max-chunks", 0, 0, 1L << 40, &max_chunks));
    CHECK(cli_long(a, "batch", 0, 1, 4096, &batch));
    if (cli_value(a, "output")) {
        /* Every rank, before the evaluation: the CSV replaces an existing
         * file only with --force and never the checkpoint (the dataset,
         * known only from the checkpoint when not given, is checked below). */
        const char *inputs[2] = {ckpt, cli_value(a, "dataset")};
        CHECK(out_guard(cli_value(a, "output"), cli_flag(a, "force"), inputs, inputs[1] ? 2 : 1));
    }
    CHECK(ckpt_model_load(&cm, ckpt, MPI_COMM_WORLD));
    CHECK(ckpt_model_depth(&cm, &depth));
    if (!cli_value(a, "combine")) how = cm.combine;
    const bool ens = cm.ensemble || cm.n > 1; /* the expert-vs-ensemble table */
    if (batch == 0) batch = cm.mem[0].cfg.train.batch;

    /* Any context length works (the rotary positions extend). */
    const char *path = cli_value(a, "dataset") ? cli_value(a, "dataset") : cm.mem[0].cfg.data.dataset;
    if (cli_value(a, "output") && !cli_value(a, "dataset")) {
        const char *inputs[1] = {path};
        CHECK(out_guard(cli_value(a, "output"), true, inputs, 1));
    }
    CHECK(dataset_open(&ds, path, MPI_COMM_WORLD));
    char why[2048];
    if (!ckpt_same_tokenizer(cm.tok, ckpt, ds.tok, path, why, sizeof why))
        FAIL(ST_EDATA, "%s", why);
    CHECK(dataset_select(&ds, split, max_chunks, &ids, &n));
    eval_chunks d = {.chunks = ds.chunks, .chars = ds.chars, .ids = ids, .n = n, .T = ds.ctx};
    mem = calloc((size_t)cm.n, sizeof *mem);
    rows = calloc((size_t)depth, sizeof *rows);
    mrows = calloc((size_t)depth * (size_t)cm.n, sizeof *mrows);
    prior = calloc((size_t)cm.n, sizeof *prior);
    CHECK_ALLOC(mem);
    CHECK_ALLOC(rows);
    CHECK_ALLOC(mrows);
    CHECK_ALLOC(prior);
    for (int j = 0; j < cm.n; j++) {
        mem[j].m = &cm.mem[j].m;
        prior[j] = cm.mem[j].prior;
    }
    CHECK(eval_depths_mix(mem, cm.n, how, prior, &d, 1, (int)depth, (int)batch, MPI_COMM_WORLD, rows,
                          ens ? mrows : NULL));
    if (rank == 0) {
        if (ens)
            printf("%s (ensemble of %d member%s, combine = %s): %s split of %s, %ld chunks of %d tokens\n", ckpt,
                   cm.n, cm.n == 1 ? "" : "s", ckpt_combine_name(how), split, path, d.n, d.T);
        else
            printf("%s: %s split of %s, %ld chunks of %d tokens\n", ckpt, split, path, d.n, d.T);
        if (ens) {
            ensemble_print(rows, mrows, &cm, (int)depth);
        } else {
            printf("%5s %12s %14s %8s\n", "depth", "loss", "bits/char", "top1");
            for (int k = 0; k < depth; k++)
                printf("%5d %12.6f %14.6f %8.4f\n", rows[k].depth, rows[k].loss, rows[k].bpc, rows[k].top1);
        }
        fflush(stdout);
    }
    if (cli_value(a, "output")) {
        csv = ens ? ensemble_csv(rows, mrows, &cm, (int)depth, split) : table_csv(rows, (int)depth, split);
        CHECK_ALLOC(csv);
        CHECK(publish_write_text(cli_value(a, "output"), csv, MPI_COMM_WORLD));
    }
out:
    dataset_free(&ds);
    free(mem);
    free(ids);
    free(rows);
    free(mrows);
    free(prior);
    free(csv);
    free(ckpt);
    ckpt_model_free(&cm);
    return cli_report(st);
}

const cli_cmd cmd_eval = {
    .name = "eval",
    .summary = "evaluate a checkpoint at every depth on any dataset",
    .usage = "[options] CHECKPOINT",
    .description =
        "The logit lens: the head applied after each block 1..K gives loss (nats/token),\n"
        "bits per character and top-1 accuracy at every depth.  CHECKPOINT is a growth\n"
        "checkpoint or an ensemble from 'strata merge'.  An ensemble gives the\n"
        "expert-vs-ensemble table: each member alone (at the depths it has) and the\n"
        "ensemble, combined as the file says or as --combine (mean-logits, mean-probs,\n"
        "posterior; docs/MODEL.md \"Ensembles\"), at depths 1..the deepest member's\n"
        "(depth k: each member after min(k, its depth) blocks); its CSV has a first\n"
        "column `member` (1, 2, ... or \"ensemble\").\n"
        "The dataset must use the checkpoint's tokenizer (else exit 3); its chunks may\n"
        "have another context length (rotary positions extend).  On the run's\n"
        "validation split with --max-chunks eval.batches x train.batch the numbers equal\n"
        "/metrics/depth.  Under mpirun every rank evaluates a share of the chunks.\n"
        "Exit codes: 2 bad option, --depth beyond the model, --output exists (without\n"
        "--force) or is the checkpoint or the dataset; 3 unreadable or mismatched files.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
