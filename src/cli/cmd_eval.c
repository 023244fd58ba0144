/* cmd_eval.c -- `strata eval`: evaluate a checkpoint (or an ensemble) at every
 * depth on any dataset that uses its tokenizer. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_num.h"
#include "strata/ckpt_model.h"
#include "strata/ckptdir.h"
#include "strata/h5.h"
#include "strata/outguard.h"
#include "strata/run.h"
#include "strata/tokenizer.h"

/* data.c (the growth job's dataset loader). */
st_status grow_data_load(grow_run *g, const char *path);
void grow_data_free(grow_data *d);

static const cli_opt opts[] = {
    {"depth", CLI_VALUE, "K", "all blocks", "evaluate depths 1..K"},
    {"dataset", CLI_VALUE, "FILE", "the run's data.dataset", "prepared dataset with the same tokenizer"},
    {"split", CLI_VALUE, "NAME", "val", "val, train or all"},
    {"max-chunks", CLI_VALUE, "N", "0 (all)", "evaluate the first N chunks of the split"},
    {"batch", CLI_VALUE, "N", "train.batch", "chunks per forward pass"},
    {"output", CLI_VALUE, "FILE.csv", NULL, "also write the table as CSV (atomically)"},
    {"force", CLI_FLAG, NULL, NULL, "replace the --output file when it exists (never the checkpoint or dataset)"},
    {NULL, 0, NULL, NULL, NULL},
};

/* Tokens per chunk (inputs) of a prepared dataset. */
static st_status dataset_ctx(const char *path, long *ctx)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    int rank = 0;
    size_t dims[H5_MAX_RANK];
    CHECK(h5_open_kind(&f, path, MPI_COMM_WORLD, H5_KIND_DATASET, ST_EDATA));
    CHECK(h5_shape(&f, "chunks/tokens", &rank, dims));
    if (rank != 2 || dims[1] < 2) FAIL(ST_EDATA, "dataset '%s': chunks/tokens is not [n_chunks, ctx+1]", path);
    *ctx = (long)dims[1] - 1;
out:
    h5_close(&f);
    return st;
}

static char *table_csv(const ckpt_eval_row *r, int n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "depth,loss,bits_per_char,top1,tokens\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%d,%.17g,%.17g,%.17g,%.17g\n", r[i].depth, r[i].loss, r[i].bpc, r[i].top1, r[i].tokens);
    fclose(f);
    return buf;
}

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    ckpt_model cm = {0};
    grow_run *g = NULL;
    long *all = NULL;
    ckpt_eval_row *rows = NULL;
    char *csv = NULL;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (a->npos != 1) {
        fprintf(stderr, "strata eval: expected one CHECKPOINT file (see 'strata eval --help')\n");
        return 2;
    }
    const char *split = cli_value(a, "split") ? cli_value(a, "split") : "val";
    if (strcmp(split, "val") != 0 && strcmp(split, "train") != 0 && strcmp(split, "all") != 0)
        FAIL(ST_EUSAGE, "--split '%s' is not one of val, train, all", split);
    long depth = 0, max_chunks = 0, batch = 0;
    CHECK(cli_long(a, "depth", 0, 1, 4096, &depth));
    CHECK(cli_long(a, "max-chunks", 0, 0, 1L << 40, &max_chunks));
    CHECK(cli_long(a, "batch", 0, 1, 4096, &batch));
    if (cli_value(a, "output")) {
        /* Every rank, before the evaluation: the CSV replaces an existing
         * file only with --force and never the checkpoint (the dataset,
         * known only from the checkpoint when not given, is checked below). */
        const char *inputs[2] = {a->pos[0], cli_value(a, "dataset")};
        CHECK(out_guard(cli_value(a, "output"), cli_flag(a, "force"), inputs, inputs[1] ? 2 : 1));
    }
    CHECK(ckpt_model_load(&cm, a->pos[0], MPI_COMM_WORLD));
    CHECK(ckpt_model_depth(&cm, &depth));
    if (batch == 0) batch = cm.mem[0].cfg.train.batch;

    /* The growth job's loader (same checks).  Any context length works (the
     * rotary positions extend), so take the dataset's. */
    g = calloc(1, sizeof *g);
    CHECK_ALLOC(g);
    g->cfg = cm.mem[0].cfg;
    g->comm = MPI_COMM_WORLD;
    const char *ds = cli_value(a, "dataset") ? cli_value(a, "dataset") : g->cfg.data.dataset;
    if (cli_value(a, "output") && !cli_value(a, "dataset")) {
        const char *inputs[1] = {ds};
        CHECK(out_guard(cli_value(a, "output"), true, inputs, 1));
    }
    CHECK(dataset_ctx(ds, &g->cfg.data.ctx));
    CHECK(grow_data_load(g, ds));
    char why[128];
    if (!ckpt_same_tokenizer(cm.tok, g->data.tok, why, sizeof why))
        FAIL(ST_EDATA, "dataset '%s' does not use the tokenizer of '%s' (%s)", ds, a->pos[0], why);

    ckpt_eval_data d = {.chunks = g->data.chunks, .chars = g->data.chars, .T = g->data.ctx};
    if (strcmp(split, "val") == 0) {
        d.ids = g->data.val;
        d.n = g->data.n_val;
    } else if (strcmp(split, "train") == 0) {
        d.ids = g->data.train;
        d.n = g->data.n_train;
    } else {
        all = malloc(sizeof *all * (size_t)(g->data.n_chunks > 0 ? g->data.n_chunks : 1));
        CHECK_ALLOC(all);
        for (long i = 0; i < g->data.n_chunks; i++) all[i] = i;
        d.ids = all;
        d.n = g->data.n_chunks;
    }
    if (max_chunks > 0 && d.n > max_chunks) d.n = max_chunks;
    if (d.n < 1) FAIL(ST_EDATA, "dataset '%s' has no chunks in split '%s'", ds, split);
    rows = calloc((size_t)depth, sizeof *rows);
    CHECK_ALLOC(rows);
    CHECK(ckpt_eval(&cm, &d, (int)depth, (int)batch, MPI_COMM_WORLD, rows));
    if (rank == 0) {
        printf("%s%s: %s split of %s, %ld chunks of %d tokens\n", a->pos[0],
               cm.ensemble ? " (ensemble, mean of member logits)" : "", split, ds, d.n, d.T);
        printf("%5s %12s %14s %8s\n", "depth", "loss", "bits/char", "top1");
        for (int k = 0; k < depth; k++)
            printf("%5d %12.6f %14.6f %8.4f\n", rows[k].depth, rows[k].loss, rows[k].bpc, rows[k].top1);
        fflush(stdout);
    }
    if (cli_value(a, "output")) {
        csv = table_csv(rows, (int)depth);
        CHECK_ALLOC(csv);
        CHECK(atomic_write_text(cli_value(a, "output"), csv, MPI_COMM_WORLD));
    }
out:
    if (g) grow_data_free(&g->data);
    free(g);
    free(all);
    free(rows);
    free(csv);
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
        "checkpoint or an ensemble from 'strata merge' (mean of the members' logits).\n"
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
