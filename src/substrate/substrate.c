/* substrate.c -- building the frozen embedding table of every kind, and the
 * substrate file (docs/FORMAT-substrate.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata/log.h"
#include "strata/pca.h"
#include "strata/rng.h"
#include "strata/sha256.h"
#include "strata/substrate.h"
#include "strata/timer.h"
#include "strata/utf8.h"
#include "substrate_internal.h"

st_status substrate_opts_from_config(const st_config *cfg, substrate_opts *o)
{
    st_status st = ST_OK;
    memset(o, 0, sizeof *o);
    CHECK(substrate_parse_kind(cfg->substrate.kind, &o->kind));
    CHECK(glyph_parse_flatten(cfg->substrate.flatten, &o->flatten));
    o->dim = (int)cfg->substrate.dim;
    o->cell = (int)cfg->substrate.cell;
    o->fonts = cfg->substrate.fonts;
    o->seed = (uint64_t)cfg->run.seed;
out:
    return st;
}

void substrate_rows(long vocab, int rank, int nranks, size_t *row0, size_t *n_local)
{
    long a = (long)((__int128)vocab * rank / nranks), b = (long)((__int128)vocab * (rank + 1) / nranks);
    *row0 = (size_t)a;
    *n_local = (size_t)(b - a);
}

void substrate_free(substrate *s)
{
    if (!s) return;
    free(s->emb);
    glyph_free_paths(s->fonts, s->nfonts);
    free(s->font_sha256);
    free(s->eigenvalues);
    memset(s, 0, sizeof *s);
}

static void normalise_row(float *row, const double *v, int d)
{
    double nn = 0;
    for (int k = 0; k < d; k++) nn += v[k] * v[k];
    double s = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
    for (int k = 0; k < d; k++) row[k] = (float)(v[k] * s);
}

/* random / trainable: row `id` uses its own stretch of the Philox stream
 * (counter = id * D), so it is the same whatever rank computes it.  The
 * stream number keeps the two kinds' tables different. */
static st_status build_gaussian(substrate *s, uint32_t stream)
{
    st_status st = ST_OK;
    int d = s->dim;
    double *v = malloc((size_t)d * sizeof *v);
    CHECK_ALLOC(v);
    for (size_t i = 0; i < s->n_local; i++) {
        rng_t r;
        rng_init(&r, s->seed, stream, RNG_SUBSTRATE);
        r.counter = (uint64_t)(s->row0 + i) * (uint64_t)d;
        for (int k = 0; k < d; k++) v[k] = rng_normal(&r);
        normalise_row(s->emb + i * (size_t)d, v, d);
    }
out:
    free(v);
    return st;
}

static st_status build_binary(substrate *s, const substrate_opts *o, const glyph_item *items, MPI_Comm comm)
{
    (void)o;
    (void)items;
    (void)comm;
    st_status st = ST_OK;
    int d = s->dim, nbits = 1;
    while (nbits < 62 && (1L << nbits) < s->vocab) nbits++;
    if (d < nbits)
        FAIL(ST_EUSAGE, "substrate.dim = %d is too small for a binary substrate of %ld ids (needs >= %d bits)", d,
             s->vocab, nbits);
    float a = (float)(1.0 / sqrt((double)d));
    for (size_t i = 0; i < s->n_local; i++) {
        unsigned long id = (unsigned long)(s->row0 + i);
        for (int j = 0; j < d; j++) {
            int bit = (int)((long)j * nbits / d);
            s->emb[i * (size_t)d + (size_t)j] = (id >> bit & 1) ? a : -a;
        }
    }
out:
    return st;
}

