/* h5_kind.c -- what a strata file is: the root attributes (format,
 * format_version, kind, strata_version, created_utc) stamped when a file is
 * created and checked when it is opened (docs/FORMAT.md).  Above the
 * attribute code (h5_attr.c), which is above the files themselves
 * (h5_file.c): the calls run one way. */
#define _GNU_SOURCE /* gmtime_r */
#include "h5_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata_build.h"

st_status h5_create(h5_file *f, const char *path, MPI_Comm comm, const char *kind)
{
    st_status st = h5_file_create(f, path, comm);
    if (st != ST_OK) return st; /* f is closed, the message kept */

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
    if (st != ST_OK) {
        h5_close_keep_error(f, st);
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
        h5_close_keep_error(f, st);
    }
    return st;
}
