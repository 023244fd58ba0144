/* test_corpus.c -- rank-count independence (run on 1, 2 and 3 ranks):
 * n-gram learning over a text split at safe breaks equals the serial result;
 * corpus_prepare on all ranks writes the same datasets as on one rank; the
 * chunks follow the documented rule (shared boundary token, <|eos|> after
 * each document, character counts of the targets, split sizes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "strata/corpus.h"
#include "strata/h5.h"
#include "strata/rng.h"
#include "strata/tokenizer.h"
#include "strata/utf8.h"

static char dir[256]; /* shared temp dir (rank 0 creates, all know it) */

/* A mixed-script text with invalid bytes, NUL, CR/LF and a non-BMP run. */
static size_t make_text(uint8_t *buf, size_t cap, uint64_t seed, int max_syl)
{
    /* words of 1-max_syl syllables (long words: ranks' nominal cuts fall inside them): many distinct n-grams, so the top-K cut matters */
    static const char *syl[] = {"th", "e", "an", "ro", "id", "ёл", "ка", "日本", "語", "中", "文",
                                "ελ", "λη", "x", "9", "😀", "𝔸", "ing", "qu", "z"};
    static const char *seps[] = {" ", " ", " ", ", ", ".\n", "\r\n", "\t", "\xFF", "\0", "。"};
    rng_t r;
    rng_init(&r, seed, 0, RNG_TEST);
    size_t n = 0;
    while (n + 40 < cap) {
        int k = 1 + (int)rng_below(&r, (uint64_t)max_syl);
        for (int i = 0; i < k; i++) {
            const char *w = syl[rng_below(&r, 20)];
            memcpy(buf + n, w, strlen(w));
            n += strlen(w);
        }
        size_t si = (size_t)rng_below(&r, 10);
        size_t sl = si == 8 ? 1 : strlen(seps[si]);
        memcpy(buf + n, seps[si], sl);
        n += sl;
    }
    return n;
}

static void assert_same_vocab(const tokenizer *a, const tokenizer *b)
{
    int same = tok_vocab_size(a) == tok_vocab_size(b);
    for (int id = 0; same && id < tok_vocab_size(a); id++) {
        size_t la, lb;
        const char *ta = tok_render_text(a, id, &la), *tb = tok_render_text(b, id, &lb);
        same = tok_kind_of(a, id) == tok_kind_of(b, id) && la == lb &&
               (!ta || memcmp(ta, tb, la) == 0) && tok_id_count(a, id) == tok_id_count(b, id);
        if (!same) print_error("id %d differs: '%.*s' vs '%.*s'\n", id, (int)la, ta ? ta : "", (int)lb, tb ? tb : "");
    }
    ST_ASSERT_ALL(same);
}

static void learning_is_rank_independent(void **state)
{
    (void)state;
    int rank = st_test_rank(), size = st_test_size();
    size_t cap = 200000;
    uint8_t *text = malloc(cap);
    size_t n = make_text(text, cap, 5, 4);
    for (int mode = 0; mode < 2; mode++) {
        tok_options o = {.mode = mode ? TOK_MODE_BMP : TOK_MODE_COMPACT, .vocab_size = 1200,
                         .min_count = 3, .ngram_max = 5, .ngrams = 600};
        /* serial reference: the whole text on this rank alone */
        tok_counts *c = NULL;
        tokenizer *serial = NULL, *par = NULL;
        ST_ASSERT_OK(tok_counts_init(&c, o.ngram_max));
        ST_ASSERT_OK(tok_counts_add(c, text, n));
        ST_ASSERT_OK(tok_learn(c, &o, MPI_COMM_SELF, &serial));
        /* parallel: rank r counts [break(r n/size), break((r+1) n/size)) */
        size_t a = rank == 0 ? 0 : utf8_next_break(text, n, n * (size_t)rank / (size_t)size, true, true);
        size_t b = rank == size - 1 ? n : utf8_next_break(text, n, n * (size_t)(rank + 1) / (size_t)size, true, true);
        ST_ASSERT_OK(tok_counts_add(c, text + a, b - a));
        ST_ASSERT_OK(tok_learn(c, &o, MPI_COMM_WORLD, &par));
        assert_int_equal(tok_n_ngrams(par), 600); /* the top-K cut is exercised */
        assert_same_vocab(serial, par);
        /* and the ranks' pieces encode to the serial encoding */
        tok_buf whole, piece;
        tok_buf_init(&whole);
        tok_buf_init(&piece);
        ST_ASSERT_OK(tok_encode(serial, text, n, &whole, NULL));
        ST_ASSERT_OK(tok_encode(par, text + a, b - a, &piece, NULL));
        int cnt = (int)piece.n, *counts = calloc((size_t)size, sizeof *counts), *disp = calloc((size_t)size, sizeof *disp);
        MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
        int total = 0;
        for (int r = 0; r < size; r++) {
            disp[r] = total;
            total += counts[r];
        }
        int32_t *all = malloc((size_t)total * sizeof *all);
        MPI_Allgatherv(piece.ids, cnt, MPI_INT32_T, all, counts, disp, MPI_INT32_T, MPI_COMM_WORLD);
        ST_ASSERT_ALL((size_t)total == whole.n && memcmp(all, whole.ids, whole.n * sizeof *all) == 0);
        free(all);
        free(counts);
        free(disp);
        tok_buf_free(&whole);
        tok_buf_free(&piece);
        tok_free(serial);
        tok_free(par);
        tok_counts_free(c);
    }
    free(text);
}

