/* mpilife.h -- the start and end of every strata process's MPI.
 *
 * With --enable-sanitizers these make LeakSanitizer useful under Open MPI:
 * st_mpi_init() ignores what MPI_Init allocates (Open MPI's plugins keep
 * memory for the whole run and some of it becomes unreachable), and
 * st_mpi_finalize() runs the leak check *before* MPI_Finalize, while Open
 * MPI's memory is still reachable; after MPI_Finalize it unloads its
 * plugins, and their memory would be reported from "<unknown module>",
 * which no suppression can name.  LeakSanitizer checks once, so the check
 * at exit is then skipped.  Without sanitizers they are MPI_Init and
 * MPI_Finalize.
 */
#ifndef STRATA_MPILIFE_H
#define STRATA_MPILIFE_H

#include "strata/error.h"

int st_mpi_init(int *argc, char ***argv);
/* Runs the hooks of st_mpi_at_finalize (last registered first), then the
 * leak check (so what the hooks free is not reported), then MPI_Finalize. */
void st_mpi_finalize(void);

/* Register `fn` to run in st_mpi_finalize, while MPI still works: for a
 * library that keeps global state on top of MPI (BLACS) and must release it
 * at the end of the process, not in the middle of a run where a later use
 * would find it gone.  Registering the same fn again is a no-op.  Returns
 * ST_OK, or ST_ERR when the (small, fixed) table of hooks is full.  Not
 * thread-safe: register from the thread that calls MPI. */
st_status st_mpi_at_finalize(void (*fn)(void));

#endif
