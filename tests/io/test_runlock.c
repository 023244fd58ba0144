/* test_runlock.c -- one job per run directory: acquire and release, a second
 * acquire naming the holder, the lock file's content, stale locks of this
 * host taken over with a warning, locks of other hosts refused, release of
 * a lock that is no longer ours, and (on 2 ranks) two jobs racing for the
 * same lock; on 1 and 2 ranks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io_test.h"
#include "strata/runlock.h"

#define W MPI_COMM_WORLD

static char dir[512];
static char lockpath[700];
static char host[256];

static int setup(void **state)
{
    (void)state;
    io_tmpdir(dir, sizeof dir);
    snprintf(lockpath, sizeof lockpath, "%s/LOCK", dir);
    gethostname(host, sizeof host - 1);
    unsetenv("SLURM_JOB_ID");
    unsetenv("PBS_JOBID");
    return dir[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    io_tmpdir_remove(dir);
    return 0;
}

static bool lock_exists(void)
{
    struct stat sb;
    return stat(lockpath, &sb) == 0;
}

/* The lock file's text ("" when missing); the same on every rank. */
static void read_lock(char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(lockpath, "r");
    if (f) {
        size_t n = fread(buf, 1, cap - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
}

/* Rank 0 writes LOCK by hand (another job's lock); everybody waits. */
static void write_lock(const char *text)
{
    if (st_test_rank() == 0) {
        FILE *f = fopen(lockpath, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
    }
    MPI_Barrier(W);
}

/* Is rank 0's last error the same as ours, and does it contain `want`? */
static bool same_message_everywhere(const char *want)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", st_last_error());
    char root[2048];
    memcpy(root, msg, sizeof root);
    MPI_Bcast(root, sizeof root, MPI_CHAR, 0, W);
    bool ok = strcmp(root, msg) == 0 && strstr(msg, want) != NULL;
    if (!ok) print_error("message '%s' (rank 0: '%s') lacks '%s'\n", msg, root, want);
    return ok;
}

/* A pid that no process has now. */
static long dead_pid(void)
{
    long max = 32768;
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1) max = 32768;
        fclose(f);
    }
    /* Pids are below pid_max, so pid_max itself can never be alive: a pid
     * merely unused now could be handed to a new process while a test runs
     * (pid_max is 32768 here and a busy machine wraps it in seconds). */
    if (kill((pid_t)max, 0) != 0 && errno == ESRCH) return max;
    for (long p = max - 1; p > 1; p--)
        if (kill((pid_t)p, 0) != 0 && errno == ESRCH) return p;
    return -1;
}

/* Run acquire with rank 0's stderr in a file; *log gets what was printed. */
static st_status acquire_logged(run_lock *l, char *log, size_t cap)
{
    char path[700];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    int saved = -1;
    if (st_test_rank() == 0) {
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    st_status st = run_lock_acquire(l, dir, W);
    log[0] = '\0';
    if (st_test_rank() == 0) {
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(log, 1, cap - 1, f);
            log[n] = '\0';
            fclose(f);
        }
        unlink(path);
    }
    MPI_Bcast(log, (int)cap, MPI_CHAR, 0, W);
    return st;
}

static void test_acquire_release(void **state)
{
    (void)state;
    run_lock l = RUN_LOCK_INIT;
    ST_ASSERT_OK(run_lock_acquire(&l, dir, W));
    MPI_Barrier(W);
    ST_ASSERT_ALL(lock_exists());
    ST_ASSERT_ALL(l.path && strcmp(l.path, lockpath) == 0 && !l.took_over);
    /* no temporary file is left next to it */
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s/LOCK.%s.%ld.tmp", dir, host, (long)getpid());
    ST_ASSERT_ALL(access(tmp, F_OK) != 0);
    run_lock_release(&l, W);
    MPI_Barrier(W);
    ST_ASSERT_ALL(!lock_exists());
    ST_ASSERT_ALL(l.path == NULL && l.token == NULL);
    run_lock_release(&l, W); /* twice is harmless */
    /* and it can be taken again */
    ST_ASSERT_OK(run_lock_acquire(&l, dir, W));
    run_lock_release(&l, W);
    MPI_Barrier(W);
    ST_ASSERT_ALL(!lock_exists());
}

