/* test_combine.c -- the three ways members combine (eval.h, docs/MODEL.md
 * "Ensembles") against a hand computation on bigram members whose logits are
 * known in closed form; one member = itself bit for bit; the posterior
 * follows the member that predicts the context; identical members = one
 * member; priors; members of different depths; eval_depths_mix against
 * eval_target_logprobs and against each member alone; the ensemble file
 * keeps mode and priors and refuses bad ones.  Runs on 1 and 3 ranks. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "strata/ckpt_model.h"
#include "strata/eval.h"
#include "strata/generate.h"
#include "strata/h5.h"
#include "strata/layout.h"
#include "strata/params.h"
#include "strata/tokenizer.h"

/* Bigram members: V = D = 8, the substrate row of token v is sqrt(D) e_v and
 * every block adds nothing (zero output projections), so the head sees
 * rmsnorm(sqrt(D) e_v) = sqrt(D/(1+eps)) e_v and member j's logits after
 * token v are z_j[q] = c_j [q == (v + shift_j) mod V] at every depth. */
enum { V = 8, DD = 8, T = 12, R = 4, NB = 2 };

typedef struct bigram {
    float sub[V * DD]; /* [V, D] */
    model m[3];
    double c[3];
    int shift[3];
} bigram;

static void bigram_member(bigram *g, int j, double c, int shift)
{
    model_dims d;
    model_dims_default(&d, DD, 2, 8, V, NB);
    rng_t r;
    rng_init(&r, 7 + (uint64_t)j, 0, RNG_INIT);
    ST_ASSERT_OK(model_init(&g->m[j], &d, g->sub, &r));
    for (int l = 0; l < NB; l++) {
        ST_ASSERT_OK(model_add_block(&g->m[j], &r));
        memset(param_ptr(&g->m[j].blocks[l], BLK_ATTN_OUT_W), 0, sizeof(float) * DD * DD);
        memset(param_ptr(&g->m[j].blocks[l], BLK_MLP_OUT_W), 0, sizeof(float) * DD * 8);
    }
    const double s = sqrt((double)DD / (1.0 + (double)d.eps)); /* the rmsnorm output scale */
    float *W = param_ptr(&g->m[j].head, HEAD_OUT_W);         /* [V, D] */
    memset(W, 0, sizeof(float) * V * DD);
    for (int v = 0; v < V; v++) W[((v + shift) % V) * DD + v] = (float)(c / s);
    g->c[j] = c;
    g->shift[j] = shift;
}

static void bigram_build(bigram *g)
{
    memset(g, 0, sizeof *g);
    for (int v = 0; v < V; v++) g->sub[v * DD + v] = sqrtf((float)DD);
    bigram_member(g, 0, 8.0, 1); /* confident: next = v + 1 */
    bigram_member(g, 1, 5.0, 3); /* next = v + 3 */
    bigram_member(g, 2, 8.0, 1); /* identical to member 0 (other init of the unused weights) */
}

static void bigram_free(bigram *g)
{
    for (int j = 0; j < 3; j++) model_free(&g->m[j]);
}

/* log p_j(y | previous token v), in closed form. */
static double hand_lp(const bigram *g, int j, int v, int y)
{
    const double c = g->c[j];
    const double lse = log(exp(c) + (V - 1));
    return (y == (v + g->shift[j]) % V ? c : 0.0) - lse;
}

/* Rows: 0 follows member 0's rule, 1 member 1's, 2 member 0 then member 1,
 * 3 pseudo-random. */
static void bigram_rows(int32_t *rows /* [R, T + 1] */)
{
    uint32_t h = 12345;
    for (int i = 0; i < R; i++) {
        int32_t *r = rows + i * (T + 1);
        r[0] = i;
        for (int t = 1; t <= T; t++) {
            h = h * 1103515245u + 12345u;
            int step = i == 0 ? 1 : i == 1 ? 3 : i == 2 ? (t <= T / 2 ? 1 : 3) : (int)(h >> 16) % V;
            r[t] = (r[t - 1] + step) % V;
        }
    }
}

