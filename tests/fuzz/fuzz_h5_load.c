/* fuzz_h5_load.c -- the loaders strata runs on files from strangers.
 *
 * The input bytes are written to a temp file, then every loader reads it:
 *   tok_load("tokenizer")   via h5_open_kind (any kind): datasets, checkpoints
 *   substrate_load          + substrate_describe (strata inspect)
 *   ckpt_model_load         checkpoints and ensembles (eval/generate/merge)
 *   dataset_open            the dataset module of grow/eval (chunks, split),
 *                           then every chunk of every split is touched
 * Errors are the expected outcome.  Crashes, leaks, UB, hangs -- and HDF5
 * objects left open after a loader returned (a handle leak that would keep
 * the file open in the process) -- are findings.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "strata/ckpt_model.h"
#include "strata/h5.h"
#include "strata/dataset.h"
#include "strata/substrate.h"
#include "strata/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];
static FILE *devnull;

static void remove_temp(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init(argc, argv);
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/strata-fuzz-h5-XXXXXX.h5", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 3);
    if (fd < 0) {
        perror("fuzz_h5_load: mkstemps");
        abort();
    }
    close(fd);
    atexit(remove_temp);
    devnull = fopen("/dev/null", "w");
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror("fuzz_h5_load: writing the temp file");
        abort();
    }
}

/* After a loader: no HDF5 object of any file may still be open. */
static void expect_nothing_open(const char *who)
{
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    FUZZ_ASSERT(n == 0, "%s left %zd HDF5 objects open", who, n);
}

static void load_tokenizer(void)
{
    h5_file f;
    h5_file_zero(&f);
    tokenizer *t = NULL;
    if (h5_open_kind(&f, path, MPI_COMM_SELF, NULL, ST_EDATA) == ST_OK && tok_load(&f, "tokenizer", &t) == ST_OK) {
        /* A loaded tokenizer must be usable: encode + decode a text. */
        static const char s[] = "Call me Ishmael. \xc3\xa9\xe6\x97\xa5 \xff";
        tok_buf b;
        tok_buf_init(&b);
        if (tok_encode(t, (const uint8_t *)s, sizeof s - 1, &b, NULL) == ST_OK) {
            char *dec = NULL;
            size_t len = 0;
            if (tok_decode(t, b.ids, b.n, &dec, &len) == ST_OK)
                FUZZ_ASSERT(len == sizeof s - 1 && memcmp(dec, s, len) == 0,
                            "a tokenizer that loaded does not round-trip text");
            free(dec);
        }
        tok_buf_free(&b);
        for (int id = 0; id < tok_vocab_size(t); id++) (void)tok_render_text(t, id, NULL);
    }
    tok_free(t);
    h5_close(&f);
    expect_nothing_open("tok_load");
}

static void load_substrate(void)
{
    float *emb = NULL;
    long vocab = 0;
    int dim = 0;
    if (substrate_load(path, &emb, &vocab, &dim) == ST_OK)
        FUZZ_ASSERT(vocab >= 0 && dim >= 0, "substrate_load gave %ld x %d", vocab, dim);
    free(emb);
    expect_nothing_open("substrate_load");
    h5_file f;
    h5_file_zero(&f);
    if (h5_open(&f, path, MPI_COMM_SELF, false) == ST_OK) (void)substrate_describe(&f, "substrate", devnull);
    h5_close(&f);
    expect_nothing_open("substrate_describe");
}

static void load_checkpoint(void)
{
    ckpt_model cm;
    memset(&cm, 0, sizeof cm);
    if (ckpt_model_load(&cm, path, MPI_COMM_SELF) == ST_OK) {
        long depth = 0;
        FUZZ_ASSERT(ckpt_model_depth(&cm, &depth) == ST_OK && depth == cm.depth, "depth of a loaded model");
        FUZZ_ASSERT(cm.n >= 1 && cm.tok != NULL, "a loaded model has %d members", cm.n);
    }
    ckpt_model_free(&cm);
    expect_nothing_open("ckpt_model_load");
}

static void load_dataset(void)
{
    dataset d;
    if (dataset_open(&d, path, MPI_COMM_SELF) == ST_OK) {
        FUZZ_ASSERT(d.tok && d.n_chunks >= 0 && d.n_train >= 0 && d.n_val >= 0, "a loaded dataset is inconsistent");
        /* dataset_open promises every index points at a chunk and every id
         * is in the vocabulary: touch them all (ASan sees a lie). */
        long sum = 0;
        for (long i = 0; i < d.n_train; i++) sum += dataset_chunk(&d, d.train[i])[0];
        for (long i = 0; i < d.n_val; i++) sum += dataset_chunk(&d, d.val[i])[d.ctx];
        FUZZ_ASSERT(sum >= 0, "token ids are not negative");
    }
    dataset_free(&d);
    expect_nothing_open("dataset_open");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    load_tokenizer();
    load_substrate();
    load_checkpoint();
    load_dataset();
    return 0;
}
