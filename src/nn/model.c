/* model.c -- the model: arenas, training buffers, workspace, forward and
 * backward over a range of blocks (design notes in model.h). */
#include "strata/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/ops.h"

/* ---- small allocation helpers ------------------------------------------ */

/* The workspace remembers every buffer it allocated so model_ws_free is one loop. */
typedef struct ws_pool {
    void **p;
    int n, cap;
} ws_pool;

static float *pool_take(ws_pool *pl, size_t n)
{
    if (pl->n == pl->cap) {
        int cap = pl->cap ? 2 * pl->cap : 64;
        void **q = realloc(pl->p, (size_t)cap * sizeof *q);
        if (!q) return NULL;
        pl->p = q;
        pl->cap = cap;
    }
    float *f = param_falloc(n);
    if (f) pl->p[pl->n++] = f;
    return f;
}

/* ---- dims -------------------------------------------------------------- */

void model_dims_default(model_dims *d, int D, int H, int F, int V, int L)
{
    memset(d, 0, sizeof *d);
    d->D = D;
    d->H = H;
    d->F = F;
    d->V = V;
    d->L = L;
    d->eps = 1e-5f;
    d->theta = 10000.0;
    d->init_std = 0.02;
}

st_status model_dims_check(const model_dims *d)
{
    st_status st = ST_OK;
    if (d->D < 2 || d->H < 1 || d->F < 1 || d->V < 2 || d->L < 1 || d->L > MODEL_MAX_LAYERS)
        FAIL(ST_EUSAGE, "model: bad sizes D=%d H=%d F=%d V=%d L=%d", d->D, d->H, d->F, d->V, d->L);
    if (d->D % d->H != 0)
        FAIL(ST_EUSAGE, "model: width %d is not divisible by n_heads %d", d->D, d->H);
    if ((d->D / d->H) % 2 != 0)
        FAIL(ST_EUSAGE, "model: head dimension %d (= %d / %d) must be even for RoPE", d->D / d->H,
             d->D, d->H);
    if (!(d->eps > 0) || !(d->theta > 0) || !(d->init_std > 0))
        FAIL(ST_EUSAGE, "model: eps, theta and init_std must be > 0");
out:
    return st;
}

/* ---- model ------------------------------------------------------------- */

st_status model_init(model *m, const model_dims *d, const float *substrate, rng_t *rng)
{
    st_status st = ST_OK;
    memset(m, 0, sizeof *m);
    CHECK(model_dims_check(d));
    m->dims = *d;
    m->substrate = substrate;
    m->blocks = calloc((size_t)d->L, sizeof *m->blocks);
    m->lora = calloc((size_t)d->L, sizeof *m->lora);
    CHECK_ALLOC(m->blocks);
    CHECK_ALLOC(m->lora);
    if (!substrate) {
        CHECK(param_arena_embed(&m->embed, d->V, d->D));
        param_init_values(&m->embed, rng);
        m->embed.trainable = true;
    }
    CHECK(param_arena_head(&m->head, d->D, d->V, d->init_std));
    param_init_values(&m->head, rng);
    m->head.trainable = true;
out:
    if (st != ST_OK) model_free(m);
    return st;
}

void model_free(model *m)
{
    if (!m) return;
    model_train_release(m);
    for (int l = 0; m->blocks && l < m->dims.L; l++) param_arena_free(&m->blocks[l]);
    for (int l = 0; m->lora && l < m->dims.L; l++) lora_free(&m->lora[l]);
    free(m->blocks);
    free(m->lora);
    param_arena_free(&m->embed);
    param_arena_free(&m->head);
    memset(m, 0, sizeof *m);
}

st_status model_add_block(model *m, rng_t *rng)
{
    st_status st = ST_OK;
    const model_dims *d = &m->dims;
    if (m->n_blocks >= d->L)
        FAIL(ST_EUSAGE, "model: cannot add block %d, the model is built for %d blocks",
             m->n_blocks + 1, d->L);
    param_arena *a = &m->blocks[m->n_blocks];
    CHECK(param_arena_block(a, d->D, d->F, d->L, d->init_std));
    param_init_values(a, rng);
    a->trainable = true;
    m->n_blocks++;
out:
    return st;
}

