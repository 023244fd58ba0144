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
#include "strata/metrics.h"
#include "strata/outguard.h"
#include "strata/probe.h"
#include "strata/publish.h"
#include "strata/tasks.h"

static const cli_opt opts[] = {
    {"depth", CLI_VALUE, "K", "all blocks", "evaluate depths 1..K"},
    {"dataset", CLI_VALUE, "FILE", "the run's data.dataset", "prepared dataset with the same tokenizer"},
    {"split", CLI_VALUE, "NAME", "val", "val, train or all"},
    {"max-chunks", CLI_VALUE, "N", "0 (all)", "evaluate the first N chunks of the split"},
    {"batch", CLI_VALUE, "N", "train.batch", "chunks per forward pass"},
    {"combine", CLI_VALUE, "MODE", "the ensemble's", "mean-logits, mean-probs or posterior: how an ensemble's members combine"},
    {"output", CLI_VALUE, "FILE.csv", NULL, "also write the table as CSV (atomically)"},
    {"task", CLI_LIST, "FILE.jsonl", NULL, "also score a multiple-choice task at every depth (repeatable)"},
    {"per-position", CLI_VALUE, "FILE.csv", NULL, "also write the mean loss by position in the context (CSV, atomically)"},
    {"force", CLI_FLAG, NULL, NULL, "replace the --output / --per-position file when it exists (never an input)"},
    {NULL, 0, NULL, NULL, NULL},
};

/* The probe and task columns of a depth (names: metrics.h, as in /metrics/depth). */
typedef struct eval_extra {
    probe_induction_row *ind; /* [depth] or NULL (eval.induction_seqs = 0) */
    task_set *tasks;          /* [ntasks] */
    task_row *trows;          /* [ntasks, depth] */
    int ntasks;
} eval_extra;

/* The extra columns: names after the standard ones, then the cells of depth
 * row i (empty: a row the probes do not cover, e.g. a member alone). */
static void extra_header(FILE *f, const eval_extra *x)
{
    char col[256];
    if (x->ind) fprintf(f, ",%s,%s,%s", MET_INDUCTION_GAIN, MET_INDUCTION_FIRST, MET_INDUCTION_SECOND);
    for (int j = 0; j < x->ntasks; j++)
        for (int c = 0; c < MET_TASK_NCOLS; c++) {
            met_task_column(col, sizeof col, x->tasks[j].name, c);
            fprintf(f, ",%s", col);
        }
    fputc('\n', f);
}

static void extra_cells(FILE *f, const eval_extra *x, int i, int n, bool empty)
{
    if (x->ind) {
        if (empty)
            fprintf(f, ",,,");
        else
            fprintf(f, ",%.17g,%.17g,%.17g", x->ind[i].gain, x->ind[i].loss_first, x->ind[i].loss_second);
    }
    for (int j = 0; j < x->ntasks; j++) {
        const task_row *t = &x->trows[(size_t)j * (size_t)n + (size_t)i];
        if (empty)
            fprintf(f, ",,,,");
        else
            fprintf(f, ",%.17g,%.17g,%.17g,%.17g", t->acc, t->acc_se, t->acc_char, t->acc_char_se);
    }
    fputc('\n', f);
}

/* Column names follow /metrics/depth (docs/FORMAT.md, "Column names"): a
 * quantity measured on a split is <split>_<quantity>. */
static char *table_csv(const eval_row *r, int n, const char *split, const eval_extra *x)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "depth,%s_loss,%s_bits_per_char,%s_top1,%s_tokens", split, split, split, split);
    extra_header(f, x);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d,%.17g,%.17g,%.17g,%.17g", r[i].depth, r[i].loss, r[i].bpc, r[i].top1, r[i].tokens);
        extra_cells(f, x, i, n, false);
    }
    fclose(f);
    return buf;
}

/* --per-position: loss [depth, T] over `chunks` chunks. */
static char *position_csv(const double *loss, int depth, int T, double chunks)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "depth,position,loss,tokens\n");
    for (int k = 0; k < depth; k++)
        for (int t = 0; t < T; t++) fprintf(f, "%d,%d,%.17g,%.17g\n", k + 1, t, loss[(size_t)k * T + t], chunks);
    fclose(f);
    return buf;
}