static void test_content(void **state)
{
    (void)state;
    setenv("SLURM_JOB_ID", "4242", 1);
    run_lock l = RUN_LOCK_INIT;
    ST_ASSERT_OK(run_lock_acquire(&l, dir, W));
    MPI_Barrier(W);
    char text[4096], want[512];
    read_lock(text, sizeof text);
    snprintf(want, sizeof want, "\nhost=%s\n", host);
    bool ok = strstr(text, want) != NULL;
    /* rank 0's pid */
    long pid0 = (long)getpid();
    MPI_Bcast(&pid0, 1, MPI_LONG, 0, W);
    snprintf(want, sizeof want, "\npid=%ld\n", pid0);
    ok = ok && strstr(text, want) && strstr(text, "\njob=4242\n") && strstr(text, "\ntoken=");
    /* since=YYYY-MM-DDTHH:MM:SSZ */
    const char *s = strstr(text, "\nsince=");
    ok = ok && s && strlen(s) > 27 && s[11] == '-' && s[17] == 'T' && s[26] == 'Z';
    if (!ok) print_error("lock file:\n%s\n", text);
    ST_ASSERT_ALL(ok);
    run_lock_release(&l, W);
    /* PBS_JOBID when SLURM_JOB_ID is not set; "-" outside a scheduler */
    unsetenv("SLURM_JOB_ID");
    setenv("PBS_JOBID", "77.pbsserver", 1);
    ST_ASSERT_OK(run_lock_acquire(&l, dir, W));
    MPI_Barrier(W);
    read_lock(text, sizeof text);
    ST_ASSERT_ALL(strstr(text, "\njob=77.pbsserver\n") != NULL);
    run_lock_release(&l, W);
    unsetenv("PBS_JOBID");
    ST_ASSERT_OK(run_lock_acquire(&l, dir, W));
    MPI_Barrier(W);
    read_lock(text, sizeof text);
    ST_ASSERT_ALL(strstr(text, "\njob=-\n") != NULL);
    run_lock_release(&l, W);
}

static void test_second_acquire_fails(void **state)
{
    (void)state;
    setenv("SLURM_JOB_ID", "5151", 1);
    run_lock a = RUN_LOCK_INIT, b = RUN_LOCK_INIT;
    ST_ASSERT_OK(run_lock_acquire(&a, dir, W));
    char before[4096], after[4096];
    MPI_Barrier(W);
    read_lock(before, sizeof before);
    unsetenv("SLURM_JOB_ID");
    st_status st = run_lock_acquire(&b, dir, W);
    ST_ASSERT_ALL(st == ST_ECKPT);
    ST_ASSERT_ALL(st_exit_code(st) == 4);
    ST_ASSERT_ALL(b.path == NULL && b.token == NULL);
    long pid0 = (long)getpid();
    MPI_Bcast(&pid0, 1, MPI_LONG, 0, W);
    char want[512];
    snprintf(want, sizeof want, "is in use by another job (host %s, pid %ld, job 5151, since 20", host, pid0);
    ST_ASSERT_ALL(same_message_everywhere(want));
    ST_ASSERT_ALL(same_message_everywhere(lockpath));
    /* the holder's lock is untouched */
    read_lock(after, sizeof after);
    ST_ASSERT_ALL(strcmp(before, after) == 0);
    run_lock_release(&b, W); /* releasing the failed one removes nothing */
    MPI_Barrier(W);
    ST_ASSERT_ALL(lock_exists());
    run_lock_release(&a, W);
    MPI_Barrier(W);
    ST_ASSERT_ALL(!lock_exists());
}

static void test_stale_taken_over(void **state)
{
    (void)state;
    long dead = dead_pid();
    MPI_Bcast(&dead, 1, MPI_LONG, 0, W);
    assert_true(dead > 0);
    char text[1024];
    snprintf(text, sizeof text, "host=%s\npid=%ld\njob=999\nsince=2020-01-01T00:00:00Z\ntoken=%s:%ld:1\n", host,
             dead, host, dead);
    write_lock(text);
    run_lock l = RUN_LOCK_INIT;
    char log[4096];
    ST_ASSERT_OK(acquire_logged(&l, log, sizeof log));
    ST_ASSERT_ALL(l.took_over);
    char want[512];
    snprintf(want, sizeof want, "took over the stale lock of a job that is gone (host %s, pid %ld, job 999", host,
             dead);
    bool warned = strstr(log, "warn") && strstr(log, want);
    if (!warned) print_error("log: '%s'\n", log);
    ST_ASSERT_ALL(warned);
    /* LOCK is ours now; the guard is gone */
    char now[4096], guard[800];
    MPI_Barrier(W);
    read_lock(now, sizeof now);
    long pid0 = (long)getpid();
    MPI_Bcast(&pid0, 1, MPI_LONG, 0, W);
    snprintf(want, sizeof want, "\npid=%ld\n", pid0);
    ST_ASSERT_ALL(strstr(now, want) != NULL);
    snprintf(guard, sizeof guard, "%s/LOCK.takeover", dir);
    ST_ASSERT_ALL(access(guard, F_OK) != 0);
    run_lock_release(&l, W);
    MPI_Barrier(W);
    ST_ASSERT_ALL(!lock_exists());
}

