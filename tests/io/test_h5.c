/* test_h5.c -- round trips of every h5 helper, on 1 and 3 ranks. */
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5_hl.h>

#include "harness.h"
#include "io_test.h"
#include "strata/h5.h"

#define W MPI_COMM_WORLD

static void file_path(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* A fresh shared temp dir and a file name in it. */
static void tmp_file(char *dir, size_t dcap, char *path, size_t pcap, const char *name)
{
    io_tmpdir(dir, dcap);
    file_path(path, pcap, dir, name);
}

static void root_attributes_and_kind_check(void **state)
{
    (void)state;
    char dir[512], path[600], other[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "a.h5");
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(h5_close(&f));

    ST_ASSERT_OK(h5_open_kind(&f, path, W, H5_KIND_CHECKPOINT, ST_ECKPT));
    char *s = NULL;
    int64_t v = 0;
    ST_ASSERT_OK(h5_attr_get_str(&f, "/", "format", &s));
    assert_string_equal(s, "strata");
    free(s);
    ST_ASSERT_OK(h5_attr_get_str(&f, "", "kind", &s));
    assert_string_equal(s, "checkpoint");
    free(s);
    /* checkpoints are 2 since /state order_slots (docs/FORMAT.md) */
    ST_ASSERT_OK(h5_attr_get_i64(&f, "/", "format_version", &v));
    assert_int_equal(v, 2);
    assert_int_equal(h5_format_version(H5_KIND_CHECKPOINT), 2);
    ST_ASSERT_OK(h5_attr_get_str(&f, "/", "strata_version", &s));
    assert_true(strlen(s) > 0);
    free(s);
    ST_ASSERT_OK(h5_attr_get_str(&f, "/", "created_utc", &s));
    /* 2026-11-29T20:07:41Z */
    assert_int_equal(strlen(s), 20);
    assert_int_equal(s[4], '-');
    assert_int_equal(s[10], 'T');
    assert_int_equal(s[19], 'Z');
    free(s);
    ST_ASSERT_OK(h5_close(&f));

    /* Another kind: refused with the caller's status, naming the path. */
    assert_int_equal(h5_open_kind(&f, path, W, H5_KIND_DATASET, ST_EDATA), ST_EDATA);
    assert_non_null(strstr(st_last_error(), path));
    assert_non_null(strstr(st_last_error(), "checkpoint"));
    assert_non_null(strstr(st_last_error(), "dataset"));
    assert_int_equal(f.id, H5I_INVALID_HID);
    ST_ASSERT_OK(h5_open_kind(&f, path, W, NULL, ST_EDATA)); /* any kind */
    ST_ASSERT_OK(h5_close(&f));

    /* A checkpoint of format_version 1 (before order_slots) still opens. */
    ST_ASSERT_OK(h5_open(&f, path, W, true));
    ST_ASSERT_OK(h5_attr_set_i64(&f, "/", "format_version", 1));
    ST_ASSERT_OK(h5_close(&f));
    ST_ASSERT_OK(h5_open_kind(&f, path, W, H5_KIND_CHECKPOINT, ST_ECKPT));
    ST_ASSERT_OK(h5_close(&f));

    /* A newer format_version is refused, by a reader of any kind too,
     * naming the file, its version and the newest known. */
    ST_ASSERT_OK(h5_open(&f, path, W, true));
    ST_ASSERT_OK(h5_attr_set_i64(&f, "/", "format_version", 3));
    ST_ASSERT_OK(h5_close(&f));
    assert_int_equal(h5_open_kind(&f, path, W, H5_KIND_CHECKPOINT, ST_ECKPT), ST_ECKPT);
    assert_non_null(strstr(st_last_error(), "format_version 3"));
    assert_non_null(strstr(st_last_error(), "(2)"));
    assert_non_null(strstr(st_last_error(), path));
    assert_int_equal(f.id, H5I_INVALID_HID);
    assert_int_equal(h5_open_kind(&f, path, W, NULL, ST_EDATA), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "format_version 3"));

    /* Kinds whose meaning did not change stay at 1 and refuse 2. */
    static const char *const ones[] = {H5_KIND_DATASET, H5_KIND_TOKENIZER, H5_KIND_SUBSTRATE,
                                       H5_KIND_ENSEMBLE};
    file_path(other, sizeof other, dir, "one.h5");
    for (size_t i = 0; i < sizeof ones / sizeof ones[0]; i++) {
        assert_int_equal(h5_format_version(ones[i]), 1);
        ST_ASSERT_OK(h5_create(&f, other, W, ones[i]));
        ST_ASSERT_OK(h5_attr_get_i64(&f, "/", "format_version", &v));
        assert_int_equal(v, 1);
        ST_ASSERT_OK(h5_attr_set_i64(&f, "/", "format_version", 2));
        ST_ASSERT_OK(h5_close(&f));
        assert_int_equal(h5_open_kind(&f, other, W, ones[i], ST_EDATA), ST_EDATA);
        assert_non_null(strstr(st_last_error(), "format_version 2"));
        assert_non_null(strstr(st_last_error(), "(1)"));
        assert_non_null(strstr(st_last_error(), other));
    }

    /* An HDF5 file that is not a strata file. */
    file_path(other, sizeof other, dir, "plain.h5");
    if (st_test_rank() == 0) {
        hid_t id = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        H5Fclose(id);
    }
    MPI_Barrier(W);
    assert_int_equal(h5_open_kind(&f, other, W, NULL, ST_EDATA), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "not a strata file"));
    assert_non_null(strstr(st_last_error(), other));

    /* Not HDF5 at all, and a missing file. */
    file_path(other, sizeof other, dir, "text.h5");
    if (st_test_rank() == 0) {
        FILE *fp = fopen(other, "w");
        fputs("hello, not hdf5\n", fp);
        fclose(fp);
    }
    MPI_Barrier(W);
    assert_int_equal(h5_open_kind(&f, other, W, NULL, ST_EDATA), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "not an HDF5 file"));
    assert_non_null(strstr(st_last_error(), other));
    file_path(other, sizeof other, dir, "missing.h5");
    assert_int_equal(h5_open_kind(&f, other, W, NULL, ST_EDATA), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "No such file"));

    /* Unwritable place: the message names the path. */
    assert_int_equal(h5_create(&f, "/nonexistent-dir/x.h5", W, H5_KIND_DATASET), ST_EHDF5);
    assert_non_null(strstr(st_last_error(), "/nonexistent-dir/x.h5"));
    io_tmpdir_remove(dir);
}

