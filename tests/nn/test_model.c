/* test_model.c -- parameter tables, whole-block / head / 2-block gradient
 * checks, partial backward (frozen blocks, LoRA, start from cached
 * activations), per-depth evaluation, KV-cache decoding, sampling. */
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "harness.h"
#include "strata/model.h"
#include "strata/ops.h"
#include "strata/sample.h"

enum { TD = 8, TH = 2, TF = 12, TV = 11, TL = 2, TB = 2, TT = 5 };

/* Random weights of a size that gives every gradient a clear signal (the
 * real init_std = 0.02 makes deep gradients tiny). */
static void randomize(param_arena *a, rng_t *rg)
{
    for (int i = 0; i < a->n; i++) {
        param_desc *d = &a->desc[i];
        float *w = param_ptr(a, i);
        for (size_t k = 0; k < d->numel; k++)
            w[k] = d->init == PINIT_ONES ? (float)(1.0 + 0.2 * rng_normal(rg))
                                         : (float)(0.35 * rng_normal(rg));
    }
}

static void make_model(model *m, const float *substrate, int nblocks, uint64_t seed)
{
    model_dims d;
    model_dims_default(&d, TD, TH, TF, TV, TL);
    rng_t r;
    rng_init(&r, seed, 0, RNG_INIT);
    ST_ASSERT_OK(model_init(m, &d, substrate, &r));
    for (int l = 0; l < nblocks; l++) ST_ASSERT_OK(model_add_block(m, &r));
}

/* Frozen random substrate sub [TV, TD] and a 2-block model with randomised
 * blocks; rg continues the test stream `seed` for further draws. */
static void make_random_model(model *m, float *sub, rng_t *rg, uint64_t seed, uint64_t model_seed)
{
    rng_init(rg, seed, 0, RNG_TEST);
    gc_fill(sub, TV * TD, 1, rg);
    make_model(m, sub, 2, model_seed);
    randomize(&m->blocks[0], rg);
    randomize(&m->blocks[1], rg);
}

static void fill_tokens(int32_t *tok, int n, uint64_t seed)
{
    rng_t r;
    rng_init(&r, seed, 0, RNG_TEST);
    for (int i = 0; i < n; i++) tok[i] = (int32_t)rng_below(&r, TV);
}

/* ---- descriptor tables --------------------------------------------------- */

