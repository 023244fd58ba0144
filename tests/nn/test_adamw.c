/* test_adamw.c -- AdamW against a hand-computed double-precision update,
 * global-norm clipping, the LR schedule. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "strata/adamw.h"

/* A two-tensor arena: gain [2] (no decay) and weight [2, 2] (decay). */
static void make_arena(param_arena *a, float *g, float *m, float *v)
{
    param_desc t[2];
    memset(t, 0, sizeof t);
    snprintf(t[0].name, sizeof t[0].name, "gain");
    t[0].ndim = 1;
    t[0].shape[0] = 2;
    t[0].init = PINIT_ONES;
    snprintf(t[1].name, sizeof t[1].name, "weight");
    t[1].ndim = 2;
    t[1].shape[0] = 2;
    t[1].shape[1] = 2;
    t[1].init = PINIT_NORMAL;
    t[1].std = 1;
    t[1].decay = true;
    assert_int_equal(param_arena_from_table(a, ARENA_BLOCK, t, 2), ST_OK);
    a->g = g;
    a->m = m;
    a->v = v;
    a->trainable = true;
}

static void adamw_matches_hand_computed_update(void **state)
{
    (void)state;
    param_arena a;
    float g[32] = {0}, m[32] = {0}, v[32] = {0};
    make_arena(&a, g, m, v);
    /* tensors start 16-float aligned: gain at 0, weight at 16 */
    assert_int_equal(a.desc[1].offset, 16);
    const int idx[6] = {0, 1, 16, 17, 18, 19};
    const double w0[6] = {1.0, 0.5, 0.3, -0.7, 2.0, 0.01};
    const double grads[3][6] = {{0.1, -0.2, 0.3, 0.05, -1.5, 0.0},
                                {-0.4, 0.1, 0.3, 0.2, 0.5, 1e-3},
                                {0.2, 0.2, -0.1, -0.3, 0.0, 2.0}};
    adamw_cfg cfg = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 0};
    double p[6], mm[6] = {0}, vv[6] = {0};
    for (int i = 0; i < 6; i++) a.w[idx[i]] = (float)(p[i] = w0[i]);
    for (long t = 1; t <= 3; t++) {
        double lr = 0.01 * t;
        for (int i = 0; i < 6; i++) g[idx[i]] = (float)grads[t - 1][i];
        adamw_update((param_arena *const[]){&a}, 1, &cfg, lr, t, 1.0);
        for (int i = 0; i < 6; i++) {
            bool decay = idx[i] >= 16;
            double gi = (float)grads[t - 1][i];
            if (decay) p[i] *= 1 - lr * 0.1;
            mm[i] = 0.9 * mm[i] + 0.1 * gi;
            vv[i] = 0.95 * vv[i] + 0.05 * gi * gi;
            double mh = mm[i] / (1 - pow(0.9, t)), vh = vv[i] / (1 - pow(0.95, t));
            p[i] -= lr * mh / (sqrt(vh) + 1e-8);
        }
        for (int i = 0; i < 6; i++) {
            assert_float_equal(a.w[idx[i]], p[i], 2e-6 * fmax(1.0, fabs(p[i])));
            assert_float_equal(a.m[idx[i]], mm[i], 1e-7);
            assert_float_equal(a.v[idx[i]], vv[i], 1e-8);
        }
    }
    /* the padding between tensors is never touched */
    for (int i = 2; i < 16; i++) assert_true(a.w[i] == 0.0f && a.m[i] == 0.0f);
    param_arena_free(&a);
}

