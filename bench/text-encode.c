/* text-encode.c -- tokenizer throughput on one text file.
 *
 *   bench/text-encode FILE [bmp|compact] [vocab_size] [ngrams] [ngram_max] [reps]
 *
 * Learns a tokenizer from FILE (timed: counting, learning), then encodes the
 * whole file `reps` times and reports the best time as MB/s (1 MB = 10^6
 * bytes), and checks that decoding gives the file back.  Output: one
 * "key value" per line, so bench/text-bench.sh can pick the numbers. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/timer.h"
#include "strata/tokenizer.h"

static int fail(st_status st, const char *what)
{
    fprintf(stderr, "text-encode: %s: %s\n", what, st_last_error());
    MPI_Finalize();
    return st_exit_code(st) ? st_exit_code(st) : 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [bmp|compact] [vocab_size] [ngrams] [ngram_max] [reps]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    tok_options o = {.mode = TOK_MODE_COMPACT, .vocab_size = 4096, .min_count = 1, .ngram_max = 4, .ngrams = 1024};
    if (argc > 2) o.mode = strcmp(argv[2], "bmp") == 0 ? TOK_MODE_BMP : TOK_MODE_COMPACT;
    if (argc > 3) o.vocab_size = atoi(argv[3]);
    if (argc > 4) o.ngrams = atoi(argv[4]);
    if (argc > 5) o.ngram_max = atoi(argv[5]);
    int reps = argc > 6 ? atoi(argv[6]) : 5;

    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        MPI_Finalize();
        return 3;
    }
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *text = malloc(n + 1);
    if (!text || fread(text, 1, n, f) != n) {
        fprintf(stderr, "text-encode: cannot read %s\n", argv[1]);
        MPI_Finalize();
        return 3;
    }
    fclose(f);

    tok_counts *c = NULL;
    tokenizer *t = NULL;
    st_status st = tok_counts_init(&c, o.ngram_max);
    if (st != ST_OK) return fail(st, "counts");
    double t0 = timer_now();
    st = tok_counts_add(c, text, n);
    if (st != ST_OK) return fail(st, "counting");
    double t1 = timer_now();
    st = tok_learn(c, &o, MPI_COMM_SELF, &t);
    if (st != ST_OK) return fail(st, "learning");
    double t2 = timer_now();

    tok_buf b;
    tok_buf_init(&b);
    double best = 1e30;
    tok_stats stats = {0};
    for (int r = 0; r < reps; r++) {
        b.n = 0;
        memset(&stats, 0, sizeof stats);
        double a = timer_now();
        st = tok_encode(t, text, n, &b, &stats);
        double e = timer_now() - a;
        if (st != ST_OK) return fail(st, "encoding");
        if (e < best) best = e;
    }
    char *back = NULL;
    size_t len = 0;
    double d0 = timer_now();
    st = tok_decode(t, b.ids, b.n, &back, &len);
    double d1 = timer_now();
    if (st != ST_OK) return fail(st, "decoding");
    int lossless = len == n && memcmp(back, text, n) == 0;

    printf("file %s\n", argv[1]);
    printf("bytes %zu\n", n);
    printf("chars %llu\n", (unsigned long long)stats.chars);
    printf("mode %s\n", o.mode == TOK_MODE_BMP ? "bmp" : "compact");
    printf("vocab %d\n", tok_vocab_size(t));
    printf("ngrams %d\n", tok_n_ngrams(t));
    printf("tokens %zu\n", b.n);
    printf("chars_per_token %.3f\n", (double)stats.chars / (double)b.n);
    printf("count_s %.4f\n", t1 - t0);
    printf("learn_s %.4f\n", t2 - t1);
    printf("encode_s %.4f\n", best);
    printf("encode_MBps %.2f\n", (double)n / best / 1e6);
    printf("decode_MBps %.2f\n", (double)n / (d1 - d0) / 1e6);
    printf("lossless %s\n", lossless ? "yes" : "NO");
    free(back);
    tok_buf_free(&b);
    tok_free(t);
    tok_counts_free(c);
    free(text);
    MPI_Finalize();
    return lossless ? 0 : 1;
}