static void descriptor_tables_follow_model_md(void **state)
{
    (void)state;
    model m;
    make_model(&m, NULL, 2, 1);
    const param_arena *b = &m.blocks[0];
    const char *names[] = {"ln1_g", "attn_qkv_w", "attn_out_w", "ln2_g", "mlp_in_w", "mlp_out_w"};
    const int shapes[][2] = {{TD, 0}, {3 * TD, TD}, {TD, TD}, {TD, 0}, {TF, TD}, {TD, TF}};
    const bool decay[] = {false, true, true, false, true, true};
    assert_int_equal(b->n, 6);
    size_t prev_end = 0;
    for (int i = 0; i < 6; i++) {
        assert_string_equal(b->desc[i].name, names[i]);
        assert_int_equal(b->desc[i].shape[0], shapes[i][0]);
        if (shapes[i][1]) assert_int_equal(b->desc[i].shape[1], shapes[i][1]);
        assert_int_equal(b->desc[i].ndim, shapes[i][1] ? 2 : 1);
        assert_int_equal(b->desc[i].decay, decay[i]);
        assert_true(b->desc[i].offset >= prev_end && b->desc[i].offset % 16 == 0);
        prev_end = b->desc[i].offset + b->desc[i].numel;
        assert_int_equal(param_find(b, names[i]), i);
    }
    assert_true(b->numel >= prev_end);
    /* init rules: gains are ones, the residual projections use std / sqrt(2 L) */
    assert_float_equal(b->desc[BLK_ATTN_QKV_W].std, 0.02, 1e-12);
    assert_float_equal(b->desc[BLK_ATTN_OUT_W].std, 0.02 / sqrt(2.0 * TL), 1e-12);
    assert_float_equal(b->desc[BLK_MLP_OUT_W].std, 0.02 / sqrt(2.0 * TL), 1e-12);
    for (int k = 0; k < TD; k++) assert_true(param_ptr(b, BLK_LN2_G)[k] == 1.0f);
    double ss = 0;
    const float *w = param_ptr(b, BLK_MLP_IN_W);
    for (int k = 0; k < TF * TD; k++) ss += (double)w[k] * w[k];
    assert_float_equal(sqrt(ss / (TF * TD)), 0.02, 0.006);
    /* head and embedding */
    assert_string_equal(m.head.desc[0].name, "norm_g");
    assert_string_equal(m.head.desc[1].name, "out_w");
    assert_int_equal(m.head.desc[1].shape[0], TV);
    assert_true(m.head.desc[1].decay && !m.head.desc[0].decay);
    assert_string_equal(m.embed.desc[0].name, "tok_emb");
    assert_false(m.embed.desc[0].decay);
    assert_float_equal(m.embed.desc[0].std, 1 / sqrt((double)TD), 1e-12);
    /* LoRA names and shapes */
    rng_t r;
    rng_init(&r, 3, 0, RNG_INIT);
    ST_ASSERT_OK(model_lora_add(&m, 0, 3, 6.0f, &r));
    const param_arena *lp = &m.lora[0].p;
    assert_string_equal(lp->desc[0].name, "attn_qkv_w.lora_A");
    assert_string_equal(lp->desc[7].name, "mlp_out_w.lora_B");
    assert_int_equal(lp->desc[6].shape[0], 3);  /* mlp_out A [r, F] */
    assert_int_equal(lp->desc[6].shape[1], TF);
    assert_int_equal(lp->desc[7].shape[0], TD); /* mlp_out B [D, r] */
    for (size_t k = 0; k < lp->desc[1].numel; k++) assert_true(param_ptr(lp, 1)[k] == 0.0f);
    assert_float_equal(m.lora[0].scale, 2.0, 0);
    /* printing names every tensor */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    param_arena_print(b, "block_000", f);
    fclose(f);
    assert_non_null(strstr(buf, "attn_qkv_w"));
    assert_non_null(strstr(buf, "[24, 8]"));
    free(buf);
    f = open_memstream(&buf, &len);
    model_print(&m, f);
    fclose(f);
    assert_non_null(strstr(buf, "block_001"));
    assert_non_null(strstr(buf, "block_000.lora"));
    assert_non_null(strstr(buf, "mlp_out_w.lora_B"));
    assert_non_null(strstr(buf, "tok_emb"));
    free(buf);
    /* training layout: embed, blocks, lora, head back to back */
    m.blocks[0].trainable = false;
    ST_ASSERT_OK(model_train_setup(&m));
    param_arena *list[8];
    int n = model_trainable_arenas(&m, list, 8);
    assert_int_equal(n, 4);
    assert_ptr_equal(list[0], &m.embed);
    assert_ptr_equal(list[1], &m.blocks[1]);
    assert_ptr_equal(list[2], &m.lora[0].p);
    assert_ptr_equal(list[3], &m.head);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(list[i]->g, m.grad + off);
        assert_ptr_equal(list[i]->m, m.adam_m + off);
        off += list[i]->numel;
    }
    assert_int_equal(off, m.n_train);
    assert_null(m.blocks[0].g);
    model_free(&m);
}

/* ---- whole block --------------------------------------------------------- */

typedef struct blk_ctx {
    model *m;
    model_ws *ws;
    float *x, *y, *r;
    const lora_t *lora;
} blk_ctx;

static double blk_loss(void *c_)
{
    blk_ctx *c = c_;
    block_forward(&c->ws->ctx, &c->m->blocks[0], c->lora, &c->ws->acts[0], TB, TT, c->x, c->y);
    return gc_dot(c->r, c->y, (size_t)TB * TT * TD);
}

