/* test_util.c -- status codes, error messages, RNG, timers, BLAS check,
 * progress lines, stop signals. */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "harness.h"
#include <signal.h>
#include <sys/wait.h>

#include <cblas.h>

#include "strata/blas_check.h"
#include "strata/progress.h"
#include "strata/signals.h"
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
    timer_start(&t);
    while (timer_now() - t.t0 < 0.01) {}
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

/* The core is chosen by measured rates: the fastest wins, failed
 * measurements (<= 0, NaN) never do, ties keep the earlier candidate. */
static void blas_core_choice_is_the_fastest(void **state)
{
    (void)state;
    double r1[] = {104.5, 93.2, 101.0};
    assert_int_equal(blas_pick_fastest(r1, 3), 0);
    double r2[] = {93.2, 104.5, 101.0};
    assert_int_equal(blas_pick_fastest(r2, 3), 1);
    double r3[] = {-1.0, NAN, 55.0, 0.0};
    assert_int_equal(blas_pick_fastest(r3, 4), 2);
    double r4[] = {NAN, -1.0, 0.0};
    assert_int_equal(blas_pick_fastest(r4, 3), -1);
    assert_int_equal(blas_pick_fastest(r4, 0), -1);
    double r5[] = {80.0, 80.0};
    assert_int_equal(blas_pick_fastest(r5, 2), 0);
    const char *c[BLAS_MAX_CANDIDATES];
    int n = blas_core_candidates(c, BLAS_MAX_CANDIDATES);
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) assert_true(n >= 2 && strcmp(c[0], "Haswell") == 0);
    for (int i = 0; i < n; i++)
        if (strcmp(c[i], "SkylakeX") == 0) assert_true(__builtin_cpu_supports("avx512f"));
#endif
    assert_int_equal(blas_core_candidates(c, 1), n > 0 ? 1 : 0);
    assert_true(blas_sgemm_rate(1) > 0);
}

static void one_blas_thread_unless_the_user_chose(void **state)
{
    (void)state;
    char *saved = getenv("OPENBLAS_NUM_THREADS") ? strdup(getenv("OPENBLAS_NUM_THREADS")) : NULL;
    unsetenv("OPENBLAS_NUM_THREADS");
    unsetenv("OMP_NUM_THREADS");
    openblas_set_num_threads(2);
    blas_default_threads();
    assert_int_equal(openblas_get_num_threads(), 1);
    setenv("OPENBLAS_NUM_THREADS", "2", 1);
    openblas_set_num_threads(2);
    blas_default_threads(); /* the user's choice stands */
    assert_int_equal(openblas_get_num_threads(), 2);
    openblas_set_num_threads(1);
    if (saved) setenv("OPENBLAS_NUM_THREADS", saved, 1);
    else unsetenv("OPENBLAS_NUM_THREADS");
    free(saved);
}

static void progress_prints_lines_at_interval(void **state)
{
    (void)state;
    progress p;
    progress_mode mode = PROGRESS_AUTO;
    ST_ASSERT_OK(progress_mode_parse("bar", &mode));
    assert_int_equal(mode, PROGRESS_BAR);
    assert_int_equal(progress_mode_parse("fancy", &mode), ST_EUSAGE);
    /* bar redraws in place even when stderr is a pipe (mpirun); lines never */
    progress_init(&p, MPI_COMM_SELF, 3600.0, PROGRESS_BAR);
    assert_true(p.tty);
    progress_init(&p, MPI_COMM_SELF, 3600.0, PROGRESS_LINES);
    assert_false(p.tty);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    assert_non_null(mem);
    p.out = mem;
    p.tty = false;
    progress_update(&p, false, "step %d", 1); /* first line always prints */
    progress_update(&p, false, "step %d", 2); /* within the interval: skipped */
    progress_update(&p, true, "step %d", 3);  /* forced */
    progress_end(&p);
    fclose(mem);
    assert_non_null(strstr(buf, "step 1\n"));
    assert_null(strstr(buf, "step 2"));
    assert_non_null(strstr(buf, "step 3\n"));
    free(buf);

    char eta[32];
    progress_format_eta(5, eta, sizeof eta);
    assert_string_equal(eta, "5s");
    progress_format_eta(185, eta, sizeof eta);
    assert_string_equal(eta, "3m05s");
    progress_format_eta(3725, eta, sizeof eta);
    assert_string_equal(eta, "1h02m");
    progress_format_eta(-1, eta, sizeof eta);
    assert_string_equal(eta, "?");
}

static void signals_request_a_clean_stop(void **state)
{
    (void)state;
    sig_install();
    sig_reset();
    assert_false(sig_stop_requested());
    raise(SIGUSR1);
    assert_true(sig_stop_requested());
    assert_int_equal(sig_which(), SIGUSR1);
    raise(SIGTERM); /* the first request is the one remembered */
    assert_int_equal(sig_which(), SIGUSR1);
    sig_reset();
    raise(SIGTERM);
    assert_int_equal(sig_which(), SIGTERM);
    sig_reset();

    /* First SIGINT asks to stop; the second exits at once with 130. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sig_install();
        raise(SIGINT);
        if (!sig_stop_requested()) _exit(1);
        raise(SIGINT);
        _exit(0); /* not reached */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
}

static const struct CMUnitTest util_tests[] = {
    cmocka_unit_test(exit_codes_match_readme),
    cmocka_unit_test(fail_records_message_and_location),
    cmocka_unit_test(philox_known_answers),
    cmocka_unit_test(rng_streams_are_reproducible_and_distinct),
    cmocka_unit_test(rng_distributions),
    cmocka_unit_test(timer_accumulates),
    cmocka_unit_test(blas_check_passes_and_classifies_cores),
    cmocka_unit_test(blas_core_choice_is_the_fastest),
    cmocka_unit_test(one_blas_thread_unless_the_user_chose),
    cmocka_unit_test(progress_prints_lines_at_interval),
    cmocka_unit_test(signals_request_a_clean_stop),
};

ST_TEST_MAIN(util_tests)
