/* order.c -- the order of training chunks (see order.h). */
#include "strata/order.h"

#include <stdlib.h>

#include "strata/rng.h"

/* Shard q of S over n chunks: the split of comm_share (the first n % S
 * shards one longer), written out here so the data module needs no MPI. */
static void shard_range(long n, long S, long q, long *first, long *count)
{
    long base = n / S, extra = n % S;
    *count = base + (q < extra ? 1 : 0);
    *first = q * base + (q < extra ? q : extra);
}

st_status data_order_init(data_order *o, long n, long slots, uint64_t seed)
{
    st_status st = ST_OK;
    o->n = n;
    o->slots = slots;
    o->seed = seed;
    o->shards = 0;
    o->epoch = NULL;
    o->perm = NULL;
    if (n <= 0) FAIL(ST_EDATA, "no training chunks to visit");
    if (slots <= 0) FAIL(ST_EDATA, "a batch of %ld slots cannot visit chunks", slots);
    o->shards = slots < n ? slots : n;
    o->epoch = malloc(sizeof *o->epoch * (size_t)o->shards);
    o->perm = calloc((size_t)o->shards, sizeof *o->perm);
    CHECK_ALLOC(o->epoch);
    CHECK_ALLOC(o->perm);
    for (long q = 0; q < o->shards; q++) o->epoch[q] = -1;
out:
    if (st != ST_OK) data_order_free(o);
    return st;
}

void data_order_free(data_order *o)
{
    for (long q = 0; o->perm && q < o->shards; q++) free(o->perm[q]);
    free(o->perm);
    free(o->epoch);
    o->perm = NULL;
    o->epoch = NULL;
}

void data_order_slot_range(const data_order *o, long slot, long *first, long *count)
{
    shard_range(o->n, o->shards, slot % o->shards, first, count);
}

long data_order_chunk(data_order *o, long pos)
{
    const long S = o->shards;
    long step = pos / o->slots, slot = pos % o->slots;
    long q = slot % S;
    /* Slots q, q + S, q + 2S, ... share shard q: per step they take its next
     * visits in slot order. */
    long per_step = o->slots / S + (q < o->slots % S ? 1 : 0);
    long visit = step * per_step + slot / S;
    long first, len;
    shard_range(o->n, S, q, &first, &len);
    long epoch = visit / len;
    if (!o->perm[q]) {
        o->perm[q] = malloc(sizeof *o->perm[q] * (size_t)len);
        if (!o->perm[q]) return -1;
    }
    long *perm = o->perm[q];
    if (epoch != o->epoch[q]) {
        /* The shard-epoch selects the stream, so shard-epochs are
         * independent; shard 0 keeps the run seed (order.h: slots = 1 is
         * the order of older runs). */
        rng_t r;
        rng_init(&r, o->seed + (uint64_t)q * UINT64_C(0x9E3779B97F4A7C15), (uint32_t)epoch, RNG_DATA);
        for (long i = 0; i < len; i++) perm[i] = i;
        for (long i = len - 1; i > 0; i--) {
            long j = (long)rng_below(&r, (uint64_t)i + 1);
            long t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        o->epoch[q] = epoch;
    }
    return first + perm[visit % len];
}
