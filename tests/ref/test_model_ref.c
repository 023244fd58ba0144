/* test_model_ref.c -- the whole C model against the independent PyTorch
 * reference (tools/torch_ref.py -> tests/fixtures/model_ref.h5; the fixture
 * layout is documented at the top of that script).
 *
 * The fixture holds a 2-block model with fixed float32 weights and a batch
 * of tokens, and expected values computed in float64 by PyTorch: logits,
 * loss and every gradient (all blocks + head trainable); the head applied
 * after block 1 (logits, loss, stage-1 gradients); block 1 frozen with LoRA
 * adapters (loss, logits, adapter and upper gradients); and the losses of
 * 10 AdamW steps with clipping on the same batch.  The C side also runs the
 * growth engine's paths against the same numbers: stage 2 started from the
 * cached output of block 1, and the LoRA adapters merged into the weights.
 *
 * Comparison rule, per tensor (every logits array, loss, gradient tensor):
 *     max_abs = max_i |c_i - r_i|          (c: C engine, r: reference)
 *     scale   = max(max_i |r_i|, 1e-6)
 *     pass iff max_abs <= 1e-4 * scale
 * i.e. the absolute error relative to the tensor's largest reference value
 * (relative error in the max norm).  For scalars (losses) this is the plain
 * relative error.  The elementwise max relative difference
 * max_i |c_i - r_i| / |r_i| over elements with |r_i| >= 1e-3 * scale is printed
 * as well (information only; tiny elements make it noisy).  Every tensor's
 * numbers are printed as TAP diagnostics ("# ..."), and a test fails only
 * after all its tensors were printed.
 */
#include <hdf5.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "harness.h"
#include "strata/adamw.h"
#include "strata/model.h"
#include "strata/params.h"

#define REF_TOL 1e-4

/* ---- the fixture -------------------------------------------------------- */
typedef struct fixture {
    hid_t f;
    int V, D, H, F, T, B, L;
    double eps, theta;
    int lora_rank, lora_block;
    double lora_alpha;
    int adam_steps;
    double lr, wd, beta1, beta2, adam_eps, clip;
    int32_t *tokens;  /* [B, T+1] */
    float *substrate; /* [V, D] */
} fixture;

static fixture fx = {.f = -1};

static const char *fixture_path(void)
{
    static char path[4096];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/tests/fixtures/model_ref.h5", top ? top : ".");
    return path;
}

static int attr_int(const char *name)
{
    int v = -1;
    hid_t a = H5Aopen(fx.f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_INT, &v) >= 0);
    H5Aclose(a);
    return v;
}

