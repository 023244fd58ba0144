/* test_tokenizer.c -- UTF-8 decoding, character classes, n-gram learning
 * against a brute-force reference, greedy encoding, and the lossless
 * property over random byte strings and the wamerican word list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "strata/h5.h"
#include "strata/rng.h"
#include "strata/tokenizer.h"
#include "strata/utf8.h"

/* ---- helpers ----------------------------------------------------------- */

static tokenizer *learn(const char *text, size_t n, tok_mode mode, int vocab, int ngram_max,
                        int ngrams, long min_count)
{
    tok_counts *c = NULL;
    tokenizer *t = NULL;
    ST_ASSERT_OK(tok_counts_init(&c, ngram_max));
    ST_ASSERT_OK(tok_counts_add(c, (const uint8_t *)text, n));
    tok_options o = {.mode = mode, .vocab_size = vocab, .min_count = min_count,
                     .ngram_max = ngram_max, .ngrams = ngrams};
    ST_ASSERT_OK(tok_learn(c, &o, MPI_COMM_SELF, &t));
    tok_counts_free(c);
    return t;
}

/* Encode, decode, compare; also check the per-token character counts. */
static void assert_roundtrip(const tokenizer *t, const uint8_t *s, size_t n)
{
    tok_buf b;
    tok_buf_init(&b);
    tok_stats stats = {0};
    ST_ASSERT_OK(tok_encode(t, s, n, &b, &stats));
    assert_true(b.n <= n);
    char *back = NULL;
    size_t len = 0;
    ST_ASSERT_OK(tok_decode(t, b.ids, b.n, &back, &len));
    assert_int_equal(len, n);
    assert_memory_equal(back, s, n);
    size_t invalid = 0, units = utf8_count(s, n, &invalid);
    uint64_t sum = 0;
    for (size_t i = 0; i < b.n; i++) {
        sum += b.chars[i];
        assert_true(b.ids[i] >= 0 && b.ids[i] < tok_vocab_size(t));
        assert_int_not_equal(tok_kind_of(t, b.ids[i]), TOK_SPECIAL);
    }
    assert_int_equal(sum, units);
    assert_int_equal(stats.chars, units);
    assert_int_equal(stats.invalid, invalid);
    assert_int_equal(stats.tokens, b.n);
    assert_int_equal(stats.bytes, n);
    free(back);
    tok_buf_free(&b);
}

static const char sample[] =
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.\n"
    "Съешь же ещё этих мягких французских булок, да выпей чаю. Съешь ещё!\r\n"
    "日本語のテキストと中文文本。日本語は難しい。中文文本也很难。\n"
    "Ελληνικά γράμματα και αριθμοί 12345 67890 12345.\n"
    "emoji 😀😀 and math 𝔸𝔹 then the theory of the thing, thither and there.\n";

/* ---- UTF-8 ------------------------------------------------------------- */

static void utf8_decode_is_strict(void **state)
{
    (void)state;
    uint32_t cp;
    struct { const char *s; size_t n, want; uint32_t cp; } v[] = {
        {"A", 1, 1, 0x41},
        {"\0", 1, 1, 0},
        {"\xC3\xA9", 2, 2, 0xE9},
        {"\xE2\x82\xAC", 3, 3, 0x20AC},
        {"\xF0\x9F\x98\x80", 4, 4, 0x1F600},
        {"\xF4\x8F\xBF\xBF", 4, 4, 0x10FFFF},
        {"\xEF\xBF\xBF", 3, 3, 0xFFFF},
        {"\xC0\x80", 2, 0, 0},         /* overlong NUL */
        {"\xC1\xBF", 2, 0, 0},         /* overlong */
        {"\xE0\x80\xAF", 3, 0, 0},     /* overlong */
        {"\xED\xA0\x80", 3, 0, 0},     /* surrogate U+D800 */
        {"\xF4\x90\x80\x80", 4, 0, 0}, /* above U+10FFFF */
        {"\xF5\x80\x80\x80", 4, 0, 0},
        {"\xE2\x82", 2, 0, 0},         /* truncated */
        {"\x80", 1, 0, 0},             /* lone continuation */
        {"\xC3\x28", 2, 0, 0},         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t got = utf8_decode((const uint8_t *)v[i].s, v[i].n, &cp);
        if (got != v[i].want) print_error("case %zu: got %zu want %zu\n", i, got, v[i].want);
        assert_int_equal(got, v[i].want);
        if (got) assert_int_equal(cp, v[i].cp);
    }
    /* every scalar value round-trips; surrogates and > U+10FFFF do not encode */
    for (uint32_t c = 0; c <= UTF8_MAX_CP; c++) {
        uint8_t u[4];
        size_t k = utf8_encode(c, u);
        if (c >= 0xD800 && c <= 0xDFFF) {
            assert_int_equal(k, 0);
            continue;
        }
        assert_true(k >= 1 && k <= 4);
        assert_int_equal(utf8_decode(u, k, &cp), k);
        assert_int_equal(cp, c);
    }
    uint8_t u[4];
    assert_int_equal(utf8_encode(0x110000, u), 0);
}

