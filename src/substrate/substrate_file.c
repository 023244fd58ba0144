/* substrate_file.c -- the substrate file: save (temp + rename), load,
 * describe.  Schema: docs/FORMAT-substrate.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/glyph.h"
#include "strata/h5.h"
#include "strata/substrate.h"

#define G "substrate"

st_status substrate_save(const substrate *s, const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    h5_file f;
    int rank;
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    char *names = NULL;
    h5_file_zero(&f);
    CHECK_ALLOC(tmp);
    CHECK_MPI(MPI_Comm_rank(comm, &rank));
    snprintf(tmp, len, "%s.tmp", path);
    CHECK(h5_create(&f, tmp, comm, H5_KIND_SUBSTRATE));
    CHECK(h5_write_rows(&f, G "/embeddings", H5_DT_F32, (size_t)s->vocab, (size_t)s->dim, s->row0, s->n_local,
                        s->emb));
    CHECK(h5_attr_set_str(&f, G, "substrate_kind", substrate_kind_name(s->kind)));
    CHECK(h5_attr_set_i64(&f, G, "vocab_size", s->vocab));
    CHECK(h5_attr_set_i64(&f, G, "dim", s->dim));
    CHECK(h5_attr_set_i64(&f, G, "seed", (int64_t)s->seed));
    CHECK(h5_attr_set_i64(&f, G, "duplicate_rows", s->n_duplicates));
    CHECK(h5_attr_set_i64(&f, G, "format_version", SUBSTRATE_FORMAT_VERSION));
    if (s->kind == SUBSTRATE_GLYPH) {
        CHECK(h5_attr_set_i64(&f, G, "cell", s->cell));
        CHECK(h5_attr_set_i64(&f, G, "font_pixel_size", s->cell));
        CHECK(h5_attr_set_str(&f, G, "flatten", glyph_flatten_name(s->flatten)));
        CHECK(h5_attr_set_i64(&f, G, "marked_cells", s->n_marked));
        CHECK(h5_attr_set_i64(&f, G, "unused_ids", s->n_unused));
        CHECK(h5_attr_set_f64(&f, G, "explained_variance", s->explained_variance));
        CHECK(h5_attr_set_str(&f, G, "normalisation", "centre (PCA mean), project, L2-normalise rows"));
        size_t dims[1] = {(size_t)s->dim};
        CHECK(h5_write(&f, G "/eigenvalues", H5_DT_F64, 1, dims, s->eigenvalues));
        /* Font list and digests as newline-separated text (one line per font). */
        size_t tot = 1;
        for (int i = 0; i < s->nfonts; i++) tot += strlen(s->fonts[i]) + 66;
        names = malloc(tot);
        CHECK_ALLOC(names);
        char *p = names;
        *p = '\0';
        for (int i = 0; i < s->nfonts; i++) p += sprintf(p, "%s%s", i ? "\n" : "", s->fonts[i]);
        CHECK(h5_write_string(&f, G "/fonts", names));
        p = names;
        *p = '\0';
        for (int i = 0; i < s->nfonts; i++) p += sprintf(p, "%s%s", i ? "\n" : "", s->font_sha256[i]);
        CHECK(h5_write_string(&f, G "/font_sha256", names));
    } else {
        CHECK(h5_attr_set_i64(&f, G, "trainable", s->kind == SUBSTRATE_TRAINABLE));
    }
    CHECK(h5_close(&f));
    CHECK_MPI(MPI_Barrier(comm));
    int rc = 0;
    if (rank == 0) rc = rename(tmp, path);
    CHECK_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, comm));
    if (rc) FAIL(ST_EIO, "cannot rename '%s' to '%s'", tmp, path);
out:
    if (st != ST_OK) {
        h5_close(&f);
        if (tmp) {
            MPI_Barrier(comm);
            if (rank == 0) remove(tmp);
        }
    }
    free(names);
    free(tmp);
    return st;
}

st_status substrate_load(const char *path, float **emb, long *vocab, int *dim)
{
    st_status st = ST_OK;
    h5_file f;
    int rank = 0;
    size_t dims[H5_MAX_RANK];
    void *data = NULL;
    h5_file_zero(&f);
    CHECK(h5_open_kind(&f, path, MPI_COMM_SELF, NULL, ST_EDATA));
    CHECK(h5_read(&f, G "/embeddings", H5_DT_F32, &rank, dims, &data));
    if (rank != 2) FAIL(ST_EDATA, "%s: /" G "/embeddings has rank %d, expected 2", path, rank);
    *emb = data;
    data = NULL;
    *vocab = (long)dims[0];
    *dim = (int)dims[1];
out:
    free(data);
    h5_close(&f);
    return st;
}

st_status substrate_describe(hid_t file, FILE *out)
{
    st_status st = ST_OK;
    /* A view of the caller's handle: not closed here. */
    h5_file f = {.id = file, .comm = MPI_COMM_SELF, .rank = 0, .size = 1, .writable = false, .path = (char *)"(file)"};
    char *kind = NULL, *flat = NULL, *fonts = NULL, *sums = NULL;
    int64_t v = 0, d = 0, seed = 0, dup = 0, cell = 0, marked = 0;
    double ev = 0;
    bool has = false;
    CHECK(h5_exists(&f, G "/embeddings", &has));
    if (!has) FAIL(ST_EDATA, "no /" G "/embeddings in this file");
    CHECK(h5_attr_get_str(&f, G, "substrate_kind", &kind));
    CHECK(h5_attr_get_i64(&f, G, "vocab_size", &v));
    CHECK(h5_attr_get_i64(&f, G, "dim", &d));
    CHECK(h5_attr_get_i64(&f, G, "seed", &seed));
    CHECK(h5_attr_get_i64(&f, G, "duplicate_rows", &dup));
    fprintf(out, "substrate: kind %s, %lld ids x %lld dims (float32), seed %lld\n", kind, (long long)v,
            (long long)d, (long long)seed);
    fprintf(out, "  duplicate rows: %lld%s\n", (long long)dup, dup ? "  (WARNING: distinct ids share a vector)" : "");
    if (strcmp(kind, "glyph") == 0) {
        CHECK(h5_attr_get_i64(&f, G, "cell", &cell));
        CHECK(h5_attr_get_str(&f, G, "flatten", &flat));
        CHECK(h5_attr_get_i64(&f, G, "marked_cells", &marked));
        CHECK(h5_attr_get_f64(&f, G, "explained_variance", &ev));
        CHECK(h5_read_string(&f, G "/fonts", &fonts));
        CHECK(h5_read_string(&f, G "/font_sha256", &sums));
        fprintf(out, "  cells: %lldx%lld px, flatten %s, %lld cells with a disambiguation mark\n", (long long)cell,
                (long long)cell, flat, (long long)marked);
        fprintf(out, "  PCA: %lld -> %lld dims, explained variance %.4f\n", (long long)(cell * cell), (long long)d, ev);
        char *fp = fonts, *sp = sums;
        while (fp && *fp) {
            char *fe = strchr(fp, '\n'), *se = sp ? strchr(sp, '\n') : NULL;
            if (fe) *fe = '\0';
            if (se) *se = '\0';
            fprintf(out, "  font: %s  sha256 %.16s...\n", fp, sp ? sp : "?");
            fp = fe ? fe + 1 : NULL;
            sp = se ? se + 1 : NULL;
        }
    }
out:
    free(kind);
    free(flat);
    free(fonts);
    free(sums);
    return st;
}

