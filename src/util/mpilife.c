/* mpilife.c -- MPI_Init/MPI_Finalize with leak checking (see mpilife.h). */
#include "strata/mpilife.h"

#include <mpi.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

int st_mpi_init(int *argc, char ***argv)
{
#if defined(__SANITIZE_ADDRESS__)
    __lsan_disable();
#endif
    int rc = MPI_Init(argc, argv);
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif
    return rc;
}

void st_mpi_finalize(void)
{
#if defined(__SANITIZE_ADDRESS__)
    __lsan_do_leak_check();
#endif
    MPI_Finalize();
}
