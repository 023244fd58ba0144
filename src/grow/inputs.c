/* inputs.c -- the growth job's inputs: the dataset (dataset.h) and the
 * substrate table, built first when the files do not exist yet. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "strata/ckptdir.h"
#include "strata/corpus.h"
#include "strata/h5.h"
#include "strata/log.h"
#include "strata/substrate.h"
#include "strata/tokenizer.h"

/* A glyph substrate that exists already was rendered with its own cell and
 * pixel order: those settings cannot apply, so the run takes the file's (and
 * /config records them), with a warning naming each one set otherwise. */
static st_status adopt_substrate_settings(grow_run *g, h5_file *f)
{
    st_status st = ST_OK;
    char *flatten = NULL;
    bool has = false;
    st_config *c = &g->cfg;
    CHECK(h5_attr_exists(f, "substrate", "cell", &has));
    if (!has) goto out; /* a kind without pictures */
    int64_t cell = 0;
    CHECK(h5_attr_get_i64(f, "substrate", "cell", &cell));
    CHECK(h5_attr_get_str(f, "substrate", "flatten", &flatten));
    if (cell != c->substrate.cell) {
        log_warn("substrate '%s' exists, so substrate.cell = %ld cannot apply: the run uses the file's %lld",
                 f->path, c->substrate.cell, (long long)cell);
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)cell);
        CHECK(cfg_set_value(c, "substrate", "cell", v, f->path));
    }
    if (strcmp(flatten, c->substrate.flatten) != 0) {
        log_warn("substrate '%s' exists, so substrate.flatten = %s cannot apply: the run uses the file's %s",
                 f->path, c->substrate.flatten, flatten);
        CHECK(cfg_set_value(c, "substrate", "flatten", flatten, f->path));
    }
out:
    free(flatten);
    return st;
}

/* The table of substrate file `path`, checked against the dataset and the
 * settings. */
static st_status substrate_load_checked(grow_run *g, const char *path)
{
    st_status st = ST_OK;
    grow_substrate *s = &g->sub;
    float *emb = NULL;
    char *file_kind = NULL;
    h5_file f;
    h5_file_zero(&f);
    long vocab = 0;
    int dim = 0;
    CHECK(substrate_load(path, &emb, &vocab, &dim));
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->kind, sizeof s->kind, "%s", g->cfg.substrate.kind);
    s->V = (int)vocab;
    s->D = dim;
    if (vocab != tok_vocab_size(g->data.tok))
        FAIL(ST_EDATA, "substrate '%s' has %ld rows but the tokenizer of dataset '%s' has %d ids: they do not belong together "
             "(set substrate.file to a new file and grow builds it from this dataset, or rebuild it with "
             "'strata substrate --dataset %s --output %s --force')",
             path, vocab, g->cfg.data.dataset, tok_vocab_size(g->data.tok), g->cfg.data.dataset, path);
    if (dim != g->cfg.substrate.dim)
        FAIL(ST_EDATA, "substrate '%s' has dimension %d but substrate.dim = %ld (set substrate.dim = %d, or set "
             "substrate.file to a new file and grow builds one of dimension %ld)",
             path, dim, g->cfg.substrate.dim, dim, g->cfg.substrate.dim);
    /* The file says what it holds; a run labelled otherwise would mislabel
     * its ablation. */
    CHECK(h5_open_kind(&f, path, g->comm, H5_KIND_SUBSTRATE, ST_EDATA));
    CHECK(h5_attr_get_str(&f, "substrate", "substrate_kind", &file_kind));
    if (strcmp(file_kind, s->kind) != 0)
        FAIL(ST_EDATA, "substrate '%s' holds a %s substrate but substrate.kind = %s (build one with 'strata substrate "
             "--set substrate.kind=%s', or set substrate.kind = %s)",
             path, file_kind, s->kind, s->kind, file_kind);
    CHECK(adopt_substrate_settings(g, &f));
    const substrate_kind_info *k = substrate_kind_find(s->kind);
    if (!k) FAIL(ST_EUSAGE, "substrate.kind '%s' is not a known kind", s->kind);
    s->trainable = k->trainable;
    /* A trainable kind stores the initial table; the model owns and trains it. */
    if (s->trainable) {
        s->init = emb;
        emb = NULL;
    } else {
        s->table = emb;
        emb = NULL;
    }