/* ---- corpus_prepare ----------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Rank 0 creates the corpus: two text files in a directory tree, one
 * binary file, one empty file. */
static void make_corpus(void)
{
    if (st_test_rank() == 0) {
        strcpy(dir, "/tmp/strata-corpus-XXXXXX");
        assert_non_null(mkdtemp(dir));
        char p[512];
        snprintf(p, sizeof p, "%s/in", dir);
        mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/in/sub", dir);
        mkdir(p, 0700);
        size_t cap = 60000;
        uint8_t *t = malloc(cap);
        size_t n = make_text(t, cap, 11, 12);
        snprintf(p, sizeof p, "%s/in/b.txt", dir);
        write_file(p, t, n);
        n = make_text(t, cap / 3, 12, 12);
        snprintf(p, sizeof p, "%s/in/sub/a.txt", dir);
        write_file(p, t, n);
        memset(t, 0, 4096);
        snprintf(p, sizeof p, "%s/in/z.bin", dir);
        write_file(p, t, 4096);
        snprintf(p, sizeof p, "%s/in/empty.txt", dir);
        write_file(p, t, 0);
        free(t);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static void *read_ds(h5_file *f, const char *path, h5_dtype t, size_t *n)
{
    int rank;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    ST_ASSERT_OK(h5_read(f, path, t, &rank, dims, &data));
    *n = 1;
    for (int i = 0; i < rank; i++) *n *= dims[i];
    return data;
}

static void prepare_is_rank_independent(void **state)
{
    (void)state;
    int rank = st_test_rank();
    make_corpus();
    char in[512], one[512], all[512];
    snprintf(in, sizeof in, "%s/in", dir);
    snprintf(one, sizeof one, "%s/one.h5", dir);
    snprintf(all, sizeof all, "%s/all.h5", dir);
    corpus_options o = {.ctx = 16, .val_fraction = 0.1, .split_seed = 3,
                        .tok = {.mode = TOK_MODE_COMPACT, .vocab_size = 700, .min_count = 1,
                                .ngram_max = 4, .ngrams = 300}};
    const char *paths[] = {in};
    corpus_stats s1 = {0}, sn = {0};
    if (rank == 0) ST_ASSERT_OK(corpus_prepare(paths, 1, one, &o, MPI_COMM_SELF, &s1));
    ST_ASSERT_OK(corpus_prepare(paths, 1, all, &o, MPI_COMM_WORLD, &sn));
    MPI_Bcast(&s1, sizeof s1, MPI_BYTE, 0, MPI_COMM_WORLD);
    ST_ASSERT_ALL(memcmp(&s1, &sn, sizeof s1) == 0);
    assert_int_equal(sn.files, 4);
    assert_int_equal(sn.files_binary, 1);
    assert_true(sn.invalid > 0);

    if (rank == 0) {
        /* every dataset identical; attributes too, except the creation time */
        h5_file a, b;
        ST_ASSERT_OK(h5_open_kind(&a, one, MPI_COMM_SELF, H5_KIND_DATASET, ST_EDATA));
        ST_ASSERT_OK(h5_open_kind(&b, all, MPI_COMM_SELF, H5_KIND_DATASET, ST_EDATA));
        const char *ds[] = {"chunks/tokens", "chunks/chars", "split/is_val", "split/train_index",
                            "split/val_index", "tokenizer/kind", "tokenizer/text",
                            "tokenizer/text_offsets", "tokenizer/count"};
        for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
            size_t na, nb;
            /* as float64: the one type every stored column converts to exactly here */
            double *x = read_ds(&a, ds[i], H5_DT_F64, &na), *y = read_ds(&b, ds[i], H5_DT_F64, &nb);
            if (na != nb || memcmp(x, y, na * sizeof *x) != 0) print_error("%s differs\n", ds[i]);
            assert_int_equal(na, nb);
            assert_memory_equal(x, y, na * sizeof *x);
            free(x);
            free(y);
        }
        char *fa = NULL, *fb = NULL;
        ST_ASSERT_OK(h5_read_string(&a, "corpus/files", &fa));
        ST_ASSERT_OK(h5_read_string(&b, "corpus/files", &fb));
        assert_string_equal(fa, fb);
        /* sorted walk: in/b.txt before in/sub/a.txt; binary and empty files absent */
        assert_true(strstr(fa, "in/b.txt") < strstr(fa, "in/sub/a.txt"));
        assert_null(strstr(fa, "z.bin"));
        free(fa);
        free(fb);

        /* the chunk rule, checked against an independent encoding of the files */
        tokenizer *t = NULL;
        ST_ASSERT_OK(tok_load(&b, "tokenizer", &t));
        tok_buf stream;
        tok_buf_init(&stream);
        const char *docs[] = {"in/b.txt", "in/sub/a.txt"};
        for (int d = 0; d < 2; d++) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, docs[d]);
            FILE *f = fopen(p, "rb");
            uint8_t *buf = malloc(70000);
            size_t n = fread(buf, 1, 70000, f);
            fclose(f);
            ST_ASSERT_OK(tok_encode(t, buf, n, &stream, NULL));
            ST_ASSERT_OK(tok_buf_push(&stream, tok_special_id(t, TOK_EOS), 0));
            free(buf);
        }
        size_t nt, nc, nv;
        int64_t *tokens = read_ds(&b, "chunks/tokens", H5_DT_I64, &nt);
        int64_t *chars = read_ds(&b, "chunks/chars", H5_DT_I64, &nc);
        int64_t *is_val = read_ds(&b, "split/is_val", H5_DT_I64, &nv);
        size_t L = 17, n_chunks = (stream.n - 1) / 16;
        assert_int_equal(nt, n_chunks * L);
        assert_int_equal(nc, n_chunks);
        assert_int_equal(sn.n_chunks, n_chunks);
        assert_int_equal(sn.tokens, stream.n);
        uint64_t total_chars = 0;
        for (size_t c = 0; c < n_chunks; c++) {
            uint64_t ch = 0;
            for (size_t j = 0; j < L; j++) {
                assert_int_equal(tokens[c * L + j], stream.ids[c * 16 + j]);
                if (j > 0) ch += stream.chars[c * 16 + j];
            }
            assert_int_equal(chars[c], ch);
            total_chars += ch;
        }
        assert_true(total_chars <= sn.chars && total_chars + 16 * 16 >= sn.chars);
        size_t val = 0;
        for (size_t c = 0; c < nv; c++) val += is_val[c] != 0;
        assert_int_equal(val, (size_t)(0.1 * (double)n_chunks + 0.5));
        assert_int_equal(val, sn.n_val);
        free(tokens);
        free(chars);
        free(is_val);
        tok_buf_free(&stream);
        tok_free(t);
        ST_ASSERT_OK(h5_close(&a));

        /* corpus_describe on the open file */
        char *txt = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&txt, &len);
        ST_ASSERT_OK(corpus_describe(&b, mem));
        fclose(mem);
        assert_non_null(strstr(txt, "binary skipped"));
        assert_non_null(strstr(txt, "chunks: "));
        assert_non_null(strstr(txt, "mode compact"));
        free(txt);
        ST_ASSERT_OK(h5_close(&b));
    }
    /* an existing output is refused on every rank, the file left alone */
    st_status st = corpus_prepare(paths, 1, all, &o, MPI_COMM_WORLD, NULL);
    ST_ASSERT_ALL(st == ST_EUSAGE && strstr(st_last_error(), "exists") != NULL);
    o.force = true;
    ST_ASSERT_OK(corpus_prepare(paths, 1, all, &o, MPI_COMM_WORLD, NULL));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learning_is_rank_independent),
        cmocka_unit_test(prepare_is_rank_independent),
    };
    return st_test_main(argc, argv, "test_corpus", tests, sizeof tests / sizeof tests[0]);
}
