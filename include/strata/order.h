/* order.h -- the order in which a run visits its training chunks.
 *
 * The n training chunks are cut into S = min(slots, n) contiguous shards
 * (comm_share(n, q, S): shard q).  Batch slot s (0..slots-1: the position of
 * a chunk within a step's global batch) always draws from shard s % S, and
 * each shard is visited in its own sequence of Fisher-Yates permutations,
 * one per pass over the shard (a shard-epoch), drawn from (seed of shard q,
 * shard-epoch).  So:
 *   - the chunk at global data position pos (step pos / slots, slot
 *     pos % slots) is a pure function of (seed, n, slots, pos): the data
 *     cursor of a run is just a position, whatever the rank count, and a
 *     resume on another rank count visits the same chunks;
 *   - a rank that owns a contiguous share of the batch slots (comm.h) only
 *     ever trains on the chunks of those slots' shards: it reads and caches
 *     about n / N chunks (issue "scale out"), whatever the run's length.
 * With slots = 1 there is one shard and shard 0's seed is the run seed: the
 * order of runs written before shards existed (their /state has no
 * order_slots), position for position.
 *
 * Ownership: data_order owns its arrays; data_order_free releases them
 * (safe on a zeroed or failed struct).  Permutations are allocated on first
 * use, so a rank holds only those of the shards it visits.
 */
#ifndef STRATA_ORDER_H
#define STRATA_ORDER_H

#include <stdint.h>

#include "strata/error.h"

typedef struct data_order {
    long n;        /* number of training chunks */
    long slots;    /* batch slots: positions per step */
    long shards;   /* S = min(slots, n) */
    uint64_t seed;
    long *epoch;   /* [S] shard-epoch held in perm[q], -1 before the first use */
    long **perm;   /* [S] NULL or [shard length]: offsets within the shard */
} data_order;

/* n < 1 or slots < 1 -> ST_EDATA. */
st_status data_order_init(data_order *o, long n, long slots, uint64_t seed);
void data_order_free(data_order *o);
/* Index (0..n-1) of the training chunk at global position `pos` (>= 0);
 * -1 when a permutation cannot be allocated (out of memory). */
long data_order_chunk(data_order *o, long pos);
/* Chunk indices [*first, *first + *count) of the shard batch slot `slot`
 * (0..slots-1) draws from. */
void data_order_slot_range(const data_order *o, long slot, long *first, long *count);

#endif
