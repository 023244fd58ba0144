/* h5_attr.c -- attributes: writers, and readers with bounded sizes (see h5.h,
 * "Untrusted files"). */
#include "h5_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- attributes --------------------------------------------------------- */

/* Open the object at obj, delete attribute `name` when present, create it with
 * type/space; *attr and *o are returned open. */
static st_status attr_recreate(h5_file *f, const char *obj, const char *name, hid_t type,
                               hid_t space, hid_t *o, hid_t *attr)
{
    st_status st = ST_OK;
    obj = h5_objpath(obj);
    CHECK(h5_obj_open(f, obj, o));
    htri_t e = H5Aexists(*o, name);
    if (e < 0) H5FAIL(ST_EHDF5, obj, "cannot look up attribute '%s'", name);
    if (e > 0 && H5Adelete(*o, name) < 0)
        H5FAIL(ST_EHDF5, obj, "cannot replace attribute '%s'", name);
    *attr = H5Acreate2(*o, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (*attr < 0) H5FAIL(ST_EHDF5, obj, "cannot create attribute '%s'", name);
out:
    return st;
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
    H5TRY_W(H5Awrite(a, t, &value), h5_objpath(obj), "cannot write attribute '%s'", name);
out:
    h5_close_id(&a);
    h5_close_id(&o);
    h5_close_id(&s);
    h5_close_id(&t);
    return st;
}

st_status h5_attr_set_array(h5_file *f, const char *obj, const char *name, h5_dtype t,
                            size_t n, const void *values)
{
    st_status st = ST_OK;
    hid_t s = H5I_INVALID_HID, o = H5I_INVALID_HID, a = H5I_INVALID_HID;
    CHECK_DTYPE(t, obj);
    if (n == 0) H5FAIL(ST_ERR, h5_objpath(obj), "attribute '%s' needs at least one value", name);
    hsize_t dim = n;
    s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    H5TRY(s, obj, "cannot make a dataspace for attribute '%s'", name);
    CHECK(attr_recreate(f, obj, name, h5_file_type(t), s, &o, &a));
    H5TRY_W(H5Awrite(a, h5_mem_type(t), values), h5_objpath(obj), "cannot write attribute '%s'", name);
out:
    h5_close_id(&a);
    h5_close_id(&o);
    h5_close_id(&s);
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
    obj = h5_objpath(obj);
    CHECK(h5_path_check(f, obj, NULL));
    htri_t e = H5Aexists_by_name(f->id, obj, name, h5_access_plist());
    if (e < 0) H5FAIL(ST_EHDF5, obj, "cannot look up attribute '%s'", name);
    *out = e > 0;
out:
    return st;
}

/* Open attribute `name` of the object at obj with its type and dataspace;
 * the dataspace must be scalar or simple of rank <= 1 with at most `cap`
 * elements (so a reader's buffer of cap elements holds it). */
static st_status attr_open(h5_file *f, const char *obj, const char *name, size_t cap, hid_t *a,
                           hid_t *ft, size_t *n)
{
    st_status st = ST_OK;
    hid_t s = H5I_INVALID_HID;
    obj = h5_objpath(obj);
    *ft = H5I_INVALID_HID;
    CHECK(h5_path_check(f, obj, NULL));
    *a = H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, h5_access_plist());
    if (*a < 0) H5FAIL(ST_EHDF5, obj, "cannot open attribute '%s'", name);
    *ft = H5Aget_type(*a);
    s = H5Aget_space(*a);
    H5TRY(*ft, obj, "cannot get the type of attribute '%s'", name);
    H5TRY(s, obj, "cannot get the dataspace of attribute '%s'", name);
    H5S_class_t sc = H5Sget_simple_extent_type(s);
    if (sc != H5S_SCALAR && sc != H5S_SIMPLE)
        H5FAIL(ST_EDATA, obj, "refused: attribute '%s' has no dataspace (null or unknown)", name);
    if (H5Sget_simple_extent_ndims(s) > 1)
        H5FAIL(ST_EDATA, obj, "attribute '%s' has more than one dimension", name);
    hssize_t np = H5Sget_simple_extent_npoints(s);
    if (np < 0) H5FAIL(ST_EHDF5, obj, "attribute '%s'", name);
    if ((size_t)np > cap)
        H5FAIL(ST_EDATA, obj, "attribute '%s' has %lld values, expected at most %zu", name,
               (long long)np, cap);
    *n = (size_t)np;
out:
    h5_close_id(&s);
    return st;
}

