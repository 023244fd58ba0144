/* test_glyph.c -- SHA-256 known answers, FreeType rendering with Unifont,
 * hex boxes, disambiguation, flatten orders, token parsing, PGM output, and
 * the full BMP: 65,536 distinct cells. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strata_build.h"
#include "harness.h"
#include "strata/glyph.h"
#include "strata/sha256.h"
#include "strata/substrate.h"

enum { C = 32, NPIX = C * C };

static glyph_renderer *open_unifont(int cell)
{
    char **paths = NULL;
    int n = 0;
    glyph_renderer *g = NULL;
    ST_ASSERT_OK(glyph_default_fonts(NULL, &paths, &n));
    ST_ASSERT_OK(glyph_renderer_init(&g, (const char *const *)paths, n, cell));
    glyph_free_paths(paths, n);
    return g;
}

static void sha256_known_answers(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        const char *hex;
    } kat[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        sha256_ctx c;
        uint8_t d[32];
        char hex[65];
        sha256_init(&c);
        /* Feed in odd pieces to exercise the buffering. */
        size_t len = strlen(kat[i].msg);
        for (size_t off = 0; off < len; off += 7)
            sha256_update(&c, kat[i].msg + off, len - off < 7 ? len - off : 7);
        sha256_final(&c, d);
        sha256_hex(d, hex);
        assert_string_equal(hex, kat[i].hex);
    }
    /* One million 'a' (FIPS 180-2 appendix B.3), in 1000-byte blocks. */
    char block[1000];
    memset(block, 'a', sizeof block);
    sha256_ctx c;
    uint8_t d[32];
    char hex[65];
    sha256_init(&c);
    for (int i = 0; i < 1000; i++) sha256_update(&c, block, sizeof block);
    sha256_final(&c, d);
    sha256_hex(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* A file gives the digest of its bytes. */
    char path[] = "/tmp/strata-sha-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    ST_ASSERT_OK(sha256_file(path, hex));
    assert_string_equal(hex, kat[1].hex);
    unlink(path);
    assert_int_equal(sha256_file("/nonexistent/font.otf", hex), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "/nonexistent/font.otf"));
}

static int ink(const uint8_t *p, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) k += p[i] > 0;
    return k;
}

static void renders_unifont_characters_centred(void **state)
{
    (void)state;
    glyph_renderer *g = open_unifont(C);
    uint8_t a[NPIX], b[NPIX];
    char how;
    ST_ASSERT_OK(glyph_render_codepoint(g, 'A', a, &how));
    assert_int_equal(how, 'g');
    assert_true(ink(a, NPIX) > 20);
    /* Centred: the ink's horizontal centre is within 2 px of the cell's. */
    long sx = 0, n = 0;
    for (int y = 0; y < C; y++)
        for (int x = 0; x < C; x++)
            if (a[y * C + x]) sx += x, n++;
    double cx = (double)sx / n;
    assert_true(cx > C / 2.0 - 2.5 && cx < C / 2.0 + 1.5);
    /* Deterministic. */
    ST_ASSERT_OK(glyph_render_codepoint(g, 'A', b, &how));
    assert_memory_equal(a, b, NPIX);
    /* Different letters differ; '.' sits lower than U+00B7 (em box, not ink, is centred). */
    ST_ASSERT_OK(glyph_render_codepoint(g, 'B', b, &how));
    assert_memory_not_equal(a, b, NPIX);
    uint8_t dot[NPIX], mid[NPIX];
    ST_ASSERT_OK(glyph_render_codepoint(g, '.', dot, &how));
    ST_ASSERT_OK(glyph_render_codepoint(g, 0xB7, mid, &how));
    int ydot = 0, ymid = 0;
    for (int i = 0; i < NPIX; i++) {
        if (dot[i]) ydot = i / C;
        if (mid[i]) ymid = i / C;
    }
    assert_true(ydot > ymid);
    /* A CJK ideograph (full width) fits in the cell. */
    ST_ASSERT_OK(glyph_render_codepoint(g, 0x6C34, b, &how));
    assert_int_equal(how, 'g');
    assert_true(ink(b, NPIX) > 30);
    glyph_renderer_free(g);
}

