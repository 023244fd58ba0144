/* test_safetensors.c -- the safetensors writer and its validating reader:
 * a round trip keeps names, shapes and values bit for bit; every damage a
 * stranger's file may carry (header length, JSON, dtype, shape, offsets,
 * overlap, gap, trailing bytes, duplicate keys, metadata) is ST_EDATA naming
 * the file and the tensor. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "strata/safetensors.h"

static void round_trip(void **state)
{
    (void)state;
    char path[] = "/tmp/strata-sft-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f}, b[3] = {7, 8, 9};
    sft_tensor t[3] = {
        {.name = "m.w", .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "v", .ndim = 1, .shape = {3}, .data = b},
        {.name = "empty", .ndim = 2, .shape = {0, 4}, .data = b},
    };
    const char *meta[] = {"format", "strata-export", "note", "x"};
    ST_ASSERT_OK(sft_write(path, t, 3, meta, 2));
    sft_file *f = NULL;
    ST_ASSERT_OK(sft_read(path, &f));
    assert_int_equal(sft_count(f), 3);
    assert_string_equal(sft_meta(f, "format"), "strata-export");
    assert_null(sft_meta(f, "missing"));
    const float *d = NULL;
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s3[1] = {3}, s04[2] = {0, 4};
    assert_int_equal(sft_get(f, "m.w", 2, s32, &d), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "has shape [2, 3], expected [3, 2]"));
    ST_ASSERT_OK(sft_get(f, "m.w", 2, s23, &d));
    assert_memory_equal(d, a, sizeof a);
    assert_non_null(sft_unused(f));
    ST_ASSERT_OK(sft_get(f, "v", 1, s3, &d));
    assert_memory_equal(d, b, sizeof b);
    ST_ASSERT_OK(sft_get(f, "empty", 2, s04, &d));
    assert_null(sft_unused(f));
    assert_int_equal(sft_get(f, "nope", 1, s3, &d), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "has no tensor 'nope'"));
    sft_free(f);
    unlink(path);
}

/* A file of header text h (length from the text unless hl != 0) and n data bytes. */
static st_status parse(const char *h, uint64_t hl, size_t n)
{
    size_t len = strlen(h);
    uint8_t *buf = calloc(8 + len + n + 1, 1);
    assert_non_null(buf);
    if (!hl) hl = len;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, h, len);
    sft_file *f = NULL;
    st_status st = sft_parse(buf, 8 + len + n, "x.safetensors", &f);
    if (st == ST_OK) assert_non_null(f);
    else assert_null(f);
    sft_free(f);
    free(buf);
    return st;
}

#define BAD(h, hl, n, msg)                                                           \
    do {                                                                             \
        assert_int_equal(parse(h, hl, n), ST_EDATA);                                 \
        if (!strstr(st_last_error(), msg)) fail_msg("message '%s' lacks '%s'", st_last_error(), msg); \
        assert_non_null(strstr(st_last_error(), "x.safetensors"));                   \
    } while (0)

static void hostile(void **state)
{
    (void)state;
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    ST_ASSERT_OK(parse(good, 0, 8));
    ST_ASSERT_OK(parse("{}", 0, 0));
    BAD(good, 0, 7, "tensor 'a'");                          /* truncated */
    BAD(good, 0, 9, "cover");                              /* trailing byte */
    BAD(good, 1u << 30, 8, "header length");               /* beyond the file */
    BAD(good, UINT64_MAX, 8, "header length");             /* overflow */
    BAD("{\"a\":", 0, 0, "not valid JSON");
    BAD("[1,2]", 0, 0, "not a JSON object");
    BAD("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 0, 4, "dtype F16");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 12, "tensor 'a' has 8 data bytes but its shape needs 12");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 0, 8, "bad shape");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}", 0, 8, "tensor 'a'");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8, "data_offsets");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99]}}", 0, 8, "data_offsets");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12, "overlaps");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 8, "belong to no tensor");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, "not valid JSON");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 0, 8, "exactly");
    BAD("{\"a\":3}", 0, 0, "not a JSON object");
    BAD("{\"__metadata__\":{\"k\":1}}", 0, 0, "__metadata__ key 'k'");
    BAD("{\"__metadata__\":[]}", 0, 0, "__metadata__ is not");
    BAD("{\"\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, 0, "tensor name");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 0, 4, "dimensions");
    uint8_t tiny[5] = {0};
    sft_file *f = NULL;
    assert_int_equal(sft_parse(tiny, 5, "x.safetensors", &f), ST_EDATA);
    assert_int_equal(sft_read("/nonexistent/m.safetensors", &f), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "/nonexistent/m.safetensors"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(round_trip),
    cmocka_unit_test(hostile),
};

ST_TEST_MAIN(tests)