/* The hand reference of mode `how` for members js[0..n), prior w (normalised). */
static void hand_mix(const bigram *g, const int *js, int n, const double *w, ckpt_combine how, const int32_t *rows,
                     double *logp /* [R, T] */, uint8_t *hit /* [R, T] */)
{
    for (int i = 0; i < R; i++) {
        const int32_t *r = rows + i * (T + 1);
        double lw[3];
        for (int a = 0; a < n; a++) lw[a] = log(w[a]);
        for (int t = 0; t < T; t++) {
            int v = r[t], y = r[t + 1];
            double norm = 0, best = -INFINITY, p = 0;
            for (int a = 0; a < n; a++) norm += exp(lw[a]);
            int arg = 0;
            for (int q = 0; q < V; q++) {
                double pq = 0;
                if (how == CKPT_MEAN_LOGITS) {
                    double z = 0, lse = 0;
                    for (int a = 0; a < n; a++) z += w[a] * (q == (v + g->shift[js[a]]) % V ? g->c[js[a]] : 0);
                    for (int u = 0; u < V; u++) {
                        double zu = 0;
                        for (int a = 0; a < n; a++)
                            zu += w[a] * (u == (v + g->shift[js[a]]) % V ? g->c[js[a]] : 0);
                        lse += exp(zu);
                    }
                    pq = exp(z) / lse;
                } else {
                    for (int a = 0; a < n; a++) pq += exp(lw[a]) / norm * exp(hand_lp(g, js[a], v, q));
                }
                if (pq > best + 1e-12) {
                    best = pq;
                    arg = q;
                }
                if (q == y) p = pq;
            }
            logp[i * T + t] = log(p);
            hit[i * T + t] = arg == y;
            if (how == CKPT_POSTERIOR)
                for (int a = 0; a < n; a++) lw[a] += hand_lp(g, js[a], v, y);
        }
    }
}

static void logprobs(bigram *g, const int *js, int n, ckpt_combine how, const double *prior, const int32_t *rows,
                     int lo, int hi, double *logp, uint8_t *hit, double *mlp)
{
    eval_member mem[3] = {{0}};
    for (int a = 0; a < n; a++) mem[a].m = &g->m[js[a]];
    eval_chunks d = {.chunks = rows, .chars = NULL, .ids = NULL, .n = R, .T = T};
    eval_positions out = {.logp = logp, .hit = hit, .member_logp = mlp};
    ST_ASSERT_OK(eval_target_logprobs(mem, n, how, prior, &d, lo, hi, 3, &out));
}

