/* glyph.h -- pictures of tokens: FreeType rendering into fixed-size cells.
 *
 * A token is described by a glyph_item (UTF-8 text + kind + id); the module
 * does not know the tokenizer.  glyph_render() turns one item into a
 * cell x cell 8-bit grey picture (0 = background, 255 = ink):
 *   - CHAR / NGRAM / SPECIAL / BYTE: each character of `text` is drawn centred
 *     in its own cell (font em box centred, then shifted or shrunk to fit),
 *     the cells are put side by side and the strip is resampled (area
 *     average) to one cell.  Specials and bytes carry their literal names
 *     ("<|bos|>", "<0xAB>") as text.
 *   - a character that no font maps, or whose picture is blank (spaces,
 *     zero-width and control characters), is drawn as a hex box: a frame
 *     with the code point's hex digits (4 or 6) in a built-in 3x5 digit font.
 *   - UNUSED ids (no text) are drawn as a dashed hex box of the id.
 * glyph_disambiguate() then makes every cell of a vocabulary distinct (see
 * docs/FORMAT-substrate.md, "Disambiguation").
 *
 * Ownership: glyph_renderer owns its FreeType library, faces and font path
 * copies; items are borrowed.  All pictures are caller-provided buffers.
 */
#ifndef STRATA_GLYPH_H
#define STRATA_GLYPH_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/error.h"

/* Mirrors tok_kind of the tokenizer (same order), so an adapter can cast. */
typedef enum glyph_kind {
    GLYPH_SPECIAL,
    GLYPH_BYTE,
    GLYPH_CHAR,
    GLYPH_NGRAM,
    GLYPH_UNUSED,
} glyph_kind;

typedef struct glyph_item {
    const char *text; /* UTF-8, `len` bytes, not NUL-terminated; NULL for UNUSED */
    size_t len;
    glyph_kind kind;
    int id;
} glyph_item;

typedef enum glyph_flatten { GLYPH_FLATTEN_POLAR, GLYPH_FLATTEN_ROWMAJOR } glyph_flatten;

typedef struct glyph_renderer glyph_renderer;

/* Open the fonts, in fallback order.  ST_EUSAGE naming the path when a font
 * is missing or not a font FreeType can read.  cell in [8, 128]. */
st_status glyph_renderer_init(glyph_renderer **out, const char *const *font_paths, int nfonts, int cell);
void glyph_renderer_free(glyph_renderer *g);
int glyph_renderer_cell(const glyph_renderer *g);
int glyph_renderer_nfonts(const glyph_renderer *g);
const char *glyph_renderer_font(const glyph_renderer *g, int i);

/* The default chain: STRATA_UNIFONT_DIR/unifont.otf, unifont_upper.otf, then
 * the comma-separated `extra` paths (may be NULL or "").  *paths is an array
 * of *n malloc'ed strings; free with glyph_free_paths(). */
st_status glyph_default_fonts(const char *extra, char ***paths, int *n);
void glyph_free_paths(char **paths, int n);

/* Draw one item into pix[cell*cell] (row-major, top row first). */
st_status glyph_render(glyph_renderer *g, const glyph_item *item, uint8_t *pix);
/* Draw code point cp alone (used for single characters and --dump-glyph).
 * *how is set to 'g' (font glyph), 'x' (hex box: no glyph or blank). */
st_status glyph_render_codepoint(glyph_renderer *g, uint32_t cp, uint8_t *pix, char *how);
/* Hex box of `value` (4 hex digits when < 0x10000, else 6); dashed frame when `dashed`. */
void glyph_hex_box(uint32_t value, int dashed, int cell, uint8_t *pix);

/* Make the n_total cells distinct across ranks.  Rank r holds ids
 * [row0, row0 + n_local) in cells[n_local][cell*cell]; every rank takes part.
 * Rounds r = 0, 1, ...: any cell equal to a cell of a smaller id gets the
 * id's bits written on the ring at inset r.  *n_marked counts marks made
 * (all rounds, all ranks); *n_dup is the number of cells still equal to a
 * cell of a smaller id afterwards (0 unless ids exceed what a ring holds). */
st_status glyph_disambiguate(uint8_t *cells, size_t row0, size_t n_local, int cell, MPI_Comm comm,
                             long *n_marked, long *n_dup);
/* Number of rows (row_bytes each, ids as in glyph_disambiguate) whose bytes
 * equal those of a row with a smaller id, by 128-bit content hash.  Collective. */
st_status glyph_count_duplicate_rows(const void *rows, size_t row_bytes, size_t row0, size_t n_local,
                                     MPI_Comm comm, long *n_dup);
/* Write the id mark of round `round` into one cell. */
void glyph_mark(uint8_t *pix, int cell, int round, uint32_t id);

/* Pixel order for flattening: perm[k] = index (y*cell+x) of the k-th feature.
 * POLAR: by ring floor(r) (r = distance of the pixel centre from the cell
 * centre), then by angle atan2(dy, dx) ascending in even rings and
 * descending in odd rings (the snake), ties by pixel index. */
st_status glyph_flatten_order(int cell, glyph_flatten f, int *perm);
st_status glyph_parse_flatten(const char *s, glyph_flatten *f);
const char *glyph_flatten_name(glyph_flatten f);

/* Decode "U+XXXX" or a literal UTF-8 string into code points.  ST_EUSAGE on
 * bad syntax or invalid UTF-8.  cps has room for max entries. */
st_status glyph_parse_token(const char *s, uint32_t *cps, size_t max, size_t *n);
/* Binary PGM (P5) of a w x h picture, published atomically by the calling
 * process alone (publish.h; ST_EIO naming the path when it cannot be). */
st_status glyph_write_pgm(const char *path, const uint8_t *pix, int w, int h);

#endif
