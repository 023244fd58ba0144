/* generate.c -- KV-cache sampling from checkpoint members (see generate.h). */
#include "strata/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/eval.h"
#include "strata/ops.h"
#include "strata/log.h"
#include "strata/sample.h"
#include "strata/tokenizer.h"

/* The shortest training context among the members. */
static long members_ctx(const ckpt_model *cm)
{
    long ctx = cm->mem[0].cfg.data.ctx;
    for (int j = 1; j < cm->n; j++)
        if (cm->mem[j].cfg.data.ctx < ctx) ctx = cm->mem[j].cfg.data.ctx;
    return ctx;
}

/* log sum_q exp(r[q]) in double (as the evaluation's per-position numbers). */
static double logsumexp_f(const float *r, int V)
{
    float lse;
    const int32_t y = 0;
    return op_xent_forward(&lse, r, &y, 1, 1, 1, V) + (double)r[0];
}

/* The posterior's evidence: each member's log-probability of the token that
 * comes next (its current logits predict it). */
static void observe(const ckpt_model *cm, const kv_cache *kv, int32_t id, double *acc)
{
    if (cm->combine != CKPT_POSTERIOR || cm->n == 1) return;
    for (int j = 0; j < cm->n; j++) acc[j] += (double)kv[j].logits[id] - logsumexp_f(kv[j].logits, cm->V);
}

st_status gen_text(ckpt_model *cm, const char *prompt, const gen_opts *o, char **out)
{
    st_status st = ST_OK;
    const int V = cm->V, n = cm->n;
    const int n_gen = o->tokens > 0 ? o->tokens : 0;
    tok_buf in;
    tok_buf_init(&in);
    kv_cache *kv = calloc((size_t)n, sizeof *kv);
    float *z = malloc(sizeof(float) * (size_t)V);                              /* [V] combined logits */
    const float **zj = malloc(sizeof *zj * (size_t)n);                         /* [n] members' logits */
    double *w = malloc(sizeof(double) * (size_t)n);                            /* [n] normalised prior */
    double *acc = malloc(sizeof(double) * (size_t)n);                          /* [n] log prior + log-likelihood so far */
    double *lw = malloc(sizeof(double) * (size_t)n);                           /* [n] normalised log weights */
    double *lz = malloc(sizeof(double) * (size_t)n);                           /* [n] members' log-sum-exp */
    float *probs = malloc(sizeof(float) * (size_t)V);                          /* [V] sampling scratch */
    int32_t *gen = malloc(sizeof(int32_t) * (size_t)(n_gen > 0 ? n_gen : 1));  /* [tokens] */
    char *cont = NULL;
    size_t cont_len = 0;
    *out = NULL;
    CHECK_ALLOC(kv);
    CHECK_ALLOC(z);
    CHECK_ALLOC(probs);
    CHECK_ALLOC(gen);
    CHECK_ALLOC(zj);
    CHECK_ALLOC(w);
    CHECK_ALLOC(acc);
    CHECK_ALLOC(lw);
    CHECK_ALLOC(lz);
    double wsum = 0;
    for (int j = 0; j < n; j++) wsum += cm->mem[j].prior > 0 ? cm->mem[j].prior : 1.0;
    for (int j = 0; j < n; j++) {
        w[j] = (cm->mem[j].prior > 0 ? cm->mem[j].prior : 1.0) / wsum;
        acc[j] = log(w[j]);
        zj[j] = NULL;
    }
    if (o->depth < 1 || o->depth > cm->depth) FAIL(ST_EUSAGE, "depth %d is outside 1..%d", o->depth, cm->depth);
    CHECK(tok_encode(cm->tok, (const uint8_t *)prompt, strlen(prompt), &in, NULL));
    if (in.n == 0) CHECK(tok_buf_push(&in, tok_special_id(cm->tok, TOK_BOS), 0));
    /* A sliding window over the prompt keeps the cost bounded (generate.h). */
    const long ctx = members_ctx(cm);
    size_t skip = 0;
    if (ctx > 0 && in.n > (size_t)ctx) {
        skip = in.n - (size_t)ctx;
        log_warn("the prompt has %zu tokens but the model was trained on a context of %ld: using its last %ld",
                 in.n, ctx, ctx);
    }
    const int cap = (int)(in.n - skip) + n_gen;
    /* depth k: each member's first min(k, its blocks) blocks (eval.h) */
    for (int j = 0; j < n; j++) {
        const int nbj = cm->mem[j].m.n_blocks;
        CHECK(kv_cache_init(&kv[j], &cm->mem[j].m, o->depth < nbj ? o->depth : nbj, cap));
    }
    rng_t rng;
    rng_init(&rng, o->seed, 0, RNG_SAMPLE);
    /* Feed the prompt; posterior: every token after the first adds each
     * member's log-probability of it to that member's weight (eval.h). */
    for (size_t i = skip; i < in.n; i++) {
        if (i > skip) observe(cm, kv, in.ids[i], acc);
        for (int j = 0; j < n; j++) CHECK(model_decode_step(&cm->mem[j].m, &kv[j], in.ids[i]));
    }
    for (int t = 0; t < n_gen; t++) {
        double norm = -INFINITY;
        for (int j = 0; j < n; j++) {
            zj[j] = kv[j].logits;
            norm = fmax(norm, acc[j]);
        }
        double s = 0;
        for (int j = 0; j < n; j++) s += exp(acc[j] - norm);
        for (int j = 0; j < n; j++) {
            lw[j] = cm->combine == CKPT_MEAN_PROBS ? log(w[j]) : acc[j] - (norm + log(s));
            lz[j] = cm->combine == CKPT_MEAN_LOGITS ? 0 : logsumexp_f(kv[j].logits, V);
        }
        eval_mix_row(cm->combine, n, zj, lz, lw, w, V, z);
        /* Never emit ids without text (padding, unused bmp ids). */
        for (int q = 0; q < V; q++) {
            tok_kind k = tok_kind_of(cm->tok, q);
            if (k == TOK_UNUSED || k == TOK_SPECIAL) z[q] = -1e30f;
        }
        gen[t] = sample_token(z, V, o->temperature, o->top_k, &rng, probs);
        if (t + 1 < n_gen) {
            observe(cm, kv, gen[t], acc);
            for (int j = 0; j < n; j++) CHECK(model_decode_step(&cm->mem[j].m, &kv[j], gen[t]));
        }
    }
    CHECK(tok_decode(cm->tok, gen, (size_t)n_gen, &cont, &cont_len));
    size_t pl = strlen(prompt);
    *out = malloc(pl + cont_len + 1);
    CHECK_ALLOC(*out);
    memcpy(*out, prompt, pl);
    memcpy(*out + pl, cont, cont_len + 1);
out:
    for (int j = 0; kv && j < n; j++) kv_cache_free(&kv[j]);
    free(kv);
    free(z);
    free(zj);
    free(w);
    free(acc);
    free(lw);
    free(lz);
    free(probs);
    free(gen);
    free(cont);
    tok_buf_free(&in);
    return st;
}
