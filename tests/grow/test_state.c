/* test_state.c -- the run state of a growth checkpoint (src/grow/state.c):
 * every field survives a write and a read exactly, the attributes of
 * /state are exactly the ones docs/FORMAT.md documents (with their types),
 * and a missing, mistyped or out-of-range attribute is refused with
 * ST_ECKPT naming it. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "harness.h"
#include "io/io_test.h"
#include "strata/h5.h"

#include "../../src/grow/run.h"

static char dir[512];

/* docs/FORMAT.md "/state": the attribute names, whether each is float64
 * (else int64), and whether files of older strata may lack it. */
static const struct {
    const char *name;
    bool is_double;
    bool optional;
} documented[] = {
    {"step", false, false},         {"stage", false, false},        {"stage_done", false, false},
    {"adam_t", false, false},       {"cursor", false, false},       {"tokens", false, false},
    {"sched_steps", false, false},  {"sched_tokens", false, false}, {"sched_stale", false, false},
    {"sched_best_val", true, false}, {"rng_seed", false, false},    {"rng_rank", false, false},
    {"rng_purpose", false, false},  {"rng_counter", false, false},  {"lora_active", false, false},
    {"n_blocks", false, false},     {"nranks", false, false},       {"wall_s", true, false},
    {"lr_scale", true, true},       {"rollbacks", false, true},     {"stage_rollbacks", false, true},
    {"skip_cursor", false, true},   {"loss_mean", true, true},      {"loss_n", false, true},
    {"stage_wall_s", true, true},   {"stage_loss_sum", true, true}, {"stage_flops", true, true},
    {"order_slots", false, true},
};
enum { N_DOCUMENTED = sizeof documented / sizeof documented[0] };

/* Every field distinctive: longs near 2^62, uint64 above 2^63, a uint32
 * above 2^31, doubles that are not short decimals, bools true. */
static grow_state distinctive(void)
{
    grow_state s;
    memset(&s, 0xa5, sizeof s); /* padding differs from the read-back copy */
    s.step = (1L << 62) + 12345;
    s.stage = 77;
    s.stage_done = true;
    s.adam_t = (1L << 62) - 3;
    s.cursor = (1L << 62) + (1L << 40) + 7;
    s.tokens = (1L << 62) + 999;
    s.wall_s = 1.0 / 3.0;
    s.sched.steps = 123456789012L;
    s.sched.tokens = (1L << 61) + 5;
    s.sched.best_val = 2.0 / 7.0;
    s.sched.stale_evals = 3;
    s.rng.seed = UINT64_C(0xF00DFACE12345678);
    s.rng.rank = 4000000000u;
    s.rng.purpose = RNG_INIT;
    s.rng.counter = UINT64_C(0x8000000000000001);
    s.lora_active = true;
    s.n_blocks = MODEL_MAX_LAYERS;
    s.nranks = 3;
    s.lr_scale = 0.125;
    s.rollbacks = (1L << 40) + 1;
    s.stage_rollbacks = 17;
    s.skip_cursor = (1L << 62) + 11;
    s.loss_mean = 3.0 / 11.0;
    s.loss_n = 99;
    s.stage_wall_s = 5.0 / 13.0;
    s.stage_loss_sum = 123.0 / 7.0;
    s.stage_flops = 1e15 / 3.0;
    s.order_slots = (1L << 50) + 3;
    return s;
}

/* The other corner: bools false, zeros, smallest legal values, the
 * schedule's starting best_val. */
static grow_state plain(void)
{
    grow_state s;
    memset(&s, 0, sizeof s);
    s.stage = 1;
    s.wall_s = DBL_MIN;
    s.sched.best_val = INFINITY; /* a stage before its first evaluation */
    s.rng.seed = UINT64_MAX;
    s.rng.counter = 0;
    s.rng.purpose = RNG_INIT;
    s.nranks = 1;
    s.lr_scale = 1.0;
    s.skip_cursor = -1;
    s.order_slots = 1;
    return s;
}

