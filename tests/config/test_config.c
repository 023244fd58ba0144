/* test_config.c -- the settings table: defaults, INI, --set, errors, dump, diff. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "strata/config.h"

static void every_default_is_valid(void **state)
{
    (void)state;
    st_config c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < cfg_nkeys; i++)
        ST_ASSERT_OK(cfg_set_value(&c, cfg_keys[i].section, cfg_keys[i].name, cfg_keys[i].def, "test"));
    cfg_defaults(&c);
    ST_ASSERT_OK(cfg_validate(&c));
    assert_int_equal(c.model.n_layers, 4);
    assert_string_equal(c.grow.schedule, "progressive");
    assert_true(c.train.lr == 3e-3);
}

static void keys_are_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < cfg_nkeys; i++)
        for (size_t j = i + 1; j < cfg_nkeys; j++)
            assert_false(strcmp(cfg_keys[i].section, cfg_keys[j].section) == 0 &&
                         strcmp(cfg_keys[i].name, cfg_keys[j].name) == 0);
}

static void ini_then_set_override(void **state)
{
    (void)state;
    st_config c;
    cfg_defaults(&c);
    ST_ASSERT_OK(cfg_load_string(&c, "[model]\nn_layers = 7\n; comment\n[grow]\nreinit_head = yes\n", "s.ini"));
    ST_ASSERT_OK(cfg_set_assignment(&c, "model.n_layers=9"));
    ST_ASSERT_OK(cfg_set_assignment(&c, "run.name=my run"));
    assert_int_equal(c.model.n_layers, 9);
    assert_true(c.grow.reinit_head);
    assert_string_equal(c.run.name, "my run");
}

static void errors_name_origin_key_value_and_allowed(void **state)
{
    (void)state;
    st_config c;
    cfg_defaults(&c);
    assert_int_equal(cfg_load_string(&c, "[model]\n\nwidth = 3\n", "x.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "x.ini:3: unknown key 'width' in section [model]"));
    assert_non_null(strstr(st_last_error(), "n_heads"));
    assert_int_equal(cfg_load_string(&c, "[modle]\nn_layers = 3\n", "y.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "y.ini:2: unknown section [modle]"));
    assert_int_equal(cfg_load_string(&c, "[train]\nlr = fast\n", "z.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "z.ini:2: train.lr = 'fast' is not a number"));
    assert_int_equal(cfg_set_assignment(&c, "train.lr=11"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "out of range (allowed: number in [0, 10])"));
    assert_int_equal(cfg_set_assignment(&c, "model.n_layers=2.5"), ST_EUSAGE);
    assert_int_equal(cfg_set_assignment(&c, "grow.reinit_head=maybe"), ST_EUSAGE);
    assert_int_equal(cfg_set_assignment(&c, "substrate.kind=video"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "glyph|random|binary|trainable"));
    assert_int_equal(cfg_set_assignment(&c, "nodot=3"), ST_EUSAGE);
    assert_int_equal(cfg_load_string(&c, "n_layers = 3\n", "w.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "outside any [section]"));
    assert_int_equal(cfg_load_file(&c, "/nonexistent/strata.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "/nonexistent/strata.ini"));
}

static void cross_key_validation(void **state)
{
    (void)state;
    st_config c;
    cfg_defaults(&c);
    ST_ASSERT_OK(cfg_set_assignment(&c, "model.n_heads=3"));
    assert_int_equal(cfg_validate(&c), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "not divisible by model.n_heads"));
}

static void dump_round_trips_and_diff_lists_keys(void **state)
{
    (void)state;
    st_config a, b;
    cfg_defaults(&a);
    ST_ASSERT_OK(cfg_set_assignment(&a, "train.lr=0.00123456789"));
    ST_ASSERT_OK(cfg_set_assignment(&a, "data.corpus=a.txt,b.txt"));
    char *text = cfg_dump(&a);
    assert_non_null(text);
    cfg_defaults(&b);
    ST_ASSERT_OK(cfg_load_string(&b, text, "dump"));
    free(text);
    char buf[256];
    assert_int_equal(cfg_diff(&a, &b, false, buf, sizeof buf), 0);
    assert_true(memcmp(&a.train, &b.train, sizeof a.train) == 0);

    ST_ASSERT_OK(cfg_set_assignment(&b, "grow.steps=999"));
    ST_ASSERT_OK(cfg_set_assignment(&b, "model.d_ff=512"));
    assert_int_equal(cfg_diff(&a, &b, false, buf, sizeof buf), 2);
    assert_string_equal(buf, "model.d_ff, grow.steps");
    /* grow.steps may change on resume; model.d_ff may not. */
    assert_int_equal(cfg_diff(&a, &b, true, buf, sizeof buf), 1);
    assert_string_equal(buf, "model.d_ff");
}

