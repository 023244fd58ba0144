/* h5.h -- small HDF5 helpers every strata file goes through.
 *
 * Files.  An h5_file is opened on an MPI communicator.  With one rank it uses
 * HDF5's default (sec2) driver; with more it uses the MPI-IO driver and the
 * file is shared by all ranks of the communicator.
 *
 * Collective calls.  In parallel HDF5 everything that changes the file's
 * structure or metadata is collective: h5_create/h5_open/h5_close, creating
 * groups and datasets, writing attributes, extending tables.  Unless a
 * function's comment says otherwise, EVERY function in this header is
 * collective: every rank of f->comm calls it, in the same order, with the
 * same arguments.  Data written by the "whole object" writers (attributes,
 * strings, h5_write, table appends) is taken from rank 0; other ranks must
 * pass a valid pointer of the same shape (usually the same replicated
 * buffer), which is not read.  Readers return the full object on every rank.
 * Only h5_write_rows/h5_read_rows/h5_read_row_set distribute data: each rank
 * passes its own rows.
 *
 * Paths.  Object paths are '/'-separated and relative to the file root
 * ("model/block_001/attn_qkv_w" == "/model/block_001/attn_qkv_w").  Writers
 * create missing parent groups.  Attribute functions take the path of the
 * object that carries the attribute ("/" or "" = the root group).
 *
 * Storage rule.  Every numeric dataset of rank >= 1 with at least one
 * element is chunked and carries a Fletcher32 checksum, so a flipped bit is
 * detected when the data is read (h5_read fails naming file and dataset).
 * Chunks hold at most H5_CHUNK_BYTES: the leading dimensions are cut down
 * first, trailing dimensions stay whole when they fit.  Scalars, empty
 * arrays and string datasets are stored contiguously without a checksum.
 * Table columns are chunked by 512 rows.
 *
 * Strings are UTF-8.  String attributes are variable-length (h5py returns
 * str); string datasets are fixed-length and NUL-padded, because parallel
 * HDF5 cannot write variable-length raw data (h5py returns bytes:
 * f['config'].asstr()[()] gives str).  Readers accept both forms.
 *
 * Errors.  HDF5's own error printing is switched off; failures return
 * ST_EHDF5 (or the documented status: ST_EDATA for shapes/types that do not
 * match the request, ST_EIO for a full disk) with a message naming the file
 * path and the object, plus HDF5's innermost error description.
 *
 * Untrusted files.  Any file strata reads may come from a stranger, so every
 * read in this header -- datasets, strings, attributes, shapes, tables,
 * h5_read_all -- goes through one validating layer that refuses, with
 * ST_EDATA and a message naming the file and the object path, before any
 * data is read or any buffer is allocated:
 *  - Links.  Every component of a path must be a hard link; soft, external
 *    and user-defined links are refused (h5_exists too: it does not report a
 *    link as "missing").  Beneath that check, HDF5 itself cannot follow an
 *    external link in this process (the link class is unregistered at first
 *    use; the access property list every open passes also refuses external
 *    links by callback, allows one soft link per traversal and resolves
 *    relative external/virtual file names to a directory that does not
 *    exist), and filter plugins are never loaded.  Absolute external file
 *    names bypass HDF5's prefixes, so the storage check below is the guard.
 *  - Storage.  External raw-data files (H5Pset_external) and virtual
 *    datasets are refused; the only filters accepted are Fletcher32, shuffle
 *    and deflate (anything else would need a plugin or is not strata's).
 *  - Dataspace.  Scalar or simple (a null dataspace is refused), rank <=
 *    H5_MAX_RANK, and the rank and dims the caller expects (h5_expect).
 *  - Element type (the type rule).  The file type must be a standard
 *    little-endian type that the requested type holds (exactly, except
 *    where noted):
 *      F32        IEEE float32 or float64 LE (float64, numpy's default,
 *                 rounds to nearest);
 *      F64        IEEE float32/float64 LE or any standard LE integer (counts
 *                 in tables; integers beyond 2^53 round);
 *      I32, I64   signed integers of at most that size, unsigned ones of a
 *                 smaller size;
 *      U8..U64    unsigned integers of at most that size.
 *    So big-endian data, 16-byte or 2-byte floats, padded integers, floats
 *    read as integers, integers read as F32, enums, compounds etc. are
 *    refused.  Strings: class string, fixed or variable length.
 *  - Size.  span = product of the dims with 0 counted as 1 (an empty array
 *    may not claim more than a full one), computed with overflow checks.
 *    In a file opened read-only (files open for writing are strata's own),
 *    span x stored element size must fit the file: at most
 *    H5Fget_filesize() without deflate, at most H5_DEFLATE_MAX_RATIO times
 *    that with deflate (deflate cannot do better); span x requested
 *    element size at most
 *    H5_MAX_READ_BYTES; span at most the caller's max_elems; a chunk at most
 *    H5_MAX_CHUNK_READ_BYTES (HDF5 allocates whole chunks).  So a huge shape
 *    in a tiny file (chunked, nothing written) is refused without reading.
 *  - Strings.  String datasets and attributes hold one string (scalar or one
 *    element, else refused: an array of strings would overrun the reader);
 *    fixed-length ones at most H5_MAX_STRING_BYTES (datasets) and
 *    H5_MAX_ATTR_STRING_BYTES (attributes); variable-length ones are refused
 *    during the read when longer (their bytes live in the file's heap, so
 *    HDF5's own allocation is bounded by the file).
 *  - Numeric attributes: the type rule, at most `cap` elements, rank <= 1.
 *  - Files: h5_open refuses paths that are not regular files (FIFOs,
 *    devices, directories), without blocking on a FIFO.
 * Callers still check values (indices in range, sizes that agree).
 *
 * Ownership.  Buffers returned through `void **` / `char **` are malloc'd and
 * owned by the caller (free()).  h5_file owns its HDF5 handle and its copy of
 * the path; it does not own the communicator.
 */
