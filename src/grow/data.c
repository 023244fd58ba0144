/* data.c -- the growth job's inputs: the dataset (token chunks + split) and
 * the substrate table, built first when the files do not exist yet. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/corpus.h"
#include "strata/h5.h"
#include "strata/log.h"
#include "strata/pca.h"
#include "strata/run.h"
#include "strata/substrate.h"
#include "strata/tokenizer.h"

void grow_data_free(grow_data *d)
{
    tok_free(d->tok);
    free(d->chunks);
    free(d->chars);
    free(d->train);
    free(d->val);
    memset(d, 0, sizeof *d);
}

st_status grow_data_load(grow_run *g, const char *path)
{
    st_status st = ST_OK;
    grow_data *d = &g->data;
    h5_file f;
    h5_file_zero(&f);
    int rank;
    size_t dims[H5_MAX_RANK], n_tr[H5_MAX_RANK], n_va[H5_MAX_RANK];
    CHECK(h5_open_kind(&f, path, g->comm, H5_KIND_DATASET, ST_EDATA));
    CHECK(tok_load(&f, "tokenizer", &d->tok));
    CHECK(h5_read(&f, "chunks/tokens", H5_DT_I32, &rank, dims, (void **)&d->chunks));
    if (rank != 2 || dims[1] < 2) FAIL(ST_EDATA, "dataset '%s': chunks/tokens is not [n_chunks, ctx+1]", path);
    d->n_chunks = (long)dims[0];
    d->ctx = (int)dims[1] - 1;
    if (d->ctx != g->cfg.data.ctx)
        FAIL(ST_EDATA, "dataset '%s' holds chunks of ctx %d tokens but data.ctx = %ld (prepare it again or set data.ctx = %d)",
             path, d->ctx, g->cfg.data.ctx, d->ctx);
    CHECK(h5_read(&f, "chunks/chars", H5_DT_F64, &rank, dims, (void **)&d->chars));
    CHECK(h5_read(&f, "split/train_index", H5_DT_I64, &rank, n_tr, (void **)&d->train));
    d->n_train = (long)n_tr[0];
    CHECK(h5_read(&f, "split/val_index", H5_DT_I64, &rank, n_va, (void **)&d->val));
    d->n_val = (long)n_va[0];
    for (long i = 0; i < d->n_train; i++)
        if (d->train[i] < 0 || d->train[i] >= d->n_chunks) FAIL(ST_EDATA, "dataset '%s': bad split/train_index", path);
    for (long i = 0; i < d->n_val; i++)
        if (d->val[i] < 0 || d->val[i] >= d->n_chunks) FAIL(ST_EDATA, "dataset '%s': bad split/val_index", path);
    log_info("dataset %s: %ld chunks of %d tokens (%ld train, %ld validation), vocabulary %d", path, d->n_chunks,
             d->ctx, d->n_train, d->n_val, tok_vocab_size(d->tok));
out:
    h5_close(&f);
    return st;
}

st_status grow_substrate_load(grow_run *g, const char *path)
{
    st_status st = ST_OK;
    grow_substrate *s = &g->sub;
    float *emb = NULL;
    long vocab = 0;
    int dim = 0;
    CHECK(substrate_load(path, &emb, &vocab, &dim));
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->kind, sizeof s->kind, "%s", g->cfg.substrate.kind);
    s->V = (int)vocab;
    s->D = dim;
    if (vocab != tok_vocab_size(g->data.tok))
        FAIL(ST_EDATA, "substrate '%s' has %ld rows but the tokenizer of dataset '%s' has %d ids: they do not belong together",
             path, vocab, g->cfg.data.dataset, tok_vocab_size(g->data.tok));
    if (dim != g->cfg.substrate.dim)
        FAIL(ST_EDATA, "substrate '%s' has dimension %d but substrate.dim = %ld", path, dim, g->cfg.substrate.dim);
    /* The trainable kind stores the initial table; the model owns and trains it. */
    if (strcmp(s->kind, "trainable") == 0) {
        s->init = emb;
        emb = NULL;
    } else {
        s->table = emb;
        emb = NULL;
    }
out:
    free(emb);
    return st;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static st_status build_dataset(grow_run *g)
{
    st_status st = ST_OK;
    char **paths = NULL;
    int n = 0;
    char *cfg_text = NULL;
    const st_config *c = &g->cfg;
    if (!c->data.corpus[0])
        FAIL(ST_EUSAGE, "data.dataset '%s' does not exist and data.corpus is empty: nothing to prepare",
             c->data.dataset);
    CHECK(corpus_split_list(c->data.corpus, &paths, &n));
    corpus_options o;
    corpus_options_from_config(c, &o);
    cfg_text = cfg_dump(c);
    CHECK_ALLOC(cfg_text);
    o.config_text = cfg_text;
    log_info("preparing dataset %s from %s", c->data.dataset, c->data.corpus);
    CHECK(corpus_prepare((const char *const *)paths, n, c->data.dataset, &o, g->comm, NULL));
out:
    corpus_free_list(paths, n);
    free(cfg_text);
    return st;
}

static st_status build_substrate(grow_run *g)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    tokenizer *tok = NULL;
    glyph_item *items = NULL;
    long vocab = 0;
    substrate s = {0};
    substrate_opts o;
    const st_config *c = &g->cfg;
    CHECK(substrate_opts_from_config(c, &o));
    CHECK(h5_open_kind(&f, c->data.dataset, g->comm, H5_KIND_DATASET, ST_EDATA));
    CHECK(tok_load(&f, "tokenizer", &tok));
    CHECK(h5_close(&f));
    CHECK(substrate_items_from_tokenizer(tok, &items, &vocab));
    log_info("building %s substrate %s (%ld ids, dim %d)", substrate_kind_name(o.kind), c->substrate.file, vocab,
             o.dim);
    CHECK(substrate_build(&o, items, vocab, g->comm, &s));
    CHECK(substrate_save(&s, c->substrate.file, g->comm));
out:
    h5_close(&f);
    substrate_free(&s);
    free(items);
    tok_free(tok);
    pca_finalize();
    return st;
}

st_status grow_inputs_ensure(grow_run *g)
{
    st_status st = ST_OK;
    st_config *c = &g->cfg;
    /* Empty paths mean "inside the run directory". */
    if (!c->data.dataset[0]) snprintf(c->data.dataset, sizeof c->data.dataset, "%s/dataset.h5", g->dir);
    if (!c->substrate.file[0]) snprintf(c->substrate.file, sizeof c->substrate.file, "%s/substrate.h5", g->dir);
    if (!exists(c->data.dataset)) CHECK(build_dataset(g));
    if (!exists(c->substrate.file)) CHECK(build_substrate(g));
out:
    return st;
}
