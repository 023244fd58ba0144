/* h5.c -- HDF5 helpers (see h5.h for the collective-call and storage rules). */
#define _GNU_SOURCE /* memfd_create, fallocate */
#include "strata/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <hdf5_hl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"

/* ---- errors ------------------------------------------------------------- */

static void h5_quiet(void)
{
    /* HDF5 prints its whole error stack to stderr by default; strata turns the
     * innermost description into its own message instead. */
    static int done = 0;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

static herr_t walk_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n == 0 && e->desc && e->desc[0]) {
        snprintf(buf, 256, "%s", e->desc);
        /* Some descriptions embed a ctime() line break. */
        for (char *p = buf; *p; p++)
            if (*p == '\n') *p = ' ';
    }
    return 0;
}

/* Record "<file>: <object>: <what>: <HDF5's innermost reason>" and return code. */
static st_status h5_fail_at(st_status code, const char *src, int line, const h5_file *f,
                            const char *obj, const char *fmt, ...) ST_PRINTF(6, 7);
static st_status h5_fail_at(st_status code, const char *src, int line, const h5_file *f,
                            const char *obj, const char *fmt, ...)
{
    char what[1024], why[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_innermost, why);
    H5Eclear2(H5E_DEFAULT);
    const char *path = f && f->path ? f->path : "(no file)";
    if (obj && obj[0])
        return st_fail(code, src, line, "%s: %s: %s%s%s", path, obj, what, why[0] ? ": " : "", why);
    return st_fail(code, src, line, "%s: %s%s%s", path, what, why[0] ? ": " : "", why);
}

/* Fail with ST_EHDF5 (or code) naming the file and the object. */
#define H5FAIL(code, obj, ...)                                                  \
    do {                                                                        \
        st = h5_fail_at((code), __FILE__, __LINE__, f, (obj), __VA_ARGS__);     \
        goto out;                                                               \
    } while (0)
#define H5TRY(call, obj, ...)                                                   \
    do {                                                                        \
        if ((call) < 0) H5FAIL(ST_EHDF5, (obj), __VA_ARGS__);                   \
    } while (0)

/* A failed write leaves the file incomplete; h5_close must know. */
#define H5TRY_W(call, obj, ...)                                                 \
    do {                                                                        \
        if ((call) < 0) {                                                       \
            f->write_failed = true;                                             \
            H5FAIL(ST_EHDF5, (obj), __VA_ARGS__);                               \
        }                                                                       \
    } while (0)