static void assert_same_state(const grow_state *a, const grow_state *b)
{
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->stage_done, b->stage_done);
    assert_int_equal(a->adam_t, b->adam_t);
    assert_int_equal(a->cursor, b->cursor);
    assert_int_equal(a->tokens, b->tokens);
    assert_memory_equal(&a->wall_s, &b->wall_s, sizeof a->wall_s); /* bit for bit */
    assert_int_equal(a->sched.steps, b->sched.steps);
    assert_int_equal(a->sched.tokens, b->sched.tokens);
    assert_memory_equal(&a->sched.best_val, &b->sched.best_val, sizeof a->sched.best_val);
    assert_int_equal(a->sched.stale_evals, b->sched.stale_evals);
    assert_true(a->rng.seed == b->rng.seed);
    assert_true(a->rng.rank == b->rng.rank);
    assert_true(a->rng.purpose == b->rng.purpose);
    assert_true(a->rng.counter == b->rng.counter);
    assert_int_equal(a->lora_active, b->lora_active);
    assert_int_equal(a->n_blocks, b->n_blocks);
    assert_int_equal(a->nranks, b->nranks);
    assert_memory_equal(&a->lr_scale, &b->lr_scale, sizeof a->lr_scale);
    assert_int_equal(a->rollbacks, b->rollbacks);
    assert_int_equal(a->stage_rollbacks, b->stage_rollbacks);
    assert_int_equal(a->skip_cursor, b->skip_cursor);
    assert_memory_equal(&a->loss_mean, &b->loss_mean, sizeof a->loss_mean);
    assert_int_equal(a->loss_n, b->loss_n);
    assert_memory_equal(&a->stage_wall_s, &b->stage_wall_s, sizeof a->stage_wall_s);
    assert_memory_equal(&a->stage_loss_sum, &b->stage_loss_sum, sizeof a->stage_loss_sum);
    assert_memory_equal(&a->stage_flops, &b->stage_flops, sizeof a->stage_flops);
    assert_int_equal(a->order_slots, b->order_slots);
}

static void make_dir(void)
{
    if (!dir[0]) io_tmpdir(dir, sizeof dir);
    assert_true(dir[0] != '\0');
}

/* Write s to a new checkpoint-kind file dir/name as /state; f stays open. */
static void write_state(h5_file *f, const char *name, const grow_state *s)
{
    make_dir();
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ST_ASSERT_OK(h5_create(f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(h5_group(f, "state"));
    ST_ASSERT_OK(grow_state_write(f, "state", s));
}

static void round_trip_is_exact(void **state)
{
    (void)state;
    const grow_state cases[] = {distinctive(), plain()};
    for (size_t i = 0; i < 2; i++) {
        h5_file f;
        write_state(&f, "rt.h5", &cases[i]);
        ST_ASSERT_OK(h5_close(&f));
        /* read back from the closed file, not HDF5's cache */
        char path[700];
        snprintf(path, sizeof path, "%s/rt.h5", dir);
        ST_ASSERT_OK(h5_open_kind(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT, ST_ECKPT));
        grow_state back;
        memset(&back, 0x3c, sizeof back);
        ST_ASSERT_OK(grow_state_read(&f, "state", &back));
        assert_same_state(&cases[i], &back);
        ST_ASSERT_OK(h5_close(&f));
    }
    /* a different group name works the same */
    h5_file f;
    grow_state s = distinctive(), back;
    make_dir();
    char path[700];
    snprintf(path, sizeof path, "%s/other.h5", dir);
    ST_ASSERT_OK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT));
    ST_ASSERT_OK(h5_group(&f, "a/b"));
    ST_ASSERT_OK(grow_state_write(&f, "a/b", &s));
    ST_ASSERT_OK(grow_state_read(&f, "a/b", &back));
    assert_same_state(&s, &back);
    ST_ASSERT_OK(h5_close(&f));
}

typedef struct attr_list {
    char names[64][64];
    int is_double[64];
    int is_int64[64];
    int n;
} attr_list;

static herr_t collect(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    attr_list *l = data;
    if (l->n >= 64) return -1;
    snprintf(l->names[l->n], sizeof l->names[l->n], "%s", name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a);
    l->is_double[l->n] = H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 8;
    l->is_int64[l->n] = H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 8 && H5Tget_sign(t) == H5T_SGN_2;
    H5Tclose(t);
    H5Aclose(a);
    l->n++;
    return 0;
}

