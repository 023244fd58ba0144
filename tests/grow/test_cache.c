/* test_cache.c -- the frozen-activation cache (include/strata/cache.h) in
 * memory and disk modes: entries come back bit for bit with their depth,
 * empty entries say so without touching the caller's buffer, reset forgets,
 * off is a no-op, the disk mode leaves no file behind, hits and misses are
 * counted, and a scratch directory that cannot be written is refused.  A
 * cache holds only the chunk ids it was given (others are misses and are
 * not stored), and bfloat16 entries come back rounded to bf16 in half the
 * bytes. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/io_test.h"
#include "strata/cache.h"
#include "strata/ops.h"

enum { T = 3, D = 5, E = T * D, N = 6 };

static char dir[512];
static const long all_ids[N] = {0, 1, 2, 3, 4, 5};

static void make_dir(void)
{
    if (!dir[0]) io_tmpdir(dir, sizeof dir);
    assert_true(dir[0] != '\0');
}

/* Entry values for (chunk, depth): distinct per chunk and depth, with bit
 * patterns a float conversion would lose (NaN payload, -0, subnormal). */
static void fill(float *x, long chunk, int depth)
{
    for (int i = 0; i < E; i++) x[i] = (float)chunk * 100.0f + (float)depth + (float)i / 64.0f;
    uint32_t nan_payload = 0x7fc01234u + (uint32_t)chunk;
    memcpy(&x[1], &nan_payload, sizeof nan_payload);
    x[2] = -0.0f;
    x[3] = 1e-42f; /* subnormal */
}

static int entries_in_dir(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static void parse_modes(void **state)
{
    (void)state;
    cache_mode m = CACHE_OFF;
    ST_ASSERT_OK(cache_mode_parse("memory", &m));
    assert_int_equal(m, CACHE_MEMORY);
    ST_ASSERT_OK(cache_mode_parse("disk", &m));
    assert_int_equal(m, CACHE_DISK);
    ST_ASSERT_OK(cache_mode_parse("off", &m));
    assert_int_equal(m, CACHE_OFF);
    m = CACHE_DISK;
    assert_int_equal(cache_mode_parse("ram", &m), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "'ram'"));
    assert_int_equal(cache_mode_parse("Memory", &m), ST_EUSAGE);
    assert_int_equal(m, CACHE_DISK); /* untouched */
}

