/* dataset.h -- a prepared dataset (docs/FORMAT-dataset.md): token chunks,
 * the characters each chunk's targets cover, the train/validation split and
 * the tokenizer that made them.  Read by the growth job and `strata eval`.
 *
 * Every check a stranger's file needs happens in dataset_open, once: shapes
 * agree with each other, split indices point at chunks, every token id is
 * inside the tokenizer's vocabulary, character counts are finite and >= 0.
 * A reader can then index chunks without checking again.
 *
 * Distribution: collective over `comm`; every rank holds the whole dataset
 * (sharded reading is the next step, see issue "Scale out").  Every rank
 * returns the same status.
 *
 * Ownership: dataset owns everything it points to; dataset_free releases it
 * (safe on a zeroed or failed struct).
 */
#ifndef STRATA_DATASET_H
#define STRATA_DATASET_H

#include <mpi.h>
#include <stdint.h>

#include "strata/error.h"

struct tokenizer;

typedef struct dataset {
    char path[1024];
    struct tokenizer *tok;
    long n_chunks;
    int ctx;          /* T: inputs per chunk (a chunk holds T + 1 ids) */
    int32_t *chunks;  /* [n_chunks, T + 1] */
    double *chars;    /* [n_chunks] characters covered by the chunk's targets */
    long *train;      /* [n_train] chunk ids of the training split */
    long n_train;
    long *val;        /* [n_val] chunk ids of the validation split */
    long n_val;
    char *config;     /* the settings `prepare` ran with (INI text), NULL if the file has none */
    char split_rule[16]; /* how val was chosen: "random" or "tail" (split/rule; older files: random) */
} dataset;

/* Read and check the dataset at path.  Not a dataset file, inconsistent or
 * out-of-range contents -> ST_EDATA naming the path and the object. */
st_status dataset_open(dataset *d, const char *path, MPI_Comm comm);
void dataset_free(dataset *d);

/* Row of chunk id c: [T + 1] token ids. */
static inline const int32_t *dataset_chunk(const dataset *d, long c)
{
    return d->chunks + (size_t)c * (size_t)(d->ctx + 1);
}

/* Chunk ids of split "train", "val" or "all" (every chunk in file order),
 * at most `max` of them (0: all): *ids malloc'd [*n].  Another name ->
 * ST_EUSAGE; an empty selection -> ST_EDATA naming the path and split. */
st_status dataset_select(const dataset *d, const char *split, long max, long **ids, long *n);

#endif
