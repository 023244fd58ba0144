/* substrate_file.c -- the substrate file: save (published atomically),
 * load (refusing non-finite values), describe.  Schema:
 * docs/FORMAT-substrate.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/glyph.h"
#include "strata/h5.h"
#include "strata/publish.h"
#include "strata/substrate.h"
#include "substrate_internal.h"

#define G "substrate"

/* "<group>/<name>" in buf (the io helpers take paths from the root). */
static const char *at(char *buf, size_t cap, const char *group, const char *name)
{
    snprintf(buf, cap, "%s/%s", group, name);
    return buf;
}

st_status substrate_save_glyph(h5_file *f, const char *group, const substrate *s)
{
    st_status st = ST_OK;
    char *names = NULL, p[256];
    CHECK(h5_attr_set_i64(f, group, "cell", s->cell));
    CHECK(h5_attr_set_i64(f, group, "font_pixel_size", s->cell));
    CHECK(h5_attr_set_str(f, group, "flatten", glyph_flatten_name(s->flatten)));
    CHECK(h5_attr_set_i64(f, group, "marked_cells", s->n_marked));
    CHECK(h5_attr_set_i64(f, group, "unused_ids", s->n_unused));
    CHECK(h5_attr_set_f64(f, group, "explained_variance", s->explained_variance));
    CHECK(h5_attr_set_str(f, group, "normalisation", "centre (PCA mean), project, L2-normalise rows"));
    size_t dims[1] = {(size_t)s->dim};
    CHECK(h5_write(f, at(p, sizeof p, group, "eigenvalues"), H5_DT_F64, 1, dims, s->eigenvalues));
    /* Font list and digests as newline-separated text (one line per font). */
    size_t tot = 1;
    for (int i = 0; i < s->nfonts; i++) tot += strlen(s->fonts[i]) + 66;
    names = malloc(tot);
    CHECK_ALLOC(names);
    char *q = names;
    *q = '\0';
    for (int i = 0; i < s->nfonts; i++) q += sprintf(q, "%s%s", i ? "\n" : "", s->fonts[i]);
    CHECK(h5_write_string(f, at(p, sizeof p, group, "fonts"), names));
    q = names;
    *q = '\0';
    for (int i = 0; i < s->nfonts; i++) q += sprintf(q, "%s%s", i ? "\n" : "", s->font_sha256[i]);
    CHECK(h5_write_string(f, at(p, sizeof p, group, "font_sha256"), names));
out:
    free(names);
    return st;
}

st_status substrate_save_plain(h5_file *f, const char *group, const substrate *s)
{
    return h5_attr_set_i64(f, group, "trainable", substrate_kind_info_of(s->kind)->trainable);
}

st_status substrate_save(const substrate *s, const char *path, MPI_Comm comm)
{
    st_status st = ST_OK;
    h5_file f;
    publish_file pub = {NULL, NULL};
    h5_file_zero(&f);
    const substrate_kind_info *info = substrate_kind_info_of(s->kind);
    if (!info) FAIL(ST_ERR, "cannot save a substrate of unknown kind %d", (int)s->kind);
    CHECK(publish_begin(&pub, path, comm));
    CHECK(h5_create(&f, pub.tmp, comm, H5_KIND_SUBSTRATE));
    CHECK(h5_write_rows(&f, G "/embeddings", H5_DT_F32, (size_t)s->vocab, (size_t)s->dim, s->row0, s->n_local,
                        s->emb));
    CHECK(h5_attr_set_str(&f, G, "substrate_kind", info->name));
    CHECK(h5_attr_set_i64(&f, G, "vocab_size", s->vocab));
    CHECK(h5_attr_set_i64(&f, G, "dim", s->dim));
    CHECK(h5_attr_set_i64(&f, G, "seed", (int64_t)s->seed));
    CHECK(h5_attr_set_i64(&f, G, "duplicate_rows", s->n_duplicates));
    CHECK(h5_attr_set_i64(&f, G, "format_version", SUBSTRATE_FORMAT_VERSION));
    CHECK(info->save(&f, G, s));
    CHECK(h5_close(&f));
    CHECK(publish_commit(&pub, comm));
out:
    if (st != ST_OK) {
        h5_close(&f);
        publish_abort(&pub, comm);
    }
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
    /* A NaN or Inf row would poison every forward pass that touches its
     * token, silently: refuse the file instead. */
    const float *e = data;
    for (size_t i = 0; i < dims[0] * dims[1]; i++)
        if (!isfinite(e[i]))
            FAIL(ST_EDATA, "%s: /" G "/embeddings holds a non-finite value (%g) in row %zu, column %zu: the "
                 "substrate file is damaged; rebuild it with 'strata substrate'",
                 path, (double)e[i], i / dims[1], i % dims[1]);
    *emb = data;
    data = NULL;
    *vocab = (long)dims[0];
    *dim = (int)dims[1];
out:
    free(data);
    h5_close(&f);
    return st;
}

st_status substrate_describe_glyph(h5_file *f, const char *group, FILE *out)
{
    st_status st = ST_OK;
    char *flat = NULL, *fonts = NULL, *sums = NULL, p[256];
    int64_t d = 0, cell = 0, marked = 0;
    double ev = 0;
    CHECK(h5_attr_get_i64(f, group, "dim", &d));
    CHECK(h5_attr_get_i64(f, group, "cell", &cell));
    CHECK(h5_attr_get_str(f, group, "flatten", &flat));
    CHECK(h5_attr_get_i64(f, group, "marked_cells", &marked));
    CHECK(h5_attr_get_f64(f, group, "explained_variance", &ev));
    CHECK(h5_read_string(f, at(p, sizeof p, group, "fonts"), &fonts));
    CHECK(h5_read_string(f, at(p, sizeof p, group, "font_sha256"), &sums));
    if (!out) goto out;
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
out:
    free(flat);
    free(fonts);
    free(sums);
    return st;
}

st_status substrate_describe(h5_file *f, const char *group, FILE *out)
{
    st_status st = ST_OK;
    char *kind = NULL, p[256];
    int64_t v = 0, d = 0, seed = 0, dup = 0;
    bool has = false;
    CHECK(h5_exists(f, at(p, sizeof p, group, "embeddings"), &has));
    if (!has) FAIL(ST_EDATA, "%s: no /%s/embeddings in this file", f->path, group);
    CHECK(h5_attr_get_str(f, group, "substrate_kind", &kind));
    CHECK(h5_attr_get_i64(f, group, "vocab_size", &v));
    CHECK(h5_attr_get_i64(f, group, "dim", &d));
    CHECK(h5_attr_get_i64(f, group, "seed", &seed));
    CHECK(h5_attr_get_i64(f, group, "duplicate_rows", &dup));
    const substrate_kind_info *info = substrate_kind_find(kind);
    if (out) {
        fprintf(out, "substrate: kind %s, %lld ids x %lld dims (float32), seed %lld%s\n", kind, (long long)v,
                (long long)d, (long long)seed, info ? "" : "  (WARNING: a kind this strata does not know)");
        fprintf(out, "  duplicate rows: %lld%s\n", (long long)dup,
                dup ? "  (WARNING: distinct ids share a vector)" : "");
    }
    if (info && info->describe) CHECK(info->describe(f, group, out));
out:
    free(kind);
    return st;
}
