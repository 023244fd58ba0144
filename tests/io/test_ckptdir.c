/* test_ckptdir.c -- checkpoint directories: injected faults, disk full,
 * LATEST fallback and pruning; on 1 and 3 ranks.  (The publication of one
 * file itself: test_publish.c.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "io_test.h"
#include "strata/ckptdir.h"
#include "strata/h5.h"
#include "strata/publish.h"

#define W MPI_COMM_WORLD
enum { NW = 2048 }; /* elements of the test tensor */

static bool exists(const char *dir, const char *name)
{
    char p[700];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

/* Write checkpoint dir/name through publish.h: /model/w = value, attribute
 * step = value.  Returns the commit status (other failures assert). */
static st_status write_ckpt_on(const char *dir, const char *name, int value, MPI_Comm comm)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    publish_file a;
    st_status st = publish_begin(&a, path, comm);
    if (st != ST_OK) return st;
    h5_file f;
    float *w = malloc(sizeof(float) * NW);
    for (int i = 0; i < NW; i++) w[i] = (float)value + (float)i / NW;
    const size_t dims[1] = {NW};
    st = h5_create(&f, a.tmp, comm, H5_KIND_CHECKPOINT);
    if (st == ST_OK) st = h5_attr_set_i64(&f, "/", "step", value);
    if (st == ST_OK) st = h5_write(&f, "model/w", H5_DT_F32, 1, dims, w);
    st_status cst = h5_close(&f);
    if (st == ST_OK) st = cst;
    free(w);
    if (st != ST_OK) {
        publish_abort(&a, comm);
        return st;
    }
    return publish_commit(&a, comm);
}

static st_status write_ckpt(const char *dir, const char *name, int value)
{
    return write_ckpt_on(dir, name, value, W);
}

/* The step attribute of a checkpoint, or -1 if it does not verify. */
static int64_t ckpt_value(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ckpt_verify(path, W) != ST_OK) return -1;
    h5_file f;
    int64_t v = -1;
    if (h5_open(&f, path, W, false) == ST_OK) {
        if (h5_attr_get_i64(&f, "/", "step", &v) != ST_OK) v = -1;
        h5_close(&f);
    }
    return v;
}

/* Age a file so that listing order is deterministic (mtime resolution can be
 * coarser than the time between two test writes). */
static void set_age(const char *dir, const char *name, int seconds_ago)
{
    if (st_test_rank() == 0) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        struct timespec ts[2];
        clock_gettime(CLOCK_REALTIME, &ts[0]);
        ts[0].tv_sec -= seconds_ago;
        ts[1] = ts[0];
        utimensat(AT_FDCWD, p, ts, 0);
    }
    MPI_Barrier(W);
}

static void dir_make_and_commit(void **state)
{
    (void)state;
    char dir[512], run[600], p[700];
    io_tmpdir(dir, sizeof dir);
    snprintf(run, sizeof run, "%s/checkpoints/demo", dir);
    ST_ASSERT_OK(ckpt_dir_make(run, W));
    ST_ASSERT_OK(ckpt_dir_make(run, W)); /* exists already: fine */
    ST_ASSERT_OK(write_ckpt(run, "stage-001.h5", 1));
    assert_true(exists(run, "stage-001.h5"));
    assert_false(exists(run, "stage-001.h5.tmp"));
    assert_int_equal(ckpt_value(run, "stage-001.h5"), 1);
    /* Replacing a file atomically. */
    ST_ASSERT_OK(write_ckpt(run, "stage-001.h5", 2));
    assert_int_equal(ckpt_value(run, "stage-001.h5"), 2);

    /* A file in the way, an unwritable directory (publish_* errors: test_publish.c). */
    snprintf(p, sizeof p, "%s/stage-001.h5/sub", run);
    assert_int_equal(ckpt_dir_make(p, W), ST_EIO);
    assert_non_null(strstr(st_last_error(), "stage-001.h5"));
    if (geteuid() != 0) { /* root writes anywhere */
        snprintf(p, sizeof p, "%s/ro", dir);
        if (st_test_rank() == 0) mkdir(p, 0500);
        MPI_Barrier(W);
        assert_int_equal(ckpt_dir_make(p, W), ST_EIO);
        assert_non_null(strstr(st_last_error(), "not writable"));
    }
    io_tmpdir_remove(dir);
}

