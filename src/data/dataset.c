/* dataset.c -- reading a prepared dataset (see dataset.h). */
#define _GNU_SOURCE
#include "strata/dataset.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/agree.h"
#include "strata/h5.h"
#include "strata/log.h"
#include "strata/tokenizer.h"

void dataset_free(dataset *d)
{
    tok_free(d->tok);
    if (d->file) {
        h5_close(d->file);
        free(d->file);
    }
    free(d->chunks);
    free(d->chars);
    free(d->train);
    free(d->val);
    free(d->config);
    memset(d, 0, sizeof *d);
}

/* ids[n] must index chunks [0, n_chunks). */
static st_status check_index(const dataset *d, const long *ids, long n, const char *name)
{
    st_status st = ST_OK;
    for (long i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= d->n_chunks)
            FAIL(ST_EDATA, "dataset '%s': %s[%ld] = %ld is not a chunk id (0..%ld)", d->path, name, i, ids[i],
                 d->n_chunks - 1);
out:
    return st;
}

static st_status check_contents(const dataset *d)
{
    st_status st = ST_OK;
    unsigned char *seen = NULL; /* [n_chunks] 0 none, 1 train, 2 val */
    const int V = tok_vocab_size(d->tok);
    /* Sharded: no tokens here yet; dataset_read_chunks checks each row read. */
    const size_t n = d->chunks ? (size_t)d->n_chunks * (size_t)(d->ctx + 1) : 0;
    for (size_t i = 0; i < n; i++)
        if (d->chunks[i] < 0 || d->chunks[i] >= V)
            FAIL(ST_EDATA, "dataset '%s': chunks/tokens row %zu holds token id %d outside the vocabulary [0, %d)",
                 d->path, i / (size_t)(d->ctx + 1), (int)d->chunks[i], V);
    for (long c = 0; c < d->n_chunks; c++)
        if (!isfinite(d->chars[c]) || d->chars[c] < 0)
            FAIL(ST_EDATA, "dataset '%s': chunks/chars[%ld] = %g is not a character count", d->path, c,
                 d->chars[c]);
    CHECK(check_index(d, d->train, d->n_train, "split/train_index"));
    CHECK(check_index(d, d->val, d->n_val, "split/val_index"));
    /* A chunk is in at most one split, once: validation must stay held out. */
    seen = calloc((size_t)d->n_chunks, 1);
    CHECK_ALLOC(seen);
    for (long i = 0; i < d->n_train; i++) {
        if (seen[d->train[i]]) FAIL(ST_EDATA, "dataset '%s': chunk %ld is listed twice in split/train_index", d->path, d->train[i]);
        seen[d->train[i]] = 1;
    }
    for (long i = 0; i < d->n_val; i++) {
        if (seen[d->val[i]])
            FAIL(ST_EDATA, "dataset '%s': chunk %ld is in split/val_index and %s", d->path, d->val[i],
                 seen[d->val[i]] == 1 ? "split/train_index" : "listed twice");
        seen[d->val[i]] = 2;
    }
out:
    free(seen);
    return st;
}

/* A 1-D dataset of n elements (n = -1: any length up to max, returned in
 * *n); the shape is checked before anything is allocated. */
static st_status read_vector(h5_file *f, const char *name, h5_dtype t, long *n, long max, void **out)
{
    st_status st = ST_OK;
    int rank = 0;
    size_t dims[H5_MAX_RANK];
    const h5_expect want = {.rank = 1, .dims = {*n >= 0 ? (size_t)*n : H5_ANY}, .max_elems = (size_t)max};
    CHECK(h5_read_expect(f, name, t, &want, &rank, dims, out));
    *n = (long)dims[0];
out:
    return st;
}

/* dataset_open (whole) and dataset_open_sharded (!whole): the same file
 * and checks; sharded leaves the token array in the file, kept open. */
