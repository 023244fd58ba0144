/* h5_check.c -- the validating layer every read goes through (h5.h,
 * "Untrusted files"): paths made of hard links only, dataset storage,
 * element types, dataspaces, shapes and sizes, all before data is read. */
#include "h5_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the access property list ------------------------------------------- */

/* Called by HDF5 before it opens the target file of an external link. */
static herr_t refuse_external_link(const char *parent_file, const char *parent_group,
                                   const char *child_file, const char *child_obj,
                                   unsigned *acc_flags, hid_t fapl, void *data)
{
    (void)parent_file, (void)parent_group, (void)child_file, (void)child_obj;
    (void)acc_flags, (void)fapl, (void)data;
    return -1;
}

/* No directory has this name, so relative external/virtual file names
 * resolve to nothing even if a check above were missed. */
#define NOWHERE "/nonexistent/strata-refuses-files-named-by-a-file/"

hid_t h5_access_plist(void)
{
    /* One list for the process: nothing in it depends on the file.  A dataset
     * access list is also a link access list, so it serves H5Dopen2 as well
     * as H5Oopen, H5Lexists and H5Aopen_by_name. */
    static hid_t apl = H5I_INVALID_HID;
    if (apl >= 0 && H5Iis_valid(apl) > 0) return apl;
    h5_init();
    hid_t p = H5Pcreate(H5P_DATASET_ACCESS);
    if (p < 0) return H5I_INVALID_HID;
    if (H5Pset_elink_cb(p, refuse_external_link, NULL) < 0 ||
        H5Pset_elink_prefix(p, NOWHERE) < 0 ||
        /* Soft links stay inside the file and h5_path_check refuses them;
         * HDF5's least limit on chains of them (0 is not allowed). */
        H5Pset_nlinks(p, 1) < 0 ||
        H5Pset_efile_prefix(p, NOWHERE) < 0 || H5Pset_virtual_prefix(p, NOWHERE) < 0) {
        H5Pclose(p);
        return H5I_INVALID_HID;
    }
    apl = p;
    return apl;
}

/* ---- paths -------------------------------------------------------------- */

static const char *link_kind(H5L_type_t t)
{
    switch (t) {
    case H5L_TYPE_SOFT: return "a soft link";
    case H5L_TYPE_EXTERNAL: return "an external link (to another file)";
    default: return "a user-defined link";
    }
}

st_status h5_path_check(h5_file *f, const char *path, bool *found)
{
    st_status st = ST_OK;
    char *copy = NULL;
    hid_t apl = h5_access_plist();
    if (found) *found = false;
    path = h5_objpath(path);
    if (apl < 0) H5FAIL(ST_EHDF5, path, "cannot make the link access property list");
    copy = strdup(path);
    CHECK_ALLOC(copy);
    /* Each prefix in turn: H5Lexists and H5Lget_info look at the last
     * component only, whose parents are then known to be hard links. */
    for (char *p = copy;; p++) {
        if ((*p == '/' || *p == '\0') && p > copy && p[-1] != '/') {
            char c = *p;
            *p = '\0';
            htri_t e = H5Lexists(f->id, copy, apl);
            if (e < 0) H5FAIL(ST_EHDF5, path, "cannot look up '%s'", copy);
            if (e == 0) {
                if (found) goto out;
                H5FAIL(ST_EHDF5, path, "no such object ('%s' is missing)", copy);
            }
            H5L_info_t info;
            if (H5Lget_info(f->id, copy, &info, apl) < 0)
                H5FAIL(ST_EHDF5, path, "cannot look up the link '%s'", copy);
            if (info.type != H5L_TYPE_HARD)
                H5FAIL(ST_EDATA, path, "refused: '%s' is %s; strata follows hard links only",
                       copy, link_kind(info.type));
            *p = c;
        }
        if (*p == '\0') break;
    }
    if (found) *found = true;
out:
    free(copy);
    return st;
}

st_status h5_exists(h5_file *f, const char *path, bool *out)
{
    st_status st = ST_OK;
    *out = false;
    if (strcmp(h5_objpath(path), "/") == 0) {
        *out = true;
        return ST_OK;
    }
    CHECK(h5_path_check(f, path, out));
    if (!*out) goto out;
    /* A hard link always names an object, unless the file is corrupt. */
    htri_t ok = H5Oexists_by_name(f->id, path, h5_access_plist());
    if (ok < 0) H5FAIL(ST_EHDF5, path, "cannot look up the object");
    *out = ok > 0;
out:
    return st;
}

