/* cache.h -- the frozen-activation cache.
 *
 * With blocks 1..k-1 frozen and fixed chunk boundaries, their output for a
 * chunk is a pure function of the chunk.  Stage k therefore computes it once
 * per chunk (the first time the chunk is needed, by train or eval) and reuses
 * it, so a step costs one block, not k.  Entries live in memory or in a
 * per-rank scratch file (unlinked at creation, so nothing is left behind).
 * Entries are indexed by global chunk id; a rank only fills the chunks it
 * touches.
 */
#ifndef STRATA_CACHE_H
#define STRATA_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

typedef enum cache_mode { CACHE_OFF = 0, CACHE_MEMORY, CACHE_DISK } cache_mode;

typedef struct act_cache {
    cache_mode mode;
    long n_chunks;   /* entries */
    size_t entry;    /* floats per entry: T * D */
    int depth;       /* entries hold x_depth (output of blocks 1..depth); -1 = none */
    float *mem;      /* [n_chunks, T, D] (CACHE_MEMORY; allocated on first use) */
    uint8_t *have;   /* [n_chunks] entry is valid */
    int fd;          /* scratch file (CACHE_DISK) or -1 */
    long hits, misses;
} act_cache;

/* Parse "memory|disk|off". */
st_status cache_mode_parse(const char *s, cache_mode *out);
/* scratch_dir: where CACHE_DISK puts its per-rank file (rank in the name). */
st_status cache_init(act_cache *c, cache_mode mode, long n_chunks, int T, int D,
                     const char *scratch_dir, int rank);
void cache_free(act_cache *c);
/* Forget every entry; entries now hold x_depth. */
void cache_reset(act_cache *c, int depth);
/* Copy entry `chunk` into dst [T, D]; *hit = false when not cached (or off). */
st_status cache_get(act_cache *c, long chunk, float *dst, bool *hit);
/* Store src [T, D] as entry `chunk` (no-op when off). */
st_status cache_put(act_cache *c, long chunk, const float *src);

#endif
