/* test_dataset.c -- reading prepared datasets (include/strata/dataset.h) on
 * 1 and 2 ranks: a file written by corpus_prepare opens with the shapes,
 * counts and split it was written with; dataset_select picks splits; and
 * hostile files (each a good file with one object overwritten) are refused
 * with ST_EDATA naming the file and the object; sharded reading gives the
 * rows asked and checks them. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "io/io_test.h"
#include "strata/corpus.h"
#include "strata/dataset.h"
#include "strata/h5.h"
#include "strata/rng.h"
#include "strata/tokenizer.h"

enum { CTX = 16 };

static char dir[512];    /* shared temp dir */
static char good[700];   /* dataset written by corpus_prepare on every rank */
static char noval[700];  /* the same text with val_fraction = 0 */
static corpus_stats stats;

/* Some words with repeats (n-grams to learn), non-ASCII and newlines. */
static void write_text(const char *path, size_t n_words)
{
    static const char *words[] = {"the", "whale", "ship", "sea", "Ahab", "ёлка", "海", "wave", "λόγος", "and"};
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    rng_t r;
    rng_init(&r, 3, 0, RNG_TEST);
    for (size_t i = 0; i < n_words; i++)
        fprintf(f, "%s%s", words[rng_below(&r, 10)], rng_below(&r, 9) == 0 ? ".\n" : " ");
    fclose(f);
}

/* First test: every later one reads these files. */
static void prepare_writes_the_files(void **state)
{
    (void)state;
    io_tmpdir(dir, sizeof dir);
    ST_ASSERT_ALL(dir[0] != '\0');
    char text[700];
    snprintf(text, sizeof text, "%s/text.txt", dir);
    snprintf(good, sizeof good, "%s/good.h5", dir);
    snprintf(noval, sizeof noval, "%s/noval.h5", dir);
    if (st_test_rank() == 0) write_text(text, 3000);
    MPI_Barrier(MPI_COMM_WORLD);
    const char *paths[] = {text};
    corpus_options o = {.ctx = CTX, .val_fraction = 0.2, .split_seed = 11,
                        .tok = {.mode = TOK_MODE_COMPACT, .vocab_size = 400, .min_count = 1,
                                .ngram_max = 4, .ngrams = 40}};
    st_status st = corpus_prepare(paths, 1, good, &o, MPI_COMM_WORLD, &stats);
    if (st == ST_OK) {
        o.val_fraction = 0;
        st = corpus_prepare(paths, 1, noval, &o, MPI_COMM_WORLD, NULL);
    }
    if (st != ST_OK) print_error("corpus_prepare: %s\n", st_last_error());
    ST_ASSERT_ALL(st == ST_OK);
}

/* Last test. */
static void remove_the_files(void **state)
{
    (void)state;
    io_tmpdir_remove(dir);
}

/* Read a whole dataset of the file on this rank, as int64 or double. */
static void *read_all(const char *file, const char *obj, h5_dtype t, size_t *n)
{
    h5_file f;
    ST_ASSERT_OK(h5_open(&f, file, MPI_COMM_SELF, false));
    int rank = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    ST_ASSERT_OK(h5_read(&f, obj, t, &rank, dims, &data));
    *n = 1;
    for (int i = 0; i < rank; i++) *n *= dims[i];
    ST_ASSERT_OK(h5_close(&f));
    return data;
}