static void attributes_round_trip(void **state)
{
    (void)state;
    char dir[512], path[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "attr.h5");
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_DATASET));
    ST_ASSERT_OK(h5_group(&f, "a/b/c"));
    const char *utf8 = "Glyph \xe2\x88\x91 font: GNU Unifont 15.1";
    ST_ASSERT_OK(h5_attr_set_str(&f, "a/b/c", "font", utf8));
    ST_ASSERT_OK(h5_attr_set_str(&f, "a/b/c", "empty", ""));
    ST_ASSERT_OK(h5_attr_set_i64(&f, "a/b", "big", INT64_C(-9007199254740993)));
    ST_ASSERT_OK(h5_attr_set_f64(&f, "a", "pi", 3.141592653589793));
    const int32_t arr[5] = {1, -2, 3, -4, 2147483647};
    ST_ASSERT_OK(h5_attr_set_array(&f, "/a/b/c", "arr", H5_DT_I32, 5, arr));
    const float farr[3] = {0.5f, -1.25f, 1e30f};
    ST_ASSERT_OK(h5_attr_set_array(&f, "a", "farr", H5_DT_F32, 3, farr));
    /* Overwrite with another type and length. */
    ST_ASSERT_OK(h5_attr_set_str(&f, "a", "pi", "not a number any more"));
    ST_ASSERT_OK(h5_close(&f));

    ST_ASSERT_OK(h5_open(&f, path, W, false));
    char *s = NULL;
    ST_ASSERT_OK(h5_attr_get_str(&f, "a/b/c", "font", &s));
    assert_string_equal(s, utf8);
    free(s);
    ST_ASSERT_OK(h5_attr_get_str(&f, "a/b/c", "empty", &s));
    assert_string_equal(s, "");
    free(s);
    ST_ASSERT_OK(h5_attr_get_str(&f, "a", "pi", &s));
    assert_string_equal(s, "not a number any more");
    free(s);
    int64_t iv = 0;
    ST_ASSERT_OK(h5_attr_get_i64(&f, "a/b", "big", &iv));
    assert_true(iv == INT64_C(-9007199254740993));
    double dv = 0;
    ST_ASSERT_OK(h5_attr_get_f64(&f, "a/b", "big", &dv)); /* ints convert to double */
    assert_true(dv == -9007199254740992.0);
    int32_t back[8] = {0};
    size_t n = 0;
    ST_ASSERT_OK(h5_attr_get_array(&f, "a/b/c", "arr", H5_DT_I32, 8, back, &n));
    assert_int_equal(n, 5);
    assert_memory_equal(back, arr, sizeof arr);
    double dback[3];
    ST_ASSERT_OK(h5_attr_get_array(&f, "a", "farr", H5_DT_F64, 3, dback, &n));
    assert_int_equal(n, 3);
    assert_true(dback[0] == 0.5 && dback[1] == -1.25 && dback[2] == (double)1e30f);
    /* Too small a buffer, wrong types, missing names: clear errors. */
    assert_int_equal(h5_attr_get_array(&f, "a/b/c", "arr", H5_DT_I32, 4, back, &n), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "arr"));
    assert_non_null(strstr(st_last_error(), path));
    assert_int_equal(h5_attr_get_i64(&f, "a", "farr", &iv), ST_EDATA);
    assert_int_equal(h5_attr_get_i64(&f, "a/b/c", "font", &iv), ST_EDATA);
    assert_int_equal(h5_attr_get_str(&f, "a/b", "big", &s), ST_EDATA);
    assert_int_equal(h5_attr_get_str(&f, "a/b", "nope", &s), ST_EHDF5);
    assert_non_null(strstr(st_last_error(), "nope"));
    assert_non_null(strstr(st_last_error(), "a/b"));
    bool e = true;
    ST_ASSERT_OK(h5_attr_exists(&f, "a/b", "nope", &e));
    assert_false(e);
    ST_ASSERT_OK(h5_attr_exists(&f, "a/b", "big", &e));
    assert_true(e);
    ST_ASSERT_OK(h5_exists(&f, "a/b/c", &e));
    assert_true(e);
    ST_ASSERT_OK(h5_exists(&f, "a/x/c", &e));
    assert_false(e);
    ST_ASSERT_OK(h5_exists(&f, "/", &e));
    assert_true(e);
    ST_ASSERT_OK(h5_close(&f));
    io_tmpdir_remove(dir);
}

