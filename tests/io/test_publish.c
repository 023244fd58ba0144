/* test_publish.c -- atomic publication of files: commit, abort, errors,
 * injected faults; on 1 and 3 ranks. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io_test.h"
#include "strata/h5.h"
#include "strata/publish.h"

#define W MPI_COMM_WORLD

static bool exists(const char *dir, const char *name)
{
    char p[700];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

/* The first line of dir/name ("" when unreadable). */
static void first_line(const char *dir, const char *name, char *buf, size_t cap)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    buf[0] = '\0';
    FILE *fp = fopen(p, "r");
    if (!fp) return;
    if (!fgets(buf, (int)cap, fp)) buf[0] = '\0';
    fclose(fp);
}

/* Publish dir/name holding `text`, through begin/commit with a collective
 * HDF5 file in between when `h5` (every rank writes), else rank 0 alone. */
static st_status publish_on(const char *dir, const char *name, const char *text, bool h5)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!h5) return publish_write_text(path, text, W);
    publish_file p;
    st_status st = publish_begin(&p, path, W);
    if (st != ST_OK) return st;
    h5_file f;
    st = h5_create(&f, p.tmp, W, H5_KIND_CHECKPOINT);
    if (st == ST_OK) st = h5_attr_set_str(&f, "/", "text", text);
    st_status cst = h5_close(&f);
    if (st == ST_OK) st = cst;
    if (st != ST_OK) {
        publish_abort(&p, W);
        return st;
    }
    return publish_commit(&p, W);
}

static void commit_replaces_and_leaves_no_temp(void **state)
{
    (void)state;
    char dir[512], line[64];
    io_tmpdir(dir, sizeof dir);
    ST_ASSERT_OK(publish_on(dir, "note.txt", "one\n", false));
    first_line(dir, "note.txt", line, sizeof line);
    ST_ASSERT_ALL(strcmp(line, "one\n") == 0);
    ST_ASSERT_OK(publish_on(dir, "note.txt", "two\n", false));
    first_line(dir, "note.txt", line, sizeof line);
    ST_ASSERT_ALL(strcmp(line, "two\n") == 0);
    ST_ASSERT_ALL(!exists(dir, "note.txt.tmp"));
    /* bytes with a NUL inside arrive whole */
    char path[700];
    snprintf(path, sizeof path, "%s/bytes.bin", dir);
    ST_ASSERT_OK(publish_write(path, "a\0b", 3, W));
    struct stat sb;
    ST_ASSERT_ALL(stat(path, &sb) == 0 && sb.st_size == 3);
    /* an HDF5 file written by every rank */
    ST_ASSERT_OK(publish_on(dir, "x.h5", "hello", true));
    ST_ASSERT_ALL(exists(dir, "x.h5") && !exists(dir, "x.h5.tmp"));
    io_tmpdir_remove(dir);
}

static void abort_removes_temp_and_keeps_previous(void **state)
{
    (void)state;
    char dir[512], path[700], line[64];
    io_tmpdir(dir, sizeof dir);
    ST_ASSERT_OK(publish_on(dir, "keep.txt", "old\n", false));
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    publish_file p;
    ST_ASSERT_OK(publish_begin(&p, path, W));
    ST_ASSERT_ALL(p.tmp && strstr(p.tmp, "keep.txt.tmp"));
    ST_ASSERT_ALL(exists(dir, "keep.txt.tmp")); /* begin created it: the directory is writable */
    publish_abort(&p, W);
    ST_ASSERT_ALL(p.tmp == NULL && p.path == NULL);
    publish_abort(&p, W); /* twice is harmless */
    ST_ASSERT_ALL(!exists(dir, "keep.txt.tmp"));
    first_line(dir, "keep.txt", line, sizeof line);
    ST_ASSERT_ALL(strcmp(line, "old\n") == 0);
    io_tmpdir_remove(dir);
}

