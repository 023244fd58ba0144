/* runlock.c -- one job per run directory (see runlock.h). */
#define _GNU_SOURCE
#include "strata/runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strata/agree.h"
#include "strata/log.h"

enum { LOCK_TEXT_MAX = 4096, FIELD_MAX = 256 };

static int rank_of(MPI_Comm comm)
{
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
}


/* ---- the lock file's content -------------------------------------------- */

typedef struct holder {
    char host[128]; /* host names have at most 64 bytes (HOST_NAME_MAX) */
    char job[FIELD_MAX], since[FIELD_MAX], boot[FIELD_MAX], token[FIELD_MAX];
    long pid;
} holder;

static void read_boot_id(char *buf, size_t cap)
{
    snprintf(buf, cap, "-");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return;
    if (fgets(buf, (int)cap, f)) buf[strcspn(buf, "\r\n")] = '\0';
    else
        snprintf(buf, cap, "-");
    fclose(f);
}

/* Who we are: host, pid, scheduler job, start time, boot, a unique token. */
static void holder_self(holder *h)
{
    memset(h, 0, sizeof *h);
    if (gethostname(h->host, sizeof h->host - 1) != 0) snprintf(h->host, sizeof h->host, "unknown");
    h->pid = (long)getpid();
    const char *job = getenv("SLURM_JOB_ID");
    if (!job || !job[0]) job = getenv("PBS_JOBID");
    snprintf(h->job, sizeof h->job, "%s", job && job[0] ? job : "-");
    /* no newlines: they would break the one-field-per-line format */
    h->job[strcspn(h->job, "\r\n")] = '\0';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(h->since, sizeof h->since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    read_boot_id(h->boot, sizeof h->boot);
    snprintf(h->token, sizeof h->token, "%s:%ld:%lld%09ld", h->host, h->pid, (long long)ts.tv_sec,
             (long)ts.tv_nsec);
}

static void holder_format(const holder *h, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "# strata run lock: the job below uses this run directory.\n"
             "# Remove this file by hand only after checking that the job is dead.\n"
             "host=%s\npid=%ld\njob=%s\nsince=%s\nboot=%s\ntoken=%s\n",
             h->host, h->pid, h->job, h->since, h->boot, h->token);
}

/* Parse a lock file's text; false when host, pid or token is missing.
 * Unknown keys and '#' comments are ignored (room for later fields). */
static bool holder_parse(const char *text, holder *h)
{
    memset(h, 0, sizeof *h);
    h->pid = -1;
    const struct { const char *key; char *dst; size_t cap; } fields[] = {
        {"host", h->host, sizeof h->host}, {"job", h->job, sizeof h->job},
        {"since", h->since, sizeof h->since}, {"boot", h->boot, sizeof h->boot},
        {"token", h->token, sizeof h->token},
    };
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        const char *eq = memchr(p, '=', len);
        if (p[0] != '#' && eq) {
            size_t kl = (size_t)(eq - p);
            int vl = (int)(len - kl - 1);
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                if (strlen(fields[i].key) == kl && strncmp(p, fields[i].key, kl) == 0)
                    snprintf(fields[i].dst, fields[i].cap, "%.*s", vl, eq + 1);
            if (kl == 3 && strncmp(p, "pid", 3) == 0) {
                char *end = NULL;
                long v = strtol(eq + 1, &end, 10);
                if (end != eq + 1 && (*end == '\n' || *end == '\0') && v > 0) h->pid = v;
            }
        }
        p += len;
        if (*p == '\n') p++;
    }
    return h->host[0] && h->pid > 0 && h->token[0];
}

/* Read a whole small file into buf (NUL-terminated).  ENOENT -> false with
 * errno set; other errors too. */
static bool read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return false;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    int e = errno;
    close(fd);
    errno = e;
    return true;
}

static st_status write_all_sync(int fd, const char *path, const char *text)
{
    st_status st = ST_OK;
    size_t n = strlen(text), done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) FAIL(ST_EIO, "cannot write the run lock '%s': %s", path, strerror(errno));
        done += (size_t)w;
    }
    if (fsync(fd) != 0) FAIL(ST_EIO, "cannot sync the run lock '%s': %s", path, strerror(errno));
out:
    return st;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    /* Some file systems cannot fsync a directory; the link still happened. */
    fsync(fd);
    close(fd);
}

/* ---- is the holder alive? ----------------------------------------------- */

typedef enum holder_state { HOLDER_ALIVE, HOLDER_DEAD, HOLDER_ELSEWHERE } holder_state;