/* Every rank, before the evaluation: an output replaces an existing file
 * only with --force and is never an input (checkpoint, dataset, task). */
static st_status guard_outputs(const cli_args *a, const char *ckpt, const char *data_path)
{
    st_status st = ST_OK;
    const char *const *tasks = NULL;
    int nt = cli_list(a, "task", &tasks);
    const char *inputs[CLI_MAX_LIST + 3] = {ckpt, data_path};
    int ni = 2;
    for (int i = 0; i < nt; i++) inputs[ni++] = tasks[i];
    const char *out = cli_value(a, "output"), *pp = cli_value(a, "per-position");
    if (out) CHECK(out_guard(out, cli_flag(a, "force"), inputs, ni));
    if (pp) {
        if (out) inputs[ni++] = out;
        CHECK(out_guard(pp, cli_flag(a, "force"), inputs, ni));
    }
out:
    return st;
}

/* An ensemble: each member alone (at the depths it has) and the ensemble, at
 * every depth; member_out as eval_depths_mix. */
static char *ensemble_csv(const eval_row *r, const eval_row *mr, const ckpt_model *cm, int n, const char *split,
                          const eval_extra *x)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "member,depth,%s_loss,%s_bits_per_char,%s_top1,%s_tokens", split, split, split, split);
    extra_header(f, x); /* probes and tasks: of the ensemble only */
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cm->n; j++) {
            const eval_row *m = &mr[(size_t)j * n + i];
            if (r[i].depth > cm->mem[j].m.n_blocks) continue; /* beyond its depth: see its last row */
            fprintf(f, "%d,%d,%.17g,%.17g,%.17g,%.17g", j + 1, m->depth, m->loss, m->bpc, m->top1, m->tokens);
            extra_cells(f, x, i, n, true);
        }
        fprintf(f, "ensemble,%d,%.17g,%.17g,%.17g,%.17g", r[i].depth, r[i].loss, r[i].bpc, r[i].top1, r[i].tokens);
        extra_cells(f, x, i, n, false);
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
    double *prior = NULL, *pos_loss = NULL;
    char *csv = NULL;
    eval_extra x = {0};
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
    /* (the dataset, known only from the checkpoint when not given, is
     * checked again below) */
    CHECK(guard_outputs(a, ckpt, cli_value(a, "dataset") ? cli_value(a, "dataset") : ckpt));
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
    if (cli_value(a, "per-position") && !cli_value(a, "dataset")) {
        const char *inputs[1] = {path};
        CHECK(out_guard(cli_value(a, "per-position"), true, inputs, 1));
    }
    /* Tasks are read (and refused, exit 3) before any evaluation. */
    const char *const *task_files = NULL;
    x.ntasks = cli_list(a, "task", &task_files);
    x.tasks = calloc((size_t)x.ntasks + 1, sizeof *x.tasks);
    CHECK_ALLOC(x.tasks);
    for (int j = 0; j < x.ntasks; j++) {
        st = task_load(task_files[j], cm.tok, &x.tasks[j]);
        if (st != ST_OK) {
            x.ntasks = j;
            goto out;
        }
        for (int i = 0; i < j; i++)
            if (strcmp(x.tasks[i].name, x.tasks[j].name) == 0) {
                x.ntasks = j + 1;
                FAIL(ST_EUSAGE, "--task '%s' and '%s' have the same task name '%s' (rename one)", x.tasks[i].path,
                     x.tasks[j].path, x.tasks[j].name);
            }
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
    /* Probes and tasks: the members combined as the table, with the
     * induction settings and context length the (first) member trained with. */
    const st_config *c0 = &cm.mem[0].cfg;
    if (c0->eval.induction_seqs > 0) {
        x.ind = calloc((size_t)depth, sizeof *x.ind);
        CHECK_ALLOC(x.ind);
        CHECK(probe_induction(mem, cm.n, how, prior, cm.tok, c0->eval.induction_seqs,
                              (int)c0->eval.induction_len, 1, (int)depth, (int)batch, MPI_COMM_WORLD, x.ind));
    }
    x.trows = calloc((size_t)x.ntasks * (size_t)depth + 1, sizeof *x.trows);
    CHECK_ALLOC(x.trows);
    for (int j = 0; j < x.ntasks; j++)
        CHECK(task_score(mem, cm.n, how, prior, &x.tasks[j], (int)c0->data.ctx, 1, (int)depth, (int)batch,
                         MPI_COMM_WORLD, x.trows + (size_t)j * (size_t)depth));
    double pos_chunks = 0;
    if (cli_value(a, "per-position")) {
        pos_loss = malloc(sizeof *pos_loss * (size_t)depth * (size_t)d.T);
        CHECK_ALLOC(pos_loss);
        CHECK(probe_position_loss(mem, cm.n, how, prior, &d, 1, (int)depth, (int)batch, MPI_COMM_WORLD,
                                  pos_loss, &pos_chunks));
    }
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
        if (x.ind) {
            printf("induction probe: %ld random sequences of %ld tokens, repeated (nats/token)\n",
                   c0->eval.induction_seqs, c0->eval.induction_len);
            printf("%5s %12s %12s %12s\n", "depth", "first copy", "second copy", "gain");
            for (int k = 0; k < depth; k++)
                printf("%5d %12.6f %12.6f %12.6f\n", x.ind[k].depth, x.ind[k].loss_first, x.ind[k].loss_second,
                       x.ind[k].gain);
        }
        for (int j = 0; j < x.ntasks; j++) {
            printf("task %s: %ld items (%s), accuracy +- standard error\n", x.tasks[j].name, x.tasks[j].n,
                   x.tasks[j].path);
            printf("%5s %18s %18s\n", "depth", "by log-lik", "by log-lik/char");
            for (int k = 0; k < depth; k++) {
                const task_row *t = &x.trows[(size_t)j * (size_t)depth + (size_t)k];
                printf("%5d %9.4f +- %.4f %9.4f +- %.4f\n", t->depth, t->acc, t->acc_se, t->acc_char, t->acc_char_se);
            }
        }
        fflush(stdout);
    }
    if (cli_value(a, "output")) {
        csv = ens ? ensemble_csv(rows, mrows, &cm, (int)depth, split, &x) : table_csv(rows, (int)depth, split, &x);
        CHECK_ALLOC(csv);
        CHECK(publish_write_text(cli_value(a, "output"), csv, MPI_COMM_WORLD));
    }
    if (cli_value(a, "per-position")) {
        free(csv);
        csv = position_csv(pos_loss, (int)depth, d.T, pos_chunks);
        CHECK_ALLOC(csv);
        CHECK(publish_write_text(cli_value(a, "per-position"), csv, MPI_COMM_WORLD));
    }
out:
    dataset_free(&ds);
    free(mem);
    free(ids);
    free(rows);
    free(mrows);
    free(prior);
    free(csv);
    free(pos_loss);
    free(x.ind);
    free(x.trows);
    for (int j = 0; j < x.ntasks; j++) task_free(&x.tasks[j]);
    free(x.tasks);
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
        "Probes at every depth (columns of the table and of --output, as in\n"
        "/metrics/depth): the induction probe (eval.induction_seqs random sequences of\n"
        "eval.induction_len tokens, repeated: the loss on each copy and the gain), each\n"
        "--task (multiple-choice JSONL, lm-eval-harness convention: accuracy by summed\n"
        "log-likelihood and by log-likelihood per character, with standard errors), and\n"
        "with --per-position the mean loss at every position of the context\n"
        "(docs/FORMAT.md \"Evaluation files\").\n"
        "Exit codes: 2 bad option, --depth beyond the model, --output exists (without\n"
        "--force) or is an input; 3 unreadable or mismatched files, a bad task line\n"
        "(the message names the file and the line).",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
