/* test_pca.c -- distributed PCA (ScaLAPACK pdsyevd) against serial LAPACK
 * dsyevd on the same data; run on 1, 2 and 3 ranks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "strata/pca.h"
#include "strata/rng.h"

/* LAPACK has no C header we can rely on (LAPACKE is optional). */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

enum { N = 240, P = 12 };

/* Global data X[N][P]: independent normals with separated scales, mixed by a
 * fixed matrix, plus an offset (so centring matters).  Row i depends only on
 * i, so every rank count sees the same matrix. */
static void make_data(double *x /* [N][P] */)
{
    double mix[P][P];
    rng_t r;
    rng_init(&r, 5, 0, RNG_TEST);
    for (int a = 0; a < P; a++)
        for (int b = 0; b < P; b++) mix[a][b] = rng_normal(&r);
    for (int i = 0; i < N; i++) {
        double g[P];
        rng_init(&r, 6, 0, RNG_TEST);
        r.counter = (uint64_t)i * P;
        for (int k = 0; k < P; k++) g[k] = rng_normal(&r) * pow(0.6, k) * 10.0;
        for (int b = 0; b < P; b++) {
            double v = 3.0 + b;
            for (int a = 0; a < P; a++) v += g[a] * mix[a][b];
            x[i * P + b] = v;
        }
    }
}

/* Serial reference: population covariance and all eigenpairs (ascending). */
static void reference(const double *x, double *mean, double *vecs /* [P][P] col-major */, double *vals)
{
    memset(mean, 0, P * sizeof *mean);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < P; k++) mean[k] += x[i * P + k] / N;
    for (int a = 0; a < P; a++)
        for (int b = 0; b < P; b++) {
            double s = 0;
            for (int i = 0; i < N; i++) s += (x[i * P + a] - mean[a]) * (x[i * P + b] - mean[b]);
            vecs[b * P + a] = s / N;
        }
    int n = P, lwork = -1, liwork = -1, info = 0, iwq = 0;
    double wq = 0;
    dsyevd_("V", "L", &n, vecs, &n, vals, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    assert_int_equal(info, 0);
    lwork = (int)wq;
    liwork = iwq;
    double *work = malloc(lwork * sizeof *work);
    int *iwork = malloc(liwork * sizeof *iwork);
    dsyevd_("V", "L", &n, vecs, &n, vals, work, &lwork, iwork, &liwork, &info, 1, 1);
    assert_int_equal(info, 0);
    free(work);
    free(iwork);
}

/* This rank's rows: uneven split (rank r weighted r + 1), or none on rank 0
 * when `empty_root` and there are several ranks. */
static void my_rows(int empty_root, size_t *r0, size_t *n)
{
    int rank = st_test_rank(), size = st_test_size();
    int first = empty_root && size > 1 ? 1 : 0;
    long wsum = 0, wbefore = 0;
    for (int q = first; q < size; q++) wsum += q + 1;
    for (int q = first; q < rank; q++) wbefore += q + 1;
    if (rank < first) {
        *r0 = 0, *n = 0;
        return;
    }
    size_t a = (size_t)(N * wbefore / wsum), b = (size_t)(N * (wbefore + rank + 1) / wsum);
    *r0 = a, *n = b - a;
}

static void check_against_serial(int empty_root)
{
    double *x = malloc(N * P * sizeof *x), mean[P], vecs[P * P], vals[P];
    make_data(x);
    reference(x, mean, vecs, vals);
    size_t r0, n;
    my_rows(empty_root, &r0, &n);
    enum { D = 6 };
    pca_input in = {.data = x + r0 * P, .dtype = PCA_F64, .scale = 1.0, .n_local = n, .p = P, .perm = NULL};
    pca_model m;
    ST_ASSERT_OK(pca_fit(&in, D, MPI_COMM_WORLD, &m));
    assert_int_equal(m.d, D);
    assert_int_equal(m.n, N);
    double trace = 0;
    for (int k = 0; k < P; k++) {
        assert_true(fabs(m.mean[k] - mean[k]) < 1e-10 * (1 + fabs(mean[k])));
        trace += vals[k];
    }
    assert_true(fabs(m.total_variance - trace) < 1e-9 * trace);
    double top = 0;
    for (int k = 0; k < D; k++) {
        double ref = vals[P - 1 - k];
        top += ref;
        if (fabs(m.eigenvalues[k] - ref) >= 1e-9 * vals[P - 1]) print_message("# rank %d k %d got %.15g want %.15g\n", st_test_rank(), k, m.eigenvalues[k], ref);
        assert_true(fabs(m.eigenvalues[k] - ref) < 1e-9 * vals[P - 1]);
        if (k > 0) assert_true(m.eigenvalues[k] <= m.eigenvalues[k - 1]);
        /* Same direction up to sign where the eigenvalue is separated. */
        double gap = fmin(fabs(ref - vals[P - 2 - k]), k ? fabs(ref - vals[P - k]) : INFINITY);
        const double *c = m.components + k * P, *v = vecs + (P - 1 - k) * P;
        double dot = 0, nn = 0;
        for (int i = 0; i < P; i++) dot += c[i] * v[i], nn += c[i] * c[i];
        assert_true(fabs(nn - 1) < 1e-10);
        if (gap > 1e-3 * vals[P - 1]) assert_true(fabs(dot) > 0.9999);
        /* Sign rule: the largest-magnitude entry is positive. */
        int arg = 0;
        for (int i = 1; i < P; i++)
            if (fabs(c[i]) > fabs(c[arg])) arg = i;
        assert_true(c[arg] > 0);
    }
    assert_true(fabs(m.explained - top / trace) < 1e-12);
    /* Projection: unit rows equal to the normalised (x - mean) . components. */
    float *y = malloc((n + 1) * D * sizeof *y);
    ST_ASSERT_OK(pca_project(&m, &in, true, y));
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double z[D], zz = 0, yy = 0;
        for (int k = 0; k < D; k++) {
            z[k] = 0;
            for (int j = 0; j < P; j++) z[k] += (x[(r0 + i) * P + j] - m.mean[j]) * m.components[k * P + j];
            zz += z[k] * z[k];
        }
        for (int k = 0; k < D; k++) {
            bad += fabs(y[i * D + k] - z[k] / sqrt(zz)) > 1e-6;
            yy += (double)y[i * D + k] * y[i * D + k];
        }
        bad += fabs(yy - 1) > 1e-5;
    }
    ST_ASSERT_ALL(bad == 0);
    pca_model_free(&m);
    free(y);
    free(x);
}

