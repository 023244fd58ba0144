/* test_log.c -- rank-aware logging on several ranks: rank 0 prints
 * information, other ranks only errors unless all_ranks is set. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* Run fn with stderr captured into buf. */
static void capture(void (*fn)(void), char *buf, size_t len)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, len - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
}

static void say_all_levels(void)
{
    log_error("e-%d", 1);
    log_warn("w-%d", 2);
    log_info("i-%d", 3);
    log_debug("d-%d", 4);
}

static void only_rank0_prints_unless_all_ranks(void **state)
{
    (void)state;
    int rank = st_test_rank();
    char out[4096];

    log_init(MPI_COMM_WORLD, ST_LOG_INFO, false);
    capture(say_all_levels, out, sizeof out);
    assert_non_null(strstr(out, "e-1")); /* errors: every rank */
    assert_true((strstr(out, "i-3") != NULL) == (rank == 0));
    assert_true((strstr(out, "w-2") != NULL) == (rank == 0));
    assert_null(strstr(out, "d-4")); /* below the level */
    if (rank > 0) {
        char tag[32];
        snprintf(tag, sizeof tag, "strata[rank %d]: error: e-1", rank);
        assert_non_null(strstr(out, tag));
    } else {
        assert_non_null(strstr(out, "strata: info: i-3"));
    }

    log_init(MPI_COMM_WORLD, ST_LOG_DEBUG, true); /* --log-all-ranks */
    capture(say_all_levels, out, sizeof out);
    assert_non_null(strstr(out, "i-3"));
    assert_non_null(strstr(out, "d-4"));

    log_init(MPI_COMM_WORLD, ST_LOG_ERROR, false);
    capture(say_all_levels, out, sizeof out);
    assert_null(strstr(out, "w-2"));
    assert_non_null(strstr(out, "e-1"));

    log_level lv;
    assert_int_equal(log_parse_level("debug", &lv), ST_OK);
    assert_int_equal(lv, ST_LOG_DEBUG);
    assert_int_equal(log_parse_level("verbose", &lv), ST_EUSAGE);
    log_init(MPI_COMM_WORLD, ST_LOG_WARN, false);
}

static const struct CMUnitTest log_tests[] = {
    cmocka_unit_test(only_rank0_prints_unless_all_ranks),
};

ST_TEST_MAIN(log_tests)
