/* test_probe.c -- the induction probe and the per-position loss (probe.h):
 * the sequences are fixed by the tokenizer (two copies of ordinary ids); an
 * untrained model gains nothing from the repetition, a model trained on
 * repeated random sequences gains a lot; the per-position curve averages to
 * eval_depths' loss at every depth; and every number is the same on
 * MPI_COMM_WORLD (1 or 2 ranks) as on one rank alone. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "strata/adamw.h"
#include "strata/eval.h"
#include "strata/probe.h"
#include "strata/tokenizer.h"

enum { D = 32, H = 2, F = 64, L = 2, LEN = 8, NSEQ = 12 };

static const char text[] = "the quick brown fox jumps over the lazy dog; PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS!";

static tokenizer *tok;
static float *table; /* [V, D] frozen random substrate */
static int V;

static int setup(void **state)
{
    (void)state;
    tok_options o = {.mode = TOK_MODE_COMPACT, .vocab_size = 400, .min_count = 1, .ngram_max = 1, .ngrams = 0};
    tok_counts *c = NULL;
    if (tok_counts_init(&c, 1) != ST_OK) return -1;
    if (tok_counts_add(c, (const uint8_t *)text, strlen(text)) != ST_OK) return -1;
    if (tok_learn(c, &o, MPI_COMM_SELF, &tok) != ST_OK) return -1;
    tok_counts_free(c);
    V = tok_vocab_size(tok);
    table = malloc(sizeof(float) * (size_t)V * D);
    rng_t r;
    rng_init(&r, 3, 0, RNG_TEST);
    for (int i = 0; i < V * D; i++) table[i] = (float)rng_normal(&r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tok_free(tok);
    free(table);
    return 0;
}

static void make_model(model *m, uint64_t seed)
{
    model_dims d;
    model_dims_default(&d, D, H, F, V, L);
    rng_t g;
    rng_init(&g, seed, 0, RNG_INIT);
    ST_ASSERT_OK(model_init(m, &d, table, &g));
    for (int l = 0; l < L; l++) ST_ASSERT_OK(model_add_block(m, &g));
}

static void test_sequences(void **state)
{
    (void)state;
    int32_t *a = NULL, *b = NULL;
    ST_ASSERT_OK(probe_induction_seqs(tok, V, NSEQ, LEN, &a));
    ST_ASSERT_OK(probe_induction_seqs(tok, V, NSEQ, LEN, &b));
    assert_memory_equal(a, b, sizeof *a * NSEQ * 2 * LEN);
    int distinct = 0;
    for (int s = 0; s < NSEQ; s++) {
        const int32_t *x = a + s * 2 * LEN;
        assert_memory_equal(x, x + LEN, sizeof *x * LEN); /* the second copy repeats the first */
        for (int t = 0; t < LEN; t++) {
            tok_kind k = tok_kind_of(tok, x[t]);
            assert_true(k == TOK_CHAR || k == TOK_NGRAM);
            distinct += t > 0 && x[t] != x[t - 1];
        }
    }
    assert_true(distinct > NSEQ * (LEN - 1) / 2); /* random, not constant */
    /* A vocabulary that does not hold the ids is refused. */
    int32_t *c = NULL;
    assert_int_equal(probe_induction_seqs(tok, 4, NSEQ, LEN, &c), ST_EDATA);
    free(a);
    free(b);
}

/* The probe on WORLD equals the probe on one rank alone (with other
 * batches: float32 forward passes of other batch shapes round differently,
 * so to 1e-6 relative). */
static void induction_both(model *m, probe_induction_row *rows)
{
    eval_member mem = {.m = m};
    probe_induction_row self[L];
    ST_ASSERT_OK(probe_induction(&mem, 1, CKPT_MEAN_LOGITS, NULL, tok, NSEQ, LEN, 1, L, 5, MPI_COMM_WORLD, rows));
    ST_ASSERT_OK(probe_induction(&mem, 1, CKPT_MEAN_LOGITS, NULL, tok, NSEQ, LEN, 1, L, 3, MPI_COMM_SELF, self));
    for (int k = 0; k < L; k++) {
        assert_int_equal(rows[k].depth, k + 1);
        assert_true(fabs(rows[k].loss_first - self[k].loss_first) < 1e-6 * self[k].loss_first);
        assert_true(fabs(rows[k].loss_second - self[k].loss_second) < 1e-6 * self[k].loss_second);
        assert_true(rows[k].tokens == (double)NSEQ * (LEN - 1));
        assert_true(fabs(rows[k].gain - (rows[k].loss_first - rows[k].loss_second)) < 1e-15);
    }
}

static void test_untrained(void **state)
{
    (void)state;
    model m = {0};
    make_model(&m, 21);
    probe_induction_row rows[L];
    induction_both(&m, rows);
    for (int k = 0; k < L; k++) {
        print_message("# untrained depth %d: first %.4f second %.4f gain %.4f\n", k + 1, rows[k].loss_first,
                      rows[k].loss_second, rows[k].gain);
        assert_true(fabs(rows[k].gain) < 0.05);
        assert_true(rows[k].loss_first > 0.5 * log((double)V));
    }
    model_free(&m);
}

/* Train every block and the head on repeated random sequences (not the
 * probe's: another stream), then probe. */
static void test_trained(void **state)
{
    (void)state;
    enum { B = 16, STEPS = 700, T = 2 * LEN - 1 };
    model m = {0};
    make_model(&m, 22);
    for (int l = 0; l < L; l++) m.blocks[l].trainable = true;
    m.head.trainable = true;
    ST_ASSERT_OK(model_train_setup(&m));
    model_ws ws;
    ST_ASSERT_OK(model_ws_init(&ws, &m.dims, B, T, L, 0));
    int32_t *ord = malloc(sizeof *ord * (size_t)V), *rows = malloc(sizeof *rows * B * 2 * LEN);
    int n_ord = 0;
    for (int id = 0; id < V; id++)
        if (tok_kind_of(tok, id) == TOK_CHAR || tok_kind_of(tok, id) == TOK_NGRAM) ord[n_ord++] = id;
    rng_t r;
    rng_init(&r, 77, 0, RNG_TEST);
    adamw_cfg ac = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.0, .grad_clip = 1.0};
    double loss = 0;
    for (long s = 1; s <= STEPS; s++) {
        for (int b = 0; b < B; b++) {
            int32_t *x = rows + b * 2 * LEN;
            for (int t = 0; t < LEN; t++) x[t] = ord[rng_below(&r, (uint64_t)n_ord)];
            memcpy(x + LEN, x, sizeof *x * LEN);
        }
        model_batch bt = {.tokens = rows, .targets = rows + 1, .ld = 2 * LEN};
        model_zero_grad(&m);
        ST_ASSERT_OK(model_forward(&m, &ws, &bt, NULL, 0, L, B, T, true, &loss));
        ST_ASSERT_OK(model_backward(&m, &ws));
        model_optim_step(&m, &ac, 1e-2, s);
    }
    probe_induction_row pr[L];
    induction_both(&m, pr);
    print_message("# trained (last batch loss %.3f): depth %d first %.4f second %.4f gain %.4f\n", loss, L,
                  pr[L - 1].loss_first, pr[L - 1].loss_second, pr[L - 1].gain);
    assert_true(pr[L - 1].gain > 0.5);
    free(ord);
    free(rows);
    model_ws_free(&ws);
    model_free(&m);
}

