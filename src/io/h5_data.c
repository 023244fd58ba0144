/* h5_data.c -- groups, string datasets, typed n-D datasets, row-distributed
 * 2-D arrays and the whole-file check (see h5.h). */
#include "h5_internal.h"
#include "strata/agree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- objects ------------------------------------------------------------ */

st_status h5_group(h5_file *f, const char *path)
{
    st_status st = ST_OK;
    hid_t lcpl = H5I_INVALID_HID, g = H5I_INVALID_HID;
    bool e = false;
    CHECK(h5_exists(f, path, &e));
    if (e) goto out;
    lcpl = h5_lcpl_parents();
    g = H5Gcreate2(f->id, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) H5FAIL(ST_EHDF5, path, "cannot create group");
out:
    h5_close_id(&g);
    h5_close_id(&lcpl);
    return st;
}

/* ---- string datasets ---------------------------------------------------- */

st_status h5_write_string(h5_file *f, const char *path, const char *text)
{
    st_status st = ST_OK;
    hid_t t = H5I_INVALID_HID, s = H5I_INVALID_HID, d = H5I_INVALID_HID;
    hid_t lcpl = H5I_INVALID_HID, x = H5I_INVALID_HID, fs = H5I_INVALID_HID;
    size_t len = strlen(text);
    t = h5_str_type(len);
    s = H5Screate(H5S_SCALAR);
    lcpl = h5_lcpl_parents();
    x = h5_dxpl_for(f);
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
    CHECK(h5_reserve(f, path, len));
    H5TRY_W(H5Dwrite(d, t, s, fs, x, f->rank == 0 && len ? text : "\0"), path,
          "cannot write string dataset");
    CLOSE_WRITTEN(d, path);
out:
    h5_close_id(&fs);
    h5_close_id(&d);
    h5_close_id(&x);
    h5_close_id(&lcpl);
    h5_close_id(&s);
    h5_close_id(&t);
    return st;
}

st_status h5_read_string(h5_file *f, const char *path, char **out)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID, s = H5I_INVALID_HID;
    hid_t x = H5I_INVALID_HID;
    hsize_t dims[H5_MAX_RANK];
    int r = 0;
    char *buf = NULL;
    *out = NULL;
    /* One string: more would overrun the single buffer below. */
    const h5_expect one = {.rank = -1, .max_elems = 1};
    CHECK(h5_dataset_open_read(f, path, H5_AS_STRING, &one, &d, &r, dims));
    t = H5Dget_type(d);
    s = H5Dget_space(d);
    H5TRY(t, path, "cannot get the dataset type");
    H5TRY(s, path, "cannot get the dataspace");
    if (H5Sget_simple_extent_npoints(s) != 1)
        H5FAIL(ST_EDATA, path, "string dataset holds more than one string");
    if (H5Tis_variable_str(t) > 0) {
        char *vl = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5TRY(mt, path, "string type");
        H5TRY(H5Tset_size(mt, H5T_VARIABLE), path, "string type");
        H5TRY(H5Tset_cset(mt, H5Tget_cset(t)), path, "string type");
        /* HDF5 allocates the string: through an allocator that refuses
         * more than H5_MAX_STRING_BYTES. */
        x = h5_bounded_dxpl();
        H5TRY(x, path, "cannot make a transfer property list");
        H5TRY(H5Dread(d, mt, H5S_ALL, H5S_ALL, x, &vl), path,
              "cannot read string (longer than %zu bytes?)", H5_MAX_STRING_BYTES);
        buf = strdup(vl ? vl : "");
        H5Dvlen_reclaim(mt, s, x, &vl);
        CHECK_ALLOC(buf);
    } else {
        size_t n = H5Tget_size(t);
        mt = h5_str_type(n);
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
    h5_close_id(&x);
    h5_close_id(&s);
    h5_close_id(&mt);
    h5_close_id(&t);
    h5_close_id(&d);
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

st_status h5_dataset_create(h5_file *f, const char *path, h5_dtype t, int rank,
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
    lcpl = h5_lcpl_parents();
    *d = H5Dcreate2(f->id, path, h5_file_type(t), s, lcpl, dcpl, H5P_DEFAULT);
    if (*d < 0) H5FAIL(ST_EHDF5, path, "cannot create dataset");
out:
    h5_close_id(&lcpl);
    h5_close_id(&dcpl);
    h5_close_id(&s);
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
    CHECK(h5_dataset_create(f, path, t, rank, hd, NULL, NULL, &d));
    if (count_of(rank, dims) == 0) goto out;
    fs = H5Dget_space(d);
    ms = H5Scopy(fs);
    x = h5_dxpl_for(f);
    H5TRY(fs, path, "dataspace");
    H5TRY(ms, path, "dataspace");
    if (f->rank != 0) {
        H5Sselect_none(ms);
        H5Sselect_none(fs);
    }
    CHECK(h5_reserve(f, path, count_of(rank, dims) * h5_dtype_size(t)));
    H5TRY_W(H5Dwrite(d, h5_mem_type(t), ms, fs, x, f->rank == 0 ? data : h5_dummy_buf), path,
          "cannot write %s data", h5_dtype_name(t));
    CLOSE_WRITTEN(d, path);
out:
    h5_close_id(&x);
    h5_close_id(&ms);
    h5_close_id(&fs);
    h5_close_id(&d);
    return st;
}

st_status h5_shape(h5_file *f, const char *path, int *rank, size_t *dims)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK] = {0};
    /* Callers allocate by this shape: it gets the checks of a read. */
    CHECK(h5_dataset_open_read(f, path, H5_AS_ANY, NULL, &d, rank, hd));
    for (int i = 0; i < *rank; i++) dims[i] = hd[i];
