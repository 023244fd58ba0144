/* comm.h -- MPI roles, gradient all-reduce, agreement, shares of work.
 *
 * Rank 0 of the communicator is the coordinator: it decides (stage ends,
 * evaluation, checkpoints) and broadcasts; every rank computes.  The global
 * batch is fixed by the config and independent of the rank count: each
 * rank takes a contiguous share of the batch positions, weighs its gradient
 * by its share, and one sum all-reduce yields the mean gradient of the
 * whole batch.  (The order in which chunks are visited is data/order.h.)
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

#endif
