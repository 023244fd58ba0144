/* pca.h -- principal component analysis of a row-distributed matrix.
 *
 * Every rank holds some rows of X [n_total, p] (any split, possibly empty).
 * pca_fit() centres with the global mean, forms each rank's partial
 * (X - mean)^T (X - mean) in double precision, sums it over the
 * communicator, distributes it block-cyclically over a BLACS grid of all
 * ranks and solves the symmetric eigenproblem with ScaLAPACK pdsyevd.  The
 * d leading eigenvectors are returned on every rank with a deterministic
 * sign: the component of largest magnitude (lowest index on ties) is
 * positive.  Covariance = sum / n_total (population variance).
 *
 * Ownership: pca_model owns its arrays (pca_model_free); inputs are borrowed.
 * BLACS: each fit creates and exits its own grid (Cblacs_gridexit).  The
 * first fit registers the release of BLACS's global buffers with
 * st_mpi_at_finalize (mpilife.h); callers do nothing.
 */
#ifndef STRATA_PCA_H
#define STRATA_PCA_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>

#include "strata/error.h"

typedef enum pca_dtype { PCA_U8, PCA_F32, PCA_F64 } pca_dtype;

/* A rank's rows.  Feature k of a row is scale * row[perm[k]] (perm NULL:
 * identity), which lets a flatten order be applied without a copy. */
typedef struct pca_input {
    const void *data; /* [n_local, p] row-major, element type dtype */
    pca_dtype dtype;
    double scale;
    size_t n_local;
    int p;
    const int *perm; /* [p] or NULL */
} pca_input;

typedef struct pca_model {
    int p, d;
    long n;                /* rows over all ranks */
    double *mean;          /* [p] */
    double *components;    /* [d, p] row-major, orthonormal rows, descending variance */
    double *eigenvalues;   /* [d] variance along each component, descending */
    double total_variance; /* trace of the covariance */
    double explained;      /* sum(eigenvalues) / total_variance */
} pca_model;

/* Fit d components.  ST_EUSAGE when d > p or d < 1; ST_EDATA when fewer than
 * two rows exist; ST_EBLAS when ScaLAPACK reports a failure.  Collective. */
st_status pca_fit(const pca_input *in, int d, MPI_Comm comm, pca_model *out);
/* out[n_local, d] (float) = (X - mean) components^T, each row scaled to unit
 * L2 norm when `normalise` (rows of norm 0 stay 0).  Local, no communication. */
st_status pca_project(const pca_model *m, const pca_input *in, bool normalise, float *out);
void pca_model_free(pca_model *m);

#endif