static void errors_name_the_path(void **state)
{
    (void)state;
    char dir[512], p[700];
    io_tmpdir(dir, sizeof dir);
    publish_file a;
    snprintf(p, sizeof p, "%s/no/such/dir/x.h5", dir);
    assert_int_equal(publish_begin(&a, p, W), ST_EIO);
    assert_non_null(strstr(st_last_error(), "/no/such/dir"));
    assert_non_null(strstr(st_last_error(), "No such file"));
    assert_null(a.tmp);
    publish_abort(&a, W); /* harmless after a failed begin */
    assert_int_equal(publish_write_text(p, "x", W), ST_EIO);
    if (geteuid() != 0) { /* root writes anywhere */
        snprintf(p, sizeof p, "%s/ro", dir);
        if (st_test_rank() == 0) mkdir(p, 0500);
        MPI_Barrier(W);
        snprintf(p, sizeof p, "%s/ro/x.h5", dir);
        assert_int_equal(publish_begin(&a, p, W), ST_EIO);
        assert_non_null(strstr(st_last_error(), "/ro"));
    }
    /* The rename fails (a directory is in the way): temp removed, the
     * directory untouched, the message names both names. */
    snprintf(p, sizeof p, "%s/adir", dir);
    if (st_test_rank() == 0) {
        mkdir(p, 0755);
        char q[800];
        snprintf(q, sizeof q, "%s/inside", p);
        fclose(fopen(q, "w"));
    }
    MPI_Barrier(W);
    assert_int_equal(publish_write_text(p, "x\n", W), ST_EIO);
    assert_non_null(strstr(st_last_error(), "cannot rename"));
    assert_non_null(strstr(st_last_error(), "adir.tmp"));
    ST_ASSERT_ALL(!exists(dir, "adir.tmp"));
    ST_ASSERT_ALL(exists(dir, "adir/inside"));
    io_tmpdir_remove(dir);
}

static void injected_faults(void **state)
{
    (void)state;
    char dir[512], line[64];
    io_tmpdir(dir, sizeof dir);
    ST_ASSERT_OK(publish_on(dir, "a.h5", "old", true));
    ST_ASSERT_OK(publish_on(dir, "LATEST", "a.h5\n", false));

    /* A crash after the data was written: the temp file stays, nothing is
     * renamed; every rank gets the same status and message. */
    setenv(PUBLISH_FAULT_ENV, "ckpt_commit", 1);
    assert_int_equal(publish_on(dir, "a.h5", "new", true), ST_EIO);
    assert_non_null(strstr(st_last_error(), "injected fault ckpt_commit"));
    assert_non_null(strstr(st_last_error(), "a.h5"));
    /* LATEST has its own fault: ckpt_commit does not touch it */
    ST_ASSERT_OK(publish_on(dir, "LATEST", "b.h5\n", false));
    unsetenv(PUBLISH_FAULT_ENV);
    ST_ASSERT_ALL(exists(dir, "a.h5.tmp"));

    /* A full disk while syncing: the temp file is removed. */
    setenv(PUBLISH_FAULT_ENV, "ckpt_enospc", 1);
    assert_int_equal(publish_on(dir, "a.h5", "new", true), ST_EIO);
    assert_non_null(strstr(st_last_error(), strerror(ENOSPC)));
    unsetenv(PUBLISH_FAULT_ENV);
    ST_ASSERT_ALL(!exists(dir, "a.h5.tmp"));

    /* NAME@N fires on the N-th occurrence only; a new setting counts afresh. */
    setenv(PUBLISH_FAULT_ENV, "latest_commit@2", 1);
    ST_ASSERT_OK(publish_on(dir, "LATEST", "c.h5\n", false));
    assert_int_equal(publish_on(dir, "LATEST", "d.h5\n", false), ST_EIO);
    assert_non_null(strstr(st_last_error(), "injected fault latest_commit"));
    ST_ASSERT_OK(publish_on(dir, "LATEST", "e.h5\n", false));
    unsetenv(PUBLISH_FAULT_ENV);
    first_line(dir, "LATEST", line, sizeof line);
    ST_ASSERT_ALL(strcmp(line, "e.h5\n") == 0);

    /* The previous a.h5 survived both faults. */
    h5_file f;
    char path[700], *text = NULL;
    snprintf(path, sizeof path, "%s/a.h5", dir);
    ST_ASSERT_OK(h5_open(&f, path, W, false));
    ST_ASSERT_OK(h5_attr_get_str(&f, "/", "text", &text));
    ST_ASSERT_ALL(strcmp(text, "old") == 0);
    free(text);
    ST_ASSERT_OK(h5_close(&f));
    io_tmpdir_remove(dir);
}

/* One process alone (MPI_COMM_SELF), as glyph previews are written. */
static void self_comm(void **state)
{
    (void)state;
    char dir[512], name[64], line[64];
    io_tmpdir(dir, sizeof dir);
    snprintf(name, sizeof name, "rank-%d.txt", st_test_rank());
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ST_ASSERT_OK(publish_write_text(path, "mine\n", MPI_COMM_SELF));
    first_line(dir, name, line, sizeof line);
    ST_ASSERT_ALL(strcmp(line, "mine\n") == 0);
    io_tmpdir_remove(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(commit_replaces_and_leaves_no_temp),
    cmocka_unit_test(abort_removes_temp_and_keeps_previous),
    cmocka_unit_test(errors_name_the_path),
    cmocka_unit_test(injected_faults),
    cmocka_unit_test(self_comm),
};

ST_TEST_MAIN(tests)
