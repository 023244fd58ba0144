/* order.h -- the order in which a run visits its training chunks.
 *
 * Epoch e is a Fisher-Yates permutation of 0..n-1 drawn from (seed, e), so
 * the chunk at any global position is a pure function of (seed, n,
 * position): the data cursor of a run is just a position, whatever the rank
 * count, and a resume on another rank count visits the same chunks.
 *
 * Ownership: data_order owns perm; data_order_free releases it (safe on a
 * zeroed or failed struct).
 */
#ifndef STRATA_ORDER_H
#define STRATA_ORDER_H

#include <stdint.h>

#include "strata/error.h"

typedef struct data_order {
    long n;        /* number of training chunks */
    uint64_t seed;
    long epoch;    /* epoch of perm, -1 before the first use */
    long *perm;    /* [n] */
} data_order;

/* n < 1 -> ST_EDATA. */
st_status data_order_init(data_order *o, long n, uint64_t seed);
void data_order_free(data_order *o);
/* Index (0..n-1) of the training chunk at global position `pos` (>= 0). */
long data_order_chunk(data_order *o, long pos);

#endif
