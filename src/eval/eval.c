/* eval.c -- per-depth evaluation of one or more members, and the
 * per-position log-probabilities of their combination (see eval.h; the
 * formulas are docs/MODEL.md "Ensembles"). */
#include "strata/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/comm.h"
#include "strata/ops.h"
#include "strata/timer.h"

/* ---- the one forward + combination ------------------------------------- */

/* What a batch of rows needs, shared by eval_depths_mix and
 * eval_target_logprobs: the members' workspaces and prefixes, and the
 * scratch of the combination. */
typedef struct mixer {
    eval_member *mem;
    int n, V, D, T, B;
    ckpt_combine how;
    double *logw0;   /* [n] log of the normalised prior */
    double *w0;      /* [n] the normalised prior */
    model_ws *own;   /* [n] workspaces made here (members without one) */
    model_ws **ws;   /* [n] the workspace each member uses */
    float **xin;     /* [n] -> [B, T, D] prefix outputs (members with a prefix source) */
    int *start;      /* [n] first block computed here */
    int *cur;        /* [n] blocks the member's workspace output has been through */
    float *avg;      /* [B * T, V] weighted mean of logits (several members) */
    double *lp;      /* [n, B * T] each member's log p(target) at the current depth */
    double *lz;      /* [n, B * T] each member's log-sum-exp of its logits */
    uint8_t *mhit;   /* [n, B * T] each member's argmax == target */
    double *acc;     /* [n] posterior: summed log-likelihood of the context so far */
    double *lw;      /* [n] log weights at the current position (normalised) */
    double *tmp;     /* [n] */
    const float **zrow; /* [n] one position's logits of each member */
    double *lzrow;   /* [n] */
    float *mix;      /* [V] one position's mixed log-probabilities */
} mixer;

static void mixer_free(mixer *x)
{
    for (int j = 0; x->own && j < x->n; j++) model_ws_free(&x->own[j]);
    for (int j = 0; x->xin && j < x->n; j++) free(x->xin[j]);
    free(x->logw0);
    free(x->w0);
    free(x->own);
    free(x->ws);
    free(x->xin);
    free(x->start);
    free(x->cur);
    free(x->avg);
    free(x->lp);
    free(x->lz);
    free(x->mhit);
    free(x->acc);
    free(x->lw);
    free(x->tmp);
    free(x->zrow);
    free(x->lzrow);
    free(x->mix);
    memset(x, 0, sizeof *x);
}

