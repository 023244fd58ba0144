/* cache.c -- frozen-activation cache in memory or a scratch file. */
#define _GNU_SOURCE
#include "strata/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata/ops.h"

st_status cache_mode_parse(const char *s, cache_mode *out)
{
    if (strcmp(s, "off") == 0) *out = CACHE_OFF;
    else if (strcmp(s, "memory") == 0) *out = CACHE_MEMORY;
    else if (strcmp(s, "disk") == 0) *out = CACHE_DISK;
    else return ST_ERROR(ST_EUSAGE, "grow.cache = '%s' is not one of memory, disk, off", s);
    return ST_OK;
}

st_status cache_dtype_parse(const char *s, cache_dtype *out)
{
    if (strcmp(s, "float32") == 0) *out = CACHE_F32;
    else if (strcmp(s, "bfloat16") == 0) *out = CACHE_BF16;
    else return ST_ERROR(ST_EUSAGE, "grow.cache_dtype = '%s' is not one of float32, bfloat16", s);
    return ST_OK;
}

double cache_bytes(long n, int T, int D, cache_dtype dtype)
{
    return (double)n * (double)T * (double)D * (dtype == CACHE_BF16 ? 2.0 : 4.0);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

long cache_index(const act_cache *c, long chunk)
{
    if (!c->ids || c->n == 0) return -1;
    const long *p = bsearch(&chunk, c->ids, (size_t)c->n, sizeof *c->ids, cmp_long);
    return p ? (long)(p - c->ids) : -1;
}

st_status cache_init(act_cache *c, cache_mode mode, cache_dtype dtype, const long *ids, long n, int T, int D,
                     const char *scratch_dir, int rank)
{
    st_status st = ST_OK;
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->mode = mode;
    c->dtype = dtype;
    c->entry = (size_t)T * (size_t)D;
    c->bytes = c->entry * (dtype == CACHE_BF16 ? sizeof(uint16_t) : sizeof(float));
    if (mode == CACHE_OFF) goto out;
    c->ids = malloc(sizeof *c->ids * (size_t)(n > 0 ? n : 1));
    CHECK_ALLOC(c->ids);
    if (n > 0) memcpy(c->ids, ids, sizeof *c->ids * (size_t)n);
    qsort(c->ids, (size_t)n, sizeof *c->ids, cmp_long);
    for (long i = 0; i < n; i++) /* drop repeats */
        if (c->n == 0 || c->ids[c->n - 1] != c->ids[i]) c->ids[c->n++] = c->ids[i];
    c->depth = malloc(sizeof *c->depth * (size_t)(c->n > 0 ? c->n : 1));
    CHECK_ALLOC(c->depth);
    cache_reset(c);
    if (mode == CACHE_MEMORY && c->n > 0) {
        c->mem = malloc(c->bytes * (size_t)c->n);
        if (!c->mem)
            FAIL(ST_ENOMEM, "the activation cache needs %.2f GiB in memory for %ld chunks; set grow.cache = disk, "
                 "grow.cache_dtype = bfloat16 or run on more ranks",
                 (double)c->bytes * (double)c->n / (1024.0 * 1024 * 1024), c->n);
    }
    if (mode == CACHE_DISK) {
        if (dtype == CACHE_BF16) {
            c->row = malloc(c->bytes);
            CHECK_ALLOC(c->row);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/.strata-cache-rank%d-XXXXXX", scratch_dir, rank);
        c->fd = mkstemp(path);
        if (c->fd < 0)
            FAIL(ST_EIO, "cannot create activation cache scratch file in '%s': %s", scratch_dir,
                 strerror(errno));
        unlink(path); /* the space is freed when the run ends, however it ends */
    }
out:
    if (st != ST_OK) cache_free(c);
    return st;
}

void cache_free(act_cache *c)
{
    free(c->mem);
    free(c->depth);
    free(c->ids);
    free(c->row);
    if (c->fd >= 0) close(c->fd);
    c->mem = NULL;
    c->depth = NULL;
    c->ids = NULL;
    c->row = NULL;
    c->n = 0;
    c->fd = -1;
}

void cache_reset(act_cache *c)
{
    if (c->depth)
        for (long i = 0; i < c->n; i++) c->depth[i] = -1;
    c->hits = c->misses = 0;
}

/* bf16 bits of a float: round to nearest even (op_bf16_round), keep the top half. */
static void to_bf16(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float r = op_bf16_round(src[i]);
        uint32_t u;
        memcpy(&u, &r, sizeof u);
        dst[i] = (uint16_t)(u >> 16);
    }
}

static void from_bf16(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(&dst[i], &u, sizeof u);
    }
}

st_status cache_get(act_cache *c, long chunk, float *dst, int *depth)
{
    st_status st = ST_OK;
    *depth = -1;
    long i = c->mode == CACHE_OFF ? -1 : cache_index(c, chunk);
    if (i < 0 || c->depth[i] < 0) {
        c->misses++;
        goto out;
    }
    bool bf16 = c->dtype == CACHE_BF16;
    if (c->mode == CACHE_MEMORY) {
        const char *p = (const char *)c->mem + (size_t)i * c->bytes;
        if (bf16) from_bf16(dst, (const uint16_t *)p, c->entry);
        else memcpy(dst, p, c->bytes);
    } else {
        void *buf = bf16 ? (void *)c->row : (void *)dst;
        ssize_t r = pread(c->fd, buf, c->bytes, (off_t)i * (off_t)c->bytes);
        if (r != (ssize_t)c->bytes)
            FAIL(ST_EIO, "reading the activation cache scratch file: %s",
                 r < 0 ? strerror(errno) : "short read");
        if (bf16) from_bf16(dst, c->row, c->entry);
    }
    *depth = c->depth[i];
    c->hits++;
out:
    return st;
}

st_status cache_put(act_cache *c, long chunk, const float *src, int depth)
{
    st_status st = ST_OK;
    long i = c->mode == CACHE_OFF ? -1 : cache_index(c, chunk);
    if (i < 0) goto out;
    bool bf16 = c->dtype == CACHE_BF16;
    c->depth[i] = -1; /* until the new value is wholly stored */
    if (c->mode == CACHE_MEMORY) {
        char *p = (char *)c->mem + (size_t)i * c->bytes;
        if (bf16) to_bf16((uint16_t *)p, src, c->entry);
        else memcpy(p, src, c->bytes);
    } else {
        const void *buf = src;
        if (bf16) {
            to_bf16(c->row, src, c->entry);
            buf = c->row;
        }
        ssize_t w = pwrite(c->fd, buf, c->bytes, (off_t)i * (off_t)c->bytes);
        if (w != (ssize_t)c->bytes)
            FAIL(ST_EIO, "writing the activation cache scratch file: %s",
                 w < 0 ? strerror(errno) : "short write (disk full?)");
    }
    c->depth[i] = (int16_t)depth;
out:
    return st;
}
