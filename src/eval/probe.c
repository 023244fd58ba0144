/* probe.c -- the induction probe and the per-position loss curve (see
 * probe.h), both on eval_target_logprobs. */
#include "strata/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/comm.h"
#include "strata/rng.h"
#include "strata/tokenizer.h"

st_status probe_induction_seqs(const struct tokenizer *tok, int V, long nseq, int len, int32_t **out)
{
    st_status st = ST_OK;
    int32_t *ord = NULL, *rows = NULL;
    *out = NULL;
    if (nseq < 1 || len < 2) FAIL(ST_EUSAGE, "induction probe: %ld sequences of %d tokens", nseq, len);
    const int nv = tok_vocab_size(tok);
    ord = malloc(sizeof *ord * (size_t)nv);
    CHECK_ALLOC(ord);
    int n_ord = 0;
    for (int id = 0; id < nv; id++) {
        tok_kind k = tok_kind_of(tok, id);
        if (k == TOK_CHAR || k == TOK_NGRAM) ord[n_ord++] = id;
    }
    if (n_ord < 2) FAIL(ST_EDATA, "induction probe: the tokenizer has %d ordinary ids (need 2)", n_ord);
    if (ord[n_ord - 1] >= V)
        FAIL(ST_EDATA, "induction probe: tokenizer id %d is outside the model's vocabulary [0, %d)",
             (int)ord[n_ord - 1], V);
    rows = malloc(sizeof *rows * (size_t)nseq * 2 * (size_t)len);
    CHECK_ALLOC(rows);
    rng_t r;
    rng_init(&r, PROBE_INDUCTION_SEED, 0, RNG_DATA);
    for (long s = 0; s < nseq; s++) {
        int32_t *x = rows + (size_t)s * 2 * (size_t)len; /* [2 len] */
        for (int t = 0; t < len; t++) x[t] = ord[rng_below(&r, (uint64_t)n_ord)];
        memcpy(x + len, x, sizeof *x * (size_t)len);
    }
    *out = rows;
    rows = NULL;
out:
    free(ord);
    free(rows);
    return st;
}

/* The members without prefix sources or workspaces: probe rows are not
 * chunks of a dataset, and their length is not the run's. */
static eval_member *plain_members(const eval_member *mem, int n)
{
    eval_member *p = calloc((size_t)n, sizeof *p);
    if (!p) return NULL;
    for (int j = 0; j < n; j++) p[j].m = mem[j].m;
    return p;
}

st_status probe_induction(eval_member *mem, int n, ckpt_combine how, const double *prior,
                          const struct tokenizer *tok, long nseq, int len, int lo, int hi, int batch,
                          MPI_Comm comm, probe_induction_row *out)
{
    st_status st = ST_OK;
    int32_t *rows = NULL;
    double *logp = NULL, *sums = NULL;
    eval_member *pm = NULL;
    int rank = 0, size = 1;
    const int nd = hi - lo + 1, T = 2 * len - 1, B = batch < 1 ? 1 : batch;
    if (n < 1 || lo < 1 || hi < lo) FAIL(ST_EUSAGE, "induction probe: %d members, depths %d..%d", n, lo, hi);
    CHECK(probe_induction_seqs(tok, mem[0].m->dims.V, nseq, len, &rows));
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long first, count;
    comm_share(nseq, rank, size, &first, &count);
    pm = plain_members(mem, n);
    logp = malloc(sizeof *logp * (size_t)nd * (size_t)B * (size_t)T);
    sums = calloc((size_t)nd * 2, sizeof *sums); /* [nd, 2]: nats of the first and of the second copy */
    CHECK_ALLOC(pm);
    CHECK_ALLOC(logp);
    CHECK_ALLOC(sums);
    for (long i0 = 0; i0 < count; i0 += B) {
        const long nb = count - i0 < B ? count - i0 : B;
        eval_chunks d = {.chunks = rows + (size_t)(first + i0) * (size_t)(T + 1), .ids = NULL, .n = nb, .T = T};
        eval_positions p = {.logp = logp};
        CHECK(eval_target_logprobs(pm, n, how, prior, &d, lo, hi, B, &p));
        for (int k = 0; k < nd; k++)
            for (long i = 0; i < nb; i++) {
                const double *lp = logp + ((size_t)k * (size_t)nb + (size_t)i) * (size_t)T; /* [T] */
                /* target t predicts row[t + 1]: first copy t = 0..len-2, second t = len..2 len-2 */
                for (int t = 0; t < len - 1; t++) {
                    sums[2 * k] -= lp[t];
                    sums[2 * k + 1] -= lp[len + t];
                }
            }
    }
    CHECK(comm_allreduce_sum_f64(sums, nd * 2, comm));
    const double tokens = (double)nseq * (len - 1);
    for (int k = 0; k < nd; k++) {
        double a = sums[2 * k] / tokens, b = sums[2 * k + 1] / tokens;
        out[k] = (probe_induction_row){.depth = lo + k, .gain = a - b, .loss_first = a, .loss_second = b,
                                       .tokens = tokens};
    }
out:
    free(rows);
    free(logp);
    free(sums);
    free(pm);
    return st;
}

st_status probe_position_loss(eval_member *mem, int n, ckpt_combine how, const double *prior,
                              const eval_chunks *d, int lo, int hi, int batch, MPI_Comm comm, double *loss,
                              double *rows)
{
    st_status st = ST_OK;
    double *logp = NULL;
    long *ids = NULL;
    int rank = 0, size = 1;
    const int nd = hi - lo + 1, T = d->T, B = batch < 1 ? 1 : batch;
    if (n < 1 || lo < 1 || hi < lo) FAIL(ST_EUSAGE, "per-position loss: %d members, depths %d..%d", n, lo, hi);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long first, count;
    comm_share(d->n, rank, size, &first, &count);
    logp = malloc(sizeof *logp * (size_t)nd * (size_t)B * (size_t)T);
    ids = malloc(sizeof *ids * (size_t)B);
    CHECK_ALLOC(logp);
    CHECK_ALLOC(ids);
    memset(loss, 0, sizeof *loss * (size_t)nd * (size_t)T);
    for (long i0 = 0; i0 < count; i0 += B) {
        const long nb = count - i0 < B ? count - i0 : B;
        /* The same row numbers as the whole selection, so a prefix source
         * (asked for the row number) serves the right chunks. */
        for (long i = 0; i < nb; i++) ids[i] = d->ids ? d->ids[first + i0 + i] : first + i0 + i;
        eval_chunks part = {.chunks = d->chunks, .chars = d->chars, .ids = ids, .n = nb, .T = T};
        eval_positions p = {.logp = logp};
        CHECK(eval_target_logprobs(mem, n, how, prior, &part, lo, hi, B, &p));
        for (int k = 0; k < nd; k++)
            for (long i = 0; i < nb; i++) {
                const double *lp = logp + ((size_t)k * (size_t)nb + (size_t)i) * (size_t)T; /* [T] */
                double *l = loss + (size_t)k * (size_t)T;
                for (int t = 0; t < T; t++) l[t] -= lp[t];
            }
    }
    CHECK(comm_allreduce_sum_f64(loss, nd * T, comm));
    for (size_t q = 0; q < (size_t)nd * (size_t)T; q++) loss[q] = d->n > 0 ? loss[q] / (double)d->n : NAN;
    *rows = (double)d->n;
out:
    free(logp);
    free(ids);
    return st;
}
