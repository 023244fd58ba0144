/* pca.c -- distributed PCA: partial covariances, all-reduce, ScaLAPACK
 * pdsyevd on a block-cyclic copy, leading eigenvectors back on every rank. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "strata/log.h"
#include "strata/mpilife.h"
#include "strata/pca.h"

/* ScaLAPACK/BLACS have no C header.  Fortran CHARACTER arguments add hidden
 * size_t lengths at the end of the argument list. */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *ctx, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctx, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctx);
void Cblacs_exit(int cont);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
               const int *icsrc, const int *ctx, const int *lld, int *info);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz,
              double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
              size_t uplo_len);

/* BLACS keeps global buffers from the first grid on; they are released once,
 * at the end of the process (st_mpi_finalize), because Cblacs_exit in the
 * middle of a run would pull them from under a later fit. */
static int blacs_used;

static void blacs_teardown(void)
{
    if (!blacs_used) return;
    Cblacs_exit(1); /* 1: leave MPI initialised for MPI_Finalize */
    blacs_used = 0;
}

/* Rows per chunk when converting to double (bounds the scratch memory). */
enum { PCA_CHUNK = 1024 };

/* Rows [r0, r0+nr) of the input as centred doubles, row-major [nr, p]. */
static void load_rows(const pca_input *in, const double *mean, size_t r0, size_t nr, double *out)
{
    int p = in->p;
    for (size_t i = 0; i < nr; i++) {
        double *o = out + i * (size_t)p;
        size_t row = (r0 + i) * (size_t)p;
        for (int k = 0; k < p; k++) {
            size_t e = row + (size_t)(in->perm ? in->perm[k] : k);
            double v;
            switch (in->dtype) {
            case PCA_U8: v = ((const uint8_t *)in->data)[e]; break;
            case PCA_F32: v = ((const float *)in->data)[e]; break;
            default: v = ((const double *)in->data)[e]; break;
            }
            o[k] = in->scale * v - (mean ? mean[k] : 0.0);
        }
    }
}

void pca_model_free(pca_model *m)
{
    if (!m) return;
    free(m->mean);
    free(m->components);
    free(m->eigenvalues);
    memset(m, 0, sizeof *m);
}

/* Grid nprow x npcol = nranks with nprow the largest divisor <= sqrt(nranks). */
static void grid_shape(int nranks, int *nprow, int *npcol)
{
    int r = 1;
    for (int i = 1; i * i <= nranks; i++)
        if (nranks % i == 0) r = i;
    *nprow = r;
    *npcol = nranks / r;
}

