/* sample.h -- temperature / top-k sampling from logits with a seeded rng. */
#ifndef STRATA_SAMPLE_H
#define STRATA_SAMPLE_H

#include <stdint.h>

#include "strata/rng.h"

/* Draw a token from softmax(logits / temperature) restricted to the top_k
 * largest logits (top_k <= 0 or >= V: all).  temperature <= 0 is greedy
 * (argmax, lowest id on ties).  Uses one rng_uniform() draw (none when
 * greedy), so a seeded rng gives a deterministic sequence.  probs [V] is
 * scratch (may be NULL: then the function allocates). */
int32_t sample_token(const float *logits, int V, float temperature, int top_k, rng_t *rng,
                     float *probs);

#endif