static void close_id(hid_t *id)
{
    if (*id < 0) return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

/* ---- types -------------------------------------------------------------- */

size_t h5_dtype_size(h5_dtype t)
{
    static const size_t sz[] = {4, 8, 4, 8, 1, 2, 4, 8};
    return (unsigned)t < sizeof sz / sizeof sz[0] ? sz[t] : 0;
}

const char *h5_dtype_name(h5_dtype t)
{
    static const char *nm[] = {"float32", "float64", "int32",  "int64",
                               "uint8",   "uint16",  "uint32", "uint64"};
    return (unsigned)t < sizeof nm / sizeof nm[0] ? nm[t] : "unknown";
}

static hid_t mem_type(h5_dtype t)
{
    switch (t) {
    case H5_DT_F32: return H5T_NATIVE_FLOAT;
    case H5_DT_F64: return H5T_NATIVE_DOUBLE;
    case H5_DT_I32: return H5T_NATIVE_INT32;
    case H5_DT_I64: return H5T_NATIVE_INT64;
    case H5_DT_U8: return H5T_NATIVE_UINT8;
    case H5_DT_U16: return H5T_NATIVE_UINT16;
    case H5_DT_U32: return H5T_NATIVE_UINT32;
    case H5_DT_U64: return H5T_NATIVE_UINT64;
    }
    return H5I_INVALID_HID;
}

static hid_t file_type(h5_dtype t)
{
    switch (t) {
    case H5_DT_F32: return H5T_IEEE_F32LE;
    case H5_DT_F64: return H5T_IEEE_F64LE;
    case H5_DT_I32: return H5T_STD_I32LE;
    case H5_DT_I64: return H5T_STD_I64LE;
    case H5_DT_U8: return H5T_STD_U8LE;
    case H5_DT_U16: return H5T_STD_U16LE;
    case H5_DT_U32: return H5T_STD_U32LE;
    case H5_DT_U64: return H5T_STD_U64LE;
    }
    return H5I_INVALID_HID;
}

#define CHECK_DTYPE(t, obj)                                                     \
    do {                                                                        \
        if (h5_dtype_size(t) == 0)                                              \
            H5FAIL(ST_ERR, (obj), "unknown element type %d", (int)(t));         \
    } while (0)

/* Root group for "", "/"; otherwise the path as given (HDF5 resolves names
 * relative to the file's root group). */
static const char *objpath(const char *p) { return p && p[0] ? p : "/"; }

/* Link creation that makes missing parent groups. */
static hid_t lcpl_parents(void)
{
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    if (p >= 0) H5Pset_create_intermediate_group(p, 1);
    return p;
}

/* Collective transfer on a multi-rank file, default otherwise. */
static hid_t dxpl_for(const h5_file *f)
{
    hid_t p = H5Pcreate(H5P_DATASET_XFER);
    if (p >= 0 && f->size > 1) H5Pset_dxpl_mpio(p, H5FD_MPIO_COLLECTIVE);
    return p;
}

/* Valid non-NULL pointer for ranks that select nothing. */
static const char dummy_buf[16];

/* Close a dataset that was written: its cached chunks are flushed now. */
#define CLOSE_WRITTEN(d, obj)                                                   \
    do {                                                                        \
        herr_t rc_ = H5Dclose(d);                                               \
        (d) = H5I_INVALID_HID;                                                  \
        if (rc_ < 0) {                                                          \
            f->write_failed = true;                                             \
            H5FAIL(ST_EHDF5, (obj), "cannot flush the dataset's data");         \
        }                                                                       \
    } while (0)

/* ---- files -------------------------------------------------------------- */

void h5_file_zero(h5_file *f)
{
    memset(f, 0, sizeof *f);
    f->id = H5I_INVALID_HID;
    f->comm = MPI_COMM_NULL;
}

static st_status file_setup(h5_file *f, const char *path, MPI_Comm comm, hid_t *fapl)
{
    st_status st = ST_OK;
    h5_quiet();
    h5_file_zero(f);
    f->path = strdup(path);
    CHECK_ALLOC(f->path);
    f->comm = comm;
    CHECK_MPI(MPI_Comm_rank(comm, &f->rank));
    CHECK_MPI(MPI_Comm_size(comm, &f->size));
    *fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5TRY(*fapl, NULL, "cannot create a file access property list");
    if (f->size > 1) {
        H5TRY(H5Pset_fapl_mpio(*fapl, comm, MPI_INFO_NULL), NULL, "cannot select the MPI-IO driver");
        /* Metadata is written by one rank collectively instead of by all. */
        H5TRY(H5Pset_coll_metadata_write(*fapl, 1), NULL, "cannot set collective metadata writes");
    }
out:
    return st;
}

/* Close a file whose opening failed, keeping the message of the failure. */
static void close_after_error(h5_file *f, st_status st)
{
    char *keep = strdup(st_last_error());
    h5_close(f);
    if (keep) {
        st_fail(st, __FILE__, __LINE__, "%s", keep);
        free(keep);
    }
}

st_status h5_create(h5_file *f, const char *path, MPI_Comm comm, const char *kind)
{
    st_status st = ST_OK;
    hid_t fapl = H5I_INVALID_HID;
    CHECK(file_setup(f, path, comm, &fapl));
    f->id = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f->id < 0) H5FAIL(ST_EHDF5, NULL, "cannot create file");
    f->writable = true;

    /* Every rank must write identical attribute values: rank 0's clock. */
    long long now = (long long)time(NULL);
    CHECK_MPI(MPI_Bcast(&now, 1, MPI_LONG_LONG, 0, comm));
    time_t tnow = (time_t)now;
    struct tm tm;
    char stamp[32];
    gmtime_r(&tnow, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    CHECK(h5_attr_set_str(f, "/", "format", "strata"));
    CHECK(h5_attr_set_i64(f, "/", "format_version", H5_FORMAT_VERSION));
    CHECK(h5_attr_set_str(f, "/", "kind", kind));
    CHECK(h5_attr_set_str(f, "/", "strata_version", PACKAGE_VERSION));
    CHECK(h5_attr_set_str(f, "/", "created_utc", stamp));
out:
    close_id(&fapl);
    if (st != ST_OK) {
        close_after_error(f, st);
    }
    return st;
}

st_status h5_open(h5_file *f, const char *path, MPI_Comm comm, bool writable)
{
    st_status st = ST_OK;
    hid_t fapl = H5I_INVALID_HID;
    FILE *probe = NULL;
    CHECK(file_setup(f, path, comm, &fapl));
    /* A clear reason for the common failures before HDF5 gets to guess. */
    probe = fopen(path, "rb");
    if (!probe) H5FAIL(ST_EHDF5, NULL, "cannot open file: %s", strerror(errno));
    fclose(probe);
    htri_t is = H5Fis_hdf5(path);
    if (is == 0) H5FAIL(ST_EHDF5, NULL, "not an HDF5 file");
    f->id = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    if (f->id < 0)
        H5FAIL(ST_EHDF5, NULL, "cannot open HDF5 file (truncated or corrupt?)");
    f->writable = writable;
out:
    close_id(&fapl);
    if (st != ST_OK) {
        close_after_error(f, st);
    }
    return st;
}

st_status h5_check_kind(h5_file *f, const char *kind, st_status code)
{
    st_status st = ST_OK;
    char *fmt = NULL, *fkind = NULL;
    int64_t ver = 0;
    bool has = false;
    CHECK(h5_attr_exists(f, "/", "format", &has));
    if (has) CHECK(h5_attr_get_str(f, "/", "format", &fmt));
    if (!has || strcmp(fmt, "strata") != 0)
        FAIL(code, "%s is not a strata file (root attribute format=\"strata\" missing)", f->path);
    CHECK(h5_attr_exists(f, "/", "format_version", &has));
    if (!has) FAIL(code, "%s: root attribute format_version missing", f->path);
    CHECK(h5_attr_get_i64(f, "/", "format_version", &ver));
    if (ver > H5_FORMAT_VERSION)
        FAIL(code, "%s has format_version %lld, newer than this strata supports (%d); "
             "use a newer strata", f->path, (long long)ver, H5_FORMAT_VERSION);
    CHECK(h5_attr_exists(f, "/", "kind", &has));
    if (!has) FAIL(code, "%s: root attribute kind missing", f->path);
    CHECK(h5_attr_get_str(f, "/", "kind", &fkind));
    if (kind && strcmp(kind, fkind) != 0)
        FAIL(code, "%s is a strata %s file, not a %s file", f->path, fkind, kind);
out:
    if (st != ST_OK && st != code) st = code; /* unreadable attributes: same verdict */
    free(fmt);
    free(fkind);
    return st;
}

st_status h5_open_kind(h5_file *f, const char *path, MPI_Comm comm, const char *kind,
                       st_status code)
{
    st_status st = h5_open(f, path, comm, false);
    if (st != ST_OK) return code;
    st = h5_check_kind(f, kind, code);
    if (st != ST_OK) {
        close_after_error(f, st);
    }
    return st;
}

/* The sec2 driver's file descriptor, or -1 (MPI-IO or unknown driver). */
static int sec2_fd(h5_file *f)
{
    int fd = -1;
    void *handle = NULL;
    hid_t fapl = H5Fget_access_plist(f->id);
    if (fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 &&
        H5Fget_vfd_handle(f->id, fapl, &handle) >= 0 && handle)
        fd = *(int *)handle;
    if (fapl >= 0) H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    return fd;
}

#define RESERVE_SLACK (256u << 10) /* for metadata HDF5 allocates at flush */

/* HDF5 1.10 does not survive a write that fails inside the library (a failed
 * flush leaves the file half-closed and the process crashes at exit).  So the
 * disk space for a write is reserved first: the whole file up to its end of
 * allocation plus nbytes plus slack, without changing its size.  A full disk
 * then fails here, before HDF5 has touched anything. */
static st_status reserve(h5_file *f, const char *obj, size_t nbytes)
{
    st_status st = ST_OK;
    if (!f->writable) return ST_OK;
    int fd = sec2_fd(f);
    hsize_t size = 0;
    if (fd < 0 || H5Fget_filesize(f->id, &size) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return ST_OK;
    }
    off_t len = (off_t)(size + nbytes + RESERVE_SLACK);
    int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, len);
    if (rc == 0 && len > f->reserved_end) f->reserved_end = len;
    /* File systems without fallocate: carry on unprotected. */
    if (rc < 0 && errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) {
        f->write_failed = true;
        if (nbytes == 0)
            FAIL(ST_EIO, "%s: cannot finish writing the file: %s", f->path, strerror(errno));
        FAIL(ST_EIO, "%s: %s: cannot write %zu bytes: %s", f->path, objpath(obj), nbytes,
             strerror(errno));
    }
out:
    return st;
}