static void opens_what_prepare_wrote(void **state)
{
    (void)state;
    dataset d;
    ST_ASSERT_OK(dataset_open(&d, good, MPI_COMM_WORLD));
    assert_string_equal(d.path, good);
    assert_int_equal(d.ctx, CTX);
    assert_true(stats.n_chunks >= 50);
    assert_int_equal(d.n_chunks, (long)stats.n_chunks);
    assert_int_equal(d.n_chunks, (long)((stats.tokens - 1) / CTX));
    assert_int_equal(d.n_train, (long)stats.n_train);
    assert_int_equal(d.n_val, (long)stats.n_val);
    assert_int_equal(d.n_val, lround(0.2 * (double)d.n_chunks));
    assert_int_equal(d.n_train + d.n_val, d.n_chunks);
    assert_non_null(d.tok);
    const int V = tok_vocab_size(d.tok);
    assert_in_range(V, 3 + 256 + 1, 400);

    /* the chunks are the file's rows, in order, with the shared boundary token */
    size_t nt, nc, nv;
    int64_t *tokens = read_all(good, "chunks/tokens", H5_DT_I64, &nt);
    double *chars = read_all(good, "chunks/chars", H5_DT_F64, &nc);
    int64_t *is_val = read_all(good, "split/is_val", H5_DT_I64, &nv);
    assert_int_equal(nt, (size_t)d.n_chunks * (CTX + 1));
    assert_int_equal(nc, (size_t)d.n_chunks);
    assert_int_equal(nv, (size_t)d.n_chunks);
    double sum_chars = 0;
    for (long c = 0; c < d.n_chunks; c++) {
        const int32_t *row = dataset_chunk(&d, c);
        for (int j = 0; j <= CTX; j++) {
            assert_int_equal(row[j], tokens[(size_t)c * (CTX + 1) + (size_t)j]);
            assert_in_range(row[j], 0, V - 1);
        }
        if (c + 1 < d.n_chunks) assert_int_equal(row[CTX], dataset_chunk(&d, c + 1)[0]);
        assert_true(d.chars[c] == chars[c]);
        assert_true(d.chars[c] >= 1 && d.chars[c] <= 16 * CTX);
        sum_chars += d.chars[c];
    }
    assert_true(sum_chars <= (double)stats.chars);

    /* train and val: ascending, disjoint, together every chunk, as is_val says */
    int *mark = calloc((size_t)d.n_chunks, sizeof *mark);
    for (long i = 0; i < d.n_train; i++) {
        assert_in_range(d.train[i], 0, d.n_chunks - 1);
        if (i) assert_true(d.train[i] > d.train[i - 1]);
        assert_int_equal(is_val[d.train[i]], 0);
        mark[d.train[i]]++;
    }
    for (long i = 0; i < d.n_val; i++) {
        assert_in_range(d.val[i], 0, d.n_chunks - 1);
        if (i) assert_true(d.val[i] > d.val[i - 1]);
        assert_int_equal(is_val[d.val[i]], 1);
        mark[d.val[i]]++;
    }
    for (long c = 0; c < d.n_chunks; c++) assert_int_equal(mark[c], 1);
    free(mark);
    free(tokens);
    free(chars);
    free(is_val);

    /* every rank holds the same dataset */
    int same = 1;
    long nums[4] = {d.n_chunks, d.ctx, d.n_train, d.n_val}, ref[4];
    memcpy(ref, nums, sizeof ref);
    MPI_Bcast(ref, 4, MPI_LONG, 0, MPI_COMM_WORLD);
    same = memcmp(ref, nums, sizeof ref) == 0;
    ST_ASSERT_ALL(same);

    dataset_free(&d);
    assert_null(d.chunks);
    assert_null(d.tok);
    dataset_free(&d); /* twice is safe */
}

