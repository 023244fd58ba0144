/* test_substrate.c -- substrate kinds, rank-count independence, the file
 * (save/load/describe, no half-written output) and the tokenizer adapter.
 * Run on 1 and 3 ranks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "strata/config.h"
#include "strata/h5.h"
#include "strata/pca.h"
#include "strata/rng.h"
#include "strata/substrate.h"
#include "strata/tokenizer.h"
#include "strata/utf8.h"

static void assert_unit_rows(const substrate *s)
{
    int bad = 0;
    for (size_t i = 0; i < s->n_local; i++) {
        double nn = 0;
        for (int k = 0; k < s->dim; k++) nn += (double)s->emb[i * s->dim + k] * s->emb[i * s->dim + k];
        bad += fabs(nn - 1) > 1e-5;
    }
    ST_ASSERT_ALL(bad == 0);
}

static void random_and_trainable_rows(void **state)
{
    (void)state;
    enum { V = 500, D = 16 };
    glyph_item items[V];
    for (int i = 0; i < V; i++) items[i] = (glyph_item){.kind = GLYPH_UNUSED, .id = i};
    substrate_opts o = {.kind = SUBSTRATE_RANDOM, .dim = D, .seed = 42};
    substrate r, t;
    ST_ASSERT_OK(substrate_build(&o, items, V, MPI_COMM_WORLD, &r));
    o.kind = SUBSTRATE_TRAINABLE;
    ST_ASSERT_OK(substrate_build(&o, items, V, MPI_COMM_WORLD, &t));
    assert_int_equal(r.n_duplicates, 0);
    assert_int_equal(t.n_duplicates, 0);
    assert_unit_rows(&r);
    assert_unit_rows(&t);
    /* Row v is N(0,1) from its own stretch of the (seed, RNG_SUBSTRATE)
     * stream, normalised: the same whatever rank owns it. */
    int bad = 0, same = 0;
    for (size_t i = 0; i < r.n_local; i++) {
        rng_t g;
        rng_init(&g, 42, 0, RNG_SUBSTRATE);
        g.counter = (r.row0 + i) * D;
        double v[D], nn = 0;
        for (int k = 0; k < D; k++) {
            v[k] = rng_normal(&g);
            nn += v[k] * v[k];
        }
        for (int k = 0; k < D; k++) bad += fabs(r.emb[i * D + k] - v[k] / sqrt(nn)) > 1e-6;
        same += memcmp(r.emb + i * D, t.emb + i * D, D * sizeof(float)) == 0;
    }
    ST_ASSERT_ALL(bad == 0);
    ST_ASSERT_ALL(same == 0);
    /* Another seed, another table. */
    substrate r2;
    o.kind = SUBSTRATE_RANDOM;
    o.seed = 43;
    ST_ASSERT_OK(substrate_build(&o, items, V, MPI_COMM_WORLD, &r2));
    ST_ASSERT_ALL(r.n_local == 0 || memcmp(r.emb, r2.emb, D * sizeof(float)) != 0);
    substrate_free(&r);
    substrate_free(&r2);
    substrate_free(&t);
}

static void binary_rows_carry_the_id_bits(void **state)
{
    (void)state;
    enum { V = 1000, D = 20 }; /* 10 bits, two dimensions each */
    glyph_item items[V];
    for (int i = 0; i < V; i++) items[i] = (glyph_item){.kind = GLYPH_UNUSED, .id = i};
    substrate_opts o = {.kind = SUBSTRATE_BINARY, .dim = D};
    substrate b;
    ST_ASSERT_OK(substrate_build(&o, items, V, MPI_COMM_WORLD, &b));
    assert_int_equal(b.n_duplicates, 0);
    assert_unit_rows(&b);
    int bad = 0;
    for (size_t i = 0; i < b.n_local; i++) {
        long id = (long)(b.row0 + i);
        for (int j = 0; j < D; j++) {
            float want = (id >> (j / 2) & 1) ? 1.0f / sqrtf(D) : -1.0f / sqrtf(D);
            bad += fabsf(b.emb[i * D + j] - want) > 1e-7f;
        }
    }
    ST_ASSERT_ALL(bad == 0);
    substrate_free(&b);
    o.dim = 9;
    assert_int_equal(substrate_build(&o, items, V, MPI_COMM_WORLD, &b), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "substrate.dim = 9"));
}

/* A small vocabulary with the hard cases: look-alikes, spaces, specials,
 * bytes, n-grams, unused ids. */