static void test_hand(void **state)
{
    (void)state;
    bigram g;
    bigram_build(&g);
    int32_t rows[R * (T + 1)];
    bigram_rows(rows);
    const int js[2] = {0, 1};
    const ckpt_combine modes[3] = {CKPT_MEAN_LOGITS, CKPT_MEAN_PROBS, CKPT_POSTERIOR};
    const double uni[2] = {0.5, 0.5}, skew[2] = {0.8, 0.2}, raw[2] = {4.0, 1.0};
    for (int mi = 0; mi < 3; mi++)
        for (int pi = 0; pi < 2; pi++) {
            double got[NB * R * T], want[R * T], mlp[2 * NB * R * T];
            uint8_t hit[NB * R * T], hwant[R * T];
            logprobs(&g, js, 2, modes[mi], pi ? raw : NULL, rows, 1, NB, got, hit, mlp);
            hand_mix(&g, js, 2, pi ? skew : uni, modes[mi], rows, want, hwant);
            double worst = 0;
            for (int k = 0; k < NB; k++)
                for (int p = 0; p < R * T; p++) {
                    worst = fmax(worst, fabs(got[k * R * T + p] - want[p]));
                    assert_int_equal(hit[k * R * T + p], hwant[p]);
                    /* each member alone, at every depth */
                    for (int a = 0; a < 2; a++) {
                        const int32_t *r = rows + (p / T) * (T + 1);
                        double lp = hand_lp(&g, js[a], r[p % T], r[p % T + 1]);
                        assert_true(fabs(mlp[(a * NB + k) * R * T + p] - lp) < 1e-5);
                    }
                }
            if (st_test_rank() == 0) printf("# %s prior %s: largest |logp - hand| %.3g\n",
                                            ckpt_combine_name(modes[mi]), pi ? "4:1" : "uniform", worst);
            assert_true(worst < 1e-5);
        }
    /* the posterior follows the member that predicts the context: row 0 is
     * member 0's rule, so after a few tokens the mixture is member 0 (to
     * within its vanishing weight on member 1), while mean-probs pays log 2 */
    double post[NB * R * T], mp[NB * R * T], mlp[2 * NB * R * T];
    logprobs(&g, js, 2, CKPT_POSTERIOR, NULL, rows, 1, NB, post, NULL, mlp);
    logprobs(&g, js, 2, CKPT_MEAN_PROBS, NULL, rows, 1, NB, mp, NULL, NULL);
    for (int t = 4; t < T; t++) {
        assert_true(fabs(post[t] - mlp[t]) < 1e-4);                /* row 0, member 0 */
        assert_true(fabs(post[T + t] - mlp[NB * R * T + T + t]) < 1e-3); /* row 1, member 1 */
        assert_true(mp[t] < mlp[t] - 0.5);
    }
    /* row 2 switches rule at T/2: the posterior is worse than member 1 right
     * after the switch but recovers within a few tokens */
    assert_true(post[2 * T + T / 2] < mlp[NB * R * T + 2 * T + T / 2] - 1.0);
    assert_true(fabs(post[2 * T + T - 1] - mlp[NB * R * T + 2 * T + T - 1]) < 0.1);
    bigram_free(&g);
}

static void test_one_and_identical(void **state)
{
    (void)state;
    bigram g;
    bigram_build(&g);
    int32_t rows[R * (T + 1)];
    bigram_rows(rows);
    const int one[1] = {1}, same[2] = {0, 2};
    double ref[NB * R * T], x[NB * R * T];
    uint8_t href[NB * R * T], hx[NB * R * T];
    logprobs(&g, one, 1, CKPT_MEAN_LOGITS, NULL, rows, 1, NB, ref, href, NULL);
    for (int mode = CKPT_MEAN_PROBS; mode <= CKPT_POSTERIOR; mode++) {
        const double prior[1] = {3.0};
        logprobs(&g, one, 1, (ckpt_combine)mode, prior, rows, 1, NB, x, hx, NULL);
        assert_memory_equal(x, ref, sizeof ref); /* bit for bit */
        assert_memory_equal(hx, href, sizeof href);
    }
    /* identical members: every mode is the member */
    double single[NB * R * T];
    logprobs(&g, same, 1, CKPT_MEAN_LOGITS, NULL, rows, 1, NB, single, NULL, NULL);
    for (int mode = CKPT_MEAN_LOGITS; mode <= CKPT_POSTERIOR; mode++) {
        logprobs(&g, same, 2, (ckpt_combine)mode, NULL, rows, 1, NB, x, NULL, NULL);
        for (int p = 0; p < NB * R * T; p++) assert_true(fabs(x[p] - single[p]) < 1e-12);
    }
    /* prior 1:0 in the mixtures is the first member exactly */
    const int two[2] = {1, 0};
    const double only[2] = {1.0, 0.0};
    for (int mode = CKPT_MEAN_PROBS; mode <= CKPT_POSTERIOR; mode++) {
        logprobs(&g, two, 2, (ckpt_combine)mode, only, rows, 1, NB, x, NULL, NULL);
        assert_memory_equal(x, ref, sizeof ref);
    }
    /* bad priors and modes */
    eval_member mem[2] = {{.m = &g.m[0]}, {.m = &g.m[1]}};
    eval_chunks d = {.chunks = rows, .ids = NULL, .n = R, .T = T};
    eval_positions out = {.logp = x};
    const double neg[2] = {1.0, -1.0}, zero[2] = {0.0, 0.0}, nan2[2] = {NAN, 1.0};
    assert_int_equal(eval_target_logprobs(mem, 2, CKPT_POSTERIOR, neg, &d, 1, 1, 2, &out), ST_EUSAGE);
    assert_int_equal(eval_target_logprobs(mem, 2, CKPT_POSTERIOR, zero, &d, 1, 1, 2, &out), ST_EUSAGE);
    assert_int_equal(eval_target_logprobs(mem, 2, CKPT_POSTERIOR, nan2, &d, 1, 1, 2, &out), ST_EUSAGE);
    assert_int_equal(eval_target_logprobs(mem, 2, (ckpt_combine)7, NULL, &d, 1, 1, 2, &out), ST_EUSAGE);
    assert_int_equal(eval_target_logprobs(mem, 2, CKPT_POSTERIOR, NULL, &d, 1, NB + 1, 2, &out), ST_EUSAGE);
    bigram_free(&g);
}

