/* safetensors.c -- the safetensors format, written and read back with every
 * number checked before it is used (see safetensors.h). */
#define _GNU_SOURCE
#include "strata/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct sft_entry {
    char *name;
    int ndim;
    int64_t shape[SFT_MAX_RANK];
    uint64_t begin, end; /* bytes in the data part */
    float *data;         /* host floats (points into sft_file.values) */
    bool used;
} sft_entry;

struct sft_file {
    char name[1024];
    int n;
    sft_entry *t;     /* [n] sorted by begin */
    float *values;    /* all data as host floats */
    int n_meta;
    char **meta;      /* [2 n_meta] key, value */
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- writing ------------------------------------------------------------ */

static st_status write_all(int fd, const void *buf, size_t n, const char *path)
{
    st_status st = ST_OK;
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) FAIL(ST_EIO, "cannot write '%s': %s", path, strerror(errno));
        p += k;
        n -= (size_t)k;
    }
out:
    return st;
}

st_status sft_write(const char *path, const sft_tensor *t, int n, const char *const *meta, int n_meta)
{
    st_status st = ST_OK;
    json_t *root = json_object(), *md = NULL;
    char *text = NULL;
    uint8_t *hdr = NULL, *chunk = NULL;
    int fd = -1;
    CHECK_ALLOC(root);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        json_t *shape = json_array(), *e = json_object(), *offs = json_array();
        if (!shape || !e || !offs) {
            json_decref(shape);
            json_decref(e);
            json_decref(offs);
            CHECK_ALLOC(NULL);
        }
        for (int d = 0; d < t[i].ndim; d++) {
            json_array_append_new(shape, json_integer(t[i].shape[d]));
            numel *= (uint64_t)t[i].shape[d];
        }
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + 4 * numel)));
        json_object_set_new(e, "dtype", json_string("F32"));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", offs);
        if (json_object_set_new(root, t[i].name, e) != 0) FAIL(ST_ENOMEM, "out of memory building '%s'", path);
        off += 4 * numel;
    }
    md = json_object();
    CHECK_ALLOC(md);
    for (int i = 0; i < n_meta; i++) json_object_set_new(md, meta[2 * i], json_string(meta[2 * i + 1]));
    json_object_set_new(root, "__metadata__", md);
    text = json_dumps(root, JSON_COMPACT);
    CHECK_ALLOC(text);
    size_t tl = strlen(text), hl = (tl + 7) / 8 * 8; /* data starts 8-byte aligned */
    hdr = malloc(8 + hl);
    CHECK_ALLOC(hdr);
    put_le32(hdr, (uint32_t)hl);
    put_le32(hdr + 4, (uint32_t)((uint64_t)hl >> 32));
    memcpy(hdr + 8, text, tl);
    memset(hdr + 8 + tl, ' ', hl - tl);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) FAIL(ST_EIO, "cannot create '%s': %s", path, strerror(errno));
    CHECK(write_all(fd, hdr, 8 + hl, path));
    /* values as little-endian bytes, whatever the host order */
    enum { CHUNK = 1 << 16 };
    chunk = malloc(4 * CHUNK);
    CHECK_ALLOC(chunk);
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (uint64_t)t[i].shape[d];
        for (uint64_t s = 0; s < numel; s += CHUNK) {
            size_t k = numel - s < CHUNK ? (size_t)(numel - s) : CHUNK;
            for (size_t j = 0; j < k; j++) {
                uint32_t u;
                memcpy(&u, &t[i].data[s + j], 4);
                put_le32(chunk + 4 * j, u);
            }
            CHECK(write_all(fd, chunk, 4 * k, path));
        }
    }
    if (fsync(fd) != 0) FAIL(ST_EIO, "cannot sync '%s': %s", path, strerror(errno));
    if (close(fd) != 0) {
        fd = -1;
        FAIL(ST_EIO, "cannot close '%s': %s", path, strerror(errno));
    }
    fd = -1;
out:
    if (fd >= 0) close(fd);
    json_decref(root);
    free(text);
    free(hdr);
    free(chunk);
    return st;
}

/* ---- reading ------------------------------------------------------------ */

void sft_free(sft_file *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    for (int i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->meta);
    free(f->t);
    free(f->values);
    free(f);
}

static int by_begin(const void *a, const void *b)
{
    const sft_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON integer in [0, max]. */
static bool json_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    if (!json_is_integer(v)) return false;
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x > max) return false;
    *out = (uint64_t)x;
    return true;
}

