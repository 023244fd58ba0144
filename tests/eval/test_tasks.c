/* test_tasks.c -- multiple-choice tasks (tasks.h): a JSONL file is read with
 * the harness's whitespace rule; every kind of bad line is refused with
 * ST_EDATA naming the file, the line and the problem; a hand-made model
 * that always predicts "the same token again" scores a hand-made task
 * exactly as worked out by hand (also with the context cut from the left),
 * on WORLD (1 or 2 ranks) as on one rank alone. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../harness.h"
#include "strata/eval.h"
#include "strata/params.h"
#include "strata/tasks.h"
#include "strata/tokenizer.h"

enum { D = 32, H = 2, F = 64, L = 2 };

static const char text[] = "the quick brown fox jumps over the lazy dog; abc xyz PACK MY BOX!";

static tokenizer *tok;
static char dir[256];

static int setup(void **state)
{
    (void)state;
    tok_options o = {.mode = TOK_MODE_COMPACT, .vocab_size = 400, .min_count = 1, .ngram_max = 1, .ngrams = 0};
    tok_counts *c = NULL;
    if (tok_counts_init(&c, 1) != ST_OK) return -1;
    if (tok_counts_add(c, (const uint8_t *)text, strlen(text)) != ST_OK) return -1;
    if (tok_learn(c, &o, MPI_COMM_SELF, &tok) != ST_OK) return -1;
    tok_counts_free(c);
    snprintf(dir, sizeof dir, "/tmp/strata-test-tasks-%d-%ld", st_test_rank(), (long)getpid());
    mkdir(dir, 0700);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tok_free(tok);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return -1;
    return 0;
}

static const char *write_task(const char *name, const char *content)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(content, 1, strlen(content), f);
    fclose(f);
    return path;
}

static char *decode(const int32_t *ids, int n)
{
    char *s = NULL;
    size_t len = 0;
    ST_ASSERT_OK(tok_decode(tok, ids, (size_t)n, &s, &len));
    return s;
}

static void test_parse(void **state)
{
    (void)state;
    const char *p = write_task("my-task.v1.jsonl", "{\"context\": \"the fox \", \"choices\": [\"jumps\", \"dog\"], \"answer\": 0}\n"
                                                   "\r\n   \n"
                                                   "{\"id\": 7, \"context\": \"\", \"choices\": [\"a\", \"b\", \"c\"], \"answer\": 2}");
    task_set t;
    ST_ASSERT_OK(task_load(p, tok, &t));
    assert_string_equal(t.name, "my_task_v1");
    assert_int_equal(t.n, 2);
    assert_int_equal(t.items[0].line, 1);
    assert_int_equal(t.items[1].line, 4);
    assert_int_equal(t.items[0].answer, 0);
    assert_int_equal(t.items[1].nchoices, 3);
    /* the context's trailing space moved to the start of each choice */
    char *c = decode(t.items[0].ctx, t.items[0].nctx), *a = decode(t.items[0].choices[0].ids, t.items[0].choices[0].n);
    assert_string_equal(c, "the fox");
    assert_string_equal(a, " jumps");
    assert_true(t.items[0].choices[0].chars == 6);
    assert_true(t.items[0].choices[1].chars == 4);
    free(c);
    free(a);
    /* an empty context is the end-of-document token */
    assert_int_equal(t.items[1].nctx, 1);
    assert_int_equal(t.items[1].ctx[0], tok_special_id(tok, TOK_EOS));
    task_free(&t);
    char name[TASK_NAME_MAX];
    task_name_of("/x/y/ARC easy.json", name);
    assert_string_equal(name, "ARC_easy");
}

static void test_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"]", "not valid JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{\"choices\": [\"b\", \"c\"], \"answer\": 0}", "no \"context\""},
        {"{\"context\": 3, \"choices\": [\"b\", \"c\"], \"answer\": 0}", "\"context\" is not a string"},
        {"{\"context\": \"a\", \"answer\": 0}", "no \"choices\""},
        {"{\"context\": \"a\", \"choices\": \"bc\", \"answer\": 0}", "\"choices\" is not an array"},
        {"{\"context\": \"a\", \"choices\": [\"b\"], \"answer\": 0}", "1 choices"},
        {"{\"context\": \"a\", \"choices\": [\"b\", 4], \"answer\": 0}", "choice 1 is not a string"},
        {"{\"context\": \"a\", \"choices\": [\"b\", \"\"], \"answer\": 0}", "choice 1 is empty"},
        {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"]}", "no \"answer\""},
        {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": \"0\"}", "\"answer\" is not an integer"},
        {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 2}", "outside [0, 2)"},
        {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": -1}", "outside [0, 2)"},
        {"{\"context\": \"a\", \"context\": \"b\", \"choices\": [\"b\", \"c\"], \"answer\": 0}", "not valid JSON"},
        {"{\"context\": \"a\xff\", \"choices\": [\"b\", \"c\"], \"answer\": 0}", "not valid JSON"},
    };
    char content[512], want[600];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(content, sizeof content, "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 1}\n%s\n",
                 bad[i].line);
        const char *p = write_task("bad.jsonl", content);
        task_set t;
        st_status st = task_load(p, tok, &t);
        snprintf(want, sizeof want, "%s:2: ", p);
        if (st != ST_EDATA || !strstr(st_last_error(), want) || !strstr(st_last_error(), bad[i].why))
            print_error("case %zu: status %d, message '%s' (want '%s' and '%s')\n", i, (int)st, st_last_error(), want,
                        bad[i].why);
        assert_int_equal(st, ST_EDATA);
        assert_non_null(strstr(st_last_error(), want));
        assert_non_null(strstr(st_last_error(), bad[i].why));
    }
    task_set t;
    assert_int_equal(task_load(write_task("empty.jsonl", "\n\n"), tok, &t), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "no items"));
    assert_int_equal(task_load(dir, tok, &t), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "not a regular file"));
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.jsonl", dir);
    assert_int_equal(task_load(missing, tok, &t), ST_EDATA);
}