static double attr_double(const char *name)
{
    double v = NAN;
    hid_t a = H5Aopen(fx.f, name, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

/* Read dataset `name` as `type` into a new buffer of elem-size bytes per
 * element; check its element count (and rank/shape when dims != NULL). */
static void *read_ds(const char *name, hid_t type, size_t elem, size_t numel, int ndim,
                     const int *dims)
{
    hid_t d = H5Dopen2(fx.f, name, H5P_DEFAULT);
    if (d < 0) fail_msg("fixture has no dataset %s", name);
    hid_t sp = H5Dget_space(d);
    hsize_t sh[4] = {0};
    int nd = H5Sget_simple_extent_ndims(sp);
    assert_true(nd >= 0 && nd <= 4);
    H5Sget_simple_extent_dims(sp, sh, NULL);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if ((size_t)n != numel) fail_msg("%s: %lld elements, expected %zu", name, (long long)n, numel);
    if (dims) {
        assert_int_equal(nd, ndim);
        for (int i = 0; i < nd; i++)
            if ((int)sh[i] != dims[i])
                fail_msg("%s: dim %d is %llu, engine has %d", name, i, (unsigned long long)sh[i],
                         dims[i]);
    }
    void *buf = malloc(elem * (numel ? numel : 1));
    assert_non_null(buf);
    assert_true(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

static double *read_f64(const char *name, size_t numel)
{
    return read_ds(name, H5T_NATIVE_DOUBLE, sizeof(double), numel, 0, NULL);
}

static double read_scalar(const char *name)
{
    double *p = read_f64(name, 1), v = *p;
    free(p);
    return v;
}

static int fixture_setup(void **state)
{
    (void)state;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    fx.f = H5Fopen(fixture_path(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fx.f < 0) {
        print_error("cannot open fixture %s\n", fixture_path());
        return -1;
    }
    fx.V = attr_int("V");
    fx.D = attr_int("D");
    fx.H = attr_int("H");
    fx.F = attr_int("F");
    fx.T = attr_int("T");
    fx.B = attr_int("B");
    fx.L = attr_int("L");
    fx.eps = attr_double("eps");
    fx.theta = attr_double("theta");
    fx.lora_rank = attr_int("lora_rank");
    fx.lora_block = attr_int("lora_block");
    fx.lora_alpha = attr_double("lora_alpha");
    fx.adam_steps = attr_int("adamw_steps");
    fx.lr = attr_double("adamw_lr");
    fx.wd = attr_double("adamw_wd");
    fx.beta1 = attr_double("adamw_beta1");
    fx.beta2 = attr_double("adamw_beta2");
    fx.adam_eps = attr_double("adamw_eps");
    fx.clip = attr_double("adamw_clip");
    int tdims[2] = {fx.B, fx.T + 1}, edims[2] = {fx.V, fx.D};
    fx.tokens = read_ds("tokens", H5T_NATIVE_INT32, sizeof(int32_t),
                        (size_t)fx.B * (fx.T + 1), 2, tdims);
    fx.substrate = read_ds("substrate/embeddings", H5T_NATIVE_FLOAT, sizeof(float),
                           (size_t)fx.V * fx.D, 2, edims);
    return 0;
}

static int fixture_teardown(void **state)
{
    (void)state;
    free(fx.tokens);
    free(fx.substrate);
    if (fx.f >= 0) H5Fclose(fx.f);
    memset(&fx, 0, sizeof fx);
    fx.f = -1;
    return 0;
}

/* ---- comparison --------------------------------------------------------- */
/* Compare n values (float or double) with the reference; print one TAP
 * diagnostic line; return true when within the rule of the file comment. */
static bool compare(const char *what, const float *cf, const double *cd, const double *ref,
                    size_t n)
{
    double max_abs = 0.0, scale = 0.0, max_rel = 0.0;
    bool finite = true;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    scale = fmax(scale, 1e-6);
    for (size_t i = 0; i < n; i++) {
        double c = cf ? (double)cf[i] : cd[i];
        if (!isfinite(c)) finite = false;
        double d = fabs(c - ref[i]);
        max_abs = fmax(max_abs, d);
        if (fabs(ref[i]) >= 1e-3 * scale) max_rel = fmax(max_rel, d / fabs(ref[i]));
    }
    bool ok = finite && max_abs <= REF_TOL * scale;
    printf("# %-44s n=%-5zu max_abs=%.3e max_rel=%.3e scale=%.3e err=%.3e %s\n", what, n, max_abs,
           max_rel, scale, max_abs / scale, ok ? "ok" : "FAIL");
    return ok;
}

static bool compare_scalar(const char *what, double c, double ref)
{
    return compare(what, NULL, &c, &ref, 1);
}

/* ---- building the C model from the fixture ------------------------------ */
static void load_arena(param_arena *a, const char *group)
{
    for (int i = 0; i < a->n; i++) {
        const param_desc *d = &a->desc[i];
        char name[256];
        snprintf(name, sizeof name, "%s/%s", group, d->name);
        float *w = read_ds(name, H5T_NATIVE_FLOAT, sizeof(float), d->numel, d->ndim, d->shape);
        memcpy(param_ptr(a, i), w, sizeof(float) * d->numel);
        free(w);
    }
}

/* A model of fx.L blocks holding the fixture's weights; nothing trainable. */
static void build_model(model *m)
{
    model_dims d;
    model_dims_default(&d, fx.D, fx.H, fx.F, fx.V, fx.L);
    d.eps = (float)fx.eps;
    d.theta = fx.theta;
    rng_t rng;
    rng_init(&rng, 1, 0, RNG_TEST);
    memset(m, 0, sizeof *m);
    ST_ASSERT_OK(model_init(m, &d, fx.substrate, &rng));
    char group[64];
    for (int l = 0; l < fx.L; l++) {
        ST_ASSERT_OK(model_add_block(m, &rng));
        snprintf(group, sizeof group, "params/block_%03d", l);
        load_arena(&m->blocks[l], group);
    }
    load_arena(&m->head, "params/head");
    for (int l = 0; l < fx.L; l++) m->blocks[l].trainable = false;
    m->head.trainable = false;
}

static model_batch fixture_batch(void)
{
    return (model_batch){.tokens = fx.tokens, .targets = fx.tokens + 1, .ld = fx.T + 1};
}

/* Compare the gradients of every tensor of arena `a` with <prefix>/<name>. */
static bool compare_grads(const param_arena *a, const char *prefix)
{
    bool ok = true;
    assert_non_null(a->g);
    for (int i = 0; i < a->n; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s/%s", prefix, a->desc[i].name);
        double *ref = read_f64(name, a->desc[i].numel);
        ok &= compare(name, param_ptr_in(a, a->g, i), NULL, ref, a->desc[i].numel);
        free(ref);
    }
    return ok;
}

/* Compare an evaluation forward (train = false) to `depth` with
 * <prefix>/logits and <prefix>/loss, then a training forward (its loss is
 * computed in the fused loss+gradient pass, and ws->head.logits then holds
 * dlogits) with <prefix>/loss again, then run the backward.  x_in/start as in
 * model_forward. */
static bool forward_backward_from(model *m, model_ws *ws, const model_batch *batch,
                                  const float *x_in, int start, int depth, const char *prefix,
                                  const char *label)
{
    double loss = NAN;
    char name[256], what[320];
    size_t nl = (size_t)fx.B * fx.T * fx.V;
    ST_ASSERT_OK(model_forward(m, ws, batch, x_in, start, depth, fx.B, fx.T, false, &loss));
    snprintf(name, sizeof name, "%s/logits", prefix);
    snprintf(what, sizeof what, "%s%s", label, name);
    double *ref = read_f64(name, nl);
    /* ws->head.logits [B*T, V], rows b*T + t: the reference's [B, T, V] */
    bool ok = compare(what, ws->head.logits, NULL, ref, nl);
    free(ref);
    snprintf(name, sizeof name, "%s/loss", prefix);
    double ref_loss = read_scalar(name);
    snprintf(what, sizeof what, "%s%s (eval)", label, name);
    ok &= compare_scalar(what, loss, ref_loss);
    model_zero_grad(m);
    ST_ASSERT_OK(model_forward(m, ws, batch, x_in, start, depth, fx.B, fx.T, true, &loss));
    snprintf(what, sizeof what, "%s%s (train)", label, name);
    ok &= compare_scalar(what, loss, ref_loss);
    ST_ASSERT_OK(model_backward(m, ws));
    return ok;
}

static bool forward_backward(model *m, model_ws *ws, int depth, const char *prefix)
{
    model_batch batch = fixture_batch();
    return forward_backward_from(m, ws, &batch, NULL, 0, depth, prefix, "");
}

/* The fixture's model with every block and the head trainable, and a
 * workspace keeping all blocks' activations. */
static void build_full_training(model *m, model_ws *ws)
{
    build_model(m);
    for (int l = 0; l < fx.L; l++) m->blocks[l].trainable = true;
    m->head.trainable = true;
    ST_ASSERT_OK(model_train_setup(m));
    ST_ASSERT_OK(model_ws_init(ws, &m->dims, fx.B, fx.T, fx.L, 0));
}

/* ---- the cases ---------------------------------------------------------- */
static void full_model_logits_loss_and_every_gradient(void **state)
{
    (void)state;
    model m;
    model_ws ws;
    build_full_training(&m, &ws);
    bool ok = forward_backward(&m, &ws, fx.L, "expected");
    char prefix[64];
    for (int l = 0; l < fx.L; l++) {
        snprintf(prefix, sizeof prefix, "expected/grads/block_%03d", l);
        ok &= compare_grads(&m.blocks[l], prefix);
    }
    ok &= compare_grads(&m.head, "expected/grads/head");
    model_ws_free(&ws);
    model_free(&m);
    assert_true(ok);
}

static void head_after_block_1_and_stage_1_gradients(void **state)
{
    (void)state;
    model m;
    model_ws ws;
    build_model(&m);
    m.blocks[0].trainable = true; /* stage 1: block 1 + head */
    m.head.trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, fx.B, fx.T, 1, 0));
    bool ok = forward_backward(&m, &ws, 1, "expected/depth1");
    ok &= compare_grads(&m.blocks[0], "expected/depth1/grads/block_000");
    ok &= compare_grads(&m.head, "expected/depth1/grads/head");
    model_ws_free(&ws);
    model_free(&m);
    assert_true(ok);
}

/* Growth stage 2 from the activation cache: block 1's output h1 computed
 * once (inference), the head on h1 is the depth-1 logit lens, and training
 * block 2 + head starting from h1 (block 1 frozen, not rerun) gives the
 * full model's logits and the same block_001/head gradients. */
static void stage_2_from_cached_block_1_output(void **state)
{
    (void)state;
    model m;
    model_ws ws;
    model_batch batch = fixture_batch();
    size_t nx = (size_t)fx.B * fx.T * fx.D, nl = (size_t)fx.B * fx.T * fx.V;
    build_model(&m);
    for (int l = 1; l < fx.L; l++) m.blocks[l].trainable = true;
    m.head.trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, fx.B, fx.T, fx.L - 1, 0));

    float *h1 = malloc(sizeof(float) * nx); /* [B*T, D] cached output of block 1 */
    assert_non_null(h1);
    ST_ASSERT_OK(model_forward_blocks(&m, &ws, &batch, NULL, 0, 1, fx.B, fx.T, false));
    memcpy(h1, model_ws_output(&ws), sizeof(float) * nx);
    double loss = NAN;
    ST_ASSERT_OK(model_forward_head(&m, &ws, h1, &batch, &loss, NULL));
    double *ref = read_f64("expected/depth1/logits", nl);
    bool ok = compare("cache: head(h1) vs expected/depth1/logits", ws.head.logits, NULL, ref, nl);
    free(ref);
    ok &= compare_scalar("cache: head(h1) vs expected/depth1/loss", loss,
                         read_scalar("expected/depth1/loss"));

    /* Only targets: the forward must start from h1, not from the tokens. */
    model_batch targets_only = {.tokens = NULL, .targets = fx.tokens + 1, .ld = fx.T + 1};
    ok &= forward_backward_from(&m, &ws, &targets_only, h1, 1, fx.L, "expected", "cache h1: ");
    char prefix[64];
    for (int l = 1; l < fx.L; l++) {
        snprintf(prefix, sizeof prefix, "expected/grads/block_%03d", l);
        ok &= compare_grads(&m.blocks[l], prefix);
    }
    ok &= compare_grads(&m.head, "expected/grads/head");
    free(h1);
    model_ws_free(&ws);
    model_free(&m);
    assert_true(ok);
}

static void lora_on_frozen_block_gradients(void **state)
{
    (void)state;
    model m;
    model_ws ws;
    rng_t rng;
    rng_init(&rng, 2, 0, RNG_TEST);
    build_model(&m);
    int lb = fx.lora_block;
    ST_ASSERT_OK(model_lora_add(&m, lb, fx.lora_rank, (float)fx.lora_alpha, &rng));
    char group[64];
    snprintf(group, sizeof group, "lora/params/block_%03d", lb);
    load_arena(&m.lora[lb].p, group); /* B nonzero, so every path is exercised */
    m.blocks[lb].trainable = false;
    m.lora[lb].p.trainable = true;
    for (int l = lb + 1; l < fx.L; l++) m.blocks[l].trainable = true;
    m.head.trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, fx.B, fx.T, fx.L, fx.lora_rank));
    bool ok = forward_backward(&m, &ws, fx.L, "lora/expected");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "lora/expected/grads/block_%03d", lb);
    ok &= compare_grads(&m.lora[lb].p, prefix);
    for (int l = lb + 1; l < fx.L; l++) {
        snprintf(prefix, sizeof prefix, "lora/expected/grads/block_%03d", l);
        ok &= compare_grads(&m.blocks[l], prefix);
    }
    ok &= compare_grads(&m.head, "lora/expected/grads/head");
    /* The frozen block got no gradient buffer. */
    assert_null(m.blocks[lb].g);

    /* Stage end: W += s B A and the adapters are dropped; the plain block
     * must give the adapted model's logits. */
    ST_ASSERT_OK(model_lora_merge(&m, lb));
    assert_int_equal(m.lora[lb].r, 0);
    model_batch batch = fixture_batch();
    size_t nl = (size_t)fx.B * fx.T * fx.V;
    ST_ASSERT_OK(model_forward(&m, &ws, &batch, NULL, 0, fx.L, fx.B, fx.T, false, NULL));
    double *ref = read_f64("lora/expected/logits", nl);
    ok &= compare("merged: logits vs lora/expected/logits", ws.head.logits, NULL, ref, nl);
    free(ref);
    model_ws_free(&ws);
    model_free(&m);
    assert_true(ok);
}

