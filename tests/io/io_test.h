/* io_test.h -- a temp directory shared by all ranks of an io test. */
#ifndef STRATA_IO_TEST_H
#define STRATA_IO_TEST_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rank 0 makes a fresh directory; every rank gets its name.  Removed (with
 * its contents) by io_tmpdir_remove. */
static inline void io_tmpdir(char *dir, size_t cap)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char buf[512] = "";
    if (rank == 0) {
        const char *base = getenv("TMPDIR");
        snprintf(buf, sizeof buf, "%s/strata-io.XXXXXX", base && base[0] ? base : "/tmp");
        if (!mkdtemp(buf)) buf[0] = '\0';
    }
    MPI_Bcast(buf, sizeof buf, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(dir, cap, "%s", buf);
}

static inline void io_tmpdir_remove(const char *dir)
{
    int rank = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0 && dir[0] && strstr(dir, "strata-io.")) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

#endif