const float *model_embed_table(const model *m)
{
    return m->substrate ? m->substrate : m->embed.w;
}

size_t model_param_count(const model *m)
{
    size_t n = m->substrate ? 0 : m->embed.numel;
    n += m->head.numel;
    for (int l = 0; l < m->n_blocks; l++) n += m->blocks[l].numel + m->lora[l].p.numel;
    return n;
}

void model_print(const model *m, FILE *f)
{
    char title[32];
    if (!m->substrate) param_arena_print(&m->embed, "embed", f);
    for (int l = 0; l < m->n_blocks; l++) {
        snprintf(title, sizeof title, "block_%03d", l);
        param_arena_print(&m->blocks[l], title, f);
        if (m->lora[l].r) {
            snprintf(title, sizeof title, "block_%03d.lora", l);
            param_arena_print(&m->lora[l].p, title, f);
        }
    }
    param_arena_print(&m->head, "head", f);
    fprintf(f, "total %zu floats (incl. alignment padding), %zu trainable\n", model_param_count(m),
            m->n_train);
}

st_status model_lora_add(model *m, int l, int r, float alpha, rng_t *rng)
{
    st_status st = ST_OK;
    if (l < 0 || l >= m->n_blocks) FAIL(ST_EUSAGE, "LoRA: block %d does not exist", l);
    if (m->lora[l].r) FAIL(ST_EUSAGE, "LoRA: block %d already has adapters", l);
    model_train_release(m); /* the grad layout changes */
    CHECK(lora_init(&m->lora[l], m->dims.D, m->dims.F, r, alpha, rng));
out:
    return st;
}

st_status model_lora_merge(model *m, int l)
{
    st_status st = ST_OK;
    if (l < 0 || l >= m->n_blocks || !m->lora[l].r) FAIL(ST_EUSAGE, "LoRA: block %d has no adapters", l);
    model_train_release(m);
    lora_merge_into(&m->lora[l], &m->blocks[l], m->dims.D, m->dims.F);
    lora_free(&m->lora[l]);
out:
    return st;
}

/* ---- training buffers --------------------------------------------------- */

