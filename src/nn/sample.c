/* sample.c -- temperature / top-k sampling (see sample.h). */
#include "strata/sample.h"

#include <math.h>
#include <stdlib.h>

int32_t sample_token(const float *logits, int V, float temperature, int top_k, rng_t *rng,
                     float *probs)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        if (logits[j] > logits[best]) best = j;
    if (temperature <= 0.0f) return best;
    float *p = probs ? probs : malloc((size_t)V * sizeof(float));
    if (!p) return best; /* no memory: fall back to greedy rather than fail mid-text */
    /* threshold = k-th largest logit: partial selection by repeated scans is
     * O(V k), fine for the small k used in sampling; logits tied with the
     * k-th largest are all kept */
    float thresh = -INFINITY;
    if (top_k > 0 && top_k < V) {
        for (int j = 0; j < V; j++) p[j] = logits[j];
        for (int k = 0; k < top_k; k++) {
            int bi = -1;
            for (int j = 0; j < V; j++)
                if (p[j] != -INFINITY && (bi < 0 || p[j] > p[bi])) bi = j;
            if (bi < 0) break; /* fewer than k finite logits: keep them all */
            thresh = p[bi];
            p[bi] = -INFINITY;
        }
    }
    double sum = 0;
    float mx = logits[best];
    for (int j = 0; j < V; j++) {
        p[j] = logits[j] >= thresh ? expf((logits[j] - mx) / temperature) : 0.0f;
        sum += p[j];
    }
    double u = rng_uniform(rng) * sum, acc = 0;
    int32_t pick = best;
    for (int j = 0; j < V; j++) {
        if (p[j] == 0.0f) continue;
        acc += p[j];
        pick = j;
        if (u < acc) break;
    }
    if (!probs) free(p);
    return pick;
}