static st_status mixer_init(mixer *x, eval_member *mem, int n, ckpt_combine how, const double *prior, int T,
                            int lo, int hi, int batch)
{
    st_status st = ST_OK;
    memset(x, 0, sizeof *x);
    if (n < 1 || lo < 1 || hi < lo || T < 1) FAIL(ST_EUSAGE, "eval: %d members, depths %d..%d, T=%d", n, lo, hi, T);
    if (how != CKPT_MEAN_LOGITS && how != CKPT_MEAN_PROBS && how != CKPT_POSTERIOR)
        FAIL(ST_EUSAGE, "eval: combination mode %d is unknown", (int)how);
    const int V = mem[0].m->dims.V, D = mem[0].m->dims.D, B = batch < 1 ? 1 : batch;
    int deepest = 0;
    for (int j = 0; j < n; j++) {
        const model *m = mem[j].m;
        if (m->n_blocks > deepest) deepest = m->n_blocks;
        if (m->n_blocks < 1) FAIL(ST_EUSAGE, "eval: member %d has no blocks", j + 1);
        if (m->dims.V != V || m->dims.D != D)
            FAIL(ST_EUSAGE, "eval: member %d has V=%d D=%d, member 1 V=%d D=%d", j + 1, m->dims.V, m->dims.D, V, D);
    }
    if (hi > deepest) FAIL(ST_EUSAGE, "eval: depth %d is beyond the deepest member's %d blocks", hi, deepest);
    *x = (mixer){.mem = mem, .n = n, .V = V, .D = D, .T = T, .B = B, .how = how};
    x->logw0 = malloc(sizeof(double) * (size_t)n);
    x->w0 = malloc(sizeof(double) * (size_t)n);
    x->own = calloc((size_t)n, sizeof *x->own);
    x->ws = calloc((size_t)n, sizeof *x->ws);
    x->xin = calloc((size_t)n, sizeof *x->xin);
    x->start = calloc((size_t)n, sizeof *x->start);
    x->cur = calloc((size_t)n, sizeof *x->cur);
    x->lp = malloc(sizeof(double) * (size_t)n * (size_t)B * (size_t)T);
    x->lz = malloc(sizeof(double) * (size_t)n * (size_t)B * (size_t)T);
    x->mhit = malloc((size_t)n * (size_t)B * (size_t)T);
    x->acc = malloc(sizeof(double) * (size_t)n);
    x->lw = malloc(sizeof(double) * (size_t)n);
    x->tmp = malloc(sizeof(double) * (size_t)n);
    x->zrow = malloc(sizeof *x->zrow * (size_t)n);
    x->lzrow = malloc(sizeof(double) * (size_t)n);
    x->mix = malloc(sizeof(float) * (size_t)V);
    CHECK_ALLOC(x->logw0);
    CHECK_ALLOC(x->w0);
    CHECK_ALLOC(x->own);
    CHECK_ALLOC(x->ws);
    CHECK_ALLOC(x->xin);
    CHECK_ALLOC(x->start);
    CHECK_ALLOC(x->cur);
    CHECK_ALLOC(x->lp);
    CHECK_ALLOC(x->lz);
    CHECK_ALLOC(x->mhit);
    CHECK_ALLOC(x->acc);
    CHECK_ALLOC(x->lw);
    CHECK_ALLOC(x->tmp);
    CHECK_ALLOC(x->zrow);
    CHECK_ALLOC(x->lzrow);
    CHECK_ALLOC(x->mix);
    double sum = 0;
    for (int j = 0; j < n; j++) {
        double p = prior ? prior[j] : 1.0;
        if (!(p >= 0 && p <= 1e300)) FAIL(ST_EUSAGE, "eval: member %d has prior %g (need a finite number >= 0)", j + 1, p);
        sum += p;
    }
    if (!(sum > 0)) FAIL(ST_EUSAGE, "eval: the priors of the %d members sum to %g", n, sum);
    for (int j = 0; j < n; j++) {
        x->w0[j] = (prior ? prior[j] : 1.0) / sum;
        x->logw0[j] = log(x->w0[j]);
    }
    for (int j = 0; j < n; j++) {
        const model *m = mem[j].m;
        if (mem[j].ws) {
            x->ws[j] = mem[j].ws;
        } else {
            CHECK(model_ws_init(&x->own[j], &m->dims, B, T, 1, 0));
            x->ws[j] = &x->own[j];
        }
        int s = mem[j].prefix ? (mem[j].prefix_depth < lo - 1 ? mem[j].prefix_depth : lo - 1) : 0;
        if (s > m->n_blocks - 1) s = m->n_blocks - 1; /* at least one block computed here */
        x->start[j] = s > 0 ? s : 0;
        if (x->start[j] > 0) {
            x->xin[j] = malloc(sizeof(float) * (size_t)B * (size_t)T * (size_t)D);
            CHECK_ALLOC(x->xin[j]);
        }
    }
    if (n > 1 && how == CKPT_MEAN_LOGITS) {
        x->avg = malloc(sizeof(float) * (size_t)B * (size_t)T * (size_t)V);
        CHECK_ALLOC(x->avg);
    }
out:
    if (st != ST_OK) mixer_free(x);
    return st;
}

/* Load a batch: nb rows of tokens [nb, T + 1] (checked against V) and the
 * prefix of every member that has a source (row numbers rows[nb]). */
static st_status mixer_rows(mixer *x, const int32_t *tok, const long *rows, int nb)
{
    st_status st = ST_OK;
    const int T = x->T;
    for (int i = 0; i < nb; i++) {
        const int32_t *r = tok + (size_t)i * (T + 1);
        for (int t = 0; t <= T; t++)
            if (r[t] < 0 || r[t] >= x->V)
                FAIL(ST_EDATA, "chunk %ld holds token id %d outside the vocabulary [0, %d)", rows[i], (int)r[t], x->V);
        for (int j = 0; j < x->n; j++)
            if (x->start[j] > 0)
                CHECK(x->mem[j].prefix(x->mem[j].prefix_ctx, rows[i], x->start[j],
                                       x->xin[j] + (size_t)i * (size_t)T * (size_t)x->D));
    }
    for (int j = 0; j < x->n; j++) x->cur[j] = x->start[j];
out:
    return st;
}

/* First index of the largest of r[0..V). */
static int argmax_f(const float *r, int V)
{
    int best = 0;
    for (int q = 1; q < V; q++)
        if (r[q] > r[best]) best = q;
    return best;
}