static void block_gradcheck(bool with_lora)
{
    rng_t rg;
    rng_init(&rg, with_lora ? 11 : 10, 0, RNG_TEST);
    model m;
    make_model(&m, NULL, 1, 2);
    randomize(&m.blocks[0], &rg);
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 1, with_lora ? 3 : 0));
    size_t nd = (size_t)TB * TT * TD;
    blk_ctx c = {.m = &m, .ws = &ws, .x = gc_alloc(nd), .y = gc_alloc(nd), .r = gc_alloc(nd)};
    gc_fill(c.x, nd, 1, &rg);
    gc_fill(c.r, nd, 1, &rg);
    float *dx = gc_alloc(nd), *gb = gc_alloc(m.blocks[0].numel), *gl = NULL;
    m.blocks[0].g = gb;
    if (with_lora) {
        ST_ASSERT_OK(lora_init(&m.lora[0], TD, TF, 3, 4.5f, &rg));
        randomize(&m.lora[0].p, &rg); /* B != 0 so A gets a gradient */
        gl = gc_alloc(m.lora[0].p.numel);
        m.lora[0].p.g = gl;
        c.lora = &m.lora[0];
        /* base weights frozen: their gradient must stay untouched */
        m.blocks[0].trainable = false;
    }
    blk_loss(&c);
    block_backward(&ws.ctx, &m.blocks[0], c.lora, &ws.acts[0], &ws.bscr, TB, TT, c.x, c.r, dx);
    assert_true(gc_check("block dx", c.x, dx, nd, blk_loss, &c, 40));
    param_arena *p = &m.blocks[0];
    if (!with_lora) {
        for (int i = 0; i < p->n; i++)
            assert_true(gc_check(p->desc[i].name, param_ptr(p, i), param_ptr_in(p, gb, i),
                                 p->desc[i].numel, blk_loss, &c, 40));
    } else {
        for (size_t k = 0; k < p->numel; k++) assert_true(gb[k] == 0.0f);
        param_arena *lp = &m.lora[0].p;
        for (int i = 0; i < lp->n; i++)
            assert_true(gc_check(lp->desc[i].name, param_ptr(lp, i), param_ptr_in(lp, gl, i),
                                 lp->desc[i].numel, blk_loss, &c, 40));
    }
    /* backward adds: a second call doubles every gradient */
    float first = dx[3];
    block_backward(&ws.ctx, &m.blocks[0], c.lora, &ws.acts[0], &ws.bscr, TB, TT, c.x, c.r, dx);
    assert_float_equal(dx[3], 2 * first, 1e-5 * fabs(first) + 1e-7);
    m.blocks[0].g = NULL;
    if (with_lora) m.lora[0].p.g = NULL;
    free(c.x), free(c.y), free(c.r), free(dx), free(gb), free(gl);
    model_ws_free(&ws);
    model_free(&m);
}

static void block_gradcheck_plain(void **state)
{
    (void)state;
    block_gradcheck(false);
}

static void block_gradcheck_lora(void **state)
{
    (void)state;
    block_gradcheck(true);
}

/* ---- head + loss ---------------------------------------------------------- */

typedef struct hd_ctx {
    model *m;
    model_ws *ws;
    float *x;
    int32_t *tg;
} hd_ctx;

static double hd_loss(void *c_)
{
    hd_ctx *c = c_;
    int N = TB * TT;
    head_forward(&c->m->head, &c->ws->head, c->x, N, TD, TV, c->m->dims.eps);
    return head_loss(&c->ws->head, c->tg, N, TT, TT + 1, TV, NULL) / N;
}

static void head_loss_gradcheck(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 12, 0, RNG_TEST);
    model m;
    make_model(&m, NULL, 0, 3);
    randomize(&m.head, &rg);
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 0, 0));
    size_t nd = (size_t)TB * TT * TD;
    int32_t tg[TB * (TT + 1)];
    fill_tokens(tg, TB * (TT + 1), 5);
    hd_ctx c = {.m = &m, .ws = &ws, .x = gc_alloc(nd), .tg = tg};
    gc_fill(c.x, nd, 1, &rg);
    float *dx = gc_alloc(nd), *g = gc_alloc(m.head.numel);
    m.head.g = g;
    m.head.trainable = true;
    hd_loss(&c);
    head_backward(&m.head, &ws.head, tg, c.x, dx, TB * TT, TT, TT + 1, TD, TV, 1.0f / (TB * TT));
    assert_true(gc_check("head dx", c.x, dx, nd, hd_loss, &c, 80));
    assert_true(gc_check("head norm_g", param_ptr(&m.head, 0), param_ptr_in(&m.head, g, 0), TD, hd_loss, &c, 80));
    assert_true(gc_check("head out_w", param_ptr(&m.head, 1), param_ptr_in(&m.head, g, 1), TV * TD, hd_loss, &c, 80));
    m.head.g = NULL;
    free(c.x), free(dx), free(g);
    model_ws_free(&ws);
    model_free(&m);
}