static void strings_round_trip(void **state)
{
    (void)state;
    char dir[512], path[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "str.h5");
    /* A config-like text with UTF-8, newlines and '=' of a few KiB. */
    size_t cap = 6000, k = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; k + 64 < cap; i++)
        k += (size_t)snprintf(text + k, cap - k, "[sec%d]\nkey_%d = v\xc3\xa4lue %d\n", i, i, i * 7);
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(h5_write_string(&f, "/config", text));
    ST_ASSERT_OK(h5_write_string(&f, "deep/er/empty", ""));
    assert_int_equal(h5_write_string(&f, "/config", "again"), ST_EHDF5);
    assert_non_null(strstr(st_last_error(), "/config"));
    ST_ASSERT_OK(h5_close(&f));
    ST_ASSERT_OK(h5_open(&f, path, W, false));
    char *s = NULL;
    ST_ASSERT_OK(h5_read_string(&f, "config", &s));
    assert_string_equal(s, text);
    free(s);
    ST_ASSERT_OK(h5_read_string(&f, "/deep/er/empty", &s));
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(h5_read_string(&f, "/missing", &s), ST_EHDF5);
    assert_non_null(strstr(st_last_error(), "/missing"));
    assert_non_null(strstr(st_last_error(), path));
    ST_ASSERT_OK(h5_close(&f));
    free(text);
    io_tmpdir_remove(dir);
}

