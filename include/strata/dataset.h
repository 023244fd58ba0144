/* dataset.h -- a prepared dataset (docs/FORMAT-dataset.md): token chunks,
 * the characters each chunk's targets cover, the train/validation split and
 * the tokenizer that made them.  Read by the growth job and `strata eval`.
 *
 * Every check a stranger's file needs happens in dataset_open, once: shapes
 * agree with each other, split indices point at chunks, every token id is
 * inside the tokenizer's vocabulary, character counts are finite and >= 0.
 * A reader can then index chunks without checking again.
 *
 * Distribution: collective over `comm`; every rank returns the same status.
 * dataset_open gives every rank the whole token array.  dataset_open_sharded
 * reads everything but the token array (chars, splits, tokenizer: a few
 * bytes per chunk) and keeps the file open; each rank then reads only the
 * rows it uses with dataset_read_chunks, so token memory per rank is what
 * the rank trains and evaluates on, not the corpus.
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
struct h5_file;

typedef struct dataset {
    char path[1024];
    struct tokenizer *tok;
    long n_chunks;
    int ctx;          /* T: inputs per chunk (a chunk holds T + 1 ids) */
    int32_t *chunks;  /* [n_chunks, T + 1]; NULL when sharded */
    double *chars;    /* [n_chunks] characters covered by the chunk's targets */
    long *train;      /* [n_train] chunk ids of the training split */
    long n_train;
    long *val;        /* [n_val] chunk ids of the validation split */
    long n_val;
    char *config;     /* the settings `prepare` ran with (INI text), NULL if the file has none */
    char split_rule[16]; /* how val was chosen: "random" or "tail" (split/rule; older files: random) */
    struct h5_file *file; /* sharded: the open file the rows come from */
} dataset;

/* Read and check the dataset at path.  Not a dataset file, inconsistent or
 * out-of-range contents -> ST_EDATA naming the path and the object. */
st_status dataset_open(dataset *d, const char *path, MPI_Comm comm);
void dataset_free(dataset *d);

/* The same file and checks, except that the token array stays in the file
 * (its ids are checked row by row as dataset_read_chunks reads them);
 * d->chunks is NULL, so dataset_chunk may not be used. */
st_status dataset_open_sharded(dataset *d, const char *path, MPI_Comm comm);

/* Rows of chunk ids ids[0..n) (any order, repeats allowed) into dst[n, T + 1].
 * Collective over the comm the dataset was opened on: every rank calls, each
 * with its own ids (n may be 0).  Reads only the file chunks holding those
 * rows (sharded), or copies (whole).  An id out of range -> ST_ERR; a token
 * id outside the vocabulary -> ST_EDATA naming the row.  All ranks return
 * the same status. */
st_status dataset_read_chunks(dataset *d, const long *ids, long n, int32_t *dst);

/* Row of chunk id c: [T + 1] token ids (a dataset opened whole). */
static inline const int32_t *dataset_chunk(const dataset *d, long c)
{
    return d->chunks + (size_t)c * (size_t)(d->ctx + 1);
}

/* Chunk ids of split "train", "val" or "all" (every chunk in file order),
 * at most `max` of them (0: all): *ids malloc'd [*n].  Another name ->
 * ST_EUSAGE; an empty selection -> ST_EDATA naming the path and split. */
st_status dataset_select(const dataset *d, const char *split, long max, long **ids, long *n);

#endif