static st_status build_glyph(substrate *s, const substrate_opts *o, const glyph_item *items, MPI_Comm comm)
{
    st_status st = ST_OK;
    char **paths = NULL;
    int npaths = 0;
    glyph_renderer *g = NULL;
    uint8_t *cells = NULL;
    int *perm = NULL;
    pca_model m = {0};
    int c = o->cell, npix = c * c;
    if (o->dim > npix)
        FAIL(ST_EUSAGE, "substrate.dim = %d is larger than the %d pixels of a %dx%d cell (lower substrate.dim or raise substrate.cell)",
             o->dim, npix, c, c);
    if (s->vocab - 1 < o->dim)
        log_warn("substrate: %ld ids give at most %ld components with variance; the other %ld of substrate.dim = %d "
                 "carry none",
                 s->vocab, s->vocab - 1, o->dim - (s->vocab - 1), o->dim);
    CHECK(glyph_default_fonts(o->fonts, &paths, &npaths));
    CHECK(glyph_renderer_init(&g, (const char *const *)paths, npaths, c));
    s->font_sha256 = calloc((size_t)npaths, sizeof *s->font_sha256);
    CHECK_ALLOC(s->font_sha256);
    for (int i = 0; i < npaths; i++) CHECK(sha256_file(paths[i], s->font_sha256[i]));
    s->fonts = paths;
    s->nfonts = npaths;
    paths = NULL;

    cells = malloc(s->n_local * (size_t)npix + 1); /* [n_local][cell*cell] */
    CHECK_ALLOC(cells);
    double t0 = timer_now();
    long unused = 0;
    for (size_t i = 0; i < s->n_local; i++) {
        const glyph_item *it = &items[s->row0 + i];
        CHECK(glyph_render(g, it, cells + i * (size_t)npix));
        unused += it->kind == GLYPH_UNUSED;
    }
    CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &unused, 1, MPI_LONG, MPI_SUM, comm));
    s->n_unused = unused;
    log_info("substrate: rendered %ld glyphs in %.1f s", s->vocab, timer_now() - t0);
    long undone = 0;
    CHECK(glyph_disambiguate(cells, s->row0, s->n_local, c, comm, &s->n_marked, &undone));
    if (undone)
        log_warn("substrate: %ld cells still equal an earlier id's cell after disambiguation", undone);
    log_info("substrate: %ld cells received a disambiguation mark", s->n_marked);

    perm = malloc((size_t)npix * sizeof *perm);
    CHECK_ALLOC(perm);
    CHECK(glyph_flatten_order(c, o->flatten, perm));
    pca_input in = {.data = cells, .dtype = PCA_U8, .scale = 1.0 / 255.0, .n_local = s->n_local, .p = npix, .perm = perm};
    t0 = timer_now();
    CHECK(pca_fit(&in, o->dim, comm, &m));
    CHECK(pca_project(&m, &in, true, s->emb));
    log_info("substrate: PCA %d -> %d in %.1f s, explained variance %.4f", npix, o->dim, timer_now() - t0,
             m.explained);
    s->explained_variance = m.explained;
    s->eigenvalues = m.eigenvalues;
    m.eigenvalues = NULL;
out:
    glyph_free_paths(paths, npaths);
    glyph_renderer_free(g);
    free(cells);
    free(perm);
    pca_model_free(&m);
    return st;
}

static st_status build_random(substrate *s, const substrate_opts *o, const glyph_item *items, MPI_Comm comm)
{
    (void)o;
    (void)items;
    (void)comm;
    return build_gaussian(s, 0);
}

static st_status build_trainable(substrate *s, const substrate_opts *o, const glyph_item *items, MPI_Comm comm)
{
    (void)o;
    (void)items;
    (void)comm;
    return build_gaussian(s, 1);
}

/* ---- the table of kinds ------------------------------------------------- */

const substrate_kind_info substrate_kinds[] = {
    {SUBSTRATE_GLYPH, "glyph", "glyph pictures (PCA of rendered cells)", false, build_glyph,
     substrate_save_glyph, substrate_describe_glyph},
    {SUBSTRATE_RANDOM, "random", "frozen Gaussian rows", false, build_random, substrate_save_plain, NULL},
    {SUBSTRATE_BINARY, "binary", "token-id bits", false, build_binary, substrate_save_plain, NULL},
    {SUBSTRATE_TRAINABLE, "trainable", "a table the model trains", true, build_trainable, substrate_save_plain,
     NULL},
};
const size_t substrate_n_kinds = sizeof substrate_kinds / sizeof substrate_kinds[0];
_Static_assert(sizeof substrate_kinds / sizeof substrate_kinds[0] == SUBSTRATE_N_KINDS,
               "substrate_kinds[] needs one row per substrate_kind");