/* The dataset's creation properties: chunked with Fletcher32? */
static void layout_of(h5_file *f, const char *path, bool *chunked, bool *fletcher, int *nchunk_dims,
                      hsize_t *chunk)
{
    hid_t d = H5Dopen2(f->id, path, H5P_DEFAULT);
    hid_t p = H5Dget_create_plist(d);
    *chunked = H5Pget_layout(p) == H5D_CHUNKED;
    *fletcher = false;
    int nf = H5Pget_nfilters(p);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0;
        size_t nelem = 0;
        unsigned conf = 0;
        if (H5Pget_filter2(p, (unsigned)i, &flags, &nelem, NULL, 0, NULL, &conf) == H5Z_FILTER_FLETCHER32)
            *fletcher = true;
    }
    *nchunk_dims = *chunked ? H5Pget_chunk(p, H5_MAX_RANK, chunk) : 0;
    H5Pclose(p);
    H5Dclose(d);
}

static void typed_arrays_round_trip(void **state)
{
    (void)state;
    char dir[512], path[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "arr.h5");

    /* [3][4][5] in every dtype, values that survive each type. */
    enum { A = 3, B = 4, C = 5, N = A * B * C };
    const size_t dims3[3] = {A, B, C};
    float f32[N];
    double f64[N];
    int32_t i32[N];
    int64_t i64[N];
    uint8_t u8[N];
    for (int i = 0; i < N; i++) {
        f32[i] = (float)i * 0.25f - 3.0f;
        f64[i] = (double)i / 7.0;
        i32[i] = i * 1000003 - 7;
        i64[i] = (int64_t)i * INT64_C(1000000000007);
        u8[i] = (uint8_t)(i * 37);
    }
    /* A tensor larger than one chunk: [300][1100] float32 = 1.3 MB. */
    const size_t big_dims[2] = {300, 1100};
    float *big = malloc(sizeof(float) * 300 * 1100);
    assert_non_null(big);
    for (size_t i = 0; i < 300 * 1100; i++) big[i] = (float)(i % 9973) - 0.5f;

    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(h5_write(&f, "model/block_001/attn_qkv_w", H5_DT_F32, 3, dims3, f32));
    ST_ASSERT_OK(h5_write(&f, "t/f64", H5_DT_F64, 3, dims3, f64));
    ST_ASSERT_OK(h5_write(&f, "t/i32", H5_DT_I32, 3, dims3, i32));
    ST_ASSERT_OK(h5_write(&f, "t/i64", H5_DT_I64, 3, dims3, i64));
    ST_ASSERT_OK(h5_write(&f, "t/u8", H5_DT_U8, 3, dims3, u8));
    ST_ASSERT_OK(h5_write(&f, "t/big", H5_DT_F32, 2, big_dims, big));
    const double scalar = 2.5;
    ST_ASSERT_OK(h5_write(&f, "t/scalar", H5_DT_F64, 0, NULL, &scalar));
    const size_t zero_dims[2] = {0, 7};
    ST_ASSERT_OK(h5_write(&f, "t/empty", H5_DT_F32, 2, zero_dims, NULL));
    assert_int_equal(h5_write(&f, "t/u8", H5_DT_U8, 3, dims3, u8), ST_EHDF5);
    assert_non_null(strstr(st_last_error(), "t/u8"));
    ST_ASSERT_OK(h5_close(&f));

    ST_ASSERT_OK(h5_open(&f, path, W, false));
    int r = 0;
    size_t dims[H5_MAX_RANK];
    void *p = NULL;
    ST_ASSERT_OK(h5_read(&f, "/model/block_001/attn_qkv_w", H5_DT_F32, &r, dims, &p));
    assert_int_equal(r, 3);
    assert_true(dims[0] == A && dims[1] == B && dims[2] == C);
    assert_memory_equal(p, f32, sizeof f32);
    free(p);
    ST_ASSERT_OK(h5_read(&f, "t/f64", H5_DT_F64, &r, dims, &p));
    assert_memory_equal(p, f64, sizeof f64);
    free(p);
    ST_ASSERT_OK(h5_read(&f, "t/i64", H5_DT_I64, &r, dims, &p));
    assert_memory_equal(p, i64, sizeof i64);
    free(p);
    /* Caller buffers, with type conversion on the way. */
    int32_t i32b[N];
    uint8_t u8b[N];
    double convb[N];
    ST_ASSERT_OK(h5_read_into(&f, "t/i32", H5_DT_I32, 3, dims3, i32b));
    assert_memory_equal(i32b, i32, sizeof i32);
    ST_ASSERT_OK(h5_read_into(&f, "t/u8", H5_DT_U8, 3, dims3, u8b));
    assert_memory_equal(u8b, u8, sizeof u8);
    ST_ASSERT_OK(h5_read_into(&f, "t/u8", H5_DT_F64, 3, dims3, convb));
    for (int i = 0; i < N; i++) assert_true(convb[i] == (double)u8[i]);
    const size_t wrong[3] = {A, C, B};
    assert_int_equal(h5_read_into(&f, "t/i32", H5_DT_I32, 3, wrong, i32b), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "[3,4,5]"));
    assert_non_null(strstr(st_last_error(), "[3,5,4]"));
    assert_non_null(strstr(st_last_error(), "t/i32"));
    ST_ASSERT_OK(h5_read(&f, "t/big", H5_DT_F32, &r, dims, &p));
    assert_int_equal(r, 2);
    assert_memory_equal(p, big, sizeof(float) * 300 * 1100);
    free(p);
    double sc = 0;
    ST_ASSERT_OK(h5_read(&f, "t/scalar", H5_DT_F64, &r, dims, &p));
    assert_int_equal(r, 0);
    sc = *(double *)p;
    free(p);
    assert_true(sc == 2.5);
    ST_ASSERT_OK(h5_read(&f, "t/empty", H5_DT_F32, &r, dims, &p));
    assert_int_equal(r, 2);
    assert_true(dims[0] == 0 && dims[1] == 7);
    assert_null(p);

    /* The storage rule: chunked + Fletcher32, chunks at most 1 MiB. */
    bool chunked, fl;
    int nd;
    hsize_t ch[H5_MAX_RANK];
    layout_of(&f, "t/u8", &chunked, &fl, &nd, ch);
    assert_true(chunked && fl);
    assert_int_equal(nd, 3);
    assert_true(ch[0] == A && ch[1] == B && ch[2] == C);
    layout_of(&f, "t/big", &chunked, &fl, &nd, ch);
    assert_true(chunked && fl);
    assert_true(ch[1] == 1100 && ch[0] * 1100 * 4 <= H5_CHUNK_BYTES && ch[0] >= 200);
    layout_of(&f, "t/scalar", &chunked, &fl, &nd, ch);
    assert_false(chunked);

    size_t nds = 0;
    ST_ASSERT_OK(h5_read_all(&f, &nds));
    assert_int_equal(nds, 8);
    ST_ASSERT_OK(h5_close(&f));
    free(big);
    io_tmpdir_remove(dir);
}

