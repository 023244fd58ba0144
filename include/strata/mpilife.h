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

int st_mpi_init(int *argc, char ***argv);
void st_mpi_finalize(void);

#endif
