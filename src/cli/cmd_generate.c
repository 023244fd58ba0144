/* cmd_generate.c -- `strata generate`: sample text from a checkpoint or an
 * ensemble with KV-cache decoding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_config.h"
#include "cli_num.h"
#include "strata/ckpt_model.h"
#include "strata/generate.h"

static const cli_opt opts[] = {
    {"depth", CLI_VALUE, "K", "all blocks", "use blocks 1..K (the head after block K)"},
    {"prompt", CLI_VALUE, "TEXT", "\"\" (start of text)", "UTF-8 text to continue"},
    {"tokens", CLI_VALUE, "N", "200", "tokens to generate"},
    {"temperature", CLI_VALUE, "T", "1.0", "softmax temperature; 0 = greedy (argmax)"},
    {"top-k", CLI_VALUE, "K", "0 (all)", "sample among the K most likely tokens"},
    {"seed", CLI_VALUE, "S", "1", "sampling seed: the same seed gives the same text"},
    {NULL, 0, NULL, NULL, NULL},
};

static int run(const cli_args *a)
{
    st_status st = ST_OK;
    ckpt_model cm = {0};
    char *text = NULL;
    char *ckpt = NULL; /* the checkpoint file (a run directory or LATEST: its newest) */
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (a->npos != 1) {
        fprintf(stderr, "strata generate: expected one CHECKPOINT file (see 'strata generate --help')\n");
        return 2;
    }
    long depth = 0, tokens = 0, top_k = 0, seed = 0;
    double temp = 0;
    CHECK(cli_long(a, "depth", 0, 1, 4096, &depth));
    CHECK(cli_long(a, "tokens", 200, 0, 1L << 20, &tokens));
    CHECK(cli_long(a, "top-k", 0, 0, 1L << 30, &top_k));
    CHECK(cli_long(a, "seed", 1, 0, __LONG_MAX__, &seed));
    CHECK(cli_double(a, "temperature", 1.0, 0.0, 1e6, &temp));
    CHECK(cli_checkpoint_path(a->pos[0], &ckpt, MPI_COMM_WORLD));
    CHECK(ckpt_model_load(&cm, ckpt, MPI_COMM_WORLD));
    CHECK(ckpt_model_depth(&cm, &depth));
    gen_opts o = {.depth = (int)depth, .tokens = (int)tokens, .temperature = (float)temp,
                       .top_k = (int)top_k, .seed = (uint64_t)seed};
    const char *prompt = cli_value(a, "prompt") ? cli_value(a, "prompt") : "";
    CHECK(gen_text(&cm, prompt, &o, &text));
    if (rank == 0) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
out:
    free(text);
    free(ckpt);
    ckpt_model_free(&cm);
    return cli_report(st);
}

const cli_cmd cmd_generate = {
    .name = "generate",
    .summary = "sample text from a checkpoint or an ensemble",
    .usage = "[options] CHECKPOINT",
    .description =
        "Encodes --prompt, feeds it through blocks 1..K with a KV cache, then samples\n"
        "--tokens tokens one at a time (temperature, top-k; greedy at temperature 0)\n"
        "and prints prompt + continuation as UTF-8 on stdout.  Deterministic: the same\n"
        "seed gives the same text.  An ensemble samples from the mean of its members'\n"
        "logits.  Special ids (padding, end of text) are never sampled.\n"
        "Exit codes: 2 bad option or --depth beyond the model, 3 unreadable file.",
    .opts = opts,
    .run = run,
    .uses_config = false,
};
