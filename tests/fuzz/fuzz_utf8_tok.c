/* fuzz_utf8_tok.c -- UTF-8 decoding and the tokenizer on arbitrary bytes.
 *
 * Properties (a violation aborts, which libFuzzer reports as a crash):
 *  - utf8_decode of every unit re-encodes (utf8_encode) to the same bytes;
 *    utf8_count agrees with the units seen;
 *  - tok_encode never fails, and tok_decode(tok_encode(x)) == x byte for
 *    byte, for a compact and a bmp tokenizer with learned n-grams;
 *  - the chars[] of the tokens sum to the number of units;
 *  - arbitrary ids decode or fail with ST_EDATA, never crash.
 * The tokenizers are learned once from a fixed multilingual text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "strata/tokenizer.h"
#include "strata/utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tokenizer *toks[2];

static const char learn_text[] =
    "Call me Ishmael. Some years ago -- never mind how long precisely -- having little or no money "
    "in my purse, and nothing particular to interest me on shore, I thought I would sail about a "
    "little and see the watery part of the world. the the the and and and ing ing ing tion tion\n"
    "Übermäßig große Straße, façade, naïve café; Ελληνικά γράμματα; русский текст, текст!\n"
    "日本語のテキストと漢字、中文文本，한국어 텍스트 한국어. 東京 東京 東京\n"
    "emoji 😀😀 🎉 math ∑∫√ ≠ ≤ ≥; tabs\tand\r\nCRLF lines; digits 0123456789 12345 12345\n";

static tokenizer *learn(tok_mode mode, int vocab)
{
    tok_counts *c = NULL;
    tokenizer *t = NULL;
    tok_options o = {.mode = mode, .vocab_size = vocab, .min_count = 1, .ngram_max = 4, .ngrams = 60};
    if (tok_counts_init(&c, o.ngram_max) != ST_OK ||
        tok_counts_add(c, (const uint8_t *)learn_text, sizeof learn_text - 1) != ST_OK ||
        tok_learn(c, &o, MPI_COMM_SELF, &t) != ST_OK) {
        fprintf(stderr, "fuzz_utf8_tok: cannot learn the tokenizer: %s\n", st_last_error());
        abort();
    }
    tok_counts_free(c);
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init(argc, argv);
    toks[0] = learn(TOK_MODE_COMPACT, 400);
    toks[1] = learn(TOK_MODE_BMP, TOK_BMP_VOCAB);
    return 0;
}

static void check_utf8(const uint8_t *data, size_t size, size_t *units_out)
{
    size_t units = 0, invalid = 0;
    for (size_t p = 0; p < size;) {
        uint32_t cp = 0;
        size_t len = utf8_decode(data + p, size - p, &cp);
        if (len == 0) {
            invalid++;
            len = 1;
        } else {
            uint8_t enc[4];
            size_t elen = utf8_encode(cp, enc);
            FUZZ_ASSERT(elen == len && memcmp(enc, data + p, len) == 0,
                        "U+%04X at byte %zu does not re-encode to its %zu bytes", (unsigned)cp, p, len);
            FUZZ_ASSERT(cp <= UTF8_MAX_CP && (cp < 0xD800 || cp > 0xDFFF), "invalid code point U+%X", (unsigned)cp);
            (void)utf8_class_of(cp);
        }
        units++;
        p += len;
    }
    size_t inv2 = 0;
    FUZZ_ASSERT(utf8_count(data, size, &inv2) == units && inv2 == invalid,
                "utf8_count disagrees with unit-by-unit decoding");
    /* Safe breaks: in range, and at a unit start. */
    size_t b = utf8_next_break(data, size, 0, true, true);
    FUZZ_ASSERT(b == SIZE_MAX || b <= size, "utf8_next_break out of range: %zu", b);
    if (size) (void)utf8_is_break(data, size, size / 2, false, false);
    *units_out = units;
}

static void check_round_trip(const tokenizer *t, const uint8_t *data, size_t size, size_t units)
{
    tok_buf b;
    tok_buf_init(&b);
    tok_stats s = {0};
    st_status st = tok_encode(t, data, size, &b, &s);
    FUZZ_ASSERT(st == ST_OK, "tok_encode failed on %zu bytes", size);
    FUZZ_ASSERT(s.bytes == size && s.tokens == b.n && s.chars == units, "tok_encode stats are wrong");
    size_t chars = 0;
    for (size_t i = 0; i < b.n; i++) {
        FUZZ_ASSERT(b.ids[i] >= 0 && b.ids[i] < tok_vocab_size(t), "id %d out of range", (int)b.ids[i]);
        tok_kind k = tok_kind_of(t, b.ids[i]);
        FUZZ_ASSERT(k != TOK_SPECIAL && k != TOK_UNUSED, "encode produced a special or unused id %d",
                    (int)b.ids[i]);
        chars += b.chars[i];
    }
    FUZZ_ASSERT(chars == units, "token chars sum to %zu, text has %zu units", chars, units);
    char *dec = NULL;
    size_t len = 0;
    st = tok_decode(t, b.ids, b.n, &dec, &len);
    FUZZ_ASSERT(st == ST_OK, "tok_decode failed on the output of tok_encode");
    FUZZ_ASSERT(len == size && memcmp(dec, data, size) == 0 && dec[len] == '\0',
                "decode(encode(x)) != x (%zu bytes in, %zu out)", size, len);
    free(dec);
    tok_buf_free(&b);
}

/* The input read as ids: decoding must fail cleanly on bad ones. */
static void check_decode_ids(const tokenizer *t, const uint8_t *data, size_t size)
{
    size_t n = size / 4;
    if (!n) return;
    int32_t *ids = malloc(n * sizeof *ids);
    if (!ids) return;
    memcpy(ids, data, n * sizeof *ids);
    char *dec = NULL;
    size_t len = 0;
    st_status st = tok_decode(t, ids, n, &dec, &len);
    FUZZ_ASSERT(st == ST_OK || st == ST_EDATA, "tok_decode of arbitrary ids returned %d", (int)st);
    if (st == ST_OK) FUZZ_ASSERT(dec && strlen(dec) <= len, "decoded text has no terminator");
    free(dec);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t units = 0;
    check_utf8(data, size, &units);
    for (int i = 0; i < 2; i++) {
        check_round_trip(toks[i], data, size, units);
        check_decode_ids(toks[i], data, size);
    }
    return 0;
}