static void clipping_scales_to_the_global_norm(void **state)
{
    (void)state;
    param_arena a, b;
    float ga[32] = {0}, gb[32] = {0}, m[32] = {0}, v[32] = {0}, m2[32] = {0}, v2[32] = {0};
    make_arena(&a, ga, m, v);
    make_arena(&b, gb, m2, v2);
    ga[0] = 3.0f;
    gb[17] = 4.0f; /* global norm 5 across the two arenas */
    param_arena *list[2] = {&a, &b};
    double n = adamw_grad_norm(list, 2);
    assert_float_equal(n, 5.0, 1e-12);
    /* clip above the norm: factor 1; clip 0 = off */
    assert_float_equal(adamw_clip_factor(10.0, n), 1.0, 0);
    assert_float_equal(adamw_clip_factor(0.0, n), 1.0, 0);
    /* clip 1: factor 1 / (5 + 1e-6) */
    double f = adamw_clip_factor(1.0, n);
    assert_float_equal(f, 1.0 / (5.0 + 1e-6), 1e-12);
    /* the update with factor f is bitwise the update of the gradients
     * scaled and rounded first (what a separate clipping pass stored), and
     * leaves g as it was */
    adamw_cfg cfg = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1.0};
    param_arena c;
    float gc[32] = {0}, m3[32] = {0}, v3[32] = {0};
    make_arena(&c, gc, m3, v3);
    assert_true(a.numel == c.numel && a.numel <= 32);
    for (size_t i = 0; i < a.numel; i++) a.w[i] = c.w[i] = 0.25f * (float)(i % 7) - 0.5f;
    a.w[0] = c.w[0] = 1.0f;
    gc[0] = (float)(3.0f * f);
    adamw_update(list, 1, &cfg, 0.01, 1, f);
    adamw_update((param_arena *const[]){&c}, 1, &cfg, 0.01, 1, 1.0);
    assert_memory_equal(a.w, c.w, sizeof(float) * a.numel);
    assert_memory_equal(m, m3, sizeof m);
    assert_memory_equal(v, v3, sizeof v);
    assert_true(m[0] != 0.0f && a.w[0] != 1.0f);
    assert_true(ga[0] == 3.0f && gb[17] == 4.0f);
    assert_float_equal(adamw_grad_norm(list, 2), 5.0, 1e-12);
    param_arena_free(&c);
    /* a frozen arena is neither counted nor scaled */
    b.trainable = false;
    assert_float_equal(adamw_grad_norm(list, 2), 3.0, 1e-12);
    param_arena_free(&a);
    param_arena_free(&b);
}

/* An arena of a 37-gain (no decay) and a [13, 29] weight (decay): lengths
 * that leave vector remainders, so shards start and end mid-vector. */
static void make_odd_arena(param_arena *a)
{
    param_desc t[2];
    memset(t, 0, sizeof t);
    snprintf(t[0].name, sizeof t[0].name, "gain");
    t[0].ndim = 1;
    t[0].shape[0] = 37;
    t[0].init = PINIT_ONES;
    snprintf(t[1].name, sizeof t[1].name, "weight");
    t[1].ndim = 2;
    t[1].shape[0] = 13;
    t[1].shape[1] = 29;
    t[1].init = PINIT_NORMAL;
    t[1].std = 0.5;
    t[1].decay = true;
    assert_int_equal(param_arena_from_table(a, ARENA_BLOCK, t, 2), ST_OK);
    a->trainable = true;
}