static void attributes_are_the_documented_ones(void **state)
{
    (void)state;
    h5_file f;
    grow_state s = distinctive();
    write_state(&f, "names.h5", &s);
    attr_list l = {.n = 0};
    hid_t g = H5Gopen2(f.id, "state", H5P_DEFAULT);
    assert_true(g >= 0);
    hsize_t idx = 0;
    assert_true(H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &l) >= 0);
    H5Gclose(g);
    /* as many as documented, each documented one present with its type */
    if (l.n != N_DOCUMENTED)
        for (int i = 0; i < l.n; i++) print_error("attribute %s\n", l.names[i]);
    assert_int_equal(l.n, N_DOCUMENTED);
    for (int i = 0; i < N_DOCUMENTED; i++) {
        int found = -1;
        for (int j = 0; j < l.n; j++)
            if (strcmp(l.names[j], documented[i].name) == 0) found = j;
        if (found < 0) print_error("documented attribute %s is not written\n", documented[i].name);
        assert_true(found >= 0);
        if (documented[i].is_double) assert_true(l.is_double[found]);
        else assert_true(l.is_int64[found]);
        bool has = false;
        ST_ASSERT_OK(h5_attr_exists(&f, "state", documented[i].name, &has));
        assert_true(has);
    }
    /* unsigned fields travel bit for bit in the int64 */
    int64_t v = 0;
    ST_ASSERT_OK(h5_attr_get_i64(&f, "state", "rng_seed", &v));
    assert_true((uint64_t)v == s.rng.seed);
    ST_ASSERT_OK(h5_attr_get_i64(&f, "state", "rng_rank", &v));
    assert_int_equal(v, 4000000000LL);
    ST_ASSERT_OK(h5_attr_get_i64(&f, "state", "stage_done", &v));
    assert_int_equal(v, 1);
    double x = 0;
    ST_ASSERT_OK(h5_attr_get_f64(&f, "state", "wall_s", &x));
    assert_true(x == 1.0 / 3.0);
    ST_ASSERT_OK(h5_close(&f));
}

/* Read /state of the open file f; expect ST_ECKPT with every fragment in the message. */
static void expect_refused(h5_file *f, const char *what, const char *frag1, const char *frag2)
{
    grow_state back;
    st_clear_error();
    st_status st = grow_state_read(f, "state", &back);
    const char *msg = st_last_error();
    int ok = st == ST_ECKPT && strstr(msg, f->path) && (!frag1 || strstr(msg, frag1)) &&
             (!frag2 || strstr(msg, frag2));
    if (!ok) print_error("%s: %s: %s\n", what, st_status_name(st), msg);
    assert_true(ok);
}

static void a_missing_attribute_is_named(void **state)
{
    (void)state;
    for (int i = 0; i < N_DOCUMENTED; i++) {
        h5_file f;
        grow_state s = distinctive();
        write_state(&f, "missing.h5", &s);
        assert_true(H5Adelete_by_name(f.id, "state", documented[i].name, H5P_DEFAULT) >= 0);
        if (documented[i].optional) {
            /* an older file: the field takes its neutral value */
            grow_state back;
            ST_ASSERT_OK(grow_state_read(&f, "state", &back));
            if (strcmp(documented[i].name, "lr_scale") == 0) assert_true(back.lr_scale == 1.0);
            if (strcmp(documented[i].name, "skip_cursor") == 0) assert_int_equal(back.skip_cursor, -1);
            if (strcmp(documented[i].name, "rollbacks") == 0) assert_int_equal(back.rollbacks, 0);
            /* FLOPs not kept by an older file: "not measured", not 0 */
            if (strcmp(documented[i].name, "stage_flops") == 0) assert_true(isnan(back.stage_flops));
            /* an order from before shards: one batch slot (order.h) */
            if (strcmp(documented[i].name, "order_slots") == 0) assert_int_equal(back.order_slots, 1);
            assert_int_equal(back.step, s.step);
            ST_ASSERT_OK(h5_close(&f));
            continue;
        }
        char quoted[80];
        snprintf(quoted, sizeof quoted, "'%s'", documented[i].name);
        expect_refused(&f, documented[i].name, quoted, NULL);
        ST_ASSERT_OK(h5_close(&f));
    }
    /* no /state group at all */
    h5_file f;
    make_dir();
    char path[700];
    snprintf(path, sizeof path, "%s/nogroup.h5", dir);
    ST_ASSERT_OK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_CHECKPOINT));
    expect_refused(&f, "no group", "state", NULL);
    ST_ASSERT_OK(h5_close(&f));
}

