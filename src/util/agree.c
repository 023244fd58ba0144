/* agree.c -- one status and message on every rank (see agree.h). */
#include "strata/agree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record on this rank the failure `code` with rank `root`'s message and
 * place ("file.c:123"), so st_last_error_where points at the real cause. */
static st_status record(st_status code, const char *msg, const char *where)
{
    char file[256] = "agree.c";
    int line = 0;
    const char *colon = strrchr(where, ':');
    if (colon && colon > where && (size_t)(colon - where) < sizeof file) {
        memcpy(file, where, (size_t)(colon - where));
        file[colon - where] = '\0';
        line = atoi(colon + 1);
    }
    return st_fail(code, file, line, "%s", msg);
}

/* error.h keeps at most this much of a message; where is "file.c:123". */
enum { MSG_MAX = 2048, WHERE_MAX = 256 };

/* Broadcast root's status; when it is a failure, also its message and place,
 * and record them on every other rank. */
static st_status share_from(st_status local, int root, MPI_Comm comm)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    /* On the stack: a rank that is out of memory must still take part. */
    char buf[MSG_MAX + WHERE_MAX];
    /* {status, strlen(message) + 1, strlen(where) + 1} */
    int head[3] = {(int)local, 0, 0};
    if (rank == root && local != ST_OK) {
        snprintf(buf, MSG_MAX, "%s", st_last_error());
        head[1] = (int)strlen(buf) + 1;
        snprintf(buf + head[1], WHERE_MAX, "%s", st_last_error_where());
        head[2] = (int)strlen(buf + head[1]) + 1;
    }
    if (MPI_Bcast(head, 3, MPI_INT, root, comm) != MPI_SUCCESS)
        return ST_ERROR(ST_EMPI, "cannot broadcast the outcome of a collective step");
    if (head[0] == ST_OK) return ST_OK;
    if (MPI_Bcast(buf, head[1] + head[2], MPI_CHAR, root, comm) != MPI_SUCCESS)
        return ST_ERROR(ST_EMPI, "cannot broadcast the message of a failed collective step");
    if (rank != root) record((st_status)head[0], buf, buf + head[1]);
    return (st_status)head[0];
}

st_status st_agree(st_status local, MPI_Comm comm)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = local != ST_OK ? rank : size, first = size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return ST_ERROR(ST_EMPI, "cannot agree on the outcome of a collective step");
    if (first == size) return ST_OK;
    return share_from(local, first, comm);
}

st_status st_agree_root(st_status local, MPI_Comm comm) { return share_from(local, 0, comm); }
