/* parent.c -- /parent of a growth checkpoint: where a branch started
 * (docs/FORMAT.md), attributes only.  The bottom of src/grow's branch code:
 * checkpoint.c writes it, run_load (load.c) and `strata inspect` read it
 * back; branch.c (above) decides what it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

st_status grow_parent_write(h5_file *f, const grow_parent *p)
{
    st_status st = ST_OK;
    if (!p->set) goto out;
    CHECK(h5_group(f, "parent"));
    CHECK(h5_attr_set_str(f, "parent", "path", p->path));
    CHECK(h5_attr_set_str(f, "parent", "sha256", p->sha256));
    CHECK(h5_attr_set_i64(f, "parent", "stage", p->stage));
    CHECK(h5_attr_set_i64(f, "parent", "step", p->step));
    CHECK(h5_attr_set_str(f, "parent", "lineage", p->lineage ? p->lineage : ""));
out:
    return st;
}

st_status grow_parent_read(h5_file *f, grow_parent *p)
{
    st_status st = ST_OK;
    bool has = false;
    char *path = NULL, *sha = NULL, *lineage = NULL;
    int64_t stage = 0, step = 0;
    grow_parent_free(p);
    CHECK(h5_exists(f, "parent", &has));
    if (!has) goto out;
    CHECK(h5_attr_get_str(f, "parent", "path", &path));
    CHECK(h5_attr_get_str(f, "parent", "sha256", &sha));
    CHECK(h5_attr_get_i64(f, "parent", "stage", &stage));
    CHECK(h5_attr_get_i64(f, "parent", "step", &step));
    CHECK(h5_attr_get_str(f, "parent", "lineage", &lineage));
    if (strlen(path) >= sizeof p->path || strlen(sha) != 64 || stage < 1 || stage > MODEL_MAX_LAYERS || step < 0)
        FAIL(ST_ECKPT, "'%s': /parent is inconsistent (path of %zu bytes, sha256 '%.70s', stage %lld)", f->path,
             strlen(path), sha, (long long)stage);
    p->set = true;
    snprintf(p->path, sizeof p->path, "%s", path);
    snprintf(p->sha256, sizeof p->sha256, "%s", sha);
    p->stage = (int)stage;
    p->step = (long)step;
    p->lineage = lineage;
    lineage = NULL;
out:
    free(path);
    free(sha);
    free(lineage);
    return st;
}

void grow_parent_free(grow_parent *p)
{
    free(p->lineage);
    memset(p, 0, sizeof *p);
}