st_status pca_fit(const pca_input *in, int d, MPI_Comm comm, pca_model *out)
{
    st_status st = ST_OK;
    int p = in->p, nranks, handle = -1, ctx = -1;
    double *buf = NULL, *cov = NULL, *a = NULL, *z = NULL, *w = NULL, *work = NULL;
    int *iwork = NULL;
    pca_model m = {0};
    memset(out, 0, sizeof *out);
    if (p < 1) FAIL(ST_EUSAGE, "PCA input has %d features", p);
    if (d < 1 || d > p)
        FAIL(ST_EUSAGE, "substrate.dim = %d must be between 1 and the number of pixels per cell (%d)", d, p);
    CHECK_MPI(MPI_Comm_size(comm, &nranks));
    long nloc = (long)in->n_local, ntot = 0;
    CHECK_MPI(MPI_Allreduce(&nloc, &ntot, 1, MPI_LONG, MPI_SUM, comm));
    if (ntot < 2) FAIL(ST_EDATA, "PCA needs at least two rows, got %ld", ntot);
    m.p = p, m.d = d, m.n = ntot;
    m.mean = calloc((size_t)p, sizeof *m.mean);
    m.components = calloc((size_t)d * p, sizeof *m.components);
    m.eigenvalues = calloc((size_t)d, sizeof *m.eigenvalues);
    buf = malloc((size_t)PCA_CHUNK * p * sizeof *buf);
    cov = calloc((size_t)p * p, sizeof *cov);
    CHECK_ALLOC(m.mean);
    CHECK_ALLOC(m.components);
    CHECK_ALLOC(m.eigenvalues);
    CHECK_ALLOC(buf);
    CHECK_ALLOC(cov);

    /* Global mean. */
    for (size_t r0 = 0; r0 < in->n_local; r0 += PCA_CHUNK) {
        size_t nr = in->n_local - r0 < PCA_CHUNK ? in->n_local - r0 : PCA_CHUNK;
        load_rows(in, NULL, r0, nr, buf);
        for (size_t i = 0; i < nr; i++)
            for (int k = 0; k < p; k++) m.mean[k] += buf[i * (size_t)p + k];
    }
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, m.mean, p, MPI_DOUBLE, MPI_SUM, comm));
    for (int k = 0; k < p; k++) m.mean[k] /= (double)ntot;

    /* Partial scatter matrices of centred rows; the chunk [nr, p] row-major is
     * the column-major p x nr matrix A, so A A^T is this chunk's X^T X. */
    for (size_t r0 = 0; r0 < in->n_local; r0 += PCA_CHUNK) {
        size_t nr = in->n_local - r0 < PCA_CHUNK ? in->n_local - r0 : PCA_CHUNK;
        load_rows(in, m.mean, r0, nr, buf);
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, p, (int)nr, 1.0, buf, p, 1.0, cov, p);
    }
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, cov, p * p, MPI_DOUBLE, MPI_SUM, comm));
    for (int j = 0; j < p; j++)
        for (int i = j; i < p; i++) {
            double v = cov[(size_t)j * p + i] / (double)ntot; /* lower triangle, column-major */
            cov[(size_t)j * p + i] = v;
            cov[(size_t)i * p + j] = v;
        }
    for (int k = 0; k < p; k++) m.total_variance += cov[(size_t)k * p + k];

    /* Block-cyclic copy over a BLACS grid of all ranks of comm. */
    int nprow, npcol, myrow, mycol;
    grid_shape(nranks, &nprow, &npcol);
    if (!blacs_used) CHECK(st_mpi_at_finalize(blacs_teardown));
    handle = Csys2blacs_handle(comm);
    blacs_used = 1;
    int grid = handle; /* in: system handle; out: grid context (-1 when not in the grid) */
    Cblacs_gridinit(&grid, "R", nprow, npcol);
    ctx = grid;
    Cblacs_gridinfo(ctx, &nprow, &npcol, &myrow, &mycol);
    if (myrow < 0 || mycol < 0) FAIL(ST_EBLAS, "rank is not part of the BLACS grid %dx%d", nprow, npcol);
    int nb = p < 32 ? p : 32, izero = 0, ione = 1, info = 0;
    int mloc = numroc_(&p, &nb, &myrow, &izero, &nprow);
    int nlocc = numroc_(&p, &nb, &mycol, &izero, &npcol);
    int lld = mloc > 1 ? mloc : 1;
    int desc[9];
    descinit_(desc, &p, &p, &nb, &nb, &izero, &izero, &ctx, &lld, &info);
    if (info) FAIL(ST_EBLAS, "descinit failed (info %d)", info);
    size_t nla = (size_t)lld * (nlocc > 1 ? nlocc : 1);
    a = malloc(nla * sizeof *a);
    z = malloc(nla * sizeof *z);
    w = malloc((size_t)p * sizeof *w);
    CHECK_ALLOC(a);
    CHECK_ALLOC(z);
    CHECK_ALLOC(w);
    for (int jl = 0; jl < nlocc; jl++) {
        int jg = ((jl / nb) * npcol + mycol) * nb + jl % nb;
        for (int il = 0; il < mloc; il++) {
            int ig = ((il / nb) * nprow + myrow) * nb + il % nb;
            a[(size_t)jl * lld + il] = cov[(size_t)jg * p + ig];
        }
    }
    free(cov);
    cov = NULL;

    double wq = 0;
    int lwork = -1, liwork = -1, iwq = 0;
    pdsyevd_("V", "L", &p, a, &ione, &ione, desc, w, z, &ione, &ione, desc, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    if (info) FAIL(ST_EBLAS, "pdsyevd workspace query failed (info %d)", info);
    /* The query under-reports for small matrices (PDORMTR then rejects
     * LWORK): take the documented minimum of pdsyevd plus what pdormtr needs,
     * whichever is larger. */
    long trilwmin = 3L * p + (nb * (mloc + 1) > 3 * nb ? nb * (mloc + 1) : 3 * nb);
    long need = 1 + 6L * p + 2L * mloc * nlocc;
    if (trilwmin > need) need = trilwmin;
    need += 2L * p + (long)nb * nb + (long)(mloc + nlocc) * nb;
    lwork = (int)(wq > (double)need ? wq : (double)need) + 1;
    /* Some ScaLAPACK builds under-report LIWORK; use the documented bound. */
    liwork = iwq > 7 * p + 8 * npcol + 2 ? iwq : 7 * p + 8 * npcol + 2;
    work = malloc((size_t)lwork * sizeof *work);
    iwork = malloc((size_t)liwork * sizeof *iwork);
    CHECK_ALLOC(work);
    CHECK_ALLOC(iwork);
    pdsyevd_("V", "L", &p, a, &ione, &ione, desc, w, z, &ione, &ione, desc, work, &lwork, iwork, &liwork, &info, 1, 1);
    if (info) FAIL(ST_EBLAS, "pdsyevd failed (info %d) on a %dx%d covariance", info, p, p);

    /* W is documented as global output, but this ScaLAPACK leaves it wrong on
     * ranks other than grid process (0,0) (= rank 0 of comm): take rank 0's. */
    CHECK_MPI(MPI_Bcast(w, p, MPI_DOUBLE, 0, comm));
    /* Eigenvalues ascend: component k is global column p-1-k.  Every element
     * is owned by exactly one rank, so a sum gathers it exactly. */
    for (int jl = 0; jl < nlocc; jl++) {
        int jg = ((jl / nb) * npcol + mycol) * nb + jl % nb;
        int k = p - 1 - jg;
        if (k >= d) continue;
        for (int il = 0; il < mloc; il++) {
            int ig = ((il / nb) * nprow + myrow) * nb + il % nb;
            m.components[(size_t)k * p + ig] = z[(size_t)jl * lld + il];
        }
    }
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, m.components, d * p, MPI_DOUBLE, MPI_SUM, comm));
    double top = 0;
    for (int k = 0; k < d; k++) {
        m.eigenvalues[k] = w[p - 1 - k];
        top += m.eigenvalues[k];
        double *c = m.components + (size_t)k * p;
        int arg = 0;
        for (int i = 1; i < p; i++)
            if (fabs(c[i]) > fabs(c[arg])) arg = i;
        if (c[arg] < 0)
            for (int i = 0; i < p; i++) c[i] = -c[i];
    }
    m.explained = m.total_variance > 0 ? top / m.total_variance : 0;
    *out = m;
    memset(&m, 0, sizeof m);
