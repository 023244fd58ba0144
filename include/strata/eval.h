/* eval.h -- per-depth evaluation: the one place that turns models and
 * chunks into loss, bits per character and top-1 accuracy.
 *
 * The growth job (its model, with the activation cache serving the frozen
 * blocks), `strata eval` (a loaded checkpoint, or an ensemble) and the tests
 * all call eval_depths.  At depth k each member's head is applied to its
 * block-k output (the logit lens); with several members their logits are
 * combined first (mean of logits: softmax(mean_i z_i)); the loss is the
 * cross-entropy against the next token, summed in double.
 *
 * Distribution: collective over `comm`; rank r takes the contiguous share
 * comm_share(n, r, size) of the chunks and the sums are all-reduced, so every
 * rank returns the same rows and the numbers do not depend on the rank
 * count beyond summation order.
 *
 * Where to add a probe or a task: a new function beside eval_depths that
 * takes the same eval_member list (so it works for every depth, every member
 * count and every prefix source), and a column in metrics.h.
 */
#ifndef STRATA_EVAL_H
#define STRATA_EVAL_H

#include <mpi.h>
#include <stdint.h>

#include "strata/error.h"
#include "strata/model.h"

/* Gives x_start [T, D], the output of blocks [0, start) for one chunk (e.g.
 * from the activation cache). */
typedef st_status (*eval_prefix_fn)(void *ctx, long chunk, int start, float *dst);

typedef struct eval_member {
    model *m;
    model_ws *ws;           /* workspace for `batch` chunks, or NULL (eval_depths makes one) */
    eval_prefix_fn prefix;  /* NULL: every depth is computed from the tokens */
    void *prefix_ctx;
    int prefix_depth;       /* blocks prefix() can serve: it is asked for min(this, lo - 1) */
} eval_member;

/* The chunks to evaluate: rows ids[0..n) of chunks [*, T + 1]. */
typedef struct eval_chunks {
    const int32_t *chunks;  /* [*, T + 1] */
    const double *chars;    /* [*] characters covered by a row's targets */
    const long *ids;        /* [n] */
    long n;
    int T;
} eval_chunks;

typedef struct eval_row {
    int depth;
    double loss;     /* nats/token */
    double bpc;      /* bits per character */
    double top1;     /* share of positions whose argmax is the target */
    double tokens;   /* positions evaluated */
    double seconds;  /* wall time of the whole call (every row) */
} eval_row;

/* Depths lo..hi (1 <= lo <= hi <= every member's n_blocks) of the n members
 * on the chunks d, `batch` chunks per forward pass; out[hi - lo + 1].  Every
 * member must have the vocabulary of the chunks (ids are checked). */
st_status eval_depths(eval_member *mem, int n, const eval_chunks *d, int lo, int hi, int batch, MPI_Comm comm,
                      eval_row *out);

#endif