/* ---- whole model ---------------------------------------------------------- */

typedef struct md_ctx {
    model *m;
    model_ws *ws;
    model_batch batch;
    int start, depth;
    const float *x_in;
} md_ctx;

static double md_loss(void *c_)
{
    md_ctx *c = c_;
    double loss = 0;
    st_status st = model_forward(c->m, c->ws, &c->batch, c->x_in, c->start, c->depth, TB, TT, false, &loss);
    assert_int_equal(st, ST_OK);
    return loss;
}

static void check_arena(const char *what, param_arena *a, md_ctx *c)
{
    for (int i = 0; i < a->n; i++) {
        char nm[96];
        snprintf(nm, sizeof nm, "%s.%s", what, a->desc[i].name);
        assert_true(gc_check(nm, param_ptr(a, i), param_ptr_in(a, a->g, i), a->desc[i].numel, md_loss, c, 25));
    }
}

/* Trainable embedding table + 2 trainable blocks + head, end to end. */
static void model_two_blocks_end_to_end_gradcheck(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 13, 0, RNG_TEST);
    model m;
    make_model(&m, NULL, 2, 4);
    randomize(&m.blocks[0], &rg);
    randomize(&m.blocks[1], &rg);
    randomize(&m.head, &rg);
    ST_ASSERT_OK(model_train_setup(&m));
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 2, 0));
    int32_t chunk[TB * (TT + 1)];
    fill_tokens(chunk, TB * (TT + 1), 6);
    md_ctx c = {.m = &m, .ws = &ws, .batch = {chunk, chunk + 1, TT + 1}, .start = 0, .depth = 2};
    double loss = 0;
    model_zero_grad(&m);
    ST_ASSERT_OK(model_forward(&m, &ws, &c.batch, NULL, 0, 2, TB, TT, true, &loss));
    assert_int_equal(ws.floor, 0);
    ST_ASSERT_OK(model_backward(&m, &ws));
    assert_float_equal(loss, md_loss(&c), 1e-6);
    check_arena("embed", &m.embed, &c);
    check_arena("block0", &m.blocks[0], &c);
    check_arena("block1", &m.blocks[1], &c);
    check_arena("head", &m.head, &c);
    model_ws_free(&ws);
    model_free(&m);
}

/* Frozen substrate, block 0 frozen with LoRA, block 1 trainable. */
static void model_lora_on_frozen_block_gradcheck(void **state)
{
    (void)state;
    rng_t rg;
    float sub[TV * TD];
    model m;
    make_random_model(&m, sub, &rg, 14, 5);
    ST_ASSERT_OK(model_lora_add(&m, 0, 2, 4.0f, &rg));
    randomize(&m.lora[0].p, &rg);
    m.blocks[0].trainable = false;
    m.head.trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 2, 2));
    int32_t chunk[TB * (TT + 1)];
    fill_tokens(chunk, TB * (TT + 1), 7);
    md_ctx c = {.m = &m, .ws = &ws, .batch = {chunk, chunk + 1, TT + 1}, .start = 0, .depth = 2};
    model_zero_grad(&m);
    ST_ASSERT_OK(model_forward(&m, &ws, &c.batch, NULL, 0, 2, TB, TT, true, NULL));
    assert_int_equal(ws.floor, 0); /* LoRA on block 0 needs its backward */
    ST_ASSERT_OK(model_backward(&m, &ws));
    assert_null(m.blocks[0].g);
    check_arena("lora0", &m.lora[0].p, &c);
    check_arena("block1", &m.blocks[1], &c);
    check_arena("head", &m.head, &c);
    /* merging keeps the function: logits before == after */
    ST_ASSERT_OK(model_forward(&m, &ws, &c.batch, NULL, 0, 2, TB, TT, false, NULL));
    size_t nl = (size_t)TB * TT * TV;
    float *before = gc_alloc(nl);
    memcpy(before, ws.head.logits, nl * sizeof(float));
    ST_ASSERT_OK(model_lora_merge(&m, 0));
    assert_int_equal(m.lora[0].r, 0);
    ST_ASSERT_OK(model_forward(&m, &ws, &c.batch, NULL, 0, 2, TB, TT, false, NULL));
    for (size_t i = 0; i < nl; i++) assert_float_equal(ws.head.logits[i], before[i], 1e-4);
    free(before);
    model_ws_free(&ws);
    model_free(&m);
}