st_status h5_attr_get_str(h5_file *f, const char *obj, const char *name, char **out)
{
    st_status st = ST_OK;
    hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    char *buf = NULL;
    size_t np = 0;
    *out = NULL;
    obj = h5_objpath(obj);
    /* One string: the reads below have room for exactly one. */
    CHECK(attr_open(f, obj, name, 1, &a, &t, &np));
    if (H5Tget_class(t) != H5T_STRING)
        H5FAIL(ST_EDATA, obj, "attribute '%s' is not a string", name);
    if (np != 1) H5FAIL(ST_EDATA, obj, "attribute '%s' holds no string", name);
    if (H5Tis_variable_str(t) > 0) {
        /* Written by other tools (h5py writes variable-length strings).
         * HDF5 allocates it from the file's heap, so it is bounded by the
         * file; the length limit is checked after. */
        char *vl = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5TRY(mt, obj, "string type");
        H5TRY(H5Tset_size(mt, H5T_VARIABLE), obj, "string type");
        H5TRY(H5Tset_cset(mt, H5Tget_cset(t)), obj, "string type");
        H5TRY(H5Aread(a, mt, &vl), obj, "cannot read attribute '%s'", name);
        size_t len = vl ? strlen(vl) : 0;
        if (len <= H5_MAX_ATTR_STRING_BYTES) buf = strdup(vl ? vl : "");
        H5free_memory(vl);
        if (len > H5_MAX_ATTR_STRING_BYTES)
            H5FAIL(ST_EDATA, obj, "refused: attribute '%s' is a string of %zu bytes (at most %zu)",
                   name, len, H5_MAX_ATTR_STRING_BYTES);
        CHECK_ALLOC(buf);
    } else {
        size_t n = H5Tget_size(t);
        if (n > H5_MAX_ATTR_STRING_BYTES)
            H5FAIL(ST_EDATA, obj, "refused: attribute '%s' is a string of %zu bytes (at most %zu)",
                   name, n, H5_MAX_ATTR_STRING_BYTES);
        mt = h5_str_type(n);
        if (mt >= 0) H5Tset_cset(mt, H5Tget_cset(t));
        H5TRY(mt, obj, "string type");
        buf = calloc(n + 1, 1);
        CHECK_ALLOC(buf);
        H5TRY(H5Aread(a, mt, buf), obj, "cannot read attribute '%s'", name);
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    h5_close_id(&mt);
    h5_close_id(&t);
    h5_close_id(&a);
    return st;
}

st_status h5_attr_get_array(h5_file *f, const char *obj, const char *name, h5_dtype t,
                            size_t cap, void *values, size_t *n)
{
    st_status st = ST_OK;
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID;
    size_t np = 0;
    char what[300];
    *n = 0;
    obj = h5_objpath(obj);
    CHECK_DTYPE(t, obj);
    CHECK(attr_open(f, obj, name, cap, &a, &ft, &np));
    H5T_class_t c = H5Tget_class(ft);
    if (c != H5T_INTEGER && c != H5T_FLOAT)
        H5FAIL(ST_EDATA, obj, "attribute '%s' is not numeric", name);
    snprintf(what, sizeof what, "attribute '%s'", name);
    CHECK(h5_type_check(f, obj, what, ft, t));
    if (np > 0)
        H5TRY(H5Aread(a, h5_mem_type(t), values), obj, "cannot read attribute '%s'", name);
    *n = np;
out:
    h5_close_id(&ft);
    h5_close_id(&a);
    return st;
}

static st_status attr_get_one(h5_file *f, const char *obj, const char *name, h5_dtype t,
                              void *out)
{
    st_status st = ST_OK;
    size_t n = 0;
    /* The type rule refuses floats read as int64 (they would truncate). */
    CHECK(h5_attr_get_array(f, obj, name, t, 1, out, &n));
    if (n != 1) H5FAIL(ST_EDATA, h5_objpath(obj), "attribute '%s' is empty", name);
out:
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