/* Uneven row split: on 3 ranks rank 0 gets 4 rows, rank 1 none, rank 2 the rest. */
static void my_rows(size_t n, size_t *row0, size_t *nrows)
{
    int rank = st_test_rank(), size = st_test_size();
    if (size == 1) {
        *row0 = 0;
        *nrows = n;
        return;
    }
    size_t first = n < 4 ? n : 4;
    if (rank == 0) {
        *row0 = 0;
        *nrows = first;
    } else if (rank == size - 1) {
        *row0 = first;
        *nrows = n - first;
    } else {
        *row0 = first;
        *nrows = 0;
    }
}

static double cell(size_t i, size_t j) { return (double)i * 1000.0 + (double)j + 0.5; }

static void rows_round_trip_case(size_t n, size_t c)
{
    char dir[512], path[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "rows.h5");
    size_t row0, nrows;
    my_rows(n, &row0, &nrows);
    double *mine = malloc(sizeof(double) * (nrows ? nrows : 1) * c);
    assert_non_null(mine);
    for (size_t i = 0; i < nrows; i++)
        for (size_t j = 0; j < c; j++) mine[i * c + j] = cell(row0 + i, j);

    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_SUBSTRATE));
    ST_ASSERT_OK(h5_write_rows(&f, "substrate/embeddings", H5_DT_F64, n, c, row0, nrows,
                               nrows ? mine : NULL));
    ST_ASSERT_OK(h5_close(&f));

    /* Every rank sees the whole array, written by all ranks together. */
    ST_ASSERT_OK(h5_open(&f, path, W, false));
    int r = 0;
    size_t dims[H5_MAX_RANK];
    void *all = NULL;
    ST_ASSERT_OK(h5_read(&f, "substrate/embeddings", H5_DT_F64, &r, dims, &all));
    assert_int_equal(r, 2);
    assert_true(dims[0] == n && dims[1] == c);
    int good = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++)
            if (((double *)all)[i * c + j] != cell(i, j)) good = 0;
    ST_ASSERT_ALL(good);
    free(all);

    /* Parallel read of another distribution: rank r reads the rows of rank
     * size-1-r, so every rank reads rows it did not write. */
    int rank = st_test_rank(), size = st_test_size();
    size_t per = n / (size_t)size, rr = (size_t)(size - 1 - rank);
    size_t q0 = rr * per, qn = rr == (size_t)size - 1 ? n - q0 : per;
    float *back = malloc(sizeof(float) * (qn ? qn : 1) * c);
    assert_non_null(back);
    ST_ASSERT_OK(h5_read_rows(&f, "substrate/embeddings", H5_DT_F32, c, q0, qn, back));
    good = 1;
    for (size_t i = 0; i < qn; i++)
        for (size_t j = 0; j < c; j++)
            if (back[i * c + j] != (float)cell(q0 + i, j)) good = 0;
    ST_ASSERT_ALL(good);
    /* A bad request on one rank fails everywhere instead of hanging. */
    size_t bad_n = rank == size - 1 ? n + 1 : 0;
    st_status st = h5_read_rows(&f, "substrate/embeddings", H5_DT_F32, c, 0, bad_n, back);
    ST_ASSERT_ALL(st == ST_EDATA);
    st = h5_read_rows(&f, "substrate/embeddings", H5_DT_F32, c + 1, 0, 0, back);
    assert_int_equal(st, ST_EDATA);
    assert_non_null(strstr(st_last_error(), "columns"));
    ST_ASSERT_OK(h5_close(&f));
    free(back);
    free(mine);
    io_tmpdir_remove(dir);
}