enum { GV = 160 };
static char gtext[GV][16];
static void make_glyph_items(glyph_item *items)
{
    static const char *const fixed[] = {"<|pad|>", "<|bos|>", "<|eos|>", "<0x00>", "<0xAB>", NULL, "th", "the", "  "};
    static const glyph_kind fixed_kind[] = {GLYPH_SPECIAL, GLYPH_SPECIAL, GLYPH_SPECIAL, GLYPH_BYTE, GLYPH_BYTE,
                                            GLYPH_UNUSED, GLYPH_NGRAM, GLYPH_NGRAM, GLYPH_NGRAM};
    static const uint32_t cps[] = {'A', 0x391, 0x410, 'O', 0x39F, 0x41E, 0x20, 0xA0, 0x2000, 0x2001, 0x200B};
    int n = 0;
    for (; n < 9; n++)
        items[n] = (glyph_item){.text = fixed[n], .len = fixed[n] ? strlen(fixed[n]) : 0, .kind = fixed_kind[n], .id = n};
    for (size_t k = 0; k < sizeof cps / sizeof cps[0]; k++, n++) {
        size_t len = utf8_encode(cps[k], (uint8_t *)gtext[n]);
        items[n] = (glyph_item){.text = gtext[n], .len = len, .kind = GLYPH_CHAR, .id = n};
    }
    for (uint32_t cp = 0x21; n < GV; cp++, n++) {
        size_t len = utf8_encode(cp, (uint8_t *)gtext[n]);
        items[n] = (glyph_item){.text = gtext[n], .len = len, .kind = GLYPH_CHAR, .id = n};
    }
}

static void glyph_substrate_is_distinct_and_rank_independent(void **state)
{
    (void)state;
    glyph_item items[GV];
    make_glyph_items(items);
    substrate_opts o = {.kind = SUBSTRATE_GLYPH, .dim = 24, .cell = 16, .flatten = GLYPH_FLATTEN_POLAR, .fonts = "", .seed = 1};
    substrate w, s;
    ST_ASSERT_OK(substrate_build(&o, items, GV, MPI_COMM_WORLD, &w));
    assert_int_equal(w.n_duplicates, 0);
    assert_true(w.n_marked >= 4); /* Alpha, Cyrillic A, Omicron, Cyrillic O at least */
    assert_int_equal(w.n_unused, 1);
    assert_true(w.explained_variance > 0.3 && w.explained_variance <= 1.0);
    assert_true(w.nfonts == 2 && strlen(w.font_sha256[0]) == 64);
    for (int k = 1; k < 24; k++) assert_true(w.eigenvalues[k] <= w.eigenvalues[k - 1]);
    assert_unit_rows(&w);
    /* The same table from one rank alone (rows of this rank compared). */
    ST_ASSERT_OK(substrate_build(&o, items, GV, MPI_COMM_SELF, &s));
    assert_int_equal(s.n_local, GV);
    int bad = 0;
    for (size_t i = 0; i < w.n_local * 24; i++) bad += fabsf(w.emb[i] - s.emb[w.row0 * 24 + i]) > 1e-4f;
    ST_ASSERT_ALL(bad == 0);
    substrate_free(&s);
    /* Row-major flattening permutes features only: the same table up to the
     * signs of components. */
    o.flatten = GLYPH_FLATTEN_ROWMAJOR;
    ST_ASSERT_OK(substrate_build(&o, items, GV, MPI_COMM_WORLD, &s));
    bad = 0;
    for (int k = 0; k < 6; k++) {
        double dot = 0;
        for (size_t i = 0; i < w.n_local; i++) dot += (double)w.emb[i * 24 + k] * s.emb[i * 24 + k];
        double na = 0, nb = 0;
        for (size_t i = 0; i < w.n_local; i++) {
            na += (double)w.emb[i * 24 + k] * w.emb[i * 24 + k];
            nb += (double)s.emb[i * 24 + k] * s.emb[i * 24 + k];
        }
        if (w.n_local > 0) bad += fabs(fabs(dot) / sqrt(na * nb) - 1) > 1e-3;
    }
    ST_ASSERT_ALL(bad == 0);
    substrate_free(&s);
    substrate_free(&w);
}

static void bad_glyph_options(void **state)
{
    (void)state;
    glyph_item items[GV];
    make_glyph_items(items);
    substrate_opts o = {.kind = SUBSTRATE_GLYPH, .dim = 300, .cell = 16, .flatten = GLYPH_FLATTEN_POLAR, .fonts = ""};
    substrate s;
    assert_int_equal(substrate_build(&o, items, GV, MPI_COMM_WORLD, &s), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "256 pixels"));
    o.dim = 16;
    o.fonts = "/nonexistent/extra.ttf";
    assert_int_equal(substrate_build(&o, items, GV, MPI_COMM_WORLD, &s), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "/nonexistent/extra.ttf"));
    o.fonts = "";
    items[7].id = 99;
    assert_int_equal(substrate_build(&o, items, GV, MPI_COMM_WORLD, &s), ST_EDATA);
    st_config cfg;
    cfg_defaults(&cfg);
    ST_ASSERT_OK(substrate_opts_from_config(&cfg, &o));
    assert_int_equal(o.kind, SUBSTRATE_GLYPH);
    assert_int_equal(o.dim, 256);
    assert_int_equal(o.cell, 32);
    assert_int_equal(o.flatten, GLYPH_FLATTEN_POLAR);
    assert_int_equal(o.seed, 1234);
}