static st_status parse_entry(const char *fname, const char *key, json_t *e, uint64_t data_len, sft_entry *t)
{
    st_status st = ST_OK;
    if (!json_is_object(e)) FAIL(ST_EDATA, "'%s': tensor '%s' is not a JSON object", fname, key);
    if (json_object_size(e) != 3)
        FAIL(ST_EDATA, "'%s': tensor '%s' needs exactly dtype, shape and data_offsets", fname, key);
    json_t *dt = json_object_get(e, "dtype"), *sh = json_object_get(e, "shape"),
           *of = json_object_get(e, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of))
        FAIL(ST_EDATA, "'%s': tensor '%s' needs a dtype string, a shape array and a data_offsets array", fname, key);
    if (strcmp(json_string_value(dt), "F32") != 0)
        FAIL(ST_EDATA, "'%s': tensor '%s' has dtype %.16s; strata reads F32 only", fname, key, json_string_value(dt));
    size_t nd = json_array_size(sh);
    if (nd > SFT_MAX_RANK) FAIL(ST_EDATA, "'%s': tensor '%s' has %zu dimensions (at most %d)", fname, key, nd, SFT_MAX_RANK);
    uint64_t bytes = 4;
    for (size_t d = 0; d < nd; d++) {
        uint64_t x;
        if (!json_u64(json_array_get(sh, d), data_len, &x))
            FAIL(ST_EDATA, "'%s': tensor '%s' has a bad shape entry %zu", fname, key, d);
        if (x && bytes > data_len / x) FAIL(ST_EDATA, "'%s': tensor '%s' is larger than the file", fname, key);
        bytes *= x;
        t->shape[d] = (int64_t)x;
    }
    t->ndim = (int)nd;
    if (json_array_size(of) != 2 || !json_u64(json_array_get(of, 0), data_len, &t->begin) ||
        !json_u64(json_array_get(of, 1), data_len, &t->end) || t->end < t->begin)
        FAIL(ST_EDATA, "'%s': tensor '%s' has data_offsets outside the %llu data bytes", fname, key,
             (unsigned long long)data_len);
    if (t->end - t->begin != bytes)
        FAIL(ST_EDATA, "'%s': tensor '%s' has %llu data bytes but its shape needs %llu", fname, key,
             (unsigned long long)(t->end - t->begin), (unsigned long long)bytes);
out:
    return st;
}

st_status sft_parse(const uint8_t *buf, size_t len, const char *name, sft_file **out)
{
    st_status st = ST_OK;
    json_t *root = NULL;
    sft_file *f = calloc(1, sizeof *f);
    *out = NULL;
    CHECK_ALLOC(f);
    snprintf(f->name, sizeof f->name, "%s", name);
    if (len < 8) FAIL(ST_EDATA, "'%s' is %zu bytes: too short for a safetensors file", name, len);
    uint64_t hl = le64(buf);
    if (hl < 2 || hl > SFT_MAX_HEADER || hl > len - 8)
        FAIL(ST_EDATA, "'%s': header length %llu is impossible (file of %zu bytes, limit %u)", name,
             (unsigned long long)hl, len, SFT_MAX_HEADER);
    uint64_t data_len = len - 8 - hl;
    json_error_t err;
    root = json_loadb((const char *)buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &err);
    if (!root) FAIL(ST_EDATA, "'%s': the header is not valid JSON (byte %d: %s)", name, err.position, err.text);
    if (!json_is_object(root)) FAIL(ST_EDATA, "'%s': the header is not a JSON object", name);
    size_t nk = json_object_size(root);
    f->t = calloc(nk ? nk : 1, sizeof *f->t);
    CHECK_ALLOC(f->t);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) FAIL(ST_EDATA, "'%s': __metadata__ is not a JSON object", name);
            size_t m = json_object_size(v);
            f->meta = calloc(2 * m + 1, sizeof *f->meta);
            CHECK_ALLOC(f->meta);
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) FAIL(ST_EDATA, "'%s': __metadata__ key '%.64s' is not a string", name, mk);
                f->meta[2 * f->n_meta] = strdup(mk);
                f->meta[2 * f->n_meta + 1] = strdup(json_string_value(mv));
                f->n_meta++;
                CHECK_ALLOC(f->meta[2 * f->n_meta - 2]);
                CHECK_ALLOC(f->meta[2 * f->n_meta - 1]);
            }
            continue;
        }
        size_t kl = strlen(key);
        if (kl == 0 || kl >= SFT_MAX_NAME) FAIL(ST_EDATA, "'%s': a tensor name of %zu bytes", name, kl);
        sft_entry *t = &f->t[f->n];
        t->name = strdup(key);
        CHECK_ALLOC(t->name);
        f->n++;
        CHECK(parse_entry(name, key, v, data_len, t));
    }
    /* the byte ranges tile the data part: no overlap, no gap, nothing after */
    qsort(f->t, (size_t)f->n, sizeof *f->t, by_begin);
    uint64_t pos = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->t[i].begin < pos)
            FAIL(ST_EDATA, "'%s': tensor '%s' overlaps tensor '%s'", name, f->t[i].name, f->t[i - 1].name);
        if (f->t[i].begin > pos)
            FAIL(ST_EDATA, "'%s': %llu bytes before tensor '%s' belong to no tensor", name,
                 (unsigned long long)(f->t[i].begin - pos), f->t[i].name);
        pos = f->t[i].end;
    }
    if (pos != data_len)
        FAIL(ST_EDATA, "'%s': the file has %llu data bytes but its tensors cover %llu (truncated or trailing data)",
             name, (unsigned long long)data_len, (unsigned long long)pos);
    f->values = malloc(data_len ? (size_t)data_len : 4);
    CHECK_ALLOC(f->values);
    const uint8_t *data = buf + 8 + hl;
    for (uint64_t i = 0; i < data_len / 4; i++) {
        uint32_t u = le32(data + 4 * i);
        memcpy(&f->values[i], &u, 4);
    }
    for (int i = 0; i < f->n; i++) f->t[i].data = f->values + f->t[i].begin / 4;
    *out = f;
    f = NULL;