out:
    h5_close_id(&d);
    return st;
}

st_status h5_dtype_of(h5_file *f, const char *path, h5_dtype *t)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, ft = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK];
    int r = 0;
    CHECK(h5_dataset_open_read(f, path, H5_AS_ANY, NULL, &d, &r, hd));
    ft = H5Dget_type(d);
    H5TRY(ft, path, "cannot get the dataset type");
    size_t sz = H5Tget_size(ft);
    /* Only standard little-endian types get here (the type rule). */
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
    h5_close_id(&ft);
    h5_close_id(&d);
    return st;
}

static st_status read_whole(h5_file *f, const char *path, hid_t d, h5_dtype t, void *data)
{
    st_status st = ST_OK;
    H5TRY(H5Dread(d, h5_mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path,
          "cannot read %s data (corrupt file?)", h5_dtype_name(t));
out:
    return st;
}

st_status h5_read_expect(h5_file *f, const char *path, h5_dtype t, const h5_expect *want,
                         int *rank, size_t *dims, void **data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK] = {0};
    void *buf = NULL;
    *data = NULL;
    *rank = 0;
    /* Every rule is checked here, before the malloc below. */
    CHECK(h5_dataset_open_read(f, path, (int)t, want, &d, rank, hd));
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
    h5_close_id(&d);
    return st;
}

st_status h5_read(h5_file *f, const char *path, h5_dtype t, int *rank, size_t *dims, void **data)
{
    return h5_read_expect(f, path, t, NULL, rank, dims, data);
}