#ifndef STRATA_H5_H
#define STRATA_H5_H

#include <hdf5.h>
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

/* Values of the root attribute `kind`. */
#define H5_KIND_DATASET "dataset"
#define H5_KIND_SUBSTRATE "substrate"
#define H5_KIND_CHECKPOINT "checkpoint"
#define H5_KIND_ENSEMBLE "ensemble"
#define H5_KIND_TOKENIZER "tokenizer"

#define H5_MAX_RANK 8                   /* most dimensions of a dataset */
#define H5_CHUNK_BYTES (1u << 20)       /* largest chunk (1 MiB) */

/* Limits of the validating reader ("Untrusted files" above). */
#define H5_MAX_READ_BYTES ((size_t)16 << 30)       /* one dataset, in memory */
#define H5_MAX_CHUNK_READ_BYTES ((size_t)64 << 20) /* one chunk in the file */
#define H5_DEFLATE_MAX_RATIO 1032                  /* zlib's best ratio */
#define H5_MAX_STRING_BYTES ((size_t)64 << 20)     /* one string dataset */
#define H5_MAX_ATTR_STRING_BYTES ((size_t)1 << 20) /* one string attribute */

/* Element types of datasets and attributes (stored little-endian). */
typedef enum h5_dtype {
    H5_DT_F32 = 0,
    H5_DT_F64,
    H5_DT_I32,
    H5_DT_I64,
    H5_DT_U8,
    H5_DT_U16,
    H5_DT_U32,
    H5_DT_U64,
} h5_dtype;

/* Size in bytes of one element; its name ("float32", ...). */
size_t h5_dtype_size(h5_dtype t);
const char *h5_dtype_name(h5_dtype t);

typedef struct h5_file {
    hid_t id;        /* HDF5 file handle (H5I_INVALID_HID when closed) */
    MPI_Comm comm;   /* communicator it was opened on (not owned) */
    int rank, size;  /* of comm */
    bool writable;
    bool write_failed; /* a write failed: the file is incomplete (see h5_close) */
    char *path;      /* owned copy, for messages */
    int64_t reserved_end; /* internal: disk space reserved up to here */
} h5_file;

/* ---- files ------------------------------------------------------------- */

/* Create (truncate) `path` and write the root attributes format="strata",
 * format_version (h5_format_version of `kind`), kind, strata_version and
 * created_utc (ISO 8601, UTC). */
st_status h5_create(h5_file *f, const char *path, MPI_Comm comm, const char *kind);

/* The format_version this strata writes for files of `kind`, which is also
 * the newest it reads (docs/FORMAT.md "Root attributes"): one table in
 * h5_kind.c, bumped per kind when the meaning of that kind's files changes.
 * A kind this strata does not know gets 1, the shared conventions. */
int64_t h5_format_version(const char *kind);

/* Open an existing file read-only (writable=false) or read-write.  Does not
 * check the root attributes; see h5_open_kind. */
st_status h5_open(h5_file *f, const char *path, MPI_Comm comm, bool writable);

/* Open read-only and check it is a strata file of `kind` (NULL: any kind)
 * with format_version <= h5_format_version(the file's kind).  A file that is
 * not HDF5, not a strata file, of another kind or too new is refused with
 * status `code` (e.g. ST_EDATA for inputs, ST_ECKPT for checkpoints) and a message naming
 * the path; on failure f is left closed. */
st_status h5_open_kind(h5_file *f, const char *path, MPI_Comm comm, const char *kind,
                       st_status code);