static void rows_parallel_uneven(void **state)
{
    (void)state;
    rows_round_trip_case(7, 5);
}

static void rows_parallel_many_chunks(void **state)
{
    (void)state;
    /* 600 x 300 doubles = 1.4 MB: chunks span the ranks' row ranges. */
    rows_round_trip_case(600, 300);
}

static void rows_disagreement_is_an_error(void **state)
{
    (void)state;
    char dir[512], path[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "rows_bad.h5");
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_SUBSTRATE));
    const double x[2] = {1, 2};
    /* Every rank claims row 0: the counts do not sum to n_total (unless 1 rank). */
    st_status st = h5_write_rows(&f, "e", H5_DT_F64, 1, 2, 0, 1, x);
    if (st_test_size() > 1) {
        ST_ASSERT_ALL(st == ST_ERR);
        assert_non_null(strstr(st_last_error(), "rows"));
    } else {
        ST_ASSERT_OK(st);
    }
    ST_ASSERT_OK(h5_close(&f));
    io_tmpdir_remove(dir);
}

static void tables_round_trip(void **state)
{
    (void)state;
    char dir[512], path[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "table.h5");
    const h5_column cols[] = {
        {"depth", H5_DT_I64, "1", "number of blocks"},
        {"val_loss", H5_DT_F64, "nats/token", "validation cross-entropy"},
        {"tokens", H5_DT_I64, "tokens", "tokens trained on"},
    };
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(h5_table_create(&f, "metrics/depth", 3, cols));
    size_t n = 99;
    ST_ASSERT_OK(h5_table_nrows(&f, "metrics/depth", &n));
    assert_int_equal(n, 0);
    /* Two appends; only rank 0's rows count (other ranks pass garbage counts). */
    int64_t d1[2] = {1, 2}, t1[2] = {1000, 2000};
    double l1[2] = {3.5, 3.25};
    const void *p1[3] = {d1, l1, t1};
    ST_ASSERT_OK(h5_table_append(&f, "metrics/depth", 3, cols, st_test_rank() == 0 ? 2 : 77, p1));
    int64_t d2[3] = {3, 4, 5}, t2[3] = {3000, 4000, 5000};
    double l2[3] = {3.0, 2.9, NAN};
    /* Columns in another order. */
    const h5_column rev[] = {cols[2], cols[1], cols[0]};
    const void *p2[3] = {t2, l2, d2};
    ST_ASSERT_OK(h5_table_append(&f, "metrics/depth", 3, rev, 3, p2));
    assert_int_equal(h5_table_create(&f, "metrics/depth", 3, cols), ST_EHDF5);
    ST_ASSERT_OK(h5_close(&f));

    ST_ASSERT_OK(h5_open(&f, path, W, false));
    ST_ASSERT_OK(h5_table_nrows(&f, "/metrics/depth", &n));
    assert_int_equal(n, 5);
    void *p = NULL;
    ST_ASSERT_OK(h5_column_read(&f, "metrics/depth", "depth", H5_DT_I64, &n, &p));
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(((int64_t *)p)[i], i + 1);
    free(p);
    ST_ASSERT_OK(h5_column_read(&f, "metrics/depth", "tokens", H5_DT_F64, &n, &p));
    for (int i = 0; i < 5; i++) assert_true(((double *)p)[i] == 1000.0 * (i + 1));
    free(p);
    ST_ASSERT_OK(h5_column_read(&f, "metrics/depth", "val_loss", H5_DT_F64, &n, &p));
    const double *vl = p;
    assert_true(vl[0] == 3.5 && vl[1] == 3.25 && vl[2] == 3.0 && vl[3] == 2.9 && isnan(vl[4]));
    free(p);
    char *s = NULL;
    ST_ASSERT_OK(h5_attr_get_str(&f, "metrics/depth/val_loss", "units", &s));
    assert_string_equal(s, "nats/token");
    free(s);
    ST_ASSERT_OK(h5_attr_get_str(&f, "metrics/depth/tokens", "long_name", &s));
    assert_string_equal(s, "tokens trained on");
    free(s);
    /* The dimension scale and its attachments. */
    hid_t sc = H5Dopen2(f.id, "metrics/depth/depth", H5P_DEFAULT);
    hid_t col = H5Dopen2(f.id, "metrics/depth/val_loss", H5P_DEFAULT);
    assert_true(H5DSis_scale(sc) > 0);
    assert_true(H5DSis_attached(col, sc, 0) > 0);
    assert_int_equal(H5DSget_num_scales(col, 0), 1);
    H5Dclose(col);
    H5Dclose(sc);
    bool chunked, fl;
    int nd;
    hsize_t ch[H5_MAX_RANK];
    layout_of(&f, "metrics/depth/tokens", &chunked, &fl, &nd, ch);
    assert_true(chunked && fl);
    ST_ASSERT_OK(h5_close(&f));
    io_tmpdir_remove(dir);
}