static void utf8_classes_and_breaks(void **state)
{
    (void)state;
    assert_int_equal(utf8_class_of('a'), UTF8_WORD);
    assert_int_equal(utf8_class_of('7'), UTF8_WORD);
    assert_int_equal(utf8_class_of(' '), UTF8_OTHER);
    assert_int_equal(utf8_class_of('.'), UTF8_OTHER);
    assert_int_equal(utf8_class_of(0xE9), UTF8_WORD);   /* é */
    assert_int_equal(utf8_class_of(0xD7), UTF8_OTHER);  /* × */
    assert_int_equal(utf8_class_of(0x0436), UTF8_WORD); /* ж */
    assert_int_equal(utf8_class_of(0x65E5), UTF8_CJK);  /* 日 */
    assert_int_equal(utf8_class_of(0x306E), UTF8_CJK);  /* の */
    assert_int_equal(utf8_class_of(0x3002), UTF8_OTHER); /* 。 */
    assert_int_equal(utf8_class_of(0x1F600), UTF8_OTHER); /* emoji */
    assert_int_equal(utf8_class_of(0x20000), UTF8_CJK);
    const uint8_t *s = (const uint8_t *)"ab cd日本x\xC3\xA9\x80z";
    size_t n = strlen((const char *)s);
    /* "ab cd" | 日本 | x é | invalid | z */
    assert_false(utf8_is_break(s, n, 1, true, true)); /* a|b */
    assert_true(utf8_is_break(s, n, 2, true, true));  /* b| */
    assert_true(utf8_is_break(s, n, 3, true, true));  /* |c */
    assert_true(utf8_is_break(s, n, 5, true, true));  /* d|日 */
    assert_false(utf8_is_break(s, n, 6, true, true)); /* inside 日 */
    assert_false(utf8_is_break(s, n, 8, true, true)); /* 日|本 */
    assert_true(utf8_is_break(s, n, 11, true, true)); /* 本|x */
    assert_false(utf8_is_break(s, n, 12, true, true)); /* x|é */
    assert_true(utf8_is_break(s, n, 14, true, true)); /* é|0x80 */
    assert_true(utf8_is_break(s, n, 15, true, true)); /* 0x80|z */
    assert_true(utf8_is_break(s, n, n, true, true));
    assert_false(utf8_is_break(s, n, n, true, false));
    assert_int_equal(utf8_next_break(s, n, 6, true, true), 11);
    assert_int_equal(utf8_next_break(s, n, 0, false, true), 3); /* no context before 3 */
}

/* ---- n-gram learning against brute force -------------------------------- */

typedef struct ref_ng {
    char s[80];
    size_t len;
    int nch;
    uint64_t count;
} ref_ng;

static int cmp_ref(const void *pa, const void *pb)
{
    const ref_ng *a = pa, *b = pb;
    uint64_t sa = a->count * (uint64_t)(a->nch - 1), sb = b->count * (uint64_t)(b->nch - 1);
    if (sa != sb) return sa > sb ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->s, b->s, m);
    return r ? r : (int)a->len - (int)b->len;
}

/* Every substring of 2..nmax units that are all WORD or all CJK, counted by
 * scanning all start positions (no hashing, no runs). */
