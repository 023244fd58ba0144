/* substrate_internal.h -- the per-kind file parts (substrate_file.c) that
 * the table of kinds (substrate.c) points to.  Not a public header. */
#ifndef STRATA_SUBSTRATE_INTERNAL_H
#define STRATA_SUBSTRATE_INTERNAL_H

#include "strata/substrate.h"

/* glyph: cell, flatten, marks, PCA (eigenvalues, explained variance), fonts
 * and their SHA-256. */
st_status substrate_save_glyph(struct h5_file *f, const char *group, const substrate *s);
st_status substrate_describe_glyph(struct h5_file *f, const char *group, FILE *out);
/* every other kind: only the `trainable` attribute (from the table). */
st_status substrate_save_plain(struct h5_file *f, const char *group, const substrate *s);

#endif
