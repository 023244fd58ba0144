/* outguard.c -- refuse to overwrite outputs by accident (see outguard.h). */
#define _GNU_SOURCE
#include "strata/outguard.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
    return "not a regular file";
}

/* Is `path` (resolved, absolute) inside the directory `dir` (stat)?  Walks
 * the ancestors of path by name; realpath has removed symlinks and "..". */
static bool inside(const char *path, const struct stat *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (;;) {
        char *slash = strrchr(buf, '/');
        if (!slash) return false;
        if (slash == buf) slash[1] = '\0';
        else
            *slash = '\0';
        struct stat sb;
        if (stat(buf, &sb) == 0 && sb.st_dev == dir->st_dev && sb.st_ino == dir->st_ino) return true;
        if (strcmp(buf, "/") == 0) return false;
    }
}

st_status out_guard(const char *output, bool force, const char *const *inputs, int n_inputs)
{
    st_status st = ST_OK;
    char *real = NULL;
    struct stat out, lo;
    if (!output || !output[0]) FAIL(ST_EUSAGE, "no output file given");
    if (lstat(output, &lo) != 0) {
        if (errno == ENOENT) goto out; /* nothing there to lose */
        FAIL(ST_EUSAGE, "cannot check the output '%s': %s", output, strerror(errno));
    }
    if (stat(output, &out) != 0) {
        /* A dangling symbolic link: the write replaces the link itself. */
        if (!force) FAIL(ST_EUSAGE, "output '%s' exists (a symbolic link); pass --force to replace it", output);
        goto out;
    }
    if (!S_ISREG(out.st_mode))
        FAIL(ST_EUSAGE, "output '%s' exists and is %s; choose another output name", output, kind_of(out.st_mode));
    real = realpath(output, NULL);
    for (int i = 0; i < n_inputs; i++) {
        const char *in = inputs[i];
        struct stat sb;
        if (!in || strcmp(in, "-") == 0 || stat(in, &sb) != 0) continue;
        if (sb.st_dev == out.st_dev && sb.st_ino == out.st_ino)
            FAIL(ST_EUSAGE,
                 "output '%s' is the input '%s' (the same file%s); writing it would destroy the input, "
                 "even with --force: choose another output name",
                 output, in, strcmp(in, output) == 0 ? "" : " through another name or link");
        if (S_ISDIR(sb.st_mode) && real && inside(real, &sb))
            FAIL(ST_EUSAGE,
                 "output '%s' lies inside the input directory '%s' and would be read as input, even "
                 "with --force: choose an output outside it",
                 output, in);
    }
    if (!force) FAIL(ST_EUSAGE, "output '%s' exists; pass --force to replace it", output);
out:
    free(real);
    return st;
}