/* status and message of one --set, for the number tests below */
static void expect_set_fails(st_config *c, const char *assignment, const char *msg)
{
    assert_int_equal(cfg_set_assignment(c, assignment), ST_EUSAGE);
    if (!strstr(st_last_error(), msg)) print_error("'%s' -> '%s'\n", assignment, st_last_error());
    assert_non_null(strstr(st_last_error(), msg));
}

static void integers_are_decimal_only(void **state)
{
    (void)state;
    st_config c;
    cfg_defaults(&c);
    /* leading zeros are decimal (strtoll base 0 made these 52 and 8) */
    ST_ASSERT_OK(cfg_set_assignment(&c, "data.ctx=0064"));
    assert_int_equal(c.data.ctx, 64);
    ST_ASSERT_OK(cfg_set_assignment(&c, "data.ctx=010"));
    assert_int_equal(c.data.ctx, 10);
    ST_ASSERT_OK(cfg_set_assignment(&c, "data.ctx=+32"));
    assert_int_equal(c.data.ctx, 32);
    ST_ASSERT_OK(cfg_set_assignment(&c, "grow.lora_from_depth=-0"));
    ST_ASSERT_OK(cfg_load_string(&c, "[data]\nctx = 0064\n", "lead.ini"));
    assert_int_equal(c.data.ctx, 64);

    expect_set_fails(&c, "data.ctx=0x40", "data.ctx = '0x40' is not an integer: hexadecimal is not accepted");
    expect_set_fails(&c, "data.ctx=0X40", "hexadecimal is not accepted");
    expect_set_fails(&c, "data.ctx=-0x4", "hexadecimal is not accepted");
    expect_set_fails(&c, "data.ctx=64k", "'64k' is not an integer: only decimal digits are accepted");
    expect_set_fails(&c, "data.ctx=64 ", "it contains spaces");
    expect_set_fails(&c, "data.ctx= 64", "it contains spaces");
    expect_set_fails(&c, "data.ctx=", "it is empty");
    expect_set_fails(&c, "data.ctx=+", "only decimal digits");
    expect_set_fails(&c, "data.ctx=1e3", "only decimal digits");
    expect_set_fails(&c, "data.ctx=64.0", "only decimal digits");
    expect_set_fails(&c, "data.ctx=inf", "infinity and NaN are not accepted");
    expect_set_fails(&c, "data.ctx=--4", "not an integer");
    expect_set_fails(&c, "data.ctx=99999999999999999999999",
                     "data.ctx = 99999999999999999999999 is out of range (allowed: integer in [4, 65536])");
    expect_set_fails(&c, "data.ctx=-99999999999999999999999", "is out of range");
    expect_set_fails(&c, "run.seed=9007199254740993", "is out of range");
    expect_set_fails(&c, "data.ctx=65537", "is out of range (allowed: integer in [4, 65536])");
    /* every message says what is allowed */
    expect_set_fails(&c, "data.ctx=0x40", "allowed: decimal integer in [4, 65536]");
    /* a file names file:line */
    assert_int_equal(cfg_load_string(&c, "[data]\n\nctx = 0x40\n", "hex.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "hex.ini:3: data.ctx = '0x40' is not an integer"));
    assert_int_equal(c.data.ctx, 64); /* a refused value leaves the setting alone */
}

static void floats_are_decimal_only(void **state)
{
    (void)state;
    st_config c;
    cfg_defaults(&c);
    const char *good[] = {"0.5", "5e-1", "+.5", "00.50", "0.5000", "5E-1", "50e-2", "-0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char a[64];
        snprintf(a, sizeof a, "data.val_fraction=%s", good[i]);
        ST_ASSERT_OK(cfg_set_assignment(&c, a));
        if (i < 7) assert_true(c.data.val_fraction == 0.5);
    }
    ST_ASSERT_OK(cfg_set_assignment(&c, "train.grad_clip=5."));
    assert_true(c.train.grad_clip == 5.0);
    expect_set_fails(&c, "train.lr=0x1p-3", "train.lr = '0x1p-3' is not a number: hexadecimal is not accepted");
    expect_set_fails(&c, "train.lr=inf", "infinity and NaN are not accepted");
    expect_set_fails(&c, "train.lr=-Infinity", "infinity and NaN are not accepted");
    expect_set_fails(&c, "train.lr=nan", "infinity and NaN are not accepted");
    expect_set_fails(&c, "train.lr=NAN(123)", "infinity and NaN are not accepted");
    expect_set_fails(&c, "train.lr=1e-3x", "only decimal notation is accepted");
    expect_set_fails(&c, "train.lr=1e", "only decimal notation");
    expect_set_fails(&c, "train.lr=.", "only decimal notation");
    expect_set_fails(&c, "train.lr=1,5", "only decimal notation");
    expect_set_fails(&c, "train.lr=1e-3 ", "it contains spaces");
    expect_set_fails(&c, "train.lr=", "it is empty");
    expect_set_fails(&c, "train.lr=1e999", "train.lr = 1e999 is out of range (allowed: number in [0, 10])");
    expect_set_fails(&c, "train.lr=1e-999", "is out of range");
    expect_set_fails(&c, "train.lr=-1e-3", "is out of range");
    expect_set_fails(&c, "train.lr=inf", "allowed: decimal number in [0, 10]");
    assert_int_equal(cfg_load_string(&c, "[train]\nlr = nan\n", "nan.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "nan.ini:2: train.lr = 'nan' is not a number"));
    assert_true(c.train.lr == 3e-3);
}

/* Settings a dump writes must read back; lines of any length up to the
 * string limit (libinih's 200-byte buffer split longer ones). */
static void long_lines_and_strings_round_trip(void **state)
{
    (void)state;
    st_config a, b;
    cfg_defaults(&a);
    char big[CFG_STR_MAX + 16], set[CFG_STR_MAX + 64];
    memset(big, 'x', CFG_STR_MAX - 1);
    big[CFG_STR_MAX - 1] = '\0';
    memcpy(big + 300, "[model]", 7);
    snprintf(set, sizeof set, "data.corpus=%s", big);
    ST_ASSERT_OK(cfg_set_assignment(&a, set));
    char *text = cfg_dump(&a);
    assert_non_null(text);
    cfg_defaults(&b);
    ST_ASSERT_OK(cfg_load_string(&b, text, "dump"));
    free(text);
    assert_string_equal(a.data.corpus, b.data.corpus);
    assert_int_equal(b.model.n_layers, 4);
    /* strings a dump could not hold back are refused */
    expect_set_fails(&a, "run.name= lead", "starts or ends with a blank");
    expect_set_fails(&a, "run.name=a ;b", "' ;' starts a comment");
    /* found by fuzz_config: "name =; x" read as "; x", dumped as "name = ; x" */
    assert_int_equal(cfg_load_string(&a, "[run]\nname =; x\n", "semi.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "semi.ini:2: run.name = '; x' cannot be stored in an INI file"));
    expect_set_fails(&a, "run.name=a\rb", "control character");
    /* an indented line is a line of its own, not a continuation */
    ST_ASSERT_OK(cfg_load_string(&b, "[model]\nn_layers = 5\n    n_heads = 8 ; eight\n", "ind.ini"));
    assert_int_equal(b.model.n_layers, 5);
    assert_int_equal(b.model.n_heads, 8);
    ST_ASSERT_OK(cfg_load_string(&b, "\xEF\xBB\xBF[model]\r\nn_layers: 6\r\n", "bom.ini"));
    assert_int_equal(b.model.n_layers, 6);
    assert_int_equal(cfg_load_string(&b, "[model\nn_layers = 5\n", "br.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "br.ini:1: syntax error"));
    assert_int_equal(cfg_load_string(&b, "[model]\njust words\n", "w.ini"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "w.ini:2: syntax error"));
}

/* --config must be a regular file: a directory, a FIFO or a device is
 * refused by name (and a FIFO without a writer must not block). */
static void config_file_must_be_regular(void **state)
{
    (void)state;
    st_config c;
    cfg_defaults(&c);
    assert_int_equal(cfg_load_file(&c, "/tmp"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "config file '/tmp' is a directory"));
    assert_int_equal(cfg_load_file(&c, "/dev/null"), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "'/dev/null' is not a regular file but a device"));
    char dir[] = "/tmp/strata-cfg-XXXXXX", fifo[64], file[64];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo.ini", dir);
    snprintf(file, sizeof file, "%s/nul.ini", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(cfg_load_file(&c, fifo), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "is not a regular file but a FIFO"));
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    fwrite("[model]\nn_layers = 5\0\n", 1, 23, f);
    fclose(f);
    assert_int_equal(cfg_load_file(&c, file), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "nul.ini:2: NUL byte"));
    f = fopen(file, "wb");
    fputs("[model]\nn_layers = 0064\n", f);
    fclose(f);
    ST_ASSERT_OK(cfg_load_file(&c, file));
    assert_int_equal(c.model.n_layers, 64);
    unlink(fifo);
    unlink(file);
    rmdir(dir);
}

static const struct CMUnitTest config_tests[] = {
    cmocka_unit_test(every_default_is_valid),
    cmocka_unit_test(keys_are_unique),
    cmocka_unit_test(ini_then_set_override),
    cmocka_unit_test(errors_name_origin_key_value_and_allowed),
    cmocka_unit_test(cross_key_validation),
    cmocka_unit_test(dump_round_trips_and_diff_lists_keys),
    cmocka_unit_test(integers_are_decimal_only),
    cmocka_unit_test(floats_are_decimal_only),
    cmocka_unit_test(long_lines_and_strings_round_trip),
    cmocka_unit_test(config_file_must_be_regular),
};

ST_TEST_MAIN(config_tests)
