/* tok_h5.c -- the tokenizer group of strata files and tokenizer files
 * (docs/FORMAT-dataset.md).
 *
 * Only the definition is stored (kind, text, count per id) with its content
 * hash; loading rebuilds the index with tok_index(), which also validates
 * the group and recomputes the hash, compared with the stored one.
 */
#include <stdlib.h>
#include <string.h>

#include "strata/h5.h"
#include "strata/publish.h"
#include "tok_internal.h"

#define TOK_FORMAT_VERSION 1

static void child(char *buf, size_t len, const char *group, const char *name)
{
    snprintf(buf, len, "%s/%s", group, name);
}

st_status tok_save(h5_file *f, const char *group, const tokenizer *t)
{
    st_status st = ST_OK;
    size_t V = (size_t)t->vocab;
    uint8_t *text = NULL;
    int64_t *off = malloc((V + 1) * sizeof *off);
    CHECK_ALLOC(off);
    /* the file pool has no NULs: entry i is text[off[i]..off[i+1]) */
    size_t total = 0;
    for (size_t i = 0; i < V; i++) total += t->text_off[i + 1] - t->text_off[i] - 1;
    text = malloc(total ? total : 1);
    CHECK_ALLOC(text);
    size_t p = 0;
    for (size_t i = 0; i < V; i++) {
        size_t len = t->text_off[i + 1] - t->text_off[i] - 1;
        off[i] = (int64_t)p;
        memcpy(text + p, t->text + t->text_off[i], len);
        p += len;
    }
    off[V] = (int64_t)p;
    char path[512];
    CHECK(h5_group(f, group));
    CHECK(h5_attr_set_str(f, group, "mode", t->mode == TOK_MODE_BMP ? "bmp" : "compact"));
    CHECK(h5_attr_set_i64(f, group, "tokenizer_version", TOK_FORMAT_VERSION));
    CHECK(h5_attr_set_i64(f, group, "vocab_size", t->vocab));
    CHECK(h5_attr_set_i64(f, group, "n_specials", TOK_N_SPECIALS));
    CHECK(h5_attr_set_i64(f, group, "n_chars", t->n_chars));
    CHECK(h5_attr_set_i64(f, group, "n_ngrams", t->n_ngrams));
    CHECK(h5_attr_set_i64(f, group, "ngram_max", t->ngram_max));
    CHECK(h5_attr_set_i64(f, group, "pad_id", t->special_id[TOK_PAD]));
    CHECK(h5_attr_set_i64(f, group, "bos_id", t->special_id[TOK_BOS]));
    CHECK(h5_attr_set_i64(f, group, "eos_id", t->special_id[TOK_EOS]));
    CHECK(h5_attr_set_str(f, group, "kind_names", "0=special 1=byte 2=char 3=ngram 4=unused"));
    CHECK(h5_attr_set_str(f, group, "sha256", t->hash));
    size_t dims[1] = {V};
    child(path, sizeof path, group, "kind");
    CHECK(h5_write(f, path, H5_DT_U8, 1, dims, t->kind));
    child(path, sizeof path, group, "count");
    CHECK(h5_write(f, path, H5_DT_U64, 1, dims, t->count));
    dims[0] = V + 1;
    child(path, sizeof path, group, "text_offsets");
    CHECK(h5_write(f, path, H5_DT_I64, 1, dims, off));
    dims[0] = total;
    child(path, sizeof path, group, "text");
    CHECK(h5_write(f, path, H5_DT_U8, 1, dims, text));
out:
    free(off);
    free(text);
    return st;
}

/* Read a 1-D dataset of exactly n elements. */
static st_status read_1d(h5_file *f, const char *group, const char *name, h5_dtype dt, size_t n,
                         void **data)
{
    st_status st = ST_OK;
    char path[512];
    int rank;
    size_t dims[H5_MAX_RANK];
    child(path, sizeof path, group, name);
    CHECK(h5_read(f, path, dt, &rank, dims, data));
    if (rank != 1 || dims[0] != n)
        FAIL(ST_EDATA, "%s: /%s has %d dimension(s), %zu elements; expected 1-D with %zu", f->path,
             path, rank, rank ? dims[0] : 0, n);
out:
    return st;
}