static void injected_faults_keep_previous(void **state)
{
    (void)state;
    char dir[512];
    io_tmpdir(dir, sizeof dir);
    ST_ASSERT_OK(write_ckpt(dir, "step-00000100.h5", 100));
    ST_ASSERT_OK(ckpt_latest_write(dir, "step-00000100.h5", W));

    /* Crash mid-write: temp file stays, nothing renamed, LATEST unchanged. */
    setenv(PUBLISH_FAULT_ENV, "ckpt_commit", 1);
    assert_int_equal(write_ckpt(dir, "step-00000100.h5", 999), ST_EIO);
    assert_non_null(strstr(st_last_error(), "injected fault ckpt_commit"));
    assert_non_null(strstr(st_last_error(), "step-00000100.h5"));
    assert_int_equal(write_ckpt(dir, "step-00000200.h5", 200), ST_EIO);
    unsetenv(PUBLISH_FAULT_ENV);
    assert_true(exists(dir, "step-00000100.h5.tmp"));
    assert_true(exists(dir, "step-00000200.h5.tmp"));
    assert_false(exists(dir, "step-00000200.h5"));
    assert_int_equal(ckpt_value(dir, "step-00000100.h5"), 100);
    ckpt_list l;
    ST_ASSERT_OK(ckpt_list_dir(dir, &l, W));
    assert_int_equal(l.n, 1); /* temp files are not checkpoints */
    assert_string_equal(l.items[0].name, "step-00000100.h5");
    assert_false(l.items[0].is_stage);
    assert_int_equal(l.items[0].number, 100);
    ckpt_list_free(&l);
    char *good = NULL;
    ST_ASSERT_OK(ckpt_newest_good(dir, &good, W));
    assert_non_null(strstr(good, "step-00000100.h5"));
    free(good);

    /* Disk full while syncing (injected ENOSPC): the temp file is removed. */
    setenv(PUBLISH_FAULT_ENV, "ckpt_enospc", 1);
    assert_int_equal(write_ckpt(dir, "step-00000100.h5", 998), ST_EIO);
    unsetenv(PUBLISH_FAULT_ENV);
    assert_non_null(strstr(st_last_error(), strerror(ENOSPC)));
    assert_non_null(strstr(st_last_error(), "step-00000100.h5"));
    assert_false(exists(dir, "step-00000100.h5.tmp"));
    assert_int_equal(ckpt_value(dir, "step-00000100.h5"), 100);

    /* NAME@N: only the second commit fails; a new setting counts afresh. */
    setenv(PUBLISH_FAULT_ENV, "latest_commit,ckpt_commit@2", 1);
    ST_ASSERT_OK(write_ckpt(dir, "step-00000300.h5", 300));
    assert_int_equal(write_ckpt(dir, "step-00000400.h5", 400), ST_EIO);
    ST_ASSERT_OK(write_ckpt(dir, "step-00000500.h5", 500));
    assert_int_equal(ckpt_latest_write(dir, "step-00000500.h5", W), ST_EIO);
    unsetenv(PUBLISH_FAULT_ENV);
    char *latest = NULL;
    ST_ASSERT_OK(ckpt_latest_read(dir, &latest, W));
    assert_string_equal(latest, "step-00000100.h5");
    free(latest);
    assert_false(exists(dir, "step-00000400.h5"));
    io_tmpdir_remove(dir);
}

/* A real write error: a forked child of rank 0 writes under RLIMIT_FSIZE
 * (writes past the limit fail with EFBIG, as on a full disk).  The child ends
 * with _exit: HDF5 cannot always be shut down cleanly after a failed write. */
static void disk_full_keeps_previous(void **state)
{
    (void)state;
    char dir[512];
    io_tmpdir(dir, sizeof dir);
    ST_ASSERT_OK(write_ckpt(dir, "stage-001.h5", 1));
    ST_ASSERT_OK(ckpt_latest_write(dir, "stage-001.h5", W));
    int ok = 1;
    if (st_test_rank() == 0) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            struct rlimit lim;
            getrlimit(RLIMIT_FSIZE, &lim);
            lim.rlim_cur = 4096; /* the 8 KiB tensor cannot fit */
            signal(SIGXFSZ, SIG_IGN);
            setrlimit(RLIMIT_FSIZE, &lim);
            st_status st = write_ckpt_on(dir, "stage-002.h5", 2, MPI_COMM_SELF);
            int good = st != ST_OK && strstr(st_last_error(), "stage-002.h5") &&
                       strstr(st_last_error(), "File too large");
            if (!good) fprintf(stderr, "disk full: status %d, message '%s'\n", st, st_last_error());
            _exit(good ? 0 : 1);
        }
        int wst = 0;
        ok = pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0;
    }
    ST_ASSERT_ALL(ok);
    assert_false(exists(dir, "stage-002.h5"));
    assert_false(exists(dir, "stage-002.h5.tmp"));
    assert_int_equal(ckpt_value(dir, "stage-001.h5"), 1);
    char *good = NULL;
    ST_ASSERT_OK(ckpt_newest_good(dir, &good, W));
    assert_non_null(strstr(good, "/stage-001.h5"));
    free(good);
    io_tmpdir_remove(dir);
}

