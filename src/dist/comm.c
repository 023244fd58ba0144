/* comm.c -- collectives and shares of work (see comm.h). */
#include "strata/comm.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>


/* MPI counts are int: send large buffers in pieces. */
#define COMM_PIECE ((size_t)1 << 30)

st_status comm_allreduce_sum(float *buf, size_t n, MPI_Comm comm)
{
    st_status st = ST_OK;
    for (size_t off = 0; off < n; off += COMM_PIECE) {
        size_t len = n - off < COMM_PIECE ? n - off : COMM_PIECE;
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, comm));
    }
out:
    return st;
}

st_status comm_iallreduce_sum(float *buf, size_t n, MPI_Comm comm, MPI_Request *req)
{
    st_status st = ST_OK;
    if (n > COMM_IPIECE) FAIL(ST_ERR, "non-blocking all-reduce of %zu floats is too large", n);
    CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, comm, req));
out:
    return st;
}

st_status comm_wait(MPI_Request *req)
{
    st_status st = ST_OK;
    CHECK_MPI(MPI_Wait(req, MPI_STATUS_IGNORE));
out:
    return st;
}

st_status comm_progress(MPI_Request *reqs, int n)
{
    st_status st = ST_OK;
    int done = 0;
    if (n > 0) CHECK_MPI(MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE));
out:
    return st;
}

/* ---- deterministic segmented reduction ---------------------------------- */

void comm_segment(size_t n, int rank, int size, size_t *first, size_t *count)
{
    long f, c;
    comm_share((long)n, rank, size, &f, &c);
    *first = (size_t)f;
    *count = (size_t)c;
}

size_t comm_rs_scratch(size_t n, int rank, int size)
{
    size_t first, count;
    comm_segment(n, rank, size, &first, &count);
    return (size_t)(size - 1) * count;
}

st_status comm_rs_start(comm_rs *op, float *buf, size_t n, float *scratch, MPI_Comm comm)
{
    st_status st = ST_OK;
    int rank, size;
    memset(op, 0, sizeof *op);
    CHECK_MPI(MPI_Comm_rank(comm, &rank));
    CHECK_MPI(MPI_Comm_size(comm, &size));
    if (n > (size_t)INT_MAX)
        FAIL(ST_ERR, "segmented reduce-scatter of %zu floats is too large (MPI counts are int)", n);
    op->buf = buf;
    op->scratch = scratch;
    op->n = n;
    op->comm = comm;
    if (size == 1) goto out;
    op->req = malloc(2 * (size_t)(size - 1) * sizeof *op->req);
    CHECK_ALLOC(op->req);
    size_t first, count;
    comm_segment(n, rank, size, &first, &count);
    /* The contribution of rank q sits in slot q (q < rank) or q - 1. */
    for (int q = 0; q < size && count > 0; q++) {
        if (q == rank) continue;
        float *slot = scratch + (size_t)(q < rank ? q : q - 1) * count;
        CHECK_MPI(MPI_Irecv(slot, (int)count, MPI_FLOAT, q, COMM_TAG_RS, comm, &op->req[op->nreq++]));
    }
    for (int q = 0; q < size; q++) {
        size_t qf, qc;
        comm_segment(n, q, size, &qf, &qc);
        if (q == rank || qc == 0) continue;
        CHECK_MPI(MPI_Isend(buf + qf, (int)qc, MPI_FLOAT, q, COMM_TAG_RS, comm, &op->req[op->nreq++]));
    }
out:
    return st;
}

st_status comm_rs_progress(comm_rs *op)
{
    return comm_progress(op->req, op->nreq);
}

st_status comm_rs_finish(comm_rs *op)
{
    st_status st = ST_OK;
    int rank, size;
    if (op->nreq > 0) CHECK_MPI(MPI_Waitall(op->nreq, op->req, MPI_STATUSES_IGNORE));
    CHECK_MPI(MPI_Comm_rank(op->comm, &rank));
    CHECK_MPI(MPI_Comm_size(op->comm, &size));
    if (size == 1) goto out;
    size_t first, count;
    comm_segment(op->n, rank, size, &first, &count);
    float *own = op->buf + first;
    /* acc = x_0, then + x_1, + x_2, ... in rank order.  a + b == b + a in
     * IEEE arithmetic, so the own contribution may be the left operand. */
    float *acc = rank == 0 ? own : op->scratch;
    for (int q = 1; q < size; q++) {
        const float *x = q == rank ? own : op->scratch + (size_t)(q < rank ? q : q - 1) * count;
        for (size_t i = 0; i < count; i++) acc[i] += x[i];
    }
    if (acc != own) memcpy(own, acc, count * sizeof *own);
out:
    free(op->req);
    op->req = NULL;
    op->nreq = 0;
    return st;
}