static void blank_and_missing_become_hex_boxes(void **state)
{
    (void)state;
    glyph_renderer *g = open_unifont(C);
    uint8_t a[NPIX], box[NPIX], box2[NPIX];
    char how;
    /* Space renders blank in Unifont -> hex box "0020". */
    ST_ASSERT_OK(glyph_render_codepoint(g, 0x20, a, &how));
    assert_int_equal(how, 'x');
    glyph_hex_box(0x20, 0, C, box);
    assert_memory_equal(a, box, NPIX);
    /* Different code points give different boxes; the frame leaves the two
     * outer rings free for marks. */
    glyph_hex_box(0x2000, 0, C, box2);
    assert_memory_not_equal(box, box2, NPIX);
    for (int i = 0; i < C; i++) assert_int_equal(box[i] | box[i * C] | box[C + i] | box[i * C + 1], 0);
    /* Dashed boxes (UNUSED ids) differ from solid ones of the same value. */
    glyph_hex_box(0x20, 1, C, box2);
    assert_memory_not_equal(box, box2, NPIX);
    glyph_item unused = {.text = NULL, .len = 0, .kind = GLYPH_UNUSED, .id = 0x20};
    ST_ASSERT_OK(glyph_render(g, &unused, a));
    assert_memory_equal(a, box2, NPIX);
    /* The noncharacter U+FFFF is in no font -> box "FFFF". */
    ST_ASSERT_OK(glyph_render_codepoint(g, 0xFFFF, a, &how));
    assert_int_equal(how, 'x');
    /* Six-digit boxes for code points above the BMP. */
    glyph_hex_box(0x10FFFD, 0, C, box);
    glyph_hex_box(0xFFFD, 0, C, box2);
    assert_memory_not_equal(box, box2, NPIX);
    glyph_renderer_free(g);
}

static void strips_specials_and_bad_text(void **state)
{
    (void)state;
    glyph_renderer *g = open_unifont(C);
    uint8_t ab[NPIX], ba[NPIX], a[NPIX], bos[NPIX], eos[NPIX];
    glyph_item it = {.text = "ab", .len = 2, .kind = GLYPH_NGRAM, .id = 1};
    ST_ASSERT_OK(glyph_render(g, &it, ab));
    it.text = "ba";
    ST_ASSERT_OK(glyph_render(g, &it, ba));
    it.text = "a", it.len = 1, it.kind = GLYPH_CHAR;
    ST_ASSERT_OK(glyph_render(g, &it, a));
    assert_true(ink(ab, NPIX) > 10);
    /* The 2-cell strip is averaged pairwise into one cell. */
    uint8_t ca[NPIX], cb[NPIX];
    char h2;
    ST_ASSERT_OK(glyph_render_codepoint(g, 'a', ca, &h2));
    ST_ASSERT_OK(glyph_render_codepoint(g, 'b', cb, &h2));
    for (int y = 0; y < C; y++)
        for (int x = 0; x < C; x++) {
            const uint8_t *src = 2 * x < C ? ca : cb;
            int sx = (2 * x) % C;
            int want = (int)floor((src[y * C + sx] + src[y * C + sx + 1]) / 2.0 + 0.5);
            assert_int_equal(ab[y * C + x], want);
        }
    assert_memory_not_equal(ab, ba, NPIX);
    assert_memory_not_equal(ab, a, NPIX);
    /* Specials from their literal names. */
    glyph_item s1 = {.text = "<|bos|>", .len = 7, .kind = GLYPH_SPECIAL, .id = 2};
    glyph_item s2 = {.text = "<|eos|>", .len = 7, .kind = GLYPH_SPECIAL, .id = 3};
    ST_ASSERT_OK(glyph_render(g, &s1, bos));
    ST_ASSERT_OK(glyph_render(g, &s2, eos));
    assert_memory_not_equal(bos, eos, NPIX);
    /* Two spaces: each space a hex box, so not blank. */
    it.text = "  ", it.len = 2, it.kind = GLYPH_NGRAM;
    ST_ASSERT_OK(glyph_render(g, &it, a));
    assert_true(ink(a, NPIX) > 10);
    /* Invalid UTF-8 is bad data naming the id. */
    it.text = "\xC3\x28", it.len = 2, it.id = 77;
    assert_int_equal(glyph_render(g, &it, a), ST_EDATA);
    assert_non_null(strstr(st_last_error(), "token 77"));
    glyph_renderer_free(g);
}

static void bad_fonts_are_usage_errors(void **state)
{
    (void)state;
    glyph_renderer *g = NULL;
    const char *missing[] = {"/nonexistent/dir/font.otf"};
    assert_int_equal(glyph_renderer_init(&g, missing, 1, C), ST_EUSAGE);
    assert_null(g);
    assert_non_null(strstr(st_last_error(), "/nonexistent/dir/font.otf"));
    char path[] = "/tmp/strata-notfont-XXXXXX";
    int fd = mkstemp(path);
    assert_int_equal(write(fd, "not a font", 10), 10);
    close(fd);
    const char *bad[] = {path};
    assert_int_equal(glyph_renderer_init(&g, bad, 1, C), ST_EUSAGE);
    assert_non_null(strstr(st_last_error(), "not a font"));
    unlink(path);
    const char *ok[] = {STRATA_UNIFONT_DIR "/unifont.otf"};
    assert_int_equal(glyph_renderer_init(&g, ok, 1, 4), ST_EUSAGE);
    /* Extra fonts from the config come after the Unifont pair. */
    char **paths;
    int n;
    ST_ASSERT_OK(glyph_default_fonts(" /a.otf, /b.ttf ,", &paths, &n));
    assert_int_equal(n, 4);
    assert_non_null(strstr(paths[0], "unifont.otf"));
    assert_non_null(strstr(paths[1], "unifont_upper.otf"));
    assert_string_equal(paths[2], "/a.otf");
    assert_string_equal(paths[3], "/b.ttf");
    glyph_free_paths(paths, n);
}

