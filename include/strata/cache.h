/* cache.h -- the frozen-activation cache.
 *
 * With blocks 1..k-1 frozen and fixed chunk boundaries, their output for a
 * chunk is a pure function of the chunk.  Stage k therefore computes it once
 * per chunk (the first time the chunk is needed, by train or eval) and reuses
 * it, so a step costs one block, not k.  Each entry remembers the depth d it
 * holds (x_d, the output of blocks 1..d): when stage k+1 needs x_k, an entry
 * still at x_{k-1} is advanced by the one newly frozen block instead of being
 * recomputed from the tokens.  Entries live in memory or in a per-rank
 * scratch file (unlinked at creation, so nothing is left behind); they are
 * indexed by global chunk id and a rank only fills the chunks it touches.
 * Whenever a frozen block changes (LoRA merged into it), cache_reset().
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
    float *mem;      /* [n_chunks, T, D] (CACHE_MEMORY; allocated on first use) */
    int16_t *depth;  /* [n_chunks] depth d of the entry (x_d), -1 = empty */
    int fd;          /* scratch file (CACHE_DISK) or -1 */
    long hits, misses;
} act_cache;

/* Parse "memory|disk|off". */
st_status cache_mode_parse(const char *s, cache_mode *out);
/* scratch_dir: where CACHE_DISK puts its per-rank file (rank in the name). */
st_status cache_init(act_cache *c, cache_mode mode, long n_chunks, int T, int D,
                     const char *scratch_dir, int rank);
void cache_free(act_cache *c);
/* Forget every entry. */
void cache_reset(act_cache *c);
/* Copy entry `chunk` into dst [T, D] and set *depth to the depth it holds;
 * *depth = -1 (dst untouched) when there is none or the cache is off. */
st_status cache_get(act_cache *c, long chunk, float *dst, int *depth);
/* Store src [T, D] = x_depth as entry `chunk` (no-op when off). */
st_status cache_put(act_cache *c, long chunk, const float *src, int depth);

#endif