static st_status open_dataset(dataset *d, const char *path, MPI_Comm comm, bool whole)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    int rank = 0;
    size_t dims[H5_MAX_RANK];
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    CHECK(h5_open_kind(&f, path, comm, H5_KIND_DATASET, ST_EDATA));
    CHECK(tok_load(&f, "tokenizer", &d->tok));
    const h5_expect tokens = {.rank = 2, .dims = {H5_ANY, H5_ANY}};
    if (whole) {
        CHECK(h5_read_expect(&f, "chunks/tokens", H5_DT_I32, &tokens, &rank, dims, (void **)&d->chunks));
    } else {
        CHECK(h5_shape(&f, "chunks/tokens", &rank, dims));
        if (rank != 2) FAIL(ST_EDATA, "dataset '%s': chunks/tokens is not [n_chunks, ctx+1]", path);
    }
    if (dims[1] < 2 || dims[1] > (1u << 24))
        FAIL(ST_EDATA, "dataset '%s': chunks/tokens is not [n_chunks, ctx+1]", path);
    d->n_chunks = (long)dims[0];
    d->ctx = (int)dims[1] - 1;
    long n = d->n_chunks;
    CHECK(read_vector(&f, "chunks/chars", H5_DT_F64, &n, n, (void **)&d->chars));
    d->n_train = d->n_val = -1;
    CHECK(read_vector(&f, "split/train_index", H5_DT_I64, &d->n_train, n, (void **)&d->train));
    CHECK(read_vector(&f, "split/val_index", H5_DT_I64, &d->n_val, n, (void **)&d->val));
    CHECK(check_contents(d));
    /* The split rule travels with the split, so a run cannot silently use another. */
    snprintf(d->split_rule, sizeof d->split_rule, "random");
    bool has_rule = false;
    CHECK(h5_attr_exists(&f, "split", "rule", &has_rule));
    if (has_rule) {
        char *rule = NULL;
        CHECK(h5_attr_get_str(&f, "split", "rule", &rule));
        bool known = strcmp(rule, "random") == 0 || strcmp(rule, "tail") == 0;
        if (known) snprintf(d->split_rule, sizeof d->split_rule, "%s", rule);
        if (!known) st = ST_ERROR(ST_EDATA, "dataset '%s': split/rule = '%.40s' is not random or tail", path, rule);
        free(rule);
        CHECK(st);
    }
    bool has_config = false;
    CHECK(h5_exists(&f, "config", &has_config));
    if (has_config) CHECK(h5_read_string(&f, "config", &d->config));
    if (!whole) {
        /* Type and width of the token array checked now (a read of no rows),
         * not at the first step. */
        CHECK(h5_read_row_set(&f, "chunks/tokens", H5_DT_I32, (size_t)d->ctx + 1, NULL, 0, NULL));
        d->file = malloc(sizeof *d->file);
        CHECK_ALLOC(d->file);
        *d->file = f;
        h5_file_zero(&f);
    }
    log_info("dataset %s: %ld chunks of %d tokens (%ld train, %ld validation, %s split), vocabulary %d", path,
             d->n_chunks, d->ctx, d->n_train, d->n_val, d->split_rule, tok_vocab_size(d->tok));
out:
    h5_close(&f);
    /* Whatever HDF5 said, an unreadable dataset file is bad input (exit 3). */
    if (st != ST_OK && st != ST_ENOMEM && st != ST_EDATA) {
        st_add_context("reading dataset '%s'", path);
        st = ST_EDATA;
    }
    if (st != ST_OK) {
        char keep[sizeof d->path];
        memcpy(keep, d->path, sizeof keep);
        dataset_free(d);
        memcpy(d->path, keep, sizeof keep);
    }
    return st;
}

st_status dataset_open(dataset *d, const char *path, MPI_Comm comm)
{
    return open_dataset(d, path, comm, true);
}

st_status dataset_open_sharded(dataset *d, const char *path, MPI_Comm comm)
{
    return open_dataset(d, path, comm, false);
}

st_status dataset_read_chunks(dataset *d, const long *ids, long n, int32_t *dst)
{
    st_status st = ST_OK, bad = ST_OK;
    const size_t W = (size_t)d->ctx + 1;
    size_t *rows = NULL;
    if (!d->file) {
        /* whole dataset in memory: a copy (every rank calls alike anyway) */
        for (long i = 0; i < n; i++) memcpy(dst + (size_t)i * W, dataset_chunk(d, ids[i]), sizeof *dst * W);
        goto out;
    }
    rows = malloc(sizeof *rows * (size_t)(n > 0 ? n : 1));
    if (!rows) bad = ST_ERROR(ST_ENOMEM, "out of memory for %ld chunk ids", n);
    for (long i = 0; bad == ST_OK && i < n; i++) {
        if (ids[i] < 0 || ids[i] >= d->n_chunks)
            bad = ST_ERROR(ST_ERR, "dataset '%s': chunk id %ld outside 0..%ld", d->path, ids[i], d->n_chunks - 1);
        else
            rows[i] = (size_t)ids[i];
    }
    CHECK(st_agree(bad, d->file->comm));
    CHECK(h5_read_row_set(d->file, "chunks/tokens", H5_DT_I32, W, rows, (size_t)n, dst));
    /* What dataset_open checks of the whole array, for the rows read. */
    const int V = tok_vocab_size(d->tok);
    for (long i = 0; bad == ST_OK && i < n; i++)
        for (size_t j = 0; j < W; j++)
            if (dst[(size_t)i * W + j] < 0 || dst[(size_t)i * W + j] >= V) {
                bad = ST_ERROR(ST_EDATA, "dataset '%s': chunks/tokens row %ld holds token id %d outside the vocabulary [0, %d)",
                             d->path, ids[i], (int)dst[(size_t)i * W + j], V);
                break;
            }
    CHECK(st_agree(bad, d->file->comm));
out:
    free(rows);
    return st;
}

st_status dataset_select(const dataset *d, const char *split, long max, long **ids, long *n)
{
    st_status st = ST_OK;
    const long *src = NULL;
    long count = 0;
    *ids = NULL;
    *n = 0;
    if (strcmp(split, "train") == 0) {
        src = d->train;
        count = d->n_train;
    } else if (strcmp(split, "val") == 0) {
        src = d->val;
        count = d->n_val;
    } else if (strcmp(split, "all") == 0) {
        count = d->n_chunks;
    } else {
        FAIL(ST_EUSAGE, "split '%s' is not one of train, val, all", split);
    }
    if (max > 0 && count > max) count = max;
    if (count < 1) FAIL(ST_EDATA, "dataset '%s' has no chunks in split '%s'", d->path, split);
    *ids = malloc(sizeof **ids * (size_t)count);
    CHECK_ALLOC(*ids);
    for (long i = 0; i < count; i++) (*ids)[i] = src ? src[i] : i;
    *n = count;
out:
    return st;
}