static void adamw_ten_steps_losses(void **state)
{
    (void)state;
    model m;
    model_ws ws;
    build_full_training(&m, &ws);
    adamw_cfg cfg = {.beta1 = fx.beta1, .beta2 = fx.beta2, .eps = fx.adam_eps,
                     .weight_decay = fx.wd, .grad_clip = fx.clip};
    param_arena *arenas[16];
    assert_int_equal(model_trainable_arenas(&m, arenas, 16), fx.L + 1);
    model_batch batch = fixture_batch();
    double *ref = read_f64("adamw/losses", (size_t)fx.adam_steps);
    double *got = calloc((size_t)fx.adam_steps, sizeof(double));
    assert_non_null(got);
    for (int s = 0; s < fx.adam_steps; s++) {
        ST_ASSERT_OK(model_forward(&m, &ws, &batch, NULL, 0, fx.L, fx.B, fx.T, true, &got[s]));
        model_zero_grad(&m);
        ST_ASSERT_OK(model_backward(&m, &ws));
        model_optim_step(&m, &cfg, fx.lr, s + 1); /* clip + AdamW, t from 1 */
    }
    bool ok = true;
    for (int s = 0; s < fx.adam_steps; s++) {
        char name[64];
        snprintf(name, sizeof name, "adamw/losses[%d]", s);
        ok &= compare_scalar(name, got[s], ref[s]);
    }
    double after = NAN;
    ST_ASSERT_OK(model_forward(&m, &ws, &batch, NULL, 0, fx.L, fx.B, fx.T, false, &after));
    ok &= compare_scalar("adamw/loss_after", after, read_scalar("adamw/loss_after"));
    free(ref);
    free(got);
    model_ws_free(&ws);
    model_free(&m);
    assert_true(ok);
}

/* Each test opens the fixture afresh (it is small), so tests stay independent. */
#define REF_TEST(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)
static const struct CMUnitTest tests[] = {
    REF_TEST(full_model_logits_loss_and_every_gradient),
    REF_TEST(head_after_block_1_and_stage_1_gradients),
    REF_TEST(stage_2_from_cached_block_1_output),
    REF_TEST(lora_on_frozen_block_gradients),
    REF_TEST(adamw_ten_steps_losses),
};

ST_TEST_MAIN(tests)