/* model_backward_hooked: the callback sees each trainable arena once, in
 * backward order (head, block 1, LoRA of block 0, the embedding table), with
 * its gradient already final, and the gradients equal model_backward's. */
typedef struct ready_log {
    int n;
    param_arena *seen[8];
    float *snap[8]; /* copy of g at the callback */
} ready_log;

static st_status log_ready(void *ctx, param_arena *a)
{
    ready_log *r = ctx;
    assert_true(r->n < 8);
    r->seen[r->n] = a;
    r->snap[r->n] = gc_alloc(a->numel);
    memcpy(r->snap[r->n], a->g, a->numel * sizeof(float));
    r->n++;
    return ST_OK;
}

static void hooked_backward_reports_final_gradients_in_order(void **state)
{
    (void)state;
    rng_t rg;
    rng_init(&rg, 21, 0, RNG_TEST);
    model m;
    make_model(&m, NULL, 2, 9); /* no substrate: a trainable embedding table */
    randomize(&m.blocks[0], &rg);
    randomize(&m.blocks[1], &rg);
    ST_ASSERT_OK(model_lora_add(&m, 0, 2, 4.0f, &rg));
    randomize(&m.lora[0].p, &rg);
    m.blocks[0].trainable = false;
    m.embed.trainable = true;
    m.head.trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 2, 2));
    int32_t chunk[TB * (TT + 1)];
    fill_tokens(chunk, TB * (TT + 1), 8);
    model_batch b = {chunk, chunk + 1, TT + 1};
    model_zero_grad(&m);
    ST_ASSERT_OK(model_forward(&m, &ws, &b, NULL, 0, 2, TB, TT, true, NULL));
    ST_ASSERT_OK(model_backward(&m, &ws));
    float *plain = gc_alloc(m.n_train);
    memcpy(plain, m.grad, m.n_train * sizeof(float));

    ready_log r = {0};
    model_zero_grad(&m);
    ST_ASSERT_OK(model_forward(&m, &ws, &b, NULL, 0, 2, TB, TT, true, NULL));
    ST_ASSERT_OK(model_backward_hooked(&m, &ws, log_ready, &r));
    assert_int_equal(r.n, 4);
    assert_ptr_equal(r.seen[0], &m.head);
    assert_ptr_equal(r.seen[1], &m.blocks[1]);
    assert_ptr_equal(r.seen[2], &m.lora[0].p);
    assert_ptr_equal(r.seen[3], &m.embed);
    size_t total = 0;
    for (int i = 0; i < r.n; i++) {
        assert_memory_equal(r.snap[i], r.seen[i]->g, r.seen[i]->numel * sizeof(float));
        total += r.seen[i]->numel;
        free(r.snap[i]);
    }
    assert_int_equal(total, m.n_train); /* every gradient float is in one reported arena */
    assert_memory_equal(plain, m.grad, m.n_train * sizeof(float));
    free(plain);
    model_ws_free(&ws);
    model_free(&m);
}

/* Growth: block 0 frozen.  Training block 1 from tokens and from the cached
 * x_0 give the same loss and gradients, need one stored block, and leave the
 * frozen block without gradient. */
