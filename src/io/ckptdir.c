/* ckptdir.c -- checkpoint directories (see ckptdir.h). */
#define _POSIX_C_SOURCE 200809L
#include "strata/ckptdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/agree.h"
#include "strata/h5.h"
#include "strata/log.h"

/* ---- rank 0 acts, everybody learns the outcome ------------------------- */

static int rank_of(MPI_Comm comm)
{
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
}

/* Broadcast a malloc'd string (or NULL) from rank 0. */
static st_status share_string(char **s, MPI_Comm comm)
{
    st_status st = ST_OK;
    long long len = rank_of(comm) == 0 ? (*s ? (long long)strlen(*s) + 1 : 0) : 0;
    CHECK_MPI(MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm));
    if (rank_of(comm) != 0) {
        *s = NULL;
        if (len > 0) {
            *s = malloc((size_t)len);
            CHECK_ALLOC(*s);
        }
    }
    if (len > 0) CHECK_MPI(MPI_Bcast(*s, (int)len, MPI_CHAR, 0, comm));
out:
    return st;
}

/* ---- checkpoint directory ----------------------------------------------- */

st_status ckpt_dir_make(const char *dir, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *p = NULL;
    if (rank_of(comm) != 0) goto out;
    p = strdup(dir);
    CHECK_ALLOC(p);
    /* mkdir -p: each prefix in turn. */
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0777) < 0 && errno != EEXIST)
                FAIL(ST_EIO, "cannot create directory %s: %s", p, strerror(errno));
            *s = c;
            if (c == '\0') break;
        }
    }
    struct stat sb;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        FAIL(ST_EIO, "cannot use %s as a checkpoint directory: %s", dir,
             errno ? strerror(errno) : "not a directory");
    if (access(dir, W_OK | X_OK) < 0)
        FAIL(ST_EIO, "checkpoint directory %s is not writable: %s", dir, strerror(errno));
out:
    free(p);
    return st_agree_root(st, comm);
}

void ckpt_name_stage(char *buf, int stage) { snprintf(buf, CKPT_NAME_MAX, "stage-%03d.h5", stage); }

void ckpt_name_step(char *buf, int64_t step)
{
    snprintf(buf, CKPT_NAME_MAX, "step-%08lld.h5", (long long)step);
}

/* Parse a checkpoint file name; false for anything else (temp files...). */
static bool parse_name(const char *name, bool *is_stage, int64_t *number)
{
    const char *digits;
    size_t min_digits;
    if (strncmp(name, "stage-", 6) == 0) {
        *is_stage = true;
        digits = name + 6;
        min_digits = 3;
    } else if (strncmp(name, "step-", 5) == 0) {
        *is_stage = false;
        digits = name + 5;
        min_digits = 8;
    } else {
        return false;
    }
    size_t nd = 0;
    int64_t v = 0;
    while (digits[nd] >= '0' && digits[nd] <= '9' && nd < 18) {
        v = v * 10 + (digits[nd] - '0');
        nd++;
    }
    if (nd < min_digits || strcmp(digits + nd, ".h5") != 0) return false;
    *number = v;
    return true;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

st_status ckpt_latest_write(const char *dir, const char *name, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *path = join_path(dir, CKPT_LATEST);
    char line[CKPT_NAME_MAX + 2];
    bool stg;
    int64_t num;
    CHECK_ALLOC(path);
    if (!parse_name(name, &stg, &num))
        FAIL(ST_ERR, "LATEST must name a checkpoint file, not '%s'", name);
    snprintf(line, sizeof line, "%s\n", name);
    CHECK(publish_write_text(path, line, comm));
out:
    free(path);
    return st;
}

st_status ckpt_latest_read(const char *dir, char **name, MPI_Comm comm)
{
    st_status st = ST_OK;
    char *path = NULL;
    int fd = -1;
    *name = NULL;
    if (rank_of(comm) == 0) {
        path = join_path(dir, CKPT_LATEST);
        CHECK_ALLOC(path);
        /* The run directory may come from someone else: LATEST must be a
         * small regular file of its own -- not a symlink (O_NOFOLLOW), and
         * not a FIFO or device that would block or never end (O_NONBLOCK,
         * then fstat). */
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) goto out;
            if (errno == ELOOP)
                FAIL(ST_ECKPT, "%s is a symbolic link; refusing to follow it (LATEST must be a "
                     "regular file in the run directory)", path);
            FAIL(ST_ECKPT, "cannot read %s: %s", path, strerror(errno));
        }
        struct stat sb;
        if (fstat(fd, &sb) < 0) FAIL(ST_ECKPT, "cannot read %s: %s", path, strerror(errno));
        if (!S_ISREG(sb.st_mode))
            FAIL(ST_ECKPT, "%s is not a regular file (a directory, FIFO or device); refusing "
                 "to read it", path);
        /* One name and a newline; anything longer is not a LATEST marker. */
        char line[CKPT_NAME_MAX + 2] = "";
        ssize_t got = 0, rc;
        while (got < (ssize_t)sizeof line - 1 &&
               (rc = read(fd, line + got, sizeof line - 1 - (size_t)got)) != 0) {
            if (rc < 0 && errno == EINTR) continue;
            if (rc < 0) FAIL(ST_ECKPT, "cannot read %s: %s", path, strerror(errno));
            got += rc;
        }
        line[got] = '\0';
        if (sb.st_size > (off_t)sizeof line - 1 || memchr(line, '\0', (size_t)got))
            FAIL(ST_ECKPT, "%s does not name a checkpoint file (%lld bytes; a name is at most "
                 "%d)", path, (long long)sb.st_size, CKPT_NAME_MAX - 1);
        line[strcspn(line, "\r\n")] = '\0';
        /* A plain name in the run directory: stage-NNN.h5 or step-NNNNNNNN.h5. */
        bool stg;
        int64_t num;
        if (strchr(line, '/') || strstr(line, "..") || !parse_name(line, &stg, &num))
            FAIL(ST_ECKPT, "%s does not name a checkpoint file in the run directory (holds "
                 "'%.64s'; expected stage-NNN.h5 or step-NNNNNNNN.h5)", path, line);
        *name = strdup(line);
        CHECK_ALLOC(*name);
    }