/* The behaviour every storing mode shares. */
static void check_mode(cache_mode mode)
{
    make_dir();
    act_cache c;
    ST_ASSERT_OK(cache_init(&c, mode, CACHE_F32, all_ids, N, T, D, dir, 3));
    assert_int_equal(c.entry, (size_t)E);
    assert_int_equal(c.hits, 0);
    assert_int_equal(c.misses, 0);
    float x[E], y[E], sentinel[E];
    int depth = 99;

    /* every entry starts empty; dst is left alone */
    for (int i = 0; i < E; i++) sentinel[i] = -7.25f;
    for (long k = 0; k < N; k++) {
        memcpy(y, sentinel, sizeof y);
        depth = 99;
        ST_ASSERT_OK(cache_get(&c, k, y, &depth));
        assert_int_equal(depth, -1);
        assert_memory_equal(y, sentinel, sizeof y);
    }
    assert_int_equal(c.misses, N);
    assert_int_equal(c.hits, 0);

    /* put a few entries out of order, each with its own depth */
    const long chunks[] = {4, 0, 5, 2};
    for (int i = 0; i < 4; i++) {
        fill(x, chunks[i], i + 1);
        ST_ASSERT_OK(cache_put(&c, chunks[i], x, i + 1));
    }
    for (int i = 0; i < 4; i++) {
        fill(x, chunks[i], i + 1);
        memcpy(y, sentinel, sizeof y);
        ST_ASSERT_OK(cache_get(&c, chunks[i], y, &depth));
        assert_int_equal(depth, i + 1);
        assert_memory_equal(x, y, sizeof x); /* bit for bit */
    }
    /* the entries in between are still empty */
    memcpy(y, sentinel, sizeof y);
    ST_ASSERT_OK(cache_get(&c, 1, y, &depth));
    assert_int_equal(depth, -1);
    assert_memory_equal(y, sentinel, sizeof y);
    ST_ASSERT_OK(cache_get(&c, 3, y, &depth));
    assert_int_equal(depth, -1);
    assert_int_equal(c.hits, 4);
    assert_int_equal(c.misses, N + 2);

    /* advancing an entry: the new depth and values replace the old */
    fill(x, 5, 9);
    ST_ASSERT_OK(cache_put(&c, 5, x, 9));
    ST_ASSERT_OK(cache_get(&c, 5, y, &depth));
    assert_int_equal(depth, 9);
    assert_memory_equal(x, y, sizeof x);
    fill(x, 0, 2); /* a neighbour is unchanged */
    ST_ASSERT_OK(cache_get(&c, 0, y, &depth));
    assert_int_equal(depth, 2);
    assert_memory_equal(x, y, sizeof x);
    /* depth 0 (x_0, the substrate's output) is an entry like any other */
    fill(x, 1, 0);
    ST_ASSERT_OK(cache_put(&c, 1, x, 0));
    ST_ASSERT_OK(cache_get(&c, 1, y, &depth));
    assert_int_equal(depth, 0);
    assert_memory_equal(x, y, sizeof x);

    /* reset forgets every entry and the counters */
    cache_reset(&c);
    assert_int_equal(c.hits, 0);
    assert_int_equal(c.misses, 0);
    for (long k = 0; k < N; k++) {
        memcpy(y, sentinel, sizeof y);
        ST_ASSERT_OK(cache_get(&c, k, y, &depth));
        assert_int_equal(depth, -1);
        assert_memory_equal(y, sentinel, sizeof y);
    }
    assert_int_equal(c.misses, N);
    /* and works again after the reset */
    fill(x, 3, 4);
    ST_ASSERT_OK(cache_put(&c, 3, x, 4));
    ST_ASSERT_OK(cache_get(&c, 3, y, &depth));
    assert_int_equal(depth, 4);
    assert_memory_equal(x, y, sizeof x);
    assert_int_equal(c.hits, 1);

    int fd = c.fd;
    if (mode == CACHE_DISK) {
        /* the data lives in the scratch file, which has no name */
        assert_null(c.mem);
        assert_true(fd >= 0);
        struct stat sb;
        assert_int_equal(fstat(fd, &sb), 0);
        assert_int_equal(sb.st_nlink, 0);
        assert_true(sb.st_size >= (off_t)(4 * E * sizeof(float)));
        assert_int_equal(entries_in_dir(), 0);
    } else {
        assert_non_null(c.mem);
        assert_int_equal(fd, -1);
    }
    cache_free(&c);
    assert_null(c.mem);
    assert_null(c.depth);
    assert_int_equal(c.fd, -1);
    if (fd >= 0) assert_true(fcntl(fd, F_GETFD) == -1 && errno == EBADF); /* closed */
    cache_free(&c); /* twice is safe */
    assert_int_equal(entries_in_dir(), 0);
}

static void memory_mode(void **state)
{
    (void)state;
    check_mode(CACHE_MEMORY);
}

static void disk_mode(void **state)
{
    (void)state;
    check_mode(CACHE_DISK);
}

static void disk_scratch_file_is_unlinked_at_init(void **state)
{
    (void)state;
    make_dir();
    act_cache a, b;
    ST_ASSERT_OK(cache_init(&a, CACHE_DISK, CACHE_F32, all_ids, N, T, D, dir, 0));
    ST_ASSERT_OK(cache_init(&b, CACHE_DISK, CACHE_F32, all_ids, N, T, D, dir, 0)); /* same rank twice: separate files */
    assert_int_equal(entries_in_dir(), 0);
    assert_true(a.fd >= 0 && b.fd >= 0 && a.fd != b.fd);
    float x[E], y[E];
    int depth;
    fill(x, 2, 1);
    ST_ASSERT_OK(cache_put(&a, 2, x, 1));
    fill(y, 2, 5);
    ST_ASSERT_OK(cache_put(&b, 2, y, 5));
    ST_ASSERT_OK(cache_get(&a, 2, y, &depth));
    assert_int_equal(depth, 1);
    assert_memory_equal(x, y, sizeof x);
    cache_free(&a);
    cache_free(&b);
    assert_int_equal(entries_in_dir(), 0);
}

