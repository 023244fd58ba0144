/* test_h5_hostile.c -- files made by a stranger: every reader of h5.h
 * refuses what h5.h "Untrusted files" lists, naming the file and the object,
 * before it reads or allocates; ckpt_latest_read refuses LATEST markers that
 * are not a plain file naming a checkpoint in the run directory.
 *
 * The hostile files are made with the raw HDF5 C API, all at once before the
 * first strata call (strata removes HDF5's external-link class at first use,
 * after which nobody in this process can make such a link). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "harness.h"
#include "io_test.h"
#include "strata/ckptdir.h"
#include "strata/h5.h"

#define SELF MPI_COMM_SELF

static char dir[512];
static int made = 0;

static void at(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

/* The bytes of the "secret" file that external storage points at. */
static const char SECRET[] = "TOPSECRET-TOPSECRET-TOPSECRET-TOPSECRET-TOPSECRET-TOPSECRET-1234";

/* ---- making hostile files (raw HDF5) ------------------------------------ */

static hid_t new_file(const char *name)
{
    char p[600];
    at(p, sizeof p, name);
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

/* A small float32 dataset holding values, at name. */
static void plain_f32(hid_t loc, const char *name, hsize_t n, float v)
{
    float buf[64];
    for (hsize_t i = 0; i < n && i < 64; i++) buf[i] = v + (float)i;
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    H5Sclose(s);
}

/* A chunked dataset of type t and shape dims with nothing written. */
static void unwritten(hid_t loc, const char *name, hid_t t, int rank, const hsize_t *dims,
                      const hsize_t *chunk, bool deflate)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    assert_true(H5Pset_chunk(dcpl, rank, chunk) >= 0);
    if (deflate) assert_true(H5Pset_deflate(dcpl, 6) >= 0);
    hid_t d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(s);
}