static void marks_make_identical_cells_distinct(void **state)
{
    (void)state;
    glyph_renderer *g = open_unifont(C);
    /* Latin A, Greek Alpha, Cyrillic A (and the three B's) look the same in
     * Unifont; the last 'A' repeats id 0's picture exactly. */
    const uint32_t cps[] = {'A', 0x391, 0x410, 'B', 0x392, 0x412, 'A'};
    enum { N = sizeof cps / sizeof cps[0] };
    uint8_t *cells = malloc(N * NPIX), *orig = malloc(N * NPIX);
    char how;
    for (int i = 0; i < N; i++) ST_ASSERT_OK(glyph_render_codepoint(g, cps[i], cells + i * NPIX, &how));
    assert_memory_equal(cells, cells + 1 * NPIX, NPIX); /* why marks exist */
    memcpy(orig, cells, N * NPIX);
    long marked = -1, dup = -1;
    ST_ASSERT_OK(glyph_disambiguate(cells, 0, N, C, MPI_COMM_SELF, &marked, &dup));
    assert_int_equal(dup, 0);
    assert_true(marked >= 5);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++) assert_memory_not_equal(cells + i * NPIX, cells + j * NPIX, NPIX);
    /* The smallest id of each group keeps its picture. */
    assert_memory_equal(cells, orig, NPIX);
    assert_memory_equal(cells + 3 * NPIX, orig + 3 * NPIX, NPIX);
    /* Marks only touch the outer ring of round 0. */
    for (int y = 1; y < C - 1; y++)
        for (int x = 1; x < C - 1; x++) assert_int_equal(cells[NPIX + y * C + x], orig[NPIX + y * C + x]);
    long d2 = -1;
    ST_ASSERT_OK(glyph_count_duplicate_rows(orig, NPIX, 0, N, MPI_COMM_SELF, &d2));
    assert_int_equal(d2, 5);
    free(cells);
    free(orig);
    glyph_renderer_free(g);
}

static void flatten_orders_are_permutations(void **state)
{
    (void)state;
    for (int cell = 8; cell <= 33; cell += 25) {
        int n = cell * cell;
        int *perm = malloc(n * sizeof *perm), *seen = calloc(n, sizeof *seen);
        ST_ASSERT_OK(glyph_flatten_order(cell, GLYPH_FLATTEN_POLAR, perm));
        for (int i = 0; i < n; i++) {
            assert_true(perm[i] >= 0 && perm[i] < n);
            seen[perm[i]]++;
        }
        for (int i = 0; i < n; i++) assert_int_equal(seen[i], 1);
        /* Radius never decreases by a whole ring. */
        double prev = 0;
        for (int i = 0; i < n; i++) {
            double dx = perm[i] % cell + 0.5 - cell / 2.0, dy = perm[i] / cell + 0.5 - cell / 2.0;
            double r = sqrt(dx * dx + dy * dy);
            assert_true(floor(r) >= floor(prev));
            prev = r;
        }
        ST_ASSERT_OK(glyph_flatten_order(cell, GLYPH_FLATTEN_ROWMAJOR, perm));
        for (int i = 0; i < n; i++) assert_int_equal(perm[i], i);
        free(perm);
        free(seen);
    }
    /* Even cell: the four centre pixels come first. */
    int perm[64];
    ST_ASSERT_OK(glyph_flatten_order(8, GLYPH_FLATTEN_POLAR, perm));
    for (int i = 0; i < 4; i++) {
        int x = perm[i] % 8, y = perm[i] / 8;
        assert_true((x == 3 || x == 4) && (y == 3 || y == 4));
    }
    glyph_flatten f;
    ST_ASSERT_OK(glyph_parse_flatten("rowmajor", &f));
    assert_int_equal(f, GLYPH_FLATTEN_ROWMAJOR);
    assert_int_equal(glyph_parse_flatten("spiral", &f), ST_EUSAGE);
}