int model_trainable_arenas(model *m, param_arena **out, int cap)
{
    int n = 0;
#define ADD(a)                                                                                     \
    do {                                                                                           \
        if ((a)->trainable && (a)->w) {                                                            \
            if (n < cap) out[n] = (a);                                                             \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)
    if (!m->substrate) ADD(&m->embed);
    for (int l = 0; l < m->n_blocks; l++) ADD(&m->blocks[l]);
    for (int l = 0; l < m->n_blocks; l++)
        if (m->lora[l].r) ADD(&m->lora[l].p);
    ADD(&m->head);
#undef ADD
    return n;
}

static void clear_views(param_arena *a)
{
    a->g = a->m = a->v = NULL;
    a->sharded = false;
    a->own_first = a->own_count = 0;
}

void model_train_release(model *m)
{
    free(m->grad);
    free(m->adam_m);
    free(m->adam_v);
    m->grad = m->adam_m = m->adam_v = NULL;
    m->n_train = m->n_moments = 0;
    clear_views(&m->embed);
    clear_views(&m->head);
    for (int l = 0; m->blocks && l < m->dims.L; l++) clear_views(&m->blocks[l]);
    for (int l = 0; m->lora && l < m->dims.L; l++) clear_views(&m->lora[l].p);
}

st_status model_train_setup(model *m) { return model_train_setup_shard(m, NULL, NULL); }

st_status model_train_setup_shard(model *m, const size_t *first, const size_t *count)
{
    st_status st = ST_OK;
    model_train_release(m);
    int cap = MODEL_ARENAS(m->dims.L);
    param_arena **list = calloc((size_t)cap, sizeof *list);
    CHECK_ALLOC(list);
    int n = model_trainable_arenas(m, list, cap);
    size_t total = 0, moments = 0;
    for (int i = 0; i < n; i++) {
        total += list[i]->numel;
        if (first && (first[i] > list[i]->numel || count[i] > list[i]->numel - first[i]))
            FAIL(ST_ERR, "optimizer shard %zu+%zu lies outside an arena of %zu floats", first[i], count[i],
                 list[i]->numel);
        moments += first ? count[i] : list[i]->numel;
    }
    m->grad = param_falloc(total);
    /* one float at least: an empty shard (fewer elements than ranks) is still a buffer */
    m->adam_m = param_falloc(moments ? moments : 1);
    m->adam_v = param_falloc(moments ? moments : 1);
    CHECK_ALLOC(m->grad);
    CHECK_ALLOC(m->adam_m);
    CHECK_ALLOC(m->adam_v);
    m->n_train = total;
    m->n_moments = moments;
    size_t off = 0, moff = 0;
    for (int i = 0; i < n; i++) {
        list[i]->g = m->grad + off;
        list[i]->m = m->adam_m + moff;
        list[i]->v = m->adam_v + moff;
        list[i]->sharded = first != NULL;
        list[i]->own_first = first ? first[i] : 0;
        list[i]->own_count = first ? count[i] : list[i]->numel;
        off += list[i]->numel;
        moff += list[i]->own_count;
    }
out:
    free(list);
    if (st != ST_OK) model_train_release(m);
    return st;
}

void model_zero_grad(model *m)
{
    if (m->grad) memset(m->grad, 0, m->n_train * sizeof(float));
}

double model_optim_step(model *m, const adamw_cfg *cfg, double lr, long t)
{
    int cap = MODEL_ARENAS(m->dims.L);
    param_arena **arenas = malloc((size_t)cap * sizeof *arenas);
    if (!arenas) return NAN;
    int n = model_trainable_arenas(m, arenas, cap);
    double norm = adamw_step(arenas, n, cfg, lr, t);
    free(arenas);
    return norm;
}

static bool block_needs_grad(const model *m, int l)
{
    const param_arena *p = &m->blocks[l];
    const lora_t *lo = &m->lora[l];
    return (p->trainable && p->g) || (lo->r && lo->p.trainable && lo->p.g);
}

static bool embed_needs_grad(const model *m, int start)
{
    return start == 0 && !m->substrate && m->embed.trainable && m->embed.g;
}

int model_backward_floor(const model *m, int start, int depth)
{
    if (embed_needs_grad(m, start)) return start;
    for (int l = start; l < depth; l++)
        if (block_needs_grad(m, l)) return l;
    return depth;
}

/* ---- workspace ---------------------------------------------------------- */

static st_status acts_alloc(ws_pool *pl, block_acts *a, size_t N, size_t D, size_t F, size_t att,
                            int r_max)
{
    st_status st = ST_OK;
    memset(a, 0, sizeof *a);
    CHECK_ALLOC(a->a1 = pool_take(pl, N * D));
    CHECK_ALLOC(a->rstd1 = pool_take(pl, N));
    CHECK_ALLOC(a->qkv = pool_take(pl, N * 3 * D));
    CHECK_ALLOC(a->att = pool_take(pl, att));
    CHECK_ALLOC(a->ao = pool_take(pl, N * D));
    CHECK_ALLOC(a->x1 = pool_take(pl, N * D));
    CHECK_ALLOC(a->m = pool_take(pl, N * D));
    CHECK_ALLOC(a->rstd2 = pool_take(pl, N));
    CHECK_ALLOC(a->hpre = pool_take(pl, N * F));
    CHECK_ALLOC(a->hg = pool_take(pl, N * F));
    for (int j = 0; r_max > 0 && j < LORA_NMATS; j++) CHECK_ALLOC(a->lu[j] = pool_take(pl, N * r_max));
out:
    return st;
}

st_status model_ws_init(model_ws *ws, const model_dims *d, int B, int T, int n_keep, int r_max)
{
    st_status st = ST_OK;
    memset(ws, 0, sizeof *ws);
    ws_pool *pl = calloc(1, sizeof *pl);
    CHECK_ALLOC(pl);
    ws->mem = pl;
    if (B < 1 || T < 1 || n_keep < 0 || r_max < 0)
        FAIL(ST_EUSAGE, "workspace: bad shape B=%d T=%d n_keep=%d r_max=%d", B, T, n_keep, r_max);
    CHECK(model_dims_check(d));
    ws->cap_B = B;
    ws->cap_T = T;
    ws->n_keep = n_keep;
    ws->r_max = r_max;
    ws->D = d->D;
    ws->H = d->H;
    ws->F = d->F;
    ws->V = d->V;
    size_t N = (size_t)B * T, D = d->D, F = d->F, att = (size_t)B * d->H * T * T;
    int hd = d->D / d->H;
    block_ctx *c = &ws->ctx;
    c->D = d->D;
    c->H = d->H;
    c->hd = hd;
    c->F = d->F;
    c->eps = d->eps;
    c->cap_T = T;
    CHECK_ALLOC(c->rope_cos = pool_take(pl, (size_t)T * hd / 2));
    CHECK_ALLOC(c->rope_sin = pool_take(pl, (size_t)T * hd / 2));
    op_rope_tables(c->rope_cos, c->rope_sin, T, hd, d->theta);

    ws->acts = calloc((size_t)n_keep + 1, sizeof *ws->acts);
    ws->xs = calloc((size_t)n_keep + 1, sizeof *ws->xs);
    CHECK_ALLOC(ws->acts);
    CHECK_ALLOC(ws->xs);
    for (int i = 0; i < n_keep; i++) CHECK(acts_alloc(pl, &ws->acts[i], N, D, F, att, r_max));
    for (int i = 0; i <= n_keep; i++) CHECK_ALLOC(ws->xs[i] = pool_take(pl, N * D));
    CHECK(acts_alloc(pl, &ws->scratch, N, D, F, att, r_max));
    for (int i = 0; i < 2; i++) {
        CHECK_ALLOC(ws->tmp[i] = pool_take(pl, N * D));
        CHECK_ALLOC(ws->dx[i] = pool_take(pl, N * D));
    }
    block_scratch *s = &ws->bscr;
    CHECK_ALLOC(s->dqkv = pool_take(pl, N * 3 * D));
    CHECK_ALLOC(s->dh = pool_take(pl, N * F));
    CHECK_ALLOC(s->dao = pool_take(pl, N * D));
    CHECK_ALLOC(s->dx1 = pool_take(pl, N * D));
    CHECK_ALLOC(s->dn = pool_take(pl, N * D));
    CHECK_ALLOC(s->dp = pool_take(pl, (size_t)T * T));
    CHECK_ALLOC(s->du = pool_take(pl, N * (r_max > 0 ? r_max : 1)));
    head_acts *h = &ws->head;
    CHECK_ALLOC(h->xn = pool_take(pl, N * D));
    CHECK_ALLOC(h->rstd = pool_take(pl, N));
    CHECK_ALLOC(h->logits = pool_take(pl, N * d->V));
    CHECK_ALLOC(h->lse = pool_take(pl, N));
out:
    if (st != ST_OK) model_ws_free(ws);
    return st;
}

void model_ws_free(model_ws *ws)
{
    if (!ws) return;
    ws_pool *pl = ws->mem;
    if (pl) {
        for (int i = 0; i < pl->n; i++) free(pl->p[i]);
        free(pl->p);
        free(pl);
    }
    free(ws->acts);
    free(ws->xs);
    memset(ws, 0, sizeof *ws);
}

/* ---- forward ------------------------------------------------------------ */

static st_status embed_tokens(const model *m, float *x, const model_batch *batch, int B, int T)
{
    st_status st = ST_OK;
    const float *E = model_embed_table(m);
    int D = m->dims.D, V = m->dims.V;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int32_t id = batch->tokens[(size_t)b * batch->ld + t];
            if (id < 0 || id >= V)
                FAIL(ST_EDATA, "token id %d at batch row %d position %d is outside the vocabulary [0, %d)",
                     (int)id, b, t, V);
            memcpy(x + ((size_t)b * T + t) * D, E + (size_t)id * D, (size_t)D * sizeof(float));
        }
out:
    return st;
}