/* Run fn with rank 0's stderr captured into buf. */
static st_status newest_capturing(const char *dir, char **good, char *buf, size_t cap)
{
    char logp[600];
    snprintf(logp, sizeof logp, "%s/stderr.txt", dir);
    int saved = -1;
    if (st_test_rank() == 0) {
        fflush(stderr);
        saved = dup(2);
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        close(fd);
    }
    st_status st = ckpt_newest_good(dir, good, W);
    buf[0] = '\0';
    if (st_test_rank() == 0) {
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        FILE *fp = fopen(logp, "r");
        size_t n = fp ? fread(buf, 1, cap - 1, fp) : 0;
        buf[n] = '\0';
        if (fp) fclose(fp);
        unlink(logp);
    }
    return st;
}

static void flip_byte_in_data(const char *path, float value)
{
    if (st_test_rank() != 0) return;
    /* The tensor's values are value + i/NW; find element 1000 and flip it. */
    float needle[4];
    for (int i = 0; i < 4; i++) needle[i] = value + (float)(1000 + i) / NW;
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    unsigned char *b = malloc((size_t)len);
    fseek(fp, 0, SEEK_SET);
    assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
    long at = -1;
    for (long i = 0; i + 16 <= len && at < 0; i++)
        if (memcmp(b + i, needle, 16) == 0) at = i;
    assert_true(at > 0);
    fseek(fp, at + 2, SEEK_SET);
    fputc(b[at + 2] ^ 0x01, fp);
    fclose(fp);
    free(b);
}

static void latest_fallback(void **state)
{
    (void)state;
    char dir[512], p[700], err[4096];
    io_tmpdir(dir, sizeof dir);
    char *good = NULL;
    /* Nothing there yet: a fresh start. */
    ST_ASSERT_OK(ckpt_newest_good(dir, &good, W));
    assert_null(good);
    ST_ASSERT_OK(write_ckpt(dir, "stage-001.h5", 1));
    ST_ASSERT_OK(write_ckpt(dir, "step-00000150.h5", 150));
    ST_ASSERT_OK(write_ckpt(dir, "stage-002.h5", 2));
    ST_ASSERT_OK(write_ckpt(dir, "step-00000250.h5", 250));
    set_age(dir, "stage-001.h5", 40);
    set_age(dir, "step-00000150.h5", 30);
    set_age(dir, "stage-002.h5", 20);
    set_age(dir, "step-00000250.h5", 10);
    /* No LATEST (crash before it was written): the newest complete file. */
    ST_ASSERT_OK(ckpt_newest_good(dir, &good, W));
    assert_non_null(strstr(good, "/step-00000250.h5"));
    free(good);
    ST_ASSERT_OK(ckpt_latest_write(dir, "step-00000250.h5", W));
    ST_ASSERT_OK(ckpt_newest_good(dir, &good, W));
    snprintf(p, sizeof p, "%s/step-00000250.h5", dir);
    assert_string_equal(good, p);
    free(good);

    /* LATEST's file corrupt: warn, fall back to the previous complete one. */
    flip_byte_in_data(p, 250.0f);
    MPI_Barrier(W);
    assert_int_equal(ckpt_verify(p, W), ST_ECKPT);
    assert_non_null(strstr(st_last_error(), p));
    assert_non_null(strstr(st_last_error(), "model/w"));
    ST_ASSERT_OK(newest_capturing(dir, &good, err, sizeof err));
    assert_non_null(strstr(good, "/stage-002.h5"));
    free(good);
    if (st_test_rank() == 0) {
        assert_non_null(strstr(err, "warning"));
        assert_non_null(strstr(err, "step-00000250.h5"));
        assert_non_null(strstr(err, "falling back"));
    }

    /* The previous one truncated too: one further back. */
    snprintf(p, sizeof p, "%s/stage-002.h5", dir);
    if (st_test_rank() == 0) assert_int_equal(truncate(p, 1000), 0);
    MPI_Barrier(W);
    assert_int_equal(ckpt_verify(p, W), ST_ECKPT);
    assert_non_null(strstr(st_last_error(), p));
    ST_ASSERT_OK(newest_capturing(dir, &good, err, sizeof err));
    assert_non_null(strstr(good, "/step-00000150.h5"));
    free(good);
    if (st_test_rank() == 0) assert_non_null(strstr(err, "stage-002.h5"));

    /* LATEST names a file that is gone. */
    snprintf(p, sizeof p, "%s/step-00000250.h5", dir);
    if (st_test_rank() == 0) unlink(p);
    MPI_Barrier(W);
    ST_ASSERT_OK(newest_capturing(dir, &good, err, sizeof err));
    assert_non_null(strstr(good, "/step-00000150.h5"));
    free(good);
    if (st_test_rank() == 0) assert_non_null(strstr(err, "missing"));

    /* A garbled LATEST is reported by ckpt_latest_read, ignored by newest_good. */
    snprintf(p, sizeof p, "%s/LATEST", dir);
    ST_ASSERT_OK(publish_write_text(p, "../../etc/passwd\n", W));
    char *name = NULL;
    assert_int_equal(ckpt_latest_read(dir, &name, W), ST_ECKPT);
    assert_non_null(strstr(st_last_error(), "LATEST"));
    assert_null(name);
    ST_ASSERT_OK(newest_capturing(dir, &good, err, sizeof err));
    assert_non_null(strstr(good, "/step-00000150.h5"));
    free(good);

    /* Every file bad: a checkpoint error naming the directory. */
    snprintf(p, sizeof p, "%s/step-00000150.h5", dir);
    flip_byte_in_data(p, 150.0f);
    snprintf(p, sizeof p, "%s/stage-001.h5", dir);
    flip_byte_in_data(p, 1.0f);
    MPI_Barrier(W);
    assert_int_equal(newest_capturing(dir, &good, err, sizeof err), ST_ECKPT);
    assert_null(good);
    assert_non_null(strstr(st_last_error(), dir));
    io_tmpdir_remove(dir);
}