/* Both boot ids known and different: the lock is from an earlier boot. */
static bool other_boot(const holder *h, const holder *self)
{
    return h->boot[0] && strcmp(h->boot, "-") != 0 && strcmp(self->boot, "-") != 0 &&
           strcmp(h->boot, self->boot) != 0;
}

static holder_state holder_check(const holder *h, const holder *self)
{
    if (strcmp(h->host, self->host) != 0) return HOLDER_ELSEWHERE;
    /* Same host, other boot: every process of that boot is gone (and its
     * pid may have been reused since, so kill() would mislead). */
    if (other_boot(h, self)) return HOLDER_DEAD;
    /* EPERM: the process exists but belongs to someone else. */
    if (kill((pid_t)h->pid, 0) != 0 && errno == ESRCH) return HOLDER_DEAD;
    return HOLDER_ALIVE;
}

static void holder_describe(const holder *h, char *buf, size_t cap)
{
    snprintf(buf, cap, "host %s, pid %ld, job %s, since %s", h->host, h->pid, h->job[0] ? h->job : "-",
             h->since[0] ? h->since : "?");
}

/* ---- acquire (rank 0) ----------------------------------------------------- */

/* Replace the stale lock (whose text was `seen`) with ours (temp file tmp),
 * serialised by LOCK.takeover.  *done = true when LOCK is ours now; false
 * when LOCK changed meanwhile (the caller looks again). */
static st_status take_over(const char *dir, const char *lock, const char *tmp, const char *seen, bool *done)
{
    st_status st = ST_OK;
    char guard[4096], now[LOCK_TEXT_MAX];
    int fd = -1;
    bool have_guard = false;
    *done = false;
    snprintf(guard, sizeof guard, "%s/%s", dir, RUN_LOCK_TAKEOVER);
    /* Another job may be taking over the same stale lock: a take-over takes
     * milliseconds, so wait up to ~2 s for it before giving up. */
    for (int tries = 0; tries < 40; tries++) {
        fd = open(guard, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0 || errno != EEXIST) break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (fd < 0 && errno == EEXIST)
        FAIL(ST_ECKPT,
             "run directory '%s': another job is taking over its stale lock ('%s' exists); if no other "
             "job is starting there, remove it: rm %s",
             dir, guard, guard);
    if (fd < 0) FAIL(ST_EIO, "run directory '%s': cannot create '%s': %s", dir, guard, strerror(errno));
    have_guard = true;
    close(fd);
    fd = -1;
    /* Re-check under the guard: the lock we judged stale must still be there. */
    if (!read_small(lock, now, sizeof now)) {
        if (errno == ENOENT) goto out; /* gone: the caller links ours */
        FAIL(ST_EIO, "run directory '%s': cannot read '%s': %s", dir, lock, strerror(errno));
    }
    if (strcmp(now, seen) != 0) goto out;
    if (rename(tmp, lock) != 0)
        FAIL(ST_EIO, "run directory '%s': cannot replace the stale lock '%s': %s", dir, lock, strerror(errno));
    *done = true;
out:
    if (have_guard) unlink(guard);
    if (fd >= 0) close(fd);
    return st;
}

static st_status acquire_rank0(run_lock *l, const char *dir)
{
    st_status st = ST_OK;
    char *lock = NULL, *tmp = NULL;
    char text[LOCK_TEXT_MAX], seen[LOCK_TEXT_MAX], who[1024];
    holder self, h;
    int fd = -1;
    bool tmp_made = false, ours = false;
    struct stat sb;

    if (stat(dir, &sb) != 0) FAIL(ST_EIO, "run directory '%s': %s", dir, errno == ENOENT ? "does not exist" : strerror(errno));
    if (!S_ISDIR(sb.st_mode)) FAIL(ST_EIO, "run directory '%s' is not a directory", dir);
    holder_self(&self);
    holder_format(&self, text, sizeof text);
    size_t n = strlen(dir) + 128;
    lock = malloc(n);
    tmp = malloc(n + strlen(self.host));
    CHECK_ALLOC(lock);
    CHECK_ALLOC(tmp);
    snprintf(lock, n, "%s/%s", dir, RUN_LOCK_NAME);
    snprintf(tmp, n + strlen(self.host), "%s/%s.%s.%ld.tmp", dir, RUN_LOCK_NAME, self.host, self.pid);

    /* The complete lock under a private name first, then one atomic step. */
    l->token = strdup(self.token);
    CHECK_ALLOC(l->token);
    /* A leftover of a crashed job with our pid may be a second name of its
     * LOCK: remove the name rather than truncate what it points to. */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) FAIL(ST_EIO, "run directory '%s': cannot create '%s': %s", dir, tmp, strerror(errno));
    tmp_made = true;
    CHECK(write_all_sync(fd, tmp, text));

    /* A few rounds: the lock may vanish or change while we look at it. */
    for (int round = 0; round < 5 && !ours; round++) {
        if (link(tmp, lock) == 0) {
            ours = true;
            break;
        }
        int e = errno;
        /* NFS: a retransmitted link may fail although the first one
         * succeeded; then our file has two names. */
        if (fstat(fd, &sb) == 0 && sb.st_nlink == 2) {
            ours = true;
            break;
        }
        if (e != EEXIST)
            FAIL(ST_EIO, "run directory '%s': cannot create the lock '%s': %s", dir, lock, strerror(e));
        if (!read_small(lock, seen, sizeof seen)) {
            if (errno == ENOENT) continue; /* released meanwhile: try again */
            FAIL(ST_EIO, "run directory '%s': cannot read the lock '%s': %s", dir, lock, strerror(errno));
        }
        if (!holder_parse(seen, &h))
            FAIL(ST_ECKPT,
                 "run directory '%s' is locked by '%s', which does not name a strata job (host, pid, "
                 "token); if no job uses the directory, remove it: rm %s",
                 dir, lock, lock);
        holder_describe(&h, who, sizeof who);
        holder_state hs = holder_check(&h, &self);
        bool rebooted = other_boot(&h, &self);
        if (hs == HOLDER_ALIVE)
            FAIL(ST_ECKPT,
                 "run directory '%s' is in use by another job (%s; lock file %s); one job per run "
                 "directory: wait for it, stop it, or choose another run.name",
                 dir, who, lock);
        if (hs == HOLDER_ELSEWHERE)
            FAIL(ST_ECKPT,
                 "run directory '%s' is locked by a job on another host (%s; lock file %s); strata "
                 "cannot see whether it still runs.  If that job is dead (check with squeue / qstat / "
                 "ps on %s), remove the lock by hand: rm %s",
                 dir, who, lock, h.host, lock);
        bool done = false;
        CHECK(take_over(dir, lock, tmp, seen, &done));
        if (done) {
            ours = true;
            tmp_made = false; /* renamed to LOCK */
            l->took_over = true;
            log_warn("run directory '%s': took over the stale lock of a job that is gone (%s: %s)", dir, who,
                     rebooted ? "this host has rebooted since" : "no such process on this host");
        }
    }
    if (!ours) FAIL(ST_ECKPT, "run directory '%s': the lock '%s' keeps changing; is another job starting?", dir, lock);
    sync_dir(dir);
    l->path = lock;
    lock = NULL;
out:
    if (st != ST_OK) {
        free(l->token);
        l->token = NULL;
    }
    if (fd >= 0) close(fd);
    if (tmp_made) unlink(tmp);
    free(lock);
    free(tmp);
    return st;
}

