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

/* The one place that decides each kind's format_version: written by
 * h5_create, the newest h5_check_kind accepts.  Bump a kind when its files
 * change meaning so that an older strata would misread them (an ignored new
 * field), not when they only gain data an older reader does without.
 * checkpoint 2: /state order_slots selects the sharded data order
 * (src/data/order.c); a strata knowing only 1 would drop the field and
 * resume with the old order, so it refuses the file instead. */
static const struct {
    const char *kind;
    int64_t version;
} kind_versions[] = {
    {H5_KIND_DATASET, 1},    {H5_KIND_TOKENIZER, 1}, {H5_KIND_SUBSTRATE, 1},
    {H5_KIND_CHECKPOINT, 2}, {H5_KIND_ENSEMBLE, 1},
};

int64_t h5_format_version(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof kind_versions / sizeof kind_versions[0]; i++)
        if (strcmp(kind, kind_versions[i].kind) == 0) return kind_versions[i].version;
    return 1; /* a kind this strata does not know: the shared conventions */
}

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
    CHECK(h5_attr_set_i64(f, "/", "format_version", h5_format_version(kind)));
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
    CHECK(h5_attr_exists(f, "/", "kind", &has));
    if (!has) FAIL(code, "%s: root attribute kind missing", f->path);
    CHECK(h5_attr_get_str(f, "/", "kind", &fkind));
    /* The newest version is the file's own kind's, so that a reader of any
     * kind (kind NULL) refuses a too new checkpoint just the same. */
    int64_t newest = h5_format_version(fkind);
    if (ver > newest)
        FAIL(code, "%s has format_version %lld, newer than this strata supports for %s files (%lld); "
             "use a newer strata", f->path, (long long)ver, fkind, (long long)newest);
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