static void mistyped_attributes_are_refused(void **state)
{
    (void)state;
    static const char *ints[] = {"step", "stage", "rng_seed", "lora_active"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        h5_file f;
        grow_state s = distinctive();
        write_state(&f, "typed.h5", &s);
        ST_ASSERT_OK(h5_attr_set_f64(&f, "state", ints[i], 1.5)); /* a float where an integer belongs */
        expect_refused(&f, ints[i], ints[i], NULL);
        ST_ASSERT_OK(h5_close(&f));
    }
    h5_file f;
    grow_state s = distinctive();
    write_state(&f, "typed.h5", &s);
    ST_ASSERT_OK(h5_attr_set_str(&f, "state", "wall_s", "12.5"));
    expect_refused(&f, "wall_s string", "wall_s", NULL);
    ST_ASSERT_OK(h5_close(&f));
}

static void out_of_range_values_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t value;
        bool named; /* the message names the attribute (range of its type) */
    } bad[] = {
        {"stage_done", 2, true},
        {"stage_done", -1, true},
        {"lora_active", 7, true},
        {"rng_rank", -1, true},
        {"rng_rank", 4294967296LL, true},
        {"rng_purpose", -5, true},
        {"stage", 2147483648LL, true},
        {"n_blocks", -2147483649LL, true},
        {"nranks", 1LL << 40, true},
        {"stage", 0, false},
        {"stage", -4, false},
        {"n_blocks", MODEL_MAX_LAYERS + 1, false},
        {"n_blocks", -1, false},
        {"step", -1, false},
        {"cursor", -1, false},
        {"adam_t", -1, false},
        {"tokens", -1, false},
        {"skip_cursor", -2, false},
        {"rollbacks", -1, false},
        {"stage_rollbacks", -1, false},
        {"loss_n", -1, false},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h5_file f;
        grow_state s = distinctive();
        write_state(&f, "range.h5", &s);
        ST_ASSERT_OK(h5_attr_set_i64(&f, "state", bad[i].name, bad[i].value));
        char what[80];
        snprintf(what, sizeof what, "%s = %lld", bad[i].name, (long long)bad[i].value);
        expect_refused(&f, what, bad[i].named ? what : "inconsistent", NULL);
        ST_ASSERT_OK(h5_close(&f));
    }
    /* the limits themselves are accepted */
    h5_file f;
    grow_state s = distinctive(), back;
    s.n_blocks = MODEL_MAX_LAYERS;
    s.stage = 1;
    s.rng.rank = UINT32_MAX;
    write_state(&f, "limits.h5", &s);
    ST_ASSERT_OK(grow_state_read(&f, "state", &back));
    assert_same_state(&s, &back);
    ST_ASSERT_OK(h5_close(&f));
    /* a learning-rate scale outside (0, 1] */
    static const double scales[] = {0.0, -0.5, 1.5, NAN};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
        grow_state t = distinctive();
        write_state(&f, "scale.h5", &t);
        ST_ASSERT_OK(h5_attr_set_f64(&f, "state", "lr_scale", scales[i]));
        expect_refused(&f, "lr_scale", "inconsistent", NULL);
        ST_ASSERT_OK(h5_close(&f));
    }
}

static void remove_the_files(void **state)
{
    (void)state;
    if (dir[0]) io_tmpdir_remove(dir);
}

static const struct CMUnitTest state_tests[] = {
    cmocka_unit_test(round_trip_is_exact),
    cmocka_unit_test(attributes_are_the_documented_ones),
    cmocka_unit_test(a_missing_attribute_is_named),
    cmocka_unit_test(mistyped_attributes_are_refused),
    cmocka_unit_test(out_of_range_values_are_refused),
    cmocka_unit_test(remove_the_files),
};

ST_TEST_MAIN(state_tests)
