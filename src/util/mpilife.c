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

enum { MAX_HOOKS = 16 };
static void (*hooks[MAX_HOOKS])(void);
static int n_hooks;

st_status st_mpi_at_finalize(void (*fn)(void))
{
    for (int i = 0; i < n_hooks; i++)
        if (hooks[i] == fn) return ST_OK;
    if (n_hooks == MAX_HOOKS) return ST_ERROR(ST_ERR, "too many MPI finalize hooks (%d)", MAX_HOOKS);
    hooks[n_hooks++] = fn;
    return ST_OK;
}

void st_mpi_finalize(void)
{
    /* Reverse order: a later library may sit on top of an earlier one. */
    while (n_hooks > 0) hooks[--n_hooks]();
#if defined(__SANITIZE_ADDRESS__)
    __lsan_do_leak_check();
#endif
    MPI_Finalize();
}