out:
    h5_close(&f);
    free(file_kind);
    free(emb);
    return st;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* The directory an input file the run builds goes into (and its parents),
 * as a user who names checkpoints/x/dataset.h5 expects. */
static st_status make_parent(const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *dir = strdup(path);
    CHECK_ALLOC(dir);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        CHECK(ckpt_dir_make(dir, comm));
    }
out:
    free(dir);
    return st;
}

/* Settings that only `prepare` uses: once the dataset exists they cannot
 * apply, so the run takes the dataset's values (and /config records what was
 * used) and says which of its own were set otherwise. */
static const char *const prepare_keys[][2] = {
    {"data", "val_fraction"},  {"data", "split_seed"},   {"data", "split"},   {"data", "tokenizer"},    {"tokenizer", "mode"},    {"tokenizer", "vocab_size"},
    {"tokenizer", "min_count"}, {"tokenizer", "ngram_max"}, {"tokenizer", "ngrams"},
};

static st_status adopt_dataset_settings(grow_run *g)
{
    st_status st = ST_OK;
    st_config *ds = NULL;
    /* The split rule the file records wins (a file without /config too). */
    if (strcmp(g->data.split_rule, g->cfg.data.split) != 0) {
        log_warn("dataset '%s' exists with a %s split, so data.split = %s cannot apply: the run uses the dataset's "
                 "(prepare a new dataset to change it)",
                 g->data.path, g->data.split_rule, g->cfg.data.split);
        CHECK(cfg_set_value(&g->cfg, "data", "split", g->data.split_rule, g->data.path));
    }
    if (!g->data.config) goto out; /* an older file: nothing to compare with */
    ds = malloc(sizeof *ds);
    CHECK_ALLOC(ds);
    cfg_defaults(ds);
    CHECK(cfg_load_string(ds, g->data.config, g->data.path));
    char ignored[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof prepare_keys / sizeof prepare_keys[0]; i++) {
        const cfg_key *k = cfg_find(prepare_keys[i][0], prepare_keys[i][1]);
        char mine[128], theirs[128];
        cfg_format_value(&g->cfg, k, mine, sizeof mine);
        cfg_format_value(ds, k, theirs, sizeof theirs);
        if (strcmp(mine, theirs) == 0) continue;
        used += (size_t)snprintf(ignored + used, used < sizeof ignored ? sizeof ignored - used : 0, "%s%s.%s = %s (dataset: %s)",
                                 used ? ", " : "", k->section, k->name, mine, theirs);
        CHECK(cfg_set_value(&g->cfg, k->section, k->name, theirs, g->data.path));
    }
    if (ignored[0])
        log_warn("dataset '%s' exists, so these settings cannot apply and the run uses the dataset's: %s "
                 "(prepare a new dataset to change them)",
                 g->data.path, ignored);
out:
    free(ds);
    return st;
}

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
    glyph_item *items = NULL;
    long vocab = 0;
    substrate s = {0};
    substrate_opts o;
    const st_config *c = &g->cfg;
    CHECK(substrate_opts_from_config(c, &o));
    CHECK(substrate_items_from_tokenizer(g->data.tok, &items, &vocab));
    log_info("building %s substrate %s (%ld ids, dim %d)", substrate_kind_name(o.kind), c->substrate.file, vocab,
             o.dim);
    CHECK(substrate_build(&o, items, vocab, g->comm, &s));
    CHECK(substrate_save(&s, c->substrate.file, g->comm));
out:
    substrate_free(&s);
    free(items);
    return st;
}

/* Does path start with the HDF5 signature (a dataset file, not text)? */
static bool is_hdf5(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == sizeof head && memcmp(head, sig, sizeof sig) == 0;
}