static void make_external_storage(void)
{
    char secret[600];
    at(secret, sizeof secret, "secret.bin");
    FILE *fp = fopen(secret, "wb");
    assert_non_null(fp);
    fwrite(SECRET, 1, 64, fp);
    fclose(fp);
    hid_t f = new_file("ext.h5");
    hsize_t n = 16; /* 16 floats = the 64 secret bytes */
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    assert_true(H5Pset_external(dcpl, secret, 0, 64) >= 0);
    hid_t g = H5Gcreate2(f, "ext", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d = H5Dcreate2(g, "data", H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Gclose(g);
    H5Pclose(dcpl);
    H5Sclose(s);
    H5Fclose(f);
}

static void make_links(void)
{
    hid_t o = new_file("other.h5");
    plain_f32(o, "x", 4, 666.0f);
    H5Fclose(o);
    char other[600];
    at(other, sizeof other, "other.h5");
    hid_t f = new_file("links.h5");
    hid_t g = H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    plain_f32(g, "x", 4, 1.0f);
    H5Gclose(g);
    assert_true(H5Lcreate_external(other, "/x", f, "elink", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    assert_true(H5Lcreate_external(other, "/", f, "egroup", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    assert_true(H5Lcreate_soft("/g", f, "soft", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    assert_true(H5Lcreate_soft("/g/x", f, "softds", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(f);
}

static void make_virtual(void)
{
    hid_t o = new_file("src.h5");
    plain_f32(o, "x", 4, 777.0f);
    H5Fclose(o);
    char src[600];
    at(src, sizeof src, "src.h5");
    hid_t f = new_file("vds.h5");
    hsize_t n = 4;
    hid_t vs = H5Screate_simple(1, &n, NULL), ss = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    assert_true(H5Pset_virtual(dcpl, vs, src, "/x", ss) >= 0);
    hid_t d = H5Dcreate2(f, "v", H5T_IEEE_F32LE, vs, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(ss);
    H5Sclose(vs);
    H5Fclose(f);
}

static void typed(hid_t f, const char *name, hid_t ft, hid_t mt, const void *buf)
{
    hsize_t n = 8;
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, name, ft, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    H5Sclose(s);
}

static void make_types(void)
{
    hid_t f = new_file("types.h5");
    float fv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int32_t iv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    long double lv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double dv[8] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5};
    typed(f, "be_f32", H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, fv);
    typed(f, "le_i32", H5T_STD_I32LE, H5T_NATIVE_INT32, iv);
    typed(f, "f64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dv);
    typed(f, "u32", H5T_STD_U32LE, H5T_NATIVE_INT32, iv);
    /* A 16-byte float (x86 long double, padded). */
    hid_t t16 = H5Tcopy(H5T_NATIVE_LDOUBLE);
    assert_int_equal(H5Tget_size(t16), 16);
    typed(f, "f128", t16, H5T_NATIVE_LDOUBLE, lv);
    H5Tclose(t16);
    /* A null dataspace: no elements, not even a scalar. */
    hid_t ns = H5Screate(H5S_NULL);
    hid_t d = H5Dcreate2(f, "null", H5T_IEEE_F32LE, ns, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Sclose(ns);
    H5Fclose(f);
}

static void make_huge(void)
{
    hid_t f = new_file("huge.h5");
    const hsize_t dims[2] = {1000000000, 1000}, chunk[2] = {1, 1000};
    unwritten(f, "huge", H5T_IEEE_F32LE, 2, dims, chunk, false);
    unwritten(f, "huge_deflate", H5T_IEEE_F32LE, 2, dims, chunk, true);
    /* 2 GiB: an allocation that would succeed without a limit. */
    const hsize_t mid[2] = {1 << 19, 1 << 10}, mchunk[2] = {64, 1 << 10};
    unwritten(f, "mid", H5T_IEEE_F32LE, 2, mid, mchunk, false);
    /* An empty array claiming a huge other dimension. */
    const hsize_t empty[2] = {0, (hsize_t)1 << 40}, echunk[2] = {1, 1024};
    unwritten(f, "empty_wide", H5T_IEEE_F32LE, 2, empty, echunk, false);
    /* The product of the dims does not fit 64 bits. */
    const hsize_t over[3] = {(hsize_t)1 << 30, (hsize_t)1 << 30, (hsize_t)1 << 30};
    const hsize_t ochunk[3] = {1, 1, 1};
    unwritten(f, "overflow", H5T_IEEE_F32LE, 3, over, ochunk, false);
    /* A 16-element dataset whose one chunk would be 2 GiB (HDF5 allocates
     * whole chunks when it reads through a filter). */
    hsize_t n = 16, unl = H5S_UNLIMITED, bigchunk = (hsize_t)1 << 29;
    hid_t s = H5Screate_simple(1, &n, &unl);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    assert_true(H5Pset_chunk(dcpl, 1, &bigchunk) >= 0);
    assert_true(H5Pset_fletcher32(dcpl) >= 0);
    hid_t d = H5Dcreate2(f, "bigchunk", H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(s);
    /* A filter strata does not know (lzf's id; optional, so HDF5 makes it). */
    const hsize_t sd[1] = {64}, sc[1] = {64};
    s = H5Screate_simple(1, sd, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    assert_true(H5Pset_chunk(dcpl, 1, sc) >= 0);
    assert_true(H5Pset_filter(dcpl, 32000, H5Z_FLAG_OPTIONAL, 0, NULL) >= 0);
    d = H5Dcreate2(f, "plugin", H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(s);
    plain_f32(f, "ok", 8, 0.0f);
    H5Fclose(f);
}

static hid_t str_t(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len);
    return t;
}

static void make_attrs(void)
{
    hid_t f = new_file("attrs.h5");
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    /* An array of three fixed-length strings where one string is expected. */
    hsize_t three = 3;
    hid_t s3 = H5Screate_simple(1, &three, NULL);
    hid_t t8 = str_t(8);
    hid_t a = H5Acreate2(root, "kind", t8, s3, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, t8, "checkpt\0dataset\0ensembl") >= 0);
    H5Aclose(a);
    /* The same with variable-length strings. */
    hid_t vt = H5Tcopy(H5T_C_S1);
    H5Tset_size(vt, H5T_VARIABLE);
    const char *three_s[3] = {"a", "b", "c"};
    a = H5Acreate2(root, "vl_array", vt, s3, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, vt, three_s) >= 0);
    H5Aclose(a);
    /* An integer array where a scalar is expected. */
    hsize_t five = 5;
    hid_t s5 = H5Screate_simple(1, &five, NULL);
    int64_t iv[5] = {1, 2, 3, 4, 5};
    a = H5Acreate2(root, "format_version", H5T_STD_I64LE, s5, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, iv) >= 0);
    H5Aclose(a);
    /* A big-endian integer and a float where an integer is expected. */
    hid_t sc = H5Screate(H5S_SCALAR);
    a = H5Acreate2(root, "be_int", H5T_STD_I64BE, sc, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, iv) >= 0);
    H5Aclose(a);
    double dv = 2.5;
    a = H5Acreate2(root, "float", H5T_IEEE_F64LE, sc, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, H5T_NATIVE_DOUBLE, &dv) >= 0);
    H5Aclose(a);
    /* A variable-length string of 2 MiB (absurd for an attribute). */
    size_t big = (size_t)2 << 20;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, 'x', big);
    text[big] = '\0';
    a = H5Acreate2(root, "vl_huge", vt, sc, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Awrite(a, vt, &text) >= 0);
    H5Aclose(a);
    free(text);
    /* A null dataspace. */
    hid_t ns = H5Screate(H5S_NULL);
    a = H5Acreate2(root, "null", t8, ns, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    H5Aclose(a);
    H5Sclose(ns);
    /* String datasets: three strings, and one that claims 100 MiB. */
    hid_t d = H5Dcreate2(f, "strings", t8, s3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(d, t8, H5S_ALL, H5S_ALL, H5P_DEFAULT, "checkpt\0dataset\0ensembl") >= 0);
    H5Dclose(d);
    hid_t thuge = str_t((size_t)100 << 20);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    d = H5Dcreate2(f, "config", thuge, sc, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Tclose(thuge);
    H5Sclose(sc);
    H5Sclose(s5);
    H5Tclose(vt);
    H5Tclose(t8);
    H5Sclose(s3);
    H5Gclose(root);
    H5Fclose(f);
}

/* Every test's setup: make all hostile files once, before strata runs. */
static int hostile_files(void **state)
{
    (void)state;
    if (made) return 0;
    io_tmpdir(dir, sizeof dir);
    if (!dir[0]) return -1;
    make_external_storage();
    make_links();
    make_virtual();
    make_types();
    make_huge();
    make_attrs();
    made = 1;
    return 0;
}

/* ---- checks ------------------------------------------------------------- */

/* st is `code` and the message names the file, the object and the reason. */
static void refused(st_status st, st_status code, const char *file, const char *obj,
                    const char *why)
{
    const char *msg = st_last_error();
    if (st != code || !strstr(msg, file) || !strstr(msg, obj) || (why && !strstr(msg, why)))
        print_error("expected %s naming %s, %s, '%s'; got %s: %s\n", st_status_name(code), file,
                    obj, why ? why : "", st_status_name(st), msg);
    assert_int_equal(st, code);
    assert_non_null(strstr(msg, file));
    assert_non_null(strstr(msg, obj));
    if (why) assert_non_null(strstr(msg, why));
}

static void open_in(h5_file *f, const char *name, char *path, size_t cap)
{
    at(path, cap, name);
    ST_ASSERT_OK(h5_open(f, path, SELF, false));
}

static void external_storage_is_refused(void **state)
{
    (void)state;
    h5_file f;
    char p[600];
    open_in(&f, "ext.h5", p, sizeof p);
    int r = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    refused(h5_read(&f, "ext/data", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "ext/data",
            "external");
    assert_null(data);
    /* Into a caller's buffer: not one byte of the secret arrives. */
    float buf[16];
    memset(buf, 0, sizeof buf);
    const size_t d16[1] = {16};
    refused(h5_read_into(&f, "/ext/data", H5_DT_F32, 1, d16, buf), ST_EDATA, p, "ext/data",
            "external");
    static const char zero[sizeof buf];
    assert_memory_equal(buf, zero, sizeof buf);
    assert_null(memmem(buf, sizeof buf, "TOPSECRET", 9));
    refused(h5_shape(&f, "ext/data", &r, dims), ST_EDATA, p, "ext/data", "external");
    refused(h5_read_rows(&f, "ext/data", H5_DT_F32, 16, 0, 1, buf), ST_EDATA, p, "ext/data",
            "external");
    size_t n = 0;
    refused(h5_read_all(&f, &n), ST_EDATA, p, "ext/data", "external");
    assert_memory_equal(buf, zero, sizeof buf);
    ST_ASSERT_OK(h5_close(&f));
}

static void links_are_refused(void **state)
{
    (void)state;
    h5_file f;
    char p[600];
    open_in(&f, "links.h5", p, sizeof p);
    int r = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    bool e = false;
    /* The hard-linked original reads. */
    ST_ASSERT_OK(h5_read(&f, "g/x", H5_DT_F32, &r, dims, &data));
    assert_true(((float *)data)[0] == 1.0f);
    free(data);
    data = NULL;
    refused(h5_read(&f, "elink", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "elink", "external");
    assert_null(data);
    refused(h5_read(&f, "egroup/x", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "egroup",
            "external");
    refused(h5_exists(&f, "elink", &e), ST_EDATA, p, "elink", "external");
    refused(h5_exists(&f, "egroup/x", &e), ST_EDATA, p, "egroup", "external");
    refused(h5_attr_exists(&f, "egroup", "a", &e), ST_EDATA, p, "egroup", "external");
    refused(h5_read(&f, "softds", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "softds", "soft link");
    refused(h5_read(&f, "soft/x", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "soft", "soft link");
    refused(h5_exists(&f, "soft/x", &e), ST_EDATA, p, "soft", "soft link");
    char *s = NULL;
    refused(h5_attr_get_str(&f, "soft", "kind", &s), ST_EDATA, p, "soft", "soft link");
    char **names = NULL;
    size_t n = 0;
    refused(h5_table_columns(&f, "soft", &names, &n), ST_EDATA, p, "soft", "soft link");
    refused(h5_read_all(&f, &n), ST_EDATA, p, "link", "link");
    /* Beneath the checks: HDF5 itself can no longer follow an external link
     * in this process, whoever asks and with whatever property list. */
    hid_t o = H5Oopen(f.id, "elink", H5P_DEFAULT);
    assert_true(o < 0);
    H5Eclear2(H5E_DEFAULT);
    ST_ASSERT_OK(h5_close(&f));
}

static void virtual_dataset_is_refused(void **state)
{
    (void)state;
    h5_file f;
    char p[600];
    open_in(&f, "vds.h5", p, sizeof p);
    int r = 0;
    size_t dims[H5_MAX_RANK], n = 0;
    void *data = NULL;
    refused(h5_read(&f, "v", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "v", "virtual");
    assert_null(data);
    refused(h5_shape(&f, "v", &r, dims), ST_EDATA, p, "v", "virtual");
    refused(h5_read_all(&f, &n), ST_EDATA, p, "v", "virtual");
    ST_ASSERT_OK(h5_close(&f));
}

static void types_follow_the_rule(void **state)
{
    (void)state;
    h5_file f;
    char p[600];
    open_in(&f, "types.h5", p, sizeof p);
    int r = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    refused(h5_read(&f, "be_f32", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "be_f32",
            "big-endian");
    assert_null(data);
    refused(h5_read(&f, "be_f32", H5_DT_F64, &r, dims, &data), ST_EDATA, p, "be_f32",
            "big-endian");
    refused(h5_read(&f, "le_i32", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "le_i32", "integer");
    refused(h5_read(&f, "f128", H5_DT_F64, &r, dims, &data), ST_EDATA, p, "f128", "16-byte");
    refused(h5_read(&f, "f64", H5_DT_I64, &r, dims, &data), ST_EDATA, p, "f64", "float");
    refused(h5_read(&f, "u32", H5_DT_I32, &r, dims, &data), ST_EDATA, p, "u32", "unsigned");
    refused(h5_read(&f, "le_i32", H5_DT_U64, &r, dims, &data), ST_EDATA, p, "le_i32", "integer");
    refused(h5_read(&f, "null", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "null", "dataspace");
    h5_dtype t;
    refused(h5_dtype_of(&f, "f128", &t), ST_EDATA, p, "f128", "16-byte");
    /* What the rule accepts: exact or widening, and float64 as float32. */
    ST_ASSERT_OK(h5_read(&f, "le_i32", H5_DT_I64, &r, dims, &data));
    assert_true(((int64_t *)data)[7] == 8);
    free(data);
    ST_ASSERT_OK(h5_read(&f, "le_i32", H5_DT_F64, &r, dims, &data));
    assert_true(((double *)data)[7] == 8.0);
    free(data);
    ST_ASSERT_OK(h5_read(&f, "u32", H5_DT_I64, &r, dims, &data));
    free(data);
    ST_ASSERT_OK(h5_read(&f, "f64", H5_DT_F32, &r, dims, &data));
    assert_true(((float *)data)[1] == 1.5f);
    free(data);
    ST_ASSERT_OK(h5_close(&f));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Address-space headroom for the reads below: a reader that allocated what
 * the file claims would get ST_ENOMEM (or succeed with fill values for the
 * 2 GiB case) instead of the expected ST_EDATA. */
static bool limit_memory(struct rlimit *old)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)old;
    return false; /* the sanitizer needs its shadow memory */
#else
    long pages = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (!fp) return false;
    if (fscanf(fp, "%ld", &pages) != 1) pages = 0;
    fclose(fp);
    if (pages <= 0 || getrlimit(RLIMIT_AS, old) != 0) return false;
    struct rlimit lim = *old;
    lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)256 << 20);
    if (old->rlim_cur != RLIM_INFINITY && old->rlim_cur < lim.rlim_cur) return false;
    return setrlimit(RLIMIT_AS, &lim) == 0;
#endif
}

static void huge_shapes_are_refused_before_allocating(void **state)
{
    (void)state;
    h5_file f;
    char p[600];
    open_in(&f, "huge.h5", p, sizeof p);
    int r = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    struct rlimit old;
    bool limited = limit_memory(&old);
    double t0 = now_s();
    st_status s1 = h5_read(&f, "huge", H5_DT_F32, &r, dims, &data);
    char m1[1024];
    snprintf(m1, sizeof m1, "%s", st_last_error());
    st_status s2 = h5_read(&f, "huge_deflate", H5_DT_F32, &r, dims, &data);
    char m2[1024];
    snprintf(m2, sizeof m2, "%s", st_last_error());
    st_status s3 = h5_read(&f, "mid", H5_DT_F32, &r, dims, &data);
    char m3[1024];
    snprintf(m3, sizeof m3, "%s", st_last_error());
    const h5_expect rows = {.rank = 2, .dims = {H5_ANY, 1024}};
    st_status s4 = h5_read_expect(&f, "mid", H5_DT_F32, &rows, &r, dims, &data);
    double dt = now_s() - t0;
    if (limited) setrlimit(RLIMIT_AS, &old);
    assert_null(data);
    assert_true(dt < 5.0);
    assert_int_equal(s1, ST_EDATA);
    assert_non_null(strstr(m1, p));
    assert_non_null(strstr(m1, "huge"));
    assert_non_null(strstr(m1, "claims"));
    assert_int_equal(s2, ST_EDATA);
    assert_non_null(strstr(m2, "huge_deflate"));
    assert_non_null(strstr(m2, "deflate"));
    assert_int_equal(s3, ST_EDATA);
    assert_non_null(strstr(m3, "mid"));
    assert_non_null(strstr(m3, "claims"));
    assert_int_equal(s4, ST_EDATA);
    /* h5_shape too: callers allocate by it. */
    refused(h5_shape(&f, "huge", &r, dims), ST_EDATA, p, "huge", "claims");
    refused(h5_read(&f, "empty_wide", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "empty_wide",
            "claims");
    refused(h5_read(&f, "overflow", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "overflow",
            "overflow");
    refused(h5_read(&f, "bigchunk", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "bigchunk",
            "chunks");
    refused(h5_read(&f, "plugin", H5_DT_F32, &r, dims, &data), ST_EDATA, p, "plugin", "filter");
    size_t n = 0;
    refused(h5_read_all(&f, &n), ST_EDATA, p, "refused", NULL);
    ST_ASSERT_OK(h5_close(&f));
}

static void expected_shapes_are_enforced(void **state)
{
    (void)state;
    h5_file f;
    char p[600];
    open_in(&f, "huge.h5", p, sizeof p);
    int r = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    const h5_expect good = {.rank = 1, .dims = {8}};
    ST_ASSERT_OK(h5_read_expect(&f, "ok", H5_DT_F32, &good, &r, dims, &data));
    assert_int_equal(r, 1);
    assert_int_equal(dims[0], 8);
    free(data);
    data = NULL;
    const h5_expect any = {.rank = -1, .max_elems = 8};
    ST_ASSERT_OK(h5_read_expect(&f, "ok", H5_DT_F32, &any, &r, dims, &data));
    free(data);
    data = NULL;
    const h5_expect rank2 = {.rank = 2, .dims = {H5_ANY, 8}};
    refused(h5_read_expect(&f, "ok", H5_DT_F32, &rank2, &r, dims, &data), ST_EDATA, p, "ok",
            "expected [*,8]");
    const h5_expect len = {.rank = 1, .dims = {7}};
    refused(h5_read_expect(&f, "ok", H5_DT_F32, &len, &r, dims, &data), ST_EDATA, p, "ok",
            "shape [8], expected [7]");
    const h5_expect few = {.rank = 1, .dims = {H5_ANY}, .max_elems = 4};
    refused(h5_read_expect(&f, "ok", H5_DT_F32, &few, &r, dims, &data), ST_EDATA, p, "ok",
            "at most 4");
    assert_null(data);
    ST_ASSERT_OK(h5_close(&f));
}

static void attributes_are_bounded(void **state)
{
    (void)state;
    h5_file f;
    char p[600];
    open_in(&f, "attrs.h5", p, sizeof p);
    char *s = NULL;
    int64_t v = 0;
    double d = 0;
    refused(h5_attr_get_str(&f, "/", "kind", &s), ST_EDATA, p, "kind", "values");
    assert_null(s);
    refused(h5_attr_get_str(&f, "/", "vl_array", &s), ST_EDATA, p, "vl_array", "values");
    refused(h5_attr_get_i64(&f, "/", "format_version", &v), ST_EDATA, p, "format_version",
            "values");
    refused(h5_attr_get_i64(&f, "/", "be_int", &v), ST_EDATA, p, "be_int", "big-endian");
    refused(h5_attr_get_i64(&f, "/", "float", &v), ST_EDATA, p, "float", "float");
    ST_ASSERT_OK(h5_attr_get_f64(&f, "/", "float", &d));
    assert_true(d == 2.5);
    refused(h5_attr_get_str(&f, "/", "vl_huge", &s), ST_EDATA, p, "vl_huge", "bytes");
    assert_null(s);
    refused(h5_attr_get_str(&f, "/", "null", &s), ST_EDATA, p, "null", "dataspace");
    /* The kind check itself refuses the file (scalar expected). */
    refused(h5_check_kind(&f, NULL, ST_ECKPT), ST_ECKPT, p, "strata file", NULL);
    refused(h5_read_string(&f, "strings", &s), ST_EDATA, p, "strings", "elements");
    refused(h5_read_string(&f, "config", &s), ST_EDATA, p, "config", "bytes");
    assert_null(s);
    ST_ASSERT_OK(h5_close(&f));
}

/* ---- LATEST and non-regular files --------------------------------------- */

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_h5_hostile: a read blocked (FIFO?)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(3);
}

static void put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void latest_must_be_a_plain_name(void **state)
{
    (void)state;
    char run[600], latest[700], target[700];
    at(run, sizeof run, "run");
    assert_int_equal(mkdir(run, 0755), 0);
    snprintf(latest, sizeof latest, "%s/LATEST", run);
    char *name = NULL;
    signal(SIGALRM, on_alarm);
    alarm(20);

    /* The good case. */
    put(latest, "stage-001.h5\n");
    ST_ASSERT_OK(ckpt_latest_read(run, &name, SELF));
    assert_string_equal(name, "stage-001.h5");
    free(name);
    name = NULL;

    /* Names outside the run directory or of other files. */
    static const char *bad[] = {"../stage-001.h5\n", "sub/stage-001.h5\n", "/etc/passwd\n",
                                "stage-001.h5/..\n", "..\n", "stage-1.h5\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put(latest, bad[i]);
        refused(ckpt_latest_read(run, &name, SELF), ST_ECKPT, latest, "does not name", NULL);
        assert_null(name);
    }
    /* Too long to be a name. */
    char *longtext = malloc(1 << 20);
    assert_non_null(longtext);
    memset(longtext, 'a', (1 << 20) - 1);
    memcpy(longtext, "stage-001.h5\n", 13);
    longtext[(1 << 20) - 1] = '\0';
    put(latest, longtext);
    free(longtext);
    refused(ckpt_latest_read(run, &name, SELF), ST_ECKPT, latest, "does not name", "bytes");

    /* A symlink, even to a good marker. */
    snprintf(target, sizeof target, "%s/elsewhere", run);
    put(target, "stage-002.h5\n");
    unlink(latest);
    assert_int_equal(symlink(target, latest), 0);
    refused(ckpt_latest_read(run, &name, SELF), ST_ECKPT, latest, "symbolic link", NULL);
    assert_null(name);

    /* A directory. */
    unlink(latest);
    assert_int_equal(mkdir(latest, 0755), 0);
    refused(ckpt_latest_read(run, &name, SELF), ST_ECKPT, latest, "not a regular file", NULL);
    rmdir(latest);

    /* A FIFO with no writer: must not block (the alarm guards). */
    assert_int_equal(mkfifo(latest, 0644), 0);
    refused(ckpt_latest_read(run, &name, SELF), ST_ECKPT, latest, "not a regular file", NULL);
    unlink(latest);

    /* The same for an HDF5 file that is a FIFO, and /dev/zero. */
    char fifo[700];
    snprintf(fifo, sizeof fifo, "%s/stage-003.h5", run);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    h5_file f;
    refused(h5_open(&f, fifo, SELF, false), ST_EDATA, fifo, "not a regular file", NULL);
    refused(h5_open_kind(&f, "/dev/zero", SELF, NULL, ST_ECKPT), ST_ECKPT, "/dev/zero",
            "not a regular file", NULL);
    unlink(fifo);
    alarm(0);
}

static void remove_files(void **state)
{
    (void)state;
    io_tmpdir_remove(dir);
}

#define T(fn) cmocka_unit_test_setup(fn, hostile_files)
static const struct CMUnitTest tests[] = {
    T(external_storage_is_refused),
    T(links_are_refused),
    T(virtual_dataset_is_refused),
    T(types_follow_the_rule),
    T(huge_shapes_are_refused_before_allocating),
    T(expected_shapes_are_enforced),
    T(attributes_are_bounded),
    T(latest_must_be_a_plain_name),
    T(remove_files),
};

ST_TEST_MAIN(tests)