/* The same checks on an already open file. */
st_status h5_check_kind(h5_file *f, const char *kind, st_status code);

/* Close (flushes).  Safe on a closed or zeroed h5_file; returns the first
 * error of the close; after an earlier failed write on this file it returns
 * ST_EIO and keeps that write's message.
 * Full disks: on one rank, space for every write is reserved (fallocate)
 * before HDF5 writes, so a full disk fails the write cleanly with ST_EIO and
 * strerror(ENOSPC); after a failed write h5_close discards what HDF5 still
 * had to write, so the incomplete file can be removed and the process goes
 * on (HDF5 1.10 would otherwise crash at exit).  A parallel (MPI-IO) write
 * that fails on a full disk cannot be recovered in-process. */
st_status h5_close(h5_file *f);

/* Initialise an h5_file to the closed state, so h5_close is always safe. */
void h5_file_zero(h5_file *f);

/* ---- objects ----------------------------------------------------------- */

/* Does an object (group or dataset) exist at path?  Missing parents -> false. */
st_status h5_exists(h5_file *f, const char *path, bool *out);
/* Create group `path` and its parents when missing. */
st_status h5_group(h5_file *f, const char *path);

/* ---- attributes (on the object at `obj`; overwritten when present) ------ */

st_status h5_attr_set_str(h5_file *f, const char *obj, const char *name, const char *value);
st_status h5_attr_set_i64(h5_file *f, const char *obj, const char *name, int64_t value);
st_status h5_attr_set_f64(h5_file *f, const char *obj, const char *name, double value);
/* A small 1-D array attribute of n elements of type t (n >= 1). */
st_status h5_attr_set_array(h5_file *f, const char *obj, const char *name, h5_dtype t,
                            size_t n, const void *values);

st_status h5_attr_exists(h5_file *f, const char *obj, const char *name, bool *out);
/* *out is malloc'd and NUL-terminated. */
st_status h5_attr_get_str(h5_file *f, const char *obj, const char *name, char **out);
/* Any integer attribute (scalar or 1 element), converted to int64. */
st_status h5_attr_get_i64(h5_file *f, const char *obj, const char *name, int64_t *out);
/* Any numeric attribute (scalar or 1 element), converted to double. */
st_status h5_attr_get_f64(h5_file *f, const char *obj, const char *name, double *out);
/* Read a 1-D (or scalar) numeric attribute converted to t into values[cap];
 * *n = its length.  More than cap elements -> ST_EDATA naming the attribute. */
st_status h5_attr_get_array(h5_file *f, const char *obj, const char *name, h5_dtype t,
                            size_t cap, void *values, size_t *n);

/* ---- string datasets --------------------------------------------------- */

/* A scalar string dataset holding `text` (any length, may be empty). */
st_status h5_write_string(h5_file *f, const char *path, const char *text);
/* *out is malloc'd and NUL-terminated. */
st_status h5_read_string(h5_file *f, const char *path, char **out);

/* ---- typed n-D datasets (whole array, data from rank 0) ---------------- */

/* Create `path` with dims[0..rank) (row-major, C order) and write data.
 * rank 0 (a scalar) is allowed: dims may be NULL then.  Chunked + Fletcher32
 * per the storage rule above.  Fails if the dataset exists. */
st_status h5_write(h5_file *f, const char *path, h5_dtype t, int rank, const size_t *dims,
                   const void *data);

/* Shape of a dataset: *rank and dims[0..*rank) (dims must hold H5_MAX_RANK). */
st_status h5_shape(h5_file *f, const char *path, int *rank, size_t *dims);

/* Element type of a dataset: the h5_dtype that holds it without loss
 * (8- and 16-bit signed integers -> int32).  Strings etc. -> ST_EDATA. */
st_status h5_dtype_of(h5_file *f, const char *path, h5_dtype *t);

/* What a reader expects of a dataset, checked before anything is allocated.
 * List every dimension: unlisted ones are 0 in a designated initializer.
 *   h5_expect e = {.rank = 2, .dims = {H5_ANY, 768}, .max_elems = 1u << 28};
 * Shapes that differ -> ST_EDATA naming both shapes. */
#define H5_ANY ((size_t)-1) /* any length in this dimension */
typedef struct h5_expect {
    int rank;                 /* -1: any rank 0..H5_MAX_RANK */
    size_t dims[H5_MAX_RANK]; /* [rank]: the length, or H5_ANY */
    size_t max_elems;         /* 0: no limit beyond the file's ("Size" above) */
} h5_expect;

/* Read the whole dataset converted to t into a malloc'd *data (NULL when it
 * has no elements); *rank and dims as h5_shape.  The dataset must meet
 * `want` (NULL: any shape the file can hold) and the rules of "Untrusted
 * files"; the check comes before the malloc.  A checksum mismatch is
 * reported as ST_EHDF5 naming file and dataset. */