static void test_earlier_boot_taken_over(void **state)
{
    (void)state;
    /* Our own (live) pid, but from another boot of this host: after a
     * reboot the pid may belong to anyone. */
    long pid0 = (long)getpid();
    MPI_Bcast(&pid0, 1, MPI_LONG, 0, W);
    char text[1024];
    snprintf(text, sizeof text, "host=%s\npid=%ld\njob=-\nsince=2020-01-01T00:00:00Z\nboot=not-this-boot\ntoken=x\n",
             host, pid0);
    write_lock(text);
    run_lock l = RUN_LOCK_INIT;
    char log[4096];
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    bool have_boot = f != NULL;
    if (f) fclose(f);
    st_status st = acquire_logged(&l, log, sizeof log);
    if (have_boot) {
        ST_ASSERT_ALL(st == ST_OK && l.took_over);
        ST_ASSERT_ALL(strstr(log, "this host has rebooted since") != NULL);
    } else {
        ST_ASSERT_ALL(st == ST_ECKPT); /* no boot id: the live pid keeps it */
        if (st_test_rank() == 0) unlink(lockpath);
    }
    run_lock_release(&l, W);
    MPI_Barrier(W);
    ST_ASSERT_ALL(!lock_exists());
}

static void test_other_host_refused(void **state)
{
    (void)state;
    const char *text = "host=node-elsewhere.invalid\npid=1234\njob=31337\nsince=2026-01-02T03:04:05Z\ntoken=t\n";
    write_lock(text);
    run_lock l = RUN_LOCK_INIT;
    st_status st = run_lock_acquire(&l, dir, W);
    ST_ASSERT_ALL(st == ST_ECKPT);
    ST_ASSERT_ALL(same_message_everywhere("locked by a job on another host (host node-elsewhere.invalid, pid "
                                          "1234, job 31337, since 2026-01-02T03:04:05Z"));
    char want[800];
    snprintf(want, sizeof want, "remove the lock by hand: rm %s", lockpath);
    ST_ASSERT_ALL(same_message_everywhere(want));
    ST_ASSERT_ALL(same_message_everywhere("If that job is dead"));
    char now[4096];
    read_lock(now, sizeof now);
    ST_ASSERT_ALL(strcmp(now, text) == 0);
    /* a lock from another host is never taken over, however old */
    ST_ASSERT_ALL(run_lock_acquire(&l, dir, W) == ST_ECKPT);
    read_lock(now, sizeof now);
    ST_ASSERT_ALL(strcmp(now, text) == 0);
}

static void test_unreadable_lock_refused(void **state)
{
    (void)state;
    write_lock("");
    run_lock l = RUN_LOCK_INIT;
    ST_ASSERT_ALL(run_lock_acquire(&l, dir, W) == ST_ECKPT);
    ST_ASSERT_ALL(same_message_everywhere("does not name a strata job"));
    write_lock("someone wrote this by hand\n");
    ST_ASSERT_ALL(run_lock_acquire(&l, dir, W) == ST_ECKPT);
    ST_ASSERT_ALL(same_message_everywhere("rm "));
}

static void test_release_only_ours(void **state)
{
    (void)state;
    run_lock l = RUN_LOCK_INIT;
    ST_ASSERT_OK(run_lock_acquire(&l, dir, W));
    /* somebody removed ours by hand and another job took the directory */
    const char *other = "host=elsewhere\npid=99\njob=-\nsince=2026-01-01T00:00:00Z\ntoken=elsewhere:99:1\n";
    MPI_Barrier(W);
    if (st_test_rank() == 0) unlink(lockpath);
    write_lock(other);
    run_lock_release(&l, W);
    MPI_Barrier(W);
    char now[4096];
    read_lock(now, sizeof now);
    ST_ASSERT_ALL(strcmp(now, other) == 0);
}