/* log(sum_j exp(a[j])) in double; one element: a[0] exactly. */
static double lse_d(const double *a, int n)
{
    if (n == 1) return a[0];
    double mx = a[0];
    for (int j = 1; j < n; j++) mx = a[j] > mx ? a[j] : mx;
    if (mx == -INFINITY) return mx;
    double s = 0;
    for (int j = 0; j < n; j++) s += exp(a[j] - mx);
    return mx + log(s);
}

void eval_mix_row(ckpt_combine how, int n, const float *const *z, const double *lz, const double *lw,
                  const double *w, int V, float *out)
{
    if (n == 1) {
        memcpy(out, z[0], sizeof(float) * (size_t)V);
        return;
    }
    if (how == CKPT_MEAN_LOGITS) {
        const float w0 = (float)w[0];
        for (int q = 0; q < V; q++) out[q] = w0 * z[0][q];
        for (int j = 1; j < n; j++) {
            const float wj = (float)w[j];
            for (int q = 0; q < V; q++) out[q] += wj * z[j][q];
        }
        return;
    }
    /* log sum_j exp(lw_j - lz_j + z_j[q]): every exponent is <= lw_j <= 0
     * (z_j[q] <= lz_j), so no shift is needed; a token no member can
     * produce (all terms underflow) gets the masked value -1e30 */
    for (int q = 0; q < V; q++) {
        double s = 0;
        for (int j = 0; j < n; j++) s += exp(lw[j] - lz[j] + (double)z[j][q]);
        out[q] = s > 0 ? (float)log(s) : -1e30f;
    }
}

/* Depth k (>= every earlier call's depth for this batch) on the nb rows of
 * tok: each member forward to min(k, its blocks) and its head, then the
 * combination.  Position p = i * T + t goes to logp[p], hit[p] (combined)
 * and mlp[j * mld + p], mhit[j * mld + p] (member j alone); any may be
 * NULL. */
static st_status mixer_depth(mixer *x, const int32_t *tok, int nb, int k, double *logp, uint8_t *hit, double *mlp,
                             uint8_t *mhit, size_t mld)
{
    st_status st = ST_OK;
    const int n = x->n, V = x->V, T = x->T, N = nb * T;
    const model_batch b = {.tokens = tok, .targets = NULL, .ld = T + 1};
    for (int j = 0; j < n; j++) {
        model *m = x->mem[j].m;
        const int kj = k < m->n_blocks ? k : m->n_blocks;
        if (x->cur[j] >= kj) continue; /* past its depth: the head output of its last block stays */
        const float *in = x->cur[j] == 0 ? NULL : x->cur[j] == x->start[j] ? x->xin[j] : model_ws_output(x->ws[j]);
        CHECK(model_forward_blocks(m, x->ws[j], &b, in, x->cur[j], kj, nb, T, false));
        x->cur[j] = kj;
        CHECK(model_forward_head(m, x->ws[j], model_ws_output(x->ws[j]), NULL, NULL, NULL));
        /* the member alone: log p(target) and log-sum-exp, in double */
        const float *z = x->ws[j]->head.logits; /* [N, V] */
        double *lp = x->lp + (size_t)j * N, *lz = x->lz + (size_t)j * N;
        uint8_t *mh = x->mhit + (size_t)j * N;
        for (int p = 0; p < N; p++) {
            const float *r = z + (size_t)p * V;
            const int32_t y = tok[(size_t)(p / T) * (T + 1) + p % T + 1];
            float lsef;
            const double nll = op_xent_forward(&lsef, r, &y, 1, 1, 1, V);
            lp[p] = -nll;
            lz[p] = nll + (double)r[y];
            mh[p] = argmax_f(r, V) == y;
        }
    }
    for (int j = 0; mlp && j < n; j++) memcpy(mlp + (size_t)j * mld, x->lp + (size_t)j * N, sizeof(double) * (size_t)N);
    for (int j = 0; mhit && j < n; j++) memcpy(mhit + (size_t)j * mld, x->mhit + (size_t)j * N, (size_t)N);
    if (!logp && !hit) goto out;

    if (n == 1) {
        /* every mode is the member itself, bit for bit */
        for (int p = 0; p < N; p++) {
            if (logp) logp[p] = x->lp[p];
            if (hit) hit[p] = x->mhit[p];
        }
    } else if (x->how == CKPT_MEAN_LOGITS) {
        /* softmax of the weighted mean of the logits */
        for (int p = 0; p < N; p++) {
            for (int j = 0; j < n; j++) x->zrow[j] = x->ws[j]->head.logits + (size_t)p * V;
            eval_mix_row(CKPT_MEAN_LOGITS, n, x->zrow, NULL, NULL, x->w0, V, x->avg + (size_t)p * V);
        }
        for (int p = 0; p < N; p++) {
            const float *r = x->avg + (size_t)p * V;
            const int32_t y = tok[(size_t)(p / T) * (T + 1) + p % T + 1];
            float lsef;
            if (logp) logp[p] = -op_xent_forward(&lsef, r, &y, 1, 1, 1, V);
            if (hit) hit[p] = argmax_f(r, V) == y;
        }
    } else {
        /* a mixture of the members' distributions with log weights lw:
         * mean-probs keeps the prior; posterior multiplies in each member's
         * likelihood of the targets before t in the same row (the context
         * window) and normalises, so the weights are a posterior over
         * members given the context. */
        for (int i = 0; i < nb; i++) {
            for (int j = 0; j < n; j++) x->acc[j] = x->logw0[j];
            for (int t = 0; t < T; t++) {
                const int p = i * T + t;
                const double norm = lse_d(x->acc, n);
                for (int j = 0; j < n; j++) x->lw[j] = x->acc[j] - norm;
                double *a = x->tmp; /* [n] lw_j + log p_j(y) */
                for (int j = 0; j < n; j++) a[j] = x->lw[j] + x->lp[(size_t)j * N + p];
                if (logp) logp[p] = lse_d(a, n);
                if (hit) {
                    /* argmax of the mixed distribution */
                    const int32_t y = tok[(size_t)i * (T + 1) + t + 1];
                    for (int j = 0; j < n; j++) {
                        x->zrow[j] = x->ws[j]->head.logits + (size_t)p * V;
                        x->lzrow[j] = x->lz[(size_t)j * N + p];
                    }
                    eval_mix_row(x->how, n, x->zrow, x->lzrow, x->lw, x->w0, V, x->mix);
                    hit[p] = argmax_f(x->mix, V) == y;
                }
                if (x->how == CKPT_POSTERIOR)
                    for (int j = 0; j < n; j++) x->acc[j] += x->lp[(size_t)j * N + p];
            }
        }
    }
out:
    return st;
}