/* Offset of the first occurrence of pat in the file, or -1. */
static long find_bytes(const char *path, const void *pat, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    long at = -1;
    if (buf && fread(buf, 1, (size_t)len, fp) == (size_t)len)
        for (long i = 0; i + (long)n <= len; i++)
            if (memcmp(buf + i, pat, n) == 0) {
                at = i;
                break;
            }
    free(buf);
    fclose(fp);
    return at;
}

static void corruption_is_detected(void **state)
{
    (void)state;
    char dir[512], path[600];
    tmp_file(dir, sizeof dir, path, sizeof path, "corrupt.h5");
    enum { N = 4096 };
    uint32_t *v = malloc(sizeof(uint32_t) * N);
    assert_non_null(v);
    for (uint32_t i = 0; i < N; i++) v[i] = 0xA5000000u + i * 2654435761u % 0xFFFFFFu;
    const size_t dims[1] = {N};
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(h5_write(&f, "model/block_001/w", H5_DT_U32, 1, dims, v));
    ST_ASSERT_OK(h5_close(&f));

    /* Flip one byte in the middle of the tensor's data. */
    int flipped = 1;
    if (st_test_rank() == 0) {
        long at = find_bytes(path, v + N / 2, 16);
        flipped = at > 0;
        if (flipped) {
            FILE *fp = fopen(path, "r+b");
            fseek(fp, at + 3, SEEK_SET);
            int c = fgetc(fp);
            fseek(fp, at + 3, SEEK_SET);
            fputc(c ^ 0x10, fp);
            fclose(fp);
        }
    }
    ST_ASSERT_ALL(flipped);
    ST_ASSERT_OK(h5_open_kind(&f, path, W, H5_KIND_CHECKPOINT, ST_ECKPT));
    int r = 0;
    size_t d[H5_MAX_RANK];
    void *p = NULL;
    assert_int_equal(h5_read(&f, "model/block_001/w", H5_DT_U32, &r, d, &p), ST_EHDF5);
    assert_null(p);
    assert_non_null(strstr(st_last_error(), path));
    assert_non_null(strstr(st_last_error(), "model/block_001/w"));
    assert_non_null(strstr(st_last_error(), "corrupt"));
    size_t nds = 0;
    assert_int_equal(h5_read_all(&f, &nds), ST_EHDF5);
    assert_non_null(strstr(st_last_error(), "model/block_001/w"));
    ST_ASSERT_OK(h5_close(&f));

    /* A truncated file does not open. */
    if (st_test_rank() == 0) {
        struct stat sb;
        stat(path, &sb);
        assert_int_equal(truncate(path, sb.st_size / 2), 0);
    }
    MPI_Barrier(W);
    assert_int_equal(h5_open_kind(&f, path, W, H5_KIND_CHECKPOINT, ST_ECKPT), ST_ECKPT);
    assert_non_null(strstr(st_last_error(), path));
    assert_non_null(strstr(st_last_error(), "truncated"));
    free(v);
    io_tmpdir_remove(dir);
}