st_status comm_reduce_scatter_sum(float *buf, size_t n, float *scratch, MPI_Comm comm)
{
    st_status st = ST_OK;
    comm_rs op;
    st = comm_rs_start(&op, buf, n, scratch, comm);
    st_status st2 = comm_rs_finish(&op); /* also after a failed start: frees the requests */
    if (st == ST_OK) st = st2;
    return st;
}

/* Counts and displacements of the segments of n floats (n <= INT_MAX). */
static st_status seg_table(size_t n, int size, int **counts, int **displs)
{
    st_status st = ST_OK;
    if (n > (size_t)INT_MAX) FAIL(ST_ERR, "segmented gather of %zu floats is too large (MPI counts are int)", n);
    *counts = malloc((size_t)size * sizeof **counts);
    *displs = malloc((size_t)size * sizeof **displs);
    CHECK_ALLOC(*counts);
    CHECK_ALLOC(*displs);
    for (int q = 0; q < size; q++) {
        size_t f, c;
        comm_segment(n, q, size, &f, &c);
        (*counts)[q] = (int)c;
        (*displs)[q] = (int)f;
    }
out:
    return st;
}

st_status comm_allgather_segments(float *buf, size_t n, MPI_Comm comm)
{
    st_status st = ST_OK;
    int size, *counts = NULL, *displs = NULL;
    CHECK_MPI(MPI_Comm_size(comm, &size));
    if (size == 1) goto out;
    CHECK(seg_table(n, size, &counts, &displs));
    CHECK_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT, comm));
out:
    free(counts);
    free(displs);
    return st;
}

st_status comm_gather_segments(const float *mine, float *full, size_t n, int root, MPI_Comm comm)
{
    st_status st = ST_OK;
    int rank, size, *counts = NULL, *displs = NULL;
    CHECK_MPI(MPI_Comm_rank(comm, &rank));
    CHECK_MPI(MPI_Comm_size(comm, &size));
    CHECK(seg_table(n, size, &counts, &displs));
    if (size == 1) {
        memcpy(full, mine, n * sizeof *full);
        goto out;
    }
    CHECK_MPI(MPI_Gatherv(mine, counts[rank], MPI_FLOAT, full, counts, displs, MPI_FLOAT, root, comm));
out:
    free(counts);
    free(displs);
    return st;
}

st_status comm_sum_ordered_f64(double local, double *total, MPI_Comm comm)
{
    st_status st = ST_OK;
    int size;
    double *all = NULL;
    CHECK_MPI(MPI_Comm_size(comm, &size));
    all = malloc((size_t)size * sizeof *all);
    CHECK_ALLOC(all);
    CHECK_MPI(MPI_Allgather(&local, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, comm));
    double s = all[0];
    for (int q = 1; q < size; q++) s += all[q];
    *total = s;
out:
    free(all);
    return st;
}

st_status comm_allreduce_sum_f64(double *buf, int n, MPI_Comm comm)
{
    st_status st = ST_OK;
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, comm));
out:
    return st;
}

st_status comm_any(bool local, bool *any, MPI_Comm comm)
{
    st_status st = ST_OK;
    int l = local ? 1 : 0, g = 0;
    CHECK_MPI(MPI_Allreduce(&l, &g, 1, MPI_INT, MPI_MAX, comm));
    *any = g != 0;
out:
    return st;
}

st_status comm_bcast_long(long *v, MPI_Comm comm)
{
    st_status st = ST_OK;
    CHECK_MPI(MPI_Bcast(v, 1, MPI_LONG, 0, comm));
out:
    return st;
}

uint64_t comm_checksum(const void *buf, size_t bytes)
{
    const unsigned char *p = buf;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < bytes; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

st_status comm_check_identical(const void *buf, size_t bytes, MPI_Comm comm, bool *same)
{
    st_status st = ST_OK;
    /* min == max over ranks for both the checksum and the length */
    uint64_t mine[2] = {comm_checksum(buf, bytes), (uint64_t)bytes};
    uint64_t lo[2], hi[2];
    CHECK_MPI(MPI_Allreduce(mine, lo, 2, MPI_UINT64_T, MPI_MIN, comm));
    CHECK_MPI(MPI_Allreduce(mine, hi, 2, MPI_UINT64_T, MPI_MAX, comm));
    *same = lo[0] == hi[0] && lo[1] == hi[1];
out:
    return st;
}

void comm_share(long n, int rank, int size, long *first, long *count)
{
    long base = n / size, extra = n % size;
    *count = base + (rank < extra ? 1 : 0);
    *first = rank * base + (rank < extra ? rank : extra);
}