st_status model_forward_blocks(model *m, model_ws *ws, const model_batch *batch, const float *x_in,
                               int start, int depth, int B, int T, bool train)
{
    st_status st = ST_OK;
    if (start < 0 || start > depth || depth > m->n_blocks)
        FAIL(ST_EUSAGE, "forward: blocks [%d, %d) not within the %d built blocks", start, depth,
             m->n_blocks);
    if (B < 1 || T < 1 || B > ws->cap_B || T > ws->cap_T)
        FAIL(ST_EUSAGE, "forward: batch %d x %d exceeds the workspace (%d x %d)", B, T, ws->cap_B,
             ws->cap_T);
    if (start == 0 && (!batch || !batch->tokens || batch->ld < T))
        FAIL(ST_EUSAGE, "forward from block 0 needs tokens with a row stride >= %d", T);
    if (start > 0 && !x_in) FAIL(ST_EUSAGE, "forward from block %d needs the input x_%d", start, start - 1);
    for (int l = start; l < depth; l++)
        if (m->lora[l].r > ws->r_max)
            FAIL(ST_EUSAGE, "forward: block %d has LoRA rank %d > workspace r_max %d", l,
                 m->lora[l].r, ws->r_max);
    if (ws->D != m->dims.D || ws->H != m->dims.H || ws->F != m->dims.F || ws->V != m->dims.V)
        FAIL(ST_EUSAGE, "forward: workspace built for D=%d H=%d F=%d V=%d, model has D=%d H=%d F=%d V=%d",
             ws->D, ws->H, ws->F, ws->V, m->dims.D, m->dims.H, m->dims.F, m->dims.V);
    int floor = train ? model_backward_floor(m, start, depth) : depth;
    if (depth - floor > ws->n_keep)
        FAIL(ST_EUSAGE, "forward: %d blocks need activations for backward, workspace keeps %d",
             depth - floor, ws->n_keep);
    size_t nd = (size_t)B * T * m->dims.D;

    float *cur = (floor == start && floor < depth) ? ws->xs[0] : ws->tmp[0];
    if (start == 0)
        CHECK(embed_tokens(m, cur, batch, B, T));
    else if (x_in != cur)
        memmove(cur, x_in, nd * sizeof(float));
    for (int l = start; l < depth; l++) {
        float *out;
        block_acts *a;
        if (l >= floor) {
            a = &ws->acts[l - floor];
            out = ws->xs[l - floor + 1];
        } else {
            a = &ws->scratch;
            out = (l + 1 == floor) ? ws->xs[0] : (cur == ws->tmp[0] ? ws->tmp[1] : ws->tmp[0]);
        }
        const lora_t *lo = m->lora[l].r ? &m->lora[l] : NULL;
        block_forward(&ws->ctx, &m->blocks[l], lo, a, B, T, cur, out);
        cur = out;
    }
    ws->out = cur;
    ws->B = B;
    ws->T = T;
    ws->train = train;
    ws->have_loss = false;
    ws->start = start;
    ws->depth = depth;
    ws->floor = floor;
    ws->tokens = start == 0 ? batch->tokens : NULL;
    ws->ld = batch ? batch->ld : T;
out:
    return st;
}