/* Give back the reserved blocks past the end of the closed file. */
static void release_reserve(h5_file *f)
{
    int fd = open(f->path, O_WRONLY);
    struct stat sb;
    if (fd < 0) return;
    if (fstat(fd, &sb) == 0 && sb.st_size < f->reserved_end)
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, sb.st_size,
                  f->reserved_end - sb.st_size);
    close(fd);
}

/* After a failed write the file on disk is incomplete anyway: send what HDF5
 * still has to write to a memory file, so that H5Fclose succeeds and HDF5
 * stays usable (the caller gets the error and removes the file). */
static void discard_pending_writes(h5_file *f)
{
    int fd = sec2_fd(f);
    if (fd < 0) return;
    /* A memory file can be extended and truncated as HDF5 does on close. */
    int sink = memfd_create("strata-discard", 0);
    if (sink < 0) sink = open("/dev/null", O_WRONLY);
    if (sink >= 0) {
        dup2(sink, fd);
        close(sink);
    }
}

st_status h5_close(h5_file *f)
{
    st_status st = ST_OK;
    if (f->id >= 0) {
        /* Room for what the close still writes (metadata, cached chunks). */
        if (f->writable && !f->write_failed) st = reserve(f, "/", 0);
        if (f->write_failed) {
            /* The failed write's message stays: it says what went wrong. */
            if (st == ST_OK) st = ST_EIO;
            discard_pending_writes(f);
        }
        if (H5Fclose(f->id) < 0 && st == ST_OK)
            st = h5_fail_at(ST_EHDF5, __FILE__, __LINE__, f, NULL,
                            "cannot close file (disk full or I/O error?)");
        f->id = H5I_INVALID_HID;
        if (f->reserved_end > 0 && st == ST_OK) release_reserve(f);
    }
    free(f->path);
    f->path = NULL;
    return st;
}

/* ---- objects ------------------------------------------------------------ */

st_status h5_exists(h5_file *f, const char *path, bool *out)
{
    st_status st = ST_OK;
    char *copy = NULL;
    *out = false;
    path = objpath(path);
    if (strcmp(path, "/") == 0) {
        *out = true;
        return ST_OK;
    }
    copy = strdup(path);
    CHECK_ALLOC(copy);
    /* H5Lexists fails on a missing parent, so test each prefix in turn. */
    for (char *p = copy + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            htri_t e = H5Lexists(f->id, copy, H5P_DEFAULT);
            if (e < 0) H5FAIL(ST_EHDF5, path, "cannot look up the object");
            if (e == 0) goto out;
            *p = c;
            if (c == '\0') break;
        }
    }
    htri_t ok = H5Oexists_by_name(f->id, path, H5P_DEFAULT);
    if (ok < 0) H5FAIL(ST_EHDF5, path, "cannot look up the object");
    *out = ok > 0;
out:
    free(copy);
    return st;
}

st_status h5_group(h5_file *f, const char *path)
{
    st_status st = ST_OK;
    hid_t lcpl = H5I_INVALID_HID, g = H5I_INVALID_HID;
    bool e = false;
    CHECK(h5_exists(f, path, &e));
    if (e) goto out;
    lcpl = lcpl_parents();
    g = H5Gcreate2(f->id, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) H5FAIL(ST_EHDF5, path, "cannot create group");
out:
    close_id(&g);
    close_id(&lcpl);
    return st;
}

/* ---- attributes --------------------------------------------------------- */

/* Open the object at obj, delete attribute `name` when present, create it with
 * type/space; *attr and *o are returned open. */