out:
    if (fd >= 0) close(fd);
    free(path);
    st = st_agree_root(st, comm);
    if (st == ST_OK) st = share_string(name, comm);
    if (st != ST_OK) {
        free(*name);
        *name = NULL;
    }
    return st;
}

static int entry_cmp(const void *a, const void *b)
{
    const ckpt_entry *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns) return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

st_status ckpt_list_dir(const char *dir, ckpt_list *out, MPI_Comm comm)
{
    st_status st = ST_OK;
    DIR *d = NULL;
    char *path = NULL;
    size_t cap = 0;
    unsigned long long n = 0;
    out->items = NULL;
    out->n = 0;
    if (rank_of(comm) == 0) {
        d = opendir(dir);
        if (!d) {
            if (errno == ENOENT) goto out;
            FAIL(ST_ECKPT, "cannot list checkpoint directory %s: %s", dir, strerror(errno));
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            ckpt_entry c;
            memset(&c, 0, sizeof c);
            if (strlen(e->d_name) >= CKPT_NAME_MAX || !parse_name(e->d_name, &c.is_stage, &c.number))
                continue;
            snprintf(c.name, sizeof c.name, "%s", e->d_name);
            free(path);
            path = join_path(dir, e->d_name);
            CHECK_ALLOC(path);
            struct stat sb;
            if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) continue;
            c.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
            if (out->n == cap) {
                cap = cap ? 2 * cap : 16;
                ckpt_entry *grown = realloc(out->items, cap * sizeof *grown);
                CHECK_ALLOC(grown);
                out->items = grown;
            }
            out->items[out->n++] = c;
        }
        if (out->n) qsort(out->items, out->n, sizeof *out->items, entry_cmp);
    }
out:
    if (d) closedir(d);
    free(path);
    st = st_agree_root(st, comm);
    if (st == ST_OK) {
        n = out->n;
        if (MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, comm) != MPI_SUCCESS)
            st = ST_ERROR(ST_EMPI, "cannot broadcast the checkpoint list");
    }
    if (st == ST_OK && n > 0) {
        if (rank_of(comm) != 0) {
            out->items = malloc(n * sizeof *out->items);
            out->n = n;
            if (!out->items) st = ST_ERROR(ST_ENOMEM, "out of memory (checkpoint list)");
        }
        st = st_agree(st, comm);
        if (st == ST_OK && MPI_Bcast(out->items, (int)(n * sizeof *out->items), MPI_BYTE, 0, comm) != MPI_SUCCESS)
            st = ST_ERROR(ST_EMPI, "cannot broadcast the checkpoint list");
    }
    if (st != ST_OK) ckpt_list_free(out);
    return st;
}