const substrate_kind_info *substrate_kind_info_of(substrate_kind k)
{
    if ((unsigned)k >= substrate_n_kinds) return NULL;
    return &substrate_kinds[k];
}

const substrate_kind_info *substrate_kind_find(const char *name)
{
    for (size_t i = 0; name && i < substrate_n_kinds; i++)
        if (strcmp(name, substrate_kinds[i].name) == 0) return &substrate_kinds[i];
    return NULL;
}

const char *substrate_kind_name(substrate_kind k)
{
    const substrate_kind_info *info = substrate_kind_info_of(k);
    return info ? info->name : "?";
}

void substrate_kind_list(char *buf, size_t cap, const char *sep)
{
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < substrate_n_kinds && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? sep : "", substrate_kinds[i].name);
        if (w < 0) break;
        n += (size_t)w;
    }
}

st_status substrate_parse_kind(const char *s, substrate_kind *k)
{
    const substrate_kind_info *info = substrate_kind_find(s);
    if (info) {
        *k = info->kind;
        return ST_OK;
    }
    char names[256];
    substrate_kind_list(names, sizeof names, ", ");
    return ST_ERROR(ST_EUSAGE, "substrate.kind = '%s' is not one of %s", s, names);
}

st_status substrate_build(const substrate_opts *o, const glyph_item *items, long vocab, MPI_Comm comm,
                          substrate *out)
{
    st_status st = ST_OK;
    substrate s = {0};
    int rank, nranks;
    double t0 = timer_now();
    memset(out, 0, sizeof *out);
    CHECK_MPI(MPI_Comm_rank(comm, &rank));
    CHECK_MPI(MPI_Comm_size(comm, &nranks));
    if (vocab < 2) FAIL(ST_EDATA, "a substrate needs at least 2 token ids, got %ld", vocab);
    if (o->dim < 1) FAIL(ST_EUSAGE, "substrate.dim = %d must be positive", o->dim);
    for (long i = 0; i < vocab; i++)
        if (items[i].id != i) FAIL(ST_EDATA, "token list entry %ld has id %d (ids must be 0..V-1 in order)", i, items[i].id);
    s.kind = o->kind;
    s.vocab = vocab;
    s.dim = o->dim;
    s.cell = o->cell;
    s.flatten = o->flatten;
    s.seed = o->seed;
    substrate_rows(vocab, rank, nranks, &s.row0, &s.n_local);
    s.emb = calloc(s.n_local * (size_t)s.dim + 1, sizeof *s.emb);
    CHECK_ALLOC(s.emb);
    const substrate_kind_info *info = substrate_kind_info_of(o->kind);
    if (!info) FAIL(ST_EUSAGE, "unknown substrate kind %d", (int)o->kind);
    CHECK(info->build(&s, o, items, comm));
    CHECK(glyph_count_duplicate_rows(s.emb, (size_t)s.dim * sizeof(float), s.row0, s.n_local, comm, &s.n_duplicates));
    s.build_seconds = timer_now() - t0;
    *out = s;
    memset(&s, 0, sizeof s);
out:
    substrate_free(&s);
    return st;
}

st_status substrate_items_bmp(glyph_item **items, char **storage, long *vocab)
{
    st_status st = ST_OK;
    enum { V = 65536 };
    glyph_item *it = calloc(V, sizeof *it);
    char *buf = malloc((size_t)V * 4);
    CHECK_ALLOC(it);
    CHECK_ALLOC(buf);
    for (uint32_t cp = 0; cp < V; cp++) {
        char *p = buf + 4 * (size_t)cp;
        it[cp].id = (int)cp;
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            it[cp].kind = GLYPH_UNUSED;
            continue;
        }
        it[cp].kind = GLYPH_CHAR;
        it[cp].text = p;
        it[cp].len = utf8_encode(cp, (uint8_t *)p);
    }
    *items = it;
    *storage = buf;
    *vocab = V;
    it = NULL;
    buf = NULL;
out:
    free(it);
    free(buf);
    return st;
}