static st_status attr_recreate(h5_file *f, const char *obj, const char *name, hid_t type,
                               hid_t space, hid_t *o, hid_t *attr)
{
    st_status st = ST_OK;
    obj = objpath(obj);
    *o = H5Oopen(f->id, obj, H5P_DEFAULT);
    if (*o < 0) H5FAIL(ST_EHDF5, obj, "cannot open object to set attribute '%s'", name);
    htri_t e = H5Aexists(*o, name);
    if (e < 0) H5FAIL(ST_EHDF5, obj, "cannot look up attribute '%s'", name);
    if (e > 0 && H5Adelete(*o, name) < 0)
        H5FAIL(ST_EHDF5, obj, "cannot replace attribute '%s'", name);
    *attr = H5Acreate2(*o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (*attr < 0) H5FAIL(ST_EHDF5, obj, "cannot create attribute '%s'", name);
out:
    return st;
}

static hid_t str_type(size_t len)
{
    /* Fixed length, NUL-padded: parallel HDF5 cannot write variable-length
     * raw data. */
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

st_status h5_attr_set_str(h5_file *f, const char *obj, const char *name, const char *value)
{
    st_status st = ST_OK;
    hid_t t = H5I_INVALID_HID, s = H5I_INVALID_HID, o = H5I_INVALID_HID, a = H5I_INVALID_HID;
    /* Variable-length UTF-8, which h5py returns as str (fixed-length would
     * come back as bytes).  Attributes live in the object header, so parallel
     * HDF5 writes them as metadata, which variable-length data may be. */
    t = H5Tcopy(H5T_C_S1);
    s = H5Screate(H5S_SCALAR);
    H5TRY(t, obj, "cannot make a string type for attribute '%s'", name);
    H5TRY(H5Tset_size(t, H5T_VARIABLE), obj, "string type");
    H5TRY(H5Tset_cset(t, H5T_CSET_UTF8), obj, "string type");
    H5TRY(s, obj, "cannot make a dataspace for attribute '%s'", name);
    CHECK(attr_recreate(f, obj, name, t, s, &o, &a));
    H5TRY_W(H5Awrite(a, t, &value), objpath(obj), "cannot write attribute '%s'", name);
out:
    close_id(&a);
    close_id(&o);
    close_id(&s);
    close_id(&t);
    return st;
}

st_status h5_attr_set_array(h5_file *f, const char *obj, const char *name, h5_dtype t,
                            size_t n, const void *values)
{
    st_status st = ST_OK;
    hid_t s = H5I_INVALID_HID, o = H5I_INVALID_HID, a = H5I_INVALID_HID;
    CHECK_DTYPE(t, obj);
    if (n == 0) H5FAIL(ST_ERR, objpath(obj), "attribute '%s' needs at least one value", name);
    hsize_t dim = n;
    s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    H5TRY(s, obj, "cannot make a dataspace for attribute '%s'", name);
    CHECK(attr_recreate(f, obj, name, file_type(t), s, &o, &a));
    H5TRY_W(H5Awrite(a, mem_type(t), values), objpath(obj), "cannot write attribute '%s'", name);
out:
    close_id(&a);
    close_id(&o);
    close_id(&s);
    return st;
}

st_status h5_attr_set_i64(h5_file *f, const char *obj, const char *name, int64_t value)
{
    return h5_attr_set_array(f, obj, name, H5_DT_I64, 1, &value);
}

st_status h5_attr_set_f64(h5_file *f, const char *obj, const char *name, double value)
{
    return h5_attr_set_array(f, obj, name, H5_DT_F64, 1, &value);
}

st_status h5_attr_exists(h5_file *f, const char *obj, const char *name, bool *out)
{
    st_status st = ST_OK;
    *out = false;
    htri_t e = H5Aexists_by_name(f->id, objpath(obj), name, H5P_DEFAULT);
    if (e < 0) H5FAIL(ST_EHDF5, objpath(obj), "cannot look up attribute '%s'", name);
    *out = e > 0;
out:
    return st;
}

static st_status attr_open(h5_file *f, const char *obj, const char *name, hid_t *a)
{
    st_status st = ST_OK;
    *a = H5Aopen_by_name(f->id, objpath(obj), name, H5P_DEFAULT, H5P_DEFAULT);
    if (*a < 0) H5FAIL(ST_EHDF5, objpath(obj), "cannot open attribute '%s'", name);
out:
    return st;
}

st_status h5_attr_get_str(h5_file *f, const char *obj, const char *name, char **out)
{
    st_status st = ST_OK;
    hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    char *buf = NULL;
    *out = NULL;
    CHECK(attr_open(f, obj, name, &a));
    t = H5Aget_type(a);
    H5TRY(t, objpath(obj), "cannot get the type of attribute '%s'", name);
    if (H5Tget_class(t) != H5T_STRING)
        H5FAIL(ST_EDATA, objpath(obj), "attribute '%s' is not a string", name);
    if (H5Tis_variable_str(t) > 0) {
        /* Written by other tools (h5py writes variable-length strings). */
        char *vl = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5TRY(H5Tset_size(mt, H5T_VARIABLE), objpath(obj), "string type");
        H5TRY(H5Tset_cset(mt, H5Tget_cset(t)), objpath(obj), "string type");
        H5TRY(H5Aread(a, mt, &vl), objpath(obj), "cannot read attribute '%s'", name);
        buf = strdup(vl ? vl : "");
        H5free_memory(vl);
        CHECK_ALLOC(buf);
    } else {
        size_t n = H5Tget_size(t);
        mt = str_type(n);
        if (mt >= 0) H5Tset_cset(mt, H5Tget_cset(t));
        H5TRY(mt, objpath(obj), "string type");
        buf = calloc(n + 1, 1);
        CHECK_ALLOC(buf);
        H5TRY(H5Aread(a, mt, buf), objpath(obj), "cannot read attribute '%s'", name);
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    close_id(&mt);
    close_id(&t);
    close_id(&a);
    return st;
}

st_status h5_attr_get_array(h5_file *f, const char *obj, const char *name, h5_dtype t,
                            size_t cap, void *values, size_t *n)
{
    st_status st = ST_OK;
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, s = H5I_INVALID_HID;
    *n = 0;
    CHECK_DTYPE(t, obj);
    CHECK(attr_open(f, obj, name, &a));
    ft = H5Aget_type(a);
    s = H5Aget_space(a);
    H5TRY(ft, objpath(obj), "attribute '%s'", name);
    H5TRY(s, objpath(obj), "attribute '%s'", name);
    H5T_class_t c = H5Tget_class(ft);
    if (c != H5T_INTEGER && c != H5T_FLOAT)
        H5FAIL(ST_EDATA, objpath(obj), "attribute '%s' is not numeric", name);
    if (H5Sget_simple_extent_ndims(s) > 1)
        H5FAIL(ST_EDATA, objpath(obj), "attribute '%s' has more than one dimension", name);
    hssize_t np = H5Sget_simple_extent_npoints(s);
    if (np < 0) H5FAIL(ST_EHDF5, objpath(obj), "attribute '%s'", name);
    if ((size_t)np > cap)
        H5FAIL(ST_EDATA, objpath(obj), "attribute '%s' has %lld values, expected at most %zu",
               name, (long long)np, cap);
    if (np > 0)
        H5TRY(H5Aread(a, mem_type(t), values), objpath(obj), "cannot read attribute '%s'", name);
    *n = (size_t)np;
out:
    close_id(&s);
    close_id(&ft);
    close_id(&a);
    return st;
}

static st_status attr_get_one(h5_file *f, const char *obj, const char *name, h5_dtype t,
                              void *out)
{
    st_status st = ST_OK;
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID;
    size_t n = 0;
    if (t == H5_DT_I64) {
        /* An int64 result from a float attribute would silently truncate. */
        CHECK(attr_open(f, obj, name, &a));
        ft = H5Aget_type(a);
        if (H5Tget_class(ft) != H5T_INTEGER)
            H5FAIL(ST_EDATA, objpath(obj), "attribute '%s' is not an integer", name);
    }
    CHECK(h5_attr_get_array(f, obj, name, t, 1, out, &n));
    if (n != 1) H5FAIL(ST_EDATA, objpath(obj), "attribute '%s' is empty", name);
out:
    close_id(&ft);
    close_id(&a);
    return st;
}

st_status h5_attr_get_i64(h5_file *f, const char *obj, const char *name, int64_t *out)
{
    return attr_get_one(f, obj, name, H5_DT_I64, out);
}

st_status h5_attr_get_f64(h5_file *f, const char *obj, const char *name, double *out)
{
    return attr_get_one(f, obj, name, H5_DT_F64, out);
}

/* ---- string datasets ---------------------------------------------------- */

st_status h5_write_string(h5_file *f, const char *path, const char *text)
{
    st_status st = ST_OK;
    hid_t t = H5I_INVALID_HID, s = H5I_INVALID_HID, d = H5I_INVALID_HID;
    hid_t lcpl = H5I_INVALID_HID, x = H5I_INVALID_HID, fs = H5I_INVALID_HID;
    size_t len = strlen(text);
    t = str_type(len);
    s = H5Screate(H5S_SCALAR);
    lcpl = lcpl_parents();
    x = dxpl_for(f);
    H5TRY(t, path, "cannot make a string type");
    H5TRY(s, path, "cannot make a dataspace");
    d = H5Dcreate2(f->id, path, t, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) H5FAIL(ST_EHDF5, path, "cannot create string dataset");
    /* Data comes from rank 0; the others take part with empty selections. */
    fs = H5Dget_space(d);
    if (f->rank != 0) {
        H5Sselect_none(s);
        H5Sselect_none(fs);
    }
    CHECK(reserve(f, path, len));
    H5TRY_W(H5Dwrite(d, t, s, fs, x, f->rank == 0 && len ? text : "\0"), path,
          "cannot write string dataset");
    CLOSE_WRITTEN(d, path);
out:
    close_id(&fs);
    close_id(&d);
    close_id(&x);
    close_id(&lcpl);
    close_id(&s);
    close_id(&t);
    return st;
}

st_status h5_read_string(h5_file *f, const char *path, char **out)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID, s = H5I_INVALID_HID;
    char *buf = NULL;
    *out = NULL;
    d = H5Dopen2(f->id, path, H5P_DEFAULT);
    if (d < 0) H5FAIL(ST_EHDF5, path, "cannot open dataset");
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    H5TRY(t, path, "cannot get the dataset type");
    H5TRY(s, path, "cannot get the dataspace");
    if (H5Tget_class(t) != H5T_STRING) H5FAIL(ST_EDATA, path, "dataset is not a string");
    if (H5Sget_simple_extent_npoints(s) != 1)
        H5FAIL(ST_EDATA, path, "string dataset holds more than one string");
    if (H5Tis_variable_str(t) > 0) {
        char *vl = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5TRY(H5Tset_size(mt, H5T_VARIABLE), path, "string type");
        H5TRY(H5Tset_cset(mt, H5Tget_cset(t)), path, "string type");
        H5TRY(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &vl), path, "cannot read string");
        buf = strdup(vl ? vl : "");
        H5Dvlen_reclaim(mt, s, H5P_DEFAULT, &vl);
        CHECK_ALLOC(buf);
    } else {
        size_t n = H5Tget_size(t);
        mt = str_type(n);
        if (mt >= 0) H5Tset_cset(mt, H5Tget_cset(t));
        H5TRY(mt, path, "string type");
        buf = calloc(n + 1, 1);
        CHECK_ALLOC(buf);
        H5TRY(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), path, "cannot read string");
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    close_id(&s);
    close_id(&mt);
    close_id(&t);
    close_id(&d);
    return st;
}

/* ---- typed n-D datasets ------------------------------------------------- */

/* Chunk shape under the storage rule: start from the whole array and cut
 * leading dimensions until a chunk fits H5_CHUNK_BYTES. */
static void chunk_shape(int rank, const hsize_t *dims, size_t elsize, hsize_t *chunk)
{
    hsize_t bytes = elsize;
    for (int i = 0; i < rank; i++) {
        chunk[i] = dims[i] ? dims[i] : 1;
        bytes *= chunk[i];
    }
    for (int i = 0; i < rank && bytes > H5_CHUNK_BYTES; i++) {
        hsize_t rest = bytes / chunk[i];
        hsize_t c = rest >= H5_CHUNK_BYTES ? 1 : H5_CHUNK_BYTES / rest;
        chunk[i] = c;
        bytes = rest * c;
    }
}

/* Dataset creation properties under the storage rule.  maxdims may be NULL
 * (fixed size).  Empty fixed-size datasets cannot be chunked: contiguous. */
static hid_t dcpl_for(int rank, const hsize_t *dims, const hsize_t *maxdims, size_t elsize)
{
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    if (p < 0) return p;
    bool empty = false;
    for (int i = 0; i < rank; i++)
        if (dims[i] == 0 && !(maxdims && maxdims[i] == H5S_UNLIMITED)) empty = true;
    /* No fill pass: every element is written right after creation. */
    H5Pset_fill_time(p, H5D_FILL_TIME_NEVER);
    if (rank == 0 || empty) return p;
    hsize_t chunk[H5_MAX_RANK];
    chunk_shape(rank, dims, elsize, chunk);
    if (H5Pset_chunk(p, rank, chunk) < 0 || H5Pset_fletcher32(p) < 0) {
        H5Pclose(p);
        return H5I_INVALID_HID;
    }
    return p;
}

static st_status dataset_create(h5_file *f, const char *path, h5_dtype t, int rank,
                                const hsize_t *dims, const hsize_t *maxdims, const hsize_t *chunk_hint,
                                hid_t *d)
{
    st_status st = ST_OK;
    hid_t s = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    bool e = false;
    *d = H5I_INVALID_HID;
    CHECK_DTYPE(t, path);
    if (rank < 0 || rank > H5_MAX_RANK)
        H5FAIL(ST_ERR, path, "rank %d outside 0..%d", rank, H5_MAX_RANK);
    CHECK(h5_exists(f, path, &e));
    if (e) H5FAIL(ST_EHDF5, path, "dataset already exists");
    s = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, maxdims);
    H5TRY(s, path, "cannot make a dataspace");
    dcpl = dcpl_for(rank, chunk_hint ? chunk_hint : dims, maxdims, h5_dtype_size(t));
    H5TRY(dcpl, path, "cannot set chunking/Fletcher32");
    lcpl = lcpl_parents();
    *d = H5Dcreate2(f->id, path, file_type(t), s, lcpl, dcpl, H5P_DEFAULT);
    if (*d < 0) H5FAIL(ST_EHDF5, path, "cannot create dataset");
out:
    close_id(&lcpl);
    close_id(&dcpl);
    close_id(&s);
    return st;
}

