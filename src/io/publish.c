/* publish.c -- publish a file atomically (see publish.h). */
#define _POSIX_C_SOURCE 200809L
#include "strata/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/agree.h"

static int rank_of(MPI_Comm comm)
{
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
}

/* ---- fault injection ---------------------------------------------------- */

/* Does STRATA_FAULT fire for this occurrence of `name`?  Each call counts one
 * occurrence of that name. */
static bool fault_fires(const char *name)
{
    enum { MAXF = 8 };
    static char names[MAXF][32];
    static long counts[MAXF];
    static char seen[256];
    const char *env = getenv(PUBLISH_FAULT_ENV);
    if (!env || !env[0]) return false;
    /* A new setting starts counting afresh (tests change it at run time). */
    if (strncmp(seen, env, sizeof seen - 1) != 0) {
        snprintf(seen, sizeof seen, "%s", env);
        memset(names, 0, sizeof names);
        memset(counts, 0, sizeof counts);
    }
    long count = 0;
    int slot = -1;
    for (int i = 0; i < MAXF; i++) {
        if (strcmp(names[i], name) == 0) {
            slot = i;
            break;
        }
        if (!names[i][0]) {
            snprintf(names[i], sizeof names[i], "%s", name);
            slot = i;
            break;
        }
    }
    if (slot >= 0) count = ++counts[slot];
    size_t nl = strlen(name);
    for (const char *p = env; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= nl && strncmp(p, name, nl) == 0) {
            if (len == nl) return true;
            if (p[nl] == '@' && atol(p + nl + 1) == count) return true;
        }
        p += len;
        if (*p == ',') p++;
    }
    return false;
}

bool publish_fault(const char *name) { return fault_fires(name); }

/* ---- publishing ------------------------------------------------------- */

/* Directory part of a path ("." for a bare name); malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static bool is_latest(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strcmp(slash ? slash + 1 : path, "LATEST") == 0;
}

static void publish_release(publish_file *p)
{
    free(p->path);
    free(p->tmp);
    p->path = p->tmp = NULL;
}

st_status publish_begin(publish_file *p, const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *dir = NULL;
    p->path = strdup(path);
    p->tmp = malloc(strlen(path) + 5);
    CHECK_ALLOC(p->path);
    CHECK_ALLOC(p->tmp);
    sprintf(p->tmp, "%s.tmp", path);
    if (rank_of(comm) == 0) {
        dir = dir_of(path);
        CHECK_ALLOC(dir);
        int fd = open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            FAIL(ST_EIO, "cannot write in directory %s (for %s): %s", dir, path, strerror(errno));
        close(fd);
    }
out:
    free(dir);
    /* Every rank allocated its names, so every rank's outcome counts. */
    st = st_agree(st, comm);
    if (st != ST_OK) publish_release(p);
    return st;
}

/* fsync a file or directory by name. */
static int sync_path(const char *path, bool is_dir)
{
    int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    /* Some file systems cannot fsync a directory; the rename still happened. */
    if (rc < 0 && is_dir && (errno == EINVAL || errno == EROFS)) rc = 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

st_status publish_commit(publish_file *p, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *dir = NULL;
    bool remove_tmp = true;
    /* Every rank has closed its handle on the temp file before rank 0 moves it. */
    CHECK_MPI(MPI_Barrier(comm));
    if (rank_of(comm) != 0) goto out;
    if (!p->tmp) FAIL(ST_ERR, "publish_commit without publish_begin");
    dir = dir_of(p->path);
    CHECK_ALLOC(dir);
    bool latest = is_latest(p->path);
    if (fault_fires(latest ? "latest_commit" : "ckpt_commit")) {
        remove_tmp = false; /* as a crash would leave it */
        FAIL(ST_EIO, "cannot publish %s: injected fault %s (temp file %s left behind)", p->path,
             latest ? "latest_commit" : "ckpt_commit", p->tmp);
    }
    if (!latest && fault_fires("ckpt_enospc"))
        FAIL(ST_EIO, "cannot write %s: %s (injected fault ckpt_enospc)", p->path, strerror(ENOSPC));
    if (sync_path(p->tmp, false) < 0)
        FAIL(ST_EIO, "cannot write %s: sync of %s failed: %s", p->path, p->tmp, strerror(errno));
    if (rename(p->tmp, p->path) < 0)
        FAIL(ST_EIO, "cannot rename %s to %s: %s", p->tmp, p->path, strerror(errno));
    remove_tmp = false;
    if (sync_path(dir, true) < 0)
        FAIL(ST_EIO, "cannot sync directory %s after writing %s: %s", dir, p->path, strerror(errno));
out:
    if (st != ST_OK && remove_tmp && p->tmp) unlink(p->tmp);
    free(dir);
    publish_release(p);
    return st_agree_root(st, comm);
}

void publish_abort(publish_file *p, MPI_Comm comm)
{
    /* Barrier: no rank may still hold the file open while rank 0 removes it.
     * Callers reach abort on every rank because failures are collective. */
    MPI_Barrier(comm);
    if (rank_of(comm) == 0 && p->tmp) unlink(p->tmp);
    publish_release(p);
}

st_status publish_write(const char *path, const void *data, size_t n, MPI_Comm comm)
{
    st_status st = ST_OK;
    publish_file p = {NULL, NULL};
    CHECK(publish_begin(&p, path, comm));
    if (rank_of(comm) == 0) {
        FILE *fp = fopen(p.tmp, "w");
        if (!fp) FAIL(ST_EIO, "cannot write %s: %s", p.tmp, strerror(errno));
        bool ok = n == 0 || fwrite(data, 1, n, fp) == n;
        int e = errno;
        if (fclose(fp) != 0 && ok) {
            ok = false;
            e = errno;
        }
        if (!ok) FAIL(ST_EIO, "cannot write %s: %s", p.tmp, strerror(e));
    }
out:
    st = st_agree_root(st, comm);
    if (st != ST_OK) {
        publish_abort(&p, comm);
        return st;
    }
    return publish_commit(&p, comm);
}

st_status publish_write_text(const char *path, const char *text, MPI_Comm comm)
{
    return publish_write(path, text, rank_of(comm) == 0 ? strlen(text) : 0, comm);
}