/* data.test: a dataset with the run's tokenizer, or text files encoded with
 * it into <run dir>/test.h5 (again at every start: the text may change). */
static st_status test_ensure(grow_run *g)
{
    st_status st = ST_OK;
    char **paths = NULL;
    int n = 0;
    const st_config *c = &g->cfg;
    char out[sizeof g->dir + 16];
    const char *path = c->data.test;
    if (!path[0]) goto out;
    int hdf5 = g->rank == 0 && is_hdf5(path);
    CHECK_MPI(MPI_Bcast(&hdf5, 1, MPI_INT, 0, g->comm));
    if (!hdf5) {
        snprintf(out, sizeof out, "%s/test.h5", g->dir);
        CHECK(corpus_split_list(path, &paths, &n));
        if (n < 1) FAIL(ST_EUSAGE, "data.test = '%s' names no file", path);
        corpus_options o;
        corpus_options_from_config(c, &o);
        o.val_fraction = 0;
        o.split_tail = false;
        o.tokenizer_path = c->data.dataset; /* the run's tokenizer */
        o.force = true;
        log_info("encoding test set %s into %s with the tokenizer of %s", path, out, c->data.dataset);
        CHECK(corpus_prepare((const char *const *)paths, n, out, &o, g->comm, NULL));
        path = out;
    }
    CHECK(dataset_open(&g->test, path, g->comm));
    char ha[65], hb[65];
    tok_hash(g->data.tok, ha);
    tok_hash(g->test.tok, hb);
    if (strcmp(ha, hb) != 0)
        FAIL(ST_EDATA,
             "test set '%s' (data.test) has another tokenizer than dataset '%s': sha256 %.16s... and %.16s...; "
             "prepare it with 'strata prepare --tokenizer %s', or give data.test as text",
             path, c->data.dataset, hb, ha, c->data.dataset);
    if (g->test.ctx != g->data.ctx)
        FAIL(ST_EDATA, "test set '%s' (data.test) holds chunks of ctx %d but dataset '%s' of ctx %d", path,
             g->test.ctx, c->data.dataset, g->data.ctx);
    CHECK(dataset_select(&g->test, "all", 0, &g->test_ids, &g->n_test));
out:
    corpus_free_list(paths, n);
    return st;
}

st_status grow_inputs_ensure(grow_run *g)
{
    st_status st = ST_OK;
    st_config *c = &g->cfg;
    /* Empty paths mean "inside the run directory". */
    if (!c->data.dataset[0] &&
        (size_t)snprintf(c->data.dataset, sizeof c->data.dataset, "%s/dataset.h5", g->dir) >= sizeof c->data.dataset)
        FAIL(ST_EUSAGE, "run directory '%s' is too long for data.dataset inside it: set data.dataset", g->dir);
    if (!c->substrate.file[0] &&
        (size_t)snprintf(c->substrate.file, sizeof c->substrate.file, "%s/substrate.h5", g->dir) >=
            sizeof c->substrate.file)
        FAIL(ST_EUSAGE, "run directory '%s' is too long for substrate.file inside it: set substrate.file", g->dir);
    if (!exists(c->data.dataset)) {
        CHECK(make_parent(c->data.dataset, g->comm));
        CHECK(build_dataset(g));
    }
    /* Sharded: each rank reads only the token rows it trains and evaluates on. */
    CHECK(dataset_open_sharded(&g->data, c->data.dataset, g->comm));
    CHECK(adopt_dataset_settings(g));
    if (g->data.ctx != c->data.ctx)
        FAIL(ST_EDATA, "dataset '%s' holds chunks of ctx %d tokens but data.ctx = %ld (prepare it again or set data.ctx = %d)",
             c->data.dataset, g->data.ctx, c->data.ctx, g->data.ctx);
    if (!exists(c->substrate.file)) {
        CHECK(make_parent(c->substrate.file, g->comm));
        CHECK(build_substrate(g));
    }
    CHECK(substrate_load_checked(g, c->substrate.file));
    CHECK(test_ensure(g));
out:
    return st;
}