static size_t brute_force(const uint8_t *s, size_t n, int nmax, ref_ng **out)
{
    size_t cap = 4096, nr = 0;
    ref_ng *r = calloc(cap, sizeof *r);
    size_t *pos = malloc((n + 1) * sizeof *pos);
    int *cls = malloc((n + 1) * sizeof *cls);
    size_t nu = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        pos[nu] = i;
        cls[nu++] = k ? (int)utf8_class_of(cp) : -1;
        i += k ? k : 1;
    }
    pos[nu] = n;
    for (size_t a = 0; a < nu; a++) {
        for (int len = 2; len <= nmax && a + (size_t)len <= nu; len++) {
            int ok = cls[a] > 0;
            for (int j = 1; j < len && ok; j++) ok = cls[a + (size_t)j] == cls[a];
            if (!ok) break;
            size_t bl = pos[a + (size_t)len] - pos[a];
            size_t f = 0;
            while (f < nr && !(r[f].len == bl && memcmp(r[f].s, s + pos[a], bl) == 0)) f++;
            if (f == nr) {
                if (nr == cap) r = realloc(r, (cap *= 2) * sizeof *r);
                memset(&r[nr], 0, sizeof r[nr]);
                memcpy(r[nr].s, s + pos[a], bl);
                r[nr].len = bl;
                r[nr].nch = len;
                nr++;
            }
            r[f].count++;
        }
    }
    size_t keep = 0;
    for (size_t f = 0; f < nr; f++)
        if (r[f].count >= 2) r[keep++] = r[f];
    qsort(r, keep, sizeof *r, cmp_ref);
    free(pos);
    free(cls);
    *out = r;
    return keep;
}

static void assert_ngrams_match_reference(const tokenizer *t, const uint8_t *s, size_t n, int nmax)
{
    ref_ng *ref = NULL;
    size_t nref = brute_force(s, n, nmax, &ref);
    size_t k = 0;
    for (int id = 0; id < tok_vocab_size(t); id++) {
        if (tok_kind_of(t, id) != TOK_NGRAM) continue;
        size_t len;
        const char *txt = tok_render_text(t, id, &len);
        assert_true(k < nref);
        if (len != ref[k].len || memcmp(txt, ref[k].s, len) != 0)
            print_error("n-gram %zu: got '%.*s' want '%.*s'\n", k, (int)len, txt, (int)ref[k].len, ref[k].s);
        assert_int_equal(len, ref[k].len);
        assert_memory_equal(txt, ref[k].s, len);
        assert_int_equal(tok_id_count(t, id), ref[k].count);
        assert_int_equal(tok_id_chars(t, id), ref[k].nch);
        k++;
    }
    assert_int_equal(k, (size_t)tok_n_ngrams(t));
    assert_true(k == nref || k > 0);
    free(ref);
}

static void ngrams_hand_example(void **state)
{
    (void)state;
    const char *s = "abab abab cd 日本語 日本 語";
    tokenizer *t = learn(s, strlen(s), TOK_MODE_COMPACT, 4096, 4, 100, 1);
    /* scores: abab 2x3=6; ab 4x1, aba 2x2, bab 2x2 = 4; ba 2, 日本 2 -- 本語 once, "本 語" never */
    const char *want[] = {"abab", "ab", "aba", "bab", "ba", "日本"};
    int k = 0;
    for (int id = 0; id < tok_vocab_size(t); id++) {
        if (tok_kind_of(t, id) != TOK_NGRAM) continue;
        assert_true(k < 6);
        assert_string_equal(tok_render_text(t, id, NULL), want[k]);
        k++;
    }
    assert_int_equal(k, 6);
    /* compact layout: specials, bytes, then the characters in code point order */
    assert_int_equal(tok_special_id(t, TOK_PAD), 0);
    assert_int_equal(tok_special_id(t, TOK_EOS), 2);
    assert_int_equal(tok_byte_id(t, 0), 3);
    assert_string_equal(tok_render_text(t, tok_byte_id(t, 0xAB), NULL), "<0xAB>");
    assert_string_equal(tok_render_text(t, 1, NULL), "<|bos|>");
    assert_int_equal(tok_char_id(t, ' '), 259);
    assert_int_equal(tok_n_chars(t), 8); /* space a b c d 日 本 語 */
    tok_free(t);
}

static void ngrams_match_brute_force(void **state)
{
    (void)state;
    for (int nmax = 2; nmax <= 5; nmax++) {
        tokenizer *t = learn(sample, strlen(sample), TOK_MODE_COMPACT, 4096, nmax, 4000, 1);
        assert_ngrams_match_reference(t, (const uint8_t *)sample, strlen(sample), nmax);
        tok_free(t);
    }
    /* top-K truncation keeps the head of the same ranking */
    tokenizer *t = learn(sample, strlen(sample), TOK_MODE_BMP, 0, 4, 7, 1);
    assert_int_equal(tok_n_ngrams(t), 7);
    assert_ngrams_match_reference(t, (const uint8_t *)sample, strlen(sample), 4);
    tok_free(t);
}

