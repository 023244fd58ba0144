/* cmd_tasks.c -- `strata tasks cloze`: build a multiple-choice task file
 * (tasks.h, docs/FORMAT.md "Task files") from a prepared dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_num.h"
#include "strata/dataset.h"
#include "strata/outguard.h"
#include "strata/publish.h"
#include "strata/tasks.h"

static const cli_opt opts[] = {
    {"dataset", CLI_VALUE, "FILE", NULL, "cloze: prepared dataset whose validation split gives the sentences"},
    {"output", CLI_VALUE, "FILE.jsonl", NULL, "cloze: task file to write (atomically)"},
    {"force", CLI_FLAG, NULL, NULL, "replace the output file when it exists (never the dataset)"},
    {"n", CLI_VALUE, "N", "500", "cloze: at most N items"},
    {"seed", CLI_VALUE, "S", "1", "cloze: seed of the choice of sentences, distractors and answer positions"},
    {NULL, 0, NULL, NULL, NULL},
};

static st_status cloze(const cli_args *a)
{
    st_status st = ST_OK;
    dataset ds = {0};
    char *jsonl = NULL;
    long n = 0, seed = 0, items = 0;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const char *path = cli_value(a, "dataset"), *output = cli_value(a, "output");
    if (a->npos != 1) FAIL(ST_EUSAGE, "tasks cloze: unexpected argument '%s'", a->pos[1]);
    if (!path || !path[0]) FAIL(ST_EUSAGE, "tasks cloze: no dataset: pass --dataset FILE");
    if (!output || !output[0]) FAIL(ST_EUSAGE, "tasks cloze: no output file: pass --output FILE.jsonl");
    CHECK(cli_long(a, "n", 500, 1, 10000000, &n));
    CHECK(cli_long(a, "seed", 1, 0, 9007199254740992L, &seed));
    const char *inputs[1] = {path};
    CHECK(out_guard(output, cli_flag(a, "force"), inputs, 1)); /* every rank, before any work */
    CHECK(dataset_open(&ds, path, MPI_COMM_WORLD));
    /* every rank builds the same text; publish writes it once */
    CHECK(task_cloze_build(&ds, n, (uint64_t)seed, &jsonl, &items));
    CHECK(publish_write_text(output, jsonl, MPI_COMM_WORLD));
    if (rank == 0) {
        printf("%s: %ld cloze items from the validation split of %s (seed %ld)\n", output, items, path, seed);
        fflush(stdout);
    }
out:
    dataset_free(&ds);
    free(jsonl);
    return st;
}

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    const char *sub = a->npos > 0 ? a->pos[0] : "";
    if (strcmp(sub, "cloze") == 0)
        CHECK(cloze(a));
    else
        FAIL(ST_EUSAGE, "tasks: expected 'cloze'%s%s (see 'strata tasks --help')", sub[0] ? ", not " : "", sub);
out:
    return cli_report(st);
}

const cli_cmd cmd_tasks = {
    .name = "tasks",
    .summary = "build multiple-choice task files (cloze) for 'strata eval --task'",
    .usage = "cloze --dataset D.h5 --output T.jsonl [--n N] [--seed S] [--force]",
    .description =
        "cloze: a LAMBADA-style task from the validation split of a prepared dataset:\n"
        "sentences of at least 6 words ending in . ! or ?; the context is the sentence\n"
        "up to its last word, the answer that word, and 3 distractors are words of the\n"
        "validation text with the nearest frequency ranks.  Which sentences, which\n"
        "distractors and where the answer sits follow from --seed alone: the same\n"
        "dataset and seed give the same file.  One JSON object per line (docs/FORMAT.md\n"
        "\"Task files\"), published atomically.\n\n"
        "Exit codes: 2 bad usage, output exists (without --force) or is the dataset;\n"
        "3 the dataset is unreadable or its validation split has no usable sentence;\n"
        "1 writing failed.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
