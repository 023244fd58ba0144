/* comm.c -- collectives and shares of work (see comm.h). */
#include "strata/comm.h"

#include <limits.h>
#include <stdlib.h>


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
