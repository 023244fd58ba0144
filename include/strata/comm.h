/* comm.h -- MPI roles, gradient all-reduce, agreement, shares of work.
 *
 * Rank 0 of the communicator is the coordinator: it decides (stage ends,
 * evaluation, checkpoints) and broadcasts; every rank computes.  The global
 * batch is fixed by the config and independent of the rank count: each
 * rank takes a contiguous share of the batch positions, weighs its gradient
 * by its share, and the sum over ranks (the deterministic reduce-scatter
 * below, per trained arena) yields the mean gradient of the whole batch.  (The order in which chunks are visited is data/order.h.)
 */
#ifndef STRATA_COMM_H
#define STRATA_COMM_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

/* Sum `n` floats over all ranks, in place. */
st_status comm_allreduce_sum(float *buf, size_t n, MPI_Comm comm);
/* Most floats one comm_iallreduce_sum() takes (MPI counts are int). */
#define COMM_IPIECE ((size_t)1 << 30)
/* Non-blocking variant (overlap with backward); finish with comm_wait(). */
st_status comm_iallreduce_sum(float *buf, size_t n, MPI_Comm comm, MPI_Request *req);
st_status comm_wait(MPI_Request *req);
/* Let pending non-blocking operations advance (Open MPI moves them on only
 * inside MPI calls); completed requests become MPI_REQUEST_NULL. */
st_status comm_progress(MPI_Request *reqs, int n);
/* ---- deterministic segmented reduction (sharded optimizer) -----------
 * A float buffer [n] is cut into one contiguous segment per rank by
 * comm_share(n, ...).  The reduce-scatter leaves on rank r the sum over all
 * ranks of segment r, added in rank order (((x_0 + x_1) + x_2) + ...), so
 * every element's sum is the same whichever path asks for it: the unsharded
 * optimizer all-gathers the reduced segments, the sharded one updates its
 * segment and all-gathers the weights, and both are bitwise equal.  (MPI
 * reductions choose their own order per call and size.)  Point-to-point
 * under COMM_TAG_RS; every rank must start the operations on a communicator
 * in the same order.  n may not exceed INT_MAX (MPI counts are int). */
#define COMM_TAG_RS 0x5253
/* Floats of scratch a reduce-scatter of n floats needs on `rank`: the
 * other ranks' contributions to its segment. */
size_t comm_rs_scratch(size_t n, int rank, int size);
typedef struct comm_rs {
    float *buf;          /* [n] this rank's contribution; its segment becomes the sum */
    float *scratch;      /* [comm_rs_scratch()] caller's */
    size_t n;
    int nreq;
    MPI_Request *req;    /* [2 (size - 1)] receives, then sends */
    MPI_Comm comm;
} comm_rs;
/* Start: post the receives of this rank's segment and the sends of the
 * others' (non-blocking; buf and scratch must stay untouched until
 * comm_rs_finish). */
st_status comm_rs_start(comm_rs *op, float *buf, size_t n, float *scratch, MPI_Comm comm);
/* Let the transfers advance (Open MPI moves them on only inside MPI calls). */
st_status comm_rs_progress(comm_rs *op);
/* Wait, then add this rank's segment up in rank order; frees op's requests. */
st_status comm_rs_finish(comm_rs *op);
/* Blocking: start + finish. */
st_status comm_reduce_scatter_sum(float *buf, size_t n, float *scratch, MPI_Comm comm);
/* Every rank's segment of buf[n] to every rank, in place (a copy, no sum). */
st_status comm_allgather_segments(float *buf, size_t n, MPI_Comm comm);
/* Every rank's segment `mine` [its comm_share count] into full[n] on `root`
 * (full is only touched on root). */
st_status comm_gather_segments(const float *mine, float *full, size_t n, int root, MPI_Comm comm);
/* The sum over ranks of `local`, added in rank order: the same bits on
 * every rank (the global gradient norm from the segments' partial sums). */
st_status comm_sum_ordered_f64(double local, double *total, MPI_Comm comm);

/* Sum of doubles (losses, counts) over ranks, in place. */
st_status comm_allreduce_sum_f64(double *buf, int n, MPI_Comm comm);

/* True on every rank when `local` is true on any rank (stop requests). */
st_status comm_any(bool local, bool *any, MPI_Comm comm);
/* The coordinator's value of *v, on every rank. */
st_status comm_bcast_long(long *v, MPI_Comm comm);

/* FNV-1a over bytes: cheap fingerprint of a weight arena. */
uint64_t comm_checksum(const void *buf, size_t bytes);
/* *same = every rank holds byte-identical buffers (checksum + length). */
st_status comm_check_identical(const void *buf, size_t bytes, MPI_Comm comm, bool *same);

/* Near-equal contiguous split of n items over `size` ranks: rank `rank`
 * gets [*first, *first + *count).  The first n % size ranks get one more. */
void comm_share(long n, int rank, int size, long *first, long *count);
/* The same split of a buffer of n elements, in its own size_t: rank
 * `rank`'s segment of the segmented reduction above (and of the sharded
 * moments) is [*first, *first + *count). */
void comm_segment(size_t n, int rank, int size, size_t *first, size_t *count);

#endif