/* ---- layouts and greedy encoding --------------------------------------- */

static void bmp_layout(void **state)
{
    (void)state;
    tokenizer *t = learn(sample, strlen(sample), TOK_MODE_BMP, 0, 4, 20, 1);
    assert_int_equal(tok_vocab_size(t), 65536);
    assert_int_equal(tok_char_id(t, 'A'), 'A');
    assert_int_equal(tok_char_id(t, 0), 0);
    assert_int_equal(tok_char_id(t, 0x65E5), 0x65E5);
    assert_int_equal(tok_char_id(t, 0xE000), -1);     /* private use: bytes */
    assert_int_equal(tok_char_id(t, 0x1F600), -1);    /* non-BMP: bytes */
    assert_int_equal(tok_kind_of(t, 0xE000), TOK_SPECIAL);
    assert_int_equal(tok_special_id(t, TOK_EOS), 0xE002);
    assert_int_equal(tok_kind_of(t, 0xE003), TOK_UNUSED);
    assert_null(tok_render_text(t, 0xE003, NULL));
    assert_int_equal(tok_byte_id(t, 0xAB), 0xE1AB);
    assert_string_equal(tok_render_text(t, 0xE1AB, NULL), "<0xAB>");
    assert_int_equal(tok_kind_of(t, 0xE200), TOK_NGRAM);
    assert_int_equal(tok_kind_of(t, 0xE200 + 19), TOK_NGRAM);
    assert_int_equal(tok_kind_of(t, 0xE200 + 20), TOK_UNUSED);
    assert_int_equal(tok_kind_of(t, 0xD800), TOK_UNUSED);
    size_t len;
    assert_string_equal(tok_render_text(t, 0x0436, &len), "ж");
    assert_int_equal(len, 2);
    assert_int_equal(tok_kind_of(t, 65536), TOK_UNUSED);
    assert_int_equal(tok_kind_of(t, -1), TOK_UNUSED);
    tok_free(t);
}

static void greedy_longest_match_and_fallback(void **state)
{
    (void)state;
    const char *corpus = "abc abc abc ab ab xy";
    tokenizer *t = learn(corpus, strlen(corpus), TOK_MODE_COMPACT, 4096, 3, 100, 2);
    /* n-grams: abc (3x2=6), ab (5), bc (3); x, y seen once: below min_count 2 */
    assert_true(tok_char_id(t, 'x') < 0);
    assert_true(tok_char_id(t, 'a') >= 0);
    tok_buf b;
    tok_buf_init(&b);
    const char *in = "abcab\xC3\xA9x";
    ST_ASSERT_OK(tok_encode(t, (const uint8_t *)in, strlen(in), &b, NULL));
    /* abc | ab | C3 A9 (é has no id) | x (no id) */
    assert_int_equal(b.n, 5);
    assert_string_equal(tok_render_text(t, b.ids[0], NULL), "abc");
    assert_string_equal(tok_render_text(t, b.ids[1], NULL), "ab");
    assert_int_equal(b.ids[2], tok_byte_id(t, 0xC3));
    assert_int_equal(b.ids[3], tok_byte_id(t, 0xA9));
    assert_int_equal(b.ids[4], tok_byte_id(t, 'x'));
    const uint8_t want_chars[] = {3, 2, 1, 0, 1};
    assert_memory_equal(b.chars, want_chars, 5);
    /* specials decode to nothing; an unknown id is an error naming it */
    int32_t ids[3] = {tok_special_id(t, TOK_BOS), b.ids[0], tok_special_id(t, TOK_EOS)};
    char *out = NULL;
    size_t len;
    ST_ASSERT_OK(tok_decode(t, ids, 3, &out, &len));
    assert_string_equal(out, "abc");
    free(out);
    ids[1] = tok_vocab_size(t);
    assert_int_equal(tok_decode(t, ids, 3, &out, &len), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "not in the vocabulary"));
    tok_buf_free(&b);
    tok_free(t);
}

/* ---- lossless on anything ---------------------------------------------- */

/* A random byte string mixing raw bytes, valid characters from every plane,
 * NUL, CR/LF, and pieces of the sample (so n-grams match). */