void ckpt_list_free(ckpt_list *l)
{
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int step_cmp(const void *a, const void *b)
{
    const ckpt_entry *x = a, *y = b;
    return (x->number > y->number) - (x->number < y->number);
}

st_status ckpt_prune(const char *dir, int keep, size_t *removed, MPI_Comm comm)
{
    st_status st = ST_OK;
    ckpt_list l = {NULL, 0};
    ckpt_entry *steps = NULL;
    char *latest = NULL, *path = NULL;
    size_t nrm = 0;
    CHECK(ckpt_list_dir(dir, &l, comm));
    /* A LATEST we cannot read protects nothing, but must not stop pruning. */
    if (ckpt_latest_read(dir, &latest, comm) != ST_OK) latest = NULL;
    if (rank_of(comm) == 0) {
        size_t ns = 0;
        steps = malloc((l.n ? l.n : 1) * sizeof *steps);
        CHECK_ALLOC(steps);
        for (size_t i = 0; i < l.n; i++)
            if (!l.items[i].is_stage) steps[ns++] = l.items[i];
        qsort(steps, ns, sizeof *steps, step_cmp);
        size_t k = keep > 0 ? (size_t)keep : 0;
        for (size_t i = 0; i + k < ns; i++) {
            if (latest && strcmp(latest, steps[i].name) == 0) continue;
            free(path);
            path = join_path(dir, steps[i].name);
            CHECK_ALLOC(path);
            if (unlink(path) < 0 && errno != ENOENT)
                FAIL(ST_EIO, "cannot remove old checkpoint %s: %s", path, strerror(errno));
            nrm++;
        }
    }
out:
    free(path);
    free(steps);
    free(latest);
    ckpt_list_free(&l);
    st = st_agree_root(st, comm);
    unsigned long long r = nrm;
    MPI_Bcast(&r, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
    if (removed) *removed = (size_t)r;
    return st;
}

/* Verify on the calling process alone. */
static st_status verify_local(const char *path)
{
    st_status st = ST_OK;
    h5_file f;
    size_t n = 0;
    h5_file_zero(&f);
    st = h5_open_kind(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT, ST_ECKPT);
    if (st != ST_OK) {
        st_add_context("checkpoint %s is unusable", path);
        return ST_ECKPT;
    }
    st = h5_read_all(&f, &n);
    if (st != ST_OK) {
        st_add_context("checkpoint %s is corrupt", path);
        st = ST_ECKPT;
    }
    if (h5_close(&f) != ST_OK && st == ST_OK) st = ST_ECKPT;
    return st;
}

st_status ckpt_verify(const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    /* One reader is enough to check the bytes on disk; the others wait. */
    if (rank_of(comm) == 0) st = verify_local(path);
    return st_agree_root(st, comm);
}

static bool skipped(const char *name, const char *const *skip, int n_skip)
{
    for (int i = 0; i < n_skip; i++)
        if (strcmp(name, skip[i]) == 0) return true;
    return false;
}

st_status ckpt_newest_good(const char *dir, char **path, MPI_Comm comm)
{
    return ckpt_newest_good_except(dir, NULL, 0, path, comm);
}

st_status ckpt_newest_good_except(const char *dir, const char *const *skip, int n_skip, char **path,
                                  MPI_Comm comm)
{
    st_status st = ST_OK;
    ckpt_list l = {NULL, 0};
    char *latest = NULL, *cand = NULL;
    *path = NULL;
    CHECK(ckpt_list_dir(dir, &l, comm));
    if (ckpt_latest_read(dir, &latest, comm) != ST_OK) {
        log_warn("%s; ignoring it", st_last_error());
        latest = NULL;
    }
    if (latest && skipped(latest, skip, n_skip)) {
        free(latest);
        latest = NULL;
    }
    if (rank_of(comm) == 0) {
        if (latest) {
            cand = join_path(dir, latest);
            CHECK_ALLOC(cand);
            bool listed = false;
            for (size_t i = 0; i < l.n; i++)
                if (strcmp(l.items[i].name, latest) == 0) listed = true;
            if (!listed)
                log_warn("%s/%s names %s, which is missing; falling back to the newest complete "
                         "checkpoint", dir, CKPT_LATEST, latest);
            else if (verify_local(cand) == ST_OK)
                goto out;
            else
                log_warn("%s; falling back to the previous complete checkpoint", st_last_error());
            free(cand);
            cand = NULL;
        }
        for (size_t i = l.n; i-- > 0;) {
            if (latest && strcmp(l.items[i].name, latest) == 0) continue;
            if (skipped(l.items[i].name, skip, n_skip)) continue;
            cand = join_path(dir, l.items[i].name);
            CHECK_ALLOC(cand);
            if (verify_local(cand) == ST_OK) {
                if (latest) log_warn("resuming from %s instead", cand);
                goto out;
            }
            log_warn("%s; trying an older one", st_last_error());
            free(cand);
            cand = NULL;
        }
        if (l.n > 0)
            FAIL(ST_ECKPT, "no usable checkpoint in %s: all %zu checkpoint files failed "
                 "verification or could not be loaded", dir, l.n);
    }
out:
    free(latest);
    ckpt_list_free(&l);
    st = st_agree_root(st, comm);
    if (st == ST_OK) st = share_string(&cand, comm);
    if (st != ST_OK) {
        free(cand);
        cand = NULL;
    }
    *path = cand;
    return st;
}