/* Blocks that do nothing (zero weights: the residual stream is the input
 * embedding) and a head whose output matrix is the substrate table: the
 * logits of token x are e_v . e_x / rms(e_x), largest for v = x, so the
 * model predicts "the current token again" with probability near 1. */
static void repeat_model(model *m, float *table)
{
    const int V = tok_vocab_size(tok);
    rng_t r;
    rng_init(&r, 4, 0, RNG_TEST);
    for (int i = 0; i < V * D; i++) table[i] = (float)rng_normal(&r);
    model_dims d;
    model_dims_default(&d, D, H, F, V, L);
    rng_t g;
    rng_init(&g, 5, 0, RNG_INIT);
    ST_ASSERT_OK(model_init(m, &d, table, &g));
    for (int l = 0; l < L; l++) {
        ST_ASSERT_OK(model_add_block(m, &g));
        memset(m->blocks[l].w, 0, sizeof(float) * m->blocks[l].numel);
    }
    int gi = param_find(&m->head, "norm_g"), wi = param_find(&m->head, "out_w");
    assert_true(gi >= 0 && wi >= 0);
    float *gain = param_ptr(&m->head, gi), *w = param_ptr(&m->head, wi);
    for (int i = 0; i < D; i++) gain[i] = 1.0f;
    memcpy(w, table, sizeof(float) * (size_t)V * D);
}

static void score_both(model *m, const task_set *t, int T, task_row *rows)
{
    eval_member mem = {.m = m};
    task_row self[L];
    ST_ASSERT_OK(task_score(&mem, 1, CKPT_MEAN_LOGITS, NULL, t, T, 1, L, 2, MPI_COMM_WORLD, rows));
    ST_ASSERT_OK(task_score(&mem, 1, CKPT_MEAN_LOGITS, NULL, t, T, 1, L, 3, MPI_COMM_SELF, self));
    for (int k = 0; k < L; k++) {
        assert_int_equal(rows[k].depth, k + 1);
        assert_true(rows[k].acc == self[k].acc && rows[k].acc_char == self[k].acc_char);
        assert_true(rows[k].items == t->n);
    }
}

static void test_score(void **state)
{
    (void)state;
    /* Under "the same token again": a choice made of repeats of the
     * context's last character wins (its log-likelihood is ~0, any other
     * character costs many nats).  Items 1, 2 and 4 mark that choice as the
     * answer, item 3 marks the other one: 3 of 4 right.  Item 4's second
     * choice "zq" breaks the chain at once; per character its first choice
     * still wins. */
    const char *p = write_task("rep.jsonl",
                               "{\"context\": \"the quick brown box\", \"choices\": [\"xxx\", \"dog\"], \"answer\": 0}\n"
                               "{\"context\": \"over the lazy do\", \"choices\": [\"g\", \"ooo\"], \"answer\": 1}\n"
                               "{\"context\": \"abc\", \"choices\": [\"ccc\", \"zzz\"], \"answer\": 1}\n"
                               "{\"context\": \"jumps over the lazy dog; PACK MY BOX\", \"choices\": [\"XXXXXXXX\", \"zq\"], \"answer\": 0}\n");
    task_set t;
    ST_ASSERT_OK(task_load(p, tok, &t));
    model m = {0};
    float *table = malloc(sizeof(float) * (size_t)tok_vocab_size(tok) * D);
    repeat_model(&m, table);
    task_row rows[L];
    for (int T = 64; T >= 8; T /= 8) { /* T = 8: the long contexts are cut from the left */
        score_both(&m, &t, T, rows);
        for (int k = 0; k < L; k++) {
            assert_true(fabs(rows[k].acc - 0.75) < 1e-15);
            assert_true(fabs(rows[k].acc_char - 0.75) < 1e-15);
            assert_true(fabs(rows[k].acc_se - sqrt(0.75 * 0.25 / 3)) < 1e-12);
        }
    }
    /* A choice longer than the context window is refused, naming the line. */
    task_free(&t);
    ST_ASSERT_OK(task_load(write_task("long.jsonl", "{\"context\": \"a\", \"choices\": [\"b\", \"cccccccccc\"], \"answer\": 0}\n"),
                           tok, &t));
    eval_member mem = {.m = &m};
    assert_int_equal(task_score(&mem, 1, CKPT_MEAN_LOGITS, NULL, &t, 8, 1, 1, 2, MPI_COMM_SELF, rows), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "long.jsonl:1: choice 1"));
    task_free(&t);
    model_free(&m);
    free(table);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
    cmocka_unit_test_setup_teardown(test_score, setup, teardown),
};
ST_TEST_MAIN(tests)