static size_t random_string(rng_t *r, uint8_t *buf, size_t cap)
{
    size_t n = 0, target = (size_t)rng_below(r, cap - 8);
    while (n < target) {
        switch (rng_below(r, 7)) {
        case 0: buf[n++] = (uint8_t)rng_below(r, 256); break;
        case 1: buf[n++] = rng_below(r, 2) ? '\r' : (rng_below(r, 2) ? '\n' : '\0'); break;
        case 2: {
            static const uint32_t top[] = {0x80, 0x800, 0x10000, 0x110000};
            uint32_t cp = (uint32_t)rng_below(r, top[rng_below(r, 4)]);
            n += utf8_encode(cp, buf + n);
            break;
        }
        case 3: { /* a truncated multi-byte sequence */
            uint8_t u[4];
            size_t k = utf8_encode(0x800 + (uint32_t)rng_below(r, 0x100000), u);
            size_t cut = k > 1 ? 1 + (size_t)rng_below(r, k - 1) : k;
            memcpy(buf + n, u, cut);
            n += cut;
            break;
        }
        default: {
            size_t off = (size_t)rng_below(r, sizeof sample - 9);
            size_t len = 1 + (size_t)rng_below(r, 8);
            memcpy(buf + n, sample + off, len);
            n += len;
            break;
        }
        }
    }
    return n;
}

static void lossless_on_random_bytes(void **state)
{
    (void)state;
    tokenizer *ts[3] = {
        learn(sample, strlen(sample), TOK_MODE_COMPACT, 4096, 4, 300, 1),
        learn(sample, strlen(sample), TOK_MODE_COMPACT, 300, 4, 300, 2), /* tiny: many bytes */
        learn(sample, strlen(sample), TOK_MODE_BMP, 0, 6, 500, 1),
    };
    rng_t r;
    rng_init(&r, 42, 0, RNG_TEST);
    uint8_t buf[256];
    for (int i = 0; i < 12000; i++) {
        size_t n = random_string(&r, buf, sizeof buf);
        assert_roundtrip(ts[i % 3], buf, n);
    }
    assert_roundtrip(ts[0], (const uint8_t *)"", 0);
    for (int k = 0; k < 3; k++) tok_free(ts[k]);
}