st_status h5_read_expect(h5_file *f, const char *path, h5_dtype t, const h5_expect *want,
                         int *rank, size_t *dims, void **data);

/* h5_read_expect with want = NULL.  Prefer h5_read_expect with the shape the
 * caller needs: the file-size bound alone still lets a file make strata
 * allocate up to its own size (or H5_DEFLATE_MAX_RATIO times it). */
st_status h5_read(h5_file *f, const char *path, h5_dtype t, int *rank, size_t *dims,
                  void **data);

/* Read into a caller buffer; the dataset's shape must equal rank/dims exactly
 * (else ST_EDATA naming both shapes). */
st_status h5_read_into(h5_file *f, const char *path, h5_dtype t, int rank, const size_t *dims,
                       void *data);

/* ---- row-distributed 2-D arrays (the only per-rank-data calls) ---------- */

/* Create `path` as [n_total, ncols] of type t; each rank writes its rows
 * [row0, row0 + nrows) from data[nrows][ncols] with one collective transfer.
 * nrows may be 0 on some ranks (data may then be NULL).  n_total, ncols and t
 * must agree on all ranks; the row counts must sum to n_total. */
st_status h5_write_rows(h5_file *f, const char *path, h5_dtype t, size_t n_total, size_t ncols,
                        size_t row0, size_t nrows, const void *data);

/* Read rows [row0, row0 + nrows) of a 2-D dataset into data[nrows][ncols],
 * converted to t; ncols must match the file.  Collective; each rank passes
 * its own range (nrows may be 0). */
st_status h5_read_rows(h5_file *f, const char *path, h5_dtype t, size_t ncols, size_t row0,
                       size_t nrows, void *data);

/* Rows rows[0..nrows) of a 2-D dataset, in any order and possibly
 * repeated, into data[nrows][ncols] (data[i] = row rows[i]), converted to
 * t; ncols must match the file, every row must exist (else ST_EDATA naming
 * the row).  Collective; each rank passes its own rows (nrows may be 0).
 * Reads only the HDF5 chunks that hold those rows. */
st_status h5_read_row_set(h5_file *f, const char *path, h5_dtype t, size_t ncols, const size_t *rows,
                          size_t nrows, void *data);

/* ---- column tables ------------------------------------------------------
 * A table is a group holding 1-D extendable columns of equal length.  The
 * first column is the dimension scale ("step", "depth"); every other column
 * is attached to it (H5DSattach_scale), so h5dump/h5py/xarray know the rows'
 * coordinate.  Every column has `units` and `long_name` attributes.  Read in
 * Python: pd.DataFrame({k: g[k][:] for k in g}) with g = f['metrics/depth']. */
typedef struct h5_column {
    const char *name;      /* dataset name inside the table group */
    h5_dtype dtype;
    const char *units;     /* e.g. "s", "nats/token", "1" for counts/ratios */
    const char *long_name; /* one line, human readable */
} h5_column;

/* Create the table group with cols[0] as the dimension scale and the other
 * columns attached to it, all with 0 rows.  Fails if the group exists. */
st_status h5_table_create(h5_file *f, const char *group, size_t ncols, const h5_column *cols);

/* Append nrows rows: data[i] points to nrows values of cols[i].dtype for
 * column cols[i].name (the cols given may be a subset in any order, but all
 * columns of the table must end with equal length -- the caller appends to
 * all of them). */
st_status h5_table_append(h5_file *f, const char *group, size_t ncols, const h5_column *cols,
                          size_t nrows, const void *const *data);

/* Number of rows (length of the dimension-scale column, the table's first). */
st_status h5_table_nrows(h5_file *f, const char *group, size_t *nrows);

/* Names of the table's columns in creation order (the scale first): *names
 * is a malloc'd array of *n malloc'd strings; free with h5_free_names. */
st_status h5_table_columns(h5_file *f, const char *group, char ***names, size_t *n);
void h5_free_names(char **names, size_t n);

/* Read a column converted to t into a malloc'd *data (NULL when empty); at
 * most max_rows rows (0: no limit beyond the file's). */
st_status h5_column_read_max(h5_file *f, const char *group, const char *name, h5_dtype t,
                             size_t max_rows, size_t *n, void **data);
/* h5_column_read_max with max_rows = 0. */
st_status h5_column_read(h5_file *f, const char *group, const char *name, h5_dtype t,
                         size_t *n, void **data);

/* ---- whole-file checks ------------------------------------------------- */

/* Read every dataset in the file (checksums are verified on read); the first
 * failure names the dataset.  *n_datasets (may be NULL) = datasets read. */
st_status h5_read_all(h5_file *f, size_t *n_datasets);

#endif
