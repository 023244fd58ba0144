/* cmd_tokenizer.c -- `strata tokenizer learn|show`: tokenizers as artefacts of
 * their own, learned once from several corpora and reused by `prepare
 * --tokenizer` (data.tokenizer), so models built on different corpora share
 * one docking port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_config.h"
#include "cli_num.h"
#include "strata/corpus.h"
#include "strata/outguard.h"
#include "strata/tokenizer.h"

static const cli_opt opts[] = {
    {"output", CLI_VALUE, "FILE", NULL, "learn: tokenizer file to write"},
    {"force", CLI_FLAG, NULL, NULL, "learn: replace the output file when it exists"},
    {"sample-bytes", CLI_VALUE, "N", "0", "learn: use the first N bytes of each input file (0 = all)"},
    {"ngrams", CLI_VALUE, "N", "20", "show: list the first N learned n-grams"},
    {NULL, 0, NULL, NULL, NULL},
};

static st_status learn(const cli_args *a, const st_config *cfg)
{
    st_status st = ST_OK;
    char **list = NULL, *ini = NULL, *sources = NULL;
    int nlist = 0;
    tokenizer *t = NULL;
    long sample = 0;
    const char *output = cli_value(a, "output");
    if (!output || !output[0]) FAIL(ST_EUSAGE, "tokenizer learn: no output file: pass --output FILE");
    CHECK(cli_long(a, "sample-bytes", 0, 0, 1L << 50, &sample));
    const char *const *paths = a->pos + 1;
    int npaths = a->npos - 1;
    if (npaths == 0) {
        /* no corpora given: the data.corpus setting, as prepare does */
        CHECK(corpus_split_list(cfg->data.corpus, &list, &nlist));
        paths = (const char *const *)list;
        npaths = nlist;
    }
    /* every rank, before any work (outguard.h) */
    CHECK(out_guard(output, cli_flag(a, "force"), paths, npaths));
    tok_options o;
    tok_options_from_config(cfg, &o);
    corpus_ingest ing;
    corpus_ingest_from_config(cfg, &ing);
    CHECK(corpus_learn_tokenizer(paths, npaths, (uint64_t)sample, &o, &ing, MPI_COMM_WORLD, &t, &sources));
    ini = cfg_dump(cfg);
    CHECK_ALLOC(ini);
    CHECK(tok_write_file(output, t, ini, sources, MPI_COMM_WORLD));
    char hex[65];
    tok_hash(t, hex);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) printf("%s: tokenizer %s, %d ids\n", output, hex, tok_vocab_size(t));
out:
    tok_free(t);
    corpus_free_list(list, nlist);
    free(ini);
    free(sources);
    return st;
}

static st_status show(const cli_args *a)
{
    st_status st = ST_OK;
    tokenizer *t = NULL;
    long nshow = 0;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (a->npos != 2) FAIL(ST_EUSAGE, "tokenizer show: expected one FILE (see 'strata tokenizer --help')");
    CHECK(cli_long(a, "ngrams", 20, 0, 1L << 30, &nshow));
    CHECK(tok_load_file(a->pos[1], MPI_COMM_WORLD, &t));
    if (rank != 0) goto out;
    int V = tok_vocab_size(t), count[TOK_UNUSED + 1] = {0};
    for (int id = 0; id < V; id++) count[tok_kind_of(t, id)]++;
    char hex[65];
    tok_hash(t, hex);
    printf("%s\n  mode %s, vocabulary %d ids\n  sha256 %s\n", a->pos[1],
           tok_mode_of(t) == TOK_MODE_BMP ? "bmp" : "compact", V, hex);
    printf("  ids: %d special, %d byte, %d char, %d n-gram, %d unused\n", count[TOK_SPECIAL], count[TOK_BYTE],
           count[TOK_CHAR], count[TOK_NGRAM], count[TOK_UNUSED]);
    /* learned n-grams are stored best first, so id order is rank order */
    int shown = 0;
    if (nshow > 0 && count[TOK_NGRAM] > 0)
        printf("  n-grams (first %ld of %d, best first):\n", nshow < count[TOK_NGRAM] ? nshow : count[TOK_NGRAM],
               count[TOK_NGRAM]);
    for (int id = 0; id < V && shown < nshow; id++) {
        if (tok_kind_of(t, id) != TOK_NGRAM) continue;
        printf("    %6d  '%s'  count %llu\n", id, tok_render_text(t, id, NULL),
               (unsigned long long)tok_id_count(t, id));
        shown++;
    }
    fflush(stdout);
out:
    tok_free(t);
    return st;
}

static int run(const cli_args *a)
{
    st_config cfg;
    st_status st = ST_OK;
    const char *sub = a->npos > 0 ? a->pos[0] : "";
    if (strcmp(sub, "learn") == 0) {
        CHECK(cli_load_config(a, &cfg));
        CHECK(learn(a, &cfg));
    } else if (strcmp(sub, "show") == 0) {
        CHECK(show(a));
    } else {
        FAIL(ST_EUSAGE, "tokenizer: expected 'learn' or 'show'%s%s (see 'strata tokenizer --help')",
             sub[0] ? ", not " : "", sub);
    }
out:
    return cli_report(st);
}

const cli_cmd cmd_tokenizer = {
    .name = "tokenizer",
    .summary = "learn a tokenizer file from several corpora, or show one",
    .usage = "learn --output TOK.h5 [options] [CORPUS...] | show [--ngrams N] FILE",
    .description =
        "learn: learn a tokenizer ([tokenizer] settings) from the UTF-8 text files or\n"
        "directories CORPUS (without them, data.corpus), e.g. English + Russian +\n"
        "Chinese, each file cut to its first --sample-bytes, and write it as a tokenizer\n"
        "file (root kind \"tokenizer\": /tokenizer with its sha256, /config, /sources),\n"
        "published atomically.  'strata prepare --tokenizer TOK.h5' (data.tokenizer)\n"
        "then encodes any corpus with it, so models grown on different corpora share\n"
        "the tokenizer and can evaluate or merge across them.\n"
        "show: mode, vocabulary size, content hash (SHA-256 of the definition), the\n"
        "number of ids of each kind and the first learned n-grams of the tokenizer in\n"
        "FILE -- any strata file with a /tokenizer group (tokenizer file, dataset,\n"
        "checkpoint, ensemble).\n\n"
        "Exit codes: 2 bad usage, output exists (without --force) or is an input;\n"
        "3 a corpus is missing, empty or unreadable, or FILE holds no valid tokenizer\n"
        "(also one whose content hash does not match its sha256 attribute); 1 writing\n"
        "failed.",
    .opts = opts,
    .run = run,
    .uses_config = true,
};