static void lossless_on_word_list(void **state)
{
    (void)state;
    const char *path = "/usr/share/dict/words";
    FILE *f = fopen(path, "rb");
    if (!f) {
        ST_SKIP("%s is missing (apt-get install wamerican): the word-list part did not run", path);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *words = malloc((size_t)n + 1);
    assert_int_equal(fread(words, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    tokenizer *c = learn((const char *)words, (size_t)n, TOK_MODE_COMPACT, 2048, 4, 1500, 1);
    tokenizer *b = learn(sample, strlen(sample), TOK_MODE_BMP, 0, 4, 100, 1);
    assert_roundtrip(c, words, (size_t)n);
    assert_roundtrip(b, words, (size_t)n);
    /* and word by word, where greedy matching sees every word edge */
    size_t start = 0, nwords = 0;
    for (size_t i = 0; i <= (size_t)n; i++) {
        if (i < (size_t)n && words[i] != '\n') continue;
        assert_roundtrip(c, words + start, i - start);
        start = i + 1;
        nwords++;
    }
    assert_true(nwords > 1000);
    /* n-grams make the text shorter than one token per character */
    tok_buf tb;
    tok_buf_init(&tb);
    ST_ASSERT_OK(tok_encode(c, words, (size_t)n, &tb, NULL));
    assert_true((double)tb.n < 0.6 * (double)utf8_count(words, (size_t)n, NULL));
    tok_buf_free(&tb);
    tok_free(c);
    tok_free(b);
    free(words);
}

/* ---- HDF5 -------------------------------------------------------------- */

static void assert_same_tokenizer(const tokenizer *a, const tokenizer *b)
{
    assert_int_equal(tok_vocab_size(a), tok_vocab_size(b));
    assert_int_equal(tok_mode_of(a), tok_mode_of(b));
    assert_int_equal(tok_n_ngrams(a), tok_n_ngrams(b));
    assert_int_equal(tok_n_chars(a), tok_n_chars(b));
    assert_int_equal(tok_ngram_max(a), tok_ngram_max(b));
    for (int id = 0; id < tok_vocab_size(a); id++) {
        assert_int_equal(tok_kind_of(a, id), tok_kind_of(b, id));
        assert_int_equal(tok_id_count(a, id), tok_id_count(b, id));
        size_t la, lb;
        const char *ta = tok_render_text(a, id, &la), *tb = tok_render_text(b, id, &lb);
        assert_int_equal(la, lb);
        if (ta) assert_memory_equal(ta, tb, la);
    }
    tok_buf ea, eb;
    tok_buf_init(&ea);
    tok_buf_init(&eb);
    ST_ASSERT_OK(tok_encode(a, (const uint8_t *)sample, strlen(sample), &ea, NULL));
    ST_ASSERT_OK(tok_encode(b, (const uint8_t *)sample, strlen(sample), &eb, NULL));
    assert_int_equal(ea.n, eb.n);
    assert_memory_equal(ea.ids, eb.ids, ea.n * sizeof *ea.ids);
    tok_buf_free(&ea);
    tok_buf_free(&eb);
}

static void hdf5_round_trip_and_validation(void **state)
{
    (void)state;
    char path[] = "/tmp/strata-tok-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    tokenizer *c = learn(sample, strlen(sample), TOK_MODE_COMPACT, 512, 4, 100, 1);
    tokenizer *b = learn(sample, strlen(sample), TOK_MODE_BMP, 0, 3, 50, 1);
    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_DATASET));
    ST_ASSERT_OK(tok_save(&f, "tokenizer", c));
    ST_ASSERT_OK(tok_save(&f, "model/tok_bmp", b)); /* a group below the root */
    /* a damaged copy: the first special renamed to a byte name */
    int rank;
    size_t dims[H5_MAX_RANK];
    uint8_t *kind = NULL, *text = NULL;
    int64_t *off = NULL;
    uint64_t *count = NULL;
    ST_ASSERT_OK(h5_read(&f, "tokenizer/kind", H5_DT_U8, &rank, dims, (void **)&kind));
    size_t V = dims[0];
    ST_ASSERT_OK(h5_read(&f, "tokenizer/text", H5_DT_U8, &rank, dims, (void **)&text));
    size_t T = dims[0];
    ST_ASSERT_OK(h5_read(&f, "tokenizer/text_offsets", H5_DT_I64, &rank, dims, (void **)&off));
    ST_ASSERT_OK(h5_read(&f, "tokenizer/count", H5_DT_U64, &rank, dims, (void **)&count));
    kind[0] = TOK_BYTE;
    ST_ASSERT_OK(h5_group(&f, "bad"));
    ST_ASSERT_OK(h5_attr_set_str(&f, "bad", "mode", "compact"));
    ST_ASSERT_OK(h5_attr_set_i64(&f, "bad", "tokenizer_version", 1));
    ST_ASSERT_OK(h5_attr_set_i64(&f, "bad", "vocab_size", (int64_t)V));
    ST_ASSERT_OK(h5_attr_set_i64(&f, "bad", "ngram_max", 4));
    ST_ASSERT_OK(h5_write(&f, "bad/kind", H5_DT_U8, 1, &V, kind));
    ST_ASSERT_OK(h5_write(&f, "bad/count", H5_DT_U64, 1, &V, count));
    ST_ASSERT_OK(h5_write(&f, "bad/text", H5_DT_U8, 1, &T, text));
    size_t V1 = V + 1;
    ST_ASSERT_OK(h5_write(&f, "bad/text_offsets", H5_DT_I64, 1, &V1, off));
    free(kind);
    free(text);
    free(off);
    free(count);
    ST_ASSERT_OK(h5_close(&f));

    ST_ASSERT_OK(h5_open(&f, path, MPI_COMM_SELF, false));
    tokenizer *c2 = NULL, *b2 = NULL, *bad = NULL;
    ST_ASSERT_OK(tok_load(&f, "tokenizer", &c2));
    ST_ASSERT_OK(tok_load(&f, "model/tok_bmp", &b2));
    assert_same_tokenizer(c, c2);
    assert_same_tokenizer(b, b2);
    assert_int_equal(tok_load(&f, "bad", &bad), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "<|pad|>"));
    assert_null(bad);
    assert_int_equal(tok_load(&f, "nothing", &bad), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "no tokenizer group"));
    ST_ASSERT_OK(h5_close(&f));
    tok_free(c);
    tok_free(c2);
    tok_free(b);
    tok_free(b2);
    unlink(path);
}

/* ---- content hash -------------------------------------------------------- */

/* Copy group `from` of f to group `to`, with id `edit`'s text replaced by
 * `text` (edit < 0: unchanged), every count replaced by `count` (when
 * nonzero), and the sha256 attribute copied from `hash_from` (NULL: none). */