out:
    if (ctx >= 0) Cblacs_gridexit(ctx);
    if (handle >= 0) Cfree_blacs_system_handle(handle);
    pca_model_free(&m);
    free(buf);
    free(cov);
    free(a);
    free(z);
    free(w);
    free(work);
    free(iwork);
    return st;
}

st_status pca_project(const pca_model *m, const pca_input *in, bool normalise, float *out)
{
    st_status st = ST_OK;
    int p = m->p, d = m->d;
    double *buf = NULL, *y = NULL;
    if (in->p != p) FAIL(ST_EUSAGE, "PCA model has %d features, input has %d", p, in->p);
    buf = malloc((size_t)PCA_CHUNK * p * sizeof *buf);
    y = malloc((size_t)PCA_CHUNK * d * sizeof *y);
    CHECK_ALLOC(buf);
    CHECK_ALLOC(y);
    for (size_t r0 = 0; r0 < in->n_local; r0 += PCA_CHUNK) {
        size_t nr = in->n_local - r0 < PCA_CHUNK ? in->n_local - r0 : PCA_CHUNK;
        load_rows(in, m->mean, r0, nr, buf);
        /* y [nr, d] = buf [nr, p] . components^T [p, d] */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, d, p, 1.0, buf, p, m->components, p, 0.0, y,
                    d);
        for (size_t i = 0; i < nr; i++) {
            double *yi = y + i * (size_t)d, s = 1.0;
            if (normalise) {
                double nn = 0;
                for (int k = 0; k < d; k++) nn += yi[k] * yi[k];
                s = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
            }
            for (int k = 0; k < d; k++) out[(r0 + i) * (size_t)d + k] = (float)(yi[k] * s);
        }
    }
out:
    free(buf);
    free(y);
    return st;
}
