/* glyph.c -- FreeType rendering of tokens into cells, hex boxes for what no
 * font draws, disambiguation marks, flatten orders and PGM dumps. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "strata_build.h"
#include "strata/glyph.h"
#include "strata/log.h"
#include "strata/publish.h"
#include "strata/utf8.h"

struct glyph_renderer {
    FT_Library lib;
    FT_Face *faces; /* [nfonts] in fallback order */
    char **paths;   /* [nfonts] */
    int nfonts;
    int cell;
    uint8_t *tmp;   /* [cell*cell] scratch for one character */
};

/* ---- renderer ------------------------------------------------------------ */

st_status glyph_renderer_init(glyph_renderer **out, const char *const *font_paths, int nfonts, int cell)
{
    st_status st = ST_OK;
    glyph_renderer *g = NULL;
    *out = NULL;
    if (cell < 8 || cell > 128) FAIL(ST_EUSAGE, "substrate.cell = %d is out of range [8, 128]", cell);
    if (nfonts < 1) FAIL(ST_EUSAGE, "no font files given for the glyph substrate");
    g = calloc(1, sizeof *g);
    CHECK_ALLOC(g);
    g->cell = cell;
    g->faces = calloc((size_t)nfonts, sizeof *g->faces);
    CHECK_ALLOC(g->faces);
    g->paths = calloc((size_t)nfonts, sizeof *g->paths);
    CHECK_ALLOC(g->paths);
    g->tmp = malloc((size_t)cell * cell);
    CHECK_ALLOC(g->tmp);
    if (FT_Init_FreeType(&g->lib)) FAIL(ST_ERR, "cannot initialise FreeType");
    for (int i = 0; i < nfonts; i++) {
        const char *p = font_paths[i];
        if (access(p, R_OK) != 0)
            FAIL(ST_EUSAGE, "font file '%s' cannot be read: %s (set substrate.fonts or install fonts-unifont)", p,
                 strerror(errno));
        FT_Error e = FT_New_Face(g->lib, p, 0, &g->faces[i]);
        if (e) {
            g->faces[i] = NULL;
            FAIL(ST_EUSAGE, "font file '%s' is not a font FreeType can read (error %d)", p, e);
        }
        g->nfonts = i + 1;
        g->paths[i] = strdup(p);
        CHECK_ALLOC(g->paths[i]);
        if (FT_Set_Pixel_Sizes(g->faces[i], 0, (FT_UInt)cell))
            FAIL(ST_EUSAGE, "font file '%s' cannot be scaled to %d pixels", p, cell);
    }
    *out = g;
    g = NULL;
out:
    glyph_renderer_free(g);
    return st;
}

void glyph_renderer_free(glyph_renderer *g)
{
    if (!g) return;
    for (int i = 0; i < g->nfonts; i++) {
        if (g->faces[i]) FT_Done_Face(g->faces[i]);
        free(g->paths[i]);
    }
    if (g->lib) FT_Done_FreeType(g->lib);
    free(g->faces);
    free(g->paths);
    free(g->tmp);
    free(g);
}

int glyph_renderer_cell(const glyph_renderer *g) { return g->cell; }
int glyph_renderer_nfonts(const glyph_renderer *g) { return g->nfonts; }
const char *glyph_renderer_font(const glyph_renderer *g, int i) { return g->paths[i]; }

void glyph_free_paths(char **paths, int n)
{
    if (!paths) return;
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

st_status glyph_default_fonts(const char *extra, char ***paths, int *n)
{
    st_status st = ST_OK;
    char **p = NULL;
    int k = 0, cap = 2;
    for (const char *s = extra; s && *s; s++) cap += *s == ',';
    cap += extra && *extra ? 1 : 0;
    p = calloc((size_t)cap, sizeof *p);
    CHECK_ALLOC(p);
    static const char *const base[2] = {"unifont.otf", "unifont_upper.otf"};
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(STRATA_UNIFONT_DIR) + strlen(base[i]) + 2;
        p[k] = malloc(len);
        CHECK_ALLOC(p[k]);
        snprintf(p[k++], len, "%s/%s", STRATA_UNIFONT_DIR, base[i]);
    }
    for (const char *s = extra; s && *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
        if (len > 0) {
            p[k] = strndup(s, len);
            CHECK_ALLOC(p[k]);
            k++;
        }
        if (!e) break;
        s = e + 1;
    }
    *paths = p;
    *n = k;
    p = NULL;
out:
    glyph_free_paths(p, k);
    return st;
}