static void matches_serial_lapack(void **state)
{
    (void)state;
    check_against_serial(0);
}

static void matches_serial_lapack_with_an_empty_rank(void **state)
{
    (void)state;
    check_against_serial(1);
}

/* uint8 input with a permutation: same eigenvalues as the permuted doubles,
 * components permuted accordingly. */
static void u8_input_with_permutation(void **state)
{
    (void)state;
    enum { NU = 90, PU = 9 };
    uint8_t *u = malloc(NU * PU);
    double *xp = malloc(NU * PU * sizeof *xp);
    int perm[PU] = {4, 0, 8, 2, 6, 1, 7, 3, 5};
    rng_t r;
    rng_init(&r, 11, 0, RNG_TEST);
    for (int i = 0; i < NU * PU; i++) u[i] = (uint8_t)(rng_below(&r, 64) * (1 + i % PU));
    for (int i = 0; i < NU; i++)
        for (int k = 0; k < PU; k++) xp[i * PU + k] = u[i * PU + perm[k]] / 255.0;
    size_t r0, n;
    int rank = st_test_rank(), size = st_test_size();
    r0 = (size_t)NU * rank / size;
    n = (size_t)NU * (rank + 1) / size - r0;
    pca_input a = {.data = u + r0 * PU, .dtype = PCA_U8, .scale = 1.0 / 255.0, .n_local = n, .p = PU, .perm = perm};
    pca_input b = {.data = xp + r0 * PU, .dtype = PCA_F64, .scale = 1.0, .n_local = n, .p = PU, .perm = NULL};
    pca_model ma, mb;
    ST_ASSERT_OK(pca_fit(&a, 4, MPI_COMM_WORLD, &ma));
    ST_ASSERT_OK(pca_fit(&b, 4, MPI_COMM_WORLD, &mb));
    for (int k = 0; k < 4; k++) {
        assert_true(fabs(ma.eigenvalues[k] - mb.eigenvalues[k]) < 1e-12);
        for (int j = 0; j < PU; j++) assert_true(fabs(ma.components[k * PU + j] - mb.components[k * PU + j]) < 1e-9);
    }
    pca_model_free(&ma);
    pca_model_free(&mb);
    free(u);
    free(xp);
}

static void bad_arguments(void **state)
{
    (void)state;
    double x[4 * 3] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 1, 1, 1};
    int rank = st_test_rank();
    pca_input in = {.data = x, .dtype = PCA_F64, .scale = 1, .n_local = rank == 0 ? 4 : 0, .p = 3};
    pca_model m;
    assert_int_equal(pca_fit(&in, 4, MPI_COMM_WORLD, &m), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "substrate.dim = 4"));
    assert_int_equal(pca_fit(&in, 0, MPI_COMM_WORLD, &m), ST_EUSAGE);
    in.n_local = 0;
    if (rank == 0) in.n_local = 1;
    assert_int_equal(pca_fit(&in, 2, MPI_COMM_WORLD, &m), ST_EDATA);
    /* Works again after errors (no grid left behind), and again: BLACS stays
     * up until st_mpi_finalize releases it. */
    in.n_local = rank == 0 ? 4 : 0;
    ST_ASSERT_OK(pca_fit(&in, 2, MPI_COMM_WORLD, &m));
    pca_model_free(&m);
    ST_ASSERT_OK(pca_fit(&in, 2, MPI_COMM_WORLD, &m));
    pca_model_free(&m);
}

static const struct CMUnitTest pca_tests[] = {
    cmocka_unit_test(matches_serial_lapack),
    cmocka_unit_test(matches_serial_lapack_with_an_empty_rank),
    cmocka_unit_test(u8_input_with_permutation),
    cmocka_unit_test(bad_arguments),
};

ST_TEST_MAIN(pca_tests)