const float *model_ws_output(const model_ws *ws) { return ws->out; }

st_status model_forward_head(model *m, model_ws *ws, const float *x, const model_batch *batch,
                             double *loss, long *correct)
{
    st_status st = ST_OK;
    int N = ws->B * ws->T;
    if (N < 1 || !x) FAIL(ST_EUSAGE, "head: no forward has set the batch shape");
    head_forward(&m->head, &ws->head, x, N, m->dims.D, m->dims.V, m->dims.eps);
    ws->head_x = NULL; /* set only when dlogits are ready for model_backward */
    ws->have_loss = false;
    if (batch && batch->targets) {
        if (ws->train && op_precision_get() == OP_BF16 && !ws->head.dlogits16) {
            /* the bf16 copy of dlogits (head.h), made once for the workspace */
            size_t n16 = (size_t)ws->cap_B * ws->cap_T * m->dims.V;
            CHECK_ALLOC(ws->head.dlogits16 = (uint16_t *)pool_take(ws->mem, (n16 + 1) / 2));
        }
        if (batch->ld < ws->T) FAIL(ST_EUSAGE, "head: target row stride %d < T %d", batch->ld, ws->T);
        for (int b = 0; b < ws->B; b++)
            for (int t = 0; t < ws->T; t++) {
                int32_t id = batch->targets[(size_t)b * batch->ld + t];
                if (id < 0 || id >= m->dims.V)
                    FAIL(ST_EDATA, "target id %d at batch row %d position %d is outside [0, %d)",
                         (int)id, b, t, m->dims.V);
            }
        /* training: loss and dlogits in one pass over the [N, V] logits */
        double sum = ws->train ? head_loss_grad(&ws->head, batch->targets, N, ws->T, batch->ld,
                                                m->dims.V, 1.0f / (float)N, correct)
                               : head_loss(&ws->head, batch->targets, N, ws->T, batch->ld,
                                           m->dims.V, correct);
        if (loss) *loss = sum / N;
        ws->have_loss = true;
        ws->head_x = ws->train ? x : NULL;
        ws->targets = batch->targets;
        ws->ld = batch->ld;
    }
out:
    return st;
}

