/* test_metrics.c -- metric tables: definitions, write/read round trip on 1
 * and 3 ranks, resume, text output. */
#define _GNU_SOURCE /* open_memstream */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "io_test.h"
#include "strata/metrics.h"

#define W MPI_COMM_WORLD

static void standard_columns(void **state)
{
    (void)state;
    met_table s, d;
    ST_ASSERT_OK(met_init_steps(&s));
    ST_ASSERT_OK(met_init_depth(&d));
    assert_int_equal(s.ncols, MS_NCOLS);
    assert_int_equal(d.ncols, MD_NCOLS);
    assert_string_equal(s.group, "metrics/steps");
    assert_string_equal(d.group, "metrics/depth");
    /* The enums index the table (designated initialisers keep them in step). */
    assert_string_equal(s.cols[MS_STEP].name, "step");
    assert_string_equal(s.cols[MS_TRAIN_LOSS].name, "train_loss");
    assert_string_equal(s.cols[MS_WALL_S].name, "wall_s");
    assert_string_equal(d.cols[MD_DEPTH].name, "depth");
    assert_string_equal(d.cols[MD_VAL_BPC].name, "val_bits_per_char");
    assert_string_equal(d.cols[MD_FLOPS].name, "flops");
    assert_int_equal(met_col(&d, "val_top1"), MD_VAL_TOP1);
    assert_int_equal(met_col(&d, "nope"), -1);
    const char *need[] = {"depth", "steps", "tokens", "wall_s", "train_loss", "val_loss",
                          "val_bits_per_char", "val_top1", "tokens_per_s", "mfu", "flops"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) assert_true(met_col(&d, need[i]) >= 0);
    for (size_t i = 0; i < s.ncols; i++) {
        assert_non_null(s.cols[i].name);
        assert_true(strlen(s.cols[i].units) > 0 && strlen(s.cols[i].long_name) > 10);
    }
    for (size_t i = 0; i < d.ncols; i++)
        assert_true(strlen(d.cols[i].units) > 0 && strlen(d.cols[i].long_name) > 10);
    assert_string_equal(d.cols[MD_VAL_LOSS].units, "nats/token");
    assert_int_equal(d.cols[MD_DEPTH].dtype, H5_DT_I64);
    /* Errors name the table and column. */
    assert_int_equal(met_add_column(&d, "val_loss", H5_DT_F64, "1", "again"), ST_ERR);
    assert_non_null(strstr(st_last_error(), "val_loss"));
    assert_int_equal(met_set(&d, 0, "val_loss", 1.0), ST_ERR); /* no rows yet */
    met_free(&s);
    met_free(&d);
}

/* Fill a depth table: rows d = 1..n with recognisable values, some missing. */
static void fill_depth(met_table *t, int from, int to)
{
    for (int dpt = from; dpt <= to; dpt++) {
        double *r;
        ST_ASSERT_OK(met_append(t, &r));
        r[MD_DEPTH] = dpt;
        r[MD_STEPS] = 100 * dpt;
        r[MD_TOKENS] = 1e9 * dpt + 7; /* above 2^31 */
        r[MD_VAL_LOSS] = 3.0 / dpt;
        r[MD_VAL_TOP1] = 0.25 + 0.01 * dpt;
        /* MD_MFU etc. left NaN; train_loss missing on odd depths */
        if (dpt % 2 == 0) r[MD_TRAIN_LOSS] = 2.0 + 1.0 / dpt;
    }
}