static size_t count_of(int rank, const size_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

st_status h5_write(h5_file *f, const char *path, h5_dtype t, int rank, const size_t *dims,
                   const void *data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, ms = H5I_INVALID_HID, fs = H5I_INVALID_HID, x = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK] = {0};
    if (rank < 0 || rank > H5_MAX_RANK)
        H5FAIL(ST_ERR, path, "rank %d outside 0..%d", rank, H5_MAX_RANK);
    for (int i = 0; i < rank; i++) hd[i] = dims[i];
    CHECK(dataset_create(f, path, t, rank, hd, NULL, NULL, &d));
    if (count_of(rank, dims) == 0) goto out;
    fs = H5Dget_space(d);
    ms = H5Scopy(fs);
    x = dxpl_for(f);
    H5TRY(fs, path, "dataspace");
    H5TRY(ms, path, "dataspace");
    if (f->rank != 0) {
        H5Sselect_none(ms);
        H5Sselect_none(fs);
    }
    CHECK(reserve(f, path, count_of(rank, dims) * h5_dtype_size(t)));
    H5TRY_W(H5Dwrite(d, mem_type(t), ms, fs, x, f->rank == 0 ? data : dummy_buf), path,
          "cannot write %s data", h5_dtype_name(t));
    CLOSE_WRITTEN(d, path);
out:
    close_id(&x);
    close_id(&ms);
    close_id(&fs);
    close_id(&d);
    return st;
}