static void frozen_lower_block_and_cached_input(void **state)
{
    (void)state;
    rng_t rg;
    float sub[TV * TD];
    model m;
    make_random_model(&m, sub, &rg, 15, 6);
    m.blocks[0].trainable = false;
    m.head.trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    assert_int_equal(model_backward_floor(&m, 0, 2), 1);
    model_ws ws, ws0;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 1, 0)); /* one stored block suffices */
    ST_ASSERT_OK(model_ws_init(&ws0, &m.dims, TB, TT, 0, 0));
    int32_t chunk[TB * (TT + 1)];
    fill_tokens(chunk, TB * (TT + 1), 8);
    model_batch batch = {chunk, chunk + 1, TT + 1};
    double l_full = 0, l_cache = 0;
    model_zero_grad(&m);
    ST_ASSERT_OK(model_forward(&m, &ws, &batch, NULL, 0, 2, TB, TT, true, &l_full));
    ST_ASSERT_OK(model_backward(&m, &ws));
    float *g_full = gc_alloc(m.n_train);
    memcpy(g_full, m.grad, m.n_train * sizeof(float));
    /* the cache: x_0 = output of frozen block 0, computed without keeping anything */
    ST_ASSERT_OK(model_forward_blocks(&m, &ws0, &batch, NULL, 0, 1, TB, TT, false));
    size_t nd = (size_t)TB * TT * TD;
    float *x0 = gc_alloc(nd);
    memcpy(x0, model_ws_output(&ws0), nd * sizeof(float));
    model_zero_grad(&m);
    model_batch tb = {NULL, chunk + 1, TT + 1};
    ST_ASSERT_OK(model_forward(&m, &ws, &tb, x0, 1, 2, TB, TT, true, &l_cache));
    ST_ASSERT_OK(model_backward(&m, &ws));
    assert_float_equal(l_cache, l_full, 1e-6);
    for (size_t i = 0; i < m.n_train; i++) assert_float_equal(m.grad[i], g_full[i], 1e-6);
    /* gradient check of the cached path */
    md_ctx c = {.m = &m, .ws = &ws, .batch = tb, .start = 1, .depth = 2, .x_in = x0};
    check_arena("block1(cached)", &m.blocks[1], &c);
    /* both blocks trainable need two stored blocks: refused with one */
    m.blocks[0].trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    assert_int_equal(model_forward(&m, &ws, &batch, NULL, 0, 2, TB, TT, true, NULL), ST_EUSAGE);
    free(g_full), free(x0);
    model_ws_free(&ws);
    model_ws_free(&ws0);
    model_free(&m);
}

/* Per-depth evaluation / logit lens: walking one block at a time from the
 * previous output equals the forward to that depth, and depth 0 is the head
 * on the embeddings. */