st_status h5_obj_open(h5_file *f, const char *path, hid_t *o)
{
    st_status st = ST_OK;
    *o = H5I_INVALID_HID;
    path = h5_objpath(path);
    CHECK(h5_path_check(f, path, NULL));
    *o = H5Oopen(f->id, path, h5_access_plist());
    if (*o < 0) H5FAIL(ST_EHDF5, path, "cannot open object");
out:
    return st;
}

/* ---- element types ------------------------------------------------------ */

/* A standard integer: little-endian, no padding bits, 1/2/4/8 bytes. */
static bool std_int(hid_t ft, size_t *size, bool *is_signed)
{
    size_t sz = H5Tget_size(ft);
    if (H5Tget_class(ft) != H5T_INTEGER || H5Tget_order(ft) != H5T_ORDER_LE) return false;
    if (sz != 1 && sz != 2 && sz != 4 && sz != 8) return false;
    if (H5Tget_precision(ft) != 8 * sz || H5Tget_offset(ft) != 0) return false;
    H5T_sign_t sg = H5Tget_sign(ft);
    if (sg != H5T_SGN_NONE && sg != H5T_SGN_2) return false;
    *size = sz;
    *is_signed = sg == H5T_SGN_2;
    return true;
}

/* 4 or 8 for standard IEEE little-endian floats, else 0. */
static size_t std_float(hid_t ft)
{
    if (H5Tget_class(ft) != H5T_FLOAT) return 0;
    if (H5Tequal(ft, H5T_IEEE_F32LE) > 0) return 4;
    if (H5Tequal(ft, H5T_IEEE_F64LE) > 0) return 8;
    return 0;
}

static bool type_fits(hid_t ft, h5_dtype t)
{
    size_t want = h5_dtype_size(t), sz = 0;
    bool sgn = false;
    size_t fl = std_float(ft);
    switch (t) {
    case H5_DT_F32: return fl != 0; /* float64 rounds (numpy's default type) */
    case H5_DT_F64: return fl != 0 || std_int(ft, &sz, &sgn);
    case H5_DT_I32:
    case H5_DT_I64:
        return std_int(ft, &sz, &sgn) && (sgn ? sz <= want : sz < want);
    case H5_DT_U8:
    case H5_DT_U16:
    case H5_DT_U32:
    case H5_DT_U64:
        return std_int(ft, &sz, &sgn) && !sgn && sz <= want;
    }
    return false;
}

/* "big-endian 4-byte float" and the like, for messages. */
static void type_str(char *buf, size_t cap, hid_t ft)
{
    const char *cls;
    switch (H5Tget_class(ft)) {
    case H5T_INTEGER: cls = H5Tget_sign(ft) == H5T_SGN_NONE ? "unsigned integer" : "integer"; break;
    case H5T_FLOAT: cls = "float"; break;
    case H5T_STRING: cls = "string"; break;
    case H5T_COMPOUND: cls = "compound"; break;
    case H5T_ENUM: cls = "enum"; break;
    case H5T_VLEN: cls = "variable-length sequence"; break;
    case H5T_ARRAY: cls = "array type"; break;
    case H5T_REFERENCE: cls = "reference"; break;
    case H5T_OPAQUE: cls = "opaque"; break;
    case H5T_BITFIELD: cls = "bitfield"; break;
    default: cls = "unknown type"; break;
    }
    H5T_order_t o = H5Tget_order(ft);
    const char *order = o == H5T_ORDER_BE ? "big-endian " : o == H5T_ORDER_LE ? "" : "";
    snprintf(buf, cap, "%s%zu-byte %s", order, H5Tget_size(ft), cls);
    H5Eclear2(H5E_DEFAULT);
}

st_status h5_type_check(h5_file *f, const char *obj, const char *what, hid_t ft, h5_dtype t)
{
    st_status st = ST_OK;
    CHECK_DTYPE(t, obj);
    if (!type_fits(ft, t)) {
        char have[96];
        type_str(have, sizeof have, ft);
        H5FAIL(ST_EDATA, obj, "refused: %s holds %s, which is not read as %s", what, have,
               h5_dtype_name(t));
    }
out:
    return st;
}

/* Readable as something at all (h5_shape, h5_read_all): a number some
 * request accepts, or a string. */
static bool type_any(hid_t ft)
{
    size_t sz;
    bool sgn;
    return std_float(ft) != 0 || std_int(ft, &sz, &sgn) || H5Tget_class(ft) == H5T_STRING;
}

/* ---- variable-length allocations ---------------------------------------- */

static void *bounded_alloc(size_t size, void *info)
{
    (void)info;
    return size <= H5_MAX_STRING_BYTES ? malloc(size) : NULL;
}

