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
 * Everything that differs between kinds is one row of substrate_kinds[]
 * (substrate_kind_info below); the rest of the program asks that table.
 * Exact file schema and rendering rules: docs/FORMAT-substrate.md.
 *
 * Distribution: rank r of comm builds rows [V*r/n, V*(r+1)/n) (n ranks); the
 * result does not depend on the rank count.
 * Ownership: substrate owns emb, fonts, font_sha256, eigenvalues
 * (substrate_free); items are borrowed.
 */
#ifndef STRATA_SUBSTRATE_H
#define STRATA_SUBSTRATE_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/config.h"
#include "strata/error.h"
#include "strata/glyph.h"

#define SUBSTRATE_FORMAT_VERSION 1

/* Index into substrate_kinds[] (same order). */
typedef enum substrate_kind {
    SUBSTRATE_GLYPH,
    SUBSTRATE_RANDOM,
    SUBSTRATE_BINARY,
    SUBSTRATE_TRAINABLE,
    SUBSTRATE_N_KINDS
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

/* ---- kinds: one table ---------------------------------------------------
 * Adding a kind: a value in substrate_kind, a row in substrate_kinds[]
 * (substrate.c) with its build function, and its save/describe functions
 * when the file holds more for it than the `trainable` attribute.  The
 * choices of substrate.kind in strata/config.h must list the same names in the
 * same order (config sits below substrate; test_substrate checks).
 */
struct h5_file;
typedef struct substrate_kind_info {
    substrate_kind kind;
    const char *name;    /* substrate.kind value and the file's substrate_kind attribute */
    const char *summary; /* a few words for --help and messages */
    /* The model trains the table (the file stores its initialisation);
     * otherwise the table is frozen. */
    bool trainable;
    /* Fill this rank's rows s->emb [n_local, D]; the other fields of s
     * (vocab, dim, rows, seed, cell, flatten) are set.  Collective. */
    st_status (*build)(substrate *s, const substrate_opts *o, const glyph_item *items, MPI_Comm comm);
    /* Write the kind's own attributes and datasets into `group`.  Collective. */
    st_status (*save)(struct h5_file *f, const char *group, const substrate *s);
    /* Print them (NULL: nothing beyond the common lines); out may be NULL. */
    st_status (*describe)(struct h5_file *f, const char *group, FILE *out);
} substrate_kind_info;

extern const substrate_kind_info substrate_kinds[]; /* [substrate_n_kinds], in enum order */
extern const size_t substrate_n_kinds;

/* The row of a name ("glyph"...), NULL when there is none. */
const substrate_kind_info *substrate_kind_find(const char *name);
/* The row of a kind; NULL for a value outside the enum. */
const substrate_kind_info *substrate_kind_info_of(substrate_kind k);
/* Its name, "?" for a value outside the enum. */
const char *substrate_kind_name(substrate_kind k);
/* The kind called s; ST_EUSAGE listing every kind otherwise. */
st_status substrate_parse_kind(const char *s, substrate_kind *k);
/* "glyph|random|binary|trainable": the names in table order, joined by sep
 * (buf of cap bytes; truncated when too small). */
void substrate_kind_list(char *buf, size_t cap, const char *sep);

/* Options from the [substrate] section and run.seed. */
st_status substrate_opts_from_config(const st_config *cfg, substrate_opts *o);

/* Build the table for items[0..vocab) (items[i].id must be i).  Collective. */
st_status substrate_build(const substrate_opts *o, const glyph_item *items, long vocab, MPI_Comm comm,
                          substrate *out);
void substrate_free(substrate *s);

/* Write the file (temp name + rename; nothing is left behind on failure).
 * Collective: every rank writes its rows. */
st_status substrate_save(const substrate *s, const char *path, MPI_Comm comm);
/* Read the whole table on the calling rank: *emb [V, D], caller frees.
 * A table holding NaN or Inf is refused (ST_EDATA naming the file and the
 * first bad row). */
st_status substrate_load(const char *path, float **emb, long *vocab, int *dim);
/* Human summary of the substrate group `group` ("substrate") of an open
 * file: a substrate file or a checkpoint.  Reads on every rank of the file's
 * communicator; only ranks with out != NULL print. */
st_status substrate_describe(struct h5_file *f, const char *group, FILE *out);

/* Synthetic vocabulary: every BMP code point, id = code point; surrogates
 * (U+D800..U+DFFF) are UNUSED.  *storage holds the UTF-8 texts. */
st_status substrate_items_bmp(glyph_item **items, char **storage, long *vocab);

/* Items of every id of a tokenizer (tok_render_text / tok_kind_of); the
 * texts are borrowed from the tokenizer, which must outlive *items. */
struct tokenizer;
st_status substrate_items_from_tokenizer(const struct tokenizer *t, glyph_item **items, long *vocab);

/* Row split used everywhere: rows of rank r out of n. */
void substrate_rows(long vocab, int rank, int nranks, size_t *row0, size_t *n_local);

#endif