static void off_mode_is_a_no_op(void **state)
{
    (void)state;
    act_cache c;
    /* off needs no scratch dir at all */
    ST_ASSERT_OK(cache_init(&c, CACHE_OFF, CACHE_F32, all_ids, N, T, D, "/nonexistent/strata", 0));
    assert_null(c.depth);
    assert_null(c.mem);
    assert_int_equal(c.fd, -1);
    float x[E], y[E], sentinel[E];
    for (int i = 0; i < E; i++) sentinel[i] = 5.5f;
    fill(x, 1, 1);
    ST_ASSERT_OK(cache_put(&c, 1, x, 1));
    assert_null(c.mem);
    memcpy(y, sentinel, sizeof y);
    int depth = 42;
    ST_ASSERT_OK(cache_get(&c, 1, y, &depth));
    assert_int_equal(depth, -1);
    assert_memory_equal(y, sentinel, sizeof y);
    assert_int_equal(c.hits, 0);
    cache_reset(&c);
    cache_free(&c);
}

static void unwritable_scratch_dir_is_refused(void **state)
{
    (void)state;
    make_dir();
    char file[700], sub[700];
    snprintf(file, sizeof file, "%s/a-file", dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(sub, sizeof sub, "%s/missing/deeper", dir);
    const char *bad[3] = {sub, file, NULL};
    /* a read-only directory stops everyone but root */
    char ro[700];
    snprintf(ro, sizeof ro, "%s/read-only", dir);
    if (geteuid() != 0) {
        assert_int_equal(mkdir(ro, 0500), 0);
        bad[2] = ro;
    }
    for (int i = 0; i < 3 && bad[i]; i++) {
        act_cache c;
        memset(&c, 0x5a, sizeof c);
        st_clear_error();
        st_status st = cache_init(&c, CACHE_DISK, CACHE_F32, all_ids, N, T, D, bad[i], 0);
        const char *msg = st_last_error();
        int ok = st == ST_EIO && strstr(msg, bad[i]) && strstr(msg, "scratch");
        if (!ok) print_error("%s: %s: %s\n", bad[i], st_status_name(st), msg);
        assert_true(ok);
        /* nothing left open or allocated */
        assert_null(c.depth);
        assert_null(c.mem);
        assert_int_equal(c.fd, -1);
        cache_free(&c);
    }
    if (bad[2]) chmod(ro, 0700);
}


/* Only the ids given are cached: another id is a miss, never stored, and
 * leaves the entries alone; repeats in the list are one entry. */
static void check_sharded(cache_mode mode)
{
    make_dir();
    const long ids[] = {907, 3, 12, 3, 40};
    act_cache c;
    ST_ASSERT_OK(cache_init(&c, mode, CACHE_F32, ids, 5, T, D, dir, 1));
    assert_int_equal(c.n, 4);
    float x[E], y[E], sentinel[E];
    for (int i = 0; i < E; i++) sentinel[i] = 3.5f;
    int depth = 0;
    for (int i = 0; i < 5; i++) {
        fill(x, ids[i], i);
        ST_ASSERT_OK(cache_put(&c, ids[i], x, i));
    }
    fill(x, 4, 2);
    ST_ASSERT_OK(cache_put(&c, 4, x, 2)); /* not one of the cache's: dropped */
    memcpy(y, sentinel, sizeof y);
    ST_ASSERT_OK(cache_get(&c, 4, y, &depth));
    assert_int_equal(depth, -1);
    assert_memory_equal(y, sentinel, sizeof y);
    ST_ASSERT_OK(cache_get(&c, 0, y, &depth));
    assert_int_equal(depth, -1);
    ST_ASSERT_OK(cache_get(&c, 100000, y, &depth));
    assert_int_equal(depth, -1);
    const long want[] = {907, 12, 3, 40};
    const int wdepth[] = {0, 2, 3, 4}; /* chunk 3 put twice: the second (depth 3) holds */
    for (int i = 0; i < 4; i++) {
        fill(x, want[i], wdepth[i]);
        ST_ASSERT_OK(cache_get(&c, want[i], y, &depth));
        assert_int_equal(depth, wdepth[i]);
        assert_memory_equal(x, y, sizeof x);
    }
    assert_int_equal(c.hits, 4);
    assert_int_equal(c.misses, 3);
    if (mode == CACHE_DISK) {
        struct stat sb;
        assert_int_equal(fstat(c.fd, &sb), 0);
        assert_true(sb.st_size <= (off_t)(4 * E * sizeof(float))); /* 4 entries, not 908 */
    }
    cache_free(&c);
    /* an empty list is a cache that holds nothing */
    ST_ASSERT_OK(cache_init(&c, mode, CACHE_F32, NULL, 0, T, D, dir, 1));
    ST_ASSERT_OK(cache_put(&c, 1, x, 1));
    ST_ASSERT_OK(cache_get(&c, 1, y, &depth));
    assert_int_equal(depth, -1);
    cache_free(&c);
}

static void sharded_memory(void **state)
{
    (void)state;
    check_sharded(CACHE_MEMORY);
}

static void sharded_disk(void **state)
{
    (void)state;
    check_sharded(CACHE_DISK);
}

/* bfloat16 entries: each value comes back as op_bf16_round of what was
 * stored (a value already in bf16 exactly), in half the bytes. */
static void check_bf16(cache_mode mode)
{
    make_dir();
    cache_dtype dt = CACHE_F32;
    ST_ASSERT_OK(cache_dtype_parse("bfloat16", &dt));
    assert_int_equal(dt, CACHE_BF16);
    act_cache c;
    ST_ASSERT_OK(cache_init(&c, mode, dt, all_ids, N, T, D, dir, 2));
    assert_int_equal(c.bytes, (size_t)E * 2);
    assert_true(cache_bytes(N, T, D, CACHE_BF16) * 2 == cache_bytes(N, T, D, CACHE_F32));
    float x[E], y[E];
    int depth = -1, rounded = 0;
    for (int i = 0; i < E; i++) x[i] = 1.0f + (float)i / 3.0f - (float)(i % 4) * 7.77f;
    x[0] = -0.0f;
    x[1] = 1.0f + 1.0f / 256.0f; /* a tie: rounds to even (1.0) */
    x[2] = 3.0e38f;
    ST_ASSERT_OK(cache_put(&c, 2, x, 3));
    ST_ASSERT_OK(cache_get(&c, 2, y, &depth));
    assert_int_equal(depth, 3);
    for (int i = 0; i < E; i++) {
        float r = op_bf16_round(x[i]);
        assert_memory_equal(&y[i], &r, sizeof r);
        rounded += y[i] != x[i];
    }
    assert_true(rounded > E / 2); /* the rounding is real, not a float32 copy */
    assert_float_equal(y[1], 1.0f, 0.0f);
    assert_true(signbit(y[0]) && y[0] == 0.0f);
    /* stored again from the rounded values: exactly those */
    ST_ASSERT_OK(cache_put(&c, 5, y, 4));
    ST_ASSERT_OK(cache_get(&c, 5, x, &depth));
    assert_memory_equal(x, y, sizeof x);
    if (mode == CACHE_DISK) {
        struct stat sb;
        assert_int_equal(fstat(c.fd, &sb), 0);
        assert_int_equal(sb.st_size, (off_t)(6 * E * 2)); /* entry 5 ends the file */
    }
    cache_free(&c);
    st_clear_error();
    assert_int_equal(cache_dtype_parse("float16", &dt), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "grow.cache_dtype"));
    assert_non_null(strstr(st_last_error(), "'float16'"));
}

static void bf16_memory(void **state)
{
    (void)state;
    check_bf16(CACHE_MEMORY);
}

static void bf16_disk(void **state)
{
    (void)state;
    check_bf16(CACHE_DISK);
}

static void remove_the_files(void **state)
{
    (void)state;
    if (dir[0]) io_tmpdir_remove(dir);
}

static const struct CMUnitTest cache_tests[] = {
    cmocka_unit_test(parse_modes),
    cmocka_unit_test(memory_mode),
    cmocka_unit_test(disk_mode),
    cmocka_unit_test(disk_scratch_file_is_unlinked_at_init),
    cmocka_unit_test(off_mode_is_a_no_op),
    cmocka_unit_test(unwritable_scratch_dir_is_refused),
    cmocka_unit_test(sharded_memory),
    cmocka_unit_test(sharded_disk),
    cmocka_unit_test(bf16_memory),
    cmocka_unit_test(bf16_disk),
    cmocka_unit_test(remove_the_files),
};

ST_TEST_MAIN(cache_tests)
