/* eval.h -- per-depth evaluation: the one place that turns models and
 * chunks into loss, bits per character and top-1 accuracy, and into the
 * per-position log-probabilities that probes and tasks build on.
 *
 * The growth job (its model, with the activation cache serving the frozen
 * blocks), `strata eval` (a loaded checkpoint, or an ensemble) and the tests
 * all call eval_depths_mix (eval_depths is it with the mean of logits); probes
 * and tasks call eval_target_logprobs.  Both run the same forward passes and
 * the same combination code (static in eval.c).
 *
 * Depth: at depth k each member's head is applied to its block-min(k, L_j)
 * output (the logit lens; L_j = that member's n_blocks), so members of
 * different depths combine at every depth up to the deepest one: a shallower
 * member contributes its full-depth prediction beyond its own depth.
 *
 * Combination of n members (docs/MODEL.md "Ensembles", the exact formulas);
 * w_j = prior_j / sum prior (uniform when prior is NULL):
 *   CKPT_MEAN_LOGITS  softmax(sum_j w_j z_j)              (the papers' mixture)
 *   CKPT_MEAN_PROBS   sum_j w_j softmax(z_j)
 *   CKPT_POSTERIOR    sum_j w_j(t) softmax(z_j), with w_j(t) proportional to
 *                     w_j prod_{s<t} p_j(y_s): Bayesian model averaging within
 *                     the context window (the chunk), in log space, double.
 * With one member every mode is that member's prediction bit for bit.  The
 * loss is the cross-entropy against the next token, summed in double; top-1
 * is the argmax of the combined distribution.
 *
 * Distribution: eval_depths(_mix) is collective over `comm`; rank r takes the
 * contiguous share comm_share(n, r, size) of the chunks and the sums are
 * all-reduced, so every rank returns the same rows and the numbers do not
 * depend on the rank count beyond summation order.  eval_target_logprobs is
 * local (callers split the rows).
 *
 * Where to add a probe or a task: a function beside eval_depths that takes
 * the same eval_member list and calls eval_target_logprobs (so it works for
 * every depth, every member count, every combination and every prefix
 * source), and a column in metrics.h.
 */
#ifndef STRATA_EVAL_H
#define STRATA_EVAL_H

#include <mpi.h>
#include <stdint.h>

#include "strata/ckpt_model.h"
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

/* The chunks to evaluate: rows ids[0..n) of chunks [*, T + 1] (ids NULL:
 * rows 0..n-1).  A member's prefix source is asked for the row number. */
typedef struct eval_chunks {
    const int32_t *chunks;  /* [*, T + 1] */
    const double *chars;    /* [*] characters covered by a row's targets (may be NULL for eval_target_logprobs) */
    const long *ids;        /* [n], or NULL */
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

/* Depths lo..hi (1 <= lo <= hi <= the deepest member's n_blocks) of the n
 * members combined as `how` (prior [n] or NULL: uniform), on the chunks d,
 * `batch` chunks per forward pass; out[hi - lo + 1].  member_out [n, hi - lo
 * + 1] (or NULL) receives each member alone from the same forward passes
 * (row j * (hi - lo + 1) + k - lo; a member evaluated beyond its depth gives
 * its full-depth numbers, and .depth says which depth that is).  Every member
 * must have the vocabulary of the chunks (ids are checked) and one width D;
 * a prior must be finite and >= 0 with a positive sum (else ST_EUSAGE). */
st_status eval_depths_mix(eval_member *mem, int n, ckpt_combine how, const double *prior, const eval_chunks *d,
                          int lo, int hi, int batch, MPI_Comm comm, eval_row *out, eval_row *member_out);

/* eval_depths_mix with the mean of logits and a uniform prior. */
st_status eval_depths(eval_member *mem, int n, const eval_chunks *d, int lo, int hi, int batch, MPI_Comm comm,
                      eval_row *out);

/* Per-position results of eval_target_logprobs; every pointer may be NULL.
 * Position (k, i, t) is depth k (lo..hi), row i of d (0..d->n-1), target t
 * (0..T-1: the prediction of chunk[t + 1] from chunk[0..t]). */
typedef struct eval_positions {
    double *logp;        /* [hi-lo+1, n_rows, T] natural log of the combined probability of the target */
    uint8_t *hit;        /* [hi-lo+1, n_rows, T] 1 where the combined argmax is the target */
    double *member_logp; /* [n, hi-lo+1, n_rows, T] each member alone */
    uint8_t *member_hit; /* [n, hi-lo+1, n_rows, T] */
} eval_positions;

/* Log-probabilities of the targets of every row of d under the n members
 * combined as `how` (prior as eval_depths_mix), at every depth lo..hi, in one
 * forward pass per `batch` rows.  Local: no communication (callers split
 * rows).  Bits per character of a row = -sum_t logp / ln 2 / chars. */
st_status eval_target_logprobs(eval_member *mem, int n, ckpt_combine how, const double *prior,
                               const eval_chunks *d, int lo, int hi, int batch, const eval_positions *out);

/* One position's combined prediction as logits out[V] (softmax(out) is the
 * combined distribution; generation samples from it): z[j] [V] member j's
 * logits, lz[j] their log-sum-exp, lw[j] the normalised log weights at this
 * position (mixtures; the prior's log for mean-probs), w[j] the normalised
 * prior (mean-logits).  One member: its logits, copied. */
void eval_mix_row(ckpt_combine how, int n, const float *const *z, const double *lz, const double *lw,
                  const double *w, int V, float *out);

#endif