out:
    json_decref(root);
    sft_free(f);
    return st;
}

st_status sft_read(const char *path, sft_file **out)
{
    st_status st = ST_OK;
    uint8_t *buf = NULL;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) FAIL(ST_EDATA, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) FAIL(ST_EDATA, "'%s' is not a regular file", path);
    size_t len = (size_t)sb.st_size, got = 0;
    buf = malloc(len ? len : 1);
    if (!buf) FAIL(ST_EDATA, "'%s': %zu bytes do not fit in memory", path, len);
    while (got < len) {
        ssize_t k = read(fd, buf + got, len - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) FAIL(ST_EDATA, "cannot read '%s': %s", path, k < 0 ? strerror(errno) : "file shrank");
        got += (size_t)k;
    }
    CHECK(sft_parse(buf, len, path, out));
out:
    if (fd >= 0) close(fd);
    free(buf);
    return st;
}

int sft_count(const sft_file *f) { return f->n; }
const char *sft_name(const sft_file *f, int i) { return i >= 0 && i < f->n ? f->t[i].name : NULL; }

int sft_shape(const sft_file *f, int i, int64_t *shape)
{
    if (i < 0 || i >= f->n) return -1;
    memcpy(shape, f->t[i].shape, sizeof f->t[i].shape);
    return f->t[i].ndim;
}

const char *sft_meta(const sft_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

static void shape_str(char *buf, size_t len, int nd, const int64_t *s)
{
    size_t p = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < nd && p < len; d++) p += (size_t)snprintf(buf + p, len - p, "%s%lld", d ? ", " : "", (long long)s[d]);
    if (p < len) snprintf(buf + p, len - p, "]");
}

st_status sft_get(sft_file *f, const char *name, int ndim, const int64_t *shape, const float **data)
{
    st_status st = ST_OK;
    for (int i = 0; i < f->n; i++) {
        sft_entry *t = &f->t[i];
        if (strcmp(t->name, name) != 0) continue;
        bool same = t->ndim == ndim;
        for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
        if (!same) {
            char a[128], b[128];
            shape_str(a, sizeof a, t->ndim, t->shape);
            shape_str(b, sizeof b, ndim, shape);
            FAIL(ST_EDATA, "'%s': tensor '%s' has shape %s, expected %s", f->name, name, a, b);
        }
        t->used = true;
        *data = t->data;
        goto out;
    }
    FAIL(ST_EDATA, "'%s' has no tensor '%s'", f->name, name);
out:
    return st;
}

const char *sft_unused(const sft_file *f)
{
    for (int i = 0; i < f->n; i++)
        if (!f->t[i].used) return f->t[i].name;
    return NULL;
}