/* rank 0 makes a temp dir; every rank gets its name. */
static void shared_tmpdir(char *dir, size_t len)
{
    if (st_test_rank() == 0) {
        snprintf(dir, len, "/tmp/strata-sub-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    MPI_Bcast(dir, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static void file_round_trip_and_describe(void **state)
{
    (void)state;
    glyph_item items[GV];
    make_glyph_items(items);
    substrate_opts o = {.kind = SUBSTRATE_GLYPH, .dim = 16, .cell = 16, .flatten = GLYPH_FLATTEN_POLAR, .fonts = "", .seed = 9};
    substrate s;
    ST_ASSERT_OK(substrate_build(&o, items, GV, MPI_COMM_WORLD, &s));
    char dir[64], path[128], tmp[160];
    shared_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sub.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ST_ASSERT_OK(substrate_save(&s, path, MPI_COMM_WORLD));
    assert_int_equal(access(tmp, F_OK), -1);
    float *emb = NULL;
    long v = 0;
    int d = 0;
    ST_ASSERT_OK(substrate_load(path, &emb, &v, &d));
    assert_int_equal(v, GV);
    assert_int_equal(d, 16);
    assert_memory_equal(emb + s.row0 * 16, s.emb, s.n_local * 16 * sizeof(float));
    free(emb);
    if (st_test_rank() == 0) {
        h5_file f;
        ST_ASSERT_OK(h5_open(&f, path, MPI_COMM_SELF, false));
        char out[4096] = {0};
        FILE *m = fmemopen(out, sizeof out - 1, "w");
        ST_ASSERT_OK(substrate_describe(&f, "substrate", m));
        fclose(m);
        ST_ASSERT_OK(h5_close(&f));
        assert_non_null(strstr(out, "kind glyph, 160 ids x 16 dims"));
        assert_non_null(strstr(out, "duplicate rows: 0"));
        assert_non_null(strstr(out, "flatten polar"));
        assert_non_null(strstr(out, "unifont.otf  sha256 "));
        /* Root attributes of every strata file. */
        h5_file hf;
        h5_file_zero(&hf);
        ST_ASSERT_OK(h5_open_kind(&hf, path, MPI_COMM_SELF, H5_KIND_SUBSTRATE, ST_EDATA));
        int64_t dup = -1;
        ST_ASSERT_OK(h5_attr_get_i64(&hf, "substrate", "duplicate_rows", &dup));
        assert_int_equal(dup, 0);
        h5_close(&hf);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    /* A file that cannot be created leaves nothing behind. */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/missing/sub.h5", dir);
    assert_int_not_equal(substrate_save(&s, bad, MPI_COMM_WORLD), ST_OK);
    assert_int_equal(access(bad, F_OK), -1);
    /* Loading something that is not a substrate file is bad data. */
    assert_int_equal(substrate_load("/nonexistent.h5", &emb, &v, &d), ST_EDATA);
    MPI_Barrier(MPI_COMM_WORLD);
    if (st_test_rank() == 0) {
        unlink(path);
        rmdir(dir);
    }
    substrate_free(&s);
}

static void tokenizer_adapter(void **state)
{
    (void)state;
    const char *text = "the cat and the hat. The other cat; ΑΒΓ абв 水 the end";
    tok_counts *c = NULL;
    tokenizer *t = NULL;
    ST_ASSERT_OK(tok_counts_init(&c, 3));
    if (st_test_rank() == 0) ST_ASSERT_OK(tok_counts_add(c, (const uint8_t *)text, strlen(text)));
    tok_options to = {.mode = TOK_MODE_COMPACT, .vocab_size = 400, .min_count = 1, .ngram_max = 3, .ngrams = 8};
    ST_ASSERT_OK(tok_learn(c, &to, MPI_COMM_WORLD, &t));
    glyph_item *items = NULL;
    long v = 0;
    ST_ASSERT_OK(substrate_items_from_tokenizer(t, &items, &v));
    assert_int_equal(v, tok_vocab_size(t));
    int bos = tok_special_id(t, TOK_BOS);
    assert_int_equal(items[bos].kind, GLYPH_SPECIAL);
    assert_int_equal(items[bos].len, 7);
    assert_memory_equal(items[bos].text, "<|bos|>", 7);
    int b = tok_byte_id(t, 0xAB);
    assert_int_equal(items[b].kind, GLYPH_BYTE);
    assert_memory_equal(items[b].text, "<0xAB>", 6);
    int ngrams = 0;
    for (long i = 0; i < v; i++) ngrams += items[i].kind == GLYPH_NGRAM;
    assert_int_equal(ngrams, tok_n_ngrams(t));
    substrate_opts o = {.kind = SUBSTRATE_GLYPH, .dim = 16, .cell = 16, .flatten = GLYPH_FLATTEN_POLAR, .fonts = ""};
    substrate s;
    ST_ASSERT_OK(substrate_build(&o, items, v, MPI_COMM_WORLD, &s));
    assert_int_equal(s.n_duplicates, 0);
    substrate_free(&s);
    free(items);
    tok_free(t);
    tok_counts_free(c);
}

/* The kinds table is the one list: the config choices, names, parsing and
 * the flags grow relies on all come from it. */
static void kinds_table_is_the_one_list(void **state)
{
    (void)state;
    char names[256];
    substrate_kind_list(names, sizeof names, "|");
    const cfg_key *k = cfg_find("substrate", "kind");
    assert_non_null(k);
    /* strata/config.h sits below substrate and spells the choices out: they must
     * not drift from the table. */
    assert_string_equal(k->choices, names);
    assert_int_equal(substrate_n_kinds, SUBSTRATE_N_KINDS);
    for (size_t i = 0; i < substrate_n_kinds; i++) {
        const substrate_kind_info *info = &substrate_kinds[i];
        assert_int_equal(info->kind, (int)i);
        assert_ptr_equal(substrate_kind_find(info->name), info);
        assert_ptr_equal(substrate_kind_info_of(info->kind), info);
        assert_string_equal(substrate_kind_name(info->kind), info->name);
        assert_non_null(info->build);
        assert_non_null(info->save);
        substrate_kind kind;
        ST_ASSERT_OK(substrate_parse_kind(info->name, &kind));
        assert_int_equal(kind, info->kind);
    }
    assert_true(substrate_kind_find("trainable")->trainable);
    assert_false(substrate_kind_find("glyph")->trainable);
    assert_false(substrate_kind_find("random")->trainable);
    assert_null(substrate_kind_find("pixels"));
    assert_null(substrate_kind_find(NULL));
    assert_null(substrate_kind_info_of(SUBSTRATE_N_KINDS));
    assert_string_equal(substrate_kind_name(SUBSTRATE_N_KINDS), "?");
    substrate_kind kind;
    assert_int_equal(substrate_parse_kind("pixels", &kind), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "'pixels' is not one of glyph, random, binary, trainable"));
}

/* A table with NaN or Inf is refused on load, naming the file and the row. */
static void non_finite_values_are_refused(void **state)
{
    (void)state;
    substrate_opts o = {.kind = SUBSTRATE_RANDOM, .dim = 8, .seed = 3};
    glyph_item items[16];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 16; i++) items[i].id = i;
    substrate s;
    ST_ASSERT_OK(substrate_build(&o, items, 16, MPI_COMM_WORLD, &s));
    /* row 11 (whichever rank holds it) gets a NaN, then row 13 an Inf */
    if (s.row0 <= 11 && 11 < s.row0 + s.n_local) s.emb[(11 - s.row0) * 8 + 5] = NAN;
    if (s.row0 <= 13 && 13 < s.row0 + s.n_local) s.emb[(13 - s.row0) * 8 + 0] = INFINITY;
    char dir[64], path[128];
    shared_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad.h5", dir);
    ST_ASSERT_OK(substrate_save(&s, path, MPI_COMM_WORLD));
    float *emb = NULL;
    long v = 0;
    int d = 0;
    assert_int_equal(substrate_load(path, &emb, &v, &d), ST_EDATA);
    assert_null(emb);
    assert_non_null(strstr(st_last_error(), path));
    assert_non_null(strstr(st_last_error(), "row 11, column 5"));
    assert_non_null(strstr(st_last_error(), "non-finite"));
    MPI_Barrier(MPI_COMM_WORLD);
    if (st_test_rank() == 0) {
        unlink(path);
        rmdir(dir);
    }
    substrate_free(&s);
}

static const struct CMUnitTest substrate_tests[] = {
    cmocka_unit_test(random_and_trainable_rows),
    cmocka_unit_test(binary_rows_carry_the_id_bits),
    cmocka_unit_test(glyph_substrate_is_distinct_and_rank_independent),
    cmocka_unit_test(bad_glyph_options),
    cmocka_unit_test(file_round_trip_and_describe),
    cmocka_unit_test(tokenizer_adapter),
    cmocka_unit_test(kinds_table_is_the_one_list),
    cmocka_unit_test(non_finite_values_are_refused),
};

ST_TEST_MAIN(substrate_tests)