static void write_read_round_trip(void **state)
{
    (void)state;
    char dir[512], path[600], path2[600];
    io_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.h5", dir);
    snprintf(path2, sizeof path2, "%s/m2.h5", dir);
    met_table t, s;
    ST_ASSERT_OK(met_init_depth(&t));
    ST_ASSERT_OK(met_init_steps(&s));
    ST_ASSERT_OK(met_add_column(&t, "probe_pos", H5_DT_F64, "1", "part-of-speech probe accuracy"));
    /* Only rank 0 accumulates; other ranks hold different (ignored) rows. */
    if (st_test_rank() == 0) {
        fill_depth(&t, 1, 3);
        ST_ASSERT_OK(met_set(&t, 1, "probe_pos", 0.75));
        for (int i = 0; i < 200; i++) {
            double *r;
            ST_ASSERT_OK(met_append(&s, &r));
            r[MS_STEP] = i;
            r[MS_STAGE] = 1;
            r[MS_TRAIN_LOSS] = 5.0 - i * 0.01;
        }
    } else {
        fill_depth(&t, 7, 7);
    }
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, W, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(met_write(&s, &f));
    ST_ASSERT_OK(met_write(&t, &f));
    assert_int_equal(met_write(&t, &f), ST_EHDF5); /* exists */
    ST_ASSERT_OK(h5_close(&f));

    /* A resumed run: fresh tables read back on every rank; the probe column
     * is unknown to the fresh table and joins it. */
    met_table u, v;
    ST_ASSERT_OK(met_init_depth(&u));
    ST_ASSERT_OK(met_init_steps(&v));
    ST_ASSERT_OK(h5_open_kind(&f, path, W, H5_KIND_CHECKPOINT, ST_ECKPT));
    ST_ASSERT_OK(met_read(&u, &f));
    ST_ASSERT_OK(met_read(&v, &f));
    ST_ASSERT_OK(h5_close(&f));
    assert_int_equal(u.nrows, 3);
    assert_int_equal(u.ncols, MD_NCOLS + 1);
    int probe = met_col(&u, "probe_pos");
    assert_int_equal(probe, MD_NCOLS);
    assert_string_equal(u.cols[probe].long_name, "part-of-speech probe accuracy");
    int good = 1;
    for (int i = 0; i < 3; i++) {
        int dpt = i + 1;
        good &= met_get(&u, i, MD_DEPTH) == dpt;
        good &= met_get(&u, i, MD_TOKENS) == 1e9 * dpt + 7;
        good &= met_get(&u, i, MD_VAL_LOSS) == 3.0 / dpt;
        good &= isnan(met_get(&u, i, MD_MFU));
        good &= isnan(met_get(&u, i, MD_WALL_S));
        good &= dpt % 2 == 0 ? met_get(&u, i, MD_TRAIN_LOSS) == 2.0 + 1.0 / dpt
                             : isnan(met_get(&u, i, MD_TRAIN_LOSS));
        good &= i == 1 ? met_get(&u, i, (size_t)probe) == 0.75 : isnan(met_get(&u, i, (size_t)probe));
    }
    ST_ASSERT_ALL(good);
    assert_int_equal(v.nrows, 200);
    good = met_get(&v, 199, MS_STEP) == 199 && met_get(&v, 199, MS_TRAIN_LOSS) == 5.0 - 1.99 &&
           isnan(met_get(&v, 0, MS_TOKENS)); /* missing integer stays missing */
    ST_ASSERT_ALL(good);

    /* Continue the resumed table and save again: old + new rows. */
    fill_depth(&u, 4, 4);
    ST_ASSERT_OK(h5_create(&f, path2, W, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(met_write(&u, &f));
    ST_ASSERT_OK(h5_close(&f));
    met_table x;
    ST_ASSERT_OK(met_init_depth(&x));
    ST_ASSERT_OK(h5_open(&f, path2, W, false));
    ST_ASSERT_OK(met_read(&x, &f));
    assert_int_equal(met_read(&s, &f), ST_EDATA); /* no steps table in this file */
    assert_non_null(strstr(st_last_error(), "metrics/steps"));
    assert_non_null(strstr(st_last_error(), path2));
    ST_ASSERT_OK(h5_close(&f));
    assert_int_equal(x.nrows, 4);
    assert_true(met_get(&x, 3, MD_DEPTH) == 4 && met_get(&x, 0, MD_DEPTH) == 1);
    assert_true(met_get(&x, 1, (size_t)met_col(&x, "probe_pos")) == 0.75);
    met_free(&x);
    met_free(&u);
    met_free(&v);
    met_free(&t);
    met_free(&s);
    io_tmpdir_remove(dir);
}

static void printed_table_is_aligned(void **state)
{
    (void)state;
    h5_column cols[] = {
        {"depth", H5_DT_I64, "1", "blocks"},
        {"val_loss", H5_DT_F64, "nats/token", "validation loss"},
        {"tokens", H5_DT_I64, "1", "tokens"},
    };
    met_table t;
    ST_ASSERT_OK(met_init(&t, "metrics/depth", 3, cols));
    double *r;
    ST_ASSERT_OK(met_append(&t, &r));
    r[0] = 1;
    r[1] = 3.14159265;
    r[2] = 123456789;
    ST_ASSERT_OK(met_append(&t, &r));
    r[0] = 12;
    ST_ASSERT_OK(met_set(&t, 1, "tokens", 5));
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    met_print(&t, out);
    fclose(out);
    assert_string_equal(buf, "depth  val_loss     tokens\n"
                             "    1     3.142  123456789\n"
                             "   12         -          5\n");
    free(buf);
    met_free(&t);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(standard_columns),
    cmocka_unit_test(write_read_round_trip),
    cmocka_unit_test(printed_table_is_aligned),
};

ST_TEST_MAIN(tests)
