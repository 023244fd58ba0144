/* test_order.c -- the training order (include/strata/order.h): every epoch
 * is a permutation of the chunks, epochs differ, the chunk at a position
 * does not depend on the order in which positions are asked for, the order
 * is a function of (n, slots, seed) only, and the shuffle itself is pinned.
 * With several batch slots every slot stays inside its shard, each
 * shard-epoch is a permutation of the shard, and that order is pinned too. */
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
        ST_ASSERT_OK(data_order_init(&o, n, 1, 1234 + (uint64_t)k));
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
    ST_ASSERT_OK(data_order_init(&o, N, 1, 5));
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
    ST_ASSERT_OK(data_order_init(&seq, N, 1, 99));
    ST_ASSERT_OK(data_order_init(&ra, N, 1, 99));
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
    ST_ASSERT_OK(data_order_init(&a, N, 1, 42));
    ST_ASSERT_OK(data_order_init(&b, N, 1, 42));
    ST_ASSERT_OK(data_order_init(&c, N, 1, 43));
    int differ = 0;
    for (long p = 0; p < POS; p++) {
        long x = data_order_chunk(&a, p);
        assert_int_equal(data_order_chunk(&b, p), x);
        differ += data_order_chunk(&c, p) != x;
    }
    assert_true(differ > POS / 2); /* not merely one swapped pair */
    /* a seed above 2^63 is a seed like any other */
    data_order d, e;
    ST_ASSERT_OK(data_order_init(&d, N, 1, UINT64_C(0x8000000000000000) | 42));
    ST_ASSERT_OK(data_order_init(&e, N, 1, UINT64_C(0x8000000000000000) | 42));
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
    ST_ASSERT_OK(data_order_init(&o, 1, 1, 5));
    for (long p = 0; p < 100; p++) assert_int_equal(data_order_chunk(&o, p), 0);
    assert_int_equal(data_order_chunk(&o, 123456789L), 0);
    data_order_free(&o);
    data_order_free(&o); /* twice is safe */

    st_clear_error();
    assert_int_equal(data_order_init(&o, 0, 1, 5), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "no training chunks"));
    assert_null(o.perm);
    data_order_free(&o); /* safe on a failed struct */
    assert_int_equal(data_order_init(&o, -3, 1, 5), ST_EDATA);
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
    ST_ASSERT_OK(data_order_init(&o, 10, 1, 5));
    for (long p = 0; p < 20; p++) {
        if (data_order_chunk(&o, p) != golden[p])
            print_error("position %ld: chunk %ld, pinned %ld\n", p, data_order_chunk(&o, p), golden[p]);
        assert_int_equal(data_order_chunk(&o, p), golden[p]);
    }
    data_order_free(&o);
}


/* Every position's chunk lies in the shard of its slot, every pass over a
 * shard is a permutation of it, and random access agrees with a walk. */
static void slots_stay_in_their_shards(void **state)
{
    (void)state;
    const long ns[] = {103, 16, 8, 1000};
    const long slots[] = {8, 16, 3, 7};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        long n = ns[k], B = slots[k];
        data_order o, ra;
        ST_ASSERT_OK(data_order_init(&o, n, B, 77 + (uint64_t)k));
        ST_ASSERT_OK(data_order_init(&ra, n, B, 77 + (uint64_t)k));
        assert_int_equal(o.shards, B < n ? B : n);
        long covered = 0;
        for (long q = 0; q < o.shards; q++) {
            long first, count;
            data_order_slot_range(&o, q, &first, &count);
            assert_int_equal(first, covered); /* contiguous, in order, no gaps */
            assert_true(count >= n / o.shards && count <= n / o.shards + 1);
            covered += count;
        }
        assert_int_equal(covered, n);
        long steps = 3 * (n / o.shards + 1) + 2;
        int *seen = calloc((size_t)n, sizeof *seen);
        for (long t = 0; t < steps; t++)
            for (long s = 0; s < B; s++) {
                long c = data_order_chunk(&o, t * B + s), first, count;
                data_order_slot_range(&o, s, &first, &count);
                assert_in_range(c, first, first + count - 1);
                seen[c]++;
            }
        /* Each shard is visited evenly: every chunk of shard q seen
         * floor or ceil of (visits of q) / (its length) times. */
        for (long q = 0; q < o.shards; q++) {
            long first, count, per_step = B / o.shards + (q < B % o.shards);
            data_order_slot_range(&o, q, &first, &count);
            long visits = steps * per_step;
            for (long c = first; c < first + count; c++)
                assert_in_range(seen[c], visits / count, visits / count + 1);
        }
        for (long p = steps * B - 1; p >= 0; p -= 3) {
            long a = data_order_chunk(&ra, p);
            assert_int_equal(a, data_order_chunk(&o, p));
        }
        free(seen);
        data_order_free(&o);
        data_order_free(&ra);
    }
}

/* One slot is the order of runs from before shards (order.h), and more
 * slots than chunks still visit every chunk each step. */
static void one_slot_is_the_old_order_and_small_sets_work(void **state)
{
    (void)state;
    data_order a, b;
    ST_ASSERT_OK(data_order_init(&a, 10, 1, 5));
    assert_int_equal(a.shards, 1);
    data_order_free(&a);
    ST_ASSERT_OK(data_order_init(&b, 3, 8, 9));
    assert_int_equal(b.shards, 3);
    for (long t = 0; t < 20; t++) {
        int seen[3] = {0};
        for (long s = 0; s < 8; s++) seen[data_order_chunk(&b, t * 8 + s)]++;
        for (int c = 0; c < 3; c++) assert_in_range(seen[c], 2, 3); /* 8 = 3 + 3 + 2 */
    }
    data_order_free(&b);
    st_clear_error();
    assert_int_equal(data_order_init(&b, 10, 0, 5), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "slots"));
    data_order_free(&b);
}

/* The sharded order of (n = 10, slots = 4, seed = 5), pinned like
 * shuffle_is_pinned and for the same reason: a checkpoint's cursor is a
 * position in this order. */
static void sharded_shuffle_is_pinned(void **state)
{
    (void)state;
    static const long golden[24] = {0, 3, 7, 9, 1, 4, 6, 8, 2, 5, 6, 9, /* steps 0-2 */
                                    2, 4, 7, 8, 0, 5, 6, 9, 1, 3, 7, 8}; /* steps 3-5 */
    data_order o;
    ST_ASSERT_OK(data_order_init(&o, 10, 4, 5));
    for (long p = 0; p < 24; p++) {
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
    cmocka_unit_test(slots_stay_in_their_shards),
    cmocka_unit_test(one_slot_is_the_old_order_and_small_sets_work),
    cmocka_unit_test(sharded_shuffle_is_pinned),
};

ST_TEST_MAIN(order_tests)