/* Average of in[0..n) (stride `step`) over the interval [a, b) with
 * fractional end weights, divided by b - a. */
static double box_average(const double *in, int n, size_t step, double a, double b)
{
    double acc = 0;
    for (int i = (int)floor(a); i < n && i < (int)ceil(b); i++) {
        double lo = i > a ? i : a, hi = i + 1 < b ? i + 1 : b;
        acc += (hi - lo) * in[(size_t)i * step];
    }
    return acc / (b - a);
}

/* Area-average resampling of a w x h picture to dw x dh (separable box
 * filter with fractional overlaps), rounding to nearest. */
static st_status resample(const uint8_t *src, int w, int h, uint8_t *dst, int dw, int dh)
{
    st_status st = ST_OK;
    double *row = malloc(sizeof(double) * (size_t)w);              /* [w] */
    double *mid = malloc(sizeof(double) * (size_t)dw * (size_t)h); /* [h][dw] */
    CHECK_ALLOC(row);
    CHECK_ALLOC(mid);
    double sx = (double)w / dw, sy = (double)h / dh;
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w; i++) row[i] = src[(size_t)y * w + i];
        for (int x = 0; x < dw; x++) mid[(size_t)y * dw + x] = box_average(row, w, 1, x * sx, (x + 1) * sx);
    }
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            double v = floor(box_average(mid + x, h, (size_t)dw, y * sy, (y + 1) * sy) + 0.5);
            dst[(size_t)y * dw + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
out:
    free(row);
    free(mid);
    return st;
}

/* ---- hex boxes ------------------------------------------------------------ */

