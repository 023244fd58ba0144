/* cache.c -- frozen-activation cache in memory or a scratch file. */
#define _GNU_SOURCE
#include "strata/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

st_status cache_mode_parse(const char *s, cache_mode *out)
{
    if (strcmp(s, "off") == 0) *out = CACHE_OFF;
    else if (strcmp(s, "memory") == 0) *out = CACHE_MEMORY;
    else if (strcmp(s, "disk") == 0) *out = CACHE_DISK;
    else return ST_ERROR(ST_EUSAGE, "grow.cache = '%s' is not one of memory, disk, off", s);
    return ST_OK;
}

st_status cache_init(act_cache *c, cache_mode mode, long n_chunks, int T, int D,
                     const char *scratch_dir, int rank)
{
    st_status st = ST_OK;
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->mode = mode;
    c->n_chunks = n_chunks;
    c->entry = (size_t)T * (size_t)D;
    c->depth = -1;
    if (mode == CACHE_OFF) goto out;
    c->have = calloc((size_t)n_chunks, 1);
    CHECK_ALLOC(c->have);
    if (mode == CACHE_DISK) {
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
    free(c->have);
    if (c->fd >= 0) close(c->fd);
    c->mem = NULL;
    c->have = NULL;
    c->fd = -1;
}

void cache_reset(act_cache *c, int depth)
{
    c->depth = depth;
    if (c->have) memset(c->have, 0, (size_t)c->n_chunks);
    c->hits = c->misses = 0;
}

st_status cache_get(act_cache *c, long chunk, float *dst, bool *hit)
{
    st_status st = ST_OK;
    *hit = false;
    if (c->mode == CACHE_OFF || !c->have[chunk]) {
        c->misses++;
        goto out;
    }
    size_t bytes = c->entry * sizeof(float);
    if (c->mode == CACHE_MEMORY) {
        memcpy(dst, c->mem + (size_t)chunk * c->entry, bytes);
    } else {
        ssize_t r = pread(c->fd, dst, bytes, (off_t)chunk * (off_t)bytes);
        if (r != (ssize_t)bytes)
            FAIL(ST_EIO, "reading the activation cache scratch file: %s",
                 r < 0 ? strerror(errno) : "short read");
    }
    *hit = true;
    c->hits++;
out:
    return st;
}

st_status cache_put(act_cache *c, long chunk, const float *src)
{
    st_status st = ST_OK;
    if (c->mode == CACHE_OFF) goto out;
    size_t bytes = c->entry * sizeof(float);
    if (c->mode == CACHE_MEMORY) {
        if (!c->mem) {
            c->mem = malloc(bytes * (size_t)c->n_chunks);
            if (!c->mem)
                FAIL(ST_ENOMEM,
                     "the activation cache needs %.1f GiB in memory; set grow.cache = disk",
                     (double)bytes * (double)c->n_chunks / (1024.0 * 1024 * 1024));
        }
        memcpy(c->mem + (size_t)chunk * c->entry, src, bytes);
    } else {
        ssize_t w = pwrite(c->fd, src, bytes, (off_t)chunk * (off_t)bytes);
        if (w != (ssize_t)bytes)
            FAIL(ST_EIO, "writing the activation cache scratch file: %s",
                 w < 0 ? strerror(errno) : "short write (disk full?)");
    }
    c->have[chunk] = 1;
out:
    return st;
}
