/* test_config.c -- the settings table: defaults, INI, --set, errors, dump, diff. */
#include <string.h>

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

static const struct CMUnitTest config_tests[] = {
    cmocka_unit_test(every_default_is_valid),
    cmocka_unit_test(keys_are_unique),
    cmocka_unit_test(ini_then_set_override),
    cmocka_unit_test(errors_name_origin_key_value_and_allowed),
    cmocka_unit_test(cross_key_validation),
    cmocka_unit_test(dump_round_trips_and_diff_lists_keys),
};

ST_TEST_MAIN(config_tests)