static void copy_group(h5_file *f, const char *from, const char *to, int edit, const char *text,
                       uint64_t count, const char *hash_from)
{
    int rank;
    size_t dims[H5_MAX_RANK];
    uint8_t *kind = NULL, *pool = NULL;
    int64_t *off = NULL;
    uint64_t *cnt = NULL;
    char p[128], *mode = NULL, *hash = NULL;
    int64_t vocab = 0, nmax = 0;
    snprintf(p, sizeof p, "%s/kind", from);
    ST_ASSERT_OK(h5_read(f, p, H5_DT_U8, &rank, dims, (void **)&kind));
    size_t V = dims[0];
    snprintf(p, sizeof p, "%s/text", from);
    ST_ASSERT_OK(h5_read(f, p, H5_DT_U8, &rank, dims, (void **)&pool));
    snprintf(p, sizeof p, "%s/text_offsets", from);
    ST_ASSERT_OK(h5_read(f, p, H5_DT_I64, &rank, dims, (void **)&off));
    snprintf(p, sizeof p, "%s/count", from);
    ST_ASSERT_OK(h5_read(f, p, H5_DT_U64, &rank, dims, (void **)&cnt));
    ST_ASSERT_OK(h5_attr_get_str(f, from, "mode", &mode));
    ST_ASSERT_OK(h5_attr_get_i64(f, from, "vocab_size", &vocab));
    ST_ASSERT_OK(h5_attr_get_i64(f, from, "ngram_max", &nmax));
    /* the new text pool */
    size_t total = (size_t)off[V] + (text ? strlen(text) : 0);
    uint8_t *np = malloc(total + 1);
    int64_t *noff = malloc((V + 1) * sizeof *noff);
    assert_non_null(np);
    assert_non_null(noff);
    size_t q = 0;
    for (size_t i = 0; i < V; i++) {
        noff[i] = (int64_t)q;
        if ((int)i == edit) {
            memcpy(np + q, text, strlen(text));
            q += strlen(text);
        } else {
            memcpy(np + q, pool + off[i], (size_t)(off[i + 1] - off[i]));
            q += (size_t)(off[i + 1] - off[i]);
        }
        if (count) cnt[i] = count;
    }
    noff[V] = (int64_t)q;
    ST_ASSERT_OK(h5_group(f, to));
    ST_ASSERT_OK(h5_attr_set_str(f, to, "mode", mode));
    ST_ASSERT_OK(h5_attr_set_i64(f, to, "tokenizer_version", 1));
    ST_ASSERT_OK(h5_attr_set_i64(f, to, "vocab_size", vocab));
    ST_ASSERT_OK(h5_attr_set_i64(f, to, "ngram_max", nmax));
    if (hash_from) {
        ST_ASSERT_OK(h5_attr_get_str(f, hash_from, "sha256", &hash));
        ST_ASSERT_OK(h5_attr_set_str(f, to, "sha256", hash));
    }
    size_t V1 = V + 1;
    snprintf(p, sizeof p, "%s/kind", to);
    ST_ASSERT_OK(h5_write(f, p, H5_DT_U8, 1, &V, kind));
    snprintf(p, sizeof p, "%s/count", to);
    ST_ASSERT_OK(h5_write(f, p, H5_DT_U64, 1, &V, cnt));
    snprintf(p, sizeof p, "%s/text", to);
    ST_ASSERT_OK(h5_write(f, p, H5_DT_U8, 1, &q, np));
    snprintf(p, sizeof p, "%s/text_offsets", to);
    ST_ASSERT_OK(h5_write(f, p, H5_DT_I64, 1, &V1, noff));
    free(kind);
    free(pool);
    free(off);
    free(cnt);
    free(mode);
    free(hash);
    free(np);
    free(noff);
}

static tokenizer *load_group(h5_file *f, const char *group)
{
    tokenizer *t = NULL;
    ST_ASSERT_OK(tok_load(f, group, &t));
    return t;
}

