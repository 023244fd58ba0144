/* test_order.c -- the training order (include/strata/order.h): every epoch
 * is a permutation of the chunks, epochs differ, the chunk at a position
 * does not depend on the order in which positions are asked for, the order
 * is a function of (n, seed) only, and the shuffle itself is pinned. */
#include <string.h>

#include "harness.h"
#include "strata/order.h"
#include "strata/rng.h"

/* Positions [epoch * n, (epoch + 1) * n) into perm[n]. */
static void epoch_of(data_order *o, long epoch, long *perm)
{
    for (long i = 0; i < o->n; i++) perm[i] = data_order_chunk(o, epoch * o->n + i);
}

static void each_epoch_is_a_permutation(void **state)
{
    (void)state;
    const long sizes[] = {2, 3, 10, 97, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        long n = sizes[k];
        data_order o;
        ST_ASSERT_OK(data_order_init(&o, n, 1234 + (uint64_t)k));
        long *perm = malloc(sizeof *perm * (size_t)n);
        int *seen = malloc(sizeof *seen * (size_t)n);
        for (long e = 0; e < 6; e++) {
            epoch_of(&o, e, perm);
            memset(seen, 0, sizeof *seen * (size_t)n);
            for (long i = 0; i < n; i++) {
                assert_in_range(perm[i], 0, n - 1);
                seen[perm[i]]++;
            }
            for (long i = 0; i < n; i++) assert_int_equal(seen[i], 1);
        }
        free(perm);
        free(seen);
        data_order_free(&o);
    }
}

static void epochs_differ_and_are_shuffled_evenly(void **state)
{
    (void)state;
    enum { N = 10, EPOCHS = 2000 };
    data_order o;
    ST_ASSERT_OK(data_order_init(&o, N, 5));
    long prev[N], cur[N];
    int first[N] = {0};   /* how often chunk c comes first in an epoch */
    long fixed_points = 0; /* perm[i] == i: never with a biased (Sattolo) shuffle */
    long identity = 0;
    epoch_of(&o, 0, prev);
    for (long e = 1; e < EPOCHS; e++) {
        epoch_of(&o, e, cur);
        assert_true(memcmp(prev, cur, sizeof cur) != 0); /* consecutive epochs differ */
        int id = 1;
        for (int i = 0; i < N; i++) {
            fixed_points += cur[i] == i;
            id &= cur[i] == i;
        }
        identity += id;
        first[cur[0]]++;
        memcpy(prev, cur, sizeof cur);
    }
    assert_int_equal(identity, 0);
    /* A uniform shuffle has one fixed point per epoch on average. */
    assert_in_range(fixed_points, (EPOCHS - 1) * 8 / 10, (EPOCHS - 1) * 12 / 10);
    /* Each chunk first ~ (EPOCHS - 1) / N = 200 times (sd ~13): 150..250. */
    for (int c = 0; c < N; c++) assert_in_range(first[c], 150, 250);
    data_order_free(&o);
}

static void random_access_equals_sequential(void **state)
{
    (void)state;
    enum { N = 37, POS = N * 7 + 5 }; /* a partial last epoch too */
    data_order seq, ra;
    ST_ASSERT_OK(data_order_init(&seq, N, 99));
    ST_ASSERT_OK(data_order_init(&ra, N, 99));
    long ref[POS];
    for (long p = 0; p < POS; p++) ref[p] = data_order_chunk(&seq, p);
    /* positions in a shuffled order: epochs are visited back and forth */
    long pos[POS];
    for (long p = 0; p < POS; p++) pos[p] = p;
    rng_t r;
    rng_init(&r, 7, 0, RNG_TEST);
    for (long i = POS - 1; i > 0; i--) {
        long j = (long)rng_below(&r, (uint64_t)i + 1);
        long t = pos[i];
        pos[i] = pos[j];
        pos[j] = t;
    }
    for (long i = 0; i < POS; i++) assert_int_equal(data_order_chunk(&ra, pos[i]), ref[pos[i]]);
    /* backwards, and a far position (a resumed run's cursor) then back */
    for (long p = POS - 1; p >= 0; p--) assert_int_equal(data_order_chunk(&ra, p), ref[p]);
    long far = 1000000L * N + 3;
    long at_far = data_order_chunk(&ra, far);
    assert_in_range(at_far, 0, N - 1);
    assert_int_equal(data_order_chunk(&ra, 3), ref[3]);
    assert_int_equal(data_order_chunk(&seq, far), at_far);
    data_order_free(&seq);
    data_order_free(&ra);
}

