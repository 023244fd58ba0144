/* harness.h -- common main() for strata's cmocka test programs.
 *
 * Every test program initialises MPI (serial tests run as an MPI singleton),
 * prints TAP on rank 0 and sends other ranks' cmocka output to stderr, so
 * the log keeps it without confusing the TAP parser.  The exit status is
 * non-zero when any rank had a failure.
 *
 * MPI tests must reach the same collectives on every rank: compute, agree
 * with ST_ASSERT_ALL (an all-reduce), then assert.
 */
#ifndef STRATA_TEST_HARNESS_H
#define STRATA_TEST_HARNESS_H

#include <mpi.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "strata/error.h"
#include "strata/mpilife.h"
#include "strata/log.h"

static inline int st_test_rank(void)
{
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

static inline int st_test_size(void)
{
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* True on every rank iff cond is true on every rank. */
static inline int st_all_true(int cond)
{
    int local = cond ? 1 : 0, all = 0;
    MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}
#define ST_ASSERT_ALL(cond) assert_true(st_all_true(cond))

/* Skip the rest of a test that cannot run here, with the reason in the
 * log.  Not cmocka's skip(): cmocka 1.1 prints it as "not ok N # SKIP",
 * which Automake's TAP driver counts as a failure; the test reports ok and
 * its log line says what did not run. */
#define ST_SKIP(...)                                                           \
    do {                                                                       \
        print_message("# SKIP: " __VA_ARGS__);                                 \
        print_message("\n");                                                   \
        return;                                                                \
    } while (0)

/* Assert a status is ST_OK and show the recorded message if it is not. */
#define ST_ASSERT_OK(expr)                                                     \
    do {                                                                       \
        st_status st_rc_ = (expr);                                             \
        if (st_rc_ != ST_OK)                                                   \
            print_error("%s -> %s: %s (%s)\n", #expr, st_status_name(st_rc_),  \
                        st_last_error(), st_last_error_where());               \
        assert_int_equal(st_rc_, ST_OK);                                       \
    } while (0)

static inline int st_test_main(int argc, char **argv, const char *name,
                               const struct CMUnitTest *tests, size_t n)
{
    st_mpi_init(&argc, &argv);
    int rank = st_test_rank();
    if (rank != 0) dup2(STDERR_FILENO, STDOUT_FILENO);
    log_level lvl = ST_LOG_WARN;
    const char *env = getenv("STRATA_TEST_LOG");
    if (env) log_parse_level(env, &lvl);
    log_init(MPI_COMM_WORLD, lvl, false);
    cmocka_set_message_output(CM_OUTPUT_TAP);
    int failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    int any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    st_mpi_finalize();
    return any ? 1 : 0;
}

#define ST_TEST_MAIN(tests)                                                    \
    int main(int argc, char **argv)                                            \
    {                                                                          \
        return st_test_main(argc, argv, #tests, tests,                         \
                            sizeof(tests) / sizeof((tests)[0]));               \
    }

#endif
