/* corpus_describe.c -- human summary of a dataset file (for `strata inspect`). */
#include <stdlib.h>
#include <string.h>

#include "strata/corpus.h"
#include "strata/h5.h"
#include "strata/utf8.h"
#include "tok_internal.h"

/* Print text with control characters escaped, at most `max` bytes, cut at a
 * character start. */
static void print_escaped(FILE *out, const char *s, size_t n, size_t max)
{
    size_t i = 0;
    while (i < n && i < max) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7F)
            fprintf(out, "\\x%02X", c);
        else {
            uint32_t cp;
            size_t k = utf8_decode((const uint8_t *)s + i, n - i, &cp);
            if (k == 0) {
                fprintf(out, "\\x%02X", c);
            } else {
                fwrite(s + i, 1, k, out);
                i += k;
                continue;
            }
        }
        i++;
    }
    if (i < n) fputs("...", out);
}

st_status corpus_describe(h5_file *f, FILE *out)
{
    st_status st = ST_OK;
    char *text = NULL, *rule = NULL;
    tokenizer *tok = NULL;
    int32_t *first = NULL;
    CHECK(h5_check_kind(f, H5_KIND_DATASET, ST_EDATA));
    static const char *const names[] = {"files", "files_binary_skipped", "bytes", "chars",
                                        "invalid_sequences", "tokens", "text_tokens", "byte_tokens"};
    int64_t v[8];
    for (int i = 0; i < 8; i++) CHECK(h5_attr_get_i64(f, "corpus", names[i], &v[i]));
    double cpt, frac;
    int64_t ctx, n_chunks, dropped, n_train, n_val, seed;
    CHECK(h5_attr_get_f64(f, "corpus", "chars_per_token", &cpt));
    CHECK(h5_attr_get_i64(f, "chunks", "ctx", &ctx));
    CHECK(h5_attr_get_i64(f, "chunks", "n_chunks", &n_chunks));
    CHECK(h5_attr_get_i64(f, "chunks", "dropped_tokens", &dropped));
    CHECK(h5_attr_get_i64(f, "split", "n_train", &n_train));
    CHECK(h5_attr_get_i64(f, "split", "n_val", &n_val));
    CHECK(h5_attr_get_i64(f, "split", "seed", &seed));
    CHECK(h5_attr_get_f64(f, "split", "val_fraction", &frac));
    bool has_rule = false;
    CHECK(h5_attr_exists(f, "split", "rule", &has_rule));
    if (has_rule) CHECK(h5_attr_get_str(f, "split", "rule", &rule));
    CHECK(tok_load(f, "tokenizer", &tok));
    if (n_chunks < 1 || ctx < 1) FAIL(ST_EDATA, "%s: no chunks", f->path);
    first = malloc((size_t)(ctx + 1) * sizeof *first);
    CHECK_ALLOC(first);
    CHECK(h5_read_rows(f, "chunks/tokens", H5_DT_I32, (size_t)ctx + 1, 0, 1, first));
    size_t len = 0;
    CHECK(tok_decode(tok, first, (size_t)ctx + 1, &text, &len));
    if (out) {
        fprintf(out, "dataset %s\n", f->path);
        fprintf(out, "  corpus: %lld files (%lld binary skipped), %lld bytes, %lld characters, "
                     "%lld invalid sequences\n",
                (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4]);
        fprintf(out, "  tokens: %lld (%lld text, %lld byte fallback), %.3f characters per token\n",
                (long long)v[5], (long long)v[6], (long long)v[7], cpt);
        fprintf(out, "  chunks: %lld of ctx+1 = %lld tokens (stride %lld, %lld tail tokens dropped)\n",
                (long long)n_chunks, (long long)ctx + 1, (long long)ctx, (long long)dropped);
        if (rule && strcmp(rule, "tail") == 0)
            fprintf(out, "  split: %lld train, %lld val (val_fraction %g, rule tail: the last chunks of each document)\n",
                    (long long)n_train, (long long)n_val, frac);
        else
            fprintf(out, "  split: %lld train, %lld val (val_fraction %g, seed %lld, rule random)\n",
                    (long long)n_train, (long long)n_val, frac, (long long)seed);
        fputs("  ", out);
        tok_describe(tok, out);
        fputs("  chunk 0: \"", out);
        print_escaped(out, text, len, 160);
        fputs("\"\n", out);
    }
out:
    if (st != ST_OK) st_add_context("describing dataset");
    tok_free(tok);
    free(first);
    free(text);
    free(rule);
    return st;
}