/* The mean of the per-position curve is eval_depths' loss, at every depth;
 * the curve is the same on WORLD and on one rank. */
static void test_positions(void **state)
{
    (void)state;
    enum { T = 10, R = 7 };
    model m = {0};
    make_model(&m, 23);
    int32_t chunks[R * (T + 1)];
    double chars[R];
    long ids[R];
    rng_t r;
    rng_init(&r, 9, 0, RNG_TEST);
    for (int i = 0; i < R * (T + 1); i++) chunks[i] = (int32_t)rng_below(&r, (uint64_t)V);
    for (int i = 0; i < R; i++) {
        chars[i] = T;
        ids[i] = R - 1 - i;
    }
    eval_chunks d = {.chunks = chunks, .chars = chars, .ids = ids, .n = R, .T = T};
    eval_member mem = {.m = &m};
    eval_row ev[L];
    double loss[L * T], self[L * T], rows = 0, rows1 = 0;
    ST_ASSERT_OK(eval_depths(&mem, 1, &d, 1, L, 3, MPI_COMM_WORLD, ev));
    ST_ASSERT_OK(probe_position_loss(&mem, 1, CKPT_MEAN_LOGITS, NULL, &d, 1, L, 3, MPI_COMM_WORLD, loss, &rows));
    ST_ASSERT_OK(probe_position_loss(&mem, 1, CKPT_MEAN_LOGITS, NULL, &d, 1, L, 2, MPI_COMM_SELF, self, &rows1));
    assert_true(rows == R && rows1 == R);
    for (int k = 0; k < L; k++) {
        double mean = 0;
        for (int t = 0; t < T; t++) {
            mean += loss[k * T + t] / T;
            assert_true(isfinite(loss[k * T + t]) && loss[k * T + t] > 0);
            assert_true(fabs(loss[k * T + t] - self[k * T + t]) < 1e-6 * self[k * T + t]);
        }
        assert_true(fabs(mean - ev[k].loss) < 1e-5 * ev[k].loss);
    }
    model_free(&m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_sequences, setup, teardown),
    cmocka_unit_test_setup_teardown(test_untrained, setup, teardown),
    cmocka_unit_test_setup_teardown(test_trained, setup, teardown),
    cmocka_unit_test_setup_teardown(test_positions, setup, teardown),
};
ST_TEST_MAIN(tests)
