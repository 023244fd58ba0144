/* substrate.h -- the frozen input embedding table E[V, D] and its file.
 *
 * Kinds (substrate.kind):
 *   glyph     each token's picture (glyph.h) flattened (polar snake or
 *             row-major), pixel values / 255, PCA to D dimensions over all
 *             ranks (pca.h), rows centred by the PCA mean then L2-normalised.
 *   random    frozen N(0, 1) rows from run.seed, L2-normalised.
 *   binary    bits of the token id, nbits = max(1, ceil(log2 V)); component
 *             j carries bit floor(j * nbits / D) as +1/sqrt(D) (set) or
 *             -1/sqrt(D) (clear); needs D >= nbits.
 *   trainable a random initialisation (own stream, L2-normalised rows) that
 *             the model trains; the file stores the init.
 * Exact file schema and rendering rules: docs/FORMAT-substrate.md.
 *
 * Distribution: rank r of comm builds rows [V*r/n, V*(r+1)/n) (n ranks); the
 * result does not depend on the rank count.
 * Ownership: substrate owns emb, fonts, font_sha256, eigenvalues
 * (substrate_free); items are borrowed.
 */
#ifndef STRATA_SUBSTRATE_H
#define STRATA_SUBSTRATE_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/glyph.h"

#define SUBSTRATE_FORMAT_VERSION 1

typedef enum substrate_kind {
    SUBSTRATE_GLYPH,
    SUBSTRATE_RANDOM,
    SUBSTRATE_BINARY,
    SUBSTRATE_TRAINABLE,
} substrate_kind;

typedef struct substrate_opts {
    substrate_kind kind;
    int dim;               /* D */
    int cell;              /* glyph cell size in pixels */
    glyph_flatten flatten;
    const char *fonts;     /* extra fonts after Unifont, comma-separated (borrowed) */
    uint64_t seed;         /* run.seed */
} substrate_opts;

typedef struct substrate {
    substrate_kind kind;
    long vocab;            /* V */
    int dim;               /* D */
    size_t row0, n_local;  /* this rank's rows [row0, row0 + n_local) */
    float *emb;            /* [n_local, D] */
    int cell;
    glyph_flatten flatten;
    uint64_t seed;
    int nfonts;
    char **fonts;          /* [nfonts] paths (glyph only) */
    char (*font_sha256)[65]; /* [nfonts] lower-case hex */
    long n_marked;         /* glyph: cells that received a disambiguation mark */
    long n_unused;         /* UNUSED ids (glyph: drawn as dashed hex boxes) */
    long n_duplicates;     /* rows equal to the row of a smaller id (must be 0) */
    double explained_variance; /* glyph: share of pixel variance kept by the D components */
    double *eigenvalues;   /* glyph: [D] PCA variances, descending */
    double build_seconds;
} substrate;

const char *substrate_kind_name(substrate_kind k);
st_status substrate_parse_kind(const char *s, substrate_kind *k);
/* Options from the [substrate] section and run.seed. */
st_status substrate_opts_from_config(const st_config *cfg, substrate_opts *o);

/* Build the table for items[0..vocab) (items[i].id must be i).  Collective. */
st_status substrate_build(const substrate_opts *o, const glyph_item *items, long vocab, MPI_Comm comm,
                          substrate *out);
void substrate_free(substrate *s);

/* Write the file (temp name + rename; nothing is left behind on failure).
 * Collective: every rank writes its rows. */
st_status substrate_save(const substrate *s, const char *path, MPI_Comm comm);
/* Read the whole table on the calling rank: *emb [V, D], caller frees. */
st_status substrate_load(const char *path, float **emb, long *vocab, int *dim);
/* Human summary of an open substrate file (or any file with /substrate). */
st_status substrate_describe(hid_t file, FILE *out);

/* Synthetic vocabulary: every BMP code point, id = code point; surrogates
 * (U+D800..U+DFFF) are UNUSED.  *storage holds the UTF-8 texts. */
st_status substrate_items_bmp(glyph_item **items, char **storage, long *vocab);

/* Items of every id of a tokenizer (tok_render_text / tok_kind_of); the
 * texts are borrowed from the tokenizer, which must outlive *items. */
struct tokenizer;
st_status substrate_items_from_tokenizer(const struct tokenizer *t, glyph_item **items, long *vocab);

/* Row split used everywhere: rows of rank r out of n. */
void substrate_rows(long vocab, int rank, int nranks, size_t *row0, size_t *n_local);

/* SHA-256 (FIPS 180-4). */
typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t buf[64];
    size_t nbuf;
} sha256_ctx;
void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
void sha256_hex(const uint8_t digest[32], char hex[65]);
/* Digest of a whole file as hex; ST_EUSAGE when it cannot be opened. */
st_status sha256_file(const char *path, char hex[65]);

#endif
