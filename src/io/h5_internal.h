/* h5_internal.h -- what the h5_*.c files share; not for use outside src/io.
 *
 * h5_file.c   errors, element types, property lists, files, space reservation
 * h5_check.c  the validating layer every read goes through (h5.h,
 *             "Untrusted files"): link-free paths, dataset storage, element
 *             types, shapes and sizes, bounded attribute reads
 * h5_attr.c   attributes
 * h5_kind.c   the root attributes that say what a file is: stamped at
 *             h5_create, checked at h5_open_kind / h5_check_kind
 * h5_data.c   groups, string datasets, n-D datasets, rows, h5_read_all
 * h5_table.c  column tables
 */
#ifndef STRATA_H5_INTERNAL_H
#define STRATA_H5_INTERNAL_H

#include "strata/h5.h"

/* ---- errors (h5_file.c) ------------------------------------------------- */

/* Record "<file>: <object>: <what>: <HDF5's innermost reason>" and return code. */
st_status h5_fail_at(st_status code, const char *src, int line, const h5_file *f, const char *obj,
                     const char *fmt, ...) ST_PRINTF(6, 7);

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

#define CHECK_DTYPE(t, obj)                                                     \
    do {                                                                        \
        if (h5_dtype_size(t) == 0)                                              \
            H5FAIL(ST_ERR, (obj), "unknown element type %d", (int)(t));         \
    } while (0)

/* Close any HDF5 handle and set it to H5I_INVALID_HID (no-op when invalid). */
void h5_close_id(hid_t *id);

/* Process-wide HDF5 settings, made once before the first file is touched:
 * HDF5's error printing off, no external links, no filter plugins. */
void h5_init(void);

/* ---- types and property lists (h5_file.c) ------------------------------- */

hid_t h5_mem_type(h5_dtype t);  /* native type (not to be closed) */
hid_t h5_file_type(h5_dtype t); /* little-endian file type (not to be closed) */
/* Fixed-length NUL-padded UTF-8 string type of len bytes (closed by caller). */
hid_t h5_str_type(size_t len);

/* Root group for "", "/"; otherwise the path as given. */
const char *h5_objpath(const char *p);
/* Link creation that makes missing parent groups. */
hid_t h5_lcpl_parents(void);
/* Collective transfer on a multi-rank file, default otherwise. */
hid_t h5_dxpl_for(const h5_file *f);
/* Valid non-NULL pointer for ranks that select nothing. */
extern const char h5_dummy_buf[16];

/* ---- files (h5_file.c) -------------------------------------------------- */

/* h5_create without the root attributes (h5_kind.c stamps them): create or
 * truncate path on comm; on failure f is closed, the message kept. */
st_status h5_file_create(h5_file *f, const char *path, MPI_Comm comm);
/* Close a file whose opening failed, keeping the message of the failure. */
void h5_close_keep_error(h5_file *f, st_status st);

/* Reserve disk space for a write of nbytes (see h5_close in h5.h). */
st_status h5_reserve(h5_file *f, const char *obj, size_t nbytes);

/* "[3,4,5]" */
void h5_shape_str(char *buf, size_t cap, int rank, const size_t *dims);

/* ---- the validating layer (h5_check.c) ----------------------------------
 * Everything that opens an object by path goes through here, so the rules of
 * h5.h "Untrusted files" are enforced in one place. */

/* The link/dataset access property list every open passes: external links
 * refused by a callback, no soft-link traversal, external raw-data and
 * virtual-source prefixes that name no directory.  Shared, not to be closed. */
hid_t h5_access_plist(void);

/* Every component of path must be a hard link.  A missing component is
 * ST_EHDF5 "no such object" -- or, when found is not NULL, *found = false and
 * ST_OK.  Soft, external and user-defined links -> ST_EDATA naming them. */
st_status h5_path_check(h5_file *f, const char *path, bool *found);

/* Open the group or dataset at path (h5_path_check first). */
st_status h5_obj_open(h5_file *f, const char *path, hid_t *o);

/* What a dataset is opened for: an h5_dtype value, or one of these. */
#define H5_AS_STRING (-1) /* a string dataset (h5_read_string) */
#define H5_AS_ANY (-2)    /* any readable number or string (h5_shape, h5_read_all) */

/* Open the dataset at path for reading as `as` and apply every rule of
 * "Untrusted files" before anything is read: links, storage (no external
 * files, not virtual, known filters), element type, dataspace, shape against
 * want (NULL: any shape) and size against the file.  *rank and dims (hsize_t
 * [H5_MAX_RANK]) receive the shape; *d is open on success. */
st_status h5_dataset_open_read(h5_file *f, const char *path, int as, const h5_expect *want,
                               hid_t *d, int *rank, hsize_t *dims);

/* Can an object of file type ft be read as t without loss (the type rule)?
 * what: "dataset" or "attribute 'x'"; ST_EDATA naming obj when not. */
st_status h5_type_check(h5_file *f, const char *obj, const char *what, hid_t ft, h5_dtype t);

/* A transfer property list whose variable-length allocations are refused
 * above H5_MAX_STRING_BYTES (free with H5Dvlen_reclaim on the same list). */
hid_t h5_bounded_dxpl(void);

/* ---- datasets (h5_data.c) ----------------------------------------------- */

/* Create a dataset under the storage rule; maxdims and chunk_hint may be NULL. */
st_status h5_dataset_create(h5_file *f, const char *path, h5_dtype t, int rank,
                            const hsize_t *dims, const hsize_t *maxdims,
                            const hsize_t *chunk_hint, hid_t *d);

#endif
