/* rng.h -- counter-based random numbers (Philox4x32-10).
 *
 * The whole state is four integers (seed, rank, purpose, counter), so a
 * checkpoint can save it exactly and a resumed run continues the same
 * stream.  Streams for different (seed, rank, purpose) never overlap: rank
 * and purpose are part of the Philox counter block, the seed is the key.
 */
#ifndef STRATA_RNG_H
#define STRATA_RNG_H

#include <stdint.h>

/* Purposes: one independent stream each. */
enum rng_purpose {
    RNG_INIT = 1,     /* parameter initialisation */
    RNG_DATA = 2,     /* batch order, splits */
    RNG_SAMPLE = 3,   /* text generation */
    RNG_SUBSTRATE = 4,/* random / trainable substrates */
    RNG_TEST = 99,
};

typedef struct rng {
    uint64_t seed;
    uint32_t rank;
    uint32_t purpose;
    uint64_t counter; /* number of 128-bit blocks drawn so far */
} rng_t;

void rng_init(rng_t *r, uint64_t seed, uint32_t rank, uint32_t purpose);
/* The raw Philox4x32-10 block function (exposed for the known-answer test). */
void rng_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

uint64_t rng_u64(rng_t *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(rng_t *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t rng_below(rng_t *r, uint64_t n);
/* Standard normal (Box-Muller; draws one block per call, caches nothing). */
double rng_normal(rng_t *r);

#endif