st_status model_forward(model *m, model_ws *ws, const model_batch *batch, const float *x_in,
                        int start, int depth, int B, int T, bool train, double *loss)
{
    st_status st = ST_OK;
    CHECK(model_forward_blocks(m, ws, batch, x_in, start, depth, B, T, train));
    CHECK(model_forward_head(m, ws, ws->out, batch, loss, NULL));
out:
    return st;
}

/* ---- backward ----------------------------------------------------------- */

st_status model_backward(model *m, model_ws *ws) { return model_backward_hooked(m, ws, NULL, NULL); }

/* Tell the caller that a's gradient is final (only arenas being trained). */
#define READY(a)                                                                                   \
    do {                                                                                           \
        if (ready && (a)->trainable && (a)->g) CHECK(ready(ctx, (a)));                             \
    } while (0)

st_status model_backward_hooked(model *m, model_ws *ws, model_grad_ready_fn ready, void *ctx)
{
    st_status st = ST_OK;
    if (!ws->train || !ws->have_loss || !ws->head_x)
        FAIL(ST_EUSAGE, "backward: the last forward did not keep activations or had no targets");
    int B = ws->B, T = ws->T, N = B * T, D = m->dims.D;
    size_t nd = (size_t)N * D;
    bool emb = embed_needs_grad(m, ws->start);
    bool need_dx = ws->floor < ws->depth || emb;
    float *d = need_dx ? ws->dx[0] : NULL;
    if (d) memset(d, 0, nd * sizeof(float));
    head_backward_dlogits(&m->head, &ws->head, ws->head_x, d, N, D, m->dims.V);
    READY(&m->head);
    for (int l = ws->depth - 1; l >= ws->floor; l--) {
        int slot = l - ws->floor;
        bool want = l > ws->floor || emb;
        float *nd_buf = (d == ws->dx[0]) ? ws->dx[1] : ws->dx[0];
        if (want) memset(nd_buf, 0, nd * sizeof(float));
        const lora_t *lo = m->lora[l].r ? &m->lora[l] : NULL;
        block_backward(&ws->ctx, &m->blocks[l], lo, &ws->acts[slot], &ws->bscr, B, T, ws->xs[slot],
                       d, want ? nd_buf : NULL);
        if (lo) READY(&m->lora[l].p);
        READY(&m->blocks[l]);
        d = want ? nd_buf : NULL;
    }
    if (emb) {
        /* scatter-add the input gradient into the table rows of the tokens */
        float *G = param_ptr_in(&m->embed, m->embed.g, EMB_TOK);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                const float *src = d + ((size_t)b * T + t) * D;
                float *dst = G + (size_t)ws->tokens[(size_t)b * ws->ld + t] * D;
                for (int i = 0; i < D; i++) dst[i] += src[i];
            }
        READY(&m->embed);
    }
out:
    return st;
}
#undef READY
