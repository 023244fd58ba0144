/* test_util.c -- status codes, error messages, RNG, timers, BLAS check. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "strata/blas_check.h"
#include "strata/rng.h"
#include "strata/timer.h"

static void exit_codes_match_readme(void **state)
{
    (void)state;
    assert_int_equal(st_exit_code(ST_OK), 0);
    assert_int_equal(st_exit_code(ST_EUSAGE), 2);
    assert_int_equal(st_exit_code(ST_EDATA), 3);
    assert_int_equal(st_exit_code(ST_ECKPT), 4);
    assert_int_equal(st_exit_code(ST_EPREEMPT), 75);
    assert_int_equal(st_exit_code(ST_ENOMEM), 1);
    assert_int_equal(st_exit_code(ST_EHDF5), 1);
}

static st_status fails_with_goto(int *cleaned)
{
    st_status st = ST_OK;
    char *p = malloc(16);
    CHECK_ALLOC(p);
    FAIL(ST_EDATA, "bad value %d in %s", 7, "x.ini");
out:
    free(p);
    *cleaned = 1;
    return st;
}

static void fail_records_message_and_location(void **state)
{
    (void)state;
    int cleaned = 0;
    st_clear_error();
    assert_int_equal(fails_with_goto(&cleaned), ST_EDATA);
    assert_int_equal(cleaned, 1);
    assert_string_equal(st_last_error(), "bad value 7 in x.ini");
    assert_non_null(strstr(st_last_error_where(), "test_util.c:"));
    st_add_context("reading %s", "corpus");
    assert_string_equal(st_last_error(), "reading corpus: bad value 7 in x.ini");
    st_clear_error();
    assert_string_equal(st_last_error(), "");
}

static void philox_known_answers(void **state)
{
    (void)state;
    /* Known-answer vectors of the Philox4x32-10 reference (Random123 kat_vectors). */
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    const uint32_t e0[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    const uint32_t k1[2] = {0xffffffffu, 0xffffffffu};
    const uint32_t e1[4] = {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu};
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const uint32_t k2[2] = {0xa4093822u, 0x299f31d0u};
    const uint32_t e2[4] = {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};
    uint32_t out[4];
    rng_philox4x32(c0, k0, out);
    assert_memory_equal(out, e0, sizeof e0);
    rng_philox4x32(c1, k1, out);
    assert_memory_equal(out, e1, sizeof e1);
    rng_philox4x32(c2, k2, out);
    assert_memory_equal(out, e2, sizeof e2);
}

static void rng_streams_are_reproducible_and_distinct(void **state)
{
    (void)state;
    rng_t a, b, c, d;
    rng_init(&a, 7, 0, RNG_DATA);
    rng_init(&b, 7, 0, RNG_DATA);
    rng_init(&c, 7, 1, RNG_DATA);
    rng_init(&d, 7, 0, RNG_INIT);
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_u64(&a);
        assert_true(x == rng_u64(&b));
        same_c += x == rng_u64(&c);
        same_d += x == rng_u64(&d);
    }
    assert_int_equal(same_c, 0);
    assert_int_equal(same_d, 0);

    /* The saved state (four integers) resumes the stream exactly. */
    rng_t saved = a;
    uint64_t next1 = rng_u64(&a);
    rng_t restored;
    rng_init(&restored, saved.seed, saved.rank, saved.purpose);
    restored.counter = saved.counter;
    assert_true(rng_u64(&restored) == next1);
}

static void rng_distributions(void **state)
{
    (void)state;
    rng_t r;
    rng_init(&r, 123, 0, RNG_TEST);
    enum { N = 200000 };
    double su = 0, sn = 0, sn2 = 0;
    int buckets[10] = {0};
    for (int i = 0; i < N; i++) {
        double u = rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        su += u;
        double z = rng_normal(&r);
        assert_true(isfinite(z));
        sn += z;
        sn2 += z * z;
        uint64_t k = rng_below(&r, 10);
        assert_true(k < 10);
        buckets[k]++;
    }
    /* Tolerances are ~5 standard errors. */
    assert_true(fabs(su / N - 0.5) < 5 * 0.2887 / sqrt(N));
    assert_true(fabs(sn / N) < 5.0 / sqrt(N));
    assert_true(fabs(sn2 / N - 1.0) < 5 * sqrt(2.0 / N));
    for (int k = 0; k < 10; k++) assert_true(abs(buckets[k] - N / 10) < 5 * 134);
}

static void timer_accumulates(void **state)
{
    (void)state;
    st_timer t;
    timer_reset(&t);
    double t0 = timer_now();
    timer_start(&t);
    while (timer_now() - t0 < 0.01) {}
    timer_stop(&t);
    assert_true(t.total >= 0.01 && t.total < 1.0);
    assert_int_equal(t.count, 1);
    timer_stop(&t); /* stopping a stopped timer changes nothing */
    assert_int_equal(t.count, 1);
}

static void blas_check_passes_and_classifies_cores(void **state)
{
    (void)state;
    blas_info info;
    ST_ASSERT_OK(blas_probe(&info));
    assert_true(info.max_err < 1e-4);
    assert_true(info.core[0] != '\0');
    assert_true(blas_core_is_generic("Prescott"));
    assert_true(blas_core_is_generic("core2"));
    assert_false(blas_core_is_generic("SkylakeX"));
    assert_false(blas_core_is_generic("Haswell"));
    if (info.generic_core && info.cpu_avx512) assert_string_equal(info.suggest_coretype, "SkylakeX");
    if (!info.generic_core) assert_null(info.suggest_coretype);
}

static const struct CMUnitTest util_tests[] = {
    cmocka_unit_test(exit_codes_match_readme),
    cmocka_unit_test(fail_records_message_and_location),
    cmocka_unit_test(philox_known_answers),
    cmocka_unit_test(rng_streams_are_reproducible_and_distinct),
    cmocka_unit_test(rng_distributions),
    cmocka_unit_test(timer_accumulates),
    cmocka_unit_test(blas_check_passes_and_classifies_cores),
};

ST_TEST_MAIN(util_tests)
