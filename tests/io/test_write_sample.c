/* test_write_sample.c -- not a test itself: writes a small checkpoint-like
 * strata file for the h5dump and h5py tests.  Usage: test_write_sample OUT.h5 */
#include <math.h>
#include <stdio.h>

#include "strata/h5.h"
#include "strata/mpilife.h"
#include "strata/metrics.h"

static st_status write_sample(const char *path)
{
    st_status st = ST_OK;
    h5_file f;
    met_table steps, depth;
    h5_file_zero(&f);
    CHECK(met_init_steps(&steps));
    CHECK(met_init_depth(&depth));
    CHECK(met_add_column(&depth, "probe_pos", H5_DT_F64, "1", "part-of-speech probe accuracy"));
    for (int s = 1; s <= 5; s++) {
        double *r;
        CHECK(met_append(&steps, &r));
        r[MS_STEP] = s * 10;
        r[MS_STAGE] = 1 + (s > 3);
        r[MS_TOKENS] = s * 10 * 2048;
        r[MS_LR] = 1e-3 * s;
        r[MS_TRAIN_LOSS] = 5.0 - 0.5 * s;
        r[MS_WALL_S] = 1.5 * s;
        /* grad_norm: not measured, except a measured NaN at step 20 and an
         * infinity at step 40 (the exports must keep them apart) */
        if (s == 2) r[MS_GRAD_NORM] = met_nan();
        if (s == 4) r[MS_GRAD_NORM] = INFINITY;
    }
    for (int d = 1; d <= 3; d++) {
        double *r;
        CHECK(met_append(&depth, &r));
        r[MD_DEPTH] = d;
        r[MD_STEPS] = 100 * d;
        r[MD_TOKENS] = 204800.0 * d;
        r[MD_VAL_LOSS] = 3.0 - 0.25 * d;
        r[MD_VAL_BPC] = r[MD_VAL_LOSS] / log(2.0);
        r[MD_VAL_TOP1] = 0.3 + 0.05 * d;
        r[met_col(&depth, "probe_pos")] = 0.5 + 0.1 * d;
    }
    CHECK(h5_create(&f, path, MPI_COMM_WORLD, H5_KIND_CHECKPOINT));
    CHECK(h5_write_string(&f, "/config", "[model]\nn_layers = 3\n"));
    float w[4 * 8];
    for (int i = 0; i < 32; i++) w[i] = (float)i / 4.0f;
    const size_t dims[2] = {4, 8};
    CHECK(h5_write(&f, "model/block_001/attn_qkv_w", H5_DT_F32, 2, dims, w));
    CHECK(met_write(&steps, &f));
    CHECK(met_write(&depth, &f));
    met_print(&depth, stdout);
out:
    if (f.id >= 0 && h5_close(&f) != ST_OK && st == ST_OK) st = ST_EHDF5;
    met_free(&steps);
    met_free(&depth);
    return st;
}

int main(int argc, char **argv)
{
    st_mpi_init(&argc, &argv);
    int rc = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: test_write_sample OUT.h5\n");
        rc = 2;
    } else if (write_sample(argv[1]) != ST_OK) {
        fprintf(stderr, "test_write_sample: %s\n", st_last_error());
        rc = 1;
    }
    st_mpi_finalize();
    return rc;
}