static void tokens_parse_and_pgm_writes(void **state)
{
    (void)state;
    uint32_t cps[8];
    size_t n;
    ST_ASSERT_OK(glyph_parse_token("U+0041", cps, 8, &n));
    assert_true(n == 1 && cps[0] == 0x41);
    ST_ASSERT_OK(glyph_parse_token("u+1F600", cps, 8, &n));
    assert_true(n == 1 && cps[0] == 0x1F600);
    ST_ASSERT_OK(glyph_parse_token("h\xC3\xA9", cps, 8, &n));
    assert_true(n == 2 && cps[1] == 0xE9);
    assert_int_equal(glyph_parse_token("U+D800", cps, 8, &n), ST_EUSAGE);
    assert_int_equal(glyph_parse_token("U+110000", cps, 8, &n), ST_EUSAGE);
    assert_int_equal(glyph_parse_token("U+12G", cps, 8, &n), ST_EUSAGE);
    assert_int_equal(glyph_parse_token("\xFF", cps, 8, &n), ST_EUSAGE);

    char dir[] = "/tmp/strata-pgm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a.pgm", dir);
    uint8_t pix[12];
    for (int i = 0; i < 12; i++) pix[i] = (uint8_t)(i * 20);
    ST_ASSERT_OK(glyph_write_pgm(path, pix, 4, 3));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char magic[3] = {0};
    int w, h, maxv;
    assert_int_equal(fscanf(f, "%2s %d %d %d", magic, &w, &h, &maxv), 4);
    fgetc(f);
    uint8_t back[12];
    assert_int_equal(fread(back, 1, 12, f), 12);
    fclose(f);
    assert_string_equal(magic, "P5");
    assert_true(w == 4 && h == 3 && maxv == 255);
    assert_memory_equal(back, pix, 12);
    unlink(path);
    snprintf(path, sizeof path, "%s/no/such/dir/a.pgm", dir);
    assert_int_equal(glyph_write_pgm(path, pix, 4, 3), ST_EIO);
    assert_non_null(strstr(st_last_error(), "no/such/dir"));
    rmdir(dir);
}

static const uint8_t *sort_cells;
static int cmp_cells(const void *a, const void *b)
{
    return memcmp(sort_cells + (size_t)*(const int *)a * NPIX, sort_cells + (size_t)*(const int *)b * NPIX, NPIX);
}

/* The acceptance check: all 65,536 BMP ids at 32 px are distinct cells after
 * disambiguation, and the marks were needed. */
static void full_bmp_has_no_duplicate_cells(void **state)
{
    (void)state;
    glyph_item *items;
    char *storage;
    long v;
    ST_ASSERT_OK(substrate_items_bmp(&items, &storage, &v));
    assert_int_equal(v, 65536);
    glyph_renderer *g = open_unifont(C);
    uint8_t *cells = malloc((size_t)v * NPIX);
    assert_non_null(cells);
    for (long i = 0; i < v; i++) ST_ASSERT_OK(glyph_render(g, &items[i], cells + (size_t)i * NPIX));
    long before = -1, marked = -1, dup = -1, after = -1;
    ST_ASSERT_OK(glyph_count_duplicate_rows(cells, NPIX, 0, (size_t)v, MPI_COMM_SELF, &before));
    ST_ASSERT_OK(glyph_disambiguate(cells, 0, (size_t)v, C, MPI_COMM_SELF, &marked, &dup));
    ST_ASSERT_OK(glyph_count_duplicate_rows(cells, NPIX, 0, (size_t)v, MPI_COMM_SELF, &after));
    print_message("# full BMP: %ld duplicate cells before marks, %ld marked, %ld after\n", before, marked, after);
    assert_true(before > 0);
    assert_true(marked >= before);
    assert_int_equal(dup, 0);
    assert_int_equal(after, 0);
    /* Exact check of the hash verdict: sort the cells and compare neighbours. */
    int *idx = malloc((size_t)v * sizeof *idx);
    for (long i = 0; i < v; i++) idx[i] = (int)i;
    sort_cells = cells;
    qsort(idx, (size_t)v, sizeof *idx, cmp_cells);
    long equal = 0;
    for (long i = 1; i < v; i++) equal += memcmp(cells + (size_t)idx[i] * NPIX, cells + (size_t)idx[i - 1] * NPIX, NPIX) == 0;
    assert_int_equal(equal, 0);
    free(idx);
    free(cells);
    free(items);
    free(storage);
    glyph_renderer_free(g);
}

static const struct CMUnitTest glyph_tests[] = {
    cmocka_unit_test(sha256_known_answers),
    cmocka_unit_test(renders_unifont_characters_centred),
    cmocka_unit_test(blank_and_missing_become_hex_boxes),
    cmocka_unit_test(strips_specials_and_bad_text),
    cmocka_unit_test(bad_fonts_are_usage_errors),
    cmocka_unit_test(marks_make_identical_cells_distinct),
    cmocka_unit_test(flatten_orders_are_permutations),
    cmocka_unit_test(tokens_parse_and_pgm_writes),
    cmocka_unit_test(full_bmp_has_no_duplicate_cells),
};

ST_TEST_MAIN(glyph_tests)
