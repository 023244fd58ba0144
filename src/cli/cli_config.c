/* cli_config.c -- resolve a command's settings (defaults, --config, --set)
 * and its checkpoint arguments (a file, a run directory or its LATEST). */
#include "cli_config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/ckptdir.h"
#include "strata/log.h"

st_status cli_load_config(const cli_args *a, st_config *cfg)
{
    st_status st = ST_OK;
    cfg_defaults(cfg);
    const char *file = cli_value(a, "config");
    if (file) CHECK(cfg_load_file(cfg, file));
    const char *const *sets;
    int n = cli_list(a, "set", &sets);
    for (int i = 0; i < n; i++) CHECK(cfg_set_assignment(cfg, sets[i]));
    CHECK(cfg_validate(cfg));
out:
    return st;
}

st_status cli_checkpoint_path(const char *arg, char **path, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *dir = NULL;
    *path = NULL;
    struct stat sb;
    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        dir = strdup(arg);
        CHECK_ALLOC(dir);
    } else if (strcmp(base, CKPT_LATEST) == 0) {
        /* "run/LATEST" -> "run"; "LATEST" -> "." */
        size_t n = (size_t)(base - arg);
        dir = n ? strndup(arg, n) : strdup(".");
        CHECK_ALLOC(dir);
    } else {
        *path = strdup(arg);
        CHECK_ALLOC(*path);
        goto out;
    }
    CHECK(ckpt_newest_good(dir, path, comm));
    if (!*path)
        FAIL(ST_ECKPT, "%s: no checkpoint in %s (no LATEST, stage-*.h5 or step-*.h5): pass a checkpoint file, or "
                       "the directory of a run that has written one",
             arg, dir);
    log_info("%s: using %s, the newest usable checkpoint", arg, *path);
out:
    free(dir);
    return st;
}