st_status h5_read_into(h5_file *f, const char *path, h5_dtype t, int rank, const size_t *dims,
                       void *data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID;
    hsize_t hd[H5_MAX_RANK] = {0};
    h5_expect want = {.rank = rank};
    int r = 0;
    if (rank < 0 || rank > H5_MAX_RANK)
        H5FAIL(ST_ERR, path, "rank %d outside 0..%d", rank, H5_MAX_RANK);
    for (int i = 0; i < rank; i++) want.dims[i] = dims[i];
    CHECK(h5_dataset_open_read(f, path, (int)t, &want, &d, &r, hd));
    if (count_of(rank, dims) > 0) CHECK(read_whole(f, path, d, t, data));
out:
    h5_close_id(&d);
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
    *x = h5_dxpl_for(f);
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
    CHECK(h5_dataset_create(f, path, t, 2, dims, NULL, NULL, &d));
    if (n_total == 0 || ncols == 0) goto out;
    CHECK(select_rows(f, path, d, row0, nrows, ncols, &ms, &fs, &x));
    CHECK(h5_reserve(f, path, n_total * ncols * h5_dtype_size(t)));
    H5TRY_W(H5Dwrite(d, h5_mem_type(t), ms, fs, x, nrows ? data : h5_dummy_buf), path,
          "cannot write rows %zu..%zu", row0, row0 + nrows);
    CLOSE_WRITTEN(d, path);
out:
    h5_close_id(&x);
    h5_close_id(&fs);
    h5_close_id(&ms);
    h5_close_id(&d);
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
    /* Every rank reaches the collective read, even one whose request (or
     * view of the file) is bad: it then reads nothing and reports its error
     * afterwards. */
    st_status bad = h5_dataset_open_read(f, path, (int)t, NULL, &d, &r, dims);
    if (bad != ST_OK)
        ;
    else if (r != 2)
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path, "rank %d, expected a 2-D array", r);
    else if (dims[1] != ncols)
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path, "%llu columns, expected %zu",
                         (unsigned long long)dims[1], ncols);
    else if (row0 + nrows > dims[0])
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path,
                         "rows %zu..%zu requested, the array has %llu", row0, row0 + nrows,
                         (unsigned long long)dims[0]);
    /* The read below is collective: every rank stops alike. */
    CHECK(st_agree(bad, f->comm));
    if (dims[0] == 0 || ncols == 0) goto out;
    CHECK(select_rows(f, path, d, row0, nrows, ncols, &ms, &fs, &x));
    H5TRY(H5Dread(d, h5_mem_type(t), ms, fs, x, nrows ? data : (void *)h5_dummy_buf), path,
          "cannot read rows %zu..%zu (corrupt file?)", row0, row0 + nrows);
out:
    h5_close_id(&x);
    h5_close_id(&fs);
    h5_close_id(&ms);
    h5_close_id(&d);
    return st;
}

/* Sort key of h5_read_row_set: a requested row and where it goes. */
typedef struct row_want {
    size_t row, slot;
} row_want;

static int row_want_cmp(const void *a, const void *b)
{
    const row_want *x = a, *y = b;
    return x->row < y->row ? -1 : x->row > y->row ? 1 : (x->slot > y->slot) - (x->slot < y->slot);
}

st_status h5_read_row_set(h5_file *f, const char *path, h5_dtype t, size_t ncols, const size_t *rows,
                          size_t nrows, void *data)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, ms = H5I_INVALID_HID, fs = H5I_INVALID_HID, x = H5I_INVALID_HID;
    hsize_t dims[H5_MAX_RANK];
    int r = 0;
    row_want *w = NULL;
    unsigned char *buf = NULL; /* [n_unique, ncols] in file order */
    size_t nu = 0;
    const size_t esz = h5_dtype_size(t);
    CHECK_DTYPE(t, path);
    st_status bad = h5_dataset_open_read(f, path, (int)t, NULL, &d, &r, dims);
    if (bad == ST_OK && r != 2)
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path, "rank %d, expected a 2-D array", r);
    else if (bad == ST_OK && dims[1] != ncols)
        bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path, "%llu columns, expected %zu",
                         (unsigned long long)dims[1], ncols);
    if (bad == ST_OK && nrows > 0) {
        w = malloc(sizeof *w * nrows);
        if (!w) bad = h5_fail_at(ST_ENOMEM, __FILE__, __LINE__, f, path, "out of memory for %zu rows", nrows);
    }
    for (size_t i = 0; bad == ST_OK && i < nrows; i++) {
        if (rows[i] >= dims[0])
            bad = h5_fail_at(ST_EDATA, __FILE__, __LINE__, f, path, "row %zu requested, the array has %llu",
                             rows[i], (unsigned long long)dims[0]);
        else
            w[i] = (row_want){rows[i], i};
    }
    if (bad == ST_OK && nrows > 0) {
        /* A union of hyperslabs comes back in file order, each row once:
         * sort, read the distinct rows, then put each where it was asked. */
        qsort(w, nrows, sizeof *w, row_want_cmp);
        for (size_t i = 0; i < nrows; i++)
            if (i == 0 || w[i].row != w[i - 1].row) nu++;
        buf = malloc(nu * ncols * esz + 1);
        if (!buf) bad = h5_fail_at(ST_ENOMEM, __FILE__, __LINE__, f, path, "out of memory for %zu rows", nu);
    }
    /* The read below is collective: every rank stops alike. */
    CHECK(st_agree(bad, f->comm));
    if (dims[0] == 0 || ncols == 0) goto out;
    hsize_t mdims[2] = {nu ? nu : 1, ncols};
    ms = H5Screate_simple(2, mdims, NULL);
    fs = H5Dget_space(d);
    x = h5_dxpl_for(f);
    H5TRY(ms, path, "dataspace");
    H5TRY(fs, path, "dataspace");
    H5TRY(x, path, "transfer property list");
    if (nu == 0) {
        H5Sselect_none(ms);
        H5Sselect_none(fs);
    } else {
        H5TRY(H5Sselect_none(fs), path, "cannot clear the selection");
        /* one hyperslab per run of consecutive rows */
        for (size_t i = 0; i < nrows;) {
            size_t j = i + 1;
            while (j < nrows && w[j].row <= w[j - 1].row + 1) j++;
            hsize_t start[2] = {w[i].row, 0}, count[2] = {w[j - 1].row - w[i].row + 1, ncols};
            H5TRY(H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL), path,
                  "cannot select rows %zu..%zu", w[i].row, w[j - 1].row + 1);
            i = j;
        }
    }
    H5TRY(H5Dread(d, h5_mem_type(t), ms, fs, x, nu ? (void *)buf : (void *)h5_dummy_buf), path,
          "cannot read %zu rows (corrupt file?)", nu);
    for (size_t i = 0, u = 0; i < nrows; i++) {
        if (i > 0 && w[i].row != w[i - 1].row) u++;
        memcpy((unsigned char *)data + w[i].slot * ncols * esz, buf + u * ncols * esz, ncols * esz);
    }