static void prune_keeps_last_k(void **state)
{
    (void)state;
    char dir[512], name[CKPT_NAME_MAX];
    io_tmpdir(dir, sizeof dir);
    ckpt_name_stage(name, 1);
    assert_string_equal(name, "stage-001.h5");
    ST_ASSERT_OK(write_ckpt(dir, name, 1));
    for (int s = 1; s <= 6; s++) {
        ckpt_name_step(name, s * 100);
        ST_ASSERT_OK(write_ckpt(dir, name, s * 100));
    }
    assert_string_equal(name, "step-00000600.h5");
    /* LATEST protects its file even when it is old. */
    ST_ASSERT_OK(ckpt_latest_write(dir, "step-00000200.h5", W));
    assert_int_equal(ckpt_latest_write(dir, "not-a-checkpoint", W), ST_ERR);
    size_t removed = 0;
    ST_ASSERT_OK(ckpt_prune(dir, 2, &removed, W));
    assert_int_equal(removed, 3);
    assert_true(exists(dir, "stage-001.h5"));
    assert_true(exists(dir, "step-00000200.h5"));
    assert_true(exists(dir, "step-00000500.h5"));
    assert_true(exists(dir, "step-00000600.h5"));
    assert_false(exists(dir, "step-00000100.h5"));
    assert_false(exists(dir, "step-00000300.h5"));
    assert_false(exists(dir, "step-00000400.h5"));
    ST_ASSERT_OK(ckpt_prune(dir, 2, &removed, W));
    assert_int_equal(removed, 0);
    ckpt_list l;
    ST_ASSERT_OK(ckpt_list_dir(dir, &l, W));
    assert_int_equal(l.n, 4);
    int stages = 0;
    for (size_t i = 0; i < l.n; i++) stages += l.items[i].is_stage;
    assert_int_equal(stages, 1);
    ckpt_list_free(&l);
    io_tmpdir_remove(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(dir_make_and_commit),
    cmocka_unit_test(injected_faults_keep_previous),
    cmocka_unit_test(disk_full_keeps_previous),
    cmocka_unit_test(latest_fallback),
    cmocka_unit_test(prune_keeps_last_k),
};

ST_TEST_MAIN(tests)