/* Open a dataset and get its shape. */
static st_status dataset_open(h5_file *f, const char *path, hid_t *d, int *rank, hsize_t *dims)
{
    st_status st = ST_OK;
    hid_t s = H5I_INVALID_HID;
    *d = H5Dopen2(f->id, path, H5P_DEFAULT);
    if (*d < 0) H5FAIL(ST_EHDF5, path, "cannot open dataset");
    s = H5Dget_space(*d);
    H5TRY(s, path, "cannot get the dataspace");
    int r = H5Sget_simple_extent_ndims(s);
    if (r < 0) H5FAIL(ST_EHDF5, path, "cannot get the rank");
    if (r > H5_MAX_RANK) H5FAIL(ST_EDATA, path, "rank %d above %d", r, H5_MAX_RANK);
    H5Sget_simple_extent_dims(s, dims, NULL);
    *rank = r;
out:
    close_id(&s);
    return st;
}

st_status h5_shape(h5_file *f, const char *path, int *rank, size_t *dims)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK] = {0};
    CHECK(dataset_open(f, path, &d, rank, hd));
    for (int i = 0; i < *rank; i++) dims[i] = hd[i];
out:
    close_id(&d);
    return st;
}

st_status h5_dtype_of(h5_file *f, const char *path, h5_dtype *t)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, ft = H5I_INVALID_HID;
    d = H5Dopen2(f->id, path, H5P_DEFAULT);
    if (d < 0) H5FAIL(ST_EHDF5, path, "cannot open dataset");
    ft = H5Dget_type(d);
    H5TRY(ft, path, "cannot get the dataset type");
    size_t sz = H5Tget_size(ft);
    switch (H5Tget_class(ft)) {
    case H5T_FLOAT: *t = sz <= 4 ? H5_DT_F32 : H5_DT_F64; break;
    case H5T_INTEGER:
        if (H5Tget_sign(ft) == H5T_SGN_NONE)
            *t = sz == 1 ? H5_DT_U8 : sz == 2 ? H5_DT_U16 : sz == 4 ? H5_DT_U32 : H5_DT_U64;
        else
            *t = sz <= 4 ? H5_DT_I32 : H5_DT_I64;
        break;
    default: H5FAIL(ST_EDATA, path, "not a numeric dataset");
    }
out:
    close_id(&ft);
    close_id(&d);
    return st;
}

static st_status read_whole(h5_file *f, const char *path, hid_t d, h5_dtype t, void *data)
{
    st_status st = ST_OK;
    H5TRY(H5Dread(d, mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path,
          "cannot read %s data (corrupt file?)", h5_dtype_name(t));
out:
    return st;
}

st_status h5_read(h5_file *f, const char *path, h5_dtype t, int *rank, size_t *dims, void **data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK] = {0};
    void *buf = NULL;
    *data = NULL;
    CHECK_DTYPE(t, path);
    CHECK(dataset_open(f, path, &d, rank, hd));
    for (int i = 0; i < *rank; i++) dims[i] = hd[i];
    size_t n = count_of(*rank, dims);
    if (n > 0) {
        buf = malloc(n * h5_dtype_size(t));
        CHECK_ALLOC(buf);
        CHECK(read_whole(f, path, d, t, buf));
    }
    *data = buf;
    buf = NULL;
out:
    free(buf);
    close_id(&d);
    return st;
}

static void shape_str(char *buf, size_t cap, int rank, const size_t *dims)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%zu", i ? "," : "", dims[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

st_status h5_read_into(h5_file *f, const char *path, h5_dtype t, int rank, const size_t *dims,
                       void *data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK] = {0};
    size_t have[H5_MAX_RANK];
    int r = 0;
    CHECK_DTYPE(t, path);
    CHECK(dataset_open(f, path, &d, &r, hd));
    bool same = r == rank;
    for (int i = 0; i < r; i++) {
        have[i] = hd[i];
        if (same && have[i] != dims[i]) same = false;
    }
    if (!same) {
        char a[160], b[160];
        shape_str(a, sizeof a, r, have);
        shape_str(b, sizeof b, rank, dims);
        H5FAIL(ST_EDATA, path, "shape %s, expected %s", a, b);
    }
    if (count_of(r, have) > 0) CHECK(read_whole(f, path, d, t, data));
out:
    close_id(&d);
    return st;
}

/* ---- row-distributed 2-D arrays ----------------------------------------- */

/* Memory and file selections of rows [row0, row0 + nrows) of a 2-D dataset
 * (empty selections when nrows is 0) and the transfer property list. */
static st_status select_rows(h5_file *f, const char *path, hid_t d, size_t row0, size_t nrows,
                             size_t ncols, hid_t *ms, hid_t *fs, hid_t *x)
{
    st_status st = ST_OK;
    hsize_t mdims[2] = {nrows ? nrows : 1, ncols};
    *ms = H5Screate_simple(2, mdims, NULL);
    *fs = H5Dget_space(d);
    *x = dxpl_for(f);
    H5TRY(*ms, path, "dataspace");
    H5TRY(*fs, path, "dataspace");
    if (nrows > 0) {
        hsize_t start[2] = {row0, 0}, count[2] = {nrows, ncols};
        H5TRY(H5Sselect_hyperslab(*fs, H5S_SELECT_SET, start, NULL, count, NULL), path,
              "cannot select rows %zu..%zu", row0, row0 + nrows);
    } else {
        H5Sselect_none(*ms);
        H5Sselect_none(*fs);
    }
out:
    return st;
}

st_status h5_write_rows(h5_file *f, const char *path, h5_dtype t, size_t n_total, size_t ncols,
                        size_t row0, size_t nrows, const void *data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, ms = H5I_INVALID_HID, fs = H5I_INVALID_HID, x = H5I_INVALID_HID;
    /* Catch disagreeing callers before they reach a collective that would hang. */
    unsigned long long mine[4] = {n_total, ncols, (unsigned long long)t, 0}, lo[4], hi[4];
    unsigned long long cnt = nrows, sum = 0, end = row0 + nrows, maxend = 0;
    CHECK_MPI(MPI_Allreduce(mine, lo, 3, MPI_UNSIGNED_LONG_LONG, MPI_MIN, f->comm));
    CHECK_MPI(MPI_Allreduce(mine, hi, 3, MPI_UNSIGNED_LONG_LONG, MPI_MAX, f->comm));
    CHECK_MPI(MPI_Allreduce(&cnt, &sum, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, f->comm));
    CHECK_MPI(MPI_Allreduce(&end, &maxend, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, f->comm));
    if (memcmp(lo, hi, sizeof(lo[0]) * 3) != 0)
        H5FAIL(ST_ERR, path, "ranks disagree on shape or type of the row-distributed array");
    if (sum != n_total || maxend > n_total)
        H5FAIL(ST_ERR, path, "row ranges of the ranks cover %llu rows (last row %llu), expected %zu",
               sum, maxend, n_total);
    hsize_t dims[2] = {n_total, ncols};
    CHECK(dataset_create(f, path, t, 2, dims, NULL, NULL, &d));
    if (n_total == 0 || ncols == 0) goto out;
    CHECK(select_rows(f, path, d, row0, nrows, ncols, &ms, &fs, &x));
    CHECK(reserve(f, path, n_total * ncols * h5_dtype_size(t)));
    H5TRY_W(H5Dwrite(d, mem_type(t), ms, fs, x, nrows ? data : dummy_buf), path,
          "cannot write rows %zu..%zu", row0, row0 + nrows);
    CLOSE_WRITTEN(d, path);
out:
    close_id(&x);
    close_id(&fs);
    close_id(&ms);
    close_id(&d);
    return st;
}