st_status tok_load(h5_file *f, const char *group, tokenizer **out)
{
    st_status st = ST_OK;
    tokenizer *t = NULL;
    char *mode = NULL, *stored = NULL;
    uint8_t *kind = NULL, *text = NULL;
    int64_t *off = NULL;
    uint64_t *count = NULL;
    int64_t vocab = 0, nmax = 0, version = 0;
    *out = NULL;
    bool exists = false;
    CHECK(h5_exists(f, group, &exists));
    if (!exists) FAIL(ST_EDATA, "%s has no tokenizer group /%s", f->path, group);
    CHECK(h5_attr_get_i64(f, group, "tokenizer_version", &version));
    if (version > TOK_FORMAT_VERSION)
        FAIL(ST_EDATA, "%s: /%s has tokenizer_version %lld; this strata reads up to %d", f->path,
             group, (long long)version, TOK_FORMAT_VERSION);
    CHECK(h5_attr_get_str(f, group, "mode", &mode));
    CHECK(h5_attr_get_i64(f, group, "vocab_size", &vocab));
    CHECK(h5_attr_get_i64(f, group, "ngram_max", &nmax));
    tok_mode m;
    if (strcmp(mode, "bmp") == 0)
        m = TOK_MODE_BMP;
    else if (strcmp(mode, "compact") == 0)
        m = TOK_MODE_COMPACT;
    else
        FAIL(ST_EDATA, "%s: /%s mode '%s' is neither bmp nor compact", f->path, group, mode);
    if (vocab < TOK_N_SPECIALS + 256 || vocab > 16777216 || (m == TOK_MODE_BMP && vocab != TOK_BMP_VOCAB))
        FAIL(ST_EDATA, "%s: /%s vocab_size %lld is impossible for mode %s", f->path, group,
             (long long)vocab, mode);
    size_t V = (size_t)vocab;
    CHECK(read_1d(f, group, "kind", H5_DT_U8, V, (void **)&kind));
    CHECK(read_1d(f, group, "count", H5_DT_U64, V, (void **)&count));
    CHECK(read_1d(f, group, "text_offsets", H5_DT_I64, V + 1, (void **)&off));
    if (off[0] != 0) FAIL(ST_EDATA, "%s: /%s/text_offsets does not start at 0", f->path, group);
    for (size_t i = 0; i < V; i++)
        if (off[i + 1] < off[i] || off[i + 1] - off[i] > 4 * TOK_MAX_NGRAM)
            FAIL(ST_EDATA, "%s: /%s/text_offsets is not increasing at id %zu", f->path, group, i);
    size_t total = (size_t)off[V];
    if (total) {
        CHECK(read_1d(f, group, "text", H5_DT_U8, total, (void **)&text));
    }
    CHECK(tok_alloc(&t, m, (int)vocab, total + V));
    t->ngram_max = (int)nmax;
    memcpy(t->kind, kind, V);
    memcpy(t->count, count, V * sizeof *count);
    uint32_t p = 0;
    for (size_t i = 0; i < V; i++) {
        size_t len = (size_t)(off[i + 1] - off[i]);
        if (len) memcpy(t->text + p, text + off[i], len);
        if (t->kind[i] != TOK_UNUSED && memchr(t->text + p, 0, len) && t->kind[i] != TOK_CHAR)
            FAIL(ST_EDATA, "%s: /%s text of id %zu contains a NUL byte", f->path, group, i);
        t->text_off[i] = p;
        t->text[p + len] = '\0';
        p += (uint32_t)len + 1;
    }
    t->text_off[V] = p;
    st = tok_index(t);
    if (st != ST_OK) {
        st_add_context("%s: /%s", f->path, group);
        goto out;
    }
    /* The hash is recomputed from what was read: a stale attribute means the
     * group was changed after it was written, and ids would silently mean
     * something else than in the models built on it. */
    bool has_hash = false;
    CHECK(h5_attr_exists(f, group, "sha256", &has_hash));
    if (has_hash) {
        CHECK(h5_attr_get_str(f, group, "sha256", &stored));
        if (strcmp(stored, t->hash) != 0)
            FAIL(ST_EDATA, "%s: the tokenizer /%s was changed after it was written: its content hash is %s, "
                 "the file says %.64s", f->path, group, t->hash, stored);
    }
    *out = t;
    t = NULL;
out:
    tok_free(t);
    free(mode);
    free(stored);
    free(kind);
    free(text);
    free(off);
    free(count);
    return st;
}

st_status tok_load_file(const char *path, MPI_Comm comm, tokenizer **out)
{
    st_status st = ST_OK;
    h5_file f;
    h5_file_zero(&f);
    *out = NULL;
    CHECK(h5_open_kind(&f, path, comm, NULL, ST_EDATA));
    CHECK(tok_load(&f, "tokenizer", out));
out:
    h5_close(&f);
    return st;
}

st_status tok_write_file(const char *path, const tokenizer *t, const char *config_text,
                         const char *sources, MPI_Comm comm)
{
    st_status st = ST_OK;
    publish_file pub = {NULL, NULL};
    h5_file f;
    h5_file_zero(&f);
    CHECK(publish_begin(&pub, path, comm));
    CHECK(h5_create(&f, pub.tmp, comm, H5_KIND_TOKENIZER));
    if (config_text) CHECK(h5_write_string(&f, "config", config_text));
    if (sources) CHECK(h5_write_string(&f, "sources", sources));
    CHECK(tok_save(&f, "tokenizer", t));
    CHECK(h5_close(&f));
    CHECK(publish_commit(&pub, comm));
out:
    if (st != ST_OK) {
        h5_close(&f);
        publish_abort(&pub, comm);
    }
    return st;
}