/* ---- the two entry points ----------------------------------------------- */

st_status eval_target_logprobs(eval_member *mem, int n, ckpt_combine how, const double *prior,
                               const eval_chunks *d, int lo, int hi, int batch, const eval_positions *out)
{
    st_status st = ST_OK;
    mixer x = {0};
    int32_t *tok = NULL; /* [B, T + 1] */
    long *rows = NULL;   /* [B] */
    const int T = d->T, nd = hi - lo + 1;
    CHECK(mixer_init(&x, mem, n, how, prior, T, lo, hi, batch));
    const int B = x.B;
    tok = malloc(sizeof *tok * (size_t)B * (size_t)(T + 1));
    rows = malloc(sizeof *rows * (size_t)B);
    CHECK_ALLOC(tok);
    CHECK_ALLOC(rows);
    const size_t plane = (size_t)d->n * (size_t)T; /* one depth of one output */
    for (long i0 = 0; i0 < d->n; i0 += B) {
        const int nb = (int)(d->n - i0 < B ? d->n - i0 : B);
        for (int i = 0; i < nb; i++) {
            rows[i] = d->ids ? d->ids[i0 + i] : i0 + i;
            memcpy(tok + (size_t)i * (T + 1), d->chunks + (size_t)rows[i] * (size_t)(T + 1),
                   sizeof *tok * (size_t)(T + 1));
        }
        CHECK(mixer_rows(&x, tok, rows, nb));
        for (int k = lo; k <= hi; k++) {
            const size_t off = (size_t)(k - lo) * plane + (size_t)i0 * (size_t)T;
            CHECK(mixer_depth(&x, tok, nb, k, out->logp ? out->logp + off : NULL, out->hit ? out->hit + off : NULL,
                              out->member_logp ? out->member_logp + off : NULL,
                              out->member_hit ? out->member_hit + off : NULL, (size_t)nd * plane));
        }
    }
out:
    mixer_free(&x);
    free(tok);
    free(rows);
    return st;
}

