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

/* Rank q's contribution to element i: magnitudes far apart, so the order
 * of the additions shows in the bits. */
static float contrib(int q, size_t i)
{
    float mag = (float)pow(10.0, (double)((q * 3 + i) % 7));
    return (float)((int)((i * 7 + (size_t)q * 13) % 11) - 5) * mag + 0.1f * (float)(q + 1) + 1e-3f * (float)i;
}

/* The serial reference: sum over ranks 0..size-1 in this order, in float. */
static float rank_order_sum(size_t i, int size)
{
    float s = contrib(0, i);
    for (int q = 1; q < size; q++) s += contrib(q, i);
    return s;
}

static void reduce_scatter_and_allgather_match_the_rank_order_sum(void **state)
{
    (void)state;
    int rank = st_test_rank(), size = st_test_size();
    /* n < size (empty segments), uneven segments, and even ones. */
    const size_t sizes[] = {0, 1, 2, 5, 997, 1002};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        float *buf = malloc((n + 1) * sizeof *buf);
        float *full = malloc((n + 1) * sizeof *full);
        float *scratch = malloc((comm_rs_scratch(n, rank, size) + 1) * sizeof *scratch);
        assert_non_null(buf);
        assert_non_null(full);
        assert_non_null(scratch);
        for (size_t i = 0; i < n; i++) buf[i] = contrib(rank, i);
        long first, count;
        comm_share((long)n, rank, size, &first, &count);
        ST_ASSERT_OK(comm_reduce_scatter_sum(buf, n, scratch, MPI_COMM_WORLD));
        int ok = 1;
        for (long i = first; i < first + count; i++) ok &= buf[i] == rank_order_sum((size_t)i, size);
        ST_ASSERT_ALL(ok);
        /* Gathered to the root: every segment in its place. */
        for (size_t i = 0; i < n; i++) full[i] = -1.0f;
        ST_ASSERT_OK(comm_gather_segments(buf + first, full, n, 0, MPI_COMM_WORLD));
        ok = 1;
        for (size_t i = 0; rank == 0 && i < n; i++) ok &= full[i] == rank_order_sum(i, size);
        ST_ASSERT_ALL(ok);
        /* All-gathered in place: every rank holds the whole sum. */
        ST_ASSERT_OK(comm_allgather_segments(buf, n, MPI_COMM_WORLD));
        ok = 1;
        for (size_t i = 0; i < n; i++) ok &= buf[i] == rank_order_sum(i, size);
        ST_ASSERT_ALL(ok);
        free(buf);
        free(full);
        free(scratch);
    }
}

static void reduce_scatters_in_flight_together_stay_apart(void **state)
{
    (void)state;
    int rank = st_test_rank(), size = st_test_size();
    /* Two operations started back to back (as the overlapped backward does
     * arena after arena) match their own messages. */
    enum { NA = 301, NB = 7 };
    float a[NA], b[NB];
    float *sa = malloc((comm_rs_scratch(NA, rank, size) + 1) * sizeof *sa);
    float *sb = malloc((comm_rs_scratch(NB, rank, size) + 1) * sizeof *sb);
    assert_non_null(sa);
    assert_non_null(sb);
    for (size_t i = 0; i < NA; i++) a[i] = contrib(rank, i);
    for (size_t i = 0; i < NB; i++) b[i] = contrib(rank, i + 1000);
    comm_rs oa, ob;
    ST_ASSERT_OK(comm_rs_start(&oa, a, NA, sa, MPI_COMM_WORLD));
    ST_ASSERT_OK(comm_rs_start(&ob, b, NB, sb, MPI_COMM_WORLD));
    ST_ASSERT_OK(comm_rs_progress(&oa));
    ST_ASSERT_OK(comm_rs_finish(&ob));
    ST_ASSERT_OK(comm_rs_finish(&oa));
    ST_ASSERT_OK(comm_allgather_segments(a, NA, MPI_COMM_WORLD));
    ST_ASSERT_OK(comm_allgather_segments(b, NB, MPI_COMM_WORLD));
    int ok = 1;
    for (size_t i = 0; i < NA; i++) ok &= a[i] == rank_order_sum(i, size);
    for (size_t i = 0; i < NB; i++) ok &= b[i] == rank_order_sum(i + 1000, size);
    ST_ASSERT_ALL(ok);
    free(sa);
    free(sb);

    /* The ordered sum of doubles: x_0 + x_1 + ... in this order on every rank. */
    double x = rank == 0 ? 1e16 : (rank == 1 ? -1e16 : 1.0), tot = 0, want = 1e16;
    for (int q = 1; q < size; q++) want += q == 1 ? -1e16 : 1.0;
    ST_ASSERT_OK(comm_sum_ordered_f64(x, &tot, MPI_COMM_WORLD));
    ST_ASSERT_ALL(tot == want);
}

static const struct CMUnitTest comm_tests[] = {
    cmocka_unit_test(reduce_scatter_and_allgather_match_the_rank_order_sum),
    cmocka_unit_test(reduce_scatters_in_flight_together_stay_apart),
    cmocka_unit_test(shares_cover_the_batch_exactly),
    cmocka_unit_test(allreduce_sums_and_weighs_shares_into_the_batch_mean),
    cmocka_unit_test(agreement_and_identity_checks),
};

ST_TEST_MAIN(comm_tests)