static void per_depth_forward_and_logit_lens(void **state)
{
    (void)state;
    rng_t rg;
    float sub[TV * TD];
    model m;
    make_random_model(&m, sub, &rg, 16, 7);
    model_ws ws, ws2;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 0, 0));
    ST_ASSERT_OK(model_ws_init(&ws2, &m.dims, TB, TT, 0, 0));
    int32_t chunk[TB * (TT + 1)];
    fill_tokens(chunk, TB * (TT + 1), 9);
    model_batch batch = {chunk, chunk + 1, TT + 1};
    size_t nl = (size_t)TB * TT * TV;
    double lens[3], direct[3];
    /* walk: depth 0 (embeddings), then one block at a time from the previous
     * output, which lives in the same workspace (x_in aliases its output) */
    ST_ASSERT_OK(model_forward_blocks(&m, &ws, &batch, NULL, 0, 0, TB, TT, false));
    for (int k = 0; k <= 2; k++) {
        if (k > 0) ST_ASSERT_OK(model_forward_blocks(&m, &ws, &batch, model_ws_output(&ws), k - 1, k, TB, TT, false));
        ST_ASSERT_OK(model_forward_head(&m, &ws, model_ws_output(&ws), &batch, &lens[k], NULL));
        ST_ASSERT_OK(model_forward(&m, &ws2, &batch, NULL, 0, k, TB, TT, false, &direct[k]));
        for (size_t i = 0; i < nl; i++) assert_float_equal(ws.head.logits[i], ws2.head.logits[i], 1e-5);
        assert_float_equal(lens[k], direct[k], 1e-6);
    }
    /* depth 0: logits = rmsnorm(E[tok]) out_w^T, position (1, 2) */
    float xn[TD], rstd, lg[TV];
    op_rmsnorm_forward(xn, &rstd, sub + (size_t)chunk[1 * (TT + 1) + 2] * TD, param_ptr(&m.head, 0), 1, TD, 1e-5f);
    op_matmul_forward_naive(lg, xn, param_ptr(&m.head, 1), 1, TD, TV, 1.0f, 0.0f);
    ST_ASSERT_OK(model_forward(&m, &ws2, &batch, NULL, 0, 0, TB, TT, false, NULL));
    for (int j = 0; j < TV; j++) assert_float_equal(ws2.head.logits[(1 * TT + 2) * TV + j], lg[j], 1e-5);
    /* the losses differ between depths (the blocks do something) */
    assert_true(fabs(direct[0] - direct[2]) > 1e-3);
    /* bad requests are refused with a usage error */
    assert_int_equal(model_forward_blocks(&m, &ws, &batch, NULL, 0, 3, TB, TT, false), ST_EUSAGE);
    assert_int_equal(model_forward_blocks(&m, &ws, &batch, NULL, 1, 2, TB, TT, false), ST_EUSAGE);
    assert_int_equal(model_forward_blocks(&m, &ws, &batch, NULL, 0, 1, TB + 1, TT, false), ST_EUSAGE);
    int32_t bad[TB * (TT + 1)];
    memcpy(bad, chunk, sizeof bad);
    bad[3] = TV;
    model_batch bb = {bad, bad + 1, TT + 1};
    assert_int_equal(model_forward_blocks(&m, &ws, &bb, NULL, 0, 1, TB, TT, false), ST_EDATA);
    model_ws_free(&ws);
    model_ws_free(&ws2);
    model_free(&m);
}

/* ---- decoding and sampling ------------------------------------------------ */

static void kv_cache_matches_full_forward(void **state)
{
    (void)state;
    enum { SEQ = 9 };
    rng_t rg;
    float sub[TV * TD];
    model m;
    make_random_model(&m, sub, &rg, 17, 8);
    ST_ASSERT_OK(model_lora_add(&m, 0, 2, 2.0f, &rg));
    randomize(&m.lora[0].p, &rg);
    int32_t tok[SEQ];
    fill_tokens(tok, SEQ, 10);
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, 1, SEQ, 0, 2));
    kv_cache kv;
    ST_ASSERT_OK(kv_cache_init(&kv, &m, 2, SEQ));
    for (int depth = 1; depth <= 2; depth++) {
        kv_cache_free(&kv);
        ST_ASSERT_OK(kv_cache_init(&kv, &m, depth, SEQ));
        for (int t = 0; t < SEQ; t++) {
            ST_ASSERT_OK(model_decode_step(&m, &kv, tok[t]));
            /* full forward over the prefix tok[0..t]; its last position */
            model_batch b = {tok, NULL, SEQ};
            ST_ASSERT_OK(model_forward(&m, &ws, &b, NULL, 0, depth, 1, t + 1, false, NULL));
            for (int j = 0; j < TV; j++)
                assert_float_equal(kv.logits[j], ws.head.logits[(size_t)t * TV + j], 1e-4);
        }
        assert_int_equal(model_decode_step(&m, &kv, tok[0]), ST_EUSAGE); /* full */
    }
    kv_cache_reset(&kv);
    ST_ASSERT_OK(model_decode_step(&m, &kv, tok[0]));
    kv_cache_free(&kv);
    model_ws_free(&ws);
    model_free(&m);
}