st_status eval_depths_mix(eval_member *mem, int n, ckpt_combine how, const double *prior, const eval_chunks *d,
                          int lo, int hi, int batch, MPI_Comm comm, eval_row *out, eval_row *member_out)
{
    st_status st = ST_OK;
    const double t0 = timer_now();
    mixer x = {0};
    int32_t *tok = NULL;  /* [B, T + 1] */
    long *rows = NULL;    /* [B] */
    double *logp = NULL;  /* [B * T] combined */
    uint8_t *hit = NULL;  /* [B * T] */
    double *mlp = NULL;   /* [n, B * T] members alone (member_out) */
    uint8_t *mhit = NULL; /* [n, B * T] */
    double *sums = NULL;  /* [(1 + n) * nd, 4]: nats, correct, tokens, chars; the ensemble, then each member */
    const int T = d->T, nd = hi - lo + 1;
    int rank = 0, size = 1;
    CHECK(mixer_init(&x, mem, n, how, prior, T, lo, hi, batch));
    const int B = x.B;
    const int nrow = member_out ? 1 + n : 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long first, count;
    comm_share(d->n, rank, size, &first, &count);
    tok = malloc(sizeof *tok * (size_t)B * (size_t)(T + 1));
    rows = malloc(sizeof *rows * (size_t)B);
    logp = malloc(sizeof *logp * (size_t)B * (size_t)T);
    hit = malloc((size_t)B * (size_t)T);
    sums = calloc((size_t)nrow * (size_t)nd * 4, sizeof *sums);
    CHECK_ALLOC(tok);
    CHECK_ALLOC(rows);
    CHECK_ALLOC(logp);
    CHECK_ALLOC(hit);
    CHECK_ALLOC(sums);
    if (member_out) {
        mlp = malloc(sizeof *mlp * (size_t)n * (size_t)B * (size_t)T);
        mhit = malloc((size_t)n * (size_t)B * (size_t)T);
        CHECK_ALLOC(mlp);
        CHECK_ALLOC(mhit);
    }

    for (long i0 = 0; i0 < count; i0 += B) {
        const int nb = (int)(count - i0 < B ? count - i0 : B), N = nb * T;
        double chars = 0;
        for (int i = 0; i < nb; i++) {
            rows[i] = d->ids ? d->ids[first + i0 + i] : first + i0 + i;
            memcpy(tok + (size_t)i * (T + 1), d->chunks + (size_t)rows[i] * (size_t)(T + 1),
                   sizeof *tok * (size_t)(T + 1));
            chars += d->chars[rows[i]];
        }
        CHECK(mixer_rows(&x, tok, rows, nb));
        for (int k = lo; k <= hi; k++) {
            CHECK(mixer_depth(&x, tok, nb, k, logp, hit, mlp, mhit, (size_t)N));
            for (int r = 0; r < nrow; r++) {
                const double *lp = r == 0 ? logp : mlp + (size_t)(r - 1) * N;
                const uint8_t *h = r == 0 ? hit : mhit + (size_t)(r - 1) * N;
                double nats = 0;
                long correct = 0;
                for (int p = 0; p < N; p++) {
                    nats -= lp[p];
                    correct += h[p];
                }
                double *s = sums + ((size_t)r * nd + (size_t)(k - lo)) * 4;
                s[0] += nats;
                s[1] += (double)correct;
                s[2] += (double)N;
                s[3] += chars;
            }
        }
    }
    CHECK(comm_allreduce_sum_f64(sums, nrow * nd * 4, comm));
    for (int r = 0; r < nrow; r++)
        for (int k = lo; k <= hi; k++) {
            const double *s = sums + ((size_t)r * nd + (size_t)(k - lo)) * 4;
            const int nbj = r == 0 ? k : mem[r - 1].m->n_blocks;
            eval_row row = {
                .depth = r == 0 || k < nbj ? k : nbj,
                .loss = s[2] > 0 ? s[0] / s[2] : NAN,
                .bpc = s[3] > 0 ? s[0] / log(2.0) / s[3] : NAN,
                .top1 = s[2] > 0 ? s[1] / s[2] : NAN,
                .tokens = s[2],
                .seconds = timer_now() - t0,
            };
            if (r == 0)
                out[k - lo] = row;
            else
                member_out[(size_t)(r - 1) * nd + (size_t)(k - lo)] = row;
        }
out:
    mixer_free(&x);
    free(tok);
    free(rows);
    free(logp);
    free(hit);
    free(mlp);
    free(mhit);
    free(sums);
    return st;
}

st_status eval_depths(eval_member *mem, int n, const eval_chunks *d, int lo, int hi, int batch, MPI_Comm comm,
                      eval_row *out)
{
    return eval_depths_mix(mem, n, CKPT_MEAN_LOGITS, NULL, d, lo, hi, batch, comm, out, NULL);
}