st_status h5_read_rows(h5_file *f, const char *path, h5_dtype t, size_t ncols, size_t row0,
                       size_t nrows, void *data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, ms = H5I_INVALID_HID, fs = H5I_INVALID_HID, x = H5I_INVALID_HID;
    hsize_t dims[H5_MAX_RANK];
    int r = 0;
    CHECK_DTYPE(t, path);
    CHECK(dataset_open(f, path, &d, &r, dims));
    /* Every rank reaches the collective read, even one whose request is bad:
     * it then reads nothing and reports its error afterwards. */
    st_status bad = ST_OK;
    if (r != 2)
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path, "rank %d, expected a 2-D array", r);
    else if (dims[1] != ncols)
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path, "%llu columns, expected %zu",
                         (unsigned long long)dims[1], ncols);
    else if (row0 + nrows > dims[0])
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path,
                         "rows %zu..%zu requested, the array has %llu", row0, row0 + nrows,
                         (unsigned long long)dims[0]);
    int any_bad = bad != ST_OK, all_bad = 0;
    CHECK_MPI(MPI_Allreduce(&any_bad, &all_bad, 1, MPI_INT, MPI_MAX, f->comm));
    if (all_bad) {
        if (bad == ST_OK) H5FAIL(ST_EDATA, path, "another rank requested a bad row range");
        st = bad;
        goto out;
    }
    if (dims[0] == 0 || ncols == 0) goto out;
    CHECK(select_rows(f, path, d, row0, nrows, ncols, &ms, &fs, &x));
    H5TRY(H5Dread(d, mem_type(t), ms, fs, x, nrows ? data : (void *)dummy_buf), path,
          "cannot read rows %zu..%zu (corrupt file?)", row0, row0 + nrows);
out:
    close_id(&x);
    close_id(&fs);
    close_id(&ms);
    close_id(&d);
    return st;
}

/* ---- column tables ------------------------------------------------------ */

#define TABLE_CHUNK_ROWS 512 /* rows per chunk of a column */

static void join(char *buf, size_t cap, const char *group, const char *name)
{
    snprintf(buf, cap, "%s/%s", group, name);
}

st_status h5_table_create(h5_file *f, const char *group, size_t ncols, const h5_column *cols)
{
    st_status st = ST_OK;
    hid_t scale = H5I_INVALID_HID, d = H5I_INVALID_HID;
    hid_t gcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID, g = H5I_INVALID_HID;
    char path[1024];
    bool e = false;
    if (ncols == 0) H5FAIL(ST_ERR, group, "a table needs at least its dimension-scale column");
    CHECK(h5_exists(f, group, &e));
    if (e) H5FAIL(ST_EHDF5, group, "table already exists");
    /* Columns remember their order, so h5py/pandas list them as defined. */
    gcpl = H5Pcreate(H5P_GROUP_CREATE);
    lcpl = lcpl_parents();
    H5TRY(gcpl, group, "property list");
    H5TRY(H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), group,
          "cannot track creation order");
    g = H5Gcreate2(f->id, group, lcpl, gcpl, H5P_DEFAULT);
    if (g < 0) H5FAIL(ST_EHDF5, group, "cannot create table group");
    /* Which column is the scale, for h5_table_nrows and for readers. */
    CHECK(h5_attr_set_str(f, group, "dimension_scale", cols[0].name));
    hsize_t zero = 0, unlim = H5S_UNLIMITED, chunk = TABLE_CHUNK_ROWS;
    for (size_t i = 0; i < ncols; i++) {
        join(path, sizeof path, group, cols[i].name);
        CHECK(dataset_create(f, path, cols[i].dtype, 1, &zero, &unlim, &chunk, &d));
        CHECK(h5_attr_set_str(f, path, "units", cols[i].units ? cols[i].units : ""));
        CHECK(h5_attr_set_str(f, path, "long_name", cols[i].long_name ? cols[i].long_name : ""));
        if (i == 0) {
            H5TRY(H5DSset_scale(d, cols[0].name), path, "cannot make it a dimension scale");
            scale = d;
        } else {
            H5TRY(H5DSattach_scale(d, scale, 0), path, "cannot attach dimension scale '%s'",
                  cols[0].name);
            close_id(&d);
        }
        d = H5I_INVALID_HID;
    }
out:
    close_id(&d);
    close_id(&scale);
    close_id(&g);
    close_id(&lcpl);
    close_id(&gcpl);
    return st;
}

st_status h5_table_append(h5_file *f, const char *group, size_t ncols, const h5_column *cols,
                          size_t nrows, const void *const *data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, ms = H5I_INVALID_HID, fs = H5I_INVALID_HID, x = H5I_INVALID_HID;
    char path[1024];
    unsigned long long n = nrows;
    /* The row count is rank 0's, so the collective extents always agree. */
    CHECK_MPI(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, f->comm));
    if (n == 0) goto out;
    x = dxpl_for(f);
    for (size_t i = 0; i < ncols; i++) {
        int r = 0;
        hsize_t dims[H5_MAX_RANK];
        join(path, sizeof path, group, cols[i].name);
        CHECK_DTYPE(cols[i].dtype, path);
        CHECK(dataset_open(f, path, &d, &r, dims));
        if (r != 1) H5FAIL(ST_EDATA, path, "table column is not 1-D");
        hsize_t n0 = dims[0], grown = n0 + n, count = n;
        H5TRY(H5Dset_extent(d, &grown), path, "cannot extend the column to %llu rows",
              (unsigned long long)grown);
        fs = H5Dget_space(d);
        ms = H5Screate_simple(1, &count, NULL);
        H5TRY(fs, path, "dataspace");
        H5TRY(ms, path, "dataspace");
        if (f->rank == 0) {
            H5TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &n0, NULL, &count, NULL), path,
                  "cannot select the new rows");
        } else {
            H5Sselect_none(ms);
            H5Sselect_none(fs);
        }
        CHECK(reserve(f, path, (size_t)n * h5_dtype_size(cols[i].dtype)));
        H5TRY_W(H5Dwrite(d, mem_type(cols[i].dtype), ms, fs, x, f->rank == 0 ? data[i] : dummy_buf),
              path, "cannot append %llu rows", n);
        close_id(&ms);
        close_id(&fs);
        CLOSE_WRITTEN(d, path);
    }
