/* cache.h -- the frozen-activation cache of a rank's own chunks.
 *
 * With blocks 1..k-1 frozen and fixed chunk boundaries, their output for a
 * chunk is a pure function of the chunk: stage k reads x_{k-1} from the
 * cache instead of recomputing it, so a step costs one block, not k.  Each
 * entry remembers the depth d it holds (x_d, the output of blocks 1..d);
 * when a block is frozen, grow advances by that one block every entry the
 * rest of the run is planned to read (grow.c run_cache_advance), so a stage
 * costs one block forward per such chunk plus its training, whatever the
 * depth and however short the stage.
 *
 * The cache is sharded: it holds only the chunk ids given at init (the
 * chunks this rank trains and evaluates on; data/order.h keeps that set
 * small and fixed), looked up by global chunk id.  Any other id is a miss
 * and is not stored.  Entries live in memory or in a per-rank scratch file
 * (unlinked at creation, so nothing is left behind), as float32 (bit for
 * bit: cache on, off and disk give the same run) or bfloat16 (half the
 * bytes; values rounded to bf16 when stored, docs/HPC.md gives the
 * measured effect).  Whenever a frozen block changes (LoRA merged into it),
 * cache_reset().
 */
#ifndef STRATA_CACHE_H
#define STRATA_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

typedef enum cache_mode { CACHE_OFF = 0, CACHE_MEMORY, CACHE_DISK } cache_mode;
typedef enum cache_dtype { CACHE_F32 = 0, CACHE_BF16 } cache_dtype;

typedef struct act_cache {
    cache_mode mode;
    cache_dtype dtype;
    long n;          /* entries */
    long *ids;       /* [n] ascending global chunk ids of the entries */
    size_t entry;    /* values per entry: T * D */
    size_t bytes;    /* bytes per entry: entry * 4 or * 2 */
    void *mem;       /* [n, T, D] float or bf16 bits (CACHE_MEMORY) */
    uint16_t *row;   /* [T, D] bf16 staging row (CACHE_DISK + CACHE_BF16) */
    int16_t *depth;  /* [n] depth d of the entry (x_d), -1 = empty */
    int fd;          /* scratch file (CACHE_DISK) or -1 */
    long hits, misses;
} act_cache;

/* Parse "memory|disk|off" (grow.cache) and "float32|bfloat16"
 * (grow.cache_dtype). */
st_status cache_mode_parse(const char *s, cache_mode *out);
st_status cache_dtype_parse(const char *s, cache_dtype *out);
/* Bytes the entries of n chunk ids take (memory or scratch file). */
double cache_bytes(long n, int T, int D, cache_dtype dtype);
/* ids[0..n): the chunks to cache (any order, repeats allowed; copied).
 * scratch_dir: where CACHE_DISK puts its per-rank file (rank in the name).
 * CACHE_MEMORY allocates its entries here (ST_ENOMEM naming the size). */
st_status cache_init(act_cache *c, cache_mode mode, cache_dtype dtype, const long *ids, long n, int T, int D,
                     const char *scratch_dir, int rank);
void cache_free(act_cache *c);
/* Entry index (0..n-1) of `chunk`, or -1 when it is not one of the cache's. */
long cache_index(const act_cache *c, long chunk);
/* Forget every entry. */
void cache_reset(act_cache *c);
/* Copy the entry of `chunk` into dst [T, D] and set *depth to the depth it
 * holds; *depth = -1 (dst untouched) when there is none, the chunk is not
 * one of the cache's, or the cache is off. */
st_status cache_get(act_cache *c, long chunk, float *dst, int *depth);
/* Store src [T, D] = x_depth as the entry of `chunk` (no-op when off or
 * when the chunk is not one of the cache's). */
st_status cache_put(act_cache *c, long chunk, const float *src, int depth);

#endif
