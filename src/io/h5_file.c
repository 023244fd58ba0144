/* h5_file.c -- HDF5 files: errors, element types, property lists, create /
 * open / close and the disk-space reservation (see h5.h for the
 * collective-call and storage rules).  The root attributes that say what a
 * file is are h5_kind.c's, above the attribute code. */
#define _GNU_SOURCE /* memfd_create, fallocate */
#include "h5_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* ---- errors ------------------------------------------------------------- */

void h5_init(void)
{
    static int done = 0;
    if (done) return;
    done = 1;
    /* HDF5 prints its whole error stack to stderr by default; strata turns the
     * innermost description into its own message instead. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* A file may name any filter; a plugin for it would be code loaded on the
     * file's say-so.  strata needs only the built-in filters. */
    H5PLset_loading_state(0);
    /* No strata file links to another file, and no reader may follow such a
     * link: without the class HDF5 cannot traverse one at all, whoever asks
     * (also code that bypasses h5_path_check). */
    if (H5Lis_registered(H5L_TYPE_EXTERNAL) > 0) H5Lunregister(H5L_TYPE_EXTERNAL);
    H5Eclear2(H5E_DEFAULT);
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

st_status h5_fail_at(st_status code, const char *src, int line, const h5_file *f,
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
void h5_close_id(hid_t *id)
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

hid_t h5_mem_type(h5_dtype t)
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

hid_t h5_file_type(h5_dtype t)
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

/* HDF5 resolves names relative to the file's root group. */
const char *h5_objpath(const char *p) { return p && p[0] ? p : "/"; }

/* Link creation that makes missing parent groups. */
hid_t h5_lcpl_parents(void)
{
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    if (p >= 0) H5Pset_create_intermediate_group(p, 1);
    return p;
}

/* Collective transfer on a multi-rank file, default otherwise. */
hid_t h5_dxpl_for(const h5_file *f)
{
    hid_t p = H5Pcreate(H5P_DATASET_XFER);
    if (p >= 0 && f->size > 1) H5Pset_dxpl_mpio(p, H5FD_MPIO_COLLECTIVE);
    return p;
}

hid_t h5_str_type(size_t len)
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

/* Valid non-NULL pointer for ranks that select nothing. */
const char h5_dummy_buf[16];

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
    h5_init();
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
void h5_close_keep_error(h5_file *f, st_status st)
{
    char *keep = strdup(st_last_error());
    h5_close(f);
    if (keep) {
        st_fail(st, __FILE__, __LINE__, "%s", keep);
        free(keep);
    }
}

st_status h5_file_create(h5_file *f, const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    hid_t fapl = H5I_INVALID_HID;
    CHECK(file_setup(f, path, comm, &fapl));
    f->id = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f->id < 0) H5FAIL(ST_EHDF5, NULL, "cannot create file");
    f->writable = true;
out:
    h5_close_id(&fapl);
    if (st != ST_OK) {
        h5_close_keep_error(f, st);
    }
    return st;
}

st_status h5_open(h5_file *f, const char *path, MPI_Comm comm, bool writable)
{
    st_status st = ST_OK;
    hid_t fapl = H5I_INVALID_HID;
    struct stat sb;
    CHECK(file_setup(f, path, comm, &fapl));
    /* A clear reason for the common failures before HDF5 gets to guess.
     * Non-blocking: a FIFO in place of the file must not hang the reader. */
    int probe = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (probe < 0) H5FAIL(ST_EHDF5, NULL, "cannot open file: %s", strerror(errno));
    int rc = fstat(probe, &sb);
    close(probe);
    if (rc < 0) H5FAIL(ST_EHDF5, NULL, "cannot open file: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode))
        H5FAIL(ST_EDATA, NULL, "refused: not a regular file (a directory, FIFO or device)");
    htri_t is = H5Fis_hdf5(path);
    if (is == 0) H5FAIL(ST_EHDF5, NULL, "not an HDF5 file");
    f->id = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    if (f->id < 0)
        H5FAIL(ST_EHDF5, NULL, "cannot open HDF5 file (truncated or corrupt?)");
    f->writable = writable;
out:
    h5_close_id(&fapl);
    if (st != ST_OK) {
        h5_close_keep_error(f, st);
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
st_status h5_reserve(h5_file *f, const char *obj, size_t nbytes)
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
        FAIL(ST_EIO, "%s: %s: cannot write %zu bytes: %s", f->path, h5_objpath(obj), nbytes,
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
        if (f->writable && !f->write_failed) st = h5_reserve(f, "/", 0);
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