/* A file that cannot be finished (here: its descriptor was made read-only
 * behind HDF5's back) is reported, and the file is really closed afterwards
 * -- HDF5 1.10 would otherwise crash at MPI_Finalize. */
static void failed_flush_still_closes(void **state)
{
    (void)state;
    char dir[512], path[600];
    io_tmpdir(dir, sizeof dir);
    int ok = 1;
    if (st_test_rank() == 0) {
        file_path(path, sizeof path, dir, "flushfail.h5");
        h5_file f;
        ST_ASSERT_OK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT));
        const size_t dims[1] = {4096};
        float *x = calloc(4096, sizeof(float));
        ST_ASSERT_OK(h5_write(&f, "w", H5_DT_F32, 1, dims, x));
        free(x);
        hid_t fapl = H5Fget_access_plist(f.id);
        void *handle = NULL;
        assert_true(H5Fget_vfd_handle(f.id, fapl, &handle) >= 0);
        H5Pclose(fapl);
        int ro = open(path, O_RDONLY);
        dup2(ro, *(int *)handle);
        close(ro);
        ok = h5_close(&f) == ST_EIO && strstr(st_last_error(), path) &&
             strstr(st_last_error(), "cannot finish writing");
        ssize_t open_objs = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
        if (!ok || open_objs != 0)
            print_error("h5_close: '%s', %zd objects still open\n", st_last_error(), open_objs);
        ok = ok && open_objs == 0;
    }
    ST_ASSERT_ALL(ok);
    io_tmpdir_remove(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(root_attributes_and_kind_check),
    cmocka_unit_test(attributes_round_trip),
    cmocka_unit_test(strings_round_trip),
    cmocka_unit_test(typed_arrays_round_trip),
    cmocka_unit_test(rows_parallel_uneven),
    cmocka_unit_test(rows_parallel_many_chunks),
    cmocka_unit_test(rows_disagreement_is_an_error),
    cmocka_unit_test(tables_round_trip),
    cmocka_unit_test(corruption_is_detected),
    cmocka_unit_test(failed_flush_still_closes),
};

ST_TEST_MAIN(tests)
