/* eval.c -- per-depth evaluation of one or more members (see eval.h). */
#include "strata/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/comm.h"
#include "strata/head.h"
#include "strata/timer.h"

/* Combine the members' logits at one depth into *h: their mean (the
 * parameter-free mixture of the papers).  One member: its own head, bit for
 * bit.  avg [N, V], lse [N] are scratch for several members. */
static head_acts combine_logits(model_ws *const *ws, int n, int N, int V, float *avg, float *lse)
{
    head_acts h = ws[0]->head;
    if (n == 1) return h;
    const size_t nz = (size_t)N * (size_t)V;
    memcpy(avg, ws[0]->head.logits, sizeof(float) * nz);
    for (int j = 1; j < n; j++) {
        const float *z = ws[j]->head.logits;
        for (size_t q = 0; q < nz; q++) avg[q] += z[q];
    }
    const float inv = 1.0f / (float)n;
    for (size_t q = 0; q < nz; q++) avg[q] *= inv;
    h.logits = avg;
    h.lse = lse;
    return h;
}

st_status eval_depths(eval_member *mem, int n, const eval_chunks *d, int lo, int hi, int batch, MPI_Comm comm,
                      eval_row *out)
{
    st_status st = ST_OK;
    const double t0 = timer_now();
    const int T = d->T, B = batch < 1 ? 1 : batch, nd = hi - lo + 1;
    int rank = 0, size = 1;
    model_ws *own = NULL;    /* [n] workspaces made here (members without one) */
    model_ws **ws = NULL;    /* [n] the workspace each member uses */
    float **xin = NULL;      /* [n] -> [B, T, D] prefix outputs (members with a prefix source) */
    int *start = NULL;       /* [n] first block computed here */
    int *cur = NULL;         /* [n] blocks the member's workspace output has been through */
    int32_t *tok = NULL;     /* [B, T + 1] */
    double *sums = NULL;     /* [nd, 4]: nats, correct, tokens, chars */
    float *avg = NULL;       /* [B * T, V] combined logits (several members) */
    float *lse = NULL;       /* [B * T] */
    if (n < 1 || lo < 1 || hi < lo) FAIL(ST_EUSAGE, "eval: %d members, depths %d..%d", n, lo, hi);
    const int V = mem[0].m->dims.V, D = mem[0].m->dims.D;
    for (int j = 0; j < n; j++) {
        const model *m = mem[j].m;
        if (hi > m->n_blocks) FAIL(ST_EUSAGE, "eval: depth %d is beyond member %d's %d blocks", hi, j + 1, m->n_blocks);
        if (m->dims.V != V || m->dims.D != D)
            FAIL(ST_EUSAGE, "eval: member %d has V=%d D=%d, member 1 V=%d D=%d", j + 1, m->dims.V, m->dims.D, V, D);
    }
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long first, count;
    comm_share(d->n, rank, size, &first, &count);

    own = calloc((size_t)n, sizeof *own);
    ws = calloc((size_t)n, sizeof *ws);
    xin = calloc((size_t)n, sizeof *xin);
    start = calloc((size_t)n, sizeof *start);
    cur = calloc((size_t)n, sizeof *cur);
    tok = malloc(sizeof *tok * (size_t)B * (size_t)(T + 1));
    sums = calloc((size_t)nd * 4, sizeof *sums);
    CHECK_ALLOC(own);
    CHECK_ALLOC(ws);
    CHECK_ALLOC(xin);
    CHECK_ALLOC(start);
    CHECK_ALLOC(cur);
    CHECK_ALLOC(tok);
    CHECK_ALLOC(sums);
    for (int j = 0; j < n; j++) {
        if (mem[j].ws) {
            ws[j] = mem[j].ws;
        } else {
            CHECK(model_ws_init(&own[j], &mem[j].m->dims, B, T, 1, 0));
            ws[j] = &own[j];
        }
        start[j] = mem[j].prefix ? (mem[j].prefix_depth < lo - 1 ? mem[j].prefix_depth : lo - 1) : 0;
        if (start[j] > 0) {
            xin[j] = malloc(sizeof(float) * (size_t)B * (size_t)T * (size_t)D);
            CHECK_ALLOC(xin[j]);
        }
    }
    if (n > 1) {
        avg = malloc(sizeof(float) * (size_t)B * (size_t)T * (size_t)V);
        lse = malloc(sizeof(float) * (size_t)B * (size_t)T);
        CHECK_ALLOC(avg);
        CHECK_ALLOC(lse);
    }

    for (long i0 = 0; i0 < count; i0 += B) {
        const int nb = (int)(count - i0 < B ? count - i0 : B), N = nb * T;
        double chars = 0;
        for (int i = 0; i < nb; i++) {
            long row = d->ids[first + i0 + i];
            int32_t *r = tok + (size_t)i * (T + 1);
            memcpy(r, d->chunks + (size_t)row * (size_t)(T + 1), sizeof *tok * (size_t)(T + 1));
            for (int t = 0; t <= T; t++)
                if (r[t] < 0 || r[t] >= V)
                    FAIL(ST_EDATA, "chunk %ld holds token id %d outside the vocabulary [0, %d)", row, (int)r[t], V);
            chars += d->chars[row];
            for (int j = 0; j < n; j++)
                if (start[j] > 0)
                    CHECK(mem[j].prefix(mem[j].prefix_ctx, row, start[j], xin[j] + (size_t)i * (size_t)T * (size_t)D));
        }
        const model_batch b = {.tokens = tok, .targets = NULL, .ld = T + 1};
        for (int j = 0; j < n; j++) cur[j] = start[j];
        for (int k = lo; k <= hi; k++) {
            /* Each member: its blocks up to k (from where it stands), then its head. */
            for (int j = 0; j < n; j++) {
                model *m = mem[j].m;
                const float *in = cur[j] == 0 ? NULL : cur[j] == start[j] ? xin[j] : model_ws_output(ws[j]);
                CHECK(model_forward_blocks(m, ws[j], &b, in, cur[j], k, nb, T, false));
                cur[j] = k;
                CHECK(model_forward_head(m, ws[j], model_ws_output(ws[j]), NULL, NULL, NULL));
            }
            head_acts h = combine_logits(ws, n, N, V, avg, lse);
            long correct = 0;
            double nats = head_loss(&h, tok + 1, N, T, T + 1, V, &correct);
            double *s = sums + (size_t)(k - lo) * 4;
            s[0] += nats;
            s[1] += (double)correct;
            s[2] += (double)N;
            s[3] += chars;
        }
    }
    CHECK(comm_allreduce_sum_f64(sums, nd * 4, comm));
    for (int k = lo; k <= hi; k++) {
        const double *s = sums + (size_t)(k - lo) * 4;
        out[k - lo] = (eval_row){
            .depth = k,
            .loss = s[2] > 0 ? s[0] / s[2] : NAN,
            .bpc = s[3] > 0 ? s[0] / log(2.0) / s[3] : NAN,
            .top1 = s[2] > 0 ? s[1] / s[2] : NAN,
            .tokens = s[2],
            .seconds = timer_now() - t0,
        };
    }
out:
    for (int j = 0; own && j < n; j++) model_ws_free(&own[j]);
    for (int j = 0; xin && j < n; j++) free(xin[j]);
    free(own);
    free(ws);
    free(xin);
    free(start);
    free(cur);
    free(tok);
    free(sums);
    free(avg);
    free(lse);
    return st;
}