static void content_hash(void **state)
{
    (void)state;
    char path[] = "/tmp/strata-tokhash-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    tokenizer *c = learn(sample, strlen(sample), TOK_MODE_COMPACT, 512, 4, 100, 1);
    tokenizer *b = learn(sample, strlen(sample), TOK_MODE_BMP, 0, 3, 50, 1);
    char hc[65], hb[65], h[65];
    tok_hash(c, hc);
    tok_hash(b, hb);
    assert_int_equal(strlen(hc), 64);
    assert_int_equal(strspn(hc, "0123456789abcdef"), 64);
    assert_string_not_equal(hc, hb);
    int last = tok_vocab_size(c) - 1;
    assert_int_equal(tok_kind_of(c, last), TOK_NGRAM);
    assert_int_not_equal(tok_id_count(c, last), 7);

    h5_file f;
    ST_ASSERT_OK(h5_create(&f, path, MPI_COMM_SELF, H5_KIND_TOKENIZER));
    ST_ASSERT_OK(tok_save(&f, "tokenizer", c));
    ST_ASSERT_OK(tok_save(&f, "bmp", b));
    char *stored = NULL;
    ST_ASSERT_OK(h5_attr_get_str(&f, "tokenizer", "sha256", &stored));
    assert_string_equal(stored, hc); /* saved with the tokenizer */
    free(stored);
    /* one id's text changed: a different tokenizer (no stale hash: loads) */
    copy_group(&f, "tokenizer", "edited", last, "\xE2\x98\x83\xE2\x98\x83", 0, NULL);
    /* the same edit under the original's sha256: a tampered file */
    copy_group(&f, "tokenizer", "tampered", last, "\xE2\x98\x83\xE2\x98\x83", 0, "tokenizer");
    /* only the counts changed, original sha256: still the same tokenizer
     * (learning counts are not part of the definition) */
    copy_group(&f, "tokenizer", "recounted", -1, NULL, 7, "tokenizer");
    ST_ASSERT_OK(h5_close(&f));

    ST_ASSERT_OK(h5_open(&f, path, MPI_COMM_SELF, false));
    tokenizer *t = load_group(&f, "tokenizer");
    tok_hash(t, h);
    assert_string_equal(h, hc); /* stable across save/load */
    tok_free(t);
    t = load_group(&f, "bmp");
    tok_hash(t, h);
    assert_string_equal(h, hb);
    tok_free(t);
    t = load_group(&f, "edited");
    tok_hash(t, h);
    assert_string_not_equal(h, hc);
    assert_string_equal(tok_render_text(t, last, NULL), "\xE2\x98\x83\xE2\x98\x83");
    tok_free(t);
    t = load_group(&f, "recounted");
    assert_int_equal(tok_id_count(t, last), 7);
    tok_hash(t, h);
    assert_string_equal(h, hc);
    tok_free(t);
    t = NULL;
    assert_int_equal(tok_load(&f, "tampered", &t), ST_EDATA);
    assert_null(t);
    assert_non_null(strstr(st_last_error(), path));
    assert_non_null(strstr(st_last_error(), "changed after it was written"));
    ST_ASSERT_OK(h5_close(&f));

    /* the file-level reader: any strata file, here kind "tokenizer" */
    ST_ASSERT_OK(tok_load_file(path, MPI_COMM_SELF, &t));
    tok_hash(t, h);
    assert_string_equal(h, hc);
    tok_free(t);
    t = NULL;
    assert_int_equal(tok_load_file("/nonexistent/tok.h5", MPI_COMM_SELF, &t), ST_EDATA);
    assert_null(t);

    /* tok_write_file: a published tokenizer file with the same hash */
    char out[sizeof path + 8];
    snprintf(out, sizeof out, "%s.tok", path);
    ST_ASSERT_OK(tok_write_file(out, c, "[tokenizer]\nmode = compact\n", "1\tx\n", MPI_COMM_SELF));
    ST_ASSERT_OK(h5_open_kind(&f, out, MPI_COMM_SELF, H5_KIND_TOKENIZER, ST_EDATA));
    ST_ASSERT_OK(h5_close(&f));
    ST_ASSERT_OK(tok_load_file(out, MPI_COMM_SELF, &t));
    tok_hash(t, h);
    assert_string_equal(h, hc);
    tok_free(t);
    unlink(out);

    tok_free(c);
    tok_free(b);
    unlink(path);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_decode_is_strict),
        cmocka_unit_test(utf8_classes_and_breaks),
        cmocka_unit_test(ngrams_hand_example),
        cmocka_unit_test(ngrams_match_brute_force),
        cmocka_unit_test(bmp_layout),
        cmocka_unit_test(greedy_longest_match_and_fallback),
        cmocka_unit_test(lossless_on_random_bytes),
        cmocka_unit_test(lossless_on_word_list),
        cmocka_unit_test(hdf5_round_trip_and_validation),
        cmocka_unit_test(content_hash),
    };
    return st_test_main(argc, argv, "test_tokenizer", tests, sizeof tests / sizeof tests[0]);
}