static void bounded_free(void *p, void *info)
{
    (void)info;
    free(p);
}

hid_t h5_bounded_dxpl(void)
{
    hid_t x = H5Pcreate(H5P_DATASET_XFER);
    if (x >= 0 && H5Pset_vlen_mem_manager(x, bounded_alloc, NULL, bounded_free, NULL) < 0) {
        H5Pclose(x);
        x = H5I_INVALID_HID;
    }
    return x;
}

/* ---- datasets ----------------------------------------------------------- */

void h5_shape_str(char *buf, size_t cap, int rank, const size_t *dims)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && k < cap; i++) {
        if (dims[i] == H5_ANY)
            k += (size_t)snprintf(buf + k, cap - k, "%s*", i ? "," : "");
        else
            k += (size_t)snprintf(buf + k, cap - k, "%s%zu", i ? "," : "", dims[i]);
    }
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* a * b, false on overflow. */
static bool mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Storage: no external files, not virtual, only filters strata knows. */
static st_status check_storage(h5_file *f, const char *path, hid_t dcpl, int rank,
                               size_t elsize, bool *deflate)
{
    st_status st = ST_OK;
    *deflate = false;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout < 0) H5FAIL(ST_EHDF5, path, "cannot get the dataset's layout");
    if (layout == H5D_VIRTUAL)
        H5FAIL(ST_EDATA, path, "refused: a virtual dataset (its data would come from other "
               "datasets or files)");
    if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT)
        H5FAIL(ST_EDATA, path, "refused: unknown storage layout %d", (int)layout);
    int next = H5Pget_external_count(dcpl);
    if (next < 0) H5FAIL(ST_EHDF5, path, "cannot get the dataset's external storage");
    if (next > 0)
        H5FAIL(ST_EDATA, path, "refused: its data is stored in %d external file(s) outside "
               "this file", next);
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0) H5FAIL(ST_EHDF5, path, "cannot get the dataset's filters");
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0, fcfg = 0;
        size_t ncd = 0;
        char fname[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, NULL, sizeof fname,
                                         fname, &fcfg);
        if (id == H5Z_FILTER_DEFLATE)
            *deflate = true;
        else if (id != H5Z_FILTER_FLETCHER32 && id != H5Z_FILTER_SHUFFLE)
            H5FAIL(ST_EDATA, path, "refused: filter %d (%.60s) is not one strata reads "
                   "(Fletcher32, shuffle, deflate)", (int)id, fname);
    }
    if (layout == H5D_CHUNKED) {
        hsize_t chunk[H5S_MAX_RANK];
        int cr = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
        uint64_t cb = elsize;
        if (cr != rank) H5FAIL(ST_EDATA, path, "refused: chunks of rank %d for rank %d", cr, rank);
        for (int i = 0; i < cr; i++)
            if (!mul_ok(cb, chunk[i], &cb)) cb = UINT64_MAX;
        if (cb > H5_MAX_CHUNK_READ_BYTES)
            H5FAIL(ST_EDATA, path, "refused: chunks of %llu bytes (at most %zu)",
                   (unsigned long long)cb, H5_MAX_CHUNK_READ_BYTES);
    }
out:
    H5Eclear2(H5E_DEFAULT);
    return st;
}