/* eval_depths_mix = sums of eval_target_logprobs; its member rows = each
 * member evaluated alone; members of different depths combine at
 * min(k, depth). */
static void test_depths_mix(void **state)
{
    (void)state;
    bigram g;
    bigram_build(&g);
    /* member 1 keeps one block: at depth 2 it contributes its depth 1 */
    model_free(&g.m[1]);
    model_dims dd;
    model_dims_default(&dd, DD, 2, 8, V, 1);
    {
        bigram h;
        bigram_build(&h); /* only to borrow the closed-form head of member 1 */
        rng_t r;
        rng_init(&r, 99, 0, RNG_INIT);
        ST_ASSERT_OK(model_init(&g.m[1], &dd, g.sub, &r));
        ST_ASSERT_OK(model_add_block(&g.m[1], &r));
        memcpy(param_ptr(&g.m[1].head, HEAD_OUT_W), param_ptr(&h.m[1].head, HEAD_OUT_W), sizeof(float) * V * DD);
        bigram_free(&h);
    }
    int32_t rows[R * (T + 1)];
    bigram_rows(rows);
    double chars[R] = {10, 11, 12, 13};
    long ids[R] = {3, 1, 0, 2};
    eval_chunks d = {.chunks = rows, .chars = chars, .ids = ids, .n = R, .T = T};
    eval_member mem[2] = {{.m = &g.m[0]}, {.m = &g.m[1]}};
    for (int mode = CKPT_MEAN_LOGITS; mode <= CKPT_POSTERIOR; mode++) {
        eval_row rows_out[NB], mrows[2 * NB], alone[NB];
        ST_ASSERT_OK(eval_depths_mix(mem, 2, (ckpt_combine)mode, NULL, &d, 1, NB, 2, MPI_COMM_WORLD, rows_out, mrows));
        double lp[NB * R * T];
        uint8_t hit[NB * R * T];
        eval_positions out = {.logp = lp, .hit = hit};
        ST_ASSERT_OK(eval_target_logprobs(mem, 2, (ckpt_combine)mode, NULL, &d, 1, NB, 5, &out));
        for (int k = 0; k < NB; k++) {
            double nats = 0, hits = 0;
            for (int p = 0; p < R * T; p++) {
                nats -= lp[k * R * T + p];
                hits += hit[k * R * T + p];
            }
            assert_int_equal(rows_out[k].depth, k + 1);
            assert_true(fabs(rows_out[k].loss - nats / (R * T)) < 1e-12);
            assert_true(fabs(rows_out[k].bpc - nats / log(2.0) / 46.0) < 1e-12);
            assert_true(rows_out[k].top1 == hits / (R * T));
        }
        /* member rows: the members alone (bitwise: same arithmetic) */
        for (int j = 0; j < 2; j++) {
            int hij = g.m[j].n_blocks;
            ST_ASSERT_OK(eval_depths(&mem[j], 1, &d, 1, hij, 2, MPI_COMM_WORLD, alone));
            for (int k = 0; k < NB; k++) {
                const eval_row *a = &alone[k < hij ? k : hij - 1], *b = &mrows[j * NB + k];
                assert_int_equal(b->depth, k < hij ? k + 1 : hij);
                assert_true(a->loss == b->loss && a->top1 == b->top1 && a->bpc == b->bpc);
            }
        }
    }
    /* depth beyond the deepest member */
    eval_row bad[NB + 1];
    assert_int_equal(eval_depths_mix(mem, 2, CKPT_POSTERIOR, NULL, &d, 1, NB + 1, 2, MPI_COMM_WORLD, bad, NULL),
                     ST_EUSAGE);
    bigram_free(&g);
}

