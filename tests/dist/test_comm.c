/* test_comm.c -- collectives and data shards on 1, 2 and 3 ranks (the
 * training order is tested in tests/data/test_order.c). */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "strata/comm.h"

static void shares_cover_the_batch_exactly(void **state)
{
    (void)state;
    for (long n = 0; n < 40; n++)
        for (int size = 1; size <= 7; size++) {
            long next = 0;
            for (int r = 0; r < size; r++) {
                long first, count;
                comm_share(n, r, size, &first, &count);
                assert_int_equal(first, next);
                assert_true(count == n / size || count == n / size + 1);
                next += count;
            }
            assert_int_equal(next, n);
        }
}

static void allreduce_sums_and_weighs_shares_into_the_batch_mean(void **state)
{
    (void)state;
    int rank = st_test_rank(), size = st_test_size();
    enum { BATCH = 7, N = 1000 };
    /* Per-sample "gradient" g_i[j] = i + j / 1000; the mean over the batch
     * must come out the same whatever the rank count. */
    long first, count;
    comm_share(BATCH, rank, size, &first, &count);
    float *g = calloc(N, sizeof *g);
    assert_non_null(g);
    for (long i = first; i < first + count; i++)
        for (int j = 0; j < N; j++) g[j] += (float)(i + j / 1000.0) / BATCH;
    ST_ASSERT_OK(comm_allreduce_sum(g, N, MPI_COMM_WORLD));
    int ok = 1;
    for (int j = 0; j < N; j++) ok &= fabsf(g[j] - (float)(3.0 + j / 1000.0)) < 1e-5f;
    ST_ASSERT_ALL(ok);

    MPI_Request req;
    for (int j = 0; j < N; j++) g[j] = (float)rank;
    ST_ASSERT_OK(comm_iallreduce_sum(g, N, MPI_COMM_WORLD, &req));
    ST_ASSERT_OK(comm_wait(&req));
    ST_ASSERT_ALL(g[N - 1] == (float)(size * (size - 1) / 2));
    free(g);
}

static void agreement_and_identity_checks(void **state)
{
    (void)state;
    int rank = st_test_rank(), size = st_test_size();
    bool any = false;
    ST_ASSERT_OK(comm_any(rank == size - 1, &any, MPI_COMM_WORLD));
    assert_true(any);
    ST_ASSERT_OK(comm_any(false, &any, MPI_COMM_WORLD));
    assert_false(any);

    long v = rank == 0 ? 42 : -1;
    ST_ASSERT_OK(comm_bcast_long(&v, MPI_COMM_WORLD));
    assert_int_equal(v, 42);

    float w[64];
    for (int i = 0; i < 64; i++) w[i] = (float)i * 0.5f;
    bool same = false;
    ST_ASSERT_OK(comm_check_identical(w, sizeof w, MPI_COMM_WORLD, &same));
    assert_true(same);
    if (rank == size - 1) w[17] = nextafterf(w[17], 100.f); /* one ulp on one rank */
    ST_ASSERT_OK(comm_check_identical(w, sizeof w, MPI_COMM_WORLD, &same));
    assert_true(same == (size == 1));
}

static const struct CMUnitTest comm_tests[] = {
    cmocka_unit_test(shares_cover_the_batch_exactly),
    cmocka_unit_test(allreduce_sums_and_weighs_shares_into_the_batch_mean),
    cmocka_unit_test(agreement_and_identity_checks),
};

ST_TEST_MAIN(comm_tests)
