/* order.c -- the order of training chunks (see order.h). */
#include "strata/order.h"

#include <stdlib.h>

#include "strata/rng.h"

st_status data_order_init(data_order *o, long n, uint64_t seed)
{
    st_status st = ST_OK;
    o->n = n;
    o->seed = seed;
    o->epoch = -1;
    o->perm = NULL;
    if (n <= 0) FAIL(ST_EDATA, "no training chunks to visit");
    o->perm = malloc(sizeof *o->perm * (size_t)n);
    CHECK_ALLOC(o->perm);
out:
    return st;
}

void data_order_free(data_order *o)
{
    free(o->perm);
    o->perm = NULL;
}

long data_order_chunk(data_order *o, long pos)
{
    long epoch = pos / o->n;
    if (epoch != o->epoch) {
        /* The epoch number selects the stream, so epochs are independent. */
        rng_t r;
        rng_init(&r, o->seed, (uint32_t)epoch, RNG_DATA);
        for (long i = 0; i < o->n; i++) o->perm[i] = i;
        for (long i = o->n - 1; i > 0; i--) {
            long j = (long)rng_below(&r, (uint64_t)i + 1);
            long t = o->perm[i];
            o->perm[i] = o->perm[j];
            o->perm[j] = t;
        }
        o->epoch = epoch;
    }
    return o->perm[pos % o->n];
}
