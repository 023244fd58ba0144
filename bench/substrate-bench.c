/* substrate-bench.c -- time the full-BMP glyph substrate build and write.
 *
 * mpirun -np 2 bench/substrate-bench [CELL DIM REPEATS OUTPUT]
 * Prints one line per repeat (rank 0): build seconds (render + marks + PCA +
 * projection + duplicate count), save seconds, total. */
#include <stdio.h>
#include <stdlib.h>

#include "strata/log.h"
#include "strata/mpilife.h"
#include "strata/substrate.h"
#include "strata/timer.h"

int main(int argc, char **argv)
{
    st_mpi_init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    log_init(MPI_COMM_WORLD, ST_LOG_INFO, false);
    int cell = argc > 1 ? atoi(argv[1]) : 32, dim = argc > 2 ? atoi(argv[2]) : 256;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    const char *out = argc > 4 ? argv[4] : "substrate-bench.h5";
    glyph_item *items = NULL;
    char *storage = NULL;
    long v = 0;
    int rc = 0;
    st_status st = substrate_items_bmp(&items, &storage, &v);
    substrate_opts o = {.kind = SUBSTRATE_GLYPH, .dim = dim, .cell = cell, .flatten = GLYPH_FLATTEN_POLAR, .fonts = "", .seed = 1};
    for (int r = 0; r < reps && st == ST_OK; r++) {
        substrate s;
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = timer_now();
        st = substrate_build(&o, items, v, MPI_COMM_WORLD, &s);
        if (st != ST_OK) break;
        MPI_Barrier(MPI_COMM_WORLD);
        double t1 = timer_now();
        st = substrate_save(&s, out, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        double t2 = timer_now();
        if (rank == 0)
            printf("ranks %d cell %d dim %d: build %.2f s, save %.2f s, total %.2f s, duplicates %ld, explained %.4f\n",
                   nranks, cell, dim, t1 - t0, t2 - t1, t2 - t0, s.n_duplicates, s.explained_variance);
        substrate_free(&s);
    }
    if (st != ST_OK) {
        fprintf(stderr, "substrate-bench: %s\n", st_last_error());
        rc = 1;
    }
    free(items);
    free(storage);
    st_mpi_finalize();
    return rc;
}