/* ---- ensemble files: mode and priors ------------------------------------ */

static const char text[] = "Call me Ishmael. Some years ago, never mind how long precisely, having little money.";

static void build_cm(ckpt_model *cm)
{
    memset(cm, 0, sizeof *cm);
    tok_options o = {.mode = TOK_MODE_COMPACT, .vocab_size = 300, .min_count = 1, .ngram_max = 2, .ngrams = 4};
    tok_counts *c = NULL;
    ST_ASSERT_OK(tok_counts_init(&c, o.ngram_max));
    ST_ASSERT_OK(tok_counts_add(c, (const uint8_t *)text, strlen(text)));
    ST_ASSERT_OK(tok_learn(c, &o, MPI_COMM_SELF, &cm->tok));
    tok_counts_free(c);
    cm->V = tok_vocab_size(cm->tok);
    cm->D = 8;
    cm->substrate = malloc(sizeof(float) * (size_t)cm->V * 8); /* [V, D] */
    rng_t r;
    rng_init(&r, 3, 0, RNG_TEST);
    for (int i = 0; i < cm->V * 8; i++) cm->substrate[i] = (float)rng_normal(&r);
    snprintf(cm->sub_kind, sizeof cm->sub_kind, "random");
    cm->sub_checksum = layout_substrate_checksum(cm->substrate, cm->V, 8);
    cm->n = 2;
    cm->mem = calloc(2, sizeof *cm->mem);
    for (int j = 0; j < 2; j++) {
        ckpt_member *mb = &cm->mem[j];
        cfg_defaults(&mb->cfg);
        mb->cfg.model.n_heads = 2;
        mb->cfg.model.d_ff = 8 * (j + 1); /* members of different width and depth */
        mb->cfg.model.n_layers = j + 1;
        mb->prior = j + 1.5;
        snprintf(mb->source, sizeof mb->source, "member%d", j);
        model_dims d;
        model_dims_default(&d, 8, 2, 8 * (j + 1), cm->V, j + 1);
        rng_t gr;
        rng_init(&gr, 40 + (uint64_t)j, 0, RNG_INIT);
        ST_ASSERT_OK(model_init(&mb->m, &d, cm->substrate, &gr));
        for (int l = 0; l <= j; l++) ST_ASSERT_OK(model_add_block(&mb->m, &gr));
    }
    cm->depth = 2;
    cm->combine = CKPT_POSTERIOR;
}

