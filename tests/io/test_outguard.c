/* test_outguard.c -- out_guard: existing outputs, outputs that are inputs
 * (same path, another path, symbolic and hard links, inside an input
 * directory), outputs that are not regular files. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io_test.h"
#include "strata/outguard.h"

static char dir[512];

static void path_of(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

static void touch(const char *name, const char *text)
{
    char p[700];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    io_tmpdir(dir, sizeof dir);
    touch("in.txt", "input\n");
    touch("out.h5", "old output\n");
    return dir[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    io_tmpdir_remove(dir);
    return 0;
}

/* The status and whether the message contains `want`. */
static void expect(st_status got, st_status want, const char *msg)
{
    if (got != want) print_error("got %s: %s\n", st_status_name(got), st_last_error());
    assert_int_equal(got, want);
    if (msg && !strstr(st_last_error(), msg)) {
        print_error("message '%s' lacks '%s'\n", st_last_error(), msg);
        fail();
    }
}

static void test_missing_output(void **state)
{
    (void)state;
    char out[700], in[700];
    path_of(out, sizeof out, "new.h5");
    path_of(in, sizeof in, "in.txt");
    const char *inputs[] = {in, "-", "/nonexistent/x"};
    expect(out_guard(out, false, inputs, 3), ST_OK, NULL);
    expect(out_guard("", false, inputs, 0), ST_EUSAGE, "no output");
}

static void test_existing_output(void **state)
{
    (void)state;
    char out[700], in[700];
    path_of(out, sizeof out, "out.h5");
    path_of(in, sizeof in, "in.txt");
    const char *inputs[] = {in};
    expect(out_guard(out, false, inputs, 1), ST_EUSAGE, "out.h5' exists; pass --force to replace it");
    expect(out_guard(out, true, inputs, 1), ST_OK, NULL);
}

static void test_output_is_input(void **state)
{
    (void)state;
    char in[700], other[700], sym[700], hard[700];
    path_of(in, sizeof in, "in.txt");
    snprintf(other, sizeof other, "%s/./sub/../in.txt", dir);
    path_of(sym, sizeof sym, "sym.txt");
    path_of(hard, sizeof hard, "hard.txt");
    char sub[700];
    path_of(sub, sizeof sub, "sub");
    mkdir(sub, 0755);
    assert_int_equal(symlink(in, sym), 0);
    assert_int_equal(link(in, hard), 0);
    const char *inputs[] = {"/nonexistent", in};
    /* the same path, another path, a symlink and a hard link: refused even with --force */
    expect(out_guard(in, true, inputs, 2), ST_EUSAGE, "is the input");
    expect(out_guard(in, false, inputs, 2), ST_EUSAGE, "destroy the input");
    expect(out_guard(other, true, inputs, 2), ST_EUSAGE, "another name or link");
    expect(out_guard(sym, true, inputs, 2), ST_EUSAGE, "sym.txt' is the input");
    expect(out_guard(hard, true, inputs, 2), ST_EUSAGE, "hard.txt' is the input");
    /* and the other way round: the input named through the link */
    const char *via_link[] = {sym};
    expect(out_guard(in, true, via_link, 1), ST_EUSAGE, "is the input");
    unlink(sym);
    unlink(hard);
}

static void test_inside_input_dir(void **state)
{
    (void)state;
    char sub[700], out[700], fresh[700];
    path_of(sub, sizeof sub, "corpus");
    mkdir(sub, 0755);
    touch("corpus/data.h5", "dataset\n");
    path_of(out, sizeof out, "corpus/data.h5");
    path_of(fresh, sizeof fresh, "corpus/fresh.h5");
    const char *inputs[] = {sub};
    expect(out_guard(out, true, inputs, 1), ST_EUSAGE, "inside the input directory");
    /* not there yet: nothing is read or lost */
    expect(out_guard(fresh, false, inputs, 1), ST_OK, NULL);
    /* a directory that is not an ancestor */
    char elsewhere[700];
    path_of(elsewhere, sizeof elsewhere, "sub");
    mkdir(elsewhere, 0755);
    const char *other[] = {elsewhere};
    expect(out_guard(out, true, other, 1), ST_OK, NULL);
}

static void test_not_regular(void **state)
{
    (void)state;
    char d[700], fifo[700], dangling[700];
    path_of(d, sizeof d, "adir");
    path_of(fifo, sizeof fifo, "fifo");
    path_of(dangling, sizeof dangling, "dangling");
    mkdir(d, 0755);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(symlink("/nonexistent/target", dangling), 0);
    expect(out_guard(d, true, NULL, 0), ST_EUSAGE, "is a directory");
    expect(out_guard(fifo, true, NULL, 0), ST_EUSAGE, "is a FIFO");
    expect(out_guard(dangling, false, NULL, 0), ST_EUSAGE, "pass --force");
    expect(out_guard(dangling, true, NULL, 0), ST_OK, NULL);
    unlink(fifo);
    unlink(dangling);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_missing_output, setup, teardown),
    cmocka_unit_test_setup_teardown(test_existing_output, setup, teardown),
    cmocka_unit_test_setup_teardown(test_output_is_input, setup, teardown),
    cmocka_unit_test_setup_teardown(test_inside_input_dir, setup, teardown),
    cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
};

ST_TEST_MAIN(tests)
