/* fuzz_common.h -- what every libFuzzer harness of strata shares.
 *
 * fuzz_init() runs once from LLVMFuzzerInitialize: MPI as a singleton
 * (no mpirun needed), HDF5's error printing off (errors are expected and
 * come back as st_status), logging at error level only.  FUZZ_ASSERT
 * aborts with a message: a broken property is a finding like a crash.
 */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "strata/error.h"
#include "strata/log.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define FUZZ_HAVE_LSAN 1
#endif
#endif

#define FUZZ_ASSERT(cond, ...)                                               \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz: property failed: %s: ", #cond);          \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, " (last error: %s)\n", st_last_error());         \
            abort();                                                         \
        }                                                                    \
    } while (0)

static inline void fuzz_init(int *argc, char ***argv)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        /* Open MPI's SIGABRT/SIGSEGV handlers would print and exit before
         * libFuzzer's write the reproducer. */
        setenv("OMPI_MCA_opal_signal", "", 0);
        /* Open MPI keeps what MPI_Init allocates until exit, partly
         * unreachable; libFuzzer's per-input leak check would report it.
         * (clang does not define __SANITIZE_ADDRESS__, which st_mpi_init
         * looks for, so it is done here.) */
#ifdef FUZZ_HAVE_LSAN
        __lsan_disable();
#endif
        MPI_Init(argc, argv);
#ifdef FUZZ_HAVE_LSAN
        __lsan_enable();
#endif
    }
    H5Eset_auto(H5E_DEFAULT, NULL, NULL);
    /* Errors on bad input are the expected outcome; keep stderr for findings. */
    log_init(MPI_COMM_SELF, ST_LOG_ERROR, false);
}

#endif