static void set_attr(const char *path, const char *obj, const char *name, const char *sval, double fval)
{
    if (st_test_rank() == 0) {
        h5_file f;
        h5_file_zero(&f);
        ST_ASSERT_OK(h5_open(&f, path, MPI_COMM_SELF, true));
        if (sval)
            ST_ASSERT_OK(h5_attr_set_str(&f, obj, name, sval));
        else
            ST_ASSERT_OK(h5_attr_set_f64(&f, obj, name, fval));
        ST_ASSERT_OK(h5_close(&f));
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static void test_file(void **state)
{
    (void)state;
    ckpt_combine how;
    assert_true(ckpt_combine_parse("mean-logits", &how) && how == CKPT_MEAN_LOGITS);
    assert_true(ckpt_combine_parse("mean_logits", &how) && how == CKPT_MEAN_LOGITS);
    assert_true(ckpt_combine_parse("mean-probs", &how) && how == CKPT_MEAN_PROBS);
    assert_true(ckpt_combine_parse("posterior", &how) && how == CKPT_POSTERIOR);
    assert_false(ckpt_combine_parse("mean-logit", &how));
    assert_false(ckpt_combine_parse("posterior2", &how));
    assert_false(ckpt_combine_parse("", &how));
    assert_string_equal(ckpt_combine_name(CKPT_MEAN_PROBS), "mean-probs");

    ckpt_model cm, back;
    build_cm(&cm);
    /* generation in every mode: members of different depths, deterministic;
     * a one-member posterior ensemble generates as mean-logits does */
    for (int mode = CKPT_MEAN_LOGITS; mode <= CKPT_POSTERIOR; mode++) {
        gen_opts o = {.depth = 2, .tokens = 16, .temperature = 1.0f, .top_k = 0, .seed = 3};
        char *g1 = NULL, *g2 = NULL;
        cm.combine = (ckpt_combine)mode;
        ST_ASSERT_OK(gen_text(&cm, "Call me", &o, &g1));
        ST_ASSERT_OK(gen_text(&cm, "Call me", &o, &g2));
        assert_string_equal(g1, g2);
        assert_true(strncmp(g1, "Call me", 7) == 0 && strlen(g1) > 7);
        free(g1);
        free(g2);
        cm.n = 1; /* the first member alone (the second stays allocated) */
        ST_ASSERT_OK(gen_text(&cm, "Call me", &o, &g1));
        cm.combine = CKPT_MEAN_LOGITS;
        ST_ASSERT_OK(gen_text(&cm, "Call me", &o, &g2));
        assert_string_equal(g1, g2);
        cm.n = 2;
        free(g1);
        free(g2);
    }
    cm.combine = CKPT_POSTERIOR;
    char dir[] = "/tmp/strata-comb.XXXXXX", path[64];
    if (st_test_rank() == 0) assert_non_null(mkdtemp(dir));
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "%s/ens.h5", dir);
    ST_ASSERT_OK(ckpt_model_save_ensemble(&cm, path, MPI_COMM_WORLD));
    ST_ASSERT_OK(ckpt_model_load(&back, path, MPI_COMM_WORLD));
    assert_int_equal(back.combine, CKPT_POSTERIOR);
    assert_int_equal(back.depth, 2); /* the deepest member */
    assert_true(back.mem[0].prior == 1.5 && back.mem[1].prior == 2.5);
    assert_int_equal(back.mem[0].m.n_blocks, 1);
    ckpt_model_free(&back);

    set_attr(path, "/", "combine", "mean_logits", 0); /* the spelling of older files */
    ST_ASSERT_OK(ckpt_model_load(&back, path, MPI_COMM_WORLD));
    assert_int_equal(back.combine, CKPT_MEAN_LOGITS);
    ckpt_model_free(&back);
    set_attr(path, "/", "combine", "geometric", 0);
    assert_int_equal(ckpt_model_load(&back, path, MPI_COMM_WORLD), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "combine"));
    assert_non_null(strstr(st_last_error(), "geometric"));
    set_attr(path, "/", "combine", "posterior", 0);
    const double bad[3] = {0.0, -1.0, NAN};
    for (int i = 0; i < 3; i++) {
        set_attr(path, "member_002", "prior", NULL, bad[i]);
        assert_int_equal(ckpt_model_load(&back, path, MPI_COMM_WORLD), ST_EDATA);
        assert_non_null(strstr(st_last_error(), "prior"));
    }
    ckpt_model_free(&cm);
    MPI_Barrier(MPI_COMM_WORLD);
    if (st_test_rank() == 0) {
        unlink(path);
        rmdir(dir);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hand),
    cmocka_unit_test(test_one_and_identical),
    cmocka_unit_test(test_depths_mix),
    cmocka_unit_test(test_file),
};
ST_TEST_MAIN(tests)