static void test_missing_dir(void **state)
{
    (void)state;
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    run_lock l = RUN_LOCK_INIT;
    ST_ASSERT_ALL(run_lock_acquire(&l, missing, W) == ST_EIO);
    ST_ASSERT_ALL(same_message_everywhere("does not exist"));
}

static void test_takeover_guard_held(void **state)
{
    (void)state;
    long dead = dead_pid();
    MPI_Bcast(&dead, 1, MPI_LONG, 0, W);
    char text[1024], guard[800];
    snprintf(text, sizeof text, "host=%s\npid=%ld\njob=-\nsince=2020-01-01T00:00:00Z\ntoken=y\n", host, dead);
    write_lock(text);
    snprintf(guard, sizeof guard, "%s/LOCK.takeover", dir);
    if (st_test_rank() == 0) close(open(guard, O_WRONLY | O_CREAT, 0644));
    MPI_Barrier(W);
    run_lock l = RUN_LOCK_INIT;
    ST_ASSERT_ALL(run_lock_acquire(&l, dir, W) == ST_ECKPT);
    ST_ASSERT_ALL(same_message_everywhere("another job is taking over its stale lock"));
    char now[4096];
    read_lock(now, sizeof now);
    ST_ASSERT_ALL(strcmp(now, text) == 0);
    /* once the guard is gone the stale lock is taken over */
    MPI_Barrier(W);
    if (st_test_rank() == 0) unlink(guard);
    MPI_Barrier(W);
    ST_ASSERT_OK(run_lock_acquire(&l, dir, W));
    run_lock_release(&l, W);
}

/* Every rank is a separate job (MPI_COMM_SELF) and all start at once:
 * exactly one gets the lock, with and without a stale lock to take over. */
static void test_race(void **state)
{
    (void)state;
    int n = st_test_size();
    if (n < 2) return; /* needs two processes: test_runlock-np2 races */
    long dead = dead_pid();
    MPI_Bcast(&dead, 1, MPI_LONG, 0, W);
    for (int round = 0; round < 20; round++) {
        if (round % 2) {
            char text[1024];
            snprintf(text, sizeof text, "host=%s\npid=%ld\njob=-\nsince=2020-01-01T00:00:00Z\ntoken=z%d\n", host,
                     dead, round);
            write_lock(text);
        }
        MPI_Barrier(W);
        run_lock l = RUN_LOCK_INIT;
        st_status st = run_lock_acquire(&l, dir, MPI_COMM_SELF);
        int won = st == ST_OK, winners = 0, refused = st == ST_ECKPT, losers = 0;
        MPI_Allreduce(&won, &winners, 1, MPI_INT, MPI_SUM, W);
        MPI_Allreduce(&refused, &losers, 1, MPI_INT, MPI_SUM, W);
        if (winners != 1 || losers != n - 1)
            print_error("round %d: %d winners, %d refused (%s)\n", round, winners, losers, st_last_error());
        ST_ASSERT_ALL(winners == 1 && losers == n - 1);
        /* the file names the winner */
        char text[4096], want[128];
        read_lock(text, sizeof text);
        snprintf(want, sizeof want, "\npid=%ld\n", (long)getpid());
        int names_me = strstr(text, want) != NULL, named = 0;
        MPI_Allreduce(&names_me, &named, 1, MPI_INT, MPI_SUM, W);
        ST_ASSERT_ALL(named == 1 && (!won || names_me));
        MPI_Barrier(W);
        run_lock_release(&l, MPI_COMM_SELF);
        MPI_Barrier(W);
        ST_ASSERT_ALL(!lock_exists());
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_acquire_release, setup, teardown),
    cmocka_unit_test_setup_teardown(test_content, setup, teardown),
    cmocka_unit_test_setup_teardown(test_second_acquire_fails, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stale_taken_over, setup, teardown),
    cmocka_unit_test_setup_teardown(test_earlier_boot_taken_over, setup, teardown),
    cmocka_unit_test_setup_teardown(test_other_host_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unreadable_lock_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_release_only_ours, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
    cmocka_unit_test_setup_teardown(test_takeover_guard_held, setup, teardown),
    cmocka_unit_test_setup_teardown(test_race, setup, teardown),
};

ST_TEST_MAIN(tests)