static void same_seed_agrees_other_seed_differs(void **state)
{
    (void)state;
    enum { N = 50, POS = 3 * N };
    data_order a, b, c;
    ST_ASSERT_OK(data_order_init(&a, N, 42));
    ST_ASSERT_OK(data_order_init(&b, N, 42));
    ST_ASSERT_OK(data_order_init(&c, N, 43));
    int differ = 0;
    for (long p = 0; p < POS; p++) {
        long x = data_order_chunk(&a, p);
        assert_int_equal(data_order_chunk(&b, p), x);
        differ += data_order_chunk(&c, p) != x;
    }
    assert_true(differ > POS / 2); /* not merely one swapped pair */
    /* a seed above 2^63 is a seed like any other */
    data_order d, e;
    ST_ASSERT_OK(data_order_init(&d, N, UINT64_C(0x8000000000000000) | 42));
    ST_ASSERT_OK(data_order_init(&e, N, UINT64_C(0x8000000000000000) | 42));
    differ = 0;
    for (long p = 0; p < POS; p++) {
        assert_int_equal(data_order_chunk(&d, p), data_order_chunk(&e, p));
        differ += data_order_chunk(&d, p) != data_order_chunk(&a, p);
    }
    assert_true(differ > POS / 2);
    data_order_free(&a);
    data_order_free(&b);
    data_order_free(&c);
    data_order_free(&d);
    data_order_free(&e);
}

static void one_chunk_and_no_chunks(void **state)
{
    (void)state;
    data_order o;
    ST_ASSERT_OK(data_order_init(&o, 1, 5));
    for (long p = 0; p < 100; p++) assert_int_equal(data_order_chunk(&o, p), 0);
    assert_int_equal(data_order_chunk(&o, 123456789L), 0);
    data_order_free(&o);
    data_order_free(&o); /* twice is safe */

    st_clear_error();
    assert_int_equal(data_order_init(&o, 0, 5), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "no training chunks"));
    assert_null(o.perm);
    data_order_free(&o); /* safe on a failed struct */
    assert_int_equal(data_order_init(&o, -3, 5), ST_EDATA);
    data_order_free(&o);
}

/* The chunk order of (n = 10, seed = 5), computed once with the shuffle as
 * it is (Fisher-Yates over rng(seed, epoch, RNG_DATA), see order.c) and
 * pinned here on purpose: the order decides every run's trajectory, and a
 * checkpoint's data cursor is only a position, so a changed shuffle would
 * silently change every run and make old checkpoints resume onto different
 * data.  If this fails, the change is a format change: do not just update
 * the numbers. */
static void shuffle_is_pinned(void **state)
{
    (void)state;
    static const long golden[20] = {2, 0, 9, 6, 8, 4, 1, 5, 3, 7, /* epoch 0 */
                                    8, 6, 2, 0, 7, 3, 1, 5, 4, 9}; /* epoch 1 */
    data_order o;
    ST_ASSERT_OK(data_order_init(&o, 10, 5));
    for (long p = 0; p < 20; p++) {
        if (data_order_chunk(&o, p) != golden[p])
            print_error("position %ld: chunk %ld, pinned %ld\n", p, data_order_chunk(&o, p), golden[p]);
        assert_int_equal(data_order_chunk(&o, p), golden[p]);
    }
    data_order_free(&o);
}

static const struct CMUnitTest order_tests[] = {
    cmocka_unit_test(each_epoch_is_a_permutation),
    cmocka_unit_test(epochs_differ_and_are_shuffled_evenly),
    cmocka_unit_test(random_access_equals_sequential),
    cmocka_unit_test(same_seed_agrees_other_seed_differs),
    cmocka_unit_test(one_chunk_and_no_chunks),
    cmocka_unit_test(shuffle_is_pinned),
};

ST_TEST_MAIN(order_tests)
