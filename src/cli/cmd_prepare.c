/* cmd_prepare.c -- `strata prepare`: turn UTF-8 text into a tokenizer and token chunks (HDF5 dataset). */
#include <stdlib.h>

#include "cli.h"
#include "cli_config.h"
#include "strata/corpus.h"
#include "strata/outguard.h"

static const cli_opt opts[] = {
    {"output", CLI_VALUE, "FILE", "data.dataset", "dataset file to write"},
    {"tokenizer", CLI_VALUE, "FILE", "data.tokenizer", "encode with the tokenizer of this strata file instead of learning one"},
    {"jsonl-field", CLI_VALUE, "NAME", "data.jsonl_field", "read JSON Lines (also stdin): each line's field NAME is a document"},
    {"force", CLI_FLAG, NULL, NULL, "replace the output file when it exists"},
    {NULL, 0, NULL, NULL, NULL},
};

static int run(const cli_args *a)
{
    st_config cfg;
    char **list = NULL, *ini = NULL;
    const char **inputs = NULL;
    int nlist = 0;
    st_status st = cli_load_config(a, &cfg);
    if (st != ST_OK) goto out;
    /* --tokenizer is data.tokenizer, so /config records what was used */
    if (cli_value(a, "tokenizer")) {
        st = cfg_set_value(&cfg, "data", "tokenizer", cli_value(a, "tokenizer"), "--tokenizer");
        if (st != ST_OK) goto out;
    }
    /* --jsonl-field is data.jsonl_field, likewise */
    if (cli_value(a, "jsonl-field")) {
        st = cfg_set_value(&cfg, "data", "jsonl_field", cli_value(a, "jsonl-field"), "--jsonl-field");
        if (st != ST_OK) goto out;
    }
    const char *output = cli_value(a, "output");
    if (!output) output = cfg.data.dataset;
    if (!output[0]) {
        st = ST_ERROR(ST_EUSAGE, "no output file: pass --output FILE or set data.dataset");
        goto out;
    }
    const char *const *paths = a->pos;
    int npaths = a->npos;
    if (npaths == 0) {
        /* no positional paths: the data.corpus setting */
        st = corpus_split_list(cfg.data.corpus, &list, &nlist);
        if (st != ST_OK) goto out;
        paths = (const char *const *)list;
        npaths = nlist;
    }
    /* Every rank, before any work: an existing output needs --force, and
     * the output may never be one of the corpus files (or inside a corpus
     * directory), not even with --force; nor the tokenizer's file. */
    inputs = calloc((size_t)npaths + 1, sizeof *inputs);
    if (!inputs) {
        st = ST_ERROR(ST_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < npaths; i++) inputs[i] = paths[i];
    int ninputs = npaths;
    if (cfg.data.tokenizer[0]) inputs[ninputs++] = cfg.data.tokenizer;
    st = out_guard(output, cli_flag(a, "force"), inputs, ninputs);
    if (st != ST_OK) goto out;
    corpus_options o;
    corpus_options_from_config(&cfg, &o);
    o.force = cli_flag(a, "force");
    ini = cfg_dump(&cfg);
    o.config_text = ini;
    st = corpus_prepare(paths, npaths, output, &o, MPI_COMM_WORLD, NULL);
out:
    corpus_free_list(list, nlist);
    free(inputs);
    free(ini);
    return cli_report(st);
}

const cli_cmd cmd_prepare = {
    .name = "prepare",
    .summary = "turn UTF-8 text into a tokenizer and token chunks (HDF5 dataset)",
    .usage = "[options] [PATH...]",
    .description =
        "PATHs are UTF-8 text files or directories (read recursively, names sorted),\n"
        "gzip-compressed files (any name), or - for stdin; without PATHs, data.corpus is\n"
        "used.  Each file is one document, followed by <|eos|>; in JSON Lines files\n"
        "(*.jsonl, *.ndjson, also .gz; stdin with --jsonl-field) each line is an object\n"
        "whose field data.jsonl_field (default \"text\") is one document.  Invalid lines\n"
        "(bad JSON or UTF-8, field missing or not a string) are skipped with a warning\n"
        "naming the first few line numbers, never trained on, and counted in /corpus\n"
        "jsonl_invalid_lines.  Decoding one gzip input or stdin beyond\n"
        "data.inflate_limit_mb is exit 3 (decompression-bomb guard).  The tokenizer ([tokenizer] settings) is learned from the files, or\n"
        "with --tokenizer FILE (data.tokenizer) taken from any strata file that holds one\n"
        "(a tokenizer file from 'strata tokenizer learn', a dataset, a checkpoint), so\n"
        "several corpora share one tokenizer; the share of byte-fallback tokens is\n"
        "logged and stored as the attribute /corpus byte_fallback_rate.  The\n"
        "token stream is cut into chunks of data.ctx+1 tokens (consecutive chunks share\n"
        "one token) and split into train/val by data.val_fraction: random chunks by\n"
        "data.split_seed, or (data.split = tail) the last chunks of each input file.\n"
        "Files that are mostly control bytes or invalid UTF-8 are skipped with a warning.\n"
        "Run under mpirun for several ranks; the output does not depend on the count.\n"
        "Schema: docs/FORMAT-dataset.md.\n\n"
        "Exit codes: 2 no input/output given, output exists (without --force), is one\n"
        "of the inputs or inside an input directory (even with --force), or its\n"
        "directory is not writable; 3 a path is missing or unreadable, the corpus is\n"
        "empty or smaller than one chunk, or the --tokenizer file holds no valid\n"
        "tokenizer; 1 writing failed (e.g. disk full).  The output is written\n"
        "under a temporary name and renamed when complete.",
    .opts = opts,
    .run = run,
    .uses_config = true,
};