out:
    free(buf);
    free(w);
    h5_close_id(&x);
    h5_close_id(&fs);
    h5_close_id(&ms);
    h5_close_id(&d);
    return st;
}

/* ---- whole-file checks -------------------------------------------------- */

typedef struct read_all_ctx {
    h5_file *f;
    size_t n;
    st_status st;
    void *buf; /* reused across datasets: fresh pages are slow to touch */
    size_t cap;
    hid_t dxpl; /* variable-length strings bounded */
} read_all_ctx;

static st_status read_any(h5_file *f, const char *path, read_all_ctx *c)
{
    st_status st = ST_OK;
    hid_t d = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID, s = H5I_INVALID_HID;
    hsize_t dims[H5_MAX_RANK];
    int r = 0;
    void *buf = NULL;
    CHECK(h5_dataset_open_read(f, path, H5_AS_ANY, NULL, &d, &r, dims));
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
    H5TRY(H5Dread(d, mt, H5S_ALL, H5S_ALL, c->dxpl, buf), path,
          "cannot read data (corrupt file?)");
    if (H5Tis_variable_str(mt) > 0) H5Dvlen_reclaim(mt, s, c->dxpl, buf);
out:
    h5_close_id(&mt);
    h5_close_id(&s);
    h5_close_id(&t);
    h5_close_id(&d);
    return st;
}

static herr_t read_all_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    read_all_ctx *c = data;
    h5_file *f = c->f;
    st_status st = ST_OK;
    H5O_info_t oi;
    (void)g;
    /* A strata file links nothing elsewhere; whatever such a link names is
     * not this file's to vouch for. */
    if (info->type != H5L_TYPE_HARD) CHECK(h5_path_check(f, name, NULL));
    if (H5Oget_info_by_name2(f->id, name, &oi, H5O_INFO_BASIC, h5_access_plist()) < 0)
        H5FAIL(ST_EHDF5, name, "cannot open object (corrupt file?)");
    if (oi.type == H5O_TYPE_DATASET) {
        CHECK(read_any(f, name, c));
        c->n++;
    }
out:
    c->st = st;
    return st == ST_OK ? 0 : -1;
}

st_status h5_read_all(h5_file *f, size_t *n_datasets)
{
    st_status st = ST_OK;
    read_all_ctx c = {f, 0, ST_OK, NULL, 0, h5_bounded_dxpl()};
    herr_t rc = c.dxpl < 0 ? -1 : H5Lvisit(f->id, H5_INDEX_NAME, H5_ITER_INC, read_all_cb, &c);
    free(c.buf);
    h5_close_id(&c.dxpl);
    if (c.st != ST_OK) {
        st = c.st;
        goto out;
    }
    if (rc < 0) H5FAIL(ST_EHDF5, "/", "cannot walk the file's objects (corrupt file?)");
out:
    if (n_datasets) *n_datasets = c.n;
    return st;
}