/* ---- the interface ------------------------------------------------------ */

st_status run_lock_acquire(run_lock *l, const char *dir, MPI_Comm comm)
{
    st_status st = ST_OK;
    int rank = rank_of(comm);
    *l = (run_lock)RUN_LOCK_INIT;
    if (rank == 0) st = acquire_rank0(l, dir);
    CHECK(st_agree_root(st, comm));
    int took = l->took_over ? 1 : 0;
    CHECK_MPI(MPI_Bcast(&took, 1, MPI_INT, 0, comm));
    l->took_over = took != 0;
    if (rank != 0) {
        size_t n = strlen(dir) + sizeof RUN_LOCK_NAME + 2;
        l->path = malloc(n);
        CHECK_ALLOC(l->path);
        snprintf(l->path, n, "%s/%s", dir, RUN_LOCK_NAME);
    }
out:
    if (st != ST_OK) {
        /* Rank 0 may hold LOCK when a later step failed (memory, MPI). */
        char *keep = strdup(st_last_error());
        run_lock_release(l, comm);
        if (keep) st_fail(st, __FILE__, __LINE__, "%s", keep);
        free(keep);
    }
    return st;
}

void run_lock_release(run_lock *l, MPI_Comm comm)
{
    if (!l) return;
    if (rank_of(comm) == 0 && l->path && l->token) {
        char text[LOCK_TEXT_MAX];
        holder h;
        /* Only our own lock: after a manual rm another job may hold it. */
        if (read_small(l->path, text, sizeof text)) {
            if (holder_parse(text, &h) && strcmp(h.token, l->token) == 0) {
                if (unlink(l->path) != 0)
                    log_warn("cannot remove the run lock '%s': %s", l->path, strerror(errno));
            } else {
                log_warn("the run lock '%s' is no longer ours; left in place", l->path);
            }
        }
    }
    free(l->path);
    free(l->token);
    *l = (run_lock)RUN_LOCK_INIT;
}
