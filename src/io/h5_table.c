/* h5_table.c -- column tables on a shared dimension scale (see h5.h). */
#include "h5_internal.h"

#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    lcpl = h5_lcpl_parents();
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
        CHECK(h5_dataset_create(f, path, cols[i].dtype, 1, &zero, &unlim, &chunk, &d));
        CHECK(h5_attr_set_str(f, path, "units", cols[i].units ? cols[i].units : ""));
        CHECK(h5_attr_set_str(f, path, "long_name", cols[i].long_name ? cols[i].long_name : ""));
        if (i == 0) {
            H5TRY(H5DSset_scale(d, cols[0].name), path, "cannot make it a dimension scale");
            scale = d;
        } else {
            H5TRY(H5DSattach_scale(d, scale, 0), path, "cannot attach dimension scale '%s'",
                  cols[0].name);
            h5_close_id(&d);
        }
        d = H5I_INVALID_HID;
    }
out:
    h5_close_id(&d);
    h5_close_id(&scale);
    h5_close_id(&g);
    h5_close_id(&lcpl);
    h5_close_id(&gcpl);
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
    x = h5_dxpl_for(f);
    for (size_t i = 0; i < ncols; i++) {
        int r = 0;
        hsize_t dims[H5_MAX_RANK];
        join(path, sizeof path, group, cols[i].name);
        CHECK_DTYPE(cols[i].dtype, path);
        const h5_expect col = {.rank = 1, .dims = {H5_ANY}};
        CHECK(h5_dataset_open_read(f, path, (int)cols[i].dtype, &col, &d, &r, dims));
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
        CHECK(h5_reserve(f, path, (size_t)n * h5_dtype_size(cols[i].dtype)));
        H5TRY_W(H5Dwrite(d, h5_mem_type(cols[i].dtype), ms, fs, x, f->rank == 0 ? data[i] : h5_dummy_buf),
              path, "cannot append %llu rows", n);
        h5_close_id(&ms);
        h5_close_id(&fs);
        CLOSE_WRITTEN(d, path);
    }
out:
    h5_close_id(&ms);
    h5_close_id(&fs);
    h5_close_id(&d);
    h5_close_id(&x);
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
    CHECK(h5_obj_open(f, group, &g));
    if (H5Iget_type(g) != H5I_GROUP) H5FAIL(ST_EDATA, group, "a table must be a group");
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
    h5_close_id(&gcpl);
    h5_close_id(&g);
    return st;
}

st_status h5_column_read_max(h5_file *f, const char *group, const char *name, h5_dtype t,
                             size_t max_rows, size_t *n, void **data)
{
    st_status st = ST_OK;
    char path[1024];
    size_t dims[H5_MAX_RANK];
    int r = 0;
    *n = 0;
    join(path, sizeof path, group, name);
    const h5_expect col = {.rank = 1, .dims = {H5_ANY}, .max_elems = max_rows};
    CHECK(h5_read_expect(f, path, t, &col, &r, dims, data));
    *n = dims[0];
out:
    return st;
}

st_status h5_column_read(h5_file *f, const char *group, const char *name, h5_dtype t, size_t *n,
                         void **data)
{
    return h5_column_read_max(f, group, name, t, 0, n, data);
}