/* Shape against the caller's expectation and the size rules. */
static st_status check_shape(h5_file *f, const char *path, int r, const hsize_t *dims,
                             size_t file_elsize, size_t mem_elsize, bool deflate,
                             const h5_expect *want)
{
    st_status st = ST_OK;
    size_t have[H5_MAX_RANK];
    for (int i = 0; i < r; i++) have[i] = dims[i] > SIZE_MAX ? SIZE_MAX - 1 : (size_t)dims[i];
    if (want) {
        bool same = want->rank < 0 || want->rank == r;
        for (int i = 0; same && want->rank >= 0 && i < r; i++)
            if (want->dims[i] != H5_ANY && want->dims[i] != have[i]) same = false;
        if (!same) {
            char a[200], b[200];
            h5_shape_str(a, sizeof a, r, have);
            if (want->rank >= 0)
                h5_shape_str(b, sizeof b, want->rank, want->dims);
            else
                snprintf(b, sizeof b, "any shape");
            H5FAIL(ST_EDATA, path, "shape %s, expected %s", a, b);
        }
    }
    /* 0 counts as 1: an empty array may not claim more than a full one. */
    uint64_t span = 1, fbytes = 0, mbytes = 0;
    bool ok = true;
    for (int i = 0; i < r && ok; i++) ok = mul_ok(span, dims[i] ? dims[i] : 1, &span);
    ok = ok && mul_ok(span, file_elsize, &fbytes) && mul_ok(span, mem_elsize, &mbytes);
    if (!ok) {
        char a[200];
        h5_shape_str(a, sizeof a, r, have);
        H5FAIL(ST_EDATA, path, "refused: shape %s overflows a 64-bit size", a);
    }
    if (want && want->max_elems > 0 && span > want->max_elems)
        H5FAIL(ST_EDATA, path, "refused: %llu elements, expected at most %zu",
               (unsigned long long)span, want->max_elems);
    /* A file being written is strata's own, and its size lags behind what
     * HDF5 holds in memory: the file bound is for files opened read-only. */
    if (!f->writable) {
        hsize_t fsize = 0;
        if (H5Fget_filesize(f->id, &fsize) < 0)
            H5FAIL(ST_EHDF5, path, "cannot get the file size");
        uint64_t cap = fsize;
        if (deflate && !mul_ok(cap, H5_DEFLATE_MAX_RATIO, &cap)) cap = UINT64_MAX;
        if (fbytes > cap)
            H5FAIL(ST_EDATA, path, "refused: claims %llu bytes of data but the file has only "
                   "%llu bytes%s", (unsigned long long)fbytes, (unsigned long long)fsize,
                   deflate ? " (even at deflate's best ratio)" : "");
    }
    if (mbytes > H5_MAX_READ_BYTES)
        H5FAIL(ST_EDATA, path, "refused: %llu bytes, more than strata reads at once (%zu)",
               (unsigned long long)mbytes, H5_MAX_READ_BYTES);
out:
    return st;
}

st_status h5_dataset_open_read(h5_file *f, const char *path, int as, const h5_expect *want,
                               hid_t *d, int *rank, hsize_t *dims)
{
    st_status st = ST_OK;
    hid_t dcpl = H5I_INVALID_HID, ft = H5I_INVALID_HID, s = H5I_INVALID_HID;
    *d = H5I_INVALID_HID;
    *rank = 0;
    if (as >= 0) CHECK_DTYPE((h5_dtype)as, path);
    CHECK(h5_path_check(f, path, NULL));
    *d = H5Dopen2(f->id, path, h5_access_plist());
    if (*d < 0) H5FAIL(ST_EHDF5, path, "cannot open dataset");
    /* The element type first: chunk sizes are in its units. */
    ft = H5Dget_type(*d);
    H5TRY(ft, path, "cannot get the dataset type");
    size_t fsz = H5Tget_size(ft), msz = fsz;
    if (as >= 0) {
        CHECK(h5_type_check(f, path, "the dataset", ft, (h5_dtype)as));
        msz = h5_dtype_size((h5_dtype)as);
    } else if (as == H5_AS_STRING) {
        if (H5Tget_class(ft) != H5T_STRING) H5FAIL(ST_EDATA, path, "dataset is not a string");
        if (H5Tis_variable_str(ft) <= 0 && fsz > H5_MAX_STRING_BYTES)
            H5FAIL(ST_EDATA, path, "refused: a string of %zu bytes (at most %zu)", fsz,
                   H5_MAX_STRING_BYTES);
    } else if (!type_any(ft)) {
        char have[96];
        type_str(have, sizeof have, ft);
        H5FAIL(ST_EDATA, path, "refused: the dataset holds %s, not numbers or a string", have);
    }
    dcpl = H5Dget_create_plist(*d);
    H5TRY(dcpl, path, "cannot get the dataset's creation properties");
    s = H5Dget_space(*d);
    H5TRY(s, path, "cannot get the dataspace");
    H5S_class_t sc = H5Sget_simple_extent_type(s);
    if (sc != H5S_SCALAR && sc != H5S_SIMPLE)
        H5FAIL(ST_EDATA, path, "refused: the dataset has no dataspace (null or unknown)");
    int r = H5Sget_simple_extent_ndims(s);
    if (r < 0) H5FAIL(ST_EHDF5, path, "cannot get the rank");
    if (r > H5_MAX_RANK) H5FAIL(ST_EDATA, path, "rank %d above %d", r, H5_MAX_RANK);
    if (H5Sget_simple_extent_dims(s, dims, NULL) < 0)
        H5FAIL(ST_EHDF5, path, "cannot get the dimensions");
    bool deflate = false;
    CHECK(check_storage(f, path, dcpl, r, fsz, &deflate));
    CHECK(check_shape(f, path, r, dims, fsz, msz, deflate, want));
    *rank = r;
out:
    h5_close_id(&s);
    h5_close_id(&ft);
    h5_close_id(&dcpl);
    if (st != ST_OK) h5_close_id(d);
    return st;
}