static void sampling_is_deterministic_and_respects_top_k(void **state)
{
    (void)state;
    const float logits[6] = {0.5f, 2.0f, -1.0f, 1.5f, 1.9f, 0.0f};
    float probs[6];
    rng_t a, b, c;
    rng_init(&a, 42, 0, RNG_SAMPLE);
    rng_init(&b, 42, 0, RNG_SAMPLE);
    rng_init(&c, 43, 0, RNG_SAMPLE);
    int same = 1, differs = 0;
    for (int i = 0; i < 200; i++) {
        int32_t x = sample_token(logits, 6, 1.0f, 0, &a, probs);
        int32_t y = sample_token(logits, 6, 1.0f, 0, &b, NULL);
        int32_t z = sample_token(logits, 6, 1.0f, 0, &c, probs);
        same &= x == y;
        differs |= x != z;
    }
    assert_true(same);
    assert_true(differs);
    /* greedy and top-1 are the argmax */
    assert_int_equal(sample_token(logits, 6, 0.0f, 0, &a, probs), 1);
    for (int i = 0; i < 50; i++) assert_int_equal(sample_token(logits, 6, 1.0f, 1, &a, probs), 1);
    /* top-3 only draws ids 1, 4, 3; frequencies follow the renormalised softmax */
    enum { DRAWS = 20000 };
    int count[6] = {0};
    for (int i = 0; i < DRAWS; i++) count[sample_token(logits, 6, 0.7f, 3, &a, probs)]++;
    assert_int_equal(count[0] + count[2] + count[5], 0);
    double z = exp(2.0 / 0.7) + exp(1.9 / 0.7) + exp(1.5 / 0.7);
    assert_float_equal(count[1] / (double)DRAWS, exp(2.0 / 0.7) / z, 0.02);
    assert_float_equal(count[3] / (double)DRAWS, exp(1.5 / 0.7) / z, 0.02);
    /* -inf logits are never drawn, even when top_k asks for more tokens than are finite */
    const float masked[4] = {-INFINITY, 0.3f, -INFINITY, -INFINITY};
    for (int i = 0; i < 20; i++) assert_int_equal(sample_token(masked, 4, 1.0f, 3, &a, probs), 1);
}

/* The pieces together: AdamW steps on one batch drive the loss down (a
 * growth stage in miniature: block 0 frozen, block 1 + head trained), and
 * the frozen block does not move. */
static void training_steps_reduce_the_loss(void **state)
{
    (void)state;
    rng_t rg;
    float sub[TV * TD];
    model m;
    make_random_model(&m, sub, &rg, 18, 9);
    m.blocks[0].trainable = false;
    ST_ASSERT_OK(model_train_setup(&m));
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, TB, TT, 1, 0));
    int32_t chunk[TB * (TT + 1)];
    fill_tokens(chunk, TB * (TT + 1), 11);
    model_batch batch = {chunk, chunk + 1, TT + 1};
    float *frozen = gc_alloc(m.blocks[0].numel);
    memcpy(frozen, m.blocks[0].w, m.blocks[0].numel * sizeof(float));
    adamw_cfg cfg = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1, .grad_clip = 1.0};
    double first = 0, last = 0;
    for (long t = 1; t <= 60; t++) {
        model_zero_grad(&m);
        ST_ASSERT_OK(model_forward(&m, &ws, &batch, NULL, 0, 2, TB, TT, true, &last));
        if (t == 1) first = last;
        ST_ASSERT_OK(model_backward(&m, &ws));
        double norm = model_optim_step(&m, &cfg, lr_schedule(t - 1, 60, 5, 1e-2, 1e-3), t);
        assert_true(norm > 0 && isfinite(norm));
    }
    assert_true(last < 0.5 * first);
    assert_memory_equal(frozen, m.blocks[0].w, m.blocks[0].numel * sizeof(float));
    free(frozen);
    model_ws_free(&ws);
    model_free(&m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(training_steps_reduce_the_loss),
    cmocka_unit_test(descriptor_tables_follow_model_md),
    cmocka_unit_test(block_gradcheck_plain),
    cmocka_unit_test(block_gradcheck_lora),
    cmocka_unit_test(head_loss_gradcheck),
    cmocka_unit_test(model_two_blocks_end_to_end_gradcheck),
    cmocka_unit_test(model_lora_on_frozen_block_gradcheck),
    cmocka_unit_test(hooked_backward_reports_final_gradients_in_order),
    cmocka_unit_test(frozen_lower_block_and_cached_input),
    cmocka_unit_test(per_depth_forward_and_logit_lens),
    cmocka_unit_test(kv_cache_matches_full_forward),
    cmocka_unit_test(sampling_is_deterministic_and_respects_top_k),
};

ST_TEST_MAIN(tests)
