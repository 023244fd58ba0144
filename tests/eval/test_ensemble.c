/* test_ensemble.c -- ensembles average LOGITS: eval_depths against a direct
 * per-chunk computation in double (and not the mean of probabilities); an
 * ensemble file round trip evaluates and generates bitwise alike; seeded
 * generation is deterministic.  Runs on 1 and 3 ranks (chunk shares). */
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
#include "strata/layout.h"
#include "strata/tokenizer.h"

enum { D = 16, H = 2, F = 32, L = 2, T = 8, R = 7 };

static const char text[] =
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my "
    "purse, and nothing particular to interest me on shore, I thought I would sail about a little.";

/* Two members with different weights over one random substrate. */
/* Every depth 1..depth of all of cm's members, as `strata eval` does. */
static st_status eval_cm(ckpt_model *cm, const eval_chunks *d, int depth, int batch, MPI_Comm comm, eval_row *rows)
{
    eval_member mem[8] = {{0}};
    for (int j = 0; j < cm->n && j < 8; j++) mem[j].m = &cm->mem[j].m;
    return eval_depths(mem, cm->n, d, 1, depth, batch, comm, rows);
}

static void build(ckpt_model *cm, int n)
{
    memset(cm, 0, sizeof *cm);
    tok_options o = {.mode = TOK_MODE_COMPACT, .vocab_size = 300, .min_count = 1, .ngram_max = 3, .ngrams = 10};
    tok_counts *c = NULL;
    ST_ASSERT_OK(tok_counts_init(&c, o.ngram_max));
    ST_ASSERT_OK(tok_counts_add(c, (const uint8_t *)text, strlen(text)));
    ST_ASSERT_OK(tok_learn(c, &o, MPI_COMM_SELF, &cm->tok));
    tok_counts_free(c);
    cm->V = tok_vocab_size(cm->tok);
    cm->D = D;
    cm->substrate = malloc(sizeof(float) * (size_t)cm->V * D); /* [V, D] */
    rng_t r;
    rng_init(&r, 11, 0, RNG_TEST);
    for (int i = 0; i < cm->V * D; i++) cm->substrate[i] = (float)rng_normal(&r);
    snprintf(cm->sub_kind, sizeof cm->sub_kind, "random");
    cm->sub_checksum = layout_substrate_checksum(cm->substrate, cm->V, D);
    cm->n = n;
    cm->depth = L;
    cm->mem = calloc((size_t)n, sizeof *cm->mem);
    for (int j = 0; j < n; j++) {
        ckpt_member *mb = &cm->mem[j];
        cfg_defaults(&mb->cfg);
        mb->cfg.model.n_heads = H;
        mb->cfg.model.d_ff = F;
        mb->cfg.model.n_layers = L;
        snprintf(mb->source, sizeof mb->source, "member%d", j);
        mb->prior = 1.0;
        model_dims d;
        model_dims_default(&d, D, H, F, cm->V, L);
        d.init_std = 0.3; /* large weights: members disagree clearly */
        rng_t g;
        rng_init(&g, 100 + (uint64_t)j, 0, RNG_INIT);
        ST_ASSERT_OK(model_init(&mb->m, &d, cm->substrate, &g));
        for (int l = 0; l < L; l++) ST_ASSERT_OK(model_add_block(&mb->m, &g));
    }
}

static void make_data(const ckpt_model *cm, int32_t *chunks, double *chars, long *ids)
{
    rng_t r;
    rng_init(&r, 5, 0, RNG_TEST);
    for (int i = 0; i < R * (T + 1); i++) chunks[i] = (int32_t)rng_below(&r, (uint64_t)cm->V);
    for (int i = 0; i < R; i++) {
        chars[i] = 10.0 + i;
        ids[i] = R - 1 - i;
    }
}

/* Reference: one chunk at a time, logits combined in double.  mean_probs
 * selects the mixture of probabilities instead of logits. */
static void reference(ckpt_model *cm, const int32_t *chunks, int depth, bool mean_probs, double *loss_out)
{
    const int V = cm->V;
    double nats = 0;
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &cm->mem[0].m.dims, 1, T, 1, 0));
    double *z = calloc((size_t)T * V, sizeof *z); /* [T, V] */
    for (int c = 0; c < R; c++) {
        memset(z, 0, sizeof(double) * (size_t)T * V);
        model_batch b = {.tokens = chunks + c * (T + 1), .targets = NULL, .ld = T + 1};
        for (int j = 0; j < cm->n; j++) {
            ST_ASSERT_OK(model_forward_blocks(&cm->mem[j].m, &ws, &b, NULL, 0, depth, 1, T, false));
            ST_ASSERT_OK(model_forward_head(&cm->mem[j].m, &ws, model_ws_output(&ws), NULL, NULL, NULL));
            for (int t = 0; t < T; t++) {
                const float *row = ws.head.logits + (size_t)t * V;
                double mx = -INFINITY, s = 0;
                for (int q = 0; q < V; q++) mx = fmax(mx, row[q]);
                for (int q = 0; q < V; q++) s += exp(row[q] - mx);
                for (int q = 0; q < V; q++)
                    z[(size_t)t * V + q] += mean_probs ? exp(row[q] - mx) / s / cm->n : row[q] / (double)cm->n;
            }
        }
        for (int t = 0; t < T; t++) {
            const double *row = z + (size_t)t * V;
            int y = chunks[c * (T + 1) + t + 1];
            if (mean_probs) {
                nats -= log(row[y]);
            } else {
                double mx = -INFINITY, s = 0;
                for (int q = 0; q < V; q++) mx = fmax(mx, row[q]);
                for (int q = 0; q < V; q++) s += exp(row[q] - mx);
                nats += mx + log(s) - row[y];
            }
        }
    }
    *loss_out = nats / (R * T);
    free(z);
    model_ws_free(&ws);
}