static void assert_ids(const long *ids, long n, const long *want, long n_want)
{
    assert_int_equal(n, n_want);
    for (long i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
}

static void select_splits(void **state)
{
    (void)state;
    dataset d;
    ST_ASSERT_OK(dataset_open(&d, good, MPI_COMM_WORLD));
    long *ids = NULL, n = 0;
    ST_ASSERT_OK(dataset_select(&d, "train", 0, &ids, &n));
    assert_ids(ids, n, d.train, d.n_train);
    assert_true(ids != d.train); /* a copy the caller owns */
    free(ids);
    ST_ASSERT_OK(dataset_select(&d, "val", 0, &ids, &n));
    assert_ids(ids, n, d.val, d.n_val);
    free(ids);
    ST_ASSERT_OK(dataset_select(&d, "all", 0, &ids, &n));
    assert_int_equal(n, d.n_chunks);
    for (long i = 0; i < n; i++) assert_int_equal(ids[i], i);
    free(ids);
    /* max: the first `max` of the split; a max above the count is no limit */
    ST_ASSERT_OK(dataset_select(&d, "train", 3, &ids, &n));
    assert_ids(ids, n, d.train, 3);
    free(ids);
    ST_ASSERT_OK(dataset_select(&d, "val", 1, &ids, &n));
    assert_ids(ids, n, d.val, 1);
    free(ids);
    ST_ASSERT_OK(dataset_select(&d, "all", 5, &ids, &n));
    assert_int_equal(n, 5);
    assert_int_equal(ids[4], 4);
    free(ids);
    ST_ASSERT_OK(dataset_select(&d, "val", d.n_val + 100, &ids, &n));
    assert_ids(ids, n, d.val, d.n_val);
    free(ids);

    const char *bad[] = {"test", "", "Train", "validation"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ids = (long *)&n;
        n = 7;
        assert_int_equal(dataset_select(&d, bad[i], 0, &ids, &n), ST_EUSAGE);
        assert_null(ids);
        assert_int_equal(n, 0);
        assert_non_null(strstr(st_last_error(), "is not one of train, val, all"));
    }
    dataset_free(&d);

    /* val_fraction = 0: an empty validation split opens, selecting it fails */
    ST_ASSERT_OK(dataset_open(&d, noval, MPI_COMM_WORLD));
    assert_int_equal(d.n_val, 0);
    assert_int_equal(d.n_train, d.n_chunks);
    assert_int_equal(dataset_select(&d, "val", 0, &ids, &n), ST_EDATA);
    assert_null(ids);
    assert_non_null(strstr(st_last_error(), noval));
    assert_non_null(strstr(st_last_error(), "'val'"));
    ST_ASSERT_OK(dataset_select(&d, "train", 0, &ids, &n));
    assert_int_equal(n, d.n_chunks);
    free(ids);
    dataset_free(&d);
}

/* ---- hostile files ------------------------------------------------------
 * Rank 0 copies the good file and changes one thing through h5.h or raw
 * HDF5; then every rank opens it with dataset_open. */

typedef void (*corruptor)(h5_file *f);

static long n_chunks_of_good(void)
{
    size_t n;
    free(read_all(good, "chunks/chars", H5_DT_F64, &n));
    return (long)n;
}

static int vocab_of_good(void)
{
    h5_file f;
    int64_t v = 0;
    ST_ASSERT_OK(h5_open(&f, good, MPI_COMM_SELF, false));
    ST_ASSERT_OK(h5_attr_get_i64(&f, "tokenizer", "vocab_size", &v));
    ST_ASSERT_OK(h5_close(&f));
    return (int)v;
}

/* Overwrite one element of an existing dataset in place (its own type). */
static void poke(h5_file *f, const char *obj, int rank, const hsize_t *coord, hid_t mem_type, const void *value)
{
    hid_t d = H5Dopen2(f->id, obj, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t fs = H5Dget_space(d);
    assert_int_equal(H5Sget_simple_extent_ndims(fs), rank);
    assert_true(H5Sselect_elements(fs, H5S_SELECT_SET, 1, coord) >= 0);
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    assert_true(H5Dwrite(d, mem_type, ms, fs, H5P_DEFAULT, value) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
}

/* Replace a dataset by a new one (any type and shape). */
static void replace(h5_file *f, const char *obj, h5_dtype t, int rank, const size_t *dims, const void *data)
{
    assert_true(H5Ldelete(f->id, obj, H5P_DEFAULT) >= 0);
    ST_ASSERT_OK(h5_write(f, obj, t, rank, dims, data));
}

static void token_above_vocab(h5_file *f)
{
    hsize_t at[2] = {2, 3};
    uint16_t v = (uint16_t)vocab_of_good();
    poke(f, "chunks/tokens", 2, at, H5T_NATIVE_UINT16, &v);
}

static void token_negative(h5_file *f)
{
    size_t n;
    int64_t *t = read_all(good, "chunks/tokens", H5_DT_I64, &n);
    int32_t *t32 = malloc(n * sizeof *t32);
    for (size_t i = 0; i < n; i++) t32[i] = (int32_t)t[i];
    t32[n - 1] = -1;
    size_t dims[2] = {n / (CTX + 1), CTX + 1};
    replace(f, "chunks/tokens", H5_DT_I32, 2, dims, t32);
    free(t);
    free(t32);
}

static void tokens_not_2d(h5_file *f)
{
    size_t n;
    int32_t *t = read_all(good, "chunks/tokens", H5_DT_I32, &n);
    replace(f, "chunks/tokens", H5_DT_I32, 1, &n, t);
    free(t);
}

static void tokens_int64(h5_file *f)
{
    size_t n;
    int64_t *t = read_all(good, "chunks/tokens", H5_DT_I64, &n);
    size_t dims[2] = {n / 17, 17};
    replace(f, "chunks/tokens", H5_DT_I64, 2, dims, t);
    free(t);
}

static void tokens_one_column(h5_file *f)
{
    size_t n;
    int32_t *t = read_all(good, "chunks/tokens", H5_DT_I32, &n);
    size_t dims[2] = {n, 1}; /* ctx = 0 */
    replace(f, "chunks/tokens", H5_DT_I32, 2, dims, t);
    free(t);
}

static void train_index_past_end(h5_file *f)
{
    hsize_t at = 0;
    int64_t v = n_chunks_of_good();
    poke(f, "split/train_index", 1, &at, H5T_NATIVE_INT64, &v);
}

static void val_index_negative(h5_file *f)
{
    hsize_t at = 1;
    int64_t v = -1;
    poke(f, "split/val_index", 1, &at, H5T_NATIVE_INT64, &v);
}

static void train_index_twice(h5_file *f)
{
    size_t n;
    int64_t *t = read_all(good, "split/train_index", H5_DT_I64, &n);
    hsize_t at = 1;
    poke(f, "split/train_index", 1, &at, H5T_NATIVE_INT64, &t[0]);
    free(t);
}

static void val_also_in_train(h5_file *f)
{
    size_t n;
    int64_t *t = read_all(good, "split/train_index", H5_DT_I64, &n);
    hsize_t at = 0;
    poke(f, "split/val_index", 1, &at, H5T_NATIVE_INT64, &t[3]);
    free(t);
}

static void train_index_2d(h5_file *f)
{
    size_t n;
    int64_t *t = read_all(good, "split/train_index", H5_DT_I64, &n);
    size_t dims[2] = {n, 1};
    replace(f, "split/train_index", H5_DT_I64, 2, dims, t);
    free(t);
}

static void replace_chars(h5_file *f, long at, double value, long drop)
{
    size_t n;
    double *c = read_all(good, "chunks/chars", H5_DT_F64, &n);
    if (at >= 0) c[at] = value;
    size_t len = n - (size_t)drop;
    replace(f, "chunks/chars", H5_DT_F64, 1, &len, c);
    free(c);
}

static void chars_negative(h5_file *f) { replace_chars(f, 1, -1.0, 0); }
static void chars_nan(h5_file *f) { replace_chars(f, 0, NAN, 0); }
static void chars_infinite(h5_file *f) { replace_chars(f, 5, INFINITY, 0); }
static void chars_short(h5_file *f) { replace_chars(f, -1, 0, 1); }

static void chars_long(h5_file *f)
{
    size_t n;
    double *c = read_all(good, "chunks/chars", H5_DT_F64, &n);
    double *c2 = calloc(n + 1, sizeof *c2);
    memcpy(c2, c, n * sizeof *c);
    c2[n] = 3;
    size_t len = n + 1;
    replace(f, "chunks/chars", H5_DT_F64, 1, &len, c2);
    free(c);
    free(c2);
}

static void kind_checkpoint(h5_file *f) { ST_ASSERT_OK(h5_attr_set_str(f, "/", "kind", H5_KIND_CHECKPOINT)); }

static void chars_missing(h5_file *f) { assert_true(H5Ldelete(f->id, "chunks/chars", H5P_DEFAULT) >= 0); }
static void val_missing(h5_file *f) { assert_true(H5Ldelete(f->id, "split/val_index", H5P_DEFAULT) >= 0); }

static void tokens_string(h5_file *f)
{
    assert_true(H5Ldelete(f->id, "chunks/tokens", H5P_DEFAULT) >= 0);
    ST_ASSERT_OK(h5_write_string(f, "chunks/tokens", "abc"));
}
static void not_strata(h5_file *f) { assert_true(H5Adelete_by_name(f->id, "/", "format", H5P_DEFAULT) >= 0); }

typedef struct hostile {
    const char *name;
    corruptor fn;
    const char *object; /* must appear in the message, with the path */
    const char *why;    /* and this: the check that caught it */
} hostile;

static const hostile hostiles[] = {
    {"token-above-vocab", token_above_vocab, "chunks/tokens", "outside the vocabulary"},
    {"token-negative", token_negative, "chunks/tokens", "token id -1 outside the vocabulary"},
    {"tokens-1d", tokens_not_2d, "chunks/tokens", "expected [*,*]"},
    {"tokens-int64", tokens_int64, "chunks/tokens", "not read as int32"},
    {"tokens-ctx0", tokens_one_column, "chunks/tokens", "is not [n_chunks, ctx+1]"},
    {"train-past-end", train_index_past_end, "split/train_index[0]", "is not a chunk id"},
    {"val-negative", val_index_negative, "split/val_index[1] = -1", "is not a chunk id"},
    {"train-2d", train_index_2d, "split/train_index", "expected [*]"},
    {"train-twice", train_index_twice, "split/train_index", "listed twice"},
    {"val-in-train", val_also_in_train, "split/val_index and split/train_index", "is in"},
    {"chars-negative", chars_negative, "chunks/chars[1]", "is not a character count"},
    {"chars-nan", chars_nan, "chunks/chars[0]", "is not a character count"},
    {"chars-inf", chars_infinite, "chunks/chars[5]", "is not a character count"},
    {"chars-short", chars_short, "chunks/chars", "expected ["},
    {"chars-long", chars_long, "chunks/chars", "expected ["},
    {"kind-checkpoint", kind_checkpoint, "strata checkpoint file", "not a dataset file"},
    {"not-strata", not_strata, "format", "not a strata file"},
};

/* Refused as bad input (exit 3) whatever HDF5 itself reported: a missing
 * dataset, a string where numbers belong. */
static const hostile refused[] = {
    {"tokens-string", tokens_string, "chunks/tokens", ""},
    {"chars-missing", chars_missing, "chunks/chars", ""},
    {"val-missing", val_missing, "split/val_index", ""},
};

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    assert_int_equal(fclose(b), 0);
}

/* Make dir/<h->name>.h5 from the good file on rank 0, open it on all ranks. */
static st_status open_hostile(const hostile *h, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s.h5", dir, h->name);
    if (st_test_rank() == 0) {
        copy_file(good, path);
        h5_file f;
        ST_ASSERT_OK(h5_open(&f, path, MPI_COMM_SELF, true));
        h->fn(&f);
        ST_ASSERT_OK(h5_close(&f));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    dataset d;
    memset(&d, 0x5a, sizeof d); /* dataset_open must not depend on a zeroed struct */
    st_clear_error();
    st_status st = dataset_open(&d, path, MPI_COMM_WORLD);
    /* nothing is left allocated; freeing again is safe */
    int clean = st == ST_OK || (!d.chunks && !d.chars && !d.train && !d.val && !d.tok);
    if (!clean) print_error("%s: dataset_open left memory behind\n", h->name);
    assert_true(clean);
    dataset_free(&d);
    return st;
}

static void hostile_files_are_refused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hostiles / sizeof hostiles[0]; i++) {
        const hostile *h = &hostiles[i];
        char path[800];
        st_status st = open_hostile(h, path, sizeof path);
        const char *msg = st_last_error();
        int ok = st == ST_EDATA && strstr(msg, path) && strstr(msg, h->object) && strstr(msg, h->why);
        if (!ok)
            print_error("%s: %s: %s (want ST_EDATA naming '%s', '%s')\n", h->name, st_status_name(st), msg,
                        h->object, h->why);
        ST_ASSERT_ALL(ok);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const hostile *h = &refused[i];
        char path[800];
        st_status st = open_hostile(h, path, sizeof path);
        const char *msg = st_last_error();
        int ok = st == ST_EDATA && strstr(msg, path) && strstr(msg, h->object);
        if (!ok) print_error("%s: %s: %s (want ST_EDATA naming '%s')\n", h->name, st_status_name(st), msg, h->object);
        ST_ASSERT_ALL(ok);
    }
}

static void missing_file_is_refused(void **state)
{
    (void)state;
    char path[800];
    snprintf(path, sizeof path, "%s/absent.h5", dir);
    dataset d;
    st_status st = dataset_open(&d, path, MPI_COMM_WORLD);
    ST_ASSERT_ALL(st == ST_EDATA && strstr(st_last_error(), path) != NULL);
    dataset_free(&d);
}

/* The tail split rule on hand-made document ends (corpus.h "Split"). */
static void tail_split_rule(void **state)
{
    (void)state;
    /* ctx 4: chunk c's first target is stream token 4c+1; documents end
     * (exclusive) at 21 and 41, so chunks 0..4 and 5..9 are theirs. */
    const uint64_t ends[] = {21, 41};
    uint8_t *v = NULL;
    uint64_t n_val = 0;
    ST_ASSERT_OK(corpus_split_tail(10, 4, ends, 2, 0.4, &v, &n_val));
    const uint8_t want[10] = {0, 0, 0, 1, 1, 0, 0, 0, 1, 1};
    assert_int_equal(n_val, 4);
    assert_memory_equal(v, want, 10);
    free(v);
    /* too short for any: the corpus's last chunk */
    ST_ASSERT_OK(corpus_split_tail(10, 4, ends, 2, 0.05, &v, &n_val));
    assert_int_equal(n_val, 1);
    for (int c = 0; c < 10; c++) assert_int_equal(v[c], c == 9);
    free(v);
    /* never a whole document; val_fraction 0: none */
    ST_ASSERT_OK(corpus_split_tail(10, 4, ends, 2, 0.5, &v, &n_val));
    assert_int_equal(n_val, 6); /* round(2.5) = 3 of 5 each */
    free(v);
    ST_ASSERT_OK(corpus_split_tail(10, 4, ends, 2, 0.0, &v, &n_val));
    assert_int_equal(n_val, 0);
    free(v);
}

/* data.split = tail through corpus_prepare on this many ranks: validation is
 * exactly the last round(0.1 m) chunks of each document (file), found
 * independently from the <|eos|> tokens in the chunks; the rule is recorded. */
static void tail_split_holds_each_documents_end(void **state)
{
    (void)state;
    char t1[700], t2[700], out[700];
    snprintf(t1, sizeof t1, "%s/doc1.txt", dir);
    snprintf(t2, sizeof t2, "%s/doc2.txt", dir);
    snprintf(out, sizeof out, "%s/tail.h5", dir);
    if (st_test_rank() == 0) {
        write_text(t1, 2500);
        write_text(t2, 900);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const char *paths[] = {t1, t2};
    corpus_options o = {.ctx = CTX, .val_fraction = 0.1, .split_seed = 11, .split_tail = true,
                        .tok = {.mode = TOK_MODE_COMPACT, .vocab_size = 400, .min_count = 1,
                                .ngram_max = 4, .ngrams = 40}};
    ST_ASSERT_OK(corpus_prepare(paths, 2, out, &o, MPI_COMM_WORLD, NULL));
    dataset d;
    ST_ASSERT_OK(dataset_open(&d, out, MPI_COMM_WORLD));
    assert_string_equal(d.split_rule, "tail");
    /* document ends: one past each <|eos|> in the stream */
    const int eos = tok_special_id(d.tok, TOK_EOS);
    long ends[4];
    int n_docs = 0;
    for (long c = 0; c < d.n_chunks; c++)
        for (int j = c ? 1 : 0; j <= CTX; j++) /* token 0 of chunk c is token CTX of chunk c-1 */
            if (dataset_chunk(&d, c)[j] == eos) {
                assert_true(n_docs < 4);
                ends[n_docs++] = c * CTX + j + 1;
            }
    assert_true(n_docs >= 1 && n_docs <= 2); /* the last <|eos|> may be in the dropped tail */
    if (n_docs == 1) ends[n_docs++] = d.n_chunks * CTX + 1;
    uint8_t *want = calloc((size_t)d.n_chunks, 1);
    long n_want = 0, c = 0;
    for (int k = 0; k < n_docs; k++) {
        long first = c;
        while (c < d.n_chunks && c * CTX + 1 < ends[k]) c++;
        long m = c - first, nv = lround(0.1 * (double)m);
        assert_true(m > 20);
        for (long i = c - nv; i < c; i++) want[i] = 1;
        n_want += nv;
    }
    assert_int_equal(c, d.n_chunks);
    assert_int_equal(d.n_val, n_want);
    for (long i = 0; i < d.n_val; i++) assert_int_equal(want[d.val[i]], 1);
    for (long i = 0; i < d.n_train; i++) assert_int_equal(want[d.train[i]], 0);
    free(want);
    dataset_free(&d);
    /* the random split says so too */
    ST_ASSERT_OK(dataset_open(&d, good, MPI_COMM_WORLD));
    assert_string_equal(d.split_rule, "random");
    dataset_free(&d);
}

/* dataset_open_sharded + dataset_read_chunks: the same rows as the whole
 * array, in the order asked (unsorted, repeated, consecutive runs), each
 * rank its own ids (one rank none); the token array is not in memory. */
static void sharded_reads_the_rows_asked(void **state)
{
    (void)state;
    dataset whole, sh;
    ST_ASSERT_OK(dataset_open(&whole, good, MPI_COMM_WORLD));
    ST_ASSERT_OK(dataset_open_sharded(&sh, good, MPI_COMM_WORLD));
    assert_null(sh.chunks);
    assert_int_equal(sh.n_chunks, whole.n_chunks);
    assert_int_equal(sh.ctx, whole.ctx);
    assert_int_equal(sh.n_train, whole.n_train);
    assert_int_equal(sh.n_val, whole.n_val);
    assert_memory_equal(sh.chars, whole.chars, sizeof *sh.chars * (size_t)sh.n_chunks);
    const long N = whole.n_chunks, r = st_test_rank();
    assert_true(N > 40);
    /* unsorted, a repeat, a run of 3 consecutive rows, the first and last */
    long ids[] = {N - 1, 7 + r, 3, 7 + r, 0, 20 + r, 21 + r, 22 + r, 5 * r + 1};
    const long n = r == 1 ? 0 : (long)(sizeof ids / sizeof ids[0]);
    int32_t got[sizeof ids / sizeof ids[0]][CTX + 1];
    memset(got, 0xff, sizeof got);
    ST_ASSERT_OK(dataset_read_chunks(&sh, ids, n, &got[0][0]));
    for (long i = 0; i < n; i++)
        assert_memory_equal(got[i], dataset_chunk(&whole, ids[i]), sizeof got[i]);
    /* a whole dataset copies through the same call */
    ST_ASSERT_OK(dataset_read_chunks(&whole, ids, n, &got[0][0]));
    for (long i = 0; i < n; i++) assert_memory_equal(got[i], dataset_chunk(&whole, ids[i]), sizeof got[i]);
    /* an id past the end on one rank: every rank fails alike */
    long past = r == 0 ? N : 1;
    st_status st = dataset_read_chunks(&sh, &past, 1, &got[0][0]);
    ST_ASSERT_ALL(st == ST_ERR);
    dataset_free(&sh);
    dataset_free(&whole);
}

/* A token outside the vocabulary in row 2 opens sharded (the tokens are not
 * read) and is refused, naming file and row, when a rank reads that row. */
static void sharded_checks_the_rows_read(void **state)
{
    (void)state;
    char path[800];
    snprintf(path, sizeof path, "%s/sharded-bad-token.h5", dir);
    if (st_test_rank() == 0) {
        copy_file(good, path);
        h5_file f;
        ST_ASSERT_OK(h5_open(&f, path, MPI_COMM_SELF, true));
        token_above_vocab(&f);
        ST_ASSERT_OK(h5_close(&f));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    dataset d;
    ST_ASSERT_OK(dataset_open_sharded(&d, path, MPI_COMM_WORLD));
    int32_t row[CTX + 1];
    long fine = 1, bad = 2;
    ST_ASSERT_OK(dataset_read_chunks(&d, &fine, 1, row));
    st_status st = dataset_read_chunks(&d, st_test_rank() == 0 ? &bad : &fine, 1, row);
    const char *msg = st_last_error();
    ST_ASSERT_ALL(st == ST_EDATA && strstr(msg, path) && strstr(msg, "row 2 ") && strstr(msg, "vocabulary"));
    dataset_free(&d);
}

static const struct CMUnitTest dataset_tests[] = {
    cmocka_unit_test(prepare_writes_the_files),
    cmocka_unit_test(opens_what_prepare_wrote),
    cmocka_unit_test(select_splits),
    cmocka_unit_test(tail_split_rule),
    cmocka_unit_test(tail_split_holds_each_documents_end),
    cmocka_unit_test(hostile_files_are_refused),
    cmocka_unit_test(missing_file_is_refused),
    cmocka_unit_test(sharded_reads_the_rows_asked),
    cmocka_unit_test(sharded_checks_the_rows_read),
    cmocka_unit_test(remove_the_files),
};

ST_TEST_MAIN(dataset_tests)