out:
    close_id(&ms);
    close_id(&fs);
    close_id(&d);
    close_id(&x);
    return st;
}

st_status h5_table_nrows(h5_file *f, const char *group, size_t *nrows)
{
    st_status st = ST_OK;
    char *scale = NULL, path[1024];
    size_t dims[H5_MAX_RANK];
    int r = 0;
    *nrows = 0;
    CHECK(h5_attr_get_str(f, group, "dimension_scale", &scale));
    join(path, sizeof path, group, scale);
    CHECK(h5_shape(f, path, &r, dims));
    if (r != 1) H5FAIL(ST_EDATA, path, "dimension scale is not 1-D");
    *nrows = dims[0];
out:
    free(scale);
    return st;
}

typedef struct names_ctx {
    char **names;
    size_t n, cap;
    bool oom;
} names_ctx;

static herr_t names_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    names_ctx *c = data;
    (void)g;
    (void)info;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        char **grown = realloc(c->names, cap * sizeof *grown);
        if (!grown) {
            c->oom = true;
            return -1;
        }
        c->names = grown;
        c->cap = cap;
    }
    c->names[c->n] = strdup(name);
    if (!c->names[c->n]) {
        c->oom = true;
        return -1;
    }
    c->n++;
    return 0;
}

void h5_free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

st_status h5_table_columns(h5_file *f, const char *group, char ***names, size_t *n)
{
    st_status st = ST_OK;
    hid_t g = H5I_INVALID_HID, gcpl = H5I_INVALID_HID;
    names_ctx c = {NULL, 0, 0, false};
    char *scale = NULL;
    *names = NULL;
    *n = 0;
    g = H5Gopen2(f->id, group, H5P_DEFAULT);
    if (g < 0) H5FAIL(ST_EHDF5, group, "cannot open table");
    gcpl = H5Gget_create_plist(g);
    unsigned flags = 0;
    H5_index_t idx = H5_INDEX_NAME;
    if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &flags) >= 0 &&
        (flags & H5P_CRT_ORDER_INDEXED))
        idx = H5_INDEX_CRT_ORDER;
    hsize_t pos = 0;
    herr_t rc = H5Literate(g, idx, H5_ITER_INC, &pos, names_cb, &c);
    if (c.oom) FAIL(ST_ENOMEM, "out of memory (column names of %s)", group);
    if (rc < 0) H5FAIL(ST_EHDF5, group, "cannot list the table's columns");
    /* The scale first, whatever the order in the file. */
    CHECK(h5_attr_get_str(f, group, "dimension_scale", &scale));
    for (size_t i = 1; i < c.n; i++)
        if (strcmp(c.names[i], scale) == 0) {
            char *tmp = c.names[i];
            memmove(c.names + 1, c.names, i * sizeof *c.names);
            c.names[0] = tmp;
        }
    *names = c.names;
    *n = c.n;
    c.names = NULL;
out:
    if (c.names) h5_free_names(c.names, c.n);
    free(scale);
    close_id(&gcpl);
    close_id(&g);
    return st;
}

st_status h5_column_read(h5_file *f, const char *group, const char *name, h5_dtype t, size_t *n,
                         void **data)
{
    st_status st = ST_OK;
    char path[1024];
    size_t dims[H5_MAX_RANK];
    int r = 0;
    *n = 0;
    join(path, sizeof path, group, name);
    CHECK(h5_read(f, path, t, &r, dims, data));
    if (r != 1) {
        free(*data);
        *data = NULL;
        H5FAIL(ST_EDATA, path, "table column is not 1-D");
    }
    *n = dims[0];
out:
    return st;
}

/* ---- whole-file checks -------------------------------------------------- */

typedef struct read_all_ctx {
    h5_file *f;
    size_t n;
    st_status st;
    void *buf; /* reused across datasets: fresh pages are slow to touch */
    size_t cap;
} read_all_ctx;

static st_status read_any(h5_file *f, const char *path, hid_t d, read_all_ctx *c)
{
    st_status st = ST_OK;
    hid_t t = H5I_INVALID_HID, mt = H5I_INVALID_HID, s = H5I_INVALID_HID;
    void *buf = NULL;
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    H5TRY(t, path, "cannot get the dataset type");
    H5TRY(s, path, "cannot get the dataspace");
    mt = H5Tget_native_type(t, H5T_DIR_ASCEND);
    H5TRY(mt, path, "cannot map the dataset type");
    hssize_t np = H5Sget_simple_extent_npoints(s);
    if (np < 0) H5FAIL(ST_EHDF5, path, "cannot count elements");
    if (np == 0) goto out;
    size_t need = (size_t)np * H5Tget_size(mt);
    if (need > c->cap) {
        free(c->buf);
        c->buf = malloc(need);
        c->cap = c->buf ? need : 0;
    }
    buf = c->buf;
    CHECK_ALLOC(buf);
    H5TRY(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), path,
          "cannot read data (corrupt file?)");
    if (H5Tdetect_class(mt, H5T_VLEN) > 0 || H5Tis_variable_str(mt) > 0)
        H5Dvlen_reclaim(mt, s, H5P_DEFAULT, buf);
out:
    close_id(&mt);
    close_id(&s);
    close_id(&t);
    return st;
}

static herr_t read_all_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    read_all_ctx *c = data;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        h5_file *f = c->f;
        st_status st = ST_OK;
        H5FAIL(ST_EHDF5, name, "cannot open object (corrupt file?)");
    out:
        c->st = st;
        return -1;
    }
    if (H5Iget_type(o) == H5I_DATASET) {
        c->st = read_any(c->f, name, o, c);
        c->n++;
    }
    H5Oclose(o);
    return c->st == ST_OK ? 0 : -1;
}

st_status h5_read_all(h5_file *f, size_t *n_datasets)
{
    st_status st = ST_OK;
    read_all_ctx c = {f, 0, ST_OK, NULL, 0};
    herr_t rc = H5Lvisit(f->id, H5_INDEX_NAME, H5_ITER_INC, read_all_cb, &c);
    free(c.buf);
    if (c.st != ST_OK) {
        st = c.st;
        goto out;
    }
    if (rc < 0) H5FAIL(ST_EHDF5, "/", "cannot walk the file's objects (corrupt file?)");
out:
    if (n_datasets) *n_datasets = c.n;
    return st;
}