static void test_mean_of_logits(void **state)
{
    (void)state;
    ckpt_model cm;
    build(&cm, 2);
    int32_t chunks[R * (T + 1)];
    double chars[R];
    long ids[R];
    make_data(&cm, chunks, chars, ids);
    eval_chunks d = {.chunks = chunks, .chars = chars, .ids = ids, .n = R, .T = T};
    eval_row rows[L];
    ST_ASSERT_OK(eval_cm(&cm, &d, L, 3, MPI_COMM_WORLD, rows));
    double total_chars = 0;
    for (int i = 0; i < R; i++) total_chars += chars[i];
    for (int k = 1; k <= L; k++) {
        double want = 0, probs = 0;
        reference(&cm, chunks, k, false, &want);
        reference(&cm, chunks, k, true, &probs);
        if (st_test_rank() == 0)
            printf("# depth %d: eval_depths %.9f, mean of logits %.9f, mean of probabilities %.9f\n", k,
                   rows[k - 1].loss, want, probs);
        assert_int_equal(rows[k - 1].depth, k);
        assert_true(fabs(rows[k - 1].loss - want) <= 1e-5 * want);
        assert_true(fabs(rows[k - 1].loss - probs) > 1e-3); /* the two mixtures differ */
        assert_true(fabs(rows[k - 1].bpc - rows[k - 1].loss * R * T / log(2.0) / total_chars) <= 1e-12);
        assert_true(rows[k - 1].tokens == R * T);
    }
    eval_row bad[1];
    assert_int_equal(eval_cm(&cm, &d, L + 1, 3, MPI_COMM_WORLD, bad), ST_EUSAGE);
    ckpt_model_free(&cm);
}

static void test_ensemble_file(void **state)
{
    (void)state;
    ckpt_model cm, back;
    build(&cm, 2);
    char dir[] = "/tmp/strata-ckm.XXXXXX", path[64];
    if (st_test_rank() == 0) assert_non_null(mkdtemp(dir));
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "%s/ens.h5", dir);
    ST_ASSERT_OK(ckpt_model_save_ensemble(&cm, path, MPI_COMM_WORLD));
    ST_ASSERT_OK(ckpt_model_load(&back, path, MPI_COMM_WORLD));
    assert_true(back.ensemble);
    assert_int_equal(back.n, 2);
    assert_int_equal(back.depth, L);
    assert_string_equal(back.mem[1].source, "member1");
    int32_t chunks[R * (T + 1)];
    double chars[R];
    long ids[R];
    make_data(&cm, chunks, chars, ids);
    eval_chunks d = {.chunks = chunks, .chars = chars, .ids = ids, .n = R, .T = T};
    eval_row a[L], b[L];
    ST_ASSERT_OK(eval_cm(&cm, &d, L, 2, MPI_COMM_WORLD, a));
    ST_ASSERT_OK(eval_cm(&back, &d, L, 2, MPI_COMM_WORLD, b));
    for (int k = 0; k < L; k++) /* bitwise: same weights, same arithmetic */
        assert_true(a[k].depth == b[k].depth && a[k].loss == b[k].loss && a[k].bpc == b[k].bpc &&
                    a[k].top1 == b[k].top1 && a[k].tokens == b[k].tokens);

    gen_opts o = {.depth = L, .tokens = 24, .temperature = 1.0f, .top_k = 0, .seed = 9};
    char *g1 = NULL, *g2 = NULL, *g3 = NULL;
    ST_ASSERT_OK(gen_text(&cm, "Call", &o, &g1));
    ST_ASSERT_OK(gen_text(&back, "Call", &o, &g2));
    o.seed = 10;
    ST_ASSERT_OK(gen_text(&back, "Call", &o, &g3));
    assert_string_equal(g1, g2);
    assert_true(strncmp(g1, "Call", 4) == 0 && strlen(g1) > 4);
    assert_true(strcmp(g1, g3) != 0);
    free(g1);
    free(g2);
    free(g3);

    /* join refuses another substrate, naming what differs */
    ckpt_model other;
    build(&other, 1);
    other.substrate[0] += 1.0f;
    other.sub_checksum = layout_substrate_checksum(other.substrate, other.V, D);
    assert_int_equal(ckpt_model_join(&cm, &other), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "substrate"));
    ckpt_model_free(&other);
    ckpt_model_free(&cm);
    ckpt_model_free(&back);
    MPI_Barrier(MPI_COMM_WORLD);
    if (st_test_rank() == 0) {
        unlink(path);
        rmdir(dir);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_mean_of_logits),
    cmocka_unit_test(test_ensemble_file),
};
ST_TEST_MAIN(tests)