/* 3x5 digits, one row per 3 bits (MSB = left column). */
static const uint8_t hex_font[16][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
    {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {7, 5, 7, 5, 5}, {6, 5, 6, 5, 6},
    {7, 4, 4, 4, 7}, {6, 5, 5, 5, 6}, {7, 4, 7, 4, 7}, {7, 4, 7, 4, 4},
};

static void put(uint8_t *pix, int cell, int x, int y)
{
    if (x >= 0 && y >= 0 && x < cell && y < cell) pix[y * cell + x] = 255;
}

void glyph_hex_box(uint32_t value, int dashed, int cell, uint8_t *pix)
{
    memset(pix, 0, (size_t)cell * cell);
    /* Frame inset m leaves the outer rings free for disambiguation marks. */
    int m = cell / 16 > 1 ? cell / 16 : 1;
    int lo = m, hi = cell - 1 - m;
    for (int i = lo; i <= hi; i++) {
        if (!dashed || (i - lo) % 2 == 0) {
            put(pix, cell, i, lo);
            put(pix, cell, i, hi);
            put(pix, cell, lo, i);
            put(pix, cell, hi, i);
        }
    }
    int ndig = value < 0x10000 ? 4 : 6, cols = ndig / 2;
    char hex[8];
    snprintf(hex, sizeof hex, "%0*X", ndig, (unsigned)value);
    int inner = cell - 2 * m - 4;
    int s1 = inner / (cols * 4 - 1), s2 = inner / 11;
    int s = s1 < s2 ? s1 : s2;
    if (s < 1) s = 1;
    int w = (cols * 4 - 1) * s, h = 11 * s;
    int x0 = (cell - w) / 2, y0 = (cell - h) / 2;
    for (int d = 0; d < ndig; d++) {
        int v = hex[d] <= '9' ? hex[d] - '0' : hex[d] - 'A' + 10;
        int dx = x0 + (d % cols) * 4 * s, dy = y0 + (d / cols) * 6 * s;
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                if (hex_font[v][r] >> (2 - c) & 1)
                    for (int yy = 0; yy < s; yy++)
                        for (int xx = 0; xx < s; xx++) put(pix, cell, dx + c * s + xx, dy + r * s + yy);
    }
}

/* ---- one character ---------------------------------------------------------- */

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

st_status glyph_render_codepoint(glyph_renderer *g, uint32_t cp, uint8_t *pix, char *how)
{
    st_status st = ST_OK;
    uint8_t *bm = NULL, *small = NULL;
    int c = g->cell;
    FT_Face face = NULL;
    FT_UInt gi = 0;
    for (int i = 0; i < g->nfonts && !gi; i++) {
        gi = FT_Get_Char_Index(g->faces[i], cp);
        if (gi) face = g->faces[i];
    }
    memset(pix, 0, (size_t)c * c);
    if (gi && FT_Load_Glyph(face, gi, FT_LOAD_RENDER | FT_LOAD_NO_HINTING) == 0) {
        FT_GlyphSlot s = face->glyph;
        FT_Bitmap *b = &s->bitmap;
        int bw = (int)b->width, bh = (int)b->rows;
        if (bw > 0 && bh > 0) {
            /* Expand to 8-bit grey whatever the pixel mode. */
            bm = malloc((size_t)bw * bh);
            CHECK_ALLOC(bm);
            for (int y = 0; y < bh; y++)
                for (int x = 0; x < bw; x++) {
                    const unsigned char *row = b->buffer + (ptrdiff_t)y * b->pitch;
                    unsigned v;
                    if (b->pixel_mode == FT_PIXEL_MODE_MONO)
                        v = (row[x >> 3] >> (7 - (x & 7)) & 1) ? 255 : 0;
                    else if (b->pixel_mode == FT_PIXEL_MODE_GRAY)
                        v = b->num_grays > 1 ? row[x] * 255u / (b->num_grays - 1u) : row[x];
                    else
                        v = 0;
                    bm[y * bw + x] = (uint8_t)v;
                }
            int left, top;
            if (bw > c || bh > c) {
                /* Larger than the cell: shrink to fit, keeping the aspect. */
                double sc = fmin((double)c / bw, (double)c / bh);
                int nw = (int)fmax(1, floor(bw * sc)), nh = (int)fmax(1, floor(bh * sc));
                small = malloc((size_t)nw * nh);
                CHECK_ALLOC(small);
                CHECK(resample(bm, bw, bh, small, nw, nh));
                free(bm);
                bm = small;
                small = NULL;
                bw = nw, bh = nh;
                left = (c - bw) / 2, top = (c - bh) / 2;
            } else {
                /* Centre the em box (advance x line height), then keep the ink inside. */
                long asc = (face->size->metrics.ascender + 32) >> 6;
                long desc = (face->size->metrics.descender - 32) / 64; /* <= 0 */
                long adv = (s->advance.x + 32) >> 6;
                long baseline = (c - (asc - desc)) / 2 + asc;
                left = (int)((c - adv) / 2 + s->bitmap_left);
                top = (int)(baseline - s->bitmap_top);
                if (left < 0) left = 0;
                if (left + bw > c) left = c - bw;
                if (top < 0) top = 0;
                if (top + bh > c) top = c - bh;
            }
            for (int y = 0; y < bh; y++) memcpy(pix + (size_t)(top + y) * c + left, bm + (size_t)y * bw, (size_t)bw);
        }
    }
    if (all_zero(pix, (size_t)c * c)) {
        glyph_hex_box(cp, 0, c, pix);
        *how = 'x';
    } else {
        *how = 'g';
    }
out:
    free(bm);
    free(small);
    return st;
}

st_status glyph_render(glyph_renderer *g, const glyph_item *item, uint8_t *pix)
{
    st_status st = ST_OK;
    uint8_t *strip = NULL;
    uint32_t *cps = NULL;
    int c = g->cell;
    char how;
    if (item->kind == GLYPH_UNUSED || !item->text || item->len == 0) {
        glyph_hex_box((uint32_t)item->id, 1, c, pix);
        return ST_OK;
    }
    cps = malloc(item->len * sizeof *cps);
    CHECK_ALLOC(cps);
    size_t n = 0;
    for (size_t off = 0; off < item->len;) {
        size_t k = utf8_decode((const uint8_t *)item->text + off, item->len - off, &cps[n]);
        if (!k) FAIL(ST_EDATA, "token %d: text is not valid UTF-8 (byte %zu)", item->id, off);
        off += k;
        n++;
    }
    if (n == 1) {
        CHECK(glyph_render_codepoint(g, cps[0], pix, &how));
        goto out;
    }
    /* Strip of n cells side by side, resampled to one cell. */
    size_t sw = n * (size_t)c;
    strip = malloc(sw * (size_t)c);
    CHECK_ALLOC(strip);
    for (size_t i = 0; i < n; i++) {
        CHECK(glyph_render_codepoint(g, cps[i], g->tmp, &how));
        for (int y = 0; y < c; y++) memcpy(strip + y * sw + i * (size_t)c, g->tmp + (size_t)y * c, (size_t)c);
    }
    CHECK(resample(strip, (int)sw, c, pix, c, c));
out:
    free(strip);
    free(cps);
    return st;
}

/* ---- disambiguation ------------------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 128-bit content hash: FNV-1a and a word-wise splitmix chain. */
static void cell_hash(const uint8_t *p, size_t n, uint64_t h[2])
{
    uint64_t a = 0xcbf29ce484222325ull, b = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i++) a = (a ^ p[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        for (size_t j = 0; j < 8 && i + j < n; j++) w |= (uint64_t)p[i + j] << (8 * j);
        b = mix64(b ^ w);
    }
    h[0] = a;
    h[1] = b;
}

typedef struct hash_id {
    uint64_t h[2];
    uint64_t id;
} hash_id;

static int cmp_hash_id(const void *pa, const void *pb)
{
    const hash_id *a = pa, *b = pb;
    for (int i = 0; i < 2; i++)
        if (a->h[i] != b->h[i]) return a->h[i] < b->h[i] ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

void glyph_mark(uint8_t *pix, int cell, int round, uint32_t id)
{
    int lo = round, hi = cell - 1 - round;
    if (hi <= lo) return;
    int k = 0;
    /* Clockwise from the top-left corner; position k carries bit k mod 32. */
#define MARK(x, y) (pix[(y) * cell + (x)] = (id >> (k++ % 32) & 1) ? 255 : 0)
    for (int x = lo; x < hi; x++) MARK(x, lo);
    for (int y = lo; y < hi; y++) MARK(hi, y);
    for (int x = hi; x > lo; x--) MARK(x, hi);
    for (int y = hi; y > lo; y--) MARK(lo, y);
#undef MARK
}

/* Global (hash, id) list sorted; marks the later ids of each equal group
 * that live on this rank.  Returns the number of such ids (all ranks). */
static st_status find_dups(void *rows, size_t row_bytes, size_t row0, size_t n_local, MPI_Comm comm, int cell,
                           int mark_round, long *ndup)
{
    st_status st = ST_OK;
    int nranks, rank;
    int *counts = NULL, *displs = NULL;
    uint64_t *mine = NULL, *all = NULL, *starts = NULL;
    hash_id *list = NULL;
    uint8_t *cells = rows;
    CHECK_MPI(MPI_Comm_size(comm, &nranks));
    CHECK_MPI(MPI_Comm_rank(comm, &rank));
    counts = calloc((size_t)nranks, sizeof *counts);
    displs = calloc((size_t)nranks, sizeof *displs);
    mine = malloc((2 * n_local + 1) * sizeof *mine);
    starts = malloc((size_t)nranks * sizeof *starts);
    CHECK_ALLOC(starts);
    CHECK_ALLOC(counts);
    CHECK_ALLOC(displs);
    CHECK_ALLOC(mine);
    for (size_t i = 0; i < n_local; i++) cell_hash(cells + i * row_bytes, row_bytes, mine + 2 * i);
    int myc = (int)(2 * n_local);
    CHECK_MPI(MPI_Allgather(&myc, 1, MPI_INT, counts, 1, MPI_INT, comm));
    /* Rows are contiguous by rank, so rank order is id order; the first id
     * of rank q is row0 of rank q, gathered as well. */
    uint64_t my0 = row0;
    CHECK_MPI(MPI_Allgather(&my0, 1, MPI_UINT64_T, starts, 1, MPI_UINT64_T, comm));
    size_t total = 0;
    for (int q = 0; q < nranks; q++) {
        displs[q] = (int)total;
        total += (size_t)counts[q];
    }
    all = malloc((total + 1) * sizeof *all);
    list = malloc((total / 2 + 1) * sizeof *list);
    CHECK_ALLOC(all);
    CHECK_ALLOC(list);
    CHECK_MPI(MPI_Allgatherv(mine, myc, MPI_UINT64_T, all, counts, displs, MPI_UINT64_T, comm));
    size_t n = 0;
    for (int q = 0; q < nranks; q++)
        for (int i = 0; i < counts[q] / 2; i++, n++) {
            list[n].h[0] = all[displs[q] + 2 * i];
            list[n].h[1] = all[displs[q] + 2 * i + 1];
            list[n].id = starts[q] + (uint64_t)i;
        }
    qsort(list, n, sizeof *list, cmp_hash_id);
    long d = 0;
    for (size_t i = 1; i < n; i++) {
        if (list[i].h[0] != list[i - 1].h[0] || list[i].h[1] != list[i - 1].h[1]) continue;
        d++;
        uint64_t id = list[i].id;
        if (mark_round >= 0 && id >= row0 && id < row0 + n_local)
            glyph_mark(cells + (id - row0) * row_bytes, cell, mark_round, (uint32_t)id);
    }
    *ndup = d;
out:
    free(counts);
    free(displs);
    free(mine);
    free(all);
    free(list);
    free(starts);
    return st;
}

st_status glyph_disambiguate(uint8_t *cells, size_t row0, size_t n_local, int cell, MPI_Comm comm,
                             long *n_marked, long *n_dup)
{
    st_status st = ST_OK;
    int max_round = cell / 4;
    long marked = 0, d = 0;
    for (int round = 0;; round++) {
        CHECK(find_dups(cells, (size_t)cell * cell, row0, n_local, comm, cell, round < max_round ? round : -1, &d));
        if (d == 0 || round >= max_round) break;
        marked += d;
    }
    *n_marked = marked;
    *n_dup = d;
out:
    return st;
}

st_status glyph_count_duplicate_rows(const void *rows, size_t row_bytes, size_t row0, size_t n_local,
                                     MPI_Comm comm, long *n_dup)
{
    /* mark_round -1: nothing is written, the cast is safe. */
    return find_dups((void *)rows, row_bytes, row0, n_local, comm, 0, -1, n_dup);
}

/* ---- flattening ----------------------------------------------------------- */

typedef struct pix_key {
    int ring;
    double angle;
    int idx;
} pix_key;

static int cmp_pix_key(const void *pa, const void *pb)
{
    const pix_key *a = pa, *b = pb;
    if (a->ring != b->ring) return a->ring < b->ring ? -1 : 1;
    double aa = a->ring % 2 ? -a->angle : a->angle, bb = b->ring % 2 ? -b->angle : b->angle;
    if (aa != bb) return aa < bb ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

st_status glyph_flatten_order(int cell, glyph_flatten f, int *perm)
{
    st_status st = ST_OK;
    int n = cell * cell;
    pix_key *keys = NULL;
    if (f == GLYPH_FLATTEN_ROWMAJOR) {
        for (int i = 0; i < n; i++) perm[i] = i;
        goto out;
    }
    keys = malloc((size_t)n * sizeof *keys);
    CHECK_ALLOC(keys);
    for (int y = 0; y < cell; y++)
        for (int x = 0; x < cell; x++) {
            /* Twice the offset of the pixel centre from the cell centre: integers. */
            long dx = 2 * x + 1 - cell, dy = 2 * y + 1 - cell, s = dx * dx + dy * dy;
            long r = (long)floor(sqrt((double)s) / 2); /* floor(radius), fixed up exactly */
            while (4 * (r + 1) * (r + 1) <= s) r++;
            while (4 * r * r > s) r--;
            pix_key *k = &keys[y * cell + x];
            k->ring = (int)r;
            k->angle = atan2((double)dy, (double)dx);
            k->idx = y * cell + x;
        }
    qsort(keys, (size_t)n, sizeof *keys, cmp_pix_key);
    for (int i = 0; i < n; i++) perm[i] = keys[i].idx;
out:
    free(keys);
    return st;
}

st_status glyph_parse_flatten(const char *s, glyph_flatten *f)
{
    if (strcmp(s, "polar") == 0) {
        *f = GLYPH_FLATTEN_POLAR;
        return ST_OK;
    }
    if (strcmp(s, "rowmajor") == 0) {
        *f = GLYPH_FLATTEN_ROWMAJOR;
        return ST_OK;
    }
    return ST_ERROR(ST_EUSAGE, "substrate.flatten = '%s' is not one of polar, rowmajor", s);
}

const char *glyph_flatten_name(glyph_flatten f) { return f == GLYPH_FLATTEN_POLAR ? "polar" : "rowmajor"; }

/* ---- tokens from the command line, PGM --------------------------------------- */

st_status glyph_parse_token(const char *s, uint32_t *cps, size_t max, size_t *n)
{
    st_status st = ST_OK;
    *n = 0;
    if ((s[0] == 'U' || s[0] == 'u') && s[1] == '+' && s[2]) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s + 2, &end, 16);
        if (*end || errno || strlen(s + 2) > 6 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            FAIL(ST_EUSAGE, "'%s' is not a code point U+0000..U+10FFFF (surrogates excluded)", s);
        if (max < 1) FAIL(ST_EUSAGE, "token '%s' is too long", s);
        cps[(*n)++] = (uint32_t)v;
        goto out;
    }
    size_t len = strlen(s);
    if (len == 0) FAIL(ST_EUSAGE, "empty token");
    for (size_t off = 0; off < len;) {
        if (*n >= max) FAIL(ST_EUSAGE, "token '%s' is longer than %zu characters", s, max);
        size_t k = utf8_decode((const uint8_t *)s + off, len - off, &cps[*n]);
        if (!k) FAIL(ST_EUSAGE, "token '%s' is not valid UTF-8 (byte %zu)", s, off);
        off += k;
        (*n)++;
    }
out:
    return st;
}

st_status glyph_write_pgm(const char *path, const uint8_t *pix, int w, int h)
{
    st_status st = ST_OK;
    char head[64];
    int nh = snprintf(head, sizeof head, "P5\n%d %d\n255\n", w, h);
    size_t n = (size_t)nh + (size_t)w * (size_t)h;
    uint8_t *buf = malloc(n);
    CHECK_ALLOC(buf);
    memcpy(buf, head, (size_t)nh);
    memcpy(buf + nh, pix, (size_t)w * (size_t)h);
    /* This process alone writes it (a preview, not a collective output). */
    CHECK(publish_write(path, buf, n, MPI_COMM_SELF));
out:
    free(buf);
    return st;
}