static void sharded_update_equals_the_full_update_on_its_slice(void **state)
{
    (void)state;
    adamw_cfg cfg = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 0.5};
    param_arena full;
    make_odd_arena(&full);
    const size_t n = full.numel;
    rng_t rng;
    rng_init(&rng, 7, 0, 0);
    param_init_values(&full, &rng);
    float *grads = malloc(3 * n * sizeof *grads), *w0 = malloc(n * sizeof *w0);
    float *g = calloc(n, sizeof *g), *m = calloc(n, sizeof *m), *v = calloc(n, sizeof *v);
    assert_non_null(grads);
    assert_non_null(w0);
    for (size_t i = 0; i < 3 * n; i++) grads[i] = (float)(0.3 * rng_normal(&rng));
    memcpy(w0, full.w, n * sizeof *w0);
    full.g = g;
    full.m = m;
    full.v = v;
    param_arena *fl[1] = {&full};
    for (long t = 1; t <= 3; t++) {
        memcpy(g, grads + (t - 1) * n, n * sizeof *g);
        adamw_update(fl, 1, &cfg, 0.01, t, adamw_clip_factor(cfg.grad_clip, adamw_grad_norm(fl, 1)));
    }
    /* The same three steps on every shard of 1..5 near-equal slices (and a
     * slice inside one tensor), clipped with the full norm. */
    for (int parts = 1; parts <= 6; parts++)
        for (int r = 0; r < parts; r++) {
            size_t first = parts == 6 ? 40 : n * (size_t)r / (size_t)parts;
            size_t last = parts == 6 ? 43 : n * (size_t)(r + 1) / (size_t)parts;
            param_arena sh;
            make_odd_arena(&sh);
            memcpy(sh.w, w0, n * sizeof *w0);
            float *sg = calloc(n, sizeof *sg), *sm = calloc(last - first + 1, sizeof *sm);
            float *sv = calloc(last - first + 1, sizeof *sv);
            sh.g = sg;
            sh.m = sm;
            sh.v = sv;
            sh.sharded = true;
            sh.own_first = first;
            sh.own_count = last - first;
            param_arena *sl[1] = {&sh};
            for (long t = 1; t <= 3; t++) {
                memcpy(sg, grads + (t - 1) * n, n * sizeof *sg);
                /* the global norm from the full gradient; the shard clips its slice */
                double norm = sqrt(adamw_grad_sumsq(sl, 1, NULL, NULL));
                adamw_update(sl, 1, &cfg, 0.01, t, adamw_clip_factor(cfg.grad_clip, norm));
            }
            int same = 1;
            for (size_t i = 0; i < n; i++) {
                bool own = i >= first && i < last;
                same &= memcmp(&sh.w[i], own ? &full.w[i] : &w0[i], sizeof(float)) == 0;
                if (own) same &= memcmp(&sm[i - first], &m[i], sizeof(float)) == 0 &&
                                 memcmp(&sv[i - first], &v[i], sizeof(float)) == 0;
            }
            assert_true(same);
            param_arena_free(&sh);
            free(sg);
            free(sm);
            free(sv);
        }
    /* Partial sums over segments add up to the full sum of squares. */
    memcpy(g, grads, n * sizeof *g);
    size_t f2[1] = {0}, c2[1] = {n / 3}, f3[1] = {n / 3}, c3[1] = {n - n / 3};
    double parts = adamw_grad_sumsq(fl, 1, f2, c2) + adamw_grad_sumsq(fl, 1, f3, c3);
    assert_float_equal(parts, adamw_grad_sumsq(fl, 1, NULL, NULL), 1e-9 * parts);
    param_arena_free(&full);
    free(grads);
    free(w0);
    free(g);
    free(m);
    free(v);
}

static void lr_schedule_values(void **state)
{
    (void)state;
    /* peak 1e-3, min 1e-4, warmup 10, stage of 110 steps */
    assert_float_equal(lr_schedule(0, 110, 10, 1e-3, 1e-4), 1e-4, 1e-15);
    assert_float_equal(lr_schedule(4, 110, 10, 1e-3, 1e-4), 5e-4, 1e-15);
    assert_float_equal(lr_schedule(9, 110, 10, 1e-3, 1e-4), 1e-3, 1e-15);
    assert_float_equal(lr_schedule(10, 110, 10, 1e-3, 1e-4), 1e-3, 1e-15);          /* p = 0 */
    assert_float_equal(lr_schedule(60, 110, 10, 1e-3, 1e-4), 5.5e-4, 1e-15);        /* p = 1/2 */
    assert_float_equal(lr_schedule(35, 110, 10, 1e-3, 1e-4),
                       1e-4 + 9e-4 * (1 + cos(3.14159265358979323846 * 0.25)) / 2, 1e-15);            /* p = 1/4 */
    assert_float_equal(lr_schedule(110, 110, 10, 1e-3, 1e-4), 1e-4, 1e-15);        /* p = 1 */
    assert_float_equal(lr_schedule(500, 110, 10, 1e-3, 1e-4), 1e-4, 1e-15);        /* past the end */
    /* no warmup; S == w guards the division */
    assert_float_equal(lr_schedule(0, 50, 0, 2e-3, 0), 2e-3, 1e-15);
    assert_float_equal(lr_schedule(5, 5, 5, 2e-3, 1e-4), 2e-3, 1e-15);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(adamw_matches_hand_computed_update),
    cmocka_unit_test(clipping_scales_to_the_global_norm),
    cmocka_unit_test(sharded_update_equals_the_full_update_on_its_slice),
    cmocka_unit_test(lr_schedule_values),
};

ST_TEST_MAIN(tests)
