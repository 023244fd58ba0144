/* probe.h -- probes of how a model uses its context, at every depth (the
 * logit lens): the induction probe and the per-position loss curve.
 *
 * Both are built on eval_target_logprobs (eval.h), so they work for one
 * model, an ensemble (every combination mode) or a growth run, at every
 * depth lo..hi, from the same forward passes and combination code as
 * eval_depths.  Units: nats/token.
 *
 * Induction: nseq sequences of `len` random tokens, each repeated once (a
 * row is x ++ x, 2 len tokens).  The tokens are drawn uniformly, with
 * replacement, from the tokenizer's ordinary ids (kind TOK_CHAR or
 * TOK_NGRAM, in id order) by a Philox stream with the fixed seed
 * PROBE_INDUCTION_SEED: the same sequences for every run and every rank
 * count with the same tokenizer.  loss_first is the mean loss of the
 * targets x[1..len-1] (first copy: nothing to copy from), loss_second that
 * of x'[1..len-1] (second copy: a model that has learned to copy predicts
 * them from the first); the first token of the second copy is in neither
 * (nothing announces the repetition).  gain = loss_first - loss_second;
 * an untrained model has gain ~ 0, an induction head makes it large.
 *
 * Per-position loss: the mean loss of target t (the prediction of
 * chunk[t + 1] from chunk[0..t]) over the chunks of d, for every t and
 * depth: in-context learning shows as a loss that falls with t.
 *
 * Distribution: collective over `comm`; rank r takes the contiguous share
 * comm_share(n, r, size) of the sequences / chunks and the sums are
 * all-reduced, so every rank returns the same numbers and they do not
 * depend on the rank count beyond summation order.
 */
#ifndef STRATA_PROBE_H
#define STRATA_PROBE_H

#include <mpi.h>
#include <stdint.h>

#include "strata/error.h"
#include "strata/eval.h"

struct tokenizer;

/* The fixed seed of the induction sequences ("induct" in ASCII). */
#define PROBE_INDUCTION_SEED UINT64_C(0x696e64756374)

typedef struct probe_induction_row {
    int depth;
    double gain;        /* loss_first - loss_second, nats/token */
    double loss_first;  /* nats/token */
    double loss_second; /* nats/token */
    double tokens;      /* targets in each copy, over all sequences */
} probe_induction_row;

/* The induction rows: *out malloc'd [nseq, 2 len] (row s = x_s ++ x_s).
 * A tokenizer with fewer than 2 ordinary ids, or ids >= V -> ST_EDATA. */
st_status probe_induction_seqs(const struct tokenizer *tok, int V, long nseq, int len, int32_t **out);

/* The induction probe of the n members combined as `how` (prior as
 * eval_depths_mix) at depths lo..hi; out[hi - lo + 1].  The members'
 * prefix sources and workspaces are not used (the rows are not chunks). */
st_status probe_induction(eval_member *mem, int n, ckpt_combine how, const double *prior,
                          const struct tokenizer *tok, long nseq, int len, int lo, int hi, int batch,
                          MPI_Comm comm, probe_induction_row *out);

/* Mean loss by position over the chunks d at depths lo..hi: loss [hi-lo+1,
 * d->T] (nats/token), *rows = chunks averaged (d->n). */
st_status probe_position_loss(eval_member *mem, int n, ckpt_combine how, const double *prior,
                              const eval_chunks *d, int lo, int hi, int batch, MPI_Comm comm, double *loss,
                              double *rows);

#endif
